//! Preflight, before any write: the target pool exists and is reachable, the backup is complete, the
//! target is empty or the conflict policy allows it, and every difference between the target's
//! configuration and the backed-up pool's is listed with its consequence.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::restore_path::TargetProfile;
use super::{ConflictPolicy, ImportRequest, ImportRun, Incompatibility};
use crate::ports::{BackupStore, PortError, RestoreTarget};
use crate::schema::{BackupItem, ItemKey, PoolSnapshot};
use crate::step::StepError;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PreflightInput {
    pub execution_arn: String,
    #[serde(default)]
    pub execution_name: Option<String>,
    pub execution_input: serde_json::Value,
}

pub async fn run(
    target: &dyn RestoreTarget,
    store: &dyn BackupStore,
    region: &str,
    input: &PreflightInput,
    now_ms: i64,
) -> Result<ImportRun, StepError> {
    let request = ImportRequest::parse(&input.execution_input, region)?;
    let pool_id = request.new_user_pool_id.clone();
    let target_config = target.describe().await.map_err(|e| match e {
        PortError::NotFound(detail) => StepError::Refused {
            name: "TargetPoolNotFound",
            message: format!(
                "user pool {pool_id} does not exist in {region} ({detail}); check NewUserPoolId. Nothing was written."
            ),
        },
        PortError::AccessDenied(detail) => StepError::Refused {
            name: "TargetPoolAccessDenied",
            message: format!(
                "the ImportWorkflow may not read user pool {pool_id} ({detail}); its functions' roles need access to it. \
                 Nothing was written."
            ),
        },
        other => StepError::Port { context: format!("reading user pool {pool_id}"), source: other },
    })?;

    let (snapshot, marker) = backup_of(store).await?;
    let csv_header = target.csv_header().await.map_err(StepError::port(format!("GetCSVHeader on user pool {pool_id}")))?;
    let profile = TargetProfile::new(&target_config, csv_header);

    let users = target.list_users(None, None).await.map_err(StepError::port(format!("listing users of {pool_id}")))?;
    let groups = target.list_groups(None).await.map_err(StepError::port(format!("listing groups of {pool_id}")))?;
    let empty = users.items.is_empty() && groups.items.is_empty();
    if !empty && request.conflict_policy == ConflictPolicy::Fail && !request.dry_run && !request.verify_only {
        return Err(StepError::Refused {
            name: "TargetPoolNotEmpty",
            message: format!(
                "user pool {pool_id} already has users or groups. Restore into an empty pool, or start the ImportWorkflow \
                 with \"ConflictPolicy\": \"skip-existing\" (keep what exists, restore the rest; resumes an interrupted \
                 restore) or \"overwrite\" (update what exists to the backup's values). Nothing was written."
            ),
        });
    }

    let incompatibilities = compare(&snapshot, &target_config);
    let blocking: Vec<&Incompatibility> = incompatibilities.iter().filter(|i| i.blocking).collect();
    if !blocking.is_empty() && !request.allow_incompatible && !request.dry_run && !request.verify_only {
        let list: Vec<String> = blocking.iter().map(|i| format!("- {}: {}", i.setting, i.consequence)).collect();
        return Err(StepError::Refused {
            name: "IncompatibleTargetPool",
            message: format!(
                "user pool {pool_id} is not configured like the backed-up pool {}:\n{}\nCreate the target from the backup's \
                 pool snapshot, or start with \"AllowIncompatible\": true to accept these consequences. Nothing was written.",
                snapshot.pool_id,
                list.join("\n")
            ),
        });
    }

    Ok(ImportRun {
        run_id: input.execution_arn.clone(),
        run_name: input
            .execution_name
            .clone()
            .unwrap_or_else(|| input.execution_arn.rsplit(':').next().unwrap_or("restore").to_owned()),
        target: profile,
        policy: request.conflict_policy,
        dry_run: request.dry_run,
        verify_only: request.verify_only,
        role_arn_account_id: request.role_arn_account_id,
        source_pool_id: snapshot.pool_id.clone(),
        backup_export_run_id: marker.export_run_id,
        backup_export_timestamp: marker.export_timestamp,
        started_at: now_ms,
        target_was_empty: empty,
        incompatibilities,
    })
}

async fn backup_of(store: &dyn BackupStore) -> Result<(PoolSnapshot, crate::schema::ExportMarkerItem), StepError> {
    let items = store
        .get_many(&[ItemKey::pool_snapshot(), ItemKey::export_marker()])
        .await
        .map_err(StepError::port("reading the backup's pool snapshot and export marker"))?;
    let snapshot = items.iter().find_map(|i| if let BackupItem::PoolSnapshot(s) = i { Some(s.pool.clone()) } else { None });
    let marker = items.iter().find_map(|i| if let BackupItem::ExportMarker(m) = i { Some(m.clone()) } else { None });
    match (snapshot, marker) {
        (Some(s), Some(m)) => Ok((s, m)),
        _ => Err(StepError::Refused {
            name: "NoCompleteBackup",
            message: "the backup table in this Region holds no completed export (no pool snapshot or export marker); \
                      run the ExportWorkflow first, or check that the table's replica reached this Region"
                .into(),
        }),
    }
}

