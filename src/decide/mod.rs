//! The functional core: `decide(&State, Command) -> Result<Vec<Event>>` and
//! `evolve(State, &Recorded) -> State` (the Decider pattern).
//!
//! Facts from the outside world (exit codes, operator reports, signals) arrive as commands.
//! Nothing here reads the clock, the environment or the file system, so replaying the log
//! always rebuilds the same state.

mod agents;
mod command;
mod decider;
mod error;
mod items;
mod output_keys;
mod outputs;
mod phase_agents;
mod recovery;
mod schedule;
mod state;
mod tally;

pub use agents::{AgentCommand, AgentRegistry, BY_HAND, decide_registry, evolve_registry};
pub use command::{AttemptReport, Command, LoggedOutput};
pub use decider::{DRIVER_GONE, decide, not_for_workers, orphaned, pending_request, process_on};
pub use error::DecideError;
pub use items::item_name;
pub use outputs::{
    MAX_OUTPUT_BYTES, MAX_OUTPUT_KEYS, outputs_bytes, outputs_too_large, too_large, too_many_keys,
};
pub use recovery::{Recovery, Repeated};
pub use schedule::{
    Fire, Known, SCHEDULE_ACTOR, ScheduleCommand, ScheduleRefused, ScheduleState, decide_schedule,
    evolve_schedule, replay_schedule,
};
pub use state::{
    AgentRun, Checkpoint, ChildLink, CompensationLeft, EndKind, ItemOf, Rollback, RollbackLeft,
    RunPhase, RunState, SessionEnd, StepState, StepStatus, evolve, evolve_in_place, replay,
    restore, snapshot_format, snapshot_json, state_format, time_limit_reason,
};
pub use tally::Tally;
