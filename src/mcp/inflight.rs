//! The tool calls in flight and the stop flag each drives its run with, so that a cancelled
//! call, a client that hangs up and a signal each end the drives they concern gracefully (a
//! recorded stop that `resume` continues), and the server knows when they have all ended;
//! and the run each drives, so that the `stop` tool can stop a workflow run driven here.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::execute::StopFlag;

#[derive(Debug, Clone, Default)]
pub struct InFlight {
    calls: Arc<Mutex<BTreeMap<u64, Call>>>,
    next: Arc<AtomicU64>,
}

/// A call in flight: the flag its drive stops on, and the run it drives once it said so.
#[derive(Debug)]
struct Call {
    stop: StopFlag,
    run: Option<String>,
}

/// Where a call's drive says which run it drives (`Ticket::marker`).
#[derive(Debug, Clone)]
pub struct Marker {
    id: u64,
    set: InFlight,
}

impl Marker {
    /// The call drives `run_id` (a resume's run, or the run a `run` started).
    pub fn drives(&self, run_id: &str) {
        if let Some(call) = self.set.calls().get_mut(&self.id)
            && call.run.as_deref() != Some(run_id)
        {
            call.run = Some(run_id.to_string());
        }
    }
}

/// One call in flight; it leaves the set when dropped, however its work ended.
pub struct Ticket {
    id: u64,
    set: InFlight,
    pub stop: StopFlag,
}

impl Ticket {
    /// What the call's drive tells which run it drives.
    pub fn marker(&self) -> Marker {
        Marker {
            id: self.id,
            set: self.set.clone(),
        }
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.set.calls().remove(&self.id);
    }
}

impl InFlight {
    /// A poisoned lock only means a call panicked while holding it; the map is still whole.
    fn calls(&self) -> MutexGuard<'_, BTreeMap<u64, Call>> {
        self.calls.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Register a call with a fresh stop flag.
    pub fn enter(&self) -> Ticket {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let stop = StopFlag::default();
        self.calls().insert(
            id,
            Call {
                stop: stop.clone(),
                run: None,
            },
        );
        Ticket {
            id,
            set: self.clone(),
            stop,
        }
    }

    /// Raise the stop flag of every call in flight (one already raised keeps its reason).
    pub fn stop_all(&self, signal: i32) {
        for call in self.calls().values() {
            raise(&call.stop, signal);
        }
    }

    /// Ask every call that drives `run_id` to stop it, for `why` (recorded as the stop's
    /// message): whether any does.
    pub fn stop_run(&self, run_id: &str, why: &str) -> bool {
        let calls = self.calls();
        let mut any = false;
        for call in calls.values().filter(|c| c.run.as_deref() == Some(run_id)) {
            call.stop.ask(why);
            any = true;
        }
        any
    }

    /// Whether a call in flight drives `run_id`.
    pub fn drives(&self, run_id: &str) -> bool {
        self.calls()
            .values()
            .any(|c| c.run.as_deref() == Some(run_id))
    }

    pub fn is_empty(&self) -> bool {
        self.calls().is_empty()
    }
}

/// Raise `stop` with `signal` unless it is raised already: the first reason is the one recorded.
pub fn raise(stop: &StopFlag, signal: i32) {
    if !stop.is_set() {
        stop.set(signal);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_leaves_the_set_when_its_ticket_drops_and_the_first_reason_stays() {
        let set = InFlight::default();
        let a = set.enter();
        let b = set.enter();
        raise(&a.stop, 2);
        set.stop_all(1);
        assert_eq!(a.stop.signal_name().as_deref(), Some("SIGINT"));
        assert_eq!(b.stop.signal_name().as_deref(), Some("SIGHUP"));
        drop(a);
        assert!(!set.is_empty());
        // A call that said which run it drives is stopped by it, and only it.
        let c = set.enter();
        c.marker().drives("R1");
        assert!(set.drives("R1") && !set.drives("R2"));
        assert!(!set.stop_run("R2", "no"));
        assert!(set.stop_run("R1", "asked") && c.stop.is_set());
        drop(c);
        assert!(!set.drives("R1"));
        drop(b);
        assert!(set.is_empty());
    }
}
