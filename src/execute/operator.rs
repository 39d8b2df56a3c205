//! Operator actions on a scenario run — start a manual phase, report a phase done or failed,
//! stop — and handing a run to a driver in the background: the one implementation behind
//! `cortex orchestrate` and `cortex tui`, so both record the same events with the operator.
//!
//! Each action builds its command from the run's current state, submits it through the
//! journal (so a concurrent driver and the operator are ordered by the log), and rewrites the
//! derived files. Who then drives the run on is the caller's choice: the CLI drives in its own
//! process, the TUI starts a detached `cortex` so that it never blocks on a run.

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::Duration;

use crate::decide::{AttemptReport, Command, RunPhase, RunState, StepStatus};
use crate::definition::normalize_name;
use crate::event::{AttemptEnd, Operator};
use crate::store::{EventStore, StoreError};

use super::{
    Clock, DriverLock, Holder, IdGen, Journal, JournalError, LockError, Redactor, Runner, StopFlag,
    materialize,
};

/// Why an operator action was not recorded.
#[derive(Debug, thiserror::Error)]
pub enum OperatorError {
    #[error("this run has no phase `{}`", crate::definition::shown(.phase))]
    NoSuchPhase { phase: String, phases: Vec<String> },
    #[error("phase `{phase}` is {status}, not waiting for a report")]
    NotWaiting {
        phase: String,
        status: &'static str,
        /// The engine runs it (a command, an agent's): a resume runs it again, rather than
        /// having it wait for a report.
        engine_runs: bool,
        /// It has a `run:` (a command phase), not only an agent that runs it.
        command: bool,
        /// Ready, but held back by the parallel limits (SPEC §4): the phases it waits for,
        /// and whether it is the `parallel: false` rule (one at a time) that holds it.
        held_by: Vec<String>,
        one_at_a_time: bool,
    },
    /// A manual phase whose turn has come (`ready`, as status says) but that nobody started:
    /// it waits for a start (`orchestrate start`), not for a report.
    #[error("phase `{phase}` is ready and waits for a start, not for a report")]
    AwaitsStart { phase: String },
    #[error("phase `{phase}` runs as its items ({}): report on them", .items.join(", "))]
    RunsAsItems { phase: String, items: Vec<String> },
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error("run {run_id} already finished ({}); there is nothing to {action}", .outcome.as_str())]
    Finished {
        run_id: String,
        outcome: crate::event::Outcome,
        action: &'static str,
    },
    /// A completion whose checks run a command, made by a process without the values of some
    /// of the run's secret inputs: refused before any check runs (`checks_lack_secrets`).
    #[error(
        "the checks of phase `{}` need the secret input{} {} of run {}, which this process was not given (the log keeps only `***`)",
        .0.unit,
        if .0.missing.len() == 1 { "" } else { "s" },
        .0.missing.join(", "),
        .0.run_id
    )]
    ChecksNeedSecrets(ChecksLackSecrets),
}

/// What a report on unit `unit` of run `run_id` lacks for its checks to run: the values of
/// the run's secret inputs `missing` (the log keeps `***`), and, so that every problem is
/// said at once (SPEC §7), the outputs its gate requires that the report does not give
/// (`lacking_outputs`: each key, and whether a gate's check reads it — one to add with
/// `--output`, rather than one the gate expects produced).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChecksLackSecrets {
    pub run_id: String,
    pub unit: String,
    pub missing: Vec<String>,
    pub lacking_outputs: Vec<(String, bool)>,
}

/// Whether a completion of unit `index` reported with `outputs` must be refused for want of
/// secret inputs: its checks (`validate: - run:`, a phase's `{check: CMD}` criteria) run a
/// command, and `redactor` (the reporting process's values) lacks some of the run's secret
/// inputs. Every command cortex runs is given all the run's inputs as `CORTEX_INPUT_<NAME>`
/// (`Runner::step_context`), and which one a check reads cannot be known from its text (a
/// script it calls may read one): run without the value, a check sees `***` and passes or
/// fails on it, silently. The one rule of `workflow step complete`, `orchestrate complete`,
/// the TUI, the HTTP API and MCP (DESIGN.md §7, "Checks and secret inputs").
pub fn checks_lack_secrets(
    state: &RunState,
    redactor: &Redactor,
    index: usize,
    outputs: &[(String, String)],
) -> Option<ChecksLackSecrets> {
    let commands = state
        .definition(index)
        .is_some_and(|d| d.validate.iter().any(|c| c.run.is_some()));
    let missing = redactor.missing_inputs(state);
    if !commands || missing.is_empty() {
        return None;
    }
    let read = state.gate_read_outputs(index);
    let lacking_outputs = state
        .required_outputs(index)
        .into_iter()
        .filter(|key| !outputs.iter().any(|(k, _)| k == key))
        .map(|key| {
            let read = read.contains(&key);
            (key, read)
        })
        .collect();
    Some(ChecksLackSecrets {
        run_id: state.run_id.clone(),
        unit: state.steps[index].name.clone(),
        missing,
        lacking_outputs,
    })
}

