//! Completion: the marker item with the run's time, counts, capacity and the history of recent runs,
//! then the lease is released and the report published.

use serde::Deserialize;

use super::cleanup::CleanupCursor;
use super::completeness::Completeness;
use super::groups::GroupsCursor;
use super::memberships::MembershipsCursor;
use super::users::UsersCursor;
use super::{ExportPorts, ExportRun, StepError, lease};
use crate::ports::Notifier;
use crate::schema::{
    BackupItem, Capacity, ExportCounts, ExportMarkerItem, ItemKey, RunCounts, SCHEMA_VERSION, UserEstimate,
};
use crate::settings::NotificationPreference;

#[derive(Debug, Deserialize)]
pub struct CompletionInput {
    pub run: ExportRun,
    pub users: UsersCursor,
    pub groups: GroupsCursor,
    pub memberships: MembershipsCursor,
    pub completeness: Completeness,
    pub cleanup: CleanupCursor,
}

pub async fn run(
    ports: ExportPorts<'_>,
    notifier: &dyn Notifier,
    preference: NotificationPreference,
    input: CompletionInput,
) -> Result<ExportMarkerItem, StepError> {
    let CompletionInput { run, users, groups, memberships, completeness, cleanup } = input;
    let now = ports.clock.now_ms();
    let previous = ports
        .store
        .get(&ItemKey::export_marker())
        .await
        .map_err(StepError::port("reading the previous export's marker"))?
        .and_then(BackupItem::into_export_marker);
    let seen = completeness.seen;
    let mut history = vec![RunCounts {
        export_run_id: run.run_id.clone(),
        finished_at: now,
        users: seen.users,
        groups: seen.groups,
        memberships: seen.memberships,
    }];
    // A run allowed to remove many items becomes the new reference for the removal guard.
    if !run.allow_mass_removal {
        history.extend(previous.map(|p| p.history).unwrap_or_default().into_iter().take(RunCounts::KEPT - 1));
    }
    let mut capacity = Capacity::default();
    for c in [users.capacity, groups.capacity, memberships.capacity, completeness.capacity, cleanup.capacity] {
        capacity += c;
    }
    let mut marker = ExportMarkerItem {
        schema_version: SCHEMA_VERSION,
        export_run_id: run.run_id.clone(),
        pool_id: run.pool_id.clone(),
        export_timestamp: run.export_timestamp,
        finished_at: now,
        duration_seconds: (now - run.export_timestamp).max(0) as f64 / 1000.0,
        counts: ExportCounts {
            users: seen.users,
            federated_users: users.counts().federated,
            disabled_users: users.counts().disabled,
            users_without_sub: users.counts().without_sub + memberships.members_without_sub,
            groups: seen.groups,
            memberships: seen.memberships,
            removed_users: cleanup.removed.users,
            removed_groups: cleanup.removed.groups,
            removed_memberships: cleanup.removed.memberships,
            written_items: users.writes.written + groups.writes.written + memberships.writes.written,
        },
        estimate: UserEstimate { at_start: run.estimated_users_at_start, at_end: completeness.estimated_users_at_end },
        capacity,
        unresolved_pseudo_usernames: users.listing.counts.unresolved_pseudo_usernames,
        history,
    };
    lease::ensure(ports.lease, ports.clock, &run.lease).await?;
    ports
        .store
        .put_all(&[BackupItem::ExportMarker(marker.clone())])
        .await
        .map_err(StepError::port("writing the export marker to the backup table"))?;
    marker.capacity += ports.store.take_consumed();
    lease::release(ports.lease, &run.lease).await?;
    if preference == NotificationPreference::InfoAndErrors {
        notifier
            .publish(&format!("Cognito backup of {} succeeded", run.pool_id), &report(&marker))
            .await
            .map_err(StepError::port("publishing the export report"))?;
    }
    tracing::info!(counts = ?marker.counts, capacity = ?marker.capacity, duration_seconds = marker.duration_seconds, "export completed");
    Ok(marker)
}

/// The run report, by counts and subs only (never personal data).
pub fn report(m: &ExportMarkerItem) -> String {
    let c = &m.counts;
    let mut text = format!(
        "The ExportWorkflow backed up user pool {pool} in {secs:.1} s.\n\n\
         Users: {users} ({disabled} disabled, {federated} federated); the pool estimated {est_start} at the start and \
         {est_end} at the end\n\
         Groups: {groups}\nMemberships: {memberships}\n\
         Written (new or changed items only): {written}\n\
         Removed from the backup (no longer in the pool): {ru} users, {rg} groups, {rm} memberships\n\
         DynamoDB capacity consumed: {rcu:.1} read units, {wcu:.1} write units\n\n\
         Execution: {run}\nExport timestamp: {ts}\n",
        pool = m.pool_id,
        secs = m.duration_seconds,
        users = c.users,
        disabled = c.disabled_users,
        federated = c.federated_users,
        est_start = m.estimate.at_start,
        est_end = m.estimate.at_end,
        groups = c.groups,
        memberships = c.memberships,
        written = c.written_items,
        ru = c.removed_users,
        rg = c.removed_groups,
        rm = c.removed_memberships,
        rcu = m.capacity.read_units,
        wcu = m.capacity.write_units,
        run = m.export_run_id,
        ts = m.export_timestamp,
    );
    let unresolved = &m.unresolved_pseudo_usernames;
    if unresolved.count > 0 {
        text.push_str(&format!(
            "\n{} users have no value for the pool's username attribute, so a restore cannot name them; \
             they are backed up without a pseudoUsername. Their subs (first {}):\n{}\n",
            unresolved.count,
            unresolved.subs.len(),
            unresolved.subs.join("\n")
        ));
    }
    if c.users_without_sub > 0 {
        text.push_str(&format!("\n{} listed users had no sub and could not be keyed.\n", c.users_without_sub));
    }
    text
}
