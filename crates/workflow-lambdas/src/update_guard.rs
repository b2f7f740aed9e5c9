//! The main stack's update guard (a CloudFormation custom resource): refuses an update that would change
//! the backed-up user pool, the backup Region or the resource prefix, and checks them on create. It
//! answers CloudFormation on every request, including its own failures, so a stack never waits on it.
//!
//! The values the stack was created with are kept in the resource's physical ID. An update back to them
//! is always accepted: that is how CloudFormation rolls back a refused update (it sends another update
//! with old and new swapped), and refusing it would leave the stack in UPDATE_ROLLBACK_FAILED.

use std::collections::HashMap;

use aws_lambda_events::cloudformation::{
    CloudFormationCustomResourceRequest, CloudFormationCustomResourceResponse,
    CloudFormationCustomResourceResponseStatus,
};
use serde::{Deserialize, Serialize};

/// The properties the guard keeps fixed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Fixed {
    #[serde(default)]
    pub primary_user_pool_id: String,
    #[serde(default)]
    pub backup_region: String,
    #[serde(default)]
    pub resource_prefix: String,
}

pub type Request = CloudFormationCustomResourceRequest<Fixed, Fixed>;

const PHYSICAL_ID_PREFIX: &str = "cognito-backup-update-guard";

impl Fixed {
    /// The physical ID that records these values (stable for the stack's life: it never changes on an
    /// update, so CloudFormation never replaces, and deletes, the resource).
    pub fn physical_id(&self) -> String {
        format!("{PHYSICAL_ID_PREFIX}/{}/{}/{}", self.primary_user_pool_id, self.backup_region, self.resource_prefix)
    }

    fn from_physical_id(id: &str) -> Option<Self> {
        let mut parts = id.strip_prefix(PHYSICAL_ID_PREFIX)?.strip_prefix('/')?.splitn(3, '/');
        Some(Self {
            primary_user_pool_id: parts.next()?.to_owned(),
            backup_region: parts.next()?.to_owned(),
            resource_prefix: parts.next()?.to_owned(),
        })
    }

    fn changes(&self, to: &Fixed) -> Vec<String> {
        [
            ("PrimaryUserPoolId", &self.primary_user_pool_id, &to.primary_user_pool_id),
            ("BackupRegion", &self.backup_region, &to.backup_region),
            ("ResourcePrefix", &self.resource_prefix, &to.resource_prefix),
        ]
        .into_iter()
        .filter(|(_, a, b)| a != b)
        .map(|(name, a, b)| format!("{name} from {a:?} to {b:?}"))
        .collect()
    }
}

/// What the guard decides, before any AWS call: the physical ID to answer with, or why it refuses.
pub fn check(request: &Request, stack_region: &str) -> (String, Result<(), String>) {
    match request {
        CloudFormationCustomResourceRequest::Create(create) => {
            let props = &create.resource_properties;
            let outcome = if props.backup_region == stack_region {
                Err(format!(
                    "BackupRegion is {stack_region}, the stack's own Region: choose another Region, so the backup survives \
                     a Regional outage"
                ))
            } else {
                Ok(())
            };
            (props.physical_id(), outcome)
        }
        CloudFormationCustomResourceRequest::Update(update) => {
            let created_with = Fixed::from_physical_id(&update.physical_resource_id)
                .unwrap_or_else(|| update.old_resource_properties.clone());
            let new = &update.resource_properties;
            let outcome = if new == &created_with || update.old_resource_properties.changes(new).is_empty() {
                Ok(())
            } else {
                Err(format!(
                    "this update would change {}. The backup table, its replica and every backed-up item belong to the \
                     pool and Regions the stack was created with, so the update is refused and rolled back. To back up \
                     another pool or use another backup Region, launch a new stack (with another ResourcePrefix).",
                    update.old_resource_properties.changes(new).join(" and ")
                ))
            };
            (update.physical_resource_id.clone(), outcome)
        }
        // Deleting the stack never depends on the guard: the retained table keeps the backup.
        CloudFormationCustomResourceRequest::Delete(delete) => (delete.physical_resource_id.clone(), Ok(())),
        _ => (PHYSICAL_ID_PREFIX.to_owned(), Err("unknown request type".into())),
    }
}

/// Where to answer and the fields the answer echoes.
pub struct Addressed {
    pub response_url: String,
    pub stack_id: String,
    pub request_id: String,
    pub logical_resource_id: String,
}

pub fn addressed(request: &Request) -> Option<Addressed> {
    let (url, stack, req, logical) = match request {
        CloudFormationCustomResourceRequest::Create(r) => {
            (&r.response_url, &r.stack_id, &r.request_id, &r.logical_resource_id)
        }
        CloudFormationCustomResourceRequest::Update(r) => {
            (&r.response_url, &r.stack_id, &r.request_id, &r.logical_resource_id)
        }
        CloudFormationCustomResourceRequest::Delete(r) => {
            (&r.response_url, &r.stack_id, &r.request_id, &r.logical_resource_id)
        }
        _ => return None,
    };
    Some(Addressed {
        response_url: url.clone(),
        stack_id: stack.clone(),
        request_id: req.clone(),
        logical_resource_id: logical.clone(),
    })
}

