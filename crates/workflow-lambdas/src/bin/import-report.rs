//! ImportWorkflow step: write the restore report, announce it, and fail on unexplained differences.

use backup_domain::import::report::{self, ReportInput};
use workflow_lambdas::{Error, ImportStep, LambdaEvent, into_diagnostic, now_ms, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let step = ImportStep::load().await?;
    let reports = &step.reports();
    let (notifier, notifications) = &workflow_lambdas::notifier(&step.sdk).await?;
    workflow_lambdas::run(service_fn(move |event: LambdaEvent<ReportInput>| async move {
        report::run(reports, notifier, notifications.preference, event.payload, now_ms()).await.map_err(into_diagnostic)
    }))
    .await
}
