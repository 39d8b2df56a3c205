//! The typed arguments of each tool: the flags of its CLI command as JSON fields, from which
//! the input schemas are generated, so that what a tool says it takes is what it reads.

use std::collections::BTreeMap;
use std::path::PathBuf;

use schemars::JsonSchema;
use serde::Deserialize;

use crate::event::RunKind;

/// The doc (and so the schema's description) of `detach`, one text for every tool that takes
/// it (`#[doc = detach_doc!()]`): the same flag, read by the server before the call
/// (`server::detached`).
macro_rules! detach_doc {
    () => {
        concat!(
            "Return at once, the start (or report) recorded, and let the server drive the run on\n",
            "in the background until it waits, fails or ends; poll `status` to see it go on. Use it\n",
            "for a run whose steps may take longer than your client lets a tool call last (often\n",
            "60 s): a call cut off by that limit is cancelled, which stops the run. A detached run\n",
            "is also stopped (recorded, resumable with `resume`) when this client disconnects.",
        )
    };
}

/// The doc of how a value of `inputs` or `outputs` is read (`Scalar`), one text for every
/// field that takes them (`#[doc = scalars_doc!()]`).
macro_rules! scalars_doc {
    () => {
        concat!(
            "Values are strings, booleans or integers: give any other number as a JSON string\n",
            "(\"1.10\"), since as a number its text is lost (1.10 reads as 1.1) and it is refused.",
        )
    };
}

/// The doc of a report's `inputs` (`step_complete`, `phase_complete`), one text for both.
macro_rules! report_inputs_doc {
    () => {
        concat!(
            "The values of the run's secret inputs (those the log keeps as `***`), e.g.\n",
            "{\"api_token\": \"...\"}: its checks and the drive after the report have them, and this\n",
            "server keeps them (in memory only) for the run's later calls in this session.",
        )
    };
}

/// A value of `inputs` or `outputs`: a string, a boolean, or a JSON number. An integer is
/// kept as its digits; any other number is kept as the float serde_json read, whose text is
/// gone (`1.10` reads as 1.1, `2.0` as 2, `1e2` as 100): only an input declared `number` or
/// `integer` takes one (`pairs`).
#[derive(Debug, Clone, PartialEq, JsonSchema)]
#[schemars(with = "ScalarSchema")]
pub enum Scalar {
    Exact(String),
    Float(f64),
}

#[derive(JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)]
enum ScalarSchema {
    String(String),
    Integer(i64),
    Number(f64),
    Boolean(bool),
}

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Scalar;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string, number or boolean")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Scalar, E> {
                Ok(Scalar::Exact(v.to_string()))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Scalar, E> {
                Ok(Scalar::Exact(v.to_string()))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Scalar, E> {
                Ok(Scalar::Exact(v.to_string()))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Scalar, E> {
                Ok(Scalar::Float(v))
            }
            fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Scalar, E> {
                Ok(Scalar::Exact(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

/// Which of the two families a command acts on: workflows, ordered steps (`cortex workflow
/// ...`), or scenarios, phases with conditions, parallelism and agents (`cortex orchestrate
/// ...`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    // No doc comments on the variants: the schema stays a plain `enum` of the two words.
    Workflow,
    Scenario,
}

impl Kind {
    pub fn run_kind(self) -> RunKind {
        match self {
            Kind::Workflow => RunKind::Workflow,
            Kind::Scenario => RunKind::Scenario,
        }
    }
}

/// `cortex workflow list` / `cortex orchestrate list`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListArgs {
    /// `workflow` (the home's workflows and the built-in templates) or `scenario`.
    pub kind: Kind,
}

/// `cortex workflow validate NAME` / `cortex orchestrate validate NAME|--all`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ValidateArgs {
    /// `workflow` or `scenario`.
    pub kind: Kind,
    /// A name (matched forgivingly: "feature development" finds `feature-development`) or a
    /// path to a .yaml file. Required unless `all` is true.
    #[serde(default)]
    pub name: Option<String>,
    /// Validate every workflow (the home's and the built-ins) or every scenario of the home
    /// instead of one.
    #[serde(default)]
    pub all: bool,
}

/// `cortex orchestrate preview NAME`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PreviewArgs {
    /// A scenario name (matched forgivingly) or a path to a .yaml file.
    pub name: String,
    /// Input values, by name, as `run` takes them: the phases are shown rendered with them
    /// (a secret one as `***`); an input not given shows its default, else stays as written.
    #[serde(default)]
    pub inputs: BTreeMap<String, Scalar>,
}

/// `cortex workflow run NAME` / `cortex orchestrate run NAME`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RunArgs {
    /// `workflow` or `scenario`.
    pub kind: Kind,
    /// A workflow or scenario name (matched forgivingly) or a path to a .yaml file.
    pub name: String,
    /// Input values by input name, e.g. {"version": "1.2.0", "dry_run": true}. A string, a
    /// boolean, or an integer; a number with a fraction or an exponent only for an input
    /// declared `number` or `integer`: for any other give it as a JSON string ("1.10"), since as
    /// a number its text is lost (1.10 reads as 1.1).
    #[serde(default)]
    pub inputs: BTreeMap<String, Scalar>,
    /// Return the plan (which steps or phases would run, and how) without running or
    /// recording anything.
    #[serde(default)]
    pub dry_run: bool,
    #[doc = detach_doc!()]
    #[serde(default)]
    // Read by the server before the call (`server::detached`), not by the operation.
    #[allow(dead_code)]
    pub detach: bool,
    /// Scenarios only: manual phases to start right away.
    #[serde(default)]
    pub start: Vec<String>,
    /// Why, recorded with the run.
    #[serde(default)]
    #[schemars(length(max = crate::ops::MAX_MESSAGE_CHARS))]
    pub message: Option<String>,
}

