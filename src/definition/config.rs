//! `cortex.config.json`: the seed's `workflow` block, every key honoured, and the `agents`
//! block (how agents without a `command` are run).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{AgentRunner, DefinitionError, Location, Problem, limits, locate_json};

/// How hard an append tries to survive a crash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Durability {
    /// WAL with synchronous=NORMAL: a killed process loses nothing; a power loss may lose the
    /// last commits (never corrupts).
    #[default]
    Normal,
    /// WAL with synchronous=FULL: every commit is fsynced; survives power loss.
    Full,
}

/// When a completed step becomes a resume point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CheckpointFrequency {
    /// Every completed step.
    #[default]
    PerStep,
    /// Every completed phase; for a workflow, whose steps are its phases, every step.
    PerPhase,
    /// Only steps marked `checkpoint: true`.
    Manual,
}

/// Engine settings (the `workflow` block of `cortex.config.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Record checkpoints; without them `resume` starts again from the first step.
    pub enable_checkpoints: bool,
    pub checkpoint_frequency: CheckpointFrequency,
    /// Allow `on_failure: rollback` and `resume --rollback-to`.
    pub enable_rollback: bool,
    /// Retries after the first attempt, for steps that do not set their own: 0 to 100.
    #[schemars(range(max = 100))]
    pub max_retry_attempts: u32,
    /// Limit on the time a run is driven, in seconds: 0 (none) to 2592000 (30 days).
    #[schemars(range(max = 2_592_000))]
    pub timeout_seconds: u64,
    /// Upper bound on phases running at once (scenarios): 1 to 1024.
    #[schemars(range(min = 1, max = 1024))]
    pub max_parallel: u32,
    pub durability: Durability,
}

impl Default for Config {
    /// The values of the seed's example configuration.
    fn default() -> Self {
        Config {
            enable_checkpoints: true,
            checkpoint_frequency: CheckpointFrequency::PerStep,
            enable_rollback: true,
            max_retry_attempts: 3,
            timeout_seconds: 3600,
            max_parallel: 4,
            durability: Durability::Normal,
        }
    }
}

/// Claude Code's permission modes (`claude --permission-mode`), as its CLI reference lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum PermissionMode {
    /// Ask before tools that need permission; headless, nobody answers, so they are refused
    /// unless the agent's `tools` allow them.
    #[serde(rename = "default")]
    Default,
    /// Accept file edits without asking.
    #[serde(rename = "acceptEdits")]
    AcceptEdits,
    /// Read-only: analyse and plan, change nothing.
    #[serde(rename = "plan")]
    Plan,
    /// Let Claude Code decide which actions need approval.
    #[serde(rename = "auto")]
    Auto,
    /// Refuse every tool that is not allowed in advance.
    #[serde(rename = "dontAsk")]
    DontAsk,
    /// Skip every permission check: only in a sandbox.
    #[serde(rename = "bypassPermissions")]
    BypassPermissions,
}

impl PermissionMode {
    /// The value of `--permission-mode`.
    pub fn as_str(self) -> &'static str {
        match self {
            PermissionMode::Default => "default",
            PermissionMode::AcceptEdits => "acceptEdits",
            PermissionMode::Plan => "plan",
            PermissionMode::Auto => "auto",
            PermissionMode::DontAsk => "dontAsk",
            PermissionMode::BypassPermissions => "bypassPermissions",
        }
    }
}

/// How Claude Code is run for agents that run with it (`runner: claude`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct ClaudeConfig {
    /// The program: a name looked up on `PATH`, or an absolute path (tests use a stand-in
    /// that follows Claude Code's documented output).
    #[schemars(length(min = 1))]
    pub program: String,
    /// `--permission-mode` for every run (absent: Claude Code's own default, from its settings).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permission_mode: Option<PermissionMode>,
    /// `--model` for agents that name none (or `inherit`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Further arguments, passed after cortex's own (e.g. `["--max-turns", "30"]`). A flag
    /// cortex writes itself (`-p`, `--output-format`, `--resume`, `--model`, ...) is refused:
    /// each has its own setting, or is cortex's to set.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
}

