//! `cortex worker`: a process on any host that reaches the log, taking runs whose driver is
//! gone and units of runs other workers drive, under leases, until SIGTERM drains it.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use serde_json::json;

use super::drive::Live;
use super::notify_sweep::{Sweep, watched};
use super::{CommandError, Ctx, Output, exit, hostname};
use crate::decide::{Command, RunState, StepStatus};
use crate::definition::limits::{DurationRange, WORKER_LEASE, WORKER_POLL};
use crate::definition::{Durability, tags_cover};
use crate::event::Operator;
use crate::execute::{
    Dispatch, DriverLock, Journal, JournalError, LeaseKeeper, Quiet, Runner, Shared, Slots,
    StopFlag, SystemClock, UlidIds, claim_unit, finish_unit, holder_gone, interrupt_unit,
    reap_lapsed,
};
use crate::plan::ready_phases;
use crate::store::{DRIVER_UNIT, EventStore, Listener, RunQuery, StoreError};

/// How soon a worker looks again at a submitted run whose submitter still holds its lock.
const SOON: Duration = Duration::from_millis(2);

/// How often a waiting worker looks whether one of its threads is done.
const THREAD_SLICE: Duration = Duration::from_millis(20);

/// What `cortex worker` was asked for.
pub struct WorkerOptions {
    /// Its name (default: HOST-PID).
    pub name: Option<String>,
    pub tags: Vec<String>,
    /// How many units it runs at once.
    pub concurrency: usize,
    pub lease: Duration,
    /// How often it looks for work when nothing wakes it.
    pub poll: Duration,
    /// Exit once nothing is left for it (CI: drain what was submitted, then go on).
    pub until_idle: bool,
    /// The values of secret inputs it is given for every run it takes (`--input NAME=VALUE`),
    /// as `CORTEX_INPUT_<NAME>` in its environment gives them.
    pub inputs: Vec<(String, String)>,
}

/// A duration flag of `cortex worker` (`--lease`, `--poll`) inside its documented range.
pub fn flag(range: &DurationRange, text: &str) -> Result<Duration, CommandError> {
    range.check_flag(text).map_err(|e| {
        CommandError::bad_input(e).hint(format!(
            "write {} with a duration {}",
            range.field, range.text
        ))
    })
}

/// A unit this worker runs for a run another process drives, as its loop watches it: the
/// attempt's command is ended (`stop`) once the run is stopping, aborted or over, or the
/// attempt was ended by someone else; `why` says which.
struct Watch {
    run_id: String,
    unit: String,
    attempt: u32,
    stop: StopFlag,
    why: Arc<std::sync::Mutex<Option<String>>>,
}

/// The units this worker runs for others' runs, by `RUN/UNIT`.
type Watches = Arc<std::sync::Mutex<std::collections::BTreeMap<String, Watch>>>;

/// Why an attempt a worker runs for `state`'s driver must end now, if it must: the run is
/// being stopped or aborted, is stopped or over, or `unit`'s attempt `attempt` is no longer
/// the one running (an operator or the driver ended it).
fn must_end(state: &RunState, unit: &str, attempt: u32) -> Option<String> {
    if let Some(outcome) = state.outcome() {
        return Some(format!("the run {}", outcome.as_str()));
    }
    if let Some(by) = &state.abort_requested {
        return Some(format!("the run is being aborted by {}", by.actor));
    }
    if state.stop_requested || state.phase == crate::decide::RunPhase::Stopped {
        return Some("the run is being stopped".into());
    }
    let current = state
        .step(unit)
        .is_some_and(|s| s.status == StepStatus::Running && s.attempts == attempt);
    (!current).then(|| format!("its attempt {attempt} was ended in the log"))
}

/// Look at the runs whose units this worker runs for their drivers (what was appended since
/// it last looked) and end the attempts that must end (`must_end`): a stop or an abort of a
/// run reaches its phases on every worker, not only the driver's own.
fn look_after(
    store: &dyn EventStore,
    seen: &mut std::collections::BTreeMap<String, RunState>,
    watches: &Watches,
) {
    let watching: Vec<(String, String, u32)> = lock(watches)
        .iter()
        .filter(|(_, w)| !w.stop.is_set())
        .map(|(key, w)| (key.clone(), w.run_id.clone(), w.attempt))
        .collect();
    let mut states: std::collections::BTreeMap<String, RunState> = Default::default();
    for (key, run_id, attempt) in watching {
        if !states.contains_key(&run_id) {
            let Ok(state) = watched(store, seen, &run_id) else {
                continue;
            };
            states.insert(run_id.clone(), state);
        }
        let state = &states[&run_id];
        let mut all = lock(watches);
        let Some(w) = all.get_mut(&key) else { continue };
        if let Some(why) = must_end(state, &w.unit, attempt) {
            *w.why.lock().unwrap_or_else(|e| e.into_inner()) = Some(why);
            w.stop.set(nix::sys::signal::Signal::SIGTERM as i32);
        }
    }
}

fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// What a thread of the worker tells its loop when it is done.
struct Done {
    /// What it had in hand.
    key: InHand,
    text: String,
    applied: bool,
    /// The run is over: nothing to look at again.
    over: bool,
    /// Whether it delivered the notifications still due of a run whose driver was gone.
    notified: bool,
}

