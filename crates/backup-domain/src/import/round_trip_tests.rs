//! Export, then restore and verify, all through the steps with in-memory adapters.

use std::time::Duration;

use serde_json::json;

use super::*;
use crate::Deadline;
use crate::export::test_support;
use crate::memory::{InMemoryLedger, InMemoryReports, InMemoryStore, InMemoryUserPool, RecordingNotifier};
use crate::ports::{PoolUser, RestoreTarget, UserPool};
use crate::schema::{PoolSnapshot, SchemaAttribute};
use crate::settings::NotificationPreference;
use crate::step::StepError;

fn soon() -> Deadline {
    Deadline::after(Duration::ZERO)
}

fn configure(s: &mut PoolSnapshot) {
    let attr = |n: &str| SchemaAttribute { name: n.into(), ..Default::default() };
    s.schema = ["sub", "email", "email_verified", "phone_number", "phone_number_verified", "custom:tier"].map(attr).to_vec();
    s.auto_verified_attributes = vec!["email".into()];
}

/// A source pool of 40 users (verified, unverified, federated, a value with a line break, disabled) and
/// 5 groups, exported into a store.
async fn exported() -> (InMemoryUserPool, InMemoryStore) {
    let source = InMemoryUserPool::new("us-east-1_source").with_page_size(7);
    source.configure(configure);
    source.add_users(40, |i, u| {
        u.attributes.insert("custom:tier".into(), ["gold, plus", "silver \"s\"", "ü"][i % 3].into());
        if i % 9 == 1 {
            u.attributes.insert("email_verified".into(), "false".into());
        }
        if i == 13 {
            u.attributes.insert("custom:tier".into(), "two\nlines".into());
        }
        if i == 20 {
            u.status = PoolUser::FEDERATED_STATUS.into();
        }
        u.enabled = i % 6 != 2;
    });
    source.add_groups(5);
    let (users, groups) = (source.users(), source.groups());
    for (i, u) in users.iter().enumerate() {
        source.add_member(&groups[i % 5].name, &u.username);
    }
    let store = InMemoryStore::default().with_page_size(9);
    let run = test_support::run(&[], 1_000);
    let snapshot_input = crate::export::pool_snapshot::SnapshotInput { execution_arn: run.run_id.clone(), execution_input: json!({}) };
    let run = crate::export::pool_snapshot::run(&source, &store, &snapshot_input, 1_000).await.unwrap();
    let mut users_cursor = None;
    let users = loop {
        let input = crate::export::users::UsersInput { run: run.clone(), users: users_cursor };
        let out = crate::export::users::run(&source, &store, input, 16, soon()).await.unwrap();
        if out.done {
            break out;
        }
        users_cursor = Some(out);
    };
    let groups_out = crate::export::groups::run(&source, &store, crate::export::groups::GroupsInput { run: run.clone(), groups: None }, Deadline::after(Duration::from_secs(60))).await.unwrap();
    let memberships = crate::export::memberships::run(&source, &store, crate::export::memberships::MembershipsInput { run: run.clone(), memberships: None }, Deadline::after(Duration::from_secs(60))).await.unwrap();
    let completion = crate::export::completion::CompletionInput {
        run,
        users,
        groups: groups_out,
        memberships,
        cleanup: Default::default(),
    };
    crate::export::completion::run(&store, &RecordingNotifier::default(), NotificationPreference::ErrorsOnly, completion, 2_000).await.unwrap();
    (source, store)
}

struct Restore<'a> {
    target: &'a InMemoryUserPool,
    store: &'a InMemoryStore,
    ledger: &'a InMemoryLedger,
    reports: &'a InMemoryReports,
}

