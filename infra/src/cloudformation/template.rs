//! A CloudFormation template as data, and the intrinsic functions the constructs use.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

#[derive(Debug, Default, Clone)]
pub struct Template {
    pub description: String,
    pub metadata: Option<Value>,
    pub parameters: BTreeMap<String, Value>,
    pub conditions: BTreeMap<String, Value>,
    pub resources: BTreeMap<String, Value>,
    pub outputs: BTreeMap<String, Value>,
}

impl Template {
    pub fn new(description: impl Into<String>) -> Self {
        Self { description: description.into(), ..Default::default() }
    }

    pub fn parameter(&mut self, name: &str, spec: Value) {
        self.parameters.insert(name.into(), spec);
    }

    /// Adds a resource; `extra` holds attributes besides Type and Properties (Condition, DependsOn, …).
    pub fn resource(&mut self, logical_id: &str, kind: &str, properties: Value, extra: Value) {
        let mut r = Map::new();
        r.insert("Type".into(), json!(kind));
        r.insert("Properties".into(), properties);
        if let Value::Object(extra) = extra {
            r.extend(extra);
        }
        self.resources.insert(logical_id.into(), Value::Object(r));
    }

    pub fn output(&mut self, name: &str, description: &str, value: Value) {
        self.outputs.insert(name.into(), json!({"Description": description, "Value": value}));
    }

    pub fn to_json(&self) -> Value {
        let mut t = Map::new();
        t.insert("AWSTemplateFormatVersion".into(), json!("2010-09-09"));
        t.insert("Description".into(), json!(self.description));
        if let Some(m) = &self.metadata {
            t.insert("Metadata".into(), m.clone());
        }
        t.insert("Parameters".into(), json!(self.parameters));
        if !self.conditions.is_empty() {
            t.insert("Conditions".into(), json!(self.conditions));
        }
        t.insert("Resources".into(), json!(self.resources));
        if !self.outputs.is_empty() {
            t.insert("Outputs".into(), json!(self.outputs));
        }
        Value::Object(t)
    }
}

pub fn sub(s: impl Into<String>) -> Value {
    json!({"Fn::Sub": s.into()})
}

pub fn reference(name: &str) -> Value {
    json!({"Ref": name})
}

pub fn get_att(resource: &str, attribute: &str) -> Value {
    json!({"Fn::GetAtt": [resource, attribute]})
}

/// `arn:${AWS::Partition}:<service>:${AWS::Region}:${AWS::AccountId}:<resource>` (resource may use `${…}`).
pub fn arn(service: &str, resource: &str) -> Value {
    sub(format!("arn:${{AWS::Partition}}:{service}:${{AWS::Region}}:${{AWS::AccountId}}:{resource}"))
}
