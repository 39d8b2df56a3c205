//! The driver loop of a workflow: ask `plan::next` what to do, do it (spawn, wait, check), and
//! record the facts through the journal until the run finishes, waits, pauses or stops.
//! Scenario runs are driven by `scheduler`, which runs ready phases at once.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::runner::{AttemptOutcome, Compensation, Runner, sleep_unless_stopped};
use super::{Journal, JournalError, Redactor, StopFlag, Stream, WriteBehind};
use crate::decide::{Command, RunState};
use crate::event::{Operator, Outcome, Recorded};
use crate::plan::{Next, next};

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
}

impl DriveContext<'_> {
    /// A runner for this context's commands, ended by `stop`.
    pub fn runner(&self, stop: &StopFlag, redactor: &Redactor) -> Runner {
        Runner {
            home: self.home.clone(),
            stop: stop.clone(),
            grace: self.grace,
            redactor: redactor.clone(),
        }
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

/// What every drive does first: make sure it has the run's secret inputs (the journal holds
/// the run's secrets), write derived files, end orphaned groups.
pub(crate) fn prepare(
    journal: &mut Journal<'_>,
    ctx: &mut DriveContext<'_>,
) -> Result<(), DriveError> {
    let missing = journal.redactor.missing_inputs(&journal.state);
    if !missing.is_empty() {
        return Err(DriveError::MissingSecretInputs(missing));
    }
    if let Err(e) = super::materialize(&ctx.home, &journal.state) {
        ctx.observer
            .warn(&format!("could not write the run's derived files: {e}"));
    }
    for pgid in ctx
        .runner(&ctx.stop, &journal.redactor)
        .end_orphans(&journal.run_id)
    {
        ctx.observer.warn(&format!(
            "ended process group {pgid} left running by the previous driver"
        ));
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

/// Record how a run ends when its driver was told to stop: an abort if an operator asked
/// for one (`workflow abort` beside this driver), else a stop.
pub(crate) fn record_stop(
    journal: &mut Journal<'_>,
    ctx: &mut DriveContext<'_>,
) -> Result<DriveEnd, DriveError> {
    // The request may have come through the log just before the signal.
    let caught_up = journal.refresh()?;
    announce(journal, ctx, &caught_up);
    if let Some(by) = journal.state.abort_requested.clone() {
        record(journal, ctx, Command::Abort { by })?;
        return Ok(DriveEnd::Finished(Outcome::Aborted));
    }
    let by = ctx.actor.clone();
    let signal = ctx.stop.signal_name();
    record(journal, ctx, Command::Stop { by, signal })?;
    Ok(DriveEnd::Stopped)
}

/// Drive the run in `journal` until it can go no further without outside help.
pub fn drive(
    journal: &mut Journal<'_>,
    ctx: &mut DriveContext<'_>,
) -> Result<DriveEnd, DriveError> {
    let end = if journal.state.is_scenario() {
        super::scheduler::drive_scenario(journal, ctx)
    } else {
        drive_workflow(journal, ctx)
    }
    // An attempt's end staged last is in the log before the driver says where it left the run.
    .and_then(|end| flush(journal, ctx).map(|()| end));
    // A run over for good leaves no child run unfinished behind it.
    if let Ok(DriveEnd::Finished(_)) = end {
        let state = journal.state.clone();
        let home = ctx.home.clone();
        let by = state
            .abort_requested
            .clone()
            .unwrap_or_else(|| ctx.actor.clone());
        let grace = ctx.grace;
        let ended = journal.nested(|store, clock, ids| {
            super::child::end_children(store, clock, ids, &home, &state, &by, grace)
        });
        for run_id in ended {
            ctx.observer.note(&format!(
                "   ↳ child run {run_id} aborted: its parent run ended\n"
            ));
        }
    }
    // And the derived files are written before it returns.
    for problem in ctx.files.finish() {
        ctx.observer.warn(&format!(
            "could not write the run's derived files (the log is intact): {problem}"
        ));
    }
    end
}

/// Drive the child run of `uses:` step `index` and record how the step's attempt goes: its
/// end (staged, as any attempt's), or that it waits with its child (the driver then stops
/// here: `Some(Waiting)`), or nothing when the child was stopped (the loop records the stop).
fn child_attempt(
    journal: &mut Journal<'_>,
    ctx: &mut DriveContext<'_>,
    index: usize,
    new_attempt: bool,
) -> Result<Option<DriveEnd>, DriveError> {
    let step = journal.state.steps[index].name.clone();
    match super::child::run_child(journal, ctx, index, new_attempt)? {
        super::child::ChildOutcome::Report(mut report) => {
            // The step's `validate: - run:` checks see the child's outputs as the step's.
            if report.end.succeeded() {
                let runner = ctx.runner(&ctx.stop, &journal.redactor);
                let observer = &mut *ctx.observer;
                report.validation_problems = runner.validate_report(
                    &journal.state,
                    index,
                    &report.outputs,
                    &mut |step, s, l| observer.line(step, s, l),
                );
            }
            journal.stage(Command::FinishAttempt(report))?;
            Ok(None)
        }
        super::child::ChildOutcome::Waiting { run_id } => {
            record(
                journal,
                ctx,
                Command::ChildWaiting {
                    step: step.clone(),
                    run_id,
                },
            )?;
            Ok(Some(DriveEnd::Waiting(step)))
        }
        super::child::ChildOutcome::Stopped => {
            if ctx.stop.is_set() {
                Ok(None)
            } else {
                // The child stopped without this process being told to: stop with it.
                record_stop(journal, ctx).map(Some)
            }
        }
    }
}

/// The workflow loop: one step at a time. A step's end is staged and appended with the next
/// step's start; anything else (a wait, a backoff, a check, a rollback, the end) flushes first.
fn drive_workflow(
    journal: &mut Journal<'_>,
    ctx: &mut DriveContext<'_>,
) -> Result<DriveEnd, DriveError> {
    prepare(journal, ctx)?;
    let (deadline, limit) = deadline(&journal.state);
    let runner = ctx.runner(&ctx.stop, &journal.redactor);
    loop {
        if ctx.stop.is_set() {
            return record_stop(journal, ctx);
        }
        if ctx.dispatch.draining() {
            // A draining worker hands the run back between steps: whoever takes it next goes
            // on from here.
            flush(journal, ctx)?;
            return Ok(DriveEnd::Waiting("handed back by a draining worker".into()));
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            let reason = format!("the run exceeded its time limit (timeout_seconds: {limit})");
            record(journal, ctx, Command::Pause { reason })?;
            return Ok(DriveEnd::Paused);
        }
        let action = next(&journal.state);
        if !matches!(action, Next::Attempt { delay_ms: 0, .. }) {
            flush(journal, ctx)?;
        }
        if let Next::Attempt { index, .. } = action {
            let runs_on = journal
                .state
                .definition(index)
                .map(|d| d.runs_on.clone())
                .unwrap_or_default();
            if !ctx.dispatch.may_run(&runs_on) {
                // Left to a worker that offers these tags: it takes the run from here.
                flush(journal, ctx)?;
                return Ok(DriveEnd::Waiting(format!(
                    "a worker whose tags cover `{}` (runs_on: {})",
                    journal.state.steps[index].name,
                    runs_on.join(", ")
                )));
            }
        }
        let state = &journal.state;
        let observer = &mut *ctx.observer;
        let mut on_line = |step: &str, s: Stream, l: &str| observer.line(step, s, l);
        match action {
            Next::Finished(outcome) => return Ok(DriveEnd::Finished(outcome)),
            Next::Paused => return Ok(DriveEnd::Paused),
            Next::Stopped => return Ok(DriveEnd::Stopped),
            Next::AwaitReport { index } => {
                return Ok(DriveEnd::Waiting(state.steps[index].name.clone()));
            }
            Next::InFlight { index } => {
                return Err(DriveError::Internal(format!(
                    "step `{}` is marked running but no attempt is in flight",
                    state.steps[index].name
                )));
            }
            Next::CheckCondition { index } => {
                let Some(check) = runner.check_condition(state, index, &mut on_line) else {
                    continue;
                };
                record(journal, ctx, Command::RecordCondition(Box::new(check)))?;
            }
            Next::ReadItems { index } => {
                let step = state.steps[index].name.clone();
                let items = runner.read_items(state, index);
                record(journal, ctx, Command::RecordItems { step, items })?;
            }
            Next::Child { index } => {
                if let Some(end) = child_attempt(journal, ctx, index, false)? {
                    return Ok(end);
                }
            }
            Next::PreValidate => {
                let problems = runner.pre_validate(state, &mut on_line);
                record(journal, ctx, Command::RecordPreValidation { problems })?;
            }
            Next::PostValidate => {
                let checks = state
                    .workflow
                    .as_ref()
                    .map(|w| w.post.clone())
                    .unwrap_or_default();
                let problems = runner.run_checks(state, None, &checks, "post", &mut on_line);
                if ctx.stop.is_set() {
                    continue;
                }
                record(journal, ctx, Command::RecordPostValidation { problems })?;
            }
            Next::Attempt { index, delay_ms } => {
                if !sleep_unless_stopped(Duration::from_millis(delay_ms), &ctx.stop, deadline) {
                    continue;
                }
                let name = state.steps[index].name.clone();
                record(journal, ctx, Command::StartAttempt { step: name })?;
                if journal.state.is_external(index) {
                    continue;
                }
                if journal.state.is_uses(index) {
                    if let Some(end) = child_attempt(journal, ctx, index, true)? {
                        return Ok(end);
                    }
                    continue;
                }
                let observer = &mut *ctx.observer;
                let outcome =
                    runner.run_attempt(&journal.state, index, deadline, &mut |step, s, l| {
                        observer.line(step, s, l)
                    });
                if let AttemptOutcome::Report(report) = outcome {
                    journal.stage(Command::FinishAttempt(report))?;
                }
            }
            Next::Compensate { index } => {
                let (end, output_tail) = match runner.compensate(state, index, &mut on_line) {
                    Compensation::Stopped => continue,
                    Compensation::Nothing => (None, String::new()),
                    Compensation::Ran(end, tail) => (Some(end), tail),
                };
                let step = state.steps[index].name.clone();
                record(
                    journal,
                    ctx,
                    Command::RecordCompensation {
                        step,
                        end,
                        output_tail,
                    },
                )?;
            }
        }
    }
}
