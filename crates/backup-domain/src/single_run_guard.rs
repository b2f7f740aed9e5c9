//! Single-run guard: only one ExportWorkflow execution works on the backup at a time.
//!
//! Every execution lists the running executions of its state machine and proceeds only if it is the
//! oldest (earliest start, ties broken by ARN). Two executions started at the same instant therefore
//! agree on exactly one winner, and no lock is left behind by an execution that was stopped.

use serde::{Deserialize, Serialize};

use crate::step::StepError;
use crate::ports::WorkflowExecutions;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GuardInput {
    pub execution_arn: String,
    pub state_machine_arn: String,
}

#[derive(Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct GuardOutput {
    pub proceed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub running_execution_arn: Option<String>,
    pub message: String,
}

pub async fn run(executions: &dyn WorkflowExecutions, input: &GuardInput) -> Result<GuardOutput, StepError> {
    let running = executions
        .running(&input.state_machine_arn)
        .await
        .map_err(StepError::port("listing the running executions of the export workflow"))?;
    // Our own execution may not be listed yet (ListExecutions is eventually consistent): it then counts
    // as the newest, so an older running execution still wins.
    let oldest = running.iter().min_by(|a, b| (a.started_at, &a.arn).cmp(&(b.started_at, &b.arn)));
    Ok(match oldest {
        Some(other) if other.arn != input.execution_arn => GuardOutput {
            proceed: false,
            running_execution_arn: Some(other.arn.clone()),
            message: format!(
                "Another execution of this workflow is running ({}); this one stops without touching the backup. \
                 If that execution is stuck, stop it in the Step Functions console and start a new one.",
                other.arn
            ),
        },
        _ => GuardOutput {
            proceed: true,
            running_execution_arn: None,
            message: "No other execution of this workflow is running.".into(),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::FixedExecutions;
    use crate::ports::RunningExecution;

    fn exec(arn: &str, started_at: i64) -> RunningExecution {
        RunningExecution { arn: arn.into(), started_at }
    }

    fn input(arn: &str) -> GuardInput {
        GuardInput { execution_arn: arn.into(), state_machine_arn: "sm".into() }
    }

    #[tokio::test]
    async fn the_oldest_execution_proceeds_and_the_newer_stops() {
        let execs = FixedExecutions(vec![exec("b", 2), exec("a", 1)]);
        assert!(run(&execs, &input("a")).await.unwrap().proceed);
        let out = run(&execs, &input("b")).await.unwrap();
        assert!(!out.proceed);
        assert_eq!(out.running_execution_arn.as_deref(), Some("a"));
    }

    #[tokio::test]
    async fn executions_started_at_the_same_instant_elect_exactly_one() {
        let execs = FixedExecutions(vec![exec("x2", 5), exec("x1", 5)]);
        let proceeding: Vec<bool> =
            [run(&execs, &input("x1")).await.unwrap().proceed, run(&execs, &input("x2")).await.unwrap().proceed].into();
        assert_eq!(proceeding, vec![true, false]);
    }

    #[tokio::test]
    async fn an_execution_not_yet_listed_proceeds_only_when_nothing_else_runs() {
        assert!(run(&FixedExecutions(vec![]), &input("me")).await.unwrap().proceed);
        assert!(!run(&FixedExecutions(vec![exec("other", 9)]), &input("me")).await.unwrap().proceed);
    }
}
