//! `restore`: the ImportWorkflow from the command line: the plan first (a dry run) and a question unless
//! --yes, progress per phase with --wait, and the verification's verdict as the exit code. `--as-of`
//! restores from a point-in-time copy of the backup table.

use std::io::{BufRead, IsTerminal, Write};

use serde_json::{Value, json};

use crate::cli::{Policy, RestoreArgs};
use crate::context::Context;
use crate::error::{CliError, CliResult, DONE};
use crate::executions::{self, Execution};
use crate::output::{duration, emit};
use crate::progress::Progress;
use crate::tables;

/// One restore, as the commands that restore (`restore`, `load --target-pool`) describe it.
pub struct Restore {
    pub target_pool: String,
    pub policy: Policy,
    pub dry_run: bool,
    pub verify_only: bool,
    pub yes: bool,
    pub wait: bool,
    pub allow_source_pool: bool,
    /// A copy of the backup table to restore from, instead of the backup table.
    pub backup_table: Option<String>,
}

impl Restore {
    fn input(&self, dry_run: bool) -> Value {
        let mut input = json!({"NewUserPoolId": self.target_pool, "ConflictPolicy": self.policy.input()});
        if dry_run {
            input["DryRun"] = true.into();
        }
        if self.verify_only {
            input["VerifyOnly"] = true.into();
        }
        // The question (or --yes) is the confirmation the ImportWorkflow asks for before overwriting.
        if self.policy == Policy::Overwrite && !dry_run {
            input["ConfirmOverwrite"] = true.into();
        }
        if self.allow_source_pool {
            input["AllowSourcePool"] = true.into();
        }
        if let Some(t) = &self.backup_table {
            input["BackupTableName"] = t.clone().into();
        }
        input
    }
}

pub async fn run(ctx: &Context, args: &RestoreArgs) -> CliResult<u8> {
    let mut restore = Restore {
        target_pool: args.target_pool.clone(),
        policy: args.conflict_policy,
        dry_run: args.dry_run,
        verify_only: args.verify_only,
        yes: args.yes,
        wait: args.wait,
        allow_source_pool: args.allow_source_pool,
        backup_table: None,
    };
    let Some(time) = args.as_of else { return run_restore(ctx, &restore).await };
    let backup = &ctx.deployment.backup_table_name;
    let copy = tables::copy_name(backup, "asof", time.secs());
    eprintln!("restoring table {backup} as of {time} into {copy}…");
    tables::restore_as_of(ctx, backup, &copy, time).await?;
    restore.backup_table = Some(copy.clone());
    // The copy only serves this restore: removed whatever the outcome (a restore started without --wait
    // still needs it, so it is kept then).
    let result = run_restore(ctx, &restore).await;
    if restore.wait || restore.dry_run || result.is_err() {
        tables::delete(ctx, &copy).await;
    } else {
        eprintln!("the restore runs from table {copy}: delete it when the restore has ended");
    }
    result
}

/// The plan's summary line.
fn plan_text(plan: &Value) -> String {
    format!(
        "Plan: {} users by CSV import ({} jobs), {} by AdminCreateUser, {} not restorable; {} groups, {} memberships; \
         about {} at the quotas\n",
        plan["usersByCsvImport"],
        plan["csvJobs"],
        plan["usersByAdminCreateUser"],
        plan["usersNotRestorable"],
        plan["groups"],
        plan["memberships"],
        duration(plan["estimatedSeconds"].as_f64().unwrap_or(0.0))
    )
}

fn ask(question: &str) -> CliResult<bool> {
    if !std::io::stdin().is_terminal() {
        return Err(CliError::Usage(format!("{question} needs an answer: run it in a terminal, or pass --yes")));
    }
    eprint!("{question} [y/N] ");
    std::io::stderr().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}

