//! `infra`: synthesizes the CloudFormation templates, and deploys them through CloudFormation (into an
//! account, or the local cloud when `AWS_ENDPOINT_URL` points at it).

use backup_domain::settings::NotificationPreference;
use clap::{Parser, Subcommand, ValueEnum};
use infra::cloudformation::Assets;
use infra::stack_deploy::{self, StackConfig};

#[derive(Parser)]
#[command(about = "The Cognito backup stack: synthesize its CloudFormation templates, or deploy them")]
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
    /// Deploy the templates through CloudFormation: assets to <prefix>-assets-<region> buckets, then the main
    /// stack (created, or updated when it exists), whose StackSet deploys the regional stack to both Regions.
    Deploy {
        #[command(flatten)]
        stack: StackArgs,
        /// The folder where `cargo lambda build --arm64 --output-format zip` left `<binary>/bootstrap.zip`.
        /// Without it, a placeholder (the local cloud runs target/debug/<binary> itself).
        #[arg(long)]
        lambda_zip_dir: Option<std::path::PathBuf>,
    },
    /// Print what a deployed main stack created, read from its and its StackSet instances' outputs.
    Describe {
        #[arg(long, default_value = "cognito-backup-main")]
        stack: String,
    },
}

/// The stack's parameters.
#[derive(clap::Args)]
struct StackArgs {
    #[arg(long)]
    primary_user_pool_id: String,
    #[arg(long, default_value = "cognito-backup")]
    prefix: String,
    #[arg(long, default_value = "us-west-2")]
    backup_region: String,
    #[arg(long, default_value = "rate(1 day)")]
    schedule: String,
    #[arg(long, default_value_t = backup_domain::settings::DEFAULT_QUOTA_SHARE)]
    quota_share: f64,
    /// The largest share of the backed-up users, groups or memberships one clean-up may remove.
    #[arg(long, default_value_t = backup_domain::settings::RemovalGuard::default().share)]
    cleanup_max_removed_share: f64,
    /// Days restore objects (reports, sub mappings, plans, CSVs) are kept in the workflow bucket.
    #[arg(long, default_value_t = 30)]
    restore_object_retention_days: u32,
    #[arg(long, default_value = "operator@example.com")]
    notification_email: String,
    #[arg(long, value_enum, default_value = "info-and-errors")]
    notification_preference: Preference,
    /// Do not capture changes between exports.
    #[arg(long)]
    no_change_capture: bool,
    /// Rely on the account's existing CloudTrail trail instead of creating one.
    #[arg(long)]
    use_existing_trail: bool,
    /// A change-only export between the scheduled ones (rate(…)/cron(…)), or none.
    #[arg(long, default_value = "none")]
    reconciliation_schedule: String,
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
            cleanup_max_removed_share: self.cleanup_max_removed_share,
            restore_object_retention_days: self.restore_object_retention_days,
            change_capture: !self.no_change_capture,
            create_trail: !self.use_existing_trail,
            reconciliation_schedule: self.reconciliation_schedule,
            notification_email: self.notification_email,
            notification_preference: match self.notification_preference {
                Preference::InfoAndErrors => NotificationPreference::InfoAndErrors,
                Preference::ErrorsOnly => NotificationPreference::ErrorsOnly,
            },
            ..StackConfig::new(self.prefix, self.primary_user_pool_id)
        })
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    match Cli::parse().command {
        Command::Synth { out, bucket_prefix, solution, version } => {
            let assets = Assets { bucket_prefix, key_prefix: format!("{solution}/{version}"), version };
            for path in infra::cloudformation::write_templates(&assets, &out)? {
                println!("{}", path.display());
            }
        }
        Command::Deploy { stack, lambda_zip_dir } => {
            let cfg = stack.config()?;
            let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest()).load().await;
            let assets = Assets::for_deployment(&cfg.prefix);
            let code = |binary: &str| match &lambda_zip_dir {
                Some(dir) => stack_deploy::zip_from(dir, binary),
                None => stack_deploy::placeholder_zip(),
            };
            let deployment = stack_deploy::deploy(&sdk, &cfg, &assets, &code).await?;
            println!("{}", serde_json::to_string_pretty(&deployment)?);
        }
        Command::Describe { stack } => {
            let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest()).load().await;
            println!("{}", serde_json::to_string_pretty(&stack_deploy::describe(&sdk, &stack).await?)?);
        }
    }
    Ok(())
}
