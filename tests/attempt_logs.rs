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
    // Version 9: it records the folder of the home that wrote it (`home_dir`).
    assert_eq!(kept["version"], 9);
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
/// one that prints has both; `cortex logs` lists the silent one as "(no output)" and prints
/// the output there is, and the log verifies.
fn an_attempt_that_prints_nothing_creates_no_log_file_and_is_listed_as_no_output() {
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
    assert_eq!(
        logs.stdout,
        "── silent · attempt 1 ──\n(no output)\n── loud · attempt 1 ──\nhi\n"
    );
    let doc = env.run(&["--json", "logs", "quiet", "silent"]).json();
    assert_eq!(doc["attempts"][0]["status"], "no_output", "{doc}");
    assert_eq!(doc["attempts"][0]["bytes"], 0, "{doc}");
    assert_eq!(env.run(&["log", "verify"]).code, 0);
}

#[test]
/// A changed file fails verification, naming the run and seq.
fn log_verify_fails_a_changed_attempt_log() {
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
}

#[test]
/// On a home whose attempts ran here (a SQLite home), a deleted attempt log is a failure of
/// `log verify` naming the run, seq and file (exit 1), and `cortex logs` says the file is
/// missing and shows the tail the log kept — never that the step kept no output.
fn a_missing_attempt_log_of_this_host_fails_log_verify_and_logs_shows_the_kept_tail() {
    let env = Env::new();
    env.workflow(
        "spewing",
        "name: spewing\nsteps:\n  - {name: spew, run: 'echo one; echo two'}\n",
    );
    assert_eq!(env.run(&["workflow", "run", "spewing"]).code, 0);
    let log = events(&env);
    let kept = log.iter().find(|e| e["type"] == "attempt_log").unwrap();
    let file = kept["body"]["file"].as_str().unwrap().to_string();
    let run = kept["run_id"].as_str().unwrap().to_string();
    std::fs::remove_file(env.home().join(&file)).unwrap();
    for args in [
        &["--json", "log", "verify", "--all"][..],
        &["--json", "log", "verify", &run],
    ] {
        let verify = env.run(args);
        assert_eq!(verify.code, 1, "{}", verify.stdout);
        let bad = &verify.json()["first_bad"];
        assert_eq!(bad["run_id"], run.as_str(), "{bad}");
        assert_eq!(bad["seq"], kept["seq"], "{bad}");
        let reason = bad["reason"].as_str().unwrap();
        assert!(
            reason.contains(&file) && reason.contains("missing"),
            "{reason}"
        );
    }
    let logs = env.run(&["logs", &run, "spew"]);
    assert_eq!(logs.code, 0, "{}", logs.stderr);
    assert!(
        logs.stdout.starts_with("── spew · attempt 1 ──\n")
            && logs.stdout.contains(&format!("the file {file} is missing"))
            && logs.stdout.ends_with("one\ntwo\n"),
        "{}",
        logs.stdout
    );
    let doc = env.run(&["--json", "logs", &run, "spew"]).json();
    assert_eq!(doc["attempts"][0]["status"], "missing", "{doc}");
    assert_eq!(doc["attempts"][0]["tail"], "one\ntwo\n", "{doc}");
}

#[test]
/// An attempt another host ran keeps its file there: with the log showing it ran elsewhere (a
/// log shared in PostgreSQL, or copied here), its absent file is counted apart by `log verify`
/// (exit 0, never as checked) and `cortex logs` says where it is and shows the kept tail.
fn an_attempt_log_of_another_host_is_not_on_this_machine_for_log_verify_and_logs() {
    let env = Env::new();
    env.workflow(
        "remote",
        "name: remote\nsteps:\n  - {name: a, run: 'echo far away'}\n",
    );
    assert_eq!(env.run(&["workflow", "run", "remote"]).code, 0);
    // The same run as another host would have recorded it, in a log of its own.
    let run = env.status(None)["run_id"].as_str().unwrap().to_string();
    let elsewhere = env.project().join("elsewhere.db");
    let mut other =
        cortex::store::Location::parse(elsewhere.to_str().unwrap(), std::path::Path::new("/"))
            .unwrap()
            .open(cortex::definition::Durability::Normal)
            .unwrap();
    let rows: Vec<cortex::event::NewEvent> = env
        .open_store()
        .read_run(&run)
        .unwrap()
        .into_iter()
        .map(|rec| {
            let mut event = rec.event;
            // Another host's worker writes in a home of its own.
            match &mut event {
                cortex::event::Event::RunStarted(started) => {
                    started.driver.host = "build-box-7".into();
                }
                cortex::event::Event::AttemptLog { home, .. } => {
                    *home = Some("01ARZ3NDEKTSV4RRFFQ69G5FAV".into());
                }
                _ => {}
            }
            cortex::event::NewEvent {
                id: rec.id,
                time: rec.time,
                event,
            }
        })
        .collect();
    other.append(&run, 0, &rows).unwrap();
    drop(other);
    let kept = events(&env)
        .into_iter()
        .find(|e| e["type"] == "attempt_log")
        .unwrap();
    std::fs::remove_file(env.home().join(kept["body"]["file"].as_str().unwrap())).unwrap();
    let db = elsewhere.to_str().unwrap();
    let verify = env.run(&["--json", "--db", db, "log", "verify", "--all"]);
    assert_eq!(verify.code, 0, "{}", verify.stdout);
    let doc = verify.json();
    assert_eq!(doc["attempt_logs_absent"], 1, "{doc}");
    assert_eq!(doc["attempt_logs"], 0, "{doc}");
    let human = env.run(&["--db", db, "log", "verify"]);
    assert!(
        human
            .stdout
            .contains("1 attempt log file not on this machine"),
        "{}",
        human.stdout
    );
    let logs = env.run(&["--db", db, "logs", &run]);
    assert!(
        logs.stdout
            .contains("is not on this machine: the attempt ran on build-box-7")
            && logs.stdout.ends_with("far away\n"),
        "{}",
        logs.stdout
    );
    // The same file missing from the home's own log, whose attempt ran here: a failure.
    assert_eq!(env.run(&["log", "verify"]).code, 1);
}