/// Every difference between the backed-up pool and the target that changes what a restore can do.
pub fn compare(backup: &PoolSnapshot, target: &PoolSnapshot) -> Vec<Incompatibility> {
    let mut found = Vec::new();
    let mut add = |blocking: bool, setting: String, consequence: String| {
        found.push(Incompatibility { blocking, setting, consequence })
    };
    if sorted(&backup.username_attributes) != sorted(&target.username_attributes) {
        add(
            true,
            format!("username attributes: backup {:?}, target {:?}", backup.username_attributes, target.username_attributes),
            "users would sign in with a different identifier than before, and pseudo-usernames may be rejected".into(),
        );
    }
    let target_attrs: BTreeMap<&str, _> = target.schema.iter().map(|a| (a.name.as_str(), a)).collect();
    for attr in backup.schema.iter().filter(|a| a.name.starts_with("custom:")) {
        match target_attrs.get(attr.name.as_str()) {
            None => add(
                true,
                format!("custom attribute {} is missing in the target", attr.name),
                format!("every user's {} value would be lost", attr.name),
            ),
            Some(t) if t.data_type != attr.data_type => add(
                true,
                format!("custom attribute {} has type {:?} in the target, {:?} in the backup", attr.name, t.data_type, attr.data_type),
                "values may be rejected or read differently".into(),
            ),
            Some(t) if t.mutable != attr.mutable || t.max_length != attr.max_length || t.max_value != attr.max_value => add(
                false,
                format!("custom attribute {} has different constraints", attr.name),
                "values outside the target's constraints are rejected for their users (listed in the report)".into(),
            ),
            Some(_) => {}
        }
    }
    let backup_required: Vec<&str> = backup.schema.iter().filter(|a| a.required == Some(true)).map(|a| a.name.as_str()).collect();
    for attr in target.schema.iter().filter(|a| a.required == Some(true) && a.name != "sub") {
        if !backup_required.contains(&attr.name.as_str()) {
            add(
                false,
                format!("the target requires {}, the backed-up pool did not", attr.name),
                format!("users without a value for {} cannot be restored (listed in the report)", attr.name),
            );
        }
    }
    if target.auto_verified_attributes.is_empty() {
        add(
            false,
            "the target has no auto-verified attribute".into(),
            "import jobs cannot run: every user is created by AdminCreateUser (FORCE_CHANGE_PASSWORD, slower)".into(),
        );
    }
    if target.mfa_configuration == "ON" && backup.mfa_configuration != "ON" {
        add(
            false,
            format!("MFA is required in the target ({} in the backup)", backup.mfa_configuration),
            "users without an MFA method must set one up at their next sign-in".into(),
        );
    }
    if backup.username_case_sensitive.is_some() && backup.username_case_sensitive != target.username_case_sensitive {
        add(
            false,
            "username case sensitivity differs".into(),
            "usernames differing only by case may collide in the target".into(),
        );
    }
    found
}

fn sorted(v: &[String]) -> Vec<String> {
    let mut v = v.to_vec();
    v.sort();
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::SchemaAttribute;

    fn pool(username_attributes: &[&str], custom: &[&str], auto_verified: &[&str]) -> PoolSnapshot {
        PoolSnapshot {
            pool_id: "p".into(),
            username_attributes: username_attributes.iter().map(|s| s.to_string()).collect(),
            auto_verified_attributes: auto_verified.iter().map(|s| s.to_string()).collect(),
            schema: custom
                .iter()
                .map(|n| SchemaAttribute { name: format!("custom:{n}"), data_type: Some("String".into()), ..Default::default() })
                .collect(),
            mfa_configuration: "OFF".into(),
            ..Default::default()
        }
    }

    #[test]
    fn a_matching_target_has_no_incompatibility() {
        assert!(compare(&pool(&["email"], &["tier"], &["email"]), &pool(&["email"], &["tier"], &["email"])).is_empty());
    }

    #[test]
    fn each_difference_is_listed_with_its_consequence() {
        let found = compare(&pool(&["email"], &["tier", "note"], &["email"]), &pool(&[], &["tier"], &[]));
        let blocking: Vec<_> = found.iter().filter(|i| i.blocking).map(|i| i.setting.clone()).collect();
        assert_eq!(blocking.len(), 2, "{found:?}");
        assert!(blocking.iter().any(|s| s.contains("custom:note")));
        assert!(found.iter().any(|i| !i.blocking && i.consequence.contains("AdminCreateUser")));
    }
}
