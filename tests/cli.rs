//! The `cognito-backup` CLI, run as a binary against the local cloud: exit codes, `--json` output and
//! what each command does to the pools and tables.

use std::collections::BTreeSet;

use local_harness::Result;
use local_harness::checks::pool_state;
use local_harness::cli::{self, CliRun};
use local_harness::pools;
use local_harness::scenario::{Scenario, scenario};
use local_harness::workflows;
use serde_json::Value;

const BACKUP_REGION: &str = "us-west-2";

/// `cognito-backup --stack <the scenario's prefix> <args>`.
fn run(s: &Scenario, args: &[&str]) -> Result<CliRun> {
    let mut all = vec!["--stack", s.prefix.as_str()];
    all.extend_from_slice(args);
    cli::run(&s.cloud, &all)
}

fn assert_code(run: &CliRun, code: i32) {
    assert_eq!(run.code, code, "stdout: {}\nstderr: {}", run.stdout, run.stderr);
}

async fn exported(label: &str, users: usize, groups: usize) -> Result<Scenario> {
    let s = scenario(label, &[], pools::nasty_users(users), groups, |_| {}).await?;
    assert_code(&run(&s, &["export", "--wait"])?, 0);
    Ok(s)
}

/// (username, sub) of every user of a pool.
async fn users_of(s: &Scenario, region: Option<&str>, pool_id: &str) -> Result<Vec<(String, String)>> {
    let users = local_harness::checks::users_of(&s.cloud_in(region).await?, pool_id).await?;
    Ok(users
        .into_values()
        .map(|u| (u.sub().unwrap_or_default().to_owned(), u.username))
        .map(|(sub, name)| (name, sub))
        .collect())
}