impl Default for ClaudeConfig {
    fn default() -> Self {
        ClaudeConfig {
            program: "claude".into(),
            permission_mode: None,
            model: None,
            args: Vec::new(),
        }
    }
}

/// How agents are run (the `agents` block of `cortex.config.json`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct AgentsConfig {
    /// The runner of agents that have neither a `command` nor a `runner` of their own; absent,
    /// such an agent's work is external (a person or an agent reports it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runner: Option<AgentRunner>,
    /// How Claude Code is run.
    pub claude: ClaudeConfig,
}

/// The whole file.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// Editors may point this at `schemas/config.schema.json`.
    #[serde(rename = "$schema", default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    #[serde(default)]
    pub workflow: Config,
    #[serde(default)]
    pub agents: AgentsConfig,
    /// Where the event log is (SPEC §9), unless `--db` or CORTEX_DB says: a PostgreSQL URL
    /// (`postgres://user@host:port/dbname`) or libpq `key=value` string, or a SQLite file
    /// (`sqlite:PATH` or a path; relative to the home). Default: the home's `cortex.db`.
    /// An empty (or blank) value is not set, as an empty CORTEX_DB or `--db ""` is: the
    /// default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db: Option<String>,
}

/// Parse `cortex.config.json`; a bad key or value is an error naming it, with its position.
pub fn parse_config(path: &str, text: &str) -> Result<Config, DefinitionError> {
    parse_config_file(path, text).map(|file| file.workflow)
}

/// Parse the whole of `cortex.config.json`: engine settings, agent runners and where the log is.
pub fn parse_config_file(path: &str, text: &str) -> Result<ConfigFile, DefinitionError> {
    let text = super::without_bom(text);
    super::workflow::precheck(path, text, false)?;
    const KEYS: &str = "keys of `workflow`: enable_checkpoints, checkpoint_frequency \
        (per_step|per_phase|manual), enable_rollback, max_retry_attempts, timeout_seconds, \
        max_parallel, durability (normal|full); of `agents`: runner (claude), claude {program, \
        permission_mode, model, args}";
    let error = |problem: Problem| DefinitionError {
        path: path.to_string(),
        text: text.to_string(),
        problems: vec![problem.with_hint(KEYS)],
    };
    // serde reads a struct from a sequence too (`["…", {…}]` would be taken field by field).
    let body = text.trim_start_matches(['\u{feff}', ' ', '\t', '\r', '\n']);
    if body.is_empty() {
        return Err(error(Problem::new(
            "the file is empty: write `{}` for the defaults, or delete it",
            Some(Location { line: 1, column: 1 }),
        )));
    }
    if !body.starts_with('{') {
        let before = &text[..text.len() - body.len()];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
        return Err(error(Problem::new(
            "the configuration must be one JSON object (`{\"workflow\": {…}, \"agents\": {…}, \"db\": …}`)",
            Some(Location { line, column }),
        )));
    }
    let fail = |e: serde_path_to_error::Error<serde_json::Error>| {
        let key = e.path().to_string();
        let e = e.into_inner();
        let message = e.to_string();
        let message = message.split(" at line ").next().unwrap_or_default();
        // serde_json's column is 0 before a line's first character (an empty file).
        let theirs = (e.line() > 0).then_some(Location {
            line: e.line(),
            column: e.column().max(1),
        });
        // (serde_json calls an enum given a number a syntax error too: "expected value".)
        if (e.is_syntax() || e.is_eof())
            && serde_json::from_str::<serde::de::IgnoredAny>(text).is_err()
        {
            // Broken JSON: serde_json's place is the place, and the key serde_path_to_error
            // was reading then is no key of the file (`workflow.?` after a trailing comma).
            return error(Problem::new(message, theirs));
        }
        // serde_json's place is past what it read (the `:` after an unknown key, the end of
        // a value): the key or the value named is found instead.
        let at = place(text, &key, message).or(theirs);
        error(Problem::new(type_problem(&key, message), at).with_width(json_width(text, at)))
    };
    let first =
        match serde_path_to_error::deserialize(&mut serde_json::Deserializer::from_str(text)) {
            Ok(file) => Ok(file),
            // A key given twice: each where it is given again (serde_json names the object
            // it is in, and places it there), read on with the last of them.
            Err(e) if e.inner().to_string().starts_with("duplicate field `") => {
                match super::workflow::duplicate_problems(text) {
                    dups if dups.is_empty() => Err((Some(e.path().to_string()), fail(e))),
                    dups => Err((
                        None,
                        DefinitionError {
                            path: path.to_string(),
                            text: text.to_string(),
                            problems: dups.into_iter().map(|p| p.with_width(None)).collect(),
                        },
                    )),
                }
            }
            Err(e) => Err((Some(e.path().to_string()), fail(e))),
        };
    let (file, mut problems): (ConfigFile, Vec<Problem>) = match first {
        Ok(file) => (file, Vec::new()),
        Err((key, first)) => set_aside(text, key, first)?,
    };
    problems.extend(range_problems(&file.workflow, text));
    problems.extend(claude_problems(&file.agents.claude, text));
    for p in problems.iter_mut().filter(|p| p.width.is_none()) {
        p.width = json_width(text, p.at);
    }
    if !problems.is_empty() {
        problems.sort_by_key(|p| (p.at.is_none(), p.at));
        return Err(DefinitionError {
            path: path.to_string(),
            text: text.to_string(),
            problems,
        });
    }
    Ok(file)
}

