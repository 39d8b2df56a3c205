//! Concurrency through the real binary: many processes appending to one log at once, two
//! processes racing for one run, operators reporting while a driver runs.

mod common;

use std::process::Stdio;

use common::Env;

/// Start `n` copies of a command at once and wait for them all.
fn race(env: &Env, n: usize, args: &[&str]) -> Vec<std::process::Output> {
    let children: Vec<_> = (0..n)
        .map(|_| {
            env.command(args)
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
#[test]
fn many_processes_append_at_once_without_busy_errors() {
    let env = Env::new();
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
    let history = env.run(&["--json", "workflow", "history"]).json();
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
#[test]
fn concurrent_first_use_migrates_once() {
    let env = Env::new();
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
#[test]
fn stop_during_rollback_then_resume_finishes_the_rollback() {
    let env = Env::new();
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
