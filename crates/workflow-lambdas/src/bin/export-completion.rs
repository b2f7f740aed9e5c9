//! ExportWorkflow step: writes the export marker, releases the lease, publishes the report.

use backup_domain::export::completion::{self, CompletionInput};
use workflow_lambdas::{Error, ExportStep, LambdaEvent, into_diagnostic, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let step = &ExportStep::load().await?;
    let (notifier, notifications) = &workflow_lambdas::notifier(&step.sdk)?;
    workflow_lambdas::run(service_fn(move |event: LambdaEvent<CompletionInput>| async move {
        completion::run(step.ports(), notifier, notifications.preference, event.payload).await.map_err(into_diagnostic)
    }))
    .await
}