/// Run a worker until `live.stop` is raised (SIGTERM, SIGINT): then it takes nothing new,
/// lets what it runs finish, hands back the runs it drives, and returns a summary. Raised a
/// second time (`StopFlag::repeated`) while it drains, it ends what it runs instead, each
/// attempt recorded interrupted and each run handed back, then returns.
pub fn work(ctx: &Ctx, opts: WorkerOptions, live: &mut Live<'_>) -> Result<Output, CommandError> {
    let name = opts
        .name
        .clone()
        .unwrap_or_else(|| format!("{}-{}", hostname(), std::process::id()));
    if let Some(problem) = crate::definition::tag_problem(&name) {
        return Err(CommandError::bad_input(format!(
            "--name `{}`: {}",
            crate::definition::shown(&name),
            problem
                .replace("worker tag", "worker name")
                .replace("tags are", "names are")
                .replace("tags begin", "names begin")
        ))
        .hint("name a worker with letters, digits, `-`, `_`, `.` or `:`, not starting with `-`"));
    }
    // Its name is everywhere a worker is seen — the lock files and lease holders of the runs
    // it drives, the "held by" errors other users get, its own output — and it is the identity
    // a lease is kept under: one holding a secret is refused (never quoted), not scrubbed,
    // since two workers whose names differed only in their secrets would share one name.
    if opts.name.is_some()
        && matches!(
            crate::execute::Redactor::of_process().redact(&name),
            std::borrow::Cow::Owned(_)
        )
    {
        return Err(CommandError::bad_input(
            "--name holds the value of a secret this process knows (a variable whose name holds TOKEN, SECRET or PASSWORD, a `CORTEX_INPUT_<NAME>`, or the server's token); a worker's name is shown to everyone who shares the log, in the lock files and leases of the runs it drives",
        )
        .hint("name the worker without the secret, e.g. --name build-1 (the default is HOST-PID)"));
    }
    // A suggested worker's `--input NAME=VALUE` pasted as it stands is refused (exit 2), as
    // every suggestion's placeholder is: the run needs the value, not the word.
    super::refuse_placeholders(ctx, &opts.inputs, "input")?;
    crate::execute::give_secret_inputs(
        opts.inputs
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str())),
    );
    // It drives many runs at once: the runs it holds say so, so that an abort of one never
    // signals the worker (SIGTERM would drain it and hand every other run back); the run's
    // driver here reads the abort in the log and ends that run alone (`Holder::shared`).
    crate::execute::serve_many();
    let location = ctx.location()?;
    let mut store = ctx.store(Durability::Normal)?;
    // Before anything runs: what this worker starts ends if it dies (`execute::guard`).
    if let Err(why) = crate::execute::start_guard(super::KILL_GRACE) {
        live.observer.warn(&format!(
            "no guard for this worker's steps ({why}): if it is killed, a step it runs goes on until its run is taken over here"
        ));
    }
    // Leases need the log's newest schema; a store that keeps none cannot host workers.
    store.leases(None)?;
    // Front ends parse with `flag`; a value from elsewhere is held to the same ranges.
    for (range, value) in [(WORKER_LEASE, opts.lease), (WORKER_POLL, opts.poll)] {
        if value < range.min || value > range.max {
            return Err(CommandError::bad_input(format!(
                "`{}` is {value:?}, outside its range {}",
                range.field, range.text
            )));
        }
    }
    let lease_ms = opts.lease.as_millis() as u64;
    let opener = ctx.clone();
    let seat = Arc::new(Shared {
        holder: format!("worker:{name} pid {}", std::process::id()),
        worker: name.clone(),
        host: hostname(),
        lease_ms,
        keeper: LeaseKeeper::start(
            Box::new(move || {
                opener.store(Durability::Normal).map_err(|e| {
                    crate::store::StoreError::Unreachable {
                        target: "the event log".into(),
                        reason: e.message,
                    }
                })
            }),
            lease_ms,
        )?,
        slots: Slots::new(opts.concurrency),
        draining: AtomicBool::new(false),
        ending: AtomicBool::new(false),
        rejected: std::sync::atomic::AtomicU64::new(0),
        claimed: std::sync::atomic::AtomicU64::new(0),
    });
    let mut wctx = ctx.clone();
    wctx.dispatch = Dispatch {
        tags: opts.tags.clone(),
        shared: Some(seat.clone()),
    };
    // Connections for the runs it drives, kept between runs: a run taken is driven at once,
    // not after a new connection is made and set up (several ms on PostgreSQL). One is made
    // now, for the first run.
    let pool: Pool = Arc::new(std::sync::Mutex::new(vec![ctx.store(Durability::Normal)?]));
    let mut listener = Listener::open(&location);
    live.observer.note(&format!(
        "Worker {name} on {} (tags: {}; {} at once; lease {} ms) takes work from {}{}\n",
        crate::render::one_line(&seat.host),
        if opts.tags.is_empty() {
            "none".to_string()
        } else {
            opts.tags.join(", ")
        },
        opts.concurrency.max(1),
        lease_ms,
        location.shown(),
        if listener.listens() {
            " (LISTEN/NOTIFY)"
        } else {
            " (polling)"
        }
    ));
    let (tx, rx) = mpsc::channel::<Done>();
    let mut busy: BTreeSet<InHand> = BTreeSet::new();
    // The runs it watches, folded as far as it has read them: each pass reads only what was
    // appended since.
    let mut seen: std::collections::BTreeMap<String, RunState> = Default::default();
    // The runs it left alone for want of their secret inputs' values (said once each).
    let mut left_alone: BTreeSet<String> = BTreeSet::new();
    // Of them, those left for want of secret inputs, and the variables that would give them:
    // said again as the worker stops, so that one that drove nothing does not end as if
    // nothing were there for it.
    let mut lacked: std::collections::BTreeMap<String, String> = Default::default();
    // The runs it waits to take until their driver lease lapses (said once each).
    let mut waiting_for: BTreeSet<String> = BTreeSet::new();
    // The runs it leaves alone because their log does not verify (said once each; checked
    // again before each claim, so a run whose log is restored is taken again).
    let mut refused: BTreeSet<String> = BTreeSet::new();
    // `spawned`: the unit threads started (each tries a claim, which another worker may win):
    // what `--until-idle` asks of a pass, whether it took anything; never a count of units run
    // (`Shared::claimed` is, counted when a claim is won, here or in a run this worker drives).
    let (mut driven, mut spawned, mut rejected, mut reaped) = (0u64, 0u64, 0u64, 0u64);
    // The runs whose stop or abort, asked of a driver that is gone, this worker recorded
    // (`takes_up_request`): counted apart from the runs it drove, which it did not.
    let (mut stopped, mut aborted) = (0u64, 0u64);
    // The runs whose notifications still due, left by a driver gone before it delivered them,
    // this worker delivered (`notify_sweep`), and the number of such deliveries it started.
    let (mut notified, mut notifying) = (0u64, 0u64);
    // What its looks for them keep between passes.
    let mut sweep = Sweep::new(&seat.holder, "worker");
    // Why this worker leaves runs nobody drives that have nothing for it (a person to act,
    // tags it does not offer), as the last full pass found them: said as `--until-idle` ends.
    let mut left_waiting: std::collections::BTreeMap<String, String> = Default::default();
    // The runs `--until-idle` waited for, units of them being on their way here (said once).
    let mut waited_ahead: BTreeSet<String> = BTreeSet::new();
    let clock = SystemClock;
    let mut ids = UlidIds::default();
    // What the last wait heard of (the runs appended to), none for a full pass; the runs to
    // look at in the next pass besides those (a thread of this worker done with it, a
    // submitted run still locked); and when the last full pass was.
    let mut heard: Option<Vec<String>> = None;
    let mut again: BTreeSet<String> = BTreeSet::new();
    // The units of others' runs waiting out a retry's backoff, and when it ends (what was left
    // of it when this worker first saw it, counted from when it was scheduled, as a driver's
    // scheduler counts it): not claimed before.
    let mut backoff: std::collections::BTreeMap<String, Instant> = Default::default();
    let mut full_at = Instant::now();
    // Whether the log could not be reached in the last pass.
    let mut outage: Option<()> = None;
    let watches: Watches = Arc::default();
    let mut looked_at = Instant::now();
    // A thread's end heard while waiting (it ends the wait), handled at the top of the loop.
    let mut early: Option<Done> = None;
    loop {
        // The runs this worker helps: a stop or abort recorded since ends their attempts
        // here. Each wake-up (a notification names the run) and each poll; while draining,
        // every `--poll`.
        if !seat.draining.load(Ordering::Relaxed) || looked_at.elapsed() >= opts.poll {
            looked_at = Instant::now();
            look_after(&*store, &mut seen, &watches);
        }
        let early_done = early.take();
        for done in early_done
            .into_iter()
            .chain(std::iter::from_fn(|| rx.try_recv().ok()))
        {
            busy.remove(&done.key);
            if !done.over {
                again.insert(done.key.run().to_string());
            }
            rejected += u64::from(!done.applied);
            notified += u64::from(done.notified);
            live.observer.note(&done.text);
        }
        if live.stop.is_set() && !seat.draining.load(Ordering::Relaxed) {
            seat.draining.store(true, Ordering::Relaxed);
            live.observer.note(&format!(
                "Draining: nothing new is taken; what is in hand ({}) finishes or is handed back.\n",
                in_hand(&busy)
            ));
        }
        // A second stop signal ends what is held here (below); with nothing held, the
        // process at once (`StopFlag::install_counted`).
        live.stop.holding(!busy.is_empty());
        if seat.draining.load(Ordering::Relaxed) {
            if busy.is_empty() {
                break;
            }
            // Told again while draining: what runs here ends now, like a stop — each command
            // TERMed (KILL after its grace), its attempt recorded interrupted, the runs this
            // worker drives handed back — and the worker exits once all of it is recorded.
            if live.stop.repeated() && !seat.ending.swap(true, Ordering::Relaxed) {
                live.observer
                    .note(&ending_words(&busy, &seat.keeper.held(), super::KILL_GRACE));
                for w in lock(&watches).values() {
                    *w.why.lock().unwrap_or_else(|e| e.into_inner()) =
                        Some(crate::execute::ENDING_WORDS.to_string());
                    w.stop.set(nix::sys::signal::Signal::SIGTERM as i32);
                }
            }
            std::thread::sleep(Duration::from_millis(50));
            continue;
        }
        let taken_before = (driven, spawned, stopped, aborted, notifying);
        // Whether a run this worker would take waits for a driver lease to lapse.
        let mut pending = false;
        // Whether a run another live process moves on has units ahead that may come to this
        // worker (`plan::work_ahead`): `--until-idle` does not end while one has.
        let mut ahead: Option<String> = None;
        // A submitted run still locked on this host: its submitter lets go right after the
        // commit that woke this worker, so it is looked at again soon, not at the next poll.
        let mut soon = false;
        // The earliest end of a backoff seen in this pass: the wait ends then.
        let mut due_at: Option<Instant> = None;
        // After a notification, only the runs it names (and those to look at again): the run
        // index is read by a full pass, made when nothing was heard (a poll) and at least once
        // every `--poll` however much is heard, for what no append announces (a lease that
        // lapsed, a run this worker let go of).
        let targeted = match heard.take() {
            Some(ids) if full_at.elapsed() < opts.poll => {
                again.extend(ids);
                again.remove(crate::event::REGISTRY_CHAIN);
                Some(std::mem::take(&mut again))
            }
            _ => None,
        };
        let full = targeted.is_none();
        // One pass over the runs. A log that cannot be reached (PostgreSQL restarted, failed
        // over, the network cut) does not end the worker: it says so once, and the next pass
        // tries again (each reconnects, up to the store's patience) until the log answers.
        let pass = (|| -> Result<(), JournalError> {
            let runs: Vec<String> = match targeted {
                Some(runs) => runs.into_iter().collect(),
                None => {
                    full_at = Instant::now();
                    again.clear();
                    let unfinished = store.list_runs(&RunQuery {
                        unfinished: true,
                        ..RunQuery::kind(None)
                    })?;
                    // The runs that finished since the last full pass (they owe their
                    // notifications now, if their driver is gone: `Sweep::due`).
                    sweep.finished(
                        seen.keys()
                            .filter(|id| !unfinished.iter().any(|e| &e.run_id == *id))
                            .cloned(),
                    );
                    seen.retain(|id, _| unfinished.iter().any(|e| &e.run_id == id));
                    left_waiting.clear();
                    backoff.retain(|key, _| {
                        key.split_once('/')
                            .is_some_and(|(run, _)| seen.contains_key(run))
                    });
                    // Oldest first (the index lists newest first): runs are taken in the
                    // order they were started or submitted (FIFO).
                    unfinished.into_iter().rev().map(|e| e.run_id).collect()
                }
            };
            // Whether a run or unit waited for a slot in this pass (oldest first).
            let mut short_of_slots = false;
            for run_id in runs {
                if busy.contains(&InHand::Run(run_id.clone())) {
                    continue;
                }
                let Ok(mut state) = watched(&*store, &mut seen, &run_id) else {
                    continue;
                };
                // A run named by a notification may be over, or no run of this log (the channel
                // is the database's: another schema's log notifies it too).
                if !full && (state.start.is_none() || state.outcome().is_some()) {
                    look_after(&*store, &mut seen, &watches);
                    seen.remove(&run_id);
                    continue;
                }
                // Whether its log verifies, checked (`execute::check_verified`, as `resume`
                // checks it) once in this pass, before the first thing done to it.
                let mut verifies: Option<bool> = None;
                let leases = store.leases(Some(&run_id))?;
                // Its own lapsed leases too, unless a thread of this worker still runs the
                // attempt (its keeper renews the lease): one whose thread is gone — its end not
                // recordable in an outage of the log — is reaped like any other's.
                if leases.iter().any(|l| {
                    l.lapsed()
                        && l.unit != DRIVER_UNIT
                        && (l.holder != seat.holder || !seat.keeper.keeps(l))
                }) || !crate::execute::claims_without_lease(&state, &leases).is_empty()
                {
                    if !verified(&*store, &run_id, &mut verifies, &mut refused, live)? {
                        continue;
                    }
                    let mut journal =
                        Journal::from_state(&mut store, &clock, &mut ids, state.clone())?;
                    let events = reap_lapsed(&mut journal, &seat, true)?;
                    reaped += events
                        .iter()
                        .filter(|e| e.event.type_name() == "step_interrupted")
                        .count() as u64;
                    for e in &events {
                        if let crate::event::Event::StepInterrupted { step, reason, .. } = &e.event
                        {
                            live.observer
                                .note(&format!("Run {run_id}: `{step}` interrupted: {reason}\n"));
                        }
                    }
                    state = journal.state.clone();
                    seen.insert(run_id.clone(), state.clone());
                }
                let driver = leases
                    .iter()
                    .find(|l| l.unit == DRIVER_UNIT && !l.lapsed())
                    .cloned();
                // In this home the run's lock says at once whether its driver lives; a lease
                // speaks for drivers on other hosts and in other homes of this host (unless its
                // process is gone).
                // A lock whose holder's driver lease lapsed (frozen by SIGSTOP, cut off from
                // the log) speaks for no live driver: the run is taken over, its lock broken,
                // and the lease's epoch fences the old holder.
                let lock = DriverLock::probe(&ctx.home, &run_id);
                let stale = lock
                    .clone()
                    .filter(|h| crate::execute::lock_lapsed(&leases, h));
                let locked = lock.is_some() && stale.is_none();
                let alive = locked
                    || driver
                        .as_ref()
                        .is_some_and(|l| l.holder != seat.holder && !holder_gone(l));
                if locked && driver.is_none() && state.submitted {
                    soon = true;
                    again.insert(run_id.clone());
                }
                // The secret inputs whose values this worker was not given (no
                // `CORTEX_INPUT_<NAME>` in its environment) that what is left of the run may
                // read (`plan::secret_inputs_ahead`, as its resume asks for them): it leaves
                // the run alone, said once. Before, it left a run alone for any secret input
                // it lacked, though nothing left (people's phases) read it.
                let lacking = if state
                    .start
                    .as_ref()
                    .is_some_and(|s| !s.secret_inputs.is_empty())
                {
                    let missing = crate::execute::Redactor::of_run(&state).missing_inputs(&state);
                    if missing.is_empty() {
                        missing
                    } else {
                        let ahead = crate::plan::secret_inputs_ahead(
                            &state,
                            crate::event::ResumeMode::Continue,
                        );
                        missing.into_iter().filter(|n| ahead.contains(n)).collect()
                    }
                } else {
                    Vec::new()
                };
                // A request to record needs no secret input: nothing runs.
                let take_up = !alive && takes_up_request(&state);
                if !lacking.is_empty() && !take_up {
                    if !alive
                        && wants_driving(&state, &opts.tags)
                        && left_alone.insert(run_id.clone())
                    {
                        let (inputs, vars) = super::drive::lacking_inputs(&lacking);
                        live.observer.note(&format!(
                            "Run {run_id}: left to a worker given its secret {inputs} ({vars} not in this worker's environment).\n",
                        ));
                        lacked.insert(run_id.clone(), vars);
                    }
                    continue;
                }
                // Held by another live process (its driver, or a unit's lease): not idle while
                // it has units ahead that may come here once what runs now is done (a run whose
                // secret inputs this worker lacks was left above: nothing of it comes here).
                let held_elsewhere = alive
                    || leases.iter().any(|l| {
                        l.unit != DRIVER_UNIT
                            && !l.lapsed()
                            && l.holder != seat.holder
                            && !holder_gone(l)
                    });
                if held_elsewhere && ahead.is_none() {
                    let by_worker = driver
                        .as_ref()
                        .is_some_and(|d| d.holder.starts_with("worker:"));
                    ahead = crate::plan::work_ahead(&state, &opts.tags, by_worker)
                        .then(|| run_id.clone());
                }
                if !alive {
                    if !take_up && !wants_driving(&state, &opts.tags) {
                        if let Some(why) = crate::plan::left_waiting(&state, &opts.tags) {
                            left_waiting.insert(run_id.clone(), why);
                        }
                        continue;
                    }
                    // What it would run next reads a secret output another process recorded
                    // (a report from another terminal): the log keeps it as `***`, and only
                    // that process holds it. Left to that process, which drives on once it
                    // recorded the report; said once. Before, a worker woken by the report
                    // took the run first and the next unit failed for want of the value.
                    if let Some(why) =
                        unheld_secret_output_next(&state, &opts.tags).filter(|_| !take_up)
                    {
                        if left_alone.insert(run_id.clone()) {
                            live.observer.note(&format!(
                                "Run {run_id}: left alone, for the process that recorded its secret output to drive on (a worker never holds another process's secret outputs): {why}.\n"
                            ));
                        }
                        continue;
                    }
                    if !verified(&*store, &run_id, &mut verifies, &mut refused, live)? {
                        continue;
                    }
                    let scenario = state.is_scenario();
                    // A workflow's steps run in its driver: it takes a slot for the whole run.
                    // Once a run waited for a slot in this pass, so do the later ones: a slot
                    // freed in the middle of the pass goes to the oldest waiting, next pass,
                    // not to whichever run the pass reached (FIFO).
                    if !scenario && (short_of_slots || !seat.slots.try_take()) {
                        short_of_slots = true;
                        // Looked at again once a slot is free (a thread's end ends the wait).
                        again.insert(run_id.clone());
                        continue;
                    }
                    // Its driver was cut short if it left a driver lease behind (lapsed, or
                    // its process gone) or a lock whose lease lapsed; a driver that let the
                    // run wait released its lease, and a report or a start since gave the
                    // run work again: that driver is not "gone". Before, `run_resumed`
                    // having cleared `submitted`, every such run was said to have lost its
                    // driver.
                    let cut_short = stale.is_some()
                        || leases
                            .iter()
                            .any(|l| l.unit == DRIVER_UNIT && l.holder != seat.holder);
                    // The driver lease of a process of this host that is gone (killed before
                    // it let go) is let go at once, not waited out, as `resume` does: the run
                    // shows `interrupted` already. Before, the worker could not claim it until
                    // it lapsed, and `--until-idle` ended at once with the run left undriven.
                    if let Some(dead) = leases.iter().find(|l| {
                        l.unit == DRIVER_UNIT && l.holder != seat.holder && holder_gone(l)
                    }) {
                        let _ = store.release_lease(dead);
                    }
                    let Some(lease) = store.claim_lease(&seat.claim(&run_id, DRIVER_UNIT, 0))?
                    else {
                        if !scenario {
                            seat.slots.give();
                        }
                        // A run this worker would take whose driver lease has yet to lapse:
                        // `--until-idle` waits for it rather than end with the run undriven.
                        pending = true;
                        // Lost to a live driver that claimed the run since this pass read
                        // its leases (another worker taking the same submitted run): it is
                        // driven, and this worker helps with its phases. Else its driver's
                        // lease has yet to lapse.
                        let now_held = store.leases(Some(&run_id)).ok().and_then(|ls| {
                            ls.into_iter().find(|l| {
                                l.unit == DRIVER_UNIT
                                    && !l.lapsed()
                                    && l.holder != seat.holder
                                    && !holder_gone(l)
                            })
                        });
                        if waiting_for.insert(run_id.clone()) {
                            live.observer.note(&match now_held {
                                Some(l) => format!(
                                    "Run {run_id}: taken first by {} on {}.\n",
                                    crate::render::one_line(&l.holder),
                                    crate::render::one_line(&l.host)
                                ),
                                None => format!(
                                    "Run {run_id}: its driver is gone; waiting for its driver lease to lapse to take it.\n"
                                ),
                            });
                        }
                        continue;
                    };
                    waiting_for.remove(&run_id);
                    busy.insert(InHand::Run(run_id.clone()));
                    live.stop.holding(true);
                    match (take_up, state.abort_requested.is_some()) {
                        (false, _) => driven += 1,
                        (true, false) => stopped += 1,
                        (true, true) => aborted += 1,
                    }
                    // Why it is taken, as its log says: a driver whose session the log leaves
                    // open with work in hand (`interrupted`) ended before it finished, whether
                    // or not it left a lease or a lock behind (a SIGKILLed driver of this home
                    // leaves neither that says so). Before, such a run was said to have work
                    // again after its driver let it wait.
                    let why = if take_up {
                        let asked = if state.abort_requested.is_some() {
                            "an abort"
                        } else {
                            "a stop"
                        };
                        format!(
                            "{asked} was asked of its driver, which is gone; recording it as asked (not driving the run)"
                        )
                    } else if state.submitted {
                        "submitted for workers".to_string()
                    } else if let Some(gone) = driver_gone(&*store, &state) {
                        gone
                    } else if cut_short {
                        "its driver is gone".to_string()
                    } else if let Some(tags) = tagged_work(&state, &opts.tags) {
                        format!(
                            "its next work needs a worker with tags {tags} (`runs_on:`), which its driver handed back"
                        )
                    } else {
                        "it has work again (a report or a start came after its driver let it wait) and nobody drives it".to_string()
                    };
                    live.observer.note(&format!(
                        "Run {run_id} ({} `{}`): {why}{}.\n",
                        if scenario { "scenario" } else { "workflow" },
                        state.start.as_ref().map_or("", |s| s.name.as_str()),
                        if take_up { "" } else { "; driving it" },
                    ));
                    let taken = Taken {
                        state,
                        lease,
                        scenario,
                        stale,
                    };
                    spawn_drive(&wctx, &seat, &pool, taken, tx.clone());
                } else if state.is_scenario()
                    && !state.submitted
                    && !state.stop_requested
                    && driver.as_ref().is_none_or(|d| d.holder != seat.holder)
                {
                    // Help its driver with its ready phases. A worker that drives claims its
                    // units under leases too: any phase this worker's tags cover. A command's
                    // driver (a lease `driver:…`, or on SQLite only its lock in this home)
                    // offers no tags and runs every phase without `runs_on:` itself, unleased:
                    // only the phases it leaves to workers are this worker's, so the two never
                    // run one phase twice.
                    let by_worker = driver
                        .as_ref()
                        .is_some_and(|d| d.holder.starts_with("worker:"));
                    let ready = ready_phases(&state);
                    if !ready.is_empty()
                        && !verified(&*store, &run_id, &mut verifies, &mut refused, live)?
                    {
                        continue;
                    }
                    for index in ready {
                        let unit = state.steps[index].name.clone();
                        let key = format!("{run_id}/{unit}");
                        let in_hand = InHand::Unit {
                            run: run_id.clone(),
                            unit: unit.clone(),
                        };
                        if busy.contains(&in_hand)
                            || state.is_external(index)
                            || (!by_worker && state.runs_on(index).is_empty())
                            || !tags_cover(&opts.tags, state.runs_on(index))
                        {
                            continue;
                        }
                        // A retry waits out its backoff here too: claimed when it ends, never
                        // at once (before, a helping worker started the next attempt at once).
                        // What is left of it, counted from when the retry was scheduled.
                        let left = state.backoff_left(index, std::time::SystemTime::now());
                        if !left.is_zero() {
                            let due = *backoff.entry(key.clone()).or_insert_with(|| {
                                let now = Instant::now();
                                now.checked_add(left)
                                    .unwrap_or(now + Duration::from_secs(86_400))
                            });
                            if Instant::now() < due {
                                again.insert(run_id.clone());
                                due_at = Some(due_at.map_or(due, |d| d.min(due)));
                                continue;
                            }
                        }
                        if short_of_slots || !seat.slots.try_take() {
                            short_of_slots = true;
                            // Looked at again once a slot is free.
                            again.insert(run_id.clone());
                            continue;
                        }
                        backoff.remove(&key);
                        busy.insert(in_hand);
                        live.stop.holding(true);
                        spawned += 1;
                        spawn_unit(
                            &wctx,
                            &seat,
                            state.clone(),
                            (unit, key),
                            &watches,
                            tx.clone(),
                        );
                    }
                }
            }
            // The notifications a driver gone before delivering them left due (SPEC §9, §11):
            // delivered here, each run once no process holds it (`Sweep::due`). Looked for in
            // full passes, as lapsed leases are.
            if full {
                let delivering = |run_id: &str| busy.contains(&InHand::Notify(run_id.to_string()));
                let due = sweep.due(&*store, &ctx.home, &seen, &delivering, &mut |text| {
                    live.observer.note(text)
                })?;
                for (run_id, state) in due {
                    let key = InHand::Notify(run_id);
                    busy.insert(key.clone());
                    live.stop.holding(true);
                    notifying += 1;
                    spawn_notify(&wctx, state, key, tx.clone());
                }
            }
            Ok(())
        })();
        match pass {
            Ok(()) => {
                if outage.take().is_some() {
                    live.observer
                        .note("The event log answers again; taking work.\n");
                }
            }
            Err(JournalError::Store(e @ (StoreError::Unreachable { .. } | StoreError::Busy))) => {
                if outage.is_none() {
                    outage = Some(());
                    live.observer.note(&match e {
                        StoreError::Unreachable { target, reason } => format!(
                            "The event log at {target} cannot be reached ({reason}); what runs here goes on, and this worker tries again until it answers (SIGTERM to stop).\n"
                        ),
                        // A SQLite log whose write lock another process holds past the
                        // store's own wait (a `sqlite3` session, a backup or VACUUM): as an
                        // outage, never the worker's end. Before, the worker exited on it.
                        _ => "The event log is locked by another process (it holds the log's write lock, such as a `sqlite3` session or a backup or VACUUM of the log); what runs here goes on, and this worker tries again until it lets go (SIGTERM to stop).\n".to_string(),
                    });
                }
                // Back off between attempts (each attempt already tried to reconnect for a
                // while), watching for SIGTERM.
                let until = Instant::now() + opts.poll.max(Duration::from_secs(1));
                while Instant::now() < until && !live.stop.is_set() {
                    std::thread::sleep(Duration::from_millis(50));
                }
                heard = None;
                continue;
            }
            Err(e) => return Err(e.into()),
        }
        if full
            && opts.until_idle
            && let Some(run_id) = &ahead
            && waited_ahead.insert(run_id.clone())
        {
            live.observer.note(&format!(
                "Run {run_id}: nothing to claim now, but units of it may come to this worker once what runs elsewhere is done: --until-idle waits for them.\n"
            ));
        }
        // Idle: nothing of this worker's runs, nothing it took in this full pass, no run it
        // waits to take (a driver lease to lapse), no retry it waits to claim (a backoff), and
        // no run another process moves on with units ahead that may come here.
        if full
            && opts.until_idle
            && busy.is_empty()
            && !pending
            && ahead.is_none()
            && due_at.is_none()
            && taken_before == (driven, spawned, stopped, aborted, notifying)
        {
            for (run_id, why) in &left_waiting {
                live.observer
                    .note(&format!("Run {run_id}: left as it is: {why}.\n"));
            }
            break;
        }
        // While threads of this worker run, the wait is cut into slices and ends as soon as
        // one of them is done (a unit run or its claim lost to another worker, a run let go):
        // its slot is free and the run is looked at again now, so a phase still ready there,
        // or a run skipped for want of a slot, is claimed within milliseconds rather than at
        // the next notification or `--poll`.
        let until = Instant::now() + if soon { SOON.min(opts.poll) } else { opts.poll };
        let until = due_at.map_or(until, |due| until.min(due));
        let ids = loop {
            let left = until.saturating_duration_since(Instant::now());
            let slice = if busy.is_empty() {
                left
            } else {
                left.min(THREAD_SLICE)
            };
            let ids = listener.wait(slice);
            // Listening again after its connection broke: what was appended meanwhile went
            // unheard, so the next pass is a full one (a poll), now.
            if !ids.is_empty() || listener.missed() || Instant::now() >= until || live.stop.is_set()
            {
                break ids;
            }
            if let Ok(done) = rx.try_recv() {
                if !done.over {
                    again.insert(done.key.run().to_string());
                }
                early = Some(done);
                break ids;
            }
        };
        // Nothing heard and nothing to look at again: a full pass (a poll).
        heard = (!ids.is_empty() || !again.is_empty()).then_some(ids);
    }
    // Every result of this worker's that came late: of units it ran for others' runs, and of
    // the attempts its drivers ran in the runs it drove. Before, only the first were counted:
    // a driver paused past its lease said "a result of its own that came late is recorded as
    // rejected", and the summary said 0.
    let rejected = rejected + seat.rejected.load(Ordering::Relaxed);
    // The attempts this worker claimed and ran: of others' runs, and of the runs it drove
    // (its drivers claim their phases under its leases too). Before, a unit was counted when
    // its thread was started, whether or not its claim was won, and those of its own runs
    // not at all.
    let units = seat.claimed.load(Ordering::Relaxed);
    let doc = json!({
        "worker": name,
        "host": seat.host,
        "tags": opts.tags,
        "runs_driven": driven,
        "runs_stopped": stopped,
        "runs_aborted": aborted,
        "units_run": units,
        "results_rejected": rejected,
        "attempts_reaped": reaped,
        "runs_notified": notified,
    });
    let text = summary(
        &name,
        Counts {
            driven,
            stopped,
            aborted,
            units,
            reaped,
            rejected,
            notified,
        },
    );
    let mut out = Output::new(doc, text, exit::OK);
    if !lacked.is_empty() {
        let runs: Vec<String> = lacked
            .iter()
            .map(|(run, vars)| format!("{run} (needs {vars})"))
            .collect();
        out = out.warn(vec![format!(
            "left {} alone for want of secret inputs not in this worker's environment: {}; start it with them set (or `--input NAME=VALUE`) to drive {}",
            crate::render::count(runs.len(), "run"),
            runs.join(", "),
            if runs.len() == 1 { "it" } else { "them" }
        )]);
    }
    Ok(out)
}

