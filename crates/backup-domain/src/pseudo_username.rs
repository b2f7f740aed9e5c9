//! The pseudo-username: the value that becomes `Username` (the CSV's `cognito:username`) when a user is
//! restored into a new pool.
//!
//! In a pool with plain usernames it is the username itself. In a pool whose users sign in with
//! `email` and/or `phone_number` (username attributes), Cognito's real username is an opaque UUID that a
//! new pool cannot reuse, so the user is recreated under the sign-in attribute instead. When both email
//! and phone number are username attributes, email is preferred and phone number is the fallback: both
//! remain sign-in aliases in the new pool, so the choice only fixes which one is the primary name.

use std::collections::BTreeMap;

use thiserror::Error;

/// Order in which username attributes are tried when a pool allows several.
const PREFERENCE: [&str; 2] = ["email", "phone_number"];

#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("the user has no non-blank value for its pool's username attribute(s) {attributes:?}")]
pub struct Unresolvable {
    pub attributes: Vec<String>,
}

/// Derives the pseudo-username of one user.
pub fn derive(
    username: &str,
    attributes: &BTreeMap<String, String>,
    pool_username_attributes: &[String],
) -> Result<String, Unresolvable> {
    if pool_username_attributes.is_empty() {
        return Ok(username.to_owned());
    }
    let preferred = PREFERENCE.iter().copied().filter(|p| pool_username_attributes.iter().any(|a| a == p));
    let others = pool_username_attributes.iter().map(String::as_str).filter(|a| !PREFERENCE.contains(a));
    preferred
        .chain(others)
        .filter_map(|name| attributes.get(name))
        .find(|value| !value.trim().is_empty())
        .cloned()
        .ok_or_else(|| Unresolvable { attributes: pool_username_attributes.to_vec() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn attrs(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn plain_pools_keep_the_username() {
        assert_eq!(derive("alice", &attrs(&[("email", "a@x.org")]), &[]).unwrap(), "alice");
    }

    #[test]
    fn username_attribute_pools_use_the_attribute() {
        let ua = vec!["email".to_string()];
        assert_eq!(derive("uuid-1", &attrs(&[("email", "a@x.org")]), &ua).unwrap(), "a@x.org");
        let err = derive("uuid-1", &attrs(&[("phone_number", "+15550100")]), &ua).unwrap_err();
        assert_eq!(err.attributes, ua);
    }

    #[test]
    fn pools_with_email_and_phone_prefer_email_then_phone() {
        let ua = vec!["phone_number".to_string(), "email".to_string()];
        let both = attrs(&[("email", "a@x.org"), ("phone_number", "+15550100")]);
        assert_eq!(derive("u", &both, &ua).unwrap(), "a@x.org");
        let phone_only = attrs(&[("email", "  "), ("phone_number", "+15550100")]);
        assert_eq!(derive("u", &phone_only, &ua).unwrap(), "+15550100");
        assert!(derive("u", &attrs(&[]), &ua).is_err());
    }

    proptest! {
        #[test]
        fn derivation_never_yields_a_blank_name(
            username in "[a-z0-9-]{1,20}",
            email in proptest::option::of("[ a-z@.]{0,12}"),
            phone in proptest::option::of("[ +0-9]{0,12}"),
            which in 0usize..4,
        ) {
            let mut a = BTreeMap::new();
            if let Some(e) = &email { a.insert("email".to_string(), e.clone()); }
            if let Some(p) = &phone { a.insert("phone_number".to_string(), p.clone()); }
            let ua: Vec<String> = match which {
                0 => vec![],
                1 => vec!["email".into()],
                2 => vec!["phone_number".into()],
                _ => vec!["phone_number".into(), "email".into()],
            };
            match derive(&username, &a, &ua) {
                Ok(name) => {
                    prop_assert!(!name.trim().is_empty());
                    if ua.is_empty() { prop_assert_eq!(name, username); }
                    else { prop_assert!(a.values().any(|v| *v == name)); }
                }
                Err(e) => {
                    prop_assert!(!ua.is_empty());
                    prop_assert_eq!(e.attributes, ua.clone());
                    for attr in &ua {
                        prop_assert!(a.get(attr).is_none_or(|v| v.trim().is_empty()));
                    }
                }
            }
        }
    }
}
