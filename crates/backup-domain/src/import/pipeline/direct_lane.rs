//! AdminCreateUser (messages suppressed) for the users the CSV path cannot take, the rows an import job
//! rejected (once), and the users a job found already there (kept or updated as the policy says). A user
//! disabled in the backup is disabled right after it is created, before anything else happens to it.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

use futures::StreamExt;
use serde::{Deserialize, Serialize};

use super::queue::QueueCursor;
use super::{IDLE_POLL, Lanes, MemberWork};
use crate::import::ConflictPolicy;
use crate::import::work::{UserWork, WorkManifest, read_users};
use crate::ports::{Created, LedgerEntry, LedgerPath, PortError};
use crate::step::{CONCURRENT_LISTINGS, StepError};

/// Users handled between two saves of the lane's position.
const BATCH: usize = 64;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DirectLane {
    pub done: bool,
    /// The manifest's direct part being worked, and how many of its users are done.
    pub part: u32,
    pub offset: u64,
    pub created: u64,
    /// Rejected import rows created by AdminCreateUser.
    pub created_after_rejection: u64,
    pub disabled: u64,
    pub skipped_existing: u64,
    pub overwritten: u64,
    /// Users `overwrite` enabled or disabled to match the backup.
    pub enabled_flag_restored: u64,
    /// Immutable attributes `overwrite` could not change, by name, with how many users.
    pub immutable_skipped: BTreeMap<String, u64>,
    /// Users AdminCreateUser refused (reported by sub).
    pub failed: u64,
}

impl DirectLane {
    pub fn manifest_done(&self, manifest: &WorkManifest) -> bool {
        self.part as usize >= manifest.direct.len()
    }
}

enum Done {
    Created { disabled: bool, after_rejection: bool },
    Kept,
    Overwritten { immutable: Vec<String>, enabled_changed: bool },
    Failed,
}

