//! The local demo (README command 1, via deployment/run-local-demo.sh): seeds a realistic, nasty
//! user pool in the local cloud, deploys the stack, runs the ExportWorkflow through Step Functions and
//! prints a summary read back from the backup table; then creates a new pool from the backup's pool
//! snapshot, restores the backup into it with the ImportWorkflow and prints the verification report.
//! Exits non-zero if the backup disagrees with the pool or the restore is not verified.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use aws_sdk_sfn::types::{ExecutionStatus, HistoryEventType};
use backup_domain::schema::BackupItem;
use local_harness::Result;
use local_harness::local_cloud::LocalCloud;
use local_harness::pools;
use local_harness::workflows::{self, backup_items};

const USERS: usize = 1_200;
const GROUPS: usize = 80;

#[tokio::main]
async fn main() {
    if let Err(e) = run().await {
        eprintln!("local demo failed: {e}");
        std::process::exit(1);
    }
}

async fn run() -> Result<()> {
    let cloud = LocalCloud::connect().await?;
    let prefix = workflows::unique_prefix("demo");

    println!("1. Creating a user pool with custom attributes and seeding {USERS} users and {GROUPS} groups…");
    let pool_id = pools::create_pool(&cloud, &format!("{prefix}-pool"), &[]).await?;
    let users = pools::nasty_users(USERS);
    let groups = pools::groups_for(&users, GROUPS);
    let seeded = cloud.seed(&pool_id, &users, &groups)?;
    let memberships: usize = groups.iter().map(|g| g.members.len()).sum();
    println!(
        "   pool {pool_id}: {} users ({} disabled, {} unconfirmed, {} federated), {GROUPS} groups, {memberships} memberships",
        users.len(),
        users.iter().filter(|u| !u.enabled).count(),
        users.iter().filter(|u| u.status == "UNCONFIRMED").count(),
        users.iter().filter(|u| u.status == "EXTERNAL_PROVIDER").count(),
    );

    println!(
        "2. Deploying the stack (both workflows, backup table with its replica in the backup Region, topic, schedule)…"
    );
    // Nothing else uses the local pool, so the demo may take the whole of each Cognito quota.
    let deployment = workflows::deploy(&cloud, &prefix, &pool_id, |stack| stack.config.quota_share = 1.0).await?;
    println!(
        "   (quota share 1.0: the workflows may use all of each Cognito quota, as no application shares them here)"
    );
    println!("   state machine {}", deployment.export_state_machine_arn());

    println!("3. Running the ExportWorkflow through Step Functions…");
    let started = Instant::now();
    let arn = workflows::start(&cloud, deployment.export_state_machine_arn(), "{}").await?;
    follow(&cloud, &arn).await?;
    let execution = workflows::wait(&cloud, &arn, Duration::from_secs(600)).await?;
    if execution.status != ExecutionStatus::Succeeded {
        return Err(format!(
            "the ExportWorkflow ended {:?}: {:?} {:?}",
            execution.status, execution.error, execution.cause
        )
        .into());
    }
    let wall = started.elapsed();

    println!("4. Reading the backup table {}…", deployment.backup_table_name);
    let items = backup_items(&cloud, &deployment.backup_table_name).await?;
    let count = |f: fn(&BackupItem) -> bool| items.iter().filter(|i| f(i)).count();
    let (u, g, m) = (
        count(|i| matches!(i, BackupItem::User(_))),
        count(|i| matches!(i, BackupItem::Group(_))),
        count(|i| matches!(i, BackupItem::Membership(_))),
    );
    let marker = items
        .iter()
        .find_map(|i| if let BackupItem::ExportMarker(m) = i { Some(m.clone()) } else { None })
        .ok_or("the backup has no export marker")?;
    let subs: BTreeSet<&str> =
        items.iter().filter_map(|i| if let BackupItem::User(u) = i { Some(u.sub.as_str()) } else { None }).collect();
    let all_users_present = seeded.iter().all(|s| subs.contains(s.sub.as_str()));

    println!();
    println!("Summary (read back from the backup table)");
    println!("  users        {u:>6}   (pool: {})", users.len());
    println!("  groups       {g:>6}   (pool: {GROUPS})");
    println!("  memberships  {m:>6}   (pool: {memberships})");
    println!(
        "  duration     {:>6.1} s (workflow, from the export marker); {:.1} s wall clock",
        marker.duration_seconds,
        wall.as_secs_f64()
    );
    if u != users.len() || g != GROUPS || m != memberships || !all_users_present {
        return Err("the backup does not match the pool".into());
    }
    println!("  every user, group and membership of the pool is in the backup.");

    let snapshot = items
        .iter()
        .find_map(|i| if let BackupItem::PoolSnapshot(p) = i { Some(p.pool.clone()) } else { None })
        .ok_or("the backup has no pool snapshot")?;
    println!();
    println!("5. Creating a new pool from the backup's pool snapshot and restoring into it with the ImportWorkflow…");
    let target = backup_aws::create_pool_like(&cloud.cognito(), &snapshot, &format!("{prefix}-restored")).await?;
    println!("   new pool {target}");
    let input = serde_json::json!({"NewUserPoolId": target}).to_string();
    let arn = workflows::start(&cloud, &deployment.primary.import_state_machine_arn, &input).await?;
    follow(&cloud, &arn).await?;
    let restore = workflows::wait(&cloud, &arn, Duration::from_secs(900)).await?;
    let Some(report) = restore.output.filter(|_| restore.status == ExecutionStatus::Succeeded) else {
        return Err(
            format!("the ImportWorkflow ended {:?}: {:?} {:?}", restore.status, restore.error, restore.cause).into()
        );
    };
    let n = |v: &serde_json::Value| v.as_u64().unwrap_or(0);
    let (plan, p, v) = (&report["plan"], &report["pipeline"], &report["verification"]);
    println!();
    println!("Restore report ({})", report["reportLocation"].as_str().unwrap_or_default());
    println!(
        "  users by CSV import    {:>6}   ({} import job(s), {} rows rejected and retried)",
        n(&p["csv"]["imported"]),
        n(&p["csv"]["jobsDone"]),
        n(&p["csv"]["rejected"])
    );
    println!(
        "  users by AdminCreateUser {:>4}   (values the CSV dialect would change, unconfirmed, unverified or disabled users)",
        n(&p["direct"]["created"])
    );
    println!(
        "  not restorable         {:>6}   (federated users, listed with the reason)",
        n(&plan["usersNotRestorable"])
    );
    println!("  groups                 {:>6}", n(&p["groups"]["created"]));
    println!(
        "  disabled users         {:>6}   (each disabled right after it was created)",
        n(&p["direct"]["disabled"])
    );
    println!("  memberships            {:>6}", n(&p["members"]["added"]));
    println!(
        "  verified               {:>6} of {} restorable users, {} groups, {} memberships",
        n(&v["usersVerified"]),
        n(&v["restorableUsers"]),
        n(&v["groupsVerified"]),
        n(&v["membershipsVerified"])
    );
    println!(
        "  differences            {:>6}   beyond the documented ones (new sub, no password, RESET_REQUIRED or FORCE_CHANGE_PASSWORD)",
        n(&v["differencesTotal"])
    );
    println!(
        "  duration               {:>6.1} s (the plan estimated {:.0} s from Cognito's quotas)",
        report["durationSeconds"].as_f64().unwrap_or_default(),
        plan["estimatedSeconds"].as_f64().unwrap_or_default()
    );
    if report["verified"] != true {
        return Err("the restore was not verified".into());
    }
    println!("  the restored pool matches the backup.");
    Ok(())
}

/// Prints each step as the execution enters it.
async fn follow(cloud: &LocalCloud, arn: &str) -> Result<()> {
    let sfn = cloud.sfn();
    let mut seen = 0;
    loop {
        let history = sfn.get_execution_history().execution_arn(arn).max_results(1000).send().await?;
        for event in history.events().iter().skip(seen) {
            if event.r#type() == &HistoryEventType::TaskStateEntered
                && let Some(d) = event.state_entered_event_details()
            {
                println!("   → {}", d.name());
            }
        }
        seen = history.events().len();
        let status = sfn.describe_execution().execution_arn(arn).send().await?.status().clone();
        if status != ExecutionStatus::Running {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}