#[tokio::test(flavor = "multi_thread")]
async fn status_reports_the_rpo_and_exits_2_until_a_good_export() -> Result<()> {
    let s = scenario("clistatus", &[], pools::nasty_users(30), 3, |_| {}).await?;
    let before = run(&s, &["--json", "status"])?;
    assert_code(&before, 2);
    let report = before.json();
    assert_eq!(report["rpo"]["exceeded"], true);
    assert_eq!(report["lastExport"], Value::Null);
    assert_eq!(report["pool"]["exists"], true);
    assert_eq!(report["backupTable"]["replicas"].as_array().map(Vec::len), Some(2), "{report}");

    let export = run(&s, &["--json", "export", "--wait"])?;
    assert_code(&export, 0);
    assert_eq!(export.json()["summary"]["counts"]["users"], 30);

    let after = run(&s, &["--json", "status"])?;
    assert_code(&after, 0);
    let report = after.json();
    assert_eq!(report["lastExport"]["users"], 30);
    assert_eq!(report["rpo"]["exceeded"], false);
    assert_eq!(report["rpo"]["thresholdSeconds"], 129_600.0, "1.5 × the daily schedule");

    let text = run(&s, &["status", "--max-age-hours", "0.00001"])?;
    assert_code(&text, 2);
    assert!(text.stdout.contains("RPO          EXCEEDED") && text.stdout.contains("30 users"), "{}", text.stdout);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn export_without_wait_starts_and_a_failed_run_exits_1_with_its_reason() -> Result<()> {
    let s = scenario("cliexport", &[], pools::nasty_users(10), 1, |_| {}).await?;
    let started = run(&s, &["--json", "export"])?;
    assert_code(&started, 0);
    let arn = started.json()["executionArn"].as_str().unwrap_or_default().to_owned();
    assert!(arn.contains(":execution:"), "{arn}");
    workflows::wait(&s.cloud, &arn, std::time::Duration::from_secs(300)).await?;

    s.cloud.cognito().delete_user_pool().user_pool_id(&s.pool_id).send().await?;
    let failed = run(&s, &["export", "--wait"])?;
    assert_code(&failed, 1);
    assert!(failed.stderr.contains("UserPoolNotFound"), "{}", failed.stderr);
    let status = run(&s, &["--json", "status"])?;
    assert_eq!(status.json()["pool"]["exists"], false);
    assert!(status.json()["lastFailure"]["error"].as_str().is_some_and(|e| e.contains("ExportFailed")));
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn restore_asks_first_and_exits_0_only_when_the_pool_is_verified() -> Result<()> {
    let s = exported("clirestore", 40, 3).await?;
    let created = run(&s, &["--json", "create-pool", "--name", "cli-restored"])?;
    assert_code(&created, 0);
    let target = created.json()["userPoolId"].as_str().unwrap_or_default().to_owned();

    // Not a terminal and no --yes: refused as a usage error, nothing written.
    let refused = run(&s, &["restore", "--target-pool", &target, "--wait"])?;
    assert_code(&refused, 64);
    assert!(refused.stderr.contains("Plan:") && refused.stderr.contains("--yes"), "{}", refused.stderr);
    assert!(users_of(&s, None, &target).await?.is_empty());

    let dry = run(&s, &["--json", "restore", "--target-pool", &target, "--dry-run"])?;
    assert_code(&dry, 0);
    assert_eq!(dry.json()["plan"]["usersNotRestorable"], 0, "{}", dry.stdout);
    assert!(users_of(&s, None, &target).await?.is_empty());

    let restored = run(&s, &["--json", "restore", "--target-pool", &target, "--yes", "--wait"])?;
    assert_code(&restored, 0);
    assert_eq!(restored.json()["report"]["verified"], true);
    assert_eq!(users_of(&s, None, &target).await?.len(), 40);

    let (gone, _) = users_of(&s, None, &target).await?.remove(5);
    s.cloud.cognito().admin_delete_user().user_pool_id(&target).username(&gone).send().await?;
    let verify = run(&s, &["restore", "--target-pool", &target, "--verify-only", "--wait"])?;
    assert_code(&verify, 2);
    assert!(verify.stderr.contains("differs from the backup"), "{}", verify.stderr);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_restore_runs_in_the_backup_region_with_region() -> Result<()> {
    let s = exported("cliwest", 20, 2).await?;
    let created = run(&s, &["--json", "--region", BACKUP_REGION, "create-pool", "--name", "west"])?;
    assert_code(&created, 0);
    let target = created.json()["userPoolId"].as_str().unwrap_or_default().to_owned();
    assert!(target.starts_with(BACKUP_REGION));
    let restored = run(&s, &["--region", BACKUP_REGION, "restore", "--target-pool", &target, "--yes", "--wait"])?;
    assert_code(&restored, 0);
    assert_eq!(users_of(&s, Some(BACKUP_REGION), &target).await?.len(), 20);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deleted_user_comes_back_with_restore_user_by_sub_username_or_email() -> Result<()> {
    let s = exported("cliuser", 30, 3).await?;
    let before = pool_state(&s).await?;
    let cognito = s.cloud.cognito();
    let victims = [&s.users[4], &s.users[9], &s.users[12]];
    for v in victims {
        cognito.admin_delete_user().user_pool_id(&s.pool_id).username(&v.username).send().await?;
    }
    let by = [
        ("--sub", s.sub(&victims[0].key).to_owned()),
        ("--username", victims[1].username.clone()),
        ("--email", victims[2].attributes["email"].clone()),
    ];
    for (flag, value) in &by {
        let back = run(&s, &["--json", "restore-user", flag, value, "--target-pool", &s.pool_id])?;
        assert_code(&back, 0);
        assert_eq!(back.json()["created"], true);
    }
    let after = pool_state(&s).await?;
    assert_eq!(after.subs.len(), before.subs.len(), "every user is back (with a new sub)");
    let memberships = |state: &local_harness::checks::PoolState| state.memberships.len();
    assert_eq!(memberships(&after), memberships(&before), "with its groups");
    let disabled = cognito.admin_get_user().user_pool_id(&s.pool_id).username(&victims[1].username).send().await?;
    assert_eq!(disabled.enabled(), victims[1].enabled, "enabled flag as in the backup");

    let again = run(&s, &["restore-user", "--sub", s.sub(&victims[0].key), "--target-pool", &s.pool_id])?;
    assert_code(&again, 1);
    assert!(again.stderr.contains("UserExists") && again.stderr.contains("--overwrite"), "{}", again.stderr);
    let overwrite =
        run(&s, &["restore-user", "--sub", s.sub(&victims[0].key), "--target-pool", &s.pool_id, "--overwrite"])?;
    assert_code(&overwrite, 0);
    assert!(overwrite.stdout.contains("overwritten"), "{}", overwrite.stdout);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dump_loaded_into_a_new_table_or_a_pool_restores_like_the_original() -> Result<()> {
    let s = exported("clidump", 60, 4).await?;
    let dir = std::env::temp_dir().join(workflows::unique_prefix("dump"));
    std::fs::create_dir_all(&dir)?;
    let file = dir.join("backup.ndjson.gz");
    let file = file.to_str().unwrap_or_default();
    let dumped = run(&s, &["--json", "dump", "--out", file])?;
    assert_code(&dumped, 0);
    assert_eq!(dumped.json()["counts"]["users"], 60);

    let copy = format!("{}-copy", s.deployment.backup_table_name);
    let loaded = run(&s, &["--json", "load", "--in", file, "--into-table", &copy])?;
    assert_code(&loaded, 0);
    let original = workflows::keys(&s.items().await?);
    let copied = workflows::keys(&workflows::backup_items(&s.cloud, &copy).await?);
    let content =
        |k: &BTreeSet<(String, String)>| k.iter().filter(|(pk, _)| pk != "EXPORT").cloned().collect::<BTreeSet<_>>();
    assert_eq!(content(&copied), content(&original), "the same items");

    let created = run(&s, &["--json", "create-pool", "--name", "from-dump"])?;
    let target = created.json()["userPoolId"].as_str().unwrap_or_default().to_owned();
    let restored = run(&s, &["load", "--in", file, "--target-pool", &target, "--yes"])?;
    assert_code(&restored, 0);
    assert_eq!(users_of(&s, None, &target).await?.len(), 59, "every native user (one is federated)");

    // Damage is refused with the line named.
    let plain = dir.join("broken.ndjson");
    let text = String::from_utf8(gunzip(file)?)?;
    let broken: String = text
        .lines()
        .enumerate()
        .map(|(i, l)| if i == 3 { "{\"type\":\"USER\",\"item\":{}}\n".to_owned() } else { format!("{l}\n") })
        .collect();
    std::fs::write(&plain, broken)?;
    let refused = run(&s, &["load", "--in", plain.to_str().unwrap_or_default(), "--into-table", &format!("{copy}2")])?;
    assert_code(&refused, 1);
    assert!(refused.stderr.contains("line 4"), "{}", refused.stderr);
    Ok(())
}

fn gunzip(path: &str) -> Result<Vec<u8>> {
    let out = std::process::Command::new("gzip").args(["-dc", path]).output()?;
    Ok(out.stdout)
}

#[tokio::test(flavor = "multi_thread")]
async fn restore_as_of_brings_back_a_user_deleted_since() -> Result<()> {
    let s = exported("cliasof", 25, 2).await?;
    tokio::time::sleep(std::time::Duration::from_millis(1_500)).await;
    let as_of = rfc3339_now();
    tokio::time::sleep(std::time::Duration::from_millis(1_500)).await;
    let gone = &s.users[3];
    s.cloud.cognito().admin_delete_user().user_pool_id(&s.pool_id).username(&gone.username).send().await?;
    assert_code(&run(&s, &["export", "--wait"])?, 0);
    assert!(
        s.items().await?.iter().all(|i| i.as_user().is_none_or(|u| u.username != gone.username)),
        "gone from the backup"
    );

    let created = run(&s, &["--json", "create-pool", "--name", "as-of"])?;
    let target = created.json()["userPoolId"].as_str().unwrap_or_default().to_owned();
    let restored = run(&s, &["restore", "--target-pool", &target, "--as-of", &as_of, "--yes", "--wait"])?;
    assert_code(&restored, 0);
    let users = users_of(&s, None, &target).await?;
    assert!(users.iter().any(|(name, _)| *name == gone.username), "the user deleted after the time is back");
    assert_eq!(users.len(), 25);
    let tables = s.cloud.dynamodb().list_tables().send().await?;
    assert!(
        !tables.table_names().iter().any(|t| t.starts_with(&format!("{}-asof", s.deployment.backup_table_name))),
        "the temporary table is removed"
    );
    Ok(())
}

/// Now, in RFC 3339 (whole seconds, as `--as-of` takes it).
fn rfc3339_now() -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    aws_smithy_types::DateTime::from_secs(now as i64)
        .fmt(aws_smithy_types::date_time::Format::DateTime)
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn usage_errors_exit_64_and_several_deployments_need_stack() -> Result<()> {
    let s = scenario("cliusage", &[], pools::nasty_users(5), 1, |_| {}).await?;
    // A second deployment in the same Region: without --stack the CLI cannot choose.
    let other = workflows::unique_prefix("cliother");
    workflows::deploy(&s.cloud, &other, &s.pool_id, |_| {}).await?;
    let ambiguous = cli::run(&s.cloud, &["status"])?;
    assert_code(&ambiguous, 64);
    assert!(ambiguous.stderr.contains("--stack") && ambiguous.stderr.contains(&other), "{}", ambiguous.stderr);

    for args in [
        vec!["restore-user", "--target-pool", "us-east-1_x"],
        vec!["restore-user", "--sub", "a", "--email", "b", "--target-pool", "us-east-1_x"],
        vec!["restore", "--dry-run", "--verify-only", "--target-pool", "us-east-1_x"],
        vec!["restore", "--target-pool", "us-east-1_x", "--as-of", "yesterday"],
        vec!["load", "--in", "x.ndjson"],
        vec!["frobnicate"],
    ] {
        let out = run(&s, &args)?;
        assert_code(&out, 64);
    }
    assert_code(&run(&s, &["--help"])?, 0);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn the_profile_chooses_the_region() -> Result<()> {
    let s = scenario("cliprofile", &[], pools::nasty_users(5), 1, |_| {}).await?;
    let dir = std::env::temp_dir().join(workflows::unique_prefix("awsconfig"));
    std::fs::create_dir_all(&dir)?;
    let config = dir.join("config");
    std::fs::write(&config, format!("[profile restore-site]\nregion = {BACKUP_REGION}\n"))?;
    let config = config.to_str().unwrap_or_default().to_owned();
    let args = ["--profile", "restore-site", "--stack", s.prefix.as_str(), "--json", "status"];
    let out = cli::run_with(&s.cloud, &args, &[("AWS_CONFIG_FILE", &config), ("AWS_REGION", "")])?;
    assert_eq!(out.json()["deployment"]["region"], BACKUP_REGION, "{}", out.stderr);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn the_conflict_policy_export_options_and_dump_to_stdout_reach_their_targets() -> Result<()> {
    let s = exported("clioptions", 20, 2).await?;
    let created = run(&s, &["--json", "create-pool", "--name", "occupied"])?;
    let target = created.json()["userPoolId"].as_str().unwrap_or_default().to_owned();
    let existing = &s.users[0].username;
    s.cloud
        .cognito()
        .admin_create_user()
        .user_pool_id(&target)
        .username(existing)
        .message_action(aws_sdk_cognitoidentityprovider::types::MessageActionType::Suppress)
        .send()
        .await?;
    let refused = run(&s, &["restore", "--target-pool", &target, "--yes", "--wait"])?;
    assert_code(&refused, 1);
    assert!(refused.stderr.contains("TargetPoolNotEmpty"), "{}", refused.stderr);
    for policy in ["skip-existing", "overwrite"] {
        let restored = run(&s, &["restore", "--target-pool", &target, "--conflict-policy", policy, "--yes", "--wait"])?;
        assert_code(&restored, 0);
        assert_eq!(users_of(&s, None, &target).await?.len(), 20, "{policy}: no duplicate");
    }

    let export = run(&s, &["--json", "export", "--wait", "--allow-count-mismatch", "--allow-mass-removal"])?;
    assert_code(&export, 0);
    let arn = export.json()["executionArn"].as_str().unwrap_or_default().to_owned();
    let described = s.cloud.sfn().describe_execution().execution_arn(&arn).send().await?;
    let input: serde_json::Value = serde_json::from_str(described.input().unwrap_or("{}"))?;
    assert_eq!(input, serde_json::json!({"AllowCountMismatch": true, "AllowMassRemoval": true}));

    let dumped = run(&s, &["dump", "--out", "-"])?;
    assert_code(&dumped, 0);
    let lines: Vec<&str> = dumped.stdout.lines().collect();
    let header: serde_json::Value = serde_json::from_str(lines[0])?;
    assert_eq!(header["format"], "cognito-backup-dump");
    let memberships: usize = s.groups.iter().map(|g| g.members.len()).sum();
    assert_eq!(lines.len(), 1 + 20 + 2 + memberships, "a header and one line per item");
    Ok(())
}
