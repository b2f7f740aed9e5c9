//! The restore pipeline: groups, CSV import jobs (back to back), AdminCreateUser (with disabling right
//! after creation), and memberships as soon as their user exists, all in the same invocations, each
//! lane at its own quota category. The restore then approaches the floor of the slowest category rather
//! than the sum of all the phases.
//!
//! Lanes hand work to each other through queues ([`queue`]): the CSV lane gives the direct lane the rows
//! an import job rejected (one retry by AdminCreateUser) and the users it found already there; the CSV
//! and direct lanes give the members lane every user that now exists. The state machine calls the step
//! until it is done; when only an import job is left to wait for, the step asks it to wait first
//! (`waitSeconds`), growing with the job's size, so a long job adds few history events.

mod csv_lane;
mod direct_lane;
mod groups_lane;
mod members_lane;
pub mod queue;

use std::sync::Mutex;
use std::sync::atomic::AtomicBool;

use serde::{Deserialize, Serialize};

use super::plan::{LISTED, Plan, UserNote};
use super::work::{UserWork, WorkManifest};
use super::{ImportPorts, ImportRun};
use crate::Deadline;
use crate::step::StepError;
pub use csv_lane::CsvLane;
pub use direct_lane::DirectLane;
pub use groups_lane::{GroupsLane, target_group};
pub use members_lane::MembersLane;
use queue::{Queue, QueueCursor};

#[derive(Debug, Deserialize)]
pub struct PipelineInput {
    pub run: ImportRun,
    pub plan: Plan,
    #[serde(default)]
    pub pipeline: Option<Pipeline>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Pipeline {
    pub done: bool,
    /// Seconds to wait before the next call (only an import job is left to wait for).
    pub wait_seconds: u64,
    pub groups: GroupsLane,
    pub csv: CsvLane,
    pub direct: DirectLane,
    pub members: MembersLane,
    pub member_queue: QueueCursor,
    pub retry_queue: QueueCursor,
    /// Users the pipeline could not restore or follow up, by sub with a category (all counted).
    pub problems: u64,
    pub problem_notes: Vec<UserNote>,
    pub invocations: u32,
}

/// A user that now exists in the target pool, with the groups it must join.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MemberWork {
    pub name: String,
    pub old_sub: String,
    pub groups: Vec<String>,
}

impl MemberWork {
    pub fn of(user: &UserWork) -> Option<Self> {
        (!user.groups.is_empty()).then(|| Self {
            name: user.name.clone(),
            old_sub: user.old_sub.clone(),
            groups: user.groups.clone(),
        })
    }
}

/// What the lanes share within one invocation.
pub(crate) struct Shared {
    pub members: Queue<MemberWork>,
    pub retries: Queue<UserWork>,
    pub csv_active: AtomicBool,
    pub direct_active: AtomicBool,
    pub direct_idle: AtomicBool,
    pub members_idle: AtomicBool,
    pub groups_done: AtomicBool,
    pub groups_active: AtomicBool,
    problems: Mutex<(u64, Vec<UserNote>)>,
}

impl Shared {
    pub fn problem(&self, sub: &str, reason: String) {
        let mut p = self.problems.lock().unwrap_or_else(|p| p.into_inner());
        p.0 += 1;
        if p.1.len() < LISTED {
            p.1.push(UserNote { sub: sub.to_owned(), reason });
        }
    }
}

/// How long a lane with nothing to do waits before looking again (another lane may give it work).
pub(crate) const IDLE_POLL: std::time::Duration = std::time::Duration::from_millis(250);

pub async fn run(ports: ImportPorts<'_>, input: PipelineInput, deadline: Deadline) -> Result<Pipeline, StepError> {
    let run = &input.run;
    if let Some(token) = &run.lease {
        crate::lease::ensure(ports.leases, ports.clock, token).await?;
    }
    let key = input
        .plan
        .manifest_key
        .as_deref()
        .ok_or_else(|| StepError::InvalidInput("the plan wrote no work manifest".into()))?;
    let manifest = WorkManifest::load(ports.objects, key).await?;
    let mut p = input.pipeline.unwrap_or_default();
    p.invocations += 1;
    p.wait_seconds = 0;
    let prefix = super::work::work_prefix(run);
    let shared = Shared {
        members: Queue::new(format!("{prefix}queue/members-")),
        retries: Queue::new(format!("{prefix}queue/retries-")),
        csv_active: AtomicBool::new(!p.csv.done),
        direct_active: AtomicBool::new(!p.direct.done),
        direct_idle: AtomicBool::new(false),
        members_idle: AtomicBool::new(false),
        groups_done: AtomicBool::new(p.groups.done),
        groups_active: AtomicBool::new(!p.groups.done),
        problems: Mutex::new((p.problems, std::mem::take(&mut p.problem_notes))),
    };
    let lanes = Lanes { ports, run, manifest: &manifest, shared: &shared, deadline };
    let (groups, csv, direct, members) = tokio::join!(
        lanes.groups(p.groups.clone()),
        lanes.csv(p.csv.clone()),
        lanes.direct(p.direct.clone(), p.retry_queue.clone()),
        lanes.members(p.members.clone(), p.member_queue.clone()),
    );
    let (csv, wait) = csv?;
    let (direct, mut retry_queue) = direct?;
    let (members, mut member_queue) = members?;
    p.groups = groups?;
    shared.retries.persist(ports.objects, &mut retry_queue).await?;
    shared.members.persist(ports.objects, &mut member_queue).await?;
    (p.csv, p.direct, p.members, p.retry_queue, p.member_queue) = (csv, direct, members, retry_queue, member_queue);
    let (count, notes) = shared.problems.into_inner().unwrap_or_else(|p| p.into_inner());
    (p.problems, p.problem_notes) = (count, notes);

    // A lane is finished only when nothing can hand it more work.
    p.direct.done = p.direct.manifest_done(&manifest) && p.csv.done && p.retry_queue.drained();
    p.members.done = p.groups.done && p.csv.done && p.direct.done && p.member_queue.drained();
    p.done = p.groups.done && p.csv.done && p.direct.done && p.members.done;
    if !p.done && wait > 0 && !deadline.expired() {
        p.wait_seconds = wait;
    }
    tracing::info!(
        groups = p.groups.created,
        csv_imported = p.csv.imported,
        created = p.direct.created,
        memberships = p.members.added,
        done = p.done,
        wait = p.wait_seconds,
        "restore pipeline"
    );
    Ok(p)
}

/// The lanes of one invocation.
pub(crate) struct Lanes<'a> {
    pub ports: ImportPorts<'a>,
    pub run: &'a ImportRun,
    pub manifest: &'a WorkManifest,
    pub shared: &'a Shared,
    pub deadline: Deadline,
}