/// The index of the phase (or step) `phase` names, matched forgivingly.
pub fn phase_index(state: &RunState, phase: &str) -> Result<usize, OperatorError> {
    let wanted = normalize_name(phase);
    state
        .steps
        .iter()
        .position(|s| normalize_name(&s.name) == wanted)
        .ok_or_else(|| OperatorError::NoSuchPhase {
            phase: phase.to_string(),
            phases: state.steps.iter().map(|s| s.name.clone()).collect(),
        })
}

/// `orchestrate start`: ask for a manual phase to start.
pub fn start_phase(state: &RunState, phase: &str, by: &Operator) -> Result<Command, OperatorError> {
    let i = phase_index(state, phase)?;
    Ok(Command::RequestStart {
        phase: state.steps[i].name.clone(),
        by: by.clone(),
    })
}

/// `orchestrate complete|fail`: report on a phase that waits for a report. A completion runs
/// the phase's `check` criteria first (here, in this process, with the secret inputs'
/// values `redactor` holds: the journal's); a failing check makes the report refused (the
/// phase keeps waiting), as for any validation gate, and so does a secret input they would
/// be given as `***` (`OperatorError::ChecksNeedSecrets`).
#[allow(clippy::too_many_arguments)]
pub fn report_phase(
    state: &RunState,
    home: &Path,
    phase: &str,
    success: bool,
    outputs: Vec<(String, String)>,
    by: &Operator,
    grace: Duration,
    redactor: &Redactor,
) -> Result<Command, OperatorError> {
    let i = phase_index(state, phase)?;
    let s = &state.steps[i];
    if state.is_open_parent(i) {
        return Err(OperatorError::RunsAsItems {
            phase: s.name.clone(),
            items: state
                .item_units(i)
                .filter(|&j| state.steps[j].status == StepStatus::Waiting)
                .map(|j| state.steps[j].name.clone())
                .collect(),
        });
    }
    if s.status != StepStatus::Waiting
        && state.phase == RunPhase::Running
        && crate::plan::awaiting_manual_start(state).contains(&i)
    {
        return Err(OperatorError::AwaitsStart {
            phase: s.name.clone(),
        });
    }
    if s.status != StepStatus::Waiting {
        let hold = crate::plan::held_for_slots(state)
            .into_iter()
            .find(|h| h.index == i);
        return Err(OperatorError::NotWaiting {
            phase: s.name.clone(),
            status: s.status.as_str(),
            engine_runs: !state.is_external(i),
            command: state.definition(i).is_some_and(|d| d.run.is_some()),
            held_by: hold
                .as_ref()
                .map(|h| {
                    h.held_by
                        .iter()
                        .map(|&j| state.steps[j].name.clone())
                        .collect()
                })
                .unwrap_or_default(),
            one_at_a_time: hold.is_some_and(|h| h.one_at_a_time),
        });
    }
    if success && let Some(lack) = checks_lack_secrets(state, redactor, i, &outputs) {
        return Err(OperatorError::ChecksNeedSecrets(lack));
    }
    let problems = if success {
        report_checks(
            home,
            grace,
            redactor.clone(),
            state,
            i,
            &outputs,
            &mut |_, _, _| {},
        )
    } else {
        Vec::new()
    };
    Ok(Command::FinishAttempt(Box::new(AttemptReport {
        step: s.name.clone(),
        attempt: s.attempts,
        end: AttemptEnd::Reported { success },
        outputs,
        output_tail: String::new(),
        validation_problems: problems,
        by: Some(by.clone()),
        agent: None,
        log: None,
        permanent: false,
    })))
}

