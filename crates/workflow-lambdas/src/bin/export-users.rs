//! ExportWorkflow step: every user profile of the pool into the backup table.

use backup_domain::export::users::{self, UsersInput};
use workflow_lambdas::{Error, ExportStep, LambdaEvent, into_diagnostic, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let step = &ExportStep::load().await?;
    let (pool, store) = (&step.user_pool(), &step.store());
    workflow_lambdas::run(service_fn(move |event: LambdaEvent<UsersInput>| async move {
        let deadline = step.deadline(&event.context);
        users::run(pool, store, event.payload, step.settings.user_list_segments, deadline).await.map_err(into_diagnostic)
    }))
    .await
}
