//! Deploys the synthesized templates through the CloudFormation API, into an account or the local cloud:
//! the assets go to `<bucket>-<region>` buckets, then the main stack is created (or updated) and its
//! StackSet deploys the regional stack to both Regions. What was deployed is read back from the stacks'
//! outputs, never rebuilt from names.

use std::collections::HashMap;
use std::time::Duration;

use aws_config::{Region, SdkConfig};
use aws_sdk_cloudformation::types::{Capability, Parameter, StackStatus};
use backup_domain::settings::NotificationPreference;
use serde::{Deserialize, Serialize};

use crate::cloudformation::{self, Assets, REGIONAL_TEMPLATE_FILE};
use crate::definitions::{CAPTURE_CHANGES, EXPORT_FUNCTIONS, all_functions, names, regional_functions};

#[derive(Debug, thiserror::Error)]
#[error("deploying {what}: {detail}")]
pub struct DeployError {
    what: String,
    detail: String,
}

impl DeployError {
    pub fn new(what: impl Into<String>, detail: impl Into<String>) -> Self {
        Self { what: what.into(), detail: detail.into() }
    }
}

fn sdk_fail<E: std::error::Error + 'static>(what: impl Into<String>) -> impl FnOnce(E) -> DeployError {
    let what = what.into();
    move |e| DeployError { what, detail: aws_smithy_types::error::display::DisplayErrorContext(&e).to_string() }
}

/// The main stack's parameters.
#[derive(Debug, Clone)]
pub struct StackConfig {
    /// Prefix of every resource name; lets several stacks (or tests) share one account.
    pub prefix: String,
    pub primary_user_pool_id: String,
    pub backup_region: String,
    /// Any EventBridge rate or cron expression.
    pub schedule_expression: String,
    pub quota_share: f64,
    pub cleanup_max_removed_share: f64,
    pub restore_object_retention_days: u32,
    pub notification_email: String,
    pub notification_preference: NotificationPreference,
    /// Capture changes from CloudTrail between exports (primary Region).
    pub change_capture: bool,
    /// Create a trail for the capture (else the account's existing one is relied on).
    pub create_trail: bool,
    /// `none`, or a rate/cron expression for change-only exports between the scheduled ones.
    pub reconciliation_schedule: String,
}

impl StackConfig {
    pub fn new(prefix: impl Into<String>, primary_user_pool_id: impl Into<String>) -> Self {
        Self {
            prefix: prefix.into(),
            primary_user_pool_id: primary_user_pool_id.into(),
            backup_region: "us-west-2".into(),
            schedule_expression: "rate(1 day)".into(),
            quota_share: backup_domain::settings::DEFAULT_QUOTA_SHARE,
            cleanup_max_removed_share: backup_domain::settings::RemovalGuard::default().share,
            restore_object_retention_days: 30,
            notification_email: "operator@example.com".into(),
            notification_preference: NotificationPreference::InfoAndErrors,
            change_capture: true,
            create_trail: true,
            reconciliation_schedule: "none".into(),
        }
    }

    pub fn main_stack_name(&self) -> String {
        format!("{}-main", self.prefix)
    }

    fn parameters(&self) -> Vec<Parameter> {
        let p = |k: &str, v: String| Parameter::builder().parameter_key(k).parameter_value(v).build();
        vec![
            p("ResourcePrefix", self.prefix.clone()),
            p("PrimaryUserPoolId", self.primary_user_pool_id.clone()),
            p("BackupRegion", self.backup_region.clone()),
            p("ExportSchedule", self.schedule_expression.clone()),
            p("CognitoQuotaShare", self.quota_share.to_string()),
            p("CleanupMaxRemovedShare", self.cleanup_max_removed_share.to_string()),
            p("RestoreObjectRetentionDays", self.restore_object_retention_days.to_string()),
            p("NotificationEmail", self.notification_email.clone()),
            p("NotificationPreference", self.notification_preference.as_str().into()),
            p("ChangeCapture", if self.change_capture { "Enabled" } else { "Disabled" }.into()),
            p("ChangeCaptureTrail", if self.create_trail { "CreateTrail" } else { "UseExistingTrail" }.into()),
            p("ReconciliationSchedule", self.reconciliation_schedule.clone()),
        ]
    }
}

