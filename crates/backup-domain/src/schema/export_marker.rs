use serde::{Deserialize, Serialize};

/// Written last by a successful export (`pk = EXPORT`, `sk = LATEST`): when, what and how much.
///
/// It has no `lastConfirmedAt`, so no clean-up ever removes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportMarkerItem {
    pub schema_version: u32,
    pub export_run_id: String,
    pub pool_id: String,
    /// The run's export timestamp: every item it confirmed has this `lastConfirmedAt`.
    pub export_timestamp: i64,
    pub finished_at: i64,
    pub duration_seconds: f64,
    pub counts: ExportCounts,
    pub unresolved_pseudo_usernames: UnresolvedUsers,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportCounts {
    pub users: u64,
    pub federated_users: u64,
    pub disabled_users: u64,
    pub users_without_sub: u64,
    pub groups: u64,
    pub memberships: u64,
    pub removed_users: u64,
    pub removed_groups: u64,
    pub removed_memberships: u64,
}

/// Users whose pseudo-username could not be derived, by `sub` only (never personal data).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UnresolvedUsers {
    pub count: u64,
    /// At most [`UnresolvedUsers::LISTED`] subs; all such user items carry no `pseudoUsername`.
    pub subs: Vec<String>,
}

impl UnresolvedUsers {
    pub const LISTED: usize = 100;

    pub fn add(&mut self, sub: &str) {
        self.count += 1;
        if self.subs.len() < Self::LISTED {
            self.subs.push(sub.to_owned());
        }
    }

    pub fn merge(&mut self, other: UnresolvedUsers) {
        self.count += other.count;
        for sub in other.subs {
            if self.subs.len() < Self::LISTED {
                self.subs.push(sub);
            }
        }
    }
}
