//! Following a paged Cognito listing across Lambda invocations.

use serde::{Deserialize, Serialize};

use super::StepError;
use crate::Deadline;
use crate::ports::Page;

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