/// What a deployment created, read from the stacks' outputs.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Deployment {
    pub main_stack: String,
    pub prefix: String,
    pub user_pool_id: String,
    pub backup_table_name: String,
    pub primary: RegionDeployment,
    pub backup: RegionDeployment,
}

/// One Region's regional stack.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RegionDeployment {
    pub region: String,
    pub stack_id: String,
    pub import_state_machine_arn: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub export_state_machine_arn: Option<String>,
    pub restore_ledger_table_name: String,
    pub workflow_bucket_name: String,
    pub notification_topic_arn: String,
    /// The functions deployed there.
    pub functions: Vec<String>,
}

impl Deployment {
    pub fn export_state_machine_arn(&self) -> &str {
        self.primary.export_state_machine_arn.as_deref().unwrap_or_default()
    }

    pub fn region(&self, region: &str) -> Option<&RegionDeployment> {
        [&self.primary, &self.backup].into_iter().find(|r| r.region == region)
    }
}

fn in_region(sdk: &SdkConfig, region: &str) -> SdkConfig {
    sdk.to_builder().region(Region::new(region.to_owned())).build()
}

pub async fn ensure_bucket(sdk: &SdkConfig, bucket: &str, region: &str) -> Result<(), DeployError> {
    let s3 = aws_sdk_s3::Client::new(sdk);
    if s3.head_bucket().bucket(bucket).send().await.is_ok() {
        return Ok(());
    }
    let mut request = s3.create_bucket().bucket(bucket);
    if region != "us-east-1" {
        request = request.create_bucket_configuration(
            aws_sdk_s3::types::CreateBucketConfiguration::builder()
                .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::from(region))
                .build(),
        );
    }
    request.send().await.map_err(sdk_fail(format!("asset bucket {bucket}")))?;
    Ok(())
}

/// Puts the Lambda zips (`code(binary)` gives each zip's bytes) and the regional template where the main
/// template expects them, in both Regions.
async fn upload_assets(
    sdk: &SdkConfig,
    assets: &Assets,
    regions: &[&str],
    code: &dyn Fn(&str) -> Result<Vec<u8>, DeployError>,
    regional_template: &str,
) -> Result<(), DeployError> {
    for region in regions {
        let sdk = in_region(sdk, region);
        let s3 = aws_sdk_s3::Client::new(&sdk);
        let bucket = format!("{}-{region}", assets.bucket_prefix);
        ensure_bucket(&sdk, &bucket, region).await?;
        for f in all_functions() {
            s3.put_object()
                .bucket(&bucket)
                .key(format!("{}/{}.zip", assets.key_prefix, f.binary))
                .body(code(f.binary)?.into())
                .send()
                .await
                .map_err(sdk_fail(format!("asset {}.zip", f.binary)))?;
        }
        s3.put_object()
            .bucket(&bucket)
            .key(format!("{}/{REGIONAL_TEMPLATE_FILE}", assets.key_prefix))
            .body(regional_template.as_bytes().to_vec().into())
            .send()
            .await
            .map_err(sdk_fail("the regional template"))?;
    }
    Ok(())
}

/// Creates the stack, or updates it when it exists; waits for it; returns what it deployed.
pub async fn deploy(
    sdk: &SdkConfig,
    cfg: &StackConfig,
    assets: &Assets,
    code: &dyn Fn(&str) -> Result<Vec<u8>, DeployError>,
) -> Result<Deployment, DeployError> {
    let region = sdk.region().map(|r| r.to_string()).unwrap_or_else(|| "us-east-1".into());
    let main =
        cloudformation::main_stack::template(assets).map_err(|e| DeployError::new("the main template", e))?.to_json();
    let regional = cloudformation::regional_stack::template(&assets.version)
        .map_err(|e| DeployError::new("the regional template", e))?
        .to_json();
    upload_assets(sdk, assets, &[&region, &cfg.backup_region], code, &regional.to_string()).await?;

    let cfn = aws_sdk_cloudformation::Client::new(sdk);
    let stack = cfg.main_stack_name();
    let exists = cfn.describe_stacks().stack_name(&stack).send().await.is_ok_and(|o| {
        o.stacks().first().and_then(|s| s.stack_status()).is_some_and(|s| *s != StackStatus::DeleteComplete)
    });
    if exists {
        let update = cfn
            .update_stack()
            .stack_name(&stack)
            .template_body(main.to_string())
            .capabilities(Capability::CapabilityNamedIam)
            .set_parameters(Some(cfg.parameters()))
            .send()
            .await;
        match update {
            Ok(_) => {}
            Err(e) if aws_smithy_types::error::display::DisplayErrorContext(&e).to_string().contains("No updates") => {}
            Err(e) => return Err(sdk_fail(format!("stack {stack}"))(e)),
        }
    } else {
        cfn.create_stack()
            .stack_name(&stack)
            .template_body(main.to_string())
            .capabilities(Capability::CapabilityNamedIam)
            .set_parameters(Some(cfg.parameters()))
            .send()
            .await
            .map_err(sdk_fail(format!("stack {stack}")))?;
    }
    wait_for(&cfn, &stack).await?;
    describe(sdk, &stack).await
}

