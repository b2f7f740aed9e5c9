//! CSV import jobs, back to back: create, upload (header and chunks), start, poll, settle. Settling
//! reads the rows the job rejected from its log: a user already in the pool is kept or updated as the
//! policy says (by the direct lane), any other rejection gets one retry by AdminCreateUser, and every
//! imported user goes to the members lane.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{IDLE_POLL, Lanes, MemberWork};
use crate::import::failure_category::{self, DUPLICATE};
use crate::import::import_job_name;
use crate::import::work::{UserWork, read_users};
use crate::ports::{ImportJob, LedgerEntry, LedgerPath};
use crate::schema::ImportJobStatus;
use crate::step::StepError;

/// The shortest and the longest pause between two polls of a running job.
const MIN_POLL: Duration = Duration::from_secs(5);
const MAX_POLL: Duration = Duration::from_secs(300);

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CsvLane {
    pub done: bool,
    /// The next job of the manifest to start (0-based).
    pub next_job: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub running: Option<ImportJob>,
    pub polls: u64,
    pub jobs_done: u32,
    pub submitted: u64,
    pub imported: u64,
    /// Rows rejected for a reason other than the user being there already (retried by AdminCreateUser).
    pub rejected: u64,
    /// Rows of users already in the pool.
    pub existing: u64,
    /// Rejection categories, with how many.
    pub rejections: BTreeMap<String, u64>,
}

