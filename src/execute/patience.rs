//! A driver's patience with an event log another process holds locked: how long it waits for
//! the log's write lock, what it says meanwhile, and when it gives up.
//!
//! SQLite lets one connection write at a time; a connection that meets another's lock waits
//! for it (`busy_timeout`, 10 s) and then fails with `StoreError::Busy`. Cortex's own writers
//! hold the lock for one transaction, but another program may hold it far longer: a `sqlite3`
//! session left in a transaction, a backup or `VACUUM` of the log. A report (one transaction,
//! nothing done yet) fails then and is tried again by whoever sent it. A driver holds a run
//! with work in hand — an attempt that ended and is not yet recorded, the next step to start
//! — and giving up after 10 s left the run interrupted, its last attempt to run again: it
//! waits instead (`Journal::be_patient`), trying again in short turns so that a stop (a
//! signal, a cancelled call) is heard within a second, says that it waits and for what, and
//! gives up only after `LOG_LOCK_WAIT` (or `CORTEX_LOG_LOCK_WAIT`), or on a stop: then the run
//! is left as the log has it, for `resume`.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// How long a driver waits, in all, for a log another process holds locked before it gives up
/// (the run is then left for `resume`): long enough for a backup or a `VACUUM` of a large
/// log, or for a person to end a `sqlite3` session, not for ever.
pub const LOG_LOCK_WAIT: Duration = Duration::from_secs(3600);

/// The environment variable that sets `LOG_LOCK_WAIT` otherwise (a duration: `90s`, `10m`,
/// plain seconds; `0` gives up at once). It bounds every wait of the process for the lock,
/// a report's single try too (`EventStore::bound_lock_wait`).
pub const LOG_LOCK_WAIT_ENV: &str = "CORTEX_LOG_LOCK_WAIT";

/// How long each try after the first waits for the lock inside the store: a stop is heard
/// between two tries.
const TURN: Duration = Duration::from_secs(1);

/// How often a wait that goes on is said again.
const REMIND_EVERY: Duration = Duration::from_secs(300);

/// How a journal's writer meets a log another process holds locked (`Journal::be_patient`).
#[derive(Clone)]
pub struct Patience {
    /// How long it waits in all, for one write or read, before it gives up.
    pub bound: Duration,
    /// Whether to give up waiting now (a stop signal, a cancelled call, a worker told to end
    /// what it runs).
    pub stop: Arc<dyn Fn() -> bool + Send + Sync>,
    /// Where to say that it waits and when it goes on (the CLI's stderr), if anywhere.
    pub announce: Option<fn(&str)>,
    /// What a stop leaves, and to which command, as the wait says it: "the run to `cortex
    /// workflow resume RUN`" (the command as it should be pasted, with `--home` where
    /// needed), "its schedules to the next `cortex schedule run`".
    pub leaves: String,
}

impl std::fmt::Debug for Patience {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Patience")
            .field("bound", &self.bound)
            .field("leaves", &self.leaves)
            .finish_non_exhaustive()
    }
}

/// The wait a driver is to give a locked log: `CORTEX_LOG_LOCK_WAIT` if set (not empty), else
/// `LOG_LOCK_WAIT`; a value that is no duration is an error saying how to write one.
pub fn log_lock_wait() -> Result<Duration, String> {
    match std::env::var(LOG_LOCK_WAIT_ENV) {
        Ok(v) if !v.trim().is_empty() => crate::definition::DurationSpec(v)
            .to_duration()
            .map_err(|why| format!("{LOG_LOCK_WAIT_ENV}: {why}")),
        _ => Ok(LOG_LOCK_WAIT),
    }
}

/// One wait for a locked log, from the try that first met the lock.
struct Wait {
    since: SystemTime,
    began: Instant,
    reminded: Instant,
}

/// What the wait says, and when it stops.
impl Wait {
    /// The wait of a try begun at `since` (`began` by the monotonic clock), which met the lock,
    /// for `subject` (`run R`, `the scheduler`: what goes on once the log is free).
    fn start(patience: &Patience, subject: &str, since: SystemTime, began: Instant) -> Wait {
        say(
            patience,
            &format!(
                "Waiting for the event log: another process holds its write lock (since {}), such as a `sqlite3` session or a backup or VACUUM of the log. {} goes on here once it lets go; it waits up to {} (a stop, Ctrl-C or SIGTERM, gives up the wait and leaves {}).",
                clock_time(since),
                crate::render::upper_first(subject),
                crate::render::format_duration(patience.bound),
                patience.leaves,
            ),
        );
        Wait {
            since,
            began,
            reminded: Instant::now(),
        }
    }

