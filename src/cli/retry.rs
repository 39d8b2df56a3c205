//! The command to run again when the event log was busy (another process held its write lock
//! past the store's wait, exit 4): the one just run, as its document's `next`. Before, that
//! error had hints and no `next`, and an agent following `next` had nothing to run.
//!
//! The command is written from the arguments as given, but for what is not to be shown: the
//! global options are the error's own (`Ctx::localize` adds `--home` and `--db`, a password
//! left out), and a value of `--output` or `--input` that may be secret is a placeholder
//! (`KEY=VALUE`, listed in `fill`) — never echoed into a document that may be logged.

use crate::execute::{Redactor, is_secret_name, secret_inputs, secret_outputs};
use crate::ops::{CommandError, Ctx};
use crate::project::Fill;

/// Why the command is suggested again.
const WHY: &str = "the same command again, once the other process lets go of the event log's write lock (nothing was recorded)";

/// The flags whose `KEY=VALUE` values may hold a secret, and the name each goes by.
const VALUED: [(&str, &str); 4] = [
    ("--output", "--output"),
    ("-o", "--output"),
    ("--input", "--input"),
    ("-i", "--input"),
];

/// `e`, a busy log's error, with the command just run (`args`, the command line after
/// `cortex`) as its `next`; `e` as it is when the command cannot be written safely (an
/// argument not UTF-8, or one other than a `KEY=VALUE` that holds a secret this process
/// knows).
pub fn busy_retry(ctx: &Ctx, e: CommandError, args: &[std::ffi::OsString]) -> CommandError {
    let Some(args) = args
        .iter()
        .map(|a| a.to_str().map(str::to_string))
        .collect::<Option<Vec<String>>>()
    else {
        return e;
    };
    let secret = Secrecy::of(ctx);
    let mut out: Vec<String> = Vec::with_capacity(args.len());
    let mut fill = Vec::new();
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        if arg == "--" {
            out.push(arg.clone());
            for a in rest.by_ref() {
                if secret.known(a) {
                    return e;
                }
                out.push(a.clone());
            }
            break;
        }
        // The global options: the error's own are added (`Ctx::localize`); `--json` and
        // `--no-color` are left to the one running it, as in every suggestion.
        match arg.as_str() {
            "--json" | "--no-color" => continue,
            "--home" | "--db" => {
                rest.next();
                continue;
            }
            a if a.starts_with("--home=") || a.starts_with("--db=") => continue,
            _ => {}
        }
        let valued = VALUED.iter().find_map(|(given, flag)| {
            if arg == given {
                return Some((*flag, rest.next().cloned()));
            }
            let attached = arg.strip_prefix(given)?;
            let value = match given.starts_with("--") {
                true => attached.strip_prefix('=')?,
                false => attached.strip_prefix('=').unwrap_or(attached),
            };
            Some((*flag, Some(value.to_string())))
        });
        match valued {
            Some((flag, Some(value))) => match value.split_once('=') {
                Some((key, _)) if secret.known(key) => return e,
                Some((key, v)) if secret.value(flag, key, v) => {
                    out.extend(crate::render::pair_args(flag, key, "VALUE"));
                    fill.push(Fill::new(flag, key));
                }
                Some((key, v)) => out.extend(crate::render::pair_args(flag, key, v)),
                // No `=`: the command was refused before the log was written; shown
                // as given unless it is a known secret.
                None if secret.known(&value) => return e,
                None => out.extend([flag.to_string(), value]),
            },
            Some((_, None)) => return e,
            None if secret.known(arg) => return e,
            None => out.push(arg.clone()),
        }
    }
    let argv: Vec<&str> = out.iter().map(String::as_str).collect();
    e.next_filled(&argv, WHY, fill)
}

/// What this process can tell of which values are secret.
struct Secrecy {
    /// The secrets it knows: its environment's, its secret inputs'.
    known: Redactor,
    /// The secret outputs (by key) and inputs of the run the command acted on; None when
    /// it cannot be read (then every value of `--output` or `--input` is taken for one).
    run: Option<(Vec<String>, Vec<String>)>,
}

impl Secrecy {
    fn of(ctx: &Ctx) -> Secrecy {
        let run = ctx.acted_on.get().and_then(|(run_id, _): (String, _)| {
            let store = ctx.reading_store().ok()??;
            let state = crate::execute::load_state(&*store, &run_id).ok()?;
            let workflow = state.workflow.as_deref()?;
            let outputs = secret_outputs(workflow).into_iter().map(|(_, k)| k);
            Some((
                outputs.collect(),
                secret_inputs(workflow).into_iter().collect(),
            ))
        });
        Secrecy {
            known: Redactor::of_process(),
            run,
        }
    }

    /// Whether `text` holds a secret this process knows.
    fn known(&self, text: &str) -> bool {
        self.known.redact(text) != text
    }

    /// Whether the value `value` of `key` given with `flag` may be secret: its key looks
    /// secret, it holds a secret this process knows, or the run's definition makes it one
    /// (an output feeding a secret `env:` entry, a secret input) — or the run could not be
    /// read to tell.
    fn value(&self, flag: &str, key: &str, value: &str) -> bool {
        if is_secret_name(key) || self.known(value) {
            return true;
        }
        match &self.run {
            Some((outputs, inputs)) => match flag {
                "--output" => outputs.iter().any(|k| k == key),
                _ => inputs.iter().any(|k| k == key),
            },
            None => true,
        }
    }
}
