//! Names shared by the Lambda handlers, the infra crate and the local cloud: each is defined here once.

use std::collections::BTreeMap;

use thiserror::Error;

/// Environment variables read by the workflow Lambdas.
pub mod env {
    /// The user pool the ExportWorkflow backs up.
    pub const USER_POOL_ID: &str = "USER_POOL_ID";
    /// The DynamoDB backup table (a global table on AWS).
    pub const BACKUP_TABLE_NAME: &str = "BACKUP_TABLE_NAME";
    /// The Region's S3 bucket for the workflows' state (seen keys, work lists), reports and sub mappings.
    pub const WORKFLOW_BUCKET_NAME: &str = "WORKFLOW_BUCKET_NAME";
    /// SNS topic for workflow notifications.
    pub const NOTIFICATION_TOPIC_ARN: &str = "NOTIFICATION_TOPIC_ARN";
    /// `INFO_AND_ERRORS` or `ERRORS_ONLY`.
    pub const NOTIFICATION_PREFERENCE: &str = "NOTIFICATION_PREFERENCE";
    /// Share of each Cognito quota category the workflows may use, in (0, 1].
    pub const COGNITO_QUOTA_SHARE: &str = "COGNITO_QUOTA_SHARE";
    /// Multiplies every Cognito quota the rate budget assumes (1 on AWS; benchmarks that scale the local
    /// cloud's quotas set the same factor).
    pub const COGNITO_QUOTA_SCALE: &str = "COGNITO_QUOTA_SCALE";
    /// Seconds before the Lambda deadline at which a step stops and hands back its cursor.
    pub const INVOCATION_SAFETY_MARGIN_SECONDS: &str = "INVOCATION_SAFETY_MARGIN_SECONDS";
    /// How many ListUsers listings run at once (1 lists the pool in one sequence).
    pub const USER_LIST_CONCURRENCY: &str = "USER_LIST_CONCURRENCY";
    /// The removal guard's share (of users, groups and memberships each).
    pub const CLEANUP_MAX_REMOVED_SHARE: &str = "CLEANUP_MAX_REMOVED_SHARE";
    /// The removal guard's floors: removing this many or fewer is always allowed.
    pub const CLEANUP_REMOVAL_FLOOR_USERS: &str = "CLEANUP_REMOVAL_FLOOR_USERS";
    pub const CLEANUP_REMOVAL_FLOOR_GROUPS: &str = "CLEANUP_REMOVAL_FLOOR_GROUPS";
    pub const CLEANUP_REMOVAL_FLOOR_MEMBERSHIPS: &str = "CLEANUP_REMOVAL_FLOOR_MEMBERSHIPS";
    /// How far the listed users may fall below the pool's estimate: a share of it, and a number of users.
    pub const EXPORT_COUNT_TOLERANCE_SHARE: &str = "EXPORT_COUNT_TOLERANCE_SHARE";
    pub const EXPORT_COUNT_TOLERANCE_USERS: &str = "EXPORT_COUNT_TOLERANCE_USERS";
    /// The Region's restore ledger table (where each user went; old → new sub; import leases).
    pub const RESTORE_LEDGER_TABLE_NAME: &str = "RESTORE_LEDGER_TABLE_NAME";
    /// The role Cognito assumes to log user import jobs.
    pub const USER_IMPORT_ROLE_ARN: &str = "USER_IMPORT_ROLE_ARN";
    /// Set by Lambda: the function's Region, which is the only Region the ImportWorkflow restores into.
    pub const AWS_REGION: &str = "AWS_REGION";
}

/// Default share of Cognito's quotas: the rest is left to the applications using the pool.
pub const DEFAULT_QUOTA_SHARE: f64 = 0.5;
/// A Lambda running 900 s stops 60 s early: one page of work plus retries fits comfortably.
pub const DEFAULT_SAFETY_MARGIN_SECONDS: u64 = 60;
/// Enough concurrent listings to keep the UserList budget busy at AWS's latency, with room for spikes.
pub const DEFAULT_USER_LIST_CONCURRENCY: usize = 16;

/// The clean-up's removal guard (see `export::completeness`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RemovalGuard {
    pub share: f64,
    pub floor_users: u64,
    pub floor_groups: u64,
    pub floor_memberships: u64,
}

impl Default for RemovalGuard {
    fn default() -> Self {
        Self { share: 0.2, floor_users: 100, floor_groups: 20, floor_memberships: 500 }
    }
}

/// How far the listed users may fall below the pool's own estimate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CountTolerance {
    pub share: f64,
    pub floor: u64,
}

impl Default for CountTolerance {
    fn default() -> Self {
        Self { share: 0.001, floor: 10 }
    }
}

