//! The ExportWorkflow's steps. Each step is one Lambda; each long step takes the cursor it returned
//! last time, works until its [`Deadline`](crate::Deadline), and hands back a new cursor with
//! `done: true` once finished, so the state machine loops until a pool of any size is exported.
//!
//! The state machine passes every step the whole workflow state (see `statemachines/export-workflow.asl.json`)
//! and stores each step's result under its own key: `run`, `users`, `groups`, `memberships`, `cleanup`.

pub mod cleanup;
pub mod completion;
pub mod groups;
pub mod memberships;
pub mod pool_snapshot;
pub mod users;

use serde::{Deserialize, Serialize};

use crate::schema::Confirmation;

pub use crate::step::{Listing, StepError};
pub(crate) use crate::step::CONCURRENT_LISTINGS;

/// What every step knows about the run, produced once by the pool-snapshot step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportRun {
    /// The Step Functions execution ARN.
    pub run_id: String,
    pub pool_id: String,
    /// Epoch milliseconds; every item this run writes gets it as `lastConfirmedAt`.
    pub export_timestamp: i64,
    pub username_attributes: Vec<String>,
    pub mfa_configuration: String,
    /// Set from the execution input `{"AllowMassRemoval": true}` to let the clean-up remove more users
    /// than `CLEANUP_MAX_REMOVED_USER_SHARE` allows.
    #[serde(default)]
    pub allow_mass_removal: bool,
}

impl ExportRun {
    pub fn confirmation(&self) -> Confirmation {
        Confirmation::new(self.export_timestamp, &self.run_id)
    }
}

#[cfg(test)]
pub(crate) mod test_support {
    use super::ExportRun;

    pub fn run(username_attributes: &[&str], export_timestamp: i64) -> ExportRun {
        ExportRun {
            run_id: format!("arn:aws:states:us-east-1:123456789012:execution:ExportWorkflow:run-{export_timestamp}"),
            pool_id: "us-east-1_test".into(),
            export_timestamp,
            username_attributes: username_attributes.iter().map(|s| s.to_string()).collect(),
            mfa_configuration: "OFF".into(),
            allow_mass_removal: false,
        }
    }
}
