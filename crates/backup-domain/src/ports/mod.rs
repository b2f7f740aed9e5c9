//! The small traits the workflows need from the outside world, one module per port. AWS adapters live in
//! `backup-aws`; in-memory ones in [`crate::memory`] (tests and the simulation).

mod backup_store;
mod executions;
mod lease_store;
mod notifier;
mod object_store;
mod restore_ledger;
mod restore_target;
mod user_pool;

use thiserror::Error;

pub use backup_store::{BackupStore, ScanSegment, StoredKey, WriteOutcome};
pub use executions::{ExecutionStatus, WorkflowExecutions};
pub use lease_store::{LeaseRecord, LeaseStore};
pub use notifier::Notifier;
pub use object_store::ObjectStore;
pub use restore_ledger::{LedgerEntry, LedgerPath, RestoreLedger};
pub use restore_target::{Created, FailedRow, ImportJob, RestoreTarget};
pub use user_pool::{PoolDescription, PoolGroup, PoolUser, UserFilter, UserPool};

/// Why a call to the outside world failed. Adapters put the operation, the resource and what to do
/// into the message; the kind decides how the workflow reacts (Step Functions retries `Throttled` and
/// `Unavailable`, everything else fails the run at once).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PortError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    AccessDenied(String),
    #[error("{0}")]
    Throttled(String),
    #[error("{0}")]
    InvalidRequest(String),
    #[error("{0}")]
    Unavailable(String),
    #[error("{0}")]
    Malformed(String),
    /// A pagination token the service no longer accepts: the listing must start again.
    #[error("{0}")]
    ExpiredToken(String),
}

impl PortError {
    /// The error name Step Functions sees (and Retry/Catch match on).
    pub fn error_name(&self) -> &'static str {
        match self {
            Self::NotFound(_) => "ResourceNotFound",
            Self::AccessDenied(_) => "AccessDenied",
            Self::Throttled(_) => "Throttled",
            Self::InvalidRequest(_) => "InvalidRequest",
            Self::Unavailable(_) => "ServiceUnavailable",
            Self::Malformed(_) => "MalformedBackupItem",
            Self::ExpiredToken(_) => "ExpiredPaginationToken",
        }
    }
}

/// One page of a listing; `next` resumes it.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T, C = String> {
    pub items: Vec<T>,
    pub next: Option<C>,
}
