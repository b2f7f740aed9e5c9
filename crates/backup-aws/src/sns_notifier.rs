use async_trait::async_trait;
use aws_sdk_sns::Client;
use backup_domain::ports::{Notifier, PortError};

use crate::errors::port_error;

/// SNS allows subjects of at most 100 printable ASCII characters.
const SUBJECT_LIMIT: usize = 100;

/// Publishes to the workflows' SNS topic.
pub struct SnsNotifier {
    client: Client,
    topic_arn: String,
}

impl SnsNotifier {
    pub fn new(client: Client, topic_arn: impl Into<String>) -> Self {
        Self { client, topic_arn: topic_arn.into() }
    }
}

fn sns_subject(subject: &str) -> String {
    subject.chars().map(|c| if c.is_ascii_graphic() || c == ' ' { c } else { '?' }).take(SUBJECT_LIMIT).collect()
}

#[async_trait]
impl Notifier for SnsNotifier {
    async fn publish(&self, subject: &str, message: &str) -> Result<(), PortError> {
        self.client
            .publish()
            .topic_arn(&self.topic_arn)
            .subject(sns_subject(subject))
            .message(message)
            .send()
            .await
            .map_err(|e| {
                port_error(
                    &format!("Publish to topic {}", self.topic_arn),
                    "Check that the topic exists and the function's role may publish to it.",
                    e,
                )
            })?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn subjects_are_made_acceptable_to_sns() {
        let s = super::sns_subject(&format!("Backup of pool ü {}", "x".repeat(200)));
        assert_eq!(s.len(), 100);
        assert!(s.starts_with("Backup of pool ? x"));
    }
}
