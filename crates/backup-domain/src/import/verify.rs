//! Verification: compares the target pool with the backup (users' attributes and enabled flag, groups'
//! fields, memberships) and writes the old sub → new sub mapping as it goes. Runs after a restore, or on
//! its own (`"VerifyOnly": true`).
//!
//! Not differences (documented and unavoidable): a new `sub`, no password, status RESET_REQUIRED or
//! FORCE_CHANGE_PASSWORD, users that cannot be restored (listed with their reason), attributes the target
//! cannot store when the restore was started with `AllowIncompatible`. Users kept as they were by
//! `skip-existing` are noted, not counted as differences.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::restore_path::{self, RestorePath};
use super::users::{PATH_ADMIN_CREATE, PATH_CSV, PATH_OVERWRITTEN, PATH_SKIPPED};
use super::{ImportRun, groups::target_group, target_username};
use crate::Deadline;
use crate::ports::{BackupStore, LedgerEntry, PoolUser, ReportSink, RestoreLedger, RestoreTarget};
use crate::pseudo_username;
use crate::schema::{BackupItem, ItemKey, UserItem};
use crate::step::{Listing, StepError, TableScan};

/// Differences listed in the report (all are counted).
pub const LISTED_DIFFERENCES: usize = 200;

#[derive(Debug, Deserialize)]
pub struct VerifyInput {
    pub run: ImportRun,
    #[serde(default)]
    pub verification: Option<Verification>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Phase {
    #[default]
    Users,
    Groups,
    Missing,
    Done,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Verification {
    pub done: bool,
    pub phase: Phase,
    pub target_users: Listing,
    pub scan: TableScan,
    pub ledger: Listing,
    pub users_verified: u64,
    pub users_kept_by_policy: u64,
    pub target_users_not_in_backup: u64,
    pub groups_verified: u64,
    pub memberships_verified: u64,
    pub users_missing: u64,
    pub mapping_parts: Vec<String>,
    pub differences_total: u64,
    pub differences: Vec<Difference>,
}

/// Something in the target that does not match the backup: the user's old sub or the group's name,
/// and what differs (attribute names, never values).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Difference {
    pub subject: String,
    pub what: String,
}

impl Verification {
    fn differ(&mut self, subject: impl Into<String>, what: impl Into<String>) {
        self.differences_total += 1;
        if self.differences.len() < LISTED_DIFFERENCES {
            self.differences.push(Difference { subject: subject.into(), what: what.into() });
        }
    }
}

pub struct Ports<'a> {
    pub target: &'a dyn RestoreTarget,
    pub store: &'a dyn BackupStore,
    pub ledger: &'a dyn RestoreLedger,
    pub reports: &'a dyn ReportSink,
}

pub async fn run(ports: Ports<'_>, input: VerifyInput, deadline: Deadline) -> Result<Verification, StepError> {
    let run = &input.run;
    let mut v = input.verification.unwrap_or_default();
    loop {
        match v.phase {
            Phase::Users => users_phase(&ports, run, &mut v, deadline).await?,
            Phase::Groups => groups_phase(&ports, run, &mut v, deadline).await?,
            Phase::Missing => missing_phase(&ports, run, &mut v, deadline).await?,
            Phase::Done => {
                v.done = true;
                break;
            }
        }
        if deadline.expired() {
            break;
        }
    }
    Ok(v)
}

fn pseudo_of(user: &PoolUser, run: &ImportRun) -> Option<String> {
    pseudo_username::derive(&user.username, &user.attributes, &run.target.username_attributes).ok()
}

