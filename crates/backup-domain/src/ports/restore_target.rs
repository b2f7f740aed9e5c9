use std::collections::BTreeMap;

use async_trait::async_trait;

use super::{PoolGroup, PortError, UserPool};
use crate::schema::ImportJobStatus;

/// Whether a create call made something new.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Created {
    New,
    AlreadyExisted,
}

/// A Cognito user import job as DescribeUserImportJob reports it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportJob {
    pub job_id: String,
    pub job_name: String,
    pub status: ImportJobStatus,
    pub imported: i64,
    pub skipped: i64,
    pub failed: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The pre-signed URL the CSV goes to; only on a job just created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload_url: Option<String>,
}

/// A row an import job rejected, as Cognito logs it (1-based data row).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedRow {
    pub line: u64,
    pub reason: String,
}

/// The pool a backup is restored into: its reads (from [`UserPool`]) and the writes a restore needs.
#[async_trait]
pub trait RestoreTarget: UserPool {
    async fn csv_header(&self) -> Result<Vec<String>, PortError>;
    async fn create_group(&self, group: &PoolGroup) -> Result<Created, PortError>;
    async fn update_group(&self, group: &PoolGroup) -> Result<(), PortError>;
    /// AdminCreateUser with messages suppressed (nobody learns the generated temporary password).
    async fn create_user(&self, username: &str, attributes: &BTreeMap<String, String>) -> Result<Created, PortError>;
    async fn update_user_attributes(
        &self,
        username: &str,
        attributes: &BTreeMap<String, String>,
    ) -> Result<(), PortError>;
    async fn set_enabled(&self, username: &str, enabled: bool) -> Result<(), PortError>;
    async fn add_to_group(&self, username: &str, group: &str) -> Result<(), PortError>;
    /// CreateUserImportJob: the job and the URL its CSV must be uploaded to.
    async fn create_import_job(&self, job_name: &str) -> Result<ImportJob, PortError>;
    /// PUTs the CSV to the job's pre-signed URL (S3, not Cognito).
    async fn upload_import_csv(&self, job: &ImportJob, csv: Vec<u8>) -> Result<(), PortError>;
    async fn start_import_job(&self, job_id: &str) -> Result<ImportJob, PortError>;
    async fn import_job(&self, job_id: &str) -> Result<ImportJob, PortError>;
    async fn import_job_failures(&self, job: &ImportJob) -> Result<Vec<FailedRow>, PortError>;
}
