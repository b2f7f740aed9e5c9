//! Before anything is removed, the run checks that it saw the whole pool:
//!
//! 1. **Count.** The distinct users it listed are compared with the pool's own `EstimatedNumberOfUsers`,
//!    taken at the start and at the end of the run. Fewer than the smaller estimate minus the tolerance
//!    (the larger of `EXPORT_COUNT_TOLERANCE_USERS` and `EXPORT_COUNT_TOLERANCE_SHARE` of the estimate)
//!    means users were missed: the users are listed once more in one sequence (a sweep), and if the count
//!    still falls short the run fails, removing nothing.
//! 2. **What would go.** A scan of the backup's keys finds the items this run did not see (and that no
//!    one read from Cognito after the run started); they are written to the object store for the clean-up.
//! 3. **Removal guard.** Users, groups and memberships are judged separately, by the drop from the
//!    largest count among the table and the last successful runs to what would remain: a drop larger than
//!    the floor *and* than the share of that count is refused (unless started with `AllowMassRemoval`,
//!    which also makes this run the new reference). So neither one bad run nor a series of partial runs
//!    can shrink the backup step by step.

use futures::future::try_join_all;
use serde::{Deserialize, Serialize};

use super::groups::GroupsCursor;
use super::memberships::MembershipsCursor;
use super::seen::{SeenKind, SeenSet};
use super::users::UsersCursor;
use super::{ExportPorts, ExportRun, StepError, lease};
use crate::Deadline;
use crate::ports::{ScanSegment, StoredKey};
use crate::schema::{BackupItem, Capacity, ItemKey, ItemType};
use crate::settings::{CountTolerance, RemovalGuard};

/// Parallel scan segments of the backup table.
const SCAN_SEGMENTS: u32 = 4;

#[derive(Debug, Deserialize)]
pub struct CompletenessInput {
    pub run: ExportRun,
    pub users: UsersCursor,
    pub groups: GroupsCursor,
    pub memberships: MembershipsCursor,
    #[serde(default)]
    pub completeness: Option<Completeness>,
}

/// Counts per kind of backed-up item.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KindCounts {
    pub users: u64,
    pub groups: u64,
    pub memberships: u64,
    #[serde(default)]
    pub tombstones: u64,
}

impl KindCounts {
    fn add(&mut self, item_type: ItemType, kind: SeenKind) {
        match (item_type, kind) {
            (ItemType::Tombstone, _) => self.tombstones += 1,
            (_, SeenKind::Users) => self.users += 1,
            (_, SeenKind::Groups) => self.groups += 1,
            (_, SeenKind::Memberships) => self.memberships += 1,
        }
    }

