//! `create-pool`: a new user pool configured like the backed-up one (its snapshot in the backup).

use backup_domain::ports::BackupStore;
use backup_domain::schema::{BackupItem, ItemKey};
use serde_json::json;

use crate::context::Context;
use crate::error::{CliError, CliResult, DONE};
use crate::output::emit;

pub async fn run(ctx: &Context, name: &str) -> CliResult<u8> {
    let store = ctx.backup_store(&ctx.deployment.backup_table_name);
    let snapshot = match store.get(&ItemKey::pool_snapshot()).await {
        Ok(Some(BackupItem::PoolSnapshot(p))) => p.pool,
        Ok(_) => return Err(CliError::Failed("the backup has no pool snapshot yet: run an export first".into())),
        Err(e) => return Err(CliError::Failed(format!("reading the pool snapshot: {e}"))),
    };
    let pool_id = backup_aws::create_pool_like(&ctx.cognito(), &snapshot, name)
        .await
        .map_err(|e| CliError::Failed(format!("creating user pool {name}: {e}")))?;
    emit(
        ctx,
        &format!("created user pool {pool_id} ({name}) in {}, configured like {}\n", ctx.region(), snapshot.pool_id),
        &json!({"userPoolId": pool_id, "name": name, "region": ctx.region(), "likePool": snapshot.pool_id}),
    );
    Ok(DONE)
}