impl Lanes<'_> {
    pub async fn direct(
        &self,
        mut lane: DirectLane,
        mut retries: QueueCursor,
    ) -> Result<(DirectLane, QueueCursor), StepError> {
        let result = self.direct_until_deadline(&mut lane, &mut retries).await;
        self.shared.direct_active.store(false, Ordering::SeqCst);
        self.shared.direct_idle.store(true, Ordering::SeqCst);
        result.map(|()| (lane, retries))
    }

    async fn direct_until_deadline(&self, lane: &mut DirectLane, retries: &mut QueueCursor) -> Result<(), StepError> {
        let mut first = true;
        // The part being worked, read once.
        let mut cached: Option<(String, Vec<UserWork>)> = None;
        loop {
            if !first && self.deadline.expired() {
                return Ok(());
            }
            first = false;
            // 1. The plan's users; 2. retries saved by earlier invocations; 3. retries of this invocation.
            if !lane.manifest_done(self.manifest) {
                let key = self.manifest.direct[lane.part as usize].clone();
                if cached.as_ref().is_none_or(|(k, _)| *k != key) {
                    cached = Some((key.clone(), read_users(self.ports.objects, &key).await?));
                }
                let users = cached.as_ref().map(|(_, u)| u.as_slice()).unwrap_or_default();
                let batch: Vec<UserWork> = users.iter().skip(lane.offset as usize).take(BATCH).cloned().collect();
                if batch.is_empty() {
                    (lane.part, lane.offset) = (lane.part + 1, 0);
                    continue;
                }
                lane.offset += batch.len() as u64;
                self.direct_batch(lane, batch).await?;
                continue;
            }
            if !retries.drained() {
                let key = format!("retries-{}", retries.part);
                if cached.as_ref().is_none_or(|(k, _)| *k != key) {
                    let from_start = QueueCursor { offset: 0, ..retries.clone() };
                    cached = Some((key.clone(), self.shared.retries.read_part(self.ports.objects, &from_start).await?));
                }
                let users = cached.as_ref().map(|(_, u)| u.as_slice()).unwrap_or_default();
                let batch: Vec<UserWork> = users.iter().skip(retries.offset as usize).take(BATCH).cloned().collect();
                if batch.is_empty() {
                    (retries.part, retries.offset) = (retries.part + 1, 0);
                    continue;
                }
                retries.offset += batch.len() as u64;
                self.direct_batch(lane, batch).await?;
                continue;
            }
            let batch = self.shared.retries.take(BATCH);
            if !batch.is_empty() {
                self.shared.direct_idle.store(false, Ordering::SeqCst);
                self.direct_batch(lane, batch).await?;
                continue;
            }
            self.shared.direct_idle.store(true, Ordering::SeqCst);
            if !self.shared.csv_active.load(Ordering::SeqCst) {
                return Ok(());
            }
            tokio::time::sleep(IDLE_POLL).await;
        }
    }

    async fn direct_batch(&self, lane: &mut DirectLane, batch: Vec<UserWork>) -> Result<(), StepError> {
        let mut ledger = Vec::with_capacity(batch.len());
        let mut results = futures::stream::iter(batch)
            .map(|user| async move { (self.one_user(&user).await, user) })
            .buffer_unordered(CONCURRENT_LISTINGS);
        while let Some((outcome, user)) = results.next().await {
            let (path, failure) = match outcome? {
                Done::Created { disabled, after_rejection } => {
                    lane.created += 1;
                    lane.created_after_rejection += u64::from(after_rejection);
                    lane.disabled += u64::from(disabled);
                    (
                        if after_rejection {
                            LedgerPath::AdminCreateUserAfterRejection
                        } else {
                            LedgerPath::AdminCreateUser
                        },
                        None,
                    )
                }
                Done::Kept => {
                    lane.skipped_existing += 1;
                    (LedgerPath::SkippedExisting, None)
                }
                Done::Overwritten { immutable, enabled_changed } => {
                    lane.overwritten += 1;
                    lane.enabled_flag_restored += u64::from(enabled_changed);
                    for name in immutable {
                        *lane.immutable_skipped.entry(name).or_default() += 1;
                    }
                    (LedgerPath::Overwritten, None)
                }
                Done::Failed => {
                    lane.failed += 1;
                    (LedgerPath::AdminCreateUser, Some("AdminCreateUser refused the user's attributes".to_owned()))
                }
            };
            if failure.is_none()
                && let Some(m) = MemberWork::of(&user)
            {
                self.shared.members.push(m);
            }
            ledger.push(LedgerEntry {
                target_pool_id: self.run.target.pool_id.clone(),
                username: user.name.clone(),
                old_sub: user.old_sub.clone(),
                old_username: user.old_username.clone(),
                path,
                reason: user.reason.clone(),
                job_id: None,
                job_line: None,
                failure,
                new_sub: None,
            });
        }
        self.ports.ledger.record(&ledger).await.map_err(StepError::port("writing the restore ledger"))
    }

    async fn one_user(&self, user: &UserWork) -> Result<Done, StepError> {
        let (target, run) = (self.ports.target, self.run);
        let context =
            |what: &str| format!("{what} the user with backup sub {} in {}", user.old_sub, run.target.pool_id);
        let port = |what: &'static str| move |source: PortError| StepError::Port { context: context(what), source };
        let created = if user.existing {
            Created::AlreadyExisted
        } else {
            match target.create_user(&user.name, &user.attributes).await {
                Ok(c) => c,
                // A value the target refuses (a constraint, a format): this user fails, the restore goes on.
                Err(PortError::InvalidRequest(_)) => {
                    // Cognito's message may quote the value: it is not logged.
                    tracing::warn!("AdminCreateUser refused a user's attributes");
                    self.shared.problem(&user.old_sub, "AdminCreateUser refused the user's attributes".into());
                    return Ok(Done::Failed);
                }
                Err(e) => return Err(port("creating")(e)),
            }
        };
        match (created, run.policy) {
            (Created::New, _) => {
                if !user.enabled {
                    target.set_enabled(&user.name, false).await.map_err(port("disabling"))?;
                }
                Ok(Done::Created { disabled: !user.enabled, after_rejection: user.after_rejection })
            }
            // Under `fail` the pool was empty at preflight: an earlier attempt of this restore created it.
            (Created::AlreadyExisted, ConflictPolicy::Fail) => {
                if !user.enabled {
                    target.set_enabled(&user.name, false).await.map_err(port("disabling"))?;
                }
                Ok(Done::Created { disabled: !user.enabled, after_rejection: user.after_rejection })
            }
            (Created::AlreadyExisted, ConflictPolicy::SkipExisting) => Ok(Done::Kept),
            (Created::AlreadyExisted, ConflictPolicy::Overwrite) => {
                let (mutable, immutable): (BTreeMap<_, _>, BTreeMap<_, _>) = user
                    .attributes
                    .clone()
                    .into_iter()
                    .partition(|(k, _)| !run.target.immutable_attributes.contains(k));
                if !mutable.is_empty() {
                    target.update_user_attributes(&user.name, &mutable).await.map_err(port("updating"))?;
                }
                let current = target.get_user(&user.name).await.map_err(port("reading"))?;
                let enabled_changed = current.as_ref().is_some_and(|c| c.enabled != user.enabled);
                if enabled_changed {
                    target.set_enabled(&user.name, user.enabled).await.map_err(port("enabling or disabling"))?;
                }
                Ok(Done::Overwritten { immutable: immutable.into_keys().collect(), enabled_changed })
            }
        }
    }
}
