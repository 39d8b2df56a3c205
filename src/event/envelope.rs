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

/// What a fold reads of a recorded event — its run, place, time and hash (hex) and the event —
/// borrowed, so that a replay streaming rows from the store needs no owned `Recorded` per
/// event (`store::stream_run`).
#[derive(Debug, Clone, Copy)]
pub struct Stamped<'a> {
    pub run_id: &'a str,
    pub seq: u64,
    pub time: &'a str,
    pub hash: &'a str,
    pub event: &'a Event,
}

impl Recorded {
    /// This event as a fold reads it.
    pub fn stamped(&self) -> Stamped<'_> {
        Stamped {
            run_id: &self.run_id,
            seq: self.seq,
            time: &self.time,
            hash: &self.hash,
            event: &self.event,
        }
    }
}
