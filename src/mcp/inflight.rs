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
    /// The reason a client gave with `notifications/cancelled`, by the cancelled request's id
    /// (its JSON text), cleaned (`cancel_reason`): noted by the transport as it reads the
    /// notification, taken by the call it cancels, which records it in the stop's message.
    reasons: Arc<Mutex<BTreeMap<String, String>>>,
    /// The client closed the server's input (`hang_up`): a call cancelled after that was
    /// cancelled by the session ending, not by the client (`hung_up`).
    hung_up: Arc<std::sync::atomic::AtomicBool>,
}

/// The longest cancellation reason kept, in characters; the rest is cut.
pub const REASON_CHARS: usize = 200;

/// A client's cancellation reason as a stop's message may hold it: secrets this process knows
/// scrubbed, on one line, without control characters, at most `REASON_CHARS`; none when
/// nothing is left.
pub fn cancel_reason(reason: &str, secrets: &crate::execute::Redactor) -> Option<String> {
    let scrubbed = secrets.redact(reason);
    let spaced: String = scrubbed
        .chars()
        .map(|c| {
            if c.is_control() || crate::render::breaks_line(c) {
                ' '
            } else {
                c
            }
        })
        .collect();
    let line = spaced.split_whitespace().collect::<Vec<_>>().join(" ");
    (!line.is_empty()).then(|| crate::render::clip(&line, REASON_CHARS).into_owned())
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

    /// Stop every call in flight for a reason that is no signal (`StopFlag::ask`): the
    /// stop is recorded with `why` as its message (one already raised keeps its reason).
    pub fn ask_all(&self, why: &str) {
        for call in self.calls().values() {
            call.stop.ask(why);
        }
    }

    /// The client closed the server's input: stop every call in flight with `why`, and
    /// remember it for the calls the session cancels later as it ends.
    pub fn hang_up(&self, why: &str) {
        self.hung_up.store(true, Ordering::Relaxed);
        self.ask_all(why);
    }

    /// Whether the client closed the server's input (`hang_up`).
    pub fn hung_up(&self) -> bool {
        self.hung_up.load(Ordering::Relaxed)
    }

    pub fn is_empty(&self) -> bool {
        self.calls().is_empty()
    }

    /// Note the reason the client gave for cancelling request `id` (its JSON text).
    pub fn note_reason(&self, id: String, reason: String) {
        let mut reasons = self.reasons.lock().unwrap_or_else(|p| p.into_inner());
        // Bounded: a client cancelling requests that never were cannot grow it without end.
        if reasons.len() >= 1024 {
            reasons.clear();
        }
        reasons.insert(id, reason);
    }

    /// The reason noted for cancelling request `id` (its JSON text), taken.
    pub fn take_reason(&self, id: &str) -> Option<String> {
        self.reasons
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id)
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
    fn a_cancel_reason_is_one_clean_bounded_line() {
        let none = crate::execute::Redactor::default();
        assert_eq!(
            cancel_reason("user\ngave\x1b[31m up ", &none).as_deref(),
            Some("user gave [31m up")
        );
        assert_eq!(cancel_reason(" \n\t", &none), None);
        let long = cancel_reason(&"x".repeat(5000), &none).unwrap();
        assert_eq!(long.chars().count(), REASON_CHARS);
    }

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
