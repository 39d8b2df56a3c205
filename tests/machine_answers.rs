//! What an AI agent reading `--json` gets: help as a JSON document, `history` as an object,
//! and a paused or stopped run handed to workers with `resume --submit` (SPEC §5, §7, §9).

mod common;

use common::{Env, on_both_stores};
use serde_json::Value;

/// `--help` with `--json`, wherever either is on the line (and `help CMD`), is one JSON
/// document describing the command asked about, exit 0, nothing on stderr. Before, clap's
/// plain text came out, which an agent that asked for JSON could not parse.
#[test]
fn json_help_is_one_json_document_of_the_command_asked_about() {
    let env = Env::new();
    let cases: &[(&[&str], &str)] = &[
        (
            &["workflow", "status", "--json", "--help"],
            "cortex workflow status",
        ),
        (
            &["--json", "workflow", "status", "-h"],
            "cortex workflow status",
        ),
        (
            &["--json", "help", "orchestrate", "resume"],
            "cortex orchestrate resume",
        ),
        (
            &[
                "--home", "/nowhere", "--json", "workflow", "resume", "-i", "a=b", "RUN", "--help",
            ],
            "cortex workflow resume",
        ),
        (&["--json", "--help"], "cortex"),
        (&["workflow", "--help", "--json"], "cortex workflow"),
    ];
    for (args, command) in cases {
        let out = env.run(args);
        assert_eq!(out.code, 0, "{args:?}: {}", out.stderr);
        assert_eq!(out.stderr, "", "{args:?}");
        let doc: Value = serde_json::from_str(&out.stdout)
            .unwrap_or_else(|e| panic!("{args:?} printed no JSON ({e}):\n{}", out.stdout));
        assert_eq!(doc["command"], *command, "{args:?}: {doc}");
        assert_eq!(
            doc["path"],
            serde_json::json!(command.split(' ').collect::<Vec<_>>()),
            "{doc}"
        );
        assert!(doc["about"].is_string(), "{doc}");
        assert!(doc["usage"].as_str().unwrap().starts_with(command), "{doc}");
    }
    let status = env.run(&["workflow", "status", "--json", "--help"]).json();
    let at = status["options"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["long"] == "--at")
        .unwrap_or_else(|| panic!("no --at: {status}"));
    assert_eq!(at["value_name"], "SEQ", "{at}");
    assert_eq!(at["takes_value"], true, "{at}");
    assert!(
        at["help"].as_str().unwrap().contains("as of event SEQ"),
        "{at}"
    );
    let json = status["options"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["long"] == "--json")
        .unwrap();
    assert_eq!(json["global"], true, "{json}");
    assert_eq!(
        json["default"],
        Value::Null,
        "a flag has no default value: {json}"
    );
    assert_eq!(status["arguments"][0]["value_name"], "RUN", "{status}");
    assert_eq!(status["arguments"][0]["required"], false, "{status}");
    let workflow = env.run(&["--json", "workflow", "--help"]).json();
    let subs: Vec<&str> = workflow["subcommands"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    for sub in ["list", "run", "status", "resume", "history"] {
        assert!(subs.contains(&sub), "{sub} in {subs:?}");
    }
    let resume = env.run(&["--json", "help", "workflow", "resume"]).json();
    assert!(
        resume["options"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o["long"] == "--submit"),
        "{resume}"
    );
    // Without `--json`, the help stays clap's text.
    let plain = env.run(&["workflow", "status", "--help"]);
    assert_eq!(plain.code, 0);
    assert!(
        plain.stdout.starts_with("Show a run's state"),
        "{}",
        plain.stdout
    );
    assert!(serde_json::from_str::<Value>(&plain.stdout).is_err());
}

/// `history --json` is an object, `{"runs": [...], "more": bool}`, as every other document
/// (and as the MCP tool's structured content and `GET /api/v1/runs` give it). Before, it was a
/// bare array, with no way to tell a full page from the whole history.
#[test]
fn history_json_is_an_object_of_runs_saying_whether_more_exist() {
    let env = Env::new();
    let empty = env.run(&["--json", "orchestrate", "history"]);
    assert_eq!(empty.code, 0, "{}", empty.stderr);
    assert_eq!(
        empty.json(),
        serde_json::json!({"runs": [], "more": false, "next": []}),
        "{}",
        empty.stdout
    );
    env.workflow("w", "name: w\nsteps:\n  - {name: a, run: 'true'}\n");
    for _ in 0..2 {
        assert_eq!(env.run(&["workflow", "run", "w"]).code, 0);
    }
    let page = env
        .run(&["--json", "workflow", "history", "--limit", "1"])
        .json();
    assert_eq!(page["runs"].as_array().map(Vec::len), Some(1), "{page}");
    assert_eq!(page["more"], true, "{page}");
    assert_eq!(page["runs"][0]["name"], "w", "{page}");
    let all = env.run(&["--json", "workflow", "history"]).json();
    assert_eq!(all["runs"].as_array().map(Vec::len), Some(2), "{all}");
    assert_eq!(all["more"], false, "{all}");
}

const FLAKY: &str = "name: flaky\nsteps:\n  - {name: a, run: 'true'}\n  - {name: b, run: 'test -f ok', retry: {max_retry_attempts: 0}}\n";

/// A paused workflow run resumed with `--submit`: the resume is recorded (with its actor and
/// message), then `run_submitted`, in one go; the command exits 0 with the run id alone on
/// stdout and drives nothing; the run waits for workers, and a worker finishes it. Before,
/// only a new run could be handed to workers (`run --submit`).
fn workflow_resume_submit_hands_a_paused_run_to_workers(env: Env) {
    env.workflow("flaky", FLAKY);
    assert_eq!(env.run(&["workflow", "run", "flaky"]).code, 1);
    let run = env.status(None)["run_id"].as_str().unwrap().to_string();
    std::fs::write(env.file("ok"), "").unwrap();
    let out = env.run(&[
        "workflow",
        "resume",
        &run,
        "--retry",
        "--submit",
        "--actor",
        "ops",
        "--message",
        "fixed",
    ]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert_eq!(out.stdout, format!("{run}\n"), "the run id alone on stdout");
    let types: Vec<String> = env
        .events(&run)
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_string())
        .collect();
    let n = types.len();
    assert_eq!(
        types[n - 2..],
        ["run_resumed".to_string(), "run_submitted".to_string()],
        "{types:?}"
    );
    let resumed = &env.events(&run)[n - 2];
    assert_eq!(resumed["body"]["actor"], "ops", "{resumed}");
    assert_eq!(resumed["body"]["message"], "fixed", "{resumed}");
    let status = env.status(Some(&run));
    assert_eq!(status["status"], "waiting", "{status}");
    assert!(
        status["reason"]
            .as_str()
            .unwrap()
            .contains("submitted for workers"),
        "{status}"
    );
    let worker = env.run(&["worker", "--until-idle", "--poll", "100ms", "--no-schedule"]);
    assert_eq!(worker.code, 0, "{}{}", worker.stdout, worker.stderr);
    let done = env.status(Some(&run));
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["steps"][1]["status"], "completed", "{done}");
}

