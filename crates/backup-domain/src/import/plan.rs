//! The plan: every backed-up user's path into the target pool, with its groups, written as work lists
//! for the pipeline; what cannot be restored and why; how long the restore should take at the
//! configured share of Cognito's quotas. A dry run stops here (it writes nothing to the target pool or
//! the ledger; its scratch work stays in the workflow bucket until the lifecycle rule removes it).
//!
//! 1. **Scan**: the backup's users and memberships go into partitions by `sub` (object store).
//! 2. **Classify**: one partition at a time, each user is joined with its groups and given a path: a CSV
//!    import job (split exactly at Cognito's limits), AdminCreateUser, or not restorable. A user whose
//!    import row an earlier restore into this pool saw rejected goes by AdminCreateUser this time.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::restore_path::{self, RestorePath};
use super::work::{self, JobLimits, UserWork, WorkManifest, WorkWriter};
use super::{ImportPorts, ImportRun, csv_dialect, ledger_username, target_username};
use crate::Deadline;
use crate::partitions::{PartitionWriter, read_partition};
use crate::ports::{LedgerEntry, LedgerPath};
use crate::rate::QuotaCategory;
use crate::schema::{BackupItem, UserItem};
use crate::settings::QuotaSettings;
use crate::step::{StepError, TableScan};

/// Users listed by sub in the plan and the report (the counts are always complete).
pub const LISTED: usize = 100;
/// Import jobs' speed is not documented; the original solution's published recoveries (500,000 users in
/// about 248 minutes, all overheads included) bound it from below at about 34 users/s.
pub const ASSUMED_IMPORT_JOB_USERS_PER_SECOND: f64 = 34.0;

#[derive(Debug, Deserialize)]
pub struct PlanInput {
    pub run: ImportRun,
    #[serde(default)]
    pub plan: Option<Plan>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PlanPhase {
    #[default]
    Scan,
    Classify,
    Done,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    pub done: bool,
    pub phase: PlanPhase,
    pub scan: TableScan,
    /// The next partition to classify.
    pub next_partition: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest_key: Option<String>,
    pub users_by_csv_import: u64,
    pub users_by_admin_create_user: u64,
    pub users_not_restorable: u64,
    /// Users whose import row an earlier restore saw rejected: by AdminCreateUser this time.
    pub users_retried_after_rejection: u64,
    pub disabled_users: u64,
    pub groups: u64,
    pub memberships: u64,
    /// Memberships of users that cannot be restored (federated, nameless).
    pub memberships_not_restorable: u64,
    /// Memberships whose user is no longer in the backup (deleted, a tombstone).
    pub memberships_of_missing_users: u64,
    pub tombstones: u64,
    pub csv_jobs: u64,
    /// Why users take AdminCreateUser or cannot be restored, with how many.
    pub reasons: BTreeMap<String, u64>,
    /// Attributes the target cannot store, with how many users lose a value.
    pub dropped_attributes: BTreeMap<String, u64>,
    pub not_restorable: Vec<UserNote>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimated_seconds: Option<f64>,
    pub invocations: u32,
}

/// A user named by its sub only, with what happens to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserNote {
    pub sub: String,
    pub reason: String,
}

/// What the scan puts in the partitions.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "t")]
enum Record {
    #[serde(rename = "u")]
    User(Box<UserItem>),
    #[serde(rename = "m")]
    Member { group: String, sub: String },
}

fn partitions_prefix(run: &ImportRun) -> String {
    format!("{}plan/", run.object_prefix())
}

pub async fn run(
    ports: ImportPorts<'_>,
    input: PlanInput,
    quota: QuotaSettings,
    limits: JobLimits,
    deadline: Deadline,
) -> Result<Plan, StepError> {
    let run = &input.run;
    if let Some(token) = &run.lease {
        crate::lease::ensure(ports.leases, ports.clock, token).await?;
    }
    let mut plan = input.plan.unwrap_or_default();
    plan.invocations += 1;
    // An invocation that starts classifying always classifies at least one partition.
    let started_classifying = plan.phase == PlanPhase::Classify;
    if plan.phase == PlanPhase::Scan {
        scan(ports, run, &mut plan, deadline).await?;
    }
    if plan.phase == PlanPhase::Classify && (started_classifying || !deadline.expired()) {
        classify(ports, run, &mut plan, limits, deadline).await?;
    }
    if plan.phase == PlanPhase::Done {
        plan.done = true;
        plan.estimated_seconds = Some(estimate(&plan, quota));
    }
    tracing::info!(phase = ?plan.phase, csv = plan.users_by_csv_import, direct = plan.users_by_admin_create_user, "restore plan");
    Ok(plan)
}

