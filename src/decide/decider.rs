//! `decide`: judge a command against the run's state and answer with the events it causes.

use std::collections::BTreeMap;

use super::{AttemptReport, Command, DecideError, RunPhase, RunState, StepStatus};
use crate::definition::{CheckpointFrequency, OnFailure, Step, Workflow};
use crate::event::{AttemptEnd, Event, Outcome, ResumeMode, Stage};

/// What the run's units are called in its messages: a scenario's are phases.
fn noun(state: &RunState) -> &'static str {
    if state.is_scenario() { "phase" } else { "step" }
}

/// Decide what `command` means for a run in `state`. Pure: the same state and command always
/// give the same events. Whatever the command, the agents of the phases its events end are
/// deactivated by one rule (`release_agents`), never by each way of ending a phase.
pub fn decide(state: &RunState, command: Command) -> Result<Vec<Event>, DecideError> {
    decide_command(state, command).map(|events| super::phase_agents::release_agents(state, events))
}

fn decide_command(state: &RunState, command: Command) -> Result<Vec<Event>, DecideError> {
    if let Command::Start(started) = command {
        if state.phase != RunPhase::NotStarted {
            return Err(DecideError::AlreadyStarted);
        }
        let parsed = match started.kind {
            crate::event::RunKind::Workflow => {
                serde_json::from_value::<Workflow>(started.definition.clone()).map(|_| ())
            }
            crate::event::RunKind::Scenario => {
                serde_json::from_value::<crate::definition::Scenario>(started.definition.clone())
                    .map(|_| ())
            }
        };
        parsed.map_err(|e| DecideError::BadSnapshot(e.to_string()))?;
        return Ok(vec![Event::RunStarted(started)]);
    }
    if state.phase == RunPhase::NotStarted {
        return Err(DecideError::NotStarted);
    }
    if let Command::RollBackForParent { reason } = &command {
        return roll_back_for_parent(state, reason);
    }
    if let Some(outcome) = state.outcome() {
        return Err(DecideError::Finished(outcome));
    }
    let workflow = state.workflow.as_ref().ok_or_else(|| {
        DecideError::BadSnapshot(state.definition_error.clone().unwrap_or_default())
    })?;
    match command {
        Command::Start(_) | Command::RollBackForParent { .. } => unreachable!("handled above"),
        Command::RecordPreValidation { problems } => Ok(if problems.is_empty() {
            vec![Event::ValidationPassed {
                stage: Stage::Pre,
                step: None,
            }]
        } else {
            let reason = format!(
                "pre-validation failed ({} problem{})",
                problems.len(),
                if problems.len() == 1 { "" } else { "s" }
            );
            vec![
                Event::ValidationFailed {
                    stage: Stage::Pre,
                    step: None,
                    problems,
                },
                Event::RunFinished {
                    outcome: Outcome::Failed,
                    by: None,
                    reason: Some(reason),
                },
            ]
        }),
        Command::StartAttempt { step } => {
            // An operator's stop or abort the driver caught up with as it appended (from
            // another host, between two quick steps) starts nothing more: before, the driver
            // went on starting steps it never looked at the request for, and a quick chain ran
            // to its end past an abort.
            if state.stop_requested {
                return Err(DecideError::Stopping);
            }
            start_attempt(state, &step)
        }
        Command::Submit { by } => {
            if state.phase != RunPhase::Running || state.events == 0 {
                return Err(DecideError::NotActive(phase_name(&state.phase)));
            }
            Ok(vec![Event::RunSubmitted { by }])
        }
        Command::ClaimAttempt {
            step,
            worker,
            host,
            epoch,
        } => {
            let index = known_step(state, &step)?;
            if state.is_external(index) {
                return Err(unready(state, &step, "it waits for a report, not a worker"));
            }
            // A run being stopped or aborted starts nothing more: before, a worker helping its
            // driver claimed the phase again the moment the stop ended its attempt.
            if state.stop_requested {
                return Err(unready(state, &step, "the run is being stopped"));
            }
            let started = start_attempt(state, &step)?;
            let claimed = Event::AttemptClaimed {
                step,
                attempt: state.next_attempt(index),
                worker,
                host,
                epoch,
            };
            Ok(std::iter::once(claimed).chain(started).collect())
        }
        Command::InterruptAttempt {
            step,
            attempt,
            reason,
        } => {
            let running = state
                .step(&step)
                .is_some_and(|s| s.status == StepStatus::Running && s.attempts == attempt);
            if !running {
                return Ok(Vec::new());
            }
            Ok(vec![Event::StepInterrupted {
                step,
                attempt,
                reason,
            }])
        }
        Command::InterruptOrphans {
            leave_claimed,
            lease_lapsed,
        } => {
            let reason = driver_gone(state, lease_lapsed);
            Ok(interrupt_where_units(state, &reason, |s| {
                orphaned(s, leave_claimed)
            }))
        }
        Command::RejectResult {
            step,
            attempt,
            worker,
            host,
            reason,
        } => Ok(vec![Event::AttemptRejected {
            step,
            attempt,
            worker,
            host,
            reason,
        }]),
        Command::FinishAttempt(report) => finish_attempt(state, workflow, *report),
        Command::RecordCompensation {
            step,
            end,
            output_tail,
        } => record_compensation(state, step, end, output_tail),
        Command::RecordPostValidation { problems } => {
            if state.current_step().is_some() || state.phase != RunPhase::Running {
                return Err(DecideError::NotActive(phase_name(&state.phase)));
            }
            Ok(if problems.is_empty() {
                vec![
                    Event::ValidationPassed {
                        stage: Stage::Post,
                        step: None,
                    },
                    finished(Outcome::Completed, None),
                ]
            } else {
                let reason = format!("post-validation failed: {}", problems.join("; "));
                vec![
                    Event::ValidationFailed {
                        stage: Stage::Post,
                        step: None,
                        problems,
                    },
                    Event::RunPaused { step: None, reason },
                ]
            })
        }
        Command::Stop { by, signal } => {
            // A stopped run is stopped: a second stop records nothing (its first is the
            // fact), whoever asks (`orchestrate stop`, MCP `stop`, the page, the TUI).
            if state.phase == RunPhase::Stopped {
                return Ok(Vec::new());
            }
            // An abort asked for and never acted on is final: a stop does not undo it (its
            // `run_stopped` would have cleared the request), the abort is recorded instead.
            if let Some((true, requester)) = pending_request(state) {
                return Ok(abort(state, requester, None));
            }
            let mut events = Vec::new();
            if !state.stop_requested {
                events.push(Event::StopRequested {
                    by,
                    signal,
                    abort: false,
                });
            }
            // What happened, not what will: a stopped run may be aborted later, and then
            // nothing runs again (its status says whether it can be resumed).
            events.extend(interrupt_active(state, "stopped before it finished"));
            events.push(Event::RunStopped { time_limit: None });
            Ok(events)
        }
        Command::RequestStop { by, abort } => {
            // A stop already asked for needs no second request; an abort is asked for once.
            if (!abort && (state.stop_requested || state.phase == RunPhase::Stopped))
                || state.abort_requested.is_some()
            {
                return Ok(Vec::new());
            }
            Ok(vec![Event::StopRequested {
                by,
                signal: None,
                abort,
            }])
        }
        Command::RequestStart { phase, by } => request_start(state, phase, by),
        Command::Abort { by, cut_off } => {
            // An abort asked for earlier and never acted on (its driver died) is the one
            // recorded: its requester ended the run, whoever records it.
            let by = state.abort_requested.clone().unwrap_or(by);
            Ok(abort(state, by, cut_off))
        }
        Command::TakeUpRequest => Ok(match pending_request(state) {
            Some((true, by)) => abort(state, by, None),
            Some((false, _)) => {
                let mut events = interrupt_active(state, "stopped before it finished");
                events.push(Event::RunStopped { time_limit: None });
                events
            }
            None => Vec::new(),
        }),
        Command::Pause { reason } => {
            let mut events = interrupt_in_flight(state, &reason);
            events.push(Event::RunPaused { step: None, reason });
            Ok(events)
        }
        Command::StopAtTimeLimit { reason } => {
            let mut events = interrupt_active(state, &reason);
            events.push(Event::RunStopped {
                time_limit: Some(reason),
            });
            Ok(events)
        }
        // A worker takes over a run still going, never one an operator stopped or is
        // stopping: a worker that read the run before the stop and claimed it after (or whose
        // resume was staged as the stop landed) once restarted what the operator had stopped.
        Command::Resume {
            leave_claimed: true,
            ..
        } if not_for_workers(state).is_some() => Err(DecideError::NotForWorkers(
            not_for_workers(state).unwrap_or_default(),
        )),
        Command::Resume {
            mode,
            by,
            driver,
            timeout_seconds,
            enable_rollback,
            claude,
            leave_claimed,
            lease_lapsed,
        } => {
            // A stop or abort asked for before this resume and never acted on (its driver
            // died, or this resume was decided before the request landed) comes first: the
            // taker records it (`TakeUpRequest`), and only a stopped run is resumed. Before,
            // `run_resumed` cleared the request and an aborted-by-request run completed.
            if let Some((abort, by)) = pending_request(state) {
                return Err(DecideError::RequestPending { abort, by });
            }
            resume(
                state,
                workflow,
                mode,
                by,
                (driver, leave_claimed, lease_lapsed),
                (timeout_seconds, enable_rollback, claude),
            )
        }
        Command::StartCondition { step } => start_condition(state, step),
        Command::RecordCondition(check) => record_condition(state, workflow, *check),
        Command::RecordItems { step, items } => record_items(state, workflow, step, items),
        Command::StartChild {
            step,
            run_id,
            workflow: used,
            replacing,
        } => start_child(state, step, run_id, used, replacing),
        Command::ChildWaiting { step, run_id } => child_waiting(state, step, run_id),
    }
}

