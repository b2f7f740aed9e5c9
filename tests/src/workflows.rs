//! Deploying the stack into the local cloud and running its workflows through Step Functions.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use aws_sdk_sfn::types::{ExecutionStatus, HistoryEvent, HistoryEventType};
use backup_domain::schema::BackupItem;
use infra::cloudformation::Assets;
use infra::stack_deploy::{self, Deployment, StackConfig};

use crate::Result;
use crate::local_cloud::LocalCloud;

/// A short unique prefix, so tests running in parallel never share resources.
pub fn unique_prefix(label: &str) -> String {
    format!("{label}{}", &uuid::Uuid::new_v4().simple().to_string()[..8])
}

/// What a test deploys: the stack's parameters, and (tests only) settings of every function that the
/// stack does not expose, applied after the deployment as an operator would with the Lambda API.
pub struct TestStack {
    pub config: StackConfig,
    /// Replaces every function's timeout, so a long step runs over several invocations.
    pub function_timeout: Option<i32>,
    /// Added to every function's environment (e.g. a smaller INVOCATION_SAFETY_MARGIN_SECONDS).
    pub environment: BTreeMap<String, String>,
}

/// Deploys the stack through CloudFormation (the one deploy path), then applies the test's settings.
pub async fn deploy(
    cloud: &LocalCloud,
    prefix: &str,
    pool_id: &str,
    tweak: impl FnOnce(&mut TestStack),
) -> Result<Deployment> {
    let mut stack =
        TestStack { config: StackConfig::new(prefix, pool_id), function_timeout: None, environment: BTreeMap::new() };
    tweak(&mut stack);
    let code = |_: &str| stack_deploy::placeholder_zip();
    let deployment = stack_deploy::deploy(&cloud.sdk, &stack.config, &Assets::for_deployment(prefix), &code).await?;
    if stack.function_timeout.is_some() || !stack.environment.is_empty() {
        for region in [&deployment.primary, &deployment.backup] {
            let lambda = cloud.in_region(&region.region).await?.lambda();
            for function in &region.functions {
                let current = lambda.get_function_configuration().function_name(function).send().await?;
                let mut variables = current.environment().and_then(|e| e.variables()).cloned().unwrap_or_default();
                variables.extend(stack.environment.clone());
                lambda
                    .update_function_configuration()
                    .function_name(function)
                    .set_timeout(stack.function_timeout.or(current.timeout()))
                    .environment(aws_sdk_lambda::types::Environment::builder().set_variables(Some(variables)).build())
                    .send()
                    .await?;
            }
        }
    }
    Ok(deployment)
}

/// A finished execution.
#[derive(Debug)]
pub struct Execution {
    pub arn: String,
    pub status: ExecutionStatus,
    pub output: Option<serde_json::Value>,
    pub error: Option<String>,
    pub cause: Option<String>,
    pub history: Vec<HistoryEvent>,
}

impl Execution {
    /// How many times the state `name` was entered (one per Lambda invocation for task states).
    pub fn times_entered(&self, name: &str) -> usize {
        self.history
            .iter()
            .filter(|e| e.r#type() == &HistoryEventType::TaskStateEntered)
            .filter(|e| e.state_entered_event_details().is_some_and(|d| d.name() == name))
            .count()
    }
}

pub async fn start(cloud: &LocalCloud, state_machine_arn: &str, input: &str) -> Result<String> {
    let name = format!("run-{}", uuid::Uuid::new_v4().simple());
    let out = cloud.sfn().start_execution().state_machine_arn(state_machine_arn).name(name).input(input).send().await?;
    Ok(out.execution_arn().to_owned())
}

pub async fn wait(cloud: &LocalCloud, execution_arn: &str, limit: Duration) -> Result<Execution> {
    let sfn = cloud.sfn();
    let started = Instant::now();
    loop {
        let d = sfn.describe_execution().execution_arn(execution_arn).send().await?;
        if d.status() != &ExecutionStatus::Running {
            let mut history = Vec::new();
            let mut pages = sfn.get_execution_history().execution_arn(execution_arn).into_paginator().send();
            while let Some(page) = pages.next().await {
                history.extend(page?.events().iter().cloned());
            }
            return Ok(Execution {
                arn: execution_arn.to_owned(),
                status: d.status().clone(),
                output: d.output().map(serde_json::from_str).transpose()?,
                error: d.error().map(str::to_owned),
                cause: d.cause().map(str::to_owned),
                history,
            });
        }
        if started.elapsed() > limit {
            return Err(format!("execution {execution_arn} still running after {limit:?}").into());
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

pub async fn run_export(cloud: &LocalCloud, deployment: &Deployment, input: &str) -> Result<Execution> {
    let arn = start(cloud, deployment.export_state_machine_arn(), input).await?;
    wait(cloud, &arn, Duration::from_secs(600)).await
}

/// Every item of the backup table, decoded (a malformed item is an error).
pub async fn backup_items(cloud: &LocalCloud, table: &str) -> Result<Vec<BackupItem>> {
    let mut pages = cloud.dynamodb().scan().table_name(table).consistent_read(true).into_paginator().items().send();
    let mut items = Vec::new();
    while let Some(item) = pages.next().await {
        items.push(backup_aws::from_dynamo_item(item?)?);
    }
    Ok(items)
}

pub fn keys(items: &[BackupItem]) -> BTreeSet<(String, String)> {
    items.iter().map(|i| i.key()).map(|k| (k.pk, k.sk)).collect()
}

/// An SQS queue subscribed to a topic, to read what the workflows published.
pub struct Inbox {
    cloud: LocalCloud,
    queue_url: String,
}

impl Inbox {
    pub async fn subscribe(cloud: &LocalCloud, topic_arn: &str) -> Result<Self> {
        let sqs = cloud.sqs();
        let name = unique_prefix("inbox");
        let queue_url = sqs.create_queue().queue_name(&name).send().await?.queue_url().unwrap_or_default().to_owned();
        let attrs = sqs
            .get_queue_attributes()
            .queue_url(&queue_url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
            .send()
            .await?;
        let queue_arn = attrs
            .attributes()
            .and_then(|a| a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn))
            .cloned()
            .unwrap_or_default();
        cloud.sns().subscribe().topic_arn(topic_arn).protocol("sqs").endpoint(queue_arn).send().await?;
        Ok(Self { cloud: cloud.clone(), queue_url })
    }

    /// The messages published so far (SNS envelopes unwrapped to subject and message).
    pub async fn messages(&self) -> Result<Vec<(String, String)>> {
        let mut all = Vec::new();
        loop {
            let out =
                self.cloud.sqs().receive_message().queue_url(&self.queue_url).max_number_of_messages(10).send().await?;
            if out.messages().is_empty() {
                return Ok(all);
            }
            for m in out.messages() {
                let envelope: serde_json::Value = serde_json::from_str(m.body().unwrap_or("{}"))?;
                all.push((
                    envelope["Subject"].as_str().unwrap_or_default().to_owned(),
                    envelope["Message"].as_str().unwrap_or_default().to_owned(),
                ));
                self.cloud
                    .sqs()
                    .delete_message()
                    .queue_url(&self.queue_url)
                    .set_receipt_handle(m.receipt_handle().map(str::to_owned))
                    .send()
                    .await?;
            }
        }
    }
}
