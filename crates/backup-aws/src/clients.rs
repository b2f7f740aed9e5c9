use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, SdkConfig};

/// The shared SDK configuration: Region, credentials and endpoint from the environment
/// (`AWS_ENDPOINT_URL` points every client at the local cloud), retrying throttling and 5xx answers of
/// DynamoDB, S3, SNS and Step Functions with backoff (the standard mode).
pub async fn load_sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .retry_config(RetryConfig::standard().with_max_attempts(6))
        .load()
        .await
}

/// A Cognito client that does not retry: every Cognito call goes through the rate budget
/// (`backup_domain::rate::Budgeted`), which retries with backoff and lowers its rate when Cognito
/// throttles; an SDK retry would hide the throttle from it.
pub fn cognito_client(sdk: &SdkConfig) -> aws_sdk_cognitoidentityprovider::Client {
    let config =
        aws_sdk_cognitoidentityprovider::config::Builder::from(sdk).retry_config(RetryConfig::disabled()).build();
    aws_sdk_cognitoidentityprovider::Client::from_conf(config)
}
