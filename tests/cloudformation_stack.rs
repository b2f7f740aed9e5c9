//! The synthesized templates, deployed through the local cloud's CloudFormation API (main stack, global
//! table, update guard, StackSet with the regional stack in both Regions), run both workflows.

use aws_sdk_cloudformation::types::StackStatus;
use aws_sdk_sfn::types::ExecutionStatus;
use backup_domain::schema::BackupItem;
use local_harness::Result;
use local_harness::local_cloud::LocalCloud;
use local_harness::pools;
use local_harness::workflows::{self, backup_items, run_export};

#[tokio::test(flavor = "multi_thread")]
async fn the_synthesized_templates_deploy_through_cloudformation_and_both_workflows_run() -> Result<()> {
    let cloud = LocalCloud::connect().await?;
    let prefix = workflows::unique_prefix("cfn");
    let pool_id = pools::create_pool(&cloud, &prefix, &[]).await?;
    let users = pools::nasty_users(30);
    cloud.seed(&pool_id, &users, &pools::groups_for(&users, 3))?;

    let deployment = workflows::deploy(&cloud, &prefix, &pool_id, |_| {}).await?;
    // Lambda gives the functions AWS_LAMBDA_LOG_FORMAT from this: lambda_runtime's subscriber logs JSON.
    let configuration =
        cloud.lambda().get_function_configuration().function_name(&deployment.primary.functions[0]).send().await?;
    assert_eq!(configuration.logging_config().and_then(|l| l.log_format()).map(|f| f.as_str()), Some("JSON"));

    let export = run_export(&cloud, &deployment, "{}").await?;
    assert_eq!(export.status, ExecutionStatus::Succeeded, "{:?}", export.cause);
    let items = backup_items(&cloud, &deployment.backup_table_name).await?;
    assert_eq!(items.iter().filter(|i| matches!(i, BackupItem::User(_))).count(), 30);

    let snapshot = items
        .iter()
        .find_map(|i| if let BackupItem::PoolSnapshot(p) = i { Some(p.pool.clone()) } else { None })
        .ok_or("no pool snapshot")?;
    let target = backup_aws::create_pool_like(&cloud.cognito(), &snapshot, &format!("{prefix}-restored")).await?;
    let input = serde_json::json!({"NewUserPoolId": target}).to_string();
    let arn = workflows::start(&cloud, &deployment.primary.import_state_machine_arn, &input).await?;
    let import = workflows::wait(&cloud, &arn, std::time::Duration::from_secs(600)).await?;
    assert_eq!(import.status, ExecutionStatus::Succeeded, "{:?}", import.cause);
    assert_eq!(import.output.as_ref().map(|o| o["verified"].clone()), Some(serde_json::json!(true)));

    // The StackSet put the regional stack in the backup Region too: its ImportWorkflow reads the replica.
    let backup = &deployment.backup;
    let west = LocalCloud::connect_in(&backup.region).await?;
    west.sfn().describe_state_machine().state_machine_arn(&backup.import_state_machine_arn).send().await?;
    let replica = backup_items(&west, &deployment.backup_table_name).await?;
    assert_eq!(replica.len(), items.len(), "the global table's replica holds the backup");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn an_update_that_moves_the_backup_region_is_refused_and_rolled_back_with_the_replica_intact() -> Result<()> {
    let cloud = LocalCloud::connect().await?;
    let prefix = workflows::unique_prefix("guard");
    let pool_id = pools::create_pool(&cloud, &prefix, &[]).await?;
    let users = pools::nasty_users(12);
    cloud.seed(&pool_id, &users, &pools::groups_for(&users, 2))?;
    let deployment = workflows::deploy(&cloud, &prefix, &pool_id, |_| {}).await?;
    assert_eq!(run_export(&cloud, &deployment, "{}").await?.status, ExecutionStatus::Succeeded);
    let west = LocalCloud::connect_in(&deployment.backup.region).await?;
    let replica_before = backup_items(&west, &deployment.backup_table_name).await?.len();
    assert!(replica_before > 12);

    // Moving the backup Region would drop the replica that holds the backup: the guard refuses.
    let refused =
        workflows::deploy(&cloud, &prefix, &pool_id, |stack| stack.config.backup_region = "eu-west-1".into()).await;
    let error = refused.err().ok_or("the update was not refused")?.to_string();
    assert!(error.contains("UPDATE_ROLLBACK_COMPLETE") && error.contains("BackupRegion"), "{error}");

    let cfn = aws_sdk_cloudformation::Client::new(&cloud.sdk);
    let stack = cfn.describe_stacks().stack_name(&deployment.main_stack).send().await?;
    let status = stack.stacks().first().and_then(|s| s.stack_status()).cloned();
    assert_eq!(status, Some(StackStatus::UpdateRollbackComplete), "the rollback succeeded");
    let described = infra::stack_deploy::describe(&cloud.sdk, &deployment.main_stack).await?;
    assert_eq!(described.backup.region, deployment.backup.region, "the stack still backs up to its Region");
    assert_eq!(
        backup_items(&west, &deployment.backup_table_name).await?.len(),
        replica_before,
        "the replica is intact"
    );
    assert_eq!(run_export(&cloud, &deployment, "{}").await?.status, ExecutionStatus::Succeeded, "and still works");
    Ok(())
}
