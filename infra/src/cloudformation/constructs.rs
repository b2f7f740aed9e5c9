//! The building blocks: a Lambda function with its role and log group, a state machine with its role and
//! alarms, the schedule and outcome rules, the encrypted topic, the ledger table, the workflow bucket, the
//! deployment parameter the CLI reads.

use serde_json::{Map, Value, json};

use super::iam::{self, PREFIX};
use super::template::{Template, arn, get_att, reference, sub};
use crate::definitions::{EnvVar, FunctionDef, StateMachineDef, WORKFLOW_OUTCOME, names};

/// Log retention of every function.
const LOG_RETENTION_DAYS: u32 = 90;
/// An export's seen keys and removal lists are kept this long (a failed clean-up can be audited).
const EXPORT_STATE_DAYS: u32 = 7;

pub fn with_condition(condition: Option<&str>, extra: Value) -> Value {
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
        EnvVar::WorkflowBucketName => reference("WorkflowBucket"),
        EnvVar::NotificationTopicArn => reference("NotificationTopic"),
        EnvVar::NotificationPreference => reference("NotificationPreference"),
        EnvVar::QuotaShare => reference("CognitoQuotaShare"),
        EnvVar::CleanupMaxRemovedShare => reference("CleanupMaxRemovedShare"),
        EnvVar::RestoreLedgerTableName => sub(names::ledger_table(PREFIX)),
        EnvVar::UserImportRoleArn => get_att("CognitoUserImportLogsRole", "Arn"),
    }
}

/// Where the build put a binary's zip for the stack's Region: from the regional stack's parameters, or
/// (main stack) from the assets the template was synthesized for.
pub fn code(binary: &str, assets: Option<&super::Assets>) -> Value {
    match assets {
        None => {
            json!({"S3Bucket": sub("${AssetBucketPrefix}-${AWS::Region}"), "S3Key": sub(format!("${{AssetKeyPrefix}}/{binary}.zip"))})
        }
        Some(a) => {
            json!({"S3Bucket": sub(format!("{}-${{AWS::Region}}", a.bucket_prefix)), "S3Key": format!("{}/{binary}.zip", a.key_prefix)})
        }
    }
}

/// A function, its role (only its own permissions) and its log group (with retention, JSON logs).
pub fn lambda_function(t: &mut Template, f: &FunctionDef, condition: Option<&str>, code: Value) -> String {
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
        "Code": code,
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

/// A state machine, the role that lets it invoke exactly its functions, and alarms on every bad ending.
pub fn state_machine(t: &mut Template, sm: &StateMachineDef, condition: Option<&str>) -> Result<String, String> {
    let id = sm.logical_id.to_owned();
    let role = format!("{}Role", sm.logical_id);
    let functions = (sm.functions)();
    let definition: Value = serde_json::from_str(sm.asl).map_err(|e| format!("{}: {e}", sm.logical_id))?;
    let substitutions: Map<String, Value> = functions
        .iter()
        .map(|f| (f.substitution_key(), get_att(&format!("{}Function", f.logical_id), "Arn")))
        .collect();
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
    for (metric, what) in
        [("ExecutionsFailed", "failed"), ("ExecutionsTimedOut", "timed out"), ("ExecutionsAborted", "was stopped")]
    {
        t.resource(
            &format!("{id}{metric}Alarm"),
            "AWS::CloudWatch::Alarm",
            json!({
                "AlarmName": sub(format!("{PREFIX}-{id}-{metric}-${{AWS::Region}}")),
                "AlarmDescription": format!("An execution of the {id} {what}: see the notification topic and the execution's history."),
                "Namespace": "AWS/States",
                "MetricName": metric,
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
    }
    Ok(id)
}

/// The EventBridge rule that starts the ExportWorkflow. EventBridge may deliver an event twice: the
/// second execution finds the lease taken and stops without writing.
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
            "Targets": [{"Id": "export-workflow", "Arn": reference(state_machine), "RoleArn": get_att("ExportScheduleRole", "Arn"), "Input": "{}"}],
        }),
        with_condition(condition, json!({})),
    );
}

