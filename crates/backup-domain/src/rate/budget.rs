//! Per-category pacing with an adaptive rate.
//!
//! Each category starts at its ceiling: `share × quota × scale`. Calls are spaced evenly (a burst of one),
//! which keeps any one-second window under the rate however many tasks call concurrently. When Cognito
//! throttles a call the category's rate halves (the quota is shared with the pool's applications, which
//! come first); it then recovers linearly, reaching the ceiling again after a few seconds without
//! throttling. The clock is tokio's, so the virtual-time simulation paces calls as AWS would.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use super::QuotaCategory;

/// The rate never falls below this share of its ceiling (progress continues under any throttling).
const FLOOR_SHARE: f64 = 0.05;
/// After a throttle, the rate stays down this long before recovering.
const HOLD: Duration = Duration::from_secs(1);
/// Recovery per second, as a share of the ceiling.
const RECOVERY_PER_SECOND: f64 = 0.1;

#[derive(Debug)]
struct Lane {
    ceiling: f64,
    rate: f64,
    next_slot: Instant,
    last_change: Instant,
    throttled: u64,
    calls: u64,
}

impl Lane {
    fn recover(&mut self, now: Instant) {
        if self.rate < self.ceiling && now >= self.last_change + HOLD {
            let elapsed = (now - self.last_change).as_secs_f64();
            self.rate = (self.rate + self.ceiling * RECOVERY_PER_SECOND * elapsed).min(self.ceiling);
            self.last_change = now;
        }
    }
}

/// The rate budget of one process: every Cognito call it makes takes a slot here first.
#[derive(Debug)]
pub struct RateBudget {
    lanes: Mutex<BTreeMap<QuotaCategory, Lane>>,
}

impl RateBudget {
    /// `share` of each category's quota (0 < share ≤ 1; clamped), times `scale` (1 on AWS; a benchmark
    /// that multiplies the local cloud's quotas passes the same factor).
    pub fn new(share: f64, scale: f64) -> Self {
        let share = share.clamp(0.001, 1.0);
        let now = Instant::now();
        let lanes = QuotaCategory::ALL
            .into_iter()
            .map(|c| {
                let ceiling = c.pool_rps() * share * scale.max(0.001);
                (c, Lane { ceiling, rate: ceiling, next_slot: now, last_change: now, throttled: 0, calls: 0 })
            })
            .collect();
        Self { lanes: Mutex::new(lanes) }
    }

    fn with_lane<T>(&self, category: QuotaCategory, f: impl FnOnce(&mut Lane) -> T) -> Option<T> {
        let mut lanes = self.lanes.lock().unwrap_or_else(|p| p.into_inner());
        lanes.get_mut(&category).map(f)
    }

    /// Waits for the next slot of `category`.
    pub async fn acquire(&self, category: QuotaCategory) {
        let slot = self.with_lane(category, |lane| {
            let now = Instant::now();
            lane.recover(now);
            let slot = lane.next_slot.max(now);
            lane.next_slot = slot + Duration::from_secs_f64(1.0 / lane.rate);
            lane.calls += 1;
            slot
        });
        if let Some(slot) = slot {
            tokio::time::sleep_until(slot).await;
        }
    }

    /// Cognito throttled a call of `category`: halve its rate (down to a floor).
    pub fn throttled(&self, category: QuotaCategory) {
        self.with_lane(category, |lane| {
            let now = Instant::now();
            lane.rate = (lane.rate * 0.5).max(lane.ceiling * FLOOR_SHARE);
            lane.last_change = now;
            lane.throttled += 1;
            // Calls already given a slot keep it; new ones are spaced at the lower rate from now on.
            lane.next_slot = lane.next_slot.max(now) + Duration::from_secs_f64(1.0 / lane.rate);
        });
    }

    /// The current requests per second of `category`.
    pub fn rate(&self, category: QuotaCategory) -> f64 {
        self.with_lane(category, |lane| {
            lane.recover(Instant::now());
            lane.rate
        })
        .unwrap_or(0.0)
    }

    /// The most `category` may reach: the share of its quota.
    pub fn ceiling(&self, category: QuotaCategory) -> f64 {
        self.with_lane(category, |lane| lane.ceiling).unwrap_or(0.0)
    }

    /// Calls and throttles seen so far, per category.
    pub fn stats(&self) -> BTreeMap<QuotaCategory, (u64, u64)> {
        let lanes = self.lanes.lock().unwrap_or_else(|p| p.into_inner());
        lanes.iter().map(|(c, l)| (*c, (l.calls, l.throttled))).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn calls_are_spaced_at_the_share_of_the_quota() {
        let b = RateBudget::new(0.5, 1.0);
        assert_eq!(b.rate(QuotaCategory::UserList), 15.0);
        let start = Instant::now();
        for _ in 0..31 {
            b.acquire(QuotaCategory::UserList).await;
        }
        // 31 calls at 15/s: the 31st starts 2 s after the first.
        let elapsed = (Instant::now() - start).as_millis();
        assert!((1995..=2005).contains(&elapsed), "{elapsed} ms");
    }

    #[tokio::test(start_paused = true)]
    async fn per_pool_caps_apply_to_group_operations() {
        let b = RateBudget::new(1.0, 1.0);
        assert_eq!(b.ceiling(QuotaCategory::UserPoolResourceUpdate), 5.0);
        assert_eq!(b.ceiling(QuotaCategory::UserResourceUpdate), 25.0);
    }

    #[tokio::test(start_paused = true)]
    async fn throttling_halves_the_rate_which_then_recovers_to_the_ceiling_but_never_above() {
        let b = RateBudget::new(0.5, 1.0);
        let c = QuotaCategory::UserCreation;
        b.throttled(c);
        b.throttled(c);
        assert_eq!(b.rate(c), 6.25);
        tokio::time::advance(Duration::from_millis(500)).await;
        assert_eq!(b.rate(c), 6.25, "held for a second after a throttle");
        tokio::time::advance(Duration::from_secs(3)).await;
        assert!(b.rate(c) > 6.25 && b.rate(c) < 25.0);
        tokio::time::advance(Duration::from_secs(30)).await;
        assert_eq!(b.rate(c), 25.0);
        for _ in 0..20 {
            b.throttled(c);
        }
        assert_eq!(b.rate(c), 25.0 * FLOOR_SHARE, "a floor keeps the workflow moving");
        assert_eq!(b.stats()[&c].1, 22);
    }

    #[tokio::test(start_paused = true)]
    async fn categories_have_separate_budgets() {
        let b = RateBudget::new(0.001, 1.0);
        b.acquire(QuotaCategory::UserPoolRead).await;
        let start = Instant::now();
        b.acquire(QuotaCategory::UserList).await;
        assert_eq!(Instant::now(), start, "another category's slow lane does not delay this one");
    }
}
