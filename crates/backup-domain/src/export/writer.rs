//! Change-only writes: a page of items read from Cognito is compared with what the backup holds, and
//! only new or changed items are written, each only if no newer read of it is stored. An unchanged
//! export therefore writes (and replicates) almost nothing, and never moves an item back in time.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::seen::SeenBuffer;
use super::{ExportPorts, ExportRun, StepError, lease};
use crate::schema::BackupItem;

/// What the writes of a step did, added up across pages and invocations.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WriteStats {
    pub written: u64,
    pub unchanged: u64,
    /// Not written: the backup already holds a newer read (change capture got there first).
    pub newer_kept: u64,
}

impl std::ops::AddAssign for WriteStats {
    fn add_assign(&mut self, o: WriteStats) {
        self.written += o.written;
        self.unchanged += o.unchanged;
        self.newer_kept += o.newer_kept;
    }
}

/// Checks (and renews) the lease, records the page's keys as seen, then writes what changed.
pub async fn write_page(
    ports: ExportPorts<'_>,
    run: &ExportRun,
    seen: &SeenBuffer,
    items: Vec<BackupItem>,
    what: &str,
) -> Result<WriteStats, StepError> {
    if items.is_empty() {
        return Ok(WriteStats::default());
    }
    // Every page, changed or not: an unchanged run writes nothing for many minutes, and its lease must
    // not lapse meanwhile (another run would take it over and this one fail LeaseLost).
    lease::ensure(ports.lease, ports.clock, &run.lease).await?;
    let keys: Vec<_> = items.iter().map(BackupItem::key).collect();
    seen.add(&keys);
    let stored: BTreeMap<_, _> = ports
        .store
        .get_many(&keys)
        .await
        .map_err(StepError::port(format!("reading the backed-up {what} to compare")))?
        .into_iter()
        .map(|i| (i.key(), i))
        .collect();
    let total = items.len() as u64;
    let changed: Vec<BackupItem> =
        items.into_iter().filter(|i| stored.get(&i.key()).is_none_or(|s| !s.same_content(i))).collect();
    let mut stats = WriteStats { unchanged: total - changed.len() as u64, ..Default::default() };
    if changed.is_empty() {
        return Ok(stats);
    }
    let outcome = ports
        .store
        .put_if_newer(&changed)
        .await
        .map_err(StepError::port(format!("writing {what} to the backup table")))?;
    stats.written = outcome.written;
    stats.newer_kept = outcome.newer_kept;
    Ok(stats)
}
