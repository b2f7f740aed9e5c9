//! The building blocks: a Lambda function with its role and log group, a state machine with its role and
//! alarm, a schedule, a topic, a table, a bucket.

use serde_json::{Map, Value, json};

use super::iam::{self, PREFIX};
use super::template::{Template, arn, get_att, reference, sub};
use crate::definitions::{EnvVar, FunctionDef, StateMachineDef, names};

/// Log retention of every function.
const LOG_RETENTION_DAYS: u32 = 90;

fn with_condition(condition: Option<&str>, extra: Value) -> Value {
    let mut extra = extra.as_object().cloned().unwrap_or_default();
    if let Some(c) = condition {
        extra.insert("Condition".into(), json!(c));
    }
    Value::Object(extra)
}

/// Role names carry the Region: IAM is global and the regional stack runs in two Regions.
pub fn role_name(logical_id: &str) -> Value {
    sub(format!("{PREFIX}-${{AWS::Region}}-{logical_id}"))
}

pub fn env_value(var: EnvVar) -> Value {
    match var {
        EnvVar::UserPoolId => reference("PrimaryUserPoolId"),
        EnvVar::BackupTableName => sub(names::backup_table(PREFIX)),
        EnvVar::NotificationTopicArn => reference("NotificationTopic"),
        EnvVar::NotificationPreference => reference("NotificationPreference"),
        EnvVar::QuotaShare => reference("CognitoQuotaShare"),
        EnvVar::RestoreLedgerTableName => sub(names::ledger_table(PREFIX)),
        EnvVar::ReportBucketName => reference("ReportBucket"),
        EnvVar::UserImportRoleArn => get_att("CognitoUserImportLogsRole", "Arn"),
    }
}

/// Where the build put a binary's zip for the stack's Region: from the regional stack's parameters, or
/// (main stack) from the assets the template was synthesized for.
pub fn code(binary: &str, assets: Option<&super::Assets>) -> Value {
    match assets {
        None => json!({"S3Bucket": sub("${AssetBucketPrefix}-${AWS::Region}"), "S3Key": sub(format!("${{AssetKeyPrefix}}/{binary}.zip"))}),
        Some(a) => json!({"S3Bucket": sub(format!("{}-${{AWS::Region}}", a.bucket_prefix)), "S3Key": format!("{}/{binary}.zip", a.key_prefix)}),
    }
}

/// A function, its role (only its own permissions) and its log group (with retention).
pub fn lambda_function(t: &mut Template, f: &FunctionDef, condition: Option<&str>) -> String {
    let id = format!("{}Function", f.logical_id);
    let role = format!("{}Role", f.logical_id);
    let log_group = format!("{}LogGroup", f.logical_id);
    let name = names::function(PREFIX, f);
    t.resource(
        &role,
        "AWS::IAM::Role",
        json!({
            "RoleName": role_name(f.logical_id),
            "AssumeRolePolicyDocument": iam::assume_role("lambda.amazonaws.com"),
            "Policies": iam::policy("least-privilege", iam::function_statements(f)),
        }),
        with_condition(condition, json!({})),
    );
    t.resource(
        &log_group,
        "AWS::Logs::LogGroup",
        json!({"LogGroupName": sub(format!("/aws/lambda/{name}")), "RetentionInDays": LOG_RETENTION_DAYS}),
        with_condition(condition, json!({"DeletionPolicy": "Delete", "UpdateReplacePolicy": "Delete"})),
    );
    let variables: Map<String, Value> = f.environment.iter().map(|v| (v.name().to_owned(), env_value(*v))).collect();
    let mut properties = json!({
        "FunctionName": sub(name),
        "Description": f.description,
        "Runtime": "provided.al2023",
        "Architectures": ["arm64"],
        // provided.al2023 runs the zip's `bootstrap` and ignores Handler; the local cloud runs the binary it names.
        "Handler": f.binary,
        "Code": code(f.binary, None),
        "Role": get_att(&role, "Arn"),
        "Timeout": f.timeout_seconds,
        "MemorySize": f.memory_mb,
        "LoggingConfig": {"LogFormat": "JSON", "LogGroup": reference(&log_group)},
    });
    if !variables.is_empty() {
        properties["Environment"] = json!({"Variables": variables});
    }
    t.resource(&id, "AWS::Lambda::Function", properties, with_condition(condition, json!({})));
    id
}

