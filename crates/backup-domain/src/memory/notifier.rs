use std::sync::Mutex;

use async_trait::async_trait;

use super::lock;
use crate::ports::{Notifier, PortError};

/// Records what was published.
#[derive(Default)]
pub struct RecordingNotifier {
    sent: Mutex<Vec<(String, String)>>,
}

impl RecordingNotifier {
    pub fn messages(&self) -> Vec<(String, String)> {
        lock(&self.sent).clone()
    }
}

#[async_trait]
impl Notifier for RecordingNotifier {
    async fn publish(&self, subject: &str, message: &str) -> Result<(), PortError> {
        lock(&self.sent).push((subject.into(), message.into()));
        Ok(())
    }
}
