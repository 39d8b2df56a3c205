//! The ready set of a running scenario: a pure "what may start now" over the phase DAG
//! (cargo's dependency queue, with SPEC §4's parallel rule and `max_parallel`).

use crate::decide::{RunPhase, RunState, StepState, StepStatus};

/// Phases that may start now, in dependency order (the items of a `foreach:` phase are phases
/// of their own, with its `parallel`; a phase with an `if:` to check or a `foreach:` list to
/// read is not startable until that is done: see `to_prepare`). A phase may start when its
/// condition holds (`auto`; `after:` phases all completed or skipped; `manual` start
/// requested); a
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
    let mut slots = Slots::new(limit);
    for (s, &parallel) in state.steps.iter().zip(&plan.parallel) {
        if active(s) {
            slots.take(parallel);
        }
    }
    let mut ready = Vec::new();
    for &i in &plan.order {
        if slots.full() {
            break;
        }
        let status = state.steps[i].status;
        if !matches!(
            status,
            StepStatus::Pending | StepStatus::Ready | StepStatus::Stopped
        ) {
            continue;
        }
        // A `foreach:` phase whose items were read runs as its items; one with an `if:` to
        // check or a list to read is prepared first (`to_prepare`).
        if state.steps[i].items.is_some() || state.needs_condition(i) || state.needs_expansion(i) {
            continue;
        }
        if !condition_met(state, i) || !slots.admits(plan.parallel[i]) {
            continue;
        }
        ready.push(i);
        slots.take(plan.parallel[i]);
    }
    ready
}

/// SPEC §4's parallel rule, as the scheduler applies it one phase at a time (`ready_phases`)
/// and `orchestrate preview` foretells it (`plan::parallel_opportunities`): a phase with
/// `parallel: true` starts beside whatever runs, one with `parallel: false` never beside
/// another non-parallel phase, and at most `limit` (`max_parallel`) are active at once.
#[derive(Debug, Clone, Copy)]
pub struct Slots {
    active: usize,
    /// A non-parallel phase is active.
    exclusive: bool,
    limit: usize,
}

impl Slots {
    /// Nothing active, at most `limit` (at least 1) at once.
    pub fn new(limit: usize) -> Slots {
        Slots {
            active: 0,
            exclusive: false,
            limit: limit.max(1),
        }
    }

    /// No phase more may start.
    pub fn full(&self) -> bool {
        self.active >= self.limit
    }

    /// Whether a phase of this `parallel` may start beside the active ones.
    pub fn admits(&self, parallel: bool) -> bool {
        !self.full() && (parallel || !self.exclusive)
    }

    /// A phase of this `parallel` is active.
    pub fn take(&mut self, parallel: bool) {
        self.active += 1;
        self.exclusive |= !parallel;
    }
}

/// Phases whose condition holds and whose `if:` must be checked or whose `foreach:` list must
/// be read before they can start, in dependency order. Checking and reading start nothing, so
/// the parallel limits do not apply.
pub fn to_prepare(state: &RunState) -> Vec<usize> {
    let Some(plan) = &state.phase_plan else {
        return Vec::new();
    };
    if !plan.composed || state.phase != RunPhase::Running || !state.pre_validated {
        return Vec::new();
    }
    plan.order
        .iter()
        .copied()
        .filter(|&i| {
            (state.needs_condition(i) || state.needs_expansion(i)) && condition_met(state, i)
        })
        .collect()
}

/// Whether phase `index`'s condition holds: `auto`, its `after:` phases all completed or
/// skipped, or (`manual`) a start was requested. The parallel limits are not asked: this is
/// what a phase needs before its `if:` is checked or its `foreach:` list read, which start
/// nothing.
pub fn condition_met(state: &RunState, index: usize) -> bool {
    let (Some(sc), Some(plan)) = (&state.scenario, &state.phase_plan) else {
        return false;
    };
    !plan.invalid[index]
        && if plan.manual[index] {
            state.start_requested.contains(&sc.phases[index].name)
        } else {
            plan.deps[index]
                .iter()
                .all(|&d| state.steps[d].status.is_done())
        }
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

/// Whether the log says the run's driver let it go: its session ended (paused, stopped,
/// finished), it was submitted for workers and not taken, it waits as a whole (a workflow
/// whose step waits on a report; a scenario where nothing runs and nothing can start but
/// reports or manual starts can move it on), or nothing runs and all a scenario could start
/// asks for a worker's tags (its driver let it go for a worker offering them). A driver ends
/// its session at each of these — a worker gives its driver lease back without recording
/// anything — so a run in one of them is no process's, whatever pid its log names and
/// whatever that process (a long-running worker, `cortex serve`) does now. Before, a run a
/// worker let wait was "held" by that worker's live process on its host: `resume` refused
/// it (exit 4) and `log copy` skipped it as driven.
pub fn driver_let_go(state: &RunState) -> bool {
    if state.session_ended() || state.submitted {
        return true;
    }
    if state.steps.iter().any(|s| s.status == StepStatus::Running) {
        return false;
    }
    if state.phase == RunPhase::Waiting {
        return true;
    }
    if !state.is_scenario() || state.phase != RunPhase::Running || !state.pre_validated {
        return false;
    }
    if !to_prepare(state).is_empty() {
        return false;
    }
    let ready = ready_phases(state);
    if ready.is_empty() {
        return state.steps.iter().any(|s| s.status == StepStatus::Waiting)
            || !awaiting_manual_start(state).is_empty();
    }
    // A retry waiting out its backoff is the driver's still (it sleeps, then starts it).
    ready
        .iter()
        .all(|&i| !state.runs_on(i).is_empty() && state.steps[i].status != StepStatus::Ready)
}
