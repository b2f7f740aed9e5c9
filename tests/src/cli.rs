//! Running the `cognito-backup` binary against the local cloud, as an operator would.

use std::path::PathBuf;
use std::process::{Command, Stdio};

use crate::Result;
use crate::local_cloud::LocalCloud;

/// What a run of the CLI ended with.
#[derive(Debug)]
pub struct CliRun {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl CliRun {
    /// The `--json` output.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}\nstderr: {}", self.stdout, self.stderr))
    }
}

/// The binary the workspace build made.
pub fn binary() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../target")));
    target.join("debug").join("cognito-backup")
}

/// Runs `cognito-backup <args>` with the local cloud as its AWS (stdin is not a terminal).
pub fn run(cloud: &LocalCloud, args: &[&str]) -> Result<CliRun> {
    run_with(cloud, args, &[])
}

/// [`run`] with extra environment variables (an empty value removes the variable).
pub fn run_with(cloud: &LocalCloud, args: &[&str], env: &[(&str, &str)]) -> Result<CliRun> {
    let mut command = Command::new(binary());
    command
        .args(args)
        .env_remove("AWS_PROFILE")
        .env("AWS_ENDPOINT_URL", &cloud.endpoint)
        .env("AWS_REGION", cloud.region())
        .env("AWS_ACCESS_KEY_ID", "local-cloud")
        .env("AWS_SECRET_ACCESS_KEY", "local-cloud")
        .stdin(Stdio::null());
    for (k, v) in env {
        if v.is_empty() {
            command.env_remove(k);
        } else {
            command.env(k, v);
        }
    }
    let out =
        command.output().map_err(|e| format!("cannot run {} ({e}): build the workspace first", binary().display()))?;
    Ok(CliRun {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    })
}
