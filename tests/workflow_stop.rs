//! `cortex workflow stop [RUN]`: a workflow run is stopped gracefully from a second terminal
//! (SPEC §4: stop is an operator action, `resume` continues a stopped run), whoever drives
//! it: its driver ends the running step's process group and records the stop with the
//! operator's actor and message; a run whose driver died has it recorded at once; a finished
//! or stopped run records nothing.
mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::Env;

fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let until = Instant::now() + Duration::from_secs(30);
    while !cond() {
        assert!(Instant::now() < until, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn pid_alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.contains(") Z "))
}

/// A workflow whose `first` step counts its runs in `first-count`, whose `wait` step writes
/// its pid to `pid` and sleeps (until the file `go` exists: then it passes at once), and a
/// quick `after` step.
fn long_workflow(env: &Env, name: &str) -> (PathBuf, PathBuf, PathBuf) {
    let count = env.file("first-count");
    let pid = env.file("pid");
    let go = env.file("go");
    env.workflow(
        name,
        &format!(
            "name: {name}\nsteps:\n  - name: first\n    run: echo x >> '{}'\n  - name: wait\n    run: test -f '{}' || {{ echo $$ > '{}'; exec sleep 600; }}\n  - name: after\n    run: echo after\n",
            count.display(),
            go.display(),
            pid.display()
        ),
    );
    (count, pid, go)
}

