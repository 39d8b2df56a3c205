//! Reports and hints that reach the run they mean, on the real binary: a report without a run
//! id goes to the latest run (never an older waiting one), a second abort says in `--json`
//! that nothing was recorded, every hint is a working command for the run's own kind, a
//! retry's suggestion says what will really run, a prompt step's `timeout:` bounds its
//! validation gate, and a finished run resumes on a read-only log.

mod common;

use common::Env;

fn run_id(out: &common::Out) -> String {
    out.json()["run_id"]
        .as_str()
        .unwrap_or_else(|| panic!("no run_id: {}{}", out.stdout, out.stderr))
        .to_string()
}

/// SPEC §7: "no argument means the latest run of that kind", and a name its latest run. A
/// report without `--run` (or with `--run NAME`) took the latest *unfinished* run, so
/// repeating `step fail Approve` after it rolled back the latest run failed, and rolled
/// back, an older waiting run nobody named.
fn a_repeated_report_goes_to_the_latest_run_never_an_older_waiting_one(env: Env) {
    env.workflow(
        "deploy",
        "name: deploy\nsteps:\n  - name: Provision\n    run: echo \"provisioned $CORTEX_RUN_ID\" >> infra.log\n    rollback: echo \"DESTROYED $CORTEX_RUN_ID\" >> infra.log\n  - name: Approve\n    prompt: approve the rollout\n    on_failure: rollback\n",
    );
    let a = run_id(&env.run(&["--json", "workflow", "run", "deploy"]));
    let b = run_id(&env.run(&["--json", "workflow", "run", "deploy"]));
    let failed = env.run(&["workflow", "step", "fail", "Approve"]);
    assert_eq!(failed.code, 1, "{}{}", failed.stdout, failed.stderr);
    assert!(
        failed
            .stdout
            .contains(&format!("Step `Approve` of run {b}")),
        "{}",
        failed.stdout
    );
    let a_events = env.events(&a).len();
    for args in [
        &["workflow", "step", "fail", "Approve"][..],
        &["workflow", "step", "fail", "Approve", "--run", "deploy"],
        &["workflow", "step", "complete", "Approve"],
    ] {
        let again = env.run(args);
        assert_eq!(again.code, 2, "{args:?}: {}{}", again.stdout, again.stderr);
        assert!(
            again.stderr.contains(&format!(
                "run {b} already finished (rolled_back); its steps cannot be reported any more"
            )),
            "{args:?}: {}",
            again.stderr
        );
    }
    insta::assert_snapshot!(
        "a_repeated_report_on_a_rolled_back_run",
        env.run(&["workflow", "step", "fail", "Approve", "--run", "deploy"])
            .snapshot(&env)
    );
    assert_eq!(env.events(&a).len(), a_events, "run A was never named");
    assert_eq!(env.status(Some(&a))["status"], "waiting");
    let log = std::fs::read_to_string(env.file("infra.log")).unwrap();
    assert!(!log.contains(&format!("DESTROYED {a}")), "{log}");
    // `--run NAME` says which run it hit.
    let c = run_id(&env.run(&["--json", "workflow", "run", "deploy"]));
    let named = env.run(&["workflow", "step", "complete", "Approve", "--run", "deploy"]);
    assert_eq!(named.code, 0, "{}{}", named.stdout, named.stderr);
    assert!(
        named
            .stdout
            .contains(&format!("Step `Approve` of run {c} reported complete")),
        "{}",
        named.stdout
    );
    // By its whole id, it needs not say.
    let by_id = env.run(&["workflow", "step", "complete", "Approve", "--run", &a]);
    assert_eq!(by_id.code, 0, "{}{}", by_id.stdout, by_id.stderr);
    assert!(
        by_id.stdout.contains("Step `Approve` reported complete"),
        "{}",
        by_id.stdout
    );
}

/// The same for a scenario: `orchestrate complete|fail NAME PHASE` and `orchestrate start`
/// on a name mean its latest run, which says it has finished (here: aborted).
fn a_repeated_phase_report_goes_to_the_latest_run_never_an_older_waiting_one(env: Env) {
    env.scenario(
        "gate",
        "name: gate\ndescription: d\nphases:\n  - {name: approve, description: a}\n",
    );
    let a = run_id(&env.run(&["--json", "orchestrate", "run", "gate"]));
    let b = run_id(&env.run(&["--json", "orchestrate", "run", "gate"]));
    let aborted = env.run(&["orchestrate", "abort", "gate"]);
    assert_eq!(aborted.code, 1, "{}{}", aborted.stdout, aborted.stderr);
    let a_events = env.events(&a).len();
    for args in [
        &["orchestrate", "fail", "gate", "approve"][..],
        &["orchestrate", "complete", "gate", "approve"],
        &["orchestrate", "start", "gate", "approve"],
    ] {
        let again = env.run(args);
        assert_eq!(again.code, 2, "{args:?}: {}{}", again.stdout, again.stderr);
        assert!(
            again.stderr.contains(&format!("run {b} already finished")),
            "{args:?}: {}",
            again.stderr
        );
    }
    assert_eq!(env.events(&a).len(), a_events, "run A was never named");
}

