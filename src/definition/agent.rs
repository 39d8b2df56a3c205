//! Agent definitions: Markdown with YAML front matter, the format Claude Code uses for
//! sub-agents (`name`, `description`, optional `tools`, `model`, `color`), plus `command` or
//! `runner`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::workflow::precheck;
use super::{DefinitionError, Location, NameKind, Problem, check_name, locate};

/// A program cortex knows how to run an agent with, besides a plain `command`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AgentRunner {
    /// Claude Code, headless (`claude -p --output-format json`): the prompt on standard
    /// input, the agent's Markdown body as system prompt, its `model` and `tools` passed on.
    Claude,
}

impl AgentRunner {
    pub fn as_str(self) -> &'static str {
        match self {
            AgentRunner::Claude => "claude",
        }
    }
}

/// The front matter of an agent file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Agent {
    /// At most 100 characters, visible ones and plain spaces (no control or format
    /// characters), no surrounding spaces, not starting with `-`; no `/`, `\` or `..`.
    #[schemars(
        length(min = 1, max = 100),
        pattern(crate::definition::name::FILE_NAME_PATTERN)
    )]
    pub name: String,
    pub description: String,
    /// A command that does the agent's work: it receives the prompt on standard input.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// Run the agent with Claude Code (`claude`) instead of a `command`; without either, the
    /// configuration's default runner (`agents.runner` in `cortex.config.json`) applies, and
    /// without that the agent's work is external (a person or an agent reports it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runner: Option<AgentRunner>,
    /// Claude Code's tool list, as in its sub-agent files: a comma-separated string
    /// (`Read, Grep, Bash(git diff *)`) or a list of names. Run with Claude Code, these tools
    /// are allowed without asking (`--allowedTools`); handed over as a sub-agent, they are its
    /// tools. No entry may be empty or start with `-`.
    #[serde(
        default,
        deserialize_with = "super::finite::json_value",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(with = "Option<Tools>")]
    pub tools: Option<serde_json::Value>,
    /// Claude Code's model (`sonnet`, `opus`, `haiku`, `inherit`, or a full model name),
    /// passed as `--model` when the agent runs with Claude Code (`inherit`: the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(min = 1, max = 200),
        regex(pattern = r"^[A-Za-z0-9._:@/][A-Za-z0-9._:@/-]*$")
    )]
    pub model: Option<String>,
    /// Claude Code's display colour; kept for compatibility, not used by cortex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub color: Option<String>,
    /// The Markdown after the front matter: the agent's instructions (its system prompt when
    /// it runs with Claude Code).
    #[serde(skip)]
    pub body: String,
}

/// The two forms `tools` takes in Claude Code's sub-agent files (for the JSON Schema).
#[derive(JsonSchema)]
#[allow(dead_code)]
#[serde(untagged)]
enum Tools {
    /// Comma-separated: `Read, Grep, Glob`.
    Text(String),
    List(Vec<String>),
}

/// The longest model name accepted.
const MAX_MODEL_CHARS: usize = 200;

impl Agent {
    /// The tools of `tools`, each trimmed (a string is split at its commas). Only for an
    /// agent `parse_agent` accepted, whose `tools` has one of the two forms.
    pub fn tool_list(&self) -> Vec<String> {
        tool_list(self.tools.as_ref()).unwrap_or_default()
    }

    /// Whether this agent's model means "Claude Code's default" (none, or `inherit`).
    pub fn model_to_pass(&self) -> Option<&str> {
        self.model.as_deref().filter(|m| *m != "inherit")
    }
}

/// The tools of a `tools` value, or what is wrong with it.
fn tool_list(tools: Option<&serde_json::Value>) -> Result<Vec<String>, String> {
    let items: Vec<String> = match tools {
        None | Some(serde_json::Value::Null) => return Ok(Vec::new()),
        Some(serde_json::Value::String(s)) => s.split(',').map(str::to_string).collect(),
        Some(serde_json::Value::Array(list)) => list
            .iter()
            .map(|v| match v {
                serde_json::Value::String(s) => Ok(s.clone()),
                other => Err(format!("`tools` holds {other}, which is not a tool name")),
            })
            .collect::<Result<_, _>>()?,
        Some(other) => {
            return Err(format!(
                "`tools` is {other}: write a comma-separated string (`Read, Grep`) or a list of tool names"
            ));
        }
    };
    let mut out = Vec::new();
    for item in items {
        let tool = item.trim();
        if tool.is_empty() {
            return Err("`tools` has an empty entry".into());
        }
        if tool.starts_with('-') {
            return Err(format!(
                "the tool `{tool}` starts with `-`: it would be read as an option of `claude`"
            ));
        }
        if tool.chars().any(char::is_control) {
            return Err(format!("the tool {tool:?} holds a control character"));
        }
        out.push(tool.to_string());
    }
    Ok(out)
}

