//! Every bad ending reaches the operator. A workflow's own failure notice runs only when a Catch routes
//! an error to it; a timed-out or stopped execution, a payload or history limit (which Catch cannot
//! route), or a failing notice end the execution without it. An EventBridge rule on Step Functions status
//! changes calls this step for every execution that ends FAILED, TIMED_OUT or ABORTED: it publishes a
//! notice unless the workflow's own notice already went out, and gives back any lease the execution
//! still holds, so the next run need not wait for it to expire.

use serde::{Deserialize, Serialize};

use crate::lease::{EXPORT, import_lease_name};
use crate::ports::{LeaseStore, Notifier};
use crate::step::StepError;

/// The `detail` of a "Step Functions Execution Status Change" event.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusChange {
    pub execution_arn: String,
    pub state_machine_arn: String,
    #[serde(default)]
    pub name: String,
    pub status: String,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub cause: Option<String>,
    /// The execution's input (a JSON string), when small enough to be sent.
    #[serde(default)]
    pub input: Option<String>,
}

/// The workflows' last states after their own failure notice (or restore report) was published: such
/// endings were announced already.
const NOTIFIED_ENDINGS: [&str; 3] = ["ExportFailed", "ImportFailed", "RestoreNotVerified"];

#[derive(Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct OutcomeHandled {
    pub notified: bool,
    pub leases_released: Vec<String>,
}

pub async fn run(
    notifier: &dyn Notifier,
    export_leases: &dyn LeaseStore,
    import_leases: &dyn LeaseStore,
    change: &StatusChange,
) -> Result<OutcomeHandled, StepError> {
    let mut handled = OutcomeHandled { notified: false, leases_released: Vec::new() };
    if !matches!(change.status.as_str(), "FAILED" | "TIMED_OUT" | "ABORTED") {
        return Ok(handled);
    }
    let workflow =
        if change.state_machine_arn.ends_with("ImportWorkflow") { "ImportWorkflow" } else { "ExportWorkflow" };
    let (store, lease) = if workflow == "ImportWorkflow" {
        let pool = change
            .input
            .as_deref()
            .and_then(|i| serde_json::from_str::<serde_json::Value>(i).ok())
            .and_then(|v| v.get("NewUserPoolId").and_then(|p| p.as_str()).map(str::to_owned));
        (import_leases, pool.map(|p| import_lease_name(&p)))
    } else {
        (export_leases, Some(EXPORT.name.to_owned()))
    };
    if let Some(name) = lease
        && let Some(held) = store.read(&name).await.map_err(StepError::port("reading a lease"))?
        && held.owner == change.execution_arn
        && store.release(&name, &held.owner, held.fence).await.map_err(StepError::port("releasing a lease"))?
    {
        handled.leases_released.push(name);
    }
    if change.error.as_deref().is_some_and(|e| NOTIFIED_ENDINGS.contains(&e)) {
        return Ok(handled);
    }
    let what = match change.status.as_str() {
        "TIMED_OUT" => "timed out".to_owned(),
        "ABORTED" => "was stopped".to_owned(),
        _ => format!("failed with {}", change.error.as_deref().unwrap_or("no error name")),
    };
    let effect = if workflow == "ImportWorkflow" {
        "What was restored before it ended stays in the target pool and in the restore ledger. Start the ImportWorkflow \
         again with \"ConflictPolicy\": \"skip-existing\" to complete the restore without duplicates."
    } else {
        "The export stopped before its clean-up finished: nothing was removed from the backup unless the clean-up had \
         started (its list of removals is kept under exports/<execution>/stale/ in the workflow bucket). The next run \
         starts from the beginning."
    };
    let message = format!(
        "The {workflow} execution {name} {what} without reaching its own failure notice{cause}.\n\n{effect}\n\nExecution: {arn}\n{released}",
        name = change.name,
        cause = change
            .cause
            .as_deref()
            .map(|c| format!(" ({})", c.chars().take(500).collect::<String>()))
            .unwrap_or_default(),
        arn = change.execution_arn,
        released = if handled.leases_released.is_empty() {
            String::new()
        } else {
            format!("Its lease was released: {}\n", handled.leases_released.join(", "))
        },
    );
    notifier
        .publish(&format!("Cognito backup {workflow} {what}"), &message)
        .await
        .map_err(StepError::port("publishing the notice of a bad ending"))?;
    handled.notified = true;
    tracing::error!(workflow, status = %change.status, "bad ending notified");
    Ok(handled)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::{InMemoryLease, RecordingNotifier};
    use crate::ports::LeaseRecord;

    fn change(status: &str, error: Option<&str>, machine: &str) -> StatusChange {
        StatusChange {
            execution_arn: "arn:exec:1".into(),
            state_machine_arn: format!("arn:aws:states:us-east-1:1:stateMachine:p-{machine}"),
            name: "1".into(),
            status: status.into(),
            error: error.map(str::to_owned),
            cause: None,
            input: Some(r#"{"NewUserPoolId": "us-east-1_t"}"#.into()),
        }
    }

    #[tokio::test]
    async fn a_stopped_export_is_announced_and_its_lease_released() {
        let (notifier, exports, imports) =
            (RecordingNotifier::default(), InMemoryLease::default(), InMemoryLease::default());
        let held = LeaseRecord { owner: "arn:exec:1".into(), fence: 4, expires_at: i64::MAX, heartbeat_at: 0 };
        exports.replace("EXPORT", None, &held).await.unwrap();
        let out = run(&notifier, &exports, &imports, &change("ABORTED", None, "ExportWorkflow")).await.unwrap();
        assert_eq!(out, OutcomeHandled { notified: true, leases_released: vec!["EXPORT".into()] });
        assert!(notifier.messages()[0].1.contains("was stopped"));
    }

    #[tokio::test]
    async fn endings_already_announced_and_good_endings_are_not_announced_again() {
        let (notifier, exports, imports) =
            (RecordingNotifier::default(), InMemoryLease::default(), InMemoryLease::default());
        run(&notifier, &exports, &imports, &change("FAILED", Some("ExportFailed"), "ExportWorkflow")).await.unwrap();
        run(&notifier, &exports, &imports, &change("SUCCEEDED", None, "ExportWorkflow")).await.unwrap();
        assert!(notifier.messages().is_empty());
        let out =
            run(&notifier, &exports, &imports, &change("FAILED", Some("States.DataLimitExceeded"), "ImportWorkflow"))
                .await
                .unwrap();
        assert!(out.notified);
        assert!(notifier.messages()[0].1.contains("States.DataLimitExceeded"));
    }

    #[tokio::test]
    async fn only_the_ended_executions_own_import_lease_is_released() {
        let (notifier, exports, imports) =
            (RecordingNotifier::default(), InMemoryLease::default(), InMemoryLease::default());
        let other = LeaseRecord { owner: "arn:exec:other".into(), fence: 1, expires_at: i64::MAX, heartbeat_at: 0 };
        imports.replace("IMPORT#us-east-1_t", None, &other).await.unwrap();
        let out = run(&notifier, &exports, &imports, &change("TIMED_OUT", None, "ImportWorkflow")).await.unwrap();
        assert!(out.leases_released.is_empty());
        assert!(imports.read("IMPORT#us-east-1_t").await.unwrap().is_some());
    }
}
