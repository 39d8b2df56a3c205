//! Real storage faults: a read-only `cortex.db`, a read-only home, a read-only archive copy,
//! a log of a newer cortex, a full file system, and the log's write lock held by another
//! program (a driver waits it out; a report is answered exit 4). A fault gives a clear error and loses
//! nothing already recorded; commands that only read still work; once the fault is gone, the
//! next command resumes cleanly. Most need privileges (tests run as root, which ignores file
//! modes, so read-only is made with `chattr +i` or a read-only bind mount; a full disk is a
//! small tmpfs): where the machine refuses, the test says so and checks nothing else.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{Env, NOBODY};

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
    assert_eq!(env.status(None)["status"], "completed");
    drop(guard);
    let again = env.run(&["workflow", "run", "tiny"]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(
        env.run(&["--json", "log", "verify", "--all"]).json()["ok"],
        true
    );
}

/// The reading commands of the adversarial review, each of which must work on `env`'s log.
fn reads_work(env: &Env, file: &std::path::Path) {
    let file = file.display().to_string();
    for args in [
        vec!["--json", "workflow", "status"],
        vec!["--json", "workflow", "history"],
        vec!["--json", "log", "verify", "--all"],
        vec!["--json", "log", "verify", "--file", &file],
        vec!["--json", "log", "show"],
    ] {
        let out = env.run(&args);
        assert_eq!(out.code, 0, "{args:?}: {}{}", out.stdout, out.stderr);
        let doc = out.json();
        if args.contains(&"verify") {
            assert_eq!(doc["ok"], true, "{args:?}: {doc}");
            assert_eq!(doc["runs"], 1, "{args:?}: {doc}");
        }
        if args.contains(&"status") {
            assert_eq!(doc["status"], "completed", "{doc}");
        }
    }
}

/// The adversarial review's case: `status`, `history`, `log verify` and `log verify --file`
/// failed with "unable to open database file" on a read-only mount. They read it now (SQLite
/// cannot create `cortex.db-shm` there: the log is opened immutable); a write says
/// "read-only", with a hint, and changes nothing.
#[test]
fn a_read_only_home_can_be_read_and_a_write_says_read_only() {
    let env = Env::new();
    env.workflow("tiny", "name: tiny\nsteps:\n  - {name: a, run: 'echo a'}\n");
    assert_eq!(env.run(&["workflow", "run", "tiny"]).code, 0);
    let home = env.home().display().to_string();
    if !try_cmd("mount", &["--bind", &home, &home]) {
        eprintln!("skipped: bind mounts are not allowed here, so a read-only home cannot be made");
        return;
    }
    let _mounted = Mounted(env.home());
    if !try_cmd("mount", &["-o", "remount,bind,ro", &home]) {
        eprintln!("skipped: remounting read-only is not allowed here");
        return;
    }
    assert!(
        std::fs::write(env.home().join("probe"), "x").is_err(),
        "the home is read-only"
    );
    let before = std::fs::read(env.db()).unwrap();
    reads_work(&env, &env.db());
    let out = env.run(&["workflow", "run", "tiny"]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(out.stderr.contains("read-only"), "{}", out.stderr);
    assert!(out.stderr.contains("hint:"), "{}", out.stderr);
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    assert_eq!(
        std::fs::read(env.db()).unwrap(),
        before,
        "nothing was written"
    );
}

/// A home its reader may only read by its permissions (another user's, not a read-only
/// mount): `status`, `history`, `log verify`, `log verify --file` and `log show` failed with
/// "attempt to write a readonly database" (SQLite says read-only, not cannot-open, when it may
/// not create `cortex.db-shm` there, and only the cannot-open case fell back to reading the
/// log immutable). Run as `nobody`; a write says "read-only" and changes nothing.
#[test]
fn a_home_its_reader_may_not_write_could_not_be_read() {
    let env = Env::new();
    env.workflow("tiny", "name: tiny\nsteps:\n  - {name: a, run: 'echo a'}\n");
    assert_eq!(env.run(&["workflow", "run", "tiny"]).code, 0);
    if home_read_only(&env, false).is_none() {
        return;
    }
    let as_nobody = |args: &[&str]| Ok::<_, std::io::Error>(nobody_output(&env, args));
    let before = std::fs::read(env.db()).unwrap();
    let db = env.db().display().to_string();
    for args in [
        vec!["--json", "workflow", "status"],
        vec!["--json", "workflow", "history"],
        vec!["--json", "log", "verify", "--all"],
        vec!["--json", "log", "verify", "--file", &db],
        vec!["--json", "log", "show"],
    ] {
        let out = as_nobody(&args).unwrap();
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        assert!(out.status.success(), "{args:?}: {stdout}{stderr}");
        let doc: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        if args.contains(&"verify") {
            assert_eq!(doc["ok"], true, "{args:?}: {doc}");
        }
        if args.contains(&"status") {
            assert_eq!(doc["status"], "completed", "{doc}");
        }
    }
    let out = as_nobody(&["workflow", "run", "tiny"]).unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("read-only"), "{stderr}");
    assert_eq!(
        std::fs::read(env.db()).unwrap(),
        before,
        "nothing was written"
    );
    assert!(!env.home().join("cortex.db-shm").exists());
}

/// An archive copy of a log on read-only media (here a copy in a folder made immutable, so
/// that neither the copy nor a `-shm` beside it can be written): `log verify --file` reads it
/// and changes nothing. A file that is not a log is refused, and left as it was (opening it
/// used to create tables in it).
#[test]
fn a_read_only_archive_copy_verifies_through_log_verify_file() {
    let env = Env::new();
    env.workflow("tiny", "name: tiny\nsteps:\n  - {name: a, run: 'echo a'}\n");
    assert_eq!(env.run(&["workflow", "run", "tiny"]).code, 0);
    let archive = env.dir.path().join("archive");
    std::fs::create_dir_all(&archive).unwrap();
    let copy = archive.join("cortex-copy.db");
    std::fs::copy(env.db(), &copy).unwrap();
    let not_a_log = archive.join("notes.db");
    std::fs::write(&not_a_log, "").unwrap();
    let dir = archive.display().to_string();
    if !try_cmd("chattr", &["+i", &copy.display().to_string()])
        || !try_cmd("chattr", &["+i", &not_a_log.display().to_string()])
        || !try_cmd("chattr", &["+i", &dir])
    {
        try_cmd("chattr", &["-i", &copy.display().to_string()]);
        try_cmd("chattr", &["-i", &not_a_log.display().to_string()]);
        eprintln!("skipped: chattr +i is not allowed here, so a read-only copy cannot be made");
        return;
    }
    let _guards = (
        Immutable(archive.clone()),
        Immutable(copy.clone()),
        Immutable(not_a_log.clone()),
    );
    let before = std::fs::read(&copy).unwrap();
    let verify = env.run(&[
        "--json",
        "log",
        "verify",
        "--file",
        &copy.display().to_string(),
    ]);
    assert_eq!(verify.code, 0, "{}{}", verify.stdout, verify.stderr);
    assert_eq!(verify.json()["ok"], true);
    assert_eq!(verify.json()["runs"], 1);
    assert_eq!(std::fs::read(&copy).unwrap(), before);
    assert_eq!(
        std::fs::read_dir(&archive).unwrap().count(),
        2,
        "no -wal or -shm was made"
    );

    let refused = env.run(&["log", "verify", "--file", &not_a_log.display().to_string()]);
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("not a cortex event log"),
        "{}",
        refused.stderr
    );
    assert_eq!(std::fs::read(&not_a_log).unwrap(), b"");
}

/// A copy taken while a writer had events still in `cortex.db-wal`, on read-only media
/// without its `-shm`: SQLite cannot read those events there, so reading it says so (and how
/// to read it), instead of verifying an older log than the one copied.
#[test]
fn a_read_only_copy_with_events_in_its_wal_says_they_cannot_be_read_there() {
    let env = Env::new();
    env.workflow("tiny", "name: tiny\nsteps:\n  - {name: a, run: 'echo a'}\n");
    assert_eq!(env.run(&["workflow", "run", "tiny"]).code, 0);
    // Keep a writer open with its last transaction in the WAL, and copy the files it has.
    let writer = rusqlite::Connection::open(env.db()).unwrap();
    writer
        .execute_batch("PRAGMA wal_autocheckpoint = 0; CREATE TABLE pending (x); INSERT INTO pending VALUES (1);")
        .unwrap();
    let archive = env.dir.path().join("archive");
    std::fs::create_dir_all(&archive).unwrap();
    let copy = archive.join("cortex.db");
    std::fs::copy(env.db(), &copy).unwrap();
    std::fs::copy(
        env.home().join("cortex.db-wal"),
        archive.join("cortex.db-wal"),
    )
    .unwrap();
    drop(writer);
    let dir = archive.display().to_string();
    if !try_cmd("chattr", &["+i", &dir]) {
        eprintln!("skipped: chattr +i is not allowed here, so a read-only folder cannot be made");
        return;
    }
    let _guard = Immutable(archive.clone());
    let out = env.run(&["log", "verify", "--file", &copy.display().to_string()]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(out.stderr.contains("cortex.db-wal"), "{}", out.stderr);
    assert!(out.stderr.contains("hint:"), "{}", out.stderr);
}

/// The adversarial review's case: a log whose `user_version` is above the migrations this
/// cortex knows was written to. Now every write refuses, naming both versions and saying to
/// upgrade; reading (status, history, verify) still works; the log is left as it was.
#[test]
fn a_log_from_a_newer_cortex_is_read_but_never_written() {
    let env = Env::new();
    env.workflow("tiny", "name: tiny\nsteps:\n  - {name: a, run: 'echo a'}\n");
    assert_eq!(env.run(&["workflow", "run", "tiny"]).code, 0);
    let known = cortex::store::SCHEMA_VERSION;
    let newer = known + 7;
    rusqlite::Connection::open(env.db())
        .unwrap()
        .execute_batch(&format!("PRAGMA user_version = {newer};"))
        .unwrap();
    let events = || {
        env.run(&["--json", "log", "verify", "--all"]).json()["events"]
            .as_u64()
            .unwrap()
    };
    std::fs::create_dir_all(env.home().join("agents")).unwrap();
    std::fs::write(
        env.home().join("agents/helper.md"),
        "---\nname: helper\ndescription: helps\n---\nbody\n",
    )
    .unwrap();
    let before = events();
    for args in [
        vec!["workflow", "run", "tiny"],
        vec!["workflow", "resume"],
        vec!["agent", "activate", "helper"],
    ] {
        let out = env.run(&args);
        assert_eq!(out.code, 1, "{args:?}: {}{}", out.stdout, out.stderr);
        assert!(
            out.stderr.contains(&format!("schema version {newer}"))
                && out.stderr.contains(&format!("versions up to {known}")),
            "{}",
            out.stderr
        );
        assert!(out.stderr.contains("upgrade cortex"), "{}", out.stderr);
    }
    reads_work(&env, &env.db());
    assert_eq!(events(), before, "nothing was appended");
    let version: i64 = rusqlite::Connection::open(env.db())
        .unwrap()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, newer, "nor was the schema touched");
}

