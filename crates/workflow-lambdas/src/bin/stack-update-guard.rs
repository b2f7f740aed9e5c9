//! Main stack custom resource: refuses updates that would change the user pool or the backup Region, and
//! checks on create that the pool exists. Answers CloudFormation on every request, whatever happens.

use backup_domain::ports::{PortError, UserPool};
use workflow_lambdas::update_guard;
use workflow_lambdas::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    workflow_lambdas::init_tracing();
    let sdk = &backup_aws::load_sdk_config().await;
    let region = std::env::var("AWS_REGION").unwrap_or_default();
    let region = &region;
    workflow_lambdas::run(service_fn(move |event: LambdaEvent<serde_json::Value>| async move {
        let (event, mut outcome) = match update_guard::parse(&event.payload) {
            Ok(e) => {
                let outcome = update_guard::check(&e, region);
                (e, outcome)
            }
            Err((Some(e), reason)) => (e, Err(reason)),
            Err((None, reason)) => return Err(Error::from(format!("{reason}; it has no ResponseURL to answer"))),
        };
        let e = &event;
        if outcome.is_ok() && e.request_type == "Create" {
            let pool_id = e.resource_properties["PrimaryUserPoolId"].as_str().unwrap_or_default();
            let pool = backup_aws::CognitoUserPool::new(aws_sdk_cognitoidentityprovider::Client::new(sdk), pool_id);
            outcome = match pool.describe().await {
                Ok(_) => Ok(()),
                Err(PortError::NotFound(_)) => Err(format!("user pool {pool_id} does not exist in {region}: check PrimaryUserPoolId")),
                Err(other) => Err(format!("user pool {pool_id} cannot be read: {other}")),
            };
        }
        let log_stream = std::env::var("AWS_LAMBDA_LOG_STREAM_NAME").unwrap_or_default();
        let response = update_guard::response(e, &outcome, &log_stream);
        tracing::info!(request_type = %e.request_type, status = response.status, "answering CloudFormation");
        update_guard::send(e.response_url.clone(), &response).await.map_err(|err| Error::from(format!("could not answer CloudFormation: {err}")))
    }))
    .await
}
