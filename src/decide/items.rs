//! The items of `foreach:` steps and phases as units of the run: when a step's list is read,
//! each item becomes a unit `STEP[i]` placed right after it, with the step's definition (less
//! its `if:` and `foreach:`) and a state of its own, so that attempts, retries, timeouts,
//! outputs, rollback and the ready set apply to items exactly as to steps. The run's layout
//! (the executable steps, a scenario's phases and DAG plan, the name index) always mirrors
//! `RunState::steps`; it is derived, so a state restored from a snapshot rebuilds it.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::state::{ItemOf, RunState, new_step};
use crate::definition::{Phase, Scenario, Step, Workflow};
use crate::plan::PhasePlan;

/// The name of item `i` of step `parent`: `parent[i]`.
pub fn item_name(parent: &str, i: usize) -> String {
    format!("{parent}[{i}]")
}

fn item_step(parent: &Step, i: usize) -> Step {
    let mut step = parent.clone();
    step.name = item_name(&parent.name, i);
    step.if_ = None;
    step.foreach = None;
    step
}

fn item_phase(parent: &Phase, i: usize) -> Phase {
    let mut phase = parent.clone();
    phase.name = item_name(&parent.name, i);
    phase.if_ = None;
    phase.foreach = None;
    // An item starts once its step was expanded, which happens when the step's own condition
    // held: it has none of its own.
    phase.condition = None;
    phase
}

/// Rebuild the name index (the first of duplicate names wins, as validation refuses them).
pub(super) fn reindex(state: &mut RunState) {
    state.index = Arc::new(
        state
            .steps
            .iter()
            .enumerate()
            .rev()
            .map(|(i, s)| (s.name.clone(), i))
            .collect(),
    );
    state.item_units = state.steps.iter().filter(|s| s.item.is_some()).count();
}

/// The step at `p` was expanded into `items`: insert their units right after it.
pub(super) fn expand(state: &mut RunState, p: usize, items: &[crate::definition::Item]) {
    let name = state.steps[p].name.clone();
    state.steps[p].items = Some(items.to_vec());
    let k = items.len();
    let retired = &state.retired_attempts;
    let units: Vec<_> = items
        .iter()
        .enumerate()
        .map(|(i, value)| {
            let mut unit = new_step(&item_name(&name, i));
            // An item expanded again goes on from its latest attempt: numbers never repeat.
            unit.attempts = retired.get(&unit.name).copied().unwrap_or(0);
            unit.item = Some(ItemOf {
                parent: name.clone(),
                index: i,
                value: value.clone(),
            });
            unit
        })
        .collect();
    state.steps.splice(p + 1..p + 1, units);
    if let Some(wf) = state.workflow.as_mut() {
        let wf = Arc::make_mut(wf);
        let def = wf.steps[p].clone();
        wf.steps
            .splice(p + 1..p + 1, (0..k).map(|i| item_step(&def, i)));
    }
    if let Some(sc) = state.scenario.as_mut() {
        let sc = Arc::make_mut(sc);
        let def = sc.phases[p].clone();
        sc.phases
            .splice(p + 1..p + 1, (0..k).map(|i| item_phase(&def, i)));
        state.phase_plan = Some(Arc::new(PhasePlan::of(sc)));
    }
    for c in &mut state.checkpoints {
        if c.index > p {
            c.index += k;
        }
    }
    reindex(state);
}

/// The step at `p` is to run again from scratch: remove its items' units.
pub(super) fn collapse(state: &mut RunState, p: usize) {
    let Some(items) = state.steps[p].items.take() else {
        return;
    };
    let k = items.len();
    let range = p + 1..p + 1 + k;
    for unit in &state.steps[range.clone()] {
        state.criteria_met.remove(&unit.name);
        state.start_requested.remove(&unit.name);
        if unit.attempts > 0 {
            state
                .retired_attempts
                .insert(unit.name.clone(), unit.attempts);
        }
    }
    state.steps.drain(range.clone());
    if let Some(wf) = state.workflow.as_mut() {
        Arc::make_mut(wf).steps.drain(range.clone());
    }
    if let Some(sc) = state.scenario.as_mut() {
        let sc = Arc::make_mut(sc);
        sc.phases.drain(range.clone());
        state.phase_plan = Some(Arc::new(PhasePlan::of(sc)));
    }
    state.checkpoints.retain(|c| !range.contains(&c.index));
    for c in &mut state.checkpoints {
        if c.index > p {
            c.index -= k;
        }
    }
    reindex(state);
}

/// Rebuild the layout of a state whose steps hold expanded items (a restored snapshot) from
/// the definitions as recorded at `run` (`base`, `base_scenario`).
pub(super) fn rebuild(state: &mut RunState) {
    if state.steps.iter().all(|s| s.item.is_none()) {
        return;
    }
    if let Some(wf) = state.workflow.clone() {
        let by_name: BTreeMap<&str, &Step> =
            wf.steps.iter().map(|s| (s.name.as_str(), s)).collect();
        let steps: Vec<Step> = state
            .steps
            .iter()
            .filter_map(|unit| match &unit.item {
                Some(of) => by_name
                    .get(of.parent.as_str())
                    .map(|p| item_step(p, of.index)),
                None => by_name.get(unit.name.as_str()).map(|s| (*s).clone()),
            })
            .collect();
        state.workflow = Some(Arc::new(Workflow {
            steps,
            ..(*wf).clone()
        }));
    }
    if let Some(sc) = state.scenario.clone() {
        let by_name: BTreeMap<&str, &Phase> =
            sc.phases.iter().map(|p| (p.name.as_str(), p)).collect();
        let phases: Vec<Phase> = state
            .steps
            .iter()
            .filter_map(|unit| match &unit.item {
                Some(of) => by_name
                    .get(of.parent.as_str())
                    .map(|p| item_phase(p, of.index)),
                None => by_name.get(unit.name.as_str()).map(|p| (*p).clone()),
            })
            .collect();
        let sc = Scenario {
            phases,
            ..(*sc).clone()
        };
        state.phase_plan = Some(Arc::new(PhasePlan::of(&sc)));
        state.scenario = Some(Arc::new(sc));
    }
    reindex(state);
}
