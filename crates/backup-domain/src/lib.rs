//! The domain of Cognito user-pool backups, free of any AWS SDK.
//!
//! - [`schema`]: what a backup item is (the DynamoDB table's contract, versioned).
//! - [`pseudo_username`]: which value becomes the username when a user is restored.
//! - [`rate`]: the single gate every Cognito call passes, sized per quota category, adaptive.
//! - [`ports`]: the small traits the workflows need from the outside world.
//! - [`export`]: the ExportWorkflow's steps, each resumable from a cursor.
//! - [`import`]: the ImportWorkflow's steps, likewise.
//! - [`capture`]: continuous protection: changes read again from CloudTrail events, between exports.
//! - [`failure_notice`], [`workflow_outcome`]: how a failed run reaches the operator, whatever ended it.
//! - [`settings`]: environment variable names and parsed settings shared by handlers and infra.
//! - [`memory`]: in-memory adapters (tests, the simulation; feature `test-support`).
//! - [`workflow_trace`]: what a driven workflow did against AWS's limits (feature `test-support`).

pub mod capture;
pub mod clock;
pub mod deadline;
pub mod export;
pub mod failure_notice;
pub mod import;
pub mod lease;
pub mod listing;
#[cfg(any(test, feature = "test-support"))]
pub mod memory;
pub mod partitions;
pub mod ports;
pub mod pseudo_username;
pub mod rate;
pub mod schema;
pub mod settings;
pub mod step;
pub mod workflow_outcome;
#[cfg(any(test, feature = "test-support"))]
pub mod workflow_trace;

pub use clock::{Clock, SystemClock, TokioClock};
pub use deadline::Deadline;
pub use step::StepError;
