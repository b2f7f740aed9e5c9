//! ExportWorkflow step: every group of the pool into the backup table (only what changed).

use backup_domain::export::groups::{self, GroupsInput};
use workflow_lambdas::{Error, ExportStep, LambdaEvent, into_diagnostic, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let step = &ExportStep::load().await?;
    workflow_lambdas::run(service_fn(move |event: LambdaEvent<GroupsInput>| async move {
        groups::run(step.ports(), event.payload, step.deadline(&event.context)).await.map_err(into_diagnostic)
    }))
    .await
}
