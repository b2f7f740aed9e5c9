//! BatchWriteItem and BatchGetItem until DynamoDB has taken or returned everything, with backoff while it
//! hands back unprocessed items or keys.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, PutRequest, ReturnConsumedCapacity, WriteRequest};
use backup_domain::ports::PortError;

use crate::capacity::CapacityMeter;
use crate::errors::port_error;

pub(crate) type Item = HashMap<String, AttributeValue>;

/// DynamoDB's limits per BatchWriteItem and per BatchGetItem.
const WRITE_BATCH: usize = 25;
const GET_BATCH: usize = 100;
/// Batches in flight at once. One after another, the 100,000 ledger entries of a large restore's
/// verification were 4,000 round trips back to back: bound by latency, not by DynamoDB.
const CONCURRENT_BATCHES: usize = 8;
/// Rounds in a row in which DynamoDB processed less than half of what was sent, before giving up.
const SLOW_ROUNDS: u32 = 10;

/// The pause before resubmitting what DynamoDB left unprocessed. It doubles (from 50 ms, up to 6.4 s)
/// only while rounds make little progress: a table that takes half of each batch is busy, not stuck, and
/// waiting seconds between rounds that each halve the rest would only make the run slower.
#[derive(Default)]
struct Resubmission {
    slow_rounds: u32,
}

impl Resubmission {
    /// Records a round that sent `sent` and got `left` back; `false` when it is time to give up.
    async fn next(&mut self, sent: usize, left: usize) -> bool {
        if left * 2 > sent {
            self.slow_rounds += 1;
        } else {
            self.slow_rounds = 0;
        }
        if self.slow_rounds >= SLOW_ROUNDS {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50 << self.slow_rounds.min(7))).await;
        true
    }
}

/// A table, named for error messages, with the meter its consumed capacity goes to.
pub(crate) struct BatchTable<'a> {
    pub client: &'a Client,
    pub name: &'a str,
    /// E.g. "backup table", "restore ledger".
    pub kind: &'static str,
    pub meter: &'a CapacityMeter,
}

/// DynamoDB rejects a batch that names a key twice. Maps compare equal whatever their order, so keys are
/// sorted by a canonical form (attributes by name) to bring equal ones together.
fn unique(mut keys: Vec<Item>) -> Vec<Item> {
    keys.sort_by_cached_key(|k| {
        let mut parts: Vec<String> = k.iter().map(|(name, value)| format!("{name}={value:?}")).collect();
        parts.sort();
        parts
    });
    keys.dedup();
    keys
}

