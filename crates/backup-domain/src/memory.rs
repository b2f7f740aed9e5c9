//! In-memory adapters of the ports, for unit tests of the workflow steps.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;

use crate::import::csv_dialect;
use crate::ports::{
    BackupStore, Created, FailedRow, ImportJob, LedgerEntry, Notifier, Page, PoolGroup, PoolUser, PortError,
    ReportSink, RestoreLedger, RestoreTarget, RunningExecution, ScanSegment, StaleItem, UserPool, WorkflowExecutions,
};
use crate::schema::{BackupItem, ItemKey, ItemType, PoolSnapshot, UserMfaSettings};

fn offset(token: Option<&str>) -> usize {
    token.and_then(|t| t.parse().ok()).unwrap_or(0)
}

fn page_of<T: Clone>(all: &[T], token: Option<&str>, size: usize) -> Page<T> {
    let start = offset(token).min(all.len());
    let end = (start + size).min(all.len());
    Page { items: all[start..end].to_vec(), next: (end < all.len()).then(|| end.to_string()) }
}

#[derive(Default)]
struct PoolState {
    snapshot: PoolSnapshot,
    users: Vec<PoolUser>,
    groups: Vec<PoolGroup>,
    members: BTreeMap<String, Vec<String>>,
    mfa: BTreeMap<String, UserMfaSettings>,
    mfa_reads: usize,
    failure: Option<PortError>,
    jobs: BTreeMap<String, (ImportJob, Vec<FailedRow>)>,
    created_subs: usize,
    rejected_by_jobs: BTreeMap<String, String>,
}

/// A user pool held in memory, paging like Cognito (offset tokens, configurable page size).
pub struct InMemoryUserPool {
    pool_id: String,
    page_size: usize,
    state: Mutex<PoolState>,
}

impl InMemoryUserPool {
    pub fn new(pool_id: &str) -> Self {
        let snapshot = PoolSnapshot { pool_id: pool_id.into(), mfa_configuration: "OFF".into(), ..Default::default() };
        Self { pool_id: pool_id.into(), page_size: 60, state: Mutex::new(PoolState { snapshot, ..Default::default() }) }
    }

    pub fn with_page_size(mut self, size: usize) -> Self {
        self.page_size = size;
        self
    }

    fn state(&self) -> std::sync::MutexGuard<'_, PoolState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn configure(&self, f: impl FnOnce(&mut PoolSnapshot)) {
        f(&mut self.state().snapshot);
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
                status: "CONFIRMED".into(),
                ..Default::default()
            };
            f(i, &mut user);
            state.users.push(user);
        }
    }

    pub fn add_groups(&self, n: usize) {
        let mut state = self.state();
        let base = state.groups.len();
        for i in base..base + n {
            state.groups.push(PoolGroup {
                name: format!("group-{i:04}"),
                description: Some(format!("Group number {i}")),
                precedence: Some(i as i32),
                role_arn: Some(format!("arn:aws:iam::123456789012:role/group-{i}")),
                ..Default::default()
            });
        }
    }

    pub fn add_member(&self, group: &str, username: &str) {
        self.state().members.entry(group.into()).or_default().push(username.into());
    }

    pub fn set_mfa(&self, username: &str, settings: UserMfaSettings) {
        self.state().mfa.insert(username.into(), settings);
    }

    /// Import jobs will reject the row of `username` with `reason`, as Cognito rejects rows it finds invalid.
    pub fn reject_in_import_jobs(&self, username: &str, reason: &str) {
        self.state().rejected_by_jobs.insert(username.into(), reason.into());
    }

    /// How many times `user_mfa` was called.
    pub fn mfa_reads(&self) -> usize {
        self.state().mfa_reads
    }

    pub fn fail_with(&self, error: PortError) {
        self.state().failure = Some(error);
    }

    pub fn users(&self) -> Vec<PoolUser> {
        self.state().users.clone()
    }

    pub fn groups(&self) -> Vec<PoolGroup> {
        self.state().groups.clone()
    }

    fn new_sub(state: &mut PoolState) -> String {
        state.created_subs += 1;
        format!("{:08x}-0000-4000-8000-{:012x}", state.created_subs, state.users.len())
    }

    /// Finds a user by username or, in pools whose users sign in with them, by email or phone.
    fn find(state: &PoolState, name: &str) -> Option<usize> {
        state.users.iter().position(|u| {
            u.username == name || state.snapshot.username_attributes.iter().any(|a| u.attributes.get(a).is_some_and(|v| v == name))
        })
    }

    fn check(&self) -> Result<(), PortError> {
        match &self.state().failure {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }
}

