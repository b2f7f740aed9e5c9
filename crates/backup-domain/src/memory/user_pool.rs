use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Bound;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use tokio::time::Instant;

use super::cognito_model::CognitoModel;
use super::lock;
use crate::import::csv_dialect;
use crate::ports::{
    Created, FailedRow, ImportJob, Page, PoolDescription, PoolGroup, PoolUser, PortError, RestoreTarget, UserFilter,
    UserPool,
};
use crate::rate::PoolOperation;
use crate::schema::{ImportJobStatus, PoolSnapshot, UserMfaSettings, UserStatus};

/// A user pool held in memory, paging like Cognito (60 per page by default, tokens that resume after
/// the last item, in `sub` order), with import jobs that take time when given a speed.
pub struct InMemoryUserPool {
    pool_id: String,
    page_size: usize,
    state: Mutex<PoolState>,
    model: Option<std::sync::Arc<CognitoModel>>,
}

#[derive(Default)]
struct PoolState {
    snapshot: PoolSnapshot,
    /// By sub.
    users: BTreeMap<String, PoolUser>,
    /// Username, and in pools whose users sign in with email or phone those values too → sub.
    names: HashMap<String, String>,
    groups: BTreeMap<String, PoolGroup>,
    /// Group → subs.
    members: BTreeMap<String, BTreeSet<String>>,
    failure: Option<PortError>,
    /// Operation → (error, how many more calls fail with it).
    scripted: BTreeMap<String, (PortError, usize)>,
    calls: BTreeMap<&'static str, u64>,
    jobs: BTreeMap<String, Job>,
    created: u64,
    rejected_by_jobs: BTreeMap<String, String>,
    import_users_per_second: Option<f64>,
    estimate_offset: i64,
    /// A group deleted right after the n-th ListGroups page that lists it (a deletion racing a run).
    doomed_group: Option<(String, usize)>,
    /// Writes in the order they happened: (operation, username or group).
    events: Vec<(&'static str, String)>,
}

struct Job {
    job: ImportJob,
    csv: Option<Vec<u8>>,
    failures: Vec<FailedRow>,
    /// When a job given a speed finishes (its rows are applied then).
    finishes_at: Option<(Instant, Instant)>,
}

impl PoolState {
    fn index(&mut self, user: &PoolUser) {
        let Some(sub) = user.sub().map(str::to_owned) else { return };
        self.names.insert(user.username.clone(), sub.clone());
        for attr in &self.snapshot.username_attributes {
            if let Some(v) = user.attributes.get(attr) {
                self.names.insert(v.clone(), sub.clone());
            }
        }
    }

    fn insert(&mut self, user: PoolUser) {
        self.index(&user);
        if let Some(sub) = user.sub().map(str::to_owned) {
            self.users.insert(sub, user);
        }
    }

    /// The sub of the user named `name`; AdminGetUser also accepts a sub where usernames are not aliases.
    fn find(&self, name: &str) -> Option<&String> {
        let by_name = self.names.get(name).filter(|sub| {
            self.users.get(*sub).is_some_and(|u| {
                u.username == name
                    || self.snapshot.username_attributes.iter().any(|a| u.attributes.get(a).is_some_and(|v| v == name))
            })
        });
        let by_sub = || {
            self.snapshot
                .username_attributes
                .is_empty()
                .then(|| self.users.get_key_value(name).map(|(k, _)| k))
                .flatten()
        };
        by_name.or_else(by_sub)
    }

    fn new_sub(&mut self) -> String {
        self.created += 1;
        format!("{:08x}-0000-4000-8000-{:012x}", self.created, self.users.len())
    }

