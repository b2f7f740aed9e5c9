//! Verification, from the backup: every restorable backed-up user must be found in the target pool and
//! match; every group and membership too. Runs after a restore, or on its own (`"VerifyOnly": true`) on
//! any pool, with or without a restore ledger.
//!
//! 1. **Backup**: the backup's restorable users, by the name they must have in the target, into
//!    partitions (the values of their attributes as hashes: no personal data is copied).
//! 2. **Target**: the target's users, listed at the rate budget, into the same partitions.
//! 3. **Join**, partition by partition, in memory: found and equal, found and different (by attribute
//!    name, never value), missing (explained by the ledger when the restore recorded why), or in the
//!    target only. The old sub → new sub mapping is written as it goes ([`sub_mapping`]).
//! 4. **Groups**: each group's fields and members, from the group items the backup scan kept, several
//!    groups at a time.
//!
//! The counts reconcile: restorable users in the backup = verified + kept by policy + explained + missing.
//! Not differences (documented): a new `sub`, no password, RESET_REQUIRED or FORCE_CHANGE_PASSWORD, an
//! empty value restored as no value.

mod backup_side;
mod groups;
mod join;
pub mod sub_mapping;
mod target_side;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::restore_path;
use super::{ImportPorts, ImportRun};
use crate::Deadline;
use crate::listing::SegmentedListing;
use crate::ports::PoolUser;
use crate::schema::UserItem;
use crate::step::{StepError, TableScan};

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
    Backup,
    Target,
    Join,
    Groups,
    Done,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Verification {
    pub done: bool,
    pub phase: Phase,
    pub backup_scan: TableScan,
    pub target_listing: SegmentedListing,
    pub next_partition: u32,
    /// Group items the backup scan met (phase 4 must find them all again).
    pub backup_groups: u64,
    /// Groups checked so far, in name order (phase 4).
    pub groups_checked: u64,
    /// Restorable users in the backup.
    pub restorable_users: u64,
    /// Backed-up users that cannot be restored (federated, nameless; listed by the plan).
    pub not_restorable_users: u64,
    pub users_verified: u64,
    /// Different, but left as they were by `skip-existing`.
    pub users_kept_by_policy: u64,
    /// Missing, with the reason the restore recorded (a rejected row AdminCreateUser could not create).
    pub users_explained: u64,
    pub users_missing: u64,
    pub users_differing: u64,
    /// Users in the target the backup does not have.
    pub target_users_not_in_backup: u64,
    pub groups_verified: u64,
    pub memberships_verified: u64,
    pub memberships_missing: u64,
    pub memberships_unexpected: u64,
    pub mapping_parts: u32,
    pub differences_total: u64,
    pub differences: Vec<Difference>,
    pub invocations: u32,
}

impl Verification {
    fn differ(&mut self, subject: impl Into<String>, what: impl Into<String>) {
        note_difference(&mut self.differences_total, &mut self.differences, subject, what);
    }

    /// Restorable users = verified + kept + explained + missing + differing: nothing unaccounted for.
    pub fn reconciles(&self) -> bool {
        self.restorable_users
            == self.users_verified
                + self.users_kept_by_policy
                + self.users_explained
                + self.users_missing
                + self.users_differing
    }

    /// The target matches the backup beyond the documented differences.
    pub fn verified(&self) -> bool {
        self.differences_total == 0 && self.users_explained == 0 && self.reconciles()
    }
}

/// Counts a difference, and lists it while the report has room (all are counted).
fn note_difference(total: &mut u64, listed: &mut Vec<Difference>, subject: impl Into<String>, what: impl Into<String>) {
    *total += 1;
    if listed.len() < LISTED_DIFFERENCES {
        listed.push(Difference { subject: subject.into(), what: what.into() });
    }
}

/// Something in the target that does not match the backup: the user's old sub or the group's name,
/// and what differs (attribute names, never values).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Difference {
    pub subject: String,
    pub what: String,
}

