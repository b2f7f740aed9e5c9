//! `export`: start the ExportWorkflow, and with --wait follow it with progress.

use serde_json::{Value, json};

use crate::context::Context;
use crate::error::{CliError, CliResult, DONE};
use crate::executions::{self, Execution};
use crate::output::{duration, emit};
use crate::progress::Progress;

/// Users listed so far: finished segments' counts and running ones'.
fn users_listed(cursor: &Value) -> u64 {
    let listing = &cursor["listing"];
    let running: u64 =
        listing["segments"].as_array().into_iter().flatten().filter_map(|s| s["counts"]["users"].as_u64()).sum();
    listing["counts"]["users"].as_u64().unwrap_or(0) + running
}

/// The phase and how far it got: users against the pool's estimate, then groups, then memberships.
fn export_progress(e: &Execution) -> (String, u64, u64) {
    let estimate = e.outputs.get("OpenRun").and_then(|o| o["run"]["estimatedUsersAtStart"].as_u64()).unwrap_or(0);
    let state = e.state.clone().unwrap_or_else(|| "starting".into());
    match state.as_str() {
        "ExportGroups" | "ExportMemberships" => {
            let members = e.outputs.get("ExportMemberships").and_then(|m| m["memberships"].as_u64()).unwrap_or(0);
            (format!("{state} ({members} memberships)"), estimate, estimate)
        }
        "CheckCompleteness" | "CleanUpBackup" | "CompleteExport" => (state, estimate, estimate),
        _ => {
            let listed = e.outputs.get("ExportUsers").map(users_listed).unwrap_or(0);
            (state, listed, estimate)
        }
    }
}

pub async fn run(ctx: &Context, wait: bool, allow_mass_removal: bool, allow_count_mismatch: bool) -> CliResult<u8> {
    // The ExportWorkflow runs in the primary Region only.
    let primary = ctx.primary().await?;
    let mut input = json!({});
    if allow_mass_removal {
        input["AllowMassRemoval"] = true.into();
    }
    if allow_count_mismatch {
        input["AllowCountMismatch"] = true.into();
    }
    let sfn = primary.sfn();
    let arn = executions::start(&sfn, &primary.deployment.export_state_machine_arn, &input).await?;
    if !wait {
        emit(ctx, &format!("started {arn}\n"), &json!({"executionArn": arn}));
        return Ok(DONE);
    }
    eprintln!("export started: {arn}");
    let progress = Progress::new(ctx.json);
    let done = executions::follow(&sfn, &arn, |e| {
        let (phase, done, total) = export_progress(e);
        progress.show(&phase, done, total);
    })
    .await?;
    progress.finish();
    if !done.succeeded() {
        return Err(CliError::Failed(format!("the export failed: {}", done.failure())));
    }
    let output = done.output.clone().unwrap_or_default();
    if output["proceed"] == false {
        let text = format!("another export holds the lease and is running: {}\n", output["runningExecutionArn"]);
        emit(
            ctx,
            &text,
            &json!({"executionArn": arn, "proceeded": false, "runningExecutionArn": output["runningExecutionArn"]}),
        );
        return Ok(DONE);
    }
    let c = &output["counts"];
    let text = format!(
        "export done in {}: {} users, {} groups, {} memberships; {} items written, {} removed\n",
        duration(done.seconds),
        c["users"],
        c["groups"],
        c["memberships"],
        c["writtenItems"],
        c["removedUsers"].as_u64().unwrap_or(0)
            + c["removedGroups"].as_u64().unwrap_or(0)
            + c["removedMemberships"].as_u64().unwrap_or(0)
    );
    emit(ctx, &text, &json!({"executionArn": arn, "proceeded": true, "seconds": done.seconds, "summary": output}));
    Ok(DONE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_are_counted_from_finished_and_running_segments() {
        let cursor = json!({"listing": {"counts": {"users": 120}, "segments": [{"counts": {"users": 30}}, {"counts": {"users": 5}}]}});
        assert_eq!(users_listed(&cursor), 155);
    }
}
