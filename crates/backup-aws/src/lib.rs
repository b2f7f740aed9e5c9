//! AWS adapters for the ports of `backup-domain`: Cognito (user pool, restore target, import jobs),
//! DynamoDB (backup store, leases, restore ledger), S3 (objects), SNS (notifier), Step Functions
//! (executions). Each adapter turns SDK errors into [`PortError`](backup_domain::ports::PortError)s that
//! name the operation, the resource and the fix.

mod capacity;
mod clients;
mod cognito_restore_target;
mod cognito_user_pool;
mod dynamodb_backup_store;
mod dynamodb_batches;
mod dynamodb_lease_store;
mod dynamodb_restore_ledger;
mod errors;
pub mod https_put;
mod pool_recreation;
mod s3_object_store;
mod sfn_executions;
mod sns_notifier;

pub use clients::{cognito_client, load_sdk_config};
pub use cognito_user_pool::{CognitoUserPool, ImportJobSupport};
pub use dynamodb_backup_store::{DynamoDbBackupStore, from_dynamo_item, to_dynamo_item};
pub use dynamodb_lease_store::DynamoDbLeaseStore;
pub use dynamodb_restore_ledger::DynamoDbRestoreLedger;
pub use pool_recreation::create_pool_like;
pub use s3_object_store::S3ObjectStore;
pub use sfn_executions::StepFunctionsExecutions;
pub use sns_notifier::SnsNotifier;
