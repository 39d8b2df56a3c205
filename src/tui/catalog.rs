//! Reads the scenario catalog for the list: each scenario file's name, phases, description
//! and inputs, or why it does not validate — every problem, as `orchestrate validate` finds
//! them — so that the palette never offers to run what `orchestrate run` would refuse.

use crate::definition::{Entry, EntrySource};
use crate::ops::Ctx;

use super::model::{InputField, ScenarioEntry};

/// Every scenario file of the catalog, sorted by name.
pub fn scenario_entries(ctx: &Ctx) -> Vec<ScenarioEntry> {
    ctx.catalog()
        .scenarios()
        .into_iter()
        .filter_map(|(name, source)| {
            let EntrySource::File(path) = &source else {
                return None;
            };
            let shown = path.display().to_string();
            let checked = crate::definition::read_definition(path)
                .map_err(|e| e.to_string())
                .and_then(|text| {
                    let entry = Entry {
                        name: name.clone(),
                        source: source.clone(),
                        text,
                    };
                    crate::ops::scenario::check(ctx, &entry).map_err(|e| why(&e))
                });
            Some(match checked {
                Ok(s) => {
                    let secret = crate::execute::secret_inputs(&s.as_workflow());
                    ScenarioEntry {
                        name,
                        path: shown,
                        phases: Some(s.phases.len()),
                        description: s.description,
                        error: None,
                        inputs: s
                            .inputs
                            .iter()
                            .map(|(n, spec)| InputField {
                                name: n.clone(),
                                required: spec.required,
                                default: spec.default.as_ref().map(crate::execute::input_text),
                                secret: secret.contains(n),
                                description: spec.description.clone(),
                                spec: spec.clone(),
                            })
                            .collect(),
                    }
                }
                Err(error) => ScenarioEntry {
                    name,
                    path: shown,
                    phases: None,
                    description: None,
                    error: Some(error),
                    inputs: Vec::new(),
                },
            })
        })
        .collect()
}

/// Why a definition does not validate, whole: the message and each problem, one a line.
fn why(e: &crate::ops::CommandError) -> String {
    let mut text = e.message.clone();
    for p in &e.errors {
        text.push('\n');
        if let Some(line) = p.line {
            text.push_str(&format!("line {line}: "));
        }
        text.push_str(&p.message);
    }
    text
}
