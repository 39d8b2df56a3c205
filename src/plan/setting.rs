//! What a step would run with, as a dry run shows it: its `env:` entries, its directory and
//! the `with:` inputs of the workflow it calls, templates resolved as far as they are known and
//! every secret shown as `***`.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use crate::definition::Step;
use crate::definition::template::{Reference, render_text};

/// What a secret value is shown as.
use crate::event::REDACTED as HIDDEN;

/// The environment and directory one step would run in.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Setting {
    /// The directory its commands run in: the run's, joined with its `working_dir:`.
    pub working_dir: String,
    /// Its `env:` entries as its commands would see them (a secret one as `***`; a template
    /// naming an output not yet recorded, or `${{ item }}`, as written).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// The inputs given to the workflow it calls (`with:`), resolved the same way.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub with: BTreeMap<String, String>,
    /// Its `run:` command as written: a template in it stays a template (its value reaches the
    /// shell through the environment, never as text; the values are the inputs and `env:` shown).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run: Option<String>,
    /// Its `rollback:` command as written (what a compensation would run).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rollback: Option<String>,
    /// Its prompt as the person or agent would read it: templates resolved as far as they are
    /// known (a secret input `***`). A plan puts it on the step (`PlannedStep::prompt`), also
    /// when the step only waits for a report.
    #[serde(skip)]
    pub prompt: Option<String>,
}

/// The setting of `step` in a run whose directory is `base`: `resolve` gives the values known
/// (inputs, a secret one already `***`; outputs recorded so far), `is_secret_env` says which
/// `env:` entries are secret (their values are hidden whole), `is_secret_input` which inputs of
/// the called workflow are (by name: the called workflow is not read here).
pub fn step_setting(
    step: &Step,
    base: &Path,
    resolve: &dyn Fn(&Reference) -> Option<String>,
    is_secret_env: &dyn Fn(&Step, &str) -> bool,
    is_secret_input: &dyn Fn(&str) -> bool,
) -> Setting {
    let working_dir = match &step.working_dir {
        Some(dir) => base.join(render_text(dir, resolve)),
        None => base.to_path_buf(),
    };
    let env = step
        .env
        .iter()
        .map(|(name, value)| {
            let shown = if is_secret_env(step, name) {
                HIDDEN.to_string()
            } else {
                render_text(&value.0, resolve)
            };
            (name.clone(), shown)
        })
        .collect();
    let with = step
        .with
        .iter()
        .map(|(name, value)| {
            let shown = if is_secret_input(name) {
                HIDDEN.to_string()
            } else {
                render_text(&value.0, resolve)
            };
            (name.clone(), shown)
        })
        .collect();
    Setting {
        working_dir: working_dir.display().to_string(),
        env,
        with,
        run: step.run.clone(),
        rollback: step.rollback.clone(),
        prompt: step.prompt.as_ref().map(|p| render_text(p, resolve)),
    }
}

/// The inputs of a run as a dry run shows them: the value of each input named in `secret`
/// replaced by `***`.
pub fn shown_inputs(
    inputs: &BTreeMap<String, serde_json::Value>,
    secret: &dyn Fn(&str) -> bool,
) -> BTreeMap<String, serde_json::Value> {
    inputs
        .iter()
        .map(|(name, value)| {
            let shown = if secret(name) {
                serde_json::Value::String(HIDDEN.to_string())
            } else {
                value.clone()
            };
            (name.clone(), shown)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(yaml: &str) -> Step {
        serde_yaml::from_str(yaml).unwrap()
    }

    #[test]
    fn a_secret_entry_is_hidden_whole_and_a_known_input_is_resolved() {
        let s = step(
            "name: a\nrun: x\nworking_dir: \"sub/${{ inputs.env }}\"\nenv:\n  API_TOKEN: \"${{ inputs.env }}-t\"\n  REGION: \"${{ inputs.env }}\"\n  NEXT: \"${{ steps.b.outputs.v }}\"\n",
        );
        let resolve = |r: &Reference| match r {
            Reference::Input(n) if n == "env" => Some("prod".to_string()),
            _ => None,
        };
        let got = step_setting(
            &s,
            Path::new("/base"),
            &resolve,
            &|_, n| n.contains("TOKEN"),
            &|_| false,
        );
        assert_eq!(got.working_dir, "/base/sub/prod");
        assert_eq!(got.env["API_TOKEN"], "***");
        assert_eq!(got.env["REGION"], "prod");
        assert_eq!(got.env["NEXT"], "${{ steps.b.outputs.v }}");
    }
}
