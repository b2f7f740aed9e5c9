//! The portable dump: NDJSON, gzip-compressed when the file name ends in `.gz`. The first line is a
//! header (format and schema versions, the source pool, the pool snapshot and the export marker); each
//! following line is one user, group or membership item: `{"type": "USER", "item": {…}}`, the item as the
//! backup table holds it (docs/dump-format.md).

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Read, Write};

use backup_domain::schema::{BackupItem, ItemType, SCHEMA_VERSION};
use flate2::Compression;
use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;
use serde::{Deserialize, Serialize};

use crate::error::{CliError, CliResult};

pub const FORMAT: &str = "cognito-backup-dump";
pub const FORMAT_VERSION: u32 = 1;

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Header {
    pub format: String,
    pub format_version: u32,
    pub schema_version: u32,
    pub created_at: String,
    pub source_pool_id: String,
    pub backup_table: String,
    /// The pool snapshot item.
    pub pool_snapshot: serde_json::Value,
    /// The export marker item (the export the dump was taken after), when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub export_marker: Option<serde_json::Value>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Line {
    #[serde(rename = "type")]
    pub item_type: String,
    pub item: serde_json::Value,
}

impl Line {
    pub fn of(item: &BackupItem) -> CliResult<Self> {
        let body = item.body().map_err(|e| CliError::Failed(format!("encoding a backup item: {e}")))?;
        Ok(Self { item_type: item.item_type().as_str().to_owned(), item: body })
    }

    pub fn into_item(self, line_number: usize) -> CliResult<BackupItem> {
        let item_type = ItemType::parse(&self.item_type)
            .ok_or_else(|| CliError::Failed(format!("line {line_number}: unknown item type {:?}", self.item_type)))?;
        BackupItem::from_body(item_type, self.item).map_err(|e| CliError::Failed(format!("line {line_number}: {e}")))
    }
}

pub fn writer(path: &str) -> CliResult<Box<dyn Write>> {
    let raw: Box<dyn Write> = if path == "-" {
        Box::new(std::io::stdout().lock())
    } else {
        Box::new(File::create(path).map_err(|e| CliError::Failed(format!("cannot create {path}: {e}")))?)
    };
    Ok(if path.ends_with(".gz") {
        Box::new(BufWriter::new(GzEncoder::new(raw, Compression::default())))
    } else {
        Box::new(BufWriter::new(raw))
    })
}

pub fn reader(path: &str) -> CliResult<Box<dyn BufRead>> {
    let raw: Box<dyn Read> = if path == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(File::open(path).map_err(|e| CliError::Failed(format!("cannot open {path}: {e}")))?)
    };
    Ok(if path.ends_with(".gz") {
        Box::new(BufReader::new(MultiGzDecoder::new(raw)))
    } else {
        Box::new(BufReader::new(raw))
    })
}

/// Reads and checks the header line.
pub fn read_header(lines: &mut impl Iterator<Item = std::io::Result<String>>) -> CliResult<Header> {
    let first = lines.next().ok_or_else(|| CliError::Failed("the dump is empty".into()))??;
    let header: Header = serde_json::from_str(&first)
        .map_err(|e| CliError::Failed(format!("line 1 is not a cognito-backup dump header ({e})")))?;
    if header.format != FORMAT || header.format_version != FORMAT_VERSION {
        return Err(CliError::Failed(format!(
            "this is a {} dump of format version {}; this release reads {FORMAT} version {FORMAT_VERSION}",
            header.format, header.format_version
        )));
    }
    if header.schema_version > SCHEMA_VERSION {
        return Err(CliError::Failed(format!(
            "the dump holds schema version {}; this release reads up to {SCHEMA_VERSION}: use the release that wrote it",
            header.schema_version
        )));
    }
    Ok(header)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_round_trips_an_item_and_refuses_a_future_schema() {
        let body = serde_json::json!({"schemaVersion": 1, "lastConfirmedAt": 5, "exportRunId": "r", "groupName": "g, \"quoted\"\nline"});
        let item = BackupItem::from_body(ItemType::Group, body).unwrap();
        let line = serde_json::to_string(&Line::of(&item).unwrap()).unwrap();
        assert!(!line.contains('\n'), "one line");
        let back: Line = serde_json::from_str(&line).unwrap();
        assert_eq!(back.into_item(2).unwrap(), item);
        let future =
            Line { item_type: "GROUP".into(), item: serde_json::json!({"schemaVersion": 99, "groupName": "g"}) };
        assert!(future.into_item(3).unwrap_err().to_string().contains("line 3"));
    }
}
