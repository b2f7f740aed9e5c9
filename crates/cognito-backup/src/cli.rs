//! The command line.

use aws_smithy_types::DateTime;
use aws_smithy_types::date_time::Format;
use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(
    name = "cognito-backup",
    version,
    about = "Status, export, restore, single-user restore and portable dumps of a Cognito user pool backup",
    after_help = "Exit codes: 0 done, 1 failed, 2 RPO exceeded or restored pool differs from the backup, 64 usage error.\n\
                  AWS settings come from the environment (AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL, ...)."
)]
pub struct Cli {
    /// Print machine-readable JSON on stdout instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    /// The Region to work in (default: the AWS configuration's).
    #[arg(long, global = true)]
    pub region: Option<String>,
    /// The AWS profile to use.
    #[arg(long, global = true)]
    pub profile: Option<String>,
    /// The deployment's resource prefix, when the Region has several.
    #[arg(long, global = true)]
    pub stack: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// The pool, the backup table and its replica, the last good export and its age against the schedule
    /// (exit 2 when over the threshold), running executions and the last failure.
    Status {
        /// The largest acceptable age of the last good export (default: 1.5 × the schedule's interval).
        #[arg(long)]
        max_age_hours: Option<f64>,
    },
    /// Start the ExportWorkflow.
    Export {
        /// Follow it to its end, with progress on stderr; exit 1 if it fails.
        #[arg(long)]
        wait: bool,
        /// Let the clean-up remove more than the removal guard allows (real mass deletions).
        #[arg(long)]
        allow_mass_removal: bool,
        /// Accept a listing that disagrees with the pool's user estimate.
        #[arg(long)]
        allow_count_mismatch: bool,
    },
    /// Restore the backup into a user pool (shows the plan and asks first unless --yes).
    Restore(RestoreArgs),
    /// Restore one user (attributes, enabled flag, groups) from the backup, in seconds.
    RestoreUser(RestoreUserArgs),
    /// Create a user pool configured like the backed-up one.
    CreatePool {
        #[arg(long)]
        name: String,
    },
    /// Write the backup as a portable NDJSON file (gzip when the name ends in .gz; `-` for stdout).
    Dump {
        #[arg(long)]
        out: String,
    },
    /// Read a dump into a new table, or restore it into a user pool.
    Load(LoadArgs),
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Policy {
    Fail,
    SkipExisting,
    Overwrite,
}

impl Policy {
    pub fn input(self) -> &'static str {
        match self {
            Self::Fail => "fail",
            Self::SkipExisting => "skip-existing",
            Self::Overwrite => "overwrite",
        }
    }
}

#[derive(Args, Clone)]
pub struct RestoreArgs {
    /// The pool to restore into (create one with `create-pool`).
    #[arg(long)]
    pub target_pool: String,
    #[arg(long, value_enum, default_value = "fail")]
    pub conflict_policy: Policy,
    /// Show the plan only.
    #[arg(long)]
    pub dry_run: bool,
    /// Only compare the target pool with the backup.
    #[arg(long, conflicts_with = "dry_run")]
    pub verify_only: bool,
    /// Do not ask before writing.
    #[arg(long)]
    pub yes: bool,
    /// Follow the restore to its end, with progress; exit 0 only when the restored pool is verified.
    #[arg(long)]
    pub wait: bool,
    /// Restore the pool as it was at this time (RFC 3339, e.g. 2026-11-27T09:00:00Z), from the backup
    /// table's point-in-time recovery.
    #[arg(long, value_parser = parse_time)]
    pub as_of: Option<DateTime>,
    /// Allow restoring into the pool the backup was taken from.
    #[arg(long)]
    pub allow_source_pool: bool,
}

#[derive(Args)]
#[group(required = true, multiple = false)]
pub struct Who {
    #[arg(long)]
    pub sub: Option<String>,
    #[arg(long)]
    pub username: Option<String>,
    #[arg(long)]
    pub email: Option<String>,
}

#[derive(Args)]
pub struct RestoreUserArgs {
    #[command(flatten)]
    pub who: Who,
    #[arg(long)]
    pub target_pool: String,
    /// Set an existing user's attributes, enabled flag and groups to the backup's.
    #[arg(long)]
    pub overwrite: bool,
}

#[derive(Args)]
#[group(required = true, multiple = false)]
pub struct Destination {
    /// A new table to load into (restorable with the ImportWorkflow when its name starts with the backup
    /// table's).
    #[arg(long)]
    pub into_table: Option<String>,
    /// Load into a temporary table and restore it into this pool.
    #[arg(long)]
    pub target_pool: Option<String>,
}

#[derive(Args)]
pub struct LoadArgs {
    /// The dump (`-` for stdin; gzip when the name ends in .gz).
    #[arg(long = "in")]
    pub input: String,
    #[command(flatten)]
    pub destination: Destination,
    #[arg(long, value_enum, default_value = "fail")]
    pub conflict_policy: Policy,
    #[arg(long)]
    pub yes: bool,
}

fn parse_time(s: &str) -> Result<DateTime, String> {
    DateTime::from_str(s, Format::DateTime)
        .map_err(|e| format!("{s:?} is not an RFC 3339 time such as 2026-11-27T09:00:00Z ({e})"))
}
