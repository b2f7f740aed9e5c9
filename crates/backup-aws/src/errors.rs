use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use backup_domain::ports::PortError;

/// Classifies an SDK error by its AWS error code, the one thing every service's errors share (operations
/// with a condition of their own check the typed error first); `what` names the operation and resource
/// ("ListUsers on user pool us-east-1_abc") and `hint` says what to check when the resource is missing
/// or access is denied.
pub(crate) fn port_error<E>(what: &str, hint: &str, err: E) -> PortError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let code = err.code().unwrap_or_default().to_owned();
    let detail = match err.message() {
        Some(m) if !code.is_empty() => format!("{code}: {m}"),
        _ => DisplayErrorContext(&err).to_string(),
    };
    match code.as_str() {
        "ResourceNotFoundException"
        | "UserNotFoundException"
        | "GroupNotFoundException"
        | "NotFoundException"
        | "StateMachineDoesNotExist"
        | "ExecutionDoesNotExist"
        | "NoSuchBucket"
        | "NoSuchKey" => PortError::NotFound(format!("{what} failed, not found ({detail}). {hint}")),
        "NotAuthorizedException"
        | "AccessDeniedException"
        | "AccessDenied"
        | "UnrecognizedClientException"
        | "AuthorizationError"
        | "InvalidClientTokenId" => PortError::AccessDenied(format!("{what} was denied ({detail}). {hint}")),
        "TooManyRequestsException"
        | "ThrottlingException"
        | "Throttling"
        | "ProvisionedThroughputExceededException"
        | "RequestLimitExceeded"
        | "LimitExceededException"
        | "SlowDown" => PortError::Throttled(format!(
            "{what} was throttled ({detail}); the workflows back off and retry, and lower their rate while it lasts"
        )),
        "InvalidParameterException" | "ValidationException" | "InvalidParameter" | "InvalidArn" => {
            PortError::InvalidRequest(format!("{what} was rejected ({detail}). {hint}"))
        }
        _ => PortError::Unavailable(format!("{what} failed ({detail})")),
    }
}
