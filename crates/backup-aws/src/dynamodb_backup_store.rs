use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnConsumedCapacity};
use backup_domain::ports::{BackupStore, Page, PortError, ScanSegment, StoredKey, WriteOutcome};
use backup_domain::schema::{
    BackupItem, Capacity, ITEM_TYPE_ATTRIBUTE, ItemKey, ItemType, LAST_CONFIRMED_ATTRIBUTE, LEASE_ITEM_TYPE,
    PARTITION_KEY, SORT_KEY,
};
use futures::StreamExt;

use crate::capacity::CapacityMeter;
use crate::dynamodb_batches::{BatchTable, Item};
use crate::errors::port_error;

/// Conditional PutItems in flight (BatchWriteItem takes no condition).
const CONCURRENT_PUTS: usize = 16;

/// The backup table in DynamoDB.
pub struct DynamoDbBackupStore {
    client: Client,
    table: String,
    hint: String,
    meter: CapacityMeter,
}

impl DynamoDbBackupStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        let table = table.into();
        let hint = format!("Check that backup table {table} exists in this Region and the function's role may use it.");
        Self { client, table, hint, meter: CapacityMeter::default() }
    }

    fn batches(&self) -> BatchTable<'_> {
        BatchTable { client: &self.client, name: &self.table, kind: "backup table", meter: &self.meter }
    }

    fn err<E>(&self, operation: &str, e: E) -> PortError
    where
        E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        port_error(&format!("{operation} on backup table {}", self.table), &self.hint, e)
    }

    /// A conditional put; false when the stored item was read later and is kept.
    async fn put_one(&self, item: &BackupItem) -> Result<bool, PortError> {
        let Some(observed) = item.last_confirmed_at() else {
            self.batches().put_all(vec![to_dynamo_item(item)?]).await?;
            return Ok(true);
        };
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_dynamo_item(item)?))
            // Never replace a read of the item made later than this one.
            .condition_expression(
                "attribute_not_exists(#pk) OR attribute_not_exists(#confirmed) OR #confirmed <= :observed",
            )
            .expression_attribute_names("#pk", PARTITION_KEY)
            .expression_attribute_names("#confirmed", LAST_CONFIRMED_ATTRIBUTE)
            .expression_attribute_values(":observed", AttributeValue::N(observed.to_string()))
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await;
        match result {
            Ok(out) => {
                self.meter.write(out.consumed_capacity());
                Ok(true)
            }
            Err(e) if e.as_service_error().is_some_and(|s| s.is_conditional_check_failed_exception()) => {
                self.meter.refused_write();
                Ok(false)
            }
            Err(e) => Err(self.err("PutItem", e)),
        }
    }

    /// One page of a parallel scan, without control items (the lease).
    async fn scan_page(
        &self,
        segment: ScanSegment,
        start: Option<ItemKey>,
        projection: Option<&str>,
    ) -> Result<(Vec<Item>, Option<ItemKey>), PortError> {
        let mut request = self
            .client
            .scan()
            .table_name(&self.table)
            .segment(segment.index as i32)
            .total_segments(segment.total as i32)
            .filter_expression("#type <> :lease")
            .expression_attribute_names("#type", ITEM_TYPE_ATTRIBUTE)
            .expression_attribute_values(":lease", AttributeValue::S(LEASE_ITEM_TYPE.into()))
            .set_exclusive_start_key(start.as_ref().map(key_attributes))
            .return_consumed_capacity(ReturnConsumedCapacity::Total);
        if let Some(projection) = projection {
            request = request
                .projection_expression(projection)
                .expression_attribute_names("#pk", PARTITION_KEY)
                .expression_attribute_names("#sk", SORT_KEY)
                .expression_attribute_names("#confirmed", LAST_CONFIRMED_ATTRIBUTE);
        }
        let out = request.send().await.map_err(|e| self.err("Scan", e))?;
        self.meter.read(out.consumed_capacity());
        let next = out.last_evaluated_key().and_then(key_of);
        Ok((out.items.unwrap_or_default(), next))
    }
}

fn key_attributes(key: &ItemKey) -> Item {
    HashMap::from([
        (PARTITION_KEY.to_owned(), AttributeValue::S(key.pk.clone())),
        (SORT_KEY.to_owned(), AttributeValue::S(key.sk.clone())),
    ])
}

fn key_of(item: &Item) -> Option<ItemKey> {
    let s = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
    Some(ItemKey { pk: s(PARTITION_KEY)?, sk: s(SORT_KEY)? })
}

/// The DynamoDB item of a backup item: its body's attributes plus key and type.
pub fn to_dynamo_item(item: &BackupItem) -> Result<Item, PortError> {
    let body = item.body().map_err(|e| PortError::Malformed(format!("cannot encode a backup item: {e}")))?;
    let mut attrs: Item = serde_dynamo::to_item(body)
        .map_err(|e| PortError::Malformed(format!("cannot encode a backup item for DynamoDB: {e}")))?;
    attrs.extend(key_attributes(&item.key()));
    attrs.insert(ITEM_TYPE_ATTRIBUTE.to_owned(), AttributeValue::S(item.item_type().as_str().to_owned()));
    Ok(attrs)
}

