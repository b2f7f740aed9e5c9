//! Main stack custom resource: refuses updates that would change the user pool, the backup Region or the
//! prefix (accepting CloudFormation's rollback of such an update), and checks on create that the pool
//! exists. Answers CloudFormation on every request, whatever happens.

use aws_lambda_events::cloudformation::CloudFormationCustomResourceRequest;
use backup_domain::ports::{PortError, UserPool};
use workflow_lambdas::update_guard;
use workflow_lambdas::{Error, LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    workflow_lambdas::init_tracing();
    let sdk = &backup_aws::load_sdk_config().await;
    let region = &std::env::var("AWS_REGION").unwrap_or_default();
    workflow_lambdas::run(service_fn(move |event: LambdaEvent<serde_json::Value>| async move {
        let (to, physical_id, outcome) = match update_guard::parse(&event.payload) {
            Ok(request) => {
                let (physical_id, mut outcome) = update_guard::check(&request, region);
                if let (Ok(()), CloudFormationCustomResourceRequest::Create(create)) = (&outcome, &request) {
                    let pool_id = &create.resource_properties.primary_user_pool_id;
                    let pool = backup_aws::CognitoUserPool::new(backup_aws::cognito_client(sdk), pool_id);
                    outcome = match pool.describe().await {
                        Ok(_) => Ok(()),
                        Err(PortError::NotFound(_)) => {
                            Err(format!("user pool {pool_id} does not exist in {region}: check PrimaryUserPoolId"))
                        }
                        Err(other) => Err(format!("user pool {pool_id} cannot be read: {other}")),
                    };
                }
                let to = update_guard::addressed(&request)
                    .ok_or_else(|| Error::from("the request has no ResponseURL to answer"))?;
                (to, physical_id, outcome)
            }
            Err((Some(to), reason)) => (to, "cognito-backup-update-guard".into(), Err(reason)),
            Err((None, reason)) => return Err(Error::from(format!("{reason}; it has no ResponseURL to answer"))),
        };
        let log_stream = std::env::var("AWS_LAMBDA_LOG_STREAM_NAME").unwrap_or_default();
        let response = update_guard::response(&to, physical_id, &outcome, &log_stream);
        tracing::info!(status = ?response.status, "answering CloudFormation");
        update_guard::send(&to.response_url, &response)
            .await
            .map_err(|err| Error::from(format!("could not answer CloudFormation: {err}")))
    }))
    .await
}