common::on_both_stores!(
    a_repeated_report_goes_to_the_latest_run_never_an_older_waiting_one,
    a_repeated_phase_report_goes_to_the_latest_run_never_an_older_waiting_one,
);

/// The exit-4 "held by process" error of a *workflow* run offered "if it is a scenario run —
/// `cortex orchestrate stop ID`" too: cortex knows the run's kind, and says its commands only.
#[test]
fn a_held_workflow_run_is_offered_only_workflow_commands() {
    let env = Env::new();
    env.workflow(
        "hold",
        "name: hold\nsteps:\n  - {name: L, run: 'touch started; sleep 6'}\n",
    );
    let mut driver = env.spawn(&["workflow", "run", "hold"]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !env.file("started").exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let held = env.run(&["workflow", "resume"]);
    let _ = driver.kill();
    let _ = driver.wait();
    assert_eq!(held.code, 4, "{}{}", held.stdout, held.stderr);
    assert!(!held.stderr.contains("orchestrate"), "{}", held.stderr);
    insta::assert_snapshot!("a_held_workflow_run", held.snapshot(&env));
}

/// `resume --retry` of a run that waits rather than failed: its hint named "`cortex workflow
/// status RUN` (or `cortex orchestrate status RUN`)" with a literal `RUN`. Every hint is a
/// working command with the run's id, for its kind only.
#[test]
fn a_refused_retry_names_the_runs_own_status_command_with_its_id() {
    let env = Env::new();
    env.workflow("ask", "name: ask\nsteps:\n  - {name: Ask, prompt: do it}\n");
    let run = run_id(&env.run(&["--json", "workflow", "run", "ask"]));
    let refused = env.run(&["workflow", "resume", "--retry"]);
    assert_eq!(refused.code, 2, "{}{}", refused.stdout, refused.stderr);
    assert!(!refused.stderr.contains(" RUN`"), "{}", refused.stderr);
    assert!(
        !refused.stderr.contains("orchestrate"),
        "{}",
        refused.stderr
    );
    assert!(
        refused
            .stderr
            .contains(&format!("`cortex workflow status {run}`")),
        "{}",
        refused.stderr
    );
    insta::assert_snapshot!("a_refused_retry_of_a_waiting_run", refused.snapshot(&env));
}

/// With checkpoints off, `resume --retry` runs the run from the start: its suggestion said
/// "run `Two` again with a fresh retry budget" and the resume ran completed `One` again too.
/// The `why` (human and `next[].why`) says what really runs, from the plan `--dry-run` prints.
#[test]
fn a_retry_with_checkpoints_off_says_it_runs_from_the_start() {
    let env = Env::new();
    env.config(r#"{"workflow":{"enable_checkpoints":false}}"#);
    env.workflow(
        "w",
        "name: w\nsteps:\n  - {name: One, run: echo one >> one.log}\n  - {name: Two, prompt: p}\n  - {name: Three, prompt: q}\n",
    );
    assert_eq!(env.run(&["workflow", "run", "w"]).code, 3);
    let failed = env.run(&["workflow", "step", "fail", "Two"]);
    assert_eq!(failed.code, 1, "{}{}", failed.stdout, failed.stderr);
    insta::assert_snapshot!("a_retry_with_checkpoints_off", failed.snapshot(&env));
    let doc = env.status(None);
    let whys: Vec<&str> = doc["next"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["why"].as_str().unwrap())
        .collect();
    assert_eq!(
        whys[0], "run from the start again (checkpoints are off): One, Two",
        "{doc}"
    );
    // What it says is what it does: `One` runs again.
    assert_eq!(env.run(&["workflow", "resume", "--retry"]).code, 3);
    let ran = std::fs::read_to_string(env.file("one.log")).unwrap();
    assert_eq!(ran.lines().count(), 2, "{ran}");
    // With checkpoints on, the retry runs the step alone, and says that.
    let on = Env::new();
    on.workflow(
        "w",
        "name: w\nsteps:\n  - {name: One, run: echo one}\n  - {name: Two, prompt: p}\n",
    );
    assert_eq!(on.run(&["workflow", "run", "w"]).code, 3);
    assert_eq!(on.run(&["workflow", "step", "fail", "Two"]).code, 1);
    assert_eq!(
        on.status(None)["next"][0]["why"],
        "run `Two` again with a fresh retry budget"
    );
}

/// A prompt step's `timeout:` and `retry:` passed `validate` silently and did nothing: its
/// `validate: - run: sleep 4` with `timeout: 1s` made `step complete` wait 4 s. The timeout
/// bounds the gate a report runs now (the report is refused, "timed out after 1s"), and
/// `validate` warns that `retry:` never applies to a reported step.
#[test]
fn a_prompt_steps_timeout_bounds_its_validation_gate_and_its_retry_is_warned_of() {
    let env = Env::new();
    env.workflow(
        "w",
        "name: w\nsteps:\n  - name: P\n    prompt: p\n    timeout: 1s\n    retry: {max_retry_attempts: 3}\n    validate:\n      - run: sleep 4\n  - name: Q\n    prompt: q\n    timeout: 5s\n",
    );
    let valid = env.run(&["workflow", "validate", "w"]);
    assert_eq!(valid.code, 0, "{}{}", valid.stdout, valid.stderr);
    insta::assert_snapshot!("inert_settings_on_reported_steps", valid.snapshot(&env));
    let doc = env.run(&["--json", "workflow", "validate", "w"]).json();
    assert_eq!(doc["warnings"].as_array().unwrap().len(), 2, "{doc}");
    let run = run_id(&env.run(&["--json", "workflow", "run", "w"]));
    let before = env.events(&run).len();
    let started = std::time::Instant::now();
    let refused = env.run(&["workflow", "step", "complete", "P"]);
    let took = started.elapsed();
    assert_eq!(refused.code, 2, "{}{}", refused.stdout, refused.stderr);
    assert!(
        refused.stderr.contains("`sleep 4` timed out after 1s"),
        "{}",
        refused.stderr
    );
    assert!(took < std::time::Duration::from_secs(3), "took {took:?}");
    assert_eq!(env.events(&run).len(), before, "nothing recorded");
}

/// A prompt step with no `timeout:` ran its `validate: - run:` checks with no limit but the
/// ten minutes, ignoring the run's `timeout_seconds` (which stops a `run:` step): with a
/// limit of 2 s, a `sleep 15` gate made `step complete` wait 15 s and report completed. The
/// checks a report runs are bounded by the run's time limit now: the report is refused.
#[test]
fn a_reports_checks_are_bounded_by_the_runs_timeout_seconds() {
    let env = Env::new();
    env.config(r#"{"workflow":{"timeout_seconds":2}}"#);
    env.workflow(
        "v",
        "name: v\nsteps:\n  - name: Ask\n    prompt: do it\n    validate:\n      - run: sleep 15\n",
    );
    let run = run_id(&env.run(&["--json", "workflow", "run", "v"]));
    let before = env.events(&run).len();
    let started = std::time::Instant::now();
    let refused = env.run(&["workflow", "step", "complete", "Ask"]);
    let took = started.elapsed();
    assert_eq!(refused.code, 2, "{}{}", refused.stdout, refused.stderr);
    assert!(
        refused.stderr.contains("`sleep 15` timed out after"),
        "{}",
        refused.stderr
    );
    assert!(took < std::time::Duration::from_secs(8), "took {took:?}");
    assert_eq!(env.events(&run).len(), before, "nothing recorded");
}

/// A phase reported failed while the run's driver still runs a parallel phase: the run is
/// `running` (its driver carries the other phase on, then pauses it), the report answers 0
/// naming that driver, and nothing it suggests is a `resume` (refused as held, exit 4).
/// Before, `fail` answered `failed`, exit 1, suggesting `resume … [--skip]`.
#[test]
fn a_phase_failed_beside_a_running_phase_leaves_the_run_running_under_its_driver() {
    let env = Env::new();
    env.scenario(
        "two",
        "name: two\ndescription: t\nphases:\n  - {name: ask, parallel: true}\n  - {name: slow, parallel: true, run: 'while [ ! -f go ]; do sleep 0.05; done'}\n  - {name: after, run: 'echo after'}\n",
    );
    let mut driver = env.spawn(&["orchestrate", "run", "two"]);
    let until = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let status = env.run(&["--json", "orchestrate", "status", "two"]);
        let doc: serde_json::Value = serde_json::from_str(&status.stdout).unwrap_or_default();
        let phase = |name: &str| {
            doc["phases"]
                .as_array()
                .and_then(|ps| ps.iter().find(|p| p["name"] == name))
                .map(|p| p["status"].clone())
        };
        if phase("ask") == Some("waiting".into()) && phase("slow") == Some("running".into()) {
            break;
        }
        assert!(std::time::Instant::now() < until, "never got going: {doc}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let fail = env.run(&["--json", "orchestrate", "fail", "two", "ask"]);
    let status = env.run(&["--json", "orchestrate", "status", "two"]);
    std::fs::write(env.file("go"), "").unwrap();
    driver.wait().unwrap();
    assert_eq!(fail.code, 0, "{}{}", fail.stdout, fail.stderr);
    assert!(
        fail.stderr.contains("carries the run on"),
        "{}",
        fail.stderr
    );
    for doc in [fail.json(), status.json()] {
        assert_eq!(doc["status"], "running", "{doc}");
        assert!(
            !doc["next"].to_string().contains("\"resume\""),
            "no resume while its driver holds it: {doc}"
        );
    }
    // Once its driver has let go, the run is failed and resumable.
    let after = env.run(&["--json", "orchestrate", "status", "two"]).json();
    assert_eq!(after["status"], "failed", "{after}");
    assert!(after["next"].to_string().contains("\"resume\""), "{after}");
}

const ASK: &str = "name: ask\nsteps:\n  - {name: Ask, prompt: ask it, on_failure: skip}\n  - {name: Review, prompt: review it}\n";

fn count(env: &Env, run: &str, kind: &str) -> usize {
    env.events(run).iter().filter(|e| e["type"] == kind).count()
}

/// A fail report takes no outputs (a failed step records none, as a phase fails with none):
/// `--output` on `step fail` is refused with exit 2 and nothing is recorded. Before, the
/// outputs were accepted and silently dropped.
#[test]
fn a_fail_report_with_outputs_is_refused_and_records_nothing() {
    let env = Env::new();
    env.workflow("ask", ASK);
    let run = run_id(&env.run(&["--json", "workflow", "run", "ask"]));
    let events = env.events(&run).len();
    let refused = env.run(&[
        "workflow",
        "step",
        "fail",
        "Ask",
        "--message",
        "disk full",
        "--output",
        "note=partial",
    ]);
    assert_eq!(refused.code, 2, "{}{}", refused.stdout, refused.stderr);
    assert!(refused.stderr.contains("--output"), "{}", refused.stderr);
    assert_eq!(env.events(&run).len(), events, "nothing recorded");
    assert_eq!(env.status(Some(&run))["steps"][0]["status"], "waiting");
}

/// SPEC §7: a report's `--message` is recorded and shown by status. A failure that the
/// step's `on_failure: skip` turned into a skip lost who reported it and why: no
/// `reported_by` in `--json`, only "Reason: on_failure: skip (reported failed)".
#[test]
fn a_skipped_fail_report_keeps_its_actor_and_message_in_status() {
    let env = Env::new();
    env.workflow("ask", ASK);
    let run = run_id(&env.run(&["--json", "workflow", "run", "ask"]));
    let failed = env.run(&[
        "workflow",
        "step",
        "fail",
        "Ask",
        "--message",
        "disk full",
        "--actor",
        "ana",
    ]);
    assert_eq!(failed.code, 3, "{}{}", failed.stdout, failed.stderr);
    let doc = env.status(Some(&run));
    assert_eq!(doc["steps"][0]["status"], "skipped", "{doc}");
    assert_eq!(doc["steps"][0]["reported_by"]["actor"], "ana", "{doc}");
    assert_eq!(
        doc["steps"][0]["reported_by"]["message"], "disk full",
        "{doc}"
    );
    let human = env.run(&["workflow", "status", &run]);
    assert!(
        human.stdout.contains("Reported by ana: disk full"),
        "{}",
        human.stdout
    );
}

/// A key given twice (`--input v=1 --input v=2`) silently kept the last value. It is refused
/// with exit 2, naming the key, and nothing is recorded — for `run`, `resume`, `step
/// complete` and `orchestrate complete` alike.
#[test]
fn a_key_given_twice_is_refused_naming_it_and_nothing_is_recorded() {
    let env = Env::new();
    env.workflow(
        "p",
        "name: p\ninputs:\n  v: {type: string, default: x}\nsteps:\n  - {name: A, prompt: do it}\n",
    );
    env.scenario(
        "gate",
        "name: gate\ndescription: d\nphases:\n  - {name: approve, description: a}\n",
    );
    let twice = env.run(&["workflow", "run", "p", "--input", "v=1", "--input", "v=2"]);
    assert_eq!(twice.code, 2, "{}{}", twice.stdout, twice.stderr);
    assert!(
        twice.stderr.contains("`v` is given twice"),
        "{}",
        twice.stderr
    );
    assert!(
        env.run(&["--json", "workflow", "history"]).json()["runs"].clone()["runs"]
            .as_array()
            .is_none_or(Vec::is_empty)
    );
    let run = run_id(&env.run(&["--json", "workflow", "run", "p"]));
    let events = env.events(&run).len();
    for args in [
        &[
            "workflow", "step", "complete", "A", "--output", "k=1", "--output", " k=2",
        ][..],
        &[
            "workflow", "resume", "p", "--input", "v=1", "--input", "v=2",
        ],
    ] {
        let out = env.run(args);
        assert_eq!(out.code, 2, "{args:?}: {}{}", out.stdout, out.stderr);
        assert!(
            out.stderr.contains("is given twice"),
            "{args:?}: {}",
            out.stderr
        );
    }
    assert_eq!(env.events(&run).len(), events, "nothing recorded");
    let sc = run_id(&env.run(&["--json", "orchestrate", "run", "gate"]));
    let events = env.events(&sc).len();
    let out = env.run(&[
        "orchestrate",
        "complete",
        "gate",
        "approve",
        "--output",
        "k=1",
        "--output",
        "k=2",
    ]);
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains("--output `k` is given twice"),
        "{}",
        out.stderr
    );
    assert_eq!(env.events(&sc).len(), events, "nothing recorded");
}

/// An agent polling with `resume` grew the log: each resume of a run that only waits on a
/// person appended a `run_resumed`. Such a resume records nothing, says what the run waits
/// for, and exits 3 (a waiting run); workflows and scenarios alike. A resume that changes
/// something (`--timeout`) still records.
#[test]
fn a_resume_of_a_run_waiting_on_a_person_records_nothing_and_says_what_it_waits_for() {
    let env = Env::new();
    env.workflow("ask", ASK);
    let run = run_id(&env.run(&["--json", "workflow", "run", "ask"]));
    let events = env.events(&run).len();
    for _ in 0..3 {
        let out = env.run(&["workflow", "resume", "ask"]);
        assert_eq!(out.code, 3, "{}{}", out.stdout, out.stderr);
        assert!(
            out.stdout.contains("waits for a report on step `Ask`")
                && out.stdout.contains("nothing was recorded"),
            "{}",
            out.stdout
        );
    }
    assert_eq!(env.events(&run).len(), events, "nothing recorded");
    assert_eq!(count(&env, &run, "run_resumed"), 0);
    let json = env.run(&["--json", "workflow", "resume", "ask"]);
    assert_eq!(json.code, 3);
    assert_eq!(json.json()["status"], "waiting");
    // Something to change: recorded.
    let lifted = env.run(&["workflow", "resume", "ask", "--timeout", "1h"]);
    assert_eq!(lifted.code, 3, "{}{}", lifted.stdout, lifted.stderr);
    assert_eq!(count(&env, &run, "run_resumed"), 1);
    // A scenario waiting on a report and on a manual start.
    env.scenario(
        "gate",
        "name: gate\ndescription: d\nphases:\n  - {name: approve, description: a}\n  - {name: ship, description: s, condition: manual}\n",
    );
    let sc = run_id(&env.run(&["--json", "orchestrate", "run", "gate"]));
    let events = env.events(&sc).len();
    for _ in 0..2 {
        let out = env.run(&["orchestrate", "resume", "gate"]);
        assert_eq!(out.code, 3, "{}{}", out.stdout, out.stderr);
        assert!(
            out.stdout.contains("nothing was recorded"),
            "{}",
            out.stdout
        );
    }
    assert_eq!(env.events(&sc).len(), events, "nothing recorded");
}

/// Without `--run`, a report goes to the latest run (SPEC §7); when that run cannot take it
/// (it finished), the error named only it and suggested starting a new run, while an older
/// run waited on that very step. It names that run and the report's command there, and a
/// `resume` with nothing to do on the latest run names the runs that wait.
#[test]
fn a_report_on_a_finished_latest_run_names_the_older_run_waiting_on_that_step() {
    let env = Env::new();
    let w1 = waiting_behind_a_finished_run(&env, "  - {name: Review, prompt: review it}\n");
    let out = env.run(&["workflow", "step", "complete", "Review"]);
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr
            .contains(&format!("`Review` waits for a report in run {w1} (w1)")),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains(&format!(
            "`cortex workflow step complete Review --run {w1}` reports it in run {w1}"
        )),
        "{}",
        out.stderr
    );
    let resume = env.run(&["workflow", "resume"]);
    assert_eq!(resume.code, 0, "{}{}", resume.stdout, resume.stderr);
    assert!(
        resume.stdout.contains(&format!(
            "Run {w1} (w1) waits on `Review`: `cortex workflow status {w1}`"
        )),
        "{}",
        resume.stdout
    );
    // The pasted command works.
    let there = env.run(&["workflow", "step", "complete", "Review", "--run", &w1]);
    assert_eq!(there.code, 0, "{}{}", there.stdout, there.stderr);
    // Scenarios likewise: a name's latest run finished, an older one waits on the phase.
    env.scenario(
        "gate",
        "name: gate\ndescription: d\nphases:\n  - {name: approve, description: a}\n",
    );
    let a = run_id(&env.run(&["--json", "orchestrate", "run", "gate"]));
    let _b = run_id(&env.run(&["--json", "orchestrate", "run", "gate"]));
    assert_eq!(env.run(&["orchestrate", "abort", "gate"]).code, 1);
    let out = env.run(&["orchestrate", "complete", "gate", "approve"]);
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains(&format!(
            "`cortex orchestrate complete {a} approve` reports it in run {a}"
        )),
        "{}",
        out.stderr
    );
}

/// The command a finished latest run's error suggests for the older run waiting on the step
/// dropped the report's `--output`, `--message` and `--actor`: pasting it was refused by the
/// step's `validate: [{output: out}]`, or recorded a report without them. It repeats every
/// argument given, quoted, with `--run ID` added; scenarios likewise.
#[test]
fn a_report_suggested_for_an_older_run_repeats_every_argument_given() {
    let env = Env::new();
    let w1 = waiting_behind_a_finished_run(
        &env,
        "  - name: ask it\n    prompt: review it\n    validate: [{output: out}]\n",
    );
    let out = env.run(&[
        "workflow",
        "step",
        "complete",
        "ask it",
        "--output",
        "out=report.md",
        "--message",
        "looked at it",
        "--actor",
        "bob",
    ]);
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains(&format!(
            "`cortex workflow step complete 'ask it' --run {w1} --output out=report.md --message 'looked at it' --actor bob` reports it in run {w1}"
        )),
        "{}",
        out.stderr
    );
    // The pasted command does what was meant.
    let there = env.run(&[
        "workflow",
        "step",
        "complete",
        "ask it",
        "--run",
        &w1,
        "--output",
        "out=report.md",
        "--message",
        "looked at it",
        "--actor",
        "bob",
    ]);
    assert_eq!(there.code, 0, "{}{}", there.stdout, there.stderr);
    let doc = env.status(Some(&w1));
    assert_eq!(doc["steps"][0]["outputs"]["out"], "report.md", "{doc}");
    // Scenarios likewise.
    env.scenario(
        "gate",
        "name: gate\ndescription: d\nphases:\n  - {name: approve, description: a}\n",
    );
    let a = run_id(&env.run(&["--json", "orchestrate", "run", "gate"]));
    let _b = run_id(&env.run(&["--json", "orchestrate", "run", "gate"]));
    assert_eq!(env.run(&["orchestrate", "abort", "gate"]).code, 1);
    let out = env.run(&[
        "orchestrate",
        "complete",
        "gate",
        "approve",
        "--output",
        "k=1",
        "--message",
        "hi",
    ]);
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains(&format!(
            "`cortex orchestrate complete {a} approve --output k=1 --message hi` reports it in run {a}"
        )),
        "{}",
        out.stderr
    );
}

