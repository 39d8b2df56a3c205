//! Progress of a tool call that drives a run, for a client that asked for it (a
//! `progressToken` in the request's `_meta`): MCP clients bound a tool call (about 60 s by
//! default in the TypeScript SDK and Claude Desktop) and cancel it past that, which stops the
//! run, unless progress arrives. The drive's observer says where the run is at each recorded
//! transition (`Reached`); the call sends it as `notifications/progress`, and again at least
//! every `TICK` while a step runs, each notification's value above the last (MCP requires it).

use std::time::Duration;

use crate::decide::{RunState, StepStatus};

/// The longest time between two notifications while a call drives a run.
pub const TICK: Duration = Duration::from_secs(10);

/// Where a run is: its steps (or phases) done of its total, and what it is doing now.
#[derive(Debug, Clone, PartialEq)]
pub struct Reached {
    pub done: usize,
    pub total: usize,
    pub message: String,
}

/// Where `state` is.
pub fn reached(state: &RunState) -> Reached {
    let noun = if state.is_scenario() { "phase" } else { "step" };
    let (done, total) = state.progress();
    let named = |status: StepStatus| -> Vec<String> {
        state
            .steps
            .iter()
            .filter(|s| s.status == status)
            .map(|s| {
                let name = crate::render::one_line(&s.name).into_owned();
                if status == StepStatus::Running && s.attempts > 1 {
                    format!("`{name}` (attempt {})", s.attempts)
                } else {
                    format!("`{name}`")
                }
            })
            .collect()
    };
    let (running, waiting) = (named(StepStatus::Running), named(StepStatus::Waiting));
    let status = crate::project::run_status(state, true);
    let message = if !running.is_empty() {
        format!(
            "{done}/{total} {noun}s done; running {noun} {}",
            running.join(", ")
        )
    } else if !waiting.is_empty() {
        format!(
            "{done}/{total} {noun}s done; {noun} {} waits for a report",
            waiting.join(", ")
        )
    } else {
        format!("{done}/{total} {noun}s done; run {}", status.as_str())
    };
    Reached {
        done,
        total,
        message,
    }
}

/// The values of one call's notifications: the steps done, and past them a fraction that
/// grows with each notification that reached no further (a tick, a retry, a rollback), so
/// that every value is above the last and below the next step's.
#[derive(Debug, Default)]
pub struct Meter {
    base: usize,
    /// Notifications since `base` was reached.
    since: u64,
    started: bool,
}

impl Meter {
    /// The value of a notification saying `done` steps are done.
    pub fn value(&mut self, done: usize) -> f64 {
        if !self.started || done > self.base {
            self.started = true;
            self.base = done;
            self.since = 0;
        } else {
            self.since += 1;
        }
        let k = self.since as f64;
        self.base as f64 + k / (k + 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_progress_value_is_above_the_last_and_a_step_done_reaches_its_whole_number() {
        let mut m = Meter::default();
        let values: Vec<f64> = [0, 0, 0, 1, 1, 0, 3, 3]
            .into_iter()
            .map(|d| m.value(d))
            .collect();
        assert_eq!(values[0], 0.0);
        assert_eq!(values[3], 1.0);
        assert_eq!(values[6], 3.0);
        assert!(values.windows(2).all(|w| w[1] > w[0]), "{values:?}");
        assert!(
            values[5] < 2.0,
            "a rollback stays below the next step: {values:?}"
        );
    }
}
