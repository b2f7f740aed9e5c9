//! Reading a changed user, group or membership again and writing what is there now, conditionally: a
//! write never replaces a newer read (the export's or another capture's), and a deletion is written as
//! a tombstone at the item's key, dated when it was seen, so an export that listed the item earlier
//! cannot bring it back.

use super::event::{Change, UserRef};
use crate::export::ExportPorts;
use crate::export::groups::backup_group;
use crate::export::users::backup_user;
use crate::ports::{PoolUser, PortError};
use crate::schema::{BackupItem, Confirmation, ItemKey, ItemType, MembershipItem, PoolSnapshotItem, TombstoneItem};
use crate::step::StepError;

/// The run ID the capture's items carry (the export's carry the execution ARN).
pub const CAPTURE_RUN_ID: &str = "change-capture";

/// What applying one change did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    Written,
    Deleted,
    /// The stored item was read later than this (nothing to do).
    NewerKept,
    /// The event does not say enough; the next export picks the change up.
    Unidentified,
    NotBackedUp,
}

pub struct Apply<'a> {
    pub ports: ExportPorts<'a>,
    pub username_attributes: &'a [String],
    pub event_name: &'a str,
}

fn pool_err(pool: &str, what: &str) -> impl FnOnce(PortError) -> StepError {
    let context = format!("{what} in user pool {pool}");
    move |source| StepError::Port { context, source }
}

