//! cortex: a local-first, event-sourced orchestrator for multi-step operations.
//!
//! The flow of a run is visible in the module names:
//! `definition` (parse YAML/JSON with locations) → `validate` (semantic checks) →
//! `plan` (what is ready now) → `decide` (pure `decide`/`evolve`) → `store` (the hash-chained
//! log in SQLite) → `project` (status, results, checkpoints as folds over the log) →
//! `render` (human and JSON text). `execute` is the imperative shell that spawns processes and
//! reads the clock; `cli` is the only module that prints, `tui` the only one that draws on
//! the terminal, and `mcp` the only one that speaks a protocol on stdout.

pub mod cli;
pub mod decide;
pub mod definition;
pub mod event;
pub mod execute;
pub mod file_id;
pub mod mcp;
pub mod ops;
pub mod plan;
pub mod project;
pub mod render;
pub mod serve;
pub mod store;
pub mod tui;
pub mod validate;
