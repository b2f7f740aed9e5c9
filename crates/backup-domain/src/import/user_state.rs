//! User state: users disabled in the backup are disabled, memberships are restored.

use std::collections::BTreeMap;

use futures::StreamExt;
use serde::{Deserialize, Serialize};

use super::plan::{LISTED, UserNote};
use super::restore_path::{self, RestorePath};
use super::{ImportRun, target_username};
use crate::Deadline;
use crate::ports::{BackupStore, PortError, RestoreTarget};
use crate::schema::{BackupItem, ItemKey, UserItem};
use crate::step::{CONCURRENT_LISTINGS, StepError, TableScan};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserStateInput {
    pub run: ImportRun,
    #[serde(default)]
    pub user_state: Option<UserStateRestore>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserStateRestore {
    pub done: bool,
    pub scan: TableScan,
    pub disabled: u64,
    pub memberships_added: u64,
    /// Memberships of users that cannot be restored (federated, nameless): reported, not attempted.
    pub memberships_not_restorable: u64,
    /// Users or groups missing in the target when their state was applied.
    pub problems: u64,
    pub problem_notes: Vec<UserNote>,
}

enum Action {
    Disable(String),
    AddToGroup(String, String),
}

pub async fn run(
    target: &dyn RestoreTarget,
    store: &dyn BackupStore,
    input: UserStateInput,
    deadline: Deadline,
) -> Result<UserStateRestore, StepError> {
    let run = &input.run;
    let mut cursor = input.user_state.unwrap_or_default();
    let mut scan = cursor.scan.clone();
    scan.follow(store, deadline, async |items| {
        let member_keys: Vec<ItemKey> = items
            .iter()
            .filter_map(|i| if let BackupItem::Membership(m) = i { Some(ItemKey::user(&m.sub)) } else { None })
            .collect();
        let members: BTreeMap<String, UserItem> = store
            .get_many(&member_keys)
            .await
            .map_err(StepError::port("reading the members' user items"))?
            .into_iter()
            .filter_map(|i| if let BackupItem::User(u) = i { Some((u.sub.clone(), u)) } else { None })
            .collect();
        let restorable = |u: &UserItem| !matches!(restore_path::decide(u, &run.target), RestorePath::NotRestorable(_));
        let mut actions = Vec::new();
        for item in &items {
            match item {
                BackupItem::User(u) if !u.enabled && restorable(u) => {
                    actions.push((u.sub.clone(), Action::Disable(target_username(u).unwrap_or_default().to_owned())))
                }
                BackupItem::Membership(m) => match members.get(&m.sub) {
                    Some(u) if restorable(u) => actions.push((
                        m.sub.clone(),
                        Action::AddToGroup(target_username(u).unwrap_or_default().to_owned(), m.group_name.clone()),
                    )),
                    _ => cursor.memberships_not_restorable += 1,
                },
                _ => {}
            }
        }
        let mut results = futures::stream::iter(actions)
            .map(|(sub, action)| async move {
                let result = match &action {
                    Action::Disable(name) => target.set_enabled(name, false).await,
                    Action::AddToGroup(name, group) => target.add_to_group(name, group).await,
                };
                (sub, action, result)
            })
            .buffer_unordered(CONCURRENT_LISTINGS);
        while let Some((sub, action, result)) = results.next().await {
            match (result, &action) {
                (Ok(()), Action::Disable(_)) => cursor.disabled += 1,
                (Ok(()), Action::AddToGroup(..)) => cursor.memberships_added += 1,
                (Err(PortError::NotFound(_)), _) => {
                    cursor.problems += 1;
                    if cursor.problem_notes.len() < LISTED {
                        let reason = match &action {
                            Action::Disable(_) => "disabled in the backup, but not in the target pool".to_owned(),
                            Action::AddToGroup(_, g) => format!("member of group {g} in the backup; the user or group is not in the target pool"),
                        };
                        cursor.problem_notes.push(UserNote { sub, reason });
                    }
                }
                (Err(e), _) => {
                    return Err(StepError::Port {
                        context: format!("restoring the state of the user with backup sub {sub} in {}", run.target.pool_id),
                        source: e,
                    });
                }
            }
        }
        Ok(true)
    })
    .await?;
    cursor.scan = scan;
    cursor.done = cursor.scan.done;
    tracing::info!(disabled = cursor.disabled, memberships = cursor.memberships_added, done = cursor.done, "user state restored");
    Ok(cursor)
}
