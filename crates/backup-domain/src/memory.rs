//! In-memory adapters of the ports, for unit tests of the workflow steps.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;

use crate::ports::{
    BackupStore, Notifier, Page, PoolGroup, PoolUser, PortError, RunningExecution, ScanSegment, StaleItem, UserPool,
    WorkflowExecutions,
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
        // Like DynamoDB, a page covers `page_size` scanned items, matching or not.
        let scanned: Vec<(&ItemKey, &BackupItem)> = map
            .iter()
            .filter(|(k, _)| segment_of(k, segment.total) == segment.index)
            .filter(|(k, _)| start.as_ref().is_none_or(|s| *k > s))
            .take(self.page_size)
            .collect();
        let next = (scanned.len() == self.page_size).then(|| scanned[scanned.len() - 1].0.clone());
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