#[derive(Debug, Error, PartialEq)]
pub enum SettingsError {
    #[error(
        "environment variable {name} is not set; the stack sets it on every function, so check the function's configuration"
    )]
    Missing { name: &'static str },
    #[error("environment variable {name} has the value {value:?}, which is not valid: {expected}")]
    Invalid { name: &'static str, value: String, expected: &'static str },
}

/// Which workflow outcomes are published to the notification topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum NotificationPreference {
    InfoAndErrors,
    ErrorsOnly,
}

impl NotificationPreference {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InfoAndErrors => "INFO_AND_ERRORS",
            Self::ErrorsOnly => "ERRORS_ONLY",
        }
    }
}

/// A source of variables: the process environment in Lambdas, a map in tests.
pub trait VarSource {
    fn var(&self, name: &str) -> Option<String>;
}

pub struct ProcessEnv;

impl VarSource for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

impl VarSource for BTreeMap<String, String> {
    fn var(&self, name: &str) -> Option<String> {
        self.get(name).cloned()
    }
}

fn required(src: &dyn VarSource, name: &'static str) -> Result<String, SettingsError> {
    match src.var(name) {
        Some(v) if !v.trim().is_empty() => Ok(v.trim().to_owned()),
        _ => Err(SettingsError::Missing { name }),
    }
}

fn parsed<T: std::str::FromStr>(
    src: &dyn VarSource,
    name: &'static str,
    default: T,
    expected: &'static str,
    valid: impl Fn(&T) -> bool,
) -> Result<T, SettingsError> {
    let Some(raw) = src.var(name).filter(|v| !v.trim().is_empty()) else {
        return Ok(default);
    };
    match raw.trim().parse::<T>() {
        Ok(v) if valid(&v) => Ok(v),
        _ => Err(SettingsError::Invalid { name, value: raw, expected }),
    }
}

/// Settings of the export steps, read once per Lambda cold start.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportSettings {
    pub user_pool_id: String,
    pub backup_table_name: String,
    pub workflow_bucket_name: String,
    pub quota: QuotaSettings,
    pub safety_margin_seconds: u64,
    pub user_list_concurrency: usize,
    pub removal_guard: RemovalGuard,
    pub count_tolerance: CountTolerance,
}

impl ExportSettings {
    pub fn from_vars(src: &dyn VarSource) -> Result<Self, SettingsError> {
        let defaults = RemovalGuard::default();
        let tolerance = CountTolerance::default();
        let floor = |name, default| parsed(src, name, default, "a whole number of items", |_: &u64| true);
        Ok(Self {
            user_pool_id: required(src, env::USER_POOL_ID)?,
            backup_table_name: required(src, env::BACKUP_TABLE_NAME)?,
            workflow_bucket_name: required(src, env::WORKFLOW_BUCKET_NAME)?,
            quota: QuotaSettings::from_vars(src)?,
            safety_margin_seconds: safety_margin_seconds(src)?,
            user_list_concurrency: user_list_concurrency(src)?,
            removal_guard: RemovalGuard {
                share: parsed(
                    src,
                    env::CLEANUP_MAX_REMOVED_SHARE,
                    defaults.share,
                    "a number between 0 and 1",
                    |v: &f64| (0.0..=1.0).contains(v),
                )?,
                floor_users: floor(env::CLEANUP_REMOVAL_FLOOR_USERS, defaults.floor_users)?,
                floor_groups: floor(env::CLEANUP_REMOVAL_FLOOR_GROUPS, defaults.floor_groups)?,
                floor_memberships: floor(env::CLEANUP_REMOVAL_FLOOR_MEMBERSHIPS, defaults.floor_memberships)?,
            },
            count_tolerance: CountTolerance {
                share: parsed(
                    src,
                    env::EXPORT_COUNT_TOLERANCE_SHARE,
                    tolerance.share,
                    "a number between 0 and 1",
                    |v: &f64| (0.0..=1.0).contains(v),
                )?,
                floor: parsed(
                    src,
                    env::EXPORT_COUNT_TOLERANCE_USERS,
                    tolerance.floor,
                    "a whole number of users",
                    |_| true,
                )?,
            },
        })
    }
}

/// Concurrent ListUsers listings (the export's source pool, the verification's target pool).
fn user_list_concurrency(src: &dyn VarSource) -> Result<usize, SettingsError> {
    parsed(src, env::USER_LIST_CONCURRENCY, DEFAULT_USER_LIST_CONCURRENCY, "a whole number from 1 to 64", |v| {
        (1..=64).contains(v)
    })
}

