use async_trait::async_trait;

use super::PortError;

/// What Step Functions says of an execution. Its answers are eventually consistent: a just-started
/// execution may be `NotFound`, a just-ended one still `Running`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecutionStatus {
    Running,
    Succeeded,
    Failed,
    TimedOut,
    Aborted,
    NotFound,
}

impl ExecutionStatus {
    /// The execution has certainly ended (a `NotFound` may be one not listed yet).
    pub fn ended(self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed | Self::TimedOut | Self::Aborted)
    }
}

/// The executions of the workflows (Step Functions).
#[async_trait]
pub trait WorkflowExecutions: Send + Sync {
    async fn status(&self, execution_arn: &str) -> Result<ExecutionStatus, PortError>;
}
