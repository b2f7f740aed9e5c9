//! What a run saw in the pool, kept in the object store: one 64-bit hash per key, written by each
//! invocation of each listing step. The completeness check merges them (counting each key once, however
//! many times a retry or a split listed it) and the clean-up removes only items whose key is not among
//! them. A million users take 8 MB; a hash collision can only keep an item that should have gone.

use std::sync::Mutex;

use super::{ExportRun, StepError};
use crate::ports::ObjectStore;
use crate::schema::{ItemKey, ItemType};

/// The kinds of item a run lists; each has its own set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SeenKind {
    Users,
    Groups,
    Memberships,
}

impl SeenKind {
    pub const ALL: [SeenKind; 3] = [Self::Users, Self::Groups, Self::Memberships];

    fn folder(self) -> &'static str {
        match self {
            Self::Users => "users",
            Self::Groups => "groups",
            Self::Memberships => "memberships",
        }
    }

    /// The set an item of `item_type` belongs to; tombstones are judged by the kind of their key.
    pub fn of(item_type: ItemType, key: &ItemKey) -> Option<SeenKind> {
        match item_type {
            ItemType::User => Some(Self::Users),
            ItemType::Group => Some(Self::Groups),
            ItemType::Membership => Some(Self::Memberships),
            ItemType::Tombstone if key.pk.starts_with("USER#") => Some(Self::Users),
            ItemType::Tombstone if key.sk == "GROUP" => Some(Self::Groups),
            ItemType::Tombstone if key.sk.starts_with("MEMBER#") => Some(Self::Memberships),
            _ => None,
        }
    }
}

/// A stable hash of a key (xxh3: the same in every release and every Lambda).
pub fn key_hash(key: &ItemKey) -> u64 {
    let mut bytes = Vec::with_capacity(key.pk.len() + key.sk.len() + 1);
    bytes.extend_from_slice(key.pk.as_bytes());
    bytes.push(0);
    bytes.extend_from_slice(key.sk.as_bytes());
    xxhash_rust::xxh3::xxh3_64(&bytes)
}

/// The keys one invocation saw, written to the object store when it ends.
#[derive(Debug, Default)]
pub struct SeenBuffer {
    hashes: Mutex<Vec<u64>>,
}

impl SeenBuffer {
    pub fn add<'k>(&self, keys: impl IntoIterator<Item = &'k ItemKey>) {
        let mut hashes = self.hashes.lock().unwrap_or_else(|p| p.into_inner());
        hashes.extend(keys.into_iter().map(key_hash));
    }

    pub fn len(&self) -> usize {
        self.hashes.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Writes the hashes as `exports/<run>/seen/<kind>/<label>.bin`. A retried invocation has the same
    /// label and overwrites what its failed attempt may have written: both started from the same cursor.
    pub async fn flush(
        &self,
        objects: &dyn ObjectStore,
        run: &ExportRun,
        kind: SeenKind,
        label: &str,
    ) -> Result<(), StepError> {
        let hashes = std::mem::take(&mut *self.hashes.lock().unwrap_or_else(|p| p.into_inner()));
        if hashes.is_empty() {
            return Ok(());
        }
        let body: Vec<u8> = hashes.iter().flat_map(|h| h.to_le_bytes()).collect();
        let key = format!("{}seen/{}/{label}.bin", run.object_prefix(), kind.folder());
        objects
            .put(&key, "application/octet-stream", body)
            .await
            .map_err(StepError::port("saving the keys this run saw"))?;
        Ok(())
    }
}

/// Every key of one kind a run saw, deduplicated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SeenSet {
    sorted: Vec<u64>,
}

impl SeenSet {
    pub async fn load(objects: &dyn ObjectStore, run: &ExportRun, kind: SeenKind) -> Result<Self, StepError> {
        let prefix = format!("{}seen/{}/", run.object_prefix(), kind.folder());
        let keys = objects.list(&prefix).await.map_err(StepError::port("listing the keys this run saw"))?;
        let mut sorted = Vec::new();
        for key in keys {
            let body = objects
                .get(&key)
                .await
                .map_err(StepError::port("reading the keys this run saw"))?
                .ok_or_else(|| StepError::InvalidInput(format!("{key} disappeared while it was being read")))?;
            sorted.extend(body.chunks_exact(8).map(|c| u64::from_le_bytes(c.try_into().unwrap_or_default())));
        }
        sorted.sort_unstable();
        sorted.dedup();
        Ok(Self { sorted })
    }

    pub fn from_keys<'k>(keys: impl IntoIterator<Item = &'k ItemKey>) -> Self {
        let mut sorted: Vec<u64> = keys.into_iter().map(key_hash).collect();
        sorted.sort_unstable();
        sorted.dedup();
        Self { sorted }
    }

    /// How many distinct keys were seen.
    pub fn len(&self) -> u64 {
        self.sorted.len() as u64
    }

    pub fn is_empty(&self) -> bool {
        self.sorted.is_empty()
    }

    pub fn contains(&self, key: &ItemKey) -> bool {
        self.sorted.binary_search(&key_hash(key)).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::test_support;
    use crate::memory::InMemoryObjects;

    #[tokio::test]
    async fn keys_seen_twice_count_once_and_unseen_keys_are_not_contained() {
        let objects = InMemoryObjects::default();
        let run = test_support::run(&[], 1);
        let keys: Vec<ItemKey> = (0..100).map(|i| ItemKey::user(&format!("sub-{i}"))).collect();
        let first = SeenBuffer::default();
        first.add(&keys[..60]);
        first.flush(&objects, &run, SeenKind::Users, "users-000001").await.unwrap();
        let retry = SeenBuffer::default();
        retry.add(&keys[40..]);
        retry.add(&keys[40..50]);
        retry.flush(&objects, &run, SeenKind::Users, "users-000002").await.unwrap();
        let set = SeenSet::load(&objects, &run, SeenKind::Users).await.unwrap();
        assert_eq!(set.len(), 100);
        assert!(keys.iter().all(|k| set.contains(k)));
        assert!(!set.contains(&ItemKey::user("sub-100")));
        assert!(SeenSet::load(&objects, &run, SeenKind::Groups).await.unwrap().is_empty());
    }
}
