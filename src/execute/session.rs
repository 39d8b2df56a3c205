//! What every driving session shares, whichever loop drives the run: the context (where,
//! who, what to tell), how it ends, and the steps every loop takes the same way (record a
//! command, flush what is staged, prepare, compute the deadline, record a stop).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::runner::Runner;
use super::{Journal, JournalError, Redactor, StopFlag, Stream, WriteBehind};
use crate::decide::{Command, RunState};
use crate::event::{Operator, Outcome, Recorded};

/// What the driver reports while it works; the CLI renders it, tests record it.
pub trait Observer {
    /// A run is about to be driven (`resumed`: by `resume`, not by `run`).
    fn begin(&mut self, _state: &RunState, _resumed: bool) {}
    /// Something a person should read before the run goes on (a report was recorded).
    fn note(&mut self, _text: &str) {}
    /// Events were appended; `state` is the run after them.
    fn recorded(&mut self, state: &RunState, events: &[Recorded]);
    /// A line of a step's output.
    fn line(&mut self, step: &str, stream: Stream, line: &str);
    /// Something went wrong that does not stop the run (e.g. a derived file not written).
    fn warn(&mut self, message: &str);
    /// The driver stops where it needs the values of the run's secret inputs `missing`, which
    /// it was not given: a warning, saying how to give them in the words of the front end
    /// that watches (the CLI's by default: `--input NAME=VALUE`; an MCP tool's `inputs`).
    fn missing_secrets(&mut self, missing: &[String]) {
        self.warn(&missing_secrets_note(missing, CLI_RESUME_WITH_SECRETS));
    }
    /// The child run of `uses:` step `step` is about to be driven here (`resumed`: it had
    /// started before).
    fn child_begin(&mut self, _step: &str, _state: &RunState, _resumed: bool) {}
    /// Events were appended to the child run of `uses:` step `step`, driven here.
    fn child(&mut self, _step: &str, _state: &RunState, _events: &[Recorded]) {}
}

/// An observer that keeps nothing: front ends that return only the final document.
#[derive(Debug, Default)]
pub struct Quiet;

impl Observer for Quiet {
    fn recorded(&mut self, _state: &RunState, _events: &[Recorded]) {}
    fn line(&mut self, _step: &str, _stream: Stream, _line: &str) {}
    fn warn(&mut self, _message: &str) {}
}

/// Everything the driver needs besides the journal.
pub struct DriveContext<'a> {
    pub home: PathBuf,
    /// Raised by SIGINT/SIGTERM/SIGHUP.
    pub stop: StopFlag,
    /// Recorded as the actor of a stop caused by a signal.
    pub actor: Operator,
    pub observer: &'a mut dyn Observer,
    /// Time between TERM and KILL when a step's process group must end.
    pub grace: Duration,
    /// The run's derived files, written behind the driver; `drive` waits for them.
    pub files: WriteBehind,
    /// Where ready units run: here, or also on workers (`Dispatch`).
    pub dispatch: super::Dispatch,
    /// When this driving session must end, if a run above set it: a child run (`uses:`) is
    /// driven in its parent's session, so the parent's deadline is the child's (SPEC §3: the
    /// limit is the whole run's). The loops take the earlier of it and the run's own limit,
    /// and set it here to the one in force, which a child of theirs inherits.
    pub deadline: Option<Instant>,
    /// The global options of the invocation driving (`ops::Ctx::globals`: `--home`, `--db`,
    /// never a password), carried by each command its notes write out (the worker a phase
    /// waits for): pasted, it acts on the log this driver writes.
    pub globals: Vec<String>,
}

impl DriveContext<'_> {
    /// Why an attempt this driver ran ended when its guard ended it for a lease it could not
    /// renew (`AttemptOutcome::Fenced`, `why`), as the log records it: who ended it — "worker
    /// W on H", or for a command's driver "its driver ACTOR (pid N on HOST)" — and why.
    pub fn fenced_reason(&self, why: &str) -> String {
        match &self.dispatch.shared {
            Some(shared) => format!(
                "worker {} on {} ended it: {why}",
                shared.worker, shared.host
            ),
            None => format!(
                "its driver {} ({}) ended it: {why}",
                self.actor.actor,
                crate::decide::process_on(std::process::id(), &super::hostname())
            ),
        }
    }

    /// A runner for this context's commands, ended by `stop`.
    pub fn runner(&self, stop: &StopFlag, redactor: &Redactor) -> Runner {
        Runner::new(
            self.home.clone(),
            stop.clone(),
            self.grace,
            redactor.clone(),
        )
    }
}