/// The events of an abort by `by`: what runs or waits ends, a rollback under way stops where
/// it is (`cut_off`: the compensation ended mid-command), and the run finishes aborted.
fn abort(state: &RunState, by: crate::event::Operator, cut_off: Option<String>) -> Vec<Event> {
    // The run is over: a step still waiting for a report (a workflow's too) never
    // gets one, and is shown ended, not waiting.
    let mut events = interrupt_where(state, "aborted", |s| {
        matches!(s, StepStatus::Running | StepStatus::Waiting)
    });
    // Who aborted it, and why if they said.
    let mut reason = match by.message.as_deref().filter(|m| !m.trim().is_empty()) {
        Some(message) => format!("aborted by {}: {message}", by.actor),
        None => format!("aborted by {}", by.actor),
    };
    // An abort mid-rollback stops the rollback where it is, and says so: the
    // compensation it cut off, and those it left unrun, are recorded.
    if let Some(rb) = &state.rollback {
        let cut_off = cut_off.filter(|s| rb.pending.first() == Some(s));
        let not_run: Vec<String> = rb
            .pending
            .iter()
            .filter(|s| Some(*s) != cut_off.as_ref())
            .cloned()
            .collect();
        reason.push_str(&rollback_left_words(cut_off.as_deref(), &not_run));
        events.push(Event::RollbackFinished {
            failed: rb.failed.clone(),
            cut_off,
            not_run,
        });
    }
    events.push(Event::RunFinished {
        outcome: Outcome::Aborted,
        by: Some(by),
        reason: Some(reason),
    });
    events
}

/// The stop or abort asked of the run's driver that it has not acted on (it may be frozen,
/// busy, or dead): whether it is an abort, and who asked. None on a stopped run (its stop is
/// recorded; an abort asked of it is recorded by the abort itself).
pub fn pending_request(state: &RunState) -> Option<(bool, crate::event::Operator)> {
    if !state.stop_requested || state.phase == RunPhase::Stopped || state.outcome().is_some() {
        return None;
    }
    match &state.abort_requested {
        Some(by) => Some((true, by.clone())),
        None => Some((false, state.stopped_by.as_ref()?.0.clone())),
    }
}

/// Why run `state` is not one for a worker to take over and drive (`Command::Resume` with
/// `leave_claimed`), if it is not: it is not going (stopped, paused, waiting, finished: its
/// phase), or an operator is stopping or aborting it. The one rule, read by the decider
/// (`DecideError::NotForWorkers`) and by `cortex worker` choosing runs to take; a run with a
/// request its dead driver never acted on is taken by a worker only to record that request
/// (`Command::TakeUpRequest`), never driven.
pub fn not_for_workers(state: &RunState) -> Option<String> {
    if !state.stop_requested && state.phase == RunPhase::Running {
        None
    } else if state.abort_requested.is_some() {
        Some("being aborted".to_string())
    } else if state.stop_requested {
        Some("being stopped".to_string())
    } else {
        Some(phase_name(&state.phase))
    }
}

fn phase_name(phase: &RunPhase) -> String {
    match phase {
        RunPhase::NotStarted => "not started",
        RunPhase::Running => "running",
        RunPhase::Waiting => "waiting",
        RunPhase::RollingBack => "rolling back",
        RunPhase::Paused { .. } => "failed",
        RunPhase::Stopped => "stopped",
        RunPhase::Finished { outcome } => outcome.as_str(),
    }
    .to_string()
}

fn finished(outcome: Outcome, reason: Option<String>) -> Event {
    Event::RunFinished {
        outcome,
        by: None,
        reason,
    }
}

/// A process as the log names it to people: `pid N on HOST` (a driver's `run_started`
/// `driver`, a lock's or a lease's holder). The one wording of every message that names a
/// driver's process and host — an interrupted attempt's reason, a worker taking over a run, a
/// status line — so that a reader (or a grep) finds the same words wherever it is said.
pub fn process_on(pid: u32, host: &str) -> String {
    format!("pid {pid} on {host}")
}

/// Why an attempt in flight when its driver died ends without an outcome (recorded by the
/// process that takes the run over: a resume, or an operator's report driving it on).
pub const DRIVER_GONE: &str = "its driver ended before it finished; it runs again as a new attempt";

/// Why attempts in flight of a run whose driver is gone are interrupted: `DRIVER_GONE`, naming
/// the driver and its host (SPEC §9: an attempt cut short is recorded with the worker and
/// host) — a worker by its name, a command's driver by who started its session and its
/// process. Before, a command's driver was not named: on a shared log, nobody could tell
/// which host's driver had died.
fn driver_gone(state: &RunState, lease_lapsed: bool) -> String {
    let worker = state
        .driven_by
        .as_deref()
        .and_then(|a| a.strip_prefix("worker:"));
    let host = state.driver.as_ref().map_or("?", |d| d.host.as_str());
    // Taken over because the driver's lease lapsed: whether that driver ended is not known
    // (paused, cut off, or dead on another host), so it is not said to have ended.
    if lease_lapsed {
        let holder = match (worker, state.driver.as_ref()) {
            (Some(worker), _) => format!("worker {worker} on {host}"),
            (None, Some(driver)) => format!(
                "{} ({})",
                state.driven_by.as_deref().unwrap_or("a command"),
                process_on(driver.pid, &driver.host)
            ),
            (None, None) => "its driver".to_string(),
        };
        return format!(
            "its driver's lease lapsed (holder {holder}) before it finished; it runs again as a new attempt"
        );
    }
    match (worker, state.driver.as_ref()) {
        (Some(worker), _) => format!(
            "its driver, worker {worker} on {host}, ended before it finished; it runs again as a new attempt"
        ),
        (None, Some(driver)) => format!(
            "its driver, {} ({}), ended before it finished; it runs again as a new attempt",
            state.driven_by.as_deref().unwrap_or("a command"),
            process_on(driver.pid, &driver.host)
        ),
        (None, None) => DRIVER_GONE.to_string(),
    }
}

