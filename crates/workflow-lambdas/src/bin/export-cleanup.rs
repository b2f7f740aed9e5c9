//! ExportWorkflow step: removes the backup items of users, groups and memberships that no longer exist.

use backup_domain::export::cleanup::{self, CleanupInput};
use workflow_lambdas::{Error, ExportStep, LambdaEvent, into_diagnostic, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let step = &ExportStep::load().await?;
    workflow_lambdas::run(service_fn(move |event: LambdaEvent<CleanupInput>| async move {
        cleanup::run(step.ports(), event.payload, step.deadline(&event.context)).await.map_err(into_diagnostic)
    }))
    .await
}
