//! `infra`: deploys the stack into the local cloud (and, later, synthesizes CloudFormation).

use std::collections::BTreeMap;

use backup_domain::settings::NotificationPreference;
use clap::{Parser, Subcommand, ValueEnum};
use infra::definitions::StackConfig;

#[derive(Parser)]
#[command(about = "The Cognito backup stack: synthesize its CloudFormation templates, or deploy it with the SDK")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum Preference {
    InfoAndErrors,
    ErrorsOnly,
}

#[derive(Subcommand)]
enum Command {
    /// Deploy the synthesized templates through CloudFormation (the local cloud when AWS_ENDPOINT_URL points
    /// at it): assets to <prefix>-assets-<region> buckets, then the main stack, whose StackSet deploys the
    /// regional stack to both Regions.
    DeployStack {
        #[command(flatten)]
        stack: StackArgs,
    },
    /// Write the main and the regional CloudFormation templates as JSON.
    Synth {
        /// Folder to write them to.
        #[arg(long, default_value = "deployment/templates")]
        out: std::path::PathBuf,
        /// Asset buckets are <bucket-prefix>-<region> (build-s3-dist.sh's BUCKET argument).
        #[arg(long, default_value = "asset-bucket-placeholder")]
        bucket_prefix: String,
        #[arg(long, default_value = "cognito-backup")]
        solution: String,
        #[arg(long, default_value = "v0.1.0")]
        version: String,
    },
    /// Create (or update) the stack's resources: in the local cloud when AWS_ENDPOINT_URL points at it,
    /// in the configured account and Region otherwise (then pass --lambda-zip-dir).
    Deploy {
        #[command(flatten)]
        stack: StackArgs,
        /// Overrides every function's timeout, in seconds.
        #[arg(long)]
        function_timeout: Option<u32>,
        /// Extra environment for every function, as NAME=VALUE.
        #[arg(long = "env", value_parser = parse_pair)]
        environment: Vec<(String, String)>,
        /// Deploy the real code: the folder where `cargo lambda build --release --arm64 --output-format zip`
        /// left `<binary>/bootstrap.zip` (target/lambda). Without it, a placeholder for the local cloud.
        #[arg(long)]
        lambda_zip_dir: Option<std::path::PathBuf>,
    },
}

/// What both deployers take: the stack's parameters.
#[derive(clap::Args)]
struct StackArgs {
    #[arg(long)]
    primary_user_pool_id: String,
    #[arg(long, default_value = "cupbak")]
    prefix: String,
    #[arg(long, default_value = "us-west-2")]
    backup_region: String,
    #[arg(long, default_value = "rate(1 day)")]
    schedule: String,
    #[arg(long, default_value_t = backup_domain::settings::DEFAULT_QUOTA_SHARE)]
    quota_share: f64,
    #[arg(long)]
    notification_email: Option<String>,
    #[arg(long, value_enum, default_value = "info-and-errors")]
    notification_preference: Preference,
}

impl StackArgs {
    fn config(self) -> Result<StackConfig, String> {
        if !(self.quota_share > 0.0 && self.quota_share <= 1.0) {
            return Err(format!("--quota-share must be greater than 0 and at most 1, not {}", self.quota_share));
        }
        Ok(StackConfig {
            backup_region: self.backup_region,
            schedule_expression: self.schedule,
            quota_share: self.quota_share,
            notification_email: self.notification_email,
            notification_preference: match self.notification_preference {
                Preference::InfoAndErrors => NotificationPreference::InfoAndErrors,
                Preference::ErrorsOnly => NotificationPreference::ErrorsOnly,
            },
            ..StackConfig::new(self.prefix, self.primary_user_pool_id)
        })
    }
}

fn parse_pair(s: &str) -> Result<(String, String), String> {
    s.split_once('=').map(|(k, v)| (k.to_owned(), v.to_owned())).ok_or_else(|| format!("{s:?} is not NAME=VALUE"))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    match Cli::parse().command {
        Command::DeployStack { stack } => {
            let cfg = stack.config()?;
            let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest()).load().await;
            let code = |_: &str| infra::local_deploy::placeholder_zip();
            let deployment = infra::stack_deploy::deploy(&sdk, &cfg, &code).await?;
            println!("{}", serde_json::to_string_pretty(&deployment)?);
        }
        Command::Synth { out, bucket_prefix, solution, version } => {
            let assets = infra::cloudformation::Assets { bucket_prefix, key_prefix: format!("{solution}/{version}"), version };
            for path in infra::cloudformation::write_templates(&assets, &out)? {
                println!("{}", path.display());
            }
        }
        Command::Deploy { stack, function_timeout, environment, lambda_zip_dir } => {
            let cfg = StackConfig {
                function_timeout_override: function_timeout,
                extra_environment: environment.into_iter().collect::<BTreeMap<_, _>>(),
                lambda_zip_dir,
                ..stack.config()?
            };
            let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest()).load().await;
            let deployment = infra::local_deploy::deploy(&sdk, &cfg).await?;
            println!("{}", serde_json::to_string_pretty(&deployment)?);
        }
    }
    Ok(())
}
