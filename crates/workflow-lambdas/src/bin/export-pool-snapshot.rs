//! ExportWorkflow step: save the pool's configuration and open the run.

use backup_domain::export::pool_snapshot::{self, SnapshotInput};
use workflow_lambdas::{Error, ExportStep, LambdaEvent, into_diagnostic, now_ms, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let step = ExportStep::load().await?;
    let (pool, store) = (&step.user_pool(), &step.store());
    workflow_lambdas::run(service_fn(move |event: LambdaEvent<SnapshotInput>| async move {
        pool_snapshot::run(pool, store, &event.payload, now_ms()).await.map_err(into_diagnostic)
    }))
    .await
}
