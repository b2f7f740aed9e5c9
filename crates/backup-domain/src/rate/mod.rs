//! Every Cognito call passes the rate budget: a share of each quota category, lowered while Cognito
//! throttles and recovered after, never above the share (the pool's applications come first).

mod budget;
mod budgeted;
mod category;

pub use budget::RateBudget;
pub use budgeted::Budgeted;
pub use category::{PoolOperation, QuotaCategory};
