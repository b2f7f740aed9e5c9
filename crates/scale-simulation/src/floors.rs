//! The floors: how long the work would take if every call ran at its budget, the ideal the workflows are
//! measured against.

use std::collections::BTreeMap;

use backup_domain::memory::CategoryCalls;
use backup_domain::rate::QuotaCategory;
use backup_domain::settings::QuotaSettings;

/// Calls per second the workflows may make in `category`: their share of its quota.
pub fn budget(category: QuotaCategory, quota: QuotaSettings) -> f64 {
    category.pool_rps() * quota.share * quota.scale
}

/// ListUsers and ListUsersInGroup calls an export needs (60 users per page), over the UserList budget.
pub fn export_seconds(users: u64, group_sizes: impl Iterator<Item = u64>, quota: QuotaSettings) -> f64 {
    let pages = users.div_ceil(60) + group_sizes.map(|m| m.div_ceil(60)).sum::<u64>();
    pages as f64 / budget(QuotaCategory::UserList, quota)
}

/// Seconds each category's calls need at its budget, and the CSV import jobs at their speed; the largest
/// bounds the restore, since its phases run side by side.
pub fn restore_seconds(
    calls: &BTreeMap<QuotaCategory, CategoryCalls>,
    csv_rows: u64,
    import_users_per_second: f64,
    quota: QuotaSettings,
) -> BTreeMap<String, f64> {
    let mut floors: BTreeMap<String, f64> =
        calls.iter().map(|(c, n)| (c.name().to_owned(), n.allowed as f64 / budget(*c, quota))).collect();
    floors.insert("CsvImportJobs".into(), csv_rows as f64 / import_users_per_second.max(0.001));
    floors
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_export_floor_counts_every_page_of_users_and_members() {
        let q = QuotaSettings { share: 0.5, scale: 1.0 };
        assert_eq!(export_seconds(900, std::iter::empty(), q), 1.0, "15 pages at 15 calls/s");
        assert_eq!(export_seconds(900, [61, 1].into_iter(), q), 18.0 / 15.0);
    }

    #[test]
    fn the_restore_floor_is_per_category() {
        let q = QuotaSettings { share: 0.5, scale: 2.0 };
        let calls = BTreeMap::from([(QuotaCategory::UserResourceUpdate, CategoryCalls { allowed: 250, throttled: 9 })]);
        let floors = restore_seconds(&calls, 340, 34.0, q);
        assert_eq!(floors["UserResourceUpdate"], 10.0, "250 calls at 25 calls/s");
        assert_eq!(floors["CsvImportJobs"], 10.0);
    }
}
