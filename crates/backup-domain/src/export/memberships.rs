//! Memberships: every page of ListUsersInGroup for every group.
//!
//! The step walks ListGroups itself, one page of groups at a time, and lists the members of that page's
//! groups concurrently. Its cursor holds only the current page's unfinished groups, so it stays small
//! however many groups the pool has.

use serde::{Deserialize, Serialize};

use super::{CONCURRENT_LISTINGS, ExportRun, Listing, StepError};
use crate::Deadline;
use crate::ports::{BackupStore, PortError, UserPool};
use crate::schema::{BackupItem, MembershipItem};
use futures::StreamExt;

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
    pub members_without_sub: u64,
    pub invocations: u32,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupMembers {
    pub group: String,
    #[serde(flatten)]
    pub listing: Listing,
}

pub async fn run(
    pool: &dyn UserPool,
    store: &dyn BackupStore,
    input: MembershipsInput,
    deadline: Deadline,
) -> Result<MembershipsCursor, StepError> {
    let run = &input.run;
    let mut cursor = input.memberships.unwrap_or_default();
    cursor.invocations += 1;
    loop {
        if cursor.pending.is_empty() {
            if cursor.group_pages.done {
                cursor.done = true;
                break;
            }
            let page = pool
                .list_groups(cursor.group_pages.next_token.as_deref())
                .await
                .map_err(StepError::port(format!("listing the groups of user pool {}", run.pool_id)))?;
            cursor.pending = page
                .items
                .into_iter()
                .map(|g| GroupMembers { group: g.name, listing: Listing::default() })
                .collect();
            cursor.group_pages.done = page.next.is_none();
            cursor.group_pages.next_token = page.next;
        }

        let pending = std::mem::take(&mut cursor.pending);
        let mut results = futures::stream::iter(pending)
            .map(|group| export_group_members(pool, store, run, group, deadline))
            .buffer_unordered(CONCURRENT_LISTINGS);
        while let Some(result) = results.next().await {
            let (group, exported, without_sub) = result?;
            cursor.memberships += exported;
            cursor.members_without_sub += without_sub;
            if group.listing.done {
                cursor.groups_done += 1;
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
    tracing::info!(memberships = cursor.memberships, groups_done = cursor.groups_done, done = cursor.done, "memberships exported");
    Ok(cursor)
}

async fn export_group_members(
    pool: &dyn UserPool,
    store: &dyn BackupStore,
    run: &ExportRun,
    mut group: GroupMembers,
    deadline: Deadline,
) -> Result<(GroupMembers, u64, u64), StepError> {
    let (mut exported, mut without_sub) = (0, 0);
    let name = group.group.clone();
    let outcome = group
        .listing
        .follow(
            deadline,
            async |token| {
                pool.list_users_in_group(&name, token.as_deref()).await.map_err(|e| StepError::Port {
                    context: format!("listing the members of a group of user pool {}", run.pool_id),
                    source: e,
                })
            },
            async |users| {
                let mut items = Vec::with_capacity(users.len());
                for user in &users {
                    match user.sub() {
                        Some(sub) => items.push(BackupItem::Membership(MembershipItem {
                            confirmed: run.confirmation(),
                            group_name: name.clone(),
                            sub: sub.to_owned(),
                            username: user.username.clone(),
                            federated: user.is_federated(),
                        })),
                        None => without_sub += 1,
                    }
                }
                exported += items.len() as u64;
                store.put_all(&items).await.map_err(StepError::port("writing group memberships to the backup table"))
            },
        )
        .await;
    match outcome {
        Ok(()) => Ok((group, exported, without_sub)),
        // The group was deleted after it was listed: it has no members to back up, and the next run's
        // clean-up removes its item. Failing the run here would block every backup behind one race.
        Err(StepError::Port { source: PortError::NotFound(_), .. }) => {
            tracing::warn!("a group disappeared while its members were being listed; skipped");
            group.listing = Listing { next_token: None, done: true };
            Ok((group, exported, without_sub))
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::test_support;
    use crate::memory::{InMemoryStore, InMemoryUserPool};
    use crate::schema::{ItemKey, ItemType};
    use std::time::Duration;

    #[tokio::test]
    async fn every_page_of_every_group_is_exported_across_invocations() {
        let pool = InMemoryUserPool::new("p").with_page_size(10);
        pool.add_users(95, |_, _| {});
        pool.add_groups(23);
        // Each user joins three groups; group 0 gets everyone (ten pages).
        let users = pool.users();
        let groups = pool.groups();
        let mut expected = 0;
        for (i, user) in users.iter().enumerate() {
            for g in [0, 1 + i % 11, 12 + i % 11] {
                pool.add_member(&groups[g].name, &user.username);
                expected += 1;
            }
        }
        let store = InMemoryStore::default();
        let run = test_support::run(&[], 5);
        let mut cursor = None;
        let mut invocations = 0;
        let out = loop {
            let out = super::run(&pool, &store, MembershipsInput { run: run.clone(), memberships: cursor }, Deadline::after(Duration::ZERO))
                .await
                .unwrap();
            invocations += 1;
            if out.done {
                break out;
            }
            cursor = Some(out);
        };
        assert!(invocations > 2);
        assert_eq!(out.memberships, expected);
        assert_eq!(out.groups_done, 23);
        assert_eq!(store.count(ItemType::Membership) as u64, expected);
        let key = ItemKey::membership(&groups[0].name, users[94].sub().unwrap());
        assert!(store.item(&key).is_some());
    }
}
