//! A client of the local cloud: AWS SDK configuration pointed at it, and its extension endpoints.

use aws_config::{BehaviorVersion, Region, SdkConfig};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::Result;

pub const DEFAULT_REGION: &str = "us-east-1";

#[derive(Clone)]
pub struct LocalCloud {
    pub endpoint: String,
    pub sdk: SdkConfig,
}

/// A fault the local cloud injects into calls of `operation` (e.g. "ListUsersInGroup"): an AWS error
/// answer, added latency, a killed function, or a batch left partly unprocessed.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Fault {
    pub operation: String,
    /// Only requests whose body contains this (a pool ID, a table name) are affected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub r#match: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Let this many matching calls through before the rule fires.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skip: Option<u32>,
    /// How many matching calls are affected; `None` = all until cleared.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<u64>,
    /// Only every Nth matching call.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub every: Option<u32>,
    /// The rule lasts this long from its first matching call.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    /// Only calls whose JSON body has this field (e.g. PaginationToken).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body_has: Option<String>,
    /// Kills the running worker of this function when a matching call arrives.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kill_function: Option<String>,
    /// BatchWriteItem/BatchGetItem: this share of the batch comes back unprocessed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unprocessed_share: Option<f64>,
}

impl Fault {
    /// Matching calls fail with `error_code` (HTTP `status`).
    pub fn error(
        operation: &str,
        matching: &str,
        error_code: &str,
        status: u16,
        message: &str,
        count: Option<u32>,
    ) -> Self {
        Self {
            operation: operation.into(),
            r#match: Some(matching.into()),
            error_code: Some(error_code.into()),
            status: Some(status),
            message: Some(message.into()),
            count,
            ..Default::default()
        }
    }

    /// Every matching call takes `delay_ms` longer, like a call to AWS over the network.
    pub fn latency(operation: &str, matching: &str, delay_ms: u64) -> Self {
        Self {
            operation: operation.into(),
            r#match: Some(matching.into()),
            delay_ms: Some(delay_ms),
            ..Default::default()
        }
    }

    /// Cognito throttles every `every`-th matching call for `duration_ms` (a throttling storm).
    pub fn throttling_storm(operation: &str, matching: &str, every: u32, duration_ms: u64) -> Self {
        Self {
            every: Some(every),
            duration_ms: Some(duration_ms),
            ..Self::error(operation, matching, "TooManyRequestsException", 400, "Too many requests", None)
        }
    }
}

/// A fault rule in force until dropped.
pub struct ActiveFault {
    cloud: LocalCloud,
    pub id: String,
}

impl ActiveFault {
    /// How many calls the fault has acted on so far: a test asserts it happened at all.
    pub fn hits(&self) -> Result<u64> {
        self.cloud.fault_hits(&self.id)
    }
}

impl Drop for ActiveFault {
    fn drop(&mut self) {
        let _ = self.cloud.clear_fault(&self.id);
    }
}

/// Local cloud switches set until dropped, then put back.
pub struct Switched {
    cloud: LocalCloud,
    section: String,
    previous: serde_json::Value,
}

