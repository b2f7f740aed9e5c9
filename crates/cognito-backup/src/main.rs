//! `cognito-backup`: the operator's tool for the deployed backup. It finds the deployment by itself (the
//! SSM parameter each Region's stack writes), then reports the backup's state and RPO, starts and follows
//! exports and restores, restores one user in seconds, and writes and reads portable NDJSON dumps.
//!
//! Exit codes: 0 done; 1 failed; 2 the RPO is exceeded or the restored pool differs from the backup;
//! 64 usage error.

mod cli;
mod commands;
mod context;
mod dump_format;
mod error;
mod executions;
mod output;
mod progress;
mod tables;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // Help and version are not errors; anything else is a usage error (64, as sysexits.h has it).
            let code = if e.use_stderr() { error::USAGE } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cognito-backup: cannot start: {e}");
            return ExitCode::from(error::FAILED);
        }
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("cognito-backup: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
