//! The small traits the workflows need from the outside world. AWS adapters live in `backup-aws`,
//! in-memory ones in [`crate::memory`].

use std::collections::BTreeMap;

use async_trait::async_trait;
use thiserror::Error;

use crate::schema::{BackupItem, ItemKey, ItemType, MfaOption, PoolSnapshot, UserMfaSettings};

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
        }
    }
}

/// One page of a listing; `next` resumes it.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T, C = String> {
    pub items: Vec<T>,
    pub next: Option<C>,
}

/// A user as the user pool lists it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PoolUser {
    pub username: String,
    pub attributes: BTreeMap<String, String>,
    pub enabled: bool,
    pub status: String,
    pub created_at: Option<String>,
    pub last_modified_at: Option<String>,
    pub mfa_options: Vec<MfaOption>,
}

impl PoolUser {
    pub const FEDERATED_STATUS: &'static str = "EXTERNAL_PROVIDER";

    pub fn sub(&self) -> Option<&str> {
        self.attributes.get("sub").map(String::as_str).filter(|s| !s.is_empty())
    }

    pub fn is_federated(&self) -> bool {
        self.status == Self::FEDERATED_STATUS
    }
}

/// A group as the user pool lists it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PoolGroup {
    pub name: String,
    pub description: Option<String>,
    pub precedence: Option<i32>,
    pub role_arn: Option<String>,
    pub created_at: Option<String>,
    pub last_modified_at: Option<String>,
}

/// The user pool being backed up (read side).
#[async_trait]
pub trait UserPool: Send + Sync {
    fn pool_id(&self) -> &str;
    async fn describe(&self) -> Result<PoolSnapshot, PortError>;
    /// One page of users, optionally only those whose `sub` starts with `sub_prefix`.
    async fn list_users(&self, sub_prefix: Option<&str>, token: Option<&str>) -> Result<Page<PoolUser>, PortError>;
    async fn list_groups(&self, token: Option<&str>) -> Result<Page<PoolGroup>, PortError>;
    async fn list_users_in_group(&self, group: &str, token: Option<&str>) -> Result<Page<PoolUser>, PortError>;
    /// The user's MFA methods and preference (only AdminGetUser exposes them).
    async fn user_mfa(&self, username: &str) -> Result<UserMfaSettings, PortError>;
}

/// A contiguous share of a parallel table scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScanSegment {
    pub index: u32,
    pub total: u32,
}

/// The key and type of an item the clean-up may remove.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaleItem {
    pub key: ItemKey,
    pub item_type: Option<ItemType>,
}

/// The backup table.
#[async_trait]
pub trait BackupStore: Send + Sync {
    /// Writes every item (overwriting same-key items); returns only when all are stored.
    async fn put_all(&self, items: &[BackupItem]) -> Result<(), PortError>;
    async fn get(&self, key: &ItemKey) -> Result<Option<BackupItem>, PortError>;
    /// One page of items whose `lastConfirmedAt` is older than `before`.
    async fn scan_confirmed_before(
        &self,
        before: i64,
        segment: ScanSegment,
        start: Option<ItemKey>,
    ) -> Result<Page<StaleItem, ItemKey>, PortError>;
    /// Deletes the item only if it is still older than `before` (a newer run may have confirmed it).
    async fn delete_if_confirmed_before(&self, key: &ItemKey, before: i64) -> Result<bool, PortError>;
    /// One page of whole items of a parallel scan (malformed items are errors naming their key).
    async fn scan_items(&self, segment: ScanSegment, start: Option<ItemKey>) -> Result<Page<BackupItem, ItemKey>, PortError>;
    /// The items with these keys that exist.
    async fn get_many(&self, keys: &[ItemKey]) -> Result<Vec<BackupItem>, PortError>;
    /// Every item of one partition (a group and its memberships).
    async fn partition(&self, pk: &str) -> Result<Vec<BackupItem>, PortError>;
}

