//! Driving a scenario: every ready phase starts at once on a thread of the drive's pool
//! (`pool.rs`); the loop is the run's only writer. It records what workers report, catches up
//! with events that operators append meanwhile (`orchestrate complete|fail|start|stop`), and
//! ends all running phases on a stop (TERM, then KILL after a grace).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::runner::{AttemptOutcome, HomeProblem};
use super::session::{
    DriveContext, DriveEnd, DriveError, announce, compensate_step, deadline_in, flush, prepare,
    preparing_needs_secrets, record, record_stop, require_secrets,
};
use super::{Journal, JournalError, StopFlag, Stream};
use super::{claim_unit, finish_unit, interrupt_unit, reap_lapsed, reap_lapsed_as};
use crate::decide::{Command, RunPhase, StepStatus};
use crate::plan::{awaiting_manual_start, ready_phases_for, to_prepare};
use crate::store::Lease;

/// What workers tell the loop. Phases are named, not numbered: the items of a `foreach:`
/// phase are inserted after it, which moves the positions of the phases behind it.
enum Msg {
    Line(String, Stream, String),
    Done(String, AttemptOutcome),
    /// A command `if:` was run (none: a stop ended it first).
    Condition(String, Option<Box<crate::event::ConditionCheck>>),
}

/// How often a command's driver looks for lapsed leases of the workers that help it.
const COMMAND_REAP: Duration = Duration::from_secs(1);
/// How long it holds a lapsed lease it took over (it lets it go at once).
const COMMAND_REAP_TTL_MS: u64 = 10_000;
/// How long past their grace a halted driver waits for the attempts of a run's other workers
/// (a worker notices a stop within its `--poll`, or at once by a notification).
const HELPERS_MARGIN: Duration = Duration::from_secs(10);

/// Whether a phase runs under a worker's claim that is not this driver's own thread: claimed
/// by another worker than `me` (this driver's worker and host, when it is one). A phase this
/// driver's own thread ran and a stop ended is still recorded running (the stop records it)
/// under this worker's claim: it is not waited for. Before, it was, and a stop of a run a
/// worker drove took the helpers' grace and margin (15 s) to be recorded.
fn claimed_elsewhere(
    state: &crate::decide::RunState,
    workers: &BTreeSet<String>,
    me: Option<&super::dispatch::Shared>,
) -> bool {
    state.steps.iter().any(|s| {
        s.status == StepStatus::Running
            && !workers.contains(&s.name)
            && s.claimed.as_ref().is_some_and(|c| {
                c.attempt == s.attempts
                    && !me.is_some_and(|me| c.worker == me.worker && c.host == me.host)
            })
    })
}

