//! Preflight, before any write: the target pool exists and is reachable, the backup is complete, the
//! target is empty or the conflict policy allows it, and every difference between the target's
//! configuration and the backed-up pool's is listed with its consequence.

use std::collections::BTreeMap;

use super::restore_path::TargetProfile;
use super::{BackupSize, ConflictPolicy, ImportPorts, ImportRequest, ImportRun, Incompatibility};
use crate::lease::{self, Acquired, IMPORT_TTL_MS, import_lease_name};
use crate::ports::{BackupStore, PortError, UserPool, WorkflowExecutions};
use crate::schema::{BackupItem, ExportMarkerItem, ItemKey, MfaConfiguration, PoolSnapshot};
use crate::step::StepError;

/// The execution, as the state machine passes it.
#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PreflightInput {
    pub execution_arn: String,
    #[serde(default)]
    pub execution_name: Option<String>,
    pub execution_input: serde_json::Value,
}

impl PreflightInput {
    pub fn name(&self) -> String {
        self.execution_name
            .clone()
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| self.execution_arn.rsplit(':').next().unwrap_or("restore").to_owned())
    }
}

fn refused(name: &'static str, message: String) -> StepError {
    StepError::Refused { name, message }
}

pub async fn run(
    ports: ImportPorts<'_>,
    executions: &dyn WorkflowExecutions,
    input: &PreflightInput,
    request: ImportRequest,
) -> Result<ImportRun, StepError> {
    let pool_id = request.new_user_pool_id.clone();
    let region = pool_id.split('_').next().unwrap_or_default().to_owned();
    let target_config = ports.target.describe().await.map_err(|e| match e {
        PortError::NotFound(detail) => refused(
            "TargetPoolNotFound",
            format!("user pool {pool_id} does not exist in {region} ({detail}); check NewUserPoolId. Nothing was written."),
        ),
        PortError::AccessDenied(detail) => refused(
            "TargetPoolAccessDenied",
            format!(
                "the ImportWorkflow may not read user pool {pool_id} ({detail}); its functions' roles need access to it. \
                 Nothing was written."
            ),
        ),
        other => StepError::Port { context: format!("reading user pool {pool_id}"), source: other },
    })?;

    let (snapshot, marker) = backup_of(ports.store).await?;
    if pool_id == snapshot.pool_id && request.writes() && !request.allow_source_pool {
        return Err(refused(
            "TargetIsSourcePool",
            format!(
                "user pool {pool_id} is the pool this backup was taken from. Restoring into it would bring back users \
                 deleted on purpose since the backup{}. Restore into a new pool, or start the ImportWorkflow with \
                 \"AllowSourcePool\": true if that is what you want. Nothing was written.",
                if request.conflict_policy == ConflictPolicy::Overwrite {
                    ", and overwrite would set live users' attributes back to the backup's values"
                } else {
                    ""
                }
            ),
        ));
    }
    let csv_header =
        ports.target.csv_header().await.map_err(StepError::port(format!("GetCSVHeader on user pool {pool_id}")))?;
    let profile = TargetProfile::new(&target_config.snapshot, csv_header);

    let has_users = any_user(ports.target).await?;
    let has_groups = any_group(ports.target).await?;
    let empty = !has_users && !has_groups;
    if request.writes() && !empty {
        match request.conflict_policy {
            ConflictPolicy::Fail => {
                return Err(refused(
                    "TargetPoolNotEmpty",
                    format!(
                        "user pool {pool_id} already has users or groups. Restore into an empty pool, or start the \
                         ImportWorkflow with \"ConflictPolicy\": \"skip-existing\" (keep what exists, restore the rest; \
                         resumes an interrupted restore) or \"overwrite\" (update what exists to the backup's values). \
                         Nothing was written."
                    ),
                ));
            }
            ConflictPolicy::Overwrite if has_users && !request.confirm_overwrite => {
                return Err(refused(
                    "OverwriteNotConfirmed",
                    format!(
                        "user pool {pool_id} has users, and \"ConflictPolicy\": \"overwrite\" would set their attributes \
                         and enabled flag to the backup's values. Start the ImportWorkflow with \"ConfirmOverwrite\": true \
                         if that is what you want, or use \"skip-existing\". Nothing was written."
                    ),
                ));
            }
            _ => {}
        }
    }

    let incompatibilities = compare(&snapshot, &target_config.snapshot);
    let blocking: Vec<&Incompatibility> = incompatibilities.iter().filter(|i| i.blocking).collect();
    if !blocking.is_empty() && !request.allow_incompatible && request.writes() {
        let list: Vec<String> = blocking.iter().map(|i| format!("- {}: {}", i.setting, i.consequence)).collect();
        return Err(refused(
            "IncompatibleTargetPool",
            format!(
                "user pool {pool_id} is not configured like the backed-up pool {}:\n{}\nCreate the target from the \
                 backup's pool snapshot (`cognito-backup create-pool`), or start with \"AllowIncompatible\": true to \
                 accept these consequences. Nothing was written.",
                snapshot.pool_id,
                list.join("\n")
            ),
        ));
    }

    let lease = if request.writes() {
        let name = import_lease_name(&pool_id);
        match lease::acquire(ports.leases, executions, ports.clock, &name, IMPORT_TTL_MS, &input.execution_arn).await? {
            Acquired::Taken(token) => Some(token),
            Acquired::HeldBy { owner, .. } => {
                return Err(refused(
                    "ImportAlreadyRunning",
                    format!(
                        "another restore into user pool {pool_id} is running ({owner}); two at once would race each \
                         other. Nothing was written. Wait for it to end (or stop it), then start again."
                    ),
                ));
            }
        }
    } else {
        None
    };

    Ok(ImportRun {
        run_id: input.execution_arn.clone(),
        run_name: input.name(),
        target: profile,
        policy: request.conflict_policy,
        dry_run: request.dry_run,
        verify_only: request.verify_only,
        role_arn_account_id: request.role_arn_account_id,
        source_pool_id: snapshot.pool_id.clone(),
        backup_export_run_id: marker.export_run_id,
        backup_export_timestamp: marker.export_timestamp,
        backup_table_name: request.backup_table_name,
        backup_size: BackupSize {
            users: marker.counts.users,
            groups: marker.counts.groups,
            memberships: marker.counts.memberships,
        },
        started_at: ports.clock.now_ms(),
        target_was_empty: empty,
        incompatibilities,
        lease,
    })
}

