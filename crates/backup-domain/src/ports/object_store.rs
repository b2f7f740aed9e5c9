use async_trait::async_trait;

use super::PortError;

/// Objects the workflows keep between steps and hand to people: work lists, seen sets, manifests,
/// reports, sub mappings (S3, in the Region's workflow bucket). Keeping them here keeps every Step
/// Functions state small, whatever the size of the pool.
#[async_trait]
pub trait ObjectStore: Send + Sync {
    /// Stores the object; returns where it is (an `s3://` URL).
    async fn put(&self, key: &str, content_type: &str, body: Vec<u8>) -> Result<String, PortError>;
    /// `None` when there is no such object.
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, PortError>;
    /// Every key under `prefix`, in lexicographic order.
    async fn list(&self, prefix: &str) -> Result<Vec<String>, PortError>;
}
