//! The fault suite: each fault of `tests/src/reliability.rs` (rendered as `docs/reliability.md`), injected
//! into real runs of the workflows on the local cloud. After each, the backup is exactly the pool (no user
//! lost or duplicated), or the run failed with a clear error having removed nothing. Every test also checks
//! that its fault really happened, so none can pass because the fault missed.

use std::time::Duration;

use aws_sdk_sfn::types::ExecutionStatus;
use backup_domain::settings::env;
use local_harness::Result;
use local_harness::checks::{assert_backup_is_the_pool, assert_succeeded, assert_verified};
use local_harness::local_cloud::Fault;
use local_harness::pools;
use local_harness::scenario::{Scenario, scenario};
use local_harness::workflows::{self, Execution, keys};
use serde_json::json;

const LIMIT: Duration = Duration::from_secs(600);

/// The tests that set global switches, or that a switch would disturb, run one at a time: nextest runs
/// each test in its own process (`.config/nextest.toml` groups them); `cargo test` shares this lock.
static GLOBAL_SWITCHES: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Restores the backup into a new pool and checks that the restore verifies.
async fn restore_verifies(s: &Scenario, target: &str) -> Result<()> {
    assert_verified(&s.import(None, json!({"NewUserPoolId": target})).await?);
    Ok(())
}

fn users_counted(execution: &Execution) -> Option<u64> {
    execution.output.as_ref().and_then(|o| o["counts"]["users"].as_u64())
}

