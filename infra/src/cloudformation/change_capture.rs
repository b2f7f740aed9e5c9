//! Continuous protection, in the primary Region when the `ChangeCapture` parameter is on: CloudTrail (a
//! trail of the stack's own, or the account's existing one) → an EventBridge rule matching the pool's
//! Cognito calls → an SQS queue with a dead-letter queue and its alarm → the `capture-changes` function,
//! in batches with partial failures. Also the optional reconciliation schedule: a change-only export
//! more often than the full schedule, for changes CloudTrail does not identify.

use serde_json::{Value, json};

use super::constructs::{self, with_condition};
use super::iam::PREFIX;
use super::template::{Template, get_att, reference, sub};
use crate::definitions::{CAPTURE_CHANGES, names};

pub const CAPTURE: &str = "CaptureChangesHere";
const CREATE_TRAIL: &str = "CreateChangeTrail";
const RECONCILE: &str = "ReconcileHere";
/// Deliveries of a message before it is kept in the dead-letter queue.
const MAX_RECEIVES: u32 = 5;
/// Lambda's SQS guide: at least six times the function's timeout.
const VISIBILITY_TIMEOUT: u32 = 6 * CAPTURE_CHANGES.timeout_seconds;
const FOURTEEN_DAYS: u32 = 14 * 24 * 3600;

/// The stack parameters (shared by the main and the regional stack).
pub fn parameters() -> Vec<(&'static str, Value)> {
    vec![
        (
            "ChangeCapture",
            json!({"Type": "String", "Default": "Enabled", "AllowedValues": ["Enabled", "Disabled"],
                   "Description": "Capture user and group changes from CloudTrail within a minute, between exports"}),
        ),
        (
            "ChangeCaptureTrail",
            json!({"Type": "String", "Default": "CreateTrail", "AllowedValues": ["CreateTrail", "UseExistingTrail"],
                   "Description": "Change capture needs CloudTrail management (write) events of the primary Region: create a trail for them, or use the account's existing trail"}),
        ),
        (
            "ReconciliationSchedule",
            json!({"Type": "String", "Default": "none",
                   "AllowedPattern": "^(none|rate\\(\\d+ (minute|minutes|hour|hours|day|days)\\)|cron\\(\\S+ \\S+ \\S+ \\S+ \\S+ \\S+\\))$",
                   "ConstraintDescription": "none, or an EventBridge rate(…) or cron(…) expression",
                   "Description": "An extra, change-only export between the scheduled ones, for changes CloudTrail does not identify (CSV import jobs, self sign-ups): none, or rate(…)/cron(…)"}),
        ),
    ]
}

pub fn conditions(t: &mut Template, primary: &str) {
    let equals = |p: &str, v: &str| json!({"Fn::Equals": [reference(p), v]});
    t.conditions
        .insert(CAPTURE.into(), json!({"Fn::And": [{"Condition": primary}, equals("ChangeCapture", "Enabled")]}));
    t.conditions.insert(
        CREATE_TRAIL.into(),
        json!({"Fn::And": [{"Condition": CAPTURE}, equals("ChangeCaptureTrail", "CreateTrail")]}),
    );
    t.conditions.insert(
        RECONCILE.into(),
        json!({"Fn::And": [{"Condition": primary}, {"Fn::Not": [equals("ReconciliationSchedule", "none")]}]}),
    );
}