/// Whether the worker may act on `run_id`: its log verifies (`execute::check_verified`, the
/// check `resume` makes), checked at most once a pass (`verifies`). A run whose log does not
/// is left alone — nothing claimed, reaped or appended — and said once in the worker's output
/// (`refused`), until its log verifies again.
fn verified(
    store: &dyn EventStore,
    run_id: &str,
    verifies: &mut Option<bool>,
    refused: &mut BTreeSet<String>,
    live: &mut Live<'_>,
) -> Result<bool, StoreError> {
    if let Some(ok) = *verifies {
        return Ok(ok);
    }
    let ok = match crate::execute::check_verified(store, run_id) {
        Ok(()) => {
            refused.remove(run_id);
            true
        }
        Err(e @ StoreError::Unverified { .. }) => {
            if refused.insert(run_id.to_string()) {
                live.observer.note(&format!(
                    "Run {run_id}: left alone: {e}; `cortex log verify {run_id}` says where it breaks.\n"
                ));
            }
            false
        }
        Err(e) => return Err(e),
    };
    *verifies = Some(ok);
    Ok(ok)
}

/// Whether a run whose driver is gone is one for this worker: recorded for workers, or with
/// work for a driver (`operator::has_work`: an attempt cut short, a unit ready, a check), and
/// this worker may run it — for a workflow, the step it runs or checks next (its steps run in
/// its driver, one at a time: a driver hands the run back before a step whose `runs_on:` it
/// does not offer, for a worker that does), or for a scenario something besides ready phases
/// whose `runs_on:` it does not offer. (A run whose secret inputs this worker was not given
/// is left alone before this is asked: the loop's `lacking`.)
fn wants_driving(state: &RunState, tags: &[String]) -> bool {
    use crate::plan::Next;
    // A run an operator is stopping or aborting is not a worker's to drive (its resume would
    // undo the request), nor one that is not going: the decider's rule
    // (`decide::not_for_workers`, its `DecideError::NotForWorkers`). One whose driver died
    // before it acted on such a request is taken only to record it (`takes_up_request`).
    if crate::decide::not_for_workers(state).is_some()
        || !(state.submitted || crate::execute::operator::has_work(state))
    {
        return false;
    }
    let runs_on = |i: usize| state.runs_on(i);
    if !state.is_scenario() {
        return match crate::plan::next(state) {
            Next::Attempt { index, .. }
            | Next::InFlight { index }
            | Next::CheckCondition { index }
            | Next::ReadItems { index } => tags_cover(tags, runs_on(index)),
            _ => true,
        };
    }
    let ready = ready_phases(state);
    state.submitted
        || ready.is_empty()
        || state.steps.iter().any(|s| s.status == StepStatus::Running)
        || ready.into_iter().any(|i| tags_cover(tags, runs_on(i)))
}

