//! Users: a Cognito CSV import job for every user it can take, AdminCreateUser (messages suppressed) for
//! the others, and a ledger entry for every user saying which path it took (or why it could not be
//! restored). One job at a time: this step builds and starts it, then polls it on later invocations.

use std::collections::BTreeMap;

use futures::StreamExt;
use serde::{Deserialize, Serialize};

use super::plan::{LISTED, UserNote};
use super::restore_path::{self, RestorePath};
use super::{ConflictPolicy, ImportRun, csv_dialect, ledger_username, target_username};
use crate::Deadline;
use crate::ports::{BackupStore, Created, ImportJob, LedgerEntry, RestoreLedger, RestoreTarget};
use crate::schema::{BackupItem, UserItem};
use crate::step::{CONCURRENT_LISTINGS, StepError, TableScan};

pub const PATH_CSV: &str = "CSV_IMPORT";
pub const PATH_ADMIN_CREATE: &str = "ADMIN_CREATE_USER";
pub const PATH_NOT_RESTORABLE: &str = "NOT_RESTORABLE";
pub const PATH_SKIPPED: &str = "SKIPPED_EXISTING";
pub const PATH_OVERWRITTEN: &str = "OVERWRITTEN";

/// Cognito's limits per import job: 500,000 users and 100 MB (kept under with a margin for the header).
#[derive(Debug, Clone, Copy)]
pub struct JobLimits {
    pub max_users: usize,
    pub max_bytes: usize,
}

impl Default for JobLimits {
    fn default() -> Self {
        Self { max_users: 500_000, max_bytes: 99_000_000 }
    }
}

