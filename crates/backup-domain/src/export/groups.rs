//! Groups: name, description, precedence, role ARN and dates, across all pages of ListGroups.

use std::sync::atomic::{AtomicI64, Ordering};

use serde::{Deserialize, Serialize};

use super::seen::{SeenBuffer, SeenKind};
use super::writer::{WriteStats, write_page};
use super::{ExportPorts, ExportRun, Listing, StepError, lease};
use crate::Deadline;
use crate::ports::PoolGroup;
use crate::schema::{BackupItem, Capacity, GroupItem};

#[derive(Debug, Deserialize)]
pub struct GroupsInput {
    pub run: ExportRun,
    #[serde(default)]
    pub groups: Option<GroupsCursor>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupsCursor {
    #[serde(flatten)]
    pub listing: Listing,
    pub groups: u64,
    pub writes: WriteStats,
    pub capacity: Capacity,
    pub invocations: u32,
}

pub async fn run(ports: ExportPorts<'_>, input: GroupsInput, deadline: Deadline) -> Result<GroupsCursor, StepError> {
    let run = &input.run;
    lease::ensure(ports.lease, ports.clock, &run.lease).await?;
    let mut cursor = input.groups.unwrap_or_default();
    cursor.invocations += 1;
    let seen = SeenBuffer::default();
    let (mut exported, mut writes) = (0, WriteStats::default());
    // When the current page was read (both closures below see it).
    let observed_at = AtomicI64::new(0);
    cursor
        .listing
        .follow(
            deadline,
            async |token| {
                observed_at.store(ports.clock.now_ms(), Ordering::Relaxed);
                ports
                    .pool
                    .list_groups(token.as_deref())
                    .await
                    .map_err(|e| super::pool_error(&run.pool_id, "listing the groups", e))
            },
            async |groups| {
                let items: Vec<BackupItem> = groups
                    .into_iter()
                    .map(|g| BackupItem::Group(group_item(g, run, observed_at.load(Ordering::Relaxed))))
                    .collect();
                exported += items.len() as u64;
                writes += write_page(ports, run, &seen, items, "groups").await?;
                Ok(())
            },
        )
        .await?;
    seen.flush(ports.objects, run, SeenKind::Groups, &format!("groups-{:06}", cursor.invocations)).await?;
    cursor.groups += exported;
    cursor.writes += writes;
    cursor.capacity += ports.store.take_consumed();
    tracing::info!(
        groups = cursor.groups,
        written = cursor.writes.written,
        done = cursor.listing.done,
        "groups exported"
    );
    Ok(cursor)
}

fn group_item(group: PoolGroup, run: &ExportRun, observed_at: i64) -> GroupItem {
    backup_group(group, run.confirmation(observed_at))
}

/// A group as the backup keeps it (the export and the change capture build them alike).
pub fn backup_group(group: PoolGroup, confirmed: crate::schema::Confirmation) -> GroupItem {
    GroupItem {
        confirmed,
        group_name: group.name,
        description: group.description,
        precedence: group.precedence,
        role_arn: group.role_arn,
        created_at: group.created_at,
        last_modified_at: group.last_modified_at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::test_support::Harness;
    use crate::schema::{ItemKey, ItemType};
    use std::time::Duration;

    #[tokio::test]
    async fn all_pages_of_groups_are_exported_with_every_field() {
        let h = Harness::new(60);
        h.pool.add_groups(130);
        let run = h.open_run().await;
        let mut cursor = None;
        loop {
            let out = super::run(
                h.ports(),
                GroupsInput { run: run.clone(), groups: cursor },
                Deadline::after(Duration::ZERO),
            )
            .await
            .unwrap();
            if out.listing.done {
                assert_eq!(out.groups, 130);
                assert_eq!(out.invocations, 3);
                assert_eq!(out.writes.written, 130);
                break;
            }
            cursor = Some(out);
        }
        assert_eq!(h.store.count(ItemType::Group), 130);
        let g = &h.pool.groups()[0];
        let item = h.store.item(&ItemKey::group(&g.name)).and_then(BackupItem::into_group).unwrap();
        assert_eq!(
            (item.description.as_ref(), item.precedence, item.role_arn.as_ref()),
            (g.description.as_ref(), g.precedence, g.role_arn.as_ref())
        );
    }
}
