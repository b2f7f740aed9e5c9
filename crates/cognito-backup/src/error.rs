//! Errors and the exit codes they end with.

use aws_smithy_types::error::display::DisplayErrorContext;

pub const DONE: u8 = 0;
pub const FAILED: u8 = 1;
/// The RPO is exceeded, or the restored pool differs from the backup: attention needed.
pub const ATTENTION: u8 = 2;
pub const USAGE: u8 = 64;

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The command cannot run as given (a missing or contradictory option, several deployments).
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Failed(String),
    /// The restored pool differs from the backup.
    #[error("{0}")]
    NotVerified(String),
}

impl CliError {
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Usage(_) => USAGE,
            Self::Failed(_) => FAILED,
            Self::NotVerified(_) => ATTENTION,
        }
    }
}

pub type CliResult<T> = Result<T, CliError>;

/// An AWS SDK error, with the operation that failed.
pub fn aws<E: std::error::Error>(what: impl Into<String>) -> impl FnOnce(E) -> CliError {
    let what = what.into();
    move |e| CliError::Failed(format!("{what}: {}", DisplayErrorContext(&e)))
}

impl From<backup_domain::StepError> for CliError {
    fn from(e: backup_domain::StepError) -> Self {
        Self::Failed(format!("{}: {e}", e.error_name()))
    }
}

impl From<std::io::Error> for CliError {
    fn from(e: std::io::Error) -> Self {
        Self::Failed(e.to_string())
    }
}
