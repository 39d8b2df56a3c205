//! Concurrency through the real binary: many processes appending to one log at once, two
//! processes racing for one run, operators reporting while a driver runs.

mod common;

use std::process::Stdio;

use common::Env;

/// Start `n` copies of a command at once and wait for them all.
fn race(env: &Env, n: usize, args: &[&str]) -> Vec<std::process::Output> {
    all_at_once(env, &vec![args; n])
}

/// Start each command of `commands` at once and wait for them all (standard error kept).
fn all_at_once<'a>(env: &Env, commands: &[impl AsRef<[&'a str]>]) -> Vec<std::process::Output> {
    let children: Vec<_> = commands
        .iter()
        .map(|args| {
            env.command(args.as_ref())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect()
}

/// Many runs appended at once from several processes: every run completes, no SQLITE_BUSY
/// reaches anyone, and every chain verifies.
fn many_processes_append_at_once_without_busy_errors(env: Env) {
    env.workflow(
        "tiny",
        "name: tiny\nsteps:\n  - {name: a, run: 'echo a'}\n  - {name: b, run: 'echo b'}\n  - {name: c, run: 'echo c'}\n",
    );
    // Create the log first so that the racers do not all run the migration at once (they may:
    // the migration is idempotent under its write lock, but this test is about appends).
    assert_eq!(env.run(&["workflow", "run", "tiny"]).code, 0);
    for out in race(&env, 12, &["workflow", "run", "tiny"]) {
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{stderr}");
        assert!(
            !stderr.to_lowercase().contains("busy") && !stderr.contains("locked"),
            "{stderr}"
        );
    }
    let history = env.run(&["--json", "workflow", "history"]).json()["runs"].clone();
    assert_eq!(history.as_array().unwrap().len(), 13);
    assert!(
        history
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["status"] == "completed")
    );
    let verify = env.run(&["--json", "log", "verify", "--all"]).json();
    assert_eq!(verify["ok"], true);
    assert_eq!(verify["runs"], 13);
}

/// A fresh home hit by several first commands at once: the schema is created exactly once.
fn concurrent_first_use_migrates_once(env: Env) {
    env.workflow("tiny", "name: tiny\nsteps:\n  - {name: a, run: 'true'}\n");
    for out in race(&env, 6, &["workflow", "run", "tiny"]) {
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(env.run(&["--json", "log", "verify"]).json()["runs"], 6);
}

/// A stop that lands during a rollback: the compensation in flight ends, the stop is
/// recorded, and resume finishes the rollback (the interrupted compensation runs again).
fn stop_during_rollback_then_resume_finishes_the_rollback(env: Env) {
    env.workflow(
        "undo",
        "name: undo\nsteps:\n  - name: one\n    run: 'true'\n    rollback: echo undo-one >> undo.log\n  - name: two\n    run: 'true'\n    rollback: echo undo-two >> undo.log; touch undoing; sleep 30\n  - name: boom\n    run: exit 1\n    retry: {max_retry_attempts: 0}\n    on_failure: rollback\n",
    );
    let child = env
        .command(&["workflow", "run", "undo"])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let until = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !env.file("undoing").exists() {
        assert!(
            std::time::Instant::now() < until,
            "the compensation never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // A second driver is refused while the first is stopping.
    let refused = env.run(&["workflow", "resume"]);
    assert_eq!(refused.code, 4, "{}", refused.stderr);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(env.status(None)["status"], "stopped");
    std::fs::write(
        env.home().join("workflows/undo.yaml"),
        "unused: edits do not matter to a run in flight\n",
    )
    .unwrap();
    std::fs::remove_file(env.file("undoing")).unwrap();
    // The snapshot's compensation sleeps again: stop it quickly by making `sleep` fast.
    let resumed = env
        .command(&["workflow", "resume"])
        .env("PATH", fast_sleep_path(&env))
        .output()
        .unwrap();
    assert_eq!(
        resumed.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&resumed.stderr)
    );
    assert_eq!(env.status(None)["status"], "rolled_back");
    assert_eq!(
        common::lines(&env.file("undo.log")),
        ["undo-two", "undo-two", "undo-one"]
    );
    assert_eq!(
        env.run(&["--json", "log", "verify", "--all"]).json()["ok"],
        true
    );
}

/// A PATH where `sleep` returns at once, so a resumed compensation does not wait 30 s.
fn fast_sleep_path(env: &Env) -> String {
    let bin = env.dir.path().join("fastbin");
    std::fs::create_dir_all(&bin).unwrap();
    let sleep = bin.join("sleep");
    std::fs::write(&sleep, "#!/bin/sh\nexit 0\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&sleep, std::fs::Permissions::from_mode(0o755)).unwrap();
    format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

/// A scenario of `phases` quick chained phases beside a manual phase `gate` with no command
/// (started, then reported, by an operator), and a manual phase `hold` nobody starts, so that
/// the run never finishes by itself. Phase `mark` touches `reached` in the project.
fn long_chain(env: &Env, phases: usize, mark: usize) {
    let mut yaml = String::from(
        "name: long-chain\ndescription: many quick chained phases beside an operator's gate\nphases:\n  - name: gate\n    condition: manual\n    parallel: true\n  - name: hold\n    condition: manual\n    parallel: true\n",
    );
    for i in 0..phases {
        let condition = match i {
            0 => "auto".to_string(),
            _ => format!("after:p{}", i - 1),
        };
        let run = if i == mark { "touch reached" } else { "true" };
        yaml.push_str(&format!(
            "  - name: p{i}\n    condition: {condition}\n    parallel: true\n    run: '{run}'\n"
        ));
    }
    std::fs::create_dir_all(env.home().join("scenarios")).unwrap();
    std::fs::write(env.home().join("scenarios/long-chain.yaml"), yaml).unwrap();
}

/// Wait (polling, bounded) until `ready` holds; fail with `what` otherwise.
fn wait_for(what: &str, mut ready: impl FnMut() -> bool) {
    let until = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while !ready() {
        assert!(std::time::Instant::now() < until, "{what} never happened");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// The run's events, as `log show --json` gives them.
fn events(env: &Env) -> Vec<serde_json::Value> {
    let out = env.run(&["--json", "log", "show"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    out.json().as_array().unwrap().clone()
}

/// Where event `kind` (naming `gate`, if `gate`) first is in the log.
fn position(events: &[serde_json::Value], kind: &str, gate: bool) -> Option<usize> {
    events
        .iter()
        .position(|e| e["type"] == kind && (!gate || e["body"].to_string().contains("\"gate\"")))
}

/// The adversarial review's case: while `orchestrate run` drives thousands of quick chained
/// phases (the log moves on every few milliseconds), `orchestrate start`, `complete` and
/// `stop` from another terminal each land — the old journal gave up with "run … moved on"
/// after 20 full replays. Each operator fact is in the log, followed by the driver's own
/// events (it was busy when the fact landed), and the log verifies.
fn an_operator_starts_completes_and_stops_beside_a_busy_driver(env: Env) {
    long_chain(&env, 2000, 300);
    let driver = env
        .command(&["orchestrate", "run", "long-chain"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for("phase p300", || env.file("reached").exists());

    let start = env.run(&[
        "orchestrate",
        "start",
        "long-chain",
        "gate",
        "--actor",
        "ops",
    ]);
    // Accepted beside the driver, which carries the run on: running, neither waiting nor
    // stopped (SPEC §5), so 0.
    assert_eq!(start.code, 0, "{}{}", start.stdout, start.stderr);
    // The driver picks the request up and starts the gate, which then waits for a report.
    wait_for("the gate waiting for a report", || {
        let status = env.run(&["--json", "orchestrate", "status", "long-chain"]);
        status.code == 0 && status.json()["phases"][0]["status"] == "waiting"
    });
    let complete = env.run(&[
        "orchestrate",
        "complete",
        "long-chain",
        "gate",
        "--actor",
        "ops",
        "--message",
        "done",
    ]);
    assert_eq!(complete.code, 0, "{}{}", complete.stdout, complete.stderr);
    // The driver goes on after the report before anyone stops it (on a loaded machine the stop
    // could otherwise land before the driver's next phase, and prove nothing about it).
    wait_for("the driver's next phase after the report", || {
        let log = events(&env);
        position(&log, "step_succeeded", true)
            .is_some_and(|at| log[at + 1..].iter().any(|e| e["type"] == "step_started"))
    });
    let stop = env.run(&["orchestrate", "stop", "long-chain", "--actor", "ops"]);
    assert_eq!(stop.code, 3, "{}{}", stop.stdout, stop.stderr);

    let out = driver.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(3),
        "the driver ends stopped: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let log = events(&env);
    let requested = position(&log, "phase_start_requested", true).expect("the start landed");
    let reported = position(&log, "step_succeeded", true).expect("the completion landed");
    let stop_requested = position(&log, "stop_requested", false).expect("the stop landed");
    for at in [requested, reported, stop_requested] {
        assert!(
            log[at]["body"].to_string().contains("\"ops\""),
            "recorded as the operator's: {}",
            log[at]
        );
    }
    // The driver was busy when each landed: its own events follow each.
    for at in [requested, reported] {
        assert!(
            log[at + 1..].iter().any(|e| e["type"] == "step_started"),
            "the driver appended after event {at}"
        );
    }
    assert_eq!(log.last().unwrap()["type"], "run_stopped");
    assert_eq!(
        env.run(&["--json", "orchestrate", "status", "long-chain"])
            .json()["status"],
        "stopped"
    );
    let verify = env.run(&["--json", "log", "verify", "--all"]);
    assert_eq!(verify.json()["ok"], true, "{}", verify.stderr);
}

/// Several `agent activate` of different agents at once, on a fresh home: every one is
/// recorded (before, some lost with "run agents moved on" or "the event log is busy").
fn concurrent_activations_of_different_agents_all_land(env: Env) {
    std::fs::create_dir_all(env.home().join("agents")).unwrap();
    let n = 12;
    for i in 0..n {
        std::fs::write(
            env.home().join(format!("agents/ag{i}.md")),
            format!("---\nname: ag{i}\ndescription: agent {i}\n---\nbody\n"),
        )
        .unwrap();
    }
    let children: Vec<_> = (0..n)
        .map(|i| {
            env.command(&["agent", "activate", &format!("ag{i}")])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let list = env.run(&["--json", "agent", "list"]).json();
    let active: Vec<&str> = list["agents"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["active"] == true)
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(active.len(), n, "{active:?}");
    let verify = env.run(&["--json", "log", "verify", "--all"]);
    assert_eq!(verify.json()["ok"], true, "{}", verify.stderr);
    assert_eq!(verify.json()["events"], n);
}

common::on_both_stores!(
    many_processes_append_at_once_without_busy_errors,
    concurrent_first_use_migrates_once,
    stop_during_rollback_then_resume_finishes_the_rollback,
    an_operator_starts_completes_and_stops_beside_a_busy_driver,
    concurrent_activations_of_different_agents_all_land,
);

/// A phase whose report runs a one-second check, and a phase after it that keeps the run
/// going once it is reported.
const TWO_REPORTS: &str = "name: race\ndescription: two reports of one phase at once\nphases:\n  - name: design\n    description: the design\n    condition: auto\n    success_criteria:\n      - check: sleep 1\n  - name: build\n    description: after the design\n    condition: after:design\n    run: sleep 1\n";

/// Two `orchestrate complete RUN design` at once: both find the phase waiting and run its
/// check, and the second's report is refused when it is recorded. It said "step `design` is
/// completed, not running or waiting": the decider called a scenario's phases steps. Now the
/// refusal calls it a phase, and no message of a scenario says "step".
#[test]
fn a_second_concurrent_report_of_a_phase_is_refused_naming_a_phase_not_a_step() {
    let mut refused = 0;
    for _ in 0..4 {
        let env = Env::new();
        env.scenario("race", TWO_REPORTS);
        let started = env.run(&["orchestrate", "run", "race"]);
        assert_eq!(started.code, 3, "{}", started.text());
        let run_id = env.run(&["--json", "orchestrate", "status"]).json()["run_id"]
            .as_str()
            .unwrap()
            .to_string();
        let outs = race(&env, 2, &["orchestrate", "complete", &run_id, "design"]);
        let codes: Vec<_> = outs.iter().map(|o| o.status.code()).collect();
        assert!(codes.contains(&Some(0)), "{codes:?}");
        for out in &outs {
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(!stderr.contains("step"), "{stderr}");
            if stderr.contains("phase `design` is completed, not running or waiting") {
                assert_eq!(out.status.code(), Some(2), "{stderr}");
                refused += 1;
            }
        }
        if refused > 0 {
            break;
        }
    }
    assert!(
        refused > 0,
        "the second report was never refused by the decider"
    );
}

/// Two `workflow step complete Review` at once on a waiting run: the loser was sometimes told
/// "run ID is held by another process" (exit 4) without who, when it read the winner's lock
/// file in the instant between its lock and its note. Whoever loses is told who holds the run
/// (pid, host and actor), or is refused by what the winner recorded.
#[test]
fn the_loser_of_two_concurrent_reports_is_told_who_holds_the_run() {
    let env = Env::new();
    env.workflow(
        "rv",
        "name: rv\nsteps:\n  - name: Review\n    prompt: review it\n  - name: After\n    run: sleep 1\n",
    );
    let mut held = 0;
    for _ in 0..8 {
        assert_eq!(env.run(&["workflow", "run", "rv"]).code, 3);
        let outs = race(&env, 2, &["workflow", "step", "complete", "Review"]);
        assert!(outs.iter().any(|o| o.status.code() == Some(0)), "{outs:?}");
        for out in &outs {
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(!stderr.contains("held by another process"), "{stderr}");
            if out.status.code() == Some(4) {
                assert!(
                    stderr.contains("is held by process ") && stderr.contains("since "),
                    "{stderr}"
                );
                held += 1;
            }
        }
    }
    println!("{held} of 8 losers found the run held");
}

/// Reports on three phases at once, the last phase after all three: each report's exit code
/// is that of the status its own document reports (SPEC §5: 0 only for a completed run), and
/// the run always completes. Before, a report that found the run driven by another report
/// exited 0 whatever the status (its document said `waiting`), and a report that came while
/// that driver was letting go was left to it: the run stayed waiting with every phase
/// reported and nobody driving it.
#[test]
fn concurrent_reports_exit_with_the_status_their_document_reports() {
    for round in 0..4 {
        let env = Env::new();
        env.scenario("release-prep", "name: release-prep\ndescription: three reports, then a command\nphases:\n  - {name: changelog, condition: manual, parallel: true}\n  - {name: test-suite, condition: manual, parallel: true}\n  - {name: docs, condition: manual, parallel: true}\n  - {name: final, condition: 'after:changelog,test-suite,docs', run: echo final}\n");
        let out = env.run(&[
            "orchestrate",
            "run",
            "release-prep",
            "--start",
            "changelog",
            "--start",
            "test-suite",
            "--start",
            "docs",
        ]);
        assert_eq!(out.code, 3, "{}", out.text());
        let children: Vec<_> = ["changelog", "test-suite", "docs"]
            .iter()
            .map(|phase| {
                env.command(&["--json", "orchestrate", "complete", "release-prep", phase])
                    .stdout(Stdio::piped())
                    .stderr(Stdio::null())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for child in children {
            let out = child.wait_with_output().unwrap();
            let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            let code = match doc["status"].as_str().unwrap() {
                // Running: carried on by the driver of another report (SPEC §5: 3 is
                // waiting or stopped).
                "completed" | "running" => 0,
                "failed" | "aborted" | "rolled_back" => 1,
                _ => 3,
            };
            assert_eq!(out.status.code(), Some(code), "round {round}: {doc}");
        }
        // Whichever report drove last, the run completed.
        let status = || {
            env.run(&["--json", "orchestrate", "status", "release-prep"])
                .json()["status"]
                .clone()
        };
        let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while status() != "completed" && std::time::Instant::now() < until {
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        assert_eq!(status(), "completed", "round {round}");
    }
}

/// Seen by a review: 12 `orchestrate start m mI --no-drive` at once, nobody driving the run:
/// most exited 0 with "recorded; its driver, process N ... carries the run on", N another
/// such command (which held the run's lock only for a moment) or the command itself, and
/// nothing drove the run after. A command that only records takes no lock: each says the run
/// waits, nobody driving it, with the resume (exit 3), and every request is recorded.
#[test]
fn concurrent_no_drive_starts_never_name_a_reporter_as_the_runs_driver() {
    let env = Env::new();
    let phases: String = (0..8)
        .map(|i| {
            format!(
                "  - name: m{i}\n    description: d\n    condition: manual\n    parallel: true\n"
            )
        })
        .collect();
    env.scenario("m", &format!("name: m\ndescription: d\nphases:\n{phases}"));
    assert_eq!(env.run(&["orchestrate", "run", "m"]).code, 3);
    let children: Vec<_> = (0..8)
        .map(|i| {
            env.command(&["orchestrate", "start", "m", &format!("m{i}"), "--no-drive"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let pid = child.id();
        let out = child.wait_with_output().unwrap();
        let said = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{said}");
        assert!(!said.contains("carries the run on"), "{said}");
        assert!(!said.contains(&format!("process {pid}")), "{said}");
        assert!(
            said.contains("nobody drives it") && said.contains("orchestrate resume"),
            "{said}"
        );
    }
    let requested = env
        .run(&["--json", "log", "show"])
        .json()
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "phase_start_requested")
        .count();
    assert_eq!(requested, 8);
}

/// Two prompt steps, then a command, for reports made at the same instant.
const TWO_PROMPTS: &str = "name: rv\nsteps:\n  - name: Review\n    prompt: review it\n  - name: Sign\n    prompt: sign it\n  - name: After\n    run: echo done\n";

/// `args` as the commands take them.
fn argv(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

/// Each command of `commands` started at once: its exit code and standard error.
fn codes_at_once<'a>(env: &Env, commands: &[impl AsRef<[&'a str]>]) -> Vec<(Option<i32>, String)> {
    all_at_once(env, commands)
        .into_iter()
        .map(|out| {
            let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
            (out.status.code(), stderr)
        })
        .collect()
}

/// Seen by a review: two `workflow step complete RUN STEP --no-drive` at the same instant on a
/// step still `pending` (a run just submitted, nobody driving it) were sometimes answered
/// "run RUN is held by process N" (exit 4), N the other reporter, which held the run's lock
/// for a moment. A report that only records takes no lock: it lands at the head of the log,
/// or the state it lands on refuses it with why (exit 2) — never "held". Tried on a pending
/// step (twice at once, and beside a report that drives), on the same waiting step (one
/// lands, the other is told it was already reported), and on two different steps.
#[test]
fn concurrent_no_drive_step_reports_land_or_are_refused_never_held() {
    let env = Env::new();
    env.workflow("rv", TWO_PROMPTS);
    let never_held = |outs: &[(Option<i32>, String)]| {
        for (code, stderr) in outs {
            assert_ne!(*code, Some(4), "{stderr}");
            assert!(!stderr.contains("held by"), "{stderr}");
        }
    };
    let run = |args: &[&str]| -> String {
        env.run(args);
        env.status(None)["run_id"].as_str().unwrap().to_string()
    };
    // `workflow step complete STEP --run RUN`, with `--no-drive` or without.
    let report = |step: &str, run: &str, no_drive: bool| -> Vec<String> {
        ["workflow", "step", "complete", step, "--run", run]
            .into_iter()
            .chain(no_drive.then_some("--no-drive"))
            .map(String::from)
            .collect()
    };
    for _ in 0..4 {
        // Pending: nobody drove the run to the step; both are refused by its state.
        let id = run(&["workflow", "run", "rv", "--submit"]);
        let no_drive = report("Review", &id, true);
        let drives = report("Review", &id, false);
        for pair in [[&no_drive, &no_drive], [&no_drive, &drives]] {
            let outs = codes_at_once(&env, &pair.map(|a| argv(a)));
            never_held(&outs);
            for (code, stderr) in &outs {
                assert_eq!(*code, Some(2), "{stderr}");
                assert!(
                    stderr.contains("step `Review` is pending, not waiting for a report"),
                    "{stderr}"
                );
            }
        }
        // The same waiting step twice: one lands, the other is told it was reported already.
        let id = run(&["workflow", "run", "rv"]);
        let no_drive = report("Review", &id, true);
        let outs = codes_at_once(&env, &[argv(&no_drive), argv(&no_drive)]);
        never_held(&outs);
        let landed = outs.iter().filter(|(code, _)| *code == Some(3)).count();
        assert_eq!(landed, 1, "{outs:?}");
        let refused = outs.iter().find(|(code, _)| *code != Some(3)).unwrap();
        assert_eq!(refused.0, Some(2), "{}", refused.1);
        assert!(
            refused
                .1
                .contains("step `Review` was already reported complete by"),
            "{}",
            refused.1
        );
        let reported = env
            .events(&id)
            .iter()
            .filter(|e| e["type"] == "step_succeeded")
            .count();
        assert_eq!(reported, 1);
        // Two different steps: the waiting one lands; the other, pending when it is decided,
        // is refused by that (or lands, if the first report drove the run on to it first).
        let id = run(&["workflow", "run", "rv"]);
        let review = report("Review", &id, false);
        let sign = report("Sign", &id, true);
        let outs = codes_at_once(&env, &[argv(&review), argv(&sign)]);
        never_held(&outs);
        // The report that drives ends with the run waiting on `Sign`, or completed if the
        // other landed meanwhile; the other lands (the run then waits on `After` or goes on
        // under the drive), or finds `Sign` pending.
        assert!(matches!(outs[0].0, Some(0 | 3)), "{}", outs[0].1);
        assert!(
            matches!(outs[1].0, Some(0 | 3))
                || (outs[1].0 == Some(2) && outs[1].1.contains("step `Sign` is pending")),
            "{outs:?}"
        );
    }
}

/// Seen by a review: a report with `--no-drive` took no lock, so two at once on a step whose
/// gate runs commands ran them together (`make test` in a shared folder), and the one failed
/// by the other's could land first and fail the step. A gate that runs commands is run under
/// the run's lock, one report's at a time: one report lands complete, the other is told the
/// step was reported already, and the gate ran once.
#[test]
fn concurrent_no_drive_reports_never_run_a_steps_gate_commands_together() {
    let env = Env::new();
    env.workflow(
        "gt",
        "name: gt\nsteps:\n  - name: Review\n    prompt: review it\n    validate:\n      - run: 'mkdir gate.busy && sleep 1 && echo ran >> gate.runs && rmdir gate.busy'\n",
    );
    env.run(&["workflow", "run", "gt"]);
    let id = env.status(None)["run_id"].as_str().unwrap().to_string();
    let report = [
        "workflow",
        "step",
        "complete",
        "Review",
        "--run",
        id.as_str(),
        "--no-drive",
    ];
    let outs = codes_at_once(&env, &[report, report]);
    let step = &env.status(Some(&id))["steps"][0];
    assert_eq!(step["status"], "completed", "{outs:?}\n{step}");
    assert_eq!(
        std::fs::read_to_string(env.project().join("gate.runs")).unwrap(),
        "ran\n",
        "{outs:?}"
    );
    let refused = outs
        .iter()
        .filter(|(code, _)| *code == Some(2))
        .collect::<Vec<_>>();
    assert_eq!(refused.len(), 1, "one lands, one is refused: {outs:?}");
    // Told it was reported meanwhile, or (when the first report's completion ended the
    // one-step run before the second read it) that the run has finished.
    let refused = refused[0];
    assert!(
        refused.1.contains("was already reported complete")
            || refused.1.contains("already finished (completed)"),
        "{}",
        refused.1
    );
}
