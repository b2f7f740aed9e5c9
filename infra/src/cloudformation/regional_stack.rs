//! The regional stack, deployed by the main stack's StackSet in the primary and the backup Region: the
//! ImportWorkflow everywhere; the ExportWorkflow and its schedule in the primary Region only.

use serde_json::json;

use super::main_stack::shared_parameters;
use super::template::{Template, reference};
use super::{change_capture, constructs};
use crate::definitions::{
    EXPORT_FUNCTIONS, EXPORT_WORKFLOW, FAILURE_NOTICE, IMPORT_FUNCTIONS, IMPORT_WORKFLOW, WORKFLOW_OUTCOME,
};

const PRIMARY: &str = "IsPrimaryRegion";

pub fn template(version: &str) -> Result<Template, String> {
    let mut t = Template::new(format!(
        "Cognito user pool backup and restore, regional resources: ImportWorkflow, and in the primary Region the \
         ExportWorkflow and its schedule (version {version})"
    ));
    for (name, spec) in shared_parameters() {
        t.parameter(name, spec);
    }
    let region_pattern = "^[a-z]{2}(-gov)?-[a-z]+-\\d$";
    t.parameter("PrimaryRegion", json!({"Type": "String", "Description": "The Region of the backed-up user pool and the ExportWorkflow", "AllowedPattern": region_pattern}));
    t.parameter("BackupRegion", json!({"Type": "String", "Description": "The Region of the backup table's replica", "AllowedPattern": region_pattern}));
    t.parameter("AssetBucketPrefix", json!({"Type": "String", "Description": "Lambda code is in <prefix>-<Region>"}));
    t.parameter("AssetKeyPrefix", json!({"Type": "String", "Description": "Key prefix of the Lambda zips"}));
    t.conditions.insert(PRIMARY.into(), json!({"Fn::Equals": [reference("AWS::Region"), reference("PrimaryRegion")]}));
    change_capture::conditions(&mut t, PRIMARY);

    constructs::topic(&mut t);
    constructs::ledger_table(&mut t);
    constructs::workflow_bucket(&mut t);
    constructs::user_import_logs_role(&mut t);
    for f in [&FAILURE_NOTICE, &WORKFLOW_OUTCOME].into_iter().chain(IMPORT_FUNCTIONS) {
        constructs::lambda_function(&mut t, f, None, constructs::code(f.binary, None));
    }
    for f in EXPORT_FUNCTIONS {
        constructs::lambda_function(&mut t, f, Some(PRIMARY), constructs::code(f.binary, None));
    }
    let import = constructs::state_machine(&mut t, &IMPORT_WORKFLOW, None)?;
    let export = constructs::state_machine(&mut t, &EXPORT_WORKFLOW, Some(PRIMARY))?;
    constructs::schedule(&mut t, &export, Some(PRIMARY));
    constructs::outcome_rule(&mut t, &import, &export, PRIMARY);
    constructs::deployment_parameter(&mut t, &export, PRIMARY);
    change_capture::resources(&mut t, &export);

    t.output("ImportWorkflowArn", "Start it with {\"NewUserPoolId\": \"...\"}", reference("ImportWorkflow"));
    t.output(
        "RestoreLedgerTableName",
        "Where each restored user went; old to new sub",
        reference("RestoreLedgerTable"),
    );
    t.output(
        "WorkflowBucketName",
        "The workflows' state, restore reports and sub-mapping CSVs",
        reference("WorkflowBucket"),
    );
    t.output("NotificationTopicArn", "Workflow reports and failures", reference("NotificationTopic"));
    t.outputs.insert(
        "ExportWorkflowArn".into(),
        json!({"Condition": PRIMARY, "Description": "Started by the schedule, or by hand", "Value": reference("ExportWorkflow")}),
    );
    Ok(t)
}