/// Whether a run whose driver is gone has a stop or an abort an operator asked of that driver
/// and that it never acted on (`decide::pending_request`): a worker takes it only to record
/// the request as the operator asked it (`Command::TakeUpRequest`, with the operator as
/// actor, as `resume` takes it up), and does not drive it on. Before, such a run was left
/// alone, the stop never recorded until someone ran `stop` or `resume` again.
fn takes_up_request(state: &RunState) -> bool {
    crate::decide::pending_request(state).is_some()
}

/// Why the next unit this worker would run of `state` cannot run here, if it cannot: it reads
/// a secret output that another process recorded (the log keeps `***`) and this process does
/// not hold (`execute::unheld_secret_output_in`, as the driver's runner checks before an
/// attempt). For a workflow, its next step; for a scenario, a ready phase its tags cover.
fn unheld_secret_output_next(state: &RunState, tags: &[String]) -> Option<String> {
    let workflow = state.workflow.as_ref()?;
    let units: Vec<usize> = if state.is_scenario() {
        next_units(state)
            .into_iter()
            .filter(|&i| !state.is_external(i) && tags_cover(tags, state.runs_on(i)))
            .collect()
    } else {
        next_units(state)
    };
    units.into_iter().find_map(|i| {
        let step = workflow.steps.get(i)?;
        let if_run = match &step.if_ {
            Some(crate::definition::IfCondition::Command(c)) => Some(c.run.as_str()),
            _ => None,
        };
        crate::execute::unheld_secret_output_in(
            state,
            Some(i),
            step.run_texts().chain(step.gate_texts()).chain(if_run),
        )
    })
}

