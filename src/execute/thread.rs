//! The threads cortex starts, all through `spawn`: a thread the system refuses (EAGAIN, for
//! this user's limit of processes `ulimit -u` or a cgroup's `pids.max`) is an error that says
//! so and how to raise the limit. `std::thread::spawn` panics then: a driver died mid-run,
//! exit 101, with commands it had started left running and not noted for the next driver.

use std::thread::{JoinHandle, Scope, ScopedJoinHandle};

/// A thread the system would not start: what it was for, and the system's error.
#[derive(Debug)]
pub struct Refused {
    what: &'static str,
    error: std::io::Error,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "cortex {}", self.unsaid())
    }
}

impl std::error::Error for Refused {}

impl Refused {
    /// What happened, without who it happened to: "could not start a thread to …: …".
    pub fn unsaid(&self) -> String {
        format!(
            "could not start a thread {}: {}",
            self.what,
            no_more_processes(&self.error)
        )
    }

    /// What raises the limit, for a hint.
    pub fn fix(&self) -> String {
        RAISE_PROCESSES.to_string()
    }
}

/// How to give cortex room for more processes and threads.
pub const RAISE_PROCESSES: &str = "raise the limit of processes in the shell that starts cortex (e.g. `ulimit -u 4096`; a systemd unit's `TasksMax=`, a container's `--pids-limit`), or end processes this user runs";

/// Start `f` on a thread of its own; `what` says what for ("to run phase commands").
pub fn spawn<T, F>(what: &'static str, f: F) -> Result<JoinHandle<T>, Refused>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    std::thread::Builder::new()
        .spawn(f)
        .map_err(|error| Refused { what, error })
}

/// `spawn`, for a thread of `scope`.
pub fn spawn_scoped<'scope, 'env, T, F>(
    scope: &'scope Scope<'scope, 'env>,
    what: &'static str,
    f: F,
) -> Result<ScopedJoinHandle<'scope, T>, Refused>
where
    F: FnOnce() -> T + Send + 'scope,
    T: Send + 'scope,
{
    std::thread::Builder::new()
        .spawn_scoped(scope, f)
        .map_err(|error| Refused { what, error })
}

/// A thread started now to run `f` on what it is given later through the sender returned
/// (a process started after it, to wait for or feed): when the system refuses the thread,
/// that process has not been started yet, so none is left running with no one to end or wait
/// for it. A sender dropped unused ends the thread.
pub fn ready_for<T, F>(what: &'static str, f: F) -> Result<std::sync::mpsc::Sender<T>, Refused>
where
    T: Send + 'static,
    F: FnOnce(T) + Send + 'static,
{
    let (give, given) = std::sync::mpsc::channel::<T>();
    spawn(what, move || {
        if let Ok(value) = given.recv() {
            f(value);
        }
    })?;
    Ok(give)
}

/// How many processes (threads counted) this user may have (RLIMIT_NPROC's soft limit,
/// `ulimit -u`), if there is a limit.
pub fn process_limit() -> Option<u64> {
    super::rlimit::soft_limit(super::rlimit::Limit::Processes)
}

/// `e` (a thread or a process refused) with what it means when it is EAGAIN: no more
/// processes or threads for this user (`ulimit -u`, named with its value) or the system.
pub fn no_more_processes(e: &std::io::Error) -> String {
    if e.raw_os_error() != Some(nix::libc::EAGAIN) {
        return e.to_string();
    }
    let now = match process_limit() {
        Some(limit) => format!(" (`ulimit -u` is {limit} here)"),
        None => String::new(),
    };
    format!(
        "{e}: this user may start no more processes or threads{now}, or the system's (or its cgroup's `pids.max`) limit is reached"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_thread_names_the_process_limit() {
        let refused = Refused {
            what: "to run phase commands",
            error: std::io::Error::from_raw_os_error(nix::libc::EAGAIN),
        };
        let text = refused.to_string();
        assert!(text.starts_with("cortex could not start a thread to run phase commands: "));
        assert!(
            text.contains("may start no more processes or threads"),
            "{text}"
        );
        assert!(refused.fix().contains("ulimit -u"));
    }
}
