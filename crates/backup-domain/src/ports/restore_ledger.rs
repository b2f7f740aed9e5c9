use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::{Page, PortError};

/// How a backed-up user reached the target pool, or why it did not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum LedgerPath {
    CsvImport,
    AdminCreateUser,
    /// Its import row was rejected; it was created by AdminCreateUser instead (never sent to CSV again).
    AdminCreateUserAfterRejection,
    NotRestorable,
    SkippedExisting,
    Overwritten,
}

impl LedgerPath {
    /// The user is meant to be in the target pool.
    pub fn restored(self) -> bool {
        !matches!(self, Self::NotRestorable)
    }
}

/// What became of one backed-up user in one restore (the restore ledger, one per Region). Reasons and
/// failures are categories, never values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LedgerEntry {
    pub target_pool_id: String,
    /// The user's username in the target pool (its pseudo-username), or `sub:<old sub>` when it has none.
    pub username: String,
    pub old_sub: String,
    pub old_username: String,
    pub path: LedgerPath,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_line: Option<u64>,
    /// Set when the import job rejected the user's row (a category of Cognito's reason).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_sub: Option<String>,
}

/// The restore ledger: where each user went, and old sub → new sub for applications.
#[async_trait]
pub trait RestoreLedger: Send + Sync {
    /// Writes the entries; when several name the same user of the same pool, the last one is kept.
    async fn record(&self, entries: &[LedgerEntry]) -> Result<(), PortError>;
    async fn by_usernames(&self, target_pool_id: &str, usernames: &[String]) -> Result<Vec<LedgerEntry>, PortError>;
    /// One page of a restore's entries.
    async fn entries(&self, target_pool_id: &str, start: Option<String>) -> Result<Page<LedgerEntry>, PortError>;
}
