//! Users: every user with every attribute, status, dates and MFA settings, federated users included.
//!
//! The pool is listed over segments of `sub`, concurrently ([`crate::listing`]), so the export runs at
//! the rate budget. In `sweep` mode (asked for by the completeness check when the count disagrees with
//! the pool's estimate) the whole pool is listed once more, in one sequence, to catch any user the
//! segments missed.

use std::sync::Mutex;

use futures::{StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};

use super::seen::{SeenBuffer, SeenKind};
use super::writer::{WriteStats, write_page};
use super::{CONCURRENT_LISTINGS, ExportPorts, ExportRun, StepError, lease};
use crate::Deadline;
use crate::listing::{SegmentedListing, UserCounts};
use crate::ports::PoolUser;
use crate::pseudo_username;
use crate::schema::{BackupItem, Capacity, MfaConfiguration, UserItem, UserMfaSettings};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UsersInput {
    pub run: ExportRun,
    #[serde(default)]
    pub users: Option<UsersCursor>,
    /// Set by the completeness check: list the whole pool again, in one sequence.
    #[serde(default)]
    pub sweep: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UsersCursor {
    pub done: bool,
    #[serde(default)]
    pub swept: bool,
    pub listing: SegmentedListing,
    pub writes: WriteStats,
    pub capacity: Capacity,
    pub invocations: u32,
}

impl UsersCursor {
    /// What the listing counted (finished segments; all of them once `done`).
    pub fn counts(&self) -> &UserCounts {
        &self.listing.counts
    }
}

/// How many segments are listed at once, at most.
#[derive(Debug, Clone, Copy)]
pub struct Concurrency(pub usize);

impl Default for Concurrency {
    fn default() -> Self {
        Self(crate::settings::DEFAULT_USER_LIST_CONCURRENCY)
    }
}

pub async fn run(
    ports: ExportPorts<'_>,
    input: UsersInput,
    concurrency: Concurrency,
    deadline: Deadline,
) -> Result<UsersCursor, StepError> {
    let run = &input.run;
    lease::ensure(ports.lease, ports.clock, &run.lease).await?;
    let mut cursor = input.users.unwrap_or_default();
    if input.sweep && !cursor.swept {
        // The sweep counts everything again: forget what the segments counted (their writes stay).
        cursor.swept = true;
        cursor.listing = SegmentedListing::whole_pool(1);
    } else if !cursor.listing.started {
        cursor.listing = SegmentedListing::whole_pool(concurrency.0);
    }
    cursor.invocations += 1;
    let seen = SeenBuffer::default();
    let writes = Mutex::new(WriteStats::default());
    cursor
        .listing
        .run(
            ports.pool,
            concurrency.0,
            deadline,
            || ports.clock.now_ms(),
            |users, observed_at| {
                let (seen, writes) = (&seen, &writes);
                async move {
                    let mfa = mfa_settings(ports, run, &users).await?;
                    let mut counts = UserCounts::default();
                    let items: Vec<BackupItem> = users
                        .iter()
                        .zip(mfa)
                        .filter_map(|(u, mfa)| user_item(u, mfa, run, observed_at, &mut counts).map(BackupItem::User))
                        .collect();
                    let written = write_page(ports, run, seen, items, "user profiles").await?;
                    *writes.lock().unwrap_or_else(|p| p.into_inner()) += written;
                    Ok(counts)
                }
            },
        )
        .await?;
    seen.flush(ports.objects, run, SeenKind::Users, &format!("users-{:06}", cursor.invocations)).await?;
    cursor.writes += writes.into_inner().unwrap_or_else(|p| p.into_inner());
    cursor.capacity += ports.store.take_consumed();
    cursor.done = cursor.listing.done();
    tracing::info!(
        users = cursor.listing.listed(),
        segments = cursor.listing.segments.len(),
        splits = cursor.listing.splits,
        written = cursor.writes.written,
        done = cursor.done,
        invocation = cursor.invocations,
        "users exported"
    );
    Ok(cursor)
}

/// MFA methods and preference of each user, in order; only pools whose MFA is not OFF pay the extra
/// AdminGetUser per user (UserRead quota), and federated users have none.
async fn mfa_settings(
    ports: ExportPorts<'_>,
    run: &ExportRun,
    users: &[PoolUser],
) -> Result<Vec<Option<UserMfaSettings>>, StepError> {
    if run.mfa_configuration == MfaConfiguration::Off {
        return Ok(vec![None; users.len()]);
    }
    futures::stream::iter(users)
        .map(|user| async move {
            if user.is_federated() {
                return Ok(None);
            }
            match ports.pool.get_user(&user.username).await {
                // A user deleted since it was listed is backed up as listed, without MFA settings.
                Ok(found) => Ok(found.and_then(|u| u.mfa_settings)),
                Err(e) => Err(super::pool_error(&run.pool_id, "reading a user's MFA settings", e)),
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
    observed_at: i64,
    counts: &mut UserCounts,
) -> Option<UserItem> {
    let Some(sub) = user.sub() else {
        // Cognito gives every user a sub; an item cannot be keyed without one, so it is only counted.
        counts.without_sub += 1;
        return None;
    };
    let item = backup_user(user, mfa_settings, &run.username_attributes, run.confirmation(observed_at))?;
    if item.pseudo_username.is_none() {
        counts.unresolved_pseudo_usernames.add(sub);
    }
    counts.users += 1;
    counts.federated += u64::from(user.is_federated());
    counts.disabled += u64::from(!user.enabled);
    Some(item)
}

/// A user as the backup keeps it (`None` without a sub: an item cannot be keyed without one). The
/// export and the change capture build user items alike.
pub fn backup_user(
    user: &PoolUser,
    mfa_settings: Option<UserMfaSettings>,
    username_attributes: &[String],
    confirmed: crate::schema::Confirmation,
) -> Option<UserItem> {
    let sub = user.sub()?;
    Some(UserItem {
        confirmed,
        sub: sub.to_owned(),
        username: user.username.clone(),
        pseudo_username: pseudo_username::derive(&user.username, &user.attributes, username_attributes).ok(),
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
