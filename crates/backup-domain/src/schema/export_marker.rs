use serde::{Deserialize, Serialize};

/// Written last by a successful export (`pk = EXPORT`, `sk = LATEST`): when, what, how much, and the
/// counts of the runs before it (the clean-up's guard compares with more than the last run).
///
/// It has no `lastConfirmedAt`, so no clean-up ever removes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportMarkerItem {
    pub schema_version: u32,
    pub export_run_id: String,
    pub pool_id: String,
    /// When the run started (epoch ms): it saw every item in the backup that was not removed.
    pub export_timestamp: i64,
    pub finished_at: i64,
    pub duration_seconds: f64,
    pub counts: ExportCounts,
    /// The pool's own `EstimatedNumberOfUsers` at the start and the end of the run.
    #[serde(default)]
    pub estimate: UserEstimate,
    /// DynamoDB capacity the run consumed.
    #[serde(default)]
    pub capacity: Capacity,
    pub unresolved_pseudo_usernames: UnresolvedUsers,
    /// This run and the successful runs before it, most recent first (at most [`RunCounts::KEPT`]).
    #[serde(default)]
    pub history: Vec<RunCounts>,
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
    /// Items written because they were new or changed (an unchanged item is not rewritten).
    #[serde(default)]
    pub written_items: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserEstimate {
    pub at_start: u64,
    pub at_end: u64,
}

/// Read and write capacity units, as DynamoDB reports them (`ReturnConsumedCapacity`).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Capacity {
    pub read_units: f64,
    pub write_units: f64,
}

impl std::ops::AddAssign for Capacity {
    fn add_assign(&mut self, o: Capacity) {
        self.read_units += o.read_units;
        self.write_units += o.write_units;
    }
}

/// What one successful run counted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RunCounts {
    pub export_run_id: String,
    pub finished_at: i64,
    pub users: u64,
    pub groups: u64,
    pub memberships: u64,
}

impl RunCounts {
    pub const KEPT: usize = 10;
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
