//! The ImportWorkflow, run through Step Functions in the local cloud: a pool is exported, then restored
//! into a new pool (in either Region) and verified. Needs the local cloud and the built Lambda binaries.

use std::collections::BTreeMap;

use aws_sdk_sfn::types::ExecutionStatus;
use backup_domain::ports::PoolUser;
use local_harness::Result;
use local_harness::checks::{assert_verified, users_of};
use local_harness::local_cloud::Fault;
use local_harness::pools;
use local_harness::scenario::{Scenario, scenario};
use serde_json::json;

const BACKUP_REGION: &str = "us-west-2";

async fn exported(label: &str, username_attributes: &[&str], users: usize, groups: usize) -> Result<Scenario> {
    let s = scenario(label, username_attributes, pools::nasty_users(users), groups, |_| {}).await?;
    let export = s.export().await?;
    assert_eq!(export.status, ExecutionStatus::Succeeded, "export failed: {:?}", export.cause);
    Ok(s)
}

/// What a restored pool must hold for a seeded one: every native user, by its pseudo-username, with its
/// attributes, enabled flag and groups.
async fn assert_restored(s: &Scenario, region: Option<&str>, target: &str, name_by: Option<&str>) -> Result<()> {
    let cloud = s.cloud_in(region).await?;
    let restored = users_of(&cloud, target).await?;
    let natives: Vec<_> = s.users.iter().filter(|u| u.status != "EXTERNAL_PROVIDER").collect();
    assert_eq!(restored.len(), natives.len(), "every native user, once");
    let by_name: BTreeMap<String, &PoolUser> = restored
        .values()
        .map(|u| (name_by.map(|a| u.attributes[a].clone()).unwrap_or_else(|| u.username.clone()), u))
        .collect();
    for seed in natives {
        let name = name_by.map(|a| seed.attributes[a].clone()).unwrap_or_else(|| seed.username.clone());
        let user = by_name.get(&name).unwrap_or_else(|| panic!("user {} not restored", seed.key));
        // An empty value and no value are the same to Cognito's CSV import (documented in the report).
        let non_empty = |a: &BTreeMap<String, String>| -> BTreeMap<String, String> {
            a.iter()
                .filter(|(k, v)| !v.is_empty() && k.as_str() != "sub")
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        };
        assert_eq!(non_empty(&user.attributes), non_empty(&seed.attributes), "attributes of {} kept exactly", seed.key);
        assert_eq!(user.enabled, seed.enabled, "enabled flag of {}", seed.key);
        assert!(["RESET_REQUIRED", "FORCE_CHANGE_PASSWORD"].contains(&user.status.as_str()), "{}", user.status);
        assert_ne!(user.attributes["sub"], s.sub(&seed.key), "a restored user has a new sub");
    }
    for group in &s.groups {
        let out =
            cloud.cognito().list_users_in_group().user_pool_id(target).group_name(&group.name).limit(60).send().await?;
        let natives = group.members.iter().filter(|m| !m.starts_with("Google_")).count();
        if out.next_token().is_none() {
            assert_eq!(out.users().len(), natives, "members of {}", group.name);
        }
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_plain_username_pool_round_trips_and_verifies() -> Result<()> {
    let s = exported("rtplain", &[], 90, 6).await?;
    let target = s.new_pool_like_source(None).await?;
    let execution = s.import(None, json!({"NewUserPoolId": target})).await?;
    assert_verified(&execution);
    assert_restored(&s, None, &target, None).await?;

    let report = execution.output.unwrap_or_default();
    assert_eq!(report["plan"]["usersNotRestorable"], 1, "the federated user is reported, not dropped");
    let pipeline = &report["pipeline"];
    assert!(
        pipeline["csv"]["imported"].as_u64().unwrap_or(0) > 0
            && pipeline["direct"]["created"].as_u64().unwrap_or(0) > 0,
        "{pipeline}"
    );
    assert_eq!(report["verification"]["usersVerified"], report["verification"]["restorableUsers"]);
    let location = report["reportLocation"].as_str().unwrap_or_default();
    assert!(location.starts_with("s3://") && location.ends_with("report.json"), "{location}");

    // The old → new sub mapping, for applications: CSV parts in S3 and the ledger table.
    let s3 = aws_sdk_s3::Client::new(&s.cloud.sdk);
    let listed = s3
        .list_objects_v2()
        .bucket(&s.deployment.primary.workflow_bucket_name)
        .prefix(format!("restores/{target}/"))
        .send()
        .await?;
    let keys: Vec<&str> = listed.contents().iter().filter_map(|o| o.key()).collect();
    assert!(keys.iter().any(|k| k.contains("sub-mapping/part-")), "{keys:?}");
    let mapped = s
        .cloud
        .dynamodb()
        .query()
        .table_name(&s.deployment.primary.restore_ledger_table_name)
        .key_condition_expression("pk = :pk")
        .expression_attribute_values(":pk", aws_sdk_dynamodb::types::AttributeValue::S(format!("RESTORE#{target}")))
        .send()
        .await?;
    let with_new_sub = mapped.items().iter().filter(|i| i.contains_key("newSub")).count();
    assert_eq!(with_new_sub, 89);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn an_email_as_username_pool_round_trips_and_verifies() -> Result<()> {
    let s = exported("rtemail", &["email"], 40, 4).await?;
    let target = s.new_pool_like_source(None).await?;
    let execution = s.import(None, json!({"NewUserPoolId": target})).await?;
    assert_verified(&execution);
    assert_restored(&s, None, &target, Some("email")).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_restore_runs_in_the_backup_region_from_the_replica() -> Result<()> {
    let s = exported("rtbackup", &[], 40, 3).await?;
    let target = s.new_pool_like_source(Some(BACKUP_REGION)).await?;
    assert!(target.starts_with(BACKUP_REGION));
    let execution = s.import(Some(BACKUP_REGION), json!({"NewUserPoolId": target})).await?;
    assert_verified(&execution);
    assert_restored(&s, Some(BACKUP_REGION), &target, None).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_restore_that_fails_midway_completes_when_run_again_with_no_duplicates() -> Result<()> {
    let s = exported("resume", &[], 50, 4).await?;
    let target = s.new_pool_like_source(None).await?;
    let fault = s.cloud.inject_fault(&Fault::error(
        "AdminAddUserToGroup",
        &target,
        "NotAuthorizedException",
        400,
        "User is not authorized to perform: cognito-idp:AdminAddUserToGroup",
        None,
    ))?;
    let failed = s.import(None, json!({"NewUserPoolId": target})).await;
    s.cloud.clear_fault(&fault)?;
    let failed = failed?;
    assert_eq!(failed.status, ExecutionStatus::Failed);
    assert!(failed.cause.unwrap_or_default().contains("AdminAddUserToGroup"));
    let messages = s.inbox.messages().await?;
    assert!(messages.iter().any(|(_, body)| body.contains("skip-existing")), "{messages:?}");
    assert!(!users_of(&s.cloud, &target).await?.is_empty(), "users were restored before the failure");

    let resumed = s.import(None, json!({"NewUserPoolId": target, "ConflictPolicy": "skip-existing"})).await?;
    assert_verified(&resumed);
    assert_restored(&s, None, &target, None).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dry_run_outputs_the_plan_and_writes_nothing() -> Result<()> {
    let s = exported("dryrun", &[], 50, 3).await?;
    let target = s.new_pool_like_source(None).await?;
    let execution = s.import(None, json!({"NewUserPoolId": target, "DryRun": true})).await?;
    assert_eq!(execution.status, ExecutionStatus::Succeeded, "{:?}", execution.cause);
    let plan = execution.output.unwrap_or_default();
    let by_path = plan["usersByCsvImport"].as_u64().unwrap_or(0) + plan["usersByAdminCreateUser"].as_u64().unwrap_or(0);
    assert_eq!(by_path, 49, "{plan}");
    assert_eq!(plan["usersNotRestorable"], 1);
    assert_eq!(plan["groups"], 3);
    assert!(plan["estimatedSeconds"].as_f64().unwrap_or(0.0) > 0.0);
    assert!(users_of(&s.cloud, &target).await?.is_empty());
    let groups = s.cloud.cognito().list_groups().user_pool_id(&target).send().await?;
    assert!(groups.groups().is_empty());
    Ok(())
}
