//! Why an import job rejected a row, reduced to a category: Cognito's reasons can quote the row's values
//! (an email, a name), and reports and notifications carry no personal data.

/// The category of a rejection reason from an import job's log.
pub fn categorize(reason: &str) -> &'static str {
    let r = reason.to_ascii_lowercase();
    if r.contains("already exists") || r.contains("duplicate") {
        DUPLICATE
    } else if r.contains("verified") || r.contains("auto verified") {
        "no verified email or phone number for the pool's auto-verified attribute"
    } else if r.contains("required") {
        "a required attribute is missing"
    } else if r.contains("mfa") {
        "cognito:mfa_enabled does not fit the pool's MFA setting"
    } else if r.contains("username") {
        "the username is not accepted"
    } else if r.contains("fields") || r.contains("column") || r.contains("header") || r.contains("characters") {
        "the row does not fit the CSV format"
    } else if r.contains("invalid") || r.contains("format") || r.contains("length") || r.contains("constraint") {
        "an attribute value is not accepted"
    } else {
        "rejected by the import job for another reason"
    }
}

/// The user already exists in the target pool.
pub const DUPLICATE: &str = "a user with the same username already exists";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_become_categories_without_their_values() {
        assert_eq!(categorize("A user with the same email alice@example.com already exists."), DUPLICATE);
        let c =
            categorize("The User Record does not set any of the auto verified attributes to true. (alice@example.com)");
        assert!(!c.contains('@'));
        assert_eq!(categorize("something new"), "rejected by the import job for another reason");
    }
}
