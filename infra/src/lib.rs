//! The stack's resources, defined once.
//!
//! [`definitions`] says what exists (functions and the binary each runs, their environment and IAM
//! actions, state machines and their ASL substitutions, resource names); [`cloudformation`] synthesizes
//! the CloudFormation templates from it; [`stack_deploy`] deploys those templates through the
//! CloudFormation API (an account, or the local cloud) and reads back what they created.

pub mod cloudformation;
pub mod definitions;
pub mod stack_deploy;
