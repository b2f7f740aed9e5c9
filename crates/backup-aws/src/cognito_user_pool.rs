//! The read side of a user pool: what the export lists and the restore compares.

use async_trait::async_trait;
use aws_sdk_cognitoidentityprovider::Client;
use aws_sdk_cognitoidentityprovider::error::ProvideErrorMetadata;
use aws_sdk_cognitoidentityprovider::types::{AttributeType, GroupType, SchemaAttributeType, UserPoolType, UserType};
use aws_smithy_types::DateTime;
use aws_smithy_types::date_time::Format;
use backup_domain::ports::{Page, PoolDescription, PoolGroup, PoolUser, PortError, UserFilter, UserPool};
use backup_domain::schema::{MfaOption, PasswordPolicy, PoolSnapshot, SchemaAttribute, UserMfaSettings};

use crate::errors::port_error;

/// Cognito's largest page for ListUsers, ListGroups, ListUsersInGroup and AdminListGroupsForUser.
const PAGE_LIMIT: i32 = 60;

/// A Cognito user pool, through the Cognito Identity Provider API (reads here, restore writes in
/// `cognito_restore_target`). Build the client with [`crate::cognito_client`]: the rate budget retries.
pub struct CognitoUserPool {
    pub(crate) client: Client,
    pub(crate) pool_id: String,
    hint: String,
    pub(crate) import_jobs: Option<ImportJobSupport>,
}

/// What user import jobs need besides Cognito: the role Cognito logs with, and the logs to read failures.
pub struct ImportJobSupport {
    pub role_arn: String,
    pub logs: aws_sdk_cloudwatchlogs::Client,
}

impl CognitoUserPool {
    pub fn new(client: Client, pool_id: impl Into<String>) -> Self {
        let pool_id = pool_id.into();
        let region = client.config().region().map(|r| r.to_string()).unwrap_or_else(|| "the configured Region".into());
        let hint = format!(
            "Check that user pool {pool_id} exists in {region} and that the function's role may call this Cognito action on it."
        );
        Self { client, pool_id, hint, import_jobs: None }
    }

    pub fn with_import_jobs(mut self, support: ImportJobSupport) -> Self {
        self.import_jobs = Some(support);
        self
    }

    pub(crate) fn import_jobs(&self) -> Result<&ImportJobSupport, PortError> {
        self.import_jobs.as_ref().ok_or_else(|| {
            PortError::InvalidRequest(
                "this function was not configured for user import jobs (USER_IMPORT_ROLE_ARN)".into(),
            )
        })
    }

    pub(crate) fn err<E>(&self, operation: &str, e: E) -> PortError
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        port_error(&format!("{operation} on user pool {}", self.pool_id), &self.hint, e)
    }

    /// A listing error: a token Cognito no longer accepts ("Paging marker … is invalid", an expired or
    /// foreign token) means the listing must start again.
    fn list_err<E>(&self, operation: &str, had_token: bool, e: E) -> PortError
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let token_refused = had_token
            && e.code() == Some("InvalidParameterException")
            && e.message().is_some_and(|m| {
                let m = m.to_ascii_lowercase();
                m.contains("paging marker") || m.contains("pagination token") || m.contains("token")
            });
        if token_refused {
            return PortError::ExpiredToken(format!(
                "{operation} on user pool {}: the pagination token is no longer accepted",
                self.pool_id
            ));
        }
        self.err(operation, e)
    }
}

fn iso(d: Option<&DateTime>) -> Option<String> {
    d.and_then(|d| d.fmt(Format::DateTime).ok())
}

fn attributes(list: &[AttributeType]) -> std::collections::BTreeMap<String, String> {
    list.iter().map(|a| (a.name().to_owned(), a.value().unwrap_or_default().to_owned())).collect()
}

