//! The simulated pool: confirmed users with a verified email (the CSV import path), each in one group,
//! with `sub`s shaped as Cognito issues them.

use backup_domain::memory::InMemoryUserPool;
use backup_domain::schema::{PoolSnapshot, SchemaAttribute};

use crate::Settings;

/// How the pool's `sub`s are distributed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SubShape {
    /// Random UUIDs: the first hex digit spreads users evenly.
    Uuid4,
    /// Time-ordered UUIDs, as new pools issue: users created over two years share their first digits.
    Uuidv7,
}

const TWO_YEARS_MS: u64 = 2 * 365 * 24 * 3600 * 1000;
const CREATED_FROM_MS: u64 = 1_730_000_000_000;

fn mix(i: u64) -> u128 {
    (u128::from(i) + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15_F39C_C060_5CED_C835)
}

/// The `i`-th user's sub among `n`.
pub fn sub(shape: SubShape, i: usize, n: usize) -> String {
    let random = mix(i as u64);
    let hex = match shape {
        SubShape::Uuid4 => format!("{:032x}", (random & !(0xF << 76) & !(0x3 << 62)) | (0x4 << 76) | (0x2 << 62)),
        SubShape::Uuidv7 => {
            let created = CREATED_FROM_MS + TWO_YEARS_MS * i as u64 / n.max(1) as u64;
            let rand = random & ((1u128 << 80) - 1);
            format!("{:012x}7{:03x}{:016x}", created, (rand >> 64) & 0xFFF, (rand as u64 & !(0x3 << 62)) | (0x2 << 62))
        }
    };
    format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
}

pub fn schema(s: &mut PoolSnapshot) {
    let attr = |n: &str| SchemaAttribute { name: n.into(), mutable: Some(n != "sub"), ..Default::default() };
    s.schema = ["sub", "email", "email_verified", "given_name", "custom:tier"].map(attr).to_vec();
    s.auto_verified_attributes = vec!["email".into()];
}

/// Fills the pool; returns the number of memberships.
pub fn fill(pool: &InMemoryUserPool, settings: &Settings) -> u64 {
    pool.configure(schema);
    let n = settings.users;
    pool.add_users(n, |i, u| {
        u.username = format!("user-{i:07}");
        u.attributes.insert("sub".into(), sub(settings.subs, i, n));
        u.attributes.insert("email".into(), format!("user{i}@example.com"));
        u.attributes.insert("given_name".into(), format!("Given {i}"));
        u.attributes.insert("custom:tier".into(), ["gold", "silver", "bronze"][i % 3].into());
    });
    let per_group = settings.users_per_group.max(1);
    let groups = n.div_ceil(per_group);
    pool.add_groups(groups);
    for i in 0..n {
        pool.add_member(&format!("group-{:04}", i / per_group), &format!("user-{i:07}"));
    }
    n as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subs_are_uuids_of_their_version_and_v7_ones_share_their_first_digits() {
        let n = 1000;
        for shape in [SubShape::Uuid4, SubShape::Uuidv7] {
            let subs: std::collections::BTreeSet<String> = (0..n).map(|i| sub(shape, i, n)).collect();
            assert_eq!(subs.len(), n, "unique");
            for s in &subs {
                assert_eq!(s.len(), 36);
                let version = if shape == SubShape::Uuid4 { '4' } else { '7' };
                assert_eq!(s.chars().nth(14), Some(version), "{s}");
                assert!("89ab".contains(s.chars().nth(19).unwrap_or('x')), "{s}");
            }
        }
        let first: std::collections::BTreeSet<char> =
            (0..n).filter_map(|i| sub(SubShape::Uuidv7, i, n).chars().next()).collect();
        assert_eq!(first.len(), 1, "time-ordered subs share their first digit");
        let first: std::collections::BTreeSet<char> =
            (0..n).filter_map(|i| sub(SubShape::Uuid4, i, n).chars().next()).collect();
        assert_eq!(first.len(), 16);
    }
}