    fn count(&mut self, op: &'static str) {
        *self.calls.entry(op).or_default() += 1;
    }
}

fn page_after<T: Clone>(items: impl Iterator<Item = (String, T)>, token: Option<&str>, size: usize) -> Page<T> {
    let mut out = Vec::new();
    let mut last = None;
    for (key, item) in items.filter(|(k, _)| token.is_none_or(|t| k.as_str() > t)) {
        if out.len() == size {
            return Page { items: out, next: last };
        }
        last = Some(key);
        out.push(item);
    }
    Page { items: out, next: None }
}

impl InMemoryUserPool {
    pub fn new(pool_id: &str) -> Self {
        let snapshot = PoolSnapshot { pool_id: pool_id.into(), ..Default::default() };
        Self {
            pool_id: pool_id.into(),
            page_size: 60,
            state: Mutex::new(PoolState { snapshot, ..Default::default() }),
            model: None,
        }
    }

    /// Calls take the model's latency and are throttled beyond its quotas (pools of one account share one).
    pub fn with_model(mut self, model: std::sync::Arc<CognitoModel>) -> Self {
        self.model = Some(model);
        self
    }

    pub fn with_page_size(mut self, size: usize) -> Self {
        self.page_size = size;
        self
    }

    fn state(&self) -> std::sync::MutexGuard<'_, PoolState> {
        lock(&self.state)
    }

    pub fn configure(&self, f: impl FnOnce(&mut PoolSnapshot)) {
        f(&mut self.state().snapshot);
    }

    /// Import jobs take `rows / speed` seconds (tokio time); without a speed they finish at once.
    pub fn with_import_speed(self, users_per_second: f64) -> Self {
        self.state().import_users_per_second = Some(users_per_second);
        self
    }

    /// `EstimatedNumberOfUsers` is off by this much (Cognito's is an estimate).
    pub fn set_estimate_offset(&self, offset: i64) {
        self.state().estimate_offset = offset;
    }

