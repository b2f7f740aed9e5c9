//! Phase 4: every group's fields and members, several groups at a time (each group's calls are
//! sequential; the rate budget paces them all).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use futures::future::try_join_all;
use serde::{Deserialize, Serialize};

use super::{Difference, LISTED_DIFFERENCES, Phase, Verification, groups_prefix, note_difference};
use crate::Deadline;
use crate::import::{ImportPorts, ImportRun, target_username};
use crate::partitions::read_partition;
use crate::ports::UserPool;
use crate::schema::{BackupItem, GroupItem, ItemKey};
use crate::step::StepError;

/// Members of the groups of one round, together: each group checked holds its members' names (and their
/// user items while it reads them) in memory. A larger group is checked alone.
pub(super) const MEMBERS_PER_ROUND: u64 = 10_000;

/// What the backup scan keeps for this phase: each group item, and how many memberships of a group one
/// scan invocation met (these only size the rounds: a count repeated by a retry makes rounds smaller).
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) enum KeptGroup {
    Group(GroupItem),
    Members { group: String, count: u64 },
}

pub(super) async fn run(
    ports: ImportPorts<'_>,
    run: &ImportRun,
    v: &mut Verification,
    concurrency: usize,
    deadline: Deadline,
) -> Result<(), StepError> {
    // A retried scan invocation may have written a group twice: by name, once.
    let mut groups: BTreeMap<String, GroupItem> = BTreeMap::new();
    let mut sizes: HashMap<String, u64> = HashMap::new();
    for kept in read_partition::<KeptGroup>(ports.objects, &groups_prefix(run), 0).await? {
        match kept {
            KeptGroup::Group(g) => {
                groups.insert(g.group_name.clone(), g);
            }
            KeptGroup::Members { group, count } => *sizes.entry(group).or_default() += count,
        }
    }
    if groups.len() as u64 != v.backup_groups {
        return Err(StepError::Refused {
            name: "VerificationFailed",
            message: format!(
                "verification kept the backup's {} group items under {} and finds {} there now (removed by the \
                 bucket's lifecycle rule?); start the ImportWorkflow again with \"VerifyOnly\": true",
                v.backup_groups,
                groups_prefix(run),
                groups.len()
            ),
        });
    }
    let pending: Vec<&GroupItem> = groups.values().skip(v.groups_checked as usize).collect();
    let mut rest = pending.as_slice();
    while !rest.is_empty() {
        let (round, later) = rest.split_at(round_len(rest, &sizes, concurrency));
        let checks = try_join_all(round.iter().map(|group| check_group(ports, run, group))).await?;
        for check in checks {
            check.add_to(v);
        }
        v.groups_checked += round.len() as u64;
        rest = later;
        if deadline.expired() {
            break;
        }
    }
    if v.groups_checked >= groups.len() as u64 {
        v.phase = Phase::Done;
    }
    Ok(())
}

/// How many of `groups` the next round checks side by side: up to `concurrency`, and up to
/// [`MEMBERS_PER_ROUND`] members together unless the first group alone has more.
fn round_len(groups: &[&GroupItem], sizes: &HashMap<String, u64>, concurrency: usize) -> usize {
    let (mut n, mut members) = (0, 0);
    for group in groups.iter().take(concurrency.max(1)) {
        let size = sizes.get(&group.group_name).copied().unwrap_or(0);
        if n > 0 && members + size > MEMBERS_PER_ROUND {
            break;
        }
        n += 1;
        members += size;
    }
    n
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
        note_difference(&mut self.differences_total, &mut self.differences, subject, what);
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
    let expected_members = expected_members(ports, run, name).await?;
    let expected = crate::import::pipeline::target_group(group, run);
    let actual = ports
        .target
        .get_group(name)
        .await
        .map_err(StepError::port(format!("reading group {name} of {}", run.target.pool_id)))?;
    let Some(actual) = actual else {
        // Every membership of the group is missing with it: counted, and named once, by the group.
        v.memberships_missing += expected_members.len() as u64;
        v.differ(name, format!("group missing in the target pool, with its {} members", expected_members.len()));
        return Ok(v);
    };
    if (&actual.description, actual.precedence, &actual.role_arn)
        != (&expected.description, expected.precedence, &expected.role_arn)
    {
        v.differ(name, "group description, precedence or role ARN differs");
    } else {
        v.verified = true;
    }

    let actual = members(ports.target, run, name).await?;
    for (member, sub) in &expected_members {
        if actual.contains(member) {
            v.memberships_verified += 1;
        } else {
            v.memberships_missing += 1;
            v.differ(sub.clone(), format!("member of group {name} in the backup, not in the target"));
        }
    }
    let unexpected = actual.iter().filter(|n| !expected_members.contains_key(*n)).count() as u64;
    v.memberships_unexpected += unexpected;
    if unexpected > 0 && run.target_was_empty && !run.verify_only {
        v.differ(name, format!("{unexpected} members in the target that the backup does not have"));
    }
    Ok(v)
}

/// The backup's members of the group that can be restored: their name in the target, and their old sub.
async fn expected_members(
    ports: ImportPorts<'_>,
    run: &ImportRun,
    name: &str,
) -> Result<BTreeMap<String, String>, StepError> {
    let subs: Vec<ItemKey> = ports
        .store
        .partition(&ItemKey::group(name).pk)
        .await
        .map_err(StepError::port(format!("reading the memberships of group {name} from the backup")))?
        .iter()
        .filter_map(BackupItem::as_membership)
        .map(|m| ItemKey::user(&m.sub))
        .collect();
    Ok(ports
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
        .collect())
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

#[cfg(test)]
mod tests {
    use super::*;

    fn group(name: &str) -> GroupItem {
        serde_json::from_value(serde_json::json!({
            "groupName": name, "lastConfirmedAt": 1, "exportRunId": "run", "schemaVersion": 1
        }))
        .expect("a group item")
    }

    #[test]
    fn a_round_takes_groups_up_to_the_concurrency_and_the_members_it_may_hold() {
        let names = ["a", "b", "c", "d", "e"];
        let items: Vec<GroupItem> = names.iter().map(|n| group(n)).collect();
        let groups: Vec<&GroupItem> = items.iter().collect();
        let sizes = |s: [u64; 5]| names.iter().map(|n| n.to_string()).zip(s).collect::<HashMap<_, _>>();
        assert_eq!(round_len(&groups, &sizes([10; 5]), 3), 3);
        assert_eq!(round_len(&groups, &sizes([10; 5]), 0), 1);
        assert_eq!(round_len(&groups, &sizes([4_000, 4_000, 4_000, 1, 1]), 16), 2);
        // A group larger than a round is checked alone, and so is the next one if it does not fit beside it.
        assert_eq!(round_len(&groups, &sizes([50_000, 1, 1, 1, 1]), 16), 1);
        assert_eq!(round_len(&groups[1..], &sizes([0, 1, 10_000, 1, 1]), 16), 1);
        // Sizes unknown (a backup scan that kept none): the concurrency alone decides.
        assert_eq!(round_len(&groups, &HashMap::new(), 4), 4);
    }
}
