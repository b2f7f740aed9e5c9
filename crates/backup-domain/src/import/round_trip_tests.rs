//! Export, then restore and verify, through both drivers (the state machines' loops) with in-memory
//! adapters.

use std::collections::BTreeMap;

use serde_json::json;

use super::driver::{DriverSettings, Progress, run_import};
use super::work::JobLimits;
use super::{ImportPorts, verify};
use crate::export::driver::{DriverSettings as ExportSettings, run_export};
use crate::export::test_support::Harness;
use crate::memory::{
    FixedClock, InMemoryLease, InMemoryLedger, InMemoryObjects, InMemoryUserPool, RecordingNotifier, ScriptedExecutions,
};
use crate::ports::{LedgerPath, RestoreLedger, RestoreTarget, UserPool};
use crate::schema::{PoolSnapshot, SchemaAttribute};
use crate::step::StepError;

fn configure(s: &mut PoolSnapshot) {
    let attr = |n: &str| SchemaAttribute { name: n.into(), mutable: Some(n != "custom:born"), ..Default::default() };
    s.schema =
        ["sub", "email", "email_verified", "phone_number", "phone_number_verified", "custom:tier", "custom:born"]
            .map(attr)
            .to_vec();
    s.auto_verified_attributes = vec!["email".into()];
}

/// A source pool of 40 users (verified, unverified, federated, a value with a line break, disabled) and
/// 5 groups, exported.
async fn exported() -> Harness {
    let h = Harness::new(7);
    h.pool.configure(configure);
    h.pool.add_users(40, |i, u| {
        u.attributes.insert("custom:tier".into(), ["gold, plus", "silver \"s\"", "ü"][i % 3].into());
        u.attributes.insert("custom:born".into(), format!("19{i:02}"));
        if i % 9 == 1 {
            u.attributes.insert("email_verified".into(), "false".into());
        }
        if i == 13 {
            u.attributes.insert("custom:tier".into(), "two\nlines".into());
        }
        if i == 20 {
            u.status = crate::schema::UserStatus::ExternalProvider;
        }
        u.enabled = i % 6 != 2;
    });
    h.pool.add_groups(5);
    for i in 0..39 {
        // User 39 is in no group.
        h.pool.add_member(&format!("group-{:04}", i % 5), &format!("user-{i}"));
    }
    let arn = "arn:aws:states:us-east-1:1:execution:ExportWorkflow:first";
    run_export(h.ports(), &h.executions, &RecordingNotifier::default(), ExportSettings::default(), arn, json!({}))
        .await
        .0
        .marker();
    h
}

struct Target {
    pool: InMemoryUserPool,
    ledger: InMemoryLedger,
    objects: InMemoryObjects,
    leases: InMemoryLease,
    clock: FixedClock,
    executions: ScriptedExecutions,
}

impl Target {
    fn new(id: &str) -> Self {
        let pool = InMemoryUserPool::new(id).with_page_size(8);
        pool.configure(configure);
        Self {
            pool,
            ledger: InMemoryLedger::default(),
            objects: InMemoryObjects::default(),
            leases: InMemoryLease::default(),
            clock: FixedClock::at(9_000_000),
            executions: ScriptedExecutions::default(),
        }
    }

    fn ports<'a>(&'a self, h: &'a Harness, target: &'a dyn RestoreTarget) -> ImportPorts<'a> {
        ImportPorts {
            target,
            store: &h.store,
            ledger: &self.ledger,
            objects: &self.objects,
            leases: &self.leases,
            clock: &self.clock,
        }
    }

    async fn restore(&self, h: &Harness, input: serde_json::Value) -> (Progress, Result<(), StepError>) {
        self.restore_into(h, &self.pool, input, DriverSettings::default()).await
    }

    async fn restore_into(
        &self,
        h: &Harness,
        target: &dyn RestoreTarget,
        input: serde_json::Value,
        settings: DriverSettings,
    ) -> (Progress, Result<(), StepError>) {
        self.clock.advance(1_000);
        let arn = format!(
            "arn:aws:states:us-east-1:1:execution:ImportWorkflow:restore-{}",
            crate::Clock::now_ms(&self.clock)
        );
        let out = run_import(
            self.ports(h, target),
            &self.executions,
            &RecordingNotifier::default(),
            settings,
            &arn,
            input,
            "backup",
        )
        .await;
        self.executions.set(&arn, crate::ports::ExecutionStatus::Succeeded);
        out
    }
}