/// Where the driver left the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DriveEnd {
    Finished(Outcome),
    /// External steps or phases wait for a report (or manual phases for a start).
    Waiting(String),
    Paused,
    Stopped,
    /// A worker draining (SIGTERM), or told to stop a second time, let the run go with work
    /// left, for the next worker: its driver records that (`run_submitted`) while it still
    /// holds the run's lease, then lets the lease go (`ops::drive`).
    HandedBack,
}

#[derive(Debug, thiserror::Error)]
pub enum DriveError {
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error("{0}")]
    Internal(String),
    /// The run has secret inputs (the log holds `***` for them) this process was not given.
    #[error("the values of secret inputs {} are not in the log; give them again", .0.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", "))]
    MissingSecretInputs(Vec<String>),
    /// cortex hit a problem with its own files in its home (`AttemptOutcome::HomeFault`, which
    /// names the path), or a limit of the system (a thread refused): the run was paused with
    /// this reason, and goes on with `resume` once that is fixed.
    #[error("{}", .0.paused())]
    Home(super::runner::HomeProblem),
}

/// Where a drive ends when an attempt could not be prepared for a fault of the home: the run
/// is paused (the attempt in flight is interrupted, not failed: no retry is spent and no
/// `on_failure` runs), and the drive stops with the error.
pub(crate) fn home_fault(
    journal: &mut Journal<'_>,
    ctx: &mut DriveContext<'_>,
    problem: super::runner::HomeProblem,
) -> Result<DriveEnd, DriveError> {
    let reason = problem.reason("cortex");
    record(journal, ctx, Command::Pause { reason })?;
    Err(DriveError::Home(problem))
}

/// Submit a command, tell the observer, and rewrite derived files the events changed.
pub(crate) fn record(
    journal: &mut Journal<'_>,
    ctx: &mut DriveContext<'_>,
    command: Command,
) -> Result<(), DriveError> {
    let events = journal.submit(command)?;
    announce(journal, ctx, &events);
    Ok(())
}

/// Append what the journal has staged, and tell the observer.
pub(crate) fn flush(
    journal: &mut Journal<'_>,
    ctx: &mut DriveContext<'_>,
) -> Result<(), DriveError> {
    let events = journal.flush()?;
    announce(journal, ctx, &events);
    Ok(())
}

pub(crate) fn announce(journal: &Journal<'_>, ctx: &mut DriveContext<'_>, events: &[Recorded]) {
    if events.is_empty() {
        return;
    }
    ctx.observer.recorded(&journal.state, events);
    ctx.files.changes(&ctx.home, &journal.state, events);
}

/// Make sure the journal holds the values of the run's secret inputs (the log keeps `***`).
pub(crate) fn require_secrets(journal: &Journal<'_>) -> Result<(), DriveError> {
    let missing = journal.redactor.missing_inputs(&journal.state);
    if missing.is_empty() {
        Ok(())
    } else {
        Err(DriveError::MissingSecretInputs(missing))
    }
}

/// Whether checking the `if:` of unit `index` or reading its `foreach:` list needs the values
/// of the secret inputs `missing`: a command does (it sees every input), an expression or a
/// list template only if it reads one of them; a list written in the definition never does.
pub(crate) fn preparing_needs_secrets(
    state: &crate::decide::RunState,
    index: usize,
    missing: &[String],
) -> bool {
    use crate::definition::template::{Reference, scan};
    use crate::definition::{Foreach, IfCondition};
    if missing.is_empty() {
        return false;
    }
    let Some(def) = state.definition(index) else {
        return true;
    };
    let reads = |r: &Reference| matches!(r, Reference::Input(name) if missing.contains(name));
    if state.needs_condition(index) {
        return match &def.if_ {
            Some(IfCondition::Expression(e)) => {
                crate::definition::expr::parse(e).map_or(true, |expr| {
                    crate::definition::expr::references(&expr)
                        .iter()
                        .any(|(r, _)| reads(r))
                })
            }
            _ => true,
        };
    }
    match &def.foreach {
        Some(Foreach::Items(_)) | None => false,
        Some(Foreach::Template(t)) => scan(t)
            .iter()
            .any(|o| o.reference.as_ref().map_or(true, reads)),
    }
}

