//! What a run that another process moves on still has for a worker: the rule behind
//! `cortex worker --until-idle` ("exit once nothing is, or will become, claimable here"), and
//! the words a worker leaving such a run says of it. Pure functions of the run's state.

use super::next::{Next, idle_wait, next};
use super::ready::{ready_phases, to_prepare};
use crate::decide::{RunState, StepStatus, not_for_workers};
use crate::definition::tags_cover;

/// Whether run `state`, held by another live process (its driver, or a unit's lease), has
/// units ahead that a worker offering `tags` could be given, without a person acting first:
///
/// - a scenario: a phase not yet started whose `after:` phases are done or on their way
///   (running, or themselves on their way), not a manual phase nobody asked to start, not
///   behind a phase waiting for a report, whose `runs_on:` the tags cover — and, when a
///   command drives the run (`by_worker` false: it runs every phase without `runs_on:`
///   itself), that asks for tags at all; and something moves the run on now (a unit running,
///   a phase ready or to prepare);
/// - a workflow: a step at or after the one its driver is on, before any step that waits for
///   a report, whose `runs_on:` asks for tags the worker offers (a driver without them hands
///   the run back for such a worker); and its driver is on a step (running it, or about to).
///
/// A run that is not going (stopped, paused, waiting as a whole, finished) or that an
/// operator is stopping or aborting has nothing ahead for anyone (`decide::not_for_workers`).
/// Before, `--until-idle` asked only whether something was claimable at that instant: a second
/// worker sharing a run exited while the first ran the unit the next ones waited on.
pub fn work_ahead(state: &RunState, tags: &[String], by_worker: bool) -> bool {
    if not_for_workers(state).is_some() {
        return false;
    }
    if state.is_scenario() {
        scenario_ahead(state, tags, by_worker)
    } else {
        workflow_ahead(state, tags)
    }
}

fn scenario_ahead(state: &RunState, tags: &[String], by_worker: bool) -> bool {
    let (Some(sc), Some(plan)) = (&state.scenario, &state.phase_plan) else {
        return false;
    };
    let moving = !state.pre_validated
        || state.steps.iter().any(|s| s.status == StepStatus::Running)
        || !ready_phases(state).is_empty()
        || !to_prepare(state).is_empty();
    if !moving {
        return false;
    }
    // Whether each phase is on its way: running, or startable once what it comes after is
    // done, with nothing but machines to do that (dependency order: its `after:` phases are
    // decided first).
    let mut coming = vec![false; state.steps.len()];
    for &i in &plan.order {
        let Some(step) = state.steps.get(i) else {
            continue;
        };
        coming[i] = match step.status {
            StepStatus::Running => true,
            StepStatus::Pending | StepStatus::Ready | StepStatus::Stopped => {
                let manual_unasked = plan.manual.get(i).copied().unwrap_or(false)
                    && sc
                        .phases
                        .get(i)
                        .is_none_or(|p| !state.start_requested.contains(&p.name));
                !plan.invalid.get(i).copied().unwrap_or(true)
                    && !manual_unasked
                    && plan.deps.get(i).is_some_and(|deps| {
                        deps.iter().all(|&d| {
                            state.steps.get(d).is_some_and(|s| s.status.is_done())
                                || coming.get(d).copied().unwrap_or(false)
                        })
                    })
            }
            _ => false,
        };
    }
    (0..state.steps.len()).any(|i| {
        coming[i]
            && state.steps[i].status != StepStatus::Running
            && state.steps[i].items.is_none()
            && !state.is_external(i)
            && tags_cover(tags, state.runs_on(i))
            && (by_worker || !state.runs_on(i).is_empty())
    })
}

fn workflow_ahead(state: &RunState, tags: &[String]) -> bool {
    let Some(current) = state.current_step() else {
        return false;
    };
    let on_a_step = matches!(
        next(state),
        Next::PreValidate
            | Next::Attempt { .. }
            | Next::InFlight { .. }
            | Next::CheckCondition { .. }
            | Next::ReadItems { .. }
    );
    if !on_a_step {
        return false;
    }
    for i in current..state.steps.len() {
        let step = &state.steps[i];
        if step.status.is_done() || state.is_open_parent(i) {
            continue;
        }
        // A step that waits for a report: what follows it waits for a person.
        if state.is_external(i) && i != current {
            return false;
        }
        let wanted = state.runs_on(i);
        if step.status != StepStatus::Running && !wanted.is_empty() && tags_cover(tags, wanted) {
            return true;
        }
    }
    false
}

/// Why a worker offering `tags` leaves run `state` (nobody drives it) with nothing to do, when
/// that is worth saying as it ends: the run waits for a person (a report, a manual start), or
/// its next units ask for tags the worker does not offer. None for a run with nothing left to
/// say (stopped, paused, finished, or with work for this worker).
pub fn left_waiting(state: &RunState, tags: &[String]) -> Option<String> {
    if let Some((reports, starts)) = idle_wait(state, &|_| false) {
        let names = |ix: &[usize]| {
            ix.iter()
                .map(|&i| format!("`{}`", state.steps[i].name))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut what = Vec::new();
        if !reports.is_empty() {
            what.push(format!("a report on {}", names(&reports)));
        }
        if !starts.is_empty() {
            what.push(format!("a start of the manual phase {}", names(&starts)));
        }
        return Some(format!("it waits for a person: {}", what.join(" and ")));
    }
    if not_for_workers(state).is_some() {
        return None;
    }
    let units: Vec<usize> = if state.is_scenario() {
        ready_phases(state)
    } else {
        match next(state) {
            Next::Attempt { index, .. }
            | Next::CheckCondition { index }
            | Next::ReadItems { index } => vec![index],
            _ => Vec::new(),
        }
    };
    let wanted: Vec<&[String]> = units.iter().map(|&i| state.runs_on(i)).collect();
    if wanted.is_empty() || wanted.iter().any(|w| tags_cover(tags, w)) {
        return None;
    }
    let mut missing: Vec<&str> = wanted
        .iter()
        .flat_map(|w| w.iter())
        .filter(|t| !tags.contains(t))
        .map(String::as_str)
        .collect();
    missing.sort_unstable();
    missing.dedup();
    Some(format!(
        "its next work needs a worker offering tags {} (`runs_on:`), which this worker does not offer",
        missing
            .iter()
            .map(|t| format!("`{t}`"))
            .collect::<Vec<_>>()
            .join(", ")
    ))
}
