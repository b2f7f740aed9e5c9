//! Deploys the stack's definitions through the AWS SDK (create or update, so a second deploy of the same
//! prefix updates in place): into the local cloud, or into a real account when given the cargo-lambda
//! zips. The primary Region gets the backup table, both workflows and the schedule; the backup Region gets
//! the table's replica and the ImportWorkflow. The CloudFormation templates are the production path.

use std::collections::HashMap;
use std::io::Write;

use aws_config::{Region, SdkConfig};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, PointInTimeRecoverySpecification, ReplicationGroupUpdate,
    ScalarAttributeType, SseSpecification, StreamSpecification, StreamViewType,
};
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{Architecture, Environment, FunctionCode, Runtime};
use backup_domain::schema::{PARTITION_KEY, SORT_KEY};
use serde_json::json;

use crate::definitions::{EXPORT_WORKFLOW, EnvVar, FunctionDef, IMPORT_WORKFLOW, StackConfig, StateMachineDef, Target};

#[derive(Debug, thiserror::Error)]
#[error("deploying {what}: {detail}")]
pub struct DeployError {
    what: String,
    detail: String,
}

impl DeployError {
    pub fn new(what: impl Into<String>, detail: String) -> Self {
        Self { what: what.into(), detail }
    }
}

pub(crate) fn fail<E: std::fmt::Display>(what: impl Into<String>) -> impl FnOnce(E) -> DeployError {
    let what = what.into();
    move |e| DeployError { what, detail: e.to_string() }
}

pub(crate) fn sdk_fail<E: std::error::Error + 'static>(what: impl Into<String>) -> impl FnOnce(E) -> DeployError {
    let what = what.into();
    move |e| DeployError { what, detail: aws_smithy_types::error::display::DisplayErrorContext(&e).to_string() }
}

/// What a deployment created, as printed by `infra deploy`.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Deployment {
    pub region: String,
    pub backup_table_name: String,
    pub notification_topic_arn: String,
    pub export_state_machine_arn: String,
    pub import_state_machine_arn: String,
    pub restore_ledger_table_name: String,
    pub report_bucket_name: String,
    pub schedule_rule_name: String,
    pub functions: Vec<String>,
    /// The backup Region: the table's replica and an ImportWorkflow reading it.
    pub backup_region: Option<RegionDeployment>,
}

#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RegionDeployment {
    pub region: String,
    pub notification_topic_arn: String,
    pub import_state_machine_arn: String,
    pub restore_ledger_table_name: String,
    pub report_bucket_name: String,
    pub functions: Vec<String>,
}

/// One Region's resources as the functions and policies refer to them.
struct Context<'a> {
    cfg: &'a StackConfig,
    sdk: SdkConfig,
    region: String,
    account: String,
    topic_arn: String,
    report_bucket: String,
    user_import_role_arn: String,
}

impl Context<'_> {
    fn arn(&self, service: &str, resource: &str) -> String {
        format!("arn:aws:{service}:{}:{}:{resource}", self.region, self.account)
    }

    fn target_arns(&self, target: Target) -> Vec<String> {
        let table = |name: String| self.arn("dynamodb", &format!("table/{name}"));
        match target {
            Target::PrimaryUserPool => vec![self.arn("cognito-idp", &format!("userpool/{}", self.cfg.primary_user_pool_id))],
            Target::AnyUserPoolInRegion => vec![self.arn("cognito-idp", "userpool/*")],
            Target::BackupTable => vec![table(self.cfg.table_name())],
            Target::RestoreLedgerTable => vec![table(self.cfg.ledger_table_name())],
            Target::RestoreReports => vec![format!("arn:aws:s3:::{}/restores/*", self.report_bucket)],
            Target::NotificationTopic => vec![self.topic_arn.clone()],
            Target::UserImportRole => vec![self.user_import_role_arn.clone()],
            Target::ImportJobLogs => vec![self.arn("logs", "log-group:/aws/cognito/userpools/*")],
            Target::WorkflowStateMachines => [&EXPORT_WORKFLOW, &IMPORT_WORKFLOW]
                .iter()
                .map(|sm| self.arn("states", &format!("stateMachine:{}", self.cfg.state_machine_name(sm))))
                .collect(),
        }
    }

    fn env_value(&self, var: EnvVar) -> String {
        match var {
            EnvVar::UserPoolId => self.cfg.primary_user_pool_id.clone(),
            EnvVar::BackupTableName => self.cfg.table_name(),
            EnvVar::NotificationTopicArn => self.topic_arn.clone(),
            EnvVar::NotificationPreference => self.cfg.notification_preference.as_str().to_owned(),
            EnvVar::QuotaShare => self.cfg.quota_share.to_string(),
            EnvVar::RestoreLedgerTableName => self.cfg.ledger_table_name(),
            EnvVar::ReportBucketName => self.report_bucket.clone(),
            EnvVar::UserImportRoleArn => self.user_import_role_arn.clone(),
        }
    }
}

