//! A worker's guard: a small process of its own that ends the process groups the worker has in
//! flight when the worker dies, however it dies (SIGKILL included), so that a step does not go
//! on running on this host while its attempt runs again elsewhere.
//!
//! The worker starts it once (`start_guard`: its own binary again, in a process group of its
//! own, ignoring the signals a terminal or a service manager sends a group) and tells it, down
//! a pipe that only the worker holds open, each group it starts (`+ PGID BOOT START RUN`) and
//! each it is done with (`- PGID`). When the worker dies the kernel closes the pipe; the guard
//! reads its end and ends every group still noted (TERM, then KILL after the grace) that is
//! provably the one noted (`inflight::is_the_runs`), then exits. A worker that exits normally
//! has none left. What it cannot do: end groups on another host, or anything when it is
//! killed with its worker (DESIGN.md §3c).

use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::os::unix::process::CommandExt;
use std::process::{ChildStdin, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use super::inflight::{Noted, is_the_runs};
use super::procinfo::{boot_id, stat};

/// The first argument that makes `cortex` a guard instead of a command line: not a word clap
/// accepts, so no command line reaches it by mistake.
pub const GUARD_ARG: &str = "--internal-worker-guard";

/// The write end of the pipe to this process's guard, once started.
static GUARD: OnceLock<Mutex<ChildStdin>> = OnceLock::new();

/// Start this process's guard, ending its groups with `grace` between TERM and KILL. An error
/// (this binary cannot be run again) says why; the worker goes on without one.
pub fn start_guard(grace: Duration) -> Result<(), String> {
    if GUARD.get().is_some() {
        return Ok(());
    }
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this program: {e}"))?;
    let mut child = Command::new(&exe)
        .arg(GUARD_ARG)
        .arg(grace.as_millis().to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        // Out of the worker's group: a Ctrl-C or a signal to that group does not reach it.
        .process_group(0)
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", exe.display()))?;
    let pipe = child.stdin.take().ok_or("the guard has no input")?;
    let _ = GUARD.set(Mutex::new(pipe));
    Ok(())
}

/// Tell the guard, if this process has one, that group `pgid` runs for run `run_id`. Called
/// while its leader has not been waited for, so its `/proc` entry is its own.
pub fn guard_group(pgid: i32, run_id: Option<&str>) {
    let Some(guard) = GUARD.get() else {
        return;
    };
    let (Some(boot), Some(leader)) = (boot_id(), stat(pgid)) else {
        return;
    };
    // A run id is a word; anything else is not passed on (the group is then held to its
    // leader's identity alone).
    let run = run_id
        .filter(|r| !r.is_empty() && r.chars().all(|c| c.is_ascii_alphanumeric()))
        .unwrap_or("-");
    let line = format!("+ {pgid} {boot} {} {run}\n", leader.start);
    // Best effort: a guard that died leaves only the cleanup after a crash undone.
    let mut pipe = guard.lock().unwrap_or_else(|e| e.into_inner());
    let _ = pipe.write_all(line.as_bytes());
}

/// Tell the guard, if this process has one, that group `pgid` is no longer its to end (its
/// leader was waited for: the group ended, or was kept running on purpose).
pub fn release_group(pgid: i32) {
    let Some(guard) = GUARD.get() else {
        return;
    };
    let mut pipe = guard.lock().unwrap_or_else(|e| e.into_inner());
    let _ = pipe.write_all(format!("- {pgid}\n").as_bytes());
}

/// The groups a guard's input leaves noted: the last line about each group decides.
pub fn noted_groups(input: impl BufRead) -> BTreeMap<i32, (Noted, Option<String>)> {
    let mut groups = BTreeMap::new();
    for line in input.lines() {
        let Ok(line) = line else { break };
        let parts: Vec<&str> = line.split_ascii_whitespace().collect();
        match parts[..] {
            ["+", pgid, boot, start, run] => {
                if let (Ok(pgid), Ok(start)) = (pgid.parse::<i32>(), start.parse::<u64>()) {
                    let noted = Noted {
                        pgid,
                        identity: Some((boot.to_string(), start)),
                    };
                    let run = (run != "-").then(|| run.to_string());
                    groups.insert(pgid, (noted, run));
                }
            }
            ["-", pgid] => {
                if let Ok(pgid) = pgid.parse::<i32>() {
                    groups.remove(&pgid);
                }
            }
            // A torn or foreign line says nothing.
            _ => {}
        }
    }
    groups
}

/// The guard itself (`cortex --internal-worker-guard GRACE_MS`): wait for the worker to be
/// gone (its end of the pipe closed), then end what it left running. Returns the exit code.
pub fn guard_main(grace_ms: Option<&str>) -> i32 {
    use nix::sys::signal::{SigHandler, Signal, signal};
    // Only the pipe's end ends it: not a terminal's Ctrl-C, a hang-up, or the SIGTERM a
    // service manager sends every process of a stopping service (the worker drains then, and
    // its exit closes the pipe).
    for sig in [
        Signal::SIGINT,
        Signal::SIGTERM,
        Signal::SIGHUP,
        Signal::SIGQUIT,
    ] {
        // SAFETY: ignoring a signal installs no handler code.
        let _ = unsafe { signal(sig, SigHandler::SigIgn) };
    }
    let grace = Duration::from_millis(grace_ms.and_then(|g| g.parse().ok()).unwrap_or(5_000));
    let groups = noted_groups(std::io::stdin().lock());
    for (noted, run) in groups.values() {
        let ours = match run {
            Some(run) => is_the_runs(noted, run),
            // Without a run id, only a living leader that is the very process noted.
            None => stat(noted.pgid).is_some_and(|leader| {
                leader.pgrp == noted.pgid
                    && noted
                        .identity
                        .as_ref()
                        .is_some_and(|(_, start)| leader.start == *start)
            }),
        };
        if ours {
            super::end_orphan_group(noted.pgid, grace);
        }
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_line_about_a_group_decides_and_torn_lines_say_nothing() {
        let input = "+ 10 boot 5 RUN1\n+ 11 boot 6 -\n- 10\n+ 12 boot\n+ x boot 1 R\n";
        let groups = noted_groups(input.as_bytes());
        assert_eq!(groups.len(), 1, "{groups:?}");
        let (noted, run) = &groups[&11];
        assert_eq!(noted.identity, Some(("boot".to_string(), 6)));
        assert_eq!(*run, None);
    }
}
