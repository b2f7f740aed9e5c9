//! Memberships: every page of ListUsersInGroup for every group.
//!
//! The step walks ListGroups itself, one page of groups at a time, and lists the members of that page's
//! groups concurrently. Its cursor holds only the current page's unfinished groups, so it stays small
//! however many groups the pool has. A group deleted while the run lists it is skipped (its items go at
//! the next clean-up); a pool deleted while the run lists it fails the run, removing nothing.

use std::sync::atomic::{AtomicI64, Ordering};

use futures::StreamExt;
use serde::{Deserialize, Serialize};

use super::seen::{SeenBuffer, SeenKind};
use super::writer::{WriteStats, write_page};
use super::{CONCURRENT_LISTINGS, ExportPorts, ExportRun, Listing, StepError, lease};
use crate::Deadline;
use crate::ports::PortError;
use crate::schema::{BackupItem, Capacity, MembershipItem};

#[derive(Debug, Deserialize)]
pub struct MembershipsInput {
    pub run: ExportRun,
    #[serde(default)]
    pub memberships: Option<MembershipsCursor>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MembershipsCursor {
    pub done: bool,
    /// The ListGroups listing: the page after the one whose groups are pending.
    pub group_pages: Listing,
    /// Groups of the current page whose members are not all exported yet.
    pub pending: Vec<GroupMembers>,
    pub memberships: u64,
    pub groups_done: u64,
    /// Groups deleted while the run listed their members.
    #[serde(default)]
    pub groups_gone: u64,
    pub members_without_sub: u64,
    pub writes: WriteStats,
    pub capacity: Capacity,
    pub invocations: u32,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupMembers {
    pub group: String,
    #[serde(flatten)]
    pub listing: Listing,
    /// Memberships counted so far (a group whose listing restarts counts again from zero).
    #[serde(default)]
    pub counted: u64,
}

pub async fn run(
    ports: ExportPorts<'_>,
    input: MembershipsInput,
    deadline: Deadline,
) -> Result<MembershipsCursor, StepError> {
    let run = &input.run;
    lease::ensure(ports.lease, ports.clock, &run.lease).await?;
    let mut cursor = input.memberships.unwrap_or_default();
    cursor.invocations += 1;
    let seen = SeenBuffer::default();
    loop {
        if cursor.pending.is_empty() {
            if cursor.group_pages.done {
                cursor.done = true;
                break;
            }
            let page = ports
                .pool
                .list_groups(cursor.group_pages.next_token.as_deref())
                .await
                .map_err(|e| super::pool_error(&run.pool_id, "listing the groups", e))?;
            cursor.pending =
                page.items.into_iter().map(|g| GroupMembers { group: g.name, ..Default::default() }).collect();
            cursor.group_pages.done = page.next.is_none();
            cursor.group_pages.next_token = page.next;
        }

        let pending = std::mem::take(&mut cursor.pending);
        let mut results = futures::stream::iter(pending)
            .map(|group| export_group_members(ports, run, &seen, group, deadline))
            .buffer_unordered(CONCURRENT_LISTINGS);
        while let Some(result) = results.next().await {
            let GroupOutcome { group, gone, without_sub, writes } = result?;
            cursor.members_without_sub += without_sub;
            cursor.writes += writes;
            if gone {
                cursor.groups_gone += 1;
            } else if group.listing.done {
                cursor.groups_done += 1;
                cursor.memberships += group.counted;
            } else {
                cursor.pending.push(group);
            }
        }
        // Keep the cursor stable across invocations (buffer_unordered completes in any order).
        cursor.pending.sort_by(|a, b| a.group.cmp(&b.group));
        if deadline.expired() {
            break;
        }
    }
    seen.flush(ports.objects, run, SeenKind::Memberships, &format!("memberships-{:06}", cursor.invocations)).await?;
    cursor.capacity += ports.store.take_consumed();
    tracing::info!(
        memberships = cursor.memberships,
        groups_done = cursor.groups_done,
        written = cursor.writes.written,
        done = cursor.done,
        "memberships exported"
    );
    Ok(cursor)
}

struct GroupOutcome {
    group: GroupMembers,
    gone: bool,
    without_sub: u64,
    writes: WriteStats,
}

async fn export_group_members(
    ports: ExportPorts<'_>,
    run: &ExportRun,
    seen: &SeenBuffer,
    mut group: GroupMembers,
    deadline: Deadline,
) -> Result<GroupOutcome, StepError> {
    let (mut without_sub, mut writes, mut counted) = (0, WriteStats::default(), group.counted);
    let name = group.group.clone();
    let observed_at = AtomicI64::new(0);
    let outcome = group
        .listing
        .follow(
            deadline,
            async |token| {
                observed_at.store(ports.clock.now_ms(), Ordering::Relaxed);
                ports.pool.list_users_in_group(&name, token.as_deref()).await.map_err(|source| StepError::Port {
                    context: format!("listing the members of a group of user pool {}", run.pool_id),
                    source,
                })
            },
            async |users| {
                let mut items = Vec::with_capacity(users.len());
                for user in &users {
                    match user.sub() {
                        Some(sub) => items.push(BackupItem::Membership(MembershipItem {
                            confirmed: run.confirmation(observed_at.load(Ordering::Relaxed)),
                            group_name: name.clone(),
                            sub: sub.to_owned(),
                            username: user.username.clone(),
                            federated: user.is_federated(),
                        })),
                        None => without_sub += 1,
                    }
                }
                counted += items.len() as u64;
                writes += write_page(ports, run, seen, items, "group memberships").await?;
                Ok(())
            },
        )
        .await;
    match outcome {
        Ok(()) => {
            group.counted = counted;
            Ok(GroupOutcome { group, gone: false, without_sub, writes })
        }
        Err(StepError::Port { source: PortError::ExpiredToken(_), .. }) => {
            // The pagination token expired: list this group again from its start.
            group.listing = Listing::default();
            group.counted = 0;
            Ok(GroupOutcome { group, gone: false, without_sub, writes })
        }
        Err(StepError::Port { source: PortError::NotFound(detail), context }) => {
            // A missing group and a missing pool answer alike: ask which one it is.
            match ports.pool.describe().await {
                Err(PortError::NotFound(_)) => {
                    Err(super::pool_error(&run.pool_id, "listing group members", PortError::NotFound(detail)))
                }
                Err(other) => Err(StepError::Port {
                    context: format!("checking user pool {} after a missing group", run.pool_id),
                    source: other,
                }),
                Ok(_) => match ports.pool.get_group(&group.group).await {
                    Ok(None) => {
                        tracing::warn!("a group was deleted while its members were listed; skipped");
                        Ok(GroupOutcome { group, gone: true, without_sub, writes })
                    }
                    Ok(Some(_)) => Err(StepError::Port { context, source: PortError::NotFound(detail) }),
                    Err(e) => Err(super::pool_error(&run.pool_id, "reading a group", e)),
                },
            }
        }
        Err(e) => Err(e),
    }
}
