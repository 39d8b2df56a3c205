//! `cortex orchestrate ...`: scenarios.

use std::collections::BTreeSet;

use serde_json::json;

use super::args::OrchestrateCommand;
use super::context::Ctx;
use super::{CommandError, exit, out, out_json};
use crate::definition::{
    DefinitionError, Entry, EntrySource, Scenario, normalize_name, parse_scenario,
};
use crate::plan::parallel_opportunities;
use crate::render::{render_invalid, render_preview, render_valid};
use crate::validate::validate_scenario;

pub fn dispatch(ctx: &Ctx, cmd: OrchestrateCommand) -> Result<i32, CommandError> {
    match cmd {
        OrchestrateCommand::List => list(ctx),
        OrchestrateCommand::Validate { name, all } => validate(ctx, name.as_deref(), all),
        OrchestrateCommand::Preview { name } => preview(ctx, &name),
    }
}

fn known_agents(ctx: &Ctx) -> BTreeSet<String> {
    ctx.catalog()
        .agents()
        .into_iter()
        .filter_map(Result::ok)
        .map(|(a, _)| normalize_name(&a.name))
        .collect()
}

/// Parse and validate one scenario file.
fn check(ctx: &Ctx, entry: &Entry) -> Result<Scenario, CommandError> {
    let path = entry.display_path();
    let schema = ctx
        .catalog()
        .user_schema()
        .map_err(|e| CommandError::definition(&e, ctx.style))?;
    let verdict: Result<Scenario, DefinitionError> =
        parse_scenario(&path, &entry.text).and_then(|s| {
            validate_scenario(&path, &entry.text, &s, schema.as_ref(), &known_agents(ctx))
                .map(|()| s)
        });
    verdict.map_err(|e| {
        let mut err = CommandError::bad_input(format!(
            "{} is invalid ({} problem{})",
            path,
            e.problems.len(),
            if e.problems.len() == 1 { "" } else { "s" }
        ));
        err.detail = Some(render_invalid(&e));
        err
    })
}

fn list(ctx: &Ctx) -> Result<i32, CommandError> {
    let catalog = ctx.catalog();
    let mut rows = Vec::new();
    for (name, source) in catalog.scenarios() {
        let EntrySource::File(path) = &source else {
            continue;
        };
        let text = std::fs::read_to_string(path).unwrap_or_default();
        let parsed = parse_scenario(&name, &text).ok();
        rows.push(json!({
            "name": name,
            "path": path.display().to_string(),
            "valid": parsed.is_some(),
            "phases": parsed.as_ref().map(|s| s.phases.len()),
            "priority": parsed.as_ref().and_then(|s| s.priority.clone()),
            "type": parsed.as_ref().and_then(|s| s.kind.clone()),
            "description": parsed.as_ref().and_then(|s| s.description.clone()),
        }));
    }
    if ctx.json {
        out_json(&rows);
        return Ok(exit::OK);
    }
    if rows.is_empty() {
        out(&format!(
            "No scenarios in {}.\nCreate one there (see `cortex schema scenario`), then `cortex orchestrate validate NAME`.\n",
            catalog.scenarios_dir().display()
        ));
        return Ok(exit::OK);
    }
    let mut text = format!("Scenarios ({}):\n", catalog.scenarios_dir().display());
    let width = rows
        .iter()
        .filter_map(|r| r["name"].as_str())
        .map(str::len)
        .max()
        .unwrap_or(4);
    for r in &rows {
        let phases = r["phases"]
            .as_u64()
            .map_or("invalid".to_string(), |n| format!("{n} phases"));
        text.push_str(&format!(
            "  {:<width$}  {:<10}  {:<8}  {:<12}  {}\n",
            r["name"].as_str().unwrap_or_default(),
            phases,
            r["priority"].as_str().unwrap_or("-"),
            r["type"].as_str().unwrap_or("-"),
            r["description"].as_str().unwrap_or(""),
        ));
    }
    out(&text);
    Ok(exit::OK)
}

fn validate(ctx: &Ctx, name: Option<&str>, all: bool) -> Result<i32, CommandError> {
    let catalog = ctx.catalog();
    let entries: Vec<Entry> = if all {
        let mut v = Vec::new();
        for (n, _) in catalog.scenarios() {
            v.push(catalog.find_scenario(&n)?);
        }
        if v.is_empty() {
            return Err(CommandError::bad_input(format!(
                "no scenarios in {}",
                catalog.scenarios_dir().display()
            )));
        }
        v
    } else {
        vec![catalog.find_scenario(name.unwrap_or_default())?]
    };
    let mut text = String::new();
    let mut docs = Vec::new();
    let mut invalid = 0;
    for entry in &entries {
        match check(ctx, entry) {
            Ok(s) => {
                text.push_str(&render_valid(&entry.display_path(), &s));
                docs.push(
                    json!({"path": entry.display_path(), "valid": true, "phases": s.phases.len()}),
                );
            }
            Err(e) => {
                invalid += 1;
                text.push_str(e.detail.as_deref().unwrap_or_default());
                docs.push(
                    json!({"path": entry.display_path(), "valid": false, "errors": e.detail}),
                );
            }
        }
    }
    if ctx.json {
        out_json(&json!({"valid": invalid == 0, "scenarios": docs}));
    } else {
        out(&text);
    }
    Ok(if invalid == 0 {
        exit::OK
    } else {
        exit::BAD_INPUT
    })
}

fn preview(ctx: &Ctx, name: &str) -> Result<i32, CommandError> {
    let entry = ctx.catalog().find_scenario(name)?;
    let scenario = check(ctx, &entry)?;
    if ctx.json {
        out_json(&json!({
            "scenario": scenario,
            "estimated_phases": scenario.phases.len(),
            "parallel_opportunities": parallel_opportunities(&scenario),
        }));
    } else {
        out(&render_preview(&scenario));
    }
    Ok(exit::OK)
}
