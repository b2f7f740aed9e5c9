//! The temporary tables of `restore --as-of` (a point-in-time restore of the backup table) and of
//! `load` (a dump read into a table of the backup's layout).

use std::time::Duration;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType, TableStatus,
};
use aws_smithy_types::DateTime;
use backup_domain::schema::{PARTITION_KEY, SORT_KEY};

use crate::context::Context;
use crate::error::{CliError, CliResult, aws};

/// A name the ImportWorkflow accepts as a copy of the backup table: it must start with the table's name.
pub fn copy_name(backup_table: &str, what: &str, at_seconds: i64) -> String {
    format!("{backup_table}-{what}-{at_seconds}")
}

async fn wait_active(ctx: &Context, table: &str) -> CliResult<()> {
    for _ in 0..3_600 {
        let out = ctx
            .dynamodb()
            .describe_table()
            .table_name(table)
            .send()
            .await
            .map_err(aws(format!("reading table {table}")))?;
        if out.table().and_then(|t| t.table_status()) == Some(&TableStatus::Active) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    Err(CliError::Failed(format!("table {table} is still not ACTIVE after an hour")))
}

/// Restores the backup table as it was at `time` into `target` (within the point-in-time window).
pub async fn restore_as_of(ctx: &Context, source: &str, target: &str, time: DateTime) -> CliResult<()> {
    ctx.dynamodb()
        .restore_table_to_point_in_time()
        .source_table_name(source)
        .target_table_name(target)
        .restore_date_time(time)
        .billing_mode_override(BillingMode::PayPerRequest)
        .send()
        .await
        .map_err(aws(format!(
            "restoring table {source} as of {time} (it must be within the point-in-time recovery window, the last 35 days)"
        )))?;
    wait_active(ctx, target).await
}

/// Creates an empty table of the backup table's key layout.
pub async fn create_like_backup(ctx: &Context, name: &str) -> CliResult<()> {
    let attr =
        |n: &str| AttributeDefinition::builder().attribute_name(n).attribute_type(ScalarAttributeType::S).build();
    let key = |n: &str, t: KeyType| KeySchemaElement::builder().attribute_name(n).key_type(t).build();
    ctx.dynamodb()
        .create_table()
        .table_name(name)
        .attribute_definitions(attr(PARTITION_KEY).map_err(|e| CliError::Failed(e.to_string()))?)
        .attribute_definitions(attr(SORT_KEY).map_err(|e| CliError::Failed(e.to_string()))?)
        .key_schema(key(PARTITION_KEY, KeyType::Hash).map_err(|e| CliError::Failed(e.to_string()))?)
        .key_schema(key(SORT_KEY, KeyType::Range).map_err(|e| CliError::Failed(e.to_string()))?)
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .map_err(aws(format!("creating table {name}")))?;
    wait_active(ctx, name).await
}

pub async fn delete(ctx: &Context, name: &str) {
    if let Err(e) = ctx.dynamodb().delete_table().table_name(name).send().await {
        eprintln!(
            "cognito-backup: could not delete the temporary table {name}: {}; delete it by hand",
            aws_smithy_types::error::display::DisplayErrorContext(&e)
        );
    }
}
