//! Realistic user pools: custom attributes, values that break naive CSV and JSON handling, disabled,
//! unconfirmed and federated users, groups over several pages, users in several groups.

use std::collections::BTreeMap;

use aws_sdk_cognitoidentityprovider::types::{
    AttributeDataType, NumberAttributeConstraintsType, SchemaAttributeType, StringAttributeConstraintsType,
    UsernameAttributeType,
};
use serde::Serialize;

use crate::Result;
use crate::local_cloud::LocalCloud;

#[derive(Debug, Clone, Serialize)]
pub struct SeedUser {
    /// How groups refer to the user (its username in plain pools).
    pub key: String,
    pub username: String,
    pub attributes: BTreeMap<String, String>,
    pub enabled: bool,
    pub status: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SeedGroup {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub precedence: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role_arn: Option<String>,
    /// Keys of the member users.
    pub members: Vec<String>,
}

/// Values chosen to break CSV writers, JSON escaping and trimming: commas, quotes, backslashes,
/// newlines, leading and trailing spaces, non-ASCII text.
pub const NASTY_VALUES: &[&str] = &[
    "plain",
    "comma, separated, value",
    "double \"quoted\" text",
    "back\\slash and \\, escaped comma",
    "line one\nline two\r\nline three",
    "  leading and trailing spaces  ",
    "Zoë Ångström-Łukasz, 日本語テキスト, emoji 🎉",
    "'single' and `back` quotes; semicolon",
    "tab\tseparated",
    "",
];

/// A pool with the custom attributes the fixtures use; `username_attributes` e.g. `&["email"]`.
pub async fn create_pool(cloud: &LocalCloud, name: &str, username_attributes: &[&str]) -> Result<String> {
    create_pool_with_mfa(cloud, name, username_attributes, "OFF").await
}

/// [`create_pool`] with an MFA configuration: `OFF`, `OPTIONAL` or `ON`.
pub async fn create_pool_with_mfa(
    cloud: &LocalCloud,
    name: &str,
    username_attributes: &[&str],
    mfa: &str,
) -> Result<String> {
    create_shaped_pool(cloud, name, &PoolShape { username_attributes, mfa, extra_custom_attributes: 0 }).await
}

/// How a test pool signs users in, and how many custom attributes it has beyond the fixtures' three.
#[derive(Debug, Clone, Copy)]
pub struct PoolShape<'a> {
    pub username_attributes: &'a [&'a str],
    /// `OFF`, `OPTIONAL` or `ON`.
    pub mfa: &'a str,
    /// String attributes `custom:extra01`… of up to 2,048 characters (Cognito allows 50 custom attributes).
    pub extra_custom_attributes: usize,
}

/// The name of the `n`-th extra custom attribute of a [`PoolShape`] (from 1).
pub fn extra_attribute(n: usize) -> String {
    format!("custom:extra{n:02}")
}

pub async fn create_shaped_pool(cloud: &LocalCloud, name: &str, shape: &PoolShape<'_>) -> Result<String> {
    let PoolShape { username_attributes, mfa, extra_custom_attributes } = *shape;
    let custom_string = |n: &str, max: &str| {
        SchemaAttributeType::builder()
            .name(n)
            .attribute_data_type(AttributeDataType::String)
            .mutable(true)
            .string_attribute_constraints(
                StringAttributeConstraintsType::builder().min_length("0").max_length(max).build(),
            )
            .build()
    };
    let score = SchemaAttributeType::builder()
        .name("score")
        .attribute_data_type(AttributeDataType::Number)
        .mutable(true)
        .number_attribute_constraints(
            NumberAttributeConstraintsType::builder().min_value("0").max_value("1000").build(),
        )
        .build();
    let out = cloud
        .cognito()
        .create_user_pool()
        .pool_name(name)
        .set_schema(Some(
            std::iter::once(custom_string("tier", "20"))
                .chain(std::iter::once(custom_string("note", "2048")))
                .chain(std::iter::once(score))
                .chain(
                    (1..=extra_custom_attributes)
                        .map(|n| custom_string(extra_attribute(n).trim_start_matches("custom:"), "2048")),
                )
                .collect(),
        ))
        .set_username_attributes(Some(username_attributes.iter().map(|a| UsernameAttributeType::from(*a)).collect()))
        .auto_verified_attributes(aws_sdk_cognitoidentityprovider::types::VerifiedAttributeType::Email)
        .mfa_configuration(aws_sdk_cognitoidentityprovider::types::UserPoolMfaType::from(mfa))
        .send()
        .await?;
    Ok(out.user_pool().and_then(|p| p.id()).ok_or("CreateUserPool returned no id")?.to_owned())
}

/// `n` users with every kind of status and value the export must keep exactly.
pub fn nasty_users(n: usize) -> Vec<SeedUser> {
    (0..n)
        .map(|i| {
            let federated = i % 50 == 49;
            let username = if federated {
                format!("Google_{:021}", 100_000_000_000_000_000u128 + i as u128)
            } else {
                format!("user-{i:05}")
            };
            let status = match i {
                _ if federated => "EXTERNAL_PROVIDER",
                _ if i % 13 == 5 => "UNCONFIRMED",
                _ if i % 17 == 3 => "FORCE_CHANGE_PASSWORD",
                _ if i % 29 == 7 => "RESET_REQUIRED",
                _ => "CONFIRMED",
            };
            let mut attributes = BTreeMap::from([
                ("email".to_string(), format!("user.{i}+tag@example.com")),
                ("email_verified".to_string(), (status != "UNCONFIRMED").to_string()),
                ("given_name".to_string(), NASTY_VALUES[i % NASTY_VALUES.len()].to_string()),
                ("family_name".to_string(), NASTY_VALUES[(i / 3) % NASTY_VALUES.len()].to_string()),
                ("custom:tier".to_string(), ["gold", "silver", "bronze, plus"][i % 3].to_string()),
                ("custom:score".to_string(), (i % 1000).to_string()),
                ("custom:note".to_string(), NASTY_VALUES[(i / 7) % NASTY_VALUES.len()].repeat(1 + i % 3)),
            ]);
            if i % 4 == 0 {
                attributes.insert("phone_number".into(), format!("+1555{:07}", i));
                attributes.insert("phone_number_verified".into(), (i % 8 == 0).to_string());
            }
            if federated {
                attributes.insert(
                    "identities".into(),
                    format!(r#"[{{"userId":"{i}","providerName":"Google","providerType":"Google","primary":true}}]"#),
                );
            }
            SeedUser { key: username.clone(), username, attributes, enabled: i % 10 != 4, status: status.to_string() }
        })
        .collect()
}

/// `n` groups (Cognito lists 60 per page); each user joins one to three of them.
pub fn groups_for(users: &[SeedUser], n: usize) -> Vec<SeedGroup> {
    let mut groups: Vec<SeedGroup> = (0..n)
        .map(|g| SeedGroup {
            name: format!("group-{g:03}"),
            description: (g % 5 != 0).then(|| format!("Group {g}: {}", NASTY_VALUES[g % NASTY_VALUES.len()])),
            precedence: (g % 4 != 0).then_some(g as i32),
            role_arn: (g % 3 == 0).then(|| format!("arn:aws:iam::123456789012:role/group-role-{g}")),
            members: Vec::new(),
        })
        .collect();
    for (i, user) in users.iter().enumerate() {
        for k in 0..(1 + i % 3) {
            let g = (i * 7 + k * 31) % n;
            if !groups[g].members.contains(&user.key) {
                groups[g].members.push(user.key.clone());
            }
        }
    }
    groups
}