    /// Adds `n` confirmed users with an email; `f` may change each before it is stored.
    pub fn add_users(&self, n: usize, mut f: impl FnMut(usize, &mut PoolUser)) {
        let mut state = self.state();
        let base = state.users.len();
        for i in base..base + n {
            let h = (i as u128 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15_F39C_C060_5CED_C835);
            let hex = format!("{h:032x}");
            let sub = format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32]);
            let mut user = PoolUser {
                username: format!("user-{i}"),
                attributes: BTreeMap::from([
                    ("sub".to_string(), sub),
                    ("email".to_string(), format!("user{i}@example.com")),
                    ("email_verified".to_string(), "true".to_string()),
                ]),
                enabled: true,
                status: UserStatus::Confirmed,
                ..Default::default()
            };
            f(i, &mut user);
            state.insert(user);
        }
    }

    pub fn remove_user(&self, username: &str) {
        let mut state = self.state();
        if let Some(sub) = state.find(username).cloned() {
            state.users.remove(&sub);
            for members in state.members.values_mut() {
                members.remove(&sub);
            }
        }
    }

    pub fn add_groups(&self, n: usize) {
        let mut state = self.state();
        let base = state.groups.len();
        for i in base..base + n {
            let group = PoolGroup {
                name: format!("group-{i:04}"),
                description: Some(format!("Group number {i}")),
                precedence: Some(i as i32),
                role_arn: Some(format!("arn:aws:iam::123456789012:role/group-{i}")),
                ..Default::default()
            };
            state.groups.insert(group.name.clone(), group);
        }
    }

    pub fn remove_group(&self, name: &str) {
        let mut state = self.state();
        state.groups.remove(name);
        state.members.remove(name);
    }

    /// Deletes `name` right after the `nth` ListGroups call that lists it, as if someone deleted it while a
    /// run was between listing the groups and listing their members.
    pub fn remove_group_on_listing(&self, name: &str, nth: usize) {
        self.state().doomed_group = Some((name.into(), nth));
    }

    pub fn add_member(&self, group: &str, username: &str) {
        let mut state = self.state();
        if let Some(sub) = state.find(username).cloned() {
            state.members.entry(group.into()).or_default().insert(sub);
        }
    }

    pub fn remove_member(&self, group: &str, username: &str) {
        let mut state = self.state();
        if let Some(sub) = state.find(username).cloned()
            && let Some(members) = state.members.get_mut(group)
        {
            members.remove(&sub);
        }
    }

    pub fn set_mfa(&self, username: &str, settings: UserMfaSettings) {
        let mut state = self.state();
        if let Some(sub) = state.find(username).cloned()
            && let Some(user) = state.users.get_mut(&sub)
        {
            user.mfa_settings = Some(settings);
        }
    }

    /// Import jobs will reject the row of `username` with `reason`, as Cognito rejects rows it finds invalid.
    pub fn reject_in_import_jobs(&self, username: &str, reason: &str) {
        self.state().rejected_by_jobs.insert(username.into(), reason.into());
    }

    /// How many times `operation` (e.g. "get_user") was called.
    pub fn calls(&self, operation: &str) -> u64 {
        self.state().calls.get(operation).copied().unwrap_or(0)
    }

    pub fn fail_with(&self, error: PortError) {
        self.state().failure = Some(error);
    }

    /// The next `times` calls of `operation` (e.g. "list_users") fail with `error`.
    pub fn fail_next(&self, operation: &str, error: PortError, times: usize) {
        self.state().scripted.insert(operation.into(), (error, times));
    }

    /// Writes in the order they happened: `create_user`, `imported`, `enable`, `disable`, `add_to_group`.
    pub fn events(&self) -> Vec<(&'static str, String)> {
        self.state().events.clone()
    }

    pub fn heal(&self) {
        self.state().failure = None;
    }

    pub fn users(&self) -> Vec<PoolUser> {
        self.state().users.values().cloned().collect()
    }

    pub fn groups(&self) -> Vec<PoolGroup> {
        self.state().groups.values().cloned().collect()
    }

    pub fn members(&self, group: &str) -> Vec<String> {
        let state = self.state();
        state
            .members
            .get(group)
            .into_iter()
            .flatten()
            .filter_map(|s| state.users.get(s))
            .map(|u| u.username.clone())
            .collect()
    }

    /// Every call: the quota model's latency and buckets (when set), then scripted failures.
    async fn check(&self, op: PoolOperation) -> Result<std::sync::MutexGuard<'_, PoolState>, PortError> {
        if let Some(model) = &self.model {
            model.call(op.category()).await?;
        }
        let mut state = self.state();
        state.count(op.name());
        if let Some((error, left)) = state.scripted.get_mut(op.name())
            && *left > 0
        {
            *left -= 1;
            return Err(error.clone());
        }
        match &state.failure {
            Some(e) => Err(e.clone()),
            None => Ok(state),
        }
    }

    fn user_mut<'s>(state: &'s mut PoolState, name: &str) -> Result<&'s mut PoolUser, PortError> {
        let sub = state.find(name).cloned().ok_or_else(|| PortError::NotFound("User does not exist.".into()))?;
        state.users.get_mut(&sub).ok_or_else(|| PortError::NotFound("User does not exist.".into()))
    }

    /// Applies a job's rows as Cognito documents it (the rules that matter to the tests).
    fn apply_rows(state: &mut PoolState, csv: &[u8]) -> (i64, Vec<FailedRow>) {
        let text = String::from_utf8_lossy(csv).into_owned();
        let mut lines = text.lines();
        let header: Vec<String> = lines.next().unwrap_or_default().split(',').map(str::to_owned).collect();
        let mut failures = Vec::new();
        let mut imported = 0;
        for (n, line) in lines.enumerate() {
            let fail = |reason: String| FailedRow { line: n as u64 + 1, reason };
            let row = match csv_dialect::parse_row(&header, line) {
                Ok(row) => row,
                Err(e) => {
                    failures.push(fail(e));
                    continue;
                }
            };
            let username = row.get("cognito:username").cloned().unwrap_or_default();
            if let Some(reason) = state.rejected_by_jobs.get(&username) {
                failures.push(fail(reason.clone()));
                continue;
            }
            if state.find(&username).is_some() {
                failures.push(fail("A user with the same username already exists.".into()));
                continue;
            }
            let sub = state.new_sub();
            let mut attributes: BTreeMap<String, String> =
                row.into_iter().filter(|(k, v)| !k.starts_with("cognito:") && !v.is_empty()).collect();
            attributes.insert("sub".into(), sub.clone());
            let row_username = username.clone();
            let name = if state.snapshot.username_attributes.is_empty() { username } else { sub };
            state.events.push(("imported", row_username));
            state.insert(PoolUser {
                username: name,
                attributes,
                enabled: true,
                status: UserStatus::ResetRequired,
                ..Default::default()
            });
            imported += 1;
        }
        (imported, failures)
    }
}

