//! Real storage faults: a read-only `cortex.db` and a full file system. A fault gives a clear
//! error and loses nothing already recorded; once the fault is gone, the next command resumes
//! cleanly. Both need privileges (tests run as root, which ignores file modes, so read-only is
//! made with `chattr +i`; a full disk is a small tmpfs): where the machine refuses, the test
//! says so and checks nothing else.

mod common;

use std::process::Command;

use common::Env;

fn try_cmd(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .output()
        .is_ok_and(|o| o.status.success())
}

struct Immutable(std::path::PathBuf);

impl Drop for Immutable {
    fn drop(&mut self) {
        try_cmd("chattr", &["-i", &self.0.display().to_string()]);
    }
}

#[test]
fn a_read_only_log_gives_a_clear_error_and_loses_nothing() {
    let env = Env::new();
    env.workflow("tiny", "name: tiny\nsteps:\n  - {name: a, run: 'echo a'}\n");
    assert_eq!(env.run(&["workflow", "run", "tiny"]).code, 0);
    let db = env.db().display().to_string();
    if !try_cmd("chattr", &["+i", &db]) {
        eprintln!(
            "skipped: chattr +i is not allowed here, so cortex.db cannot be made read-only for root"
        );
        return;
    }
    let guard = Immutable(env.db());
    let out = env.run(&["workflow", "run", "tiny"]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains("read-only") || out.stderr.contains("readonly"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("hint:"), "{}", out.stderr);
    assert!(!out.stderr.contains("panicked"));
    // Reading still works, and what was recorded is intact.
    let verify = env.run(&["--json", "log", "verify", "--all"]);
    assert_eq!(verify.json()["ok"], true, "{}", verify.stderr);
    drop(guard);
    let again = env.run(&["workflow", "run", "tiny"]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(
        env.run(&["--json", "log", "verify", "--all"]).json()["ok"],
        true
    );
}

struct Mounted(std::path::PathBuf);

impl Drop for Mounted {
    fn drop(&mut self) {
        try_cmd("umount", &["-l", &self.0.display().to_string()]);
    }
}

#[test]
fn a_full_disk_gives_a_clear_error_and_resume_recovers_once_there_is_room() {
    let env = Env::new();
    let home = env.home().display().to_string();
    if !try_cmd("mount", &["-t", "tmpfs", "-o", "size=512k", "tmpfs", &home]) {
        eprintln!(
            "skipped: mounting a small tmpfs is not allowed here, so a full disk cannot be made"
        );
        return;
    }
    let _mounted = Mounted(env.home());
    std::fs::create_dir_all(env.home().join("workflows")).unwrap();
    // Each step records a 60 KB output: the log outgrows 512 KiB within a run or two.
    let mut yaml = String::from("name: fill\nsteps:\n");
    for i in 0..12 {
        yaml.push_str(&format!(
            "  - name: s{i}\n    run: printf 'blob=%060000d\\n' 0 >> \"$CORTEX_OUTPUT\"\n    retry: {{max_retry_attempts: 0}}\n"
        ));
    }
    env.workflow("fill", &yaml);
    let mut failure = None;
    for _ in 0..6 {
        let out = env.run(&["workflow", "run", "fill"]);
        assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
        if out.code != 0 {
            failure = Some(out);
            break;
        }
    }
    let out = failure.expect("the disk filled up");
    assert!(matches!(out.code, 1 | 3), "{}{}", out.stdout, out.stderr);
    let said = format!("{}{}", out.stdout, out.stderr).to_lowercase();
    assert!(said.contains("full") || said.contains("no space"), "{said}");
    // What was recorded is intact.
    assert_eq!(
        env.run(&["--json", "log", "verify", "--all"]).json()["ok"],
        true
    );
    // Room again: the interrupted or failed run goes on from where the log says it is.
    assert!(try_cmd("mount", &["-o", "remount,size=64m", &home]));
    let resumed = env.run(&["workflow", "resume", "--retry"]);
    let resumed = if resumed.code == 2 {
        env.run(&["workflow", "resume"])
    } else {
        resumed
    };
    assert_eq!(resumed.code, 0, "{}{}", resumed.stdout, resumed.stderr);
    assert_eq!(env.status(None)["status"], "completed");
    assert_eq!(
        env.run(&["--json", "log", "verify", "--all"]).json()["ok"],
        true
    );
}
