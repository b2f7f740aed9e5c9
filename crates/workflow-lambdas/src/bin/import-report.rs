//! ImportWorkflow step: writes and publishes the restore report, releases the restore lease.

use backup_domain::import::report::{self, ReportInput};
use backup_domain::{Clock, SystemClock};
use workflow_lambdas::{Error, ImportStep, LambdaEvent, into_diagnostic, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let step = &ImportStep::load().await?;
    let (notifier, notifications) = &workflow_lambdas::notifier(&step.sdk)?;
    workflow_lambdas::run(service_fn(move |event: LambdaEvent<ReportInput>| async move {
        report::run(
            step.objects(),
            notifier,
            step.leases(),
            notifications.preference,
            event.payload,
            SystemClock.now_ms(),
        )
        .await
        .map_err(into_diagnostic)
    }))
    .await
}