/// Attempts whose end is not in the log: they will never report, so they end here.
fn interrupt_in_flight(state: &RunState, reason: &str) -> Vec<Event> {
    interrupt_where(state, reason, |s| s == StepStatus::Running)
}

/// Like `interrupt_in_flight`, and the steps and phases waiting on a report end too: a stop
/// deactivates every agent, and a report on a stopped run is refused until `resume` (which
/// has the unit wait again), for a workflow's step as for a scenario's phase. Before, a
/// workflow's waiting step went on waiting through a stop: a report on it was taken and the
/// stopped run finished, never resumed.
fn interrupt_active(state: &RunState, reason: &str) -> Vec<Event> {
    interrupt_where(state, reason, |s| {
        matches!(s, StepStatus::Running | StepStatus::Waiting)
    })
}

fn interrupt_where(
    state: &RunState,
    reason: &str,
    which: impl Fn(StepStatus) -> bool,
) -> Vec<Event> {
    interrupt_where_units(state, reason, |s| which(s.status))
}

/// Whether the latest attempt of `s` was claimed by a worker (its lease decides its fate).
fn claimed_now(s: &super::StepState) -> bool {
    s.claimed.as_ref().is_some_and(|c| c.attempt == s.attempts)
}

/// Whether unit `s` has an attempt in flight that a driver taking the run over (its driver
/// dead) must take for the dead driver's: every running attempt, but those a worker claimed
/// when the one taking over is a worker (`leave_claimed`: it reaps the leases that lapse).
/// The one rule for a resume and for any other takeover (`Command::InterruptOrphans`).
pub fn orphaned(s: &super::StepState, leave_claimed: bool) -> bool {
    s.status == StepStatus::Running && !(leave_claimed && claimed_now(s))
}

fn interrupt_where_units(
    state: &RunState,
    reason: &str,
    which: impl Fn(&super::StepState) -> bool,
) -> Vec<Event> {
    let mut events = Vec::new();
    for s in state.steps.iter().filter(|s| which(s)) {
        events.push(Event::StepInterrupted {
            step: s.name.clone(),
            attempt: s.attempts,
            reason: reason.to_string(),
        });
    }
    events
}

fn request_start(
    state: &RunState,
    phase: String,
    by: crate::event::Operator,
) -> Result<Vec<Event>, DecideError> {
    use crate::definition::Condition;
    let Some(sc) = &state.scenario else {
        return Err(DecideError::NotReady {
            phase,
            why: "only scenario phases are started by hand".into(),
        });
    };
    let index = sc
        .phase_index(&phase)
        .ok_or_else(|| DecideError::UnknownStep {
            name: phase.clone(),
            noun: noun(state),
        })?;
    match sc.phases[index].parsed_condition() {
        Ok(Condition::Manual) => {}
        Ok(Condition::Auto) | Err(_) => {
            return Err(DecideError::NotReady {
                phase,
                why: "it is not manual: it starts by itself when the run starts".into(),
            });
        }
        Ok(Condition::After(deps)) => {
            return Err(DecideError::NotReady {
                phase,
                why: format!("it is not manual: it starts after {}", deps.join(", ")),
            });
        }
    }
    let status = state.steps[index].status;
    // Asked for and not taken up yet (the run is held, or its driver has not come to it): a
    // second request says so, not "already started".
    if status == StepStatus::Pending && state.start_requested.contains(&phase) {
        let when = match state.phase {
            RunPhase::Paused { .. } | RunPhase::Stopped => "when the run is resumed",
            _ => "when the run is driven on (by its driver, or a resume)",
        };
        return Err(DecideError::StartRequested { phase, when });
    }
    if status != StepStatus::Pending {
        return Err(DecideError::NotReady {
            phase,
            why: format!("it was already started ({})", status.as_str()),
        });
    }
    Ok(vec![Event::PhaseStartRequested { phase, by }])
}

fn start_attempt(state: &RunState, step: &str) -> Result<Vec<Event>, DecideError> {
    going_on(state)?;
    let index = known_step(state, step)?;
    // A condition unchecked or a list unread: the step cannot start, whoever asks.
    let why = if state.steps[index].items.is_some() {
        Some("its items run instead")
    } else if state.needs_condition(index) {
        Some("its `if:` has not been checked")
    } else if state.needs_expansion(index) {
        Some("its `foreach:` list has not been read")
    } else {
        None
    };
    if let Some(why) = why {
        return Err(unready(state, step, why));
    }
    if state.is_scenario() {
        return start_phase(state, step, index);
    }
    is_current(state, step, index)?;
    let s = &state.steps[index];
    if matches!(
        s.status,
        StepStatus::Running | StepStatus::Waiting | StepStatus::Failed
    ) {
        return Err(DecideError::WrongStepState {
            noun: noun(state),
            step: step.to_string(),
            status: s.status.as_str().into(),
            expected: "pending, ready or stopped".into(),
        });
    }
    Ok(vec![attempt_started(state, step, index)])
}

/// The next attempt of step `index` begins: started, or waiting for a report if external.
fn attempt_started(state: &RunState, step: &str, index: usize) -> Event {
    let attempt = state.next_attempt(index);
    let step = step.to_string();
    if state.is_external(index) {
        Event::StepWaiting { step, attempt }
    } else {
        Event::StepStarted { step, attempt }
    }
}

/// A scenario phase starts when the ready set says so; its agents are activated.
fn start_phase(state: &RunState, step: &str, index: usize) -> Result<Vec<Event>, DecideError> {
    if !crate::plan::ready_phases(state).contains(&index) {
        return Err(DecideError::NotReady {
            phase: step.to_string(),
            why: "its condition does not hold yet, or the parallel limits forbid it".into(),
        });
    }
    let mut events = vec![attempt_started(state, step, index)];
    let phase = &state
        .scenario
        .as_ref()
        .expect("scenario runs have one")
        .phases[index];
    for agent in &phase.agents {
        if !state
            .active_agents
            .iter()
            .any(|(a, p)| a == agent && p == step)
        {
            events.push(Event::AgentActivated {
                agent: agent.clone(),
                phase: step.to_string(),
                by: None,
            });
        }
    }
    Ok(events)
}

fn checkpoint_after(state: &RunState, step: &Step, events: &mut Vec<Event>) {
    let Some(start) = state.start.as_ref() else {
        return;
    };
    let config = &start.config;
    let wanted = config.enable_checkpoints
        && (config.checkpoint_frequency != CheckpointFrequency::Manual || step.checkpoint);
    if wanted {
        events.push(Event::CheckpointSaved {
            step: step.name.clone(),
        });
    }
}

/// After the units `done` are done: finish the run if nothing is left and no post-validation
/// waits.
fn finish_if_last(state: &RunState, workflow: &Workflow, done: &[usize], events: &mut Vec<Event>) {
    // From the last step back: in a chain the first one not done is the next, found at
    // once (from the front, every step done so far was walked for every step's end).
    let rest_done = state
        .steps
        .iter()
        .enumerate()
        .rev()
        .all(|(i, s)| done.contains(&i) || s.status.is_done());
    if rest_done && workflow.post.is_empty() {
        events.push(finished(Outcome::Completed, None));
    }
}

