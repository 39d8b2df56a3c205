//! The next thing a driver must do for a run: a pure "what is ready now" over its state.

use crate::decide::{RunPhase, RunState, StepStatus};
use crate::event::Outcome;

/// The next action for a driver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// Check inputs, prerequisites and health before any step.
    PreValidate,
    /// Start the next attempt of step `index` after `delay_ms`.
    Attempt {
        index: usize,
        delay_ms: u64,
    },
    /// Step `index` is running in this driver (only seen mid-attempt).
    InFlight {
        index: usize,
    },
    /// Step `index` waits for an operator's report: the driver exits (code 3).
    AwaitReport {
        index: usize,
    },
    /// Check step `index`'s `if:` before it runs.
    CheckCondition {
        index: usize,
    },
    /// Read step `index`'s `foreach:` list: its items become units.
    ReadItems {
        index: usize,
    },
    /// `uses:` step `index` waits on its child run: go on with the child (it may have moved on
    /// since), and end the step's attempt when the child ends.
    Child {
        index: usize,
    },
    /// Run the rollback command of step `index`.
    Compensate {
        index: usize,
    },
    /// Run the post-validation checks.
    PostValidate,
    /// Failed and paused: resumable with `resume`.
    Paused,
    Stopped,
    Finished(Outcome),
}

/// What the driver must do next for a run in `state`.
pub fn next(state: &RunState) -> Next {
    match &state.phase {
        RunPhase::Finished { outcome } => return Next::Finished(*outcome),
        RunPhase::Paused { .. } => return Next::Paused,
        RunPhase::Stopped => return Next::Stopped,
        RunPhase::NotStarted => return Next::Paused,
        RunPhase::RollingBack => {
            if let Some(index) = state
                .rollback
                .as_ref()
                .and_then(|rb| rb.pending.first())
                .and_then(|name| state.step_index(name))
            {
                return Next::Compensate { index };
            }
            return Next::Paused;
        }
        RunPhase::Running | RunPhase::Waiting => {}
    }
    if !state.pre_validated {
        return Next::PreValidate;
    }
    match state.current_step() {
        None => Next::PostValidate,
        Some(index) => {
            let step = &state.steps[index];
            match step.status {
                StepStatus::Running => Next::InFlight { index },
                StepStatus::Waiting if state.is_uses(index) => Next::Child { index },
                StepStatus::Waiting => Next::AwaitReport { index },
                _ if state.needs_condition(index) => Next::CheckCondition { index },
                _ if state.needs_expansion(index) => Next::ReadItems { index },
                StepStatus::Ready => Next::Attempt {
                    index,
                    delay_ms: step.retry_delay_ms,
                },
                _ => Next::Attempt { index, delay_ms: 0 },
            }
        }
    }
}

/// What a run waits on when a plain resume would change nothing — its units all settled but
/// for reports and manual starts that only a person or an agent gives: `(reports, starts)`,
/// the indexes of the units waiting for a report and of the manual phases waiting to be
/// started. A `uses:` unit whose child run is idle the same way (`child_idle` of its run id:
/// its caller reads the child, and its children, from the log) counts among the units
/// waiting for a report: that report is given in the child. None when a resume has something
/// to do: a unit to run, retry, prepare or end (an interrupted attempt), a rollback, a pause,
/// a stop, a `uses:` unit's child to go on with, a run queued for workers.
pub fn idle_wait(
    state: &RunState,
    child_idle: &dyn Fn(&str) -> bool,
) -> Option<(Vec<usize>, Vec<usize>)> {
    let idle_child = |i: usize| {
        state.steps[i]
            .child
            .as_ref()
            .is_some_and(|c| child_idle(&c.run_id))
    };
    if state.stop_requested || state.submitted || !state.pre_validated {
        return None;
    }
    let unsettled = state.steps.iter().any(|s| {
        matches!(
            s.status,
            StepStatus::Running | StepStatus::Stopped | StepStatus::Failed | StepStatus::Ready
        )
    });
    if unsettled {
        return None;
    }
    if state.is_scenario() {
        if state.phase != RunPhase::Running
            || !super::ready_phases(state).is_empty()
            || !super::to_prepare(state).is_empty()
        {
            return None;
        }
        let reports: Vec<usize> = (0..state.steps.len())
            .filter(|&i| state.steps[i].status == StepStatus::Waiting)
            .collect();
        let starts = super::awaiting_manual_start(state);
        if reports.iter().any(|&i| state.is_uses(i) && !idle_child(i))
            || (reports.is_empty() && starts.is_empty())
        {
            return None;
        }
        return Some((reports, starts));
    }
    if state.phase != RunPhase::Waiting {
        return None;
    }
    match next(state) {
        Next::AwaitReport { index } => Some((vec![index], Vec::new())),
        Next::Child { index } if idle_child(index) => Some((vec![index], Vec::new())),
        _ => None,
    }
}
