//! Shared test helpers: a temporary cortex home driven through the real binary, its log in
//! SQLite or PostgreSQL (one test written once, run on both: `on_both_stores!`), output
//! redaction for snapshots, and a pure in-memory simulator of the driver for properties.
#![allow(dead_code)]

pub mod cluster;
pub mod webhook;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A temporary `CORTEX_HOME` and project directory, and the log the binary is pointed at: the
/// home's `cortex.db`, or a schema of its own in the test database (`CORTEX_TEST_PG`).
pub struct Env {
    pub dir: tempfile::TempDir,
    pub pg: Option<PgSchema>,
}

/// A schema of the test database that one test's log lives in, dropped with it.
pub struct PgSchema {
    /// The connection string that selects the schema (`options=-csearch_path=…`).
    pub url: String,
    pub name: String,
    admin: String,
}

/// A test's processes end with it: whatever still runs with a `CORTEX_HOME` under the test's
/// folder (a phase a killed driver left, a worker or guard a failed assertion left behind) is
/// killed before the folder is removed. Before, a command left looping on a file in a folder
/// that no longer existed ran for good, and such leftovers piled up over a suite and slowed
/// the machine for every later test and benchmark.
impl Drop for Env {
    fn drop(&mut self) {
        let ours = format!("CORTEX_HOME={}", self.dir.path().display());
        let me = std::process::id();
        let Ok(procs) = std::fs::read_dir("/proc") else {
            return;
        };
        for entry in procs.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<i32>().ok())
            else {
                continue;
            };
            if pid as u32 == me {
                continue;
            }
            let Ok(environ) = std::fs::read(entry.path().join("environ")) else {
                continue;
            };
            let held = environ.split(|b| *b == 0).any(|var| {
                var.strip_prefix(ours.as_bytes())
                    .is_some_and(|rest| rest.is_empty() || rest[0] == b'/')
            });
            if held {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        }
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        if let Ok(mut c) = postgres::Client::connect(&self.admin, postgres::NoTls) {
            let _ = c.batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name));
        }
    }
}

/// The test database's URL (`CORTEX_TEST_PG`, set by `.ci/run`), or None after saying that
/// the test is skipped.
pub fn test_pg(test: &str) -> Option<String> {
    match std::env::var("CORTEX_TEST_PG") {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ => {
            eprintln!(
                "skipped {test} on PostgreSQL: CORTEX_TEST_PG is not set (a PostgreSQL URL; .ci/run starts a throwaway cluster and sets it)"
            );
            None
        }
    }
}

/// A fresh, empty schema of the test database: its connection string, and the schema (which
/// drops itself). `admin` is the test database's URL.
pub fn pg_schema(admin: &str) -> PgSchema {
    let name = format!("t_{}", ulid::Ulid::generate().to_string().to_lowercase());
    let mut c = postgres::Client::connect(admin, postgres::NoTls)
        .unwrap_or_else(|e| panic!("CORTEX_TEST_PG ({admin}) cannot be reached: {e}"));
    c.batch_execute(&format!("CREATE SCHEMA {name}")).unwrap();
    let sep = if admin.contains('?') { '&' } else { '?' };
    PgSchema {
        url: format!("{admin}{sep}options=-csearch_path%3D{name}"),
        name,
        admin: admin.to_string(),
    }
}

/// Which store a test's log is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Store {
    Sqlite,
    Postgres,
}

/// Run the named test functions (each `fn name(env: Env)`) once per store: `name::sqlite` on
/// a home's `cortex.db`, `name::postgres` on a schema of its own in `CORTEX_TEST_PG` (which
/// says it skipped where that is not set).
#[allow(unused_macros)]
macro_rules! on_both_stores {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[test]
                fn sqlite() {
                    super::$name(crate::common::Env::new());
                }

                #[test]
                fn postgres() {
                    if let Some(env) = crate::common::Env::postgres(stringify!($name)) {
                        super::$name(env);
                    }
                }
            }
        )*
    };
}
#[allow(unused_imports)]
pub(crate) use on_both_stores;