/// The phase and how far it got.
fn restore_progress(e: &Execution) -> (String, u64, u64) {
    let plan = e.outputs.get("Plan");
    let state = e.state.clone().unwrap_or_else(|| "starting".into());
    let n = |v: Option<&Value>, k: &str| v.and_then(|v| v[k].as_u64()).unwrap_or(0);
    match state.as_str() {
        "Restore" => {
            let p = e.outputs.get("Restore");
            let users = n(plan, "usersByCsvImport") + n(plan, "usersByAdminCreateUser");
            let done_users = p.map_or(0, |p| {
                p["csv"]["imported"].as_u64().unwrap_or(0)
                    + p["direct"]["created"].as_u64().unwrap_or(0)
                    + p["direct"]["skippedExisting"].as_u64().unwrap_or(0)
                    + p["direct"]["overwritten"].as_u64().unwrap_or(0)
            });
            if done_users < users {
                ("restoring users".into(), done_users, users)
            } else {
                let added = p.map_or(0, |p| p["members"]["added"].as_u64().unwrap_or(0));
                ("restoring memberships".into(), added, n(plan, "memberships"))
            }
        }
        "Verify" => {
            let v = e.outputs.get("Verify");
            ("verifying".into(), n(v, "usersVerified"), n(v, "restorableUsers").max(n(plan, "usersByCsvImport")))
        }
        other => (other.to_owned(), 0, 0),
    }
}

async fn follow(ctx: &Context, arn: &str) -> CliResult<Execution> {
    let progress = Progress::new(ctx.json);
    let done = executions::follow(&ctx.sfn(), arn, |e| {
        let (phase, done, total) = restore_progress(e);
        progress.show(&phase, done, total);
    })
    .await;
    progress.finish();
    done
}

pub async fn run_restore(ctx: &Context, r: &Restore) -> CliResult<u8> {
    let sfn = ctx.sfn();
    let machine = &ctx.deployment.import_state_machine_arn;
    if r.dry_run || (!r.yes && !r.verify_only) {
        let arn = executions::start(&sfn, machine, &r.input(true)).await?;
        let dry = follow(ctx, &arn).await?;
        if !dry.succeeded() {
            return Err(CliError::Failed(format!("the restore cannot start: {}", dry.failure())));
        }
        let plan = dry.output.clone().unwrap_or_default();
        if r.dry_run {
            emit(ctx, &plan_text(&plan), &json!({"executionArn": arn, "plan": plan}));
            return Ok(DONE);
        }
        eprint!("{}", plan_text(&plan));
        let question = format!(
            "Restore into user pool {} in {} with conflict policy {}?",
            r.target_pool,
            ctx.region(),
            r.policy.input()
        );
        if !ask(&question)? {
            return Err(CliError::Failed("not confirmed: nothing was written".into()));
        }
    }
    let arn = executions::start(&sfn, machine, &r.input(false)).await?;
    if !r.wait {
        emit(ctx, &format!("started {arn}\n"), &json!({"executionArn": arn}));
        return Ok(DONE);
    }
    eprintln!("restore started: {arn}");
    let done = follow(ctx, &arn).await?;
    if done.error.as_deref() == Some("RestoreNotVerified") {
        return Err(CliError::NotVerified(format!(
            "the restored pool differs from the backup:\n{}",
            done.cause.clone().unwrap_or_default()
        )));
    }
    if !done.succeeded() {
        return Err(CliError::Failed(format!("the restore failed: {}", done.failure())));
    }
    let report = done.output.clone().unwrap_or_default();
    let v = &report["verification"];
    let text = format!(
        "restore {} in {}: {} of {} restorable users verified, {} groups, {} memberships; {} differences; report {}\n",
        if report["verified"] == true { "verified" } else { "NOT verified" },
        duration(done.seconds),
        v["usersVerified"],
        v["restorableUsers"],
        v["groupsVerified"],
        v["membershipsVerified"],
        v["differencesTotal"],
        report["reportLocation"].as_str().unwrap_or("")
    );
    emit(ctx, &text, &json!({"executionArn": arn, "seconds": done.seconds, "report": report}));
    if report["verified"] != true {
        return Err(CliError::NotVerified("the restored pool differs from the backup".into()));
    }
    Ok(DONE)
}
