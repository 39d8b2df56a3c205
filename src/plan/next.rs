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
