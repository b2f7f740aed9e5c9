//! What a CloudTrail event of a Cognito call says changed. The capture never replays an event: it only
//! learns *which* user, group or membership to read again, so events that arrive late, twice or out of
//! order do no harm.
//!
//! The fields read (EventBridge's "AWS API Call via CloudTrail" for `aws.cognito-idp`): `detail.eventName`,
//! `detail.eventTime`, `detail.requestParameters.{userPoolId, username, groupName}`,
//! `detail.additionalEventData.{sub, userPoolId}` (Cognito records the affected user's sub there, also on
//! AdminDeleteUser), `detail.responseElements.userSub` (SignUp). Cognito hides usernames of
//! unauthenticated calls and every attribute value as `HIDDEN_DUE_TO_SECURITY_REASONS`.

use serde_json::Value;

const HIDDEN: &str = "HIDDEN_DUE_TO_SECURITY_REASONS";

/// Whom a change concerns, named as the event allows.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum UserRef {
    Sub(String),
    Username(String),
}

/// What to read again.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Change {
    User(UserRef),
    Membership {
        group: String,
        user: UserRef,
    },
    Group(String),
    /// The pool's configuration (custom attributes, settings): the snapshot is taken again.
    PoolConfiguration,
    /// A change the event does not identify (a CSV import job, a sign-up with a hidden username): the
    /// next export (or reconciliation) picks it up.
    Unidentified,
    /// A call that changes nothing the backup holds (a password reset, a sign-out).
    NotBackedUp,
}

/// A parsed event: which pool, when, what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolEvent {
    pub pool_id: Option<String>,
    pub event_name: String,
    /// Epoch milliseconds of the call.
    pub event_time_ms: Option<i64>,
    pub change: Change,
}

fn text<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter().try_fold(v, |v, k| v.get(*k)).and_then(Value::as_str).filter(|s| !s.is_empty() && *s != HIDDEN)
}

/// Calls on one user that the backup reflects (its attributes, status, enabled flag, MFA, existence).
const USER_CALLS: &[&str] = &[
    "AdminCreateUser",
    "AdminUpdateUserAttributes",
    "AdminDeleteUserAttributes",
    "AdminDeleteUser",
    "AdminDisableUser",
    "AdminEnableUser",
    "AdminConfirmSignUp",
    "AdminSetUserMFAPreference",
    "AdminSetUserSettings",
    "AdminLinkProviderForUser",
    "AdminDisableProviderForUser",
    "UpdateUserAttributes",
    "DeleteUserAttributes",
    "VerifyUserAttribute",
    "DeleteUser",
    "ConfirmSignUp",
    "SignUp",
    "SetUserMFAPreference",
    "SetUserSettings",
];
/// Calls that change nothing the backup holds.
const NOT_BACKED_UP: &[&str] = &[
    "AdminSetUserPassword",
    "AdminResetUserPassword",
    "AdminUserGlobalSignOut",
    "GlobalSignOut",
    "ChangePassword",
    "ForgotPassword",
    "ConfirmForgotPassword",
    "AdminForgetDevice",
    "AdminUpdateDeviceStatus",
];
const GROUP_CALLS: &[&str] = &["CreateGroup", "UpdateGroup", "DeleteGroup"];
const MEMBERSHIP_CALLS: &[&str] = &["AdminAddUserToGroup", "AdminRemoveUserFromGroup"];
const POOL_CALLS: &[&str] = &["UpdateUserPool", "AddCustomAttributes"];

/// Reads an EventBridge event (the SQS message body); `None` when it is not a CloudTrail event.
pub fn parse(event: &Value) -> Option<PoolEvent> {
    let detail = event.get("detail")?;
    let event_name = text(detail, &["eventName"])?.to_owned();
    let pool_id = text(detail, &["requestParameters", "userPoolId"])
        .or_else(|| text(detail, &["additionalEventData", "userPoolId"]))
        .map(str::to_owned);
    let event_time_ms = text(detail, &["eventTime"]).or_else(|| text(event, &["time"])).and_then(parse_time_ms);
    let user = text(detail, &["additionalEventData", "sub"])
        .or_else(|| text(detail, &["responseElements", "userSub"]))
        .map(|s| UserRef::Sub(s.to_owned()))
        .or_else(|| text(detail, &["requestParameters", "username"]).map(|u| UserRef::Username(u.to_owned())));
    let name = event_name.as_str();
    let change = if MEMBERSHIP_CALLS.contains(&name) {
        match (text(detail, &["requestParameters", "groupName"]), user) {
            (Some(group), Some(user)) => Change::Membership { group: group.to_owned(), user },
            _ => Change::Unidentified,
        }
    } else if GROUP_CALLS.contains(&name) {
        text(detail, &["requestParameters", "groupName"]).map_or(Change::Unidentified, |g| Change::Group(g.to_owned()))
    } else if POOL_CALLS.contains(&name) {
        Change::PoolConfiguration
    } else if NOT_BACKED_UP.contains(&name) {
        Change::NotBackedUp
    } else if USER_CALLS.contains(&name) || user.is_some() {
        // Any other call naming one user may have changed it: reading it again costs one call.
        user.map_or(Change::Unidentified, Change::User)
    } else {
        Change::Unidentified
    };
    Some(PoolEvent { pool_id, event_name, event_time_ms, change })
}

