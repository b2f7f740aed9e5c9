//! ExportWorkflow step: every user profile of the pool into the backup table (only what changed).

use backup_domain::export::users::{self, Concurrency, UsersInput};
use workflow_lambdas::{Error, ExportStep, LambdaEvent, into_diagnostic, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let step = &ExportStep::load().await?;
    workflow_lambdas::run(service_fn(move |event: LambdaEvent<UsersInput>| async move {
        let concurrency = Concurrency(step.settings.user_list_concurrency);
        users::run(step.ports(), event.payload, concurrency, step.deadline(&event.context))
            .await
            .map_err(into_diagnostic)
    }))
    .await
}
