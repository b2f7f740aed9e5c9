//! ImportWorkflow step: checks the target pool, the backup and the input before any write, and takes the
//! restore lease on the target pool.

use backup_domain::import::ImportRequest;
use backup_domain::import::preflight::{self, PreflightInput};
use workflow_lambdas::{Error, ImportStep, LambdaEvent, into_diagnostic, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let step = &ImportStep::load().await?;
    let executions = &workflow_lambdas::executions(&step.sdk);
    workflow_lambdas::run(service_fn(move |event: LambdaEvent<PreflightInput>| async move {
        let input = &event.payload;
        let s = &step.settings;
        let request =
            ImportRequest::parse(&input.execution_input, &s.region, &s.backup_table_name).map_err(into_diagnostic)?;
        let target = step.target(&request.new_user_pool_id, request.backup_table_name.as_deref());
        preflight::run(step.ports(&target), executions, input, request).await.map_err(into_diagnostic)
    }))
    .await
}
