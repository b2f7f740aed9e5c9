//! Leases: one run at a time writes to the backup (`EXPORT`, in the backup table), and one restore at a
//! time writes to a target pool (`IMPORT#<pool>`, in the Region's ledger table).
//!
//! A lease item names its holder (the execution ARN), a fence that grows with every acquisition, an
//! expiry and a heartbeat. It is taken by a conditional write before the run's first write and checked
//! before each page the run writes: a run that does not hold it writes nothing. It is never decided from
//! ListExecutions, which is eventually consistent.
//!
//! A lease is taken over when it expired, or when Step Functions says its holder has ended (stopped,
//! failed, timed out). A holder Step Functions does not know yet ("does not exist", as a just-started
//! execution may be reported) is treated as running: the newcomer steps aside.

use serde::{Deserialize, Serialize};

use crate::Clock;
use crate::ports::{LeaseRecord, LeaseStore, WorkflowExecutions};
use crate::step::StepError;

/// The export's lease. It lasts this long without a heartbeat; a run renews it while it works (every
/// page), so only a run that stopped without releasing it (a crash) holds it this long.
pub const EXPORT: LeaseSpec = LeaseSpec { name: "EXPORT", ttl_ms: 10 * 60 * 1000 };
/// A restore waits up to 5 minutes between polls of an import job: its lease outlasts that.
pub const IMPORT_TTL_MS: i64 = 30 * 60 * 1000;
/// A run never writes with less than this left on its lease, so a write cannot outlive it.
const WRITE_MARGIN_MS: i64 = 60 * 1000;
const ATTEMPTS: usize = 4;

/// Which lease, and how long it lasts.
#[derive(Debug, Clone, Copy)]
pub struct LeaseSpec {
    pub name: &'static str,
    pub ttl_ms: i64,
}

/// The name of the lease on restores into `pool_id`.
pub fn import_lease_name(pool_id: &str) -> String {
    format!("IMPORT#{pool_id}")
}

/// A lease a run holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LeaseToken {
    pub name: String,
    pub owner: String,
    pub fence: u64,
    pub ttl_ms: i64,
}

/// The outcome of trying to take the lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Acquired {
    Taken(LeaseToken),
    HeldBy { owner: String, expires_at: i64 },
}

/// Takes the lease `name` for `owner`, or reports who holds it.
pub async fn acquire(
    store: &dyn LeaseStore,
    executions: &dyn WorkflowExecutions,
    clock: &dyn Clock,
    name: &str,
    ttl_ms: i64,
    owner: &str,
) -> Result<Acquired, StepError> {
    for _ in 0..ATTEMPTS {
        let current = store.read(name).await.map_err(StepError::port(format!("reading the lease {name}")))?;
        let now = clock.now_ms();
        let fence = match &current {
            None => 1,
            // A retried attempt of our own first step: we already hold it.
            Some(r) if r.owner == owner => r.fence,
            Some(r) if r.expires_at <= now => r.fence + 1,
            Some(r) => {
                let status = executions
                    .status(&r.owner)
                    .await
                    .map_err(StepError::port("asking Step Functions whether the lease holder still runs"))?;
                if !status.ended() {
                    return Ok(Acquired::HeldBy { owner: r.owner.clone(), expires_at: r.expires_at });
                }
                tracing::info!(fence = r.fence, ?status, "taking over the lease of an execution that ended");
                r.fence + 1
            }
        };
        let new = LeaseRecord { owner: owner.to_owned(), fence, expires_at: now + ttl_ms, heartbeat_at: now };
        if store
            .replace(name, current.as_ref(), &new)
            .await
            .map_err(StepError::port(format!("taking the lease {name}")))?
        {
            return Ok(Acquired::Taken(LeaseToken { name: name.to_owned(), owner: owner.to_owned(), fence, ttl_ms }));
        }
        // Someone else changed it between our read and our write: look again.
    }
    Err(StepError::Refused {
        name: "LeaseContended",
        message: format!(
            "the lease {name} kept changing while this run tried to take it; another run is starting. Nothing was \
             written; start the workflow again once it has finished."
        ),
    })
}

/// Checks, before a write, that the run still holds its lease with time to spare, renewing it when it
/// is half spent.
pub async fn ensure(store: &dyn LeaseStore, clock: &dyn Clock, token: &LeaseToken) -> Result<(), StepError> {
    let name = token.name.as_str();
    let current = store.read(name).await.map_err(StepError::port(format!("checking the lease {name}")))?;
    let now = clock.now_ms();
    let lost = |why: String| StepError::Refused {
        name: "LeaseLost",
        message: format!(
            "this run no longer holds the lease {name} ({why}), so it stopped before writing anything more. \
             Another run may be working; if none is, start the workflow again."
        ),
    };
    let record = match current {
        Some(r) if r.owner == token.owner && r.fence == token.fence => r,
        Some(r) => return Err(lost(format!("it is held by {} (fence {})", r.owner, r.fence))),
        None => return Err(lost("it was released".into())),
    };
    // Renewed when half spent, and never used with less than the write margin left.
    if record.expires_at - now < WRITE_MARGIN_MS.max(token.ttl_ms / 2) {
        let renewed = LeaseRecord { expires_at: now + token.ttl_ms, heartbeat_at: now, ..record.clone() };
        if !store
            .replace(name, Some(&record), &renewed)
            .await
            .map_err(StepError::port(format!("renewing the lease {name}")))?
        {
            return Err(lost("it changed while being renewed".into()));
        }
    }
    Ok(())
}

