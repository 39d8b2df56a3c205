//! Checks a parsed scenario: required fields (the user schema's, or name/description/phases),
//! enums, conditions and their targets, agents, durations, and the absence of cycles.

use std::collections::BTreeSet;

use crate::definition::{
    Condition, DefinitionError, Location, Problem, Scenario, Seg, UserSchema, locate,
    normalize_name,
};
use crate::plan::{dependencies, find_cycle};

fn at(text: &str, path: &[Seg]) -> Option<Location> {
    (0..=path.len())
        .rev()
        .find_map(|n| locate(text, &path[..n]))
}

/// Every problem of a scenario, each located; `agents` holds the known agent names
/// (normalized).
pub fn validate_scenario(
    path: &str,
    text: &str,
    scenario: &Scenario,
    user_schema: Option<&UserSchema>,
    agents: &BTreeSet<String>,
) -> Result<(), DefinitionError> {
    let mut problems = Vec::new();
    let mut problem = |p: &[Seg], message: String| {
        problems.push(Problem::new(message, at(text, p)));
    };
    let default_required = [
        "name".to_string(),
        "description".to_string(),
        "phases".to_string(),
    ];
    let required = user_schema.map_or(&default_required[..], |s| &s.required[..]);
    for field in required {
        let missing = match field.as_str() {
            "name" => scenario.name.trim().is_empty(),
            "description" => scenario
                .description
                .as_deref()
                .is_none_or(|d| d.trim().is_empty()),
            "phases" => scenario.phases.is_empty(),
            "type" => scenario.kind.is_none(),
            "priority" => scenario.priority.is_none(),
            "max_parallel" => scenario.max_parallel.is_none(),
            _ => false,
        };
        if missing {
            problem(&[], format!("Missing required field: {field}"));
        }
    }
    if let Some(schema) = user_schema {
        for (field, value, path) in [
            ("type", scenario.kind.as_deref(), "type"),
            ("priority", scenario.priority.as_deref(), "priority"),
        ] {
            if let (Some(rule), Some(v)) = (schema.fields.get(field), value)
                && !rule.allowed.is_empty()
                && !rule.allowed.iter().any(|a| a == v)
            {
                problem(
                    &[path.into()],
                    format!(
                        "Invalid {field}: {v} (allowed: {})",
                        rule.allowed.join(", ")
                    ),
                );
            }
        }
    }
    if scenario.max_parallel == Some(0) {
        problem(
            &["max_parallel".into()],
            "`max_parallel` must be at least 1".into(),
        );
    }
    let names: BTreeSet<&str> = scenario.phases.iter().map(|p| p.name.as_str()).collect();
    let mut seen = BTreeSet::new();
    for (i, phase) in scenario.phases.iter().enumerate() {
        let base: Vec<Seg> = vec!["phases".into(), Seg::Index(i)];
        let key = |k: &str| [base.as_slice(), &[Seg::Key(k.to_string())]].concat();
        if phase.name.trim().is_empty() || phase.name.chars().any(char::is_control) {
            problem(
                &key("name"),
                "a phase needs a non-empty name without control characters".into(),
            );
        } else if !seen.insert(phase.name.as_str()) {
            problem(
                &key("name"),
                format!("Duplicate phase name: {}", phase.name),
            );
        }
        match phase.parsed_condition() {
            Err(e) => problem(&key("condition"), e),
            Ok(Condition::After(deps)) => {
                for d in deps {
                    if !names.contains(d.as_str()) {
                        problem(
                            &key("condition"),
                            format!("Unknown condition: after:{d} (no phase named `{d}`)"),
                        );
                    }
                }
            }
            Ok(c) => {
                let word = if c == Condition::Manual {
                    "manual"
                } else {
                    "auto"
                };
                if let Some(rule) = user_schema.and_then(|s| s.fields.get("condition"))
                    && !rule.allowed.is_empty()
                    && phase.condition.is_some()
                    && !rule.allowed.iter().any(|a| a == word)
                {
                    problem(
                        &key("condition"),
                        format!(
                            "Invalid condition: {word} (allowed: {}, after:PHASE)",
                            rule.allowed.join(", ")
                        ),
                    );
                }
            }
        }
        for (j, agent) in phase.agents.iter().enumerate() {
            if !agents.contains(&normalize_name(agent)) {
                problem(
                    &[key("agents").as_slice(), &[Seg::Index(j)]].concat(),
                    format!("Agent not found: {agent}"),
                );
            }
        }
        if let Some(t) = &phase.timeout {
            match t.to_duration() {
                Err(e) => problem(&key("timeout"), e),
                Ok(d) if d.is_zero() => {
                    problem(&key("timeout"), "`timeout` must be more than 0".into())
                }
                Ok(_) => {}
            }
        }
        if let Some(b) = phase.retry.as_ref().and_then(|r| r.backoff.as_ref())
            && let Err(e) = b.to_duration()
        {
            problem(&[key("retry").as_slice(), &["backoff".into()]].concat(), e);
        }
    }
    if let Some(cycle) = find_cycle(&dependencies(scenario)) {
        let names: Vec<&str> = cycle
            .iter()
            .map(|&i| scenario.phases[i].name.as_str())
            .collect();
        problem(
            &["phases".into(), Seg::Index(cycle[0]), "condition".into()],
            format!("Circular dependency: {}", names.join(" → ")),
        );
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(DefinitionError {
            path: path.to_string(),
            text: text.to_string(),
            problems,
        })
    }
}