#[async_trait]
impl UserPool for InMemoryUserPool {
    fn pool_id(&self) -> &str {
        &self.pool_id
    }

    async fn describe(&self) -> Result<PoolSnapshot, PortError> {
        self.check()?;
        Ok(self.state().snapshot.clone())
    }

    async fn list_users(&self, sub_prefix: Option<&str>, token: Option<&str>) -> Result<Page<PoolUser>, PortError> {
        self.check()?;
        let users: Vec<PoolUser> = self
            .state()
            .users
            .iter()
            .filter(|u| sub_prefix.is_none_or(|p| u.sub().is_some_and(|s| s.starts_with(p))))
            .cloned()
            .collect();
        Ok(page_of(&users, token, self.page_size))
    }

    async fn list_groups(&self, token: Option<&str>) -> Result<Page<PoolGroup>, PortError> {
        self.check()?;
        Ok(page_of(&self.state().groups, token, self.page_size))
    }

    async fn list_users_in_group(&self, group: &str, token: Option<&str>) -> Result<Page<PoolUser>, PortError> {
        self.check()?;
        let state = self.state();
        if !state.groups.iter().any(|g| g.name == group) {
            return Err(PortError::NotFound(format!("group {group} does not exist")));
        }
        let members: Vec<PoolUser> = state
            .members
            .get(group)
            .into_iter()
            .flatten()
            .filter_map(|name| state.users.iter().find(|u| &u.username == name).cloned())
            .collect();
        Ok(page_of(&members, token, self.page_size))
    }

    async fn user_mfa(&self, username: &str) -> Result<UserMfaSettings, PortError> {
        self.check()?;
        let mut state = self.state();
        state.mfa_reads += 1;
        if !state.users.iter().any(|u| u.username == username) {
            return Err(PortError::NotFound("user does not exist".into()));
        }
        Ok(state.mfa.get(username).cloned().unwrap_or_default())
    }
}

#[async_trait]
impl RestoreTarget for InMemoryUserPool {
    async fn csv_header(&self) -> Result<Vec<String>, PortError> {
        self.check()?;
        let state = self.state();
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
        self.check()?;
        let mut state = self.state();
        if state.groups.iter().any(|g| g.name == group.name) {
            return Ok(Created::AlreadyExisted);
        }
        state.groups.push(group.clone());
        Ok(Created::New)
    }

    async fn get_group(&self, name: &str) -> Result<Option<PoolGroup>, PortError> {
        self.check()?;
        Ok(self.state().groups.iter().find(|g| g.name == name).cloned())
    }

    async fn update_group(&self, group: &PoolGroup) -> Result<(), PortError> {
        self.check()?;
        let mut state = self.state();
        let existing = state.groups.iter_mut().find(|g| g.name == group.name).ok_or_else(|| PortError::NotFound("no such group".into()))?;
        *existing = group.clone();
        Ok(())
    }

    async fn create_user(&self, username: &str, attributes: &BTreeMap<String, String>) -> Result<Created, PortError> {
        self.check()?;
        let mut state = self.state();
        if Self::find(&state, username).is_some() {
            return Ok(Created::AlreadyExisted);
        }
        let sub = Self::new_sub(&mut state);
        let name = if state.snapshot.username_attributes.is_empty() { username.to_owned() } else { sub.clone() };
        let mut attributes = attributes.clone();
        attributes.insert("sub".into(), sub);
        state.users.push(PoolUser { username: name, attributes, enabled: true, status: "FORCE_CHANGE_PASSWORD".into(), ..Default::default() });
        Ok(Created::New)
    }