/// Whether the pool has a user: follows pagination, since a page may come back empty with a token.
async fn any_user(pool: &dyn UserPool) -> Result<bool, StepError> {
    let mut token = None;
    loop {
        let page = pool
            .list_users(None, token.as_deref())
            .await
            .map_err(StepError::port(format!("listing users of {}", pool.pool_id())))?;
        if !page.items.is_empty() {
            return Ok(true);
        }
        match page.next {
            Some(next) => token = Some(next),
            None => return Ok(false),
        }
    }
}

async fn any_group(pool: &dyn UserPool) -> Result<bool, StepError> {
    let mut token = None;
    loop {
        let page = pool
            .list_groups(token.as_deref())
            .await
            .map_err(StepError::port(format!("listing groups of {}", pool.pool_id())))?;
        if !page.items.is_empty() {
            return Ok(true);
        }
        match page.next {
            Some(next) => token = Some(next),
            None => return Ok(false),
        }
    }
}

/// The backup's pool snapshot and export marker; refuses a backup with no completed export.
pub async fn backup_of(store: &dyn BackupStore) -> Result<(PoolSnapshot, ExportMarkerItem), StepError> {
    let items = store
        .get_many(&[ItemKey::pool_snapshot(), ItemKey::export_marker()])
        .await
        .map_err(StepError::port("reading the backup's pool snapshot and export marker"))?;
    let snapshot = items.iter().find_map(BackupItem::as_pool_snapshot).map(|s| s.pool.clone());
    let marker = items.iter().find_map(BackupItem::as_export_marker).cloned();
    match (snapshot, marker) {
        (Some(s), Some(m)) => Ok((s, m)),
        _ => Err(refused(
            "NoCompleteBackup",
            "the backup table holds no completed export (no pool snapshot or export marker); run the ExportWorkflow \
             first, or check that the table's replica reached this Region. Nothing was written."
                .into(),
        )),
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
            format!(
                "username attributes: backup {:?}, target {:?}",
                backup.username_attributes, target.username_attributes
            ),
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
                format!(
                    "custom attribute {} has type {:?} in the target, {:?} in the backup",
                    attr.name, t.data_type, attr.data_type
                ),
                "values may be rejected or read differently".into(),
            ),
            Some(t)
                if t.mutable != attr.mutable || t.max_length != attr.max_length || t.max_value != attr.max_value =>
            {
                add(
                    false,
                    format!("custom attribute {} has different constraints", attr.name),
                    "values outside the target's constraints are rejected for their users (listed in the report)"
                        .into(),
                )
            }
            Some(_) => {}
        }
    }
    let backup_required: Vec<&str> =
        backup.schema.iter().filter(|a| a.required == Some(true)).map(|a| a.name.as_str()).collect();
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
    if sorted(&backup.alias_attributes) != sorted(&target.alias_attributes) {
        add(
            false,
            format!("alias attributes: backup {:?}, target {:?}", backup.alias_attributes, target.alias_attributes),
            "users may no longer sign in with an alias they used before (or may with a new one)".into(),
        );
    }
    if target.mfa_configuration == MfaConfiguration::On && backup.mfa_configuration != MfaConfiguration::On {
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
                .map(|n| SchemaAttribute {
                    name: format!("custom:{n}"),
                    data_type: Some("String".into()),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn a_matching_target_has_no_incompatibility() {
        assert!(compare(&pool(&["email"], &["tier"], &["email"]), &pool(&["email"], &["tier"], &["email"])).is_empty());
    }

    #[test]
    fn alias_attributes_are_compared() {
        let mut target = pool(&["email"], &[], &["email"]);
        target.alias_attributes = vec!["preferred_username".into()];
        let found = compare(&pool(&["email"], &[], &["email"]), &target);
        assert!(found.iter().any(|i| i.setting.contains("alias")), "{found:?}");
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