#[test]
/// `--json logs` is one JSON document: each attempt with its text, the size and blake3 the
/// log recorded, and where the file is.
fn cortex_json_logs_prints_one_document_with_each_attempts_text_size_and_hash() {
    let env = Env::new();
    env.workflow(
        "two",
        "name: two\nsteps:\n  - {name: a, run: 'echo alpha; echo beta >&2'}\n  - {name: b, run: 'printf gamma'}\n",
    );
    assert_eq!(env.run(&["workflow", "run", "two"]).code, 0);
    let out = env.run(&["--json", "logs"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).expect("one JSON document");
    let attempts = doc["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 2, "{doc}");
    for (attempt, (step, text)) in attempts
        .iter()
        // `printf gamma` wrote no line end, and none is added.
        .zip([("a", "alpha\nbeta\n"), ("b", "gamma")])
    {
        assert_eq!(attempt["step"], step, "{doc}");
        assert_eq!(attempt["attempt"], 1, "{doc}");
        assert_eq!(attempt["status"], "kept", "{doc}");
        assert_eq!(attempt["text"], text, "{doc}");
        let bytes = std::fs::read(env.home().join(attempt["file"].as_str().unwrap())).unwrap();
        assert_eq!(attempt["bytes"], bytes.len(), "{doc}");
        assert_eq!(
            attempt["blake3"],
            blake3::hash(&bytes).to_hex().as_str(),
            "{doc}"
        );
    }
    assert_eq!(doc["run_id"], env.status(None)["run_id"]);
    // One step, and --follow of a finished run: the same one document.
    let one = env.run(&["--json", "logs", "two", "b", "--follow"]).json();
    assert_eq!(one["attempts"].as_array().unwrap().len(), 1, "{one}");
    assert_eq!(one["attempts"][0]["text"], "gamma", "{one}");
}

#[test]
/// `cortex logs RUN STEP` of a `foreach:` step prints its items' attempts; of a `uses:` step,
/// it names the child run whose output it is.
fn cortex_logs_of_a_foreach_step_prints_its_items_and_of_a_uses_step_points_to_the_child_run() {
    let env = Env::new();
    env.workflow(
        "fan",
        "name: fan\nsteps:\n  - name: each\n    foreach: [red, green]\n    run: 'echo \"colour ${{ item }}\"'\n",
    );
    let ran = env.run(&["workflow", "run", "fan"]);
    assert_eq!(ran.code, 0, "{}{}", ran.stdout, ran.stderr);
    let logs = env.run(&["logs", "fan", "each"]);
    assert_eq!(
        logs.stdout,
        "── each[0] · attempt 1 ──\ncolour red\n── each[1] · attempt 1 ──\ncolour green\n"
    );
    // `--raw` wants one item: the hint is a command that pastes (`each[0]` quoted: `[` is a
    // shell pattern) and gives that item's bytes.
    let raw = env.run(&["logs", "fan", "each", "--raw"]);
    assert_eq!(raw.code, 2, "{}", raw.stderr);
    let hinted = raw
        .stderr
        .split('`')
        .find(|part| part.starts_with("cortex ") && part.contains("--raw"))
        .unwrap_or_else(|| panic!("no command in the hint: {}", raw.stderr))
        .to_string();
    assert!(hinted.contains("'each[0]'"), "{hinted}");
    let pasted = std::process::Command::new("sh")
        .arg("-c")
        .arg(hinted.replacen("cortex", env!("CARGO_BIN_EXE_cortex"), 1))
        .env("CORTEX_HOME", env.home())
        .current_dir(env.dir.path())
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&pasted.stdout),
        "colour red\n",
        "{}",
        String::from_utf8_lossy(&pasted.stderr)
    );
    env.workflow(
        "child",
        "name: child\nsteps:\n  - {name: c, run: 'echo from the child'}\n",
    );
    env.workflow(
        "parent",
        "name: parent\nsteps:\n  - {name: call, uses: child}\n",
    );
    let ran = env.run(&["workflow", "run", "parent"]);
    assert_eq!(ran.code, 0, "{}{}", ran.stdout, ran.stderr);
    let child = env.run(&["--json", "logs", "parent", "call"]).json();
    let child_run = child["attempts"][0]["child_run_id"]
        .as_str()
        .unwrap()
        .to_string();
    let logs = env.run(&["logs", "parent", "call"]);
    assert!(
        logs.stdout.contains(&format!("`cortex logs {child_run}`")),
        "{}",
        logs.stdout
    );
    let of_child = env.run(&["logs", &child_run]);
    assert_eq!(of_child.stdout, "── c · attempt 1 ──\nfrom the child\n");
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

/// The file name of attempt `n` of unit `step` (`logs/RUN/` holds it).
fn attempt_file(step: &str, n: u32) -> String {
    let name = cortex::execute::attempt_log_name("RUN", step, n);
    name.rsplit('/').next().unwrap().to_string()
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
/// The attempt log is written as lines arrive, and `cortex logs --follow` prints one header
/// per attempt and each line as it comes: a step prints a line, then waits for a file this
/// test creates only once it has seen that line, both in the file and from `--follow`.
fn cortex_logs_follow_prints_one_header_per_attempt_and_lines_as_they_come() {
    let env = Env::new();
    env.workflow(
        "slow",
        "name: slow\nsteps:\n  - name: tick\n    run: 'echo first; while [ ! -f go ]; do sleep 0.05; done; echo second'\n  - name: after\n    run: echo after\n",
    );
    let following = Following::start(&env, "workflow", "slow");
    let mut text = Vec::new();
    // The step waits for `go`: its first line can only come while it runs.
    following.wait_for("first", &mut text);
    let file = walk(&env.home().join("logs"))
        .into_iter()
        .find(|p| p.ends_with(attempt_file("tick", 1)))
        .expect("the attempt's file exists while it runs");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "first\n");
    std::fs::write(env.project().join("go"), "").unwrap();
    following.finish(&mut text);
    assert_eq!(
        text,
        [
            "── tick · attempt 1 ──",
            "first",
            "second",
            "── after · attempt 1 ──",
            "after"
        ],
        "{text:?}"
    );
}

#[test]
/// `--follow` of attempts in flight side by side (parallel phases): every line is under the
/// header of the attempt that printed it — an attempt whose lines resume after another's gets
/// its header again. Each phase prints a line, waits for a file this test creates once it has
/// seen the lines it expects, then prints another.
fn cortex_logs_follow_keeps_each_line_of_parallel_attempts_under_its_own_header() {
    let env = Env::new();
    env.scenario("side", "name: side\ndescription: two phases side by side\nmax_parallel: 2\nphases:\n  - name: a\n    description: a\n    parallel: true\n    run: 'echo A1; while [ ! -f ga ]; do sleep 0.05; done; echo A2'\n  - name: b\n    description: b\n    parallel: true\n    run: 'echo B1; while [ ! -f gb ]; do sleep 0.05; done; echo B2'\n");
    let following = Following::start(&env, "orchestrate", "side");
    let mut text: Vec<String> = Vec::new();
    following.wait_for("A1", &mut text);
    following.wait_for("B1", &mut text);
    std::fs::write(env.project().join("ga"), "").unwrap();
    following.wait_for("A2", &mut text);
    std::fs::write(env.project().join("gb"), "").unwrap();
    following.wait_for("B2", &mut text);
    following.finish(&mut text);
    let mut under: Option<char> = None;
    for line in &text {
        if let Some(rest) = line.strip_prefix("── ") {
            under = rest.chars().next();
        } else {
            let who = line.chars().next().map(|c| c.to_ascii_lowercase());
            assert_eq!(
                who, under,
                "`{line}` is under another attempt's header: {text:?}"
            );
        }
    }
    assert!(
        text.iter().any(|l| l.ends_with("(continued) ──")),
        "B2 came after A2: b's header is said again: {text:?}"
    );
}

#[test]
/// `--follow` of a run whose `uses:` step runs a child workflow follows the child's steps as
/// they run, each under the parent's step and its own (`deploy › build · attempt 1`), before
/// the parent's next step; and `logs RUN STEP` of the `uses:` step names the child run whose
/// logs hold its output. The child's step prints a line, then waits for a file this test
/// creates once the follower has shown that line: it is shown while the child runs.
fn cortex_logs_follow_follows_a_uses_steps_child_run_under_the_parent_step() {
    let env = Env::new();
    env.workflow(
        "child",
        "name: child\nsteps:\n  - name: build\n    run: 'echo child-first; while [ ! -f go ]; do sleep 0.05; done; echo child-second'\n  - name: test\n    run: echo child-tested\n",
    );
    env.workflow(
        "parent",
        "name: parent\nsteps:\n  - name: prep\n    run: echo prepped\n  - name: deploy\n    uses: child\n  - name: after\n    run: echo after\n",
    );
    let following = Following::start(&env, "workflow", "parent");
    let mut text = Vec::new();
    following.wait_for("child-first", &mut text);
    std::fs::write(env.project().join("go"), "").unwrap();
    following.finish(&mut text);
    let child = env.run(&["--json", "workflow", "status", "child"]).json()["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        text,
        [
            "── prep · attempt 1 ──".to_string(),
            "prepped".into(),
            "── deploy · attempt 1 ──".into(),
            format!("(ran child run {child}: `cortex logs {child}` prints its output)"),
            "── deploy › build · attempt 1 ──".into(),
            "child-first".into(),
            "child-second".into(),
            "── deploy › test · attempt 1 ──".into(),
            "child-tested".into(),
            "── after · attempt 1 ──".into(),
            "after".into(),
        ],
        "{text:?}"
    );
    let step = env.run(&["logs", "parent", "deploy"]);
    assert_eq!(step.code, 0, "{}", step.stderr);
    assert!(
        step.stdout.contains(&format!("ran child run {child}")),
        "{}",
        step.stdout
    );
    let doc = env.run(&["--json", "logs", "parent", "deploy"]).json();
    assert_eq!(doc["attempts"][0]["child_run_id"], child.as_str(), "{doc}");
}

/// `cortex logs NAME --follow` of a run started with `run` (a `group run NAME` command, whose
/// runs `group history` lists): the driver, the follower, and the follower's lines as they
/// come, from a reader thread (joined once the follower has ended).
struct Following {
    driver: std::process::Child,
    follow: std::process::Child,
    seen: std::sync::mpsc::Receiver<String>,
    reader: std::thread::JoinHandle<()>,
}

impl Following {
    fn start(env: &Env, group: &str, name: &str) -> Following {
        use std::io::BufRead;
        let driver = env
            .command(&[group, "run", name])
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        // Once the run has begun, follow it.
        let until = Instant::now() + Duration::from_secs(30);
        while !env.db().exists()
            || env.run(&["--json", group, "history"]).json()["runs"].clone()
                == serde_json::json!([])
        {
            assert!(Instant::now() < until);
            std::thread::sleep(Duration::from_millis(50));
        }
        let mut follow = env
            .command(&["logs", name, "--follow"])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let (lines, seen) = std::sync::mpsc::channel::<String>();
        let stdout = follow.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines() {
                let _ = lines.send(line.unwrap());
            }
        });
        Following {
            driver,
            follow,
            seen,
            reader,
        }
    }

    /// Read lines into `text` until `want` has come.
    fn wait_for(&self, want: &str, text: &mut Vec<String>) {
        while !text.iter().any(|l| l == want) {
            let line = self
                .seen
                .recv_timeout(Duration::from_secs(60))
                .unwrap_or_else(|_| panic!("`{want}` never came: {text:?}"));
            text.push(line);
        }
    }

    /// Both processes ended with 0; the rest of the follower's lines added to `text`.
    fn finish(mut self, text: &mut Vec<String>) {
        assert_eq!(self.driver.wait().unwrap().code(), Some(0));
        assert_eq!(self.follow.wait().unwrap().code(), Some(0));
        self.reader.join().unwrap();
        text.extend(self.seen.try_iter());
    }
}