#[async_trait]
impl UserPool for InMemoryUserPool {
    fn pool_id(&self) -> &str {
        &self.pool_id
    }

    async fn describe(&self) -> Result<PoolDescription, PortError> {
        let state = self.check(PoolOperation::Describe).await?;
        let estimated_users = (state.users.len() as i64 + state.estimate_offset).max(0) as u64;
        Ok(PoolDescription { snapshot: state.snapshot.clone(), estimated_users })
    }

    async fn list_users(&self, filter: Option<&UserFilter>, token: Option<&str>) -> Result<Page<PoolUser>, PortError> {
        let state = self.check(PoolOperation::ListUsers).await?;
        let size = self.page_size;
        // Ranges start after the token, so listing a large pool page by page stays linear.
        let after = |from: &str| -> (Bound<String>, Bound<String>) {
            match token {
                Some(t) if t >= from => (Bound::Excluded(t.to_owned()), Bound::Unbounded),
                _ => (Bound::Included(from.to_owned()), Bound::Unbounded),
            }
        };
        let cloned = |(k, u): (&String, &PoolUser)| (k.clone(), u.clone());
        Ok(match filter {
            None => page_after(state.users.range(after("")).map(cloned), token, size),
            Some(UserFilter::SubPrefix(p)) => page_after(
                state.users.range(after(p)).take_while(|(k, _)| k.starts_with(p.as_str())).map(cloned),
                token,
                size,
            ),
            Some(UserFilter::Sub(s)) => {
                page_after(state.users.get(s).map(|u| (s.clone(), u.clone())).into_iter(), token, size)
            }
            Some(UserFilter::Username(n)) => {
                page_after(state.users.iter().filter(|(_, u)| &u.username == n).map(cloned), token, size)
            }
            Some(UserFilter::Email(e)) => page_after(
                state.users.iter().filter(|(_, u)| u.attributes.get("email") == Some(e)).map(cloned),
                token,
                size,
            ),
        })
    }

    async fn list_groups(&self, token: Option<&str>) -> Result<Page<PoolGroup>, PortError> {
        let mut state = self.check(PoolOperation::ListGroups).await?;
        let page = page_after(state.groups.iter().map(|(k, g)| (k.clone(), g.clone())), token, self.page_size);
        if let Some((name, nth)) = state.doomed_group.clone()
            && page.items.iter().any(|g| g.name == name)
        {
            if nth <= 1 {
                state.groups.remove(&name);
                state.members.remove(&name);
                state.doomed_group = None;
            } else {
                state.doomed_group = Some((name, nth - 1));
            }
        }
        Ok(page)
    }

    async fn get_group(&self, name: &str) -> Result<Option<PoolGroup>, PortError> {
        let state = self.check(PoolOperation::GetGroup).await?;
        Ok(state.groups.get(name).cloned())
    }

    async fn list_users_in_group(&self, group: &str, token: Option<&str>) -> Result<Page<PoolUser>, PortError> {
        let state = self.check(PoolOperation::ListUsersInGroup).await?;
        if !state.groups.contains_key(group) {
            return Err(PortError::NotFound(format!("Group {group} not found.")));
        }
        let start = token.map_or(Bound::Unbounded, |t| Bound::Excluded(t.to_owned()));
        let members = state.members.get(group).into_iter().flat_map(|m| m.range((start.clone(), Bound::Unbounded)));
        Ok(page_after(
            members.filter_map(|s| state.users.get(s).map(|u| (s.clone(), u.clone()))),
            token,
            self.page_size,
        ))
    }

