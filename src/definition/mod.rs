//! Definitions: workflow YAML, `cortex.config.json` and agent files, parsed with locations.
//!
//! Parsing is strict (unknown keys are errors) and every error carries `line:column`.
//! Semantic checks live in `validate`; this module only reads text into types.

mod agent;
mod builtin;
mod catalog;
mod compose;
mod config;
mod diagnostic;
mod document;
mod duration;
pub mod expr;
mod file;
mod finite;
mod item;
mod lexical;
pub mod limits;
mod locate;
mod name;
mod notify;
mod runner;
mod scalar;
mod scenario;
mod schedule;
mod shell_secrets;
mod tags;
pub mod template;
mod worker_tag;
mod workflow;
mod yaml_events;
mod yaml_walk;

pub use agent::{Agent, AgentRunner, claude_body_problem, parse_agent};
pub use builtin::{BUILTIN_AGENTS, BUILTIN_WORKFLOWS, builtin_workflow};
pub use catalog::{
    Catalog, Entry, EntrySource, Listed, LookupError, content_kind, suggest as catalog_suggest,
};
pub use compose::{Foreach, IfCommand, IfCondition, MAX_FOREACH_ITEMS, NotAList, items_of};
pub use config::{
    AgentsConfig, CheckpointFrequency, ClaudeConfig, Config, ConfigFile, Durability,
    PermissionMode, parse_config, parse_config_file,
};
pub use diagnostic::{DefinitionError, Location, Problem};
pub use document::MAX_ALIAS_EXPANSION;
pub use duration::DurationSpec;
pub use file::{ReadError, read_bounded, read_definition, without_bom};
pub use finite::Bound;
pub use item::Item;
pub use locate::{
    Duplicate, Seg, duplicate_keys, locate, locate_json, locate_key, within_scalar, written_width,
};
pub(crate) use name::is_env_name;
pub use name::{
    BadName, MAX_NAME_CHARS, NameKind, check_name, code_span, item_suffix, normalize_name,
    same_name, shown, shown_query, shown_text,
};
pub use notify::{
    Notification, Notify, WebhookPart, mask_url, port_problem, resolve_webhook, url_secrets,
    webhook_credential_vars, webhook_literal_secrets, webhook_parts, webhook_problem,
};
pub use runner::{
    ClaudeAgent, ClaudeSetup, HowItRuns, ResolvedAgents, how_it_runs, resolve_agents,
};
pub use scalar::{ScalarString, items_not_as_written};
pub use scenario::{
    Commands, Condition, Criterion, FieldRule, Phase, Scenario, UserSchema, parse_scenario,
    parse_scenario_setting_aside, parse_user_schema,
};
pub use schedule::{Overlap, Schedule};
pub use shell_secrets::{SecretAssignment, assignment_problem, secret_assignments};
pub use worker_tag::{MAX_TAG_CHARS, WorkerTag, parse_tags, tag_problem, tags_cover};
pub(crate) use workflow::precheck;
pub use workflow::{
    Check, InputSpec, InputType, OnFailure, Requires, RetrySpec, Step, Workflow, parse_workflow,
    parse_workflow_setting_aside, wrong_kind,
};

/// Definitions larger than this are refused before parsing: no real workflow is this big, and
/// it bounds the memory a hostile file can take.
pub const MAX_DEFINITION_BYTES: usize = 1 << 20;

/// The canonical JSON of a definition and its blake3 hash (hex), as recorded at `run`.
pub fn snapshot<T: serde::Serialize>(definition: &T) -> (serde_json::Value, String) {
    let value = serde_json::to_value(definition).expect("definitions always serialise");
    let bytes = serde_json::to_vec(&value).expect("a JSON value always serialises");
    (value, blake3::hash(&bytes).to_hex().to_string())
}
