//! Compensation on the real binary: what a `rollback:` command can read (the outputs of the
//! step or phase it undoes), which `enable_rollback` decides a rollback (the configuration in
//! force when it is asked for), and how a scenario's resume describes one.

mod common;

use common::{Env, lines};

fn last_run(env: &Env) -> String {
    env.run(&["--json", "orchestrate", "history"]).json()["runs"].clone()[0]["run_id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// A rollback runs only after its phase completed, so it may read the phase's own outputs:
/// `validate` accepted no such reference ("does not run before this point"), though the
/// compensation is what needs the id the phase created.
#[test]
fn a_phase_rollback_reads_the_outputs_of_the_phase_it_undoes() {
    let env = Env::new();
    env.scenario(
        "sr",
        r#"name: sr
description: compensation needs the created id
phases:
  - name: base
    run: echo base >> ran.log
  - name: create
    condition: after:base
    run: echo "id=res-42" >> "$CORTEX_OUTPUT"
    rollback: echo "delete ${{ phases.create.outputs.id }}" >> ran.log
  - name: boom
    condition: after:create
    run: test -f ok
    retry: {max_retry_attempts: 0}
"#,
    );
    let valid = env.run(&["orchestrate", "validate", "sr"]);
    assert_eq!(valid.code, 0, "{}{}", valid.stdout, valid.stderr);
    assert_eq!(env.run(&["orchestrate", "run", "sr"]).code, 1);
    let run = last_run(&env);
    std::fs::write(env.file("ok"), "").unwrap();
    let out = env.run(&["orchestrate", "resume", &run, "--rollback-to", "base"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert_eq!(lines(&env.file("ran.log")), ["base", "delete res-42"]);
}

/// The workflow form, compensated by `on_failure: rollback` of a later step: the rollback
/// gets the step's outputs, a secret one too, which stays `***` in what is shown and kept.
#[test]
fn a_step_rollback_reads_its_own_outputs_and_a_secret_one_stays_redacted() {
    let env = Env::new();
    env.workflow(
        "wr",
        r#"name: wr
steps:
  - name: create
    run: |
      echo "id=res-42" >> "$CORTEX_OUTPUT"
      echo "api_token=tok-$(echo s3cr3t)" >> "$CORTEX_OUTPUT"
    rollback: echo "delete ${{ steps.create.outputs.id }} ${{ steps.create.outputs.api_token }}" >> ran.log; echo "used ${{ steps.create.outputs.api_token }}"
  - name: boom
    run: "false"
    retry: {max_retry_attempts: 0}
    on_failure: rollback
"#,
    );
    let valid = env.run(&["workflow", "validate", "wr"]);
    assert_eq!(valid.code, 0, "{}{}", valid.stdout, valid.stderr);
    let out = env.run(&["workflow", "run", "wr"]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert_eq!(lines(&env.file("ran.log")), ["delete res-42 tok-s3cr3t"]);
    assert!(out.stdout.contains("used ***"), "{}", out.stdout);
    assert!(!out.stdout.contains("tok-s3cr3t") && !out.stderr.contains("tok-s3cr3t"));
    assert_eq!(env.log_holding("tok-s3cr3t"), Vec::<String>::new());
}

/// Still refused: a rollback reading a later step's outputs.
#[test]
fn a_rollback_reading_a_later_steps_outputs_is_still_refused() {
    let env = Env::new();
    env.workflow(
        "late",
        "name: late\nsteps:\n  - name: a\n    run: 'true'\n    rollback: echo ${{ steps.b.outputs.x }}\n  - name: b\n    run: 'true'\n",
    );
    let out = env.run(&["--json", "workflow", "validate", "late"]);
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    out.assert_error_on_line("does not run before this point", 5);
}

/// A base step (kept), a middle one to undo, and a last one that fails until `ok` exists.
const BACK: &str = r#"name: back
steps:
  - name: a
    run: echo a >> ran.log
  - name: b
    run: echo b >> ran.log
    rollback: echo undo-b >> ran.log
  - name: c
    run: test -f ok
    retry: {max_retry_attempts: 0}
"#;

const BACK_SCENARIO: &str = r#"name: back
description: a base, a phase to undo, a failing one
phases:
  - name: a
    run: echo a >> ran.log
  - name: b
    condition: after:a
    run: echo b >> ran.log
    rollback: echo undo-b >> ran.log
  - name: c
    condition: after:b
    run: test -f ok
    retry: {max_retry_attempts: 0}
"#;

/// The failed run of `BACK` (workflow) or `BACK_SCENARIO`: its id and the command group.
fn failed_back(env: &Env, scenario: bool) -> (String, &'static str) {
    if scenario {
        env.scenario("back", BACK_SCENARIO);
        assert_eq!(env.run(&["orchestrate", "run", "back"]).code, 1);
        (last_run(env), "orchestrate")
    } else {
        env.workflow("back", BACK);
        assert_eq!(env.run(&["workflow", "run", "back"]).code, 1);
        let run = env.run(&["--json", "workflow", "history"]).json()["runs"].clone()[0]["run_id"]
            .as_str()
            .unwrap()
            .to_string();
        (run, "workflow")
    }
}

/// (A) Rollback enabled when the run started, disabled in cortex.config.json since: the
/// setting in force at resume decides, as `timeout_seconds` does, so `--rollback-to` is
/// refused (before, it compensated silently by the start's snapshot), saying where the
/// setting is and how to go on; nothing is recorded.
#[test]
fn rollback_disabled_since_the_start_refuses_rollback_to_naming_the_config_now() {
    for scenario in [false, true] {
        let env = Env::new();
        let (run, group) = failed_back(&env, scenario);
        env.config(r#"{"workflow": {"enable_rollback": false}}"#);
        let events = env.events(&run).len();
        let out = env.run(&[group, "resume", &run, "--rollback-to", "a"]);
        assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
        assert_eq!(env.events(&run).len(), events, "nothing recorded");
        assert_eq!(lines(&env.file("ran.log")), ["a", "b"], "nothing undone");
        insta::assert_snapshot!(
            format!("rollback_disabled_since_start_{group}"),
            out.snapshot(&env)
        );
    }
}

/// (B) Rollback disabled when the run started, enabled in cortex.config.json since: the
/// rollback goes ahead (before, exit 2 "disabled by `enable_rollback: false` in
/// cortex.config.json" while the file said true), and the resume records the setting it
/// used, which `log show` names.
#[test]
fn rollback_enabled_since_the_start_rolls_back_and_the_resume_records_the_setting() {
    for scenario in [false, true] {
        let env = Env::new();
        env.config(r#"{"workflow": {"enable_rollback": false}}"#);
        let (run, group) = failed_back(&env, scenario);
        env.config(r#"{"workflow": {"enable_rollback": true}}"#);
        std::fs::write(env.file("ok"), "").unwrap();
        let out = env.run(&[group, "resume", &run, "--rollback-to", "a"]);
        assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
        assert_eq!(lines(&env.file("ran.log")), ["a", "b", "undo-b", "b"]);
        let resumed = env
            .events(&run)
            .into_iter()
            .find(|e| e["type"] == "run_resumed")
            .unwrap();
        assert_eq!(resumed["body"]["enable_rollback"], true, "{resumed}");
        let log = env.run(&["log", "show", &run]);
        assert!(
            log.stdout
                .contains("enable_rollback: true in cortex.config.json at resume"),
            "{}",
            log.stdout
        );
    }
}

/// A scenario resumed with `--rollback-to` over a `foreach:` phase: its header counts and
/// describes the phases as `run`'s does (before: "Phases: 5 total", each item listed
/// `roll[0] [auto]`), says it rolls back "phases", and labels every item's compensation by
/// its item (before, the last one compensated lost it: "Phase roll[0]: compensated").
#[test]
fn a_scenario_rollback_over_foreach_items_is_described_as_run_describes_it() {
    let env = Env::new();
    env.scenario(
        "rf",
        r#"name: rf
description: rollback foreach
phases:
  - name: base
    run: echo base >> t.log
  - name: roll
    condition: after:base
    foreach: [x, y]
    run: echo "roll ${{ item }}" >> t.log
    rollback: echo "undo ${{ item }}" >> t.log
  - name: fin
    condition: after:roll
    retry: {max_retry_attempts: 0}
    run: test -f ok
"#,
    );
    let run_out = env.run(&["orchestrate", "run", "rf"]);
    assert_eq!(run_out.code, 1, "{}{}", run_out.stdout, run_out.stderr);
    let run = last_run(&env);
    std::fs::write(env.file("ok"), "").unwrap();
    let out = env.run(&["orchestrate", "resume", &run, "--rollback-to", "base"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let header = |text: &str| -> String {
        text.lines()
            .skip_while(|l| !l.contains("Phases:"))
            .take_while(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(header(&out.stdout), header(&run_out.stdout));
    assert_eq!(
        lines(&env.file("t.log")),
        [
            "base", "roll x", "roll y", "undo y", "undo x", "roll x", "roll y"
        ]
    );
    insta::assert_snapshot!("scenario_rollback_over_foreach", out.snapshot(&env));
}

/// A secret output is never kept in the log: a `--rollback-to` in another process than the
/// one that recorded it cannot give it to the rollback, and says so — undo it by hand — never
/// "run `create` again" (which would redo what is to be undone), nor the value or `***` in
/// its place.
#[test]
fn a_rollback_reading_a_secret_output_recorded_by_another_process_says_to_undo_by_hand() {
    let env = Env::new();
    env.scenario(
        "ss",
        r#"name: ss
description: secret output in a rollback
phases:
  - name: base
    run: echo base >> ran.log
  - name: create
    condition: after:base
    run: echo "api_token=tok-$(echo s3cr3t)" >> "$CORTEX_OUTPUT"
    rollback: echo "delete ${{ phases.create.outputs.api_token }}" >> ran.log
  - name: boom
    condition: after:create
    run: test -f ok
    retry: {max_retry_attempts: 0}
"#,
    );
    assert_eq!(env.run(&["orchestrate", "run", "ss"]).code, 1);
    let run = last_run(&env);
    std::fs::write(env.file("ok"), "").unwrap();
    let out = env.run(&["orchestrate", "resume", &run, "--rollback-to", "base"]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains(
            "the rollback of `create` reads the secret output `phases.create.outputs.api_token`"
        ) && out.stdout.contains("undo `create` by hand")
            && !out.stdout.contains("--from create"),
        "{}",
        out.stdout
    );
    assert_eq!(lines(&env.file("ran.log")), ["base"]);
    assert_eq!(env.log_holding("tok-s3cr3t"), Vec::<String>::new());
}

/// A failure with rollback disabled in cortex.config.json: the report, `status` and `--json`
/// `next` leave `--rollback-to` out (before, the report offered `resume RUN --rollback-to B`,
/// which exits 2 "rollback is disabled" when pasted) — and offer it again once the setting in
/// force, which a resume judges by, enables it.
#[test]
fn rollback_disabled_leaves_rollback_to_out_of_the_suggestions() {
    for scenario in [false, true] {
        let env = Env::new();
        env.config(r#"{"workflow": {"enable_rollback": false}}"#);
        let (run, group) = failed_back(&env, scenario);
        let offers = |env: &Env| {
            let next = env.run(&["--json", group, "status", &run]).json()["next"].clone();
            next.as_array().unwrap().iter().any(|s| {
                s["argv"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|a| a == "--rollback-to")
            })
        };
        let status = env.run(&[group, "status", &run]);
        assert!(
            !status.stdout.contains("--rollback-to"),
            "{}",
            status.stdout
        );
        assert!(!offers(&env));
        env.config(r#"{"workflow": {"enable_rollback": true}}"#);
        assert!(offers(&env), "enabled since: offered");
        // The failure report itself.
        let env = Env::new();
        env.config(r#"{"workflow": {"enable_rollback": false}}"#);
        let out = if scenario {
            env.scenario("back", BACK_SCENARIO);
            env.run(&["orchestrate", "run", "back"])
        } else {
            env.workflow("back", BACK);
            env.run(&["workflow", "run", "back"])
        };
        assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
        assert!(!out.stdout.contains("--rollback-to"), "{}", out.stdout);
        assert!(out.stdout.contains("--retry"), "{}", out.stdout);
    }
}

/// Two parallel phases that complete out of their file order (`fast`, second in the file,
/// first; `slow` waits for it, then a second more: the driver must have recorded `fast`'s end
/// before `slow` ends, or the log's order — which `--rollback-to` goes by — is the other one,
/// as a loaded CI machine once had it), and a third after both that fails.
const OUT_OF_ORDER: &str = r#"name: dag
description: parallel phases complete out of file order
phases:
  - name: slow
    description: completes second
    parallel: true
    run: "while [ ! -f fast.done ]; do sleep 0.05; done; sleep 1; echo slow >> trail"
    rollback: "echo undo-slow >> trail"
  - name: fast
    description: completes first
    parallel: true
    run: "echo fast >> trail; touch fast.done"
    rollback: "echo undo-fast >> trail"
  - name: final
    description: fails until ok exists
    condition: "after:slow,fast"
    run: test -f ok
    retry: {max_retry_attempts: 0}
"#;

/// `orchestrate resume --rollback-to PHASE` goes back to the moment PHASE completed: it undoes
/// the phases that completed after it by the log, newest first — not the phases after it in
/// the file (before, `--rollback-to slow` undid `fast`, which completed before `slow`, and
/// `--rollback-to fast` undid nothing of `slow`, which completed after it). The plan and the
/// run agree, and the undone phase runs again.
#[test]
fn a_scenario_rollback_to_undoes_the_phases_completed_after_it_by_the_log() {
    let env = Env::new();
    env.scenario("dag", OUT_OF_ORDER);
    let out = env.run(&["orchestrate", "run", "dag"]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert_eq!(lines(&env.file("trail")), ["fast", "slow"]);
    let run = last_run(&env);
    let plan = |to: &str| -> Vec<(String, String)> {
        let out = env.run(&[
            "--json",
            "orchestrate",
            "resume",
            &run,
            "--rollback-to",
            to,
            "--dry-run",
        ]);
        assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
        let doc = out.json();
        let steps = doc["plan"].as_array().or(doc["steps"].as_array()).cloned();
        steps
            .unwrap_or_else(|| panic!("{doc}"))
            .iter()
            .map(|p| {
                (
                    p["name"].as_str().unwrap().to_string(),
                    p["action"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    let undone = |to: &str| -> Vec<String> {
        plan(to)
            .into_iter()
            .filter(|(_, a)| a == "compensate")
            .map(|(n, _)| n)
            .collect()
    };
    assert_eq!(undone("fast"), ["slow"]);
    assert_eq!(undone("slow"), Vec::<String>::new());
    let human = env.run(&[
        "orchestrate",
        "resume",
        &run,
        "--rollback-to",
        "fast",
        "--dry-run",
    ]);
    insta::assert_snapshot!("scenario_rollback_to_by_completion", human.snapshot(&env));
    std::fs::write(env.file("ok"), "").unwrap();
    let out = env.run(&["orchestrate", "resume", &run, "--rollback-to", "fast"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert_eq!(
        lines(&env.file("trail")),
        ["fast", "slow", "undo-slow", "slow"]
    );
    let status = env.run(&["--json", "orchestrate", "status", &run]).json();
    assert_eq!(status["status"], "completed", "{status}");
}

/// A failed scenario offers `resume RUN --rollback-to PHASE` as a failed workflow does (SPEC
/// §4): back to the phase that completed just before the latest one with a `rollback:`, in
/// the failure report, `status` and `--json` `next` (before, never offered).
#[test]
fn a_failed_scenario_offers_rollback_to_before_its_latest_phase_with_a_rollback() {
    let env = Env::new();
    env.scenario("dag", OUT_OF_ORDER);
    let out = env.run(&["orchestrate", "run", "dag"]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    let run = last_run(&env);
    assert!(
        out.stdout
            .contains(&format!("orchestrate resume {run} --rollback-to fast")),
        "{}",
        out.stdout
    );
    let status = env.run(&["orchestrate", "status", &run]);
    insta::assert_snapshot!("failed_scenario_offers_rollback_to", status.snapshot(&env));
    let next = env.run(&["--json", "orchestrate", "status", &run]).json()["next"].clone();
    let rollback: Vec<&serde_json::Value> = next
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| {
            s["argv"]
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a == "--rollback-to")
        })
        .collect();
    assert_eq!(rollback.len(), 1, "{next}");
    let argv: Vec<&str> = rollback[0]["argv"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(argv[argv.len() - 2..], ["--rollback-to", "fast"]);
    // As suggested, it works.
    std::fs::write(env.file("ok"), "").unwrap();
    let argv: Vec<&str> = argv[1..].to_vec();
    let out = env.run(&argv);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert_eq!(
        lines(&env.file("trail")),
        ["fast", "slow", "undo-slow", "slow"]
    );
}

/// A compensation ended by cortex itself — here an operator's stop, from another process,
/// while the `rollback:` command sleeps — is not the command's failure: it is recorded cut off
/// (no `compensation_failed`, the run not called `rollback failed`), and a resume runs it
/// again and finishes the rollback.
#[test]
fn a_compensation_cut_short_by_a_stop_is_not_recorded_as_failed() {
    let env = Env::new();
    env.workflow(
        "undo",
        "name: undo\nsteps:\n  - name: one\n    run: 'true'\n    rollback: if [ -f go ]; then echo undone >> undo.log; else touch undoing; sleep 30; fi\n  - name: boom\n    run: exit 1\n    retry: {max_retry_attempts: 0}\n    on_failure: rollback\n",
    );
    let driver = env.spawn(&["workflow", "run", "undo"]);
    common::wait_until("the compensation to start", || env.file("undoing").exists());
    let stop = env.run(&["workflow", "stop"]);
    assert_eq!(stop.code, 3, "{}{}", stop.stdout, stop.stderr);
    assert!(
        stop.stdout.contains("stopped while rolling back"),
        "{}",
        stop.stdout
    );
    let out = driver.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let status = env.status(None);
    assert_eq!(status["status"], "stopped", "{status}");
    let run = status["run_id"].as_str().unwrap().to_string();
    let kinds = common::event_types(&env, &run);
    assert!(
        !kinds.iter().any(|k| k == "compensation_failed"),
        "{kinds:?}"
    );
    let said = serde_json::to_string(&env.events(&run)).unwrap();
    assert!(!said.contains("rollback failed"), "{said}");
    std::fs::write(env.file("go"), "").unwrap();
    let resumed = env.run(&["workflow", "resume"]);
    assert_eq!(resumed.code, 1, "{}{}", resumed.stdout, resumed.stderr);
    assert_eq!(env.status(None)["status"], "rolled_back");
    assert_eq!(lines(&env.file("undo.log")), ["undone"]);
    assert_eq!(common::count_events(&env, &run, "compensation_failed"), 0);
}
