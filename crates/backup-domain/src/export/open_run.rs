//! The first step: takes the export lease, reads the pool's configuration and size, and saves the pool
//! snapshot (only if it changed). A run that does not get the lease ends here having written nothing.

use serde::{Deserialize, Serialize};

use super::lease::{self, Acquired};
use super::seen::SeenBuffer;
use super::writer::write_page;
use super::{ExportPorts, ExportRequest, ExportRun, StepError};
use crate::lease::EXPORT;
use crate::ports::{PortError, WorkflowExecutions};
use crate::schema::{BackupItem, PoolSnapshotItem};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OpenRunInput {
    pub execution_arn: String,
    /// The execution's input (see [`ExportRequest`]).
    #[serde(default)]
    pub execution_input: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunOpened {
    /// False when another run holds the lease: this one stops without writing.
    pub proceed: bool,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<ExportRun>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub running_execution_arn: Option<String>,
}

pub async fn run(
    ports: ExportPorts<'_>,
    executions: &dyn WorkflowExecutions,
    input: &OpenRunInput,
) -> Result<RunOpened, StepError> {
    let request = ExportRequest::parse(&input.execution_input)?;
    let token =
        match lease::acquire(ports.lease, executions, ports.clock, EXPORT.name, EXPORT.ttl_ms, &input.execution_arn)
            .await?
        {
            Acquired::Taken(token) => token,
            Acquired::HeldBy { owner, .. } => {
                return Ok(RunOpened {
                    proceed: false,
                    message: format!(
                        "Another export ({owner}) holds the export lease; this run stops without touching the backup. \
                     (A schedule may deliver its event twice; only one run does the work.)"
                    ),
                    run: None,
                    running_execution_arn: Some(owner),
                });
            }
        };
    match open(ports, input, request, token.clone()).await {
        Ok(run) => Ok(RunOpened {
            proceed: true,
            message: "The export lease is held by this run.".into(),
            run: Some(run),
            running_execution_arn: None,
        }),
        Err(e) => {
            // Nothing else knows this run's lease yet: give it back so the next run need not wait.
            let _ = lease::release(ports.lease, &token).await;
            Err(e)
        }
    }
}

async fn open(
    ports: ExportPorts<'_>,
    input: &OpenRunInput,
    request: ExportRequest,
    lease: super::LeaseToken,
) -> Result<ExportRun, StepError> {
    let pool_id = ports.pool.pool_id().to_owned();
    let now = ports.clock.now_ms();
    let description = ports.pool.describe().await.map_err(|e| match e {
        PortError::NotFound(detail) => StepError::Refused {
            name: "UserPoolNotFound",
            message: format!("user pool {pool_id} does not exist ({detail}); nothing was written to the backup"),
        },
        other => {
            StepError::Port { context: format!("reading the configuration of user pool {pool_id}"), source: other }
        }
    })?;
    let run = ExportRun {
        run_id: input.execution_arn.clone(),
        pool_id,
        export_timestamp: now,
        username_attributes: description.snapshot.username_attributes.clone(),
        mfa_configuration: description.snapshot.mfa_configuration.clone(),
        lease,
        estimated_users_at_start: description.estimated_users,
        allow_mass_removal: request.allow_mass_removal,
        allow_count_mismatch: request.allow_count_mismatch,
    };
    let item =
        BackupItem::PoolSnapshot(PoolSnapshotItem { confirmed: run.confirmation(now), pool: description.snapshot });
    write_page(ports, &run, &SeenBuffer::default(), vec![item], "the pool snapshot").await?;
    tracing::info!(pool_id = %run.pool_id, export_timestamp = run.export_timestamp, fence = run.lease.fence, "export run opened");
    Ok(run)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::{
        FixedClock, InMemoryLease, InMemoryObjects, InMemoryStore, InMemoryUserPool, ScriptedExecutions,
    };
    use crate::ports::ExecutionStatus;
    use crate::schema::{ItemKey, MfaConfiguration};

    #[tokio::test]
    async fn mfa_pools_with_two_username_attributes_are_snapshotted_not_refused() {
        let pool = InMemoryUserPool::new("us-east-1_mfa");
        pool.configure(|s| {
            s.mfa_configuration = MfaConfiguration::On;
            s.username_attributes = vec!["email".into(), "phone_number".into()];
        });
        let (store, objects, lease, clock) =
            (InMemoryStore::default(), InMemoryObjects::default(), InMemoryLease::default(), FixedClock::at(42));
        let ports = ExportPorts { pool: &pool, store: &store, objects: &objects, lease: &lease, clock: &clock };
        let input = OpenRunInput {
            execution_arn: "arn:exec".into(),
            execution_input: serde_json::json!({"AllowMassRemoval": true}),
        };
        let opened = run(ports, &ScriptedExecutions::default(), &input).await.unwrap();
        let run = opened.run.unwrap();
        assert_eq!(run.mfa_configuration, MfaConfiguration::On);
        assert!(run.allow_mass_removal);
        let item = store.item(&ItemKey::pool_snapshot()).and_then(BackupItem::into_pool_snapshot).unwrap();
        assert_eq!(item.pool.username_attributes, vec!["email", "phone_number"]);
        assert_eq!(item.confirmed.last_confirmed_at, 42);
    }

    #[tokio::test]
    async fn a_second_run_writes_nothing_while_the_first_holds_the_lease_and_bad_input_is_refused() {
        let pool = InMemoryUserPool::new("us-east-1_p");
        let (store, objects, lease, clock) =
            (InMemoryStore::default(), InMemoryObjects::default(), InMemoryLease::default(), FixedClock::at(1));
        let ports = ExportPorts { pool: &pool, store: &store, objects: &objects, lease: &lease, clock: &clock };
        let execs = ScriptedExecutions::default();
        execs.set("first", ExecutionStatus::Running);
        let input = |arn: &str| OpenRunInput { execution_arn: arn.into(), execution_input: serde_json::json!({}) };
        assert!(run(ports, &execs, &input("first")).await.unwrap().proceed);
        let before = store.len();
        let second = run(ports, &execs, &input("second")).await.unwrap();
        assert!(!second.proceed);
        assert_eq!(second.running_execution_arn.as_deref(), Some("first"));
        assert_eq!(store.len(), before, "nothing written");

        let typo = OpenRunInput {
            execution_arn: "third".into(),
            execution_input: serde_json::json!({"AllowMassRemovel": true}),
        };
        let err = run(ports, &execs, &typo).await.unwrap_err();
        assert!(err.to_string().contains("unknown field") && err.to_string().contains("AllowMassRemoval"), "{err}");
        // Serde reads structs from arrays: `[true]` must not mean AllowMassRemoval.
        for not_an_object in [serde_json::json!([true]), serde_json::json!("x"), serde_json::json!(42)] {
            let odd = OpenRunInput { execution_arn: "fourth".into(), execution_input: not_an_object };
            let err = run(ports, &execs, &odd).await.unwrap_err();
            assert_eq!(err.error_name(), "InvalidInput", "{err}");
        }
    }

    #[tokio::test]
    async fn a_deleted_pool_is_named_and_the_lease_given_back() {
        let pool = InMemoryUserPool::new("us-east-1_gone");
        pool.fail_with(PortError::NotFound("User pool us-east-1_gone does not exist.".into()));
        let (store, objects, lease, clock) =
            (InMemoryStore::default(), InMemoryObjects::default(), InMemoryLease::default(), FixedClock::at(1));
        let ports = ExportPorts { pool: &pool, store: &store, objects: &objects, lease: &lease, clock: &clock };
        let input = OpenRunInput { execution_arn: "a".into(), execution_input: serde_json::Value::Null };
        let err = run(ports, &ScriptedExecutions::default(), &input).await.unwrap_err();
        assert_eq!(err.error_name(), "UserPoolNotFound");
        assert!(crate::ports::LeaseStore::read(&lease, "EXPORT").await.unwrap().is_none());
    }
}
