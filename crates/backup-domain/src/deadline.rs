//! When a step must stop working and hand its cursor back to the state machine.

use std::time::Duration;

use tokio::time::Instant;

/// The moment a step stops starting new work: the Lambda deadline minus a safety margin. It follows
/// tokio's clock, so the virtual-time simulation sees the same deadlines as AWS.
#[derive(Debug, Clone, Copy)]
pub struct Deadline {
    stop_at: Instant,
}

impl Deadline {
    /// `remaining` is what the Lambda context says is left of the invocation.
    pub fn new(remaining: Duration, safety_margin: Duration) -> Self {
        Self { stop_at: Instant::now() + remaining.saturating_sub(safety_margin) }
    }

    /// A deadline `d` from now; for tests and tools.
    pub fn after(d: Duration) -> Self {
        Self { stop_at: Instant::now() + d }
    }

    pub fn expired(&self) -> bool {
        Instant::now() >= self.stop_at
    }

    pub fn remaining(&self) -> Duration {
        self.stop_at.saturating_duration_since(Instant::now())
    }
}
