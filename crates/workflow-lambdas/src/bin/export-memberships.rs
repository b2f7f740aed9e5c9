//! ExportWorkflow step: every membership of every group into the backup table.

use backup_domain::export::memberships::{self, MembershipsInput};
use workflow_lambdas::{Error, ExportStep, LambdaEvent, into_diagnostic, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let step = &ExportStep::load().await?;
    let (pool, store) = (&step.user_pool(), &step.store());
    workflow_lambdas::run(service_fn(move |event: LambdaEvent<MembershipsInput>| async move {
        memberships::run(pool, store, event.payload, step.deadline(&event.context)).await.map_err(into_diagnostic)
    }))
    .await
}
