//! Both workflows: publishes why a run failed (whatever the notification preference) and gives back the
//! run's lease.

use backup_domain::failure_notice::{self, FailureInput};
use backup_domain::settings::{ProcessEnv, VarSource, env};
use workflow_lambdas::{Error, LambdaEvent, into_diagnostic, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    workflow_lambdas::init_tracing();
    let sdk = &backup_aws::load_sdk_config().await;
    let (notifier, _) = &workflow_lambdas::notifier(sdk)?;
    let dynamodb = aws_sdk_dynamodb::Client::new(sdk);
    // The export's lease is in the backup table, a restore's in the ledger table.
    let export_leases =
        &ProcessEnv.var(env::BACKUP_TABLE_NAME).map(|t| backup_aws::DynamoDbLeaseStore::new(dynamodb.clone(), t));
    let import_leases =
        &ProcessEnv.var(env::RESTORE_LEDGER_TABLE_NAME).map(|t| backup_aws::DynamoDbLeaseStore::new(dynamodb, t));
    workflow_lambdas::run(service_fn(move |event: LambdaEvent<FailureInput>| async move {
        let leases = if event.payload.workflow == "ImportWorkflow" { import_leases } else { export_leases };
        let leases = leases.as_ref().map(|l| l as &dyn backup_domain::ports::LeaseStore);
        failure_notice::run(notifier, leases, event.payload).await.map_err(into_diagnostic)
    }))
    .await
}
