//! The decorator that puts the rate budget in front of a user pool: every call takes a slot of its quota
//! category, and throttled or failing calls are retried here, with backoff, after telling the budget.
//! (The Cognito client itself does not retry, so every throttle reaches the budget.)

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use super::{PoolOperation, RateBudget};
use crate::ports::{
    Created, FailedRow, ImportJob, Page, PoolDescription, PoolGroup, PoolUser, PortError, RestoreTarget, UserFilter,
    UserPool,
};

/// Attempts of a call Cognito keeps throttling (the rate halves each time, down to its floor).
const THROTTLED_ATTEMPTS: u32 = 12;
/// Attempts of a call that fails with a 5xx or a network error.
const UNAVAILABLE_ATTEMPTS: u32 = 5;
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// A [`UserPool`] (and [`RestoreTarget`]) whose every call first takes a slot from the budget.
pub struct Budgeted<P> {
    inner: P,
    budget: Arc<RateBudget>,
}

impl<P> Budgeted<P> {
    pub fn new(inner: P, budget: Arc<RateBudget>) -> Self {
        Self { inner, budget }
    }

    pub fn budget(&self) -> &RateBudget {
        &self.budget
    }

    async fn call<T, F, Fut>(&self, operation: PoolOperation, mut f: F) -> Result<T, PortError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, PortError>>,
    {
        let category = operation.category();
        let mut attempt = 0u32;
        loop {
            self.budget.acquire(category).await;
            let error = match f().await {
                Ok(v) => return Ok(v),
                Err(e) => e,
            };
            attempt += 1;
            let limit = match &error {
                PortError::Throttled(_) => {
                    self.budget.throttled(category);
                    THROTTLED_ATTEMPTS
                }
                PortError::Unavailable(_) => UNAVAILABLE_ATTEMPTS,
                _ => return Err(error),
            };
            if attempt >= limit {
                return Err(error);
            }
            // Exponential backoff with full jitter, so retries of concurrent tasks spread out.
            let ceiling = Duration::from_millis(100u64 << attempt.min(10)).min(MAX_BACKOFF);
            tokio::time::sleep(ceiling.mul_f64(0.5 + fastrand::f64() * 0.5)).await;
        }
    }
}

#[async_trait]
impl<P: UserPool> UserPool for Budgeted<P> {
    fn pool_id(&self) -> &str {
        self.inner.pool_id()
    }

    async fn describe(&self) -> Result<PoolDescription, PortError> {
        self.call(PoolOperation::Describe, || self.inner.describe()).await
    }

    async fn list_users(&self, filter: Option<&UserFilter>, token: Option<&str>) -> Result<Page<PoolUser>, PortError> {
        self.call(PoolOperation::ListUsers, || self.inner.list_users(filter, token)).await
    }

    async fn list_groups(&self, token: Option<&str>) -> Result<Page<PoolGroup>, PortError> {
        self.call(PoolOperation::ListGroups, || self.inner.list_groups(token)).await
    }

    async fn get_group(&self, name: &str) -> Result<Option<PoolGroup>, PortError> {
        self.call(PoolOperation::GetGroup, || self.inner.get_group(name)).await
    }

    async fn list_users_in_group(&self, group: &str, token: Option<&str>) -> Result<Page<PoolUser>, PortError> {
        self.call(PoolOperation::ListUsersInGroup, || self.inner.list_users_in_group(group, token)).await
    }

    async fn get_user(&self, username: &str) -> Result<Option<PoolUser>, PortError> {
        self.call(PoolOperation::GetUser, || self.inner.get_user(username)).await
    }

    async fn groups_of_user(&self, username: &str, token: Option<&str>) -> Result<Page<String>, PortError> {
        self.call(PoolOperation::GroupsOfUser, || self.inner.groups_of_user(username, token)).await
    }
}

#[async_trait]
impl<P: RestoreTarget> RestoreTarget for Budgeted<P> {
    async fn csv_header(&self) -> Result<Vec<String>, PortError> {
        self.call(PoolOperation::CsvHeader, || self.inner.csv_header()).await
    }

    async fn create_group(&self, group: &PoolGroup) -> Result<Created, PortError> {
        self.call(PoolOperation::CreateGroup, || self.inner.create_group(group)).await
    }

    async fn update_group(&self, group: &PoolGroup) -> Result<(), PortError> {
        self.call(PoolOperation::UpdateGroup, || self.inner.update_group(group)).await
    }

    async fn create_user(&self, username: &str, attributes: &BTreeMap<String, String>) -> Result<Created, PortError> {
        self.call(PoolOperation::CreateUser, || self.inner.create_user(username, attributes)).await
    }

    async fn update_user_attributes(
        &self,
        username: &str,
        attributes: &BTreeMap<String, String>,
    ) -> Result<(), PortError> {
        self.call(PoolOperation::UpdateUserAttributes, || self.inner.update_user_attributes(username, attributes)).await
    }

    async fn set_enabled(&self, username: &str, enabled: bool) -> Result<(), PortError> {
        self.call(PoolOperation::SetEnabled, || self.inner.set_enabled(username, enabled)).await
    }

    async fn add_to_group(&self, username: &str, group: &str) -> Result<(), PortError> {
        self.call(PoolOperation::AddToGroup, || self.inner.add_to_group(username, group)).await
    }

    async fn create_import_job(&self, job_name: &str) -> Result<ImportJob, PortError> {
        self.call(PoolOperation::CreateImportJob, || self.inner.create_import_job(job_name)).await
    }

    async fn upload_import_csv(&self, job: &ImportJob, csv: Vec<u8>) -> Result<(), PortError> {
        // S3, not Cognito: outside the budget.
        self.inner.upload_import_csv(job, csv).await
    }

    async fn start_import_job(&self, job_id: &str) -> Result<ImportJob, PortError> {
        self.call(PoolOperation::StartImportJob, || self.inner.start_import_job(job_id)).await
    }

    async fn import_job(&self, job_id: &str) -> Result<ImportJob, PortError> {
        self.call(PoolOperation::DescribeImportJob, || self.inner.import_job(job_id)).await
    }

    async fn import_job_failures(&self, job: &ImportJob) -> Result<Vec<FailedRow>, PortError> {
        // CloudWatch Logs, not Cognito: outside the budget.
        self.inner.import_job_failures(job).await
    }
}
