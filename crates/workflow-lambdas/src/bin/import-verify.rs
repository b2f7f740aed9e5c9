//! ImportWorkflow step: compares the target pool with the backup, from the backup, and maps old to new subs.

use backup_domain::import::verify::{self, VerifyInput};
use workflow_lambdas::{Error, ImportStep, LambdaEvent, into_diagnostic, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let step = &ImportStep::load().await?;
    workflow_lambdas::run(service_fn(move |event: LambdaEvent<VerifyInput>| async move {
        let run = &event.payload.run;
        let target = step.target(&run.target.pool_id, run.backup_table_name.as_deref());
        let concurrency = step.settings.user_list_concurrency;
        verify::run(step.ports(&target), event.payload, concurrency, step.deadline(&event.context))
            .await
            .map_err(into_diagnostic)
    }))
    .await
}
