//! How the adapters classify what AWS answers, through the SDK's own deserializers: each case returns the
//! HTTP error answer the service sends, and the adapter must turn it into the port error the domain acts
//! on (retry and slow down, start a listing again, tell a missing group from a missing pool, stop).

use aws_sdk_cognitoidentityprovider::Client as Cognito;
use aws_sdk_dynamodb::Client as DynamoDb;
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use aws_smithy_types::retry::RetryConfig;
use backup_aws::{CognitoUserPool, DynamoDbBackupStore};
use backup_domain::ports::{BackupStore, Created, PortError, RestoreTarget, UserPool};
use backup_domain::schema::{BackupItem, ItemKey, ItemType};

const POOL: &str = "us-east-1_Abc123";

/// An awsJson error answer, as Cognito and DynamoDB send them.
fn error_body(code: &str, message: &str) -> Option<String> {
    Some(serde_json::json!({"__type": code, "message": message}).to_string())
}

macro_rules! cognito_answering {
    ($operation:ident, $status:expr, $code:expr, $message:expr) => {{
        let rule = mock!(Cognito::$operation)
            .sequence()
            .http_status($status, error_body($code, $message))
            .repeatedly()
            .build();
        let client = mock_client!(aws_sdk_cognitoidentityprovider, RuleMode::MatchAny, &[&rule], |c| c
            .retry_config(RetryConfig::disabled()));
        CognitoUserPool::new(client, POOL)
    }};
}

macro_rules! dynamodb_answering {
    ($operation:ident, $status:expr, $code:expr, $message:expr) => {{
        let rule = mock!(DynamoDb::$operation)
            .sequence()
            .http_status($status, error_body($code, $message))
            .repeatedly()
            .build();
        let client =
            mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, &[&rule], |c| c.retry_config(RetryConfig::disabled()));
        DynamoDbBackupStore::new(client, "cb-backup")
    }};
}

#[tokio::test]
async fn a_throttled_listing_is_throttled_and_names_the_call_and_pool() {
    let pool = cognito_answering!(list_users, 400, "TooManyRequestsException", "Rate exceeded");
    let err = pool.list_users(None, None).await.unwrap_err();
    assert!(matches!(err, PortError::Throttled(_)), "{err:?}");
    assert!(err.to_string().contains("ListUsers on user pool us-east-1_Abc123"), "{err}");
}

#[tokio::test]
async fn a_refused_pagination_token_means_start_again_but_only_with_a_token() {
    let pool =
        cognito_answering!(list_users, 400, "InvalidParameterException", "Paging marker abc is invalid for request 1");
    let err = pool.list_users(None, Some("abc")).await.unwrap_err();
    assert!(matches!(err, PortError::ExpiredToken(_)), "{err:?}");
    let err = pool.list_users(None, None).await.unwrap_err();
    assert!(matches!(err, PortError::InvalidRequest(_)), "without a token it is a bad request: {err:?}");
}

#[tokio::test]
async fn a_missing_pool_is_not_found_and_a_missing_group_is_none() {
    let pool = cognito_answering!(
        describe_user_pool,
        400,
        "ResourceNotFoundException",
        "User pool us-east-1_Abc123 does not exist."
    );
    assert!(matches!(pool.describe().await.unwrap_err(), PortError::NotFound(_)));
    let pool = cognito_answering!(get_group, 400, "ResourceNotFoundException", "Group not found.");
    assert_eq!(pool.get_group("gone").await.unwrap(), None);
}

#[tokio::test]
async fn denied_calls_and_server_errors_are_told_apart() {
    let pool = cognito_answering!(list_users_in_group, 400, "NotAuthorizedException", "User is not authorized");
    let err = pool.list_users_in_group("g", None).await.unwrap_err();
    assert!(matches!(err, PortError::AccessDenied(_)), "{err:?}");
    let pool = cognito_answering!(list_users_in_group, 500, "InternalErrorException", "Internal error");
    let err = pool.list_users_in_group("g", None).await.unwrap_err();
    assert!(matches!(err, PortError::Unavailable(_)), "{err:?}");
}

#[tokio::test]
async fn a_user_or_group_that_already_exists_is_reported_as_such_not_as_a_failure() {
    let pool = cognito_answering!(admin_create_user, 400, "UsernameExistsException", "User account already exists");
    let created = pool.create_user("u", &Default::default()).await.unwrap();
    assert_eq!(created, Created::AlreadyExisted);
    let pool = cognito_answering!(create_group, 400, "GroupExistsException", "A group with the name already exists");
    let group = backup_domain::ports::PoolGroup { name: "g".into(), ..Default::default() };
    assert_eq!(pool.create_group(&group).await.unwrap(), Created::AlreadyExisted);
}

#[tokio::test]
async fn a_refused_conditional_write_keeps_the_newer_item_and_is_not_an_error() {
    let store = dynamodb_answering!(
        put_item,
        400,
        "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException",
        "The conditional request failed"
    );
    let group = BackupItem::from_body(
        ItemType::Group,
        serde_json::json!({"schemaVersion": 1, "lastConfirmedAt": 5, "exportRunId": "run", "groupName": "g"}),
    )
    .unwrap();
    let outcome = store.put_if_newer(&[group]).await.unwrap();
    assert_eq!((outcome.written, outcome.newer_kept), (0, 1));
}

#[tokio::test]
async fn a_throttled_or_missing_table_is_named() {
    let store = dynamodb_answering!(
        get_item,
        400,
        "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
        "Rate of requests exceeds the allowed throughput"
    );
    let err = store.get(&ItemKey::export_marker()).await.unwrap_err();
    assert!(matches!(err, PortError::Throttled(_)), "{err:?}");
    let store = dynamodb_answering!(
        get_item,
        400,
        "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException",
        "Requested resource not found"
    );
    let err = store.get(&ItemKey::export_marker()).await.unwrap_err();
    assert!(matches!(err, PortError::NotFound(_)) && err.to_string().contains("cb-backup"), "{err:?}");
}
