//! The main stack, launched in the primary Region: the backup table (a global table with its replica in
//! the backup Region), the update guard, and the StackSet that deploys the regional stack to both Regions.

use serde_json::{Value, json};

use super::constructs;
use super::iam::{self, PREFIX};
use super::template::{Template, get_att, reference, sub};
use super::{Assets, REGIONAL_TEMPLATE_FILE};
use crate::definitions::{UPDATE_GUARD, names};

/// Parameters both templates take, with the same names and checks.
pub fn shared_parameters() -> Vec<(&'static str, Value)> {
    let mut parameters = vec![
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
            "CleanupMaxRemovedShare",
            json!({"Type": "Number", "Default": 0.2, "MinValue": 0, "MaxValue": 1,
                   "Description": "The removal guard: an export may remove at most this share of the backed-up users, groups or memberships (beyond small floors) unless started with AllowMassRemoval"}),
        ),
        (
            "RestoreObjectRetentionDays",
            json!({"Type": "Number", "Default": 30, "MinValue": 1,
                   "Description": "Days restore reports and old-to-new sub mappings (which hold usernames) are kept in the workflow bucket"}),
        ),
        (
            "NotificationPreference",
            json!({"Type": "String", "Default": "INFO_AND_ERRORS", "AllowedValues": ["INFO_AND_ERRORS", "ERRORS_ONLY"],
                   "Description": "Every completion and failure, or failures only"}),
        ),
    ];
    parameters.extend(super::change_capture::parameters());
    parameters
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
            {"Label": {"default": "Backups"}, "Parameters": ["ExportSchedule", "CognitoQuotaShare", "CleanupMaxRemovedShare", "RestoreObjectRetentionDays", "ResourcePrefix"]},
            {"Label": {"default": "Continuous protection"}, "Parameters": ["ChangeCapture", "ChangeCaptureTrail", "ReconciliationSchedule"]},
            {"Label": {"default": "Notifications"}, "Parameters": ["NotificationEmail", "NotificationPreference"]},
        ],
        "ParameterLabels": {
            "PrimaryUserPoolId": {"default": "User pool ID"},
            "BackupRegion": {"default": "Backup Region"},
            "ExportSchedule": {"default": "Export schedule"},
            "CognitoQuotaShare": {"default": "Share of Cognito quotas"},
            "CleanupMaxRemovedShare": {"default": "Largest share an export may remove"},
            "RestoreObjectRetentionDays": {"default": "Days to keep restore reports and sub mappings"},
            "ResourcePrefix": {"default": "Resource name prefix"},
            "NotificationEmail": {"default": "Notification email"},
            "NotificationPreference": {"default": "Notify about"},
        },
    }}));

    let (attributes, keys) = constructs::key_schema();
    let replica = |region: Value| json!({"Region": region, "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": true}, "DeletionProtectionEnabled": true});
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
            "Replicas": [replica(reference("AWS::Region")), replica(reference("BackupRegion"))],
        }),
        // Updated only after the guard accepted the update: a refused change of the backup Region must not
        // first remove the replica (and its data) there.
        json!({"DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain", "DependsOn": ["UpdateGuard"]}),
    );

    update_guard(&mut t, assets);
    stack_set(&mut t, assets);

    t.output("BackupTableName", "The backup table (global, replicated to the backup Region)", reference("BackupTable"));
    t.output("BackupRegion", "Holds the backup table's replica and an ImportWorkflow", reference("BackupRegion"));
    t.output("PrimaryUserPoolId", "The user pool this stack backs up", reference("PrimaryUserPoolId"));
    t.output("ResourcePrefix", "Prefix of every resource name of this deployment", reference("ResourcePrefix"));
    t.output(
        "RegionalStackSetName",
        "Deploys the regional stack (both workflows) to this and the backup Region",
        sub(names::stack_set(PREFIX)),
    );
    t.output(
        "DeploymentParameterName",
        "In each Region, what the regional stack deployed (the cognito-backup CLI reads it)",
        sub(names::deployment_parameter(PREFIX)),
    );
    Ok(t)
}

