//! The domain of Cognito user-pool backups, free of any AWS SDK.
//!
//! - [`schema`]: what a backup item is (the DynamoDB table's contract, versioned).
//! - [`pseudo_username`]: which value becomes the username when a user is restored.
//! - [`rate_budget`]: the single gate every Cognito call passes, sized per quota category.
//! - [`ports`]: the small traits the workflows need from the outside world.
//! - [`export`]: the ExportWorkflow's steps, each resumable from a cursor.
//! - [`import`]: the ImportWorkflow's steps, likewise.
//! - [`single_run_guard`], [`failure_notice`]: steps both workflows share.
//! - [`settings`]: environment variable names and parsed settings shared by handlers and infra.
//! - [`memory`]: in-memory adapters, so the steps can be unit-tested without AWS.

pub mod deadline;
pub mod export;
pub mod failure_notice;
pub mod import;
pub mod memory;
pub mod ports;
pub mod pseudo_username;
pub mod rate_budget;
pub mod schema;
pub mod settings;
pub mod single_run_guard;
pub mod step;

pub use deadline::Deadline;
