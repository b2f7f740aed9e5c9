//! CDK-style constructs that synthesize the CloudFormation templates from the definitions: the main stack
//! (primary Region) and the regional stack (a StackSet instance in the primary and the backup Region).

mod change_capture;
mod constructs;
pub mod iam;
pub mod main_stack;
pub mod regional_stack;
mod template;

pub use template::Template;

/// Where the build put the Lambda zips: `s3://<bucket prefix>-<region>/<key prefix>/<binary>.zip`, and the
/// regional template at `s3://<bucket prefix>-<primary region>/<key prefix>/regional-stack.template.json`.
#[derive(Debug, Clone)]
pub struct Assets {
    pub bucket_prefix: String,
    pub key_prefix: String,
    pub version: String,
}

impl Assets {
    /// Where `infra deploy` puts the assets of a stack with this prefix (`<prefix>-assets-<region>`).
    pub fn for_deployment(prefix: &str) -> Self {
        Self {
            bucket_prefix: format!("{prefix}-assets"),
            key_prefix: "cognito-backup/deployed".into(),
            version: "deployed".into(),
        }
    }
}

impl Default for Assets {
    fn default() -> Self {
        Self {
            bucket_prefix: "asset-bucket-placeholder".into(),
            key_prefix: "cognito-backup/v0.1.0".into(),
            version: "v0.1.0".into(),
        }
    }
}

pub const MAIN_TEMPLATE_FILE: &str = "cognito-backup.template.json";
pub const REGIONAL_TEMPLATE_FILE: &str = "regional-stack.template.json";

/// Synthesizes both templates into `out`; returns the files written.
pub fn write_templates(assets: &Assets, out: &std::path::Path) -> Result<Vec<std::path::PathBuf>, String> {
    std::fs::create_dir_all(out).map_err(|e| format!("creating {}: {e}", out.display()))?;
    let mut written = Vec::new();
    for (file, template) in [
        (MAIN_TEMPLATE_FILE, main_stack::template(assets)?),
        (REGIONAL_TEMPLATE_FILE, regional_stack::template(&assets.version)?),
    ] {
        let path = out.join(file);
        let text = serde_json::to_string_pretty(&template.to_json()).map_err(|e| e.to_string())? + "\n";
        std::fs::write(&path, text).map_err(|e| format!("writing {}: {e}", path.display()))?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    fn templates() -> Vec<(&'static str, Value)> {
        let assets = Assets::default();
        vec![
            (MAIN_TEMPLATE_FILE, main_stack::template(&assets).unwrap().to_json()),
            (REGIONAL_TEMPLATE_FILE, regional_stack::template(&assets.version).unwrap().to_json()),
        ]
    }

    fn strings(v: &Value) -> Vec<String> {
        match v {
            Value::String(s) => vec![s.clone()],
            Value::Array(a) => a.iter().flat_map(strings).collect(),
            Value::Object(o) => o.values().flat_map(strings).collect(),
            _ => vec![],
        }
    }

    #[test]
    fn function_policies_name_their_actions_and_resources() {
        for (file, template) in templates() {
            for (id, resource) in template["Resources"].as_object().unwrap() {
                if resource["Type"] != "AWS::IAM::Role" || id.starts_with("StackSet") {
                    continue;
                }
                for policy in resource["Properties"]["Policies"].as_array().unwrap() {
                    for statement in policy["PolicyDocument"]["Statement"].as_array().unwrap() {
                        for action in strings(&statement["Action"]) {
                            assert!(!action.contains('*'), "{file} {id}: wildcard action {action}");
                        }
                        for resource in strings(&statement["Resource"]) {
                            assert_ne!(resource, "*", "{file} {id}: Resource \"*\"");
                            if resource.contains('*') {
                                let justified = iam::JUSTIFIED_PATTERNS.iter().any(|(p, _)| resource.ends_with(p));
                                assert!(justified, "{file} {id}: unjustified pattern {resource}");
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn alarms_and_rules_can_publish_to_the_encrypted_topic() {
        let (_, regional) = &templates()[1];
        let resources = regional["Resources"].as_object().unwrap();
        let topic = &resources["NotificationTopic"]["Properties"];
        assert_eq!(topic["KmsMasterKeyId"], serde_json::json!({"Ref": "NotificationKey"}), "a customer managed key");
        let may = |statements: &Value, action: &str, service: &str| {
            statements.as_array().unwrap().iter().any(|s| {
                s["Effect"] == "Allow"
                    && strings(&s["Principal"]["Service"]).iter().any(|p| p == service)
                    && strings(&s["Action"]).iter().any(|a| a == action)
            })
        };
        let key_policy = &resources["NotificationKey"]["Properties"]["KeyPolicy"]["Statement"];
        let topic_policy = &resources["NotificationTopicPolicy"]["Properties"]["PolicyDocument"]["Statement"];
        for service in ["cloudwatch.amazonaws.com", "events.amazonaws.com"] {
            for action in ["kms:Decrypt", "kms:GenerateDataKey*"] {
                assert!(may(key_policy, action, service), "{service} may not {action} with the topic's key");
            }
            assert!(may(topic_policy, "sns:Publish", service), "{service} may not publish to the topic");
        }
        let alarms: Vec<_> = resources.iter().filter(|(_, r)| r["Type"] == "AWS::CloudWatch::Alarm").collect();
        assert!(alarms.len() >= 6, "failed, timed-out and aborted executions of both workflows raise alarms");
        for (id, r) in alarms {
            assert_eq!(r["Properties"]["AlarmActions"], serde_json::json!([{"Ref": "NotificationTopic"}]), "{id}");
        }
    }

    #[test]
    fn the_committed_templates_are_what_synth_writes() {
        let dir = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../deployment/templates"));
        for (file, template) in templates() {
            let committed: Value = serde_json::from_str(&std::fs::read_to_string(dir.join(file)).unwrap()).unwrap();
            assert!(committed == template, "{file} is stale: run `cargo run -p infra -- synth`");
        }
    }

    #[test]
    fn every_state_machine_definition_substitutes_only_its_functions() {
        let (_, regional) = &templates()[1];
        for id in ["ExportWorkflow", "ImportWorkflow"] {
            let sm = &regional["Resources"][id]["Properties"];
            let text = sm["Definition"].to_string();
            for key in sm["DefinitionSubstitutions"].as_object().unwrap().keys() {
                assert!(text.contains(&format!("${{{key}}}")), "{id}: {key} is not used");
            }
            assert_eq!(text.matches("${").count(), text.matches("FunctionArn}").count());
        }
    }
}
