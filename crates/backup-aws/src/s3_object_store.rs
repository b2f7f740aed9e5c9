use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use backup_domain::ports::{ObjectStore, PortError};

use crate::errors::port_error;

/// The workflows' objects in an S3 bucket of the Region (state, work lists, reports, sub mappings).
pub struct S3ObjectStore {
    client: Client,
    bucket: String,
}

const HINT: &str = "Check that the workflow bucket exists in this Region and the function's role may use its exports/ or restores/ prefix.";

impl S3ObjectStore {
    pub fn new(client: Client, bucket: impl Into<String>) -> Self {
        Self { client, bucket: bucket.into() }
    }
}

#[async_trait]
impl ObjectStore for S3ObjectStore {
    async fn put(&self, key: &str, content_type: &str, body: Vec<u8>) -> Result<String, PortError> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(|e| port_error(&format!("PutObject to s3://{}/{key}", self.bucket), HINT, e))?;
        Ok(format!("s3://{}/{key}", self.bucket))
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, PortError> {
        let out = match self.client.get_object().bucket(&self.bucket).key(key).send().await {
            Ok(out) => out,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => return Ok(None),
            Err(e) => return Err(port_error(&format!("GetObject s3://{}/{key}", self.bucket), HINT, e)),
        };
        let bytes = out
            .body
            .collect()
            .await
            .map_err(|e| PortError::Unavailable(format!("reading s3://{}/{key} failed: {e}", self.bucket)))?;
        Ok(Some(bytes.into_bytes().to_vec()))
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, PortError> {
        let mut pages = self.client.list_objects_v2().bucket(&self.bucket).prefix(prefix).into_paginator().send();
        let mut keys = Vec::new();
        while let Some(page) = pages.next().await {
            let page =
                page.map_err(|e| port_error(&format!("ListObjectsV2 of s3://{}/{prefix}", self.bucket), HINT, e))?;
            keys.extend(page.contents().iter().filter_map(|o| o.key()).map(str::to_owned));
        }
        keys.sort();
        Ok(keys)
    }
}
