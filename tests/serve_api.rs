//! `cortex serve`'s HTTP API on the real binary: every endpoint answers the document of its
//! `--json` twin, follows the OpenAPI document (`schemas/openapi.json`), records actions with
//! the server's actor, streams events, and refuses bad input with a clear 4xx recording
//! nothing.

mod common;
#[path = "common/server.rs"]
mod server;

use common::Env;
use serde_json::{Value, json};
use server::{ACTOR, Server, TOKEN, eventually};

const SHIP: &str = r#"
name: ship
description: Build and test a version
inputs:
  version: {type: string, required: true, pattern: '^\d+\.\d+\.\d+$'}
steps:
  - name: build
    run: echo built ${{ inputs.version }}
  - name: test
    run: echo tested
"#;

const REVIEW: &str = r#"
name: review
steps:
  - name: write
    prompt: Write the release notes
  - name: publish
    run: echo published
"#;

const GATE: &str = r#"
name: gate
description: A plan, then a manual ship
phases:
  - name: plan
    description: Plan it
    condition: auto
    success_criteria: [Plan written]
  - name: ship
    description: Ship it
    condition: manual
"#;

const HELPER: &str = "---\nname: helper\ndescription: Helps with things\n---\nBe helpful.\n";

fn home() -> Env {
    stocked(Env::new())
}

/// The id of the newest run of `kind` (`workflow` or `orchestrate`) in `env`'s log.
fn newest_run(env: &Env, kind: &str) -> String {
    env.run(&["--json", kind, "history"]).json()["runs"].clone()[0]["run_id"]
        .as_str()
        .expect("a run in the history")
        .to_string()
}

/// The id of a new run of workflow or scenario `name` (`group`: `workflow` or `orchestrate`),
/// driven until it stops with exit `code` (3: it waits on people, the run most tests act on).
fn new_run(env: &Env, group: &str, name: &str, code: i32) -> String {
    let out = env.run(&[group, "run", name]);
    assert_eq!(out.code, code, "{}{}", out.stdout, out.stderr);
    newest_run(env, group)
}

/// `env` with the tests' workflows, scenario and agent.
fn stocked(env: Env) -> Env {
    env.workflow("ship", SHIP)
        .workflow("review", REVIEW)
        .workflow(
            "broken",
            "name: broken\nsteps:\n  - name: a\n    run: echo a\n    typo: 1\n",
        );
    std::fs::create_dir_all(env.home().join("scenarios")).unwrap();
    std::fs::write(env.home().join("scenarios/gate.yaml"), GATE).unwrap();
    std::fs::create_dir_all(env.home().join("agents")).unwrap();
    std::fs::write(env.home().join("agents/helper.md"), HELPER).unwrap();
    env
}

/// The OpenAPI document, and a check of a response against the schema it gives.
struct Doc(Value);

impl Doc {
    fn load() -> Doc {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/openapi.json");
        Doc(serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap())
    }

    fn check(&self, template: &str, method: &str, status: u16, body: &Value) {
        let mut response = format!(
            "/paths/{}/{method}/responses/{status}",
            template.replace('~', "~0").replace('/', "~1")
        );
        // A response shared by every operation (`#/components/responses/...`): followed.
        if let Some(shared) = self
            .0
            .pointer(&format!("{response}/$ref"))
            .and_then(Value::as_str)
        {
            response = shared.trim_start_matches('#').to_string();
        }
        let pointer = format!("{response}/content/application~1json/schema");
        assert!(
            self.0.pointer(&pointer).is_some(),
            "{method} {template} answered {status}, which the OpenAPI document does not describe"
        );
        let mut root = self.0.clone();
        // A URI fragment: the braces of path templates are percent-encoded.
        let fragment = pointer.replace('{', "%7B").replace('}', "%7D");
        root["$ref"] = json!(format!("#{fragment}"));
        let validator = jsonschema::validator_for(&root).expect("the document's schemas compile");
        let errors: Vec<String> = validator
            .iter_errors(body)
            .map(|e| format!("{e} at {}", e.instance_path()))
            .collect();
        assert!(
            errors.is_empty(),
            "{method} {template} {status} does not follow the OpenAPI document:\n{}\n{body:#}",
            errors.join("\n")
        );
    }
}

/// `GET path` answers what `cortex --json ARGS` prints, with its exit code, and follows the
/// document.
fn twin(s: &Server, env: &Env, doc: &Doc, template: &str, path: &str, cli: &[&str]) -> Value {
    let r = s.get(path);
    let mut args = vec!["--json"];
    args.extend_from_slice(cli);
    let out = env.run(&args);
    let body = r.json();
    assert_eq!(body, out.json(), "GET {path} differs from cortex {cli:?}");
    if r.status == 200 {
        assert_eq!(r.exit_code(), out.code, "exit code of GET {path}");
    } else {
        assert_eq!(
            body["exit_code"],
            json!(out.code),
            "exit code of GET {path}"
        );
    }
    doc.check(template, "get", r.status, &body);
    body
}

fn events(env: &Env, run: &str) -> Vec<Value> {
    env.run(&["--json", "log", "show", run])
        .json()
        .as_array()
        .unwrap()
        .clone()
}

/// Wait until no driver holds the run (what a background driver does is then all recorded).
fn settled(s: &Server, run: &str) -> Value {
    eventually(60, "the background driver to let go", || {
        let status = s.get(&format!("/api/v1/runs/{run}")).json();
        (status["status"] != "running").then_some(status)
    })
}