/// The backup item stored as `attrs`; a clear error names the key of a malformed one.
pub fn from_dynamo_item(mut attrs: Item) -> Result<BackupItem, PortError> {
    let key = key_of(&attrs).map(|k| format!("{}/{}", k.pk, k.sk)).unwrap_or_else(|| "(no key)".into());
    let item_type =
        attrs.get(ITEM_TYPE_ATTRIBUTE).and_then(|v| v.as_s().ok()).and_then(|s| ItemType::parse(s)).ok_or_else(
            || {
                PortError::Malformed(format!(
                    "backup item {key} has no known {ITEM_TYPE_ATTRIBUTE}; it cannot be read by this release"
                ))
            },
        )?;
    for name in [PARTITION_KEY, SORT_KEY, ITEM_TYPE_ATTRIBUTE] {
        attrs.remove(name);
    }
    let body: serde_json::Value = serde_dynamo::from_item(attrs)
        .map_err(|e| PortError::Malformed(format!("backup item {key} cannot be decoded: {e}")))?;
    BackupItem::from_body(item_type, body).map_err(|e| PortError::Malformed(format!("backup item {key}: {e}")))
}

#[async_trait]
impl BackupStore for DynamoDbBackupStore {
    async fn put_if_newer(&self, items: &[BackupItem]) -> Result<WriteOutcome, PortError> {
        // Owned items: a stream over borrowed ones trips the compiler's Send inference in async traits.
        let puts = futures::stream::iter(items.to_vec())
            .map(|item| async move { self.put_one(&item).await })
            .buffer_unordered(CONCURRENT_PUTS);
        let results: Vec<Result<bool, PortError>> = puts.collect().await;
        let mut outcome = WriteOutcome::default();
        for written in results {
            if written? {
                outcome.written += 1;
            } else {
                outcome.newer_kept += 1;
            }
        }
        Ok(outcome)
    }

    async fn put_all(&self, items: &[BackupItem]) -> Result<(), PortError> {
        self.batches().put_each(items, to_dynamo_item).await
    }

    async fn get(&self, key: &ItemKey) -> Result<Option<BackupItem>, PortError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key_attributes(key)))
            .consistent_read(true)
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(|e| self.err("GetItem", e))?;
        self.meter.read(out.consumed_capacity());
        out.item.map(from_dynamo_item).transpose()
    }

    async fn get_many(&self, keys: &[ItemKey]) -> Result<Vec<BackupItem>, PortError> {
        self.batches().get_each(keys.iter().map(key_attributes).collect(), false, from_dynamo_item).await
    }

    async fn scan_items(
        &self,
        segment: ScanSegment,
        start: Option<ItemKey>,
    ) -> Result<Page<BackupItem, ItemKey>, PortError> {
        let (items, next) = self.scan_page(segment, start, None).await?;
        Ok(Page { items: items.into_iter().map(from_dynamo_item).collect::<Result<_, _>>()?, next })
    }

    async fn scan_keys(
        &self,
        segment: ScanSegment,
        start: Option<ItemKey>,
    ) -> Result<Page<StoredKey, ItemKey>, PortError> {
        let (items, next) = self.scan_page(segment, start, Some("#pk, #sk, #type, #confirmed")).await?;
        let keys = items
            .iter()
            .filter_map(|i| {
                let item_type = i.get(ITEM_TYPE_ATTRIBUTE).and_then(|v| v.as_s().ok()).and_then(|s| ItemType::parse(s));
                let last_confirmed_at =
                    i.get(LAST_CONFIRMED_ATTRIBUTE).and_then(|v| v.as_n().ok()).and_then(|n| n.parse().ok());
                key_of(i).map(|key| StoredKey { key, item_type, last_confirmed_at })
            })
            .collect();
        Ok(Page { items: keys, next })
    }

    async fn delete_if_confirmed_before(&self, key: &ItemKey, before: i64) -> Result<bool, PortError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key_attributes(key)))
            .condition_expression("#confirmed < :before")
            .expression_attribute_names("#confirmed", LAST_CONFIRMED_ATTRIBUTE)
            .expression_attribute_values(":before", AttributeValue::N(before.to_string()))
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await;
        match result {
            Ok(out) => {
                self.meter.write(out.consumed_capacity());
                Ok(true)
            }
            Err(e) if e.as_service_error().is_some_and(|s| s.is_conditional_check_failed_exception()) => {
                self.meter.refused_write();
                Ok(false)
            }
            Err(e) => Err(self.err("DeleteItem", e)),
        }
    }

    async fn partition(&self, pk: &str) -> Result<Vec<BackupItem>, PortError> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("#pk = :pk")
                .expression_attribute_names("#pk", PARTITION_KEY)
                .expression_attribute_values(":pk", AttributeValue::S(pk.to_owned()))
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .return_consumed_capacity(ReturnConsumedCapacity::Total)
                .send()
                .await
                .map_err(|e| self.err("Query", e))?;
            self.meter.read(out.consumed_capacity());
            start = out.last_evaluated_key.clone();
            for item in out.items.unwrap_or_default() {
                items.push(from_dynamo_item(item)?);
            }
            if start.is_none() {
                return Ok(items);
            }
        }
    }

    fn take_consumed(&self) -> Capacity {
        self.meter.take()
    }
}