/// A state machine, the role that lets it invoke exactly its functions, and an alarm on failed executions.
pub fn state_machine(t: &mut Template, sm: &StateMachineDef, condition: Option<&str>) -> Result<String, String> {
    let id = sm.logical_id.to_owned();
    let role = format!("{}Role", sm.logical_id);
    let functions = (sm.functions)();
    let definition: Value = serde_json::from_str(sm.asl).map_err(|e| format!("{}: {e}", sm.logical_id))?;
    let substitutions: Map<String, Value> =
        functions.iter().map(|f| (f.substitution_key(), get_att(&format!("{}Function", f.logical_id), "Arn"))).collect();
    let invoke: Vec<Value> = functions.iter().map(|f| get_att(&format!("{}Function", f.logical_id), "Arn")).collect();
    t.resource(
        &role,
        "AWS::IAM::Role",
        json!({
            "RoleName": role_name(sm.logical_id),
            "AssumeRolePolicyDocument": iam::assume_role("states.amazonaws.com"),
            "Policies": iam::policy("invoke-its-functions", vec![json!({"Effect": "Allow", "Action": ["lambda:InvokeFunction"], "Resource": invoke})]),
        }),
        with_condition(condition, json!({})),
    );
    t.resource(
        &id,
        "AWS::StepFunctions::StateMachine",
        json!({
            "StateMachineName": sub(names::state_machine(PREFIX, sm)),
            "StateMachineType": "STANDARD",
            "Definition": definition,
            "DefinitionSubstitutions": substitutions,
            "RoleArn": get_att(&role, "Arn"),
        }),
        with_condition(condition, json!({})),
    );
    t.resource(
        &format!("{id}FailedAlarm"),
        "AWS::CloudWatch::Alarm",
        json!({
            "AlarmName": sub(format!("{PREFIX}-{id}-failed-${{AWS::Region}}")),
            "AlarmDescription": format!("An execution of the {id} failed: see the notification topic and the execution's history."),
            "Namespace": "AWS/States",
            "MetricName": "ExecutionsFailed",
            "Dimensions": [{"Name": "StateMachineArn", "Value": reference(&id)}],
            "Statistic": "Sum",
            "Period": 300,
            "EvaluationPeriods": 1,
            "Threshold": 1,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            "TreatMissingData": "notBreaching",
            "AlarmActions": [reference("NotificationTopic")],
        }),
        with_condition(condition, json!({})),
    );
    Ok(id)
}

/// The EventBridge rule that starts the ExportWorkflow.
pub fn schedule(t: &mut Template, state_machine: &str, condition: Option<&str>) {
    t.resource(
        "ExportScheduleRole",
        "AWS::IAM::Role",
        json!({
            "RoleName": role_name("ExportSchedule"),
            "AssumeRolePolicyDocument": iam::assume_role("events.amazonaws.com"),
            "Policies": iam::policy("start-export", vec![json!({"Effect": "Allow", "Action": ["states:StartExecution"], "Resource": reference(state_machine)})]),
        }),
        with_condition(condition, json!({})),
    );
    t.resource(
        "ExportScheduleRule",
        "AWS::Events::Rule",
        json!({
            "Name": sub(names::schedule_rule(PREFIX)),
            "Description": "Starts the ExportWorkflow",
            "ScheduleExpression": reference("ExportSchedule"),
            "State": "ENABLED",
            "Targets": [{"Id": "export-workflow", "Arn": reference(state_machine), "RoleArn": get_att("ExportScheduleRole", "Arn")}],
        }),
        with_condition(condition, json!({})),
    );
}

pub fn topic(t: &mut Template) {
    t.resource(
        "NotificationTopic",
        "AWS::SNS::Topic",
        json!({"TopicName": sub(names::topic(PREFIX)), "DisplayName": "Cognito backup", "KmsMasterKeyId": "alias/aws/sns"}),
        json!({}),
    );
    t.resource(
        "NotificationEmailSubscription",
        "AWS::SNS::Subscription",
        json!({"TopicArn": reference("NotificationTopic"), "Protocol": "email", "Endpoint": reference("NotificationEmail")}),
        json!({}),
    );
}

pub fn key_schema() -> (Value, Value) {
    (
        json!([{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "S"}]),
        json!([{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}]),
    )
}

pub fn ledger_table(t: &mut Template) {
    let (attributes, keys) = key_schema();
    t.resource(
        "RestoreLedgerTable",
        "AWS::DynamoDB::Table",
        json!({
            "TableName": sub(names::ledger_table(PREFIX)),
            "AttributeDefinitions": attributes,
            "KeySchema": keys,
            "BillingMode": "PAY_PER_REQUEST",
            "SSESpecification": {"SSEEnabled": true},
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": true},
        }),
        json!({"DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"}),
    );
}

/// The Region's bucket for restore reports and sub-mapping CSVs: private, encrypted, TLS only, retained.
pub fn report_bucket(t: &mut Template) {
    t.resource(
        "ReportBucket",
        "AWS::S3::Bucket",
        json!({
            "BucketName": sub(names::report_bucket(PREFIX, "${AWS::Region}", "${AWS::AccountId}")),
            "BucketEncryption": {"ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]},
            "PublicAccessBlockConfiguration": {"BlockPublicAcls": true, "BlockPublicPolicy": true, "IgnorePublicAcls": true, "RestrictPublicBuckets": true},
            "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
            "VersioningConfiguration": {"Status": "Enabled"},
        }),
        json!({"DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"}),
    );
    t.resource(
        "ReportBucketPolicy",
        "AWS::S3::BucketPolicy",
        json!({
            "Bucket": reference("ReportBucket"),
            "PolicyDocument": {"Version": "2012-10-17", "Statement": [{
                "Sid": "TlsOnly",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [get_att("ReportBucket", "Arn"), sub("${ReportBucket.Arn}/*")],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }]},
        }),
        json!({}),
    );
}

/// The role Cognito assumes to write an import job's CloudWatch logs.
pub fn user_import_logs_role(t: &mut Template) {
    t.resource(
        "CognitoUserImportLogsRole",
        "AWS::IAM::Role",
        json!({
            "RoleName": role_name("CognitoUserImportLogs"),
            "AssumeRolePolicyDocument": iam::assume_role("cognito-idp.amazonaws.com"),
            "Policies": iam::policy("import-job-logs", vec![json!({
                "Effect": "Allow",
                "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"],
                "Resource": [arn("logs", "log-group:/aws/cognito/*"), arn("logs", "log-group:/aws/cognito/*:*")],
            })]),
        }),
        json!({}),
    );
}
