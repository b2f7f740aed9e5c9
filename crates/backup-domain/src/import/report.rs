//! The restore report: which path users took, what could not be restored and why, what verification
//! found. Written to the object store and announced on the topic; the execution fails if verification
//! found anything beyond the documented differences. Subs, attribute names and categories only.

use serde::{Deserialize, Serialize};

use super::ImportRun;
use super::pipeline::Pipeline;
use super::plan::Plan;
use super::verify::Verification;
use crate::lease;
use crate::ports::{LeaseStore, Notifier, ObjectStore};
use crate::settings::NotificationPreference;
use crate::step::StepError;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportInput {
    pub run: ImportRun,
    #[serde(default)]
    pub plan: Option<Plan>,
    #[serde(default)]
    pub pipeline: Option<Pipeline>,
    pub verification: Verification,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RestoreReport {
    pub target_pool_id: String,
    pub source_pool_id: String,
    pub backup_export_run_id: String,
    pub run_id: String,
    pub duration_seconds: f64,
    pub verified: bool,
    pub report_location: String,
    pub plan: Option<Plan>,
    pub pipeline: Option<Pipeline>,
    pub verification: Verification,
    pub documented_differences: Vec<&'static str>,
}

pub const DOCUMENTED_DIFFERENCES: [&str; 5] = [
    "every restored user has a new sub (see the sub-mapping CSV and the restore ledger)",
    "no user has a password: CSV-imported users are in RESET_REQUIRED (they reset it at sign-in), users created \
     by AdminCreateUser are in FORCE_CHANGE_PASSWORD (they need a temporary password or a resent invitation)",
    "federated users and users without a value for the username attribute are not restored (listed with the reason)",
    "MFA methods, TOTP secrets, devices and passkeys are not restorable; SMS MFA can be re-enabled from phone_number",
    "an attribute with an empty value is restored as no value (Cognito's CSV import cannot tell them apart)",
];

pub async fn run(
    objects: &dyn ObjectStore,
    notifier: &dyn Notifier,
    leases: &dyn LeaseStore,
    preference: NotificationPreference,
    input: ReportInput,
    now_ms: i64,
) -> Result<RestoreReport, StepError> {
    let ReportInput { run, plan, pipeline, verification } = input;
    let key = format!("{}report.json", run.object_prefix());
    let mut report = RestoreReport {
        target_pool_id: run.target.pool_id.clone(),
        source_pool_id: run.source_pool_id.clone(),
        backup_export_run_id: run.backup_export_run_id.clone(),
        run_id: run.run_id.clone(),
        duration_seconds: (now_ms - run.started_at).max(0) as f64 / 1000.0,
        verified: verification.verified(),
        report_location: String::new(),
        plan,
        pipeline,
        verification,
        documented_differences: DOCUMENTED_DIFFERENCES.to_vec(),
    };
    let body = serde_json::to_vec_pretty(&report).map_err(|e| StepError::InvalidInput(e.to_string()))?;
    report.report_location =
        objects.put(&key, "application/json", body).await.map_err(StepError::port("writing the restore report"))?;
    if let Some(token) = &run.lease {
        lease::release(leases, token).await?;
    }
    let summary = summary(&report);
    if !report.verified || preference == NotificationPreference::InfoAndErrors {
        let subject = if report.verified { "Cognito restore verified" } else { "Cognito restore has differences" };
        notifier
            .publish(&format!("{subject}: {}", report.target_pool_id), &summary)
            .await
            .map_err(StepError::port("publishing the restore report"))?;
    }
    if !report.verified {
        return Err(StepError::Refused { name: "VerificationFailed", message: summary });
    }
    Ok(report)
}

pub fn summary(r: &RestoreReport) -> String {
    let v = &r.verification;
    let mut text = format!(
        "Restore of the backup of {src} ({backup}) into {dst}: {verdict}.\n\n",
        src = r.source_pool_id,
        backup = r.backup_export_run_id,
        dst = r.target_pool_id,
        verdict = if r.verified { "verified, no unexplained difference" } else { "verification found differences" },
    );
    if let Some(p) = &r.pipeline {
        text.push_str(&format!(
            "Users: {} by CSV import ({} jobs; {} rows rejected and retried by AdminCreateUser, {} already there), {} by \
             AdminCreateUser, {} kept (skip-existing), {} overwritten, {} refused\n",
            p.csv.imported,
            p.csv.jobs_done,
            p.csv.rejected,
            p.csv.existing,
            p.direct.created,
            p.direct.skipped_existing,
            p.direct.overwritten,
            p.direct.failed,
        ));
        text.push_str(&format!(
            "Groups: {} created, {} kept, {} overwritten\nDisabled users: {}; memberships restored: {}\n",
            p.groups.created, p.groups.skipped_existing, p.groups.overwritten, p.direct.disabled, p.members.added
        ));
        if !p.direct.immutable_skipped.is_empty() {
            let names: Vec<String> =
                p.direct.immutable_skipped.iter().map(|(n, c)| format!("{n} ({c} users)")).collect();
            text.push_str(&format!("Immutable attributes overwrite could not change: {}\n", names.join(", ")));
        }
    }
    if let Some(plan) = &r.plan {
        text.push_str(&format!(
            "Not restorable: {} users (listed with the reason in the report)\n",
            plan.users_not_restorable
        ));
    }
    text.push_str(&format!(
        "Verified: {} of {} restorable users ({} kept by policy, {} not restored with a reason, {} missing, {} \
         different), {} groups, {} memberships ({} missing); {} differences\n",
        v.users_verified,
        v.restorable_users,
        v.users_kept_by_policy,
        v.users_explained,
        v.users_missing,
        v.users_differing,
        v.groups_verified,
        v.memberships_verified,
        v.memberships_missing,
        v.differences_total
    ));
    for d in v.differences.iter().take(20) {
        text.push_str(&format!("  - {}: {}\n", d.subject, d.what));
    }
    text.push_str(&format!(
        "\nFull report: {}\nSub mapping: {} CSV part(s) next to it, and the restore ledger table.\n",
        r.report_location, v.mapping_parts
    ));
    text
}