/// `2026-11-27T09:00:00Z` (CloudTrail's format, whole seconds) in epoch milliseconds.
fn parse_time_ms(s: &str) -> Option<i64> {
    let (date, time) = s.trim_end_matches('Z').split_once('T')?;
    let mut d = date.split('-').map(|p| p.parse::<i64>().ok());
    let (y, m, day) = (d.next()??, d.next()??, d.next()??);
    let mut t = time.split(':');
    let (h, min) = (t.next()?.parse::<i64>().ok()?, t.next()?.parse::<i64>().ok()?);
    let sec: f64 = t.next()?.parse().ok()?;
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 86_400 + h * 3600 + min * 60) as f64 * 1000.0 + sec * 1000.0) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(name: &str, request: Value, additional: Value) -> Value {
        json!({"detail-type": "AWS API Call via CloudTrail", "source": "aws.cognito-idp", "time": "2026-11-27T09:00:00Z",
            "detail": {"eventName": name, "eventTime": "2026-11-27T09:00:01Z", "requestParameters": request,
                "additionalEventData": additional, "responseElements": null}})
    }

    #[test]
    fn user_calls_name_the_user_by_sub_first() {
        let e = parse(&event(
            "AdminDeleteUser",
            json!({"userPoolId": "us-east-1_p", "username": "ada"}),
            json!({"sub": "s-1"}),
        ))
        .unwrap();
        assert_eq!(e.pool_id.as_deref(), Some("us-east-1_p"));
        assert_eq!(e.change, Change::User(UserRef::Sub("s-1".into())));
        assert_eq!(e.event_time_ms, Some(1_795_770_001_000));
        let by_name =
            parse(&event("AdminDisableUser", json!({"userPoolId": "us-east-1_p", "username": "ada"}), json!({})))
                .unwrap();
        assert_eq!(by_name.change, Change::User(UserRef::Username("ada".into())));
    }

    #[test]
    fn memberships_groups_and_pool_settings_are_told_apart() {
        let m = parse(&event(
            "AdminAddUserToGroup",
            json!({"userPoolId": "p", "username": "ada", "groupName": "admins"}),
            json!({"sub": "s-1"}),
        ))
        .unwrap();
        assert_eq!(m.change, Change::Membership { group: "admins".into(), user: UserRef::Sub("s-1".into()) });
        let g = parse(&event("DeleteGroup", json!({"userPoolId": "p", "groupName": "admins"}), json!({}))).unwrap();
        assert_eq!(g.change, Change::Group("admins".into()));
        let p = parse(&event("AddCustomAttributes", json!({"userPoolId": "p"}), json!({}))).unwrap();
        assert_eq!(p.change, Change::PoolConfiguration);
        let quiet =
            parse(&event("AdminSetUserPassword", json!({"userPoolId": "p", "username": "a"}), json!({"sub": "s"})));
        assert_eq!(quiet.unwrap().change, Change::NotBackedUp);
    }

    #[test]
    fn hidden_names_and_import_jobs_are_unidentified() {
        let signup = event("SignUp", json!({"clientId": "c", "username": HIDDEN}), json!({"userPoolId": "p"}));
        assert_eq!(parse(&signup).unwrap().change, Change::Unidentified);
        let mut with_sub = signup.clone();
        with_sub["detail"]["responseElements"] = json!({"userSub": "s-9", "userConfirmed": false});
        assert_eq!(parse(&with_sub).unwrap().change, Change::User(UserRef::Sub("s-9".into())));
        let job = event("StartUserImportJob", json!({"userPoolId": "p", "jobId": "j"}), json!({}));
        assert_eq!(parse(&job).unwrap().change, Change::Unidentified);
        assert_eq!(parse(&json!({"detail": {}})), None);
    }
}
