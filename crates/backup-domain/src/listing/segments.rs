//! How the user listing is split so it runs at the rate budget rather than at one call's latency.
//!
//! ListUsers filters only by prefix (`sub ^= "…"`). The listing starts with the whole pool; when one of
//! a segment's first pages shows it has more pages and more parallel listings are wanted, it is split into
//! one child per possible next character of `sub`: the hex digits, plus every character seen at that
//! position in the page (so upper-case or non-hex subs are not dropped), plus an exact-match segment if a
//! sub equals the prefix itself. uuid4 pools split once; UUIDv7 pools, whose leading characters encode
//! the creation time, split again wherever a child is still large, so both run at the budget. A sub
//! with a character no sample showed would be missed: the completeness check compares the count with the
//! pool's own estimate and falls back to a full listing when they disagree.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::ports::UserFilter;
use crate::schema::UnresolvedUsers;
use crate::step::Listing;

const HEX_DIGITS: &str = "0123456789abcdef";
/// Subs are 36 characters; a prefix this long cannot be split further.
const MAX_PREFIX_CHARS: usize = 36;

/// What one listing segment counted: kept per segment, so a segment that restarts (its pagination
/// token expired) or is split counts its users once.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserCounts {
    pub users: u64,
    pub federated: u64,
    pub disabled: u64,
    pub without_sub: u64,
    pub unresolved_pseudo_usernames: UnresolvedUsers,
}

impl UserCounts {
    pub fn add(&mut self, other: UserCounts) {
        self.users += other.users;
        self.federated += other.federated;
        self.disabled += other.disabled;
        self.without_sub += other.without_sub;
        self.unresolved_pseudo_usernames.merge(other.unresolved_pseudo_usernames);
    }
}

/// One ListUsers listing: the whole pool, the subs starting with a prefix, or one exact sub.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserSegment {
    /// `None` lists the whole pool.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// Lists only the user whose sub equals `prefix`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub exact: bool,
    /// May be split after its first page.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub splittable: bool,
    #[serde(flatten)]
    pub listing: Listing,
    #[serde(default)]
    pub pages: u64,
    #[serde(default)]
    pub counts: UserCounts,
}

impl UserSegment {
    /// The whole pool; splittable unless the listing is to stay sequential.
    pub fn whole_pool(splittable: bool) -> Self {
        Self { splittable, ..Default::default() }
    }

    pub fn filter(&self) -> Option<UserFilter> {
        self.prefix
            .as_ref()
            .map(|p| if self.exact { UserFilter::Sub(p.clone()) } else { UserFilter::SubPrefix(p.clone()) })
    }

    /// Starts the segment's listing again from its first page, forgetting what it counted.
    pub fn restart(&mut self) {
        self.listing = Listing::default();
        self.pages = 0;
        self.counts = UserCounts::default();
    }

    /// The segments covering this one's subs, one character longer, using the subs of a page it listed
    /// to learn which characters occur.
    pub fn split(&self, sample: &[String]) -> Vec<UserSegment> {
        let prefix = self.prefix.clone().unwrap_or_default();
        let position = prefix.chars().count();
        let mut next: BTreeSet<char> = HEX_DIGITS.chars().collect();
        let mut exact = false;
        for sub in sample.iter().filter(|s| s.starts_with(&prefix)) {
            match sub.chars().nth(position) {
                Some(c) => {
                    next.insert(c);
                }
                None => exact = true,
            }
        }
        let splittable = position + 1 < MAX_PREFIX_CHARS;
        let mut children: Vec<UserSegment> = next
            .into_iter()
            .map(|c| UserSegment { prefix: Some(format!("{prefix}{c}")), splittable, ..Default::default() })
            .collect();
        if exact && !prefix.is_empty() {
            children.push(UserSegment { prefix: Some(prefix), exact: true, ..Default::default() });
        }
        children
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn user(sub: &str) -> String {
        sub.to_owned()
    }

    /// Which segments would list a sub (a filter `^=` is a prefix match, `=` an exact one).
    fn covering<'a>(segments: &'a [UserSegment], sub: &str) -> Vec<&'a UserSegment> {
        segments
            .iter()
            .filter(|s| match (&s.prefix, s.exact) {
                (None, _) => true,
                (Some(p), true) => sub == p,
                (Some(p), false) => sub.starts_with(p.as_str()),
            })
            .collect()
    }

    #[test]
    fn the_whole_pool_splits_into_hex_digits_and_the_characters_seen() {
        let children = UserSegment::whole_pool(true).split(&[user("0190abcd"), user("Zeta-1")]);
        let prefixes: Vec<&str> = children.iter().filter_map(|c| c.prefix.as_deref()).collect();
        assert_eq!(prefixes.len(), 17, "{prefixes:?}");
        assert!(prefixes.contains(&"Z") && prefixes.contains(&"0") && prefixes.contains(&"f"));
    }

    #[test]
    fn a_sub_equal_to_the_prefix_gets_an_exact_segment() {
        let parent = UserSegment { prefix: Some("ab".into()), splittable: true, ..Default::default() };
        let children = parent.split(&[user("ab"), user("abc")]);
        assert!(children.iter().any(|c| c.exact && c.prefix.as_deref() == Some("ab")));
        assert_eq!(covering(&children, "ab").len(), 1);
    }

    proptest! {
        /// Every sub of the sample, and every lower-case hex sub of the parent, is listed by exactly one
        /// child: splitting never drops or duplicates a user the sample could reveal.
        #[test]
        fn children_cover_each_sub_exactly_once(
            prefix in "[0-9a-f]{0,3}",
            sample in proptest::collection::vec("[0-9a-zA-Z_-]{0,6}", 0..20),
            hex in "[0-9a-f]{0,8}",
        ) {
            let parent = UserSegment { prefix: (!prefix.is_empty()).then(|| prefix.clone()), splittable: true, ..Default::default() };
            let subs: Vec<String> = sample.iter().map(|s| format!("{prefix}{s}")).collect();
            let page: Vec<String> = subs.iter().map(|s| user(s)).collect();
            let children = parent.split(&page);
            let unseen_hex = (!hex.is_empty()).then(|| format!("{prefix}{hex}"));
            for sub in subs.iter().chain(unseen_hex.iter()) {
                if sub.is_empty() { continue; }
                prop_assert_eq!(covering(&children, sub).len(), 1, "sub {:?} children {:?}", sub, children);
            }
        }
    }
}