/// How the CLI resumes a run with its secret inputs given again.
pub(crate) const CLI_RESUME_WITH_SECRETS: &str =
    "resume it with --input NAME=VALUE, or CORTEX_INPUT_<NAME> set";

/// What a driver without the values of the run's secret inputs `missing` says where it stops,
/// `resume` saying how to go on (`ops::Surface::resume_with_secrets`).
pub(crate) fn missing_secrets_note(missing: &[String], resume: &str) -> String {
    format!(
        "the run goes on from here only with the value{} of its secret input{} {} (the log keeps only `***`): {resume}",
        if missing.len() == 1 { "" } else { "s" },
        if missing.len() == 1 { "" } else { "s" },
        missing.join(", ")
    )
}

/// What every drive does first: write derived files, end orphaned groups. (Whether it has
/// the run's secret inputs is the loop's to ask: `require_secrets`.)
pub(crate) fn prepare(
    journal: &mut Journal<'_>,
    ctx: &mut DriveContext<'_>,
) -> Result<(), DriveError> {
    // Nothing staged is written out: a staged resume rewrites every file when it is appended
    // (`project::changed_files`).
    if !journal.has_staged()
        && let Err(e) = super::materialize(&ctx.home, &journal.state)
    {
        ctx.observer
            .warn(&format!("could not write the run's derived files: {e}"));
    }
    // What the dead driver had in flight is taken over (`decide::orphaned`): its groups end,
    // and its attempts, which never report, end here and run again as new attempts (as a
    // resume decides; without this, a report that drove a run on waited for them for ever).
    // When this driver is a worker, which reaps the leases that lapse, what a worker claimed
    // is left to its lease — its group too, noted in the same notes on this host.
    let leave_claimed = ctx.dispatch.shared.is_some();
    let claimed: Vec<String> = journal
        .state
        .steps
        .iter()
        .filter(|s| {
            s.status == crate::decide::StepStatus::Running
                && !crate::decide::orphaned(s, leave_claimed)
        })
        .map(|s| s.name.clone())
        .collect();
    for pgid in ctx
        .runner(&ctx.stop, &journal.redactor)
        .end_orphans(&journal.run_id, &claimed)
    {
        ctx.observer.warn(&format!(
            "ended process group {pgid} left running by the previous driver"
        ));
    }
    if journal
        .state
        .steps
        .iter()
        .any(|s| crate::decide::orphaned(s, leave_claimed))
    {
        let lease_lapsed = super::driver_lease_lapsed(journal);
        record(
            journal,
            ctx,
            Command::InterruptOrphans {
                leave_claimed,
                lease_lapsed,
            },
        )?;
    }
    Ok(())
}

/// The run's time limit for this driving session, if any (the latest resume's, else the
/// one recorded at `run`).
pub(crate) fn deadline(state: &RunState) -> (Option<Instant>, u64) {
    let limit = state.time_limit();
    // A limit beyond what the clock can represent (from a snapshot recorded before limits
    // were bounded) is no limit.
    (
        (limit > 0)
            .then(|| Instant::now().checked_add(Duration::from_secs(limit)))
            .flatten(),
        limit,
    )
}

/// [`deadline`] of a driving loop: no later than the deadline of the session the run is
/// driven in (a child's parent's, `ctx.deadline`), which it becomes for the runs it drives.
pub(crate) fn deadline_in(state: &RunState, ctx: &mut DriveContext<'_>) -> (Option<Instant>, u64) {
    let (own, limit) = deadline(state);
    let deadline = match (own, ctx.deadline) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    ctx.deadline = deadline;
    (deadline, limit)
}

/// What is left of a driving session's deadline, as the whole seconds a child run started
/// or resumed in it records as its limit (rounded up, at least 1: 0 would be no limit).
pub(crate) fn seconds_left(deadline: Instant) -> u64 {
    let left = deadline.saturating_duration_since(Instant::now());
    (left.as_secs() + u64::from(left.subsec_nanos() > 0)).max(1)
}