/// The rule that sends every execution ending FAILED, TIMED_OUT or ABORTED to the outcome function.
pub fn outcome_rule(t: &mut Template, import: &str, export: &str, export_condition: &str) {
    let function = format!("{}Function", WORKFLOW_OUTCOME.logical_id);
    t.resource(
        "WorkflowOutcomeRule",
        "AWS::Events::Rule",
        json!({
            "Name": sub(names::outcome_rule(PREFIX)),
            "Description": "Announces bad endings the workflows' own failure notice never saw, and releases their leases",
            "EventPattern": {
                "source": ["aws.states"],
                "detail-type": ["Step Functions Execution Status Change"],
                "detail": {
                    "status": ["FAILED", "TIMED_OUT", "ABORTED"],
                    "stateMachineArn": [reference(import), {"Fn::If": [export_condition, reference(export), reference("AWS::NoValue")]}],
                },
            },
            "State": "ENABLED",
            "Targets": [{"Id": "workflow-outcome", "Arn": get_att(&function, "Arn")}],
        }),
        json!({}),
    );
    t.resource(
        "WorkflowOutcomePermission",
        "AWS::Lambda::Permission",
        json!({
            "Action": "lambda:InvokeFunction",
            "FunctionName": reference(&function),
            "Principal": "events.amazonaws.com",
            "SourceArn": get_att("WorkflowOutcomeRule", "Arn"),
        }),
        json!({}),
    );
}

/// The topic, encrypted with a customer managed key whose policy lets CloudWatch alarms and EventBridge
/// rules publish (the AWS managed `alias/aws/sns` key does not), and its email subscription.
pub fn topic(t: &mut Template) {
    t.resource(
        "NotificationKey",
        "AWS::KMS::Key",
        json!({
            "Description": sub(format!("{PREFIX}: encrypts the notification topic")),
            "EnableKeyRotation": true,
            "KeyPolicy": {"Version": "2012-10-17", "Statement": [
                {"Sid": "AccountAdministersTheKey", "Effect": "Allow",
                 "Principal": {"AWS": sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:root")}, "Action": "kms:*", "Resource": "*"},
                {"Sid": "AlarmsAndRulesPublish", "Effect": "Allow",
                 "Principal": {"Service": ["cloudwatch.amazonaws.com", "events.amazonaws.com"]},
                 "Action": ["kms:Decrypt", "kms:GenerateDataKey*"], "Resource": "*"},
            ]},
        }),
        json!({"DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"}),
    );
    t.resource(
        "NotificationKeyAlias",
        "AWS::KMS::Alias",
        json!({"AliasName": sub(format!("alias/{PREFIX}-notifications-${{AWS::Region}}")), "TargetKeyId": reference("NotificationKey")}),
        json!({}),
    );
    t.resource(
        "NotificationTopic",
        "AWS::SNS::Topic",
        json!({"TopicName": sub(names::topic(PREFIX)), "DisplayName": "Cognito backup", "KmsMasterKeyId": reference("NotificationKey")}),
        json!({}),
    );
    t.resource(
        "NotificationTopicPolicy",
        "AWS::SNS::TopicPolicy",
        json!({
            "Topics": [reference("NotificationTopic")],
            "PolicyDocument": {"Version": "2012-10-17", "Statement": [{
                "Sid": "AlarmsAndRulesPublish", "Effect": "Allow",
                "Principal": {"Service": ["cloudwatch.amazonaws.com", "events.amazonaws.com"]},
                "Action": "sns:Publish", "Resource": reference("NotificationTopic"),
                "Condition": {"StringEquals": {"aws:SourceAccount": reference("AWS::AccountId")}},
            }]},
        }),
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
            "DeletionProtectionEnabled": true,
        }),
        json!({"DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"}),
    );
}