/// A plain `resume` of a parent run whose `uses:` step's child waits on a person recorded a
/// `run_resumed` each time (README: polling with resume never grows the log). The parent is
/// idle when its child is (and the child's children): nothing is recorded, exit 3.
#[test]
fn a_resume_of_a_parent_whose_child_waits_on_a_person_records_nothing() {
    let env = Env::new();
    env.workflow(
        "inner",
        "name: inner\nsteps:\n  - {name: look, prompt: look at it}\n",
    );
    env.workflow(
        "middle",
        "name: middle\nsteps:\n  - {name: deeper, uses: inner}\n",
    );
    env.workflow(
        "outer",
        "name: outer\nsteps:\n  - {name: review, uses: middle}\n  - {name: after, run: echo done}\n",
    );
    let out = env.run(&["--json", "workflow", "run", "outer"]);
    assert_eq!(out.code, 3, "{}{}", out.stdout, out.stderr);
    let run = run_id(&out);
    let events = env.events(&run).len();
    for _ in 0..3 {
        let out = env.run(&["workflow", "resume", "outer"]);
        assert_eq!(out.code, 3, "{}{}", out.stdout, out.stderr);
        assert!(
            out.stdout.contains("nothing was recorded")
                && out.stdout.contains("step `review`'s child run"),
            "{}",
            out.stdout
        );
    }
    assert_eq!(env.events(&run).len(), events, "nothing recorded");
    assert_eq!(count(&env, &run, "run_resumed"), 0);
}