/// What is wrong with a `model`, if anything: it becomes one argument of `claude --model`.
fn model_problem(model: &str) -> Option<String> {
    // `[` `]`: Claude Code's own aliases `sonnet[1m]`, `opus[1m]` (the 1M-token context).
    let plain = |c: char| {
        c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '@' | '/' | '-' | '[' | ']')
    };
    if model.is_empty() || model.chars().count() > MAX_MODEL_CHARS {
        return Some(format!(
            "`model` must be 1 to {MAX_MODEL_CHARS} characters long"
        ));
    }
    if model.starts_with('-') || !model.chars().all(plain) {
        return Some(format!(
            "`model: {model}` is not a model name (letters, digits and `._:@/-[]`, not starting with `-`)"
        ));
    }
    None
}

/// How an agent file is written, the hint of a problem of its form.
const FRONT_MATTER_HINT: &str =
    "an agent file starts with `---`, YAML front matter (name, description, command), and `---`";

/// Parse an agent file: `---`, YAML front matter, `---`, then the Markdown body.
pub fn parse_agent(path: &str, text: &str) -> Result<(Agent, String), DefinitionError> {
    let text = super::without_bom(text);
    // The whole file, Markdown included, for its size and nesting; tags in the front matter.
    precheck(path, text, false)?;
    let fail = |message: &str, at: Option<Location>| DefinitionError {
        path: path.to_string(),
        text: text.to_string(),
        problems: vec![Problem::new(message, at).with_hint(FRONT_MATTER_HINT)],
    };
    let (front, body) = match split(text) {
        Split::Found { front, body } => (front, body),
        Split::NoFrontMatter => {
            return Err(fail(
                "missing YAML front matter: the file does not start with a line `---`",
                Some(Location { line: 1, column: 1 }),
            ));
        }
        Split::Unclosed => {
            return Err(fail(
                "the front matter opened with `---` on line 1 is never closed: add a line `---` after its last key, before the Markdown body",
                Some(Location { line: 1, column: 1 }),
            ));
        }
    };
    // Positions in the front matter are one line down in the file.
    if let Some(problem) = super::workflow::before_parsing(front, 1) {
        return Err(DefinitionError {
            path: path.to_string(),
            text: text.to_string(),
            problems: vec![problem],
        });
    }
    // Front matter holding only comments or blank lines is no mapping.
    if front
        .lines()
        .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#'))
    {
        return Err(fail(
            "the front matter is empty: an agent needs `name:` and `description:`",
            Some(Location { line: 2, column: 1 }),
        ));
    }
    // Read as a workflow is: every unknown key, value of the wrong type and key given twice
    // reported (each where it is), not only the first; what parses is checked beside them.
    let shift = |mut problems: Vec<Problem>| {
        for p in &mut problems {
            p.at = p.at.map(|l| Location {
                line: l.line + 1,
                column: l.column,
            });
            // A key given twice names the first one's line too (in the front matter).
            if let Some(hint) = &mut p.hint
                && let Some((before, rest)) = hint.split_once("(first at line ")
                && let Some((line, after)) = rest.split_once(',')
                && let Ok(line) = line.parse::<usize>()
            {
                *hint = format!("{before}(first at line {},{after}", line + 1);
            }
            if p.hint.is_none() {
                p.hint = Some(FRONT_MATTER_HINT.to_string());
            }
        }
        problems
    };
    let (agent, set_aside) = match super::workflow::parse_yaml_setting_aside::<Agent>(path, front) {
        Ok((agent, set_aside)) => (agent, shift(set_aside)),
        Err(e) => {
            return Err(DefinitionError {
                path: path.to_string(),
                text: text.to_string(),
                problems: shift(e.problems),
            });
        }
    };
    let mut agent = agent;
    if let Err(bad) = check_name(NameKind::Agent, &agent.name) {
        let mut problems = set_aside;
        problems.push(Problem::new(bad.problem, name_location(text)).with_hint(bad.fix));
        problems.sort_by_key(|p| (p.at.is_none(), p.at));
        return Err(DefinitionError {
            path: path.to_string(),
            text: text.to_string(),
            problems,
        });
    }
    let at = |key: &str| {
        locate(front, &[key.into()]).map(|l| Location {
            line: l.line + 1,
            column: l.column,
        })
    };
    let mut problems = set_aside;
    if agent.runner.is_some() && agent.command.is_some() {
        problems.push(
            Problem::new("an agent has either `command` or `runner`, not both", at("runner"))
                .with_hint("`command` runs any program with the prompt on standard input; `runner: claude` runs Claude Code: keep one"),
        );
    }
    // A secret assigned a value written out in the command (`API_KEY=sk-… ./agent`): a run
    // keeps its agents' commands in its log (`run_started`), so the value would be too, and
    // nothing would redact what the command prints of it; as in a step's `run:`.
    if let Some(command) = &agent.command {
        let found = super::secret_assignments(
            command,
            &crate::execute::is_secret_name,
            &crate::execute::may_be_secret,
        );
        for a in found {
            let (problem, fix) = super::assignment_problem(&a.name, "an agent's command", false);
            let place = at("command")
                .map(|at| super::within_scalar(text, at, command, a.start).unwrap_or(at));
            problems.push(Problem::new(problem, place).with_hint(fix));
        }
    }
    if let Err(problem) = tool_list(agent.tools.as_ref()) {
        problems.push(Problem::new(problem, at("tools")).with_hint(
            "write `tools: Read, Grep, Glob` or a list of names, as in Claude Code's sub-agent files",
        ));
    }
    if let Some(problem) = agent.model.as_deref().and_then(model_problem) {
        problems.push(Problem::new(problem, at("model")).with_hint(
            "write an alias (`sonnet`, `opus`, `haiku`, `inherit`) or a full model name",
        ));
    }
    if agent.runner == Some(super::AgentRunner::Claude) {
        problems.extend(claude_body_problem(&agent.name, text));
    }
    if !problems.is_empty() {
        problems.sort_by_key(|p| (p.at.is_none(), p.at));
        return Err(DefinitionError {
            path: path.to_string(),
            text: text.to_string(),
            problems,
        });
    }
    agent.body = body.to_string();
    Ok((agent, body.to_string()))
}

