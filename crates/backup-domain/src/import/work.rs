//! The restore's work lists, written by the plan and consumed by the pipeline, in the object store under
//! `restores/<pool>/<execution>/work/`: the CSV of each import job (in chunks), the users each job carries
//! (to follow them up), and the users to create by AdminCreateUser. A manifest lists exactly the objects
//! that count, so an object left by a failed attempt is never used.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::ImportRun;
use crate::ports::ObjectStore;
use crate::step::StepError;

/// Cognito's limits per import job (cognito-facts.md §4.3): 500,000 users, and a file under 100 MB.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobLimits {
    pub max_users: u64,
    pub max_bytes: u64,
}

impl Default for JobLimits {
    fn default() -> Self {
        Self { max_users: 500_000, max_bytes: 100_000_000 }
    }
}

/// Import jobs run back to back; smaller ones let memberships start sooner, but a pool allows at most
/// 1,000 jobs, so a restore uses at most this many.
pub const TARGET_JOBS: u64 = 50;
/// ... and no job is smaller than this (below it, a job's fixed cost dominates).
pub const MIN_JOB_USERS: u64 = 1_000;

/// The users per job for a restore of `csv_users` users by CSV.
pub fn job_size(csv_users: u64, limits: JobLimits) -> u64 {
    csv_users.div_ceil(TARGET_JOBS).max(MIN_JOB_USERS).min(limits.max_users)
}

/// A user the pipeline creates by AdminCreateUser, or follows up after its import job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserWork {
    /// Its username in the target pool.
    pub name: String,
    pub old_sub: String,
    pub old_username: String,
    /// The attributes to write (those the target can store).
    pub attributes: BTreeMap<String, String>,
    pub enabled: bool,
    pub groups: Vec<String>,
    /// Why it goes by AdminCreateUser.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Its data row in its import job (1-based).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    /// Its CSV row was rejected (by this restore's job or an earlier one): by AdminCreateUser, once.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub after_rejection: bool,
    /// Its import job found it already in the pool: kept or updated as the conflict policy says.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub existing: bool,
}

/// One import job: its CSV in chunks (header first), and its users in the order of its rows.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CsvJob {
    pub index: u32,
    pub rows: u64,
    /// Bytes of the whole file, header included.
    pub bytes: u64,
    pub chunks: Vec<String>,
    pub users: Vec<String>,
}

/// Exactly the objects the pipeline uses.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkManifest {
    pub header_line: String,
    pub jobs: Vec<CsvJob>,
    /// Parts of [`UserWork`] for AdminCreateUser, in order.
    pub direct: Vec<String>,
}

impl WorkManifest {
    pub async fn load(objects: &dyn ObjectStore, key: &str) -> Result<Self, StepError> {
        let body = objects
            .get(key)
            .await
            .map_err(StepError::port("reading the restore's work manifest"))?
            .ok_or_else(|| StepError::InvalidInput(format!("the work manifest {key} is missing")))?;
        serde_json::from_slice(&body).map_err(|e| StepError::InvalidInput(format!("{key}: {e}")))
    }

    pub async fn save(&self, objects: &dyn ObjectStore, key: &str) -> Result<(), StepError> {
        let body = serde_json::to_vec(self).map_err(|e| StepError::InvalidInput(e.to_string()))?;
        objects
            .put(key, "application/json", body)
            .await
            .map_err(StepError::port("saving the restore's work manifest"))?;
        Ok(())
    }
}

/// Reads a part of [`UserWork`] (JSON lines).
pub async fn read_users(objects: &dyn ObjectStore, key: &str) -> Result<Vec<UserWork>, StepError> {
    let body = objects
        .get(key)
        .await
        .map_err(StepError::port("reading the restore's work list"))?
        .ok_or_else(|| StepError::InvalidInput(format!("the work list {key} is missing")))?;
    body.split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).map_err(|e| StepError::InvalidInput(format!("{key}: {e}"))))
        .collect()
}

pub fn users_body(users: &[UserWork]) -> Vec<u8> {
    let mut body = Vec::new();
    for u in users {
        if serde_json::to_writer(&mut body, u).is_ok() {
            body.push(b'\n');
        }
    }
    body
}

pub fn work_prefix(run: &ImportRun) -> String {
    format!("{}work/", run.object_prefix())
}

/// Appends users to the work lists as the plan classifies them, splitting jobs at exactly the limits
/// and flushing parts as they fill. Object names come from counters kept in the manifest, so a retried
/// invocation writes the same names again.
pub struct WorkWriter<'a> {
    objects: &'a dyn ObjectStore,
    prefix: String,
    label: String,
    limits: JobLimits,
    job_users: u64,
    manifest: WorkManifest,
    csv: Vec<u8>,
    csv_users: Vec<UserWork>,
    direct: Vec<UserWork>,
    parts: u32,
}

const PART_BYTES: usize = 1 << 20;

impl<'a> WorkWriter<'a> {
    /// `label` names this invocation's objects; `job_users` comes from [`job_size`].
    pub fn new(
        objects: &'a dyn ObjectStore,
        run: &ImportRun,
        manifest: WorkManifest,
        label: String,
        limits: JobLimits,
        job_users: u64,
    ) -> Self {
        Self {
            objects,
            prefix: work_prefix(run),
            label,
            limits,
            job_users,
            manifest,
            csv: Vec::new(),
            csv_users: Vec::new(),
            direct: Vec::new(),
            parts: 0,
        }
    }

