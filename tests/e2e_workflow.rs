//! End-to-end tests: the real `cortex` binary in a temporary CORTEX_HOME with a real SQLite
//! log, as a new user would drive it. Human output is snapshotted with ids, times, hashes and
//! durations redacted.

mod common;

use std::time::{Duration, Instant};

use common::{Env, lines, next_argvs};

const SEED_FEATURE_DEVELOPMENT: &str = r#"name: feature-development
description: Standard feature development workflow

steps:
  - name: Planning
    prompt: |
      Analyze the feature requirements and create a plan:
      1. Identify affected files
      2. List dependencies
      3. Define test strategy

  - name: Implementation
    prompt: |
      Implement the feature according to the plan:
      1. Create/modify necessary files
      2. Follow existing patterns
      3. Add error handling

  - name: Testing
    prompt: |
      Test the implementation:
      1. Write unit tests
      2. Run existing tests
      3. Fix any failures

  - name: Documentation
    prompt: |
      Update documentation:
      1. Add/update docstrings
      2. Update README if needed
      3. Add usage examples
"#;

fn example(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/examples/workflows/{name}.yaml",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

/// Wait until a run's notes of process groups in flight (`locks/RUN.pgids`) name
/// group `pgid`: a driver notes a group just after starting it, so a test that kills the
/// driver to leave the group behind waits for the note (the instant between the two is the
/// gap DESIGN.md names, which these tests do not cover).
fn wait_for_note(env: &Env, pgid: i32) {
    common::wait_until(&format!("the note of group {pgid}"), || {
        env.all_inflight_notes().into_iter().any(|text| {
            text.lines()
                .any(|l| l.split_whitespace().nth(1) == Some(&pgid.to_string()))
        })
    });
}

fn seed_feature_development_waits_on_each_prompt_step_and_completes(env: Env) {
    env.workflow("feature-development", SEED_FEATURE_DEVELOPMENT);
    insta::assert_snapshot!(
        "seed_validate",
        env.run(&["workflow", "validate", "feature-development"])
            .snapshot(&env)
    );
    let run = env.run(&["workflow", "run", "feature development"]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    insta::assert_snapshot!("seed_run_waits", run.snapshot(&env));
    for step in ["Planning", "Implementation", "Testing", "Documentation"] {
        let done = env.run(&[
            "workflow",
            "step",
            "complete",
            step,
            "--output",
            "note=ok",
            "--message",
            "did it",
        ]);
        // One command per prompt step: the report drives the run on to the next prompt
        // (waiting: exit 3), or to its end.
        let expected = if step == "Documentation" { 0 } else { 3 };
        assert_eq!(done.code, expected, "{}{}", done.stdout, done.stderr);
    }
    let status = env.status(None);
    assert_eq!(status["status"], "completed");
    assert!(
        status["steps"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["status"] == "completed" && s["attempts"] == 1)
    );
    insta::assert_snapshot!(
        "seed_status_completed",
        env.run(&["workflow", "status"]).snapshot(&env)
    );
    let verify = env.run(&["--json", "log", "verify", "--all"]).json();
    assert_eq!(verify["ok"], true);
}

fn shell_steps_pass_outputs_retry_a_flaky_step_and_leave_an_auditable_log(env: Env) {
    env.workflow("build-and-ship", &example("build-and-ship"));
    let run = env.run(&[
        "workflow",
        "run",
        "build-and-ship",
        "--input",
        "version=1.2.3",
    ]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("released 1.2.3 at file://"),
        "{}",
        run.stdout
    );
    let status = env.status(None);
    let run_id = status["run_id"].as_str().unwrap().to_string();
    assert_eq!(status["status"], "completed");
    assert_eq!(status["steps"][1]["name"], "Publish");
    assert_eq!(status["steps"][1]["attempts"], 3);
    assert_eq!(status["steps"][0]["outputs"]["binary"], "out/app-1.2.3.txt");

    let verify = env.run(&["--json", "log", "verify", "--all"]);
    assert_eq!(verify.code, 0);
    assert_eq!(verify.json()["ok"], true);
    assert_eq!(verify.json()["first_bad"], serde_json::Value::Null);

    let results: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(env.home().join("runs").join(&run_id).join("results.json"))
            .unwrap(),
    )
    .unwrap();
    assert_eq!(results["head_hash"], status["head_hash"]);
    assert_eq!(results["status"], "completed");

    let early = env
        .run(&["--json", "workflow", "status", &run_id, "--at", "1"])
        .json();
    assert_eq!(early["events"], 2);
    assert_eq!(early["status"], "running");
    assert!(
        early["steps"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["status"] == "pending")
    );
    let past_end = env.run(&["workflow", "status", &run_id, "--at", "9999"]);
    assert_eq!(past_end.code, 2);

    // Every derived file can be deleted: the log alone gives the same answers, and resume
    // rebuilds the files.
    let results_path = env.home().join("runs").join(&run_id).join("results.json");
    let before = std::fs::read_to_string(&results_path).unwrap();
    std::fs::remove_dir_all(env.home().join("runs")).unwrap();
    let again = env.status(Some(&run_id));
    assert_eq!(again, status);
    assert_eq!(env.run(&["workflow", "resume", &run_id]).code, 0);
    assert_eq!(std::fs::read_to_string(&results_path).unwrap(), before);
}

fn a_failing_step_with_on_failure_rollback_compensates_newest_first(env: Env) {
    env.workflow(
        "rollback",
        r#"name: rollback
steps:
  - name: one
    run: echo one >> done.log
    rollback: echo undo-one >> undo.log
  - name: two
    run: echo two >> done.log
    rollback: echo undo-two >> undo.log
  - name: three
    run: echo three >> done.log
    rollback: echo undo-three >> undo.log
  - name: boom
    run: echo "cannot continue" >&2; exit 4
    retry: {max_retry_attempts: 1, backoff: 10ms}
    on_failure: rollback
"#,
    );
    let run = env.run(&["workflow", "run", "rollback"]);
    assert_eq!(run.code, 1);
    insta::assert_snapshot!("rollback_report", run.snapshot(&env));
    // The audit trail in words: every event a line that says what happened (a rollback's
    // plan, each compensation, validations, checkpoints, the kept output), not its JSON body.
    insta::assert_snapshot!(
        "rollback_log_show",
        env.run(&["log", "show"]).snapshot(&env)
    );
    assert_eq!(
        lines(&env.file("undo.log")),
        ["undo-three", "undo-two", "undo-one"]
    );
    let status = env.status(None);
    assert_eq!(status["status"], "rolled_back");
    assert_eq!(status["steps"][3]["attempts"], 2);
    let resumed = env.run(&["workflow", "resume"]);
    assert_eq!(
        resumed.code, 1,
        "resuming a rolled-back run changes nothing"
    );
    assert!(resumed.stdout.contains("nothing to do"));
    // Asked to act on it (`--from`), the document says nothing was done and why the request
    // was not applied, with the command that starts a new run: an agent reading `--json` (or
    // the MCP `resume` tool) took the plain status for a re-run from `two`.
    let run_id = status["run_id"].as_str().unwrap().to_string();
    let events = env.events(&run_id).len();
    let asked = env.run(&["--json", "workflow", "resume", "--from", "two"]);
    assert_eq!(asked.code, 1, "{}", asked.stderr);
    let doc = asked.json();
    assert!(
        doc["note"]
            .as_str()
            .unwrap()
            .contains("nothing was recorded"),
        "{doc}"
    );
    let warning = doc["warnings"][0].as_str().unwrap();
    assert!(
        warning.starts_with("--from two was not applied")
            && warning.contains("`cortex workflow run ")
            && warning.contains("starts a new run"),
        "{warning}"
    );
    assert_eq!(env.events(&run_id).len(), events, "nothing is recorded");
}

fn a_paused_run_resumes_with_retry_or_skip_without_rerunning_completed_steps(env: Env) {
    env.workflow(
        "gate",
        r#"name: gate
steps:
  - name: prepare
    run: echo prepare >> ran.log; echo ticket=T-1 >> "$CORTEX_OUTPUT"
  - name: approval
    run: echo approval >> ran.log; test -f approved || { echo "no approval yet" >&2; exit 1; }
    retry: {max_retry_attempts: 0}
  - name: ship
    run: echo "ship ${{ steps.prepare.outputs.ticket }}" >> ran.log
"#,
    );
    let run = env.run(&[
        "workflow",
        "run",
        "gate",
        "--actor",
        "alice",
        "--message",
        "first try",
    ]);
    assert_eq!(run.code, 1);
    insta::assert_snapshot!("pause_failure_report", run.snapshot(&env));
    insta::assert_snapshot!(
        "pause_status",
        env.run(&["workflow", "status"]).snapshot(&env)
    );

    std::fs::write(env.file("approved"), "").unwrap();
    let retry = env.run(&["workflow", "resume", "--retry"]);
    assert_eq!(retry.code, 0, "{}{}", retry.stdout, retry.stderr);
    assert_eq!(
        lines(&env.file("ran.log")),
        ["prepare", "approval", "approval", "ship T-1"]
    );
    let status = env.status(None);
    assert_eq!(status["steps"][0]["attempts"], 1);
    assert_eq!(status["steps"][1]["attempts"], 2);

    std::fs::remove_file(env.file("approved")).unwrap();
    std::fs::remove_file(env.file("ran.log")).unwrap();
    assert_eq!(env.run(&["workflow", "run", "gate"]).code, 1);
    let dry = env.run(&["workflow", "resume", "--skip", "--dry-run"]);
    assert_eq!(dry.code, 0);
    insta::assert_snapshot!("skip_dry_run", dry.snapshot(&env));
    let skip = env.run(&[
        "workflow",
        "resume",
        "--skip",
        "--message",
        "approved by phone",
    ]);
    assert_eq!(skip.code, 0, "{}{}", skip.stdout, skip.stderr);
    assert_eq!(
        lines(&env.file("ran.log")),
        ["prepare", "approval", "ship T-1"]
    );
    let status = env.status(None);
    assert_eq!(status["steps"][1]["status"], "skipped");
    let log = env.run(&["--json", "log", "show"]).json();
    let skipped = log
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "step_skipped")
        .unwrap();
    assert_eq!(skipped["body"]["by"]["message"], "approved by phone");
}

