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
    // Change capture writes as the tests change pools: only the tests about it turn it on.
    let config = StackConfig { change_capture: false, ..StackConfig::new(prefix, pool_id) };
    let mut stack = TestStack { config, function_timeout: None, environment: BTreeMap::new() };
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

    /// The error names of the tasks that failed and were retried or caught (e.g. `Runtime.ExitError`).
    pub fn task_errors(&self) -> Vec<String> {
        self.history
            .iter()
            .filter_map(|e| {
                e.task_failed_event_details()
                    .and_then(|d| d.error())
                    .or_else(|| e.lambda_function_failed_event_details().and_then(|d| d.error()))
                    .or_else(|| e.task_timed_out_event_details().and_then(|d| d.error()))
                    .or_else(|| e.lambda_function_timed_out_event_details().and_then(|d| d.error()))
            })
            .map(str::to_owned)
            .collect()
    }

    /// The outputs of the Lambda tasks that succeeded, in order.
    pub fn step_outputs(&self) -> Vec<serde_json::Value> {
        self.history
            .iter()
            .filter_map(|e| {
                e.lambda_function_succeeded_event_details()
                    .and_then(|d| d.output())
                    .or_else(|| e.task_succeeded_event_details().and_then(|d| d.output()))
            })
            .filter_map(|o| serde_json::from_str(o).ok())
            .collect()
    }

    /// How many Lambda invocations the execution made (a retried task state is invoked more than once).
    pub fn invocations(&self) -> usize {
        let scheduled = [HistoryEventType::LambdaFunctionScheduled, HistoryEventType::TaskScheduled];
        self.history.iter().filter(|e| scheduled.contains(e.r#type())).count()
    }

    /// How many times any task state was entered.
    pub fn times_entered_any(&self) -> usize {
        self.history.iter().filter(|e| e.r#type() == &HistoryEventType::TaskStateEntered).count()
    }

    /// Whether the export did its work (false: it found another run holding the lease and stopped).
    pub fn proceeded(&self) -> bool {
        self.output.as_ref().is_some_and(|o| o.get("exportRunId").is_some())
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
        let Some(d) = describe(&sfn, execution_arn).await? else {
            if started.elapsed() > limit {
                return Err(format!("execution {execution_arn} does not exist").into());
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
            continue;
        };
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

/// DescribeExecution, or `None` while a just-started execution is not visible yet (Step Functions is
/// eventually consistent; the local cloud's `stepfunctions.consistencyLagMs` models it).
async fn describe(
    sfn: &aws_sdk_sfn::Client,
    execution_arn: &str,
) -> Result<Option<aws_sdk_sfn::operation::describe_execution::DescribeExecutionOutput>> {
    match sfn.describe_execution().execution_arn(execution_arn).send().await {
        Ok(d) => Ok(Some(d)),
        Err(e) if e.as_service_error().is_some_and(|e| e.is_execution_does_not_exist()) => Ok(None),
        Err(e) => Err(e.into()),
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
        let item = item?;
        // The lease of a running workflow shares the table; it is not backup content.
        let item_type = item.get(backup_domain::schema::ITEM_TYPE_ATTRIBUTE).and_then(|v| v.as_s().ok());
        if item_type.map(String::as_str) != Some(backup_domain::schema::LEASE_ITEM_TYPE) {
            items.push(backup_aws::from_dynamo_item(item)?);
        }
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

/// Waits until the running execution has entered `state` (or ended); true when it entered it.
pub async fn wait_for_state(cloud: &LocalCloud, execution_arn: &str, state: &str, limit: Duration) -> Result<bool> {
    let sfn = cloud.sfn();
    let started = Instant::now();
    while started.elapsed() < limit {
        let mut pages = sfn.get_execution_history().execution_arn(execution_arn).into_paginator().send();
        while let Some(page) = pages.next().await {
            let entered = page?.events().iter().any(|e| {
                e.r#type() == &HistoryEventType::TaskStateEntered
                    && e.state_entered_event_details().is_some_and(|d| d.name() == state)
            });
            if entered {
                return Ok(true);
            }
        }
        if describe(&sfn, execution_arn).await?.is_some_and(|d| d.status() != &ExecutionStatus::Running) {
            return Ok(false);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(format!("execution {execution_arn} did not reach {state} within {limit:?}").into())
}

/// The executions of a state machine (all statuses), newest first.
pub async fn executions_of(cloud: &LocalCloud, state_machine_arn: &str) -> Result<Vec<String>> {
    let out = cloud.sfn().list_executions().state_machine_arn(state_machine_arn).send().await?;
    Ok(out.executions().iter().map(|e| e.execution_arn().to_owned()).collect())
}
