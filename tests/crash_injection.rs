//! Crash injection: the real binary is killed with SIGKILL at seeded random instants while it
//! drives workflows that retry and roll back and scenarios with manual and parallel phases;
//! then it is resumed (and killed again) until the run is done. After every trial:
//! - the log verifies;
//! - the final state equals the state of an uninterrupted run (every step's status);
//! - a completed step or phase is never started again (no `step_started` after its success);
//! - only the attempts in flight at a kill may run again: the extra attempts, over the whole
//!   trial, are at most the number of kills times the units the subject can have in flight at
//!   once (one step of a workflow; both phases of the scenario's parallel pair) — at-least-once,
//!   counted.
//!
//! Each test runs trials of 12 kill attempts until 70 kills have landed on a live process (210
//! for the suite). `CORTEX_CRASH_TARGET`, `CORTEX_CRASH_KILLS` and `CORTEX_CRASH_SEED` scale and
//! reseed it; the longer soak is `.ci/crash-soak`.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::Env;

/// xorshift64*: a tiny seeded generator, so trials are reproducible without another crate.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[derive(Clone, Copy)]
enum Kind {
    Workflow,
    Scenario,
}

struct Subject {
    kind: Kind,
    name: &'static str,
    yaml: &'static str,
    /// Extra arguments of the first `run`.
    run_args: &'static [&'static str],
    /// How many of its units can be in flight at once, and so be interrupted by one kill.
    in_flight: u64,
}

const RETRY_AND_ROLLBACK: &str = r#"name: crashy
steps:
  - name: fetch
    run: echo start-fetch >> ledger; sleep 0.03; echo fetched=1 >> "$CORTEX_OUTPUT"
    rollback: echo undo-fetch >> ledger; sleep 0.02
  - name: flaky
    run: |
      echo start-flaky >> ledger
      n=$(cat flaky.count 2>/dev/null || echo 0); n=$((n+1)); echo $n > flaky.count
      sleep 0.02
      [ "$n" -ge 3 ]
    retry: {max_retry_attempts: 5, backoff: 10ms}
    rollback: echo undo-flaky >> ledger
  - name: build
    run: echo start-build >> ledger; sleep 0.04
    rollback: echo undo-build >> ledger; sleep 0.02
  - name: doomed
    run: echo start-doomed >> ledger; sleep 0.02; exit 3
    retry: {max_retry_attempts: 1, backoff: 10ms}
    on_failure: rollback
"#;

const PAUSE_THEN_SKIP: &str = r#"name: pausing
steps:
  - name: one
    run: echo start-one >> ledger; sleep 0.03
  - name: two
    run: echo start-two >> ledger; sleep 0.03; exit 1
    retry: {max_retry_attempts: 1, backoff: 10ms}
    on_failure: skip
  - name: three
    run: echo start-three >> ledger; sleep 0.03
"#;

const PARALLEL_SCENARIO: &str = r#"name: crashy-scenario
description: manual gate, a parallel pair, a join
phases:
  - name: gate
    description: a manual phase that runs a command once started
    condition: manual
    run: echo start-gate >> ledger; sleep 0.03
  - name: left
    condition: after:gate
    parallel: true
    run: echo start-left >> ledger; sleep 0.05
  - name: right
    condition: after:gate
    parallel: true
    run: echo start-right >> ledger; sleep 0.04
    retry: {max_retry_attempts: 2, backoff: 10ms}
  - name: join
    condition: after:left,right
    run: echo start-join >> ledger; sleep 0.02
    success_criteria:
      - {check: test -f ledger}
"#;

/// A phase that fails twice with a backoff as long as the kills' spread: many kills land
/// while a retry waits, nothing running.
const BACKOFF_SCENARIO: &str = r#"name: backoff-scenario
description: retries with a backoff
phases:
  - name: flaky
    description: fails twice, then succeeds
    run: |
      echo start-flaky >> ledger
      n=$(cat flaky.count 2>/dev/null || echo 0); n=$((n+1)); echo $n > flaky.count
      [ "$n" -ge 3 ]
    retry: {max_retry_attempts: 4, backoff: 60ms}
  - name: after
    condition: after:flaky
    run: echo start-after >> ledger
"#;

fn status(env: &Env, kind: Kind, run: &str) -> serde_json::Value {
    let args = match kind {
        Kind::Workflow => vec!["--json", "workflow", "status", run],
        Kind::Scenario => vec!["--json", "orchestrate", "status", run],
    };
    env.run(&args).json()
}

fn units(doc: &serde_json::Value) -> Vec<serde_json::Value> {
    doc.get("steps")
        .or_else(|| doc.get("phases"))
        .and_then(|v| v.as_array())
        .cloned()
        .unwrap_or_default()
}