/// The worker's connections for the runs it drives.
type Pool = Arc<std::sync::Mutex<Vec<Box<dyn EventStore>>>>;

/// A run whose driver lease the worker's loop just claimed, with its fold as the loop read it.
struct Taken {
    state: RunState,
    lease: crate::store::Lease,
    scenario: bool,
    /// The holder of the run's lock whose driver lease lapsed, if any: its lock is broken.
    stale: Option<crate::execute::Holder>,
}

/// Drive a taken run on a thread, as `resume` does, with this worker's seat, on a connection
/// of its pool and from the loop's fold of the run (`workflow::resume_claimed`); a run handed
/// back while draining is recorded as submitted again, for the next worker, by the drive
/// itself while it holds the run's lease (`ops::drive`, `DriveEnd::HandedBack`).
fn spawn_drive(wctx: &Ctx, seat: &Arc<Shared>, pool: &Pool, taken: Taken, tx: mpsc::Sender<Done>) {
    let (lease, run_id, scenario) = (
        taken.lease.clone(),
        taken.state.run_id.clone(),
        taken.scenario,
    );
    let refused_tx = tx.clone();
    let started = spawn_drive_thread(wctx, seat, pool, taken, tx);
    if let Err(refused) = started {
        // No thread to drive it on (`ulimit -u`): its lease let go at once, for whoever
        // can drive it (this worker, next pass); nothing was recorded.
        seat.keeper.forget(&lease);
        let pooled = pool.lock().unwrap_or_else(|e| e.into_inner()).pop();
        if let Some(mut store) = pooled.or_else(|| wctx.store(Durability::Normal).ok()) {
            let _ = store.release_lease(&lease);
            pool.lock().unwrap_or_else(|e| e.into_inner()).push(store);
        }
        if !scenario {
            seat.slots.give();
        }
        let _ = refused_tx.send(Done {
            key: InHand::Run(run_id.clone()),
            text: format!("Run {run_id}: not driven: {refused}\n"),
            applied: true,
            over: false,
            notified: false,
        });
    }
}

