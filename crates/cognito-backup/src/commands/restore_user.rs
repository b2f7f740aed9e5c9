//! `restore-user`: one user back from the backup in seconds (after an accidental deletion), without the
//! ImportWorkflow.

use std::sync::Arc;

use backup_aws::CognitoUserPool;
use backup_domain::import::single_user::{self, UserSelector};
use backup_domain::rate::{Budgeted, RateBudget};
use backup_domain::settings::DEFAULT_QUOTA_SHARE;
use serde_json::json;

use crate::cli::RestoreUserArgs;
use crate::context::Context;
use crate::error::{CliError, CliResult, DONE};
use crate::output::emit;

pub async fn run(ctx: &Context, args: &RestoreUserArgs) -> CliResult<u8> {
    let who = &args.who;
    let selector = match (&who.sub, &who.username, &who.email) {
        (Some(s), _, _) => UserSelector::Sub(s.clone()),
        (_, Some(u), _) => UserSelector::Username(u.clone()),
        (_, _, Some(e)) => UserSelector::Email(e.clone()),
        _ => return Err(CliError::Usage("name the user with --sub, --username or --email".into())),
    };
    let store = ctx.backup_store(&ctx.deployment.backup_table_name);
    let user = single_user::find_user(&store, &selector).await?;
    let groups = single_user::groups_of(&store, &user.sub).await?;
    let target = Budgeted::new(
        CognitoUserPool::new(ctx.cognito(), &args.target_pool),
        Arc::new(RateBudget::new(DEFAULT_QUOTA_SHARE, 1.0)),
    );
    let done = single_user::restore_user(&target, &user, &groups, args.overwrite).await?;
    let text = format!(
        "user {} {} in {} (backup sub {}, new sub {}); {}; groups: {}{}\n",
        done.username,
        if done.created { "restored" } else { "overwritten" },
        args.target_pool,
        done.old_sub,
        done.new_sub.as_deref().unwrap_or("?"),
        if done.enabled { "enabled" } else { "disabled, as in the backup" },
        if done.groups.is_empty() { "none".to_owned() } else { done.groups.join(", ") },
        if done.dropped_attributes.is_empty() {
            String::new()
        } else {
            format!("; attributes the pool cannot store: {}", done.dropped_attributes.join(", "))
        }
    );
    emit(ctx, &text, &json!(done));
    Ok(DONE)
}
