use async_trait::async_trait;

use super::{Page, PortError};
use crate::schema::{BackupItem, Capacity, ItemKey, ItemType};

/// A contiguous share of a parallel table scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ScanSegment {
    pub index: u32,
    pub total: u32,
}

impl ScanSegment {
    pub const WHOLE: ScanSegment = ScanSegment { index: 0, total: 1 };
}

/// The key of a stored item with what the clean-up needs to judge it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredKey {
    pub key: ItemKey,
    pub item_type: Option<ItemType>,
    pub last_confirmed_at: Option<i64>,
}

/// What a conditional write did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriteOutcome {
    pub written: u64,
    /// Items not written because the stored one was read from Cognito later.
    pub newer_kept: u64,
}

impl std::ops::AddAssign for WriteOutcome {
    fn add_assign(&mut self, o: WriteOutcome) {
        self.written += o.written;
        self.newer_kept += o.newer_kept;
    }
}

/// The backup table.
#[async_trait]
pub trait BackupStore: Send + Sync {
    /// Writes each item unless the stored item with its key was read from Cognito later (its
    /// `lastConfirmedAt` is newer): a write never moves an item back in time.
    async fn put_if_newer(&self, items: &[BackupItem]) -> Result<WriteOutcome, PortError>;
    /// Writes every item as it is (loading a dump, the export marker).
    async fn put_all(&self, items: &[BackupItem]) -> Result<(), PortError>;
    async fn get(&self, key: &ItemKey) -> Result<Option<BackupItem>, PortError>;
    /// The items with these keys that exist (eventually consistent reads: the caller's writes are
    /// conditional, so a stale read costs at most a redundant write).
    async fn get_many(&self, keys: &[ItemKey]) -> Result<Vec<BackupItem>, PortError>;
    /// One page of whole backup items of a parallel scan (malformed items are errors naming their key;
    /// control items such as the lease are skipped).
    async fn scan_items(
        &self,
        segment: ScanSegment,
        start: Option<ItemKey>,
    ) -> Result<Page<BackupItem, ItemKey>, PortError>;
    /// One page of keys with type and `lastConfirmedAt` (control items skipped).
    async fn scan_keys(
        &self,
        segment: ScanSegment,
        start: Option<ItemKey>,
    ) -> Result<Page<StoredKey, ItemKey>, PortError>;
    /// Deletes the item only if it was read from Cognito before `before` (a newer read keeps it).
    async fn delete_if_confirmed_before(&self, key: &ItemKey, before: i64) -> Result<bool, PortError>;
    /// Every item of one partition (a group and its memberships).
    async fn partition(&self, pk: &str) -> Result<Vec<BackupItem>, PortError>;
    /// Capacity consumed since the last call (the adapter sums what DynamoDB reports).
    fn take_consumed(&self) -> Capacity;
}
