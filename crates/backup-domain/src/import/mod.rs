//! The ImportWorkflow: restores a backup into a user pool of the workflow's Region.
//!
//! Steps, each resumable: preflight (before any write) → plan (a dry run stops here) → groups → users
//! (CSV import jobs, AdminCreateUser for the rest) → user state (disabled flags, memberships) →
//! verification (old → new sub mapping, comparison with the backup) → report.

pub mod csv_dialect;
pub mod groups;
pub mod plan;
pub mod preflight;
pub mod report;
pub mod request;
pub mod restore_path;
pub mod user_state;
pub mod users;
pub mod verify;

use serde::{Deserialize, Serialize};

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

/// What every import step knows, produced by the preflight.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportRun {
    pub run_id: String,
    /// The execution's name, used in report keys.
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
    pub started_at: i64,
    pub target_was_empty: bool,
    pub incompatibilities: Vec<Incompatibility>,
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

#[cfg(test)]
mod tests {
    #[test]
    fn role_arns_move_to_the_given_account() {
        let arn = "arn:aws:iam::111111111111:role/path/admins";
        assert_eq!(super::rewrite_role_arn(arn, Some("222222222222")), "arn:aws:iam::222222222222:role/path/admins");
        assert_eq!(super::rewrite_role_arn(arn, None), arn);
    }
}

#[cfg(test)]
mod round_trip_tests;
