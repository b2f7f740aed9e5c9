//! One module per command.

mod create_pool;
mod dump;
mod export;
mod load;
mod restore;
mod restore_user;
mod status;

use crate::cli::{Cli, Command};
use crate::context::Context;
use crate::error::CliResult;

pub async fn run(cli: Cli) -> CliResult<u8> {
    let ctx = Context::load(&cli).await?;
    match cli.command {
        Command::Status { max_age_hours } => status::run(&ctx, max_age_hours).await,
        Command::Export { wait, allow_mass_removal, allow_count_mismatch } => {
            export::run(&ctx, wait, allow_mass_removal, allow_count_mismatch).await
        }
        Command::Restore(args) => restore::run(&ctx, &args).await,
        Command::RestoreUser(args) => restore_user::run(&ctx, &args).await,
        Command::CreatePool { name } => create_pool::run(&ctx, &name).await,
        Command::Dump { out } => dump::run(&ctx, &out).await,
        Command::Load(args) => load::run(&ctx, &args).await,
    }
}
