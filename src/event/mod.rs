//! Events: the past-tense facts a run is made of, and the envelope they are stored in.
//!
//! STABILITY: the serialised form of every type in this module is hashed into the log.
//! Renaming a variant or a field changes what old logs mean; add a new `EVENT_VERSION` and an
//! upcaster in `upcast.rs` instead (see `store::hash` for the pinned-hash test).

mod body;
mod chain_id;
mod envelope;
pub mod exact_json;
mod run_id;
mod upcast;
mod values;

pub use body::{
    AgentResult, AttemptEnd, ConditionCheck, Driver, Event, FireOutcome, Operator, Outcome,
    ParentRun, ResumeMode, RunKind, RunStarted, Stage, UsedWorkflow, session_failed,
};
pub use chain_id::{
    ChainId, NOTIFY_PREFIX, REGISTRY_CHAIN, SCHEDULE_PREFIX, has_chain_prefix, is_chain_id,
    is_run_chain, shown_id,
};
pub use envelope::{NewEvent, Recorded, Stamped};
pub use run_id::{BadRunId, RUN_ID_LEN, check_run_id, is_crockford, is_run_id};

/// What a secret is replaced with, in the log and everywhere a value is shown.
pub const REDACTED: &str = "***";

impl RunKind {
    /// The kind as a word: `workflow` or `scenario` (as it is serialised, and as a schedule's
    /// chain id spells it).
    pub fn as_str(self) -> &'static str {
        match self {
            RunKind::Workflow => "workflow",
            RunKind::Scenario => "scenario",
        }
    }

    /// The command group that acts on runs of this kind: `workflow`, or `orchestrate` for a
    /// scenario.
    pub fn group(self) -> &'static str {
        match self {
            RunKind::Workflow => "workflow",
            RunKind::Scenario => "orchestrate",
        }
    }
}

/// An input value as text, as templates, `CORTEX_INPUT_<NAME>` and `--input NAME=TEXT` see it:
/// a string as it is, anything else as JSON.
pub fn input_text(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
pub use upcast::{EVENT_VERSION, decode};
