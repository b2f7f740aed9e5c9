//! The backup table's items: the contract between the export, the import and anyone reading the table.
//!
//! Every item has a string partition key `pk`, a string sort key `sk`, an `itemType` and a
//! `schemaVersion`. Items describing the pool also carry `lastConfirmedAt`: when the state they hold was
//! read from Cognito (epoch milliseconds), and `exportRunId`, who read it. A write never replaces an
//! item read later (the store checks `lastConfirmedAt`), and an export rewrites an item only when its
//! content changed. See `docs/backup-schema.md` for the full table.

mod enums;
mod export_marker;
mod group;
mod membership;
mod pool_snapshot;
mod tombstone;
mod user;

use serde::{Deserialize, Serialize};

pub use enums::{ImportJobStatus, MfaConfiguration, UserStatus};
pub use export_marker::{Capacity, ExportCounts, ExportMarkerItem, RunCounts, UnresolvedUsers, UserEstimate};
pub use group::GroupItem;
pub use membership::MembershipItem;
pub use pool_snapshot::{PasswordPolicy, PoolSnapshot, PoolSnapshotItem, SchemaAttribute};
pub use tombstone::TombstoneItem;
pub use user::{MfaOption, UserItem, UserMfaSettings};

/// Version of the item layout below. Readers refuse items with a higher major version.
pub const SCHEMA_VERSION: u32 = 1;

/// Name of the partition-key attribute.
pub const PARTITION_KEY: &str = "pk";
/// Name of the sort-key attribute.
pub const SORT_KEY: &str = "sk";
/// Name of the attribute holding [`ItemType`].
pub const ITEM_TYPE_ATTRIBUTE: &str = "itemType";
/// Name of the attribute holding when an item's state was read from Cognito.
pub const LAST_CONFIRMED_ATTRIBUTE: &str = "lastConfirmedAt";
/// `itemType` of the export's lease (`pk = LEASE`, `sk = EXPORT`): a control item, not part of the backup.
pub const LEASE_ITEM_TYPE: &str = "LEASE";

/// The primary key of a backup item.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ItemKey {
    pub pk: String,
    pub sk: String,
}

impl ItemKey {
    pub fn user(sub: &str) -> Self {
        Self { pk: format!("USER#{sub}"), sk: "PROFILE".into() }
    }
    pub fn group(name: &str) -> Self {
        Self { pk: format!("GROUP#{name}"), sk: "GROUP".into() }
    }
    /// Memberships share their group's partition, so a group and its members read with one Query.
    pub fn membership(group: &str, sub: &str) -> Self {
        Self { pk: format!("GROUP#{group}"), sk: format!("MEMBER#{sub}") }
    }
    pub fn pool_snapshot() -> Self {
        Self { pk: "POOL".into(), sk: "SNAPSHOT".into() }
    }
    pub fn export_marker() -> Self {
        Self { pk: "EXPORT".into(), sk: "LATEST".into() }
    }
    pub fn export_lease() -> Self {
        Self { pk: "LEASE".into(), sk: "EXPORT".into() }
    }

