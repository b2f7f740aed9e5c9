//! In-memory adapters of the ports, one module per port: for unit tests of the steps and for the
//! virtual-time simulation. Compiled only for tests and with the `test-support` feature.

mod clock;
mod cognito_model;
mod executions;
mod lease;
mod ledger;
mod notifier;
mod objects;
mod store;
mod user_pool;

pub use clock::FixedClock;
pub use cognito_model::{CategoryCalls, CognitoModel, CognitoModelSettings};
pub use executions::ScriptedExecutions;
pub use lease::InMemoryLease;
pub use ledger::InMemoryLedger;
pub use notifier::RecordingNotifier;
pub use objects::InMemoryObjects;
pub use store::InMemoryStore;
pub use user_pool::InMemoryUserPool;

use std::sync::{Mutex, MutexGuard};

/// Locks, recovering from a panic in another test thread (the data is still usable for assertions).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