/// The configuration read again without each bad value (its default taken instead), so that
/// every bad value is reported at once, not only the first: the file read so and the problems
/// of the values set aside. `first`, at `key`, is the first (no key: nothing to set aside, a
/// key given twice read with its last value); a file that is no JSON object, or an error that
/// names no key, is that error alone.
fn set_aside(
    text: &str,
    key: Option<String>,
    first: DefinitionError,
) -> Result<(ConfigFile, Vec<Problem>), DefinitionError> {
    let Ok(mut value) = serde_json::from_str::<serde_json::Value>(text) else {
        return Err(first);
    };
    let mut problems = first.problems.clone();
    let mut key = key;
    for _ in 0..64 {
        if let Some(key) = &key {
            // Only a key of an object: its default is taken in its place.
            let (parent, last) = key.rsplit_once('.').unwrap_or(("", key.as_str()));
            let mut at = &mut value;
            for k in parent.split('.').filter(|k| !k.is_empty()) {
                match at.get_mut(k) {
                    Some(v) => at = v,
                    None => return Err(first),
                }
            }
            if last.is_empty()
                || last.contains('[')
                || at.as_object_mut().and_then(|o| o.remove(last)).is_none()
            {
                return Err(first);
            }
        }
        match serde_path_to_error::deserialize::<_, ConfigFile>(&value) {
            Ok(file) => return Ok((file, problems)),
            Err(e) => {
                let next = e.path().to_string();
                let message = e.into_inner().to_string();
                problems.push(Problem::new(
                    type_problem(&next, &message),
                    place(text, &next, &message),
                ));
                key = Some(next);
            }
        }
    }
    Err(first)
}

/// How many characters the JSON value (or key) starting at `at` spans on its line: a string
/// to its closing quote, a number or word to its end, an object or array to its closing
/// bracket (its opening one alone when that is on another line). A caret's width: the
/// default, up to the next `:`, ran over the keys after a value written on the same line.
fn json_width(text: &str, at: Option<Location>) -> Option<usize> {
    let at = at?;
    let line = text.lines().nth(at.line.checked_sub(1)?)?;
    let rest: Vec<char> = line.chars().skip(at.column.checked_sub(1)?).collect();
    match rest.first()? {
        '"' => {
            let mut escaped = false;
            for (i, c) in rest.iter().enumerate().skip(1) {
                match c {
                    _ if escaped => escaped = false,
                    '\\' => escaped = true,
                    '"' => return Some(i + 1),
                    _ => {}
                }
            }
            None
        }
        '{' | '[' => {
            let (mut depth, mut quoted, mut escaped) = (0usize, false, false);
            for (i, c) in rest.iter().enumerate() {
                match c {
                    _ if escaped => escaped = false,
                    '\\' if quoted => escaped = true,
                    '"' => quoted = !quoted,
                    '{' | '[' if !quoted => depth += 1,
                    '}' | ']' if !quoted => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(i + 1);
                        }
                    }
                    _ => {}
                }
            }
            Some(1)
        }
        _ => {
            let n = rest
                .iter()
                .take_while(|c| !matches!(c, ',' | '}' | ']' | ' ' | '\t' | '\r'))
                .count();
            (n > 0).then_some(n)
        }
    }
}