/// A SQLite file with another application's `events` table is not a cortex log: `--db` reads,
/// `log verify --file` and `log copy --to` each refuse it as foreign (exit 2, naming the
/// tables, saying nothing of it was changed), before anything writes — never the raw SQL
/// error ("no such column: run_id", exit 1 as if verification failed), never the migration's
/// script, and the file keeps its journal mode and bytes (`log copy --to` switched it to WAL).
#[test]
fn a_sqlite_file_with_another_applications_events_table_is_refused_unchanged() {
    let env = Env::new();
    env.workflow("tiny", "name: tiny\nsteps:\n  - {name: a, run: 'echo a'}\n");
    assert_eq!(env.run(&["workflow", "run", "tiny"]).code, 0);
    let app = env.dir.path().join("app.db");
    rusqlite::Connection::open(&app)
        .unwrap()
        .execute_batch("CREATE TABLE events(x int); INSERT INTO events VALUES (7);")
        .unwrap();
    let before = std::fs::read(&app).unwrap();
    let path = app.display().to_string();
    for args in [
        vec!["--db", &path, "log", "verify"],
        vec!["--db", &path, "workflow", "history"],
        vec!["--db", &path, "workflow", "run", "tiny"],
        vec!["log", "verify", "--file", &path],
        vec!["log", "copy", "--to", &path],
    ] {
        let out = env.run(&args);
        assert_eq!(out.code, 2, "{args:?}: {}{}", out.stdout, out.stderr);
        assert!(
            out.stderr
                .contains("holds tables named as cortex's (events)")
                && out.stderr.contains("not a cortex event log")
                && out
                    .stderr
                    .contains(&format!("nothing of {path} was changed")),
            "{args:?}: {}",
            out.stderr
        );
        let all = out.text();
        assert!(
            !all.contains("no such column") && !all.contains("CREATE"),
            "{args:?}: {all}"
        );
    }
    assert_eq!(
        std::fs::read(&app).unwrap(),
        before,
        "the file is unchanged"
    );
    let mode: String = rusqlite::Connection::open(&app)
        .unwrap()
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "delete");
}