/// The Region's bucket for the workflows' state, restore reports and sub mappings: private, encrypted,
/// TLS only, retained, and emptied by lifecycle rules (sub mappings hold usernames).
/// Objects encrypted at rest with S3's keys.
pub fn bucket_encryption() -> Value {
    json!({"ServerSideEncryptionConfiguration": [{"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
}

/// A bucket nobody outside the account reaches.
pub fn no_public_access() -> Value {
    json!({"BlockPublicAcls": true, "BlockPublicPolicy": true, "IgnorePublicAcls": true, "RestrictPublicBuckets": true})
}

pub fn workflow_bucket(t: &mut Template) {
    t.resource(
        "WorkflowBucket",
        "AWS::S3::Bucket",
        json!({
            "BucketName": sub(names::workflow_bucket(PREFIX, "${AWS::Region}", "${AWS::AccountId}")),
            "BucketEncryption": bucket_encryption(),
            "PublicAccessBlockConfiguration": no_public_access(),
            "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
            "VersioningConfiguration": {"Status": "Enabled"},
            "LifecycleConfiguration": {"Rules": [
                {"Id": "export-state", "Status": "Enabled", "Prefix": "exports/", "ExpirationInDays": EXPORT_STATE_DAYS,
                 "NoncurrentVersionExpiration": {"NoncurrentDays": 1}},
                {"Id": "restore-reports-and-sub-mappings", "Status": "Enabled", "Prefix": "restores/",
                 "ExpirationInDays": reference("RestoreObjectRetentionDays"), "NoncurrentVersionExpiration": {"NoncurrentDays": 1}},
            ]},
        }),
        json!({"DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"}),
    );
    t.resource(
        "WorkflowBucketPolicy",
        "AWS::S3::BucketPolicy",
        json!({
            "Bucket": reference("WorkflowBucket"),
            "PolicyDocument": {"Version": "2012-10-17", "Statement": [{
                "Sid": "TlsOnly",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [get_att("WorkflowBucket", "Arn"), sub("${WorkflowBucket.Arn}/*")],
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

/// What the Region's stack deployed, for `cognito-backup` to find it without being told
/// (`/cognito-backup/<prefix>/deployment`).
pub fn deployment_parameter(t: &mut Template, export: &str, export_condition: &str) {
    // Sorted keys whatever serde_json's features (`preserve_order` would keep the order written here):
    // the committed template must not depend on how the workspace is built.
    let value: std::collections::BTreeMap<&str, String> = [
        ("prefix", "${ResourcePrefix}".to_owned()),
        ("region", "${AWS::Region}".to_owned()),
        ("primaryRegion", "${PrimaryRegion}".to_owned()),
        ("backupRegion", "${BackupRegion}".to_owned()),
        ("userPoolId", "${PrimaryUserPoolId}".to_owned()),
        ("backupTableName", names::backup_table(PREFIX)),
        ("restoreLedgerTableName", names::ledger_table(PREFIX)),
        ("workflowBucketName", "${WorkflowBucket}".to_owned()),
        ("notificationTopicArn", "${NotificationTopic}".to_owned()),
        ("importStateMachineArn", "${ImportWorkflow}".to_owned()),
        ("exportStateMachineArn", "${ExportArn}".to_owned()),
        ("exportSchedule", "${ExportSchedule}".to_owned()),
    ]
    .into();
    t.resource(
        "DeploymentParameter",
        "AWS::SSM::Parameter",
        json!({
            "Name": sub(names::deployment_parameter(PREFIX)),
            "Type": "String",
            "Description": "What this Region's Cognito backup stack deployed (read by the cognito-backup CLI)",
            "Value": {"Fn::Sub": [serde_json::to_string(&value).unwrap_or_default(), {"ExportArn": {"Fn::If": [export_condition, reference(export), ""]}}]},
        }),
        json!({}),
    );
}