fn in_region(sdk: &SdkConfig, region: &str) -> SdkConfig {
    sdk.to_builder().region(Region::new(region.to_owned())).build()
}

pub async fn deploy(sdk: &SdkConfig, cfg: &StackConfig) -> Result<Deployment, DeployError> {
    let region = sdk.region().map(|r| r.to_string()).unwrap_or_else(|| "us-east-1".into());
    let table_arn = ensure_table(sdk, &cfg.table_name()).await?;
    let account = table_arn.split(':').nth(4).unwrap_or("000000000000").to_owned();
    let backup_region = (cfg.backup_region != region).then(|| cfg.backup_region.clone());
    if let Some(backup) = &backup_region {
        ensure_replica(sdk, &cfg.table_name(), backup).await?;
    }

    let primary = deploy_region(in_region(sdk, &region), cfg, &account, true).await?;
    let backup = match &backup_region {
        Some(r) => Some(deploy_region(in_region(sdk, r), cfg, &account, false).await?.0),
        None => None,
    };
    let (primary, export_state_machine_arn) = primary;
    Ok(Deployment {
        region,
        backup_table_name: cfg.table_name(),
        notification_topic_arn: primary.notification_topic_arn.clone(),
        export_state_machine_arn: export_state_machine_arn.unwrap_or_default(),
        import_state_machine_arn: primary.import_state_machine_arn.clone(),
        restore_ledger_table_name: primary.restore_ledger_table_name.clone(),
        report_bucket_name: primary.report_bucket_name.clone(),
        schedule_rule_name: cfg.schedule_rule_name(),
        functions: primary.functions,
        backup_region: backup,
    })
}

/// The per-Region resources; the primary Region also gets the ExportWorkflow and its schedule.
async fn deploy_region(
    sdk: SdkConfig,
    cfg: &StackConfig,
    account: &str,
    primary: bool,
) -> Result<(RegionDeployment, Option<String>), DeployError> {
    let region = sdk.region().map(|r| r.to_string()).unwrap_or_default();
    let topic_arn = ensure_topic(&sdk, cfg).await?;
    ensure_table(&sdk, &cfg.ledger_table_name()).await?;
    let report_bucket = cfg.report_bucket_name(&region, account);
    ensure_bucket(&sdk, &report_bucket, &region).await?;
    let mut cx = Context { cfg, sdk, region, account: account.to_owned(), topic_arn, report_bucket, user_import_role_arn: String::new() };
    let log_groups = cx.arn("logs", "log-group:/aws/cognito/*");
    cx.user_import_role_arn = ensure_role(
        &cx,
        "CognitoUserImportLogs",
        "cognito-idp.amazonaws.com",
        json!([{"Effect": "Allow", "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"], "Resource": [log_groups.clone(), format!("{log_groups}:*")]}]),
    )
    .await?;

    let import_arn = ensure_workflow(&cx, &IMPORT_WORKFLOW).await?;
    let export_arn = if primary {
        let arn = ensure_workflow(&cx, &EXPORT_WORKFLOW).await?;
        ensure_schedule(&cx, &arn).await?;
        Some(arn)
    } else {
        None
    };
    let machines: Vec<&StateMachineDef> = if primary { vec![&EXPORT_WORKFLOW, &IMPORT_WORKFLOW] } else { vec![&IMPORT_WORKFLOW] };
    let mut functions: Vec<String> = machines.iter().flat_map(|sm| (sm.functions)()).map(|f| cfg.function_name(f)).collect();
    functions.sort();
    functions.dedup();
    Ok((
        RegionDeployment {
            region: cx.region.clone(),
            notification_topic_arn: cx.topic_arn.clone(),
            import_state_machine_arn: import_arn,
            restore_ledger_table_name: cfg.ledger_table_name(),
            report_bucket_name: cx.report_bucket.clone(),
            functions,
        },
        export_arn,
    ))
}

