//! Groups: name, description, precedence, role ARN and dates, across all pages of ListGroups.

use serde::{Deserialize, Serialize};

use super::{ExportRun, Listing, StepError};
use crate::Deadline;
use crate::ports::{BackupStore, PoolGroup, UserPool};
use crate::schema::{BackupItem, GroupItem};

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
    pub invocations: u32,
}

pub async fn run(
    pool: &dyn UserPool,
    store: &dyn BackupStore,
    input: GroupsInput,
    deadline: Deadline,
) -> Result<GroupsCursor, StepError> {
    let run = &input.run;
    let mut cursor = input.groups.unwrap_or_default();
    cursor.invocations += 1;
    let mut exported = 0;
    cursor
        .listing
        .follow(
            deadline,
            async |token| {
                pool.list_groups(token.as_deref())
                    .await
                    .map_err(StepError::port(format!("listing the groups of user pool {}", run.pool_id)))
            },
            async |groups| {
                let items: Vec<BackupItem> = groups.into_iter().map(|g| BackupItem::Group(group_item(g, run))).collect();
                exported += items.len() as u64;
                store.put_all(&items).await.map_err(StepError::port("writing groups to the backup table"))
            },
        )
        .await?;
    cursor.groups += exported;
    tracing::info!(groups = cursor.groups, done = cursor.listing.done, "groups exported");
    Ok(cursor)
}

fn group_item(group: PoolGroup, run: &ExportRun) -> GroupItem {
    GroupItem {
        confirmed: run.confirmation(),
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
    use crate::export::test_support;
    use crate::memory::{InMemoryStore, InMemoryUserPool};
    use crate::schema::{ItemKey, ItemType};
    use std::time::Duration;

    #[tokio::test]
    async fn all_pages_of_groups_are_exported_with_every_field() {
        let pool = InMemoryUserPool::new("p").with_page_size(60);
        pool.add_groups(130);
        let store = InMemoryStore::default();
        let run = test_support::run(&[], 7);
        let mut cursor = None;
        loop {
            let out = super::run(&pool, &store, GroupsInput { run: run.clone(), groups: cursor }, Deadline::after(Duration::ZERO))
                .await
                .unwrap();
            if out.listing.done {
                assert_eq!(out.groups, 130);
                assert_eq!(out.invocations, 3);
                break;
            }
            cursor = Some(out);
        }
        assert_eq!(store.count(ItemType::Group), 130);
        let g = &pool.groups()[0];
        let Some(BackupItem::Group(item)) = store.item(&ItemKey::group(&g.name)) else { panic!() };
        assert_eq!((item.description.as_ref(), item.precedence, item.role_arn.as_ref()), (g.description.as_ref(), g.precedence, g.role_arn.as_ref()));
    }
}