impl Drop for Switched {
    fn drop(&mut self) {
        let _ = self.cloud.configure(&self.section, self.previous.clone());
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct Seeded {
    pub key: String,
    pub username: String,
    pub sub: String,
}

impl LocalCloud {
    /// Connects to `LOCAL_CLOUD_ENDPOINT` (default http://127.0.0.1:`LOCAL_CLOUD_PORT`, 4577).
    pub async fn connect() -> Result<Self> {
        Self::connect_in(DEFAULT_REGION).await
    }

    pub async fn connect_in(region: &str) -> Result<Self> {
        let endpoint = std::env::var("LOCAL_CLOUD_ENDPOINT").unwrap_or_else(|_| {
            format!("http://127.0.0.1:{}", std::env::var("LOCAL_CLOUD_PORT").unwrap_or_else(|_| "4577".into()))
        });
        if ureq::get(format!("{endpoint}/_local_cloud/health")).call().is_err() {
            return Err(format!(
                "the local cloud does not answer at {endpoint}; start it with `deployment/local-cloud.sh start` \
                 (deployment/run-unit-tests.sh starts and stops it for you)"
            )
            .into());
        }
        let credentials =
            aws_sdk_sqs::config::Credentials::new("local-cloud", "local-cloud", None, None, "local-cloud");
        let sdk = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(region.to_owned()))
            .endpoint_url(&endpoint)
            .credentials_provider(credentials)
            .load()
            .await;
        Ok(Self { endpoint, sdk })
    }

    pub fn region(&self) -> String {
        self.sdk.region().map(|r| r.to_string()).unwrap_or_else(|| DEFAULT_REGION.into())
    }

    pub fn cognito(&self) -> aws_sdk_cognitoidentityprovider::Client {
        aws_sdk_cognitoidentityprovider::Client::new(&self.sdk)
    }
    pub fn dynamodb(&self) -> aws_sdk_dynamodb::Client {
        aws_sdk_dynamodb::Client::new(&self.sdk)
    }
    pub fn sfn(&self) -> aws_sdk_sfn::Client {
        aws_sdk_sfn::Client::new(&self.sdk)
    }
    pub fn sns(&self) -> aws_sdk_sns::Client {
        aws_sdk_sns::Client::new(&self.sdk)
    }
    pub fn sqs(&self) -> aws_sdk_sqs::Client {
        aws_sdk_sqs::Client::new(&self.sdk)
    }
    pub fn lambda(&self) -> aws_sdk_lambda::Client {
        aws_sdk_lambda::Client::new(&self.sdk)
    }

    /// The same local cloud, in another Region.
    pub async fn in_region(&self, region: &str) -> Result<Self> {
        if region == self.region() {
            return Ok(self.clone());
        }
        Self::connect_in(region).await
    }

    /// GET of a local-cloud extension endpoint (`/_local_cloud/...`).
    pub fn get(&self, path: &str) -> Result<serde_json::Value> {
        Ok(ureq::get(format!("{}{path}", self.endpoint)).call()?.body_mut().read_json()?)
    }

    /// POST to a local-cloud extension endpoint; an error answer is an error.
    pub fn post(&self, path: &str, body: serde_json::Value) -> Result<serde_json::Value> {
        let mut response = ureq::post(format!("{}{path}", self.endpoint))
            .config()
            .http_status_as_error(false)
            .build()
            .send_json(body)?;
        let status = response.status();
        let value: serde_json::Value = response.body_mut().read_json()?;
        if !status.is_success() {
            return Err(format!("local cloud {path} answered {status}: {value}").into());
        }
        Ok(value)
    }

    /// Fills a user pool through the local cloud's bulk path; returns each user's username and sub.
    pub fn seed(
        &self,
        pool_id: &str,
        users: &[crate::pools::SeedUser],
        groups: &[crate::pools::SeedGroup],
    ) -> Result<Vec<Seeded>> {
        self.seed_created_over(pool_id, users, groups, 0.0)
    }

    /// [`Self::seed`], with the users created evenly over the last `days` days (their UUIDv7 subs show it).
    pub fn seed_created_over(
        &self,
        pool_id: &str,
        users: &[crate::pools::SeedUser],
        groups: &[crate::pools::SeedGroup],
        days: f64,
    ) -> Result<Vec<Seeded>> {
        let mut seeded = Vec::with_capacity(users.len());
        // Chunks keep each request small; groups go last, once all their members exist.
        for chunk in users.chunks(5_000) {
            let out = self.post(
                "/_local_cloud/cognito/seed",
                json!({"region": self.region(), "userPoolId": pool_id, "users": chunk, "createdOverDays": days}),
            )?;
            seeded.extend(serde_json::from_value::<Vec<Seeded>>(out["users"].clone())?);
        }
        if !groups.is_empty() {
            // Members are named by fixture key; the pool knows them by username (a UUID in email pools).
            let username: std::collections::HashMap<&str, &str> =
                seeded.iter().map(|s| (s.key.as_str(), s.username.as_str())).collect();
            let groups: Vec<crate::pools::SeedGroup> = groups
                .iter()
                .map(|g| crate::pools::SeedGroup {
                    members: g
                        .members
                        .iter()
                        .map(|m| username.get(m.as_str()).copied().unwrap_or(m).to_owned())
                        .collect(),
                    ..g.clone()
                })
                .collect();
            self.post(
                "/_local_cloud/cognito/seed",
                json!({"region": self.region(), "userPoolId": pool_id, "groups": groups}),
            )?;
        }
        Ok(seeded)
    }

    /// Makes matching calls fail until [`clear_fault`](Self::clear_fault); returns the rule's id.
    pub fn inject_fault(&self, fault: &Fault) -> Result<String> {
        let rule = self.post("/_local_cloud/faults", serde_json::to_value(fault)?)?;
        Ok(rule["id"].as_str().unwrap_or_default().to_owned())
    }

    /// Merges `values` into a section of the local cloud's switches (e.g. `stepfunctions`,
    /// `{"consistencyLagMs": 2000}`); returns the previous values of those switches.
    pub fn configure(&self, section: &str, values: serde_json::Value) -> Result<serde_json::Value> {
        let current = self.get("/_local_cloud/config")?;
        let previous: serde_json::Map<String, serde_json::Value> = values
            .as_object()
            .map(|v| v.keys().map(|k| (k.clone(), current[section][k].clone())).collect())
            .unwrap_or_default();
        self.post("/_local_cloud/config", json!({ section: values }))?;
        Ok(serde_json::Value::Object(previous))
    }

    /// Sets switches of a section (see [`configure`](Self::configure)) until the guard is dropped. The
    /// switches are global: tests that set them run one at a time (`.config/nextest.toml`).
    pub fn switch(&self, section: &str, values: serde_json::Value) -> Result<Switched> {
        let previous = self.configure(section, values)?;
        Ok(Switched { cloud: self.clone(), section: section.to_owned(), previous })
    }

    /// Fires a scheduled rule's targets now, `times` times (EventBridge delivers at least once).
    pub fn fire_schedule(&self, rule: &str, times: u32) -> Result<serde_json::Value> {
        self.post("/_local_cloud/events/fire-schedule", json!({"region": self.region(), "rule": rule, "times": times}))
    }

    /// Injects `fault` until the returned guard is dropped.
    pub fn fault(&self, fault: &Fault) -> Result<ActiveFault> {
        Ok(ActiveFault { id: self.inject_fault(fault)?, cloud: self.clone() })
    }

    /// How many calls the rule `id` has acted on (so a test knows its fault happened).
    pub fn fault_hits(&self, id: &str) -> Result<u64> {
        let rules = self.get("/_local_cloud/faults")?;
        let rule = rules.as_array().into_iter().flatten().find(|r| r["id"] == id);
        Ok(rule.and_then(|r| r["hits"].as_u64()).unwrap_or(0))
    }

    pub fn clear_fault(&self, id: &str) -> Result<()> {
        ureq::delete(format!("{}/_local_cloud/faults", self.endpoint))
            .force_send_body()
            .send_json(json!({"id": id}))?;
        Ok(())
    }
}
