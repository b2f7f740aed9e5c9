//! What every step binary shares: tracing, settings, AWS clients and the Lambda deadline.
//! Each binary in `src/bin/` is one workflow step and stays a thin `main`.

use std::sync::Arc;
use std::time::Duration;

use aws_config::SdkConfig;
use backup_aws::{
    CognitoUserPool, DynamoDbBackupStore, DynamoDbLeaseStore, DynamoDbRestoreLedger, ImportJobSupport, S3ObjectStore,
    SnsNotifier, StepFunctionsExecutions,
};
use backup_domain::export::ExportPorts;
use backup_domain::import::ImportPorts;
use backup_domain::rate::{Budgeted, RateBudget};
use backup_domain::settings::{ExportSettings, ImportSettings, NotificationSettings, ProcessEnv, QuotaSettings};
use backup_domain::{Deadline, StepError, SystemClock};
use lambda_runtime::{Context, Diagnostic};

pub mod update_guard;

pub use lambda_runtime::{Error, LambdaEvent, run, service_fn};

/// Structured logs to stdout (CloudWatch on AWS), through lambda_runtime's subscriber: JSON when the
/// function's log format is JSON (`AWS_LAMBDA_LOG_FORMAT`), at `AWS_LAMBDA_LOG_LEVEL` (else `RUST_LOG`,
/// else INFO). Steps log counts and identifiers only, never attribute values.
pub fn init_tracing() {
    lambda_runtime::tracing::init_default_subscriber();
}

/// Turns a step failure into the Lambda error Step Functions sees: its name is what Retry/Catch match.
pub fn into_diagnostic(e: StepError) -> Diagnostic {
    tracing::error!(error_type = e.error_name(), error = %e, "step failed");
    Diagnostic { error_type: e.error_name().to_owned(), error_message: e.to_string() }
}

/// The step's deadline: what the invocation has left, minus the safety margin.
pub fn deadline(context: &Context, safety_margin_seconds: u64) -> Deadline {
    let now = backup_domain::Clock::now_ms(&SystemClock);
    let remaining_ms = (context.deadline as i64 - now).max(0) as u64;
    Deadline::new(Duration::from_millis(remaining_ms), Duration::from_secs(safety_margin_seconds))
}

fn budget(quota: QuotaSettings) -> Arc<RateBudget> {
    Arc::new(RateBudget::new(quota.share, quota.scale))
}

/// The adapters of the export steps, built once per cold start.
pub struct ExportStep {
    pub settings: ExportSettings,
    pub sdk: SdkConfig,
    pool: Budgeted<CognitoUserPool>,
    store: DynamoDbBackupStore,
    objects: S3ObjectStore,
    leases: DynamoDbLeaseStore,
}

impl ExportStep {
    pub async fn load() -> Result<Self, Error> {
        init_tracing();
        let settings = ExportSettings::from_vars(&ProcessEnv)?;
        let sdk = backup_aws::load_sdk_config().await;
        let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
        Ok(Self {
            pool: Budgeted::new(
                CognitoUserPool::new(backup_aws::cognito_client(&sdk), &settings.user_pool_id),
                budget(settings.quota),
            ),
            store: DynamoDbBackupStore::new(dynamodb.clone(), &settings.backup_table_name),
            objects: S3ObjectStore::new(aws_sdk_s3::Client::new(&sdk), &settings.workflow_bucket_name),
            leases: DynamoDbLeaseStore::new(dynamodb, &settings.backup_table_name),
            settings,
            sdk,
        })
    }

    pub fn ports(&self) -> ExportPorts<'_> {
        ExportPorts {
            pool: &self.pool,
            store: &self.store,
            objects: &self.objects,
            lease: &self.leases,
            clock: &SystemClock,
        }
    }

    pub fn leases(&self) -> &DynamoDbLeaseStore {
        &self.leases
    }

    pub fn deadline(&self, context: &Context) -> Deadline {
        deadline(context, self.settings.safety_margin_seconds)
    }
}

/// The adapters of the import steps, built once per cold start. The target pool and the table restored
/// from come with each execution's input, so their adapters are made per invocation (sharing the
/// process's rate budget).
pub struct ImportStep {
    pub settings: ImportSettings,
    pub sdk: SdkConfig,
    budget: Arc<RateBudget>,
    ledger: DynamoDbRestoreLedger,
    objects: S3ObjectStore,
    leases: DynamoDbLeaseStore,
}

/// The per-execution adapters of an import step.
pub struct ImportTarget {
    pub target: Budgeted<CognitoUserPool>,
    pub store: DynamoDbBackupStore,
}

impl ImportStep {
    pub async fn load() -> Result<Self, Error> {
        init_tracing();
        let settings = ImportSettings::from_vars(&ProcessEnv)?;
        let sdk = backup_aws::load_sdk_config().await;
        let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
        Ok(Self {
            budget: budget(settings.quota),
            ledger: DynamoDbRestoreLedger::new(dynamodb.clone(), &settings.ledger_table_name),
            objects: S3ObjectStore::new(aws_sdk_s3::Client::new(&sdk), &settings.workflow_bucket_name),
            leases: DynamoDbLeaseStore::new(dynamodb, &settings.ledger_table_name),
            settings,
            sdk,
        })
    }

    /// The target pool and the table to restore from (the stack's backup table unless the run names a copy).
    pub fn target(&self, pool_id: &str, backup_table: Option<&str>) -> ImportTarget {
        let support = ImportJobSupport {
            role_arn: self.settings.user_import_role_arn.clone(),
            logs: aws_sdk_cloudwatchlogs::Client::new(&self.sdk),
        };
        let pool = CognitoUserPool::new(backup_aws::cognito_client(&self.sdk), pool_id).with_import_jobs(support);
        let table = backup_table.unwrap_or(&self.settings.backup_table_name);
        ImportTarget {
            target: Budgeted::new(pool, self.budget.clone()),
            store: DynamoDbBackupStore::new(aws_sdk_dynamodb::Client::new(&self.sdk), table),
        }
    }

    pub fn ports<'a>(&'a self, t: &'a ImportTarget) -> ImportPorts<'a> {
        ImportPorts {
            target: &t.target,
            store: &t.store,
            ledger: &self.ledger,
            objects: &self.objects,
            leases: &self.leases,
            clock: &SystemClock,
        }
    }

    pub fn objects(&self) -> &S3ObjectStore {
        &self.objects
    }

    pub fn leases(&self) -> &DynamoDbLeaseStore {
        &self.leases
    }

    pub fn deadline(&self, context: &Context) -> Deadline {
        deadline(context, self.settings.safety_margin_seconds)
    }
}

/// The notification topic and preference, for steps that announce outcomes.
pub fn notifier(sdk: &SdkConfig) -> Result<(SnsNotifier, NotificationSettings), Error> {
    let settings = NotificationSettings::from_vars(&ProcessEnv)?;
    Ok((SnsNotifier::new(aws_sdk_sns::Client::new(sdk), &settings.topic_arn), settings))
}

pub fn executions(sdk: &SdkConfig) -> StepFunctionsExecutions {
    StepFunctionsExecutions::new(aws_sdk_sfn::Client::new(sdk))
}
