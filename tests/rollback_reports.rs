//! What a rollback cut short leaves, and what status says of it, on the real binary: an
//! abort mid-rollback stops it where it is and records what it left undone; a run stopped
//! mid-rollback shows the rollback under way (resume goes on with it); a failed compensation
//! is shown failed. Also what a resume runs again with checkpoints off, which phase a
//! scenario's `--skip` may skip, and a retry the run paused before it could run.

mod common;

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::Env;

/// One and Two complete, Three fails and rolls back: Two's compensation starts (it touches
/// `undoing`) and takes 30 s.
const RB: &str = "name: rb
steps:
  - name: One
    run: echo one >> ran.txt
    rollback: echo undo-one >> ran.txt
  - name: Two
    run: echo two >> ran.txt
    rollback: echo undo-two-start >> ran.txt; touch undoing; sleep 30; echo undo-two-end >> ran.txt
  - name: Three
    run: exit 1
    retry: {max_retry_attempts: 0}
    on_failure: rollback
";

/// `workflow run rb` in the background, once Two's compensation is under way.
fn run_until_compensating(env: &Env) -> Child {
    env.workflow("rb", RB);
    let child = env
        .command(&["workflow", "run", "rb"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let until = Instant::now() + Duration::from_secs(30);
    while !env.file("undoing").exists() {
        assert!(Instant::now() < until, "the compensation never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

#[test]
fn an_abort_mid_rollback_records_the_compensation_cut_off_and_those_never_run() {
    let env = Env::new();
    let child = run_until_compensating(&env);
    let abort = env.run(&["workflow", "abort", "rb"]);
    assert_eq!(abort.code, 1, "{}", abort.stderr);
    insta::assert_snapshot!("abort_mid_rollback_report", abort.snapshot(&env));
    let driver = child.wait_with_output().unwrap();
    assert_eq!(driver.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&driver.stdout).contains("the rollback was left unfinished"),
        "{}",
        String::from_utf8_lossy(&driver.stdout)
    );
    // Two's compensation was cut off mid-command; One's never ran.
    assert_eq!(
        common::lines(&env.file("ran.txt")),
        ["one", "two", "undo-two-start"]
    );
    let doc = env.status(None);
    assert_eq!(doc["status"], "aborted", "{doc}");
    assert_eq!(doc["rollback"]["left_unfinished"], true, "{doc}");
    assert_eq!(doc["rollback"]["cut_off"], "Two", "{doc}");
    assert_eq!(
        doc["rollback"]["not_run"],
        serde_json::json!(["One"]),
        "{doc}"
    );
    assert_eq!(doc["steps"][0]["compensation"], "not_run", "{doc}");
    assert_eq!(doc["steps"][1]["compensation"], "cut_off", "{doc}");
    // The log says so, in the event that ends the rollback.
    let ended = env
        .events(doc["run_id"].as_str().unwrap())
        .into_iter()
        .find(|e| e["type"] == "rollback_finished")
        .expect("the rollback's end is recorded");
    assert_eq!(ended["body"]["cut_off"], "Two", "{ended}");
    assert_eq!(
        ended["body"]["not_run"],
        serde_json::json!(["One"]),
        "{ended}"
    );
    let status = env.run(&["workflow", "status"]);
    insta::assert_snapshot!("abort_mid_rollback_status", status.snapshot(&env));
    assert_eq!(
        env.run(&["--json", "log", "verify", "--all"]).json()["ok"],
        true
    );
}

#[test]
fn a_run_stopped_mid_rollback_shows_the_rollback_under_way_and_resume_going_on_with_it() {
    let env = Env::new();
    let child = run_until_compensating(&env);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    let doc = env.status(None);
    assert_eq!(doc["status"], "stopped", "{doc}");
    assert_eq!(
        doc["rollback"]["to_compensate"],
        serde_json::json!(["Two", "One"]),
        "{doc}"
    );
    let why = doc["next"][0]["why"].as_str().unwrap();
    assert!(why.contains("go on with the rollback"), "{doc}");
    let status = env.run(&["workflow", "status"]);
    assert!(!status.stdout.contains("Resume point"), "{}", status.stdout);
    insta::assert_snapshot!("stopped_mid_rollback_status", status.snapshot(&env));
    env.run(&["workflow", "abort", "rb"]);
}

#[test]
fn a_failed_compensation_is_shown_failed_not_complete() {
    let env = Env::new();
    env.workflow(
        "cf",
        "name: cf
steps:
  - name: One
    run: 'true'
    rollback: echo cannot undo >&2; exit 3
  - name: Two
    run: exit 1
    retry: {max_retry_attempts: 0}
    on_failure: rollback
",
    );
    let run = env.run(&["workflow", "run", "cf"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let doc = env.status(None);
    assert_eq!(doc["steps"][0]["compensation"], "failed", "{doc}");
    let status = env.run(&["workflow", "status"]);
    insta::assert_snapshot!("failed_compensation_status", status.snapshot(&env));
}

/// A driver killed mid-run with checkpoints off: resume runs the first step again, and the
/// suggested resume says so (not "from the resume point").
#[test]
fn the_resume_hint_of_a_cut_short_run_with_checkpoints_off_names_the_steps_run_again() {
    let env = Env::new();
    env.config(r#"{"workflow": {"enable_checkpoints": false}}"#);
    env.workflow(
        "w",
        "name: w\nsteps:\n  - {name: a, run: 'true'}\n  - {name: b, run: 'touch started; sleep 30'}\n",
    );
    let mut driver = env.spawn(&["workflow", "run", "w"]);
    let until = Instant::now() + Duration::from_secs(30);
    while !env.file("started").exists() {
        assert!(Instant::now() < until, "b never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    driver.kill().unwrap();
    driver.wait().unwrap();
    let doc = env.status(None);
    assert_eq!(doc["status"], "interrupted", "{doc}");
    let why = doc["next"][0]["why"].as_str().unwrap();
    assert_eq!(
        why, "run from the start again (checkpoints are off): a, b",
        "{doc}"
    );
    env.run(&["workflow", "abort", "w"]);
}

/// `enable_checkpoints: false` holds for scenarios too: a completed phase is no resume point,
/// and resume runs it again (its dry run says so first).
#[test]
fn a_scenario_with_checkpoints_off_runs_its_completed_phases_again_on_resume() {
    let env = Env::new();
    env.config(r#"{"workflow": {"enable_checkpoints": false}}"#);
    env.scenario(
        "sc",
        "name: sc
description: d
phases:
  - {name: a, description: d, run: echo a >> ran.txt}
  - {name: b, description: d, condition: 'after:a', run: exit 1, retry: {max_retry_attempts: 0}}
",
    );
    let run = env.run(&["orchestrate", "run", "sc"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let dry = env.run(&["--json", "orchestrate", "resume", "sc", "--dry-run"]);
    let plan = dry.json();
    let a = plan["plan"]
        .as_array()
        .or(plan["phases"].as_array())
        .or(plan["steps"].as_array())
        .and_then(|p| p.iter().find(|s| s["name"] == "a").cloned())
        .unwrap_or_else(|| panic!("no phase a in the plan: {plan}"));
    assert_ne!(a["action"], "reuse", "{plan}");
    env.run(&["orchestrate", "resume", "sc"]);
    assert_eq!(common::lines(&env.file("ran.txt")), ["a", "a"]);
    let doc = env.run(&["--json", "orchestrate", "status"]).json();
    let resumed = env
        .events(doc["run_id"].as_str().unwrap())
        .into_iter()
        .find(|e| e["type"] == "run_resumed")
        .unwrap();
    assert_eq!(
        resumed["body"]["rerun"],
        serde_json::json!(["a"]),
        "{resumed}"
    );
}

/// Two parallel phases stopped mid-run: neither failed nor waits, so a bare `--skip` has
/// nothing to skip and must not pick the first in the file (its dependents would run without
/// its work). Nothing is recorded.
#[test]
fn scenario_skip_refuses_when_no_phase_failed_or_waits() {
    let env = Env::new();
    env.scenario(
        "par",
        "name: par
description: d
phases:
  - {name: b, description: d, parallel: true, run: 'touch b-started; sleep 30'}
  - {name: c, description: d, parallel: true, run: 'touch c-started; sleep 30'}
  - {name: d, description: d, condition: 'after:b,c', run: 'true'}
",
    );
    let driver = env.spawn(&["orchestrate", "run", "par"]);
    let until = Instant::now() + Duration::from_secs(30);
    while !(env.file("b-started").exists() && env.file("c-started").exists()) {
        assert!(Instant::now() < until, "b and c never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(driver.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let out = driver.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    let events_before = env.status(None)["events"].clone();
    let skip = env.run(&["orchestrate", "resume", "par", "--skip"]);
    assert_eq!(skip.code, 2, "{}", skip.text());
    assert!(
        skip.stderr.contains("cannot skip") && skip.stderr.contains("`b`, `c`"),
        "{}",
        skip.stderr
    );
    assert_eq!(env.status(None)["events"], events_before);
    env.run(&["orchestrate", "abort", "par"]);
}

/// A phase's `rollback:` runs on `orchestrate resume RUN --rollback-to PHASE`: the phases
/// completed after PHASE are undone, newest first, then run again. `validate` says that this
/// is the only way it runs.
#[test]
fn scenario_rollback_to_compensates_the_phases_completed_after_it_and_runs_them_again() {
    let env = Env::new();
    env.scenario(
        "sc",
        "name: sc
description: d
phases:
  - {name: a, description: d, run: echo a >> ran.txt, rollback: echo undo-a >> ran.txt}
  - {name: b, description: d, condition: 'after:a', run: echo b >> ran.txt, rollback: echo undo-b >> ran.txt}
  - {name: c, description: d, condition: 'after:b', run: exit 1, retry: {max_retry_attempts: 0}}
",
    );
    let valid = env.run(&["orchestrate", "validate", "sc"]);
    assert_eq!(valid.code, 0, "{}", valid.text());
    assert!(
        valid
            .stderr
            .contains("runs only when an operator rolls a run back")
            && valid.stderr.contains("--rollback-to"),
        "{}",
        valid.stderr
    );
    let run = env.run(&["orchestrate", "run", "sc"]);
    assert_eq!(run.code, 1, "{}", run.text());
    let resumed = env.run(&["orchestrate", "resume", "sc", "--rollback-to", "a"]);
    assert_eq!(resumed.code, 1, "c fails again: {}", resumed.text());
    assert_eq!(
        common::lines(&env.file("ran.txt")),
        ["a", "b", "undo-b", "b"]
    );
    let doc = env.run(&["--json", "orchestrate", "status"]).json();
    let kinds: Vec<String> = env
        .events(doc["run_id"].as_str().unwrap())
        .iter()
        .map(|e| e["type"].as_str().unwrap_or_default().to_string())
        .collect();
    assert!(
        kinds.contains(&"step_compensated".to_string())
            && kinds.contains(&"rollback_finished".to_string()),
        "{kinds:?}"
    );
}

/// A parallel phase fails for good while its sibling waits out a retry's backoff: the run
/// pauses, and nothing runs that retry until a resume. Status says so (`pending`,
/// `retry_held`), not "retry scheduled" (`ready`).
#[test]
fn a_retry_the_run_paused_before_is_shown_held_until_resume() {
    let env = Env::new();
    env.scenario(
        "par",
        "name: par
description: d
phases:
  - {name: x, description: d, parallel: true, run: 'sleep 0.5; exit 1', retry: {max_retry_attempts: 0}}
  - {name: y, description: d, parallel: true, run: exit 1, retry: {max_retry_attempts: 2, backoff: 30s}}
",
    );
    let run = env.run(&["orchestrate", "run", "par"]);
    assert_eq!(run.code, 1, "{}", run.text());
    let doc = env.run(&["--json", "orchestrate", "status"]).json();
    assert_eq!(doc["status"], "failed", "{doc}");
    assert_eq!(doc["phases"][1]["status"], "pending", "{doc}");
    assert_eq!(doc["phases"][1]["retry_held"], true, "{doc}");
    let status = env.run(&["orchestrate", "status"]);
    assert!(
        status
            .stdout
            .contains("y  - retry held: the run paused first; it runs again on resume"),
        "{}",
        status.stdout
    );
    assert!(
        !status.stdout.contains("retry scheduled"),
        "{}",
        status.stdout
    );
}

/// An abort while a scenario's rollback-to compensates: the compensation in flight is ended
/// and recorded cut off (the resume and the rollback's start are in the log before it runs,
/// so the abort lands after them and is not wiped by the resume).
#[test]
fn an_abort_during_a_scenario_rollback_to_records_the_compensation_cut_off() {
    let env = Env::new();
    env.scenario(
        "sc",
        "name: sc
description: d
phases:
  - {name: a, description: d, run: echo a >> ran.txt, rollback: echo undo-a >> ran.txt}
  - {name: b, description: d, condition: 'after:a', run: echo b >> ran.txt, rollback: 'echo undo-b-start >> ran.txt; touch undoing; sleep 30'}
  - {name: c, description: d, condition: 'after:b', run: exit 1, retry: {max_retry_attempts: 0}}
",
    );
    assert_eq!(env.run(&["orchestrate", "run", "sc"]).code, 1);
    let driver = env.spawn(&["orchestrate", "resume", "sc", "--rollback-to", "a"]);
    let until = Instant::now() + Duration::from_secs(30);
    while !env.file("undoing").exists() {
        assert!(Instant::now() < until, "the compensation never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    let abort = env.run(&["orchestrate", "abort", "sc"]);
    assert_eq!(abort.code, 1, "{}", abort.text());
    assert!(
        abort.stdout.contains("`b` cut off mid-compensation"),
        "{}",
        abort.stdout
    );
    driver.wait_with_output().unwrap();
    let doc = env.run(&["--json", "orchestrate", "status"]).json();
    assert_eq!(doc["rollback"]["cut_off"], "b", "{doc}");
    assert_eq!(doc["phases"][1]["compensation"], "cut_off", "{doc}");
}
