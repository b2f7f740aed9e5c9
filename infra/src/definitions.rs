//! What the stack is made of, defined once: the functions and the binary each runs, their environment and
//! IAM permissions, the state machines and their ASL substitutions, and resource names. The templates
//! (`cloudformation/`), the handlers (through `backup_domain::settings::env`) and the tests read these.

use backup_domain::settings::env;

/// Resource names from a prefix: `${ResourcePrefix}` inside the templates' `Fn::Sub`, or a literal prefix
/// where a deployed stack is looked up, so both name everything the same way.
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
    pub fn outcome_rule(prefix: &str) -> String {
        format!("{prefix}-WorkflowOutcome")
    }
    pub fn workflow_bucket(prefix: &str, region: &str, account: &str) -> String {
        format!("{prefix}-workflows-{region}-{account}")
    }
    pub fn stack_set(prefix: &str) -> String {
        format!("{prefix}-regional")
    }
    /// The SSM parameter each Region's stack writes, describing the deployment (for the CLI).
    pub fn deployment_parameter(prefix: &str) -> String {
        format!("/cognito-backup/{prefix}/deployment")
    }
    /// Change capture: the queue of CloudTrail events, its dead-letter queue, the rule, the trail.
    pub fn change_queue(prefix: &str) -> String {
        format!("{prefix}-changes")
    }
    pub fn change_dead_letter_queue(prefix: &str) -> String {
        format!("{prefix}-changes-dlq")
    }
    pub fn change_rule(prefix: &str) -> String {
        format!("{prefix}-ChangeCapture")
    }
    pub fn change_trail(prefix: &str) -> String {
        format!("{prefix}-changes")
    }
    pub fn reconciliation_rule(prefix: &str) -> String {
        format!("{prefix}-Reconciliation")
    }
    /// Where every deployment's parameter lives.
    pub const DEPLOYMENT_PARAMETER_PATH: &str = "/cognito-backup/";
}

/// An environment variable a function receives, valued from the stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnvVar {
    UserPoolId,
    BackupTableName,
    WorkflowBucketName,
    NotificationTopicArn,
    NotificationPreference,
    QuotaShare,
    CleanupMaxRemovedShare,
    RestoreLedgerTableName,
    UserImportRoleArn,
}

