//! DynamoDB capacity as the adapters consumed it (`ReturnConsumedCapacity: TOTAL` on every call), summed
//! until a step takes it for its run report.

use std::sync::Mutex;

use aws_sdk_dynamodb::types::ConsumedCapacity;
use backup_domain::schema::Capacity;

#[derive(Debug, Default)]
pub(crate) struct CapacityMeter(Mutex<Capacity>);

impl CapacityMeter {
    fn add(&self, c: Capacity) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) += c;
    }

    /// A read operation's report (GetItem, Query, Scan, BatchGetItem).
    pub fn read<'a>(&self, reports: impl IntoIterator<Item = &'a ConsumedCapacity>) {
        let units: f64 =
            reports.into_iter().map(|c| c.read_capacity_units().or(c.capacity_units()).unwrap_or(0.0)).sum();
        self.add(Capacity { read_units: units, write_units: 0.0 });
    }

    /// A write operation's report (PutItem, DeleteItem, BatchWriteItem).
    pub fn write<'a>(&self, reports: impl IntoIterator<Item = &'a ConsumedCapacity>) {
        let units: f64 =
            reports.into_iter().map(|c| c.write_capacity_units().or(c.capacity_units()).unwrap_or(0.0)).sum();
        self.add(Capacity { read_units: 0.0, write_units: units });
    }

    /// A conditional write DynamoDB refused: billed, but its error carries no report; one unit is the
    /// least it costs.
    pub fn refused_write(&self) {
        self.add(Capacity { read_units: 0.0, write_units: 1.0 });
    }

    pub fn take(&self) -> Capacity {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|p| p.into_inner()))
    }
}
