//! The scenario format of seed 001 parts 3 and 6: phases with conditions, parallelism, agents
//! and success criteria, plus the engine's per-phase `run`, `timeout`, `retry`, `rollback`
//! and a scenario-level `max_parallel`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use std::collections::BTreeMap;

use super::workflow::parse_yaml;
use super::{
    Check, DefinitionError, DurationSpec, InputSpec, RetrySpec, ScalarString, Step, Workflow,
};

/// What `Phase::parsed_condition` reads, for the JSON Schema: `auto`, `manual`, or `after:`
/// and a comma-separated list of names, none empty.
pub const CONDITION_PATTERN: &str =
    r"^\s*(?:auto|manual|after:\s*[^,\s][^,]*(?:,\s*[^,\s][^,]*)*)\s*$";

/// A set of phases with conditions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// At most 100 characters, visible ones and plain spaces (no control or format
    /// characters), no surrounding spaces, not starting with `-`; no `/`, `\` or `..`.
    #[schemars(
        length(min = 1, max = 100),
        pattern(crate::definition::name::FILE_NAME_PATTERN)
    )]
    pub name: String,
    /// Required unless `scenarios/schema.yaml` says otherwise (checked by `validate`, so that
    /// every missing field is reported at once).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<String>,
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Upper bound on phases running at once, from 1 to 1024 (default: the configuration's
    /// `max_parallel`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 1024))]
    pub max_parallel: Option<u32>,
    /// Typed inputs, as a workflow's (`orchestrate run NAME --input k=v`), checked before
    /// anything runs; phases see them as `${{ inputs.NAME }}` and `CORTEX_INPUT_<NAME>`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub inputs: BTreeMap<String, InputSpec>,
    /// Who hears of the run's failure or end: commands and webhooks.
    #[serde(default, skip_serializing_if = "super::Notify::is_empty")]
    pub notify: super::Notify,
    /// When it starts by itself (`cortex schedule run`, `cortex serve`): a cron expression,
    /// or `{cron, overlap, inputs}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<super::Schedule>,
    /// At least one (when `phases` is required, as it is unless `schema.yaml` says otherwise).
    #[serde(default)]
    #[schemars(length(min = 1))]
    pub phases: Vec<Phase>,
}

/// One or more shell commands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum Commands {
    One(String),
    Many(Vec<String>),
}

impl Commands {
    pub fn list(&self) -> Vec<String> {
        match self {
            Commands::One(c) => vec![c.clone()],
            Commands::Many(cs) => cs.clone(),
        }
    }
}

/// A success criterion: a checklist item confirmed by whoever completes the phase, or a
/// command the engine runs that must pass.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum Criterion {
    Item(String),
    Check { check: String },
}

/// `{check: CMD}`, read strictly: a misspelled key is named, with the key it looks like.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CriterionCheck {
    check: String,
}

/// What a criterion may be, for an error about one that is neither.
const CRITERION_FORMS: &str =
    "A criterion is a string (`- Tests pass`) or a command the engine runs (`- {check: CMD}`)";

// Not derived: an untagged enum's error is "data did not match any variant", which names
// neither the key that is wrong nor the forms a criterion takes. Read in place (not through
// a `Value`), so that an error names the item (`success_criteria[1]`) and is placed at it.
impl<'de> Deserialize<'de> for Criterion {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Criterion;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a success criterion: a string (`- Tests pass`) or a command the engine runs (`- {check: CMD}`)")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Criterion, E> {
                Ok(Criterion::Item(v.to_string()))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<Criterion, A::Error> {
                use serde::de::Error;
                let value = serde_yaml::Value::deserialize(
                    serde::de::value::MapAccessDeserializer::new(map),
                )?;
                serde_yaml::from_value::<CriterionCheck>(value)
                    .map(|c| Criterion::Check { check: c.check })
                    // `unknown field `chek`, expected `check``: the located error finds the
                    // key, and says what it looks like.
                    .map_err(|e| A::Error::custom(format!("{e}; {CRITERION_FORMS}")))
            }
        }
        d.deserialize_any(V)
    }
}

