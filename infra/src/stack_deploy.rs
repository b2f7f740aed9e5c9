//! Deploys the synthesized templates through the CloudFormation API: the assets go to `<bucket>-<region>`
//! buckets, then the main stack is created and its StackSet deploys the regional stack to both Regions.
//! The local cloud fills moto's gaps (global table, StackSet, executable state machines).

use std::time::Duration;

use aws_config::SdkConfig;
use aws_sdk_cloudformation::types::{Capability, Parameter, StackStatus};

use crate::cloudformation::{self, Assets, REGIONAL_TEMPLATE_FILE};
use crate::definitions::{EXPORT_WORKFLOW, IMPORT_WORKFLOW, StackConfig, all_functions, names};
use crate::local_deploy::{DeployError, Deployment, RegionDeployment, ensure_bucket, fail, sdk_fail};

const UPDATE_GUARD_BINARY: &str = "stack-update-guard";

/// Puts the Lambda zips (`code(binary)` gives each zip's bytes) and the regional template where the main
/// template expects them, in both Regions.
async fn upload_assets(
    sdk: &SdkConfig,
    assets: &Assets,
    regions: &[String],
    code: &dyn Fn(&str) -> Result<Vec<u8>, DeployError>,
    regional_template: &str,
) -> Result<(), DeployError> {
    let s3 = aws_sdk_s3::Client::new(sdk);
    let binaries: Vec<&str> = all_functions().map(|f| f.binary).chain([UPDATE_GUARD_BINARY]).collect();
    for region in regions {
        let bucket = format!("{}-{region}", assets.bucket_prefix);
        ensure_bucket(sdk, &bucket, region).await?;
        for binary in &binaries {
            s3.put_object()
                .bucket(&bucket)
                .key(format!("{}/{binary}.zip", assets.key_prefix))
                .body(code(binary)?.into())
                .send()
                .await
                .map_err(sdk_fail(format!("asset {binary}.zip")))?;
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

pub async fn deploy(sdk: &SdkConfig, cfg: &StackConfig, code: &dyn Fn(&str) -> Result<Vec<u8>, DeployError>) -> Result<Deployment, DeployError> {
    let region = sdk.region().map(|r| r.to_string()).unwrap_or_else(|| "us-east-1".into());
    let assets = Assets { bucket_prefix: format!("{}-assets", cfg.prefix), key_prefix: "cognito-backup/local".into(), version: "local".into() };
    let main = cloudformation::main_stack::template(&assets).map_err(fail("the main template"))?.to_json();
    let regional = cloudformation::regional_stack::template(&assets.version).map_err(fail("the regional template"))?.to_json();
    upload_assets(sdk, &assets, &[region.clone(), cfg.backup_region.clone()], code, &regional.to_string()).await?;

    let cfn = aws_sdk_cloudformation::Client::new(sdk);
    let stack = format!("{}-main", cfg.prefix);
    let parameter = |k: &str, v: String| Parameter::builder().parameter_key(k).parameter_value(v).build();
    cfn.create_stack()
        .stack_name(&stack)
        .template_body(main.to_string())
        .capabilities(Capability::CapabilityNamedIam)
        .parameters(parameter("ResourcePrefix", cfg.prefix.clone()))
        .parameters(parameter("PrimaryUserPoolId", cfg.primary_user_pool_id.clone()))
        .parameters(parameter("BackupRegion", cfg.backup_region.clone()))
        .parameters(parameter("ExportSchedule", cfg.schedule_expression.clone()))
        .parameters(parameter("CognitoQuotaShare", cfg.quota_share.to_string()))
        .parameters(parameter("NotificationEmail", cfg.notification_email.clone().unwrap_or_else(|| "operator@example.com".into())))
        .parameters(parameter("NotificationPreference", cfg.notification_preference.as_str().into()))
        .send()
        .await
        .map_err(sdk_fail(format!("stack {stack}")))?;
    wait_for(&cfn, &stack).await?;

    let account = cfn
        .describe_stacks()
        .stack_name(&stack)
        .send()
        .await
        .map_err(sdk_fail("describing the stack"))?
        .stacks()
        .first()
        .and_then(|s| s.stack_id())
        .and_then(|id| id.split(':').nth(4))
        .unwrap_or("123456789012")
        .to_owned();
    let sm_arn = |r: &str, name: String| format!("arn:aws:states:{r}:{account}:stateMachine:{name}");
    let p = &cfg.prefix;
    let region_deployment = |r: &str| RegionDeployment {
        region: r.to_owned(),
        notification_topic_arn: format!("arn:aws:sns:{r}:{account}:{}", names::topic(p)),
        import_state_machine_arn: sm_arn(r, names::state_machine(p, &IMPORT_WORKFLOW)),
        restore_ledger_table_name: names::ledger_table(p),
        report_bucket_name: names::report_bucket(p, r, &account),
        functions: Vec::new(),
    };
    let primary = region_deployment(&region);
    Ok(Deployment {
        region: region.clone(),
        backup_table_name: names::backup_table(p),
        notification_topic_arn: primary.notification_topic_arn.clone(),
        export_state_machine_arn: sm_arn(&region, names::state_machine(p, &EXPORT_WORKFLOW)),
        import_state_machine_arn: primary.import_state_machine_arn.clone(),
        restore_ledger_table_name: primary.restore_ledger_table_name.clone(),
        report_bucket_name: primary.report_bucket_name.clone(),
        schedule_rule_name: names::schedule_rule(p),
        functions: all_functions().map(|f| names::function(p, f)).collect(),
        backup_region: Some(region_deployment(&cfg.backup_region)),
    })
}

async fn wait_for(cfn: &aws_sdk_cloudformation::Client, stack: &str) -> Result<(), DeployError> {
    for _ in 0..600 {
        let out = cfn.describe_stacks().stack_name(stack).send().await.map_err(sdk_fail(format!("stack {stack}")))?;
        let status = out.stacks().first().and_then(|s| s.stack_status()).cloned();
        match status {
            Some(StackStatus::CreateComplete) => return Ok(()),
            Some(StackStatus::CreateInProgress) | None => tokio::time::sleep(Duration::from_millis(500)).await,
            Some(other) => {
                let reason = out.stacks().first().and_then(|s| s.stack_status_reason()).unwrap_or_default().to_owned();
                return Err(DeployError::new(format!("stack {stack}"), format!("ended {other:?}: {reason}")));
            }
        }
    }
    Err(DeployError::new(format!("stack {stack}"), "still creating after 5 minutes".into()))
}
