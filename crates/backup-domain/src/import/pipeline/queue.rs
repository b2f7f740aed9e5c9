//! A queue between the pipeline's lanes: what one lane produces (users to follow up) another consumes,
//! in this invocation from memory, across invocations from parts in the object store. Items taken from
//! memory are not persisted: if the invocation fails, its retry produces them again (every action of the
//! pipeline is idempotent), and what is left in memory when the invocation ends becomes a new part.

use std::collections::VecDeque;
use std::sync::Mutex;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize as SerializeDerive};

use crate::ports::ObjectStore;
use crate::step::StepError;

/// Where a queue's consumer stands among the persisted parts.
#[derive(Debug, Clone, Default, PartialEq, Eq, SerializeDerive, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueueCursor {
    /// Parts written (`<prefix>NNNNNN.jsonl`).
    pub parts: u32,
    /// The part being consumed, and how many of its items are done.
    pub part: u32,
    pub offset: u64,
}

impl QueueCursor {
    pub fn drained(&self) -> bool {
        self.part >= self.parts
    }
}

pub struct Queue<T> {
    prefix: String,
    memory: Mutex<VecDeque<T>>,
}

impl<T: Serialize + DeserializeOwned + Send> Queue<T> {
    pub fn new(prefix: String) -> Self {
        Self { prefix, memory: Mutex::new(VecDeque::new()) }
    }

    fn part_key(&self, part: u32) -> String {
        format!("{}{part:06}.jsonl", self.prefix)
    }

    pub fn push(&self, item: T) {
        self.memory.lock().unwrap_or_else(|p| p.into_inner()).push_back(item);
    }

    pub fn memory_len(&self) -> usize {
        self.memory.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Up to `max` items from memory.
    pub fn take(&self, max: usize) -> Vec<T> {
        let mut memory = self.memory.lock().unwrap_or_else(|p| p.into_inner());
        let n = max.min(memory.len());
        memory.drain(..n).collect()
    }

    /// The items of the part the cursor is in, from its offset (the caller moves the cursor once they are
    /// handled).
    pub async fn read_part(&self, objects: &dyn ObjectStore, cursor: &QueueCursor) -> Result<Vec<T>, StepError> {
        let key = self.part_key(cursor.part);
        let body = objects
            .get(&key)
            .await
            .map_err(StepError::port("reading a restore queue"))?
            .ok_or_else(|| StepError::InvalidInput(format!("the restore queue part {key} is missing")))?;
        body.split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .skip(cursor.offset as usize)
            .map(|l| serde_json::from_slice(l).map_err(|e| StepError::InvalidInput(format!("{key}: {e}"))))
            .collect()
    }

    /// Writes what is left in memory as a new part.
    pub async fn persist(&self, objects: &dyn ObjectStore, cursor: &mut QueueCursor) -> Result<(), StepError> {
        let items = self.take(usize::MAX);
        if items.is_empty() {
            return Ok(());
        }
        let mut body = Vec::new();
        for item in &items {
            serde_json::to_writer(&mut body, item).map_err(|e| StepError::InvalidInput(e.to_string()))?;
            body.push(b'\n');
        }
        objects
            .put(&self.part_key(cursor.parts), "application/x-ndjson", body)
            .await
            .map_err(StepError::port("saving a restore queue"))?;
        cursor.parts += 1;
        Ok(())
    }
}
