//! Which way each backed-up user goes into the target pool, and with which attributes.
//!
//! - CSV import job: fastest and adds no MAU cost, but only for users Cognito's import accepts and whose
//!   values the CSV dialect carries exactly. They arrive in RESET_REQUIRED (they set a new password).
//! - AdminCreateUser (messages suppressed): users the CSV path cannot take; they arrive in
//!   FORCE_CHANGE_PASSWORD and need a temporary password from the administrator or a resent invitation.
//!   Users disabled in the backup always go this way: each is disabled right after it is created, and
//!   nobody knows the temporary password Cognito generated meanwhile, so it is never usable. (An
//!   imported user would be enabled, able to reset its password, until the job finished.)
//! - Not restorable: listed in the report with the reason, never dropped silently.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::csv_dialect::{self, CsvRefusal};
use crate::schema::{MfaConfiguration, PoolSnapshot, UserItem, UserStatus};

/// Attributes a restore never writes: Cognito generates or manages them.
const NEVER_WRITTEN: &[&str] = &["sub", "identities", "cognito:username", "cognito:mfa_enabled"];

/// What the restore needs to know about the target pool.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TargetProfile {
    pub pool_id: String,
    pub username_attributes: Vec<String>,
    pub auto_verified_attributes: Vec<String>,
    pub required_attributes: Vec<String>,
    /// Attributes the target's schema has (standard and `custom:*`), developer-only ones excluded.
    pub writable_attributes: BTreeSet<String>,
    /// Attributes that can only be written when a user is created.
    #[serde(default)]
    pub immutable_attributes: BTreeSet<String>,
    pub mfa_configuration: MfaConfiguration,
    /// The columns GetCSVHeader returned.
    pub csv_header: Vec<String>,
}

