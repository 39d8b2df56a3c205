//! The one rule for the agents of a scenario's phases: an agent is active while its phase is at
//! work, and its deactivation is recorded as the phase ends, whichever way it ends.
//!
//! Before, each way of ending a phase deactivated its agents itself (a completion, a failure
//! for good, an interrupt), and the ways that forgot did not: `resume --skip` of a waiting
//! phase left its agents active in a finished run (review m, finding 1). Now the decider's
//! answer to every command passes through `release_agents`, and no end can forget.

use super::{RunState, StepStatus, evolve_in_place};
use crate::event::{Event, Stamped};

/// Whether a phase in `status` is at work: running, waiting for a report, or due for a retry
/// (its next attempt is the same phase's, with the same agents). Any other status is an end:
/// completed, failed for good, skipped, stopped, rolled back, or never started.
fn at_work(status: StepStatus) -> bool {
    matches!(
        status,
        StepStatus::Running | StepStatus::Waiting | StepStatus::Ready
    )
}

/// Whether `event` ends the run (finished, whatever the outcome, or stopped): every agent
/// still active ends with it.
fn ends_run(event: &Event) -> bool {
    matches!(event, Event::RunFinished { .. } | Event::RunStopped { .. })
}

/// `events` (the decider's answer for a run in `state`), with the deactivation of every
/// agent whose phase they end: right after the event that ends the phase (a completion, a
/// failure no retry follows, a skip, an interrupt), and before the run's end for the agents
/// of phases still at work when the run finishes or stops (a phase due for a retry, when an
/// abort or a time limit ends the run).
pub fn release_agents(state: &RunState, events: Vec<Event>) -> Vec<Event> {
    let activates = |e: &Event| matches!(e, Event::AgentActivated { .. });
    if state.active_agents.is_empty() && !events.iter().any(activates) {
        return events;
    }
    let mut scratch = state.clone();
    // Each agent to deactivate, and the index of the event it goes before.
    let mut leaving: Vec<((String, String), usize)> = Vec::new();
    for (i, event) in events.iter().enumerate() {
        if ends_run(event) {
            for pair in &scratch.active_agents {
                if !leaving.iter().any(|(p, _)| p == pair) {
                    leaving.push((pair.clone(), i));
                }
            }
        }
        evolve_in_place(
            &mut scratch,
            Stamped {
                run_id: &state.run_id,
                seq: state.events + i as u64,
                time: "",
                hash: &state.head_hash,
                event,
            },
        );
        if ends_run(event) {
            continue;
        }
        for pair in &scratch.active_agents {
            let working = scratch.step(&pair.1).is_some_and(|s| at_work(s.status));
            let placed = leaving.iter().position(|(p, _)| p == pair);
            match (working, placed) {
                // Back at work in the same answer (a failure a retry follows).
                (true, Some(k)) => {
                    leaving.remove(k);
                }
                (false, None) => leaving.push((pair.clone(), i + 1)),
                _ => {}
            }
        }
    }
    if leaving.is_empty() {
        return events;
    }
    let mut out = Vec::with_capacity(events.len() + leaving.len());
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
    for (i, event) in events.into_iter().enumerate() {
        out.extend(deactivated(i));
        out.push(event);
    }
    out.extend(deactivated(total));
    out
}