/// After unit `index` is done (completed with `outputs`, or skipped): its checkpoint; if it
/// was the last item of a `foreach:` step to be done, that step's outputs (for each key, the
/// JSON list of the items' values in item order, `null` where an item has none) and its
/// completion; and the run's completion if nothing is left.
fn after_done(
    state: &RunState,
    workflow: &Workflow,
    index: usize,
    outputs: &BTreeMap<&str, &str>,
    completed: bool,
    events: &mut Vec<Event>,
) {
    checkpoint_after(state, &workflow.steps[index], events);
    let mut done = vec![index];
    if let Some(parent) = state.parent_of(index) {
        let units = state.item_units(parent);
        if units
            .clone()
            .all(|j| j == index || state.steps[j].status.is_done())
        {
            let value = |j: usize, key: &str| -> Option<String> {
                if j == index {
                    outputs.get(key).map(|v| v.to_string())
                } else {
                    state.steps[j].outputs.get(key).cloned()
                }
            };
            let mut keys: std::collections::BTreeSet<String> =
                outputs.keys().map(|k| k.to_string()).collect();
            for j in units.clone().filter(|&j| j != index) {
                keys.extend(state.steps[j].outputs.keys().cloned());
            }
            let name = state.steps[parent].name.clone();
            for key in keys {
                let list: Vec<serde_json::Value> = units
                    .clone()
                    .map(|j| value(j, &key).map_or(serde_json::Value::Null, Into::into))
                    .collect();
                events.push(Event::OutputRecorded {
                    step: name.clone(),
                    key,
                    value: serde_json::Value::Array(list).to_string(),
                });
            }
            let is_completed = |j: usize| {
                if j == index {
                    completed
                } else {
                    state.steps[j].status == StepStatus::Completed
                }
            };
            let total = units.len() as u32;
            let completed_items = units.clone().filter(|&j| is_completed(j)).count() as u32;
            events.push(Event::ForeachFinished {
                step: name,
                completed: completed_items,
                skipped: total - completed_items,
            });
            checkpoint_after(state, &workflow.steps[parent], events);
            done.push(parent);
        }
    }
    finish_if_last(state, workflow, &done, events);
}

/// Why a step cannot start, as a phase or a step.
fn unready(state: &RunState, step: &str, why: &str) -> DecideError {
    if state.is_scenario() {
        DecideError::NotReady {
            phase: step.to_string(),
            why: why.to_string(),
        }
    } else {
        DecideError::StepNotReady {
            step: step.to_string(),
            why: why.to_string(),
        }
    }
}

/// A step that is to be checked (`if:`) or expanded (`foreach:`) now must be where the run
/// is: a workflow's current step, a scenario phase whose condition holds (the parallel limits
/// bound what starts, and checking or reading starts nothing).
fn may_prepare(state: &RunState, step: &str, index: usize) -> Result<(), DecideError> {
    going_on(state)?;
    if state.is_scenario() {
        if !crate::plan::condition_met(state, index) {
            return Err(DecideError::NotReady {
                phase: step.to_string(),
                why: "its condition does not hold yet".into(),
            });
        }
        return Ok(());
    }
    is_current(state, step, index)
}

/// A unit starts, or is checked or expanded, only in a run going on: running, its
/// pre-validation recorded.
fn going_on(state: &RunState) -> Result<(), DecideError> {
    if state.phase != RunPhase::Running {
        return Err(DecideError::NotActive(phase_name(&state.phase)));
    }
    if !state.pre_validated {
        return Err(DecideError::NotActive("not pre-validated".into()));
    }
    Ok(())
}

/// A workflow's step `step` (at `index`) starts, or is checked or expanded, only as the
/// run's current step.
fn is_current(state: &RunState, step: &str, index: usize) -> Result<(), DecideError> {
    let current = state.current_step();
    if current != Some(index) {
        return Err(DecideError::NotCurrent {
            noun: noun(state),
            step: step.to_string(),
            current: current.map_or("none".into(), |i| format!("`{}`", state.steps[i].name)),
        });
    }
    Ok(())
}

/// A step's `if: {run:}` command starts: only one with a command condition still to check.
fn start_condition(state: &RunState, step: String) -> Result<Vec<Event>, DecideError> {
    let index = known_step(state, &step)?;
    may_prepare(state, &step, index)?;
    let command = state
        .definition(index)
        .is_some_and(|d| matches!(d.if_, Some(crate::definition::IfCondition::Command(_))));
    if !command || !state.needs_condition(index) {
        return Err(unready(
            state,
            &step,
            "it has no `if: {run:}` command to check now (none, or already checked)",
        ));
    }
    Ok(vec![Event::ConditionStarted { step }])
}

/// What checking a step's `if:` found: it holds (the step goes on to its attempts), it does
/// not (the step is skipped, with the expression and the values seen), or it cannot be
/// decided (the step fails, and its `on_failure` applies).
fn record_condition(
    state: &RunState,
    workflow: &Workflow,
    check: crate::event::ConditionCheck,
) -> Result<Vec<Event>, DecideError> {
    let index = known_step(state, &check.step)?;
    may_prepare(state, &check.step, index)?;
    if !state.needs_condition(index) {
        return Err(unready(
            state,
            &check.step,
            "it has no `if:` to check now (none, or already checked)",
        ));
    }
    let name = check.step.clone();
    let reason = check.reason();
    let error = check.error.is_some();
    let holds = check.holds && !error;
    let mut events = vec![Event::ConditionChecked(Box::new(check))];
    if error {
        fail_for_good(state, workflow, index, &reason, &mut events);
    } else if !holds {
        events.push(Event::StepSkipped {
            step: name,
            reason,
            by: None,
        });
        after_done(state, workflow, index, &BTreeMap::new(), false, &mut events);
    }
    Ok(events)
}

/// What reading a `foreach:` step's list gave: its items (which become units), or why it is
/// not a list (the step fails, and its `on_failure` applies).
fn record_items(
    state: &RunState,
    workflow: &Workflow,
    step: String,
    items: Result<Vec<crate::definition::Item>, String>,
) -> Result<Vec<Event>, DecideError> {
    let index = known_step(state, &step)?;
    may_prepare(state, &step, index)?;
    if !state.needs_expansion(index) {
        return Err(unready(
            state,
            &step,
            "it has no `foreach:` list to read now (none, or already read)",
        ));
    }
    let items = items.and_then(|items| {
        if items.len() > crate::definition::MAX_FOREACH_ITEMS {
            Err(format!(
                "the list has {} items; a `foreach:` takes at most {}",
                items.len(),
                crate::definition::MAX_FOREACH_ITEMS
            ))
        } else {
            Ok(items)
        }
    });
    let mut events = Vec::new();
    match items {
        Ok(items) => {
            let empty = items.is_empty();
            events.push(Event::ForeachExpanded {
                step: step.clone(),
                items,
            });
            if empty {
                // The step's outputs are the lists of its items' values: with no items, `[]`
                // for each key the definition reads of it (no item says which keys it has;
                // a key nothing reads is not recorded). Before, none was recorded, and
                // `steps.each.outputs.r` read as `''`, not the empty list it is.
                for key in workflow.output_keys_read(&step) {
                    events.push(Event::OutputRecorded {
                        step: step.clone(),
                        key,
                        value: "[]".to_string(),
                    });
                }
                events.push(Event::ForeachFinished {
                    step,
                    completed: 0,
                    skipped: 0,
                });
                checkpoint_after(state, &workflow.steps[index], &mut events);
                finish_if_last(state, workflow, &[index], &mut events);
            }
        }
        Err(error) => {
            events.push(Event::ForeachFailed {
                step,
                error: error.clone(),
            });
            fail_for_good(
                state,
                workflow,
                index,
                &format!("foreach: {error}"),
                &mut events,
            );
        }
    }
    Ok(events)
}

/// The index of step `name` in the run, or the error that the run has no such step.
fn known_step(state: &RunState, name: &str) -> Result<usize, DecideError> {
    state
        .step_index(name)
        .ok_or_else(|| DecideError::UnknownStep {
            name: name.to_string(),
            noun: noun(state),
        })
}

