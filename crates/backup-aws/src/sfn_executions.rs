use async_trait::async_trait;
use aws_sdk_sfn::Client;
use aws_sdk_sfn::types::ExecutionStatus as SfnStatus;
use backup_domain::ports::{ExecutionStatus, PortError, WorkflowExecutions};

use crate::errors::port_error;

/// The executions of the workflows (Step Functions).
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
    async fn status(&self, execution_arn: &str) -> Result<ExecutionStatus, PortError> {
        match self.client.describe_execution().execution_arn(execution_arn).send().await {
            Ok(out) => Ok(match out.status() {
                SfnStatus::Running | SfnStatus::PendingRedrive => ExecutionStatus::Running,
                SfnStatus::Succeeded => ExecutionStatus::Succeeded,
                SfnStatus::Failed => ExecutionStatus::Failed,
                SfnStatus::TimedOut => ExecutionStatus::TimedOut,
                SfnStatus::Aborted => ExecutionStatus::Aborted,
                // A status this release does not know: do not take its lease.
                _ => ExecutionStatus::Running,
            }),
            // DescribeExecution is eventually consistent: a just-started execution may not exist yet.
            Err(e) if e.as_service_error().is_some_and(|s| s.is_execution_does_not_exist()) => {
                Ok(ExecutionStatus::NotFound)
            }
            Err(e) => Err(port_error(
                &format!("DescribeExecution of {execution_arn}"),
                "The function's role needs states:DescribeExecution on the workflows' executions.",
                e,
            )),
        }
    }
}
