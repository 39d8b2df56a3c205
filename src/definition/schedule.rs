//! `schedule:` — when a workflow or scenario starts by itself: a cron expression (five
//! fields, UTC), what to do when the previous scheduled run is still going, and the inputs
//! its runs get.

use std::collections::BTreeMap;
use std::fmt;

use schemars::JsonSchema;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};

use super::ScalarString;

/// A schedule: `schedule: "0 3 * * *"`, or the long form with `cron:`, `overlap:` and
/// `inputs:`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[schemars(with = "ScheduleSchema")]
pub struct Schedule {
    /// Five fields — minute, hour, day of month, month, day of week — in UTC, as cron reads
    /// them (`*/15 * * * *`, `0 3 * * MON-FRI`, `@daily`).
    pub cron: String,
    /// When the time comes and the previous scheduled run is still going.
    #[serde(default, skip_serializing_if = "Overlap::is_default")]
    pub overlap: Overlap,
    /// Input values of every scheduled run (a secret input's value comes from the
    /// scheduler's environment, `CORTEX_INPUT_<NAME>`, never from here).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub inputs: BTreeMap<String, ScalarString>,
}

/// What a schedule does when its time comes while its previous run is still going.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Overlap {
    /// Skip this time (recorded, with the run still going).
    #[default]
    Skip,
    /// Start this time's run when the previous one ends; one waits at most, later times
    /// while one waits are skipped.
    Queue,
    /// Start it anyway, beside the previous one.
    Allow,
}

impl Overlap {
    fn is_default(&self) -> bool {
        *self == Overlap::Skip
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Overlap::Skip => "skip",
            Overlap::Queue => "queue",
            Overlap::Allow => "allow",
        }
    }
}

/// The long form, as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Long {
    cron: String,
    #[serde(default)]
    overlap: Overlap,
    #[serde(default)]
    inputs: BTreeMap<String, ScalarString>,
}

/// What the JSON Schema says a schedule is: the cron expression alone, or the long form.
#[derive(JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)]
enum ScheduleSchema {
    /// A cron expression (five fields, UTC).
    Cron(String),
    Long(LongSchema),
}

/// The long form of a schedule.
#[derive(JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "ScheduleLong")]
#[allow(dead_code)]
struct LongSchema {
    /// A cron expression (five fields, UTC).
    cron: String,
    /// `skip` (default), `queue` or `allow`.
    #[serde(default)]
    overlap: Overlap,
    /// Input values of every scheduled run.
    #[serde(default)]
    inputs: BTreeMap<String, ScalarString>,
}

impl<'de> Deserialize<'de> for Schedule {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Schedule;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(
                    "a cron expression, or a mapping with `cron:`, `overlap:` and `inputs:`",
                )
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Schedule, E> {
                Ok(Schedule {
                    cron: v.to_string(),
                    overlap: Overlap::Skip,
                    inputs: BTreeMap::new(),
                })
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Schedule, A::Error> {
                let long = Long::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(Schedule {
                    cron: long.cron,
                    overlap: long.overlap,
                    inputs: long.inputs,
                })
            }
        }
        d.deserialize_any(V)
    }
}

impl Schedule {
    /// The inputs as `--input NAME=VALUE` pairs.
    pub fn input_pairs(&self) -> Vec<(String, String)> {
        self.inputs
            .iter()
            .map(|(k, v)| (k.clone(), v.0.clone()))
            .collect()
    }
}
