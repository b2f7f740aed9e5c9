//! Phase 4: every group's fields and members, several groups at a time (each group's calls are
//! sequential; the rate budget paces them all).

use std::collections::{BTreeMap, BTreeSet};

use futures::future::try_join_all;

use super::{Difference, LISTED_DIFFERENCES, Phase, Verification, groups_prefix};
use crate::Deadline;
use crate::import::{ImportPorts, ImportRun, target_username};
use crate::partitions::read_partition;
use crate::ports::UserPool;
use crate::schema::{BackupItem, GroupItem, ItemKey};
use crate::step::StepError;

pub(super) async fn run(
    ports: ImportPorts<'_>,
    run: &ImportRun,
    v: &mut Verification,
    concurrency: usize,
    deadline: Deadline,
) -> Result<(), StepError> {
    // The backup scan's objects; a retried scan invocation may have written a group twice.
    let groups: BTreeMap<String, GroupItem> = read_partition::<GroupItem>(ports.objects, &groups_prefix(run), 0)
        .await?
        .into_iter()
        .map(|g| (g.group_name.clone(), g))
        .collect();
    let pending: Vec<&GroupItem> = groups.values().skip(v.groups_checked as usize).collect();
    for chunk in pending.chunks(concurrency.max(1)) {
        let checks = try_join_all(chunk.iter().map(|group| check_group(ports, run, group))).await?;
        for check in checks {
            check.add_to(v);
        }
        v.groups_checked += chunk.len() as u64;
        if deadline.expired() {
            break;
        }
    }
    if v.groups_checked >= groups.len() as u64 {
        v.phase = Phase::Done;
    }
    Ok(())
}

/// What checking one group found, added to the verification once every group of a round is checked.
#[derive(Default)]
struct GroupCheck {
    verified: bool,
    memberships_verified: u64,
    memberships_missing: u64,
    memberships_unexpected: u64,
    differences_total: u64,
    differences: Vec<Difference>,
}

impl GroupCheck {
    fn differ(&mut self, subject: impl Into<String>, what: impl Into<String>) {
        self.differences_total += 1;
        if self.differences.len() < LISTED_DIFFERENCES {
            self.differences.push(Difference { subject: subject.into(), what: what.into() });
        }
    }

    fn add_to(self, v: &mut Verification) {
        v.groups_verified += u64::from(self.verified);
        v.memberships_verified += self.memberships_verified;
        v.memberships_missing += self.memberships_missing;
        v.memberships_unexpected += self.memberships_unexpected;
        v.differences_total += self.differences_total;
        let room = LISTED_DIFFERENCES.saturating_sub(v.differences.len());
        v.differences.extend(self.differences.into_iter().take(room));
    }
}

async fn check_group(ports: ImportPorts<'_>, run: &ImportRun, group: &GroupItem) -> Result<GroupCheck, StepError> {
    let mut v = GroupCheck::default();
    let name = &group.group_name;
    let expected = crate::import::pipeline::target_group(group, run);
    let actual = ports
        .target
        .get_group(name)
        .await
        .map_err(StepError::port(format!("reading group {name} of {}", run.target.pool_id)))?;
    let Some(actual) = actual else {
        v.differ(name, "group missing in the target pool");
        return Ok(v);
    };
    if (&actual.description, actual.precedence, &actual.role_arn)
        != (&expected.description, expected.precedence, &expected.role_arn)
    {
        v.differ(name, "group description, precedence or role ARN differs");
    } else {
        v.verified = true;
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
    Ok(v)
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
