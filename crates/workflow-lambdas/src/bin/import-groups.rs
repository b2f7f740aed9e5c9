//! ImportWorkflow step: recreate the groups in the target pool.

use backup_domain::import::groups::{self, GroupsInput};
use workflow_lambdas::{Error, ImportStep, LambdaEvent, into_diagnostic, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let step = &ImportStep::load().await?;
    let store = &step.store();
    workflow_lambdas::run(service_fn(move |event: LambdaEvent<GroupsInput>| async move {
        let target = step.target(&event.payload.run.target.pool_id);
        groups::run(&target, store, event.payload, step.deadline(&event.context)).await.map_err(into_diagnostic)
    }))
    .await
}
