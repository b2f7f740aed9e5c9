//! Users: every user with every attribute, status, dates and MFA settings, federated users included.
//!
//! ListUsers is split into `sub` prefix segments (`sub ^= "0"` … `sub ^= "f"`; `sub` is a UUID) that are
//! listed concurrently, so the export runs at the rate budget rather than at one call's latency.

use serde::{Deserialize, Serialize};

use futures::{StreamExt, TryStreamExt};

use super::{CONCURRENT_LISTINGS, ExportRun, Listing, StepError};
use crate::Deadline;
use crate::ports::{BackupStore, PoolUser, PortError, UserPool};
use crate::pseudo_username;
use crate::schema::{BackupItem, UnresolvedUsers, UserItem, UserMfaSettings};

const HEX_DIGITS: &str = "0123456789abcdef";

#[derive(Debug, Deserialize)]
pub struct UsersInput {
    pub run: ExportRun,
    #[serde(default)]
    pub users: Option<UsersCursor>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UsersCursor {
    pub done: bool,
    pub segments: Vec<UserSegment>,
    pub counts: UserCounts,
    pub unresolved_pseudo_usernames: UnresolvedUsers,
    pub invocations: u32,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserSegment {
    /// `None` lists the whole pool in one segment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_prefix: Option<String>,
    #[serde(flatten)]
    pub listing: Listing,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserCounts {
    pub users: u64,
    pub federated: u64,
    pub disabled: u64,
    pub without_sub: u64,
}

impl UserCounts {
    fn add(&mut self, other: UserCounts) {
        self.users += other.users;
        self.federated += other.federated;
        self.disabled += other.disabled;
        self.without_sub += other.without_sub;
    }
}

/// The segments a new run starts with: one per leading hex digit of `sub`, or the whole pool.
pub fn initial_segments(count: usize) -> Vec<UserSegment> {
    if count <= 1 {
        return vec![UserSegment::default()];
    }
    HEX_DIGITS
        .chars()
        .map(|c| UserSegment { sub_prefix: Some(c.to_string()), listing: Listing::default() })
        .collect()
}

pub async fn run(
    pool: &dyn UserPool,
    store: &dyn BackupStore,
    input: UsersInput,
    segment_count: usize,
    deadline: Deadline,
) -> Result<UsersCursor, StepError> {
    let run = &input.run;
    let mut cursor = input.users.unwrap_or_default();
    if cursor.segments.is_empty() {
        cursor.segments = initial_segments(segment_count);
    }
    cursor.invocations += 1;

    let work = cursor.segments.iter().cloned().map(|segment| export_segment(pool, store, run, segment, deadline));
    let mut segments = Vec::with_capacity(cursor.segments.len());
    for result in futures::future::join_all(work).await {
        let (segment, counts, unresolved) = result?;
        segments.push(segment);
        cursor.counts.add(counts);
        cursor.unresolved_pseudo_usernames.merge(unresolved);
    }
    cursor.done = segments.iter().all(|s| s.listing.done);
    cursor.segments = segments;
    tracing::info!(users = cursor.counts.users, done = cursor.done, invocation = cursor.invocations, "users exported");
    Ok(cursor)
}

async fn export_segment(
    pool: &dyn UserPool,
    store: &dyn BackupStore,
    run: &ExportRun,
    mut segment: UserSegment,
    deadline: Deadline,
) -> Result<(UserSegment, UserCounts, UnresolvedUsers), StepError> {
    let mut counts = UserCounts::default();
    let mut unresolved = UnresolvedUsers::default();
    let prefix = segment.sub_prefix.clone();
    segment
        .listing
        .follow(
            deadline,
            async |token| {
                pool.list_users(prefix.as_deref(), token.as_deref())
                    .await
                    .map_err(StepError::port(format!("listing the users of user pool {}", run.pool_id)))
            },
            async |users| {
                let mfa = mfa_settings(pool, run, &users).await?;
                let items: Vec<BackupItem> = users
                    .iter()
                    .zip(mfa)
                    .filter_map(|(u, mfa)| user_item(u, mfa, run, &mut counts, &mut unresolved).map(BackupItem::User))
                    .collect();
                store.put_all(&items).await.map_err(StepError::port("writing user profiles to the backup table"))
            },
        )
        .await?;
    Ok((segment, counts, unresolved))
}

/// MFA methods and preference of each user, in order; only pools whose MFA is not OFF pay the extra
/// AdminGetUser per user (UserRead quota), and federated users have none.
async fn mfa_settings(
    pool: &dyn UserPool,
    run: &ExportRun,
    users: &[PoolUser],
) -> Result<Vec<Option<UserMfaSettings>>, StepError> {
    if run.mfa_configuration == "OFF" {
        return Ok(vec![None; users.len()]);
    }
    futures::stream::iter(users)
        .map(|user| async move {
            if user.is_federated() {
                return Ok(None);
            }
            match pool.user_mfa(&user.username).await {
                Ok(settings) => Ok(Some(settings)),
                // Deleted since it was listed: backed up as listed, without MFA settings.
                Err(PortError::NotFound(_)) => Ok(None),
                Err(source) => Err(StepError::Port {
                    context: format!("reading a user's MFA settings in user pool {}", run.pool_id),
                    source,
                }),
            }
        })
        .buffered(CONCURRENT_LISTINGS)
        .try_collect()
        .await
}

/// The backup item of one listed user, counting what the run report needs.
fn user_item(
    user: &PoolUser,
    mfa_settings: Option<UserMfaSettings>,
    run: &ExportRun,
    counts: &mut UserCounts,
    unresolved: &mut UnresolvedUsers,
) -> Option<UserItem> {
    let Some(sub) = user.sub() else {
        // Cognito gives every user a sub; an item cannot be keyed without one, so it is only counted.
        counts.without_sub += 1;
        return None;
    };
    let pseudo_username = match pseudo_username::derive(&user.username, &user.attributes, &run.username_attributes) {
        Ok(name) => Some(name),
        Err(_) => {
            unresolved.add(sub);
            None
        }
    };
    counts.users += 1;
    counts.federated += u64::from(user.is_federated());
    counts.disabled += u64::from(!user.enabled);
    Some(UserItem {
        confirmed: run.confirmation(),
        sub: sub.to_owned(),
        username: user.username.clone(),
        pseudo_username,
        attributes: user.attributes.clone(),
        enabled: user.enabled,
        status: user.status.clone(),
        federated: user.is_federated(),
        created_at: user.created_at.clone(),
        last_modified_at: user.last_modified_at.clone(),
        mfa_options: user.mfa_options.clone(),
        mfa_settings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::test_support;
    use crate::memory::{InMemoryStore, InMemoryUserPool};
    use crate::schema::{ItemKey, ItemType};
    use std::time::Duration;

    async fn export_all(pool: &InMemoryUserPool, store: &InMemoryStore, segments: usize, ua: &[&str]) -> (UsersCursor, u32) {
        let run = test_support::run(ua, 1000);
        let mut cursor = None;
        let mut invocations = 0;
        loop {
            // An expired deadline: each invocation handles exactly one page per segment.
            let out = super::run(pool, store, UsersInput { run: run.clone(), users: cursor }, segments, Deadline::after(Duration::ZERO))
                .await
                .unwrap();
            invocations += 1;
            if out.done {
                return (out, invocations);
            }
            cursor = Some(out);
        }
    }

    #[tokio::test]
    async fn every_user_is_exported_once_across_invocations_and_segments() {
        let pool = InMemoryUserPool::new("p").with_page_size(7);
        pool.add_users(200, |i, u| {
            u.enabled = i % 10 != 0;
            if i % 25 == 0 {
                u.status = PoolUser::FEDERATED_STATUS.into();
            }
        });
        for segments in [1, 16] {
            let store = InMemoryStore::default();
            let (cursor, invocations) = export_all(&pool, &store, segments, &[]).await;
            assert_eq!(cursor.counts.users, 200);
            assert_eq!(cursor.counts.disabled, 20);
            assert_eq!(cursor.counts.federated, 8);
            assert_eq!(store.count(ItemType::User), 200);
            assert!(invocations > 1, "the listing must span invocations");
            for user in pool.users() {
                let key = ItemKey::user(user.sub().unwrap());
                let Some(BackupItem::User(item)) = store.item(&key) else { panic!("missing {key:?}") };
                assert_eq!(item.attributes, user.attributes);
                assert_eq!(item.enabled, user.enabled);
                assert_eq!(item.pseudo_username.as_deref(), Some(user.username.as_str()));
            }
        }
    }

    #[tokio::test]
    async fn users_without_a_pseudo_username_are_kept_and_reported_by_sub() {
        let pool = InMemoryUserPool::new("p");
        pool.add_users(5, |i, u| {
            if i == 3 {
                u.attributes.remove("email");
            }
        });
        let store = InMemoryStore::default();
        let (cursor, _) = export_all(&pool, &store, 1, &["email"]).await;
        assert_eq!(cursor.counts.users, 5);
        assert_eq!(cursor.unresolved_pseudo_usernames.count, 1);
        let sub = &cursor.unresolved_pseudo_usernames.subs[0];
        let Some(BackupItem::User(item)) = store.item(&ItemKey::user(sub)) else { panic!() };
        assert_eq!(item.pseudo_username, None);
        assert!(!item.attributes.contains_key("email"));
    }

    #[tokio::test]
    async fn mfa_settings_are_read_only_in_mfa_pools() {
        let pool = InMemoryUserPool::new("p");
        pool.add_users(12, |i, u| {
            if i == 11 {
                u.status = PoolUser::FEDERATED_STATUS.into();
            }
        });
        let sms = UserMfaSettings { enabled: vec!["SMS_MFA".into()], preferred: Some("SMS_MFA".into()) };
        pool.set_mfa("user-3", sms.clone());

        let store = InMemoryStore::default();
        export_all(&pool, &store, 1, &[]).await;
        assert_eq!(pool.mfa_reads(), 0, "an MFA-OFF pool costs no AdminGetUser");

        let mut run = test_support::run(&[], 1);
        run.mfa_configuration = "OPTIONAL".into();
        let input = UsersInput { run, users: None };
        super::run(&pool, &store, input, 1, Deadline::after(Duration::from_secs(60))).await.unwrap();
        assert_eq!(pool.mfa_reads(), 11, "every native user, not the federated one");
        let users = pool.users();
        let Some(BackupItem::User(item)) = store.item(&ItemKey::user(users[3].sub().unwrap())) else { panic!() };
        assert_eq!(item.mfa_settings, Some(sms));
        let Some(BackupItem::User(item)) = store.item(&ItemKey::user(users[11].sub().unwrap())) else { panic!() };
        assert_eq!(item.mfa_settings, None);
    }

    #[tokio::test]
    async fn a_failing_listing_fails_the_step_with_the_pool_named() {
        let pool = InMemoryUserPool::new("us-east-1_gone");
        pool.fail_with(crate::ports::PortError::NotFound("user pool us-east-1_gone does not exist".into()));
        let store = InMemoryStore::default();
        let input = UsersInput { run: test_support::run(&[], 1), users: None };
        let err = run(&pool, &store, input, 16, Deadline::after(Duration::from_secs(60))).await.unwrap_err();
        assert_eq!(err.error_name(), "ResourceNotFound");
        assert!(err.to_string().contains("us-east-1_gone"), "{err}");
    }
}
