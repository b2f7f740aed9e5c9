//! ExportWorkflow step: tell the notification topic that the run failed, why, and what it means.

use backup_domain::export::failure::{self, FailureInput};
use workflow_lambdas::{Error, LambdaEvent, into_diagnostic, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    workflow_lambdas::init_tracing();
    let sdk = backup_aws::load_sdk_config().await;
    let (notifier, _) = &workflow_lambdas::notifier(&sdk).await?;
    workflow_lambdas::run(service_fn(move |event: LambdaEvent<FailureInput>| async move {
        failure::run(notifier, event.payload, "ExportWorkflow").await.map_err(into_diagnostic)
    }))
    .await
}
