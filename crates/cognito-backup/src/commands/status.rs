//! `status`: is the backup healthy, and how old is the last good export?

use aws_sdk_sfn::types::ExecutionStatus;
use backup_domain::capture::{CaptureStatus, STATUS_KEY};
use backup_domain::ports::{BackupStore, ObjectStore};
use backup_domain::schema::{BackupItem, ItemKey};
use serde_json::json;

use crate::context::Context;
use crate::error::{ATTENTION, CliResult, DONE, aws};
use crate::executions;
use crate::output::{duration, emit};

/// `rate(N unit)` in seconds; `None` for cron expressions.
pub fn schedule_interval(expression: &str) -> Option<f64> {
    let inner = expression.trim().strip_prefix("rate(")?.strip_suffix(')')?;
    let (n, unit) = inner.trim().split_once(' ')?;
    let n: f64 = n.parse().ok()?;
    let unit_seconds = match unit.trim().trim_end_matches('s') {
        "minute" => 60.0,
        "hour" => 3600.0,
        "day" => 86400.0,
        _ => return None,
    };
    Some(n * unit_seconds)
}

/// The age a good backup may reach: the schedule's interval and half again (a day when it cannot tell).
pub fn threshold_seconds(schedule: &str, max_age_hours: Option<f64>) -> f64 {
    max_age_hours.map(|h| h * 3600.0).unwrap_or_else(|| schedule_interval(schedule).unwrap_or(86_400.0) * 1.5)
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

pub async fn run(ctx: &Context, max_age_hours: Option<f64>) -> CliResult<u8> {
    let primary = ctx.primary().await?;
    let d = &ctx.deployment;

    let pool = match primary.cognito().describe_user_pool().user_pool_id(&d.user_pool_id).send().await {
        Ok(out) => json!({"id": d.user_pool_id, "exists": true,
            "estimatedUsers": out.user_pool().map(|p| p.estimated_number_of_users())}),
        Err(e) if e.as_service_error().is_some_and(|s| s.is_resource_not_found_exception()) => {
            json!({"id": d.user_pool_id, "exists": false})
        }
        Err(e) => return Err(aws(format!("reading user pool {}", d.user_pool_id))(e)),
    };

    let table = ctx
        .dynamodb()
        .describe_table()
        .table_name(&d.backup_table_name)
        .send()
        .await
        .map_err(aws(format!("reading table {}", d.backup_table_name)))?;
    let t = table.table();
    let replicas: Vec<_> = t
        .map(|t| t.replicas())
        .unwrap_or_default()
        .iter()
        .map(|r| json!({"region": r.region_name(), "status": r.replica_status().map(|s| s.as_str())}))
        .collect();

    let marker = ctx
        .backup_store(&d.backup_table_name)
        .get(&ItemKey::export_marker())
        .await
        .map_err(|e| crate::error::CliError::Failed(format!("reading the export marker: {e}")))?
        .and_then(|i| if let BackupItem::ExportMarker(m) = i { Some(m) } else { None });
    let threshold = threshold_seconds(&d.export_schedule, max_age_hours);
    let age = marker.as_ref().map(|m| (now_ms() - m.finished_at) as f64 / 1000.0);
    let rpo_exceeded = age.is_none_or(|a| a > threshold);

    let sfn = primary.sfn();
    let mut running = Vec::new();
    let mut last_failure: Option<(f64, serde_json::Value)> = None;
    for arn in [&primary.deployment.export_state_machine_arn, &ctx.deployment.import_state_machine_arn] {
        if arn.is_empty() {
            continue;
        }
        let client = if arn.contains(&format!(":{}:", primary.region())) { sfn.clone() } else { ctx.sfn() };
        for e in executions::listed(&client, arn, ExecutionStatus::Running, 10).await? {
            running.push(json!({"arn": e.execution_arn(), "started": e.start_date().to_string()}));
        }
        for status in [ExecutionStatus::Failed, ExecutionStatus::TimedOut, ExecutionStatus::Aborted] {
            for e in executions::listed(&client, arn, status, 1).await? {
                let stopped = e.stop_date().map(|d| d.as_secs_f64()).unwrap_or(0.0);
                if last_failure.as_ref().is_none_or(|(t, _)| stopped > *t) {
                    let described = client.describe_execution().execution_arn(e.execution_arn()).send().await;
                    let (error, cause) = described
                        .map(|d| (d.error().map(str::to_owned), d.cause().map(str::to_owned)))
                        .unwrap_or_default();
                    last_failure = Some((
                        stopped,
                        json!({"arn": e.execution_arn(), "status": e.status().as_str(), "stopped": e.stop_date().map(|d| d.to_string()),
                            "error": error, "cause": cause}),
                    ));
                }
            }
        }
    }

    // The change capture's latest batch (absent when capture is off or nothing changed yet).
    let objects =
        backup_aws::S3ObjectStore::new(aws_sdk_s3::Client::new(&primary.sdk), &primary.deployment.workflow_bucket_name);
    let capture: Option<CaptureStatus> = match objects.get(STATUS_KEY).await {
        Ok(Some(body)) => serde_json::from_slice(&body).ok(),
        _ => None,
    };
    let capture_json = capture.as_ref().map(|c| {
        json!({"lastBatchAtMs": c.last_batch_at_ms, "lastBatchAgeSeconds": (now_ms() - c.last_batch_at_ms) as f64 / 1000.0,
            "lastLagSeconds": c.last_lag_ms.map(|l| l as f64 / 1000.0)})
    });

    let last_export = marker.as_ref().map(|m| {
        json!({"runId": m.export_run_id, "finishedAtMs": m.finished_at, "ageSeconds": age,
            "users": m.counts.users, "groups": m.counts.groups, "memberships": m.counts.memberships,
            "durationSeconds": m.duration_seconds})
    });
    let report = json!({
        "deployment": {"prefix": d.prefix, "region": d.region, "primaryRegion": d.primary_region, "backupRegion": d.backup_region},
        "pool": pool,
        "backupTable": {"name": d.backup_table_name, "status": t.and_then(|t| t.table_status()).map(|s| s.as_str()), "replicas": replicas},
        "lastExport": last_export,
        "rpo": {"schedule": d.export_schedule, "thresholdSeconds": threshold, "ageSeconds": age, "exceeded": rpo_exceeded},
        "capture": capture_json,
        "running": running,
        "lastFailure": last_failure.map(|(_, f)| f),
    });

    let mut text = format!("Deployment {} ({}; backup Region {})\n", d.prefix, d.region, d.backup_region);
    text.push_str(&match report["pool"]["exists"].as_bool() {
        Some(true) => format!("  pool         {} (about {} users)\n", d.user_pool_id, report["pool"]["estimatedUsers"]),
        _ => format!("  pool         {} DOES NOT EXIST (restore it: docs/operations.md)\n", d.user_pool_id),
    });
    text.push_str(&format!(
        "  backup table {} {} ; replicas: {}\n",
        d.backup_table_name,
        report["backupTable"]["status"].as_str().unwrap_or("?"),
        report["backupTable"]["replicas"]
            .as_array()
            .map(|r| r
                .iter()
                .map(|x| format!("{} {}", x["region"].as_str().unwrap_or("?"), x["status"].as_str().unwrap_or("?")))
                .collect::<Vec<_>>()
                .join(", "))
            .unwrap_or_default()
    ));
    text.push_str(&match (&marker, age) {
        (Some(m), Some(a)) => format!(
            "  last export  {} ago: {} users, {} groups, {} memberships\n",
            duration(a),
            m.counts.users,
            m.counts.groups,
            m.counts.memberships
        ),
        _ => "  last export  none yet\n".to_owned(),
    });
    text.push_str(&format!(
        "  RPO          {} (threshold {}, schedule {})\n",
        if rpo_exceeded { "EXCEEDED" } else { "ok" },
        duration(threshold),
        d.export_schedule
    ));
    if let Some(c) = &capture {
        text.push_str(&format!(
            "  capture      last change captured {} ago, {} after the call\n",
            duration((now_ms() - c.last_batch_at_ms) as f64 / 1000.0),
            c.last_lag_ms.map(|l| duration(l as f64 / 1000.0)).unwrap_or_else(|| "?".into())
        ));
    }
    text.push_str(&format!("  running      {}\n", running.len()));
    if let Some(f) = report["lastFailure"].as_object() {
        text.push_str(&format!(
            "  last failure {} {} {}\n",
            f["status"].as_str().unwrap_or("?"),
            f["error"].as_str().unwrap_or(""),
            f["arn"].as_str().unwrap_or("")
        ));
    }
    emit(ctx, &text, &report);
    Ok(if rpo_exceeded { ATTENTION } else { DONE })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_threshold_follows_the_schedule() {
        assert_eq!(schedule_interval("rate(1 day)"), Some(86_400.0));
        assert_eq!(schedule_interval("rate(12 hours)"), Some(43_200.0));
        assert_eq!(schedule_interval("rate(30 minutes)"), Some(1_800.0));
        assert_eq!(schedule_interval("cron(0 3 * * ? *)"), None);
        assert_eq!(threshold_seconds("rate(1 day)", None), 129_600.0);
        assert_eq!(threshold_seconds("cron(0 3 * * ? *)", None), 129_600.0);
        assert_eq!(threshold_seconds("rate(1 day)", Some(2.0)), 7_200.0);
    }
}
