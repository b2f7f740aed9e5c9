//! Groups: recreated with description, precedence and role ARN (moved to another account if asked),
//! before any membership needs them.

use std::sync::atomic::Ordering;

use futures::StreamExt;
use serde::{Deserialize, Serialize};

use super::Lanes;
use crate::import::{ConflictPolicy, ImportRun, rewrite_role_arn};
use crate::ports::{Created, PoolGroup};
use crate::schema::GroupItem;
use crate::step::{CONCURRENT_LISTINGS, StepError, TableScan};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupsLane {
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

impl Lanes<'_> {
    pub async fn groups(&self, mut lane: GroupsLane) -> Result<GroupsLane, StepError> {
        let result = self.groups_until_deadline(&mut lane).await;
        self.shared.groups_done.store(lane.done, Ordering::SeqCst);
        self.shared.groups_active.store(false, Ordering::SeqCst);
        result.map(|()| lane)
    }

    async fn groups_until_deadline(&self, lane: &mut GroupsLane) -> Result<(), StepError> {
        if lane.done {
            return Ok(());
        }
        let (run, target) = (self.run, self.ports.target);
        let mut scan = lane.scan.clone();
        scan.follow(self.ports.store, self.deadline, async |items| {
            let groups: Vec<PoolGroup> =
                items.iter().filter_map(|i| i.as_group()).map(|g| target_group(g, run)).collect();
            let mut results = futures::stream::iter(groups)
                .map(|group| async move {
                    let context = || format!("creating group {} in user pool {}", group.name, run.target.pool_id);
                    match target
                        .create_group(&group)
                        .await
                        .map_err(|e| StepError::Port { context: context(), source: e })?
                    {
                        Created::New => Ok(Outcome::Created),
                        // Under `fail` the pool was empty at preflight: an earlier attempt of this restore made it.
                        Created::AlreadyExisted if run.policy != ConflictPolicy::Overwrite => Ok(Outcome::Skipped),
                        Created::AlreadyExisted => {
                            target
                                .update_group(&group)
                                .await
                                .map_err(|e| StepError::Port { context: context(), source: e })?;
                            Ok(Outcome::Overwritten)
                        }
                    }
                })
                .buffer_unordered(CONCURRENT_LISTINGS);
            while let Some(outcome) = results.next().await {
                match outcome? {
                    Outcome::Created => lane.created += 1,
                    Outcome::Skipped => lane.skipped_existing += 1,
                    Outcome::Overwritten => lane.overwritten += 1,
                }
            }
            Ok(true)
        })
        .await?;
        lane.done = scan.done;
        lane.scan = scan;
        Ok(())
    }
}
