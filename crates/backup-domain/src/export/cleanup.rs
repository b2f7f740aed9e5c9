//! Clean-up: removes the items of users, groups and memberships that no longer exist.
//!
//! It only ever runs after every other export step succeeded (the state machine has no other path to
//! it), removes only items whose `lastConfirmedAt` is older than this run's timestamp, and deletes each
//! with a condition so an item confirmed meanwhile by a newer run survives. Before its first deletion it
//! refuses to go on if this run saw far fewer users than the last successful one: an empty listing caused
//! by a wrong pool or a fault must not wipe the backup.

use serde::{Deserialize, Serialize};

use super::users::UsersCursor;
use super::{ExportRun, StepError};
use crate::Deadline;
use crate::ports::{BackupStore, ScanSegment, StaleItem};
use crate::schema::{BackupItem, ItemKey, ItemType};
use futures::StreamExt;

/// Parallel scan segments of the backup table.
const SCAN_SEGMENTS: u32 = 4;
/// Conditional deletes in flight per segment.
const CONCURRENT_DELETES: usize = 16;

#[derive(Debug, Deserialize)]
pub struct CleanupInput {
    pub run: ExportRun,
    pub users: UsersCursor,
    #[serde(default)]
    pub cleanup: Option<CleanupCursor>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CleanupCursor {
    pub done: bool,
    pub segments: Vec<CleanupSegment>,
    pub removed: RemovedCounts,
    pub invocations: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CleanupSegment {
    pub index: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<ItemKey>,
    pub done: bool,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RemovedCounts {
    pub users: u64,
    pub groups: u64,
    pub memberships: u64,
    pub other: u64,
}

impl RemovedCounts {
    fn add(&mut self, item_type: Option<ItemType>) {
        match item_type {
            Some(ItemType::User) => self.users += 1,
            Some(ItemType::Group) => self.groups += 1,
            Some(ItemType::Membership) => self.memberships += 1,
            _ => self.other += 1,
        }
    }

    fn merge(&mut self, o: RemovedCounts) {
        self.users += o.users;
        self.groups += o.groups;
        self.memberships += o.memberships;
        self.other += o.other;
    }
}

pub async fn run(
    store: &dyn BackupStore,
    input: CleanupInput,
    max_removed_user_share: f64,
    deadline: Deadline,
) -> Result<CleanupCursor, StepError> {
    let run = &input.run;
    let mut cursor = match input.cleanup {
        Some(c) => c,
        None => {
            refuse_mass_removal(store, run, &input.users, max_removed_user_share).await?;
            CleanupCursor {
                segments: (0..SCAN_SEGMENTS).map(|index| CleanupSegment { index, start: None, done: false }).collect(),
                ..Default::default()
            }
        }
    };
    cursor.invocations += 1;
    let work = cursor.segments.iter().cloned().map(|s| clean_segment(store, run.export_timestamp, s, deadline));
    let mut segments = Vec::new();
    for result in futures::future::join_all(work).await {
        let (segment, removed) = result?;
        cursor.removed.merge(removed);
        segments.push(segment);
    }
    cursor.done = segments.iter().all(|s| s.done);
    cursor.segments = segments;
    tracing::info!(removed = ?cursor.removed, done = cursor.done, "backup clean-up");
    Ok(cursor)
}

async fn refuse_mass_removal(
    store: &dyn BackupStore,
    run: &ExportRun,
    users: &UsersCursor,
    max_share: f64,
) -> Result<(), StepError> {
    if run.allow_mass_removal {
        return Ok(());
    }
    let previous = store
        .get(&ItemKey::export_marker())
        .await
        .map_err(StepError::port("reading the previous export's marker from the backup table"))?;
    let Some(BackupItem::ExportMarker(previous)) = previous else { return Ok(()) };
    let before = previous.counts.users;
    let now = users.counts.users;
    if before == 0 || now >= before {
        return Ok(());
    }
    let share = (before - now) as f64 / before as f64;
    if share <= max_share {
        return Ok(());
    }
    Err(StepError::Refused { name: "CleanupRefused", message: format!(
        "This export found {now} users in user pool {pool} where the previous successful export ({prev_run}) found {before}. \
         Removing {pct:.0}% of the backed-up users exceeds the allowed {max:.0}% (CLEANUP_MAX_REMOVED_USER_SHARE), which looks \
         like a fault (wrong pool, missing permission) rather than real deletions, so no backup item was removed. \
         If the users really were deleted, start the ExportWorkflow with the input {{\"AllowMassRemoval\": true}}.",
        pool = run.pool_id,
        prev_run = previous.export_run_id,
        pct = share * 100.0,
        max = max_share * 100.0,
    ) })
}

async fn clean_segment(
    store: &dyn BackupStore,
    export_timestamp: i64,
    mut segment: CleanupSegment,
    deadline: Deadline,
) -> Result<(CleanupSegment, RemovedCounts), StepError> {
    let mut removed = RemovedCounts::default();
    let scan = ScanSegment { index: segment.index, total: SCAN_SEGMENTS };
    while !segment.done {
        let page = store
            .scan_confirmed_before(export_timestamp, scan, segment.start.clone())
            .await
            .map_err(StepError::port("scanning the backup table for items this export did not confirm"))?;
        let mut deletes = futures::stream::iter(page.items)
            .map(|stale: StaleItem| async move {
                let deleted = store.delete_if_confirmed_before(&stale.key, export_timestamp).await?;
                Ok::<_, crate::ports::PortError>((stale.item_type, deleted))
            })
            .buffer_unordered(CONCURRENT_DELETES);
        while let Some(result) = deletes.next().await {
            let (item_type, deleted) = result.map_err(StepError::port("removing a stale item from the backup table"))?;
            if deleted {
                removed.add(item_type);
            }
        }
        segment.done = page.next.is_none();
        segment.start = page.next;
        if deadline.expired() {
            break;
        }
    }
    Ok((segment, removed))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::test_support;
    use crate::memory::InMemoryStore;
    use crate::schema::{Confirmation, ExportCounts, ExportMarkerItem, GroupItem, MembershipItem, UnresolvedUsers};
    use std::time::Duration;

    fn group(name: &str, ts: i64) -> BackupItem {
        BackupItem::Group(GroupItem {
            confirmed: Confirmation::new(ts, "r"),
            group_name: name.into(),
            description: None,
            precedence: None,
            role_arn: None,
            created_at: None,
            last_modified_at: None,
        })
    }

    fn member(group: &str, sub: &str, ts: i64) -> BackupItem {
        BackupItem::Membership(MembershipItem {
            confirmed: Confirmation::new(ts, "r"),
            group_name: group.into(),
            sub: sub.into(),
            username: sub.into(),
            federated: false,
        })
    }

    fn marker(users: u64) -> BackupItem {
        BackupItem::ExportMarker(ExportMarkerItem {
            schema_version: 1,
            export_run_id: "previous".into(),
            pool_id: "p".into(),
            export_timestamp: 1,
            finished_at: 2,
            duration_seconds: 1.0,
            counts: ExportCounts { users, ..Default::default() },
            unresolved_pseudo_usernames: UnresolvedUsers::default(),
        })
    }

    fn users_seen(n: u64) -> UsersCursor {
        let mut c = UsersCursor::default();
        c.counts.users = n;
        c
    }

    async fn clean(store: &InMemoryStore, run: &ExportRun, users: u64) -> Result<CleanupCursor, StepError> {
        let mut cursor = None;
        loop {
            let input = CleanupInput { run: run.clone(), users: users_seen(users), cleanup: cursor };
            let out = super::run(store, input, 0.5, Deadline::after(Duration::ZERO)).await?;
            if out.done {
                return Ok(out);
            }
            cursor = Some(out);
        }
    }

    #[tokio::test]
    async fn only_items_older_than_the_run_are_removed() {
        let store = InMemoryStore::default().with_page_size(3);
        let run = test_support::run(&[], 100);
        let mut items = vec![marker(0)];
        for i in 0..20 {
            items.push(group(&format!("kept{i}"), 100));
            items.push(member("g", &format!("kept{i}"), 100));
        }
        items.push(group("gone", 99));
        items.push(member("g", "gone-a", 50));
        items.push(member("g", "gone-b", 99));
        store.put_all(&items).await.unwrap();
        let out = clean(&store, &run, 0).await.unwrap();
        assert_eq!(out.removed, RemovedCounts { users: 0, groups: 1, memberships: 2, other: 0 });
        assert_eq!(store.count(ItemType::Group), 20);
        assert_eq!(store.count(ItemType::Membership), 20);
        assert!(store.item(&ItemKey::export_marker()).is_some(), "the marker has no lastConfirmedAt and stays");
    }

    #[tokio::test]
    async fn a_run_that_lost_most_users_removes_nothing_unless_allowed() {
        let store = InMemoryStore::default();
        store.put_all(&[marker(10), group("old", 1)]).await.unwrap();
        let mut run = test_support::run(&[], 100);
        let err = clean(&store, &run, 2).await.unwrap_err();
        assert_eq!(err.error_name(), "CleanupRefused");
        assert!(err.to_string().contains("found 2 users") && err.to_string().contains("AllowMassRemoval"), "{err}");
        assert_eq!(store.count(ItemType::Group), 1);

        assert_eq!(clean(&store, &run, 6).await.unwrap().removed.groups, 1, "40 % removed is within the 50 % limit");
        store.put_all(&[group("old", 1)]).await.unwrap();
        run.allow_mass_removal = true;
        assert_eq!(clean(&store, &run, 0).await.unwrap().removed.groups, 1);
    }
}