async fn users_phase(p: &Ports<'_>, run: &ImportRun, v: &mut Verification, deadline: Deadline) -> Result<(), StepError> {
    let mut listing = v.target_users.clone();
    listing
        .follow(
            deadline,
            async |token| {
                p.target
                    .list_users(None, token.as_deref())
                    .await
                    .map_err(StepError::port(format!("listing the users of {}", run.target.pool_id)))
            },
            async |users| {
                let named: Vec<(String, PoolUser)> = users.into_iter().filter_map(|u| pseudo_of(&u, run).map(|n| (n, u))).collect();
                let names: Vec<String> = named.iter().map(|(n, _)| n.clone()).collect();
                let entries: BTreeMap<String, LedgerEntry> = p
                    .ledger
                    .by_usernames(&run.target.pool_id, &names)
                    .await
                    .map_err(StepError::port("reading the restore ledger"))?
                    .into_iter()
                    .map(|e| (e.username.clone(), e))
                    .collect();
                let keys: Vec<ItemKey> = entries.values().map(|e| ItemKey::user(&e.old_sub)).collect();
                let backup: BTreeMap<String, UserItem> = p
                    .store
                    .get_many(&keys)
                    .await
                    .map_err(StepError::port("reading user items from the backup"))?
                    .into_iter()
                    .filter_map(|i| if let BackupItem::User(u) = i { Some((u.sub.clone(), u)) } else { None })
                    .collect();
                let mut mapped = Vec::new();
                let mut csv = String::new();
                for (name, user) in &named {
                    let Some((entry, item)) = entries.get(name).and_then(|e| backup.get(&e.old_sub).map(|item| (e, item))) else {
                        v.target_users_not_in_backup += 1;
                        continue;
                    };
                    let differences = compare_user(item, user, run);
                    if differences.is_empty() {
                        v.users_verified += 1;
                    } else if entry.path == PATH_SKIPPED {
                        v.users_kept_by_policy += 1;
                    } else {
                        v.differ(&item.sub, differences.join("; "));
                    }
                    let new_sub = user.sub().unwrap_or_default().to_owned();
                    csv.push_str(&format!("{},{},{},{},{}\n", item.sub, new_sub, csv_field(&item.username), csv_field(&user.username), entry.path));
                    mapped.push(LedgerEntry { new_sub: Some(new_sub), ..entry.clone() });
                }
                p.ledger.record(&mapped).await.map_err(StepError::port("writing the sub mapping to the restore ledger"))?;
                if !csv.is_empty() {
                    let key = format!(
                        "restores/{}/{}/sub-mapping/part-{:05}.csv",
                        run.target.pool_id,
                        run.run_name,
                        v.mapping_parts.len() + 1
                    );
                    let body = format!("old_sub,new_sub,old_username,new_username,path\n{csv}");
                    let url = p.reports.put(&key, "text/csv", body.into_bytes()).await.map_err(StepError::port("writing the sub mapping CSV"))?;
                    v.mapping_parts.push(url);
                }
                Ok(())
            },
        )
        .await?;
    if listing.done {
        v.phase = Phase::Groups;
    }
    v.target_users = listing;
    Ok(())
}

/// RFC 4180 quoting for the mapping CSV (read by applications, not by Cognito).
fn csv_field(value: &str) -> String {
    if value.contains([',', '"', '\n', '\r']) { format!("\"{}\"", value.replace('"', "\"\"")) } else { value.to_owned() }
}

/// What differs between the backup's user and the target's, by attribute name.
pub fn compare_user(backup: &UserItem, target: &PoolUser, run: &ImportRun) -> Vec<String> {
    // An empty value and no value are the same to Cognito's CSV import, and carry the same information.
    let (mut expected, _) = restore_path::restorable_attributes(backup, &run.target);
    expected.retain(|_, v| !v.is_empty());
    let actual: BTreeMap<&String, &String> =
        target.attributes.iter().filter(|(k, v)| k.as_str() != "sub" && !v.is_empty()).collect();
    let mut names: BTreeSet<&String> = expected.keys().collect();
    names.extend(actual.keys().copied());
    let mut differences: Vec<String> = names
        .into_iter()
        .filter(|n| expected.get(*n) != actual.get(n).copied())
        // Cognito may add `*_verified` = false for attributes it did not verify; absent and false agree.
        .filter(|n| !(n.ends_with("_verified") && expected.get(*n).is_none_or(|v| v == "false") && actual.get(n).is_none_or(|v| *v == "false")))
        .map(|n| format!("attribute {n}"))
        .collect();
    if backup.enabled != target.enabled {
        differences.push(format!("enabled is {} in the target, {} in the backup", target.enabled, backup.enabled));
    }
    differences
}

