//! The ExportWorkflow, run through Step Functions in the local cloud, against pools seeded there.
//! Needs the local cloud (deployment/run-unit-tests.sh starts it) and the built Lambda binaries.

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_sfn::types::ExecutionStatus;
use backup_domain::schema::{BackupItem, ExportMarkerItem, GroupItem, MembershipItem, UserItem};
use local_harness::Result;
use local_harness::checks::assert_succeeded;
use local_harness::local_cloud::Fault;
use local_harness::pools;
use local_harness::scenario::{scenario, scenario_with_mfa};
use local_harness::workflows::keys;

fn users_of(items: &[BackupItem]) -> BTreeMap<String, UserItem> {
    items
        .iter()
        .filter_map(|i| if let BackupItem::User(u) = i { Some((u.sub.clone(), u.clone())) } else { None })
        .collect()
}

fn groups_of(items: &[BackupItem]) -> BTreeMap<String, GroupItem> {
    items
        .iter()
        .filter_map(|i| if let BackupItem::Group(g) = i { Some((g.group_name.clone(), g.clone())) } else { None })
        .collect()
}

fn memberships_of(items: &[BackupItem]) -> Vec<MembershipItem> {
    items.iter().filter_map(|i| if let BackupItem::Membership(m) = i { Some(m.clone()) } else { None }).collect()
}

fn marker_of(items: &[BackupItem]) -> ExportMarkerItem {
    items
        .iter()
        .find_map(|i| if let BackupItem::ExportMarker(m) = i { Some(m.clone()) } else { None })
        .expect("a successful export writes the export marker")
}