/// `resume --skip` of a reported failure made the skipper its reporter: status showed
/// "Reported by root@vm" and the reporter's message was gone from human and `--json`. The
/// reporter stays in `reported_by`; the skip is its own fact, `skipped_by`; scenarios alike.
#[test]
fn a_skip_of_a_reported_failure_keeps_the_reporter_and_shows_the_skipper_apart() {
    let env = Env::new();
    env.workflow(
        "two",
        "name: two\nsteps:\n  - {name: ask2, prompt: ask it}\n  - {name: after, prompt: then this}\n",
    );
    let run = run_id(&env.run(&["--json", "workflow", "run", "two"]));
    let failed = env.run(&[
        "workflow",
        "step",
        "fail",
        "ask2",
        "--actor",
        "carol",
        "--message",
        "ask2 broke",
    ]);
    assert_eq!(failed.code, 1, "{}{}", failed.stdout, failed.stderr);
    let skipped = env.run(&[
        "workflow",
        "resume",
        "--skip",
        "--actor",
        "dave",
        "--message",
        "not needed",
    ]);
    assert_eq!(skipped.code, 3, "{}{}", skipped.stdout, skipped.stderr);
    let doc = env.status(Some(&run));
    let step = &doc["steps"][0];
    assert_eq!(step["status"], "skipped", "{doc}");
    assert_eq!(step["reported_by"]["actor"], "carol", "{doc}");
    assert_eq!(step["reported_by"]["message"], "ask2 broke", "{doc}");
    assert_eq!(step["skipped_by"]["actor"], "dave", "{doc}");
    assert_eq!(step["skipped_by"]["message"], "not needed", "{doc}");
    let human = env.run(&["workflow", "status", &run]);
    assert!(
        human.stdout.contains("Reported by carol: ask2 broke")
            && human.stdout.contains("Skipped by dave: not needed"),
        "{}",
        human.stdout
    );
    // A scenario's phase likewise.
    env.scenario(
        "gate",
        "name: gate\ndescription: d\nphases:\n  - {name: approve, description: a}\n  - {name: ship, description: s}\n",
    );
    let sc = run_id(&env.run(&["--json", "orchestrate", "run", "gate"]));
    let failed = env.run(&[
        "orchestrate",
        "fail",
        "gate",
        "approve",
        "--actor",
        "carol",
        "--message",
        "broke",
    ]);
    assert_eq!(failed.code, 1, "{}{}", failed.stdout, failed.stderr);
    let skipped = env.run(&["orchestrate", "resume", "gate", "--skip", "--actor", "dave"]);
    assert!(
        skipped.code == 3 || skipped.code == 0,
        "{}{}",
        skipped.stdout,
        skipped.stderr
    );
    let doc = env.run(&["--json", "orchestrate", "status", &sc]).json();
    let phase = &doc["phases"][0];
    assert_eq!(phase["reported_by"]["actor"], "carol", "{doc}");
    assert_eq!(phase["reported_by"]["message"], "broke", "{doc}");
    assert_eq!(phase["skipped_by"]["actor"], "dave", "{doc}");
}