fn kill_9_mid_step_leaves_an_interrupted_run_that_resumes_without_rerunning_completed_steps(
    env: Env,
) {
    env.workflow(
        "slow",
        r#"name: slow
steps:
  - name: first
    run: echo first >> ran.log
  - name: second
    run: echo second >> ran.log; sleep 2
  - name: third
    run: echo third >> ran.log
"#,
    );
    let mut child = env
        .command(&["workflow", "run", "slow"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    common::wait_until("the second step to start", || {
        lines(&env.file("ran.log")).contains(&"second".to_string())
    });
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let status = env.status(None);
    assert_eq!(status["status"], "interrupted");
    // Its driver gone: `running` (started, no end in the log) with `interrupted`, as the
    // screen says it, until a resume records it interrupted.
    assert_eq!(status["steps"][1]["status"], "running");
    assert_eq!(status["steps"][1]["interrupted"], true);
    assert_eq!(
        env.run(&["--json", "log", "verify", "--all"]).json()["ok"],
        true
    );

    let resumed = env.run(&["workflow", "resume"]);
    assert_eq!(resumed.code, 0, "{}{}", resumed.stdout, resumed.stderr);
    assert_eq!(
        lines(&env.file("ran.log")),
        ["first", "second", "second", "third"]
    );
    let status = env.status(None);
    assert_eq!(status["status"], "completed");
    assert_eq!(status["steps"][0]["attempts"], 1);
    assert_eq!(
        status["steps"][1]["attempts"], 2,
        "the step in flight runs again as a new attempt"
    );
    assert_eq!(
        env.run(&["--json", "log", "verify", "--all"]).json()["ok"],
        true
    );
}

fn a_second_driver_gets_exit_4_naming_the_holder(env: Env) {
    env.workflow(
        "hold",
        "name: hold\nsteps:\n  - name: wait\n    run: touch started; sleep 3\n",
    );
    let mut child = env
        .command(&["workflow", "run", "hold"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    common::wait_until("the step to start", || env.file("started").exists());
    let second = env.run(&["workflow", "resume"]);
    assert_eq!(second.code, 4, "{}{}", second.stdout, second.stderr);
    assert!(
        second.stderr.contains("is held by process"),
        "{}",
        second.stderr
    );
    // What a workflow run can be ended with from here is said, and only that: the
    // scenario's `stop` fails for a workflow run, so it is not offered.
    assert!(
        second.stderr.contains("cortex workflow abort ") && !second.stderr.contains("orchestrate"),
        "{}",
        second.stderr
    );
    assert_eq!(env.status(None)["status"], "running");
    assert_eq!(child.wait().unwrap().code(), Some(0));
}

fn sigint_is_a_recorded_stop_and_resume_finishes_the_run(env: Env) {
    let yaml = "name: stoppable\nsteps:\n  - name: long\n    run: echo go >> ran.log; touch started; [ -f fast ] || sleep 30\n    timeout: 1m\n  - name: after\n    run: echo after >> ran.log\n";
    env.workflow("stoppable", yaml);
    let mut child = env
        .command(&["workflow", "run", "stoppable"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    common::wait_until("the step to start", || env.file("started").exists());
    let begun = Instant::now();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(3));
    assert!(
        begun.elapsed() < Duration::from_secs(10),
        "the step's group was ended promptly"
    );
    let status = env.status(None);
    assert_eq!(status["status"], "stopped");
    assert_eq!(status["steps"][0]["status"], "stopped");
    assert_eq!(stop_requested(&env)["body"]["signal"], "SIGINT");
    // Editing the file mid-run does not change the run in flight; resume says so.
    env.workflow(
        "stoppable",
        &format!("# edited\n{}", yaml.replace("echo after", "echo edited")),
    );
    std::fs::write(env.file("fast"), "").unwrap();
    let resumed = env.run(&["workflow", "resume"]);
    assert_eq!(resumed.code, 0, "{}{}", resumed.stdout, resumed.stderr);
    assert!(
        resumed.stderr.contains("changed since this run started"),
        "{}",
        resumed.stderr
    );
    assert_eq!(lines(&env.file("ran.log")), ["go", "go", "after"]);
}

fn a_timeout_ends_the_whole_process_group(env: Env) {
    env.workflow(
        "timeout",
        "name: timeout\nsteps:\n  - name: hang\n    run: sleep 30 & sleep 30\n    timeout: 300ms\n    retry: {max_retry_attempts: 0}\n",
    );
    let begun = Instant::now();
    let run = env.run(&["workflow", "run", "timeout"]);
    assert_eq!(run.code, 1);
    assert!(begun.elapsed() < Duration::from_secs(15));
    let status = env.status(None);
    assert!(
        status["steps"][0]["error"]
            .as_str()
            .unwrap()
            .contains("timed out"),
        "{status}"
    );
}

fn outputs_used_through_templates_stay_data(env: Env) {
    env.workflow(
        "inject",
        r#"name: inject
steps:
  - name: produce
    run: echo 'evil=$(touch x); touch y' >> "$CORTEX_OUTPUT"
  - name: consume
    run: echo plain ${{ steps.produce.outputs.evil }}; echo "quoted ${{ steps.produce.outputs.evil }}"
"#,
    );
    let run = env.run(&["workflow", "run", "inject"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("quoted $(touch x); touch y"),
        "{}",
        run.stdout
    );
    assert!(
        !env.file("x").exists() && !env.file("y").exists(),
        "a template value ran as code"
    );
}

fn secret_environment_values_never_reach_the_log(env: Env) {
    let secret = "sk-live-0123456789abcdef";
    env.workflow(
        "leak",
        "name: leak\nsteps:\n  - name: leak\n    run: echo \"token is $DEPLOY_TOKEN\" >&2; echo \"key=$DEPLOY_TOKEN\" >> \"$CORTEX_OUTPUT\"; exit 1\n    retry: {max_retry_attempts: 0}\n",
    );
    let out = env
        .command(&["workflow", "run", "leak"])
        .env("DEPLOY_TOKEN", secret)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(!String::from_utf8_lossy(&out.stdout).contains(secret));
    assert_eq!(
        env.log_holding(secret),
        Vec::<String>::new(),
        "the log holds the secret"
    );
    let log = env.run(&["log", "show"]);
    assert!(!log.stdout.contains(secret));
    let status = env.status(None);
    assert!(
        status["steps"][0]["output_tail"]
            .as_str()
            .unwrap()
            .contains("token is ***")
    );
}

/// Seen by a review: the progress a run prints while it goes (on stderr with `--json`) had no
/// final newline after a waiting prompt written without one (`prompt: "Review it"`): the
/// shell's next prompt started on the same line. Whatever a run prints — its progress on
/// either stream, its final text — ends its last line; the lines themselves are pinned.
#[test]
fn the_progress_of_a_run_waiting_on_a_one_line_prompt_ends_with_a_newline() {
    let env = Env::new();
    env.workflow(
        "kid",
        "name: kid\nsteps:\n  - {name: inner, prompt: \"Check it\"}\n",
    );
    env.workflow(
        "oneline",
        "name: oneline\nsteps:\n  - {name: a, run: printf 'no newline'}\n  - {name: look, prompt: \"Review it\"}\n  - {name: each, foreach: [x], prompt: \"Review ${{ item }}\"}\n  - {name: call, uses: kid}\n",
    );
    let run = env.run(&["--json", "workflow", "run", "oneline"]);
    assert_eq!(run.code, 3, "{}", run.text());
    assert!(run.stderr.ends_with("     Review it\n"), "{:?}", run.stderr);
    insta::assert_snapshot!(
        "progress_of_a_one_line_prompt",
        common::redact(&run.stderr, &env)
    );
    for step in ["look", "each[0]"] {
        let out = env.run(&["--json", "workflow", "step", "complete", step]);
        assert_eq!(out.code, 3, "{}", out.text());
        assert!(out.stderr.ends_with('\n'), "{step}: {:?}", out.stderr);
    }
    let human = env.run(&["workflow", "status"]);
    assert!(human.stdout.ends_with('\n'), "{:?}", human.stdout);
    let again = Env::new();
    again.workflow(
        "oneline",
        "name: oneline\nsteps:\n  - {name: look, prompt: \"Review it\"}\n",
    );
    let human = again.run(&["workflow", "run", "oneline"]);
    assert_eq!(human.code, 3, "{}", human.text());
    assert!(
        human.stdout.ends_with('\n') && human.stderr.is_empty(),
        "{human:?}"
    );
}

#[test]
fn validate_reports_every_problem_with_its_place() {
    let env = Env::new();
    env.workflow(
        "broken",
        r#"name: broken
inputs:
  version: {type: string, pattern: '[0-9'}
steps:
  - name: build
    run: make ${{ inputs.verison }}
    timeout: soon
  - name: build
    run: echo ${{ steps.deploy.outputs.url }}
  - name: deploy
    agent: ghost
    on_failure: rollback
"#,
    );
    let out = env.run(&["workflow", "validate", "broken"]);
    assert_eq!(out.code, 2);
    insta::assert_snapshot!("validate_errors", out.snapshot(&env));
    env.workflow(
        "typo",
        "name: typo\nsteps:\n  - name: a\n    run: 'true'\n    tiemout: 5\n",
    );
    let out = env.run(&["workflow", "validate", "typo"]);
    assert_eq!(out.code, 2);
    insta::assert_snapshot!("validate_unknown_key", out.snapshot(&env));
}

/// An unknown key of a step is suggested the known key the fewest edits away: `rn` is `run`,
/// not `runs_on` (which only shares its first letters); each typo here has one answer.
#[test]
fn an_unknown_step_key_is_suggested_the_key_fewest_edits_away() {
    let env = Env::new();
    for (typo, meant) in [
        ("rn", "run"),
        ("rum", "run"),
        ("promt", "prompt"),
        ("timout", "timeout"),
        ("retyr", "retry"),
        ("runs_no", "runs_on"),
        ("rollbak", "rollback"),
    ] {
        env.workflow(
            "typo",
            &format!("name: typo\nsteps:\n  - name: a\n    run: 'true'\n    {typo}: x\n"),
        );
        let out = env.run(&["workflow", "validate", "typo"]);
        assert_eq!(out.code, 2, "{typo}: {}", out.stdout);
        let said = out.text();
        assert!(
            said.contains(&format!("unknown field `{typo}`"))
                && said.contains(&format!("did you mean `{meant}`?")),
            "{typo}: {said}"
        );
    }
}

#[test]
fn unknown_names_get_a_suggestion_and_bad_input_exits_2() {
    let env = Env::new();
    let out = env.run(&["workflow", "run", "migraton"]);
    assert_eq!(out.code, 2);
    insta::assert_snapshot!("unknown_name", out.snapshot(&env));
    assert_eq!(env.run(&["workflow", "run", "../../etc/passwd"]).code, 2);
    env.workflow("typed", "name: typed\ninputs:\n  n: {type: integer, minimum: 1, required: true}\n  mode: {enum: [fast, safe], default: safe}\nsteps:\n  - {name: a, run: 'true'}\n");
    let out = env.run(&[
        "workflow",
        "run",
        "typed",
        "--input",
        "n=0",
        "--input",
        "mode=yolo",
        "--input",
        "extra=1",
    ]);
    assert_eq!(out.code, 2);
    insta::assert_snapshot!("bad_inputs", out.snapshot(&env));
    assert!(!env.db().exists(), "nothing was recorded for bad input");
    let cfg = env
        .config(r#"{"workflow": {"max_retries": 2}}"#)
        .run(&["workflow", "run", "typed", "--input", "n=1"]);
    assert_eq!(cfg.code, 2);
    assert!(cfg.stderr.contains("max_retries"), "{}", cfg.stderr);
}

#[test]
fn dry_run_prints_the_plan_and_records_nothing() {
    let env = Env::new();
    let out = env.run(&["workflow", "run", "migration", "--dry-run"]);
    assert_eq!(out.code, 0);
    insta::assert_snapshot!("dry_run", out.snapshot(&env));
    assert!(!env.db().exists());
}

fn abort_ends_a_waiting_run_and_history_lists_it(env: Env) {
    assert_eq!(
        env.run(&["workflow", "run", "onboarding", "--actor", "bob"])
            .code,
        3
    );
    let abort = env.run(&[
        "workflow",
        "abort",
        "--actor",
        "bob",
        "--message",
        "wrong project",
    ]);
    assert_eq!(abort.code, 1);
    assert_eq!(env.status(None)["status"], "aborted");
    let history = env.run(&["workflow", "history"]);
    insta::assert_snapshot!("history", history.snapshot(&env));
    // Aborting it again records nothing and says so, with the code of its outcome (as
    // `resume` of a finished run answers).
    let before = env.status(None)["events"].clone();
    let again = env.run(&["workflow", "abort"]);
    assert_eq!(again.code, 1, "{}{}", again.stdout, again.stderr);
    assert!(
        again
            .stdout
            .contains("already finished (aborted); nothing to abort."),
        "{}",
        again.stdout
    );
    assert_eq!(env.status(None)["events"], before, "nothing recorded");
}

#[test]
fn tampering_with_a_stored_event_fails_verification() {
    let env = Env::new();
    env.workflow(
        "tiny",
        "name: tiny\nsteps:\n  - {name: a, run: 'echo hi'}\n  - {name: b, run: 'true'}\n",
    );
    assert_eq!(env.run(&["workflow", "run", "tiny"]).code, 0);
    let export = env.run(&["log", "export"]);
    let exported: Vec<serde_json::Value> = export
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(exported.len() > 5);
    // The first step's end, whose tail says "hi".
    let seq = exported
        .iter()
        .find(|e| e["type"] == "step_succeeded")
        .unwrap()["seq"]
        .as_u64()
        .unwrap();
    let conn = rusqlite::Connection::open(env.db()).unwrap();
    conn.execute_batch(&format!("DROP TRIGGER events_append_only_update; UPDATE events SET body = replace(body, 'hi', 'ho') WHERE seq = {seq};")).unwrap();
    drop(conn);
    let verify = env.run(&["--json", "log", "verify", "--all"]);
    assert_eq!(verify.code, 1);
    let report = verify.json();
    assert_eq!(report["ok"], false);
    assert_eq!(report["first_bad"]["seq"], seq);
    insta::assert_snapshot!("verify_failed", env.run(&["log", "verify"]).snapshot(&env));
}

#[test]
fn schemas_are_printed() {
    let env = Env::new();
    for name in ["workflow", "config", "event", "agent"] {
        let out = env.run(&["schema", name]);
        assert_eq!(out.code, 0);
        assert!(out.json().is_object());
    }
    assert_eq!(env.run(&["schema", "nope"]).code, 2);
}

fn resume_from_reruns_a_step_and_everything_after_it_keeping_earlier_outputs(env: Env) {
    env.workflow(
        "redo",
        r#"name: redo
steps:
  - name: a
    run: echo a >> ran.log; echo v=1 >> "$CORTEX_OUTPUT"
  - name: b
    run: echo "b ${{ steps.a.outputs.v }}" >> ran.log
  - name: c
    run: echo c >> ran.log; test -f ok
    retry: {max_retry_attempts: 0}
"#,
    );
    assert_eq!(env.run(&["workflow", "run", "redo"]).code, 1);
    std::fs::write(env.file("ok"), "").unwrap();
    let dry = env.run(&["workflow", "resume", "--from", "b", "--dry-run"]);
    assert_eq!(dry.code, 0);
    assert!(
        dry.stdout.contains("reuse") && dry.stdout.contains("re-run"),
        "{}",
        dry.stdout
    );
    let out = env.run(&["workflow", "resume", "--from", "b"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert_eq!(lines(&env.file("ran.log")), ["a", "b 1", "c", "b 1", "c"]);
    let status = env.status(None);
    assert_eq!(status["steps"][0]["attempts"], 1);
    assert_eq!(status["steps"][1]["attempts"], 2);
}

fn resume_rollback_to_compensates_later_steps_then_runs_them_again(env: Env) {
    env.workflow(
        "back",
        r#"name: back
steps:
  - name: base
    run: echo base >> ran.log
    rollback: echo undo-base >> ran.log
  - name: mid
    run: echo mid >> ran.log
    rollback: echo undo-mid >> ran.log
  - name: top
    run: echo top >> ran.log
    rollback: echo undo-top >> ran.log
  - name: last
    run: echo last >> ran.log; test -f ok
    retry: {max_retry_attempts: 0}
"#,
    );
    assert_eq!(env.run(&["workflow", "run", "back"]).code, 1);
    std::fs::write(env.file("ok"), "").unwrap();
    let out = env.run(&["workflow", "resume", "--rollback-to", "base"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert_eq!(
        lines(&env.file("ran.log")),
        [
            "base", "mid", "top", "last", "undo-top", "undo-mid", "mid", "top", "last"
        ]
    );
    assert_eq!(env.status(None)["status"], "completed");
    env.config(r#"{"workflow": {"enable_rollback": false}}"#);
    assert_eq!(env.run(&["workflow", "run", "back"]).code, 0);
}

#[test]
fn pre_validation_reports_every_unmet_prerequisite_and_starts_nothing() {
    let env = Env::new();
    env.workflow(
        "needs",
        "name: needs\nrequires:\n  commands: [definitely-not-installed-xyz]\n  env: [CORTEX_TEST_UNSET_VAR]\n  files: [missing.txt]\nhealth:\n  - run: 'false'\nsteps:\n  - {name: a, run: 'touch ran'}\n",
    );
    let out = env.run(&["workflow", "run", "needs"]);
    assert_eq!(out.code, 1);
    assert!(!env.file("ran").exists(), "no step ran");
    let status = env.status(None);
    assert_eq!(status["status"], "failed");
    assert_eq!(
        status["pre_problems"].as_array().unwrap().len(),
        4,
        "{status}"
    );
    insta::assert_snapshot!("pre_validation_failed", out.snapshot(&env));
}

fn post_validation_failure_pauses_and_retry_rechecks(env: Env) {
    env.workflow("post", "name: post\nsteps:\n  - {name: a, run: 'echo a >> ran.log'}\npost:\n  - run: test -f released\n");
    assert_eq!(env.run(&["workflow", "run", "post"]).code, 1);
    assert_eq!(
        env.status(None)["post_problems"].as_array().unwrap().len(),
        1
    );
    std::fs::write(env.file("released"), "").unwrap();
    assert_eq!(env.run(&["workflow", "resume", "--retry"]).code, 0);
    assert_eq!(
        lines(&env.file("ran.log")),
        ["a"],
        "completed steps are not re-run"
    );
}

fn an_agent_with_a_command_receives_the_prompt_on_stdin(env: Env) {
    std::fs::create_dir_all(env.project().join(".claude/agents")).unwrap();
    std::fs::write(
        env.project().join(".claude/agents/scribe.md"),
        "---\nname: scribe\ndescription: Writes what it is told\ncommand: cat > prompt.txt\n---\nYou write.\n",
    )
    .unwrap();
    env.workflow(
        "agented",
        "name: agented\ninputs:\n  topic: {default: caching}\nsteps:\n  - name: Draft\n    agent: scribe\n    prompt: Write about ${{ inputs.topic }}.\n  - name: Review\n    prompt: Read it.\n",
    );
    let out = env.run(&["workflow", "run", "agented"]);
    assert_eq!(
        out.code, 3,
        "the second step has no agent command: it waits"
    );
    assert_eq!(
        std::fs::read_to_string(env.file("prompt.txt")).unwrap(),
        "Write about caching."
    );
    let status = env.status(None);
    assert_eq!(status["waiting_for"], "Review");
    assert_eq!(
        env.run(&["workflow", "step", "complete", "review"]).code,
        0,
        "names are forgiving"
    );
    assert_eq!(env.status(None)["status"], "completed");
}

fn without_checkpoints_resume_starts_again_from_the_first_step(env: Env) {
    env.config(r#"{"workflow": {"enable_checkpoints": false, "max_retry_attempts": 0}}"#);
    env.workflow("nocp", "name: nocp\nsteps:\n  - {name: a, run: 'echo a >> ran.log'}\n  - {name: b, run: 'echo b >> ran.log; test -f ok'}\n");
    assert_eq!(env.run(&["workflow", "run", "nocp"]).code, 1);
    std::fs::write(env.file("ok"), "").unwrap();
    assert_eq!(env.run(&["workflow", "resume"]).code, 0);
    assert_eq!(lines(&env.file("ran.log")), ["a", "b", "a", "b"]);
    assert!(
        std::fs::read_dir(env.home().join("runs"))
            .unwrap()
            .all(|run| {
                std::fs::read_dir(run.unwrap().path().join("checkpoints"))
                    .unwrap()
                    .next()
                    .is_none()
            })
    );
}

fn json_mode_prints_one_document_on_stdout(env: Env) {
    env.workflow(
        "talk",
        "name: talk\nsteps:\n  - {name: a, run: 'echo chatty'}\n",
    );
    let out = env.run(&["--json", "workflow", "run", "talk"]);
    assert_eq!(out.code, 0);
    let doc = out.json();
    assert_eq!(doc["status"], "completed");
    assert_eq!(doc["kind"], "workflow");
    assert!(doc["head_hash"].as_str().unwrap().len() == 64);
    let err = env.run(&["--json", "workflow", "run", "nope"]);
    assert_eq!(err.code, 2);
    assert!(err.json()["error"].as_str().unwrap().contains("nope"));
}

#[test]
fn deleting_runs_during_a_run_never_lets_a_second_driver_in() {
    let env = Env::new();
    env.workflow(
        "held",
        "name: held\nsteps:\n  - name: wait\n    run: echo ran >> ran.log; touch started; sleep 3\n",
    );
    let mut child = env
        .command(&["workflow", "run", "held"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    common::wait_until("the step to start", || env.file("started").exists());
    // `runs/` is derived and may be deleted at any time: the run stays held.
    std::fs::remove_dir_all(env.home().join("runs")).unwrap();
    let second = env.run(&["workflow", "resume"]);
    assert_eq!(second.code, 4, "{}{}", second.stdout, second.stderr);
    assert!(
        second.stderr.contains("is held by process"),
        "{}",
        second.stderr
    );
    assert_eq!(env.status(None)["status"], "running");
    assert_eq!(child.wait().unwrap().code(), Some(0));
    assert_eq!(lines(&env.file("ran.log")), ["ran"], "the step ran once");
}

/// A process group of its own that a driver must never touch, and its pid.
fn bystander() -> std::process::Child {
    use std::os::unix::process::CommandExt;
    std::process::Command::new("sleep")
        .arg("60")
        .process_group(0)
        .spawn()
        .unwrap()
}

fn is_alive(child: &mut std::process::Child) -> bool {
    child.try_wait().unwrap().is_none()
}

#[test]
fn a_symlinked_inflight_notes_file_is_never_followed() {
    let env = Env::new();
    env.workflow(
        "notes",
        "name: notes\nsteps:\n  - name: first\n    run: 'true'\n  - name: review\n    prompt: look\n  - name: last\n    run: echo last >> ran.log\n",
    );
    assert_eq!(env.run(&["workflow", "run", "notes"]).code, 3);
    let run_id = env.status(None)["run_id"].as_str().unwrap().to_string();
    // The notes now point at a file naming someone else's process group as left running.
    let mut victim = bystander();
    let planted = env.file("planted.pgids");
    let text = format!("1 {}\n", victim.id());
    std::fs::write(&planted, &text).unwrap();
    let notes = env.inflight_notes(&run_id);
    let _ = std::fs::remove_file(&notes);
    std::os::unix::fs::symlink(&planted, &notes).unwrap();

    assert_eq!(env.run(&["workflow", "step", "complete", "review"]).code, 0);
    let resumed = env.run(&["workflow", "resume"]);
    assert_eq!(resumed.code, 0, "{}{}", resumed.stdout, resumed.stderr);
    assert_eq!(lines(&env.file("ran.log")), ["last"]);
    assert!(
        is_alive(&mut victim),
        "a group named through a link was ended"
    );
    assert_eq!(
        std::fs::read_to_string(&planted).unwrap(),
        text,
        "notes were written through the link"
    );
    victim.kill().unwrap();
    victim.wait().unwrap();
}

/// A FIFO put in the place of the notes of process groups in flight never blocks a report or
/// a resume (opening a FIFO waits for its other end): derived files are opened without
/// waiting and anything but a regular file is refused. The commands are given a minute; a hang
/// is a failure, not a timing.
#[test]
fn a_fifo_in_place_of_the_inflight_notes_never_hangs_a_report_or_resume() {
    let env = Env::new();
    env.workflow(
        "notes",
        "name: notes\nsteps:\n  - name: first\n    run: 'true'\n  - name: review\n    prompt: look\n  - name: last\n    run: echo last >> ran.log\n",
    );
    assert_eq!(env.run(&["workflow", "run", "notes"]).code, 3);
    let run_id = env.status(None)["run_id"].as_str().unwrap().to_string();
    let notes = env.inflight_notes(&run_id);
    let _ = std::fs::remove_file(&notes);
    nix::unistd::mkfifo(&notes, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    for (args, want) in [
        (
            vec!["workflow", "step", "complete", "review", "--no-drive"],
            3,
        ),
        (vec!["workflow", "resume"], 0),
    ] {
        let mut child = env.spawn(&args);
        let until = std::time::Instant::now() + std::time::Duration::from_secs(60);
        let code = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status.code();
            }
            if std::time::Instant::now() > until {
                let _ = child.kill();
                panic!("{args:?} hung on a FIFO in place of the inflight notes");
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        };
        assert_eq!(code, Some(want), "{args:?}");
    }
    assert_eq!(lines(&env.file("ran.log")), ["last"]);
}

#[test]
fn a_home_whose_derived_folders_are_links_is_refused() {
    let env = Env::new();
    env.workflow(
        "linked",
        "name: linked\nsteps:\n  - name: review\n    prompt: look\n  - name: after\n    run: 'true'\n",
    );
    let elsewhere = env.dir.path().join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, env.home().join("runs")).unwrap();
    let refused = env.run(&["workflow", "run", "linked"]);
    assert_eq!(refused.code, 2, "{}{}", refused.stdout, refused.stderr);
    assert!(
        refused.stderr.contains("runs is a symbolic link"),
        "{}",
        refused.stderr
    );
    assert!(
        std::fs::read_dir(&elsewhere).unwrap().next().is_none(),
        "something was written through the link"
    );
    let history = env.run(&["--json", "workflow", "history"]).json()["runs"].clone();
    assert_eq!(history.as_array().unwrap().len(), 0, "nothing was recorded");

    // A run whose `work/` became a link is not driven until it is removed.
    std::fs::remove_file(env.home().join("runs")).unwrap();
    assert_eq!(env.run(&["workflow", "run", "linked"]).code, 3);
    let run_id = env.status(None)["run_id"].as_str().unwrap().to_string();
    let work = env.home().join("runs").join(&run_id).join("work");
    let _ = std::fs::remove_dir_all(&work);
    std::os::unix::fs::symlink(&elsewhere, &work).unwrap();
    assert_eq!(env.run(&["workflow", "step", "complete", "review"]).code, 2);
    // A plain resume of a run waiting on a person drives nothing (nothing recorded, nothing
    // written); one that changes something (a time limit) is refused.
    assert_eq!(env.run(&["workflow", "resume"]).code, 3);
    assert!(std::fs::read_dir(&elsewhere).unwrap().next().is_none());
    let refused = env.run(&["workflow", "resume", "--timeout", "1h"]);
    assert_eq!(refused.code, 2, "{}{}", refused.stdout, refused.stderr);
    assert!(
        refused.stderr.contains("work is a symbolic link"),
        "{}",
        refused.stderr
    );
    assert!(std::fs::read_dir(&elsewhere).unwrap().next().is_none());
}

/// Whether process `pid` is alive (not gone, not a zombie waiting to be reaped).
fn pid_alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.contains(") Z "))
}

#[test]
fn a_background_child_ends_with_its_step() {
    let env = Env::new();
    env.workflow(
        "bg",
        "name: bg\nsteps:\n  - name: spawn\n    run: sleep 60 & echo $! > bg.pid\n  - name: kept\n    run: sleep 60 > /dev/null 2>&1 & echo $! > kept.pid\n    keep_background: true\n",
    );
    let out = env.run(&["workflow", "run", "bg"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let pid = |file: &str| -> i32 {
        std::fs::read_to_string(env.file(file))
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    };
    let (ended, kept) = (pid("bg.pid"), pid("kept.pid"));
    common::wait_until("the background child to end", || !pid_alive(ended));
    assert!(
        pid_alive(kept),
        "a step that keeps its background was reaped"
    );
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(kept),
        nix::sys::signal::Signal::SIGKILL,
    );
}

common::on_both_stores!(
    seed_feature_development_waits_on_each_prompt_step_and_completes,
    shell_steps_pass_outputs_retry_a_flaky_step_and_leave_an_auditable_log,
    a_failing_step_with_on_failure_rollback_compensates_newest_first,
    a_paused_run_resumes_with_retry_or_skip_without_rerunning_completed_steps,
    kill_9_mid_step_leaves_an_interrupted_run_that_resumes_without_rerunning_completed_steps,
    a_second_driver_gets_exit_4_naming_the_holder,
    sigint_is_a_recorded_stop_and_resume_finishes_the_run,
    outputs_used_through_templates_stay_data,
    abort_ends_a_waiting_run_and_history_lists_it,
    resume_from_reruns_a_step_and_everything_after_it_keeping_earlier_outputs,
    resume_rollback_to_compensates_later_steps_then_runs_them_again,
    post_validation_failure_pauses_and_retry_rechecks,
    an_agent_with_a_command_receives_the_prompt_on_stdin,
    without_checkpoints_resume_starts_again_from_the_first_step,
    json_mode_prints_one_document_on_stdout,
    a_timeout_ends_the_whole_process_group,
    secret_environment_values_never_reach_the_log,
);

/// The start time (clock ticks since boot) `/proc` gives process `pid`.
fn start_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let rest = &stat[stat.rfind(')').unwrap() + 1..];
    rest.split_whitespace().nth(19).unwrap().parse().unwrap()
}

#[test]
fn resume_ends_only_the_process_groups_its_run_started_never_a_reused_pgid_or_a_forged_note() {
    let env = Env::new();
    env.workflow(
        "orphan",
        "name: orphan\nsteps:\n  - name: a\n    run: if [ -f started ]; then exit 0; fi; echo $$ > started; sleep 60\n",
    );
    let mut driver = env
        .command(&["workflow", "run", "orphan"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    common::wait_until("the step to start", || {
        std::fs::read_to_string(env.file("started")).is_ok_and(|s| s.ends_with('\n'))
    });
    let orphan: i32 = std::fs::read_to_string(env.file("started"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    wait_for_note(&env, orphan);
    driver.kill().unwrap(); // SIGKILL: the step's group is left running
    driver.wait().unwrap();
    assert!(pid_alive(orphan));

    // Groups of strangers that the notes now name, as after a pid was reused or a reboot:
    // in the older form (no identity), with another leader's start time, and from another
    // boot; and one named with its true boot and start time (both anyone can read from
    // `/proc`: a forged line), which cortex never started (no `CORTEX_RUN_ID` of the run).
    let mut strangers = [bystander(), bystander(), bystander(), bystander()];
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap();
    let run_id = env.status(None)["run_id"].as_str().unwrap().to_string();
    let notes = env.inflight_notes(&run_id);
    let mut text = std::fs::read_to_string(&notes).unwrap();
    let [old, moved, rebooted, forged] = strangers.each_ref().map(std::process::Child::id);
    text += &format!("k1 {old}\n");
    text += &format!("k2 {moved} {} {}\n", boot.trim(), start_ticks(moved) + 1);
    text += &format!(
        "k3 {rebooted} 00000000-0000-0000-0000-000000000000 {}\n",
        start_ticks(rebooted)
    );
    text += &format!("x {forged} {} {}\n", boot.trim(), start_ticks(forged));
    std::fs::write(&notes, text).unwrap();

    let resumed = env.run(&["workflow", "resume"]);
    assert_eq!(resumed.code, 0, "{}{}", resumed.stdout, resumed.stderr);
    assert!(
        resumed
            .stderr
            .contains(&format!("ended process group {orphan}")),
        "{}",
        resumed.stderr
    );
    common::wait_until("the run's own orphan to end", || !pid_alive(orphan));
    for stranger in &mut strangers {
        assert!(
            is_alive(stranger),
            "a process group the run did not start was ended"
        );
        stranger.kill().unwrap();
        stranger.wait().unwrap();
    }
}

#[test]
fn deleting_locks_during_a_run_never_lets_a_second_driver_in() {
    let env = Env::new();
    env.workflow(
        "held",
        "name: held\nsteps:\n  - name: wait\n    run: echo ran >> ran.log; touch started; sleep 3\n",
    );
    let child = env
        .command(&["workflow", "run", "held"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    common::wait_until("the step to start", || env.file("started").exists());
    // The lock file goes: the log still names the live driver, on this host.
    std::fs::remove_dir_all(env.home().join("locks")).unwrap();
    for _ in 0..2 {
        let second = env.run(&["workflow", "resume"]);
        assert_eq!(second.code, 4, "{}{}", second.stdout, second.stderr);
        assert!(
            second.stderr.contains("is held by process") && second.stderr.contains("lock file"),
            "{}",
            second.stderr
        );
        assert!(
            !second.stdout.contains("Resumed workflow"),
            "nothing is announced: {}",
            second.stdout
        );
    }
    let first = child.wait_with_output().unwrap();
    assert_eq!(
        first.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert_eq!(lines(&env.file("ran.log")), ["ran"], "the step ran once");
    assert_eq!(env.status(None)["status"], "completed");
    let events = env.run(&["log", "export"]).stdout;
    assert!(!events.contains("step_interrupted"), "{events}");
}

#[test]
fn a_driver_killed_after_its_lock_file_was_deleted_is_taken_over() {
    let env = Env::new();
    env.workflow(
        "again",
        "name: again\nsteps:\n  - name: wait\n    run: echo ran >> ran.log; test -f second || { touch started; sleep 30; }\n",
    );
    let mut child = env
        .command(&["workflow", "run", "again"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    common::wait_until("the step to start", || env.file("started").exists());
    std::fs::remove_dir_all(env.home().join("locks")).unwrap();
    child.kill().unwrap(); // SIGKILL: the driver the log names is gone
    child.wait().unwrap();
    std::fs::write(env.file("second"), "").unwrap();
    let resumed = env.run(&["workflow", "resume"]);
    assert_eq!(resumed.code, 0, "{}{}", resumed.stdout, resumed.stderr);
    assert_eq!(lines(&env.file("ran.log")), ["ran", "ran"]);
}

/// A shell command that, the first time, writes its pid to `first.pid` and sleeps (to be left
/// running by a killed driver); the next time, notes `overlap` if that first copy still runs,
/// writes `second`, and succeeds.
const ONCE_THEN_CHECK: &str = "if [ -f first.pid ]; then p=$(cat first.pid); if [ -r /proc/$p/stat ] && ! grep -q ') Z ' /proc/$p/stat; then echo overlap > overlap; fi; echo second > second; exit 0; fi; echo $$ > first.pid.tmp; mv first.pid.tmp first.pid; exec sleep 60";

/// Whatever a driver runs besides attempts (a compensation, a `validate: - run:` check, an
/// `if: {run:}` condition, a health check) is noted like an attempt: after `kill -9` of the
/// driver mid-command, `resume` ends the copy left running before it runs the command again.
#[test]
fn a_killed_drivers_compensation_check_or_condition_is_ended_before_it_runs_again() {
    let q = |s: &str| format!("'{}'", s.replace('\'', "''"));
    let cases = [
        (
            "rollback",
            format!(
                "name: w\nsteps:\n  - name: a\n    run: 'true'\n    rollback: {}\n  - name: b\n    run: exit 1\n    retry: {{max_retry_attempts: 0}}\n    on_failure: rollback\n",
                q(ONCE_THEN_CHECK)
            ),
        ),
        (
            "validate",
            format!(
                "name: w\nsteps:\n  - name: a\n    run: 'true'\n    validate:\n      - run: {}\n",
                q(ONCE_THEN_CHECK)
            ),
        ),
        (
            "if",
            format!(
                "name: w\nsteps:\n  - name: a\n    if: {{run: {}}}\n    run: 'true'\n",
                q(ONCE_THEN_CHECK)
            ),
        ),
        (
            "health",
            format!(
                "name: w\nhealth:\n  - run: {}\nsteps:\n  - name: a\n    run: 'true'\n",
                q(ONCE_THEN_CHECK)
            ),
        ),
    ];
    for (what, yaml) in cases {
        let env = Env::new();
        env.workflow("w", &yaml);
        let mut driver = env.spawn(&["workflow", "run", "w"]);
        common::wait_until(&format!("the {what} command to start"), || {
            env.file("first.pid").exists()
        });
        let first: i32 = std::fs::read_to_string(env.file("first.pid"))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        wait_for_note(&env, first);
        driver.kill().unwrap(); // SIGKILL: the command's group is left running
        driver.wait().unwrap();
        assert!(pid_alive(first), "{what}: the first copy runs on");
        let resumed = env.run(&["workflow", "resume"]);
        assert!(
            resumed
                .stderr
                .contains(&format!("ended process group {first}")),
            "{what}: {}{}",
            resumed.stdout,
            resumed.stderr
        );
        assert!(
            env.file("second").exists(),
            "{what}: the command ran again: {}{}",
            resumed.stdout,
            resumed.stderr
        );
        assert!(
            !env.file("overlap").exists(),
            "{what}: the second copy ran beside the first"
        );
        assert!(!pid_alive(first), "{what}");
    }
}

/// Seen by a review: a driver SIGKILLed while an `if: {run:}` command ran left the run shown
/// `waiting` ("nobody drives it now"), its step `pending`, as if nothing had been cut short.
/// The command's start is recorded (`condition_started`): while the driver lives the step is
/// shown checking its condition; once it is dead the run is `interrupted` (SPEC §4) and the
/// step says its command was cut short; `resume` ends the copy left running, runs the command
/// again and goes on.
#[test]
fn a_driver_killed_while_an_if_command_runs_leaves_the_run_interrupted() {
    let env = Env::new();
    env.workflow(
        "ic",
        "name: ic\nsteps:\n  - name: a\n    run: echo a\n  - name: b\n    if: {run: 'if [ -f first.pid ]; then exit 0; fi; echo $$ > first.pid; exec sleep 60'}\n    run: echo b > b.log\n",
    );
    let mut driver = env.spawn(&["workflow", "run", "ic"]);
    common::wait_until("the condition command to start", || {
        std::fs::read_to_string(env.file("first.pid")).is_ok_and(|p| p.ends_with('\n'))
    });
    let first: i32 = std::fs::read_to_string(env.file("first.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let live = env.status(None);
    assert_eq!(live["status"], "running", "{live}");
    assert_eq!(live["steps"][1]["status"], "pending", "{live}");
    assert_eq!(live["steps"][1]["checking_condition"], true, "{live}");
    assert!(live["steps"][1].get("interrupted").is_none(), "{live}");
    let text = env.run(&["workflow", "status"]).stdout;
    assert!(
        text.contains("Status: Checking its condition: its `if:` command runs"),
        "{text}"
    );
    wait_for_note(&env, first);
    driver.kill().unwrap();
    driver.wait().unwrap();
    let dead = env.status(None);
    assert_eq!(dead["status"], "interrupted", "{dead}");
    assert_eq!(dead["steps"][1]["checking_condition"], true, "{dead}");
    assert_eq!(dead["steps"][1]["interrupted"], true, "{dead}");
    let text = env.run(&["workflow", "status"]).stdout;
    assert!(
        text.contains("Interrupted while its `if:` command ran: its driver is gone; the command runs again on resume"),
        "{text}"
    );
    assert!(text.contains("its driver is gone"), "{text}");
    assert!(
        pid_alive(first),
        "the condition's command runs on until a takeover"
    );
    let resumed = env.run(&["workflow", "resume"]);
    assert_eq!(resumed.code, 0, "{}{}", resumed.stdout, resumed.stderr);
    assert!(
        resumed
            .stderr
            .contains(&format!("ended process group {first}")),
        "{}{}",
        resumed.stdout,
        resumed.stderr
    );
    assert!(!pid_alive(first));
    let done = env.status(None);
    assert_eq!(done["status"], "completed", "{done}");
    assert!(
        done["steps"][1].get("checking_condition").is_none(),
        "{done}"
    );
    assert_eq!(lines(&env.file("b.log")), ["b"]);
    let verify = env.run(&["log", "verify"]);
    assert_eq!(verify.code, 0, "{}{}", verify.stdout, verify.stderr);
}

/// Wait for `child` to exit, at most a minute (far beyond a prompt stop, far below the step's
/// own end), killing it if it does not.
fn exit_of(mut child: std::process::Child, what: &str) -> std::process::Output {
    let until = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() >= until {
            let _ = child.kill();
            panic!("{what}: the driver still runs its step");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

/// `workflow abort` from another terminal ends the live driver's step and the driver says
/// "aborted", whether or not `locks/` was deleted under it (before, with it deleted, the abort
/// was recorded around the driver, which ran its step to the end).
#[test]
fn an_abort_reaches_the_live_driver_even_with_locks_deleted() {
    for delete_locks in [false, true] {
        let env = Env::new();
        env.workflow(
            "long",
            "name: long\nsteps:\n  - name: wait\n    run: echo $$ > started; exec sleep 600\n",
        );
        let driver = env
            .command(&["workflow", "run", "long"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        common::wait_until("the step to start", || {
            std::fs::read_to_string(env.file("started")).is_ok_and(|s| s.ends_with('\n'))
        });
        if delete_locks {
            std::fs::remove_dir_all(env.home().join("locks")).unwrap();
        }
        let abort = env.run(&["workflow", "abort"]);
        assert_eq!(abort.code, 1, "{}{}", abort.stdout, abort.stderr);
        assert!(abort.stdout.contains("aborted"), "{}", abort.stdout);
        let out = exit_of(driver, &format!("locks deleted: {delete_locks}"));
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(1), "{stdout}");
        assert!(
            stdout.contains("Workflow aborted"),
            "locks deleted: {delete_locks}: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let step: i32 = std::fs::read_to_string(env.file("started"))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        assert!(!pid_alive(step), "locks deleted: {delete_locks}");
        assert_eq!(env.status(None)["status"], "aborted");
    }
}

/// A misspelled required top-level key (`nam:` for `name:`) is one located problem with its
/// did-you-mean, for workflows and scenarios alike, not also an unlocated "missing field"; a
/// required key that is simply absent is located at the file's start with how to fix it.
#[test]
fn a_misspelled_required_key_is_located_with_a_did_you_mean() {
    let env = Env::new();
    env.workflow("x", "nam: x\nsteps:\n  - name: a\n    run: 'true'\n");
    std::fs::create_dir_all(env.home().join("scenarios")).unwrap();
    std::fs::write(
        env.home().join("scenarios").join("y.yaml"),
        "nam: y\nphases:\n  - name: a\n    run: 'true'\n",
    )
    .unwrap();
    env.workflow(
        "n",
        "description: d\nsteps:\n  - name: a\n    run: 'true'\n",
    );
    for (args, file) in [
        (&["--json", "workflow", "validate", "x"][..], "x.yaml"),
        (&["--json", "orchestrate", "validate", "y"], "y.yaml"),
    ] {
        let out = env.run(args);
        assert_eq!(out.code, 2, "{args:?}: {}{}", out.stdout, out.stderr);
        let doc = out.json();
        let errors = doc["errors"].as_array().unwrap();
        assert_eq!(errors.len(), 1, "{args:?}: {doc}");
        let e = &errors[0];
        assert!(e["file"].as_str().unwrap().ends_with(file), "{e}");
        assert_eq!(
            (e["line"].as_u64(), e["column"].as_u64()),
            (Some(1), Some(1))
        );
        assert!(
            e["message"]
                .as_str()
                .unwrap()
                .contains("unknown field `nam`"),
            "{e}"
        );
        assert_eq!(e["hint"], "did you mean `name`?");
    }
    let out = env.run(&["--json", "workflow", "validate", "n"]);
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    let doc = out.json();
    let e = &doc["errors"][0];
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("Missing required field: name"),
        "{e}"
    );
    assert_eq!(
        (e["line"].as_u64(), e["column"].as_u64()),
        (Some(1), Some(1)),
        "{e}"
    );
    assert!(e["hint"].as_str().unwrap().contains("add `name:`"), "{e}");
}

/// A run aborted while a step waits for a report: its status shows the step not finished (not
/// still "Waiting for a report", with a time growing to now), and an abort message of several
/// lines keeps them under "Reason:".
#[test]
fn an_aborted_runs_waiting_step_is_shown_not_finished_and_a_long_reason_stays_indented() {
    let env = Env::new();
    env.workflow("hold", "name: hold\nsteps:\n  - {name: a, prompt: do it}\n");
    assert_eq!(env.run(&["workflow", "run", "hold"]).code, 3);
    let out = env.run(&[
        "workflow",
        "abort",
        "hold",
        "--message",
        "first line\nsecond line",
    ]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let text = env.run(&["workflow", "status", "hold"]).stdout;
    assert!(
        text.contains("Status: Not finished: the run was aborted"),
        "{text}"
    );
    assert!(!text.contains("Waiting for a report"), "{text}");
    assert!(text.contains("first line\n        second line"), "{text}");
    assert_eq!(env.status(Some("hold"))["status"], "aborted");
}

/// A step whose `working_dir:` does not exist was retried like a flaky command, spending its
/// retries and their backoff on what no retry can change: it now fails at the first attempt,
/// no retry scheduled, with an error naming the folder and how to fix it; once the folder
/// exists, `resume --retry` runs it. A scenario's phase fails the same way.
#[test]
fn a_missing_working_dir_was_retried_like_a_flaky_command() {
    let env = Env::new();
    env.workflow(
        "nodir",
        "name: nodir\nsteps:\n  - name: build\n    run: pwd > ../where\n    working_dir: out/deeper\n    retry: {max_retry_attempts: 3, backoff: 10s}\n",
    );
    let run = env.run(&["--json", "workflow", "run", "nodir"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let doc = run.json();
    let missing = env.project().join("out/deeper");
    let error = doc["steps"][0]["error"].as_str().unwrap_or_default();
    for part in [
        format!("working directory {} does not exist", missing.display()),
        "`working_dir: out/deeper`".to_string(),
        "create the directory, then resume the run".to_string(),
        // Resume runs the definition the run started with: correcting the file changes nothing.
        "a corrected `working_dir:` applies to a new run".to_string(),
    ] {
        assert!(error.contains(&part), "{part}: {doc}");
    }
    assert_eq!(doc["steps"][0]["attempts"], 1, "{doc}");
    let run_id = doc["run_id"].as_str().unwrap().to_string();
    let events = env.events(&run_id);
    assert!(
        !events.iter().any(|e| e["type"] == "retry_scheduled"),
        "no retry is spent on a missing directory: {events:?}"
    );

    std::fs::create_dir_all(&missing).unwrap();
    let again = env.run(&["workflow", "resume", &run_id, "--retry"]);
    assert_eq!(again.code, 0, "{}{}", again.stdout, again.stderr);
    let wrote = std::fs::read_to_string(env.project().join("out/where")).unwrap();
    assert_eq!(wrote.trim(), missing.display().to_string());

    env.scenario("nodir", "name: nodir\ndescription: d\nphases:\n  - name: build\n    description: b\n    run: 'true'\n    working_dir: gone\n    retry: {max_retry_attempts: 2, backoff: 10s}\n");
    let run = env.run(&["--json", "orchestrate", "run", "nodir"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let doc = run.json();
    let phase = &doc["phases"][0];
    assert_eq!(phase["attempts"], 1, "{doc}");
    let error = phase["error"].as_str().unwrap_or_default();
    assert!(
        error.contains(&format!(
            "{} does not exist",
            env.project().join("gone").display()
        )),
        "{doc}"
    );
}

/// A long output is shown cut in `status`, and says so: before, it was cut at 80 characters
/// with nothing to mark the cut, so a reader took a part of a value for the whole of it. The
/// whole value stays in `--json`.
#[test]
fn a_long_output_in_status_is_cut_with_an_ellipsis_and_whole_in_json() {
    let env = Env::new();
    let value = format!("{}END", "x".repeat(120));
    env.workflow(
        "long-output",
        &format!(
            "name: long-output\nsteps:\n  - name: a\n    run: echo 'v={value}' >> \"$CORTEX_OUTPUT\"\n"
        ),
    );
    assert_eq!(env.run(&["workflow", "run", "long-output"]).code, 0);
    let status = env.run(&["workflow", "status", "long-output"]).stdout;
    let line = status
        .lines()
        .find(|l| l.contains("Output: v="))
        .expect("the output's line");
    assert!(line.ends_with('…'), "{line}");
    assert!(!line.contains("END"), "{line}");
    assert_eq!(
        line.trim_start()
            .trim_start_matches("Output: v=")
            .chars()
            .count(),
        80
    );
    let json = env
        .run(&["--json", "workflow", "status", "long-output"])
        .stdout;
    assert!(json.contains(&value), "{json}");
}

/// `runs/` (derived, deletable: SPEC §2) deleted while a step ran took the outputs the step had
/// already written to `$CORTEX_OUTPUT` with it, and nothing said so. Now the driver sees its
/// `work/` folder gone when the command ends and says what went with it; the run goes on (the
/// step is not run twice for it).
#[test]
fn runs_deleted_under_a_running_step_says_its_outputs_went_with_it() {
    let env = Env::new();
    env.workflow(
        "r",
        "name: r\nsteps:\n  - name: S\n    run: 'echo a=1 >> \"$CORTEX_OUTPUT\"; touch wrote; while [ ! -e go ]; do sleep 0.05; done'\n  - name: T\n    run: 'echo T ran'\n",
    );
    let child = env
        .command(&["workflow", "run", "r"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let until = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !env.file("wrote").exists() {
        assert!(std::time::Instant::now() < until, "the step never wrote");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    std::fs::remove_dir_all(env.home().join("runs")).unwrap();
    std::fs::write(env.file("go"), "").unwrap();
    let out = child.wait_with_output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(0), "{said}");
    assert!(
        said.contains(
            "was removed while `S` ran: whatever it wrote to $CORTEX_OUTPUT went with it"
        ),
        "{said}"
    );
}

/// A run refused for its inputs also names the prerequisites it would fail next. Before, a
/// missing command or file came out only once the inputs were fixed: one problem at a time,
/// where SPEC §4 says every problem at once.
#[test]
fn bad_inputs_and_unmet_prerequisites_are_said_together() {
    let env = Env::new();
    env.workflow(
        "pre",
        "name: pre\ninputs:\n  n: {type: integer, maximum: 5}\nrequires:\n  commands: [definitely-not-a-cmd]\n  files: [nofile.txt]\nsteps:\n  - {name: a, run: 'true'}\n",
    );
    let out = env.run(&["workflow", "run", "pre", "--input", "n=9"]);
    assert_eq!(out.code, 2, "{}", out.text());
    let text = out.text();
    assert!(
        text.contains("1 problem, and 2 prerequisites unmet"),
        "{text}"
    );
    assert!(text.contains("9 is more than the maximum 5"), "{text}");
    assert!(
        text.contains("`definitely-not-a-cmd` is not on PATH"),
        "{text}"
    );
    assert!(text.contains("`nofile.txt` does not exist"), "{text}");
    assert!(!env.db().exists(), "nothing recorded");
}

/// Seen by a review: `resume --from` over a `foreach:` step recorded its items' attempts as
/// `attempt 1` again: `logs/RUN/step-N-attempt-1.log` was overwritten, `logs` showed the new
/// output twice and the old one nowhere, and `log verify` said a log nobody touched "was
/// changed". An attempt number is a unit's fencing token and names its whole-output file:
/// the items go on from their latest attempt, and a list of another length (which moves the
/// steps after it to other indexes) never makes a unit write a file another attempt wrote.
fn resume_from_over_a_foreach_step_never_reuses_an_attempt_number_or_log_file(env: Env) {
    env.workflow(
        "wf",
        "name: wf\nsteps:\n  - name: list\n    run: |\n      n=$(cat n 2>/dev/null || echo 0); n=$((n+1)); echo $n > n\n      if [ $n = 1 ]; then echo 'l=[\"a\",\"b\"]'; else echo 'l=[\"a\",\"b\",\"c\"]'; fi >> \"$CORTEX_OUTPUT\"\n  - name: each\n    foreach: ${{ steps.list.outputs.l }}\n    run: echo \"item ${{ item }} run $(cat n)\"\n  - name: last\n    run: echo \"last run $(cat n)\"; false\n    retry: {max_retry_attempts: 0}\n",
    );
    assert_eq!(env.run(&["workflow", "run", "wf"]).code, 1);
    let resumed = env.run(&["workflow", "resume", "wf", "--from", "list"]);
    assert_eq!(resumed.code, 1, "{}", resumed.text());
    let run = env.run(&["--json", "workflow", "history"]).json()["runs"].clone()[0]["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    let events = env.events(&run);
    let started = |step: &str| -> Vec<u64> {
        events
            .iter()
            .filter(|e| e["type"] == "step_started" && e["body"]["step"] == step)
            .map(|e| e["body"]["attempt"].as_u64().unwrap())
            .collect()
    };
    assert_eq!(started("each[0]"), [1, 2]);
    assert_eq!(started("each[1]"), [1, 2]);
    assert_eq!(started("last"), [1, 2]);
    // `each[2]` is new, at the index `last` had: its files are named by the unit, not the
    // index, so it begins at attempt 1 without taking `last`'s.
    assert_eq!(started("each[2]"), [1]);
    let files: Vec<&str> = events
        .iter()
        .filter(|e| e["type"] == "attempt_log")
        .map(|e| e["body"]["file"].as_str().unwrap())
        .collect();
    let mut distinct = files.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(
        files.len(),
        distinct.len(),
        "a file written twice: {files:?}"
    );
    let verify = env.run(&["log", "verify"]);
    assert_eq!(verify.code, 0, "{}", verify.text());
    // Both outputs are kept, each once.
    let logs = env.run(&["logs", &run, "each[0]"]).stdout;
    assert_eq!(logs.matches("item a run 1").count(), 1, "{logs}");
    assert_eq!(logs.matches("item a run 2").count(), 1, "{logs}");
    let logs = env.run(&["logs", &run, "last"]).stdout;
    assert_eq!(logs.matches("last run 1").count(), 1, "{logs}");
    assert_eq!(logs.matches("last run 2").count(), 1, "{logs}");
}

common::on_both_stores!(resume_from_over_a_foreach_step_never_reuses_an_attempt_number_or_log_file);

/// `resume --from STEP` of a step that never ran: refused (exit 2, nothing recorded, its
/// dry run too) with what works, as a scenario's `--from` of a phase that never ran is.
/// Before, the reset left the run where it was and the failed step ran again, the log saying
/// "from step c".
#[test]
fn resume_from_a_step_that_never_ran_is_refused_with_what_works() {
    let env = Env::new();
    env.workflow("f", "name: f\nsteps:\n  - {name: a, run: 'echo a >> ran.log'}\n  - name: b\n    run: echo b >> ran.log; exit 1\n    retry: {max_retry_attempts: 0}\n  - {name: c, run: 'echo c >> ran.log'}\n");
    assert_eq!(env.run(&["workflow", "run", "f"]).code, 1);
    let run = env.status(None)["run_id"].as_str().unwrap().to_string();
    let events = env.events(&run).len();
    for dry in [true, false] {
        let mut args = vec!["workflow", "resume", "f", "--from", "c"];
        if dry {
            args.push("--dry-run");
        }
        let out = env.run(&args);
        assert_eq!(out.code, 2, "{}", out.text());
        for said in [
            "cannot re-run from step `c`: it has not run yet",
            "`--retry` (run `b` again)",
            "`--skip`",
            "`--from` a step that ran (`a`, `b`)",
        ] {
            assert!(out.stderr.contains(said), "{said}: {}", out.stderr);
        }
    }
    assert_eq!(env.events(&run).len(), events, "nothing recorded");
    assert_eq!(
        lines(&env.file("ran.log")),
        ["a", "b"],
        "b did not run again"
    );
    // What it names works.
    assert_eq!(env.run(&["workflow", "resume", "f", "--skip"]).code, 0);
    assert_eq!(lines(&env.file("ran.log")), ["a", "b", "c"]);
}

/// After `resume --rollback-to`, the steps after the target are pending until the run gets
/// to them: the failed one was shown as "Retry scheduled (attempt 2)", `ready` in --json,
/// while the run waited on an earlier step's report.
#[test]
fn rollback_to_shows_the_steps_after_its_target_pending() {
    let env = Env::new();
    env.workflow("r", "name: r\nsteps:\n  - {name: one, run: echo one}\n  - {name: two, prompt: review}\n  - name: three\n    run: exit 1\n    retry: {max_retry_attempts: 1, backoff: 0s}\n");
    assert_eq!(env.run(&["workflow", "run", "r"]).code, 3);
    assert_eq!(env.run(&["workflow", "step", "complete", "two"]).code, 1);
    let out = env.run(&["workflow", "resume", "r", "--rollback-to", "one"]);
    assert_eq!(out.code, 3, "{}", out.text());
    let status = env.status(None);
    assert_eq!(status["status"], "waiting");
    let steps: Vec<(&str, &str)> = status["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["name"].as_str().unwrap(), s["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        steps,
        [
            ("one", "completed"),
            ("two", "waiting"),
            ("three", "pending")
        ]
    );
    let human = env.run(&["workflow", "status", "r"]);
    assert!(
        !human.stdout.contains("Retry scheduled"),
        "{}",
        human.stdout
    );
    // Reported, `three` runs again with its whole budget: two attempts.
    assert_eq!(env.run(&["workflow", "step", "complete", "two"]).code, 1);
    let three = &env.status(None)["steps"][2];
    assert_eq!(three["attempts"], 4, "{three}");
}

/// With checkpoints disabled (or `checkpoint_frequency: manual` and no step marked) nothing
/// is a resume point: a plain resume, `--retry` and `--skip` all run the completed steps
/// again, and their dry runs say so. Before, a plain resume re-ran `a` while `--retry`
/// reused it.
#[test]
fn without_checkpoints_every_resume_mode_runs_the_completed_steps_again() {
    for config in [
        r#"{"workflow": {"enable_checkpoints": false}}"#,
        r#"{"workflow": {"checkpoint_frequency": "manual"}}"#,
    ] {
        let env = Env::new();
        env.config(config);
        env.workflow("cp", "name: cp\nsteps:\n  - {name: a, run: 'echo a >> ran.log'}\n  - name: b\n    run: echo b >> ran.log; test -f okb\n    retry: {max_retry_attempts: 0}\n");
        assert_eq!(env.run(&["workflow", "run", "cp"]).code, 1);
        for mode in [None, Some("--retry"), Some("--skip")] {
            let mut args = vec!["--json", "workflow", "resume", "cp", "--dry-run"];
            args.extend(mode);
            let plan = env.run(&args).json();
            assert_eq!(
                plan["steps"][0]["action"], "rerun",
                "{config} {mode:?}: {plan}"
            );
        }
        assert_eq!(env.run(&["workflow", "resume", "cp", "--retry"]).code, 1);
        assert_eq!(
            lines(&env.file("ran.log")),
            ["a", "b", "a", "b"],
            "{config}"
        );
        assert_eq!(env.run(&["workflow", "resume", "cp", "--skip"]).code, 0);
        assert_eq!(
            lines(&env.file("ran.log")),
            ["a", "b", "a", "b", "a"],
            "{config}"
        );
        assert_eq!(env.status(None)["status"], "completed");
    }
}

/// A report that drives the run on runs the definition the run started with: a file changed
/// since is said as `resume` says it, on stderr and in the document's `warnings` — for a
/// step's report and for a phase's.
#[test]
fn a_report_driving_on_a_changed_definition_warns_of_it() {
    let env = Env::new();
    env.workflow(
        "w",
        "name: w\nsteps:\n  - {name: a, prompt: do it}\n  - {name: b, run: echo b}\n",
    );
    assert_eq!(env.run(&["workflow", "run", "w"]).code, 3);
    env.workflow(
        "w",
        "name: w\nsteps:\n  - {name: a, prompt: do it}\n  - {name: b, run: echo b}\n  - {name: c, run: echo c}\n",
    );
    let out = env.run(&["--json", "workflow", "step", "complete", "a"]);
    assert_eq!(out.code, 0, "{}", out.text());
    assert!(
        out.stderr.contains("changed since this run started"),
        "{}",
        out.stderr
    );
    let doc = out.json();
    assert!(
        doc["warnings"][0]
            .as_str()
            .unwrap()
            .contains("changed since this run started"),
        "{doc}"
    );
    assert_eq!(
        doc["steps"].as_array().unwrap().len(),
        2,
        "the snapshot ran"
    );

    env.scenario("s", "name: s\ndescription: a report, then a command\nphases:\n  - {name: review, condition: manual}\n  - {name: ship, condition: 'after:review', run: echo ship}\n");
    assert_eq!(
        env.run(&["orchestrate", "run", "s", "--start", "review"])
            .code,
        3
    );
    env.scenario("s", "name: s\ndescription: a report, then two commands\nphases:\n  - {name: review, condition: manual}\n  - {name: ship, condition: 'after:review', run: echo ship}\n  - {name: tell, condition: 'after:ship', run: echo tell}\n");
    let out = env.run(&["orchestrate", "complete", "s", "review"]);
    assert_eq!(out.code, 0, "{}", out.text());
    assert!(
        out.stderr.contains("changed since this run started"),
        "{}",
        out.stderr
    );
    // A report that drives nothing on (the run was not driven here) says nothing of it.
}

/// A malformed `$CORTEX_OUTPUT` (a line that is not `key=value`) failed the attempt's
/// validation and was retried with backoff up to the step's attempts, running its side
/// effects again to write the same file. It is a fault of what the step writes, not of the
/// moment: the step fails at once, its retries unspent, and the reason says which line and
/// that it was not retried.
#[test]
fn a_malformed_cortex_output_fails_the_step_at_once_naming_the_line() {
    let env = Env::new();
    env.workflow(
        "outs",
        "name: outs\nsteps:\n  - name: write\n    run: 'echo ran >> ran.log; printf \"ok=1\\nnot a pair\\n\" > \"$CORTEX_OUTPUT\"'\n    retry: {max_retry_attempts: 3, backoff: 0s}\n",
    );
    let out = env.run(&["--json", "workflow", "run", "outs"]);
    assert_eq!(out.code, 1, "{}", out.text());
    let doc = out.json();
    assert_eq!(doc["steps"][0]["attempts"], 1, "{doc}");
    assert_eq!(
        std::fs::read_to_string(env.project().join("ran.log")).unwrap(),
        "ran\n"
    );
    let said = doc.to_string();
    assert!(
        said.contains("line 2 of $CORTEX_OUTPUT is not `key=value`: it reads `not`")
            && said.contains("a malformed $CORTEX_OUTPUT is not retried"),
        "{doc}"
    );
}

/// After a malformed `$CORTEX_OUTPUT`, the first suggestion was `resume --retry` ("fix what
/// the step writes, then retry it"); but the run keeps the definition it started with, so a
/// fixed inline `run:` never reaches a retry. `--skip` and a new run (once the definition is
/// fixed: the same one fails the same way) come first, the retry last, for a script the step
/// runs fixed in its file.
#[test]
fn a_malformed_cortex_output_suggests_a_new_run_before_a_retry_of_the_same_command() {
    let env = Env::new();
    env.workflow(
        "bigout",
        "name: bigout\nsteps:\n  - name: big\n    run: 'printf \"v=1\\nnot a pair\\n\" > \"$CORTEX_OUTPUT\"'\n",
    );
    let out = env.run(&["--json", "workflow", "run", "bigout"]);
    assert_eq!(out.code, 1, "{}", out.text());
    let doc = out.json();
    let said = doc.to_string();
    assert!(
        said.contains("a fixed `run:` applies to a new run"),
        "{doc}"
    );
    let run = doc["run_id"].as_str().unwrap();
    let unfixed = next_argvs(&env.status(Some(run))["next"]);
    assert!(unfixed[0].ends_with(&["--skip".to_string()]), "{unfixed:?}");
    assert!(!unfixed.iter().any(|a| a[2] == "run"), "{unfixed:?}");
    env.workflow(
        "bigout",
        "name: bigout\nsteps:\n  - name: big\n    run: 'printf \"v=1\\n\" > \"$CORTEX_OUTPUT\"'\n",
    );
    let status = env.status(Some(run));
    let next: Vec<String> = status["next"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            n["argv"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a.as_str().unwrap().to_string())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    assert!(next[0].ends_with("--skip"), "{next:?}");
    assert!(next[1].contains("workflow run"), "{next:?}");
    assert!(next[2].ends_with("--retry"), "{next:?}");
    assert!(
        status["next"][1]["why"]
            .as_str()
            .unwrap()
            .contains("keeps the definition it started with"),
        "{status}"
    );
}

/// A line of `$CORTEX_OUTPUT` that is not `key=value` is refused without its text: a slip of
/// form (`api_token: VALUE`, a token on a line of its own) put the value in the step's error,
/// the run's reason and the log for good, where `api_token=VALUE` is stored `***`. The key it
/// starts with, if any, is named, and the form meant.
#[test]
fn a_malformed_output_line_never_puts_its_value_in_the_log() {
    let env = Env::new();
    let token = "zq8PkLm2vX9wRt5Yb";
    std::fs::write(env.project().join("tokfile"), token).unwrap();
    for (name, line) in [
        ("colon", "api_token: $(cat tokfile)"),
        ("bare", "$(cat tokfile)"),
    ] {
        env.workflow(
            name,
            &format!(
                "name: {name}\nsteps:\n  - name: login\n    run: 'echo \"{line}\" >> \"$CORTEX_OUTPUT\"'\n"
            ),
        );
        let out = env.run(&["--json", "workflow", "run", name]);
        assert_eq!(out.code, 1, "{}", out.text());
        assert!(!out.text().contains(token), "{}", out.text());
        let said = out.json().to_string();
        if name == "colon" {
            assert!(
                said.contains("it reads `api_token`") && said.contains("`api_token=VALUE`"),
                "{said}"
            );
        }
    }
    assert!(
        env.log_holding(token).is_empty(),
        "{:?}",
        env.log_holding(token)
    );
    let export = env.run(&["log", "export"]);
    assert!(!export.stdout.contains(token));
}

/// The line of `text` starting with `prefix`, without it.
fn line_after<'a>(text: &'a str, prefix: &str) -> &'a str {
    text.lines()
        .find_map(|l| l.strip_prefix(prefix))
        .unwrap_or_else(|| panic!("no line `{prefix}…` in:\n{text}"))
}

/// `line` run by `sh` in `dir`, with the `cortex` under test first on PATH and CORTEX_HOME
/// pointing at `wrong_home`: a pasted suggestion must name the home it is about.
fn pasted(line: &str, dir: &std::path::Path, wrong_home: &std::path::Path) -> common::Out {
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_cortex"));
    let path = format!(
        "{}:{}",
        bin.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(line)
        .current_dir(dir)
        .env("PATH", path)
        .env("CORTEX_HOME", wrong_home)
        .env("NO_COLOR", "1")
        .env_remove("CORTEX_DB")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    common::Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Found by a review of the human output: seed 001 shows, after `cortex workflow run
/// feature-development`, how to check progress and how to resume if interrupted; cortex printed
/// neither. Both are printed as ready commands naming the run, shell-quoted so that pasting
/// one (here with a home whose path holds a quote, `$(…)` and a space) runs exactly it; the
/// pause at the prompt step suggests checking progress too, in the human "Next:" lines and in
/// `--json`'s `next`.
#[test]
fn seed_run_says_how_to_check_progress_and_resume_with_commands_that_paste() {
    let env = Env::new();
    let home = env.project().join("it's $(touch pwned) home");
    std::fs::create_dir_all(home.join("workflows")).unwrap();
    std::fs::write(
        home.join("workflows/feature-development.yaml"),
        SEED_FEATURE_DEVELOPMENT,
    )
    .unwrap();
    let home_arg = home.to_str().unwrap();
    let run = env.run(&["--home", home_arg, "workflow", "run", "feature-development"]);
    assert_eq!(run.code, 3, "{}", run.text());
    let json = env.run(&["--home", home_arg, "--json", "workflow", "status"]);
    let id = json.json()["run_id"].as_str().unwrap().to_string();
    let check = line_after(&run.stdout, "To check progress: ");
    let resume = line_after(&run.stdout, "To resume if interrupted: ");
    let quoted = cortex::render::shell_quote(home_arg);
    assert_eq!(
        check,
        format!("cortex --home {quoted} workflow status {id}")
    );
    assert_eq!(
        resume,
        format!("cortex --home {quoted} workflow resume {id}")
    );
    let status = pasted(check, &env.project(), &env.home());
    assert_eq!(status.code, 0, "{}", status.text());
    assert!(
        status.stdout.contains(&id) && status.stdout.contains("Waiting"),
        "{}",
        status.stdout
    );
    let resumed = pasted(resume, &env.project(), &env.home());
    assert_eq!(
        resumed.code,
        3,
        "it waits for the report: {}",
        resumed.text()
    );
    assert!(!env.project().join("pwned").exists());
    // The pause says it too, as a "Next:" line and in `next`.
    let next = json.json()["next"].clone();
    assert!(
        next.as_array().unwrap().iter().any(|s| s["argv"]
            == serde_json::json!(["cortex", "--home", home_arg, "workflow", "status", id])),
        "{next:#}"
    );
    let pause = run.stdout.split("Next:").nth(1).unwrap_or_default();
    assert!(
        pause.contains(&format!("cortex --home {quoted} workflow status {id}")),
        "{}",
        run.stdout
    );
}

/// Found by a review of the human output: an abort's reason (who aborted, and the message)
/// was said twice — `log show` wrote `aborted (aborted by bob: wrong project) by bob: wrong
/// project`, the driver of an aborted run ended with `Workflow aborted: aborted by …`. Each
/// screen says it once.
#[test]
fn an_abort_reason_is_said_once_on_every_screen() {
    let env = Env::new();
    env.workflow("feature-development", SEED_FEATURE_DEVELOPMENT);
    assert_eq!(env.run(&["workflow", "run", "feature-development"]).code, 3);
    let abort = env.run(&[
        "workflow",
        "abort",
        "--actor",
        "bob",
        "--message",
        "wrong project",
    ]);
    assert_eq!(abort.code, 1, "{}", abort.text());
    insta::assert_snapshot!("abort_reason_once", abort.snapshot(&env));
    let once = |text: &str| text.matches("wrong project").count() == 1;
    assert!(once(&abort.stdout), "{}", abort.stdout);
    let status = env.run(&["workflow", "status"]);
    assert!(once(&status.stdout), "{}", status.stdout);
    assert!(
        status
            .stdout
            .contains("Reason: aborted by bob: wrong project"),
        "{}",
        status.stdout
    );
    let log = env.run(&["log", "show"]);
    let last = log.stdout.lines().last().unwrap();
    assert!(
        last.ends_with("run_finished            aborted by bob: wrong project"),
        "{last}"
    );

    // A run aborted from another terminal: its driver ends saying who and why, once.
    env.workflow(
        "slow",
        "name: slow\nsteps:\n  - name: wait\n    run: touch started; sleep 30\n",
    );
    let child = env
        .command(&["workflow", "run", "slow"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    common::wait_until("the step to start", || env.file("started").exists());
    let abort = env.run(&[
        "workflow",
        "abort",
        "slow",
        "--actor",
        "bob",
        "--message",
        "too slow",
    ]);
    assert!(matches!(abort.code, 0 | 1), "{}", abort.text());
    let out = child.wait_with_output().unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert_eq!(said.matches("too slow").count(), 1, "{said}");
    assert!(
        said.contains("❌ Workflow aborted by bob: too slow"),
        "{said}"
    );
}

/// A dry run named each step's action but not what it would run or ask: like `make -n`, it
/// shows each command as it would run, as `orchestrate preview` does (a value written as the
/// shell reads the value it is given, so the line pasted runs no hidden code), and each prompt
/// as the person or agent would read it, a secret input `***` in both the words and the JSON,
/// a terminal escape in a prompt made visible.
#[test]
fn a_dry_run_shows_commands_as_written_and_prompts_with_secrets_hidden() {
    let env = Env::new();
    env.workflow(
        "ship",
        "name: ship\ninputs:\n  ticket: {type: string, required: true}\n  api_token: {type: string, required: true}\nsteps:\n  - name: build\n    run: |\n      echo ${{ inputs.ticket }}\n      make all\n    rollback: make clean\n  - name: review\n    prompt: \"review ${{ inputs.ticket }} with ${{ inputs.api_token }} \\e[31mred\"\n",
    );
    let args = [
        "workflow",
        "run",
        "ship",
        "--dry-run",
        "--input",
        "ticket=T-1 $(touch pwned)",
        "--input",
        "api_token=sekrit-value-12345",
    ];
    let out = env.run(&args);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout
            .contains("        run: echo 'T-1 $(touch pwned)'\n             make all\n"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("        prompt: review T-1 $(touch pwned) with *** \\u{1b}[31mred\n"),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains("sekrit"), "{}", out.stdout);
    let mut json_args = vec!["--json"];
    json_args.extend(args);
    let doc = env.run(&json_args).json();
    assert_eq!(
        doc["steps"][0]["run"],
        "echo 'T-1 $(touch pwned)'\nmake all\n"
    );
    assert_eq!(doc["steps"][0]["rollback"], "make clean");
    assert_eq!(
        doc["steps"][1]["prompt"],
        "review T-1 $(touch pwned) with *** \u{1b}[31mred"
    );
    assert!(!doc.to_string().contains("sekrit"), "{doc}");
    assert!(!env.project().join("pwned").exists());
    assert!(!env.db().exists(), "a dry run records nothing");
}

/// Seen by a review: a dry run showed a prompt's `${{ steps.Ask.outputs.a }}` raw (in the
/// words and the JSON, and so through MCP's `run` with dry_run), while status renders such
/// a value as a marker. Every dry run (a workflow's, a resume's, a scenario's) shows the
/// marker status shows, never the raw template.
#[test]
fn a_dry_run_renders_a_prompt_s_value_not_given_yet_as_status_does() {
    let env = Env::new();
    env.workflow(
        "race",
        "name: race\nsteps:\n  - name: Ask\n    prompt: do it\n  - name: Next\n    prompt: \"v=${{ steps.Ask.outputs.a }}\"\n",
    );
    let marker = "v=(output `a` of step `Ask`, not given yet)";
    let out = env.run(&["workflow", "run", "race", "--dry-run"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains(&format!("prompt: {marker}\n")),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains("${{"), "{}", out.stdout);
    let doc = env
        .run(&["--json", "workflow", "run", "race", "--dry-run"])
        .json();
    assert_eq!(doc["steps"][1]["prompt"], marker, "{doc}");
    // A resume's plan of a run waiting on `Ask`: the same marker.
    let run = env.run(&["workflow", "run", "race"]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    let out = env.run(&["workflow", "resume", "--dry-run"]);
    assert!(!out.stdout.contains("${{"), "{}", out.stdout);
    let doc = env
        .run(&["--json", "workflow", "resume", "--dry-run"])
        .json();
    assert!(!doc.to_string().contains("${{"), "{doc}");
    // A scenario's plan shows what a person reads, rendered the same way.
    std::fs::create_dir_all(env.home().join("scenarios")).unwrap();
    std::fs::write(
        env.home().join("scenarios/sc.yaml"),
        "name: sc\ndescription: x\nphases:\n  - {name: a, description: do a}\n  - {name: b, description: \"v=${{ phases.a.outputs.x }}\", condition: \"after:a\"}\n",
    )
    .unwrap();
    let out = env.run(&["orchestrate", "run", "sc", "--dry-run"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout
            .contains("v=(output `x` of phase `a`, not given yet)"),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains("${{"), "{}", out.stdout);
    let doc = env
        .run(&["--json", "orchestrate", "run", "sc", "--dry-run"])
        .json();
    let prompt = doc["phases"][1]["prompt"].as_str().unwrap_or_default();
    assert!(
        prompt.contains("v=(output `x` of phase `a`, not given yet)"),
        "{doc}"
    );
}

/// An `if:` that cannot be decided (an output of the wrong kind) reads the same values from
/// the same log on a retry: the recovery options offer `--from` the step whose output it
/// reads, `--skip` and a new run, never a `--retry` that decides the same way again.
#[test]
fn an_undecidable_if_is_offered_what_can_change_it_not_a_retry() {
    let env = Env::new();
    env.workflow(
        "und",
        "name: und\nsteps:\n  - name: gen\n    run: echo \"empty=\" >> \"$CORTEX_OUTPUT\"\n  - name: use\n    if: steps.gen.outputs.empty\n    run: echo hi\n",
    );
    let out = env.run(&["workflow", "run", "und"]);
    assert_eq!(out.code, 1, "{}", out.text());
    insta::assert_snapshot!("undecidable_if_recovery", out.snapshot(&env));
    let status = env.status(None);
    let next: String = status["next"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["argv"].to_string())
        .collect();
    assert!(!next.contains("--retry"), "{next}");
    assert!(next.contains("\"--from\",\"gen\""), "{next}");

    env.scenario(
        "sund",
        "name: sund\ndescription: d\nphases:\n  - name: gen\n    description: d\n    run: echo \"empty=\" >> \"$CORTEX_OUTPUT\"\n  - name: use\n    description: d\n    condition: after:gen\n    if: phases.gen.outputs.empty\n    run: echo hi\n",
    );
    let out = env.run(&["--json", "orchestrate", "run", "sund"]);
    let run = out.json()["run_id"].as_str().unwrap().to_string();
    let status = env.run(&["--json", "orchestrate", "status", &run]).json();
    let next: String = status["next"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["argv"].to_string())
        .collect();
    assert!(!next.contains("--retry"), "{next}");
    assert!(next.contains("\"--from\",\"gen\""), "{next}");
}

/// A `foreach:` step's outputs are the JSON lists of its items' values: with no items, `[]`
/// for each key the definition reads of it, alike in a template and in an `if:` (before, none
/// was recorded: the template read `''` and `== '[]'` was false).
#[test]
fn an_empty_foreach_records_the_empty_list_for_the_outputs_read_of_it() {
    let env = Env::new();
    env.workflow(
        "emp",
        "name: emp\nsteps:\n  - name: each\n    foreach: []\n    run: echo \"r=${{ item }}\" >> \"$CORTEX_OUTPUT\"\n  - name: show\n    run: echo \"got[${{ steps.each.outputs.r }}]\" > got.txt\n  - name: cond\n    if: steps.each.outputs.r == '[]'\n    run: touch cond-ran\n",
    );
    let out = env.run(&["workflow", "run", "emp"]);
    assert_eq!(out.code, 0, "{}", out.text());
    let got = std::fs::read_to_string(env.file("got.txt")).unwrap();
    assert_eq!(got.trim(), "got[[]]");
    assert!(env.file("cond-ran").exists(), "{}", out.stdout);
    let status = env.status(None);
    assert_eq!(status["steps"][0]["outputs"]["r"], "[]", "{status}");

    env.scenario(
        "semp",
        "name: semp\ndescription: d\nphases:\n  - name: each\n    description: d\n    foreach: []\n    run: echo \"r=${{ item }}\" >> \"$CORTEX_OUTPUT\"\n  - name: cond\n    description: d\n    condition: after:each\n    if: phases.each.outputs.r == '[]'\n    run: touch phase-ran\n",
    );
    let out = env.run(&["orchestrate", "run", "semp"]);
    assert_eq!(out.code, 0, "{}", out.text());
    assert!(env.file("phase-ran").exists(), "{}", out.stdout);
}

/// The signal dispositions a step starts with: every signal at its default (cortex's own
/// handlers and Rust's ignored SIGPIPE reset), but one that cortex itself was started with
/// ignored and does not handle (SIGUSR2 here; `nohup`'s SIGHUP is cortex's own stop signal,
/// so it is caught and reset) stays ignored, as std and any shell leave it. Guards the spawn
/// that names the signals to reset to glibc instead of letting it read each one in the child.
#[test]
fn a_step_starts_with_default_signals_but_keeps_an_inherited_ignore() {
    use std::os::unix::process::CommandExt;
    let env = Env::new();
    env.workflow(
        "sig",
        "name: sig\nsteps:\n  - name: s\n    run: cat /proc/self/status > \"sig-$CORTEX_RUN_ID\"\n",
    );
    let ignored = |usr2_ignored: bool| -> u64 {
        let mut cmd = env.command(&["--json", "workflow", "run", "sig"]);
        if usr2_ignored {
            // SAFETY: only sets a disposition between fork and exec.
            unsafe {
                cmd.pre_exec(|| {
                    nix::sys::signal::signal(
                        nix::sys::signal::Signal::SIGUSR2,
                        nix::sys::signal::SigHandler::SigIgn,
                    )
                    .map(|_| ())
                    .map_err(std::io::Error::from)
                });
            }
        }
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let run = doc["run_id"].as_str().unwrap().to_string();
        let text = std::fs::read_to_string(env.project().join(format!("sig-{run}"))).unwrap();
        let field = |name: &str| {
            let line = text.lines().find(|l| l.starts_with(name)).unwrap();
            u64::from_str_radix(line.split_whitespace().nth(1).unwrap(), 16).unwrap()
        };
        assert_eq!(field("SigBlk:"), 0, "nothing blocked: {text}");
        assert_eq!(field("SigCgt:"), 0, "no handler survives exec: {text}");
        field("SigIgn:")
    };
    let hup = 1u64 << (libc_sig(nix::sys::signal::Signal::SIGHUP) - 1);
    let usr2 = 1u64 << (libc_sig(nix::sys::signal::Signal::SIGUSR2) - 1);
    let pipe = 1u64 << (libc_sig(nix::sys::signal::Signal::SIGPIPE) - 1);
    let plain = ignored(false);
    assert_eq!(plain & (hup | pipe | usr2), 0, "at default: {plain:x}");
    let inherited = ignored(true);
    assert_eq!(
        inherited & usr2,
        usr2,
        "an inherited ignore is kept: {inherited:x}"
    );
    assert_eq!(
        inherited & (hup | pipe),
        0,
        "SIGHUP, SIGPIPE at default: {inherited:x}"
    );
}

fn libc_sig(sig: nix::sys::signal::Signal) -> u32 {
    sig as i32 as u32
}

/// The stop is the first signal's: a Ctrl-C, then a SIGTERM while the step (which ignores
/// both) has its grace, is recorded as a stop by SIGINT. The flag held the last signal, so
/// the operator's Ctrl-C was recorded as a SIGTERM.
#[test]
fn a_stop_names_the_first_signal_not_a_later_one() {
    let env = Env::new();
    env.workflow(
        "stubborn",
        "name: stubborn\nsteps:\n  - name: long\n    run: trap '' TERM INT HUP; touch started; sleep 30\n    timeout: 1m\n",
    );
    let mut child = env
        .command(&["workflow", "run", "stubborn"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    common::wait_until("the step to start", || env.file("started").exists());
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).unwrap();
    // After it, as an operator's later `kill` is (sent at once, two threads may take the
    // two at the same instant, and either is first).
    std::thread::sleep(Duration::from_millis(300));
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(3));
    let stop = stop_requested(&env);
    assert_eq!(stop["body"]["signal"], "SIGINT", "{stop}");
}

/// The log's `stop_requested` event (the first).
fn stop_requested(env: &Env) -> serde_json::Value {
    let log = env.run(&["--json", "log", "show"]).json();
    log.as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "stop_requested")
        .cloned()
        .expect("a stop_requested event")
}
