use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;

use super::lock;
use crate::ports::{LedgerEntry, Page, PortError, RestoreLedger};

/// A restore ledger held in memory.
#[derive(Default)]
pub struct InMemoryLedger {
    entries: Mutex<BTreeMap<(String, String), LedgerEntry>>,
}

impl InMemoryLedger {
    pub fn all(&self) -> Vec<LedgerEntry> {
        lock(&self.entries).values().cloned().collect()
    }
}

const PAGE: usize = 50;

#[async_trait]
impl RestoreLedger for InMemoryLedger {
    async fn record(&self, entries: &[LedgerEntry]) -> Result<(), PortError> {
        let mut map = lock(&self.entries);
        for e in entries {
            map.insert((e.target_pool_id.clone(), e.username.clone()), e.clone());
        }
        Ok(())
    }

    async fn by_usernames(&self, target_pool_id: &str, usernames: &[String]) -> Result<Vec<LedgerEntry>, PortError> {
        let map = lock(&self.entries);
        Ok(usernames.iter().filter_map(|u| map.get(&(target_pool_id.to_owned(), u.clone())).cloned()).collect())
    }

    async fn entries(&self, target_pool_id: &str, start: Option<String>) -> Result<Page<LedgerEntry>, PortError> {
        let map = lock(&self.entries);
        let all: Vec<LedgerEntry> = map
            .values()
            .filter(|e| e.target_pool_id == target_pool_id)
            .filter(|e| start.as_ref().is_none_or(|s| e.username > *s))
            .take(PAGE)
            .cloned()
            .collect();
        let next = (all.len() == PAGE).then(|| all[PAGE - 1].username.clone());
        Ok(Page { items: all, next })
    }
}