    fn merge(&mut self, o: KindCounts) {
        self.users += o.users;
        self.groups += o.groups;
        self.memberships += o.memberships;
        self.tombstones += o.tombstones;
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScanCursor {
    pub index: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<ItemKey>,
    pub done: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Completeness {
    pub done: bool,
    /// The count fell short: list the users again in one sequence, then check again.
    pub sweep: bool,
    /// Distinct keys the run saw.
    pub seen: KindCounts,
    pub estimated_users_at_end: u64,
    /// Items of each kind in the backup when it was scanned.
    pub stored: KindCounts,
    /// Items the clean-up will remove.
    pub stale: KindCounts,
    pub scan: Vec<ScanCursor>,
    /// Parts of the list of items to remove (`exports/<run>/stale/part-NNNNNN.jsonl`).
    pub stale_parts: u32,
    pub capacity: Capacity,
    pub invocations: u32,
}

/// One item the clean-up is to remove.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StaleEntry {
    pub key: ItemKey,
    #[serde(rename = "type")]
    pub item_type: ItemType,
}

pub fn stale_part_key(run: &ExportRun, part: u32) -> String {
    format!("{}stale/part-{part:06}.jsonl", run.object_prefix())
}

pub async fn run(
    ports: ExportPorts<'_>,
    input: CompletenessInput,
    tolerance: CountTolerance,
    guard: RemovalGuard,
    deadline: Deadline,
) -> Result<Completeness, StepError> {
    let run = &input.run;
    lease::ensure(ports.lease, ports.clock, &run.lease).await?;
    let sets = [
        SeenSet::load(ports.objects, run, SeenKind::Users).await?,
        SeenSet::load(ports.objects, run, SeenKind::Groups).await?,
        SeenSet::load(ports.objects, run, SeenKind::Memberships).await?,
    ];
    let mut c = input.completeness.clone().unwrap_or_default();
    c.invocations += 1;
    if c.scan.is_empty() {
        c.seen = KindCounts { users: sets[0].len(), groups: sets[1].len(), memberships: sets[2].len(), tombstones: 0 };
        let description =
            ports.pool.describe().await.map_err(|e| super::pool_error(&run.pool_id, "reading the user estimate", e))?;
        c.estimated_users_at_end = description.estimated_users;
        c.sweep = false;
        // A shortfall comes back only before the sweep; after it, it is an error.
        if let Some(shortfall) = count_shortfall(run, &input.users, &c, tolerance)? {
            tracing::warn!(shortfall, "fewer users listed than the pool estimates: sweeping");
            c.sweep = true;
            return Ok(c);
        }
        c.scan = (0..SCAN_SEGMENTS).map(|index| ScanCursor { index, start: None, done: false }).collect();
    }

    let work = c.scan.iter().filter(|s| !s.done).cloned().map(|s| scan_segment(ports, run, &sets, s, deadline));
    let mut stale = Vec::new();
    for (cursor, stored, found) in try_join_all(work).await? {
        c.stored.merge(stored);
        for entry in &found {
            c.stale.add(entry.item_type, SeenKind::of(entry.item_type, &entry.key).unwrap_or(SeenKind::Users));
        }
        stale.extend(found);
        if let Some(slot) = c.scan.iter_mut().find(|s| s.index == cursor.index) {
            *slot = cursor;
        }
    }
    if !stale.is_empty() {
        let body: Vec<u8> = stale
            .iter()
            .filter_map(|e| serde_json::to_string(e).ok())
            .flat_map(|line| line.into_bytes().into_iter().chain(std::iter::once(b'\n')))
            .collect();
        ports
            .objects
            .put(&stale_part_key(run, c.stale_parts), "application/x-ndjson", body)
            .await
            .map_err(StepError::port("saving the list of items to remove"))?;
        c.stale_parts += 1;
    }
    c.capacity += ports.store.take_consumed();
    if c.scan.iter().all(|s| s.done) {
        judge_removal(ports, run, &c, guard).await?;
        c.done = true;
    }
    tracing::info!(seen = ?c.seen, stored = ?c.stored, stale = ?c.stale, done = c.done, "completeness check");
    Ok(c)
}

/// `Some(missing users)` when the listing fell short of the estimate beyond the tolerance; an error when
/// it still does after the sweep (unless the run accepts a mismatch).
fn count_shortfall(
    run: &ExportRun,
    users: &UsersCursor,
    c: &Completeness,
    tolerance: CountTolerance,
) -> Result<Option<u64>, StepError> {
    let listed = c.seen.users + users.counts().without_sub;
    let low = run.estimated_users_at_start.min(c.estimated_users_at_end);
    let high = run.estimated_users_at_start.max(c.estimated_users_at_end);
    let allowed = tolerance.floor.max((high as f64 * tolerance.share).ceil() as u64);
    if listed + allowed >= low {
        return Ok(None);
    }
    if run.allow_count_mismatch {
        tracing::warn!(listed, low, "the listing disagrees with the pool's estimate; accepted (AllowCountMismatch)");
        return Ok(None);
    }
    if !users.swept {
        return Ok(Some(low - listed));
    }
    Err(StepError::Refused {
        name: "ExportIncomplete",
        message: format!(
            "this export listed {listed} distinct users, but user pool {pool} estimates {start} at the start of the \
             run and {end} at its end; even a full listing in one sequence fell short by more than the tolerance of \
             {allowed} users (EXPORT_COUNT_TOLERANCE_USERS, EXPORT_COUNT_TOLERANCE_SHARE). Nothing was removed from \
             the backup; what was listed was saved. Check the function's permissions and the pool; if the pool's \
             estimate is known to be wrong, start the ExportWorkflow with {{\"AllowCountMismatch\": true}}.",
            pool = run.pool_id,
            start = run.estimated_users_at_start,
            end = c.estimated_users_at_end,
        ),
    })
}

async fn scan_segment(
    ports: ExportPorts<'_>,
    run: &ExportRun,
    sets: &[SeenSet; 3],
    mut cursor: ScanCursor,
    deadline: Deadline,
) -> Result<(ScanCursor, KindCounts, Vec<StaleEntry>), StepError> {
    let (mut stored, mut stale) = (KindCounts::default(), Vec::new());
    let segment = ScanSegment { index: cursor.index, total: SCAN_SEGMENTS };
    while !cursor.done {
        // A long scan writes nothing: the lease is kept alive page by page.
        lease::ensure(ports.lease, ports.clock, &run.lease).await?;
        let page = ports
            .store
            .scan_keys(segment, cursor.start.clone())
            .await
            .map_err(StepError::port("scanning the backup table for items this run did not see"))?;
        for StoredKey { key, item_type, last_confirmed_at } in page.items {
            let Some(item_type) = item_type else { continue };
            let Some(kind) = SeenKind::of(item_type, &key) else { continue };
            stored.add(item_type, kind);
            let set = &sets[kind as usize];
            let read_before_run = last_confirmed_at.is_some_and(|t| t < run.export_timestamp);
            if read_before_run && !set.contains(&key) {
                stale.push(StaleEntry { key, item_type });
            }
        }
        cursor.done = page.next.is_none();
        cursor.start = page.next;
        if deadline.expired() {
            break;
        }
    }
    Ok((cursor, stored, stale))
}

/// The removal guard, per kind, against the table's count and the last successful runs' counts.
async fn judge_removal(
    ports: ExportPorts<'_>,
    run: &ExportRun,
    c: &Completeness,
    guard: RemovalGuard,
) -> Result<(), StepError> {
    if run.allow_mass_removal {
        return Ok(());
    }
    let previous = ports
        .store
        .get(&ItemKey::export_marker())
        .await
        .map_err(StepError::port("reading the previous export's marker"))?
        .and_then(BackupItem::into_export_marker);
    let history = previous.map(|m| m.history).unwrap_or_default();
    let best = |f: fn(&crate::schema::RunCounts) -> u64| history.iter().map(f).max().unwrap_or(0);
    // Per kind: the drop from the largest recent count to what the backup holds after this clean-up.
    let kinds = [
        ("users", c.stored.users, c.stale.users, best(|h| h.users), guard.floor_users),
        ("groups", c.stored.groups, c.stale.groups, best(|h| h.groups), guard.floor_groups),
        ("memberships", c.stored.memberships, c.stale.memberships, best(|h| h.memberships), guard.floor_memberships),
    ];
    let refused: Vec<String> = kinds
        .iter()
        .filter_map(|(kind, stored, removed, recent, floor)| {
            let best = (*stored).max(*recent);
            let after = stored.saturating_sub(*removed);
            let drop = best.saturating_sub(after);
            (*removed > 0 && drop > *floor && drop as f64 > guard.share * best as f64).then(|| {
                format!(
                    "{removed} {kind}, leaving {after} where the backup held up to {best} ({:.0}% fewer)",
                    drop as f64 * 100.0 / best as f64
                )
            })
        })
        .collect();
    if refused.is_empty() {
        return Ok(());
    }
    Err(StepError::Refused {
        name: "CleanupRefused",
        message: format!(
            "this export of user pool {pool} would remove {what}: more than the removal guard allows (a drop of \
             {share:.0}% from the largest count among the backup and the last {runs} successful exports, beyond \
             floors of {fu} users, {fg} groups and {fm} memberships). That looks like a fault (a wrong pool, a \
             missing permission) rather than real deletions, so nothing was removed; what was listed was saved. If \
             the deletions are real, start the ExportWorkflow with {{\"AllowMassRemoval\": true}}.",
            pool = run.pool_id,
            what = refused.join(", "),
            share = guard.share * 100.0,
            runs = history.len(),
            fu = guard.floor_users,
            fg = guard.floor_groups,
            fm = guard.floor_memberships,
        ),
    })
}
