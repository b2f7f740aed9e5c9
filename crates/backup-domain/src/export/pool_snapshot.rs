//! Pool snapshot: saves the pool's configuration and opens the run.
//!
//! Pools with MFA or with both email and phone as username attributes are exported like any other: the
//! snapshot records those settings so a restore can check or recreate a matching target pool.

use serde::Deserialize;

use super::{ExportRun, StepError};
use crate::ports::{BackupStore, UserPool};
use crate::schema::{BackupItem, Confirmation, PoolSnapshotItem};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SnapshotInput {
    pub execution_arn: String,
    /// The execution's input; only `AllowMassRemoval` is read from it.
    #[serde(default)]
    pub execution_input: serde_json::Value,
}

pub async fn run(
    pool: &dyn UserPool,
    store: &dyn BackupStore,
    input: &SnapshotInput,
    now_ms: i64,
) -> Result<ExportRun, StepError> {
    let snapshot = pool
        .describe()
        .await
        .map_err(StepError::port(format!("reading the configuration of user pool {}", pool.pool_id())))?;
    let run = ExportRun {
        run_id: input.execution_arn.clone(),
        pool_id: pool.pool_id().to_owned(),
        export_timestamp: now_ms,
        username_attributes: snapshot.username_attributes.clone(),
        mfa_configuration: snapshot.mfa_configuration.clone(),
        allow_mass_removal: input.execution_input.get("AllowMassRemoval").and_then(|v| v.as_bool()).unwrap_or(false),
    };
    let item = BackupItem::PoolSnapshot(PoolSnapshotItem {
        confirmed: Confirmation::new(run.export_timestamp, &run.run_id),
        pool: snapshot,
    });
    store
        .put_all(&[item])
        .await
        .map_err(StepError::port("saving the pool snapshot to the backup table"))?;
    tracing::info!(pool_id = %run.pool_id, export_timestamp = run.export_timestamp, "export run opened");
    Ok(run)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::{InMemoryStore, InMemoryUserPool};
    use crate::schema::ItemKey;

    #[tokio::test]
    async fn mfa_pools_with_two_username_attributes_are_snapshotted_not_refused() {
        let pool = InMemoryUserPool::new("us-east-1_mfa");
        pool.configure(|s| {
            s.mfa_configuration = "ON".into();
            s.username_attributes = vec!["email".into(), "phone_number".into()];
        });
        let store = InMemoryStore::default();
        let input = SnapshotInput {
            execution_arn: "arn:exec".into(),
            execution_input: serde_json::json!({"AllowMassRemoval": true}),
        };
        let run = run(&pool, &store, &input, 42).await.unwrap();
        assert_eq!(run.mfa_configuration, "ON");
        assert!(run.allow_mass_removal);
        let Some(BackupItem::PoolSnapshot(item)) = store.item(&ItemKey::pool_snapshot()) else {
            panic!("snapshot not stored")
        };
        assert_eq!(item.pool.username_attributes, vec!["email", "phone_number"]);
        assert_eq!(item.confirmed.last_confirmed_at, 42);
    }
}