/// `cortex workflow status [RUN] [--at SEQ]` / `cortex orchestrate status [NAME|RUN]`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusArgs {
    /// `workflow` or `scenario`: which runs to look among.
    pub kind: Kind,
    /// The run: its id, a unique prefix of its id, or a workflow/scenario name (its latest
    /// run). Default: the latest run of the kind.
    #[serde(default)]
    pub run: Option<String>,
    /// The state as of event number `at` (0 is the run's first event): the past, with no
    /// suggested action.
    #[serde(default)]
    pub at: Option<u64>,
}

/// `cortex workflow history` / `cortex orchestrate history`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HistoryArgs {
    /// `workflow` or `scenario`.
    pub kind: Kind,
    /// How many runs to list, newest first (1 to 500, as `history --limit` takes; default 20).
    // Any JSON number, checked as `--limit` is: one past every integer, negative or a
    // fraction gets the range, not serde's "expected usize".
    #[serde(default = "default_limit")]
    #[schemars(with = "usize", range(min = 1, max = 500))]
    pub limit: serde_json::Number,
    /// List the runs older than this run (its id, a unique prefix of it, or a name: its latest
    /// run): the next page, after the last run of a page whose `more` is true.
    #[serde(default)]
    pub before: Option<String>,
}

fn default_limit() -> serde_json::Number {
    20.into()
}

/// `cortex workflow step complete|fail STEP`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StepReportArgs {
    /// The waiting step's name (matched forgivingly).
    pub step: String,
    /// The run: its id, a unique prefix of its id, or a workflow name (its latest run).
    /// Default: the latest workflow run.
    #[serde(default)]
    pub run: Option<String>,
    /// The step's outputs by key, e.g. {"plan": "docs/plan.md"}: later steps see them as
    /// `${{ steps.STEP.outputs.KEY }}`. A step with `validate: - output: KEY` needs that key.
    #[doc = scalars_doc!()]
    #[serde(default)]
    pub outputs: BTreeMap<String, Scalar>,
    /// Only record the report; do not drive the run on (`resume` does it later).
    #[serde(default)]
    pub no_drive: bool,
    #[doc = detach_doc!()]
    #[serde(default)]
    // Read by the server before the call (`server::detached`), not by the operation.
    #[allow(dead_code)]
    pub detach: bool,
    #[doc = report_inputs_doc!()]
    #[doc = scalars_doc!()]
    #[serde(default)]
    pub inputs: BTreeMap<String, Scalar>,
    /// Why, or what was done: recorded with the report and shown by status and the log.
    #[serde(default)]
    #[schemars(length(max = crate::ops::MAX_MESSAGE_CHARS))]
    pub message: Option<String>,
}

