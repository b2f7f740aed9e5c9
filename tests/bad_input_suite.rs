//! The bad-input suite: each bad input of `tests/src/reliability.rs` (rendered as `docs/reliability.md`),
//! given to the real workflows on the local cloud. Each gets a clear error naming the problem and the way
//! out, before anything is written, or is handled exactly.

use std::collections::BTreeMap;

use aws_sdk_cognitoidentityprovider::types::{AttributeType, MessageActionType};
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_sfn::types::ExecutionStatus;
use backup_domain::schema::BackupItem;
use local_harness::Result;
use local_harness::checks::{self, assert_succeeded, assert_verified};
use local_harness::pools::{self, PoolShape};
use local_harness::scenario::{Scenario, scenario, scenario_shaped};
use local_harness::workflows::{self, Execution, keys, run_export};
use serde_json::json;

/// The execution failed, and its cause contains each of `expected`.
fn assert_failed_with(execution: &Execution, expected: &[&str]) {
    assert_eq!(execution.status, ExecutionStatus::Failed, "{:?}", execution.output);
    let cause = execution.cause.clone().unwrap_or_default();
    for text in expected {
        assert!(cause.contains(text), "the cause does not say {text:?}: {cause}");
    }
}

async fn exported(label: &str, users: usize, groups: usize) -> Result<Scenario> {
    let s = scenario(label, &[], pools::nasty_users(users), groups, |_| {}).await?;
    assert_succeeded(&s.export().await?);
    Ok(s)
}

/// Every user of a pool: username → attributes.
async fn users_of(s: &Scenario, pool_id: &str) -> Result<BTreeMap<String, BTreeMap<String, String>>> {
    Ok(checks::users_of(&s.cloud, pool_id).await?.into_iter().map(|(name, u)| (name, u.attributes)).collect())
}