/// What one invocation of the binary did.
#[derive(Debug)]
pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// What a finished `cortex` process gave: its exit code (-1 when a signal ended it) and its
/// output, as text.
impl From<std::process::Output> for Out {
    fn from(out: std::process::Output) -> Out {
        Out {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

impl Out {
    /// stdout, stderr and the exit code together, redacted, for a snapshot.
    pub fn snapshot(&self, env: &Env) -> String {
        let mut text = format!("exit: {}\n--- stdout\n{}", self.code, self.stdout);
        if !self.stderr.is_empty() {
            text.push_str(&format!("--- stderr\n{}", self.stderr));
        }
        redact(&text, env)
    }

    /// Everything the command said, stdout then stderr (a `validate` verdict is on stdout, an
    /// error on stderr).
    pub fn text(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }

    /// A `validate --json` document's errors as (message, line, column), for asserting where
    /// each is located.
    pub fn located_errors(&self) -> Vec<(String, u64, u64)> {
        self.json()["errors"]
            .as_array()
            .unwrap_or_else(|| panic!("no errors list:\n{}", self.stdout))
            .iter()
            .map(|e| {
                (
                    e["message"].as_str().unwrap_or_default().to_string(),
                    e["line"].as_u64().unwrap_or(0),
                    e["column"].as_u64().unwrap_or(0),
                )
            })
            .collect()
    }

    /// Assert that the command ended with exit `code`, showing all it said if not; the same
    /// output, to read on.
    #[track_caller]
    #[allow(dead_code)]
    pub fn assert_exit(self, code: i32) -> Out {
        assert_eq!(self.code, code, "{}{}", self.stdout, self.stderr);
        self
    }

    /// Assert that an error whose message holds `text` is located on `line`.
    pub fn assert_error_on_line(&self, text: &str, line: u64) {
        let errors = self.located_errors();
        assert!(
            errors
                .iter()
                .any(|(m, l, _)| m.contains(text) && *l == line),
            "no error holding `{text}` on line {line}: {errors:?}"
        );
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\n{}",
                self.stdout, self.stderr
            )
        })
    }
}

