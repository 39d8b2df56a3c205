//! Claude Code as an agent runner, on the real binary, with a stand-in `claude` that follows
//! Claude Code's documented headless interface: it records its arguments, its standard input
//! and its directory, and answers as told (`FAKE_CLAUDE_MODES`, one mode per invocation):
//! a success result, an error result (exit 1, or exit 0), garbage, nothing, a hang, or a
//! success whose text holds a secret.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use common::{Env, Out};

/// The stand-in. Output is exactly `--output-format json`'s documented result object.
const FAKE_CLAUDE: &str = r#"#!/bin/sh
# As Claude Code since 2.1.39: it will not start inside another Claude Code session.
if [ -n "$CLAUDECODE" ]; then
  echo "Error: Claude Code cannot be launched inside another Claude Code session." >&2
  exit 1
fi
dir="$FAKE_CLAUDE_DIR"
n=$(( $(cat "$dir/count" 2>/dev/null || echo 0) + 1 ))
echo "$n" > "$dir/count"
for a in "$0" "$@"; do printf '%s\0' "$a"; done > "$dir/argv-$n"
cat > "$dir/stdin-$n"
pwd > "$dir/cwd-$n"
printf '%s' "$CORTEX_INPUT_API_TOKEN" > "$dir/token-$n"
echo $$ > "$dir/pid-$n"
mode=$(printf '%s' "$FAKE_CLAUDE_MODES" | cut -d, -f"$n")
[ -n "$mode" ] || mode=ok
session="5e55a000-0000-4000-8000-00000000000$n"
case "$mode" in
ok)
  printf '{"type":"result","subtype":"success","is_error":false,"duration_ms":1234,"duration_api_ms":1000,"num_turns":3,"result":"Plan written (call %s)","session_id":"%s","total_cost_usd":0.0123,"usage":{"input_tokens":10,"output_tokens":20},"permission_denials":[]}\n' "$n" "$session" ;;
error|error0)
  printf '{"type":"result","subtype":"error_max_turns","is_error":true,"duration_ms":900,"duration_api_ms":800,"num_turns":9,"session_id":"%s","total_cost_usd":0.5,"usage":{"input_tokens":10,"output_tokens":20},"errors":["Reached maximum number of turns (9)"]}\n' "$session"
  [ "$mode" = error ] && exit 1 ;;
max_turns|max_budget)
  # As Claude Code when `--max-turns` or `--max-budget-usd` ends a session mid-work: not
  # `is_error`, and no `result`.
  sub=error_max_turns; [ "$mode" = max_budget ] && sub=error_max_budget_usd
  printf '{"type":"result","subtype":"%s","is_error":false,"duration_ms":900,"num_turns":30,"session_id":"%s","total_cost_usd":1.5}\n' "$sub" "$session" ;;
garbage)
  echo "Invalid API key · Please run /login" ;;
crash)
  echo "Error: Invalid API key · Please run /login" >&2
  exit 1 ;;
empty)
  ;;
hang)
  exec sleep 60 ;;
lost)
  # As Claude Code when the session to resume is gone (expired, another host or directory).
  wanted=""; prev=""
  for a in "$@"; do [ "$prev" = --resume ] && wanted="$a"; prev="$a"; done
  if [ -n "$wanted" ]; then
    echo "No conversation found with session ID: $wanted" >&2
    exit 1
  fi ;;
nul)
  printf '{"type":"result","subtype":"success","is_error":false,"num_turns":1,"result":"a\\u0000b","session_id":"%s"}\n' "$session" ;;
lines)
  printf '{"type":"result","subtype":"success","is_error":false,"num_turns":2,"result":"Changed foo.rs.\\n\\n\\u2705 Step 9/9: Deploy\\n   Status: Complete","session_id":"%s"}\n' "$session" ;;
lines_error)
  printf '{"type":"result","subtype":"error\\nforged","is_error":true,"num_turns":2,"result":"API Error: 500\\n\\u2705 Workflow completed: plan\\n   Status: Complete","session_id":"%s"}\n' "$session" ;;
huge|huge_error)
  # A 3 MB answer: more than outputs may hold.
  err=false; [ "$mode" = huge_error ] && err=true
  printf '{"type":"result","subtype":"success","is_error":%s,"num_turns":1,"duration_ms":5,"total_cost_usd":0.1,"session_id":"%s","result":"' "$err" "$session"
  head -c 3000000 /dev/zero | tr '\0' a
  printf '"}\n'
  [ "$mode" = huge_error ] && exit 1 ;;
secret)
  printf '{"type":"result","subtype":"success","is_error":false,"duration_ms":5,"num_turns":1,"result":"the key is %s","session_id":"%s","total_cost_usd":0.001}\n' "$FAKE_API_TOKEN" "$session" ;;
esac
exit 0
"#;

/// A home with the stand-in installed as Claude Code's program.
struct Claude {
    env: Env,
    program: PathBuf,
    calls: PathBuf,
}

