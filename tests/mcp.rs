//! `cortex mcp` (SPEC §8), on the real binary: a real MCP client (the official Python SDK,
//! `tests/mcp/client.py`) driving workflows and scenarios through tools alone, and raw
//! newline-delimited JSON-RPC for what a client library hides — that stdout carries only
//! protocol messages, that a long run does not hold up other requests, and that a cancelled
//! call, a client hanging up and SIGTERM each stop a drive gracefully.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::Env;
use serde_json::{Value, json};

/// Long enough for any answer on a loaded 2-core machine; only a hung server reaches it.
const PATIENCE: Duration = Duration::from_secs(90);

/// A step that runs until the file `go` appears in the project (at most about a minute, so a
/// failing test still ends).
const WAITS_FOR_GO: &str = "name: gated\nsteps:\n  - name: Hold\n    run: 'i=0; while [ ! -f go ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done; test -f go'\n  - name: After\n    run: echo after\n";

const REVIEW_GATE: &str = "name: review-gate\ndescription: Build, a manual review, then ship\nphases:\n  - name: build\n    description: Build it\n    condition: auto\n    run: echo built > built.txt\n  - name: review\n    description: Review the build\n    condition: manual\n    success_criteria:\n      - The build was read end to end\n  - name: ship\n    description: Ship what was reviewed\n    condition: after:build,review\n    run: echo shipped > shipped.txt\n";

// ---- the official MCP client (Python SDK) ----

/// The Python with the official MCP SDK (`.ci/run` makes it), or why the test is skipped.
fn python() -> Option<PathBuf> {
    match std::env::var_os("CORTEX_TEST_MCP_PYTHON").filter(|p| !p.is_empty()) {
        Some(p) => Some(PathBuf::from(p)),
        None => {
            println!(
                "skipped: CORTEX_TEST_MCP_PYTHON is not set (.ci/run sets it to the Python of a virtual environment with the official MCP SDK, `pip install mcp`)"
            );
            None
        }
    }
}

/// Run a check of `tests/mcp/client.py` against this home; its facts (the last line).
fn client_check(python: &PathBuf, env: &Env, check: &str) -> Value {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/mcp/client.py");
    let mut child = std::process::Command::new(python)
        .arg(script)
        .arg(check)
        .arg(env!("CARGO_BIN_EXE_cortex"))
        .arg(env.home())
        .arg(env.project())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the MCP client");
    let stdout = drain(child.stdout.take().unwrap());
    let stderr = drain(child.stderr.take().unwrap());
    let code = wait_bounded(&mut child, "the MCP client");
    let out = String::from_utf8_lossy(&stdout.lock().unwrap()).into_owned();
    let err = String::from_utf8_lossy(&stderr.lock().unwrap()).into_owned();
    assert_eq!(code, 0, "check {check} failed:\n{out}\n{err}");
    serde_json::from_str(out.lines().last().unwrap_or_default())
        .unwrap_or_else(|e| panic!("no facts from {check} ({e}):\n{out}\n{err}"))
}

/// What the MCP server says with the home it uses named (`--home H`: the client's shell has
/// not the server's CORTEX_HOME), as the CLI says it in that home: without it.
fn without_home(env: &Env, text: &str) -> String {
    let home = env.home().display().to_string();
    text.replace(&format!("cortex --home {home} "), "cortex ")
        .replace(&format!("\"cortex\",\"--home\",\"{home}\","), "\"cortex\",")
}

/// Every actor recorded in a run's events (`actor` and `by.actor`), with the event type.
fn actors(env: &Env, run_id: &str) -> Vec<(String, String)> {
    let events = env.run(&["--json", "log", "show", run_id]).json();
    let mut found = Vec::new();
    for e in events.as_array().unwrap() {
        let body = &e["body"];
        for actor in [&body["actor"], &body["by"]["actor"]] {
            if let Some(a) = actor.as_str() {
                found.push((e["type"].as_str().unwrap().to_string(), a.to_string()));
            }
        }
    }
    found
}

#[test]
fn an_mcp_client_drives_the_feature_development_workflow_to_completed_through_tools_alone() {
    let Some(python) = python() else { return };
    let env = Env::new();
    let facts = client_check(&python, &env, "feature_development");
    let run_id = facts["run_id"].as_str().unwrap();
    let status = env.status(Some(run_id));
    assert_eq!(status["status"], "completed", "{status}");
    // The log shows the MCP actor: the run and each of the four reports.
    let actors = actors(&env, run_id);
    assert!(
        actors.iter().all(|(_, a)| a == "mcp:pytest-agent"),
        "{actors:?}"
    );
    let reports = actors.iter().filter(|(t, _)| t == "step_succeeded").count();
    assert_eq!(reports, 4, "{actors:?}");
    assert!(actors.iter().any(|(t, _)| t == "run_started"), "{actors:?}");
    env.run(&["log", "verify", "--all"]).assert_exit(0);
}

#[test]
fn an_mcp_client_takes_a_scenario_through_its_manual_phase_to_completed() {
    let Some(python) = python() else { return };
    let env = Env::new();
    std::fs::create_dir_all(env.home().join("scenarios")).unwrap();
    std::fs::write(env.home().join("scenarios/review-gate.yaml"), REVIEW_GATE).unwrap();
    let facts = client_check(&python, &env, "scenario_manual");
    let run_id = facts["run_id"].as_str().unwrap();
    assert!(env.file("shipped.txt").exists(), "ship ran in the project");
    let actors = actors(&env, run_id);
    assert!(
        actors.iter().all(|(_, a)| a == "mcp:pytest-lead"),
        "{actors:?}"
    );
    for event in [
        "run_started",
        "phase_start_requested",
        "criterion_met",
        "step_succeeded",
    ] {
        assert!(
            actors.iter().any(|(t, _)| t == event),
            "{event}: {actors:?}"
        );
    }
}

/// A workflow with a secret input (secret by its name) whose prompt step's `validate:` runs a
/// command, and a step after it that reads the input (its length: the definition, kept in the
/// log, must not hold the value).
const SECRET_CHECKS: &str = "name: sec\ninputs:\n  api_token: {type: string, required: true}\nsteps:\n  - name: Write\n    prompt: Write notes.txt\n    validate:\n      - run: test -f notes.txt\n  - name: Use\n    run: test ${#CORTEX_INPUT_API_TOKEN} -eq 10 && echo used >> used.log\n";

#[test]
fn an_mcp_session_that_gave_a_secret_input_completes_a_step_whose_checks_need_it() {
    let Some(python) = python() else { return };
    let env = Env::new();
    env.workflow("sec", SECRET_CHECKS);
    let facts = client_check(&python, &env, "secret_checks_in_session");
    for run in facts["runs"].as_array().unwrap() {
        let status = env.status(Some(run.as_str().unwrap()));
        assert_eq!(status["status"], "completed", "{status}");
    }
    // The step after the report ran with the value, in both runs.
    assert_eq!(common::lines(&env.file("used.log")).len(), 2);
    // Memory only: the value is nowhere in the log.
    assert_eq!(env.log_holding("s3cr3t-tok"), Vec::<String>::new());
}

const SHIP: &str = "name: ship\ndescription: Plan, build, test after build, notes beside\ninputs:\n  deploy_token: {type: string, required: true}\nphases:\n  - name: plan\n    condition: auto\n    run: echo plan >> plan.log\n  - name: build\n    condition: after:plan\n    run: echo build >> build.log\n  - name: test\n    condition: after:build\n    run: test -f ok && test ${#CORTEX_INPUT_DEPLOY_TOKEN} -eq 9\n  - name: notes\n    condition: auto\n    parallel: true\n    run: echo n >> notes.log\n";

#[test]
fn the_resume_tool_takes_from_skip_and_inputs_for_a_scenario_as_orchestrate_resume_does() {
    let Some(python) = python() else { return };
    let env = Env::new();
    env.scenario("ship", SHIP);
    let facts = client_check(&python, &env, "scenario_resume_modes");
    let run_id = facts["run_id"].as_str().unwrap();
    let resumed: Vec<serde_json::Value> = env
        .events(run_id)
        .into_iter()
        .filter(|e| e["type"] == "run_resumed")
        .collect();
    assert_eq!(resumed.len(), 1, "{resumed:#?}");
    assert_eq!(resumed[0]["body"]["restart_from"], "build");
    assert_eq!(env.log_holding("tok-12345"), Vec::<String>::new());
}

#[test]
fn every_tool_result_follows_its_output_schema_under_the_official_sdk() {
    let Some(python) = python() else { return };
    let env = Env::new();
    std::fs::create_dir_all(env.home().join("scenarios")).unwrap();
    std::fs::write(env.home().join("scenarios/review-gate.yaml"), REVIEW_GATE).unwrap();
    let facts = client_check(&python, &env, "every_tool_result");
    let aborted = env.status(Some(facts["run_id"].as_str().unwrap()));
    assert_eq!(aborted["status"], "aborted", "{aborted}");
}

/// Aborting a run the server drives, by its own `abort` tool or by `cortex workflow abort`
/// from a shell, ended `cortex mcp` itself (stderr `cortex mcp: done`, exit 0 with stdin still
/// open): the abort sent SIGTERM to the run's holder, which was the server. Now each `run` call
/// answers with its aborted run and the server answers the calls after.
#[test]
fn aborting_a_run_the_mcp_server_drives_does_not_end_the_server() {
    let Some(python) = python() else { return };
    let env = Env::new();
    env.workflow("o", "name: o\nsteps:\n  - name: S\n    run: sleep 60\n");
    let facts = client_check(&python, &env, "abort_a_driven_run");
    let aborted = facts["aborted"].as_array().unwrap();
    assert_eq!(aborted.len(), 2, "{facts}");
    for run in aborted {
        let status = env.status(Some(run.as_str().unwrap()));
        assert_eq!(status["status"], "aborted", "{status}");
    }
}

#[test]
fn bad_input_to_an_mcp_client_gets_clear_errors_and_the_server_answers_on() {
    let Some(python) = python() else { return };
    let env = Env::new();
    client_check(&python, &env, "bad_input");
}

// ---- raw JSON-RPC ----

fn drain(mut from: impl Read + Send + 'static) -> Arc<Mutex<Vec<u8>>> {
    let buf = Arc::new(Mutex::new(Vec::new()));
    let into = Arc::clone(&buf);
    std::thread::spawn(move || {
        let mut chunk = [0u8; 4096];
        while let Ok(n) = from.read(&mut chunk) {
            if n == 0 {
                break;
            }
            into.lock().unwrap().extend_from_slice(&chunk[..n]);
        }
    });
    buf
}

