//! The local demo's two steps that are not operator commands (README command 1, through
//! deployment/run-local-demo.sh, which runs `cognito-backup` for everything else):
//!
//! - `local-demo setup`: creates a realistic, nasty user pool in the local cloud, seeds it and deploys
//!   the stack for it; prints `<prefix> <pool ID>` on stdout (the story on stderr).
//! - `local-demo check <prefix> <pool ID>`: reads the backup table back and compares it with the pool,
//!   user by user, group by group, membership by membership; exits 1 if they disagree.
//! - `local-demo delete-user <pool ID> <username>`: the accident `cognito-backup restore-user` repairs.
//! - `local-demo create-user <pool ID> <username>`: a user created between exports, for the change capture.

use std::collections::BTreeSet;

use backup_domain::schema::BackupItem;
use local_harness::Result;
use local_harness::checks::pool_state_of;
use local_harness::local_cloud::LocalCloud;
use local_harness::pools;
use local_harness::workflows::{self, backup_items};

const USERS: usize = 1_200;
const GROUPS: usize = 80;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["setup"] => setup().await,
        ["check", prefix, pool_id] => check(prefix, pool_id).await,
        ["delete-user", pool_id, username] => delete_user(pool_id, username).await,
        ["create-user", pool_id, username] => create_user(pool_id, username).await,
        _ => Err("usage: local-demo setup | local-demo check <prefix> <pool ID> | local-demo delete-user|create-user <pool ID> <username>".into()),
    };
    if let Err(e) = result {
        eprintln!("local demo failed: {e}");
        std::process::exit(1);
    }
}

async fn setup() -> Result<()> {
    let cloud = LocalCloud::connect().await?;
    let prefix = workflows::unique_prefix("demo");
    eprintln!("Creating a user pool with custom attributes and seeding {USERS} users and {GROUPS} groups…");
    let pool_id = pools::create_pool(&cloud, &format!("{prefix}-pool"), &[]).await?;
    let users = pools::nasty_users(USERS);
    let groups = pools::groups_for(&users, GROUPS);
    cloud.seed(&pool_id, &users, &groups)?;
    let memberships: usize = groups.iter().map(|g| g.members.len()).sum();
    eprintln!(
        "  pool {pool_id}: {} users ({} disabled, {} unconfirmed, {} federated), {GROUPS} groups, {memberships} memberships",
        users.len(),
        users.iter().filter(|u| !u.enabled).count(),
        users.iter().filter(|u| u.status == "UNCONFIRMED").count(),
        users.iter().filter(|u| u.status == "EXTERNAL_PROVIDER").count(),
    );
    eprintln!("Deploying the stack through CloudFormation (both workflows, the global backup table, topic, schedule)…");
    // Nothing else uses the local pool, so the demo may take the whole of each Cognito quota.
    workflows::deploy(&cloud, &prefix, &pool_id, |stack| {
        stack.config.quota_share = 1.0;
        // As deployed by default: changes are captured from CloudTrail between exports.
        stack.config.change_capture = true;
    })
    .await?;
    eprintln!("  deployment {prefix} (quota share 1.0: no application shares the quotas here; change capture on)");
    println!("{prefix} {pool_id}");
    Ok(())
}

async fn check(prefix: &str, pool_id: &str) -> Result<()> {
    let cloud = LocalCloud::connect().await?;
    let table = infra::definitions::names::backup_table(prefix);
    let items = backup_items(&cloud, &table).await?;
    let users: BTreeSet<String> = items.iter().filter_map(BackupItem::as_user).map(|u| u.sub.clone()).collect();
    let groups: BTreeSet<String> =
        items.iter().filter_map(BackupItem::as_group).map(|g| g.group_name.clone()).collect();
    let memberships: BTreeSet<(String, String)> =
        items.iter().filter_map(BackupItem::as_membership).map(|m| (m.group_name.clone(), m.sub.clone())).collect();
    let pool = pool_state_of(&cloud, pool_id).await?;
    println!("  users        {:>6} in the backup   (pool: {})", users.len(), pool.subs.len());
    println!("  groups       {:>6} in the backup   (pool: {})", groups.len(), pool.groups.len());
    println!("  memberships  {:>6} in the backup   (pool: {})", memberships.len(), pool.memberships.len());
    if users != pool.subs || groups != pool.groups || memberships != pool.memberships {
        return Err(format!("the backup {table} does not match user pool {pool_id}").into());
    }
    println!("  every user, group and membership of the pool is in the backup, once.");
    Ok(())
}

async fn delete_user(pool_id: &str, username: &str) -> Result<()> {
    let cloud = LocalCloud::connect().await?;
    cloud.cognito().admin_delete_user().user_pool_id(pool_id).username(username).send().await?;
    Ok(())
}

async fn create_user(pool_id: &str, username: &str) -> Result<()> {
    let cloud = LocalCloud::connect().await?;
    cloud
        .cognito()
        .admin_create_user()
        .user_pool_id(pool_id)
        .username(username)
        .message_action(aws_sdk_cognitoidentityprovider::types::MessageActionType::Suppress)
        .send()
        .await?;
    Ok(())
}
