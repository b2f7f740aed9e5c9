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
        names::backup_table(&self.prefix)
    }
    pub fn topic_name(&self) -> String {
        names::topic(&self.prefix)
    }
    pub fn function_name(&self, f: &FunctionDef) -> String {
        names::function(&self.prefix, f)
    }
    /// IAM is global: role names carry the Region.
    pub fn role_name(&self, region: &str, logical_id: &str) -> String {
        format!("{}-{}-{}", self.prefix, region, logical_id)
    }
    pub fn ledger_table_name(&self) -> String {
        names::ledger_table(&self.prefix)
    }
    /// S3 names are global: the bucket name carries the Region and the account.
    pub fn report_bucket_name(&self, region: &str, account: &str) -> String {
        names::report_bucket(&self.prefix.to_lowercase(), region, account)
    }
    pub fn state_machine_name(&self, sm: &StateMachineDef) -> String {
        names::state_machine(&self.prefix, sm)
    }
    pub fn schedule_rule_name(&self) -> String {
        names::schedule_rule(&self.prefix)
    }
}

/// Resource names from a prefix: a literal for the SDK deployer, `${ResourcePrefix}` inside the
/// templates' `Fn::Sub`, so both name everything the same way.
pub mod names {
    use super::{FunctionDef, StateMachineDef};

    pub fn backup_table(prefix: &str) -> String {
        format!("{prefix}-backup")
    }
    pub fn ledger_table(prefix: &str) -> String {
        format!("{prefix}-restore-ledger")
    }
    pub fn topic(prefix: &str) -> String {
        format!("{prefix}-notifications")
    }
    pub fn function(prefix: &str, f: &FunctionDef) -> String {
        format!("{prefix}-{}", f.binary)
    }
    pub fn state_machine(prefix: &str, sm: &StateMachineDef) -> String {
        format!("{prefix}-{}", sm.logical_id)
    }
    pub fn schedule_rule(prefix: &str) -> String {
        format!("{prefix}-ExportSchedule")
    }
    pub fn report_bucket(prefix: &str, region: &str, account: &str) -> String {
        format!("{prefix}-restore-reports-{region}-{account}")
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
    RestoreLedgerTableName,
    ReportBucketName,
    UserImportRoleArn,
}

impl EnvVar {
    pub fn name(self) -> &'static str {
        match self {
            Self::UserPoolId => env::USER_POOL_ID,
            Self::BackupTableName => env::BACKUP_TABLE_NAME,
            Self::NotificationTopicArn => env::NOTIFICATION_TOPIC_ARN,
            Self::NotificationPreference => env::NOTIFICATION_PREFERENCE,
            Self::QuotaShare => env::COGNITO_QUOTA_SHARE,
            Self::RestoreLedgerTableName => env::RESTORE_LEDGER_TABLE_NAME,
            Self::ReportBucketName => env::REPORT_BUCKET_NAME,
            Self::UserImportRoleArn => env::USER_IMPORT_ROLE_ARN,
        }
    }
}

/// The resources a permission applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    PrimaryUserPool,
    /// Every user pool of the Region: a restore's target pool is chosen when the workflow is started.
    AnyUserPoolInRegion,
    BackupTable,
    RestoreLedgerTable,
    /// `restores/*` in the Region's report bucket.
    RestoreReports,
    NotificationTopic,
    /// The role Cognito assumes to log import jobs (for iam:PassRole).
    UserImportRole,
    /// Cognito's import-job log groups, `/aws/cognito/userpools/*`.
    ImportJobLogs,
    /// Both workflows' state machines.
    WorkflowStateMachines,
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
const IMPORT_ENV: &[EnvVar] = &[
    EnvVar::BackupTableName,
    EnvVar::RestoreLedgerTableName,
    EnvVar::ReportBucketName,
    EnvVar::UserImportRoleArn,
    EnvVar::QuotaShare,
];
const NOTIFY_ENV: &[EnvVar] = &[
    EnvVar::UserPoolId,
    EnvVar::BackupTableName,
    EnvVar::QuotaShare,
    EnvVar::NotificationTopicArn,
    EnvVar::NotificationPreference,
];
const IMPORT_NOTIFY_ENV: &[EnvVar] = &[
    EnvVar::BackupTableName,
    EnvVar::RestoreLedgerTableName,
    EnvVar::ReportBucketName,
    EnvVar::UserImportRoleArn,
    EnvVar::QuotaShare,
    EnvVar::NotificationTopicArn,
    EnvVar::NotificationPreference,
];

