use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, SdkConfig};

/// The shared SDK configuration: region, credentials and endpoint from the environment
/// (`AWS_ENDPOINT_URL` points every client at the local cloud), with a retry budget sized for
/// Cognito's throttling (TooManyRequestsException is retried with backoff by the standard mode).
pub async fn load_sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .retry_config(RetryConfig::standard().with_max_attempts(6))
        .load()
        .await
}