async fn assert_empty(s: &Scenario, pool_id: &str) -> Result<()> {
    assert!(users_of(s, pool_id).await?.is_empty(), "nothing written to {pool_id}");
    let groups = s.cloud.cognito().list_groups().user_pool_id(pool_id).send().await?;
    assert!(groups.groups().is_empty(), "no group written to {pool_id}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_json_input() -> Result<()> {
    let s = scenario("badjson", &[], pools::nasty_users(5), 1, |_| {}).await?;
    let export_arn = s.deployment.export_state_machine_arn();
    let refused = s.cloud.sfn().start_execution().state_machine_arn(export_arn).input("{\"Allow").send().await;
    let error = refused.expect_err("Step Functions refuses input that is not JSON");
    assert!(error.as_service_error().is_some_and(|e| e.is_invalid_execution_input()), "{error:?}");

    for input in ["[true]", "\"export\"", "42"] {
        let export = run_export(&s.cloud, &s.deployment, input).await?;
        assert_failed_with(&export, &["InvalidInput", "Valid inputs"]);
        assert_eq!(export.times_entered("ExportUsers"), 0);
    }
    assert!(s.items().await?.is_empty(), "nothing written to the backup");

    let import = s.import(None, json!(["NewUserPoolId", "us-east-1_AbCdEf123"])).await?;
    assert_failed_with(&import, &["InvalidInput", "Example"]);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_fields_in_the_input() -> Result<()> {
    let s = exported("unknown", 10, 2).await?;
    let before = keys(&s.items().await?);
    let export = run_export(&s.cloud, &s.deployment, r#"{"AllowMassRemovel": true}"#).await?;
    assert_failed_with(&export, &["InvalidInput", "AllowMassRemovel", "AllowMassRemoval"]);
    assert_eq!(keys(&s.items().await?), before, "nothing written or removed");

    let target = s.new_pool_like_source(None).await?;
    let import = s.import(None, json!({"NewUserPoolId": target, "ConflictPolicyy": "overwrite"})).await?;
    assert_failed_with(&import, &["InvalidInput", "ConflictPolicyy", "ConflictPolicy"]);
    assert_empty(&s, &target).await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pool_id_of_the_wrong_format() -> Result<()> {
    let s = exported("badformat", 5, 1).await?;
    let import = s.import(None, json!({"NewUserPoolId": "not-a-pool"})).await?;
    assert_failed_with(&import, &["InvalidInput", "\\\"not-a-pool\\\" is not a user pool ID", "us-east-1_AbCdEf123"]);
    let elsewhere = s.import(None, json!({"NewUserPoolId": "eu-west-1_abc"})).await?;
    assert_failed_with(&elsewhere, &["InvalidInput", "not in us-east-1"]);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_target_pool_that_does_not_exist() -> Result<()> {
    let s = exported("nopool", 5, 1).await?;
    let import = s.import(None, json!({"NewUserPoolId": "us-east-1_DoesNotExist"})).await?;
    assert_failed_with(&import, &["TargetPoolNotFound", "us-east-1_DoesNotExist"]);
    assert!(!import.cause.unwrap_or_default().contains("not empty"));
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn the_source_pool_as_target() -> Result<()> {
    let s = exported("selftarget", 20, 2).await?;
    let before = users_of(&s, &s.pool_id).await?;
    for input in [
        json!({"NewUserPoolId": s.pool_id, "ConflictPolicy": "overwrite", "ConfirmOverwrite": true}),
        json!({"NewUserPoolId": s.pool_id, "ConflictPolicy": "skip-existing"}),
    ] {
        let import = s.import(None, input).await?;
        assert_failed_with(&import, &["TargetIsSourcePool", &s.pool_id, "AllowSourcePool"]);
    }
    assert_eq!(users_of(&s, &s.pool_id).await?, before, "no user changed");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_non_empty_target_under_each_policy() -> Result<()> {
    let s = exported("policy", 30, 3).await?;
    let existing =
        s.users.iter().find(|u| u.status == "CONFIRMED" && u.attributes["email_verified"] == "true").expect("a user");
    let prepare = async || -> Result<String> {
        let target = s.new_pool_like_source(None).await?;
        s.cloud
            .cognito()
            .admin_create_user()
            .user_pool_id(&target)
            .username(&existing.username)
            .user_attributes(AttributeType::builder().name("custom:tier").value("pre-existing").build()?)
            .message_action(MessageActionType::Suppress)
            .send()
            .await?;
        Ok(target)
    };

    // fail (the default): refused before any write, with the way out named.
    let target = prepare().await?;
    let refused = s.import(None, json!({"NewUserPoolId": target})).await?;
    assert_failed_with(&refused, &["TargetPoolNotEmpty", "skip-existing"]);
    assert_eq!(users_of(&s, &target).await?.len(), 1, "nothing written");

    // skip-existing: the existing user is left as it is, everything else restored.
    let execution = s.import(None, json!({"NewUserPoolId": target, "ConflictPolicy": "skip-existing"})).await?;
    assert_verified(&execution);
    let users = users_of(&s, &target).await?;
    assert_eq!(users[&existing.username]["custom:tier"], "pre-existing");
    assert_eq!(users.len(), 30, "no duplicate of the existing user");

    // overwrite: refused without ConfirmOverwrite (it changes live users), then the backup's values win.
    let target = prepare().await?;
    let refused = s.import(None, json!({"NewUserPoolId": target, "ConflictPolicy": "overwrite"})).await?;
    assert_failed_with(&refused, &["OverwriteNotConfirmed", "ConfirmOverwrite"]);
    assert_eq!(users_of(&s, &target).await?[&existing.username]["custom:tier"], "pre-existing");
    let input = json!({"NewUserPoolId": target, "ConflictPolicy": "overwrite", "ConfirmOverwrite": true});
    assert_verified(&s.import(None, input).await?);
    let users = users_of(&s, &target).await?;
    assert_eq!(users[&existing.username]["custom:tier"], existing.attributes["custom:tier"]);
    assert_eq!(users.len(), 30, "no duplicate of the existing user");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unsupported_target_configuration() -> Result<()> {
    let s = exported("incompatible", 10, 2).await?;
    let target = pools::create_pool(&s.cloud, &workflows::unique_prefix("byemail"), &["email"]).await?;
    let import = s.import(None, json!({"NewUserPoolId": target})).await?;
    assert_failed_with(&import, &["IncompatibleTargetPool", "email"]);
    assert_empty(&s, &target).await
}

/// Rewrites one user item of the backup table with `change`, as a damaged or newer backup would hold it.
async fn tamper_with_a_user_item(
    s: &Scenario,
    change: impl FnOnce(&mut BTreeMap<String, AttributeValue>),
) -> Result<String> {
    let user = s.items().await?.into_iter().find_map(|i| if let BackupItem::User(u) = i { Some(u) } else { None });
    let key = BackupItem::User(user.ok_or("the backup has a user")?).key();
    let dynamodb = s.cloud.dynamodb();
    let item = dynamodb
        .get_item()
        .table_name(&s.deployment.backup_table_name)
        .key("pk", AttributeValue::S(key.pk.clone()))
        .key("sk", AttributeValue::S(key.sk.clone()))
        .consistent_read(true)
        .send()
        .await?;
    let mut item: BTreeMap<String, AttributeValue> =
        item.item().cloned().ok_or("the user item exists")?.into_iter().collect();
    change(&mut item);
    dynamodb
        .put_item()
        .table_name(&s.deployment.backup_table_name)
        .set_item(Some(item.into_iter().collect()))
        .send()
        .await?;
    Ok(format!("{}/{}", key.pk, key.sk))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_backup_item_of_a_future_schema_version() -> Result<()> {
    let s = exported("future", 12, 2).await?;
    let target = s.new_pool_like_source(None).await?;
    let key = tamper_with_a_user_item(&s, |item| {
        item.insert("schemaVersion".into(), AttributeValue::N("99".into()));
    })
    .await?;
    let import = s.import(None, json!({"NewUserPoolId": target})).await?;
    assert_failed_with(&import, &["MalformedBackupItem", &key, "schemaVersion 99", "release"]);
    assert_empty(&s, &target).await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_backup_item_with_missing_fields() -> Result<()> {
    let s = exported("missing", 12, 2).await?;
    let target = s.new_pool_like_source(None).await?;
    let key = tamper_with_a_user_item(&s, |item| {
        item.remove("attributes");
    })
    .await?;
    let import = s.import(None, json!({"NewUserPoolId": target})).await?;
    assert_failed_with(&import, &["MalformedBackupItem", &key, "attributes"]);
    assert_empty(&s, &target).await
}

#[tokio::test(flavor = "multi_thread")]
async fn values_of_2048_characters_and_50_custom_attributes() -> Result<()> {
    // 3 custom attributes of the fixtures + 47 = Cognito's limit of 50.
    let extra = 47;
    let mut users = pools::nasty_users(24);
    for (i, user) in users.iter_mut().enumerate() {
        for n in 1..=extra {
            // 2,048 characters: commas, quotes, line breaks and non-ASCII text, cut to the exact length.
            let value: String = pools::NASTY_VALUES[(i + n) % (pools::NASTY_VALUES.len() - 1)]
                .chars()
                .chain(format!(" {n},\"{i}\"\n").chars())
                .cycle()
                .take(2048)
                .collect();
            user.attributes.insert(pools::extra_attribute(n), value);
        }
    }
    let shape = PoolShape { username_attributes: &[], mfa: "OFF", extra_custom_attributes: extra };
    let s = scenario_shaped("wide", &shape, users, 3, |_| {}).await?;
    assert_succeeded(&s.export().await?);
    let exported: BTreeMap<String, BTreeMap<String, String>> = s
        .items()
        .await?
        .into_iter()
        .filter_map(|i| if let BackupItem::User(u) = i { Some((u.username, u.attributes)) } else { None })
        .collect();
    for seed in &s.users {
        let attributes = &exported[&seed.username];
        for n in 1..=extra {
            let name = pools::extra_attribute(n);
            assert_eq!(attributes.get(&name), seed.attributes.get(&name), "{name} of {} exported exactly", seed.key);
        }
    }

    let target = s.new_pool_like_source(None).await?;
    assert_verified(&s.import(None, json!({"NewUserPoolId": target})).await?);
    let restored = users_of(&s, &target).await?;
    for seed in s.users.iter().filter(|u| u.status != "EXTERNAL_PROVIDER") {
        let attributes = &restored[&seed.username];
        for n in 1..=extra {
            let name = pools::extra_attribute(n);
            assert_eq!(attributes.get(&name), seed.attributes.get(&name), "{name} of {} restored exactly", seed.key);
        }
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_restored_user_deleted_since() -> Result<()> {
    // The fixtures put every user in a group: this one is in none, so only the user is missing.
    let s = scenario("deletedsince", &[], pools::nasty_users(40), 3, |_| {}).await?;
    let loner = s
        .cloud
        .cognito()
        .admin_create_user()
        .user_pool_id(&s.pool_id)
        .username("loner")
        .user_attributes(AttributeType::builder().name("email").value("loner@example.com").build()?)
        .message_action(MessageActionType::Suppress)
        .send()
        .await?;
    let loner_sub = loner
        .user()
        .and_then(|u| u.attributes().iter().find(|a| a.name() == "sub"))
        .and_then(|a| a.value())
        .ok_or("AdminCreateUser returned the sub")?
        .to_owned();
    assert_succeeded(&s.export().await?);
    let target = s.new_pool_like_source(None).await?;
    assert_verified(&s.import(None, json!({"NewUserPoolId": target})).await?);

    s.cloud.cognito().admin_delete_user().user_pool_id(&target).username("loner").send().await?;
    let verify = s.import(None, json!({"NewUserPoolId": target, "VerifyOnly": true})).await?;
    assert_eq!(verify.error.as_deref(), Some("RestoreNotVerified"), "{:?}", verify.cause);
    assert_failed_with(&verify, &[&loner_sub, "1 missing"]);
    Ok(())
}
