use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use backup_domain::ports::{PortError, ReportSink};

use crate::errors::port_error;

/// Restore reports and sub-mapping CSVs in an S3 bucket of the workflow's Region.
pub struct S3ReportSink {
    client: Client,
    bucket: String,
}

impl S3ReportSink {
    pub fn new(client: Client, bucket: impl Into<String>) -> Self {
        Self { client, bucket: bucket.into() }
    }
}

#[async_trait]
impl ReportSink for S3ReportSink {
    async fn put(&self, key: &str, content_type: &str, body: Vec<u8>) -> Result<String, PortError> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(|e| {
                port_error(
                    &format!("PutObject to s3://{}/{key}", self.bucket),
                    "Check that the report bucket exists and the function's role may write restores/*.",
                    e,
                )
            })?;
        Ok(format!("s3://{}/{key}", self.bucket))
    }
}