#[test]
fn every_read_endpoint_answers_the_document_of_its_json_twin() {
    let env = home();
    let doc = Doc::load();
    env.run(&["workflow", "run", "ship", "--input", "version=1.2.3"])
        .assert_exit(0);
    env.run(&["workflow", "run", "review"]).assert_exit(3);
    env.run(&["orchestrate", "run", "gate"]).assert_exit(3);
    let history = env.run(&["--json", "workflow", "history"]).json()["runs"].clone();
    let wf = history[1]["run_id"].as_str().unwrap().to_string();
    let sc = newest_run(&env, "orchestrate");
    let s = Server::start(&env);
    let runs = "/api/v1/runs";
    twin(
        &s,
        &env,
        &doc,
        runs,
        "/api/v1/runs?kind=workflow&limit=20",
        &["workflow", "history", "--limit", "20"],
    );
    twin(
        &s,
        &env,
        &doc,
        runs,
        "/api/v1/runs?kind=scenario",
        &["orchestrate", "history"],
    );
    twin(
        &s,
        &env,
        &doc,
        runs,
        "/api/v1/runs?kind=workflow&limit=1",
        &["workflow", "history", "--limit", "1"],
    );
    // Without `kind`: the two histories as one, each kind's rows exactly its CLI twin's.
    let both = s.get("/api/v1/runs");
    assert_eq!(both.status, 200, "{}", both.body);
    let both = both.json();
    doc.check(runs, "get", 200, &both);
    let rows = both["runs"].as_array().unwrap();
    let of = |kind: &str| -> Value {
        rows.iter()
            .filter(|r| r["kind"] == kind)
            .cloned()
            .collect::<Vec<_>>()
            .into()
    };
    let workflows = env.run(&["--json", "workflow", "history"]).json()["runs"].clone();
    let scenarios = env.run(&["--json", "orchestrate", "history"]).json()["runs"].clone();
    assert_eq!(of("workflow"), workflows);
    assert_eq!(of("scenario"), scenarios);
    assert_eq!(
        rows.len(),
        workflows.as_array().unwrap().len() + scenarios.as_array().unwrap().len()
    );
    let said = doc.0["paths"]["/api/v1/runs"]["get"]["description"]
        .as_str()
        .unwrap();
    assert!(
        said.contains("both kinds") && said.contains("orchestrate history"),
        "the document names the twins of /api/v1/runs: {said}"
    );
    let one = "/api/v1/runs/{id}";
    twin(
        &s,
        &env,
        &doc,
        one,
        &format!("/api/v1/runs/{wf}"),
        &["workflow", "status", &wf],
    );
    twin(
        &s,
        &env,
        &doc,
        one,
        &format!("/api/v1/runs/{wf}?at=2"),
        &["workflow", "status", &wf, "--at", "2"],
    );
    twin(
        &s,
        &env,
        &doc,
        one,
        &format!("/api/v1/runs/{sc}"),
        &["orchestrate", "status", &sc],
    );
    twin(
        &s,
        &env,
        &doc,
        one,
        &format!("/api/v1/runs/{}", &wf[..12]),
        &["workflow", "status", &wf],
    );
    twin(
        &s,
        &env,
        &doc,
        "/api/v1/runs/{id}/log",
        &format!("/api/v1/runs/{wf}/log"),
        &["log", "show", &wf],
    );
    let logs = "/api/v1/runs/{id}/logs";
    let all = twin(
        &s,
        &env,
        &doc,
        logs,
        &format!("/api/v1/runs/{wf}/logs"),
        &["logs", &wf],
    );
    assert_eq!(all["attempts"][0]["text"], "built 1.2.3\n", "{all}");
    // The run's page shows each step's tail and links its whole output.
    let page = s.get(&format!("/runs/{wf}"));
    assert!(
        page.body.contains(&format!(
            "href=\"/api/v1/runs/{wf}/logs/build/raw?attempt=1\""
        )),
        "{}",
        page.body
    );
    // ... which is `logs RUN STEP --raw`, the bytes as written.
    let raw = s.get(&format!("/api/v1/runs/{wf}/logs/build/raw?attempt=1"));
    assert_eq!(raw.status, 200);
    assert_eq!(raw.body, env.run(&["logs", &wf, "build", "--raw"]).stdout);
    twin(
        &s,
        &env,
        &doc,
        logs,
        &format!("/api/v1/runs/{wf}/logs?step=Test"),
        &["logs", &wf, "Test"],
    );
    let unknown = twin(
        &s,
        &env,
        &doc,
        logs,
        &format!("/api/v1/runs/{wf}/logs?step=nope"),
        &["logs", &wf, "nope"],
    );
    assert_eq!(unknown["exit_code"], 2, "{unknown}");
    twin(
        &s,
        &env,
        &doc,
        "/api/v1/runs/{id}/verify",
        &format!("/api/v1/runs/{sc}/verify"),
        &["log", "verify", &sc],
    );
    twin(
        &s,
        &env,
        &doc,
        "/api/v1/verify",
        "/api/v1/verify",
        &["log", "verify"],
    );
    twin(
        &s,
        &env,
        &doc,
        "/api/v1/workflows",
        "/api/v1/workflows",
        &["workflow", "list"],
    );
    twin(
        &s,
        &env,
        &doc,
        "/api/v1/workflows/{name}",
        "/api/v1/workflows/ship",
        &["workflow", "validate", "ship"],
    );
    let broken = twin(
        &s,
        &env,
        &doc,
        "/api/v1/workflows/{name}",
        "/api/v1/workflows/broken",
        &["workflow", "validate", "broken"],
    );
    assert_eq!(broken["valid"], false, "{broken}");
    let said = doc.0["paths"]["/api/v1/workflows/{name}"]["get"]["description"]
        .as_str()
        .unwrap();
    assert!(
        said.contains("still a 200") && !said.contains("is a 400"),
        "the document says what the server answers for an invalid workflow: {said}"
    );
    assert!(
        broken["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("typo"),
        "{broken}"
    );
    twin(
        &s,
        &env,
        &doc,
        "/api/v1/scenarios",
        "/api/v1/scenarios",
        &["orchestrate", "list"],
    );
    twin(
        &s,
        &env,
        &doc,
        "/api/v1/scenarios/{name}",
        "/api/v1/scenarios/gate",
        &["orchestrate", "validate", "gate"],
    );
    twin(
        &s,
        &env,
        &doc,
        "/api/v1/scenarios/{name}/preview",
        "/api/v1/scenarios/gate/preview",
        &["orchestrate", "preview", "gate"],
    );
    twin(
        &s,
        &env,
        &doc,
        "/api/v1/agents",
        "/api/v1/agents",
        &["agent", "list"],
    );
    twin(
        &s,
        &env,
        &doc,
        "/api/v1/agents/{name}",
        "/api/v1/agents/helper",
        &["agent", "status", "helper"],
    );
    // The document itself is served as committed.
    let served = s.get("/api/v1/openapi.json");
    assert_eq!(served.json(), doc.0);
}

#[test]
fn every_action_records_what_its_cli_twin_records_with_the_servers_actor() {
    let env = home();
    let doc = Doc::load();
    let s = Server::start(&env);

    // run: a workflow from the API and its twin from the CLI record the same events.
    let r = s.post(
        "/api/v1/workflows/ship/runs",
        r#"{"inputs": {"version": "2.0.0"}, "message": "from the page"}"#,
    );
    assert_eq!(r.status, 202, "{}", r.body);
    doc.check("/api/v1/workflows/{name}/runs", "post", 202, &r.json());
    let web = r.json()["run_id"].as_str().unwrap().to_string();
    let done = settled(&s, &web);
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["actor"], ACTOR);
    env.run(&[
        "workflow",
        "run",
        "ship",
        "--input",
        "version=2.0.0",
        "--actor",
        ACTOR,
    ])
    .assert_exit(0);
    let cli = env
        .run(&["--json", "workflow", "history", "--limit", "1"])
        .json()["runs"]
        .clone()[0]["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    let types = |run: &str| -> Vec<Value> {
        events(&env, run)
            .iter()
            .map(|e| e["type"].clone())
            .collect()
    };
    assert_eq!(types(&web), types(&cli));
    assert_eq!(
        s.get(&format!("/api/v1/runs/{web}")).json(),
        env.status(Some(&web))
    );
    let first = &events(&env, &web)[0];
    assert_eq!(first["body"]["actor"], ACTOR);
    assert_eq!(first["body"]["message"], "from the page");

    // complete: a report with outputs, then a background driver runs the next step.
    env.run(&["workflow", "run", "review"]).assert_exit(3);
    let review = env
        .run(&["--json", "workflow", "history", "--limit", "1"])
        .json()["runs"]
        .clone()[0]["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = s.post(
        &format!("/api/v1/runs/{review}/steps/write/complete"),
        r#"{"outputs": {"notes": "<b>v2</b> is out"}, "message": "written"}"#,
    );
    assert_eq!(r.status, 202, "{}", r.body);
    doc.check(
        "/api/v1/runs/{id}/steps/{step}/complete",
        "post",
        202,
        &r.json(),
    );
    let done = settled(&s, &review);
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["steps"][0]["outputs"]["notes"], "<b>v2</b> is out");
    assert_eq!(
        done["steps"][0]["reported_by"],
        json!({"actor": ACTOR, "message": "written"})
    );
    assert_eq!(done, env.status(Some(&review)));

    // start a manual phase, complete one, stop, resume, abort: scenario actions.
    let gate = new_run(&env, "orchestrate", "gate", 3);
    let r = s.post(
        &format!("/api/v1/runs/{gate}/steps/ship/start"),
        r#"{"message": "go"}"#,
    );
    assert!(r.status == 200 || r.status == 202, "{}", r.body);
    doc.check(
        "/api/v1/runs/{id}/steps/{step}/start",
        "post",
        r.status,
        &r.json(),
    );
    // `ship` is not parallel: it waits for `plan`, which waits for a report. Its start
    // requested, only `plan` holds it: `ready`, saying what it waits for.
    let after = settled(&s, &gate);
    assert_eq!(after["phases"][1]["status"], "ready", "{after}");
    assert_eq!(
        after["phases"][1]["waits_for_slot"]["held_by"],
        json!(["plan"]),
        "{after}"
    );
    assert!(after.get("awaiting_start").is_none(), "{after}");
    let requested = events(&env, &gate)
        .into_iter()
        .find(|e| e["type"] == "phase_start_requested")
        .expect("the start is recorded");
    assert_eq!(requested["body"]["actor"], ACTOR, "{requested}");
    assert_eq!(requested["body"]["message"], "go", "{requested}");
    let r = s.post(
        &format!("/api/v1/runs/{gate}/steps/plan/complete"),
        r#"{"message": "planned"}"#,
    );
    assert!(r.status == 200 || r.status == 202, "{}", r.body);
    doc.check(
        "/api/v1/runs/{id}/steps/{step}/complete",
        "post",
        r.status,
        &r.json(),
    );
    let after = settled(&s, &gate);
    assert_eq!(after["phases"][0]["status"], "completed", "{after}");
    assert_eq!(after["phases"][0]["criteria"][0]["met"], true);
    assert_eq!(after["phases"][1]["status"], "waiting", "{after}");
    let r = s.post(
        &format!("/api/v1/runs/{gate}/stop"),
        r#"{"message": "lunch"}"#,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    doc.check("/api/v1/runs/{id}/stop", "post", 200, &r.json());
    assert_eq!(r.json()["status"], "stopped");
    assert_eq!(r.exit_code(), 3);
    let r = s.post(&format!("/api/v1/runs/{gate}/resume"), "");
    assert_eq!(r.status, 202, "{}", r.body);
    doc.check("/api/v1/runs/{id}/resume", "post", 202, &r.json());
    let after = settled(&s, &gate);
    assert_eq!(after["status"], "waiting", "{after}");
    let r = s.post(
        &format!("/api/v1/runs/{gate}/steps/ship/fail"),
        r#"{"message": "broke"}"#,
    );
    assert!(r.status == 200 || r.status == 202, "{}", r.body);
    doc.check(
        "/api/v1/runs/{id}/steps/{step}/fail",
        "post",
        r.status,
        &r.json(),
    );
    let r = s.post(
        &format!("/api/v1/runs/{gate}/abort"),
        r#"{"message": "enough"}"#,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    doc.check("/api/v1/runs/{id}/abort", "post", 200, &r.json());
    assert_eq!(r.json()["status"], "aborted");
    assert_eq!(r.exit_code(), 1);
    assert_eq!(
        r.json(),
        env.run(&["--json", "orchestrate", "status", &gate]).json()
    );
    let last = events(&env, &gate).pop().unwrap();
    assert_eq!(last["type"], "run_finished");
    // resume of a finished run changes nothing, as the CLI's does.
    let before = events(&env, &gate).len();
    let r = s.post(&format!("/api/v1/runs/{gate}/resume"), "");
    assert_eq!(r.status, 200, "{}", r.body);
    doc.check("/api/v1/runs/{id}/resume", "post", 200, &r.json());
    assert_eq!(events(&env, &gate).len(), before);

    // a scenario run started from the API, with a manual phase started at once.
    let r = s.post("/api/v1/scenarios/gate/runs", r#"{"start": ["ship"]}"#);
    assert_eq!(r.status, 202, "{}", r.body);
    doc.check("/api/v1/scenarios/{name}/runs", "post", 202, &r.json());
    let id = r.json()["run_id"].as_str().unwrap().to_string();
    let after = settled(&s, &id);
    assert_eq!(after["phases"][0]["status"], "waiting", "{after}");
    assert!(
        after.get("awaiting_start").is_none(),
        "ship was started: {after}"
    );
}

/// A report on a phase that is no longer waiting for one (another report got there first:
/// `c d` failed) is a state conflict, 409 as documented, with the CLI's error document (exit
/// code 2, as `orchestrate complete` exits). Before, 400, as a malformed request.
#[test]
fn a_report_on_a_phase_no_longer_waiting_is_a_409_conflict() {
    let env = home();
    env.scenario(
        "race",
        "name: race\ndescription: r\nphases:\n  - name: c d\n    description: reported by a person\n",
    );
    let doc = Doc::load();
    let s = Server::start(&env);
    let r = s.post("/api/v1/scenarios/race/runs", "");
    assert_eq!(r.status, 202, "{}", r.body);
    let run = r.json()["run_id"].as_str().unwrap().to_string();
    assert_eq!(settled(&s, &run)["phases"][0]["status"], "waiting");
    let r = s.post(
        &format!("/api/v1/runs/{run}/steps/c%20d/fail"),
        r#"{"message": "broke"}"#,
    );
    assert!(r.status == 200 || r.status == 202, "{}", r.body);
    let r = s.post(&format!("/api/v1/runs/{run}/steps/c%20d/complete"), "{}");
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(
        r.body.contains("is failed, not waiting for a report"),
        "{}",
        r.body
    );
    assert_eq!(r.json()["exit_code"], 2, "{}", r.body);
    doc.check(
        "/api/v1/runs/{id}/steps/{step}/complete",
        "post",
        409,
        &r.json(),
    );
}

/// A report made through the web (the API's complete, the run page's complete form) records
/// the events its CLI twin (`workflow step complete`, `orchestrate complete`) records: the
/// background driver that goes on with the run drives on what was recorded, as the CLI's
/// report does in its own process. Before, that driver was a plain `resume`, and the web's
/// report recorded a `run_resumed` the CLI's never did.
#[test]
fn a_report_through_the_web_records_the_event_kinds_of_its_cli_twin() {
    let env = home();
    std::fs::write(
        env.home().join("scenarios/handoff.yaml"),
        "name: handoff\ndescription: a report, then a command\nphases:\n  - {name: write, description: w}\n  - {name: publish, description: p, run: echo published}\n",
    )
    .unwrap();
    let s = Server::start(&env);
    let types = |run: &str| -> Vec<String> {
        events(&env, run)
            .iter()
            .map(|e| e["type"].as_str().unwrap_or_default().to_string())
            .collect()
    };
    // A workflow step: the API's complete, then the page's form, each against the CLI's.
    let waiting = |env: &Env| new_run(env, "workflow", "review", 3);
    let cli = waiting(&env);
    env.run(&[
        "workflow", "step", "complete", "write", "--run", &cli, "--actor", ACTOR,
    ])
    .assert_exit(0);
    let api = waiting(&env);
    let r = s.post(&format!("/api/v1/runs/{api}/steps/write/complete"), "{}");
    assert_eq!(r.status, 202, "{}", r.body);
    assert_eq!(settled(&s, &api)["status"], "completed");
    let page = waiting(&env);
    let r = s.post_with(
        &format!("/runs/{page}/steps/write/complete"),
        &format!("token={TOKEN}"),
        &[("content-type", "application/x-www-form-urlencoded")],
    );
    assert!(r.status < 400, "{}: {}", r.status, r.body);
    assert_eq!(settled(&s, &page)["status"], "completed");
    let kinds = types(&cli);
    assert!(!kinds.contains(&"run_resumed".to_string()), "{kinds:?}");
    assert_eq!(types(&api), kinds, "the API's complete");
    assert_eq!(types(&page), kinds, "the page's complete");
    for run in [&api, &page] {
        let reported = events(&env, run)
            .into_iter()
            .find(|e| e["type"] == "step_succeeded")
            .unwrap();
        assert_eq!(reported["body"]["by"]["actor"], ACTOR, "{reported}");
    }

    // A scenario phase: `orchestrate complete` against the API's complete.
    let waiting = |env: &Env| new_run(env, "orchestrate", "handoff", 3);
    let cli = waiting(&env);
    env.run(&["orchestrate", "complete", &cli, "write", "--actor", ACTOR])
        .assert_exit(0);
    let api = waiting(&env);
    let r = s.post(&format!("/api/v1/runs/{api}/steps/write/complete"), "{}");
    assert!(r.status == 200 || r.status == 202, "{}", r.body);
    assert_eq!(settled(&s, &api)["status"], "completed");
    let kinds = types(&cli);
    assert!(!kinds.contains(&"run_resumed".to_string()), "{kinds:?}");
    assert_eq!(types(&api), kinds, "the API's complete of a phase");
}

#[test]
fn every_refusal_of_a_requests_shape_says_how_to_ask_instead() {
    let env = home();
    let doc = Doc::load();
    env.run(&["workflow", "run", "review"]).assert_exit(3);
    env.run(&["orchestrate", "run", "gate"]).assert_exit(3);
    let runs = env.run(&["--json", "workflow", "history"]).json()["runs"].clone();
    let run = runs[0]["run_id"].as_str().unwrap().to_string();
    let gate = newest_run(&env, "orchestrate");
    let s = Server::start(&env);
    let before = (events(&env, &run).len(), events(&env, &gate).len());
    let cases: Vec<(server::Resp, u16, &str, &str)> = vec![
        (s.get("/api/v1/runs?kind=bogus"), 400, "/api/v1/runs", "get"),
        // A path segment that is not UTF-8 once decoded: axum's own plain-text 400 before.
        (s.get("/api/v1/runs/%FF"), 404, "/api/v1/runs/{id}", "get"),
        (
            s.get("/api/v1/workflows/%C0"),
            404,
            "/api/v1/workflows/{name}",
            "get",
        ),
        (
            s.post(&format!("/api/v1/runs/{run}/steps/%FF/complete"), "{}"),
            404,
            "/api/v1/runs/{id}/steps/{step}/complete",
            "post",
        ),
        (s.get("/api/v1/runs?limit=abc"), 400, "/api/v1/runs", "get"),
        (s.get("/api/v1/runs?limit=0"), 400, "/api/v1/runs", "get"),
        (
            s.get(&format!("/api/v1/runs/{run}?at=x")),
            400,
            "/api/v1/runs/{id}",
            "get",
        ),
        (
            s.get("/api/v1/runs/%20/log"),
            404,
            "/api/v1/runs/{id}/log",
            "get",
        ),
        (
            s.get(&format!("/api/v1/runs/{run}/events?after=x")),
            400,
            "",
            "",
        ),
        (
            s.post(
                &format!("/api/v1/runs/{run}/resume"),
                r#"{"mode": "sideways"}"#,
            ),
            400,
            "/api/v1/runs/{id}/resume",
            "post",
        ),
        (
            s.post(&format!("/api/v1/runs/{run}/resume"), r#"{"mode": "from"}"#),
            400,
            "/api/v1/runs/{id}/resume",
            "post",
        ),
        (
            s.post(
                &format!("/api/v1/runs/{gate}/resume"),
                r#"{"mode": "retry"}"#,
            ),
            400,
            "/api/v1/runs/{id}/resume",
            "post",
        ),
        (
            s.post(&format!("/api/v1/runs/{run}/steps/write/start"), "{}"),
            400,
            "/api/v1/runs/{id}/steps/{step}/start",
            "post",
        ),
        (
            s.post(
                &format!("/api/v1/runs/{gate}/steps/ship/start"),
                r#"{"outputs": {"k": "v"}}"#,
            ),
            400,
            "/api/v1/runs/{id}/steps/{step}/start",
            "post",
        ),
        (
            s.post(
                "/api/v1/workflows/ship/runs",
                r#"{"inputs": {"version": [1]}}"#,
            ),
            400,
            "/api/v1/workflows/{name}/runs",
            "post",
        ),
    ];
    for (r, status, template, method) in cases {
        assert_eq!(r.status, status, "{}", r.body);
        let body = r.json();
        assert!(
            body["hints"].as_array().is_some_and(|h| !h.is_empty()),
            "a refusal without a hint: {body}"
        );
        if !template.is_empty() {
            doc.check(template, method, status, &body);
        }
    }
    // A page's form axum cannot read (a field twice): its plain-text 422 before.
    let r = s.post_with(
        "/login",
        &format!("token={TOKEN}&next=/a&next=/b"),
        &[("content-type", "application/x-www-form-urlencoded")],
    );
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(
        r.body.starts_with("<!DOCTYPE html>") && r.body.contains("hint: "),
        "{}",
        r.body
    );
    let r = s.get("/runs/%FF");
    assert_eq!(r.status, 404, "{}", r.body);
    assert!(r.body.contains("hint: "), "{}", r.body);
    assert_eq!(
        (events(&env, &run).len(), events(&env, &gate).len()),
        before,
        "nothing recorded"
    );
}

#[test]
fn a_button_pressed_after_another_operator_acted_is_refused_with_a_hint_and_nothing_recorded() {
    let env = home();
    let doc = Doc::load();
    let gate = new_run(&env, "orchestrate", "gate", 3);
    let s = Server::start(&env);
    // The page offered "Start" for `ship`; another terminal started it first.
    env.run(&["orchestrate", "start", &gate, "ship", "--no-drive"])
        .assert_exit(3);
    let before = events(&env, &gate).len();
    let r = s.post(&format!("/api/v1/runs/{gate}/steps/ship/start"), "{}");
    assert_eq!(r.status, 400, "{}", r.body);
    let body = r.json();
    doc.check("/api/v1/runs/{id}/steps/{step}/start", "post", 400, &body);
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("already requested"),
        "{body}"
    );
    let hint = body["hints"][0].as_str().unwrap_or_default();
    assert!(
        hint.contains("nothing was recorded") && hint.contains("status"),
        "a refusal without a hint: {body}"
    );
    // The page's own button: an error page that says so and leads back to the run.
    let r = s.post_with(
        &format!("/runs/{gate}/steps/ship/start"),
        &format!("token={TOKEN}&message="),
        &[("content-type", "application/x-www-form-urlencoded")],
    );
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("nothing was recorded"), "{}", r.body);
    assert!(
        r.body
            .contains(&format!("<a href=\"/runs/{gate}\">Back to the run</a>")),
        "the error page leads back to the run: {}",
        r.body
    );
    assert_eq!(events(&env, &gate).len(), before, "nothing recorded");
}

/// A message past the limit every front end keeps (`MAX_MESSAGE_CHARS`) is refused, and the
/// step still waits: before, a body of up to 2 MiB was recorded whole in the report's event.
#[test]
fn a_message_past_the_limit_is_refused_through_the_api_and_nothing_is_recorded() {
    let env = home();
    let run = new_run(&env, "workflow", "review", 3);
    let s = Server::start(&env);
    let before = events(&env, &run).len();
    let body = json!({"message": "m".repeat(cortex::ops::MAX_MESSAGE_CHARS + 1)}).to_string();
    let r = s.post(&format!("/api/v1/runs/{run}/steps/write/complete"), &body);
    assert_eq!(r.status, 400, "{}", r.body);
    let refusal = r.json();
    assert!(
        refusal["error"]
            .as_str()
            .unwrap()
            .contains("a message has at most 65536 characters"),
        "{refusal}"
    );
    assert!(
        !refusal["hints"].as_array().unwrap().is_empty(),
        "{refusal}"
    );
    assert_eq!(events(&env, &run).len(), before, "nothing recorded");
}

#[test]
fn bad_input_is_refused_with_a_clear_4xx_and_nothing_recorded() {
    let env = home();
    let doc = Doc::load();
    let run = new_run(&env, "workflow", "review", 3);
    let s = Server::start(&env);
    let count = || events(&env, &run).len();
    let before = count();
    let complete = format!("/api/v1/runs/{run}/steps/write/complete");
    let refused = |r: server::Resp, status: u16, says: &str, template: &str, method: &str| {
        assert_eq!(r.status, status, "{}", r.body);
        if r.body.starts_with("<!DOCTYPE") {
            // A page's form is answered with a page.
            assert!(r.body.contains(says), "expected `{says}` in {}", r.body);
            return;
        }
        let body = r.json();
        assert!(
            body["error"].as_str().unwrap().contains(says),
            "expected `{says}` in {body}"
        );
        assert!(body["exit_code"].is_number());
        // How to ask instead: a hint, or the list of what was wrong with each part.
        assert!(
            body["hints"].as_array().is_some_and(|h| !h.is_empty())
                || body["errors"].as_array().is_some_and(|e| !e.is_empty()),
            "a refusal without a hint: {body}"
        );
        if !template.is_empty() {
            doc.check(template, method, status, &body);
        }
    };
    let step_tpl = "/api/v1/runs/{id}/steps/{step}/complete";
    // unknown run
    refused(
        s.get("/api/v1/runs/01ZZZZZZZZZZZZZZZZZZZZZZZZ"),
        404,
        "no run",
        "/api/v1/runs/{id}",
        "get",
    );
    refused(
        s.post(
            "/api/v1/runs/01ZZZZZZZZZZZZZZZZZZZZZZZZ/steps/write/complete",
            "",
        ),
        404,
        "no run",
        step_tpl,
        "post",
    );
    // unknown step
    refused(
        s.post(&format!("/api/v1/runs/{run}/steps/nope/complete"), ""),
        404,
        "has no step",
        step_tpl,
        "post",
    );
    // malformed body, unknown field, wrong type
    refused(
        s.post(&complete, "{not json"),
        400,
        "not what this endpoint takes",
        step_tpl,
        "post",
    );
    refused(
        s.post(&complete, r#"{"outputz": {}}"#),
        400,
        "unknown field",
        step_tpl,
        "post",
    );
    refused(
        s.post(&complete, r#"{"outputs": ["a"]}"#),
        400,
        "not what this endpoint takes",
        step_tpl,
        "post",
    );
    // A key given twice is refused naming it, as the CLI refuses it (serde kept the last).
    refused(
        s.post(&complete, r#"{"outputs": {"k": "first", "k": "second"}}"#),
        400,
        "`k` is given twice",
        step_tpl,
        "post",
    );
    refused(
        s.post(
            &format!("/api/v1/runs/{run}/resume"),
            r#"{"inputs": {"x": "1", "x": "2"}}"#,
        ),
        400,
        "`x` is given twice",
        "/api/v1/runs/{id}/resume",
        "post",
    );
    refused(
        s.post(
            "/api/v1/workflows/review/runs",
            r#"{"inputs": {"x": "1", "x": "2"}}"#,
        ),
        400,
        "`x` is given twice",
        "/api/v1/workflows/{name}/runs",
        "post",
    );
    // A failure takes no outputs: its body is a message alone.
    refused(
        s.post(
            &format!("/api/v1/runs/{run}/steps/write/fail"),
            r#"{"outputs": {"k": "v"}}"#,
        ),
        400,
        "unknown field",
        "/api/v1/runs/{id}/steps/{step}/fail",
        "post",
    );
    // a hostile output key (the name rule), a bad resume mode, a bad input
    refused(
        s.post(&complete, r#"{"outputs": {"<script>": "x"}}"#),
        400,
        "reported output",
        step_tpl,
        "post",
    );
    refused(
        s.post(
            &format!("/api/v1/runs/{run}/resume"),
            r#"{"mode": "sideways"}"#,
        ),
        400,
        "resume mode",
        "/api/v1/runs/{id}/resume",
        "post",
    );
    refused(
        s.post(
            "/api/v1/workflows/ship/runs",
            r#"{"inputs": {"version": "one"}}"#,
        ),
        400,
        "inputs of `ship` are not valid",
        "/api/v1/workflows/{name}/runs",
        "post",
    );
    refused(
        s.post(
            "/api/v1/workflows/ship/runs",
            r#"{"inputs": {"version": {"a": 1}}}"#,
        ),
        400,
        "must be a string",
        "/api/v1/workflows/{name}/runs",
        "post",
    );
    // no token, a wrong token, a token only in a cookie
    refused(
        s.post_with(&complete, "", &[]),
        401,
        "needs the server's token",
        step_tpl,
        "post",
    );
    refused(
        s.post_with(
            &complete,
            "",
            &[("authorization", "Bearer wrong-token-0123456789")],
        ),
        401,
        "the token given in the `Authorization` (or `X-Cortex-Token`) header is not this server's",
        step_tpl,
        "post",
    );
    refused(
        s.post_with(
            &complete,
            "",
            &[("cookie", &format!("cortex_session_1={TOKEN}"))],
        ),
        401,
        "needs the server's token",
        step_tpl,
        "post",
    );
    // cross-site, even with the token
    let bearer = format!("Bearer {TOKEN}");
    refused(
        s.post_with(
            &complete,
            "",
            &[
                ("authorization", &bearer),
                ("origin", "http://evil.example"),
            ],
        ),
        403,
        "another site",
        step_tpl,
        "post",
    );
    refused(
        s.post_with(
            &complete,
            "",
            &[("authorization", &bearer), ("sec-fetch-site", "cross-site")],
        ),
        403,
        "another site",
        step_tpl,
        "post",
    );
    let form = format!("token={TOKEN}&message=hi");
    refused(
        s.post_with(
            &format!("/runs/{run}/steps/write/complete"),
            &form,
            &[
                ("content-type", "application/x-www-form-urlencoded"),
                ("origin", "null"),
            ],
        ),
        403,
        "another site",
        "",
        "",
    );
    // another method, a Host that is not loopback (DNS rebinding), a path for a name
    refused(s.put(&complete), 405, "not answered here", "", "");
    refused(
        s.get_with("/api/v1/runs", &[("host", "evil.example")]),
        421,
        "loopback Host",
        "/api/v1/runs",
        "get",
    );
    refused(
        s.get("/api/v1/workflows/..%2F..%2Fetc%2Fpasswd.yaml"),
        404,
        "not paths",
        "/api/v1/workflows/{name}",
        "get",
    );
    refused(
        s.get("/api/v1/workflows/nope"),
        404,
        "no workflow",
        "/api/v1/workflows/{name}",
        "get",
    );
    refused(s.get("/api/v1/nothing"), 404, "no such endpoint", "", "");
    refused(
        s.get("/api/v1/runs?limit=0"),
        400,
        "limit",
        "/api/v1/runs",
        "get",
    );
    refused(
        s.get(&format!("/api/v1/runs/{run}?at=x")),
        400,
        "whole number",
        "/api/v1/runs/{id}",
        "get",
    );
    assert_eq!(count(), before, "a refused request recorded something");
    // the same request with the token is taken
    let r = s.post(&complete, r#"{"outputs": {"notes": "ok"}}"#);
    assert!(r.status == 200 || r.status == 202, "{}", r.body);
    assert!(count() > before);
}

#[test]
fn a_hostile_step_name_and_output_reach_the_page_escaped() {
    let env = home();
    env.workflow(
        "hostile",
        "name: hostile\nsteps:\n  - name: \"<script>alert(1)</script>\"\n    prompt: \"Report <img src=x onerror=alert(2)>\"\n",
    );
    let run = new_run(&env, "workflow", "hostile", 3);
    let s = Server::start(&env);
    let step = "%3Cscript%3Ealert(1)%3C%2Fscript%3E";
    let r = s.post(
        &format!("/api/v1/runs/{run}/steps/{step}/complete"),
        r#"{"outputs": {"html": "<script>alert(3)</script><img src=x onerror=alert(4)>"}, "message": "<b onmouseover=alert(5)>hi</b>"}"#,
    );
    assert!(r.status == 200 || r.status == 202, "{}", r.body);
    settled(&s, &run);
    for path in [format!("/runs/{run}"), "/".to_string()] {
        let page = s.get(&path);
        assert_eq!(page.status, 200);
        let html = page.body;
        for raw in ["<script>alert", "<img src=x", "<b onmouseover"] {
            assert!(!html.contains(raw), "{path} holds `{raw}` unescaped");
        }
        assert!(
            page.headers
                .iter()
                .any(|(k, v)| k == "content-security-policy" && v.contains("script-src 'self'")),
            "no CSP on {path}"
        );
    }
    let html = s.get(&format!("/runs/{run}")).body;
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "the step name is shown, escaped"
    );
    assert!(
        html.contains("&lt;script&gt;alert(3)"),
        "the output is shown, escaped"
    );
}

#[test]
fn control_and_bidi_characters_from_the_log_are_shown_not_obeyed_by_pages_api_and_stream() {
    let env = home();
    // A step that prints colours and a bidi override, an output and a description holding
    // one: what the CLI shows escaped in a terminal.
    env.workflow(
        "colours",
        "name: colours\ndescription: \"plain \\u202Edesc\"\nsteps:\n  - name: paint\n    run: |\n      printf '\\033[31mRED\\033[0m \\342\\200\\256tail\\r\\n'\n      printf 'k=a\\342\\200\\256b\\n' >> \"$CORTEX_OUTPUT\"\n",
    );
    let run = new_run(&env, "workflow", "colours", 0);
    let raw_chars = ['\u{1b}', '\u{202e}', '\r'];
    let s = Server::start(&env);
    for path in [
        format!("/runs/{run}"),
        "/".to_string(),
        "/catalog".to_string(),
    ] {
        let html = s.get(&path).body;
        for c in raw_chars {
            assert!(!html.contains(c), "{path} holds {c:?} raw");
        }
    }
    let html = s.get(&format!("/runs/{run}")).body;
    assert!(html.contains("\\u{1b}[31mRED"), "the colours are shown");
    assert!(
        html.contains("a\\u{202e}b"),
        "the output's override is shown"
    );
    assert!(
        html.contains("plain \\u{202e}desc"),
        "the description's too"
    );
    // The API answers as `--json` prints: the same document, the override escaped.
    for path in [
        format!("/api/v1/runs/{run}"),
        format!("/api/v1/runs/{run}/log"),
    ] {
        let r = s.get(&path);
        assert!(!r.body.contains('\u{202e}'), "{path} holds U+202E raw");
        assert!(r.body.contains("\\u202e"), "{path}: {}", r.body);
    }
    let status = s.get(&format!("/api/v1/runs/{run}")).json();
    assert_eq!(status["description"], json!("plain \u{202e}desc"));
    // The stream's data too.
    let got = s.events(&format!("/api/v1/runs/{run}/events"));
    let mut output = None;
    while let Ok((event, _, data)) = got.recv_timeout(std::time::Duration::from_secs(30)) {
        if event == "event" && data.contains("output_recorded") {
            output = Some(data);
            break;
        }
    }
    let output = output.expect("the output's event is streamed");
    assert!(!output.contains('\u{202e}'), "{output}");
    let e: Value = serde_json::from_str(&output).unwrap();
    assert_eq!(e["body"]["value"], json!("a\u{202e}b"), "{e}");
}

#[test]
fn a_step_log_of_many_megabytes_is_streamed_raw_not_read_whole_into_one_json_answer() {
    let env = home();
    let doc = Doc::load();
    // 17 MiB of output: past the 8 MiB one JSON answer holds.
    env.workflow(
        "chatty",
        "name: chatty\nsteps:\n  - name: spew\n    run: \"yes 0123456789abcdef0123456789abcde | head -c 17825792\"\n  - name: quiet\n    run: echo hello\n",
    );
    let run = new_run(&env, "workflow", "chatty", 0);
    let s = Server::start(&env);
    // One JSON answer holds at most the last 8 MiB of output (the document is held whole):
    // the attempt is marked truncated, saying how much was left out.
    let r = s.get(&format!("/api/v1/runs/{run}/logs"));
    assert_eq!(r.status, 200);
    let body = r.json();
    doc.check("/api/v1/runs/{id}/logs", "get", 200, &body);
    let spew = &body["attempts"][0];
    assert_eq!(spew["truncated"], true, "{}", spew["step"]);
    let omitted = spew["omitted_bytes"].as_u64().unwrap();
    assert_eq!(
        omitted + spew["text"].as_str().unwrap().len() as u64,
        17825792
    );
    assert_eq!(body, env.run(&["--json", "logs", &run]).json());
    // A step of ordinary size still has its JSON twin.
    let quiet = s.get(&format!("/api/v1/runs/{run}/logs?step=quiet"));
    assert_eq!(
        quiet.json(),
        env.run(&["--json", "logs", &run, "quiet"]).json()
    );
    // The raw bytes, streamed: what `logs RUN STEP --raw` prints, with their length.
    let raw = s.get(&format!("/api/v1/runs/{run}/logs/spew/raw"));
    assert_eq!(raw.status, 200);
    assert_eq!(
        raw.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(raw.header("content-length"), Some("17825792"));
    assert_eq!(raw.body.len(), 17825792);
    assert_eq!(
        raw.body,
        env.run(&["logs", &run, "spew", "--raw"]).stdout,
        "the bytes of `logs --raw`"
    );
    let first = s.get(&format!("/api/v1/runs/{run}/logs/quiet/raw?attempt=1"));
    assert_eq!((first.status, first.body.as_str()), (200, "hello\n"));
    // A step or an attempt it does not have.
    let r = s.get(&format!("/api/v1/runs/{run}/logs/nope/raw"));
    assert_eq!(r.status, 404, "{}", r.body);
    doc.check("/api/v1/runs/{id}/logs/{step}/raw", "get", 404, &r.json());
    // An attempt it does not have is not found, as an unknown step (before: 400).
    let r = s.get(&format!("/api/v1/runs/{run}/logs/spew/raw?attempt=7"));
    assert_eq!(r.status, 404, "{}", r.body);
    assert!(r.body.contains("has no attempt 7"), "{}", r.body);
    doc.check("/api/v1/runs/{id}/logs/{step}/raw", "get", 404, &r.json());
    let r = s.get(&format!(
        "/api/v1/runs/{run}/logs/spew/raw?attempt=99999999999"
    ));
    assert_eq!(r.status, 404, "{}", r.body);
    // The run's page links each attempt's whole output there.
    let html = s.get(&format!("/runs/{run}")).body;
    assert!(
        html.contains(&format!(
            "href=\"/api/v1/runs/{run}/logs/spew/raw?attempt=1\""
        )),
        "the page links the raw output"
    );
}

#[test]
fn a_long_runs_timeline_says_it_draws_only_its_newest_attempts() {
    let env = home();
    let mut yaml = String::from("name: long\ndescription: Many phases in a row\nphases:\n");
    for i in 0..205 {
        let condition = if i == 0 {
            "auto".to_string()
        } else {
            format!("after:p{}", i - 1)
        };
        yaml.push_str(&format!(
            "  - name: p{i}\n    description: phase {i}\n    condition: \"{condition}\"\n    run: \"true\"\n"
        ));
    }
    std::fs::write(env.home().join("scenarios/long.yaml"), yaml).unwrap();
    let run = new_run(&env, "orchestrate", "long", 0);
    let s = Server::start(&env);
    let html = s.get(&format!("/runs/{run}")).body;
    assert!(
        html.contains("The newest 200 of 205 attempts"),
        "the first five attempts are left off the timeline without a word"
    );
    // Every phase still has its card.
    assert!(html.contains("id=\"step-204\"") && html.contains("data-step=\"p0\""));
}

#[test]
fn the_dashboard_api_and_event_stream_work_over_postgresql() {
    let Some(env) = Env::postgres("the_dashboard_api_and_event_stream_work_over_postgresql") else {
        return;
    };
    let env = stocked(env);
    let doc = Doc::load();
    let gate = new_run(&env, "orchestrate", "gate", 3);
    // The server reads the log the CLI writes (CORTEX_DB names the PostgreSQL schema).
    let s = Server::start(&env);
    twin(
        &s,
        &env,
        &doc,
        "/api/v1/runs/{id}",
        &format!("/api/v1/runs/{gate}"),
        &["orchestrate", "status", &gate],
    );
    let runs = s.get("/");
    assert_eq!(runs.status, 200);
    assert!(
        runs.body.contains(&format!("data-run=\"{gate}\"")),
        "the runs page lists it"
    );
    let page = s.get(&format!("/runs/{gate}"));
    assert_eq!(page.status, 200);
    assert!(page.body.contains("chain verified"), "the verify badge");
    // Live: the stream sends the run's events, then one recorded through the API.
    let logged = events(&env, &gate).len();
    let rx = s.events(&format!("/api/v1/runs/{gate}/events"));
    let mut seen = 0;
    while seen < logged {
        let (event, _, _) = rx
            .recv_timeout(std::time::Duration::from_secs(30))
            .expect("the run's events are streamed");
        seen += usize::from(event == "event");
    }
    let r = s.post(
        &format!("/api/v1/runs/{gate}/steps/plan/complete"),
        r#"{"message": "planned on pg"}"#,
    );
    assert!(r.status == 200 || r.status == 202, "{}", r.body);
    let news = loop {
        let (event, _, data) = rx
            .recv_timeout(std::time::Duration::from_secs(30))
            .expect("the report is streamed");
        if event == "event" {
            break serde_json::from_str::<Value>(&data).unwrap();
        }
    };
    assert_eq!(news["seq"], json!(logged));
    assert_eq!(news["body"]["by"]["actor"], json!(ACTOR), "{news}");
    assert_eq!(news, events(&env, &gate)[logged]);
}

/// A driver the server starts on a log whose URL holds a password is told the log in its
/// environment, not on its command line (which `ps` shows every user of the host): the step
/// reads its driver's command line and finds no password and no `--db`. Before, the
/// dashboard, the TUI and the scheduler passed `--db URL` as given.
#[test]
fn a_driver_started_by_the_server_has_no_password_on_its_command_line() {
    let Some(env) =
        Env::postgres("a_driver_started_by_the_server_has_no_password_on_its_command_line")
    else {
        return;
    };
    let url = env.pg.as_ref().unwrap().url.clone();
    let with_password = url.replacen("postgres://postgres@", "postgres://postgres:hunter2@", 1);
    assert_ne!(with_password, url, "the test URL names its user: {url}");
    env.workflow(
        "peek",
        "name: peek\nsteps:\n  - name: look\n    run: tr '\\000' ' ' < /proc/$PPID/cmdline\n",
    );
    let s = Server::start_also(&env, &["--db", &with_password]);
    let r = s.post("/api/v1/workflows/peek/runs", "{}");
    assert_eq!(r.status, 202, "{}", r.body);
    let run = r.json()["run_id"].as_str().unwrap().to_string();
    let done = settled(&s, &run);
    assert_eq!(done["status"], "completed", "{done}");
    let out = env.run(&["logs", &run, "look", "--raw"]);
    assert!(
        out.stdout.contains("workflow run"),
        "the driver's command line: {}",
        out.stdout
    );
    assert!(
        !out.stdout.contains("hunter2") && !out.stdout.contains("--db"),
        "the driver's command line shows the log: {}",
        out.stdout
    );
}

#[test]
fn a_sign_in_whose_next_holds_a_line_break_is_sent_home_not_answered_500() {
    let env = home();
    let s = Server::start(&env);
    let form = |next: &str| {
        s.post_with(
            "/login",
            &format!("token={TOKEN}&next={next}"),
            &[("content-type", "application/x-www-form-urlencoded")],
        )
    };
    // ureq follows the redirect: where it ended is the page it got.
    let split = form("/runs%0d%0aSet-Cookie:%20x=1");
    assert_eq!(split.status, 200, "{}", split.body);
    assert!(split.body.contains("<h1>Runs"), "sent to the runs page");
    assert!(
        split
            .header("set-cookie")
            .is_none_or(|c| !c.contains("x=1"))
    );
    // Sent on as given, accents and all (no 500): a parameter the catalog does not read is
    // then its 400 page, naming it, as every page's unknown parameter is.
    let accented = form("/catalog%3Fr%C3%A9sum%C3%A9");
    assert_eq!(accented.status, 400, "{}", accented.body);
    assert!(
        accented
            .body
            .contains("`résumé` is not a query parameter of the page /catalog"),
        "{}",
        accented.body
    );
}

#[test]
fn an_address_this_machine_does_not_have_is_not_blamed_on_another_process() {
    let env = home();
    // 192.0.2.1 is TEST-NET-1 (RFC 5737): documentation only, no machine's own address.
    let out = env.run(&["serve", "--addr", "192.0.2.1:0"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("192.0.2.1 is not an address of this machine"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("another process"), "{}", out.stderr);
}

/// A port another process listens on is the environment's doing, not a failed run: exit 2
/// (SPEC's exit codes), with what holds it and how to get past it. Before, exit 1.
#[test]
fn a_busy_port_exits_2_naming_the_process_that_holds_it() {
    let env = home();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = env.run(&["serve", "--addr", &addr]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains(&format!("cannot listen on {addr}")),
        "{}",
        out.stderr
    );
    // This test's own process holds it.
    assert!(
        out.stderr
            .contains(&format!("process {} (", std::process::id()))
            && out.stderr.contains("pick another --addr"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_step_started_from_the_dashboard_does_not_inherit_the_servers_token() {
    let env = home();
    env.workflow(
        "peek",
        "name: peek\nsteps:\n  - name: look\n    run: echo \"seen=${#CORTEX_SERVE_TOKEN}\"\n",
    );
    // The token given the way a service manager gives secrets: in the environment.
    let s = Server::start_with_vars(
        &env,
        &["--addr", "127.0.0.1:0"],
        &[("CORTEX_SERVE_TOKEN", TOKEN)],
    );
    let r = s.post("/api/v1/workflows/peek/runs", "{}");
    assert_eq!(r.status, 202, "{}", r.body);
    let run = r.json()["run_id"].as_str().unwrap().to_string();
    let done = settled(&s, &run);
    assert_eq!(done["status"], "completed", "{done}");
    // The step (and so any agent a step runs) could have approved its own work with it.
    let out = env.run(&["logs", &run, "look", "--raw"]);
    assert_eq!(out.stdout, "seen=0\n", "the step saw the server's token");
    // Nor does a notification command the server itself delivers (a report through the
    // API that pauses the run on a failure).
    let seen = env.project().join("notified");
    env.workflow(
        "told",
        &format!(
            "name: told\nsteps:\n  - name: write\n    prompt: Write it\nnotify:\n  on_failure:\n    - run: echo \"seen=${{#CORTEX_SERVE_TOKEN}}\" > {}\n",
            seen.display()
        ),
    );
    let told = new_run(&env, "workflow", "told", 3);
    let r = s.post(&format!("/api/v1/runs/{told}/steps/write/fail"), "{}");
    assert!(r.status == 200 || r.status == 202, "{}", r.body);
    let said = eventually(60, "the notification to be delivered", || {
        std::fs::read_to_string(&seen)
            .ok()
            .filter(|t| t.ends_with('\n'))
    });
    assert_eq!(
        said, "seen=0\n",
        "the notification command saw the server's token"
    );
}

#[test]
fn a_damaged_log_is_answered_500_with_a_hint_not_a_bare_error() {
    let env = home();
    env.run(&["workflow", "run", "review"]).assert_exit(3);
    // The log cut short, as a disk or a careless copy leaves it.
    let db = env.home().join("cortex.db");
    let bytes = std::fs::read(&db).unwrap();
    std::fs::write(&db, &bytes[..5000.min(bytes.len())]).unwrap();
    for side in ["cortex.db-wal", "cortex.db-shm"] {
        let _ = std::fs::remove_file(env.home().join(side));
    }
    let doc = Doc::load();
    let s = Server::start(&env);
    let r = s.get("/api/v1/runs");
    assert_eq!(r.status, 500, "{}", r.body);
    let body = r.json();
    doc.check("/api/v1/runs", "get", 500, &body);
    assert!(
        body["hints"].as_array().is_some_and(|h| !h.is_empty()),
        "a 500 without a hint: {body}"
    );
    let page = s.get("/");
    assert_eq!(page.status, 500);
    assert!(
        page.body.contains("hint: check that --home"),
        "{}",
        page.body
    );
}

// Over PostgreSQL the stream's log (a connection) was dropped on an async worker when the
// stream ended: the worker panicked ("Cannot start a runtime from within a runtime") and the
// client got none of the last events, nor `end`.
common::on_both_stores!(the_event_stream_sends_a_runs_events_then_each_new_one);

fn the_event_stream_sends_a_runs_events_then_each_new_one(env: Env) {
    let env = stocked(env);
    let run = new_run(&env, "orchestrate", "gate", 3);
    let s = Server::start(&env);
    let logged = events(&env, &run);
    let rx = s.events(&format!("/api/v1/runs/{run}/events"));
    let recv = || {
        rx.recv_timeout(std::time::Duration::from_secs(30))
            .expect("an event arrives")
    };
    let mut seen = Vec::new();
    while seen.len() < logged.len() {
        let (event, id, data) = recv();
        if event == "event" {
            let e: Value = serde_json::from_str(&data).unwrap();
            assert_eq!(id.as_deref(), Some(e["seq"].to_string().as_str()));
            seen.push(e);
        }
    }
    assert_eq!(
        seen, logged,
        "the stream starts with the run's events, as `log show` gives them"
    );
    // A change made from another terminal arrives on the stream.
    env.run(&["orchestrate", "complete", &run, "plan", "--no-drive"])
        .assert_exit(3);
    let news = loop {
        let (event, _, data) = recv();
        if event == "event" {
            break serde_json::from_str::<Value>(&data).unwrap();
        }
    };
    assert_eq!(news["seq"], json!(logged.len()));
    assert_eq!(news, events(&env, &run)[logged.len()]);
    // `after` starts past an event; a finished run's stream ends with `end`.
    env.run(&["orchestrate", "abort", &run]);
    let total = events(&env, &run).len();
    let rx = s.events(&format!("/api/v1/runs/{run}/events?after={}", total - 2));
    let mut got = Vec::new();
    loop {
        let (event, _, data) = rx.recv_timeout(std::time::Duration::from_secs(30)).unwrap();
        match event.as_str() {
            "event" => got.push(serde_json::from_str::<Value>(&data).unwrap()["seq"].clone()),
            "end" => break,
            _ => {}
        }
    }
    assert_eq!(got, vec![json!(total - 1)]);
    let bad = s.get(&format!("/api/v1/runs/{run}/events?after=x"));
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("query parameter `after`"), "{}", bad.body);
    // A reconnecting client's header is named as the header, not as the query parameter.
    let bad = s.get_with(
        &format!("/api/v1/runs/{run}/events"),
        &[("Last-Event-ID", "x")],
    );
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("`Last-Event-ID` header"), "{}", bad.body);
}

/// Every record of a stream until the server ends it (the channel closes), at most 30 s.
fn whole_stream(
    rx: std::sync::mpsc::Receiver<(String, Option<String>, String)>,
) -> Vec<(String, Option<String>)> {
    let until = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let mut got = Vec::new();
    loop {
        let left = until.saturating_duration_since(std::time::Instant::now());
        match rx.recv_timeout(left) {
            Ok((event, id, _)) => got.push((event, id)),
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return got,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                panic!("the stream did not end; so far: {got:?}")
            }
        }
    }
}

#[test]
fn a_reconnecting_stream_resumes_at_last_event_id_and_a_sealed_runs_stream_ends_at_once() {
    let env = home();
    let run = new_run(&env, "orchestrate", "gate", 3);
    env.run(&["orchestrate", "abort", &run]);
    let total = events(&env, &run).len();
    let s = Server::start(&env);
    let path = format!("/api/v1/runs/{run}/events");
    let sent = |got: &[(String, Option<String>)]| -> Vec<String> {
        got.iter()
            .filter(|(e, _)| e == "event")
            .filter_map(|(_, id)| id.clone())
            .collect()
    };
    // An EventSource reconnects to the address it was given (the page's `?after=` its first
    // render) with the seq it last received: the events in between were sent already.
    let last = (total - 2).to_string();
    let got = whole_stream(s.events_with(&format!("{path}?after=0"), &[("Last-Event-ID", &last)]));
    assert_eq!(sent(&got), vec![(total - 1).to_string()], "{got:?}");
    assert_eq!(got.last().map(|(e, _)| e.as_str()), Some("end"));
    // Reconnecting after `end` (an EventSource does, unless closed), or starting past the
    // seal: nothing will come, so no stream that waits forever but a 204, on which an
    // EventSource stops reconnecting.
    let seal = (total - 1).to_string();
    for r in [
        s.get_with(&path, &[("Last-Event-ID", &seal)]),
        s.get(&format!("{path}?after={seal}")),
    ] {
        assert_eq!(r.status, 204, "{}", r.body);
        assert_eq!(r.body, "");
    }
}

#[test]
fn off_loopback_every_request_needs_the_token_and_one_is_generated() {
    let env = home();
    // Bound to every interface, reached through loopback only.
    let s = Server::start_with(&env, &["--addr", "0.0.0.0:0"]);
    let base = s.base.replace("0.0.0.0", "127.0.0.1");
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let r = agent.get(format!("{base}/api/v1/runs")).call().unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let r = agent.get(format!("{base}/")).call().unwrap();
    assert_eq!(r.status().as_u16(), 401);
    // A short token is refused before anything listens.
    let out = env.run(&["serve", "--addr", "127.0.0.1:0", "--token", "short"]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("too short"), "{}", out.stderr);
    // An empty CORTEX_SERVE_TOKEN is said to be empty, naming where a token comes from.
    let out = env.run_with(
        &["serve", "--addr", "127.0.0.1:0"],
        &[("CORTEX_SERVE_TOKEN", "")],
    );
    assert_eq!(out.code, 2);
    assert!(
        out.stderr
            .contains("the token (--token, or CORTEX_SERVE_TOKEN) is empty"),
        "{}",
        out.stderr
    );
}

/// Off loopback with the token given in CORTEX_SERVE_TOKEN (no sign-in address printed), a
/// browser is asked for the token: the 401 page carries the sign-in form, `GET /login` shows
/// it, a sign-in through it sets the cookie, and no hint speaks of a printed `?token=`.
/// Before, every page was a 401 without a form whose hint named an address never printed.
#[test]
fn a_browser_off_loopback_with_a_given_token_is_offered_the_sign_in_form() {
    let env = home();
    let s = Server::start_with_vars(
        &env,
        &["--addr", "0.0.0.0:0"],
        &[("CORTEX_SERVE_TOKEN", TOKEN)],
    );
    let base = s.base.replace("0.0.0.0", "127.0.0.1");
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into();
    let get = |path: &str| {
        let mut r = agent
            .get(format!("{base}{path}"))
            .header("accept", "text/html")
            .call()
            .unwrap();
        let body = r.body_mut().read_to_string().unwrap();
        (r.status().as_u16(), body)
    };
    let (status, page) = get("/runs?x=1");
    assert_eq!(status, 401, "{page}");
    assert!(
        page.contains("action=\"/login\""),
        "no sign-in form: {page}"
    );
    assert!(page.contains("name=\"next\" value=\"/runs?x=1\""), "{page}");
    assert!(page.contains("CORTEX_SERVE_TOKEN"), "{page}");
    assert!(!page.contains("carries ?token"), "{page}");
    let (status, page) = get("/login");
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("action=\"/login\""), "{page}");
    let (status, _) = get("/assets/app.css");
    assert_eq!(status, 200, "the sign-in page's stylesheet");
    let login = |token: &str| {
        let mut r = agent
            .post(format!("{base}/login"))
            .header("content-type", "application/x-www-form-urlencoded")
            .send(format!("token={token}&next=%2Fcatalog"))
            .unwrap();
        let cookie = r
            .headers()
            .get("set-cookie")
            .map(|v| v.to_str().unwrap().to_string());
        let location = r
            .headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_string());
        (
            r.status().as_u16(),
            cookie,
            location,
            r.body_mut().read_to_string().unwrap(),
        )
    };
    let (status, cookie, location, _) = login(TOKEN);
    assert!((300..400).contains(&status), "{status}");
    assert!(cookie.is_some(), "no cookie set");
    assert!(
        location
            .as_deref()
            .is_some_and(|l| l.starts_with("/catalog#cortex-key=")),
        "{location:?}"
    );
    let (status, cookie, _, page) = login("not-the-token-0123456789");
    assert_eq!(status, 401, "{page}");
    assert!(cookie.is_none());
    assert!(
        page.contains("name=\"next\" value=\"/catalog\""),
        "asked again: {page}"
    );
    // The API's refusal names a header, and nothing printed it did not print.
    let mut r = agent.get(format!("{base}/api/v1/runs")).call().unwrap();
    assert_eq!(r.status().as_u16(), 401);
    let body = r.body_mut().read_to_string().unwrap();
    assert!(
        body.contains("Authorization: Bearer TOKEN") && !body.contains("carries ?token"),
        "{body}"
    );
    // What `cortex serve` printed says the same.
    let lines = first_lines(&env, &["serve", "--addr", "0.0.0.0:0", "--token", TOKEN], 2);
    assert!(
        lines[1].contains("sign in with the token given in --token or CORTEX_SERVE_TOKEN"),
        "{lines:?}"
    );
}

/// A token that is not the server's is said to be wrong, wherever it was given (a header,
/// the sign-in cookie, the address, a form's field), never "missing" to a client sending one.
#[test]
fn a_wrong_token_is_said_to_be_wrong_not_missing() {
    let env = home();
    let run = new_run(&env, "orchestrate", "gate", 3);
    let s = Server::start_also(&env, &["--public-url", "http://127.0.0.1:1"]);
    let wrong = "wrong-token-0123456789abcdef";
    let port = s.base.rsplit(':').next().unwrap().to_string();
    let said = |r: server::Resp, where_: &str| {
        assert_eq!(r.status, 401, "{}", r.body);
        assert!(
            r.body
                .contains(&format!("the token given {where_} is not this server")),
            "{where_}: {}",
            r.body
        );
        assert!(!r.body.contains("needs"), "{}", r.body);
    };
    let header = format!("Bearer {wrong}");
    said(
        s.get_with("/api/v1/runs", &[("authorization", &header)]),
        "in the `Authorization` (or `X-Cortex-Token`) header",
    );
    said(
        s.post_with(
            &format!("/api/v1/runs/{run}/steps/ship/start"),
            "{}",
            &[
                ("authorization", &header),
                ("content-type", "application/json"),
            ],
        ),
        "in the `Authorization` (or `X-Cortex-Token`) header",
    );
    let r = s.get_with(
        "/",
        &[("cookie", &format!("cortex_session_{port}={wrong}"))],
    );
    assert_eq!(r.status, 401, "{}", r.body);
    assert!(
        r.body
            .contains("this browser&#39;s sign-in is not one of this server&#39;s")
            || r.body
                .contains("this browser's sign-in is not one of this server's"),
        "{}",
        r.body
    );
    said(
        s.get(&format!("/?token={wrong}")),
        "in the address (`?token=`)",
    );
    said(
        s.post_with(
            &format!("/runs/{run}/steps/ship/start"),
            &format!("token={wrong}&message="),
            &[("content-type", "application/x-www-form-urlencoded")],
        ),
        "in the form's `token` field",
    );
    // None given is still said to be missing.
    let r = s.get("/api/v1/runs");
    assert!(r.body.contains("needs its token"), "{}", r.body);
}

/// An event changed so that it no longer decodes (`"end":"exited"` → `"EXITED"`) does not turn
/// the run's page and status into a 500: the page shows what it can with `✗ not verified`
/// naming the bad event, and the API answers 409 with the reason `verify` gives. Before, both
/// were a 500 "cannot be read: ... unknown variant".
#[test]
fn an_event_that_no_longer_decodes_is_shown_not_verified_not_answered_500() {
    let env = home();
    let doc = Doc::load();
    env.run(&["workflow", "run", "ship", "--input", "version=1.0.0"])
        .assert_exit(0);
    let run = newest_run(&env, "workflow");
    let db = rusqlite::Connection::open(env.home().join("cortex.db")).unwrap();
    let seq: i64 = db
        .query_row(
            "SELECT seq FROM events WHERE run_id = ?1 AND body LIKE '%\"end\":\"exited\"%' ORDER BY seq LIMIT 1",
            [&run],
            |r| r.get(0),
        )
        .unwrap();
    db.execute_batch(&format!(
        "DROP TRIGGER events_append_only_update; UPDATE events SET body = replace(body, '\"end\":\"exited\"', '\"end\":\"EXITED\"') WHERE run_id = '{run}' AND seq = {seq};"
    ))
    .unwrap();
    drop(db);
    let s = Server::start(&env);
    let verify = s.get(&format!("/api/v1/runs/{run}/verify")).json();
    assert_eq!(verify["ok"], false, "{verify}");
    let page = s.get(&format!("/runs/{run}"));
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("not verified"), "{}", page.body);
    assert!(
        page.body
            .contains(&format!("The stored event {seq} cannot be read")),
        "the bad event is not named: {}",
        page.body
    );
    assert!(page.body.contains("<h2>Steps"), "{}", page.body);
    let status = s.get(&format!("/api/v1/runs/{run}"));
    assert_eq!(status.status, 409, "{}", status.body);
    let body = status.json();
    doc.check("/api/v1/runs/{id}", "get", 409, &body);
    let error = body["error"].as_str().unwrap();
    assert!(
        error.contains(&format!("#{seq}")) && error.contains("unknown variant"),
        "{body}"
    );
    assert!(
        body["hints"][0]
            .as_str()
            .unwrap()
            .contains(&format!("cortex log verify {run}")),
        "{body}"
    );
}

/// The head of the answer on `stream` (up to its blank line, or as far as the connection
/// gave), read a byte at a time so that nothing of the body is taken.
fn read_head(stream: &mut std::net::TcpStream) -> String {
    use std::io::Read;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&head).into_owned()
}

/// A socket that asked for `path` and read the answer's head, then reads no more: a client
/// that stalls. Its status code, and the head.
fn stalled_get(s: &Server, path: &str) -> (std::net::TcpStream, u16, String) {
    use std::io::Write;
    let addr = s.base.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n\r\n"
    )
    .unwrap();
    let head = read_head(&mut stream);
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (stream, status, head)
}

/// At most 64 event streams are open at once: one more is refused with 503, `Retry-After`
/// and a hint, and a place comes back when a client goes. Before, every stalled client kept
/// its stream, and each held its run's whole event stream, read at once.
#[test]
fn event_streams_past_the_cap_are_refused_503_with_retry_after() {
    let env = home();
    let run = new_run(&env, "orchestrate", "gate", 3);
    let s = Server::start(&env);
    let path = format!("/api/v1/runs/{run}/events");
    let mut open = Vec::new();
    for _ in 0..64 {
        let (stream, status, head) = stalled_get(&s, &path);
        assert_eq!(status, 200, "{head}");
        open.push(stream);
    }
    let r = s.get(&path);
    assert_eq!(r.status, 503, "{}", r.body);
    assert_eq!(r.header("retry-after"), Some("5"), "{:?}", r.headers);
    let doc = Doc::load();
    let body = r.json();
    doc.check("/api/v1/runs/{id}/events", "get", 503, &body);
    assert!(
        body["error"].as_str().unwrap().contains("64 event streams"),
        "{body}"
    );
    assert!(!body["hints"].as_array().unwrap().is_empty(), "{body}");
    let r = s.get("/api/v1/runs/changes");
    assert_eq!(r.status, 503, "the runs' signal shares the cap");
    // A client that goes gives its place back.
    for stream in open.drain(..4) {
        let _ = stream.shutdown(std::net::Shutdown::Both);
    }
    eventually(60, "a place for a new stream", || {
        let (stream, status, _) = stalled_get(&s, &path);
        (status == 200).then_some(stream)
    });
}

/// A bare socket to the server with a read deadline of `secs`.
fn raw_socket(s: &Server, secs: u64) -> std::net::TcpStream {
    let stream = std::net::TcpStream::connect(s.base.trim_start_matches("http://")).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(secs)))
        .unwrap();
    stream
}

/// Whether the server closed `stream` (end of file, or reset) rather than answer within the
/// socket's read deadline; what it answered before counts for nothing.
fn closed_by_server(stream: &mut std::net::TcpStream) -> bool {
    use std::io::{ErrorKind, Read};
    let mut chunk = [0u8; 4096];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return false;
            }
            Err(_) => return true,
        }
    }
}

