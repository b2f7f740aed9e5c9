//! The main stack, launched in the primary Region: the backup table (a global table with its replica in
//! the backup Region), the update guard, and the StackSet that deploys the regional stack to both Regions.

use serde_json::{Value, json};

use super::constructs;
use super::iam::{self, PREFIX};
use super::template::{Template, arn, get_att, reference, sub};
use super::{Assets, REGIONAL_TEMPLATE_FILE};
use crate::definitions::names;

/// Parameters both templates take, with the same names and checks.
pub fn shared_parameters() -> Vec<(&'static str, Value)> {
    vec![
        (
            "ResourcePrefix",
            json!({"Type": "String", "Default": "cognito-backup", "AllowedPattern": "^[a-z][a-z0-9-]{2,19}$",
                   "ConstraintDescription": "3 to 20 lower-case letters, digits or hyphens, starting with a letter",
                   "Description": "Prefix of every resource name (functions, tables, buckets, roles)"}),
        ),
        (
            "PrimaryUserPoolId",
            json!({"Type": "String", "AllowedPattern": "^[\\w-]+_[0-9a-zA-Z]+$",
                   "ConstraintDescription": "a user pool ID such as us-east-1_AbCdEf123",
                   "Description": "The user pool to back up; in this stack's Region"}),
        ),
        (
            "ExportSchedule",
            json!({"Type": "String", "Default": "rate(1 day)",
                   "AllowedPattern": "^(rate\\(\\d+ (minute|minutes|hour|hours|day|days)\\)|cron\\(\\S+ \\S+ \\S+ \\S+ \\S+ \\S+\\))$",
                   "ConstraintDescription": "an EventBridge rate(…) or cron(…) expression",
                   "Description": "When the ExportWorkflow runs"}),
        ),
        (
            "CognitoQuotaShare",
            json!({"Type": "Number", "Default": 0.5, "MinValue": 0.01, "MaxValue": 1,
                   "Description": "Share of each Cognito quota category the workflows may use (the rest is left to your applications)"}),
        ),
        (
            "NotificationEmail",
            json!({"Type": "String", "AllowedPattern": "^[^\\s@]+@[^\\s@]+\\.[^\\s@]+$",
                   "ConstraintDescription": "an email address", "Description": "Receives workflow reports and failures"}),
        ),
        (
            "NotificationPreference",
            json!({"Type": "String", "Default": "INFO_AND_ERRORS", "AllowedValues": ["INFO_AND_ERRORS", "ERRORS_ONLY"],
                   "Description": "Every completion and failure, or failures only"}),
        ),
    ]
}

pub fn template(assets: &Assets) -> Result<Template, String> {
    let mut t = Template::new(format!(
        "Cognito user pool backup and restore: backup table (global), update guard, and the regional StackSet \
         (version {})",
        assets.version
    ));
    for (name, spec) in shared_parameters() {
        t.parameter(name, spec);
    }
    t.parameter(
        "BackupRegion",
        json!({"Type": "String", "AllowedPattern": "^[a-z]{2}(-gov)?-[a-z]+-\\d$",
               "ConstraintDescription": "a Region such as us-west-2, other than this stack's",
               "Description": "Holds the backup table's replica and an ImportWorkflow"}),
    );
    t.metadata = Some(json!({"AWS::CloudFormation::Interface": {
        "ParameterGroups": [
            {"Label": {"default": "User pool"}, "Parameters": ["PrimaryUserPoolId", "BackupRegion"]},
            {"Label": {"default": "Backups"}, "Parameters": ["ExportSchedule", "CognitoQuotaShare", "ResourcePrefix"]},
            {"Label": {"default": "Notifications"}, "Parameters": ["NotificationEmail", "NotificationPreference"]},
        ],
        "ParameterLabels": {
            "PrimaryUserPoolId": {"default": "User pool ID"},
            "BackupRegion": {"default": "Backup Region"},
            "ExportSchedule": {"default": "Export schedule"},
            "CognitoQuotaShare": {"default": "Share of Cognito quotas"},
            "ResourcePrefix": {"default": "Resource name prefix"},
            "NotificationEmail": {"default": "Notification email"},
            "NotificationPreference": {"default": "Notify about"},
        },
    }}));

    let (attributes, keys) = constructs::key_schema();
    let pitr = json!({"PointInTimeRecoveryEnabled": true});
    t.resource(
        "BackupTable",
        "AWS::DynamoDB::GlobalTable",
        json!({
            "TableName": sub(names::backup_table(PREFIX)),
            "AttributeDefinitions": attributes,
            "KeySchema": keys,
            "BillingMode": "PAY_PER_REQUEST",
            "StreamSpecification": {"StreamViewType": "NEW_AND_OLD_IMAGES"},
            "SSESpecification": {"SSEEnabled": true, "SSEType": "KMS"},
            "Replicas": [
                {"Region": reference("AWS::Region"), "PointInTimeRecoverySpecification": pitr},
                {"Region": reference("BackupRegion"), "PointInTimeRecoverySpecification": pitr},
            ],
        }),
        json!({"DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"}),
    );

    update_guard(&mut t, assets);
    stack_set(&mut t, assets);

    t.output("BackupTableName", "The backup table (global, replicated to the backup Region)", reference("BackupTable"));
    t.output("ExportWorkflowName", "The ExportWorkflow, in this Region", sub(format!("{PREFIX}-ExportWorkflow")));
    t.output("ImportWorkflowName", "The ImportWorkflow, in this and the backup Region", sub(format!("{PREFIX}-ImportWorkflow")));
    Ok(t)
}

