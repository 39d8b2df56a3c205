//! A workflow driver watches the log while a step's command runs: a stop or abort an operator
//! recorded there ends the step at once, with no signal to tell it (as when the operator is on
//! another host, or could not find the driver's process). In-process: the request is appended
//! straight to the log, so nothing but the log can carry it to the driver.

use std::sync::mpsc::channel;
mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use cortex::decide::Command;
use cortex::definition::Durability;
use cortex::event::Operator;
use cortex::execute::{Journal, Quiet, StopFlag, SystemClock, UlidIds};
use cortex::ops::{Ctx, Live, RunHow};
use cortex::store::{EventStore, SqliteStore};

/// Append an operator's stop (or abort) of `run_id` straight to the log, as a process on
/// another host would: no signal reaches the driver.
fn request_stop_in_the_log(store: &mut dyn EventStore, run_id: &str, abort: bool) {
    let clock = SystemClock;
    let mut ids = UlidIds::default();
    let mut journal = Journal::open(store, &clock, &mut ids, run_id).unwrap();
    journal
        .submit(Command::RequestStop {
            by: Operator {
                actor: "elsewhere".into(),
                message: None,
            },
            abort,
        })
        .unwrap();
}

fn pid_alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.contains(") Z "))
}

fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let until = Instant::now() + Duration::from_secs(30);
    while !cond() {
        assert!(Instant::now() < until, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_stop_or_abort_recorded_in_the_log_ends_the_running_step_without_a_signal() {
    for abort in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home");
        std::fs::create_dir_all(home.join("workflows")).unwrap();
        let started = dir.path().join("started");
        std::fs::write(
            home.join("workflows").join("long.yaml"),
            format!(
                "name: long\nsteps:\n  - name: wait\n    run: echo $$ > '{}'; exec sleep 600\n",
                started.display()
            ),
        )
        .unwrap();
        let ctx = Ctx::new(Some(home.clone())).unwrap();
        let (tx, rx) = channel();
        let driver = std::thread::spawn(move || {
            let mut observer = Quiet;
            let mut live = Live {
                observer: &mut observer,
                stop: StopFlag::default(),
            };
            let by = cortex::ops::operator(Some("driver"), None);
            let out = cortex::ops::workflow::run(&ctx, "long", &[], RunHow::Drive, by, &mut live);
            let _ = tx.send(out.map(|o| o.json).map_err(|e| e.message));
        });
        wait_until("the step to start", || {
            std::fs::read_to_string(&started).is_ok_and(|s| s.ends_with('\n'))
        });
        let step: i32 = std::fs::read_to_string(&started)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let mut store = SqliteStore::open(&home.join("cortex.db"), Durability::Normal).unwrap();
        let run_id = store.runs().unwrap()[0].run_id.clone();
        request_stop_in_the_log(&mut store, &run_id, abort);
        // Far beyond a prompt stop, far below the step's own end.
        let doc = rx
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("abort {abort}: the driver still runs its step"))
            .unwrap();
        driver.join().unwrap();
        let expected = if abort { "aborted" } else { "stopped" };
        assert_eq!(doc["status"], expected, "{doc}");
        wait_until("the step's process to end", || !pid_alive(step));
    }
}

/// Where each kind of check sits in a workflow: the check writes its shell's pid to `marker`,
/// then sleeps far longer than any test waits.
fn check_workflows(marker: &std::path::Path) -> Vec<(&'static str, String)> {
    let check = format!("echo $$ > '{}'; exec sleep 600", marker.display());
    vec![
        (
            "validate",
            format!(
                "name: w\nsteps:\n  - name: a\n    run: echo hi\n    validate:\n      - run: \"{check}\"\n"
            ),
        ),
        (
            "if",
            format!(
                "name: w\nsteps:\n  - name: a\n    if: {{run: \"{check}\"}}\n    run: echo hi\n"
            ),
        ),
        (
            "health",
            format!(
                "name: w\nhealth:\n  - run: \"{check}\"\nsteps:\n  - name: a\n    run: echo hi\n"
            ),
        ),
        (
            "post",
            format!(
                "name: w\nsteps:\n  - name: a\n    run: echo hi\npost:\n  - run: \"{check}\"\n"
            ),
        ),
    ]
}

