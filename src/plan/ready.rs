//! The ready set of a running scenario: a pure "what may start now" over the phase DAG
//! (cargo's dependency queue, with SPEC §4's parallel rule and `max_parallel`).

use crate::decide::{RunPhase, RunState, StepState, StepStatus};

/// Phases that may start now, in dependency order. A phase may start when its condition
/// holds (`auto`; `after:` phases all completed or skipped; `manual` start requested); a
/// phase with `parallel: false` never runs beside another non-parallel phase; at most
/// `max_parallel` phases are active (running or waiting on a report) at once.
/// Linear in phases and edges, on the plan prepared once per run.
pub fn ready_phases(state: &RunState) -> Vec<usize> {
    let (Some(sc), Some(plan)) = (&state.scenario, &state.phase_plan) else {
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
    let active = |s: &StepState| matches!(s.status, StepStatus::Running | StepStatus::Waiting);
    let mut count = state.steps.iter().filter(|s| active(s)).count();
    let mut exclusive_busy = state
        .steps
        .iter()
        .zip(&plan.parallel)
        .any(|(s, parallel)| active(s) && !parallel);
    let mut ready = Vec::new();
    for &i in &plan.order {
        if count >= limit {
            break;
        }
        let status = state.steps[i].status;
        if !matches!(
            status,
            StepStatus::Pending | StepStatus::Ready | StepStatus::Stopped
        ) {
            continue;
        }
        let condition_holds = !plan.invalid[i]
            && if plan.manual[i] {
                state.start_requested.contains(&sc.phases[i].name)
            } else {
                plan.deps[i]
                    .iter()
                    .all(|&d| state.steps[d].status.is_done())
            };
        if !condition_holds || (!plan.parallel[i] && exclusive_busy) {
            continue;
        }
        ready.push(i);
        count += 1;
        if !plan.parallel[i] {
            exclusive_busy = true;
        }
    }
    ready
}

/// Pending manual phases nobody has asked to start yet.
pub fn awaiting_manual_start(state: &RunState) -> Vec<usize> {
    let (Some(sc), Some(plan)) = (&state.scenario, &state.phase_plan) else {
        return Vec::new();
    };
    (0..sc.phases.len())
        .filter(|&i| {
            plan.manual[i]
                && state.steps[i].status == StepStatus::Pending
                && !state.start_requested.contains(&sc.phases[i].name)
        })
        .collect()
}
