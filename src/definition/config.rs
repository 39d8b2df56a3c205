//! `cortex.config.json`: the seed's `workflow` block, every key honoured.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{DefinitionError, Location, Problem, limits, locate_json};

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
    /// Retries after the first attempt, for steps that do not set their own: 0 to 100.
    #[schemars(range(max = 100))]
    pub max_retry_attempts: u32,
    /// Limit on the time a run is driven, in seconds: 0 (none) to 2592000 (30 days).
    #[schemars(range(max = 2_592_000))]
    pub timeout_seconds: u64,
    /// Upper bound on phases running at once (scenarios): 1 to 1024.
    #[schemars(range(min = 1, max = 1024))]
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
    /// Where the event log is (SPEC §9), unless `--db` or CORTEX_DB says: a PostgreSQL URL
    /// (`postgres://user@host:port/dbname`) or libpq `key=value` string, or a SQLite file
    /// (`sqlite:PATH` or a path; relative to the home). Default: the home's `cortex.db`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db: Option<String>,
}

/// Parse `cortex.config.json`; a bad key or value is an error naming it, with its position.
pub fn parse_config(path: &str, text: &str) -> Result<Config, DefinitionError> {
    parse_config_file(path, text).map(|file| file.workflow)
}

/// Parse `cortex.config.json` whole: the engine settings and where the log is.
pub fn parse_config_file(path: &str, text: &str) -> Result<ConfigFile, DefinitionError> {
    super::workflow::precheck(path, text, false)?;
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
    let problems = range_problems(&file.workflow, text);
    if !problems.is_empty() {
        return Err(DefinitionError {
            path: path.to_string(),
            text: text.to_string(),
            problems,
        });
    }
    Ok(file)
}

/// Every value of `config` outside its documented range (`limits`), located in `text`.
fn range_problems(config: &Config, text: &str) -> Vec<Problem> {
    let checks = [
        (
            "timeout_seconds",
            config.timeout_seconds,
            0,
            limits::MAX_RUN_TIMEOUT_SECONDS,
            "write at most 2592000 (30 days), or 0 for no limit",
        ),
        (
            "max_retry_attempts",
            u64::from(config.max_retry_attempts),
            0,
            u64::from(limits::MAX_RETRY_ATTEMPTS),
            "retries after the first attempt: write at most 100",
        ),
        (
            "max_parallel",
            u64::from(config.max_parallel),
            1,
            u64::from(limits::MAX_PARALLEL),
            "phases active at once: write 1 to 1024",
        ),
    ];
    checks
        .into_iter()
        .filter_map(|(key, value, min, max, fix)| {
            let message =
                limits::check_count(&format!("workflow.{key}"), value, min, max, fix).err()?;
            let at = locate_json(text, &["workflow".into(), key.into()]);
            Some(Problem::new(message, at))
        })
        .collect()
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
    fn values_outside_their_range_are_located() {
        let text = "{\n  \"workflow\": {\n    \"timeout_seconds\": 9223372036854775807,\n    \"max_parallel\": 0,\n    \"max_retry_attempts\": 4294967295\n  }\n}\n";
        let err = parse_config("c.json", text).unwrap_err();
        let found: Vec<(usize, usize)> = err
            .problems
            .iter()
            .map(|p| p.at.map(|l| (l.line, l.column)).unwrap())
            .collect();
        assert_eq!(found, vec![(3, 24), (5, 27), (4, 21)], "{err}");
        assert!(
            err.problems[0]
                .message
                .contains("outside its range 0 to 2592000"),
            "{err}"
        );
        for ok in [0, 2_592_000] {
            let text = format!("{{\"workflow\": {{\"timeout_seconds\": {ok}}}}}");
            assert!(parse_config("c.json", &text).is_ok());
        }
    }

    #[test]
    fn a_bad_key_is_named_with_its_place() {
        let err = parse_config("c.json", "{\"workflow\": {\"max_retries\": 2}}").unwrap_err();
        assert!(err.problems[0].message.contains("max_retries"), "{err}");
        assert!(err.problems[0].at.is_some());
    }
}
