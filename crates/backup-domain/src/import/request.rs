//! The ImportWorkflow's input: `{"NewUserPoolId": "…", "ConflictPolicy": "fail", "DryRun": false, …}`.

use serde::{Deserialize, Serialize};

use crate::step::StepError;

/// What to do with users and groups that already exist in the target pool.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ConflictPolicy {
    /// The target must be empty (the default).
    #[default]
    Fail,
    /// Leave what exists as it is; restore the rest (resumes an interrupted restore).
    SkipExisting,
    /// Update what exists to the backup's values.
    Overwrite,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ImportRequest {
    pub new_user_pool_id: String,
    #[serde(default)]
    pub conflict_policy: ConflictPolicy,
    #[serde(default)]
    pub dry_run: bool,
    /// Rewrites the account of group role ARNs, for restores into another account.
    #[serde(default)]
    pub role_arn_account_id: Option<String>,
    /// Restore despite blocking incompatibilities (their consequences are in the plan).
    #[serde(default)]
    pub allow_incompatible: bool,
    /// Skip the restore and only compare the backup with the target pool.
    #[serde(default)]
    pub verify_only: bool,
}

const EXAMPLE: &str = r#"{"NewUserPoolId": "eu-west-1_AbCdEf123", "ConflictPolicy": "fail", "DryRun": true}"#;

impl ImportRequest {
    /// Parses and checks the execution input; every error says what is wrong and shows a valid input.
    pub fn parse(input: &serde_json::Value, region: &str) -> Result<Self, StepError> {
        let request: ImportRequest = serde_json::from_value(input.clone()).map_err(|e| {
            StepError::InvalidInput(format!(
                "the ImportWorkflow input is not valid ({e}); ConflictPolicy is fail, skip-existing or overwrite. Example: {EXAMPLE}"
            ))
        })?;
        let id = request.new_user_pool_id.trim();
        let valid = id.split_once('_').is_some_and(|(r, rest)| {
            !r.is_empty() && !rest.is_empty() && rest.chars().all(|c| c.is_ascii_alphanumeric())
        });
        if !valid {
            return Err(StepError::InvalidInput(format!(
                "NewUserPoolId {id:?} is not a user pool ID (like {region}_AbCdEf123). Example: {EXAMPLE}"
            )));
        }
        if !id.starts_with(&format!("{region}_")) {
            return Err(StepError::InvalidInput(format!(
                "user pool {id} is not in {region}: the ImportWorkflow restores into pools of its own Region; \
                 start the ImportWorkflow of the pool's Region (it reads that Region's replica of the backup)"
            )));
        }
        if let Some(account) = &request.role_arn_account_id
            && !(account.len() == 12 && account.chars().all(|c| c.is_ascii_digit()))
        {
            return Err(StepError::InvalidInput(format!("RoleArnAccountId {account:?} is not a 12-digit AWS account ID")));
        }
        Ok(Self { new_user_pool_id: id.to_owned(), ..request })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_minimal_input_defaults_to_a_safe_restore() {
        let r = ImportRequest::parse(&json!({"NewUserPoolId": " us-east-1_abc123 "}), "us-east-1").unwrap();
        assert_eq!(r.new_user_pool_id, "us-east-1_abc123");
        assert_eq!(r.conflict_policy, ConflictPolicy::Fail);
        assert!(!r.dry_run);
    }

    #[test]
    fn bad_inputs_are_explained() {
        let err = |v: serde_json::Value| ImportRequest::parse(&v, "us-east-1").unwrap_err().to_string();
        assert!(err(json!({})).contains("Example"));
        assert!(err(json!({"NewUserPoolId": "abc"})).contains("not a user pool ID"));
        assert!(err(json!({"NewUserPoolId": "eu-west-1_abc"})).contains("not in us-east-1"));
        assert!(err(json!({"NewUserPoolId": "us-east-1_abc", "ConflictPolicy": "merge"})).contains("skip-existing"));
        assert!(err(json!({"NewUserPoolId": "us-east-1_abc", "RoleArnAccountId": "12"})).contains("12-digit"));
        assert!(err(json!({"NewUserPoolId": "us-east-1_abc", "Typo": 1})).contains("unknown field"));
    }
}