/// `cortex workflow step fail STEP`: no outputs (a failed step records none), so the schema
/// of `step_fail` does not offer them and `outputs` given is an unknown field.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StepFailArgs {
    /// The waiting step's name (matched forgivingly).
    pub step: String,
    /// The run: its id, a unique prefix of its id, or a workflow name (its latest run).
    /// Default: the latest workflow run.
    #[serde(default)]
    pub run: Option<String>,
    /// Only record the report; do not drive the run on (`resume` does it later).
    #[serde(default)]
    pub no_drive: bool,
    #[doc = detach_doc!()]
    #[serde(default)]
    // Read by the server before the call (`server::detached`), not by the operation.
    #[allow(dead_code)]
    pub detach: bool,
    /// The values of the run's secret inputs (those the log keeps as `***`), e.g.
    /// {"api_token": "..."}: the drive after the report has them, and this server keeps them
    /// (in memory only) for the run's later calls in this session.
    #[doc = scalars_doc!()]
    #[serde(default)]
    pub inputs: BTreeMap<String, Scalar>,
    /// Why the work could not be done: recorded with the report and shown by status and the
    /// log.
    #[serde(default)]
    #[schemars(length(max = crate::ops::MAX_MESSAGE_CHARS))]
    pub message: Option<String>,
}

/// A failure is a report with no outputs (`tools::report_step`).
impl From<StepFailArgs> for StepReportArgs {
    fn from(a: StepFailArgs) -> Self {
        StepReportArgs {
            step: a.step,
            run: a.run,
            outputs: BTreeMap::new(),
            no_drive: a.no_drive,
            detach: a.detach,
            inputs: a.inputs,
            message: a.message,
        }
    }
}

/// `cortex orchestrate start|fail SCENARIO PHASE`: no outputs (a phase starting or failing has
/// none), so the schemas of `phase_start` and `phase_fail` do not offer them.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PhaseArgs {
    /// A scenario name (its latest run), or a run id or unique prefix of one: of a scenario
    /// run, or of a workflow run this server drives (a detached drive).
    pub scenario: String,
    /// The phase's name (matched forgivingly).
    pub phase: String,
    /// Only record it; do not drive the run on.
    #[serde(default)]
    pub no_drive: bool,
    #[doc = detach_doc!()]
    #[serde(default)]
    // Read by the server before the call (`server::detached`), not by the operation.
    #[allow(dead_code)]
    pub detach: bool,
    /// Why, recorded with the action.
    #[serde(default)]
    #[schemars(length(max = crate::ops::MAX_MESSAGE_CHARS))]
    pub message: Option<String>,
}

/// `cortex orchestrate complete SCENARIO PHASE [--output KEY=VALUE]...`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PhaseCompleteArgs {
    /// A scenario name (its latest run), or a run id or unique prefix of one: of a scenario
    /// run, or of a workflow run this server drives (a detached drive).
    pub scenario: String,
    /// The phase's name (matched forgivingly).
    pub phase: String,
    /// The phase's outputs by key, read by later phases as `${{ phases.PHASE.outputs.KEY }}`.
    #[doc = scalars_doc!()]
    #[serde(default)]
    pub outputs: BTreeMap<String, Scalar>,
    /// Only record it; do not drive the run on.
    #[serde(default)]
    pub no_drive: bool,
    #[doc = detach_doc!()]
    #[serde(default)]
    // Read by the server before the call (`server::detached`), not by the operation.
    #[allow(dead_code)]
    pub detach: bool,
    #[doc = report_inputs_doc!()]
    #[doc = scalars_doc!()]
    #[serde(default)]
    pub inputs: BTreeMap<String, Scalar>,
    /// Why, or what was done: recorded with the report.
    #[serde(default)]
    #[schemars(length(max = crate::ops::MAX_MESSAGE_CHARS))]
    pub message: Option<String>,
}