fn safety_margin_seconds(src: &dyn VarSource) -> Result<u64, SettingsError> {
    parsed(
        src,
        env::INVOCATION_SAFETY_MARGIN_SECONDS,
        DEFAULT_SAFETY_MARGIN_SECONDS,
        "a whole number of seconds below 900",
        |v| *v < 900,
    )
}

/// What the rate budget is sized from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QuotaSettings {
    pub share: f64,
    pub scale: f64,
}

impl QuotaSettings {
    pub fn from_vars(src: &dyn VarSource) -> Result<Self, SettingsError> {
        Ok(Self {
            share: parsed(
                src,
                env::COGNITO_QUOTA_SHARE,
                DEFAULT_QUOTA_SHARE,
                "a number greater than 0 and at most 1, e.g. 0.5 for half of each Cognito quota",
                |v: &f64| *v > 0.0 && *v <= 1.0,
            )?,
            scale: parsed(src, env::COGNITO_QUOTA_SCALE, 1.0, "a positive number (1 on AWS)", |v: &f64| *v > 0.0)?,
        })
    }
}

/// Settings of the import steps, read once per Lambda cold start.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportSettings {
    pub region: String,
    pub backup_table_name: String,
    pub ledger_table_name: String,
    pub workflow_bucket_name: String,
    pub user_import_role_arn: String,
    pub quota: QuotaSettings,
    pub safety_margin_seconds: u64,
    pub user_list_concurrency: usize,
}

impl ImportSettings {
    pub fn from_vars(src: &dyn VarSource) -> Result<Self, SettingsError> {
        Ok(Self {
            region: required(src, env::AWS_REGION)?,
            backup_table_name: required(src, env::BACKUP_TABLE_NAME)?,
            ledger_table_name: required(src, env::RESTORE_LEDGER_TABLE_NAME)?,
            workflow_bucket_name: required(src, env::WORKFLOW_BUCKET_NAME)?,
            user_import_role_arn: required(src, env::USER_IMPORT_ROLE_ARN)?,
            quota: QuotaSettings::from_vars(src)?,
            safety_margin_seconds: safety_margin_seconds(src)?,
            user_list_concurrency: user_list_concurrency(src)?,
        })
    }
}

/// Settings of the notification steps.
#[derive(Debug, Clone, PartialEq)]
pub struct NotificationSettings {
    pub topic_arn: String,
    pub preference: NotificationPreference,
}

impl NotificationSettings {
    pub fn from_vars(src: &dyn VarSource) -> Result<Self, SettingsError> {
        let preference = match src.var(env::NOTIFICATION_PREFERENCE).as_deref().map(str::trim) {
            None | Some("") | Some("INFO_AND_ERRORS") => NotificationPreference::InfoAndErrors,
            Some("ERRORS_ONLY") => NotificationPreference::ErrorsOnly,
            Some(other) => {
                return Err(SettingsError::Invalid {
                    name: env::NOTIFICATION_PREFERENCE,
                    value: other.to_owned(),
                    expected: "INFO_AND_ERRORS or ERRORS_ONLY",
                });
            }
        };
        Ok(Self { topic_arn: required(src, env::NOTIFICATION_TOPIC_ARN)?, preference })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn export_settings_use_defaults_and_reject_bad_values() {
        let base =
            [(env::USER_POOL_ID, "us-east-1_abc"), (env::BACKUP_TABLE_NAME, "t"), (env::WORKFLOW_BUCKET_NAME, "b")];
        let s = ExportSettings::from_vars(&vars(&base)).unwrap();
        assert_eq!(s.quota.share, DEFAULT_QUOTA_SHARE);
        assert_eq!(s.user_list_concurrency, 16);
        assert_eq!(s.removal_guard, RemovalGuard::default());

        let mut bad = base.to_vec();
        bad.push((env::COGNITO_QUOTA_SHARE, "1.5"));
        let err = ExportSettings::from_vars(&vars(&bad)).unwrap_err();
        assert!(err.to_string().contains("COGNITO_QUOTA_SHARE"), "{err}");

        let err = ExportSettings::from_vars(&vars(&base[..1])).unwrap_err();
        assert_eq!(err, SettingsError::Missing { name: env::BACKUP_TABLE_NAME });
    }

    #[test]
    fn notification_preference_is_validated() {
        let v = vars(&[(env::NOTIFICATION_TOPIC_ARN, "arn"), (env::NOTIFICATION_PREFERENCE, "ERRORS_ONLY")]);
        assert_eq!(NotificationSettings::from_vars(&v).unwrap().preference, NotificationPreference::ErrorsOnly);
        let v = vars(&[(env::NOTIFICATION_TOPIC_ARN, "arn"), (env::NOTIFICATION_PREFERENCE, "ALL")]);
        assert!(NotificationSettings::from_vars(&v).is_err());
    }
}
