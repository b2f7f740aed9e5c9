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

/// The Cognito operations the ports make, each in its quota category: the one mapping the rate budget,
/// the in-memory pool's quota model and the reports share.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PoolOperation {
    Describe,
    ListUsers,
    ListGroups,
    GetGroup,
    ListUsersInGroup,
    GetUser,
    GroupsOfUser,
    CsvHeader,
    CreateGroup,
    UpdateGroup,
    CreateUser,
    UpdateUserAttributes,
    SetEnabled,
    AddToGroup,
    CreateImportJob,
    StartImportJob,
    DescribeImportJob,
}

impl PoolOperation {
    pub fn category(self) -> QuotaCategory {
        match self {
            Self::Describe | Self::CsvHeader | Self::DescribeImportJob => QuotaCategory::UserPoolRead,
            Self::ListUsers | Self::ListUsersInGroup => QuotaCategory::UserList,
            Self::ListGroups | Self::GetGroup => QuotaCategory::UserPoolResourceRead,
            Self::CreateGroup | Self::UpdateGroup => QuotaCategory::UserPoolResourceUpdate,
            Self::GetUser => QuotaCategory::UserRead,
            Self::GroupsOfUser => QuotaCategory::UserResourceRead,
            Self::CreateUser => QuotaCategory::UserCreation,
            Self::UpdateUserAttributes | Self::SetEnabled => QuotaCategory::UserUpdate,
            Self::AddToGroup => QuotaCategory::UserResourceUpdate,
            Self::CreateImportJob | Self::StartImportJob => QuotaCategory::UserPoolUpdate,
        }
    }

    /// The port method's name (`list_users`), as tests count calls.
    pub fn name(self) -> &'static str {
        match self {
            Self::Describe => "describe",
            Self::ListUsers => "list_users",
            Self::ListGroups => "list_groups",
            Self::GetGroup => "get_group",
            Self::ListUsersInGroup => "list_users_in_group",
            Self::GetUser => "get_user",
            Self::GroupsOfUser => "groups_of_user",
            Self::CsvHeader => "csv_header",
            Self::CreateGroup => "create_group",
            Self::UpdateGroup => "update_group",
            Self::CreateUser => "create_user",
            Self::UpdateUserAttributes => "update_user_attributes",
            Self::SetEnabled => "set_enabled",
            Self::AddToGroup => "add_to_group",
            Self::CreateImportJob => "create_import_job",
            Self::StartImportJob => "start_import_job",
            Self::DescribeImportJob => "import_job",
        }
    }
}
