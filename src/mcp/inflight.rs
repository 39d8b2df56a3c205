//! The tool calls in flight and the stop flag each drives its run with, so that a cancelled
//! call, a client that hangs up and a signal each end the drives they concern gracefully (a
//! recorded stop that `resume` continues), and the server knows when they have all ended.
//! (The `stop` tool stops a run through its log, as every front end does, whoever drives it.)

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::execute::StopFlag;

#[derive(Debug, Clone, Default)]
pub struct InFlight {
    calls: Arc<Mutex<BTreeMap<u64, Call>>>,
    next: Arc<AtomicU64>,
}

/// A call in flight: the flag its drive stops on.
#[derive(Debug)]
struct Call {
    stop: StopFlag,
}

/// One call in flight; it leaves the set when dropped, however its work ended.
pub struct Ticket {
    id: u64,
    set: InFlight,
    pub stop: StopFlag,
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
        self.calls().insert(id, Call { stop: stop.clone() });
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
        drop(b);
        assert!(set.is_empty());
    }
}
