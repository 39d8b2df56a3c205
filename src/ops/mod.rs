//! The operations every front end offers — the CLI, the TUI, the MCP server and the web page:
//! each a function over the library that returns its document and its text for people
//! (`Output`) or a `CommandError` with hints and the SPEC's exit code, and never prints, so
//! that every front end does exactly the same thing and records the same events.

mod activity;
pub mod agents;
pub mod attempt_file;
pub mod attempt_logs;
pub mod background;
mod context;
mod copy_group;
mod drive;
mod error;
mod history;
pub mod housekeeping;
pub mod log;
mod lookup;
pub mod notify;
pub mod notify_sweep;
mod output;
mod retry;
mod said;
pub mod scenario;
pub mod schedule;
pub mod worker;
pub mod workflow;

pub use activity::{Activity, agent_activity};
pub use context::{
    Ctx, DB_ENV, Deliveries, LONG_MESSAGE_HINT, MAX_MESSAGE_CHARS, Surface, checked_operator,
    default_actor, hostname, message_problem, no_runs, operator, operator_args,
};
pub use drive::{
    DRIVER_LEASE_MS, KILL_GRACE, Live, PairsFrom, RunHow, definition_changed, definition_valid_now,
    driving_on_warnings, json_integer_text, parse_pairs, parse_pairs_from, refuse_placeholders,
};
pub use error::{Cause, CommandError, Hint, exit};
pub use history::{
    DEFAULT_HISTORY_LIMIT, History, HistoryRow, MAX_HISTORY_LIMIT, checked_history_limit,
    history_limit_text, history_page, history_page_before,
};
pub use lookup::{FindError, Scope, find_run};
pub use output::Output;
pub use retry::Retry;
