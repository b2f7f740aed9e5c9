//! ImportWorkflow step: check the target pool and the backup before any write.

use backup_domain::import::preflight::{self, PreflightInput};
use workflow_lambdas::{Error, ImportStep, LambdaEvent, into_diagnostic, now_ms, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let step = &ImportStep::load().await?;
    let store = &step.store();
    workflow_lambdas::run(service_fn(move |event: LambdaEvent<PreflightInput>| async move {
        let pool_id = event.payload.execution_input["NewUserPoolId"].as_str().unwrap_or_default().trim().to_owned();
        let target = step.target(&pool_id);
        preflight::run(&target, store, &step.settings.region, &event.payload, now_ms()).await.map_err(into_diagnostic)
    }))
    .await
}