/// Start `cortex workflow run w` (the real binary) and wait for its check to start: the
/// driver and the check's pid.
fn drive_until_check_runs(
    env: &common::Env,
    marker: &std::path::Path,
) -> (std::process::Child, i32) {
    let driver = env
        .command(&["--json", "workflow", "run", "w"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    wait_until("the check to start", || {
        std::fs::read_to_string(marker).is_ok_and(|s| s.ends_with('\n'))
    });
    let pid = std::fs::read_to_string(marker)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    (driver, pid)
}

/// The driver's exit, waited for far beyond a prompt stop and far below the check's own end.
fn driver_ends(mut driver: std::process::Child, what: &str) {
    let until = Instant::now() + Duration::from_secs(60);
    while driver.try_wait().unwrap().is_none() {
        if Instant::now() >= until {
            let _ = driver.kill();
            panic!("{what}: the driver still waits for its check");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn kinds(events: &[serde_json::Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["type"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// A `validate:`, `if:`, health or post check was ended only by a signal: a stop or abort an
/// operator recorded in the log from elsewhere (another host, a driver whose pid is unknown)
/// left the driver waiting until the check ended on its own (ten minutes at most). Here the
/// request reaches the real binary only through the log (SQLite and PostgreSQL).
#[test]
fn a_stop_recorded_only_in_the_log_ended_no_validate_if_health_or_post_check() {
    for kind_of_log in [common::Store::Sqlite, common::Store::Postgres] {
        for abort in [true, false] {
            for (kind, yaml) in check_workflows(Path::new("/nonexistent")) {
                let Some(env) = common::Env::on(kind_of_log, "driver_watch_checks") else {
                    continue;
                };
                let marker = env.project().join("check.pid");
                let yaml = yaml.replace("/nonexistent", &marker.display().to_string());
                env.workflow("w", &yaml);
                let (driver, check) = drive_until_check_runs(&env, &marker);
                let mut store = env.open_store();
                let run_id = store.runs().unwrap()[0].run_id.clone();
                request_stop_in_the_log(&mut *store, &run_id, abort);
                let what = format!("{kind_of_log:?} {kind} abort {abort}");
                driver_ends(driver, &what);
                wait_until("the check's process to end", || !pid_alive(check));
                let events = env.events(&run_id);
                let kinds = kinds(&events);
                let expected = if abort { "aborted" } else { "stopped" };
                assert_eq!(
                    env.status(Some(&run_id))["status"],
                    expected,
                    "{what}: {kinds:?}"
                );
                // A check a stop ended is no verdict.
                assert!(
                    !kinds
                        .iter()
                        .any(|k| k == "validation_failed" || k == "retry_scheduled"),
                    "{what}: {kinds:?}"
                );
            }
        }
    }
}

/// `workflow abort` from another terminal while a `validate:` check ran: the driver's check
/// was ended by the signal the abort sends, and recorded as a failed validation (`killed by
/// signal 15`) with a retry scheduled, before the abort.
#[test]
fn an_abort_while_a_validate_check_ran_recorded_a_validation_failure_and_a_retry() {
    let env = common::Env::new();
    let marker = env.project().join("check.pid");
    let (_, yaml) = check_workflows(&marker).remove(0);
    env.workflow("w", &yaml);
    let (driver, check) = drive_until_check_runs(&env, &marker);
    let out = env.run(&["workflow", "abort", "w", "--message", "enough"]);
    assert_eq!(out.code, 1, "{}", out.text());
    driver_ends(driver, "abort");
    wait_until("the check's process to end", || !pid_alive(check));
    let run_id = env.status(None)["run_id"].as_str().unwrap().to_string();
    let events = env.events(&run_id);
    let kinds = kinds(&events);
    assert_eq!(env.status(Some(&run_id))["status"], "aborted", "{kinds:?}");
    assert!(
        !kinds
            .iter()
            .any(|k| k == "validation_failed" || k == "retry_scheduled"),
        "{kinds:?}"
    );
    assert!(kinds.iter().any(|k| k == "step_interrupted"), "{kinds:?}");
}

/// `orchestrate stop` while a phase's `success_criteria: - check:` ran: the check, ended by the
/// stop, was recorded as a failed check of the phase before the stop.
#[test]
fn a_stop_while_a_phase_check_ran_recorded_a_failed_check() {
    let env = common::Env::new();
    let marker = env.project().join("check.pid");
    std::fs::create_dir_all(env.home().join("scenarios")).unwrap();
    std::fs::write(
        env.home().join("scenarios/s.yaml"),
        format!(
            "name: s\ndescription: d\nphases:\n  - name: build\n    description: b\n    run: echo hi\n    success_criteria:\n      - check: \"echo $$ > '{}'; exec sleep 600\"\n",
            marker.display()
        ),
    )
    .unwrap();
    let driver = env
        .command(&["--json", "orchestrate", "run", "s"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    wait_until("the check to start", || {
        std::fs::read_to_string(&marker).is_ok_and(|s| s.ends_with('\n'))
    });
    let check: i32 = std::fs::read_to_string(&marker)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let out = env.run(&["orchestrate", "stop"]);
    assert_eq!(out.code, 3, "{}", out.text());
    driver_ends(driver, "orchestrate stop");
    wait_until("the check's process to end", || !pid_alive(check));
    let run = env.run(&["--json", "orchestrate", "status"]).json();
    let run_id = run["run_id"].as_str().unwrap().to_string();
    let kinds = kinds(&env.events(&run_id));
    assert_eq!(run["status"], "stopped", "{kinds:?}");
    assert!(
        !kinds
            .iter()
            .any(|k| k == "validation_failed" || k == "retry_scheduled"),
        "{kinds:?}"
    );
    assert!(kinds.iter().any(|k| k == "step_interrupted"), "{kinds:?}");
}

/// A stop or abort recorded only in the log while the driver waited out a retry's backoff
/// (here an hour): only a signal ended the wait, so the driver slept on until the backoff
/// ended (SQLite and PostgreSQL, the real binary).
#[test]
fn a_stop_recorded_only_in_the_log_did_not_end_a_retrys_backoff() {
    for kind_of_log in [common::Store::Sqlite, common::Store::Postgres] {
        for abort in [true, false] {
            let Some(env) = common::Env::on(kind_of_log, "driver_watch_backoff") else {
                continue;
            };
            env.workflow(
                "w",
                "name: w\nsteps:\n  - name: a\n    run: 'false'\n    retry: {max_retry_attempts: 3, backoff: 1h}\n",
            );
            let driver = env
                .command(&["--json", "workflow", "run", "w"])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            let mut store = env.open_store();
            let mut run_id = None;
            wait_until("the run to start", || {
                run_id = store.runs().unwrap().first().map(|r| r.run_id.clone());
                run_id.is_some()
            });
            let run_id = run_id.unwrap();
            env.wait_for_events(
                &run_id,
                "the retry's backoff",
                Duration::from_secs(30),
                |ev| kinds(ev).iter().any(|k| k == "retry_scheduled"),
            );
            request_stop_in_the_log(&mut *store, &run_id, abort);
            let what = format!("{kind_of_log:?} abort {abort}");
            driver_ends(driver, &what);
            let expected = if abort { "aborted" } else { "stopped" };
            let kinds = kinds(&env.events(&run_id));
            assert_eq!(
                env.status(Some(&run_id))["status"],
                expected,
                "{what}: {kinds:?}"
            );
            assert_eq!(
                kinds.iter().filter(|k| *k == "step_started").count(),
                1,
                "{what}: no second attempt: {kinds:?}"
            );
        }
    }
}

/// A stop or abort asked of a parent run, recorded only in the log, while its `uses:` step's
/// child run ran a command: the driver drives the child in-process and watched only the
/// child's log, so the child's command ran to its end (and the parent, asked to abort, then
/// completed). The child now watches its parents' logs too.
#[test]
fn a_stop_asked_of_a_parent_run_only_in_the_log_did_not_end_its_child_runs_command() {
    for abort in [true, false] {
        let env = common::Env::new();
        let marker = env.project().join("child.pid");
        env.workflow(
            "child",
            &format!(
                "name: child\nsteps:\n  - name: c\n    run: \"echo $$ > '{}'; exec sleep 600\"\n",
                marker.display()
            ),
        );
        env.workflow(
            "parent",
            "name: parent\nsteps:\n  - name: p\n    uses: child\n",
        );
        let driver = env
            .command(&["--json", "workflow", "run", "parent"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        wait_until("the child's command to start", || {
            std::fs::read_to_string(&marker).is_ok_and(|s| s.ends_with('\n'))
        });
        let command: i32 = std::fs::read_to_string(&marker)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let parent = env.status(Some("parent"))["run_id"]
            .as_str()
            .unwrap()
            .to_string();
        let mut store = env.open_store();
        request_stop_in_the_log(&mut *store, &parent, abort);
        let what = format!("abort {abort}");
        driver_ends(driver, &what);
        wait_until("the child's command to end", || !pid_alive(command));
        let expected = if abort { "aborted" } else { "stopped" };
        assert_eq!(env.status(Some(&parent))["status"], expected, "{what}");
    }
}

/// An abort asked for from another home (another host: no signal reaches the driver, and
/// nothing runs long enough for the 100 ms watch to look) ends a chain of quick steps: the
/// driver's append catches the request up, the decider starts nothing more (`Stopping`), and
/// the driver records the abort. Before, the driver went on starting steps past the request,
/// the run ended `completed`, and the abort was told "already finished; nothing to abort".
#[test]
fn an_abort_from_another_home_ends_a_chain_of_quick_steps() {
    let env = common::Env::new();
    let mut yaml = String::from("name: quick\nsteps:\n");
    for i in 0..2000 {
        yaml.push_str(&format!("  - {{name: s{i}, run: 'true'}}\n"));
    }
    env.workflow("quick", &yaml);
    let mut driver = env.spawn(&["workflow", "run", "quick"]);
    let store = || SqliteStore::open_read(&env.db());
    let mut run_id = String::new();
    wait_until("a few steps to finish", || {
        let Ok(runs) = store().and_then(|s| s.runs()) else {
            return false;
        };
        let Some(run) = runs.first() else {
            return false;
        };
        run_id = run.run_id.clone();
        run.events > 20
    });
    let elsewhere = tempfile::tempdir().unwrap();
    let abort = env
        .command(&["workflow", "abort", &run_id])
        .env("CORTEX_HOME", elsewhere.path())
        .env("CORTEX_DB", env.db())
        .output()
        .unwrap();
    let status = driver.wait().unwrap();
    let events = store().unwrap().read_run(&run_id).unwrap();
    let finished: Vec<_> = events
        .iter()
        .filter_map(|r| match &r.event {
            cortex::event::Event::RunFinished { outcome, .. } => Some(*outcome),
            _ => None,
        })
        .collect();
    assert_eq!(
        format!("{finished:?}"),
        "[Aborted]",
        "abort said: {}{}",
        String::from_utf8_lossy(&abort.stdout),
        String::from_utf8_lossy(&abort.stderr)
    );
    assert_eq!(
        status.code(),
        Some(1),
        "the driver ends with the abort's code"
    );
    assert_eq!(abort.status.code(), Some(1));
}