/// Where the problem serde reports at `key` is: an unknown key at the key itself, a bad value
/// at the value's first character.
fn place(text: &str, key: &str, message: &str) -> Option<Location> {
    let mut segs = super::locate::serde_path(key)?;
    if let Some(rest) = message.strip_prefix("unknown field `") {
        // The path may stop at the object the key is in.
        let field = rest.split_once('`').map(|(f, _)| f)?;
        if segs.last() != Some(&super::Seg::from(field)) {
            segs.push(super::Seg::from(field));
        }
        super::locate::locate_key(text, &segs)
    } else if segs.is_empty() {
        None
    } else {
        // An object written as a list is read item by item (`workflow[0]`): the list is named.
        let base = key.split_once('[').map_or(key, |(b, _)| b);
        if ACCEPTED
            .iter()
            .any(|(k, a)| *k == base && a.starts_with("an object"))
        {
            segs.retain(|s| !matches!(s, super::Seg::Index(_)));
        }
        locate_json(text, &segs)
    }
}

/// What each key of the file accepts, in words.
const ACCEPTED: &[(&str, &str)] = &[
    ("$schema", "a string (the schema's path or URL)"),
    ("workflow", "an object of engine settings"),
    ("workflow.enable_checkpoints", "true or false"),
    (
        "workflow.checkpoint_frequency",
        "\"per_step\", \"per_phase\" or \"manual\"",
    ),
    ("workflow.enable_rollback", "true or false"),
    (
        "workflow.max_retry_attempts",
        "a whole number from 0 to 100",
    ),
    (
        "workflow.timeout_seconds",
        "a whole number of seconds from 0 (no limit) to 2592000 (30 days)",
    ),
    ("workflow.max_parallel", "a whole number from 1 to 1024"),
    ("workflow.durability", "\"normal\" or \"full\""),
    ("agents", "an object ({\"runner\": …, \"claude\": {…}})"),
    ("agents.runner", "\"claude\""),
    (
        "agents.claude",
        "an object ({\"program\": …, \"permission_mode\": …, \"model\": …, \"args\": […]})",
    ),
    (
        "agents.claude.program",
        "a string: a program name or an absolute path",
    ),
    (
        "agents.claude.permission_mode",
        "\"default\", \"acceptEdits\", \"plan\", \"auto\", \"dontAsk\" or \"bypassPermissions\"",
    ),
    ("agents.claude.model", "a string: a model alias or name"),
    ("agents.claude.args", "a list of strings"),
    ("db", "a string: a PostgreSQL URL or a SQLite path"),
];

