//! `load`: a dump into a new table of the backup's layout, or restored into a user pool (through a
//! temporary table and the ImportWorkflow, removed after).

use std::io::BufRead;

use backup_domain::ports::BackupStore;
use backup_domain::schema::{BackupItem, ItemType};
use serde_json::json;

use crate::cli::LoadArgs;
use crate::commands::restore::{Restore, run_restore};
use crate::context::Context;
use crate::dump_format::{self, Line};
use crate::error::{CliError, CliResult, DONE};
use crate::output::emit;
use crate::tables;

/// Items written per batch.
const BATCH: usize = 500;

/// Reads the dump into `table` (created here); returns the number of items.
async fn load_into(ctx: &Context, input: &str, table: &str) -> CliResult<u64> {
    let reader = dump_format::reader(input)?;
    let mut lines = reader.lines();
    let header = dump_format::read_header(&mut lines)?;
    tables::create_like_backup(ctx, table).await?;
    let store = ctx.backup_store(table);
    let write = |items: Vec<BackupItem>| {
        let store = &store;
        async move { store.put_all(&items).await.map_err(|e| CliError::Failed(format!("writing to table {table}: {e}"))) }
    };
    let mut batch = vec![
        BackupItem::from_body(ItemType::PoolSnapshot, header.pool_snapshot)
            .map_err(|e| CliError::Failed(format!("the header's pool snapshot: {e}")))?,
    ];
    if let Some(marker) = header.export_marker {
        batch.push(
            BackupItem::from_body(ItemType::ExportMarker, marker)
                .map_err(|e| CliError::Failed(format!("the header's export marker: {e}")))?,
        );
    }
    let mut count = 0u64;
    for (n, line) in lines.enumerate() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        let parsed: Line = serde_json::from_str(&line).map_err(|e| CliError::Failed(format!("line {}: {e}", n + 2)))?;
        batch.push(parsed.into_item(n + 2)?);
        if batch.len() == BATCH {
            count += batch.len() as u64;
            write(std::mem::take(&mut batch)).await?;
        }
    }
    count += batch.len() as u64;
    write(batch).await?;
    Ok(count)
}

pub async fn run(ctx: &Context, args: &LoadArgs) -> CliResult<u8> {
    let backup = &ctx.deployment.backup_table_name;
    if let Some(table) = &args.destination.into_table {
        let items = load_into(ctx, &args.input, table).await?;
        let note = if table.starts_with(backup.as_str()) {
            format!("restore it with the ImportWorkflow's \"BackupTableName\": \"{table}\"")
        } else {
            format!("the ImportWorkflow restores only from tables whose name starts with {backup}")
        };
        emit(
            ctx,
            &format!("loaded {items} items into table {table}; {note}\n"),
            &json!({"table": table, "items": items}),
        );
        return Ok(DONE);
    }
    let Some(target) = &args.destination.target_pool else {
        return Err(CliError::Usage("give --into-table or --target-pool".into()));
    };
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let table = tables::copy_name(backup, "load", now as i64);
    let loaded = load_into(ctx, &args.input, &table).await;
    let result = match loaded {
        Ok(items) => {
            eprintln!("loaded {items} items into {table}; restoring into {target}…");
            let restore = Restore {
                target_pool: target.clone(),
                policy: args.conflict_policy,
                dry_run: false,
                verify_only: false,
                yes: args.yes,
                wait: true,
                allow_source_pool: false,
                backup_table: Some(table.clone()),
            };
            run_restore(ctx, &restore).await
        }
        Err(e) => Err(e),
    };
    tables::delete(ctx, &table).await;
    result
}
