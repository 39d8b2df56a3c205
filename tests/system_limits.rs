//! The system's limits met head on: no more threads or processes for the user (`ulimit -u`)
//! and no more open files (`ulimit -n`). Each is said as what it is, with the limit and how
//! to raise it; cortex never panics on it, leaves no command running behind it, and never
//! calls a healthy log damaged. Limits are set on the child by the shell that execs it
//! (`ulimit … && exec cortex …`); `ulimit -u` binds only a user other than root, so those
//! tests run as `nobody`, and are skipped (saying so) where that cannot be done.

mod common;

use std::os::unix::process::CommandExt;
use std::process::Command;

use common::{Env, NOBODY, wait_until};

/// `cortex ARGS` in `env`, under the shell limit `limit` (`-u 4`, `-n 5`), as `nobody` when
/// `as_nobody`: its exit code and everything it said.
fn limited(env: &Env, limit: &str, as_nobody: bool, args: &[&str]) -> (Option<i32>, String) {
    let mut cmd = Command::new("bash");
    cmd.arg("-c")
        .arg(format!("ulimit {limit} && exec \"$0\" \"$@\""))
        .arg(env!("CARGO_BIN_EXE_cortex"))
        .args(args)
        .current_dir(env.project())
        .env("CORTEX_HOME", env.home())
        .env("HOME", env.home())
        .env("NO_COLOR", "1")
        .env_remove("CORTEX_DB");
    if as_nobody {
        cmd.uid(NOBODY).gid(NOBODY);
    }
    let out = cmd.output().unwrap();
    (
        out.status.code(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// The processes whose command line holds `marker`.
fn running(marker: &str) -> Vec<String> {
    let out = Command::new("ps")
        .args(["-eo", "pid,args"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains(marker) && !l.contains("ps -eo"))
        .map(str::to_string)
        .collect()
}

/// A marker no other test's command holds.
fn marker(what: &str) -> String {
    format!("{what}-{}-{}", std::process::id(), ulid::Ulid::generate())
}

/// A scenario of eight parallel phases whose driver the system refuses threads and processes
/// (`ulimit -u`). Before, `std::thread::spawn` panicked (exit 101) mid-run, phases it had
/// started ran on with no parent, and some were not noted, so `resume` ran them a second time
/// beside the first. Now: no panic, the refusal said with `ulimit -u` and how to raise it,
/// the run recorded as ended (failed or interrupted, with the reason), no command of it left
/// running, the log whole, and the run goes on with `resume` once the limit allows.
#[test]
fn a_refused_thread_ends_the_run_recorded_with_the_process_limit_and_nothing_left_running() {
    let env = Env::new();
    if !env.give_to_nobody() {
        return;
    }
    let mark = marker("par");
    let phases: String = (1..=8)
        .map(|i| {
            format!(
                "  - {{name: p{i}, description: d, condition: auto, parallel: true, run: 'sleep 2; echo {mark}'}}\n"
            )
        })
        .collect();
    let file = env.project().join("par.yaml");
    std::fs::write(
        &file,
        format!("name: par\ndescription: p\nmax_parallel: 8\nphases:\n{phases}"),
    )
    .unwrap();
    std::os::unix::fs::chown(&file, Some(NOBODY), Some(NOBODY)).unwrap();
    let mut last = String::new();
    for limit in ["-u 3", "-u 6"] {
        let (code, text) = limited(&env, limit, true, &["orchestrate", "run", "par.yaml"]);
        assert!(!text.contains("panicked"), "{limit}: {text}");
        assert_ne!(code, Some(101), "{limit}: {text}");
        assert_eq!(code, Some(1), "{limit}: {text}");
        assert!(text.contains("ulimit -u"), "{limit}: {text}");
        // Nothing of the run runs on once its driver is gone.
        wait_until("the run's commands to end", || running(&mark).is_empty());
        let status = env.run(&["--json", "orchestrate", "status"]);
        let doc = status.json();
        assert!(
            matches!(doc["status"].as_str(), Some("failed" | "interrupted")),
            "{limit}: {}",
            status.text()
        );
        assert!(
            status.stdout.contains("ulimit -u"),
            "the reason is recorded: {}",
            status.text()
        );
        last = doc["status"].as_str().unwrap_or_default().to_string();
    }
    assert_eq!(env.run(&["log", "verify", "--all"]).code, 0);
    // With room again, the last run goes on to its end (a phase that failed for good with a
    // fresh retry budget).
    let failed = env
        .run(&["orchestrate", "status"])
        .stdout
        .contains("] p1  - failed");
    let resume: &[&str] = match (last.as_str(), failed) {
        ("failed", true) => &["orchestrate", "resume", "--retry"],
        _ => &["orchestrate", "resume"],
    };
    let resumed = env
        .command(resume)
        .env("HOME", env.home())
        .uid(NOBODY)
        .gid(NOBODY)
        .output()
        .unwrap();
    assert_eq!(
        resumed.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&resumed.stdout),
        String::from_utf8_lossy(&resumed.stderr)
    );
}

/// A notification command of a run that completed, delivered where the system refuses
/// threads (`ulimit -u`). Before, cortex panicked (exit 101 for a completed run), or the
/// command was started, left running orphaned, and recorded "not delivered … 0 tries". Now
/// no panic, no command left running, and what was recorded says why it was not delivered.
#[test]
fn a_notification_refused_a_thread_is_recorded_as_such_and_leaves_nothing_running() {
    let env = Env::new();
    let mark = marker("hook");
    env.workflow(
        "hook",
        &format!(
            "name: hook\nnotify:\n  on_finish:\n    - run: 'sleep 30; echo {mark}'\nsteps:\n  - name: a\n    run: echo a\n"
        ),
    );
    if !env.give_to_nobody() {
        return;
    }
    for limit in ["-u 3", "-u 4", "-u 5"] {
        let (code, text) = limited(&env, limit, true, &["workflow", "run", "hook"]);
        assert!(!text.contains("panicked"), "{limit}: {text}");
        assert!(matches!(code, Some(0 | 1)), "{limit}: {text}");
        // Either it ran to its end (the limit left room) or it never started: never orphaned.
        wait_until("the notification command to end", || {
            running(&mark).is_empty()
        });
        if text.contains("not delivered") || text.contains("failed after") {
            assert!(text.contains("ulimit -u"), "{limit}: {text}");
        }
    }
}

/// A healthy log opened where this process may open no more files (`ulimit -n`). Before, it
/// was called possibly damaged with the advice to put back a backup (losing what was recorded
/// since), or said "event log error" with no hint. Now each says cortex may hold no more open
/// files, with the limit and how to raise it, and the log is left as it was.
#[test]
fn out_of_file_descriptors_a_healthy_log_is_never_called_damaged() {
    let env = Env::new();
    env.workflow(
        "tiny",
        "name: tiny\nsteps:\n  - name: a\n    run: \"true\"\n",
    );
    assert_eq!(env.run(&["workflow", "run", "tiny"]).code, 0);
    for limit in ["-n 4", "-n 5", "-n 6"] {
        let (code, text) = limited(&env, limit, false, &["workflow", "run", "tiny"]);
        assert_eq!(code, Some(1), "{limit}: {text}");
        assert!(!text.contains("damaged, put back"), "{limit}: {text}");
        assert!(
            text.contains("may hold no more open files"),
            "{limit}: {text}"
        );
        assert!(text.contains("ulimit -n"), "{limit}: {text}");
    }
    // A fresh home too: its log cannot be made.
    let fresh = Env::new();
    fresh.workflow(
        "tiny",
        "name: tiny\nsteps:\n  - name: a\n    run: \"true\"\n",
    );
    for limit in ["-n 4", "-n 5"] {
        let (code, text) = limited(&fresh, limit, false, &["workflow", "run", "tiny"]);
        assert_eq!(code, Some(1), "{limit}: {text}");
        assert!(text.contains("ulimit -n"), "{limit}: {text}");
    }
    let verified = env.run(&["log", "verify", "--all"]);
    assert_eq!(verified.code, 0, "{}", verified.text());
}