/// What the `validate: - run:` checks of unit `index` find in an operator's report of it
/// done with `outputs` (`workflow step complete`, `orchestrate complete`): run in this
/// process by a runner never stopped (nothing raises its flag, and nothing else drives a
/// waiting unit), within the run's time limit, their lines given to `on_line`.
pub fn report_checks(
    home: &Path,
    grace: Duration,
    redactor: Redactor,
    state: &RunState,
    index: usize,
    outputs: &[(String, String)],
    on_line: super::LineSink<'_>,
) -> Vec<String> {
    Runner::new(home.to_path_buf(), StopFlag::default(), grace, redactor)
        .validate_report(
            state,
            index,
            outputs,
            on_line,
            &mut || false,
            super::session::deadline(state).0,
        )
        .unwrap_or_default()
}

/// Decide the command `make` builds from the run's state, append it (a driver may be
/// running the run: the log orders both) and write the derived files it changed.
pub fn record(
    journal: &mut Journal<'_>,
    home: &Path,
    make: impl FnOnce(&RunState) -> Result<Command, OperatorError>,
) -> Result<(), OperatorError> {
    let command = make(&journal.state)?;
    let events = journal.submit(command)?;
    // Derived files are a cache of the log: failing to write them loses nothing. Only what
    // these events (and the ones caught up with) changed is written.
    let _ = super::materialize::write_changes(home, &journal.state, &events);
    Ok(())
}

/// The run's lock for an operator's action, unless a live driver holds the run. The lock
/// excludes a second process, but one taken on a file this call made may sit beside a live
/// driver's: `locks/` may have been deleted under it (a lock on a deleted file excludes
/// nobody). The log names the run's driver (`live_recorded_driver`): if that process is alive
/// on this host, the run is still its own, and the action goes to it as to any holder (a
/// request in the log, a signal), not around it.
fn acquire_beside_driver(
    store: &mut dyn EventStore,
    clock: &dyn Clock,
    ids: &mut dyn IdGen,
    home: &Path,
    run_id: &str,
    holder: &Holder,
) -> Result<Result<DriverLock, LockError>, OperatorError> {
    let lock = match super::acquire_run(home, &*store, run_id, holder) {
        Ok(lock) => lock,
        Err(e) => return Ok(Err(e)),
    };
    if !lock.made_anew() {
        return Ok(Ok(lock));
    }
    let state = Journal::open(&mut *store, clock, ids, run_id)?
        .state
        .clone();
    Ok(held_by_recorded_driver(lock, &*store, &state))
}

/// `lock` (taken on a file its call made), or `Held` if the driver the log names for `state`
/// is alive on this host (the lock file is then given back).
fn held_by_recorded_driver(
    lock: DriverLock,
    store: &dyn EventStore,
    state: &RunState,
) -> Result<DriverLock, LockError> {
    if !lock.made_anew() {
        return Ok(lock);
    }
    match super::live_recorded_driver(store, state) {
        None => Ok(lock),
        Some(driver) => {
            lock.give_back();
            Err(LockError::Held {
                run_id: state.run_id.clone(),
                holder: Some(driver),
            })
        }
    }
}

/// Who carries a run on after an operator recorded something.
#[derive(Debug)]
pub enum DriveOn {
    /// Nobody drives it and it has work to do: the caller holds the run now.
    Here(DriverLock),
    /// A live driver holds it and picks the new events up from the log.
    Elsewhere,
    /// Nothing to drive: the run waits, is paused, stopped or finished.
    Nothing,
}

/// After an operator's command: take the run if it has work and nobody drives it.
pub fn drive_on(
    home: &Path,
    store: &dyn EventStore,
    state: &RunState,
    holder: &Holder,
) -> Result<DriveOn, LockError> {
    match super::acquire_run(home, store, &state.run_id, holder)
        .and_then(|lock| held_by_recorded_driver(lock, store, state))
    {
        // A rollback a report decided is driven at once, as any other work.
        Ok(lock) if matches!(state.phase, RunPhase::Running | RunPhase::RollingBack) => {
            Ok(DriveOn::Here(lock))
        }
        Ok(_) => Ok(DriveOn::Nothing),
        Err(LockError::Held { .. }) => Ok(DriveOn::Elsewhere),
        Err(e) => Err(e),
    }
}

