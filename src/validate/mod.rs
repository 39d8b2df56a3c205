//! Semantic validation: names, references, values and input values, each problem located.

mod inputs;
mod limits;
mod notify;
mod scenario;
mod schedule;
mod uses;
mod workflow;

pub use inputs::{resolve_inputs, resolve_inputs_giving};
pub use scenario::{validate_scenario, validate_scenario_cautioned};
pub use uses::{MAX_USES_DEPTH, UsedInfo, Uses};
pub use workflow::{Known, validate_workflow, validate_workflow_cautioned};

pub(crate) use crate::definition::is_env_name;

/// The problem (message, hint) of a reference to the agent `agent`, which no valid agent
/// has, but whose file is there and invalid (`summary`: that file's first problem, located).
/// Before, it was "Agent not found", which sent the user looking for a file that is there.
pub(crate) fn broken_agent_problem(agent: &str, summary: &str) -> (String, String) {
    let shown = crate::definition::shown(agent);
    (
        format!("agent `{shown}` has a file, but it is invalid: {summary}"),
        format!(
            "fix that file (`---`, YAML front matter with `name:` and `description:`, `---`, then the Markdown body); `cortex agent status {}` shows each of its problems with its place",
            crate::render::shell_quote(agent)
        ),
    )
}

/// The warning for a definition file whose `name:` is not its file name: it is found by its
/// file name, but its runs are recorded (and `status` and `history` know them) by `name:`.
///
/// A file name is suggested only when the name is one as written (letters, digits, `-`, `_`,
/// `.`; a space becomes `-`, which finds the same name): a name like `` rel $(touch x) `id` ``
/// would make a file name no shell takes unquoted, so then only the `name:` line is suggested.
/// Every name is shown whole and set as a code span that holds it (never a backtick inside
/// single backticks), so what is suggested can be copied.
pub fn name_mismatch(entry: &crate::definition::Entry, kind: &str, name: &str) -> Option<String> {
    use crate::definition::{EntrySource, normalize_name};
    let EntrySource::File(path) = &entry.source else {
        return None;
    };
    let stem = path.file_stem()?.to_string_lossy();
    (normalize_name(&stem) != normalize_name(name)).then(|| {
        let fix = match safe_file_stem(name) {
            Some(file) => format!(
                "name the file {}, or write {}",
                code(&format!("{file}.yaml")),
                code(&format!("name: {}", yaml_scalar(&stem)))
            ),
            None => format!(
                "write {} (the name is not one a file can be named as written)",
                code(&format!("name: {}", yaml_scalar(&stem)))
            ),
        };
        format!(
            "{} is found as the {kind} {}, but its `name:` is {}: its runs are recorded under that name (as `status` and `history` show them); {fix}",
            path.display(),
            code(&stem),
            code(name),
        )
    })
}

/// `name` as the stem of a file name that needs no quoting anywhere (letters, digits, `-`,
/// `_`, `.`, not starting with `.` or `-`), a space written `-` (found as the same name), or
/// `None`.
fn safe_file_stem(name: &str) -> Option<String> {
    let stem: String = name
        .trim()
        .chars()
        .map(|c| if c == ' ' { '-' } else { c })
        .collect();
    let safe = !stem.is_empty()
        && !stem.starts_with(['.', '-'])
        && stem.chars().count() <= crate::definition::MAX_NAME_CHARS
        && stem
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && crate::definition::normalize_name(&stem) == crate::definition::normalize_name(name);
    safe.then_some(stem)
}

/// `text` as a YAML scalar that reads back as `text`: plain when it is made only of
/// characters YAML gives no meaning, else double-quoted (JSON's quoting, which YAML reads).
fn yaml_scalar(text: &str) -> String {
    let plain = !text.is_empty()
        && !text.starts_with(['-', '.', ' '])
        && !text.ends_with(' ')
        && text
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | ' '))
        && !matches!(
            text.to_ascii_lowercase().as_str(),
            "true" | "false" | "yes" | "no" | "on" | "off" | "null" | "y" | "n"
        )
        && text.parse::<f64>().is_err();
    if plain {
        text.to_string()
    } else {
        serde_json::to_string(text).unwrap_or_default()
    }
}

/// `text` whole (control and invisible characters shown as code points, nothing cut past
/// 120 characters) as a code span (`definition::code_span`).
fn code(text: &str) -> String {
    crate::definition::code_span(&crate::definition::shown_query(text))
}

/// `verdict` with the problem of a definition (`kind`: workflow or scenario) whose `name:`
/// the definitions in `others` (shown as files) also have: a name is unique in a home (SPEC
/// §3), because runs, `status` and `history` know a workflow or scenario by its name. The
/// problem is located at `name:`.
pub fn with_namesakes(
    verdict: Result<(), crate::definition::DefinitionError>,
    path: &str,
    text: &str,
    kind: &str,
    name: &str,
    others: &[String],
) -> Result<(), crate::definition::DefinitionError> {
    use crate::definition::{DefinitionError, Problem, Seg, locate, shown};
    if others.is_empty() {
        return verdict;
    }
    let problem = Problem::new(
        format!(
            "the {kind} name `{}` is also the `name:` of {}: a {kind}'s name is unique in its home (its runs, `status` and `history` know it by that name)",
            shown(name),
            others.join(", ")
        ),
        locate(text, &[Seg::Key("name".into())]),
    )
    .with_hint(format!(
        "rename one of them; a {kind} is found by its file name (`NAME.yaml`{}), so give each `name:` the name of its file",
        if kind == "workflow" {
            ", which also overrides a built-in of that name"
        } else {
            ""
        }
    ));
    match verdict {
        Ok(()) => Err(DefinitionError {
            path: path.to_string(),
            text: text.to_string(),
            problems: vec![problem],
        }),
        Err(mut e) => {
            e.problems.insert(0, problem);
            Err(e)
        }
    }
}

/// The problem, and its fix, of a secret `env:` entry (`secret`: its name looks secret or
/// `secret_env` lists it) whose value is written out in the definition: the definition is kept
/// in the run's log (its snapshot), so the value would be too — and SPEC §6 says a secret is
/// never written to the log. A template (`${{ inputs.tok }}`) is resolved when the step runs,
/// its value redacted; an empty value is no secret.
pub(crate) fn literal_secret(
    name: &str,
    value: &str,
    secret: bool,
    unit: &str,
) -> Option<(String, String)> {
    if !secret
        || value.is_empty()
        || !crate::definition::template::scan(value).is_empty()
        || crate::execute::names_where_a_secret_is(name)
    {
        return None;
    }
    let input = name.to_ascii_lowercase();
    Some((
        format!(
            "`{name}` is a secret, and its value is written in the definition, which is kept in the run's log: the value would be too"
        ),
        format!(
            "give it as a secret input (`{name}: \"${{{{ inputs.{input} }}}}\"`, then `--input {input}=...` or CORTEX_INPUT_{}), or leave it out of `env:` so the {unit} inherits it from cortex's environment (redacted there)",
            name.to_ascii_uppercase()
        ),
    ))
}
