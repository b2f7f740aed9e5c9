use std::collections::{HashMap, HashSet};

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use backup_domain::ports::{LedgerEntry, Page, PortError, RestoreLedger};

use crate::capacity::CapacityMeter;
use crate::dynamodb_batches::{BatchTable, Item};
use crate::errors::port_error;

/// The restore ledger table: `pk = RESTORE#<target pool>`, `sk = USER#<username in the target>`, one item
/// per backed-up user with its path, reason, job row, and old and new sub.
pub struct DynamoDbRestoreLedger {
    client: Client,
    table: String,
    meter: CapacityMeter,
}

impl DynamoDbRestoreLedger {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into(), meter: CapacityMeter::default() }
    }

    fn batches(&self) -> BatchTable<'_> {
        BatchTable { client: &self.client, name: &self.table, kind: "restore ledger", meter: &self.meter }
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
        // Batches go out side by side, so a user named twice would be written in no defined order (and
        // twice in one batch, refused): the last entry for each user is the one written.
        // Collected first: closures held across the await trip the compiler's Send inference in async traits.
        let mut seen = HashSet::new();
        let mut unique: Vec<&LedgerEntry> =
            entries.iter().rev().filter(|e| seen.insert((e.target_pool_id.as_str(), e.username.as_str()))).collect();
        unique.reverse();
        self.batches().put_each(unique, to_item).await
    }

    async fn by_usernames(&self, target_pool_id: &str, usernames: &[String]) -> Result<Vec<LedgerEntry>, PortError> {
        let keys = usernames.iter().map(|u| key(target_pool_id, u)).collect();
        self.batches().get_each(keys, true, from_item).await
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