/// serde's account of a value of the wrong type or range (`invalid value: integer \`-1\`,
/// expected u32`) named Rust's types and not the key. It names the key (`key`, serde's path
/// to it) and what the key accepts in words, and what was written instead; another problem
/// (an unknown key, a broken file) is kept as serde says it, after its key.
fn type_problem(key: &str, message: &str) -> String {
    let wrote = ["invalid type: ", "invalid value: "]
        .iter()
        .find_map(|p| message.strip_prefix(p))
        .and_then(|rest| rest.split_once(", expected"))
        .map(|(got, _)| written(got))
        .or_else(|| {
            // An enum's: "unknown variant `daily`, expected one of …".
            let rest = message.strip_prefix("unknown variant `")?;
            let (got, _) = rest.split_once("`, expected")?;
            Some(format!("\"{got}\""))
        });
    // An item of a list (`agents.claude.args[1]`), or a block written as a list (serde reads
    // an object from a list field by field: `workflow[0]`).
    let (base, item) = match key.strip_suffix(']').and_then(|k| k.rsplit_once('[')) {
        Some((base, n)) => (base, n.parse::<usize>().ok()),
        None => (key, None),
    };
    let accepted = ACCEPTED.iter().find(|(k, _)| *k == base).map(|(_, a)| a);
    match (wrote, accepted, item) {
        (Some(got), Some(accepted), None) => format!("`{key}` must be {accepted}, not {got}"),
        (Some(_), Some(accepted), Some(_)) if accepted.starts_with("an object") => {
            format!("`{base}` must be {accepted}, not a list")
        }
        (Some(got), Some(accepted), Some(n)) => {
            format!("`{base}` must be {accepted}; its item {} is {got}", n + 1)
        }
        // serde_json's word for an enum given a number, or for a value left out.
        (None, Some(accepted), None) if !message.starts_with("unknown field") => {
            format!("`{key}` must be {accepted} ({message})")
        }
        _ if key.is_empty() || key == "." => message.to_string(),
        _ if message.contains(&format!("`{}`", key.rsplit('.').next().unwrap_or(key))) => {
            message.to_string()
        }
        _ => format!("`{key}`: {message}"),
    }
}

/// serde's description of a value as written (`integer \`-1\``, `string "soon"`, `map`).
fn written(got: &str) -> String {
    let quoted = |s: &str| s.trim_matches('`').to_string();
    if let Some(n) = got
        .strip_prefix("integer ")
        .or_else(|| got.strip_prefix("floating point "))
    {
        return quoted(n);
    }
    if let Some(b) = got.strip_prefix("boolean ") {
        return quoted(b);
    }
    if let Some(s) = got.strip_prefix("string ") {
        return format!("the string {s}");
    }
    match got {
        "map" => "an object".into(),
        "sequence" => "a list".into(),
        "null" | "unit value" => "null".into(),
        other => other.to_string(),
    }
}

/// What is wrong with `agents.claude`: every value becomes one argument of a program run
/// without a shell, so only what no argument can hold (NUL) or what would be misread is refused.
fn claude_problems(claude: &ClaudeConfig, text: &str) -> Vec<Problem> {
    let at = |key: &str| locate_json(text, &["agents".into(), "claude".into(), key.into()]);
    let mut problems = Vec::new();
    let program = &claude.program;
    if program.is_empty() || program.contains('\0') {
        problems.push(
            Problem::new("`agents.claude.program` must name a program", at("program"))
                .with_hint("write `claude`, or an absolute path such as `/usr/local/bin/claude`"),
        );
    } else if program.contains('/') && !program.starts_with('/') {
        problems.push(
            Problem::new(
                format!("`agents.claude.program` is the relative path `{program}`: it would depend on each run's directory"),
                at("program"),
            )
            .with_hint("write a name looked up on PATH (`claude`) or an absolute path"),
        );
    }
    if let Some(model) = &claude.model
        && (model.is_empty() || model.starts_with('-') || model.chars().any(char::is_whitespace))
    {
        problems.push(
            Problem::new(
                format!("`agents.claude.model` is not a model name: {model:?}"),
                at("model"),
            )
            .with_hint("write an alias (`sonnet`, `opus`, `haiku`) or a full model name"),
        );
    }
    if claude.args.iter().any(|a| a.contains('\0')) {
        problems.push(Problem::new(
            "`agents.claude.args` holds a NUL character, which no argument can carry",
            at("args"),
        ));
    }
    for arg in &claude.args {
        let flag = arg.split_once('=').map_or(arg.as_str(), |(f, _)| f);
        if let Some((_, instead)) = CLAUDE_OWN_FLAGS.iter().find(|(f, _)| *f == flag) {
            problems.push(
                Problem::new(
                    format!("`agents.claude.args` sets `{flag}`, which cortex writes itself on the command lines it builds: a second one would override cortex's or make Claude Code refuse the command line"),
                    at("args"),
                )
                .with_hint(*instead),
            );
        }
    }
    problems
}