    async fn update_user_attributes(&self, username: &str, attributes: &BTreeMap<String, String>) -> Result<(), PortError> {
        self.check()?;
        let mut state = self.state();
        let i = Self::find(&state, username).ok_or_else(|| PortError::NotFound("User does not exist.".into()))?;
        state.users[i].attributes.extend(attributes.clone());
        Ok(())
    }

    async fn get_user(&self, username: &str) -> Result<Option<PoolUser>, PortError> {
        self.check()?;
        let state = self.state();
        Ok(Self::find(&state, username).map(|i| state.users[i].clone()))
    }

    async fn set_enabled(&self, username: &str, enabled: bool) -> Result<(), PortError> {
        self.check()?;
        let mut state = self.state();
        let i = Self::find(&state, username).ok_or_else(|| PortError::NotFound("User does not exist.".into()))?;
        state.users[i].enabled = enabled;
        Ok(())
    }

    async fn add_to_group(&self, username: &str, group: &str) -> Result<(), PortError> {
        self.check()?;
        let mut state = self.state();
        let i = Self::find(&state, username).ok_or_else(|| PortError::NotFound("User does not exist.".into()))?;
        if !state.groups.iter().any(|g| g.name == group) {
            return Err(PortError::NotFound("Group not found.".into()));
        }
        let name = state.users[i].username.clone();
        let members = state.members.entry(group.into()).or_default();
        if !members.contains(&name) {
            members.push(name);
        }
        Ok(())
    }

    /// Runs the job at once, with the documented row rules that matter to the tests.
    async fn start_import_job(&self, job_name: &str, csv: Vec<u8>) -> Result<ImportJob, PortError> {
        self.check()?;
        let text = String::from_utf8(csv).map_err(|e| PortError::InvalidRequest(e.to_string()))?;
        let mut lines = text.lines();
        let header: Vec<String> = lines.next().unwrap_or_default().split(',').map(str::to_owned).collect();
        let mut state = self.state();
        let mut failures = Vec::new();
        let mut imported = 0;
        for (n, line) in lines.enumerate() {
            let row = match csv_dialect::parse_row(&header, line) {
                Ok(row) => row,
                Err(e) => {
                    failures.push(FailedRow { line: n as u64 + 1, reason: e });
                    continue;
                }
            };
            let username = row.get("cognito:username").cloned().unwrap_or_default();
            if let Some(reason) = state.rejected_by_jobs.get(&username) {
                failures.push(FailedRow { line: n as u64 + 1, reason: reason.clone() });
                continue;
            }
            if Self::find(&state, &username).is_some() {
                failures.push(FailedRow { line: n as u64 + 1, reason: "A user with the same username already exists.".into() });
                continue;
            }
            let sub = Self::new_sub(&mut state);
            let mut attributes: BTreeMap<String, String> =
                row.into_iter().filter(|(k, v)| !k.starts_with("cognito:") && !v.is_empty()).collect();
            attributes.insert("sub".into(), sub.clone());
            let name = if state.snapshot.username_attributes.is_empty() { username } else { sub };
            state.users.push(PoolUser { username: name, attributes, enabled: true, status: "RESET_REQUIRED".into(), ..Default::default() });
            imported += 1;
        }
        let job = ImportJob {
            job_id: format!("import-{}", state.jobs.len() + 1),
            job_name: job_name.into(),
            status: "Succeeded".into(),
            imported,
            skipped: 0,
            failed: failures.len() as i64,
            message: None,
        };
        state.jobs.insert(job.job_id.clone(), (job.clone(), failures));
        Ok(job)
    }

