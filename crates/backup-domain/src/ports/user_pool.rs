use std::collections::BTreeMap;

use async_trait::async_trait;

use super::{Page, PortError};
use crate::schema::{MfaOption, PoolSnapshot, UserMfaSettings, UserStatus};

/// A user as the user pool lists it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PoolUser {
    pub username: String,
    pub attributes: BTreeMap<String, String>,
    pub enabled: bool,
    pub status: UserStatus,
    pub created_at: Option<String>,
    pub last_modified_at: Option<String>,
    pub mfa_options: Vec<MfaOption>,
    /// Only AdminGetUser exposes them; `None` from listings.
    pub mfa_settings: Option<UserMfaSettings>,
}

impl PoolUser {
    pub fn sub(&self) -> Option<&str> {
        self.attributes.get("sub").map(String::as_str).filter(|s| !s.is_empty())
    }

    pub fn is_federated(&self) -> bool {
        self.status == UserStatus::ExternalProvider
    }
}

/// A group as the user pool lists it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PoolGroup {
    pub name: String,
    pub description: Option<String>,
    pub precedence: Option<i32>,
    pub role_arn: Option<String>,
    pub created_at: Option<String>,
    pub last_modified_at: Option<String>,
}

/// The pool's configuration and its own estimate of its size.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PoolDescription {
    pub snapshot: PoolSnapshot,
    /// `EstimatedNumberOfUsers`.
    pub estimated_users: u64,
}

/// The one attribute filter ListUsers takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserFilter {
    /// `sub ^= "…"`
    SubPrefix(String),
    /// `sub = "…"`
    Sub(String),
    /// `username = "…"`
    Username(String),
    /// `email = "…"`
    Email(String),
}

impl UserFilter {
    /// Cognito's filter expression; quotes and backslashes in the value are escaped.
    pub fn expression(&self) -> String {
        let (attribute, operator, value) = match self {
            Self::SubPrefix(v) => ("sub", "^=", v),
            Self::Sub(v) => ("sub", "=", v),
            Self::Username(v) => ("username", "=", v),
            Self::Email(v) => ("email", "=", v),
        };
        format!("{attribute} {operator} \"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""))
    }
}

/// The user pool being backed up (read side).
#[async_trait]
pub trait UserPool: Send + Sync {
    fn pool_id(&self) -> &str;
    async fn describe(&self) -> Result<PoolDescription, PortError>;
    async fn list_users(&self, filter: Option<&UserFilter>, token: Option<&str>) -> Result<Page<PoolUser>, PortError>;
    async fn list_groups(&self, token: Option<&str>) -> Result<Page<PoolGroup>, PortError>;
    /// `None` when the group does not exist.
    async fn get_group(&self, name: &str) -> Result<Option<PoolGroup>, PortError>;
    async fn list_users_in_group(&self, group: &str, token: Option<&str>) -> Result<Page<PoolUser>, PortError>;
    /// AdminGetUser, with MFA settings; `None` when the user does not exist.
    async fn get_user(&self, username: &str) -> Result<Option<PoolUser>, PortError>;
    /// AdminListGroupsForUser: the names of the user's groups.
    async fn groups_of_user(&self, username: &str, token: Option<&str>) -> Result<Page<String>, PortError>;
}