async fn ensure_workflow(cx: &Context<'_>, sm: &StateMachineDef) -> Result<String, DeployError> {
    let mut function_arns = HashMap::new();
    for f in (sm.functions)() {
        function_arns.insert(f.logical_id, ensure_function(cx, f).await?);
    }
    ensure_state_machine(cx, sm, &function_arns).await
}

async fn ensure_table(sdk: &SdkConfig, name: &str) -> Result<String, DeployError> {
    let ddb = aws_sdk_dynamodb::Client::new(sdk);
    if let Ok(out) = ddb.describe_table().table_name(name).send().await
        && let Some(arn) = out.table().and_then(|t| t.table_arn())
    {
        return Ok(arn.to_owned());
    }
    let attr = |n: &str| {
        AttributeDefinition::builder().attribute_name(n).attribute_type(ScalarAttributeType::S).build().map_err(fail("table"))
    };
    let key = |n: &str, t: KeyType| KeySchemaElement::builder().attribute_name(n).key_type(t).build().map_err(fail("table"));
    let out = ddb
        .create_table()
        .table_name(name)
        .attribute_definitions(attr(PARTITION_KEY)?)
        .attribute_definitions(attr(SORT_KEY)?)
        .key_schema(key(PARTITION_KEY, KeyType::Hash)?)
        .key_schema(key(SORT_KEY, KeyType::Range)?)
        .billing_mode(BillingMode::PayPerRequest)
        .stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::NewAndOldImages)
                .build()
                .map_err(fail("table stream"))?,
        )
        .sse_specification(SseSpecification::builder().enabled(true).build())
        .send()
        .await
        .map_err(sdk_fail(format!("table {name}")))?;
    enable_pitr(&ddb, name).await?;
    Ok(out.table_description().and_then(|t| t.table_arn()).unwrap_or_default().to_owned())
}

async fn enable_pitr(ddb: &aws_sdk_dynamodb::Client, name: &str) -> Result<(), DeployError> {
    ddb.update_continuous_backups()
        .table_name(name)
        .point_in_time_recovery_specification(
            PointInTimeRecoverySpecification::builder()
                .point_in_time_recovery_enabled(true)
                .build()
                .map_err(fail("PITR"))?,
        )
        .send()
        .await
        .map_err(sdk_fail(format!("point-in-time recovery of {name}")))?;
    Ok(())
}

/// Makes the backup table a global table (version 2019.11.21) with a replica in `replica_region`.
async fn ensure_replica(sdk: &SdkConfig, table: &str, replica_region: &str) -> Result<(), DeployError> {
    let ddb = aws_sdk_dynamodb::Client::new(sdk);
    let described = ddb.describe_table().table_name(table).send().await.map_err(sdk_fail(format!("table {table}")))?;
    let has = described
        .table()
        .map(|t| t.replicas().iter().any(|r| r.region_name() == Some(replica_region)))
        .unwrap_or(false);
    if !has {
        let create = aws_sdk_dynamodb::types::CreateReplicationGroupMemberAction::builder()
            .region_name(replica_region)
            .build()
            .map_err(fail("replica"))?;
        ddb.update_table()
            .table_name(table)
            .replica_updates(ReplicationGroupUpdate::builder().create(create).build())
            .send()
            .await
            .map_err(sdk_fail(format!("replica of {table} in {replica_region}")))?;
    }
    // On AWS the replica takes minutes to become active; PITR is set on it by the templates.
    let replica = aws_sdk_dynamodb::Client::new(&in_region(sdk, replica_region));
    if replica.describe_table().table_name(table).send().await.is_ok() {
        enable_pitr(&replica, table).await?;
    }
    Ok(())
}

pub(crate) async fn ensure_bucket(sdk: &SdkConfig, bucket: &str, region: &str) -> Result<(), DeployError> {
    let s3 = aws_sdk_s3::Client::new(sdk);
    if s3.head_bucket().bucket(bucket).send().await.is_ok() {
        return Ok(());
    }
    let mut request = s3.create_bucket().bucket(bucket);
    if region != "us-east-1" {
        request = request.create_bucket_configuration(
            aws_sdk_s3::types::CreateBucketConfiguration::builder()
                .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::from(region))
                .build(),
        );
    }
    request.send().await.map_err(sdk_fail(format!("report bucket {bucket}")))?;
    Ok(())
}

