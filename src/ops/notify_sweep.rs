//! The notifications a driver gone before delivering them left due (SPEC §9, §11), found and
//! delivered unasked by the long-running processes a team keeps up — `cortex worker` in its
//! passes, `cortex serve` on a thread of its own — each run only while nobody is on it, under
//! the notification lease (`store::NOTIFY_UNIT`).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::Ctx;
use crate::decide::RunState;
use crate::execute::{DriverLock, holder_gone, load_state};
use crate::store::{DRIVER_UNIT, EventStore, NOTIFY_UNIT, RunQuery, StoreError};

/// How often a sweep reads the whole run index for runs with notifications still due; the
/// passes between read only the newest `NEWEST` runs and those that finished since.
const WHOLE_INDEX: Duration = Duration::from_secs(60);
const NEWEST: usize = 50;

/// How often `cortex serve` looks: a worker's default `--poll`, at which a worker's full
/// passes look when nothing wakes it.
const SERVE_POLL: Duration = Duration::from_secs(1);

/// What a process looking for notifications still due keeps between its passes.
pub struct Sweep {
    /// The lease holder this process claims under (a worker's seat): a lease of its own is
    /// not another process's. Empty for one whose every lease counts (`cortex serve`: its own
    /// background deliveries are another deliverer's).
    holder: String,
    /// What the process is, as its notes name it ("worker", "server").
    who: &'static str,
    /// The runs whose `notify:` owes nothing (or can never be delivered here: secret inputs
    /// this process lacks, said once): finished runs are sealed, so nothing falls due again.
    settled: BTreeSet<String>,
    /// The runs that left the unfinished list since the last pass (`finished`), and finished
    /// runs a live process held then: looked at (again) in the next pass.
    since: BTreeSet<String>,
    /// When the whole run index was last read.
    swept_at: Option<Instant>,
}

impl Sweep {
    pub fn new(holder: &str, who: &'static str) -> Sweep {
        Sweep {
            holder: holder.to_string(),
            who,
            settled: BTreeSet::new(),
            since: BTreeSet::new(),
            swept_at: None,
        }
    }

    /// Runs that left the unfinished list since the last pass: they owe their notifications
    /// now, if their driver is gone.
    pub fn finished(&mut self, runs: impl IntoIterator<Item = String>) {
        self.since.extend(runs);
    }

    /// The runs with notifications still due that this process should deliver now, with
    /// their state: a run whose `notify:` owes a delivery for the end its session came to
    /// (`notify::pending`: a finished run, or one paused on a failure) while nobody is on it
    /// — no live driver lease, no live notification lease (a process delivering them), no
    /// lock in this home — and that `delivering` (this process) is not delivering already. A
    /// driver holds its lease until it has delivered them, and every other process delivering
    /// a run's notifications holds the notification lease: what is left is what a process
    /// that died (or was cut off past its lease) left undelivered. Delivered at least once:
    /// one that died after a delivery landed and before it was recorded is delivered again.
    ///
    /// Finished runs are sealed: one found owing nothing is settled and not read again. A
    /// finished run is read first by its first event alone (its definition: has it a
    /// `notify:`?), and folded only if it has one. `unfinished` are the unfinished runs the
    /// caller folded (a run paused on a failure is one of them).
    ///
    /// The whole run index is read once every `WHOLE_INDEX`; the passes between read only the
    /// newest runs (`NEWEST`: started and finished between two passes), those that left the
    /// unfinished list since (`finished`), and `unfinished`.
    pub fn due(
        &mut self,
        store: &dyn EventStore,
        home: &std::path::Path,
        unfinished: &BTreeMap<String, RunState>,
        delivering: &dyn Fn(&str) -> bool,
        note: &mut dyn FnMut(&str),
    ) -> Result<Vec<(String, RunState)>, StoreError> {
        let whole = self.swept_at.is_none_or(|at| at.elapsed() >= WHOLE_INDEX);
        if whole {
            self.swept_at = Some(Instant::now());
        }
        let mut due = Vec::new();
        // Each run with whether it finished; oldest first, as runs are taken.
        let mut entries: Vec<(String, bool)> = Vec::new();
        let listed = match whole {
            true => store.list_runs(&RunQuery::kind(None))?,
            false => store.list_runs(&RunQuery::kind(None).limit(NEWEST))?,
        };
        entries.extend(
            listed
                .into_iter()
                .rev()
                .map(|e| (e.run_id, e.outcome.is_some())),
        );
        // Those found owing notifications that a live process holds are put back, to be
        // looked at again next pass.
        let since_then = std::mem::take(&mut self.since);
        if !whole {
            entries.extend(since_then.iter().map(|id| (id.clone(), true)));
            entries.extend(unfinished.keys().map(|id| (id.clone(), false)));
        }
        let mut looked: BTreeSet<String> = BTreeSet::new();
        for (run_id, finished) in entries {
            if !looked.insert(run_id.clone())
                || self.settled.contains(&run_id)
                || delivering(&run_id)
            {
                continue;
            }
            let state = if finished {
                let has_notify = match store.first_event(&run_id) {
                    Ok(Some(first)) => match &first.event {
                        crate::event::Event::RunStarted(start) => {
                            start.definition.get("notify").is_some_and(|n| !n.is_null())
                        }
                        _ => false,
                    },
                    _ => false,
                };
                if !has_notify {
                    self.settled.insert(run_id);
                    continue;
                }
                let Ok(mut state) = load_state(store, &run_id) else {
                    continue;
                };
                state.run_id = run_id.clone();
                state
            } else {
                // A run not finished is one the caller read already (or one of its ends).
                match unfinished.get(&run_id) {
                    Some(state) if crate::plan::notify_end(state).is_some() => state.clone(),
                    _ => continue,
                }
            };
            let pending = match super::notify::pending(store, &state) {
                Ok(p) => p,
                Err(_) => continue,
            };
            if pending.is_empty() {
                if finished {
                    self.settled.insert(run_id);
                }
                continue;
            }
            let leases = store.leases(Some(&run_id))?;
            let held = leases.iter().any(|l| {
                (l.unit == DRIVER_UNIT || l.unit == NOTIFY_UNIT)
                    && !l.lapsed()
                    && l.holder != self.holder
                    && !holder_gone(l)
            });
            let locked = DriverLock::probe(home, &run_id)
                .is_some_and(|h| !crate::execute::lock_lapsed(&leases, &h));
            if held || locked {
                if finished {
                    self.since.insert(run_id);
                }
                continue;
            }
            // A notification that reads a secret input, or sends a webhook made of an
            // environment variable, this process lacks is left to a process given it (made
            // here, it would be recorded not delivered and never be due again), said once.
            let redactor = crate::execute::Redactor::of_run(&state);
            if let Err(lacking) = super::notify::deliverable(&state, &redactor, &pending) {
                note(&format!(
                    "{}\n",
                    lacking.note(&run_id, self.who, "resume --notify-only")
                ));
                self.settled.insert(run_id);
                continue;
            }
            due.push((run_id, state));
        }
        Ok(due)
    }
}