/// Whether a run that nobody drives has work for a driver — an attempt, a check, a
/// compensation the engine performs itself — rather than only waiting on a report or a manual
/// start. Front ends that hand runs to background drivers (the TUI, `cortex serve`) ask this
/// after an operator's action, so that a driver is started only when it has something to do.
pub fn has_work(state: &RunState) -> bool {
    use crate::plan::Next;
    if state.is_scenario() {
        return state.phase == RunPhase::RollingBack
            || (state.phase == RunPhase::Running
                && (!crate::plan::ready_phases(state).is_empty()
                    || !crate::plan::to_prepare(state).is_empty()
                    || state.steps.iter().any(|s| s.status == StepStatus::Running)));
    }
    matches!(
        crate::plan::next(state),
        Next::PreValidate
            | Next::Attempt { .. }
            | Next::InFlight { .. }
            | Next::CheckCondition { .. }
            | Next::ReadItems { .. }
            | Next::Compensate { .. }
            | Next::PostValidate
    )
}

/// How a stop was recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stopping {
    /// Nobody drove the run: the stop is recorded (waiting phases end, agents deactivate).
    Recorded,
    /// A driver holds the run: it sees the request in the log, ends running phases (TERM,
    /// then KILL after a grace), deactivates agents and records the stop itself.
    Requested,
    /// The run was stopped already: nothing was recorded.
    Already,
}

/// `orchestrate stop`: stop a run gracefully, whoever drives it.
pub fn stop(
    store: &mut dyn EventStore,
    clock: &dyn Clock,
    ids: &mut dyn IdGen,
    home: &Path,
    run_id: &str,
    by: &Operator,
    holder: &Holder,
) -> Result<Stopping, OperatorError> {
    match acquire_beside_driver(store, clock, ids, home, run_id, holder)? {
        Ok(lock) => {
            // Nobody drives it: what a dead driver left running ends before the log says so.
            super::end_orphans_of(home, run_id, super::KILL_GRACE, &[]);
            let mut journal = Journal::open(store, clock, ids, run_id)?;
            if journal.state.phase == crate::decide::RunPhase::Stopped {
                return Ok(Stopping::Already);
            }
            journal.submit(Command::Stop {
                by: by.clone(),
                signal: None,
            })?;
            let _ = materialize(home, &journal.state);
            drop(lock);
            Ok(Stopping::Recorded)
        }
        Err(LockError::Held { .. }) => {
            let mut journal = Journal::open(store, clock, ids, run_id)?;
            journal.submit(Command::RequestStop {
                by: by.clone(),
                abort: false,
            })?;
            Ok(Stopping::Requested)
        }
        Err(e) => Err(e.into()),
    }
}

