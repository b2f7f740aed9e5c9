//! What the suites assert after every fault: no user lost, none duplicated, memberships exact.

use std::collections::BTreeSet;

use backup_domain::schema::BackupItem;

use crate::Result;
use crate::scenario::Scenario;

/// What a pool holds: the subs of its users, its group names, its (group, sub) memberships.
#[derive(Debug, PartialEq, Eq)]
pub struct PoolState {
    pub subs: BTreeSet<String>,
    pub groups: BTreeSet<String>,
    pub memberships: BTreeSet<(String, String)>,
}

/// The pool's state now, read through Cognito.
pub async fn pool_state(s: &Scenario) -> Result<PoolState> {
    let cognito = s.cloud.cognito();
    let mut subs = BTreeSet::new();
    let mut token = None;
    loop {
        let out = cognito.list_users().user_pool_id(&s.pool_id).set_pagination_token(token).send().await?;
        for u in out.users() {
            if let Some(sub) = u.attributes().iter().find(|a| a.name() == "sub").and_then(|a| a.value()) {
                subs.insert(sub.to_owned());
            }
        }
        match out.pagination_token() {
            Some(t) => token = Some(t.to_owned()),
            None => break,
        }
    }
    let mut memberships = BTreeSet::new();
    let mut groups = BTreeSet::new();
    let listed = cognito.list_groups().user_pool_id(&s.pool_id).limit(60).send().await?;
    assert!(listed.next_token().is_none(), "pool_state reads one page of groups");
    for g in listed.groups() {
        let name = g.group_name().unwrap_or_default();
        groups.insert(name.to_owned());
        let mut token = None;
        loop {
            let out = cognito
                .list_users_in_group()
                .user_pool_id(&s.pool_id)
                .group_name(name)
                .limit(60)
                .set_next_token(token)
                .send()
                .await?;
            for u in out.users() {
                if let Some(sub) = u.attributes().iter().find(|a| a.name() == "sub").and_then(|a| a.value()) {
                    memberships.insert((name.to_owned(), sub.to_owned()));
                }
            }
            match out.next_token() {
                Some(t) => token = Some(t.to_owned()),
                None => break,
            }
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
