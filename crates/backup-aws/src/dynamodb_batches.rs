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
/// Rounds of resubmitting what DynamoDB left unprocessed (backoff from 50 ms) before giving up.
const ROUNDS: u32 = 10;

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

async fn backoff(round: u32) {
    if round > 0 {
        tokio::time::sleep(Duration::from_millis(50 << round.min(7))).await;
    }
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

    /// Puts every item, overwriting items with the same key.
    pub async fn put_all(&self, items: Vec<Item>) -> Result<(), PortError> {
        let mut items = items.into_iter().peekable();
        while items.peek().is_some() {
            let mut requests = items
                .by_ref()
                .take(WRITE_BATCH)
                .map(|item| {
                    let put = PutRequest::builder()
                        .set_item(Some(item))
                        .build()
                        .map_err(|e| PortError::Malformed(e.to_string()))?;
                    Ok(WriteRequest::builder().put_request(put).build())
                })
                .collect::<Result<Vec<_>, PortError>>()?;
            let mut round = 0;
            while !requests.is_empty() {
                if round == ROUNDS {
                    return Err(PortError::Throttled(format!(
                        "BatchWriteItem on {} {} left {} items unprocessed after {round} rounds; the table is throttled, retry later",
                        self.kind,
                        self.name,
                        requests.len()
                    )));
                }
                backoff(round).await;
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
                round += 1;
            }
        }
        Ok(())
    }

    /// The items with these keys that exist (keys may repeat).
    pub async fn get_all(&self, keys: Vec<Item>, consistent: bool) -> Result<Vec<Item>, PortError> {
        let keys = unique(keys);
        let mut found = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(GET_BATCH) {
            let mut request = KeysAndAttributes::builder()
                .set_keys(Some(chunk.to_vec()))
                .consistent_read(consistent)
                .build()
                .map_err(|e| PortError::InvalidRequest(e.to_string()))?;
            for round in 0..=ROUNDS {
                if round == ROUNDS {
                    return Err(PortError::Throttled(format!(
                        "BatchGetItem on {} {} kept returning unprocessed keys",
                        self.kind, self.name
                    )));
                }
                backoff(round).await;
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
                    Some(rest) if !rest.keys().is_empty() => request = rest,
                    _ => break,
                }
            }
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
