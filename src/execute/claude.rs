//! Claude Code as an agent runner: the command line of one attempt, built from what
//! `run_started` recorded (the configuration and the agent files) and the step's state, and
//! the reading of the JSON result it prints. Pure functions: `runner.rs` runs the process.
//!
//! The contract (Claude Code's CLI reference, "CLI flags", "Agents flag format" and "System
//! prompt flags", and its headless page, "Get structured output"; DESIGN.md §6b):
//! `PROGRAM -p [--allowedTools TOOL...] --output-format json [--append-system-prompt BODY]
//! [--model MODEL] [--permission-mode MODE] [--agents JSON] [--resume SESSION] [ARGS...]`,
//! the rendered prompt on standard input, in the run's working directory; standard output is
//! one JSON object `{"type": "result", "subtype", "is_error", "result", "session_id",
//! "total_cost_usd", "num_turns", "duration_ms", "duration_api_ms", ...}`.

use serde::Deserialize;

use super::Captured;
use crate::definition::{AgentRunner, ClaudeSetup};
use crate::event::{AgentResult, AttemptEnd};

/// The longest single argument Linux passes to a program: a longer system prompt or sub-agent
/// list would fail at spawn with a bare E2BIG.
pub use crate::definition::limits::MAX_ARGUMENT_BYTES;

/// What an attempt does not inherit. Claude Code marks its own children with `CLAUDECODE=1`
/// (its Bash tool's commands, the MCP servers it starts, so `cortex mcp` and what it drives),
/// and since 2.1.39 refuses to start where it is set ("cannot be launched inside another
/// Claude Code session"): cortex driven from Claude Code would have failed every attempt so.
/// An attempt is a session of its own (headless, in its own process group, its own session
/// id), not the caller's nested, so the mark is not passed on.
pub const UNSET_ENV: &[&str] = &["CLAUDECODE"];

/// The longest session id accepted from a result (Claude Code's are UUIDs).
const MAX_SESSION_ID_CHARS: usize = 200;