/// A custom resource (Rust Lambda) that refuses to change the pool or the backup Region of a stack.
fn update_guard(t: &mut Template, assets: &Assets) {
    let log_group = "UpdateGuardLogGroup";
    t.resource(
        "UpdateGuardRole",
        "AWS::IAM::Role",
        json!({
            "RoleName": constructs::role_name("UpdateGuard"),
            "AssumeRolePolicyDocument": iam::assume_role("lambda.amazonaws.com"),
            "Policies": iam::policy("least-privilege", vec![
                json!({"Effect": "Allow", "Action": ["cognito-idp:DescribeUserPool"], "Resource": arn("cognito-idp", "userpool/${PrimaryUserPoolId}")}),
                json!({"Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                       "Resource": arn("logs", &format!("log-group:/aws/lambda/{PREFIX}-stack-update-guard:*"))}),
            ]),
        }),
        json!({}),
    );
    t.resource(
        log_group,
        "AWS::Logs::LogGroup",
        json!({"LogGroupName": sub(format!("/aws/lambda/{PREFIX}-stack-update-guard")), "RetentionInDays": 90}),
        json!({"DeletionPolicy": "Delete", "UpdateReplacePolicy": "Delete"}),
    );
    t.resource(
        "UpdateGuardFunction",
        "AWS::Lambda::Function",
        json!({
            "FunctionName": sub(format!("{PREFIX}-stack-update-guard")),
            "Description": "Refuses stack updates that would change the user pool or the backup Region",
            "Runtime": "provided.al2023",
            "Architectures": ["arm64"],
            "Handler": "stack-update-guard",
            "Code": constructs::code("stack-update-guard", Some(assets)),
            "Role": get_att("UpdateGuardRole", "Arn"),
            "Timeout": 60,
            "MemorySize": 128,
            "LoggingConfig": {"LogFormat": "JSON", "LogGroup": reference(log_group)},
        }),
        json!({}),
    );
    t.resource(
        "UpdateGuard",
        "Custom::UpdateGuard",
        json!({
            "ServiceToken": get_att("UpdateGuardFunction", "Arn"),
            "PrimaryUserPoolId": reference("PrimaryUserPoolId"),
            "BackupRegion": reference("BackupRegion"),
            "ResourcePrefix": reference("ResourcePrefix"),
        }),
        json!({}),
    );
}

/// The StackSet (self-managed) with one instance of the regional stack in each Region.
fn stack_set(t: &mut Template, assets: &Assets) {
    let execution_role = format!("{PREFIX}-stackset-execution");
    t.resource(
        "StackSetAdministrationRole",
        "AWS::IAM::Role",
        json!({
            "RoleName": constructs::role_name("StackSetAdministration"),
            "AssumeRolePolicyDocument": iam::assume_role("cloudformation.amazonaws.com"),
            "Policies": iam::policy("assume-execution-role", vec![json!({
                "Effect": "Allow", "Action": ["sts:AssumeRole"],
                "Resource": sub(format!("arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:role/{execution_role}")),
            })]),
        }),
        json!({}),
    );
    let scoped = |service: &str, resource: String, actions: &[&str]| {
        json!({"Effect": "Allow", "Action": actions, "Resource": sub(format!("arn:${{AWS::Partition}}:{service}:*:${{AWS::AccountId}}:{resource}"))})
    };
    t.resource(
        "StackSetExecutionRole",
        "AWS::IAM::Role",
        json!({
            "RoleName": sub(execution_role),
            "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow", "Principal": {"AWS": get_att("StackSetAdministrationRole", "Arn")}, "Action": "sts:AssumeRole"}]},
            "Policies": iam::policy("create-the-regional-stack", vec![
                scoped("cloudformation", "stack/StackSet-*".into(), &["cloudformation:CreateStack", "cloudformation:UpdateStack", "cloudformation:DeleteStack", "cloudformation:DescribeStacks", "cloudformation:DescribeStackEvents", "cloudformation:GetTemplate"]),
                json!({"Effect": "Allow", "Action": ["iam:CreateRole", "iam:DeleteRole", "iam:GetRole", "iam:PassRole", "iam:PutRolePolicy", "iam:DeleteRolePolicy", "iam:GetRolePolicy", "iam:TagRole", "iam:UntagRole"],
                       "Resource": sub(format!("arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:role/{PREFIX}-*"))}),
                scoped("lambda", format!("function:{PREFIX}-*"), &["lambda:CreateFunction", "lambda:DeleteFunction", "lambda:GetFunction", "lambda:GetFunctionConfiguration", "lambda:UpdateFunctionCode", "lambda:UpdateFunctionConfiguration", "lambda:TagResource", "lambda:UntagResource", "lambda:ListTags"]),
                scoped("logs", format!("log-group:/aws/lambda/{PREFIX}-*"), &["logs:CreateLogGroup", "logs:DeleteLogGroup", "logs:PutRetentionPolicy", "logs:DeleteRetentionPolicy", "logs:TagResource", "logs:UntagResource", "logs:ListTagsForResource"]),
                scoped("states", format!("stateMachine:{PREFIX}-*"), &["states:CreateStateMachine", "states:DeleteStateMachine", "states:DescribeStateMachine", "states:UpdateStateMachine", "states:TagResource", "states:UntagResource", "states:ListTagsForResource"]),
                scoped("sns", format!("{PREFIX}-*"), &["sns:CreateTopic", "sns:DeleteTopic", "sns:GetTopicAttributes", "sns:SetTopicAttributes", "sns:Subscribe", "sns:Unsubscribe", "sns:GetSubscriptionAttributes", "sns:TagResource", "sns:UntagResource"]),
                scoped("dynamodb", format!("table/{PREFIX}-*"), &["dynamodb:CreateTable", "dynamodb:DeleteTable", "dynamodb:DescribeTable", "dynamodb:UpdateTable", "dynamodb:UpdateContinuousBackups", "dynamodb:DescribeContinuousBackups", "dynamodb:TagResource", "dynamodb:UntagResource", "dynamodb:ListTagsOfResource"]),
                scoped("events", format!("rule/{PREFIX}-*"), &["events:PutRule", "events:DeleteRule", "events:DescribeRule", "events:PutTargets", "events:RemoveTargets"]),
                scoped("cloudwatch", format!("alarm:{PREFIX}-*"), &["cloudwatch:PutMetricAlarm", "cloudwatch:DeleteAlarms", "cloudwatch:DescribeAlarms", "cloudwatch:TagResource"]),
                json!({"Effect": "Allow", "Action": ["s3:CreateBucket", "s3:DeleteBucket", "s3:PutEncryptionConfiguration", "s3:PutBucketPublicAccessBlock", "s3:PutBucketPolicy", "s3:DeleteBucketPolicy", "s3:GetBucketPolicy", "s3:PutBucketOwnershipControls", "s3:PutBucketVersioning", "s3:PutBucketTagging", "s3:GetBucketLocation"],
                       "Resource": sub(format!("arn:${{AWS::Partition}}:s3:::{PREFIX}-restore-reports-*"))}),
                json!({"Effect": "Allow", "Action": ["s3:GetObject"],
                       "Resource": sub(format!("arn:${{AWS::Partition}}:s3:::{}-*/{}/*", assets.bucket_prefix, assets.key_prefix))}),
            ]),
        }),
        json!({}),
    );
    let parameters: Vec<Value> = ["ResourcePrefix", "PrimaryUserPoolId", "ExportSchedule", "CognitoQuotaShare", "NotificationEmail", "NotificationPreference"]
        .iter()
        .map(|p| json!({"ParameterKey": p, "ParameterValue": reference(p)}))
        .chain([
            json!({"ParameterKey": "PrimaryRegion", "ParameterValue": reference("AWS::Region")}),
            json!({"ParameterKey": "AssetBucketPrefix", "ParameterValue": assets.bucket_prefix}),
            json!({"ParameterKey": "AssetKeyPrefix", "ParameterValue": assets.key_prefix}),
        ])
        .collect();
    t.resource(
        "RegionalStackSet",
        "AWS::CloudFormation::StackSet",
        json!({
            "StackSetName": sub(format!("{PREFIX}-regional")),
            "Description": "The workflows in the primary and the backup Region",
            "PermissionModel": "SELF_MANAGED",
            "AdministrationRoleARN": get_att("StackSetAdministrationRole", "Arn"),
            "ExecutionRoleName": reference("StackSetExecutionRole"),
            "Capabilities": ["CAPABILITY_NAMED_IAM"],
            "TemplateURL": sub(format!(
                "https://{}-${{AWS::Region}}.s3.${{AWS::Region}}.${{AWS::URLSuffix}}/{}/{REGIONAL_TEMPLATE_FILE}",
                assets.bucket_prefix, assets.key_prefix
            )),
            "Parameters": parameters,
            "OperationPreferences": {"RegionConcurrencyType": "PARALLEL", "FailureToleranceCount": 0, "MaxConcurrentCount": 2},
            "StackInstancesGroup": [{
                "DeploymentTargets": {"Accounts": [reference("AWS::AccountId")]},
                "Regions": [reference("AWS::Region"), reference("BackupRegion")],
            }],
        }),
        json!({"DependsOn": ["UpdateGuard", "BackupTable"]}),
    );
}