impl BatchTable<'_> {
    fn err<E>(&self, operation: &str, e: E) -> PortError
    where
        E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        port_error(
            &format!("{operation} on {} {}", self.kind, self.name),
            &format!(
                "Check that {} {} exists in this Region and the function's role may use it.",
                self.kind, self.name
            ),
            e,
        )
    }

    /// Puts every item, overwriting items with the same key (see [`Self::put_each`]).
    pub async fn put_all(&self, items: Vec<Item>) -> Result<(), PortError> {
        self.put_each(items, Ok).await
    }

    /// Puts the item `to_item` makes of each value, converting one window of batches at a time, so memory
    /// stays bounded whatever the count. The batches of a window go out side by side: keys must be unique,
    /// or which write of a repeated key wins is undefined.
    pub async fn put_each<T>(
        &self,
        values: impl IntoIterator<Item = T>,
        to_item: impl Fn(T) -> Result<Item, PortError>,
    ) -> Result<(), PortError> {
        let mut values = values.into_iter().peekable();
        while values.peek().is_some() {
            let mut window = Vec::with_capacity(CONCURRENT_BATCHES);
            while window.len() < CONCURRENT_BATCHES && values.peek().is_some() {
                let batch = values.by_ref().take(WRITE_BATCH).map(&to_item).collect::<Result<Vec<_>, _>>()?;
                window.push(self.write_batch(batch));
            }
            futures::future::try_join_all(window).await?;
        }
        Ok(())
    }

    async fn write_batch(&self, items: Vec<Item>) -> Result<(), PortError> {
        let mut requests = items
            .into_iter()
            .map(|item| {
                let put = PutRequest::builder()
                    .set_item(Some(item))
                    .build()
                    .map_err(|e| PortError::Malformed(e.to_string()))?;
                Ok(WriteRequest::builder().put_request(put).build())
            })
            .collect::<Result<Vec<_>, PortError>>()?;
        let mut resubmission = Resubmission::default();
        while !requests.is_empty() {
            let sent = requests.len();
            let out = self
                .client
                .batch_write_item()
                .request_items(self.name, requests)
                .return_consumed_capacity(ReturnConsumedCapacity::Total)
                .send()
                .await
                .map_err(|e| self.err("BatchWriteItem", e))?;
            self.meter.write(out.consumed_capacity());
            requests = out.unprocessed_items.and_then(|mut m| m.remove(self.name)).unwrap_or_default();
            if !requests.is_empty() && !resubmission.next(sent, requests.len()).await {
                return Err(PortError::Throttled(format!(
                    "BatchWriteItem on {} {} left {} items unprocessed round after round; the table is throttled, \
                     retry later",
                    self.kind,
                    self.name,
                    requests.len()
                )));
            }
        }
        Ok(())
    }

    /// What `from_item` makes of each item with one of these keys, converted window by window, so the raw
    /// items of a large request are never all in memory at once.
    pub async fn get_each<T>(
        &self,
        keys: Vec<Item>,
        consistent: bool,
        from_item: impl Fn(Item) -> Result<T, PortError>,
    ) -> Result<Vec<T>, PortError> {
        let keys = unique(keys);
        let mut found = Vec::with_capacity(keys.len());
        for window in keys.chunks(GET_BATCH * CONCURRENT_BATCHES) {
            let batches = window.chunks(GET_BATCH).map(|chunk| self.get_batch(chunk.to_vec(), consistent));
            for items in futures::future::try_join_all(batches).await? {
                for item in items {
                    found.push(from_item(item)?);
                }
            }
        }
        Ok(found)
    }

    async fn get_batch(&self, keys: Vec<Item>, consistent: bool) -> Result<Vec<Item>, PortError> {
        let mut request = KeysAndAttributes::builder()
            .set_keys(Some(keys))
            .consistent_read(consistent)
            .build()
            .map_err(|e| PortError::InvalidRequest(e.to_string()))?;
        let mut found = Vec::new();
        let mut resubmission = Resubmission::default();
        loop {
            let sent = request.keys().len();
            let out = self
                .client
                .batch_get_item()
                .request_items(self.name, request)
                .return_consumed_capacity(ReturnConsumedCapacity::Total)
                .send()
                .await
                .map_err(|e| self.err("BatchGetItem", e))?;
            self.meter.read(out.consumed_capacity());
            found.extend(out.responses.and_then(|mut r| r.remove(self.name)).unwrap_or_default());
            match out.unprocessed_keys.and_then(|mut u| u.remove(self.name)) {
                Some(rest) if !rest.keys().is_empty() => {
                    if !resubmission.next(sent, rest.keys().len()).await {
                        return Err(PortError::Throttled(format!(
                            "BatchGetItem on {} {} returned unprocessed keys round after round; the table is \
                             throttled, retry later",
                            self.kind, self.name
                        )));
                    }
                    request = rest;
                }
                _ => return Ok(found),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_table_that_takes_half_of_each_batch_is_resubmitted_at_once_and_a_stuck_one_given_up() {
        let mut busy = Resubmission::default();
        let start = tokio::time::Instant::now();
        for left in [50, 25, 12, 6, 3, 1] {
            assert!(busy.next(left * 2, left).await);
        }
        assert_eq!(start.elapsed(), Duration::from_millis(6 * 50), "no growing pause while rounds make progress");

        let mut stuck = Resubmission::default();
        let rounds = std::iter::repeat_with(|| ()).take(20);
        let mut kept_going = 0;
        for () in rounds {
            if !stuck.next(100, 99).await {
                break;
            }
            kept_going += 1;
        }
        assert_eq!(kept_going, SLOW_ROUNDS - 1);
    }

    #[test]
    fn repeated_keys_are_requested_once() {
        let key = |pk: &str| {
            Item::from([
                ("pk".to_string(), AttributeValue::S(pk.into())),
                ("sk".to_string(), AttributeValue::S("X".into())),
            ])
        };
        let keys: Vec<Item> = (0..50).map(|i| key(&format!("k{}", i % 5))).collect();
        let unique = unique(keys);
        assert_eq!(unique.len(), 5);
        for i in 0..5 {
            assert!(unique.contains(&key(&format!("k{i}"))));
        }
    }
}
