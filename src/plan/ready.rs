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
///
/// A ready phase that asks for worker tags (`runs_on:`) is in the set but holds no slot: it
/// waits for a worker offering them, and until one claims it (it is then active) nobody runs
/// it, so it keeps no other phase from starting (before, a `runs_on:` phase no worker took
/// held the one-at-a-time slot, and a manual phase started beside it waited forever). What the
/// decider checks a start against, and what status says. A driver that offers tags asks
/// `ready_phases_for`, where the phases it runs itself hold their slots.
pub fn ready_phases(state: &RunState) -> Vec<usize> {
    schedule(state, false, &|tags| tags.is_empty()).0
}

/// `ready_phases` as a driver that runs the phases whose `runs_on:` tags `runs_here` accepts
/// sees it: those (and every phase without tags, and every external phase) hold their slots;
/// the others are left to workers and hold none. The scheduler's set: a worker offering `tpu`
/// starts a ready `tpu` phase before a non-parallel phase after it, where a driver without
/// the tag starts that phase at once.
pub fn ready_phases_for(state: &RunState, runs_here: &dyn Fn(&[String]) -> bool) -> Vec<usize> {
    schedule(state, false, runs_here).0
}

/// A phase whose condition holds that the parallel limits keep from starting now (SPEC §4):
/// it is `ready` (SPEC §5) and starts by itself when a slot frees. What `orchestrate status`
/// says of it, so a reader tells a phase waiting for a slot from one waiting on its condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotHold {
    pub index: usize,
    /// The run's `max_parallel` (the scenario's, else the configuration's; at least 1).
    pub limit: usize,
    /// The phases that hold the slots, in the scheduler's order: the active ones (running or
    /// waiting on a report), then the ready ones that start before it.
    pub held_by: Vec<usize>,
    /// Not `max_parallel`: a free slot is left, but this phase has `parallel: false` and
    /// another non-parallel phase (`held_by`'s non-parallel ones) is active.
    pub one_at_a_time: bool,
}

/// The ready phases whose condition holds that the parallel limits hold back, in dependency
/// order (see `SlotHold`). Empty when `ready_phases` is (a run not going on starts nothing).
pub fn held_for_slots(state: &RunState) -> Vec<SlotHold> {
    schedule(state, true, &|tags| tags.is_empty()).1
}

/// `ready_phases`, and with `held`, the phases the parallel limits hold back. Without it, it
/// stops as soon as the slots are full (the scheduler's hot path). A ready phase whose tags
/// `runs_here` refuses takes no slot (`ready_phases`).
fn schedule(
    state: &RunState,
    held: bool,
    runs_here: &dyn Fn(&[String]) -> bool,
) -> (Vec<usize>, Vec<SlotHold>) {
    let (Some(sc), Some(plan)) = (&state.scenario, &state.phase_plan) else {
        return (Vec::new(), Vec::new());
    };
    if state.phase != RunPhase::Running || !state.pre_validated {
        return (Vec::new(), Vec::new());
    }
    let limit = sc
        .max_parallel
        .or_else(|| state.start.as_ref().map(|s| s.config.max_parallel))
        .unwrap_or(1)
        .max(1) as usize;
    let active = |s: &StepState| matches!(s.status, StepStatus::Running | StepStatus::Waiting);
    let mut slots = Slots::new(limit);
    let mut holders = Vec::new();
    for (i, (s, &parallel)) in state.steps.iter().zip(&plan.parallel).enumerate() {
        if active(s) {
            slots.take(parallel);
            holders.push(i);
        }
    }
    let mut ready = Vec::new();
    let mut holds = Vec::new();
    for &i in &plan.order {
        if slots.full() && !held {
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
        if !condition_met(state, i) {
            continue;
        }
        if !slots.admits(plan.parallel[i]) {
            if held {
                let one_at_a_time = !slots.full();
                holds.push(SlotHold {
                    index: i,
                    limit,
                    held_by: holders
                        .iter()
                        .copied()
                        .filter(|&h| !one_at_a_time || !plan.parallel[h])
                        .collect(),
                    one_at_a_time,
                });
            }
            continue;
        }
        ready.push(i);
        // Left to a worker: nobody runs it until one claims it (then it is active).
        if state.is_external(i) || runs_here(state.runs_on(i)) {
            holders.push(i);
            slots.take(plan.parallel[i]);
        }
    }
    (ready, holds)
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
