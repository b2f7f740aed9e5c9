//! Completion: the marker item with the run's time, counts and schema version, and the notification.

use serde::Deserialize;

use super::cleanup::CleanupCursor;
use super::groups::GroupsCursor;
use super::memberships::MembershipsCursor;
use super::users::UsersCursor;
use super::{ExportRun, StepError};
use crate::ports::{BackupStore, Notifier};
use crate::schema::{BackupItem, ExportCounts, ExportMarkerItem, SCHEMA_VERSION};
use crate::settings::NotificationPreference;

#[derive(Debug, Deserialize)]
pub struct CompletionInput {
    pub run: ExportRun,
    pub users: UsersCursor,
    pub groups: GroupsCursor,
    pub memberships: MembershipsCursor,
    pub cleanup: CleanupCursor,
}

pub async fn run(
    store: &dyn BackupStore,
    notifier: &dyn Notifier,
    preference: NotificationPreference,
    input: CompletionInput,
    now_ms: i64,
) -> Result<ExportMarkerItem, StepError> {
    let CompletionInput { run, users, groups, memberships, cleanup } = input;
    let marker = ExportMarkerItem {
        schema_version: SCHEMA_VERSION,
        export_run_id: run.run_id.clone(),
        pool_id: run.pool_id.clone(),
        export_timestamp: run.export_timestamp,
        finished_at: now_ms,
        duration_seconds: (now_ms - run.export_timestamp).max(0) as f64 / 1000.0,
        counts: ExportCounts {
            users: users.counts.users,
            federated_users: users.counts.federated,
            disabled_users: users.counts.disabled,
            users_without_sub: users.counts.without_sub + memberships.members_without_sub,
            groups: groups.groups,
            memberships: memberships.memberships,
            removed_users: cleanup.removed.users,
            removed_groups: cleanup.removed.groups,
            removed_memberships: cleanup.removed.memberships,
        },
        unresolved_pseudo_usernames: users.unresolved_pseudo_usernames,
    };
    store
        .put_all(&[BackupItem::ExportMarker(marker.clone())])
        .await
        .map_err(StepError::port("writing the export marker to the backup table"))?;
    if preference == NotificationPreference::InfoAndErrors {
        notifier
            .publish(&format!("Cognito backup of {} succeeded", run.pool_id), &report(&marker))
            .await
            .map_err(StepError::port("publishing the export report"))?;
    }
    tracing::info!(counts = ?marker.counts, duration_seconds = marker.duration_seconds, "export completed");
    Ok(marker)
}

/// The run report, by counts and subs only.
pub fn report(m: &ExportMarkerItem) -> String {
    let c = &m.counts;
    let mut text = format!(
        "The ExportWorkflow backed up user pool {pool} in {secs:.1} s.\n\n\
         Users: {users} ({disabled} disabled, {federated} federated)\n\
         Groups: {groups}\nMemberships: {memberships}\n\
         Removed from the backup (no longer in the pool): {ru} users, {rg} groups, {rm} memberships\n\n\
         Execution: {run}\nExport timestamp: {ts}\n",
        pool = m.pool_id,
        secs = m.duration_seconds,
        users = c.users,
        disabled = c.disabled_users,
        federated = c.federated_users,
        groups = c.groups,
        memberships = c.memberships,
        ru = c.removed_users,
        rg = c.removed_groups,
        rm = c.removed_memberships,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::test_support;
    use crate::memory::{InMemoryStore, RecordingNotifier};
    use crate::schema::ItemKey;

    fn input() -> CompletionInput {
        let mut users = UsersCursor::default();
        users.counts.users = 3;
        users.unresolved_pseudo_usernames.add("sub-9");
        CompletionInput {
            run: test_support::run(&["email"], 1_000),
            users,
            groups: GroupsCursor { groups: 2, ..Default::default() },
            memberships: MembershipsCursor { memberships: 4, ..Default::default() },
            cleanup: CleanupCursor::default(),
        }
    }

    #[tokio::test]
    async fn the_marker_is_written_and_the_report_published_by_preference() {
        let store = InMemoryStore::default();
        let notifier = RecordingNotifier::default();
        let marker = run(&store, &notifier, NotificationPreference::InfoAndErrors, input(), 3_500).await.unwrap();
        assert_eq!(marker.duration_seconds, 2.5);
        assert!(matches!(store.item(&ItemKey::export_marker()), Some(BackupItem::ExportMarker(m)) if m == marker));
        let sent = notifier.messages();
        assert_eq!(sent.len(), 1);
        assert!(sent[0].1.contains("Users: 3") && sent[0].1.contains("sub-9"), "{}", sent[0].1);

        let quiet = RecordingNotifier::default();
        run(&store, &quiet, NotificationPreference::ErrorsOnly, input(), 3_500).await.unwrap();
        assert!(quiet.messages().is_empty());
    }
}
