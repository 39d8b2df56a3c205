//! Semantic validation: names, references, values and input values, each problem located.

mod inputs;
mod limits;
mod notify;
mod scenario;
mod schedule;
mod uses;
mod workflow;

pub use inputs::resolve_inputs;
pub use scenario::{validate_scenario, validate_scenario_cautioned};
pub use uses::{MAX_USES_DEPTH, UsedInfo, Uses};
pub use workflow::{Known, validate_workflow, validate_workflow_cautioned};

pub(crate) use crate::definition::is_env_name;

/// The warning for a definition file whose `name:` is not its file name: it is found by its
/// file name, but its runs are recorded (and `status` and `history` know them) by `name:`.
pub fn name_mismatch(entry: &crate::definition::Entry, kind: &str, name: &str) -> Option<String> {
    use crate::definition::{EntrySource, normalize_name, shown};
    let EntrySource::File(path) = &entry.source else {
        return None;
    };
    let stem = path.file_stem()?.to_string_lossy();
    (normalize_name(&stem) != normalize_name(name)).then(|| {
        format!(
            "{} is found as the {kind} `{}`, but its `name:` is `{}`: its runs are recorded under `{}` (as `status` and `history` show them); name the file `{}.yaml`, or write `name: {}`",
            path.display(),
            shown(&stem),
            shown(name),
            shown(name),
            shown(name),
            shown(&stem)
        )
    })
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
        || value.contains("${{")
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