/// A connection that sends nothing, one that trickles its request's head a header at a time,
/// and a kept-alive one idle after its answer are each closed once `--header-timeout` passes;
/// an event stream opened before is not (its request was read: it lives as long as its
/// client). Before, `cortex serve` held all three for good, before any token was asked for,
/// and enough of them left it answering nothing (`ulimit -n`).
#[test]
fn a_connection_without_a_whole_request_head_is_closed_after_the_header_timeout() {
    use std::io::Write;
    let env = home();
    let run = new_run(&env, "orchestrate", "gate", 3);
    let s = Server::start_also(&env, &["--header-timeout", "1"]);
    let stream = s.events(&format!("/api/v1/runs/{run}/events"));
    let before = events(&env, &run).len();
    let mut seen = 0;
    while seen < before {
        let (event, _, _) = stream
            .recv_timeout(std::time::Duration::from_secs(30))
            .expect("the stream sends the run's events");
        seen += usize::from(event == "event");
    }
    // Generous deadlines: each socket is closed long before, or the server never closes it.
    let mut silent = raw_socket(&s, 60);
    let mut trickling = raw_socket(&s, 60);
    let host = s.base.trim_start_matches("http://").to_string();
    write!(trickling, "GET /api/v1/runs HTTP/1.1\r\nHost: {host}\r\n").unwrap();
    let mut writer = trickling.try_clone().unwrap();
    let trickle = std::thread::spawn(move || {
        // A header every 200 ms, never the blank line that ends the head, until the server
        // closes the connection (or a minute passes).
        for _ in 0..300 {
            if writer.write_all(b"X-Slow: a\r\n").is_err() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
    });
    let mut idle = raw_socket(&s, 60);
    write!(
        idle,
        "GET /api/v1/runs?limit=1 HTTP/1.1\r\nHost: {host}\r\n\r\n"
    )
    .unwrap();
    let head = read_head(&mut idle);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        closed_by_server(&mut silent),
        "a silent connection is closed"
    );
    assert!(
        closed_by_server(&mut trickling),
        "a connection trickling its head is closed"
    );
    assert!(
        closed_by_server(&mut idle),
        "a kept-alive connection idle past the timeout is closed"
    );
    let _ = trickle.join();
    // The stream, open for longer than the timeout, still carries what is appended now.
    env.run(&["orchestrate", "complete", &run, "plan", "--no-drive"])
        .assert_exit(3);
    loop {
        let (event, _, _) = stream
            .recv_timeout(std::time::Duration::from_secs(30))
            .expect("the event stream outlives the header timeout");
        if event == "event" {
            break;
        }
    }
    assert_eq!(s.get("/api/v1/runs").status, 200, "the server answers on");
}

/// A request whose body does not come (a head promising `Content-Length: 10`, then
/// nothing), or comes a byte at a time, is answered 408 once `--body-timeout` passes and its
/// connection closed — the sign-in form, which is read before any token is asked for, and an
/// API change with the token alike — so as many of them as `--max-connections` no longer
/// hold the server: a normal request is answered once the deadline passes. A change without
/// the token is still refused at once (401), its body never waited for. Before, the body had
/// no deadline: eight body-less `POST /login` heads held a `--max-connections 8` server at
/// 503 for good.
#[test]
fn stalled_request_bodies_are_answered_408_and_do_not_hold_the_server() {
    use std::io::Write;
    let env = home();
    let run = new_run(&env, "orchestrate", "gate", 3);
    let s = Server::start_also(
        &env,
        &[
            "--max-connections",
            "6",
            "--header-timeout",
            "600",
            "--body-timeout",
            "2",
        ],
    );
    let host = s.base.trim_start_matches("http://").to_string();
    let sign_in = format!(
        "POST /login HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 10\r\n\r\n"
    );
    let change = format!(
        "POST /api/v1/runs/{run}/abort HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {TOKEN}\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n"
    );
    // Without the token: refused before its body is read, as before.
    let mut unsigned = raw_socket(&s, 60);
    write!(
        unsigned,
        "POST /api/v1/runs/{run}/abort HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: 10\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let head = read_head(&mut unsigned);
    assert!(head.starts_with("HTTP/1.1 401"), "{head}");
    // Its place is given back once the server has closed it.
    assert!(closed_by_server(&mut unsigned));
    // Six connections, the cap: four sign-ins with no body, a change with none, and a
    // sign-in trickling its body a byte every 200 ms.
    let mut stalled: Vec<_> = (0..5)
        .map(|i| {
            let mut c = raw_socket(&s, 60);
            let head = if i == 4 { &change } else { &sign_in };
            c.write_all(head.as_bytes()).unwrap();
            (c, i == 4)
        })
        .collect();
    let mut trickling = raw_socket(&s, 60);
    trickling
        .write_all(
            sign_in
                .replace("Content-Length: 10", "Content-Length: 1000")
                .as_bytes(),
        )
        .unwrap();
    let mut writer = trickling.try_clone().unwrap();
    let trickle = std::thread::spawn(move || {
        for _ in 0..300 {
            if writer.write_all(b"a").is_err() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
    });
    stalled.push((trickling, false));
    for (c, api) in &mut stalled {
        let head = read_head(c);
        assert!(head.starts_with("HTTP/1.1 408"), "{head}");
        assert!(
            head.to_ascii_lowercase().contains("connection: close"),
            "{head}"
        );
        let kind = if *api {
            "application/json"
        } else {
            "text/html"
        };
        assert!(head.contains(kind), "{head}");
        assert!(
            closed_by_server(c),
            "a connection whose body stalled is closed"
        );
    }
    let _ = trickle.join();
    eventually(
        60,
        "an answer once the stalled bodies' deadline passed",
        || {
            let r = s.request("GET", "/api/v1/runs", false);
            (r.status == 200).then_some(())
        },
    );
    // What an API client is told, and nothing was recorded: the run was not aborted.
    let mut c = raw_socket(&s, 60);
    c.write_all(change.as_bytes()).unwrap();
    let head = read_head(&mut c);
    assert!(head.contains("x-cortex-exit-code: 1"), "{head}");
    let mut body = String::new();
    let _ = std::io::Read::read_to_string(&mut c, &mut body);
    let doc: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(
        doc["error"]
            .as_str()
            .unwrap()
            .contains("did not arrive within 2 s of its headers (--body-timeout)"),
        "{doc}"
    );
    assert!(!doc["hints"].as_array().unwrap().is_empty(), "{doc}");
    let status = env.run(&["--json", "orchestrate", "status", &run]).json();
    assert_ne!(status["status"], "aborted", "{status}");
}

/// A report that meets the log's write lock held by another process past the store's wait
/// is answered 503 with `Retry-After` and a hint to send the same request again (the CLI's
/// error suggests the same command in `next`); sent again once the lock is let go, it is
/// recorded. Before, the 503 said "try again" with no time to wait and nothing of the request.
#[test]
fn a_report_refused_for_a_locked_log_is_503_with_retry_after() {
    let env = home();
    let run = new_run(&env, "orchestrate", "gate", 3);
    let s = Server::start(&env);
    let doc = Doc::load();
    let path = format!("/api/v1/runs/{run}/steps/plan/complete");
    let mut lock = common::LogLock::take(&env);
    let r = s.post(&path, "{}");
    lock.release();
    assert_eq!(r.status, 503, "{}", r.body);
    assert_eq!(r.header("retry-after"), Some("5"), "{:?}", r.headers);
    assert_eq!(r.exit_code(), 4);
    let error = r.json();
    assert!(
        error["hints"]
            .to_string()
            .contains("send the same request again in 5 s (`Retry-After`)"),
        "{error}"
    );
    doc.check(
        "/api/v1/runs/{id}/steps/{step}/complete",
        "post",
        503,
        &error,
    );
    // The report again in `next`, as the CLI's error has it: the operation's own command
    // (the run by its id, recorded only, with the server's actor), from the same mechanism.
    let argv: Vec<String> = serde_json::from_value(error["next"][0]["argv"].clone())
        .unwrap_or_else(|_| panic!("a `next`: {error}"));
    let at = argv.iter().position(|a| a == "orchestrate").unwrap();
    assert_eq!(
        argv[at..],
        [
            "orchestrate",
            "complete",
            &run,
            "plan",
            "--no-drive",
            "--actor",
            ACTOR
        ],
        "{error}"
    );
    let r = s.post(&path, "{}");
    assert!(r.status < 300, "{}", r.body);
}

/// A form of the dashboard refused for the log's write lock held by another process (503,
/// nothing recorded) says to send it again and shows the operation's own command again — the
/// `next` the API's and the CLI's errors carry — every value it quotes escaped, and an output
/// whose key looks secret a placeholder, never echoed. Before, the page gave the error's hints
/// and nothing to go on with. Sent again once the lock is let go, the report is recorded.
#[test]
fn a_form_refused_for_a_locked_log_shows_the_command_again_escaped_and_without_its_secrets() {
    let env = home();
    let run = new_run(&env, "workflow", "review", 3);
    let s = Server::start(&env);
    let form = |message: &str| {
        form_urlencoded::Serializer::new(String::new())
            .append_pair("token", TOKEN)
            .append_pair("message", message)
            .append_pair("outputs", "notes=<b>bold</b>\napi_token=s3cr3t-page")
            .finish()
    };
    let path = format!("/runs/{run}/steps/write/complete");
    let form_type = [("content-type", "application/x-www-form-urlencoded")];
    let mut lock = common::LogLock::take(&env);
    let r = s.post_with(&path, &form("<script>alert(1)</script>"), &form_type);
    lock.release();
    assert_eq!(r.status, 503, "{}", r.body);
    let page = &r.body;
    assert!(page.starts_with("<!DOCTYPE html>"), "{page}");
    assert!(page.contains("send the form again"), "{page}");
    assert!(!page.contains("s3cr3t-page"), "{page}");
    assert!(!page.contains("<script>alert"), "{page}");
    assert!(!page.contains("<b>bold"), "{page}");
    assert!(
        page.contains("workflow step complete write --run"),
        "{page}"
    );
    assert!(
        page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{page}"
    );
    assert!(page.contains("notes=&lt;b&gt;bold&lt;/b&gt;"), "{page}");
    assert!(page.contains("api_token=VALUE"), "{page}");
    assert!(page.contains("--output api_token"), "{page}");
    assert_eq!(
        env.status(Some(&run))["steps"][0]["status"],
        "waiting",
        "nothing recorded"
    );
    let r = s.post_with(&path, &form("sent again"), &form_type);
    assert!(r.status < 400, "{}: {}", r.status, r.body);
    assert_eq!(env.status(Some(&run))["steps"][0]["status"], "completed");
}

/// A connection the server holds: it answered a whole request on it (200, so it was not
/// turned away), then was sent half of the next request's head and no more. None if the
/// server turned it away (503).
fn held_connection(s: &Server) -> Option<std::net::TcpStream> {
    use std::io::{Read, Write};
    let host = s.base.trim_start_matches("http://").to_string();
    let mut c = raw_socket(s, 60);
    write!(
        c,
        "GET /api/v1/runs?limit=1 HTTP/1.1\r\nHost: {host}\r\n\r\n"
    )
    .ok()?;
    let head = read_head(&mut c).to_ascii_lowercase();
    if !head.starts_with("http/1.1 200") {
        return None;
    }
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|n| n.trim().parse().ok())
        .expect("a length");
    let mut body = vec![0u8; length];
    c.read_exact(&mut body).ok()?;
    write!(c, "GET /api/v1/runs HTTP/1.1\r\nHost: {host}\r\n").ok()?;
    Some(c)
}

/// At most `--max-connections` connections are held: one more is answered 503 with
/// `Retry-After` and an error document, then closed, and the server answers again once one
/// goes. Event streams take at most half of them. Before, connections were not counted: 300
/// clients holding half-sent requests under `ulimit -n 256` left `/api/v1/runs` unanswered.
#[test]
fn connections_past_the_cap_are_turned_away_503_and_the_server_answers_once_one_goes() {
    let env = home();
    let run = new_run(&env, "orchestrate", "gate", 3);
    let s = Server::start_also(&env, &["--max-connections", "6", "--header-timeout", "600"]);
    // Half of 6 for streams: a fourth is refused while three are open.
    let path = format!("/api/v1/runs/{run}/events");
    let streams: Vec<_> = (0..3)
        .map(|_| {
            let (stream, status, head) = stalled_get(&s, &path);
            assert_eq!(status, 200, "{head}");
            stream
        })
        .collect();
    let r = s.request("GET", &path, false);
    assert_eq!(r.status, 503, "{}", r.body);
    assert!(r.body.contains("3 event streams"), "{}", r.body);
    for stream in streams {
        let _ = stream.shutdown(std::net::Shutdown::Both);
    }
    // Six clients each holding a connection with half a request head sent hold them all (a
    // new one may be turned away until the streams' connections are given back).
    let mut held = Vec::new();
    while held.len() < 6 {
        held.push(eventually(60, "a connection the server holds", || {
            held_connection(&s)
        }));
    }
    let r = s.request("GET", "/api/v1/runs", true);
    assert_eq!(r.status, 503, "{}", r.body);
    assert_eq!(r.header("retry-after"), Some("5"), "{:?}", r.headers);
    assert_eq!(r.exit_code(), 1);
    let body = r.json();
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("6 connections are open"),
        "{body}"
    );
    assert!(
        body["hints"][0]
            .as_str()
            .unwrap()
            .contains("--max-connections"),
        "{body}"
    );
    // One goes: the server answers again.
    drop(held.pop());
    eventually(60, "an answer once a connection went", || {
        let r = s.request("GET", "/api/v1/runs", false);
        (r.status == 200).then_some(())
    });
}

/// A page's query is held to the parameters the page reads, as the API's is (one rule, from
/// the route table): an unknown one, or one that is not UTF-8, is a 400 page naming it and
/// those the page reads. Before, pages ignored them (`?event=all` showed the page without the
/// events asked for, saying nothing). What the pages' own links and forms write still passes.
#[test]
fn a_page_answers_an_unknown_or_non_utf8_query_parameter_with_a_400_page_naming_it() {
    let env = home();
    let run = new_run(&env, "orchestrate", "gate", 3);
    let s = Server::start(&env);
    let r = s.request("GET", "/?knd=workflow", true);
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("<html"), "{}", r.body);
    assert!(
        r.body
            .contains("`knd` is not a query parameter of the page /"),
        "{}",
        r.body
    );
    assert!(r.body.contains("it takes `kind`, `before`"), "{}", r.body);
    let r = s.request("GET", &format!("/runs/{run}?event=all"), true);
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("it takes `events`, `at`"), "{}", r.body);
    let r = s.request("GET", &format!("/runs/{run}?events=%ff%fe"), true);
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(
        r.body.contains("the value of `events` is not UTF-8"),
        "{}",
        r.body
    );
    let r = s.request("GET", "/catalog?x=1", true);
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("it takes none"), "{}", r.body);
    // What the pages themselves write.
    for ok in [
        "/?kind=workflow".to_string(),
        format!("/runs/{run}?events=all"),
        format!("/runs/{run}?at=1"),
        "/catalog/scenarios/gate?input.who=me".to_string(),
        "/login?next=%2F".to_string(),
    ] {
        let r = s.request("GET", &ok, true);
        assert!(r.status != 400, "{ok}: {}", r.body);
    }
}

/// `--max-connections` above the process's open-file limit (`ulimit -n`) was taken silently,
/// a cap never reached before `accept` fails. It is refused as bad input (exit 2) before the
/// server starts, naming the limit and how to raise it.
#[test]
fn max_connections_above_the_open_file_limit_is_refused_before_the_server_starts() {
    use std::os::unix::process::CommandExt;
    let env = home();
    let mut cmd = env.command(&[
        "serve",
        "--addr",
        "127.0.0.1:0",
        "--max-connections",
        "5000",
    ]);
    // Safety: setrlimit between fork and exec touches nothing but this process's limit.
    unsafe {
        cmd.pre_exec(|| {
            let limit = nix::libc::rlimit {
                rlim_cur: 256,
                rlim_max: 256,
            };
            if nix::libc::setrlimit(nix::libc::RLIMIT_NOFILE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--max-connections 5000 is above what this process's open-file limit (256"),
        "{stderr}"
    );
    assert!(stderr.contains("ulimit -n 10000"), "{stderr}");
}

/// A run of more events than a stream reads at a time (64) is streamed whole, in order, then
/// `end`: the stream reads the log a page at a time, each once the last was taken.
#[test]
fn a_runs_stream_is_read_a_page_at_a_time_and_sends_every_event_in_order() {
    let env = home();
    let mut yaml = String::from("name: many\nsteps:\n");
    for i in 0..120 {
        yaml.push_str(&format!("  - name: s{i}\n    run: 'true'\n"));
    }
    env.workflow("many", &yaml);
    let run = new_run(&env, "workflow", "many", 0);
    let logged = events(&env, &run);
    assert!(logged.len() > 300, "{} events", logged.len());
    let s = Server::start(&env);
    let rx = s.events(&format!("/api/v1/runs/{run}/events"));
    let mut seqs = Vec::new();
    let mut ended = false;
    while let Ok((event, id, _)) = rx.recv_timeout(std::time::Duration::from_secs(30)) {
        match event.as_str() {
            "event" => seqs.push(id.unwrap().parse::<u64>().unwrap()),
            "end" => ended = true,
            _ => {}
        }
    }
    assert!(ended, "no `end`");
    assert_eq!(seqs, (0..logged.len() as u64).collect::<Vec<_>>());
}

/// The sign-in cookie carries a random value of its own, never the token: cookies are not kept
/// apart by port, so every other listener on the host is sent them. It signs the browser in;
/// the token itself in the cookie does not, and a sign-in ends with the server.
#[test]
fn the_sign_in_cookie_never_carries_the_token() {
    let env = home();
    let s = Server::start_also(&env, &["--public-url", "http://127.0.0.1:1"]);
    let cookie = sign_in_cookie(&s);
    assert!(
        !cookie.contains(TOKEN),
        "the cookie carries the token: {cookie}"
    );
    let (name, value) = cookie.split_once('=').unwrap();
    assert!(value.len() >= 32, "{cookie}");
    assert_eq!(
        s.get_with("/api/v1/runs", &[("cookie", &cookie)]).status,
        200
    );
    assert_ne!(
        sign_in_cookie(&s),
        cookie,
        "every sign-in has its own value"
    );
    let token_cookie = format!("{name}={TOKEN}");
    assert_eq!(
        s.get_with("/api/v1/runs", &[("cookie", &token_cookie)])
            .status,
        401
    );
    // Another server (or the same started again) does not know it.
    drop(s);
    let s = Server::start_also(&env, &["--public-url", "http://127.0.0.1:1"]);
    let port = s.base.rsplit(':').next().unwrap();
    let again = format!("cortex_session_{port}={value}");
    assert_eq!(
        s.get_with("/api/v1/runs", &[("cookie", &again)]).status,
        401
    );
}

/// Start workflow `name` through the API with the input `api_token` = `secret`; its run id.
fn start_with_api_token(s: &Server, name: &str, secret: &str) -> String {
    let r = s.post(
        &format!("/api/v1/workflows/{name}/runs"),
        &format!(r#"{{"inputs": {{"api_token": "{secret}"}}}}"#),
    );
    assert_eq!(r.status, 202, "{}", r.body);
    r.json()["run_id"].as_str().unwrap().to_string()
}

/// A secret input given to the API reaches its background driver through the environment:
/// never the log, the derived files, the driver's output, a page or the API.
#[test]
fn a_secret_input_given_to_the_api_stays_out_of_the_log_and_the_pages() {
    let env = home();
    env.workflow(
        "secretive",
        "name: secretive\ninputs:\n  api_token: {type: string, required: true}\nsteps:\n  - name: use\n    run: echo using ${{ inputs.api_token }}\n",
    );
    let secret = "s3cr3t-from-the-web-4242";
    let s = Server::start(&env);
    let run = start_with_api_token(&s, "secretive", secret);
    let done = settled(&s, &run);
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["inputs"]["api_token"], "***");
    for path in [
        format!("/runs/{run}"),
        format!("/api/v1/runs/{run}/log"),
        "/".into(),
    ] {
        assert!(
            !s.get(&path).body.contains(secret),
            "{path} shows the secret"
        );
    }
    let mut files = vec![env.home()];
    while let Some(dir) = files.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                files.push(path);
            } else {
                let bytes = std::fs::read(&path).unwrap();
                assert!(
                    !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                    "{} holds the secret",
                    path.display()
                );
            }
        }
    }
}

/// Every POST body is read the one way: a JSON object, or nothing. An array (which serde would
/// read as the fields in order), `null`, a string, a number is a 400 — no run started, nothing
/// recorded.
#[test]
fn a_post_body_that_is_not_a_json_object_is_refused_and_records_nothing() {
    let env = home();
    let doc = Doc::load();
    let run = new_run(&env, "workflow", "review", 3);
    let s = Server::start(&env);
    let history = |group: &str| {
        env.run(&["--json", group, "history"]).json()["runs"]
            .clone()
            .as_array()
            .map_or(0, Vec::len)
    };
    let before = (
        history("workflow"),
        history("orchestrate"),
        events(&env, &run).len(),
    );
    let targets = [
        (
            "/api/v1/workflows/review/runs".to_string(),
            "/api/v1/workflows/{name}/runs",
        ),
        (
            "/api/v1/scenarios/gate/runs".to_string(),
            "/api/v1/scenarios/{name}/runs",
        ),
        (
            format!("/api/v1/runs/{run}/steps/write/complete"),
            "/api/v1/runs/{id}/steps/{step}/complete",
        ),
        (
            format!("/api/v1/runs/{run}/steps/write/fail"),
            "/api/v1/runs/{id}/steps/{step}/fail",
        ),
        (
            format!("/api/v1/runs/{run}/resume"),
            "/api/v1/runs/{id}/resume",
        ),
        (
            format!("/api/v1/runs/{run}/abort"),
            "/api/v1/runs/{id}/abort",
        ),
    ];
    for body in [
        "[]",
        "[{}]",
        r#"[{"a": "b"}, "msg"]"#,
        "null",
        r#""s""#,
        "1",
        " true",
    ] {
        for (path, template) in &targets {
            let r = s.post(path, body);
            assert_eq!(r.status, 400, "{body} to {path}: {}", r.body);
            let answer = r.json();
            assert!(
                answer["error"].as_str().unwrap().contains("a JSON object"),
                "{body} to {path}: {answer}"
            );
            doc.check(template, "post", 400, &answer);
        }
    }
    let after = (
        history("workflow"),
        history("orchestrate"),
        events(&env, &run).len(),
    );
    assert_eq!(after, before, "a refused body recorded something");
    // An object, and no body at all, are taken.
    let r = s.post(&format!("/api/v1/runs/{run}/steps/write/complete"), "");
    assert!(r.status == 200 || r.status == 202, "{}", r.body);
}

/// Behind an HTTPS proxy the browser's `Origin` is `https://NAME`: with `--public-url` that
/// origin may act (whether the proxy passes its Host on or not), and no other; without it the
/// refusal says what to give.
/// The head of the answer to `GET path` with this Host, redirects not followed.
/// A server on loopback that a TLS-terminating proxy serves as `https://cortex.example.com`.
fn behind_the_proxy(env: &Env) -> Server {
    Server::start_also(env, &["--public-url", "https://cortex.example.com"])
}

fn raw_head(s: &Server, path: &str, host: &str) -> String {
    raw_head_with(s, path, host, "")
}

/// The same, sending a cookie (`name=value`; none if empty).
fn raw_head_with(s: &Server, path: &str, host: &str, cookie: &str) -> String {
    use std::io::{Read, Write};
    let cookie = if cookie.is_empty() {
        String::new()
    } else {
        format!("Cookie: {cookie}\r\n")
    };
    let addr = s.base.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {host}\r\n{cookie}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    let _ = stream.read_to_string(&mut text);
    text.split("\r\n\r\n")
        .next()
        .unwrap_or_default()
        .to_string()
}

