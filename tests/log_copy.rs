//! `log copy` beside live drivers and other copies, and the one rule of whether a run is
//! driven that `status`, `resume` and `log copy` share — also for a log copied from another
//! home, whose driver (or a process with the pid it names) may be alive on this host.

mod common;

use std::time::{Duration, Instant};

use common::{Env, ids};

/// A workflow whose one step runs long enough to be copied while it runs.
const SLOW: &str = "name: slow\nsteps:\n  - {name: push, run: 'sleep 6'}\n";
const TINY: &str = "name: tiny\nsteps:\n  - {name: a, run: 'true'}\n";

/// The latest run of the workflow `name` in `env`'s history, if it has one.
fn latest_of(env: &Env, name: &str) -> Option<String> {
    let runs = env.run(&["--json", "workflow", "history"]).json()["runs"].clone();
    runs.as_array()?
        .iter()
        .find(|r| r["name"] == name)
        .and_then(|r| r["run_id"].as_str().map(str::to_string))
}

/// Start `cortex ARGS` in `env` and wait until `ready` finds what it looks for (`what`): the
/// driver and what was found.
// The driver is handed back to the caller, which waits for it.
#[allow(clippy::zombie_processes)]
fn start_until<T>(
    env: &Env,
    args: &[&str],
    what: &str,
    ready: impl Fn() -> Option<T>,
) -> (std::process::Child, T) {
    let mut child = env.spawn(args);
    let until = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(found) = ready() {
            return (child, found);
        }
        if Instant::now() >= until {
            let _ = child.kill();
            let _ = child.wait();
            panic!("gave up waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Start `workflow run slow` in `env` and wait until its step runs: the driver and its run.
fn start_slow(env: &Env) -> (std::process::Child, String) {
    env.workflow("slow", SLOW);
    start_until(
        env,
        &["workflow", "run", "slow"],
        "the slow run's step",
        || {
            latest_of(env, "slow")
                .filter(|run| env.events(run).iter().any(|e| e["type"] == "step_started"))
        },
    )
}

/// A copy of `env`'s SQLite log in a fresh home, made as `sqlite3 .backup` would (a database
/// copied while its driver writes it).
fn copied_home(env: &Env) -> Env {
    let other = Env::new();
    let c = rusqlite::Connection::open(env.db()).unwrap();
    c.execute("VACUUM INTO ?1", [other.db().to_str().unwrap().to_string()])
        .unwrap();
    other
}

/// Abort `run` in `env`: `log copy --to to` then copies it, and it alone.
fn copied_once_aborted(env: &Env, run: &str, to: &str) {
    let aborted = env.run(&["workflow", "abort", run]);
    assert!(
        aborted.stdout.contains("aborted"),
        "{}{}",
        aborted.stdout,
        aborted.stderr
    );
    let again = env.run(&["--json", "log", "copy", "--to", to]);
    assert_eq!(again.code, 0, "{}{}", again.stdout, again.stderr);
    assert_eq!(ids(&again.json(), "copied"), vec![run], "{}", again.stdout);
}

/// `log copy` of a run its driver is driving is refused for that run, by name, with who drives
/// it (exit 1), and the other runs are copied: in the other log nothing would say it is driven
/// (no lease, no lock there), and a worker there took it over at once and ran its running
/// step again beside the driver here (a deploy twice at once). A run whose driver was cut
/// short (its session never ended) is refused too, with the commands that end it; once ended,
/// it is copied.
#[test]
fn log_copy_refuses_a_run_being_driven_or_cut_short_and_copies_the_rest() {
    let env = Env::new();
    env.workflow("tiny", TINY);
    assert_eq!(env.run(&["workflow", "run", "tiny"]).code, 0);
    let (mut driver, slow) = start_slow(&env);
    let to = env.dir.path().join("team.db");
    let to = to.to_str().unwrap();

    let out = env.run(&["--json", "log", "copy", "--to", to]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    let doc = out.json();
    assert_eq!(ids(&doc, "copied").len(), 1, "{doc}");
    assert_eq!(ids(&doc, "refused"), vec![slow.clone()], "{doc}");
    let reason = doc["refused"][0]["reason"].as_str().unwrap();
    assert!(reason.contains("being driven now, by process"), "{reason}");
    assert!(reason.contains("workflow status"), "{reason}");
    let there = env
        .run(&["--json", "--db", to, "workflow", "history"])
        .json()["runs"]
        .clone();
    assert!(!there.to_string().contains(&slow), "{there}");
    // Said for people too, by name.
    let human = env.run(&["log", "copy", "--to", to]);
    assert_eq!(human.code, 1);
    assert!(
        human
            .stdout
            .contains(&format!("not copied: run {slow} — it is being driven now")),
        "{}",
        human.stdout
    );

    // Its driver killed: the session never ended, and a copy would be taken over there.
    driver.kill().unwrap();
    driver.wait().unwrap();
    let cut = env.run(&["--json", "log", "copy", "--to", to]);
    assert_eq!(cut.code, 1, "{}{}", cut.stdout, cut.stderr);
    let reason = cut.json()["refused"][0]["reason"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(reason.contains("cut short"), "{reason}");
    assert!(reason.contains("workflow abort"), "{reason}");

    // Ended for good here: copied.
    copied_once_aborted(&env, &slow, to);
}

/// Seen by a review: a run submitted for workers and not yet taken was copied, and workers
/// on both logs ran its step. It is refused like a driven run, by name, saying why; once it
/// is over it is copied.
#[test]
fn log_copy_refuses_a_run_submitted_for_workers_not_yet_taken() {
    let env = Env::new();
    env.workflow("tiny", TINY);
    let out = env.run(&["workflow", "run", "tiny", "--submit"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let run = out.stdout.trim().to_string();
    let to = env.dir.path().join("team.db");
    let to = to.to_str().unwrap();
    let out = env.run(&["--json", "log", "copy", "--to", to]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    let doc = out.json();
    assert!(ids(&doc, "copied").is_empty(), "{doc}");
    assert_eq!(ids(&doc, "refused"), vec![run.clone()], "{doc}");
    let reason = doc["refused"][0]["reason"].as_str().unwrap();
    assert!(
        reason.contains("submitted for workers: a worker there would run it too"),
        "{reason}"
    );
    assert!(reason.contains("workflow status"), "{reason}");
    let there = env
        .run(&["--json", "--db", to, "workflow", "history"])
        .json()["runs"]
        .clone();
    assert!(!there.to_string().contains(&run), "{there}");
    // Ended here (aborted): copied.
    copied_once_aborted(&env, &run, to);
}

/// A log copied (as a database file) from under its live driver: `status` and `resume` answer
/// by one rule. Before, `status` said "interrupted — its driver is gone" and suggested
/// `resume`, which then refused (exit 4): the pid the log names was alive on this host.
#[test]
fn a_log_copied_under_its_live_driver_is_running_for_status_and_held_for_resume() {
    let env = Env::new();
    let (mut driver, slow) = start_slow(&env);
    let other = copied_home(&env);
    let status = other.status(Some(&slow));
    assert_eq!(status["status"], "running", "{status}");
    assert!(
        !status["next"].as_array().unwrap().iter().any(|s| s["argv"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a == "resume")),
        "no resume suggested while its driver lives: {status}"
    );
    // Who holds it is named: the driver its log names, alive here.
    let pid = env.events(&slow)[0]["body"]["driver"]["pid"].clone();
    assert!(
        status["steps"][0]["worker"]
            .as_str()
            .is_some_and(|w| w.starts_with(&format!("driver pid {pid} on "))),
        "{status}"
    );
    let human = other.run(&["workflow", "status", &slow]);
    assert!(!human.stdout.contains("interrupted"), "{}", human.stdout);
    assert!(
        human
            .stdout
            .contains(&format!("On its driver pid {pid} on ")),
        "{}",
        human.stdout
    );
    let dry = other.run(&["workflow", "resume", &slow, "--dry-run"]);
    assert_eq!(dry.code, 4, "{}{}", dry.stdout, dry.stderr);
    let resume = other.run(&["workflow", "resume", &slow]);
    assert_eq!(resume.code, 4, "{}{}", resume.stdout, resume.stderr);
    driver.wait().unwrap();
}

/// A run whose driver recorded the end of its session (failed, stopped) has no holder in a
/// copy of its log, whatever process on this host has the pid the log names: a driver that
/// ran in a pid namespace is pid 1, alive here as init. Before, `resume --retry` of the copy
/// said "held by process 1 … the driver the log names, alive on this host", exit 4.
#[test]
fn a_run_whose_session_ended_resumes_from_a_copied_log_whatever_pid_it_names() {
    let permitted = std::process::Command::new("unshare")
        .args(["--pid", "--fork", "--mount-proc", "true"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !permitted {
        eprintln!("skipped: a driver that is pid 1 needs `unshare --pid`, not permitted here");
        return;
    }
    let env = Env::new();
    env.workflow("f", "name: f\nsteps:\n  - {name: s, run: 'exit 3'}\n");
    let out = std::process::Command::new("unshare")
        .args(["--pid", "--fork", "--mount-proc"])
        .arg(env!("CARGO_BIN_EXE_cortex"))
        .args(["workflow", "run", "f"])
        .current_dir(env.project())
        .env("CORTEX_HOME", env.home())
        .env_remove("CORTEX_DB")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let other = copied_home(&env);
    let events = other.run(&["--json", "log", "show"]).json();
    assert_eq!(events[0]["body"]["driver"]["pid"], 1, "{}", events[0]);
    let status = other.status(None);
    assert_eq!(status["status"], "failed", "{status}");
    let resume = other.run(&["workflow", "resume", "--retry"]);
    // The step fails again (exit 1): it ran, nothing held the run.
    assert_eq!(resume.code, 1, "{}{}", resume.stdout, resume.stderr);
    assert!(!resume.stderr.contains("held by"), "{}", resume.stderr);
}

/// `log verify` of a PostgreSQL database (or schema) without cortex's tables is what it is on
/// SQLite where the file is not there: "there is no log at …: nothing to verify", exit 2 —
/// never "✅ log verified: 0 runs" (`{"ok":true,"runs":0}`).
#[test]
fn log_verify_of_a_postgres_database_without_a_log_is_an_error_as_on_sqlite() {
    let Some(env) = Env::postgres("log_verify_of_a_postgres_database_without_a_log") else {
        return;
    };
    for args in [
        vec!["log", "verify", "--all"],
        vec!["--json", "log", "verify", "--all"],
        vec!["log", "verify"],
    ] {
        let out = env.run(&args);
        assert_eq!(out.code, 2, "{args:?}: {}{}", out.stdout, out.stderr);
        assert!(
            out.stderr.contains("there is no log at") && out.stderr.contains("nothing to verify"),
            "{args:?}: {}",
            out.stderr
        );
        assert!(!out.stdout.contains("verified"), "{}", out.stdout);
    }
}

/// Two `log copy` into one database at once, of logs holding the same runs: whichever imports
/// a run first, the other finds the same history there, "already there" — not "run X moved
/// on: expected to append at seq 0", exit 1, with the runs after it never copied. Both exit 0
/// and the database holds every run of both, once.
#[test]
fn two_copies_at_once_into_one_database_find_the_same_runs_already_there() {
    let Some(probe) = Env::postgres("two_copies_at_once_into_one_database") else {
        return;
    };
    drop(probe);
    let env = Env::new();
    env.workflow(
        "t",
        "name: t\nsteps:\n  - {name: a, run: 'true'}\n  - {name: b, run: 'true'}\n",
    );
    for _ in 0..6 {
        assert_eq!(env.run(&["workflow", "run", "t"]).code, 0);
    }
    // A second log holding the same six runs, and two of its own.
    let b = env.dir.path().join("b.db");
    let b = b.to_str().unwrap();
    assert_eq!(env.run(&["log", "copy", "--to", b]).code, 0);
    for _ in 0..2 {
        assert_eq!(env.run(&["--db", b, "workflow", "run", "t"]).code, 0);
    }
    for round in 0..3 {
        let Some(team) = Env::postgres("two_copies_at_once_into_one_database") else {
            return;
        };
        let url = team.pg.as_ref().unwrap().url.clone();
        let mut first = env.command(&["--json", "log", "copy", "--to", &url]);
        let mut second = env.command(&["--json", "--db", b, "log", "copy", "--to", &url]);
        let spawn = |cmd: &mut std::process::Command| {
            cmd.stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        };
        let (first, second) = (spawn(&mut first), spawn(&mut second));
        let mut copied = 0;
        for (child, runs) in [(first, 6), (second, 8)] {
            let out = child.wait_with_output().unwrap();
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert_eq!(
                out.status.code(),
                Some(0),
                "round {round}: {stdout}{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap();
            assert_eq!(
                ids(&doc, "copied").len() + ids(&doc, "already").len(),
                runs,
                "round {round}: {doc}"
            );
            copied += ids(&doc, "copied").len();
        }
        assert_eq!(copied, 8, "round {round}: each run imported once");
        let verified = team.run(&["--json", "log", "verify", "--all"]).json();
        assert_eq!(verified["ok"], true, "{verified}");
        assert_eq!(verified["runs"], 8, "{verified}");
    }
}

common::on_both_stores!(
    every_waiting_run_is_copied_as_status_shows_it_waiting,
    a_run_a_worker_without_its_tags_left_waiting_is_not_copied,
    a_copy_that_leaves_a_recorded_output_behind_fails,
    a_copy_failing_between_a_parent_and_its_child_leaves_a_target_that_verifies,
    a_finished_child_of_a_parent_still_driven_is_not_copied_without_it,
    an_import_of_several_runs_that_fails_midway_stores_none_of_them,
);

/// The store's side of copying a group whole (`EventStore::import_runs`): the runs are
/// imported in one transaction, so one refused after another was stored (here the child's
/// rows do not continue its head there: a `Conflict`, met inside the transaction) leaves
/// neither; imported right, both land.
fn an_import_of_several_runs_that_fails_midway_stores_none_of_them(env: Env) {
    let (parent, child) = parent_and_child(&env);
    let source = env.open_store();
    let parent_rows = source.raw_rows(Some(&parent)).unwrap();
    let child_rows = source.raw_rows(Some(&child)).unwrap();
    let Some(target) = Env::on(
        env.store_kind(),
        "an_import_of_several_runs_that_fails_midway_stores_none_of_them",
    ) else {
        return;
    };
    let mut dest = target.open_store();
    let err = dest
        .import_runs(&[&parent_rows, &child_rows[1..]])
        .unwrap_err();
    assert!(
        matches!(err, cortex::store::StoreError::Conflict { ref run_id, .. } if *run_id == child),
        "{err}"
    );
    assert!(dest.raw_rows(None).unwrap().is_empty());
    dest.import_runs(&[&parent_rows, &child_rows]).unwrap();
    assert_eq!(dest.raw_rows(Some(&parent)).unwrap(), parent_rows);
    assert_eq!(dest.raw_rows(Some(&child)).unwrap(), child_rows);
    let verify = target.run(&["log", "verify", "--all"]);
    assert_eq!(verify.code, 0, "{}{}", verify.stdout, verify.stderr);
}

/// A parent whose `uses:` step runs `tiny`, then a step of its own.
const OUTER: &str =
    "name: outer\nsteps:\n  - {name: call, uses: tiny}\n  - {name: push, run: 'true'}\n";

/// Run `outer` (and so its child `tiny`) to the end in `env`: the parent's run id and the
/// child's.
fn parent_and_child(env: &Env) -> (String, String) {
    env.workflow("tiny", TINY).workflow("outer", OUTER);
    let out = env.run(&["workflow", "run", "outer"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let id = |name: &str| latest_of(env, name).unwrap_or_else(|| panic!("no run of {name}"));
    (id("outer"), id("tiny"))
}

/// Make `target`'s log fail, as a full disk would, when it is asked to store a row of `a` while
/// it holds `b`, or of `b` while it holds `a`: a fault that strikes whichever of the two is
/// stored second, midway through a copy of both. `on: false` takes the fault away.
fn fail_the_second_of(target: &Env, a: &str, b: &str, on: bool) {
    let when = format!(
        "(NEW.run_id = '{a}' AND EXISTS (SELECT 1 FROM events WHERE run_id = '{b}')) OR (NEW.run_id = '{b}' AND EXISTS (SELECT 1 FROM events WHERE run_id = '{a}'))"
    );
    match &target.pg {
        None => {
            let c = rusqlite::Connection::open(target.db()).unwrap();
            let sql = if on {
                format!(
                    "CREATE TRIGGER full_disk BEFORE INSERT ON events WHEN {when} BEGIN SELECT RAISE(ABORT, 'no room left (the test''s fault)'); END;"
                )
            } else {
                "DROP TRIGGER full_disk".to_string()
            };
            c.execute_batch(&sql).unwrap();
        }
        Some(pg) => {
            let mut c = postgres::Client::connect(&pg.url, postgres::NoTls).unwrap();
            let sql = if on {
                format!(
                    "CREATE FUNCTION full_disk() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
                       IF {when} THEN RAISE EXCEPTION 'no room left (the test''s fault)'; END IF;
                       RETURN NEW;
                     END $$;
                     CREATE TRIGGER full_disk BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION full_disk();"
                )
            } else {
                "DROP TRIGGER full_disk ON events; DROP FUNCTION full_disk();".to_string()
            };
            c.batch_execute(&sql).unwrap();
        }
    }
}

/// Seen by a review: a `log copy` cut short (killed, a full target, a dropped connection)
/// between a parent and the child run its `uses:` step started left the parent in the target
/// without the child its `child_started` names, and `log verify` there said the child's
/// events "were removed" — a partial copy read as tampering. A parent and its children are
/// imported in one transaction: a fault between the two leaves neither, the target verifies,
/// and the copy run again copies both.
fn a_copy_failing_between_a_parent_and_its_child_leaves_a_target_that_verifies(env: Env) {
    let (parent, child) = parent_and_child(&env);
    let Some(target) = Env::on(
        env.store_kind(),
        "a_copy_failing_between_a_parent_and_its_child_leaves_a_target_that_verifies",
    ) else {
        return;
    };
    target.workflow("tiny", TINY);
    assert_eq!(target.run(&["workflow", "run", "tiny"]).code, 0);
    fail_the_second_of(&target, &parent, &child, true);
    let to = target.db_spec();

    let out = env.run(&["log", "copy", "--to", &to]);
    assert_ne!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains("the test's fault"),
        "{}{}",
        out.stdout,
        out.stderr
    );
    let verify = target.run(&["log", "verify", "--all"]);
    assert_eq!(verify.code, 0, "{}{}", verify.stdout, verify.stderr);
    let held = target.run(&["--json", "workflow", "history"]).json();
    assert_eq!(held["runs"].as_array().unwrap().len(), 1, "{held}");

    fail_the_second_of(&target, &parent, &child, false);
    let again = env.run(&["--json", "log", "copy", "--to", &to]);
    assert_eq!(again.code, 0, "{}{}", again.stdout, again.stderr);
    let mut copied = ids(&again.json(), "copied");
    copied.sort();
    let mut both = vec![parent, child];
    both.sort();
    assert_eq!(copied, both, "{}", again.stdout);
    let verify = target.run(&["log", "verify", "--all"]);
    assert_eq!(verify.code, 0, "{}{}", verify.stdout, verify.stderr);
}

/// Seen with the fix above: a child that finished while its parent is still driven was copied
/// alone, and its `run_started` named a parent the target did not hold (`log verify` there
/// failed). A parent not copied (driven here) keeps its children from being copied: the copy
/// says so for each, naming the parent, and the target verifies; once the parent is over,
/// both are copied.
fn a_finished_child_of_a_parent_still_driven_is_not_copied_without_it(env: Env) {
    env.workflow("tiny", TINY).workflow(
        "outer",
        "name: outer\nsteps:\n  - {name: call, uses: tiny}\n  - {name: push, run: 'sleep 6'}\n",
    );
    let (mut driver, (parent, child)) = start_until(
        &env,
        &["workflow", "run", "outer"],
        "outer's step after its child",
        || {
            let parent = latest_of(&env, "outer")?;
            let child = latest_of(&env, "tiny")?;
            env.events(&parent)
                .iter()
                .any(|e| e["type"] == "step_started" && e["body"]["step"] == "push")
                .then_some((parent, child))
        },
    );
    let Some(target) = Env::on(
        env.store_kind(),
        "a_finished_child_of_a_parent_still_driven_is_not_copied_without_it",
    ) else {
        let _ = driver.kill();
        let _ = driver.wait();
        return;
    };
    let to = target.db_spec();

    let out = env.run(&["--json", "log", "copy", "--to", &to]);
    let human = env.run(&["log", "copy", "--to", &to]);
    driver.kill().unwrap();
    driver.wait().unwrap();
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    let doc = out.json();
    assert!(ids(&doc, "copied").is_empty(), "{doc}");
    let refused = &doc["refused"];
    let reason = |run: &str| {
        refused
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["run_id"] == run)
            .and_then(|r| r["reason"].as_str())
            .unwrap_or_else(|| panic!("{run} is not refused: {doc}"))
            .to_string()
    };
    assert!(reason(&parent).contains("being driven now"), "{doc}");
    let why = reason(&child);
    assert!(
        why.contains(&format!("linked to run {parent}, which is not copied"))
            && why.contains("copied together or not at all"),
        "{why}"
    );
    assert_eq!(human.code, 1, "{}{}", human.stdout, human.stderr);
    assert!(
        human.stdout.contains(&format!(
            "not copied: run {child} — it is linked to run {parent}"
        )),
        "{}",
        human.stdout
    );
    let verify = target.run(&["log", "verify", "--all"]);
    assert_eq!(verify.code, 0, "{}{}", verify.stdout, verify.stderr);

    // The parent's session ended here: both are copied, and the target verifies.
    let aborted = env.run(&["workflow", "abort", &parent]);
    assert!(
        aborted.stdout.contains("aborted"),
        "{}{}",
        aborted.stdout,
        aborted.stderr
    );
    let again = env.run(&["--json", "log", "copy", "--to", &to]);
    assert_eq!(again.code, 0, "{}{}", again.stdout, again.stderr);
    assert_eq!(ids(&again.json(), "copied").len(), 2, "{}", again.stdout);
    let verify = target.run(&["log", "verify", "--all"]);
    assert_eq!(verify.code, 0, "{}{}", verify.stdout, verify.stderr);
}

/// Seen by a review: where the target's folder already held another file at an attempt
/// log's path, `log copy` left it (as it should: it is not cortex's to remove) and said "not
/// copied: the output …", yet exited 0 — and `log verify` of the target then failed on that
/// run. A copy that leaves behind an output the log records fails (exit 1), saying why and
/// what to do; done, a second copy carries it and the target verifies.
fn a_copy_that_leaves_a_recorded_output_behind_fails(env: Env) {
    let run = env.finished_run(
        "loud",
        "name: loud\nsteps:\n  - {name: say, run: 'echo hi'}\n",
    );
    let file = cortex::execute::attempt_log_name(&run, "say", 1);
    let target = Env::new();
    let planted = target.home().join(&file);
    std::fs::create_dir_all(planted.parent().unwrap()).unwrap();
    std::fs::write(&planted, "planted\n").unwrap();
    let to = target.db();
    let to = to.to_str().unwrap();
    let out = env.run(&["--json", "log", "copy", "--to", to]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    let doc = out.json();
    assert_eq!(ids(&doc, "copied"), vec![run.clone()], "{doc}");
    let left = &doc["attempt_logs"]["left"][0];
    assert_eq!(left["file"], file.as_str(), "{doc}");
    assert_eq!(left["recorded"], true, "{doc}");
    assert!(left["fix"].as_str().unwrap().contains("aside"), "{doc}");
    let human = env.run(&["log", "copy", "--to", to]);
    assert_eq!(human.code, 1, "{}{}", human.stdout, human.stderr);
    assert!(
        human
            .stdout
            .contains(&format!("not copied: the output {file} of run {run}"))
            && human
                .stdout
                .contains("fails on that run until it is there: move")
            && human.stdout.contains("copy again"),
        "{}",
        human.stdout
    );
    assert_eq!(std::fs::read_to_string(&planted).unwrap(), "planted\n");
    // What it says to do, done: the copy carries it, and the target verifies.
    std::fs::rename(&planted, target.dir.path().join("planted")).unwrap();
    let again = env.run(&["log", "copy", "--to", to]);
    assert_eq!(again.code, 0, "{}{}", again.stdout, again.stderr);
    let verify = target.run(&["log", "verify", "--all"]);
    assert_eq!(verify.code, 0, "{}{}", verify.stdout, verify.stderr);
}

/// Seen by a review: a worker without the tag a submitted run's step asks for took a look at
/// it (`run_resumed` by the worker, `validation_passed`) and left it waiting; its last event
/// no longer `run_submitted`, `log copy` copied it, and a worker on each log ran the step.
/// A run waiting for a worker, by its state, is refused as a submitted one is, saying for
/// which tags; once it is over it is copied.
fn a_run_a_worker_without_its_tags_left_waiting_is_not_copied(env: Env) {
    env.workflow(
        "wtag",
        "name: wtag\nsteps:\n  - {name: train, runs_on: [gpu], run: 'echo trained'}\n",
    );
    let out = env.run(&["workflow", "run", "wtag", "--submit"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let run = out.stdout.trim().to_string();
    let plain = env.run(&[
        "worker",
        "--name",
        "plain",
        "--until-idle",
        "--poll",
        "100ms",
    ]);
    assert_eq!(plain.code, 0, "{}{}", plain.stdout, plain.stderr);
    let types: Vec<String> = env
        .events(&run)
        .iter()
        .map(|e| e["type"].as_str().unwrap_or_default().to_string())
        .collect();
    assert!(types.iter().any(|t| t == "run_resumed"), "{types:?}");
    assert_ne!(types.last().map(String::as_str), Some("run_submitted"));
    let to = env.dir.path().join("copy.db");
    let to = to.to_str().unwrap();
    let out = env.run(&["--json", "log", "copy", "--to", to]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    let doc = out.json();
    assert!(ids(&doc, "copied").is_empty(), "{doc}");
    assert_eq!(ids(&doc, "refused"), vec![run.clone()], "{doc}");
    let reason = doc["refused"][0]["reason"].as_str().unwrap();
    assert!(
        reason.contains("waits for a worker offering tags gpu: a worker there would run it too"),
        "{reason}"
    );
    copied_once_aborted(&env, &run, to);
}

/// Every run that waits for a person is copied, as DESIGN says and `status` shows it
/// (`waiting`): a scenario waiting for a manual phase's start, one whose started manual phase
/// waits for its report, one a worker drove until it waited for a person, and a workflow
/// waiting for a report. One whose phase waits for a worker offering its tags is refused (a
/// worker of either log would run it). Before, `log copy` refused every
/// waiting scenario run as "its driver was cut short (`status` shows it interrupted)" and
/// suggested a `resume` that changed nothing (a scenario waits with its phase `running` in
/// the log, which it took for a session cut short).
fn every_waiting_run_is_copied_as_status_shows_it_waiting(env: Env) {
    env.scenario(
        "m",
        "name: m\ndescription: m\nphases:\n  - {name: a, description: a, run: 'true'}\n  - {name: rev, description: r, condition: manual}\n",
    );
    env.scenario(
        "tagged",
        "name: tagged\ndescription: d\nphases:\n  - {name: prep, description: p, run: 'true'}\n  - {name: train, description: t, condition: 'after:prep', runs_on: [gpu], run: 'true'}\n",
    );
    env.workflow(
        "rep",
        "name: rep\nsteps:\n  - {name: a, run: 'true'}\n  - {name: review, prompt: review it}\n",
    );
    let latest = |kind: &str| {
        env.run(&["--json", kind, "history"]).json()["runs"].clone()[0]["run_id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    // `--json` status of `run` in the log `db` (this one if None), a scenario's or a workflow's.
    let status_in = |db: Option<&str>, run: &str| {
        let mut args = vec!["--json"];
        if let Some(db) = db {
            args.extend(["--db", db]);
        }
        let kind = if env
            .run(&["--json", "orchestrate", "history"])
            .stdout
            .contains(run)
        {
            "orchestrate"
        } else {
            "workflow"
        };
        args.extend([kind, "status", run]);
        env.run(&args).json()
    };
    let mut waiting = Vec::new();
    // A manual phase not started.
    assert_eq!(env.run(&["orchestrate", "run", "m"]).code, 3);
    waiting.push(latest("orchestrate"));
    // A started manual phase waiting for its report.
    assert_eq!(env.run(&["orchestrate", "run", "m"]).code, 3);
    let started = latest("orchestrate");
    let start = env.run(&["orchestrate", "start", &started, "rev"]);
    assert!(
        start.code == 0 || start.code == 3,
        "{}{}",
        start.stdout,
        start.stderr
    );
    assert_eq!(status_in(None, &started)["phases"][1]["status"], "waiting");
    waiting.push(started);
    // A phase waiting for a worker offering tags: waiting, but for a worker, so refused
    // (`a_run_a_worker_without_its_tags_left_waiting_is_not_copied`).
    assert_eq!(env.run(&["orchestrate", "run", "tagged"]).code, 3);
    let for_worker = latest("orchestrate");
    // Submitted, and driven by a worker until it waits for a person.
    let submitted = env.run(&["orchestrate", "run", "m", "--submit"]);
    assert!(
        submitted.code == 0 || submitted.code == 3,
        "{}{}",
        submitted.stdout,
        submitted.stderr
    );
    let by_worker = latest("orchestrate");
    let worker = env.run(&["worker", "--until-idle", "--poll", "100ms"]);
    assert_eq!(worker.code, 0, "{}{}", worker.stdout, worker.stderr);
    assert_eq!(
        status_in(None, &by_worker)["phases"][0]["status"],
        "completed"
    );
    waiting.push(by_worker);
    // A workflow waiting for a report (copied before too).
    assert_eq!(env.run(&["workflow", "run", "rep"]).code, 3);
    waiting.push(latest("workflow"));

    for run in waiting.iter().chain([&for_worker]) {
        let status = status_in(None, run);
        assert_eq!(status["status"], "waiting", "{run}: {status}");
    }
    let to = env.dir.path().join("team.db");
    let to = to.to_str().unwrap();
    let out = env.run(&["--json", "log", "copy", "--to", to]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    let doc = out.json();
    let mut copied = ids(&doc, "copied");
    copied.sort();
    let mut expected = waiting.clone();
    expected.sort();
    assert_eq!(copied, expected, "{doc}");
    assert_eq!(ids(&doc, "refused"), vec![for_worker], "{doc}");
    // Waiting there as here.
    for run in &waiting {
        let there = status_in(Some(to), run);
        assert_eq!(there["status"], "waiting", "{run}: {there}");
    }
}

/// A copy into the log being copied is refused however `--to` writes it: the same
/// PostgreSQL schema as a libpq `key=value` string, the same file by another path. Before,
/// only the same text was refused.
#[test]
fn a_copy_into_the_same_log_written_another_way_is_refused() {
    let env = Env::new();
    env.workflow("tiny", TINY);
    assert_eq!(env.run(&["workflow", "run", "tiny"]).code, 0);
    std::fs::create_dir_all(env.home().join("sub")).unwrap();
    let other_path = env.home().join("../home/sub/../cortex.db");
    for to in [
        format!("sqlite:{}", env.db().display()),
        format!("sqlite:{}", other_path.display()),
    ] {
        let out = env.run(&["log", "copy", "--to", &to]);
        assert_eq!(out.code, 2, "{to}: {}{}", out.stdout, out.stderr);
        assert!(
            out.stderr.contains("names the log being copied"),
            "{}",
            out.stderr
        );
    }
    let Some(pg) = Env::postgres("a_copy_into_the_same_log_written_another_way_is_refused") else {
        return;
    };
    pg.workflow("tiny", TINY);
    assert_eq!(pg.run(&["workflow", "run", "tiny"]).code, 0);
    let url = pg.db_spec();
    let conf: postgres::Config = url.parse().unwrap();
    let host = match &conf.get_hosts()[0] {
        postgres::config::Host::Tcp(h) => h.clone(),
        postgres::config::Host::Unix(p) => p.display().to_string(),
    };
    let mut kv = format!(
        "dbname={} host={host} options='{}'",
        conf.get_dbname().unwrap(),
        conf.get_options().unwrap()
    );
    if let Some(port) = conf.get_ports().first() {
        kv.push_str(&format!(" port={port}"));
    }
    if let Some(user) = conf.get_user() {
        kv.push_str(&format!(" user={user}"));
    }
    let out = pg.run(&["log", "copy", "--to", &kv]);
    assert_eq!(out.code, 2, "{kv}: {}{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains("names the log being copied"),
        "{}",
        out.stderr
    );
}

/// A SQLite log whose folder is not there is refused (exit 2, naming the folder and how to make
/// it), and no folder is made: `log copy --to /nonexistent/dir/x.db` from a home with no runs
/// said "nothing to copy (… is set up)" and made the folders; `--db` with such a path made them
/// too, and put a log there. (A log in a folder of the home is made with it, as before:
/// `store_selection.rs`.)
#[test]
fn a_log_in_a_folder_that_is_not_there_is_refused_and_no_folder_is_made() {
    let env = Env::new();
    env.workflow("tiny", TINY);
    let missing = env.project().join("no such dir");
    let target = missing.join("x.db");
    let target = target.to_str().unwrap();
    for args in [
        &["log", "copy", "--to", target][..],
        &["--db", target, "workflow", "run", "tiny"][..],
    ] {
        let out = env.run(args);
        assert_eq!(out.code, 2, "{args:?}: {}{}", out.stdout, out.stderr);
        assert!(
            out.stderr.contains(&format!(
                "there is no folder {} to make the log {target} in",
                missing.display()
            )) && out
                .stderr
                .contains(&format!("`mkdir -p '{}'`", missing.display())),
            "{}",
            out.stderr
        );
        assert!(!missing.exists(), "{args:?} made the folder");
    }
    // With runs to copy, the same.
    assert_eq!(env.run(&["workflow", "run", "tiny"]).code, 0);
    assert_eq!(env.run(&["log", "copy", "--to", target]).code, 2);
    assert!(!missing.exists());
    // Once the folder is there, the copy is made.
    std::fs::create_dir(&missing).unwrap();
    let out = env.run(&["log", "copy", "--to", target]);
    assert_eq!(out.code, 0, "{}", out.stderr);
}

/// `log copy` counts runs and the log's other chains (a run's notification deliveries) apart,
/// in `log verify`'s words: before, it said "Copied 2 runs" of one run and its `notify:` chain,
/// which `log verify --all` on the copy called "1 run and 1 other chain".
#[test]
fn log_copy_counts_runs_and_other_chains_as_log_verify_does() {
    let env = Env::new();
    env.workflow(
        "noted",
        "name: noted\nnotify:\n  on_finish:\n    - {run: 'true'}\nsteps:\n  - {name: a, run: 'true'}\n",
    );
    assert_eq!(env.run(&["workflow", "run", "noted"]).code, 0);
    let to = format!("sqlite:{}", env.home().join("copy.db").display());
    let out = env.run(&["log", "copy", "--to", &to]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("Copied 1 run and 1 other chain ("),
        "{}",
        out.stdout
    );
    let verify = env.run(&["--db", &to, "log", "verify", "--all"]);
    assert!(
        verify.stdout.contains("1 run and 1 other chain"),
        "{}{}",
        verify.stdout,
        verify.stderr
    );
}

/// Seen by a review: where the target's `logs/` (or its run's folder in it) was a symbolic
/// link or a plain file, `log copy` rightly wrote nothing through it and exited 1, but said
/// for every attempt "another file is at its path … fix: move <target>/logs/<run>/<file>
/// aside" — a file that is not there (the path goes through the link, or through a file). The
/// folder is said once, with the fix its reason gives (put the folder back in place of the
/// link, move the file `logs` aside); done, a second copy carries the outputs and the target
/// verifies.
#[test]
fn a_target_whose_logs_folder_is_a_link_or_a_file_is_said_once_with_the_folders_fix() {
    let env = Env::new();
    let run = env.finished_run(
        "loud",
        "name: loud\nsteps:\n  - {name: say, run: 'echo hi'}\n  - {name: again, run: 'echo there'}\n",
    );
    // A link or a file, in place of `logs/` or of the run's folder in it.
    for (linked, run_folder) in [(true, false), (false, false), (true, true)] {
        let target = Env::new();
        let logs = target.home().join("logs");
        let folder = if run_folder {
            logs.join(&run)
        } else {
            logs.clone()
        };
        std::fs::create_dir_all(folder.parent().unwrap()).unwrap();
        let elsewhere = target.dir.path().join("elsewhere");
        std::fs::create_dir_all(&elsewhere).unwrap();
        let fix = common::put_in_place_of_folder(&folder, linked, &elsewhere);
        let to = target.db();
        let to = to.to_str().unwrap();
        let human = env.run(&["log", "copy", "--to", to]);
        assert_eq!(human.code, 1, "{}{}", human.stdout, human.stderr);
        let lines: Vec<&str> = human
            .stdout
            .lines()
            .filter(|l| l.contains("not copied"))
            .collect();
        assert_eq!(lines.len(), 1, "{}", human.stdout);
        let what = if linked {
            "is a symbolic link"
        } else {
            "is not a folder"
        };
        assert!(
            lines[0].contains(&format!(
                "not copied: the output of 2 attempts of run {run} — {} {what}",
                folder.display()
            )) && lines[0].contains(fix)
                && !lines[0].contains("another file is at its path")
                && !lines[0].contains("step-"),
            "{}",
            human.stdout
        );
        let doc = env.run(&["--json", "log", "copy", "--to", to]).json();
        let outputs = &doc["attempt_logs"];
        assert_eq!(outputs["left"], serde_json::json!([]), "{doc}");
        let blocked = outputs["folders"].as_array().unwrap();
        assert_eq!(blocked.len(), 1, "{doc}");
        assert_eq!(blocked[0]["folder"], folder.display().to_string(), "{doc}");
        assert_eq!(blocked[0]["recorded"], true, "{doc}");
        assert_eq!(blocked[0]["outputs"].as_array().unwrap().len(), 2, "{doc}");
        assert!(
            blocked[0]["fix"].as_str().unwrap().starts_with(fix),
            "{doc}"
        );
        // Nothing went through the link.
        assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0);
        // Its fix, done: the copy carries the outputs, and the target verifies.
        if linked {
            std::fs::remove_file(&folder).unwrap();
            std::fs::rename(&elsewhere, &folder).unwrap();
        } else {
            std::fs::rename(&folder, target.dir.path().join("aside")).unwrap();
        }
        let again = env.run(&["log", "copy", "--to", to]);
        assert_eq!(again.code, 0, "{}{}", again.stdout, again.stderr);
        let verify = target.run(&["log", "verify", "--all"]);
        assert_eq!(verify.code, 0, "{}{}", verify.stdout, verify.stderr);
    }
}

/// A run `log copy` refuses (here: its chain does not verify) leaves behind with it its
/// notification deliveries (`notify:RUN`), which name it: copied alone, they named a run the
/// other log does not hold, and that log failed `log verify`. Both are said, the other run
/// and its deliveries are copied, and the target verifies.
#[test]
fn a_refused_run_leaves_its_notification_chain_behind_with_it() {
    let env = Env::new();
    env.workflow(
        "noted",
        "name: noted\nnotify:\n  on_finish:\n    - {run: 'true'}\nsteps:\n  - {name: a, run: 'true'}\n",
    );
    assert_eq!(env.run(&["workflow", "run", "noted"]).code, 0);
    let changed = env.status(None)["run_id"].as_str().unwrap().to_string();
    assert_eq!(env.run(&["workflow", "run", "noted"]).code, 0);
    let kept = env.status(None)["run_id"].as_str().unwrap().to_string();
    let c = rusqlite::Connection::open(env.db()).unwrap();
    c.execute_batch(&format!(
        "DROP TRIGGER events_append_only_update; UPDATE events SET body = body || ' ' WHERE run_id = '{changed}' AND seq = 1;"
    ))
    .unwrap();
    drop(c);
    let to = format!("sqlite:{}", env.home().join("copy.db").display());
    let out = env.run(&["--json", "log", "copy", "--to", &to]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    let doc = out.json();
    let mut copied = ids(&doc, "copied");
    copied.sort();
    let mut want = vec![kept.clone(), format!("notify:{kept}")];
    want.sort();
    assert_eq!(copied, want, "{doc}");
    assert_eq!(
        ids(&doc, "refused"),
        vec![changed.clone(), format!("notify:{changed}")],
        "{doc}"
    );
    assert!(
        doc["refused"][1]["reason"]
            .as_str()
            .unwrap()
            .contains(&format!("{changed}, which is not copied")),
        "{doc}"
    );
    let verify = env.run(&["--db", &to, "log", "verify", "--all"]);
    assert_eq!(verify.code, 0, "{}{}", verify.stdout, verify.stderr);
    let human = env.run(&["log", "copy", "--to", &to]);
    assert!(
        human
            .stdout
            .contains(&format!("not copied: run notify:{changed} — it names")),
        "{}",
        human.stdout
    );
}

/// Seen by a review: `log copy --to` of a run still waiting for a report copied it live into
/// both logs, and completing it in each ran its next step twice under one id (a later copy
/// refused it, but only once the histories had forked). The copy says so, naming the run and
/// how to go on in one log only; a finished run is copied without a word.
#[test]
fn copying_a_run_before_it_finished_warns_that_it_is_live_in_both_logs() {
    let env = Env::new();
    env.workflow("tiny", TINY);
    env.workflow(
        "ask",
        "name: ask\nsteps:\n  - {name: q, prompt: answer it}\n  - {name: b, run: 'true'}\n",
    );
    env.run(&["workflow", "run", "tiny"]).assert_exit(0);
    env.run(&["workflow", "run", "ask"]).assert_exit(3);
    let waiting = latest_of(&env, "ask").unwrap();
    let to = env.dir.path().join("team.db");
    let to = to.to_str().unwrap();
    let out = env.run(&["--json", "log", "copy", "--to", to]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let doc = out.json();
    let warnings = doc["warnings"].to_string();
    assert!(
        warnings.contains(&format!("1 run was copied before it finished ({waiting})"))
            && warnings.contains("carry it on in one log only")
            && warnings.contains("workflow status"),
        "{doc}"
    );
    let tiny = latest_of(&env, "tiny").unwrap();
    assert!(!warnings.contains(&tiny), "{doc}");
    // Said to people on stderr.
    let other = env.dir.path().join("other.db");
    let human = env.run(&["log", "copy", "--to", other.to_str().unwrap()]);
    assert_eq!(human.code, 0, "{}", human.stderr);
    assert!(
        human.stderr.contains("copied before it finished"),
        "{}",
        human.stderr
    );
}

/// The runs `log copy` names as copied before they finished are judged by the rows it
/// copied: a run copied again as it went on (`went on with`) is named while it has not
/// finished, and no more once what was copied of it ends it; a scenario's is named with
/// `orchestrate status`.
#[test]
fn a_run_copied_again_as_it_went_on_is_named_until_what_was_copied_finished_it() {
    let env = Env::new();
    env.workflow(
        "two",
        "name: two\nsteps:\n  - {name: q1, prompt: first}\n  - {name: q2, prompt: second}\n",
    );
    env.run(&["workflow", "run", "two"]).assert_exit(3);
    let run = latest_of(&env, "two").unwrap();
    let to = env.dir.path().join("team.db");
    let to = to.to_str().unwrap();
    let warned = |env: &Env| {
        let out = env.run(&["--json", "log", "copy", "--to", to]);
        assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
        let doc = out.json();
        (doc["warnings"].to_string(), doc)
    };
    let (warnings, doc) = warned(&env);
    assert!(
        warnings.contains(&format!("1 run was copied before it finished ({run})"))
            && warnings.contains("workflow status"),
        "{doc}"
    );
    // On here to its second prompt, copied again: still live in both.
    env.run(&["workflow", "step", "complete", "q1", "--run", &run])
        .assert_exit(3);
    let (warnings, doc) = warned(&env);
    assert_eq!(doc["extended"], serde_json::json!([run]), "{doc}");
    assert!(
        warnings.contains(&format!("1 run was copied before it finished ({run})")),
        "{doc}"
    );
    // Finished here, copied again: what was copied finishes it, nothing to say.
    env.run(&["workflow", "step", "complete", "q2", "--run", &run])
        .assert_exit(0);
    let (warnings, doc) = warned(&env);
    assert_eq!(doc["extended"], serde_json::json!([run]), "{doc}");
    assert!(!warnings.contains("copied before"), "{doc}");
    // A scenario waiting on a report: named with its group's status.
    env.scenario(
        "rev",
        "name: rev\ndescription: a reported phase\nphases:\n  - {name: r1}\n",
    );
    env.run(&["orchestrate", "run", "rev"]).assert_exit(3);
    let (warnings, doc) = warned(&env);
    assert!(
        warnings.contains("1 run was copied before it finished")
            && warnings.contains("orchestrate status"),
        "{doc}"
    );
}

/// `log copy --to /etc/passwd` (any file that is no cortex log) said "the event log's file is
/// damaged", with the repair of this home's own log: it is said of the file `--to` names,
/// exit 2, nothing copied, and this home's log untouched.
#[test]
fn copying_into_a_file_that_is_no_cortex_log_says_so_of_that_file() {
    let env = Env::new();
    env.workflow("tiny", TINY);
    env.run(&["workflow", "run", "tiny"]).assert_exit(0);
    let not_a_log = env.dir.path().join("notes.txt");
    std::fs::write(
        &not_a_log,
        "these are my notes, not a database\n".repeat(200),
    )
    .unwrap();
    let before = std::fs::read(&not_a_log).unwrap();
    let out = env.run(&["log", "copy", "--to", not_a_log.to_str().unwrap()]);
    assert_eq!(out.code, 2, "{}", out.text());
    assert!(
        out.stderr.contains("is not a cortex log, or a damaged one")
            && out.stderr.contains("nothing was copied")
            && !out.stderr.contains(".recover"),
        "{}",
        out.stderr
    );
    assert_eq!(std::fs::read(&not_a_log).unwrap(), before);
    env.run(&["log", "verify"]).assert_exit(0);
}
