use serde::{Deserialize, Serialize};

use super::{Confirmation, MfaConfiguration};

/// The source pool's configuration, as far as a restore needs it to check or recreate a target pool.
/// Only configuration: it changes rarely, so an unchanged export does not rewrite it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PoolSnapshot {
    pub pool_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool_name: Option<String>,
    /// `email` and/or `phone_number` when users sign in with them instead of a username.
    #[serde(default)]
    pub username_attributes: Vec<String>,
    #[serde(default)]
    pub alias_attributes: Vec<String>,
    #[serde(default)]
    pub auto_verified_attributes: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username_case_sensitive: Option<bool>,
    pub mfa_configuration: MfaConfiguration,
    /// Every attribute of the schema, standard and custom, with its constraints.
    #[serde(default)]
    pub schema: Vec<SchemaAttribute>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_policy: Option<PasswordPolicy>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SchemaAttribute {
    /// As the API names it: `email`, `custom:tier`, …
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub developer_only: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mutable: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_length: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_length: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_value: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_value: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PasswordPolicy {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minimum_length: Option<i32>,
    pub require_uppercase: bool,
    pub require_lowercase: bool,
    pub require_numbers: bool,
    pub require_symbols: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temporary_password_validity_days: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_history_size: Option<i32>,
}

/// The pool snapshot item (`pk = POOL`, `sk = SNAPSHOT`), rewritten by every export run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PoolSnapshotItem {
    #[serde(flatten)]
    pub confirmed: Confirmation,
    pub pool: PoolSnapshot,
}
