//! `benchmark`: export, unchanged re-export and restore of a seeded pool on the local cloud, with the
//! quotas, Lambda memory and Step Functions limits on. Prints a table, writes the results as JSON and
//! redraws the plot from every result file of target/benchmark. Run it through deployment/run-benchmark.sh.

use std::path::{Path, PathBuf};

use clap::Parser;
use local_harness::benchmark::{self, BenchmarkSettings};
use local_harness::local_cloud::LocalCloud;
use local_harness::plot::{Row, ratio_chart};

#[derive(Parser)]
#[command(about = "Benchmarks export, re-export and restore on the local cloud against the quota floors")]
struct Args {
    #[arg(long, default_value_t = 10_000)]
    users: usize,
    #[arg(long, default_value = "uuid4", value_parser = ["uuid4", "uuidv7"])]
    subs: String,
    /// Multiplies every Cognito quota and the import speed and divides the latency: time runs K times faster.
    #[arg(long, default_value_t = 10.0)]
    quota_scale: f64,
    #[arg(long, default_value_t = 100)]
    latency_ms: u64,
    #[arg(long, default_value_t = 1_000)]
    users_per_group: usize,
    /// The users are created evenly over this many days: their UUIDv7 subs encode it (0: all at once, as a
    /// bulk import into a new pool). Two years by default, as in the simulation.
    #[arg(long, default_value_t = 730.0)]
    created_over_days: f64,
    #[arg(long, default_value = "target/benchmark")]
    out_dir: PathBuf,
    /// Where the plot goes.
    #[arg(long, default_value = "docs/benchmark.svg")]
    plot: PathBuf,
    /// Instead: measure the change capture's recovery point over this many mixed changes.
    #[arg(long)]
    capture: Option<usize>,
    /// Changes per second of the capture measurement.
    #[arg(long, default_value_t = 10.0)]
    capture_rate: f64,
    /// Instead: redraw the plot from the result files in --out-dir, running nothing.
    #[arg(long)]
    plot_only: bool,
}

#[tokio::main]
async fn main() -> Result<(), local_harness::Error> {
    let args = Args::parse();
    if args.plot_only {
        std::fs::write(&args.plot, ratio_chart(&rows(&args.out_dir)?))?;
        eprintln!("plot in {}", args.plot.display());
        return Ok(());
    }
    if let Some(changes) = args.capture {
        let results = local_harness::capture_benchmark::run(changes, args.capture_rate).await?;
        println!(
            "{} changes at {}/s ({:?}): recovery point p50 {:.2} s, p99 {:.2} s, max {:.2} s; {} not reflected within 120 s",
            results.changes,
            results.per_second,
            results.kinds,
            results.p50_seconds,
            results.p99_seconds,
            results.max_seconds,
            results.missed
        );
        std::fs::create_dir_all(&args.out_dir)?;
        std::fs::write(args.out_dir.join("capture.json"), serde_json::to_vec_pretty(&results)?)?;
        return Ok(());
    }
    let cloud = LocalCloud::connect().await?;
    let settings = BenchmarkSettings {
        users: args.users,
        subs: args.subs.clone(),
        quota_scale: args.quota_scale,
        latency_ms: args.latency_ms,
        users_per_group: args.users_per_group,
        created_over_days: args.created_over_days,
    };
    let results = benchmark::run(&cloud, &settings).await?;
    print!("{}", results.table());
    std::fs::create_dir_all(&args.out_dir)?;
    let json = serde_json::to_vec_pretty(&results)?;
    std::fs::write(args.out_dir.join("results.json"), &json)?;
    std::fs::write(args.out_dir.join(format!("results-{}-{}.json", args.users, args.subs)), &json)?;
    std::fs::write(&args.plot, ratio_chart(&rows(&args.out_dir)?))?;
    eprintln!("results in {}, plot in {}", args.out_dir.join("results.json").display(), args.plot.display());
    Ok(())
}

/// A row per result file: the local cloud's (results-<users>-<subs>.json) and the simulation's
/// (simulation-*.json), ordered by size.
fn rows(dir: &Path) -> Result<Vec<Row>, local_harness::Error> {
    let mut rows = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_owned();
        let source = match name {
            n if n.starts_with("results-") => "local cloud",
            n if n.starts_with("simulation") => "simulation",
            _ => continue,
        };
        let r: serde_json::Value = serde_json::from_slice(&std::fs::read(&path)?)?;
        let users = r["users"].as_u64().unwrap_or(0);
        let ratio = |phase: &str| {
            r[phase]["seconds"].as_f64().unwrap_or(0.0) / r[phase]["floor_seconds"].as_f64().unwrap_or(1.0)
        };
        rows.push((
            users,
            Row {
                label: format!("{source}, {users} users, {}", r["subs"].as_str().unwrap_or("?")),
                export_ratio: ratio("export"),
                restore_ratio: ratio("restore"),
            },
        ));
    }
    rows.sort_by(|a, b| (a.0, &a.1.label).cmp(&(b.0, &b.1.label)));
    Ok(rows.into_iter().map(|(_, r)| r).collect())
}
