//! The imperative shell: the only place that spawns processes, reads the clock and the
//! environment, takes locks and writes derived files. It feeds facts to the decider as
//! commands and appends the events it answers with.

mod clock;
mod driver;
mod inflight;
mod journal;
mod lock;
mod materialize;
pub mod operator;
mod outputs;
mod prerequisites;
mod process;
mod runner;
mod scheduler;
mod secrets;
mod signals;
mod snapshot;

pub use clock::{Clock, FixedClock, IdGen, SequentialIds, SystemClock, UlidIds, rfc3339};
pub use driver::{DriveContext, DriveEnd, DriveError, Observer, drive};
pub use journal::{Journal, JournalError};
pub use lock::{DriverLock, Holder, LockError};
pub use materialize::{WriteBehind, materialize};
pub use outputs::parse_outputs;
pub use prerequisites::check_requires;
pub use process::{
    ProcessResult, ProcessSpec, Stream, end_orphan_group, run_process, run_process_tracked,
};
pub use runner::{AttemptOutcome, LineSink, Runner, redactor_for, run_check};
pub use secrets::{Redactor, is_secret_name};
pub use signals::StopFlag;
pub use snapshot::{SNAPSHOT_EVERY, check_snapshots, load_state, maybe_snapshot, snapshot_due};