/// One command of a `run:` list, read in place so that a bad one is named (`run[3]`) and
/// placed at itself.
struct RunItem(String);

impl<'de> Deserialize<'de> for RunItem {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = RunItem;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a command (a string: `- make test`)")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<RunItem, E> {
                Ok(RunItem(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

impl<'de> Deserialize<'de> for Commands {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Commands;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str(
                    "a command (`run: make test`) or a list of commands (`run: [make, make test]`)",
                )
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Commands, E> {
                Ok(Commands::One(v.to_string()))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Commands, A::Error> {
                let mut all = Vec::new();
                while let Some(RunItem(c)) = seq.next_element()? {
                    all.push(c);
                }
                Ok(Commands::Many(all))
            }
        }
        d.deserialize_any(V)
    }
}

impl Criterion {
    pub fn label(&self) -> String {
        match self {
            Criterion::Item(text) => text.clone(),
            Criterion::Check { check } => format!("check: {check}"),
        }
    }
}

/// One phase of a scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Phase {
    /// Unique in the scenario. The name rule of every kind (as `name` above), and no `,`:
    /// `after:a,b` separates phase names with commas.
    #[schemars(
        length(min = 1, max = 100),
        pattern(crate::definition::name::PHASE_NAME_PATTERN)
    )]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// `manual`, `auto` (the default) or `after:a,b`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(CONDITION_PATTERN))]
    pub condition: Option<String>,
    /// May run beside other phases.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub parallel: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub agents: Vec<String>,
    /// Profiles the phase's work is done under (seed 001: `development`, ...): handed to its
    /// commands, its agent's command and its checks as `CORTEX_PROFILES` (comma-separated), so
    /// that one agent can behave per profile; shown by `preview` and `status`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub profiles: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub success_criteria: Vec<Criterion>,
    /// Commands the engine runs for this phase, in order. They may write outputs to
    /// `$CORTEX_OUTPUT`, which later phases read as `${{ phases.NAME.outputs.KEY }}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<Commands>,
    /// Environment of the phase's commands, agent and checks (values may use templates).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, ScalarString>,
    /// Names of environment variables whose values must never reach the log (as a workflow
    /// step's `secret_env`: besides names such as `*TOKEN*`, `*SECRET*`, `*PASSWORD*`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secret_env: Vec<String>,
    /// Where the phase's commands run, relative to the run's directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    /// Time limit of one attempt, from 1 ms to 30 days (default: none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<super::duration::TimeoutSchema>")]
    pub timeout: Option<DurationSpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<RetrySpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback: Option<String>,
    /// Leave what the phase's commands started in the background running when it ends. By
    /// default its process group is ended with it (TERM, then KILL after a grace).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub keep_background: bool,
    /// Run the phase only when this holds (once its condition does): an expression over
    /// inputs and the outputs of the phases it runs after, or `{run: COMMAND}`. A phase whose
    /// `if:` is false is skipped, and the phases after it go on as after any skipped phase.
    #[serde(rename = "if", default, skip_serializing_if = "Option::is_none")]
    pub if_: Option<super::IfCondition>,
    /// Only workers with all of these tags (`cortex worker --tags`) run the phase; any
    /// driver leaves it to them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 16))]
    pub runs_on: Vec<super::WorkerTag>,
    /// Run the phase once per item (a list, or a template naming an output that holds a JSON
    /// list): each item is its own phase `NAME[i]`, and items may run in parallel within
    /// `max_parallel` (with `parallel: true`). Phases after it wait for every item.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub foreach: Option<super::Foreach>,
}

/// A phase's condition, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    Auto,
    Manual,
    After(Vec<String>),
}

impl Phase {
    /// The condition, or why it cannot be understood.
    pub fn parsed_condition(&self) -> Result<Condition, String> {
        match self.condition.as_deref().map(str::trim) {
            None | Some("auto") => Ok(Condition::Auto),
            Some("manual") => Ok(Condition::Manual),
            Some(c) => match c.strip_prefix("after:") {
                Some(list) => {
                    let deps: Vec<String> = list.split(',').map(|d| d.trim().to_string()).collect();
                    if deps.iter().any(String::is_empty) {
                        Err(format!(
                            "Unknown condition: {c} (an empty phase name in the list)"
                        ))
                    } else {
                        Ok(Condition::After(deps))
                    }
                }
                None => Err(format!("Unknown condition: {c}")),
            },
        }
    }