/// `spawn_drive`'s thread, if the system starts it.
fn spawn_drive_thread(
    wctx: &Ctx,
    seat: &Arc<Shared>,
    pool: &Pool,
    taken: Taken,
    tx: mpsc::Sender<Done>,
) -> Result<(), crate::execute::thread::Refused> {
    let wctx = wctx.clone();
    let seat = seat.clone();
    let pool = pool.clone();
    crate::execute::thread::spawn("to drive a run", move || {
        let Taken {
            state,
            lease,
            scenario,
            stale,
        } = taken;
        let run_id = state.run_id.clone();
        let by = Operator {
            actor: format!("worker:{}", seat.worker),
            message: None,
        };
        let mut quiet = Quiet;
        // A driven run is not stopped by the worker's signal: draining hands it back.
        let mut live = Live {
            observer: &mut quiet,
            stop: StopFlag::default(),
        };
        let pooled = pool.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let out = match pooled.map_or_else(|| wctx.store(Durability::Normal), Ok) {
            Ok(mut store) => {
                let out = super::workflow::resume_claimed(
                    &wctx,
                    &mut *store,
                    state,
                    lease.clone(),
                    stale.as_ref(),
                    by,
                    &mut live,
                );
                // However the drive ended (it let the lease go, or failed before it held it):
                // the lease is not this worker's any more.
                seat.keeper.forget(&lease);
                let _ = store.release_lease(&lease);
                pool.lock().unwrap_or_else(|e| e.into_inner()).push(store);
                out
            }
            Err(e) => Err(e),
        };
        if !scenario {
            seat.slots.give();
        }
        let (text, over) = match out {
            // Handed back while draining (or told to stop again): what its status says of it
            // from now on. Before, the drive's own view said "waiting: nobody drives it now;
            // resume goes on" of a run the next worker had taken.
            Ok(o) if o.json["handed_back"] == true => (
                format!(
                    "Run {run_id}: handed back, submitted for workers: the next `cortex worker` drives it.\n"
                ),
                false,
            ),
            // Not handed back, and why: its lease changed hands (whoever holds it now drives
            // it), or the log refused the append.
            Ok(o) if o.json["handed_back"] == false => (
                format!(
                    "Run {run_id}: {}.\n",
                    o.json["handback"].as_str().unwrap_or("not handed back")
                ),
                false,
            ),
            // Taken on the state its pass read, and found stopped, finished or waiting once
            // caught up with the log: let go of, nothing recorded.
            Ok(o) if o.json["left_alone"].is_string() => (
                format!(
                    "Run {run_id}: {}.\n",
                    o.json["left_alone"].as_str().unwrap_or_default()
                ),
                o.json["status"].as_str().is_some_and(|s| {
                    matches!(
                        s,
                        "completed" | "failed" | "stopped" | "aborted" | "rolled_back"
                    )
                }),
            ),
            Ok(o) => {
                let status = o.json["status"].as_str().unwrap_or("driven");
                // Let go of waiting: why (a phase asks for tags this worker does not offer).
                let why = match o.json["reason"].as_str() {
                    Some(reason) if status == "waiting" => format!(": {reason}"),
                    _ => String::new(),
                };
                (
                    format!("Run {run_id}: {status}{why}\n"),
                    matches!(
                        status,
                        "completed" | "failed" | "stopped" | "aborted" | "rolled_back"
                    ),
                )
            }
            Err(e) => (format!("Run {run_id}: {}\n", e.message), false),
        };
        let _ = tx.send(Done {
            key: InHand::Run(run_id),
            text,
            applied: true,
            over,
            notified: false,
        });
    })
    .map(drop)
}

/// Run one ready unit of a run another worker drives: claim it under a lease, run its
/// attempt here, and record its end while the lease is held (else as rejected).
fn spawn_unit(
    wctx: &Ctx,
    seat: &Arc<Shared>,
    state: RunState,
    (unit, key): (String, String),
    watches: &Watches,
    tx: mpsc::Sender<Done>,
) {
    let wctx = wctx.clone();
    let refused_seat = seat.clone();
    let seat = seat.clone();
    let watches = watches.clone();
    let said = unit.clone();
    let in_hand = InHand::Unit {
        run: state.run_id.clone(),
        unit: unit.clone(),
    };
    let refused_tx = tx.clone();
    let started = crate::execute::thread::spawn("to run a unit", move || {
        let run_id = state.run_id.clone();
        let out = run_unit(&wctx, &seat, state, &unit, (&key, &watches));
        lock(&watches).remove(&key);
        let (text, applied) = match out {
            Ok(Some((text, applied))) => (text, applied),
            Ok(None) => (String::new(), true),
            Err(e) => (format!("Run {run_id}: `{unit}`: {}\n", e.message), true),
        };
        seat.slots.give();
        let _ = tx.send(Done {
            key: InHand::Unit { run: run_id, unit },
            text,
            applied,
            over: false,
            notified: false,
        });
    });
    // No thread for it (`ulimit -u`): nothing was claimed; looked at again next pass.
    if let Err(refused) = started {
        refused_seat.slots.give();
        let _ = refused_tx.send(Done {
            text: format!("Run {}: `{said}`: not run: {refused}\n", in_hand.run()),
            key: in_hand,
            applied: true,
            over: false,
            notified: false,
        });
    }
}

