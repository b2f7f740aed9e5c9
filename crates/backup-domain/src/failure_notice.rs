//! Failure notice, for both workflows: whatever step failed, say so on the topic (always, whatever the
//! preference), with what failed, why, and what it means for the backup or the target pool.

use serde::{Deserialize, Serialize};

use crate::step::StepError;
use crate::export::cleanup::CleanupCursor;
use crate::ports::Notifier;

/// The workflow state when a step failed: the state machine adds `workflow` before calling this step.
#[derive(Debug, Deserialize)]
pub struct FailureInput {
    #[serde(default = "unknown_workflow")]
    pub workflow: String,
    /// The run as far as it got: an export's or an import's run context.
    #[serde(default)]
    pub run: Option<serde_json::Value>,
    pub error: CaughtError,
    #[serde(default)]
    pub cleanup: Option<CleanupCursor>,
}

fn unknown_workflow() -> String {
    "workflow".into()
}

fn text<'a>(v: Option<&'a serde_json::Value>, path: &[&str]) -> Option<&'a str> {
    path.iter().try_fold(v?, |v, key| v.get(key))?.as_str()
}

/// What a Step Functions Catch puts at its ResultPath.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct CaughtError {
    #[serde(rename = "Error", default)]
    pub error: String,
    #[serde(rename = "Cause", default)]
    pub cause: String,
}

impl CaughtError {
    /// The Lambda's own message when the cause is its JSON error payload, else the cause as given.
    pub fn message(&self) -> String {
        serde_json::from_str::<serde_json::Value>(&self.cause)
            .ok()
            .and_then(|v| v.get("errorMessage").and_then(|m| m.as_str()).map(str::to_owned))
            .unwrap_or_else(|| if self.cause.trim().is_empty() { "no details were given".into() } else { self.cause.clone() })
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FailureOutput {
    pub error: String,
    pub message: String,
}

pub async fn run(notifier: &dyn Notifier, input: FailureInput) -> Result<FailureOutput, StepError> {
    let workflow = input.workflow.as_str();
    let run = input.run.as_ref();
    let pool = text(run, &["poolId"]).or(text(run, &["target", "poolId"])).unwrap_or("(not reached)");
    let effect = if workflow == "ImportWorkflow" {
        "What was restored before the failure stays in the target pool and in the restore ledger. Fix the cause and \
         start the ImportWorkflow again with \"ConflictPolicy\": \"skip-existing\" to complete the restore without \
         duplicates."
            .to_owned()
    } else {
        export_effect(&input.cleanup)
    };
    let message = format!(
        "The {workflow} failed for user pool {pool}.\n\nError: {name}\nCause: {cause}\n\n{effect}\n\nExecution: {run_id}",
        name = input.error.error,
        cause = input.error.message(),
        run_id = text(run, &["runId"]).unwrap_or("(see the Step Functions console)"),
    );
    notifier
        .publish(&format!("Cognito backup {workflow} failed"), &message)
        .await
        .map_err(StepError::port("publishing the failure notice"))?;
    tracing::error!(error = %input.error.error, "workflow failure notified");
    Ok(FailureOutput { error: input.error.error, message })
}

fn export_effect(cleanup: &Option<CleanupCursor>) -> String {
    let removed = match cleanup {
        Some(c) if c.removed.users + c.removed.groups + c.removed.memberships > 0 => format!(
            "The clean-up had already removed {} users, {} groups and {} memberships that this run confirmed are gone from \
             the pool; every other backup item is unchanged.",
            c.removed.users, c.removed.groups, c.removed.memberships
        ),
        _ => "No backup item was removed: the backup still holds everything the last successful export saved, \
              updated with what this run exported before it failed."
            .to_owned(),
    };
    format!("{removed} Fix the cause and start the workflow again (a new run starts from the beginning).")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::RecordingNotifier;

    #[tokio::test]
    async fn the_lambda_error_message_is_extracted_and_always_published() {
        let notifier = RecordingNotifier::default();
        let input = FailureInput {
            workflow: "ExportWorkflow".into(),
            run: None,
            error: CaughtError {
                error: "AccessDenied".into(),
                cause: r#"{"errorType":"AccessDenied","errorMessage":"listing the members: not authorized"}"#.into(),
            },
            cleanup: None,
        };
        let out = run(&notifier, input).await.unwrap();
        assert!(out.message.contains("listing the members: not authorized"));
        assert!(out.message.contains("No backup item was removed"));
        assert_eq!(notifier.messages().len(), 1);
    }
}