    /// The phases an `after:` condition names, leaving out empty entries (`after:b,`): what
    /// the phase waits for even when its list is malformed, so `validate` reports the empty
    /// entry and still checks the names and cycles in one pass. `None` for any other condition.
    pub fn after_names(&self) -> Option<Vec<String>> {
        let list = self.condition.as_deref()?.trim().strip_prefix("after:")?;
        Some(
            list.split(',')
                .map(str::trim)
                .filter(|d| !d.is_empty())
                .map(str::to_string)
                .collect(),
        )
    }

    /// What an agent or a person is asked to do: the description and the checklist.
    pub fn prompt(&self) -> String {
        let mut text = format!(
            "Phase: {}\n{}\n",
            self.name,
            self.description.as_deref().unwrap_or("")
        );
        if !self.success_criteria.is_empty() {
            text.push_str("\nSuccess criteria:\n");
            for c in &self.success_criteria {
                text.push_str(&format!("- {}\n", c.label()));
            }
        }
        text
    }

    /// The phase as an executable unit: the engine runs phases with the same machinery as
    /// steps (attempts, retries, timeouts, rollback, validation gates). `check` criteria
    /// become validation gates; the first agent with a command runs the prompt.
    pub fn as_step(&self) -> Step {
        Step {
            name: self.name.clone(),
            description: self.description.clone(),
            prompt: Some(self.prompt()),
            agent: self.agents.first().cloned(),
            run: self.run.as_ref().map(|c| {
                let mut script = String::from("set -e\n");
                for cmd in c.list() {
                    script.push_str(&cmd);
                    script.push('\n');
                }
                script
            }),
            env: {
                let mut env = self.env.clone();
                if !self.profiles.is_empty() {
                    env.insert(
                        "CORTEX_PROFILES".to_string(),
                        ScalarString(self.profiles.join(",")),
                    );
                }
                env
            },
            secret_env: self.secret_env.clone(),
            working_dir: self.working_dir.clone(),
            timeout: self.timeout.clone(),
            retry: self.retry.clone(),
            rollback: self.rollback.clone(),
            validate: self
                .success_criteria
                .iter()
                .filter_map(|c| match c {
                    Criterion::Check { check } => Some(Check {
                        run: Some(check.clone()),
                        output: None,
                    }),
                    Criterion::Item(_) => None,
                })
                .collect(),
            on_failure: None,
            checkpoint: false,
            keep_background: self.keep_background,
            if_: self.if_.clone(),
            foreach: self.foreach.clone(),
            uses: None,
            with: Default::default(),
            runs_on: self.runs_on.clone(),
        }
    }
}

impl Scenario {
    /// The phases as a workflow of steps, for the shared execution machinery.
    pub fn as_workflow(&self) -> Workflow {
        Workflow {
            name: self.name.clone(),
            description: self.description.clone(),
            inputs: self.inputs.clone(),
            requires: Default::default(),
            health: Vec::new(),
            steps: self.phases.iter().map(Phase::as_step).collect(),
            post: Vec::new(),
            notify: self.notify.clone(),
            schedule: self.schedule.clone(),
        }
    }

    pub fn phase_index(&self, name: &str) -> Option<usize> {
        self.phases.iter().position(|p| p.name == name)
    }
}

/// Parse a scenario; types and unknown keys only (see `validate::scenario` for the rest).
pub fn parse_scenario(path: &str, text: &str) -> Result<Scenario, DefinitionError> {
    let mut sc: Scenario = parse_yaml(path, text)?;
    sc.as_written(text);
    Ok(sc)
}

/// `parse_scenario`, the keys it does not know set aside: the scenario without them and a
/// problem for each, for a validation that reports them with the rest of its problems.
pub fn parse_scenario_setting_aside(
    path: &str,
    text: &str,
) -> Result<(Scenario, Vec<super::Problem>), DefinitionError> {
    let (mut sc, problems): (Scenario, _) = super::workflow::parse_yaml_setting_aside(path, text)?;
    sc.as_written(text);
    Ok((sc, problems))
}

