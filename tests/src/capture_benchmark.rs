//! The change capture's recovery point, measured: mixed changes to a protected pool at a steady rate, and
//! for each, the time from the Cognito call returning to the backup table reflecting it (polled every
//! 100 ms). `benchmark --capture N` runs it.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use aws_sdk_cognitoidentityprovider::types::{AttributeType, MessageActionType};
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};
use backup_domain::schema::{BackupItem, ItemKey, ItemType};
use serde::Serialize;

use crate::Result;
use crate::local_cloud::LocalCloud;
use crate::pools;
use crate::scenario::{Scenario, scenario_with_mfa};

#[derive(Debug, Clone, Serialize)]
pub struct CaptureResults {
    pub changes: usize,
    pub per_second: f64,
    /// Changes of each kind.
    pub kinds: BTreeMap<&'static str, usize>,
    pub p50_seconds: f64,
    pub p99_seconds: f64,
    pub max_seconds: f64,
    /// Changes not reflected within the limit.
    pub missed: usize,
}

/// Whether the backup's item (if any) reflects a change.
type Reflects = Box<dyn Fn(Option<&BackupItem>) -> bool + Send>;

/// One change and how to tell the backup has it.
struct Pending {
    key: ItemKey,
    done_at: Instant,
    check: Reflects,
}

const KINDS: [&str; 6] = ["create", "update", "disable", "add-to-group", "remove-from-group", "delete"];
const LIMIT: Duration = Duration::from_secs(120);

fn attribute(name: &str, value: &str) -> AttributeType {
    AttributeType::builder().name(name).value(value).build().expect("name and value")
}

/// Seeded users each kind of change works on, so no two changes touch the same user: the first 600 are
/// in groups (removals), the others in none.
const FIRST_USER: [usize; 6] = [0, 600, 800, 1_200, 0, 1_000];
/// Users to seed for up to 1,200 changes.
const SEEDED: usize = 1_400;

/// Makes change `i` (its kind is `i % 6`) on its own user; returns how to see it in the backup.
async fn change(s: &Scenario, i: usize) -> Result<(&'static str, Pending)> {
    let cognito = s.cloud.cognito();
    let pool = s.pool_id.as_str();
    let kind = KINDS[i % KINDS.len()];
    let seed = &s.users[FIRST_USER[i % KINDS.len()] + i / KINDS.len()];
    let sub = s.sub(&seed.key).to_owned();
    let (key, check): (ItemKey, Reflects) = match kind {
        "create" => {
            let name = format!("created-{i:05}");
            let out = cognito
                .admin_create_user()
                .user_pool_id(pool)
                .username(&name)
                .message_action(MessageActionType::Suppress)
                .send()
                .await?;
            let new_sub = out
                .user()
                .and_then(|u| u.attributes().iter().find(|a| a.name() == "sub"))
                .and_then(|a| a.value())
                .unwrap_or_default()
                .to_owned();
            (ItemKey::user(&new_sub), Box::new(|i| i.and_then(BackupItem::as_user).is_some()))
        }
        "update" => {
            let value = format!("tier-{i}");
            cognito
                .admin_update_user_attributes()
                .user_pool_id(pool)
                .username(&seed.username)
                .user_attributes(attribute("custom:tier", &value))
                .send()
                .await?;
            let check = move |i: Option<&BackupItem>| {
                i.and_then(BackupItem::as_user).is_some_and(|u| u.attributes.get("custom:tier") == Some(&value))
            };
            (ItemKey::user(&sub), Box::new(check))
        }
        "disable" => {
            cognito.admin_disable_user().user_pool_id(pool).username(&seed.username).send().await?;
            (ItemKey::user(&sub), Box::new(|i| i.and_then(BackupItem::as_user).is_some_and(|u| !u.enabled)))
        }
        "add-to-group" => {
            let group =
                s.groups.iter().find(|g| !g.members.contains(&seed.key)).map(|g| g.name.clone()).unwrap_or_default();
            cognito
                .admin_add_user_to_group()
                .user_pool_id(pool)
                .username(&seed.username)
                .group_name(&group)
                .send()
                .await?;
            (ItemKey::membership(&group, &sub), Box::new(|i| i.and_then(BackupItem::as_membership).is_some()))
        }
        "remove-from-group" => {
            let group =
                s.groups.iter().find(|g| g.members.contains(&seed.key)).map(|g| g.name.clone()).unwrap_or_default();
            cognito
                .admin_remove_user_from_group()
                .user_pool_id(pool)
                .username(&seed.username)
                .group_name(&group)
                .send()
                .await?;
            (ItemKey::membership(&group, &sub), Box::new(|i| i.is_some_and(|i| i.item_type() == ItemType::Tombstone)))
        }
        _ => {
            cognito.admin_delete_user().user_pool_id(pool).username(&seed.username).send().await?;
            (ItemKey::user(&sub), Box::new(|i| i.is_some_and(|i| i.item_type() == ItemType::Tombstone)))
        }
    };
    Ok((kind, Pending { key, done_at: Instant::now(), check }))
}

