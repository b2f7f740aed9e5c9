//! The capture on in-memory adapters: each change kind reaches the backup, and duplicates, other pools,
//! malformed messages, failures and a racing export are handled.

use serde_json::{Value, json};

use super::{Message, handle_batch};
use crate::export::test_support::Harness;
use crate::ports::{BackupStore, PortError};
use crate::schema::{BackupItem, ItemKey, ItemType};

const POOL: &str = "us-east-1_test";

fn event(name: &str, request: Value, sub: Option<&str>) -> Value {
    let mut request = request;
    request["userPoolId"] = POOL.into();
    json!({"source": "aws.cognito-idp", "detail-type": "AWS API Call via CloudTrail",
        "detail": {"eventName": name, "eventTime": "2026-11-27T09:00:00Z", "requestParameters": request,
            "additionalEventData": sub.map(|s| json!({"sub": s})).unwrap_or(json!({}))}})
}

fn messages(events: &[Value]) -> Vec<Message> {
    events.iter().enumerate().map(|(i, e)| Message { id: format!("m{i}"), body: e.to_string() }).collect()
}

async fn capture(h: &Harness, events: &[Value]) -> super::BatchOutcome {
    h.clock.advance(1_000);
    handle_batch(h.ports(), POOL, &messages(events)).await.unwrap()
}

fn item(h: &Harness, key: &ItemKey) -> Option<BackupItem> {
    h.store.item(key)
}

fn sub_of(h: &Harness, username: &str) -> String {
    h.pool.users().into_iter().find(|u| u.username == username).and_then(|u| u.sub().map(str::to_owned)).unwrap()
}

#[tokio::test]
async fn each_kind_of_change_reaches_the_backup() {
    let h = Harness::new(10);
    h.pool.add_users(3, |_, _| {});
    h.pool.add_groups(1);
    let ada = sub_of(&h, "user-0");

    // Created (or updated, disabled, enabled: the same re-read).
    let out = capture(&h, &[event("AdminCreateUser", json!({"username": "user-0"}), Some(&ada))]).await;
    assert_eq!((out.written, out.failed.len()), (1, 0));
    assert!(matches!(item(&h, &ItemKey::user(&ada)), Some(BackupItem::User(u)) if u.enabled));

    h.pool.add_member("group-0000", "user-0");
    let added = event("AdminAddUserToGroup", json!({"username": "user-0", "groupName": "group-0000"}), Some(&ada));
    capture(&h, &[added]).await;
    assert!(matches!(item(&h, &ItemKey::membership("group-0000", &ada)), Some(BackupItem::Membership(_))));

    h.pool.remove_group("group-0000");
    h.pool.add_groups(1);
    let removed =
        event("AdminRemoveUserFromGroup", json!({"username": "user-0", "groupName": "group-0000"}), Some(&ada));
    capture(&h, &[removed]).await;
    assert_eq!(item(&h, &ItemKey::membership("group-0000", &ada)).map(|i| i.item_type()), Some(ItemType::Tombstone));

    h.pool.remove_user("user-0");
    let out = capture(&h, &[event("AdminDeleteUser", json!({"username": "user-0"}), Some(&ada))]).await;
    assert_eq!(out.deleted, 1);
    assert_eq!(item(&h, &ItemKey::user(&ada)).map(|i| i.item_type()), Some(ItemType::Tombstone));

    capture(&h, &[event("CreateGroup", json!({"groupName": "group-0000"}), None)]).await;
    assert!(matches!(item(&h, &ItemKey::group("group-0000")), Some(BackupItem::Group(_))));
}

#[tokio::test]
async fn a_deleted_group_takes_its_memberships_with_it() {
    let h = Harness::new(10);
    h.pool.add_users(2, |_, _| {});
    h.pool.add_groups(1);
    for u in ["user-0", "user-1"] {
        h.pool.add_member("group-0000", u);
        let sub = sub_of(&h, u);
        let e = event("AdminAddUserToGroup", json!({"username": u, "groupName": "group-0000"}), Some(&sub));
        capture(&h, &[e]).await;
    }
    h.pool.remove_group("group-0000");
    let out = capture(&h, &[event("DeleteGroup", json!({"groupName": "group-0000"}), None)]).await;
    assert_eq!(out.deleted, 1);
    let tombstones = h.store.items().into_iter().filter(|i| i.item_type() == ItemType::Tombstone).count();
    assert_eq!(tombstones, 3, "the group and both memberships");
}

