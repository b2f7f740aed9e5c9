use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use backup_domain::ports::{LeaseRecord, LeaseStore, PortError};
use backup_domain::schema::{ITEM_TYPE_ATTRIBUTE, LEASE_ITEM_TYPE, PARTITION_KEY, SORT_KEY};

use crate::dynamodb_batches::Item;
use crate::errors::port_error;

/// Leases as items `pk = LEASE`, `sk = <name>` of a table (the backup table for the export, the ledger
/// table for restores), read strongly and written only conditionally.
pub struct DynamoDbLeaseStore {
    client: Client,
    table: String,
}

impl DynamoDbLeaseStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self { client, table: table.into() }
    }

    fn err<E>(&self, operation: &str, e: E) -> PortError
    where
        E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        port_error(
            &format!("{operation} of a lease in table {}", self.table),
            "Check that the table exists in this Region and the function's role may read and write it.",
            e,
        )
    }
}

fn key(name: &str) -> Item {
    HashMap::from([
        (PARTITION_KEY.to_owned(), AttributeValue::S("LEASE".into())),
        (SORT_KEY.to_owned(), AttributeValue::S(name.to_owned())),
    ])
}

fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

#[async_trait]
impl LeaseStore for DynamoDbLeaseStore {
    async fn read(&self, name: &str) -> Result<Option<LeaseRecord>, PortError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(name)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| self.err("GetItem", e))?;
        let Some(item) = out.item else { return Ok(None) };
        let s = |k: &str| item.get(k).and_then(|v| v.as_s().ok()).cloned();
        let num = |k: &str| item.get(k).and_then(|v| v.as_n().ok()).and_then(|v| v.parse::<i64>().ok());
        match (s("owner"), num("fence"), num("expiresAt"), num("heartbeatAt")) {
            (Some(owner), Some(fence), Some(expires_at), Some(heartbeat_at)) => {
                Ok(Some(LeaseRecord { owner, fence: fence as u64, expires_at, heartbeat_at }))
            }
            _ => Err(PortError::Malformed(format!("the lease {name} in table {} is malformed", self.table))),
        }
    }

    async fn replace(&self, name: &str, expected: Option<&LeaseRecord>, new: &LeaseRecord) -> Result<bool, PortError> {
        let mut item = key(name);
        item.insert(ITEM_TYPE_ATTRIBUTE.into(), AttributeValue::S(LEASE_ITEM_TYPE.into()));
        item.insert("owner".into(), AttributeValue::S(new.owner.clone()));
        item.insert("fence".into(), n(new.fence));
        item.insert("expiresAt".into(), n(new.expires_at));
        item.insert("heartbeatAt".into(), n(new.heartbeat_at));
        let mut request = self.client.put_item().table_name(&self.table).set_item(Some(item));
        request = match expected {
            None => request.condition_expression("attribute_not_exists(pk)"),
            Some(e) => request
                .condition_expression("#owner = :owner AND fence = :fence")
                .expression_attribute_names("#owner", "owner")
                .expression_attribute_values(":owner", AttributeValue::S(e.owner.clone()))
                .expression_attribute_values(":fence", n(e.fence)),
        };
        match request.send().await {
            Ok(_) => Ok(true),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_conditional_check_failed_exception()) => Ok(false),
            Err(e) => Err(self.err("PutItem", e)),
        }
    }

    async fn release(&self, name: &str, owner: &str, fence: u64) -> Result<bool, PortError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(name)))
            .condition_expression("#owner = :owner AND fence = :fence")
            .expression_attribute_names("#owner", "owner")
            .expression_attribute_values(":owner", AttributeValue::S(owner.to_owned()))
            .expression_attribute_values(":fence", n(fence))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_conditional_check_failed_exception()) => Ok(false),
            Err(e) => Err(self.err("DeleteItem", e)),
        }
    }
}
