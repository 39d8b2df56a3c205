//! Which agent runs how — its own `command`, Claude Code (`runner: claude`, or the
//! configuration's default runner), or nobody (external work) — resolved once, at `run`, into
//! what `run_started` records, so that replay never reads agent files or the configuration.
//! How Claude Code is run (`agents.claude`: program, permission mode, model, args) is the
//! configuration's in force at each resume, recorded in `run_resumed.claude` where it changed.

use std::collections::{BTreeMap, BTreeSet};

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Agent, AgentRunner, AgentsConfig, ClaudeConfig, PermissionMode, normalize_name};

/// An agent as Claude Code sees it: the fields of a sub-agent in `claude --agents`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClaudeAgent {
    pub description: String,
    /// The agent file's Markdown body: its system prompt.
    pub prompt: String,
    /// Its tools (none: all, as Claude Code does for a sub-agent without `tools`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<String>,
    /// Its model as written (`inherit` included).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
}

/// How the agents of a run that run with Claude Code are run: the configuration's
/// `agents.claude` block and the agent files, as they were when the run started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClaudeSetup {
    pub program: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permission_mode: Option<PermissionMode>,
    /// `--model` for agents that name none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Further arguments, after cortex's own.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    /// The agents (as the definition names them) that run with Claude Code.
    pub runs: BTreeSet<String>,
    /// Every agent the definition names that was found, as Claude Code sees it: to run it, or
    /// to hand it over as a sub-agent of another agent of its phase.
    pub agents: BTreeMap<String, ClaudeAgent>,
}

impl ClaudeSetup {
    /// How Claude Code is run: the configuration's `agents.claude` block this setup holds.
    pub fn settings(&self) -> ClaudeConfig {
        ClaudeConfig {
            program: self.program.clone(),
            permission_mode: self.permission_mode,
            model: self.model.clone(),
            args: self.args.clone(),
        }
    }

    /// Run Claude Code as `settings` say from now on (a resume under a changed
    /// `agents.claude` block); which agents it runs, and as what, stay as at `run`.
    pub fn apply(&mut self, settings: &ClaudeConfig) {
        self.program.clone_from(&settings.program);
        self.permission_mode = settings.permission_mode;
        self.model.clone_from(&settings.model);
        self.args.clone_from(&settings.args);
    }

    /// The model to pass for `agent`: its own (unless `inherit`), else the configuration's.
    pub fn model_for(&self, agent: &str) -> Option<&str> {
        self.agents
            .get(agent)
            .and_then(|a| a.model.as_deref())
            .filter(|m| *m != "inherit")
            .or(self.model.as_deref())
    }
}

/// How each agent a definition names is run.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ResolvedAgents {
    /// Each agent, as the definition names it, and its `command` (none: Claude Code runs it,
    /// or its work is external).
    pub commands: BTreeMap<String, Option<String>>,
    /// Present when at least one agent runs with Claude Code.
    pub claude: Option<ClaudeSetup>,
}

impl ResolvedAgents {
    /// Whether the engine runs `agent` itself (a command or Claude Code), rather than waiting
    /// for a report.
    pub fn is_run(&self, agent: &str) -> bool {
        self.commands.get(agent).is_some_and(Option::is_some)
            || self.claude.as_ref().is_some_and(|c| c.runs.contains(agent))
    }
}

/// How an agent runs under the configuration's `agents` block, as a run would resolve it
/// (`resolve_agents`): what every view of the agent says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HowItRuns<'a> {
    /// Its own `command`, the prompt on standard input.
    Command(&'a str),
    /// Claude Code (`runner: claude`, or the configured default runner): `program`, and the
    /// model passed (its own unless `inherit`, else the configuration's; none: Claude Code's).
    Claude {
        program: &'a str,
        model: Option<&'a str>,
    },
    /// Nobody: a person or an agent reports its work.
    External,
}

impl HowItRuns<'_> {
    /// `command`, `claude` or `external`: the `runner` field of the JSON documents.
    pub fn runner(&self) -> &'static str {
        match self {
            HowItRuns::Command(_) => "command",
            HowItRuns::Claude { .. } => "claude",
            HowItRuns::External => "external",
        }
    }
}

