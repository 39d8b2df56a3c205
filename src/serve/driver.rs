//! Handing runs to background drivers, as the TUI does: a detached `cortex` started with
//! `execute::operator::spawn_detached` (this home, the server's actor), its output in
//! `<home>/serve/driver-<time>-<pid>-<n>.log`. A request that starts or resumes a run waits
//! only until that driver has recorded the run, or recorded that it drives it — or has ended,
//! when the error it printed is the request's answer — so no request waits for a run to
//! finish, and what the client reads next already shows the driver's session. The wait is
//! bounded (`--driver-wait`, default 60 s): a driver that has neither recorded nor ended by
//! then (a store that does not answer, a machine too loaded to start it) is answered 504,
//! saying that it goes on and may still take the run. A thread reaps each driver when it ends.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use axum::http::StatusCode;

use super::error::Failure;
use super::server::Shared;
use crate::event::{Event, RunKind};
use crate::execute::{fold_log, hostname, load_state, operator, rfc3339};
use crate::ops::{CommandError, exit};
use crate::store::{EventStore, RunQuery};

const POLL: Duration = Duration::from_millis(20);

/// How long a request waits, after the driver took the run, for its first decision to be
/// recorded (`Background::took`): it is due at once, so this bound is only for a driver that
/// has to wait first (a retry's delay).
const FIRST_MOVE: Duration = Duration::from_secs(2);

static STARTED: AtomicU64 = AtomicU64::new(0);

/// A driver started in the background.
pub struct Background {
    pid: u32,
    log: PathBuf,
    /// Its exit code once it ended (`Some(None)`: killed by a signal).
    ended: Arc<Mutex<Option<Option<i32>>>>,
    /// How long a request waits for it to take the run (`--driver-wait`).
    wait: Duration,
}

/// Start `cortex --home HOME ARGS...` detached, with `envs` added to its environment.
pub fn start(
    shared: &Shared,
    args: &[String],
    envs: &[(String, String)],
) -> Result<Background, CommandError> {
    let home = &shared.ctx.home;
    let stamp = rfc3339(SystemTime::now()).replace(':', "-");
    let n = STARTED.fetch_add(1, Ordering::Relaxed);
    let log = home
        .join(crate::execute::SERVE_DRIVER_LOGS)
        .join(format!("driver-{stamp}-{}-{n}.log", std::process::id()));
    let mut full: Vec<String> = vec!["--home".into(), home.display().to_string()];
    full.extend(args.iter().cloned());
    // The log the server follows, when `--db` chose it (CORTEX_DB is inherited): given in
    // the environment, where a password in it is out of sight of `ps`.
    let mut envs = envs.to_vec();
    envs.extend(shared.ctx.db_env());
    let ended = Arc::new(Mutex::new(None));
    let slot = ended.clone();
    let running = Arc::clone(&shared.drivers);
    // The thread that waits for the driver first: refused (`ulimit -u`), no driver is started.
    let waiter = crate::execute::thread::ready_for(
        "to wait for a driver",
        move |mut child: std::process::Child| {
            let pid = child.id();
            let code = child.wait().ok().and_then(|s| s.code());
            running
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&pid);
            *slot.lock().unwrap_or_else(|p| p.into_inner()) = Some(code);
        },
    )?;
    let detached = operator::spawn_detached(&shared.exe, &full, &envs, &shared.ctx.cwd, &log)
        .map_err(|e| {
            CommandError::new(exit::FAILED, format!("cannot start a cortex driver: {e}"))
        })?;
    let pid = detached.child.id();
    shared
        .drivers
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(pid);
    let _ = waiter.send(detached.child);
    Ok(Background {
        pid,
        log,
        ended,
        wait: shared.driver_wait,
    })
}

