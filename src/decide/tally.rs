//! The tally of a run's sequence — the unit that is its position, how many units are done,
//! which hold outputs — kept as events are folded, so that what a driver asks at every step
//! costs the same at the thousandth step as at the first.

use super::state::{RunState, StepState};
use crate::event::Event;

/// Where the sequence stands, as of the events folded (`evolve_in_place`). A driver asked it
/// at every step by walking every unit (the position: three times a step; how many are done:
/// at every checkpoint), so a chain of N steps cost N² — 40k instructions and a cache miss per
/// unit a step at 1,000 steps. A cache of `steps`: never saved (a restored state counts it
/// again at its first event) and never compared (two states are equal whatever it holds).
#[derive(Debug, Clone, Default)]
pub struct Tally {
    /// Whether it holds for `steps` as they are. A state not folded event by event (built by
    /// hand, restored from a snapshot) answers by walking until an event counts it.
    known: bool,
    /// The first unit that is the sequence's position (`RunState::current_step`): every unit
    /// before it is done or a `foreach:` step whose items stand for it. `steps.len()`: none.
    first_open: usize,
    /// How many units are done (completed or skipped).
    done: usize,
    /// The units that hold outputs (`RunState::units_with_outputs`: each attempt's redactor
    /// looks at their values), in the order they recorded their first.
    holding: Vec<usize>,
}

impl PartialEq for Tally {
    fn eq(&self, _: &Tally) -> bool {
        true
    }
}

/// Whether a unit is passed over when looking for the sequence's position: done, or a
/// `foreach:` step (open or done: its items are the position while they run).
fn passed(s: &StepState) -> bool {
    s.status.is_done() || s.items.is_some()
}

/// The units whose status (or items) folding an event may change.
enum Touch<'e> {
    /// None.
    Nothing,
    /// At most the one named.
    One(&'e str),
    /// Any, and the layout of the units: the tally is counted again. Every event not listed
    /// below, so that a new one is counted right, if slowly, until it is listed.
    Any,
}

fn touch(event: &Event) -> Touch<'_> {
    match event {
        Event::StepStarted { step, .. }
        | Event::StepWaiting { step, .. }
        | Event::StepSucceeded { step, .. }
        | Event::StepFailed { step, .. }
        | Event::StepTimedOut { step, .. }
        | Event::StepInterrupted { step, .. }
        | Event::RetryScheduled { step, .. }
        | Event::StepSkipped { step, .. }
        | Event::ForeachFailed { step, .. }
        | Event::ForeachFinished { step, .. }
        | Event::ChildWaiting { step, .. } => Touch::One(step),
        Event::ConditionChecked(check) => Touch::One(&check.step),
        Event::ValidationFailed { step, .. } => step.as_deref().map_or(Touch::Nothing, Touch::One),
        // What they change of their unit is not its status (nor its items): no look-up of it
        // (a replay folds millions of outputs).
        Event::OutputRecorded { .. }
        | Event::AttemptLog { .. }
        | Event::CheckpointSaved { .. }
        | Event::AgentResult(_)
        | Event::AttemptClaimed { .. }
        | Event::CompensationFailed { .. }
        | Event::ConditionStarted { .. }
        | Event::ChildStarted { .. }
        | Event::PhaseStartRequested { .. }
        | Event::ValidationPassed { .. }
        | Event::AttemptRejected { .. }
        | Event::NotificationDelivered { .. }
        | Event::ScheduleFired { .. }
        | Event::ScheduleReleased { .. }
        | Event::ScheduleSeen { .. }
        | Event::ScheduledRun { .. }
        | Event::RunSubmitted { .. }
        | Event::StopRequested { .. }
        | Event::RunStopped { .. }
        | Event::RunPaused { .. }
        | Event::RunFinished { .. }
        | Event::RollbackStarted { .. }
        | Event::AgentActivated { .. }
        | Event::AgentDeactivated { .. }
        | Event::CriterionMet { .. } => Touch::Nothing,
        _ => Touch::Any,
    }
}

