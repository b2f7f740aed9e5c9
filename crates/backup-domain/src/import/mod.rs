//! The ImportWorkflow: restores a backup into a new (or, by policy, non-empty) user pool.

pub mod csv_dialect;
pub mod restore_path;