pub async fn run(
    ports: ImportPorts<'_>,
    input: VerifyInput,
    concurrency: usize,
    deadline: Deadline,
) -> Result<Verification, StepError> {
    let run = &input.run;
    let mut v = input.verification.unwrap_or_default();
    v.invocations += 1;
    let mut first = true;
    while v.phase != Phase::Done && (first || !deadline.expired()) {
        first = false;
        let (phase, started) = (v.phase, ports.clock.now_ms());
        match v.phase {
            Phase::Backup => backup_side::run(ports, run, &mut v, deadline).await?,
            Phase::Target => target_side::run(ports, run, &mut v, concurrency, deadline).await?,
            Phase::Join => join::run(ports, run, &mut v, deadline).await?,
            Phase::Groups => groups::run(ports, run, &mut v, concurrency, deadline).await?,
            Phase::Done => {}
        }
        // Where a long verification spends its time, phase by phase (counts only, no personal data).
        tracing::info!(?phase, next = ?v.phase, elapsed_ms = ports.clock.now_ms().saturating_sub(started), "verification step");
    }
    v.done = v.phase == Phase::Done;
    tracing::info!(phase = ?v.phase, verified = v.users_verified, missing = v.users_missing, differences = v.differences_total, "verification");
    Ok(v)
}

/// A value, hashed: the joins compare values without copying them.
pub(crate) fn value_hash(value: &str) -> u64 {
    xxhash_rust::xxh3::xxh3_64(value.as_bytes())
}

/// What the target should hold for a user, or holds: attribute values as hashes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UserRecord {
    /// `b` from the backup, `t` from the target.
    pub side: char,
    /// The name in the target pool (pseudo-username).
    pub name: String,
    /// The old sub (backup) or the new one (target).
    pub sub: String,
    /// Cognito's username (old in the backup, new in the target).
    pub username: String,
    pub attributes: BTreeMap<String, u64>,
    pub enabled: bool,
}

impl UserRecord {
    /// The backup side of a restorable user; `None` when it cannot be restored.
    pub fn expected(user: &UserItem, run: &ImportRun) -> Option<Self> {
        if matches!(restore_path::decide(user, &run.target), restore_path::RestorePath::NotRestorable(_)) {
            return None;
        }
        // An empty value and no value are the same to Cognito's CSV import, and carry the same information.
        let (attributes, _) = restore_path::restorable_attributes(user, &run.target);
        Some(Self {
            side: 'b',
            name: super::target_username(user)?.to_owned(),
            sub: user.sub.clone(),
            username: user.username.clone(),
            attributes: attributes
                .iter()
                .filter(|(_, v)| !v.is_empty())
                .map(|(k, v)| (k.clone(), value_hash(v)))
                .collect(),
            enabled: user.enabled,
        })
    }

    /// The target side of a listed user.
    pub fn actual(user: &PoolUser, run: &ImportRun) -> Option<Self> {
        let name =
            crate::pseudo_username::derive(&user.username, &user.attributes, &run.target.username_attributes).ok()?;
        Some(Self {
            side: 't',
            name,
            sub: user.sub().unwrap_or_default().to_owned(),
            username: user.username.clone(),
            attributes: user
                .attributes
                .iter()
                .filter(|(k, v)| k.as_str() != "sub" && !v.is_empty())
                .map(|(k, v)| (k.clone(), value_hash(v)))
                .collect(),
            enabled: user.enabled,
        })
    }

    /// The names of what differs between the expected user and the actual one.
    pub fn differences(&self, actual: &UserRecord) -> Vec<String> {
        let false_hash = value_hash("false");
        let mut names: Vec<&String> = self.attributes.keys().chain(actual.attributes.keys()).collect();
        names.sort();
        names.dedup();
        let mut out: Vec<String> = names
            .into_iter()
            .filter(|n| self.attributes.get(*n) != actual.attributes.get(*n))
            // Cognito may add `*_verified` = false for attributes it did not verify; absent and false agree.
            .filter(|n| {
                !(n.ends_with("_verified")
                    && self.attributes.get(*n).is_none_or(|v| *v == false_hash)
                    && actual.attributes.get(*n).is_none_or(|v| *v == false_hash))
            })
            .map(|n| format!("attribute {n}"))
            .collect();
        if self.enabled != actual.enabled {
            out.push(format!("enabled is {} in the target, {} in the backup", actual.enabled, self.enabled));
        }
        out
    }
}

fn partitions_prefix(run: &ImportRun) -> String {
    format!("{}verify/", run.object_prefix())
}

/// The backup's group items, as the backup scan met them.
fn groups_prefix(run: &ImportRun) -> String {
    format!("{}verify-groups/", run.object_prefix())
}
