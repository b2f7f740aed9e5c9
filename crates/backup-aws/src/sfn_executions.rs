use async_trait::async_trait;
use aws_sdk_sfn::Client;
use aws_sdk_sfn::types::ExecutionStatus;
use backup_domain::ports::{PortError, RunningExecution, WorkflowExecutions};

use crate::errors::port_error;

/// The executions of a Step Functions state machine.
pub struct StepFunctionsExecutions {
    client: Client,
}

impl StepFunctionsExecutions {
    pub fn new(client: Client) -> Self {
        Self { client }
    }
}

#[async_trait]
impl WorkflowExecutions for StepFunctionsExecutions {
    async fn running(&self, state_machine_arn: &str) -> Result<Vec<RunningExecution>, PortError> {
        let mut pages = self
            .client
            .list_executions()
            .state_machine_arn(state_machine_arn)
            .status_filter(ExecutionStatus::Running)
            .into_paginator()
            .send();
        let mut running = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| {
                port_error(
                    &format!("ListExecutions of state machine {state_machine_arn}"),
                    "The function's role needs states:ListExecutions on its own state machine.",
                    e,
                )
            })?;
            running.extend(page.executions().iter().map(|e| RunningExecution {
                arn: e.execution_arn().to_owned(),
                started_at: e.start_date().to_millis().unwrap_or(i64::MAX),
            }));
        }
        Ok(running)
    }
}