async fn ensure_topic(sdk: &SdkConfig, cfg: &StackConfig) -> Result<String, DeployError> {
    let sns = aws_sdk_sns::Client::new(sdk);
    let out = sns.create_topic().name(cfg.topic_name()).send().await.map_err(sdk_fail("notification topic"))?;
    let arn = out.topic_arn().unwrap_or_default().to_owned();
    if let Some(email) = &cfg.notification_email {
        sns.subscribe()
            .topic_arn(&arn)
            .protocol("email")
            .endpoint(email)
            .send()
            .await
            .map_err(sdk_fail("email subscription"))?;
    }
    Ok(arn)
}

async fn ensure_role(cx: &Context<'_>, logical_id: &str, service: &str, statements: serde_json::Value) -> Result<String, DeployError> {
    let iam = aws_sdk_iam::Client::new(&cx.sdk);
    let name = cx.cfg.role_name(&cx.region, logical_id);
    let trust = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]});
    let arn = match iam.get_role().role_name(&name).send().await {
        Ok(out) => out.role().map(|r| r.arn().to_owned()),
        Err(_) => None,
    };
    let arn = match arn {
        Some(arn) => arn,
        None => iam
            .create_role()
            .role_name(&name)
            .assume_role_policy_document(trust.to_string())
            .send()
            .await
            .map_err(sdk_fail(format!("role {name}")))?
            .role()
            .map(|r| r.arn().to_owned())
            .unwrap_or_default(),
    };
    let policy = json!({"Version": "2012-10-17", "Statement": statements});
    iam.put_role_policy()
        .role_name(&name)
        .policy_name("least-privilege")
        .policy_document(policy.to_string())
        .send()
        .await
        .map_err(sdk_fail(format!("policy of role {name}")))?;
    Ok(arn)
}

/// The IAM statements of one function: its own actions on its own resources, and its log group.
pub fn function_statements(arns: impl Fn(Target) -> Vec<String>, log_group_arn: &str, f: &FunctionDef) -> serde_json::Value {
    let mut statements: Vec<serde_json::Value> =
        f.permissions.iter().map(|p| json!({"Effect": "Allow", "Action": p.actions, "Resource": arns(p.target)})).collect();
    statements.push(json!({"Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Resource": format!("{log_group_arn}:*")}));
    serde_json::Value::Array(statements)
}

pub fn placeholder_zip() -> Result<Vec<u8>, DeployError> {
    // The local cloud runs target/debug/<Handler>; the zip only satisfies the API.
    let mut buf = std::io::Cursor::new(Vec::new());
    let mut zip = zip::ZipWriter::new(&mut buf);
    zip.start_file("bootstrap", zip::write::SimpleFileOptions::default()).map_err(fail("code zip"))?;
    zip.write_all(b"#!/bin/sh\necho 'built by cargo-lambda for AWS; the local cloud runs target/debug/<handler>'\n")
        .map_err(fail("code zip"))?;
    zip.finish().map_err(fail("code zip"))?;
    Ok(buf.into_inner())
}

fn function_code(cfg: &StackConfig, f: &FunctionDef) -> Result<Vec<u8>, DeployError> {
    match &cfg.lambda_zip_dir {
        Some(dir) => {
            let path = dir.join(f.binary).join("bootstrap.zip");
            std::fs::read(&path).map_err(fail(format!(
                "code of {} from {} (build it with `cargo lambda build --release --arm64 --output-format zip`)",
                f.binary,
                path.display()
            )))
        }
        None => placeholder_zip(),
    }
}

/// IAM roles take a few seconds to become usable by Lambda on AWS; creation is retried meanwhile.
const ROLE_PROPAGATION_ATTEMPTS: u32 = 10;