impl EnvVar {
    pub fn name(self) -> &'static str {
        match self {
            Self::UserPoolId => env::USER_POOL_ID,
            Self::BackupTableName => env::BACKUP_TABLE_NAME,
            Self::WorkflowBucketName => env::WORKFLOW_BUCKET_NAME,
            Self::NotificationTopicArn => env::NOTIFICATION_TOPIC_ARN,
            Self::NotificationPreference => env::NOTIFICATION_PREFERENCE,
            Self::QuotaShare => env::COGNITO_QUOTA_SHARE,
            Self::CleanupMaxRemovedShare => env::CLEANUP_MAX_REMOVED_SHARE,
            Self::RestoreLedgerTableName => env::RESTORE_LEDGER_TABLE_NAME,
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
    /// The backup table and its copies (a point-in-time restore, a loaded dump) a restore may read.
    BackupTableAndCopies,
    RestoreLedgerTable,
    /// The workflow bucket itself (ListBucket).
    WorkflowBucket,
    /// `exports/*` in the workflow bucket: the export's seen keys and removal lists.
    WorkflowExports,
    /// `restores/*` in the workflow bucket: work lists, reports, sub mappings.
    WorkflowRestores,
    NotificationTopic,
    /// The topic's customer managed key (publishing to an encrypted topic needs it).
    NotificationKey,
    /// The role Cognito assumes to log import jobs (for iam:PassRole).
    UserImportRole,
    /// Cognito's import-job log groups, `/aws/cognito/userpools/*`.
    ImportJobLogs,
    /// The executions of both workflows (whether a lease holder still runs).
    WorkflowExecutions,
    /// The queue of the pool's CloudTrail events.
    ChangeQueue,
    /// `capture/*` in the workflow bucket: the capture's latest progress.
    WorkflowCapture,
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

const EXPORT_ENV: &[EnvVar] = &[
    EnvVar::UserPoolId,
    EnvVar::BackupTableName,
    EnvVar::WorkflowBucketName,
    EnvVar::QuotaShare,
    EnvVar::CleanupMaxRemovedShare,
];
const IMPORT_ENV: &[EnvVar] = &[
    EnvVar::BackupTableName,
    EnvVar::RestoreLedgerTableName,
    EnvVar::WorkflowBucketName,
    EnvVar::UserImportRoleArn,
    EnvVar::QuotaShare,
];
const NOTIFY_ENV: &[EnvVar] = &[
    EnvVar::UserPoolId,
    EnvVar::BackupTableName,
    EnvVar::WorkflowBucketName,
    EnvVar::QuotaShare,
    EnvVar::NotificationTopicArn,
    EnvVar::NotificationPreference,
];
const IMPORT_NOTIFY_ENV: &[EnvVar] = &[
    EnvVar::BackupTableName,
    EnvVar::RestoreLedgerTableName,
    EnvVar::WorkflowBucketName,
    EnvVar::UserImportRoleArn,
    EnvVar::QuotaShare,
    EnvVar::NotificationTopicArn,
    EnvVar::NotificationPreference,
];
const LEASES_ENV: &[EnvVar] = &[
    EnvVar::BackupTableName,
    EnvVar::RestoreLedgerTableName,
    EnvVar::NotificationTopicArn,
    EnvVar::NotificationPreference,
];

/// Reading and writing the backup, change-only, under the lease.
const BACKUP_WRITES: Permission = Permission {
    actions: &[
        "dynamodb:GetItem",
        "dynamodb:BatchGetItem",
        "dynamodb:PutItem",
        "dynamodb:DeleteItem",
        "dynamodb:BatchWriteItem",
    ],
    target: Target::BackupTable,
};
const READ_BACKUP: Permission = Permission {
    actions: &["dynamodb:Scan", "dynamodb:Query", "dynamodb:GetItem", "dynamodb:BatchGetItem"],
    target: Target::BackupTableAndCopies,
};
const LEDGER: Permission = Permission {
    actions: &[
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:DeleteItem",
        "dynamodb:BatchWriteItem",
        "dynamodb:BatchGetItem",
        "dynamodb:Query",
    ],
    target: Target::RestoreLedgerTable,
};
const EXPORT_OBJECTS: Permission =
    Permission { actions: &["s3:GetObject", "s3:PutObject"], target: Target::WorkflowExports };
const RESTORE_OBJECTS: Permission =
    Permission { actions: &["s3:GetObject", "s3:PutObject"], target: Target::WorkflowRestores };
const LIST_OBJECTS: Permission = Permission { actions: &["s3:ListBucket"], target: Target::WorkflowBucket };
const PUBLISH: Permission = Permission { actions: &["sns:Publish"], target: Target::NotificationTopic };
const ENCRYPT_FOR_TOPIC: Permission =
    Permission { actions: &["kms:GenerateDataKey", "kms:Decrypt"], target: Target::NotificationKey };
const EXECUTION_STATUS: Permission =
    Permission { actions: &["states:DescribeExecution"], target: Target::WorkflowExecutions };
const RELEASE_EXPORT_LEASE: Permission =
    Permission { actions: &["dynamodb:GetItem", "dynamodb:DeleteItem"], target: Target::BackupTable };
const RELEASE_IMPORT_LEASE: Permission =
    Permission { actions: &["dynamodb:GetItem", "dynamodb:DeleteItem"], target: Target::RestoreLedgerTable };

/// Both workflows, every Region: how a failed run reaches the operator.
pub const FAILURE_NOTICE: FunctionDef = FunctionDef {
    logical_id: "FailureNotice",
    binary: "workflow-failure-notice",
    description: "Both workflows: publishes why a run failed and releases its lease",
    timeout_seconds: 60,
    memory_mb: 128,
    environment: LEASES_ENV,
    permissions: &[PUBLISH, ENCRYPT_FOR_TOPIC, RELEASE_EXPORT_LEASE, RELEASE_IMPORT_LEASE],
};

pub const WORKFLOW_OUTCOME: FunctionDef = FunctionDef {
    logical_id: "WorkflowOutcome",
    binary: "workflow-outcome",
    description: "Both workflows: announces timed-out, stopped and limit-failed executions and releases their lease",
    timeout_seconds: 60,
    memory_mb: 128,
    environment: LEASES_ENV,
    permissions: &[PUBLISH, ENCRYPT_FOR_TOPIC, RELEASE_EXPORT_LEASE, RELEASE_IMPORT_LEASE],
};

/// Change capture (primary Region, when on): each changed user, group or membership read again and written.
pub const CAPTURE_CHANGES: FunctionDef = FunctionDef {
    logical_id: "CaptureChanges",
    binary: "capture-changes",
    description: "Change capture: writes each changed user, group or membership to the backup within a minute",
    // The queue's visibility timeout is six times this, as Lambda's SQS guide advises.
    timeout_seconds: 60,
    memory_mb: 128,
    environment: EXPORT_ENV,
    permissions: &[
        Permission {
            actions: &[
                "cognito-idp:AdminGetUser",
                "cognito-idp:AdminListGroupsForUser",
                "cognito-idp:GetGroup",
                "cognito-idp:DescribeUserPool",
            ],
            target: Target::PrimaryUserPool,
        },
        Permission {
            actions: &["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:PutItem", "dynamodb:Query"],
            target: Target::BackupTable,
        },
        Permission { actions: &["s3:PutObject"], target: Target::WorkflowCapture },
        Permission {
            actions: &[
                "sqs:ReceiveMessage",
                "sqs:DeleteMessage",
                "sqs:GetQueueAttributes",
                "sqs:ChangeMessageVisibility",
            ],
            target: Target::ChangeQueue,
        },
    ],
};

pub const EXPORT_FUNCTIONS: &[FunctionDef] = &[
    FunctionDef {
        logical_id: "ExportOpenRun",
        binary: "export-open-run",
        description: "ExportWorkflow: takes the export lease and saves the pool's configuration",
        timeout_seconds: 60,
        memory_mb: 128,
        environment: EXPORT_ENV,
        permissions: &[
            Permission { actions: &["cognito-idp:DescribeUserPool"], target: Target::PrimaryUserPool },
            BACKUP_WRITES,
            EXECUTION_STATUS,
        ],
    },
    FunctionDef {
        logical_id: "ExportUsers",
        binary: "export-users",
        description: "ExportWorkflow: backs up every user profile (only what changed)",
        timeout_seconds: 900,
        memory_mb: 128,
        environment: EXPORT_ENV,
        permissions: &[
            // AdminGetUser only in pools with MFA: it is the one call that exposes a user's MFA settings.
            Permission {
                actions: &["cognito-idp:ListUsers", "cognito-idp:AdminGetUser"],
                target: Target::PrimaryUserPool,
            },
            BACKUP_WRITES,
            EXPORT_OBJECTS,
        ],
    },
    FunctionDef {
        logical_id: "ExportGroups",
        binary: "export-groups",
        description: "ExportWorkflow: backs up every group (only what changed)",
        timeout_seconds: 900,
        memory_mb: 128,
        environment: EXPORT_ENV,
        permissions: &[
            Permission { actions: &["cognito-idp:ListGroups"], target: Target::PrimaryUserPool },
            BACKUP_WRITES,
            EXPORT_OBJECTS,
        ],
    },
    FunctionDef {
        logical_id: "ExportMemberships",
        binary: "export-memberships",
        description: "ExportWorkflow: backs up every group membership (only what changed)",
        timeout_seconds: 900,
        memory_mb: 128,
        environment: EXPORT_ENV,
        permissions: &[
            Permission {
                actions: &[
                    "cognito-idp:ListGroups",
                    "cognito-idp:ListUsersInGroup",
                    "cognito-idp:GetGroup",
                    "cognito-idp:DescribeUserPool",
                ],
                target: Target::PrimaryUserPool,
            },
            BACKUP_WRITES,
            EXPORT_OBJECTS,
        ],
    },
    FunctionDef {
        logical_id: "ExportCompleteness",
        binary: "export-completeness",
        description: "ExportWorkflow: checks the run saw the whole pool and applies the removal guard",
        timeout_seconds: 900,
        memory_mb: 256,
        environment: EXPORT_ENV,
        permissions: &[
            Permission { actions: &["cognito-idp:DescribeUserPool"], target: Target::PrimaryUserPool },
            Permission {
                actions: &["dynamodb:Scan", "dynamodb:GetItem", "dynamodb:PutItem"],
                target: Target::BackupTable,
            },
            EXPORT_OBJECTS,
            LIST_OBJECTS,
        ],
    },
    FunctionDef {
        logical_id: "ExportCleanup",
        binary: "export-cleanup",
        description: "ExportWorkflow: removes backup items of deleted users, groups and memberships",
        timeout_seconds: 900,
        memory_mb: 128,
        environment: EXPORT_ENV,
        permissions: &[
            Permission {
                actions: &["dynamodb:DeleteItem", "dynamodb:GetItem", "dynamodb:PutItem"],
                target: Target::BackupTable,
            },
            EXPORT_OBJECTS,
        ],
    },
    FunctionDef {
        logical_id: "ExportCompletion",
        binary: "export-completion",
        description: "ExportWorkflow: writes the export marker, releases the lease, publishes the report",
        timeout_seconds: 60,
        memory_mb: 128,
        environment: NOTIFY_ENV,
        permissions: &[BACKUP_WRITES, PUBLISH, ENCRYPT_FOR_TOPIC],
    },
];

pub const IMPORT_FUNCTIONS: &[FunctionDef] = &[
    FunctionDef {
        logical_id: "ImportPreflight",
        binary: "import-preflight",
        description: "ImportWorkflow: checks the target pool, the backup and the input before any write",
        timeout_seconds: 120,
        memory_mb: 128,
        environment: IMPORT_ENV,
        permissions: &[
            Permission {
                actions: &[
                    "cognito-idp:DescribeUserPool",
                    "cognito-idp:GetCSVHeader",
                    "cognito-idp:ListUsers",
                    "cognito-idp:ListGroups",
                ],
                target: Target::AnyUserPoolInRegion,
            },
            READ_BACKUP,
            LEDGER,
            EXECUTION_STATUS,
        ],
    },
    FunctionDef {
        logical_id: "ImportPlan",
        binary: "import-plan",
        description: "ImportWorkflow: decides every user's path and writes the work lists",
        timeout_seconds: 900,
        memory_mb: 256,
        environment: IMPORT_ENV,
        permissions: &[READ_BACKUP, LEDGER, RESTORE_OBJECTS, LIST_OBJECTS],
    },
    FunctionDef {
        logical_id: "ImportPipeline",
        binary: "import-pipeline",
        description: "ImportWorkflow: groups, import jobs, AdminCreateUser, disabling and memberships at once",
        timeout_seconds: 900,
        memory_mb: 512,
        environment: IMPORT_ENV,
        permissions: &[
            Permission {
                actions: &[
                    "cognito-idp:CreateGroup",
                    "cognito-idp:UpdateGroup",
                    "cognito-idp:CreateUserImportJob",
                    "cognito-idp:StartUserImportJob",
                    "cognito-idp:DescribeUserImportJob",
                    "cognito-idp:AdminCreateUser",
                    "cognito-idp:AdminGetUser",
                    "cognito-idp:AdminUpdateUserAttributes",
                    "cognito-idp:AdminEnableUser",
                    "cognito-idp:AdminDisableUser",
                    "cognito-idp:AdminAddUserToGroup",
                ],
                target: Target::AnyUserPoolInRegion,
            },
            Permission { actions: &["iam:PassRole"], target: Target::UserImportRole },
            Permission { actions: &["logs:FilterLogEvents"], target: Target::ImportJobLogs },
            READ_BACKUP,
            LEDGER,
            RESTORE_OBJECTS,
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
            RESTORE_OBJECTS,
            LIST_OBJECTS,
        ],
    },
    FunctionDef {
        logical_id: "ImportReport",
        binary: "import-report",
        description: "ImportWorkflow: writes and publishes the restore report, releases the restore lease",
        timeout_seconds: 60,
        memory_mb: 128,
        environment: IMPORT_NOTIFY_ENV,
        permissions: &[RESTORE_OBJECTS, PUBLISH, ENCRYPT_FOR_TOPIC, LEDGER],
    },
];

/// The main stack's custom resource: refuses updates that would orphan the backup.
pub const UPDATE_GUARD: FunctionDef = FunctionDef {
    logical_id: "UpdateGuard",
    binary: "stack-update-guard",
    description: "Refuses stack updates that would change the user pool, the backup Region or the prefix",
    timeout_seconds: 60,
    memory_mb: 128,
    environment: &[],
    permissions: &[Permission { actions: &["cognito-idp:DescribeUserPool"], target: Target::PrimaryUserPool }],
};

/// Every function of the regional stack.
pub fn regional_functions() -> impl Iterator<Item = &'static FunctionDef> {
    [&FAILURE_NOTICE, &WORKFLOW_OUTCOME, &CAPTURE_CHANGES].into_iter().chain(EXPORT_FUNCTIONS).chain(IMPORT_FUNCTIONS)
}

/// Every function of both stacks.
pub fn all_functions() -> impl Iterator<Item = &'static FunctionDef> {
    regional_functions().chain([&UPDATE_GUARD])
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
    functions: || [&FAILURE_NOTICE].into_iter().chain(EXPORT_FUNCTIONS).collect(),
};

