//! ExportWorkflow step: write the export marker and publish the run report.

use backup_domain::export::completion::{self, CompletionInput};
use workflow_lambdas::{Error, ExportStep, LambdaEvent, into_diagnostic, now_ms, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let step = ExportStep::load().await?;
    let store = &step.store();
    let (notifier, notifications) = &workflow_lambdas::notifier(&step.sdk).await?;
    workflow_lambdas::run(service_fn(move |event: LambdaEvent<CompletionInput>| async move {
        completion::run(store, notifier, notifications.preference, event.payload, now_ms()).await.map_err(into_diagnostic)
    }))
    .await
}
