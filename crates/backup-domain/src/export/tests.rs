//! The export as a whole, through the driver (the state machine's loops) on in-memory adapters: what it
//! keeps, what it writes, what it refuses to remove.

use super::driver::{DriverSettings, Outcome, run_export};
use super::test_support::Harness;
use crate::memory::RecordingNotifier;
use crate::ports::{ExecutionStatus, PortError};
use crate::schema::{BackupItem, ItemKey, ItemType};

async fn export(h: &Harness, settings: DriverSettings) -> Outcome {
    export_with(h, settings, serde_json::json!({})).await
}

async fn export_with(h: &Harness, settings: DriverSettings, input: serde_json::Value) -> Outcome {
    h.clock.advance(60_000);
    let arn = format!("arn:aws:states:us-east-1:1:execution:ExportWorkflow:run-{}", h.clock_ms());
    let (outcome, _) = run_export(h.ports(), &h.executions, &RecordingNotifier::default(), settings, &arn, input).await;
    h.executions.set(&arn, ExecutionStatus::Succeeded);
    outcome
}

fn pool_with_groups(h: &Harness, users: usize, groups: usize) {
    h.pool.add_users(users, |_, _| {});
    h.pool.add_groups(groups);
    for (i, u) in h.pool.users().iter().enumerate() {
        h.pool.add_member(&format!("group-{:04}", i % groups), &u.username);
    }
}