/// `cortex workflow stop [RUN]` / `cortex orchestrate stop [NAME]`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StopArgs {
    /// The run: its id, a unique prefix of its id, or a workflow/scenario name (its latest
    /// run), of a workflow or a scenario run, whoever drives it (`scenario` is taken as
    /// another name for it). Default: the latest run of `kind`.
    #[serde(default, alias = "scenario")]
    pub run: Option<String>,
    /// `workflow` or `scenario`: the kind of run `run` names (default: either; a name that
    /// both kinds' runs bear needs it or the run's id). Required without `run`.
    #[serde(default)]
    pub kind: Option<Kind>,
    /// Why, recorded with the stop.
    #[serde(default)]
    #[schemars(length(max = crate::ops::MAX_MESSAGE_CHARS))]
    pub message: Option<String>,
}

/// `cortex workflow resume [RUN] [--retry|--skip|--rollback-to STEP|--from STEP]` /
/// `cortex orchestrate resume [NAME] [--retry|--skip|--rollback-to PHASE|--from PHASE]`, both
/// with `--input NAME=VALUE`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResumeArgs {
    /// `workflow` or `scenario`.
    pub kind: Kind,
    /// The run: its id, a unique prefix of its id, or a workflow/scenario name (its latest
    /// run). Default: the latest run of the kind.
    #[serde(default)]
    pub run: Option<String>,
    /// Run the failed step (of a scenario: the failed phases) again with a fresh retry
    /// budget, and go on; refused when none failed.
    #[serde(default)]
    pub retry: bool,
    /// Record the failed (or waiting) step, or the failed phase, as skipped and go on.
    #[serde(default)]
    pub skip: bool,
    /// Compensate the steps completed after this step (of a scenario: the phases completed
    /// after this phase, later in the file), newest first, by their `rollback:` commands;
    /// then go on from there. Needs `enable_rollback`.
    #[serde(default)]
    pub rollback_to: Option<String>,
    /// Re-run this step and everything after it, keeping earlier outputs; of a scenario,
    /// this phase and every phase that depends on it (`after:`, transitively), keeping the
    /// others' outcomes and outputs.
    #[serde(default)]
    pub from: Option<String>,
    /// The values of the run's secret inputs, given again (the log keeps only `***`); this
    /// server keeps them for the run while it runs, so its checks and drives have them.
    #[doc = scalars_doc!()]
    #[serde(default)]
    pub inputs: BTreeMap<String, Scalar>,
    /// Only deliver the notifications (`notify:`) still due because the run's driver died
    /// before delivering them, and do nothing else: a run paused on a failure is not gone on
    /// with (a plain resume of it runs the failed step again). Not with a way to resume or
    /// `timeout`.
    #[serde(default)]
    pub notify_only: bool,
    /// Return what resume would do without doing it.
    #[serde(default)]
    pub dry_run: bool,
    #[doc = detach_doc!()]
    #[serde(default)]
    // Read by the server before the call (`server::detached`), not by the operation.
    #[allow(dead_code)]
    pub detach: bool,
    /// The run's time limit from now on (`2h`, `90m`, seconds; `0`: none; whole seconds)
    /// instead of `timeout_seconds` in cortex.config.json.
    #[serde(default)]
    pub timeout: Option<String>,
    /// Why, recorded with the resume.
    #[serde(default)]
    #[schemars(length(max = crate::ops::MAX_MESSAGE_CHARS))]
    pub message: Option<String>,
}

/// `cortex workflow abort [RUN]` / `cortex orchestrate abort NAME`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AbortArgs {
    /// `workflow` or `scenario`.
    pub kind: Kind,
    /// The run: its id, a unique prefix of its id, or a workflow/scenario name (its
    /// latest run). Default: the latest run of the kind.
    #[serde(default)]
    pub run: Option<String>,
    /// Why, recorded with the abort.
    #[serde(default)]
    #[schemars(length(max = crate::ops::MAX_MESSAGE_CHARS))]
    pub message: Option<String>,
}