/// Why Claude Code could never be given the body of the agent file `text` (agent `name`), if
/// it could not: it is passed as one command-line argument (`--append-system-prompt`), which
/// holds at most `MAX_ARGUMENT_BYTES`, so every attempt would fail to start. Located at the
/// body's first line, with the fix. Asked of a `runner: claude` agent when its file is parsed,
/// and of one the configured default runner gives to Claude Code when a definition naming it
/// is loaded (`ops::agents::claude_body_too_long`).
pub fn claude_body_problem(name: &str, text: &str) -> Option<Problem> {
    let text = super::without_bom(text);
    let Split::Found { body, .. } = split(text) else {
        return None;
    };
    let prompt = body.trim();
    if prompt.len() <= super::limits::MAX_ARGUMENT_BYTES {
        return None;
    }
    // The body is the rest of the file: it starts on the line after the closing `---`.
    let start = text.len() - body.len();
    let line = text[..start].matches('\n').count() + 1;
    Some(
        Problem::new(
            format!(
                "the Markdown body of agent `{}` is {} bytes, and Claude Code (`runner: claude`, or the configured default runner) is given it as one command-line argument, which holds at most {} bytes",
                super::shown(name),
                prompt.len(),
                super::limits::MAX_ARGUMENT_BYTES
            ),
            Some(Location { line, column: 1 }),
        )
        .with_hint("shorten the body (keep long reference material in files the agent reads), or run the agent with `command:`, which gives it the prompt on standard input"),
    )
}

enum Split<'a> {
    Found { front: &'a str, body: &'a str },
    NoFrontMatter,
    Unclosed,
}

/// An agent file's front matter (which starts on its second line) and body.
fn split(text: &str) -> Split<'_> {
    let Some(rest) = text
        .strip_prefix("---\n")
        .or_else(|| text.strip_prefix("---\r\n"))
    else {
        return Split::NoFrontMatter;
    };
    // `---` right after the opening one: empty front matter, closed.
    if let Some(after) = rest.strip_prefix("---")
        && (after.is_empty() || after.starts_with('\n') || after.starts_with("\r\n"))
    {
        let body = after
            .strip_prefix('\n')
            .or_else(|| after.strip_prefix("\r\n"))
            .unwrap_or(after);
        return Split::Found { front: "", body };
    }
    match rest.find("\n---") {
        Some(i) => {
            let after = &rest[i + 4..];
            let body = after
                .strip_prefix('\n')
                .or_else(|| after.strip_prefix("\r\n"))
                .unwrap_or(after);
            Split::Found {
                front: &rest[..=i],
                body,
            }
        }
        None => Split::Unclosed,
    }
}

