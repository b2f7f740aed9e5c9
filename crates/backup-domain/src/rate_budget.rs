//! The rate budget: every Cognito call waits here for a permit of its quota category.
//!
//! Cognito's quotas are per account and Region, shared with the applications that use the pool, so the
//! workflows take only a configurable share of each category. Calls are spaced evenly (a burst of one),
//! which keeps any one-second window under the share no matter how many tasks call concurrently.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

/// Cognito user-pool API quota categories (cognito-facts.md §4.1), with their default requests per second.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QuotaCategory {
    UserList,
    UserRead,
    UserCreation,
    UserUpdate,
    UserResourceRead,
    UserResourceUpdate,
    UserPoolRead,
    UserPoolUpdate,
    UserPoolResourceRead,
    UserPoolResourceUpdate,
}

impl QuotaCategory {
    pub const ALL: [QuotaCategory; 10] = [
        Self::UserList,
        Self::UserRead,
        Self::UserCreation,
        Self::UserUpdate,
        Self::UserResourceRead,
        Self::UserResourceUpdate,
        Self::UserPoolRead,
        Self::UserPoolUpdate,
        Self::UserPoolResourceRead,
        Self::UserPoolResourceUpdate,
    ];

    /// Default account-level requests per second of the category.
    pub fn default_rps(self) -> f64 {
        match self {
            Self::UserList => 30.0,
            Self::UserRead => 120.0,
            Self::UserCreation => 50.0,
            Self::UserUpdate => 25.0,
            Self::UserResourceRead => 50.0,
            Self::UserResourceUpdate => 25.0,
            Self::UserPoolRead => 15.0,
            Self::UserPoolUpdate => 15.0,
            Self::UserPoolResourceRead => 20.0,
            Self::UserPoolResourceUpdate => 15.0,
        }
    }
}

/// Per-category limiters sized at `share` of each category's quota.
pub struct RateBudget {
    limiters: HashMap<QuotaCategory, DefaultDirectRateLimiter>,
    rps: HashMap<QuotaCategory, f64>,
}

impl RateBudget {
    /// `share` must be in (0, 1]; settings validation guarantees it, and it is clamped here regardless.
    pub fn new(share: f64) -> Self {
        let share = share.clamp(0.001, 1.0);
        let mut limiters = HashMap::new();
        let mut rps = HashMap::new();
        for category in QuotaCategory::ALL {
            let rate = category.default_rps() * share;
            let period = Duration::from_secs_f64(1.0 / rate);
            let quota = Quota::with_period(period)
                .expect("a positive rate gives a non-zero period")
                .allow_burst(NonZeroU32::MIN);
            limiters.insert(category, RateLimiter::direct(quota));
            rps.insert(category, rate);
        }
        Self { limiters, rps }
    }

    /// Waits until a call of `category` fits in the budget.
    pub async fn acquire(&self, category: QuotaCategory) {
        if let Some(limiter) = self.limiters.get(&category) {
            limiter.until_ready().await;
        }
    }

    /// Takes a permit only if one is available now.
    pub fn try_acquire(&self, category: QuotaCategory) -> bool {
        self.limiters.get(&category).is_none_or(|l| l.check().is_ok())
    }