    async fn get_user(&self, username: &str) -> Result<Option<PoolUser>, PortError> {
        let state = self.check(PoolOperation::GetUser).await?;
        Ok(state.find(username).and_then(|sub| state.users.get(sub)).map(|u| {
            let mut u = u.clone();
            u.mfa_settings.get_or_insert_with(UserMfaSettings::default);
            u
        }))
    }

    async fn groups_of_user(&self, username: &str, token: Option<&str>) -> Result<Page<String>, PortError> {
        let state = self.check(PoolOperation::GroupsOfUser).await?;
        let sub = state.find(username).cloned().ok_or_else(|| PortError::NotFound("User does not exist.".into()))?;
        let groups = state.members.iter().filter(|(_, m)| m.contains(&sub)).map(|(g, _)| (g.clone(), g.clone()));
        Ok(page_after(groups, token, self.page_size))
    }
}

#[async_trait]
impl RestoreTarget for InMemoryUserPool {
    async fn csv_header(&self) -> Result<Vec<String>, PortError> {
        let state = self.check(PoolOperation::CsvHeader).await?;
        let mut header: Vec<String> = state
            .snapshot
            .schema
            .iter()
            .filter(|a| a.name != "sub" && a.name != "identities" && a.developer_only != Some(true))
            .map(|a| a.name.clone())
            .collect();
        header.extend(["cognito:mfa_enabled".to_string(), "cognito:username".to_string()]);
        Ok(header)
    }

    async fn create_group(&self, group: &PoolGroup) -> Result<Created, PortError> {
        let mut state = self.check(PoolOperation::CreateGroup).await?;
        if state.groups.contains_key(&group.name) {
            return Ok(Created::AlreadyExisted);
        }
        state.groups.insert(group.name.clone(), group.clone());
        Ok(Created::New)
    }

    async fn update_group(&self, group: &PoolGroup) -> Result<(), PortError> {
        let mut state = self.check(PoolOperation::UpdateGroup).await?;
        let existing =
            state.groups.get_mut(&group.name).ok_or_else(|| PortError::NotFound("Group not found.".into()))?;
        *existing = group.clone();
        Ok(())
    }

    async fn create_user(&self, username: &str, attributes: &BTreeMap<String, String>) -> Result<Created, PortError> {
        let mut state = self.check(PoolOperation::CreateUser).await?;
        if state.find(username).is_some() {
            return Ok(Created::AlreadyExisted);
        }
        let sub = state.new_sub();
        let name = if state.snapshot.username_attributes.is_empty() { username.to_owned() } else { sub.clone() };
        let mut attributes = attributes.clone();
        attributes.insert("sub".into(), sub);
        state.events.push(("create_user", username.to_owned()));
        state.insert(PoolUser {
            username: name,
            attributes,
            enabled: true,
            status: UserStatus::ForceChangePassword,
            ..Default::default()
        });
        Ok(Created::New)
    }

    async fn update_user_attributes(
        &self,
        username: &str,
        attributes: &BTreeMap<String, String>,
    ) -> Result<(), PortError> {
        let mut state = self.check(PoolOperation::UpdateUserAttributes).await?;
        let user = Self::user_mut(&mut state, username)?;
        user.attributes.extend(attributes.clone());
        let user = user.clone();
        state.index(&user);
        Ok(())
    }

    async fn set_enabled(&self, username: &str, enabled: bool) -> Result<(), PortError> {
        let mut state = self.check(PoolOperation::SetEnabled).await?;
        Self::user_mut(&mut state, username)?.enabled = enabled;
        state.events.push((if enabled { "enable" } else { "disable" }, username.to_owned()));
        Ok(())
    }

    async fn add_to_group(&self, username: &str, group: &str) -> Result<(), PortError> {
        let mut state = self.check(PoolOperation::AddToGroup).await?;
        let sub = state.find(username).cloned().ok_or_else(|| PortError::NotFound("User does not exist.".into()))?;
        if !state.groups.contains_key(group) {
            return Err(PortError::NotFound("Group not found.".into()));
        }
        state.members.entry(group.into()).or_default().insert(sub);
        state.events.push(("add_to_group", username.to_owned()));
        Ok(())
    }

