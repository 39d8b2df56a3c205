//! Semantic validation: names, references, values and input values, each problem located.

mod inputs;
mod scenario;
mod workflow;

pub use inputs::resolve_inputs;
pub use scenario::validate_scenario;
pub use workflow::{Known, validate_workflow};

/// Is `name` usable as an environment variable name?
pub(crate) fn is_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}