/// `workflow run NAME` in the background, as in a first terminal, once its `wait` step runs:
/// the driver and the step's pid.
fn drive_in_background(env: &Env, args: &[&str], pid_file: &Path) -> (Child, i32) {
    let driver = env
        .command(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_until("the step to start", || {
        std::fs::read_to_string(pid_file).is_ok_and(|s| s.trim().parse::<i32>().is_ok())
    });
    let pid = std::fs::read_to_string(pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    (driver, pid)
}

fn latest_run(env: &Env) -> String {
    env.status(None)["run_id"].as_str().unwrap().to_string()
}

#[test]
fn a_second_terminal_stops_a_running_workflow_step_and_resume_goes_on_without_running_completed_steps_again()
 {
    let env = Env::new();
    let (count, pid_file, go) = long_workflow(&env, "long");
    let (driver, pid) = drive_in_background(&env, &["workflow", "run", "long"], &pid_file);
    let run = latest_run(&env);
    assert_eq!(env.status(Some(&run))["status"], "running");
    // Its status suggests the stop.
    let status = env.run(&["workflow", "status", &run]);
    assert!(
        status
            .stdout
            .contains(&format!("cortex workflow stop {run}")),
        "{}",
        status.stdout
    );

    let stop = env.run(&[
        "workflow",
        "stop",
        "--actor",
        "alice",
        "--message",
        "wrong branch",
    ]);
    assert_eq!(stop.code, 3, "{}", stop.text());
    assert!(
        stop.stdout
            .contains("Reason: stopped by alice: wrong branch; resume continues it"),
        "{}",
        stop.stdout
    );
    // The step's process group ended, and the driving terminal says who stopped the run and
    // how to resume it, exit 3.
    wait_until("the step's process to end", || !pid_alive(pid));
    let out = driver.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(3), "{text}");
    assert!(
        text.contains(&format!(
            "Run stopped by alice: wrong branch; `cortex workflow resume {run}` continues it"
        )),
        "{text}"
    );
    let status = env.status(Some(&run));
    assert_eq!(status["status"], "stopped", "{status}");

    // Resume goes on from the stopped step; `first` does not run again.
    std::fs::write(&go, "").unwrap();
    let resumed = env.run(&["workflow", "resume", &run]);
    assert_eq!(resumed.code, 0, "{}", resumed.text());
    assert_eq!(env.status(Some(&run))["status"], "completed");
    assert_eq!(std::fs::read_to_string(&count).unwrap(), "x\n");
}

#[test]
fn stopping_a_finished_or_stopped_workflow_run_records_nothing() {
    let env = Env::new();
    env.workflow(
        "quick",
        "name: quick\nsteps:\n  - name: a\n    run: 'true'\n",
    );
    assert_eq!(env.run(&["workflow", "run", "quick"]).code, 0);
    let run = latest_run(&env);
    let before = env.events(&run).len();
    let stop = env.run(&["workflow", "stop", "quick"]);
    assert_eq!(stop.code, 0, "{}", stop.text());
    assert!(
        stop.stdout
            .contains("already finished (completed); nothing to stop"),
        "{}",
        stop.stdout
    );
    assert_eq!(env.events(&run).len(), before);

    // Stopped already (its driver died; the first stop recorded it): a second stop says so.
    let (_, pid_file, _) = long_workflow(&env, "long");
    let (mut driver, pid) = drive_in_background(&env, &["workflow", "run", "long"], &pid_file);
    driver.kill().unwrap();
    driver.wait().unwrap();
    assert_eq!(env.run(&["workflow", "stop", "long"]).code, 3);
    wait_until("the step's process to end", || !pid_alive(pid));
    let run = latest_run(&env);
    let before = env.events(&run).len();
    let again = env.run(&["--json", "workflow", "stop", "long"]);
    assert_eq!(again.code, 3, "{}", again.text());
    let doc = again.json();
    assert_eq!(doc["status"], "stopped");
    assert_eq!(
        doc["note"],
        format!("run {run} is already stopped; nothing was recorded")
    );
    assert_eq!(env.events(&run).len(), before);
}

#[test]
fn a_workflow_run_whose_driver_died_is_stopped_at_once_and_its_step_ended() {
    let env = Env::new();
    let (_, pid_file, _) = long_workflow(&env, "long");
    let (mut driver, pid) = drive_in_background(&env, &["workflow", "run", "long"], &pid_file);
    // SIGKILL: the driver ends nothing, its step's `sleep` goes on.
    driver.kill().unwrap();
    driver.wait().unwrap();
    assert!(pid_alive(pid));
    let run = latest_run(&env);
    let started = Instant::now();
    let stop = env.run(&["--json", "workflow", "stop", &run, "--actor", "dave"]);
    assert_eq!(stop.code, 3, "{}", stop.text());
    assert!(started.elapsed() < Duration::from_secs(15));
    let doc = stop.json();
    assert_eq!(doc["status"], "stopped", "{doc}");
    assert!(
        doc["reason"]
            .as_str()
            .unwrap()
            .starts_with("stopped by dave"),
        "{doc}"
    );
    assert_eq!(doc["next"][0]["argv"][2], "resume", "{doc}");
    wait_until("the orphaned step to end", || !pid_alive(pid));
    let kinds: Vec<String> = env
        .events(&run)
        .iter()
        .map(|e| e["type"].as_str().unwrap_or_default().to_string())
        .collect();
    assert!(kinds.ends_with(&["run_stopped".to_string()]), "{kinds:?}");
}

#[test]
fn stopping_a_parent_run_stops_the_child_run_it_drives_and_both_resume() {
    let env = Env::new();
    let (_, pid_file, go) = long_workflow(&env, "long");
    env.workflow(
        "top",
        "name: top\nsteps:\n  - name: pre\n    run: 'true'\n  - name: sub\n    uses: long\n  - name: post\n    run: 'true'\n",
    );
    let (driver, pid) = drive_in_background(&env, &["workflow", "run", "top"], &pid_file);
    let stop = env.run(&["--json", "workflow", "stop", "top", "--actor", "bob"]);
    assert_eq!(stop.code, 3, "{}", stop.text());
    let top = stop.json();
    assert_eq!(top["status"], "stopped", "{top}");
    wait_until("the child's step to end", || !pid_alive(pid));
    let out = driver.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    let top_id = top["run_id"].as_str().unwrap();
    let child = env.status(Some("long"));
    assert_eq!(child["status"], "stopped", "{child}");
    assert_eq!(
        child["reason"],
        format!("stopped by bob: its parent run {top_id} was stopped; resume continues it")
    );
    std::fs::write(&go, "").unwrap();
    let resumed = env.run(&["workflow", "resume", top_id]);
    assert_eq!(resumed.code, 0, "{}", resumed.text());
    assert_eq!(env.status(Some(top_id))["status"], "completed");
    assert_eq!(env.status(Some("long"))["status"], "completed");
}

#[test]
fn orchestrate_stop_of_a_workflow_run_points_to_workflow_stop() {
    let env = Env::new();
    env.workflow(
        "quick",
        "name: quick\nsteps:\n  - name: a\n    run: 'true'\n",
    );
    assert_eq!(env.run(&["workflow", "run", "quick"]).code, 0);
    let out = env.run(&["orchestrate", "stop", "quick"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr
            .contains("hint: `cortex workflow stop quick` stops it"),
        "{}",
        out.stderr
    );
}

#[test]
fn the_answer_of_a_workflow_stop_from_a_second_terminal() {
    let env = Env::new();
    let (_, pid_file, _) = long_workflow(&env, "long");
    let (driver, _) = drive_in_background(&env, &["workflow", "run", "long"], &pid_file);
    let stop = env.run(&[
        "workflow",
        "stop",
        "long",
        "--actor",
        "alice",
        "--message",
        "wrong branch",
    ]);
    let out = driver.wait_with_output().unwrap();
    insta::assert_snapshot!(stop.snapshot(&env));
    let driving = common::Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::new(),
    };
    insta::assert_snapshot!("the_driving_terminal", driving.snapshot(&env));
}

/// A workflow stopped while its step waits for a report stops that step, as `orchestrate stop`
/// stops a waiting phase: a report on it is refused (exit 2, nothing recorded) and names the
/// `resume` that has it wait again; after the resume the report is taken. Before, the step
/// went on waiting through the stop: the report was recorded and the stopped run finished
/// `completed`, never resumed.
#[test]
fn a_report_on_a_stopped_workflows_step_is_refused_until_resume_has_it_wait_again() {
    let env = Env::new();
    env.workflow("dup", "name: dup\nsteps:\n  - {name: S1, prompt: do it}\n");
    assert_eq!(env.run(&["workflow", "run", "dup"]).code, 3);
    let stop = env.run(&["workflow", "stop", "dup", "--message", "freeze"]);
    assert_eq!(stop.code, 3, "{}{}", stop.stdout, stop.stderr);
    assert!(
        stop.stdout.contains("workflow resume"),
        "the stop's Next names resume: {}",
        stop.stdout
    );
    let status = env.status(Some("dup"));
    assert_eq!(status["status"], "stopped", "{status}");
    assert_eq!(status["steps"][0]["status"], "stopped", "{status}");
    let events = env.run(&["--json", "log", "show", "dup"]).json();
    let before = events.as_array().unwrap().len();
    for verb in ["complete", "fail"] {
        let report = env.run(&["workflow", "step", verb, "S1", "--run", "dup"]);
        assert_eq!(report.code, 2, "{}{}", report.stdout, report.stderr);
        assert!(
            report
                .stderr
                .contains("step `S1` is stopped, not waiting for a report; the run is stopped"),
            "{}",
            report.stderr
        );
        assert!(
            report.stderr.contains("workflow resume")
                && report
                    .stderr
                    .contains("the step waits for its report again"),
            "{}",
            report.stderr
        );
    }
    let events = env.run(&["--json", "log", "show", "dup"]).json();
    assert_eq!(events.as_array().unwrap().len(), before, "nothing recorded");
    assert_eq!(env.status(Some("dup"))["status"], "stopped");
    // Resume: the step waits again, and its report finishes the run.
    assert_eq!(env.run(&["workflow", "resume", "dup"]).code, 3);
    assert_eq!(env.status(Some("dup"))["steps"][0]["status"], "waiting");
    let done = env.run(&["workflow", "step", "complete", "S1", "--run", "dup"]);
    assert_eq!(done.code, 0, "{}{}", done.stdout, done.stderr);
    assert_eq!(env.status(Some("dup"))["status"], "completed");
}

/// Seen by a review: `workflow stop` of a run paused on a failure recorded a stop, which
/// hid the failure (status `stopped`, yet the step shown `failed`) and its recoveries (`resume
/// --retry` was then refused), while `orchestrate` still took `--retry` after the same stop.
/// Such a run is at rest already: a stop of either kind is refused (exit 2, the recoveries in
/// the hint), nothing is recorded, and `resume --retry` still goes on from the failure.
#[test]
fn a_stop_of_a_run_paused_on_a_failure_is_refused_and_its_retry_stays() {
    let env = Env::new();
    env.workflow(
        "f",
        "name: f\ndescription: d\nsteps:\n  - name: a\n    run: echo a\n  - name: b\n    run: test -f ok\n    retry: {max_retry_attempts: 0}\n",
    );
    env.scenario(
        "sf",
        "name: sf\ndescription: d\nphases:\n  - name: a\n    description: a\n    run: test -f ok\n    retry: {max_retry_attempts: 0}\n",
    );
    for (group, name) in [("workflow", "f"), ("orchestrate", "sf")] {
        env.run(&[group, "run", name]).assert_exit(1);
        let before = common::kinds(&env).len();
        let out = env.run(&[group, "stop", name]);
        assert_eq!(out.code, 2, "{}", out.text());
        assert!(
            out.stderr.contains("failed and is paused"),
            "{}",
            out.text()
        );
        assert!(out.stderr.contains("--retry"), "{}", out.text());
        assert!(
            out.stderr.contains(&format!("cortex {group} abort")),
            "{}",
            out.text()
        );
        assert_eq!(
            common::kinds(&env).len(),
            before,
            "a refused stop records nothing"
        );
        let doc = env.run(&["--json", group, "stop", name]);
        assert_eq!(doc.code, 2);
        assert_eq!(doc.json()["exit_code"], 2);
        let status = env.run(&["--json", group, "status", name]).json();
        assert_eq!(status["status"], "failed", "{status}");
        env.run(&[group, "resume", name, "--retry", "--dry-run"])
            .assert_exit(0);
    }
}