/// Step name → final status, and the run's status.
fn summary(doc: &serde_json::Value) -> (String, BTreeMap<String, String>) {
    let steps = units(doc)
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap().to_string(),
                s["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    (doc["status"].as_str().unwrap().to_string(), steps)
}

fn latest_run(env: &Env, kind: Kind) -> Option<String> {
    let group = match kind {
        Kind::Workflow => "workflow",
        Kind::Scenario => "orchestrate",
    };
    let history = env.run(&["--json", group, "history"]).json()["runs"].clone();
    history
        .as_array()?
        .first()
        .map(|r| r["run_id"].as_str().unwrap().to_string())
}

/// Move a run on without killing it: resume, start manual phases, until it is finished.
fn finish(env: &Env, subject: &Subject, run: &str) {
    for _ in 0..20 {
        let doc = status(env, subject.kind, run);
        match doc["status"].as_str().unwrap() {
            "completed" | "rolled_back" | "aborted" => return,
            "failed" if !doc["resumable"].as_bool().unwrap() => return,
            _ => {}
        }
        let out = match subject.kind {
            Kind::Scenario if doc["awaiting_start"].is_array() => {
                let phase = doc["awaiting_start"][0].as_str().unwrap().to_string();
                env.run(&["orchestrate", "start", subject.name, &phase])
            }
            Kind::Scenario => env.run(&["orchestrate", "resume", subject.name]),
            Kind::Workflow => env.run(&["workflow", "resume", run]),
        };
        assert!(
            matches!(out.code, 0 | 1 | 3),
            "{}{}",
            out.stdout,
            out.stderr
        );
    }
    panic!("run {run} did not finish");
}

/// One trial: run `subject` to the end without kills, then again with `kills` SIGKILLs at
/// seeded instants, and compare. Returns the kills that hit a live process.
fn trial(subject: &Subject, seed: u64, kills: u64) -> u64 {
    let reference = {
        let env = Env::new();
        let run = start(&env, subject, None).expect("an uninterrupted run starts");
        finish(&env, subject, &run);
        summary(&status(&env, subject.kind, &run))
    };
    let env = Env::new();
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let mut landed = 0;
    let mut run: Option<String> = None;
    for _ in 0..kills {
        let delay = Duration::from_millis(rng.below(120));
        let mut child = match &run {
            None => spawn(&env, subject, &start_args(subject)),
            Some(id) => spawn(&env, subject, &next_args(&env, subject, id)),
        };
        std::thread::sleep(delay);
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap();
            landed += 1;
        }
        child.wait().unwrap();
        if run.is_none() {
            run = latest_run(&env, subject.kind);
        }
        // The log verifies after every kill, whatever instant it hit; killed before it made
        // the log, there is none to verify (said so, exit 2).
        let verify = env.run(&["--json", "log", "verify", "--all"]);
        if env.db().exists() {
            assert_eq!(verify.json()["ok"], true, "seed {seed}: {}", verify.stdout);
        } else {
            assert_eq!(verify.code, 2, "seed {seed}: {}", verify.stdout);
        }
    }
    let run = match run {
        Some(r) => r,
        None => start(&env, subject, None).unwrap(),
    };
    finish(&env, subject, &run);
    let doc = status(&env, subject.kind, &run);
    assert_eq!(
        summary(&doc),
        reference,
        "seed {seed}: the final state differs from an uninterrupted run"
    );
    check_log(&env, &run, &reference.1, landed * subject.in_flight, seed);
    landed
}

fn start_args(subject: &Subject) -> Vec<String> {
    let mut args: Vec<String> = match subject.kind {
        Kind::Workflow => vec!["workflow".into(), "run".into(), subject.name.into()],
        Kind::Scenario => vec!["orchestrate".into(), "run".into(), subject.name.into()],
    };
    args.extend(subject.run_args.iter().map(|s| s.to_string()));
    args
}

/// The command that moves the run on: start an awaited manual phase, else resume.
fn next_args(env: &Env, subject: &Subject, run: &str) -> Vec<String> {
    match subject.kind {
        Kind::Workflow => vec!["workflow".into(), "resume".into(), run.into()],
        Kind::Scenario => {
            let doc = status(env, subject.kind, run);
            match doc["awaiting_start"][0].as_str() {
                Some(phase) => vec![
                    "orchestrate".into(),
                    "start".into(),
                    subject.name.into(),
                    phase.into(),
                ],
                None => vec!["orchestrate".into(), "resume".into(), subject.name.into()],
            }
        }
    }
}

fn spawn(env: &Env, subject: &Subject, args: &[String]) -> std::process::Child {
    install(env, subject);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    env.spawn(&args)
}

fn install(env: &Env, subject: &Subject) {
    let dir = match subject.kind {
        Kind::Workflow => env.home().join("workflows"),
        Kind::Scenario => env.home().join("scenarios"),
    };
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(format!("{}.yaml", subject.name)), subject.yaml).unwrap();
}

fn start(env: &Env, subject: &Subject, _seed: Option<u64>) -> Option<String> {
    install(env, subject);
    let args = start_args(subject);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    env.run(&args);
    latest_run(env, subject.kind)
}