fn pool_user(u: &UserType) -> PoolUser {
    PoolUser {
        username: u.username().unwrap_or_default().to_owned(),
        attributes: attributes(u.attributes()),
        enabled: u.enabled(),
        status: u.user_status().map(|s| s.as_str()).unwrap_or_default().into(),
        created_at: iso(u.user_create_date()),
        last_modified_at: iso(u.user_last_modified_date()),
        mfa_options: u
            .mfa_options()
            .iter()
            .map(|o| MfaOption {
                delivery_medium: o.delivery_medium().map(|d| d.as_str().to_owned()),
                attribute_name: o.attribute_name().map(str::to_owned),
            })
            .collect(),
        mfa_settings: None,
    }
}

pub(crate) fn pool_group(g: &GroupType) -> PoolGroup {
    PoolGroup {
        name: g.group_name().unwrap_or_default().to_owned(),
        // An empty description and none restore the same way; some Cognito implementations send "".
        description: g.description().filter(|d| !d.is_empty()).map(str::to_owned),
        precedence: g.precedence(),
        role_arn: g.role_arn().map(str::to_owned),
        created_at: iso(g.creation_date()),
        last_modified_at: iso(g.last_modified_date()),
    }
}

fn schema_attribute(a: &SchemaAttributeType) -> SchemaAttribute {
    let strings = a.string_attribute_constraints();
    let numbers = a.number_attribute_constraints();
    SchemaAttribute {
        name: a.name().unwrap_or_default().to_owned(),
        data_type: a.attribute_data_type().map(|t| t.as_str().to_owned()),
        developer_only: a.developer_only_attribute(),
        mutable: a.mutable(),
        required: a.required(),
        min_length: strings.and_then(|s| s.min_length()).map(str::to_owned),
        max_length: strings.and_then(|s| s.max_length()).map(str::to_owned),
        min_value: numbers.and_then(|n| n.min_value()).map(str::to_owned),
        max_value: numbers.and_then(|n| n.max_value()).map(str::to_owned),
    }
}

fn snapshot(pool_id: &str, p: &UserPoolType) -> PoolSnapshot {
    PoolSnapshot {
        pool_id: pool_id.to_owned(),
        pool_name: p.name().map(str::to_owned),
        username_attributes: p.username_attributes().iter().map(|a| a.as_str().to_owned()).collect(),
        alias_attributes: p.alias_attributes().iter().map(|a| a.as_str().to_owned()).collect(),
        auto_verified_attributes: p.auto_verified_attributes().iter().map(|a| a.as_str().to_owned()).collect(),
        username_case_sensitive: p.username_configuration().map(|c| c.case_sensitive()),
        mfa_configuration: p.mfa_configuration().map(|m| m.as_str()).unwrap_or("OFF").into(),
        schema: p.schema_attributes().iter().map(schema_attribute).collect(),
        password_policy: p.policies().and_then(|p| p.password_policy()).map(|pp| PasswordPolicy {
            minimum_length: pp.minimum_length(),
            require_uppercase: pp.require_uppercase(),
            require_lowercase: pp.require_lowercase(),
            require_numbers: pp.require_numbers(),
            require_symbols: pp.require_symbols(),
            temporary_password_validity_days: Some(pp.temporary_password_validity_days()).filter(|d| *d > 0),
            password_history_size: pp.password_history_size(),
        }),
    }
}

#[async_trait]
impl UserPool for CognitoUserPool {
    fn pool_id(&self) -> &str {
        &self.pool_id
    }

    async fn describe(&self) -> Result<PoolDescription, PortError> {
        let out = self
            .client
            .describe_user_pool()
            .user_pool_id(&self.pool_id)
            .send()
            .await
            .map_err(|e| self.err("DescribeUserPool", e))?;
        let pool = out
            .user_pool()
            .ok_or_else(|| PortError::Unavailable(format!("DescribeUserPool returned no pool for {}", self.pool_id)))?;
        Ok(PoolDescription {
            snapshot: snapshot(&self.pool_id, pool),
            estimated_users: pool.estimated_number_of_users().max(0) as u64,
        })
    }