impl Scenario {
    /// The warnings for its `foreach:` lists' items read as numbers not as written
    /// (`scalar::items_not_as_written`), `text` being the file it was read from.
    pub fn items_not_as_written(&self, file: &str, text: &str) -> Vec<String> {
        let lists: Vec<_> = self
            .phases
            .iter()
            .enumerate()
            .filter_map(|(i, p)| match &p.foreach {
                Some(super::Foreach::Items(items)) => Some((
                    format!("the `foreach:` of phase `{}`", super::shown(&p.name)),
                    vec!["phases".into(), i.into(), "foreach".into()],
                    items.as_slice(),
                )),
                _ => None,
            })
            .collect();
        super::items_not_as_written(file, text, &lists)
    }

    /// Its text values as `text` writes them (`workflow::as_written`): its phases' `env:`, its
    /// schedule's `inputs:`, its text inputs' defaults.
    fn as_written(&mut self, text: &str) {
        super::workflow::keep_written(&mut self.inputs, &mut self.schedule, text);
        for (i, phase) in self.phases.iter_mut().enumerate() {
            super::workflow::keep_written_map(
                text,
                &["phases".into(), i.into()],
                "env",
                &mut phase.env,
            );
        }
    }
}

/// The user schema `scenarios/schema.yaml` (seed 001 part 5).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UserSchema {
    /// Top-level fields every scenario must have.
    #[serde(default)]
    pub required: Vec<String>,
    /// Allowed values of `type`, `priority` and `condition`.
    #[serde(default)]
    pub fields: std::collections::BTreeMap<String, FieldRule>,
}

/// Allowed values of one field.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FieldRule {
    #[serde(rename = "enum", default)]
    pub allowed: Vec<String>,
}

/// The top-level scenario fields a user schema can require (`required:`).
pub const REQUIRABLE_FIELDS: [&str; 9] = [
    "name",
    "description",
    "phases",
    "type",
    "priority",
    "max_parallel",
    "inputs",
    "notify",
    "schedule",
];

/// The fields a user schema can give allowed values of (`fields:`): a scenario's `type` and
/// `priority`, a phase's `condition`.
pub const RESTRICTABLE_FIELDS: [&str; 3] = ["type", "priority", "condition"];

/// Read `scenarios/schema.yaml`. A field it names that scenarios do not have is refused, as
/// any other unknown key of a definition is (SPEC §3): a misspelt `descripton` under
/// `required:` would otherwise stop `description` being required, silently.
pub fn parse_user_schema(path: &str, text: &str) -> Result<UserSchema, DefinitionError> {
    let schema: UserSchema = parse_yaml(path, text)?;
    let text = super::without_bom(text);
    let unknown = |field: &str, under: &str, at, known: &[&str]| {
        let near = super::catalog_suggest(field, known.iter().copied());
        let hint = match near.first() {
            Some(best) => format!("did you mean `{best}`? The fields "),
            None => "the fields ".to_string(),
        };
        super::Problem::new(
            format!(
                "`{}` under `{under}:` is not a field this schema can name",
                super::shown(field)
            ),
            at,
        )
        .with_hint(format!("{hint}it can name: {}", known.join(", ")))
    };
    let mut problems = Vec::new();
    for (i, field) in schema.required.iter().enumerate() {
        if !REQUIRABLE_FIELDS.contains(&field.as_str()) {
            let at = super::locate(text, &["required".into(), super::Seg::Index(i)]);
            problems.push(unknown(field, "required", at, &REQUIRABLE_FIELDS));
        }
    }
    for field in schema.fields.keys() {
        if !RESTRICTABLE_FIELDS.contains(&field.as_str()) {
            let at = super::locate_key(text, &["fields".into(), field.as_str().into()]);
            problems.push(unknown(field, "fields", at, &RESTRICTABLE_FIELDS));
        }
    }
    if problems.is_empty() {
        return Ok(schema);
    }
    Err(DefinitionError {
        path: path.to_string(),
        text: text.to_string(),
        problems,
    })
}