/// UUIDv7-like subs: the first 12 hex digits are a timestamp, so almost all users share a long prefix.
fn uuidv7_sub(i: usize) -> String {
    let ts = 0x0190_0000_0000u64 + (i as u64) * 977_000;
    let rand = (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let hex = format!("{ts:012x}{rand:016x}");
    format!("{}-{}-7{}-c{}-{}", &hex[0..8], &hex[8..12], &hex[12..15], &hex[15..18], &hex[16..28])
}

#[tokio::test]
async fn every_user_group_and_membership_is_exported_once_whatever_the_subs() {
    for subs in ["uuid4", "uuidv7", "odd"] {
        let h = Harness::new(7);
        h.pool.add_users(300, |i, u| {
            let sub = match subs {
                "uuidv7" => uuidv7_sub(i),
                "odd" if i % 50 == 0 => format!("Z{i}-upper"),
                _ => return,
            };
            u.attributes.insert("sub".into(), sub);
            u.enabled = i % 10 != 0;
        });
        h.pool.add_groups(5);
        for (i, u) in h.pool.users().iter().enumerate() {
            h.pool.add_member(&format!("group-{:04}", i % 5), &u.username);
        }
        // No tolerance: the completeness check must notice the odd subs no sample showed, and sweep.
        let settings = DriverSettings {
            tolerance: crate::settings::CountTolerance { share: 0.0, floor: 0 },
            ..Default::default()
        };
        let marker = export(&h, settings).await.marker();
        assert_eq!(marker.counts.users, 300, "{subs}");
        assert_eq!(h.store.count(ItemType::User), 300, "{subs}");
        assert_eq!(marker.counts.memberships, 300);
        assert_eq!(h.store.count(ItemType::Membership), 300);
        for user in h.pool.users() {
            let item = h.store.item(&ItemKey::user(user.sub().unwrap())).and_then(BackupItem::into_user);
            assert_eq!(item.map(|i| i.attributes), Some(user.attributes.clone()), "{subs}");
        }
    }
}

#[tokio::test]
async fn uuidv7_subs_are_split_into_parallel_listings() {
    let h = Harness::new(10);
    h.pool.add_users(2_000, |i, u| {
        u.attributes.insert("sub".into(), uuidv7_sub(i));
    });
    let run = h.open_run().await;
    let mut cursor = None;
    let mut widest = 0;
    loop {
        let input = super::users::UsersInput { run: run.clone(), users: cursor, sweep: false };
        let out =
            super::users::run(h.ports(), input, Default::default(), crate::Deadline::after(std::time::Duration::ZERO))
                .await
                .unwrap();
        widest = widest.max(out.listing.segments.len());
        if out.done {
            assert_eq!(out.counts().users, 2_000);
            break;
        }
        cursor = Some(out);
    }
    assert!(widest >= 8, "the listing reached {widest} parallel segments");
}

#[tokio::test]
async fn an_unchanged_re_export_writes_nothing_but_its_marker_and_a_change_writes_one_item() {
    let h = Harness::new(20);
    pool_with_groups(&h, 400, 8);
    export(&h, DriverSettings::default()).await.marker();
    let before = h.store.writes();
    let marker = export(&h, DriverSettings::default()).await.marker();
    assert_eq!(marker.counts.written_items, 0);
    assert_eq!(h.store.writes() - before, 1, "only the export marker");
    assert_eq!(marker.history.len(), 2);

    let user = &h.pool.users()[3];
    crate::ports::RestoreTarget::update_user_attributes(
        &h.pool,
        &user.username,
        &[("custom:tier".to_string(), "gold".to_string())].into(),
    )
    .await
    .unwrap();
    let marker = export(&h, DriverSettings::default()).await.marker();
    assert_eq!(marker.counts.written_items, 1);
}

#[tokio::test]
async fn deletions_are_removed_exactly_and_a_failed_run_removes_nothing() {
    let h = Harness::new(20);
    pool_with_groups(&h, 200, 4);
    export(&h, DriverSettings::default()).await.marker();
    let gone = h.pool.users()[5].clone();
    h.pool.remove_user(&gone.username);
    h.pool.remove_group("group-0003");

    h.pool.fail_next("list_users_in_group", PortError::AccessDenied("not authorized".into()), 1);
    let failed = export(&h, DriverSettings::default()).await;
    assert_eq!(failed.error().map(|e| e.error_name()), Some("AccessDenied"));
    assert!(h.store.item(&ItemKey::user(gone.sub().unwrap())).is_some(), "a failed run removes nothing");

    let marker = export(&h, DriverSettings::default()).await.marker();
    assert_eq!((marker.counts.removed_users, marker.counts.removed_groups), (1, 1));
    assert_eq!(marker.counts.removed_memberships, 51, "the deleted group's 50 and the deleted user's one");
    assert!(h.store.item(&ItemKey::user(gone.sub().unwrap())).is_none());
    assert_eq!(h.store.count(ItemType::User), 199);
}

#[tokio::test]
async fn a_pool_deleted_mid_run_fails_the_run_and_a_deleted_group_is_told_apart() {
    let h = Harness::new(20);
    pool_with_groups(&h, 100, 4);
    export(&h, DriverSettings::default()).await.marker();
    let items = h.store.len();

    // The group vanishes between the memberships step's ListGroups and its ListUsersInGroup: skipped.
    h.pool.remove_group_on_listing("group-0000", 2);
    let marker = export(&h, DriverSettings::default()).await.marker();
    assert_eq!(marker.counts.removed_memberships, 25, "its members are gone with it");
    assert_eq!(marker.counts.removed_groups, 0, "this run listed the group before it was deleted");
    assert_eq!(export(&h, DriverSettings::default()).await.marker().counts.removed_groups, 1);

    // The pool vanishes: every call answers NotFound; the run fails and removes nothing.
    let before = h.store.len();
    assert!(before < items);
    h.pool.fail_with(PortError::NotFound("User pool us-east-1_test does not exist.".into()));
    let failed = export(&h, DriverSettings::default()).await;
    assert_eq!(failed.error().map(|e| e.error_name()), Some("UserPoolNotFound"));
    assert_eq!(h.store.len(), before);
}

#[tokio::test]
async fn a_listing_short_of_the_estimate_sweeps_then_fails_removing_nothing() {
    let h = Harness::new(20);
    pool_with_groups(&h, 120, 2);
    export(&h, DriverSettings::default()).await.marker();
    let before = h.store.len();
    // Cognito says there are 60 more users than any listing finds.
    h.pool.set_estimate_offset(60);
    let failed = export(&h, DriverSettings::default()).await;
    let error = failed.error().expect("refused");
    assert_eq!(error.error_name(), "ExportIncomplete");
    assert!(error.to_string().contains("AllowCountMismatch"), "{error}");
    assert_eq!(h.store.len(), before);
    let marker =
        export_with(&h, DriverSettings::default(), serde_json::json!({"AllowCountMismatch": true})).await.marker();
    assert_eq!(marker.counts.users, 120);
}

#[tokio::test]
async fn users_a_sample_never_showed_are_found_by_the_sweep() {
    let h = Harness::new(60);
    // 240 hex subs, and 30 whose first character is one no first page shows (they sort last).
    h.pool.add_users(270, |i, u| {
        if i >= 240 {
            u.attributes.insert("sub".into(), format!("~{i:05}"));
        }
    });
    let settings =
        DriverSettings { tolerance: crate::settings::CountTolerance { share: 0.0, floor: 0 }, ..Default::default() };
    let marker = export(&h, settings).await.marker();
    assert_eq!(marker.counts.users, 270);
    assert_eq!(h.store.count(ItemType::User), 270);
}

#[tokio::test]
async fn the_removal_guard_refuses_one_big_loss_and_a_series_of_small_ones() {
    let h = Harness::new(60);
    pool_with_groups(&h, 1_000, 10);
    export(&h, DriverSettings::default()).await.marker();
    let users = h.pool.users();
    let guard = crate::settings::RemovalGuard { share: 0.2, floor_users: 10, floor_groups: 1, floor_memberships: 10 };
    let settings = DriverSettings { guard, ..Default::default() };

    // The pool really loses 150 users per run; the estimate agrees, so only the guard can stop it.
    let mut removed = 0;
    let mut refused = None;
    for round in 0..4 {
        for u in &users[round * 150..(round + 1) * 150] {
            h.pool.remove_user(&u.username);
        }
        match export(&h, settings).await {
            Outcome::Completed(m) => removed += m.counts.removed_users,
            other => {
                refused = other.error().map(|e| e.to_string());
                break;
            }
        }
    }
    let refused = refused.expect("the guard stops the series");
    assert!(refused.contains("CleanupRefused") || refused.contains("AllowMassRemoval"), "{refused}");
    assert!(removed <= 200, "at most 20% of the largest recent count went before the refusal: {removed}");

    let marker = export_with(&h, settings, serde_json::json!({"AllowMassRemoval": true})).await.marker();
    assert!(marker.counts.removed_users > 0);
}

#[tokio::test]
async fn a_run_without_the_lease_writes_nothing_and_stops() {
    let h = Harness::new(10);
    pool_with_groups(&h, 50, 2);
    let run = h.open_run().await;
    // Another execution takes the lease over (the first was reported stopped).
    h.executions.set(&run.run_id, ExecutionStatus::Aborted);
    let other = h.open_run().await;
    assert_eq!(other.lease.fence, run.lease.fence + 1);
    let before = h.store.writes();
    let input = super::users::UsersInput { run, users: None, sweep: false };
    let err =
        super::users::run(h.ports(), input, Default::default(), crate::Deadline::after(std::time::Duration::ZERO))
            .await
            .unwrap_err();
    assert_eq!(err.error_name(), "LeaseLost");
    assert_eq!(h.store.writes(), before);
}

#[tokio::test]
async fn an_older_read_never_replaces_a_newer_one() {
    let h = Harness::new(10);
    pool_with_groups(&h, 20, 1);
    export(&h, DriverSettings::default()).await.marker();
    let user = h.pool.users()[0].clone();
    let key = ItemKey::user(user.sub().unwrap());
    // Change capture stored a newer read than any this export will make.
    let mut newer = h.store.item(&key).and_then(BackupItem::into_user).unwrap();
    newer.confirmed.last_confirmed_at = h.clock_ms() + 10_000_000;
    newer.attributes.insert("custom:tier".into(), "from-capture".into());
    crate::ports::BackupStore::put_all(&h.store, &[BackupItem::User(newer.clone())]).await.unwrap();
    export(&h, DriverSettings::default()).await.marker();
    let kept = h.store.item(&key).and_then(BackupItem::into_user).unwrap();
    assert_eq!(kept, newer);
}

#[tokio::test]
async fn an_expired_pagination_token_restarts_the_listing_without_double_counting() {
    let h = Harness::new(10);
    pool_with_groups(&h, 120, 2);
    h.pool.fail_next("list_users", PortError::ExpiredToken("expired".into()), 2);
    let settings = DriverSettings { concurrency: super::users::Concurrency(1), ..Default::default() };
    let marker = export(&h, settings).await.marker();
    assert_eq!(marker.counts.users, 120);
    assert_eq!(h.store.count(ItemType::User), 120);
}

#[tokio::test]
async fn an_unchanged_run_keeps_its_lease_alive_page_by_page() {
    let h = Harness::new(10);
    pool_with_groups(&h, 50, 2);
    export(&h, DriverSettings::default()).await.marker();
    let run = h.open_run().await;
    // Most of the lease's time passes before the first page: an unchanged page still renews it.
    h.clock.advance(crate::lease::EXPORT.ttl_ms * 3 / 4);
    let seen = super::seen::SeenBuffer::default();
    let page: Vec<BackupItem> =
        h.store.items().into_iter().filter(|i| i.item_type() == ItemType::User).take(5).collect();
    let stats = super::writer::write_page(h.ports(), &run, &seen, page, "users").await.unwrap();
    assert_eq!(stats.written, 0, "nothing changed");
    let lease = crate::ports::LeaseStore::read(&h.lease, "EXPORT").await.unwrap().unwrap();
    assert_eq!(lease.expires_at, h.clock_ms() + crate::lease::EXPORT.ttl_ms, "renewed");
}