impl Lanes<'_> {
    /// Returns the lane and, when it stopped only to wait for a job, how long to wait.
    pub async fn csv(&self, mut lane: CsvLane) -> Result<(CsvLane, u64), StepError> {
        let result = self.csv_until_deadline(&mut lane).await;
        self.shared.csv_active.store(false, Ordering::SeqCst);
        result.map(|wait| (lane, wait))
    }

    async fn csv_until_deadline(&self, lane: &mut CsvLane) -> Result<u64, StepError> {
        let target = self.ports.target;
        let mut pause = MIN_POLL;
        // The first action always happens, so every invocation makes progress however late it starts.
        let mut first = true;
        loop {
            if lane.done {
                return Ok(0);
            }
            if !first && self.deadline.expired() {
                return Ok(0);
            }
            first = false;
            let Some(job) = lane.running.clone() else {
                let Some(next) = self.manifest.jobs.get(lane.next_job as usize) else {
                    lane.done = true;
                    return Ok(0);
                };
                lane.running = Some(self.start_job(next).await?);
                lane.submitted += next.rows;
                continue;
            };
            let job = target.import_job(&job.job_id).await.map_err(StepError::port(format!(
                "DescribeUserImportJob {} on {}",
                job.job_id, self.run.target.pool_id
            )))?;
            lane.polls += 1;
            if job.status.is_final() {
                self.settle(lane, &job).await?;
                lane.running = None;
                lane.next_job += 1;
                lane.jobs_done += 1;
                pause = MIN_POLL;
                continue;
            }
            // Waiting: in this invocation while other lanes work, else from the state machine.
            let rows = self.manifest.jobs.get(lane.next_job as usize).map(|j| j.rows).unwrap_or(0);
            let remaining = rows.saturating_sub((job.imported + job.failed + job.skipped).max(0) as u64);
            let expected =
                Duration::from_secs_f64(remaining as f64 / crate::import::plan::ASSUMED_IMPORT_JOB_USERS_PER_SECOND);
            let others_idle = self.shared.direct_idle.load(Ordering::SeqCst)
                && self.shared.members_idle.load(Ordering::SeqCst)
                && !self.shared.groups_active.load(Ordering::SeqCst);
            lane.running = Some(job);
            if others_idle || self.deadline.remaining() < pause {
                return Ok((expected / 2).clamp(MIN_POLL, MAX_POLL).as_secs());
            }
            let until = tokio::time::Instant::now() + pause;
            while tokio::time::Instant::now() < until && !self.deadline.expired() {
                tokio::time::sleep(IDLE_POLL.min(until - tokio::time::Instant::now())).await;
                if self.shared.direct_idle.load(Ordering::SeqCst) && self.shared.members_idle.load(Ordering::SeqCst) {
                    break;
                }
            }
            pause = (pause * 2).min(MAX_POLL);
        }
    }

    /// Creates the job, uploads its CSV, records its users in the ledger, starts it.
    async fn start_job(&self, job: &crate::import::work::CsvJob) -> Result<ImportJob, StepError> {
        let (target, objects, run) = (self.ports.target, self.ports.objects, self.run);
        let pool = &run.target.pool_id;
        let created = target
            .create_import_job(&import_job_name(&run.run_name, job.index))
            .await
            .map_err(StepError::port(format!("creating a user import job in {pool}")))?;
        let mut csv = Vec::with_capacity(job.bytes as usize);
        csv.extend_from_slice(self.manifest.header_line.as_bytes());
        csv.push(b'\n');
        for chunk in &job.chunks {
            let body = objects
                .get(chunk)
                .await
                .map_err(StepError::port("reading an import job's CSV"))?
                .ok_or_else(|| StepError::InvalidInput(format!("{chunk} is missing")))?;
            csv.extend_from_slice(&body);
        }
        target
            .upload_import_csv(&created, csv)
            .await
            .map_err(StepError::port(format!("uploading the CSV of import job {}", created.job_id)))?;
        let mut entries = Vec::new();
        for part in &job.users {
            for user in read_users(objects, part).await? {
                entries.push(LedgerEntry {
                    target_pool_id: pool.clone(),
                    username: user.name.clone(),
                    old_sub: user.old_sub.clone(),
                    old_username: user.old_username.clone(),
                    path: LedgerPath::CsvImport,
                    reason: None,
                    job_id: Some(created.job_id.clone()),
                    job_line: user.line,
                    failure: None,
                    new_sub: None,
                });
            }
        }
        self.ports.ledger.record(&entries).await.map_err(StepError::port("writing the restore ledger"))?;
        let started = target
            .start_import_job(&created.job_id)
            .await
            .map_err(StepError::port(format!("starting user import job {} in {pool}", created.job_id)))?;
        tracing::info!(job_id = %started.job_id, rows = job.rows, "user import job started");
        Ok(started)
    }

    /// What became of each row of a finished job.
    async fn settle(&self, lane: &mut CsvLane, job: &ImportJob) -> Result<(), StepError> {
        let (target, objects) = (self.ports.target, self.ports.objects);
        let Some(manifest_job) = self.manifest.jobs.get(lane.next_job as usize) else { return Ok(()) };
        let failures: BTreeMap<u64, &'static str> = target
            .import_job_failures(job)
            .await
            .map_err(StepError::port(format!("reading the rejected rows of import job {}", job.job_id)))?
            .into_iter()
            .map(|f| (f.line, failure_category::categorize(&f.reason)))
            .collect();
        // A job that did not succeed may have stopped anywhere: its rows without a logged failure are
        // handed to AdminCreateUser too (a user it did import is then found already there).
        let succeeded = job.status == ImportJobStatus::Succeeded;
        let mut updated = Vec::new();
        for part in &manifest_job.users {
            for mut user in read_users(objects, part).await? {
                let category = user.line.and_then(|l| failures.get(&l)).copied();
                match category {
                    None if succeeded => {
                        lane.imported += 1;
                        if let Some(m) = MemberWork::of(&user) {
                            self.shared.members.push(m);
                        }
                    }
                    Some(DUPLICATE) => {
                        lane.existing += 1;
                        user.existing = true;
                        self.hand_over(user, DUPLICATE, job, &mut updated);
                    }
                    other => {
                        let why = other.unwrap_or("its import job ended before importing it");
                        lane.rejected += 1;
                        *lane.rejections.entry(why.to_owned()).or_default() += 1;
                        user.after_rejection = true;
                        self.hand_over(user, why, job, &mut updated);
                    }
                }
            }
        }
        self.ports.ledger.record(&updated).await.map_err(StepError::port("writing the restore ledger"))?;
        if !succeeded {
            tracing::warn!(job_id = %job.job_id, status = %job.status, "an import job did not succeed; its rows go to AdminCreateUser");
        }
        Ok(())
    }

    /// Records the rejection in the ledger and gives the user to the direct lane.
    fn hand_over(&self, user: UserWork, why: &str, job: &ImportJob, ledger: &mut Vec<LedgerEntry>) {
        ledger.push(LedgerEntry {
            target_pool_id: self.run.target.pool_id.clone(),
            username: user.name.clone(),
            old_sub: user.old_sub.clone(),
            old_username: user.old_username.clone(),
            path: LedgerPath::CsvImport,
            reason: None,
            job_id: Some(job.job_id.clone()),
            job_line: user.line,
            failure: Some(why.to_owned()),
            new_sub: None,
        });
        self.shared.retries.push(user);
    }
}