async fn groups_phase(p: &Ports<'_>, run: &ImportRun, v: &mut Verification, deadline: Deadline) -> Result<(), StepError> {
    let mut scan = v.scan.clone();
    scan.follow(p.store, deadline, async |items| {
        for item in items {
            let BackupItem::Group(group) = item else { continue };
            let expected = target_group(&group, run);
            let actual = p
                .target
                .get_group(&group.group_name)
                .await
                .map_err(StepError::port(format!("reading group {} of {}", group.group_name, run.target.pool_id)))?;
            let Some(actual) = actual else {
                v.differ(&group.group_name, "group missing in the target pool");
                continue;
            };
            if (&actual.description, actual.precedence, &actual.role_arn) != (&expected.description, expected.precedence, &expected.role_arn) {
                v.differ(&group.group_name, "group description, precedence or role ARN differs");
            } else {
                v.groups_verified += 1;
            }
            members_of(p, run, v, &group.group_name).await?;
        }
        Ok(true)
    })
    .await?;
    if scan.done {
        v.phase = Phase::Missing;
    }
    v.scan = scan;
    Ok(())
}

async fn members_of(p: &Ports<'_>, run: &ImportRun, v: &mut Verification, group: &str) -> Result<(), StepError> {
    let partition = p
        .store
        .partition(&ItemKey::group(group).pk)
        .await
        .map_err(StepError::port(format!("reading the memberships of group {group} from the backup")))?;
    let subs: Vec<ItemKey> = partition
        .iter()
        .filter_map(|i| if let BackupItem::Membership(m) = i { Some(ItemKey::user(&m.sub)) } else { None })
        .collect();
    let expected: BTreeMap<String, String> = p
        .store
        .get_many(&subs)
        .await
        .map_err(StepError::port("reading the members' user items"))?
        .into_iter()
        .filter_map(|i| if let BackupItem::User(u) = i { Some(u) } else { None })
        .filter(|u| !matches!(restore_path::decide(u, &run.target), RestorePath::NotRestorable(_)))
        .filter_map(|u| target_username(&u).map(|n| (n.to_owned(), u.sub.clone())))
        .collect();
    let mut actual = BTreeSet::new();
    let mut token = None;
    loop {
        let page = p
            .target
            .list_users_in_group(group, token.as_deref())
            .await
            .map_err(StepError::port(format!("listing the members of group {group} in {}", run.target.pool_id)))?;
        actual.extend(page.items.iter().filter_map(|u| pseudo_of(u, run)));
        match page.next {
            Some(next) => token = Some(next),
            None => break,
        }
    }
    for (name, sub) in &expected {
        if actual.contains(name) {
            v.memberships_verified += 1;
        } else {
            v.differ(sub.clone(), format!("member of group {group} in the backup, not in the target"));
        }
    }
    let unexpected = actual.iter().filter(|n| !expected.contains_key(*n)).count();
    if unexpected > 0 && run.target_was_empty {
        v.differ(group, format!("{unexpected} members in the target that the backup does not have"));
    }
    Ok(())
}

async fn missing_phase(p: &Ports<'_>, run: &ImportRun, v: &mut Verification, deadline: Deadline) -> Result<(), StepError> {
    let mut listing = v.ledger.clone();
    listing
        .follow(
            deadline,
            async |token| p.ledger.entries(&run.target.pool_id, token).await.map_err(StepError::port("reading the restore ledger")),
            async |entries| {
                for e in entries {
                    let restored = [PATH_CSV, PATH_ADMIN_CREATE, PATH_OVERWRITTEN, PATH_SKIPPED].contains(&e.path.as_str());
                    if restored && e.new_sub.is_none() {
                        v.users_missing += 1;
                        let why = e.failure.clone().unwrap_or_else(|| "not found in the target pool".into());
                        v.differ(e.old_sub.clone(), format!("not restored ({}): {why}", e.path));
                    }
                }
                Ok(())
            },
        )
        .await?;
    if listing.done {
        v.phase = Phase::Done;
    }
    v.ledger = listing;
    Ok(())
}