async fn scan(ports: ImportPorts<'_>, run: &ImportRun, plan: &mut Plan, deadline: Deadline) -> Result<(), StepError> {
    let mut writer = PartitionWriter::new(
        ports.objects,
        partitions_prefix(run),
        run.partitions(),
        format!("scan-{:06}", plan.invocations),
    );
    let mut scan = plan.scan.clone();
    scan.follow(ports.store, deadline, async |items| {
        for item in items {
            match item {
                BackupItem::User(u) => {
                    let sub = u.sub.clone();
                    writer.add(&sub, &Record::User(Box::new(u))).await?;
                }
                BackupItem::Membership(m) => {
                    writer.add(&m.sub.clone(), &Record::Member { group: m.group_name, sub: m.sub }).await?
                }
                BackupItem::Group(_) => plan.groups += 1,
                BackupItem::Tombstone(_) => plan.tombstones += 1,
                BackupItem::PoolSnapshot(_) | BackupItem::ExportMarker(_) => {}
            }
        }
        Ok(true)
    })
    .await?;
    writer.flush().await?;
    plan.scan = scan;
    if plan.scan.done {
        plan.phase = PlanPhase::Classify;
    }
    Ok(())
}

async fn classify(
    ports: ImportPorts<'_>,
    run: &ImportRun,
    plan: &mut Plan,
    limits: JobLimits,
    deadline: Deadline,
) -> Result<(), StepError> {
    let manifest = match &plan.manifest_key {
        Some(key) => WorkManifest::load(ports.objects, key).await?,
        None => WorkManifest { header_line: csv_dialect::header_line(&run.target.csv_header), ..Default::default() },
    };
    // Jobs are sized from the backup's user count (a plan only learns the CSV share as it goes).
    let job_users = work::job_size(run.backup_size.users, limits);
    let label = format!("plan-{:06}", plan.invocations);
    let mut writer = WorkWriter::new(ports.objects, run, manifest, label.clone(), limits, job_users);
    let partitions = run.partitions();
    let mut first = true;
    while plan.next_partition < partitions && (first || !deadline.expired()) {
        first = false;
        classify_partition(ports, run, plan, &mut writer, plan.next_partition).await?;
        plan.next_partition += 1;
    }
    let manifest = writer.finish().await?;
    plan.csv_jobs = manifest.jobs.len() as u64;
    if !run.dry_run {
        let key = format!("{}manifest-{label}.json", work::work_prefix(run));
        manifest.save(ports.objects, &key).await?;
        plan.manifest_key = Some(key);
    }
    if plan.next_partition >= partitions {
        plan.phase = PlanPhase::Done;
    }
    Ok(())
}

async fn classify_partition(
    ports: ImportPorts<'_>,
    run: &ImportRun,
    plan: &mut Plan,
    writer: &mut WorkWriter<'_>,
    partition: u32,
) -> Result<(), StepError> {
    let records: Vec<Record> = read_partition(ports.objects, &partitions_prefix(run), partition).await?;
    let mut users: BTreeMap<String, UserItem> = BTreeMap::new();
    let mut groups_of: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for record in records {
        match record {
            Record::User(u) => {
                users.insert(u.sub.clone(), *u);
            }
            Record::Member { group, sub } => {
                groups_of.entry(sub).or_default().insert(group);
            }
        }
    }
    plan.memberships += groups_of.values().map(|g| g.len() as u64).sum::<u64>();
    plan.memberships_of_missing_users +=
        groups_of.iter().filter(|(sub, _)| !users.contains_key(*sub)).map(|(_, g)| g.len() as u64).sum::<u64>();

    let rejected_before =
        if run.target_was_empty { BTreeSet::new() } else { rejected_earlier(ports, run, users.values()).await? };
    let mut not_restorable = Vec::new();
    for user in users.values() {
        let groups: Vec<String> = groups_of.get(&user.sub).map(|g| g.iter().cloned().collect()).unwrap_or_default();
        let path = restore_path::decide(user, &run.target);
        if let RestorePath::NotRestorable(reason) = &path {
            plan.users_not_restorable += 1;
            plan.memberships_not_restorable += groups.len() as u64;
            *plan.reasons.entry(reason.clone()).or_default() += 1;
            if plan.not_restorable.len() < LISTED {
                plan.not_restorable.push(UserNote { sub: user.sub.clone(), reason: reason.clone() });
            }
            not_restorable.push(LedgerEntry {
                target_pool_id: run.target.pool_id.clone(),
                username: ledger_username(user),
                old_sub: user.sub.clone(),
                old_username: user.username.clone(),
                path: LedgerPath::NotRestorable,
                reason: Some(reason.clone()),
                job_id: None,
                job_line: None,
                failure: None,
                new_sub: None,
            });
            continue;
        }
        plan.disabled_users += u64::from(!user.enabled);
        let (attributes, dropped) = restore_path::restorable_attributes(user, &run.target);
        for name in dropped {
            *plan.dropped_attributes.entry(name).or_default() += 1;
        }
        let name = target_username(user).unwrap_or_default().to_owned();
        let mut work = UserWork {
            name: name.clone(),
            old_sub: user.sub.clone(),
            old_username: user.username.clone(),
            attributes,
            enabled: user.enabled,
            groups,
            reason: None,
            line: None,
            after_rejection: false,
            existing: false,
        };
        match path {
            RestorePath::CsvImport if rejected_before.contains(&name) => {
                plan.users_by_admin_create_user += 1;
                plan.users_retried_after_rejection += 1;
                work.after_rejection = true;
                work.reason = Some("its import row was rejected by an earlier restore into this pool".into());
                writer.add_direct(work).await?;
            }
            RestorePath::CsvImport => {
                plan.users_by_csv_import += 1;
                let row = csv_dialect::row(&run.target.csv_header, &restore_path::csv_values(user, &run.target))
                    .map_err(|e| StepError::InvalidInput(format!("CSV row of sub {}: {e}", user.sub)))?;
                writer.add_csv(&row, work).await?;
            }
            RestorePath::AdminCreateUser(reason) => {
                plan.users_by_admin_create_user += 1;
                *plan.reasons.entry(reason.clone()).or_default() += 1;
                work.reason = Some(reason);
                writer.add_direct(work).await?;
            }
            RestorePath::NotRestorable(_) => unreachable!("handled above"),
        }
    }
    if !run.dry_run {
        ports.ledger.record(&not_restorable).await.map_err(StepError::port("writing the restore ledger"))?;
    }
    Ok(())
}

