//! Continuous protection on the local cloud, with no export started: Cognito calls → CloudTrail events
//! (the stack's own trail) → the EventBridge rule → the SQS queue → `capture-changes` → the backup table.

use std::time::{Duration, Instant};

use aws_sdk_cognitoidentityprovider::types::{AttributeType, MessageActionType};
use backup_domain::schema::{BackupItem, ItemKey, ItemType};
use local_harness::Result;
use local_harness::local_cloud::Fault;
use local_harness::pools;
use local_harness::scenario::{Scenario, scenario};
use local_harness::workflows;

/// The recovery point the issue promises.
const WITHIN: Duration = Duration::from_secs(60);

async fn protected(label: &str, users: usize, groups: usize) -> Result<Scenario> {
    scenario(label, &[], pools::nasty_users(users), groups, |stack| stack.config.change_capture = true).await
}

/// The item at `key` now (tombstones included).
async fn item(s: &Scenario, key: &ItemKey) -> Result<Option<BackupItem>> {
    let out = s
        .cloud
        .dynamodb()
        .get_item()
        .table_name(&s.deployment.backup_table_name)
        .key("pk", aws_sdk_dynamodb::types::AttributeValue::S(key.pk.clone()))
        .key("sk", aws_sdk_dynamodb::types::AttributeValue::S(key.sk.clone()))
        .consistent_read(true)
        .send()
        .await?;
    Ok(out.item().cloned().map(backup_aws::from_dynamo_item).transpose()?)
}

