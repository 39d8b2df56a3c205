//! A run whose driver was killed (SIGKILL: no event says so) is taken over by whoever acts on
//! it next — a report that drives it on, a stop, an abort, a resume. Each must first deal with
//! what the dead driver left: its attempts in flight (they never report) and their process
//! groups (still running). These tests kill a real driver at the worst moment and act on the
//! run as an operator would, on the real binary and a real SQLite log.

mod common;

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::{Env, Out, driver_dies_before_acting_on, kinds};

/// Start `args` (a driver), wait until `ready` holds (`what`, said if it never does), then
/// SIGKILL it: nothing is recorded of its death.
fn kill_driver_when(env: &Env, args: &[&str], what: &str, ready: impl Fn() -> bool) {
    let mut driver = env.spawn(args);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !ready() {
        assert!(Instant::now() < deadline, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
    driver.kill().unwrap();
    driver.wait().unwrap();
}

/// `kill_driver_when` the latest run's log holds an event of each kind in `until`.
fn kill_driver_once(env: &Env, args: &[&str], until: &[&str]) {
    kill_driver_when(env, args, &format!("{until:?}"), || {
        let seen = kinds(env);
        until.iter().all(|k| seen.iter().any(|s| s == k))
    });
}

/// `kill_driver_when` the step's process group is noted (`locks/RUN.pgids`
/// names it): a driver killed between its process's start and that note leaves a group
/// nobody can prove is the run's (DESIGN.md §7, "Guarantees").
fn kill_driver_once_noted(env: &Env, args: &[&str]) {
    kill_driver_when(env, args, "the step's group to be noted", || {
        env.all_inflight_notes().iter().any(|t| {
            t.lines()
                .any(|l| l.split(' ').nth(1).is_some_and(|p| p != "-"))
        })
    });
}

/// `args` run to its end, or killed and the test failed after `patience`: a command that
/// hangs must fail the test, not hang it.
fn run_within(env: &Env, args: &[&str], patience: Duration) -> Out {
    let mut child: Child = env
        .command(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + patience;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() >= deadline {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "`cortex {}` did not end within {patience:?}:\n{}{}",
                args.join(" "),
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The attempts of phase or step `name` that started, from the latest run's log.
fn starts_of(env: &Env, name: &str) -> usize {
    env.run(&["--json", "log", "show"])
        .json()
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .filter(|e| e["type"] == "step_started" && e["body"]["step"] == name)
        .count()
}

const TWO_BRANCHES: &str = "name: ki
description: a long phase beside one a person does, then a join
phases:
  - {name: a, description: long, parallel: true, run: 'sleep 2'}
  - {name: p, description: a person, parallel: true}
  - {name: m, description: started by hand, parallel: true, condition: manual}
  - {name: b, description: after both, condition: 'after:a,p,m', run: 'echo b'}
";

/// A report that drives on a run whose driver was killed while a phase ran. Before, the
/// first suggestions `status --json` gave for the interrupted run (`orchestrate complete RUN
/// p`, `orchestrate start RUN m`) took the run over and then waited for ever on the dead
/// driver's phase, which nothing ran any more (an agent following `next` hung). Now the
/// phase in flight is recorded interrupted and runs again as a new attempt, and the run
/// finishes.
#[test]
fn a_report_on_a_run_whose_driver_died_runs_the_dead_drivers_phase_again() {
    let env = Env::new();
    env.scenario("ki", TWO_BRANCHES);
    kill_driver_once(
        &env,
        &["orchestrate", "run", "ki"],
        &["step_started", "step_waiting"],
    );
    let status = env.run(&["--json", "orchestrate", "status", "ki"]).json();
    assert_eq!(status["status"], "interrupted", "{status}");
    let start = run_within(
        &env,
        &["orchestrate", "start", "ki", "m"],
        Duration::from_secs(60),
    );
    assert_eq!(start.code, 3, "{}", start.text());
    let out = run_within(
        &env,
        &["orchestrate", "complete", "ki", "m"],
        Duration::from_secs(60),
    );
    assert_eq!(out.code, 3, "{}", out.text());
    let out = run_within(
        &env,
        &["orchestrate", "complete", "ki", "p"],
        Duration::from_secs(60),
    );
    assert_eq!(out.code, 0, "{}", out.text());
    let status = env.run(&["--json", "orchestrate", "status", "ki"]).json();
    assert_eq!(status["status"], "completed", "{status}");
    let events = env.run(&["--json", "log", "show"]).json();
    let interrupted: Vec<_> = events
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "step_interrupted")
        .collect();
    assert_eq!(interrupted.len(), 1, "{events}");
    assert_eq!(interrupted[0]["body"]["step"], "a");
    assert!(
        interrupted[0]["body"]["reason"]
            .as_str()
            .unwrap()
            .contains("ended before it finished"),
        "{events}"
    );
    // Named (SPEC §9: an attempt cut short is recorded with who ran it and where).
    assert!(
        interrupted[0]["body"]["reason"]
            .as_str()
            .unwrap()
            .contains("(pid "),
        "{events}"
    );
    assert_eq!(
        starts_of(&env, "a"),
        2,
        "the dead driver's attempt, then one more"
    );
    assert!(env.run(&["log", "verify"]).code == 0);
}

/// An abort (or a stop) of a run whose driver was killed while a step ran. Before, the log
/// said the step ended ("aborted") and the run was over, while the dead driver's command went
/// on and did what it was there to do seconds later (a deploy pushed after the abort). Now
/// the orphaned process group ends before the end is recorded.
#[test]
fn an_abort_or_stop_of_a_run_whose_driver_died_ends_its_commands() {
    for (kind, act) in [
        (
            "workflow",
            vec!["workflow", "abort", "--message", "do not push"],
        ),
        ("scenario", vec!["orchestrate", "stop", "push"]),
    ] {
        let env = Env::new();
        let marker = env.project().join("pushed");
        let step = format!(
            "sleep 2; echo pushed > '{}'",
            marker.display().to_string().replace('\'', "'\\''")
        );
        let run = if kind == "workflow" {
            env.workflow(
                "push",
                &format!("name: push\nsteps:\n  - name: push\n    run: \"{step}\"\n"),
            );
            vec!["workflow", "run", "push"]
        } else {
            env.scenario(
                "push",
                &format!(
                    "name: push\ndescription: d\nphases:\n  - {{name: push, description: d, run: \"{step}\"}}\n"
                ),
            );
            vec!["orchestrate", "run", "push"]
        };
        kill_driver_once_noted(&env, &run);
        let out = run_within(&env, &act, Duration::from_secs(60));
        assert!(out.code == 1 || out.code == 3, "{kind}: {}", out.text());
        std::thread::sleep(Duration::from_secs(3));
        assert!(
            !marker.exists(),
            "{kind}: the dead driver's command went on after `{}`",
            act.join(" ")
        );
    }
}

/// A rollback whose driver was killed while a compensation ran. Before, `resume --skip`
/// skipped the failed step and finished the run `completed`, half undone, with nothing in the
/// log of the compensation that had begun. Now every mode but a plain resume is refused
/// (exit 2, nothing recorded, the way on named), and a plain resume finishes the rollback.
#[test]
fn a_rollback_cut_short_cannot_be_skipped_into_completed() {
    let env = Env::new();
    env.config(r#"{"workflow": {"enable_rollback": true}}"#);
    env.workflow(
        "rb",
        "name: rb
steps:
  - name: migrate
    run: 'true'
    rollback: 'sleep 2'
  - name: verify
    run: 'exit 1'
    retry: {max_retry_attempts: 0}
    on_failure: rollback
",
    );
    kill_driver_once(&env, &["workflow", "run", "rb"], &["rollback_started"]);
    let before = kinds(&env).len();
    for mode in ["--skip", "--retry"] {
        let out = env.run(&["workflow", "resume", "rb", mode]);
        assert_eq!(out.code, 2, "{mode}: {}", out.text());
        assert!(
            out.stderr
                .contains("the run is rolling back (`migrate` still to undo)"),
            "{mode}: {}",
            out.stderr
        );
        assert!(
            out.stderr.contains("`cortex workflow resume "),
            "{mode}: the way on is named: {}",
            out.stderr
        );
    }
    assert_eq!(kinds(&env).len(), before, "nothing recorded by a refusal");
    let out = run_within(&env, &["workflow", "resume", "rb"], Duration::from_secs(60));
    assert_eq!(out.code, 1, "{}", out.text());
    let status = env.status(None);
    assert_eq!(status["status"], "rolled_back", "{status}");
}

/// A step whose driver died is shown interrupted, not "In Progress..." with a duration that
/// grows while nothing runs it (workflow `status`), and a phase likewise (`orchestrate
/// status` showed `[>] a - in_progress (10s)`).
#[test]
fn status_shows_a_dead_drivers_step_interrupted_not_in_progress_and_that_its_command_still_runs() {
    let env = Env::new();
    env.workflow(
        "slow",
        "name: slow\nsteps:\n  - {name: s, run: 'sleep 30'}\n",
    );
    kill_driver_once_noted(&env, &["workflow", "run", "slow"]);
    // Its `sleep 30` still runs (its group is noted and alive): said, as of a notification.
    let text = env.run(&["workflow", "status", "slow"]).stdout;
    assert!(
        text.contains("Interrupted: its driver died while this step ran, and its command still runs; resume (or abort) ends it first"),
        "{text}"
    );
    assert!(!text.contains("In Progress"), "{text}");
    assert!(text.contains("   Started: "), "{text}");
    env.run(&["workflow", "abort", "slow"]);
    let env = Env::new();
    env.scenario(
        "slow",
        "name: slow\ndescription: d\nphases:\n  - {name: a, description: d, run: 'sleep 30'}\n",
    );
    kill_driver_once_noted(&env, &["orchestrate", "run", "slow"]);
    let text = env.run(&["orchestrate", "status", "slow"]).stdout;
    assert!(
        text.contains(
            "[?] a  - interrupted: its driver died while this phase ran, and its command still runs; resume (or abort) ends it first, then it runs again on resume (started "
        ),
        "{text}"
    );
    env.run(&["orchestrate", "abort", "slow"]);
}

const BACKOFF_SCENARIO: &str = "name: bo
description: backoff
phases:
  - name: flaky
    description: fails
    run: echo \"attempt $CORTEX_ATTEMPT\" >> count.log; exit 1
    retry: {max_retry_attempts: 1, backoff: 3s}
";

/// The attempts `count.log` says ran, in order.
fn attempts_run(env: &Env) -> Vec<String> {
    std::fs::read_to_string(env.project().join("count.log"))
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

/// A scenario's retry is recorded started only when its process is about to start, after the
/// backoff, as a workflow's. Before, `step_started` of attempt 2 was appended with
/// `retry_scheduled`: during the backoff status showed attempt 2 running, a SIGKILL then
/// recorded it interrupted though nothing ran, and resume ran attempt 3 (an uninterrupted run
/// runs 1 and 2).
#[test]
fn a_scenario_retry_is_started_after_its_backoff_not_before() {
    let env = Env::new();
    env.scenario("bo", BACKOFF_SCENARIO);
    kill_driver_once(&env, &["orchestrate", "run", "bo"], &["retry_scheduled"]);
    assert_eq!(starts_of(&env, "flaky"), 1, "{:?}", kinds(&env));
    let doc = env.run(&["--json", "orchestrate", "status"]).json();
    let phase = &doc["phases"][0];
    assert_eq!(phase["status"], "ready", "a retry is scheduled: {doc}");
    assert_eq!(phase["attempts"], 1, "{doc}");
    assert_eq!(doc["status"], "interrupted", "{doc}");
    let out = run_within(
        &env,
        &["orchestrate", "resume", "bo"],
        Duration::from_secs(60),
    );
    assert_eq!(out.code, 1, "{}", out.text());
    assert_eq!(attempts_run(&env), ["attempt 1", "attempt 2"]);
    assert!(
        !kinds(&env).iter().any(|k| k == "step_interrupted"),
        "nothing ran to be interrupted: {:?}",
        kinds(&env)
    );
}

/// A stop during a scenario retry's backoff stops the run with no attempt recorded stopped
/// (none started), and resume runs attempt 2.
#[test]
fn a_stop_during_a_scenario_retry_backoff_interrupts_no_attempt() {
    let env = Env::new();
    env.scenario("bo", BACKOFF_SCENARIO);
    let mut driver = env.spawn(&["orchestrate", "run", "bo"]);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !kinds(&env).iter().any(|k| k == "retry_scheduled") {
        assert!(Instant::now() < deadline, "no retry was scheduled");
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = env.run(&["orchestrate", "stop", "bo"]);
    assert_eq!(out.code, 3, "stopped: {}", out.text());
    let code = driver.wait().unwrap().code();
    assert_eq!(code, Some(3), "the driver ends stopped");
    let seen = kinds(&env);
    assert!(!seen.iter().any(|k| k == "step_interrupted"), "{seen:?}");
    assert_eq!(starts_of(&env, "flaky"), 1, "{seen:?}");
    let out = run_within(
        &env,
        &["orchestrate", "resume", "bo"],
        Duration::from_secs(60),
    );
    assert_eq!(out.code, 1, "{}", out.text());
    assert_eq!(attempts_run(&env), ["attempt 1", "attempt 2"]);
}

/// A driver killed while a workflow's retry waits out its backoff leaves the run
/// `interrupted` (SPEC §4: a dead driver's run), not `waiting` ("nobody drives it now"): the
/// retry is the engine's own work, and nobody but a driver does it.
#[test]
fn a_driver_killed_in_a_retry_backoff_leaves_the_run_interrupted() {
    let env = Env::new();
    env.workflow(
        "rb",
        "name: rb\nsteps:\n  - name: flaky\n    run: exit 1\n    retry: {max_retry_attempts: 2, backoff: 3s}\n",
    );
    kill_driver_once(&env, &["workflow", "run", "rb"], &["retry_scheduled"]);
    let doc = env.status(None);
    assert_eq!(doc["status"], "interrupted", "{doc}");
    assert!(
        doc["reason"]
            .as_str()
            .unwrap()
            .contains("its driver is gone"),
        "{doc}"
    );
    let history = env.run(&["workflow", "history"]).stdout;
    assert!(history.contains("interrupted"), "{history}");
    let out = env.run(&["workflow", "status"]);
    assert!(
        out.stdout.contains("Status: ⚠️ interrupted"),
        "{}",
        out.stdout
    );
}

/// A driver killed while it compensated a step: status says the rollback is under way (which
/// steps are still to compensate), in its text and in `--json` (`rollback`), and the `Next`
/// resume says it goes on with the rollback. Before, it showed the steps completed, "Resume
/// point: after `b`" and a resume to "go on from the resume point", though resume rolls back.
#[test]
fn status_shows_a_rollback_cut_short_and_that_resume_goes_on_with_it() {
    let env = Env::new();
    env.config(r#"{"workflow": {"enable_rollback": true}}"#);
    env.workflow(
        "rk",
        "name: rk
steps:
  - name: a
    run: 'true'
    rollback: echo undo-a
  - name: b
    run: 'true'
    rollback: sleep 3
  - name: c
    run: exit 1
    retry: {max_retry_attempts: 0}
    on_failure: rollback
",
    );
    kill_driver_once(&env, &["workflow", "run", "rk"], &["rollback_started"]);
    let doc = env.status(None);
    assert_eq!(doc["status"], "interrupted", "{doc}");
    assert_eq!(
        doc["rollback"]["to_compensate"],
        serde_json::json!(["b", "a"]),
        "{doc}"
    );
    let why = doc["next"][0]["why"].as_str().unwrap();
    assert!(why.contains("go on with the rollback"), "{doc}");
    let out = env.run(&["workflow", "status"]);
    insta::assert_snapshot!(out.snapshot(&env));
    env.run(&["workflow", "abort", "rk"]);
}

/// `--json` agrees with the screen about a unit whose driver is gone: it is marked
/// `interrupted`, and its status is `running` (SPEC §5's word for an attempt started and not
/// ended, as the log says until it is reaped; the screen says its command still runs), a
/// workflow's step and a scenario's phase alike. Before, only the human output said so, then
/// the document said `pending`, as if it had never started beside `attempts: 1`.
#[test]
fn status_json_marks_a_dead_drivers_running_unit_interrupted() {
    let env = Env::new();
    env.workflow(
        "slow",
        "name: slow\nsteps:\n  - {name: s, run: 'sleep 30'}\n",
    );
    kill_driver_once(&env, &["workflow", "run", "slow"], &["step_started"]);
    let doc = env.status(None);
    assert_eq!(doc["steps"][0]["interrupted"], true, "{doc}");
    assert_eq!(doc["steps"][0]["status"], "running", "{doc}");
    assert_eq!(doc["steps"][0]["attempts"], 1, "{doc}");
    let words = env.run(&["workflow", "status", "slow"]).stdout;
    assert!(words.contains("Interrupted"), "{words}");
    env.run(&["workflow", "abort", "slow"]);
    let env = Env::new();
    env.scenario(
        "slow",
        "name: slow\ndescription: d\nphases:\n  - {name: a, description: d, run: 'sleep 30'}\n",
    );
    kill_driver_once(&env, &["orchestrate", "run", "slow"], &["step_started"]);
    let doc = env.run(&["--json", "orchestrate", "status"]).json();
    assert_eq!(doc["phases"][0]["interrupted"], true, "{doc}");
    assert_eq!(doc["phases"][0]["status"], "running", "{doc}");
    env.run(&["orchestrate", "abort", "slow"]);
    // A live driver's unit is not.
    let env = Env::new();
    env.workflow(
        "slow",
        "name: slow\nsteps:\n  - {name: s, run: 'sleep 30'}\n",
    );
    let mut driver = env.spawn(&["workflow", "run", "slow"]);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !kinds(&env).iter().any(|k| k == "step_started") {
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(20));
    }
    let doc = env.status(None);
    assert_eq!(doc["steps"][0]["status"], "running", "{doc}");
    assert!(doc["steps"][0].get("interrupted").is_none(), "{doc}");
    env.run(&["workflow", "abort", "slow"]);
    driver.wait().unwrap();
}

/// An abort of a scenario whose driver was killed while two phases ran ends both of their
/// process groups at once: one slow to exit on TERM (a cleanup trap) does not hold back the
/// signal to the other. Before, the groups were ended in turn, and the second phase ran on
/// unsignalled to its side effect while the abort waited for the first.
#[test]
fn a_takeover_ends_every_orphaned_group_at_once_not_one_after_another() {
    let env = Env::new();
    let marker = env.project().join("deployed");
    env.scenario(
        "par",
        &format!(
            "name: par\ndescription: d\nphases:\n  - {{name: slowstop, description: d, parallel: true, run: \"trap 'sleep 3; exit 143' TERM; sleep 30 & wait\"}}\n  - {{name: deploy, description: d, parallel: true, run: \"sleep 2; echo done > '{}'\"}}\n",
            marker.display().to_string().replace('\'', "''")
        ),
    );
    kill_driver_when(
        &env,
        &["orchestrate", "run", "par"],
        "both phases' groups to be noted",
        || {
            env.all_inflight_notes().iter().any(|t| {
                t.lines()
                    .filter(|l| l.split(' ').nth(1).is_some_and(|p| p != "-"))
                    .count()
                    >= 2
            })
        },
    );
    let out = run_within(
        &env,
        &["orchestrate", "abort", "par"],
        Duration::from_secs(60),
    );
    assert_eq!(out.code, 1, "{}", out.text());
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        !marker.exists(),
        "the second orphaned phase ran on to its side effect"
    );
}

/// Two homes on one SQLite log (`--db` naming the other's file): home A's driver is killed
/// while a phase runs, and home B resumes the run. Before, the notes of what a dead driver
/// left running were in A's `runs/` folder alone: B ran the phase again while A's copy still
/// ran (its start and end markers overlapped). Now they are beside the run's lock, beside the
/// log, and B ends A's group before the phase starts again.
#[test]
fn a_resume_from_another_home_on_a_shared_sqlite_log_ends_the_dead_drivers_commands_first() {
    let a = Env::new();
    let b = Env::new();
    let marks = a.project().join("marks");
    let phase = format!(
        "echo start >> '{m}'; sleep 3; echo end >> '{m}'",
        m = marks.display().to_string().replace('\'', "''")
    );
    let yaml = format!(
        "name: shared\ndescription: d\nphases:\n  - {{name: long, description: d, run: \"{phase}\"}}\n"
    );
    a.scenario("shared", &yaml);
    b.scenario("shared", &yaml);
    kill_driver_once_noted(&a, &["orchestrate", "run", "shared"]);
    let db = a.db().display().to_string();
    let run = a.run(&["--json", "orchestrate", "status"]).json()["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    let out = run_within(
        &b,
        &["--db", &db, "orchestrate", "resume", &run],
        Duration::from_secs(60),
    );
    assert_eq!(out.code, 0, "{}", out.text());
    let marks = common::lines(&marks);
    assert_eq!(
        marks,
        ["start", "start", "end"],
        "the dead driver's copy of the phase ran on beside the second: {marks:?}"
    );
    assert_eq!(a.run(&["log", "verify"]).code, 0);
}

/// Seen by an SRE review: an abort asked of a driver that was frozen, then killed, was lost —
/// status said "interrupted … resume continues it" and `resume` completed the run. An abort
/// is final: status shows it pending and suggests the abort alone, and a `resume` records it
/// (the dead driver's step group ended, as an abort ends it) and answers who aborted the
/// run and why, exit 1, running nothing more.
#[test]
fn an_abort_whose_driver_died_before_acting_on_it_is_recorded_by_the_resume_not_overridden() {
    let env = Env::new();
    env.workflow(
        "slow",
        "name: slow\nsteps:\n  - {name: A, run: echo A >> trace}\n  - {name: B, run: 'sleep 30; echo B >> trace'}\n  - {name: C, run: echo C >> trace}\n",
    );
    driver_dies_before_acting_on(
        &env,
        &["workflow", "run", "slow"],
        &["workflow", "abort", "slow", "--message", "stop this deploy"],
    );
    let status = env.run(&["workflow", "status", "slow"]);
    assert!(
        status.stdout.contains("an abort by") && status.stdout.contains("is pending"),
        "{}",
        status.stdout
    );
    let next = status.stdout.split("Next:").nth(1).unwrap_or_default();
    assert!(
        next.contains("workflow abort") && !next.contains("workflow resume"),
        "{}",
        status.stdout
    );
    let resumed = run_within(
        &env,
        &["workflow", "resume", "slow"],
        Duration::from_secs(60),
    );
    assert_eq!(resumed.code, 1, "{}{}", resumed.stdout, resumed.stderr);
    assert!(
        resumed.stdout.contains("was aborted by") && resumed.stdout.contains("stop this deploy"),
        "{}",
        resumed.stdout
    );
    let seen = kinds(&env);
    assert_eq!(
        seen.last().map(String::as_str),
        Some("run_finished"),
        "{seen:?}"
    );
    assert!(!seen.iter().any(|k| k == "run_resumed"), "{seen:?}");
    let status = env.run(&["--json", "workflow", "status", "slow"]).json();
    assert_eq!(status["status"], "aborted", "{status}");
    // The dead driver's `sleep 30` was ended, as an abort ends it; C never ran.
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        !env.all_inflight_notes().iter().any(|t| t.contains("sleep")),
        "{:?}",
        env.all_inflight_notes()
    );
    let trace = std::fs::read_to_string(env.project().join("trace")).unwrap_or_default();
    assert_eq!(trace, "A\n");
}

/// The same for a stop: a worker never drives on a run whose driver died before acting on an
/// operator's stop (before, it drove the run to its end): it records the stop the operator
/// asked for, with the operator as actor and their message, and leaves the run stopped
/// (before that, it left the stop pending for good until someone stopped or resumed again).
/// An operator's `resume` after it goes on: the stop, then the resume.
#[test]
fn a_worker_never_overrides_a_stop_whose_driver_died_before_acting_on_it() {
    let env = Env::new();
    env.scenario(
        "slow",
        "name: slow\ndescription: d\nphases:\n  - {name: a, description: d, run: 'sleep 2'}\n",
    );
    driver_dies_before_acting_on(
        &env,
        &["orchestrate", "run", "slow"],
        &[
            "orchestrate",
            "stop",
            "slow",
            "--message",
            "hold everything",
        ],
    );
    let status = env.run(&["--json", "orchestrate", "status", "slow"]).json();
    assert_eq!(status["stop_requested"]["abort"], false, "{status}");
    assert_eq!(status["stop_requested"]["driver_gone"], true, "{status}");
    let worked = run_within(
        &env,
        &["worker", "--name", "w1", "--until-idle", "--no-schedule"],
        Duration::from_secs(60),
    );
    assert_eq!(worked.code, 0, "{}{}", worked.stdout, worked.stderr);
    let status = env.run(&["--json", "orchestrate", "status", "slow"]).json();
    assert_eq!(status["status"], "stopped", "{status}");
    assert!(status.get("stop_requested").is_none(), "{status}");
    let reason = status["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("stopped by tester@vm: hold everything"),
        "{status}"
    );
    let seen = kinds(&env);
    assert!(!seen.iter().any(|k| k == "run_resumed"), "{seen:?}");
    assert!(seen.iter().any(|k| k == "run_stopped"), "{seen:?}");
    let resumed = run_within(
        &env,
        &["orchestrate", "resume", "slow"],
        Duration::from_secs(60),
    );
    assert_eq!(resumed.code, 0, "{}{}", resumed.stdout, resumed.stderr);
    let seen = kinds(&env);
    let stopped = seen.iter().position(|k| k == "run_stopped");
    let resumed_at = seen.iter().position(|k| k == "run_resumed");
    assert!(
        stopped.is_some() && resumed_at.is_some() && stopped < resumed_at,
        "{seen:?}"
    );
    assert_eq!(
        seen.iter().filter(|k| *k == "stop_requested").count(),
        1,
        "{seen:?}"
    );
}

/// Seen by an SRE review: an abort asked of a `resume` while it took a killed driver's run
/// over (ending the orphan group, which ignores TERM) was recorded as a stop nobody asked for
/// (`stop_requested stop (SIGTERM)`, `run_stopped`), the resume said "Stopped … resume
/// continues it", exit 3, and the abort came after. The resume staged before the request
/// gives way to it: the resuming driver records the abort, says so, exit 1.
#[test]
fn an_abort_during_a_resumes_takeover_ends_that_resume_aborted_without_a_phantom_stop() {
    let env = Env::new();
    env.workflow(
        "stub",
        "name: stub\nsteps:\n  - {name: A, run: echo A >> trace}\n  - {name: B, run: \"trap '' TERM; sleep 20; echo B >> trace\"}\n  - {name: C, run: echo C >> trace}\n",
    );
    kill_driver_once_noted(&env, &["workflow", "run", "stub"]);
    let resuming = env
        .command(&["workflow", "resume", "stub"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The resume is ending the orphan group (TERM ignored: it waits out the grace).
    std::thread::sleep(Duration::from_millis(1500));
    let aborted = run_within(
        &env,
        &[
            "workflow",
            "abort",
            "stub",
            "--message",
            "abort during takeover",
        ],
        Duration::from_secs(60),
    );
    assert_eq!(aborted.code, 1, "{}{}", aborted.stdout, aborted.stderr);
    let out = resuming.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("aborted"), "{text}");
    assert!(!text.contains("Stopped"), "{text}");
    let seen = kinds(&env);
    assert!(!seen.iter().any(|k| k == "run_stopped"), "{seen:?}");
    assert_eq!(
        seen.iter().filter(|k| *k == "stop_requested").count(),
        1,
        "{seen:?}"
    );
    assert_eq!(
        seen.last().map(String::as_str),
        Some("run_finished"),
        "{seen:?}"
    );
}

/// Seen by a review (n N1): a run its 2 s limit stopped, resumed with `--timeout 15s`, whose
/// driver was then killed, was suggested a plain `resume`, which ran under the configuration's
/// 2 s: stopped again, on-call paged again. A session nobody ended hands its limit on: a
/// resume without `--timeout` keeps it (recorded in its `run_resumed`), status says which
/// limit applies (`kept_time_limit`, and a line on the screen), and the first suggestion
/// gives it as `--timeout 15s`. For a workflow and a scenario.
#[test]
fn a_resume_after_a_killed_resume_with_a_longer_limit_keeps_that_limit() {
    let env = Env::new();
    env.config(r#"{"workflow": {"timeout_seconds": 2}}"#);
    let notify =
        "notify:\n  on_failure:\n    - run: echo \"FAIL $CORTEX_RUN_STATUS\" >> paged.log\n";
    env.workflow(
        "t2",
        &format!("name: t2\nsteps:\n  - {{name: A, run: 'echo a'}}\n  - {{name: B, run: 'sleep 4'}}\n{notify}"),
    );
    env.scenario(
        "t2",
        &format!("name: t2\ndescription: d\nphases:\n  - {{name: A, description: a, run: 'echo a'}}\n  - {{name: B, description: b, run: 'sleep 4'}}\n{notify}"),
    );
    for kind in ["workflow", "orchestrate"] {
        let _ = std::fs::remove_file(env.file("paged.log"));
        let out = env.run(&["--json", kind, "run", "t2"]);
        assert_eq!(out.code, 3, "{kind}: {}", out.text());
        let run = out.json()["run_id"].as_str().unwrap().to_string();
        // B runs again under the longer limit; its driver is killed while it does.
        kill_driver_when(
            &env,
            &[kind, "resume", &run, "--timeout", "15s"],
            "B to start again",
            || common::count_events(&env, &run, "step_started") >= 3,
        );
        let doc = env.run(&["--json", kind, "status", &run]).json();
        assert_eq!(doc["status"], "interrupted", "{kind}: {doc}");
        assert_eq!(
            doc["kept_time_limit"],
            serde_json::json!({"seconds": 15, "configured": 2}),
            "{kind}: {doc}"
        );
        let next = common::next_argvs(&doc["next"]);
        assert_eq!(
            next[0][1..],
            [kind, "resume", &run, "--timeout", "15s"],
            "{kind}: {doc}"
        );
        assert_eq!(next[1][1..], [kind, "resume", &run], "{kind}: {doc}");
        let screen = env.run(&[kind, "status", &run]).stdout;
        assert!(
            screen.contains("Time limit: a resume goes on with a time limit of 15 s, as its last driving session had"),
            "{kind}: {screen}"
        );
        // A plain resume keeps it: the run completes, nobody paged again.
        let out = env.run(&[kind, "resume", &run]);
        assert_eq!(out.code, 0, "{kind}: {}", out.text());
        let resumed: Vec<serde_json::Value> = env
            .events(&run)
            .into_iter()
            .filter(|e| e["type"] == "run_resumed")
            .collect();
        assert_eq!(resumed.last().unwrap()["body"]["timeout_seconds"], 15);
        assert_eq!(
            std::fs::read_to_string(env.file("paged.log")).unwrap(),
            "FAIL stopped\n",
            "{kind}"
        );
        let done = env.run(&["--json", kind, "status", &run]).json();
        assert!(done.get("kept_time_limit").is_none(), "{done}");
    }
}
