use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;

use super::lock;
use crate::ports::{LeaseRecord, LeaseStore, PortError};

/// Lease items with DynamoDB's conditional-write semantics.
#[derive(Debug, Default)]
pub struct InMemoryLease(Mutex<BTreeMap<String, LeaseRecord>>);

#[async_trait]
impl LeaseStore for InMemoryLease {
    async fn read(&self, name: &str) -> Result<Option<LeaseRecord>, PortError> {
        Ok(lock(&self.0).get(name).cloned())
    }

    async fn replace(&self, name: &str, expected: Option<&LeaseRecord>, new: &LeaseRecord) -> Result<bool, PortError> {
        let mut leases = lock(&self.0);
        let matches = match (leases.get(name), expected) {
            (None, None) => true,
            (Some(c), Some(e)) => c.owner == e.owner && c.fence == e.fence,
            _ => false,
        };
        if matches {
            leases.insert(name.into(), new.clone());
        }
        Ok(matches)
    }

    async fn release(&self, name: &str, owner: &str, fence: u64) -> Result<bool, PortError> {
        let mut leases = lock(&self.0);
        if leases.get(name).is_some_and(|c| c.owner == owner && c.fence == fence) {
            leases.remove(name);
            return Ok(true);
        }
        Ok(false)
    }
}