/// Waits until the fault has acted on at least one call.
async fn until_hit(fault: &local_harness::local_cloud::ActiveFault) -> Result<()> {
    let started = std::time::Instant::now();
    while fault.hits()? == 0 {
        if started.elapsed() > LIMIT {
            return Err("the fault never happened".into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_throttling_storm_during_export_and_restore() -> Result<()> {
    let s = scenario("storm", &[], pools::nasty_users(120), 6, |_| {}).await?;
    let storm = |operation: &str, pool: &str| s.cloud.fault(&Fault::throttling_storm(operation, pool, 2, 30_000));
    {
        let users = storm("ListUsers", &s.pool_id)?;
        let members = storm("ListUsersInGroup", &s.pool_id)?;
        let export = s.export().await?;
        assert_succeeded(&export);
        assert!(users.hits()? > 0 && members.hits()? > 0, "the storm reached the export");
        assert_eq!(users_counted(&export), Some(120));
    }
    assert_backup_is_the_pool(&s).await?;

    let target = s.new_pool_like_source(None).await?;
    let created = storm("AdminCreateUser", &target)?;
    let added = storm("AdminAddUserToGroup", &target)?;
    restore_verifies(&s, &target).await?;
    assert!(created.hits()? > 0 && added.hits()? > 0, "the storm reached the restore");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn bursts_of_server_errors() -> Result<()> {
    let s = scenario("bursts", &[], pools::nasty_users(150), 4, |_| {}).await?;
    let table = s.deployment.backup_table_name.clone();
    let burst = |operation: &str, matching: &str, code: &str, every: u32, count: u32| {
        s.cloud.fault(&Fault {
            every: Some(every),
            ..Fault::error(operation, matching, code, 500, "We encountered an internal error", Some(count))
        })
    };
    let listing = burst("ListUsers", &s.pool_id, "InternalErrorException", 3, 4)?;
    let puts = burst("PutItem", &table, "InternalServerError", 5, 6)?;
    let gets = burst("BatchGetItem", &table, "InternalServerError", 2, 3)?;
    let export = s.export().await?;
    assert_succeeded(&export);
    for (name, fault) in [("ListUsers", &listing), ("PutItem", &puts), ("BatchGetItem", &gets)] {
        assert!(fault.hits()? > 0, "no {name} failed");
    }
    assert_eq!(users_counted(&export), Some(150));
    assert_backup_is_the_pool(&s).await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lambda_killed_mid_page() -> Result<()> {
    let s = scenario("killed", &[], pools::nasty_users(300), 4, |_| {}).await?;
    // The 61st write of a fresh backup is made by ExportUsers, in the middle of a page.
    let kill = s.cloud.fault(&Fault {
        operation: "PutItem".into(),
        r#match: Some(s.deployment.backup_table_name.clone()),
        skip: Some(60),
        count: Some(1),
        kill_function: Some(s.function("export-users")),
        ..Default::default()
    })?;
    let export = s.export().await?;
    assert_succeeded(&export);
    assert_eq!(kill.hits()?, 1);
    assert!(export.task_errors().iter().any(|e| e == "Runtime.ExitError"), "{:?}", export.task_errors());
    assert!(export.invocations() > export.times_entered_any(), "a step was invoked again");
    assert_eq!(users_counted(&export), Some(300), "each user counted once");
    assert_backup_is_the_pool(&s).await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lambda_timeout() -> Result<()> {
    let s = scenario("timeout", &[], pools::nasty_users(120), 3, |stack| {
        stack.function_timeout = Some(8);
        stack.environment.insert(env::INVOCATION_SAFETY_MARGIN_SECONDS.into(), "5".into());
    })
    .await?;
    let hang = s.cloud.fault(&Fault { count: Some(1), ..Fault::latency("ListUsers", &s.pool_id, 12_000) })?;
    let export = s.export().await?;
    assert_succeeded(&export);
    assert_eq!(hang.hits()?, 1);
    assert!(export.task_errors().iter().any(|e| e == "Sandbox.Timedout"), "{:?}", export.task_errors());
    assert_eq!(users_counted(&export), Some(120));
    assert_backup_is_the_pool(&s).await
}

#[tokio::test(flavor = "multi_thread")]
async fn unprocessed_batch_items() -> Result<()> {
    let s = scenario("unproc", &[], pools::nasty_users(150), 4, |_| {}).await?;
    let half_unprocessed = |operation: &str| {
        s.cloud.fault(&Fault {
            operation: operation.into(),
            // The prefix matches the backup table and the restore ledger.
            r#match: Some(s.prefix.clone()),
            unprocessed_share: Some(0.5),
            ..Default::default()
        })
    };
    let gets = half_unprocessed("BatchGetItem")?;
    let writes = half_unprocessed("BatchWriteItem")?;
    let export = s.export().await?;
    assert_succeeded(&export);
    assert_eq!(users_counted(&export), Some(150));
    assert_backup_is_the_pool(&s).await?;
    let target = s.new_pool_like_source(None).await?;
    restore_verifies(&s, &target).await?;
    assert!(gets.hits()? > 0 && writes.hits()? > 0, "batches were left unprocessed");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn an_expired_pagination_token() -> Result<()> {
    // One listing, so the refused token is in the middle of the only segment.
    let s = scenario("expired", &[], pools::nasty_users(250), 3, |stack| {
        stack.environment.insert(env::USER_LIST_CONCURRENCY.into(), "1".into());
    })
    .await?;
    let refused = s.cloud.fault(&Fault {
        body_has: Some("PaginationToken".into()),
        skip: Some(2),
        ..Fault::error(
            "ListUsers",
            &s.pool_id,
            "InvalidParameterException",
            400,
            "Invalid pagination token: the token has expired",
            Some(1),
        )
    })?;
    let export = s.export().await?;
    assert_succeeded(&export);
    assert_eq!(refused.hits()?, 1);
    assert_eq!(users_counted(&export), Some(250), "each user counted once");
    assert_backup_is_the_pool(&s).await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_group_deleted_mid_run() -> Result<()> {
    let s = scenario("groupgone", &[], pools::nasty_users(60), 5, |_| {}).await?;
    let first = {
        // Every member listing takes 2 s: the group is deleted while its listing is under way.
        let slow = s.cloud.fault(&Fault::latency("ListUsersInGroup", &s.pool_id, 2_000))?;
        let arn = workflows::start(&s.cloud, s.deployment.export_state_machine_arn(), "{}").await?;
        until_hit(&slow).await?;
        s.cloud.cognito().delete_group().user_pool_id(&s.pool_id).group_name(&s.groups[1].name).send().await?;
        workflows::wait(&s.cloud, &arn, LIMIT).await?
    };
    assert_succeeded(&first);
    let gone_seen = first.step_outputs().iter().any(|o| o["groupsGone"].as_u64() == Some(1));
    assert!(gone_seen, "the memberships step saw the group go");

    assert_succeeded(&s.export().await?);
    assert_backup_is_the_pool(&s).await
}

#[tokio::test(flavor = "multi_thread")]
async fn the_pool_deleted_mid_run() -> Result<()> {
    let s = scenario("poolgone", &[], pools::nasty_users(60), 5, |_| {}).await?;
    assert_succeeded(&s.export().await?);
    let before = keys(&s.items().await?);
    s.inbox.messages().await?;

    let failed = {
        let slow = s.cloud.fault(&Fault::latency("ListUsersInGroup", &s.pool_id, 2_000))?;
        let arn = workflows::start(&s.cloud, s.deployment.export_state_machine_arn(), "{}").await?;
        until_hit(&slow).await?;
        s.cloud.cognito().delete_user_pool().user_pool_id(&s.pool_id).send().await?;
        workflows::wait(&s.cloud, &arn, LIMIT).await?
    };
    assert_eq!(failed.status, ExecutionStatus::Failed);
    assert_eq!(failed.error.as_deref(), Some("ExportFailed"));
    let cause = failed.cause.clone().unwrap_or_default();
    assert!(cause.contains("UserPoolNotFound"), "{cause}");
    assert_eq!(keys(&s.items().await?), before, "not one backup item removed");
    let messages = s.inbox.messages().await?;
    assert!(
        messages
            .iter()
            .any(|(subject, body)| subject.contains("failed") && body.contains("No backup item was removed")),
        "{messages:?}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn two_simultaneous_starts() -> Result<()> {
    let _one_at_a_time = GLOBAL_SWITCHES.lock().await;
    let s = scenario("twice", &[], pools::nasty_users(40), 2, |_| {}).await?;
    let _lag = s.cloud.switch("stepfunctions", json!({"consistencyLagMs": 3000}))?;
    let arn = s.deployment.export_state_machine_arn();
    let (a, b) = tokio::join!(workflows::start(&s.cloud, arn, "{}"), workflows::start(&s.cloud, arn, "{}"));
    let (a, b) = (workflows::wait(&s.cloud, &a?, LIMIT).await?, workflows::wait(&s.cloud, &b?, LIMIT).await?);
    exactly_one_worked(&s, a, b).await
}

/// Of two executions, one exported and the other stopped at once, having written nothing.
async fn exactly_one_worked(s: &Scenario, a: Execution, b: Execution) -> Result<()> {
    assert_succeeded(&a);
    assert_succeeded(&b);
    assert!(a.proceeded() != b.proceeded(), "exactly one proceeded: {:?} / {:?}", a.output, b.output);
    let (winner, loser) = if a.proceeded() { (a, b) } else { (b, a) };
    let out = loser.output.clone().unwrap_or_default();
    assert_eq!(out["proceed"], false, "{out}");
    assert_eq!(out["runningExecutionArn"], winner.arn.as_str());
    assert_eq!(loser.times_entered("ExportUsers"), 0, "the other execution never listed or wrote");
    assert_backup_is_the_pool(s).await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_scheduled_event_delivered_twice() -> Result<()> {
    let _one_at_a_time = GLOBAL_SWITCHES.lock().await;
    let s = scenario("duplicate", &[], pools::nasty_users(40), 2, |_| {}).await?;
    let _lag = s.cloud.switch("stepfunctions", json!({"consistencyLagMs": 3000}))?;
    let fired = s.cloud.fire_schedule(&s.schedule_rule(), 2)?;
    let arns: Vec<String> = fired["deliveries"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|d| d["result"]["executionArn"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(arns.len(), 2, "both deliveries started an execution: {fired}");
    let a = workflows::wait(&s.cloud, &arns[0], LIMIT).await?;
    let b = workflows::wait(&s.cloud, &arns[1], LIMIT).await?;
    exactly_one_worked(&s, a, b).await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stopped_run_and_a_new_one() -> Result<()> {
    let _one_at_a_time = GLOBAL_SWITCHES.lock().await;
    let s = scenario("stopped", &[], pools::nasty_users(200), 3, |_| {}).await?;
    let stopped = {
        let slow = s.cloud.fault(&Fault::latency("ListUsers", &s.pool_id, 300))?;
        let arn = workflows::start(&s.cloud, s.deployment.export_state_machine_arn(), "{}").await?;
        until_hit(&slow).await?;
        s.cloud.sfn().stop_execution().execution_arn(&arn).cause("stopped by the fault suite").send().await?;
        arn
    };
    let next = s.export().await?;
    assert_succeeded(&next);
    assert!(next.proceeded(), "the new run took the stopped run's lease: {:?}", next.output);
    assert_eq!(users_counted(&next), Some(200));
    assert_backup_is_the_pool(&s).await?;

    let name = stopped.rsplit(':').next().unwrap_or_default().to_owned();
    let started = std::time::Instant::now();
    loop {
        let messages = s.inbox.messages().await?;
        if messages.iter().any(|(subject, body)| subject.contains("was stopped") && body.contains(&name)) {
            return Ok(());
        }
        assert!(started.elapsed() < Duration::from_secs(60), "the stop was not announced: {messages:?}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
