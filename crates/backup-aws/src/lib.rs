//! AWS adapters for the ports of `backup-domain`: Cognito (user pool), DynamoDB (backup store),
//! SNS (notifier) and Step Functions (executions). Each adapter turns SDK errors into
//! [`PortError`](backup_domain::ports::PortError)s that name the operation, the resource and the fix.

mod clients;
mod cognito_user_pool;
mod dynamodb_backup_store;
mod errors;
mod sfn_executions;
mod sns_notifier;

pub use clients::load_sdk_config;
pub use dynamodb_backup_store::{from_dynamo_item, to_dynamo_item};
pub use cognito_user_pool::CognitoUserPool;
pub use dynamodb_backup_store::DynamoDbBackupStore;
pub use sfn_executions::StepFunctionsExecutions;
pub use sns_notifier::SnsNotifier;