/// Drive a scenario run until it finishes, pauses, stops, or can only wait.
pub fn drive_scenario(
    journal: &mut Journal<'_>,
    ctx: &mut DriveContext<'_>,
) -> Result<DriveEnd, DriveError> {
    // Without the values of its secret inputs (a start or a report recorded by a process that
    // was not given them), the run goes on as far as nothing runs, as a workflow's does:
    // phases people do start and wait for their reports. What the engine runs (a command, an
    // agent, a check, a command `if:`) waits for a driver given them, as does an `if:` or a
    // `foreach:` template that reads one of them: every command sees every input
    // (`CORTEX_INPUT_<NAME>`).
    let missing = match require_secrets(journal) {
        Err(DriveError::MissingSecretInputs(missing)) => missing,
        _ => Vec::new(),
    };
    prepare(journal, ctx)?;
    // A child run driven in its parent's session has the parent's deadline.
    let inherited = ctx.deadline.is_some();
    let (deadline, limit) = deadline_in(&journal.state, ctx);
    // Workers' commands end when `halt` is raised: by a signal, an operator's stop request or
    // the run's time limit.
    let halt = StopFlag::default();
    let runner = ctx.runner(&halt, &journal.redactor);
    let (tx, rx) = mpsc::channel::<Msg>();
    let pool = super::pool::Pool::new();
    let mut workers: BTreeSet<String> = BTreeSet::new();
    // The leases of the units this driver runs as a worker (`Dispatch::shared`).
    let mut leases: BTreeMap<String, Lease> = BTreeMap::new();
    let mut limit_reason: Option<String> = None;
    // An attempt could not be prepared for a fault of the home (`AttemptOutcome::HomeFault`):
    // no phase starts any more, and once those running have ended the run is paused.
    let mut home_fault: Option<super::runner::HomeProblem> = None;
    let mut reaped_at = Instant::now();
    // The phases said to wait for a worker's tags (once each).
    let mut told: BTreeSet<String> = BTreeSet::new();
    // Phases whose retry is scheduled, and when their backoff ends: the next attempt starts
    // (`step_started`, or its claim) only then, as a workflow's does. Recorded before the
    // wait, a kill or stop during it recorded an attempt that never ran as interrupted, and
    // status showed it running meanwhile.
    let mut backoff: BTreeMap<String, Instant> = BTreeMap::new();
    // The journal caught up with the log when it was opened or last appended, just before
    // this drive: the first turn does not read it again. Also set after a pre-validation
    // that ran no command (nothing took long enough to be worth another look).
    let mut fresh = true;
    // When `halt` was raised: attempts other workers run for this run are waited for from
    // then, up to their grace and a margin.
    let mut halted_at: Option<Instant> = None;
    // The compensation a stop ended mid-command, if one did: an abort records it cut off.
    let mut cut_off: Option<String> = None;
    let result = (|| -> Result<DriveEnd, DriveError> {
        loop {
            // A worker's driver ends, for the run's other workers, the attempts whose leases
            // lapsed (their worker died or was cut off), so that they run again.
            // Attempts claimed and running whose lease is gone altogether are ended too, unless
            // this driver is ending its own (a stop, the time limit, a fault of the home: it lets
            // their leases go before it records the stop or pause).
            let orphans = !(halt.is_set()
                || ctx.stop.is_set()
                || journal.state.stop_requested
                || deadline.is_some_and(|d| Instant::now() >= d)
                || home_fault.is_some());
            if let Some(shared) = ctx.dispatch.shared.clone()
                && reaped_at.elapsed() >= Duration::from_millis(shared.lease_ms / 3)
            {
                reaped_at = Instant::now();
                let events = reap_lapsed(journal, &shared, orphans)?;
                announce(journal, ctx, &events);
            } else if ctx.dispatch.shared.is_none()
                && reaped_at.elapsed() >= COMMAND_REAP
                && claimed_elsewhere(&journal.state, &workers, ctx.dispatch.shared.as_deref())
            {
                // A command's driver helped by workers (the phases with `runs_on:` it leaves to
                // them) ends their attempts whose leases lapsed, as a worker's driver does: else,
                // with no other worker to reap them, it would wait for a dead worker forever.
                reaped_at = Instant::now();
                let holder = format!("driver:{} pid {}", ctx.actor.actor, std::process::id());
                // Its own lapsed leases are those it took over to reap and could not let go:
                // it runs nothing under them.
                let events = reap_lapsed_as(
                    journal,
                    (&holder, &super::hostname(), COMMAND_REAP_TTL_MS),
                    &|_| false,
                    orphans,
                )?;
                announce(journal, ctx, &events);
            }
            let caught_up = if std::mem::take(&mut fresh) {
                Vec::new()
            } else {
                journal.refresh()?
            };
            if !caught_up.is_empty() {
                // What is staged was decided again after them: append it too, so that what the
                // observer and the derived files see is all in the log.
                let ours = journal.flush()?;
                announce(journal, ctx, &[caught_up, ours].concat());
            }
            if !halt.is_set() {
                if ctx.stop.is_set() || journal.state.stop_requested || ctx.dispatch.ending() {
                    halt.set(libc_sigterm());
                } else if deadline.is_some_and(|d| Instant::now() >= d)
                    && journal.state.outcome().is_none()
                {
                    // A run that finished as its time ran out has finished (`workflow_loop`).
                    limit_reason = Some(crate::decide::time_limit_reason(limit, inherited));
                    halt.set(libc_sigterm());
                }
            }
            while let Ok(msg) = rx.try_recv() {
                handle(
                    journal,
                    ctx,
                    &mut workers,
                    &mut leases,
                    &mut home_fault,
                    msg,
                )?;
            }
            if !halt.is_set()
                && workers.is_empty()
                && let Some(problem) = home_fault.take()
            {
                return super::session::home_fault(journal, ctx, problem);
            }
            if halt.is_set() {
                let halted = *halted_at.get_or_insert_with(Instant::now);
                // Attempts that other workers run for this run (the phases they help with) end
                // too: each worker watches the runs it helps and ends its command on a stop or an
                // abort (TERM, then KILL after its grace), recording its end. They are waited for
                // as this driver's own are, so that what they record lands before the stop, or
                // before the abort that seals the run; a worker that says nothing within its
                // grace and a margin is not waited for any longer (its late result is recorded
                // as rejected, where the run is not sealed).
                let helpers =
                    claimed_elsewhere(&journal.state, &workers, ctx.dispatch.shared.as_deref())
                        && halted.elapsed() < runner.grace + HELPERS_MARGIN;
                // A worker told to stop a second time while draining hands the run back once
                // what it ran here has ended, recorded (`handle`): other workers' attempts go
                // on under their leases, for whoever takes the run next — unless the run is
                // being stopped or aborted, which is recorded as such.
                if workers.is_empty()
                    && ctx.dispatch.ending()
                    && !journal.state.stop_requested
                    && journal.state.abort_requested.is_none()
                    && limit_reason.is_none()
                {
                    flush(journal, ctx)?;
                    return Ok(DriveEnd::HandedBack);
                }
                if workers.is_empty() && !helpers {
                    if let Some(reason) = limit_reason.take() {
                        record(journal, ctx, Command::StopAtTimeLimit { reason })?;
                        return Ok(DriveEnd::Stopped);
                    }
                    return record_stop(journal, ctx, cut_off);
                }
                wait(
                    journal,
                    ctx,
                    &rx,
                    &mut workers,
                    &mut leases,
                    &mut home_fault,
                )?;
                continue;
            }
            if !journal.state.pre_validated && journal.state.phase == RunPhase::Running {
                let checks = journal
                    .state
                    .workflow
                    .as_ref()
                    .is_some_and(|wf| !wf.health.is_empty());
                if checks && !missing.is_empty() {
                    return wait_for_secrets(journal, ctx, &missing);
                }
                let state = journal.state.clone();
                let observer = &mut *ctx.observer;
                // A scenario has no health checks (`Scenario::as_workflow`): nothing here runs a
                // command for long, and nothing but `halt` (raised by this loop) could end one.
                let problems = runner.pre_validate(
                    &state,
                    &mut |s, st, l| observer.line(s, st, l),
                    &mut || false,
                );
                let Some(problems) = problems else {
                    continue;
                };
                // Staged: appended with what comes next (the first attempt's start, or where the
                // drive stops), one commit fewer before the first phase starts.
                journal.stage(Command::RecordPreValidation { problems })?;
                fresh = state
                    .workflow
                    .as_ref()
                    .is_some_and(|wf| wf.health.is_empty());
                continue;
            }
            match &journal.state.phase {
                RunPhase::Finished { outcome } if workers.is_empty() => {
                    return Ok(DriveEnd::Finished(*outcome));
                }
                RunPhase::Paused { .. } if workers.is_empty() => return Ok(DriveEnd::Paused),
                RunPhase::Stopped if workers.is_empty() => return Ok(DriveEnd::Stopped),
                _ => {}
            }
            // A rollback (`orchestrate resume --rollback-to PHASE`): once the phases running
            // have ended, the compensations run one at a time on this thread, newest phase
            // first, as a workflow's do (`workflow_loop`).
            if journal.state.phase == RunPhase::RollingBack {
                if !workers.is_empty() {
                    wait(
                        journal,
                        ctx,
                        &rx,
                        &mut workers,
                        &mut leases,
                        &mut home_fault,
                    )?;
                    continue;
                }
                let next = journal
                    .state
                    .rollback
                    .as_ref()
                    .and_then(|rb| rb.pending.first().cloned());
                if let Some(step) = next
                    && let Some(index) = journal.state.step_index(&step)
                {
                    // What is staged (the resume, the rollback's start) is in the log before a
                    // compensation runs: a stop or abort asked for meanwhile lands after it.
                    flush(journal, ctx)?;
                    if !compensate_step(journal, ctx, &runner, index, &halt, true)? {
                        cut_off = Some(step);
                    }
                    continue;
                }
            }
            // First what starts nothing: `if:` checks and `foreach:` lists. A check or a list read
            // changes what is ready (a skip frees dependents, items are inserted): the loop goes
            // round again after one.
            let mut prepared = false;
            // Engine work left undone for want of the secret inputs' values.
            let mut needs_secrets = false;
            for index in to_prepare(&journal.state) {
                let name = journal.state.steps[index].name.clone();
                if workers.contains(&name) {
                    continue;
                }
                if preparing_needs_secrets(&journal.state, index, &missing) {
                    needs_secrets = true;
                    continue;
                }
                if journal.state.needs_condition(index) {
                    let command = journal.state.definition(index).is_some_and(|d| {
                        matches!(d.if_, Some(crate::definition::IfCondition::Command(_)))
                    });
                    if command {
                        // Recorded before the command runs, as an attempt's start is: a
                        // driver that dies meanwhile leaves the run `interrupted`.
                        record(journal, ctx, Command::StartCondition { step: name.clone() })?;
                        // A command may take a while: on a worker, like an attempt.
                        workers.insert(name.clone());
                        let state = journal.state.clone();
                        let runner = runner.clone();
                        let tx = tx.clone();
                        let refused = pool.run(move || {
                            let lines = tx.clone();
                            // Ended by `halt`, which the loop raises on a stop.
                            let check = runner.check_condition(
                                &state,
                                index,
                                deadline,
                                &mut |step, s, l| {
                                    let _ =
                                        lines.send(Msg::Line(step.to_string(), s, l.to_string()));
                                },
                                &mut || false,
                            );
                            let _ = tx.send(Msg::Condition(name, check.map(Box::new)));
                        });
                        if let Err(refused) = refused {
                            // Nothing ran: the run is paused (its check recorded interrupted)
                            // once what runs has ended, as for a fault of the home.
                            home_fault.get_or_insert(HomeProblem::no_thread(&refused));
                            workers.remove(&journal.state.steps[index].name);
                        }
                        continue;
                    }
                    let state = journal.state.clone();
                    let observer = &mut *ctx.observer;
                    if let Some(check) =
                        // An expression: nothing runs.
                        runner.check_condition(
                            &state,
                            index,
                            deadline,
                            &mut |s, st, l| observer.line(s, st, l),
                            &mut || false,
                        )
                    {
                        record(journal, ctx, Command::RecordCondition(Box::new(check)))?;
                    }
                } else {
                    let items = runner.read_items(&journal.state, index);
                    record(journal, ctx, Command::RecordItems { step: name, items })?;
                }
                prepared = true;
                break;
            }
            if prepared {
                continue;
            }
            // The phases whose tags this driver does not offer are left to workers: they hold
            // no slot here (`ready_phases_for`), so a phase after them starts meanwhile.
            let ready = ready_phases_for(&journal.state, &|tags| ctx.dispatch.may_run(tags));
            // A backoff ends with its phase no longer waiting for a retry (skipped meanwhile).
            backoff.retain(|n, _| {
                ready.iter().any(|&i| {
                    let s = &journal.state.steps[i];
                    s.name == *n && s.status == StepStatus::Ready
                })
            });
            // Ready phases left to workers: `runs_on:` tags this driver does not offer.
            let mut for_workers: Vec<String> = Vec::new();
            // Ready phases the engine would run, left for a driver given the secret inputs.
            let mut held_for_secrets = 0;
            for index in ready.iter().copied() {
                let name = journal.state.steps[index].name.clone();
                // An older attempt of it still runs here: its lease was taken over while this
                // driver could not renew it (paused, cut off), and the attempt recorded
                // interrupted, so the phase is ready again. Its next attempt waits for that one
                // to end: its result is then recorded (rejected, its lease gone) with the lease
                // it was claimed under, not with the next attempt's.
                if workers.contains(&name) {
                    continue;
                }
                let external = journal.state.is_external(index);
                if !external {
                    let runs_on = journal.state.runs_on(index);
                    if !ctx.dispatch.may_run(runs_on) {
                        if told.insert(name.clone()) {
                            // A worker needs the values of the run's secret inputs too.
                            let to_give = journal
                                .state
                                .start
                                .as_ref()
                                .map_or_else(Vec::new, |s| s.secret_inputs_to_give());
                            ctx.observer.note(&format!(
                                "   Phase `{name}` waits for a worker offering tags {} (`{}`)\n",
                                runs_on.join(", "),
                                crate::project::worker_command(&ctx.globals, runs_on, &to_give)
                            ));
                        }
                        for_workers.push(format!("`{name}` (runs_on: {})", runs_on.join(", ")));
                        continue;
                    }
                    if !missing.is_empty() {
                        held_for_secrets += 1;
                        needs_secrets = true;
                        continue;
                    }
                    if ctx.dispatch.draining() || home_fault.is_some() {
                        continue;
                    }
                }
                // What is left of its backoff, counted from when the retry was scheduled: a
                // resume after it ran out starts the attempt at once.
                let left = journal.backoff_left(index);
                if !left.is_zero() && !external {
                    let due = *backoff.entry(name.clone()).or_insert_with(|| {
                        let now = Instant::now();
                        now.checked_add(left)
                            .unwrap_or(now + Duration::from_secs(86_400))
                    });
                    if Instant::now() < due {
                        // Still in its backoff: the loop comes round (every 100 ms) until due.
                        continue;
                    }
                }
                backoff.remove(&name);
                // What the start appended is told (the observer, the derived files) once the
                // phase is handed to its thread, which starts its process meanwhile.
                let started = match ctx.dispatch.shared.clone().filter(|_| !external) {
                    Some(shared) => {
                        if !shared.slots.try_take() {
                            continue;
                        }
                        match claim_unit(journal, &shared, index)? {
                            Some((lease, events)) => {
                                leases.insert(name.clone(), lease);
                                events
                            }
                            None => {
                                shared.slots.give();
                                continue;
                            }
                        }
                    }
                    None => {
                        let started =
                            match journal.submit(Command::StartAttempt { step: name.clone() }) {
                                // A stop or abort came in with the append: the next turn halts.
                                Err(JournalError::Decide(crate::decide::DecideError::Stopping)) => {
                                    continue;
                                }
                                started => started?,
                            };
                        if external {
                            announce(journal, ctx, &started);
                            continue;
                        }
                        started
                    }
                };
                workers.insert(name.clone());
                let attempt = runner.prepare_attempt(&journal.state, index, deadline);
                let runner = runner.clone();
                let tx = tx.clone();
                let refused = pool.run({
                    let name = name.clone();
                    move || {
                        let lines = tx.clone();
                        let outcome = attempt.run(&runner, &mut |step, s, l| {
                            let _ = lines.send(Msg::Line(step.to_string(), s, l.to_string()));
                        });
                        let _ = tx.send(Msg::Done(name, outcome));
                    }
                });
                announce(journal, ctx, &started);
                if let Err(refused) = refused {
                    // Nothing ran: as an attempt that could not be prepared for a fault of the
                    // home, no phase starts any more and the run is paused, with the reason,
                    // once those running have ended. Before, the driver panicked (exit 101),
                    // leaving commands it had started running and some of them not noted.
                    let outcome = AttemptOutcome::HomeFault(HomeProblem::no_thread(&refused));
                    handle(
                        journal,
                        ctx,
                        &mut workers,
                        &mut leases,
                        &mut home_fault,
                        Msg::Done(name, outcome),
                    )?;
                }
            }
            // Attempts other workers run: this driver waits for their ends, which come through
            // the log.
            let elsewhere = journal
                .state
                .steps
                .iter()
                .any(|s| s.status == StepStatus::Running && !workers.contains(&s.name));
            // Handed back: whoever takes the run next goes on from here. Only with a phase left
            // that a worker runs (ready, or in its retry's backoff): a run that only waits for
            // reports or starts is let wait (below), as any driver lets it — handed back, the
            // next worker "resumed" it only to let it wait.
            if workers.is_empty()
                && !elsewhere
                && ctx.dispatch.draining()
                && ready.iter().any(|&i| !journal.state.is_external(i))
            {
                return Ok(DriveEnd::HandedBack);
            }
            // Nothing runs anywhere and all that is ready asks for tags this driver does not
            // offer: it lets the run go, waiting, for a worker offering them (a worker's driver
            // too, whose lease is let go: before, a worker without the tags held such a run
            // "running" for good, and `--until-idle` never ended).
            if workers.is_empty()
                && backoff.is_empty()
                && !elsewhere
                && !for_workers.is_empty()
                && (ctx.dispatch.shared.is_none() || for_workers.len() == ready.len())
            {
                return Ok(DriveEnd::Waiting(format!(
                    "a worker whose tags cover {}",
                    for_workers.join("; ")
                )));
            }
            // Over for this driver when nothing runs anywhere and all that could go on needs the
            // secret inputs' values.
            if needs_secrets
                && workers.is_empty()
                && !elsewhere
                && for_workers.is_empty()
                && ready.len() == held_for_secrets
            {
                return wait_for_secrets(journal, ctx, &missing);
            }
            // Over for this driver when nothing runs anywhere, and nothing is ready here or for a
            // worker.
            if workers.is_empty() && ready.is_empty() && !elsewhere && for_workers.is_empty() {
                let state = &journal.state;
                if let Some(outcome) = state.outcome() {
                    return Ok(DriveEnd::Finished(outcome));
                }
                if matches!(state.phase, RunPhase::Paused { .. }) {
                    return Ok(DriveEnd::Paused);
                }
                let mut waiting: Vec<String> = state
                    .steps
                    .iter()
                    .filter(|s| s.status == StepStatus::Waiting)
                    .map(|s| s.name.clone())
                    .collect();
                waiting.extend(
                    awaiting_manual_start(state)
                        .into_iter()
                        .map(|i| state.steps[i].name.clone()),
                );
                return Ok(DriveEnd::Waiting(waiting.join(", ")));
            }
            wait(
                journal,
                ctx,
                &rx,
                &mut workers,
                &mut leases,
                &mut home_fault,
            )?;
        }
    })();
    if let Err(DriveError::Journal(super::JournalError::Fenced(why))) = &result
        && !workers.is_empty()
    {
        let why = why.clone();
        let shared = ctx.dispatch.shared.clone();
        // This driver lost its lease (it was paused or cut off past it, and the run was taken
        // over) while attempts it claimed ran here: it decides nothing more, but it ends them
        // as on a stop and records each result that comes in as its unit's lease allows —
        // applied while that lease is still its own, else rejected (`attempt_rejected`),
        // never dropped. Before, the drive ended at once and their results were lost.
        halt.set(libc_sigterm());
        let until = Instant::now() + runner.grace + HELPERS_MARGIN;
        while !workers.is_empty() && Instant::now() < until {
            let Ok(msg) = rx.recv_timeout(Duration::from_millis(100)) else {
                continue;
            };
            match msg {
                Msg::Line(step, stream, line) => ctx.observer.line(&step, stream, &line),
                Msg::Condition(name, _) => {
                    workers.remove(&name);
                }
                Msg::Done(name, outcome) => {
                    workers.remove(&name);
                    let (Some(lease), Some(shared)) = (leases.remove(&name), shared.as_ref())
                    else {
                        // A phase this driver ran itself, unleased: its result (or its end by
                        // its guard) is late, this driver's lease being another's now
                        // (`attempt_rejected`).
                        let late = match outcome {
                            AttemptOutcome::Report(report) => Some((report.step, report.attempt)),
                            AttemptOutcome::Fenced { step, attempt, .. } => Some((step, attempt)),
                            _ => None,
                        };
                        if let Some((step, attempt)) = late
                            && let Ok(events) = journal.reject_late(&step, attempt, &why)
                        {
                            announce(journal, ctx, &events);
                        }
                        continue;
                    };
                    shared.slots.give();
                    // Recorded as its unit's lease allows: applied while it is still this
                    // driver's, else rejected.
                    let ended = match outcome {
                        AttemptOutcome::Report(report) => {
                            Some(finish_unit(journal, shared, &lease, report))
                        }
                        AttemptOutcome::Fenced { why, .. } => {
                            let reason = ctx.fenced_reason(&why);
                            Some(interrupt_unit(journal, shared, &lease, reason))
                        }
                        _ => None,
                    };
                    match ended {
                        Some(Ok((events, applied))) => {
                            count_rejected(shared, applied);
                            announce(journal, ctx, &events);
                        }
                        Some(Err(_)) => {}
                        None => {
                            shared.keeper.forget(&lease);
                            let _ = journal.nested(|store, _, _| store.release_lease(&lease));
                        }
                    }
                }
            }
        }
    }
    if result.is_err() && !workers.is_empty() {
        // The drive ends on an error (the log cannot be written — a full disk, a database
        // gone — or cannot be read): the phases still running here are ended as on a stop
        // (TERM, then KILL after their grace), and waited for. Before, the driver exited and
        // left them running, unsignalled, to their end beside a run whose status then says its
        // driver was killed. Their ends cannot be recorded now: the driver says what it did.
        halt.set(libc_sigterm());
        let ended: Vec<String> = workers.iter().cloned().collect();
        let until = Instant::now() + runner.grace + HELPERS_MARGIN;
        while !workers.is_empty() && Instant::now() < until {
            match rx.recv_timeout(Duration::from_millis(100)) {
                Ok(Msg::Line(step, stream, line)) => ctx.observer.line(&step, stream, &line),
                Ok(Msg::Done(name, _) | Msg::Condition(name, _)) => {
                    workers.remove(&name);
                    // Its end cannot be recorded: its lease is let lapse (below), and whoever
                    // reaps it — another worker, a driver, this worker once the log answers —
                    // records it interrupted.
                    if let (Some(lease), Some(shared)) =
                        (leases.remove(&name), ctx.dispatch.shared.as_ref())
                    {
                        shared.keeper.forget(&lease);
                        shared.slots.give();
                    }
                }
                Err(_) => {}
            }
        }
        let (what, its) = if ended.len() == 1 {
            ("phase", "its end")
        } else {
            ("phases", "their ends")
        };
        let names = ended
            .iter()
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(", ");
        let left = if workers.is_empty() {
            String::new()
        } else {
            format!(
                " ({} did not end within the grace)",
                workers.iter().cloned().collect::<Vec<_>>().join(", ")
            )
        };
        ctx.observer.warn(&format!(
            "the driver stops on the error below, so it ended the {what} it was running ({names}) as on a stop: TERM, then KILL after the grace{left}; {its} could not be recorded, and resume runs {it} again",
            it = if ended.len() == 1 { "it" } else { "them" }
        ));
    }
    // However the drive ended, the leases of attempts it no longer runs are renewed no more
    // (a worker never renews a lease for an attempt nothing runs), and their slots are free.
    // Before, an outage of the log that ended the drive left the lease of the phase its guard
    // had ended renewed for good once the log answered: the phase was shown running on this
    // worker with nothing behind it, and no one — this worker neither — ever reaped it.
    if let Some(shared) = ctx.dispatch.shared.as_ref() {
        for lease in std::mem::take(&mut leases).into_values() {
            shared.keeper.forget(&lease);
            shared.slots.give();
        }
    }
    result
}