#[test]
/// N4: `cortex logs` checks a kept file against the size and blake3 its event recorded, as
/// `log verify` does: a changed file is marked changed (human and `--json`), never shown as
/// the attempt's output without a word.
fn cortex_logs_marks_an_attempt_log_changed_since_it_was_recorded() {
    let env = Env::new();
    env.workflow(
        "spewer",
        "name: spewer\nsteps:\n  - {name: spew, run: 'echo secret-evidence'}\n",
    );
    assert_eq!(env.run(&["workflow", "run", "spewer"]).code, 0);
    let kept = events(&env)
        .into_iter()
        .find(|e| e["type"] == "attempt_log")
        .unwrap();
    let run = kept["run_id"].as_str().unwrap().to_string();
    let path = env.home().join(kept["body"]["file"].as_str().unwrap());
    let doc = env.run(&["--json", "logs", &run, "spew"]).json();
    assert_eq!(doc["attempts"][0]["status"], "kept", "{doc}");
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push('X');
    std::fs::write(&path, text).unwrap();
    let logs = env.run(&["logs", &run, "spew"]);
    assert_eq!(logs.code, 0, "{}", logs.stderr);
    assert!(
        logs.stdout
            .starts_with("── spew · attempt 1 ──\n(changed since the log recorded it: ")
            && logs.stdout.contains("was changed: it holds 17 bytes"),
        "{}",
        logs.stdout
    );
    let doc = env.run(&["--json", "logs", &run, "spew"]).json();
    let attempt = &doc["attempts"][0];
    assert_eq!(attempt["status"], "changed", "{doc}");
    assert!(
        attempt["changed"].as_str().unwrap().contains("was changed"),
        "{doc}"
    );
    // The same size, other bytes: the hash tells.
    std::fs::write(&path, "secret-evidencX\n").unwrap();
    let doc = env.run(&["--json", "logs", &run, "spew"]).json();
    assert_eq!(doc["attempts"][0]["status"], "changed", "{doc}");
}

#[test]
/// N4: each attempt log records the identity of the home that wrote it (`home.id`), so that
/// deleting a run's whole `logs/RUN/` folder, or `logs/`, on that home fails `log verify`
/// naming the run, seq and file; while the same log copied into another home (`log copy`)
/// reads the files as not here and verifies.
fn deleting_a_runs_whole_log_folder_on_the_home_that_wrote_it_fails_log_verify() {
    let env = Env::new();
    env.workflow(
        "spewer",
        "name: spewer\nsteps:\n  - {name: spew, run: 'echo secret-evidence'}\n",
    );
    assert_eq!(env.run(&["workflow", "run", "spewer"]).code, 0);
    let kept = events(&env)
        .into_iter()
        .find(|e| e["type"] == "attempt_log")
        .unwrap();
    let run = kept["run_id"].as_str().unwrap().to_string();
    let id = std::fs::read_to_string(env.home().join("home.id")).unwrap();
    assert_eq!(kept["body"]["home"], id.trim(), "{kept}");
    // A copy in another home, made while the files are still here.
    let other = env.project().join("other-home");
    std::fs::create_dir_all(&other).unwrap();
    let to = other.join("cortex.db");
    let copied = env.run(&["log", "copy", "--to", to.to_str().unwrap()]);
    assert_eq!(copied.code, 0, "{}", copied.stderr);
    // `log copy` carries the files beside the copy; the log alone (a database file copied by
    // hand) is what the other home holds here.
    assert!(other.join("logs").join(&run).is_dir());
    std::fs::remove_dir_all(other.join("logs")).unwrap();

    std::fs::remove_dir_all(env.home().join("logs").join(&run)).unwrap();
    let verify = env.run(&["--json", "log", "verify", "--all"]);
    assert_eq!(verify.code, 1, "{}", verify.stdout);
    let bad = &verify.json()["first_bad"];
    assert_eq!(bad["run_id"], run.as_str(), "{bad}");
    assert_eq!(bad["seq"], kept["seq"], "{bad}");
    assert!(
        bad["reason"]
            .as_str()
            .unwrap()
            .contains("is missing: this home wrote it"),
        "{bad}"
    );
    std::fs::remove_dir_all(env.home().join("logs")).unwrap();
    assert_eq!(env.run(&["log", "verify", "--all"]).code, 1);
    let logs = env.run(&["--json", "logs", &run, "spew"]).json();
    assert_eq!(logs["attempts"][0]["status"], "missing", "{logs}");

    let elsewhere = env.run(&[
        "--json",
        "--home",
        other.to_str().unwrap(),
        "log",
        "verify",
        "--all",
    ]);
    // The home that wrote the file is on this machine, at the folder its event records:
    // checked there, where it is gone too — a loss, not a file kept elsewhere.
    assert_eq!(elsewhere.code, 1, "{}", elsewhere.stdout);
    let reason = elsewhere.json()["first_bad"]["reason"].to_string();
    assert!(
        reason.contains("neither here nor in the home that wrote it"),
        "{reason}"
    );
    let logs = env
        .run(&[
            "--json",
            "--home",
            other.to_str().unwrap(),
            "logs",
            &run,
            "spew",
        ])
        .json();
    assert_eq!(logs["attempts"][0]["status"], "elsewhere", "{logs}");
    // Said as it is: written on this machine, in another home (named by its folder and its
    // identity), never "on another host", never with a placeholder that cannot be pasted.
    let human = env.run(&["--home", other.to_str().unwrap(), "logs", &run, "spew"]);
    assert!(
        human
            .stdout
            .contains(&format!("whose home.id holds {})", id.trim())),
        "{}",
        human.stdout
    );
    assert!(!human.stdout.contains("THAT_HOME"), "{}", human.stdout);
}

