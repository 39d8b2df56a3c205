//! Where a driver's ready units run: the seam between deciding what is ready and the
//! transports that run it — threads of this process, or workers that claim units of a run
//! under leases (`cortex worker`), any of which may be the run's driver.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use super::lease::LeaseKeeper;
use super::{Journal, JournalError};
use crate::decide::{Command, StepStatus};
use crate::definition::tags_cover;
use crate::store::{DRIVER_UNIT, Lease, LeaseClaim};

/// How a driver dispatches its ready units.
#[derive(Clone, Default)]
pub struct Dispatch {
    /// The tags this driver offers (a worker's `--tags`; none for a driver started by a
    /// command): it runs only units whose `runs_on:` they cover, and leaves the others to
    /// workers that offer them.
    pub tags: Vec<String>,
    /// Driving as one of a team of workers: every unit is claimed under a lease before it
    /// starts here, and others may claim the run's units too. None: this driver runs every
    /// unit it may itself, without leases.
    pub shared: Option<Arc<Shared>>,
}

/// A worker's seat: who it is, its leases and its capacity.
pub struct Shared {
    /// `worker:NAME pid N`: the holder of its leases.
    pub holder: String,
    /// The worker's name (recorded on the attempts it claims).
    pub worker: String,
    pub host: String,
    pub lease_ms: u64,
    pub keeper: LeaseKeeper,
    pub slots: Slots,
    /// Raised on SIGTERM: no new unit starts; what runs finishes, and runs are handed back.
    pub draining: AtomicBool,
    /// Raised on a second SIGTERM (or SIGINT) while draining: what runs here ends now (TERM
    /// to its command's group, KILL after its grace), each attempt recorded interrupted with
    /// this worker's words, and the runs it drives handed back (`ENDING_WORDS`).
    pub ending: AtomicBool,
    /// How many results of the runs this worker drove (their own attempts, run in its
    /// drivers) came late and were recorded rejected: its closing summary counts them with
    /// the rejected results of the units it ran for others' runs.
    pub rejected: std::sync::atomic::AtomicU64,
    /// How many attempts this worker claimed (`claim_unit` won its lease and recorded the
    /// claim): the units it ran, of others' runs and of the runs it drives. Counted when the
    /// claim is won, never when one is only tried (a claim lost to another worker runs
    /// nothing here).
    pub claimed: std::sync::atomic::AtomicU64,
}

/// Why an attempt a stopping worker ended (a second stop signal while it drained) ends: it
/// runs again wherever its run is taken next.
pub const ENDING_WORDS: &str =
    "the worker is stopping (a second stop signal while it drained): the attempt runs again";

impl Dispatch {
    /// Whether this driver may run a unit that asks for `runs_on`.
    pub fn may_run(&self, runs_on: &[String]) -> bool {
        tags_cover(&self.tags, runs_on)
    }

    /// Whether no new unit may start (a worker draining).
    pub fn draining(&self) -> bool {
        self.shared
            .as_ref()
            .is_some_and(|s| s.draining.load(Ordering::Relaxed))
    }

    /// Whether what runs here ends now (a worker told to stop a second time while draining).
    pub fn ending(&self) -> bool {
        self.shared
            .as_ref()
            .is_some_and(|s| s.ending.load(Ordering::Relaxed))
    }
}

impl Shared {
    /// A claim on `unit` (attempt `attempt`) of `run_id` by this worker.
    pub fn claim(&self, run_id: &str, unit: &str, attempt: u32) -> LeaseClaim {
        LeaseClaim {
            run_id: run_id.to_string(),
            unit: unit.to_string(),
            attempt,
            holder: self.holder.clone(),
            host: self.host.clone(),
            ttl_ms: self.lease_ms,
        }
    }
}

/// How many units a worker may run at once (`--concurrency`).
pub struct Slots {
    free: Mutex<usize>,
}

impl Slots {
    pub fn new(n: usize) -> Slots {
        Slots {
            free: Mutex::new(n.max(1)),
        }
    }

    /// Take a slot if one is free.
    pub fn try_take(&self) -> bool {
        let mut free = self.free.lock().unwrap_or_else(|e| e.into_inner());
        if *free == 0 {
            return false;
        }
        *free -= 1;
        true
    }

    pub fn give(&self) {
        *self.free.lock().unwrap_or_else(|e| e.into_inner()) += 1;
    }