impl TargetProfile {
    pub fn new(target: &PoolSnapshot, csv_header: Vec<String>) -> Self {
        Self {
            pool_id: target.pool_id.clone(),
            username_attributes: target.username_attributes.clone(),
            auto_verified_attributes: target.auto_verified_attributes.clone(),
            required_attributes: target
                .schema
                .iter()
                .filter(|a| a.required == Some(true) && a.name != "sub")
                .map(|a| a.name.clone())
                .collect(),
            writable_attributes: target
                .schema
                .iter()
                .filter(|a| a.developer_only != Some(true) && !NEVER_WRITTEN.contains(&a.name.as_str()))
                .map(|a| a.name.clone())
                .collect(),
            immutable_attributes: target
                .schema
                .iter()
                .filter(|a| a.mutable == Some(false) && !NEVER_WRITTEN.contains(&a.name.as_str()))
                .map(|a| a.name.clone())
                .collect(),
            mfa_configuration: target.mfa_configuration.clone(),
            csv_header,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "path", content = "reason", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RestorePath {
    CsvImport,
    AdminCreateUser(String),
    NotRestorable(String),
}

/// The user's attributes the target can store, and the names of those it cannot (never their values).
pub fn restorable_attributes(user: &UserItem, target: &TargetProfile) -> (BTreeMap<String, String>, Vec<String>) {
    let mut kept = BTreeMap::new();
    let mut dropped = Vec::new();
    for (name, value) in &user.attributes {
        if NEVER_WRITTEN.contains(&name.as_str()) {
            continue;
        }
        if target.writable_attributes.contains(name) {
            kept.insert(name.clone(), value.clone());
        } else {
            dropped.push(name.clone());
        }
    }
    (kept, dropped)
}

fn is_true(attributes: &BTreeMap<String, String>, name: &str) -> bool {
    attributes.get(name).is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

/// The CSV row values of a user (before the dialect checks them).
pub fn csv_values(user: &UserItem, target: &TargetProfile) -> BTreeMap<String, String> {
    let (mut values, _) = restorable_attributes(user, target);
    values.insert("cognito:username".into(), user.pseudo_username.clone().unwrap_or_default());
    values.insert("cognito:mfa_enabled".into(), (target.mfa_configuration == MfaConfiguration::On).to_string());
    values
}

/// Decides how `user` is restored into `target`.
pub fn decide(user: &UserItem, target: &TargetProfile) -> RestorePath {
    if user.federated {
        return RestorePath::NotRestorable(
            "federated user: it is recreated when it next signs in through its identity provider \
             (link it to a native user with AdminLinkProviderForUser if it had one)"
                .into(),
        );
    }
    if user.pseudo_username.is_none() {
        return RestorePath::NotRestorable(format!(
            "no value for the username attribute(s) {:?}, so it has no name in the target pool",
            target.username_attributes
        ));
    }
    if let Some(missing) =
        target.required_attributes.iter().find(|a| user.attributes.get(*a).is_none_or(|v| v.trim().is_empty()))
    {
        return RestorePath::NotRestorable(format!(
            "the target pool requires attribute {missing}, which the user has no value for"
        ));
    }
    if user.status == UserStatus::Unconfirmed {
        return RestorePath::AdminCreateUser("unconfirmed in the source pool: an import job would confirm it".into());
    }
    if !user.enabled {
        return RestorePath::AdminCreateUser(
            "disabled in the backup: created and disabled at once, so it is never usable (an import job would leave it \
             enabled until the job ends)"
                .into(),
        );
    }
    if target.auto_verified_attributes.is_empty() {
        return RestorePath::AdminCreateUser(
            "the target pool has no auto-verified attribute, so import jobs cannot run".into(),
        );
    }
    let verified = |attr: &String| {
        is_true(&user.attributes, &format!("{attr}_verified"))
            && user.attributes.get(attr).is_some_and(|v| !v.is_empty())
    };
    let ok = if target.auto_verified_attributes.len() == 1 {
        verified(&target.auto_verified_attributes[0])
    } else {
        target.auto_verified_attributes.iter().any(verified)
    };
    if !ok {
        return RestorePath::AdminCreateUser(format!(
            "no verified {} (an import job requires one)",
            target.auto_verified_attributes.join(" or ")
        ));
    }
    match csv_dialect::row(&target.csv_header, &csv_values(user, target)) {
        Ok(_) => RestorePath::CsvImport,
        Err(CsvRefusal::UncarriableValue(column)) => RestorePath::AdminCreateUser(format!(
            "attribute {column} has a value the CSV dialect would change (line break, surrounding whitespace or backslash)"
        )),
        Err(CsvRefusal::RowTooLong(n)) => {
            RestorePath::AdminCreateUser(format!("its CSV row would be {n} characters, over Cognito's 16,000"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{Confirmation, SchemaAttribute};

    fn target(auto_verified: &[&str]) -> TargetProfile {
        let attr = |name: &str, required: bool| SchemaAttribute {
            name: name.into(),
            required: Some(required),
            ..Default::default()
        };
        let snapshot = PoolSnapshot {
            pool_id: "t".into(),
            auto_verified_attributes: auto_verified.iter().map(|s| s.to_string()).collect(),
            schema: vec![
                attr("sub", true),
                attr("email", false),
                attr("email_verified", false),
                attr("custom:tier", false),
            ],
            ..Default::default()
        };
        let header = ["cognito:username", "email", "email_verified", "custom:tier", "cognito:mfa_enabled"];
        TargetProfile::new(&snapshot, header.map(String::from).to_vec())
    }

    fn user(attrs: &[(&str, &str)]) -> UserItem {
        UserItem {
            confirmed: Confirmation::new(1, "r"),
            sub: "s".into(),
            username: "alice".into(),
            pseudo_username: Some("alice".into()),
            attributes: attrs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            enabled: true,
            status: UserStatus::Confirmed,
            federated: false,
            created_at: None,
            last_modified_at: None,
            mfa_options: vec![],
            mfa_settings: None,
        }
    }

    #[test]
    fn verified_users_with_carriable_values_go_by_csv() {
        let u = user(&[("email", "a@x.org"), ("email_verified", "true"), ("custom:tier", "gold, plus")]);
        assert_eq!(decide(&u, &target(&["email"])), RestorePath::CsvImport);
    }

    #[test]
    fn users_the_csv_path_cannot_take_are_created_directly() {
        let t = target(&["email"]);
        let unverified = user(&[("email", "a@x.org"), ("email_verified", "false")]);
        assert!(matches!(decide(&unverified, &t), RestorePath::AdminCreateUser(r) if r.contains("verified")));
        let newline = user(&[("email", "a@x.org"), ("email_verified", "true"), ("custom:tier", "a\nb")]);
        assert!(matches!(decide(&newline, &t), RestorePath::AdminCreateUser(r) if r.contains("custom:tier")));
        let mut unconfirmed = user(&[("email", "a@x.org"), ("email_verified", "true")]);
        unconfirmed.status = UserStatus::Unconfirmed;
        assert!(matches!(decide(&unconfirmed, &t), RestorePath::AdminCreateUser(_)));
        let mut disabled = user(&[("email", "a@x.org"), ("email_verified", "true")]);
        disabled.enabled = false;
        assert!(matches!(decide(&disabled, &t), RestorePath::AdminCreateUser(r) if r.contains("disabled")));
        let verified = user(&[("email", "a@x.org"), ("email_verified", "true")]);
        assert!(
            matches!(decide(&verified, &target(&[])), RestorePath::AdminCreateUser(r) if r.contains("auto-verified"))
        );
    }

    #[test]
    fn federated_and_nameless_users_are_reported_not_dropped() {
        let t = target(&["email"]);
        let mut federated = user(&[]);
        federated.federated = true;
        assert!(matches!(decide(&federated, &t), RestorePath::NotRestorable(r) if r.contains("federated")));
        let mut nameless = user(&[]);
        nameless.pseudo_username = None;
        assert!(matches!(decide(&nameless, &t), RestorePath::NotRestorable(_)));
    }

    #[test]
    fn attributes_unknown_to_the_target_are_named_as_dropped() {
        let u = user(&[("sub", "s"), ("email", "a@x.org"), ("custom:gone", "v"), ("identities", "[]")]);
        let (kept, dropped) = restorable_attributes(&u, &target(&["email"]));
        assert_eq!(kept.keys().collect::<Vec<_>>(), vec!["email"]);
        assert_eq!(dropped, vec!["custom:gone"]);
    }
}
