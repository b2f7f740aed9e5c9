//! Creates a user pool configured like a backed-up one, from its pool snapshot: username and alias
//! attributes, auto-verified attributes, custom attributes with their constraints, required standard
//! attributes, password policy, username case sensitivity and MFA setting. Settings the snapshot does
//! not hold (triggers, email/SMS senders, domains, app clients) are the operator's to add.

use aws_sdk_cognitoidentityprovider::Client;
use aws_sdk_cognitoidentityprovider::types::{
    AliasAttributeType, AttributeDataType, NumberAttributeConstraintsType, PasswordPolicyType, SchemaAttributeType,
    StringAttributeConstraintsType, UserPoolMfaType, UserPoolPolicyType, UsernameAttributeType,
    UsernameConfigurationType, VerifiedAttributeType,
};
use backup_domain::ports::PortError;
use backup_domain::schema::{PoolSnapshot, SchemaAttribute};

use crate::errors::port_error;

fn schema_attribute(a: &SchemaAttribute) -> SchemaAttributeType {
    let name = a.name.strip_prefix("custom:").unwrap_or(&a.name);
    let mut builder = SchemaAttributeType::builder()
        .name(name)
        .set_attribute_data_type(a.data_type.as_deref().map(AttributeDataType::from))
        .set_developer_only_attribute(a.developer_only)
        .set_mutable(a.mutable)
        .set_required(a.required);
    if a.min_length.is_some() || a.max_length.is_some() {
        builder = builder.string_attribute_constraints(
            StringAttributeConstraintsType::builder()
                .set_min_length(a.min_length.clone())
                .set_max_length(a.max_length.clone())
                .build(),
        );
    }
    if a.min_value.is_some() || a.max_value.is_some() {
        builder = builder.number_attribute_constraints(
            NumberAttributeConstraintsType::builder()
                .set_min_value(a.min_value.clone())
                .set_max_value(a.max_value.clone())
                .build(),
        );
    }
    builder.build()
}

/// The snapshot's schema entries a new pool needs: custom attributes, and standard ones marked required.
pub fn schema_to_declare(snapshot: &PoolSnapshot) -> Vec<SchemaAttributeType> {
    snapshot
        .schema
        .iter()
        .filter(|a| a.name.starts_with("custom:") || (a.required == Some(true) && a.name != "sub"))
        .map(schema_attribute)
        .collect()
}

/// Creates the pool and returns its ID.
pub async fn create_pool_like(client: &Client, snapshot: &PoolSnapshot, name: &str) -> Result<String, PortError> {
    let password_policy = snapshot.password_policy.as_ref().map(|p| {
        PasswordPolicyType::builder()
            .set_minimum_length(p.minimum_length)
            .require_uppercase(p.require_uppercase)
            .require_lowercase(p.require_lowercase)
            .require_numbers(p.require_numbers)
            .require_symbols(p.require_symbols)
            .set_temporary_password_validity_days(p.temporary_password_validity_days)
            .set_password_history_size(p.password_history_size)
            .build()
    });
    let out = client
        .create_user_pool()
        .pool_name(name)
        .set_schema(Some(schema_to_declare(snapshot)))
        .set_username_attributes(
            Some(
                snapshot
                    .username_attributes
                    .iter()
                    .map(|a| UsernameAttributeType::from(a.as_str()))
                    .collect::<Vec<_>>(),
            )
            .filter(|v| !v.is_empty()),
        )
        .set_alias_attributes(
            Some(snapshot.alias_attributes.iter().map(|a| AliasAttributeType::from(a.as_str())).collect::<Vec<_>>())
                .filter(|v| !v.is_empty()),
        )
        .set_auto_verified_attributes(Some(
            snapshot.auto_verified_attributes.iter().map(|a| VerifiedAttributeType::from(a.as_str())).collect(),
        ))
        .mfa_configuration(UserPoolMfaType::from(snapshot.mfa_configuration.as_str()))
        .set_policies(password_policy.map(|p| UserPoolPolicyType::builder().password_policy(p).build()))
        .set_username_configuration(
            snapshot
                .username_case_sensitive
                .map(|c| UsernameConfigurationType::builder().case_sensitive(c).build())
                .transpose()
                .ok()
                .flatten(),
        )
        .send()
        .await
        .map_err(|e| {
            port_error(
                &format!("CreateUserPool {name}"),
                "Check the caller's cognito-idp:CreateUserPool permission.",
                e,
            )
        })?;
    out.user_pool()
        .and_then(|p| p.id())
        .map(str::to_owned)
        .ok_or_else(|| PortError::Unavailable("CreateUserPool returned no pool ID".into()))
}