fn verification(p: &Progress) -> &verify::Verification {
    p.verification.as_ref().expect("verification ran")
}

#[tokio::test]
async fn a_backup_round_trips_into_an_empty_pool_and_verifies() {
    let h = exported().await;
    let t = Target::new("us-east-1_target");
    let settings = DriverSettings { limits: JobLimits { max_users: 10, max_bytes: 1_000_000 }, ..Default::default() };
    let (progress, result) = t.restore_into(&h, &t.pool, json!({"NewUserPoolId": "us-east-1_target"}), settings).await;
    result.unwrap();
    let report = progress.report.as_ref().unwrap();
    assert!(report.verified, "{}", super::report::summary(report));
    let plan = progress.plan.as_ref().unwrap();
    assert_eq!(plan.users_not_restorable, 1, "the federated user");
    assert!(plan.csv_jobs >= 2, "jobs split at the limit: {}", plan.csv_jobs);
    let v = verification(&progress);
    assert_eq!(v.restorable_users, 39);
    assert_eq!(v.users_verified, 39);
    assert!(v.reconciles());
    assert_eq!(t.pool.users().len(), 39);
    let source = h.pool.users();
    let with_newline =
        t.pool.get_user(&source.iter().find(|u| u.username == "user-13").unwrap().username).await.unwrap().unwrap();
    assert_eq!(with_newline.attributes["custom:tier"], "two\nlines", "kept exactly by AdminCreateUser");
    let disabled = source.iter().filter(|u| !u.enabled && !u.is_federated()).count();
    assert_eq!(t.pool.users().iter().filter(|u| !u.enabled).count(), disabled);
    assert_eq!(v.memberships_verified, 38);
    assert!(t.objects.objects().keys().any(|k| k.contains("sub-mapping")));
    assert!(t.ledger.all().iter().filter(|e| e.path != LedgerPath::NotRestorable).all(|e| e.new_sub.is_some()));
}

#[tokio::test]
async fn a_user_disabled_in_the_backup_is_disabled_before_anything_else_happens_to_it() {
    let h = exported().await;
    let t = Target::new("us-east-1_target");
    t.restore(&h, json!({"NewUserPoolId": "us-east-1_target"})).await.1.unwrap();
    let events = t.pool.events();
    for user in h.pool.users().iter().filter(|u| !u.enabled && !u.is_federated()) {
        let mine: Vec<&str> = events.iter().filter(|(_, n)| *n == user.username).map(|(op, _)| *op).collect();
        assert_eq!(&mine[..2], ["create_user", "disable"], "{}: {mine:?}", user.username);
        assert!(!mine.contains(&"imported") && !mine.contains(&"enable"));
    }
}

#[tokio::test]
async fn a_user_deleted_from_the_restored_pool_fails_verify_only_which_names_it() {
    let h = exported().await;
    let t = Target::new("us-east-1_target");
    t.restore(&h, json!({"NewUserPoolId": "us-east-1_target"})).await.1.unwrap();
    // User 39 is in no group: only verification from the backup notices it is gone.
    t.pool.remove_user("user-39");
    let (progress, result) = t.restore(&h, json!({"NewUserPoolId": "us-east-1_target", "VerifyOnly": true})).await;
    let err = result.unwrap_err();
    assert_eq!(err.error_name(), "VerificationFailed");
    let gone_sub = h.pool.users().iter().find(|u| u.username == "user-39").unwrap().sub().unwrap().to_owned();
    let v = verification(&progress);
    assert_eq!(v.users_missing, 1);
    assert!(v.differences.iter().any(|d| d.subject == gone_sub && d.what.contains("not found")), "{:?}", v.differences);
    assert!(err.to_string().contains(&gone_sub));
}