/// Waits until `check` holds for the item at `key`; returns how long it took.
async fn reflected(
    s: &Scenario,
    key: &ItemKey,
    what: &str,
    check: impl Fn(Option<&BackupItem>) -> bool,
) -> Result<Duration> {
    let started = Instant::now();
    loop {
        let current = item(s, key).await?;
        if check(current.as_ref()) {
            return Ok(started.elapsed());
        }
        if started.elapsed() > WITHIN {
            return Err(format!("{what} is not in the backup after {WITHIN:?}: {current:?}").into());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn is_tombstone(i: Option<&BackupItem>) -> bool {
    i.is_some_and(|i| i.item_type() == ItemType::Tombstone)
}

fn attribute(name: &str, value: &str) -> AttributeType {
    AttributeType::builder().name(name).value(value).build().expect("name and value")
}

async fn create_user(s: &Scenario, username: &str) -> Result<String> {
    let out = s
        .cloud
        .cognito()
        .admin_create_user()
        .user_pool_id(&s.pool_id)
        .username(username)
        .user_attributes(attribute("email", &format!("{username}@example.com")))
        .message_action(MessageActionType::Suppress)
        .send()
        .await?;
    let sub = out.user().and_then(|u| u.attributes().iter().find(|a| a.name() == "sub")).and_then(|a| a.value());
    Ok(sub.ok_or("AdminCreateUser returned no sub")?.to_owned())
}

#[tokio::test(flavor = "multi_thread")]
async fn each_kind_of_change_is_in_the_backup_within_a_minute() -> Result<()> {
    let s = protected("capture", 5, 1).await?;
    let cognito = s.cloud.cognito();
    let pool = s.pool_id.as_str();

    let sub = create_user(&s, "newcomer").await?;
    let user = ItemKey::user(&sub);
    reflected(&s, &user, "a created user", |i| {
        i.and_then(BackupItem::as_user).is_some_and(|u| u.username == "newcomer")
    })
    .await?;

    cognito
        .admin_update_user_attributes()
        .user_pool_id(pool)
        .username("newcomer")
        .user_attributes(attribute("custom:tier", "platinum"))
        .send()
        .await?;
    reflected(&s, &user, "an attribute update", |i| {
        i.and_then(BackupItem::as_user)
            .is_some_and(|u| u.attributes.get("custom:tier").is_some_and(|t| t == "platinum"))
    })
    .await?;

    cognito.admin_disable_user().user_pool_id(pool).username("newcomer").send().await?;
    reflected(&s, &user, "a disabled user", |i| i.and_then(BackupItem::as_user).is_some_and(|u| !u.enabled)).await?;

    let group = s.groups[0].name.clone();
    let membership = ItemKey::membership(&group, &sub);
    cognito.admin_add_user_to_group().user_pool_id(pool).username("newcomer").group_name(&group).send().await?;
    reflected(&s, &membership, "a new membership", |i| i.and_then(BackupItem::as_membership).is_some()).await?;
    cognito.admin_remove_user_from_group().user_pool_id(pool).username("newcomer").group_name(&group).send().await?;
    reflected(&s, &membership, "a removed membership", is_tombstone).await?;

    cognito.create_group().user_pool_id(pool).group_name("auditors").precedence(7).send().await?;
    let auditors = ItemKey::group("auditors");
    reflected(&s, &auditors, "a new group", |i| {
        i.and_then(BackupItem::as_group).is_some_and(|g| g.precedence == Some(7))
    })
    .await?;
    cognito.delete_group().user_pool_id(pool).group_name("auditors").send().await?;
    reflected(&s, &auditors, "a deleted group", is_tombstone).await?;

    cognito.admin_delete_user().user_pool_id(pool).username("newcomer").send().await?;
    reflected(&s, &user, "a deleted user", is_tombstone).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_burst_a_duplicated_event_and_another_pools_event_are_handled() -> Result<()> {
    let s = protected("burst", 2, 1).await?;
    let other = pools::create_pool(&s.cloud, &workflows::unique_prefix("unprotected"), &[]).await?;
    let mut subs = Vec::new();
    for i in 0..40 {
        subs.push(create_user(&s, &format!("burst-{i:02}")).await?);
    }
    // The same kind of change in a pool the stack does not protect.
    s.cloud
        .cognito()
        .admin_create_user()
        .user_pool_id(&other)
        .username("stranger")
        .message_action(MessageActionType::Suppress)
        .send()
        .await?;
    for sub in &subs {
        reflected(&s, &ItemKey::user(sub), "a user of the burst", |i| i.and_then(BackupItem::as_user).is_some())
            .await?;
    }

    // EventBridge delivers at least once: the recorded events, again, twice each.
    let recent = s.cloud.get("/_local_cloud/cloudtrail/recent")?;
    let events: Vec<serde_json::Value> = recent["events"][s.cloud.region()]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e.to_string().contains(&s.pool_id) || e.to_string().contains(&other))
        .cloned()
        .collect();
    assert!(events.iter().any(|e| e.to_string().contains(&other)), "the other pool's calls were recorded too");
    let queue = s
        .cloud
        .sqs()
        .get_queue_url()
        .queue_name(infra::definitions::names::change_queue(&s.prefix))
        .send()
        .await?
        .queue_url()
        .unwrap_or_default()
        .to_owned();
    for e in events.iter().chain(events.iter()) {
        s.cloud.sqs().send_message().queue_url(&queue).message_body(e.to_string()).send().await?;
    }
    tokio::time::sleep(Duration::from_secs(5)).await;
    let items = s.items().await?;
    let users: Vec<_> = items.iter().filter_map(BackupItem::as_user).collect();
    assert_eq!(users.len(), 40, "each user once, none of the other pool's");
    let dlq = s
        .cloud
        .sqs()
        .get_queue_url()
        .queue_name(infra::definitions::names::change_dead_letter_queue(&s.prefix))
        .send()
        .await?;
    let dead = s
        .cloud
        .sqs()
        .get_queue_attributes()
        .queue_url(dlq.queue_url().unwrap_or_default())
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
        .send()
        .await?;
    let count = dead
        .attributes()
        .and_then(|a| a.get(&aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages))
        .cloned()
        .unwrap_or_default();
    assert_eq!(count, "0", "nothing in the dead-letter queue");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn changes_while_an_export_runs_leave_the_backup_correct() -> Result<()> {
    let s = protected("racing", 60, 3).await?;
    let cognito = s.cloud.cognito();
    let gone = s.users[7].clone();
    let gone_sub = s.sub(&gone.key).to_owned();
    let (arn, newcomer) = {
        // Member listings take a while: the users are listed (the doomed one too) before the changes.
        let _slow = s.cloud.fault(&Fault::latency("ListUsersInGroup", &s.pool_id, 1_500))?;
        let arn = workflows::start(&s.cloud, s.deployment.export_state_machine_arn(), "{}").await?;
        assert!(workflows::wait_for_state(&s.cloud, &arn, "ExportMemberships", Duration::from_secs(120)).await?);
        cognito.admin_delete_user().user_pool_id(&s.pool_id).username(&gone.username).send().await?;
        let newcomer = create_user(&s, "during-export").await?;
        reflected(&s, &ItemKey::user(&gone_sub), "the deletion", is_tombstone).await?;
        reflected(&s, &ItemKey::user(&newcomer), "the creation", |i| i.and_then(BackupItem::as_user).is_some()).await?;
        (arn, newcomer)
    };
    let export = workflows::wait(&s.cloud, &arn, Duration::from_secs(300)).await?;
    assert_eq!(export.status, aws_sdk_sfn::types::ExecutionStatus::Succeeded, "{:?}", export.cause);
    // The export listed the deleted user before its deletion: its older read did not bring it back, and
    // its clean-up did not remove the user created during the run.
    assert!(is_tombstone(item(&s, &ItemKey::user(&gone_sub)).await?.as_ref()));
    assert!(item(&s, &ItemKey::user(&newcomer)).await?.as_ref().and_then(BackupItem::as_user).is_some());

    // The next export settles everything: the tombstone goes, the backup is the pool.
    assert_eq!(s.export().await?.status, aws_sdk_sfn::types::ExecutionStatus::Succeeded);
    assert_eq!(item(&s, &ItemKey::user(&gone_sub)).await?, None);
    local_harness::checks::assert_backup_is_the_pool(&s).await
}
