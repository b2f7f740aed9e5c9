//! When a step must stop working and hand its cursor back to the state machine.

use std::time::{Duration, Instant};

/// The moment a step stops starting new work: the Lambda deadline minus a safety margin.
#[derive(Debug, Clone, Copy)]
pub struct Deadline {
    stop_at: Instant,
}

impl Deadline {
    pub fn new(lambda_deadline: Instant, safety_margin: Duration) -> Self {
        Self { stop_at: lambda_deadline.checked_sub(safety_margin).unwrap_or(lambda_deadline) }
    }

    /// A deadline `d` from now; for tests and tools.
    pub fn after(d: Duration) -> Self {
        Self { stop_at: Instant::now() + d }
    }

    pub fn expired(&self) -> bool {
        Instant::now() >= self.stop_at
    }
}