#[tokio::test]
async fn a_group_or_membership_lost_from_the_restored_pool_fails_verify_only_whatever_the_groups_per_round() {
    let h = exported().await;
    let t = Target::new("us-east-1_target");
    t.restore(&h, json!({"NewUserPoolId": "us-east-1_target"})).await.1.unwrap();
    t.pool.remove_group("group-0003");
    t.pool.remove_member("group-0001", "user-1");
    for concurrency in [1, 2, 16] {
        // Two groups per round: the 5 groups take three invocations, resuming where the last one stopped.
        let settings = DriverSettings { concurrency, ..Default::default() };
        let input = json!({"NewUserPoolId": "us-east-1_target", "VerifyOnly": true});
        let (progress, result) = t.restore_into(&h, &t.pool, input, settings).await;
        assert_eq!(result.unwrap_err().error_name(), "VerificationFailed");
        let v = verification(&progress);
        assert_eq!((v.groups_checked, v.groups_verified), (5, 4), "concurrency {concurrency}");
        // 38 restorable memberships (user 20 is federated), 8 of them in the lost group.
        assert_eq!((v.memberships_verified, v.memberships_missing), (29, 9), "concurrency {concurrency}");
        let lost_sub = h.pool.users().iter().find(|u| u.username == "user-1").unwrap().sub().unwrap().to_owned();
        assert!(v.differences.iter().any(|d| d.subject == "group-0003" && d.what.contains("group missing")));
        assert!(v.differences.iter().any(|d| d.subject == lost_sub && d.what.contains("group-0001")));
        assert_eq!(v.differences_total, 2, "{:?}", v.differences);
    }
    // The backup scan met the groups over several invocations (pages of 25 items, one page each).
    let mut per_run: BTreeMap<String, usize> = BTreeMap::new();
    for key in t.objects.objects().into_keys().filter(|k| k.contains("verify-groups/")) {
        *per_run.entry(key[..key.find("verify-groups/").unwrap_or(0)].to_owned()).or_default() += 1;
    }
    assert!(per_run.len() == 4 && per_run.values().all(|n| *n >= 2), "{per_run:?}");
}

#[tokio::test]
async fn group_items_kept_for_verification_and_lost_meanwhile_fail_it_rather_than_go_unchecked() {
    let h = exported().await;
    let t = Target::new("us-east-1_target");
    t.restore(&h, json!({"NewUserPoolId": "us-east-1_target"})).await.1.unwrap();
    t.objects.lose_keys_containing("verify-groups/");
    let (_, result) = t.restore(&h, json!({"NewUserPoolId": "us-east-1_target", "VerifyOnly": true})).await;
    let err = result.unwrap_err();
    assert_eq!(err.error_name(), "VerificationFailed");
    assert!(err.to_string().contains("backup's 5 group items") && err.to_string().contains("finds 0"), "{err}");
}

#[tokio::test]
async fn verify_only_works_on_a_pool_no_restore_recorded() {
    let h = exported().await;
    let t = Target::new("us-east-1_target");
    t.restore(&h, json!({"NewUserPoolId": "us-east-1_target"})).await.1.unwrap();
    // Another Region's ledger knows nothing of this pool.
    let fresh = Target::new("us-east-1_target");
    let (progress, result) = fresh
        .restore_into(
            &h,
            &t.pool,
            json!({"NewUserPoolId": "us-east-1_target", "VerifyOnly": true}),
            DriverSettings::default(),
        )
        .await;
    result.unwrap();
    assert_eq!(verification(&progress).users_verified, 39);
}

