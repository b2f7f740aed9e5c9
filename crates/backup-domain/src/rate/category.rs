/// Cognito user-pool API quota categories (cognito-facts.md §4.1), with their default requests per second.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub enum QuotaCategory {
    UserList,
    UserRead,
    UserCreation,
    UserUpdate,
    UserResourceRead,
    UserResourceUpdate,
    UserPoolRead,
    UserPoolUpdate,
    UserPoolResourceRead,
    UserPoolResourceUpdate,
}

/// Operations of the UserPoolResource* categories are also capped per user pool (the quotas page's
/// "+5/pool/op" footnote), below the account-wide rate.
const PER_POOL_OPERATION_RPS: f64 = 5.0;

impl QuotaCategory {
    pub const ALL: [QuotaCategory; 10] = [
        Self::UserList,
        Self::UserRead,
        Self::UserCreation,
        Self::UserUpdate,
        Self::UserResourceRead,
        Self::UserResourceUpdate,
        Self::UserPoolRead,
        Self::UserPoolUpdate,
        Self::UserPoolResourceRead,
        Self::UserPoolResourceUpdate,
    ];

    /// Default account-level requests per second of the category.
    pub fn default_rps(self) -> f64 {
        match self {
            Self::UserList => 30.0,
            Self::UserRead => 120.0,
            Self::UserCreation => 50.0,
            Self::UserUpdate => 25.0,
            Self::UserResourceRead => 50.0,
            Self::UserResourceUpdate => 25.0,
            Self::UserPoolRead => 15.0,
            Self::UserPoolUpdate => 15.0,
            Self::UserPoolResourceRead => 20.0,
            Self::UserPoolResourceUpdate => 15.0,
        }
    }

    /// The rate one workflow may reach against one pool: the category's quota, or the per-pool cap of
    /// its operations when that is lower.
    pub fn pool_rps(self) -> f64 {
        match self {
            Self::UserPoolResourceRead | Self::UserPoolResourceUpdate => self.default_rps().min(PER_POOL_OPERATION_RPS),
            _ => self.default_rps(),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::UserList => "UserList",
            Self::UserRead => "UserRead",
            Self::UserCreation => "UserCreation",
            Self::UserUpdate => "UserUpdate",
            Self::UserResourceRead => "UserResourceRead",
            Self::UserResourceUpdate => "UserResourceUpdate",
            Self::UserPoolRead => "UserPoolRead",
            Self::UserPoolUpdate => "UserPoolUpdate",
            Self::UserPoolResourceRead => "UserPoolResourceRead",
            Self::UserPoolResourceUpdate => "UserPoolResourceUpdate",
        }
    }
}
