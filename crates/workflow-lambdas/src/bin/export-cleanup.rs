//! ExportWorkflow step: after a fully successful export, remove the items of what no longer exists.

use backup_domain::export::cleanup::{self, CleanupInput};
use workflow_lambdas::{Error, ExportStep, LambdaEvent, into_diagnostic, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let step = &ExportStep::load().await?;
    let store = &step.store();
    workflow_lambdas::run(service_fn(move |event: LambdaEvent<CleanupInput>| async move {
        let max_share = step.settings.max_removed_user_share;
        cleanup::run(store, event.payload, max_share, step.deadline(&event.context)).await.map_err(into_diagnostic)
    }))
    .await
}
