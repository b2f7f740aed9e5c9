//! What every workflow step shares: its error type and how it follows paged listings across invocations.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::Deadline;
use crate::ports::{Page, PortError};

/// A step failed; the message says what and what to do, the name is what Step Functions matches.
#[derive(Debug, Error)]
pub enum StepError {
    #[error("{context}: {source}")]
    Port {
        context: String,
        #[source]
        source: PortError,
    },
    /// The step refuses to go on, to protect data; `name` is the Step Functions error name.
    #[error("{message}")]
    Refused { name: &'static str, message: String },
    #[error("invalid step input: {0}")]
    InvalidInput(String),
}

impl StepError {
    pub fn port(context: impl Into<String>) -> impl FnOnce(PortError) -> StepError {
        let context = context.into();
        move |source| StepError::Port { context, source }
    }

    pub fn error_name(&self) -> &'static str {
        match self {
            Self::Port { source, .. } => source.error_name(),
            Self::Refused { name, .. } => name,
            Self::InvalidInput(_) => "InvalidInput",
        }
    }
}

/// How many pages of one listing are written concurrently; Cognito's rate budget, not this number,
/// bounds the call rate, so it only needs to cover the latency of a call.
pub(crate) const CONCURRENT_LISTINGS: usize = 8;

/// Where one paged listing stands: not started (`next_token: None, done: false`), part-way, or done.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Listing {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
    #[serde(default)]
    pub done: bool,
}

impl Listing {
    /// Fetches and consumes pages until the listing ends or the deadline passes. It always handles at
    /// least one page, so every invocation makes progress however late it starts.
    pub async fn follow<T>(
        &mut self,
        deadline: Deadline,
        mut fetch: impl AsyncFnMut(Option<String>) -> Result<Page<T>, StepError>,
        mut consume: impl AsyncFnMut(Vec<T>) -> Result<(), StepError>,
    ) -> Result<(), StepError> {
        while !self.done {
            let page = fetch(self.next_token.clone()).await?;
            consume(page.items).await?;
            self.done = page.next.is_none();
            self.next_token = page.next;
            if deadline.expired() {
                break;
            }
        }
        Ok(())
    }
}

/// Where a scan of the backup table stands, resumable across invocations.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TableScan {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<crate::schema::ItemKey>,
    #[serde(default)]
    pub done: bool,
}

impl TableScan {
    /// Reads pages of whole items until the table ends, the deadline passes, or `consume` returns false
    /// (it has taken all it can this invocation). Always handles at least one page.
    pub async fn follow(
        &mut self,
        store: &dyn crate::ports::BackupStore,
        deadline: Deadline,
        mut consume: impl AsyncFnMut(Vec<crate::schema::BackupItem>) -> Result<bool, StepError>,
    ) -> Result<(), StepError> {
        while !self.done {
            let page = store
                .scan_items(crate::ports::ScanSegment::WHOLE, self.start.clone())
                .await
                .map_err(StepError::port("reading the backup table"))?;
            let more = consume(page.items).await?;
            self.done = page.next.is_none();
            self.start = page.next;
            if deadline.expired() || !more {
                break;
            }
        }
        Ok(())
    }
}
