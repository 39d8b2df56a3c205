//! Keeping leases: a thread that renews the leases a process holds, every third of their
//! length, on a connection of its own, and notes the ones that changed hands. It tells the
//! process's guard, if it has one, of each round in which every renewal succeeded (or that
//! had nothing to renew): the guard ends the process's groups when that goes silent too long
//! (`guard`, self-fencing).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::store::{EventStore, Lease, StoreError};

/// Opens a connection to the log for the keeper's own use.
pub type OpenStore = Box<dyn FnMut() -> Result<Box<dyn EventStore>, StoreError> + Send>;

#[derive(Default)]
struct Held {
    leases: Vec<Lease>,
    /// Leases found taken over or released by someone else.
    lost: Vec<Lease>,
}

/// Renews leases in the background until dropped.
pub struct LeaseKeeper {
    held: Arc<Mutex<Held>>,
    done: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    /// Its name on the guard's pipe.
    id: u64,
}

impl LeaseKeeper {
    /// Start renewing, for `ttl_ms` each time, every `ttl_ms / 3`; an error if the system
    /// refuses the keeper its thread.
    pub fn start(mut open: OpenStore, ttl_ms: u64) -> Result<LeaseKeeper, super::thread::Refused> {
        let held = Arc::new(Mutex::new(Held::default()));
        let done = Arc::new(AtomicBool::new(false));
        let every = Duration::from_millis((ttl_ms / 3).max(50));
        let id = super::guard::next_keeper_id();
        // The leases it is given were claimed just before: as good as a round now.
        super::guard::keeper_started(id, ttl_ms);
        let thread = {
            let held = held.clone();
            let done = done.clone();
            super::thread::spawn("to renew leases", move || {
                let mut store: Option<Box<dyn EventStore>> = None;
                let mut next = Instant::now() + every;
                while !done.load(Ordering::Relaxed) {
                    if Instant::now() < next {
                        std::thread::sleep(Duration::from_millis(20).min(every));
                        continue;
                    }
                    let round = Instant::now();
                    next = round + every;
                    // Drivers' leases last: a run's driver lease lapses after the leases of
                    // the units it runs, so whoever finds it lapsed finds them lapsed too and
                    // reaps them first (a worker that could not run them then leaves the run
                    // alone, for the driver to take back if it wakes).
                    let mut leases = lock(&held).leases.clone();
                    leases.sort_by_key(|l| l.unit == crate::store::DRIVER_UNIT);
                    if leases.is_empty() {
                        super::guard::keeper_renewed(id, round.elapsed());
                        continue;
                    }
                    if store.is_none() {
                        store = match open() {
                            // A renewal waits for a lock no longer than a round: one that
                            // cannot get through is known as such (and why) in time to be
                            // tried again, rather than sitting in the store's own wait (10 s)
                            // past the lease.
                            Ok(s) => s.set_lock_wait(Some(every)).map(|()| s).ok(),
                            Err(e) => {
                                super::self_fence::failed(id, &unrenewed(&e));
                                None
                            }
                        };
                    }
                    let Some(s) = store.as_mut() else { continue };
                    let mut all = true;
                    for lease in leases {
                        match s.renew_lease(&lease, ttl_ms) {
                            Ok(true) => {}
                            // Taken over or let go: no longer this process's, so its
                            // silence says nothing of the others (its attempt is ended by the
                            // process, or already by the guard, which a lapse follows).
                            Ok(false) => {
                                let mut h = lock(&held);
                                if let Some(i) =
                                    h.leases.iter().position(|l| l.same_holding(&lease))
                                {
                                    let lost = h.leases.remove(i);
                                    h.lost.push(lost);
                                }
                            }
                            // Unreachable for now: tried again next time; the lease lapses
                            // meanwhile if it stays so, and fencing does the rest.
                            Err(e) => {
                                super::self_fence::failed(id, &unrenewed(&e));
                                all = false;
                                store = None;
                                break;
                            }
                        }
                    }
                    // Every lease it holds lasts from at least `round` on: the guard may let
                    // the groups run until `round` + ttl − its margin.
                    if all {
                        super::guard::keeper_renewed(id, round.elapsed());
                    }
                }
            })
        };
        let thread = match thread {
            Ok(thread) => thread,
            Err(refused) => {
                super::guard::keeper_stopped(id);
                return Err(refused);
            }
        };
        Ok(LeaseKeeper {
            held,
            done,
            thread: Some(thread),
            id,
        })
    }

    /// Renew `lease` from now on.
    pub fn keep(&self, lease: Lease) {
        lock(&self.held).leases.push(lease);
    }

    /// Stop renewing `lease` (released, or its work is over).
    pub fn forget(&self, lease: &Lease) {
        let mut h = lock(&self.held);
        h.leases.retain(|l| !l.same_holding(lease));
        h.lost.retain(|l| !l.same_holding(lease));
    }

    /// The leases it renews now (the attempts and runs this process holds).
    pub fn held(&self) -> Vec<Lease> {
        lock(&self.held).leases.clone()
    }

    /// Whether it renews `lease` (a thread of this process holds it).
    pub fn keeps(&self, lease: &Lease) -> bool {
        lock(&self.held)
            .leases
            .iter()
            .any(|l| l.same_holding(lease))
    }

    /// Whether `lease` was found taken over by someone else.
    pub fn lost(&self, lease: &Lease) -> bool {
        lock(&self.held).lost.iter().any(|l| l.same_holding(lease))
    }
}

impl Drop for LeaseKeeper {
    fn drop(&mut self) {
        self.done.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        super::guard::keeper_stopped(self.id);
    }
}

/// Why a renewal did not get through, as an attempt its guard ended for it says it.
fn unrenewed(e: &StoreError) -> String {
    match e {
        // Leases live in the log, so that every append checks its fence in its own
        // transaction; on SQLite a renewal is a write, and waits for the one write lock.
        StoreError::Busy => "the event log was locked by another process (a `sqlite3` session, a backup or VACUUM of the log) and a lease is renewed in the log, under its write lock".to_string(),
        e => format!("the event log could not be written: {e}"),
    }
}

fn lock(held: &Mutex<Held>) -> std::sync::MutexGuard<'_, Held> {
    held.lock().unwrap_or_else(|e| e.into_inner())
}
