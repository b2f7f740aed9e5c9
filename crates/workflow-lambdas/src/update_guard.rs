//! The main stack's update guard (a CloudFormation custom resource): refuses an update that would change
//! the backed-up user pool, the backup Region or the resource prefix, and checks them on create. It
//! answers CloudFormation on every request, including its own failures, so a stack never waits on it.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Properties whose change would orphan the backup (its table, replica and items belong to one pool).
pub const FIXED: [&str; 3] = ["PrimaryUserPoolId", "BackupRegion", "ResourcePrefix"];
/// Stays the same for the stack's life, so an update never replaces (and deletes) the resource.
pub const PHYSICAL_ID: &str = "cognito-backup-update-guard";

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CustomResourceEvent {
    pub request_type: String,
    #[serde(rename = "ResponseURL")]
    pub response_url: String,
    pub stack_id: String,
    pub request_id: String,
    pub logical_resource_id: String,
    #[serde(default)]
    pub resource_properties: Value,
    #[serde(default)]
    pub old_resource_properties: Value,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CustomResourceResponse {
    pub status: &'static str,
    pub reason: String,
    pub physical_resource_id: String,
    pub stack_id: String,
    pub request_id: String,
    pub logical_resource_id: String,
    pub data: serde_json::Map<String, Value>,
}

/// What the guard decides, before any AWS call: `Err(reason)` refuses.
pub fn check(event: &CustomResourceEvent, stack_region: &str) -> Result<(), String> {
    let new = |k: &str| event.resource_properties.get(k).and_then(Value::as_str).unwrap_or_default().to_owned();
    match event.request_type.as_str() {
        "Create" => {
            if new("BackupRegion") == stack_region {
                return Err(format!(
                    "BackupRegion is {stack_region}, the stack's own Region: choose another Region, so the backup survives \
                     a Regional outage"
                ));
            }
            Ok(())
        }
        "Update" => {
            let old = |k: &str| event.old_resource_properties.get(k).and_then(Value::as_str).unwrap_or_default().to_owned();
            let changed: Vec<String> = FIXED
                .iter()
                .filter(|k| old(k) != new(k))
                .map(|k| format!("{k} from {:?} to {:?}", old(k), new(k)))
                .collect();
            if changed.is_empty() {
                Ok(())
            } else {
                Err(format!(
                    "this update would change {}. The backup table, its replica and every backed-up item belong to the \
                     pool and Regions the stack was created with, so the update is refused and rolled back. To back up \
                     another pool or use another backup Region, launch a new stack (with another ResourcePrefix).",
                    changed.join(" and ")
                ))
            }
        }
        // Deleting the stack never depends on the guard: the retained table keeps the backup.
        _ => Ok(()),
    }
}

/// Reads an event; when it is malformed, still finds where to answer, so CloudFormation hears a FAILED.
pub fn parse(raw: &Value) -> Result<CustomResourceEvent, (Option<CustomResourceEvent>, String)> {
    serde_json::from_value(raw.clone()).map_err(|e| {
        let field = |k: &str| raw.get(k).and_then(Value::as_str).unwrap_or_default().to_owned();
        let fallback = (!field("ResponseURL").is_empty()).then(|| CustomResourceEvent {
            request_type: field("RequestType"),
            response_url: field("ResponseURL"),
            stack_id: field("StackId"),
            request_id: field("RequestId"),
            logical_resource_id: field("LogicalResourceId"),
            resource_properties: Value::Null,
            old_resource_properties: Value::Null,
        });
        (fallback, format!("the custom resource request is malformed: {e}"))
    })
}

pub fn response(event: &CustomResourceEvent, outcome: &Result<(), String>, log_stream: &str) -> CustomResourceResponse {
    let (status, reason) = match outcome {
        Ok(()) => ("SUCCESS", format!("See CloudWatch log stream {log_stream}")),
        Err(reason) => ("FAILED", reason.clone()),
    };
    CustomResourceResponse {
        status,
        reason,
        physical_resource_id: PHYSICAL_ID.into(),
        stack_id: event.stack_id.clone(),
        request_id: event.request_id.clone(),
        logical_resource_id: event.logical_resource_id.clone(),
        data: serde_json::Map::new(),
    }
}

/// PUTs the response to CloudFormation's pre-signed URL (an empty Content-Type, as CloudFormation signs it).
pub async fn send(url: String, response: &CustomResourceResponse) -> Result<(), String> {
    let body = serde_json::to_vec(response).map_err(|e| e.to_string())?;
    tokio::task::spawn_blocking(move || {
        ureq::put(&url).header("Content-Type", "").send(&body[..]).map(|_| ()).map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| e.to_string())?
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(request_type: &str, old: Value, new: Value) -> CustomResourceEvent {
        CustomResourceEvent {
            request_type: request_type.into(),
            response_url: "https://example.invalid/response".into(),
            stack_id: "stack".into(),
            request_id: "req".into(),
            logical_resource_id: "UpdateGuard".into(),
            resource_properties: new,
            old_resource_properties: old,
        }
    }

    fn props(pool: &str, region: &str) -> Value {
        json!({"PrimaryUserPoolId": pool, "BackupRegion": region, "ResourcePrefix": "cognito-backup"})
    }

    #[test]
    fn changing_the_pool_or_the_backup_region_is_refused_with_what_to_do() {
        let e = event("Update", props("us-east-1_a", "us-west-2"), props("us-east-1_b", "eu-west-1"));
        let reason = check(&e, "us-east-1").unwrap_err();
        assert!(reason.contains("PrimaryUserPoolId from \"us-east-1_a\" to \"us-east-1_b\""), "{reason}");
        assert!(reason.contains("BackupRegion") && reason.contains("launch a new stack"), "{reason}");
        let r = response(&e, &Err(reason), "log");
        assert_eq!((r.status, r.physical_resource_id.as_str()), ("FAILED", PHYSICAL_ID));
    }

    #[test]
    fn other_updates_creates_and_deletes_succeed() {
        let same = event("Update", props("us-east-1_a", "us-west-2"), props("us-east-1_a", "us-west-2"));
        assert!(check(&same, "us-east-1").is_ok());
        assert!(check(&event("Create", json!({}), props("us-east-1_a", "us-west-2")), "us-east-1").is_ok());
        assert!(check(&event("Delete", json!({}), props("us-east-1_a", "us-east-1")), "us-east-1").is_ok());
        let r = response(&same, &Ok(()), "log");
        assert_eq!(r.status, "SUCCESS");
    }

    #[test]
    fn a_malformed_request_still_gets_a_failed_answer() {
        let raw = json!({"RequestType": "Create", "ResponseURL": "https://example.invalid/r", "StackId": "s", "RequestId": "r"});
        let (fallback, reason) = parse(&raw).unwrap_err();
        let event = fallback.expect("the response URL is known");
        assert_eq!(response(&event, &Err(reason), "log").status, "FAILED");
        assert!(parse(&json!({"RequestType": "Create"})).unwrap_err().0.is_none());
    }

    #[test]
    fn a_backup_region_equal_to_the_stack_region_is_refused_on_create() {
        let e = event("Create", json!({}), props("us-east-1_a", "us-east-1"));
        assert!(check(&e, "us-east-1").unwrap_err().contains("another Region"));
    }
}
