//! Failure notice: whatever step failed, say so on the topic (always, whatever the preference), with
//! what failed, why, and what it means for the backup.

use serde::{Deserialize, Serialize};

use super::ExportRun;
use super::StepError;
use super::cleanup::CleanupCursor;
use crate::ports::Notifier;

#[derive(Debug, Deserialize)]
pub struct FailureInput {
    #[serde(default)]
    pub run: Option<ExportRun>,
    pub error: CaughtError,
    #[serde(default)]
    pub cleanup: Option<CleanupCursor>,
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

pub async fn run(notifier: &dyn Notifier, input: FailureInput, workflow: &str) -> Result<FailureOutput, StepError> {
    let pool = input.run.as_ref().map(|r| r.pool_id.as_str()).unwrap_or("(not reached)");
    let backup_effect = match &input.cleanup {
        Some(c) if c.removed.users + c.removed.groups + c.removed.memberships > 0 => format!(
            "The clean-up had already removed {} users, {} groups and {} memberships that this run confirmed are gone from \
             the pool; every other backup item is unchanged.",
            c.removed.users, c.removed.groups, c.removed.memberships
        ),
        _ => "No backup item was removed: the backup still holds everything the last successful export saved, \
              updated with what this run exported before it failed."
            .to_owned(),
    };
    let message = format!(
        "The {workflow} failed for user pool {pool}.\n\nError: {name}\nCause: {cause}\n\n{backup_effect}\n\n\
         Execution: {run}\nFix the cause and start the workflow again (a new run starts from the beginning).",
        name = input.error.error,
        cause = input.error.message(),
        run = input.run.as_ref().map(|r| r.run_id.as_str()).unwrap_or("(see the Step Functions console)"),
    );
    notifier
        .publish(&format!("Cognito backup {workflow} failed"), &message)
        .await
        .map_err(StepError::port("publishing the failure notice"))?;
    tracing::error!(error = %input.error.error, "workflow failure notified");
    Ok(FailureOutput { error: input.error.error, message })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::RecordingNotifier;

    #[tokio::test]
    async fn the_lambda_error_message_is_extracted_and_always_published() {
        let notifier = RecordingNotifier::default();
        let input = FailureInput {
            run: None,
            error: CaughtError {
                error: "AccessDenied".into(),
                cause: r#"{"errorType":"AccessDenied","errorMessage":"listing the members: not authorized"}"#.into(),
            },
            cleanup: None,
        };
        let out = run(&notifier, input, "ExportWorkflow").await.unwrap();
        assert!(out.message.contains("listing the members: not authorized"));
        assert!(out.message.contains("No backup item was removed"));
        assert_eq!(notifier.messages().len(), 1);
    }
}
