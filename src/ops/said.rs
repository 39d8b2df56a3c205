//! What an operator gave an action (its outputs, its message, its actor), as a command
//! suggested in the action's place repeats it — another run's report, a child run's, the other
//! kind's — with every secret left out: a value this process or the run's home knows to be
//! secret is the placeholder `VALUE` (the variable it came from named in a note), and a
//! message is repeated as the log keeps it (`***` for each secret in it). Before, the
//! suggestion printed the secret to the terminal, to `--json`, to MCP tool errors and to the
//! web page.

use super::{Ctx, Hint, Scope, find_run};
use crate::event::Operator;
use crate::execute::{Redactor, is_secret_name, load_state, recognise_secret_inputs};
use crate::store::EventStore;

/// A report's other arguments, as a suggested command repeats them, and what was left out.
#[derive(Default)]
pub(crate) struct Said {
    pub args: Vec<String>,
    /// Said beside each command that repeats `args`, when a secret was left out.
    note: Option<String>,
}

impl Said {
    /// The arguments of a report on the run `query` finds (of any kind, child runs
    /// included), besides its unit and run: each `--output KEY=VALUE`, its `--message`, and
    /// its `--actor` unless that is who acts when nobody says (`ops::operator_args`).
    pub fn of_report(
        ctx: &Ctx,
        store: Option<&dyn EventStore>,
        query: Option<&str>,
        outputs: &[(String, String)],
        by: &Operator,
    ) -> Said {
        let secrecy = Secrecy::of(ctx, store, query);
        let mut args = Vec::new();
        let mut left_out = Vec::new();
        for (key, value) in outputs {
            if secrecy.secret(key, value) {
                args.extend(crate::render::pair_args(
                    "--output",
                    key,
                    super::drive::PLACEHOLDER,
                ));
                left_out.push(match env_var_of(value) {
                    Some(var) => format!("`{}` (the value of ${var})", shown(key)),
                    None => format!("`{}`", shown(key)),
                });
            } else {
                args.extend(crate::render::pair_args("--output", key, value));
            }
        }
        let message = by.message.as_deref().map(|m| secrecy.redactor.redact(m));
        let scrubbed = matches!(message, Some(std::borrow::Cow::Owned(_)));
        let by = Operator {
            actor: secrecy.redactor.redact(&by.actor).into_owned(),
            message: message.map(|m| m.into_owned()),
        };
        args.extend(super::context::operator_args(&by));
        let mut notes = Vec::new();
        if !left_out.is_empty() {
            notes.push(format!(
                "the secret value of output {} is left out of it: put it in place of `{}`",
                left_out.join(", "),
                super::drive::PLACEHOLDER
            ));
        }
        if scrubbed {
            notes.push(
                "the secrets in its --message are `***`, as the log keeps them anyway".into(),
            );
        }
        Said {
            args,
            note: (!notes.is_empty()).then(|| notes.join("; ")),
        }
    }

    /// `hint` (a command that repeats `args`) with the note of what was left out.
    pub fn noted(&self, hint: Hint) -> Hint {
        match &self.note {
            Some(note) => hint.then(format!(" ({note})")),
            None => hint,
        }
    }

    /// The note, in parentheses after a space, or nothing.
    pub fn note_text(&self) -> String {
        self.note
            .as_ref()
            .map_or_else(String::new, |n| format!(" ({n})"))
    }
}

fn shown(key: &str) -> String {
    crate::definition::shown(key)
}

/// What this process and the home can tell of which values of a report are secret.
struct Secrecy<'a> {
    /// The secrets this process knows, and those of the run addressed (its `secret_env`, its
    /// secret inputs given to it).
    redactor: Redactor,
    /// The run's secret output keys (those feeding a secret `env:` entry).
    outputs: Vec<String>,
    /// The home, the run and its secret inputs, recognised by the check values the home keeps.
    checks: Option<(&'a std::path::Path, String, Vec<String>)>,
}

impl<'a> Secrecy<'a> {
    fn of(ctx: &'a Ctx, store: Option<&dyn EventStore>, query: Option<&str>) -> Secrecy<'a> {
        let mut secrecy = Secrecy {
            redactor: Redactor::of_process(),
            outputs: Vec::new(),
            checks: None,
        };
        let state = store
            .and_then(|store| {
                Some((
                    store,
                    find_run(store, Scope::any().with_children(), query).ok()?,
                ))
            })
            .and_then(|(store, id)| load_state(store, &id).ok().map(|s| (id, s)));
        if let Some((run_id, mut state)) = state {
            state.run_id = run_id.clone();
            secrecy.redactor = Redactor::of_run(&state);
            secrecy.redactor.merge_secrets(&Redactor::of_process());
            if let Some(wf) = &state.workflow {
                secrecy.outputs = crate::execute::secret_outputs(wf)
                    .into_iter()
                    .map(|(_, k)| k)
                    .collect();
            }
            if let Some(start) = &state.start {
                secrecy.checks = Some((&ctx.home, run_id, start.secret_inputs.clone()));
            }
        }
        secrecy
    }

    /// Whether the value `value` of output `key` is secret: its key looks secret or feeds a
    /// secret `env:` entry, it holds a secret known here, or it is a secret input's value.
    fn secret(&self, key: &str, value: &str) -> bool {
        if is_secret_name(key)
            || self.outputs.iter().any(|k| k == key)
            || self.redactor.redact(value) != value
        {
            return true;
        }
        let Some((home, run_id, names)) = &self.checks else {
            return false;
        };
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let words = std::iter::once(value.trim())
            .chain(value.split(|c: char| c.is_whitespace() || "=:,;\"'`()[]{}<>".contains(c)));
        recognise_secret_inputs(home, run_id, &names, words.filter(|w| !w.is_empty()))
            .is_some_and(|found| !found.is_empty())
    }
}

/// The secret-looking environment variable whose value is `value`, to name in its place.
fn env_var_of(value: &str) -> Option<String> {
    std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .find(|(k, v)| v == value && (is_secret_name(k) || k.starts_with("CORTEX_INPUT_")))
        .map(|(k, _)| k)
}
