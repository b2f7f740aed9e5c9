//! ImportWorkflow step: every user's path, the work lists, the estimate.

use backup_domain::import::plan::{self, PlanInput};
use backup_domain::import::work::JobLimits;
use workflow_lambdas::{Error, ImportStep, LambdaEvent, into_diagnostic, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let step = &ImportStep::load().await?;
    workflow_lambdas::run(service_fn(move |event: LambdaEvent<PlanInput>| async move {
        let run = &event.payload.run;
        let target = step.target(&run.target.pool_id, run.backup_table_name.as_deref());
        let deadline = step.deadline(&event.context);
        plan::run(step.ports(&target), event.payload, step.settings.quota, JobLimits::default(), deadline)
            .await
            .map_err(into_diagnostic)
    }))
    .await
}
