//! ImportWorkflow step: groups, CSV import jobs, AdminCreateUser, disabling and memberships, all at once.

use backup_domain::import::pipeline::{self, PipelineInput};
use workflow_lambdas::{Error, ImportStep, LambdaEvent, into_diagnostic, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let step = &ImportStep::load().await?;
    workflow_lambdas::run(service_fn(move |event: LambdaEvent<PipelineInput>| async move {
        let run = &event.payload.run;
        let target = step.target(&run.target.pool_id, run.backup_table_name.as_deref());
        pipeline::run(step.ports(&target), event.payload, step.deadline(&event.context)).await.map_err(into_diagnostic)
    }))
    .await
}
