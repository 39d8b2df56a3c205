//! Injected time and ids, so tests and replays are deterministic.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A source of the current time.
pub trait Clock {
    fn now(&self) -> SystemTime;
}

/// A source of unique, sortable ids.
pub trait IdGen {
    fn next_id(&mut self) -> String;
}

/// The real clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// A clock that advances one millisecond per reading, from a fixed start.
#[derive(Debug)]
pub struct FixedClock {
    millis: std::cell::Cell<u64>,
}

impl FixedClock {
    pub fn new(start_millis: u64) -> Self {
        FixedClock {
            millis: std::cell::Cell::new(start_millis),
        }
    }
}

impl Clock for FixedClock {
    fn now(&self) -> SystemTime {
        let m = self.millis.get();
        self.millis.set(m + 1);
        UNIX_EPOCH + Duration::from_millis(m)
    }
}

/// Monotonic ULIDs: sortable by creation time, unique within one process.
#[derive(Debug, Default)]
pub struct UlidIds {
    generator: ulid::Generator,
}

impl IdGen for UlidIds {
    fn next_id(&mut self) -> String {
        self.generator
            .generate()
            .unwrap_or_else(|overflow| overflow.commit_overflow_random())
            .to_string()
    }
}

/// Ids `00000000000000000000000001`, `…02`, ... for tests: ULIDs in order, so that a run
/// named by one is a run (`event::is_run_id`).
#[derive(Debug, Default)]
pub struct SequentialIds {
    n: u64,
}

impl IdGen for SequentialIds {
    fn next_id(&mut self) -> String {
        self.n += 1;
        format!("{:026}", self.n)
    }
}

/// RFC 3339 UTC with milliseconds, the stored time format.
pub fn rfc3339(t: SystemTime) -> String {
    humantime::format_rfc3339_millis(t).to_string()
}
