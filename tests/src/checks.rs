//! What the suites assert: a workflow's outcome, and after every fault that no user was lost or
//! duplicated and memberships are exact; and the pools they compare with, read through Cognito.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_sfn::types::ExecutionStatus;
use backup_domain::ports::PoolUser;
use backup_domain::schema::BackupItem;

use crate::Result;
use crate::local_cloud::LocalCloud;
use crate::scenario::Scenario;
use crate::workflows::Execution;

pub fn assert_succeeded(execution: &Execution) {
    assert_eq!(execution.status, ExecutionStatus::Succeeded, "{:?} {:?}", execution.error, execution.cause);
}

/// The ImportWorkflow succeeded and its report says the pool is verified.
pub fn assert_verified(execution: &Execution) {
    assert_succeeded(execution);
    let output = execution.output.clone().unwrap_or_default();
    assert_eq!(output["verified"], true, "{output}");
}

/// Every user of a pool, by username (attributes, enabled flag, status).
pub async fn users_of(cloud: &LocalCloud, pool_id: &str) -> Result<BTreeMap<String, PoolUser>> {
    let mut users = BTreeMap::new();
    let mut token = None;
    loop {
        let out = cloud.cognito().list_users().user_pool_id(pool_id).set_pagination_token(token).send().await?;
        for u in out.users() {
            let user = PoolUser {
                username: u.username().unwrap_or_default().to_owned(),
                attributes: u
                    .attributes()
                    .iter()
                    .map(|a| (a.name().to_owned(), a.value().unwrap_or_default().to_owned()))
                    .collect(),
                enabled: u.enabled(),
                status: u.user_status().map(|s| s.as_str()).unwrap_or_default().into(),
                ..Default::default()
            };
            users.insert(user.username.clone(), user);
        }
        match out.pagination_token() {
            Some(t) => token = Some(t.to_owned()),
            None => return Ok(users),
        }
    }
}

/// What a pool holds: the subs of its users, its group names, its (group, sub) memberships.
#[derive(Debug, PartialEq, Eq)]
pub struct PoolState {
    pub subs: BTreeSet<String>,
    pub groups: BTreeSet<String>,
    pub memberships: BTreeSet<(String, String)>,
}

/// The scenario's pool now, read through Cognito.
pub async fn pool_state(s: &Scenario) -> Result<PoolState> {
    pool_state_of(&s.cloud, &s.pool_id).await
}

/// A pool's subs, groups (every page) and memberships, read through Cognito.
pub async fn pool_state_of(cloud: &LocalCloud, pool_id: &str) -> Result<PoolState> {
    let cognito = cloud.cognito();
    let subs: BTreeSet<String> =
        users_of(cloud, pool_id).await?.values().filter_map(|u| u.sub().map(str::to_owned)).collect();
    let (mut groups, mut memberships, mut token) = (BTreeSet::new(), BTreeSet::new(), None);
    loop {
        let listed = cognito.list_groups().user_pool_id(pool_id).limit(60).set_next_token(token).send().await?;
        for g in listed.groups() {
            let name = g.group_name().unwrap_or_default();
            groups.insert(name.to_owned());
            let mut member_token = None;
            loop {
                let out = cognito
                    .list_users_in_group()
                    .user_pool_id(pool_id)
                    .group_name(name)
                    .limit(60)
                    .set_next_token(member_token)
                    .send()
                    .await?;
                for u in out.users() {
                    if let Some(sub) = u.attributes().iter().find(|a| a.name() == "sub").and_then(|a| a.value()) {
                        memberships.insert((name.to_owned(), sub.to_owned()));
                    }
                }
                match out.next_token() {
                    Some(t) => member_token = Some(t.to_owned()),
                    None => break,
                }
            }
        }
        match listed.next_token() {
            Some(t) => token = Some(t.to_owned()),
            None => break,
        }
    }
    Ok(PoolState { subs, groups, memberships })
}

/// The backup holds exactly the pool's users, groups and memberships: none lost, none duplicated, none extra.
pub async fn assert_backup_is_the_pool(s: &Scenario) -> Result<()> {
    let items = s.items().await?;
    let users: Vec<&str> = items.iter().filter_map(BackupItem::as_user).map(|u| u.sub.as_str()).collect();
    let unique: BTreeSet<String> = users.iter().map(|s| s.to_string()).collect();
    assert_eq!(users.len(), unique.len(), "no user twice");
    let memberships: BTreeSet<(String, String)> =
        items.iter().filter_map(BackupItem::as_membership).map(|m| (m.group_name.clone(), m.sub.clone())).collect();
    let groups: BTreeSet<String> =
        items.iter().filter_map(BackupItem::as_group).map(|g| g.group_name.clone()).collect();
    let pool = pool_state(s).await?;
    let lost: Vec<_> = pool.subs.difference(&unique).collect();
    assert!(lost.is_empty(), "{} users of the pool are not in the backup: {lost:?}", lost.len());
    assert_eq!(unique, pool.subs, "the backup's users are the pool's");
    assert_eq!(groups, pool.groups, "the backup's groups are the pool's");
    assert_eq!(memberships, pool.memberships, "the backup's memberships are the pool's");
    Ok(())
}