/// The `name:` an agent file's front matter writes, read line by line (for a file that does
/// not parse): a top-level `name:` line's value, unquoted; none when there is none.
pub(crate) fn peeked_name(text: &str) -> Option<String> {
    let text = super::without_bom(text);
    let mut lines = text.lines();
    if lines.next()?.trim_end() != "---" {
        return None;
    }
    let value = lines
        .take_while(|l| l.trim_end() != "---")
        .find_map(|l| l.strip_prefix("name:"))?;
    let value = value.split(" #").next().unwrap_or(value).trim();
    let value = value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .or_else(|| value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
        .unwrap_or(value);
    (!value.is_empty()).then(|| value.to_string())
}

/// Where the `name:` of an agent file's front matter is, in the file.
pub(crate) fn name_location(text: &str) -> Option<Location> {
    let Split::Found { front, .. } = split(text) else {
        return None;
    };
    locate(front, &["name".into()]).map(|l| Location {
        line: l.line + 1,
        column: l.column,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claude_code_agent_files_parse() {
        let text = "---\nname: planner\ndescription: Plans work\ntools: Read, Grep\nmodel: sonnet\ncommand: cat\n---\nYou plan.\n";
        let (agent, body) = parse_agent("planner.md", text).unwrap();
        assert_eq!(agent.name, "planner");
        assert_eq!(agent.command.as_deref(), Some("cat"));
        assert_eq!(body, "You plan.\n");
    }

    #[test]
    fn a_bad_agent_name_or_a_tag_is_located_in_the_file() {
        let err =
            parse_agent("a.md", "---\ndescription: b\nname: \"a\\u202eb\"\n---\n").unwrap_err();
        assert_eq!(err.problems[0].at, Some(Location { line: 3, column: 7 }));
        assert!(err.problems[0].message.contains("U+202E"), "{err}");
        let err = parse_agent(
            "a.md",
            "---\nname: a\ndescription: !!binary eA==\n---\n![img](x)\n",
        )
        .unwrap_err();
        assert_eq!(
            err.problems[0].at,
            Some(Location {
                line: 3,
                column: 14
            })
        );
        assert!(
            parse_agent(
                "a.md",
                "---\nname: a\ndescription: b\n---\n!not a tag in Markdown\n"
            )
            .is_ok()
        );
    }

    /// Claude Code's model names and aliases are taken as written: `sonnet[1m]` was refused
    /// (so the agent was not found at all), though `claude --model` takes it.
    #[test]
    fn claude_codes_model_aliases_with_a_context_suffix_are_model_names() {
        for model in [
            "sonnet[1m]",
            "opus[1m]",
            "claude-sonnet-4-5-20250929",
            "opusplan",
            "us.anthropic.claude-3-7-sonnet-20250219-v1:0",
        ] {
            let text = format!("---\nname: a\ndescription: b\nmodel: \"{model}\"\n---\n");
            let (agent, _) = parse_agent("a.md", &text).unwrap();
            assert_eq!(agent.model_to_pass(), Some(model));
        }
    }

    #[test]
    fn a_claude_runner_agent_gives_its_tools_model_and_body() {
        let text = "---\nname: lead\ndescription: Leads\nrunner: claude\ntools: Read, Bash(git diff *) ,Grep\nmodel: opus\n---\nYou lead.\n";
        let (agent, _) = parse_agent("lead.md", text).unwrap();
        assert_eq!(agent.runner, Some(AgentRunner::Claude));
        assert_eq!(agent.tool_list(), ["Read", "Bash(git diff *)", "Grep"]);
        assert_eq!(agent.model_to_pass(), Some("opus"));
        assert_eq!(agent.body, "You lead.\n");
        let listed = "---\nname: a\ndescription: b\ntools: [Read, Edit]\nmodel: inherit\n---\n";
        let (agent, _) = parse_agent("a.md", listed).unwrap();
        assert_eq!(agent.tool_list(), ["Read", "Edit"]);
        assert_eq!(agent.model_to_pass(), None);
    }

    #[test]
    fn tools_and_models_that_would_be_read_as_options_are_refused_where_written() {
        for (front, line, what) in [
            (
                "tools: Read, --dangerously-skip-permissions",
                4,
                "starts with `-`",
            ),
            ("tools: [Read, 3]", 4, "not a tool name"),
            ("tools: {a: b}", 4, "comma-separated"),
            ("tools: Read,,Grep", 4, "empty entry"),
            (
                "model: --dangerously-skip-permissions",
                4,
                "not a model name",
            ),
            ("model: son net", 4, "not a model name"),
            ("runner: claude\ncommand: cat", 4, "not both"),
            ("runner: codex", 4, "unknown variant"),
        ] {
            let text = format!("---\nname: a\ndescription: b\n{front}\n---\n");
            let err = parse_agent("a.md", &text).unwrap_err();
            assert_eq!(
                err.problems[0].at.map(|l| l.line),
                Some(line),
                "{front}: {err}"
            );
            assert!(err.problems[0].message.contains(what), "{front}: {err}");
        }
    }

    #[test]
    fn unknown_keys_are_located() {
        let err =
            parse_agent("a.md", "---\nname: a\ndescription: b\ncomand: x\n---\n").unwrap_err();
        assert_eq!(err.problems[0].at.map(|l| l.line), Some(4));
    }
}