    async fn import_job(&self, job_id: &str) -> Result<ImportJob, PortError> {
        self.state().jobs.get(job_id).map(|(j, _)| j.clone()).ok_or_else(|| PortError::NotFound(format!("no job {job_id}")))
    }

    async fn import_job_failures(&self, job: &ImportJob) -> Result<Vec<FailedRow>, PortError> {
        Ok(self.state().jobs.get(&job.job_id).map(|(_, f)| f.clone()).unwrap_or_default())
    }
}

/// A backup table held in memory; scans page by `page_size` items.
pub struct InMemoryStore {
    items: Mutex<BTreeMap<ItemKey, BackupItem>>,
    page_size: usize,
}

impl Default for InMemoryStore {
    fn default() -> Self {
        Self { items: Mutex::default(), page_size: 100 }
    }
}

impl InMemoryStore {
    pub fn with_page_size(mut self, size: usize) -> Self {
        self.page_size = size;
        self
    }

    fn items(&self) -> std::sync::MutexGuard<'_, BTreeMap<ItemKey, BackupItem>> {
        self.items.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn item(&self, key: &ItemKey) -> Option<BackupItem> {
        self.items().get(key).cloned()
    }

    /// One page of a scan segment: like DynamoDB, a page covers `page_size` scanned items, matching or not.
    fn scan_page<'m>(
        &self,
        map: &'m BTreeMap<ItemKey, BackupItem>,
        segment: ScanSegment,
        start: Option<ItemKey>,
    ) -> (Vec<(&'m ItemKey, &'m BackupItem)>, Option<ItemKey>) {
        let scanned: Vec<(&ItemKey, &BackupItem)> = map
            .iter()
            .filter(|(k, _)| segment_of(k, segment.total) == segment.index)
            .filter(|(k, _)| start.as_ref().is_none_or(|s| *k > s))
            .take(self.page_size)
            .collect();
        let next = (scanned.len() == self.page_size).then(|| scanned[scanned.len() - 1].0.clone());
        (scanned, next)
    }

    pub fn count(&self, item_type: ItemType) -> usize {
        self.items().values().filter(|i| i.item_type() == item_type).count()
    }
}

/// `lastConfirmedAt` of an item, if it has one.
pub fn last_confirmed(item: &BackupItem) -> Option<i64> {
    match item {
        BackupItem::User(i) => Some(i.confirmed.last_confirmed_at),
        BackupItem::Group(i) => Some(i.confirmed.last_confirmed_at),
        BackupItem::Membership(i) => Some(i.confirmed.last_confirmed_at),
        BackupItem::PoolSnapshot(i) => Some(i.confirmed.last_confirmed_at),
        BackupItem::ExportMarker(_) => None,
    }
}

fn segment_of(key: &ItemKey, total: u32) -> u32 {
    key.pk.bytes().chain(key.sk.bytes()).map(u32::from).sum::<u32>() % total.max(1)
}

#[async_trait]
impl BackupStore for InMemoryStore {
    async fn put_all(&self, items: &[BackupItem]) -> Result<(), PortError> {
        let mut map = self.items();
        for item in items {
            map.insert(item.key(), item.clone());
        }
        Ok(())
    }

    async fn get(&self, key: &ItemKey) -> Result<Option<BackupItem>, PortError> {
        Ok(self.item(key))
    }

    async fn scan_confirmed_before(
        &self,
        before: i64,
        segment: ScanSegment,
        start: Option<ItemKey>,
    ) -> Result<Page<StaleItem, ItemKey>, PortError> {
        let map = self.items();
        let (scanned, next) = self.scan_page(&map, segment, start);
        let items = scanned
            .into_iter()
            .filter(|(_, item)| last_confirmed(item).is_some_and(|t| t < before))
            .map(|(key, item)| StaleItem { key: key.clone(), item_type: Some(item.item_type()) })
            .collect();
        Ok(Page { items, next })
    }