/// The Claude Code flags cortex writes on every command line (`execute::claude::command_line`),
/// which `agents.claude.args` may not set again, each with what to write instead.
const CLAUDE_OWN_FLAGS: &[(&str, &str)] = &[
    (
        "-p",
        "leave it out: cortex runs Claude Code headless (`-p`) always",
    ),
    (
        "--print",
        "leave it out: cortex runs Claude Code headless (`-p`) always",
    ),
    (
        "--output-format",
        "leave it out: cortex reads `--output-format json`",
    ),
    (
        "--input-format",
        "leave it out: the prompt goes to Claude Code's standard input as text",
    ),
    (
        "-r",
        "leave it out: cortex resumes an attempt's session on a retry (`--resume`)",
    ),
    (
        "--resume",
        "leave it out: cortex resumes an attempt's session on a retry (`--resume`)",
    ),
    (
        "-c",
        "leave it out: each attempt is its own session, resumed by id on a retry",
    ),
    (
        "--continue",
        "leave it out: each attempt is its own session, resumed by id on a retry",
    ),
    (
        "--model",
        "set `agents.claude.model` (or `model:` in an agent's front matter)",
    ),
    ("--permission-mode", "set `agents.claude.permission_mode`"),
    (
        "--append-system-prompt",
        "an agent's Markdown body is its system prompt: write it there",
    ),
    (
        "--agents",
        "cortex gives a phase's other agents as sub-agents: name them in the phase's `agents:`",
    ),
    (
        "--allowedTools",
        "list them as `tools:` in the agent's front matter",
    ),
    (
        "--allowed-tools",
        "list them as `tools:` in the agent's front matter",
    ),
];

