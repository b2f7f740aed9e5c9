//! AWS adapters for the ports of `backup-domain`: Cognito (user pool, restore target, import jobs),
//! DynamoDB (backup store, restore ledger), S3 (reports), SNS (notifier), Step Functions (executions). Each adapter turns SDK errors into
//! [`PortError`](backup_domain::ports::PortError)s that name the operation, the resource and the fix.

mod clients;
mod cognito_restore_target;
mod cognito_user_pool;
mod dynamodb_backup_store;
mod dynamodb_batches;
mod dynamodb_restore_ledger;
mod errors;
mod pool_recreation;
mod s3_report_sink;
mod sfn_executions;
mod sns_notifier;

pub use clients::load_sdk_config;
pub use dynamodb_backup_store::{from_dynamo_item, to_dynamo_item};
pub use cognito_user_pool::{CognitoUserPool, ImportJobSupport};
pub use dynamodb_backup_store::DynamoDbBackupStore;
pub use dynamodb_restore_ledger::DynamoDbRestoreLedger;
pub use pool_recreation::create_pool_like;
pub use s3_report_sink::S3ReportSink;
pub use sfn_executions::StepFunctionsExecutions;
pub use sns_notifier::SnsNotifier;