    /// Whether to try again (saying so now and then): not past the bound, nor stopped.
    fn again(&mut self, patience: &Patience, subject: &str) -> bool {
        if (patience.stop)() || self.began.elapsed() >= patience.bound {
            return false;
        }
        if self.reminded.elapsed() >= REMIND_EVERY {
            self.reminded = Instant::now();
            say(
                patience,
                &format!(
                    "Still waiting for the event log, locked by another process since {} ({} now); {subject} goes on once it lets go.",
                    clock_time(self.since),
                    crate::render::format_duration(self.began.elapsed()),
                ),
            );
        }
        true
    }

    /// The wait is over: the log answered.
    fn over(self, patience: &Patience, subject: &str) {
        say(
            patience,
            &format!(
                "The event log is free again after {}; {subject} goes on.",
                crate::render::format_duration(self.began.elapsed())
            ),
        );
    }
}

/// How a patient writer tried: what its last try gave, and whether it gave up waiting (past
/// the bound, or stopped) rather than found the log free or failed otherwise.
pub struct Tried<T, E> {
    pub result: Result<T, E>,
    pub gave_up: bool,
}

/// `op` on `on`, tried again while it fails for a log another process holds locked (`busy`),
/// as long as `patience` lasts, saying so for `subject` (`Wait`): the one loop by which a
/// driver's journal (`Journal::be_patient`) and the scheduler's pass (`ops::schedule::run`)
/// wait out a locked log. A try that failed so changed nothing (SQLite refuses the write lock
/// before anything is decided or read under it), so trying again is as if it were the first.
/// While it waits, each try waits for the lock only `TURN` inside the store (`lock_wait`, the
/// store's `set_lock_wait`; `None` puts back the store's own wait), so that a stop is heard
/// between two tries, and the last only what is left of the bound. The first try waits the
/// store's own wait, which the shell holds to the bound (`EventStore::bound_lock_wait`): the
/// bound is the whole wait, from the first try (before, SQLite's 10 s came first, and a bound
/// of 3 s gave up after 10).
pub fn patiently<S: ?Sized, T, E>(
    on: &mut S,
    patience: &Patience,
    subject: &str,
    busy: impl Fn(&E) -> bool,
    lock_wait: impl Fn(&mut S, Option<Duration>),
    mut op: impl FnMut(&mut S) -> Result<T, E>,
) -> Tried<T, E> {
    let (since, began) = (SystemTime::now(), Instant::now());
    let first = op(on);
    if !first.as_ref().err().is_some_and(&busy) {
        return Tried {
            result: first,
            gave_up: false,
        };
    }
    let mut wait = Wait::start(patience, subject, since, began);
    let tried = loop {
        if !wait.again(patience, subject) {
            break Tried {
                result: first,
                gave_up: true,
            };
        }
        // No try outlasts the bound: the last waits only what is left of it.
        lock_wait(
            on,
            Some(TURN.min(patience.bound.saturating_sub(began.elapsed()))),
        );
        let at = Instant::now();
        match op(on) {
            Err(e) if busy(&e) => {
                // A store that refuses at once (not SQLite waiting its turn) is not asked
                // again in a tight loop.
                if let Some(rest) = TURN.checked_sub(at.elapsed()) {
                    std::thread::sleep(rest);
                }
            }
            other => {
                break Tried {
                    result: other,
                    gave_up: false,
                };
            }
        }
    };
    lock_wait(on, None);
    if !tried.gave_up {
        wait.over(patience, subject);
    }
    tried
}

fn say(patience: &Patience, text: &str) {
    if let Some(announce) = patience.announce {
        announce(text);
    }
}

/// `2025-01-31T12:03:04Z`: a moment as a person compares it with a clock (UTC, to the second).
fn clock_time(t: SystemTime) -> String {
    humantime::format_rfc3339_seconds(t).to_string()
}
