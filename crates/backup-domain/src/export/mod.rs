//! The ExportWorkflow's steps. Each step is one Lambda; each long step takes the cursor it returned
//! last time, works until its [`Deadline`](crate::Deadline), and hands back a new cursor with
//! `done: true` once finished, so the state machine loops until a pool of any size is exported.
//!
//! A run holds the export lease from its first write to its end ([`crate::lease`]). It writes only what
//! changed ([`writer`]), records every key it saw in S3 ([`seen`]), checks that it saw the whole pool
//! before removing anything ([`completeness`]), and only then removes what is gone ([`cleanup`]).

pub mod cleanup;
pub mod completeness;
pub mod completion;
#[cfg(any(test, feature = "test-support"))]
pub mod driver;
pub mod groups;
pub mod memberships;
pub mod open_run;
pub mod seen;
pub mod users;
pub mod writer;

use serde::{Deserialize, Serialize};

use crate::Clock;
pub(crate) use crate::lease;
pub use crate::lease::LeaseToken;
use crate::ports::{BackupStore, LeaseStore, ObjectStore, UserPool};
use crate::schema::{Confirmation, MfaConfiguration};
pub use crate::step::{Listing, StepError};

pub(crate) use crate::step::CONCURRENT_LISTINGS;

/// The ExportWorkflow's input. Unknown fields are refused, so a misspelt option is not silently ignored.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct ExportRequest {
    /// Let the clean-up remove more than the removal guard allows (real mass deletions).
    #[serde(default)]
    pub allow_mass_removal: bool,
    /// Accept a listing that disagrees with the pool's own user estimate beyond the tolerance.
    #[serde(default)]
    pub allow_count_mismatch: bool,
}

const EXAMPLE: &str = r#"{} or {"AllowMassRemoval": true} or {"AllowCountMismatch": true}"#;

impl ExportRequest {
    pub fn parse(input: &serde_json::Value) -> Result<Self, StepError> {
        if input.is_null() {
            return Ok(Self::default());
        }
        // Serde would read a struct from an array too (`[true]` as AllowMassRemoval): only objects.
        if !input.is_object() {
            return Err(StepError::InvalidInput(format!(
                "the ExportWorkflow input must be a JSON object, not {input}. Valid inputs: {EXAMPLE}"
            )));
        }
        serde_json::from_value(input.clone()).map_err(|e| {
            StepError::InvalidInput(format!("the ExportWorkflow input is not valid ({e}). Valid inputs: {EXAMPLE}"))
        })
    }
}

/// What every step knows about the run, produced once by [`open_run`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportRun {
    /// The Step Functions execution ARN.
    pub run_id: String,
    pub pool_id: String,
    /// When the run started (epoch ms). Items read from Cognito after it are never removed by this run.
    pub export_timestamp: i64,
    pub username_attributes: Vec<String>,
    pub mfa_configuration: MfaConfiguration,
    pub lease: LeaseToken,
    /// `EstimatedNumberOfUsers` when the run started.
    pub estimated_users_at_start: u64,
    #[serde(default)]
    pub allow_mass_removal: bool,
    #[serde(default)]
    pub allow_count_mismatch: bool,
}

impl ExportRun {
    /// Items read from Cognito at `observed_at` carry this confirmation.
    pub fn confirmation(&self, observed_at: i64) -> Confirmation {
        Confirmation::new(observed_at, &self.run_id)
    }

    /// The execution's name: the last part of its ARN.
    pub fn run_name(&self) -> &str {
        self.run_id.rsplit(':').next().unwrap_or(&self.run_id)
    }

    /// Where the run keeps its state in the object store.
    pub fn object_prefix(&self) -> String {
        format!("exports/{}/", self.run_name())
    }
}

/// A failed call on the user pool: a missing pool is named as such (the run must fail and remove
/// nothing), anything else keeps its kind.
pub(crate) fn pool_error(pool_id: &str, doing: &str, e: crate::ports::PortError) -> StepError {
    match e {
        crate::ports::PortError::NotFound(detail) => StepError::Refused {
            name: "UserPoolNotFound",
            message: format!(
                "{doing} of user pool {pool_id} failed: the pool does not exist ({detail}). The run stops; nothing \
                 is removed from the backup."
            ),
        },
        other => StepError::Port { context: format!("{doing} of user pool {pool_id}"), source: other },
    }
}

/// The outside world of the export steps.
#[derive(Clone, Copy)]
pub struct ExportPorts<'a> {
    pub pool: &'a dyn UserPool,
    pub store: &'a dyn BackupStore,
    pub objects: &'a dyn ObjectStore,
    pub lease: &'a dyn LeaseStore,
    pub clock: &'a dyn Clock,
}

#[cfg(test)]
mod tests;

#[cfg(test)]
pub(crate) mod test_support {
    use super::{ExportPorts, ExportRun, LeaseToken};
    use crate::memory::{
        FixedClock, InMemoryLease, InMemoryObjects, InMemoryStore, InMemoryUserPool, ScriptedExecutions,
    };

    pub fn run(username_attributes: &[&str], export_timestamp: i64) -> ExportRun {
        ExportRun {
            run_id: format!("arn:aws:states:us-east-1:123456789012:execution:ExportWorkflow:run-{export_timestamp}"),
            pool_id: "us-east-1_test".into(),
            export_timestamp,
            username_attributes: username_attributes.iter().map(|s| s.to_string()).collect(),
            mfa_configuration: Default::default(),
            lease: LeaseToken { name: "EXPORT".into(), owner: "test-owner".into(), fence: 1, ttl_ms: 600_000 },
            estimated_users_at_start: 0,
            allow_mass_removal: false,
            allow_count_mismatch: false,
        }
    }

    /// In-memory adapters of every export port.
    pub struct Harness {
        pub pool: InMemoryUserPool,
        pub store: InMemoryStore,
        pub objects: InMemoryObjects,
        pub lease: InMemoryLease,
        pub clock: FixedClock,
        pub executions: ScriptedExecutions,
    }

    impl Harness {
        pub fn new(page_size: usize) -> Self {
            Self {
                pool: InMemoryUserPool::new("us-east-1_test").with_page_size(page_size),
                store: InMemoryStore::default().with_page_size(25),
                objects: InMemoryObjects::default(),
                lease: InMemoryLease::default(),
                clock: FixedClock::at(1_000_000),
                executions: ScriptedExecutions::default(),
            }
        }

        pub fn ports(&self) -> ExportPorts<'_> {
            ExportPorts {
                pool: &self.pool,
                store: &self.store,
                objects: &self.objects,
                lease: &self.lease,
                clock: &self.clock,
            }
        }

        /// Opens a run (takes the lease) as a new execution would.
        pub async fn open_run(&self) -> ExportRun {
            self.clock.advance(1_000);
            let input = super::open_run::OpenRunInput {
                execution_arn: format!("arn:aws:states:us-east-1:1:execution:ExportWorkflow:run-{}", self.clock_ms()),
                execution_input: serde_json::json!({}),
            };
            super::open_run::run(self.ports(), &self.executions, &input).await.unwrap().run.expect("the lease is free")
        }

        pub fn clock_ms(&self) -> i64 {
            crate::Clock::now_ms(&self.clock)
        }
    }
}
