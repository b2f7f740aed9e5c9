//! ImportWorkflow step: compare the target pool with the backup and write the old → new sub mapping.

use backup_domain::import::verify::{self, Ports, VerifyInput};
use workflow_lambdas::{Error, ImportStep, LambdaEvent, into_diagnostic, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let step = &ImportStep::load().await?;
    let (store, ledger, reports) = (&step.store(), &step.ledger(), &step.reports());
    workflow_lambdas::run(service_fn(move |event: LambdaEvent<VerifyInput>| async move {
        let target = step.target(&event.payload.run.target.pool_id);
        let ports = Ports { target: &target, store, ledger, reports };
        verify::run(ports, event.payload, step.deadline(&event.context)).await.map_err(into_diagnostic)
    }))
    .await
}