/// Gives the lease back (only if `token` still holds it); true when it was released.
pub async fn release(store: &dyn LeaseStore, token: &LeaseToken) -> Result<bool, StepError> {
    store
        .release(&token.name, &token.owner, token.fence)
        .await
        .map_err(StepError::port(format!("releasing the lease {}", token.name)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::{FixedClock, InMemoryLease, ScriptedExecutions};
    use crate::ports::ExecutionStatus;

    #[tokio::test]
    async fn one_of_two_runs_takes_the_lease_and_the_other_sees_the_holder() {
        let (store, clock) = (InMemoryLease::default(), FixedClock::at(1_000));
        let execs = ScriptedExecutions::default();
        execs.set("a", ExecutionStatus::Running);
        let a = acquire(&store, &execs, &clock, EXPORT.name, EXPORT.ttl_ms, "a").await.unwrap();
        assert_eq!(
            a,
            Acquired::Taken(LeaseToken { name: "EXPORT".into(), owner: "a".into(), fence: 1, ttl_ms: EXPORT.ttl_ms })
        );
        let b = acquire(&store, &execs, &clock, EXPORT.name, EXPORT.ttl_ms, "b").await.unwrap();
        assert_eq!(b, Acquired::HeldBy { owner: "a".into(), expires_at: 1_000 + EXPORT.ttl_ms });
        assert_eq!(
            acquire(&store, &execs, &clock, EXPORT.name, EXPORT.ttl_ms, "a").await.unwrap(),
            a,
            "a retry of the holder keeps it"
        );
    }

    #[tokio::test]
    async fn a_holder_step_functions_does_not_know_yet_is_treated_as_running() {
        let (store, clock) = (InMemoryLease::default(), FixedClock::at(1_000));
        let execs = ScriptedExecutions::default();
        acquire(&store, &execs, &clock, EXPORT.name, EXPORT.ttl_ms, "new").await.unwrap();
        execs.set("new", ExecutionStatus::NotFound);
        assert!(matches!(
            acquire(&store, &execs, &clock, EXPORT.name, EXPORT.ttl_ms, "other").await.unwrap(),
            Acquired::HeldBy { .. }
        ));
    }

    #[tokio::test]
    async fn a_stopped_or_expired_holder_is_taken_over_and_can_no_longer_write() {
        let (store, clock) = (InMemoryLease::default(), FixedClock::at(1_000));
        let execs = ScriptedExecutions::default();
        let Acquired::Taken(first) =
            acquire(&store, &execs, &clock, EXPORT.name, EXPORT.ttl_ms, "first").await.unwrap()
        else {
            panic!()
        };
        execs.set("first", ExecutionStatus::Aborted);
        let Acquired::Taken(second) =
            acquire(&store, &execs, &clock, EXPORT.name, EXPORT.ttl_ms, "second").await.unwrap()
        else {
            panic!()
        };
        assert_eq!(second.fence, 2);
        let err = ensure(&store, &clock, &first).await.unwrap_err();
        assert_eq!(err.error_name(), "LeaseLost");
        ensure(&store, &clock, &second).await.unwrap();

        clock.set(1_000 + EXPORT.ttl_ms + 1);
        execs.set("second", ExecutionStatus::Running);
        let Acquired::Taken(third) =
            acquire(&store, &execs, &clock, EXPORT.name, EXPORT.ttl_ms, "third").await.unwrap()
        else {
            panic!()
        };
        assert_eq!(third.fence, 3, "an expired lease is taken whatever its holder's status");
        assert!(!release(&store, &second).await.unwrap(), "a taken-over holder cannot release it");
        assert!(release(&store, &third).await.unwrap());
    }

    #[tokio::test]
    async fn the_lease_is_renewed_when_half_spent() {
        let (store, clock) = (InMemoryLease::default(), FixedClock::at(0));
        let execs = ScriptedExecutions::default();
        let Acquired::Taken(token) = acquire(&store, &execs, &clock, EXPORT.name, EXPORT.ttl_ms, "run").await.unwrap()
        else {
            panic!()
        };
        clock.set(EXPORT.ttl_ms / 2 + 1);
        ensure(&store, &clock, &token).await.unwrap();
        assert_eq!(store.read("EXPORT").await.unwrap().unwrap().expires_at, EXPORT.ttl_ms / 2 + 1 + EXPORT.ttl_ms);
    }
}
