//! Change capture: takes a batch of the pool's CloudTrail events from the SQS queue, reads each changed
//! user, group or membership again and writes it to the backup; the messages it could not handle yet are
//! reported as batch item failures (delivered again, then kept in the dead-letter queue).

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use backup_domain::capture::{self, Message};
use workflow_lambdas::{Error, ExportStep, LambdaEvent, into_diagnostic, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let step = &ExportStep::load().await?;
    workflow_lambdas::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        let messages: Vec<Message> = event
            .payload
            .records
            .into_iter()
            .map(|r| Message { id: r.message_id.unwrap_or_default(), body: r.body.unwrap_or_default() })
            .collect();
        let outcome = capture::handle_batch(step.ports(), &step.settings.user_pool_id, &messages)
            .await
            .map_err(into_diagnostic)?;
        let mut response = SqsBatchResponse::default();
        response.batch_item_failures = outcome
            .failed
            .into_iter()
            .map(|id| {
                let mut failure = BatchItemFailure::default();
                failure.item_identifier = id;
                failure
            })
            .collect();
        Ok::<_, lambda_runtime::Diagnostic>(response)
    }))
    .await
}
