use aws_sdk_cognitoidentityprovider::error::ProvideErrorMetadata;
use aws_smithy_types::error::display::DisplayErrorContext;
use backup_domain::ports::PortError;

/// Classifies an SDK error by its code; `what` names the operation and resource ("ListUsers on user
/// pool us-east-1_abc") and `hint` says what to check when the resource is missing or access is denied.
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
        "ResourceNotFoundException" | "UserNotFoundException" | "GroupNotFoundException" | "NotFoundException"
        | "StateMachineDoesNotExist" => PortError::NotFound(format!("{what} failed, not found ({detail}). {hint}")),
        "NotAuthorizedException" | "AccessDeniedException" | "AccessDenied" | "UnrecognizedClientException"
        | "AuthorizationError" | "InvalidClientTokenId" => {
            PortError::AccessDenied(format!("{what} was denied ({detail}). {hint}"))
        }
        "TooManyRequestsException" | "ThrottlingException" | "Throttling" | "ProvisionedThroughputExceededException"
        | "RequestLimitExceeded" | "LimitExceededException" => PortError::Throttled(format!(
            "{what} was still throttled after the SDK's retries ({detail}); lower COGNITO_QUOTA_SHARE or retry later"
        )),
        "InvalidParameterException" | "ValidationException" | "InvalidParameter" | "InvalidArn" => {
            PortError::InvalidRequest(format!("{what} was rejected ({detail}). {hint}"))
        }
        _ => PortError::Unavailable(format!("{what} failed ({detail})")),
    }
}
