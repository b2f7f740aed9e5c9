use serde::{Deserialize, Serialize};

use super::Confirmation;

/// One group (`pk = GROUP#<name>`, `sk = GROUP`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupItem {
    #[serde(flatten)]
    pub confirmed: Confirmation,
    pub group_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Absent when the group has no precedence (0 is a real precedence).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub precedence: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified_at: Option<String>,
}
