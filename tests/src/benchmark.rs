//! The benchmark on the local cloud, with Cognito's quotas, Lambda's memory and Step Functions' limits on:
//! an export, an unchanged re-export and a restore of a seeded pool, each against its floor (the time its
//! calls need at the budgets in force). `deployment/run-benchmark.sh` runs it (the `benchmark` binary);
//! the scale test in CI runs it small.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_sfn::types::ExecutionStatus;
use backup_domain::rate::QuotaCategory;
use backup_domain::settings::{DEFAULT_QUOTA_SHARE, env};
use serde::Serialize;
use serde_json::json;

use crate::Result;
use crate::local_cloud::{ActiveFault, Fault, LocalCloud, Switched};
use crate::pools::{SeedGroup, SeedUser};
use crate::workflows::{self, Execution};

/// Rows per second a CSV import job applies at scale 1 (the original solution's published figure).
pub const IMPORT_USERS_PER_SECOND: f64 = 34.0;

/// The Cognito operations the workflows call: each gets the benchmark's latency.
const COGNITO_OPERATIONS: &[&str] = &[
    "DescribeUserPool",
    "ListUsers",
    "ListUsersInGroup",
    "ListGroups",
    "GetGroup",
    "AdminGetUser",
    "AdminListGroupsForUser",
    "GetCSVHeader",
    "CreateGroup",
    "UpdateGroup",
    "AdminCreateUser",
    "AdminUpdateUserAttributes",
    "AdminDisableUser",
    "AdminEnableUser",
    "AdminAddUserToGroup",
    "CreateUserImportJob",
    "StartUserImportJob",
    "DescribeUserImportJob",
];

