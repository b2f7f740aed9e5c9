use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Confirmation, UserStatus};

/// One user profile (`pk = USER#<sub>`, `sk = PROFILE`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserItem {
    #[serde(flatten)]
    pub confirmed: Confirmation,
    pub sub: String,
    /// Cognito's `Username` in the source pool (a UUID in username-attribute pools).
    pub username: String,
    /// The name the user gets in a restored pool; absent when it cannot be derived (see `pseudo_username`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pseudo_username: Option<String>,
    /// Every attribute ListUsers returns, `sub` and `custom:*` included.
    pub attributes: BTreeMap<String, String>,
    pub enabled: bool,
    pub status: UserStatus,
    /// A federated (EXTERNAL_PROVIDER) user: kept in the backup, restorable only by relinking.
    pub federated: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified_at: Option<String>,
    /// The SMS MFA options ListUsers exposes (TOTP secrets are never exposed by Cognito).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mfa_options: Vec<MfaOption>,
    /// The user's MFA methods and preference (AdminGetUser); read only in pools whose MFA is not OFF.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mfa_settings: Option<UserMfaSettings>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserMfaSettings {
    /// `SMS_MFA`, `SOFTWARE_TOKEN_MFA`, `EMAIL_OTP`, … (TOTP secrets themselves are never exposed).
    #[serde(default)]
    pub enabled: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MfaOption {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery_medium: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attribute_name: Option<String>,
}
