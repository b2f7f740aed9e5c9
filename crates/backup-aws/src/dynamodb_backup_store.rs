use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use backup_domain::ports::{BackupStore, Page, PortError, ScanSegment, StaleItem};
use backup_domain::schema::{
    BackupItem, ITEM_TYPE_ATTRIBUTE, ItemKey, ItemType, LAST_CONFIRMED_ATTRIBUTE, PARTITION_KEY, SORT_KEY,
};

use crate::dynamodb_batches::{BatchTable, Item};
use crate::errors::port_error;


/// The backup table in DynamoDB.
pub struct DynamoDbBackupStore {
    client: Client,
    table: String,
    hint: String,
}

impl DynamoDbBackupStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        let table = table.into();
        let hint = format!("Check that backup table {table} exists in this Region and the function's role may use it.");
        Self { client, table, hint }
    }

    fn batches(&self) -> BatchTable<'_> {
        BatchTable { client: &self.client, name: &self.table, kind: "backup table" }
    }

    fn err<E>(&self, operation: &str, e: E) -> PortError
    where
        E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        port_error(&format!("{operation} on backup table {}", self.table), &self.hint, e)
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
    let item_type = attrs
        .get(ITEM_TYPE_ATTRIBUTE)
        .and_then(|v| v.as_s().ok())
        .and_then(|s| ItemType::parse(s))
        .ok_or_else(|| PortError::Malformed(format!("backup item {key} has no known {ITEM_TYPE_ATTRIBUTE}")))?;
    for name in [PARTITION_KEY, SORT_KEY, ITEM_TYPE_ATTRIBUTE] {
        attrs.remove(name);
    }
    let body: serde_json::Value = serde_dynamo::from_item(attrs)
        .map_err(|e| PortError::Malformed(format!("backup item {key} cannot be decoded: {e}")))?;
    BackupItem::from_body(item_type, body).map_err(|e| PortError::Malformed(format!("backup item {key}: {e}")))
}

#[async_trait]
impl BackupStore for DynamoDbBackupStore {
    async fn put_all(&self, items: &[BackupItem]) -> Result<(), PortError> {
        self.batches().put_all(items.iter().map(to_dynamo_item).collect::<Result<_, _>>()?).await
    }

    async fn get(&self, key: &ItemKey) -> Result<Option<BackupItem>, PortError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key_attributes(key)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| self.err("GetItem", e))?;
        out.item.map(from_dynamo_item).transpose()
    }

    async fn scan_confirmed_before(
        &self,
        before: i64,
        segment: ScanSegment,
        start: Option<ItemKey>,
    ) -> Result<Page<StaleItem, ItemKey>, PortError> {
        let out = self
            .client
            .scan()
            .table_name(&self.table)
            .segment(segment.index as i32)
            .total_segments(segment.total as i32)
            .filter_expression("#confirmed < :before")
            .projection_expression("#pk, #sk, #type")
            .expression_attribute_names("#confirmed", LAST_CONFIRMED_ATTRIBUTE)
            .expression_attribute_names("#pk", PARTITION_KEY)
            .expression_attribute_names("#sk", SORT_KEY)
            .expression_attribute_names("#type", ITEM_TYPE_ATTRIBUTE)
            .expression_attribute_values(":before", AttributeValue::N(before.to_string()))
            .set_exclusive_start_key(start.as_ref().map(key_attributes))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| self.err("Scan", e))?;
        let items = out
            .items()
            .iter()
            .filter_map(|i| {
                let item_type = i.get(ITEM_TYPE_ATTRIBUTE).and_then(|v| v.as_s().ok()).and_then(|s| ItemType::parse(s));
                key_of(i).map(|key| StaleItem { key, item_type })
            })
            .collect();
        Ok(Page { items, next: out.last_evaluated_key().and_then(key_of) })
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
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_conditional_check_failed_exception()) => Ok(false),
            Err(e) => Err(self.err("DeleteItem", e)),
        }
    }

    async fn scan_items(&self, segment: ScanSegment, start: Option<ItemKey>) -> Result<Page<BackupItem, ItemKey>, PortError> {
        let out = self
            .client
            .scan()
            .table_name(&self.table)
            .segment(segment.index as i32)
            .total_segments(segment.total as i32)
            .set_exclusive_start_key(start.as_ref().map(key_attributes))
            .send()
            .await
            .map_err(|e| self.err("Scan", e))?;
        let next = out.last_evaluated_key().and_then(key_of);
        let items = out.items.unwrap_or_default().into_iter().map(from_dynamo_item).collect::<Result<_, _>>()?;
        Ok(Page { items, next })
    }

    async fn get_many(&self, keys: &[ItemKey]) -> Result<Vec<BackupItem>, PortError> {
        let found = self.batches().get_all(keys.iter().map(key_attributes).collect()).await?;
        found.into_iter().map(from_dynamo_item).collect()
    }

    async fn partition(&self, pk: &str) -> Result<Vec<BackupItem>, PortError> {
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", PARTITION_KEY)
            .expression_attribute_values(":pk", AttributeValue::S(pk.to_owned()))
            .consistent_read(true)
            .into_paginator()
            .items()
            .send();
        let mut items = Vec::new();
        while let Some(item) = pages.next().await {
            items.push(from_dynamo_item(item.map_err(|e| self.err("Query", e))?)?);
        }
        Ok(items)
    }
}