pub fn redact(text: &str, env: &Env) -> String {
    let mut text = text.replace(&env.project().display().to_string(), "[PROJECT]");
    text = text.replace(&env.home().display().to_string(), "[HOME]");
    text = text.replace(&format!("@{}", cortex::execute::hostname()), "@[HOST]");
    let rules = [
        (r"\b[0-9A-HJKMNP-TV-Z]{26}\b", "[RUN]"),
        (r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", "[TIME]"),
        (r"\b[0-9a-f]{64}\b", "[HASH]"),
        (r"\b[0-9a-f]{12}\b", "[HASH12]"),
        (r"\b\d+h \d+m\b|\b\d+m \d+s\b|\b\d+(ms|s)\b", "[DUR]"),
        (r"process \d+ on \S+", "process [PID] on [HOST]"),
    ];
    for (pattern, with) in rules {
        text = regex::Regex::new(pattern)
            .unwrap()
            .replace_all(&text, with)
            .into_owned();
    }
    text
}

impl Env {
    /// The events of `run` as `log show --json` prints them.
    #[allow(dead_code)]
    pub fn events(&self, run: &str) -> Vec<serde_json::Value> {
        self.run(&["--json", "log", "show", run])
            .json()
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// The events of `run` once `done` holds for them, looked at every 100 ms; the test fails
    /// (showing them) if `patience` runs out first.
    #[allow(dead_code)]
    pub fn wait_for_events(
        &self,
        run: &str,
        what: &str,
        patience: std::time::Duration,
        done: impl Fn(&[serde_json::Value]) -> bool,
    ) -> Vec<serde_json::Value> {
        let until = std::time::Instant::now() + patience;
        loop {
            let ev = self.events(run);
            if done(&ev) {
                return ev;
            }
            assert!(
                std::time::Instant::now() < until,
                "gave up waiting for {what}: {}",
                serde_json::to_string_pretty(&ev).unwrap_or_default()
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }

    /// A home whose log is its own `cortex.db` (SQLite, the default).
    pub fn new() -> Env {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir_all(dir.path().join("home/workflows")).unwrap();
        std::fs::create_dir_all(dir.path().join("project")).unwrap();
        Env { dir, pg: None }
    }

    /// A home whose log is in a fresh schema of the test database (`CORTEX_DB` points the
    /// binary at it); None, after saying so, where `CORTEX_TEST_PG` is not set.
    pub fn postgres(test: &str) -> Option<Env> {
        let admin = test_pg(test)?;
        let mut env = Env::new();
        env.pg = Some(pg_schema(&admin));
        Some(env)
    }

    /// A home whose log is in `store` (None: PostgreSQL is not available, and the test said so).
    pub fn on(store: Store, test: &str) -> Option<Env> {
        match store {
            Store::Sqlite => Some(Env::new()),
            Store::Postgres => Env::postgres(test),
        }
    }

    pub fn store_kind(&self) -> Store {
        if self.pg.is_some() {
            Store::Postgres
        } else {
            Store::Sqlite
        }
    }

    /// The value that selects this test's log (`--db`, `CORTEX_DB`).
    pub fn db_spec(&self) -> String {
        match &self.pg {
            Some(pg) => pg.url.clone(),
            None => format!("sqlite:{}", self.db().display()),
        }
    }

    /// Where the log holds `needle` anywhere: the files of a SQLite log (and its WAL), or the
    /// tables of a PostgreSQL log (every row of every table of its schema, as text).
    pub fn log_holding(&self, needle: &str) -> Vec<String> {
        match &self.pg {
            None => ["cortex.db", "cortex.db-wal"]
                .into_iter()
                .filter(|file| {
                    std::fs::read(self.home().join(file)).is_ok_and(|bytes| {
                        bytes.windows(needle.len()).any(|w| w == needle.as_bytes())
                    })
                })
                .map(str::to_string)
                .collect(),
            Some(pg) => {
                let mut c = postgres::Client::connect(&pg.url, postgres::NoTls).unwrap();
                let tables: Vec<String> = c
                    .query(
                        "SELECT table_name::text FROM information_schema.tables WHERE table_schema = $1",
                        &[&pg.name],
                    )
                    .unwrap()
                    .iter()
                    .map(|r| r.get(0))
                    .collect();
                assert!(tables.iter().any(|t| t == "events"), "{tables:?}");
                tables
                    .into_iter()
                    .filter(|t| {
                        let n: i64 = c
                            .query_one(
                                &format!(
                                    "SELECT count(*) FROM {t} x WHERE strpos(x::text, $1) > 0"
                                ),
                                &[&needle],
                            )
                            .unwrap()
                            .get(0);
                        n > 0
                    })
                    .collect()
            }
        }
    }

    /// This test's log, opened for writing through the library.
    pub fn open_store(&self) -> Box<dyn cortex::store::EventStore> {
        cortex::store::Location::parse(&self.db_spec(), Path::new("/"))
            .unwrap()
            .open(cortex::definition::Durability::Normal)
            .expect("the test's log opens")
    }

    pub fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    pub fn project(&self) -> PathBuf {
        self.dir.path().join("project")
    }

    /// Write a workflow into `CORTEX_HOME/workflows/NAME.yaml`.
    pub fn workflow(&self, name: &str, yaml: &str) -> &Self {
        std::fs::write(
            self.home().join("workflows").join(format!("{name}.yaml")),
            yaml,
        )
        .unwrap();
        self
    }

    /// Write a scenario into `CORTEX_HOME/scenarios/NAME.yaml` (the folder made if needed).
    pub fn scenario(&self, name: &str, yaml: &str) -> &Self {
        let dir = self.home().join("scenarios");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}.yaml")), yaml).unwrap();
        self
    }

    pub fn config(&self, json: &str) -> &Self {
        std::fs::write(self.home().join("cortex.config.json"), json).unwrap();
        self
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_cortex"));
        cmd.args(args)
            .current_dir(self.project())
            .env("CORTEX_HOME", self.home())
            .env("NO_COLOR", "1")
            .env("USER", "tester")
            .env_remove("CORTEX_TEST_SECRET_TOKEN")
            .stdin(Stdio::null());
        match &self.pg {
            Some(pg) => cmd.env("CORTEX_DB", &pg.url),
            None => cmd.env_remove("CORTEX_DB"),
        };
        cmd
    }

    /// The binary started with `args` in the background, its output dropped.
    pub fn spawn(&self, args: &[&str]) -> std::process::Child {
        self.command(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    }

    pub fn run(&self, args: &[&str]) -> Out {
        self.run_with(args, &[])
    }

    /// A suggestion's `argv` (`next[i].argv`, `cortex` first) run as an agent runs it: each
    /// placeholder `NAME=VALUE` its `fill` lists given `value` (in whichever word holds it:
    /// `--output=-x=VALUE` too).
    #[allow(dead_code)]
    pub fn run_filled(&self, argv: &[String], value: &str) -> Out {
        let filled: Vec<String> = argv[1..]
            .iter()
            .map(|a| match a.strip_suffix("=VALUE") {
                Some(pair) => format!("{pair}={value}"),
                None => a.clone(),
            })
            .collect();
        let args: Vec<&str> = filled.iter().map(String::as_str).collect();
        self.run(&args)
    }

    /// `run` with these variables added to the command's environment.
    pub fn run_with(&self, args: &[&str], vars: &[(&str, &str)]) -> Out {
        let mut cmd = self.command(args);
        for (k, v) in vars {
            cmd.env(k, v);
        }
        Out::from(cmd.output().expect("run cortex"))
    }

    /// Write the workflow `name` (`yaml`) and run it to its end (exit 0): its run id.
    pub fn finished_run(&self, name: &str, yaml: &str) -> String {
        self.workflow(name, yaml);
        let out = self.run(&["--json", "workflow", "run", name]);
        assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
        out.json()["run_id"].as_str().unwrap().to_string()
    }

    /// `--json` status of the most recent (or given) run.
    pub fn status(&self, run: Option<&str>) -> serde_json::Value {
        let mut args = vec!["--json", "workflow", "status"];
        if let Some(r) = run {
            args.push(r);
        }
        self.run(&args).json()
    }

    pub fn file(&self, rel: &str) -> PathBuf {
        self.project().join(rel)
    }

    pub fn db(&self) -> PathBuf {
        self.home().join("cortex.db")
    }

    /// The notes of the process groups run `run_id`'s drivers started and have not seen end
    /// (`locks/RUN.pgids`, beside the run's lock).
    #[allow(dead_code)]
    pub fn inflight_notes(&self, run_id: &str) -> PathBuf {
        self.home().join("locks").join(format!("{run_id}.pgids"))
    }

    /// The text of every run's notes of process groups in flight.
    #[allow(dead_code)]
    pub fn all_inflight_notes(&self) -> Vec<String> {
        std::fs::read_dir(self.home().join("locks"))
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with(".pgids"))
            .filter_map(|e| std::fs::read_to_string(e.path()).ok())
            .collect()
    }

    /// Whether the binary can be run as `nobody` here (root can; tests run as root meet file
    /// modes only as another user). When not, it says the test is skipped.
    pub fn runs_as_nobody(&self) -> bool {
        use std::os::unix::process::CommandExt;
        let probe = self
            .command(&["--version"])
            .uid(NOBODY)
            .gid(NOBODY)
            .output();
        let can = probe.is_ok_and(|o| o.status.success());
        if !can {
            eprintln!("skipped: this test cannot run a command as another user here");
        }
        can
    }

    /// Give this env's home and project to `nobody` (its folders' owner, the temporary folder
    /// holding them mode 755), for commands run as `nobody` to meet the modes set on them
    /// after. False (having said why) where commands cannot be run as `nobody` here.
    pub fn give_to_nobody(&self) -> bool {
        use std::os::unix::fs::PermissionsExt;
        if !self.runs_as_nobody() {
            return false;
        }
        chown_tree(self.dir.path(), NOBODY);
        std::fs::set_permissions(self.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        true
    }
}

/// The uid and gid of `nobody`, whom commands run as to meet the file modes root ignores.
pub const NOBODY: u32 = 65534;

/// Give `path` and everything under it to `uid`.
fn chown_tree(path: &Path, uid: u32) {
    std::os::unix::fs::lchown(path, Some(uid), Some(uid)).unwrap();
    if path.is_dir() && !path.is_symlink() {
        for entry in std::fs::read_dir(path).unwrap() {
            chown_tree(&entry.unwrap().path(), uid);
        }
    }
}

/// Put a symbolic link to `elsewhere` (`linked`), or else a plain file, where the folder
/// `folder` is (`logs/`, a run's folder in it): what cortex refuses to go through. The first
/// words of the fix its refusal gives.
pub fn put_in_place_of_folder(folder: &Path, linked: bool, elsewhere: &Path) -> &'static str {
    if linked {
        std::os::unix::fs::symlink(elsewhere, folder).unwrap();
        "put the folder it points to in its place"
    } else {
        std::fs::write(folder, "a file\n").unwrap();
        "move it aside"
    }
}

/// Every file under `dir` whose bytes hold `needle` (a secret that must be nowhere: the log,
/// results.json, checkpoints, attempt logs, drivers' output files).
#[allow(dead_code)]
pub fn files_holding(dir: &Path, needle: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return found;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(files_holding(&path, needle));
        } else if std::fs::read(&path)
            .is_ok_and(|b| b.windows(needle.len()).any(|w| w == needle.as_bytes()))
        {
            found.push(path);
        }
    }
    found
}

/// Lines of a file in the project directory (empty if missing).
pub fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

/// Wait until `cond` holds, looked at every 50 ms; the test fails naming `what` if 30 s pass
/// first.
pub fn wait_until(what: &str, cond: impl FnMut() -> bool) {
    wait_within(what, std::time::Duration::from_secs(30), cond);
}

/// `wait_until`, with `limit` for its patience.
pub fn wait_within(what: &str, limit: std::time::Duration, mut cond: impl FnMut() -> bool) {
    let until = std::time::Instant::now() + limit;
    while !cond() {
        assert!(
            std::time::Instant::now() < until,
            "timed out waiting for {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// The SQLite log's write lock held by a connection of the test's own — another process than
/// cortex's, as a `sqlite3` session left in a transaction, or a backup or `VACUUM` of the log,
/// holds it: taken (`BEGIN EXCLUSIVE`) by `take`, let go by `release` or when dropped. In WAL
/// mode readers go on; every writer waits for it.
pub struct LogLock(Option<rusqlite::Connection>);

impl LogLock {
    pub fn take(env: &Env) -> LogLock {
        let conn = rusqlite::Connection::open(env.db()).expect("the test's log opens");
        conn.busy_timeout(std::time::Duration::from_secs(30))
            .unwrap();
        conn.execute_batch("BEGIN EXCLUSIVE")
            .expect("the log's write lock is taken");
        LogLock(Some(conn))
    }

    pub fn release(&mut self) {
        if let Some(conn) = self.0.take() {
            conn.execute_batch("COMMIT")
                .expect("the log's write lock is let go");
        }
    }
}

impl Drop for LogLock {
    fn drop(&mut self) {
        if let Some(conn) = self.0.take() {
            let _ = conn.execute_batch("COMMIT");
        }
    }
}

/// A driver (`cortex` run with some arguments) frozen by SIGSTOP: `Frozen::start`.
pub struct Frozen {
    pub child: std::process::Child,
    pub pid: nix::unistd::Pid,
}

impl Frozen {
    /// Start `args` in `env`, its output dropped, and freeze it (SIGSTOP) once `ready`
    /// holds (`what`: what is waited for, should it never come).
    pub fn start(env: &Env, args: &[&str], what: &str, ready: impl FnMut() -> bool) -> Frozen {
        let child = env.spawn(args);
        wait_until(what, ready);
        let pid = nix::unistd::Pid::from_raw(child.id() as i32);
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGSTOP).unwrap();
        Frozen { child, pid }
    }

    /// Let it go on (SIGCONT).
    pub fn thaw(&self) {
        nix::sys::signal::kill(self.pid, nix::sys::signal::Signal::SIGCONT).unwrap();
    }
}

/// The kinds of the latest run's events, as `log show --json` prints them.
pub fn kinds(env: &Env) -> Vec<String> {
    let out = env.run(&["--json", "log", "show"]);
    if out.code != 0 {
        return Vec::new();
    }
    out.json()
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|e| e["type"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// Start `args` (a driver), freeze it (SIGSTOP) once the latest run's log holds a
/// `step_started`, have `request` (an operator's `abort` or `stop`) put its request in the
/// log, then SIGKILL the frozen driver: it died before it acted on the request. The request's
/// own command is killed once its request is in the log (it would wait for the driver).
pub fn driver_dies_before_acting_on(env: &Env, args: &[&str], request: &[&str]) {
    let logged = |kind: &str| kinds(env).iter().any(|k| k == kind);
    let mut driver = Frozen::start(env, args, "step_started", || logged("step_started"));
    let mut asking = env.spawn(request);
    wait_until("stop_requested", || logged("stop_requested"));
    let _ = asking.kill();
    let _ = asking.wait();
    driver.child.kill().unwrap();
    driver.child.wait().unwrap();
}

/// The run ids a document lists under `key` (`log copy --json`'s `copied`, `refused`, a
/// history's `runs`): each a string, or an object's `run_id`.
pub fn ids(doc: &serde_json::Value, key: &str) -> Vec<String> {
    doc[key]
        .as_array()
        .unwrap_or_else(|| panic!("{key} in {doc}"))
        .iter()
        .map(|v| {
            v.as_str()
                .map_or_else(|| v["run_id"].as_str().unwrap().to_string(), str::to_string)
        })
        .collect()
}

/// How many events of `kind` the log of `run` holds.
pub fn count_events(env: &Env, run: &str, kind: &str) -> usize {
    env.events(run).iter().filter(|e| e["type"] == kind).count()
}

/// The types of the events of `run`, in order.
#[allow(dead_code)]
pub fn event_types(env: &Env, run: &str) -> Vec<String> {
    env.events(run)
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_string())
        .collect()
}

/// The argv of each suggestion of a `next` list (a status document's, an error's), in order.
#[allow(dead_code)]
pub fn next_argvs(next: &serde_json::Value) -> Vec<Vec<String>> {
    next.as_array()
        .unwrap_or_else(|| panic!("no next list: {next}"))
        .iter()
        .map(|n| serde_json::from_value(n["argv"].clone()).unwrap())
        .collect()
}

/// Scenario `sc` started with the secret input `api_token` = `secret` and waiting for a report
/// on its phase `review`, whose `check:` criterion reads the input both ways a command gets
/// it (`$CORTEX_INPUT_API_TOKEN`, `${{ inputs.api_token }}`), prints it (`tok=[…]`) and
/// compares it with `secret`, kept in the project's `expected` file (not in the definition,
/// which the log keeps); its run id.
pub fn waiting_on_a_secret_check(env: &Env, secret: &str) -> String {
    std::fs::write(env.file("expected"), secret).unwrap();
    env.scenario(
        "sc",
        "name: sc\ndescription: d\ninputs:\n  api_token: {type: string, required: true}\nphases:\n  - name: review\n    description: Review it\n    success_criteria:\n      - Changelog present\n      - check: 'echo \"tok=[$CORTEX_INPUT_API_TOKEN]\"; test \"$CORTEX_INPUT_API_TOKEN\" = \"$(cat expected)\" && test \"${{ inputs.api_token }}\" = \"$(cat expected)\"'\n",
    );
    let input = format!("api_token={secret}");
    let run = env.run(&["orchestrate", "run", "sc", "--input", &input]);
    assert_eq!(run.code, 3, "{}", run.text());
    env.run(&["--json", "orchestrate", "status", "sc"]).json()["run_id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Phase `name` of a scenario's `--json` status document (the test fails naming it if there
/// is none).
#[allow(dead_code)]
pub fn phase<'a>(doc: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    doc["phases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("no phase {name}: {doc:#}"))
}

/// Agent `name`'s row of an `agent list` `--json` document (or the API's), the test failing
/// naming it if there is none.
#[allow(dead_code)]
pub fn agent_row<'a>(doc: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    doc["agents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == name)
        .unwrap_or_else(|| panic!("no agent {name}: {doc:#}"))
}

/// A `run_started` of the definition snapshot `(definition, definition_hash)` (as
/// `cortex::definition::snapshot` makes it) with nothing else a test does not name: no
/// inputs, agents, parent or workflows it uses, the default config, in `/tmp`, driven by pid 1
/// on host `h`. A test sets other fields with `RunStarted { …, ..run_started(…) }`.
pub fn run_started(
    kind: cortex::event::RunKind,
    name: &str,
    (definition, definition_hash): (serde_json::Value, String),
    source: &str,
    by: cortex::event::Operator,
) -> cortex::event::RunStarted {
    cortex::event::RunStarted {
        kind,
        name: name.into(),
        definition,
        definition_hash,
        source: source.into(),
        inputs: Default::default(),
        secret_inputs: Vec::new(),
        secret_defaults: Vec::new(),
        config: Default::default(),
        agents: Default::default(),
        claude: None,
        parent: None,
        uses: Default::default(),
        working_dir: "/tmp".into(),
        driver: cortex::event::Driver {
            pid: 1,
            host: "h".into(),
        },
        by,
    }
}

/// A run of workflow `w` waiting on its prompt step `p`, with `after` (which appends a line
/// to `ran`) to run once `p` is reported: the run's id, and its event types so far (to show
/// that nothing was recorded meanwhile).
#[allow(dead_code)]
pub fn waiting_on_a_report(env: &Env) -> (String, Vec<String>) {
    env.workflow(
        "w",
        "name: w\nsteps:\n  - {name: p, prompt: do it}\n  - {name: after, run: 'echo after >> ran'}\n",
    );
    let out = env.run(&["workflow", "run", "w"]);
    assert_eq!(out.code, 3, "{}{}", out.stdout, out.stderr);
    let run = env.status(Some("w"))["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    let events = event_types(env, &run);
    (run, events)
}
