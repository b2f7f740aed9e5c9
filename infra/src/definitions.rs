//! What the stack is made of. Names of environment variables come from `backup_domain::settings::env`,
//! so the handlers, this crate and the local cloud cannot disagree.

use std::collections::BTreeMap;

use backup_domain::settings::{NotificationPreference, env};

/// Deploy-time choices of the main stack.
#[derive(Debug, Clone)]
pub struct StackConfig {
    /// Prefix of every resource name; lets several stacks (or tests) share one account.
    pub prefix: String,
    pub primary_user_pool_id: String,
    pub backup_region: String,
    /// Any EventBridge rate or cron expression.
    pub schedule_expression: String,
    pub quota_share: f64,
    pub notification_email: Option<String>,
    pub notification_preference: NotificationPreference,
    /// Replaces every function's timeout (local runs use short ones to exercise continuations).
    pub function_timeout_override: Option<u32>,
    /// Extra environment for every function (e.g. a smaller INVOCATION_SAFETY_MARGIN_SECONDS locally).
    pub extra_environment: BTreeMap<String, String>,
    /// Where `cargo lambda build --output-format zip` left `<binary>/bootstrap.zip`; `None` deploys a
    /// placeholder (the local cloud runs `target/debug/<binary>` itself).
    pub lambda_zip_dir: Option<std::path::PathBuf>,
}

impl StackConfig {
    pub fn new(prefix: impl Into<String>, primary_user_pool_id: impl Into<String>) -> Self {
        Self {
            prefix: prefix.into(),
            primary_user_pool_id: primary_user_pool_id.into(),
            backup_region: "us-west-2".into(),
            schedule_expression: "rate(1 day)".into(),
            quota_share: backup_domain::settings::DEFAULT_QUOTA_SHARE,
            notification_email: None,
            notification_preference: NotificationPreference::InfoAndErrors,
            function_timeout_override: None,
            extra_environment: BTreeMap::new(),
            lambda_zip_dir: None,
        }
    }

    pub fn table_name(&self) -> String {
        format!("{}-backup", self.prefix)
    }
    pub fn topic_name(&self) -> String {
        format!("{}-notifications", self.prefix)
    }
    pub fn function_name(&self, f: &FunctionDef) -> String {
        format!("{}-{}", self.prefix, f.binary)
    }
    pub fn role_name(&self, logical_id: &str) -> String {
        format!("{}-{}Role", self.prefix, logical_id)
    }
    pub fn state_machine_name(&self, sm: &StateMachineDef) -> String {
        format!("{}-{}", self.prefix, sm.logical_id)
    }
    pub fn schedule_rule_name(&self) -> String {
        format!("{}-ExportSchedule", self.prefix)
    }
}

/// An environment variable a function receives, valued from the stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnvVar {
    UserPoolId,
    BackupTableName,
    NotificationTopicArn,
    NotificationPreference,
    QuotaShare,
}

impl EnvVar {
    pub fn name(self) -> &'static str {
        match self {
            Self::UserPoolId => env::USER_POOL_ID,
            Self::BackupTableName => env::BACKUP_TABLE_NAME,
            Self::NotificationTopicArn => env::NOTIFICATION_TOPIC_ARN,
            Self::NotificationPreference => env::NOTIFICATION_PREFERENCE,
            Self::QuotaShare => env::COGNITO_QUOTA_SHARE,
        }
    }
}

/// The resources a permission applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    PrimaryUserPool,
    BackupTable,
    NotificationTopic,
    /// The state machine the function belongs to.
    OwnStateMachine,
}

#[derive(Debug, Clone, Copy)]
pub struct Permission {
    pub actions: &'static [&'static str],
    pub target: Target,
}

/// One Lambda function: one workflow step, one binary of `workflow-lambdas`.
#[derive(Debug)]
pub struct FunctionDef {
    /// Used in resource names and the ASL substitution `${<LogicalId>FunctionArn}`.
    pub logical_id: &'static str,
    /// The binary in `crates/workflow-lambdas/src/bin/`.
    pub binary: &'static str,
    pub description: &'static str,
    pub timeout_seconds: u32,
    pub memory_mb: u32,
    pub environment: &'static [EnvVar],
    pub permissions: &'static [Permission],
}

impl FunctionDef {
    pub fn substitution_key(&self) -> String {
        format!("{}FunctionArn", self.logical_id)
    }
}

const EXPORT_ENV: &[EnvVar] = &[EnvVar::UserPoolId, EnvVar::BackupTableName, EnvVar::QuotaShare];
const NOTIFY_ENV: &[EnvVar] = &[
    EnvVar::UserPoolId,
    EnvVar::BackupTableName,
    EnvVar::QuotaShare,
    EnvVar::NotificationTopicArn,
    EnvVar::NotificationPreference,
];

const WRITE_ITEMS: Permission = Permission { actions: &["dynamodb:BatchWriteItem"], target: Target::BackupTable };