pub const IMPORT_WORKFLOW: StateMachineDef = StateMachineDef {
    logical_id: "ImportWorkflow",
    asl: include_str!("../../statemachines/import-workflow.asl.json"),
    functions: || [&FAILURE_NOTICE].into_iter().chain(IMPORT_FUNCTIONS).collect(),
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
            serde_json::from_str::<serde_json::Value>(&asl).unwrap();
            for f in (sm.functions)() {
                assert!(
                    asl.contains(&format!("function:{}\"", f.binary)),
                    "{} is not used by {}",
                    f.binary,
                    sm.logical_id
                );
            }
        }
    }

    #[test]
    fn every_function_runs_a_binary_of_the_lambda_crate_and_every_binary_is_deployed() {
        let bin_dir = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../crates/workflow-lambdas/src/bin"));
        let deployed: Vec<&str> = all_functions().map(|f| f.binary).collect();
        for f in all_functions() {
            assert!(bin_dir.join(format!("{}.rs", f.binary)).exists(), "{} has no binary", f.binary);
        }
        for entry in std::fs::read_dir(bin_dir).unwrap() {
            let name = entry.unwrap().path().file_stem().unwrap().to_string_lossy().into_owned();
            assert!(deployed.contains(&name.as_str()), "binary {name} is not deployed by any stack");
        }
    }
}