#[derive(Debug, Clone)]
pub struct BenchmarkSettings {
    pub users: usize,
    /// `uuid4` or `uuidv7`.
    pub subs: String,
    /// Multiplies every Cognito quota and the import speed, and divides the latency, compressing time
    /// evenly (calls in flight per quota stay as on AWS).
    pub quota_scale: f64,
    /// AWS's round trip of a Cognito call (before the compression).
    pub latency_ms: u64,
    pub users_per_group: usize,
    /// UUIDv7 subs encode their user's creation time: the seeded users are created evenly over this many
    /// days (0: all at once, as a bulk import into a new pool would).
    pub created_over_days: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Timed {
    pub users: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memberships: Option<u64>,
    pub seconds: f64,
    pub floor_seconds: f64,
    pub ratio: f64,
    /// What bounds the floor: a quota category, or the CSV import jobs.
    pub binding: String,
    pub history_events: usize,
}

/// The unchanged re-export: what a scheduled export costs once the backup exists.
#[derive(Debug, Clone, Serialize)]
pub struct Reexport {
    pub items: u64,
    pub written: u64,
    pub seconds: f64,
    pub floor_seconds: f64,
    pub ratio: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Results {
    pub users: usize,
    pub subs: String,
    pub quota_scale: f64,
    pub latency_ms: u64,
    #[serde(default)]
    pub created_over_days: f64,
    pub export: Timed,
    pub reexport: Reexport,
    pub restore: Timed,
    /// Peak resident memory of each function (by binary), over all its invocations.
    pub peak_rss_mb: BTreeMap<String, f64>,
}

fn budget(category: QuotaCategory, scale: f64) -> f64 {
    category.pool_rps() * DEFAULT_QUOTA_SHARE * scale
}

/// Users, confirmed with a verified email (the CSV import path), each in exactly one group.
fn fixture(settings: &BenchmarkSettings) -> (Vec<SeedUser>, Vec<SeedGroup>) {
    let users: Vec<SeedUser> = (0..settings.users)
        .map(|i| SeedUser {
            key: format!("user-{i:07}"),
            username: format!("user-{i:07}"),
            attributes: BTreeMap::from([
                ("email".to_string(), format!("user{i}@example.com")),
                ("email_verified".to_string(), "true".to_string()),
                ("given_name".to_string(), format!("Given {i}")),
                ("custom:tier".to_string(), ["gold", "silver", "bronze"][i % 3].to_string()),
            ]),
            enabled: true,
            status: "CONFIRMED".into(),
        })
        .collect();
    let per_group = settings.users_per_group.max(1);
    let groups = users
        .chunks(per_group)
        .enumerate()
        .map(|(g, members)| SeedGroup {
            name: format!("group-{g:05}"),
            description: None,
            precedence: None,
            role_arn: None,
            members: members.iter().map(|u| u.key.clone()).collect(),
        })
        .collect();
    (users, groups)
}

/// How long the execution ran, from its history.
fn seconds(execution: &Execution) -> f64 {
    let times: Vec<f64> = execution.history.iter().map(|e| e.timestamp().as_secs_f64()).collect();
    let (first, last) = (times.iter().copied().fold(f64::MAX, f64::min), times.iter().copied().fold(0.0, f64::max));
    (last - first).max(0.0)
}

fn succeeded(what: &str, execution: &Execution) -> Result<()> {
    if execution.status != ExecutionStatus::Succeeded {
        return Err(format!("the {what} failed: {:?} {:?}", execution.error, execution.cause).into());
    }
    Ok(())
}

/// The local cloud's switches as the benchmark needs them: quotas, memory and limits on until dropped.
fn switches(cloud: &LocalCloud, settings: &BenchmarkSettings) -> Result<Vec<Switched>> {
    let scale = settings.quota_scale;
    Ok(vec![
        cloud.switch(
            "cognito",
            json!({"quotas": true, "quotaScale": scale, "importUsersPerSecond": IMPORT_USERS_PER_SECOND * scale}),
        )?,
        cloud.switch("lambda", json!({"enforceMemory": true}))?,
        cloud.switch("stepfunctions", json!({"payloadLimitBytes": 262_144, "historyLimit": 25_000}))?,
    ])
}

/// AWS's round trip, compressed like the quotas, on every Cognito call about `pool_id` (only its calls:
/// other tests may share the local cloud), until dropped.
fn latency(cloud: &LocalCloud, settings: &BenchmarkSettings, pool_id: &str) -> Result<Vec<ActiveFault>> {
    let compressed = (settings.latency_ms as f64 / settings.quota_scale.max(1.0)).round() as u64;
    COGNITO_OPERATIONS.iter().map(|op| cloud.fault(&Fault::latency(op, pool_id, compressed))).collect()
}

pub async fn run(cloud: &LocalCloud, settings: &BenchmarkSettings) -> Result<Results> {
    let scale = settings.quota_scale;
    let prefix = workflows::unique_prefix("bench");
    let pool_id = crate::pools::create_pool(cloud, &prefix, &[]).await?;
    cloud.post(
        "/_local_cloud/cognito/pool-settings",
        json!({"region": cloud.region(), "userPoolId": pool_id, "subFormat": settings.subs}),
    )?;
    let (users, groups) = fixture(settings);
    cloud.seed_created_over(&pool_id, &users, &groups, settings.created_over_days)?;
    let memberships: u64 = groups.iter().map(|g| g.members.len() as u64).sum();
    let deployment = workflows::deploy(cloud, &prefix, &pool_id, |stack| {
        stack.environment.insert(env::COGNITO_QUOTA_SCALE.into(), scale.to_string());
    })
    .await?;
    let _switches = switches(cloud, settings)?;
    let _source_latency = latency(cloud, settings, &pool_id)?;
    cloud.post("/_local_cloud/lambda/peak-rss/reset", json!({}))?;

    let export = workflows::run_export(cloud, &deployment, "{}").await?;
    succeeded("export", &export)?;
    let pages = (settings.users as u64).div_ceil(60)
        + groups.iter().map(|g| (g.members.len() as u64).div_ceil(60)).sum::<u64>();
    let export_floor = pages as f64 / budget(QuotaCategory::UserList, scale);
    let export_seconds = seconds(&export);
    let counted = export.output.as_ref().and_then(|o| o["counts"]["users"].as_u64()).unwrap_or(0);

    let again = workflows::run_export(cloud, &deployment, "{}").await?;
    succeeded("re-export", &again)?;
    let counts = again.output.clone().unwrap_or_default()["counts"].clone();
    let items = counts["users"].as_u64().unwrap_or(0)
        + counts["groups"].as_u64().unwrap_or(0)
        + counts["memberships"].as_u64().unwrap_or(0);
    let again_seconds = seconds(&again);
    let reexport = Reexport {
        items,
        written: counts["writtenItems"].as_u64().unwrap_or(0),
        seconds: again_seconds,
        floor_seconds: export_floor,
        ratio: again_seconds / export_floor.max(f64::MIN_POSITIVE),
    };

    let snapshot = workflows::backup_items(cloud, &deployment.backup_table_name)
        .await?
        .into_iter()
        .find_map(|i| if let backup_domain::schema::BackupItem::PoolSnapshot(p) = i { Some(p.pool) } else { None })
        .ok_or("the backup has no pool snapshot")?;
    let target = backup_aws::create_pool_like(&cloud.cognito(), &snapshot, &format!("{prefix}-restored")).await?;
    let _target_latency = latency(cloud, settings, &target)?;
    cloud.post("/_local_cloud/cognito/quota-stats/reset", json!({}))?;
    let arn = workflows::start(
        cloud,
        &deployment.primary.import_state_machine_arn,
        &json!({"NewUserPoolId": target}).to_string(),
    )
    .await?;
    let restore = workflows::wait(cloud, &arn, Duration::from_secs(6 * 3600)).await?;
    succeeded("restore", &restore)?;
    let report = restore.output.clone().unwrap_or_default();
    if report["verified"] != true {
        return Err(format!("the restore did not verify: {report}").into());
    }
    let mut floors = restore_floors(cloud, scale)?;
    let csv_rows = report["pipeline"]["csv"]["imported"].as_u64().unwrap_or(0);
    floors.insert("CsvImportJobs".into(), csv_rows as f64 / (IMPORT_USERS_PER_SECOND * scale));
    let (binding, restore_floor) =
        floors.into_iter().max_by(|a, b| a.1.total_cmp(&b.1)).unwrap_or(("none".into(), 0.0));
    let restore_seconds = seconds(&restore);

    let peaks = cloud.get("/_local_cloud/lambda/peak-rss")?;
    let peak_rss_mb = peaks
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(name, mb)| Some((name.strip_prefix(&format!("{prefix}-"))?.to_owned(), mb.as_f64()?)))
        .collect();

