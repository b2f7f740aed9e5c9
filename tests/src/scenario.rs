//! A seeded user pool with the stack deployed for it: what most integration tests start from.

use std::collections::{BTreeMap, BTreeSet};

use backup_domain::schema::BackupItem;

use crate::Result;
use crate::local_cloud::{LocalCloud, Seeded};
use crate::pools::{self, PoolShape, SeedGroup, SeedUser};
use crate::workflows::{self, Execution, Inbox, backup_items, run_export};

/// Only the first users join groups, so the 10,000-user test stays about users, not memberships.
pub const MAX_GROUPED_USERS: usize = 600;

/// A seeded pool with the stack deployed for it.
pub struct Scenario {
    pub cloud: LocalCloud,
    /// The deployment's resource prefix (function `<prefix>-export-users`, rule `<prefix>-ExportSchedule`).
    pub prefix: String,
    pub pool_id: String,
    pub users: Vec<SeedUser>,
    pub groups: Vec<SeedGroup>,
    /// Fixture key → what the pool created (username, sub).
    pub seeded: BTreeMap<String, Seeded>,
    pub deployment: infra::stack_deploy::Deployment,
    pub inbox: Inbox,
}

pub async fn scenario(
    label: &str,
    username_attributes: &[&str],
    users: Vec<SeedUser>,
    group_count: usize,
    tweak: impl FnOnce(&mut workflows::TestStack),
) -> Result<Scenario> {
    scenario_with_mfa(label, username_attributes, "OFF", users, group_count, tweak).await
}

pub async fn scenario_with_mfa(
    label: &str,
    username_attributes: &[&str],
    mfa: &str,
    users: Vec<SeedUser>,
    group_count: usize,
    tweak: impl FnOnce(&mut workflows::TestStack),
) -> Result<Scenario> {
    let shape = PoolShape { username_attributes, mfa, extra_custom_attributes: 0 };
    scenario_shaped(label, &shape, users, group_count, tweak).await
}

pub async fn scenario_shaped(
    label: &str,
    shape: &PoolShape<'_>,
    users: Vec<SeedUser>,
    group_count: usize,
    tweak: impl FnOnce(&mut workflows::TestStack),
) -> Result<Scenario> {
    let cloud = LocalCloud::connect().await?;
    let prefix = workflows::unique_prefix(label);
    let pool_id = pools::create_shaped_pool(&cloud, &prefix, shape).await?;
    let groups = pools::groups_for(&users[..users.len().min(MAX_GROUPED_USERS)], group_count);
    let seeded = cloud.seed(&pool_id, &users, &groups)?.into_iter().map(|s| (s.key.clone(), s)).collect();
    let deployment = workflows::deploy(&cloud, &prefix, &pool_id, tweak).await?;
    let inbox = Inbox::subscribe(&cloud, &deployment.primary.notification_topic_arn).await?;
    Ok(Scenario { cloud, prefix, pool_id, users, groups, seeded, deployment, inbox })
}

impl Scenario {
    pub async fn export(&self) -> Result<Execution> {
        run_export(&self.cloud, &self.deployment, "{}").await
    }

    pub async fn items(&self) -> Result<Vec<BackupItem>> {
        backup_items(&self.cloud, &self.deployment.backup_table_name).await
    }

    /// The deployed name of the function running `binary` (e.g. `export-users`).
    pub fn function(&self, binary: &str) -> String {
        use infra::definitions::{EXPORT_FUNCTIONS, IMPORT_FUNCTIONS, names};
        let def = EXPORT_FUNCTIONS.iter().chain(IMPORT_FUNCTIONS).find(|f| f.binary == binary);
        names::function(&self.prefix, def.unwrap_or_else(|| panic!("no function runs {binary}")))
    }

    /// The deployment's export schedule rule.
    pub fn schedule_rule(&self) -> String {
        infra::definitions::names::schedule_rule(&self.prefix)
    }

    pub fn sub(&self, key: &str) -> &str {
        &self.seeded[key].sub
    }

    pub fn expected_memberships(&self) -> BTreeSet<(String, String)> {
        self.groups.iter().flat_map(|g| g.members.iter().map(|m| (g.name.clone(), self.sub(m).to_owned()))).collect()
    }
}

impl Scenario {
    /// The backed-up pool's configuration, read from the backup table.
    pub async fn snapshot(&self) -> Result<backup_domain::schema::PoolSnapshot> {
        self.items()
            .await?
            .into_iter()
            .find_map(|i| if let BackupItem::PoolSnapshot(p) = i { Some(p.pool) } else { None })
            .ok_or_else(|| "the backup has no pool snapshot".into())
    }

    /// The local cloud in `region` (the primary Region when `None`).
    pub async fn cloud_in(&self, region: Option<&str>) -> Result<LocalCloud> {
        match region {
            Some(r) => LocalCloud::connect_in(r).await,
            None => Ok(self.cloud.clone()),
        }
    }

    /// A new, empty pool configured from the backup's pool snapshot.
    pub async fn new_pool_like_source(&self, region: Option<&str>) -> Result<String> {
        let cloud = self.cloud_in(region).await?;
        let snapshot = self.snapshot().await?;
        let name = workflows::unique_prefix("restored");
        Ok(backup_aws::create_pool_like(&cloud.cognito(), &snapshot, &name).await?)
    }

    /// Runs the ImportWorkflow of `region` (the primary Region when `None`) with `input`.
    pub async fn import(&self, region: Option<&str>, input: serde_json::Value) -> Result<Execution> {
        let cloud = self.cloud_in(region).await?;
        let arn = match region {
            None => self.deployment.primary.import_state_machine_arn.clone(),
            Some(r) => self
                .deployment
                .region(r)
                .map(|d| d.import_state_machine_arn.clone())
                .ok_or_else(|| format!("no ImportWorkflow deployed in {r}"))?,
        };
        let execution = workflows::start(&cloud, &arn, &input.to_string()).await?;
        workflows::wait(&cloud, &execution, std::time::Duration::from_secs(600)).await
    }
}