/// Where a driver without the values of the secret inputs `missing` stops: all it could
/// record is in the log, and it says how to go on.
fn wait_for_secrets(
    journal: &mut Journal<'_>,
    ctx: &mut DriveContext<'_>,
    missing: &[String],
) -> Result<DriveEnd, DriveError> {
    flush(journal, ctx)?;
    ctx.observer.missing_secrets(missing);
    Ok(DriveEnd::Waiting(format!(
        "the secret inputs {}",
        missing.join(", ")
    )))
}

/// A result of a phase this worker's driver ran under its lease, not applied (recorded
/// rejected: its lease changed hands, or the attempt was ended meanwhile): counted in the
/// worker's closing summary (`Shared::rejected`), as its units' for others' runs are.
fn count_rejected(shared: &super::Shared, applied: bool) {
    if !applied {
        shared
            .rejected
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
}

/// SIGTERM's number, recorded as the reason workers were halted.
fn libc_sigterm() -> i32 {
    nix::sys::signal::Signal::SIGTERM as i32
}

/// Wait briefly for a worker's message (the loop also polls the log for operators' events).
fn wait(
    journal: &mut Journal<'_>,
    ctx: &mut DriveContext<'_>,
    rx: &mpsc::Receiver<Msg>,
    workers: &mut BTreeSet<String>,
    leases: &mut BTreeMap<String, Lease>,
    home_fault: &mut Option<super::runner::HomeProblem>,
) -> Result<(), DriveError> {
    // Nothing staged waits with the driver: a finished phase is in the log before it sleeps.
    flush(journal, ctx)?;
    match rx.recv_timeout(Duration::from_millis(100)) {
        Ok(msg) => handle(journal, ctx, workers, leases, home_fault, msg),
        Err(_) => Ok(()),
    }
}

fn handle(
    journal: &mut Journal<'_>,
    ctx: &mut DriveContext<'_>,
    workers: &mut BTreeSet<String>,
    leases: &mut BTreeMap<String, Lease>,
    home_fault: &mut Option<super::runner::HomeProblem>,
    msg: Msg,
) -> Result<(), DriveError> {
    match msg {
        Msg::Line(step, stream, line) => {
            ctx.observer.line(&step, stream, &line);
            Ok(())
        }
        Msg::Condition(name, check) => {
            workers.remove(&name);
            match check {
                // Refused only if an operator changed the run meanwhile (the phase was skipped,
                // the run stopped): nothing is recorded, and the phase is checked again if it
                // still runs.
                Some(check) => match record(journal, ctx, Command::RecordCondition(check)) {
                    Err(DriveError::Journal(super::JournalError::Decide(_))) => Ok(()),
                    other => other,
                },
                // Ended by a stop: checked again on resume.
                None => Ok(()),
            }
        }
        Msg::Done(name, outcome) => {
            workers.remove(&name);
            if let (Some(lease), Some(shared)) = (leases.remove(&name), ctx.dispatch.shared.clone())
            {
                shared.slots.give();
                return match outcome {
                    // Applied only while its lease is still held; else recorded as rejected.
                    AttemptOutcome::Report(report) => {
                        let (events, applied) = finish_unit(journal, &shared, &lease, report)?;
                        count_rejected(&shared, applied);
                        announce(journal, ctx, &events);
                        Ok(())
                    }
                    // Its guard ended it for the lease this worker could not renew: an
                    // interruption (it runs again), applied while the unit's lease is still
                    // this worker's, else recorded as a late result rejected. Before, it was
                    // recorded as the command's failure ("killed by signal 15"): a retry spent,
                    // `on_failure` applied — `skip` skipped a step that never ran to its end.
                    AttemptOutcome::Fenced { why, .. } => {
                        let reason = ctx.fenced_reason(&why);
                        let (events, applied) = interrupt_unit(journal, &shared, &lease, reason)?;
                        count_rejected(&shared, applied);
                        announce(journal, ctx, &events);
                        Ok(())
                    }
                    AttemptOutcome::Stopped
                    | AttemptOutcome::RunDeadline
                    | AttemptOutcome::HomeFault(_) => {
                        // Its end is recorded before its lease is let go, as a worker running
                        // a phase for another's driver does: a claim whose lease is gone while
                        // its attempt is recorded running is an orphan to every other
                        // worker's reaper (`claims_without_lease`). Before, the lease went
                        // first and the stop (or pause) recorded the attempt after, so another
                        // worker's loop in between recorded "the lease of … is gone … the
                        // attempt runs again" for an attempt a stop had ended.
                        let (worker, host) = (&shared.worker, &shared.host);
                        let reason = match &outcome {
                            AttemptOutcome::HomeFault(problem) => {
                                problem.reason(&format!("worker {worker} on {host}"))
                            }
                            AttemptOutcome::RunDeadline => format!(
                                "worker {worker} on {host} ended it: the run's time limit ran out"
                            ),
                            _ if shared.ending.load(std::sync::atomic::Ordering::Relaxed)
                                && !journal.state.stop_requested
                                && journal.state.abort_requested.is_none() =>
                            {
                                format!(
                                    "worker {worker} on {host} ended it: {}",
                                    super::ENDING_WORDS
                                )
                            }
                            _ => match &journal.state.abort_requested {
                                Some(by) => format!(
                                    "worker {worker} on {host} ended it: the run is being aborted by {}",
                                    by.actor
                                ),
                                None => format!(
                                    "worker {worker} on {host} ended it: the run is being stopped"
                                ),
                            },
                        };
                        if let AttemptOutcome::HomeFault(problem) = outcome {
                            home_fault.get_or_insert(problem);
                        }
                        shared.keeper.forget(&lease);
                        journal.flush()?;
                        let events = journal.submit(Command::InterruptAttempt {
                            step: lease.unit.clone(),
                            attempt: lease.attempt,
                            reason,
                        })?;
                        announce(journal, ctx, &events);
                        let _ = journal.nested(|store, _, _| store.release_lease(&lease));
                        Ok(())
                    }
                };
            }
            match outcome {
                // Appended with the next phase's start, or before the loop waits or returns.
                // Recorded rejected if this driver lost its lease and the attempt was taken
                // over meanwhile (then the drive stops, `Fenced`).
                AttemptOutcome::Report(report) => Ok(journal.stage_result(report)?),
                // Ended by its guard for the driver lease this driver could not renew: an
                // interruption, to run again (rejected if the run was taken over meanwhile).
                AttemptOutcome::Fenced { step, attempt, why } => {
                    let events = journal.interrupt_own(&step, attempt, ctx.fenced_reason(&why))?;
                    announce(journal, ctx, &events);
                    Ok(())
                }
                // Ended by a stop or the time limit: the stop or pause records it.
                AttemptOutcome::Stopped | AttemptOutcome::RunDeadline => Ok(()),
                // Nothing ran: the pause, once no phase runs here, records its end.
                AttemptOutcome::HomeFault(problem) => {
                    home_fault.get_or_insert(problem);
                    Ok(())
                }
            }
        }
    }
}