/// Deliver the notifications still due of a run whose driver is gone, as `resume
/// --notify-only` delivers them, and say what was done (one line, and a line for each
/// warning): under the notification lease (a worker's seat's, or this process's own), the
/// notification commands its driver left running in this home ended first, then each due one
/// delivered and recorded before this returns (`notify::Deliverable::deliver`). A lease found
/// held by a live deliverer (one that came between the look and the claim) leaves them to it,
/// ending nothing.
pub fn deliver(ctx: &Ctx, state: &RunState) -> String {
    let mut ctx = ctx.clone();
    ctx.deliveries = super::Deliveries::Wait;
    // The process says it itself once they are delivered (a thread's "delivering…" on
    // stderr would interleave with its other lines).
    ctx.announce = None;
    let run_id = &state.run_id;
    let pending = ctx
        .store(crate::definition::Durability::Normal)
        .ok()
        .and_then(|store| super::notify::pending(&*store, state).ok())
        .unwrap_or_default();
    let count = pending.len();
    let redactor = crate::execute::Redactor::of_run(state);
    let warnings = match super::notify::deliverable(state, &redactor, &pending) {
        Ok(deliverable) => deliverable.deliver(&ctx),
        // Found lacking since the look (`Sweep::due`) that let it through: left due.
        Err(lacking) => {
            return format!(
                "{}\n",
                lacking.note(run_id, "process", "resume --notify-only")
            );
        }
    };
    let mut text = format!(
        "Run {run_id}: delivered {} still due (its driver ended before delivering {}); its status lists how each went.\n",
        crate::render::count(count, "notification"),
        if count == 1 { "it" } else { "them" }
    );
    for w in warnings {
        text.push_str(&format!("  warning: {w}\n"));
    }
    text
}

/// The state of `run_id` as the log stands: the fold `seen` kept of it caught up with what
/// was appended since (or, the first time, read from its snapshot), and kept again.
pub fn watched(
    store: &dyn EventStore,
    seen: &mut BTreeMap<String, RunState>,
    run_id: &str,
) -> Result<RunState, StoreError> {
    let state = match seen.remove(run_id) {
        Some(mut state) => {
            for rec in store.read_run_from(run_id, state.events)? {
                state = crate::decide::evolve(state, &rec);
            }
            state
        }
        // Read to its end just now.
        None => {
            let mut state = load_state(store, run_id)?;
            state.run_id = run_id.to_string();
            state
        }
    };
    seen.insert(run_id.to_string(), state.clone());
    Ok(state)
}