/// Waits until the stack's operation ends; an error names the status and the reason.
pub async fn wait_for(cfn: &aws_sdk_cloudformation::Client, stack: &str) -> Result<StackStatus, DeployError> {
    // A StackSet deploying to two Regions can take a while on AWS: up to an hour.
    for _ in 0..7_200 {
        let out = cfn.describe_stacks().stack_name(stack).send().await.map_err(sdk_fail(format!("stack {stack}")))?;
        let first = out.stacks().first();
        match first.and_then(|s| s.stack_status()).cloned() {
            Some(s @ (StackStatus::CreateComplete | StackStatus::UpdateComplete)) => return Ok(s),
            Some(s) if s.as_str().ends_with("IN_PROGRESS") => tokio::time::sleep(Duration::from_millis(500)).await,
            None => tokio::time::sleep(Duration::from_millis(500)).await,
            Some(other) => {
                let mut reason = first.and_then(|s| s.stack_status_reason()).unwrap_or_default().to_owned();
                if let Some(cause) = first_failure(cfn, stack).await {
                    reason = format!("{reason} {cause}").trim().to_owned();
                }
                return Err(DeployError::new(format!("stack {stack}"), format!("ended {}: {reason}", other.as_str())));
            }
        }
    }
    Err(DeployError::new(format!("stack {stack}"), "still in progress after an hour"))
}

/// The reason of the first resource that failed in the stack's latest operation (what the operator must
/// read: the stack's own reason only says that resources failed).
async fn first_failure(cfn: &aws_sdk_cloudformation::Client, stack: &str) -> Option<String> {
    let events = cfn.describe_stack_events().stack_name(stack).send().await.ok()?;
    // Newest first: the first failure is the last failed event before the operation began.
    let mut failure = None;
    for e in events.stack_events() {
        let status = e.resource_status().map(|s| s.as_str()).unwrap_or_default();
        let is_stack = e.logical_resource_id() == Some(stack);
        if is_stack && (status.ends_with("_IN_PROGRESS") && !status.contains("ROLLBACK") && !status.contains("CLEANUP"))
        {
            break;
        }
        if status.ends_with("_FAILED") && !is_stack {
            failure = Some(format!(
                "{} {status}: {}",
                e.logical_resource_id().unwrap_or_default(),
                e.resource_status_reason().unwrap_or_default()
            ));
        }
    }
    failure
}

fn outputs(stack: &aws_sdk_cloudformation::types::Stack) -> HashMap<String, String> {
    stack.outputs().iter().filter_map(|o| Some((o.output_key()?.to_owned(), o.output_value()?.to_owned()))).collect()
}