#[tokio::test]
async fn verification_names_a_changed_attribute_by_name_never_by_value() {
    let h = exported().await;
    let t = Target::new("us-east-1_target");
    t.restore(&h, json!({"NewUserPoolId": "us-east-1_target"})).await.1.unwrap();
    let secret = "a-secret-value";
    t.pool.update_user_attributes("user-3", &[("custom:tier".to_string(), secret.to_string())].into()).await.unwrap();
    t.pool.remove_group("group-0001");
    let (progress, result) = t.restore(&h, json!({"NewUserPoolId": "us-east-1_target", "VerifyOnly": true})).await;
    let err = result.unwrap_err().to_string();
    assert!(err.contains("attribute custom:tier") && !err.contains(secret), "{err}");
    let v = verification(&progress);
    assert_eq!(v.users_differing, 1);
    assert!(v.differences.iter().any(|d| d.subject == "group-0001"));
}

#[tokio::test]
async fn the_source_pool_and_overwrites_of_live_users_need_explicit_consent_and_nothing_is_written_without_it() {
    let h = exported().await;
    let source = Target::new("us-east-1_test");
    let before = h.pool.events().len();
    let (_, result) = source
        .restore_into(
            &h,
            &h.pool,
            json!({"NewUserPoolId": "us-east-1_test", "ConflictPolicy": "overwrite"}),
            DriverSettings::default(),
        )
        .await;
    let err = result.unwrap_err();
    assert_eq!(err.error_name(), "TargetIsSourcePool");
    assert!(err.to_string().contains("us-east-1_test") && err.to_string().contains("AllowSourcePool"));
    let (_, result) = source
        .restore_into(
            &h,
            &h.pool,
            json!({"NewUserPoolId": "us-east-1_test", "ConflictPolicy": "skip-existing"}),
            DriverSettings::default(),
        )
        .await;
    assert_eq!(result.unwrap_err().error_name(), "TargetIsSourcePool");
    assert_eq!(h.pool.events().len(), before, "nothing written");

    let t = Target::new("us-east-1_target");
    t.pool.add_users(1, |_, u| u.username = "someone".into());
    let (_, result) = t.restore(&h, json!({"NewUserPoolId": "us-east-1_target", "ConflictPolicy": "overwrite"})).await;
    assert_eq!(result.unwrap_err().error_name(), "OverwriteNotConfirmed");
    assert!(t.pool.events().is_empty());
}

#[tokio::test]
async fn overwrite_skips_immutable_attributes_and_restores_the_enabled_flag_both_ways() {
    let h = exported().await;
    let t = Target::new("us-east-1_target");
    t.restore(&h, json!({"NewUserPoolId": "us-east-1_target"})).await.1.unwrap();
    // Live changes since: a disabled user enabled, an enabled one disabled, attributes edited.
    t.pool.set_enabled("user-2", true).await.unwrap();
    t.pool.set_enabled("user-3", false).await.unwrap();
    t.pool
        .update_user_attributes("user-4", &[("custom:tier".to_string(), "changed".to_string())].into())
        .await
        .unwrap();
    let input = json!({"NewUserPoolId": "us-east-1_target", "ConflictPolicy": "overwrite", "ConfirmOverwrite": true});
    let (progress, result) = t.restore(&h, input).await;
    result.unwrap();
    let users: BTreeMap<String, _> = t.pool.users().into_iter().map(|u| (u.username.clone(), u)).collect();
    assert!(!users["user-2"].enabled && users["user-3"].enabled);
    let backed_up = h.pool.users().into_iter().find(|u| u.username == "user-4").unwrap();
    assert_eq!(users["user-4"].attributes["custom:tier"], backed_up.attributes["custom:tier"]);
    let direct = &progress.pipeline.as_ref().unwrap().direct;
    assert!(direct.enabled_flag_restored >= 2);
    assert!(direct.immutable_skipped.contains_key("custom:born"), "{:?}", direct.immutable_skipped);
}

