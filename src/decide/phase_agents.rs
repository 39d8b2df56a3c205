//! The one rule for the agents of a scenario's phases: an agent is active while its phase is at
//! work, and its deactivation is recorded as the phase ends, whichever way it ends.
//!
//! Before, each way of ending a phase deactivated its agents itself (a completion, a failure
//! for good, an interrupt), and the ways that forgot did not: `resume --skip` of a waiting
//! phase left its agents active in a finished run (review m, finding 1). Now the decider's
//! answer to every command passes through `release_agents`, and no end can forget.

use std::collections::HashMap;

use super::{RunState, StepStatus, evolve_in_place};
use crate::event::{Event, Stage, Stamped};

/// Whether a phase in `status` is at work: running, waiting for a report, or due for a retry
/// (its next attempt is the same phase's, with the same agents). Any other status is an end:
/// completed, failed for good, skipped, stopped, rolled back, or never started.
fn at_work(status: StepStatus) -> bool {
    matches!(
        status,
        StepStatus::Running | StepStatus::Waiting | StepStatus::Ready
    )
}

/// What an event does to what the rule reads, as `evolve` folds it.
enum Effect<'a> {
    /// Nothing: no unit's status, no agent, not the run's end.
    Nothing,
    /// Unit `.0` is in status `.1` after it.
    Unit(&'a str, StepStatus),
    /// An agent activated (or deactivated) for a phase.
    Activated(&'a str, &'a str),
    Deactivated(&'a str, &'a str),
    /// The run finished, whatever the outcome, or stopped: every agent still active ends
    /// with it.
    RunOver,
    /// Anything else (a resume, a rollback, a pause, a `foreach:` list read or done): read
    /// by folding the event into a copy of the state.
    Fold,
}

fn effect(event: &Event) -> Effect<'_> {
    match event {
        Event::StepStarted { step, .. } => Effect::Unit(step, StepStatus::Running),
        Event::StepWaiting { step, .. } | Event::ChildWaiting { step, .. } => {
            Effect::Unit(step, StepStatus::Waiting)
        }
        Event::StepSucceeded { step, .. } => Effect::Unit(step, StepStatus::Completed),
        Event::StepFailed { step, .. } | Event::StepTimedOut { step, .. } => {
            Effect::Unit(step, StepStatus::Failed)
        }
        Event::ValidationFailed {
            stage: Stage::Step,
            step: Some(step),
            ..
        } => Effect::Unit(step, StepStatus::Failed),
        Event::ConditionChecked(check) if check.error.is_some() => {
            Effect::Unit(&check.step, StepStatus::Failed)
        }
        Event::RetryScheduled { step, .. } => Effect::Unit(step, StepStatus::Ready),
        Event::StepSkipped { step, .. } => Effect::Unit(step, StepStatus::Skipped),
        Event::StepInterrupted { step, .. } => Effect::Unit(step, StepStatus::Stopped),
        Event::AgentActivated { agent, phase, .. } => Effect::Activated(agent, phase),
        Event::AgentDeactivated { agent, phase, .. } => Effect::Deactivated(agent, phase),
        Event::RunFinished { .. } | Event::RunStopped { .. } => Effect::RunOver,
        Event::ValidationFailed { .. }
        | Event::ValidationPassed { .. }
        | Event::OutputRecorded { .. }
        | Event::CheckpointSaved { .. }
        | Event::CriterionMet { .. }
        | Event::AgentResult(_)
        | Event::AttemptLog { .. }
        | Event::AttemptClaimed { .. }
        | Event::AttemptRejected { .. }
        | Event::ConditionStarted { .. }
        | Event::ConditionChecked(_)
        | Event::ChildStarted { .. }
        | Event::StopRequested { .. }
        | Event::PhaseStartRequested { .. }
        | Event::RunSubmitted { .. } => Effect::Nothing,
        _ => Effect::Fold,
    }
}

/// The run as the rule reads it, event after event: each unit's status and the agents
/// active. For the events whose effect it knows (`effect`: those of every attempt's start and
/// end), only what they change is kept, over the state they follow; for any other, a copy of
/// the state the events are folded into. A copy of a run of many units for every answer made
/// each of its thousands of attempts cost as much as the whole run.
struct Reading<'a> {
    state: &'a RunState,
    folded: Option<RunState>,
    statuses: HashMap<String, StepStatus>,
    active: Vec<(String, String)>,
}

