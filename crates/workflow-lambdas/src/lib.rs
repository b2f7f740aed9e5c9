//! What every step binary shares: tracing, settings, AWS clients and the Lambda deadline.
//! Each binary in `src/bin/` is one workflow step and stays a thin `main`.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_config::SdkConfig;
use backup_aws::{
    CognitoUserPool, DynamoDbBackupStore, DynamoDbRestoreLedger, ImportJobSupport, S3ReportSink, SnsNotifier,
    StepFunctionsExecutions,
};
use backup_domain::Deadline;
use backup_domain::export::StepError;
use backup_domain::rate_budget::{Budgeted, RateBudget};
use backup_domain::settings::{ExportSettings, ImportSettings, NotificationSettings, ProcessEnv};
use lambda_runtime::{Context, Diagnostic};

pub mod update_guard;

pub use lambda_runtime::{Error, LambdaEvent, run, service_fn};

/// Structured JSON logs to stdout (CloudWatch on AWS); level from `RUST_LOG`, default `info`.
/// Steps log counts and identifiers only, never attribute values.
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt().json().with_env_filter(filter).with_target(false).with_current_span(false).try_init();
}

/// Turns a step failure into the Lambda error Step Functions sees: its name is what Retry/Catch match.
pub fn into_diagnostic(e: StepError) -> Diagnostic {
    tracing::error!(error_type = e.error_name(), error = %e, "step failed");
    Diagnostic { error_type: e.error_name().to_owned(), error_message: e.to_string() }
}

pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or_default()
}

/// The step's deadline: the invocation's deadline minus the safety margin.
pub fn deadline(context: &Context, safety_margin_seconds: u64) -> Deadline {
    let remaining_ms = (context.deadline as i64 - now_ms()).max(0) as u64;
    Deadline::new(Instant::now() + Duration::from_millis(remaining_ms), Duration::from_secs(safety_margin_seconds))
}

/// Clients and settings of the export steps, built once per cold start.
pub struct ExportStep {
    pub settings: ExportSettings,
    pub sdk: SdkConfig,
    budget: Arc<RateBudget>,
}

impl ExportStep {
    pub async fn load() -> Result<Self, Error> {
        init_tracing();
        let settings = ExportSettings::from_vars(&ProcessEnv)?;
        let budget = Arc::new(RateBudget::new(settings.quota_share));
        Ok(Self { settings, sdk: backup_aws::load_sdk_config().await, budget })
    }

    pub fn user_pool(&self) -> Budgeted<CognitoUserPool> {
        let client = aws_sdk_cognitoidentityprovider::Client::new(&self.sdk);
        Budgeted::new(CognitoUserPool::new(client, &self.settings.user_pool_id), self.budget.clone())
    }

    pub fn store(&self) -> DynamoDbBackupStore {
        DynamoDbBackupStore::new(aws_sdk_dynamodb::Client::new(&self.sdk), &self.settings.backup_table_name)
    }

    pub fn deadline(&self, context: &Context) -> Deadline {
        deadline(context, self.settings.safety_margin_seconds)
    }
}

/// Clients and settings of the import steps, built once per cold start. The target pool comes with each
/// execution's input, so its adapter is made per invocation (sharing the process's rate budget).
pub struct ImportStep {
    pub settings: ImportSettings,
    pub sdk: SdkConfig,
    budget: Arc<RateBudget>,
}

impl ImportStep {
    pub async fn load() -> Result<Self, Error> {
        init_tracing();
        let settings = ImportSettings::from_vars(&ProcessEnv)?;
        let budget = Arc::new(RateBudget::new(settings.quota_share));
        Ok(Self { settings, sdk: backup_aws::load_sdk_config().await, budget })
    }

    pub fn target(&self, pool_id: &str) -> Budgeted<CognitoUserPool> {
        let client = aws_sdk_cognitoidentityprovider::Client::new(&self.sdk);
        let support = ImportJobSupport {
            role_arn: self.settings.user_import_role_arn.clone(),
            logs: aws_sdk_cloudwatchlogs::Client::new(&self.sdk),
        };
        Budgeted::new(CognitoUserPool::new(client, pool_id).with_import_jobs(support), self.budget.clone())
    }

    pub fn store(&self) -> DynamoDbBackupStore {
        DynamoDbBackupStore::new(aws_sdk_dynamodb::Client::new(&self.sdk), &self.settings.backup_table_name)
    }

    pub fn ledger(&self) -> DynamoDbRestoreLedger {
        DynamoDbRestoreLedger::new(aws_sdk_dynamodb::Client::new(&self.sdk), &self.settings.ledger_table_name)
    }

    pub fn reports(&self) -> S3ReportSink {
        S3ReportSink::new(aws_sdk_s3::Client::new(&self.sdk), &self.settings.report_bucket_name)
    }

    pub fn deadline(&self, context: &Context) -> Deadline {
        deadline(context, self.settings.safety_margin_seconds)
    }
}

/// The notification topic and preference, for steps that announce outcomes.
pub async fn notifier(sdk: &SdkConfig) -> Result<(SnsNotifier, NotificationSettings), Error> {
    let settings = NotificationSettings::from_vars(&ProcessEnv)?;
    Ok((SnsNotifier::new(aws_sdk_sns::Client::new(sdk), &settings.topic_arn), settings))
}

pub fn executions(sdk: &SdkConfig) -> StepFunctionsExecutions {
    StepFunctionsExecutions::new(aws_sdk_sfn::Client::new(sdk))
}