/// `cortex log verify [RUN | --file F] [--anchors FILE]`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LogVerifyArgs {
    /// The run to verify: its id, a unique prefix of its id, or a workflow/scenario name (its
    /// latest run). Default: every run.
    #[serde(default)]
    pub run: Option<String>,
    /// Verify this cortex.db instead of the home's (a path; relative to the server's
    /// directory).
    #[serde(default)]
    pub file: Option<PathBuf>,
    /// Also check the heads anchored in this file (`cortex log anchor`): catches a truncated
    /// tail.
    #[serde(default)]
    pub anchors: Option<PathBuf>,
}

/// `cortex logs [RUN] [STEP] [--attempt N] [--tail-bytes N] --json`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LogsArgs {
    /// The run: its id, a unique prefix of its id, or a workflow/scenario name (its latest
    /// run). Default: the latest run of any kind.
    #[serde(default)]
    pub run: Option<String>,
    /// Only this step or phase (matched forgivingly; a `foreach:` step means its items).
    #[serde(default)]
    pub step: Option<String>,
    /// Only this attempt (1, 2, ...; each attempt's number is in `attempts`): e.g. the last,
    /// to read why a step that was retried failed.
    #[serde(default)]
    #[schemars(range(min = 1))]
    pub attempt: Option<u32>,
    /// At most this many bytes of each attempt's output, its last (default 8192, about 2k
    /// tokens; at most 8388608 in all). A cut attempt has truncated, omitted_bytes and `more`
    /// (how to get more of it).
    #[serde(default = "default_tail_bytes")]
    pub tail_bytes: u64,
}

fn default_tail_bytes() -> u64 {
    crate::ops::attempt_logs::DEFAULT_TAIL_BYTES
}

/// `cortex schedule list [--at TIME]`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduleListArgs {
    /// Say when they fire next as if it were this time (RFC 3339, UTC, e.g.
    /// 2026-12-03T10:00:00Z). Default: now.
    #[serde(default)]
    pub at: Option<String>,
}

/// A map of `KEY: value` (inputs, outputs) as the `KEY=VALUE` pairs the operations take: keys
/// trimmed, and refused when blank, as `--input`/`--output` are. A number that is not an
/// integer is taken only for a key `numeric` says is declared a number (or an integer): for
/// any other its text is lost, so it is refused, with how to give it as a string.
pub fn pairs(
    map: BTreeMap<String, Scalar>,
    what: &str,
    numeric: &dyn Fn(&str) -> bool,
) -> Result<Vec<(String, String)>, crate::ops::CommandError> {
    map.into_iter()
        .map(|(k, v)| match (k.trim(), v) {
            ("", _) => Err(
                crate::ops::CommandError::bad_input(format!("`{what}s` has a blank key")).hint(
                    format!("give each {what} its name: {{\"NAME\": \"VALUE\"}}"),
                ),
            ),
            (key, Scalar::Exact(text)) => Ok((key.to_string(), text)),
            (key, Scalar::Float(n)) if numeric(key) => Ok((key.to_string(), n.to_string())),
            (key, Scalar::Float(n)) => {
                let key = crate::definition::shown(key);
                Err(crate::ops::CommandError::bad_input(format!(
                    "{what} `{key}` is the JSON number {n:?}, which is not an integer: as a number its text is lost (1.10 reads as 1.1, 2.0 as 2, 1e2 as 100), and it is not declared a number"
                ))
                .hint(format!(
                    "give it as a JSON string, as it should read: {{\"{key}\": \"1.10\"}} (a whole number may stay a JSON integer)"
                )))
            }
        })
        .collect::<Result<Vec<_>, _>>()
        .and_then(|pairs| {
            // Keys are trimmed: `{"v": 1, " v": 2}` names `v` twice.
            let mut seen = std::collections::BTreeSet::new();
            for (key, _) in &pairs {
                if !seen.insert(key.as_str()) {
                    let key = crate::definition::shown(key);
                    return Err(crate::ops::CommandError::bad_input(format!(
                        "`{what}s` names {what} `{key}` twice (its keys are trimmed): nothing was recorded"
                    ))
                    .hint(format!("give each {what} once: {{\"{key}\": \"...\"}}")));
                }
            }
            Ok(pairs)
        })
}

/// No key is declared a number (outputs, and the secret inputs of a report or a resume,
/// which a string gives whatever their type).
pub fn none_numeric(_: &str) -> bool {
    false
}
