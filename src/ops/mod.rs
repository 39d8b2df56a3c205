//! The operations every front end offers (the CLI, the TUI, and the MCP server and web page to
//! come): each a function over the library that returns documents and typed errors, and never
//! prints, so that every front end does exactly the same thing.

mod activity;
mod history;
mod lookup;

pub use activity::{Activity, agent_activity};
pub use history::{History, HistoryRow, history};
pub use lookup::{FindError, Scope, find_run};