impl Restore<'_> {
    async fn preflight(&self, input: serde_json::Value) -> Result<ImportRun, StepError> {
        let input = preflight::PreflightInput { execution_arn: "arn:exec:restore-1".into(), execution_name: Some("restore-1".into()), execution_input: input };
        preflight::run(self.target, self.store, "us-east-1", &input, 5_000).await
    }

    async fn restore(&self, run: &ImportRun) -> Result<report::RestoreReport, StepError> {
        let mut plan = None;
        let plan = loop {
            let out = plan::run(self.store, plan::PlanInput { run: run.clone(), plan }, 0.5, soon()).await?;
            if out.done {
                break out;
            }
            plan = Some(out);
        };
        let mut g = None;
        let groups = loop {
            let out = groups::run(self.target, self.store, groups::GroupsInput { run: run.clone(), groups: g }, soon()).await?;
            if out.done {
                break out;
            }
            g = Some(out);
        };
        let mut u = None;
        let limits = users::JobLimits { max_users: 10, max_bytes: 1_000_000 };
        let users = loop {
            let out = users::run(self.target, self.store, self.ledger, users::UsersInput { run: run.clone(), users: u }, limits, soon()).await?;
            if out.done {
                break out;
            }
            u = Some(out);
        };
        let mut s = None;
        let user_state = loop {
            let out = user_state::run(self.target, self.store, user_state::UserStateInput { run: run.clone(), user_state: s }, soon()).await?;
            if out.done {
                break out;
            }
            s = Some(out);
        };
        self.report(run, Some(plan), Some(groups), Some(users), Some(user_state)).await
    }

    async fn report(
        &self,
        run: &ImportRun,
        plan: Option<plan::Plan>,
        groups: Option<groups::GroupsRestore>,
        users: Option<users::UsersRestore>,
        user_state: Option<user_state::UserStateRestore>,
    ) -> Result<report::RestoreReport, StepError> {
        let mut v = None;
        let verification = loop {
            let ports = verify::Ports { target: self.target, store: self.store, ledger: self.ledger, reports: self.reports };
            let out = verify::run(ports, verify::VerifyInput { run: run.clone(), verification: v }, soon()).await?;
            if out.done {
                break out;
            }
            v = Some(out);
        };
        let input = report::ReportInput { run: run.clone(), plan, groups, users, user_state, verification };
        report::run(self.reports, &RecordingNotifier::default(), NotificationPreference::InfoAndErrors, input, 9_000).await
    }
}

fn fresh_target() -> InMemoryUserPool {
    let target = InMemoryUserPool::new("us-east-1_target").with_page_size(8);
    target.configure(configure);
    target
}

#[tokio::test]
async fn a_backup_round_trips_into_an_empty_pool_and_verifies() {
    let (source, store) = exported().await;
    let target = fresh_target();
    let (ledger, reports) = (InMemoryLedger::default(), InMemoryReports::default());
    let r = Restore { target: &target, store: &store, ledger: &ledger, reports: &reports };
    let run = r.preflight(json!({"NewUserPoolId": "us-east-1_target"})).await.unwrap();
    assert!(run.incompatibilities.is_empty(), "{:?}", run.incompatibilities);
    let report = r.restore(&run).await.unwrap();

    assert!(report.verified, "{}", report::summary(&report));
    let users = report.users.as_ref().unwrap();
    assert_eq!(users.not_restorable, 1, "the federated user");
    assert_eq!(users.admin_created, 5 + 1, "unverified users and the one with a line break");
    assert_eq!(users.csv_submitted, 33);
    assert!(users.jobs >= 4, "jobs are split at the limit");
    assert_eq!(target.users().len(), 39);
    let source_users = source.users();
    let with_newline = target.get_user(&source_users[13].username).await.unwrap().unwrap();
    assert_eq!(with_newline.attributes["custom:tier"], "two\nlines", "kept exactly by AdminCreateUser");
    assert_eq!(target.users().iter().filter(|u| !u.enabled).count(), source_users.iter().filter(|u| !u.enabled && !u.status.contains("EXTERNAL")).count());
    assert_eq!(report.verification.memberships_verified, 39);
    let mapping: Vec<String> = reports.objects().keys().filter(|k| k.contains("sub-mapping")).cloned().collect();
    assert!(!mapping.is_empty());
    assert!(ledger.all().iter().filter(|e| e.path != "NOT_RESTORABLE").all(|e| e.new_sub.is_some()));
}

