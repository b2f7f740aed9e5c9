use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::PortError;

/// The export's lease as stored: who holds it, until when, and a fence that grows with every
/// acquisition (so a holder can tell it was taken over, even by an execution with its own name).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LeaseRecord {
    /// The holder's execution ARN.
    pub owner: String,
    pub fence: u64,
    /// Epoch ms after which anyone may take the lease.
    pub expires_at: i64,
    /// When the holder last renewed it.
    pub heartbeat_at: i64,
}

/// Lease items, each named (e.g. `EXPORT`, `IMPORT#<pool>`), read strongly and written only by
/// conditional writes.
#[async_trait]
pub trait LeaseStore: Send + Sync {
    async fn read(&self, name: &str) -> Result<Option<LeaseRecord>, PortError>;
    /// Writes `new` only if the stored lease is still `expected` (owner and fence; `None` = no lease).
    async fn replace(&self, name: &str, expected: Option<&LeaseRecord>, new: &LeaseRecord) -> Result<bool, PortError>;
    /// Deletes the lease only if `owner` still holds it with `fence`.
    async fn release(&self, name: &str, owner: &str, fence: u64) -> Result<bool, PortError>;
}