    /// The requests per second this budget allows for `category`.
    pub fn rate(&self, category: QuotaCategory) -> f64 {
        self.rps.get(&category).copied().unwrap_or(0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_the_share_of_each_quota() {
        let b = RateBudget::new(0.5);
        assert_eq!(b.rate(QuotaCategory::UserList), 15.0);
        assert_eq!(b.rate(QuotaCategory::UserResourceUpdate), 12.5);
    }

    #[test]
    fn a_category_allows_no_burst_and_does_not_borrow_from_others() {
        // At 0.1 % of UserPoolRead a permit comes every ~67 s: a second one is never ready at once.
        let b = RateBudget::new(0.001);
        assert!(b.try_acquire(QuotaCategory::UserPoolRead));
        assert!(!b.try_acquire(QuotaCategory::UserPoolRead));
        assert!(b.try_acquire(QuotaCategory::UserList), "categories have separate budgets");
    }
}

/// A [`UserPool`](crate::ports::UserPool) whose every call first takes a permit from the budget.
pub struct Budgeted<P> {
    inner: P,
    budget: std::sync::Arc<RateBudget>,
}

impl<P> Budgeted<P> {
    pub fn new(inner: P, budget: std::sync::Arc<RateBudget>) -> Self {
        Self { inner, budget }
    }
}

#[async_trait::async_trait]
impl<P: crate::ports::UserPool> crate::ports::UserPool for Budgeted<P> {
    fn pool_id(&self) -> &str {
        self.inner.pool_id()
    }

    async fn describe(&self) -> Result<crate::schema::PoolSnapshot, crate::ports::PortError> {
        self.budget.acquire(QuotaCategory::UserPoolRead).await;
        self.inner.describe().await
    }

    async fn list_users(
        &self,
        sub_prefix: Option<&str>,
        token: Option<&str>,
    ) -> Result<crate::ports::Page<crate::ports::PoolUser>, crate::ports::PortError> {
        self.budget.acquire(QuotaCategory::UserList).await;
        self.inner.list_users(sub_prefix, token).await
    }

    async fn list_groups(
        &self,
        token: Option<&str>,
    ) -> Result<crate::ports::Page<crate::ports::PoolGroup>, crate::ports::PortError> {
        self.budget.acquire(QuotaCategory::UserPoolResourceRead).await;
        self.inner.list_groups(token).await
    }

    async fn list_users_in_group(
        &self,
        group: &str,
        token: Option<&str>,
    ) -> Result<crate::ports::Page<crate::ports::PoolUser>, crate::ports::PortError> {
        self.budget.acquire(QuotaCategory::UserList).await;
        self.inner.list_users_in_group(group, token).await
    }

    async fn user_mfa(&self, username: &str) -> Result<crate::schema::UserMfaSettings, crate::ports::PortError> {
        self.budget.acquire(QuotaCategory::UserRead).await;
        self.inner.user_mfa(username).await
    }
}

#[async_trait::async_trait]
impl<P: crate::ports::RestoreTarget> crate::ports::RestoreTarget for Budgeted<P> {
    async fn csv_header(&self) -> Result<Vec<String>, crate::ports::PortError> {
        self.budget.acquire(QuotaCategory::UserPoolRead).await;
        self.inner.csv_header().await
    }

    async fn create_group(&self, group: &crate::ports::PoolGroup) -> Result<crate::ports::Created, crate::ports::PortError> {
        self.budget.acquire(QuotaCategory::UserPoolResourceUpdate).await;
        self.inner.create_group(group).await
    }

    async fn get_group(&self, name: &str) -> Result<Option<crate::ports::PoolGroup>, crate::ports::PortError> {
        self.budget.acquire(QuotaCategory::UserPoolResourceRead).await;
        self.inner.get_group(name).await
    }

    async fn update_group(&self, group: &crate::ports::PoolGroup) -> Result<(), crate::ports::PortError> {
        self.budget.acquire(QuotaCategory::UserPoolResourceUpdate).await;
        self.inner.update_group(group).await
    }

    async fn create_user(
        &self,
        username: &str,
        attributes: &std::collections::BTreeMap<String, String>,
    ) -> Result<crate::ports::Created, crate::ports::PortError> {
        self.budget.acquire(QuotaCategory::UserCreation).await;
        self.inner.create_user(username, attributes).await
    }

    async fn update_user_attributes(
        &self,
        username: &str,
        attributes: &std::collections::BTreeMap<String, String>,
    ) -> Result<(), crate::ports::PortError> {
        self.budget.acquire(QuotaCategory::UserUpdate).await;
        self.inner.update_user_attributes(username, attributes).await
    }

    async fn get_user(&self, username: &str) -> Result<Option<crate::ports::PoolUser>, crate::ports::PortError> {
        self.budget.acquire(QuotaCategory::UserRead).await;
        self.inner.get_user(username).await
    }

    async fn set_enabled(&self, username: &str, enabled: bool) -> Result<(), crate::ports::PortError> {
        self.budget.acquire(QuotaCategory::UserUpdate).await;
        self.inner.set_enabled(username, enabled).await
    }

    async fn add_to_group(&self, username: &str, group: &str) -> Result<(), crate::ports::PortError> {
        self.budget.acquire(QuotaCategory::UserResourceUpdate).await;
        self.inner.add_to_group(username, group).await
    }

    async fn start_import_job(&self, job_name: &str, csv: Vec<u8>) -> Result<crate::ports::ImportJob, crate::ports::PortError> {
        // CreateUserImportJob and StartUserImportJob.
        self.budget.acquire(QuotaCategory::UserPoolUpdate).await;
        self.budget.acquire(QuotaCategory::UserPoolUpdate).await;
        self.inner.start_import_job(job_name, csv).await
    }

    async fn import_job(&self, job_id: &str) -> Result<crate::ports::ImportJob, crate::ports::PortError> {
        self.budget.acquire(QuotaCategory::UserPoolRead).await;
        self.inner.import_job(job_id).await
    }

    async fn import_job_failures(
        &self,
        job: &crate::ports::ImportJob,
    ) -> Result<Vec<crate::ports::FailedRow>, crate::ports::PortError> {
        // CloudWatch Logs, not Cognito: outside the budget.
        self.inner.import_job_failures(job).await
    }
}
