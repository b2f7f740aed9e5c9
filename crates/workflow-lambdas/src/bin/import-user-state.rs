//! ImportWorkflow step: disable the users disabled in the backup and restore group memberships.

use backup_domain::import::user_state::{self, UserStateInput};
use workflow_lambdas::{Error, ImportStep, LambdaEvent, into_diagnostic, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let step = &ImportStep::load().await?;
    let store = &step.store();
    workflow_lambdas::run(service_fn(move |event: LambdaEvent<UserStateInput>| async move {
        let target = step.target(&event.payload.run.target.pool_id);
        user_state::run(&target, store, event.payload, step.deadline(&event.context)).await.map_err(into_diagnostic)
    }))
    .await
}