/// Wait for a process to end; one that does not end in PATIENCE is killed and fails the test.
fn wait_bounded(child: &mut Child, what: &str) -> i32 {
    let until = Instant::now() + PATIENCE;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code().unwrap_or(-1);
        }
        if Instant::now() > until {
            let _ = child.kill();
            panic!("{what} did not end: it hangs");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `cortex mcp` spoken to line by line.
struct Session {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    /// Every line the server wrote on stdout.
    seen: Vec<String>,
    /// Messages read while looking for another id.
    stash: BTreeMap<i64, Value>,
    stderr: Arc<Mutex<Vec<u8>>>,
}

impl Session {
    fn start(env: &Env, extra: &[&str]) -> Session {
        Session::start_with(env, extra, &[])
    }

    /// `start`, no arguments besides, and the `initialize` handshake made as `client`: the
    /// session most tests speak in.
    fn open(env: &Env, client: &str) -> Session {
        let mut s = Session::start(env, &[]);
        s.initialize(client);
        s
    }

    /// `start` with more variables in the server's environment.
    fn start_with(env: &Env, extra: &[&str], vars: &[(&str, &str)]) -> Session {
        let mut args = vec!["mcp"];
        args.extend_from_slice(extra);
        let mut child = env
            .command(&args)
            .envs(vars.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start cortex mcp");
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = drain(child.stderr.take().unwrap());
        let stdin = child.stdin.take();
        Session {
            child,
            stdin,
            lines,
            seen: Vec::new(),
            stash: BTreeMap::new(),
            stderr,
        }
    }

    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.stderr.lock().unwrap()).into_owned()
    }

    fn send_line(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin still open");
        writeln!(stdin, "{line}").unwrap();
        stdin.flush().unwrap();
    }

    fn send(&mut self, message: Value) {
        self.send_line(&message.to_string());
    }

    /// The `initialize` handshake, as `name`.
    fn initialize(&mut self, name: &str) -> Value {
        self.send(
            json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {},
            "clientInfo": {"name": name, "version": "1"}}}),
        );
        let answer = self.response(0);
        self.send(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
        answer
    }

    fn request(&mut self, id: i64, method: &str, params: Value) {
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
    }

    fn call(&mut self, id: i64, tool: &str, arguments: Value) {
        self.request(
            id,
            "tools/call",
            json!({"name": tool, "arguments": arguments}),
        );
    }

    /// The answer to request `id`; other messages read meanwhile are kept for later.
    fn response(&mut self, id: i64) -> Value {
        if let Some(found) = self.stash.remove(&id) {
            return found;
        }
        loop {
            let line = self.lines.recv_timeout(PATIENCE).unwrap_or_else(|_| {
                panic!(
                    "no answer to request {id}: the server hangs or died\n{}",
                    self.stderr()
                )
            });
            self.seen.push(line.clone());
            let message: Value = serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("stdout line is not JSON ({e}): {line}"));
            match message["id"].as_i64() {
                Some(got) if got == id => return message,
                Some(got) => {
                    self.stash.insert(got, message);
                }
                None => {}
            }
        }
    }

    /// Call `tool` (request `id`) and give its `document`: for a call that succeeds.
    fn call_document(&mut self, id: i64, tool: &str, arguments: Value) -> (Value, i64) {
        self.call(id, tool, arguments);
        self.document(id)
    }

    /// The result of a tool call that succeeded: its document, checked against its text.
    fn document(&mut self, id: i64) -> (Value, i64) {
        let answer = self.response(id);
        let result = &answer["result"];
        assert_eq!(result["isError"], false, "{answer}\n{}", self.stderr());
        let text: Value = serde_json::from_str(result["content"][0]["text"].as_str().unwrap())
            .expect("the text is the JSON document");
        // Rows (an array) are structured content as an object's one array field (history
        // has `more` beside it).
        let structured = match (&text, result["structuredContent"].as_object()) {
            (Value::Array(_), Some(object)) => object.values().find(|v| v.is_array()),
            _ => Some(&result["structuredContent"]),
        };
        assert_eq!(Some(&text), structured, "{answer}");
        (text, result["_meta"]["cortex/exit_code"].as_i64().unwrap())
    }

    /// The status document of the latest workflow run, through the `status` tool.
    fn status(&mut self, id: i64) -> Value {
        self.call(id, "status", json!({"kind": "workflow"}));
        self.document(id).0
    }

    /// Close stdin and wait for the server to end; every stdout line it wrote.
    fn hang_up(&mut self) -> i32 {
        self.stdin.take();
        let code = wait_bounded(&mut self.child, "cortex mcp");
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(5)) {
            self.seen.push(line);
        }
        code
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Wait (bounded) for the run's step `Hold` to be running, as the CLI sees it.
fn wait_until_holding(env: &Env) {
    let until = Instant::now() + PATIENCE;
    loop {
        let out = env.run(&["--json", "workflow", "status"]);
        if out.code == 0 && out.json()["steps"][0]["status"] == "running" {
            return;
        }
        assert!(
            Instant::now() < until,
            "the run never started: {}",
            out.stdout
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The `stop_requested` event of the latest run: (actor, signal).
fn stop_request(env: &Env) -> (String, String) {
    let events = env.run(&["--json", "log", "show"]).json();
    let stop = events
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "stop_requested")
        .unwrap_or_else(|| panic!("no stop recorded: {events}"));
    (
        stop["body"]["actor"].as_str().unwrap().to_string(),
        stop["body"]["signal"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    )
}

/// The `status` tool answers `status --json`'s document: a child run its parent's rollback
/// undid suggests its parent's status, never a new run of the child alone; and the `run` tool
/// refuses a run whose child lacks an input the run was to give it, saying which, in the
/// tool's own words (`inputs: {...}`), with the run's own missing input.
#[test]
fn mcp_status_of_a_child_rolled_back_for_its_parent_and_run_missing_a_childs_input() {
    let env = Env::new();
    env.workflow(
        "kid",
        "name: kid\nsteps:\n  - {name: c1, run: 'true', rollback: 'true'}\n",
    )
    .workflow(
        "nest",
        "name: nest\nsteps:\n  - {name: k, uses: kid}\n  - name: z\n    run: exit 1\n    retry: {max_retry_attempts: 0}\n    on_failure: rollback\n",
    )
    .workflow(
        "ck",
        "name: ck\ninputs:\n  need: {type: integer, required: true}\nsteps:\n  - {name: c, run: 'true'}\n",
    )
    .workflow(
        "cp",
        "name: cp\ninputs:\n  env: {required: true}\n  n: {type: string}\nsteps:\n  - name: k\n    uses: ck\n    with: {need: \"${{ inputs.n }}\"}\n",
    );
    env.run(&["workflow", "run", "nest"]);
    let parent = env.status(Some("nest"));
    assert_eq!(parent["status"], "rolled_back", "{parent}");
    let kid = parent["steps"][0]["uses"]["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut s = Session::open(&env, "status-client");
    let (doc, _) = s.call_document(1, "status", json!({"kind": "workflow", "run": kid}));
    assert_eq!(doc["status"], "rolled_back", "{doc}");
    let argv = doc["next"][0]["argv"].as_array().unwrap();
    assert_eq!(
        argv[argv.len() - 3..],
        [json!("workflow"), json!("status"), parent["run_id"].clone()],
        "{doc}"
    );
    assert_eq!(doc["next"].as_array().unwrap().len(), 1, "{doc}");
    s.call(2, "run", json!({"kind": "workflow", "name": "cp"}));
    let refused = s.response(2);
    assert_eq!(refused["result"]["isError"], true, "{refused}");
    let text = refused["result"]["content"][0]["text"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        text.contains("input `env` is required")
            && text.contains("workflow `ck` (run by step `k`): input `need` is required: pass inputs: {\\\"n\\\": \\\"...\\\"}"),
        "{text}"
    );
}

#[test]
fn stdout_carries_only_json_rpc_messages_whatever_the_steps_print() {
    let env = Env::new();
    env.workflow(
        "noisy",
        "name: noisy\nsteps:\n  - name: Shout\n    run: 'echo to-stdout; echo to-stderr >&2; printf \"\\033]0;title\\007\"'\n  - name: Ask\n    prompt: Now you\n",
    );
    let mut s = Session::start(&env, &[]);
    let init = s.initialize("raw-client");
    assert_eq!(init["result"]["serverInfo"]["name"], "cortex", "{init}");
    s.request(1, "tools/list", json!({}));
    let tools = s.response(1);
    assert_eq!(tools["result"]["tools"].as_array().unwrap().len(), 17);
    // JSON that is no message: an "invalid request" answer (rmcp's own).
    s.send_line("{\"hello\": 1}");
    let (doc, code) = s.call_document(2, "run", json!({"kind": "workflow", "name": "noisy"}));
    assert_eq!(
        (doc["status"].as_str(), code),
        (Some("waiting"), 3),
        "{doc}"
    );
    assert_eq!(doc["actor"], "mcp:raw-client");
    s.call(3, "no_such_tool", json!({}));
    assert_eq!(s.response(3)["error"]["code"], -32602);
    s.call(4, "status", json!({}));
    assert_eq!(s.response(4)["result"]["isError"], true);
    // Params that are not MCP's: a clear protocol error, and the server answers on.
    s.request(
        8,
        "tools/call",
        json!({"name": "status", "arguments": "workflow"}),
    );
    let bad = s.response(8);
    assert_eq!(bad["error"]["code"], -32602, "{bad}");
    assert!(
        bad["error"]["message"]
            .as_str()
            .unwrap()
            .contains("`arguments` an object"),
        "{bad}"
    );
    s.request(5, "resources/templates/list", json!({}));
    assert_eq!(
        s.response(5)["result"]["resourceTemplates"][0]["uriTemplate"],
        "cortex://runs/{run_id}"
    );
    let uri = format!("cortex://runs/{}", doc["run_id"].as_str().unwrap());
    s.request(6, "resources/read", json!({"uri": uri}));
    let read = s.response(6);
    let contents: Value =
        serde_json::from_str(read["result"]["contents"][0]["text"].as_str().unwrap()).unwrap();
    assert_eq!(contents["run_id"], doc["run_id"]);
    s.request(7, "resources/list", json!({}));
    assert_eq!(s.response(7)["result"]["resources"][0]["uri"], uri);
    assert_eq!(s.hang_up(), 0, "{}", s.stderr());

    assert!(s.seen.len() >= 8, "{:?}", s.seen);
    for line in &s.seen {
        let message: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("a stdout line that is not JSON ({e}): {line}"));
        assert_eq!(message["jsonrpc"], "2.0", "{line}");
        // A result answers its id; so does an error, its id null when it cannot be read (a
        // line that was no request).
        let answer = message.get("id").is_some()
            && (message.get("result").is_some() != message.get("error").is_some());
        let notification = message.get("method").is_some();
        assert!(answer || notification, "not a JSON-RPC message: {line}");
        assert!(
            !line.contains("to-stdout") && !line.contains('\u{1b}'),
            "{line}"
        );
    }
    // The step's output is where the CLI keeps it: in the log, not on the protocol stream.
    assert!(
        env.run(&["--json", "log", "show"])
            .stdout
            .contains("to-stdout"),
        "the step's output is kept in the log"
    );
    assert!(s.stderr().contains("cortex mcp: "), "logs go to stderr");
}

/// The answers whose id is null (errors about lines whose id cannot be read), in order.
fn answers_with_null_id(s: &mut Session, count: usize) -> Vec<Value> {
    let mut found = Vec::new();
    while found.len() < count {
        let line = s.lines.recv_timeout(PATIENCE).unwrap_or_else(|_| {
            panic!(
                "no answer with a null id: the server hangs or died\n{}",
                s.stderr()
            )
        });
        s.seen.push(line.clone());
        let message: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("stdout line is not JSON ({e}): {line}"));
        match message["id"].as_i64() {
            Some(id) => {
                s.stash.insert(id, message);
            }
            None if message["id"].is_null() && message.get("method").is_none() => {
                found.push(message)
            }
            None => {}
        }
    }
    found
}

#[test]
fn a_line_that_is_not_json_is_answered_with_a_parse_error_and_the_server_answers_on() {
    let env = Env::new();
    let mut s = Session::start(&env, &[]);
    // Before the handshake too: rmcp would skip such a line without a word.
    s.send_line("GET / HTTP/1.1");
    let early = answers_with_null_id(&mut s, 1);
    assert_eq!(early[0]["error"]["code"], -32700, "{early:?}");
    s.initialize("garbled");
    // A broken request (its end cut off), plain text, an escape sequence, a line past the
    // longest one read, one nested too deep and one with a broken string: each answered
    // -32700 with a null id, in order.
    s.send_line("{\"jsonrpc\": \"2.0\", \"id\": 9, \"method\": \"tools/list\"");
    s.send_line("this is not json");
    s.send_line("\u{1b}]52;c;eA==\u{7}");
    s.send_line(&"x".repeat(16 * 1024 * 1024 + 1));
    // JSON, but nested past what the parser reads: rmcp would skip it as well.
    s.send_line(&format!("{}{}", "[".repeat(100_000), "]".repeat(100_000)));
    // A request whose string holds a lone surrogate escape: no text, so rmcp skips it too.
    s.send_line(r#"{"jsonrpc": "2.0", "id": 10, "method": "tools/call", "params": {"name": "status", "arguments": {"kind": "workflow", "run": "\ud800"}}}"#);
    let answers = answers_with_null_id(&mut s, 6);
    for answer in &answers {
        assert_eq!(answer["jsonrpc"], "2.0", "{answer}");
        assert_eq!(answer["error"]["code"], -32700, "{answer}");
        assert_eq!(answer.get("id"), Some(&Value::Null), "{answer}");
    }
    let message = |i: usize| answers[i]["error"]["message"].as_str().unwrap().to_string();
    assert!(
        message(0).contains("EOF while parsing an object"),
        "{}",
        message(0)
    );
    assert!(message(1).contains("expected"), "{}", message(1));
    assert!(!message(2).contains('\u{1b}'), "{}", message(2));
    assert!(message(3).contains("longer than 16 MiB"), "{}", message(3));
    assert!(message(4).contains("recursion limit"), "{}", message(4));
    assert!(message(5).contains("escape"), "{}", message(5));
    // The session goes on: a request after them is answered.
    let (listed, code) = s.call_document(1, "list", json!({"kind": "workflow"}));
    assert_eq!(code, 0);
    assert!(listed.as_array().is_some_and(|w| !w.is_empty()), "{listed}");
    assert_eq!(s.hang_up(), 0, "{}", s.stderr());
    assert!(
        s.stderr().contains(
            "answered a line that is not JSON with a JSON-RPC parse error (EOF while parsing"
        ),
        "{}",
        s.stderr()
    );
}

/// The errors answering lines that were no request carried no `id` at all (JSON-RPC 2.0:
/// the request's id, or null when it cannot be read), so `{"id": 11, "method": "ping"}`
/// without `"jsonrpc"` was answered with nothing to match it to; and a line that is not JSON
/// sent before `initialize` by a client that then closed stdin got no answer at all (the
/// session ended before the answer was written).
#[test]
fn json_rpc_errors_carry_the_requests_id_or_null_and_a_last_bad_line_is_answered() {
    let env = Env::new();
    let mut s = Session::start(&env, &[]);
    s.send_line("{\"id\": 11, \"method\": \"ping\"}");
    let echoed = s.response(11);
    assert_eq!(echoed["jsonrpc"], "2.0", "{echoed}");
    assert_eq!(echoed["error"]["code"], -32600, "{echoed}");
    s.initialize("ids");
    s.send_line("{\"jsonrpc\": \"2.0\", \"id\": \"twelve\"}");
    s.send_line("[1, 2]");
    s.request(13, "ping", json!({}));
    let nulled = answers_with_null_id(&mut s, 1);
    assert_eq!(nulled[0]["error"]["code"], -32600, "{nulled:?}");
    assert_eq!(nulled[0].get("id"), Some(&Value::Null), "{nulled:?}");
    assert!(s.response(13).get("result").is_some());
    let named = s
        .seen
        .iter()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|m| m["id"] == "twelve")
        .expect("the error answering id \"twelve\"");
    assert_eq!(named["error"]["code"], -32600, "{named}");

    // A client whose one line is not JSON, then gone.
    let mut s = Session::start(&env, &[]);
    s.send_line("GET / HTTP/1.1");
    assert_eq!(s.hang_up(), 0, "{}", s.stderr());
    let answers: Vec<Value> = s
        .seen
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(answers.len(), 1, "{:?}\n{}", s.seen, s.stderr());
    assert_eq!(answers[0]["error"]["code"], -32700, "{answers:?}");
    assert_eq!(answers[0].get("id"), Some(&Value::Null), "{answers:?}");
}

/// Seen by a review: the actor `mcp:<client name>` was recorded as the client named it, a
/// secret in it included (and `--actor` too). It is scrubbed of the server's secrets before
/// it is cut to its length, as every actor is.
#[test]
fn a_client_name_holding_a_secret_is_recorded_scrubbed() {
    let env = Env::new();
    let secret = "dtok-5550001234";
    env.workflow(
        "ask",
        "name: ask\nsteps:\n  - name: Ask\n    prompt: Now you\n",
    );
    let mut s = Session::start_with(&env, &[], &[("DEPLOY_TOKEN", secret)]);
    s.initialize(&format!("{}{secret}", "c".repeat(60)));
    let (doc, _) = s.call_document(1, "run", json!({"kind": "workflow", "name": "ask"}));
    assert_eq!(doc["actor"], format!("mcp:{}***", "c".repeat(60)), "{doc}");
    assert_eq!(s.hang_up(), 0, "{}", s.stderr());
    let run = doc["run_id"].as_str().unwrap();
    assert!(actors(&env, run).iter().all(|(_, a)| !a.contains("dtok")));
    let mut s = Session::start_with(
        &env,
        &["--actor", &format!("bot {secret}")],
        &[("DEPLOY_TOKEN", secret)],
    );
    s.initialize("any");
    let (doc, _) = s.call_document(1, "run", json!({"kind": "workflow", "name": "ask"}));
    assert_eq!(doc["actor"], "bot ***", "{doc}");
}

/// Seen by a review: an input no step could ever be given — 5 MB, or holding a NUL — started
/// the run, was stored whole in `run_started`, and only the first step failed ("… Linux passes
/// at most 131071"). Inputs are checked before anything is recorded (SPEC §3): refused with
/// exit 2, naming the input and the limit, and no run is recorded.
#[test]
fn an_input_no_step_could_be_given_is_refused_before_anything_is_recorded() {
    let env = Env::new();
    env.workflow(
        "greet",
        "name: greet\ninputs:\n  who: {type: string}\nsteps:\n  - {name: s, run: 'echo hi'}\n",
    );
    let mut s = Session::open(&env, "raw-client");
    for (id, value, said) in [
        (1, "W".repeat(5_000_000), "input `who` is 5000000 bytes"),
        (
            2,
            "a\u{0}b".to_string(),
            "input `who` holds a NUL character",
        ),
    ] {
        s.call(
            id,
            "run",
            json!({"kind": "workflow", "name": "greet", "inputs": {"who": value}}),
        );
        let answer = s.response(id);
        let refused = &answer["result"]["structuredContent"];
        assert_eq!(
            refused["exit_code"],
            2,
            "{}",
            &answer.to_string()[..2000.min(answer.to_string().len())]
        );
        let text = refused.to_string();
        assert!(text.contains(said), "{}", &text[..2000.min(text.len())]);
        assert!(!text.contains("WWWWWWWW"), "the value is not quoted");
    }
    assert_eq!(s.hang_up(), 0, "{}", s.stderr());
    let history = env.run(&["--json", "workflow", "history"]).json()["runs"].clone();
    assert_eq!(history, json!([]), "nothing was recorded");
    // The CLI alike, for a value that fits one argument but not `CORTEX_INPUT_WHO=value`.
    let out = env.run(&[
        "workflow",
        "run",
        "greet",
        "--input",
        &format!("who={}", "W".repeat(131_060)),
    ]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("input `who` is 131060 bytes") && out.stderr.contains("131071"),
        "{}",
        out.stderr
    );
    let history = env.run(&["--json", "workflow", "history"]).json()["runs"].clone();
    assert_eq!(history, json!([]), "nothing was recorded");
}

/// Seen by a review: inputs each under what one environment variable carries but too much
/// all together for a command (25 of 100,000 bytes: `ARG_MAX` is typically 2 MiB for the
/// arguments and the environment) started the run, stored 2.5 MB in `run_started`, and every
/// step failed "Argument list too long". Refused before anything is recorded, exit 2, naming
/// the total and the limit.
#[test]
fn inputs_too_much_together_for_a_step_are_refused_before_anything_is_recorded() {
    let env = Env::new();
    let inputs: String = (0..25)
        .map(|i| format!("  i{i}: {{type: string}}\n"))
        .collect();
    env.workflow(
        "many",
        &format!("name: many\ninputs:\n{inputs}steps:\n  - {{name: s, run: 'echo hi'}}\n"),
    );
    let given: serde_json::Map<String, Value> = (0..25)
        .map(|i| (format!("i{i}"), Value::String("W".repeat(100_000))))
        .collect();
    let mut s = Session::open(&env, "raw-client");
    s.call(
        1,
        "run",
        json!({"kind": "workflow", "name": "many", "inputs": given}),
    );
    let answer = s.response(1);
    let refused = &answer["result"]["structuredContent"];
    let text = refused.to_string();
    assert_eq!(refused["exit_code"], 2, "{}", &text[..2000.min(text.len())]);
    assert!(
        text.contains("the inputs are 2500") && text.contains("2097152"),
        "{}",
        &text[..2000.min(text.len())]
    );
    assert!(!text.contains("WWWWWWWW"), "the values are not quoted");
    assert_eq!(s.hang_up(), 0, "{}", s.stderr());
    let history = env.run(&["--json", "workflow", "history"]).json()["runs"].clone();
    assert_eq!(history, json!([]), "nothing was recorded");
}

/// The client chooses its name: a newline, an escape or a bidirectional control in it is
/// recorded as a visible escape, so `mcp:<name>` is one line and `log show` shows no line the
/// client made up.
#[test]
fn a_client_name_with_control_characters_is_recorded_as_one_safe_line() {
    let env = Env::new();
    env.workflow(
        "ask",
        "name: ask\nsteps:\n  - name: Ask\n    prompt: Now you\n",
    );
    let forged = "    1  2026-12-03T12:12:09.788Z  run_finished            completed";
    let mut s = Session::start(&env, &[]);
    s.initialize(&format!("evil\n{forged}\u{1b}[2K\u{202e}"));
    let (doc, _) = s.call_document(1, "run", json!({"kind": "workflow", "name": "ask"}));
    let actor = doc["actor"].as_str().unwrap();
    assert!(
        actor.starts_with("mcp:evil\\u{a}    1  2026")
            && !actor.chars().any(char::is_control)
            && !actor.contains('\u{202e}'),
        "{actor:?}"
    );
    assert_eq!(s.hang_up(), 0, "{}", s.stderr());
    let run = doc["run_id"].as_str().unwrap();
    assert!(actors(&env, run).iter().all(|(_, a)| a == actor));
    let shown = env.run(&["log", "show", run]).stdout;
    let lines: Vec<&str> = shown.lines().collect();
    assert_eq!(lines.len(), env.events(run).len() + 1, "{shown}");
    assert!(
        lines[1..]
            .iter()
            .enumerate()
            .all(|(seq, l)| l.trim_start().starts_with(&format!("{seq}  "))),
        "{shown}"
    );
}

/// A report through an MCP session that started the run with a secret input, quoting the
/// input's value (as an output, in its message): the session held the value, but the journal
/// of the report read only its environment, so the value was stored in plain text.
#[test]
fn a_report_quoting_a_secret_input_the_session_was_given_stored_it_in_plain_text() {
    let env = Env::new();
    env.workflow(
        "tok",
        "name: tok\ninputs:\n  api_token: {type: string}\nsteps:\n  - {name: ask, prompt: approve}\n  - {name: then, prompt: next}\n",
    );
    let secret = "mcp-input-secret-4242";
    let mut s = Session::open(&env, "tester");
    let (doc, _) = s.call_document(
        1,
        "run",
        json!({"kind": "workflow", "name": "tok", "inputs": {"api_token": secret}}),
    );
    assert_eq!(doc["status"], "waiting", "{doc}");
    let (doc, _) = s.call_document(
        2,
        "step_complete",
        json!({"step": "ask", "outputs": {"echoed": secret}, "message": format!("used {secret}")}),
    );
    assert!(!doc.to_string().contains(secret), "{doc}");
    s.call(
        3,
        "abort",
        json!({"kind": "workflow", "message": format!("no {secret}")}),
    );
    s.document(3);
    assert_eq!(s.hang_up(), 0);
    assert_eq!(env.log_holding(secret), Vec::<String>::new());
    let export = env.run(&["log", "export"]).stdout;
    assert!(!export.contains(secret), "{export}");
    assert!(export.contains("used ***"), "{export}");
}

/// A step completed through the `step_complete` tool by a server started without the variable
/// a webhook of the run is made of (an agent's environment rarely holds a team's Slack URL):
/// the report lands and ends the run, and the webhook is left due — nothing recorded, nothing
/// POSTed — said once among the answer's warnings with the command that delivers it. Before,
/// it was used up, recorded "not delivered … not set", never to be made.
#[test]
fn an_mcp_report_that_ends_a_run_leaves_a_webhook_the_server_lacks_due() {
    let env = Env::new();
    let h = common::webhook::hook(&[200]);
    env.workflow(
        "mr",
        "name: mr\nsteps:\n  - {name: ask, prompt: approve}\nnotify:\n  on_finish:\n    - webhook: $HOOK_URL_MR\n",
    );
    let mut s = Session::open(&env, "tester");
    let (doc, _) = s.call_document(1, "run", json!({"kind": "workflow", "name": "mr"}));
    assert_eq!(doc["status"], "waiting", "{doc}");
    let run = doc["run_id"].as_str().unwrap().to_string();
    let (doc, _) = s.call_document(2, "step_complete", json!({"step": "ask"}));
    assert_eq!(doc["status"], "completed", "{doc}");
    let warnings = doc["warnings"].to_string();
    assert_eq!(
        warnings.matches("its notifications still due").count(),
        1,
        "{warnings}"
    );
    assert!(
        warnings.contains("`HOOK_URL_MR`, not set in this MCP server's environment")
            && warnings.contains(&format!("workflow resume {run} --notify-only")),
        "{warnings}"
    );
    assert_eq!(s.hang_up(), 0);
    let status = env.run(&["--json", "workflow", "status", &run]).json();
    assert_eq!(
        status["notifications_pending"].as_array().map(Vec::len),
        Some(1),
        "{status}"
    );
    assert!(status.get("notifications").is_none(), "{status}");
    assert_eq!(h.count(), 0);
}

/// A secret output reported with `no_drive: true` stays with the MCP server, which goes on:
/// no warning that it is "held by this process only, which ends now ... without --no-drive";
/// a later `resume` call drives on with it, and the step that reads it has it.
#[test]
fn a_secret_output_reported_with_no_drive_stays_with_the_mcp_server_without_a_false_warning() {
    let env = Env::new();
    env.workflow(
        "hand",
        "name: hand\nsteps:\n  - {name: ask, prompt: give the token}\n  - {name: use, run: 'test \"${{ steps.ask.outputs.api_token }}\" = handed-value-42'}\n",
    );
    let mut s = Session::open(&env, "tester");
    let (doc, _) = s.call_document(1, "run", json!({"kind": "workflow", "name": "hand"}));
    assert_eq!(doc["status"], "waiting", "{doc}");
    s.call(
        2,
        "step_complete",
        json!({"step": "ask", "outputs": {"api_token": "handed-value-42"}, "no_drive": true}),
    );
    let answer = s.response(2);
    let said = answer.to_string();
    assert_eq!(answer["result"]["isError"], false, "{said}");
    assert!(!said.contains("held by this process only"), "{said}");
    assert!(!said.contains("--no-drive"), "{said}");
    let (doc, _) = s.call_document(3, "resume", json!({"kind": "workflow"}));
    assert_eq!(doc["status"], "completed", "{doc}");
    assert_eq!(s.hang_up(), 0);
}

/// Every line the MCP server writes on stderr passes the one redactor: an unknown tool's name
/// or a client's name holding a secret of the server's environment, and a secret input a tool
/// call gave, are logged `***`. Before, `unknown tool `SECRET`` and `status by mcp:SECRET`
/// printed them.
#[test]
fn the_mcp_server_s_stderr_never_holds_an_environment_or_given_secret() {
    let env = Env::new();
    env.workflow(
        "tok",
        "name: tok\ninputs:\n  api_token: {type: string}\nsteps:\n  - {name: ask, prompt: approve}\n",
    );
    let from_env = "env-secret-value-7777";
    let given = "given-secret-value-8888";
    let mut s = Session::start_with(&env, &[], &[("MY_API_TOKEN", from_env)]);
    s.initialize(from_env);
    s.call(1, from_env, json!({}));
    s.response(1);
    s.call(2, "status", json!({"kind": "workflow"}));
    s.response(2);
    s.call(
        3,
        "run",
        json!({"kind": "workflow", "name": "tok", "inputs": {"api_token": given}}),
    );
    s.document(3);
    s.call(4, given, json!({}));
    s.response(4);
    assert_eq!(s.hang_up(), 0);
    let stderr = s.stderr();
    assert!(stderr.contains("unknown tool"), "{stderr}");
    assert!(stderr.contains("status by mcp:***"), "{stderr}");
    assert!(!stderr.contains(from_env), "{stderr}");
    assert!(!stderr.contains(given), "{stderr}");
}

#[test]
fn a_long_run_does_not_hold_up_other_requests() {
    let env = Env::new();
    env.workflow("gated", WAITS_FOR_GO);
    let mut s = Session::open(&env, "raw-client");
    s.call(1, "run", json!({"kind": "workflow", "name": "gated"}));
    wait_until_holding(&env);
    // The run's call is still in flight (its step waits for `go`): status is answered first.
    let status = s.status(2);
    assert_eq!(status["status"], "running", "{status}");
    assert!(
        !s.stash.contains_key(&1),
        "the run ended before `go` was created"
    );
    std::fs::write(env.file("go"), "").unwrap();
    let (done, code) = s.document(1);
    assert_eq!(
        (done["status"].as_str(), code),
        (Some("completed"), 0),
        "{done}"
    );
}

/// A message is recorded in its action's event and shown by every status document that shows
/// the action: one of megabytes (a line may hold 16 MiB) made each of those documents as long.
/// A message past the limit is refused (exit 2), by a tool as by the CLI, and nothing is
/// recorded; one at the limit is kept whole.
#[test]
fn a_message_of_megabytes_is_refused_by_a_tool_and_the_cli_and_nothing_is_recorded() {
    let env = Env::new();
    let too_long = "m".repeat(cortex::ops::MAX_MESSAGE_CHARS + 1);
    let mut s = Session::open(&env, "raw-client");
    let (doc, _) = s.call_document(1, "run", json!({"kind": "workflow", "name": "onboarding"}));
    let events = doc["events"].clone();
    s.call(
        2,
        "step_complete",
        json!({"step": "Setup", "message": "x".repeat(2 << 20)}),
    );
    let answer = s.response(2);
    let refused = &answer["result"]["structuredContent"];
    assert_eq!(answer["result"]["isError"], true, "{answer}");
    assert_eq!(refused["exit_code"], 2, "{answer}");
    assert!(
        refused["error"]
            .as_str()
            .unwrap()
            .contains("a message has at most 65536 characters, and this one has 2097152"),
        "{answer}"
    );
    assert!(!refused["hints"].as_array().unwrap().is_empty(), "{answer}");
    for (id, tool, args) in [
        (3, "abort", json!({"kind": "workflow", "message": too_long})),
        (
            4,
            "run",
            json!({"kind": "workflow", "name": "onboarding", "message": too_long}),
        ),
    ] {
        s.call(id, tool, args);
        let answer = s.response(id);
        assert_eq!(
            answer["result"]["structuredContent"]["exit_code"], 2,
            "{tool}: {answer}"
        );
    }
    let now = s.status(5);
    assert_eq!(now["events"], events, "nothing was recorded: {now}");
    assert_eq!(now["status"], "waiting");
    let cli = env.run(&[
        "workflow",
        "step",
        "complete",
        "Setup",
        "--message",
        &too_long,
    ]);
    assert_eq!(cli.code, 2, "{}", cli.stderr);
    assert!(
        cli.stderr
            .contains("a message has at most 65536 characters"),
        "{}",
        cli.stderr
    );
    // At the limit, kept whole.
    let most = "k".repeat(cortex::ops::MAX_MESSAGE_CHARS);
    let (doc, _) = s.call_document(
        6,
        "step_complete",
        json!({"step": "Setup", "message": most}),
    );
    assert_eq!(doc["steps"][0]["status"], "completed", "{doc}");
}

/// A name argument of megabytes that names nothing — a run, a step, a phase, an input, a time —
/// is shown cut, as names are: before, the error document quoted it whole (twice the
/// argument's size, for each call).
#[test]
fn a_name_argument_of_megabytes_is_quoted_cut_in_the_error() {
    let env = Env::new();
    std::fs::create_dir_all(env.home().join("scenarios")).unwrap();
    std::fs::write(env.home().join("scenarios/review-gate.yaml"), REVIEW_GATE).unwrap();
    env.run(&["workflow", "run", "onboarding"]).assert_exit(3);
    env.run(&["orchestrate", "run", "review-gate"])
        .assert_exit(3);
    let mut s = Session::open(&env, "raw-client");
    let huge = "x".repeat(4 << 20);
    let calls = [
        ("logs", json!({"run": huge}), "no run `"),
        ("logs", json!({"step": huge}), "has no phase `"),
        ("step_complete", json!({"step": huge}), "has no step `"),
        (
            "phase_start",
            json!({"scenario": "review-gate", "phase": huge}),
            "has no phase `",
        ),
        (
            "resume",
            json!({"kind": "workflow", "from": huge}),
            "no step named `",
        ),
        (
            "run",
            json!({"kind": "workflow", "name": "onboarding", "inputs": {huge.as_str(): 1}}),
            "unknown input `",
        ),
        ("schedule_list", json!({"at": huge}), "at `"),
    ];
    for (id, (tool, args, says)) in (1..).zip(calls) {
        s.call(id, tool, args);
        let answer = s.response(id);
        let text = answer["result"]["content"][0]["text"].as_str().unwrap();
        assert_eq!(answer["result"]["isError"], true, "{tool}: {text}");
        assert!(
            text.len() < 2000,
            "{tool}: an error of {} bytes",
            text.len()
        );
        // Cut after 40 characters, a run's query (a path may be longer) after 120.
        let cut = |n: usize| text.contains(&format!("{says}{}…`", "x".repeat(n)));
        assert!(
            cut(40) || (says == "no run `" && cut(120)),
            "{tool}: {text}"
        );
    }
    let cli = env.run(&["workflow", "status", &"y".repeat(100_000)]);
    assert_eq!(cli.code, 2);
    assert!(cli.stderr.len() < 2000, "{} bytes", cli.stderr.len());
}

/// A run an MCP call drives is held for any other call: the tool error says how to stop the
/// call that drives it (cancel it), not only to press Ctrl-C in a terminal the client has not.
#[test]
fn a_run_held_by_an_mcp_call_says_to_cancel_that_call_not_only_to_press_ctrl_c() {
    let env = Env::new();
    env.workflow("gated", WAITS_FOR_GO);
    let mut s = Session::open(&env, "raw-client");
    s.call(1, "run", json!({"kind": "workflow", "name": "gated"}));
    wait_until_holding(&env);
    s.call(2, "resume", json!({"kind": "workflow", "run": "gated"}));
    let answer = s.response(2);
    let result = &answer["result"];
    assert_eq!(result["isError"], true, "{answer}");
    assert_eq!(result["structuredContent"]["exit_code"], 4, "{answer}");
    let hints = result["structuredContent"]["hints"].to_string();
    assert!(
        hints.contains("cancel the MCP tool call that drives it"),
        "{answer}"
    );
    std::fs::write(env.file("go"), "").unwrap();
    let (done, code) = s.document(1);
    assert_eq!(
        (done["status"].as_str(), code),
        (Some("completed"), 0),
        "{done}"
    );
}

/// A session that started workflow `gated` (`WAITS_FOR_GO`) with call 1 and, once its step
/// runs, cancelled that call (`notifications/cancelled` with `params`); and the run's status
/// document through the `status` tool once the run has stopped.
fn cancelled_run(env: &Env, params: Value) -> (Session, Value) {
    env.workflow("gated", WAITS_FOR_GO);
    let mut s = Session::start(env, &[]);
    s.initialize("raw-client");
    s.call(1, "run", json!({"kind": "workflow", "name": "gated"}));
    wait_until_holding(env);
    s.send(json!({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": params}));
    let until = Instant::now() + PATIENCE;
    let mut id = 10;
    loop {
        let doc = s.status(id);
        if doc["status"] == "stopped" {
            return (s, doc);
        }
        assert!(Instant::now() < until, "the run never stopped");
        std::thread::sleep(Duration::from_millis(50));
        id += 1;
    }
}

#[test]
fn a_cancelled_tool_call_stops_its_run_gracefully_and_the_server_answers_on() {
    let env = Env::new();
    let (mut s, _) = cancelled_run(
        &env,
        json!({"requestId": 1, "reason": "the user pressed Esc"}),
    );
    // No signal was sent: the stop says the client cancelled the call, and how to go on
    // without a call waiting (it said "(SIGINT)", as if someone had pressed Ctrl-C).
    assert_eq!(
        stop_request(&env),
        ("mcp:raw-client".to_string(), String::new())
    );
    let reason = env.status(None)["reason"].as_str().unwrap().to_string();
    assert!(
        reason.starts_with("stopped by mcp:raw-client: the MCP client cancelled the call")
            && reason.contains("detach: true"),
        "{reason}"
    );
    // The client's own reason is in it (before, a fixed text whatever the client said).
    assert!(
        reason.contains("saying \"the user pressed Esc\""),
        "{reason}"
    );
    // Resume continues it, through the same server.
    std::fs::write(env.file("go"), "").unwrap();
    let (done, code) = s.call_document(100, "resume", json!({"kind": "workflow"}));
    assert_eq!(
        (done["status"].as_str(), code),
        (Some("completed"), 0),
        "{done}"
    );
}

/// After the client cancelled the call that drove a run (its time limit, often), the run's
/// `next[0]` was a plain `resume`, which the same limit cuts off again, stopping the run
/// again: only the reason's prose said to call it with `detach: true`. Over MCP, each resume
/// the document suggests says so in structured form (`"tool": "resume", "detach": true`);
/// the CLI's document is as it was (the CLI has no such limit).
#[test]
fn after_a_cancelled_call_the_suggested_resume_says_detach_in_structured_form() {
    let env = Env::new();
    let (mut s, doc) = cancelled_run(&env, json!({"requestId": 1}));
    let first = &doc["next"][0];
    assert_eq!(first["argv"][4], "resume", "{doc}");
    assert_eq!(first["tool"], "resume", "{doc}");
    assert_eq!(first["detach"], true, "{doc}");
    assert!(
        first["why"].as_str().unwrap().contains("detach: true"),
        "{doc}"
    );
    let cli = env.status(None);
    assert!(cli["next"][0].get("detach").is_none(), "{cli}");
    // Followed, it returns at once and the server drives the run to its end.
    std::fs::write(env.file("go"), "").unwrap();
    s.call(100, "resume", json!({"kind": "workflow", "detach": true}));
    let detached = s.response(100);
    assert_eq!(detached["result"]["isError"], false, "{detached}");
    let until = Instant::now() + PATIENCE;
    let mut id = 200;
    while s.status(id)["status"] != "completed" {
        assert!(
            Instant::now() < until,
            "the detached resume never completed"
        );
        std::thread::sleep(Duration::from_millis(50));
        id += 1;
    }
}

/// `resume`'s `timeout`, `schedule_list`'s `at` and `log_verify` in a home with no log named
/// CLI flags (`--timeout`, `--at`, `--home DIR`), which a tool call has none of: they name the
/// tool's arguments.
#[test]
fn mcp_errors_of_timeout_at_and_log_verify_name_the_tools_arguments() {
    let env = Env::new();
    let mut s = Session::open(&env, "raw-client");
    let mut said = Vec::new();
    for (id, tool, args) in [
        (
            1,
            "resume",
            json!({"kind": "workflow", "timeout": "forever"}),
        ),
        (2, "schedule_list", json!({"at": "tomorrow"})),
        (3, "log_verify", json!({"run": "x"})),
    ] {
        s.call(id, tool, args);
        let answer = s.response(id);
        assert_eq!(answer["result"]["isError"], true, "{answer}");
        let doc = &answer["result"]["structuredContent"];
        let text = format!("{} {}", doc["error"], doc["hints"]);
        said.push(text);
    }
    for text in &said[..2] {
        assert!(!text.contains("--"), "{text}");
    }
    assert!(!said[2].contains("--home DIR"), "{}", said[2]);
    assert!(said[0].contains("timeout: `forever`"), "{}", said[0]);
    assert!(said[0].contains(r#"timeout: \"2h\""#), "{}", said[0]);
    assert!(
        said[1].contains("at `tomorrow` is not a time"),
        "{}",
        said[1]
    );
    assert!(
        said[1].contains(r#"at: \"2026-12-03T10:00:00Z\""#),
        "{}",
        said[1]
    );
    assert!(said[2].contains(r#"file: \"FILE\""#), "{}", said[2]);
    assert_eq!(s.hang_up(), 0, "{}", s.stderr());
}

/// A client that pipes its requests in and closes its end at once (`printf ... | cortex mcp`)
/// hangs up before the call it sent is in flight; the session's end then cancels the call.
/// The stop says the client disconnected, never that it cancelled the call (with advice for a
/// time limit it did not have).
#[test]
fn a_client_that_closes_its_input_right_after_a_call_is_recorded_as_disconnected_not_cancelling() {
    let env = Env::new();
    env.workflow("gated", WAITS_FOR_GO);
    let mut s = Session::start(&env, &[]);
    s.initialize("piped");
    s.call(1, "run", json!({"kind": "workflow", "name": "gated"}));
    assert_eq!(s.hang_up(), 0, "{}", s.stderr());
    let status = env.status(None);
    assert_eq!(status["status"], "stopped", "{status}");
    let reason = status["reason"].as_str().unwrap().to_string();
    assert!(
        reason.contains("the MCP client disconnected (its input closed)")
            && !reason.contains("cancelled"),
        "{reason}"
    );
}

#[test]
fn a_client_that_hangs_up_stops_the_drive_in_flight_saying_it_disconnected_and_the_server_ends() {
    let env = Env::new();
    env.workflow("gated", WAITS_FOR_GO);
    let mut s = Session::start(&env, &["--actor", "ci-bot"]);
    s.initialize("raw-client");
    s.call(1, "run", json!({"kind": "workflow", "name": "gated"}));
    wait_until_holding(&env);
    assert_eq!(s.hang_up(), 0, "{}", s.stderr());
    assert_eq!(env.status(None)["status"], "stopped");
    // --actor is who acts, whatever the client is called. No signal came: the stop says the
    // client disconnected (it said "(SIGHUP)", which nobody sent).
    assert_eq!(stop_request(&env), ("ci-bot".to_string(), String::new()));
    let reason = env.status(None)["reason"].as_str().unwrap().to_string();
    assert!(
        reason.contains("the MCP client disconnected (its input closed)")
            && !reason.contains("SIGHUP"),
        "{reason}"
    );
    std::fs::write(env.file("go"), "").unwrap();
    env.run(&["workflow", "resume"]).assert_exit(0);
}

#[test]
fn sigterm_stops_the_drive_in_flight_and_the_server_ends() {
    let env = Env::new();
    env.workflow("gated", WAITS_FOR_GO);
    let mut s = Session::open(&env, "raw-client");
    s.call(1, "run", json!({"kind": "workflow", "name": "gated"}));
    wait_until_holding(&env);
    let pid = nix::unistd::Pid::from_raw(s.child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let code = wait_bounded(&mut s.child, "cortex mcp after SIGTERM");
    assert_eq!(code, 0, "{}", s.stderr());
    assert_eq!(env.status(None)["status"], "stopped");
    assert_eq!(
        stop_request(&env),
        ("mcp:raw-client".to_string(), "SIGTERM".to_string())
    );
}

#[test]
fn the_projects_mcp_json_starts_this_server() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/.mcp.json"))
        .expect(".mcp.json at the top level");
    let config: Value = serde_json::from_str(&text).expect(".mcp.json is JSON");
    let server = &config["mcpServers"]["cortex"];
    assert_eq!(server["command"], "cortex", "{config}");
    let args: Vec<&str> = server["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    // What it starts answers as an MCP server.
    let env = Env::new();
    let mut s = Session::start(&env, &args[1..]);
    assert_eq!(args[0], "mcp");
    assert_eq!(
        s.initialize("claude-code")["result"]["serverInfo"]["name"],
        "cortex"
    );
    assert_eq!(s.hang_up(), 0);
}

/// An agent reads why a step failed: the `logs` tool returns the document `--json logs`
/// prints — each attempt's whole output, past the 4 KiB tail the status keeps, with its bytes
/// in `base64` where they are not UTF-8 — and an unknown step is a tool error.
#[test]
fn the_logs_tool_returns_each_attempts_whole_output_as_cortex_logs_json_does() {
    let env = Env::new();
    env.workflow(
        "spew",
        "name: spew\nsteps:\n  - name: Build\n    run: 'seq 1 3000; printf \"\\377bad\\n\"; exit 1'\n",
    );
    env.run(&["workflow", "run", "spew"]).assert_exit(1);
    let mut s = Session::open(&env, "reader");
    let (doc, code) = s.call_document(
        1,
        "logs",
        json!({"run": "spew", "step": "build", "tail_bytes": 100000}),
    );
    assert_eq!(code, 0);
    assert_eq!(
        doc,
        env.run(&["--json", "logs", "spew", "build", "--tail-bytes", "100000"])
            .json()
    );
    let attempt = &doc["attempts"][0];
    assert_eq!(attempt["status"], "kept", "{doc}");
    assert!(attempt["text"].as_str().unwrap().starts_with("1\n2\n3\n"));
    assert!(attempt["base64"].is_string(), "{doc}");
    s.call(2, "logs", json!({"run": "spew", "step": "nope"}));
    let answer = s.response(2);
    assert_eq!(answer["result"]["isError"], true, "{answer}");
    assert_eq!(s.hang_up(), 0, "{}", s.stderr());
}

/// The history tool listed the newest `limit` runs with no word of older ones, so an agent
/// could not tell a short history from a page of a long one: its structured content says
/// `more` (older runs exist past the limit) beside `runs`, as `history --json` does.
#[test]
fn history_says_when_older_runs_exist_past_its_limit() {
    let env = Env::new();
    env.workflow("w", "name: w\nsteps:\n  - {name: a, run: 'true'}\n");
    for _ in 0..2 {
        env.run(&["workflow", "run", "w"]).assert_exit(0);
    }
    let mut s = Session::open(&env, "raw-client");
    for (id, limit, rows, more) in [(1, 1, 1, true), (2, 2, 2, false), (3, 5, 2, false)] {
        s.call(id, "history", json!({"kind": "workflow", "limit": limit}));
        let answer = s.response(id);
        let structured = &answer["result"]["structuredContent"];
        assert_eq!(
            structured["runs"].as_array().map(Vec::len),
            Some(rows),
            "{answer}"
        );
        assert_eq!(structured["more"], more, "{answer}");
        let text: Value =
            serde_json::from_str(answer["result"]["content"][0]["text"].as_str().unwrap()).unwrap();
        // The text block is the document `history --json` prints, as every tool's is.
        assert_eq!(&text, structured, "{answer}");
    }
}

/// The `resume` tool with `from` on the agent loop's usual state (Plan reported, Implement
/// waiting): it failed with "the run moved on without it (the run is waiting; resume it
/// first)". Now Plan waits again for its report (attempt 2), and `from` takes the step's name
/// as every tool does (`plan` finds `Plan`).
#[test]
fn the_resume_tool_from_a_step_of_a_waiting_run_reruns_it_and_matches_its_name_forgivingly() {
    let env = Env::new();
    env.run(&["workflow", "run", "feature-development"])
        .assert_exit(3);
    env.run(&["workflow", "step", "complete", "Plan"])
        .assert_exit(3);
    let mut s = Session::open(&env, "raw-client");
    let (doc, code) = s.call_document(1, "resume", json!({"kind": "workflow", "from": "plan"}));
    assert_eq!(
        (doc["status"].as_str(), code),
        (Some("waiting"), 3),
        "{doc}"
    );
    assert_eq!(doc["steps"][0]["status"], "waiting", "{doc}");
    assert_eq!(doc["steps"][0]["attempts"], 2, "{doc}");
    assert_eq!(doc["steps"][1]["status"], "pending", "{doc}");
}

/// Outputs are held to one bound (1 MiB, as `$CORTEX_OUTPUT`) whichever route reports them:
/// `step_complete` and `phase_complete` with an output of megabytes are refused (exit 2,
/// saying the bound and what to do) and nothing is recorded.
#[test]
fn an_output_of_megabytes_is_refused_by_step_complete_and_phase_complete_and_nothing_is_recorded() {
    let env = Env::new();
    std::fs::create_dir_all(env.home().join("scenarios")).unwrap();
    std::fs::write(env.home().join("scenarios/review-gate.yaml"), REVIEW_GATE).unwrap();
    let mut s = Session::open(&env, "raw-client");
    let (doc, _) = s.call_document(1, "run", json!({"kind": "workflow", "name": "onboarding"}));
    let events = doc["events"].clone();
    let big = "o".repeat(3 << 20);
    s.call(
        2,
        "step_complete",
        json!({"step": "Setup", "outputs": {"report": big}}),
    );
    let refused = s.response(2);
    let says = "its outputs hold 3145736 bytes, more than the 1024 KiB outputs may hold: write data to a file and its path as an output";
    assert_eq!(refused["result"]["isError"], true, "{refused}");
    let body = &refused["result"]["structuredContent"];
    assert_eq!(body["exit_code"], 2, "{refused}");
    assert!(refused.to_string().contains(says), "{refused}");
    let now = s.status(3);
    assert_eq!(now["events"], events, "nothing was recorded: {now}");
    assert_eq!(now["status"], "waiting");

    s.call(4, "run", json!({"kind": "scenario", "name": "review-gate"}));
    s.document(4);
    s.call(
        5,
        "phase_start",
        json!({"scenario": "review-gate", "phase": "review"}),
    );
    s.document(5);
    s.call(
        6,
        "phase_complete",
        json!({"scenario": "review-gate", "phase": "review", "outputs": {"report": big}}),
    );
    let refused = s.response(6);
    assert_eq!(refused["result"]["isError"], true, "{refused}");
    assert_eq!(
        refused["result"]["structuredContent"]["exit_code"], 2,
        "{refused}"
    );
    assert!(refused.to_string().contains(says), "{refused}");
    let status = env
        .run(&["--json", "orchestrate", "status", "review-gate"])
        .json();
    let review = status["phases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "review")
        .unwrap();
    assert_ne!(review["status"], "completed", "{review}");
}

/// The tools' hints after a scenario run by path ended name its path, as the CLI's do: the
/// `run` they point to of its bare name is refused (no scenario named so in the home).
#[test]
fn phase_tools_after_a_run_by_path_ended_suggest_running_that_path_again() {
    let env = Env::new();
    let g2 = env.project().join("g2.yaml");
    std::fs::write(
        &g2,
        "name: g2\ndescription: d\nphases:\n  - name: p\n    description: do it\n  - name: q\n    description: manual\n    condition: manual\n",
    )
    .unwrap();
    env.run(&["orchestrate", "run", g2.to_str().unwrap()])
        .assert_exit(3);
    env.run(&["orchestrate", "abort", "g2"]).assert_exit(1);
    let mut s = Session::open(&env, "raw-client");
    for (id, tool) in [(1, "phase_complete"), (2, "phase_start")] {
        let phase = if tool == "phase_start" { "q" } else { "p" };
        s.call(id, tool, json!({"scenario": "g2", "phase": phase}));
        let answer = s.response(id);
        assert_eq!(answer["result"]["isError"], true, "{tool}: {answer}");
        let hints = answer["result"]["structuredContent"]["hints"].to_string();
        assert!(
            hints.contains(&format!("run {}", g2.display())),
            "{tool}: {hints}"
        );
    }
}

/// A report on a phase stopped with its run: `resume` makes a phase that waits for a report
/// wait again (then report it), but runs a phase with `run:` again (nothing to report by
/// hand). The hint says which, by `orchestrate complete` as by `phase_complete`.
#[test]
fn a_report_on_a_stopped_phase_hints_what_resume_does_with_it() {
    let env = Env::new();
    env.scenario(
        "ss",
        "name: ss\ndescription: d\nphases:\n  - name: a\n    description: x\n    run: sleep 30\n    parallel: true\n  - name: b\n    description: do b by hand\n    parallel: true\n",
    );
    let mut driver = env
        .command(&["orchestrate", "run", "ss"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let until = Instant::now() + PATIENCE;
    loop {
        let status = env.run(&["--json", "orchestrate", "status", "ss"]).json();
        if status["phases"][0]["status"] == "running" && status["phases"][1]["status"] == "waiting"
        {
            break;
        }
        assert!(Instant::now() < until, "never running: {status}");
        std::thread::sleep(Duration::from_millis(50));
    }
    let stop = env.run(&["orchestrate", "stop", "ss"]);
    assert_ne!(stop.code, 2, "{}", stop.stderr);
    wait_bounded(&mut driver, "the stopped driver");
    let runs_again = "`cortex orchestrate resume ss` goes on and runs the phase again";
    let waits = "`cortex orchestrate resume ss` goes on (the phase waits for its report again); then report it";
    let a = env.run(&["orchestrate", "complete", "ss", "a"]);
    assert_eq!(a.code, 2, "{}", a.stderr);
    assert!(
        a.stderr.contains(runs_again) && !a.stderr.contains("waits for its report"),
        "{}",
        a.stderr
    );
    let b = env.run(&["orchestrate", "complete", "ss", "b"]);
    assert_eq!(b.code, 2, "{}", b.stderr);
    assert!(b.stderr.contains(waits), "{}", b.stderr);
    let mut s = Session::open(&env, "raw-client");
    for (id, phase, says) in [
        (1, "a", "goes on and runs the phase again"),
        (2, "b", "waits for its report again"),
    ] {
        s.call(
            id,
            "phase_complete",
            json!({"scenario": "ss", "phase": phase}),
        );
        let answer = s.response(id);
        assert_eq!(answer["result"]["isError"], true, "{answer}");
        let hints = answer["result"]["structuredContent"]["hints"].to_string();
        assert!(hints.contains(says), "{phase}: {hints}");
    }
}

/// A request past the longest line read (16 MiB) is dropped unread; it was answered with a
/// null id, so the client's call (the SDK waits for its id) waited forever. Its id is read
/// from its first bytes and its answer carries it, saying the limit and to send big data as
/// files; nothing of it is recorded, and the session answers on.
#[test]
fn a_request_past_the_line_limit_is_answered_with_its_id_and_why() {
    let env = Env::new();
    let mut s = Session::open(&env, "big-sender");
    let (doc, _) = s.call_document(1, "run", json!({"kind": "workflow", "name": "onboarding"}));
    let events = doc["events"].clone();
    let big = "o".repeat(17 << 20);
    s.send_line(&format!(
        r#"{{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{{"name":"step_complete","arguments":{{"step":"Setup","outputs":{{"report":"{big}"}}}}}}}}"#
    ));
    let answer = s.response(2);
    assert_eq!(answer["error"]["code"], -32600, "{answer}");
    let message = answer["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("Request too large")
            && message.contains("longer than 16 MiB")
            && message.contains("as files"),
        "{message}"
    );
    let now = s.status(3);
    assert_eq!(now["events"], events, "nothing recorded: {now}");
    assert_eq!(now["status"], "waiting");
}

/// The official SDK's call of a request past the line limit gets its error (it waited for an
/// answer with its id forever), and the session goes on.
#[test]
fn the_sdks_call_past_the_line_limit_gets_an_error_not_a_wait() {
    let Some(python) = python() else { return };
    let env = Env::new();
    let facts = client_check(&python, &env, "request_too_large");
    assert!(facts["run_id"].is_string(), "{facts}");
}

/// A hint's suggested command that quotes an input value holding a backtick: the tool's name
/// was inserted after the first backtick of the rendered text, inside the quoted value, so
/// the command pasted was not the one meant. The tool is named after the whole command, and
/// the command is exactly the CLI's.
#[test]
fn a_hint_quoting_an_input_with_a_backtick_names_its_tool_after_the_whole_command() {
    let env = Env::new();
    env.workflow(
        "bt",
        "name: bt\ninputs:\n  note: {type: string, default: x}\nsteps:\n  - name: Ask\n    prompt: do\n",
    );
    env.run(&["workflow", "run", "bt", "--input", "note=fix `parse()` now"]);
    env.run(&["workflow", "abort"]).assert_exit(1);
    let cli = env.run(&["--json", "workflow", "step", "complete", "Ask"]);
    let cli_hint = cli.json()["hints"][0].as_str().unwrap().to_string();
    let mut s = Session::open(&env, "hinted");
    s.call(1, "step_complete", json!({"step": "Ask"}));
    let answer = s.response(1);
    assert_eq!(answer["result"]["isError"], true, "{answer}");
    let hint = answer["result"]["structuredContent"]["hints"][0]
        .as_str()
        .unwrap();
    assert!(
        hint.contains("--input 'note=fix `parse()` now'` (the `run` tool) starts a new run"),
        "{hint}"
    );
    assert!(
        hint.contains("` (the `status` tool) shows how it ended"),
        "{hint}"
    );
    assert_eq!(
        without_home(&env, hint)
            .replace(" (the `run` tool)", "")
            .replace(" (the `status` tool)", ""),
        cli_hint
    );
    assert_eq!(s.hang_up(), 0, "{}", s.stderr());
}

/// A JSON number for a string-typed input or an output was recorded re-rendered: `1.10` as
/// "1.1", `2.0` as "2", `1e2` as "100". An integer is taken as its digits; any other number is
/// refused, saying to give it as a string, unless the input is declared a number.
#[test]
fn a_json_number_whose_text_would_be_lost_is_refused_for_a_string_input_or_an_output() {
    let env = Env::new();
    env.workflow(
        "rel",
        "name: rel\ninputs:\n  version: {type: string}\n  ratio: {type: number, default: 1}\nsteps:\n  - name: Ask\n    prompt: do\n",
    );
    let mut s = Session::open(&env, "numbers");
    let raw_call = |s: &mut Session, id: i64, tool: &str, arguments: &str| {
        s.send_line(&format!(
            r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":"{tool}","arguments":{arguments}}}}}"#
        ));
    };
    for (id, number) in [(1, "1.10"), (2, "2.0"), (3, "1e2"), (4, "-0.0")] {
        let args = format!(r#"{{"kind":"workflow","name":"rel","inputs":{{"version":{number}}}}}"#);
        raw_call(&mut s, id, "run", &args);
        let answer = s.response(id);
        assert_eq!(answer["result"]["isError"], true, "{number}: {answer}");
        let doc = &answer["result"]["structuredContent"];
        assert!(
            doc["error"]
                .as_str()
                .unwrap()
                .contains("input `version` is the JSON number"),
            "{doc}"
        );
        assert!(
            doc["hints"][0]
                .as_str()
                .unwrap()
                .contains("as a JSON string"),
            "{doc}"
        );
    }
    assert_eq!(
        env.run(&["--json", "workflow", "history"]).json()["runs"].clone(),
        json!([])
    );
    // An integer, a string and a number for a number input are taken as before.
    raw_call(
        &mut s,
        5,
        "run",
        r#"{"kind":"workflow","name":"rel","inputs":{"version":"1.10","ratio":2.5}}"#,
    );
    let (doc, code) = s.document(5);
    assert_eq!(code, 3, "{doc}");
    assert_eq!(doc["inputs"]["version"], "1.10", "{doc}");
    assert_eq!(doc["inputs"]["ratio"], 2.5, "{doc}");
    raw_call(
        &mut s,
        6,
        "step_complete",
        r#"{"step":"Ask","outputs":{"v":1.10}}"#,
    );
    let answer = s.response(6);
    assert_eq!(answer["result"]["isError"], true, "{answer}");
    assert!(
        answer["result"]["structuredContent"]["error"]
            .as_str()
            .unwrap()
            .contains("output `v` is the JSON number 1.1"),
        "{answer}"
    );
    raw_call(
        &mut s,
        7,
        "step_complete",
        r#"{"step":"Ask","outputs":{"v":"1.10","n":7}}"#,
    );
    let (doc, code) = s.document(7);
    assert_eq!(code, 0, "{doc}");
    let outputs = &doc["steps"][0]["outputs"];
    assert_eq!(outputs["v"], "1.10", "{doc}");
    assert_eq!(outputs["n"], "7", "{doc}");
    assert_eq!(s.hang_up(), 0, "{}", s.stderr());
}

/// A long tool call sent no progress, so a client that bounds its calls (about 60 s in the
/// TypeScript SDK and Claude Desktop) cancelled it, which stopped the run: with a
/// progressToken, progress arrives at each transition and while a step runs.
#[test]
fn a_call_driving_a_long_run_sends_progress_to_a_client_that_asked_for_it() {
    let Some(python) = python() else { return };
    let env = Env::new();
    env.workflow(
        "long",
        "name: long\nsteps:\n  - name: First\n    run: sleep 1\n  - name: Long\n    run: sleep 12\n  - name: Last\n    run: echo done\n",
    );
    let facts = client_check(&python, &env, "progress_of_a_long_call");
    assert!(facts["progress"].as_array().unwrap().len() >= 4, "{facts}");
}

/// `phase_start` on a failed run answered two content blocks, the document and a plain-text
/// `warning: ...` (SPEC §8: a tool returns the `--json` document), the warning suggesting a
/// plain `orchestrate resume` where the document's `next` offered `--retry` first; a second
/// start said "it was already started (pending)" of a phase only asked to start. One block,
/// the warning in the document's `warnings` naming `next[0]`, and the second start says the
/// request waits for the resume — as `--json` says it.
#[test]
fn a_start_on_a_failed_run_answers_one_document_whose_warning_agrees_with_next() {
    let env = Env::new();
    env.scenario(
        "ms",
        "name: ms\ndescription: d\nphases:\n  - {name: p1, description: a, condition: auto, run: 'false', retry: {max_retry_attempts: 0}}\n  - {name: p3, description: m, condition: manual}\n",
    );
    env.run(&["orchestrate", "run", "ms"]).assert_exit(1);
    let mut s = Session::open(&env, "raw-client");
    s.call(1, "phase_start", json!({"scenario": "ms", "phase": "p3"}));
    let answer = s.response(1);
    let content = answer["result"]["content"].as_array().unwrap();
    assert_eq!(content.len(), 1, "{answer}");
    let doc: Value = serde_json::from_str(content[0]["text"].as_str().unwrap()).unwrap();
    assert_eq!(answer["result"]["structuredContent"], doc);
    let first: Vec<&str> = doc["next"][0]["argv"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap())
        .collect();
    assert_eq!(first.last(), Some(&"--retry"), "{doc}");
    let warning = doc["warnings"][0].as_str().unwrap();
    assert!(
        warning.starts_with("recorded; the run is failed, so nothing goes on until it is resumed")
            && warning.contains(&format!("`{}`", first.join(" "))),
        "{warning}"
    );
    s.call(2, "phase_start", json!({"scenario": "ms", "phase": "p3"}));
    let again = s.response(2);
    let said = again["result"]["structuredContent"]["error"]
        .as_str()
        .unwrap();
    assert_eq!(
        said,
        "a start of `p3` is already requested; it takes effect when the run is resumed"
    );
    let cli = env.run(&["--json", "orchestrate", "start", "ms", "p3"]);
    assert_eq!(cli.code, 2);
    assert_eq!(cli.json()["error"], said);
    assert_eq!(s.hang_up(), 0, "{}", s.stderr());
}

/// A client that bounds each call (about 60 s in the TypeScript SDK and Claude Desktop)
/// cancelled a call driving a step longer than that, which stopped the run, and each `resume`
/// was cancelled again: attempts piled up and the step never finished. `run` and `resume`
/// with `detach: true` return at once, the server drives the run on, and `status` polled
/// shows it go on to its end; a call that timed out says, in the run's reason, so.
#[test]
fn a_detached_run_outlives_the_clients_time_limit_and_status_shows_it_finish() {
    let Some(python) = python() else { return };
    let env = Env::new();
    env.workflow(
        "slow",
        "name: slow\nsteps:\n  - name: Compile\n    run: 'echo \"attempt $CORTEX_ATTEMPT\" >> attempts.log; sleep 8; echo ok > built'\n  - name: Ship\n    prompt: ship it\n",
    );
    let facts = client_check(&python, &env, "detached_runs_outlive_a_time_limit");
    assert_eq!(facts["detached"]["status"], "running", "{facts}");
    let runs = facts["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2, "{facts}");
    // Each detached drive ran its step once: the first run's attempt, and the second run's.
    let attempts = std::fs::read_to_string(env.project().join("attempts.log")).unwrap();
    assert_eq!(attempts, "attempt 1\nattempt 2\nattempt 1\n", "{facts}");
    for run in runs {
        assert_eq!(env.status(run.as_str())["status"], "waiting", "{facts}");
    }
}

/// A report with `detach: true` answered the status document without the warnings the same
/// call without it carries (that the definition's file changed since the run started went to
/// the server's stderr only), and with exit code 0 for a run it said was waiting, where the
/// tools promise 3 (the call without `detach` gives 3, the API too). Its answer carries them,
/// and the exit code of the status it returns: 0 only while the run is running.
#[test]
fn a_detached_report_carries_the_calls_warnings_and_the_exit_code_of_its_status() {
    let env = Env::new();
    let two = "name: two\nsteps:\n  - {name: Ask, prompt: one}\n  - {name: Ask2, prompt: two}\n";
    env.workflow("two", two);
    let start = || {
        let out = env.run(&["--json", "workflow", "run", "two"]);
        assert_eq!(out.code, 3, "{}", out.stdout);
        out.json()["run_id"].as_str().unwrap().to_string()
    };
    let (waits, detached) = (start(), start());
    env.workflow("two", &format!("{two}  - {{name: Extra, run: echo x}}\n"));
    let mut s = Session::open(&env, "raw-client");
    let changed = |doc: &Value| {
        doc["warnings"].as_array().is_some_and(|w| {
            w.iter().any(|w| {
                w.as_str()
                    .unwrap()
                    .contains("changed since this run started")
            })
        })
    };
    let (doc, code) = s.call_document(1, "step_complete", json!({"run": waits, "step": "Ask"}));
    assert_eq!(
        (doc["status"].as_str(), code),
        (Some("waiting"), 3),
        "{doc}"
    );
    assert!(changed(&doc), "{doc}");
    s.call(
        2,
        "step_complete",
        json!({"run": detached, "step": "Ask", "detach": true}),
    );
    let answer = s.response(2);
    let doc = &answer["result"]["structuredContent"];
    assert!(changed(doc), "{doc}");
    let meta = &answer["result"]["_meta"];
    assert_eq!(meta["cortex/detached"], true, "{answer}");
    assert_eq!(doc["detached"], true, "{answer}");
    // No exit code while the run is still running (the drive has not ended); the code of
    // its status once it has settled.
    let expected = match doc["status"].as_str() {
        Some("running") => None,
        Some("completed") => Some(0),
        Some("waiting" | "stopped") => Some(3),
        other => panic!("a detached report answered {other:?}: {doc}"),
    };
    assert_eq!(meta["cortex/exit_code"].as_i64(), expected, "{answer}");
    assert_eq!(s.hang_up(), 0, "{}", s.stderr());
}

/// A detached `run` of a step that takes seconds answered `_meta.cortex/exit_code: 0` —
/// "completed" by the tools' own words — for a run still running. Its answer now says it is
/// detached (in `_meta` and the document) and gives no exit code while the run runs.
#[test]
fn a_detached_drive_still_running_gives_no_exit_code_and_says_it_is_detached() {
    let env = Env::new();
    env.workflow(
        "slow",
        "name: slow\nsteps:\n  - {name: Nap, run: sleep 3}\n",
    );
    let mut s = Session::open(&env, "raw-client");
    s.call(
        1,
        "run",
        json!({"kind": "workflow", "name": "slow", "detach": true}),
    );
    let answer = s.response(1);
    let result = &answer["result"];
    assert_eq!(result["isError"], false, "{answer}");
    assert_eq!(result["structuredContent"]["status"], "running", "{answer}");
    assert_eq!(result["structuredContent"]["detached"], true, "{answer}");
    assert_eq!(result["_meta"]["cortex/detached"], true, "{answer}");
    assert!(
        result["_meta"].get("cortex/exit_code").is_none(),
        "a running detached drive has no exit code yet: {answer}"
    );
    let run_id = result["structuredContent"]["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    common::wait_until("the detached run to complete", || {
        env.status(Some(&run_id))["status"] == "completed"
    });
    // A plain call gives its exit code, as before.
    let (doc, code) = s.call_document(2, "status", json!({"kind": "workflow", "run": run_id}));
    assert_eq!(
        (doc["status"].as_str(), code),
        (Some("completed"), 0),
        "{doc}"
    );
    assert!(doc.get("detached").is_none(), "{doc}");
    assert_eq!(s.hang_up(), 0, "{}", s.stderr());
}

/// `VALUE`, the placeholder of a suggested command, was refused only by the CLI's flags: the
/// MCP tools recorded `{"x": "VALUE"}` as an output and started a run with `VALUE` as its
/// secret token. The operations refuse it now, with the hint in the tools' words.
#[test]
fn the_mcp_tools_refuse_the_value_placeholder_as_the_cli_does() {
    let env = Env::new();
    env.workflow(
        "s",
        "name: s\ninputs:\n  api_token: {type: string}\nsteps:\n  - {name: Ask, prompt: do it}\n",
    );
    let mut s = Session::open(&env, "raw-client");
    s.call(
        1,
        "run",
        json!({"kind": "workflow", "name": "s", "inputs": {"api_token": "VALUE"}}),
    );
    let refused = s.response(1);
    let doc = &refused["result"]["structuredContent"];
    assert_eq!(refused["result"]["isError"], true, "{refused}");
    assert_eq!(doc["exit_code"], 2, "{refused}");
    assert!(
        doc["error"].as_str().unwrap().contains("placeholder"),
        "{refused}"
    );
    assert!(
        doc["hints"][0]
            .as_str()
            .unwrap()
            .contains(r#"inputs: {"api_token": ...}"#),
        "{refused}"
    );
    let none = env.run(&["workflow", "status"]);
    assert_eq!(none.code, 2, "nothing was recorded: {}", none.stdout);
    let (doc, code) = s.call_document(2, "run", json!({"kind": "workflow", "name": "s"}));
    assert_eq!(
        (doc["status"].as_str(), code),
        (Some("waiting"), 3),
        "{doc}"
    );
    s.call(
        3,
        "step_complete",
        json!({"run": doc["run_id"], "step": "Ask", "outputs": {"x": "VALUE"}}),
    );
    let refused = s.response(3);
    let doc = &refused["result"]["structuredContent"];
    assert_eq!(refused["result"]["isError"], true, "{refused}");
    assert!(
        doc["hints"][0]
            .as_str()
            .unwrap()
            .contains(r#"outputs: {"x": ...}"#),
        "{refused}"
    );
    assert_eq!(s.hang_up(), 0, "{}", s.stderr());
}

/// Over MCP, the error of a required input not given said "pass --input who=VALUE", and the
/// warning of a run needing its secret inputs again "resume it with --input NAME=VALUE": CLI
/// flags, which a tool call has none of. They name the tools' arguments.
#[test]
fn mcp_errors_and_warnings_name_the_tools_arguments_not_cli_flags() {
    let env = Env::new();
    env.workflow(
        "evil",
        "name: evil\ninputs:\n  who: {type: string, required: true}\nsteps:\n  - {name: Hi, run: echo hi}\n",
    );
    env.workflow(
        "s",
        "name: s\ninputs:\n  api_token: {type: string}\nsteps:\n  - {name: Ask, prompt: do it}\n  - name: B\n    run: echo \"$API_TOKEN\"\n    env: {API_TOKEN: \"${{ inputs.api_token }}\"}\n",
    );
    let out = env
        .run_with(
            &["--json", "workflow", "run", "s"],
            &[("CORTEX_INPUT_API_TOKEN", "abcdefgh1234")],
        )
        .assert_exit(3);
    let run_id = out.json()["run_id"].as_str().unwrap().to_string();
    let mut s = Session::open(&env, "raw-client");
    s.call(1, "run", json!({"kind": "workflow", "name": "evil"}));
    let refused = s.response(1);
    let text = refused["result"]["structuredContent"].to_string();
    assert_eq!(refused["result"]["isError"], true, "{refused}");
    assert!(text.contains(r#"inputs: {\"who\": \"...\"}"#), "{text}");
    assert!(!text.contains("--input"), "{text}");
    let (doc, code) = s.call_document(2, "step_complete", json!({"run": run_id, "step": "Ask"}));
    assert_eq!(code, 3, "{doc}");
    let warnings = doc["warnings"].to_string();
    assert!(warnings.contains("secret input api_token"), "{doc}");
    assert!(warnings.contains("`resume` tool"), "{warnings}");
    assert!(!warnings.contains("--input"), "{warnings}");
    assert_eq!(s.hang_up(), 0, "{}", s.stderr());
}

/// `resources/list` listed the newest 100 runs and no `nextCursor`: the others could not be
/// listed. It pages (MCP pagination): each page's `nextCursor` gives the next, until every
/// run is listed once; a cursor it never gave is refused as invalid params.
#[test]
fn resources_list_pages_with_a_cursor_until_every_run_is_listed() {
    let env = Env::new();
    env.workflow("quick", "name: quick\nsteps:\n  - {name: A, run: 'true'}\n");
    let mut ids = std::collections::BTreeSet::new();
    for _ in 0..103 {
        let out = env.run(&["--json", "workflow", "run", "quick"]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        ids.insert(out.json()["run_id"].as_str().unwrap().to_string());
    }
    let mut s = Session::open(&env, "raw-client");
    let mut listed = Vec::new();
    let mut cursor: Option<String> = None;
    for id in 1..10 {
        let params = match &cursor {
            Some(c) => json!({"cursor": c}),
            None => json!({}),
        };
        s.request(id, "resources/list", params);
        let answer = s.response(id);
        let result = &answer["result"];
        for r in result["resources"].as_array().expect("resources") {
            listed.push(r["name"].as_str().unwrap().to_string());
        }
        match result["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => break,
        }
    }
    assert_eq!(listed.len(), 103, "{listed:?}");
    let unique: std::collections::BTreeSet<String> = listed.iter().cloned().collect();
    assert_eq!(unique, ids);
    let mut newest_first = listed.clone();
    newest_first.sort_by(|a, b| b.cmp(a));
    assert_eq!(listed, newest_first);
    s.request(20, "resources/list", json!({"cursor": "../nope"}));
    let refused = s.response(20);
    assert_eq!(refused["error"]["code"], -32602, "{refused}");
    assert_eq!(s.hang_up(), 0, "{}", s.stderr());
}

/// The logs tool had no size control: a step printing megabytes that failed three times gave
/// one result of many megabytes (the document twice: text and structured content), past what
/// a model takes. Each attempt gives its last `tail_bytes` (8 KiB by default) and says what
/// was cut and how to get more; `attempt` gives one; `cortex logs --json` is its twin.
#[test]
fn the_logs_tool_bounds_each_attempts_bytes_and_gives_one_attempt_as_cortex_logs_does() {
    let env = Env::new();
    env.workflow(
        "chatty",
        "name: chatty\nsteps:\n  - name: Build\n    run: |\n      seq 1 40000\n      echo \"the real reason\"; exit 1\n    retry: {max_retry_attempts: 2, backoff: 0s}\n",
    );
    env.run(&["workflow", "run", "chatty"]).assert_exit(1);
    let mut s = Session::open(&env, "reader");
    let (doc, code) = s.call_document(1, "logs", json!({"run": "chatty", "step": "Build"}));
    assert_eq!(code, 0);
    // The result holds it twice (text and structured content).
    assert!(
        doc.to_string().len() < 60_000,
        "{} bytes",
        doc.to_string().len()
    );
    assert_eq!(
        without_home(&env, &doc.to_string()),
        env.run(&["--json", "logs", "chatty", "Build"])
            .json()
            .to_string()
    );
    assert_eq!(doc["tail_bytes"], 8192);
    let attempts = doc["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 3, "{doc}");
    for a in attempts {
        let text = a["text"].as_str().unwrap();
        assert!(
            text.len() <= 8192 && text.ends_with("the real reason\n"),
            "{a}"
        );
        assert_eq!(a["truncated"], true, "{a}");
        assert_eq!(
            a["omitted_bytes"].as_u64().unwrap() + text.len() as u64,
            a["bytes"].as_u64().unwrap()
        );
        let more = a["more"].as_str().unwrap();
        assert!(
            more.contains("--tail-bytes") && more.contains("--raw --attempt"),
            "{more}"
        );
    }
    let (one, _) = s.call_document(
        2,
        "logs",
        json!({"run": "chatty", "step": "build", "attempt": 3, "tail_bytes": 100}),
    );
    assert_eq!(one["attempts"].as_array().unwrap().len(), 1, "{one}");
    assert_eq!(one["attempts"][0]["attempt"], 3);
    assert!(one["attempts"][0]["text"].as_str().unwrap().len() <= 100);
    assert_eq!(
        serde_json::from_str::<Value>(&without_home(&env, &one.to_string())).unwrap(),
        env.run(&[
            "--json",
            "logs",
            "chatty",
            "build",
            "--attempt",
            "3",
            "--tail-bytes",
            "100"
        ])
        .json()
    );
    s.call(
        3,
        "logs",
        json!({"run": "chatty", "step": "Build", "attempt": 9}),
    );
    let answer = s.response(3);
    assert_eq!(answer["result"]["isError"], true, "{answer}");
    let refused = &answer["result"]["structuredContent"];
    assert!(
        refused["error"]
            .as_str()
            .unwrap()
            .contains("has no attempt 9"),
        "{refused}"
    );
    assert_eq!(refused["hints"][0], "its attempts: 1, 2, 3", "{refused}");
    assert_eq!(s.hang_up(), 0, "{}", s.stderr());
}

/// What DESIGN says of a first message that is not `initialize` is what happens: a first
/// request without the 2026-07-28 metadata is answered `-32600` saying to send `initialize`
/// first (before, rmcp's `-32602` naming the `_meta` it lacks) and the session waits for its
/// start (an `initialize` after it is served, as the MCP SDKs' clients
/// expect of a server that answers a request), the server ending with exit 0; a first message
/// that is no request (a notification, a response) starts no session: exit 2, said on stderr.
/// Before, DESIGN said every such first message ended the server with exit 2.
#[test]
fn a_first_message_that_is_not_initialize_is_answered_or_ends_the_server_as_design_says() {
    let env = Env::new();
    let mut s = Session::start(&env, &[]);
    s.request(1, "tools/list", json!({}));
    let refused = s.response(1);
    assert_eq!(refused["error"]["code"], -32600, "{refused}");
    assert!(
        refused["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("send `initialize` first")),
        "{refused}"
    );
    // One that tries the inline lifecycle (some of its `_meta` keys) gets rmcp's words, which
    // then fit: what its `_meta` lacks.
    s.request(
        3,
        "tools/list",
        json!({"_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28"}}),
    );
    let inline = s.response(3);
    assert!(
        inline["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("_meta") && m.contains("clientCapabilities")),
        "{inline}"
    );
    let started = s.initialize("late");
    assert!(started["result"]["serverInfo"].is_object(), "{started}");
    s.call(2, "list", json!({"kind": "workflow"}));
    assert_eq!(s.document(2).1, 0);
    assert_eq!(s.hang_up(), 0, "{}", s.stderr());

    for first in [
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        json!({"jsonrpc": "2.0", "id": 5, "result": {}}),
    ] {
        let mut s = Session::start(&env, &[]);
        s.send(first.clone());
        assert_eq!(s.hang_up(), 2, "{first}: {}", s.stderr());
        assert!(
            s.stderr().contains(
                "the MCP session did not start: the client's first message was neither `initialize`"
            ),
            "{}",
            s.stderr()
        );
    }
}

/// The `history` tool takes the range `history --limit` and the API take (1 to 500) and
/// refuses what is outside it with their error (exit 2). Before, it listed nothing for 0.
#[test]
fn the_history_tools_limit_out_of_range_is_refused_as_the_cli_refuses_it() {
    let env = Env::new();
    let mut s = Session::open(&env, "limits");
    for (id, limit) in [(1, 0), (2, 1000)] {
        s.call(id, "history", json!({"kind": "workflow", "limit": limit}));
        let answer = s.response(id);
        let result = &answer["result"];
        assert_eq!(result["isError"], true, "{answer}");
        assert_eq!(result["structuredContent"]["exit_code"], 2, "{answer}");
        assert!(
            result["structuredContent"]["error"]
                .as_str()
                .is_some_and(|e| e.contains("between 1 and 500")),
            "{answer}"
        );
    }
    assert_eq!(s.hang_up(), 0, "{}", s.stderr());
}

/// A `limit` no page could list that is no whole number — past every integer, negative, a
/// fraction — gets the range 1 to 500 named `limit`, as 501 does. Before, it got serde's
/// "invalid type: floating point `1e+20`, expected usize", and 501 named the CLI's `--limit`.
#[test]
fn the_history_tools_limit_past_every_integer_says_the_range() {
    let env = Env::new();
    let mut s = Session::open(&env, "limits");
    for (id, limit) in [
        (1, "99999999999999999999"),
        (2, "-1"),
        (3, "2.5"),
        (4, "501"),
    ] {
        s.send_line(&format!(
            r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":"history","arguments":{{"kind":"workflow","limit":{limit}}}}}}}"#
        ));
        let answer = s.response(id);
        let result = &answer["result"];
        assert_eq!(result["isError"], true, "{answer}");
        assert_eq!(result["structuredContent"]["exit_code"], 2, "{answer}");
        let error = result["structuredContent"]["error"].as_str().unwrap_or("");
        assert!(
            error.starts_with("`limit` is between 1 and 500 (runs listed, newest first); ")
                && error.ends_with(" is not"),
            "{limit}: {answer}"
        );
    }
    assert_eq!(s.hang_up(), 0, "{}", s.stderr());
}

/// An `initialize` without its params (or without some of them) is told what they are and
/// which are missing, with its id, and the session can still start. Before, rmcp answered
/// "request _meta is missing or has malformed required fields:
/// io.modelcontextprotocol/protocolVersion, ...", naming neither `initialize` nor its params.
#[test]
fn an_initialize_without_params_is_told_it_needs_protocol_version_capabilities_and_client_info() {
    let env = Env::new();
    let mut s = Session::start(&env, &[]);
    s.send(json!({"jsonrpc": "2.0", "id": 7, "method": "initialize"}));
    let bare = s.response(7);
    assert_eq!(bare["error"]["code"], -32602, "{bare}");
    let message = bare["error"]["message"].as_str().unwrap_or("");
    for said in [
        "`initialize` needs its params",
        "protocolVersion",
        "capabilities",
        "clientInfo",
        "it has no params",
    ] {
        assert!(message.contains(said), "{said}: {bare}");
    }
    s.send(json!({"jsonrpc": "2.0", "id": 8, "method": "initialize", "params": {"protocolVersion": "2025-06-18"}}));
    let part = s.response(8);
    assert!(
        part["error"]["message"]
            .as_str()
            .is_some_and(|m| m.ends_with("its params have no capabilities, clientInfo")),
        "{part}"
    );
    let started = s.initialize("after");
    assert!(started["result"]["serverInfo"].is_object(), "{started}");
    assert_eq!(s.hang_up(), 0, "{}", s.stderr());
}

/// The `status` tool with `at` at or past a changed event says the log does not verify, as
/// without `at`; before the changed event what it read verified. Before, `at` showed the
/// forged text with no `verified`.
#[test]
fn status_at_a_changed_event_says_the_log_does_not_verify() {
    let env = Env::new();
    env.workflow("sl", "name: sl\nsteps: [{name: a, prompt: do a}]\n");
    env.run(&["workflow", "run", "sl"]).assert_exit(3);
    env.run(&["workflow", "step", "fail", "a", "--message", "nope"])
        .assert_exit(1);
    let run = env.status(None)["run_id"].as_str().unwrap().to_string();
    let conn = rusqlite::Connection::open(env.db()).unwrap();
    conn.execute_batch(&format!(
        "DROP TRIGGER IF EXISTS events_append_only_update; UPDATE events SET body = replace(body, 'nope', 'NOPE') WHERE run_id = '{run}' AND seq = 3"
    ))
    .unwrap();
    drop(conn);
    let mut s = Session::open(&env, "tamper-at");
    let (doc, _) = s.call_document(
        1,
        "status",
        json!({"kind": "workflow", "run": run, "at": 4}),
    );
    assert_eq!(doc["verified"], false, "{doc}");
    assert_eq!(doc["unverified"]["seq"], 3, "{doc}");
    assert_eq!(
        doc["next"][0]["argv"],
        json!(["cortex", "--home", env.home(), "log", "verify", run])
    );
    let (doc, _) = s.call_document(
        2,
        "status",
        json!({"kind": "workflow", "run": run, "at": 2}),
    );
    assert_eq!(doc["verified"], true, "{doc}");
    assert_eq!(s.hang_up(), 0, "{}", s.stderr());
}

/// The `status` tool and the `cortex://runs/{id}` resource say when a run's log does not
/// verify (`verified: false`, where it breaks) and suggest only `log verify`: cortex will not
/// act on such a run. Before, both showed it healthy with a `step complete` then refused.
#[test]
fn status_and_the_run_resource_say_a_run_whose_log_was_changed_does_not_verify() {
    let env = Env::new();
    env.workflow(
        "tv",
        "name: tv\ninputs:\n  v: {type: string}\nsteps:\n  - name: plan\n    prompt: plan ${{ inputs.v }}\n",
    );
    env.run(&["workflow", "run", "tv", "--input", "v=hello"])
        .assert_exit(3);
    let run = env.status(None)["run_id"].as_str().unwrap().to_string();
    let conn = rusqlite::Connection::open(env.db()).unwrap();
    conn.execute_batch(&format!(
        "DROP TRIGGER IF EXISTS events_append_only_update; UPDATE events SET body = replace(body, 'hello', 'HELLO') WHERE run_id = '{run}' AND seq = 0"
    ))
    .unwrap();
    drop(conn);
    let mut s = Session::open(&env, "tamper");
    let doc = s.status(1);
    assert_eq!(doc["verified"], false, "{doc}");
    assert_eq!(doc["unverified"]["seq"], 0, "{doc}");
    assert_eq!(doc["next"].as_array().map(Vec::len), Some(1), "{doc}");
    assert_eq!(
        doc["next"][0]["argv"],
        json!(["cortex", "--home", env.home(), "log", "verify", run])
    );
    s.request(
        2,
        "resources/read",
        json!({"uri": format!("cortex://runs/{run}")}),
    );
    let read = s.response(2);
    let text = read["result"]["contents"][0]["text"].as_str().unwrap_or("");
    let resource: Value = serde_json::from_str(text).expect("the resource is the document");
    assert_eq!(resource["verified"], false, "{read}");
    assert_eq!(resource["next"], doc["next"], "{read}");
    assert_eq!(s.hang_up(), 0, "{}", s.stderr());
}

/// Every hint of a tool error names the tool of each command it suggests, however the hint
/// was written (kept as argv, or a command written into its text): a report on a manual
/// phase not started yet is told it waits for a start (`phase_start`), not that it is
/// "pending"; a start of a phase that starts by itself points to `status`; and a stop of a
/// workflow run asked as a scenario's points to the workflow's stop.
#[test]
fn every_hint_of_a_tool_error_names_the_tool_of_each_command_it_suggests() {
    let env = Env::new();
    env.scenario(
        "man",
        "name: man\ndescription: d\nphases:\n  - name: auto\n    description: x\n    run: 'true'\n  - name: analysis\n    description: by hand\n    condition: manual\n",
    );
    env.workflow(
        "slow",
        "name: slow\nsteps:\n  - name: Ask\n    prompt: wait\n",
    );
    env.run(&["orchestrate", "run", "man"]).assert_exit(3);
    env.run(&["workflow", "run", "slow"]).assert_exit(3);
    let cli = env.run(&["orchestrate", "complete", "man", "analysis"]);
    assert_eq!(cli.code, 2, "{}", cli.text());
    assert_eq!(
        cli.stderr,
        "error: phase `analysis` is ready and waits for a start, not for a report\nhint: `cortex orchestrate start man analysis` starts it; report it once it is done\n"
    );
    let mut s = Session::open(&env, "raw-client");
    let calls = [
        (
            "phase_complete",
            json!({"scenario": "man", "phase": "analysis"}),
            "`cortex orchestrate start man analysis` (the `phase_start` tool) starts it",
        ),
        (
            "phase_fail",
            json!({"scenario": "man", "phase": "analysis", "message": "no"}),
            "`cortex orchestrate start man analysis` (the `phase_start` tool) starts it",
        ),
        (
            "phase_start",
            json!({"scenario": "man", "phase": "auto"}),
            "`cortex orchestrate status man` (the `status` tool) shows every phase",
        ),
        (
            "stop",
            json!({"run": "slow", "kind": "scenario"}),
            "`cortex workflow stop slow` (the `stop` tool) stops it",
        ),
    ];
    for (id, (tool, args, want)) in calls.into_iter().enumerate() {
        let id = id as i64 + 1;
        s.call(id, tool, args);
        let answer = s.response(id);
        assert_eq!(answer["result"]["isError"], true, "{tool}: {answer}");
        let hints = without_home(
            &env,
            &answer["result"]["structuredContent"]["hints"].to_string(),
        );
        assert!(hints.contains(want), "{tool}: {hints}");
        assert!(!hints.contains("pending"), "{tool}: {hints}");
    }
}

/// `log_verify` (read-only) given as `anchors` a file that is no anchor file never quotes
/// it, in its answer or on the server's stderr: before, its first line came back word for
/// word (`GITHUB_TOKEN=…`), so the tool read any file out (`/etc/shadow`).
#[test]
fn log_verify_of_a_file_that_is_no_anchor_file_never_quotes_it() {
    let env = Env::new();
    env.workflow("w", "name: w\nsteps:\n  - name: a\n    run: 'true'\n");
    env.run(&["workflow", "run", "w"]).assert_exit(0);
    let secrets = env.file(".env");
    std::fs::write(&secrets, "GITHUB_TOKEN=ghp_realsecret123456\n").unwrap();
    let mut s = Session::open(&env, "raw-client");
    s.call(1, "log_verify", json!({"anchors": secrets}));
    let answer = s.response(1);
    assert_eq!(answer["result"]["isError"], true, "{answer}");
    assert!(
        answer
            .to_string()
            .contains("line 1: expected `RUN_ID SEQ HEAD_HASH`"),
        "{answer}"
    );
    assert_eq!(s.hang_up(), 0, "{}", s.stderr());
    assert!(!answer.to_string().contains("realsecret"), "{answer}");
    assert!(!s.stderr().contains("realsecret"), "{}", s.stderr());
}

/// The server's log of a tool error is scrubbed of the secrets the process knows (a
/// secret-named variable of its environment), as the transport's log lines are: a tool error
/// quoting one (here a run looked for by it) never writes it to stderr.
#[test]
fn the_servers_log_of_a_tool_error_never_holds_a_secret_it_knows() {
    let env = Env::new();
    env.workflow("w", "name: w\nsteps:\n  - name: a\n    run: 'true'\n");
    env.run(&["workflow", "run", "w"]).assert_exit(0);
    let secret = "ghp_knownsecret987654";
    let mut s = Session::start_with(&env, &[], &[("GITHUB_TOKEN", secret)]);
    s.initialize("raw-client");
    s.call(1, "status", json!({"kind": "workflow", "run": secret}));
    let answer = s.response(1);
    assert_eq!(answer["result"]["isError"], true, "{answer}");
    assert_eq!(s.hang_up(), 0, "{}", s.stderr());
    assert!(s.stderr().contains("status: error"), "{}", s.stderr());
    assert!(!s.stderr().contains(secret), "{}", s.stderr());
}

/// `step_fail` takes no `outputs` (a failed step records none): its schema does not offer
/// them, and given they are refused as an unknown argument with nothing recorded. Before,
/// its schema said later steps see them, and they were silently dropped.
#[test]
fn step_fail_offers_no_outputs_and_refuses_them_recording_nothing() {
    let env = Env::new();
    env.workflow(
        "ask",
        "name: ask\nsteps:\n  - {name: Ask, prompt: ask it}\n",
    );
    env.run(&["workflow", "run", "ask"]).assert_exit(3);
    let run = env.status(None)["run_id"].as_str().unwrap().to_string();
    let events = env.events(&run).len();
    let mut s = Session::open(&env, "fail-outputs");
    s.request(1, "tools/list", json!({}));
    let tools = s.response(1);
    let step_fail = tools["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "step_fail")
        .cloned()
        .unwrap();
    assert!(
        step_fail["inputSchema"]["properties"]
            .get("outputs")
            .is_none(),
        "{step_fail}"
    );
    s.call(
        2,
        "step_fail",
        json!({"step": "Ask", "message": "disk full", "outputs": {"note": "partial"}}),
    );
    let answer = s.response(2);
    assert_eq!(answer["result"]["isError"], true, "{answer}");
    assert!(answer.to_string().contains("outputs"), "{answer}");
    assert_eq!(env.events(&run).len(), events, "nothing recorded");
    assert_eq!(s.hang_up(), 0, "{}", s.stderr());
}

/// A server whose home and log come from its environment (CORTEX_HOME, CORTEX_DB: `.mcp.json`'s
/// `env`) named neither in its suggestions, so a client's shell, without that environment,
/// acted on `~/.cortex`. They are named as with `--home`/`--db`: in `next` argv and in hints.
#[test]
fn the_mcp_servers_suggestions_name_the_home_and_log_it_has_from_its_environment() {
    let env = Env::new();
    env.workflow(
        "ask",
        "name: ask\nsteps:\n  - {name: Ask, prompt: ask it}\n",
    );
    let db = env.db().display().to_string();
    let mut s = Session::start_with(&env, &[], &[("CORTEX_DB", db.as_str())]);
    s.initialize("env-home");
    let (doc, code) = s.call_document(1, "run", json!({"kind": "workflow", "name": "ask"}));
    assert_eq!(code, 3, "{doc}");
    let home = env.home().display().to_string();
    let argv = doc["next"][0]["argv"].clone();
    assert_eq!(
        argv.as_array().unwrap()[..5],
        json!(["cortex", "--home", home, "--db", db])
            .as_array()
            .unwrap()[..],
        "{doc}"
    );
    // A hint of an error too.
    s.call(2, "resume", json!({"kind": "workflow", "retry": true}));
    let answer = s.response(2);
    assert_eq!(answer["result"]["isError"], true, "{answer}");
    let hints = answer["result"]["structuredContent"]["hints"].to_string();
    assert!(
        hints.contains(&format!("`cortex --home {home} --db {db} workflow ")),
        "{hints}"
    );
    assert_eq!(s.hang_up(), 0, "{}", s.stderr());
    // The suggestion works from a shell without that environment.
    let argv: Vec<String> = serde_json::from_value(argv).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_cortex"))
        .args(&argv[1..])
        .env_remove("CORTEX_HOME")
        .env_remove("CORTEX_DB")
        .env("HOME", env.project())
        .current_dir(env.project())
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The MCP `resume` of a finished latest run gave no sign of the older runs that wait (its
/// `next` was empty) while the CLI listed "Other runs to go on with": each such run's command
/// is in the result's `next`, its why naming the run.
#[test]
fn an_mcp_resume_of_a_finished_latest_run_names_the_older_waiting_runs_in_next() {
    let env = Env::new();
    env.workflow(
        "w1",
        "name: w1\nsteps:\n  - {name: Review, prompt: review it}\n",
    );
    env.workflow("w2", "name: w2\nsteps:\n  - {name: Hi, run: echo hi}\n");
    let w1 = env.run(&["--json", "workflow", "run", "w1"]).json()["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    env.run(&["workflow", "run", "w2"]).assert_exit(0);
    let mut s = Session::open(&env, "tester");
    let (doc, _) = s.call_document(1, "resume", json!({"kind": "workflow"}));
    assert_eq!(doc["status"], "completed", "{doc}");
    let next = doc["next"].to_string();
    assert!(
        next.contains(&w1) && next.contains("waits on `Review`"),
        "{doc}"
    );
    assert_eq!(s.hang_up(), 0);
}

/// The resume tool's `notify_only` is the delivery-only path status suggests as `resume
/// --notify-only`: on a run paused on a failure it runs no step (a plain resume would run
/// the failed step again), and it is refused beside a way to resume.
#[test]
fn the_resume_tools_notify_only_runs_no_step_and_takes_no_way_to_resume() {
    let env = Env::new();
    env.workflow(
        "fails",
        "name: fails\nsteps:\n  - name: deploy\n    run: echo deploy >> deploys.log; exit 1\n    retry: {max_retry_attempts: 0}\n",
    );
    env.run(&["workflow", "run", "fails"]).assert_exit(1);
    let mut s = Session::open(&env, "raw-client");
    s.call(
        1,
        "resume",
        json!({"kind": "workflow", "run": "fails", "notify_only": true, "retry": true}),
    );
    let refused = s.response(1);
    assert_eq!(refused["result"]["isError"], true, "{refused}");
    assert!(
        refused.to_string().contains("does nothing else"),
        "{refused}"
    );
    s.call(
        2,
        "resume",
        json!({"kind": "workflow", "run": "fails", "notify_only": true}),
    );
    let answer = s.response(2);
    assert_eq!(
        answer["result"]["structuredContent"]["status"], "failed",
        "{answer}"
    );
    assert_eq!(
        common::lines(&env.file("deploys.log")),
        ["deploy"],
        "{answer}"
    );
}

/// A workflow run driven by a detached call had no way to be stopped gracefully: no call was
/// left to cancel, the `stop` tool took scenarios only and the hints said Ctrl-C, which an
/// agent has no terminal for. The `stop` tool stops a workflow run a call of the server
/// drives (as any other: through its log): its running step ends, the stop is recorded with
/// who asked, the answer is the stopped run's document (exit 3), and `resume` goes on from
/// there.
#[test]
fn the_stop_tool_stops_a_workflow_run_a_detached_call_drives() {
    let env = Env::new();
    env.workflow(
        "long",
        "name: long\nsteps:\n  - name: Wait\n    run: 'sleep 30; echo done > finished'\n  - name: After\n    run: 'true'\n",
    );
    let mut s = Session::open(&env, "stopper");
    s.call(
        1,
        "run",
        json!({"kind": "workflow", "name": "long", "detach": true}),
    );
    // A detached drive still running gives no exit code (`cortex/detached` instead).
    let answer = s.response(1);
    let doc = answer["result"]["structuredContent"].clone();
    assert_eq!(doc["status"], "running", "{answer}");
    assert!(
        answer["result"]["_meta"].get("cortex/exit_code").is_none(),
        "{answer}"
    );
    assert_eq!(
        answer["result"]["_meta"]["cortex/detached"], true,
        "{answer}"
    );
    let run = doc["run_id"].as_str().unwrap().to_string();
    let (doc, code) = s.call_document(
        2,
        "stop",
        json!({"scenario": run, "message": "wrong branch"}),
    );
    assert_eq!(
        (doc["status"].as_str(), code),
        (Some("stopped"), 3),
        "{doc}"
    );
    let reason = doc["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("mcp:stopper") && reason.contains("wrong branch"),
        "{doc}"
    );
    // Stopped already: said so, nothing recorded (exit 3, as for any stopped run).
    let before = env.events(&run).len();
    let (doc, code) = s.call_document(3, "stop", json!({"run": run}));
    assert_eq!(
        (doc["status"].as_str(), code),
        (Some("stopped"), 3),
        "{doc}"
    );
    assert_eq!(env.events(&run).len(), before);
    assert_eq!(s.hang_up(), 0, "{}", s.stderr());
    assert!(!env.project().join("finished").exists());
    assert_eq!(env.status(Some(&run))["status"], "stopped");
}

/// The `stop` tool stops a workflow run that another process drives (`cortex workflow run`
/// in a terminal): asked through the log, that driver ends the step's process group and
/// records the stop with the MCP client's actor and message, its terminal ends exit 3, and
/// the answer is the stopped run's document. Before, the tool answered "`long` is a workflow
/// run, not a scenario run" and recorded nothing.
#[test]
fn the_stop_tool_stops_a_workflow_run_another_process_drives() {
    let env = Env::new();
    let started = env.file("started");
    env.workflow(
        "long",
        &format!(
            "name: long\nsteps:\n  - name: Wait\n    run: echo $$ > '{}'; exec sleep 600\n  - name: After\n    run: 'true'\n",
            started.display()
        ),
    );
    let mut terminal = env
        .command(&["workflow", "run", "long"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let until = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while std::fs::read_to_string(&started).map_or(true, |s| s.trim().is_empty()) {
        assert!(std::time::Instant::now() < until, "the step never started");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let mut s = Session::open(&env, "stopper");
    let (doc, code) = s.call_document(
        1,
        "stop",
        json!({"run": "long", "kind": "workflow", "message": "wrong branch"}),
    );
    assert_eq!(
        (doc["status"].as_str(), code),
        (Some("stopped"), 3),
        "{doc}"
    );
    let reason = doc["reason"].as_str().unwrap_or_default();
    assert!(
        reason.starts_with("stopped by mcp:stopper: wrong branch"),
        "{doc}"
    );
    assert_eq!(terminal.wait().unwrap().code(), Some(3));
    assert_eq!(s.hang_up(), 0, "{}", s.stderr());
}

/// Seen by a review: a request sent before `initialize` (`tools/list` first, as a hand-made
/// client does) was answered "request _meta is missing or has malformed required fields:
/// io.modelcontextprotocol/protocolVersion, ..." (rmcp reading it as the inline lifecycle),
/// which does not say the session was never initialized. It is told to send `initialize`
/// first, with its id; `ping` is still answered, and the session starts after it.
#[test]
fn a_request_before_initialize_is_told_to_send_initialize_first() {
    let env = Env::new();
    let mut s = Session::start(&env, &[]);
    s.request(5, "tools/list", json!({}));
    let early = s.response(5);
    assert_eq!(early["error"]["code"], -32600, "{early}");
    let message = early["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("`tools/list` came before `initialize`")
            && message.contains("send `initialize` first")
            && !message.contains("_meta is missing"),
        "{early}"
    );
    s.request(6, "ping", json!({}));
    assert!(s.response(6).get("result").is_some());
    let started = s.initialize("late");
    assert!(started["result"]["serverInfo"].is_object(), "{started}");
    s.request(7, "tools/list", json!({}));
    assert!(s.response(7)["result"]["tools"].is_array());
    assert_eq!(s.hang_up(), 0, "{}", s.stderr());
    assert!(
        s.stderr().contains("sent before `initialize`"),
        "{}",
        s.stderr()
    );
}

/// Seen by a review: a `notifications/cancelled` stopped the run with a fixed text, whatever
/// reason the client gave. The reason is in the stop's message: scrubbed of the secrets the
/// server knows, on one line, at most 200 characters.
#[test]
fn a_cancelled_calls_reason_is_recorded_in_the_stop_scrubbed_on_one_bounded_line() {
    let env = Env::new();
    env.workflow("gated", WAITS_FOR_GO);
    let secret = "sk-live-9f8e7d6c5b4a3210";
    let mut s = Session::start_with(&env, &[], &[("CORTEX_INPUT_API_TOKEN", secret)]);
    s.initialize("raw-client");
    s.call(1, "run", json!({"kind": "workflow", "name": "gated"}));
    wait_until_holding(&env);
    let long = "z".repeat(1000);
    s.send(json!({"jsonrpc": "2.0", "method": "notifications/cancelled",
        "params": {"requestId": 1, "reason": format!("user gave up\nkey {secret}\u{1b}[31m {long}")}}));
    let until = Instant::now() + PATIENCE;
    let mut id = 10;
    while s.status(id)["status"] != "stopped" {
        assert!(Instant::now() < until, "the run never stopped");
        std::thread::sleep(Duration::from_millis(50));
        id += 1;
    }
    let events = env.run(&["--json", "log", "show"]).json();
    let stop = events
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "stop_requested")
        .cloned()
        .unwrap();
    let message = stop["body"]["message"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        message.contains("saying \"user gave up key *** [31m zzz"),
        "{message}"
    );
    assert!(!message.contains(secret) && !message.contains('\n') && !message.contains('\u{1b}'));
    assert!(
        message.contains('…') && !message.contains(&long),
        "cut: {message}"
    );
    assert!(message.chars().count() < 500, "{message}");
    std::fs::write(env.file("go"), "").unwrap();
    assert_eq!(s.hang_up(), 0, "{}", s.stderr());
}

/// The MCP side of two fixes. A tool error after the drive said a warning (the definition
/// changed since the run started, then the drive stopped on a fault of the home) carried no
/// warning: an MCP client has no stderr, so it never learned of it; the error's document has
/// it in `warnings` now. And the `preview` tool takes `inputs` as `run` does (as `orchestrate
/// preview --input` does): the document's `inputs` are the values shown (a secret as `***`),
/// and a bad value is `run`'s error.
#[test]
fn mcp_errors_carry_the_drives_warnings_and_preview_takes_inputs() {
    let env = Env::new();
    let home = env.home();
    let flag = home.join("flag");
    let runs = home.join("runs");
    // Each run folder becomes a file, however often the derived-file writer (which writes
    // while a step runs) makes it a folder again between the removal and the `touch`.
    let workflow = |last: &str| {
        format!(
            "name: w\nsteps:\n  - name: a\n    run: |\n      [ -f '{}' ] || exit 3\n      for d in '{}'/*; do until [ -f \"$d\" ]; do rm -rf \"$d\"; touch \"$d\"; done; done\n    retry: {{max_retry_attempts: 1, backoff: 0s}}\n  - name: b\n    run: echo {last}\n",
            flag.display(),
            runs.display()
        )
    };
    env.workflow("w", &workflow("hi"));
    env.run(&["workflow", "run", "w"]).assert_exit(1);
    env.workflow("w", &workflow("bye"));
    std::fs::write(&flag, "").unwrap();
    env.scenario(
        "deploy",
        "name: deploy\ndescription: d\ninputs:\n  api_token: {type: string}\n  count: {type: integer, default: 2}\nphases:\n  - name: p\n    description: Deploy x${{ inputs.count }}\n",
    );
    let mut s = Session::open(&env, "raw-client");
    s.call(
        1,
        "resume",
        json!({"kind": "workflow", "run": "w", "retry": true}),
    );
    let answer = s.response(1);
    assert_eq!(answer["result"]["isError"], true, "{answer}");
    let refused = &answer["result"]["structuredContent"];
    assert!(
        refused["error"]
            .as_str()
            .unwrap()
            .contains("its own files in its home"),
        "{answer}"
    );
    assert!(
        refused["warnings"]
            .as_array()
            .is_some_and(|w| w.iter().any(|w| w
                .as_str()
                .unwrap()
                .contains("changed since this run started"))),
        "{answer}"
    );
    let (doc, code) = s.call_document(
        2,
        "preview",
        json!({"name": "deploy", "inputs": {"count": 7, "api_token": "s3cret-value"}}),
    );
    assert_eq!(code, 0);
    assert_eq!(
        doc["inputs"],
        json!({"api_token": "***", "count": 7}),
        "{doc}"
    );
    assert!(!doc.to_string().contains("s3cret-value"), "{doc}");
    s.call(
        3,
        "preview",
        json!({"name": "deploy", "inputs": {"count": "many"}}),
    );
    let answer = s.response(3);
    let refused = &answer["result"]["structuredContent"];
    assert_eq!(refused["exit_code"], 2, "{answer}");
    assert!(
        refused.to_string().contains("`many` is not an integer"),
        "{answer}"
    );
    assert_eq!(s.hang_up(), 0, "{}", s.stderr());
}

/// An `initialize` whose `clientInfo` has no `name` (nor `version`) begins the session, and the
/// client acts as `mcp:unknown`, as one whose name is empty does. Before, it was answered
/// "request _meta is missing or has malformed required fields:
/// io.modelcontextprotocol/protocolVersion, ...", naming neither `initialize` nor `clientInfo`.
#[test]
fn an_initialize_without_a_client_name_acts_as_mcp_unknown() {
    let env = Env::new();
    env.workflow(
        "ask",
        "name: ask\nsteps:\n  - name: Ask\n    prompt: Now you\n",
    );
    let mut s = Session::start(&env, &[]);
    s.send(
        json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {}}}),
    );
    let init = s.response(0);
    assert_eq!(init["result"]["serverInfo"]["name"], "cortex", "{init}");
    s.send(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
    let (doc, code) = s.call_document(1, "run", json!({"kind": "workflow", "name": "ask"}));
    assert_eq!(
        (doc["status"].as_str(), code),
        (Some("waiting"), 3),
        "{doc}"
    );
    assert_eq!(doc["actor"], "mcp:unknown", "{doc}");
    assert_eq!(s.hang_up(), 0, "{}", s.stderr());
}

/// A quick run's progress ends where the run ended: each value counts the steps done on the
/// scale of the total, and the last says all of them are. Before, the call answered as soon as
/// its drive returned, and its client was left at "0/2 steps done" (0.0, 0.5, 0.667 of 2).
#[test]
fn a_quick_runs_last_progress_counts_every_step_done() {
    let Some(python) = python() else { return };
    let env = Env::new();
    env.workflow(
        "long",
        "name: long\nsteps:\n  - name: First\n    run: echo one\n  - name: Last\n    run: echo two\n",
    );
    let facts = client_check(&python, &env, "progress_of_a_quick_call");
    let got = facts["progress"].as_array().unwrap();
    let last = got.last().expect("some progress");
    assert_eq!(last["progress"], 2.0, "{facts}");
    assert_eq!(last["total"], 2.0, "{facts}");
    assert!(
        last["message"]
            .as_str()
            .unwrap()
            .starts_with("2/2 steps done"),
        "{facts}"
    );
}

/// Seen by a review: `phase_complete` from a session not given the run's secret input ran the
/// phase's `check:` criteria with its value set to `***`, so a check passed or failed on the
/// wrong value, silently. It is refused as `step_complete` is (nothing recorded, the input
/// named, with how to give it: `inputs` of `phase_complete`), and taken once given it there.
#[test]
fn phase_complete_without_the_secret_input_its_checks_need_is_refused_and_taken_with_it() {
    let env = Env::new();
    let secret = "k-mcp-s3cr3t-77";
    let run_id = common::waiting_on_a_secret_check(&env, secret);
    let before = env.events(&run_id).len();
    let mut s = Session::open(&env, "reviewer");
    s.call(
        1,
        "phase_complete",
        json!({"scenario": "sc", "phase": "review"}),
    );
    let answer = s.response(1);
    assert_eq!(answer["result"]["isError"], true, "{answer}");
    let error = &answer["result"]["structuredContent"];
    assert!(
        error["error"]
            .as_str()
            .is_some_and(|e| e.contains("need the secret input `api_token`")),
        "{error}"
    );
    assert!(
        error["hints"]
            .to_string()
            .contains("`inputs` of phase_complete"),
        "{error}"
    );
    assert_eq!(env.events(&run_id).len(), before, "something was recorded");
    let (doc, code) = s.call_document(
        2,
        "phase_complete",
        json!({"scenario": "sc", "phase": "review", "inputs": {"api_token": secret}}),
    );
    assert_eq!(code, 0, "{doc}");
    assert_eq!(doc["status"], "completed", "{doc}");
    assert_eq!(env.log_holding(secret), Vec::<String>::new());
}