pub const EXPORT_FUNCTIONS: &[FunctionDef] = &[
    FunctionDef {
        logical_id: "ExportSingleRunGuard",
        binary: "export-single-run-guard",
        description: "ExportWorkflow: lets only the oldest running execution proceed",
        timeout_seconds: 60,
        memory_mb: 128,
        environment: &[],
        permissions: &[Permission { actions: &["states:ListExecutions"], target: Target::OwnStateMachine }],
    },
    FunctionDef {
        logical_id: "ExportPoolSnapshot",
        binary: "export-pool-snapshot",
        description: "ExportWorkflow: saves the user pool's configuration",
        timeout_seconds: 60,
        memory_mb: 128,
        environment: EXPORT_ENV,
        permissions: &[
            Permission { actions: &["cognito-idp:DescribeUserPool"], target: Target::PrimaryUserPool },
            WRITE_ITEMS,
        ],
    },
    FunctionDef {
        logical_id: "ExportUsers",
        binary: "export-users",
        description: "ExportWorkflow: backs up every user profile",
        timeout_seconds: 900,
        memory_mb: 256,
        environment: EXPORT_ENV,
        permissions: &[
            // AdminGetUser only in pools with MFA: it is the one call that exposes a user's MFA settings.
            Permission { actions: &["cognito-idp:ListUsers", "cognito-idp:AdminGetUser"], target: Target::PrimaryUserPool },
            WRITE_ITEMS,
        ],
    },
    FunctionDef {
        logical_id: "ExportGroups",
        binary: "export-groups",
        description: "ExportWorkflow: backs up every group",
        timeout_seconds: 900,
        memory_mb: 128,
        environment: EXPORT_ENV,
        permissions: &[Permission { actions: &["cognito-idp:ListGroups"], target: Target::PrimaryUserPool }, WRITE_ITEMS],
    },
    FunctionDef {
        logical_id: "ExportMemberships",
        binary: "export-memberships",
        description: "ExportWorkflow: backs up every group membership",
        timeout_seconds: 900,
        memory_mb: 256,
        environment: EXPORT_ENV,
        permissions: &[
            Permission { actions: &["cognito-idp:ListGroups", "cognito-idp:ListUsersInGroup"], target: Target::PrimaryUserPool },
            WRITE_ITEMS,
        ],
    },
    FunctionDef {
        logical_id: "ExportCleanup",
        binary: "export-cleanup",
        description: "ExportWorkflow: removes backup items of deleted users, groups and memberships",
        timeout_seconds: 900,
        memory_mb: 128,
        environment: EXPORT_ENV,
        permissions: &[Permission {
            actions: &["dynamodb:Scan", "dynamodb:DeleteItem", "dynamodb:GetItem"],
            target: Target::BackupTable,
        }],
    },
    FunctionDef {
        logical_id: "ExportCompletion",
        binary: "export-completion",
        description: "ExportWorkflow: writes the export marker and publishes the report",
        timeout_seconds: 60,
        memory_mb: 128,
        environment: NOTIFY_ENV,
        permissions: &[
            WRITE_ITEMS,
            Permission { actions: &["sns:Publish"], target: Target::NotificationTopic },
        ],
    },
    FunctionDef {
        logical_id: "ExportFailureNotice",
        binary: "export-failure-notice",
        description: "ExportWorkflow: publishes why a run failed",
        timeout_seconds: 60,
        memory_mb: 128,
        environment: &[EnvVar::NotificationTopicArn, EnvVar::NotificationPreference],
        permissions: &[Permission { actions: &["sns:Publish"], target: Target::NotificationTopic }],
    },
];

/// A Step Functions state machine and the functions its ASL refers to.
#[derive(Debug)]
pub struct StateMachineDef {
    pub logical_id: &'static str,
    pub asl: &'static str,
    pub functions: &'static [FunctionDef],
}

pub const EXPORT_WORKFLOW: StateMachineDef = StateMachineDef {
    logical_id: "ExportWorkflow",
    asl: include_str!("../../statemachines/export-workflow.asl.json"),
    functions: EXPORT_FUNCTIONS,
};

impl StateMachineDef {
    /// The ASL with every `${<LogicalId>FunctionArn}` replaced; fails on a placeholder it cannot fill.
    pub fn definition(&self, function_arn: impl Fn(&FunctionDef) -> String) -> Result<String, String> {
        let mut asl = self.asl.to_owned();
        for f in self.functions {
            asl = asl.replace(&format!("${{{}}}", f.substitution_key()), &function_arn(f));
        }
        match asl.find("${") {
            Some(at) => Err(format!(
                "{}: unknown substitution {}",
                self.logical_id,
                asl[at..].split('}').next().unwrap_or_default()
            )),
            None => Ok(asl),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_asl_placeholder_is_a_function_of_the_state_machine() {
        let asl = EXPORT_WORKFLOW.definition(|f| format!("arn:aws:lambda:us-east-1:1:function:{}", f.binary)).unwrap();
        let parsed: serde_json::Value = serde_json::from_str(&asl).unwrap();
        assert_eq!(parsed["StartAt"], "SingleRunGuard");
        for f in EXPORT_FUNCTIONS {
            assert!(asl.contains(&format!("function:{}\"", f.binary)), "{} is not used by the ASL", f.binary);
        }
    }

    #[test]
    fn every_function_runs_a_binary_of_the_lambda_crate() {
        let bin_dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../crates/workflow-lambdas/src/bin");
        for f in EXPORT_FUNCTIONS {
            assert!(std::path::Path::new(&format!("{bin_dir}/{}.rs", f.binary)).exists(), "{} has no binary", f.binary);
        }
    }
}
