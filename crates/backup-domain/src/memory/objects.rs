use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;

use super::lock;
use crate::ports::{ObjectStore, PortError};

/// Objects kept in memory.
#[derive(Default)]
pub struct InMemoryObjects {
    objects: Mutex<BTreeMap<String, Vec<u8>>>,
}

impl InMemoryObjects {
    pub fn objects(&self) -> BTreeMap<String, Vec<u8>> {
        lock(&self.objects).clone()
    }

    /// Total bytes stored (the simulation reports it).
    pub fn bytes(&self) -> usize {
        lock(&self.objects).values().map(Vec::len).sum()
    }
}

#[async_trait]
impl ObjectStore for InMemoryObjects {
    async fn put(&self, key: &str, _content_type: &str, body: Vec<u8>) -> Result<String, PortError> {
        lock(&self.objects).insert(key.into(), body);
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