    /// The sub of a user or membership key.
    pub fn sub(&self) -> Option<&str> {
        self.pk.strip_prefix("USER#").or_else(|| self.sk.strip_prefix("MEMBER#"))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ItemType {
    User,
    Group,
    Membership,
    PoolSnapshot,
    ExportMarker,
    Tombstone,
}

impl ItemType {
    pub const ALL: [ItemType; 6] =
        [Self::User, Self::Group, Self::Membership, Self::PoolSnapshot, Self::ExportMarker, Self::Tombstone];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "USER",
            Self::Group => "GROUP",
            Self::Membership => "MEMBERSHIP",
            Self::PoolSnapshot => "POOL_SNAPSHOT",
            Self::ExportMarker => "EXPORT_MARKER",
            Self::Tombstone => "TOMBSTONE",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// Which export run last saw the item in the pool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Confirmation {
    pub schema_version: u32,
    /// The run's export timestamp (epoch milliseconds).
    pub last_confirmed_at: i64,
    pub export_run_id: String,
}

impl Confirmation {
    pub fn new(export_timestamp: i64, export_run_id: impl Into<String>) -> Self {
        Self {
            schema_version: SCHEMA_VERSION,
            last_confirmed_at: export_timestamp,
            export_run_id: export_run_id.into(),
        }
    }
}

/// Any item of the backup table.
#[derive(Debug, Clone, PartialEq)]
pub enum BackupItem {
    User(UserItem),
    Group(GroupItem),
    Membership(MembershipItem),
    PoolSnapshot(PoolSnapshotItem),
    ExportMarker(ExportMarkerItem),
    Tombstone(TombstoneItem),
}

impl BackupItem {
    pub fn key(&self) -> ItemKey {
        match self {
            Self::User(u) => ItemKey::user(&u.sub),
            Self::Group(g) => ItemKey::group(&g.group_name),
            Self::Membership(m) => ItemKey::membership(&m.group_name, &m.sub),
            Self::PoolSnapshot(_) => ItemKey::pool_snapshot(),
            Self::ExportMarker(_) => ItemKey::export_marker(),
            Self::Tombstone(t) => t.deleted_key.clone(),
        }
    }

    pub fn item_type(&self) -> ItemType {
        match self {
            Self::User(_) => ItemType::User,
            Self::Group(_) => ItemType::Group,
            Self::Membership(_) => ItemType::Membership,
            Self::PoolSnapshot(_) => ItemType::PoolSnapshot,
            Self::ExportMarker(_) => ItemType::ExportMarker,
            Self::Tombstone(_) => ItemType::Tombstone,
        }
    }

    /// Who confirmed the item and when; the export marker has none.
    pub fn confirmation(&self) -> Option<&Confirmation> {
        match self {
            Self::User(i) => Some(&i.confirmed),
            Self::Group(i) => Some(&i.confirmed),
            Self::Membership(i) => Some(&i.confirmed),
            Self::PoolSnapshot(i) => Some(&i.confirmed),
            Self::Tombstone(i) => Some(&i.confirmed),
            Self::ExportMarker(_) => None,
        }
    }

    /// When the item's state was read from Cognito (epoch ms).
    pub fn last_confirmed_at(&self) -> Option<i64> {
        self.confirmation().map(|c| c.last_confirmed_at)
    }

    /// Whether both items describe the same state, whoever read it and when.
    pub fn same_content(&self, other: &BackupItem) -> bool {
        fn unconfirmed(item: &BackupItem) -> BackupItem {
            let mut item = item.clone();
            let blank =
                Confirmation { schema_version: SCHEMA_VERSION, last_confirmed_at: 0, export_run_id: String::new() };
            match &mut item {
                BackupItem::User(i) => i.confirmed = blank,
                BackupItem::Group(i) => i.confirmed = blank,
                BackupItem::Membership(i) => i.confirmed = blank,
                BackupItem::PoolSnapshot(i) => i.confirmed = blank,
                BackupItem::Tombstone(i) => i.confirmed = blank,
                BackupItem::ExportMarker(_) => {}
            }
            item
        }
        unconfirmed(self) == unconfirmed(other)
    }

    pub fn as_user(&self) -> Option<&UserItem> {
        if let Self::User(i) = self { Some(i) } else { None }
    }
    pub fn into_user(self) -> Option<UserItem> {
        if let Self::User(i) = self { Some(i) } else { None }
    }
    pub fn as_group(&self) -> Option<&GroupItem> {
        if let Self::Group(i) = self { Some(i) } else { None }
    }
    pub fn into_group(self) -> Option<GroupItem> {
        if let Self::Group(i) = self { Some(i) } else { None }
    }
    pub fn as_membership(&self) -> Option<&MembershipItem> {
        if let Self::Membership(i) = self { Some(i) } else { None }
    }
    pub fn into_membership(self) -> Option<MembershipItem> {
        if let Self::Membership(i) = self { Some(i) } else { None }
    }
    pub fn as_pool_snapshot(&self) -> Option<&PoolSnapshotItem> {
        if let Self::PoolSnapshot(i) = self { Some(i) } else { None }
    }
    pub fn into_pool_snapshot(self) -> Option<PoolSnapshotItem> {
        if let Self::PoolSnapshot(i) = self { Some(i) } else { None }
    }
    pub fn as_export_marker(&self) -> Option<&ExportMarkerItem> {
        if let Self::ExportMarker(i) = self { Some(i) } else { None }
    }
    pub fn into_export_marker(self) -> Option<ExportMarkerItem> {
        if let Self::ExportMarker(i) = self { Some(i) } else { None }
    }
    pub fn as_tombstone(&self) -> Option<&TombstoneItem> {
        if let Self::Tombstone(i) = self { Some(i) } else { None }
    }

    /// The item's attributes besides its key and type, as JSON (what the store persists).
    pub fn body(&self) -> serde_json::Result<serde_json::Value> {
        match self {
            Self::User(i) => serde_json::to_value(i),
            Self::Group(i) => serde_json::to_value(i),
            Self::Membership(i) => serde_json::to_value(i),
            Self::PoolSnapshot(i) => serde_json::to_value(i),
            Self::ExportMarker(i) => serde_json::to_value(i),
            Self::Tombstone(i) => serde_json::to_value(i),
        }
    }

    /// Rebuilds an item from its type and body, refusing unknown schema versions.
    pub fn from_body(item_type: ItemType, body: serde_json::Value) -> Result<Self, MalformedItem> {
        let version = body.get("schemaVersion").and_then(serde_json::Value::as_u64).unwrap_or(0);
        if version == 0 || version > u64::from(SCHEMA_VERSION) {
            return Err(MalformedItem(format!(
                "schemaVersion {version} is not supported by this release (it reads version {SCHEMA_VERSION}); \
                 restore with the release that wrote the backup"
            )));
        }
        let bad = |e: serde_json::Error| MalformedItem(format!("{} item: {e}", item_type.as_str()));
        Ok(match item_type {
            ItemType::User => Self::User(serde_json::from_value(body).map_err(bad)?),
            ItemType::Group => Self::Group(serde_json::from_value(body).map_err(bad)?),
            ItemType::Membership => Self::Membership(serde_json::from_value(body).map_err(bad)?),
            ItemType::PoolSnapshot => Self::PoolSnapshot(serde_json::from_value(body).map_err(bad)?),
            ItemType::ExportMarker => Self::ExportMarker(serde_json::from_value(body).map_err(bad)?),
            ItemType::Tombstone => Self::Tombstone(serde_json::from_value(body).map_err(bad)?),
        })
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("malformed backup item: {0}")]
pub struct MalformedItem(pub String);

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn items_round_trip_through_their_body() {
        let user = UserItem {
            confirmed: Confirmation::new(1_700_000_000_000, "run-1"),
            sub: "0f0e-sub".into(),
            username: "alice".into(),
            pseudo_username: Some("alice".into()),
            attributes: BTreeMap::from([("custom:note".into(), " a,b \"c\"\n\\ ü ".into())]),
            enabled: false,
            status: UserStatus::Unconfirmed,
            federated: false,
            created_at: Some("2024-01-01T00:00:00Z".into()),
            last_modified_at: None,
            mfa_options: vec![MfaOption {
                delivery_medium: Some("SMS".into()),
                attribute_name: Some("phone_number".into()),
            }],
            mfa_settings: Some(UserMfaSettings { enabled: vec!["SMS_MFA".into()], preferred: Some("SMS_MFA".into()) }),
        };
        let item = BackupItem::User(user);
        let back = BackupItem::from_body(ItemType::User, item.body().unwrap()).unwrap();
        assert_eq!(back, item);
        assert_eq!(item.key(), ItemKey::user("0f0e-sub"));
    }

    #[test]
    fn newer_schema_versions_are_refused_with_a_clear_message() {
        let body = serde_json::json!({"schemaVersion": 99, "groupName": "g"});
        let err = BackupItem::from_body(ItemType::Group, body).unwrap_err();
        assert!(err.to_string().contains("schemaVersion 99"), "{err}");
        let err = BackupItem::from_body(ItemType::Group, serde_json::json!({"schemaVersion": 1})).unwrap_err();
        assert!(err.to_string().contains("GROUP item"), "{err}");
    }
}
