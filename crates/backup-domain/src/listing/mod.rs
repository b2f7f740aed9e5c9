//! Listing every user of a pool at the rate budget: concurrent ListUsers listings over segments of
//! `sub` that split where the pool is dense ([`segments`]). The export lists the source pool this way,
//! the verification the target pool.

pub mod segments;

use std::future::Future;

use futures::stream::{FuturesUnordered, StreamExt};

use crate::Deadline;
use crate::ports::{PoolUser, PortError, UserPool};
use crate::step::StepError;
pub use segments::{UserCounts, UserSegment};

/// Where a segmented listing stands: the segments still to list, and what finished ones counted.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SegmentedListing {
    pub segments: Vec<UserSegment>,
    pub counts: UserCounts,
    pub pages: u64,
    pub splits: u64,
    #[serde(default)]
    pub started: bool,
}

impl SegmentedListing {
    /// A listing of the whole pool; `concurrency` 1 keeps it one sequence.
    pub fn whole_pool(concurrency: usize) -> Self {
        Self { segments: vec![UserSegment::whole_pool(concurrency > 1)], started: true, ..Default::default() }
    }

    pub fn done(&self) -> bool {
        self.started && self.segments.is_empty()
    }

    /// Users counted so far, finished and running segments together.
    pub fn listed(&self) -> u64 {
        self.counts.users + self.segments.iter().map(|s| s.counts.users).sum::<u64>()
    }

    /// Lists pages until every segment is done or the deadline passes, with up to `concurrency` listings
    /// at once (the first round always starts, so every invocation makes progress). `on_page` gets each
    /// page with the time it was read and returns what it counted; the listing keeps those counts per
    /// segment, so a split or a restart never counts a user twice.
    pub async fn run<F, Fut>(
        &mut self,
        pool: &dyn UserPool,
        concurrency: usize,
        deadline: Deadline,
        observed_at: impl Fn() -> i64,
        on_page: F,
    ) -> Result<(), StepError>
    where
        F: Fn(Vec<PoolUser>, i64) -> Fut,
        Fut: Future<Output = Result<UserCounts, StepError>>,
    {
        let mut queue = std::mem::take(&mut self.segments);
        let mut running = FuturesUnordered::new();
        let mut first_round = true;
        loop {
            while running.len() < concurrency.max(1) && (first_round || !deadline.expired()) {
                let Some(segment) = queue.pop() else { break };
                running.push(list_page(pool, segment, &observed_at, &on_page));
            }
            first_round = false;
            let Some(outcome) = running.next().await else { break };
            let (segment, sample) = outcome?;
            self.pages += 1;
            // Decided when the page is back, not when it was asked for: the probes of a split's sparse
            // children finish fast, and a dense child can then split in turn (time-ordered subs share
            // their first characters, so their pool is dense in one child per level).
            let room = queue.len() + running.len() + 1 < concurrency;
            match sample {
                Some(subs) if room => {
                    self.splits += 1;
                    queue.extend(segment.split(&subs));
                }
                _ if segment.listing.done => self.counts.add(segment.counts),
                _ => queue.push(segment),
            }
        }
        // Keep the cursor stable across invocations (segments finish in any order).
        queue.sort_by(|a, b| (&a.prefix, a.exact).cmp(&(&b.prefix, b.exact)));
        self.segments = queue;
        Ok(())
    }
}

/// A segment may still be split after this many of its pages (its children list them again).
const SPLIT_WITHIN_PAGES: u64 = 3;

/// Lists and hands over one page of a segment; returns the segment moved on, and the page's subs when
/// the segment has more pages and may still be split.
async fn list_page<F, Fut>(
    pool: &dyn UserPool,
    mut segment: UserSegment,
    observed_at: &impl Fn() -> i64,
    on_page: &F,
) -> Result<(UserSegment, Option<Vec<String>>), StepError>
where
    F: Fn(Vec<PoolUser>, i64) -> Fut,
    Fut: Future<Output = Result<UserCounts, StepError>>,
{
    let at = observed_at();
    let filter = segment.filter();
    let page = match pool.list_users(filter.as_ref(), segment.listing.next_token.as_deref()).await {
        Ok(page) => page,
        Err(PortError::ExpiredToken(_)) => {
            // Cognito no longer accepts the token (a long pause between invocations): list the segment
            // again from its start; its users are counted once.
            tracing::warn!("a pagination token expired; the segment starts again");
            segment.restart();
            return Ok((segment, None));
        }
        Err(e) => return Err(list_error(pool.pool_id(), e)),
    };
    let splittable = segment.splittable && segment.pages < SPLIT_WITHIN_PAGES && page.next.is_some();
    let sample = splittable.then(|| page.items.iter().filter_map(PoolUser::sub).map(str::to_owned).collect());
    let counts = on_page(page.items, at).await?;
    // If the segment is split, its children list these users again and count them; only what the
    // handler wrote stays.
    segment.counts.add(counts);
    segment.pages += 1;
    segment.listing.done = page.next.is_none();
    segment.listing.next_token = page.next;
    Ok((segment, sample))
}

/// A failed ListUsers: a missing pool is named as such, anything else keeps its kind.
pub fn list_error(pool_id: &str, e: PortError) -> StepError {
    match e {
        PortError::NotFound(detail) => StepError::Refused {
            name: "UserPoolNotFound",
            message: format!(
                "listing the users of user pool {pool_id} failed: the pool does not exist ({detail}). The run stops; \
                 nothing is removed."
            ),
        },
        other => StepError::Port { context: format!("listing the users of user pool {pool_id}"), source: other },
    }
}
