//! What the integration tests and the local demo share: a client of the local cloud, realistic
//! user pools, and helpers to deploy the stack and run its workflows through Step Functions.

pub mod benchmark;
pub mod capture_benchmark;
pub mod checks;
pub mod cli;
pub mod local_cloud;
pub mod plot;
pub mod pools;
pub mod reliability;
pub mod scenario;
pub mod workflows;

pub type Error = Box<dyn std::error::Error + Send + Sync>;
pub type Result<T, E = Error> = std::result::Result<T, E>;