/// The items at `keys` now.
async fn items(s: &Scenario, keys: &[ItemKey]) -> Result<BTreeMap<ItemKey, BackupItem>> {
    let mut found = BTreeMap::new();
    for chunk in keys.chunks(100) {
        let request = KeysAndAttributes::builder()
            .set_keys(Some(
                chunk
                    .iter()
                    .map(|k| {
                        [
                            ("pk".to_string(), AttributeValue::S(k.pk.clone())),
                            ("sk".to_string(), AttributeValue::S(k.sk.clone())),
                        ]
                        .into()
                    })
                    .collect(),
            ))
            .consistent_read(true)
            .build()?;
        let out =
            s.cloud.dynamodb().batch_get_item().request_items(&s.deployment.backup_table_name, request).send().await?;
        for raw in out.responses().and_then(|r| r.get(&s.deployment.backup_table_name)).cloned().unwrap_or_default() {
            let item = backup_aws::from_dynamo_item(raw)?;
            found.insert(item.key(), item);
        }
    }
    Ok(found)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

pub async fn run(changes: usize, per_second: f64) -> Result<CaptureResults> {
    let _ = LocalCloud::connect().await?;
    if changes > 6 * 200 {
        return Err(format!("at most 1,200 changes (each on its own seeded user), not {changes}").into());
    }
    let mut users = pools::nasty_users(SEEDED);
    for u in users.iter_mut().filter(|u| u.status == "EXTERNAL_PROVIDER") {
        // Administrators change local users: the fixtures' federated ones become local.
        u.status = "CONFIRMED".into();
        u.attributes.remove("identities");
    }
    let s = scenario_with_mfa("capbench", &[], "OFF", users, 20, |stack| stack.config.change_capture = true).await?;
    let mut pending: Vec<Pending> = Vec::new();
    let mut kinds: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut lags = Vec::with_capacity(changes);
    let started = Instant::now();
    let spacing = Duration::from_secs_f64(1.0 / per_second.max(0.1));
    let mut next = 0;
    let mut last_poll = Instant::now();
    while next < changes || !pending.is_empty() {
        if next < changes && started.elapsed() >= spacing * next as u32 {
            let (kind, p) = change(&s, next).await?;
            *kinds.entry(kind).or_default() += 1;
            pending.push(p);
            next += 1;
            continue;
        }
        if last_poll.elapsed() >= Duration::from_millis(100) {
            last_poll = Instant::now();
            let keys: Vec<ItemKey> = pending.iter().map(|p| p.key.clone()).collect();
            let found = items(&s, &keys).await?;
            let now = Instant::now();
            pending.retain(|p| {
                if (p.check)(found.get(&p.key)) {
                    lags.push((now - p.done_at).as_secs_f64());
                    false
                } else {
                    now - p.done_at < LIMIT
                }
            });
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let missed = changes - lags.len();
    lags.sort_by(f64::total_cmp);
    Ok(CaptureResults {
        changes,
        per_second,
        kinds,
        p50_seconds: percentile(&lags, 0.50),
        p99_seconds: percentile(&lags, 0.99),
        max_seconds: lags.last().copied().unwrap_or(0.0),
        missed,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn percentiles_are_nearest_rank() {
        let lags: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(super::percentile(&lags, 0.5), 50.0);
        assert_eq!(super::percentile(&lags, 0.99), 99.0);
        assert_eq!(super::percentile(&[3.0], 0.99), 3.0);
    }
}
