//! Projections: status, results and checkpoint files, each a pure function of a run's state
//! (itself a fold of the log). Nothing here reads the clock or the file system.

mod files;
mod next;
mod status;

pub use files::{CHECKPOINTS_FILE, FileWrite, RunFile, changed_files, run_files};
pub use next::{
    Fill, RunAct, Suggestion, next_actions, run_act, run_again, secret_inputs_note,
    subcommand_args, worker_command,
};
pub use status::{
    ActiveAgent, AgentResultView, AsOf, CompensationView, CriterionView, DefinitionNow,
    ForeachView, IfView, ItemView, KeptTimeLimit, RunStatus, StatusView, StepGroup, StepView,
    StopRequestView, Unverified, UsesView, WaitsOn, cut_short, pending_stop, run_status,
    status_view, status_view_for, waits_for_tags, waits_on,
};