    async fn create_import_job(&self, job_name: &str) -> Result<ImportJob, PortError> {
        let mut state = self.check(PoolOperation::CreateImportJob).await?;
        let job_id = format!("import-{}", state.jobs.len() + 1);
        let job = ImportJob {
            job_id: job_id.clone(),
            job_name: job_name.into(),
            status: ImportJobStatus::Created,
            imported: 0,
            skipped: 0,
            failed: 0,
            message: None,
            upload_url: Some(format!("memory://{job_id}")),
        };
        state.jobs.insert(job_id, Job { job: job.clone(), csv: None, failures: Vec::new(), finishes_at: None });
        Ok(job)
    }

    async fn upload_import_csv(&self, job: &ImportJob, csv: Vec<u8>) -> Result<(), PortError> {
        let mut state = self.state();
        let stored =
            state.jobs.get_mut(&job.job_id).ok_or_else(|| PortError::NotFound(format!("no job {}", job.job_id)))?;
        stored.csv = Some(csv);
        Ok(())
    }

    async fn start_import_job(&self, job_id: &str) -> Result<ImportJob, PortError> {
        let mut state = self.check(PoolOperation::StartImportJob).await?;
        let speed = state.import_users_per_second;
        let stored = state.jobs.get_mut(job_id).ok_or_else(|| PortError::NotFound(format!("no job {job_id}")))?;
        let csv = stored.csv.clone().ok_or_else(|| PortError::InvalidRequest("no CSV was uploaded".into()))?;
        match speed {
            Some(speed) => {
                let rows = String::from_utf8_lossy(&csv).lines().count().saturating_sub(1) as f64;
                let now = Instant::now();
                stored.finishes_at = Some((now, now + Duration::from_secs_f64(rows / speed)));
                stored.job.status = ImportJobStatus::InProgress;
                Ok(stored.job.clone())
            }
            None => {
                let (imported, failures) = Self::apply_rows(&mut state, &csv);
                let stored = state.jobs.get_mut(job_id).ok_or_else(|| PortError::NotFound(job_id.into()))?;
                stored.job.status = ImportJobStatus::Succeeded;
                stored.job.imported = imported;
                stored.job.failed = failures.len() as i64;
                stored.failures = failures;
                Ok(stored.job.clone())
            }
        }
    }

    async fn import_job(&self, job_id: &str) -> Result<ImportJob, PortError> {
        let mut state = self.check(PoolOperation::DescribeImportJob).await?;
        let stored = state.jobs.get(job_id).ok_or_else(|| PortError::NotFound(format!("no job {job_id}")))?;
        if let Some((started, finishes)) = stored.finishes_at
            && stored.job.status == ImportJobStatus::InProgress
        {
            let now = Instant::now();
            if now >= finishes {
                let csv = stored.csv.clone().unwrap_or_default();
                let (imported, failures) = Self::apply_rows(&mut state, &csv);
                let stored = state.jobs.get_mut(job_id).ok_or_else(|| PortError::NotFound(job_id.into()))?;
                stored.job.status = ImportJobStatus::Succeeded;
                stored.job.imported = imported;
                stored.job.failed = failures.len() as i64;
                stored.failures = failures;
            } else {
                let rows = String::from_utf8_lossy(stored.csv.as_deref().unwrap_or_default())
                    .lines()
                    .count()
                    .saturating_sub(1);
                let share = (now - started).as_secs_f64() / (finishes - started).as_secs_f64().max(0.001);
                let job = &mut state.jobs.get_mut(job_id).ok_or_else(|| PortError::NotFound(job_id.into()))?.job;
                job.imported = (rows as f64 * share) as i64;
            }
        }
        Ok(state.jobs[job_id].job.clone())
    }

    async fn import_job_failures(&self, job: &ImportJob) -> Result<Vec<FailedRow>, PortError> {
        Ok(self.state().jobs.get(&job.job_id).map(|j| j.failures.clone()).unwrap_or_default())
    }
}
