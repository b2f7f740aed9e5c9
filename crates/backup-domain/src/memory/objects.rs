use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;

use super::lock;
use crate::ports::{ObjectStore, PortError};

/// Objects kept in memory.
#[derive(Default)]
pub struct InMemoryObjects {
    objects: Mutex<BTreeMap<String, Vec<u8>>>,
    /// Objects whose key contains this are gone as soon as they are written (a lifecycle rule's work).
    lost: Mutex<Option<String>>,
}

impl InMemoryObjects {
    pub fn objects(&self) -> BTreeMap<String, Vec<u8>> {
        lock(&self.objects).clone()
    }

    /// From now on, objects whose key contains `part` vanish once written.
    pub fn lose_keys_containing(&self, part: &str) {
        *lock(&self.lost) = Some(part.into());
    }

    /// Total bytes stored (the simulation reports it).
    pub fn bytes(&self) -> usize {
        lock(&self.objects).values().map(Vec::len).sum()
    }
}

#[async_trait]
impl ObjectStore for InMemoryObjects {
    async fn put(&self, key: &str, _content_type: &str, body: Vec<u8>) -> Result<String, PortError> {
        if lock(&self.lost).as_deref().is_none_or(|part| !key.contains(part)) {
            lock(&self.objects).insert(key.into(), body);
        }
        Ok(format!("memory://{key}"))
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, PortError> {
        Ok(lock(&self.objects).get(key).cloned())
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, PortError> {
        Ok(lock(&self.objects)
            .range(prefix.to_owned()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(k, _)| k.clone())
            .collect())
    }
}