fn run_unit(
    ctx: &Ctx,
    seat: &Arc<Shared>,
    state: RunState,
    unit: &str,
    (key, watches): (&str, &Watches),
) -> Result<Option<(String, bool)>, CommandError> {
    let run_id = state.run_id.clone();
    let run_id = run_id.as_str();
    let mut store: Box<dyn EventStore> = ctx.store(Durability::Normal)?;
    let clock = SystemClock;
    let mut ids = UlidIds::default();
    let kind = state
        .start
        .as_ref()
        .map_or(crate::event::RunKind::Workflow, |s| s.kind);
    let mut journal = Journal::from_state(&mut store, &clock, &mut ids, state)?;
    // Its claim and its end wait out a log another process holds locked, as a driver's
    // appends do: a result this worker has is not lost to a backup holding the log for a
    // minute (its lease lapses meanwhile, but nobody can take it over while the log is
    // locked; one taken over once it is let go gets the result recorded as rejected).
    journal.be_patient(super::drive::patience(
        ctx,
        run_id,
        kind,
        &StopFlag::default(),
    )?);
    if !journal.redactor.missing_inputs(&journal.state).is_empty() {
        // Its secret inputs are not in this worker's environment: left to another. (A unit a
        // worker runs is a command or an agent, given every input: all are needed here.)
        return Ok(None);
    }
    let Some(index) = journal.state.step_index(unit) else {
        return Ok(None);
    };
    let Some((lease, _)) = claim_unit(&mut journal, seat, index)? else {
        return Ok(None);
    };
    // The attempt ends early if its lease is found taken over (this worker was cut off), or
    // once the run is stopping, aborted or over, or the attempt was ended by someone else:
    // the worker's loop watches the run (`look_after`).
    let stop = StopFlag::default();
    let why: Arc<std::sync::Mutex<Option<String>>> = Arc::default();
    lock(watches).insert(
        key.to_string(),
        Watch {
            run_id: run_id.to_string(),
            unit: unit.to_string(),
            attempt: journal.state.steps[index].attempts,
            stop: stop.clone(),
            why: why.clone(),
        },
    );
    let done = Arc::new(AtomicBool::new(false));
    let watching = {
        let (stop, done, seat, lease) = (stop.clone(), done.clone(), seat.clone(), lease.clone());
        crate::execute::thread::spawn("to watch a unit's lease", move || {
            while !done.load(Ordering::Relaxed) {
                if seat.keeper.lost(&lease) {
                    stop.set(nix::sys::signal::Signal::SIGTERM as i32);
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        })
    };
    if let Err(refused) = watching {
        // Claimed, nothing run: the attempt is interrupted (it runs again, no retry spent)
        // and its lease let go, as for a fault of this worker's home.
        lock(watches).remove(key);
        seat.keeper.forget(&lease);
        let problem = crate::execute::HomeProblem::no_thread(&refused);
        let _ = journal.submit(Command::InterruptAttempt {
            step: unit.to_string(),
            attempt: journal.state.steps[index].attempts,
            reason: problem.reason(&format!("worker {} on {}", seat.worker, seat.host)),
        });
        let _ = journal.nested(|store, _, _| store.release_lease(&lease));
        return Err(refused.into());
    }
    let runner = Runner::new(
        ctx.home.clone(),
        stop,
        super::KILL_GRACE,
        journal.redactor.clone(),
    );
    let attempt = runner.prepare_attempt(&journal.state, index, None);
    let outcome = attempt.run(&runner, &mut |_, _, _| {});
    done.store(true, Ordering::Relaxed);
    let attempt_no = journal.state.steps[index].attempts;
    match outcome {
        crate::execute::AttemptOutcome::Report(report) => {
            let (_, applied) = finish_unit(&mut journal, seat, &lease, report).map_err(|e| {
                // A finished run is sealed: nothing may follow its end, this result neither.
                let mut e = CommandError::from(e);
                e.message = format!(
                    "attempt {attempt_no}: its result was not recorded: {}",
                    e.message
                );
                e
            })?;
            let status = journal
                .state
                .step(unit)
                .map_or("recorded", |s| s.status.as_str());
            Ok(Some((
                if applied {
                    format!("Run {run_id}: `{unit}` attempt {attempt_no}: {status}\n")
                } else {
                    format!(
                        "Run {run_id}: `{unit}` attempt {attempt_no}: its lease changed hands meanwhile; the result was recorded as rejected\n"
                    )
                },
                applied,
            )))
        }
        // Its guard ended it for the lease this worker could not renew (the log did not
        // answer, the worker was held up): interrupted, to run again, while the lease is still
        // this worker's, else recorded as a late result rejected. Before, it was recorded as
        // the command's failure ("killed by signal 15"), spending a retry.
        crate::execute::AttemptOutcome::Fenced { why, .. } => {
            let reason = format!("worker {} on {} ended it: {why}", seat.worker, seat.host);
            let (_, applied) =
                interrupt_unit(&mut journal, seat, &lease, reason).map_err(|e| {
                    let mut e = CommandError::from(e);
                    e.message = format!(
                        "attempt {attempt_no}: its end (its guard ended it: {why}) was not recorded: {}",
                        e.message
                    );
                    e
                })?;
            Ok(Some((
                if applied {
                    format!("Run {run_id}: `{unit}` attempt {attempt_no} ended: {why}\n")
                } else {
                    format!(
                        "Run {run_id}: `{unit}` attempt {attempt_no}: its lease changed hands meanwhile; the result was recorded as rejected\n"
                    )
                },
                applied,
            )))
        }
        // Nothing ran: this worker's home cannot take the attempt's files. The attempt is
        // interrupted (no failure: another worker, or this one once fixed, runs it again),
        // and this worker drains, taking no more units, rather than interrupt them one by one.
        crate::execute::AttemptOutcome::HomeFault(problem) => {
            seat.keeper.forget(&lease);
            let reason = problem.reason(&format!("worker {} on {}", seat.worker, seat.host));
            let _ = journal.submit(Command::InterruptAttempt {
                step: unit.to_string(),
                attempt: attempt_no,
                reason: reason.clone(),
            });
            let _ = journal.nested(|store, _, _| store.release_lease(&lease));
            seat.draining.store(true, Ordering::Relaxed);
            Err(CommandError::new(
                exit::FAILED,
                format!(
                    "{reason}; this worker takes no more units: {}, then start the worker again",
                    problem.fix
                ),
            ))
        }
        _ => {
            seat.keeper.forget(&lease);
            let why = why.lock().unwrap_or_else(|e| e.into_inner()).clone();
            // Recorded before the lease is let go, so that a driver waiting for this attempt
            // to end (a stop, an abort) reads its end before it records its own.
            let _ = journal.submit(Command::InterruptAttempt {
                step: unit.to_string(),
                attempt: attempt_no,
                reason: match &why {
                    Some(why) => format!("worker {} on {} ended it: {why}", seat.worker, seat.host),
                    None => format!("worker {} on {} stopped it", seat.worker, seat.host),
                },
            });
            let _ = journal.nested(|store, _, _| store.release_lease(&lease));
            Ok(Some((
                match why {
                    Some(why) => {
                        format!("Run {run_id}: `{unit}` attempt {attempt_no} ended: {why}\n")
                    }
                    None => format!("Run {run_id}: `{unit}` attempt {attempt_no} stopped\n"),
                },
                true,
            )))
        }
    }
}

/// How the driver of a run nobody drives ended, if the log says it ended before the run
/// finished (its session open with work in hand: `interrupted`): "its driver (pid N) died
/// before the run finished" for one of this host, naming the host for another's. On a store
/// whose drivers hold leases, a lapse is all that is known unless the process is provably gone
/// from this host (a frozen or cut-off process lets its lease lapse too, alive): "its driver's
/// lease lapsed", never "died" of a process that may be alive.
fn driver_gone(store: &dyn crate::store::EventStore, state: &RunState) -> Option<String> {
    if crate::project::run_status(state, false) != crate::project::RunStatus::Interrupted {
        return None;
    }
    if state.submitted || state.session_ended() {
        return None;
    }
    let d = state.driver.as_ref()?;
    if store.drivers_leased() && !(d.host == hostname() && crate::execute::gone_here(d.pid)) {
        return Some(format!(
            "its driver's lease lapsed ({}) before the run finished",
            crate::decide::process_on(d.pid, &d.host)
        ));
    }
    Some(if d.host == hostname() {
        // Said to have died only once its process is gone (not the process that recorded
        // the run a moment ago, still on its way to its lock).
        if crate::execute::live_recorded_driver(store, state).is_some()
            || !crate::execute::gone_here(d.pid)
        {
            return None;
        }
        format!("its driver (pid {}) died before the run finished", d.pid)
    } else {
        format!(
            "its driver ({}) ended before the run finished",
            crate::decide::process_on(d.pid, &d.host)
        )
    })
}

/// The `runs_on:` tags of the work `state` has next for a worker offering `tags`, if that work
/// asks for tags at all: a driver without them handed the run back for such a worker (a
/// workflow's next step; a scenario's ready phase). Said as why a worker takes the run, which
/// before read "a report or a start came after its driver let it wait" of a run no one had
/// touched.
fn tagged_work(state: &RunState, tags: &[String]) -> Option<String> {
    next_units(state)
        .into_iter()
        .map(|i| state.runs_on(i))
        .find(|wanted| !wanted.is_empty() && tags_cover(tags, wanted))
        .map(|wanted| {
            wanted
                .iter()
                .map(|t| format!("`{t}`"))
                .collect::<Vec<_>>()
                .join(", ")
        })
}

/// The units a driver of `state` would run next: a scenario's ready phases; a workflow's next
/// step (to attempt, to check the `if:` of, or to read the `foreach:` list of).
fn next_units(state: &RunState) -> Vec<usize> {
    use crate::plan::Next;
    if state.is_scenario() {
        return ready_phases(state);
    }
    match crate::plan::next(state) {
        Next::Attempt { index, .. }
        | Next::CheckCondition { index }
        | Next::ReadItems { index } => {
            vec![index]
        }
        _ => Vec::new(),
    }
}

/// A thing a worker has in hand, on a thread of its own: a key of its `busy` set, and what
/// the thread tells its loop it is done with.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum InHand {
    /// A run it drives.
    Run(String),
    /// A unit of a run another process drives, which it runs.
    Unit { run: String, unit: String },
    /// The notifications still due of a run whose driver is gone, which it delivers.
    Notify(String),
}

impl InHand {
    /// The run it is of.
    fn run(&self) -> &str {
        match self {
            InHand::Run(run) | InHand::Unit { run, .. } | InHand::Notify(run) => run,
        }
    }
}

/// What a worker holds, as its drain messages say it: "nothing", "1 unit", "2 units and 1
/// run", "1 run and the notifications of 1 run". Before, "(0 unit or runs)", "(1 unit or run)".
fn in_hand(busy: &BTreeSet<InHand>) -> String {
    let count = |is: fn(&InHand) -> bool| busy.iter().filter(|k| is(k)).count();
    let notifying = count(|k| matches!(k, InHand::Notify(_)));
    let units = count(|k| matches!(k, InHand::Unit { .. }));
    let runs = count(|k| matches!(k, InHand::Run(_)));
    let parts: Vec<String> = [
        (units > 0).then(|| crate::render::count(units, "unit")),
        (runs > 0).then(|| crate::render::count(runs, "run")),
        (notifying > 0).then(|| {
            format!(
                "the notifications of {}",
                crate::render::count(notifying, "run")
            )
        }),
    ]
    .into_iter()
    .flatten()
    .collect();
    match parts.as_slice() {
        [] => "nothing".to_string(),
        [one] => one.clone(),
        [first @ .., last] => format!("{} and {last}", first.join(", ")),
    }
}

/// What a worker told to stop a second time while draining says it does now, with what it
/// holds (`busy`) and the leases its keeper renews (`held`: a unit's lease is an attempt a
/// thread of it runs): the attempts it ends — or that it runs none — and that each end and
/// each run's handback is said as it is recorded. Before, it said "each attempt is recorded
/// interrupted" whatever there was: a worker whose only run waited on a phase nothing ran
/// said so and recorded nothing.
fn ending_words(busy: &BTreeSet<InHand>, held: &[crate::store::Lease], grace: Duration) -> String {
    let attempts = held.iter().filter(|l| l.unit != DRIVER_UNIT).count();
    let ending = match attempts {
        0 => "it runs no attempt now, so there is no command to end".to_string(),
        n => format!(
            "TERM to the command of each of the {} it runs, KILL after {} s; each is recorded interrupted once it ends",
            crate::render::count(n, "attempt"),
            grace.as_secs()
        ),
    };
    format!(
        "Told to stop again: ending what this worker holds now ({}): {ending}; each run it drives is handed back for the next worker (one being stopped or aborted is recorded so). What is recorded is said below, run by run. A third signal ends the worker at once, recording nothing.\n",
        in_hand(busy),
    )
}

/// Deliver the notifications still due of a run whose driver is gone on a thread, with this
/// worker's seat (`notify_sweep::deliver`), and tell the loop.
fn spawn_notify(wctx: &Ctx, state: RunState, key: InHand, tx: mpsc::Sender<Done>) {
    let ctx = wctx.clone();
    let (refused_key, refused_tx) = (key.clone(), tx.clone());
    let started = crate::execute::thread::spawn("to deliver notifications left due", move || {
        let text = super::notify_sweep::deliver(&ctx, &state);
        let _ = tx.send(Done {
            key,
            text,
            applied: true,
            over: true,
            notified: true,
        });
    });
    // No thread for it (`ulimit -u`): still due, looked at again in a later pass.
    if let Err(refused) = started {
        let _ = refused_tx.send(Done {
            text: format!(
                "Run {}: its notifications not delivered now: {refused}\n",
                refused_key.run()
            ),
            key: refused_key,
            applied: true,
            over: false,
            notified: false,
        });
    }
}

/// What a worker did, as its closing summary counts it.
struct Counts {
    driven: u64,
    stopped: u64,
    aborted: u64,
    units: u64,
    reaped: u64,
    rejected: u64,
    /// Runs whose notifications still due (their driver gone) it delivered.
    notified: u64,
}

/// The worker's closing line. A stop or an abort it recorded for a gone driver
/// (`takes_up_request`) is not a run it drove: said apart ("stopped 1 run (as asked of its
/// driver, which is gone)"), and only when there was one. Before, such a run was "drove 1 run".
fn summary(name: &str, c: Counts) -> String {
    let recorded: String = [(c.stopped, "stopped"), (c.aborted, "aborted")]
        .into_iter()
        .filter(|&(n, _)| n > 0)
        .map(|(n, verb)| {
            format!(
                ", {verb} {} (as asked of {})",
                crate::render::count(n as usize, "run"),
                if n == 1 {
                    "its driver, which is gone"
                } else {
                    "their drivers, which are gone"
                }
            )
        })
        .collect();
    let notified = match c.notified {
        0 => String::new(),
        n => format!(
            ", delivered the notifications still due of {} (a driver gone before it delivered them)",
            crate::render::count(n as usize, "run")
        ),
    };
    format!(
        "Worker {name} stopped: drove {}{recorded}{notified}, claimed and ran {}, {} ended, {} rejected.\n",
        crate::render::count(c.driven as usize, "run"),
        crate::render::count(c.units as usize, "unit"),
        crate::render::count(c.reaped as usize, "lapsed attempt"),
        crate::render::count(c.rejected as usize, "late result"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(driven: u64, stopped: u64, aborted: u64) -> Counts {
        Counts {
            driven,
            stopped,
            aborted,
            units: 0,
            reaped: 0,
            rejected: 0,
            notified: 0,
        }
    }

    #[test]
    fn the_drain_messages_count_units_and_runs_in_plain_words() {
        let run = |r: &str| InHand::Run(r.into());
        let unit = |r: &str, u: &str| InHand::Unit {
            run: r.into(),
            unit: u.into(),
        };
        let notify = |r: &str| InHand::Notify(r.into());
        let busy = |keys: &[InHand]| keys.iter().cloned().collect::<BTreeSet<_>>();
        assert_eq!(in_hand(&busy(&[])), "nothing");
        assert_eq!(in_hand(&busy(&[unit("R1", "a")])), "1 unit");
        assert_eq!(in_hand(&busy(&[run("R1")])), "1 run");
        assert_eq!(
            in_hand(&busy(&[
                unit("R1", "a"),
                unit("R1", "b"),
                run("R2"),
                notify("R3")
            ])),
            "2 units, 1 run and the notifications of 1 run"
        );
        assert_eq!(notify("R3").run(), "R3");
        assert_eq!(unit("R1", "a").run(), "R1");
    }

    /// A second stop signal says what it ends: the attempts this worker's threads run (the
    /// unit leases its keeper renews), or that it runs none. Before, it said "each attempt is
    /// recorded interrupted" of a run that waited on a phase nothing ran, and nothing was.
    #[test]
    fn a_second_stop_signal_says_which_attempts_it_ends_or_that_there_are_none() {
        let lease = |unit: &str| crate::store::Lease {
            run_id: "R".into(),
            unit: unit.into(),
            attempt: 1,
            holder: "worker:w pid 1".into(),
            host: "h".into(),
            epoch: 1,
            remaining_ms: 1000,
        };
        let busy: BTreeSet<InHand> = [InHand::Run("R".into())].into_iter().collect();
        let grace = Duration::from_secs(5);
        let none = ending_words(&busy, &[lease(DRIVER_UNIT)], grace);
        assert!(
            none.contains("(1 run): it runs no attempt now, so there is no command to end;"),
            "{none}"
        );
        assert!(!none.contains("recorded interrupted"), "{none}");
        let two = ending_words(&busy, &[lease(DRIVER_UNIT), lease("a"), lease("b")], grace);
        assert!(
            two.contains("TERM to the command of each of the 2 attempts it runs, KILL after 5 s; each is recorded interrupted once it ends"),
            "{two}"
        );
    }

    #[test]
    fn a_summary_counts_a_recorded_stop_apart_from_the_runs_driven() {
        assert_eq!(
            summary("w", counts(0, 1, 0)),
            "Worker w stopped: drove 0 runs, stopped 1 run (as asked of its driver, which is gone), claimed and ran 0 units, 0 lapsed attempts ended, 0 late results rejected.\n"
        );
        assert_eq!(
            summary("w", counts(2, 0, 3)),
            "Worker w stopped: drove 2 runs, aborted 3 runs (as asked of their drivers, which are gone), claimed and ran 0 units, 0 lapsed attempts ended, 0 late results rejected.\n"
        );
        assert!(!summary("w", counts(1, 0, 0)).contains("stopped 0"));
    }
}