    Ok(Results {
        users: settings.users,
        subs: settings.subs.clone(),
        quota_scale: scale,
        latency_ms: settings.latency_ms,
        created_over_days: settings.created_over_days,
        export: Timed {
            users: counted,
            memberships: Some(memberships),
            seconds: export_seconds,
            floor_seconds: export_floor,
            ratio: export_seconds / export_floor.max(f64::MIN_POSITIVE),
            binding: "UserList".into(),
            history_events: export.history.len(),
        },
        reexport,
        restore: Timed {
            users: report["verification"]["usersVerified"].as_u64().unwrap_or(0),
            memberships: report["verification"]["membershipsVerified"].as_u64(),
            seconds: restore_seconds,
            floor_seconds: restore_floor,
            ratio: restore_seconds / restore_floor.max(f64::MIN_POSITIVE),
            binding,
            history_events: restore.history.len(),
        },
        peak_rss_mb,
    })
}

/// Seconds each quota category's calls (as the local cloud counted them) need at the budget.
fn restore_floors(cloud: &LocalCloud, scale: f64) -> Result<BTreeMap<String, f64>> {
    let stats = cloud.get("/_local_cloud/cognito/quota-stats")?;
    let mut floors = BTreeMap::new();
    for row in stats["categories"].as_array().into_iter().flatten() {
        let name = row["category"].as_str().unwrap_or_default();
        let Some(category) = QuotaCategory::ALL.into_iter().find(|c| c.name() == name) else { continue };
        let allowed = row["allowed"].as_f64().unwrap_or(0.0);
        *floors.entry(name.to_owned()).or_insert(0.0) += allowed / budget(category, scale);
    }
    Ok(floors)
}

impl Results {
    pub fn table(&self) -> String {
        let row = |name: &str, t: &Timed| {
            format!(
                "{name:<8} {:>8} users {:>9.1} s   floor {:>9.1} s ({})   ratio {:>5.3}   {} history events\n",
                t.users, t.seconds, t.floor_seconds, t.binding, t.ratio, t.history_events
            )
        };
        let created = match self.subs.as_str() {
            "uuidv7" => format!(", created over {} days", self.created_over_days),
            _ => String::new(),
        };
        let mut out = format!(
            "{} users ({} subs{created}), quotas × {} and {} ms per Cognito call ÷ {} (time runs {} times faster)\n",
            self.users, self.subs, self.quota_scale, self.latency_ms, self.quota_scale, self.quota_scale
        );
        out.push_str(&row("export", &self.export));
        out.push_str(&format!(
            "re-export {:>5} users {:>9.1} s   floor {:>9.1} s (UserList)   ratio {:>5.3}   {} of {} items written ({:.2} %)\n",
            self.export.users,
            self.reexport.seconds,
            self.reexport.floor_seconds,
            self.reexport.ratio,
            self.reexport.written,
            self.reexport.items,
            100.0 * self.reexport.written as f64 / self.reexport.items.max(1) as f64
        ));
        out.push_str(&row("restore", &self.restore));
        let peak = self.peak_rss_mb.iter().max_by(|a, b| a.1.total_cmp(b.1));
        if let Some((name, mb)) = peak {
            out.push_str(&format!("largest peak RSS: {name} {mb:.1} MB\n"));
        }
        out
    }
}