/// The log's account: no step starts again after it succeeded, and the attempts beyond an
/// uninterrupted run's are bounded by the kills.
/// `bound`: the attempts the kills could have interrupted (kills × units in flight at once).
fn check_log(env: &Env, run: &str, reference: &BTreeMap<String, String>, bound: u64, seed: u64) {
    let log = env.run(&["--json", "log", "show", run]).json();
    let mut succeeded: BTreeMap<String, bool> = BTreeMap::new();
    let mut interrupted = 0u64;
    // Each retry's attempt and when it may start at the earliest: after its `retry_scheduled`
    // by most of its backoff.
    let mut due: BTreeMap<(String, u64), std::time::SystemTime> = BTreeMap::new();
    let time = |e: &serde_json::Value| {
        humantime::parse_rfc3339(e["time"].as_str().unwrap()).expect("an event's time parses")
    };
    for e in log.as_array().unwrap() {
        let step = e["body"]["step"].as_str().unwrap_or_default().to_string();
        let attempt = e["body"]["attempt"].as_u64().unwrap_or_default();
        match e["type"].as_str().unwrap() {
            "retry_scheduled" => {
                let delay = Duration::from_millis(e["body"]["delay_ms"].as_u64().unwrap());
                // Half of it: the backoff runs from the driver's decision, and the event's
                // time (in ms) is when it was appended, which may be a little later.
                due.insert((step.clone(), attempt), time(e) + delay / 2);
            }
            // A retry's attempt is recorded started only once its backoff ran out, whatever
            // kill came in between: before, a scenario's was recorded with `retry_scheduled`,
            // and a kill during the backoff interrupted an attempt that never ran.
            "step_started" if due.contains_key(&(step.clone(), attempt)) => {
                let at = due[&(step.clone(), attempt)];
                assert!(
                    time(e) >= at,
                    "seed {seed}: `{step}` attempt {attempt} started before its backoff ran out"
                );
            }
            _ => {}
        }
        match e["type"].as_str().unwrap() {
            "step_succeeded" => {
                succeeded.insert(step, true);
            }
            "step_started" | "step_waiting" => {
                assert!(
                    !succeeded.get(&step).copied().unwrap_or(false),
                    "seed {seed}: `{step}` started again after it succeeded"
                );
            }
            "step_interrupted" => interrupted += 1,
            _ => {}
        }
    }
    assert!(
        interrupted <= bound,
        "seed {seed}: {interrupted} attempts re-run where the kills could interrupt {bound}"
    );
    for (step, status) in reference {
        if status == "completed" {
            assert!(
                succeeded.get(step).copied().unwrap_or(false),
                "seed {seed}: `{step}` never succeeded"
            );
        }
    }
}

/// Trials until `CORTEX_CRASH_TARGET` kills (default 70) have landed on a live process:
/// whether a kill lands depends on timing, the count of landed kills must not.
fn run_trials(subject: &Subject, base_seed: u64) {
    let kills = env_u64("CORTEX_CRASH_KILLS", 12);
    let target = env_u64("CORTEX_CRASH_TARGET", 70);
    let seed0 = env_u64("CORTEX_CRASH_SEED", base_seed);
    let mut landed = 0;
    let mut trials = 0;
    while landed < target && trials < 100 {
        landed += trial(subject, seed0 + trials, kills);
        trials += 1;
    }
    eprintln!("{}: {trials} trials, {landed} kills landed", subject.name);
    assert!(
        landed >= target,
        "only {landed} kills landed in {trials} trials"
    );
}

#[test]
fn kills_during_retries_and_rollback() {
    run_trials(
        &Subject {
            kind: Kind::Workflow,
            name: "crashy",
            yaml: RETRY_AND_ROLLBACK,
            run_args: &[],
            in_flight: 1,
        },
        1,
    );
}

#[test]
fn kills_during_pause_and_skip() {
    run_trials(
        &Subject {
            kind: Kind::Workflow,
            name: "pausing",
            yaml: PAUSE_THEN_SKIP,
            run_args: &[],
            in_flight: 1,
        },
        101,
    );
}

#[test]
fn kills_during_manual_and_parallel_phases() {
    run_trials(
        &Subject {
            kind: Kind::Scenario,
            name: "crashy-scenario",
            yaml: PARALLEL_SCENARIO,
            run_args: &["--start", "gate"],
            in_flight: 2,
        },
        1001,
    );
}

/// Kills while a scenario's retry waits out its backoff: the crash-equivalence property holds
/// (the final state is an uninterrupted run's, the extra attempts bounded by the kills), and
/// no attempt is recorded started before its backoff ran out.
#[test]
fn kills_during_a_scenario_retry_backoff() {
    run_trials(
        &Subject {
            kind: Kind::Scenario,
            name: "backoff-scenario",
            yaml: BACKOFF_SCENARIO,
            run_args: &[],
            in_flight: 1,
        },
        2001,
    );
}