impl Apply<'_> {
    fn pool_id(&self) -> String {
        self.ports.pool.pool_id().to_owned()
    }

    /// Seen now: a read made after this moment shows at least every change before it.
    fn confirmed(&self) -> Confirmation {
        Confirmation::new(self.ports.clock.now_ms(), CAPTURE_RUN_ID)
    }

    async fn write(&self, items: Vec<BackupItem>) -> Result<Applied, StepError> {
        let outcome = self
            .ports
            .store
            .put_if_newer(&items)
            .await
            .map_err(StepError::port("writing a captured change to the backup table"))?;
        Ok(if outcome.written > 0 { Applied::Written } else { Applied::NewerKept })
    }

    fn tombstone(&self, confirmed: &Confirmation, key: ItemKey, deleted_type: ItemType) -> BackupItem {
        BackupItem::Tombstone(TombstoneItem {
            confirmed: confirmed.clone(),
            deleted_key: key,
            deleted_type,
            cause: self.event_name.to_owned(),
            last_user: None,
        })
    }

    /// A deleted user's tombstone, keeping the user as the backup held it (a single-user restore's source).
    async fn user_tombstone(&self, confirmed: &Confirmation, sub: &str) -> Result<BackupItem, StepError> {
        let key = ItemKey::user(sub);
        let stored = self.ports.store.get(&key).await.map_err(StepError::port("reading a deleted user's item"))?;
        let last_user = match stored {
            Some(BackupItem::User(u)) => Some(Box::new(u)),
            Some(BackupItem::Tombstone(t)) => t.last_user,
            _ => None,
        };
        let mut tombstone = self.tombstone(confirmed, key, ItemType::User);
        if let BackupItem::Tombstone(t) = &mut tombstone {
            t.last_user = last_user;
        }
        Ok(tombstone)
    }

    /// The pool must still exist for a missing group to mean a deleted group (both answer NotFound).
    async fn pool_exists(&self) -> Result<(), StepError> {
        self.ports.pool.describe().await.map(|_| ()).map_err(|e| match e {
            PortError::NotFound(detail) => StepError::Refused {
                name: "UserPoolNotFound",
                message: format!(
                    "user pool {} does not exist ({detail}): the change is not applied, the backup keeps the pool",
                    self.pool_id()
                ),
            },
            other => StepError::Port { context: format!("checking user pool {}", self.pool_id()), source: other },
        })
    }

    async fn user(&self, user: &UserRef) -> Result<Option<PoolUser>, StepError> {
        let name = match user {
            UserRef::Sub(s) | UserRef::Username(s) => s,
        };
        // AdminGetUser takes a local user's sub as its username.
        self.ports.pool.get_user(name).await.map_err(pool_err(&self.pool_id(), "reading a changed user"))
    }

    pub async fn change(&self, change: &Change) -> Result<Applied, StepError> {
        match change {
            Change::User(user) => self.apply_user(user).await,
            Change::Membership { group, user } => self.apply_membership(group, user).await,
            Change::Group(name) => self.apply_group(name).await,
            Change::PoolConfiguration => self.apply_pool().await,
            Change::Unidentified => Ok(Applied::Unidentified),
            Change::NotBackedUp => Ok(Applied::NotBackedUp),
        }
    }

    async fn apply_user(&self, user: &UserRef) -> Result<Applied, StepError> {
        let confirmed = self.confirmed();
        match (self.user(user).await?, user) {
            (Some(found), _) => {
                match backup_user(&found, found.mfa_settings.clone(), self.username_attributes, confirmed) {
                    Some(item) => self.write(vec![BackupItem::User(item)]).await,
                    None => Ok(Applied::Unidentified),
                }
            }
            (None, UserRef::Sub(sub)) => {
                // Gone. Its memberships go at the next export (their keys name groups the event does not).
                self.pool_exists().await?;
                let tombstone = self.user_tombstone(&confirmed, sub).await?;
                self.write(vec![tombstone]).await.map(|a| if a == Applied::Written { Applied::Deleted } else { a })
            }
            (None, UserRef::Username(_)) => Ok(Applied::Unidentified),
        }
    }

    async fn apply_membership(&self, group: &str, user: &UserRef) -> Result<Applied, StepError> {
        let confirmed = self.confirmed();
        let Some(found) = self.user(user).await? else {
            return match user {
                UserRef::Sub(sub) => {
                    self.pool_exists().await?;
                    let items = vec![
                        self.tombstone(&confirmed, ItemKey::membership(group, sub), ItemType::Membership),
                        self.user_tombstone(&confirmed, sub).await?,
                    ];
                    self.write(items).await
                }
                UserRef::Username(_) => Ok(Applied::Unidentified),
            };
        };
        let Some(sub) = found.sub().map(str::to_owned) else { return Ok(Applied::Unidentified) };
        let member = self.member_of(&found.username, group).await?;
        let mut items = Vec::with_capacity(2);
        items.extend(
            backup_user(&found, found.mfa_settings.clone(), self.username_attributes, confirmed.clone())
                .map(BackupItem::User),
        );
        items.push(if member {
            BackupItem::Membership(MembershipItem {
                confirmed: confirmed.clone(),
                group_name: group.to_owned(),
                sub: sub.clone(),
                username: found.username.clone(),
                federated: found.is_federated(),
            })
        } else {
            self.tombstone(&confirmed, ItemKey::membership(group, &sub), ItemType::Membership)
        });
        self.write(items).await
    }

    async fn member_of(&self, username: &str, group: &str) -> Result<bool, StepError> {
        let mut token: Option<String> = None;
        loop {
            let page = self
                .ports
                .pool
                .groups_of_user(username, token.as_deref())
                .await
                .map_err(pool_err(&self.pool_id(), "listing a changed user's groups"))?;
            if page.items.iter().any(|g| g == group) {
                return Ok(true);
            }
            match page.next {
                Some(next) => token = Some(next),
                None => return Ok(false),
            }
        }
    }

    async fn apply_group(&self, name: &str) -> Result<Applied, StepError> {
        let confirmed = self.confirmed();
        let found =
            self.ports.pool.get_group(name).await.map_err(pool_err(&self.pool_id(), "reading a changed group"))?;
        if let Some(group) = found {
            return self.write(vec![BackupItem::Group(backup_group(group, confirmed))]).await;
        }
        // The group and its memberships (one partition of the table) are gone, unless the pool is.
        self.pool_exists().await?;
        let key = ItemKey::group(name);
        let stored =
            self.ports.store.partition(&key.pk).await.map_err(StepError::port("reading a deleted group's items"))?;
        let mut items = vec![self.tombstone(&confirmed, key, ItemType::Group)];
        items.extend(
            stored
                .iter()
                .filter(|i| i.item_type() == ItemType::Membership)
                .map(|i| self.tombstone(&confirmed, i.key(), ItemType::Membership)),
        );
        self.write(items).await.map(|a| if a == Applied::Written { Applied::Deleted } else { a })
    }

    async fn apply_pool(&self) -> Result<Applied, StepError> {
        let confirmed = self.confirmed();
        let description =
            self.ports.pool.describe().await.map_err(pool_err(&self.pool_id(), "reading the pool's configuration"))?;
        self.write(vec![BackupItem::PoolSnapshot(PoolSnapshotItem { confirmed, pool: description.snapshot })]).await
    }
}
