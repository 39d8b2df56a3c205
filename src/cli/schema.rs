//! `cortex schema NAME`: the JSON Schemas of every format, generated from the types.

use super::CommandError;

/// `runs/<id>/results.json`'s schema (SPEC §2): the file `schemas/results.schema.json`.
const RESULTS: &str = include_str!("../../schemas/results.schema.json");

/// The schema of a format, as pretty JSON.
pub fn schema_text(name: &str) -> Option<String> {
    let schema = match name {
        "workflow" => schemars::schema_for!(crate::definition::Workflow),
        "scenario" => schemars::schema_for!(crate::definition::Scenario),
        "agent" => schemars::schema_for!(crate::definition::Agent),
        "config" => schemars::schema_for!(crate::definition::ConfigFile),
        "event" => schemars::schema_for!(crate::event::Recorded),
        // Written by hand: `results.json` is built as a document (`project/files.rs`), not
        // from a type.
        "results" => return Some(RESULTS.to_string()),
        _ => return None,
    };
    let mut text = serde_json::to_string_pretty(&schema).expect("schemas serialise");
    text.push('\n');
    Some(text)
}

pub fn print(name: &str) -> Result<i32, CommandError> {
    let text = schema_text(name).ok_or_else(|| {
        CommandError::bad_input(format!("no schema named `{name}`"))
            .hint("schemas: workflow, scenario, agent, config, event, results")
    })?;
    super::out_json_text(&text);
    Ok(0)
}
