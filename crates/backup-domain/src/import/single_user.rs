//! Restoring one user from the backup, in seconds, without the ImportWorkflow: after an accidental
//! deletion, into the pool it was deleted from or any other. The user is found by sub, username or email;
//! its attributes, enabled flag and groups come back (groups missing in the target are created from the
//! backup); an existing user is left alone unless overwriting was asked for.

use std::collections::BTreeSet;

use futures::stream::{self, StreamExt, TryStreamExt};
use serde::Serialize;

use super::restore_path::{self, RestorePath, TargetProfile};
use super::target_username;
use crate::ports::{BackupStore, Created, PoolGroup, PortError, RestoreTarget, ScanSegment};
use crate::schema::{BackupItem, GroupItem, ItemKey, UserItem};
use crate::step::StepError;

/// Parallel scan segments used to find a user or its memberships.
const SCAN_SEGMENTS: u32 = 8;

/// How the user is named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserSelector {
    Sub(String),
    Username(String),
    Email(String),
}

impl UserSelector {
    fn matches(&self, user: &UserItem) -> bool {
        match self {
            Self::Sub(s) => &user.sub == s,
            Self::Username(u) => &user.username == u || user.pseudo_username.as_ref() == Some(u),
            Self::Email(e) => user.attributes.get("email").is_some_and(|v| v.eq_ignore_ascii_case(e)),
        }
    }

    fn describe(&self) -> String {
        match self {
            Self::Sub(s) => format!("sub {s}"),
            Self::Username(_) => "the given username".into(),
            Self::Email(_) => "the given email".into(),
        }
    }
}

/// What restoring the user did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserRestored {
    pub old_sub: String,
    pub username: String,
    /// The user's sub in the target (a created user has a new one).
    pub new_sub: Option<String>,
    pub created: bool,
    pub overwritten: bool,
    pub enabled: bool,
    pub groups: Vec<String>,
    pub groups_created: Vec<String>,
    /// Attributes the target cannot store (not in its schema), by name.
    pub dropped_attributes: Vec<String>,
    /// Immutable attributes an overwrite could not change.
    pub immutable_skipped: Vec<String>,
}

fn refused(name: &'static str, message: String) -> StepError {
    StepError::Refused { name, message }
}

/// Every item of the table, by parallel scan, that `keep` selects.
async fn scan<T: Send>(
    store: &dyn BackupStore,
    keep: impl Fn(BackupItem) -> Option<T> + Sync,
) -> Result<Vec<T>, StepError> {
    let keep = &keep;
    let segments = (0..SCAN_SEGMENTS).map(|index| async move {
        let segment = ScanSegment { index, total: SCAN_SEGMENTS };
        let (mut found, mut start) = (Vec::new(), None);
        loop {
            let page = store.scan_items(segment, start).await.map_err(StepError::port("scanning the backup table"))?;
            found.extend(page.items.into_iter().filter_map(keep));
            match page.next {
                Some(next) => start = Some(next),
                None => return Ok::<_, StepError>(found),
            }
        }
    });
    let parts: Vec<Vec<T>> = stream::iter(segments).buffer_unordered(SCAN_SEGMENTS as usize).try_collect().await?;
    Ok(parts.into_iter().flatten().collect())
}

/// A user item, or the user a captured deletion's tombstone keeps (until the next export removes it).
fn backed_up_user(item: BackupItem) -> Option<UserItem> {
    match item {
        BackupItem::User(u) => Some(u),
        BackupItem::Tombstone(t) => t.last_user.map(|u| *u),
        _ => None,
    }
}

/// The backed-up user named by `selector`: by sub a direct read, otherwise a scan.
pub async fn find_user(store: &dyn BackupStore, selector: &UserSelector) -> Result<UserItem, StepError> {
    let found: Vec<UserItem> = match selector {
        UserSelector::Sub(sub) => store
            .get(&ItemKey::user(sub))
            .await
            .map_err(StepError::port("reading the user from the backup"))?
            .and_then(backed_up_user)
            .into_iter()
            .collect(),
        other => scan(store, |i| backed_up_user(i).filter(|u| other.matches(u))).await?,
    };
    let mut found = found.into_iter();
    match (found.next(), found.len()) {
        (Some(user), 0) => Ok(user),
        (None, _) => Err(refused(
            "UserNotInBackup",
            format!("the backup has no user with {}; check the value (a sub is a UUID)", selector.describe()),
        )),
        (Some(_), more) => Err(refused(
            "AmbiguousUser",
            format!("{} backed-up users match {}; name the user by --sub instead", more + 1, selector.describe()),
        )),
    }
}