#[tokio::test]
async fn an_interrupted_restore_is_refused_by_default_and_completed_by_skip_existing() {
    let h = exported().await;
    let t = Target::new("us-east-1_target");
    // The restore fails midway: memberships are denied.
    t.pool.fail_next("add_to_group", crate::ports::PortError::AccessDenied("not authorized".into()), 1);
    let (_, result) = t.restore(&h, json!({"NewUserPoolId": "us-east-1_target"})).await;
    assert_eq!(result.unwrap_err().error_name(), "AccessDenied");
    let partial = t.pool.users().len();
    assert!(partial > 0);
    let (_, result) = t.restore(&h, json!({"NewUserPoolId": "us-east-1_target"})).await;
    assert_eq!(result.unwrap_err().error_name(), "TargetPoolNotEmpty");
    let (progress, result) =
        t.restore(&h, json!({"NewUserPoolId": "us-east-1_target", "ConflictPolicy": "skip-existing"})).await;
    result.unwrap();
    assert_eq!(t.pool.users().len(), 39, "no duplicates");
    assert_eq!(verification(&progress).memberships_verified, 38);
}

#[tokio::test]
async fn rows_an_import_job_rejects_get_one_retry_by_admin_create_user_and_what_still_fails_is_reported_by_sub() {
    let h = exported().await;
    let t = Target::new("us-east-1_target");
    t.pool.reject_in_import_jobs("user-0", "Invalid email user0@example.com");
    t.pool.reject_in_import_jobs("user-5", "The User Record does not set any of the auto verified attributes to true.");
    let (progress, result) = t.restore(&h, json!({"NewUserPoolId": "us-east-1_target"})).await;
    result.unwrap();
    let p = progress.pipeline.as_ref().unwrap();
    assert_eq!((p.csv.rejected, p.direct.created_after_rejection), (2, 2), "{p:#?}");
    assert!(p.csv.rejections.keys().all(|r| !r.contains('@')), "categories, no values: {:?}", p.csv.rejections);
    assert_eq!(t.pool.users().len(), 39);

    // A re-run sends the rejected users straight to AdminCreateUser, not to CSV again.
    let again = Target::new("us-east-1_again");
    again
        .ledger
        .record(
            &t.ledger
                .all()
                .into_iter()
                .map(|mut e| {
                    e.target_pool_id = "us-east-1_again".into();
                    e
                })
                .collect::<Vec<_>>(),
        )
        .await
        .unwrap();
    again.pool.add_users(1, |_, u| u.username = "placeholder".into());
    let (progress, result) =
        again.restore(&h, json!({"NewUserPoolId": "us-east-1_again", "ConflictPolicy": "skip-existing"})).await;
    result.unwrap();
    assert_eq!(progress.plan.as_ref().unwrap().users_retried_after_rejection, 2);
    assert!(!again.pool.events().iter().any(|(op, n)| *op == "imported" && (n == "user-0" || n == "user-5")));
}

#[tokio::test]
async fn a_dry_run_plans_and_writes_nothing() {
    let h = exported().await;
    let t = Target::new("us-east-1_target");
    let (progress, result) = t.restore(&h, json!({"NewUserPoolId": "us-east-1_target", "DryRun": true})).await;
    result.unwrap();
    let plan = progress.plan.as_ref().unwrap();
    assert_eq!(plan.users_by_csv_import + plan.users_by_admin_create_user, 39);
    assert!(plan.estimated_seconds.unwrap() > 0.0);
    assert!(t.pool.events().is_empty() && t.pool.groups().is_empty());
    assert!(t.ledger.all().is_empty());
}

#[tokio::test]
async fn a_missing_target_pool_is_reported_as_such() {
    let h = exported().await;
    let t = Target::new("us-east-1_gone");
    t.pool.fail_with(crate::ports::PortError::NotFound("User pool us-east-1_gone does not exist.".into()));
    let err = t.restore(&h, json!({"NewUserPoolId": "us-east-1_gone"})).await.1.unwrap_err();
    assert_eq!(err.error_name(), "TargetPoolNotFound");
    assert!(err.to_string().contains("us-east-1_gone"));
}
