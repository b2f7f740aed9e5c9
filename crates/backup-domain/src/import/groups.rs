//! Groups: recreated with description, precedence and role ARN (moved to another account if asked).

use futures::StreamExt;
use serde::{Deserialize, Serialize};

use super::{ConflictPolicy, ImportRun, rewrite_role_arn};
use crate::Deadline;
use crate::ports::{BackupStore, Created, PoolGroup, RestoreTarget};
use crate::schema::{BackupItem, GroupItem};
use crate::step::{CONCURRENT_LISTINGS, StepError, TableScan};

#[derive(Debug, Deserialize)]
pub struct GroupsInput {
    pub run: ImportRun,
    #[serde(default)]
    pub groups: Option<GroupsRestore>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupsRestore {
    pub done: bool,
    pub scan: TableScan,
    pub created: u64,
    pub skipped_existing: u64,
    pub overwritten: u64,
}

/// The group as the target should have it.
pub fn target_group(item: &GroupItem, run: &ImportRun) -> PoolGroup {
    PoolGroup {
        name: item.group_name.clone(),
        description: item.description.clone(),
        precedence: item.precedence,
        role_arn: item.role_arn.as_deref().map(|a| rewrite_role_arn(a, run.role_arn_account_id.as_deref())),
        created_at: None,
        last_modified_at: None,
    }
}

#[derive(Clone, Copy)]
enum Outcome {
    Created,
    Skipped,
    Overwritten,
}

pub async fn run(
    target: &dyn RestoreTarget,
    store: &dyn BackupStore,
    input: GroupsInput,
    deadline: Deadline,
) -> Result<GroupsRestore, StepError> {
    let run = &input.run;
    let mut cursor = input.groups.unwrap_or_default();
    let mut scan = cursor.scan.clone();
    scan.follow(store, deadline, async |items| {
        let groups: Vec<PoolGroup> = items
            .iter()
            .filter_map(|i| if let BackupItem::Group(g) = i { Some(target_group(g, run)) } else { None })
            .collect();
        let mut results = futures::stream::iter(groups)
            .map(|group| async move {
                let context = || format!("creating group {} in user pool {}", group.name, run.target.pool_id);
                match target.create_group(&group).await.map_err(|e| StepError::Port { context: context(), source: e })? {
                    Created::New => Ok(Outcome::Created),
                    Created::AlreadyExisted => match run.policy {
                        ConflictPolicy::Fail => Err(StepError::Refused {
                            name: "GroupExists",
                            message: format!(
                                "group {} already exists in user pool {}; start with \"ConflictPolicy\": \"skip-existing\" \
                                 or \"overwrite\"",
                                group.name, run.target.pool_id
                            ),
                        }),
                        ConflictPolicy::SkipExisting => Ok(Outcome::Skipped),
                        ConflictPolicy::Overwrite => {
                            target.update_group(&group).await.map_err(|e| StepError::Port { context: context(), source: e })?;
                            Ok(Outcome::Overwritten)
                        }
                    },
                }
            })
            .buffer_unordered(CONCURRENT_LISTINGS);
        while let Some(outcome) = results.next().await {
            match outcome? {
                Outcome::Created => cursor.created += 1,
                Outcome::Skipped => cursor.skipped_existing += 1,
                Outcome::Overwritten => cursor.overwritten += 1,
            }
        }
        Ok(true)
    })
    .await?;
    cursor.scan = scan;
    cursor.done = cursor.scan.done;
    tracing::info!(created = cursor.created, skipped = cursor.skipped_existing, done = cursor.done, "groups restored");
    Ok(cursor)
}