#[test]
/// N8: an attempt whose driver was killed before it ended keeps its partial file, with no
/// size or hash recorded: `cortex logs` marks it "(interrupted, not recorded)" as `--json`
/// says `not_recorded`.
fn cortex_logs_marks_an_attempt_whose_driver_was_killed_as_interrupted_not_recorded() {
    let env = Env::new();
    env.workflow(
        "killed",
        "name: killed\nsteps:\n  - name: slow\n    run: if [ -f again ]; then echo second; else touch again; echo partial; while [ ! -f go ]; do sleep 0.1; done; fi\n",
    );
    let mut child = env.spawn(&["workflow", "run", "killed"]);
    let until = Instant::now() + Duration::from_secs(30);
    while !walk(&env.home().join("logs"))
        .iter()
        .any(|f| std::fs::read_to_string(f).is_ok_and(|t| t.contains("partial")))
    {
        assert!(Instant::now() < until, "the attempt never printed");
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    // The attempt ran on until its driver was dead (however late the test saw it print):
    // its command may end now.
    std::fs::write(env.project().join("go"), "").unwrap();
    let resumed = env.run(&["workflow", "resume"]);
    assert_eq!(resumed.code, 0, "{}{}", resumed.stdout, resumed.stderr);
    let run = env.status(None)["run_id"].as_str().unwrap().to_string();
    let doc = env.run(&["--json", "logs", &run, "slow"]).json();
    assert_eq!(doc["attempts"][0]["status"], "not_recorded", "{doc}");
    assert_eq!(doc["attempts"][1]["status"], "kept", "{doc}");
    let logs = env.run(&["logs", &run, "slow"]);
    assert!(
        logs.stdout.starts_with(
            "── slow · attempt 1 ──\n(interrupted, not recorded: the attempt was cut off before it ended"
        ) && logs.stdout.contains("partial\n── slow · attempt 2 ──\nsecond\n"),
        "{}",
        logs.stdout
    );
}

#[test]
/// An attempt whose driver was SIGKILLed mid-attempt, before anything recorded its end: with
/// no live driver `status` says interrupted, and `logs` judges it by the same liveness — its
/// file is shown under "(interrupted, not recorded: …)", `--json` says `not_recorded`. Before,
/// it was listed `in_flight` and a file at its path was printed with no note.
fn cortex_logs_judges_an_attempt_of_a_killed_driver_interrupted_as_status_does() {
    let env = Env::new();
    env.workflow(
        "killed",
        "name: killed\nsteps:\n  - name: slow\n    run: echo partial; while [ ! -f go ]; do sleep 0.1; done\n",
    );
    let mut child = env.spawn(&["workflow", "run", "killed"]);
    let until = Instant::now() + Duration::from_secs(30);
    while !walk(&env.home().join("logs"))
        .iter()
        .any(|f| std::fs::read_to_string(f).is_ok_and(|t| t.contains("partial")))
    {
        assert!(Instant::now() < until, "the attempt never printed");
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let status = env.status(None);
    let run = status["run_id"].as_str().unwrap().to_string();
    assert_eq!(status["status"], "interrupted", "{status}");
    let doc = env.run(&["--json", "logs", &run, "slow"]).json();
    assert_eq!(doc["attempts"][0]["status"], "not_recorded", "{doc}");
    let logs = env.run(&["logs", &run, "slow"]);
    assert!(
        logs.stdout.starts_with(
            "── slow · attempt 1 ──\n(interrupted, not recorded: the attempt was cut off before it ended"
        ) && logs.stdout.contains("partial\n"),
        "{}",
        logs.stdout
    );
    std::fs::write(env.project().join("go"), "").unwrap();
}

/// What the step below writes: CRLF line ends, a NUL, bytes that are not UTF-8, an escape
/// sequence, a secret, 6,000 lines (far past the 4 KiB tail) and a last line without its
/// line end; stderr's one line ends the output (written after stdout closed).
const EXACT_STEP: &str = "name: exact\nsteps:\n  - name: emit\n    run: |\n      printf 'crlf\\r\\nnul\\000byte\\n\\377\\376not-utf8\\n\\033[31mred\\n'\n      echo \"token=$GITHUB_TOKEN\"\n      seq 1 6000\n      printf 'last-no-newline'\n      exec 1>&-\n      sleep 0.2\n      echo err >&2\n";

fn exact_bytes() -> Vec<u8> {
    let mut want: Vec<u8> =
        b"crlf\r\nnul\0byte\n\xff\xfenot-utf8\n\x1b[31mred\ntoken=***\n".to_vec();
    for i in 1..=6000 {
        want.extend_from_slice(format!("{i}\n").as_bytes());
    }
    want.extend_from_slice(b"last-no-newlineerr\n");
    want
}

#[test]
/// An attempt's whole output is the bytes its process wrote — a `\r\n`, a NUL, bytes that
/// are not UTF-8 and a last line without its line end kept as they were (they were decoded,
/// trimmed and given a `\n`) — with only secrets replaced; `cortex logs STEP --raw` gives them
/// back byte for byte, `--json` as `base64` beside the text, and the human output shows them
/// decoded and escaped.
fn an_attempt_log_keeps_the_exact_bytes_the_step_wrote() {
    let env = Env::new();
    env.workflow("exact", EXACT_STEP);
    let run = env
        .command(&["workflow", "run", "exact"])
        .env("GITHUB_TOKEN", "ghp_exactbytes0123456789")
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(0));
    let want = exact_bytes();
    let kept = events(&env)
        .into_iter()
        .find(|e| e["type"] == "attempt_log")
        .unwrap();
    let file = std::fs::read(env.home().join(kept["body"]["file"].as_str().unwrap())).unwrap();
    assert!(file == want, "{:?}", String::from_utf8_lossy(&file));
    assert_eq!(kept["body"]["bytes"], want.len());
    assert_eq!(
        kept["body"]["blake3"],
        blake3::hash(&want).to_hex().as_str()
    );
    // --raw: the bytes, nothing else (its stdout is a pipe here, not a terminal).
    let raw = env
        .command(&["logs", "exact", "emit", "--raw"])
        .output()
        .unwrap();
    assert_eq!(raw.status.code(), Some(0));
    assert!(
        raw.stdout == want,
        "{:?}",
        String::from_utf8_lossy(&raw.stdout)
    );
    let json = env
        .run(&[
            "--json",
            "logs",
            "exact",
            "emit",
            "--tail-bytes",
            "100000000",
        ])
        .json();
    let attempt = &json["attempts"][0];
    use base64::Engine;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(
            attempt["base64"]
                .as_str()
                .expect("not UTF-8: the bytes in base64"),
        )
        .unwrap();
    assert!(decoded == want);
    assert_eq!(attempt["text"], String::from_utf8_lossy(&want).as_ref());
    // For a person: decoded, `\r\n` a line end, every other control character escaped.
    let shown = env.run(&["logs", "exact", "emit"]);
    assert!(
        shown.stdout.starts_with(
            "── emit · attempt 1 ──\ncrlf\nnul\\u{0}byte\n\u{fffd}\u{fffd}not-utf8\n\\u{1b}[31mred\ntoken=***\n1\n"
        ),
        "{}",
        shown.stdout
    );
    assert!(shown.stdout.ends_with("6000\nlast-no-newlineerr\n"));
    assert!(env.run(&["log", "verify"]).code == 0);
    // The tail in the log stays text: the last 4 KiB of the lines, each with a line end.
    let ended = events(&env)
        .into_iter()
        .find(|e| e["type"] == "step_succeeded")
        .unwrap();
    let tail = ended["body"]["output_tail"].as_str().unwrap().to_string();
    assert!(
        tail.len() <= 4096 && tail.ends_with("6000\nlast-no-newline\nerr\n"),
        "{tail}"
    );
}

#[test]
/// `--raw` names one attempt: STEP is required, `--attempt N` must be one that ran, it does not
/// go with `--json` or `--follow`, and an attempt that printed nothing gives nothing.
fn cortex_logs_raw_refuses_what_is_not_one_attempt() {
    let env = Env::new();
    env.workflow(
        "twice",
        "name: twice\nsteps:\n  - name: flaky\n    run: printf 'try'; test -f ok || { touch ok; exit 1; }\n    retry: {max_retry_attempts: 1, backoff: 1ms}\n  - {name: silent, run: 'true'}\n",
    );
    assert_eq!(env.run(&["workflow", "run", "twice"]).code, 0);
    assert_eq!(env.run(&["logs", "twice", "flaky", "--raw"]).stdout, "try");
    let first = env.run(&["logs", "twice", "flaky", "--raw", "--attempt", "1"]);
    assert_eq!((first.code, first.stdout.as_str()), (0, "try"));
    let none = env.run(&["logs", "twice", "flaky", "--raw", "--attempt", "3"]);
    assert_eq!(none.code, 2, "{}", none.stderr);
    assert!(none.stderr.contains("no attempt 3") && none.stderr.contains("its attempts: 1, 2"));
    let silent = env.run(&["logs", "twice", "silent", "--raw"]);
    assert_eq!((silent.code, silent.stdout.as_str()), (0, ""));
    // Bytes that are not here, or not as recorded, are never given as the attempt's.
    let files: Vec<_> = walk(&env.home().join("logs"));
    let first = files
        .iter()
        .find(|p| p.ends_with(attempt_file("flaky", 1)))
        .unwrap();
    let second = files
        .iter()
        .find(|p| p.ends_with(attempt_file("flaky", 2)))
        .unwrap();
    std::fs::remove_file(first).unwrap();
    std::fs::write(second, "forged").unwrap();
    let missing = env.run(&["logs", "twice", "flaky", "--raw", "--attempt", "1"]);
    assert_eq!((missing.code, missing.stdout.as_str()), (1, ""));
    assert!(missing.stderr.contains("is missing"), "{}", missing.stderr);
    let changed = env.run(&["logs", "twice", "flaky", "--raw"]);
    assert_eq!((changed.code, changed.stdout.as_str()), (1, ""));
    assert!(changed.stderr.contains("was changed"), "{}", changed.stderr);
    for args in [
        &["logs", "twice", "--raw"][..],
        &["logs", "twice", "flaky", "--raw", "--follow"],
        &["logs", "twice", "flaky", "--tail-bytes", "10"],
        &["logs", "twice", "flaky", "--attempt", "1", "--follow"],
        &["--json", "logs", "twice", "flaky", "--raw"],
        &["logs", "twice", "nope", "--raw"],
    ] {
        let out = env.run(args);
        assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
        assert!(out.stdout.is_empty() || args[0] == "--json", "{args:?}");
    }
}

#[test]
/// `--follow` counted the text it had shown as the offset into the file: a line with bytes
/// that are not UTF-8 is longer as text (each shown as the three bytes of U+FFFD), so the
/// follower skipped the next lines. It counts the file's bytes.
fn cortex_logs_follow_counts_the_files_bytes_not_the_text_it_showed() {
    let env = Env::new();
    env.workflow(
        "binary",
        "name: binary\nsteps:\n  - name: tick\n    run: 'printf \"\\377\\377\\377\\377 one\\n\"; while [ ! -f go ]; do sleep 0.05; done; echo second-line; echo third'\n",
    );
    let following = Following::start(&env, "workflow", "binary");
    let mut text = Vec::new();
    following.wait_for("\u{fffd}\u{fffd}\u{fffd}\u{fffd} one", &mut text);
    std::fs::write(env.project().join("go"), "").unwrap();
    following.finish(&mut text);
    assert_eq!(
        text,
        [
            "── tick · attempt 1 ──",
            "\u{fffd}\u{fffd}\u{fffd}\u{fffd} one",
            "second-line",
            "third"
        ],
        "{text:?}"
    );
}

#[test]
/// A line longer than the 64 KiB a pipe's unsplit output may hold is passed on in pieces; a
/// piece cut through a secret kept its first part, and the next piece the rest, so neither was
/// scrubbed and the kept file (which now joins the pieces) held it whole. Pieces are cut
/// outside any secret, holding back what could begin one.
fn a_secret_across_the_cut_of_an_over_long_line_is_never_kept() {
    let env = Env::new();
    let secret = "ghp_acrossthecut0123456789abcdef";
    env.workflow(
        "long",
        "name: long\nsteps:\n  - name: emit\n    run: 'i=0; while [ $i -lt 12000 ]; do printf \"%s \" \"$GITHUB_TOKEN\"; i=$((i+1)); done; echo'\n",
    );
    let run = env
        .command(&["workflow", "run", "long"])
        .env("GITHUB_TOKEN", secret)
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(0));
    let raw = env
        .command(&["logs", "long", "emit", "--raw"])
        .output()
        .unwrap();
    let mut want = "*** ".repeat(12000).into_bytes();
    want.push(b'\n');
    assert!(raw.stdout == want, "{} bytes", raw.stdout.len());
    for entry in walk(&env.home()) {
        let bytes = std::fs::read(&entry).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        for piece in secret.as_bytes().windows(8) {
            let piece = std::str::from_utf8(piece).unwrap();
            assert!(!text.contains(piece), "{} holds `{piece}`", entry.display());
        }
    }
}