#[test]
fn a_sign_in_through_the_https_proxy_sets_a_secure_cookie() {
    let env = home();
    let s = behind_the_proxy(&env);
    let cookie = |head: &str| {
        head.lines()
            .find(|l| l.to_ascii_lowercase().starts_with("set-cookie:"))
            .unwrap_or_else(|| panic!("no cookie set: {head}"))
            .to_string()
    };
    // Through the proxy: never to be sent over plain HTTP to that name.
    let proxied = cookie(&raw_head(
        &s,
        &format!("/?token={TOKEN}"),
        "cortex.example.com",
    ));
    assert!(proxied.contains("; Secure"), "{proxied}");
    assert!(proxied.contains("HttpOnly") && proxied.contains("SameSite=Strict"));
    // Straight to the server over loopback HTTP: a Secure cookie would not be kept.
    let local = s.base.trim_start_matches("http://").to_string();
    let direct = cookie(&raw_head(&s, &format!("/?token={TOKEN}"), &local));
    assert!(!direct.contains("Secure"), "{direct}");
}

#[test]
fn behind_an_https_proxy_the_public_urls_origin_may_act_and_no_other() {
    let env = home();
    let s = Server::start_also(&env, &["--public-url", "https://Cortex.Example.com/"]);
    let local = s.base.trim_start_matches("http://").to_string();
    let form = format!("token={TOKEN}");
    let post = |s: &Server, host: &str, origin: &str| {
        s.post_with(
            "/runs/01ZZZZZZZZZZZZZZZZZZZZZZZZ/abort",
            &form,
            &[
                ("host", host),
                ("origin", origin),
                ("sec-fetch-site", "same-origin"),
                ("content-type", "application/x-www-form-urlencoded"),
            ],
        )
    };
    // Let through (to the unknown run's 404): the proxy's Host passed on, or the upstream's.
    for host in ["cortex.example.com", local.as_str()] {
        let r = post(&s, host, "https://cortex.example.com");
        assert_eq!(r.status, 404, "Host {host}: {}", r.body);
    }
    for origin in [
        "https://evil.example",
        "https://cortex.example.com.evil.example",
        "null",
    ] {
        let r = post(&s, "cortex.example.com", origin);
        assert_eq!(r.status, 403, "Origin {origin}: {}", r.body);
    }
    let bearer = format!("Bearer {TOKEN}");
    assert_eq!(
        s.get_with(
            "/api/v1/runs",
            &[("host", "cortex.example.com"), ("authorization", &bearer)]
        )
        .status,
        200
    );
    assert_eq!(
        s.get_with(
            "/api/v1/runs",
            &[("host", "evil.example"), ("authorization", &bearer)]
        )
        .status,
        421
    );
    // Without --public-url an https origin is refused, and the answer says what to give.
    let plain = Server::start(&env);
    let local = plain.base.trim_start_matches("http://").to_string();
    let r = post(&plain, &local, &format!("https://{local}"));
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(r.body.contains("--public-url"), "{}", r.body);
    // A public URL the server cannot be at is refused before anything listens.
    for bad in [
        "cortex.example.com",
        "https://cortex.example.com/sub/",
        "ftp://x.example",
    ] {
        let out = env.run(&["serve", "--addr", "127.0.0.1:0", "--public-url", bad]);
        assert_eq!(out.code, 2, "{bad}: {}", out.stderr);
        assert!(out.stderr.contains("--public-url"), "{bad}: {}", out.stderr);
    }
}

/// Behind a proxy (`--public-url`) requests come from anywhere, yet reach the server from
/// loopback: every read needs the token, as off loopback (SPEC §10). Before, a request as the
/// proxy forwards it — no cookie, no token — read every run, log and event stream. The
/// sign-in link still signs a browser in through the proxy, and its cookie then reads.
#[test]
fn behind_a_public_url_every_read_needs_the_token() {
    let env = home();
    env.workflow("w", "name: w\nsteps:\n  - name: a\n    run: echo a\n");
    let run = new_run(&env, "workflow", "w", 0);
    let s = behind_the_proxy(&env);
    let local = s.base.trim_start_matches("http://").to_string();
    let reads = [
        "/".to_string(),
        format!("/runs/{run}"),
        "/catalog".to_string(),
        "/api/v1/runs".to_string(),
        format!("/api/v1/runs/{run}"),
        format!("/api/v1/runs/{run}/log"),
        format!("/api/v1/runs/{run}/logs"),
        format!("/api/v1/runs/{run}/logs/a/raw"),
        format!("/api/v1/runs/{run}/events"),
        "/api/v1/runs/changes".to_string(),
    ];
    // The proxy passes the public Host on, or sends the upstream's own: both from loopback.
    for host in ["cortex.example.com", local.as_str()] {
        for path in &reads {
            let r = s.get_with(path, &[("host", host)]);
            assert_eq!(r.status, 401, "GET {path} with Host {host}: {}", r.body);
            assert!(r.body.contains("needs its token"), "{path}: {}", r.body);
        }
    }
    // With the token (a header, or the cookie the sign-in link sets) they are read.
    let bearer = format!("Bearer {TOKEN}");
    for path in reads
        .iter()
        .filter(|p| !p.ends_with("events") && !p.ends_with("changes"))
    {
        let r = s.get_with(
            path,
            &[("host", "cortex.example.com"), ("authorization", &bearer)],
        );
        assert_eq!(r.status, 200, "GET {path} with the token: {}", r.body);
    }
    let head = raw_head(
        &s,
        &format!("/runs/{run}?token={TOKEN}"),
        "cortex.example.com",
    );
    assert!(head.starts_with("HTTP/1.1 303"), "{head}");
    assert!(
        head.contains(&format!("location: /runs/{run}#cortex-key=")),
        "{head}"
    );
    let cookie = head
        .lines()
        .find_map(|l| l.strip_prefix("set-cookie: "))
        .unwrap_or_else(|| panic!("no cookie set: {head}"))
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let r = s.get_with(
        &format!("/runs/{run}"),
        &[("host", "cortex.example.com"), ("cookie", &cookie)],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    // Without --public-url, loopback reads stay open.
    let plain = Server::start(&env);
    assert_eq!(plain.get("/api/v1/runs").status, 200);
}

/// Seen by a review: the `?token=` sign-in of `/runs/R?events=all&token=T` went on to
/// `/runs/R`, the other parameters dropped; and the 401 under an address that has a query
/// said to open it "with ?token=TOKEN added" (`…?events=all?token=T`). The sign-in goes on to
/// the address without its token, its other parameters as they were; the hint adds the token
/// with `&` where there is a query.
#[test]
fn a_token_sign_in_keeps_the_addresses_other_parameters() {
    let env = home();
    env.workflow("w", "name: w\nsteps:\n  - name: a\n    run: echo a\n");
    assert_eq!(env.run(&["workflow", "run", "w"]).code, 0);
    let run = newest_run(&env, "workflow");
    let s = behind_the_proxy(&env);
    for path in [
        format!("/runs/{run}?events=all&token={TOKEN}"),
        format!("/runs/{run}?token={TOKEN}&events=all"),
        format!("/runs/{run}?tok%65n={TOKEN}&events=all"),
    ] {
        let head = raw_head(&s, &path, "cortex.example.com");
        assert!(head.starts_with("HTTP/1.1 303"), "{path}: {head}");
        assert!(
            head.contains(&format!("location: /runs/{run}?events=all#cortex-key=")),
            "{path}: {head}"
        );
        assert!(!head.contains(TOKEN), "{path}: {head}");
    }
    let head = raw_head(
        &s,
        &format!("/runs/{run}?token={TOKEN}"),
        "cortex.example.com",
    );
    assert!(
        head.contains(&format!("location: /runs/{run}#cortex-key=")),
        "{head}"
    );
    let host = [("host", "cortex.example.com")];
    let queried = s.get_with(&format!("/runs/{run}?events=all"), &host);
    assert_eq!(queried.status, 401, "{}", queried.body);
    assert!(
        queried.body.contains("with &amp;token=TOKEN added")
            && !queried.body.contains("?token=TOKEN added"),
        "{}",
        queried.body
    );
    let plain = s.get_with(&format!("/runs/{run}"), &host);
    assert_eq!(plain.status, 401, "{}", plain.body);
    assert!(
        plain.body.contains("with ?token=TOKEN added"),
        "{}",
        plain.body
    );
}

/// The hints of a page's 400 (`kind` given twice, or empty) are a page's — never the API's
/// document of parameters — and a value a message shows is quoted, so an empty one is seen:
/// `/?kind` said "`kind` is workflow or scenario, not " and ended there.
#[test]
fn a_pages_bad_query_is_hinted_for_the_page_and_its_value_shown_quoted() {
    let env = home();
    let s = Server::start(&env);
    let hints = |body: &str| -> String {
        let from = body
            .find("class=\"hints\"")
            .unwrap_or_else(|| panic!("{body}"));
        body[from..].split("</ul>").next().unwrap().to_string()
    };
    let twice = s.get("/?kind=workflow&kind=scenario");
    assert_eq!(twice.status, 400, "{}", twice.body);
    let said = hints(&twice.body);
    assert!(
        said.contains("the page's own links and forms") && !said.contains("openapi"),
        "{said}"
    );
    for (path, shown) in [("/?kind", "&quot;&quot;"), ("/?kind=x", "&quot;x&quot;")] {
        let r = s.get(path);
        assert_eq!(r.status, 400, "{path}: {}", r.body);
        assert!(
            r.body
                .contains(&format!("`kind` is workflow or scenario, not {shown}")),
            "{path}: {}",
            r.body
        );
        assert!(!hints(&r.body).contains("openapi"), "{}", r.body);
    }
}

/// The first `n` lines `cortex ARGS` prints on stdout (it is then ended).
fn first_lines(env: &Env, args: &[&str], n: usize) -> Vec<String> {
    use std::io::BufRead;
    let mut child = env
        .command(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start cortex");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let lines = (0..n)
        .map_while(|_| rx.recv_timeout(std::time::Duration::from_secs(30)).ok())
        .collect();
    let _ = child.kill();
    let _ = child.wait();
    lines
}

/// The sign-in address printed is one a person can open: the machine's host name for a server
/// on every interface (never `0.0.0.0`), with a word on plain HTTP; `--public-url` when given.
#[test]
fn the_printed_sign_in_address_is_one_a_person_can_open() {
    let env = home();
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .to_string();
    let lines = first_lines(&env, &["serve", "--addr", "0.0.0.0:0"], 3);
    let open = lines
        .iter()
        .find(|l| l.starts_with("Open "))
        .unwrap_or_else(|| panic!("no sign-in address: {lines:?}"));
    assert!(
        open.starts_with(&format!("Open http://{host}:")) && open.contains("/?token="),
        "{open}"
    );
    assert!(!open.contains("0.0.0.0"), "{open}");
    assert!(lines.iter().any(|l| l.contains("plain HTTP")), "{lines:?}");
    let lines = first_lines(
        &env,
        &[
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--public-url",
            "https://cortex.example.com",
        ],
        2,
    );
    assert!(
        lines[1].starts_with("Open https://cortex.example.com/?token="),
        "{lines:?}"
    );
}

/// `--json serve` with a token it made tells the token, as the human sign-in line does (a
/// script that started the server has no other way to act through it); a token given with
/// `--token` is not echoed.
#[test]
fn json_serve_tells_the_token_it_made_and_never_one_given() {
    let env = home();
    // Pretty JSON, one key a line: `{`, five keys, `}`.
    let doc: serde_json::Value = serde_json::from_str(
        &first_lines(&env, &["--json", "serve", "--addr", "127.0.0.1:0"], 7).join("\n"),
    )
    .unwrap();
    assert_eq!(doc["token_generated"], true, "{doc}");
    let token = doc["token"].as_str().unwrap_or_else(|| panic!("{doc}"));
    assert!(token.len() >= 32, "{doc}");
    let given = "a-token-given-on-the-command-line-0123456789";
    let doc: serde_json::Value = serde_json::from_str(
        &first_lines(
            &env,
            &["--json", "serve", "--addr", "127.0.0.1:0", "--token", given],
            6,
        )
        .join("\n"),
    )
    .unwrap();
    assert_eq!(doc["token_generated"], false, "{doc}");
    assert!(doc.get("token").is_none(), "{doc}");
}

/// The run page's "Complete phase" form reports the phase's outputs (KEY=VALUE lines), as
/// `orchestrate complete --output K=V` does: later phases read them.
#[test]
fn the_run_pages_complete_form_reports_a_phases_outputs() {
    let env = home();
    let run = new_run(&env, "orchestrate", "gate", 3);
    let s = Server::start(&env);
    let page = s.get(&format!("/runs/{run}")).body;
    let action = format!("action=\"/runs/{run}/steps/plan/complete\"");
    let form = page
        .split_once(&action)
        .and_then(|(_, rest)| rest.split_once("</form>"))
        .map(|(form, _)| form)
        .unwrap_or_else(|| panic!("no complete form for phase plan:\n{page}"));
    assert!(form.contains("name=\"outputs\""), "{form}");
    let r = s.post_with(
        &format!("/runs/{run}/steps/plan/complete"),
        &format!("token={TOKEN}&confirm=Plan+written&outputs=plan%3Dp1%0D%0Adocs%3Dd&message=done"),
        &[("content-type", "application/x-www-form-urlencoded")],
    );
    assert!(r.status < 400, "{}: {}", r.status, r.body);
    let recorded: Vec<(String, String)> = events(&env, &run)
        .iter()
        .filter(|e| e["type"] == "output_recorded")
        .map(|e| {
            (
                e["body"]["key"].as_str().unwrap().to_string(),
                e["body"]["value"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(
        recorded.contains(&("plan".into(), "p1".into()))
            && recorded.contains(&("docs".into(), "d".into())),
        "{recorded:?}"
    );
}

/// The complete form confirms the phase's checklist: a completion that leaves a criterion
/// unticked, or ticks one the phase does not have, is refused (400, said on the page) and
/// records nothing. Before, the form's `confirm` fields were not read: nothing ticked
/// recorded every criterion as met.
#[test]
fn the_complete_form_refuses_an_unticked_checklist_or_an_unknown_criterion() {
    let env = home();
    env.scenario(
        "review",
        "name: review\ndescription: d\nphases:\n  - name: review\n    description: review it\n    condition: auto\n    success_criteria:\n      - Security review signed off\n      - Rollback plan written\n",
    );
    let run = new_run(&env, "orchestrate", "review", 3);
    let s = Server::start(&env);
    let before = events(&env, &run).len();
    let complete = |fields: &str| {
        s.post_with(
            &format!("/runs/{run}/steps/review/complete"),
            &format!("token={TOKEN}{fields}&message=done"),
            &[("content-type", "application/x-www-form-urlencoded")],
        )
    };
    let r = complete("");
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(
        r.body.contains("checklist not all ticked")
            && r.body.contains("Security review signed off")
            && r.body.contains("Rollback plan written"),
        "{}",
        r.body
    );
    let r = complete("&confirm=Security+review+signed+off");
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("Rollback plan written"), "{}", r.body);
    let r = complete(
        "&confirm=Security+review+signed+off&confirm=Rollback+plan+written&confirm=NOT+A+CRITERION",
    );
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(
        r.body.contains("has no criterion") && r.body.contains("NOT A CRITERION"),
        "{}",
        r.body
    );
    assert_eq!(events(&env, &run).len(), before, "nothing recorded");
    let r = complete("&confirm=Security+review+signed+off&confirm=Rollback+plan+written");
    assert!(r.status < 400, "{}: {}", r.status, r.body);
    let met = events(&env, &run)
        .iter()
        .filter(|e| e["type"] == "criterion_met")
        .count();
    assert_eq!(met, 2);
}

/// A step can read the server's token (its command line, `ps -eo args`, or its environment):
/// what it prints of it is scrubbed from the run the server started — the event's tail, the
/// kept output file, the log — as any secret is. Before, it was recorded in clear and served
/// to any reader.
#[test]
fn the_servers_token_read_by_a_step_is_scrubbed_from_what_it_records() {
    let env = home();
    let s = Server::start(&env);
    env.workflow(
        "peek",
        &format!(
            "name: peek\nsteps:\n  - name: look\n    run: xargs -0 echo < /proc/{}/cmdline\n",
            s.pid()
        ),
    );
    let r = s.post("/api/v1/workflows/peek/runs", "");
    assert_eq!(r.status, 202, "{}", r.body);
    let run = r.json()["run_id"].as_str().unwrap().to_string();
    assert_eq!(settled(&s, &run)["status"], "completed");
    let raw = s.get(&format!("/api/v1/runs/{run}/logs/look/raw")).body;
    assert!(raw.contains("serve") && raw.contains("--token"), "{raw}");
    for read in [
        raw,
        s.get(&format!("/api/v1/runs/{run}")).body,
        s.get(&format!("/api/v1/runs/{run}/log")).body,
        s.get(&format!("/api/v1/runs/{run}/logs")).body,
        env.run(&["logs", &run, "look", "--raw"]).stdout,
    ] {
        assert!(!read.contains(TOKEN), "the token is served: {read}");
    }
    assert_eq!(env.log_holding(TOKEN), Vec::<String>::new());
}

/// A run started from another terminal on the server's home (`cortex workflow run`, never
/// given the token) whose step reads the token from the server's environment: the token is
/// scrubbed from what it records, as the server registers it in the home (`serve/PID.token`,
/// mode 0600) for every process working there. Before, it was recorded in clear.
#[test]
fn a_run_started_from_another_terminal_scrubs_the_token_of_the_server_on_its_home() {
    use std::os::unix::fs::PermissionsExt;
    let env = home();
    let s = Server::start_with_vars(
        &env,
        &["--addr", "127.0.0.1:0"],
        &[("CORTEX_SERVE_TOKEN", TOKEN)],
    );
    let registered = env.home().join(format!("serve/{}.token", s.pid()));
    let mode = std::fs::metadata(&registered)
        .expect("the server registers its token in the home")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "{registered:?}");
    // A file left by a server that is gone is removed, not read.
    let stale = env.home().join("serve/999999999.token");
    std::fs::write(&stale, "stale-token-0123456789").unwrap();
    env.workflow(
        "peek",
        &format!(
            "name: peek\nsteps:\n  - name: look\n    run: tr '\\0' '\\n' < /proc/{}/environ | grep CORTEX_SERVE_TOKEN\n",
            s.pid()
        ),
    );
    env.run(&["workflow", "run", "peek"]).assert_exit(0);
    let run = newest_run(&env, "workflow");
    let raw = env.run(&["logs", &run, "look", "--raw"]).stdout;
    assert!(raw.contains("CORTEX_SERVE_TOKEN=***"), "{raw}");
    assert_eq!(env.log_holding(TOKEN), Vec::<String>::new());
    assert!(!stale.exists(), "the file of a server that is gone is kept");
}

/// A log that holds the server's token in clear (recorded before the server started, or by a
/// process that did not know it) is never served with it: pages, API documents, raw logs and
/// the event stream give `***`. Before, every reader on loopback was given the token, which
/// authorises every change.
#[test]
fn the_server_never_serves_its_own_token_whatever_the_log_holds() {
    let env = home();
    env.workflow(
        "leak",
        &format!("name: leak\nsteps:\n  - name: say\n    run: echo \"token={TOKEN}\"\n"),
    );
    let run = new_run(&env, "workflow", "leak", 0);
    assert!(
        !env.log_holding(TOKEN).is_empty(),
        "the log holds it in clear"
    );
    let s = Server::start(&env);
    for path in [
        format!("/runs/{run}"),
        format!("/api/v1/runs/{run}"),
        format!("/api/v1/runs/{run}/log"),
        format!("/api/v1/runs/{run}/logs"),
        format!("/api/v1/runs/{run}/logs/say/raw"),
    ] {
        let r = s.get(&path);
        assert_eq!(r.status, 200, "{path}: {}", r.body);
        assert!(
            !r.body.contains(TOKEN),
            "{path} serves the token: {}",
            r.body
        );
    }
    let raw = s.get(&format!("/api/v1/runs/{run}/logs/say/raw")).body;
    assert!(raw.contains("token=***"), "{raw}");
    let rx = s.events(&format!("/api/v1/runs/{run}/events"));
    let mut streamed = String::new();
    while let Ok((_, _, data)) = rx.recv_timeout(std::time::Duration::from_secs(30)) {
        streamed.push_str(&data);
    }
    assert!(streamed.contains("***"), "{streamed}");
    assert!(
        !streamed.contains(TOKEN),
        "the stream serves the token: {streamed}"
    );
}

/// The sign-in cookie (`name=value`) a browser gets from `/?token=TOKEN`.
fn sign_in_cookie(s: &Server) -> String {
    let host = s.base.trim_start_matches("http://").to_string();
    let head = raw_head(s, &format!("/?token={TOKEN}"), &host);
    head.lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .starts_with("set-cookie:")
                .then(|| l[11..].trim())
        })
        .unwrap_or_else(|| panic!("no cookie: {head}"))
        .split(';')
        .next()
        .unwrap()
        .to_string()
}

/// A sign-in (`/?token=`): its cookie (`name=value`), and the form key handed over in the
/// fragment of the address it sends the browser on to (`#cortex-key=`).
fn sign_in_with_key(s: &Server, path: &str) -> (String, String) {
    let host = s.base.trim_start_matches("http://").to_string();
    let head = raw_head(s, &format!("{path}?token={TOKEN}"), &host);
    let field = |name: &str| {
        head.lines()
            .find_map(|l| {
                l.to_ascii_lowercase()
                    .starts_with(name)
                    .then(|| l[name.len()..].trim().to_string())
            })
            .unwrap_or_else(|| panic!("no {name} {head}"))
    };
    let cookie = field("set-cookie:").split(';').next().unwrap().to_string();
    let location = field("location:");
    let key = location
        .split_once("#cortex-key=")
        .unwrap_or_else(|| panic!("no form key in the address: {location}"))
        .1
        .to_string();
    (cookie, key)
}

/// A leaked sign-in cookie changes nothing: cookies are not kept apart by port, so every other
/// listener on 127.0.0.1 is sent it, and whoever holds it reads every page — but no page holds
/// the form key, which the sign-in hands to the browser alone (in the fragment of the address
/// it sends it on to). The cookie alone, with anything scraped from a page read with it, is
/// refused; the cookie with its own key (what the browser's script fills in) acts; the key
/// without its cookie does not.
#[test]
fn a_leaked_sign_in_cookie_and_the_pages_it_reads_change_nothing() {
    let env = home();
    let run = new_run(&env, "orchestrate", "gate", 3);
    let s = Server::start(&env);
    let (cookie, key) = sign_in_with_key(&s, &format!("/runs/{run}"));
    let port = s.base.rsplit(':').next().unwrap();
    assert!(
        cookie.starts_with(&format!("cortex_session_{port}=")),
        "{cookie}"
    );
    assert!(key.len() >= 32, "{key}");
    // What a listener that received the cookie reads with it.
    let page = s
        .get_with(&format!("/runs/{run}"), &[("cookie", &cookie)])
        .body;
    assert!(!page.contains(TOKEN), "the page holds the token");
    assert!(!page.contains(&key), "the page holds the form key");
    assert!(page.contains("name=\"token\""), "no token field:\n{page}");
    let path = format!("/runs/{run}/steps/plan/complete");
    let form = "application/x-www-form-urlencoded";
    let cookie_value = cookie.split_once('=').unwrap().1.to_string();
    // Every value the page offers in a `token` field, and the cookie's own value.
    let mut scraped: Vec<String> = page
        .split("name=\"token\"")
        .skip(1)
        .filter_map(|rest| rest.split_once("value=\"").map(|(_, v)| v))
        .filter_map(|v| v.split_once('"').map(|(v, _)| v.to_string()))
        .collect();
    scraped.extend([String::new(), cookie_value]);
    for given in &scraped {
        let r = s.post_with(
            &path,
            &format!("token={given}&confirm_at=0&message=forged"),
            &[("content-type", form), ("cookie", &cookie)],
        );
        assert_eq!(r.status, 401, "the cookie acted with {given:?}: {}", r.body);
    }
    let r = s.post_with(
        &path,
        "confirm_at=0&message=forged",
        &[("content-type", form), ("cookie", &cookie)],
    );
    assert_eq!(r.status, 401, "the cookie acted alone: {}", r.body);
    // The key without the sign-in it was given with.
    let r = s.post_with(
        &path,
        &format!("token={key}&confirm_at=0&message=done"),
        &[("content-type", form)],
    );
    assert_eq!(r.status, 401, "the form key acted alone: {}", r.body);
    assert!(
        r.body.contains("sign-in the request does not carry"),
        "{}",
        r.body
    );
    let status = s.get(&format!("/api/v1/runs/{run}")).json();
    assert_eq!(status["phases"][0]["status"], "waiting", "{status}");
    // The browser: its cookie and its key.
    let r = s.post_with(
        &path,
        &format!("token={key}&confirm_at=0&message=done"),
        &[("content-type", form), ("cookie", &cookie)],
    );
    assert!(r.status < 400, "{}: {}", r.status, r.body);
}

/// A form key is kept by the page's script only once the server vouches for it: any site can
/// link to an address of this origin with `#cortex-key=` of its own, and a key kept that way
/// broke every form for good. `POST /login/key` answers 204 only for the key of the sign-in
/// the browser's cookie carries.
#[test]
fn a_form_key_from_a_link_is_kept_only_when_it_is_the_sign_in_s_own() {
    let env = home();
    let s = Server::start(&env);
    let (cookie, key) = sign_in_with_key(&s, "/catalog");
    let (_, other_key) = sign_in_with_key(&s, "/catalog");
    let form = "application/x-www-form-urlencoded";
    let check = |given: &str, cookie: Option<&str>| {
        let mut headers = vec![("content-type", form)];
        if let Some(c) = cookie {
            headers.push(("cookie", c));
        }
        s.post_with("/login/key", &format!("token={given}"), &headers)
            .status
    };
    assert_eq!(check(&key, Some(&cookie)), 204);
    assert_eq!(check("evil", Some(&cookie)), 401);
    assert_eq!(check(&other_key, Some(&cookie)), 401);
    assert_eq!(check(&key, None), 401);
    // The script asks before it keeps a key, and puts the key in at the moment a form is sent.
    let js = s.get("/assets/app.js").body;
    assert!(js.contains("/login/key"), "{js}");
}

/// A form refused for its key (the browser keeps a key that is not its sign-in's) says so,
/// has the script forget the key (its forms show their Token field again), and links to the
/// sign-in form — which a browser signed in already reaches with `?again=1` (before, `GET
/// /login` sent it straight on, and it could not recover).
#[test]
fn a_form_refused_for_its_key_offers_signing_in_again() {
    let env = home();
    let run = new_run(&env, "orchestrate", "gate", 3);
    let s = Server::start(&env);
    let (cookie, _key) = sign_in_with_key(&s, &format!("/runs/{run}"));
    let page = format!("{}/runs/{run}", s.base);
    let r = s.post_with(
        &format!("/runs/{run}/steps/plan/complete"),
        "token=evil&confirm_at=0&message=done",
        &[
            ("content-type", "application/x-www-form-urlencoded"),
            ("cookie", &cookie),
            ("referer", &page),
        ],
    );
    assert_eq!(r.status, 401, "{}", r.body);
    assert!(r.body.contains("data-forget-key"), "{}", r.body);
    let again = format!("/login?again=1&amp;next=%2Fruns%2F{run}");
    assert!(r.body.contains(&again), "{}", r.body);
    // Signed in: `/login` goes on, `/login?again=1` shows the form.
    let host = s.base.trim_start_matches("http://").to_string();
    let head = raw_head_with(&s, "/login?next=/catalog", &host, &cookie);
    assert!(head.contains("location: /catalog"), "{head}");
    let r = s.get_with("/login?again=1&next=/catalog", &[("cookie", &cookie)]);
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("action=\"/login\""), "{}", r.body);
    assert!(r.body.contains("sign in again"), "{}", r.body);
    let status = s.get(&format!("/api/v1/runs/{run}")).json();
    assert_eq!(status["phases"][0]["status"], "waiting", "{status}");
}

/// The phases of `checks`: a checklist item that reads like a check, a real check, and an item
/// over two lines.
const CHECKS: &str = r#"
name: checks
description: Checklists
phases:
  - name: review
    description: Review it
    condition: auto
    success_criteria:
      - "check: the wording is prose, not a command"
      - {check: "true"}
      - |-
        Line one
        Line two
"#;

/// The values of the page's `confirm_at` checkboxes.
fn confirm_boxes(page: &str) -> Vec<String> {
    page.split("name=\"confirm_at\" value=\"")
        .skip(1)
        .filter_map(|rest| rest.split_once('"').map(|(v, _)| v.to_string()))
        .collect()
}

/// A checklist item is told from a command check by its type in the definition, never its
/// text: an item reading "check: ..." gets its checkbox and must be ticked. Before, the page
/// took it for a check, showed no checkbox, and a completion recorded it as confirmed.
#[test]
fn a_checklist_item_that_reads_like_a_check_must_be_ticked() {
    let env = home();
    std::fs::write(env.home().join("scenarios/checks.yaml"), CHECKS).unwrap();
    let run = new_run(&env, "orchestrate", "checks", 3);
    let s = Server::start(&env);
    let bearer = format!("Bearer {TOKEN}");
    let page = s
        .get_with(&format!("/runs/{run}"), &[("authorization", &bearer)])
        .body;
    // The two items (0 and 2), not the check (1).
    assert_eq!(confirm_boxes(&page), ["0", "2"], "{page}");
    let path = format!("/runs/{run}/steps/review/complete");
    let post = |form: &str| {
        s.post_with(
            &path,
            &format!("token={TOKEN}{form}&message=done"),
            &[("content-type", "application/x-www-form-urlencoded")],
        )
    };
    let r = post("&confirm_at=2");
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("not confirmed"), "{}", r.body);
    assert!(r.body.contains("the wording is prose"), "{}", r.body);
    // The check is no item to tick.
    let r = post("&confirm_at=0&confirm_at=1&confirm_at=2");
    assert_eq!(r.status, 400, "{}", r.body);
    let status = s.get(&format!("/api/v1/runs/{run}")).json();
    assert_eq!(status["phases"][0]["status"], "waiting", "{status}");
    let r = post("&confirm_at=0&confirm_at=2");
    assert!(r.status < 400, "{}: {}", r.status, r.body);
}

/// A check and an item whose text reads "check: ..." are told apart in the status document
/// (`"check": true` on the check only), and an item over several lines that a form left
/// unticked is named readably — its lines, not `\u{a}`.
#[test]
fn a_check_and_an_item_reading_like_one_are_told_apart_and_named_readably() {
    let env = home();
    std::fs::write(env.home().join("scenarios/checks.yaml"), CHECKS).unwrap();
    let run = new_run(&env, "orchestrate", "checks", 3);
    let s = Server::start(&env);
    let status = s.get(&format!("/api/v1/runs/{run}")).json();
    let criteria = &status["phases"][0]["criteria"];
    assert_eq!(criteria[0].get("check"), None, "{criteria}");
    assert_eq!(criteria[1]["check"], true, "{criteria}");
    assert_eq!(criteria[2].get("check"), None, "{criteria}");
    let r = s.post_with(
        &format!("/runs/{run}/steps/review/complete"),
        &format!("token={TOKEN}&confirm_at=0&message=done"),
        &[("content-type", "application/x-www-form-urlencoded")],
    );
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(
        r.body.contains("&quot;Line one\nLine two&quot;"),
        "{}",
        r.body
    );
    assert!(!r.body.contains("u{a}"), "{}", r.body);
    let human = env.run(&["orchestrate", "status", &run]).stdout;
    assert!(
        human.contains("[ ] check: the wording is prose, not a command\n"),
        "{human}"
    );
    assert!(human.contains("[ ] $ true\n"), "{human}");
    assert!(
        human.contains("[ ] Line one\n            Line two\n"),
        "{human}"
    );
}

