use async_trait::async_trait;

use super::PortError;

/// Where workflow outcomes are announced (an SNS topic).
#[async_trait]
pub trait Notifier: Send + Sync {
    async fn publish(&self, subject: &str, message: &str) -> Result<(), PortError>;
}
