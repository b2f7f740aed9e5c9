//! `dump`: the backup as a portable NDJSON file, streamed.

use backup_domain::ports::{BackupStore, ScanSegment};
use backup_domain::schema::{BackupItem, ItemKey, ItemType, SCHEMA_VERSION};
use serde_json::json;

use crate::context::Context;
use crate::dump_format::{self, FORMAT, FORMAT_VERSION, Header, Line};
use crate::error::{CliError, CliResult, DONE};
use crate::output::emit;

pub async fn run(ctx: &Context, out: &str) -> CliResult<u8> {
    let table = &ctx.deployment.backup_table_name;
    let store = ctx.backup_store(table);
    let read = |e| CliError::Failed(format!("reading the backup table {table}: {e}"));
    let snapshot = store.get(&ItemKey::pool_snapshot()).await.map_err(read)?;
    let Some(BackupItem::PoolSnapshot(snapshot)) = snapshot else {
        return Err(CliError::Failed("the backup has no pool snapshot yet: run an export first".into()));
    };
    let marker = store.get(&ItemKey::export_marker()).await.map_err(read)?;
    let body = |i: &BackupItem| i.body().map_err(|e| CliError::Failed(e.to_string()));
    let header = Header {
        format: FORMAT.into(),
        format_version: FORMAT_VERSION,
        schema_version: SCHEMA_VERSION,
        created_at: aws_smithy_types::DateTime::from(std::time::SystemTime::now()).to_string(),
        source_pool_id: snapshot.pool.pool_id.clone(),
        backup_table: table.clone(),
        pool_snapshot: body(&BackupItem::PoolSnapshot(snapshot))?,
        export_marker: marker.as_ref().map(body).transpose()?,
    };
    let mut writer = dump_format::writer(out)?;
    let write = |w: &mut Box<dyn std::io::Write>, value: &dyn erased::Line| -> CliResult<()> {
        w.write_all(value.json()?.as_bytes())?;
        w.write_all(b"\n")?;
        Ok(())
    };
    write(&mut writer, &header)?;
    let (mut counts, mut start) = (json!({"users": 0, "groups": 0, "memberships": 0}), None);
    loop {
        let page = store.scan_items(ScanSegment::WHOLE, start).await.map_err(read)?;
        for item in &page.items {
            let kind = match item.item_type() {
                ItemType::User => "users",
                ItemType::Group => "groups",
                ItemType::Membership => "memberships",
                // The header holds the snapshot and marker; deletion records are not backup content.
                _ => continue,
            };
            write(&mut writer, &Line::of(item)?)?;
            counts[kind] = (counts[kind].as_u64().unwrap_or(0) + 1).into();
        }
        match page.next {
            Some(next) => start = Some(next),
            None => break,
        }
    }
    writer.flush()?;
    drop(writer);
    if out != "-" {
        let text = format!(
            "dumped {} users, {} groups, {} memberships to {out}\n",
            counts["users"], counts["groups"], counts["memberships"]
        );
        emit(ctx, &text, &json!({"file": out, "counts": counts}));
    }
    Ok(DONE)
}

/// Header and item lines, serialized alike.
mod erased {
    use crate::error::{CliError, CliResult};

    pub trait Line {
        fn json(&self) -> CliResult<String>;
    }

    impl<T: serde::Serialize> Line for T {
        fn json(&self) -> CliResult<String> {
            serde_json::to_string(self).map_err(|e| CliError::Failed(e.to_string()))
        }
    }
}
