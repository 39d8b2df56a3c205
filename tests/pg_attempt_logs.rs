//! The whole output of attempts on PostgreSQL (SPEC §9, §11): kept in the database as the
//! attempt writes it, so that a home other than the one whose worker ran the attempt prints it
//! (`cortex logs`, `--follow` while it runs), `log verify` checks it there (and fails when the
//! stored content is changed), and `log copy` carries it both ways. Each test says it skipped
//! where `CORTEX_TEST_PG` is not set.

mod common;

use std::io::BufRead;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use common::Env;

/// How long a test waits for what the worker does (a bound on waiting, never an assertion).
const PATIENCE: Duration = Duration::from_secs(60);

/// Another home sharing `env`'s log: `cortex` run with it as `CORTEX_HOME`.
fn in_home(env: &Env, home: &Path, args: &[&str]) -> std::process::Command {
    let mut cmd = env.command(args);
    cmd.env("CORTEX_HOME", home);
    cmd
}

fn output(mut cmd: std::process::Command) -> (i32, String, String) {
    let out = cmd.output().expect("run cortex");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Submit `name` from `env`'s home and have a worker in another home (`worker_home`) run it
/// to its end; the run id.
fn run_on_worker(env: &Env, worker_home: &Path, name: &str) -> String {
    let submitted = env.run(&["workflow", "run", name, "--submit"]);
    assert_eq!(submitted.code, 0, "{}", submitted.text());
    let run = submitted.stdout.trim().to_string();
    let (code, out, err) = output(in_home(
        env,
        worker_home,
        &["worker", "--poll", "100ms", "--until-idle"],
    ));
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(env.status(Some(&run))["status"], "completed");
    run
}

/// `cortex logs` of `run` (the `prints` workflow) from `env`'s home prints the attempt's whole
/// output as the log recorded it — text, raw and JSON (`kept`) — with no note that it is
/// elsewhere, changed or missing; the JSON document.
fn printed_whole(env: &Env, run: &str) -> serde_json::Value {
    let shown = env.run(&["logs", run]);
    assert_eq!(shown.code, 0, "{}", shown.text());
    assert!(
        shown.stdout.contains("first line\nsecond line\nno end"),
        "{}",
        shown.stdout
    );
    for note in ["not in this home", "not on this machine", "changed", "junk"] {
        assert!(!shown.stdout.contains(note), "{}", shown.stdout);
    }
    let raw = env.command(&["logs", run, "s", "--raw"]).output().unwrap();
    assert!(
        raw.status.success(),
        "{}",
        String::from_utf8_lossy(&raw.stderr)
    );
    assert_eq!(raw.stdout, WHOLE);
    let doc = env.run(&["--json", "logs", run]).json();
    assert_eq!(doc["attempts"][0]["status"], "kept", "{doc}");
    doc
}

const PRINTS: &str = "name: prints\nsteps:\n  - name: s\n    run: \"printf 'first line\\\\n'; printf 'second line\\\\n'; printf 'no end'\"\n";
const WHOLE: &[u8] = b"first line\nsecond line\nno end";

/// Printed, raw and as JSON from the home that submitted the run, though a worker in another
/// home ran it: the bytes the attempt wrote, not the "not in this home" note with the tail.
#[test]
fn an_attempt_run_in_another_home_is_printed_whole_from_the_database() {
    let Some(env) = Env::postgres("an_attempt_run_in_another_home_is_printed_whole") else {
        return;
    };
    env.workflow("prints", PRINTS);
    let worker_home = tempfile::tempdir().unwrap();
    let run = run_on_worker(&env, worker_home.path(), "prints");
    assert!(
        !env.home().join("logs").join(&run).exists(),
        "the file is the worker's home's only"
    );

    let doc = printed_whole(&env, &run);
    assert_eq!(
        doc["attempts"][0]["text"], "first line\nsecond line\nno end",
        "{doc}"
    );
}

/// The TUI's output pane read the home's files only: an attempt a worker in another home ran
/// showed the tail the log kept of it, though the database keeps its whole output. It reads
/// the output from the database as `cortex logs` does (the same copy of it), and says so.
#[test]
fn the_tui_output_pane_shows_an_attempt_run_in_another_home_from_the_database() {
    use cortex::tui::app::{OutputSource, OutputWanted};
    let Some(env) = Env::postgres("the_tui_output_pane_shows_an_attempt_run_in_another_home")
    else {
        return;
    };
    env.workflow("prints", PRINTS);
    let worker_home = tempfile::tempdir().unwrap();
    let run = run_on_worker(&env, worker_home.path(), "prints");
    let wanted = OutputWanted {
        run_id: run.clone(),
        step: "s".into(),
        attempt: 1,
        file: cortex::execute::attempt_log_name(&run, "s", 1),
        tail: "no end".into(),
        ended: true,
    };
    assert!(!env.home().join(&wanted.file).exists());
    let location = cortex::store::Location::parse(&env.db_spec(), Path::new("/")).unwrap();
    let mut reader = cortex::tui::output::Reader::at(location);
    let shown = reader.read(&env.home(), &wanted);
    assert_eq!(shown.text.as_bytes(), WHOLE);
    assert_eq!(
        shown.source,
        OutputSource::Log {
            bytes: WHOLE.len() as u64,
            cut: false
        }
    );
    // Read again (the copy caught up with, nothing more): the same.
    assert_eq!(reader.read(&env.home(), &wanted), shown);
    // A reader of the files alone has only the tail the log kept.
    let files = cortex::tui::output::Reader::files().read(&env.home(), &wanted);
    assert_eq!(
        (files.text.as_str(), files.source),
        ("no end", OutputSource::KeptTail)
    );
}

/// `--follow` from another home prints the attempt's lines while it runs on the worker: the
/// first line arrives while the step still waits for its marker, the last once it is made.
#[test]
fn follow_from_another_home_prints_the_output_while_the_worker_runs_it() {
    let Some(env) = Env::postgres("follow_from_another_home_prints_the_output_while") else {
        return;
    };
    let marker = env.project().join("go-on");
    env.workflow(
        "waits",
        &format!(
            "name: waits\nsteps:\n  - name: s\n    run: \"echo before; while [ ! -f '{}' ]; do sleep 0.05; done; echo after\"\n",
            marker.display()
        ),
    );
    let submitted = env.run(&["workflow", "run", "waits", "--submit"]);
    assert_eq!(submitted.code, 0, "{}", submitted.text());
    let run = submitted.stdout.trim().to_string();
    let worker_home = tempfile::tempdir().unwrap();
    let mut worker = in_home(
        &env,
        worker_home.path(),
        &["worker", "--poll", "100ms", "--until-idle"],
    )
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .spawn()
    .unwrap();

    let mut follow = env
        .command(&["logs", &run, "--follow"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, lines) = std::sync::mpsc::channel();
    let stdout = follow.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    let wait_for = |want: &str, seen: &mut Vec<String>| loop {
        match lines.recv_timeout(PATIENCE) {
            Ok(line) => {
                let hit = line == want;
                seen.push(line);
                if hit {
                    return;
                }
            }
            Err(e) => panic!("no `{want}` from --follow ({e}); it printed {seen:?}"),
        }
    };
    // Printed while the step still waits (the marker is not made yet).
    wait_for("before", &mut seen);
    assert!(!marker.exists());
    assert_eq!(env.status(Some(&run))["status"], "running");
    std::fs::write(&marker, "").unwrap();
    wait_for("after", &mut seen);
    let ended = follow.wait().unwrap();
    assert!(ended.success());
    for line in lines.try_iter() {
        seen.push(line);
    }
    assert!(
        !seen.iter().any(|l| l.contains("not in this home")),
        "{seen:?}"
    );
    assert_eq!(
        seen.iter().filter(|l| *l == "before").count(),
        1,
        "{seen:?}"
    );
    let _ = worker.wait();
}

/// `log verify` in a home other than the worker's checks the output the database keeps
/// against the size and blake3 its event recorded, and fails once a stored byte is changed —
/// from either home (the worker's has the file too; the database's copy is what every other
/// home reads).
#[test]
fn log_verify_checks_the_stored_output_from_another_home_and_fails_when_it_is_changed() {
    let Some(env) = Env::postgres("log_verify_checks_the_stored_output_from_another_home") else {
        return;
    };
    env.workflow("prints", PRINTS);
    let worker_home = tempfile::tempdir().unwrap();
    let run = run_on_worker(&env, worker_home.path(), "prints");

    let text = env.run(&["log", "verify", &run]);
    assert_eq!(text.code, 0, "{}", text.text());
    assert!(
        text.stdout.contains("1 attempt log as recorded"),
        "{}",
        text.stdout
    );
    assert!(!text.stdout.contains("unchecked"), "{}", text.stdout);

    // One byte of the stored output changed, as a hand in the database would.
    let url = env.db_spec();
    let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let changed = c
        .execute(
            "UPDATE attempt_output SET chunk = overlay(chunk placing '\\x58'::bytea from 1 for 1) WHERE run_id = $1 AND \"offset\" = 0",
            &[&run],
        )
        .unwrap();
    assert_eq!(changed, 1);

    for home in [env.home(), worker_home.path().to_path_buf()] {
        let (code, out, err) = output(in_home(&env, &home, &["log", "verify", &run]));
        assert_eq!(code, 1, "{out}{err}");
        assert!(
            out.contains("kept in the database was changed"),
            "{out}{err}"
        );
    }
    let shown = env.run(&["logs", &run]);
    assert!(
        shown.stdout.contains("changed since the log recorded it"),
        "{}",
        shown.stdout
    );
    let raw = env.run(&["logs", &run, "s", "--raw"]);
    assert_ne!(raw.code, 0, "{}", raw.text());
}

/// A file at an attempt's path in the operator's home is not that attempt's when the shared
/// log says another home wrote it (a run copied while unfinished and continued in both
/// stores leaves one; anyone can plant one): `log verify`, `cortex logs` (text, raw, JSON) and
/// `log copy` read the copy the database holds. Before, that one home called the run tampered
/// (exit 1) and printed the stray file as its output, while every other home, and `status`,
/// called it verified.
#[test]
fn a_stray_file_in_this_home_is_never_read_for_an_attempt_another_home_wrote() {
    let Some(env) = Env::postgres("a_stray_file_in_this_home_is_never_read_for_an_attempt") else {
        return;
    };
    env.workflow("prints", PRINTS);
    let worker_home = tempfile::tempdir().unwrap();
    let run = run_on_worker(&env, worker_home.path(), "prints");
    let file = cortex::execute::attempt_log_name(&run, "s", 1);
    let stray = env.home().join(&file);
    std::fs::create_dir_all(stray.parent().unwrap()).unwrap();
    std::fs::write(&stray, "junk\n").unwrap();

    let verified = env.run(&["log", "verify", &run]);
    assert_eq!(verified.code, 0, "{}", verified.text());
    assert!(
        verified.stdout.contains("1 attempt log as recorded"),
        "{}",
        verified.stdout
    );
    printed_whole(&env, &run);

    // Copied out of the database from this home: the database's copy, not the stray file.
    let copied = tempfile::tempdir().unwrap();
    let to = copied.path().join("cortex.db");
    let copy = env.run(&["log", "copy", "--to", &format!("sqlite:{}", to.display())]);
    assert_eq!(copy.code, 0, "{}", copy.text());
    assert_eq!(std::fs::read(copied.path().join(&file)).unwrap(), WHOLE);
    assert_eq!(
        std::fs::read(&stray).unwrap(),
        b"junk\n",
        "the stray file is left alone"
    );
}

/// `log copy --to` carries the whole outputs: from a laptop's SQLite home into the database
/// (any home then prints and verifies them), and from the database into a SQLite log, whose
/// files land beside it as a home lays them out.
#[test]
fn log_copy_carries_whole_outputs_both_ways() {
    let Some(pg) = Env::postgres("log_copy_carries_whole_outputs_both_ways") else {
        return;
    };
    // A laptop's history: run here, on SQLite.
    let laptop = Env::new();
    laptop.workflow("prints", PRINTS);
    let ran = laptop.run(&["workflow", "run", "prints"]);
    assert_eq!(ran.code, 0, "{}", ran.text());
    let local_run = laptop.status(None)["run_id"].as_str().unwrap().to_string();
    let copied = laptop.run(&["--json", "log", "copy", "--to", &pg.db_spec()]);
    assert_eq!(copied.code, 0, "{}", copied.text());
    let doc = copied.json();
    assert_eq!(doc["attempt_logs"]["copied"], 1, "{doc}");
    assert_eq!(doc["attempt_logs"]["left"], serde_json::json!([]), "{doc}");
    // Copied again: already there.
    let again = laptop
        .run(&["--json", "log", "copy", "--to", &pg.db_spec()])
        .json();
    assert_eq!(again["attempt_logs"]["already"], 1, "{again}");
    // Any home of the database prints and checks it.
    let raw = pg
        .command(&["logs", &local_run, "s", "--raw"])
        .output()
        .unwrap();
    assert!(
        raw.status.success(),
        "{}",
        String::from_utf8_lossy(&raw.stderr)
    );
    assert_eq!(raw.stdout, WHOLE);
    let verified = pg.run(&["log", "verify", &local_run]);
    assert_eq!(verified.code, 0, "{}", verified.text());
    assert!(
        verified.stdout.contains("1 attempt log as recorded"),
        "{}",
        verified.stdout
    );

    // From the database (a worker in another home ran it) into a SQLite log of a new home.
    pg.workflow("prints", PRINTS);
    let worker_home = tempfile::tempdir().unwrap();
    let shared_run = run_on_worker(&pg, worker_home.path(), "prints");
    let new_home = tempfile::tempdir().unwrap();
    let db = new_home.path().join("cortex.db");
    let copied = pg.run(&[
        "--json",
        "log",
        "copy",
        "--to",
        &format!("sqlite:{}", db.display()),
    ]);
    assert_eq!(copied.code, 0, "{}", copied.text());
    let doc = copied.json();
    assert_eq!(doc["attempt_logs"]["copied"], 2, "{doc}");
    let file = pg.run(&["--json", "logs", &shared_run]).json()["attempts"][0]["file"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(std::fs::read(new_home.path().join(&file)).unwrap(), WHOLE);
    // That home reads them as its own files, and checks them.
    let mut cmd = pg.command(&["log", "verify"]);
    cmd.env("CORTEX_HOME", new_home.path())
        .env_remove("CORTEX_DB");
    let (code, out, err) = output(cmd);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("2 attempt logs as recorded"), "{out}{err}");
    let mut cmd = pg.command(&["logs", &shared_run, "s", "--raw"]);
    cmd.env("CORTEX_HOME", new_home.path())
        .env_remove("CORTEX_DB");
    let raw = cmd.output().unwrap();
    assert!(
        raw.status.success(),
        "{}",
        String::from_utf8_lossy(&raw.stderr)
    );
    assert_eq!(raw.stdout, WHOLE);
}

/// Seen by a review: a step killed with its worker (SIGKILL) has its output in the database
/// (shipped while it ran) but no `attempt_log`; `log copy --to sqlite:FILE` copied only
/// attempts with one, and in the copy `cortex logs` said the attempt was cut off "before it
/// printed anything". Every attempt's output is copied: the cut one's as found.
#[test]
fn log_copy_carries_the_output_of_an_attempt_cut_off_with_its_worker() {
    let Some(pg) = Env::postgres("log_copy_carries_the_output_of_an_attempt_cut_off") else {
        return;
    };
    pg.workflow(
        "cut",
        "name: cut\nsteps:\n  - name: s\n    run: 'if [ -e again ]; then echo second; else touch again; echo partial-out; while [ ! -e go ]; do sleep 0.1; done; fi'\n",
    );
    let submitted = pg.run(&["workflow", "run", "cut", "--submit"]);
    assert_eq!(submitted.code, 0, "{}", submitted.text());
    let run = submitted.stdout.trim().to_string();
    let worker_home = tempfile::tempdir().unwrap();
    let mut worker = in_home(&pg, worker_home.path(), &["worker", "--poll", "100ms"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    common::wait_within("the cut attempt's output in the database", PATIENCE, || {
        let raw = pg.command(&["logs", &run, "s", "--raw"]).output().unwrap();
        String::from_utf8_lossy(&raw.stdout).contains("partial-out")
    });
    worker.kill().unwrap(); // SIGKILL
    worker.wait().unwrap();
    std::fs::write(pg.project().join("go"), "").unwrap();
    let resumed = pg.run(&["workflow", "resume", &run]);
    assert_eq!(resumed.code, 0, "{}", resumed.text());
    assert_eq!(pg.status(Some(&run))["status"], "completed");

    let new_home = tempfile::tempdir().unwrap();
    let db = new_home.path().join("cortex.db");
    let copied = pg.run(&[
        "--json",
        "log",
        "copy",
        "--to",
        &format!("sqlite:{}", db.display()),
    ]);
    assert_eq!(copied.code, 0, "{}", copied.text());
    let doc = copied.json();
    assert_eq!(doc["attempt_logs"]["copied"], 2, "{doc}");
    assert_eq!(doc["attempt_logs"]["unrecorded"], 1, "{doc}");
    let mut cmd = pg.command(&["logs", &run, "s"]);
    cmd.env("CORTEX_HOME", new_home.path())
        .env_remove("CORTEX_DB");
    let (code, out, err) = output(cmd);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.starts_with("── s · attempt 1 ──\n(interrupted, not recorded")
            && out.contains("partial-out\n── s · attempt 2 ──\nsecond\n")
            && !out.contains("before it printed anything"),
        "{out}"
    );
    // Copied again: both already there.
    let again = pg
        .run(&[
            "--json",
            "log",
            "copy",
            "--to",
            &format!("sqlite:{}", db.display()),
        ])
        .json();
    assert_eq!(again["attempt_logs"]["already"], 2, "{again}");
}