/// Stop the run at its time limit of `limit` seconds (`inherited`: its parent's session's, a
/// `uses:` child's): recorded as the stop it is (`run_stopped.time_limit`), resumable, status
/// `stopped`; a resume with a longer limit goes on.
pub(crate) fn stop_at_time_limit(
    journal: &mut Journal<'_>,
    ctx: &mut DriveContext<'_>,
    limit: u64,
    inherited: bool,
) -> Result<DriveEnd, DriveError> {
    let reason = crate::decide::time_limit_reason(limit, inherited);
    record(journal, ctx, Command::StopAtTimeLimit { reason })?;
    Ok(DriveEnd::Stopped)
}

/// Record how a run ends when its driver was told to stop: an abort if an operator asked
/// for one (`workflow abort` beside this driver), else a stop.
/// `cut_off`: the compensation this driver ended mid-command for the stop (an abort records
/// it as cut off; a stop leaves it to run again on resume).
pub(crate) fn record_stop(
    journal: &mut Journal<'_>,
    ctx: &mut DriveContext<'_>,
    cut_off: Option<String>,
) -> Result<DriveEnd, DriveError> {
    record_stop_by(journal, ctx, cut_off, None)
}

/// `record_stop`, the stop said to be `stopper`'s when nobody asked it of this run itself
/// (a parent run stopped because its child run was: by whoever stopped the child).
pub(crate) fn record_stop_by(
    journal: &mut Journal<'_>,
    ctx: &mut DriveContext<'_>,
    cut_off: Option<String>,
    stopper: Option<crate::event::Operator>,
) -> Result<DriveEnd, DriveError> {
    // The request may have come through the log just before the signal.
    let caught_up = journal.refresh()?;
    announce(journal, ctx, &caught_up);
    // Or the run was ended beside this driver (an operator recorded its abort): nothing is
    // left to record.
    if let Some(outcome) = journal.state.outcome() {
        return Ok(DriveEnd::Finished(outcome));
    }
    if let Some(by) = journal.state.abort_requested.clone() {
        record(journal, ctx, Command::Abort { by, cut_off })?;
        return Ok(DriveEnd::Finished(Outcome::Aborted));
    }
    // A child run (`uses:`) whose parent is being aborted is aborted with it, not stopped:
    // nothing would resume it (its live output said "Run stopped; resume continues it", and
    // that resume then found it aborted).
    journal.parent_halted()?;
    if let Some((parent, by)) = journal.parent_aborting() {
        let by = crate::event::Operator {
            actor: by.actor,
            message: Some(format!("its parent run {parent} was aborted")),
        };
        record(journal, ctx, Command::Abort { by, cut_off })?;
        return Ok(DriveEnd::Finished(Outcome::Aborted));
    }
    // A child run whose parent an operator stopped (`workflow stop PARENT`, from anywhere)
    // is stopped by that operator, saying so; not by this driver's own actor, who asked
    // nothing.
    if !ctx.stop.is_set()
        && let Some((parent, asked)) = journal.parent_stopping()
    {
        let by = crate::event::Operator {
            actor: asked.actor,
            message: Some(format!("its parent run {parent} was stopped")),
        };
        record(journal, ctx, Command::Stop { by, signal: None })?;
        return Ok(DriveEnd::Stopped);
    }
    let mut by = stopper.unwrap_or_else(|| ctx.actor.clone());
    // Asked for without a signal (an MCP client cancelled the call): that is said as why.
    if let Some(why) = ctx.stop.why() {
        by.message = Some(why);
    }
    let signal = ctx.stop.signal_name();
    record(journal, ctx, Command::Stop { by, signal })?;
    Ok(DriveEnd::Stopped)
}

