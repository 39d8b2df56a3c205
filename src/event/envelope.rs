//! The envelope of an event: its identity, time and place in the hash chain.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::Event;

/// An event stamped by the shell (id and time come from injected sources), ready to append.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub id: String,
    /// RFC 3339 UTC with milliseconds, e.g. `2026-11-21T23:10:21.123Z`.
    pub time: String,
    pub event: Event,
}

/// An event as stored in the log, with its position and hashes (hex).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Recorded {
    pub run_id: String,
    pub seq: u64,
    pub id: String,
    pub time: String,
    pub version: u32,
    pub prev_hash: String,
    pub hash: String,
    #[serde(flatten)]
    pub event: Event,
}
