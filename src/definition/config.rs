//! `cortex.config.json`: the seed's `workflow` block, every key honoured.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{DefinitionError, Location, Problem};

/// How hard an append tries to survive a crash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Durability {
    /// WAL with synchronous=NORMAL: a killed process loses nothing; a power loss may lose the
    /// last commits (never corrupts).
    #[default]
    Normal,
    /// WAL with synchronous=FULL: every commit is fsynced; survives power loss.
    Full,
}

/// When a completed step becomes a resume point.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CheckpointFrequency {
    /// Every completed step.
    #[default]
    PerStep,
    /// Every completed phase; for a workflow, whose steps are its phases, every step.
    PerPhase,
    /// Only steps marked `checkpoint: true`.
    Manual,
}

/// Engine settings (the `workflow` block of `cortex.config.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Record checkpoints; without them `resume` starts again from the first step.
    pub enable_checkpoints: bool,
    pub checkpoint_frequency: CheckpointFrequency,
    /// Allow `on_failure: rollback` and `resume --rollback-to`.
    pub enable_rollback: bool,
    /// Retries after the first attempt, for steps that do not set their own.
    pub max_retry_attempts: u32,
    /// Limit on the time a run is driven, in seconds (0: none).
    pub timeout_seconds: u64,
    /// Upper bound on phases running at once (scenarios).
    pub max_parallel: u32,
    pub durability: Durability,
}

impl Default for Config {
    /// The values of the seed's example configuration.
    fn default() -> Self {
        Config {
            enable_checkpoints: true,
            checkpoint_frequency: CheckpointFrequency::PerStep,
            enable_rollback: true,
            max_retry_attempts: 3,
            timeout_seconds: 3600,
            max_parallel: 4,
            durability: Durability::Normal,
        }
    }
}

/// The whole file.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// Editors may point this at `schemas/config.schema.json`.
    #[serde(rename = "$schema", default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    #[serde(default)]
    pub workflow: Config,
}

/// Parse `cortex.config.json`; a bad key or value is an error naming it, with its position.
pub fn parse_config(path: &str, text: &str) -> Result<Config, DefinitionError> {
    super::workflow::precheck(path, text)?;
    let fail = |e: serde_json::Error| {
        DefinitionError {
        path: path.to_string(),
        text: text.to_string(),
        problems: vec![
            Problem::new(
                e.to_string()
                    .split(" at line ")
                    .next()
                    .unwrap_or_default()
                    .to_string(),
                                // serde_json's column is 0 before a line's first character (an empty file).
                (e.line() > 0).then_some(Location {
                    line: e.line(),
                    column: e.column().max(1),
                }),
            )
            .with_hint(
                "keys of `workflow`: enable_checkpoints, checkpoint_frequency (per_step|per_phase|manual), \
                 enable_rollback, max_retry_attempts, timeout_seconds, max_parallel, durability (normal|full)",
            ),
        ],
    }
    };
    let file: ConfigFile = serde_json::from_str(text).map_err(fail)?;
    if file.workflow.max_parallel == 0 {
        return Err(DefinitionError {
            path: path.to_string(),
            text: text.to_string(),
            problems: vec![Problem::new(
                "`workflow.max_parallel` must be at least 1",
                None,
            )],
        });
    }
    Ok(file.workflow)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seed_configuration_parses() {
        let seed = r#"{
  "workflow": {
    "enable_checkpoints": true,
    "checkpoint_frequency": "per_step",
    "enable_rollback": true,
    "max_retry_attempts": 3,
    "timeout_seconds": 3600
  }
}"#;
        assert_eq!(parse_config("c.json", seed).unwrap(), Config::default());
    }

    #[test]
    fn a_bad_key_is_named_with_its_place() {
        let err = parse_config("c.json", "{\"workflow\": {\"max_retries\": 2}}").unwrap_err();
        assert!(err.problems[0].message.contains("max_retries"), "{err}");
        assert!(err.problems[0].at.is_some());
    }
}
