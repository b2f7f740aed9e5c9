//! Phase 4: every group's fields and members.

use std::collections::{BTreeMap, BTreeSet};

use super::{Phase, Verification};
use crate::Deadline;
use crate::import::{ImportPorts, ImportRun, target_username};
use crate::ports::UserPool;
use crate::schema::{BackupItem, GroupItem, ItemKey};
use crate::step::StepError;

pub(super) async fn run(
    ports: ImportPorts<'_>,
    run: &ImportRun,
    v: &mut Verification,
    deadline: Deadline,
) -> Result<(), StepError> {
    let mut scan = v.groups_scan.clone();
    scan.follow(ports.store, deadline, async |items| {
        for group in items.iter().filter_map(BackupItem::as_group) {
            verify_group(ports, run, v, group).await?;
        }
        Ok(true)
    })
    .await?;
    v.groups_scan = scan;
    if v.groups_scan.done {
        v.phase = Phase::Done;
    }
    Ok(())
}

async fn verify_group(
    ports: ImportPorts<'_>,
    run: &ImportRun,
    v: &mut Verification,
    group: &GroupItem,
) -> Result<(), StepError> {
    let name = &group.group_name;
    let expected = crate::import::pipeline::target_group(group, run);
    let actual = ports
        .target
        .get_group(name)
        .await
        .map_err(StepError::port(format!("reading group {name} of {}", run.target.pool_id)))?;
    let Some(actual) = actual else {
        v.differ(name, "group missing in the target pool");
        return Ok(());
    };
    if (&actual.description, actual.precedence, &actual.role_arn)
        != (&expected.description, expected.precedence, &expected.role_arn)
    {
        v.differ(name, "group description, precedence or role ARN differs");
    } else {
        v.groups_verified += 1;
    }

    // The backup's members of the group that can be restored, by their name in the target.
    let subs: Vec<ItemKey> = ports
        .store
        .partition(&ItemKey::group(name).pk)
        .await
        .map_err(StepError::port(format!("reading the memberships of group {name} from the backup")))?
        .iter()
        .filter_map(BackupItem::as_membership)
        .map(|m| ItemKey::user(&m.sub))
        .collect();
    let expected: BTreeMap<String, String> = ports
        .store
        .get_many(&subs)
        .await
        .map_err(StepError::port("reading the members' user items"))?
        .into_iter()
        .filter_map(BackupItem::into_user)
        .filter(|u| {
            !matches!(
                crate::import::restore_path::decide(u, &run.target),
                crate::import::restore_path::RestorePath::NotRestorable(_)
            )
        })
        .filter_map(|u| target_username(&u).map(|n| (n.to_owned(), u.sub.clone())))
        .collect();
    let actual = members(ports.target, run, name).await?;
    for (member, sub) in &expected {
        if actual.contains(member) {
            v.memberships_verified += 1;
        } else {
            v.memberships_missing += 1;
            v.differ(sub.clone(), format!("member of group {name} in the backup, not in the target"));
        }
    }
    let unexpected = actual.iter().filter(|n| !expected.contains_key(*n)).count() as u64;
    v.memberships_unexpected += unexpected;
    if unexpected > 0 && run.target_was_empty && !run.verify_only {
        v.differ(name, format!("{unexpected} members in the target that the backup does not have"));
    }
    Ok(())
}

/// The names (pseudo-usernames) of a target group's members.
async fn members(target: &dyn UserPool, run: &ImportRun, group: &str) -> Result<BTreeSet<String>, StepError> {
    let mut names = BTreeSet::new();
    let mut token = None;
    loop {
        let page = target
            .list_users_in_group(group, token.as_deref())
            .await
            .map_err(StepError::port(format!("listing the members of group {group} in {}", run.target.pool_id)))?;
        names.extend(page.items.iter().filter_map(|u| {
            crate::pseudo_username::derive(&u.username, &u.attributes, &run.target.username_attributes).ok()
        }));
        match page.next {
            Some(next) => token = Some(next),
            None => return Ok(names),
        }
    }
}