/// Every value of `config` outside its documented range (`limits`), located in `text`.
fn range_problems(config: &Config, text: &str) -> Vec<Problem> {
    let checks = [
        (
            "timeout_seconds",
            config.timeout_seconds,
            0,
            limits::MAX_RUN_TIMEOUT_SECONDS,
            "write at most 2592000 (30 days), or 0 for no limit",
        ),
        (
            "max_retry_attempts",
            u64::from(config.max_retry_attempts),
            0,
            u64::from(limits::MAX_RETRY_ATTEMPTS),
            "retries after the first attempt: write at most 100",
        ),
        (
            "max_parallel",
            u64::from(config.max_parallel),
            1,
            u64::from(limits::MAX_PARALLEL),
            "phases active at once: write 1 to 1024",
        ),
    ];
    checks
        .into_iter()
        .filter_map(|(key, value, min, max, fix)| {
            let message =
                limits::check_count(&format!("workflow.{key}"), value, min, max, fix).err()?;
            let at = locate_json(text, &["workflow".into(), key.into()]);
            Some(Problem::new(message, at))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_given_twice_is_located_where_it_is_given_again_beside_the_other_problems() {
        let text = r#"{"workflow": {"max_retry_attempts": 3, "max_retry_attempts": 5, "max_parallel": 0}}"#;
        let err = parse_config("c.json", text).unwrap_err();
        let found: Vec<_> = err
            .problems
            .iter()
            .map(|p| (p.message.as_str(), p.at.map(|a| (a.line, a.column))))
            .collect();
        assert_eq!(found.len(), 2, "{found:?}");
        assert_eq!(
            found[0],
            (
                "workflow: duplicate key `max_retry_attempts`",
                Some((1, 40))
            )
        );
        assert!(
            err.problems[0]
                .hint
                .as_deref()
                .is_some_and(|h| h.contains("first at line 1, column 15")),
            "{:?}",
            err.problems[0]
        );
        // The caret covers the key, its quotes included.
        assert_eq!(err.problems[0].width, Some(20));
        assert!(found[1].0.contains("max_parallel"), "{found:?}");
    }

    #[test]
    fn the_seed_configuration_parses() {
        let seed = r#"{
  "workflow": {
    "enable_checkpoints": true,
    "checkpoint_frequency": "per_step",
    "enable_rollback": true,
    "max_retry_attempts": 3,
    "timeout_seconds": 3600
  }
}"#;
        assert_eq!(parse_config("c.json", seed).unwrap(), Config::default());
    }

    #[test]
    fn values_outside_their_range_are_located() {
        let text = "{\n  \"workflow\": {\n    \"timeout_seconds\": 9223372036854775807,\n    \"max_parallel\": 0,\n    \"max_retry_attempts\": 4294967295\n  }\n}\n";
        let err = parse_config("c.json", text).unwrap_err();
        let found: Vec<(usize, usize)> = err
            .problems
            .iter()
            .map(|p| p.at.map(|l| (l.line, l.column)).unwrap())
            .collect();
        assert_eq!(found, vec![(3, 24), (4, 21), (5, 27)], "{err}");
        assert!(
            err.problems[0]
                .message
                .contains("outside its range 0 to 2592000"),
            "{err}"
        );
        for ok in [0, 2_592_000] {
            let text = format!("{{\"workflow\": {{\"timeout_seconds\": {ok}}}}}");
            assert!(parse_config("c.json", &text).is_ok());
        }
    }

    #[test]
    fn the_agents_block_names_a_default_runner_and_how_claude_runs() {
        let text = r#"{"agents": {"runner": "claude", "claude": {"program": "/opt/claude", "permission_mode": "acceptEdits", "model": "sonnet", "args": ["--max-turns", "30"]}}}"#;
        let file = parse_config_file("c.json", text).unwrap();
        assert_eq!(file.agents.runner, Some(AgentRunner::Claude));
        assert_eq!(file.agents.claude.program, "/opt/claude");
        assert_eq!(
            file.agents.claude.permission_mode,
            Some(PermissionMode::AcceptEdits)
        );
        assert_eq!(file.workflow, Config::default());
        let none = parse_config_file("c.json", "{}").unwrap();
        assert_eq!(none.agents.runner, None);
        assert_eq!(none.agents.claude.program, "claude");
    }

    #[test]
    fn a_bad_agents_block_is_named_with_its_place() {
        for (text, what) in [
            (
                r#"{"agents": {"claude": {"permission_mode": "acceptedits"}}}"#,
                "acceptedits",
            ),
            (r#"{"agents": {"runner": "codex"}}"#, "codex"),
            (
                r#"{"agents": {"claude": {"program": "bin/claude"}}}"#,
                "relative path",
            ),
            (
                r#"{"agents": {"claude": {"program": ""}}}"#,
                "must name a program",
            ),
            (
                r#"{"agents": {"claude": {"model": "--help"}}}"#,
                "not a model name",
            ),
            (r#"{"agents": {"claud": {}}}"#, "claud"),
            // Flags cortex writes itself: a second `--output-format text` made every attempt
            // fail with "printed no JSON result" instead of being caught here.
            (
                r#"{"agents": {"claude": {"args": ["--max-turns", "3", "--output-format", "text"]}}}"#,
                "sets `--output-format`",
            ),
            (
                r#"{"agents": {"claude": {"args": ["--resume=abc"]}}}"#,
                "sets `--resume`",
            ),
            (r#"{"agents": {"claude": {"args": ["-p"]}}}"#, "sets `-p`"),
        ] {
            let err = parse_config_file("c.json", text).unwrap_err();
            assert!(err.problems[0].message.contains(what), "{text}: {err}");
            assert!(err.problems[0].at.is_some(), "{text}: {err}");
        }
    }

    /// A value of the wrong type or range said `invalid value: integer \`-1\`, expected u32`:
    /// Rust's type, and no key. It names the key and what it accepts in words.
    #[test]
    fn a_value_of_the_wrong_type_names_its_key_and_what_it_accepts_in_words() {
        for (text, says, at) in [
            (
                r#"{"workflow":{"max_retry_attempts":-1}}"#,
                "`workflow.max_retry_attempts` must be a whole number from 0 to 100, not -1",
                (1, 35),
            ),
            (
                r#"{"workflow":{"timeout_seconds":"soon"}}"#,
                "`workflow.timeout_seconds` must be a whole number of seconds from 0 (no limit) to 2592000 (30 days), not the string \"soon\"",
                (1, 32),
            ),
            (
                r#"{"workflow":{"enable_rollback":1}}"#,
                "`workflow.enable_rollback` must be true or false, not 1",
                (1, 32),
            ),
            (
                r#"{"workflow":{"checkpoint_frequency":"daily"}}"#,
                "must be \"per_step\", \"per_phase\" or \"manual\", not \"daily\"",
                (1, 37),
            ),
            (
                r#"{"workflow":{"durability":5}}"#,
                "`workflow.durability` must be \"normal\" or \"full\"",
                (1, 27),
            ),
            (
                r#"{"workflow":[1]}"#,
                "`workflow` must be an object of engine settings, not a list",
                (1, 13),
            ),
            (
                r#"{"agents":{"claude":{"args":["a",3]}}}"#,
                "`agents.claude.args` must be a list of strings; its item 2 is 3",
                (1, 34),
            ),
            (r#"{"db":5}"#, "`db` must be a string", (1, 7)),
        ] {
            let err = parse_config_file("c.json", text).unwrap_err();
            let problem = &err.problems[0];
            assert!(problem.message.contains(says), "{text}: {err}");
            assert!(
                !problem.message.contains("u32") && !problem.message.contains("u64"),
                "{text}: {err}"
            );
            let found = problem.at.map(|l| (l.line, l.column));
            assert_eq!(found, Some(at), "{text}: {err}");
        }
    }

    /// serde_json's place is past what it read: the `:` after an unknown key, the end of a
    /// value. The caret is at the key or the value named; broken JSON is at serde_json's place
    /// with no key made up (`workflow.?`).
    #[test]
    fn a_config_error_is_at_the_key_or_value_it_names() {
        for (text, says, not, at) in [
            (
                "{\n  \"workflow\": {\n    \"enable_rollbak\": true\n  }\n}\n",
                "unknown field `enable_rollbak`",
                "",
                (3, 5),
            ),
            (
                r#"{"workflow": {"checkpoint_frequency": "per-step"}}"#,
                "not \"per-step\"",
                "",
                (1, 39),
            ),
            (
                "{\"workflow\": {\"max_parallel\": 2,}}",
                "trailing comma",
                "`workflow.?`",
                (1, 33),
            ),
            (
                "{\"agents\": {\"claude\": {\"modle\": \"x\"}}}",
                "unknown field `modle`",
                "",
                (1, 24),
            ),
        ] {
            let err = parse_config_file("c.json", text).unwrap_err();
            let problem = &err.problems[0];
            assert!(problem.message.contains(says), "{text}: {err}");
            assert!(
                not.is_empty() || !problem.message.contains(not),
                "{text}: {err}"
            );
            assert_eq!(
                problem.at.map(|l| (l.line, l.column)),
                Some(at),
                "{text}: {err}"
            );
        }
    }

    #[test]
    fn a_bad_key_is_named_with_its_place() {
        let err = parse_config("c.json", "{\"workflow\": {\"max_retries\": 2}}").unwrap_err();
        assert!(err.problems[0].message.contains("max_retries"), "{err}");
        assert!(err.problems[0].at.is_some());
    }

    /// serde reads a struct from a sequence too: `["…", {"max_retry_attempts": 1}]` was taken
    /// field by field and `[]` as the defaults. The configuration is one object, or a located
    /// error; an empty file says so rather than "EOF while parsing".
    #[test]
    fn a_configuration_that_is_not_one_object_is_refused_where_it_starts() {
        for (text, line, column) in [
            (r#"["https://x", {"max_retry_attempts": 1}]"#, 1, 1),
            ("[]", 1, 1),
            ("\n  \"db\"", 2, 3),
            // A byte order mark is not a column: an editor shows `42` at the start.
            ("\u{feff}42", 1, 1),
        ] {
            let err = parse_config("c.json", text).unwrap_err();
            assert!(
                err.problems[0].message.contains("one JSON object"),
                "{text}: {err}"
            );
            let at = err.problems[0].at.unwrap();
            assert_eq!((at.line, at.column), (line, column), "{text}");
        }
        for empty in ["", "  \n"] {
            let err = parse_config("c.json", empty).unwrap_err();
            assert!(err.problems[0].message.contains("empty"), "{err}");
        }
        assert!(parse_config("c.json", " {}").is_ok());
    }
}