/// The attempt in flight of a `uses:` step starts a child run: unless it already has one it
/// may go on with (a child that is not over for good is resumed, never replaced). One the step
/// already failed with, which its driver saw ended since (`replacing`), is replaced.
fn start_child(
    state: &RunState,
    step: String,
    run_id: String,
    used: String,
    replacing: Option<String>,
) -> Result<Vec<Event>, DecideError> {
    let index = known_step(state, &step)?;
    let s = &state.steps[index];
    if !state.is_uses(index) {
        return Err(unready(state, &step, "it has no `uses:`"));
    }
    if s.status != StepStatus::Running {
        return Err(DecideError::WrongStepState {
            noun: noun(state),
            step,
            status: s.status.as_str().into(),
            expected: "running".into(),
        });
    }
    if let Some(link) = s
        .child
        .as_ref()
        .filter(|l| !(l.finished || l.reported && replacing.as_deref() == Some(&l.run_id)))
    {
        return Err(unready(
            state,
            &step,
            &format!(
                "its child run {} is not over; it is resumed instead",
                link.run_id
            ),
        ));
    }
    Ok(vec![Event::ChildStarted {
        step,
        attempt: s.attempts,
        run_id,
        workflow: used,
    }])
}

/// The child run of a `uses:` step waits for a report or a start: the step waits with it.
fn child_waiting(
    state: &RunState,
    step: String,
    run_id: String,
) -> Result<Vec<Event>, DecideError> {
    let index = known_step(state, &step)?;
    let s = &state.steps[index];
    if s.child.as_ref().is_none_or(|l| l.run_id != run_id) {
        return Err(unready(
            state,
            &step,
            &format!("run {run_id} is not its child run"),
        ));
    }
    match s.status {
        StepStatus::Running => Ok(vec![Event::ChildWaiting {
            step,
            attempt: s.attempts,
            run_id,
        }]),
        // Said once: a parent driven again while its child still waits records nothing.
        StepStatus::Waiting => Ok(Vec::new()),
        other => Err(DecideError::WrongStepState {
            noun: noun(state),
            step,
            status: other.as_str().into(),
            expected: "running or waiting".into(),
        }),
    }
}

/// A step failed for good (retries exhausted, a condition that cannot be decided, a list that
/// cannot be read): its `on_failure` applies.
fn fail_for_good(
    state: &RunState,
    workflow: &Workflow,
    index: usize,
    error: &str,
    events: &mut Vec<Event>,
) {
    let name = state.steps[index].name.clone();
    let what = if state.is_scenario() { "phase" } else { "step" };
    let reason = format!("{what} `{name}` failed: {error}");
    match workflow.steps[index].on_failure.unwrap_or_default() {
        OnFailure::Pause => events.push(Event::RunPaused {
            step: Some(name),
            reason,
        }),
        OnFailure::Skip => {
            events.push(Event::StepSkipped {
                step: name,
                reason: format!("on_failure: skip ({error})"),
                by: None,
            });
            after_done(state, workflow, index, &BTreeMap::new(), false, events);
        }
        OnFailure::Abort => events.push(finished(Outcome::Aborted, Some(reason))),
        OnFailure::Rollback => {
            let steps: Vec<String> = state.completion_order.iter().rev().cloned().collect();
            let empty = steps.is_empty();
            events.push(Event::RollbackStarted {
                reason: reason.clone(),
                steps,
                resume_after: None,
            });
            if empty {
                events.push(Event::RollbackFinished {
                    failed: Vec::new(),
                    cut_off: None,
                    not_run: Vec::new(),
                });
                events.push(finished(Outcome::RolledBack, Some(reason)));
            }
        }
    }
}

fn retry_limit(state: &RunState, step: &Step) -> u32 {
    step.retry
        .as_ref()
        .and_then(|r| r.max_retry_attempts)
        .unwrap_or_else(|| {
            state
                .start
                .as_ref()
                .map_or(0, |s| s.config.max_retry_attempts)
        })
}

