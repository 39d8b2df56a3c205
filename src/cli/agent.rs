//! `cortex agent ...`: agent definitions and which are active (by a phase, or by hand).

use serde_json::json;

use super::args::AgentCommandArgs;
use super::context::{Ctx, operator};
use super::{CommandError, exit, out, out_json};
use crate::decide::AgentCommand;
use crate::definition::{Agent, normalize_name};
use crate::execute::{Journal, SystemClock, UlidIds};

pub fn dispatch(ctx: &Ctx, cmd: AgentCommandArgs) -> Result<i32, CommandError> {
    match cmd {
        AgentCommandArgs::List => list(ctx),
        AgentCommandArgs::Status { name } => status(ctx, &name),
        AgentCommandArgs::Activate { name, audit } => {
            let agent = ctx.catalog().find_agent(&name)?;
            change(
                ctx,
                AgentCommand::Activate {
                    agent: agent.name.clone(),
                    by: operator(&audit),
                },
                &agent,
                "activated",
            )
        }
        AgentCommandArgs::Deactivate { name, audit } => {
            let agent = ctx.catalog().find_agent(&name)?;
            change(
                ctx,
                AgentCommand::Deactivate {
                    agent: agent.name.clone(),
                    by: operator(&audit),
                },
                &agent,
                "deactivated",
            )
        }
    }
}

/// Where each agent is active: (agent, phase or "(by hand)", run id or "").
fn activity(ctx: &Ctx) -> Result<Vec<(String, String, String)>, CommandError> {
    let Some(store) = ctx.reading_store()? else {
        return Ok(Vec::new());
    };
    Ok(crate::ops::agent_activity(&store)?
        .into_iter()
        .map(|a| (a.agent, a.phase, a.run_id.unwrap_or_default()))
        .collect())
}

fn where_active(activity: &[(String, String, String)], agent: &Agent) -> Vec<String> {
    activity
        .iter()
        .filter(|(a, _, _)| normalize_name(a) == normalize_name(&agent.name))
        .map(|(_, phase, run)| {
            if run.is_empty() {
                phase.clone()
            } else {
                format!("{phase} in run {run}")
            }
        })
        .collect()
}

fn list(ctx: &Ctx) -> Result<i32, CommandError> {
    let activity = activity(ctx)?;
    let mut rows = Vec::new();
    let mut problems = Vec::new();
    for found in ctx.catalog().agents() {
        match found {
            Ok((agent, path)) => {
                let active = where_active(&activity, &agent);
                rows.push(json!({
                    "name": agent.name, "description": agent.description,
                    "command": agent.command, "path": path.display().to_string(),
                    "active": !active.is_empty(), "active_for": active,
                }));
            }
            Err(e) => problems.push(e.to_string()),
        }
    }
    if ctx.json {
        out_json(&json!({"agents": rows, "invalid": problems}));
        return Ok(exit::OK);
    }
    if rows.is_empty() && problems.is_empty() {
        out(&format!(
            "No agents. Add Markdown files with YAML front matter (name, description, command) to {} or .claude/agents/.\n",
            ctx.home.join("agents").display()
        ));
        return Ok(exit::OK);
    }
    let width = super::name_width(&rows);
    let mut text = String::from("Agents:\n");
    for r in &rows {
        let state = if r["active"] == true {
            "active  "
        } else {
            "inactive"
        };
        let runs = if r["command"].is_null() {
            ""
        } else {
            "  [runs a command]"
        };
        text.push_str(&format!(
            "  {:<width$}  {state}  {}{runs}\n",
            r["name"].as_str().unwrap_or_default(),
            r["description"].as_str().unwrap_or_default()
        ));
    }
    for p in &problems {
        text.push_str(&format!("  invalid: {p}\n"));
    }
    out(&text);
    Ok(exit::OK)
}

fn status(ctx: &Ctx, name: &str) -> Result<i32, CommandError> {
    let agent = ctx.catalog().find_agent(name)?;
    let active = where_active(&activity(ctx)?, &agent);
    if ctx.json {
        out_json(&json!({"agent": agent, "active": !active.is_empty(), "active_for": active}));
        return Ok(exit::OK);
    }
    let mut text = format!(
        "Agent: {}\nDescription: {}\n",
        agent.name, agent.description
    );
    text.push_str(&format!(
        "Command: {}\n",
        agent
            .command
            .as_deref()
            .unwrap_or("(none: phases with this agent wait for a report)")
    ));
    if active.is_empty() {
        text.push_str("Status: inactive\n");
    } else {
        text.push_str("Status: active\n");
        for a in &active {
            text.push_str(&format!("  - {a}\n"));
        }
    }
    out(&text);
    Ok(exit::OK)
}

fn change(
    ctx: &Ctx,
    command: AgentCommand,
    agent: &Agent,
    done: &str,
) -> Result<i32, CommandError> {
    let mut store = ctx.store(crate::definition::Durability::Normal)?;
    let clock = SystemClock;
    let mut ids = UlidIds::default();
    let events = Journal::record_registry(&mut store, &clock, &mut ids, command)?;
    if ctx.json {
        out_json(&events);
    } else {
        out(&format!("Agent {} {done}.\n", agent.name));
    }
    Ok(exit::OK)
}
