//! The AWS configuration and the deployment the commands act on, found from the SSM parameter each
//! Region's stack writes (`/cognito-backup/<prefix>/deployment`).

use aws_config::{BehaviorVersion, Region, SdkConfig};
use serde::Deserialize;

use crate::cli::Cli;
use crate::error::{CliError, CliResult, aws};

const PARAMETER_PATH: &str = "/cognito-backup/";

/// What one Region's stack deployed (the parameter's JSON).
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Deployment {
    pub prefix: String,
    pub region: String,
    pub primary_region: String,
    pub backup_region: String,
    pub user_pool_id: String,
    pub backup_table_name: String,
    pub restore_ledger_table_name: String,
    pub workflow_bucket_name: String,
    pub import_state_machine_arn: String,
    /// Empty outside the primary Region.
    #[serde(default)]
    pub export_state_machine_arn: String,
    #[serde(default)]
    pub export_schedule: String,
}

pub struct Context {
    pub sdk: SdkConfig,
    pub deployment: Deployment,
    pub json: bool,
    profile: Option<String>,
}

async fn sdk_config(region: Option<&str>, profile: Option<&str>) -> SdkConfig {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(p) = profile {
        loader = loader.profile_name(p);
    }
    if let Some(r) = region {
        loader = loader.region(Region::new(r.to_owned()));
    }
    loader.load().await
}

/// The deployments of the SDK's Region.
async fn deployments(sdk: &SdkConfig) -> CliResult<Vec<Deployment>> {
    let ssm = aws_sdk_ssm::Client::new(sdk);
    let region = sdk.region().map(|r| r.to_string()).unwrap_or_default();
    let mut pages = ssm.get_parameters_by_path().path(PARAMETER_PATH).recursive(true).into_paginator().send();
    let mut found = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(aws(format!("reading the deployments' SSM parameters in {region}")))?;
        for p in page.parameters() {
            if !p.name().is_some_and(|n| n.ends_with("/deployment")) {
                continue;
            }
            let value = p.value().unwrap_or_default();
            let deployment: Deployment = serde_json::from_str(value).map_err(|e| {
                CliError::Failed(format!(
                    "the SSM parameter {} is not a deployment ({e})",
                    p.name().unwrap_or_default()
                ))
            })?;
            found.push(deployment);
        }
    }
    Ok(found)
}

/// The one deployment of `sdk`'s Region, or the one named by `stack`.
async fn discover(sdk: &SdkConfig, stack: Option<&str>) -> CliResult<Deployment> {
    let region = sdk.region().map(|r| r.to_string()).ok_or_else(|| {
        CliError::Usage("no AWS Region: pass --region or set AWS_REGION (or a profile's region)".into())
    })?;
    let mut all = deployments(sdk).await?;
    if let Some(prefix) = stack {
        all.retain(|d| d.prefix == prefix);
    }
    match all.len() {
        1 => Ok(all.remove(0)),
        0 => Err(CliError::Failed(match stack {
            Some(prefix) => format!("no Cognito backup deployment with prefix {prefix} in {region}"),
            None => format!(
                "no Cognito backup deployment in {region}: deploy the stack, or pass --region for the Region it is in"
            ),
        })),
        _ => Err(CliError::Usage(format!(
            "{region} has several Cognito backup deployments; choose one with --stack: {}",
            all.iter().map(|d| d.prefix.as_str()).collect::<Vec<_>>().join(", ")
        ))),
    }
}

impl Context {
    pub async fn load(cli: &Cli) -> CliResult<Self> {
        let sdk = sdk_config(cli.region.as_deref(), cli.profile.as_deref()).await;
        let deployment = discover(&sdk, cli.stack.as_deref()).await?;
        Ok(Self { sdk, deployment, json: cli.json, profile: cli.profile.clone() })
    }

    pub fn region(&self) -> &str {
        &self.deployment.region
    }

    /// The same deployment in another Region (the export runs in the primary Region only).
    pub async fn in_region(&self, region: &str) -> CliResult<Self> {
        if region == self.region() {
            return Ok(Self {
                sdk: self.sdk.clone(),
                deployment: self.deployment.clone(),
                json: self.json,
                profile: self.profile.clone(),
            });
        }
        let sdk = sdk_config(Some(region), self.profile.as_deref()).await;
        let deployment = discover(&sdk, Some(&self.deployment.prefix)).await?;
        Ok(Self { sdk, deployment, json: self.json, profile: self.profile.clone() })
    }

    /// The primary Region's context (where the pool and the ExportWorkflow are).
    pub async fn primary(&self) -> CliResult<Self> {
        let primary = self.deployment.primary_region.clone();
        self.in_region(&primary).await
    }

    pub fn sfn(&self) -> aws_sdk_sfn::Client {
        aws_sdk_sfn::Client::new(&self.sdk)
    }

    pub fn dynamodb(&self) -> aws_sdk_dynamodb::Client {
        aws_sdk_dynamodb::Client::new(&self.sdk)
    }

    pub fn backup_store(&self, table: &str) -> backup_aws::DynamoDbBackupStore {
        backup_aws::DynamoDbBackupStore::new(self.dynamodb(), table)
    }

    /// A Cognito client without retries of its own: the rate budget's decorator retries.
    pub fn cognito(&self) -> aws_sdk_cognitoidentityprovider::Client {
        backup_aws::cognito_client(&self.sdk)
    }
}