/// Bytes of about `len` whose awkward sequences straddle every 64 KiB boundary of the file:
/// `\r\n`, `\r\r\n`, a lone `\r`, characters of 2, 3 and 4 bytes, bytes that are not UTF-8,
/// a character cut short, an escape sequence; lines between them, one longer than a piece;
/// a line end at the end.
fn straddling_bytes(len: usize) -> Vec<u8> {
    const PIECE: usize = 64 * 1024;
    let awkward: [&[u8]; 9] = [
        b"\r\n",
        b"\r\r\n",
        b"\ra",
        "é".as_bytes(),
        "€".as_bytes(),
        "😀".as_bytes(),
        b"\xff\xfe",
        b"\xe2\x82x\xf0\x9f\x98\n",
        b"\x1b[31m",
    ];
    let mut out = Vec::with_capacity(len + PIECE);
    let mut k = 1;
    while out.len() < len {
        let seq = awkward[k % awkward.len()];
        // It starts 1 to len-1 bytes before the boundary, so the boundary cuts it.
        let start = k * PIECE - 1 - (k % seq.len().saturating_sub(1).max(1));
        // Piece 3 is one line from end to end.
        while out.len() < start {
            let i = out.len();
            out.push(if i % 97 == 96 && k != 3 {
                b'\n'
            } else {
                b'a' + (i % 26) as u8
            });
        }
        out.extend_from_slice(seq);
        k += 1;
    }
    out.push(b'\n');
    out
}

/// `bytes` as `cortex logs` shows them to a person: decoded (U+FFFD), `\r\n` a line end, every
/// other control character in these bytes (`\r`, ESC) escaped.
fn shown_to_a_person(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .replace("\r\n", "\n")
        .replace('\r', "\\u{d}")
        .replace('\u{1b}', "\\u{1b}")
}

