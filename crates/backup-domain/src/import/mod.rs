//! The ImportWorkflow: restores a backup into a user pool of the workflow's Region.
//!
//! Steps, each resumable: [`preflight`] (before any write: the target, the backup, the policy, the
//! configuration) → [`plan`] (every user's path, the work lists in the object store; a dry run stops
//! here) → [`pipeline`] (groups, CSV import jobs back to back, AdminCreateUser, disabling and
//! memberships, all at once, each at its own quota) → [`verify`] (from the backup: every restorable
//! user found, compared, mapped old sub → new sub) → [`report`].

pub mod csv_dialect;
pub mod failure_category;
pub mod pipeline;
pub mod plan;
pub mod preflight;
pub mod report;
pub mod request;
pub mod restore_path;
pub mod single_user;
pub mod verify;
pub mod work;

#[cfg(any(test, feature = "test-support"))]
pub mod driver;

use serde::{Deserialize, Serialize};

use crate::Clock;
use crate::lease::LeaseToken;
use crate::ports::{BackupStore, ObjectStore, RestoreLedger, RestoreTarget};
use crate::schema::UserItem;
pub use request::{ConflictPolicy, ImportRequest};
use restore_path::TargetProfile;

/// One thing in which the target pool differs from the backed-up one, and what it means.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Incompatibility {
    /// Blocking ones stop a restore unless started with `AllowIncompatible`.
    pub blocking: bool,
    pub setting: String,
    pub consequence: String,
}

/// What the backup holds, from its export marker (sizes the work of the later steps).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BackupSize {
    pub users: u64,
    pub groups: u64,
    pub memberships: u64,
}

/// What every import step knows, produced by the preflight.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportRun {
    pub run_id: String,
    /// The execution's name, used in object keys and job names.
    pub run_name: String,
    pub target: TargetProfile,
    pub policy: ConflictPolicy,
    pub dry_run: bool,
    /// Only compare the backup with the target pool.
    pub verify_only: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_arn_account_id: Option<String>,
    pub source_pool_id: String,
    pub backup_export_run_id: String,
    pub backup_export_timestamp: i64,
    /// The table restored from, when not the stack's backup table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup_table_name: Option<String>,
    pub backup_size: BackupSize,
    pub started_at: i64,
    pub target_was_empty: bool,
    pub incompatibilities: Vec<Incompatibility>,
    /// The restore lease on the target pool (absent for dry runs and verification).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease: Option<LeaseToken>,
}

impl ImportRun {
    /// Where the run keeps its work in the object store.
    pub fn object_prefix(&self) -> String {
        format!("restores/{}/{}/", self.target.pool_id, self.run_name)
    }

    /// Partitions of the user joins.
    pub fn partitions(&self) -> u32 {
        crate::partitions::partition_count(self.backup_size.users.max(self.backup_size.memberships / 4))
    }
}

/// The outside world of the import steps.
#[derive(Clone, Copy)]
pub struct ImportPorts<'a> {
    pub target: &'a dyn RestoreTarget,
    pub store: &'a dyn BackupStore,
    pub ledger: &'a dyn RestoreLedger,
    pub objects: &'a dyn ObjectStore,
    pub leases: &'a dyn crate::ports::LeaseStore,
    pub clock: &'a dyn Clock,
}

/// The name a backed-up user has in the target pool: its pseudo-username.
pub fn target_username(user: &UserItem) -> Option<&str> {
    user.pseudo_username.as_deref()
}

/// The ledger key of a user: its target username, or its old sub when it has none.
pub fn ledger_username(user: &UserItem) -> String {
    target_username(user).map(str::to_owned).unwrap_or_else(|| format!("sub:{}", user.sub))
}

/// A role ARN moved to another account (`arn:aws:iam::<account>:role/...`).
pub fn rewrite_role_arn(arn: &str, account: Option<&str>) -> String {
    match account {
        Some(account) => {
            let mut parts: Vec<&str> = arn.splitn(6, ':').collect();
            if parts.len() == 6 {
                parts[4] = account;
            }
            parts.join(":")
        }
        None => arn.to_owned(),
    }
}

/// Cognito accepts import job names matching `[\w\s+=,.@-]+`, at most 128 characters; execution names
/// allow other characters, so anything else becomes `-`.
pub fn import_job_name(run_name: &str, job: u32) -> String {
    let clean: String = run_name
        .chars()
        .map(|c| if c.is_alphanumeric() || c == '_' || " +=,.@-".contains(c) { c } else { '-' })
        .take(100)
        .collect();
    format!("restore-{clean}-{job}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn role_arns_move_to_the_given_account() {
        let arn = "arn:aws:iam::111111111111:role/path/admins";
        assert_eq!(super::rewrite_role_arn(arn, Some("222222222222")), "arn:aws:iam::222222222222:role/path/admins");
        assert_eq!(super::rewrite_role_arn(arn, None), arn);
    }

    #[test]
    fn job_names_match_cognitos_pattern_whatever_the_execution_is_called() {
        let name = super::import_job_name(&format!("run:{}/ü*{}", "x".repeat(200), '\u{1F600}'), 3);
        assert!(name.len() <= 128, "{}", name.len());
        assert!(name.chars().all(|c| c.is_alphanumeric() || c == '_' || " +=,.@-".contains(c)), "{name}");
    }
}

#[cfg(test)]
mod round_trip_tests;
