use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;

use super::lock;
use crate::ports::{BackupStore, Page, PortError, ScanSegment, StoredKey, WriteOutcome};
use crate::schema::{BackupItem, Capacity, ItemKey, ItemType};

/// A backup table held in memory, with DynamoDB's conditional-write semantics and its capacity
/// arithmetic (reads in 4 KB units, halved when eventually consistent; writes in 1 KB units), so the
/// simulation can report what a run would consume. Scans page by `page_size` items.
pub struct InMemoryStore {
    items: Mutex<BTreeMap<ItemKey, BackupItem>>,
    page_size: usize,
    consumed: Mutex<Capacity>,
    writes: Mutex<u64>,
}

impl Default for InMemoryStore {
    fn default() -> Self {
        Self { items: Mutex::default(), page_size: 100, consumed: Mutex::default(), writes: Mutex::default() }
    }
}

fn size(item: &BackupItem) -> f64 {
    item.body().map(|b| b.to_string().len()).unwrap_or(100) as f64
}

fn write_units(item: &BackupItem) -> f64 {
    (size(item) / 1024.0).ceil().max(1.0)
}

fn read_units(bytes: f64, consistent: bool) -> f64 {
    let units = (bytes / 4096.0).ceil().max(1.0);
    if consistent { units } else { units / 2.0 }
}

impl InMemoryStore {
    pub fn with_page_size(mut self, size: usize) -> Self {
        self.page_size = size;
        self
    }

    pub fn item(&self, key: &ItemKey) -> Option<BackupItem> {
        lock(&self.items).get(key).cloned()
    }

    pub fn items(&self) -> Vec<BackupItem> {
        lock(&self.items).values().cloned().collect()
    }

    pub fn len(&self) -> usize {
        lock(&self.items).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn count(&self, item_type: ItemType) -> usize {
        lock(&self.items).values().filter(|i| i.item_type() == item_type).count()
    }

    /// Items written (puts and deletes) since the store was made.
    pub fn writes(&self) -> u64 {
        *lock(&self.writes)
    }

    fn charge(&self, c: Capacity) {
        *lock(&self.consumed) += c;
    }

    fn scan_page(&self, segment: ScanSegment, start: Option<ItemKey>) -> (Vec<BackupItem>, Option<ItemKey>) {
        let map = lock(&self.items);
        let mut scanned = Vec::new();
        let range = match &start {
            Some(s) => map.range((std::ops::Bound::Excluded(s.clone()), std::ops::Bound::Unbounded)),
            None => map.range(..),
        };
        let mut last = None;
        for (k, item) in range {
            if segment_of(k, segment.total) != segment.index {
                continue;
            }
            last = Some(k.clone());
            scanned.push(item.clone());
            if scanned.len() == self.page_size {
                break;
            }
        }
        let next = if scanned.len() == self.page_size { last } else { None };
        let bytes: f64 = scanned.iter().map(size).sum();
        drop(map);
        self.charge(Capacity { read_units: read_units(bytes, false), write_units: 0.0 });
        (scanned, next)
    }
}

fn segment_of(key: &ItemKey, total: u32) -> u32 {
    let h = crate::export::seen::key_hash(key);
    (h % u64::from(total.max(1))) as u32
}

#[async_trait]
impl BackupStore for InMemoryStore {
    async fn put_if_newer(&self, items: &[BackupItem]) -> Result<WriteOutcome, PortError> {
        let mut map = lock(&self.items);
        let mut outcome = WriteOutcome::default();
        let mut capacity = Capacity::default();
        for item in items {
            capacity.write_units += write_units(item);
            let key = item.key();
            let newer_stored = map
                .get(&key)
                .and_then(BackupItem::last_confirmed_at)
                .zip(item.last_confirmed_at())
                .is_some_and(|(s, n)| s > n);
            if newer_stored {
                outcome.newer_kept += 1;
            } else {
                map.insert(key, item.clone());
                outcome.written += 1;
            }
        }
        drop(map);
        *lock(&self.writes) += outcome.written;
        self.charge(capacity);
        Ok(outcome)
    }

    async fn put_all(&self, items: &[BackupItem]) -> Result<(), PortError> {
        let mut map = lock(&self.items);
        let mut capacity = Capacity::default();
        for item in items {
            capacity.write_units += write_units(item);
            map.insert(item.key(), item.clone());
        }
        drop(map);
        *lock(&self.writes) += items.len() as u64;
        self.charge(capacity);
        Ok(())
    }

    async fn get(&self, key: &ItemKey) -> Result<Option<BackupItem>, PortError> {
        let item = self.item(key);
        self.charge(Capacity {
            read_units: read_units(item.as_ref().map(size).unwrap_or(0.0), true),
            write_units: 0.0,
        });
        Ok(item)
    }

    async fn get_many(&self, keys: &[ItemKey]) -> Result<Vec<BackupItem>, PortError> {
        let map = lock(&self.items);
        let found: Vec<BackupItem> = keys.iter().filter_map(|k| map.get(k).cloned()).collect();
        drop(map);
        let units: f64 = found.iter().map(|i| read_units(size(i), false)).sum();
        self.charge(Capacity { read_units: units, write_units: 0.0 });
        Ok(found)
    }

    async fn scan_items(
        &self,
        segment: ScanSegment,
        start: Option<ItemKey>,
    ) -> Result<Page<BackupItem, ItemKey>, PortError> {
        let (items, next) = self.scan_page(segment, start);
        Ok(Page { items, next })
    }

    async fn scan_keys(
        &self,
        segment: ScanSegment,
        start: Option<ItemKey>,
    ) -> Result<Page<StoredKey, ItemKey>, PortError> {
        let (items, next) = self.scan_page(segment, start);
        let items = items
            .iter()
            .map(|i| StoredKey {
                key: i.key(),
                item_type: Some(i.item_type()),
                last_confirmed_at: i.last_confirmed_at(),
            })
            .collect();
        Ok(Page { items, next })
    }

    async fn delete_if_confirmed_before(&self, key: &ItemKey, before: i64) -> Result<bool, PortError> {
        let mut map = lock(&self.items);
        let deleted = map.get(key).and_then(BackupItem::last_confirmed_at).is_some_and(|t| t < before);
        if deleted {
            map.remove(key);
        }
        drop(map);
        *lock(&self.writes) += u64::from(deleted);
        self.charge(Capacity { read_units: 0.0, write_units: 1.0 });
        Ok(deleted)
    }

    async fn partition(&self, pk: &str) -> Result<Vec<BackupItem>, PortError> {
        let items: Vec<BackupItem> =
            lock(&self.items).iter().filter(|(k, _)| k.pk == pk).map(|(_, i)| i.clone()).collect();
        let bytes: f64 = items.iter().map(size).sum();
        self.charge(Capacity { read_units: read_units(bytes, true), write_units: 0.0 });
        Ok(items)
    }

    fn take_consumed(&self) -> Capacity {
        std::mem::take(&mut *lock(&self.consumed))
    }
}
