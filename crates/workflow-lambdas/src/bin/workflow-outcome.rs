//! Both workflows: started by an EventBridge rule when an execution ends FAILED, TIMED_OUT or ABORTED;
//! announces endings the workflow's own failure notice never saw and releases the execution's lease.

use aws_lambda_events::eventbridge::EventBridgeEvent;
use backup_domain::settings::{ProcessEnv, VarSource, env};
use backup_domain::workflow_outcome::{self, StatusChange};
use workflow_lambdas::{Error, LambdaEvent, into_diagnostic, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    workflow_lambdas::init_tracing();
    let sdk = &backup_aws::load_sdk_config().await;
    let (notifier, _) = &workflow_lambdas::notifier(sdk)?;
    let dynamodb = aws_sdk_dynamodb::Client::new(sdk);
    let table =
        |name| ProcessEnv.var(name).ok_or_else(|| Error::from(format!("environment variable {name} is not set")));
    let export_leases = &backup_aws::DynamoDbLeaseStore::new(dynamodb.clone(), table(env::BACKUP_TABLE_NAME)?);
    let import_leases = &backup_aws::DynamoDbLeaseStore::new(dynamodb, table(env::RESTORE_LEDGER_TABLE_NAME)?);
    workflow_lambdas::run(service_fn(move |event: LambdaEvent<EventBridgeEvent<StatusChange>>| async move {
        workflow_outcome::run(notifier, export_leases, import_leases, &event.payload.detail)
            .await
            .map_err(into_diagnostic)
    }))
    .await
}
