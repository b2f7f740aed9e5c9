//! Both workflows: tell the notification topic that a run failed, why, and what it means.

use backup_domain::failure_notice::{self, FailureInput};
use workflow_lambdas::{Error, LambdaEvent, into_diagnostic, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    workflow_lambdas::init_tracing();
    let sdk = backup_aws::load_sdk_config().await;
    let (notifier, _) = &workflow_lambdas::notifier(&sdk).await?;
    workflow_lambdas::run(service_fn(move |event: LambdaEvent<FailureInput>| async move {
        failure_notice::run(notifier, event.payload).await.map_err(into_diagnostic)
    }))
    .await
}
