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
