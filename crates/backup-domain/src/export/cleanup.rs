//! Clean-up: removes the items the completeness check found gone from the pool.
//!
//! It only ever runs after every other export step and the completeness check succeeded (the state
//! machine has no other path to it). Each delete is conditional: an item read from Cognito after the run
//! started (by change capture, say) is kept. The list it works from stays in the object store for a week
//! (`exports/<run>/stale/`), so what a failed clean-up removed can always be told exactly.

use futures::StreamExt;
use serde::{Deserialize, Serialize};

use super::completeness::{Completeness, StaleEntry, stale_part_key};
use super::{ExportPorts, ExportRun, StepError, lease};
use crate::Deadline;
use crate::schema::{Capacity, ItemType};

/// Conditional deletes in flight.
const CONCURRENT_DELETES: usize = 16;

#[derive(Debug, Deserialize)]
pub struct CleanupInput {
    pub run: ExportRun,
    pub completeness: Completeness,
    #[serde(default)]
    pub cleanup: Option<CleanupCursor>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CleanupCursor {
    pub done: bool,
    /// Parts of the removal list finished.
    pub parts_done: u32,
    pub removed: RemovedCounts,
    pub capacity: Capacity,
    pub invocations: u32,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RemovedCounts {
    pub users: u64,
    pub groups: u64,
    pub memberships: u64,
    pub tombstones: u64,
}

impl RemovedCounts {
    fn add(&mut self, item_type: ItemType) {
        match item_type {
            ItemType::User => self.users += 1,
            ItemType::Group => self.groups += 1,
            ItemType::Membership => self.memberships += 1,
            _ => self.tombstones += 1,
        }
    }

    pub fn total(&self) -> u64 {
        self.users + self.groups + self.memberships + self.tombstones
    }
}

pub async fn run(ports: ExportPorts<'_>, input: CleanupInput, deadline: Deadline) -> Result<CleanupCursor, StepError> {
    let run = &input.run;
    let mut cursor = input.cleanup.unwrap_or_default();
    cursor.invocations += 1;
    let mut first = true;
    while cursor.parts_done < input.completeness.stale_parts && (first || !deadline.expired()) {
        first = false;
        lease::ensure(ports.lease, ports.clock, &run.lease).await?;
        let key = stale_part_key(run, cursor.parts_done);
        let body = ports
            .objects
            .get(&key)
            .await
            .map_err(StepError::port("reading the list of items to remove"))?
            .ok_or_else(|| StepError::InvalidInput(format!("{key} is missing: the completeness check wrote it")))?;
        let entries: Vec<StaleEntry> = String::from_utf8_lossy(&body)
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(serde_json::from_str)
            .collect::<Result<_, _>>()
            .map_err(|e| StepError::InvalidInput(format!("{key} is malformed: {e}")))?;
        let mut deletes = futures::stream::iter(entries)
            .map(|entry| async move {
                let deleted = ports.store.delete_if_confirmed_before(&entry.key, run.export_timestamp).await?;
                Ok::<_, crate::ports::PortError>((entry.item_type, deleted))
            })
            .buffer_unordered(CONCURRENT_DELETES);
        while let Some(result) = deletes.next().await {
            let (item_type, deleted) =
                result.map_err(StepError::port("removing a stale item from the backup table"))?;
            if deleted {
                cursor.removed.add(item_type);
            }
        }
        cursor.parts_done += 1;
    }
    cursor.capacity += ports.store.take_consumed();
    cursor.done = cursor.parts_done >= input.completeness.stale_parts;
    tracing::info!(removed = ?cursor.removed, done = cursor.done, "backup clean-up");
    Ok(cursor)
}