/// The user's groups in the backup, with their group items.
pub async fn groups_of(store: &dyn BackupStore, sub: &str) -> Result<Vec<GroupItem>, StepError> {
    let names: BTreeSet<String> = scan(store, |i| {
        let m = i.as_membership()?;
        (m.sub == sub).then(|| m.group_name.clone())
    })
    .await?
    .into_iter()
    .collect();
    let keys: Vec<ItemKey> = names.iter().map(|g| ItemKey::group(g)).collect();
    let groups = store.get_many(&keys).await.map_err(StepError::port("reading the user's groups from the backup"))?;
    Ok(groups.into_iter().filter_map(|i| i.into_group()).collect())
}

/// Creates the group as the backup has it, unless the target has it; true when created.
async fn ensure_group(target: &dyn RestoreTarget, group: &GroupItem) -> Result<bool, PortError> {
    let wanted = PoolGroup {
        name: group.group_name.clone(),
        description: group.description.clone(),
        precedence: group.precedence,
        role_arn: group.role_arn.clone(),
        ..Default::default()
    };
    Ok(target.create_group(&wanted).await? == Created::New)
}

/// Restores `user` (and its `groups`) into `target`; refuses an existing user unless `overwrite`.
pub async fn restore_user(
    target: &dyn RestoreTarget,
    user: &UserItem,
    groups: &[GroupItem],
    overwrite: bool,
) -> Result<UserRestored, StepError> {
    let pool_id = target.pool_id().to_owned();
    let port = |what: &'static str| {
        let pool_id = pool_id.clone();
        move |source: PortError| StepError::Port { context: format!("{what} in user pool {pool_id}"), source }
    };
    let description = target.describe().await.map_err(|e| match e {
        PortError::NotFound(d) => refused("TargetPoolNotFound", format!("user pool {pool_id} does not exist ({d})")),
        other => port("reading the pool")(other),
    })?;
    let header = target.csv_header().await.map_err(port("GetCSVHeader"))?;
    let profile = TargetProfile::new(&description.snapshot, header);
    if let RestorePath::NotRestorable(reason) = restore_path::decide(user, &profile) {
        return Err(refused(
            "UserNotRestorable",
            format!("the user with sub {} cannot be restored: {reason}", user.sub),
        ));
    }
    let username = target_username(user).unwrap_or_default().to_owned();
    let (attributes, dropped) = restore_path::restorable_attributes(user, &profile);
    let mut done = UserRestored {
        old_sub: user.sub.clone(),
        username: username.clone(),
        enabled: user.enabled,
        dropped_attributes: dropped,
        ..Default::default()
    };

    let existing = target.get_user(&username).await.map_err(port("looking the user up"))?;
    match (existing, overwrite) {
        (Some(_), false) => {
            return Err(refused(
                "UserExists",
                format!(
                    "user pool {pool_id} already has a user named as the backed-up user with sub {}; nothing was \
                     changed. Use --overwrite to set its attributes, enabled flag and groups to the backup's.",
                    user.sub
                ),
            ));
        }
        (Some(current), true) => {
            let (mutable, immutable): (Vec<_>, Vec<_>) =
                attributes.into_iter().partition(|(k, _)| !profile.immutable_attributes.contains(k));
            done.immutable_skipped = immutable.into_iter().map(|(k, _)| k).collect();
            let mutable = mutable.into_iter().collect();
            target.update_user_attributes(&username, &mutable).await.map_err(port("updating the user"))?;
            if current.enabled != user.enabled {
                target.set_enabled(&username, user.enabled).await.map_err(port("enabling or disabling the user"))?;
            }
            done.overwritten = true;
        }
        (None, _) => {
            if target.create_user(&username, &attributes).await.map_err(port("creating the user"))? == Created::New {
                done.created = true;
            }
            // Disabled at once, before anything else happens to it.
            if !user.enabled {
                target.set_enabled(&username, false).await.map_err(port("disabling the user"))?;
            }
        }
    }
    for group in groups {
        if ensure_group(target, group).await.map_err(port("creating a group"))? {
            done.groups_created.push(group.group_name.clone());
        }
        target.add_to_group(&username, &group.group_name).await.map_err(port("adding the user to a group"))?;
        done.groups.push(group.group_name.clone());
    }
    done.new_sub = target
        .get_user(&username)
        .await
        .map_err(port("reading the restored user"))?
        .and_then(|u| u.sub().map(str::to_owned));
    tracing::info!(created = done.created, groups = done.groups.len(), "one user restored");
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::{InMemoryStore, InMemoryUserPool};
    use crate::schema::ItemType;

    const SUB: &str = "0f0f0f0f-aaaa-4bbb-8ccc-000000000001";

    fn item(item_type: ItemType, body: serde_json::Value) -> BackupItem {
        let mut body = body;
        body["schemaVersion"] = 1.into();
        body["lastConfirmedAt"] = 1.into();
        body["exportRunId"] = "run".into();
        BackupItem::from_body(item_type, body).unwrap()
    }

    fn backup() -> (InMemoryStore, UserItem) {
        let user = item(
            ItemType::User,
            serde_json::json!({"sub": SUB, "username": "ada", "pseudoUsername": "ada", "enabled": false,
                "status": "CONFIRMED", "federated": false,
                "attributes": {"email": "ada@example.com", "custom:tier": "gold", "sub": SUB}}),
        );
        let group = item(ItemType::Group, serde_json::json!({"groupName": "admins", "precedence": 1}));
        let member = |sub: &str| {
            item(
                ItemType::Membership,
                serde_json::json!({"groupName": "admins", "sub": sub, "username": "x", "federated": false}),
            )
        };
        let store = InMemoryStore::default().with_page_size(2);
        let items = [user.clone(), group, member(SUB), member("someone-else")];
        futures::executor::block_on(store.put_all(&items)).unwrap();
        (store, user.into_user().unwrap())
    }

    fn target() -> InMemoryUserPool {
        let pool = InMemoryUserPool::new("us-east-1_target");
        pool.configure(|s| {
            s.schema = ["sub", "email", "custom:tier"]
                .map(|n| crate::schema::SchemaAttribute { name: n.into(), mutable: Some(true), ..Default::default() })
                .to_vec()
        });
        pool
    }

    #[tokio::test]
    async fn a_deleted_user_comes_back_disabled_with_its_groups_by_any_name() {
        let (store, user) = backup();
        for selector in [
            UserSelector::Sub(user.sub.clone()),
            UserSelector::Username("ada".into()),
            UserSelector::Email("ADA@example.com".into()),
        ] {
            assert_eq!(find_user(&store, &selector).await.unwrap(), user);
        }
        let groups = groups_of(&store, &user.sub).await.unwrap();
        assert_eq!(groups.iter().map(|g| g.group_name.as_str()).collect::<Vec<_>>(), ["admins"]);

        let pool = target();
        let done = restore_user(&pool, &user, &groups, false).await.unwrap();
        assert!(done.created && !done.overwritten);
        assert_eq!(done.groups_created, ["admins"]);
        let restored = pool.users().into_iter().find(|u| u.username == "ada").unwrap();
        assert!(!restored.enabled, "disabled as in the backup");
        assert_eq!(restored.attributes["custom:tier"], "gold");
        assert_eq!(pool.members("admins"), ["ada"]);
        assert_eq!(done.new_sub.as_deref(), restored.sub());
        let events: Vec<&str> = pool.events().iter().map(|(e, _)| *e).collect();
        assert_eq!(events[..2], ["create_user", "disable"], "disabled before anything else: {events:?}");
    }

    #[tokio::test]
    async fn an_existing_user_is_left_alone_unless_overwriting() {
        let (store, user) = backup();
        let groups = groups_of(&store, &user.sub).await.unwrap();
        let pool = target();
        pool.add_users(1, |_, u| {
            u.username = "ada".into();
            u.attributes.insert("custom:tier".into(), "changed".into());
        });
        let err = restore_user(&pool, &user, &groups, false).await.unwrap_err();
        assert_eq!(err.error_name(), "UserExists");
        assert_eq!(pool.users()[0].attributes["custom:tier"], "changed", "nothing changed");
        let done = restore_user(&pool, &user, &groups, true).await.unwrap();
        assert!(done.overwritten && !done.created);
        assert_eq!(pool.users()[0].attributes["custom:tier"], "gold");
        assert!(!pool.users()[0].enabled);
    }

    #[tokio::test]
    async fn an_unknown_or_ambiguous_user_is_named() {
        let (store, _) = backup();
        let err = find_user(&store, &UserSelector::Email("nobody@example.com".into())).await.unwrap_err();
        assert_eq!(err.error_name(), "UserNotInBackup");
        assert!(!err.to_string().contains("nobody@"), "no personal data in the error: {err}");
    }
}
