//! Starting a workflow and following it: its status, the state it is in, and each step's latest output
//! (the cursors the progress is read from).

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_sfn::types::{ExecutionStatus, HistoryEventType};
use serde_json::Value;

use crate::error::{CliError, CliResult, aws};

/// An execution as far as it got.
#[derive(Debug, Clone)]
pub struct Execution {
    pub arn: String,
    pub status: ExecutionStatus,
    /// The task state running now (or last).
    pub state: Option<String>,
    /// Each task state's latest result.
    pub outputs: HashMap<String, Value>,
    pub output: Option<Value>,
    pub error: Option<String>,
    pub cause: Option<String>,
    pub seconds: f64,
}

impl Execution {
    pub fn running(&self) -> bool {
        self.status == ExecutionStatus::Running
    }

    pub fn succeeded(&self) -> bool {
        self.status == ExecutionStatus::Succeeded
    }

    /// "failed with ExportFailed: <cause>" for messages.
    pub fn failure(&self) -> String {
        format!(
            "{} ended {}{}{}",
            self.arn,
            self.status.as_str(),
            self.error.as_deref().map(|e| format!(" with {e}")).unwrap_or_default(),
            self.cause.as_deref().map(|c| format!(": {c}")).unwrap_or_default()
        )
    }
}

pub async fn start(sfn: &aws_sdk_sfn::Client, state_machine_arn: &str, input: &Value) -> CliResult<String> {
    let out = sfn
        .start_execution()
        .state_machine_arn(state_machine_arn)
        .input(input.to_string())
        .send()
        .await
        .map_err(aws(format!("starting {state_machine_arn}")))?;
    Ok(out.execution_arn().to_owned())
}

/// The execution now; `None` while Step Functions does not show a just-started one yet.
pub async fn look(sfn: &aws_sdk_sfn::Client, arn: &str) -> CliResult<Option<Execution>> {
    let described = match sfn.describe_execution().execution_arn(arn).send().await {
        Ok(d) => d,
        Err(e) if e.as_service_error().is_some_and(|s| s.is_execution_does_not_exist()) => return Ok(None),
        Err(e) => return Err(aws(format!("reading {arn}"))(e)),
    };
    let mut execution = Execution {
        arn: arn.to_owned(),
        status: described.status().clone(),
        state: None,
        outputs: HashMap::new(),
        output: described.output().and_then(|o| serde_json::from_str(o).ok()),
        error: described.error().map(str::to_owned),
        cause: described.cause().map(str::to_owned),
        seconds: 0.0,
    };
    let end = described.stop_date().map(|d| d.as_secs_f64()).unwrap_or_else(now);
    execution.seconds = end - described.start_date().as_secs_f64();
    let mut pages = sfn.get_execution_history().execution_arn(arn).max_results(1000).into_paginator().send();
    while let Some(page) = pages.next().await {
        for e in page.map_err(aws(format!("reading the history of {arn}")))?.events() {
            if e.r#type() == &HistoryEventType::TaskStateEntered {
                execution.state = e.state_entered_event_details().map(|d| d.name().to_owned());
            }
            let output = e
                .lambda_function_succeeded_event_details()
                .and_then(|d| d.output())
                .or_else(|| e.task_succeeded_event_details().and_then(|d| d.output()));
            if let (Some(state), Some(output)) = (&execution.state, output)
                && let Ok(value) = serde_json::from_str(output)
            {
                execution.outputs.insert(state.clone(), value);
            }
        }
    }
    Ok(Some(execution))
}

fn now() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0)
}

/// Follows the execution to its end, calling `update` at each look.
pub async fn follow(sfn: &aws_sdk_sfn::Client, arn: &str, mut update: impl FnMut(&Execution)) -> CliResult<Execution> {
    let mut unseen = 0;
    loop {
        match look(sfn, arn).await? {
            Some(e) if !e.running() => {
                update(&e);
                return Ok(e);
            }
            Some(e) => update(&e),
            None => {
                unseen += 1;
                if unseen > 120 {
                    return Err(CliError::Failed(format!("Step Functions does not show {arn}")));
                }
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// The latest executions of a state machine with `status`.
pub async fn listed(
    sfn: &aws_sdk_sfn::Client,
    state_machine_arn: &str,
    status: ExecutionStatus,
    max: i32,
) -> CliResult<Vec<aws_sdk_sfn::types::ExecutionListItem>> {
    let out = sfn
        .list_executions()
        .state_machine_arn(state_machine_arn)
        .status_filter(status)
        .max_results(max)
        .send()
        .await
        .map_err(aws(format!("listing the executions of {state_machine_arn}")))?;
    Ok(out.executions().to_vec())
}
