//! Both workflows: stop this execution if an older one of the same state machine is still running.

use backup_domain::single_run_guard::{self, GuardInput};
use workflow_lambdas::{Error, LambdaEvent, into_diagnostic, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    workflow_lambdas::init_tracing();
    let executions = &workflow_lambdas::executions(&backup_aws::load_sdk_config().await);
    workflow_lambdas::run(service_fn(move |event: LambdaEvent<GuardInput>| async move {
        single_run_guard::run(executions, &event.payload).await.map_err(into_diagnostic)
    }))
    .await
}