/// How `agent` runs: its `command`; else Claude Code when its `runner`, or the configuration's
/// default runner, says so; else its work is external.
pub fn how_it_runs<'a>(agent: &'a Agent, config: &'a AgentsConfig) -> HowItRuns<'a> {
    if let Some(command) = &agent.command {
        return HowItRuns::Command(command);
    }
    match agent.runner.or(config.runner) {
        Some(AgentRunner::Claude) => HowItRuns::Claude {
            program: &config.claude.program,
            model: agent
                .model
                .as_deref()
                .filter(|m| *m != "inherit")
                .or(config.claude.model.as_deref()),
        },
        None => HowItRuns::External,
    }
}

/// Resolve the agents a definition names (`names`, as written) against the agent files found
/// (`found`, matched forgivingly) and the configuration's `agents` block. An agent with a
/// `command` runs it; one with `runner: claude`, or with neither while the configuration
/// names a default runner, runs with Claude Code; any other (or one not found) is external.
pub fn resolve_agents(
    names: impl IntoIterator<Item = String>,
    found: &[Agent],
    config: &AgentsConfig,
) -> ResolvedAgents {
    let mut commands = BTreeMap::new();
    let mut runs = BTreeSet::new();
    let mut agents = BTreeMap::new();
    for name in names {
        let agent = found
            .iter()
            .find(|a| normalize_name(&a.name) == normalize_name(&name));
        let Some(agent) = agent else {
            commands.insert(name, None);
            continue;
        };
        if matches!(how_it_runs(agent, config), HowItRuns::Claude { .. }) {
            runs.insert(name.clone());
        }
        agents.insert(
            name.clone(),
            ClaudeAgent {
                description: agent.description.clone(),
                prompt: agent.body.clone(),
                tools: agent.tool_list(),
                model: agent.model.clone(),
            },
        );
        commands.insert(name, agent.command.clone());
    }
    let claude = (!runs.is_empty()).then(|| ClaudeSetup {
        program: config.claude.program.clone(),
        permission_mode: config.claude.permission_mode,
        model: config.claude.model.clone(),
        args: config.claude.args.clone(),
        runs,
        agents,
    });
    ResolvedAgents { commands, claude }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::definition::parse_agent;

    fn agent(front: &str) -> Agent {
        parse_agent("a.md", &format!("---\n{front}\n---\nBody of it.\n"))
            .unwrap()
            .0
    }

    #[test]
    fn a_command_wins_then_the_agent_s_runner_then_the_configured_default() {
        let found = [
            agent("name: scribe\ndescription: d\ncommand: cat"),
            agent("name: lead\ndescription: d\nrunner: claude\nmodel: opus"),
            agent("name: helper\ndescription: d"),
        ];
        let names = || ["Scribe", "lead", "helper", "ghost"].map(String::from);
        let plain = resolve_agents(names(), &found, &AgentsConfig::default());
        assert_eq!(plain.commands["Scribe"].as_deref(), Some("cat"));
        assert!(plain.is_run("Scribe") && plain.is_run("lead"));
        assert!(!plain.is_run("helper") && !plain.is_run("ghost"));
        let setup = plain.claude.unwrap();
        assert_eq!(setup.runs, BTreeSet::from(["lead".to_string()]));
        assert_eq!(setup.agents["helper"].prompt, "Body of it.\n");
        assert_eq!(setup.model_for("lead"), Some("opus"));
        let config = AgentsConfig {
            runner: Some(AgentRunner::Claude),
            ..AgentsConfig::default()
        };
        let defaulted = resolve_agents(names(), &found, &config);
        assert!(defaulted.is_run("helper") && !defaulted.is_run("ghost"));
        assert!(!defaulted.claude.unwrap().runs.contains("Scribe"));
        let none = resolve_agents(["Scribe".to_string()], &found, &AgentsConfig::default());
        assert_eq!(none.claude, None);
    }
}
