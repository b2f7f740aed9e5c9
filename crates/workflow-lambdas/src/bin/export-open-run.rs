//! ExportWorkflow step: takes the export lease, reads the pool's configuration and size, saves the pool
//! snapshot. Stops without writing when another run holds the lease.

use backup_domain::export::open_run::{self, OpenRunInput};
use workflow_lambdas::{Error, ExportStep, LambdaEvent, into_diagnostic, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let step = &ExportStep::load().await?;
    let executions = &workflow_lambdas::executions(&step.sdk);
    workflow_lambdas::run(service_fn(move |event: LambdaEvent<OpenRunInput>| async move {
        open_run::run(step.ports(), executions, &event.payload).await.map_err(into_diagnostic)
    }))
    .await
}