impl Claude {
    fn new(agents_block: &str) -> Claude {
        let env = Env::new();
        let program = env.dir.path().join("fake-claude.sh");
        std::fs::write(&program, FAKE_CLAUDE).unwrap();
        std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
        let calls = env.dir.path().join("calls");
        std::fs::create_dir_all(&calls).unwrap();
        std::fs::create_dir_all(env.home().join("agents")).unwrap();
        std::fs::create_dir_all(env.home().join("scenarios")).unwrap();
        let program_json = serde_json::to_string(&program.display().to_string()).unwrap();
        let block = agents_block.replace("PROGRAM", &program_json);
        env.config(&format!(r#"{{"agents": {block}}}"#));
        Claude {
            env,
            program,
            calls,
        }
    }

    fn agent(&self, name: &str, text: &str) -> &Self {
        std::fs::write(self.env.home().join(format!("agents/{name}.md")), text).unwrap();
        self
    }

    fn scenario(&self, name: &str, yaml: &str) -> &Self {
        std::fs::write(self.env.home().join(format!("scenarios/{name}.yaml")), yaml).unwrap();
        self
    }

    /// Run cortex with the stand-in answering `modes` (one per invocation).
    fn run(&self, modes: &str, args: &[&str]) -> Out {
        let out = self
            .env
            .command(args)
            .env("FAKE_CLAUDE_DIR", &self.calls)
            .env("FAKE_CLAUDE_MODES", modes)
            .env("FAKE_API_TOKEN", "sk-fake-4d1a9c77e2")
            .output()
            .expect("run cortex");
        Out {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// The arguments of call `n` (1-based), the program first.
    fn argv(&self, n: u32) -> Vec<String> {
        let bytes = std::fs::read(self.calls.join(format!("argv-{n}")))
            .unwrap_or_else(|e| panic!("call {n} was not made: {e}"));
        let mut argv: Vec<String> = bytes
            .split(|b| *b == 0)
            .map(|a| String::from_utf8(a.to_vec()).unwrap())
            .collect();
        argv.pop(); // after the last NUL
        argv
    }

    fn stdin(&self, n: u32) -> String {
        std::fs::read_to_string(self.calls.join(format!("stdin-{n}"))).unwrap()
    }

    fn calls(&self) -> u32 {
        std::fs::read_to_string(self.calls.join("count")).map_or(0, |c| c.trim().parse().unwrap())
    }
}

const PLANNER: &str = "---\nname: planner\ndescription: Plans features\nrunner: claude\ntools: Read, Grep, Bash(git diff *)\nmodel: sonnet\n---\nYou are the planner.\nWrite the plan to plan.md.\n";

const WORKFLOW: &str = r#"name: feature
inputs:
  feature: {type: string, required: true}
steps:
  - name: Plan
    prompt: "Plan the ${{ inputs.feature }} feature"
    agent: planner
    retry: {max_retry_attempts: 1, backoff: 0s}
  - name: Use
    run: printf '%s' "${{ steps.Plan.outputs.result }}" > used.txt
"#;

fn argv_tail(argv: &[String]) -> Vec<&str> {
    argv[1..].iter().map(String::as_str).collect()
}

/// `--flag VALUE` of an argv, if present.
fn flag<'a>(argv: &'a [String], name: &str) -> Option<&'a str> {
    argv.iter()
        .position(|a| a == name)
        .and_then(|i| argv.get(i + 1))
        .map(String::as_str)
}

fn step<'a>(status: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    let list = status
        .get("steps")
        .or_else(|| status.get("phases"))
        .unwrap();
    list.as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap()
}

fn alive(pid: &Path) -> bool {
    let pid: i32 = std::fs::read_to_string(pid)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    !stat.is_empty() && !stat.contains(") Z ")
}

#[test]
fn a_workflow_step_with_a_claude_agent_runs_claude_headless_and_records_its_result() {
    let c = Claude::new(r#"{"claude": {"program": PROGRAM, "permission_mode": "acceptEdits"}}"#);
    c.agent("planner", PLANNER);
    c.env.workflow("feature", WORKFLOW);
    let out = c.run(
        "ok",
        &["workflow", "run", "feature", "--input", "feature=login"],
    );
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert_eq!(c.calls(), 1);

    // The documented headless interface: -p, JSON output, the body as system prompt, the
    // agent's model and tools, the configured permission mode; the prompt rendered on stdin.
    let argv = c.argv(1);
    assert_eq!(argv[0], c.program.display().to_string());
    assert_eq!(
        argv_tail(&argv),
        [
            "-p",
            "--allowedTools",
            "Read",
            "Grep",
            "Bash(git diff *)",
            "--output-format",
            "json",
            "--append-system-prompt",
            "You are the planner.\nWrite the plan to plan.md.",
            "--model",
            "sonnet",
            "--permission-mode",
            "acceptEdits",
        ]
    );
    assert_eq!(c.stdin(1), "Plan the login feature");
    assert_eq!(
        std::fs::read_to_string(c.calls.join("cwd-1"))
            .unwrap()
            .trim(),
        c.env
            .project()
            .canonicalize()
            .unwrap()
            .display()
            .to_string(),
        "Claude Code runs in the run's working directory"
    );

    // The result text is the step's output `result`; session, cost, turns and duration are
    // recorded and shown.
    let status = c.env.status(None);
    let plan = step(&status, "Plan");
    assert_eq!(plan["outputs"]["result"], "Plan written (call 1)");
    let agent = &plan["agent_result"];
    assert_eq!(agent["agent"], "planner");
    assert_eq!(agent["runner"], "claude");
    assert_eq!(agent["is_error"], false);
    assert_eq!(agent["subtype"], "success");
    assert_eq!(agent["session_id"], "5e55a000-0000-4000-8000-000000000001");
    assert_eq!(agent["total_cost_usd"], 0.0123);
    assert_eq!(agent["num_turns"], 3);
    assert_eq!(agent["duration_ms"], 1234);
    assert_eq!(
        std::fs::read_to_string(c.env.file("used.txt")).unwrap(),
        "Plan written (call 1)",
        "a later step reads it as ${{ steps.Plan.outputs.result }}"
    );
    let human = c.env.run(&["workflow", "status"]);
    assert!(
        human.stdout.contains(
            "Agent: Claude Code (planner, attempt 1): session 5e55a000-0000-4000-8000-000000000001, 3 turns, $0.0123, 1s"
        ),
        "{}",
        human.stdout
    );
    let log = c.env.run(&["log", "show"]);
    assert!(
        log.stdout.contains("agent_result")
            && log
                .stdout
                .contains("step Plan: Claude Code (planner, attempt 1)"),
        "{}",
        log.stdout
    );

    // The new event is version 2 and conforms to the committed schema; the chain verifies.
    let run_id = status["run_id"].as_str().unwrap();
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/schemas/event.schema.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let export = c.env.run(&["log", "export", run_id]);
    let events: Vec<serde_json::Value> = export
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    for e in &events {
        let errors: Vec<String> = validator.iter_errors(e).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{e}\n{}", errors.join("\n"));
    }
    let versions: Vec<(&str, u64)> = events
        .iter()
        .map(|e| (e["type"].as_str().unwrap(), e["version"].as_u64().unwrap()))
        .collect();
    assert!(versions.contains(&("agent_result", 2)), "{versions:?}");
    assert!(versions.contains(&("run_started", 2)), "{versions:?}");
    assert!(versions.contains(&("step_succeeded", 1)), "{versions:?}");
    let order: Vec<&str> = versions.iter().map(|(t, _)| *t).collect();
    let at = |t: &str| order.iter().position(|x| *x == t).unwrap();
    assert!(at("agent_result") < at("output_recorded"));
    assert_eq!(
        c.env.run(&["--json", "log", "verify", run_id]).json()["ok"],
        true
    );
}

#[test]
fn an_error_result_fails_the_attempt_and_the_retry_resumes_its_session() {
    let c = Claude::new(r#"{"claude": {"program": PROGRAM}}"#);
    c.agent("planner", PLANNER);
    c.env.workflow("feature", WORKFLOW);
    let out = c.run(
        "error,ok",
        &["workflow", "run", "feature", "--input", "feature=login"],
    );
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert_eq!(c.calls(), 2);
    assert_eq!(flag(&c.argv(1), "--resume"), None);
    assert_eq!(
        flag(&c.argv(2), "--resume"),
        Some("5e55a000-0000-4000-8000-000000000001"),
        "the retry resumes the session of the failed attempt"
    );
    assert_eq!(c.stdin(2), "Plan the login feature");
    assert_eq!(
        flag(&c.argv(1), "--permission-mode"),
        None,
        "not configured"
    );

    let log = c.env.run(&["log", "show"]).stdout;
    assert!(
        log.contains("attempt 1: exited with code 1: Reached maximum number of turns (9)"),
        "{log}"
    );
    assert!(log.contains("reported an error (error_max_turns)"), "{log}");
    let status = c.env.status(None);
    let plan = step(&status, "Plan");
    assert_eq!(plan["attempts"], 2);
    assert_eq!(
        plan["agent_result"]["session_id"],
        "5e55a000-0000-4000-8000-000000000002"
    );
    assert_eq!(plan["outputs"]["result"], "Plan written (call 2)");
}

#[test]
fn an_error_result_that_exits_0_still_fails_the_attempt_with_its_error() {
    let c = Claude::new(r#"{"claude": {"program": PROGRAM}}"#);
    c.agent("planner", PLANNER);
    c.env.workflow(
        "plan",
        "name: plan\nsteps:\n  - name: Plan\n    prompt: Plan it\n    agent: planner\n    retry: {max_retry_attempts: 0}\n",
    );
    let out = c.run("error0", &["workflow", "run", "plan"]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    let status = c.env.status(None);
    assert_eq!(status["status"], "failed");
    let plan = step(&status, "Plan");
    assert_eq!(plan["error"], "Reached maximum number of turns (9)");
    assert_eq!(plan["agent_result"]["is_error"], true);
    assert!(plan["outputs"].get("result").is_none());
    let human = c.env.run(&["workflow", "status"]).stdout;
    assert!(
        human.contains("Error: Reached maximum number of turns (9)")
            && human.contains("reported an error (error_max_turns)"),
        "{human}"
    );
    // The retry that `resume` gives resumes the session too.
    let resumed = c.run("ok", &["workflow", "resume"]);
    assert_eq!(resumed.code, 0, "{}{}", resumed.stdout, resumed.stderr);
    assert_eq!(
        flag(&c.argv(2), "--resume"),
        Some("5e55a000-0000-4000-8000-000000000001")
    );
}

/// Claude Code ends a session that ran out of turns or budget with `subtype: error_max_turns`
/// (or `error_max_budget_usd`), `is_error: false` and no `result`: the work is unfinished, so
/// the attempt fails (and the next step never starts on half-done work), and the retry resumes
/// the session.
#[test]
fn a_claude_session_that_ran_out_of_turns_or_budget_fails_its_attempt() {
    for (mode, subtype) in [
        ("max_turns", "error_max_turns"),
        ("max_budget", "error_max_budget_usd"),
    ] {
        let c = Claude::new(r#"{"claude": {"program": PROGRAM}}"#);
        c.agent("planner", PLANNER);
        c.env.workflow(
            "plan",
            "name: plan\nsteps:\n  - name: Plan\n    prompt: Plan it\n    agent: planner\n    retry: {max_retry_attempts: 0}\n  - name: Use\n    prompt: \"Use ${{ steps.Plan.outputs.result }}\"\n",
        );
        let out = c.run(mode, &["workflow", "run", "plan"]);
        assert_eq!(out.code, 1, "{mode}: {}{}", out.stdout, out.stderr);
        let status = c.env.status(None);
        assert_eq!(status["status"], "failed", "{mode}");
        let plan = step(&status, "Plan");
        assert_eq!(plan["status"], "failed", "{mode}");
        assert_eq!(
            plan["error"],
            format!("claude stopped with `{subtype}` after 30 turns, its work unfinished"),
            "{mode}"
        );
        assert_eq!(plan["agent_result"]["subtype"], subtype);
        assert!(plan["outputs"].get("result").is_none(), "{mode}");
        assert_eq!(step(&status, "Use")["status"], "pending", "{mode}");
        let human = c.env.run(&["workflow", "status"]).stdout;
        assert!(
            human.contains(&format!("reported an error ({subtype})")),
            "{mode}: {human}"
        );
        let resumed = c.run("ok", &["workflow", "resume"]);
        assert_eq!(
            resumed.code, 3,
            "{mode}: {}{}",
            resumed.stdout, resumed.stderr
        );
        assert_eq!(
            flag(&c.argv(2), "--resume"),
            Some("5e55a000-0000-4000-8000-000000000001"),
            "{mode}"
        );
    }
}

/// cortex driven from Claude Code (through `cortex mcp`, or a command its Bash tool runs)
/// inherits `CLAUDECODE=1`, which Claude Code (2.1.39 on) takes for a nested session and
/// refuses to start under: every attempt failed so. An attempt is a session of its own and
/// does not inherit the mark; the step's own commands still see it.
#[test]
fn cortex_run_from_inside_claude_code_still_runs_claude_code_attempts() {
    let c = Claude::new(r#"{"claude": {"program": PROGRAM}}"#);
    c.agent("planner", PLANNER);
    c.env.workflow(
        "plan",
        "name: plan\nsteps:\n  - name: Plan\n    prompt: Plan it\n    agent: planner\n    retry: {max_retry_attempts: 0}\n  - name: Mark\n    run: printf '%s' \"$CLAUDECODE\" > mark.txt\n",
    );
    let out = c
        .env
        .command(&["workflow", "run", "plan"])
        .env("FAKE_CLAUDE_DIR", &c.calls)
        .env("CLAUDECODE", "1")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(c.calls(), 1);
    let status = c.env.status(None);
    assert_eq!(
        step(&status, "Plan")["outputs"]["result"],
        "Plan written (call 1)"
    );
    assert_eq!(
        std::fs::read_to_string(c.env.file("mark.txt")).unwrap(),
        "1",
        "a step's own command keeps its environment"
    );
}

/// A retry that cannot resume its session (Claude Code: "No conversation found with session
/// ID", exit 1, no result) leaves none: the next attempt starts a new session, and succeeds.
/// Before, every later attempt resumed the lost session and failed the same way.
#[test]
fn a_session_that_cannot_be_resumed_is_not_resumed_again() {
    let c = Claude::new(r#"{"claude": {"program": PROGRAM}}"#);
    c.agent("planner", PLANNER);
    c.env.workflow(
        "plan",
        "name: plan\nsteps:\n  - name: Plan\n    prompt: Plan it\n    agent: planner\n    retry: {max_retry_attempts: 2, backoff: 0s}\n",
    );
    let out = c.run("error,lost,ok", &["workflow", "run", "plan"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert_eq!(c.calls(), 3);
    assert_eq!(
        flag(&c.argv(2), "--resume"),
        Some("5e55a000-0000-4000-8000-000000000001"),
        "the first retry resumes"
    );
    assert_eq!(
        flag(&c.argv(3), "--resume"),
        None,
        "the session could not be resumed: a new one"
    );
    let logs = c.env.run(&["logs", "plan", "Plan"]).stdout;
    assert!(
        logs.contains(
            "No conversation found with session ID: 5e55a000-0000-4000-8000-000000000001"
        ),
        "{logs}"
    );
    let status = c.env.status(None);
    assert_eq!(
        step(&status, "Plan")["outputs"]["result"],
        "Plan written (call 3)"
    );
}

/// SPEC §8: a retry resumes the same session. An attempt that printed no result (a crash:
/// exit 1 with only standard error; output that is not JSON) says nothing of its session, so
/// the retry after it resumes the last session the log knows for the unit. Before, it started
/// a new one, and the work of the earlier attempts was dropped (review m, finding 4).
#[test]
fn a_retry_after_an_attempt_that_printed_no_result_resumes_the_last_known_session() {
    let c = Claude::new(r#"{"claude": {"program": PROGRAM}}"#);
    c.agent("planner", PLANNER);
    c.env.workflow(
        "plan",
        "name: plan\nsteps:\n  - name: Plan\n    prompt: Plan it\n    agent: planner\n    retry: {max_retry_attempts: 3, backoff: 0s}\n",
    );
    let out = c.run("error0,crash,garbage,ok", &["workflow", "run", "plan"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert_eq!(c.calls(), 4);
    assert_eq!(flag(&c.argv(1), "--resume"), None);
    for call in 2..=4 {
        assert_eq!(
            flag(&c.argv(call), "--resume"),
            Some("5e55a000-0000-4000-8000-000000000001"),
            "call {call} resumes the session of the only attempt that reported one"
        );
    }
}

/// An answer holding a NUL character is recorded as it is, and a later step given it through a
/// template fails saying which value holds a NUL and what to do, not Rust's "nul byte found in
/// provided data".
#[test]
fn an_answer_holding_a_nul_fails_the_step_given_it_with_a_clear_error() {
    let c = Claude::new(r#"{"claude": {"program": PROGRAM}}"#);
    c.agent("planner", PLANNER);
    c.env.workflow(
        "plan",
        "name: plan\nsteps:\n  - name: Plan\n    prompt: Plan it\n    agent: planner\n  - name: Use\n    run: printf '%s' \"${{ steps.Plan.outputs.result }}\"\n    retry: {max_retry_attempts: 0}\n",
    );
    let out = c.run("nul", &["workflow", "run", "plan"]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    let status = c.env.status(None);
    assert_eq!(step(&status, "Plan")["outputs"]["result"], "a\u{0}b");
    let error = step(&status, "Use")["error"].as_str().unwrap().to_string();
    assert!(
        error.contains(
            "the value of a `${{ ... }}` template (`CORTEX_TPL_0`) holds a NUL character"
        ) && error.contains("write such data to a file"),
        "{error}"
    );
}

/// No line of `text` starts where a line of cortex's own would: each forged one is there,
/// but under the label of the value that holds it.
fn forges_no_line(text: &str, forged: &[&str]) {
    for f in forged {
        assert!(text.contains(f), "{f:?} is not shown at all:\n{text}");
        assert!(
            !text.lines().any(|l| l.starts_with(f)),
            "{f:?} starts a line of its own:\n{text}"
        );
    }
}

#[test]
fn a_claude_answer_or_error_of_several_lines_forges_no_line_of_run_or_status() {
    let c = Claude::new(r#"{"claude": {"program": PROGRAM}}"#);
    c.agent("planner", PLANNER);
    c.env.workflow(
        "plan",
        "name: plan\nsteps:\n  - name: Plan\n    prompt: Plan it\n    agent: planner\n    retry: {max_retry_attempts: 0}\n  - name: Check\n    prompt: Check it\n",
    );
    // An answer of several lines: the output `result`, shown under its label.
    let out = c.run("lines", &["workflow", "run", "plan"]);
    assert_eq!(out.code, 3, "{}{}", out.stdout, out.stderr);
    let status = c.env.status(None);
    assert_eq!(
        step(&status, "Plan")["outputs"]["result"],
        "Changed foo.rs.\n\n✅ Step 9/9: Deploy\n   Status: Complete",
        "recorded as it was answered"
    );
    let human = c.env.run(&["workflow", "status"]).stdout;
    forges_no_line(&human, &["✅ Step 9/9: Deploy"]);
    assert!(
        human.contains("   Output: result=Changed foo.rs.\n\n           ✅ Step 9/9: Deploy"),
        "{human}"
    );

    // An error of several lines, and a subtype with a newline: the attempt's failure as it
    // runs, the run's outcome, and status.
    let out = c.run("lines_error", &["workflow", "run", "plan"]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    forges_no_line(&out.stdout, &["✅ Workflow completed: plan"]);
    let human = c.env.run(&["workflow", "status"]).stdout;
    forges_no_line(&human, &["✅ Workflow completed: plan"]);
    assert!(
        human.contains("reported an error (error\\u{a}forged)"),
        "{human}"
    );
    assert!(!human.lines().any(|l| l.starts_with("forged")), "{human}");
    let status = c.env.status(None);
    assert_eq!(
        step(&status, "Plan")["error"],
        "API Error: 500\n✅ Workflow completed: plan\n   Status: Complete"
    );

    // A phase's: `orchestrate run` and `orchestrate status`.
    c.agent(
        "lead",
        "---\nname: lead\ndescription: Leads the build\nrunner: claude\n---\nYou lead.\n",
    )
    .scenario(
        "ship",
        "name: ship\ndescription: build it\nphases:\n  - name: build\n    description: Build the feature\n    agents: [lead]\n    retry: {max_retry_attempts: 0}\n",
    );
    let out = c.run("lines_error", &["orchestrate", "run", "ship"]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    forges_no_line(&out.stdout, &["✅ Workflow completed: plan"]);
    let human = c.env.run(&["orchestrate", "status", "ship"]).stdout;
    forges_no_line(&human, &["✅ Workflow completed: plan"]);
}

#[test]
fn garbage_or_nothing_from_claude_fails_the_attempt_with_a_clear_error() {
    let workflow = "name: plan\nsteps:\n  - name: Plan\n    prompt: Plan it\n    agent: planner\n    retry: {max_retry_attempts: 0}\n";
    for (mode, says) in [
        (
            "garbage",
            "Claude Code exited 0 without a result: it printed no JSON result, but: \"Invalid API key · Please run /login\"",
        ),
        (
            "empty",
            "Claude Code exited 0 without a result: it printed nothing on standard output",
        ),
    ] {
        let c = Claude::new(r#"{"claude": {"program": PROGRAM}}"#);
        c.agent("planner", PLANNER);
        c.env.workflow("plan", workflow);
        let out = c.run(mode, &["workflow", "run", "plan"]);
        assert_eq!(out.code, 1, "{mode}: {}{}", out.stdout, out.stderr);
        let status = c.env.status(None);
        let plan = step(&status, "Plan");
        let error = plan["error"].as_str().unwrap();
        assert!(error.starts_with(says), "{mode}: {error}");
        assert!(
            plan.get("agent_result").is_none(),
            "{mode}: nothing to record"
        );
        assert_eq!(
            c.env.run(&["--json", "log", "verify", "--all"]).json()["ok"],
            true
        );
    }
}

/// The report of a scenario whose Claude Code phase failed names it a phase.
#[test]
fn a_failed_claude_phase_is_reported_as_a_phase() {
    let c = Claude::new(r#"{"claude": {"program": PROGRAM}}"#);
    let program = serde_json::to_string(&c.program.display().to_string()).unwrap();
    c.env.config(&format!(
        r#"{{"agents": {{"claude": {{"program": {program}}}}}, "workflow": {{"max_retry_attempts": 0}}}}"#
    ));
    c.agent(
        "lead",
        "---\nname: lead\ndescription: Leads the build\nrunner: claude\n---\nYou lead.\n",
    )
    .scenario(
        "ship",
        "name: ship\ndescription: build it\nphases:\n  - name: build\n    description: Build the feature\n    agents: [lead]\n",
    );
    let out = c.run("error", &["orchestrate", "run", "ship"]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout
            .contains("Phase `build`: exit code 1, 1 attempt\n")
            && !out.stdout.contains("Step `build`"),
        "{}",
        out.stdout
    );
}

/// Claude Code's program not found (the default `claude` not on PATH, or a path that is not
/// there): `validate` warns with the fix, and a run fails at pre-validation with it — before
/// any attempt, so nothing is retried with backoff.
#[test]
fn a_missing_claude_program_is_named_with_a_hint_and_never_retried() {
    let workflow = "name: plan\nsteps:\n  - name: Plan\n    prompt: Plan it\n    agent: planner\n    retry: {max_retry_attempts: 3, backoff: 5s}\n";
    for (block, named) in [
        (
            r#"{"claude": {"program": "/nonexistent/claude"}}"#,
            "`/nonexistent/claude` is not an executable file",
        ),
        (r#"{"runner": "claude"}"#, "`claude` is not on PATH"),
    ] {
        let c = Claude::new(block);
        c.agent("planner", PLANNER);
        c.env.workflow("plan", workflow);
        let path = [("PATH", "/usr/bin:/bin")];
        let validate = c
            .env
            .command(&["workflow", "validate", "plan"])
            .envs(path)
            .output()
            .unwrap();
        let warned = String::from_utf8_lossy(&validate.stderr).into_owned();
        assert_eq!(validate.status.code(), Some(0), "{warned}");
        assert!(
            warned.contains(named) && warned.contains("agents.claude.program"),
            "{warned}"
        );
        let run = c
            .env
            .command(&["--json", "workflow", "run", "plan"])
            .envs(path)
            .output()
            .unwrap();
        assert_eq!(run.status.code(), Some(1));
        let status = c.env.status(None);
        assert_eq!(status["status"], "failed", "{status}");
        let problems = status["pre_problems"].to_string();
        assert!(
            problems.contains(named) && problems.contains("install Claude Code"),
            "{status}"
        );
        assert_eq!(c.calls(), 0);
        let run_id = status["run_id"].as_str().unwrap();
        let types: Vec<String> = c
            .env
            .events(run_id)
            .iter()
            .map(|e| e["type"].as_str().unwrap().to_string())
            .collect();
        assert!(
            !types
                .iter()
                .any(|t| t == "step_started" || t == "retry_scheduled"),
            "{types:?}"
        );
    }
}

/// Seen by a review: a `runner: claude` agent whose body is longer than one argument carries
/// (131,071 bytes) passed `validate`, then each attempt failed to start, was retried with
/// backoff, and the report suggested `resume --retry`. `validate` refuses it, located in the
/// agent file with how to fix it, and so does `run`, before anything is recorded — for an agent
/// Claude Code runs by the configured default runner too.
#[test]
fn an_agent_body_longer_than_one_argument_is_refused_before_any_attempt() {
    let body = "b".repeat(200_000);
    let workflow = "name: plan\nsteps:\n  - name: Plan\n    prompt: p\n    agent: big\n    retry: {max_retry_attempts: 2, backoff: 1s}\n";
    let c = Claude::new(r#"{"claude": {"program": PROGRAM}}"#);
    c.agent(
        "big",
        &format!("---\nname: big\ndescription: d\nrunner: claude\n---\n{body}\n"),
    );
    c.env.workflow("plan", workflow);
    let validate = c.run("ok", &["--json", "workflow", "validate", "plan"]);
    assert_eq!(validate.code, 2, "{}{}", validate.stdout, validate.stderr);
    // Said where the workflow names the agent (`agent: big`, line 5), with the agent file's
    // own place (line 6 of big.md) in the message.
    validate.assert_error_on_line("the Markdown body of agent `big` is 200000 bytes", 5);
    assert!(
        validate.stdout.contains("big.md:6:1"),
        "{}",
        validate.stdout
    );
    assert!(validate.stdout.contains("131071"), "{}", validate.stdout);
    let run = c.run("ok", &["workflow", "run", "plan"]);
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    assert_eq!(c.calls(), 0);
    // By the configured default runner: refused alike, in the agent's file, by `validate`
    // and by `run`, before anything is recorded.
    let c = Claude::new(r#"{"runner": "claude", "claude": {"program": PROGRAM}}"#);
    c.agent(
        "big",
        &format!("---\nname: big\ndescription: d\n---\n{body}\n"),
    );
    c.env.workflow("plan", workflow);
    let validate = c.run("ok", &["--json", "workflow", "validate", "plan"]);
    assert_eq!(validate.code, 2, "{}{}", validate.stdout, validate.stderr);
    validate.assert_error_on_line("the Markdown body of agent `big` is 200000 bytes", 5);
    assert!(
        validate.stdout.contains("agents/big.md"),
        "{}",
        validate.stdout
    );
    let run = c.run("ok", &["workflow", "run", "plan"]);
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr
            .contains("the Markdown body of agent `big` is 200000 bytes")
            && run.stderr.contains("big.md:5:1"),
        "{}",
        run.stderr
    );
    let history = c.env.run(&["--json", "workflow", "history"]).json()["runs"].clone();
    assert_eq!(history, serde_json::json!([]), "nothing was recorded");
    assert_eq!(c.calls(), 0);
}

#[test]
fn a_claude_run_that_hangs_past_the_step_timeout_ends_as_a_timeout() {
    let c = Claude::new(r#"{"claude": {"program": PROGRAM}}"#);
    c.agent("planner", PLANNER);
    c.env.workflow(
        "plan",
        "name: plan\nsteps:\n  - name: Plan\n    prompt: Plan it\n    agent: planner\n    timeout: 1s\n    retry: {max_retry_attempts: 0}\n",
    );
    let out = c.run("hang", &["workflow", "run", "plan"]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    let plan_status = c.env.status(None);
    let plan = step(&plan_status, "Plan");
    assert_eq!(plan["error"], "timed out after 1s");
    assert!(
        !alive(&c.calls.join("pid-1")),
        "the hung program was ended with its group"
    );
    let log = c.env.run(&["log", "show"]).stdout;
    assert!(
        log.contains("step_timed_out") && !log.contains("agent_result"),
        "{log}"
    );
}

#[test]
fn a_scenario_phase_runs_its_claude_agent_with_the_other_agents_as_subagents() {
    let c = Claude::new(r#"{"claude": {"program": PROGRAM, "permission_mode": "plan"}}"#);
    c.agent(
        "lead",
        "---\nname: lead\ndescription: Leads the build\nrunner: claude\ntools: [Read, Edit]\nmodel: opus\n---\nYou lead the build.\n",
    )
    .agent(
        "reviewer",
        "---\nname: reviewer\ndescription: Reviews changes\ntools: Read, Grep\nmodel: haiku\n---\nYou review.\n",
    )
    .agent(
        "scribe",
        "---\nname: scribe\ndescription: Writes notes\ncommand: cat > notes.txt\n---\nYou write.\n",
    )
    .scenario(
        "ship",
        "name: ship\ndescription: build then write notes\nphases:\n  - name: build\n    description: Build the feature\n    agents: [reviewer, lead]\n    success_criteria:\n      - Feature built\n  - name: notes\n    description: Write the notes\n    condition: after:build\n    agents: [scribe]\n",
    );
    let out = c.run("ok", &["orchestrate", "run", "ship"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert_eq!(
        c.calls(),
        1,
        "the scribe phase runs its command, not Claude Code"
    );
    let argv = c.argv(1);
    assert_eq!(
        flag(&argv, "--append-system-prompt"),
        Some("You lead the build.")
    );
    assert_eq!(flag(&argv, "--model"), Some("opus"));
    assert_eq!(flag(&argv, "--permission-mode"), Some("plan"));
    assert_eq!(flag(&argv, "--allowedTools"), Some("Read"));
    let subagents: serde_json::Value =
        serde_json::from_str(flag(&argv, "--agents").unwrap()).unwrap();
    assert_eq!(
        subagents,
        serde_json::json!({
            "reviewer": {
                "description": "Reviews changes",
                "prompt": "You review.\n",
                "tools": ["Read", "Grep"],
                "model": "haiku",
            }
        })
    );
    let prompt = c.stdin(1);
    assert!(
        prompt.starts_with("Phase: build\nBuild the feature\n")
            && prompt.contains("- Feature built"),
        "the prompt on stdin starts with its first line: {prompt:?}"
    );
    assert!(
        std::fs::read_to_string(c.env.file("notes.txt"))
            .unwrap()
            .contains("Write the notes")
    );
    let status = c
        .env
        .run(&["--json", "orchestrate", "status", "ship"])
        .json();
    let build = step(&status, "build");
    assert_eq!(build["agent_result"]["agent"], "lead");
    assert_eq!(build["outputs"]["result"], "Plan written (call 1)");
    let human = c.env.run(&["orchestrate", "status", "ship"]).stdout;
    assert!(
        human.contains("agent: Claude Code (lead, attempt 1): session"),
        "{human}"
    );
}

#[test]
fn the_configured_default_runner_runs_agents_without_a_command_with_claude() {
    let c =
        Claude::new(r#"{"runner": "claude", "claude": {"program": PROGRAM, "model": "haiku"}}"#);
    c.agent(
        "helper",
        "---\nname: helper\ndescription: Helps\n---\nYou help.\n",
    )
    .agent(
        "scribe",
        "---\nname: scribe\ndescription: Writes\ncommand: cat > written.txt\n---\n",
    );
    c.env.workflow(
        "help",
        "name: help\nsteps:\n  - name: Help\n    prompt: Help out\n    agent: helper\n  - name: Write\n    prompt: Write it down\n    agent: scribe\n",
    );
    let out = c.run("ok", &["workflow", "run", "help"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert_eq!(c.calls(), 1);
    assert_eq!(
        flag(&c.argv(1), "--model"),
        Some("haiku"),
        "the configured model"
    );
    assert_eq!(
        flag(&c.argv(1), "--append-system-prompt"),
        Some("You help.")
    );
    assert_eq!(c.stdin(1), "Help out");
    assert_eq!(
        std::fs::read_to_string(c.env.file("written.txt")).unwrap(),
        "Write it down",
        "an agent with a command still runs its command"
    );
    // Without the default, the same agent's work is external: the run waits for a report.
    c.env.config(&format!(
        r#"{{"agents": {{"claude": {{"program": {}}}}}}}"#,
        serde_json::to_string(&c.program.display().to_string()).unwrap()
    ));
    assert_eq!(c.run("ok", &["workflow", "run", "help"]).code, 3);
    assert_eq!(c.calls(), 1);
}

#[test]
fn a_secret_in_claude_s_result_never_reaches_the_log() {
    let c = Claude::new(r#"{"claude": {"program": PROGRAM}}"#);
    c.agent("planner", PLANNER);
    c.env.workflow(
        "plan",
        "name: plan\nsteps:\n  - name: Plan\n    prompt: Plan it\n    agent: planner\n",
    );
    let out = c.run("secret", &["workflow", "run", "plan"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let status = c.env.status(None);
    // The result holds a secret the run knows: the output is held as a secret output (the
    // steps after it, driven here, are given the text; the log keeps `***`), as an input
    // holding one is, rather than scrubbed in place into a value the run would go on with.
    assert_eq!(step(&status, "Plan")["outputs"]["result"], "***");
    let db = std::fs::read(c.env.db()).unwrap();
    let wal = std::fs::read(c.env.home().join("cortex.db-wal")).unwrap_or_default();
    for bytes in [&db, &wal] {
        assert!(
            !bytes.windows(18).any(|w| w == b"sk-fake-4d1a9c77e2"),
            "the secret is in the log"
        );
    }
    let export = c
        .env
        .run(&["log", "export", status["run_id"].as_str().unwrap()]);
    assert!(!export.stdout.contains("sk-fake-4d1a9c77e2"));
    assert!(export.stdout.contains("the key is ***"));
}

#[test]
fn a_bad_agents_block_or_agent_file_is_refused_before_anything_runs() {
    let c = Claude::new(r#"{"claude": {"program": PROGRAM, "permission_mode": "acceptedits"}}"#);
    c.agent("planner", PLANNER);
    c.env.workflow(
        "plan",
        "name: plan\nsteps:\n  - name: Plan\n    prompt: Plan it\n    agent: planner\n",
    );
    let out = c.run("ok", &["workflow", "run", "plan"]);
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains("cortex.config.json:1:") && out.stderr.contains("acceptedits"),
        "{}",
        out.stderr
    );
    assert_eq!(c.calls(), 0);
    // An agent whose tool would be read as an option of `claude` is not a valid agent.
    let c = Claude::new(r#"{"claude": {"program": PROGRAM}}"#);
    c.agent(
        "planner",
        "---\nname: planner\ndescription: d\nrunner: claude\ntools: Read, --dangerously-skip-permissions\n---\n",
    );
    c.env.workflow(
        "plan",
        "name: plan\nsteps:\n  - name: Plan\n    prompt: Plan it\n    agent: planner\n",
    );
    let out = c.run("ok", &["workflow", "run", "plan"]);
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    assert_eq!(c.calls(), 0);
    let agents = c.env.run(&["agent", "list"]);
    assert!(
        agents.stdout.contains("starts with `-`") || agents.stderr.contains("starts with `-`"),
        "{}{}",
        agents.stdout,
        agents.stderr
    );
}

/// A definition naming an agent whose file does not parse is told that file's problems, where
/// they are: before, it said "agent not found" and to put agents in CORTEX_HOME/agents/, where
/// the file was.
#[test]
fn an_invalid_agent_file_is_reported_with_its_problems_not_as_a_missing_agent() {
    let c = Claude::new(r#"{"claude": {"program": PROGRAM}}"#);
    c.agent(
        "planner",
        "---\nname: planner\ndescription: Plans\nrunner: claude\nmodel: son net\n---\nYou plan.\n",
    )
    .scenario(
        "ship",
        "name: ship\ndescription: build it\nphases:\n  - name: build\n    description: Build it\n    agents: [planner]\n",
    );
    c.env.workflow(
        "plan",
        "name: plan\nsteps:\n  - name: Plan\n    prompt: Plan it\n    agent: planner\n",
    );
    for args in [
        &["workflow", "validate", "plan"][..],
        &["workflow", "run", "plan"],
        &["orchestrate", "validate", "ship"],
        &["orchestrate", "run", "ship"],
    ] {
        let out = c.run("ok", args);
        assert_eq!(out.code, 2, "{args:?}: {}{}", out.stdout, out.stderr);
        let said = format!("{}{}", out.stdout, out.stderr);
        assert!(
            said.contains("`model: son net` is not a model name") && said.contains("planner.md:5:"),
            "{args:?}: {said}"
        );
        assert!(
            !said.to_lowercase().contains("agent not found"),
            "{args:?}: {said}"
        );
    }
    assert_eq!(c.calls(), 0);
}

/// N8: `--json … validate` carries the missing-`claude` warning in its document (`warnings`),
/// not only on stderr, for a workflow and a scenario alike: a script reading the document
/// learns that its runs would fail here.
#[test]
fn validate_json_carries_the_missing_claude_warning_in_its_document() {
    let c = Claude::new(r#"{"claude": {"program": "/nonexistent/claude"}}"#);
    c.agent("planner", PLANNER);
    c.env.workflow(
        "plan",
        "name: plan\nsteps:\n  - name: Plan\n    prompt: Plan it\n    agent: planner\n",
    );
    c.scenario(
        "ship",
        "name: ship\ndescription: build it\nphases:\n  - name: build\n    description: Build the feature\n    agents: [planner]\n",
    );
    for args in [
        &["--json", "workflow", "validate", "plan"][..],
        &["--json", "orchestrate", "validate", "ship"],
    ] {
        let out = c.env.run(args);
        assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
        let doc = out.json();
        assert_eq!(doc["valid"], true, "{doc}");
        let warnings = doc["warnings"].as_array().expect("a warnings array");
        assert!(
            warnings.len() == 1
                && warnings[0]
                    .as_str()
                    .unwrap()
                    .contains("`/nonexistent/claude` is not an executable file"),
            "{doc}"
        );
        assert!(out.stderr.contains("warning: "), "{}", out.stderr);
    }
    // Nothing to warn of: an empty array.
    c.env
        .workflow("plain", "name: plain\nsteps:\n  - {name: a, run: 'true'}\n");
    let doc = c
        .env
        .run(&["--json", "workflow", "validate", "plain"])
        .json();
    assert_eq!(doc["warnings"], serde_json::json!([]), "{doc}");
}

/// SPEC §7: a prompt is rendered wherever it goes, an agent's stdin included, with secrets
/// redacted — the stdin of Claude Code goes to a third party's API. The agent reads the
/// secret's value where every command does, `CORTEX_INPUT_<NAME>`. Before, the secret was
/// written into the prompt on the agent's stdin.
#[test]
fn a_secret_input_in_an_agents_prompt_reaches_its_stdin_redacted() {
    let c = Claude::new(r#"{"claude": {"program": PROGRAM}}"#);
    c.agent("planner", PLANNER);
    c.env.workflow(
        "sw",
        "name: sw\ninputs:\n  api_token: {type: string, required: true}\nsteps:\n  - name: Use\n    prompt: 'call the api with ${{ inputs.api_token }}'\n    agent: planner\n",
    );
    let out = c.run(
        "ok",
        &[
            "workflow",
            "run",
            "sw",
            "--input",
            "api_token=TOPSECRET-77aa",
        ],
    );
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert_eq!(c.stdin(1), "call the api with ***");
    assert_eq!(
        std::fs::read_to_string(c.calls.join("token-1")).unwrap(),
        "TOPSECRET-77aa",
        "the agent has the value in its environment"
    );
}

/// Claude Code's result is the step's output `result`, held to the bound of every output
/// (1 MiB): a larger one fails the attempt saying so, as a larger `$CORTEX_OUTPUT` does, and
/// its whole text is in the attempt's log file, not in the log.
#[test]
fn a_claude_result_over_the_output_limit_fails_the_attempt_and_stays_in_its_log_file() {
    let c = Claude::new(r#"{"claude": {"program": PROGRAM}}"#);
    c.agent("planner", PLANNER);
    c.env.workflow(
        "plan",
        "name: plan\nsteps:\n  - name: Plan\n    prompt: Plan it\n    agent: planner\n    retry: {max_retry_attempts: 0}\n",
    );
    let out = c.run("huge", &["workflow", "run", "plan"]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    let status = c.env.status(None);
    assert_eq!(status["status"], "failed");
    let plan = step(&status, "Plan");
    let error = plan["error"].as_str().unwrap();
    assert!(
        error.contains("more than the 1024 KiB outputs may hold")
            && error.contains("the attempt's log file"),
        "{error}"
    );
    assert!(plan["outputs"].get("result").is_none(), "{plan}");
    let run_id = status["run_id"].as_str().unwrap();
    let events: Vec<serde_json::Value> = c
        .env
        .run(&["log", "export", run_id])
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(
        events.iter().all(|e| e["type"] != "output_recorded"),
        "nothing recorded as an output"
    );
    let said = events.iter().find(|e| e["type"] == "agent_result").unwrap();
    let text = said["body"]["result"].as_str().unwrap_or_default();
    assert!(
        text.len() < 8192 && text.contains("3000000 bytes in all"),
        "the event holds the result clipped: {} bytes",
        text.len()
    );
    let kept = events.iter().find(|e| e["type"] == "attempt_log").unwrap();
    let file = c.env.home().join(kept["body"]["file"].as_str().unwrap());
    let whole = std::fs::read_to_string(&file).unwrap();
    // A result of megabytes that is an error becomes the step's error clipped as well.
    let out = c.run("huge,huge_error", &["workflow", "run", "plan"]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    let status = c.env.status(None);
    let error = step(&status, "Plan")["error"].as_str().unwrap().to_string();
    assert!(
        error.len() < 8192 && error.contains("3000000 bytes in all"),
        "{} bytes",
        error.len()
    );
    assert!(
        whole.contains(&"a".repeat(3_000_000)),
        "the whole text is in {}",
        file.display()
    );
}

/// A bare program name is looked for on PATH alone, by `validate` and by a run alike, as the
/// process started in the run's directory looks for it: a `fakeclaude` in the current
/// directory that PATH does not name is not found by either (validate warns, the run fails
/// before its first attempt); with `.` on PATH both find it and the run runs it.
#[test]
fn a_bare_claude_program_is_looked_for_on_path_alone_by_validate_and_run_alike() {
    let c = Claude::new(r#"{"claude": {"program": "fakeclaude"}}"#);
    c.agent("planner", PLANNER);
    let local = c.env.project().join("fakeclaude");
    std::fs::copy(&c.program, &local).unwrap();
    std::fs::set_permissions(&local, std::fs::Permissions::from_mode(0o755)).unwrap();
    c.env.workflow(
        "plan",
        "name: plan\nsteps:\n  - name: Plan\n    prompt: Plan it\n    agent: planner\n",
    );
    let with_path = |path: &str, args: &[&str]| {
        let out = c
            .env
            .command(args)
            .env("PATH", path)
            .env("FAKE_CLAUDE_DIR", &c.calls)
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, warned) = with_path("/usr/bin:/bin", &["workflow", "validate", "plan"]);
    assert_eq!(code, 0, "{warned}");
    assert!(warned.contains("`fakeclaude` is not on PATH"), "{warned}");
    let (code, said) = with_path("/usr/bin:/bin", &["workflow", "run", "plan"]);
    assert_eq!(code, 1, "{said}");
    let status = c.env.status(None);
    assert!(
        status["pre_problems"]
            .to_string()
            .contains("`fakeclaude` is not on PATH"),
        "{status}"
    );
    assert_eq!(c.calls(), 0);
    // `.` on PATH: the run's directory, where the file is: found by both.
    let (code, warned) = with_path(".:/usr/bin:/bin", &["workflow", "validate", "plan"]);
    assert_eq!(code, 0, "{warned}");
    assert!(!warned.contains("fakeclaude"), "{warned}");
    let (code, said) = with_path(".:/usr/bin:/bin", &["workflow", "run", "plan"]);
    assert_eq!(code, 0, "{said}");
    assert_eq!(c.calls(), 1);
}

/// Seen by a review: how Claude Code runs was frozen at `run` (`run_started.claude`), so a
/// fixed `agents.claude.program` never helped the run it was fixed for — every `resume
/// --retry` ran the old program, and once that was gone failed saying "set
/// `agents.claude.program`" while the configuration already said the new one, offering
/// `resume --retry` again (a loop). A resume runs Claude Code as the configuration in force at
/// resume says, recorded in `run_resumed.claude` (event version 8) where it changed, so that
/// replay reads it from the log; which agents Claude Code runs, and as what, stay as at `run`.
#[test]
fn a_resume_runs_claude_code_as_the_configuration_in_force_at_resume_says() {
    let c = Claude::new(r#"{"claude": {"program": PROGRAM}}"#);
    let bad = c.env.dir.path().join("bad-claude.sh");
    std::fs::write(&bad, "#!/bin/sh\necho bad >&2\nexit 2\n").unwrap();
    std::fs::set_permissions(&bad, std::fs::Permissions::from_mode(0o755)).unwrap();
    let json = |p: &Path| serde_json::to_string(&p.display().to_string()).unwrap();
    c.env.config(&format!(
        r#"{{"agents": {{"claude": {{"program": {}}}}}}}"#,
        json(&bad)
    ));
    c.agent(
        "impl",
        "---\nname: impl\ndescription: implementer\nrunner: claude\nmodel: sonnet\n---\nYou implement.\n",
    );
    c.env.workflow(
        "cw",
        "name: cw\nsteps:\n  - name: s\n    prompt: do it\n    agent: impl\n    retry: {max_retry_attempts: 0}\n",
    );
    let out = c.run("ok", &["workflow", "run", "cw"]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    let run_id = c.env.status(None)["run_id"].as_str().unwrap().to_string();

    // The configuration now names the stand-in, with a permission mode: the resume runs it.
    c.env.config(&format!(
        r#"{{"agents": {{"claude": {{"program": {}, "permission_mode": "plan"}}}}}}"#,
        json(&c.program)
    ));
    let out = c.run("ok", &["workflow", "resume", &run_id, "--retry"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert_eq!(c.calls(), 1, "the stand-in ran the retried attempt");
    assert_eq!(c.argv(1)[0], c.program.display().to_string());
    assert_eq!(flag(&c.argv(1), "--permission-mode"), Some("plan"));
    assert_eq!(
        flag(&c.argv(1), "--model"),
        Some("sonnet"),
        "the agent as at `run`"
    );

    // Recorded where it changed, as version 8; the log shows it and still verifies.
    let events = c.env.events(&run_id);
    let resumed: Vec<&serde_json::Value> = events
        .iter()
        .filter(|e| e["type"] == "run_resumed")
        .collect();
    assert_eq!(resumed.len(), 1, "{events:?}");
    assert_eq!(resumed[0]["version"], 8, "{}", resumed[0]);
    assert_eq!(
        resumed[0]["body"]["claude"]["program"],
        c.program.display().to_string(),
        "{}",
        resumed[0]
    );
    assert_eq!(resumed[0]["body"]["claude"]["permission_mode"], "plan");
    let log = c.env.run(&["log", "show", &run_id]);
    assert!(
        log.stdout
            .contains("Claude Code as cortex.config.json says at resume: program"),
        "{}",
        log.stdout
    );
    assert_eq!(c.env.run(&["log", "verify", &run_id]).code, 0);
}

/// Seen by a review: an attempt that could not start Claude Code (its program gone since the
/// run began) was retried with backoff, though a missing program is not retried (DESIGN.md
/// §6b): no retry finds it. The run pauses at the first such attempt, saying how to fix it;
/// a `resume --retry` once the configuration names a program that is there runs it.
#[test]
fn a_claude_program_gone_since_run_is_not_retried_and_a_fixed_configuration_resumes() {
    let c = Claude::new(r#"{"claude": {"program": PROGRAM}}"#);
    let gone = c.env.dir.path().join("gone-claude.sh");
    std::fs::write(&gone, "#!/bin/sh\necho bad >&2\nexit 2\n").unwrap();
    std::fs::set_permissions(&gone, std::fs::Permissions::from_mode(0o755)).unwrap();
    let json = |p: &Path| serde_json::to_string(&p.display().to_string()).unwrap();
    c.env.config(&format!(
        r#"{{"agents": {{"claude": {{"program": {}}}}}}}"#,
        json(&gone)
    ));
    c.agent("planner", PLANNER);
    c.env.workflow(
        "plan",
        "name: plan\nsteps:\n  - name: Plan\n    prompt: Plan it\n    agent: planner\n    retry: {max_retry_attempts: 2, backoff: 0s}\n",
    );
    let out = c.run("ok", &["workflow", "run", "plan"]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    let run_id = c.env.status(None)["run_id"].as_str().unwrap().to_string();
    let before = c.env.events(&run_id).len();

    std::fs::remove_file(&gone).unwrap();
    let out = c.run("ok", &["workflow", "resume", &run_id, "--retry"]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("is not an executable file")
            && out.stdout.contains("agents.claude.program"),
        "{}",
        out.stdout
    );
    let events = c.env.events(&run_id);
    let types: Vec<&str> = events[before..]
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        ["run_resumed", "step_started", "step_failed", "run_paused"],
        "one attempt, no retry: {events:?}"
    );

    c.env.config(&format!(
        r#"{{"agents": {{"claude": {{"program": {}}}}}}}"#,
        json(&c.program)
    ));
    let out = c.run("ok", &["workflow", "resume", &run_id, "--retry"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert_eq!(c.calls(), 1);
    assert_eq!(c.env.status(Some(&run_id))["status"], "completed");
}

/// Seen by a review: every view said an agent that runs with Claude Code waits for a person —
/// `agent status` "Command: (none: phases with this agent wait for a report)", `agent list
/// --json` `command: null` with no runner — for a `runner: claude` agent and for one the
/// configured default runner gives Claude Code alike. Each says Claude Code, its program and
/// model (`runner` and `claude` in JSON).
#[test]
fn agent_list_and_status_say_an_agent_runs_with_claude_code() {
    let c = Claude::new(r#"{"claude": {"program": PROGRAM}}"#);
    c.agent(
        "impl",
        "---\nname: impl\ndescription: implementer\nrunner: claude\nmodel: sonnet\n---\nYou implement.\n",
    )
    .agent("helper", "---\nname: helper\ndescription: Helps\n---\nYou help.\n");
    let program = c.program.display().to_string();
    let status = c.env.run(&["agent", "status", "impl"]);
    assert_eq!(status.code, 0, "{}", status.stderr);
    assert!(
        status.stdout.contains(&format!(
            "Runs with: Claude Code (program {program}, model sonnet)"
        )) && !status.stdout.contains("wait for a report"),
        "{}",
        status.stdout
    );
    let doc = c.env.run(&["--json", "agent", "status", "impl"]).json();
    assert_eq!(doc["runner"], "claude", "{doc}");
    assert_eq!(doc["claude"]["program"], program.as_str(), "{doc}");
    assert_eq!(doc["claude"]["model"], "sonnet", "{doc}");
    let list = c.env.run(&["--json", "agent", "list"]).json();
    let row = common::agent_row;
    assert_eq!(row(&list, "impl")["runner"], "claude", "{list}");
    assert_eq!(row(&list, "helper")["runner"], "external", "{list}");
    let text = c.env.run(&["agent", "list"]).stdout;
    assert!(
        text.lines()
            .any(|l| l.contains("impl") && l.contains("[runs with Claude Code, model sonnet]")),
        "{text}"
    );
    let status = c.env.run(&["agent", "status", "helper"]).stdout;
    assert!(status.contains("wait for a report"), "{status}");

    // The configured default runner: the agent without a command or runner runs with Claude
    // Code, with the configuration's model, and is shown so.
    c.env.config(&format!(
        r#"{{"agents": {{"runner": "claude", "claude": {{"program": {}, "model": "haiku"}}}}}}"#,
        serde_json::to_string(&program).unwrap()
    ));
    let status = c.env.run(&["agent", "status", "helper"]).stdout;
    assert!(
        status.contains(&format!(
            "Runs with: Claude Code (program {program}, model haiku)"
        )),
        "{status}"
    );
    let list = c.env.run(&["--json", "agent", "list"]).json();
    assert_eq!(row(&list, "helper")["runner"], "claude", "{list}");
    assert_eq!(row(&list, "helper")["claude"]["model"], "haiku", "{list}");
}
