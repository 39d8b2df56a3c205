//! Reads the scenario catalog for the list: each scenario file's name, phases and
//! description, or why it does not parse (as `orchestrate list` does).

use crate::definition::{Catalog, EntrySource, parse_scenario};

use super::model::ScenarioEntry;

/// Every scenario file of the catalog, sorted by name.
pub fn scenario_entries(catalog: &Catalog) -> Vec<ScenarioEntry> {
    catalog
        .scenarios()
        .into_iter()
        .filter_map(|(name, source)| {
            let EntrySource::File(path) = source else {
                return None;
            };
            let parsed = crate::definition::read_definition(&path)
                .map_err(|e| e.to_string())
                .and_then(|text| {
                    parse_scenario(&path.display().to_string(), &text).map_err(|e| {
                        e.problems
                            .first()
                            .map_or_else(|| "invalid".to_string(), |p| p.message.clone())
                    })
                });
            Some(match parsed {
                Ok(s) => ScenarioEntry {
                    name,
                    path: path.display().to_string(),
                    phases: Some(s.phases.len()),
                    description: s.description,
                    error: None,
                },
                Err(error) => ScenarioEntry {
                    name,
                    path: path.display().to_string(),
                    phases: None,
                    description: None,
                    error: Some(error),
                },
            })
        })
        .collect()
}