    async fn list_users(&self, filter: Option<&UserFilter>, token: Option<&str>) -> Result<Page<PoolUser>, PortError> {
        let out = self
            .client
            .list_users()
            .user_pool_id(&self.pool_id)
            .limit(PAGE_LIMIT)
            .set_filter(filter.map(UserFilter::expression))
            .set_pagination_token(token.map(str::to_owned))
            .send()
            .await
            .map_err(|e| self.list_err("ListUsers", token.is_some(), e))?;
        Ok(Page {
            items: out.users().iter().map(pool_user).collect(),
            next: out.pagination_token().filter(|t| !t.is_empty()).map(str::to_owned),
        })
    }

    async fn list_groups(&self, token: Option<&str>) -> Result<Page<PoolGroup>, PortError> {
        let out = self
            .client
            .list_groups()
            .user_pool_id(&self.pool_id)
            .limit(PAGE_LIMIT)
            .set_next_token(token.map(str::to_owned))
            .send()
            .await
            .map_err(|e| self.list_err("ListGroups", token.is_some(), e))?;
        Ok(Page {
            items: out.groups().iter().map(pool_group).collect(),
            next: out.next_token().filter(|t| !t.is_empty()).map(str::to_owned),
        })
    }

    async fn get_group(&self, name: &str) -> Result<Option<PoolGroup>, PortError> {
        match self.client.get_group().user_pool_id(&self.pool_id).group_name(name).send().await {
            Ok(out) => Ok(out.group().map(pool_group)),
            // A missing group and a missing pool both answer ResourceNotFound; callers that must tell
            // them apart ask DescribeUserPool (see the export's memberships step).
            Err(e) if e.as_service_error().is_some_and(|s| s.is_resource_not_found_exception()) => Ok(None),
            Err(e) => Err(self.err("GetGroup", e)),
        }
    }

    async fn list_users_in_group(&self, group: &str, token: Option<&str>) -> Result<Page<PoolUser>, PortError> {
        let out = self
            .client
            .list_users_in_group()
            .user_pool_id(&self.pool_id)
            .group_name(group)
            .limit(PAGE_LIMIT)
            .set_next_token(token.map(str::to_owned))
            .send()
            .await
            .map_err(|e| self.list_err("ListUsersInGroup", token.is_some(), e))?;
        Ok(Page {
            items: out.users().iter().map(pool_user).collect(),
            next: out.next_token().filter(|t| !t.is_empty()).map(str::to_owned),
        })
    }

    async fn get_user(&self, username: &str) -> Result<Option<PoolUser>, PortError> {
        match self.client.admin_get_user().user_pool_id(&self.pool_id).username(username).send().await {
            Ok(out) => Ok(Some(PoolUser {
                username: out.username().to_owned(),
                attributes: attributes(out.user_attributes()),
                enabled: out.enabled(),
                status: out.user_status().map(|s| s.as_str()).unwrap_or_default().into(),
                created_at: iso(out.user_create_date()),
                last_modified_at: iso(out.user_last_modified_date()),
                mfa_options: Vec::new(),
                mfa_settings: Some(UserMfaSettings {
                    enabled: out.user_mfa_setting_list().to_vec(),
                    preferred: out.preferred_mfa_setting().filter(|p| !p.is_empty()).map(str::to_owned),
                }),
            })),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_user_not_found_exception()) => Ok(None),
            Err(e) => Err(self.err("AdminGetUser", e)),
        }
    }

    async fn groups_of_user(&self, username: &str, token: Option<&str>) -> Result<Page<String>, PortError> {
        let out = self
            .client
            .admin_list_groups_for_user()
            .user_pool_id(&self.pool_id)
            .username(username)
            .limit(PAGE_LIMIT)
            .set_next_token(token.map(str::to_owned))
            .send()
            .await
            .map_err(|e| self.list_err("AdminListGroupsForUser", token.is_some(), e))?;
        Ok(Page {
            items: out.groups().iter().filter_map(|g| g.group_name().map(str::to_owned)).collect(),
            next: out.next_token().filter(|t| !t.is_empty()).map(str::to_owned),
        })
    }
}
