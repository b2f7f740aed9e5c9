//! Records too many for one Lambda's memory, grouped into partitions by the hash of a key and kept in the
//! object store as JSON lines, so a later step can join two sides one partition at a time (the import's
//! plan joins users with their memberships; verification joins the backup with the target pool).
//!
//! Each writer flushes a partition's buffer as its own object once it grows past its share of
//! [`BUFFER_BYTES`] (at least [`MIN_FLUSH_BYTES`]), named
//! after the writer's label, so a retried invocation (same label) overwrites what its failed attempt
//! wrote. Readers must still tolerate a record twice (an attempt that got further than its retry):
//! they key records and keep one.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::ports::ObjectStore;
use crate::step::StepError;

/// What a writer's buffers may hold together: with a buffer per partition, a fixed size per buffer would
/// grow with the pool (a million users, 100 partitions, 100 MB).
pub const BUFFER_BYTES: usize = 16 << 20;
/// The smallest object a buffer is flushed as, so that partitions are not scattered over tiny objects.
pub const MIN_FLUSH_BYTES: usize = 16 << 10;
/// Records per partition the joins are sized for: a partition is read whole into memory, with both sides
/// and their restore ledger entries (at 20,000, verification peaked at 131 MB at 100,000 users).
pub const RECORDS_PER_PARTITION: u64 = 10_000;

/// How many partitions `records` need.
pub fn partition_count(records: u64) -> u32 {
    records.div_ceil(RECORDS_PER_PARTITION).clamp(1, 4_096) as u32
}

/// The partition of `key`.
pub fn partition_of(key: &str, partitions: u32) -> u32 {
    (xxhash_rust::xxh3::xxh3_64(key.as_bytes()) % u64::from(partitions.max(1))) as u32
}

fn folder(prefix: &str, partition: u32) -> String {
    format!("{prefix}p{partition:04}/")
}

/// Writes records into the partitions under `prefix`.
pub struct PartitionWriter<'a> {
    objects: &'a dyn ObjectStore,
    prefix: String,
    label: String,
    buffers: Vec<Vec<u8>>,
    chunks: Vec<u32>,
}

impl<'a> PartitionWriter<'a> {
    pub fn new(
        objects: &'a dyn ObjectStore,
        prefix: impl Into<String>,
        partitions: u32,
        label: impl Into<String>,
    ) -> Self {
        let n = partitions.max(1) as usize;
        Self { objects, prefix: prefix.into(), label: label.into(), buffers: vec![Vec::new(); n], chunks: vec![0; n] }
    }

    /// Adds `record` to the partition of `key`.
    pub async fn add<T: Serialize>(&mut self, key: &str, record: &T) -> Result<(), StepError> {
        let p = partition_of(key, self.buffers.len() as u32) as usize;
        serde_json::to_writer(&mut self.buffers[p], record).map_err(|e| StepError::InvalidInput(e.to_string()))?;
        self.buffers[p].push(b'\n');
        if self.buffers[p].len() >= (BUFFER_BYTES / self.buffers.len()).max(MIN_FLUSH_BYTES) {
            self.flush_one(p).await?;
        }
        Ok(())
    }

    async fn flush_one(&mut self, p: usize) -> Result<(), StepError> {
        let body = std::mem::take(&mut self.buffers[p]);
        if body.is_empty() {
            return Ok(());
        }
        let key = format!("{}{}-{:04}.jsonl", folder(&self.prefix, p as u32), self.label, self.chunks[p]);
        self.chunks[p] += 1;
        self.objects
            .put(&key, "application/x-ndjson", body)
            .await
            .map_err(StepError::port("saving partitioned work"))?;
        Ok(())
    }

    /// Writes what is buffered; call before the invocation ends.
    pub async fn flush(&mut self) -> Result<(), StepError> {
        for p in 0..self.buffers.len() {
            self.flush_one(p).await?;
        }
        Ok(())
    }
}

/// Every record of one partition (in object order; the caller drops repeats by key).
pub async fn read_partition<T: DeserializeOwned>(
    objects: &dyn ObjectStore,
    prefix: &str,
    partition: u32,
) -> Result<Vec<T>, StepError> {
    let keys = objects.list(&folder(prefix, partition)).await.map_err(StepError::port("listing partitioned work"))?;
    let mut records = Vec::new();
    for key in keys {
        let Some(body) = objects.get(&key).await.map_err(StepError::port("reading partitioned work"))? else {
            continue;
        };
        for line in body.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            records.push(serde_json::from_slice(line).map_err(|e| StepError::InvalidInput(format!("{key}: {e}")))?);
        }
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::InMemoryObjects;

    #[tokio::test]
    async fn records_land_in_the_partition_of_their_key_and_read_back() {
        let objects = InMemoryObjects::default();
        let mut w = PartitionWriter::new(&objects, "x/", 4, "scan-000001");
        for i in 0..100 {
            w.add(&format!("k{i}"), &i).await.unwrap();
        }
        w.flush().await.unwrap();
        let mut all = Vec::new();
        for p in 0..4 {
            let part: Vec<i32> = read_partition(&objects, "x/", p).await.unwrap();
            assert!(part.iter().all(|i| partition_of(&format!("k{i}"), 4) == p));
            all.extend(part);
        }
        all.sort();
        assert_eq!(all, (0..100).collect::<Vec<_>>());
        assert_eq!(partition_count(0), 1);
        assert_eq!(partition_count(1_000_000), 100);
    }

    #[tokio::test]
    async fn a_writer_holds_its_budget_whatever_the_partition_count() {
        let objects = InMemoryObjects::default();
        let partitions = partition_count(1_000_000);
        let mut w = PartitionWriter::new(&objects, "x/", partitions, "scan-000001");
        let record = "r".repeat(400);
        let mut peak = 0;
        for i in 0..60_000 {
            w.add(&format!("k{i}"), &record).await.unwrap();
            peak = peak.max(w.buffers.iter().map(Vec::len).sum::<usize>());
        }
        // 24 MB went through; at most the budget (plus a record per buffer) was held at once.
        assert!(peak <= BUFFER_BYTES + partitions as usize * 410, "peak {peak}");
        assert!(peak > BUFFER_BYTES / 2, "peak {peak}: the buffers flush as objects far below their share");
    }
}
