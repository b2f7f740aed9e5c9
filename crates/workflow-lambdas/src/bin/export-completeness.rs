//! ExportWorkflow step: checks the run saw the whole pool, finds what is gone from it, and applies the
//! removal guard, before anything is removed.

use backup_domain::export::completeness::{self, CompletenessInput};
use workflow_lambdas::{Error, ExportStep, LambdaEvent, into_diagnostic, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let step = &ExportStep::load().await?;
    workflow_lambdas::run(service_fn(move |event: LambdaEvent<CompletenessInput>| async move {
        let s = &step.settings;
        completeness::run(
            step.ports(),
            event.payload,
            s.count_tolerance,
            s.removal_guard,
            step.deadline(&event.context),
        )
        .await
        .map_err(into_diagnostic)
    }))
    .await
}