async fn ensure_function(cx: &Context<'_>, f: &FunctionDef) -> Result<String, DeployError> {
    let name = cx.cfg.function_name(f);
    let log_group = cx.arn("logs", &format!("log-group:/aws/lambda/{name}"));
    let role = ensure_role(cx, f.logical_id, "lambda.amazonaws.com", function_statements(|t| cx.target_arns(t), &log_group, f)).await?;
    let mut variables: HashMap<String, String> = f.environment.iter().map(|v| (v.name().to_owned(), cx.env_value(*v))).collect();
    variables.extend(cx.cfg.extra_environment.clone());
    let environment = Environment::builder().set_variables(Some(variables)).build();
    let timeout = cx.cfg.function_timeout_override.unwrap_or(f.timeout_seconds) as i32;
    let lambda = aws_sdk_lambda::Client::new(&cx.sdk);

    let code = function_code(cx.cfg, f)?;
    if let Ok(existing) = lambda.get_function().function_name(&name).send().await {
        if cx.cfg.lambda_zip_dir.is_some() {
            lambda
                .update_function_code()
                .function_name(&name)
                .zip_file(Blob::new(code.clone()))
                .architectures(Architecture::Arm64)
                .send()
                .await
                .map_err(sdk_fail(format!("code of function {name}")))?;
        }
        lambda
            .update_function_configuration()
            .function_name(&name)
            .handler(f.binary)
            .role(&role)
            .timeout(timeout)
            .memory_size(f.memory_mb as i32)
            .environment(environment)
            .description(f.description)
            .send()
            .await
            .map_err(sdk_fail(format!("function {name}")))?;
        return Ok(existing.configuration().and_then(|c| c.function_arn()).unwrap_or_default().to_owned());
    }
    let mut attempt = 0;
    loop {
        attempt += 1;
        let result = lambda
            .create_function()
            .function_name(&name)
            .runtime(Runtime::Providedal2023)
            .architectures(Architecture::Arm64)
            // provided.al2023 runs `bootstrap` and ignores Handler; the local cloud runs target/debug/<Handler>.
            .handler(f.binary)
            .role(&role)
            .code(FunctionCode::builder().zip_file(Blob::new(code.clone())).build())
            .timeout(timeout)
            .memory_size(f.memory_mb as i32)
            .environment(environment.clone())
            .description(f.description)
            .send()
            .await;
        match result {
            Ok(out) => return Ok(out.function_arn().unwrap_or_default().to_owned()),
            Err(e)
                if attempt < ROLE_PROPAGATION_ATTEMPTS
                    && e.as_service_error().is_some_and(|s| s.is_invalid_parameter_value_exception()) =>
            {
                tokio::time::sleep(std::time::Duration::from_secs(3)).await;
            }
            Err(e) => return Err(sdk_fail(format!("function {name}"))(e)),
        }
    }
}

async fn ensure_state_machine(
    cx: &Context<'_>,
    sm: &StateMachineDef,
    function_arns: &HashMap<&str, String>,
) -> Result<String, DeployError> {
    let name = cx.cfg.state_machine_name(sm);
    let definition = sm
        .definition(|f| function_arns.get(f.logical_id).cloned().unwrap_or_default())
        .map_err(fail(format!("state machine {name}")))?;
    let invoke = json!([{"Effect": "Allow", "Action": ["lambda:InvokeFunction"], "Resource": function_arns.values().collect::<Vec<_>>()}]);
    let role = ensure_role(cx, sm.logical_id, "states.amazonaws.com", invoke).await?;
    let sfn = aws_sdk_sfn::Client::new(&cx.sdk);
    let mut pages = sfn.list_state_machines().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(sdk_fail("listing state machines"))?;
        if let Some(existing) = page.state_machines().iter().find(|s| s.name() == name) {
            sfn.update_state_machine()
                .state_machine_arn(existing.state_machine_arn())
                .definition(&definition)
                .role_arn(&role)
                .send()
                .await
                .map_err(sdk_fail(format!("state machine {name}")))?;
            return Ok(existing.state_machine_arn().to_owned());
        }
    }
    let out = sfn
        .create_state_machine()
        .name(&name)
        .definition(&definition)
        .role_arn(&role)
        .send()
        .await
        .map_err(sdk_fail(format!("state machine {name}")))?;
    Ok(out.state_machine_arn().to_owned())
}

async fn ensure_schedule(cx: &Context<'_>, sm_arn: &str) -> Result<(), DeployError> {
    let role = ensure_role(
        cx,
        "ExportSchedule",
        "events.amazonaws.com",
        json!([{"Effect": "Allow", "Action": ["states:StartExecution"], "Resource": sm_arn}]),
    )
    .await?;
    let events = aws_sdk_eventbridge::Client::new(&cx.sdk);
    let rule = cx.cfg.schedule_rule_name();
    events
        .put_rule()
        .name(&rule)
        .schedule_expression(&cx.cfg.schedule_expression)
        .state(aws_sdk_eventbridge::types::RuleState::Enabled)
        .send()
        .await
        .map_err(sdk_fail(format!("schedule {rule}")))?;
    let target = aws_sdk_eventbridge::types::Target::builder()
        .id("export-workflow")
        .arn(sm_arn)
        .role_arn(role)
        .build()
        .map_err(fail("schedule target"))?;
    events.put_targets().rule(&rule).targets(target).send().await.map_err(sdk_fail(format!("target of {rule}")))?;
    Ok(())
}
