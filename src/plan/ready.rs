//! The ready set of a running scenario: a pure "what may start now" over the phase DAG
//! (cargo's dependency queue, with SPEC §4's parallel rule and `max_parallel`).

use crate::decide::{RunPhase, RunState, StepStatus};
use crate::definition::Condition;

use super::topological_order;

/// Phases that may start now, in dependency order. A phase may start when its condition
/// holds (`auto`; `after:` phases all completed or skipped; `manual` start requested); a
/// phase with `parallel: false` never runs beside another non-parallel phase; at most
/// `max_parallel` phases are active (running or waiting on a report) at once.
pub fn ready_phases(state: &RunState) -> Vec<usize> {
    let Some(sc) = &state.scenario else {
        return Vec::new();
    };
    if state.phase != RunPhase::Running || !state.pre_validated {
        return Vec::new();
    }
    let limit = sc
        .max_parallel
        .or_else(|| state.start.as_ref().map(|s| s.config.max_parallel))
        .unwrap_or(1)
        .max(1) as usize;
    let active = |s: &crate::decide::StepState| {
        matches!(s.status, StepStatus::Running | StepStatus::Waiting)
    };
    let mut count = state.steps.iter().filter(|s| active(s)).count();
    let mut exclusive_busy = state
        .steps
        .iter()
        .zip(&sc.phases)
        .any(|(s, p)| active(s) && !p.parallel);
    let mut ready = Vec::new();
    for i in topological_order(sc) {
        if count >= limit {
            break;
        }
        let phase = &sc.phases[i];
        let status = state.steps[i].status;
        if !matches!(
            status,
            StepStatus::Pending | StepStatus::Ready | StepStatus::Stopped
        ) {
            continue;
        }
        let condition_holds = match phase.parsed_condition() {
            Ok(Condition::Auto) => true,
            Ok(Condition::Manual) => state.start_requested.contains(&phase.name),
            Ok(Condition::After(deps)) => deps
                .iter()
                .all(|d| state.step(d).is_some_and(|s| s.status.is_done())),
            Err(_) => false,
        };
        if !condition_holds || (!phase.parallel && exclusive_busy) {
            continue;
        }
        ready.push(i);
        count += 1;
        if !phase.parallel {
            exclusive_busy = true;
        }
    }
    ready
}

/// Pending manual phases nobody has asked to start yet.
pub fn awaiting_manual_start(state: &RunState) -> Vec<usize> {
    let Some(sc) = &state.scenario else {
        return Vec::new();
    };
    sc.phases
        .iter()
        .enumerate()
        .filter(|(i, p)| {
            matches!(p.parsed_condition(), Ok(Condition::Manual))
                && state.steps[*i].status == StepStatus::Pending
                && !state.start_requested.contains(&p.name)
        })
        .map(|(i, _)| i)
        .collect()
}
