//! Failure notice, for both workflows: whatever step failed, say so on the topic (always, whatever the
//! preference), with what failed, why, and exactly what it means for the backup or the target pool; and
//! give back the run's lease, so the next run need not wait for it to expire.

use serde::{Deserialize, Serialize};

use crate::export::LeaseToken;
use crate::export::cleanup::CleanupCursor;
use crate::export::completeness::Completeness;
use crate::ports::{LeaseStore, Notifier};
use crate::step::StepError;

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
    pub completeness: Option<Completeness>,
    #[serde(default)]
    pub cleanup: Option<CleanupCursor>,
}

fn unknown_workflow() -> String {
    "workflow".into()
}

fn text<'a>(v: Option<&'a serde_json::Value>, path: &[&str]) -> Option<&'a str> {
    path.iter().try_fold(v?, |v, key| v.get(key))?.as_str()
}

impl FailureInput {
    /// The lease the failed run held, if it got one.
    pub fn lease_token(&self) -> Option<LeaseToken> {
        serde_json::from_value(self.run.as_ref()?.get("lease")?.clone()).ok()
    }
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
            .unwrap_or_else(|| {
                if self.cause.trim().is_empty() { "no details were given".into() } else { self.cause.clone() }
            })
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FailureOutput {
    pub error: String,
    pub message: String,
    pub lease_released: bool,
}

pub async fn run(
    notifier: &dyn Notifier,
    lease: Option<&dyn LeaseStore>,
    input: FailureInput,
) -> Result<FailureOutput, StepError> {
    let workflow = input.workflow.as_str();
    let run = input.run.as_ref();
    let pool = text(run, &["poolId"]).or(text(run, &["target", "poolId"])).unwrap_or("(not reached)");
    let effect = if workflow == "ImportWorkflow" {
        "What was restored before the failure stays in the target pool and in the restore ledger. Fix the cause and \
         start the ImportWorkflow again with \"ConflictPolicy\": \"skip-existing\" to complete the restore without \
         duplicates."
            .to_owned()
    } else {
        export_effect(&input)
    };
    let lease_released = match (lease, input.lease_token()) {
        (Some(store), Some(token)) => store.release(&token.name, &token.owner, token.fence).await.unwrap_or(false),
        _ => false,
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
    tracing::error!(error = %input.error.error, lease_released, "workflow failure notified");
    Ok(FailureOutput { error: input.error.error, message, lease_released })
}

/// Exactly what the failed export changed in the backup.
fn export_effect(input: &FailureInput) -> String {
    let removed = match (&input.cleanup, &input.completeness) {
        (Some(c), Some(k)) if c.removed.total() > 0 || c.parts_done > 0 => format!(
            "The clean-up had started: it removed {} users, {} groups, {} memberships and {} tombstones, all of them \
             items this run confirmed are gone from the pool (it was to remove {} users, {} groups and {} memberships; \
             the full list is kept for a week under exports/<execution>/stale/ in the workflow bucket). Every other \
             backup item is unchanged.",
            c.removed.users,
            c.removed.groups,
            c.removed.memberships,
            c.removed.tombstones,
            k.stale.users,
            k.stale.groups,
            k.stale.memberships,
        ),
        _ => "No backup item was removed: the backup still holds everything the last successful export saved, \
              updated with the new and changed items this run read before it failed."
            .to_owned(),
    };
    format!("{removed} Fix the cause and start the workflow again (a new run starts from the beginning).")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::{InMemoryLease, RecordingNotifier};
    use crate::ports::LeaseRecord;

    #[tokio::test]
    async fn the_lambda_error_message_is_extracted_published_and_the_lease_released() {
        let notifier = RecordingNotifier::default();
        let lease = InMemoryLease::default();
        let held = LeaseRecord { owner: "arn:exec".into(), fence: 3, expires_at: 10, heartbeat_at: 1 };
        lease.replace("EXPORT", None, &held).await.unwrap();
        let input = FailureInput {
            workflow: "ExportWorkflow".into(),
            run: Some(
                serde_json::json!({"poolId": "p", "runId": "arn:exec", "lease": {"name": "EXPORT", "owner": "arn:exec", "fence": 3, "ttlMs": 600000}}),
            ),
            error: CaughtError {
                error: "AccessDenied".into(),
                cause: r#"{"errorType":"AccessDenied","errorMessage":"listing the members: not authorized"}"#.into(),
            },
            completeness: None,
            cleanup: None,
        };
        let out = run(&notifier, Some(&lease), input).await.unwrap();
        assert!(out.message.contains("listing the members: not authorized"));
        assert!(out.message.contains("No backup item was removed"));
        assert!(out.lease_released);
        assert!(lease.read("EXPORT").await.unwrap().is_none());
        assert_eq!(notifier.messages().len(), 1);
    }
}
