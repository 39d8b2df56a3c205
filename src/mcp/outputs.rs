//! What each tool returns, as its output schema: the `--json` documents as
//! `schemas/openapi.json` describes them for the HTTP API (one description of each document,
//! checked against the real answers by the API's tests and here by the MCP client's), every
//! `$ref` inlined, and a document that is an array (a list of rows) carried in an object's
//! field, as MCP wants structured content to be an object.

use std::sync::{Arc, LazyLock};

use rmcp::model::JsonObject;
use serde_json::{Value, json};

use crate::serve::OPENAPI;

/// The OpenAPI document's schemas (`components.schemas`).
static COMPONENTS: LazyLock<serde_json::Map<String, Value>> = LazyLock::new(|| {
    let openapi: Value = serde_json::from_str(OPENAPI).expect("schemas/openapi.json is JSON");
    openapi["components"]["schemas"]
        .as_object()
        .cloned()
        .expect("schemas/openapi.json has components.schemas")
});

/// The schema of document `name`, with every `$ref` replaced by what it names.
fn component(name: &str) -> Value {
    let schema = COMPONENTS
        .get(name)
        .unwrap_or_else(|| panic!("schemas/openapi.json has no schema {name}"));
    inline(schema)
}

fn inline(schema: &Value) -> Value {
    match schema {
        Value::Object(map) => {
            if let Some(target) = map.get("$ref").and_then(Value::as_str) {
                let name = target
                    .strip_prefix("#/components/schemas/")
                    .unwrap_or_else(|| panic!("a $ref outside components.schemas: {target}"));
                let resolved = component(name);
                let rest: serde_json::Map<String, Value> = map
                    .iter()
                    .filter(|(k, _)| *k != "$ref")
                    .map(|(k, v)| (k.clone(), inline(v)))
                    .collect();
                if rest.is_empty() {
                    return resolved;
                }
                // A `$ref` beside other keywords means both hold.
                let mut both = rest;
                both.insert("allOf".into(), json!([resolved]));
                return Value::Object(both);
            }
            Value::Object(map.iter().map(|(k, v)| (k.clone(), inline(v))).collect())
        }
        Value::Array(items) => Value::Array(items.iter().map(inline).collect()),
        other => other.clone(),
    }
}

/// An output schema: an object at its root, as MCP requires.
fn object(schema: Value) -> Arc<JsonObject> {
    let mut map = match schema {
        Value::Object(map) => map,
        other => panic!("an output schema is an object: {other}"),
    };
    map.insert("type".into(), json!("object"));
    Arc::new(map)
}

/// One of these documents.
fn any_of(schemas: Vec<Value>) -> Arc<JsonObject> {
    object(json!({ "anyOf": schemas }))
}

/// The field of `list`'s structured content for the kind's rows.
pub fn list_field(scenario: bool) -> &'static str {
    if scenario { "scenarios" } else { "workflows" }
}

pub fn list() -> Arc<JsonObject> {
    let rows = |field: &str, row: &str| {
        json!({
            "type": "object",
            "required": [field],
            "properties": { field: { "type": "array", "items": component(row) } },
            "additionalProperties": false
        })
    };
    object(json!({
        "description": "The rows of `workflow list --json` (as `workflows`) or `orchestrate list --json` (as `scenarios`); the text block is that array itself.",
        "oneOf": [
            rows(list_field(false), "WorkflowRow"),
            rows(list_field(true), "ScenarioRow")
        ]
    }))
}

pub fn history() -> Arc<JsonObject> {
    object(component("History"))
}

pub fn validate() -> Arc<JsonObject> {
    any_of(vec![
        component("WorkflowValid"),
        component("ScenarioVerdict"),
        component("ScenarioValidations"),
        component("WorkflowValidations"),
    ])
}

pub fn preview() -> Arc<JsonObject> {
    object(component("Preview"))
}

pub fn status() -> Arc<JsonObject> {
    object(component("Status"))
}

/// A tool that drives or previews a run: its status document, or with dry_run its plan.
pub fn status_or_plan() -> Arc<JsonObject> {
    any_of(vec![component("Status"), component("Plan")])
}

pub fn verify() -> Arc<JsonObject> {
    object(component("Verify"))
}

pub fn schedules() -> Arc<JsonObject> {
    object(component("Schedules"))
}

/// `cortex --json logs`: a run's attempts and their whole outputs.
pub fn logs() -> Arc<JsonObject> {
    object(component("AttemptLogs"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_output_schema_is_an_object_without_refs() {
        for schema in [
            list(),
            history(),
            validate(),
            preview(),
            status(),
            status_or_plan(),
            verify(),
            schedules(),
            logs(),
        ] {
            assert_eq!(schema["type"], "object");
            let text = serde_json::to_string(&*schema).unwrap();
            assert!(!text.contains("$ref"), "{text}");
            jsonschema::validator_for(&Value::Object((*schema).clone()))
                .expect("the schema compiles");
        }
    }
}