    pub fn free(&self) -> usize {
        *self.free.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Claim the next attempt of ready unit `index` of the journal's run for `shared` and record
/// its start: the lease and the events appended (what was staged, then the start), or none if
/// another claimed it first or it is no longer ready (then nothing is held or recorded, and
/// what was staged stays staged).
pub fn claim_unit(
    journal: &mut Journal<'_>,
    shared: &Shared,
    index: usize,
) -> Result<Option<(Lease, Vec<crate::event::Recorded>)>, JournalError> {
    let name = journal.state.steps[index].name.clone();
    let claim = shared.claim(&journal.run_id, &name, journal.state.next_attempt(index));
    // The lease first, then one append: what the driver staged (a resume, its checks) rides
    // with the attempt's start.
    let Some(lease) = journal.with_leases(|store| store.claim_lease(&claim))? else {
        return Ok(None);
    };
    // Kept from its claim on, not from after the append: a keeper's round that starts in
    // between would tell the guard this lease lasts from then (`guard`, self-fencing).
    shared.keeper.keep(lease.clone());
    let started = journal.submit(Command::ClaimAttempt {
        step: name,
        worker: shared.worker.clone(),
        host: shared.host.clone(),
        epoch: lease.epoch,
    });
    match started {
        Ok(events) => {
            shared
                .claimed
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            Ok(Some((lease, events)))
        }
        Err(JournalError::Decide(_)) => {
            shared.keeper.forget(&lease);
            let _ = journal.with_leases(|store| store.release_lease(&lease));
            Ok(None)
        }
        Err(e) => {
            shared.keeper.forget(&lease);
            let _ = journal.with_leases(|store| store.release_lease(&lease));
            Err(e)
        }
    }
}

/// Record the end of a claimed attempt while its lease is still held, else record it as
/// rejected; then let the lease go. Returns the events appended and whether it was applied.
pub fn finish_unit(
    journal: &mut Journal<'_>,
    shared: &Shared,
    lease: &Lease,
    report: Box<crate::decide::AttemptReport>,
) -> Result<(Vec<crate::event::Recorded>, bool), JournalError> {
    let (step, attempt) = (report.step.clone(), report.attempt);
    end_unit(
        journal,
        shared,
        lease,
        (step, attempt),
        Command::FinishAttempt(report),
    )
}

/// Record a claimed attempt interrupted (`reason`: who ended it and why; it runs again) while
/// its lease is still held — the attempt this worker's guard ended for a lease it could not
/// renew (`AttemptOutcome::Fenced`) — else, its lease taken over meanwhile, as a late result
/// rejected; then let the lease go. Returns the events appended and whether it was applied.
pub fn interrupt_unit(
    journal: &mut Journal<'_>,
    shared: &Shared,
    lease: &Lease,
    reason: String,
) -> Result<(Vec<crate::event::Recorded>, bool), JournalError> {
    let (step, attempt) = (lease.unit.clone(), lease.attempt);
    let interrupt = Command::InterruptAttempt {
        step: step.clone(),
        attempt,
        reason,
    };
    end_unit(journal, shared, lease, (step, attempt), interrupt)
}

/// `finish_unit` and `interrupt_unit`: `end` appended while `lease` is held, else the
/// attempt's rejection; the lease forgotten by the keeper and let go however that went (a
/// worker never renews the lease of an attempt it no longer runs: before, an end that could
/// not be appended — the log unreachable — left the lease renewed for good, and the attempt
/// shown running on this worker with nothing behind it).
fn end_unit(
    journal: &mut Journal<'_>,
    shared: &Shared,
    lease: &Lease,
    (step, attempt): (String, u32),
    end: Command,
) -> Result<(Vec<crate::event::Recorded>, bool), JournalError> {
    let (worker, host) = (shared.worker.clone(), shared.host.clone());
    let reject = |reason: String| Command::RejectResult {
        step: step.clone(),
        attempt,
        worker: worker.clone(),
        host: host.clone(),
        reason,
    };
    let out = journal.flush().and_then(|flushed| {
        let out = match journal.submit_fenced(lease, end, reject) {
            // The lease held, but the attempt was ended meanwhile by someone else (an
            // operator's stop, the driver's pause or stop, a reaper): a late result, recorded
            // as rejected, never applied. A finished run is sealed: nothing can follow its end.
            Err(JournalError::Decide(refused))
                if !matches!(refused, crate::decide::DecideError::Finished(_)) =>
            {
                journal
                    .submit_unfenced(reject(format!(
                        "the attempt had already ended when its result came: {refused}"
                    )))
                    .map(|events| (events, false))
            }
            other => other,
        };
        out.map(|(events, applied)| ([flushed, events].concat(), applied))
    });
    shared.keeper.forget(lease);
    let _ = journal.with_leases(|store| store.release_lease(lease));
    out
}

/// End claimed attempts of the journal's run whose leases lapsed (their worker died, hung or
/// was cut off): each lease is taken over by `shared` (so a late result from its old holder
/// is fenced off), the attempt recorded interrupted with the worker and host that held it,
/// and the lease let go, so that the unit is ready again. A lapsed driver lease is left for
/// whoever takes the run. Returns the events appended.
pub fn reap_lapsed(
    journal: &mut Journal<'_>,
    shared: &Shared,
    orphans: bool,
) -> Result<Vec<crate::event::Recorded>, JournalError> {
    reap_lapsed_as(
        journal,
        (&shared.holder, &shared.host, shared.lease_ms),
        &|lease| shared.keeper.keeps(lease),
        orphans,
    )
}

/// `reap_lapsed` by a driver that is no worker (a command's, which offers no tags): the
/// lapsed leases of the workers that helped it are taken over as `holder` on `host`, for
/// `ttl_ms`, just long enough to record the attempt interrupted and let the lease go. A lapsed
/// lease of `holder`'s own is reaped too unless `runs_here` (an attempt a thread of this
/// process still runs, whose end it records itself): before, a worker never reaped its own,
/// and an attempt whose thread was gone (its end not recordable in an outage of the log) was
/// shown running on it for good.
pub fn reap_lapsed_as(
    journal: &mut Journal<'_>,
    (holder, host, ttl_ms): (&str, &str, u64),
    runs_here: &dyn Fn(&Lease) -> bool,
    orphans: bool,
) -> Result<Vec<crate::event::Recorded>, JournalError> {
    let mut events = journal.flush()?;
    let run_id = journal.run_id.clone();
    // The state was read before the leases: what it shows claimed and running had its lease
    // made before (a claim takes the lease, then appends).
    let leases = journal.nested(|store, _, _| store.leases(Some(&run_id)))?;
    let gone = match orphans {
        true => claims_without_lease(&journal.state, &leases),
        false => Vec::new(),
    };
    for (step, attempt, worker, claimed_on) in gone {
        // Taken as this reaper, on its own host (it was the orphan's host, `claimed_on`: a
        // left-over row read `worker:w2 … | host-w3`).
        let claim = LeaseClaim {
            run_id: run_id.clone(),
            unit: step.clone(),
            attempt,
            holder: holder.to_string(),
            host: host.to_string(),
            ttl_ms,
        };
        let Some(taken) = journal.nested(|store, _, _| store.claim_lease(&claim))? else {
            continue;
        };
        // Decided at the head: a no-op if the attempt ended meanwhile (its end appended, then
        // its lease let go, after this state was read).
        let interrupted = journal.submit(Command::InterruptAttempt {
            step,
            attempt,
            reason: format!(
                "the lease of {worker} on {claimed_on} is gone while its attempt was recorded running (nothing renews or ends it): the attempt runs again"
            ),
        });
        if !reaped(journal, &taken, interrupted, &mut events)? {
            return Ok(events);
        }
    }
    let lapsed: Vec<Lease> = leases
        .into_iter()
        .filter(|l| l.lapsed() && l.unit != DRIVER_UNIT && (l.holder != holder || !runs_here(l)))
        .collect();
    for old in lapsed {
        let claim = LeaseClaim {
            run_id: run_id.clone(),
            unit: old.unit.clone(),
            attempt: old.attempt,
            holder: holder.to_string(),
            host: host.to_string(),
            ttl_ms,
        };
        let Some(taken) = journal.nested(|store, _, _| store.claim_lease(&claim))? else {
            continue;
        };
        let running = journal
            .state
            .step(&old.unit)
            .is_some_and(|s| s.status == StepStatus::Running && s.attempts == old.attempt);
        let interrupted = match running {
            true => {
                let worker = old.holder.trim_start_matches("worker:");
                journal.submit(Command::InterruptAttempt {
                    step: old.unit.clone(),
                    attempt: old.attempt,
                    // The holder's own lease length is not this reaper's to know (each worker
                    // has its `--lease`): what is known is how long it has been overdue.
                    reason: format!(
                        "the lease of {worker} on {} lapsed (not renewed; {} ms overdue when found): the attempt runs again",
                        old.host,
                        old.remaining_ms.unsigned_abs()
                    ),
                })
            }
            false => Ok(Vec::new()),
        };
        if !reaped(journal, &taken, interrupted, &mut events)? {
            return Ok(events);
        }
    }
    Ok(events)
}

/// After a reaper recorded (or tried to record) a unit interrupted under the lease it took
/// over (`taken`): the lease is let go whatever the append said, and what was appended kept;
/// whether to go on reaping. A run found finished at the head (its last unit's end, and the
/// run's, appended after the reaper read it) has nothing left to reap: false, no error.
/// Before, the refusal returned early with the lease still held, leaving a row behind for a
/// finished run (and the worker's pass failed on it).
fn reaped(
    journal: &mut Journal<'_>,
    taken: &Lease,
    interrupted: Result<Vec<crate::event::Recorded>, JournalError>,
    events: &mut Vec<crate::event::Recorded>,
) -> Result<bool, JournalError> {
    let _ = journal.nested(|store, _, _| store.release_lease(taken));
    match interrupted {
        Ok(appended) => {
            events.extend(appended);
            Ok(true)
        }
        Err(JournalError::Decide(crate::decide::DecideError::Finished(_))) => Ok(false),
        Err(e) => Err(e),
    }
}

/// The attempts `state` shows running under a worker's claim whose unit has no lease at all
/// (`leases`, read after `state`): its lease was let go while the attempt was still recorded
/// running, so nothing renews it and no lapse will ever announce it. (step, attempt, worker,
/// host) of each. A claim's lease is made before its attempt's start is appended and let go
/// only after its end is (or after the reaper recorded it interrupted), so such an attempt
/// is either over already (ending it is a no-op at the head) or orphaned for good.
pub fn claims_without_lease(
    state: &crate::decide::RunState,
    leases: &[Lease],
) -> Vec<(String, u32, String, String)> {
    state
        .steps
        .iter()
        .filter(|s| s.status == StepStatus::Running && !leases.iter().any(|l| l.unit == s.name))
        .filter_map(|s| {
            let c = s.claimed.as_ref().filter(|c| c.attempt == s.attempts)?;
            Some((s.name.clone(), s.attempts, c.worker.clone(), c.host.clone()))
        })
        .collect()
}

/// The pid of `lease`'s holder if it is a process of this host (its holder is
/// `worker:NAME pid N` or `driver:ACTOR pid N`).
fn pid_here(lease: &Lease) -> Option<i32> {
    if lease.host != super::hostname() {
        return None;
    }
    let (_, pid) = lease.holder.rsplit_once(" pid ")?;
    pid.parse::<i32>().ok().filter(|pid| *pid > 0)
}

/// Whether the process `holder` (a run's lock note) is the holder of a driver lease among
/// `leases` that lapsed: frozen (SIGSTOP, Ctrl-Z) or cut off from the log past its lease. Its
/// lock no longer speaks for a live driver: the run is `interrupted`, and whoever claims the
/// lapsed lease (a worker, `resume`) takes the run over, breaking the lock
/// (`DriverLock::take_over`); the lease's epoch fences the old holder's appends.
pub fn lock_lapsed(leases: &[Lease], holder: &super::Holder) -> bool {
    holder.pid != 0
        && leases.iter().any(|l| {
            l.unit == DRIVER_UNIT
                && l.lapsed()
                && l.host == holder.host
                && l.holder
                    .rsplit_once(" pid ")
                    .is_some_and(|(_, pid)| pid.parse::<u32>().ok() == Some(holder.pid))
        })
}

/// Who holds `run_id`'s lock in `home` as a live driver: the lock's holder, unless its driver
/// lease lapsed (`lock_lapsed`).
pub fn live_lock(
    home: &std::path::Path,
    store: &dyn crate::store::EventStore,
    run_id: &str,
) -> Option<super::Holder> {
    let holder = super::DriverLock::probe(home, run_id)?;
    match store.leases(Some(run_id)) {
        Ok(leases) if lock_lapsed(&leases, &holder) => None,
        _ => Some(holder),
    }
}

/// Whether `lease` is held by a process of this host that is gone (killed before it let go).
/// A holder on another host, or whose pid cannot be read, is taken at its lease's word.
pub fn holder_gone(lease: &Lease) -> bool {
    pid_here(lease).is_some_and(|pid| !super::procinfo::running(pid))
}

/// `leases` without the driver leases of processes of this host that are gone (killed
/// before they let go): nobody's, so status names no driver from them. Before, a status on
/// PostgreSQL named a SIGKILLed command's driver under its phase (`worker: "driver … pid N"`)
/// while the same run on SQLite named none.
pub fn without_gone_drivers(leases: &[Lease]) -> Vec<Lease> {
    leases
        .iter()
        .filter(|l| !(l.unit == DRIVER_UNIT && holder_gone(l)))
        .cloned()
        .collect()
}

/// `view` with the run's `leases` (read before the log it was made from): which running
/// units a live lease holds (`StatusView::with_leases`), a lease of a process of this host
/// that is gone (killed before it let go) holding none of them, and which orphaned units
/// such a process held (`StatusView::with_gone_holders`: "whose process is gone", not
/// "whose lease lapsed" while it has time left).
pub fn with_run_leases(
    view: crate::project::StatusView,
    leases: &[Lease],
) -> crate::project::StatusView {
    let (gone, live): (Vec<Lease>, Vec<Lease>) = leases.iter().cloned().partition(holder_gone);
    let gone: Vec<(String, u32)> = gone.into_iter().map(|l| (l.unit, l.attempt)).collect();
    view.with_leases(&live).with_gone_holders(&gone)
}

/// The live driver lease of `run_id` that this process's lock cannot see, if any: held from
/// another host, or from this host by a live process of another home (a worker or driver
/// whose `CORTEX_HOME` is not this one takes its lock there, not here). A lease of a process
/// of this host that is gone is nobody's, and this process's own is not another's.
pub fn driven_elsewhere(store: &dyn crate::store::EventStore, run_id: &str) -> Option<Lease> {
    store
        .leases(Some(run_id))
        .ok()?
        .into_iter()
        .find(drives_elsewhere)
}

/// Whether `lease` is a live driver lease this process's lock cannot see (`driven_elsewhere`).
fn drives_elsewhere(lease: &Lease) -> bool {
    lease.unit == DRIVER_UNIT
        && !lease.lapsed()
        && !holder_gone(lease)
        && pid_here(lease) != Some(std::process::id() as i32)
}

/// Whether a live process drives `run_id`: one on this host (its lock), or one on another
/// host (its lease).
pub fn driver_alive(
    home: &std::path::Path,
    store: &dyn crate::store::EventStore,
    run_id: &str,
) -> bool {
    driver_alive_with(home, run_id, store.leases(Some(run_id)).ok().as_deref())
}

/// `driver_alive` with the leases of the run already read (None: they could not be, and a
/// lock then stands for its holder): for a reader that asks it of many runs at once with one
/// read of every lease (`serve`'s runs stream).
pub fn driver_alive_with(home: &std::path::Path, run_id: &str, leases: Option<&[Lease]>) -> bool {
    let locked = super::DriverLock::probe(home, run_id)
        .is_some_and(|holder| !leases.is_some_and(|leases| lock_lapsed(leases, &holder)));
    locked
        || leases.is_some_and(|leases| {
            leases
                .iter()
                .any(|l| l.run_id == run_id && drives_elsewhere(l))
        })
}

/// Who drives the run of `state` now, if anyone: the live holder of its lock in this home
/// (`live_lock`), a live driver lease held elsewhere (`driven_elsewhere`: another host, or
/// another home on this host), or — where this home has no lock file for the run — the
/// driver its log names for a session still open, alive on this host (`live_recorded_driver`:
/// a lock in another home, a lock file deleted, a log copied from under a live driver). The
/// one rule of "is it driven": `status` (through `load_live`) and `resume` (its dry run here;
/// the resume itself refuses by the same three once it took the lock,
/// `drive::not_driven_elsewhere`, which asks the log only for a lock file it made) and
/// `log copy` all ask it, so a run is never shown `interrupted`, to resume, while `resume`
/// refuses it as held. (A lock file whose holder's driver lease lapsed — a frozen driver —
/// is broken by the next driver, who asks the log nothing: such a run is not held.)
pub fn run_holder(
    home: &std::path::Path,
    store: &dyn crate::store::EventStore,
    state: &crate::decide::RunState,
) -> Option<super::Holder> {
    live_lock(home, store, &state.run_id)
        .or_else(|| driven_elsewhere(store, &state.run_id).map(lease_holder))
        .or_else(|| {
            (!super::DriverLock::has_file(home, &state.run_id))
                .then(|| super::live_recorded_driver(store, state))
                .flatten()
        })
}

/// The holder a driver lease held elsewhere names (no pid of this host to signal).
fn lease_holder(lease: Lease) -> super::Holder {
    super::Holder {
        pid: 0,
        host: lease.host,
        actor: lease.holder,
        since: format!("its lease has {} ms left", lease.remaining_ms),
        shared: false,
    }
}

/// A run's state and whether a live driver holds it, as of one moment: the state is read
/// first and the driver probed after, so a driver that ended in between (it appended its last
/// events, then let go of the run) would leave an unfinished state beside no driver, shown as
/// `interrupted` while nothing was cut short. A driver appends everything before it lets go,
/// so when no driver holds the run, the events appended since the read are folded in and the
/// probe made again until the log stands still: the state is then the one no driver held.
pub fn load_live(
    home: &std::path::Path,
    store: &dyn crate::store::EventStore,
    run_id: &str,
) -> Result<(crate::decide::RunState, bool), crate::store::StoreError> {
    load_probed(store, run_id, |state| {
        run_holder(home, store, state).is_some()
    })
}

/// `load_live`, checking what it reads (`snapshot::load_state_checked`): also the first
/// problem found — an event that does not verify, or a run index that contradicts the head.
pub fn load_live_checked(
    home: &std::path::Path,
    store: &dyn crate::store::EventStore,
    run_id: &str,
) -> Result<
    (
        crate::decide::RunState,
        bool,
        Option<crate::store::BadEvent>,
    ),
    crate::store::StoreError,
> {
    let (mut state, mut verifier) = super::load_state_checked(store, run_id)?;
    let alive = loop {
        if run_holder(home, store, &state).is_some() {
            break true;
        }
        let seen = state.events;
        state = super::fold_log_checked(store, run_id, seen, state, &mut verifier)?;
        if state.events == seen {
            break false;
        }
    };
    let problem = super::read_problem(store, run_id, &state, &verifier)?;
    Ok((state, alive, problem))
}

/// `load_live` with the probe given (`driver_alive` there).
fn load_probed(
    store: &dyn crate::store::EventStore,
    run_id: &str,
    mut alive: impl FnMut(&crate::decide::RunState) -> bool,
) -> Result<(crate::decide::RunState, bool), crate::store::StoreError> {
    let mut state = super::load_state(store, run_id)?;
    loop {
        if alive(&state) {
            return Ok((state, true));
        }
        let seen = state.events;
        state = super::fold_log(store, run_id, seen, state)?;
        if state.events == seen {
            return Ok((state, false));
        }
    }
}

/// Take the run's lock on this host, unless a driver on another host holds its lease (then
/// it is held, as by a local driver).
pub fn acquire_run(
    home: &std::path::Path,
    store: &dyn crate::store::EventStore,
    run_id: &str,
    holder: &super::Holder,
) -> Result<super::DriverLock, super::LockError> {
    // A lock whose holder's driver lease lapsed is broken: the lease, claimed next by this
    // driver (or by whoever claims it first), decides who drives.
    let lock = super::DriverLock::take_over(home, run_id, holder, |old| {
        store
            .leases(Some(run_id))
            .is_ok_and(|leases| lock_lapsed(&leases, old))
    })?;
    match driven_elsewhere(store, run_id) {
        None => Ok(lock),
        Some(lease) => Err(super::LockError::Held {
            run_id: run_id.to_string(),
            holder: Some(lease_holder(lease)),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::definition::Durability;
    use crate::event::{Event, NewEvent, RunKind, RunStarted};
    use crate::execute::{FixedClock, SequentialIds};
    use crate::store::{EventStore, MemoryStore, SqliteStore};

    fn event(n: u32, event: Event) -> NewEvent {
        NewEvent {
            id: format!("E{n}"),
            time: "2026-01-01T00:00:00.000Z".into(),
            event,
        }
    }

    /// A lock speaks for a driver whose driver lease lapsed only when the lease names the
    /// lock's holder (its pid and host); a lease still running, a unit's, or another
    /// process's leaves the lock standing.
    #[test]
    fn a_lock_lapses_with_its_holders_driver_lease_only() {
        let holder = super::super::Holder {
            pid: 4242,
            host: "a".into(),
            actor: "worker:A".into(),
            since: "now".into(),
            shared: true,
        };
        let lease = |unit: &str, who: &str, host: &str, remaining_ms: i64| Lease {
            run_id: "0000000000000000000000000R".into(),
            unit: unit.into(),
            attempt: 0,
            holder: who.into(),
            host: host.into(),
            epoch: 1,
            remaining_ms,
        };
        assert!(lock_lapsed(
            &[lease(DRIVER_UNIT, "worker:A pid 4242", "a", -5)],
            &holder
        ));
        assert!(!lock_lapsed(
            &[lease(DRIVER_UNIT, "worker:A pid 4242", "a", 500)],
            &holder
        ));
        assert!(!lock_lapsed(
            &[lease("p", "worker:A pid 4242", "a", -5)],
            &holder
        ));
        assert!(!lock_lapsed(
            &[lease(DRIVER_UNIT, "worker:A pid 4243", "a", -5)],
            &holder
        ));
        assert!(!lock_lapsed(
            &[lease(DRIVER_UNIT, "worker:A pid 4242", "b", -5)],
            &holder
        ));
        assert!(!lock_lapsed(&[], &holder));
    }

    /// A log in memory, its clock and its ids.
    fn in_memory() -> (MemoryStore, FixedClock, SequentialIds) {
        (
            MemoryStore::new(),
            FixedClock::new(1_800_000_000_000),
            SequentialIds::default(),
        )
    }

    /// The journal of a scenario run `R` (one phase `a`, `run: 'true'`) that has started and
    /// passed its checks, on `store`.
    fn started_scenario<'a>(
        store: &'a mut MemoryStore,
        clock: &'a FixedClock,
        ids: &'a mut SequentialIds,
    ) -> Journal<'a> {
        use crate::definition::{parse_scenario, snapshot};
        let scenario = parse_scenario(
            "one.yaml",
            "name: one\ndescription: d\nphases:\n  - {name: a, description: a, run: 'true'}\n",
        )
        .unwrap();
        let (definition, hash) = snapshot(&scenario);
        let mut journal = Journal::open(store, clock, ids, "0000000000000000000000000R").unwrap();
        let start = RunStarted::for_test(RunKind::Scenario, "one", definition, hash);
        journal.submit(Command::Start(Box::new(start))).unwrap();
        journal
            .submit(Command::RecordPreValidation { problems: vec![] })
            .unwrap();
        journal
    }

    /// Phase `a`'s attempt 1 claimed by worker `worker` on `host`: its lease, then its claim
    /// appended, as a worker claims it (`claim_unit`). The lease.
    fn claimed(journal: &mut Journal<'_>, worker: &str, host: &str) -> Lease {
        claimed_for(journal, worker, host, 60_000)
    }

    /// `claimed`, the lease granted for `ttl_ms` (0: lapsed at once).
    fn claimed_for(journal: &mut Journal<'_>, worker: &str, host: &str, ttl_ms: u64) -> Lease {
        let claim = LeaseClaim {
            run_id: "0000000000000000000000000R".into(),
            unit: "a".into(),
            attempt: 1,
            holder: format!("worker:{worker} pid 1"),
            host: host.into(),
            ttl_ms,
        };
        let lease = journal
            .with_leases(|s| s.claim_lease(&claim))
            .unwrap()
            .unwrap();
        journal
            .submit(Command::ClaimAttempt {
                step: "a".into(),
                worker: worker.into(),
                host: host.into(),
                epoch: lease.epoch,
            })
            .unwrap();
        lease
    }

    /// Run `test` on the journal of `started_scenario`, on a log in memory.
    fn with_started_scenario(test: impl FnOnce(&mut Journal<'_>)) {
        let (mut store, clock, mut ids) = in_memory();
        test(&mut started_scenario(&mut store, &clock, &mut ids));
    }

    /// A driver that lost its lease with only decisions staged (no result) still records the
    /// late result it owes as rejected: the fenced flush drops what it staged. Before, the
    /// staged decision kept the fence on every later append, and the rejection of the phase it
    /// ran was never recorded.
    #[test]
    fn a_fenced_driver_with_decisions_staged_still_records_a_late_result_rejected() {
        with_started_scenario(|journal| {
            let claim = |holder: &str, ttl_ms: u64| LeaseClaim {
                run_id: "0000000000000000000000000R".into(),
                unit: DRIVER_UNIT.into(),
                attempt: 0,
                holder: holder.into(),
                host: "here".into(),
                ttl_ms,
            };
            // The driver's lease, lapsed at once, and taken over by another.
            let mine = journal
                .with_leases(|s| s.claim_lease(&claim("worker:g pid 1", 0)))
                .unwrap()
                .unwrap();
            journal.fence(mine);
            journal
                .with_leases(|s| s.claim_lease(&claim("worker:r pid 2", 60_000)))
                .unwrap()
                .expect("taken over once lapsed");
            journal
                .stage(Command::Pause {
                    reason: "a decision".into(),
                })
                .unwrap();
            assert!(matches!(journal.flush(), Err(JournalError::Fenced(_))));
            assert!(!journal.has_staged(), "what was staged is dropped");
            let rejected = journal
                .reject_late("a", 1, "its lease changed hands")
                .unwrap();
            assert!(
                rejected
                    .iter()
                    .any(|r| r.event.type_name() == "attempt_rejected"),
                "{:?}",
                rejected
                    .iter()
                    .map(|r| r.event.type_name())
                    .collect::<Vec<_>>()
            );
        });
    }

    /// A phase a worker claimed whose lease was let go while the log still shows its attempt
    /// running (the way a driver woken from a pause once recorded a result with the wrong
    /// lease) is recorded interrupted by the reaper, so it runs again; one whose lease is held
    /// is left alone. Before, only a lapsed lease was reaped: this one stayed orphaned.
    #[test]
    fn a_claimed_attempt_whose_lease_is_gone_is_reaped() {
        with_started_scenario(|journal| {
            let lease = claimed(journal, "w", "far");
            let reap = |journal: &mut Journal<'_>| {
                reap_lapsed_as(
                    journal,
                    ("driver:me pid 2", "here", 10_000),
                    &|_| false,
                    true,
                )
                .unwrap()
            };
            let held = reap(journal);
            assert!(held.is_empty(), "a held lease is left alone");
            assert_eq!(journal.state.steps[0].status, StepStatus::Running);
            journal.with_leases(|s| s.release_lease(&lease)).unwrap();
            let reaped = reap(journal);
            assert!(
            reaped.iter().any(|r| matches!(
                &r.event,
                Event::StepInterrupted { step, attempt: 1, reason } if step == "a" && reason.contains("w on far")
            )),
            "{:?}",
            reaped.iter().map(|r| r.event.type_name()).collect::<Vec<_>>()
        );
            assert_ne!(journal.state.steps[0].status, StepStatus::Running);
            let again = reap(journal);
            assert!(again.is_empty(), "reaped once");
        });
    }

    /// A lapsed lease of the reaper's own holder is reaped too — its attempt recorded
    /// interrupted, to run again — unless the reaper still runs that attempt (its keeper
    /// renews the lease: `runs_here`). Seen by a review: a worker whose phase's end could not
    /// be recorded in an outage of the log never reaped its own lease, and the phase was shown
    /// running on it for good.
    #[test]
    fn a_reaper_reaps_its_own_lapsed_lease_unless_it_still_runs_the_attempt() {
        with_started_scenario(|journal| {
            let lease = claimed_for(journal, "w", "here", 0);
            let me = ("worker:w pid 1", "here", 10_000);
            let runs_it = |l: &Lease| l.same_holding(&lease);
            let kept = reap_lapsed_as(journal, me, &runs_it, true).unwrap();
            assert!(
                kept.is_empty(),
                "an attempt it still runs is its own to end"
            );
            assert_eq!(journal.state.steps[0].status, StepStatus::Running);
            let reaped = reap_lapsed_as(journal, me, &|_| false, true).unwrap();
            assert!(
                reaped.iter().any(|r| matches!(
                    &r.event,
                    Event::StepInterrupted { step, attempt: 1, .. } if step == "a"
                )),
                "{:?}",
                reaped
                    .iter()
                    .map(|r| r.event.type_name())
                    .collect::<Vec<_>>()
            );
            assert_ne!(journal.state.steps[0].status, StepStatus::Running);
            let left = journal
                .with_leases(|s| s.leases(Some("0000000000000000000000000R")))
                .unwrap();
            assert!(left.is_empty(), "its lease is let go: {left:?}");
        });
    }

    /// Seen by a review: a unit lease left behind for a finished run (`worker:w2 … |
    /// host-w3`, attempt 2, epoch 1). A reaper that read a unit running whose lease is gone,
    /// the run finished since (the unit's end, and the run's, appended after the read), takes
    /// the lease on its own host, records nothing, lets it go and fails nothing. Before, the
    /// refusal of the finished run returned early with the lease held (on the unit's host),
    /// and the reaping worker's pass failed.
    #[test]
    fn a_reaper_that_finds_the_run_finished_lets_the_lease_it_took_go() {
        use crate::event::Operator;
        let (mut store, clock, mut ids) = in_memory();
        let stale = {
            let mut journal = started_scenario(&mut store, &clock, &mut ids);
            let lease = claimed(&mut journal, "w3", "host-w3");
            // What the reaper read: `a` running under a claim.
            let stale = journal.state.clone();
            // Then the run ends and the unit's lease is let go, before the reaper reads the
            // leases.
            journal
                .submit(Command::Abort {
                    by: Operator {
                        actor: "op".into(),
                        message: None,
                    },
                    cut_off: None,
                })
                .unwrap();
            assert!(journal.state.outcome().is_some());
            journal.with_leases(|s| s.release_lease(&lease)).unwrap();
            stale
        };
        let mut reaper = Journal::from_state(&mut store, &clock, &mut ids, stale).unwrap();
        let reaped = reap_lapsed_as(
            &mut reaper,
            ("worker:w2 pid 2", "host-w2", 10_000),
            &|_| false,
            true,
        )
        .expect("a finished run is nothing to reap, no error");
        assert!(reaped.is_empty(), "nothing recorded");
        let left = reaper
            .with_leases(|s| s.leases(Some("0000000000000000000000000R")))
            .unwrap();
        assert!(left.is_empty(), "no lease left behind: {left:?}");
    }

    /// A driver that appends its last event and lets go of the run between the read and the
    /// probe is not shown as a run nobody drives in the middle of something: the state
    /// returned beside "no driver" has what it appended (here its stop).
    #[test]
    fn a_driver_that_ends_between_the_read_and_the_probe_leaves_its_last_events_in_the_state() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cortex.db");
        let mut writer = SqliteStore::open(&path, Durability::Normal).unwrap();
        let started = RunStarted::for_test(
            RunKind::Workflow,
            "w",
            serde_json::json!({"name": "w", "steps": []}),
            String::new(),
        );
        writer
            .append(
                "0000000000000000000000000R",
                0,
                &[event(0, Event::RunStarted(Box::new(started)))],
            )
            .unwrap();
        let reader = SqliteStore::open_read(&path).unwrap();
        let mut probes = 0;
        let (state, alive) = load_probed(&reader, "0000000000000000000000000R", |_| {
            probes += 1;
            if probes == 1 {
                // The driver ends here: its last append, then it lets go.
                writer
                    .append(
                        "0000000000000000000000000R",
                        1,
                        &[event(1, Event::RunStopped { time_limit: None })],
                    )
                    .unwrap();
            }
            false
        })
        .unwrap();
        assert!(!alive);
        assert_eq!(
            state.events, 2,
            "the stop appended before the probe is folded in"
        );
        assert_eq!(state.phase, crate::decide::RunPhase::Stopped);
        assert_eq!(probes, 2, "probed again once the log stood still");
        // A driver that holds the run when probed: the state read, and alive.
        let (state, alive) = load_probed(&reader, "0000000000000000000000000R", |_| true).unwrap();
        assert!(alive);
        assert_eq!(state.events, 2);
    }
}
