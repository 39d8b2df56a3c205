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
/// plain seconds; `0` gives up at the first failure, as a report does).
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
    /// The command that goes on with the run if this driver gives up, as it should be
    /// pasted (`cortex workflow resume RUN`, with `--home` where needed).
    pub resume: String,
}

impl std::fmt::Debug for Patience {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Patience")
            .field("bound", &self.bound)
            .field("resume", &self.resume)
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
pub(crate) struct Wait {
    since: SystemTime,
    began: Instant,
    reminded: Instant,
}

/// What the wait says, and when it stops.
impl Wait {
    /// The wait of a try begun at `since` (`began` by the monotonic clock), which met the lock.
    pub(crate) fn start(
        patience: &Patience,
        run_id: &str,
        since: SystemTime,
        began: Instant,
    ) -> Wait {
        say(
            patience,
            &format!(
                "Waiting for the event log: another process holds its write lock (since {}), such as a `sqlite3` session or a backup or VACUUM of the log. Run {run_id} goes on here once it lets go; this driver waits up to {} (a stop, Ctrl-C or SIGTERM, gives up the wait and leaves the run to {}).",
                clock_time(since),
                crate::render::format_duration(patience.bound),
                patience.resume,
            ),
        );
        Wait {
            since,
            began,
            reminded: Instant::now(),
        }
    }

    /// How long each try waits for the lock inside the store.
    pub(crate) fn turn() -> Duration {
        TURN
    }

    /// Whether to try again (saying so now and then): not past the bound, nor stopped.
    pub(crate) fn again(&mut self, patience: &Patience, run_id: &str) -> bool {
        if (patience.stop)() || self.began.elapsed() >= patience.bound {
            return false;
        }
        if self.reminded.elapsed() >= REMIND_EVERY {
            self.reminded = Instant::now();
            say(
                patience,
                &format!(
                    "Still waiting for the event log, locked by another process since {} ({} now); run {run_id} goes on once it lets go.",
                    clock_time(self.since),
                    crate::render::format_duration(self.began.elapsed()),
                ),
            );
        }
        true
    }

    /// The wait is over: the log answered.
    pub(crate) fn over(self, patience: &Patience, run_id: &str) {
        say(
            patience,
            &format!(
                "The event log is free again after {}; run {run_id} goes on.",
                crate::render::format_duration(self.began.elapsed())
            ),
        );
    }
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