impl Background {
    fn ended(&self) -> Option<Option<i32>> {
        *self.ended.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The error the driver printed (`error:`, its detail, `hint:` lines), if it printed one.
    fn printed_error(&self, code: Option<i32>) -> Option<CommandError> {
        let text = crate::execute::read_driver_log(&self.log).ok()?;
        let mut lines = text.lines().skip_while(|l| !l.starts_with("error: "));
        let message = lines.next()?.trim_start_matches("error: ").to_string();
        let mut error = CommandError::new(code.unwrap_or(exit::FAILED), message);
        let mut detail = String::new();
        for line in lines {
            match line.strip_prefix("hint: ") {
                Some(h) => error.hints.push(h.into()),
                None => {
                    detail.push_str(line);
                    detail.push('\n');
                }
            }
        }
        error.detail = (!detail.is_empty()).then_some(detail);
        Some(error)
    }

    /// Wait until `ready` finds what it looks for, or the driver ends: an error the driver
    /// printed is the answer then; `Ok(None)` if it ended without one. Past `wait`, a 504
    /// saying that the driver `what` (e.g. "has not taken run X") and goes on.
    fn settle<T>(
        &self,
        what: &str,
        mut ready: impl FnMut() -> Result<Option<T>, CommandError>,
    ) -> Result<Option<T>, Failure> {
        let until = Instant::now() + self.wait;
        loop {
            // Read before looking at the exit: a driver that recorded and ended is found.
            let ended = self.ended();
            if let Some(found) = ready()? {
                return Ok(Some(found));
            }
            if let Some(code) = ended {
                return match self.printed_error(code) {
                    Some(e) => Err(e.into()),
                    None => Ok(None),
                };
            }
            if Instant::now() >= until {
                return Err(self.late(what));
            }
            std::thread::sleep(POLL);
        }
    }

    /// A driver that has not done what the request waits for within `wait`: it is not
    /// stopped (it may be about to), so the answer says how to see whether it did.
    fn late(&self, what: &str) -> Failure {
        Failure::new(
            StatusCode::GATEWAY_TIMEOUT,
            CommandError::new(
                exit::FAILED,
                format!(
                    "the cortex driver started for this request (pid {}) {what} within {} s",
                    self.pid,
                    self.wait.as_secs()
                ),
            )
            .hint("it goes on in the background and may still do it: the run's status (`GET /api/v1/runs`, the runs page) shows whether it did")
            .hint(format!("its output is in {}", self.log.display()))
            .hint("a loaded machine or a busy log can make it slow: `cortex serve --driver-wait SECONDS` waits longer"),
        )
    }

    /// The run of `kind` this driver started, if it has recorded it by now (none yet).
    fn recorded_run(&self, shared: &Shared, kind: RunKind) -> Result<Option<String>, CommandError> {
        let host = hostname();
        let Some(store) = shared.ctx.reading_store()? else {
            return Ok(None);
        };
        for entry in store
            .list_runs(&RunQuery::kind(Some(kind)).limit(8))
            .map_err(CommandError::from)?
        {
            let first = store
                .first_event(&entry.run_id)
                .map_err(CommandError::from)?;
            if let Some(Event::RunStarted(s)) = first.map(|f| f.event)
                && s.driver.pid == self.pid
                && s.driver.host == host
            {
                return Ok(Some(entry.run_id));
            }
        }
        Ok(None)
    }

    /// The run this driver started (`workflow run` / `orchestrate run`), once it is recorded.
    pub fn started_run(&self, shared: &Shared, kind: RunKind) -> Result<String, Failure> {
        let found = self.settle("has not recorded the run it starts", || {
            self.recorded_run(shared, kind)
        })?;
        found.ok_or_else(|| {
            CommandError::new(
                exit::FAILED,
                "the driver started for this run ended without recording it",
            )
            .hint(format!("its output is in {}", self.log.display()))
            .into()
        })
    }

    /// Wait until the log names this driver as `run_id`'s (its `run_resumed`, appended under
    /// the run's lock), or it ended without an error. Holding the lock is not enough: until
    /// the resume is appended, a stopped run still reads `stopped` and a waiting one `waiting`,
    /// and a client that reads the run after the answer would take that for where it ended.
    ///
    /// Then, for at most `FIRST_MOVE`, until the driver has recorded its first decision after
    /// the resume (a step started, a phase waiting), let go of the run or ended: a driver takes
    /// a run that has work, and until it records that work the run reads as it did before —
    /// a phase just started still `pending`. So the answer shows the run as the CLI's report
    /// (which drives) shows it, not a state only the instant between two appends had.
    pub fn took(&self, shared: &Shared, run_id: &str) -> Result<(), Failure> {
        let host = hostname();
        // Read once, then only the events appended since (not a replay every poll).
        let mut seen: Option<crate::decide::RunState> = None;
        // What a poll reads: whether this driver holds the run, how many events it has, and
        // the seq of the event that began the current session (its `run_resumed`).
        let mut read = || -> Result<Option<(bool, u64, u64)>, CommandError> {
            let Some(store) = shared.ctx.reading_store()? else {
                return Ok(None);
            };
            let state = match seen.take() {
                None => load_state(&store, run_id),
                Some(state) => fold_log(&store, run_id, state.events, state),
            }
            .map_err(CommandError::from)?;
            let mine = state
                .driver
                .as_ref()
                .is_some_and(|d| d.pid == self.pid && d.host == host);
            let facts = (mine, state.events, state.session_seq);
            seen = Some(state);
            Ok(Some(facts))
        };
        let what = format!("has not taken run {run_id}");
        self.settle(&what, || {
            Ok(read()?.filter(|(mine, _, _)| *mine).map(|_| ()))
        })?;
        let until = Instant::now() + FIRST_MOVE;
        while Instant::now() < until && self.ended().is_none() {
            // A read that fails now is no reason to fail what was done: the answer reads the
            // run again anyway.
            match read() {
                Ok(Some((mine, events, session))) if !mine || events > session + 1 => break,
                Ok(Some(_)) => {}
                _ => break,
            }
            std::thread::sleep(POLL);
        }
        Ok(())
    }

    /// `took`, for a driver started with `resume --drive-on` after a report or a start this
    /// server recorded (the run had `events` events then): it records nothing of its own
    /// before it drives (no `run_resumed`, as the CLI's report records none), so the log does
    /// not name it. Wait until it holds the run's lock or the log moved past `events` (it
    /// drove and perhaps let go already), or it ended without an error; then, for at most
    /// `FIRST_MOVE`, until it has recorded its first decision, let go of the run or ended.
    pub fn took_on(&self, shared: &Shared, run_id: &str, events: u64) -> Result<(), Failure> {
        let home = shared.ctx.home.clone();
        let mine = || operator_lock_pid(&home, run_id).is_some_and(|pid| pid == self.pid);
        let mut seen: Option<crate::decide::RunState> = None;
        let mut moved = || -> Result<bool, CommandError> {
            let Some(store) = shared.ctx.reading_store()? else {
                return Ok(false);
            };
            let state = match seen.take() {
                None => load_state(&store, run_id),
                Some(state) => fold_log(&store, run_id, state.events, state),
            }
            .map_err(CommandError::from)?;
            let past = state.events > events;
            seen = Some(state);
            Ok(past)
        };
        let what = format!("has not taken run {run_id}");
        self.settle(&what, || Ok((mine() || moved()?).then_some(())))?;
        let until = Instant::now() + FIRST_MOVE;
        while Instant::now() < until && self.ended().is_none() {
            match moved() {
                Ok(false) if mine() => {}
                _ => break,
            }
            std::thread::sleep(POLL);
        }
        Ok(())
    }
}

/// The process that holds run `run_id`'s lock in `home`, if one does.
fn operator_lock_pid(home: &std::path::Path, run_id: &str) -> Option<u32> {
    crate::execute::DriverLock::probe(home, run_id).map(|h| h.pid)
}

/// A run start answered 504 (its driver had not recorded the run in time) that was given
/// secret inputs: they are kept with the driver until the run it records is known, then held
/// for that run as if the start had been answered (`Shared::adopt_late_starts`). Before, they
/// were dropped with the answer, and the run could go on only with them given again.
pub struct LateStart {
    pub driver: Background,
    pub kind: RunKind,
    /// (input, value).
    pub secrets: Vec<(String, String)>,
}

impl LateStart {
    /// The run its driver recorded, if it has by now; `Err(())` once the driver ended
    /// without recording one (nothing to keep the values for). Whether it ended is read
    /// before the log, so a driver that recorded the run and then ended is found.
    pub fn recorded(&self, shared: &Shared) -> Result<Option<String>, ()> {
        let ended = self.driver.ended().is_some();
        match self.driver.recorded_run(shared, self.kind) {
            Ok(Some(run_id)) => Ok(Some(run_id)),
            Ok(None) if ended => Err(()),
            // Not yet, or the log cannot say now: asked again at the next action.
            _ => Ok(None),
        }
    }
}