/// A stopped scenario run resumed with `--submit --json`: its status document (waiting,
/// submitted), exit 0, nothing driven; a worker takes it on from there.
fn scenario_resume_submit_hands_a_failed_run_to_workers(env: Env) {
    env.scenario(
        "gate",
        "name: gate\ndescription: d\nphases:\n  - {name: check, description: d, run: 'test -f ok', retry: {max_retry_attempts: 0}}\n  - {name: ship, description: d, condition: 'after:check', run: 'true'}\n",
    );
    assert_eq!(env.run(&["orchestrate", "run", "gate"]).code, 1);
    std::fs::write(env.file("ok"), "").unwrap();
    let out = env.run(&["--json", "orchestrate", "resume", "gate", "--submit"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let doc = out.json();
    assert_eq!(doc["status"], "waiting", "{doc}");
    assert_eq!(doc["kind"], "scenario", "{doc}");
    let run = doc["run_id"].as_str().unwrap().to_string();
    let last = env.events(&run).last().cloned().unwrap();
    assert_eq!(last["type"], "run_submitted", "{last}");
    let worker = env.run(&["worker", "--until-idle", "--poll", "100ms", "--no-schedule"]);
    assert_eq!(worker.code, 0, "{}{}", worker.stdout, worker.stderr);
    let done = env.run(&["--json", "orchestrate", "status", &run]).json();
    assert_eq!(done["status"], "completed", "{done}");
}

on_both_stores!(
    workflow_resume_submit_hands_a_paused_run_to_workers,
    scenario_resume_submit_hands_a_failed_run_to_workers,
);

/// `resume --submit` cannot be a dry run, a notification delivery or a rollback (run by the
/// driver that compensates): refused by clap, exit 2, nothing recorded.
#[test]
fn resume_submit_refuses_what_workers_cannot_take() {
    let env = Env::new();
    env.workflow("flaky", FLAKY);
    assert_eq!(env.run(&["workflow", "run", "flaky"]).code, 1);
    let before = env.status(None)["events"].clone();
    for extra in [
        &["--dry-run"][..],
        &["--notify-only"],
        &["--rollback-to", "a"],
    ] {
        let args = [&["workflow", "resume", "--submit"][..], extra].concat();
        let out = env.run(&args);
        assert_eq!(out.code, 2, "{args:?}: {}{}", out.stdout, out.stderr);
        assert!(out.stderr.contains("--submit"), "{args:?}: {}", out.stderr);
    }
    assert_eq!(env.status(None)["events"], before, "nothing recorded");
}

/// A warning the drive said (the run goes on only with its secret input's value again) came
/// out on the stderr of `--json workflow step complete` but not in its document, which the
/// MCP tool's answer had: the CLI's observer printed it and kept nothing. Every warning said
/// is in the document's `warnings` now, and said once on stderr.
#[test]
fn a_json_document_carries_every_warning_the_drive_said_on_stderr() {
    let env = Env::new();
    env.workflow(
        "s",
        "name: s\ninputs:\n  api_token: {type: string}\nsteps:\n  - {name: Ask, prompt: do it}\n  - name: B\n    run: echo \"$T\"\n    env: {API_TOKEN: \"${{ inputs.api_token }}\"}\n",
    );
    let out = env.run_with(
        &["workflow", "run", "s"],
        &[("CORTEX_INPUT_API_TOKEN", "abcdefgh1234")],
    );
    assert_eq!(out.code, 3, "{}{}", out.stdout, out.stderr);
    let out = env.run(&[
        "--json", "workflow", "step", "complete", "Ask", "--run", "s",
    ]);
    assert_eq!(out.code, 3, "{}{}", out.stdout, out.stderr);
    let said = "the run goes on from here only with the value of its secret input api_token";
    assert_eq!(out.stderr.matches(said).count(), 1, "{}", out.stderr);
    let doc = out.json();
    let warnings = doc["warnings"]
        .as_array()
        .expect("warnings in the document");
    assert!(
        warnings
            .iter()
            .any(|w| w.as_str().unwrap().starts_with(said)),
        "{doc}"
    );
}

/// A run was looked up by the last part of `../evil` (the runs of `evil`: `workflow status
/// ../evil` exit 0), where `workflow run ../evil` refuses it as a name leading out of its
/// folder (SPEC §2). The lookup holds a name to the same rule: a clear error, exit 2.
#[test]
fn a_run_lookup_refuses_a_name_that_leads_out_of_its_folder() {
    let env = Env::new();
    env.workflow("evil", "name: evil\nsteps:\n  - {name: A, run: 'true'}\n");
    assert_eq!(env.run(&["workflow", "run", "evil"]).code, 0);
    for query in ["../evil", "x/../evil", "..\\evil"] {
        for args in [
            vec!["workflow", "status", query],
            vec!["log", "show", query],
        ] {
            let out = env.run(&args);
            assert_eq!(out.code, 2, "{args:?}: {}{}", out.stdout, out.stderr);
            assert!(
                out.stderr.contains("contains `/`, `\\` or `..`"),
                "{args:?}: {}",
                out.stderr
            );
        }
    }
    assert_eq!(env.run(&["workflow", "status", "evil"]).code, 0);
}

/// The CLI refuses the `VALUE` placeholder pasted from a suggested command (now in the
/// operations, which every front end shares): as an output and as an input, nothing recorded.
#[test]
fn the_cli_refuses_the_value_placeholder_as_an_output_or_an_input() {
    let env = Env::new();
    env.workflow(
        "s",
        "name: s\ninputs:\n  api_token: {type: string}\nsteps:\n  - {name: Ask, prompt: do it}\n",
    );
    let out = env.run(&["workflow", "run", "s", "--input", "api_token=VALUE"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("`api_token=VALUE`: `VALUE` is the placeholder"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("--input api_token=..."),
        "{}",
        out.stderr
    );
    assert_eq!(env.run(&["workflow", "run", "s"]).code, 3);
    let out = env.run(&["workflow", "step", "complete", "Ask", "--output", "x=VALUE"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("--output x=..."), "{}", out.stderr);
    assert_eq!(env.status(None)["status"], "waiting");
}

/// A warning said on stderr before a command failed reached stderr only: `--json workflow
/// resume` of a run whose definition changed since it started warned of it, then the drive
/// stopped on a fault of the home (the run's folder replaced by a file), and the error
/// document on stdout said nothing of the change. An agent reading stdout alone has it now, in
/// the error document's `warnings`, as a success's document carries them; it is said once on
/// stderr.
#[test]
fn json_error_documents_carry_the_warnings_said_before_the_error() {
    let env = Env::new();
    let home = env.home();
    let flag = home.join("flag");
    let runs = home.join("runs");
    let workflow = |last: &str| {
        format!(
            "name: w\nsteps:\n  - name: a\n    run: |\n      [ -f '{}' ] || exit 3\n      for d in '{}'/*; do until [ -f \"$d\" ]; do rm -rf \"$d\"; touch \"$d\"; done; done\n    retry: {{max_retry_attempts: 1, backoff: 0s}}\n  - name: b\n    run: echo {last}\n",
            flag.display(),
            runs.display()
        )
    };
    env.workflow("w", &workflow("hi"));
    let out = env.run(&["workflow", "run", "w"]);
    assert_eq!(
        out.code, 1,
        "`a` failed, the run paused: {}{}",
        out.stdout, out.stderr
    );
    env.workflow("w", &workflow("bye"));
    std::fs::write(&flag, "").unwrap();
    let out = env.run(&["--json", "workflow", "resume", "w", "--retry"]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    let said = "changed since this run started";
    assert_eq!(
        out.stderr.matches(said).count(),
        1,
        "said once on stderr: {}",
        out.stderr
    );
    let doc = out.json();
    assert!(
        doc["error"]
            .as_str()
            .unwrap()
            .contains("its own files in its home"),
        "{doc}"
    );
    let warnings = doc["warnings"]
        .as_array()
        .unwrap_or_else(|| panic!("warnings in the error document: {doc}"));
    assert_eq!(
        warnings
            .iter()
            .filter(|w| w.as_str().unwrap().contains(said))
            .count(),
        1,
        "{doc}"
    );
    // The run paused on the fault (failed, resumable): the step it cut short is not said to
    // be cut by the run's end.
    let human = env.run(&["workflow", "status", "w"]).stdout;
    assert!(
        human.contains("Not finished: the run paused before it ended; resume goes on from here")
            && !human.contains("Not finished: the run ended"),
        "{human}"
    );
    // An error with nothing said before it has no `warnings`, as a success's document.
    let doc = env.run(&["--json", "workflow", "status", "NOPE"]).json();
    assert!(doc.get("warnings").is_none(), "{doc}");
}
