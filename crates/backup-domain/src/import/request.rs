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
    /// Update what exists to the backup's values (needs `ConfirmOverwrite` when the pool has users).
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
    /// Skip the restore and only compare the backup with the target pool (any pool, ledger or not).
    #[serde(default)]
    pub verify_only: bool,
    /// Restoring into the pool the backup was taken from: it would bring back users deleted on purpose
    /// (and, with `overwrite`, revert live users), so it must be asked for.
    #[serde(default)]
    pub allow_source_pool: bool,
    /// `overwrite` into a pool that has users changes live users: it must be asked for.
    #[serde(default)]
    pub confirm_overwrite: bool,
    /// Restore from another table of the backup's layout (a point-in-time copy of the backup table, or a
    /// loaded dump) instead of the stack's backup table. Its name must start with the backup table's name.
    #[serde(default)]
    pub backup_table_name: Option<String>,
}

const EXAMPLE: &str = r#"{"NewUserPoolId": "eu-west-1_AbCdEf123", "ConflictPolicy": "fail", "DryRun": true}"#;

/// Cognito's pattern of a user pool ID: `<region>_<alphanumerics>`.
fn valid_pool_id(id: &str) -> bool {
    id.split_once('_').is_some_and(|(r, rest)| {
        r.len() >= 9
            && r.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !rest.is_empty()
            && rest.chars().all(|c| c.is_ascii_alphanumeric())
    })
}

impl ImportRequest {
    /// Parses and checks the execution input; every error says what is wrong and shows a valid input.
    pub fn parse(input: &serde_json::Value, region: &str, backup_table: &str) -> Result<Self, StepError> {
        // Serde would read a struct from an array too: only objects.
        if !input.is_object() {
            return Err(StepError::InvalidInput(format!(
                "the ImportWorkflow input must be a JSON object, not {input}. Example: {EXAMPLE}"
            )));
        }
        let request: ImportRequest = serde_json::from_value(input.clone()).map_err(|e| {
            StepError::InvalidInput(format!(
                "the ImportWorkflow input is not valid ({e}); ConflictPolicy is fail, skip-existing or overwrite. Example: {EXAMPLE}"
            ))
        })?;
        let id = request.new_user_pool_id.trim();
        if !valid_pool_id(id) {
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
            return Err(StepError::InvalidInput(format!(
                "RoleArnAccountId {account:?} is not a 12-digit AWS account ID"
            )));
        }
        if let Some(table) = &request.backup_table_name
            && !table.starts_with(backup_table)
        {
            return Err(StepError::InvalidInput(format!(
                "BackupTableName {table:?} is not a copy of the backup table: its name must start with {backup_table:?} \
                 (as the tables `cognito-backup restore --as-of` and `load --into-table` create do)"
            )));
        }
        if request.dry_run && request.verify_only {
            return Err(StepError::InvalidInput("DryRun and VerifyOnly cannot be combined: choose one".into()));
        }
        Ok(Self { new_user_pool_id: id.to_owned(), ..request })
    }

    /// Whether this run writes to the target pool.
    pub fn writes(&self) -> bool {
        !self.dry_run && !self.verify_only
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: serde_json::Value) -> Result<ImportRequest, StepError> {
        ImportRequest::parse(&v, "us-east-1", "cb-backup")
    }

    #[test]
    fn a_minimal_input_defaults_to_a_safe_restore() {
        let r = parse(json!({"NewUserPoolId": " us-east-1_abc123 "})).unwrap();
        assert_eq!(r.new_user_pool_id, "us-east-1_abc123");
        assert_eq!(r.conflict_policy, ConflictPolicy::Fail);
        assert!(r.writes() && !r.allow_source_pool && !r.confirm_overwrite);
    }

    #[test]
    fn bad_inputs_are_explained() {
        let err = |v: serde_json::Value| parse(v).unwrap_err().to_string();
        assert!(err(json!({})).contains("Example"));
        assert!(err(json!(["us-east-1_abc123", "overwrite"])).contains("must be a JSON object"));
        assert!(err(json!({"NewUserPoolId": "abc"})).contains("not a user pool ID"));
        assert!(err(json!({"NewUserPoolId": "us-east-1_a-b"})).contains("not a user pool ID"));
        assert!(err(json!({"NewUserPoolId": "eu-west-1_abc"})).contains("not in us-east-1"));
        assert!(err(json!({"NewUserPoolId": "us-east-1_abc", "ConflictPolicy": "merge"})).contains("skip-existing"));
        assert!(err(json!({"NewUserPoolId": "us-east-1_abc", "RoleArnAccountId": "12"})).contains("12-digit"));
        assert!(err(json!({"NewUserPoolId": "us-east-1_abc", "Typo": 1})).contains("unknown field"));
        assert!(
            err(json!({"NewUserPoolId": "us-east-1_abc", "BackupTableName": "other"}))
                .contains("copy of the backup table")
        );
        assert!(
            err(json!({"NewUserPoolId": "us-east-1_abc", "DryRun": true, "VerifyOnly": true}))
                .contains("cannot be combined")
        );
        assert!(err(json!("not an object")).contains("Example"));
    }
}