#[derive(Debug, Deserialize)]
pub struct UsersInput {
    pub run: ImportRun,
    #[serde(default)]
    pub users: Option<UsersRestore>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UsersRestore {
    pub done: bool,
    /// An import job is running: the state machine waits, then calls the step again.
    pub waiting: bool,
    pub scan: TableScan,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<ImportJob>,
    pub jobs: u32,
    pub csv_submitted: u64,
    pub csv_imported: u64,
    pub csv_rejected: u64,
    pub admin_created: u64,
    pub skipped_existing: u64,
    pub overwritten: u64,
    pub not_restorable: u64,
    /// Users an import job rejected, by sub, with Cognito's reason.
    pub rejected: Vec<UserNote>,
}

fn entry(run: &ImportRun, user: &UserItem, path: &str, reason: Option<String>) -> LedgerEntry {
    LedgerEntry {
        target_pool_id: run.target.pool_id.clone(),
        username: ledger_username(user),
        old_sub: user.sub.clone(),
        old_username: user.username.clone(),
        path: path.into(),
        reason,
        job_id: None,
        job_line: None,
        failure: None,
        new_sub: None,
    }
}

pub async fn run(
    target: &dyn RestoreTarget,
    store: &dyn BackupStore,
    ledger: &dyn RestoreLedger,
    input: UsersInput,
    limits: JobLimits,
    deadline: Deadline,
) -> Result<UsersRestore, StepError> {
    let run = &input.run;
    let mut cursor = input.users.unwrap_or_default();
    cursor.waiting = false;

    if let Some(job) = cursor.job.take() {
        let job = target
            .import_job(&job.job_id)
            .await
            .map_err(StepError::port(format!("DescribeUserImportJob {} on {}", job.job_id, run.target.pool_id)))?;
        if !job.finished() {
            cursor.job = Some(job);
            cursor.waiting = true;
            return Ok(cursor);
        }
        settle(target, ledger, run, &job, &mut cursor).await?;
        if job.status != "Succeeded" {
            return Err(StepError::Refused {
                name: "ImportJobFailed",
                message: format!(
                    "user import job {} into {} ended {}: {}. Its users are in the restore ledger; start the \
                     ImportWorkflow again with \"ConflictPolicy\": \"skip-existing\" to restore the rest.",
                    job.job_id,
                    run.target.pool_id,
                    job.status,
                    job.message.as_deref().unwrap_or("no message")
                ),
            });
        }
    }
    if cursor.scan.done {
        cursor.done = true;
        return Ok(cursor);
    }

    let mut csv = csv_dialect::header_line(&run.target.csv_header);
    let mut csv_entries: Vec<LedgerEntry> = Vec::new();
    let mut scan = cursor.scan.clone();
    scan.follow(store, deadline, async |items| {
        let users: Vec<UserItem> =
            items.into_iter().filter_map(|i| if let BackupItem::User(u) = i { Some(u) } else { None }).collect();
        let mut direct = Vec::new();
        let mut recorded = Vec::new();
        for user in users {
            match restore_path::decide(&user, &run.target) {
                RestorePath::NotRestorable(reason) => {
                    cursor.not_restorable += 1;
                    recorded.push(entry(run, &user, PATH_NOT_RESTORABLE, Some(reason)));
                }
                RestorePath::CsvImport if run.policy == ConflictPolicy::Fail => {
                    append_row(&mut csv, &mut csv_entries, run, &user)?;
                }
                // With another policy the user may exist already: look before choosing the path.
                path => direct.push((user, path)),
            }
        }
        let mut outcomes = futures::stream::iter(direct)
            .map(|(user, path)| restore_one(target, run, user, path))
            .buffer_unordered(CONCURRENT_LISTINGS);
        while let Some(outcome) = outcomes.next().await {
            match outcome? {
                Restored::Direct(e) => {
                    match e.path.as_str() {
                        PATH_ADMIN_CREATE => cursor.admin_created += 1,
                        PATH_SKIPPED => cursor.skipped_existing += 1,
                        _ => cursor.overwritten += 1,
                    }
                    recorded.push(e);
                }
                Restored::ByCsv(user) => append_row(&mut csv, &mut csv_entries, run, &user)?,
            }
        }
        ledger.record(&recorded).await.map_err(StepError::port("writing the restore ledger"))?;
        Ok(csv_entries.len() < limits.max_users && csv.len() < limits.max_bytes)
    })
    .await?;
    cursor.scan = scan;

    if !csv_entries.is_empty() {
        csv.push('\n');
        let name = format!("restore-{}-{}", run.run_name, cursor.jobs + 1);
        let job = target
            .start_import_job(&name, csv.into_bytes())
            .await
            .map_err(StepError::port(format!("starting a user import job in {}", run.target.pool_id)))?;
        for e in &mut csv_entries {
            e.job_id = Some(job.job_id.clone());
        }
        ledger.record(&csv_entries).await.map_err(StepError::port("writing the restore ledger"))?;
        cursor.jobs += 1;
        cursor.csv_submitted += csv_entries.len() as u64;
        tracing::info!(job_id = %job.job_id, users = csv_entries.len(), "user import job started");
        cursor.waiting = !job.finished();
        cursor.job = Some(job);
    }
    cursor.done = cursor.scan.done && cursor.job.is_none();
    Ok(cursor)
}

/// Adds the user's row to the job's CSV and its ledger entry, numbered as the job will report it.
fn append_row(csv: &mut String, entries: &mut Vec<LedgerEntry>, run: &ImportRun, user: &UserItem) -> Result<(), StepError> {
    let row = csv_dialect::row(&run.target.csv_header, &restore_path::csv_values(user, &run.target))
        .map_err(|e| StepError::InvalidInput(format!("CSV row of sub {}: {e}", user.sub)))?;
    csv.push('\n');
    csv.push_str(&row);
    let mut e = entry(run, user, PATH_CSV, None);
    e.job_line = Some(entries.len() as u64 + 1);
    entries.push(e);
    Ok(())
}

enum Restored {
    Direct(LedgerEntry),
    ByCsv(UserItem),
}

/// A user that may already exist (another conflict policy than `fail`), or goes by AdminCreateUser.
async fn restore_one(target: &dyn RestoreTarget, run: &ImportRun, user: UserItem, path: RestorePath) -> Result<Restored, StepError> {
    let name = target_username(&user).unwrap_or_default().to_owned();
    let context = |what: &str| format!("{what} the user with backup sub {} in {}", user.sub, run.target.pool_id);
    let (attributes, _) = restore_path::restorable_attributes(&user, &run.target);
    if run.policy != ConflictPolicy::Fail {
        let existing = target.get_user(&name).await.map_err(|e| StepError::Port { context: context("looking up"), source: e })?;
        if existing.is_some() {
            return existing_user(target, run, &user, &name, &attributes).await;
        }
    }
    match path {
        RestorePath::CsvImport => Ok(Restored::ByCsv(user)),
        RestorePath::AdminCreateUser(reason) => {
            match target
                .create_user(&name, &attributes)
                .await
                .map_err(|e| StepError::Port { context: context("creating"), source: e })?
            {
                Created::New => Ok(Restored::Direct(entry(run, &user, PATH_ADMIN_CREATE, Some(reason)))),
                Created::AlreadyExisted => existing_user(target, run, &user, &name, &attributes).await,
            }
        }
        RestorePath::NotRestorable(reason) => Ok(Restored::Direct(entry(run, &user, PATH_NOT_RESTORABLE, Some(reason)))),
    }
}

async fn existing_user(
    target: &dyn RestoreTarget,
    run: &ImportRun,
    user: &UserItem,
    name: &str,
    attributes: &BTreeMap<String, String>,
) -> Result<Restored, StepError> {
    match run.policy {
        ConflictPolicy::Fail => Err(StepError::Refused {
            name: "UserExists",
            message: format!(
                "the user with backup sub {} already exists in user pool {}; start with \"ConflictPolicy\": \
                 \"skip-existing\" or \"overwrite\"",
                user.sub, run.target.pool_id
            ),
        }),
        ConflictPolicy::SkipExisting => Ok(Restored::Direct(entry(run, user, PATH_SKIPPED, None))),
        ConflictPolicy::Overwrite => {
            target.update_user_attributes(name, attributes).await.map_err(|e| StepError::Port {
                context: format!("updating the user with backup sub {} in {}", user.sub, run.target.pool_id),
                source: e,
            })?;
            Ok(Restored::Direct(entry(run, user, PATH_OVERWRITTEN, None)))
        }
    }
}

/// Records a finished job: rejected rows go into the ledger with Cognito's reason, unless the user is in
/// the pool anyway (an earlier attempt of this step imported it).
async fn settle(
    target: &dyn RestoreTarget,
    ledger: &dyn RestoreLedger,
    run: &ImportRun,
    job: &ImportJob,
    cursor: &mut UsersRestore,
) -> Result<(), StepError> {
    let failures = target
        .import_job_failures(job)
        .await
        .map_err(StepError::port(format!("reading the failed rows of import job {}", job.job_id)))?;
    cursor.csv_imported += job.imported.max(0) as u64;
    if failures.is_empty() {
        return Ok(());
    }
    let by_line: BTreeMap<u64, String> = failures.into_iter().map(|f| (f.line, f.reason)).collect();
    let mut start = None;
    loop {
        let page = ledger
            .entries(&run.target.pool_id, start)
            .await
            .map_err(StepError::port("reading the restore ledger"))?;
        let mut updated = Vec::new();
        for mut e in page.items.into_iter().filter(|e| e.job_id.as_deref() == Some(&job.job_id)) {
            let Some(reason) = e.job_line.and_then(|l| by_line.get(&l)) else { continue };
            let present = target
                .get_user(&e.username)
                .await
                .map_err(StepError::port("looking up a user whose import row was rejected"))?;
            if present.is_some() {
                continue;
            }
            cursor.csv_rejected += 1;
            if cursor.rejected.len() < LISTED {
                cursor.rejected.push(UserNote { sub: e.old_sub.clone(), reason: reason.clone() });
            }
            e.failure = Some(reason.clone());
            updated.push(e);
        }
        ledger.record(&updated).await.map_err(StepError::port("writing the restore ledger"))?;
        match page.next {
            Some(next) => start = Some(next),
            None => return Ok(()),
        }
    }
}