#[tokio::test]
async fn duplicates_other_pools_and_malformed_messages() {
    let h = Harness::new(10);
    h.pool.add_users(1, |_, _| {});
    let sub = sub_of(&h, "user-0");
    let e = event("AdminUpdateUserAttributes", json!({"username": "user-0"}), Some(&sub));
    let mut elsewhere = e.clone();
    elsewhere["detail"]["requestParameters"]["userPoolId"] = "us-east-1_other".into();
    let mut all = messages(&[e.clone(), e.clone(), elsewhere]);
    all.push(Message { id: "junk".into(), body: "{not json".into() });
    h.clock.advance(1_000);
    let out = handle_batch(h.ports(), POOL, &all).await.unwrap();
    assert_eq!(out.written, 1, "two events of one user: read and written once");
    assert_eq!(out.other_pool, 1);
    assert_eq!((out.malformed, out.failed.clone()), (1, vec!["junk".to_string()]), "kept for the dead-letter queue");
    assert_eq!(h.pool.calls("get_user"), 1);
    let status: super::CaptureStatus = serde_json::from_slice(&h.objects.objects()[super::STATUS_KEY]).unwrap();
    assert_eq!(status.last_batch, 4);
}

#[tokio::test]
async fn a_failing_read_returns_the_messages_and_an_unidentified_change_waits_for_the_export() {
    let h = Harness::new(10);
    h.pool.add_users(1, |_, _| {});
    let sub = sub_of(&h, "user-0");
    h.pool.fail_next("get_user", PortError::Throttled("Too many requests".into()), 1);
    let job = event("StartUserImportJob", json!({"jobId": "j"}), None);
    let out = capture(&h, &[event("AdminDisableUser", json!({"username": "user-0"}), Some(&sub)), job]).await;
    assert_eq!(out.failed, vec!["m0".to_string()]);
    assert_eq!(out.unidentified, 1);
    assert!(item(&h, &ItemKey::user(&sub)).is_none());
}

#[tokio::test]
async fn an_export_that_listed_a_user_before_its_deletion_cannot_bring_it_back() {
    let h = Harness::new(10);
    h.pool.add_users(1, |_, _| {});
    let sub = sub_of(&h, "user-0");
    // The export reads the user now…
    let listed = h.pool.users()[0].clone();
    let early = crate::schema::Confirmation::new(crate::Clock::now_ms(&h.clock), "export");
    // …the user is deleted and the capture records it…
    h.pool.remove_user("user-0");
    capture(&h, &[event("AdminDeleteUser", json!({"username": "user-0"}), Some(&sub))]).await;
    // …then the export writes what it read earlier.
    let stale = crate::export::users::backup_user(&listed, None, &[], early).unwrap();
    let outcome = h.store.put_if_newer(&[BackupItem::User(stale)]).await.unwrap();
    assert_eq!(outcome.newer_kept, 1);
    assert_eq!(item(&h, &ItemKey::user(&sub)).map(|i| i.item_type()), Some(ItemType::Tombstone));
}

#[tokio::test]
async fn a_captured_deletion_keeps_the_user_for_a_single_user_restore() {
    let h = Harness::new(10);
    h.pool.add_users(2, |_, _| {});
    let sub = sub_of(&h, "user-1");
    capture(&h, &[event("AdminCreateUser", json!({"username": "user-1"}), Some(&sub))]).await;
    h.pool.remove_user("user-1");
    capture(&h, &[event("AdminDeleteUser", json!({"username": "user-1"}), Some(&sub))]).await;
    let Some(BackupItem::Tombstone(t)) = item(&h, &ItemKey::user(&sub)) else { panic!("a tombstone") };
    assert_eq!(t.last_user.as_ref().map(|u| u.username.as_str()), Some("user-1"));
    let selector = crate::import::single_user::UserSelector::Username("user-1".into());
    let found = crate::import::single_user::find_user(&h.store, &selector).await.unwrap();
    assert_eq!(found.sub, sub, "restore-user finds it in the tombstone");
}

#[tokio::test]
async fn a_deleted_pool_is_not_taken_for_deleted_groups_or_users() {
    let h = Harness::new(10);
    h.pool.add_users(1, |_, _| {});
    h.pool.add_groups(1);
    let sub = sub_of(&h, "user-0");
    // The pool snapshot in the backup (as after an export) names the pool's sign-in attributes.
    capture(&h, &[event("UpdateUserPool", json!({}), None)]).await;
    capture(&h, &[event("CreateGroup", json!({"groupName": "group-0000"}), None)]).await;
    h.pool.remove_group("group-0000");
    h.pool.remove_user("user-0");
    h.pool.fail_next("describe", PortError::NotFound("User pool us-east-1_test does not exist.".into()), 2);
    let out = capture(
        &h,
        &[
            event("DeleteGroup", json!({"groupName": "group-0000"}), None),
            event("AdminDeleteUser", json!({"username": "user-0"}), Some(&sub)),
        ],
    )
    .await;
    assert_eq!(out.failed.len(), 2, "both come back (then the dead-letter queue), nothing tombstoned");
    assert!(matches!(item(&h, &ItemKey::group("group-0000")), Some(BackupItem::Group(_))));
    assert!(item(&h, &ItemKey::user(&sub)).is_none());
}
