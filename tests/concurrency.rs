//! Concurrency through the real binary: many processes appending to one log at once, two
//! processes racing for one run, operators reporting while a driver runs.

mod common;

use std::process::Stdio;

use common::Env;

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
    let children: Vec<_> = (0..12)
        .map(|_| {
            env.command(&["workflow", "run", "tiny"])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
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
    let children: Vec<_> = (0..6)
        .map(|_| {
            env.command(&["workflow", "run", "tiny"])
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
    assert_eq!(env.run(&["--json", "log", "verify"]).json()["runs"], 6);
}