/// A custom resource (Rust Lambda) that refuses to change the pool or the backup Region of a stack.
fn update_guard(t: &mut Template, assets: &Assets) {
    let function =
        constructs::lambda_function(t, &UPDATE_GUARD, None, constructs::code(UPDATE_GUARD.binary, Some(assets)));
    t.resource(
        "UpdateGuard",
        "Custom::UpdateGuard",
        json!({
            "ServiceToken": get_att(&function, "Arn"),
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
    let scoped = |service: &str, resource: String, actions: &[&str]| json!({"Effect": "Allow", "Action": actions, "Resource": sub(format!("arn:${{AWS::Partition}}:{service}:*:${{AWS::AccountId}}:{resource}"))});
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
                scoped("lambda", format!("function:{PREFIX}-*"), &["lambda:CreateFunction", "lambda:DeleteFunction", "lambda:GetFunction", "lambda:GetFunctionConfiguration", "lambda:UpdateFunctionCode", "lambda:UpdateFunctionConfiguration", "lambda:TagResource", "lambda:UntagResource", "lambda:ListTags", "lambda:AddPermission", "lambda:RemovePermission"]),
                scoped("ssm", format!("parameter/cognito-backup/{PREFIX}/*"), &["ssm:PutParameter", "ssm:DeleteParameter", "ssm:GetParameters", "ssm:AddTagsToResource"]),
                // A new key has no name to scope to; the key policy in the regional template is what matters.
                json!({"Effect": "Allow", "Action": ["kms:CreateKey", "kms:CreateAlias", "kms:DeleteAlias", "kms:DescribeKey", "kms:EnableKeyRotation", "kms:PutKeyPolicy", "kms:TagResource", "kms:ScheduleKeyDeletion"], "Resource": "*"}),
                scoped("logs", format!("log-group:/aws/lambda/{PREFIX}-*"), &["logs:CreateLogGroup", "logs:DeleteLogGroup", "logs:PutRetentionPolicy", "logs:DeleteRetentionPolicy", "logs:TagResource", "logs:UntagResource", "logs:ListTagsForResource"]),
                scoped("states", format!("stateMachine:{PREFIX}-*"), &["states:CreateStateMachine", "states:DeleteStateMachine", "states:DescribeStateMachine", "states:UpdateStateMachine", "states:TagResource", "states:UntagResource", "states:ListTagsForResource"]),
                scoped("sns", format!("{PREFIX}-*"), &["sns:CreateTopic", "sns:DeleteTopic", "sns:GetTopicAttributes", "sns:SetTopicAttributes", "sns:Subscribe", "sns:Unsubscribe", "sns:GetSubscriptionAttributes", "sns:TagResource", "sns:UntagResource"]),
                scoped("dynamodb", format!("table/{PREFIX}-*"), &["dynamodb:CreateTable", "dynamodb:DeleteTable", "dynamodb:DescribeTable", "dynamodb:UpdateTable", "dynamodb:UpdateContinuousBackups", "dynamodb:DescribeContinuousBackups", "dynamodb:TagResource", "dynamodb:UntagResource", "dynamodb:ListTagsOfResource"]),
                scoped("events", format!("rule/{PREFIX}-*"), &["events:PutRule", "events:DeleteRule", "events:DescribeRule", "events:PutTargets", "events:RemoveTargets"]),
                scoped("cloudwatch", format!("alarm:{PREFIX}-*"), &["cloudwatch:PutMetricAlarm", "cloudwatch:DeleteAlarms", "cloudwatch:DescribeAlarms", "cloudwatch:TagResource"]),
                scoped("sqs", format!("{PREFIX}-*"), &["sqs:CreateQueue", "sqs:DeleteQueue", "sqs:GetQueueAttributes", "sqs:SetQueueAttributes", "sqs:TagQueue", "sqs:UntagQueue"]),
                scoped("cloudtrail", format!("trail/{PREFIX}-*"), &["cloudtrail:CreateTrail", "cloudtrail:DeleteTrail", "cloudtrail:UpdateTrail", "cloudtrail:StartLogging", "cloudtrail:StopLogging", "cloudtrail:PutEventSelectors", "cloudtrail:GetTrailStatus", "cloudtrail:DescribeTrails", "cloudtrail:AddTags"]),
                // Event source mappings have generated IDs, not names to scope to.
                json!({"Effect": "Allow", "Action": ["lambda:CreateEventSourceMapping", "lambda:DeleteEventSourceMapping", "lambda:GetEventSourceMapping", "lambda:UpdateEventSourceMapping"], "Resource": "*"}),
                json!({"Effect": "Allow", "Action": ["s3:CreateBucket", "s3:DeleteBucket", "s3:PutEncryptionConfiguration", "s3:PutBucketPublicAccessBlock", "s3:PutBucketPolicy", "s3:DeleteBucketPolicy", "s3:GetBucketPolicy", "s3:PutBucketOwnershipControls", "s3:PutBucketVersioning", "s3:PutBucketTagging", "s3:GetBucketLocation", "s3:PutLifecycleConfiguration"],
                       "Resource": [sub(format!("arn:${{AWS::Partition}}:s3:::{PREFIX}-workflows-*")), sub(format!("arn:${{AWS::Partition}}:s3:::{PREFIX}-trail-*"))]}),
                json!({"Effect": "Allow", "Action": ["s3:GetObject"],
                       "Resource": sub(format!("arn:${{AWS::Partition}}:s3:::{}-*/{}/*", assets.bucket_prefix, assets.key_prefix))}),
            ]),
        }),
        json!({}),
    );
    let parameters: Vec<Value> = shared_parameters()
        .into_iter()
        .map(|(name, _)| name)
        .chain(["BackupRegion"])
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
            "StackSetName": sub(names::stack_set(PREFIX)),
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
