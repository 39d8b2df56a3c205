//! `decide`: judge a command against the run's state and answer with the events it causes.

use std::collections::BTreeMap;

use super::{AttemptReport, Command, DecideError, RunPhase, RunState, StepStatus};
use crate::definition::{CheckpointFrequency, OnFailure, Step, Workflow};
use crate::event::{AttemptEnd, Event, Outcome, ResumeMode, Stage};

/// Decide what `command` means for a run in `state`. Pure: the same state and command always
/// give the same events.
pub fn decide(state: &RunState, command: Command) -> Result<Vec<Event>, DecideError> {
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
    if let Some(outcome) = state.outcome() {
        return Err(DecideError::Finished(outcome));
    }
    let workflow = state.workflow.as_ref().ok_or_else(|| {
        DecideError::BadSnapshot(state.definition_error.clone().unwrap_or_default())
    })?;
    match command {
        Command::Start(_) => unreachable!("handled above"),
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
        Command::StartAttempt { step } => start_attempt(state, &step),
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
            let mut events = Vec::new();
            if !state.stop_requested {
                events.push(Event::StopRequested {
                    by,
                    signal,
                    abort: false,
                });
            }
            events.extend(interrupt_active(
                state,
                "stopped before it finished; it runs again on resume",
            ));
            events.push(Event::RunStopped {});
            Ok(events)
        }
        Command::RequestStop { by, abort } => {
            // A stop already asked for needs no second request; an abort is asked for once.
            if (state.stop_requested && !abort) || state.abort_requested.is_some() {
                return Ok(Vec::new());
            }
            Ok(vec![Event::StopRequested {
                by,
                signal: None,
                abort,
            }])
        }
        Command::RequestStart { phase, by } => request_start(state, phase, by),
        Command::Abort { by } => {
            let mut events = interrupt_active(state, "aborted");
            events.push(Event::RunFinished {
                outcome: Outcome::Aborted,
                by: Some(by),
                reason: Some("aborted by an operator".into()),
            });
            Ok(events)
        }
        Command::Pause { reason } => {
            let mut events = interrupt_in_flight(state, &reason);
            events.push(Event::RunPaused { step: None, reason });
            Ok(events)
        }
        Command::Resume {
            mode,
            by,
            driver,
            timeout_seconds,
        } => resume(state, workflow, mode, by, driver, timeout_seconds),
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

/// Attempts whose end is not in the log: they will never report, so they end here (and the
/// agents of their phases are deactivated).
fn interrupt_in_flight(state: &RunState, reason: &str) -> Vec<Event> {
    interrupt_where(state, reason, |s| s == StepStatus::Running)
}

/// Like `interrupt_in_flight`, and a scenario's phases waiting on a report end too (a stop or
/// an abort deactivates every agent).
fn interrupt_active(state: &RunState, reason: &str) -> Vec<Event> {
    let scenario = state.is_scenario();
    interrupt_where(state, reason, |s| {
        s == StepStatus::Running || (scenario && s == StepStatus::Waiting)
    })
}

fn interrupt_where(
    state: &RunState,
    reason: &str,
    which: impl Fn(StepStatus) -> bool,
) -> Vec<Event> {
    let mut events = Vec::new();
    for s in state.steps.iter().filter(|s| which(s.status)) {
        events.push(Event::StepInterrupted {
            step: s.name.clone(),
            attempt: s.attempts,
            reason: reason.to_string(),
        });
        events.extend(deactivate(state, &s.name));
    }
    events
}

/// Deactivate the agents active for `phase`.
fn deactivate(state: &RunState, phase: &str) -> Vec<Event> {
    state
        .active_agents
        .iter()
        .filter(|(_, p)| p == phase)
        .map(|(agent, p)| Event::AgentDeactivated {
            agent: agent.clone(),
            phase: p.clone(),
            by: None,
        })
        .collect()
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
        .ok_or_else(|| DecideError::UnknownStep(phase.clone()))?;
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
    if status != StepStatus::Pending || state.start_requested.contains(&phase) {
        return Err(DecideError::NotReady {
            phase,
            why: format!("it was already started ({})", status.as_str()),
        });
    }
    Ok(vec![Event::PhaseStartRequested { phase, by }])
}

fn start_attempt(state: &RunState, step: &str) -> Result<Vec<Event>, DecideError> {
    if state.phase != RunPhase::Running {
        return Err(DecideError::NotActive(phase_name(&state.phase)));
    }
    if !state.pre_validated {
        return Err(DecideError::NotActive("not pre-validated".into()));
    }
    let index = state
        .step_index(step)
        .ok_or_else(|| DecideError::UnknownStep(step.to_string()))?;
    if state.is_scenario() {
        return start_phase(state, step, index);
    }
    let current = state.current_step();
    if current != Some(index) {
        return Err(DecideError::NotCurrent {
            step: step.to_string(),
            current: current.map_or("none".into(), |i| format!("`{}`", state.steps[i].name)),
        });
    }
    let s = &state.steps[index];
    if matches!(
        s.status,
        StepStatus::Running | StepStatus::Waiting | StepStatus::Failed
    ) {
        return Err(DecideError::WrongStepState {
            step: step.to_string(),
            status: s.status.as_str().into(),
            expected: "pending, ready or stopped".into(),
        });
    }
    Ok(vec![attempt_started(state, step, index)])
}

/// The next attempt of step `index` begins: started, or waiting for a report if external.
fn attempt_started(state: &RunState, step: &str, index: usize) -> Event {
    let attempt = state.steps[index].attempts + 1;
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

/// After step `index` is done: finish the run if nothing is left and no post-validation waits.
fn finish_if_last(state: &RunState, workflow: &Workflow, index: usize, events: &mut Vec<Event>) {
    let rest_done = state
        .steps
        .iter()
        .enumerate()
        .all(|(i, s)| i == index || s.status.is_done());
    if rest_done && workflow.post.is_empty() {
        events.push(finished(Outcome::Completed, None));
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
    report: AttemptReport,
) -> Result<Vec<Event>, DecideError> {
    let index = state
        .step_index(&report.step)
        .ok_or_else(|| DecideError::UnknownStep(report.step.clone()))?;
    let s = &state.steps[index];
    let step = &workflow.steps[index];
    if !matches!(s.status, StepStatus::Running | StepStatus::Waiting) {
        return Err(DecideError::WrongStepState {
            step: report.step.clone(),
            status: s.status.as_str().into(),
            expected: "running or waiting".into(),
        });
    }
    if report.attempt != s.attempts {
        return Err(DecideError::AttemptMismatch {
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
        });
    }
    if let Some(mut agent) = report.agent {
        agent.step.clone_from(&name);
        agent.attempt = attempt;
        events.push(Event::AgentResult(agent));
    }
    if report.end.succeeded() && problems.is_empty() {
        for (key, value) in outputs {
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
        events.extend(deactivate(state, &name));
        checkpoint_after(state, step, &mut events);
        finish_if_last(state, workflow, index, &mut events);
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
        (AttemptEnd::Reported { .. }, _) => false,
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
    let what = if state.is_scenario() { "phase" } else { "step" };
    let reason = format!("{what} `{name}` failed: {error}");
    events.extend(deactivate(state, &name));
    match step.on_failure.unwrap_or_default() {
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
            checkpoint_after(state, step, &mut events);
            finish_if_last(state, workflow, index, &mut events);
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
                events.push(Event::RollbackFinished { failed: Vec::new() });
                events.push(finished(Outcome::RolledBack, Some(reason)));
            }
        }
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

fn resume(
    state: &RunState,
    workflow: &Workflow,
    mode: ResumeMode,
    by: crate::event::Operator,
    driver: crate::event::Driver,
    timeout_seconds: Option<u64>,
) -> Result<Vec<Event>, DecideError> {
    let config = &state
        .start
        .as_ref()
        .expect("started runs have a start")
        .config;
    let paused = matches!(state.phase, RunPhase::Paused { .. });
    let mut restart_from = None;
    let mut after = Vec::new();
    match &mode {
        ResumeMode::Continue if state.is_scenario() => {
            // Every completed phase is a resume point: the DAG goes on from there.
        }
        ResumeMode::Continue => {
            // Steps completed after the last checkpoint are not a resume point: run them again.
            let from = state.resume_point().map_or(0, |i| i + 1);
            restart_from = state
                .steps
                .iter()
                .skip(from)
                .find(|s| s.status.is_done())
                .map(|s| s.name.clone());
        }
        ResumeMode::Retry => {
            if !paused {
                return Err(DecideError::NothingToRecover("retry"));
            }
        }
        ResumeMode::Skip => {
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
            checkpoint_after(state, &workflow.steps[index], &mut after);
            finish_if_last(state, workflow, index, &mut after);
        }
        ResumeMode::RollbackTo(target) => {
            if !config.enable_rollback {
                return Err(DecideError::RollbackDisabled);
            }
            let index = state
                .step_index(target)
                .ok_or_else(|| DecideError::UnknownStep(target.clone()))?;
            if state.steps[index].status != StepStatus::Completed {
                return Err(DecideError::CannotRollbackTo {
                    step: target.clone(),
                    reason: format!(
                        "it is {}, not completed",
                        state.steps[index].status.as_str()
                    ),
                });
            }
            let steps: Vec<String> = state
                .completion_order
                .iter()
                .filter(|n| state.step_index(n).is_some_and(|i| i > index))
                .rev()
                .cloned()
                .collect();
            // Failed or stopped steps after the target run again after the rollback.
            let reason = format!("rollback to `{target}` requested");
            let empty = steps.is_empty();
            after.push(Event::RollbackStarted {
                reason,
                steps,
                resume_after: Some(target.clone()),
            });
            if empty {
                after.push(Event::RollbackFinished { failed: Vec::new() });
            }
            restart_from = state.steps.get(index + 1).map(|s| s.name.clone());
        }
        ResumeMode::From(target) => {
            if state.step_index(target).is_none() {
                return Err(DecideError::UnknownStep(target.clone()));
            }
            restart_from = Some(target.clone());
        }
    }
    let mut events = interrupt_in_flight(
        state,
        "its driver ended before it finished; it runs again as a new attempt",
    );
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
    });
    events.extend(after);
    Ok(events)
}