#[test]
/// `cortex logs` read each attempt's file whole and built the text of every attempt in one
/// string (a step that printed 67 MB made it hold 343 MB; `--raw` 79 MB): it now reads the
/// file in 64 KiB pieces as it prints, decoding across their cuts. What it prints must be
/// exactly what the whole file rendered gives — for a person (U+FFFD, `\r\n` as `\n`, escapes),
/// for `--raw` (the bytes) and for `--json` (text and base64) — with invalid UTF-8, `\r\n`
/// and characters cut by every piece boundary of a multi-megabyte log; while the attempt is in
/// flight, all its file holds, a line still being written too (passed on to the file a moment
/// after it stops growing), given its line end for the reader.
fn cortex_logs_held_whole_attempt_files_in_memory_and_now_streams_them_exactly() {
    let env = Env::new();
    let want = straddling_bytes(3 << 20);
    std::fs::write(env.project().join("big.bin"), &want).unwrap();
    // After the file, a line longer than a piece, without its line end, and a wait: the
    // kept file holds it while the attempt is in flight.
    env.workflow(
        "big",
        "name: big\nsteps:\n  - name: emit\n    run: 'cat big.bin; head -c 100000 /dev/zero | tr \"\\0\" x; while [ ! -f go ]; do sleep 0.05; done; echo'\n",
    );
    let mut driver = env
        .command(&["workflow", "run", "big"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let until = Instant::now() + Duration::from_secs(60);
    let file = loop {
        let logs = env.home().join("logs");
        let found = if logs.is_dir() {
            walk(&logs)
        } else {
            Vec::new()
        }
        .into_iter()
        .find(|p| p.ends_with(attempt_file("emit", 1)));
        if let Some(file) = found
            && std::fs::metadata(&file).unwrap().len() == want.len() as u64 + 100_000
        {
            break file;
        }
        assert!(
            Instant::now() < until,
            "the long line never reached the file"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let header = "── emit · attempt 1 ──\n";
    // In flight: all of it, the line being written too.
    let mut so_far = want.clone();
    so_far.extend(std::iter::repeat_n(b'x', 100_000));
    let shown = env.run(&["logs", "big", "emit"]);
    assert_eq!(shown.code, 0, "{}", shown.stderr);
    assert!(
        shown.stdout == format!("{header}{}\n", shown_to_a_person(&so_far)),
        "in flight: {} bytes shown",
        shown.stdout.len()
    );
    let json = env
        .run(&["--json", "logs", "big", "emit", "--tail-bytes", "100000000"])
        .json();
    assert_eq!(json["attempts"][0]["status"], "in_flight");
    assert_eq!(json["attempts"][0]["bytes"], so_far.len());
    assert!(json["attempts"][0]["text"] == String::from_utf8_lossy(&so_far).as_ref());
    std::fs::write(env.project().join("go"), "").unwrap();
    assert_eq!(driver.wait().unwrap().code(), Some(0));
    // Ended: the whole file, as recorded.
    let mut whole = want.clone();
    whole.extend(std::iter::repeat_n(b'x', 100_000));
    whole.push(b'\n');
    assert!(std::fs::read(&file).unwrap() == whole);
    let shown = env.run(&["logs", "big", "emit"]);
    assert!(
        shown.stdout == format!("{header}{}", shown_to_a_person(&whole)),
        "ended: {} bytes shown",
        shown.stdout.len()
    );
    let raw = env
        .command(&["logs", "big", "emit", "--raw"])
        .output()
        .unwrap();
    assert_eq!(raw.status.code(), Some(0));
    assert!(raw.stdout == whole, "--raw: {} bytes", raw.stdout.len());
    assert!(raw.stderr.is_empty());
    // Each attempt gives 16 KiB by default; asked for more than a document holds, it holds
    // the 8 MiB.
    let json = env
        .run(&["--json", "logs", "big", "emit", "--tail-bytes", "100000000"])
        .json();
    let attempt = &json["attempts"][0];
    assert_eq!(attempt["status"], "kept");
    assert_eq!(attempt["bytes"], whole.len());
    assert!(attempt["truncated"].is_null() && attempt["omitted_bytes"].is_null());
    assert!(attempt["text"] == String::from_utf8_lossy(&whole).as_ref());
    use base64::Engine;
    let exact = base64::engine::general_purpose::STANDARD
        .decode(attempt["base64"].as_str().unwrap())
        .unwrap();
    assert!(exact == whole);
}

#[test]
/// A `--json` document of `cortex logs` (also the MCP tool's result and the HTTP API's
/// answer) is held whole: it holds at most `JSON_OUTPUT_MAX` bytes of output, the last of
/// them, and says so (`truncated`, `omitted_bytes`, and a line in its text) — never cut
/// silently — while `cortex logs` and `--raw` still give all of it.
fn a_json_document_of_cortex_logs_holds_the_last_bytes_of_a_huge_log_and_says_it_is_truncated() {
    let env = Env::new();
    let max = cortex::ops::attempt_logs::JSON_OUTPUT_MAX as usize;
    assert_eq!(
        max,
        8 << 20,
        "schemas/openapi.json and the MCP tool say 8 MiB"
    );
    let want = straddling_bytes(max + (1 << 20));
    std::fs::write(env.project().join("big.bin"), &want).unwrap();
    env.workflow(
        "big",
        "name: big\nsteps:\n  - name: emit\n    run: cat big.bin\n",
    );
    assert_eq!(env.run(&["workflow", "run", "big"]).code, 0);
    // Each attempt gives 16 KiB by default; asked for more than a document holds, it holds
    // the 8 MiB.
    let json = env
        .run(&["--json", "logs", "big", "emit", "--tail-bytes", "100000000"])
        .json();
    let attempt = &json["attempts"][0];
    assert_eq!(attempt["status"], "kept");
    assert_eq!(attempt["bytes"], want.len());
    assert_eq!(attempt["truncated"], true);
    let omitted = attempt["omitted_bytes"].as_u64().unwrap() as usize;
    // The last bytes that fit, moved past a character the cut would split.
    assert!((want.len() - max..want.len() - max + 4).contains(&omitted));
    assert!(attempt["text"] == String::from_utf8_lossy(&want[omitted..]).as_ref());
    use base64::Engine;
    let exact = base64::engine::general_purpose::STANDARD
        .decode(attempt["base64"].as_str().unwrap())
        .unwrap();
    assert!(exact == want[omitted..]);
    let shown = env.run(&["logs", "big", "emit"]);
    assert!(
        shown.stdout == format!("── emit · attempt 1 ──\n{}", shown_to_a_person(&want)),
        "{} bytes shown",
        shown.stdout.len()
    );
    let raw = env
        .command(&["logs", "big", "emit", "--raw"])
        .output()
        .unwrap();
    assert!(raw.stdout == want);
}

#[test]
/// `cortex logs RUN --follow` of a run submitted for workers (`run --submit`) waits for a worker
/// to take it and prints its lines as they come. Before, it ended at once saying no command of
/// the run had run, since nobody drove it yet.
fn cortex_logs_follow_of_a_submitted_run_waits_for_a_worker_and_follows_it() {
    use std::io::BufRead;
    let env = Env::new();
    env.workflow(
        "later",
        "name: later\nsteps:\n  - name: work\n    run: echo from-the-worker\n",
    );
    let out = env.run(&["workflow", "run", "later", "--submit"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let run = out.stdout.trim().to_string();
    let mut follow = env
        .command(&["logs", &run, "--follow"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(follow.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    assert_eq!(
        first,
        "(submitted for workers: waiting for one to take the run)"
    );
    let mut worker = env
        .command(&["worker", "--until-idle", "--poll", "100ms"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let rest: Vec<String> = lines.map(Result::unwrap).collect();
    assert_eq!(
        rest,
        ["── work · attempt 1 ──", "from-the-worker"],
        "{rest:?}"
    );
    assert_eq!(follow.wait().unwrap().code(), Some(0));
    assert_eq!(worker.wait().unwrap().code(), Some(0));
}

#[test]
/// An attempt that ran on this machine in another home sharing the log (here: that home's
/// SQLite file named with `--db`): `cortex logs` says the file is in that other home, not that
/// it "is not on this machine" — which named the very machine it was asked on.
fn cortex_logs_of_an_attempt_from_another_home_on_this_machine_says_so() {
    let env = Env::new();
    env.workflow(
        "here",
        "name: here\nsteps:\n  - {name: s, run: echo from-the-other-home}\n",
    );
    assert_eq!(env.run(&["workflow", "run", "here"]).code, 0);
    let db = env.db().display().to_string();
    let other = tempfile::tempdir().unwrap();
    let out = env
        .command(&[
            "--home",
            other.path().to_str().unwrap(),
            "--db",
            &db,
            "logs",
            "here",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("is not in this home") && text.contains("in another home sharing the log"),
        "{text}"
    );
    assert!(!text.contains("not on this machine"), "{text}");
}

/// Seen by a review: `logs/` deleted while an attempt wrote to its file left the log
/// vouching for bytes nobody could read ("8 bytes of output kept"), and `log verify` failed
/// for good, as for tampering. An attempt whose file is gone (or replaced) by its end records
/// no `attempt_log`: the run completes, the tail is in the log, and `log verify` passes.
#[test]
fn an_attempt_whose_log_folder_was_removed_while_it_ran_records_no_file() {
    let env = Env::new();
    env.workflow(
        "gone",
        "name: gone\nsteps:\n  - name: a\n    run: echo one; while [ ! -f removed ]; do sleep 0.05; done; echo two\n",
    );
    let child = env
        .command(&["workflow", "run", "gone"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let until = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !env.home().join("logs").read_dir().is_ok_and(|mut d| {
        d.next().is_some_and(|run| {
            run.map(|r| r.path().read_dir().is_ok_and(|mut f| f.next().is_some()))
                .unwrap_or(false)
        })
    }) {
        assert!(std::time::Instant::now() < until, "the attempt never wrote");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    std::fs::remove_dir_all(env.home().join("logs")).unwrap();
    std::fs::write(env.file("removed"), "").unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let log = events(&env);
    assert!(
        !log.iter().any(|e| e["type"] == "attempt_log"),
        "the log vouches for a file that is gone"
    );
    let finished = log.iter().find(|e| e["type"] == "step_succeeded").unwrap();
    assert!(finished.to_string().contains("two"), "{finished}");
    let verify = env.run(&["--json", "log", "verify"]).json();
    assert_eq!(verify["ok"], true, "{verify}");
}

/// `cortex logs RUN STEP` of a `run:` step the run has not reached (it waits on a report on
/// an earlier prompt step): without `--follow` it says the step has not run yet and why, not
/// that it is a prompt step; with `--follow` it waits for the step to start and follows it,
/// or, when the run comes to rest without starting it, says so. Before, both returned at
/// once with the prompt-step message.
#[test]
fn logs_of_a_step_not_started_yet_says_so_and_follow_waits_for_it() {
    use std::io::Read;
    let env = Env::new();
    env.workflow(
        "later",
        "name: later\nsteps:\n  - {name: Plan, prompt: plan it}\n  - {name: Use, run: 'echo one; sleep 1; echo two'}\n",
    );
    assert_eq!(env.run(&["workflow", "run", "later"]).code, 3);
    let run = env.status(None)["run_id"].as_str().unwrap().to_string();
    let now = env.run(&["logs", &run, "Use"]);
    assert_eq!(now.code, 0, "{}{}", now.stdout, now.stderr);
    assert_eq!(
        now.stdout,
        format!("`Use` in run {run} has not run yet: the run waits for a report on `Plan`.\n")
    );
    let json = env.run(&["--json", "logs", &run, "Use"]);
    assert_eq!(json.json()["attempts"], serde_json::json!([]));

    // Followed: it waits through the report, then follows the step to its end.
    let mut follow = env
        .command(&["logs", &run, "Use", "--follow"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(800));
    assert!(
        follow.try_wait().unwrap().is_none(),
        "--follow waits for the step to start"
    );
    let done = env.run(&["workflow", "step", "complete", "Plan"]);
    assert_eq!(done.code, 0, "{}{}", done.stdout, done.stderr);
    let mut text = String::new();
    follow
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut text)
        .unwrap();
    assert_eq!(follow.wait().unwrap().code(), Some(0));
    assert_eq!(
        text,
        "(waiting for `Use` to start: the run waits for a report on `Plan`)\n── Use · attempt 1 ──\none\ntwo\n"
    );

    // A run that ends without starting it: said, and the follower ends.
    assert_eq!(env.run(&["workflow", "run", "later"]).code, 3);
    let run = env.status(None)["run_id"].as_str().unwrap().to_string();
    let mut follow = env
        .command(&["logs", &run, "Use", "--follow"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let aborted = env.run(&["workflow", "abort", &run]);
    assert_eq!(aborted.code, 1, "{}{}", aborted.stdout, aborted.stderr);
    let mut text = String::new();
    follow
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut text)
        .unwrap();
    assert_eq!(follow.wait().unwrap().code(), Some(0));
    assert!(
        text.ends_with(&format!(
            "`Use` in run {run} did not start: the run ended aborted.\n"
        )),
        "{text}"
    );
}

#[test]
/// An attempt that ended printing nothing has no file and no `attempt_log`: by the log's
/// word its whole output is empty. A file dropped later at its path is a forgery: `cortex
/// logs` never reads it (the attempt is "(no output)", not "interrupted … cut off"), `--raw`
/// gives nothing, and `log verify` fails naming the file — before, the forged text was shown
/// as the attempt's and the log verified.
fn a_file_dropped_at_the_path_of_an_attempt_that_printed_nothing_is_never_shown_and_fails_log_verify()
 {
    let env = Env::new();
    env.workflow(
        "quiet",
        "name: quiet\nsteps:\n  - name: silent\n    run: 'true'\n",
    );
    assert_eq!(env.run(&["workflow", "run", "quiet"]).code, 0);
    let run = env.status(None)["run_id"].as_str().unwrap().to_string();
    assert_eq!(env.run(&["log", "verify", "--all"]).code, 0);
    let dir = env.home().join("logs").join(&run);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(attempt_file("silent", 1)), "FORGED output\n").unwrap();

    let logs = env.run(&["logs", &run, "silent"]);
    assert_eq!(logs.code, 0, "{}", logs.stderr);
    assert_eq!(logs.stdout, "── silent · attempt 1 ──\n(no output)\n");
    let doc = env.run(&["--json", "logs", &run, "silent"]).json();
    assert_eq!(doc["attempts"][0]["status"], "no_output", "{doc}");
    assert!(!doc.to_string().contains("FORGED"), "{doc}");
    let raw = env.run(&["logs", &run, "silent", "--raw"]);
    assert_eq!((raw.code, raw.stdout.as_str()), (0, ""), "{}", raw.stderr);

    for args in [
        vec!["log", "verify", "--all"],
        vec!["log", "verify", run.as_str()],
    ] {
        let verify = env.run(&args);
        assert_eq!(verify.code, 1, "{args:?}: {}", verify.text());
        assert!(
            verify.text().contains(&attempt_file("silent", 1))
                && verify.text().contains("ended with no output recorded"),
            "{args:?}: {}",
            verify.text()
        );
    }
}

#[test]
/// A phase stopped before it printed anything has attempt 1 started and interrupted in the
/// log: `cortex logs` lists it, empty and interrupted — before, it said no command of the run
/// had run, and `--json` gave no attempts.
fn a_phase_stopped_before_it_printed_anything_is_listed_empty_and_interrupted() {
    let env = Env::new();
    env.scenario(
        "slow",
        "name: slow\ndescription: s\nphases:\n  - name: wait\n    description: w\n    run: sleep 20\n",
    );
    let mut child = env.spawn(&["orchestrate", "run", "slow"]);
    let until = Instant::now() + Duration::from_secs(30);
    let started = || {
        let shown = env.run(&["--json", "log", "show"]);
        shown.code == 0 && shown.stdout.contains("\"step_started\"")
    };
    while !started() {
        assert!(Instant::now() < until, "the phase never started");
        std::thread::sleep(Duration::from_millis(100));
    }
    let stopped = env.run(&["orchestrate", "stop", "slow"]);
    assert_eq!(stopped.code, 3, "{}", stopped.text());
    child.wait().unwrap();
    let run = env.run(&["--json", "orchestrate", "status", "slow"]).json()["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    let logs = env.run(&["logs", &run, "wait"]);
    assert_eq!(logs.code, 0, "{}", logs.stderr);
    assert!(
        logs.stdout.starts_with(
            "── wait · attempt 1 ──\n(interrupted, not recorded: the attempt was cut off before it ended"
        ) && logs.stdout.contains("before it printed anything"),
        "{}",
        logs.stdout
    );
    let doc = env.run(&["--json", "logs", &run, "wait"]).json();
    assert_eq!(doc["attempts"][0]["attempt"], 1, "{doc}");
    assert_eq!(doc["attempts"][0]["status"], "not_recorded", "{doc}");
    assert_eq!(doc["attempts"][0]["bytes"], 0, "{doc}");
    assert_eq!(doc["attempts"][0]["text"], "", "{doc}");
}

#[test]
/// A manual phase reported done has one attempt (as status says) that ran no command: an
/// attempt it does not have is refused naming it, and saying why no output was kept —
/// before, "no attempt of it has started".
fn logs_of_a_missing_attempt_of_a_reported_phase_names_the_attempts_it_had() {
    let env = Env::new();
    env.scenario(
        "man",
        "name: man\ndescription: s\nphases:\n  - name: analysis\n    description: w\n    condition: manual\n",
    );
    assert_eq!(env.run(&["orchestrate", "run", "man"]).code, 3);
    assert_eq!(
        env.run(&["orchestrate", "start", "man", "analysis"]).code,
        3
    );
    let done = env.run(&["orchestrate", "complete", "man", "analysis"]);
    assert_eq!(done.code, 0, "{}", done.text());
    let out = env.run(&["logs", "man", "analysis", "--attempt", "99"]);
    assert_eq!(out.code, 2, "{}", out.text());
    assert!(
        out.stderr.contains("has no attempt 99")
            && out
                .stderr
                .contains("its attempts: 1; none ran a command here (it was reported")
            && !out.stderr.contains("no attempt of it has started"),
        "{}",
        out.stderr
    );
}

/// Deleting an attempt's file and then the home's `home.id` made `log verify` read the file
/// as another home's "on this machine" and pass. The event records the folder of the home
/// that wrote it (hash-chained), so the file is still this home's: verification fails naming
/// the missing identity, and again once a later run made a new `home.id`. A file written in
/// another home on this machine is checked in that home, and passes only there.
fn a_deleted_home_id_never_explains_away_a_missing_attempt_log(env: Env) {
    env.workflow(
        "w",
        "name: w\nsteps:\n  - name: s\n    run: echo \"audited output\"\n",
    );
    assert_eq!(env.run(&["workflow", "run", "w"]).code, 0);
    let logs = env.home().join("logs");
    for run in std::fs::read_dir(&logs).unwrap() {
        for f in std::fs::read_dir(run.unwrap().path()).unwrap() {
            std::fs::remove_file(f.unwrap().path()).unwrap();
        }
    }
    if let Some(pg) = &env.pg {
        // The database's own copy too: only then is the output gone from everywhere.
        let mut c = postgres::Client::connect(&pg.url, postgres::NoTls).unwrap();
        c.batch_execute("DELETE FROM attempt_output").unwrap();
    }
    let verify = env.run(&["--json", "log", "verify", "--all"]);
    assert_eq!(verify.code, 1, "{}", verify.stdout);
    std::fs::remove_file(env.home().join("home.id")).unwrap();
    let verify = env.run(&["--json", "log", "verify", "--all"]);
    assert_eq!(verify.code, 1, "{}", verify.stdout);
    let reason = verify.json()["first_bad"]["reason"].to_string();
    assert!(
        reason.contains("is missing") && reason.contains("home.id is missing"),
        "{reason}"
    );
    let human = env.run(&["log", "verify", "--all"]);
    assert_eq!(human.code, 1, "{}", human.stdout);
    assert!(!human.stdout.contains("another home"), "{}", human.stdout);
    // A new identity made by a later run changes nothing.
    assert_eq!(env.run(&["workflow", "run", "w"]).code, 0);
    let verify = env.run(&["--json", "log", "verify", "--all"]);
    assert_eq!(verify.code, 1, "{}", verify.stdout);
    assert!(
        verify.json()["first_bad"]["reason"]
            .to_string()
            .contains("now holds"),
        "{}",
        verify.stdout
    );
}

common::on_both_stores!(a_deleted_home_id_never_explains_away_a_missing_attempt_log);

/// A workflow whose one step, `say`, prints a line.
const LOUD: &str = "name: loud\nsteps:\n  - {name: say, run: 'echo hi'}\n";

/// Seen by a review: `log verify` and `cortex logs` followed a `logs/` or `logs/<run>/` put
/// back as a symbolic link to a folder elsewhere (verify: "3 attempt logs as recorded"),
/// while a linked file was refused and the writer refused a linked `logs/` — saying "remove
/// it (the files are rebuilt from the log)", untrue of attempts' output. One rule now: no
/// reader goes through a linked folder (verify fails naming it, `logs` says what is there),
/// and the writer's refusal says to put the folder back, not that anything is rebuilt. A
/// FIFO at a file's path is said as one, not "missing".
#[test]
fn no_reader_or_writer_goes_through_a_linked_logs_folder() {
    let env = Env::new();
    let run = env.finished_run("loud", LOUD);
    let logs = env.home().join("logs");
    let elsewhere = env.dir.path().join("elsewhere");
    for linked in [logs.join(&run), logs.clone()] {
        std::fs::rename(&linked, &elsewhere).unwrap();
        std::os::unix::fs::symlink(&elsewhere, &linked).unwrap();
        let verify = env.run(&["log", "verify", "--all"]);
        assert_eq!(verify.code, 1, "{}{}", verify.stdout, verify.stderr);
        assert!(
            verify.stdout.contains("is a symbolic link"),
            "{}",
            verify.stdout
        );
        let shown = env.run(&["logs", &run, "say"]);
        assert!(
            shown.stdout.contains("is a symbolic link") && !shown.stdout.contains("is missing"),
            "{}{}",
            shown.stdout,
            shown.stderr
        );
        if linked == logs {
            let again = env.run(&["workflow", "run", "loud"]);
            assert_eq!(again.code, 1, "{}{}", again.stdout, again.stderr);
            let all = format!("{}{}", again.stdout, again.stderr);
            assert!(
                all.contains("put the folder it points to in its place")
                    && !all.contains("rebuilt from the log"),
                "{all}"
            );
        }
        std::fs::remove_file(&linked).unwrap();
        std::fs::rename(&elsewhere, &linked).unwrap();
    }
    assert_eq!(env.run(&["log", "verify", "--all"]).code, 0);
    // A FIFO at the file's path is said as what it is.
    let file = std::fs::read_dir(logs.join(&run))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    std::fs::remove_file(&file).unwrap();
    nix::unistd::mkfifo(&file, nix::sys::stat::Mode::S_IRWXU).unwrap();
    let shown = env.run(&["logs", &run, "say"]);
    assert!(
        shown.stdout.contains("is a FIFO, not a file") && !shown.stdout.contains("is missing"),
        "{}{}",
        shown.stdout,
        shown.stderr
    );
}

/// Seen by a review: a run whose home's `logs/` was a symbolic link was paused with the right
/// reason ("… is a symbolic link …; put the folder it points to in its place"), under the hint
/// "make that path writable by the user cortex runs as". The hint is the fix its reason
/// gives: the folder put back for a link, the file moved aside for a file at `logs/`.
#[test]
fn a_run_paused_for_its_homes_logs_folder_is_hinted_the_folders_own_fix() {
    let env = Env::new();
    env.workflow("loud", LOUD);
    let logs = env.home().join("logs");
    let elsewhere = env.dir.path().join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    for linked in [true, false] {
        let fix = common::put_in_place_of_folder(&logs, linked, &elsewhere);
        let out = env.run(&["--json", "workflow", "run", "loud"]);
        assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
        let doc = out.json();
        let hint = doc["hints"][0].as_str().unwrap();
        assert!(
            hint.starts_with(fix) && !hint.contains("writable") && hint.contains("resume"),
            "{doc}"
        );
        std::fs::remove_file(&logs).unwrap();
    }
}

/// Seen by a review: with a FIFO at an attempt log's path, `cortex logs` said "is a FIFO, not
/// a file", while `log verify` and `log copy` opened it and said "was changed: it holds 0
/// bytes". They agree now: no file of the log's is there, said as `cortex logs` says it, and
/// the FIFO is never opened (nor waited on). `log copy`'s fix names the command to run once,
/// in single backticks (it was "``cortex log verify R``").
#[test]
fn a_fifo_at_an_attempt_logs_path_is_said_as_one_by_logs_verify_and_copy_alike() {
    let env = Env::new();
    let run = env.finished_run("loud", LOUD);
    let file = env
        .home()
        .join(cortex::execute::attempt_log_name(&run, "say", 1));
    std::fs::remove_file(&file).unwrap();
    nix::unistd::mkfifo(&file, nix::sys::stat::Mode::S_IRWXU).unwrap();
    let said = format!("{} is a FIFO, not a file", file.display());
    let shown = env.run(&["logs", &run, "say"]);
    let verify = env.run(&["log", "verify", "--all"]);
    assert_eq!(verify.code, 1, "{}{}", verify.stdout, verify.stderr);
    let to = env.dir.path().join("copy.db");
    let copy = env.run(&["log", "copy", "--to", to.to_str().unwrap()]);
    assert_eq!(copy.code, 1, "{}{}", copy.stdout, copy.stderr);
    for out in [&shown, &verify, &copy] {
        assert!(
            out.stdout.contains(&said) && !out.stdout.contains("0 bytes"),
            "{}{}",
            out.stdout,
            out.stderr
        );
    }
    assert!(
        copy.stdout.contains(" log verify ") && !copy.stdout.contains("``"),
        "{}",
        copy.stdout
    );
}

#[test]
/// `--follow` of a parent names its child's `uses:` step (a grandchild) as `logs` of the
/// parent names its own: a header under the child's step and the command that prints the
/// grandchild's output. Before, the grandchild level left no trace in the follow.
fn cortex_logs_follow_names_a_grandchild_run_as_logs_names_a_child() {
    let env = Env::new();
    env.workflow(
        "leaf",
        "name: leaf\nsteps:\n  - {name: deep, run: echo leaf-ran}\n",
    );
    env.workflow(
        "mid",
        "name: mid\nsteps:\n  - {name: pre, run: echo mid-pre}\n  - {name: call, uses: leaf}\n",
    );
    env.workflow("top", "name: top\nsteps:\n  - {name: child, uses: mid}\n");
    let following = Following::start(&env, "workflow", "top");
    let mut text = Vec::new();
    following.finish(&mut text);
    let leaf = env.run(&["--json", "workflow", "status", "leaf"]).json()["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    let at = text
        .iter()
        .position(|l| l == "── child › call · attempt 1 ──")
        .unwrap_or_else(|| panic!("{text:?}"));
    assert_eq!(
        text[at + 1],
        format!("(ran child run {leaf}: `cortex logs {leaf}` prints its output)"),
        "{text:?}"
    );
}

#[test]
/// `--follow` of a run whose driver is SIGKILLed mid-step ends saying the run was
/// interrupted, with the command that goes on, and exits 3 (resumable, SPEC §5). Before, it
/// ended as a finished run does: exit 0, no word.
fn cortex_logs_follow_of_a_run_whose_driver_was_killed_says_so_and_exits_3() {
    use std::io::Read;
    let env = Env::new();
    env.workflow(
        "killed",
        "name: killed\nsteps:\n  - name: talk\n    run: echo partial; while [ ! -f go ]; do sleep 0.1; done\n",
    );
    let mut driver = env.spawn(&["workflow", "run", "killed"]);
    let until = Instant::now() + Duration::from_secs(30);
    while !walk(&env.home().join("logs"))
        .iter()
        .any(|f| std::fs::read_to_string(f).is_ok_and(|t| t.contains("partial")))
    {
        assert!(Instant::now() < until, "the attempt never printed");
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut follow = env
        .command(&["logs", "killed", "talk", "--follow"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    driver.kill().unwrap(); // SIGKILL
    driver.wait().unwrap();
    let mut said = String::new();
    follow
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut said)
        .unwrap();
    let code = follow.wait().unwrap().code();
    std::fs::write(env.project().join("go"), "").unwrap();
    assert_eq!(code, Some(3), "{said}");
    let out = common::Out {
        code: 3,
        stdout: said,
        stderr: String::new(),
    };
    insta::assert_snapshot!("follow_of_a_killed_driver", out.snapshot(&env));
}