#[tokio::test(flavor = "multi_thread")]
async fn every_user_group_and_membership_is_exported_with_all_fields() -> Result<()> {
    let s = scenario("full", &[], pools::nasty_users(130), 65, |_| {}).await?;
    let execution = s.export().await?;
    assert_succeeded(&execution);
    let items = s.items().await?;

    let users = users_of(&items);
    assert_eq!(users.len(), s.users.len());
    for seed in &s.users {
        let item = &users[s.sub(&seed.key)];
        let mut expected = seed.attributes.clone();
        expected.insert("sub".into(), s.sub(&seed.key).to_owned());
        assert_eq!(item.attributes, expected, "attributes of {}", seed.username);
        assert_eq!(item.username, seed.username);
        assert_eq!(item.pseudo_username.as_deref(), Some(seed.username.as_str()));
        assert_eq!((item.enabled, item.status.as_str()), (seed.enabled, seed.status.as_str()));
        assert_eq!(item.federated, seed.status == "EXTERNAL_PROVIDER");
        assert!(item.created_at.is_some() && item.last_modified_at.is_some());
    }

    let groups = groups_of(&items);
    assert_eq!(groups.len(), 65, "more than one page of groups");
    for seed in &s.groups {
        let item = &groups[&seed.name];
        assert_eq!(
            (&item.description, item.precedence, &item.role_arn),
            (&seed.description, seed.precedence, &seed.role_arn)
        );
    }

    let memberships = memberships_of(&items);
    let exported: BTreeSet<(String, String)> =
        memberships.iter().map(|m| (m.group_name.clone(), m.sub.clone())).collect();
    assert_eq!(exported.len(), memberships.len(), "no membership twice");
    assert_eq!(exported, s.expected_memberships());

    let snapshot = items
        .iter()
        .find_map(|i| if let BackupItem::PoolSnapshot(p) = i { Some(p.pool.clone()) } else { None })
        .expect("pool snapshot");
    assert_eq!(snapshot.pool_id, s.pool_id);
    assert!(snapshot.schema.iter().any(|a| a.name == "custom:note" && a.max_length.as_deref() == Some("2048")));

    let marker = marker_of(&items);
    assert_eq!(marker.counts.users, 130);
    assert_eq!(marker.counts.federated_users, 2);
    assert_eq!(marker.counts.disabled_users, s.users.iter().filter(|u| !u.enabled).count() as u64);
    assert_eq!(marker.counts.groups, 65);
    assert_eq!(marker.counts.memberships, exported.len() as u64);
    assert_eq!(execution.output.as_ref().and_then(|o| o["counts"]["users"].as_u64()), Some(130));

    let messages = s.inbox.messages().await?;
    assert!(
        messages.iter().any(|(subject, body)| subject.contains("succeeded") && body.contains("Users: 130")),
        "{messages:?}"
    );
    assert!(!messages.iter().any(|(_, body)| body.contains("@example.com")), "no personal data in notifications");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn an_email_as_username_pool_is_named_by_email_and_unnameable_users_are_reported_by_sub() -> Result<()> {
    let mut users = pools::nasty_users(40);
    users[7].attributes.remove("email");
    let s = scenario("email", &["email"], users, 6, |_| {}).await?;
    assert_succeeded(&s.export().await?);
    let items = s.items().await?;
    let exported = users_of(&items);
    assert_eq!(exported.len(), 40);
    for seed in &s.users {
        let item = &exported[s.sub(&seed.key)];
        assert_eq!(item.username, s.seeded[&seed.key].username, "Cognito's username (the sub) is kept");
        assert_eq!(item.pseudo_username, seed.attributes.get("email").cloned());
    }
    let marker = marker_of(&items);
    assert_eq!(marker.unresolved_pseudo_usernames.count, 1);
    assert_eq!(marker.unresolved_pseudo_usernames.subs, vec![s.sub(&s.users[7].key).to_owned()]);
    let members: BTreeSet<(String, String)> =
        memberships_of(&items).into_iter().map(|m| (m.group_name, m.sub)).collect();
    assert_eq!(members, s.expected_memberships());
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_re_export_removes_exactly_the_deleted_user_group_and_membership() -> Result<()> {
    let s = scenario("reexp", &[], pools::nasty_users(60), 8, |_| {}).await?;
    assert_succeeded(&s.export().await?);
    let before = s.items().await?;

    let gone_user = &s.users[10];
    let gone_group = &s.groups[2];
    let (kept_group, kept_user) = s
        .groups
        .iter()
        .filter(|g| g.name != gone_group.name)
        .find_map(|g| g.members.iter().find(|m| **m != gone_user.key).map(|m| (g, m.clone())))
        .expect("a membership to remove");
    let cognito = s.cloud.cognito();
    cognito.admin_delete_user().user_pool_id(&s.pool_id).username(&gone_user.username).send().await?;
    cognito.delete_group().user_pool_id(&s.pool_id).group_name(&gone_group.name).send().await?;
    cognito
        .admin_remove_user_from_group()
        .user_pool_id(&s.pool_id)
        .group_name(&kept_group.name)
        .username(&s.seeded[&kept_user].username)
        .send()
        .await?;

    let second = s.export().await?;
    assert_succeeded(&second);
    let after = s.items().await?;

    let gone_sub = s.sub(&gone_user.key).to_owned();
    let mut expected_removed: BTreeSet<(String, String)> = BTreeSet::new();
    expected_removed.insert((format!("USER#{gone_sub}"), "PROFILE".into()));
    expected_removed.insert((format!("GROUP#{}", gone_group.name), "GROUP".into()));
    expected_removed.insert((format!("GROUP#{}", kept_group.name), format!("MEMBER#{}", s.sub(&kept_user))));
    for g in &s.groups {
        for m in &g.members {
            if g.name == gone_group.name || *m == gone_user.key {
                expected_removed.insert((format!("GROUP#{}", g.name), format!("MEMBER#{}", s.sub(m))));
            }
        }
    }
    let removed: BTreeSet<_> = keys(&before).difference(&keys(&after)).cloned().collect();
    assert_eq!(removed, expected_removed);
    assert!(keys(&after).is_subset(&keys(&before)), "nothing new appeared");

    let marker = marker_of(&after);
    assert_eq!(marker.counts.removed_users, 1);
    assert_eq!(marker.counts.removed_groups, 1);
    assert_eq!(marker.counts.removed_memberships, expected_removed.len() as u64 - 2);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_that_fails_midway_deletes_nothing_and_says_why() -> Result<()> {
    let s = scenario("fail", &[], pools::nasty_users(30), 4, |_| {}).await?;
    assert_succeeded(&s.export().await?);
    let before = s.items().await?;
    s.inbox.messages().await?;

    let deleted = &s.users[3];
    s.cloud.cognito().admin_delete_user().user_pool_id(&s.pool_id).username(&deleted.username).send().await?;
    let fault = s.cloud.inject_fault(&Fault::error(
        "ListUsersInGroup",
        &s.pool_id,
        "NotAuthorizedException",
        400,
        "User is not authorized to perform: cognito-idp:ListUsersInGroup",
        None,
    ))?;
    let failed = s.export().await;
    s.cloud.clear_fault(&fault)?;
    let failed = failed?;

    assert_eq!(failed.status, ExecutionStatus::Failed);
    assert_eq!(failed.error.as_deref(), Some("ExportFailed"));
    let cause = failed.cause.clone().unwrap_or_default();
    assert!(cause.contains("ListUsersInGroup") && cause.contains("denied"), "{cause}");

    let after = s.items().await?;
    assert_eq!(keys(&after), keys(&before), "a failed run removes nothing, not even the deleted user's items");
    assert!(users_of(&after).contains_key(s.sub(&deleted.key)));

    let messages = s.inbox.messages().await?;
    assert!(
        messages.iter().any(|(subject, body)| subject.contains("failed")
            && body.contains("No backup item was removed")
            && body.contains("AccessDenied")),
        "{messages:?}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_10000_user_pool_exports_across_several_invocations_with_nothing_lost_or_duplicated() -> Result<()> {
    // A 10 s Lambda that stops 7 s early works about 3 s per invocation; at the default quota share
    // ListUsers runs at 15 calls/s, so 10,000 users (170+ pages) need several invocations.
    let s = scenario("big", &[], pools::nasty_users(10_000), 5, |stack| {
        stack.function_timeout = Some(10);
        stack.environment.insert(backup_domain::settings::env::INVOCATION_SAFETY_MARGIN_SECONDS.into(), "7".into());
    })
    .await?;
    let execution = s.export().await?;
    assert_succeeded(&execution);
    assert!(
        execution.times_entered("ExportUsers") >= 2,
        "users took {} invocations",
        execution.times_entered("ExportUsers")
    );

    let items = s.items().await?;
    let exported: BTreeSet<String> = users_of(&items).into_keys().collect();
    let seeded: BTreeSet<String> = s.seeded.values().map(|u| u.sub.clone()).collect();
    assert_eq!(exported, seeded);
    let marker = marker_of(&items);
    assert_eq!(marker.counts.users, 10_000, "each user counted once");
    let memberships = memberships_of(&items);
    assert_eq!(memberships.len() as u64, marker.counts.memberships);
    assert_eq!(
        memberships.iter().map(|m| (m.group_name.clone(), m.sub.clone())).collect::<BTreeSet<_>>(),
        s.expected_memberships()
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn an_mfa_pool_with_email_and_phone_sign_in_is_exported_not_refused() -> Result<()> {
    let mut users = pools::nasty_users(24);
    users[8].attributes.remove("email");
    let s = scenario_with_mfa("mfa", &["email", "phone_number"], "OPTIONAL", users, 3, |_| {}).await?;
    let with_sms = &s.seeded[&s.users[4].key];
    s.cloud
        .cognito()
        .admin_set_user_mfa_preference()
        .user_pool_id(&s.pool_id)
        .username(&with_sms.username)
        .sms_mfa_settings(
            aws_sdk_cognitoidentityprovider::types::SmsMfaSettingsType::builder()
                .enabled(true)
                .preferred_mfa(true)
                .build(),
        )
        .send()
        .await?;

    assert_succeeded(&s.export().await?);
    let items = s.items().await?;
    let snapshot = items
        .iter()
        .find_map(|i| if let BackupItem::PoolSnapshot(p) = i { Some(p.pool.clone()) } else { None })
        .expect("pool snapshot");
    assert_eq!(snapshot.mfa_configuration.as_str(), "OPTIONAL");
    assert_eq!(snapshot.username_attributes, vec!["email", "phone_number"]);

    let exported = users_of(&items);
    assert_eq!(exported.len(), 24);
    let sms_user = &exported[&with_sms.sub];
    assert_eq!(sms_user.pseudo_username, s.users[4].attributes.get("email").cloned(), "email is preferred");
    let mfa = sms_user.mfa_settings.clone().expect("MFA settings of an MFA pool's user");
    assert_eq!((mfa.enabled, mfa.preferred.as_deref()), (vec!["SMS_MFA".to_string()], Some("SMS_MFA")));
    let phone_only = &exported[s.sub(&s.users[8].key)];
    assert_eq!(phone_only.pseudo_username, s.users[8].attributes.get("phone_number").cloned(), "phone is the fallback");
    Ok(())
}
