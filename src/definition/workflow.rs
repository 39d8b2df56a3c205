//! The workflow format: the seed's `name`/`description`/`steps` with `prompt`, plus the fields
//! the engine adds (SPEC §3).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::lexical::{Finding, scan, too_deep};
use super::locate::Seg;
use super::{DefinitionError, DurationSpec, Location, MAX_DEFINITION_BYTES, Problem, ScalarString};

/// An ordered list of steps with typed inputs, prerequisites and validation gates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Workflow {
    /// Unique name, e.g. `feature-development`. The name rule of every kind: at most 100
    /// characters, visible ones and plain spaces (no control or format characters), no
    /// surrounding spaces, not starting with `-`; for workflows also no `/`, `\` or `..`.
    #[schemars(
        length(min = 1, max = 100),
        pattern(crate::definition::name::FILE_NAME_PATTERN)
    )]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Typed inputs, checked before anything runs; given with `--input NAME=VALUE`. Names are
    /// letters, digits and `_`, not starting with a digit (they become `CORTEX_INPUT_NAME`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(extend("propertyNames" = {"pattern": "^[A-Za-z_][A-Za-z0-9_]*$", "maxLength": 100}))]
    pub inputs: BTreeMap<String, InputSpec>,
    /// Prerequisites checked before the first step.
    #[serde(default, skip_serializing_if = "Requires::is_empty")]
    pub requires: Requires,
    /// Health checks run before the first step (pre-validation); all must pass.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub health: Vec<Check>,
    /// At least one.
    #[schemars(length(min = 1))]
    pub steps: Vec<Step>,
    /// Post-validation after the last step; all must pass.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub post: Vec<Check>,
    /// Who hears of the run's failure or end: commands and webhooks.
    #[serde(default, skip_serializing_if = "super::Notify::is_empty")]
    pub notify: super::Notify,
    /// When it starts by itself (`cortex schedule run`, `cortex serve`): a cron expression,
    /// or `{cron, overlap, inputs}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<super::Schedule>,
}

/// The type of an input value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum InputType {
    #[default]
    String,
    Integer,
    Number,
    Boolean,
    Path,
}

/// A typed input.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InputSpec {
    #[serde(rename = "type", default)]
    pub kind: InputType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default)]
    pub required: bool,
    /// One scalar, a text, a number or a boolean: a list or a map is refused (quote it to
    /// mean the text).
    #[serde(
        default,
        deserialize_with = "super::finite::json_value",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(with = "Option<ScalarString>")]
    pub default: Option<serde_json::Value>,
    #[serde(
        rename = "enum",
        default,
        deserialize_with = "super::finite::json_values",
        skip_serializing_if = "Option::is_none"
    )]
    pub choices: Option<Vec<serde_json::Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub minimum: Option<super::finite::Bound>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maximum: Option<super::finite::Bound>,
    /// A regular expression the whole value must match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<String>,
    /// For `path` inputs: the path must exist.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exists: Option<bool>,
}

/// Prerequisites of a workflow.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Requires {
    /// Commands that must be on PATH.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub commands: Vec<String>,
    /// Environment variables that must be set.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<String>,
    /// Files that must exist (relative to the working directory).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<String>,
}

impl Requires {
    pub fn is_empty(&self) -> bool {
        self.commands.is_empty() && self.env.is_empty() && self.files.is_empty()
    }
}

/// A validation check: a command that must exit 0, or an output the step must have produced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Check {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<String>,
    /// An output key: letters, digits, `_` and `-`, at most 100 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[A-Za-z0-9_-]+$"), length(min = 1, max = 100))]
    pub output: Option<String>,
}

/// What happens when a step's retries are exhausted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OnFailure {
    /// Leave the run `failed` and resumable.
    #[default]
    Pause,
    /// Compensate the completed steps newest first, then end `rolled_back`.
    Rollback,
    /// Record the skip and go on.
    Skip,
    /// End the run `aborted`.
    Abort,
}

/// Retry policy of a step; unset fields take the configuration's values.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RetrySpec {
    /// Retries after the first attempt, from 0 to 100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(max = 100))]
    pub max_retry_attempts: Option<u32>,
    /// Delay before the first retry, from 0 to 1 day; it doubles for each further retry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<super::duration::BackoffSchema>")]
    pub backoff: Option<DurationSpec>,
    /// Retry only on these exit codes, each from 1 to 255 (default: any failure).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(inner(range(min = 1, max = 255)))]
    pub on_exit_codes: Vec<i32>,
}

/// One step of a workflow.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// Unique in the workflow. The name rule of every kind (as `name` above), and no `.` or `}`:
    /// templates refer to steps by name.
    #[schemars(
        length(min = 1, max = 100),
        pattern(crate::definition::name::STEP_NAME_PATTERN)
    )]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Work for an agent or a person. With no `run` and no agent command, the step is external.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
    /// An agent whose `command` receives the prompt on stdin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    /// A shell command the engine runs itself (`sh -c`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, ScalarString>,
    /// Names of environment variables whose values must never reach the log.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secret_env: Vec<String>,
    /// Directory to run in, relative to the run's working directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    /// Time limit of one attempt, from 1 ms to 30 days (default: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<super::duration::TimeoutSchema>")]
    pub timeout: Option<DurationSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<RetrySpec>,
    /// Compensation, run on rollback if this step completed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback: Option<String>,
    /// Inter-step validation gate: all must pass for the step to complete.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub validate: Vec<Check>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_failure: Option<OnFailure>,
    /// With `checkpoint_frequency: manual`, completing this step makes a checkpoint.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub checkpoint: bool,
    /// Leave what the step started in the background (`cmd &`) running when it ends. By
    /// default the step's process group is ended with it (TERM, then KILL after a grace).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub keep_background: bool,
    /// Run the step only when this holds: an expression over inputs and earlier outputs
    /// (`inputs.env == 'prod' && steps.build.outputs.changed != 'false'`), or a command's exit
    /// status (`{run: "test -f x"}`). Checked once, before the first attempt; a false condition
    /// records the step as skipped with the expression and the values it saw.
    #[serde(rename = "if", default, skip_serializing_if = "Option::is_none")]
    pub if_: Option<super::IfCondition>,
    /// Run the step once per item: a list (`[eu, us]`) or a template naming an output that
    /// holds a JSON list (`"${{ steps.list.outputs.items }}"`). Each item is its own unit
    /// `NAME[i]` with its own attempts and outputs, and sees `${{ item }}` and `CORTEX_ITEM`;
    /// the step's outputs are then JSON lists of the items' values, in item order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub foreach: Option<super::Foreach>,
    /// Run another workflow (a name or a path, as `workflow run` finds it) as a child run;
    /// its outputs become the step's outputs. Excludes `run`, `prompt`, `agent`, `env`,
    /// `secret_env`, `timeout` and `keep_background`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uses: Option<String>,
    /// The inputs of the workflow named by `uses:` (values may use templates).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub with: BTreeMap<String, ScalarString>,
    /// Only workers with all of these tags (`cortex worker --tags`) run the step: a run with
    /// such a step is driven by such a worker.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 16))]
    pub runs_on: Vec<super::WorkerTag>,
}

