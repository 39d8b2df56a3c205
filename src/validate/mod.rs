//! Semantic validation: names, references, values and input values, each problem located.

mod inputs;
mod limits;
mod notify;
mod scenario;
mod schedule;
mod uses;
mod workflow;

pub use inputs::resolve_inputs;
pub use scenario::validate_scenario;
pub use uses::{MAX_USES_DEPTH, UsedInfo, Uses};
pub use workflow::{Known, validate_workflow};

pub(crate) use crate::definition::is_env_name;

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
    if !secret || value.is_empty() || value.contains("${{") {
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