/// The sweep `cortex serve` runs beside its scheduler (`in_background`).
pub struct Sweeper {
    stop: Arc<AtomicBool>,
    /// The runs whose notifications it is delivering now.
    delivering: Arc<Mutex<BTreeSet<String>>>,
}

impl Sweeper {
    /// Take no new run, and give the deliveries under way up to `grace` to be recorded. One
    /// still under way then is left as a process that died leaves it: its lease lapses (or
    /// its holder is gone), and the next process to look delivers it again (at least once).
    pub fn stop(self, grace: Duration) {
        self.stop.store(true, Ordering::Relaxed);
        let until = Instant::now() + grace;
        while Instant::now() < until && !lock(&self.delivering).is_empty() {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Look for notifications still due every `SERVE_POLL` on a thread of its own, and deliver
/// each run's on a thread (`Sweep::due`, `deliver`), saying on `log` what was delivered (and
/// once, that the log cannot be read, until it can again). `cortex serve` runs it; a worker
/// looks in its own passes.
pub fn in_background(
    ctx: Ctx,
    log: impl Fn(&str) + Send + Sync + 'static,
) -> Result<Sweeper, crate::execute::thread::Refused> {
    let sweeper = Sweeper {
        stop: Arc::default(),
        delivering: Arc::default(),
    };
    let (stop, delivering) = (sweeper.stop.clone(), sweeper.delivering.clone());
    let log = Arc::new(log);
    crate::execute::thread::spawn("to deliver notifications left due", move || {
        // Every lease counts as another's: this process's own background deliveries (an
        // action's) hold theirs as any deliverer does, and the runs this sweep delivers are
        // in `delivering`.
        let mut sweep = Sweep::new("", "server");
        let mut unfinished: BTreeMap<String, RunState> = BTreeMap::new();
        let mut store: Option<Box<dyn EventStore>> = None;
        let mut failing = false;
        while !stop.load(Ordering::Relaxed) {
            let pass = (|| -> Result<(), String> {
                if store.is_none() {
                    store = ctx.reading_store().map_err(|e| e.message)?;
                }
                // No log yet: nothing can be due.
                let Some(reader) = store.as_deref() else {
                    return Ok(());
                };
                follow_unfinished(reader, &mut unfinished, &mut sweep)
                    .map_err(|e| e.to_string())?;
                let busy = |run_id: &str| lock(&delivering).contains(run_id);
                let due = sweep
                    .due(reader, &ctx.home, &unfinished, &busy, &mut |t| {
                        log(t.trim_end())
                    })
                    .map_err(|e| e.to_string())?;
                for (run_id, state) in due {
                    lock(&delivering).insert(run_id.clone());
                    let (ctx, log, delivering) = (ctx.clone(), log.clone(), delivering.clone());
                    let gone = (delivering.clone(), run_id.clone());
                    let started = crate::execute::thread::spawn(
                        "to deliver a run's notifications",
                        move || {
                            log(deliver(&ctx, &state).trim_end());
                            lock(&delivering).remove(&run_id);
                        },
                    );
                    // No thread for it (`ulimit -u`): still due, looked at again next pass.
                    if let Err(refused) = started {
                        lock(&gone.0).remove(&gone.1);
                        return Err(refused.to_string());
                    }
                }
                Ok(())
            })();
            match pass {
                Ok(()) if failing => {
                    failing = false;
                    log("the event log answers again; looking for notifications still due");
                }
                Ok(()) => {}
                Err(e) => {
                    // Opened again next pass (PostgreSQL restarted, a log made meanwhile).
                    store = None;
                    if !failing {
                        failing = true;
                        log(&format!(
                            "cannot look for notifications still due ({e}); trying again every {} s",
                            SERVE_POLL.as_secs()
                        ));
                    }
                }
            }
            std::thread::sleep(SERVE_POLL);
        }
    })?;
    Ok(sweeper)
}

/// Keep `unfinished` the folds of the log's unfinished runs, caught up; the runs that left
/// the list since the last look are told to `sweep` (they finished).
fn follow_unfinished(
    store: &dyn EventStore,
    unfinished: &mut BTreeMap<String, RunState>,
    sweep: &mut Sweep,
) -> Result<(), StoreError> {
    let listed: BTreeSet<String> = store
        .list_runs(&RunQuery {
            unfinished: true,
            ..RunQuery::kind(None)
        })?
        .into_iter()
        .map(|e| e.run_id)
        .collect();
    sweep.finished(
        unfinished
            .keys()
            .filter(|id| !listed.contains(*id))
            .cloned(),
    );
    unfinished.retain(|id, _| listed.contains(id));
    for run_id in &listed {
        // A run that cannot be read now is read next pass.
        let _ = watched(store, unfinished, run_id);
    }
    Ok(())
}