impl Step {
    /// The texts whose templates are resolved to run the step: its `run`, its `env:` values,
    /// its `with:` values (a `uses:` step) and its `working_dir`.
    pub fn run_texts(&self) -> impl Iterator<Item = &str> {
        self.run
            .as_deref()
            .into_iter()
            .chain(self.env.values().map(|v| v.0.as_str()))
            .chain(self.with.values().map(|v| v.0.as_str()))
            .chain(self.working_dir.as_deref())
    }

    /// The gate commands of its `validate:` (`- run:`), which the engine runs after an
    /// attempt (or a report) with the run's values.
    pub fn gate_texts(&self) -> impl Iterator<Item = &str> {
        self.validate.iter().filter_map(|c| c.run.as_deref())
    }

    /// Every text of the step whose `${{ }}` templates are resolved against the run: its
    /// `run_texts`, its `if: {run: ...}` command, its `validate: - run:` gates, its `foreach:`
    /// template and its `rollback`. (An `if:` expression names values without `${{ }}`: it
    /// is read apart, `definition::expr::references`.)
    pub fn template_texts(&self) -> impl Iterator<Item = &str> {
        let if_run = match &self.if_ {
            Some(super::IfCondition::Command(c)) => Some(c.run.as_str()),
            _ => None,
        };
        let foreach = match &self.foreach {
            Some(super::Foreach::Template(t)) => Some(t.as_str()),
            _ => None,
        };
        self.run_texts()
            .chain(if_run)
            .chain(self.gate_texts())
            .chain(foreach)
            .chain(self.rollback.as_deref())
    }

    /// The outputs (unit, key) the step reads anywhere: in the templates of its
    /// `template_texts` and in its `if:` expression, in order.
    pub fn output_reads(&self) -> Vec<(String, String)> {
        use super::template::{Reference, scan};
        let mut reads: Vec<Reference> = self
            .template_texts()
            .flat_map(scan)
            .filter_map(|o| o.reference.ok())
            .collect();
        if let Some(super::IfCondition::Expression(text)) = &self.if_
            && let Ok(expr) = super::expr::parse(text)
        {
            reads.extend(
                super::expr::references(&expr)
                    .into_iter()
                    .map(|(r, _)| r.clone()),
            );
        }
        reads
            .into_iter()
            .filter_map(|r| match r {
                Reference::StepOutput { step, key } => Some((step, key)),
                _ => None,
            })
            .collect()
    }
}

impl Workflow {
    pub fn step_index(&self, name: &str) -> Option<usize> {
        self.steps.iter().position(|s| s.name == name)
    }

    /// The output keys of step (or phase) `unit` that the definition reads as the step's own
    /// (`steps.UNIT.outputs.KEY`, not one item's `steps.UNIT[0].outputs.KEY`): in any step's
    /// templates and `if:` (`Step::output_reads`), and in its post-validation checks. A
    /// `foreach:` step with no items records `[]` for each (the list of its items' values),
    /// since no item says which keys it has.
    pub fn output_keys_read(&self, unit: &str) -> std::collections::BTreeSet<String> {
        use super::template::{Reference, scan};
        let post = self
            .post
            .iter()
            .filter_map(|c| c.run.as_deref())
            .flat_map(scan)
            .filter_map(|o| match o.reference {
                Ok(Reference::StepOutput { step, key }) => Some((step, key)),
                _ => None,
            });
        self.steps
            .iter()
            .flat_map(Step::output_reads)
            .chain(post)
            .filter(|(step, _)| step == unit)
            .map(|(_, key)| key)
            .collect()
    }
}