/// Whether `id` can be a session id: what a result may name and `--resume` may be given.
/// Letters, digits, `-`, `_` and `.`, not starting with `-` (it would be read as an option);
/// a redacted `***` is not one, so a retry whose session was redacted starts a new one.
pub fn is_session_id(id: &str) -> bool {
    !id.is_empty()
        && id.chars().count() <= MAX_SESSION_ID_CHARS
        && !id.starts_with('-')
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// The command line of one attempt of `agent`, with the other agents of its phase
/// (`subagents`) handed over as sub-agents and, for a retry, the session to resume. An
/// error says why it cannot be run (an argument too long, or holding a NUL).
pub fn command_line(
    setup: &ClaudeSetup,
    agent: &str,
    subagents: &[String],
    resume: Option<&str>,
) -> Result<Vec<String>, String> {
    let me = setup.agents.get(agent);
    let mut argv = vec![setup.program.clone(), "-p".to_string()];
    // Variadic: each tool is one argument (a rule such as `Bash(git diff *)` holds spaces),
    // and the list ends at the next option, which always follows.
    let tools = me.map(|a| a.tools.as_slice()).unwrap_or_default();
    if !tools.is_empty() {
        argv.push("--allowedTools".into());
        argv.extend(tools.iter().cloned());
    }
    argv.extend(["--output-format".into(), "json".into()]);
    if let Some(body) = me.map(|a| a.prompt.trim()).filter(|b| !b.is_empty()) {
        check_argument(body, || format!("the Markdown body of agent `{agent}`"))?;
        argv.extend(["--append-system-prompt".into(), body.to_string()]);
    }
    if let Some(model) = setup.model_for(agent) {
        argv.extend(["--model".into(), model.to_string()]);
    }
    if let Some(mode) = setup.permission_mode {
        argv.extend(["--permission-mode".into(), mode.as_str().to_string()]);
    }
    let others: serde_json::Map<String, serde_json::Value> = subagents
        .iter()
        .filter(|name| name.as_str() != agent)
        .filter_map(|name| {
            let a = setup.agents.get(name)?;
            let mut def = serde_json::json!({
                "description": a.description,
                "prompt": a.prompt,
            });
            if !a.tools.is_empty() {
                def["tools"] = serde_json::json!(a.tools);
            }
            if let Some(model) = &a.model {
                def["model"] = serde_json::json!(model);
            }
            Some((name.clone(), def))
        })
        .collect();
    if !others.is_empty() {
        let json = serde_json::Value::Object(others).to_string();
        check_argument(&json, || {
            format!("the sub-agents of agent `{agent}` (`--agents`)")
        })?;
        argv.extend(["--agents".into(), json]);
    }
    if let Some(session) = resume.filter(|s| is_session_id(s)) {
        argv.extend(["--resume".into(), session.to_string()]);
    }
    argv.extend(setup.args.iter().cloned());
    if let Some(bad) = argv.iter().find(|a| a.contains('\0')) {
        let shown: String = bad.chars().take(40).collect();
        return Err(format!(
            "an argument for Claude Code holds a NUL character, which no argument can carry: {shown:?}"
        ));
    }
    Ok(argv)
}

fn check_argument(value: &str, what: impl Fn() -> String) -> Result<(), String> {
    if value.len() > MAX_ARGUMENT_BYTES {
        return Err(format!(
            "{} is {} bytes: one command-line argument holds at most {MAX_ARGUMENT_BYTES} bytes; shorten it",
            what(),
            value.len()
        ));
    }
    Ok(())
}

/// Claude Code's result, as `--output-format json` prints it (fields cortex does not record,
/// such as `usage` or `permission_denials`, are left alone).
#[derive(Debug, Deserialize)]
struct RawResult {
    #[serde(default)]
    subtype: Option<String>,
    is_error: bool,
    #[serde(default)]
    result: Option<String>,
    #[serde(default)]
    errors: Option<Vec<String>>,
    session_id: String,
    #[serde(default)]
    total_cost_usd: Option<f64>,
    #[serde(default)]
    num_turns: Option<u32>,
    #[serde(default)]
    duration_ms: Option<u64>,
    #[serde(default)]
    duration_api_ms: Option<u64>,
}

/// Read the result object from what Claude Code printed on standard output: one JSON object
/// (`--output-format json`); also the last `result` element of a JSON array (what `--verbose`
/// makes of it) or the last line (`stream-json`). Anything else is an error saying what was
/// there instead.
pub fn parse_result(stdout: &Captured) -> Result<AgentResult, String> {
    if stdout.overflowed {
        return Err(format!(
            "it printed more than {} MiB on standard output",
            super::CAPTURE_BYTES >> 20
        ));
    }
    let Ok(text) = std::str::from_utf8(&stdout.bytes) else {
        return Err("its standard output is not UTF-8 text".into());
    };
    let text = text.trim();
    if text.is_empty() {
        return Err(
            "it printed nothing on standard output (it should print its JSON result)".into(),
        );
    }
    let candidate = match serde_json::from_str::<serde_json::Value>(text) {
        Ok(serde_json::Value::Array(items)) => items
            .into_iter()
            .rev()
            .find(|v| v.get("type").and_then(|t| t.as_str()) == Some("result")),
        Ok(value) => Some(value),
        Err(_) => text
            .lines()
            .rev()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .and_then(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter(serde_json::Value::is_object),
    };
    let Some(value) = candidate else {
        return Err(format!("it printed no JSON result, but: {}", excerpt(text)));
    };
    if !value.is_object() {
        return Err(format!(
            "its JSON is not a result object, but: {}",
            excerpt(text)
        ));
    }
    match value.get("type") {
        Some(serde_json::Value::String(t)) if t == "result" => {}
        Some(other) => {
            return Err(format!(
                "its JSON is a {} message, not a \"result\"",
                excerpt(
                    &other
                        .as_str()
                        .map_or_else(|| other.to_string(), str::to_string)
                )
            ));
        }
        None => return Err("its JSON has no `type`: it is not a result".into()),
    }
    let raw: RawResult = serde_json::from_value(value)
        .map_err(|e| format!("its JSON is not Claude Code's result: {e}"))?;
    if !is_session_id(&raw.session_id) {
        return Err(format!(
            "its `session_id` is not a session id: {}",
            excerpt(&raw.session_id)
        ));
    }
    Ok(AgentResult {
        step: String::new(),
        attempt: 0,
        agent: String::new(),
        runner: AgentRunner::Claude,
        is_error: raw.is_error,
        subtype: raw.subtype.unwrap_or_default(),
        result: raw.result.unwrap_or_default(),
        errors: raw.errors.unwrap_or_default(),
        session_id: raw.session_id,
        total_cost_usd: raw.total_cost_usd,
        num_turns: raw.num_turns,
        duration_ms: raw.duration_ms,
        duration_api_ms: raw.duration_api_ms,
    })
}

/// The start of `text`, quoted and escaped, for an error message.
fn excerpt(text: &str) -> String {
    let head: String = text.chars().take(120).collect();
    let more = if text.chars().count() > 120 {
        "…"
    } else {
        ""
    };
    format!("{head:?}{more}")
}

/// How an attempt run by Claude Code ended, from how its process ended and what it printed:
/// the attempt's end, and the result to record when there is one. A result with `is_error`,
/// or no readable result, fails an attempt whose process exited 0; a non-zero exit fails it
/// whatever the result says (the decider adds the result's error to the exit).
pub fn judge(
    end: AttemptEnd,
    stdout: Option<&Captured>,
    step: &str,
    attempt: u32,
    agent: &str,
) -> (AttemptEnd, Option<AgentResult>) {
    let parsed = stdout.map_or_else(
        || Err("its standard output was not kept".to_string()),
        parse_result,
    );
    let result = parsed.as_ref().ok().cloned().map(|mut r| {
        r.step = step.to_string();
        r.attempt = attempt;
        r.agent = agent.to_string();
        r
    });
    let end = match (end, &parsed) {
        (AttemptEnd::Exited { code: 0 }, Ok(r)) if r.failed() => AttemptEnd::AgentFailed {
            error: r.error_text().unwrap_or_default(),
        },
        (AttemptEnd::Exited { code: 0 }, Err(problem)) => AttemptEnd::AgentFailed {
            error: format!("Claude Code exited 0 without a result: {problem}"),
        },
        (end, _) => end,
    };
    (end, result)
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use super::*;
    use crate::definition::{ClaudeAgent, PermissionMode};

    fn setup() -> ClaudeSetup {
        let agent = |prompt: &str, tools: &[&str], model: Option<&str>| ClaudeAgent {
            description: format!("{prompt} agent"),
            prompt: prompt.to_string(),
            tools: tools.iter().map(|t| t.to_string()).collect(),
            model: model.map(str::to_string),
        };
        ClaudeSetup {
            program: "claude".into(),
            permission_mode: Some(PermissionMode::AcceptEdits),
            model: Some("haiku".into()),
            args: vec!["--max-turns".into(), "5".into()],
            runs: BTreeSet::from(["lead".to_string()]),
            agents: BTreeMap::from([
                (
                    "lead".to_string(),
                    agent("You lead.\n", &["Read", "Bash(git diff *)"], Some("opus")),
                ),
                ("helper".to_string(), agent("You help.", &[], None)),
                ("quiet".to_string(), agent("", &[], Some("inherit"))),
            ]),
        }
    }

    #[test]
    fn the_command_line_passes_body_model_tools_mode_subagents_and_the_session() {
        /// (case, agent, its sub-agents, the session, the command line)
        type Case<'a> = (
            &'a str,
            &'a str,
            &'a [String],
            Option<&'a str>,
            &'a [&'a str],
        );
        let cases: [Case; 2] = [
            (
                "body, tools, model, sub-agents and a session",
                "lead",
                &["lead".into(), "helper".into()],
                Some("4f1c-9"),
                &[
                    "claude",
                    "-p",
                    "--allowedTools",
                    "Read",
                    "Bash(git diff *)",
                    "--output-format",
                    "json",
                    "--append-system-prompt",
                    "You lead.",
                    "--model",
                    "opus",
                    "--permission-mode",
                    "acceptEdits",
                    "--agents",
                    r#"{"helper":{"description":"You help. agent","prompt":"You help."}}"#,
                    "--resume",
                    "4f1c-9",
                    "--max-turns",
                    "5",
                ],
            ),
            (
                // No system prompt, the configuration's model; no session to resume when it
                // is not one.
                "no body, `inherit`, no session id",
                "quiet",
                &[],
                Some("***"),
                &[
                    "claude",
                    "-p",
                    "--output-format",
                    "json",
                    "--model",
                    "haiku",
                    "--permission-mode",
                    "acceptEdits",
                    "--max-turns",
                    "5",
                ],
            ),
        ];
        for (case, agent, subagents, session, expected) in cases {
            let argv = command_line(&setup(), agent, subagents, session).unwrap();
            assert_eq!(argv, expected, "{case}");
        }
    }

    #[test]
    fn an_argument_too_long_for_the_system_is_refused_with_what_it_is() {
        let mut s = setup();
        s.agents.get_mut("lead").unwrap().prompt = "x".repeat(MAX_ARGUMENT_BYTES + 1);
        let err = command_line(&s, "lead", &[], None).unwrap_err();
        assert!(err.contains("Markdown body of agent `lead`"), "{err}");
        let err = command_line(&s, "helper", &["lead".into()], None).unwrap_err();
        assert!(err.contains("sub-agents of agent `helper`"), "{err}");
    }

    fn captured(text: &str) -> Captured {
        Captured {
            bytes: text.as_bytes().to_vec(),
            overflowed: false,
        }
    }

    const OK: &str = r#"{"type":"result","subtype":"success","is_error":false,"duration_ms":2100,"duration_api_ms":1800,"num_turns":3,"result":"Done: plan.md","session_id":"8b2c1d3e-aaaa-4bbb-8ccc-0123456789ab","total_cost_usd":0.0123,"usage":{"input_tokens":10}}"#;

    #[test]
    fn the_documented_result_is_read_whole() {
        // As printed, and as `--verbose` (an array of messages) and `stream-json` (lines)
        // print it.
        for (case, out) in [
            ("json", format!("{OK}\n")),
            (
                "--verbose",
                format!(r#"[{{"type":"system","subtype":"init"}},{OK}]"#),
            ),
            ("stream-json", format!("{{\"type\":\"system\"}}\n{OK}\n")),
        ] {
            let r = parse_result(&captured(&out)).unwrap_or_else(|e| panic!("{case}: {e}"));
            assert!(!r.is_error, "{case}");
            assert_eq!(r.subtype, "success", "{case}");
            assert_eq!(r.result, "Done: plan.md", "{case}");
            assert_eq!(
                r.session_id, "8b2c1d3e-aaaa-4bbb-8ccc-0123456789ab",
                "{case}"
            );
            assert_eq!(r.total_cost_usd, Some(0.0123), "{case}");
            assert_eq!(
                (r.num_turns, r.duration_ms),
                (Some(3), Some(2100)),
                "{case}"
            );
        }
    }

    #[test]
    fn garbage_nothing_and_lookalikes_are_clear_errors() {
        for (out, says) in [
            ("", "printed nothing"),
            ("   \n", "printed nothing"),
            (
                "Error: not logged in",
                "printed no JSON result, but: \"Error: not logged in\"",
            ),
            ("[1, 2]", "printed no JSON result"),
            ("42", "not a result object"),
            (r#"{"type":"assistant"}"#, r#""assistant" message"#),
            (r#"{"result":"x"}"#, "no `type`"),
            (
                r#"{"type":"result","is_error":"no","session_id":"a"}"#,
                "not Claude Code's result",
            ),
            (r#"{"type":"result","is_error":false}"#, "session_id"),
            (
                r#"{"type":"result","is_error":false,"session_id":"--help"}"#,
                "not a session id",
            ),
            (
                r#"{"type":"result","is_error":false,"session_id":"a","num_turns":-1}"#,
                "not Claude Code's result",
            ),
        ]
        .map(|(out, says)| (captured(out), says))
        .into_iter()
        .chain([
            (
                Captured {
                    bytes: Vec::new(),
                    overflowed: true,
                },
                "more than 16 MiB",
            ),
            (
                Captured {
                    bytes: vec![0xff, 0xfe],
                    overflowed: false,
                },
                "not UTF-8",
            ),
        ]) {
            let err = parse_result(&out).unwrap_err();
            let shown = String::from_utf8_lossy(&out.bytes);
            assert!(
                err.contains(says),
                "{shown:?} (cut off: {}): {err}",
                out.overflowed
            );
        }
    }

    /// What `judge` makes of an attempt's end.
    enum Judged {
        /// This end.
        Is(AttemptEnd),
        /// A failed agent, its error holding each of these.
        FailedSaying(&'static [&'static str]),
    }

    #[test]
    fn an_error_result_or_no_result_fails_an_attempt_that_exited_0() {
        const FAILED: &str = r#"{"type":"result","subtype":"error_max_turns","is_error":true,"session_id":"s-1","num_turns":9}"#;
        // Out of turns or budget: not `is_error`, no `result`, yet the work is unfinished.
        const OUT_OF_TURNS: &str = r#"{"type":"result","subtype":"error_max_turns","is_error":false,"session_id":"s-2","num_turns":30}"#;
        let exited = |code| AttemptEnd::Exited { code };
        let failed = |error: &str| AttemptEnd::AgentFailed {
            error: error.into(),
        };
        // (case, the attempt's end, what it printed, its end judged, the session of the
        // result recorded: none, no result)
        let cases = [
            (
                "a result, exit 0",
                exited(0),
                OK,
                Judged::Is(exited(0)),
                Some("8b2c1d3e-aaaa-4bbb-8ccc-0123456789ab"),
            ),
            (
                "an error result, exit 0",
                exited(0),
                FAILED,
                Judged::Is(failed("claude reported `error_max_turns`")),
                Some("s-1"),
            ),
            (
                "out of turns, exit 0",
                exited(0),
                OUT_OF_TURNS,
                Judged::Is(failed(
                    "claude stopped with `error_max_turns` after 30 turns, its work unfinished",
                )),
                Some("s-2"),
            ),
            (
                "no result, exit 0",
                exited(0),
                "oops",
                Judged::FailedSaying(&["without a result", "oops"]),
                None,
            ),
            // A non-zero exit stays the end; the result, if any, is still recorded.
            (
                "an error result, exit 1",
                exited(1),
                FAILED,
                Judged::Is(exited(1)),
                Some("s-1"),
            ),
            (
                "timed out, nothing printed",
                AttemptEnd::TimedOut { timeout_ms: 5 },
                "",
                Judged::Is(AttemptEnd::TimedOut { timeout_ms: 5 }),
                None,
            ),
        ];
        for (case, end, out, judged, session) in cases {
            let (end, result) = judge(end, Some(&captured(out)), "Plan", 2, "lead");
            match judged {
                Judged::Is(expected) => assert_eq!(end, expected, "{case}"),
                Judged::FailedSaying(says) => assert!(
                    matches!(&end, AttemptEnd::AgentFailed { error }
                        if says.iter().all(|s| error.contains(s))),
                    "{case}: {end:?}"
                ),
            }
            assert_eq!(
                result.as_ref().map(|r| r.session_id.as_str()),
                session,
                "{case}"
            );
            if let Some(r) = &result {
                assert_eq!(
                    (r.step.as_str(), r.attempt, r.agent.as_str()),
                    ("Plan", 2, "lead"),
                    "{case}"
                );
            }
        }
    }

    #[test]
    fn session_ids_are_plain_words() {
        assert!(is_session_id("8b2c1d3e-aaaa-4bbb-8ccc-0123456789ab"));
        for bad in ["", "***", "-r", "a b", "a/b", &"x".repeat(201)] {
            assert!(!is_session_id(bad), "{bad}");
        }
    }
}
