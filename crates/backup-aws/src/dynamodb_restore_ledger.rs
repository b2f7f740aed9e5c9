use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, PutRequest, WriteRequest};
use backup_domain::ports::{LedgerEntry, Page, PortError, RestoreLedger};

use crate::errors::port_error;

type Item = HashMap<String, AttributeValue>;

/// The restore ledger table: `pk = RESTORE#<target pool>`, `sk = USER#<username in the target>`, one item
/// per backed-up user with its path, reason, job row, and old and new sub.
pub struct DynamoDbRestoreLedger {
    client: Client,
    table: String,
}

impl DynamoDbRestoreLedger {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }

    fn err<E>(&self, operation: &str, e: E) -> PortError
    where
        E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        port_error(
            &format!("{operation} on restore ledger {}", self.table),
            "Check that the restore ledger table exists in this Region and the function's role may use it.",
            e,
        )
    }
}

fn key(pool: &str, username: &str) -> Item {
    HashMap::from([
        ("pk".to_owned(), AttributeValue::S(format!("RESTORE#{pool}"))),
        ("sk".to_owned(), AttributeValue::S(format!("USER#{username}"))),
    ])
}

fn to_item(e: &LedgerEntry) -> Result<Item, PortError> {
    let mut item: Item = serde_dynamo::to_item(e).map_err(|err| PortError::Malformed(err.to_string()))?;
    item.extend(key(&e.target_pool_id, &e.username));
    Ok(item)
}

fn from_item(mut item: Item) -> Result<LedgerEntry, PortError> {
    item.remove("pk");
    item.remove("sk");
    serde_dynamo::from_item(item).map_err(|e| PortError::Malformed(format!("restore ledger item: {e}")))
}

#[async_trait]
impl RestoreLedger for DynamoDbRestoreLedger {
    async fn record(&self, entries: &[LedgerEntry]) -> Result<(), PortError> {
        for chunk in entries.chunks(25) {
            let mut requests = chunk
                .iter()
                .map(|e| {
                    let put = PutRequest::builder().set_item(Some(to_item(e)?)).build().map_err(|e| PortError::Malformed(e.to_string()))?;
                    Ok(WriteRequest::builder().put_request(put).build())
                })
                .collect::<Result<Vec<_>, PortError>>()?;
            let mut round = 0u32;
            while !requests.is_empty() {
                if round == 10 {
                    return Err(PortError::Throttled(format!("restore ledger {} kept rejecting writes", self.table)));
                }
                if round > 0 {
                    tokio::time::sleep(std::time::Duration::from_millis(50 << round.min(7))).await;
                }
                let out = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, requests)
                    .send()
                    .await
                    .map_err(|e| self.err("BatchWriteItem", e))?;
                requests = out.unprocessed_items.and_then(|mut m| m.remove(&self.table)).unwrap_or_default();
                round += 1;
            }
        }
        Ok(())
    }

    async fn by_usernames(&self, target_pool_id: &str, usernames: &[String]) -> Result<Vec<LedgerEntry>, PortError> {
        let mut unique: Vec<&String> = usernames.iter().collect();
        unique.sort();
        unique.dedup();
        let mut found = Vec::new();
        for chunk in unique.chunks(100) {
            let mut request = KeysAndAttributes::builder()
                .set_keys(Some(chunk.iter().map(|u| key(target_pool_id, u)).collect()))
                .consistent_read(true)
                .build()
                .map_err(|e| PortError::InvalidRequest(e.to_string()))?;
            loop {
                let out = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, request)
                    .send()
                    .await
                    .map_err(|e| self.err("BatchGetItem", e))?;
                for item in out.responses.and_then(|mut r| r.remove(&self.table)).unwrap_or_default() {
                    found.push(from_item(item)?);
                }
                match out.unprocessed_keys.and_then(|mut u| u.remove(&self.table)) {
                    Some(rest) if !rest.keys().is_empty() => request = rest,
                    _ => break,
                }
            }
        }
        Ok(found)
    }

    async fn entries(&self, target_pool_id: &str, start: Option<String>) -> Result<Page<LedgerEntry>, PortError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", AttributeValue::S(format!("RESTORE#{target_pool_id}")))
            .set_exclusive_start_key(start.map(|username| key(target_pool_id, &username)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| self.err("Query", e))?;
        let next = out
            .last_evaluated_key()
            .and_then(|k| k.get("sk"))
            .and_then(|v| v.as_s().ok())
            .and_then(|sk| sk.strip_prefix("USER#"))
            .map(str::to_owned);
        let items = out.items.unwrap_or_default().into_iter().map(from_item).collect::<Result<_, _>>()?;
        Ok(Page { items, next })
    }
}