/// A criterion over several lines is completed from the page: the page names each item by
/// its place, and a text a client sends is compared with its line breaks as LF (a browser
/// sends them as CRLF). Before, `400 phase review has no criterion "Line one\r\nLine two"`.
#[test]
fn a_multi_line_criterion_is_completed_from_the_page() {
    let env = home();
    std::fs::write(env.home().join("scenarios/checks.yaml"), CHECKS).unwrap();
    let run = new_run(&env, "orchestrate", "checks", 3);
    let s = Server::start(&env);
    let r = s.post_with(
        &format!("/runs/{run}/steps/review/complete"),
        &format!(
            "token={TOKEN}&confirm=check%3A+the+wording+is+prose%2C+not+a+command&confirm=Line+one%0D%0ALine+two&message=done"
        ),
        &[("content-type", "application/x-www-form-urlencoded")],
    );
    assert!(r.status < 400, "{}: {}", r.status, r.body);
    let status = settled(&s, &run);
    assert_eq!(status["phases"][0]["status"], "completed", "{status}");
}

/// Four reports of one step at once through the server: its actions on a run take turns, so
/// one is recorded and the others are answered as the CLI's are (the step no longer waits
/// for a report: a state conflict, 409; before, 400) — never "held by" the server's own
/// process.
#[test]
fn concurrent_reports_through_the_server_take_turns_like_the_cli() {
    let env = home();
    env.workflow(
        "pair",
        "name: pair\nsteps:\n  - {name: p1, prompt: first}\n  - {name: p2, prompt: second}\n",
    );
    let s = Server::start(&env);
    let r = s.post("/api/v1/workflows/pair/runs", "");
    assert_eq!(r.status, 202, "{}", r.body);
    let run = r.json()["run_id"].as_str().unwrap().to_string();
    assert_eq!(settled(&s, &run)["status"], "waiting");
    let path = format!("/api/v1/runs/{run}/steps/p1/complete");
    let answers: Vec<(u16, String)> = std::thread::scope(|scope| {
        let posts: Vec<_> = (0..4)
            .map(|_| scope.spawn(|| s.post(&path, "{}")))
            .collect();
        posts
            .into_iter()
            .map(|p| {
                let r = p.join().unwrap();
                (r.status, r.body)
            })
            .collect()
    });
    let ok = answers.iter().filter(|(st, _)| *st < 300).count();
    assert_eq!(ok, 1, "{answers:#?}");
    for (status, body) in answers.iter().filter(|(st, _)| *st >= 300) {
        assert_eq!(*status, 409, "{body}");
        // Said as the CLI's second report is: the step was already reported, by whom.
        assert!(
            body.contains("step `p1` was already reported complete by"),
            "{body}"
        );
        let doc: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(doc["exit_code"], 2, "{body}");
        assert!(!body.contains(&s.pid().to_string()), "{body}");
    }
}

/// A secret output reported through the server is handed to the driver the server starts:
/// no warning that it is "held by this process only", nor a hint naming a CLI flag; the step
/// that reads it has it. And a run started without a required secret input says how to give
/// it here: the request body's `inputs`.
#[test]
fn a_secret_output_reported_through_the_server_reaches_its_driver_without_a_false_warning() {
    let env = home();
    env.workflow(
        "hand",
        "name: hand\nsteps:\n  - {name: ask, prompt: give the token}\n  - {name: use, run: 'test \"${{ steps.ask.outputs.api_token }}\" = handed-value-42'}\n",
    );
    let s = Server::start(&env);
    let r = s.post("/api/v1/workflows/hand/runs", "");
    assert_eq!(r.status, 202, "{}", r.body);
    let run = r.json()["run_id"].as_str().unwrap().to_string();
    assert_eq!(settled(&s, &run)["status"], "waiting");
    let done = s.post(
        &format!("/api/v1/runs/{run}/steps/ask/complete"),
        r#"{"outputs": {"api_token": "handed-value-42"}}"#,
    );
    assert!(done.status < 300, "{} {}", done.status, done.body);
    let said = format!("{:?} {}", done.headers, done.body);
    assert!(!said.contains("held by this process only"), "{said}");
    assert!(!said.contains("--no-drive"), "{said}");
    assert_eq!(settled(&s, &run)["status"], "completed");

    env.workflow(
        "tok",
        "name: tok\ninputs:\n  api_token: {type: string, required: true}\nsteps:\n  - {name: ask, prompt: approve}\n",
    );
    let r = s.post("/api/v1/workflows/tok/runs", "{}");
    assert_eq!(r.status, 400, "{}", r.body);
    // Named as the request's body gives it (`"inputs": {...}`), not as a CLI flag.
    let message = r.json()["errors"][0]["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(message.contains("\"inputs\""), "{}", r.body);
    assert!(!message.contains("--input"), "{}", r.body);
}

/// A resume through the server warns, as the CLI's does, that the definition's file changed
/// since the run started (the run goes on with the one it started with), in
/// `x-cortex-warning` and on the page it answers.
#[test]
fn a_resume_through_the_server_warns_that_the_definition_changed() {
    let env = home();
    let flaky = "name: flaky\nsteps:\n  - {name: a, run: 'exit 1'}\n";
    env.workflow("flaky", flaky);
    assert_ne!(env.run(&["workflow", "run", "flaky"]).code, 0);
    let run = newest_run(&env, "workflow");
    env.workflow(
        "flaky",
        "name: flaky\ndescription: changed\nsteps:\n  - {name: a, run: 'exit 1'}\n",
    );
    let s = Server::start(&env);
    let r = s.post(
        &format!("/api/v1/runs/{run}/resume"),
        r#"{"mode": "retry"}"#,
    );
    assert!(r.status < 300, "{} {}", r.status, r.body);
    let warned: Vec<&str> = r
        .headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case("x-cortex-warning"))
        .map(|(_, v)| v.as_str())
        .collect();
    assert!(
        warned
            .iter()
            .any(|w| w.contains("changed since this run started")),
        "{warned:?} {}",
        r.body
    );
    settled(&s, &run);
    let page = s.post_with(
        &format!("/runs/{run}/resume"),
        &format!("token={TOKEN}&mode=retry"),
        &[("content-type", "application/x-www-form-urlencoded")],
    );
    assert!(
        page.body.contains("changed since this run started"),
        "{} {}",
        page.status,
        page.body
    );
}

/// A report or a manual start through the server drives the run on in a background driver,
/// which said that the definition's file changed since the run started only in its log
/// (`serve/driver-*.log`): the answer had neither `x-cortex-warning` nor `warnings`, where the
/// CLI's `step complete` says it. Said in both now, as a resume through the server says it.
#[test]
fn a_report_or_start_through_the_server_warns_that_the_definition_changed() {
    let env = home();
    let two = "name: two\nsteps:\n  - {name: ask, prompt: one}\n  - {name: ask2, prompt: two}\n";
    env.workflow("two", two);
    let run = new_run(&env, "workflow", "two", 3);
    env.workflow("two", &format!("{two}  - {{name: extra, run: echo x}}\n"));
    let scenario = new_run(&env, "orchestrate", "gate", 3);
    std::fs::write(
        env.home().join("scenarios/gate.yaml"),
        GATE.replace("Ship it", "Ship it, changed"),
    )
    .unwrap();
    let s = Server::start(&env);
    for (run, path) in [
        (&run, "steps/ask/complete"),
        (&scenario, "steps/ship/start"),
    ] {
        let r = s.post(&format!("/api/v1/runs/{run}/{path}"), "{}");
        assert!(r.status < 300, "{path}: {} {}", r.status, r.body);
        let said = |w: &str| w.contains("changed since this run started");
        let headers: Vec<&str> = r
            .headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case("x-cortex-warning"))
            .map(|(_, v)| v.as_str())
            .collect();
        assert!(headers.iter().any(|w| said(w)), "{path}: {headers:?}");
        let body = r.json();
        let warnings = body["warnings"].as_array().cloned().unwrap_or_default();
        assert!(
            warnings.iter().any(|w| w.as_str().is_some_and(said)),
            "{path}: {body}"
        );
        settled(&s, run);
    }
}

/// A resume while this server's own background driver drives the run waits for it (as a
/// report does), and, while it goes on, says that this server's driver carries the run on —
/// never "held by process N ... press Ctrl-C in the terminal", of a terminal that does not exist.
#[test]
fn a_resume_while_the_server_s_own_driver_drives_says_so_not_ctrl_c() {
    let env = home();
    env.workflow(
        "nap",
        "name: nap\nsteps:\n  - name: nap\n    run: sleep 20\n",
    );
    let s = Server::start_also(&env, &["--driver-wait", "1"]);
    let r = s.post("/api/v1/workflows/nap/runs", "");
    assert_eq!(r.status, 202, "{}", r.body);
    let run = r.json()["run_id"].as_str().unwrap().to_string();
    eventually(60, "the step to run", || {
        let status = s.get(&format!("/api/v1/runs/{run}")).json();
        (status["steps"][0]["status"] == "running").then_some(())
    });
    let r = s.post(&format!("/api/v1/runs/{run}/resume"), "");
    assert_eq!(r.status, 409, "{}", r.body);
    let doc = r.json();
    let said = doc.to_string();
    assert!(
        said.contains("this server's own background driver"),
        "{doc}"
    );
    assert!(!said.contains("Ctrl-C"), "{doc}");
    assert!(!said.contains("terminal"), "{doc}");
    let r = s.post(&format!("/api/v1/runs/{run}/abort"), "");
    assert!(r.status < 400, "{}", r.body);
}

/// An aborted run cannot be resumed: its page does not say that its stopped phases run again.
#[test]
fn an_aborted_runs_page_does_not_promise_a_resume() {
    let env = home();
    env.scenario("slow", "name: slow\ndescription: d\nphases:\n  - name: wait\n    description: Wait\n    run: 'while :; do sleep 1; done'\n");
    let s = Server::start(&env);
    let r = s.post("/api/v1/scenarios/slow/runs", "");
    assert_eq!(r.status, 202, "{}", r.body);
    let run = r.json()["run_id"].as_str().unwrap().to_string();
    eventually(60, "the phase to run", || {
        let status = s.get(&format!("/api/v1/runs/{run}")).json();
        (status["phases"][0]["status"] == "running").then_some(())
    });
    let r = s.post(&format!("/api/v1/runs/{run}/stop"), "");
    assert!(r.status < 400, "{}", r.body);
    eventually(60, "the run to stop", || {
        let status = s.get(&format!("/api/v1/runs/{run}")).json();
        (status["status"] == "stopped").then_some(())
    });
    let r = s.post(&format!("/api/v1/runs/{run}/abort"), "");
    assert_eq!(r.status, 200, "{}", r.body);
    let page = s.get(&format!("/runs/{run}")).body;
    assert!(page.contains("stopped before it finished"), "{page}");
    assert!(!page.contains("on resume"), "{page}");
}

/// A run started from the server with a secret input goes on after a report made through the
/// server (the server keeps the value for the drivers it starts, as a CLI driver keeps it); a
/// server that does not hold the value (restarted since) records the report and says what it
/// needs instead of answering 4xx for something recorded, and a resume given the value
/// (`inputs`) goes on. The value is never in the log.
#[test]
fn a_report_through_the_server_on_a_run_with_a_secret_input_is_recorded_and_goes_on() {
    let env = home();
    env.workflow(
        "tok",
        "name: tok\ninputs:\n  api_token: {type: string, required: true}\nsteps:\n  - {name: ask, prompt: approve}\n  - {name: use, run: 'test \"${#CORTEX_INPUT_API_TOKEN}\" = 15'}\n",
    );
    let secret = "s3cr3t-value-42";
    let body = format!(r#"{{"inputs": {{"api_token": "{secret}"}}}}"#);
    let (first, second) = {
        let s = Server::start(&env);
        let r = s.post("/api/v1/workflows/tok/runs", &body);
        assert_eq!(r.status, 202, "{}", r.body);
        let run = r.json()["run_id"].as_str().unwrap().to_string();
        assert_eq!(settled(&s, &run)["status"], "waiting");
        let done = s.post(&format!("/api/v1/runs/{run}/steps/ask/complete"), "{}");
        assert!(done.status < 300, "{} {}", done.status, done.body);
        assert_eq!(settled(&s, &run)["status"], "completed");
        // Two more runs, left waiting for the next server.
        let waiting = || {
            let r = s.post("/api/v1/workflows/tok/runs", &body);
            let run = r.json()["run_id"].as_str().unwrap().to_string();
            assert_eq!(settled(&s, &run)["status"], "waiting");
            run
        };
        (waiting(), waiting())
    };
    let s = Server::start(&env);
    let done = s.post(&format!("/api/v1/runs/{first}/steps/ask/complete"), "{}");
    assert_eq!(done.status, 200, "{}", done.body);
    // What the CLI would print as a warning: a header beside the status document.
    let warning = done.header("x-cortex-warning").unwrap_or_default();
    assert!(
        warning.starts_with("recorded; ") && warning.contains("api_token"),
        "{:?}",
        done.headers
    );
    assert_eq!(env.status(Some(&first))["steps"][0]["status"], "completed");
    // From the page, the warning is shown before going on to the run (a redirect loses it).
    let page = s.post_with(
        &format!("/runs/{second}/steps/ask/complete"),
        &format!("token={TOKEN}&message=ok"),
        &[("content-type", "application/x-www-form-urlencoded")],
    );
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains("warning: recorded; ") && page.body.contains("api_token"),
        "{}",
        page.body
    );
    assert!(
        page.body.contains(&format!("href=\"/runs/{second}\"")),
        "{}",
        page.body
    );
    assert_eq!(env.status(Some(&second))["steps"][0]["status"], "completed");
    let wrong = s.post(
        &format!("/api/v1/runs/{first}/resume"),
        r#"{"inputs": {"not_secret": "x"}}"#,
    );
    assert_eq!(wrong.status, 400, "{}", wrong.body);
    let resumed = s.post(&format!("/api/v1/runs/{first}/resume"), &body);
    assert!(resumed.status < 300, "{} {}", resumed.status, resumed.body);
    assert_eq!(settled(&s, &first)["status"], "completed");
    let export = env.run(&["log", "export"]).stdout;
    assert!(!export.contains(secret), "the secret is in the log");
}