/// The log file removed (`rm -f cortex.db*`) or replaced by another file while a run is
/// driven: the driver's next append fails, naming the file, the run and the seq from which
/// nothing is kept (exit 1, no `Next:` for a run that is not there). Before, it wrote on into
/// the unlinked file, reported the run waiting and printed commands that then found no run.
#[test]
fn a_log_file_removed_or_replaced_under_its_driver_stops_it_saying_so() {
    let env = Env::new();
    let started = env.dir.path().join("started");
    let go = env.dir.path().join("go");
    env.workflow(
        "slow",
        &format!(
            "name: slow\nsteps:\n  - name: a\n    run: 'touch {}; while [ ! -e {} ]; do sleep 0.05; done'\n  - name: c\n    prompt: check\n",
            started.display(),
            go.display()
        ),
    );
    let db = env.db();
    let remove = |db: &std::path::Path| {
        for suffix in ["", "-wal", "-shm"] {
            let mut p = db.as_os_str().to_owned();
            p.push(suffix);
            let _ = std::fs::remove_file(p);
        }
    };
    let replace = |db: &std::path::Path| {
        let copy = db.with_extension("copy");
        std::fs::copy(db, &copy).unwrap();
        std::fs::rename(&copy, db).unwrap();
    };
    for (how, change) in [
        ("removed", &remove as &dyn Fn(&std::path::Path)),
        ("replaced", &replace),
    ] {
        let _ = std::fs::remove_file(&started);
        let _ = std::fs::remove_file(&go);
        let child = env
            .command(&["workflow", "run", "slow"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while !started.exists() {
            assert!(std::time::Instant::now() < deadline, "{how}: never started");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        change(&db);
        std::fs::write(&go, "").unwrap();
        let out = child.wait_with_output().unwrap();
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        assert_eq!(out.status.code(), Some(1), "{how}: {stdout}{stderr}");
        assert!(
            stderr.contains(&format!(
                "the log file {} was removed or replaced while run",
                db.display()
            )) && stderr.contains("nothing from its seq"),
            "{how}: {stderr}"
        );
        assert!(!stdout.contains("Next:"), "{how}: {stdout}");
    }
}

/// `log verify` of a log that is not there (a mistyped `--db`, the wrong home) is bad input,
/// exit 2, naming where it looked and how to point at the log meant — never "✅ log
/// verified: 0 runs" (a CI audit of a typo went green). A fresh home's history still says
/// there are no runs yet.
#[test]
fn log_verify_of_a_log_that_is_not_there_is_an_error_naming_where_it_looked() {
    let env = Env::new();
    let typo = env.dir.path().join("typo.db");
    for args in [
        vec!["log", "verify"],
        vec!["log", "verify", "--all"],
        vec!["--db", typo.to_str().unwrap(), "log", "verify"],
    ] {
        let out = env.run(&args);
        assert_eq!(out.code, 2, "{args:?}: {}{}", out.stdout, out.stderr);
        assert!(
            out.stderr.contains("there is no log at") && out.stderr.contains("--db"),
            "{args:?}: {}",
            out.stderr
        );
        assert!(!out.stdout.contains("verified"), "{}", out.stdout);
    }
    let out = env.run(&["--db", typo.to_str().unwrap(), "log", "verify"]);
    assert!(
        out.stderr.contains(&typo.display().to_string()),
        "{}",
        out.stderr
    );
    assert!(!typo.exists(), "nothing was created");
    let history = env.run(&["--json", "workflow", "history"]);
    assert_eq!(history.code, 0, "{}", history.stderr);
    assert_eq!(history.json()["runs"], serde_json::json!([]));
}

/// A first command killed after SQLite created `cortex.db` but before cortex set it up leaves a
/// database with no tables (the crash-injection suite hits it): reading commands see a home
/// with no runs, and the next run sets the log up.
#[test]
fn a_log_left_blank_by_a_killed_first_command_reads_as_having_no_runs() {
    let env = Env::new();
    env.workflow("tiny", "name: tiny\nsteps:\n  - {name: a, run: 'echo a'}\n");
    rusqlite::Connection::open(env.db())
        .unwrap()
        .execute_batch("PRAGMA journal_mode = WAL;")
        .unwrap();
    let verify = env.run(&["--json", "log", "verify", "--all"]);
    assert_eq!(verify.code, 0, "{}", verify.stderr);
    assert_eq!(verify.json()["runs"], 0);
    let history = env.run(&["--json", "workflow", "history"]);
    assert_eq!(history.code, 0, "{}", history.stderr);
    assert_eq!(history.json()["runs"], serde_json::json!([]));
    assert_eq!(env.run(&["workflow", "run", "tiny"]).code, 0);
    assert_eq!(env.status(None)["status"], "completed");
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
    for _ in 0..10 {
        let out = env.run(&["workflow", "run", "fill"]);
        assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
        // A step whose own write hit the full disk first is a failed step, recorded as
        // such; the next run meets the full disk in cortex's own writes.
        if out.code != 0 && !out.stdout.contains("exited with code") {
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

/// A writer killed with the write-ahead file open leaves `-wal` and `-shm` behind, and a crash
/// in the middle of a write can leave the index needing a rebuild: reads (`log verify`,
/// `status`) must work on such a log. (A crash-injection trial once failed here with "attempt
/// to write a readonly database" from the read-only opening; the reading store now falls back
/// to a read-write connection that rebuilds the index and still writes nothing else.)
#[test]
fn a_log_whose_writer_was_killed_is_read_even_with_its_index_damaged() {
    let env = Env::new();
    env.workflow(
        "hold",
        "name: hold\nsteps:\n  - {name: a, run: 'true'}\n  - {name: b, run: 'touch started; sleep 30'}\n",
    );
    let mut child = env
        .command(&["workflow", "run", "hold"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let until = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !env.file("started").exists() {
        assert!(std::time::Instant::now() < until, "the step never started");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    // As a crash in the middle of a write leaves it: an index that must be rebuilt.
    let shm = env.db().with_extension("db-shm");
    assert!(shm.exists(), "a killed writer leaves its -shm");
    let len = std::fs::metadata(&shm).unwrap().len() as usize;
    std::fs::write(&shm, vec![0u8; len]).unwrap();
    let verify = env.run(&["--json", "log", "verify", "--all"]);
    assert_eq!(verify.code, 0, "{}{}", verify.stdout, verify.stderr);
    assert_eq!(verify.json()["ok"], true);
    assert_eq!(env.status(None)["status"], "interrupted");
}

/// Fill the file system holding `dir` with one file in it, until it refuses for lack of space.
fn fill_disk(dir: &std::path::Path) -> std::path::PathBuf {
    use std::io::Write;
    let path = dir.join("filler");
    let mut file = std::fs::File::create(&path).unwrap();
    let block = vec![0u8; 4096];
    loop {
        match file.write(&block) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => {
                assert_eq!(e.raw_os_error(), Some(28), "ENOSPC, not {e}");
                break;
            }
        }
    }
    path
}

/// The adversarial review's case: on a full disk every reading command (`status`, `history`,
/// `log verify`, `log show`) failed with "the event log … could not be opened: disk I/O error"
/// and a hint to put back a backup of a damaged file, and `step complete` said "event log
/// error: disk I/O error" (SQLite could not make its `-shm` index there). Reads now work;
/// writes say the disk is full and that nothing recorded was lost; no hint speaks of a
/// damaged file; once there is room the report is taken.
#[test]
fn a_full_disk_is_read_and_a_write_says_the_disk_is_full_not_damaged() {
    let env = Env::new();
    let home = env.home().display().to_string();
    if !try_cmd("mount", &["-t", "tmpfs", "-o", "size=2m", "tmpfs", &home]) {
        eprintln!(
            "skipped: mounting a small tmpfs is not allowed here, so a full disk cannot be made"
        );
        return;
    }
    let _mounted = Mounted(env.home());
    std::fs::create_dir_all(env.home().join("workflows")).unwrap();
    env.workflow(
        "wait",
        "name: wait\nsteps:\n  - {name: a, run: 'true'}\n  - {name: b, prompt: do it}\n",
    );
    assert_eq!(env.run(&["workflow", "run", "wait"]).code, 3, "waits on b");
    let filler = fill_disk(&env.home());
    let db = env.db().display().to_string();
    for args in [
        vec!["--json", "workflow", "status"],
        vec!["--json", "workflow", "history"],
        vec!["--json", "log", "verify", "--all"],
        vec!["--json", "log", "verify", "--file", &db],
        vec!["--json", "log", "show"],
    ] {
        let out = env.run(&args);
        assert_eq!(out.code, 0, "{args:?}: {}{}", out.stdout, out.stderr);
        let doc = out.json();
        if args.contains(&"verify") {
            assert_eq!(doc["ok"], true, "{args:?}: {doc}");
            assert_eq!(doc["runs"], 1, "{args:?}: {doc}");
        }
        if args.contains(&"status") {
            assert_eq!(doc["status"], "waiting", "{doc}");
        }
    }
    for args in [
        vec!["workflow", "step", "complete", "b"],
        vec!["workflow", "run", "wait"],
    ] {
        let out = env.run(&args);
        assert_eq!(out.code, 1, "{args:?}: {}{}", out.stdout, out.stderr);
        assert!(
            out.stderr.contains("the disk is full"),
            "{args:?}: {}",
            out.stderr
        );
        assert!(
            out.stderr.contains("nothing recorded was lost"),
            "{}",
            out.stderr
        );
        assert!(!out.stderr.contains("put back a copy"), "{}", out.stderr);
        assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    }
    std::fs::remove_file(filler).unwrap();
    let done = env.run(&["workflow", "step", "complete", "b"]);
    assert_eq!(done.code, 0, "{}{}", done.stdout, done.stderr);
    assert_eq!(env.status(None)["status"], "completed");
    let verify = env.run(&["--json", "log", "verify", "--all"]);
    assert_eq!(verify.json()["ok"], true, "{}", verify.stderr);
    assert_eq!(verify.json()["runs"], 1, "the refused run recorded nothing");
}

/// Make `env`'s home readable by anyone and writable by nobody (folders 555, files 444; its
/// parents 755), as another user's home or an archive copy is; `writable` gives it back
/// (755, 644). None (having said why) where commands cannot be run as `nobody` here.
fn home_read_only(env: &Env, writable: bool) -> Option<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = |path: &std::path::Path, bits: u32| {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(bits)).unwrap()
    };
    mode(env.dir.path(), 0o755);
    mode(&env.project(), 0o755);
    let (dirs, files) = if writable {
        (0o755, 0o644)
    } else {
        (0o555, 0o444)
    };
    let mut paths = vec![env.home()];
    while let Some(path) = paths.pop() {
        if path.is_dir() {
            mode(&path, dirs);
            paths.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
        } else {
            mode(&path, files);
        }
    }
    env.runs_as_nobody().then_some(())
}

/// What `args` did, run as `nobody`.
fn nobody_output(env: &Env, args: &[&str]) -> std::process::Output {
    use std::os::unix::process::CommandExt;
    env.command(args).uid(NOBODY).gid(NOBODY).output().unwrap()
}

/// `args` run as `nobody`: exit code, stdout, stderr.
fn as_nobody(env: &Env, args: &[&str]) -> (i32, String, String) {
    use std::os::unix::process::CommandExt;
    let mut cmd = env.command(args);
    cmd.uid(NOBODY).gid(NOBODY);
    let o = cmd.output().unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// The review's home: `env`'s files given to `nobody`, but `logs/` made by root, mode 755.
/// None (having said why) where commands cannot be run as another user here.
fn root_owned_logs(env: &Env) -> Option<std::path::PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    if !env.give_to_nobody() {
        return None;
    }
    let logs = env.home().join("logs");
    std::fs::create_dir(&logs).unwrap();
    std::fs::set_permissions(&logs, std::fs::Permissions::from_mode(0o755)).unwrap();
    Some(logs)
}

/// The adversarial review's case: a home its user owns but whose `logs/` is root's (mode
/// 755), run as that user. Every attempt "could not start: cannot prepare
/// …/runs/<id>/work/step-…-attempt-N.out: Permission denied" — a path that was writable, not
/// the `logs/` folder that was not — and each was recorded as a failed attempt of the step,
/// spending its retries and running `on_failure: rollback` (undoing real work) for a fault of
/// cortex's own home. Now the run is paused before anything runs, with an error naming
/// `logs/`, no failed attempt and no rollback; once `logs/` is writable, `resume` completes it.
#[test]
fn an_unwritable_logs_folder_pauses_the_run_naming_it_instead_of_failing_the_step() {
    let env = Env::new();
    env.workflow(
        "w",
        "name: w\nsteps:\n  - {name: prep, prompt: prepare, rollback: 'touch rolled-back'}\n  - name: a\n    run: 'echo ran >> count; echo x=1 >> \"$CORTEX_OUTPUT\"'\n    retry: {max_retry_attempts: 2, backoff: 1ms}\n    on_failure: rollback\n",
    );
    let Some(logs) = root_owned_logs(&env) else {
        return;
    };
    let as_nobody = |args: &[&str]| as_nobody(&env, args);
    // `prep` is done by a person (nothing of it is written in `logs/`); reporting it drives
    // the run on to `a`, whose attempts meet the unwritable folder.
    let (code, stdout, stderr) = as_nobody(&["workflow", "run", "w"]);
    assert_eq!(code, 3, "waits on prep: {stdout}{stderr}");
    // The report was recorded: it says so, and why the run was not driven on; its exit code
    // is the paused run's status's (`failed`, resumable).
    let (code, stdout, stderr) = as_nobody(&["workflow", "step", "complete", "prep"]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    let logs_shown = logs.display().to_string();
    assert!(
        stderr.contains(&logs_shown) && stderr.contains("Permission denied"),
        "the error names logs/: {stderr}"
    );
    assert!(!stderr.contains("/work/step-"), "{stderr}");
    assert!(
        stderr.contains("recorded; not driven on here")
            && stderr.contains("make that path writable")
            && stderr.contains("resume"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    let status = env.status(None);
    let run = status["run_id"].as_str().unwrap().to_string();
    let types = common::event_types(&env, &run);
    assert!(types.contains(&"run_paused".to_string()), "{types:?}");
    assert!(
        !types
            .iter()
            .any(|t| t.contains("fail") || t.contains("retry") || t.contains("rollback")),
        "no failed attempt, retry or rollback: {types:?}"
    );
    assert!(!env.file("rolled-back").exists(), "nothing was rolled back");
    assert!(!env.file("count").exists(), "nothing ran");

    std::os::unix::fs::chown(&logs, Some(NOBODY), Some(NOBODY)).unwrap();
    let (code, stdout, stderr) = as_nobody(&["workflow", "resume"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_eq!(env.status(None)["status"], "completed");
    assert_eq!(common::lines(&env.file("count")), ["ran"], "a ran once");
    assert!(!env.file("rolled-back").exists());
}

/// The same home fault in a scenario: its phases' attempts failed one by one with the wrong
/// path. Now the driver starts no further phase, pauses the run naming `logs/`, records no
/// failure, and `orchestrate resume` completes it once `logs/` is writable.
#[test]
fn an_unwritable_logs_folder_pauses_a_scenario_naming_it() {
    let env = Env::new();
    env.scenario(
        "sc",
        "name: sc\ndescription: d\nphases:\n  - name: a\n    parallel: true\n    run: echo a >> ran.log\n  - name: b\n    parallel: true\n    run: echo b >> ran.log\n  - name: c\n    condition: after:a,b\n    run: echo c >> ran.log\n",
    );
    let Some(logs) = root_owned_logs(&env) else {
        return;
    };
    let (code, stdout, stderr) = as_nobody(&env, &["orchestrate", "run", "sc"]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(
        stderr.contains(&logs.display().to_string()) && stderr.contains("Permission denied"),
        "{stderr}"
    );
    assert!(stderr.contains("orchestrate resume"), "{stderr}");
    let status = env.run(&["--json", "orchestrate", "status", "sc"]).json();
    let run = status["run_id"].as_str().unwrap().to_string();
    let types = common::event_types(&env, &run);
    assert!(types.contains(&"run_paused".to_string()), "{types:?}");
    assert!(!types.iter().any(|t| t.contains("fail")), "{types:?}");
    assert!(!env.file("ran.log").exists(), "nothing ran");

    std::os::unix::fs::chown(&logs, Some(NOBODY), Some(NOBODY)).unwrap();
    let (code, stdout, stderr) = as_nobody(&env, &["orchestrate", "resume", "sc"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let mut ran = common::lines(&env.file("ran.log"));
    ran.sort();
    assert_eq!(ran, ["a", "b", "c"], "each phase ran once");
}

/// Two runs of a one-step workflow that records an output; their ids, oldest first.
fn two_recorded_runs(env: &Env) -> (String, String) {
    env.workflow(
        "w",
        "name: w\nsteps:\n  - {name: a, run: 'echo x=1 >> \"$CORTEX_OUTPUT\"'}\n",
    );
    assert_eq!(env.run(&["workflow", "run", "w"]).code, 0);
    assert_eq!(env.run(&["workflow", "run", "w"]).code, 0);
    let history = env.run(&["--json", "workflow", "history"]).json()["runs"].clone();
    let runs = history.as_array().unwrap();
    (
        runs[1]["run_id"].as_str().unwrap().to_string(),
        runs[0]["run_id"].as_str().unwrap().to_string(),
    )
}

/// The review's case: one event body damaged in one old run (a byte changed on disk) made
/// `workflow history` fail for every run (exit 1, no rows), and `log show` and `log export` of
/// that run print nothing. Now history lists every run, the damaged one marked unreadable;
/// show prints every event, the damaged one as such with its stored type, version and hash;
/// export writes every row (the damaged body as `body_text`), and `log verify --file` finds
/// the damage there, at its seq.
#[test]
fn one_damaged_event_hides_no_run_from_history_show_or_export() {
    let env = Env::new();
    let (old, new) = two_recorded_runs(&env);
    let db = rusqlite::Connection::open(env.db()).unwrap();
    db.execute_batch("DROP TRIGGER events_append_only_update")
        .unwrap();
    let seq: i64 = db
        .query_row(
            "SELECT seq FROM events WHERE run_id = ?1 AND type = 'output_recorded'",
            [&old],
            |r| r.get(0),
        )
        .unwrap();
    db.execute(
        "UPDATE events SET body = '{garbage' WHERE run_id = ?1 AND seq = ?2",
        rusqlite::params![old, seq],
    )
    .unwrap();
    drop(db);

    let history = env.run(&["--json", "workflow", "history"]);
    assert_eq!(history.code, 0, "{}", history.stderr);
    let rows = history.json()["runs"].clone();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows[0]["run_id"], new.as_str());
    assert_eq!(rows[0]["status"], "completed");
    assert!(rows[0].get("unreadable").is_none(), "{rows:?}");
    assert_eq!(rows[1]["run_id"], old.as_str());
    let why = rows[1]["unreadable"].as_str().unwrap();
    assert!(why.contains(&format!("event #{seq}")), "{why}");
    let text = env.run(&["workflow", "history"]);
    assert_eq!(text.code, 0, "{}", text.stderr);
    assert!(text.stdout.contains("unreadable"), "{}", text.stdout);

    let events = env.run(&["--json", "workflow", "status", &new]).json();
    assert_eq!(events["status"], "completed");

    let show = env.run(&["log", "show", &old]);
    assert_eq!(show.code, 0, "{}", show.stderr);
    let stored: usize = rows[1]["events"].as_u64().unwrap() as usize;
    // The header, every event, and two lines saying that the chain breaks at the damage.
    assert_eq!(show.stdout.lines().count(), stored + 3, "{}", show.stdout);
    assert!(
        show.stdout
            .contains(&format!("this run's log does not verify at seq {seq}")),
        "{}",
        show.stdout
    );
    let line = show
        .stdout
        .lines()
        .find(|l| l.contains("output_recorded"))
        .unwrap();
    assert!(
        line.contains("cannot be read (damaged)") && line.contains("hash "),
        "{line}"
    );
    let doc = env.run(&["--json", "log", "show", &old]).json();
    let bad = &doc.as_array().unwrap()[seq as usize];
    assert_eq!(bad["type"], "output_recorded");
    assert!(bad["unreadable"].is_string(), "{bad}");
    assert_eq!(bad["hash"].as_str().unwrap().len(), 64);

    let export = env.run(&["log", "export", &old]);
    assert_eq!(export.code, 0, "{}", export.stderr);
    assert_eq!(export.stdout.lines().count(), stored, "{}", export.stdout);
    assert!(export.stdout.contains("\"body_text\":\"{garbage\""));
    let file = env.dir.path().join("old.jsonl");
    std::fs::write(&file, &export.stdout).unwrap();
    let verify = env.run(&[
        "--json",
        "log",
        "verify",
        "--file",
        &file.display().to_string(),
    ]);
    assert_eq!(verify.code, 1, "{}{}", verify.stdout, verify.stderr);
    assert_eq!(verify.json()["first_bad"]["seq"], seq, "{}", verify.stdout);
}

/// The review's case: an event a newer cortex wrote (event schema version 5, this one reads 4),
/// correctly chained, made `log verify --json` print an error document instead of its report,
/// and every reading command hint that the log was damaged and to put back a backup. Now the
/// chain verifies and the report says which run holds events this cortex cannot read and the
/// version they need; history, show and export read the run; an error on it says to upgrade,
/// never to restore a backup.
#[test]
fn an_event_of_a_newer_cortex_verifies_and_says_upgrade_not_restore_a_backup() {
    let env = Env::new();
    let (old, new) = two_recorded_runs(&env);
    let db = rusqlite::Connection::open(env.db()).unwrap();
    let (seq, prev): (i64, Vec<u8>) = db
        .query_row(
            "SELECT seq, hash FROM events WHERE run_id = ?1 ORDER BY seq DESC LIMIT 1",
            [&new],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    let (seq, id, time, kind, version, body) = (
        seq + 1,
        "01M91ZZZZZZZZZZZZZZZZZZZZZ",
        "2026-12-04T23:59:00.000Z",
        "step_annotated",
        i64::from(cortex::event::EVENT_VERSION) + 1,
        "{\"note\":\"from a newer cortex\",\"step\":\"a\"}",
    );
    let hash = cortex::store::event_hash(
        new.as_bytes(),
        seq,
        &prev,
        id.as_bytes(),
        time.as_bytes(),
        kind.as_bytes(),
        version,
        body.as_bytes(),
    );
    db.execute(
        "INSERT INTO events (run_id, seq, id, time, type, version, body, prev_hash, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        rusqlite::params![new, seq, id, time, kind, version, body, prev, hash.to_vec()],
    )
    .unwrap();
    db.execute(
        "UPDATE runs SET head_seq = ?1, head_hash = ?2 WHERE run_id = ?3",
        rusqlite::params![seq, hash.to_vec(), new],
    )
    .unwrap();
    drop(db);

    let verify = env.run(&["--json", "log", "verify"]);
    assert_eq!(verify.code, 0, "{}{}", verify.stdout, verify.stderr);
    let report = verify.json();
    assert_eq!(report["ok"], true, "{report}");
    assert_eq!(report["runs"], 2, "{report}");
    assert!(report["first_bad"].is_null(), "{report}");
    let unreadable = &report["unreadable"][0];
    assert_eq!(unreadable["run_id"], new.as_str(), "{report}");
    assert_eq!(unreadable["seq"], seq, "{report}");
    assert_eq!(unreadable["needs_version"], version, "{report}");
    let text = env.run(&["log", "verify"]);
    assert_eq!(text.code, 0, "{}", text.stderr);
    assert!(
        text.stdout.contains("cannot read") && text.stdout.contains(&format!("version {version}")),
        "{}",
        text.stdout
    );

    let history = env.run(&["--json", "workflow", "history"]);
    assert_eq!(history.code, 0, "{}", history.stderr);
    let rows = history.json()["runs"].clone();
    assert_eq!(rows.as_array().unwrap().len(), 2, "{rows}");
    assert!(
        rows[0]["unreadable"]
            .as_str()
            .unwrap()
            .contains("upgrade cortex")
    );
    assert_eq!(rows[1]["run_id"], old.as_str());
    assert_eq!(rows[1]["status"], "completed");

    let show = env.run(&["log", "show", &new]);
    assert_eq!(show.code, 0, "{}", show.stderr);
    assert!(
        show.stdout.contains("step_annotated") && show.stdout.contains("newer cortex"),
        "{}",
        show.stdout
    );
    let export = env.run(&["log", "export", &new]);
    assert_eq!(export.code, 0, "{}", export.stderr);
    let file = env.dir.path().join("new.jsonl");
    std::fs::write(&file, &export.stdout).unwrap();
    let verify = env.run(&[
        "--json",
        "log",
        "verify",
        "--file",
        &file.display().to_string(),
    ]);
    assert_eq!(verify.json()["ok"], true, "{}", verify.stdout);

    // What cannot read the run says to upgrade, and nothing of damage or backups.
    let status = env.run(&["workflow", "status", &new]);
    assert_eq!(status.code, 1, "{}{}", status.stdout, status.stderr);
    assert!(
        status.stderr.contains("upgrade cortex"),
        "{}",
        status.stderr
    );
    assert!(
        !status.stderr.contains("backup") && !status.stderr.contains("damaged or"),
        "{}",
        status.stderr
    );
}

/// Wait (up to 20 s) for `path` to exist.
fn wait_for_file(path: &std::path::Path) {
    let until = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !path.exists() {
        assert!(
            std::time::Instant::now() < until,
            "{} never came",
            path.display()
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// The review's case: a step printed 30 lines of 1 KB while the disk was full for a moment;
/// the run completed, the attempt's file kept 24 of them, and nothing said so: no warning, no
/// `attempt_log` event, and `cortex logs` called the attempt "interrupted … stopped, aborted or
/// its driver gone". Now the lines that could not be written are counted: the file is
/// recorded as it is, marked incomplete (`lost_bytes`, `lost_reason`), the run's output warns
/// at once, `cortex logs` says the output is incomplete and why, and `log verify` passes.
#[test]
fn output_lost_to_a_full_disk_is_recorded_incomplete_and_said() {
    let env = Env::new();
    let home = env.home().display().to_string();
    if !try_cmd("mount", &["-t", "tmpfs", "-o", "size=2m", "tmpfs", &home]) {
        eprintln!(
            "skipped: mounting a small tmpfs is not allowed here, so a full disk cannot be made"
        );
        return;
    }
    let _mounted = Mounted(env.home());
    std::fs::create_dir_all(env.home().join("workflows")).unwrap();
    let marks = env.dir.path().join("marks");
    std::fs::create_dir_all(&marks).unwrap();
    let m = marks.display().to_string();
    let print = |from: u32, to: u32| {
        format!("for i in $(seq {from} {to}); do printf 'line %03d %01000d\\n' $i 0; done")
    };
    let script = format!(
        "{}; touch {m}/1; while [ ! -e {m}/2 ]; do sleep 0.02; done; {}; sleep 0.3; touch {m}/3; while [ ! -e {m}/4 ]; do sleep 0.02; done; {}",
        print(1, 5),
        print(6, 25),
        print(26, 30)
    );
    env.workflow(
        "talk",
        &format!(
            "name: talk\nsteps:\n  - name: talk\n    run: {}\n",
            serde_json::to_string(&script).unwrap()
        ),
    );
    let child = env
        .command(&["workflow", "run", "talk"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_file(&marks.join("1"));
    std::thread::sleep(std::time::Duration::from_millis(200));
    let filler = fill_disk(&env.home());
    std::fs::write(marks.join("2"), "").unwrap();
    wait_for_file(&marks.join("3"));
    std::fs::remove_file(&filler).unwrap();
    std::fs::write(marks.join("4"), "").unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(
        stdout.contains("could not be written to its log file"),
        "no warning: {stdout}{stderr}"
    );

    let events = env.run(&["--json", "log", "show"]).json();
    let logged = events
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "attempt_log")
        .unwrap_or_else(|| panic!("no attempt_log event: {events}"))
        .clone();
    let lost = logged["body"]["lost_bytes"].as_u64().unwrap();
    assert!(lost > 0, "{logged}");
    assert!(
        logged["body"]["lost_reason"]
            .as_str()
            .unwrap()
            .contains("No space left"),
        "{logged}"
    );
    let file = env.home().join(logged["body"]["file"].as_str().unwrap());
    let kept = std::fs::read_to_string(&file).unwrap();
    assert_eq!(logged["body"]["bytes"].as_u64(), Some(kept.len() as u64));
    assert!(kept.lines().count() < 30, "the disk was full for some");
    assert!(
        kept.contains("line 030"),
        "written again once there was room"
    );
    assert_eq!(lost + kept.len() as u64, 30 * 1010, "every byte counted");

    let logs = env.run(&["logs", "talk", "talk"]);
    assert_eq!(logs.code, 0, "{}", logs.stderr);
    assert!(
        logs.stdout.contains("(incomplete:") && logs.stdout.contains("No space left"),
        "{}",
        logs.stdout
    );
    assert!(!logs.stdout.contains("interrupted"), "{}", logs.stdout);
    let verify = env.run(&["--json", "log", "verify"]);
    assert_eq!(verify.json()["ok"], true, "{}", verify.stdout);
}

/// The review's case: a scenario driver whose write met a full disk exited 1 ("the disk is
/// full … nothing recorded was lost") and left the other parallel phase running, never
/// signalled, to its end. Now the driver ends the phases it runs as on a stop (TERM, then KILL
/// after the grace) before it exits, and says so.
#[test]
fn a_driver_that_stops_on_a_full_disk_ends_its_running_phases() {
    let env = Env::new();
    let home = env.home().display().to_string();
    if !try_cmd("mount", &["-t", "tmpfs", "-o", "size=2m", "tmpfs", &home]) {
        eprintln!(
            "skipped: mounting a small tmpfs is not allowed here, so a full disk cannot be made"
        );
        return;
    }
    let _mounted = Mounted(env.home());
    std::fs::create_dir_all(env.home().join("workflows")).unwrap();
    let marks = env.dir.path().join("marks");
    std::fs::create_dir_all(&marks).unwrap();
    let m = marks.display().to_string();
    env.scenario(
        "fds",
        &format!(
            "name: fds\ndescription: d\nphases:\n  - name: filler\n    description: fills the disk\n    condition: auto\n    parallel: true\n    run: {}\n  - name: longone\n    description: long\n    condition: auto\n    parallel: true\n    run: {}\n",
            serde_json::to_string(&format!(
                "while [ ! -e {m}/started ]; do sleep 0.02; done; dd if=/dev/zero of={home}/filler bs=4k 2>/dev/null; true"
            ))
            .unwrap(),
            serde_json::to_string(&format!(
                "trap 'echo got-TERM >> {m}/count.log; exit 1' TERM; echo start >> {m}/count.log; touch {m}/started; sleep 30 & wait; echo end >> {m}/count.log"
            ))
            .unwrap()
        ),
    );
    let started = std::time::Instant::now();
    let out = env.run(&["orchestrate", "run", "fds"]);
    let _ = std::fs::remove_file(env.home().join("filler"));
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(out.stderr.contains("disk is full"), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("ended the phase it was running (`longone`)"),
        "{}",
        out.stderr
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(25),
        "the driver waited for the phase to end by itself"
    );
    // What the log cannot say, status does not guess: no kill is claimed.
    let status = env.run(&["orchestrate", "status", "fds"]);
    assert!(
        status
            .stdout
            .contains("ended on an error it could not record"),
        "{}{}",
        status.stdout,
        status.stderr
    );
    let count = std::fs::read_to_string(marks.join("count.log")).unwrap();
    assert!(count.contains("got-TERM"), "never told to stop: {count}");
    assert!(!count.contains("end"), "ran to its end: {count}");
}

/// On a read-only log (a read-only home, run as `nobody`) the commands that would record
/// nothing on a finished run answer as on a writable one — `workflow abort`, `workflow step
/// complete --run`, `orchestrate stop`, `orchestrate abort`, `orchestrate complete` — saying
/// the run is finished, with their usual exit codes; before, each failed with "make cortex.db
/// writable". A command that would record still meets the read-only error.
#[test]
fn commands_on_a_finished_run_answer_on_a_read_only_log_as_on_a_writable_one() {
    let env = Env::new();
    env.workflow("ok", "name: ok\nsteps:\n  - {name: A, run: 'true'}\n");
    env.workflow("ask", "name: ask\nsteps:\n  - {name: Ask, prompt: do it}\n");
    env.scenario(
        "s",
        "name: s\ndescription: d\nphases:\n  - name: p\n    description: x\n    run: 'true'\n",
    );
    assert_eq!(env.run(&["workflow", "run", "ok"]).code, 0);
    assert_eq!(env.run(&["orchestrate", "run", "s"]).code, 0);
    // Asked on a writable log first: what each says there is what it must say read-only.
    let cases: [&[&str]; 5] = [
        &["workflow", "abort", "ok"],
        &["workflow", "step", "complete", "A", "--run", "ok"],
        &["orchestrate", "stop", "s"],
        &["orchestrate", "abort", "s"],
        &["orchestrate", "complete", "s", "p"],
    ];
    let writable: Vec<(Option<i32>, String)> = cases
        .iter()
        .map(|args| {
            let out = env.run(args);
            (Some(out.code), out.stdout)
        })
        .collect();
    assert_eq!(env.run(&["workflow", "run", "ask"]).code, 3);
    if home_read_only(&env, false).is_none() {
        return;
    }
    let as_nobody = |args: &[&str]| Ok::<_, std::io::Error>(nobody_output(&env, args));
    let before = std::fs::read(env.db()).unwrap();
    for (args, (code, stdout)) in cases.iter().zip(&writable) {
        let out = as_nobody(args).unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(out.status.code(), *code, "{args:?}: {text}");
        assert_eq!(&String::from_utf8_lossy(&out.stdout), stdout, "{args:?}");
        assert!(!text.contains("writable"), "{args:?}: {text}");
    }
    // A run that waits: a report would record, and meets the read-only log.
    let out = as_nobody(&["workflow", "step", "complete", "Ask"]).unwrap();
    let text = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("read-only"), "{text}");
    assert_eq!(std::fs::read(env.db()).unwrap(), before, "nothing written");
}

/// SPEC §4: `resume` of a finished run changes nothing, says so and exits with its outcome's
/// code. On a log its reader may not write it failed (exit 1, "the event log is read-only").
/// And `status` of a run that waits offered its Next commands, which record, without saying
/// they fail on this log: it says so now (the suggestions stay). Run as `nobody`.
#[test]
fn a_finished_run_resumes_on_a_read_only_log_and_status_says_next_needs_a_writable_one() {
    let env = Env::new();
    env.workflow("tiny", "name: tiny\nsteps:\n  - {name: a, run: 'echo a'}\n");
    env.workflow("ask", "name: ask\nsteps:\n  - {name: Ask, prompt: do it}\n");
    assert_eq!(env.run(&["workflow", "run", "tiny"]).code, 0);
    if home_read_only(&env, false).is_none() {
        return;
    }
    let as_nobody = |args: &[&str]| Ok::<_, std::io::Error>(nobody_output(&env, args));
    let before = std::fs::read(env.db()).unwrap();
    let out = as_nobody(&["workflow", "resume"]).unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(
        stdout.contains("already finished (completed); nothing to do"),
        "{stdout}"
    );
    assert!(stderr.is_empty(), "{stderr}");
    assert_eq!(std::fs::read(env.db()).unwrap(), before, "nothing written");
    // A run that waits: its resume meets the read-only log; its status says Next needs a
    // writable one.
    home_read_only(&env, true);
    assert_eq!(env.run(&["workflow", "run", "ask"]).code, 3);
    home_read_only(&env, false);
    let out = as_nobody(&["workflow", "resume"]).unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("read-only"), "{stderr}");
    let out = as_nobody(&["workflow", "status"]).unwrap();
    let text = format!(
        "exit: {}\n--- stdout\n{}--- stderr\n{}",
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("Next:"), "{text}");
    insta::assert_snapshot!("status_on_a_read_only_log", common::redact(&text, &env));
}

/// The review's case: with the log and the attempt logs on one 2 MB disk, a step that printed
/// 3 MB filled it with its attempt's file, so the step's end could not be recorded: the run
/// ended `interrupted` ("driver is gone", "nothing recorded was lost"), and `resume` failed
/// at once, cortex's own 1.9 MB partial file keeping the disk full. The file now stops short
/// of the last MiB (`LOG_RESERVE`), kept for the log: the step's end is recorded, its file
/// incomplete (`lost_bytes`), the next step runs, and the disk has room for another run.
#[test]
fn an_attempt_log_never_takes_the_room_the_log_needs_for_the_steps_end() {
    let env = Env::new();
    let home = env.home().display().to_string();
    if !try_cmd("mount", &["-t", "tmpfs", "-o", "size=2m", "tmpfs", &home]) {
        eprintln!(
            "skipped: mounting a small tmpfs is not allowed here, so a full disk cannot be made"
        );
        return;
    }
    let _mounted = Mounted(env.home());
    std::fs::create_dir_all(env.home().join("workflows")).unwrap();
    env.workflow(
        "big",
        "name: big\nsteps:\n  - name: Spew\n    run: head -c 3000000 /dev/zero | tr '\\0' x | fold -w 100\n  - name: After\n    run: echo after\n",
    );
    let ran = env.run(&["workflow", "run", "big"]);
    assert_eq!(ran.code, 0, "{}{}", ran.stdout, ran.stderr);
    assert!(
        ran.stdout.contains("could not be written to its log file"),
        "{}",
        ran.stdout
    );
    assert_eq!(env.status(None)["status"], "completed");
    let events = env.run(&["--json", "log", "show"]).json();
    let logged = events
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "attempt_log")
        .unwrap_or_else(|| panic!("no attempt_log event: {events}"))
        .clone();
    let lost = logged["body"]["lost_bytes"].as_u64().unwrap();
    let kept = logged["body"]["bytes"].as_u64().unwrap();
    assert!(kept > 0 && lost > 0, "{logged}");
    // 30 000 lines of 100 `x`, the last with no line end.
    assert_eq!(kept + lost, 3_029_999, "every byte counted: {logged}");
    assert!(
        logged["body"]["lost_reason"]
            .as_str()
            .unwrap()
            .contains("keeps for the log"),
        "{logged}"
    );
    let verify = env.run(&["--json", "log", "verify"]);
    assert_eq!(verify.json()["ok"], true, "{}", verify.stdout);
    // Room is left for the next run.
    env.workflow("small", "name: small\nsteps:\n  - {name: S, run: echo s}\n");
    let again = env.run(&["workflow", "run", "small"]);
    assert_eq!(again.code, 0, "{}{}", again.stdout, again.stderr);
}

/// The review's case: `--json workflow history` gave a run holding a damaged event the status
/// of the events before it — `interrupted` for a run that had completed — while the text said
/// `unreadable`, and an agent resumed it; and `gc --older-than 0s` exited 1 at that run,
/// leaving the others. The JSON row says `unreadable` now (with its reason), and `gc` leaves
/// that run alone, says so, and sees to the others.
#[test]
fn an_unreadable_run_is_unreadable_in_json_history_and_gc_goes_past_it() {
    let env = Env::new();
    let (old, new) = two_recorded_runs(&env);
    let db = rusqlite::Connection::open(env.db()).unwrap();
    db.execute_batch("DROP TRIGGER events_append_only_update")
        .unwrap();
    db.execute(
        "UPDATE events SET body = '{\"attempt\":1,\"st' WHERE run_id = ?1 AND type = 'output_recorded'",
        [&old],
    )
    .unwrap();
    drop(db);
    let rows = env.run(&["--json", "workflow", "history"]).json()["runs"].clone();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows[0]["run_id"], new.as_str());
    assert_eq!(rows[0]["status"], "completed");
    assert_eq!(rows[1]["run_id"], old.as_str());
    assert_eq!(rows[1]["status"], "unreadable", "{rows:?}");
    assert!(rows[1]["unreadable"].is_string(), "{rows:?}");

    assert!(env.home().join("runs").join(&new).exists());
    let gc = env.run(&["gc", "--older-than", "0s"]);
    assert_eq!(gc.code, 0, "{}{}", gc.stdout, gc.stderr);
    assert!(
        gc.stdout.contains("cannot be read") && gc.stdout.contains(&old),
        "{}",
        gc.stdout
    );
    assert!(
        !env.home().join("runs").join(&new).exists(),
        "{}",
        gc.stdout
    );
    let doc = env.run(&["--json", "gc", "--older-than", "0s"]).json();
    assert_eq!(doc["skipped_unreadable"][0], old.as_str(), "{doc}");
}

/// When the disk is full at the step's end all the same (filled by something else while the
/// step ran), the append of its end met ENOSPC and the run ended `interrupted` while the
/// attempt's own file, not yet recorded, held room the log needed. The driver now empties
/// that file, records it so (all its bytes `lost_bytes`, and why), and appends again once:
/// the step's end is recorded.
#[test]
fn a_full_disk_at_a_steps_end_empties_its_own_attempt_file_to_record_the_end() {
    let env = Env::new();
    let home = env.home().display().to_string();
    if !try_cmd("mount", &["-t", "tmpfs", "-o", "size=2m", "tmpfs", &home]) {
        eprintln!(
            "skipped: mounting a small tmpfs is not allowed here, so a full disk cannot be made"
        );
        return;
    }
    let _mounted = Mounted(env.home());
    std::fs::create_dir_all(env.home().join("workflows")).unwrap();
    let marks = env.dir.path().join("marks");
    std::fs::create_dir_all(&marks).unwrap();
    let m = marks.display().to_string();
    let script = format!(
        "head -c 400000 /dev/zero | tr '\\0' x | fold -w 100; echo; touch {m}/1; while [ ! -e {m}/2 ]; do sleep 0.02; done"
    );
    env.workflow(
        "w",
        &format!(
            "name: w\nsteps:\n  - name: Spew\n    run: {}\n",
            serde_json::to_string(&script).unwrap()
        ),
    );
    let child = env
        .command(&["workflow", "run", "w"])
        // Its live output (400 KB) is not read: a pipe would hold the step up.
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    wait_for_file(&marks.join("1"));
    std::thread::sleep(std::time::Duration::from_millis(200));
    let filler = fill_disk(&env.home());
    std::fs::write(marks.join("2"), "").unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    std::fs::remove_file(&filler).unwrap();
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(env.status(None)["status"], "completed");
    let events = env.run(&["--json", "log", "show"]).json();
    let logged = events
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "attempt_log")
        .unwrap_or_else(|| panic!("no attempt_log event: {events}"))
        .clone();
    assert_eq!(logged["body"]["bytes"], 0, "{logged}");
    assert!(
        logged["body"]["lost_reason"]
            .as_str()
            .unwrap()
            .contains("make room for the log"),
        "{logged}"
    );
    let verify = env.run(&["--json", "log", "verify"]);
    assert_eq!(verify.json()["ok"], true, "{}", verify.stdout);
}

/// A log whose file is damaged where the chains do not read (a page of an index of the run
/// table overwritten) fails `log verify` (exit 1, with what SQLite's integrity check found
/// and how to recover), while the commands that do read the damaged page say the file is
/// damaged and how to recover, not a bare "event log error". Before, verify said every
/// chain was intact and exited 0 while status, history and run all failed.
#[test]
fn a_damaged_log_file_fails_verify_and_commands_say_it_is_damaged() {
    use std::io::{Seek, SeekFrom, Write};
    let env = Env::new();
    env.workflow("w", "name: w\nsteps:\n  - {name: a, run: 'echo hi'}\n");
    for _ in 0..2 {
        assert_eq!(env.run(&["workflow", "run", "w"]).code, 0);
    }
    let db = env.db();
    let (page, root) = {
        let c = rusqlite::Connection::open(&db).unwrap();
        c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .unwrap();
        let page: i64 = c.query_row("PRAGMA page_size", [], |r| r.get(0)).unwrap();
        let root: Option<i64> = c
            .query_row(
                "SELECT rootpage FROM sqlite_master WHERE type = 'index' AND tbl_name = 'runs' ORDER BY name LIMIT 1",
                [],
                |r| r.get(0),
            )
            .ok();
        (
            page as u64,
            root.expect("the run table has an index") as u64,
        )
    };
    let mut f = std::fs::OpenOptions::new().write(true).open(&db).unwrap();
    f.seek(SeekFrom::Start((root - 1) * page)).unwrap();
    f.write_all(&vec![0xA5u8; page as usize]).unwrap();
    drop(f);
    let verify = env.run(&["--json", "log", "verify"]);
    assert_eq!(verify.code, 1, "{}{}", verify.stdout, verify.stderr);
    let doc = verify.json();
    assert_eq!(doc["ok"], false, "{doc}");
    assert!(doc["file_damaged"].is_string(), "{doc}");
    let human = env.run(&["log", "verify"]);
    assert_eq!(human.code, 1);
    assert!(
        human.stdout.contains("the log's file is damaged"),
        "{}",
        human.stdout
    );
    assert!(!human.stdout.contains('✅'), "{}", human.stdout);
    let history = env.run(&["workflow", "history"]);
    if history.code != 0 {
        assert!(
            history.stderr.contains("damaged") && history.stderr.contains(".recover"),
            "{}",
            history.stderr
        );
    }
}

/// A write past the file-size limit (`ulimit -f`). Before, SIGXFSZ's default ended cortex
/// mid-write with exit 153 and not a word; now the write fails (EFBIG) and is handled as
/// every failed write. A limit the steps' whole-output files reach: they are cut at it and
/// recorded as incomplete, saying why, and the run completes. A limit the log itself reaches:
/// a clear error naming the limit, and nothing recorded is lost (the log verifies, and the
/// run resumes once the limit is raised). The steps meet the limit as anywhere (the handler
/// does not survive their `exec`).
#[test]
fn a_file_size_limit_never_kills_cortex_silently() {
    let env = Env::new();
    let steps: String = (0..3)
        .map(|i| {
            format!(
                "  - {{name: s{i}, run: 'head -c 300000 /dev/zero | tr \\\\0 x | fold -w 100'}}\n"
            )
        })
        .collect();
    env.workflow("big", &format!("name: big\nsteps:\n{steps}"));
    // `ulimit -f` counts 512-byte blocks in dash, 1024 in bash: set in bytes through bash's.
    let limited = |kib: u32, args: &[&str]| {
        let out = Command::new("bash")
            .arg("-c")
            .arg(format!("ulimit -f {kib} && exec \"$0\" \"$@\""))
            .arg(env!("CARGO_BIN_EXE_cortex"))
            .args(args)
            .current_dir(env.project())
            .env("CORTEX_HOME", env.home())
            .env("NO_COLOR", "1")
            .env_remove("CORTEX_DB")
            .output()
            .unwrap();
        (
            out.status.code(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    };
    // 1 MiB: the log fits, each step's 300 KB output file does not.
    let (code, text) = limited(256, &["workflow", "run", "big"]);
    assert_eq!(code, Some(0), "{text}");
    let logs = env.run(&["logs"]);
    assert!(
        logs.stdout.contains("incomplete") && logs.stdout.contains("File too large"),
        "{}",
        logs.text()
    );
    assert_eq!(env.run(&["log", "verify"]).code, 0);

    // A step meets the limit as it would outside cortex: killed by SIGXFSZ, a failed attempt.
    env.workflow(
        "writer",
        "name: writer\nsteps:\n  - {name: w, run: 'head -c 400000 /dev/zero > big.bin', retry: {max_retry_attempts: 0}}\n",
    );
    let (code, text) = limited(256, &["workflow", "run", "writer"]);
    assert_eq!(code, Some(1), "{text}");

    // A limit below what the log needs: said, not a silent death; nothing lost.
    let events_before = env.run(&["--json", "log", "export"]).stdout.lines().count();
    let (code, text) = limited(64, &["workflow", "run", "big"]);
    assert_ne!(code, Some(153), "killed by SIGXFSZ: {text}");
    assert!(text.contains("ulimit -f"), "{text}");
    assert_eq!(env.run(&["log", "verify", "--all"]).code, 0);
    assert!(env.run(&["--json", "log", "export"]).stdout.lines().count() >= events_before);
}

/// The folders an attempt writes in are checked in full once per run and then by their
/// identity and one access test (`prepare_home`'s memo): a step that takes the write
/// permission off its own `work/` folder makes the next step's attempt refuse to start, the
/// run paused naming the folder, exactly as on the first attempt of a run.
#[test]
fn a_work_folder_made_unwritable_between_two_steps_pauses_the_run_before_the_next_one() {
    let env = Env::new();
    env.workflow(
        "w",
        "name: w\nsteps:\n  - name: a\n    run: 'chmod a-w \"$(dirname \"$CORTEX_OUTPUT\")\"'\n  - name: b\n    run: 'echo ran >> b-ran'\n",
    );
    if !env.give_to_nobody() {
        return;
    }
    let (code, stdout, stderr) = as_nobody(&env, &["workflow", "run", "w"]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(
        stderr.contains("/work") && stderr.contains("Permission denied"),
        "the error names the work folder: {stderr}"
    );
    assert!(!env.file("b-ran").exists(), "b never started");
    let status = env.status(None);
    let run = status["run_id"].as_str().unwrap().to_string();
    let types = common::event_types(&env, &run);
    assert!(types.contains(&"run_paused".to_string()), "{types:?}");
}

/// A step that removes its own `work/` folder: the next attempt finds another folder (or
/// none) where the checked one was, checks and makes it again in full, and runs.
#[test]
fn a_work_folder_removed_between_two_steps_is_made_again_for_the_next_one() {
    let env = Env::new();
    env.workflow(
        "w",
        "name: w\nsteps:\n  - name: a\n    run: 'rm -rf \"$(dirname \"$CORTEX_OUTPUT\")\"'\n  - name: b\n    run: 'echo x=1 >> \"$CORTEX_OUTPUT\"'\n",
    );
    let out = env.run(&["workflow", "run", "w"]);
    assert_eq!(out.code, 0, "{}", out.text());
    let status = env.status(None);
    assert_eq!(status["status"], "completed");
    assert_eq!(status["steps"][1]["outputs"]["x"], "1", "{status}");
}

/// A command started in the background, its stdout and stderr kept in files of the test's
/// project folder, so that what it says is read while it runs.
struct Background {
    child: std::process::Child,
    out: std::path::PathBuf,
    err: std::path::PathBuf,
}

impl Background {
    fn start(env: &Env, name: &str, args: &[&str], vars: &[(&str, &str)]) -> Background {
        let (out, err) = (
            env.file(&format!("{name}.out")),
            env.file(&format!("{name}.err")),
        );
        let mut cmd = env.command(args);
        for (k, v) in vars {
            cmd.env(k, v);
        }
        let child = cmd
            .stdout(std::fs::File::create(&out).unwrap())
            .stderr(std::fs::File::create(&err).unwrap())
            .spawn()
            .unwrap();
        Background { child, out, err }
    }

    /// What it said so far, stdout then stderr.
    fn said(&self) -> String {
        std::fs::read_to_string(&self.out).unwrap_or_default()
            + &std::fs::read_to_string(&self.err).unwrap_or_default()
    }

    /// Wait until it has said `text` (a generous minute: the driver says it once the store's
    /// own wait of 10 s is over).
    fn wait_to_say(&self, text: &str) {
        common::wait_within(
            &format!("{text:?} to be said"),
            Duration::from_secs(60),
            || self.said().contains(text),
        );
    }

    /// Its exit code, once it ended (a generous two minutes), and all it said.
    fn end(mut self) -> (i32, String) {
        let until = Instant::now() + Duration::from_secs(120);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return (status.code().unwrap_or(-1), self.said());
            }
            if Instant::now() >= until {
                let _ = self.child.kill();
                panic!("it did not end: {}", self.said());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// A workflow whose first step waits for the file `go` (so that the test takes the log's lock
/// while it runs), each step noting in `ran` that it ran.
const WAITS_FOR_GO: &str = "name: w\nsteps:\n  - name: s1\n    run: 'touch s1.started; until [ -e go ]; do sleep 0.05; done; echo s1 >> ran'\n  - name: s2\n    run: 'echo s2 >> ran'\n  - name: s3\n    run: 'echo s3 >> ran'\n";

/// `cortex ARGS` driven past the log's write lock held by another process: once the file
/// `started` is there (its first step or phase waits for `go`), the lock is taken, `go` made,
/// and the lock let go once the driver says it waits for it — by then it has been held longer
/// than the store's own wait of 10 s, the old bound. Its exit code and all it said.
fn driven_past_a_held_lock(env: &Env, args: &[&str], started: &str) -> (i32, String) {
    let driver = Background::start(env, "driver", args, &[]);
    common::wait_until(started, || env.file(started).exists());
    let mut lock = common::LogLock::take(env);
    std::fs::write(env.file("go"), "").unwrap();
    driver.wait_to_say("Waiting for the event log: another process holds its write lock");
    lock.release();
    driver.end()
}

/// Review f, M1: a driver that met the log's write lock held by another process (a `sqlite3`
/// session, a backup or VACUUM) for more than the store's own 10 s gave up mid-run, exit 1,
/// "try again", and the run was left interrupted with its last step to run again. Now it
/// waits, saying so, and goes on once the lock is let go: the run completes, each step ran
/// once.
#[test]
fn a_driver_waits_out_a_log_another_process_holds_locked_and_runs_no_step_twice() {
    let env = Env::new();
    env.workflow("w", WAITS_FOR_GO);
    let (code, said) = driven_past_a_held_lock(&env, &["workflow", "run", "w"], "s1.started");
    assert_eq!(code, 0, "{said}");
    assert!(said.contains("The event log is free again"), "{said}");
    assert!(!said.contains("another cortex process"), "{said}");
    assert_eq!(
        common::lines(&env.file("ran")),
        ["s1", "s2", "s3"],
        "{said}"
    );
    assert_eq!(env.status(None)["status"], "completed");
    let verified = env.run(&["log", "verify"]);
    assert_eq!(verified.code, 0, "{}{}", verified.stdout, verified.stderr);
}

/// The same for a scenario's driver, with phases running beside each other while it waits:
/// each phase runs once and the run completes.
#[test]
fn a_scenario_driver_waits_out_a_locked_log_and_runs_no_phase_twice() {
    let env = Env::new();
    env.scenario(
        "sc",
        "name: sc\ndescription: d\nphases:\n  - name: a\n    parallel: true\n    run: 'touch a.started; until [ -e go ]; do sleep 0.05; done; echo a >> ran'\n  - name: b\n    parallel: true\n    run: 'echo b >> ran'\n  - name: c\n    condition: after:a,b\n    run: 'echo c >> ran'\n",
    );
    let (code, said) = driven_past_a_held_lock(&env, &["orchestrate", "run", "sc"], "a.started");
    assert_eq!(code, 0, "{said}");
    let mut ran = common::lines(&env.file("ran"));
    ran.sort();
    assert_eq!(ran, ["a", "b", "c"], "each phase ran once: {said}");
    let status = env.run(&["--json", "orchestrate", "status", "sc"]).json();
    assert_eq!(status["status"], "completed");
}

/// `cortex ARGS` (with `--json`) that gives up on the log's write lock held by another process:
/// its wait shortened to 1 s, the lock taken once the file `started` is there (a step that
/// waits for `go`) and let go once it ended. Its exit code, all it said, and its document.
fn given_up_past_a_held_lock(
    env: &Env,
    args: &[&str],
    started: &str,
) -> (i32, String, serde_json::Value) {
    let driver = Background::start(env, "driver", args, &[("CORTEX_LOG_LOCK_WAIT", "1s")]);
    common::wait_until(started, || env.file(started).exists());
    let mut lock = common::LogLock::take(env);
    std::fs::write(env.file("go"), "").unwrap();
    let (code, said) = driver.end();
    lock.release();
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(env.file("driver.out")).unwrap())
            .unwrap_or_else(|e| panic!("one JSON document on stdout ({e}): {said}"));
    (code, said, doc)
}

/// A driver that gives up on a locked log (its wait shortened by `CORTEX_LOG_LOCK_WAIT`) says
/// so for what it is: held by another process (exit 4), not the run's failure (exit 1), and
/// not "try again", which started a second run of the workflow; it names the run and its
/// `resume`, in the hint and in `--json`'s `next`, and that the step whose end it could not
/// record runs again. Following `next` literally once the lock is let go completes the run.
#[test]
fn a_driver_that_gives_up_on_a_locked_log_names_the_runs_resume_and_exits_4() {
    let env = Env::new();
    env.workflow("w", WAITS_FOR_GO);
    let (code, said, doc) =
        given_up_past_a_held_lock(&env, &["--json", "workflow", "run", "w"], "s1.started");
    assert_eq!(code, 4, "{said}");
    assert_eq!(doc["exit_code"], 4, "{doc:#}");
    let run = env.status(None)["run_id"].as_str().unwrap().to_string();
    assert_eq!(env.status(None)["status"], "interrupted");
    let message = doc["error"].as_str().unwrap();
    assert!(message.contains(&run), "{doc:#}");
    let hints = doc["hints"].to_string();
    assert!(
        hints.contains(&format!("cortex workflow resume {run}")),
        "{doc:#}"
    );
    assert!(hints.contains("`s1` ended here"), "{doc:#}");
    assert!(!hints.contains("another cortex process"), "{doc:#}");
    assert!(!said.contains("try again"), "{said}");
    let next: Vec<String> = doc["next"][0]["argv"]
        .as_array()
        .unwrap_or_else(|| panic!("a `next`: {doc:#}"))
        .iter()
        .map(|a| a.as_str().unwrap().to_string())
        .collect();
    assert_eq!(next, ["cortex", "workflow", "resume", &run]);
    let args: Vec<&str> = next[1..].iter().map(String::as_str).collect();
    let resumed = env.run(&args);
    assert_eq!(resumed.code, 0, "{}{}", resumed.stdout, resumed.stderr);
    assert_eq!(env.status(None)["status"], "completed");
    // `s1`, said to run again, did; the rest ran once.
    assert_eq!(common::lines(&env.file("ran")), ["s1", "s1", "s2", "s3"]);
}

/// A report (one transaction: nothing is done yet) meets a locked log with "try again", as
/// before, but says who may hold the lock — not only "another cortex process" — and exits 4
/// (held by another process), not 1 (a run that failed); the same report goes through once
/// the lock is let go.
#[test]
fn a_report_on_a_log_another_process_holds_locked_exits_4_and_says_try_again() {
    let env = Env::new();
    env.workflow(
        "w",
        "name: w\nsteps:\n  - {name: p, prompt: do it}\n  - {name: after, run: 'echo after >> ran'}\n",
    );
    let out = env.run(&["workflow", "run", "w"]);
    assert_eq!(out.code, 3, "{}{}", out.stdout, out.stderr);
    let mut lock = common::LogLock::take(&env);
    let refused = env.run(&["--json", "workflow", "step", "complete", "p"]);
    lock.release();
    assert_eq!(refused.code, 4, "{}{}", refused.stdout, refused.stderr);
    let doc = refused.json();
    assert_eq!(doc["exit_code"], 4, "{doc:#}");
    let hints = doc["hints"].to_string();
    assert!(hints.contains("try again"), "{doc:#}");
    assert!(hints.contains("another program"), "{doc:#}");
    assert!(!hints.contains("another cortex process"), "{doc:#}");
    let done = env.run(&["workflow", "step", "complete", "p"]);
    assert_eq!(done.code, 0, "{}{}", done.stdout, done.stderr);
    assert_eq!(env.status(None)["status"], "completed");
    assert_eq!(common::lines(&env.file("ran")), ["after"]);
}

/// `CORTEX_LOG_LOCK_WAIT` bounds the whole wait for a log another process holds locked.
/// Before, SQLite's own busy wait of 10 s came first: with the wait set to 3 s, a report
/// (exit 4, nothing recorded) and `schedule run --once` gave up after about 10 s. With it set
/// to 1 s both give up well before the store's own 10 s could pass (they are waited for 8 s),
/// and nothing was recorded.
#[test]
fn the_lock_wait_a_user_sets_bounds_a_reports_and_the_schedulers_whole_wait() {
    let env = Env::new();
    let (run, events) = common::waiting_on_a_report(&env);
    env.workflow(
        "tick",
        "name: tick\nschedule: {cron: '* * * * *'}\nsteps:\n  - {name: a, run: 'true'}\n",
    );
    let mut lock = common::LogLock::take(&env);
    let wait = [("CORTEX_LOG_LOCK_WAIT", "1s")];
    let mut report = Background::start(
        &env,
        "report",
        &["workflow", "step", "complete", "p", "--run", "w"],
        &wait,
    );
    let mut scheduler = Background::start(&env, "scheduler", &["schedule", "run", "--once"], &wait);
    common::wait_within(
        "both to give up within the wait set, not the store's own 10 s",
        Duration::from_secs(8),
        || {
            report.child.try_wait().unwrap().is_some()
                && scheduler.child.try_wait().unwrap().is_some()
        },
    );
    lock.release();
    let (code, said) = report.end();
    assert_eq!(code, 4, "{said}");
    let (code, said) = scheduler.end();
    assert_eq!(code, 4, "{said}");
    assert!(
        said.contains("longer than the scheduler waits (1s)"),
        "{said}"
    );
    assert_eq!(
        common::event_types(&env, &run),
        events,
        "nothing was recorded"
    );
}

/// A command refused for a log another process holds locked (exit 4, nothing recorded)
/// suggests itself again in `--json`'s `next` — the arguments as given, but for a value that
/// may be secret: an output whose key looks secret, or which the definition feeds to a
/// secret `env:` entry, is a placeholder listed in `fill`, never echoed. Following it, the
/// placeholder filled, records the report. Before, the error had hints but no `next`: an
/// agent following `next` had nothing to run.
#[test]
fn a_command_refused_for_a_locked_log_suggests_itself_again_without_its_secrets() {
    let env = Env::new();
    env.workflow(
        "w",
        "name: w\nsteps:\n  - {name: p, prompt: do it}\n  - name: after\n    env: {DEPLOY_TOKEN: '${{ steps.p.outputs.feed }}'}\n    run: 'echo after >> ran'\n",
    );
    let out = env.run(&["workflow", "run", "w"]);
    assert_eq!(out.code, 3, "{}{}", out.stdout, out.stderr);
    let mut lock = common::LogLock::take(&env);
    let refused = env.run(&[
        "--json",
        "workflow",
        "step",
        "complete",
        "p",
        "--output",
        "plain=shown $(x)",
        "-o",
        "api_token=s3cr3t-one",
        "--output=feed=s3cr3t-two",
        "--message",
        "done",
    ]);
    lock.release();
    assert_eq!(refused.code, 4, "{}{}", refused.stdout, refused.stderr);
    assert!(!refused.stdout.contains("s3cr3t"), "{}", refused.stdout);
    let doc = refused.json();
    let next = &doc["next"][0];
    let argv: Vec<String> = next["argv"]
        .as_array()
        .unwrap_or_else(|| panic!("no next: {doc:#}"))
        .iter()
        .map(|a| a.as_str().unwrap().to_string())
        .collect();
    let at = argv.iter().position(|a| a == "workflow").unwrap();
    assert_eq!(argv[0], "cortex");
    assert_eq!(
        argv[at..],
        [
            "workflow",
            "step",
            "complete",
            "p",
            "--output",
            "plain=shown $(x)",
            "--output",
            "api_token=VALUE",
            "--output",
            "feed=VALUE",
            "--message",
            "done",
        ],
        "{doc:#}"
    );
    assert_eq!(
        next["fill"],
        serde_json::json!([
            {"flag": "--output", "name": "api_token"},
            {"flag": "--output", "name": "feed"},
        ]),
        "{doc:#}"
    );
    assert!(
        next["why"].as_str().unwrap().contains("write lock"),
        "{doc:#}"
    );
    // Followed, its placeholders filled: the report is recorded.
    let filled: Vec<&str> = argv[1..]
        .iter()
        .map(|a| match a.as_str() {
            "api_token=VALUE" => "api_token=s3cr3t-one",
            "feed=VALUE" => "feed=s3cr3t-two",
            a => a,
        })
        .collect();
    let done = env.run(&filled);
    assert_eq!(done.code, 0, "{}{}", done.stdout, done.stderr);
    let status = env.status(None);
    assert_eq!(status["steps"][0]["status"], "completed", "{status:#}");
    assert_eq!(
        status["steps"][0]["outputs"]["plain"], "shown $(x)",
        "{status:#}"
    );
}

/// A worker whose log another process holds locked past the store's own wait went on no
/// more: the error ended it. Now it says so, as when PostgreSQL cannot be reached, and takes
/// the work once the lock is let go.
#[test]
fn a_worker_waits_out_a_locked_log_instead_of_exiting() {
    let env = Env::new();
    env.workflow(
        "w",
        "name: w\nsteps:\n  - {name: a, run: 'echo a >> ran'}\n",
    );
    let submitted = env.run(&["workflow", "run", "w", "--submit"]);
    assert_eq!(
        submitted.code, 0,
        "{}{}",
        submitted.stdout, submitted.stderr
    );
    let mut lock = common::LogLock::take(&env);
    let worker = Background::start(
        &env,
        "worker",
        &["worker", "--name", "w1", "--until-idle", "--no-schedule"],
        &[],
    );
    worker.wait_to_say("The event log is locked by another process");
    lock.release();
    let (code, said) = worker.end();
    assert_eq!(code, 0, "{said}");
    assert_eq!(env.status(None)["status"], "completed", "{said}");
    assert_eq!(common::lines(&env.file("ran")), ["a"], "{said}");
}

/// Submit workflow `w` and let a worker with a 2 s lease drive it; once the command that
/// writes its pid to `pid_file` runs, hold the log's write lock until the worker's guard has
/// ended that command (its lease kept from renewal), then let go and wait for the worker to
/// finish. The run's id and what the worker said.
fn fenced_by_a_locked_log(env: &Env, pid_file: &str) -> (String, String) {
    let submitted = env.run(&["workflow", "run", "w", "--submit"]);
    assert_eq!(submitted.code, 0, "{}", submitted.text());
    let run = env.status(None)["run_id"].as_str().unwrap().to_string();
    let worker = Background::start(
        env,
        "worker",
        &[
            "worker",
            "--name",
            "w1",
            "--until-idle",
            "--no-schedule",
            "--lease",
            "2s",
        ],
        &[],
    );
    common::wait_until("the command to start", || {
        std::fs::read_to_string(env.file(pid_file)).is_ok_and(|p| p.ends_with('\n'))
    });
    let pid = std::fs::read_to_string(env.file(pid_file)).unwrap();
    let mut lock = common::LogLock::take(env);
    common::wait_within(
        "the guard to end the command",
        Duration::from_secs(60),
        || !std::path::Path::new(&format!("/proc/{}", pid.trim())).exists(),
    );
    lock.release();
    let (code, said) = worker.end();
    assert_eq!(code, 0, "{said}");
    (run, said)
}

/// A worker's lease is renewed in the log, so on SQLite a renewal needs the log's write lock:
/// another process holding it past the lease leaves the lease unrenewed, and the worker's
/// guard ends the step's command before anyone could take the lease over (self-fencing). That
/// end was recorded as the step's own failure ("killed by signal 15": a retry spent, and
/// with none left the run failed), saying nothing of why. Now the attempt is recorded
/// interrupted with why (the lease went unrenewed because the log was locked by another
/// process), and it runs again once the lock is let go: the run completes.
#[test]
fn an_attempt_fenced_for_a_lease_a_locked_log_kept_from_renewal_says_why_and_runs_again() {
    let env = Env::new();
    env.workflow(
        "w",
        "name: w\nsteps:\n  - name: a\n    run: 'echo start >> ran; if [ -e a.started ]; then echo a >> ran; exit 0; fi; touch a.started; echo $$ > a.pid; sleep 60'\n    retry: {max_retry_attempts: 0}\n  - {name: b, run: 'echo b >> ran'}\n",
    );
    let (run, said) = fenced_by_a_locked_log(&env, "a.pid");
    let status = env.status(Some(&run));
    assert_eq!(status["status"], "completed", "{status:#} {said}");
    assert_eq!(status["steps"][0]["attempts"], 2, "{status:#}");
    assert_eq!(
        common::lines(&env.file("ran")),
        ["start", "start", "a", "b"]
    );
    assert_eq!(common::count_events(&env, &run, "step_failed"), 0);
    let events = env.events(&run);
    let reason = events
        .iter()
        .find(|e| e["type"] == "step_interrupted")
        .map(|e| e.to_string())
        .unwrap_or_else(|| panic!("a step_interrupted: {events:#?}"));
    assert!(reason.contains("its guard ended the command"), "{reason}");
    assert!(reason.contains("locked by another process"), "{reason}");
    assert!(reason.contains("runs again"), "{reason}");
}

/// A compensation's command ended by its worker's guard, for a lease a locked log kept from
/// renewal, was recorded `compensation_failed` ("killed by signal 15") and the run failed
/// ("rollback failed … clean up by hand"), though the command did not fail. Now, as a fenced
/// attempt, nothing of the command's is recorded: it runs again and the rollback finishes.
#[test]
fn a_compensation_fenced_for_a_lease_a_locked_log_kept_from_renewal_runs_again() {
    let env = Env::new();
    env.workflow(
        "w",
        "name: w\nsteps:\n  - name: one\n    run: 'true'\n    rollback: 'echo undo >> ran; if [ -e one.undoing ]; then echo undone >> ran; exit 0; fi; touch one.undoing; echo $$ > one.pid; sleep 60'\n  - name: boom\n    run: exit 1\n    retry: {max_retry_attempts: 0}\n    on_failure: rollback\n",
    );
    let (run, said) = fenced_by_a_locked_log(&env, "one.pid");
    let status = env.status(Some(&run));
    assert_eq!(status["status"], "rolled_back", "{status:#} {said}");
    assert_eq!(common::count_events(&env, &run, "compensation_failed"), 0);
    assert_eq!(common::lines(&env.file("ran")), ["undo", "undo", "undone"]);
}

/// `cortex schedule run` in the foreground whose pass met the log's write lock held by another
/// process past the store's own wait ended, where drivers wait it out. Now it waits as they do
/// (one mechanism: `execute::patiently`), saying so, and goes on firing once the lock is let
/// go; a stop ends it as it would between two passes.
#[test]
fn a_foreground_scheduler_waits_out_a_locked_log_instead_of_exiting() {
    let env = Env::new();
    env.workflow("w0", "name: w0\nsteps:\n  - {name: a, run: 'true'}\n");
    // The log exists before its lock is taken.
    assert_eq!(env.run(&["workflow", "run", "w0"]).code, 0);
    env.workflow(
        "tick",
        "name: tick\nschedule: {cron: '* * * * *'}\nsteps:\n  - {name: a, run: 'true'}\n",
    );
    let mut lock = common::LogLock::take(&env);
    let scheduler = Background::start(&env, "scheduler", &["schedule", "run"], &[]);
    scheduler.wait_to_say("Waiting for the event log: another process holds its write lock");
    assert!(
        scheduler
            .said()
            .contains("The scheduler goes on here once it lets go"),
        "{}",
        scheduler.said()
    );
    lock.release();
    scheduler.wait_to_say("workflow tick: seen");
    scheduler.wait_to_say("The event log is free again");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(scheduler.child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let (code, said) = scheduler.end();
    assert_eq!(code, 0, "{said}");
}

/// A scheduler that gives up on a locked log (its wait shortened by `CORTEX_LOG_LOCK_WAIT`)
/// says so for what it is: held by another process (exit 4), nothing lost, and how it goes on.
#[test]
fn a_scheduler_that_gives_up_on_a_locked_log_exits_4_and_says_how_to_go_on() {
    let env = Env::new();
    env.workflow(
        "tick",
        "name: tick\nschedule: {cron: '* * * * *'}\nsteps:\n  - {name: a, run: 'true'}\n",
    );
    assert_eq!(env.run(&["workflow", "run", "tick"]).code, 0);
    let mut lock = common::LogLock::take(&env);
    let scheduler = Background::start(
        &env,
        "scheduler",
        &["schedule", "run", "--once"],
        &[("CORTEX_LOG_LOCK_WAIT", "1s")],
    );
    let (code, said) = scheduler.end();
    lock.release();
    assert_eq!(code, 4, "{said}");
    assert!(
        said.contains("longer than the scheduler waits (1s)"),
        "{said}"
    );
    assert!(said.contains("cortex schedule run --catch-up"), "{said}");
}

/// A step report that was recorded and whose drive on then gave up on a locked log read as
/// if the report had failed (exit 4, "run R was left … to be resumed"): made again, it was
/// refused. Now it says that the report was recorded and why the run was not driven on, with
/// the resume that drives it on (in the warning and in `--json`'s `next`), and exits with the
/// run's status (3, interrupted), never 4; following `next` completes the run.
#[test]
fn a_recorded_report_whose_drive_gives_up_on_a_locked_log_says_it_was_recorded() {
    let env = Env::new();
    env.workflow(
        "w",
        "name: w\nsteps:\n  - {name: p, prompt: do it}\n  - name: after\n    run: 'touch after.started; until [ -e go ]; do sleep 0.05; done; echo after >> ran'\n",
    );
    let out = env.run(&["workflow", "run", "w"]);
    assert_eq!(out.code, 3, "{}{}", out.stdout, out.stderr);
    let (code, said, doc) = given_up_past_a_held_lock(
        &env,
        &["--json", "workflow", "step", "complete", "p"],
        "after.started",
    );
    assert_eq!(code, 3, "{said}");
    let run = doc["run_id"].as_str().unwrap_or_else(|| panic!("{doc:#}"));
    assert_eq!(doc["status"], "interrupted", "{doc:#}");
    assert_eq!(doc["steps"][0]["status"], "completed", "{doc:#}");
    let warnings = doc["warnings"].to_string();
    assert!(warnings.contains("recorded; not driven on here"), "{doc:#}");
    assert!(
        warnings.contains(&format!("cortex workflow resume {run}")),
        "{doc:#}"
    );
    let next: Vec<String> = doc["next"][0]["argv"]
        .as_array()
        .unwrap_or_else(|| panic!("a `next`: {doc:#}"))
        .iter()
        .map(|a| a.as_str().unwrap().to_string())
        .collect();
    assert_eq!(next[1..3], ["workflow", "resume"], "{doc:#}");
    assert!(next.contains(&run.to_string()), "{doc:#}");
    let args: Vec<&str> = next[1..].iter().map(String::as_str).collect();
    let resumed = env.run(&args);
    assert_eq!(resumed.code, 0, "{}{}", resumed.stdout, resumed.stderr);
    assert_eq!(env.status(None)["status"], "completed");
}

/// A `uses:` step compensated by its parent's rollback: its child run's compensation ended by
/// the worker's guard (a lease a locked log kept from renewal) is, in the child as in any run,
/// no failure — nothing of the command is recorded and it runs again — and the parent sees
/// the child's rollback as it really ended: rolled back, the step compensated, no
/// `compensation_failed` in either log. (Reviewed as a suspicion that the parent saw such a
/// child's rollback as failed; the child's end reaches it through `child::compensate_child`.)
#[test]
fn a_childs_compensation_fenced_for_a_lease_runs_again_and_its_parent_rolls_back() {
    let env = Env::new();
    env.workflow(
        "c",
        "name: c\nsteps:\n  - name: one\n    run: 'true'\n    rollback: 'echo undo >> ran; if [ -e one.undoing ]; then echo undone >> ran; exit 0; fi; touch one.undoing; echo $$ > one.pid; sleep 60'\n",
    );
    env.workflow(
        "w",
        "name: w\nsteps:\n  - {name: call, uses: c}\n  - name: boom\n    run: exit 1\n    retry: {max_retry_attempts: 0}\n    on_failure: rollback\n",
    );
    let (run, said) = fenced_by_a_locked_log(&env, "one.pid");
    let status = env.status(Some(&run));
    assert_eq!(status["status"], "rolled_back", "{status:#} {said}");
    assert_eq!(common::lines(&env.file("ran")), ["undo", "undo", "undone"]);
    let child = status["steps"][0]["uses"]["run_id"]
        .as_str()
        .unwrap_or_else(|| panic!("{status:#}"))
        .to_string();
    assert_eq!(env.status(Some(&child))["status"], "rolled_back");
    for id in [&run, &child] {
        assert_eq!(common::count_events(&env, id, "compensation_failed"), 0);
        assert_eq!(common::count_events(&env, id, "step_compensated"), 1);
    }
}
