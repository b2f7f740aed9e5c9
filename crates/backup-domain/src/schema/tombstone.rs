use serde::{Deserialize, Serialize};

use super::{Confirmation, ItemKey, ItemType};

/// A user, group or membership seen deleted (by change capture), at the key it had: its
/// `lastConfirmedAt` is when the deletion was observed, so an export that listed the item earlier cannot
/// bring it back (its write is older). Restores skip tombstones; the next export's clean-up removes them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TombstoneItem {
    #[serde(flatten)]
    pub confirmed: Confirmation,
    pub deleted_key: ItemKey,
    pub deleted_type: ItemType,
    /// The call that deleted it, e.g. `AdminDeleteUser`.
    pub cause: String,
    /// A deleted user as the backup last held it, so `cognito-backup restore-user` can still bring it
    /// back until the next export's clean-up removes the tombstone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_user: Option<Box<super::UserItem>>,
}
