//! The stack's resources, defined once.
//!
//! [`definitions`] says what exists (functions and the binary each runs, their environment and IAM
//! actions, state machines and their ASL substitutions, table, topic, schedule); [`local_deploy`]
//! creates exactly that in the local cloud through the AWS SDK.

pub mod definitions;
pub mod cloudformation;
pub mod local_deploy;
pub mod stack_deploy;