#[tokio::test]
async fn a_non_empty_target_is_refused_by_default_and_resumed_with_skip_existing() {
    let (_, store) = exported().await;
    let target = fresh_target();
    let (ledger, reports) = (InMemoryLedger::default(), InMemoryReports::default());
    let r = Restore { target: &target, store: &store, ledger: &ledger, reports: &reports };
    let run = r.preflight(json!({"NewUserPoolId": "us-east-1_target"})).await.unwrap();
    // An interrupted restore: only the groups and the first users made it.
    groups::run(&target, &store, groups::GroupsInput { run: run.clone(), groups: None }, Deadline::after(Duration::from_secs(60))).await.unwrap();
    let mut cursor = None;
    while target.users().is_empty() {
        let input = users::UsersInput { run: run.clone(), users: cursor };
        cursor = Some(users::run(&target, &store, &ledger, input, users::JobLimits { max_users: 10, max_bytes: 1_000_000 }, soon()).await.unwrap());
    }
    let partial = target.users().len();
    assert!(partial > 0 && partial < 39);

    let err = r.preflight(json!({"NewUserPoolId": "us-east-1_target"})).await.unwrap_err();
    assert_eq!(err.error_name(), "TargetPoolNotEmpty");
    assert!(err.to_string().contains("skip-existing"));

    let resumed = r.preflight(json!({"NewUserPoolId": "us-east-1_target", "ConflictPolicy": "skip-existing"})).await.unwrap();
    let report = r.restore(&resumed).await.unwrap();
    assert!(report.verified, "{}", report::summary(&report));
    assert_eq!(target.users().len(), 39, "no duplicates, nothing lost");
    assert_eq!(target.list_groups(None).await.unwrap().items.len(), 5);
}

#[tokio::test]
async fn a_missing_target_pool_is_reported_as_such() {
    let (_, store) = exported().await;
    let target = fresh_target();
    target.fail_with(crate::ports::PortError::NotFound("User pool us-east-1_target does not exist.".into()));
    let (ledger, reports) = (InMemoryLedger::default(), InMemoryReports::default());
    let r = Restore { target: &target, store: &store, ledger: &ledger, reports: &reports };
    let err = r.preflight(json!({"NewUserPoolId": "us-east-1_target"})).await.unwrap_err();
    assert_eq!(err.error_name(), "TargetPoolNotFound");
    assert!(!err.to_string().contains("not empty"));
}

#[tokio::test]
async fn verification_catches_a_changed_user_and_a_lost_membership() {
    let (source, store) = exported().await;
    let target = fresh_target();
    let (ledger, reports) = (InMemoryLedger::default(), InMemoryReports::default());
    let r = Restore { target: &target, store: &store, ledger: &ledger, reports: &reports };
    let run = r.preflight(json!({"NewUserPoolId": "us-east-1_target"})).await.unwrap();
    r.restore(&run).await.unwrap();

    let victim = &source.users()[4];
    let mut changed = std::collections::BTreeMap::new();
    changed.insert("custom:tier".to_string(), "tampered".to_string());
    target.update_user_attributes(&victim.username, &changed).await.unwrap();
    let err = r.report(&run, None, None, None, None).await.unwrap_err();
    assert_eq!(err.error_name(), "VerificationFailed");
    assert!(err.to_string().contains("attribute custom:tier"), "{err}");
    assert!(!err.to_string().contains("tampered"), "values never appear in reports");
}

#[tokio::test]
async fn rows_an_import_job_rejects_are_reported_by_sub_and_fail_verification() {
    let (source, store) = exported().await;
    let target = fresh_target();
    let victim = &source.users()[0];
    target.reject_in_import_jobs(&victim.username, "The User Record does not set any of the auto verified attributes to true.");
    let (ledger, reports) = (InMemoryLedger::default(), InMemoryReports::default());
    let r = Restore { target: &target, store: &store, ledger: &ledger, reports: &reports };
    let run = r.preflight(json!({"NewUserPoolId": "us-east-1_target"})).await.unwrap();
    let err = r.restore(&run).await.unwrap_err();
    assert_eq!(err.error_name(), "VerificationFailed");
    let sub = victim.sub().unwrap();
    assert!(err.to_string().contains(sub) && err.to_string().contains("auto verified"), "{err}");
    let entry = ledger.all().into_iter().find(|e| e.old_sub == sub).unwrap();
    assert_eq!(entry.path, "CSV_IMPORT");
    assert!(entry.failure.is_some(), "the ledger says why the user is missing");
    let report = reports.objects().into_iter().find(|(k, _)| k.ends_with("report.json")).unwrap().1;
    let report: serde_json::Value = serde_json::from_slice(&report).unwrap();
    assert_eq!(report["users"]["csvRejected"], 1);
    assert_eq!(report["users"]["rejected"][0]["sub"], sub);
}
