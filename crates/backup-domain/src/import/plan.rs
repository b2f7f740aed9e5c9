//! The plan: how many users go by which path, groups, memberships, what would be lost, and how long the
//! restore should take at the configured share of Cognito's quotas. A dry run stops here.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::ImportRun;
use super::restore_path::{self, RestorePath};
use crate::Deadline;
use crate::ports::BackupStore;
use crate::rate_budget::QuotaCategory;
use crate::schema::BackupItem;
use crate::step::{StepError, TableScan};

/// Users listed by sub in the plan and the report (the counts are always complete).
pub const LISTED: usize = 100;
/// Import jobs' speed is not documented; the original solution's published recoveries (500,000 users in
/// about 248 minutes, all overheads included) bound it from below at about 34 users/s.
pub const ASSUMED_IMPORT_JOB_USERS_PER_SECOND: f64 = 34.0;

#[derive(Debug, Deserialize)]
pub struct PlanInput {
    pub run: ImportRun,
    #[serde(default)]
    pub plan: Option<Plan>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    pub done: bool,
    pub scan: TableScan,
    pub users_by_csv_import: u64,
    pub users_by_admin_create_user: u64,
    pub users_not_restorable: u64,
    pub disabled_users: u64,
    pub groups: u64,
    pub memberships: u64,
    /// Why users take AdminCreateUser or cannot be restored, with how many.
    pub reasons: BTreeMap<String, u64>,
    /// Attributes the target cannot store, with how many users lose a value.
    pub dropped_attributes: BTreeMap<String, u64>,
    pub not_restorable: Vec<UserNote>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimated_seconds: Option<f64>,
}

/// A user named by its sub only, with what happens to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserNote {
    pub sub: String,
    pub reason: String,
}

pub async fn run(store: &dyn BackupStore, input: PlanInput, quota_share: f64, deadline: Deadline) -> Result<Plan, StepError> {
    let run = &input.run;
    let mut plan = input.plan.unwrap_or_default();
    let mut scan = plan.scan.clone();
    scan.follow(store, deadline, async |items| {
        for item in items {
            match item {
                BackupItem::User(user) => {
                    plan.disabled_users += u64::from(!user.enabled);
                    let path = restore_path::decide(&user, &run.target);
                    if !matches!(path, RestorePath::NotRestorable(_)) {
                        for name in restore_path::restorable_attributes(&user, &run.target).1 {
                            *plan.dropped_attributes.entry(name).or_default() += 1;
                        }
                    }
                    match path {
                        RestorePath::CsvImport => plan.users_by_csv_import += 1,
                        RestorePath::AdminCreateUser(reason) => {
                            plan.users_by_admin_create_user += 1;
                            *plan.reasons.entry(reason).or_default() += 1;
                        }
                        RestorePath::NotRestorable(reason) => {
                            plan.users_not_restorable += 1;
                            *plan.reasons.entry(reason.clone()).or_default() += 1;
                            if plan.not_restorable.len() < LISTED {
                                plan.not_restorable.push(UserNote { sub: user.sub.clone(), reason });
                            }
                        }
                    }
                }
                BackupItem::Group(_) => plan.groups += 1,
                BackupItem::Membership(_) => plan.memberships += 1,
                _ => {}
            }
        }
        Ok(true)
    })
    .await?;
    plan.scan = scan;
    plan.done = plan.scan.done;
    if plan.done {
        plan.estimated_seconds = Some(estimate(&plan, quota_share));
    }
    Ok(plan)
}

/// Seconds the restore should take when each Cognito quota category runs at `share` of its quota.
pub fn estimate(plan: &Plan, share: f64) -> f64 {
    let at = |n: u64, category: QuotaCategory| n as f64 / (category.default_rps() * share);
    let users = plan.users_by_csv_import + plan.users_by_admin_create_user;
    at(plan.groups, QuotaCategory::UserPoolResourceUpdate)
        + plan.users_by_csv_import as f64 / ASSUMED_IMPORT_JOB_USERS_PER_SECOND
        + at(plan.users_by_admin_create_user, QuotaCategory::UserCreation)
        + at(plan.disabled_users, QuotaCategory::UserUpdate)
        + at(plan.memberships, QuotaCategory::UserResourceUpdate)
        // Verification lists the target's users and every group's members, 60 per call.
        + at(users.div_ceil(60) + plan.memberships.div_ceil(60) + plan.groups, QuotaCategory::UserList)
}