    fn part_key(&mut self, kind: &str) -> String {
        self.parts += 1;
        format!("{}{kind}/{}-{:04}", self.prefix, self.label, self.parts)
    }

    /// Adds a CSV row (without its line break) for `user`; starts a new job when this row would cross a
    /// limit (the header counts towards the size).
    pub async fn add_csv(&mut self, row: &str, mut user: UserWork) -> Result<(), StepError> {
        let header_bytes = self.manifest.header_line.len() as u64 + 1;
        let row_bytes = row.len() as u64 + 1;
        let job = self.manifest.jobs.last();
        let full = job.is_none_or(|j| {
            j.rows + 1 > self.job_users.min(self.limits.max_users) || j.bytes + row_bytes > self.limits.max_bytes
        });
        if full {
            self.flush_csv().await?;
            let index = self.manifest.jobs.len() as u32 + 1;
            self.manifest.jobs.push(CsvJob { index, bytes: header_bytes, ..Default::default() });
        }
        if header_bytes + row_bytes > self.limits.max_bytes {
            return Err(StepError::InvalidInput(format!("a CSV row of {row_bytes} bytes cannot fit an import job")));
        }
        let job = self.manifest.jobs.last_mut().expect("a job was just opened");
        job.rows += 1;
        job.bytes += row_bytes;
        user.line = Some(job.rows);
        self.csv.extend_from_slice(row.as_bytes());
        self.csv.push(b'\n');
        self.csv_users.push(user);
        if self.csv.len() >= PART_BYTES {
            self.flush_csv().await?;
        }
        Ok(())
    }

    pub async fn add_direct(&mut self, user: UserWork) -> Result<(), StepError> {
        self.direct.push(user);
        if self.direct.len() >= 1_000 {
            self.flush_direct().await?;
        }
        Ok(())
    }

    async fn put(&self, key: &str, body: Vec<u8>) -> Result<(), StepError> {
        self.objects
            .put(key, "application/octet-stream", body)
            .await
            .map_err(StepError::port("saving the restore's work lists"))?;
        Ok(())
    }

    async fn flush_csv(&mut self) -> Result<(), StepError> {
        if self.csv_users.is_empty() {
            return Ok(());
        }
        let (chunk, users) = (self.part_key("csv"), self.part_key("csv-users"));
        let (csv, csv_users) = (std::mem::take(&mut self.csv), std::mem::take(&mut self.csv_users));
        self.put(&chunk, csv).await?;
        self.put(&users, users_body(&csv_users)).await?;
        if let Some(job) = self.manifest.jobs.last_mut() {
            job.chunks.push(chunk);
            job.users.push(users);
        }
        Ok(())
    }

    async fn flush_direct(&mut self) -> Result<(), StepError> {
        if self.direct.is_empty() {
            return Ok(());
        }
        let key = self.part_key("direct");
        let direct = std::mem::take(&mut self.direct);
        self.put(&key, users_body(&direct)).await?;
        self.manifest.direct.push(key);
        Ok(())
    }

    /// Writes what is buffered and returns the manifest of everything written so far.
    pub async fn finish(mut self) -> Result<WorkManifest, StepError> {
        self.flush_csv().await?;
        self.flush_direct().await?;
        Ok(self.manifest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::InMemoryObjects;

    fn user(i: u64) -> UserWork {
        UserWork {
            name: format!("u{i}"),
            old_sub: format!("s{i}"),
            old_username: format!("u{i}"),
            attributes: BTreeMap::new(),
            enabled: true,
            groups: vec![],
            reason: None,
            line: None,
            after_rejection: false,
            existing: false,
        }
    }

    async fn split(rows: u64, row_len: usize, limits: JobLimits, job_users: u64) -> WorkManifest {
        let objects = InMemoryObjects::default();
        let run = super::super::plan::tests::run_for_tests();
        let manifest = WorkManifest { header_line: "h".repeat(9), ..Default::default() };
        let mut w = WorkWriter::new(&objects, &run, manifest, "t".into(), limits, job_users);
        for i in 0..rows {
            w.add_csv(&"x".repeat(row_len), user(i)).await.unwrap();
        }
        w.finish().await.unwrap()
    }

    #[tokio::test]
    async fn jobs_split_exactly_at_the_user_limit() {
        let m = split(25, 5, JobLimits { max_users: 10, max_bytes: 1_000_000 }, 100).await;
        assert_eq!(m.jobs.iter().map(|j| j.rows).collect::<Vec<_>>(), vec![10, 10, 5]);
    }

    #[tokio::test]
    async fn jobs_split_exactly_at_the_byte_limit_header_included() {
        // Header 10 bytes, rows 10 bytes each (9 + line break): 10 + 9 × 10 = 100 fits, a 10th row would not.
        let m = split(20, 9, JobLimits { max_users: 1_000, max_bytes: 100 }, 1_000).await;
        assert_eq!(m.jobs.iter().map(|j| (j.rows, j.bytes)).collect::<Vec<_>>(), vec![(9, 100), (9, 100), (2, 30)]);
    }

    #[test]
    fn job_size_targets_fifty_jobs_within_the_limits() {
        let limits = JobLimits::default();
        assert_eq!(job_size(10_000, limits), 1_000);
        assert_eq!(job_size(1_000_000, limits), 20_000);
        assert_eq!(job_size(100_000_000, limits), 500_000);
    }
}
