//! The loop of a workflow: ask `plan::next` what to do, do it (spawn, wait, check), and
//! record the facts through the journal until the run finishes, waits, pauses or stops.

use std::time::{Duration, Instant};

use super::process::WATCH_EVERY;
use super::runner::{AttemptOutcome, sleep_unless_stopped};
use super::session::{
    DriveContext, DriveEnd, DriveError, announce, compensate_step, deadline_in, flush, prepare,
    preparing_needs_secrets, record, record_stop, record_stop_by, require_secrets,
    stop_at_time_limit, watch_log,
};
use super::{Journal, JournalError, StopFlag, Stream};
use crate::decide::{Command, DecideError};
use crate::definition::IfCondition;
use crate::plan::{Next, next};

/// Drive the child run of `uses:` step `index` and record how the step's attempt goes: its
/// end (staged, as any attempt's), or that it waits with its child (the driver then stops
/// here: `Some(Waiting)`), or nothing when the child was stopped (the loop records the stop).
/// A stop while its checks run (a signal, or an operator's request found in the log, which
/// raises `halt`) records nothing for the attempt: the loop records the stop.
fn child_attempt(
    journal: &mut Journal<'_>,
    ctx: &mut DriveContext<'_>,
    index: usize,
    new_attempt: bool,
    halt: &StopFlag,
    limit: (u64, bool),
) -> Result<Option<DriveEnd>, DriveError> {
    let step = journal.state.steps[index].name.clone();
    match super::child::run_child(journal, ctx, index, new_attempt)? {
        super::child::ChildOutcome::Report(mut report) => {
            // This run is being aborted (its child was aborted with it): the attempt is not
            // ended with the child's end (that would fail the step, and pause the run, before
            // the abort); the abort, recorded next, ends it.
            let caught_up = journal.refresh()?;
            announce(journal, ctx, &caught_up);
            // Or a run above it (this run a child too): it is aborted with that one.
            journal.parent_halted()?;
            if journal.state.abort_requested.is_some() || journal.parent_aborting().is_some() {
                halt.set(nix::sys::signal::Signal::SIGTERM as i32);
                return Ok(None);
            }
            // The step's `validate: - run:` checks see the child's outputs as the step's.
            if report.end.succeeded() {
                let runner = ctx.runner(&ctx.stop, &journal.redactor);
                let state = journal.state.clone();
                let mut caught_up = Vec::new();
                let mut failed = None;
                let observer = &mut *ctx.observer;
                let problems = runner.validate_report(
                    &state,
                    index,
                    &report.outputs,
                    &mut |step, s, l| observer.line(step, s, l),
                    &mut || watch_log(journal, halt, &mut caught_up, &mut failed),
                    None,
                );
                announce(journal, ctx, &caught_up);
                if let Some(e) = failed {
                    return Err(e.into());
                }
                let Some(problems) = problems else {
                    return Ok(None);
                };
                report.validation_problems = problems;
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
            let child = journal.state.steps[index].child.clone();
            let cut_by_limit = child.as_ref().is_some_and(|c| {
                journal
                    .nested(|store, _, _| super::load_state(store, &c.run_id))
                    .is_ok_and(|state| state.timed_out())
            });
            if ctx.stop.is_set() {
                Ok(None)
            } else if cut_by_limit {
                // The child is driven within this run's deadline (`deadline_in`): what cut it
                // cuts this run, which stops at its limit too, the step with it, and goes on
                // with the child from where it stopped on resume. Before, the step failed
                // with the child's pause, and the parent was `failed`.
                let (limit, inherited) = limit;
                stop_at_time_limit(journal, ctx, limit, inherited).map(Some)
            } else {
                // The child stopped without this process being told to (an operator stopped
                // the child itself, from anywhere): stop with it, by whoever stopped it, as
                // DESIGN's composition says (both resume).
                let stopper = child.and_then(|c| {
                    let state = journal.nested(|store, _, _| super::load_state(store, &c.run_id));
                    let (by, _) = state.ok()?.stopped_by?;
                    Some(crate::event::Operator {
                        actor: by.actor,
                        message: Some(format!("its child run {} was stopped", c.run_id)),
                    })
                });
                record_stop_by(journal, ctx, None, stopper).map(Some)
            }
        }
    }
}

/// Whether `action` runs anything (a command, a check, an agent, a child run): only then does
/// the driver need the values of the run's secret inputs.
fn needs_secrets(state: &crate::decide::RunState, action: &Next, missing: &[String]) -> bool {
    match action {
        Next::Finished(_) | Next::Paused | Next::Stopped | Next::AwaitReport { .. } => false,
        // A `uses:` step going on with the child it has begun (or taking its end) renders
        // nothing of this run: the child's own secret inputs are the child's to have.
        Next::Attempt { index, .. } => {
            !state.is_external(*index) && !goes_on_with_its_child(state, *index)
        }
        Next::Child { index } => !goes_on_with_its_child(state, *index),
        Next::CheckCondition { index } | Next::ReadItems { index } => {
            preparing_needs_secrets(state, *index, missing)
        }
        _ => true,
    }
}

/// Whether the attempt of step `index` goes on with the child run its `uses:` step waits on,
/// or ran when its driver died (a child that has begun: its inputs are its own; not over for
/// good in the step's eyes, nor one it already failed with, which may be replaced by a new
/// one). Before, a step interrupted with its child asked for the run's secret inputs, which
/// the resume status suggested did not give (nothing left of the run reads them), and the
/// run waited for them, suggesting the same resume again.
fn goes_on_with_its_child(state: &crate::decide::RunState, index: usize) -> bool {
    state.definition(index).is_some_and(|d| d.uses.is_some())
        && state.steps.get(index).is_some_and(|s| {
            s.status != crate::decide::StepStatus::Failed
                && s.child.as_ref().is_some_and(|c| !c.finished && !c.reported)
        })
}

/// Wait out a retry's backoff (at most a day), looking at the log as while a command runs
/// (`watch_log`): false if a stop (a signal, or an operator's stop or abort found in the log,
/// which raises `halt`) or the run's deadline came first. Before, only a signal ended the
/// wait, so a stop recorded from another host waited out the backoff.
fn wait_backoff(
    journal: &mut Journal<'_>,
    ctx: &mut DriveContext<'_>,
    halt: &StopFlag,
    backoff: Duration,
    deadline: Option<Instant>,
) -> Result<bool, DriveError> {
    let until = Instant::now().checked_add(backoff);
    loop {
        let left = until.map_or(WATCH_EVERY, |u| u.saturating_duration_since(Instant::now()));
        if left.is_zero() {
            return Ok(true);
        }
        if !sleep_unless_stopped(left.min(WATCH_EVERY), &ctx.stop, deadline) {
            return Ok(false);
        }
        let (mut caught_up, mut failed) = (Vec::new(), None);
        let halted = watch_log(journal, halt, &mut caught_up, &mut failed);
        announce(journal, ctx, &caught_up);
        if let Some(e) = failed {
            return Err(e.into());
        }
        if halted {
            return Ok(false);
        }
    }
}

/// The workflow loop: one step at a time. A step's end is staged and appended with the next
/// step's start; anything else (a wait, a backoff, a check, a rollback, the end) flushes first.
pub(crate) fn drive_workflow(
    journal: &mut Journal<'_>,
    ctx: &mut DriveContext<'_>,
) -> Result<DriveEnd, DriveError> {
    prepare(journal, ctx)?;
    // A child run driven in its parent's session has the parent's deadline.
    let inherited = ctx.deadline.is_some();
    let (deadline, limit) = deadline_in(&journal.state, ctx);
    let runner = ctx.runner(&ctx.stop, &journal.redactor);
    // Raised by an operator's request found in the log while an attempt or a compensation
    // runs (`watch_log`): it ends them, and the drive stops.
    let halt = StopFlag::default();
    // The compensation a stop ended mid-command, if one did: an abort records it cut off.
    let mut cut_off = None;
    loop {
        // A stop or abort asked for in the log (caught up with by an append) stops here too.
        // A worker told to stop a second time while draining hands the run back (the step
        // it ended is recorded interrupted below), unless the run is being stopped or aborted.
        if ctx.dispatch.ending()
            && !journal.state.stop_requested
            && journal.state.abort_requested.is_none()
        {
            flush(journal, ctx)?;
            return Ok(DriveEnd::HandedBack);
        }
        if ctx.stop.is_set() || halt.is_set() || journal.state.stop_requested {
            return record_stop(journal, ctx, cut_off);
        }
        // A run whose last step finished as its time ran out has finished: its end is staged
        // and goes to the log; the limit stops only a run with work left (before, the stop
        // was refused on the finished run and the staged success was lost with it).
        // A run paused already (its step failed for good as the limit passed) is not stopped
        // on top of that: it failed, and its recovery options name the limit.
        if deadline.is_some_and(|d| Instant::now() >= d)
            && journal.state.outcome().is_none()
            && !matches!(journal.state.phase, crate::decide::RunPhase::Paused { .. })
        {
            return stop_at_time_limit(journal, ctx, limit, inherited);
        }
        let action = next(&journal.state);
        // A draining worker hands the run back between steps: whoever takes it next goes on
        // from here. Not a run that is over or waits for a report (a prompt step next is
        // started here, to wait): nothing in it is a worker's to do, and handed back, the next
        // worker "resumed" it only to let it wait.
        let nothing_to_run = match action {
            Next::Finished(_)
            | Next::Paused
            | Next::Stopped
            | Next::AwaitReport { .. }
            | Next::InFlight { .. } => true,
            Next::Attempt { index, .. } => journal.state.is_external(index),
            _ => false,
        };
        if ctx.dispatch.draining() && !nothing_to_run {
            flush(journal, ctx)?;
            return Ok(DriveEnd::HandedBack);
        }
        if !matches!(action, Next::Attempt { delay_ms: 0, .. }) {
            flush(journal, ctx)?;
        }
        // Without the values of its secret inputs (a report recorded by a process that was
        // not given them), the run goes on as far as nothing runs: prompt steps wait for their
        // reports. It stops before anything the engine runs (every command sees the inputs).
        if let Err(DriveError::MissingSecretInputs(missing)) = require_secrets(journal)
            && needs_secrets(&journal.state, &action, &missing)
        {
            flush(journal, ctx)?;
            ctx.observer.missing_secrets(&missing);
            return Ok(DriveEnd::Waiting(format!(
                "the secret inputs {}",
                missing.join(", ")
            )));
        }
        if let Next::Attempt { index, .. } = action {
            let runs_on = journal.state.runs_on(index).to_vec();
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
        // A condition's command: its start recorded before it runs, as an attempt's is, so a
        // driver that dies meanwhile leaves the run `interrupted`, not waiting.
        if let Next::CheckCondition { index } = action
            && journal
                .state
                .definition(index)
                .is_some_and(|d| matches!(d.if_, Some(IfCondition::Command(_))))
        {
            let step = journal.state.steps[index].name.clone();
            record(journal, ctx, Command::StartCondition { step })?;
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
                let command = state
                    .definition(index)
                    .is_some_and(|d| matches!(d.if_, Some(IfCondition::Command(_))));
                let check = if command {
                    // A command may take a while: watched as an attempt is.
                    let state = state.clone();
                    let (mut caught_up, mut failed) = (Vec::new(), None);
                    let check =
                        runner.check_condition(&state, index, deadline, &mut on_line, &mut || {
                            watch_log(journal, &halt, &mut caught_up, &mut failed)
                        });
                    announce(journal, ctx, &caught_up);
                    if let Some(e) = failed {
                        return Err(e.into());
                    }
                    check
                } else {
                    runner.check_condition(state, index, deadline, &mut on_line, &mut || false)
                };
                let Some(check) = check else {
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
                if let Some(end) =
                    child_attempt(journal, ctx, index, false, &halt, (limit, inherited))?
                {
                    return Ok(end);
                }
            }
            Next::PreValidate | Next::PostValidate => {
                // Health and post checks are commands: watched as an attempt is. One a stop
                // ended records nothing (the loop records the stop); they run again on resume.
                let pre = matches!(action, Next::PreValidate);
                let state = state.clone();
                let (mut caught_up, mut failed) = (Vec::new(), None);
                let mut watch = || watch_log(journal, &halt, &mut caught_up, &mut failed);
                let problems = if pre {
                    runner.pre_validate(&state, &mut on_line, &mut watch)
                } else {
                    let checks = state
                        .workflow
                        .as_ref()
                        .map(|w| w.post.clone())
                        .unwrap_or_default();
                    runner.run_checks(
                        &state,
                        None,
                        &checks,
                        "post",
                        &mut on_line,
                        &mut watch,
                        None,
                    )
                };
                announce(journal, ctx, &caught_up);
                if let Some(e) = failed {
                    return Err(e.into());
                }
                let Some(problems) = problems else {
                    continue;
                };
                let command = if pre {
                    Command::RecordPreValidation { problems }
                } else {
                    Command::RecordPostValidation { problems }
                };
                record(journal, ctx, command)?;
            }
            Next::Attempt { index, delay_ms } => {
                // What is left of the backoff, counted from when the retry was scheduled:
                // a resume after it ran out waits no more.
                let backoff = journal.backoff_left(index);
                if delay_ms > 0
                    && !backoff.is_zero()
                    && !wait_backoff(journal, ctx, &halt, backoff, deadline)?
                {
                    continue;
                }
                // As the log is now (the wait may have read events an operator appended).
                let name = journal.state.steps[index].name.clone();
                let started = match journal.submit(Command::StartAttempt { step: name }) {
                    // Refused: a stop or abort came in with the append; the loop records it.
                    Err(JournalError::Decide(DecideError::Stopping)) => continue,
                    started => started?,
                };
                if journal.state.is_external(index) || journal.state.is_uses(index) {
                    announce(journal, ctx, &started);
                }
                if journal.state.is_external(index) {
                    continue;
                }
                if journal.state.is_uses(index) {
                    if let Some(end) =
                        child_attempt(journal, ctx, index, true, &halt, (limit, inherited))?
                    {
                        return Ok(end);
                    }
                    continue;
                }
                // On this thread (handing every step to another one and back cost a short step
                // two wake-ups): the command's loop asks `watch` every 100 ms while it runs.
                let attempt = runner.prepare_attempt(&journal.state, index, deadline);
                let mut caught_up = Vec::new();
                let mut failed = None;
                let dispatch = &ctx.dispatch;
                // The observer and the derived files hear of the start (and of the end before
                // it, appended with it) once the command's process has started: what they do
                // overlaps the command instead of delaying it (on two cores, the command runs
                // on the other). Before anything of the command is shown, and as soon as the
                // attempt is over if its process never started.
                let mut unannounced = Some(started);
                let journal_now = std::cell::RefCell::new(&mut *journal);
                let observer = std::cell::RefCell::new(&mut *ctx.observer);
                let (files, home) = (&mut ctx.files, &ctx.home);
                let mut tell = || {
                    if let Some(events) = unannounced.take() {
                        let journal = journal_now.borrow();
                        observer.borrow_mut().recorded(&journal.state, &events);
                        files.changes(home, &journal.state, &events);
                    }
                };
                let outcome = attempt.run_watched(
                    &runner,
                    &mut |step, s, l| observer.borrow_mut().line(step, s, l),
                    &mut tell,
                    &mut || {
                        // A worker told to stop a second time ends the step now.
                        if dispatch.ending() {
                            halt.set(nix::sys::signal::Signal::SIGTERM as i32);
                            return true;
                        }
                        watch_log(
                            &mut journal_now.borrow_mut(),
                            &halt,
                            &mut caught_up,
                            &mut failed,
                        )
                    },
                );
                tell();
                announce(journal, ctx, &caught_up);
                if let Some(e) = failed {
                    return Err(e.into());
                }
                match outcome {
                    // Recorded rejected if this driver lost its lease and the attempt was
                    // taken over meanwhile (then the drive stops, `Fenced`).
                    AttemptOutcome::Report(report) => journal.stage_result(report)?,
                    // Its guard ended it for the driver lease this driver could not renew (the
                    // log did not answer, the process was held up): interrupted, and the step
                    // runs again — recorded rejected if the run was taken over meanwhile (the
                    // drive then stops, `Fenced`). Before, it was the step's failure ("killed
                    // by signal 15"): a retry spent, `on_failure` applied.
                    AttemptOutcome::Fenced { step, attempt, why } => {
                        let events =
                            journal.interrupt_own(&step, attempt, ctx.fenced_reason(&why))?;
                        announce(journal, ctx, &events);
                    }
                    AttemptOutcome::HomeFault(problem) => {
                        return super::session::home_fault(journal, ctx, problem);
                    }
                    AttemptOutcome::Stopped
                        if ctx.dispatch.ending()
                            && !journal.state.stop_requested
                            && journal.state.abort_requested.is_none() =>
                    {
                        // Recorded with the worker's words before the run is handed back.
                        let shared = ctx.dispatch.shared.clone();
                        let (worker, host) =
                            shared.as_ref().map_or((String::new(), String::new()), |s| {
                                (s.worker.clone(), s.host.clone())
                            });
                        let attempt = journal.state.steps[index].attempts;
                        let step = journal.state.steps[index].name.clone();
                        record(
                            journal,
                            ctx,
                            Command::InterruptAttempt {
                                step,
                                attempt,
                                reason: format!(
                                    "worker {worker} on {host} ended it: {}",
                                    super::ENDING_WORDS
                                ),
                            },
                        )?;
                    }
                    AttemptOutcome::Stopped | AttemptOutcome::RunDeadline => {}
                }
            }
            Next::Compensate { index } => {
                let step = state.steps[index].name.clone();
                if !compensate_step(journal, ctx, &runner, index, &halt, false)? {
                    cut_off = Some(step);
                }
            }
        }
    }
}