/// The users (by target name) whose import row an earlier restore into this pool saw rejected.
async fn rejected_earlier<'u>(
    ports: ImportPorts<'_>,
    run: &ImportRun,
    users: impl Iterator<Item = &'u UserItem>,
) -> Result<BTreeSet<String>, StepError> {
    let names: Vec<String> = users.filter_map(|u| target_username(u).map(str::to_owned)).collect();
    let entries = ports
        .ledger
        .by_usernames(&run.target.pool_id, &names)
        .await
        .map_err(StepError::port("reading the restore ledger of earlier restores"))?;
    Ok(entries
        .into_iter()
        .filter(|e| {
            e.path == LedgerPath::AdminCreateUserAfterRejection
                || e.path == LedgerPath::CsvImport
                    && e.failure.as_deref().is_some_and(|f| f != super::failure_category::DUPLICATE)
        })
        .map(|e| e.username)
        .collect())
}

/// Seconds the restore should take with each Cognito quota category at its share: the pipeline runs
/// the lanes at once, so the slowest lane sets the pace; memberships wait for the groups; verification
/// lists the target afterwards.
pub fn estimate(plan: &Plan, quota: QuotaSettings) -> f64 {
    let at = |n: u64, category: QuotaCategory| n as f64 / (category.pool_rps() * quota.share * quota.scale);
    let restored = plan.users_by_csv_import + plan.users_by_admin_create_user;
    let groups = at(plan.groups, QuotaCategory::UserPoolResourceUpdate);
    let lanes = [
        plan.users_by_csv_import as f64 / (ASSUMED_IMPORT_JOB_USERS_PER_SECOND * quota.scale),
        at(plan.users_by_admin_create_user, QuotaCategory::UserCreation),
        at(plan.disabled_users, QuotaCategory::UserUpdate),
        groups
            + at(
                plan.memberships - plan.memberships_not_restorable - plan.memberships_of_missing_users,
                QuotaCategory::UserResourceUpdate,
            ),
    ];
    let verify = at(restored.div_ceil(60) + plan.memberships.div_ceil(60) + plan.groups, QuotaCategory::UserList);
    lanes.into_iter().fold(0.0, f64::max) + verify
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub fn run_for_tests() -> ImportRun {
        ImportRun {
            run_id: "arn:exec:r".into(),
            run_name: "r".into(),
            target: Default::default(),
            policy: Default::default(),
            dry_run: false,
            verify_only: false,
            role_arn_account_id: None,
            source_pool_id: "us-east-1_src".into(),
            backup_export_run_id: "e".into(),
            backup_export_timestamp: 1,
            backup_table_name: None,
            backup_size: Default::default(),
            started_at: 1,
            target_was_empty: true,
            incompatibilities: vec![],
            lease: None,
        }
    }
}