    async fn delete_if_confirmed_before(&self, key: &ItemKey, before: i64) -> Result<bool, PortError> {
        let mut map = self.items();
        if map.get(key).and_then(last_confirmed).is_some_and(|t| t < before) {
            map.remove(key);
            return Ok(true);
        }
        Ok(false)
    }

    async fn scan_items(&self, segment: ScanSegment, start: Option<ItemKey>) -> Result<Page<BackupItem, ItemKey>, PortError> {
        let map = self.items();
        let (scanned, next) = self.scan_page(&map, segment, start);
        Ok(Page { items: scanned.into_iter().map(|(_, i)| i.clone()).collect(), next })
    }

    async fn get_many(&self, keys: &[ItemKey]) -> Result<Vec<BackupItem>, PortError> {
        let map = self.items();
        Ok(keys.iter().filter_map(|k| map.get(k).cloned()).collect())
    }

    async fn partition(&self, pk: &str) -> Result<Vec<BackupItem>, PortError> {
        Ok(self.items().iter().filter(|(k, _)| k.pk == pk).map(|(_, i)| i.clone()).collect())
    }
}

/// A restore ledger held in memory.
#[derive(Default)]
pub struct InMemoryLedger {
    entries: Mutex<BTreeMap<(String, String), LedgerEntry>>,
}

impl InMemoryLedger {
    pub fn all(&self) -> Vec<LedgerEntry> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner()).values().cloned().collect()
    }
}

#[async_trait]
impl RestoreLedger for InMemoryLedger {
    async fn record(&self, entries: &[LedgerEntry]) -> Result<(), PortError> {
        let mut map = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        for e in entries {
            map.insert((e.target_pool_id.clone(), e.username.clone()), e.clone());
        }
        Ok(())
    }

    async fn by_usernames(&self, target_pool_id: &str, usernames: &[String]) -> Result<Vec<LedgerEntry>, PortError> {
        let map = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        Ok(usernames.iter().filter_map(|u| map.get(&(target_pool_id.to_owned(), u.clone())).cloned()).collect())
    }

    async fn entries(&self, target_pool_id: &str, start: Option<String>) -> Result<Page<LedgerEntry>, PortError> {
        let map = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let all: Vec<LedgerEntry> = map
            .values()
            .filter(|e| e.target_pool_id == target_pool_id)
            .filter(|e| start.as_ref().is_none_or(|s| e.username > *s))
            .take(50)
            .cloned()
            .collect();
        let next = (all.len() == 50).then(|| all[49].username.clone());
        Ok(Page { items: all, next })
    }
}

/// Keeps reports in memory.
#[derive(Default)]
pub struct InMemoryReports {
    objects: Mutex<BTreeMap<String, Vec<u8>>>,
}

impl InMemoryReports {
    pub fn objects(&self) -> BTreeMap<String, Vec<u8>> {
        self.objects.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

#[async_trait]
impl ReportSink for InMemoryReports {
    async fn put(&self, key: &str, _content_type: &str, body: Vec<u8>) -> Result<String, PortError> {
        self.objects.lock().unwrap_or_else(|p| p.into_inner()).insert(key.into(), body);
        Ok(format!("memory://{key}"))
    }
}

/// Records what was published.
#[derive(Default)]
pub struct RecordingNotifier {
    sent: Mutex<Vec<(String, String)>>,
}

impl RecordingNotifier {
    pub fn messages(&self) -> Vec<(String, String)> {
        self.sent.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

#[async_trait]
impl Notifier for RecordingNotifier {
    async fn publish(&self, subject: &str, message: &str) -> Result<(), PortError> {
        self.sent.lock().unwrap_or_else(|p| p.into_inner()).push((subject.into(), message.into()));
        Ok(())
    }
}

/// A fixed list of running executions.
pub struct FixedExecutions(pub Vec<RunningExecution>);

#[async_trait]
impl WorkflowExecutions for FixedExecutions {
    async fn running(&self, _state_machine_arn: &str) -> Result<Vec<RunningExecution>, PortError> {
        Ok(self.0.clone())
    }
}
