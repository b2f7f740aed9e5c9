//! ImportWorkflow step: count what goes by which path, what would be lost, and how long it should take.

use backup_domain::import::plan::{self, PlanInput};
use workflow_lambdas::{Error, ImportStep, LambdaEvent, into_diagnostic, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let step = &ImportStep::load().await?;
    let store = &step.store();
    workflow_lambdas::run(service_fn(move |event: LambdaEvent<PlanInput>| async move {
        plan::run(store, event.payload, step.settings.quota_share, step.deadline(&event.context)).await.map_err(into_diagnostic)
    }))
    .await
}