/// `--json` (and so MCP) `resume` without a run, its latest run finished, gave no sign of the
/// older runs the human output lists ("Other runs to go on with"): its `next` was empty.
/// Each such run's command is in `next`, its why naming the run.
#[test]
fn a_json_resume_of_a_finished_latest_run_names_the_older_waiting_runs_in_next() {
    let env = Env::new();
    let w1 = waiting_behind_a_finished_run(&env, "  - {name: Review, prompt: review it}\n");
    let out = env.run(&["--json", "workflow", "resume"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let doc = out.json();
    let next = doc["next"].as_array().expect("next");
    let hit = next
        .iter()
        .find(|n| {
            n["argv"]
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a == w1.as_str())
        })
        .unwrap_or_else(|| panic!("no command for {w1} in {doc}"));
    assert!(
        hit["argv"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a == "status"),
        "{hit}"
    );
    assert!(
        hit["why"].as_str().unwrap().contains("waits on `Review`"),
        "{hit}"
    );
}

/// `orchestrate resume NAME` (its latest run finished) and `orchestrate start NAME PHASE`
/// did not name the older runs of that scenario that wait, while a bare `orchestrate resume`
/// and `orchestrate complete NAME PHASE` did: every lookup by name shares one rule.
#[test]
fn every_lookup_by_name_names_the_older_runs_of_that_name_that_wait() {
    let env = Env::new();
    env.scenario(
        "gate",
        "name: gate\ndescription: d\nphases:\n  - {name: approve, description: a}\n  - {name: ship, description: s, condition: manual}\n",
    );
    let a = run_id(&env.run(&["--json", "orchestrate", "run", "gate"]));
    let _b = run_id(&env.run(&["--json", "orchestrate", "run", "gate"]));
    assert_eq!(env.run(&["orchestrate", "abort", "gate"]).code, 1);
    let resume = env.run(&["orchestrate", "resume", "gate"]);
    assert!(
        resume.stdout.contains("Other runs to go on with") && resume.stdout.contains(&a),
        "{}{}",
        resume.stdout,
        resume.stderr
    );
    let json = env.run(&["--json", "orchestrate", "resume", "gate"]).json();
    assert!(json["next"].to_string().contains(&a), "{json}");
    let start = env.run(&["orchestrate", "start", "gate", "ship"]);
    assert_eq!(start.code, 2, "{}{}", start.stdout, start.stderr);
    assert!(
        start.stderr.contains(&format!(
            "`cortex orchestrate start {a} ship` starts it in run {a}"
        )),
        "{}",
        start.stderr
    );
    // By its id, nobody else was meant.
    let by_id = env.run(&["orchestrate", "resume", &_b]);
    assert!(!by_id.stdout.contains("Other runs"), "{}", by_id.stdout);
}

/// `resume --retry` with nothing failed is refused in one wording for both kinds: before, a
/// workflow said "the run is not failed, so there is nothing to retry" and a scenario "cannot
/// retry: no phase of this run failed"; and `workflow resume --help` says it is refused then,
/// as `orchestrate resume --help` does.
#[test]
fn a_retry_with_nothing_failed_is_refused_in_one_wording_for_both_kinds() {
    let env = Env::new();
    env.workflow("ask", "name: ask\nsteps:\n  - {name: Ask, prompt: do it}\n");
    env.scenario(
        "gate",
        "name: gate\ndescription: d\nphases:\n  - {name: Ask, description: do it}\n",
    );
    assert_eq!(env.run(&["workflow", "run", "ask"]).code, 3);
    assert_eq!(env.run(&["orchestrate", "run", "gate"]).code, 3);
    let workflow = env.run(&["workflow", "resume", "ask", "--retry"]);
    let scenario = env.run(&["orchestrate", "resume", "gate", "--retry"]);
    assert_eq!((workflow.code, scenario.code), (2, 2));
    let first = |out: &common::Out| out.stderr.lines().next().unwrap_or("").to_string();
    assert_eq!(
        first(&workflow),
        "error: cannot retry: no step of this run failed"
    );
    assert_eq!(first(&workflow).replace("step", "phase"), first(&scenario));
    insta::assert_snapshot!(
        "retry_with_nothing_failed_workflow",
        workflow.snapshot(&env)
    );
    for group in ["workflow", "orchestrate"] {
        let help = env.run(&[group, "resume", "--help"]).stdout;
        let retry = help
            .split("--retry")
            .nth(1)
            .unwrap_or_else(|| panic!("{help}"));
        let retry = retry.split("--skip").next().unwrap();
        assert!(retry.contains("refused when no"), "{group}: {retry}");
    }
}

/// Run w1 of `steps` (YAML), which waits on one, then w2, which finishes: the latest run
/// cannot take a report on w1's step, whose error names w1's (its id returned).
fn waiting_behind_a_finished_run(env: &Env, steps: &str) -> String {
    env.workflow("w1", &format!("name: w1\nsteps:\n{steps}"));
    env.workflow("w2", "name: w2\nsteps:\n  - {name: Hi, run: echo hi}\n");
    let w1 = run_id(&env.run(&["--json", "workflow", "run", "w1"]));
    assert_eq!(env.run(&["workflow", "run", "w2"]).code, 0);
    w1
}

/// `args` run as given and with `--json` (with `vars`), each refused (exit 2) without a word
/// of `secret` on stdout or stderr: what each said, stdout then stderr.
fn refused_without(env: &Env, args: &[&str], vars: &[(&str, &str)], secret: &str) -> [String; 2] {
    [false, true].map(|json| {
        let mut args = args.to_vec();
        if json {
            args.insert(0, "--json");
        }
        let out = env.run_with(&args, vars);
        assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
        let all = format!("{}{}", out.stdout, out.stderr);
        assert!(!all.contains(secret), "{all}");
        all
    })
}

/// A command suggested in a report's place repeated every `--output KEY=VALUE` and the
/// `--message` as given: a value the redactor knows as a secret (here the value of
/// `$GITHUB_TOKEN`, given as an output whose key does not look secret) was printed in clear,
/// to the terminal and in `--json`. The output is the placeholder `VALUE`, with a note naming
/// the variable to put there; the message is repeated as the log keeps it (`***`).
#[test]
fn a_secret_output_is_never_repeated_in_a_suggested_command() {
    let secret = "ghp-s3cr3t-in-a-report";
    let vars = [("GITHUB_TOKEN", secret)];
    let env = Env::new();
    let w1 = waiting_behind_a_finished_run(&env, "  - name: ask it\n    prompt: review it\n");
    let pair = format!("out={secret}");
    let report = [
        "workflow", "step", "complete", "ask it", "--output", &pair, "--output", "plan=ok",
    ];
    let [human, json] = refused_without(&env, &report, &vars, secret);
    assert!(
        human.contains(&format!(
            "`cortex workflow step complete 'ask it' --run {w1} --output out=VALUE --output plan=ok` reports it in run {w1} (the secret value of output `out` (the value of $GITHUB_TOKEN) is left out of it: put it in place of `VALUE`)"
        )),
        "{human}"
    );
    assert!(json.contains("out=VALUE"), "{json}");
    // The run of the other kind named to `workflow step`: its `orchestrate` command likewise.
    env.scenario(
        "gate",
        "name: gate\ndescription: d\nphases:\n  - {name: approve, description: a}\n",
    );
    let a = run_id(&env.run(&["--json", "orchestrate", "run", "gate"]));
    let report = [
        "workflow", "step", "complete", "approve", "--run", &a, "--output", &pair,
    ];
    for said in refused_without(&env, &report, &vars, secret) {
        assert!(said.contains("out=VALUE"), "{said}");
    }
    assert_eq!(common::count_events(&env, &a, "step_succeeded"), 0);
}

/// A report's `--message` holding a secret was repeated in clear by the command suggested in
/// its place: it is repeated as the log keeps it, each secret `***`.
#[test]
fn a_secret_message_is_never_repeated_in_a_suggested_command() {
    let secret = "ghp-s3cr3t-in-a-message";
    let vars = [("GITHUB_TOKEN", secret)];
    let env = Env::new();
    let w1 = waiting_behind_a_finished_run(&env, "  - name: ask it\n    prompt: review it\n");
    let message = format!("used {secret} to look");
    let report = [
        "workflow",
        "step",
        "complete",
        "ask it",
        "--message",
        &message,
    ];
    for said in refused_without(&env, &report, &vars, secret) {
        assert!(
            said.contains(&format!("--run {w1} --message 'used *** to look'")),
            "{said}"
        );
    }
}
