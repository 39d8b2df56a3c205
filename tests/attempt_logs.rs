//! Whole logs per attempt (SPEC §11 "Logs"): every attempt's whole output is kept in a file
//! beside the log, the event holding its size and blake3 so that `log verify` checks it;
//! `cortex logs RUN [STEP] [--follow]` prints it.

mod common;

use std::time::{Duration, Instant};

use common::Env;

fn events(env: &Env) -> Vec<serde_json::Value> {
    env.run(&["--json", "log", "show"])
        .json()
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn the_whole_output_of_every_attempt_is_kept_and_printed_by_cortex_logs() {
    let env = Env::new();
    env.workflow(
        "long",
        "name: long\nsteps:\n  - name: print\n    run: for i in $(seq 1 3000); do echo \"line $i\"; done; echo done >&2\n  - name: flaky\n    run: echo \"try\"; test -f ok || { touch ok; exit 1; }\n    retry: {max_retry_attempts: 1, backoff: 1ms}\n",
    );
    assert_eq!(env.run(&["workflow", "run", "long"]).code, 0);
    let logs = env.run(&["logs"]);
    assert_eq!(logs.code, 0, "{}", logs.stderr);
    assert!(
        logs.stdout
            .starts_with("── print · attempt 1 ──\nline 1\nline 2\n")
    );
    // The whole output, far past the tail; stderr's line among stdout's (the two pipes are
    // read as they come, so their order is what the reader saw).
    assert!(logs.stdout.contains("line 3000\n") && logs.stdout.contains("done\n"));
    assert!(
        logs.stdout
            .contains("── flaky · attempt 1 ──\ntry\n── flaky · attempt 2 ──\ntry\n")
    );
    // One step's attempts only, by forgiving name.
    let flaky = env.run(&["logs", "long", "Flaky"]);
    assert_eq!(
        flaky.stdout,
        "── flaky · attempt 1 ──\ntry\n── flaky · attempt 2 ──\ntry\n"
    );
    // The event records the file, its size and its hash; the end event only a tail.
    let log = events(&env);
    let kept = log.iter().find(|e| e["type"] == "attempt_log").unwrap();
    assert_eq!(kept["version"], 2);
    let file = kept["body"]["file"].as_str().unwrap();
    let bytes = std::fs::read(env.home().join(file)).unwrap();
    assert_eq!(kept["body"]["bytes"], bytes.len());
    assert_eq!(
        kept["body"]["blake3"],
        blake3::hash(&bytes).to_hex().as_str()
    );
    let tail = env.status(None)["steps"][0]["output_tail"].clone();
    assert!(tail.as_str().is_none_or(|t| t.len() <= 4096));
    let unknown = env.run(&["logs", "long", "nope"]);
    assert_eq!(unknown.code, 2, "{}", unknown.stderr);
}

#[test]
/// An attempt that prints nothing has no whole-output file and no `attempt_log` (there is no
/// output to keep; creating the file was the largest part of a short step's own cost), while
/// one that prints has both; `cortex logs` prints the output there is, and the log verifies.
fn an_attempt_that_prints_nothing_creates_no_log_file() {
    let env = Env::new();
    env.workflow(
        "quiet",
        "name: quiet\nsteps:\n  - name: silent\n    run: 'true'\n  - name: loud\n    run: echo hi\n",
    );
    assert_eq!(env.run(&["workflow", "run", "quiet"]).code, 0);
    let log = events(&env);
    let kept: Vec<&serde_json::Value> = log.iter().filter(|e| e["type"] == "attempt_log").collect();
    assert_eq!(kept.len(), 1, "{log:?}");
    assert_eq!(kept[0]["body"]["step"], "loud");
    let files: Vec<_> = walk(&env.home().join("logs"))
        .into_iter()
        .filter(|p| p.is_file())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    assert_eq!(std::fs::read_to_string(&files[0]).unwrap(), "hi\n");
    let logs = env.run(&["logs"]);
    assert_eq!(logs.code, 0, "{}", logs.stderr);
    assert_eq!(logs.stdout, "── loud · attempt 1 ──\nhi\n");
    assert_eq!(env.run(&["log", "verify"]).code, 0);
}

#[test]
/// A changed file fails verification; a file not on this machine (another host's attempt, a
/// log copied without its files) is reported as unchecked, never as verified, never as broken.
fn log_verify_fails_a_changed_attempt_log_and_reports_an_absent_one() {
    let env = Env::new();
    env.workflow(
        "one",
        "name: one\nsteps:\n  - {name: a, run: 'echo hello'}\n",
    );
    assert_eq!(env.run(&["workflow", "run", "one"]).code, 0);
    assert_eq!(env.run(&["--json", "log", "verify"]).json()["ok"], true);
    let log = events(&env);
    let kept = log.iter().find(|e| e["type"] == "attempt_log").unwrap();
    let path = env.home().join(kept["body"]["file"].as_str().unwrap());
    std::fs::write(&path, "hello, changed\n").unwrap();
    let verify = env.run(&["--json", "log", "verify"]);
    assert_eq!(verify.code, 1);
    let reason = verify.json()["first_bad"]["reason"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        reason.contains("the attempt log") && reason.contains("changed"),
        "{reason}"
    );
    std::fs::remove_file(&path).unwrap();
    let verify = env.run(&["--json", "log", "verify"]);
    assert_eq!(verify.code, 0, "{}", verify.stdout);
    let doc = verify.json();
    assert_eq!(doc["attempt_logs_absent"], 1, "{doc}");
    assert_eq!(doc["attempt_logs"], 0, "{doc}");
    let human = env.run(&["log", "verify"]);
    assert!(
        human
            .stdout
            .contains("1 attempt log file(s) not on this machine"),
        "{}",
        human.stdout
    );
}

#[test]
fn an_attempt_log_never_holds_a_secret() {
    let env = Env::new();
    let secret = "ghp_attemptlog0123456789";
    env.workflow(
        "leaky",
        "name: leaky\nsteps:\n  - {name: a, run: 'echo \"token=$GITHUB_TOKEN\"'}\n",
    );
    let out = env
        .command(&["workflow", "run", "leaky"])
        .env("GITHUB_TOKEN", secret)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let logs = env.run(&["logs"]);
    assert!(logs.stdout.contains("token=***"), "{}", logs.stdout);
    for entry in walk(&env.home()) {
        let bytes = std::fs::read(&entry).unwrap();
        assert!(
            !String::from_utf8_lossy(&bytes).contains(secret),
            "{} holds the secret",
            entry.display()
        );
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[test]
fn cortex_logs_follow_prints_an_attempt_as_it_writes_and_ends_with_the_run() {
    let env = Env::new();
    env.workflow(
        "slow",
        "name: slow\nsteps:\n  - name: tick\n    run: for i in 1 2 3 4 5; do echo \"tick $i\"; sleep 0.3; done\n  - name: after\n    run: echo after\n",
    );
    let mut driver = env
        .command(&["workflow", "run", "slow"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Once the run has begun, follow it.
    let until = Instant::now() + Duration::from_secs(30);
    while !env.db().exists()
        || env.run(&["--json", "workflow", "history"]).json() == serde_json::json!([])
    {
        assert!(Instant::now() < until);
        std::thread::sleep(Duration::from_millis(50));
    }
    let follow = env.command(&["logs", "slow", "--follow"]).output().unwrap();
    assert_eq!(driver.wait().unwrap().code(), Some(0));
    let text = String::from_utf8_lossy(&follow.stdout);
    assert_eq!(follow.status.code(), Some(0), "{text}");
    assert!(
        text.contains("tick 1\ntick 2\ntick 3\ntick 4\ntick 5\n")
            && text.contains("── after · attempt 1 ──\nafter\n"),
        "{text}"
    );
}