/// Where workflow outcomes are announced (an SNS topic).
#[async_trait]
pub trait Notifier: Send + Sync {
    async fn publish(&self, subject: &str, message: &str) -> Result<(), PortError>;
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunningExecution {
    pub arn: String,
    /// Epoch milliseconds.
    pub started_at: i64,
}

/// The state machine's executions (Step Functions).
#[async_trait]
pub trait WorkflowExecutions: Send + Sync {
    async fn running(&self, state_machine_arn: &str) -> Result<Vec<RunningExecution>, PortError>;
}

/// Whether a create call made something new.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Created {
    New,
    AlreadyExisted,
}

/// A Cognito user import job as DescribeUserImportJob reports it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportJob {
    pub job_id: String,
    pub job_name: String,
    /// Created, Pending, InProgress, Stopping, Expired, Stopped, Failed or Succeeded.
    pub status: String,
    pub imported: i64,
    pub skipped: i64,
    pub failed: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl ImportJob {
    pub fn finished(&self) -> bool {
        !matches!(self.status.as_str(), "Created" | "Pending" | "InProgress" | "Stopping")
    }
}

/// A row an import job rejected, as Cognito logs it (1-based data row).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedRow {
    pub line: u64,
    pub reason: String,
}

/// The pool a backup is restored into: its reads (from [`UserPool`]) and the writes a restore needs.
#[async_trait]
pub trait RestoreTarget: UserPool {
    async fn csv_header(&self) -> Result<Vec<String>, PortError>;
    async fn create_group(&self, group: &PoolGroup) -> Result<Created, PortError>;
    async fn get_group(&self, name: &str) -> Result<Option<PoolGroup>, PortError>;
    async fn update_group(&self, group: &PoolGroup) -> Result<(), PortError>;
    /// AdminCreateUser with messages suppressed.
    async fn create_user(&self, username: &str, attributes: &BTreeMap<String, String>) -> Result<Created, PortError>;
    async fn update_user_attributes(&self, username: &str, attributes: &BTreeMap<String, String>) -> Result<(), PortError>;
    async fn get_user(&self, username: &str) -> Result<Option<PoolUser>, PortError>;
    async fn set_enabled(&self, username: &str, enabled: bool) -> Result<(), PortError>;
    async fn add_to_group(&self, username: &str, group: &str) -> Result<(), PortError>;
    /// Creates a job, uploads the CSV to its pre-signed URL and starts it.
    async fn start_import_job(&self, job_name: &str, csv: Vec<u8>) -> Result<ImportJob, PortError>;
    async fn import_job(&self, job_id: &str) -> Result<ImportJob, PortError>;
    async fn import_job_failures(&self, job: &ImportJob) -> Result<Vec<FailedRow>, PortError>;
}

/// What became of one backed-up user in one restore (the restore ledger, one per Region).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LedgerEntry {
    pub target_pool_id: String,
    /// The user's username in the target pool (its pseudo-username), or `sub:<old sub>` when it has none.
    pub username: String,
    pub old_sub: String,
    pub old_username: String,
    /// CSV_IMPORT, ADMIN_CREATE_USER, NOT_RESTORABLE or SKIPPED_EXISTING.
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_line: Option<u64>,
    /// Set when the import job rejected the user's row.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_sub: Option<String>,
}

/// The restore ledger: where each user went, and old sub → new sub for applications.
#[async_trait]
pub trait RestoreLedger: Send + Sync {
    async fn record(&self, entries: &[LedgerEntry]) -> Result<(), PortError>;
    async fn by_usernames(&self, target_pool_id: &str, usernames: &[String]) -> Result<Vec<LedgerEntry>, PortError>;
    /// One page of a restore's entries.
    async fn entries(&self, target_pool_id: &str, start: Option<String>) -> Result<Page<LedgerEntry>, PortError>;
}

/// Where restore reports and the sub-mapping CSV are written (S3).
#[async_trait]
pub trait ReportSink: Send + Sync {
    /// Returns where the object now is (an `s3://` URL).
    async fn put(&self, key: &str, content_type: &str, body: Vec<u8>) -> Result<String, PortError>;
}
