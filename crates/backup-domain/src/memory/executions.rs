use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;

use super::lock;
use crate::ports::{ExecutionStatus, PortError, WorkflowExecutions};

/// Execution statuses the test sets; unknown executions are `NotFound`, as Step Functions may answer for
/// one started a moment ago.
#[derive(Debug, Default)]
pub struct ScriptedExecutions(Mutex<BTreeMap<String, ExecutionStatus>>);

impl ScriptedExecutions {
    pub fn set(&self, arn: &str, status: ExecutionStatus) {
        lock(&self.0).insert(arn.into(), status);
    }
}

#[async_trait]
impl WorkflowExecutions for ScriptedExecutions {
    async fn status(&self, execution_arn: &str) -> Result<ExecutionStatus, PortError> {
        Ok(lock(&self.0).get(execution_arn).copied().unwrap_or(ExecutionStatus::NotFound))
    }
}
