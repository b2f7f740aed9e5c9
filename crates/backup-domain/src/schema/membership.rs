use serde::{Deserialize, Serialize};

use super::Confirmation;

/// One user's membership of one group (`pk = GROUP#<group>`, `sk = MEMBER#<sub>`).
///
/// The member's pseudo-username is not copied here: the user item is its single source, so a restore
/// joins on `sub`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MembershipItem {
    #[serde(flatten)]
    pub confirmed: Confirmation,
    pub group_name: String,
    pub sub: String,
    pub username: String,
    pub federated: bool,
}
