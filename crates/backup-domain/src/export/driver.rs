//! The whole ExportWorkflow as its state machine runs it (statemachines/export-workflow.asl.json), for
//! tests and the virtual-time simulation: the same steps, the same loops, the sweep branch.

use std::time::Duration;

use super::cleanup::{self, CleanupCursor, CleanupInput};
use super::completeness::{self, Completeness, CompletenessInput};
use super::completion::{self, CompletionInput};
use super::groups::{self, GroupsCursor, GroupsInput};
use super::memberships::{self, MembershipsCursor, MembershipsInput};
use super::open_run::{self, OpenRunInput};
use super::users::{self, Concurrency, UsersCursor, UsersInput};
use super::{ExportPorts, StepError};
use crate::Deadline;
use crate::ports::{Notifier, WorkflowExecutions};
use crate::schema::ExportMarkerItem;
use crate::settings::{CountTolerance, NotificationPreference, RemovalGuard};
use crate::workflow_trace::Trace;
use tokio::time::Instant;

/// How each invocation's deadline is set: `Duration::ZERO` makes every step hand back its cursor after one
/// round of work, as a long export does across many invocations.
#[derive(Debug, Clone, Copy)]
pub struct DriverSettings {
    pub invocation: Duration,
    pub concurrency: Concurrency,
    pub tolerance: CountTolerance,
    pub guard: RemovalGuard,
}

impl Default for DriverSettings {
    fn default() -> Self {
        Self {
            invocation: Duration::ZERO,
            concurrency: Concurrency::default(),
            tolerance: CountTolerance::default(),
            guard: RemovalGuard::default(),
        }
    }
}

/// Where a run ended.
#[derive(Debug)]
pub enum Outcome {
    Completed(Box<ExportMarkerItem>),
    /// Another run held the lease.
    Skipped(String),
    Failed(Box<Failure>),
}

/// Where a failed run stopped: the error, and how far its clean-up got.
#[derive(Debug)]
pub struct Failure {
    pub error: StepError,
    pub completeness: Option<Completeness>,
    pub cleanup: Option<CleanupCursor>,
}

impl Outcome {
    pub fn marker(self) -> ExportMarkerItem {
        match self {
            Self::Completed(m) => *m,
            other => panic!("the export did not complete: {other:?}"),
        }
    }

    pub fn error(&self) -> Option<&StepError> {
        if let Self::Failed(f) = self { Some(&f.error) } else { None }
    }
}

/// Counts of invocations per step, and their trace, for tests and the simulation.
#[derive(Debug, Default)]
pub struct Invocations {
    pub users: u32,
    pub groups: u32,
    pub memberships: u32,
    pub completeness: u32,
    pub cleanup: u32,
    pub trace: Trace,
}

pub async fn run_export(
    ports: ExportPorts<'_>,
    executions: &dyn WorkflowExecutions,
    notifier: &dyn Notifier,
    settings: DriverSettings,
    execution_arn: &str,
    input: serde_json::Value,
) -> (Outcome, Invocations) {
    let mut invocations = Invocations::default();
    let deadline = || Deadline::after(settings.invocation);
    invocations.trace.passed(1); // Begin
    let started = Instant::now();
    let opened = match open_run::run(
        ports,
        executions,
        &OpenRunInput { execution_arn: execution_arn.into(), execution_input: input },
    )
    .await
    {
        Ok(o) => o,
        Err(error) => {
            return (Outcome::Failed(Box::new(Failure { error, completeness: None, cleanup: None })), invocations);
        }
    };
    invocations.trace.record("OpenRun", started, "open", &opened);
    let Some(run) = opened.run else { return (Outcome::Skipped(opened.message), invocations) };
    invocations.trace.keep("run", &run);
    let fail = |error, completeness, cleanup| Outcome::Failed(Box::new(Failure { error, completeness, cleanup }));

    let mut users: Option<UsersCursor> = None;
    let mut sweep = false;
    let mut groups: Option<GroupsCursor> = None;
    let mut memberships: Option<MembershipsCursor> = None;
    let completeness = loop {
        loop {
            invocations.users += 1;
            let input = UsersInput { run: run.clone(), users: users.take(), sweep };
            let started = Instant::now();
            match users::run(ports, input, settings.concurrency, deadline()).await {
                Ok(c) => {
                    invocations.trace.record("ExportUsers", started, "users", &c);
                    let done = c.done;
                    users = Some(c);
                    if done {
                        break;
                    }
                }
                Err(e) => return (fail(e, None, None), invocations),
            }
        }
        while groups.as_ref().is_none_or(|g| !g.listing.done) {
            invocations.groups += 1;
            let started = Instant::now();
            match groups::run(ports, GroupsInput { run: run.clone(), groups: groups.take() }, deadline()).await {
                Ok(c) => {
                    invocations.trace.record("ExportGroups", started, "groups", &c);
                    groups = Some(c)
                }
                Err(e) => return (fail(e, None, None), invocations),
            }
        }
        while memberships.as_ref().is_none_or(|m| !m.done) {
            invocations.memberships += 1;
            let input = MembershipsInput { run: run.clone(), memberships: memberships.take() };
            let started = Instant::now();
            match memberships::run(ports, input, deadline()).await {
                Ok(c) => {
                    invocations.trace.record("ExportMemberships", started, "memberships", &c);
                    memberships = Some(c)
                }
                Err(e) => return (fail(e, None, None), invocations),
            }
        }
        let mut check: Option<Completeness> = None;
        loop {
            invocations.completeness += 1;
            let input = CompletenessInput {
                run: run.clone(),
                users: users.clone().unwrap_or_default(),
                groups: groups.clone().unwrap_or_default(),
                memberships: memberships.clone().unwrap_or_default(),
                completeness: check.take(),
            };
            let started = Instant::now();
            match completeness::run(ports, input, settings.tolerance, settings.guard, deadline()).await {
                Ok(c) => {
                    invocations.trace.record("CheckCompleteness", started, "completeness", &c);
                    let finished = c.done || c.sweep;
                    check = Some(c);
                    if finished {
                        break;
                    }
                }
                Err(e) => return (fail(e, None, None), invocations),
            }
        }
        let check = check.unwrap_or_default();
        if !check.sweep {
            break check;
        }
        sweep = true;
        invocations.trace.passed(1); // SweepUsers
    };

    let mut cleanup: Option<CleanupCursor> = None;
    while cleanup.as_ref().is_none_or(|c| !c.done) {
        invocations.cleanup += 1;
        let input = CleanupInput { run: run.clone(), completeness: completeness.clone(), cleanup: cleanup.clone() };
        let started = Instant::now();
        match cleanup::run(ports, input, deadline()).await {
            Ok(c) => {
                invocations.trace.record("CleanUpBackup", started, "cleanup", &c);
                cleanup = Some(c)
            }
            Err(e) => return (fail(e, Some(completeness), cleanup), invocations),
        }
    }
    let input = CompletionInput {
        run,
        users: users.unwrap_or_default(),
        groups: groups.unwrap_or_default(),
        memberships: memberships.unwrap_or_default(),
        completeness: completeness.clone(),
        cleanup: cleanup.clone().unwrap_or_default(),
    };
    let started = Instant::now();
    match completion::run(ports, notifier, NotificationPreference::InfoAndErrors, input).await {
        Ok(marker) => {
            invocations.trace.record("CompleteExport", started, "summary", &marker);
            (Outcome::Completed(Box::new(marker)), invocations)
        }
        Err(e) => (fail(e, Some(completeness), cleanup), invocations),
    }
}
