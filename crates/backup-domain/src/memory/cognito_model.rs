//! Cognito's request-rate quotas and latency, for the in-memory pool in the virtual-time simulation and in
//! tests: a token bucket per quota category for the account (the quotas page: "enforced for each AWS
//! account across all user pools"), holding one second of its rate, with the per-pool cap of the
//! UserPoolResource categories; a call over the quota is answered TooManyRequests and does nothing. The
//! same model as the local cloud's `cognito_quotas.py`.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use super::lock;
use crate::ports::PortError;
use crate::rate::QuotaCategory;

#[derive(Debug, Clone, Copy)]
pub struct CognitoModelSettings {
    /// Multiplies every quota (time compression).
    pub quota_scale: f64,
    /// Share of every quota taken by the pool's applications (0..1).
    pub application_share: f64,
    /// Round-trip time of each call.
    pub latency: Duration,
}

impl Default for CognitoModelSettings {
    fn default() -> Self {
        Self { quota_scale: 1.0, application_share: 0.0, latency: Duration::from_millis(100) }
    }
}

#[derive(Debug)]
struct Bucket {
    rate: f64,
    tokens: f64,
    refilled: Instant,
}

/// Calls allowed and throttled in one category.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CategoryCalls {
    pub allowed: u64,
    pub throttled: u64,
}

#[derive(Debug)]
pub struct CognitoModel {
    settings: CognitoModelSettings,
    buckets: Mutex<BTreeMap<QuotaCategory, Bucket>>,
    calls: Mutex<BTreeMap<QuotaCategory, CategoryCalls>>,
}

impl CognitoModel {
    pub fn new(settings: CognitoModelSettings) -> Self {
        let now = Instant::now();
        let free = (1.0 - settings.application_share).clamp(0.0, 1.0);
        let buckets = QuotaCategory::ALL
            .into_iter()
            .map(|c| {
                let rate = c.pool_rps() * settings.quota_scale * free;
                (c, Bucket { rate, tokens: rate.max(1.0), refilled: now })
            })
            .collect();
        Self { settings, buckets: Mutex::new(buckets), calls: Mutex::default() }
    }

    /// The rate left to the workflows in `category` (calls per second).
    pub fn rate(&self, category: QuotaCategory) -> f64 {
        lock(&self.buckets).get(&category).map(|b| b.rate).unwrap_or(0.0)
    }

    /// One call: half the round trip, the quota check where Cognito makes it, the other half.
    pub async fn call(&self, category: QuotaCategory) -> Result<(), PortError> {
        tokio::time::sleep(self.settings.latency / 2).await;
        let allowed = self.take(category);
        tokio::time::sleep(self.settings.latency / 2).await;
        let mut calls = lock(&self.calls);
        let counts = calls.entry(category).or_default();
        if allowed {
            counts.allowed += 1;
            Ok(())
        } else {
            counts.throttled += 1;
            Err(PortError::Throttled(format!("TooManyRequestsException: Too many requests ({})", category.name())))
        }
    }

    fn take(&self, category: QuotaCategory) -> bool {
        let mut buckets = lock(&self.buckets);
        let Some(bucket) = buckets.get_mut(&category) else { return true };
        let now = Instant::now();
        let capacity = bucket.rate.max(1.0);
        bucket.tokens = (bucket.tokens + (now - bucket.refilled).as_secs_f64() * bucket.rate).min(capacity);
        bucket.refilled = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    pub fn calls(&self) -> BTreeMap<QuotaCategory, CategoryCalls> {
        lock(&self.calls).clone()
    }

    pub fn reset_calls(&self) {
        lock(&self.calls).clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn calls_beyond_the_quota_are_throttled_and_the_bucket_refills() {
        let model = CognitoModel::new(CognitoModelSettings { latency: Duration::ZERO, ..Default::default() });
        let c = QuotaCategory::UserList;
        let burst: Vec<bool> = futures_burst(&model, c, 31).await;
        assert_eq!(burst.iter().filter(|ok| **ok).count(), 30, "one second of the 30 calls/s quota");
        tokio::time::advance(Duration::from_millis(100)).await;
        assert!(model.call(c).await.is_ok(), "three calls' worth refilled in 100 ms");
        assert_eq!(model.calls()[&c], CategoryCalls { allowed: 31, throttled: 1 });
        assert_eq!(model.rate(QuotaCategory::UserPoolResourceUpdate), 5.0, "the per-pool cap");
    }

    async fn futures_burst(model: &CognitoModel, c: QuotaCategory, n: usize) -> Vec<bool> {
        let mut out = Vec::new();
        for _ in 0..n {
            out.push(model.call(c).await.is_ok());
        }
        out
    }

    #[tokio::test(start_paused = true)]
    async fn application_traffic_and_scale_change_the_rate_left() {
        let model = CognitoModel::new(CognitoModelSettings {
            quota_scale: 10.0,
            application_share: 0.5,
            latency: Duration::from_millis(100),
        });
        assert_eq!(model.rate(QuotaCategory::UserList), 150.0);
        let start = Instant::now();
        model.call(QuotaCategory::UserList).await.unwrap();
        assert_eq!(start.elapsed(), Duration::from_millis(100), "a call takes the round trip");
    }
}
