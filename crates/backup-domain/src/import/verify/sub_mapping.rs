//! The old sub → new sub mapping, for applications that key data by `sub`: CSV parts next to the
//! restore's report (`restores/<pool>/<execution>/sub-mapping/part-NNNNN.csv`, expired by the bucket's
//! lifecycle rule after the retention period), and the `newSub` of each ledger entry.

use crate::import::ImportRun;
use crate::ports::{LedgerPath, ObjectStore};
use crate::step::StepError;

pub const HEADER: &str = "old_sub,new_sub,old_username,new_username,path";

/// One restored user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappingRow {
    pub old_sub: String,
    pub new_sub: String,
    pub old_username: String,
    pub new_username: String,
    pub path: Option<LedgerPath>,
}

/// RFC 4180 quoting (the mapping is read by applications, not by Cognito).
fn field(value: &str) -> String {
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_owned()
    }
}

fn line(row: &MappingRow) -> String {
    let path =
        row.path.map(|p| serde_json::to_value(p).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default());
    format!(
        "{},{},{},{},{}\n",
        field(&row.old_sub),
        field(&row.new_sub),
        field(&row.old_username),
        field(&row.new_username),
        path.unwrap_or_else(|| "FOUND".into())
    )
}

pub fn part_key(run: &ImportRun, part: u32) -> String {
    format!("{}sub-mapping/part-{part:05}.csv", run.object_prefix())
}

/// Writes one part; returns where it is.
pub async fn write_part(
    objects: &dyn ObjectStore,
    run: &ImportRun,
    part: u32,
    rows: &[MappingRow],
) -> Result<String, StepError> {
    let mut body = format!("{HEADER}\n");
    for row in rows {
        body.push_str(&line(row));
    }
    objects
        .put(&part_key(run, part), "text/csv", body.into_bytes())
        .await
        .map_err(StepError::port("writing the sub mapping"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_with_commas_and_quotes_are_quoted() {
        let row = MappingRow {
            old_sub: "a".into(),
            new_sub: "b".into(),
            old_username: "x,\"y\"".into(),
            new_username: "x".into(),
            path: Some(LedgerPath::CsvImport),
        };
        assert_eq!(line(&row), "a,b,\"x,\"\"y\"\"\",x,CSV_IMPORT\n");
    }
}