/// `workflow abort` (and `orchestrate abort`): end a run for good, whoever drives it.
///
/// Nobody drives it: the abort is recorded here. A live driver holds it: the request goes into
/// the log (`stop_requested` with `abort`), a driver on this host that drives this run alone
/// (not a process serving others: `Holder::shared`) is also sent SIGTERM, and the
/// driver ends what runs and records the abort itself (its terminal says "aborted"). If the
/// driver lets go without recording it (it died), the abort is recorded here once the lock is
/// free; if it does not let go within `wait`, the request stays in the log for it and the
/// error says who holds the run.
///
/// `before` is given the run as it stands, under its lock, just before this process records
/// the abort (not when the driver recorded it): the ops layer ends there, saying so, the
/// notification commands a driver that died delivering them left running (a run paused on a
/// failure). What the session still owes stays owed for the end it was due for; the ops layer
/// delivers it after the abort, before the abort's own.
#[allow(clippy::too_many_arguments)] // folded into an operation context with the ops layer
pub fn abort(
    store: &mut dyn EventStore,
    clock: &dyn Clock,
    ids: &mut dyn IdGen,
    home: &Path,
    run_id: &str,
    by: &Operator,
    holder: &Holder,
    wait: Duration,
    before: &mut dyn FnMut(&RunState),
) -> Result<RunState, OperatorError> {
    let finished = |state: &RunState| {
        state.outcome().map(|outcome| OperatorError::Finished {
            run_id: run_id.to_string(),
            outcome,
            action: "abort",
        })
    };
    let mut asked = false;
    let lock = match acquire_beside_driver(store, clock, ids, home, run_id, holder)? {
        Ok(lock) => lock,
        Err(LockError::Held { holder: driver, .. }) => {
            asked = true;
            let child = {
                let mut journal = Journal::open(store, clock, ids, run_id)?;
                if let Some(e) = finished(&journal.state) {
                    return Err(e);
                }
                journal.submit(Command::RequestStop {
                    by: by.clone(),
                    abort: true,
                })?;
                journal
                    .state
                    .start
                    .as_ref()
                    .is_some_and(|s| s.parent.is_some())
            };
            // Only a process that drives this run alone: one that serves others (`cortex
            // mcp`, `cortex serve`, the TUI) would end as a whole, and its driver reads the
            // request in the log anyway. Nor the process holding a child run (`uses:`): it
            // drives the child as part of its parent (or the parent after it), and a signal
            // would stop the parent too; its driver reads the request in the child's log,
            // aborts the child alone, and the parent's step fails with it.
            if let Some(d) = driver.filter(Holder::signalled_by_abort).filter(|_| !child) {
                let pid = nix::unistd::Pid::from_raw(d.pid as i32);
                let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
            }
            let deadline = std::time::Instant::now() + wait;
            loop {
                std::thread::sleep(Duration::from_millis(50));
                match acquire_beside_driver(store, clock, ids, home, run_id, holder)? {
                    Ok(lock) => break lock,
                    Err(e) if std::time::Instant::now() >= deadline => return Err(e.into()),
                    Err(_) => {}
                }
            }
        }
        Err(e) => return Err(e.into()),
    };
    // The notification commands a dead driver left running are ended by `before`, saying so.
    {
        let state = Journal::open(store, clock, ids, run_id)?.state;
        if state.outcome().is_none() {
            before(&state);
        }
    }
    // The run is ours now: what a dead driver left running ends before the log says the run
    // did (a driver that recorded the abort itself ended its own).
    super::end_orphans_of(home, run_id, super::KILL_GRACE, &[]);
    let mut journal = Journal::open(store, clock, ids, run_id)?;
    match journal.state.outcome() {
        // The driver recorded the abort it was asked for.
        Some(crate::event::Outcome::Aborted) if asked => {}
        Some(_) => return Err(finished(&journal.state).expect("finished")),
        None => {
            journal.submit(Command::Abort {
                by: by.clone(),
                cut_off: None,
            })?;
        }
    }
    let _ = materialize(home, &journal.state);
    drop(lock);
    let state = journal.state;
    // Aborting a run aborts its unfinished child runs (a driver that recorded the abort did
    // so already; those are finished and left alone).
    super::child::end_children(store, clock, ids, home, &state, by, wait / 3);
    Ok(state)
}

/// A `cortex` process started to drive a run in the background.
#[derive(Debug)]
pub struct Detached {
    pub child: Child,
    /// Where its output goes.
    pub log: PathBuf,
}

/// Start `exe` (this binary) with `args` in its own process group, detached from the
/// terminal: standard input empty, output appended to `log` (a regular file in a real folder,
/// never through a link: `materialize::open_driver_log`). Ctrl-C in the terminal that
/// started it does not reach it, and it goes on if that terminal closes; it records its own
/// progress in the log like any driver. `envs` are added to its environment (values that must
/// not show in `ps`, such as secret inputs and the log's location, `Ctx::db_env`); the server's
/// token (`process::SERVE_TOKEN_ENV`) is taken out of it, and given instead only to be
/// scrubbed (`process::SCRUB_TOKEN_ENV`) when this process scrubs one (`scrub_serve_token`).
pub fn spawn_detached(
    exe: &Path,
    args: &[String],
    envs: &[(String, String)],
    cwd: &Path,
    log: &Path,
) -> std::io::Result<Detached> {
    debug_assert!(
        !args.iter().any(|a| a == "--db"),
        "the log's location goes in the environment (Ctx::db_env), not on the command line"
    );
    use std::os::unix::process::CommandExt;
    let out = super::materialize::open_driver_log(log)?;
    let err = out.try_clone()?;
    let mut command = std::process::Command::new(exe);
    command
        .args(args)
        .envs(envs.iter().map(|(k, v)| (k, v)))
        .env_remove(super::process::SERVE_TOKEN_ENV);
    if let Some(token) = super::secrets::serve_token_to_scrub() {
        command.env(super::process::SCRUB_TOKEN_ENV, token);
    }
    let child = command
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0)
        .spawn()?;
    Ok(Detached {
        child,
        log: log.to_path_buf(),
    })
}