/// Delay before retry number `n` (1-based): the backoff, doubled for each further retry.
/// Saturates: a snapshot recorded before backoffs were bounded may hold any duration.
fn backoff_ms(step: &Step, n: u32) -> u64 {
    let base = step
        .retry
        .as_ref()
        .and_then(|r| r.backoff.as_ref())
        .and_then(|d| d.to_duration().ok())
        .map_or(1000, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    base.saturating_mul(1u64 << (n.saturating_sub(1)).min(16))
}

fn finish_attempt(
    state: &RunState,
    workflow: &Workflow,
    mut report: AttemptReport,
) -> Result<Vec<Event>, DecideError> {
    // The runner's final text is its output `result` (the runner puts it there): said so when
    // the outputs are refused for their size. Then it is clipped for its event and for the
    // error it may become.
    let result_is_output = report.agent.as_ref().is_some_and(|agent| {
        report
            .outputs
            .iter()
            .any(|(k, v)| k == "result" && *v == agent.result)
    });
    if let Some(agent) = report.agent.as_mut() {
        clip_agent_result(agent);
    }
    let index = known_step(state, &report.step)?;
    let s = &state.steps[index];
    let step = &workflow.steps[index];
    if !matches!(s.status, StepStatus::Running | StepStatus::Waiting) {
        return Err(DecideError::WrongStepState {
            noun: noun(state),
            step: report.step.clone(),
            status: s.status.as_str().into(),
            expected: "running or waiting".into(),
        });
    }
    if report.attempt != s.attempts {
        return Err(DecideError::AttemptMismatch {
            noun: noun(state),
            step: report.step.clone(),
            expected: s.attempts,
            got: report.attempt,
        });
    }
    let outputs: BTreeMap<&str, &str> = report
        .outputs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let mut problems = report.validation_problems.clone();
    // Every route into outputs is held to one bound here: `$CORTEX_OUTPUT` (already refused
    // by its size), a report's `--output` (CLI or MCP) and Claude Code's result.
    if report.end.succeeded()
        && let Some(problem) = super::outputs_too_large(&report.outputs)
    {
        let problem = if result_is_output {
            format!(
                "{problem} (Claude Code's result is output `result`; its whole text is in the attempt's log file)"
            )
        } else {
            problem
        };
        problems.insert(0, problem);
    } else if report.end.succeeded()
        && !report.outputs.is_empty()
        && let Some(parent) = state.parent_of(index)
    {
        // Only an item that brings outputs can take the items past the bound (each before
        // it was held to it as it finished): without, the others' are not summed (that
        // walk over every item, for every item, made a 10,000-item step quadratic).
        // A `foreach:` step's outputs are lists of its items' (one event each): the items
        // together are held to the bound one unit is, else N items under it made a list of
        // N MiB.
        let others: u64 = state
            .item_units(parent)
            .filter(|&j| j != index)
            .map(|j| super::outputs_bytes(&state.steps[j].outputs))
            .sum();
        let bytes = others + super::outputs_bytes(report.outputs.iter().map(|(k, v)| (k, v)));
        let parent_name = crate::definition::shown(&state.steps[parent].name);
        if bytes > super::MAX_OUTPUT_BYTES {
            problems.insert(
                0,
                super::too_large(
                    &format!("with the other items', the outputs of `{parent_name}` hold"),
                    bytes,
                ),
            );
        } else {
            // The step's outputs are one list per key any item has: the keys of all items
            // together are held to the bound one unit's are.
            let mut keys: std::collections::BTreeSet<&str> = outputs.keys().copied().collect();
            for j in state.item_units(parent).filter(|&j| j != index) {
                keys.extend(state.steps[j].outputs.keys().map(String::as_str));
            }
            if keys.len() > super::MAX_OUTPUT_KEYS {
                problems.insert(
                    0,
                    super::too_many_keys(
                        &format!("with the other items', the outputs of `{parent_name}` have"),
                        keys.len(),
                    ),
                );
            }
        }
    }
    if report.end.succeeded() {
        for check in &step.validate {
            if let Some(key) = &check.output
                && !outputs.contains_key(key.as_str())
            {
                problems.push(format!("output `{key}` was not produced"));
            }
        }
    }
    // A report is a fact, not a try: a `complete` that does not pass the gate is refused (the
    // step keeps waiting), and a reported failure is not retried on a timer.
    let reported = matches!(report.end, AttemptEnd::Reported { .. });
    if reported && report.end.succeeded() && !problems.is_empty() {
        return Err(DecideError::ReportRefused {
            step: report.step.clone(),
            problems,
        });
    }
    let name = report.step.clone();
    let attempt = report.attempt;
    let mut events = Vec::new();
    // What the runner said comes first, whatever the attempt's end.
    let agent_error = report.agent.as_ref().and_then(|a| a.error_text());
    if let Some(log) = report.log {
        events.push(Event::AttemptLog {
            step: name.clone(),
            attempt,
            file: log.file,
            bytes: log.bytes,
            blake3: log.blake3,
            home: log.home,
            home_dir: log.home_dir,
            lost_bytes: log.lost.as_ref().map(|(n, _)| *n),
            lost_reason: log.lost.map(|(_, why)| why),
        });
    }
    if let Some(mut agent) = report.agent {
        agent.step.clone_from(&name);
        agent.attempt = attempt;
        events.push(Event::AgentResult(agent));
    }
    if report.end.succeeded() && problems.is_empty() {
        for (&key, &value) in &outputs {
            events.push(Event::OutputRecorded {
                step: name.clone(),
                key: key.to_string(),
                value: value.to_string(),
            });
        }
        if !step.validate.is_empty() {
            events.push(Event::ValidationPassed {
                stage: Stage::Step,
                step: Some(name.clone()),
            });
        }
        if let Some(phase) = state.scenario.as_ref().map(|sc| &sc.phases[index]) {
            for c in &phase.success_criteria {
                events.push(Event::CriterionMet {
                    phase: name.clone(),
                    criterion: c.label(),
                    checked: matches!(c, crate::definition::Criterion::Check { .. }),
                    by: report.by.clone(),
                });
            }
        }
        events.push(Event::StepSucceeded {
            step: name.clone(),
            attempt,
            end: report.end,
            output_tail: report.output_tail,
            by: report.by,
        });
        after_done(state, workflow, index, &outputs, true, &mut events);
        return Ok(events);
    }

    // The attempt failed: record how, then retry or apply the step's failure policy.
    let error = match (&report.end, agent_error) {
        (end, _) if end.succeeded() => format!("validation failed: {}", problems.join("; ")),
        // The runner's own words already are the error.
        (end @ AttemptEnd::AgentFailed { .. }, _) | (end, None) => end.describe(),
        (end, Some(said)) => format!("{}: {said}", end.describe()),
    };
    match &report.end {
        end if end.succeeded() => events.push(Event::ValidationFailed {
            stage: Stage::Step,
            step: Some(name.clone()),
            problems,
        }),
        AttemptEnd::TimedOut { timeout_ms } => events.push(Event::StepTimedOut {
            step: name.clone(),
            attempt,
            timeout_ms: *timeout_ms,
            output_tail: report.output_tail,
        }),
        end => events.push(Event::StepFailed {
            step: name.clone(),
            attempt,
            end: end.clone(),
            error: error.clone(),
            output_tail: report.output_tail,
            by: report.by,
        }),
    }
    let failures = s.budget_failures + 1;
    let retryable = match (&report.end, step.retry.as_ref()) {
        // It could not start for a reason no retry changes (a missing working directory).
        _ if report.permanent => false,
        (AttemptEnd::Reported { .. }, _) => false,
        // A child run's steps retry by their own policy: a `uses:` step retries (resuming a
        // paused child, or starting a new one) only when its own `retry:` says so.
        (AttemptEnd::Child { .. }, None) => false,
        // A child run that could not be started (its `with:` values do not pass its inputs,
        // its definition is not in the run's snapshot) is a fact of the log, not of the
        // moment: a retry would fail the same way.
        (AttemptEnd::SpawnFailed { .. }, _) if step.uses.is_some() => false,
        (AttemptEnd::Exited { code }, Some(r)) if !r.on_exit_codes.is_empty() => {
            r.on_exit_codes.contains(code)
        }
        (_, Some(r)) if !r.on_exit_codes.is_empty() => false,
        _ => true,
    };
    if retryable && failures <= retry_limit(state, step) {
        events.push(Event::RetryScheduled {
            step: name,
            attempt: attempt + 1,
            delay_ms: backoff_ms(step, failures),
        });
        return Ok(events);
    }
    fail_for_good(state, workflow, index, &error, &mut events);
    Ok(events)
}

/// A runner's final text past what outputs may hold is recorded clipped: the event is part
/// of the log, replayed with the run, and the whole text is in the attempt's log file.
fn clip_agent_result(agent: &mut crate::event::AgentResult) {
    const KEPT: usize = 4096;
    let bytes = agent.result.len();
    if bytes as u64 <= super::MAX_OUTPUT_BYTES {
        return;
    }
    let mut end = KEPT;
    while !agent.result.is_char_boundary(end) {
        end -= 1;
    }
    agent.result.truncate(end);
    agent.result.push_str(&format!(
        "\n… ({bytes} bytes in all, more than outputs may hold: the whole text is in the attempt's log file)"
    ));
}

/// What an abort left of a rollback, for the run's reason: the step whose compensation it
/// cut off (it may be half-undone) and the steps never compensated.
fn rollback_left_words(cut_off: Option<&str>, not_run: &[String]) -> String {
    let names = |v: &[String]| {
        v.iter()
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut out = String::from("; the rollback was left unfinished");
    if let Some(step) = cut_off {
        out.push_str(&format!(
            ": the compensation of `{step}` was cut off mid-command (it may be half-undone)"
        ));
    }
    if !not_run.is_empty() {
        out.push_str(if cut_off.is_some() { ", and " } else { ": " });
        out.push_str(&format!(
            "{} never compensated (not undone)",
            names(not_run)
        ));
    }
    out.push_str("; check them by hand");
    out
}

/// A completed child run's rollback, asked by its parent's (`Command::RollBackForParent`):
/// its completed steps newest first, as its own `on_failure: rollback` would; nothing to
/// compensate ends it `rolled_back` at once. Only a completed child run: one that failed, was
/// aborted or rolled back never completed the parent's step.
fn roll_back_for_parent(state: &RunState, reason: &str) -> Result<Vec<Event>, DecideError> {
    if state.start.as_ref().is_none_or(|s| s.parent.is_none()) {
        return Err(DecideError::NoRollback("(not a child run)".into()));
    }
    match state.outcome() {
        Some(Outcome::Completed) => {}
        Some(outcome) => return Err(DecideError::Finished(outcome)),
        None => return Err(DecideError::NotActive(phase_name(&state.phase))),
    }
    let steps: Vec<String> = state.completion_order.iter().rev().cloned().collect();
    let mut events = vec![Event::RollbackStarted {
        reason: reason.to_string(),
        steps: steps.clone(),
        resume_after: None,
    }];
    if steps.is_empty() {
        events.push(Event::RollbackFinished {
            failed: Vec::new(),
            cut_off: None,
            not_run: Vec::new(),
        });
        events.push(finished(Outcome::RolledBack, Some(reason.to_string())));
    }
    Ok(events)
}

fn record_compensation(
    state: &RunState,
    step: String,
    end: Option<AttemptEnd>,
    output_tail: String,
) -> Result<Vec<Event>, DecideError> {
    let rollback = state
        .rollback
        .as_ref()
        .ok_or_else(|| DecideError::NoRollback(step.clone()))?;
    if rollback.pending.first() != Some(&step) {
        return Err(DecideError::NoRollback(step));
    }
    let mut failed = rollback.failed.clone();
    let mut events = vec![match end {
        None => Event::StepCompensated {
            step,
            ran: false,
            output_tail,
        },
        Some(end) if end.succeeded() => Event::StepCompensated {
            step,
            ran: true,
            output_tail,
        },
        Some(end) => {
            failed.push(step.clone());
            let error = end.describe();
            Event::CompensationFailed {
                step,
                end,
                error,
                output_tail,
            }
        }
    }];
    if rollback.pending.len() == 1 {
        events.push(Event::RollbackFinished {
            failed: failed.clone(),
            cut_off: None,
            not_run: Vec::new(),
        });
        let failures =
            (!failed.is_empty()).then(|| format!("compensation failed for: {}", failed.join(", ")));
        match (&rollback.resume_after, failures) {
            (None, None) => {
                events.push(finished(Outcome::RolledBack, Some(rollback.reason.clone())))
            }
            (None, Some(f)) => events.push(finished(
                Outcome::Failed,
                Some(format!("{}; {f}; clean up by hand", rollback.reason)),
            )),
            (Some(_), None) => {}
            (Some(_), Some(f)) => events.push(Event::RunPaused {
                step: None,
                reason: f,
            }),
        }
    }
    Ok(events)
}

/// `--from` and `--rollback-to` name steps, not the items of a `foreach:` step.
fn refuse_item(state: &RunState, index: usize) -> Result<(), DecideError> {
    match &state.steps[index].item {
        Some(of) => Err(DecideError::ItemOfForeach {
            unit: state.steps[index].name.clone(),
            parent: of.parent.clone(),
        }),
        None => Ok(()),
    }
}

/// Why `--retry` is refused: no step (phase) of the run failed; the ones a stop ended did
/// not, and a plain resume runs them again. One wording for both kinds.
fn nothing_failed(state: &RunState) -> String {
    let noun = noun(state);
    let stopped: Vec<String> = state
        .steps
        .iter()
        .filter(|s| matches!(s.status, StepStatus::Stopped | StepStatus::Running))
        .map(|s| format!("`{}`", s.name))
        .collect();
    if stopped.is_empty() {
        format!("no {noun} of this run failed")
    } else {
        format!(
            "no {noun} of this run failed ({} {} stopped, not failed: a plain resume runs {} again)",
            stopped.join(", "),
            if stopped.len() == 1 { "was" } else { "were" },
            if stopped.len() == 1 { "it" } else { "them" },
        )
    }
}

/// Why `--from` a unit that never ran is refused, and what works instead.
fn not_run_yet(state: &RunState, paused: bool) -> String {
    if state.is_scenario() {
        return "it has not run yet; a plain resume starts it when its condition is met".into();
    }
    let ran: Vec<String> = state
        .steps
        .iter()
        .filter(|s| s.item.is_none() && (s.attempts > 0 || s.status.is_done() || s.items.is_some()))
        .map(|s| format!("`{}`", crate::definition::shown(&s.name)))
        .collect();
    let from = match ran.is_empty() {
        true => String::new(),
        false => format!(", or `--from` a step that ran ({})", ran.join(", ")),
    };
    match state.current_step().map(|i| &state.steps[i]) {
        Some(current) if paused => format!(
            "it has not run yet; use `--retry` (run `{0}` again), `--skip` (skip `{0}` and go on){from}",
            crate::definition::shown(&current.name)
        ),
        Some(current) => format!(
            "it has not run yet; the run goes on to it after `{}`{from}",
            crate::definition::shown(&current.name)
        ),
        None => format!("it has not run yet{from}"),
    }
}

fn resume(
    state: &RunState,
    workflow: &Workflow,
    mode: ResumeMode,
    by: crate::event::Operator,
    (driver, leave_claimed, lease_lapsed): (crate::event::Driver, bool, bool),
    (timeout_seconds, enable_rollback, claude): (
        Option<u64>,
        Option<bool>,
        Option<crate::definition::ClaudeConfig>,
    ),
) -> Result<Vec<Event>, DecideError> {
    let config = &state
        .start
        .as_ref()
        .expect("started runs have a start")
        .config;
    // How Claude Code runs is the configuration's in force at resume (as the time limit is):
    // recorded where it differs from the one in force, so that a fixed `agents.claude` helps
    // the run it was fixed for. Before, the run kept the block of its `run` for ever: a wrong
    // program, fixed, still failed every `resume --retry`.
    let claude = claude.filter(|now| {
        state
            .claude_setup()
            .is_some_and(|setup| setup.settings() != *now)
    });
    // A rollback is decided by the configuration in force at resume (as the time limit is),
    // else by the one recorded at `run`; recorded with the resume where it is not that one.
    let rollback_enabled = enable_rollback.unwrap_or(config.enable_rollback);
    let rollback_setting = enable_rollback
        .filter(|&now| now != config.enable_rollback && matches!(mode, ResumeMode::RollbackTo(_)));
    let paused = matches!(state.phase, RunPhase::Paused { .. });
    // Begun, a rollback is the run's way on until it ends, whatever stopped it (a killed
    // driver, a stop): skipping or retrying a step past it would finish a half-undone run as
    // completed.
    if let Some(rb) = &state.rollback {
        let mode = match &mode {
            ResumeMode::Continue => None,
            ResumeMode::Retry => Some("retry"),
            ResumeMode::Skip => Some("skip"),
            ResumeMode::RollbackTo(_) => Some("rollback-to"),
            ResumeMode::From(_) => Some("from"),
        };
        if let Some(mode) = mode {
            let pending = if rb.pending.is_empty() {
                "nothing".to_string()
            } else {
                rb.pending
                    .iter()
                    .map(|s| format!("`{}`", crate::definition::shown(s)))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            return Err(DecideError::RollingBack { mode, pending });
        }
    }
    // Every completed phase of a scenario is a resume point: the DAG goes on from there. A
    // workflow goes on from its latest checkpoint, whichever way it goes on (plainly, with
    // `--retry` or with `--skip`): steps completed after it are no resume point and run again
    // (with checkpoints disabled, from the first step). `--from` and `--rollback-to` name
    // their point themselves.
    //
    // A run that was only handed off — waiting for a report, or for someone to drive it on
    // after a report recorded with `--no-drive` — was cut short nowhere: no attempt in
    // flight, no stop, no failure. A plain resume of it goes on from where it is, reported
    // steps and all, checkpoints or not: checkpoints say what survives a crash, and there
    // was none (SPEC §7: a report drives the run on; `interrupted` means a driver died with
    // an attempt in flight).
    let handed_off = matches!(mode, ResumeMode::Continue)
        && matches!(state.phase, RunPhase::Running | RunPhase::Waiting)
        && !state.work_in_hand()
        && !state.steps.iter().any(|s| s.status == StepStatus::Stopped);
    let mut restart_from = match &mode {
        _ if handed_off => None,
        ResumeMode::Continue | ResumeMode::Retry | ResumeMode::Skip if !state.is_scenario() => {
            let from = state.resume_point().map_or(0, |i| i + 1);
            state
                .steps
                .iter()
                .skip(from)
                .find(|s| s.status.is_done())
                .map(|s| s.name.clone())
        }
        _ => None,
    };
    // A scenario's completed phase is a resume point through its checkpoint: with checkpoints
    // off (or `manual` and none saved) it runs again, as a workflow's steps do.
    let rerun: Vec<String> = match &mode {
        _ if handed_off => Vec::new(),
        ResumeMode::Continue | ResumeMode::Retry | ResumeMode::Skip if state.is_scenario() => state
            .steps
            .iter()
            .filter(|s| {
                s.status == StepStatus::Completed
                    && !state.checkpoints.iter().any(|c| c.step == s.name)
            })
            .map(|s| s.name.clone())
            .collect(),
        _ => Vec::new(),
    };
    let mut after = Vec::new();
    match &mode {
        ResumeMode::Continue => {}
        // A scenario retries its failed phases: refused when none failed (a phase a stop
        // ended did not fail; a plain resume runs it again), whatever the run's phase.
        ResumeMode::Retry if state.is_scenario() => {
            if !state.steps.iter().any(|s| s.status == StepStatus::Failed) {
                return Err(DecideError::CannotRetry(nothing_failed(state)));
            }
        }
        // A workflow retries the step its failure paused it on: worded as a scenario's.
        ResumeMode::Retry => {
            if !paused {
                return Err(DecideError::CannotRetry(nothing_failed(state)));
            }
        }
        ResumeMode::Skip => {
            // A scenario skips the one phase that failed or waits for a report, else the one
            // phase a stop ended (as a workflow skips the step its stop ended: review j F7,
            // where the scenario refused what the workflow took); among several the first in
            // the file is no answer: its dependents would run without its work.
            if state.is_scenario() {
                let named = |pred: &dyn Fn(StepStatus) -> bool| {
                    state
                        .steps
                        .iter()
                        .filter(|s| pred(s.status))
                        .map(|s| format!("`{}`", s.name))
                        .collect::<Vec<_>>()
                };
                let stuck = named(&|s| matches!(s, StepStatus::Failed | StepStatus::Waiting));
                match stuck.len() {
                    1 => {}
                    0 => {
                        let stopped =
                            named(&|s| matches!(s, StepStatus::Stopped | StepStatus::Running));
                        match stopped.len() {
                            1 => {}
                            0 => {
                                return Err(DecideError::CannotSkip(
                                    "no phase failed or waits for a report; a plain resume goes on"
                                        .into(),
                                ));
                            }
                            _ => {
                                return Err(DecideError::CannotSkip(format!(
                                    "no phase failed or waits for a report, and {} were stopped: `--skip` skips exactly one; a plain resume runs them again",
                                    stopped.join(", "),
                                )));
                            }
                        }
                    }
                    _ => {
                        return Err(DecideError::CannotSkip(format!(
                            "{} failed or wait for a report, and `--skip` skips exactly one; a plain resume runs the failed ones again, a report (`orchestrate complete|fail`) settles a waiting one",
                            stuck.join(", ")
                        )));
                    }
                }
            }
            let stuck = |s: &&super::StepState| {
                matches!(
                    s.status,
                    StepStatus::Failed
                        | StepStatus::Waiting
                        | StepStatus::Stopped
                        | StepStatus::Running
                )
            };
            let current = state
                .steps
                .iter()
                .find(stuck)
                .or_else(|| {
                    state
                        .current_step()
                        .map(|i| &state.steps[i])
                        .filter(|_| paused)
                })
                .ok_or(DecideError::NothingToRecover("skip"))?;
            let index = state
                .step_index(&current.name)
                .expect("current step exists");
            after.push(Event::StepSkipped {
                step: current.name.clone(),
                reason: "skipped by an operator (resume --skip)".into(),
                by: Some(by.clone()),
            });
            // What follows the skip is judged against the run as this resume leaves it (the
            // steps it runs again are not done, so the skip is not the last one left).
            let mut resumed = state.clone();
            let reset = Event::RunResumed {
                mode: mode.clone(),
                restart_from: restart_from.clone(),
                driver: driver.clone(),
                by: by.clone(),
                timeout_seconds,
                enable_rollback: None,
                claude: claude.clone(),
                rerun: rerun.clone(),
            };
            super::state::evolve_in_place(
                &mut resumed,
                crate::event::Stamped {
                    run_id: &state.run_id,
                    seq: state.events,
                    time: "",
                    hash: &state.head_hash,
                    event: &reset,
                },
            );
            after_done(
                &resumed,
                workflow,
                index,
                &BTreeMap::new(),
                false,
                &mut after,
            );
        }
        ResumeMode::RollbackTo(target) => {
            if !rollback_enabled {
                return Err(DecideError::RollbackDisabled {
                    at_start: enable_rollback.is_none(),
                });
            }
            let index = known_step(state, target)?;
            refuse_item(state, index)?;
            if state.steps[index].status != StepStatus::Completed {
                return Err(DecideError::CannotRollbackTo {
                    step: target.clone(),
                    reason: format!(
                        "it is {}, not completed",
                        state.steps[index].status.as_str()
                    ),
                });
            }
            // The target's own items stay: rolling back to a `foreach:` step keeps it whole.
            let end = state.block_end(index);
            let steps: Vec<String> = if state.is_scenario() {
                // A scenario's checkpoint after PHASE is the moment PHASE completed: the
                // phases that completed after it are undone, whatever their place in the
                // file (parallel phases complete in any order), newest first.
                let own = |n: &String| {
                    state
                        .step_index(n)
                        .is_some_and(|i| (index..=end).contains(&i))
                };
                let at = state
                    .completion_order
                    .iter()
                    .rposition(&own)
                    .map_or(0, |p| p + 1);
                state.completion_order[at..]
                    .iter()
                    .filter(|n| !own(n))
                    .rev()
                    .cloned()
                    .collect()
            } else {
                state
                    .completion_order
                    .iter()
                    .filter(|n| state.step_index(n).is_some_and(|i| i > end))
                    .rev()
                    .cloned()
                    .collect()
            };
            // Failed or stopped steps after the target run again after the rollback.
            let reason = format!("rollback to `{target}` requested");
            let empty = steps.is_empty();
            after.push(Event::RollbackStarted {
                reason,
                steps,
                resume_after: Some(target.clone()),
            });
            if empty {
                after.push(Event::RollbackFinished {
                    failed: Vec::new(),
                    cut_off: None,
                    not_run: Vec::new(),
                });
            }
            restart_from = state.steps.get(end + 1).map(|s| s.name.clone());
        }
        ResumeMode::From(target) => {
            let index = known_step(state, target)?;
            refuse_item(state, index)?;
            // A phase runs when its condition lets it: one that never ran has nothing to
            // re-run, and resetting its dependents (pending too) would change nothing.
            // A step that never ran either: resetting it and the steps after it would leave
            // the run where it is, and the step it stopped on would run again instead.
            // A `foreach:` step whose list was read has started (its items ran, or are
            // to): `--from` it runs it again whole, its items dropped and its list read again
            // (`reset_units`). Before, such a step (its own attempts 0, its status pending)
            // was refused as one that "has not run yet", and a child whose list came from an
            // input could not run the step from scratch at all.
            let unit = &state.steps[index];
            if unit.status == StepStatus::Pending && unit.attempts == 0 && unit.items.is_none() {
                // A manual phase never starts by a resume: `orchestrate start` starts it.
                let manual = state.scenario.as_ref().is_some_and(|sc| {
                    sc.phase_index(&unit.name).is_some_and(|i| {
                        matches!(
                            sc.phases[i].parsed_condition(),
                            Ok(crate::definition::Condition::Manual)
                        )
                    })
                });
                if manual {
                    return Err(DecideError::ManualNotStarted {
                        phase: unit.name.clone(),
                    });
                }
                return Err(DecideError::CannotRerunFrom {
                    noun: noun(state),
                    step: target.clone(),
                    reason: not_run_yet(state, paused),
                });
            }
            restart_from = Some(target.clone());
        }
    }
    let mut events = interrupt_where_units(state, &driver_gone(state, lease_lapsed), |s| {
        orphaned(s, leave_claimed)
    });
    events.push(Event::RunResumed {
        mode: mode.clone(),
        restart_from: if matches!(mode, ResumeMode::RollbackTo(_)) {
            None
        } else {
            restart_from
        },
        driver,
        by,
        timeout_seconds,
        enable_rollback: rollback_setting,
        claude,
        rerun,
    });
    events.extend(after);
    Ok(events)
}
