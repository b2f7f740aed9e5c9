//! Continuous protection: changes to the pool reach the backup within a minute, between exports.
//!
//! CloudTrail records each Cognito call; an EventBridge rule sends the pool's events to an SQS queue; the
//! `capture-changes` function takes them in batches. For each event it learns *what* changed
//! ([`event`]), reads that user, group or membership again and writes its current state
//! ([`apply`]), with the export's schema and conditional writes, so duplicates, reordering and a
//! concurrent export are harmless. Changes an event does not identify (CSV import jobs, sign-ups whose
//! username CloudTrail hides and whose sub it does not give) wait for the next export.

pub mod apply;
pub mod event;

use std::collections::{BTreeMap, BTreeSet};

use futures::StreamExt;
use serde::{Deserialize, Serialize};

use crate::export::ExportPorts;
use crate::schema::{BackupItem, ItemKey};
use crate::step::StepError;
use apply::{Applied, Apply};
use event::Change;

/// Changes read again at once (each is one or two Cognito reads).
const CONCURRENT_CHANGES: usize = 4;
/// Where the capture keeps its latest progress, for `cognito-backup status`.
pub const STATUS_KEY: &str = "capture/status.json";

/// One SQS message.
#[derive(Debug, Clone)]
pub struct Message {
    pub id: String,
    pub body: String,
}

/// What a batch did; `failed` are the messages to deliver again.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchOutcome {
    pub failed: Vec<String>,
    pub written: u64,
    pub deleted: u64,
    pub newer_kept: u64,
    pub unidentified: u64,
    pub not_backed_up: u64,
    pub other_pool: u64,
    pub malformed: u64,
    /// From the oldest call of the batch to its change in the backup.
    pub max_lag_ms: Option<i64>,
}

/// The capture's latest progress (in the workflow bucket).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CaptureStatus {
    pub last_batch_at_ms: i64,
    pub last_event_at_ms: Option<i64>,
    pub last_lag_ms: Option<i64>,
    pub last_batch: u64,
}

/// Handles one batch of the queue for `pool_id`.
pub async fn handle_batch(
    ports: ExportPorts<'_>,
    pool_id: &str,
    messages: &[Message],
) -> Result<BatchOutcome, StepError> {
    let mut outcome = BatchOutcome::default();
    // Each distinct change once, with the messages that asked for it.
    let mut changes: BTreeMap<Change, (Vec<String>, String)> = BTreeMap::new();
    let mut oldest_event: Option<i64> = None;
    for message in messages {
        let parsed = serde_json::from_str(&message.body).ok().and_then(|v| event::parse(&v));
        let Some(event) = parsed else {
            // Not an event this function understands: delivered again, then kept in the dead-letter queue
            // (its alarm tells the operator).
            tracing::error!(message_id = %message.id, "a message is not a CloudTrail event of Cognito");
            outcome.malformed += 1;
            outcome.failed.push(message.id.clone());
            continue;
        };
        if event.pool_id.as_deref() != Some(pool_id) {
            outcome.other_pool += 1;
            continue;
        }
        oldest_event = match (oldest_event, event.event_time_ms) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let entry = changes.entry(event.change).or_insert_with(|| (Vec::new(), event.event_name.clone()));
        entry.0.push(message.id.clone());
    }

    let username_attributes = username_attributes(ports).await?;
    let results: Vec<_> = futures::stream::iter(changes.iter())
        .map(|(change, (ids, event_name))| {
            let apply = Apply { ports, username_attributes: &username_attributes, event_name };
            async move { (apply.change(change).await, ids) }
        })
        .buffer_unordered(CONCURRENT_CHANGES)
        .collect()
        .await;
    let mut failed: BTreeSet<String> = outcome.failed.drain(..).collect();
    for (result, ids) in results {
        match result {
            Ok(Applied::Written) => outcome.written += 1,
            Ok(Applied::Deleted) => outcome.deleted += 1,
            Ok(Applied::NewerKept) => outcome.newer_kept += 1,
            Ok(Applied::Unidentified) => outcome.unidentified += 1,
            Ok(Applied::NotBackedUp) => outcome.not_backed_up += 1,
            Err(e) => {
                // Throttled or failing: these messages come back after the visibility timeout.
                tracing::warn!(error_type = e.error_name(), error = %e, "a change could not be captured yet");
                failed.extend(ids.iter().cloned());
            }
        }
    }
    outcome.failed = failed.into_iter().collect();
    let now = ports.clock.now_ms();
    outcome.max_lag_ms = oldest_event.map(|t| (now - t).max(0));
    save_status(ports, &outcome, oldest_event, now, messages.len() as u64).await;
    tracing::info!(
        messages = messages.len(),
        written = outcome.written,
        deleted = outcome.deleted,
        unidentified = outcome.unidentified,
        failed = outcome.failed.len(),
        lag_ms = outcome.max_lag_ms,
        "changes captured"
    );
    Ok(outcome)
}

/// The pool's sign-in attributes (they decide each user's pseudo-username), from the backup's snapshot.
async fn username_attributes(ports: ExportPorts<'_>) -> Result<Vec<String>, StepError> {
    let stored =
        ports.store.get(&ItemKey::pool_snapshot()).await.map_err(StepError::port("reading the pool snapshot"))?;
    if let Some(BackupItem::PoolSnapshot(p)) = stored {
        return Ok(p.pool.username_attributes);
    }
    let description = ports
        .pool
        .describe()
        .await
        .map_err(|source| StepError::Port { context: "reading the pool's configuration".into(), source })?;
    Ok(description.snapshot.username_attributes)
}

/// Best effort: the status only informs `cognito-backup status`.
async fn save_status(ports: ExportPorts<'_>, outcome: &BatchOutcome, oldest_event: Option<i64>, now: i64, batch: u64) {
    let status = CaptureStatus {
        last_batch_at_ms: now,
        last_event_at_ms: oldest_event,
        last_lag_ms: outcome.max_lag_ms,
        last_batch: batch,
    };
    if let Ok(body) = serde_json::to_vec(&status)
        && let Err(e) = ports.objects.put(STATUS_KEY, "application/json", body).await
    {
        tracing::warn!(error = %e, "the capture status could not be saved");
    }
}

#[cfg(test)]
mod tests;