const WRITE_ITEMS: Permission = Permission { actions: &["dynamodb:BatchWriteItem"], target: Target::BackupTable };
const READ_BACKUP: Permission =
    Permission { actions: &["dynamodb:Scan", "dynamodb:Query", "dynamodb:BatchGetItem"], target: Target::BackupTable };
const LEDGER: Permission = Permission {
    actions: &["dynamodb:BatchWriteItem", "dynamodb:BatchGetItem", "dynamodb:Query"],
    target: Target::RestoreLedgerTable,
};
const PUBLISH: Permission = Permission { actions: &["sns:Publish"], target: Target::NotificationTopic };

/// Steps both workflows use, deployed once per Region.
pub const SINGLE_RUN_GUARD: FunctionDef = FunctionDef {
    logical_id: "SingleRunGuard",
    binary: "workflow-single-run-guard",
    description: "Both workflows: lets only the oldest running execution proceed",
    timeout_seconds: 60,
    memory_mb: 128,
    environment: &[],
    permissions: &[Permission { actions: &["states:ListExecutions"], target: Target::WorkflowStateMachines }],
};

pub const FAILURE_NOTICE: FunctionDef = FunctionDef {
    logical_id: "FailureNotice",
    binary: "workflow-failure-notice",
    description: "Both workflows: publishes why a run failed",
    timeout_seconds: 60,
    memory_mb: 128,
    environment: &[EnvVar::NotificationTopicArn, EnvVar::NotificationPreference],
    permissions: &[PUBLISH],
};

pub const EXPORT_FUNCTIONS: &[FunctionDef] = &[
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
        permissions: &[WRITE_ITEMS, PUBLISH],
    },
];

pub const IMPORT_FUNCTIONS: &[FunctionDef] = &[
    FunctionDef {
        logical_id: "ImportPreflight",
        binary: "import-preflight",
        description: "ImportWorkflow: checks the target pool and the backup before any write",
        timeout_seconds: 120,
        memory_mb: 128,
        environment: IMPORT_ENV,
        permissions: &[
            Permission {
                actions: &["cognito-idp:DescribeUserPool", "cognito-idp:GetCSVHeader", "cognito-idp:ListUsers", "cognito-idp:ListGroups"],
                target: Target::AnyUserPoolInRegion,
            },
            READ_BACKUP,
        ],
    },
    FunctionDef {
        logical_id: "ImportPlan",
        binary: "import-plan",
        description: "ImportWorkflow: counts users by restore path and estimates the duration",
        timeout_seconds: 900,
        memory_mb: 256,
        environment: IMPORT_ENV,
        permissions: &[READ_BACKUP],
    },
    FunctionDef {
        logical_id: "ImportGroups",
        binary: "import-groups",
        description: "ImportWorkflow: recreates the groups",
        timeout_seconds: 900,
        memory_mb: 128,
        environment: IMPORT_ENV,
        permissions: &[
            Permission { actions: &["cognito-idp:CreateGroup", "cognito-idp:UpdateGroup"], target: Target::AnyUserPoolInRegion },
            READ_BACKUP,
        ],
    },
    FunctionDef {
        logical_id: "ImportUsers",
        binary: "import-users",
        description: "ImportWorkflow: restores users by CSV import jobs and AdminCreateUser",
        timeout_seconds: 900,
        memory_mb: 1024,
        environment: IMPORT_ENV,
        permissions: &[
            Permission {
                actions: &[
                    "cognito-idp:CreateUserImportJob",
                    "cognito-idp:StartUserImportJob",
                    "cognito-idp:DescribeUserImportJob",
                    "cognito-idp:AdminCreateUser",
                    "cognito-idp:AdminGetUser",
                    "cognito-idp:AdminUpdateUserAttributes",
                ],
                target: Target::AnyUserPoolInRegion,
            },
            Permission { actions: &["iam:PassRole"], target: Target::UserImportRole },
            Permission { actions: &["logs:FilterLogEvents"], target: Target::ImportJobLogs },
            READ_BACKUP,
            LEDGER,
        ],
    },
    FunctionDef {
        logical_id: "ImportUserState",
        binary: "import-user-state",
        description: "ImportWorkflow: disables users and restores memberships",
        timeout_seconds: 900,
        memory_mb: 128,
        environment: IMPORT_ENV,
        permissions: &[
            Permission {
                actions: &["cognito-idp:AdminDisableUser", "cognito-idp:AdminAddUserToGroup"],
                target: Target::AnyUserPoolInRegion,
            },
            READ_BACKUP,
        ],
    },
    FunctionDef {
        logical_id: "ImportVerify",
        binary: "import-verify",
        description: "ImportWorkflow: compares the target with the backup and maps old to new subs",
        timeout_seconds: 900,
        memory_mb: 256,
        environment: IMPORT_ENV,
        permissions: &[
            Permission {
                actions: &["cognito-idp:ListUsers", "cognito-idp:GetGroup", "cognito-idp:ListUsersInGroup"],
                target: Target::AnyUserPoolInRegion,
            },
            READ_BACKUP,
            LEDGER,
            Permission { actions: &["s3:PutObject"], target: Target::RestoreReports },
        ],
    },
    FunctionDef {
        logical_id: "ImportReport",
        binary: "import-report",
        description: "ImportWorkflow: writes and publishes the restore report",
        timeout_seconds: 60,
        memory_mb: 128,
        environment: IMPORT_NOTIFY_ENV,
        permissions: &[Permission { actions: &["s3:PutObject"], target: Target::RestoreReports }, PUBLISH],
    },
];