/// A report through the server on a run it started with a secret input, quoting the value
/// (as an output, in its message, and in an abort's message): the server held the value for
/// its drivers, but the journals of its own appends read only its environment, so the value
/// was stored in plain text.
#[test]
fn a_report_quoting_a_secret_input_the_server_holds_stored_it_in_plain_text() {
    let env = home();
    env.workflow(
        "tok",
        "name: tok\ninputs:\n  api_token: {type: string, required: true}\nsteps:\n  - {name: ask, prompt: approve}\n  - {name: then, prompt: next}\n",
    );
    let secret = "s3cr3t-held-by-the-server";
    let s = Server::start(&env);
    let run = start_with_api_token(&s, "tok", secret);
    assert_eq!(settled(&s, &run)["status"], "waiting");
    let done = s.post(
        &format!("/api/v1/runs/{run}/steps/ask/complete"),
        &format!(r#"{{"outputs": {{"echoed": "{secret}"}}, "message": "used {secret}"}}"#),
    );
    assert!(done.status < 300, "{} {}", done.status, done.body);
    assert!(!done.body.contains(secret), "{}", done.body);
    let aborted = s.post(
        &format!("/api/v1/runs/{run}/abort"),
        &format!(r#"{{"message": "no {secret}"}}"#),
    );
    assert!(aborted.status < 300, "{} {}", aborted.status, aborted.body);
    assert_eq!(env.log_holding(secret), Vec::<String>::new());
    let export = env.run(&["log", "export"]).stdout;
    assert!(!export.contains(secret), "{export}");
    assert!(export.contains("used ***"), "{export}");
}

/// N8: `--public-url` with a scheme that is not http or https (`javascript:alert(1)`) is
/// refused for that reason, not as an address without a scheme.
#[test]
fn a_public_url_with_another_scheme_is_refused_for_its_scheme() {
    let env = home();
    let out = env.run(&[
        "serve",
        "--addr",
        "127.0.0.1:0",
        "--token",
        TOKEN,
        "--public-url",
        "javascript:alert(1)",
    ]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("the scheme is `javascript`, not http or https"),
        "{}",
        out.stderr
    );
}

/// N8: a bad line in the page's Outputs box is explained in the form's words (one NAME=VALUE
/// per line in the Outputs box), never with the CLI's `--output NAME=VALUE`; nothing is
/// recorded.
#[test]
fn a_bad_output_line_on_the_page_is_explained_in_the_forms_words() {
    let env = home();
    let s = Server::start(&env);
    let started = s.post("/api/v1/workflows/review/runs", "{}");
    assert!(started.status < 300, "{started:?}");
    let run = started.json()["run_id"].as_str().unwrap().to_string();
    eventually(30, "the run to wait on its prompt", || {
        (env.status(Some(&run))["status"] == "waiting").then_some(())
    });
    let before = env.events(&run).len();
    let r = s.post_with(
        &format!("/runs/{run}/steps/write/complete"),
        &format!("token={TOKEN}&outputs=noeq&message=done"),
        &[("content-type", "application/x-www-form-urlencoded")],
    );
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(
        r.body
            .contains("one NAME=VALUE per line in the Outputs box")
            && !r.body.contains("--output"),
        "{}",
        r.body
    );
    assert_eq!(env.events(&run).len(), before, "nothing recorded");
}

/// A stop asked of a driver that lets go without reading the request (it was ending, the run
/// waiting on people, when the request came) is recorded by the stop itself: the answer and
/// the run say `stopped`, never the `waiting` the driver left. The driver here is this test,
/// holding the run's lock until the request is in the log, then letting go.
#[test]
fn a_stop_asked_of_a_driver_that_lets_go_without_reading_it_still_stops_the_run() {
    let env = home();
    let gate = new_run(&env, "orchestrate", "gate", 3);
    let holder = cortex::execute::Holder {
        pid: std::process::id(),
        host: cortex::execute::hostname(),
        actor: "an ending driver".into(),
        since: "now".into(),
        shared: false,
    };
    let lock = cortex::execute::DriverLock::acquire(&env.home(), &gate, &holder).unwrap();
    let s = Server::start(&env);
    let r = std::thread::scope(|scope| {
        let answer = scope.spawn(|| s.post(&format!("/api/v1/runs/{gate}/stop"), "{}"));
        eventually(60, "the stop request in the log", || {
            events(&env, &gate)
                .iter()
                .any(|e| e["type"] == "stop_requested")
                .then_some(())
        });
        drop(lock);
        answer.join().unwrap()
    });
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["status"], "stopped", "{}", r.body);
    assert_eq!(r.exit_code(), 3);
    let status = env.run(&["--json", "orchestrate", "status", &gate]).json();
    assert_eq!(status["status"], "stopped", "{status}");
}

/// A resume answered 202 is recorded before the answer: the run read next is no longer
/// `stopped` and its log has the driver's `run_resumed`. Its driver is slowed between taking
/// the run and its first append (this test holds the log's write lock until the driver holds
/// the run), which is where an answer given on the lock alone came too early.
#[test]
fn a_resume_answered_202_is_in_the_log_before_the_answer() {
    let env = home();
    let gate = new_run(&env, "orchestrate", "gate", 3);
    env.run(&["orchestrate", "stop", &gate]).assert_exit(3);
    let s = Server::start(&env);
    let db = rusqlite::Connection::open(env.home().join("cortex.db")).unwrap();
    db.execute_batch("BEGIN IMMEDIATE").unwrap();
    let r = std::thread::scope(|scope| {
        let answer = scope.spawn(|| s.post(&format!("/api/v1/runs/{gate}/resume"), ""));
        eventually(60, "the resume's driver to hold the run", || {
            cortex::execute::DriverLock::probe(&env.home(), &gate).map(|_| ())
        });
        db.execute_batch("COMMIT").unwrap();
        answer.join().unwrap()
    });
    let status = s.get(&format!("/api/v1/runs/{gate}")).json();
    assert_eq!(r.status, 202, "{}", r.body);
    assert_ne!(
        status["status"], "stopped",
        "answered before the resume was recorded: {status}"
    );
    assert!(
        events(&env, &gate)
            .iter()
            .any(|e| e["type"] == "run_resumed")
    );
}

#[test]
fn a_resume_whose_driver_does_not_take_the_run_in_time_is_answered_504_not_waited_for() {
    let env = home();
    let gate = new_run(&env, "orchestrate", "gate", 3);
    env.run(&["orchestrate", "stop", &gate]).assert_exit(3);
    let s = Server::start_also(&env, &["--driver-wait", "1"]);
    // The log is locked for writing: the resume's driver cannot record that it took the run
    // (SQLite makes it wait 10 s), far past the server's wait of 1 s.
    let db = rusqlite::Connection::open(env.home().join("cortex.db")).unwrap();
    db.execute_batch("BEGIN IMMEDIATE").unwrap();
    let r = s.post(&format!("/api/v1/runs/{gate}/resume"), "");
    assert_eq!(r.status, 504, "{}", r.body);
    let doc = r.json();
    let error = doc["error"].as_str().unwrap();
    assert!(
        error.contains(&format!("has not taken run {gate} within 1 s")),
        "{doc}"
    );
    assert!(
        doc["hints"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h.as_str().unwrap().contains("--driver-wait")),
        "{doc}"
    );
    // The answer came while the run still reads stopped; the driver goes on and takes it once
    // the log is free.
    assert_eq!(
        s.get(&format!("/api/v1/runs/{gate}")).json()["status"],
        "stopped"
    );
    db.execute_batch("COMMIT").unwrap();
    eventually(60, "the late driver to take the run", || {
        events(&env, &gate)
            .iter()
            .any(|e| e["type"] == "run_resumed")
            .then_some(())
    });
}

#[test]
fn a_body_past_the_limit_and_a_read_of_a_change_get_the_error_document_not_axums_own_text() {
    let env = home();
    let doc = Doc::load();
    let run = new_run(&env, "workflow", "review", 3);
    let s = Server::start(&env);
    let before = events(&env, &run).len();
    let huge = format!(r#"{{"message": "{}"}}"#, "m".repeat(3 << 20));
    for (path, template) in [
        (
            format!("/api/v1/runs/{run}/steps/write/fail"),
            "/api/v1/runs/{id}/steps/{step}/fail",
        ),
        (
            format!("/api/v1/runs/{run}/abort"),
            "/api/v1/runs/{id}/abort",
        ),
        (
            "/api/v1/workflows/review/runs".to_string(),
            "/api/v1/workflows/{name}/runs",
        ),
    ] {
        let r = s.post_raw(&path, "application/json", huge.as_bytes());
        assert_eq!(r.status, 413, "{path}: {}", r.body);
        let answer = r.json();
        assert!(
            answer["error"]
                .as_str()
                .unwrap()
                .contains("longer than 2 MiB"),
            "{path}: {answer}"
        );
        doc.check(template, "post", 413, &answer);
    }
    // The page's forms too: an error page, escaped as every page is.
    let r = s.post_raw(
        &format!("/runs/{run}/abort"),
        "application/x-www-form-urlencoded",
        format!("token={TOKEN}&message={}", "m".repeat(3 << 20)).as_bytes(),
    );
    assert_eq!(r.status, 413, "{}", r.body);
    assert!(r.body.contains("longer than 2 MiB"), "{}", r.body);
    assert_eq!(
        events(&env, &run).len(),
        before,
        "a refused body recorded something"
    );
    assert_eq!(
        env.run(&["--json", "workflow", "history"]).json()["runs"]
            .clone()
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // A read of an address that takes only changes: 405 with the document and `Allow`.
    let r = s.get(&format!("/api/v1/runs/{run}/abort"));
    assert_eq!(r.status, 405, "{}", r.body);
    assert_eq!(r.header("allow"), Some("POST"));
    assert!(
        r.json()["error"]
            .as_str()
            .unwrap()
            .contains("GET is not answered here"),
        "{}",
        r.body
    );
}

/// The API's error document dropped the `errors` list the CLI's `--json` error gives: a run of
/// an invalid workflow asked through the API came back without the file, line and column of
/// each problem. It is the CLI's document whole, and follows the OpenAPI document.
#[test]
fn an_api_error_carries_the_located_errors_its_cli_twin_lists() {
    let env = home();
    let doc = Doc::load();
    let s = Server::start(&env);
    let r = s.post("/api/v1/workflows/broken/runs", "{}");
    assert_eq!(r.status, 400, "{}", r.body);
    let body = r.json();
    let cli = env.run(&["--json", "workflow", "run", "broken"]);
    assert_eq!(cli.code, 2);
    assert_eq!(body, cli.json());
    let located = &body["errors"][0];
    assert_eq!(
        (located["line"].as_u64(), located["column"].as_u64()),
        (Some(5), Some(5)),
        "{body}"
    );
    doc.check("/api/v1/workflows/{name}/runs", "post", 400, &body);
}

/// A run start answered 504 (its driver had not recorded the run within `--driver-wait`)
/// dropped the secret inputs it was given: once the late driver recorded the run, a report
/// through the server left it waiting for values the server no longer had. The server now
/// keeps them until the run is known, says so in the 504, and the report goes on with them;
/// the value is never in the log.
#[test]
fn a_run_start_answered_504_lost_its_secret_inputs() {
    let env = home();
    env.workflow(
        "tok",
        "name: tok\ninputs:\n  api_token: {type: string, required: true}\nsteps:\n  - {name: ask, prompt: approve}\n  - {name: use, run: 'test \"${#CORTEX_INPUT_API_TOKEN}\" = 16'}\n",
    );
    // A first run makes the log (and its tables) exist before it is locked.
    env.run(&["workflow", "run", "ship", "--input", "version=1.0.0"])
        .assert_exit(0);
    let s = Server::start_also(&env, &["--driver-wait", "1"]);
    let secret = "s3cr3t-late-4242";
    let body = format!(r#"{{"inputs": {{"api_token": "{secret}"}}}}"#);
    // The log is locked for writing: the driver cannot record the run within the 1 s wait.
    let db = rusqlite::Connection::open(env.home().join("cortex.db")).unwrap();
    db.execute_batch("BEGIN IMMEDIATE").unwrap();
    let r = s.post("/api/v1/workflows/tok/runs", &body);
    assert_eq!(r.status, 504, "{}", r.body);
    assert!(!r.body.contains(secret), "{}", r.body);
    let doc = r.json();
    assert!(
        doc["hints"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h.as_str().unwrap().contains("secret inputs given are kept")),
        "{doc}"
    );
    db.execute_batch("COMMIT").unwrap();
    drop(db);
    let run = eventually(60, "the late driver to record the run", || {
        let run = newest_run(&env, "workflow");
        (env.status(Some(&run))["name"] == "tok").then_some(run)
    });
    assert_eq!(settled(&s, &run)["status"], "waiting");
    let done = s.post(&format!("/api/v1/runs/{run}/steps/ask/complete"), "{}");
    assert!(done.status < 300, "{} {}", done.status, done.body);
    assert_eq!(
        done.header("x-cortex-warning"),
        None,
        "the server held the secret input: {:?}",
        done.headers
    );
    assert_eq!(settled(&s, &run)["status"], "completed");
    let export = env.run(&["log", "export"]).stdout;
    assert!(!export.contains(secret), "the secret is in the log");
}

/// The part of `page` from the `<article` of step or phase `step`'s card to the end of that
/// card (its items' rows and cards included).
fn card<'a>(page: &'a str, step: &str) -> &'a str {
    let open = format!("data-step=\"{step}\"");
    let start = page
        .match_indices("<article ")
        .map(|(i, _)| i)
        .find(|&i| {
            page[i..]
                .split_once('>')
                .is_some_and(|(tag, _)| tag.contains(&open))
        })
        .unwrap_or_else(|| panic!("no card of `{step}`:\n{page}"));
    // Cards nest (a `foreach:` step's items): the end is where the opened ones are closed.
    let mut depth = 0usize;
    let mut at = start;
    loop {
        let next_open = page[at + 1..].find("<article ").map(|i| i + at + 1);
        let next_close = page[at + 1..].find("</article>").map(|i| i + at + 1);
        match (next_open, next_close) {
            (Some(o), Some(c)) if o < c => {
                depth += 1;
                at = o;
            }
            (_, Some(c)) if depth == 0 => return &page[start..c],
            (_, Some(c)) => {
                depth -= 1;
                at = c;
            }
            _ => return &page[start..],
        }
    }
}

const KID: &str = "name: kid\nsteps:\n  - name: look\n    prompt: Look at it\n";

const PARENT_OF_KIDS: &str = "name: elder\nsteps:\n  - name: ship\n    uses: kid\n  - name: fan\n    foreach: [a, b]\n    uses: kid\n";

/// The run page of a parent whose `uses:` step waits with its child run offered a "Complete
/// step" form for that step, which the engine refuses (a `uses:` step waits with its child,
/// not for a report), and linked neither to the child run nor, from the child's page, back
/// to the parent; so was an item of a `foreach:` + `uses:` step.
#[test]
fn a_uses_steps_card_links_its_child_run_which_links_back_and_offers_no_refused_report() {
    let env = home();
    env.workflow("kid", KID).workflow("elder", PARENT_OF_KIDS);
    env.run(&["workflow", "run", "elder"]).assert_exit(3);
    let history = env.run(&["--json", "workflow", "history"]).json()["runs"].clone();
    let id_of = |name: &str| -> Vec<String> {
        history
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["name"] == name)
            .map(|r| r["run_id"].as_str().unwrap().to_string())
            .collect()
    };
    let parent = id_of("elder")[0].clone();
    let child = env.status(Some(&parent))["steps"][0]["uses"]["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    let s = Server::start(&env);
    let page = s.get(&format!("/runs/{parent}")).body;
    let ship = card(&page, "ship");
    assert!(
        ship.contains(&format!("href=\"/runs/{child}\"")),
        "the uses: step links its child run:\n{ship}"
    );
    assert!(
        !page.contains(&format!("action=\"/runs/{parent}/steps/ship/complete\""))
            && !page.contains(&format!("action=\"/runs/{parent}/steps/ship/fail\"")),
        "a report the engine refuses is offered:\n{ship}"
    );
    assert!(
        ship.contains("look"),
        "it says which step of the child waits:\n{ship}"
    );
    // The engine does refuse it.
    let r = s.post(&format!("/api/v1/runs/{parent}/steps/ship/complete"), "{}");
    assert_eq!(r.status, 400, "{}", r.body);
    // The child's page links back, and offers the report that moves both on.
    let kid = s.get(&format!("/runs/{child}")).body;
    assert!(
        kid.contains(&format!("href=\"/runs/{parent}\"")),
        "the child run links its parent:\n{kid}"
    );
    assert!(
        kid.contains(&format!("action=\"/runs/{child}/steps/look/complete\"")),
        "{kid}"
    );
    // The runs list says which runs are children, and whose: the child's row links its
    // parent; the parent's row names none.
    let list = s.get("/").body;
    let row = |id: &str| {
        list.split("<tr")
            .find(|r| r.contains(&format!("data-run=\"{id}\"")))
            .unwrap_or_else(|| panic!("no row of {id}:\n{list}"))
            .to_string()
    };
    let kid_row = row(&child);
    assert!(
        kid_row.contains("child of") && kid_row.contains(&format!("href=\"/runs/{parent}\"")),
        "{kid_row}"
    );
    assert!(!row(&parent).contains("child of"), "{}", row(&parent));
    // On to the `foreach:` + `uses:` step: its first item waits with a child of its own.
    env.run(&["workflow", "step", "complete", "look", "--run", &child])
        .assert_exit(3);
    let status = env.status(Some(&parent));
    let item_child = status["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|st| st["name"] == "fan[0]")
        .and_then(|st| st["uses"]["run_id"].as_str())
        .unwrap_or_else(|| panic!("fan[0] has no child run: {status}"))
        .to_string();
    let page = s.get(&format!("/runs/{parent}")).body;
    for step in ["fan", "fan%5B0%5D"] {
        assert!(
            !page.contains(&format!("action=\"/runs/{parent}/steps/{step}/complete\"")),
            "a report on {step}, which the engine refuses, is offered:\n{page}"
        );
    }
    assert!(
        card(&page, "fan[0]").contains(&format!("href=\"/runs/{item_child}\"")),
        "the item links its child run:\n{page}"
    );
}

/// A failed run's suggested `resume --retry` became no button when the server was started
/// with `--db` (or `--home` and `--db`): the suggestion's argv carries them before the
/// subcommand, and the page skipped only a leading `--home`. A password in `--db` never
/// reaches the page.
#[test]
fn a_suggestion_carrying_db_and_home_before_its_subcommand_is_still_a_button() {
    let env = home();
    env.workflow(
        "flaky",
        "name: flaky\nsteps:\n  - name: a\n    run: exit 1\n    retry: {max_retry_attempts: 0}\n",
    );
    let run = new_run(&env, "workflow", "flaky", 1);
    let db = env.db_spec();
    let home = env.home().display().to_string();
    let s = Server::start_also(&env, &["--home", &home, "--db", &db]);
    let next = s.get(&format!("/api/v1/runs/{run}")).json()["next"].clone();
    assert!(
        next.as_array().unwrap().iter().any(|n| {
            let argv: Vec<&str> = n["argv"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a.as_str().unwrap())
                .collect();
            argv.contains(&"--db") && argv.contains(&"--retry")
        }),
        "the suggestion names --db: {next}"
    );
    let page = s.get(&format!("/runs/{run}")).body;
    assert!(
        page.contains("name=\"mode\" value=\"retry\""),
        "no retry button:\n{page}"
    );
    // On PostgreSQL, a password given in --db stays out of the page.
    if let Some(pg) = Env::postgres("a_suggestion_carrying_db_and_home_before_its_subcommand") {
        let pg = stocked(pg);
        pg.workflow(
            "flaky",
            "name: flaky\nsteps:\n  - name: a\n    run: exit 1\n    retry: {max_retry_attempts: 0}\n",
        );
        let run = new_run(&pg, "workflow", "flaky", 1);
        let url = pg.db_spec();
        let (scheme, rest) = url.split_once("://").unwrap();
        let rest = rest.split_once('@').map_or(rest, |(_, host)| host);
        let with_password = format!("{scheme}://postgres:pw-7f3a9c1e@{rest}");
        let s = Server::start_also(&pg, &["--db", &with_password]);
        let page = s.get(&format!("/runs/{run}")).body;
        assert!(
            page.contains("name=\"mode\" value=\"retry\""),
            "no retry button on PostgreSQL:\n{page}"
        );
        assert!(!page.contains("pw-7f3a9c1e"), "the password is in the page");
    }
}

/// The graph of a run page (its `svg.dag`).
fn dag(page: &str) -> &str {
    let start = page
        .find("<svg class=\"dag\"")
        .unwrap_or_else(|| panic!("no graph:\n{page}"));
    let end = page[start..].find("</svg>").unwrap() + start;
    &page[start..end]
}

/// A `foreach:` step's items were drawn as cards and graph nodes of their own (a chain of one
/// node per item), their values nowhere: the step is one card listing its items (value,
/// escaped, and status) and one node in the graph.
#[test]
fn a_foreach_step_is_one_card_listing_its_items_and_one_node_of_the_graph() {
    let env = home();
    env.workflow(
        "fan",
        "name: fan\nsteps:\n  - name: each\n    foreach: [\"<b>x</b>\", plain]\n    prompt: Check ${{ item }}\n  - name: after\n    run: echo after\n",
    );
    let run = new_run(&env, "workflow", "fan", 3);
    let s = Server::start(&env);
    let page = s.get(&format!("/runs/{run}")).body;
    assert!(!page.contains("<b>x</b>"), "an item's value unescaped");
    let each = card(&page, "each");
    assert!(
        each.contains("&lt;b&gt;x&lt;/b&gt;") && each.contains("plain"),
        "the items' values are on the step's card:\n{each}"
    );
    assert!(
        each.contains("data-item=\"each[0]\"") && each.contains("data-item=\"each[1]\""),
        "each item is listed on the card:\n{each}"
    );
    assert!(
        each.contains("badge st-waiting") && each.contains("badge st-pending"),
        "each item's status is shown:\n{each}"
    );
    // The waiting item can be reported from the card.
    assert!(
        each.contains(&format!(
            "action=\"/runs/{run}/steps/each%5B0%5D/complete\""
        )),
        "{each}"
    );
    let graph = dag(&page);
    assert!(
        graph.contains("data-step=\"each\"") && graph.contains("data-step=\"after\""),
        "{graph}"
    );
    assert!(
        !graph.contains("data-step=\"each[0]\"") && !graph.contains("data-step=\"each[1]\""),
        "items drawn as nodes of their own:\n{graph}"
    );
    // A scenario's graph keeps its `after:` edges with a `foreach:` phase in it (its items
    // made the nodes outnumber the phases, and the graph fell back to a chain of them all).
    env.scenario("fanout", "name: fanout\ndescription: d\nphases:\n  - name: plan\n    run: 'true'\n  - name: deploy\n    condition: after:plan\n    foreach: [a, b]\n    run: 'true'\n  - name: docs\n    condition: after:plan\n    run: 'true'\n");
    let run = new_run(&env, "orchestrate", "fanout", 0);
    let page = s.get(&format!("/runs/{run}")).body;
    let graph = dag(&page);
    let column = |phase: &str| -> String {
        let at = graph
            .find(&format!("data-step=\"{phase}\""))
            .unwrap_or_else(|| panic!("no node {phase}:\n{graph}"));
        let rect = &graph[at..];
        let x = rect.split_once("<rect x=\"").unwrap().1;
        x.split_once('"').unwrap().0.to_string()
    };
    assert_eq!(
        column("deploy"),
        column("docs"),
        "two phases after `plan` side by side:\n{graph}"
    );
    assert!(graph.contains("2/2 items done"), "{graph}");
}

/// The catalog did not say that a workflow runs by itself on a `schedule:`, nor when next.
#[test]
fn the_catalog_shows_a_schedule_and_when_it_next_fires() {
    let env = home();
    env.workflow(
        "nightly",
        "name: nightly\nschedule: \"17 3 * * *\"\nsteps:\n  - name: a\n    run: 'true'\n",
    );
    let s = Server::start(&env);
    let list = s.get("/api/v1/schedules").json();
    let next = list["schedules"][0]["next"][0]
        .as_str()
        .unwrap_or_else(|| panic!("{list}"))
        .to_string();
    assert!(next.ends_with("03:17:00Z"), "{next}");
    let page = s.get("/catalog").body;
    let row = page
        .split("<tr")
        .find(|r| r.contains("/catalog/workflows/nightly"))
        .unwrap_or_else(|| panic!("no row of nightly:\n{page}"));
    assert!(row.contains("17 3 * * *"), "{row}");
    assert!(row.contains(&next), "{row}");
    let ship = page
        .split("<tr")
        .find(|r| r.contains("/catalog/workflows/ship"))
        .unwrap();
    assert!(!ship.contains("next"), "{ship}");
    let detail = s.get("/catalog/workflows/nightly").body;
    assert!(
        detail.contains("17 3 * * *") && detail.contains(&next),
        "{detail}"
    );
    // A scenario's too.
    env.scenario("tidy", "name: tidy\ndescription: d\nschedule: \"41 5 * * 1\"\nphases:\n  - name: sweep\n    description: Sweep\n    run: 'true'\n");
    let page = s.get("/catalog").body;
    let row = page
        .split("<tr")
        .find(|r| r.contains("/catalog/scenarios/tidy"))
        .unwrap_or_else(|| panic!("no row of tidy:\n{page}"));
    assert!(
        row.contains("41 5 * * 1") && row.contains("05:41:00Z"),
        "{row}"
    );
    let detail = s.get("/catalog/scenarios/tidy").body;
    assert!(detail.contains("41 5 * * 1"), "{detail}");
    // This server fires them: nothing more to say.
    assert!(!detail.contains("does not fire schedules"), "{detail}");
    // One started with --no-schedule says it does not fire them, and what does; where no
    // schedule is, it says nothing.
    let quiet = Server::start_also(&env, &["--no-schedule"]);
    for path in [
        "/catalog",
        "/catalog/scenarios/tidy",
        "/catalog/workflows/nightly",
    ] {
        let page = quiet.get(path).body;
        assert!(
            page.contains("This server does not fire schedules")
                && page.contains("cortex schedule run"),
            "{path}: {page}"
        );
    }
    let unscheduled = quiet.get("/catalog/workflows/ship").body;
    assert!(
        !unscheduled.contains("does not fire schedules"),
        "{unscheduled}"
    );
}

/// The notifications delivered for a run (`notify:`), which `status` lists, were nowhere on
/// its page.
#[test]
fn a_runs_page_shows_the_notifications_delivered_for_it() {
    let env = home();
    env.workflow(
        "loud",
        "name: loud\nsteps:\n  - name: a\n    run: exit 1\n    retry: {max_retry_attempts: 0}\nnotify:\n  on_failure:\n    - run: echo '<i>told</i>' > told.txt\n",
    );
    let run = new_run(&env, "workflow", "loud", 1);
    let status = env.status(Some(&run));
    let delivered = &status["notifications"][0];
    assert_eq!(delivered["ok"], true, "{status}");
    let s = Server::start(&env);
    let page = s.get(&format!("/runs/{run}")).body;
    let section = page
        .split_once("class=\"notifications\"")
        .map(|(_, rest)| rest.split_once("</section>").map_or(rest, |(a, _)| a))
        .unwrap_or_else(|| panic!("no notifications on the page:\n{page}"));
    assert!(section.contains("on_failure"), "{section}");
    assert!(
        section.contains("&lt;i&gt;told&lt;/i&gt;") && !section.contains("<i>told"),
        "the notification named, escaped:\n{section}"
    );
    assert!(
        section.contains(delivered["detail"].as_str().unwrap()),
        "{section}"
    );
}

/// A run's start message (`run --message`) and that a schedule started it were not on its
/// page, though `status` shows both.
#[test]
fn a_runs_page_shows_its_start_message_and_its_schedule() {
    let env = home();
    env.run(&[
        "workflow",
        "run",
        "ship",
        "--input",
        "version=1.2.3",
        "--message",
        "<i>hotfix</i> for the outage",
    ])
    .assert_exit(0);
    let run = newest_run(&env, "workflow");
    env.workflow(
        "nightly",
        "name: nightly\nschedule: \"*/5 * * * *\"\nsteps:\n  - name: a\n    run: 'true'\n",
    );
    // A schedule fires only for times from when a scheduler first saw it on.
    let seen = env.run(&["schedule", "run", "--once", "--at", "2026-12-03T09:59:00Z"]);
    assert_eq!(seen.code, 0, "{}", seen.stderr);
    env.run(&[
        "--json",
        "schedule",
        "run",
        "--once",
        "--at",
        "2026-12-03T10:00:20Z",
    ])
    .assert_exit(0);
    let scheduled = eventually(60, "the scheduled run to finish", || {
        let id = newest_run(&env, "workflow");
        let st = env.status(Some(&id));
        (st["name"] == "nightly" && st["status"] == "completed").then_some(id)
    });
    let s = Server::start(&env);
    // In the run's summary, not only in the event log's line of `run_started`.
    let meta = |page: &str| -> String {
        page.split_once("<dl class=\"meta\">")
            .and_then(|(_, rest)| rest.split_once("</dl>"))
            .map(|(meta, _)| meta.to_string())
            .unwrap_or_else(|| panic!("no summary:\n{page}"))
    };
    let page = meta(&s.get(&format!("/runs/{run}")).body);
    assert!(
        page.contains("&lt;i&gt;hotfix&lt;/i&gt; for the outage"),
        "the start message, escaped:\n{page}"
    );
    let page = meta(&s.get(&format!("/runs/{scheduled}")).body);
    assert!(
        page.contains("scheduled for 2026-12-03T10:00:00Z by `*/5 * * * *`"),
        "started by the schedule:\n{page}"
    );
}

/// A stand-in for Claude Code answering `--output-format json`'s result object.
const FAKE_CLAUDE: &str = r#"#!/bin/sh
cat > /dev/null
printf '{"type":"result","subtype":"success","is_error":false,"duration_ms":1234,"num_turns":3,"result":"Plan <b>written</b>","session_id":"5e55a000-0000-4000-8000-000000000001","total_cost_usd":0.0123}\n'
"#;

/// What the agent runner reported for a step (session, turns, cost), which `status` shows,
/// was not on the step's card.
#[test]
fn a_step_run_by_an_agent_runner_shows_its_result_on_its_card() {
    use std::os::unix::fs::PermissionsExt;
    let env = home();
    let program = env.dir.path().join("fake-claude.sh");
    std::fs::write(&program, FAKE_CLAUDE).unwrap();
    std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
    env.config(&format!(
        r#"{{"agents": {{"claude": {{"program": {}}}}}}}"#,
        serde_json::to_string(&program.display().to_string()).unwrap()
    ));
    std::fs::write(
        env.home().join("agents/planner.md"),
        "---\nname: planner\ndescription: Plans\nrunner: claude\n---\nYou plan.\n",
    )
    .unwrap();
    env.workflow(
        "feature",
        "name: feature\nsteps:\n  - name: Plan\n    prompt: Plan it\n    agent: planner\n",
    );
    env.run(&["workflow", "run", "feature"]).assert_exit(0);
    let run = newest_run(&env, "workflow");
    assert_eq!(
        env.status(Some(&run))["steps"][0]["agent_result"]["num_turns"],
        3
    );
    let s = Server::start(&env);
    let page = s.get(&format!("/runs/{run}")).body;
    let plan = card(&page, "Plan");
    assert!(plan.contains("Claude Code"), "{plan}");
    assert!(
        plan.contains("5e55a000-0000-4000-8000-000000000001"),
        "the session:\n{plan}"
    );
    assert!(
        !page.contains("Plan <b>written"),
        "the result text unescaped"
    );
    assert!(
        plan.contains("3 turns") && plan.contains("$0.0123"),
        "{plan}"
    );
}

/// Starting a scenario run through the API checked only that the scenario was valid: a
/// message past the limit, a phase to start that is not a manual one, or a missing required
/// input were refused by the background driver, and the server answered 500 ("the driver
/// started for this run ended without recording it"; Schemathesis found the message case).
/// They are checked as `orchestrate run --dry-run` checks them, a 400 with nothing started;
/// and a scenario's inputs can be given (`inputs`, as for a workflow), a secret one kept out
/// of the log.
#[test]
fn a_scenario_run_the_driver_would_refuse_is_a_400_and_its_inputs_can_be_given() {
    let env = home();
    env.scenario("needs", "name: needs\ndescription: d\ninputs:\n  region: {type: string, required: true}\n  api_token: {type: string, required: true}\nphases:\n  - name: go\n    description: g\n    run: 'echo \"to ${{ inputs.region }}\" >> ran.log'\n  - {name: approve, description: a, condition: manual}\n");
    let s = Server::start(&env);
    let runs = |env: &Env| {
        env.run(&["--json", "orchestrate", "history"]).json()["runs"]
            .clone()
            .as_array()
            .map_or(0, Vec::len)
    };
    let before = runs(&env);
    let long = json!({
        "message": "m".repeat(cortex::ops::MAX_MESSAGE_CHARS + 1),
        "inputs": {"region": "eu", "api_token": "t"},
    });
    for (body, says) in [
        (long.to_string(), "a message has at most 65536 characters"),
        (
            json!({"start": ["go"], "inputs": {"region": "eu", "api_token": "t"}}).to_string(),
            "`go` is not a manual phase",
        ),
        (json!({"inputs": {"region": "eu"}}).to_string(), "api_token"),
    ] {
        let r = s.post("/api/v1/scenarios/needs/runs", &body);
        assert_eq!(r.status, 400, "{says}: {}", r.body);
        assert!(r.body.contains(says), "{}", r.body);
    }
    assert_eq!(runs(&env), before, "nothing started");
    let secret = "s3cr3t-scenario-input-777";
    let r = s.post(
        "/api/v1/scenarios/needs/runs",
        &json!({"start": ["approve"], "inputs": {"region": "eu", "api_token": secret}}).to_string(),
    );
    assert_eq!(r.status, 202, "{}", r.body);
    let run = r.json()["run_id"].as_str().unwrap().to_string();
    let done = settled(&s, &run);
    assert_eq!(done["inputs"]["region"], "eu", "{done}");
    assert_eq!(done["inputs"]["api_token"], "***", "{done}");
    assert_eq!(
        std::fs::read_to_string(env.project().join("ran.log")).unwrap(),
        "to eu\n"
    );
    let log = env.run(&["log", "export", &run]).stdout;
    assert!(!log.contains(secret), "the secret is in the log");
    // The scenario's page asks for its inputs, the secret one as a password.
    let page = s.get("/catalog/scenarios/needs").body;
    assert!(page.contains(r#"name="input.region""#), "{page}");
    assert!(
        page.contains(r#"input type="password" name="input.api_token""#),
        "{page}"
    );
}

/// `GET /api/v1/runs/{id}?at=SEQ` past the run's last event was refused naming `--at`, a flag
/// of the CLI the caller never used: the error names the event, in the words of both.
#[test]
fn a_status_at_an_event_past_the_end_names_the_event_not_a_cli_flag() {
    let env = home();
    let run = new_run(&env, "workflow", "review", 3);
    let s = Server::start(&env);
    let r = s.get(&format!("/api/v1/runs/{run}?at=999"));
    assert_eq!(r.status, 400, "{}", r.body);
    let error = r.json()["error"].as_str().unwrap().to_string();
    assert!(error.contains("event 999 is past its end"), "{error}");
    assert!(!error.contains("--at"), "{error}");
    let cli = env.run(&["--json", "workflow", "status", &run, "--at", "999"]);
    assert_eq!(cli.code, 2);
    assert_eq!(cli.json()["error"].as_str().unwrap(), error);
}

/// A report from the page whose next step has a condition (`if:`) or a list to read
/// (`foreach:`) is driven on by a background driver, as one whose next step runs a command.
/// Before, the rule for "a driver has work" counted only attempts, so the run sat `running`
/// with nobody to check the condition.
#[test]
fn a_report_before_a_conditional_step_is_driven_on_from_the_page() {
    let env = home();
    env.workflow(
        "gated",
        "name: gated\nsteps:\n  - name: write\n    prompt: Write the notes\n  - name: publish\n    if: steps.write.outputs.verdict == 'ok'\n    run: echo published\n  - name: each\n    foreach: ['a', 'b']\n    run: echo item ${{ item }}\n",
    );
    let run = new_run(&env, "workflow", "gated", 3);
    let s = Server::start(&env);
    let r = s.post(
        &format!("/api/v1/runs/{run}/steps/write/complete"),
        r#"{"outputs": {"verdict": "ok"}}"#,
    );
    assert_eq!(r.status, 202, "{}", r.body);
    let done = settled(&s, &run);
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["steps"][1]["status"], "completed", "{done}");
    assert_eq!(done, env.status(Some(&run)));
}

/// The API resumes a scenario run as `orchestrate resume` does: mode `from` (the phase and the
/// phases that depend on it run again) and `skip`; before, every mode but `continue` was
/// refused for a scenario, although its page suggests `orchestrate resume --skip`.
#[test]
fn the_api_resumes_a_scenario_from_a_phase_as_orchestrate_resume_does() {
    let env = Env::new();
    env.scenario("chain", "name: chain\ndescription: Plan, build, test after build\nphases:\n  - name: plan\n    condition: auto\n    run: echo plan >> plan.log\n  - name: build\n    condition: after:plan\n    run: echo build >> build.log\n  - name: test\n    condition: after:build\n    run: test -f ok\n");
    let run = new_run(&env, "orchestrate", "chain", 1);
    std::fs::write(env.file("ok"), "").unwrap();
    let s = Server::start(&env);
    let r = s.post(
        &format!("/api/v1/runs/{run}/resume"),
        r#"{"mode": "from", "step": "build"}"#,
    );
    assert_eq!(r.status, 202, "{}", r.body);
    let after = settled(&s, &run);
    assert_eq!(after["status"], "completed", "{after}");
    let count = |f: &str| common::lines(&env.file(f)).len();
    assert_eq!((count("plan.log"), count("build.log")), (1, 2));
    let resumed: Vec<Value> = events(&env, &run)
        .into_iter()
        .filter(|e| e["type"] == "run_resumed")
        .collect();
    assert_eq!(resumed[0]["body"]["restart_from"], "build", "{resumed:?}");
}

/// The run page says which worker takes a phase left for a worker's tags, as `status` does.
#[test]
fn the_run_page_says_which_worker_takes_a_phase_waiting_for_tags() {
    let env = home();
    env.scenario(
        "tagged",
        "name: tagged\ndescription: d\nphases:\n  - {name: prep, description: p, run: 'true'}\n  - {name: train, description: t, condition: 'after:prep', runs_on: [gpu], run: 'true'}\n",
    );
    let run = new_run(&env, "orchestrate", "tagged", 3);
    let s = Server::start(&env);
    let page = s.get(&format!("/runs/{run}")).body;
    assert!(
        page.contains("Waits for a worker offering tags gpu"),
        "{page}"
    );
}

/// A report or a start through the API that a background driver goes on with answers the run
/// as that driver has it — running, or a phase waiting with its report suggested — as the
/// CLI's report (which drives) prints it. Before, it answered the run as the report alone
/// left it: "nobody drives it now; resume goes on", `resume` suggested, which the server's
/// driver then held (exit 4).
#[test]
fn a_report_or_start_the_servers_driver_goes_on_with_answers_the_run_as_driven() {
    let env = home();
    env.workflow(
        "rep",
        "name: rep\nsteps:\n  - name: Plan\n    prompt: plan\n  - name: Slow\n    run: sleep 3; echo done\n",
    );
    let s = Server::start(&env);
    let doc = Doc::load();
    let started = s.post("/api/v1/workflows/rep/runs", "{}");
    assert_eq!(started.status, 202, "{}", started.body);
    let run = started.json()["run_id"].as_str().unwrap().to_string();
    settled(&s, &run);
    let r = s.post(&format!("/api/v1/runs/{run}/steps/Plan/complete"), "{}");
    assert_eq!(r.status, 202, "{}", r.body);
    let body = r.json();
    doc.check(
        "/api/v1/runs/{id}/steps/{step}/complete",
        "post",
        202,
        &body,
    );
    assert_eq!(r.exit_code(), 0, "{body:#}");
    assert_eq!(body["status"], "running", "{body:#}");
    let text = body.to_string();
    assert!(!text.contains("nobody drives it now"), "{body:#}");
    assert!(
        !body["next"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|n| n["argv"].to_string().contains("resume")),
        "a resume the server's driver would refuse is suggested: {body:#}"
    );
    assert_eq!(body["steps"][1]["status"], "running", "{body:#}");
    assert_eq!(settled(&s, &run)["status"], "completed");

    // A manual phase started through the API: waiting, its report suggested.
    std::fs::write(
        env.home().join("scenarios/solo.yaml"),
        "name: solo\ndescription: One manual phase\nphases:\n  - name: ship\n    description: Ship it\n    condition: manual\n",
    )
    .unwrap();
    let solo = new_run(&env, "orchestrate", "solo", 3);
    let r = s.post(&format!("/api/v1/runs/{solo}/steps/ship/start"), "{}");
    let body = r.json();
    assert_eq!(r.status, 202, "{body:#}");
    doc.check("/api/v1/runs/{id}/steps/{step}/start", "post", 202, &body);
    let ship = body["phases"]
        .as_array()
        .or(body["steps"].as_array())
        .unwrap()
        .iter()
        .find(|p| p["name"] == "ship")
        .unwrap()
        .clone();
    assert_eq!(ship["status"], "waiting", "{body:#}");
    let next = body["next"].to_string();
    assert!(
        next.contains("complete") && next.contains("ship"),
        "{body:#}"
    );
    assert!(!next.contains("resume"), "{body:#}");
}

/// A stream asked for events past an unfinished run's head (`?after=` or `Last-Event-ID`
/// beyond it) ends with `end` once the run is sealed. Before, it never read the seal (it lies
/// before where the stream stood) and sent only `driver` events, forever.
#[test]
fn a_stream_asked_past_a_runs_head_ends_when_the_run_is_sealed() {
    let env = home();
    let s = Server::start(&env);
    for header in [false, true] {
        let run = new_run(&env, "workflow", "review", 3);
        let path = format!("/api/v1/runs/{run}/events");
        let rx = if header {
            s.events_with(&path, &[("Last-Event-ID", "50")])
        } else {
            s.events(&format!("{path}?after=50"))
        };
        // The stream is open (its first word says who drives the run) before the run ends.
        let first = rx
            .recv_timeout(std::time::Duration::from_secs(30))
            .expect("the stream opens");
        assert_eq!(first.0, "driver", "{first:?}");
        env.run(&["workflow", "step", "complete", "write"])
            .assert_exit(0);
        let got = whole_stream(rx);
        assert_eq!(
            got.last().map(|(e, _)| e.as_str()),
            Some("end"),
            "header {header}: {got:?}"
        );
        assert!(got.iter().all(|(e, _)| e != "event"), "{got:?}");
    }
}

/// One range for a page of history, one error outside it: `GET /api/v1/runs?limit=` and
/// `workflow history --limit` / `orchestrate history --limit` take 1 to 500 and refuse 0 or
/// 1000 alike (400 / exit 2, the same document). Before, the API refused what the CLI took.
#[test]
fn a_history_limit_out_of_range_is_refused_alike_by_the_api_and_the_cli() {
    let env = home();
    let s = Server::start(&env);
    let doc = Doc::load();
    for limit in ["0", "1000"] {
        let api = s.get(&format!("/api/v1/runs?limit={limit}"));
        assert_eq!(api.status, 400, "{}", api.body);
        for group in ["workflow", "orchestrate"] {
            let cli = env
                .run(&["--json", group, "history", "--limit", limit])
                .assert_exit(2);
            let mut api_doc = api.json();
            let mut cli_doc = cli.json();
            // The flag is named as each front end takes it.
            for d in [&mut api_doc, &mut cli_doc] {
                let text = d.to_string().replace("`--limit`", "`limit`");
                *d = serde_json::from_str(&text).unwrap();
            }
            assert_eq!(api_doc, cli_doc, "limit {limit}");
        }
    }
    for limit in ["1", "500"] {
        let api = s.get(&format!("/api/v1/runs?limit={limit}&kind=workflow"));
        assert_eq!(api.status, 200, "{}", api.body);
        doc.check("/api/v1/runs", "get", 200, &api.json());
        env.run(&["workflow", "history", "--limit", limit])
            .assert_exit(0);
    }
}

/// The web form's number field carries an integer bound past 2^53 as written.
#[test]
fn the_run_form_carries_integer_bounds_past_two_to_the_53_exactly() {
    let env = Env::new();
    env.workflow(
        "bounds",
        "name: bounds\ninputs:\n  k: {type: integer, minimum: -9007199254740993, maximum: 9007199254740993}\nsteps: [{name: a, run: 'true'}]\n",
    );
    let s = Server::start(&env);
    let form = s.get("/catalog/workflows/bounds").body;
    assert!(
        form.contains(r#"min="-9007199254740993""#) && form.contains(r#"max="9007199254740993""#),
        "{form}"
    );
}

/// `?limit=` past every integer (or negative, or a fraction) is refused with the range, as 501
/// is. Before, it said "`limit` must be a whole number, not 99999999999999999999".
#[test]
fn a_limit_past_every_integer_says_the_range() {
    let env = Env::new();
    let s = Server::start(&env);
    for limit in ["99999999999999999999", "-1", "2.5", "501"] {
        let r = s.get(&format!("/api/v1/runs?limit={limit}"));
        assert_eq!(r.status, 400, "{limit}: {}", r.body);
        assert_eq!(
            r.json()["error"],
            format!("`limit` is between 1 and 500 (runs listed, newest first); {limit} is not"),
            "{}",
            r.body
        );
    }
}

/// A failed run whose `deploy` step appends a line to `deploys` then fails: (env, server,
/// run id, the file).
fn failed_deploy() -> (Env, Server, String, std::path::PathBuf) {
    let env = home();
    let file = env.project().join("deploys");
    env.workflow(
        "deploy",
        &format!(
            "name: deploy\nsteps:\n  - name: deploy\n    run: sleep 1; echo ran >> '{}'; exit 1\n    retry: {{max_retry_attempts: 0}}\n",
            file.display()
        ),
    );
    let run = new_run(&env, "workflow", "deploy", 1);
    let s = Server::start(&env);
    (env, s, run, file)
}

fn deploys(file: &std::path::Path) -> usize {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .count()
}

fn resumes_recorded(env: &Env, run: &str) -> usize {
    events(env, run)
        .iter()
        .filter(|e| e["type"] == "run_resumed")
        .count()
}

/// Two resumes of one failed run sent at the same moment: one is taken (202) and the other
/// is refused at once with 409 and exit code 4, as the CLI's second resume is ("held by"),
/// with a hint — never queued until the first's driver ended and then run again, acting on
/// a state its sender never saw (the failed step ran twice more instead of once). A resume
/// sent while the first's driver still runs the step is refused the same way.
#[test]
fn a_second_resume_sent_with_the_first_is_refused_409_not_queued_to_run_again() {
    let (env, s, run, file) = failed_deploy();
    assert_eq!(deploys(&file), 1);
    let doc = Doc::load();
    let path = format!("/api/v1/runs/{run}/resume");
    let body = r#"{"mode":"retry"}"#;
    let answers: Vec<_> = std::thread::scope(|scope| {
        let posts: Vec<_> = (0..2)
            .map(|_| scope.spawn(|| s.post(&path, body)))
            .collect();
        posts.into_iter().map(|p| p.join().unwrap()).collect()
    });
    let taken = answers.iter().filter(|r| r.status == 202).count();
    assert_eq!(
        taken,
        1,
        "{:#?}",
        answers.iter().map(|r| &r.body).collect::<Vec<_>>()
    );
    let refused = answers.iter().find(|r| r.status != 202).unwrap();
    assert_eq!(refused.status, 409, "{}", refused.body);
    assert_eq!(refused.exit_code(), 4, "{}", refused.body);
    let error = refused.json();
    assert!(
        error["error"]
            .as_str()
            .unwrap()
            .contains("nothing was recorded"),
        "{error}"
    );
    assert!(!error["hints"].as_array().unwrap().is_empty(), "{error}");
    doc.check("/api/v1/runs/{id}/resume", "post", 409, &error);
    // While the first's driver runs the step, another resume is refused too.
    let again = s.post(&path, body);
    if s.get(&format!("/api/v1/runs/{run}")).json()["status"] == "running" {
        assert_eq!(again.status, 409, "{}", again.body);
        assert_eq!(again.exit_code(), 4, "{}", again.body);
    }
    settled(&s, &run);
    eventually(30, "the driver to let go", || {
        (env.run(&["--json", "workflow", "status", &run]).json()["status"] == "failed")
            .then_some(())
    });
    let expected = 1 + usize::from(again.status == 202);
    assert_eq!(
        deploys(&file),
        1 + expected,
        "the deploy ran once per resume taken"
    );
    assert_eq!(resumes_recorded(&env, &run), expected);
}

/// A resume's `step` means something only with `from` or `rollback_to`: given with
/// `continue`, `retry`, `skip` or no mode it was ignored (`{"mode":"retry","step":"no such
/// step"}` was taken, 202; `{"step":"deploy"}` went on as `continue`). Refused 400 naming the
/// conflict, as the CLI refuses `--retry --from`, and nothing is recorded.
#[test]
fn a_resume_step_without_from_or_rollback_to_and_an_empty_mode_are_refused_not_ignored() {
    let (env, s, run, file) = failed_deploy();
    let doc = Doc::load();
    let before = events(&env, &run).len();
    for body in [
        r#"{"mode":"retry","step":"no such step"}"#,
        r#"{"mode":"skip","step":"deploy"}"#,
        r#"{"mode":"continue","step":"deploy"}"#,
        r#"{"step":"deploy"}"#,
    ] {
        let r = s.post(&format!("/api/v1/runs/{run}/resume"), body);
        assert_eq!(r.status, 400, "{body}: {}", r.body);
        let error = r.json();
        let said = error["error"].as_str().unwrap();
        assert!(
            said.contains("`step`") && said.contains("`from` or `rollback_to`"),
            "{body}: {error}"
        );
        doc.check("/api/v1/runs/{id}/resume", "post", 400, &error);
    }
    // A mode not in the schema's enum is refused, the empty one too (it was taken as
    // `continue`).
    let r = s.post(&format!("/api/v1/runs/{run}/resume"), r#"{"mode":""}"#);
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.exit_code(), 2, "{}", r.body);
    doc.check("/api/v1/runs/{id}/resume", "post", 400, &r.json());
    // An empty or blank step is no step (a name is read trimmed), as the schema says.
    let r = s.post(
        &format!("/api/v1/runs/{run}/resume"),
        r#"{"mode":"skip","step":" "}"#,
    );
    assert!(r.status < 300, "{}", r.body);
    settled(&s, &run);
    assert_eq!(deploys(&file), 1, "nothing ran the deploy again");
    assert!(events(&env, &run).len() > before);
    assert_eq!(
        resumes_recorded(&env, &run),
        1,
        "only the skip was recorded"
    );
}

/// `?before=` is a run id: any case is read (as everywhere a run id is), and anything else
/// is a 400 — before, it was compared as raw text, so `zzz`, `nosuch` or a lowercase id
/// answered the first page again (200), and a client following it paged forever.
#[test]
fn runs_before_takes_a_run_id_in_any_case_and_refuses_anything_else_or_repeated() {
    let env = home();
    for _ in 0..3 {
        env.run(&["workflow", "run", "ship", "--input", "version=1.0.0"])
            .assert_exit(0);
    }
    let s = Server::start(&env);
    let doc = Doc::load();
    let all = s.get("/api/v1/runs").json();
    let ids: Vec<String> = all["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["run_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 3);
    let upper = s.get(&format!("/api/v1/runs?before={}", ids[0])).json();
    let lower = s.get(&format!("/api/v1/runs?before={}", ids[0].to_lowercase()));
    assert_eq!(lower.status, 200, "{}", lower.body);
    assert_eq!(lower.json(), upper);
    assert_eq!(upper["runs"].as_array().unwrap().len(), 2);
    for bad in [
        "zzz",
        "nosuch",
        "01",
        &format!("{}x", ids[0]),
        "ILOUILOUILOUILOUILOUILOUIL",
    ] {
        let r = s.get(&format!("/api/v1/runs?before={bad}"));
        assert_eq!(r.status, 400, "{bad}: {}", r.body);
        let error = r.json();
        assert!(
            error["error"]
                .as_str()
                .unwrap()
                .contains("`before` is a run id"),
            "{error}"
        );
        doc.check("/api/v1/runs", "get", 400, &error);
        // The page takes it as the API does.
        assert_eq!(s.get(&format!("/?before={bad}")).status, 400, "{bad}");
    }
    assert_eq!(
        s.get(&format!("/?before={}", ids[0].to_lowercase())).status,
        200
    );
    // A repeated parameter is refused, whichever of its values comes first.
    for query in [
        format!("before={}&before=junk", ids[0]),
        format!("before=junk&before={}", ids[0]),
        "limit=1&limit=2".to_string(),
        "kind=workflow&kind=scenario".to_string(),
    ] {
        let r = s.get(&format!("/api/v1/runs?{query}"));
        assert_eq!(r.status, 400, "{query}: {}", r.body);
        doc.check("/api/v1/runs", "get", 400, &r.json());
    }
    // The page tells a person the way to the first page, not a header to follow.
    let page = s.get("/?before=zz");
    assert_eq!(page.status, 400);
    assert!(!page.body.contains("Link"), "{}", page.body);
    assert!(page.body.contains("href=\"/\""), "{}", page.body);
}

/// A query parameter given twice is a 400 naming it, on every address that reads it — an
/// API route or a page —, whichever value comes first; only a list (`input` of a preview,
/// an array in the OpenAPI document) is given more than once. Before, only `/api/v1/runs`
/// refused one: `?at=1&at=5` answered the run as of event 1, `?after=1&after=2` streamed
/// from 2, `?step=A&step=B` read A, each saying nothing of the value left out.
#[test]
fn a_query_parameter_given_twice_is_a_400_naming_it_everywhere_but_a_list() {
    let env = home();
    let run = new_run(&env, "orchestrate", "gate", 3);
    let s = Server::start(&env);
    let doc = Doc::load();
    for (path, route, name) in [
        (
            format!("/api/v1/runs/{run}?at=1&at=5"),
            "/api/v1/runs/{id}",
            "at",
        ),
        (
            format!("/api/v1/runs/{run}/events?after=1&after=2"),
            "/api/v1/runs/{id}/events",
            "after",
        ),
        (
            format!("/api/v1/runs/{run}/logs?step=plan&step=other"),
            "/api/v1/runs/{id}/logs",
            "step",
        ),
        (
            format!("/api/v1/runs/{run}/logs?tail_bytes=1&tail_bytes=100000"),
            "/api/v1/runs/{id}/logs",
            "tail_bytes",
        ),
        (
            format!("/api/v1/runs/{run}/logs?attempt=1&step=plan&attempt=2"),
            "/api/v1/runs/{id}/logs",
            "attempt",
        ),
        (
            format!("/api/v1/runs/{run}/logs/plan/raw?attempt=1&attempt=1"),
            "/api/v1/runs/{id}/logs/{step}/raw",
            "attempt",
        ),
        (
            "/api/v1/runs?limit=1&limit=3".to_string(),
            "/api/v1/runs",
            "limit",
        ),
    ] {
        let r = s.get(&path);
        assert_eq!(r.status, 400, "{path}: {}", r.body);
        let error = r.json();
        assert_eq!(
            error["error"],
            format!("`{name}` is given more than once; give it once"),
            "{path}"
        );
        assert!(
            error["hints"][0]
                .as_str()
                .unwrap()
                .contains(&format!("keep one `{name}=`")),
            "{error}"
        );
        doc.check(route, "get", 400, &error);
    }
    // Pages alike.
    for path in [
        format!("/runs/{run}?at=1&at=2"),
        format!("/runs/{run}?events=all&events=all"),
        "/catalog/scenarios/gate?input.who=a&input.who=b".to_string(),
        "/login?next=%2F&next=%2Fcatalog".to_string(),
    ] {
        let r = s.get(&path);
        assert_eq!(r.status, 400, "{path}: {}", r.body);
        assert!(r.body.contains("<html"), "{}", r.body);
        assert!(
            r.body.contains("is given more than once"),
            "{path}: {}",
            r.body
        );
    }
    // A list is given once per value, as `--input` is: both reach the preview (which says
    // `gate` declares neither).
    let r = s.get("/api/v1/scenarios/gate/preview?input=who%3Dme&input=count%3D2");
    assert!(r.body.contains("unknown input `who`"), "{}", r.body);
    assert!(r.body.contains("unknown input `count`"), "{}", r.body);
    // Once each, the same addresses are answered.
    assert_eq!(s.get(&format!("/api/v1/runs/{run}?at=1")).status, 200);
    assert_eq!(s.get(&format!("/runs/{run}?at=1")).status, 200);
}

/// A report on a step the run has not reached, while the server's own driver holds the run,
/// is answered at once as the CLI's `workflow step complete` is: the run is held (409, exit
/// 4) — the CLI takes the run's lock before it judges the step's status. Before, it was 400
/// ("pending, not waiting for a report"), and earlier still waited for the driver.
#[test]
fn a_report_on_a_step_not_reached_while_the_own_driver_holds_the_run_is_409_as_the_cli() {
    let env = home();
    env.workflow(
        "slow",
        "name: slow\nsteps:\n  - name: s1\n    run: sleep 3\n  - name: s2\n    prompt: check it\n",
    );
    let s = Server::start(&env);
    let doc = Doc::load();
    let r = s.post("/api/v1/workflows/slow/runs", "");
    assert_eq!(r.status, 202, "{}", r.body);
    let run = r.json()["run_id"].as_str().unwrap().to_string();
    eventually(30, "s1 to run", || {
        let status = s.get(&format!("/api/v1/runs/{run}")).json();
        (status["steps"][0]["status"] == "running").then_some(())
    });
    let started = std::time::Instant::now();
    let r = s.post(&format!("/api/v1/runs/{run}/steps/s2/complete"), "{}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(2),
        "the report waited for the driver"
    );
    assert_eq!(r.status, 409, "{}", r.body);
    assert_eq!(r.exit_code(), 4, "{}", r.body);
    let error = r.json();
    assert!(
        error["error"]
            .as_str()
            .unwrap()
            .contains("nothing was recorded"),
        "{error}"
    );
    doc.check(
        "/api/v1/runs/{id}/steps/{step}/complete",
        "post",
        409,
        &error,
    );
    let r = s.post(&format!("/api/v1/runs/{run}/abort"), "");
    assert!(r.status < 400, "{}", r.body);
}

/// While a CLI process drives a run (`workflow run` in progress), a resume in any mode —
/// `retry` on a run that has not failed included — and a report on a step the run has not
/// reached are refused as their CLI twins are: held, 409 with exit code 4. Before, `retry`
/// said "the run is not failed, so there is nothing to retry" and the report "pending", both
/// 400 with exit code 2: the run's status was judged before who holds it.
#[test]
fn a_run_a_cli_process_drives_refuses_every_resume_mode_and_reports_409_held() {
    let env = home();
    env.workflow(
        "slow",
        "name: slow\nsteps:\n  - name: s1\n    run: sleep 20\n  - name: s2\n    prompt: check it\n",
    );
    let mut cli = env
        .command(&["workflow", "run", "slow"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start cortex");
    let s = Server::start(&env);
    let run = eventually(30, "the CLI to run s1", || {
        let runs = s.get("/api/v1/runs").json();
        let run = runs["runs"].as_array()?.first()?["run_id"]
            .as_str()?
            .to_string();
        let status = s.get(&format!("/api/v1/runs/{run}")).json();
        (status["steps"][0]["status"] == "running").then_some(run)
    });
    for body in [
        r#"{"mode":"retry"}"#,
        r#"{"mode":"skip"}"#,
        r#"{"mode":"from","step":"s1"}"#,
        "{}",
    ] {
        let r = s.post(&format!("/api/v1/runs/{run}/resume"), body);
        assert_eq!(r.status, 409, "{body}: {}", r.body);
        assert_eq!(r.exit_code(), 4, "{body}: {}", r.body);
    }
    let cli_twin = env.run(&["workflow", "resume", &run, "--retry"]);
    assert_eq!(cli_twin.code, 4, "the CLI's twin");
    let r = s.post(&format!("/api/v1/runs/{run}/steps/s2/complete"), "{}");
    assert_eq!(r.status, 409, "{}", r.body);
    assert_eq!(r.exit_code(), 4, "{}", r.body);
    let cli_twin = env.run(&["workflow", "step", "complete", "s2", "--run", &run]);
    assert_eq!(cli_twin.code, 4, "the CLI's twin");
    let _ = cli.kill();
    let _ = cli.wait();
}

/// A plain resume of a workflow run that waits for a report changes nothing, as `cortex
/// workflow resume RUN` (exit 3, "nothing to resume, nothing was recorded", with `note`):
/// 200 with the status document and its note, exit code 3, no driver started and nothing
/// recorded. Before, a background driver "took the run" (202).
#[test]
fn a_plain_resume_of_a_run_waiting_for_a_report_answers_as_the_cli_and_records_nothing() {
    let env = home();
    env.workflow(
        "gate",
        "name: gate\nsteps:\n  - name: p\n    prompt: check it\n",
    );
    let run = new_run(&env, "workflow", "gate", 3);
    let s = Server::start(&env);
    let doc = Doc::load();
    let before = events(&env, &run).len();
    let cli = env.run(&["--json", "workflow", "resume", &run]);
    assert_eq!(cli.code, 3);
    for body in ["{}", r#"{"mode":"continue"}"#] {
        let r = s.post(&format!("/api/v1/runs/{run}/resume"), body);
        assert_eq!(r.status, 200, "{body}: {}", r.body);
        assert_eq!(r.exit_code(), 3, "{body}: {}", r.body);
        let status = r.json();
        assert!(
            status["note"]
                .as_str()
                .unwrap()
                .contains("nothing to resume, nothing was recorded"),
            "{status}"
        );
        assert_eq!(status["note"], cli.json()["note"]);
        doc.check("/api/v1/runs/{id}/resume", "post", 200, &status);
    }
    assert_eq!(events(&env, &run).len(), before, "nothing was recorded");
    assert_eq!(
        s.get(&format!("/api/v1/runs/{run}")).json()["status"],
        "waiting"
    );
}

/// Small things the API answered wrong: `Authorization: bearer TOKEN` (the scheme in another
/// case, RFC 7235) was 401; `GET /api/v1/` (its trailing slash) was an HTML page where every
/// other unknown API address is the JSON error; and a 405, which every address answers to a
/// method it does not take, was missing from the OpenAPI document.
#[test]
fn the_bearer_scheme_in_any_case_api_slash_as_json_and_405_documented() {
    let env = home();
    let s = Server::start(&env);
    let doc = Doc::load();
    for scheme in ["bearer", "BEARER", "Bearer"] {
        let r = s.post_with(
            "/api/v1/runs/nosuchrun/abort",
            "",
            &[("authorization", &format!("{scheme} {TOKEN}"))],
        );
        assert_eq!(r.status, 404, "{scheme}: {}", r.body);
    }
    let r = s.post_with(
        "/api/v1/runs/nosuchrun/abort",
        "",
        &[("authorization", "bearer wrong-token-wrong-token")],
    );
    assert_eq!(r.status, 401, "{}", r.body);
    for path in ["/api/v1/", "/api/v1", "/api/v2/runs"] {
        let r = s.get(path);
        assert_eq!(r.status, 404, "{path}");
        assert!(
            r.header("content-type")
                .is_some_and(|c| c.contains("application/json")),
            "{path}: {:?}",
            r.headers
        );
        assert_eq!(r.json()["error"], "no such endpoint", "{path}");
    }
    let r = s.get("/api/v1/runs/x/abort");
    assert_eq!(r.status, 405);
    doc.check("/api/v1/runs/{id}/abort", "post", 405, &r.json());
    let r = s.put("/api/v1/runs");
    assert_eq!(r.status, 405);
    doc.check("/api/v1/runs", "get", 405, &r.json());
    for (path, ops) in doc.0["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            assert!(
                op["responses"]["405"].is_object(),
                "{method} {path} does not document 405"
            );
        }
    }
}

/// A method no route takes: on an address no route has it is the 404 every method gets (the
/// JSON one under /api), and on a route a 405 that always names what the address takes
/// (`Allow`) — before the token is asked for (a POST of a read without the token was 401).
/// Before, PUT, DELETE, OPTIONS and PATCH of an unknown address were a 405 without `Allow`
/// (`PATCH /api` an HTML page).
#[test]
fn any_method_on_an_unknown_api_path_is_the_json_404_and_every_405_carries_allow() {
    let env = home();
    let s = Server::start(&env);
    let doc = Doc::load();
    for (method, path) in [
        ("PUT", "/api/v1/nope"),
        ("DELETE", "/api/v1/"),
        ("OPTIONS", "/api/v1/nope"),
        ("DELETE", "/api/v1/runs/ID/foo"),
        ("PATCH", "/api"),
        ("POST", "/api/v1/nope"),
    ] {
        let r = s.request(method, path, true);
        assert_eq!(r.status, 404, "{method} {path}: {}", r.body);
        assert!(
            r.header("content-type")
                .is_some_and(|c| c.contains("application/json")),
            "{method} {path}: {:?}",
            r.headers
        );
        assert_eq!(r.json()["error"], "no such endpoint", "{method} {path}");
    }
    for (method, path, token, allow) in [
        ("POST", "/api/v1/runs", false, "GET,HEAD"),
        ("POST", "/api/v1/runs", true, "GET,HEAD"),
        ("DELETE", "/api/v1/runs/ID", true, "GET,HEAD"),
        ("OPTIONS", "/api/v1/runs/ID/abort", false, "POST"),
        ("GET", "/api/v1/runs/ID/abort", true, "POST"),
    ] {
        let r = s.request(method, path, token);
        assert_eq!(r.status, 405, "{method} {path}: {}", r.body);
        assert_eq!(r.header("allow"), Some(allow), "{method} {path}");
        assert_eq!(r.exit_code(), 2, "{method} {path}");
        doc.check("/api/v1/runs", "get", 405, &r.json());
    }
}

/// A report on a scenario phase the run has not reached said only "phase `b` is pending, not
/// waiting for a report": it says too that the run has not reached it, as a workflow step's
/// report says what the run waits on.
#[test]
fn a_report_on_a_pending_scenario_phase_says_the_run_has_not_reached_it() {
    let env = home();
    env.scenario(
        "gate",
        "name: gate\ndescription: d\nphases:\n  - {name: a, description: a, condition: manual}\n  - {name: b, description: b, condition: \"after:a\"}\n",
    );
    let ran = env.run(&["--json", "orchestrate", "run", "gate"]);
    let run = ran.json()["run_id"].as_str().unwrap().to_string();
    let s = Server::start(&env);
    let doc = Doc::load();
    let r = s.post(&format!("/api/v1/runs/{run}/steps/b/complete"), "{}");
    // The run's state refuses the report now: a conflict (409), as a report that another
    // got there first.
    assert_eq!(r.status, 409, "{}", r.body);
    let error = r.json();
    assert!(
        error["error"].as_str().unwrap().contains("`b` is pending"),
        "{error}"
    );
    assert!(
        error["hints"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h.as_str().unwrap().contains("has not reached it yet")),
        "{error}"
    );
    doc.check(
        "/api/v1/runs/{id}/steps/{step}/complete",
        "post",
        400,
        &error,
    );
}

/// `mode: retry` of a scenario run whose phase failed runs that phase again with a fresh retry
/// budget and goes on, as `orchestrate resume --retry`; before, it was refused as "for
/// workflow runs" (the page's button follows the status's first suggestion, now `--retry`).
#[test]
fn a_scenario_run_resumed_with_mode_retry_runs_its_failed_phase_again_and_goes_on() {
    let env = home();
    env.config("{\"workflow\": {\"max_retry_attempts\": 0}}");
    env.scenario(
        "blk",
        "name: blk\ndescription: d\nphases:\n  - {name: a, description: a, run: 'echo x >> a.log; test -f ok'}\n  - {name: b, description: b, condition: 'after:a', run: 'echo b >> b.log'}\n",
    );
    let run = new_run(&env, "orchestrate", "blk", 1);
    let s = Server::start(&env);
    let status = s.get(&format!("/api/v1/runs/{run}")).json();
    assert_eq!(status["next"][0]["argv"][4], "--retry", "{status}");
    std::fs::write(env.file("ok"), "").unwrap();
    let r = s.post(
        &format!("/api/v1/runs/{run}/resume"),
        r#"{"mode": "retry"}"#,
    );
    assert!(r.status < 300, "{} {}", r.status, r.body);
    let done = settled(&s, &run);
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(common::lines(&env.file("a.log")).len(), 2);
    assert_eq!(common::lines(&env.file("b.log")), ["b"]);
}

/// The exit code `X-Cortex-Exit-Code` gives for an answer whose run a background driver of
/// the server carries on: the CLI's for a change on a run another driver carries on — 0 while
/// it runs, else the code of its status (3 waiting, SPEC §5).
fn carried_on_code(body: &Value, cli: i32) -> i32 {
    match body["status"].as_str() {
        Some("running") => 0,
        _ => cli,
    }
}

/// A run the API starts, a report it records and a resume it makes, which leave the run
/// waiting on people, carry the exit code the CLI twin gives (3), as `openapi.json` says of
/// `X-Cortex-Exit-Code`. Before, each answered 202 with `"status": "waiting"` and exit code 0
/// (the code of `status`, whose document it is), where `workflow run`, `workflow step complete
/// --no-drive` and `orchestrate run` exit 3.
#[test]
fn a_run_left_waiting_by_an_api_action_carries_the_clis_exit_code() {
    let env = home();
    env.workflow(
        "asks",
        "name: asks\nsteps:\n  - name: ask\n    prompt: first\n  - name: again\n    prompt: second\n",
    );
    let s = Server::start(&env);
    // run: the CLI twin ends waiting, 3.
    let cli = env.run(&["workflow", "run", "asks"]);
    assert_eq!(cli.code, 3, "{}", cli.text());
    let r = s.post("/api/v1/workflows/asks/runs", "{}");
    assert_eq!(r.status, 202, "{}", r.body);
    let body = r.json();
    assert_eq!(r.exit_code(), carried_on_code(&body, cli.code), "{body:#}");
    let run = body["run_id"].as_str().unwrap().to_string();
    let now = settled(&s, &run);
    assert_eq!(now["status"], "waiting", "{now:#}");

    // complete: the CLI's report leaves the run waiting on the next prompt, 3.
    let twin = newest_run(&env, "workflow");
    let twin = if twin == run {
        env.run(&["--json", "workflow", "history"]).json()["runs"].clone()[1]["run_id"]
            .as_str()
            .unwrap()
            .to_string()
    } else {
        twin
    };
    let cli = env.run(&["workflow", "step", "complete", "ask", "--run", &twin]);
    assert_eq!(cli.code, 3, "{}", cli.text());
    let r = s.post(&format!("/api/v1/runs/{run}/steps/ask/complete"), "{}");
    assert!(r.status == 200 || r.status == 202, "{}", r.body);
    let body = r.json();
    assert_eq!(r.exit_code(), carried_on_code(&body, cli.code), "{body:#}");
    let now = settled(&s, &run);
    assert_eq!(now["status"], "waiting", "{now:#}");

    // A scenario run whose first phase waits for a report: `orchestrate run` exits 3.
    let cli = env.run(&["orchestrate", "run", "gate"]);
    assert_eq!(cli.code, 3, "{}", cli.text());
    let r = s.post("/api/v1/scenarios/gate/runs", "{}");
    assert_eq!(r.status, 202, "{}", r.body);
    let body = r.json();
    assert_eq!(r.exit_code(), carried_on_code(&body, cli.code), "{body:#}");
    let gate = body["run_id"].as_str().unwrap().to_string();
    let now = settled(&s, &gate);
    // Asked again once it settled, the answer of an action that changes nothing is the
    // CLI's own: `resume` of a run waiting on people, 3.
    assert_eq!(now["status"], "waiting", "{now:#}");
    let r = s.post(&format!("/api/v1/runs/{gate}/resume"), "{}");
    let cli = env.run(&["orchestrate", "resume", &gate]);
    assert_eq!((r.exit_code(), cli.code), (3, 3), "{}", r.body);
}

/// `-0` as an integer input is the integer 0 through the API as through `--input n=-0`: the
/// API said "`-0.0` is not an integer" (400), a value nobody sent, since serde_json reads a
/// JSON `-0` as the float -0.0. Both runs record the same input.
#[test]
fn an_integer_input_given_as_minus_zero_is_zero_through_the_api_as_through_the_cli() {
    let env = home();
    env.workflow(
        "count",
        "name: count\ninputs:\n  n: {type: integer, required: true}\nsteps:\n  - name: a\n    run: echo n=${{ inputs.n }}\n",
    );
    let s = Server::start(&env);
    let r = s.post("/api/v1/workflows/count/runs", r#"{"inputs": {"n": -0}}"#);
    assert_eq!(r.status, 202, "{}", r.body);
    let web = r.json()["run_id"].as_str().unwrap().to_string();
    let done = settled(&s, &web);
    assert_eq!(done["status"], "completed", "{done:#}");
    let cli = env.run(&["workflow", "run", "count", "--input", "n=-0"]);
    assert_eq!(cli.code, 0, "{}", cli.text());
    let twin = newest_run(&env, "workflow");
    assert_ne!(twin, web);
    let started = |run: &str| events(&env, run)[0]["body"]["inputs"].clone();
    assert_eq!(started(&web), started(&twin));
    assert_eq!(started(&web)["n"], json!(0), "{}", started(&web));
    // Still refused: a number that is no integer, as it was sent.
    let r = s.post("/api/v1/workflows/count/runs", r#"{"inputs": {"n": 1.5}}"#);
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("`1.5` is not an integer"), "{}", r.body);
}

/// A start's body is a message alone (`Message` in `openapi.json`): an unknown field in it
/// is said to expect `message`. Before, the error said it expected `outputs` or `message`,
/// and `outputs` was then refused.
#[test]
fn an_unknown_field_in_a_start_names_the_one_field_a_start_takes() {
    let env = home();
    let s = Server::start(&env);
    let gate = new_run(&env, "orchestrate", "gate", 3);
    for body in [r#"{"x": 1}"#, r#"{"outputs": {"a": "b"}}"#] {
        let r = s.post(&format!("/api/v1/runs/{gate}/steps/ship/start"), body);
        assert_eq!(r.status, 400, "{body}: {}", r.body);
        let message = r.json()["error"].as_str().unwrap_or_default().to_string();
        assert!(message.contains("expected `message`"), "{body}: {}", r.body);
        assert!(!message.contains("`outputs` or"), "{body}: {}", r.body);
    }
    // A start with a message alone still starts the phase.
    let r = s.post(
        &format!("/api/v1/runs/{gate}/steps/ship/start"),
        r#"{"message": "go"}"#,
    );
    assert!(r.status == 200 || r.status == 202, "{}", r.body);
}

/// A workflow run is stopped from the server whoever drives it: one this server drives
/// (started here: its background driver runs its step) — the driver is asked, the stop is
/// recorded with the server's actor and the message, the answer is the stopped run's status
/// document, and resume goes on; its page offers Stop while it runs. One a terminal drives
/// (`cortex workflow run` in another process) is stopped the same way, through the log, and
/// that terminal's drive ends exit 3; one nobody drives has the stop recorded at once.
/// Before, a workflow run this server did not drive was a 400 ("stopped only by what drives
/// it"), and only abort was offered.
#[test]
fn a_workflow_run_is_stopped_from_the_server_whoever_drives_it_and_resumes() {
    let env = home();
    env.workflow(
        "slow",
        "name: slow\nsteps:\n  - name: s1\n    run: sleep 30\n",
    );
    env.workflow("ask", "name: ask\nsteps:\n  - {name: a, prompt: approve}\n");
    let doc = Doc::load();
    let s = Server::start(&env);
    let r = s.post("/api/v1/workflows/slow/runs", "{}");
    assert_eq!(r.status, 202, "{}", r.body);
    let run = r.json()["run_id"].as_str().unwrap().to_string();
    eventually(60, "the step to run", || {
        let status = s.get(&format!("/api/v1/runs/{run}")).json();
        (status["steps"][0]["status"] == "running").then_some(())
    });
    let page = s.get(&format!("/runs/{run}")).body;
    assert!(
        page.contains(&format!(r#"action="/runs/{run}/stop""#)),
        "the page offers Stop: {page}"
    );
    let r = s.post(
        &format!("/api/v1/runs/{run}/stop"),
        r#"{"message": "enough for today"}"#,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    doc.check("/api/v1/runs/{id}/stop", "post", 200, &r.json());
    assert_eq!(r.json()["status"], "stopped", "{}", r.body);
    assert_eq!(r.json()["resumable"], true, "{}", r.body);
    let asked = events(&env, &run)
        .into_iter()
        .find(|e| e["type"] == "stop_requested")
        .expect("the stop is recorded");
    assert_eq!(asked["body"]["message"], "enough for today", "{asked}");
    assert!(
        events(&env, &run)
            .iter()
            .any(|e| e["type"] == "run_stopped")
    );
    let page = s.get(&format!("/runs/{run}")).body;
    assert!(
        !page.contains(&format!(r#"action="/runs/{run}/stop""#)),
        "no Stop once stopped: {page}"
    );
    let r = s.post(&format!("/api/v1/runs/{run}/resume"), "{}");
    assert!(r.status < 300, "{} {}", r.status, r.body);
    eventually(60, "the resumed step to run", || {
        let status = s.get(&format!("/api/v1/runs/{run}")).json();
        (status["steps"][0]["status"] == "running").then_some(())
    });
    let r = s.post(&format!("/api/v1/runs/{run}/abort"), "{}");
    assert_eq!(r.status, 200, "{}", r.body);

    // Driven by a terminal elsewhere: its page offers Stop, which reaches that driver.
    let mut terminal = env
        .command(&["workflow", "run", "slow"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let elsewhere = eventually(60, "the terminal's step to run", || {
        let other = newest_run(&env, "workflow");
        if other == run {
            return None;
        }
        let status = s.get(&format!("/api/v1/runs/{other}")).json();
        (status["steps"][0]["status"] == "running").then_some(other)
    });
    let page = s.get(&format!("/runs/{elsewhere}")).body;
    assert!(
        page.contains(&format!(r#"action="/runs/{elsewhere}/stop""#)),
        "the page offers Stop: {page}"
    );
    let r = s.post(
        &format!("/api/v1/runs/{elsewhere}/stop"),
        r#"{"message": "from the web"}"#,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    doc.check("/api/v1/runs/{id}/stop", "post", 200, &r.json());
    assert_eq!(r.json()["status"], "stopped", "{}", r.body);
    assert_eq!(terminal.wait().unwrap().code(), Some(3));

    // Driven by nobody (waiting for a report): the stop is recorded at once.
    let waiting = new_run(&env, "workflow", "ask", 3);
    let r = s.post(&format!("/api/v1/runs/{waiting}/stop"), "{}");
    assert_eq!(r.status, 200, "{}", r.body);
    doc.check("/api/v1/runs/{id}/stop", "post", 200, &r.json());
    assert_eq!(r.json()["status"], "stopped", "{}", r.body);
    assert!(
        events(&env, &waiting)
            .iter()
            .any(|e| e["type"] == "run_stopped")
    );
}

/// A failed run with a secret input offers on its page the recovery `next` lists — retry and
/// skip, with a field for the secret (optional while this server keeps it, asked for again by
/// a server that does not) — not only abort. Before, the suggestions carrying
/// `--input NAME=VALUE` matched no form and the page hid them.
#[test]
fn a_failed_run_with_a_secret_input_offers_retry_and_skip_on_its_page() {
    let env = home();
    env.workflow(
        "sec",
        "name: sec\ninputs:\n  api_token: {type: string, required: true}\nsteps:\n  - name: use\n    run: exit 1\n    retry: {max_retry_attempts: 0}\n  - name: ask\n    prompt: \"use ${{ inputs.api_token }}\"\n",
    );
    let run = {
        let s = Server::start(&env);
        let run = start_with_api_token(&s, "sec", "x-secret-123");
        assert_eq!(settled(&s, &run)["status"], "failed");
        let page = s.get(&format!("/runs/{run}")).body;
        for button in ["Resume (retry)", "Resume (skip)", "Abort"] {
            assert!(page.contains(button), "{button} offered: {page}");
        }
        assert!(page.contains("kept by this server: leave empty"), "{page}");
        assert!(!page.contains("x-secret-123"));
        run
    };
    // A server that does not hold the value asks for it in the same forms.
    let s = Server::start(&env);
    let page = s.get(&format!("/runs/{run}")).body;
    for button in ["Resume (retry)", "Resume (skip)"] {
        assert!(page.contains(button), "{button} offered: {page}");
    }
    assert!(page.contains("secret input: give it again"), "{page}");
}

/// A page's resume form asks only for the secret inputs that resume may read
/// (`plan::resume_secret_inputs` for its mode, the function the TUI's resume form and `resume`
/// use): a retry of a command asks for the token, a skip past it to a step that does not read
/// it asks for nothing. Before, every resume form had a field for every secret input.
#[test]
fn a_pages_resume_form_asks_only_for_the_secret_inputs_that_resume_may_read() {
    let env = home();
    env.workflow(
        "sec",
        "name: sec\ninputs:\n  api_token: {type: string, required: true}\nsteps:\n  - name: use\n    run: exit 1\n    retry: {max_retry_attempts: 0}\n  - name: ask\n    prompt: \"go on\"\n",
    );
    let s = Server::start(&env);
    let run = start_with_api_token(&s, "sec", "x-secret-123");
    assert_eq!(settled(&s, &run)["status"], "failed");
    let page = s.get(&format!("/runs/{run}")).body;
    let form_of = |mode: &str| {
        page.split("<form")
            .find(|f| f.contains(&format!("name=\"mode\" value=\"{mode}\"")))
            .unwrap_or_else(|| panic!("a {mode} form: {page}"))
            .to_string()
    };
    assert!(
        form_of("retry").contains("name=\"input.api_token\""),
        "{page}"
    );
    assert!(
        !form_of("skip").contains("name=\"input.api_token\""),
        "{page}"
    );
}

/// `GET /api/v1/verify` of a home with no runs yet (no log made) answers an empty log,
/// verified — every page's footer links to it — where `cortex log verify` keeps its exit 2.
/// Before, the API answered the CLI's 400, whose hint named `--home` and `--db`.
#[test]
fn verifying_a_home_with_no_runs_yet_through_the_api_answers_an_empty_verified_log() {
    let env = home();
    let doc = Doc::load();
    let s = Server::start(&env);
    let r = s.get("/api/v1/verify");
    assert_eq!(r.status, 200, "{}", r.body);
    doc.check("/api/v1/verify", "get", 200, &r.json());
    assert_eq!(r.json()["ok"], true, "{}", r.body);
    assert_eq!(r.json()["runs"], 0, "{}", r.body);
    assert!(!r.body.contains("--home"), "{}", r.body);
    env.run(&["log", "verify"]).assert_exit(2);
}

/// The run page honours `?at=SEQ` as `status --at` does: the state as of that event, said so,
/// read-only (no action forms, not followed live); a value that is no event of the run is a
/// 400, as the API's. Before, the page ignored `at` and showed the present with its actions.
#[test]
fn the_run_page_at_an_event_shows_that_past_state_read_only() {
    let env = home();
    env.workflow(
        "two",
        "name: two\nsteps:\n  - {name: first, run: 'true'}\n  - {name: ask, prompt: approve}\n",
    );
    let run = new_run(&env, "workflow", "two", 3);
    let s = Server::start(&env);
    let now = s.get(&format!("/runs/{run}")).body;
    assert!(now.contains(r#"class="report""#), "{now}");
    let past = s.get(&format!("/runs/{run}?at=2"));
    assert_eq!(past.status, 200, "{}", past.body);
    assert!(past.body.contains("as of event 2"), "{}", past.body);
    assert!(!past.body.contains("<form class="), "{}", past.body);
    assert!(past.body.contains(r#"data-live="past""#), "{}", past.body);
    for bad in ["zz", "99999", "-1"] {
        let r = s.get(&format!("/runs/{run}?at={bad}"));
        assert_eq!(r.status, 400, "at={bad}: {}", r.body);
        let api = s.get(&format!("/api/v1/runs/{run}?at={bad}"));
        assert_eq!(api.status, 400, "at={bad}: {}", api.body);
    }
}

/// Seen by a review: an agent that runs with Claude Code was shown as waiting for a report —
/// the /agents page's "Runs" column said "waits for a report", and `/api/v1/agents` had
/// `command: null` and no runner. Both say Claude Code, its program and model, for a
/// `runner: claude` agent and for one the configured default runner gives it; an agent with
/// a command shows it, and one with neither (no default runner) still waits for a report.
#[test]
fn the_agents_page_and_api_say_which_agents_run_with_claude_code() {
    let env = home();
    env.config(
        r#"{"agents": {"claude": {"program": "/opt/claude-code/claude", "model": "haiku"}}}"#,
    );
    for (name, front) in [
        ("coder", "runner: claude\nmodel: sonnet\n"),
        ("scribe", "command: cat > notes.txt\n"),
        ("person", ""),
    ] {
        std::fs::write(
            env.home().join(format!("agents/{name}.md")),
            format!("---\nname: {name}\ndescription: d\n{front}---\nYou work.\n"),
        )
        .unwrap();
    }
    let doc = Doc::load();
    let s = Server::start(&env);
    let list = twin(
        &s,
        &env,
        &doc,
        "/api/v1/agents",
        "/api/v1/agents",
        &["agent", "list"],
    );
    let row = |name: &str| common::agent_row(&list, name);
    assert_eq!(row("coder")["runner"], "claude");
    assert_eq!(
        row("coder")["claude"],
        json!({"program": "/opt/claude-code/claude", "model": "sonnet"})
    );
    assert_eq!(row("scribe")["runner"], "command");
    assert_eq!(row("person")["runner"], "external");
    assert_eq!(row("person")["claude"], Value::Null);
    let coder = twin(
        &s,
        &env,
        &doc,
        "/api/v1/agents/{name}",
        "/api/v1/agents/coder",
        &["agent", "status", "coder"],
    );
    assert_eq!(coder["runner"], "claude");
    let page = s.get("/agents").body;
    let row_of = |name: &str| {
        let at = page.find(&format!(">{name}<")).unwrap();
        page[at..page[at..].find("</tr>").unwrap() + at].to_string()
    };
    assert!(
        row_of("coder").contains("Claude Code")
            && row_of("coder").contains("/opt/claude-code/claude")
            && row_of("coder").contains("model sonnet")
            && !row_of("coder").contains("waits for a report"),
        "{}",
        row_of("coder")
    );
    assert!(
        row_of("person").contains("waits for a report"),
        "{}",
        row_of("person")
    );
    drop(s);

    // The configured default runner gives Claude Code every agent with neither a command nor
    // a runner: the same agent is shown so, with the configuration's model.
    env.config(r#"{"agents": {"runner": "claude", "claude": {"program": "/opt/claude-code/claude", "model": "haiku"}}}"#);
    let s = Server::start(&env);
    let person = twin(
        &s,
        &env,
        &doc,
        "/api/v1/agents/{name}",
        "/api/v1/agents/person",
        &["agent", "status", "person"],
    );
    assert_eq!(person["runner"], "claude", "{person}");
    assert_eq!(person["claude"]["model"], "haiku", "{person}");
    let page = s.get("/agents").body;
    let at = page.find(">person<").unwrap();
    let row = &page[at..page[at..].find("</tr>").unwrap() + at];
    assert!(
        row.contains("Claude Code") && row.contains("model haiku"),
        "{row}"
    );
}

/// A report on a step that lives in the parent's `uses:` child run, addressed to the parent,
/// names that child run and the address that reports it there (the CLI's twin says the
/// exact command); before, a bare 404 "run has no step look".
#[test]
fn a_report_on_a_child_runs_step_through_its_parent_points_to_the_child_run() {
    let env = home();
    env.workflow("kid", KID).workflow("elder", PARENT_OF_KIDS);
    env.run(&["workflow", "run", "elder"]).assert_exit(3);
    let parent = env.run(&["--json", "workflow", "history"]).json()["runs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "elder")
        .unwrap()["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    let child = env.status(Some(&parent))["steps"][0]["uses"]["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    let s = Server::start(&env);
    let r = s.post(&format!("/api/v1/runs/{parent}/steps/look/complete"), "{}");
    assert_eq!(r.status, 404, "{}", r.body);
    let doc = r.json();
    assert!(
        doc["error"].as_str().unwrap().contains(&child),
        "the child run is named: {doc}"
    );
    let hints = doc["hints"].to_string();
    assert!(
        hints.contains(&format!("POST /api/v1/runs/{child}/steps/look/complete")),
        "the address that reports it there is given: {hints}"
    );
    // Followed, it records the report.
    let r = s.post(&format!("/api/v1/runs/{child}/steps/look/complete"), "{}");
    assert_eq!(r.status, 200, "{}", r.body);
}

const DEPLOY: &str = "name: deploy\ndescription: d\ninputs:\n  api_token: {type: string, required: true}\n  count: {type: integer, default: 2}\n  who: {type: string, required: true}\n  tier: {type: string, enum: [gold, silver], default: silver}\nphases:\n  - name: p\n    description: Deploy ${{ inputs.who }} with ${{ inputs.api_token }} x${{ inputs.count }} on ${{ inputs.tier }}\n    run: echo \"${{ inputs.who }}\"\n";

/// Seen by a review: the API's preview took no inputs (`orchestrate preview NAME --input
/// k=v` did), so a scenario whose phases read `${{ inputs.x }}` previewed with them as
/// written, and so did the catalog page. `?input=NAME=VALUE` (once per input) is read as
/// `--input` is: the same document as the CLI's (a secret one `***`), and a bad pair, a name
/// given twice or a value refused is a 400 with the CLI's error, never quoting a secret.
#[test]
fn a_preview_through_the_api_takes_inputs_as_the_cli_does() {
    let env = home();
    env.scenario("deploy", DEPLOY);
    let doc = Doc::load();
    let s = Server::start(&env);
    let template = "/api/v1/scenarios/{name}/preview";
    let secret = "hunter2-not-shown";
    let r = s.get(&format!(
        "/api/v1/scenarios/deploy/preview?input=who=ops%20team&input=api_token={secret}&input=count=5"
    ));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.exit_code(), 0);
    let body = r.json();
    doc.check(template, "get", 200, &body);
    assert_eq!(
        body["inputs"],
        json!({"api_token": "***", "count": 5, "tier": "silver", "who": "ops team"}),
        "{body}"
    );
    assert!(!r.body.contains(secret), "{}", r.body);
    let token = format!("api_token={secret}");
    let cli = env.run(&[
        "--json",
        "orchestrate",
        "preview",
        "deploy",
        "--input",
        "who=ops team",
        "--input",
        &token,
        "--input",
        "count=5",
    ]);
    assert_eq!(body, cli.json());
    // Without inputs: the defaults, as before.
    let plain = s.get("/api/v1/scenarios/deploy/preview").json();
    assert_eq!(plain["inputs"], json!({"count": 2, "tier": "silver"}));
    let refused = |query: &str, says: &str| -> Value {
        let r = s.get(&format!("/api/v1/scenarios/deploy/preview?{query}"));
        assert_eq!(r.status, 400, "{query}: {}", r.body);
        assert_eq!(r.exit_code(), 2, "{query}");
        assert!(!r.body.contains(secret), "{query}: {}", r.body);
        let body = r.json();
        doc.check(template, "get", 400, &body);
        assert!(
            body["error"].as_str().unwrap().contains(says),
            "{query}: expected `{says}` in {body}"
        );
        assert!(
            body["hints"].as_array().is_some_and(|h| !h.is_empty())
                || body["errors"].as_array().is_some_and(|e| !e.is_empty()),
            "{query}: a refusal without a hint: {body}"
        );
        body
    };
    let no_pair = refused(
        "input=who",
        "query parameter `input` `who` has no `=`: each `input` is given as NAME=VALUE",
    );
    assert!(
        no_pair["hints"][0]
            .as_str()
            .unwrap()
            .contains("input=who=VALUE in the address"),
        "{no_pair}"
    );
    refused("input==me", "has no name before its `=`");
    refused(
        "input=who=a&input=who=b",
        "query parameter `input` gives `who` twice",
    );
    refused(
        "input=who=VALUE",
        "is the placeholder of a suggested command",
    );
    // A name or a value refused: the CLI's own error, the secret never quoted.
    let bad = format!("input=nope=1&input=count=many&input=tier=bronze&input=api_token={secret}");
    let body = refused(&bad, "the inputs of `deploy` are not valid");
    let cli = env.run(&[
        "--json",
        "orchestrate",
        "preview",
        "deploy",
        "-i",
        "nope=1",
        "-i",
        "count=many",
        "-i",
        "tier=bronze",
        "-i",
        &token,
    ]);
    assert_eq!(cli.code, 2, "{}", cli.text());
    assert_eq!(body["error"], cli.json()["error"], "{body}");
    assert_eq!(body["errors"], cli.json()["errors"], "{body}");
}

/// Seen by a review: `GET /api/v1/scenarios/NAME/preview?inputs=msg=1` (for `input=`) answered
/// 200 with the defaults, and `?input=msg=%ff%fe` read the bytes as U+FFFD. A query parameter
/// an address does not read is a 400 naming it and those the address takes (on every route:
/// one that reads none says so, a POST too, nothing done), as is a name or value not UTF-8
/// once percent-decoded; what the addresses do read still works, U+FFFD given as UTF-8 too.
#[test]
fn an_unknown_or_undecodable_query_parameter_is_refused_naming_what_the_address_takes() {
    let env = home();
    env.scenario("deploy", DEPLOY);
    let doc = Doc::load();
    let s = Server::start(&env);
    let refused = |method: &str, template: &str, path: &str, says: &[&str]| -> Value {
        let r = match method {
            "get" => s.get(path),
            _ => s.post(path, "{}"),
        };
        assert_eq!(r.status, 400, "{path}: {}", r.body);
        assert_eq!(r.exit_code(), 2, "{path}");
        let body = r.json();
        doc.check(template, method, 400, &body);
        let said = format!("{} {}", body["error"], body["hints"]);
        for s in says {
            assert!(said.contains(s), "{path}: expected `{s}` in {body}");
        }
        body
    };
    let preview = "/api/v1/scenarios/{name}/preview";
    refused(
        "get",
        preview,
        "/api/v1/scenarios/deploy/preview?inputs=who=me",
        &[
            "`inputs` is not a query parameter of /api/v1/scenarios/{name}/preview",
            "it takes `input`",
        ],
    );
    refused(
        "get",
        preview,
        "/api/v1/scenarios/deploy/preview?input=who=me%ff%fe&input=api_token=t",
        &["the value of `input` is not UTF-8 once percent-decoded"],
    );
    refused(
        "get",
        preview,
        "/api/v1/scenarios/deploy/preview?%ff=1",
        &["a query parameter's name is not UTF-8 once percent-decoded"],
    );
    refused(
        "get",
        "/api/v1/runs",
        "/api/v1/runs?kind=workflow&limits=5",
        &[
            "`limits` is not a query parameter",
            "it takes `kind`, `limit`, `before`",
        ],
    );
    refused(
        "get",
        "/api/v1/workflows",
        "/api/v1/workflows?kind=workflow",
        &[
            "`kind` is not a query parameter of /api/v1/workflows",
            "it takes none",
        ],
    );
    // A name holding a control character is shown, never sent raw.
    let body = refused(
        "get",
        "/api/v1/agents",
        "/api/v1/agents?a%1b%5b2Jb=1",
        &["is not a query parameter of /api/v1/agents"],
    );
    assert!(
        !body["error"].as_str().unwrap().contains('\u{1b}'),
        "{body}"
    );
    // A POST with a parameter it does not read: refused, nothing recorded.
    refused(
        "post",
        "/api/v1/workflows/{name}/runs",
        "/api/v1/workflows/ship/runs?wait=1",
        &["`wait` is not a query parameter of /api/v1/workflows/{name}/runs"],
    );
    assert_eq!(
        env.run(&["--json", "workflow", "history"]).json()["runs"],
        json!([])
    );
    // What the addresses read is read as before; U+FFFD written as UTF-8 is a character.
    let r = s.get("/api/v1/scenarios/deploy/preview?input=who=%EF%BF%BD&input=api_token=t");
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["inputs"]["who"], "\u{fffd}");
    assert_eq!(s.get("/api/v1/runs?kind=workflow&limit=5").status, 200);
    assert_eq!(s.get("/api/v1/workflows").status, 200);
    // An address no route answers is still the 404, whatever its query.
    assert_eq!(s.get("/api/v1/nothing?x=1").status, 404);
}

/// The catalog page's preview is made with the inputs its form gives (`input.NAME` fields,
/// sent to the page itself): the phases rendered with them, a secret one `***` and its field a
/// password never filled back in, the others kept in their fields; a value refused is said
/// where the preview stands, escaped.
#[test]
fn the_catalog_pages_preview_has_a_form_for_the_scenarios_inputs() {
    let env = home();
    env.scenario("deploy", DEPLOY);
    let s = Server::start(&env);
    let secret = "hunter2-not-shown";
    let page = s.get("/catalog/scenarios/deploy").body;
    assert!(
        page.contains(
            r#"<form class="preview-inputs" method="get" action="/catalog/scenarios/deploy">"#
        ),
        "{page}"
    );
    assert!(
        page.contains(r#"type="password" name="input.api_token""#),
        "{page}"
    );
    // Inputs not given are said in words, as `orchestrate preview` and `run --dry-run` say them.
    assert!(
        page.contains(
            "Deploy (no input `who`: none was given) with (no input `api_token`: none was given) x2 on silver"
        ),
        "{page}"
    );
    let page = s
        .get(&format!(
            "/catalog/scenarios/deploy?input.who=ops+%3Cb%3Eteam%3C%2Fb%3E&input.api_token={secret}&input.count=5&input.tier=gold&input.nope="
        ))
        .body;
    assert!(
        page.contains("Deploy ops &lt;b&gt;team&lt;/b&gt; with *** x5 on gold"),
        "{page}"
    );
    assert!(!page.contains(secret), "the secret is echoed: {page}");
    assert!(!page.contains("<b>team"), "{page}");
    // The form keeps what the preview was made with, but for the secret.
    let preview = page
        .split_once(r#"class="preview-inputs""#)
        .and_then(|(_, rest)| rest.split_once("</form>"))
        .map(|(form, _)| form)
        .expect("the preview's form");
    assert!(
        preview.contains(r#"value="ops &lt;b&gt;team&lt;/b&gt;""#),
        "{preview}"
    );
    assert!(preview.contains(r#"value="5""#), "{preview}");
    assert!(
        preview.contains(r#"<option value="gold" selected>"#),
        "{preview}"
    );
    assert!(
        !preview.contains(" required"),
        "nothing is required in a preview: {preview}"
    );
    let field = preview
        .split_once(r#"name="input.api_token""#)
        .map(|(_, rest)| rest.split_once('>').map_or(rest, |(a, _)| a))
        .unwrap();
    assert!(!field.contains("value="), "{field}");
    // A value refused: said where the preview stands, the run form still there.
    let page = s
        .get("/catalog/scenarios/deploy?input.count=%3Cmany%3E")
        .body;
    assert!(
        page.contains("the inputs of `deploy` are not valid") && page.contains("&lt;many&gt;"),
        "{page}"
    );
    assert!(!page.contains("<many>"), "{page}");
    assert!(page.contains(r#"class="run-form""#), "{page}");
}

/// Seen by a review: a phase completed through the server, which did not hold the run's
/// secret input (the CLI started the run), ran its `check:` criteria with the value `***`:
/// they passed or failed on the wrong value, silently. The report is refused (400, exit 2,
/// nothing recorded) naming the input and how to give it here — the body's `inputs`, as
/// MCP's `phase_complete` takes it, or the password field the page's complete form asks
/// with — and taken, the value kept for the run, once given.
#[test]
fn a_phase_completed_through_the_server_without_the_secret_its_checks_need_is_refused() {
    let env = Env::new();
    let secret = "k-web-s3cr3t-5e1";
    let run_id = common::waiting_on_a_secret_check(&env, secret);
    let s = Server::start(&env);
    let page = s.get(&format!("/runs/{run_id}")).body;
    assert!(
        page.contains(r#"type="password" name="input.api_token""#),
        "the complete form asks for nothing:\n{page}"
    );
    let before = env.events(&run_id).len();
    let path = format!("/api/v1/runs/{run_id}/steps/review/complete");
    let refused = s.post(&path, "{}");
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert_eq!(refused.exit_code(), 2);
    let doc = refused.json();
    assert!(
        doc["error"]
            .as_str()
            .is_some_and(|e| e.contains("need the secret input `api_token`")),
        "{doc}"
    );
    assert!(doc["hints"].to_string().contains("`inputs`"), "{doc}");
    assert_eq!(env.events(&run_id).len(), before, "something was recorded");
    let wrong = s.post(&path, r#"{"inputs": {"api_token": "not-the-value-0"}}"#);
    assert_eq!(wrong.status, 400, "{}", wrong.body);
    assert_eq!(env.events(&run_id).len(), before, "something was recorded");
    let done = s.post(
        &path,
        &format!(r#"{{"inputs": {{"api_token": "{secret}"}}}}"#),
    );
    assert!(done.status < 300, "{} {}", done.status, done.body);
    assert_eq!(settled(&s, &run_id)["status"], "completed");
    assert_eq!(env.log_holding(secret), Vec::<String>::new());
}

/// Seen by a review: a report through a server that did not hold the run's secret input left
/// the run undriven ("recorded; ... needs the value of its secret input"), though what was
/// left of it — a person's phase — reads none. The server asks only for those a remaining
/// phase may read (`plan::secret_inputs_ahead`, as `resume` does), so its driver goes on.
#[test]
fn a_report_through_the_server_drives_on_without_a_secret_nothing_left_reads() {
    let env = Env::new();
    env.scenario(
        "rel",
        "name: rel\ndescription: d\ninputs:\n  api_token: {type: string, required: true}\nphases:\n  - name: review\n    description: Review it\n  - name: sign\n    description: Sign it off\n    condition: after:review\n",
    );
    let run = env.run(&[
        "orchestrate",
        "run",
        "rel",
        "--input",
        "api_token=k-unread-0042",
    ]);
    assert_eq!(run.code, 3, "{}", run.text());
    let run_id = newest_run(&env, "orchestrate");
    let s = Server::start(&env);
    let done = s.post(
        &format!("/api/v1/runs/{run_id}/steps/review/complete"),
        "{}",
    );
    assert_eq!(done.status, 202, "{}", done.body);
    assert_eq!(done.header("x-cortex-warning"), None, "{:?}", done.headers);
    let status = settled(&s, &run_id);
    assert_eq!(
        common::phase(&status, "sign")["status"],
        "waiting",
        "{status}"
    );
}

/// The page's report form asks only what the step's own gate needs: the outputs a later step
/// reads (which `next`'s report suggestion carries as `--output KEY=VALUE`) are optional
/// there, as for `step complete` — a report without them is taken (with the CLI's warning).
#[test]
fn a_pages_report_form_does_not_require_the_outputs_only_later_steps_read() {
    let env = Env::new();
    env.workflow(
        "later",
        "name: later\nsteps:\n  - {name: Plan, prompt: 'Report the output `plan`.'}\n  - {name: Use, run: 'echo \"[${{ steps.Plan.outputs.plan }}]\"'}\n",
    );
    let run = new_run(&env, "workflow", "later", 3);
    let doc = env.run(&["--json", "workflow", "status", &run]).json();
    assert_eq!(
        doc["steps"][0]["expected_outputs"],
        json!(["plan"]),
        "{doc}"
    );
    let s = Server::start(&env);
    let auth = format!("Bearer {TOKEN}");
    let page = s.get_with(&format!("/runs/{run}"), &[("authorization", &auth)]);
    assert_eq!(page.status, 200, "{}", page.body);
    let form = &page.body[page.body.find("class=\"report\"").expect("a report form")..];
    let form = &form[..form.find("</form>").unwrap()];
    // Only the sign-in's token field is required (the form key), no output.
    let outputs = &form[form
        .find("<textarea name=\"outputs\"")
        .expect("an outputs field")..];
    let outputs = &outputs[..outputs.find('>').unwrap()];
    assert!(!outputs.contains("required"), "{form}");
    assert_eq!(form.matches("required").count(), 1, "{form}");
    let r = s.post_with(
        &format!("/runs/{run}/steps/Plan/complete"),
        &format!("token={TOKEN}"),
        &[("content-type", "application/x-www-form-urlencoded")],
    );
    assert!(r.status < 400, "{}: {}", r.status, r.body);
    assert_eq!(settled(&s, &run)["status"], "completed");
}

common::on_both_stores!(the_event_stream_says_a_run_a_worker_of_another_home_drives_is_driven);

/// A run driven by a worker of another home (its lock there, not in the server's home; a
/// driver lease in the log) is said driven by the event stream's `event: driver`, as its page
/// says it (`data-alive="true"`), and no longer once the run is over. Before, the stream asked
/// only for a lock in the server's home: `{"alive":false}` throughout, while the page said a
/// process drove it.
fn the_event_stream_says_a_run_a_worker_of_another_home_drives_is_driven(env: Env) {
    env.scenario(
        "held",
        "name: held\ndescription: d\nphases:\n  - {name: p, description: p, run: 'touch began; while [ ! -e go-on ]; do sleep 0.1; done'}\n",
    );
    let other = env.dir.path().join("other-home");
    std::fs::create_dir_all(&other).unwrap();
    let mut worker = env
        .command(&["worker", "--name", "far", "--poll", "100ms"])
        .env("CORTEX_HOME", &other)
        .env("CORTEX_DB", env.db_spec())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let out = env.run(&["orchestrate", "run", "held", "--submit"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let run = out.stdout.trim().to_string();
    common::wait_within(
        "the worker to start the phase",
        std::time::Duration::from_secs(60),
        || env.file("began").exists(),
    );
    let s = Server::start(&env);
    let page = s.get(&format!("/runs/{run}"));
    assert!(page.body.contains("data-alive=\"true\""), "{}", page.body);
    let rx = s.events(&format!("/api/v1/runs/{run}/events"));
    let driver = || loop {
        let (event, _, data) = rx
            .recv_timeout(std::time::Duration::from_secs(60))
            .expect("the stream goes on");
        if event == "driver" {
            break serde_json::from_str::<Value>(&data).unwrap();
        }
    };
    assert_eq!(driver(), json!({"alive": true}), "as the page says");
    std::fs::write(env.project().join("go-on"), "").unwrap();
    // Then the run's end: its stream ends (`end`), and a word on its driver said meanwhile is
    // that it is gone (the worker lets go of its lease once the end is recorded).
    let mut rest: Vec<(String, Option<String>, String)> = Vec::new();
    while let Ok(record) = rx.recv_timeout(std::time::Duration::from_secs(60)) {
        rest.push(record);
    }
    assert!(rest.iter().any(|(e, _, _)| e == "end"), "{rest:?}");
    for (_, _, data) in rest.iter().filter(|(e, _, _)| e == "driver") {
        assert_eq!(
            serde_json::from_str::<Value>(data).unwrap(),
            json!({"alive": false}),
            "{rest:?}"
        );
    }
    let _ = worker.kill();
    let _ = worker.wait();
}

/// A run stopped by its time limit could be resumed through the server only into the same
/// limit (the page's forms and the API's body had no `timeout`): `timeout` in the resume's
/// body, or the page form's `timeout` field, gives it a new one, as `resume --timeout` does,
/// and the run completes. A duration that cannot be read is a 400 saying how to write one,
/// and nothing is recorded.
#[test]
fn a_run_stopped_by_its_time_limit_resumes_through_the_api_and_the_page_with_a_longer_one() {
    let env = home();
    let doc = Doc::load();
    env.config(r#"{"workflow": {"timeout_seconds": 1}}"#);
    env.workflow(
        "long",
        "name: long\nsteps:\n  - name: wait\n    run: sleep 2\n",
    );
    let api = new_run(&env, "workflow", "long", 3);
    let page = new_run(&env, "workflow", "long", 3);
    for run in [&api, &page] {
        let reason = env.status(Some(run))["reason"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(reason.contains("time limit of 1 s"), "{reason}");
    }
    let s = Server::start(&env);
    let before = [events(&env, &api).len(), events(&env, &page).len()];
    let path = format!("/api/v1/runs/{api}/resume");
    for bad in ["soon", "0.5s", "-1h", ""] {
        let r = s.post(&path, &json!({"timeout": bad}).to_string());
        assert_eq!(r.status, 400, "{bad:?}: {}", r.body);
        let refusal = r.json();
        assert!(
            !refusal["hints"].as_array().unwrap().is_empty(),
            "{refusal}"
        );
        doc.check("/api/v1/runs/{id}/resume", "post", 400, &refusal);
    }
    let form = |run: &str, timeout: &str| {
        s.post_with(
            &format!("/runs/{run}/resume"),
            &format!("token={TOKEN}&mode=continue&timeout={timeout}"),
            &[("content-type", "application/x-www-form-urlencoded")],
        )
    };
    let r = form(&page, "soon");
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("hint: "), "{}", r.body);
    let after = [events(&env, &api).len(), events(&env, &page).len()];
    assert_eq!(after, before, "nothing recorded");
    // The page offers the field on its resume forms.
    let shown = s.get(&format!("/runs/{page}")).body;
    assert!(shown.contains(r#"name="timeout""#), "{shown}");
    let r = s.post(&path, r#"{"timeout": "1m"}"#);
    assert_eq!(r.status, 202, "{}", r.body);
    doc.check("/api/v1/runs/{id}/resume", "post", 202, &r.json());
    let r = form(&page, "1m");
    assert!(r.status < 400, "{}: {}", r.status, r.body);
    for run in [&api, &page] {
        assert_eq!(settled(&s, run)["status"], "completed");
        let resumed = events(&env, run)
            .into_iter()
            .rfind(|e| e["type"] == "run_resumed")
            .unwrap();
        assert_eq!(resumed["body"]["timeout_seconds"], 60, "{resumed}");
    }
}
