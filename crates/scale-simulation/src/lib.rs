//! A virtual-time simulation of the workflows at scale: the real export and import steps, driven as their
//! state machines drive them, over in-memory adapters whose Cognito answers with the quotas and latency of
//! AWS (`backup_domain::memory::CognitoModel`), on tokio's paused clock. A day of work passes in minutes,
//! and every step's state, history and invocation time is measured against Step Functions' and Lambda's
//! limits.

mod floors;
mod pools;
mod report;

use std::sync::Arc;
use std::time::Duration;

use backup_domain::export::ExportPorts;
use backup_domain::export::driver::{DriverSettings as ExportDriver, Invocations, run_export};
use backup_domain::import::ImportPorts;
use backup_domain::import::driver::{DriverSettings as ImportDriver, run_import};
use backup_domain::import::work::JobLimits;
use backup_domain::memory::{
    CognitoModel, CognitoModelSettings, InMemoryLease, InMemoryLedger, InMemoryObjects, InMemoryStore,
    InMemoryUserPool, RecordingNotifier, ScriptedExecutions,
};
use backup_domain::rate::{Budgeted, RateBudget};
use backup_domain::settings::{DEFAULT_SAFETY_MARGIN_SECONDS, QuotaSettings};
use backup_domain::{StepError, TokioClock};
use tokio::time::Instant;

pub use pools::SubShape;
pub use report::{Limits, Phase, Reexport, Report};

/// What to simulate.
#[derive(Debug, Clone)]
pub struct Settings {
    pub users: usize,
    pub subs: SubShape,
    /// Users per group; each user is in exactly one group.
    pub users_per_group: usize,
    pub quota_share: f64,
    pub quota_scale: f64,
    pub latency: Duration,
    /// Rows a CSV import job applies per second (the original solution's published figure: about 34).
    pub import_users_per_second: f64,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            users: 1_000_000,
            subs: SubShape::Uuid4,
            users_per_group: 1_000,
            quota_share: 0.5,
            quota_scale: 1.0,
            latency: Duration::from_millis(100),
            import_users_per_second: 34.0,
        }
    }
}

/// Lambda's limit, and the steps' working time per invocation (the functions' 900 s less their margin).
pub const LAMBDA_TIMEOUT: Duration = Duration::from_secs(900);
const INVOCATION: Duration = Duration::from_secs(900 - DEFAULT_SAFETY_MARGIN_SECONDS);
const EPOCH_MS: i64 = 1_795_000_000_000;

#[derive(Debug)]
pub struct SimulationError(pub String);

impl std::fmt::Display for SimulationError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SimulationError {}

impl From<StepError> for SimulationError {
    fn from(e: StepError) -> Self {
        Self(format!("{}: {e}", e.error_name()))
    }
}

/// Runs an export, an unchanged re-export and a restore into an empty pool; must run on a paused clock.
pub async fn simulate(settings: &Settings) -> Result<Report, SimulationError> {
    let model = Arc::new(CognitoModel::new(CognitoModelSettings {
        quota_scale: settings.quota_scale,
        application_share: 0.0,
        latency: settings.latency,
    }));
    let quota = QuotaSettings { share: settings.quota_share, scale: settings.quota_scale };
    let source = InMemoryUserPool::new("us-east-1_Source").with_model(model.clone());
    let memberships = pools::fill(&source, settings);

    let clock = TokioClock::starting_at(EPOCH_MS);
    let store = InMemoryStore::default();
    let (objects, lease, executions) =
        (InMemoryObjects::default(), InMemoryLease::default(), ScriptedExecutions::default());
    // One budget per run, as each run's functions start with a fresh budget.
    let budgeted = |pool| Budgeted::new(pool, Arc::new(RateBudget::new(quota.share, quota.scale)));
    let source = budgeted(source);
    let ports = ExportPorts { pool: &source, store: &store, objects: &objects, lease: &lease, clock: &clock };
    let export_driver = ExportDriver { invocation: INVOCATION, ..Default::default() };

    model.reset_calls();
    let started = Instant::now();
    let (outcome, export_invocations) = run_export(
        ports,
        &executions,
        &RecordingNotifier::default(),
        export_driver,
        "arn:aws:states:us-east-1:123456789012:execution:sim-ExportWorkflow:first",
        serde_json::json!({}),
    )
    .await;
    let export_seconds = started.elapsed().as_secs_f64();
    let marker = completed(outcome)?;
    let export = Phase::of_export(settings, &marker, export_seconds, &model, quota, &export_invocations.trace);

    let items = store.len() as u64;
    let writes_before = store.writes();
    let started = Instant::now();
    let (outcome, again) = run_export(
        ports,
        &executions,
        &RecordingNotifier::default(),
        export_driver,
        "arn:aws:states:us-east-1:123456789012:execution:sim-ExportWorkflow:second",
        serde_json::json!({}),
    )
    .await;
    completed(outcome)?;
    let reexport = Reexport::new(items, store.writes() - writes_before, started.elapsed().as_secs_f64(), &again);

    let target = InMemoryUserPool::new("us-east-1_Target")
        .with_model(model.clone())
        .with_import_speed(settings.import_users_per_second);
    target.configure(pools::schema);
    let target = budgeted(target);
    let (ledger, restore_objects, restore_leases) =
        (InMemoryLedger::default(), InMemoryObjects::default(), InMemoryLease::default());
    let ports = ImportPorts {
        target: &target,
        store: &store,
        ledger: &ledger,
        objects: &restore_objects,
        leases: &restore_leases,
        clock: &clock,
    };
    let import_driver = ImportDriver { invocation: INVOCATION, quota, limits: JobLimits::default(), concurrency: 16 };
    model.reset_calls();
    let started = Instant::now();
    let (progress, result) = run_import(
        ports,
        &executions,
        &RecordingNotifier::default(),
        import_driver,
        "arn:aws:states:us-east-1:123456789012:execution:sim-ImportWorkflow:restore",
        serde_json::json!({"NewUserPoolId": "us-east-1_Target"}),
        "backup",
    )
    .await;
    result?;
    let restore = Phase::of_restore(settings, memberships, &progress, started.elapsed().as_secs_f64(), &model, quota)?;
    Ok(Report::new(settings, export, reexport, restore))
}

fn completed(
    outcome: backup_domain::export::driver::Outcome,
) -> Result<backup_domain::schema::ExportMarkerItem, SimulationError> {
    match outcome {
        backup_domain::export::driver::Outcome::Completed(m) => Ok(*m),
        other => Err(SimulationError(format!("the export did not complete: {other:?}"))),
    }
}

/// Invocations of an export, for the re-export's report.
pub(crate) fn invocation_count(i: &Invocations) -> u32 {
    i.users + i.groups + i.memberships + i.completeness + i.cleanup + 2
}