pub fn resources(t: &mut Template, export: &str) {
    let function =
        constructs::lambda_function(t, &CAPTURE_CHANGES, Some(CAPTURE), constructs::code(CAPTURE_CHANGES.binary, None));
    let only_here = || with_condition(Some(CAPTURE), json!({}));
    t.resource(
        "ChangeDeadLetterQueue",
        "AWS::SQS::Queue",
        json!({"QueueName": sub(names::change_dead_letter_queue(PREFIX)), "MessageRetentionPeriod": FOURTEEN_DAYS, "SqsManagedSseEnabled": true}),
        only_here(),
    );
    t.resource(
        "ChangeQueue",
        "AWS::SQS::Queue",
        json!({
            "QueueName": sub(names::change_queue(PREFIX)),
            "VisibilityTimeout": VISIBILITY_TIMEOUT,
            "MessageRetentionPeriod": FOURTEEN_DAYS,
            "SqsManagedSseEnabled": true,
            "RedrivePolicy": {"deadLetterTargetArn": get_att("ChangeDeadLetterQueue", "Arn"), "maxReceiveCount": MAX_RECEIVES},
        }),
        only_here(),
    );
    t.resource(
        "ChangeRule",
        "AWS::Events::Rule",
        json!({
            "Name": sub(names::change_rule(PREFIX)),
            "Description": "The protected pool's Cognito calls, as CloudTrail records them, to the change queue",
            "EventPattern": {
                "source": ["aws.cognito-idp"],
                "detail-type": ["AWS API Call via CloudTrail"],
                // Calls name the pool in their parameters; unauthenticated ones only in additionalEventData.
                "detail": {"$or": [
                    {"requestParameters": {"userPoolId": [reference("PrimaryUserPoolId")]}},
                    {"additionalEventData": {"userPoolId": [reference("PrimaryUserPoolId")]}},
                ]},
            },
            "State": "ENABLED",
            "Targets": [{"Id": "change-queue", "Arn": get_att("ChangeQueue", "Arn")}],
        }),
        only_here(),
    );
    t.resource(
        "ChangeQueuePolicy",
        "AWS::SQS::QueuePolicy",
        json!({
            "Queues": [reference("ChangeQueue")],
            "PolicyDocument": {"Version": "2012-10-17", "Statement": [{
                "Sid": "TheRuleSends", "Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sqs:SendMessage", "Resource": get_att("ChangeQueue", "Arn"),
                "Condition": {"ArnEquals": {"aws:SourceArn": get_att("ChangeRule", "Arn")}},
            }]},
        }),
        only_here(),
    );
    t.resource(
        "CaptureChangesEventSource",
        "AWS::Lambda::EventSourceMapping",
        json!({
            "FunctionName": reference(&function),
            "EventSourceArn": get_att("ChangeQueue", "Arn"),
            "BatchSize": 10,
            "MaximumBatchingWindowInSeconds": 1,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
        }),
        only_here(),
    );
    t.resource(
        "ChangeDeadLetterAlarm",
        "AWS::CloudWatch::Alarm",
        json!({
            "AlarmName": sub(format!("{PREFIX}-change-capture-dead-letters-${{AWS::Region}}")),
            "AlarmDescription": "Changes the capture could not write after 5 attempts wait in the dead-letter queue: read the capture-changes function's logs; the next export covers them.",
            "Namespace": "AWS/SQS",
            "MetricName": "ApproximateNumberOfMessagesVisible",
            "Dimensions": [{"Name": "QueueName", "Value": get_att("ChangeDeadLetterQueue", "QueueName")}],
            "Statistic": "Maximum",
            "Period": 60,
            "EvaluationPeriods": 1,
            "Threshold": 0,
            "ComparisonOperator": "GreaterThanThreshold",
            "TreatMissingData": "notBreaching",
            "AlarmActions": [reference("NotificationTopic")],
        }),
        only_here(),
    );
    trail(t);
    reconciliation(t, export);
}

/// A trail of management write events in the primary Region, into a bucket of the stack.
fn trail(t: &mut Template) {
    let when = || with_condition(Some(CREATE_TRAIL), json!({}));
    t.resource(
        "ChangeTrailBucket",
        "AWS::S3::Bucket",
        json!({
            "BucketName": sub(format!("{PREFIX}-trail-${{AWS::Region}}-${{AWS::AccountId}}")),
            "BucketEncryption": constructs::bucket_encryption(),
            "PublicAccessBlockConfiguration": constructs::no_public_access(),
            "LifecycleConfiguration": {"Rules": [{"Id": "expire-trail-logs", "Status": "Enabled", "ExpirationInDays": 90}]},
        }),
        with_condition(Some(CREATE_TRAIL), json!({"DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"})),
    );
    t.resource(
        "ChangeTrailBucketPolicy",
        "AWS::S3::BucketPolicy",
        json!({
            "Bucket": reference("ChangeTrailBucket"),
            "PolicyDocument": {"Version": "2012-10-17", "Statement": [
                {"Sid": "CloudTrailReadsTheAcl", "Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"},
                 "Action": "s3:GetBucketAcl", "Resource": get_att("ChangeTrailBucket", "Arn")},
                {"Sid": "CloudTrailWrites", "Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"},
                 "Action": "s3:PutObject", "Resource": sub("${ChangeTrailBucket.Arn}/AWSLogs/${AWS::AccountId}/*"),
                 "Condition": {"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control"}}},
            ]},
        }),
        when(),
    );
    t.resource(
        "ChangeTrail",
        "AWS::CloudTrail::Trail",
        json!({
            "TrailName": sub(names::change_trail(PREFIX)),
            "S3BucketName": reference("ChangeTrailBucket"),
            "IsLogging": true,
            "IsMultiRegionTrail": false,
            "IncludeGlobalServiceEvents": false,
            "EventSelectors": [{"ReadWriteType": "WriteOnly", "IncludeManagementEvents": true}],
        }),
        with_condition(Some(CREATE_TRAIL), json!({"DependsOn": ["ChangeTrailBucketPolicy"]})),
    );
}

/// A change-only export between the scheduled ones, when a reconciliation schedule is set.
fn reconciliation(t: &mut Template, export: &str) {
    t.resource(
        "ReconciliationRule",
        "AWS::Events::Rule",
        json!({
            "Name": sub(names::reconciliation_rule(PREFIX)),
            "Description": "Starts a change-only ExportWorkflow between the scheduled ones",
            "ScheduleExpression": reference("ReconciliationSchedule"),
            "State": "ENABLED",
            "Targets": [{"Id": "export-workflow", "Arn": reference(export), "RoleArn": get_att("ExportScheduleRole", "Arn"), "Input": "{}"}],
        }),
        with_condition(Some(RECONCILE), json!({})),
    );
}