/// Every function of the stack.
pub fn all_functions() -> impl Iterator<Item = &'static FunctionDef> {
    [&SINGLE_RUN_GUARD, &FAILURE_NOTICE].into_iter().chain(EXPORT_FUNCTIONS).chain(IMPORT_FUNCTIONS)
}

/// A Step Functions state machine and the functions its ASL refers to.
#[derive(Debug)]
pub struct StateMachineDef {
    pub logical_id: &'static str,
    pub asl: &'static str,
    pub functions: fn() -> Vec<&'static FunctionDef>,
}

pub const EXPORT_WORKFLOW: StateMachineDef = StateMachineDef {
    logical_id: "ExportWorkflow",
    asl: include_str!("../../statemachines/export-workflow.asl.json"),
    functions: || [&SINGLE_RUN_GUARD, &FAILURE_NOTICE].into_iter().chain(EXPORT_FUNCTIONS).collect(),
};

pub const IMPORT_WORKFLOW: StateMachineDef = StateMachineDef {
    logical_id: "ImportWorkflow",
    asl: include_str!("../../statemachines/import-workflow.asl.json"),
    functions: || [&SINGLE_RUN_GUARD, &FAILURE_NOTICE].into_iter().chain(IMPORT_FUNCTIONS).collect(),
};

impl StateMachineDef {
    /// The ASL with every `${<LogicalId>FunctionArn}` replaced; fails on a placeholder it cannot fill.
    pub fn definition(&self, function_arn: impl Fn(&FunctionDef) -> String) -> Result<String, String> {
        let mut asl = self.asl.to_owned();
        for f in (self.functions)() {
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
    fn every_asl_placeholder_is_a_function_of_the_state_machine_and_every_function_is_used() {
        for sm in [&EXPORT_WORKFLOW, &IMPORT_WORKFLOW] {
            let asl = sm.definition(|f| format!("arn:aws:lambda:us-east-1:1:function:{}", f.binary)).unwrap();
            let parsed: serde_json::Value = serde_json::from_str(&asl).unwrap();
            assert_eq!(parsed["StartAt"], "SingleRunGuard");
            for f in (sm.functions)() {
                assert!(asl.contains(&format!("function:{}\"", f.binary)), "{} is not used by {}", f.binary, sm.logical_id);
            }
        }
    }

    #[test]
    fn every_function_runs_a_binary_of_the_lambda_crate() {
        let bin_dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../crates/workflow-lambdas/src/bin");
        for f in all_functions() {
            assert!(std::path::Path::new(&format!("{bin_dir}/{}.rs", f.binary)).exists(), "{} has no binary", f.binary);
        }
    }
}