impl<'a> Reading<'a> {
    fn new(state: &'a RunState, events: &[Event]) -> Reading<'a> {
        let folded = events
            .iter()
            .any(|e| matches!(effect(e), Effect::Fold))
            .then(|| state.clone());
        Reading {
            state,
            folded,
            statuses: HashMap::new(),
            active: state.active_agents.clone(),
        }
    }

    /// Fold event number `i` of the answer.
    fn apply(&mut self, i: usize, event: &Event) {
        if let Some(folded) = &mut self.folded {
            evolve_in_place(
                folded,
                Stamped {
                    run_id: &self.state.run_id,
                    seq: self.state.events + i as u64,
                    time: "",
                    hash: &self.state.head_hash,
                    event,
                },
            );
            return;
        }
        match effect(event) {
            Effect::Unit(step, status) => {
                self.statuses.insert(step.to_string(), status);
            }
            Effect::Activated(agent, phase) => {
                self.active.push((agent.to_string(), phase.to_string()));
            }
            Effect::Deactivated(agent, phase) => {
                self.active.retain(|(a, p)| !(a == agent && p == phase));
            }
            Effect::RunOver => self.active.clear(),
            Effect::Nothing | Effect::Fold => {}
        }
    }

    fn active(&self) -> &[(String, String)] {
        self.folded
            .as_ref()
            .map_or(&self.active, |f| &f.active_agents)
    }

    /// Whether phase `phase` is at work now.
    fn at_work(&self, phase: &str) -> bool {
        let status = match &self.folded {
            Some(folded) => folded.step(phase).map(|s| s.status),
            None => self
                .statuses
                .get(phase)
                .copied()
                .or_else(|| self.state.step(phase).map(|s| s.status)),
        };
        status.is_some_and(at_work)
    }
}

/// `events` (the decider's answer for a run in `state`), with the deactivation of every
/// agent whose phase they end: right after the event that ends the phase (a completion, a
/// failure no retry follows, a skip, an interrupt), and before the run's end for the agents
/// of phases still at work when the run finishes or stops (a phase due for a retry, when an
/// abort or a time limit ends the run). An agent of a phase no longer at work before the
/// answer (a log written before this rule) is deactivated at its start.
pub fn release_agents(state: &RunState, events: Vec<Event>) -> Vec<Event> {
    let activates = |e: &Event| matches!(e, Event::AgentActivated { .. });
    if state.active_agents.is_empty() && !events.iter().any(activates) {
        return events;
    }
    let mut reading = Reading::new(state, &events);
    // Each agent to deactivate, and the index of the event it goes before.
    let mut leaving: Vec<((String, String), usize)> = state
        .active_agents
        .iter()
        .filter(|(_, phase)| !reading.at_work(phase))
        .map(|pair| (pair.clone(), 0))
        .collect();
    for (i, event) in events.iter().enumerate() {
        let ends_run = matches!(effect(event), Effect::RunOver);
        if ends_run {
            for pair in reading.active() {
                if !leaving.iter().any(|(p, _)| p == pair) {
                    leaving.push((pair.clone(), i));
                }
            }
        }
        reading.apply(i, event);
        if ends_run {
            continue;
        }
        let moved: Vec<((String, String), bool)> = reading
            .active()
            .iter()
            .map(|pair| (pair.clone(), reading.at_work(&pair.1)))
            .collect();
        for (pair, working) in moved {
            let placed = leaving.iter().position(|(p, _)| *p == pair);
            match (working, placed) {
                // Back at work in the same answer (a failure a retry follows).
                (true, Some(k)) => {
                    leaving.remove(k);
                }
                (false, None) => leaving.push((pair, i + 1)),
                _ => {}
            }
        }
    }
    if leaving.is_empty() {
        return events;
    }
    let deactivated = |at: usize| {
        leaving
            .iter()
            .filter(move |(_, before)| *before == at)
            .map(|((agent, phase), _)| Event::AgentDeactivated {
                agent: agent.clone(),
                phase: phase.clone(),
                by: None,
            })
    };
    let total = events.len();
    let mut out = Vec::with_capacity(total + leaving.len());
    for (i, event) in events.into_iter().enumerate() {
        out.extend(deactivated(i));
        out.push(event);
    }
    out.extend(deactivated(total));
    out
}