/// Reads a request; when it is malformed, still finds where to answer, so CloudFormation hears a FAILED.
pub fn parse(raw: &serde_json::Value) -> Result<Request, (Option<Addressed>, String)> {
    serde_json::from_value(raw.clone()).map_err(|e| {
        let field = |k: &str| raw.get(k).and_then(serde_json::Value::as_str).unwrap_or_default().to_owned();
        let fallback = (!field("ResponseURL").is_empty()).then(|| Addressed {
            response_url: field("ResponseURL"),
            stack_id: field("StackId"),
            request_id: field("RequestId"),
            logical_resource_id: field("LogicalResourceId"),
        });
        (fallback, format!("the custom resource request is malformed: {e}"))
    })
}

pub fn response(
    to: &Addressed,
    physical_id: String,
    outcome: &Result<(), String>,
    log_stream: &str,
) -> CloudFormationCustomResourceResponse {
    let mut r = CloudFormationCustomResourceResponse::default();
    (r.status, r.reason) = match outcome {
        Ok(()) => (
            CloudFormationCustomResourceResponseStatus::Success,
            Some(format!("See CloudWatch log stream {log_stream}")),
        ),
        Err(reason) => (CloudFormationCustomResourceResponseStatus::Failed, Some(reason.clone())),
    };
    r.physical_resource_id = physical_id;
    r.stack_id = to.stack_id.clone();
    r.request_id = to.request_id.clone();
    r.logical_resource_id = to.logical_resource_id.clone();
    r.data = HashMap::new();
    r
}

/// PUTs the answer to CloudFormation's pre-signed URL (an empty Content-Type, as CloudFormation signs it).
pub async fn send(url: &str, response: &CloudFormationCustomResourceResponse) -> Result<(), String> {
    let body = serde_json::to_vec(response).map_err(|e| e.to_string())?;
    backup_aws::https_put::put(url, &[("Content-Type", "")], body).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn props(pool: &str, region: &str) -> serde_json::Value {
        json!({"PrimaryUserPoolId": pool, "BackupRegion": region, "ResourcePrefix": "cognito-backup", "ServiceToken": "arn"})
    }

    fn request(kind: &str, physical: &str, old: serde_json::Value, new: serde_json::Value) -> Request {
        serde_json::from_value(json!({
            "RequestType": kind, "ServiceToken": "arn", "ResponseURL": "https://example.invalid/r", "StackId": "stack",
            "RequestId": "req", "ResourceType": "Custom::UpdateGuard", "LogicalResourceId": "UpdateGuard",
            "PhysicalResourceId": physical, "ResourceProperties": new, "OldResourceProperties": old,
        }))
        .unwrap()
    }

    fn created_with(pool: &str, region: &str) -> String {
        Fixed {
            primary_user_pool_id: pool.into(),
            backup_region: region.into(),
            resource_prefix: "cognito-backup".into(),
        }
        .physical_id()
    }

    #[test]
    fn changing_the_pool_or_the_backup_region_is_refused_with_what_to_do() {
        let id = created_with("us-east-1_a", "us-west-2");
        let (physical, outcome) = check(
            &request("Update", &id, props("us-east-1_a", "us-west-2"), props("us-east-1_b", "eu-west-1")),
            "us-east-1",
        );
        let reason = outcome.unwrap_err();
        assert!(reason.contains("PrimaryUserPoolId from \"us-east-1_a\" to \"us-east-1_b\""), "{reason}");
        assert!(reason.contains("BackupRegion") && reason.contains("launch a new stack"), "{reason}");
        assert_eq!(physical, id, "the physical ID never changes");
    }

    #[test]
    fn the_rollback_of_a_refused_update_is_accepted() {
        let id = created_with("us-east-1_a", "us-west-2");
        // CloudFormation's rollback: old and new swapped, back to what the stack was created with.
        let rollback = request("Update", &id, props("us-east-1_b", "eu-west-1"), props("us-east-1_a", "us-west-2"));
        assert!(check(&rollback, "us-east-1").1.is_ok());
    }

    #[test]
    fn other_updates_creates_and_deletes_succeed() {
        let id = created_with("us-east-1_a", "us-west-2");
        assert!(
            check(
                &request("Update", &id, props("us-east-1_a", "us-west-2"), props("us-east-1_a", "us-west-2")),
                "us-east-1"
            )
            .1
            .is_ok()
        );
        let (physical, outcome) =
            check(&request("Create", "", json!({}), props("us-east-1_a", "us-west-2")), "us-east-1");
        assert!(outcome.is_ok());
        assert_eq!(physical, id);
        assert!(check(&request("Delete", &id, json!({}), props("us-east-1_a", "us-east-1")), "us-east-1").1.is_ok());
    }

    #[test]
    fn a_malformed_request_still_gets_a_failed_answer() {
        let raw = json!({"RequestType": "Create", "ResponseURL": "https://example.invalid/r", "StackId": "s", "RequestId": "r"});
        let (fallback, reason) = parse(&raw).unwrap_err();
        let to = fallback.expect("the response URL is known");
        let r = response(&to, "x".into(), &Err(reason), "log");
        assert_eq!(r.status, CloudFormationCustomResourceResponseStatus::Failed);
        assert!(parse(&json!({"RequestType": "Create"})).unwrap_err().0.is_none());
    }

    #[test]
    fn a_backup_region_equal_to_the_stack_region_is_refused_on_create() {
        let (_, outcome) = check(&request("Create", "", json!({}), props("us-east-1_a", "us-east-1")), "us-east-1");
        assert!(outcome.unwrap_err().contains("another Region"));
    }
}