/// Strip serde_yaml's " at line L column C" suffix: the location is reported separately.
pub(crate) fn yaml_message(e: &serde_yaml::Error) -> String {
    let text = e.to_string();
    match text.rfind(" at line ") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

pub(crate) fn yaml_location(e: &serde_yaml::Error) -> Option<Location> {
    e.location().map(|l| Location {
        line: l.line(),
        column: l.column(),
    })
}

/// Refuse text no definition should contain before handing it to a parser, each at its place:
/// too large, NUL bytes, flow nesting the parser would take too long over, and in YAML control
/// characters and what `before_parsing` finds (tags, a second document, aliases that expand
/// too far).
pub(crate) fn precheck(path: &str, text: &str, yaml: bool) -> Result<(), DefinitionError> {
    let fail = |problem: Problem| DefinitionError {
        path: path.to_string(),
        text: text.to_string(),
        problems: vec![problem],
    };
    if text.len() > MAX_DEFINITION_BYTES {
        // (A file read from disk is refused by `read_definition` before it is read whole.)
        return Err(DefinitionError {
            text: String::new(),
            ..fail(
                Problem::new(
                    format!(
                        "the file is {} bytes; definitions are limited to {} bytes (1 MiB)",
                        text.len(),
                        MAX_DEFINITION_BYTES
                    ),
                    Some(Location::of_byte(text.as_bytes(), MAX_DEFINITION_BYTES)),
                )
                .with_hint("no definition needs that much: it is cut off at this place; data a step needs belongs in a file the step reads"),
            )
        });
    }
    if let Some(i) = text.find('\0') {
        return Err(fail(
            Problem::new(
                "the file contains a NUL byte; definitions are text",
                Some(Location::of_byte(text.as_bytes(), i)),
            )
            .with_hint("remove it; a file full of them is binary, or UTF-16 text: save it as UTF-8")
            .with_width(Some(1)),
        ));
    }
    let problem = if yaml {
        control_character(text).or_else(|| before_parsing(text, 0))
    } else {
        match scan(text, false) {
            Some(Finding::TooDeep(at)) => Some(too_deep(at)),
            _ => None,
        }
    };
    match problem {
        Some(problem) => Err(DefinitionError {
            path: path.to_string(),
            text: text.to_string(),
            problems: vec![problem],
        }),
        None => Ok(()),
    }
}

/// The first problem of YAML `text` found before serde_yaml reads it, in the order they are
/// looked for: a tag written or flow nesting too deep (the lexical scan), then on the parser's
/// events a second document or aliases that expand too far (`document`), then a tag serde_yaml
/// keeps (found by walking serde_yaml, which expands every alias: so only once they are
/// bounded). `line_offset` is added to every line (front matter starts on the file's second).
pub(crate) fn before_parsing(text: &str, line_offset: usize) -> Option<Problem> {
    super::tags::written_tag(text, line_offset)
        .or_else(|| super::document::problem(text, line_offset))
        .or_else(|| super::tags::kept_tag(text, line_offset))
}

/// The first character YAML does not allow raw in a file (a C0 control other than tab, line
/// feed and carriage return, DEL, a C1 control other than NEL), located at its line and
/// column: the YAML parser says only "at position N", which has no line to show.
fn control_character(text: &str) -> Option<Problem> {
    let (at, c) = text.char_indices().find(|&(_, c)| {
        (c.is_control() && !matches!(c, '\t' | '\n' | '\r' | '\u{85}')) || c == '\u{7f}'
    })?;
    Some(Problem::new(
        format!(
            "the file holds the control character U+{:04X}, which YAML does not allow in a file; remove it (in a double-quoted string, write it as an escape such as `\\e` or `\\x1b` if the text must hold it)",
            c as u32
        ),
        Some(Location::of_byte(text.as_bytes(), at)),
    )
    .with_width(Some(1)))
}

/// Parse a YAML definition into `T`, strictly, with the error's location: every key it does
/// not know is a problem (all of them, not only the first).
pub(crate) fn parse_yaml<T: serde::de::DeserializeOwned>(
    path: &str,
    text: &str,
) -> Result<T, DefinitionError> {
    let text = super::without_bom(text);
    match parse_yaml_setting_aside(path, text)? {
        (t, unknown) if unknown.is_empty() => Ok(t),
        (_, unknown) => Err(DefinitionError {
            path: path.to_string(),
            text: text.to_string(),
            problems: unknown,
        }),
    }
}

/// The most unknown keys set aside in one file before giving up (each costs a parse).
const MAX_SET_ASIDE: usize = 64;

/// Parse a YAML definition into `T`, setting aside the keys it does not know: the definition
/// without them, and a problem for each (located, with the known key it most looks like), so
/// that a validation of the rest can report its problems beside them — a misspelled key does
/// not hide a duplicate name or a bad duration elsewhere in the file. Any other error of
/// syntax or type ends it, with the unknown keys found before it.
pub(crate) fn parse_yaml_setting_aside<T: serde::de::DeserializeOwned>(
    path: &str,
    text: &str,
) -> Result<(T, Vec<Problem>), DefinitionError> {
    let text = super::without_bom(text);
    precheck(path, text, true)?;
    // A key given again in a user-named mapping (`env:`, `inputs:`, `with:`) parses (the
    // last one wins), so each is reported whatever else the file holds.
    let first = match serde_yaml::from_str::<T>(text) {
        Ok(t) => return Ok((t, duplicate_problems(text))),
        Err(e) => e,
    };
    let problem = |message: String, at: Option<Location>| {
        let (message, forms) = split_forms(&message);
        let mut problem = Problem::new(message.clone(), at);
        let hint = [
            unknown_field_suggestion(&message).map(|best| format!("did you mean `{best}`?")),
            forms,
            with_type_hint(&message),
        ];
        let hint: Vec<String> = hint.into_iter().flatten().collect();
        if !hint.is_empty() {
            problem = problem.with_hint(hint.join(" "));
        }
        problem
    };
    // The problems of a file in the order of the file (those without a place last).
    let fail = |mut problems: Vec<Problem>| {
        problems.sort_by_key(|p| (p.at.is_none(), p.at));
        DefinitionError {
            path: path.to_string(),
            text: text.to_string(),
            problems,
        }
    };
    // A key unknown to a list item's own reader is named at the item (`success_criteria[1]`).
    let at_item = |message: String| match unknown_field_path(&message) {
        Some(key) => {
            let item = item_key(text, key.clone());
            match message.split_once(": unknown field `") {
                Some((_, rest)) if item != key => {
                    format!(
                        "{}: unknown field `{rest}",
                        path_text(&item[..item.len() - 1])
                    )
                }
                _ => message,
            }
        }
        None => message,
    };
    let first_message = yaml_message(&first);
    let first_message = at_item(first_message);
    // A key given twice is reported where it is given again, each of them (serde says only
    // the first, at its mapping's start), beside the file's other problems: the rest is read
    // with the last of them.
    let duplicates = duplicate_problems(text);
    let said_by_duplicates = |message: &str| message.contains("duplicate field `");
    let first_problem = || {
        missing_field_problem(text, &first_message, &[]).unwrap_or_else(|| {
            problem(
                first_message.clone(),
                field_location(text, &first_message).or_else(|| yaml_location(&first)),
            )
        })
    };
    let with_duplicates = |mut problems: Vec<Problem>| {
        problems.extend(duplicates.iter().cloned());
        problems
    };
    let mut value = match serde_yaml::from_str::<LooseValue>(text) {
        Ok(LooseValue(value)) => value,
        // The text does not parse past some place: that error, and the keys given twice
        // before it (serde's first error, when it named one of them, says no more than they
        // do, and at its mapping's start).
        Err(e) => {
            let problems = match said_by_duplicates(&first_message) && !duplicates.is_empty() {
                true => vec![problem(yaml_message(&e), yaml_location(&e))],
                false => vec![first_problem()],
            };
            return Err(fail(with_duplicates(problems)));
        }
    };
    // Neither an unknown key, a bad item of a list, a value of the wrong type nor a key given
    // twice: nothing to set aside.
    if unknown_field_path(&first_message).is_none()
        && item_path(&first_message).is_none()
        && mistyped_field_path(&first_message).is_none()
        && !said_by_duplicates(&first_message)
    {
        return Err(fail(with_duplicates(vec![first_problem()])));
    }
    let mut problems: Vec<Problem> = Vec::new();
    // The unknown keys set aside: where each is, and the known key it looks like.
    let mut unknown: Vec<(Vec<super::Seg>, Option<String>)> = Vec::new();
    // The bad items of lists set aside (replaced by a command that is no problem).
    let mut items: Vec<Vec<super::Seg>> = Vec::new();
    // The keys whose values are of the wrong type, set aside (removed: the key's default).
    let mut mistyped: Vec<Vec<super::Seg>> = Vec::new();
    let mut message = first_message.clone();
    let mut is_first = true;
    for _ in 0..MAX_SET_ASIDE {
        match unknown_field_path(&message) {
            Some(key) => {
                // At the key itself: serde_yaml's own place is the mapping's start when a
                // field's own deserializer refused it (`if: {run: ..., timout: 5s}`).
                let at = match is_first {
                    true => field_location(text, &message)
                        .or_else(|| super::locate::locate_key(text, &key))
                        .or_else(|| yaml_location(&first)),
                    false => super::locate::locate_key(text, &key),
                };
                problems.push(problem(message.clone(), at));
                unknown.push((key.clone(), unknown_field_suggestion(&message)));
                if !remove_key(&mut value, &key) {
                    break;
                }
            }
            None => {
                match missing_field(&message) {
                    // A required key set aside for its type: its problem says it all, and
                    // nothing more can be read without it.
                    Some((at, field))
                        if mistyped.iter().any(|k| {
                            k.split_last().is_some_and(|(last, parent)| {
                                parent == at.as_slice()
                                    && matches!(last, super::Seg::Key(k) if *k == field)
                            })
                        }) =>
                    {
                        break;
                    }
                    // A key set aside beside it looks like it (`nam:` for `name:`): its
                    // problem, located and with the did-you-mean, says it all.
                    Some((at, field))
                        if unknown.iter().any(|(k, like)| {
                            // (or of an item of the list `at` names: a criterion's)
                            k.split_last().is_some_and(|(_, parent)| {
                                parent == at.as_slice()
                                    || parent.split_last().is_some_and(|(last, list)| {
                                        matches!(last, super::Seg::Index(_))
                                            && list == at.as_slice()
                                    })
                            }) && like.as_deref() == Some(field.as_str())
                        }) => {}
                    // (read again with the last of them, below)
                    _ if is_first && said_by_duplicates(&message) => {
                        is_first = false;
                        match serde_yaml::to_string(&value)
                            .ok()
                            .map(|rest| serde_yaml::from_str::<T>(&rest))
                        {
                            Some(Ok(t)) => return Ok((t, with_duplicates(problems))),
                            Some(Err(e)) => message = at_item(yaml_message(&e)),
                            None => break,
                        }
                        continue;
                    }
                    _ if is_first => problems.push(first_problem()),
                    // Any other error, found in the text re-written without the keys set
                    // aside: its place there is not its place in the file, so it is placed
                    // in the file by the path its message names (`steps[1].on_failure`).
                    _ => problems.push(
                        missing_field_problem(text, &message, &unknown).unwrap_or_else(|| {
                            let at = field_location(text, &message)
                                .or_else(|| message_location(text, &message));
                            problem(message.clone(), at)
                        }),
                    ),
                }
                // A bad item of a list (`run[3]`, `success_criteria[1]`) is set aside too,
                // so that it does not hide the rest of the file's problems: replaced by a
                // string, which such a list holds. So is a value of the wrong type
                // (`parallel: maybe`): its key removed, the rest is read with its default.
                // Before, such a value hid every other problem (an unknown `after:` phase, a
                // cycle) until it was fixed. A key that cannot go (a required one: its
                // absence is the next error) ends the setting aside.
                match item_path(&message) {
                    Some(item)
                        if !items.contains(&item)
                            && replace_item(&mut value, &item, "true".into()) =>
                    {
                        items.push(item)
                    }
                    _ => match mistyped_field_path(&message) {
                        Some(key) if !mistyped.contains(&key) && remove_key(&mut value, &key) => {
                            mistyped.push(key)
                        }
                        _ => break,
                    },
                }
            }
        }
        is_first = false;
        let Ok(rest) = serde_yaml::to_string(&value) else {
            break;
        };
        let error = match serde_yaml::from_str::<T>(&rest) {
            // The rest, validated, is reported beside these (never run: they are problems).
            Ok(t) => {
                if problems.is_empty() && duplicates.is_empty() {
                    // (every problem was one said by another: say the first)
                    problems.push(first_problem());
                }
                let mut problems = with_duplicates(problems);
                problems.sort_by_key(|p| (p.at.is_none(), p.at));
                return Ok((t, problems));
            }
            Err(e) => e,
        };
        // Found in the text without the keys set aside: placed in the file by its path.
        message = at_item(yaml_message(&error));
    }
    Err(fail(with_duplicates(problems)))
}

/// A YAML document as a `Value`, a key given twice read with its last value (a `Value`
/// refuses it): the duplicates are reported by themselves.
struct LooseValue(serde_yaml::Value);

impl<'de> serde::Deserialize<'de> for LooseValue {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::{self, Visitor};
        use serde_yaml::Value;
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = LooseValue;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("any YAML node")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<LooseValue, E> {
                Ok(LooseValue(Value::Bool(v)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<LooseValue, E> {
                Ok(LooseValue(Value::Number(v.into())))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<LooseValue, E> {
                Ok(LooseValue(Value::Number(v.into())))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<LooseValue, E> {
                Ok(LooseValue(Value::Number(v.into())))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<LooseValue, E> {
                Ok(LooseValue(Value::String(v.to_string())))
            }
            fn visit_unit<E: de::Error>(self) -> Result<LooseValue, E> {
                Ok(LooseValue(Value::Null))
            }
            fn visit_none<E: de::Error>(self) -> Result<LooseValue, E> {
                Ok(LooseValue(Value::Null))
            }
            fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<LooseValue, D::Error> {
                LooseValue::deserialize(d)
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<LooseValue, A::Error> {
                let mut items = Vec::new();
                while let Some(LooseValue(v)) = seq.next_element()? {
                    items.push(v);
                }
                Ok(LooseValue(Value::Sequence(items)))
            }
            fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<LooseValue, A::Error> {
                let mut out = serde_yaml::Mapping::new();
                while let Some((LooseValue(k), LooseValue(v))) = map.next_entry()? {
                    out.insert(k, v);
                }
                Ok(LooseValue(Value::Mapping(out)))
            }
        }
        d.deserialize_any(V)
    }
}

/// For "PATH.KEY: invalid type: …", "PATH.KEY: invalid value: …" or "PATH.KEY: unknown
/// variant …" (a value of the wrong type or form under a known key): the path of that key. None where the path ends in a list's
/// item (`item_path`'s) or names no key.
fn mistyped_field_path(message: &str) -> Option<Vec<super::Seg>> {
    let (path, rest) = message.split_once(": ")?;
    if !(rest.starts_with("invalid type: ")
        || rest.starts_with("invalid value: ")
        || rest.starts_with("unknown variant `"))
        || path.contains(char::is_whitespace)
    {
        return None;
    }
    let segs = super::locate::serde_path(path)?;
    matches!(segs.last(), Some(super::Seg::Key(_))).then_some(segs)
}

/// For "PATH: unknown field `X`, expected ...": the path of key `X` (its mapping's path, then
/// `X`).
fn unknown_field_path(message: &str) -> Option<Vec<super::Seg>> {
    let (path, field) = match message.split_once(": unknown field `") {
        Some((path, rest)) => (path, rest),
        None => ("", message.strip_prefix("unknown field `")?),
    };
    let field = field.split('`').next()?;
    // A field's own deserializer may name itself after the path (`steps[1]: if`).
    let path = path.replace(": ", ".");
    let mut segs = super::locate::serde_path(&path)?;
    segs.push(super::Seg::Key(field.to_string()));
    Some(segs)
}

/// How to write what a `uses:` step's `with:` holds, for a message saying it is of the wrong
/// type (`steps[3].with.version: invalid type: map, ...`, `steps[6].with: invalid type:
/// sequence, expected a map`): serde's words alone do not say what `with:` takes.
fn with_type_hint(message: &str) -> Option<String> {
    let (path, rest) = message.split_once(": ")?;
    if !rest.starts_with("invalid type: ") {
        return None;
    }
    let segs = super::locate::serde_path(path)?;
    match segs.as_slice() {
        [.., super::Seg::Key(with)] if with == "with" => Some(
            "write `with:` as a mapping of the child workflow's input names to values, e.g. `with: {version: \"1.2.3\"}`".to_string(),
        ),
        [.., super::Seg::Key(with), super::Seg::Key(input)] if with == "with" => Some(format!(
            "give `{input}` one string, number or boolean (a `${{{{ }}}}` template included): inputs are strings, integers, numbers, booleans or paths; quote text that starts with `{{` or `[`"
        )),
        _ => None,
    }
}

/// A problem for each key given again in a mapping of `text`, at the key.
pub(crate) fn duplicate_problems(text: &str) -> Vec<Problem> {
    super::locate::duplicate_keys(text)
        .into_iter()
        .map(|d| {
            let message = match d.path.is_empty() {
                true => format!("duplicate key `{}`", d.key),
                false => format!("{}: duplicate key `{}`", path_text(&d.path), d.key),
            };
            let first = match d.first {
                Some(at) => format!(" (first at line {}, column {})", at.line, at.column),
                None => String::new(),
            };
            Problem::new(message, d.at)
                .with_hint(format!(
                    "`{}` is given more than once in this mapping{first}; a key is given once: remove one, or merge them",
                    d.key
                ))
                .with_width(Some(d.key.chars().count()))
        })
        .collect()
}

/// A message of a field's own reader may say, after `; `, what the field may be
/// (`unknown field `chek`, expected `check`; A criterion is ...`): that part is a hint.
fn split_forms(message: &str) -> (String, Option<String>) {
    match message.split_once("; ") {
        Some((m, forms)) if m.contains(" field `") => (m.to_string(), Some(forms.to_string())),
        _ => (message.to_string(), None),
    }
}

/// A path as serde_yaml writes it in a message: `phases[0].success_criteria[1]`.
fn path_text(path: &[super::Seg]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            super::Seg::Key(k) if out.is_empty() => out.push_str(k),
            super::Seg::Key(k) => {
                out.push('.');
                out.push_str(k);
            }
            super::Seg::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

/// The path of an unknown key found by a list item's own reader (a success criterion's
/// `{chek: ...}`), whose message names the list but not the item: the first item of the list
/// that has the key. Any other path is kept.
fn item_key(text: &str, path: Vec<super::Seg>) -> Vec<super::Seg> {
    if super::locate::locate_key(text, &path).is_some() {
        return path;
    }
    let Some((last, list)) = path.split_last() else {
        return path;
    };
    let Some(items) = serde_yaml::from_str::<serde_yaml::Value>(text)
        .ok()
        .and_then(|v| {
            let mut at = &v;
            for seg in list {
                at = match seg {
                    super::Seg::Key(k) => at.get(k.as_str())?,
                    super::Seg::Index(i) => at.get(*i)?,
                };
            }
            at.as_sequence().map(Vec::len)
        })
    else {
        return path;
    };
    (0..items)
        .map(|i| [list, &[super::Seg::Index(i), last.clone()]].concat())
        .find(|p| super::locate::locate_key(text, p).is_some())
        .unwrap_or(path)
}

/// For "PATH: missing field `X`" (or "missing field `X`" at the top): the path of the mapping
/// that lacks it, and `X`.
fn missing_field(message: &str) -> Option<(Vec<super::Seg>, String)> {
    let (path, field) = match message.split_once(": missing field `") {
        Some((path, rest)) => (path, rest),
        None => ("", message.strip_prefix("missing field `")?),
    };
    let field = field.split('`').next()?.to_string();
    // The mapping's path is the path of a key in it, less that key.
    let mut segs = unknown_field_path(&format!("{path}: unknown field `{field}`"))?;
    segs.pop();
    Some((segs, field))
}

/// A located problem for a missing field: at the mapping that lacks it (the file's start for a
/// top-level key), saying to add it, or which key set aside (`unknown`) may be it misspelled.
fn missing_field_problem(
    text: &str,
    message: &str,
    unknown: &[(Vec<super::Seg>, Option<String>)],
) -> Option<Problem> {
    let (message, forms) = split_forms(message);
    let message = message.as_str();
    let (at, field) = missing_field(message)?;
    // Worded as `validate` words a field the user schema requires (the seed's "Missing
    // required field: description"), the same for both kinds, its path in full.
    let within = message
        .split_once(": missing field `")
        .map_or("", |(path, _)| path);
    let named = match within {
        "" => field.clone(),
        path => format!("{path}.{field}"),
    };
    let location = if at.is_empty() {
        super::locate::locate(text, &at).or(Some(Location { line: 1, column: 1 }))
    } else {
        super::locate::locate(text, &at)
    };
    let misspelled = unknown.iter().find_map(|(k, _)| {
        let (last, parent) = k.split_last()?;
        match last {
            super::Seg::Key(key) if parent == at.as_slice() => Some(key.clone()),
            _ => None,
        }
    });
    let hint = match misspelled {
        Some(key) => format!("add `{field}:` (is `{key}:` meant to be `{field}:`?)"),
        None => format!("add `{field}:` here"),
    };
    let hint = match forms {
        Some(forms) => format!("{hint}. {forms}"),
        None => hint,
    };
    Some(Problem::new(format!("Missing required field: {named}"), location).with_hint(hint))
}

/// For "PATH: ..." whose path ends with an item of a list of strings (`phases[0].run[3]:
/// invalid type`, `phases[0].success_criteria[1]: missing field`): that path.
fn item_path(message: &str) -> Option<Vec<super::Seg>> {
    let (path, _) = message.split_once(": ")?;
    if !path.ends_with(']') || path.contains(char::is_whitespace) {
        return None;
    }
    let segs = super::locate::serde_path(path)?;
    // Only lists whose items may be a string, the item set aside's stand-in.
    match segs.as_slice() {
        [.., super::Seg::Key(list), super::Seg::Index(_)]
            if matches!(list.as_str(), "run" | "success_criteria") =>
        {
            Some(segs)
        }
        _ => None,
    }
}

/// Replace the node at `path` in `value` by `with`; false if it is not there.
fn replace_item(
    value: &mut serde_yaml::Value,
    path: &[super::Seg],
    with: serde_yaml::Value,
) -> bool {
    let mut at = value;
    for seg in path {
        let next = match seg {
            super::Seg::Key(k) => at.get_mut(k.as_str()),
            super::Seg::Index(i) => at.get_mut(*i),
        };
        match next {
            Some(v) => at = v,
            None => return false,
        }
    }
    *at = with;
    true
}

/// Remove the key at `path` from `value`; false if it is not there.
fn remove_key(value: &mut serde_yaml::Value, path: &[super::Seg]) -> bool {
    let Some((last, parents)) = path.split_last() else {
        return false;
    };
    let mut at = value;
    for seg in parents {
        let next = match seg {
            super::Seg::Key(k) => at.get_mut(k.as_str()),
            super::Seg::Index(i) => at.get_mut(*i),
        };
        match next {
            Some(v) => at = v,
            None => return false,
        }
    }
    match (last, at.as_mapping_mut()) {
        (super::Seg::Key(k), Some(map)) => map.remove(k.as_str()).is_some(),
        _ => false,
    }
}

/// For serde's "unknown field `X`, expected one of `a`, `b`": the known field closest to `X`.
fn unknown_field_suggestion(message: &str) -> Option<String> {
    let rest = message.split("unknown field `").nth(1)?;
    let (field, rest) = rest.split_once('`')?;
    // "expected one of `a`, `b`", or "expected `a`" when there is one.
    let expected = match rest.split_once("expected one of ") {
        Some((_, known)) => known,
        None => rest.split_once("expected ")?.1.split(';').next()?,
    };
    let known: Vec<&str> = expected
        .split(", ")
        .filter_map(|k| k.trim().strip_prefix('`')?.strip_suffix('`'))
        .collect();
    super::catalog_suggest(field, known.into_iter())
        .first()
        .map(|s| s.to_string())
}

/// serde_yaml places an error of a field's own reader (`foreach`, `if`: a shape they refuse)
/// at the mapping around it; the message says the path (`steps[5]: `) and the field, so the
/// field itself can be found.
fn field_location(text: &str, message: &str) -> Option<Location> {
    let (path, rest) = message.split_once(": ")?;
    let field = rest.strip_prefix('`')?.split('`').next()?;
    if !matches!(field, "foreach" | "if" | "run") {
        return None;
    }
    let mut segs = Vec::new();
    for part in path.split('.') {
        let (key, index) = match part.split_once('[') {
            Some((key, i)) => (key, Some(i.strip_suffix(']')?.parse::<usize>().ok()?)),
            None => (part, None),
        };
        segs.push(super::Seg::Key(key.to_string()));
        if let Some(i) = index {
            segs.push(super::Seg::Index(i));
        }
    }
    segs.push(super::Seg::Key(field.to_string()));
    super::locate(text, &segs)
}

/// The place in `text` of the node a serde_yaml message names by its path
/// (`steps[1].on_failure: unknown variant ...`): where the same error is placed when serde_yaml
/// reads the file itself.
fn message_location(text: &str, message: &str) -> Option<Location> {
    let (path, _) = message.split_once(": ")?;
    let mut segs = Vec::new();
    for part in path.split('.') {
        let (key, indices) = match part.split_once('[') {
            Some((key, rest)) => (key, Some(rest)),
            None => (part, None),
        };
        if key.is_empty() || key.contains(char::is_whitespace) {
            return None;
        }
        segs.push(super::Seg::Key(key.to_string()));
        if let Some(indices) = indices {
            for i in indices.split('[') {
                segs.push(super::Seg::Index(i.strip_suffix(']')?.parse().ok()?));
            }
        }
    }
    super::locate(text, &segs)
}

/// For a file read as a `kind` ("workflow" or "scenario") that is the other kind — a
/// scenario has `phases:` and no `steps:`, a workflow the reverse —: one problem saying so,
/// at the key that tells, whose hint is `commands` (how to validate and run it as what it
/// is, written by the caller, which knows how it was asked for).
pub fn wrong_kind(path: &str, text: &str, kind: &str, commands: &str) -> Option<DefinitionError> {
    let text = super::without_bom(text);
    // Text the parser should not be given (nesting it takes the square of its depth over,
    // tags) is refused by the definition's own parse, with its place.
    precheck(path, text, true).ok()?;
    let value: serde_yaml::Value = serde_yaml::from_str(text).ok()?;
    let map = value.as_mapping()?;
    let (key, other) = match kind {
        "workflow" => ("phases", "scenario"),
        _ => ("steps", "workflow"),
    };
    let theirs = if kind == "workflow" {
        "steps"
    } else {
        "phases"
    };
    if !map.contains_key(key) || map.contains_key(theirs) {
        return None;
    }
    let at = super::locate::locate_key(text, &[super::Seg::Key(key.to_string())]);
    Some(DefinitionError {
        path: path.to_string(),
        text: text.to_string(),
        problems: vec![
            Problem::new(
                format!("this is a {other}, not a {kind}: it has `{key}:` where a {kind} has `{theirs}:`"),
                at,
            )
            .with_hint(commands.to_string()),
        ],
    })
}

/// Parse a workflow definition. Only syntax and types are checked here; see
/// `validate::workflow` for names, references and values.
pub fn parse_workflow(path: &str, text: &str) -> Result<Workflow, DefinitionError> {
    let mut wf: Workflow = parse_yaml(path, text)?;
    as_written(&mut wf, text);
    Ok(wf)
}

/// A workflow's text values as `text` writes them: its steps' `env:` and `with:`, its
/// schedule's `inputs:`, its text inputs' defaults (`scalar::keep_written`).
fn as_written(wf: &mut Workflow, text: &str) {
    keep_written(&mut wf.inputs, &mut wf.schedule, text);
    for (i, step) in wf.steps.iter_mut().enumerate() {
        keep_written_map(text, &["steps".into(), i.into()], "env", &mut step.env);
        keep_written_map(text, &["steps".into(), i.into()], "with", &mut step.with);
    }
}

impl Workflow {
    /// The warnings for its `foreach:` lists' items read as numbers not as written
    /// (`scalar::items_not_as_written`), `text` being the file it was read from.
    pub fn items_not_as_written(&self, file: &str, text: &str) -> Vec<String> {
        let lists: Vec<_> = self
            .steps
            .iter()
            .enumerate()
            .filter_map(|(i, s)| match &s.foreach {
                Some(super::Foreach::Items(items)) => Some((
                    format!("the `foreach:` of step `{}`", super::shown(&s.name)),
                    vec!["steps".into(), i.into(), "foreach".into()],
                    items.as_slice(),
                )),
                _ => None,
            })
            .collect();
        super::items_not_as_written(file, text, &lists)
    }
}

/// Each value of `map` (at `at`.`key` in `text`) as written, not as YAML types it.
pub(crate) fn keep_written_map(
    text: &str,
    at: &[Seg],
    key: &str,
    map: &mut BTreeMap<String, ScalarString>,
) {
    let values = map
        .iter_mut()
        .map(|(k, v)| {
            let mut path = at.to_vec();
            path.push(key.into());
            path.push(k.as_str().into());
            (path, v)
        })
        .collect();
    super::scalar::keep_written(text, values);
}

/// A definition's inputs and schedule as written: a `type: string` (or `path`) input's
/// `default: 1.10` (or `enum: [1.10]`) is the text `1.10`, not the number 1.1 written
/// back as `1.1`; the schedule's `inputs:` values are kept as written.
pub(crate) fn keep_written(
    inputs: &mut BTreeMap<String, InputSpec>,
    schedule: &mut Option<super::Schedule>,
    text: &str,
) {
    if let Some(schedule) = schedule {
        keep_written_map(text, &["schedule".into()], "inputs", &mut schedule.inputs);
    }
    let not_text = |v: &serde_json::Value| {
        matches!(v, serde_json::Value::Number(_) | serde_json::Value::Bool(_))
    };
    // (input, its choice's index or none for its default, where it is written)
    let mut found: Vec<(String, Option<usize>, Vec<Seg>)> = Vec::new();
    for (name, spec) in inputs.iter() {
        if !matches!(spec.kind, InputType::String | InputType::Path) {
            continue;
        }
        let at: Vec<Seg> = vec!["inputs".into(), name.as_str().into()];
        if spec.default.as_ref().is_some_and(not_text) {
            found.push((name.clone(), None, [&at[..], &["default".into()]].concat()));
        }
        // (a choice `~` of a string input is the text `~`, as `--input e='~'` gives it)
        for (i, choice) in spec.choices.iter().flatten().enumerate() {
            if not_text(choice) || choice.is_null() {
                found.push((
                    name.clone(),
                    Some(i),
                    [&at[..], &["enum".into(), i.into()]].concat(),
                ));
            }
        }
    }
    if found.is_empty() {
        return;
    }
    let paths: Vec<Vec<Seg>> = found.iter().map(|(_, _, p)| p.clone()).collect();
    for ((name, choice, _), written) in found
        .into_iter()
        .zip(super::scalar::written_texts(text, &paths))
    {
        let (Some(written), Some(spec)) = (written, inputs.get_mut(&name)) else {
            continue;
        };
        let value = match choice {
            None => spec.default.as_mut(),
            Some(i) => spec.choices.as_mut().and_then(|c| c.get_mut(i)),
        };
        if let Some(value) = value {
            *value = serde_json::Value::String(written);
        }
    }
}

/// `parse_workflow`, the keys it does not know set aside: the workflow without them and a
/// problem for each, for a validation that reports them with the rest of its problems.
pub fn parse_workflow_setting_aside(
    path: &str,
    text: &str,
) -> Result<(Workflow, Vec<Problem>), DefinitionError> {
    let (mut wf, problems): (Workflow, _) = parse_yaml_setting_aside(path, text)?;
    as_written(&mut wf, text);
    // A step whose only work was set aside for its type (`run: [x, y]`) has its problem said
    // already: a stand-in (never run, the file has problems) keeps validation from adding a
    // false "has nothing to do".
    for problem in &problems {
        let Some((path, _)) = problem.message.split_once(": ") else {
            continue;
        };
        if let Some(
            [
                super::Seg::Key(list),
                super::Seg::Index(i),
                super::Seg::Key(key),
            ],
        ) = super::locate::serde_path(path).as_deref()
            && list == "steps"
            && matches!(key.as_str(), "run" | "prompt" | "agent" | "uses")
            && let Some(step) = wf.steps.get_mut(*i)
            && step.run.is_none()
            && step.prompt.is_none()
            && step.agent.is_none()
            && step.uses.is_none()
        {
            step.run = Some("true".to_string());
        }
    }
    Ok((wf, problems))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_values_written_as_numbers_are_kept_as_written() {
        let wf = parse_workflow(
            "w.yaml",
            "name: w\ninputs:\n  v: {type: string, default: 1.10, enum: [1.10, 2.0, x]}\n  n: {type: number, default: 1.10}\n  q: {type: string, default: '007'}\nschedule:\n  cron: '0 3 * * *'\n  inputs: {v: 3.10, flag: True, hex: 0x10}\nsteps:\n  - name: a\n    run: 'true'\n    env: {X: 2.0, Y: \"1.10\", Z: 1e3}\n  - name: b\n    uses: c\n    with: {version: 1.10}\n",
        )
        .unwrap();
        assert_eq!(wf.inputs["v"].default, Some(serde_json::json!("1.10")));
        assert_eq!(
            wf.inputs["v"].choices,
            Some(vec![
                serde_json::json!("1.10"),
                serde_json::json!("2.0"),
                serde_json::json!("x")
            ])
        );
        assert_eq!(wf.inputs["n"].default, Some(serde_json::json!(1.1)));
        assert_eq!(wf.inputs["q"].default, Some(serde_json::json!("007")));
        let inputs = &wf.schedule.as_ref().unwrap().inputs;
        assert_eq!(inputs["v"].0, "3.10");
        assert_eq!(inputs["flag"].0, "True");
        assert_eq!(inputs["hex"].0, "0x10");
        let env = &wf.steps[0].env;
        assert_eq!(
            (
                env["X"].0.as_str(),
                env["Y"].0.as_str(),
                env["Z"].0.as_str()
            ),
            ("2.0", "1.10", "1e3")
        );
        assert_eq!(wf.steps[1].with["version"].0, "1.10");
    }

    #[test]
    fn a_scenario_s_env_and_schedule_inputs_are_kept_as_written() {
        let sc = crate::definition::parse_scenario(
            "s.yaml",
            "name: s\nschedule: {cron: '0 3 * * *', inputs: {v: 1.10}}\nphases:\n  - name: p\n    run: 'true'\n    env: {X: 2.0}\n",
        )
        .unwrap();
        assert_eq!(sc.schedule.as_ref().unwrap().inputs["v"].0, "1.10");
        assert_eq!(sc.phases[0].env["X"].0, "2.0");
    }

    #[test]
    fn deep_flow_nesting_is_refused_with_its_place() {
        let deep = format!(
            "name: x\nsteps: {}{}\n",
            "[".repeat(100_000),
            "]".repeat(100_000)
        );
        let err = parse_workflow("deep.yaml", &deep).unwrap_err();
        assert_eq!(
            err.problems[0].at,
            Some(Location {
                line: 2,
                column: 72
            })
        );
        let quoted = format!("name: x\nsteps: []\ndescription: '{}'\n", "[".repeat(100));
        assert!(
            scan(&quoted, false).is_none(),
            "brackets inside quotes do not count"
        );
    }

    /// An error found once an unknown key was set aside (`on_failure: explode` after
    /// `promt:`) was read from the text re-written without that key, and lost its place: it
    /// is placed where it is when it is alone in the file.
    #[test]
    fn an_error_after_an_unknown_key_keeps_its_place() {
        let text = "name: bad\nsteps:\n  - name: A\n    promt: x\n  - name: B\n    run: echo\n    on_failure: explode\n";
        // An unknown variant is set aside with the unknown key (the rest still checked), so
        // both come back as problems beside the definition read.
        let problems = match parse_workflow_setting_aside("x.yaml", text) {
            Ok((_, problems)) => problems,
            Err(err) => err.problems,
        };
        let places: Vec<_> = problems.iter().map(|p| p.at).collect();
        assert_eq!(
            places,
            [
                Some(Location { line: 4, column: 5 }),
                Some(Location {
                    line: 7,
                    column: 17
                })
            ],
            "{problems:?}"
        );
    }

    /// An unknown key inside `if: {run: ...}` was placed at the step (serde_yaml's place for
    /// an error of a field's own deserializer): it is placed at the key, with the step's path.
    #[test]
    fn an_unknown_key_inside_an_if_command_is_placed_at_the_key() {
        let text = "name: x\nsteps:\n  - name: a\n    run: echo a\n  - name: b\n    if:\n      run: test -f x\n      timout: 5s\n    run: echo b\n";
        let err = parse_workflow("x.yaml", text).unwrap_err();
        assert!(
            err.problems[0]
                .message
                .contains("steps[1]: if: unknown field `timout`"),
            "{err}"
        );
        assert_eq!(err.problems[0].at, Some(Location { line: 8, column: 7 }));
    }
}
