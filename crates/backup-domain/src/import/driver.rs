//! The whole ImportWorkflow as its state machine runs it (statemachines/import-workflow.asl.json), for
//! tests and the virtual-time simulation.

use std::time::Duration;

use super::pipeline::{self, Pipeline, PipelineInput};
use super::plan::{self, Plan, PlanInput};
use super::preflight::{self, PreflightInput};
use super::report::{self, RestoreReport};
use super::verify::{self, Verification, VerifyInput};
use super::work::JobLimits;
use super::{ImportPorts, ImportRequest, ImportRun};
use crate::Deadline;
use crate::ports::{Notifier, WorkflowExecutions};
use crate::settings::{NotificationPreference, QuotaSettings};
use crate::step::StepError;
use crate::workflow_trace::Trace;
use tokio::time::Instant;

#[derive(Debug, Clone, Copy)]
pub struct DriverSettings {
    /// Each invocation's working time (`ZERO`: one round of work per invocation).
    pub invocation: Duration,
    pub quota: QuotaSettings,
    pub limits: JobLimits,
    pub concurrency: usize,
}

impl Default for DriverSettings {
    fn default() -> Self {
        Self {
            invocation: Duration::ZERO,
            quota: QuotaSettings { share: 0.5, scale: 1.0 },
            limits: JobLimits::default(),
            concurrency: 16,
        }
    }
}

/// How far a restore got.
#[derive(Debug, Default)]
pub struct Progress {
    pub run: Option<ImportRun>,
    pub plan: Option<Plan>,
    pub pipeline: Option<Pipeline>,
    pub verification: Option<Verification>,
    pub report: Option<RestoreReport>,
    pub invocations: u64,
    /// Seconds the state machine waited between pipeline calls.
    pub waited_seconds: u64,
    pub trace: Trace,
}

pub async fn run_import(
    ports: ImportPorts<'_>,
    executions: &dyn WorkflowExecutions,
    notifier: &dyn Notifier,
    settings: DriverSettings,
    execution_arn: &str,
    input: serde_json::Value,
    backup_table: &str,
) -> (Progress, Result<(), StepError>) {
    let mut progress = Progress::default();
    let result = drive(ports, executions, notifier, settings, execution_arn, input, backup_table, &mut progress).await;
    (progress, result)
}

#[allow(clippy::too_many_arguments)]
async fn drive(
    ports: ImportPorts<'_>,
    executions: &dyn WorkflowExecutions,
    notifier: &dyn Notifier,
    settings: DriverSettings,
    execution_arn: &str,
    input: serde_json::Value,
    backup_table: &str,
    progress: &mut Progress,
) -> Result<(), StepError> {
    let deadline = || Deadline::after(settings.invocation);
    let region = execution_arn.split(':').nth(3).unwrap_or("us-east-1");
    let request = ImportRequest::parse(&input, region, backup_table)?;
    let preflight_input =
        PreflightInput { execution_arn: execution_arn.into(), execution_name: None, execution_input: input };
    progress.trace.passed(1); // Begin
    let started = Instant::now();
    let run = preflight::run(ports, executions, &preflight_input, request).await?;
    progress.trace.record("Preflight", started, "run", &run);
    progress.run = Some(run.clone());
    if !run.verify_only {
        let mut plan: Option<Plan> = None;
        loop {
            progress.invocations += 1;
            let started = Instant::now();
            let out = plan::run(
                ports,
                PlanInput { run: run.clone(), plan: plan.take() },
                settings.quota,
                settings.limits,
                deadline(),
            )
            .await?;
            progress.trace.record("Plan", started, "plan", &out);
            let done = out.done;
            plan = Some(out);
            if done {
                break;
            }
        }
        progress.plan = plan.clone();
        if run.dry_run {
            return Ok(());
        }
        let plan = plan.unwrap_or_default();
        let mut state: Option<Pipeline> = None;
        loop {
            progress.invocations += 1;
            assert!(progress.invocations < 1_000_000, "the pipeline makes no progress: {state:?}");
            let input = PipelineInput { run: run.clone(), plan: plan.clone(), pipeline: state.take() };
            let started = Instant::now();
            let out = pipeline::run(ports, input, deadline()).await?;
            progress.trace.record("Restore", started, "pipeline", &out);
            if out.done {
                state = Some(out);
                break;
            }
            if out.wait_seconds > 0 {
                progress.waited_seconds += out.wait_seconds;
                progress.trace.passed(1); // WaitForImportJob
                tokio::time::sleep(Duration::from_secs(out.wait_seconds)).await;
            }
            state = Some(out);
        }
        progress.pipeline = state;
    }
    let mut verification: Option<Verification> = None;
    loop {
        progress.invocations += 1;
        let started = Instant::now();
        let out = verify::run(
            ports,
            VerifyInput { run: run.clone(), verification: verification.take() },
            settings.concurrency,
            deadline(),
        )
        .await?;
        progress.trace.record("Verify", started, "verification", &out);
        let done = out.done;
        verification = Some(out);
        if done {
            break;
        }
    }
    progress.verification = verification.clone();
    let input = report::ReportInput {
        run: run.clone(),
        plan: progress.plan.clone(),
        pipeline: progress.pipeline.clone(),
        verification: verification.unwrap_or_default(),
    };
    let started = Instant::now();
    let report = report::run(
        ports.objects,
        notifier,
        ports.leases,
        NotificationPreference::InfoAndErrors,
        input,
        ports.clock.now_ms(),
    )
    .await;
    match report {
        Ok(r) => {
            progress.trace.record("Report", started, "report", &r);
            progress.report = Some(r);
            Ok(())
        }
        Err(e) => Err(e),
    }
}
