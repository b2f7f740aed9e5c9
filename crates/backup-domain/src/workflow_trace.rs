//! What a driven workflow (the drivers in `export::driver` and `import::driver`) did, in the units AWS
//! limits it by: the bytes of its state after each step (Step Functions' 256 KB payload limit), its history
//! events (25,000 per execution), and each invocation's duration (Lambda's 15 minutes).

use std::time::Duration;

use serde::Serialize;
use tokio::time::Instant;

/// One Lambda invocation of a task state.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StepCall {
    pub state: &'static str,
    pub seconds: f64,
    /// The execution's whole state after the step's result was put at its ResultPath.
    pub state_bytes: usize,
}

/// The execution's state as Step Functions holds it: each step's result at its ResultPath.
#[derive(Debug, Default)]
pub struct Trace {
    pub calls: Vec<StepCall>,
    /// Pass and Wait states entered (two history events each).
    pub other_states: u64,
    state: serde_json::Map<String, serde_json::Value>,
}

/// Events per Lambda task state (TaskStateEntered, LambdaFunctionScheduled, LambdaFunctionStarted,
/// LambdaFunctionSucceeded, TaskStateExited) and the Choice state that follows each one (entered, exited).
const EVENTS_PER_TASK_AND_CHOICE: u64 = 7;
/// ExecutionStarted and ExecutionSucceeded.
const EXECUTION_EVENTS: u64 = 2;

impl Trace {
    /// Records an invocation of `state` that began at `started` and put `result` at `$.<path>`.
    pub fn record(&mut self, state: &'static str, started: Instant, path: &str, result: &impl Serialize) {
        let value = serde_json::to_value(result).unwrap_or(serde_json::Value::Null);
        self.state.insert(path.to_owned(), value);
        let state_bytes = serde_json::to_vec(&self.state).map(|v| v.len()).unwrap_or(0);
        self.calls.push(StepCall { state, seconds: started.elapsed().as_secs_f64(), state_bytes });
    }

    /// A Pass state put `value` at `$.<path>`.
    pub fn keep(&mut self, path: &str, value: &impl Serialize) {
        self.state.insert(path.to_owned(), serde_json::to_value(value).unwrap_or(serde_json::Value::Null));
        self.other_states += 1;
    }

    pub fn passed(&mut self, states: u64) {
        self.other_states += states;
    }

    pub fn history_events(&self) -> u64 {
        EXECUTION_EVENTS + self.calls.len() as u64 * EVENTS_PER_TASK_AND_CHOICE + self.other_states * 2
    }

    pub fn max_state_bytes(&self) -> usize {
        self.calls.iter().map(|c| c.state_bytes).max().unwrap_or(0)
    }

    pub fn longest_invocation(&self) -> Duration {
        Duration::from_secs_f64(self.calls.iter().map(|c| c.seconds).fold(0.0, f64::max))
    }
}