/// Run step `index`'s compensation on this thread and record its end (a step with no
/// `rollback:` command is recorded compensated by nothing): false, nothing recorded, if a stop
/// cut it off (the stop's record names it). One this process's guard ended for a lease it
/// could not keep is not the command's failure either: nothing is recorded (the observer is
/// told why), and
/// it runs again next, as a fenced attempt does; before, it was `compensation_failed` and the
/// run "rollback failed". The command's loop asks `watch_log` as an
/// attempt's does; with `signal`, the process's own stop flag (a signal) is looked at too and
/// raises `halt`, for a driver whose runner answers to `halt` alone (a scenario's).
pub(crate) fn compensate_step(
    journal: &mut Journal<'_>,
    ctx: &mut DriveContext<'_>,
    runner: &Runner,
    index: usize,
    halt: &StopFlag,
    signal: bool,
) -> Result<bool, DriveError> {
    use super::runner::Compensation;
    let step = journal.state.steps[index].name.clone();
    // A `uses:` step's child run is compensated first (its completed steps, newest first,
    // recorded in its own log), then the step's own `rollback:`: newest first, as nested.
    if journal.state.is_uses(index) {
        use super::child::ChildCompensation;
        match super::child::compensate_child(journal, ctx, index)? {
            ChildCompensation::Done => {}
            ChildCompensation::Stopped => {
                // Stopped without this process being told to (an operator's stop or abort
                // read in a log): this run stops (or is aborted) too, below.
                if !ctx.stop.is_set() {
                    halt.set(nix::sys::signal::Signal::SIGTERM as i32);
                }
                return Ok(false);
            }
            ChildCompensation::Failed(end) => {
                record(
                    journal,
                    ctx,
                    Command::RecordCompensation {
                        step,
                        end: Some(end),
                        output_tail: String::new(),
                    },
                )?;
                return Ok(true);
            }
        }
    }
    let state = journal.state.clone();
    let has_command = state
        .workflow
        .as_ref()
        .is_some_and(|w| w.steps[index].rollback.is_some());
    let compensation = if has_command {
        let mut caught_up = Vec::new();
        let mut failed = None;
        let stop = &ctx.stop;
        let observer = &mut *ctx.observer;
        let compensation = runner.compensate(
            &state,
            index,
            &mut |step, s, l| observer.line(step, s, l),
            &mut || {
                if signal && stop.is_set() {
                    halt.set(nix::sys::signal::Signal::SIGTERM as i32);
                    return true;
                }
                watch_log(journal, halt, &mut caught_up, &mut failed)
            },
        );
        announce(journal, ctx, &caught_up);
        if let Some(e) = failed {
            return Err(e.into());
        }
        compensation
    } else {
        Compensation::Nothing
    };
    let (end, output_tail) = match compensation {
        Compensation::Stopped => return Ok(false),
        Compensation::Fenced(why) => {
            let said = ctx.fenced_reason(&format!("{why}: the compensation runs again"));
            ctx.observer
                .note(&format!("`{step}`'s compensation: {said}\n"));
            return Ok(true);
        }
        Compensation::Nothing => (None, String::new()),
        Compensation::Ran(end, tail) => (Some(end), tail),
    };
    record(
        journal,
        ctx,
        Command::RecordCompensation {
            step,
            end,
            output_tail,
        },
    )?;
    Ok(true)
}

/// While a command of the run (a step's, its rollback, a `validate:`, `if:`, health or post
/// check) runs on the driver's thread: look at the log for an operator's stop
/// or abort, or the run ended beside this driver; if so (or if the log cannot be read, which
/// is kept in `failed` as the drive's error), raise `halt` and end the command. What was read
/// is kept in `caught_up` for the observer.
pub(crate) fn watch_log(
    journal: &mut Journal<'_>,
    halt: &StopFlag,
    caught_up: &mut Vec<crate::event::Recorded>,
    failed: &mut Option<super::JournalError>,
) -> bool {
    if failed.is_some() {
        return true;
    }
    // A child run (`uses:`) halts for its parents' stops too.
    let read = journal.look().and_then(|events| {
        caught_up.extend(events);
        journal.parent_halted()
    });
    match read {
        // A log another process holds locked (a reader in WAL mode hardly ever meets it): the
        // command goes on, and the log is looked at again next time. Before, the command was
        // ended and the drive failed with it.
        Err(JournalError::Store(crate::store::StoreError::Busy)) => false,
        Ok(parent_halted) => {
            let state = &journal.state;
            if parent_halted
                || state.stop_requested
                || state.abort_requested.is_some()
                || state.outcome().is_some()
            {
                halt.set(nix::sys::signal::Signal::SIGTERM as i32);
                return true;
            }
            false
        }
        Err(e) => {
            halt.set(nix::sys::signal::Signal::SIGTERM as i32);
            *failed = Some(e);
            true
        }
    }
}
