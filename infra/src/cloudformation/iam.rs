//! IAM for the templates: each function gets exactly the actions its definition lists, on the resources
//! they name. The few resource patterns below are the only ones; each says why nothing narrower exists.

use serde_json::{Value, json};

use super::template::{arn, get_att, reference, sub};
use crate::definitions::{EXPORT_WORKFLOW, FunctionDef, IMPORT_WORKFLOW, Target, names};

/// The resource-name prefix inside `Fn::Sub`.
pub const PREFIX: &str = "${ResourcePrefix}";

/// Resource patterns a policy may use, with why the AWS API allows nothing narrower.
pub const JUSTIFIED_PATTERNS: &[(&str, &str)] = &[
    (
        "userpool/*",
        "the ImportWorkflow's target pool is named when the workflow is started, not when the stack is deployed",
    ),
    (
        "log-group:/aws/cognito/userpools/*",
        "Cognito names an import job's log group after the target pool and the job, both known only at run time",
    ),
    ("log-group:/aws/cognito/*", "the role Cognito assumes for import jobs creates those per-pool, per-job log groups"),
    ("/restores/*", "restore work lists, reports and sub-mapping files are named per restore run"),
    ("/exports/*", "an export's seen keys and removal lists are named per export run"),
    ("/capture/*", "the change capture's progress object"),
    (
        "-backup*",
        "a restore may read a copy of the backup table (a point-in-time restore or a loaded dump), named by the CLI",
    ),
    ("Workflow:*", "a lease holder is an execution of the workflow, named when it starts"),
    (":*", "a log group's streams (a Lambda function writes one per execution environment)"),
];

pub fn target_arns(target: Target) -> Vec<Value> {
    let table = |name: String| arn("dynamodb", &format!("table/{name}"));
    let bucket = |path: &str| sub(format!("arn:${{AWS::Partition}}:s3:::${{WorkflowBucket}}{path}"));
    match target {
        Target::PrimaryUserPool => vec![arn("cognito-idp", "userpool/${PrimaryUserPoolId}")],
        Target::AnyUserPoolInRegion => vec![arn("cognito-idp", "userpool/*")],
        Target::BackupTable => vec![table(names::backup_table(PREFIX))],
        Target::BackupTableAndCopies => vec![table(format!("{}*", names::backup_table(PREFIX)))],
        Target::RestoreLedgerTable => vec![table(names::ledger_table(PREFIX))],
        Target::WorkflowBucket => vec![bucket("")],
        Target::WorkflowExports => vec![bucket("/exports/*")],
        Target::WorkflowRestores => vec![bucket("/restores/*")],
        Target::NotificationTopic => vec![reference("NotificationTopic")],
        Target::NotificationKey => vec![get_att("NotificationKey", "Arn")],
        Target::UserImportRole => vec![get_att("CognitoUserImportLogsRole", "Arn")],
        Target::ImportJobLogs => vec![arn("logs", "log-group:/aws/cognito/userpools/*")],
        Target::ChangeQueue => vec![arn("sqs", &names::change_queue(PREFIX))],
        Target::WorkflowCapture => vec![bucket("/capture/*")],
        Target::WorkflowExecutions => [&EXPORT_WORKFLOW, &IMPORT_WORKFLOW]
            .iter()
            .map(|sm| arn("states", &format!("execution:{}:*", names::state_machine(PREFIX, sm))))
            .collect(),
    }
}

pub fn assume_role(service: &str) -> Value {
    json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]})
}

pub fn policy(name: &str, statements: Vec<Value>) -> Value {
    json!([{"PolicyName": name, "PolicyDocument": {"Version": "2012-10-17", "Statement": statements}}])
}

/// A function's statements: its permissions, and writing to its own log group.
pub fn function_statements(f: &FunctionDef) -> Vec<Value> {
    let mut statements: Vec<Value> = f
        .permissions
        .iter()
        .map(|p| json!({"Effect": "Allow", "Action": p.actions, "Resource": target_arns(p.target)}))
        .collect();
    statements.push(json!({
        "Effect": "Allow",
        "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
        "Resource": arn("logs", &format!("log-group:/aws/lambda/{}:*", names::function(PREFIX, f))),
    }));
    statements
}
