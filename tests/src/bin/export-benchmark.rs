//! Export throughput on the local cloud: users exported per second by the ExportUsers step, with
//! Cognito calls given realistic latency, sequential (1 segment) versus parallel (16 `sub` segments),
//! at two quota shares. Run: `deployment/run-benchmark.sh [USERS]` (figures in BENCHMARKS.md).

use std::time::Duration;

use aws_sdk_sfn::types::{ExecutionStatus, HistoryEventType};
use local_harness::Result;
use local_harness::local_cloud::{Fault, LocalCloud};
use local_harness::pools;
use local_harness::workflows::{self, Execution};

struct Case {
    segments: usize,
    quota_share: f64,
    latency_ms: u64,
}

#[tokio::main]
async fn main() {
    if let Err(e) = run().await {
        eprintln!("benchmark failed: {e}");
        std::process::exit(1);
    }
}

async fn run() -> Result<()> {
    let users: usize = std::env::args().nth(1).map(|a| a.parse()).transpose()?.unwrap_or(10_000);
    let cloud = LocalCloud::connect().await?;
    let prefix = workflows::unique_prefix("bench");
    let pool_id = pools::create_pool(&cloud, &prefix, &[]).await?;
    cloud.seed(&pool_id, &pools::nasty_users(users), &[])?;

    let cases = [
        Case { segments: 1, quota_share: 0.5, latency_ms: 0 },
        Case { segments: 16, quota_share: 0.5, latency_ms: 0 },
        Case { segments: 1, quota_share: 0.5, latency_ms: 120 },
        Case { segments: 16, quota_share: 0.5, latency_ms: 120 },
        Case { segments: 1, quota_share: 1.0, latency_ms: 120 },
        Case { segments: 16, quota_share: 1.0, latency_ms: 120 },
    ];
    println!("{users} users; ListUsers pages of 60; UserList quota 30 calls/s");
    println!();
    println!("| segments | quota share | budget (calls/s) | added latency per call | ExportUsers time | users/s | ListUsers calls/s |");
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    for (i, case) in cases.iter().enumerate() {
        let deployment = workflows::deploy(&cloud, &format!("{prefix}{i}"), &pool_id, |cfg| {
            cfg.quota_share = case.quota_share;
            cfg.extra_environment
                .insert(backup_domain::settings::env::USER_LIST_SEGMENTS.into(), case.segments.to_string());
        })
        .await?;
        let fault = match case.latency_ms {
            0 => None,
            ms => Some(cloud.inject_fault(&Fault::latency("ListUsers", &pool_id, ms))?),
        };
        let execution = workflows::run_export(&cloud, &deployment, "{}").await;
        if let Some(id) = fault {
            cloud.clear_fault(&id)?;
        }
        let execution = execution?;
        if execution.status != ExecutionStatus::Succeeded {
            return Err(format!("export failed: {:?} {:?}", execution.error, execution.cause).into());
        }
        let seconds = users_step(&execution).ok_or("no ExportUsers timing in the history")?.as_secs_f64();
        // Each segment ends with one page that has no next token.
        let calls = users.div_ceil(60) + case.segments;
        println!(
            "| {} | {} | {} | {} ms | {:.1} s | {:.0} | {:.1} |",
            case.segments,
            case.quota_share,
            30.0 * case.quota_share,
            case.latency_ms,
            seconds,
            users as f64 / seconds,
            calls as f64 / seconds
        );
    }
    Ok(())
}

/// From entering ExportUsers the first time to entering ExportGroups.
fn users_step(execution: &Execution) -> Option<Duration> {
    let entered = |name: &str| {
        execution.history.iter().find(|e| {
            e.r#type() == &HistoryEventType::TaskStateEntered
                && e.state_entered_event_details().is_some_and(|d| d.name() == name)
        })
    };
    let start = entered("ExportUsers")?.timestamp().to_millis().ok()?;
    let end = entered("ExportGroups")?.timestamp().to_millis().ok()?;
    Some(Duration::from_millis((end - start).max(0) as u64))
}
