//! ImportWorkflow step: restore users by CSV import jobs and AdminCreateUser, recording each in the ledger.

use backup_domain::import::users::{self, JobLimits, UsersInput};
use workflow_lambdas::{Error, ImportStep, LambdaEvent, into_diagnostic, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let step = &ImportStep::load().await?;
    let (store, ledger) = (&step.store(), &step.ledger());
    workflow_lambdas::run(service_fn(move |event: LambdaEvent<UsersInput>| async move {
        let target = step.target(&event.payload.run.target.pool_id);
        let deadline = step.deadline(&event.context);
        users::run(&target, store, ledger, event.payload, JobLimits::default(), deadline).await.map_err(into_diagnostic)
    }))
    .await
}