/// What the tally needs to know of a state before an event is folded into it.
pub(super) struct Before {
    /// The unit the event may change, and whether it was done; None when it names none the
    /// run has (nothing changes) or may change others.
    unit: Option<(usize, bool)>,
    /// The event may change any unit.
    any: bool,
}

/// Note what `event` may change in `state`, before it is folded. An event that may change any
/// unit leaves the tally unknown while it is folded: what its folding asks is walked.
pub(super) fn before(state: &mut RunState, event: &Event) -> Before {
    match touch(event) {
        Touch::Nothing => Before {
            unit: None,
            any: false,
        },
        Touch::One(name) => Before {
            unit: state
                .step_index(name)
                .map(|i| (i, state.steps[i].status.is_done())),
            any: false,
        },
        Touch::Any => {
            state.tally.known = false;
            Before {
                unit: None,
                any: true,
            }
        }
    }
}

/// Settle the tally once the event `before` was taken of is folded into `state`.
pub(super) fn after(state: &mut RunState, before: Before) {
    if before.any || !state.tally.known {
        recount(state);
    } else if let Some((i, was_done)) = before.unit {
        let s = &state.steps[i];
        let tally = &mut state.tally;
        tally.done = tally.done + usize::from(s.status.is_done()) - usize::from(was_done);
        if i < tally.first_open && !passed(s) {
            tally.first_open = i;
        } else if i == tally.first_open {
            tally.first_open = first_open_from(&state.steps, i);
        }
    }
    #[cfg(debug_assertions)]
    check(state);
}

/// The first unit from `from` on that is not passed over.
fn first_open_from(steps: &[StepState], from: usize) -> usize {
    steps[from..]
        .iter()
        .position(|s| !passed(s))
        .map_or(steps.len(), |k| from + k)
}

/// Count the tally from the units as they are.
fn recount(state: &mut RunState) {
    state.tally = Tally {
        known: true,
        first_open: first_open_from(&state.steps, 0),
        done: state.steps.iter().filter(|s| s.status.is_done()).count(),
        holding: holding_from(&state.steps),
    };
}

fn holding_from(steps: &[StepState]) -> Vec<usize> {
    (0..steps.len())
        .filter(|&i| !steps[i].outputs.is_empty())
        .collect()
}

/// Unit `index` recorded its first output (`output_recorded`, which changes no status: the
/// tally is not otherwise told of it).
pub(super) fn first_output(state: &mut RunState, index: usize) {
    if state.tally.known {
        state.tally.holding.push(index);
    }
}

/// The units that hold outputs, where the tally knows them (else: look at every unit).
pub(super) fn holding(state: &RunState) -> Option<&[usize]> {
    state.tally.known.then_some(&state.tally.holding[..])
}

/// The sequence's position: the first unit that is not done, a `foreach:` step whose items
/// run excepted (its items are the position).
pub(super) fn current_step(state: &RunState) -> Option<usize> {
    let at = if state.tally.known {
        state.tally.first_open
    } else {
        first_open_from(&state.steps, 0)
    };
    (at < state.steps.len()).then_some(at)
}

/// How many units are done (completed or skipped).
pub(super) fn done(state: &RunState) -> usize {
    if state.tally.known {
        state.tally.done
    } else {
        state.steps.iter().filter(|s| s.status.is_done()).count()
    }
}

/// In tests (debug builds), a tally kept event by event must be what counting gives: an
/// event listed as changing one unit that changes others is caught at its first fold. Runs
/// of more units than a test makes are not checked (counting would make each fold a walk).
#[cfg(debug_assertions)]
fn check(state: &RunState) {
    if !state.tally.known || state.steps.len() > 2_000 {
        return;
    }
    let mut holding = state.tally.holding.clone();
    holding.sort_unstable();
    let kept = (state.tally.first_open, state.tally.done, holding);
    let counted = (
        first_open_from(&state.steps, 0),
        state.steps.iter().filter(|s| s.status.is_done()).count(),
        holding_from(&state.steps),
    );
    assert_eq!(
        kept, counted,
        "the tally kept (position, done, holding outputs) differs from the count after event {} of run {}",
        state.events, state.run_id
    );
}
