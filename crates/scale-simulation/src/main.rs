//! `simulate-scale`: the virtual-time simulation of an export, an unchanged re-export and a restore.
//! Prints a table and writes the report as JSON (see BENCHMARKS.md).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use scale_simulation::{Settings, SubShape, simulate};

#[derive(Parser)]
#[command(about = "Simulates export and restore of a large pool in virtual time, at Cognito's quotas and AWS's limits")]
struct Args {
    #[arg(long, default_value_t = 1_000_000)]
    users: usize,
    #[arg(long, value_enum, default_value_t = SubShape::Uuid4)]
    subs: SubShape,
    /// Multiplies every Cognito quota (the ratios to the floors do not depend on it).
    #[arg(long, default_value_t = 1.0)]
    quota_scale: f64,
    /// Round trip of each Cognito call.
    #[arg(long, default_value_t = 100)]
    latency_ms: u64,
    /// The share of each quota the workflows use (COGNITO_QUOTA_SHARE).
    #[arg(long, default_value_t = 0.5)]
    quota_share: f64,
    #[arg(long, default_value_t = 1_000)]
    users_per_group: usize,
    /// Rows per second a CSV import job applies.
    #[arg(long, default_value_t = 34.0)]
    import_users_per_second: f64,
    /// Where to write the JSON report (default target/benchmark/simulation-<users>-<subs>.json).
    #[arg(long)]
    out: Option<PathBuf>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let out = args.out.clone().unwrap_or_else(|| {
        let subs = match args.subs {
            SubShape::Uuid4 => "uuid4",
            SubShape::Uuidv7 => "uuidv7",
        };
        PathBuf::from(format!("target/benchmark/simulation-{}-{subs}.json", args.users))
    });
    let settings = Settings {
        users: args.users,
        subs: args.subs,
        users_per_group: args.users_per_group,
        quota_share: args.quota_share,
        quota_scale: args.quota_scale,
        latency: Duration::from_millis(args.latency_ms),
        import_users_per_second: args.import_users_per_second,
    };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build();
    let report = match runtime
        .map_err(|e| e.to_string())
        .and_then(|r| r.block_on(simulate(&settings)).map_err(|e| e.to_string()))
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("simulation failed: {e}");
            return ExitCode::FAILURE;
        }
    };
    print!("{}", report.table());
    let written = out
        .parent()
        .map_or(Ok(()), std::fs::create_dir_all)
        .and_then(|()| std::fs::write(&out, serde_json::to_vec_pretty(&report).unwrap_or_default()));
    if let Err(e) = written {
        eprintln!("cannot write {}: {e}", out.display());
        return ExitCode::FAILURE;
    }
    eprintln!("report written to {}", out.display());
    if report.within_limits { ExitCode::SUCCESS } else { ExitCode::from(2) }
}
