//! Agent operations: list, status, activate and deactivate by hand (recorded in the log).

use serde_json::json;

use super::{CommandError, Ctx, Output, exit};
use crate::decide::AgentCommand;
use crate::definition::{Agent, AgentsConfig, HowItRuns, how_it_runs, normalize_name};
use crate::event::Operator;
use crate::execute::{Journal, SystemClock, UlidIds};

/// `agent activate|deactivate NAME`: record a hand activation in the agent registry.
pub fn set_active(
    ctx: &Ctx,
    name: &str,
    active: bool,
    by: Operator,
) -> Result<Output, CommandError> {
    let agent = ctx.catalog().find_agent(name)?;
    let verb = if active { "activate" } else { "deactivate" };
    let again = super::Retry::command(&["agent", verb])
        .operand(name)
        .by(&by);
    let command = if active {
        AgentCommand::Activate {
            agent: agent.name.clone(),
            by,
        }
    } else {
        AgentCommand::Deactivate {
            agent: agent.name.clone(),
            by,
        }
    };
    change(
        ctx,
        command,
        &agent,
        if active { "activated" } else { "deactivated" },
    )
    .map_err(|e| again.on_busy(ctx, e))
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

/// The configuration's `agents` block, which decides how an agent without a `command` runs.
fn agents_config(ctx: &Ctx) -> Result<AgentsConfig, CommandError> {
    Ok(ctx
        .catalog()
        .config_file()
        .map_err(|e| CommandError::definition(&e))?
        .agents)
}

/// How `agent` runs, for the JSON documents: `runner` (`command`, `claude` or `external`)
/// and, for Claude Code, `claude` {program, model}.
fn runner_fields(how: HowItRuns<'_>) -> (serde_json::Value, serde_json::Value) {
    let claude = match how {
        HowItRuns::Claude { program, model } => json!({"program": program, "model": model}),
        _ => serde_json::Value::Null,
    };
    (how.runner().into(), claude)
}

/// Claude Code as it runs an agent, in words: `Claude Code (program claude, model sonnet)`.
fn claude_words(program: &str, model: Option<&str>) -> String {
    format!(
        "Claude Code (program {}, {})",
        crate::render::shell_quote(&crate::render::one_line(program)),
        model.map_or_else(
            || "Claude Code's default model".to_string(),
            |m| format!("model {m}")
        )
    )
}

/// `agent list`: every agent, how it runs, and where it is active.
pub fn list(ctx: &Ctx) -> Result<Output, CommandError> {
    let activity = activity(ctx)?;
    let config = agents_config(ctx)?;
    let mut rows = Vec::new();
    let mut problems = Vec::new();
    for found in ctx.catalog().agents() {
        match found {
            Ok((agent, path)) => {
                let active = where_active(&activity, &agent);
                let path = path.display().to_string();
                let builtin = path.starts_with("builtin:");
                let (runner, claude) = runner_fields(how_it_runs(&agent, &config));
                rows.push(json!({
                    "name": agent.name, "description": agent.description,
                    "command": agent.command, "runner": runner, "claude": claude,
                    "path": path, "builtin": builtin,
                    "active": !active.is_empty(), "active_for": active,
                }));
            }
            Err(e) => problems.push(e.to_string()),
        }
    }
    let doc = json!({"agents": rows, "invalid": problems});
    if rows.is_empty() && problems.is_empty() {
        let text = format!(
            "No agents. Add Markdown files with YAML front matter (name, description, command) to {} or .claude/agents/.\n",
            ctx.home.join("agents").display()
        );
        return Ok(Output::new(doc, text, exit::OK));
    }
    let width = crate::render::name_width(&rows);
    let mut text = String::from("Agents:\n");
    for r in &rows {
        let state = if r["active"] == true {
            "active  "
        } else {
            "inactive"
        };
        // How it runs, as `--json`'s `runner` says, for every agent: one without a command
        // (a built-in's, most often) was shown as nothing but `[built-in]` (review m,
        // finding 7).
        let runs = match r["runner"].as_str() {
            Some("command") => "  [runs a command]".to_string(),
            Some("claude") => format!(
                "  [runs with Claude Code{}]",
                r["claude"]["model"]
                    .as_str()
                    .map(|m| format!(", model {m}"))
                    .unwrap_or_default()
            ),
            _ => "  [no command: its phases wait for a report]".to_string(),
        };
        let origin = if r["builtin"] == true {
            "  [built-in]"
        } else {
            ""
        };
        text.push_str(&format!(
            "  {}  {state}  {}{runs}{origin}\n",
            crate::render::padded(r["name"].as_str().unwrap_or_default(), width),
            r["description"].as_str().unwrap_or_default()
        ));
        // Where it is active, as `--json`'s `active_for` and `agent status` say: under it.
        for place in r["active_for"].as_array().into_iter().flatten() {
            let place = place.as_str().unwrap_or_default();
            let said = if place == crate::decide::BY_HAND {
                "active by hand".to_string()
            } else {
                format!("active for {place}")
            };
            text.push_str(&format!("  {}  {said}\n", " ".repeat(width)));
        }
    }
    text.push_str(&format!(
        "\nYour agents go in {} (or the project's .claude/agents/); a file of a built-in's name replaces it.\n",
        ctx.home.join("agents").display()
    ));
    for p in &problems {
        text.push_str(&format!("  invalid: {p}\n"));
    }
    Ok(Output::new(doc, text, exit::OK))
}

/// `agent status NAME`: its definition and where it is active.
pub fn status(ctx: &Ctx, name: &str) -> Result<Output, CommandError> {
    let agent = ctx.catalog().find_agent(name)?;
    let active = where_active(&activity(ctx)?, &agent);
    let config = agents_config(ctx)?;
    let how = how_it_runs(&agent, &config);
    let (runner, claude) = runner_fields(how);
    let doc = json!({
        "agent": agent, "runner": runner, "claude": claude,
        "active": !active.is_empty(), "active_for": active,
    });
    let mut text = format!(
        "Agent: {}\nDescription: {}\n",
        agent.name, agent.description
    );
    match how {
        HowItRuns::Command(command) => text.push_str(&format!("Command: {command}\n")),
        HowItRuns::Claude { program, model } => {
            text.push_str(&format!("Runs with: {}\n", claude_words(program, model)));
        }
        HowItRuns::External => {
            text.push_str("Command: (none: phases with this agent wait for a report)\n");
        }
    }
    if active.is_empty() {
        text.push_str("Status: inactive\n");
    } else {
        text.push_str("Status: active\n");
        for a in &active {
            text.push_str(&format!("  - {a}\n"));
        }
    }
    Ok(Output::new(doc, text, exit::OK))
}

fn change(
    ctx: &Ctx,
    command: AgentCommand,
    agent: &Agent,
    done: &str,
) -> Result<Output, CommandError> {
    let mut store = ctx.store(crate::definition::Durability::Normal)?;
    let clock = SystemClock;
    let mut ids = UlidIds::default();
    let events = match Journal::record_registry(&mut store, &clock, &mut ids, command) {
        Ok(events) => events,
        // Refused by the registry (an agent not active, or active already): the hint is the
        // agent's, not a run's. Before, it pointed to `workflow status RUN`.
        Err(crate::execute::JournalError::Decide(refused)) => {
            return Err(CommandError::bad_input(refused.to_string()).hint(
                super::Hint::from("nothing was recorded; ")
                    .command(&["agent", "status", &agent.name])
                    .then(" shows whether it is active and for which runs"),
            ));
        }
        Err(e) => return Err(e.into()),
    };
    Ok(Output::new(
        events,
        format!("Agent {} {done}.\n", agent.name),
        exit::OK,
    ))
}

/// Refuse a definition whose agents Claude Code runs when one of their bodies is longer than
/// one argument holds (`definition::claude_body_problem`): its file's located error, exit 2,
/// before anything is recorded. A `runner: claude` agent's file is refused when parsed; this
/// finds one the configured default runner (`agents.runner`) gives to Claude Code.
pub fn claude_body_too_long(
    ctx: &Ctx,
    agents: &crate::definition::ResolvedAgents,
) -> Result<(), CommandError> {
    let Some(setup) = &agents.claude else {
        return Ok(());
    };
    for (agent, path) in ctx.catalog().agents().into_iter().filter_map(Result::ok) {
        if !setup
            .runs
            .iter()
            .any(|n| normalize_name(n) == normalize_name(&agent.name))
        {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        if let Some(problem) = crate::definition::claude_body_problem(&agent.name, &text) {
            return Err(CommandError::definition(
                &crate::definition::DefinitionError {
                    path: path.display().to_string(),
                    text,
                    problems: vec![problem],
                },
            ));
        }
    }
    Ok(())
}

/// A warning when agents of a definition run with Claude Code and its program is not found
/// from here: the definition is valid, but its runs would fail before their first attempt
/// (pre-validation says the same).
pub fn claude_missing(ctx: &Ctx, agents: &crate::definition::ResolvedAgents) -> Vec<String> {
    agents
        .claude
        .as_ref()
        .and_then(|setup| crate::execute::claude_program_missing(&setup.program, &ctx.cwd))
        .into_iter()
        .collect()
}
