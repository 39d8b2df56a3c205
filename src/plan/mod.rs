//! Planning: what the run should do next, and what a resume would do, as pure functions of
//! the run's state.

mod next;
mod preview;

pub use next::{Next, next};
pub use preview::{Action, PlannedStep, preview_resume, preview_run};
