//! ExportWorkflow step: every group membership into the backup table (only what changed).

use backup_domain::export::memberships::{self, MembershipsInput};
use workflow_lambdas::{Error, ExportStep, LambdaEvent, into_diagnostic, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let step = &ExportStep::load().await?;
    workflow_lambdas::run(service_fn(move |event: LambdaEvent<MembershipsInput>| async move {
        memberships::run(step.ports(), event.payload, step.deadline(&event.context)).await.map_err(into_diagnostic)
    }))
    .await
}