/// What the main stack `stack` (in the SDK's Region) and its StackSet's instances deployed.
pub async fn describe(sdk: &SdkConfig, stack: &str) -> Result<Deployment, DeployError> {
    let region = sdk.region().map(|r| r.to_string()).unwrap_or_else(|| "us-east-1".into());
    let cfn = aws_sdk_cloudformation::Client::new(sdk);
    let out = cfn.describe_stacks().stack_name(stack).send().await.map_err(sdk_fail(format!("stack {stack}")))?;
    let main = out.stacks().first().ok_or_else(|| DeployError::new(format!("stack {stack}"), "not found"))?;
    let main_outputs = outputs(main);
    let get = |k: &str| {
        main_outputs
            .get(k)
            .cloned()
            .ok_or_else(|| DeployError::new(format!("stack {stack}"), format!("has no output {k}")))
    };
    let (stack_set, backup_region) = (get("RegionalStackSetName")?, get("BackupRegion")?);
    let prefix = get("ResourcePrefix")?;
    // The capture function exists in the primary Region only, and only when capture is on.
    let capture_on = main
        .parameters()
        .iter()
        .any(|p| p.parameter_key() == Some("ChangeCapture") && p.parameter_value() == Some("Enabled"));
    let instances = cfn
        .list_stack_instances()
        .stack_set_name(&stack_set)
        .send()
        .await
        .map_err(sdk_fail(format!("StackSet {stack_set}")))?;
    let mut regions = Vec::new();
    for r in [&region, &backup_region] {
        let stack_id = instances
            .summaries()
            .iter()
            .find(|s| s.region() == Some(r.as_str()))
            .and_then(|s| s.stack_id())
            .ok_or_else(|| DeployError::new(format!("StackSet {stack_set}"), format!("has no instance in {r}")))?
            .to_owned();
        let regional = aws_sdk_cloudformation::Client::new(&in_region(sdk, r));
        let out = regional
            .describe_stacks()
            .stack_name(&stack_id)
            .send()
            .await
            .map_err(sdk_fail(format!("the regional stack in {r}")))?;
        let o = out.stacks().first().map(outputs).unwrap_or_default();
        let get = |k: &str| {
            o.get(k)
                .cloned()
                .ok_or_else(|| DeployError::new(format!("the regional stack in {r}"), format!("has no output {k}")))
        };
        let primary = *r == region;
        regions.push(RegionDeployment {
            region: r.clone(),
            stack_id,
            import_state_machine_arn: get("ImportWorkflowArn")?,
            export_state_machine_arn: if primary { Some(get("ExportWorkflowArn")?) } else { None },
            restore_ledger_table_name: get("RestoreLedgerTableName")?,
            workflow_bucket_name: get("WorkflowBucketName")?,
            notification_topic_arn: get("NotificationTopicArn")?,
            functions: regional_functions()
                .filter(|f| primary || !EXPORT_FUNCTIONS.iter().any(|e| e.binary == f.binary))
                .filter(|f| f.binary != CAPTURE_CHANGES.binary || (primary && capture_on))
                .map(|f| names::function(&prefix, f))
                .collect(),
        });
    }
    let backup = regions.pop().expect("two Regions");
    let primary = regions.pop().expect("two Regions");
    Ok(Deployment {
        main_stack: stack.to_owned(),
        user_pool_id: get("PrimaryUserPoolId")?,
        backup_table_name: get("BackupTableName")?,
        prefix,
        primary,
        backup,
    })
}

/// A zip holding a placeholder `bootstrap`: the local cloud runs `target/debug/<Handler>` itself.
pub fn placeholder_zip() -> Result<Vec<u8>, DeployError> {
    use std::io::Write;
    let fail = |e: &dyn std::fmt::Display| DeployError::new("code zip", e.to_string());
    let mut buf = std::io::Cursor::new(Vec::new());
    let mut zip = zip::ZipWriter::new(&mut buf);
    zip.start_file("bootstrap", zip::write::SimpleFileOptions::default()).map_err(|e| fail(&e))?;
    zip.write_all(b"#!/bin/sh\necho 'built by cargo-lambda for AWS; the local cloud runs target/debug/<handler>'\n")
        .map_err(|e| fail(&e))?;
    zip.finish().map_err(|e| fail(&e))?;
    Ok(buf.into_inner())
}

/// Reads `<dir>/<binary>/bootstrap.zip`, as `cargo lambda build --output-format zip` leaves them.
pub fn zip_from(dir: &std::path::Path, binary: &str) -> Result<Vec<u8>, DeployError> {
    let path = dir.join(binary).join("bootstrap.zip");
    std::fs::read(&path).map_err(|e| {
        DeployError::new(
            format!("code of {binary}"),
            format!("{}: {e} (build it with deployment/build-s3-dist.sh)", path.display()),
        )
    })
}
