//! The command to run again when the event log was busy: another process held its write lock
//! past the store's wait (exit 4), so nothing was recorded and the same command goes through
//! once it lets go. Each operation that records says its own (`Retry`), from the typed
//! arguments it was given, as its error's `next` (`Retry::on_busy`) — one mechanism for every
//! front end: the CLI's `--json` document, an MCP tool's error, the HTTP API's 503 and the
//! dashboard's error page carry it alike. Before, the CLI wrote it by reading the process's
//! command line again beside clap, and the other front ends had none.
//!
//! What is not to be shown is never echoed: a value of `--output` or `--input` that may be
//! secret is a placeholder (`KEY=VALUE`, listed in `fill`, as in every suggestion), and a
//! command whose other words hold a secret this process knows is not suggested at all.

use super::{CommandError, Ctx, Scope, find_run};
use crate::definition::Workflow;
use crate::event::{Operator, RunKind};
use crate::execute::{Redactor, is_secret_name, load_state, secret_inputs, secret_outputs};
use crate::project::Fill;

/// Why the command is suggested again.
const WHY: &str = "the same command again, once the other process lets go of the event log's write lock (nothing was recorded)";

/// A command as its operation was asked for it, to be suggested again: `cortex`'s global
/// options aside (the error's own are added: `Ctx::globals`), its subcommand's words, its
/// operands and its options in order, and where to learn which values are secret.
pub struct Retry {
    /// The group the words follow (`workflow`, `orchestrate`) where it is the kind of the run
    /// found (`on_run` of every kind: a front end that names runs by id).
    of_kind: bool,
    words: Vec<String>,
    operands: Vec<String>,
    options: Vec<Word>,
    secrets: Secrets,
}

/// An option's words, or a `KEY=VALUE` pair given to `--output` or `--input`, whose value
/// may be secret.
enum Word {
    Plain(Vec<String>),
    Pair {
        flag: &'static str,
        key: String,
        value: String,
    },
}

/// Where the secret outputs and inputs of what the command acts on are read, once the retry
/// is written (only then: an operation that meets no busy log reads nothing more).
enum Secrets {
    /// Nothing given can be one but what this process knows.
    None,
    /// The definition of the run that `query` finds among `scope`'s runs.
    OfRun { scope: Scope, query: Option<String> },
    /// The definition the command starts a run of: its secret output keys and inputs.
    Of {
        outputs: Vec<String>,
        inputs: Vec<String>,
    },
}

impl Retry {
    /// `cortex WORDS...`: the subcommand (`["agent", "activate"]`).
    pub fn command(words: &[&str]) -> Retry {
        Retry {
            of_kind: false,
            words: words.iter().map(|w| w.to_string()).collect(),
            operands: Vec::new(),
            options: Vec::new(),
            secrets: Secrets::None,
        }
    }

    /// `cortex GROUP WORDS...` acting on the run `query` finds among `scope`'s runs (`resume`,
    /// `step complete`): GROUP is the scope's (`workflow`, `orchestrate`), or for a scope of
    /// every kind that of the run found; which values are secret is said by that run's
    /// definition. The run itself is an operand or an option, as the command takes it.
    pub fn on_run(scope: Scope, query: Option<&str>, words: &[&str]) -> Retry {
        let group = scope.kind.map(|k| k.group());
        Retry {
            of_kind: group.is_none(),
            words: group
                .into_iter()
                .chain(words.iter().copied())
                .map(str::to_string)
                .collect(),
            operands: Vec::new(),
            options: Vec::new(),
            secrets: Secrets::OfRun {
                scope,
                query: query.map(str::to_string),
            },
        }
    }

    /// An operand (a name, a run), after the words.
    pub fn operand(mut self, value: &str) -> Retry {
        self.operands.push(value.to_string());
        self
    }

    /// An operand that may be left out (the latest run when none is named).
    pub fn operand_if(self, value: Option<&str>) -> Retry {
        match value {
            Some(value) => self.operand(value),
            None => self,
        }
    }

    /// `flag VALUE`, when given.
    pub fn option(mut self, flag: &str, value: Option<&str>) -> Retry {
        if let Some(value) = value {
            let words = crate::render::flag_args(flag, value);
            self.options.push(Word::Plain(words));
        }
        self
    }

    /// Options as written (`--from STEP`).
    pub fn flags(mut self, words: Vec<String>) -> Retry {
        self.options.push(Word::Plain(words));
        self
    }

    /// `flag`, when set.
    pub fn switch(mut self, flag: &str, on: bool) -> Retry {
        if on {
            self.options.push(Word::Plain(vec![flag.to_string()]));
        }
        self
    }

    /// `--output KEY=VALUE` for each output given, each value that may be secret a
    /// placeholder.
    pub fn outputs(self, pairs: &[(String, String)]) -> Retry {
        self.pairs("--output", pairs)
    }

    /// `--input NAME=VALUE` for each input given, each value that may be secret a placeholder.
    pub fn inputs(self, pairs: &[(String, String)]) -> Retry {
        self.pairs("--input", pairs)
    }

    fn pairs(mut self, flag: &'static str, pairs: &[(String, String)]) -> Retry {
        for (key, value) in pairs {
            self.options.push(Word::Pair {
                flag,
                key: key.clone(),
                value: value.clone(),
            });
        }
        self
    }

    /// Who acts and why (`--message`, `--actor` unless the default: `ops::operator_args`).
    pub fn by(mut self, by: &Operator) -> Retry {
        self.options
            .push(Word::Plain(super::context::operator_args(by)));
        self
    }

    /// Which values are secret is said by `workflow`, the definition the command starts a
    /// run of.
    pub fn of_definition(mut self, workflow: &Workflow) -> Retry {
        let (outputs, inputs) = secret_keys(workflow);
        self.secrets = Secrets::Of { outputs, inputs };
        self
    }

    /// `e`, a busy log's error that suggests nothing else, with this command as its `next`;
    /// any other error as it is, and `e` too when the command cannot be written safely.
    pub fn on_busy(self, ctx: &Ctx, e: CommandError) -> CommandError {
        if !e.log_locked() || e.has_next() {
            return e;
        }
        let Some((args, fill)) = self.written(ctx) else {
            return e;
        };
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        e.next_filled(&args, WHY, fill)
            .with_next_globals(&ctx.globals())
    }

    /// The command's arguments after `cortex` and its placeholders; None when a word would
    /// show a secret this process knows.
    fn written(self, ctx: &Ctx) -> Option<(Vec<String>, Vec<Fill>)> {
        let found = match &self.secrets {
            Secrets::OfRun { scope, query } => run_found(ctx, *scope, query.as_deref()),
            _ => None,
        };
        let secrecy = Secrecy::of(&self.secrets, found.as_ref());
        let mut options = Vec::new();
        let mut fill = Vec::new();
        for word in self.options {
            match word {
                Word::Plain(words) => options.extend(words),
                Word::Pair { flag, key, value } => {
                    if secrecy.known(&key) {
                        return None;
                    }
                    if secrecy.may_be_secret(flag, &key, &value) {
                        options.extend(crate::render::pair_args(flag, &key, "VALUE"));
                        fill.push(Fill::new(flag, &key));
                    } else {
                        options.extend(crate::render::pair_args(flag, &key, &value));
                    }
                }
            }
        }
        // An operand that starts with `-` would be read as an option: they go last, after
        // `--` (no name starts so, but a path or a query given may).
        let dashed = self.operands.iter().any(|o| o.starts_with('-'));
        let mut args = match (self.of_kind, &found) {
            (false, _) => Vec::new(),
            (true, Some((kind, _))) => vec![kind.group().to_string()],
            // The command's kind is its run's, which could not be read.
            (true, None) => return None,
        };
        args.extend(self.words);
        match dashed {
            true => {
                args.extend(options);
                args.push("--".to_string());
                args.extend(self.operands);
            }
            false => {
                args.extend(self.operands);
                args.extend(options);
            }
        }
        let placeholders: Vec<String> = fill
            .iter()
            .flat_map(|f| crate::render::pair_args(&f.flag, &f.name, "VALUE"))
            .collect();
        // A placeholder's word holds no value; every other word is shown as given.
        if args
            .iter()
            .any(|a| !placeholders.contains(a) && secrecy.known(a))
        {
            return None;
        }
        Some((args, fill))
    }
}

/// What this process can tell of which values are secret.
struct Secrecy {
    /// The secrets it knows: its environment's, the secret inputs it was given or holds.
    known: Redactor,
    /// The secret output keys and inputs of the definition the command acts on; None when it
    /// cannot be read (then every value of `--output` or `--input` is taken for one).
    definition: Option<(Vec<String>, Vec<String>)>,
}

impl Secrecy {
    /// As `secrets` says, the run it names found (`found`) or not.
    fn of(secrets: &Secrets, found: Option<&Found>) -> Secrecy {
        let definition = match secrets {
            Secrets::None => Some((Vec::new(), Vec::new())),
            Secrets::Of { outputs, inputs } => Some((outputs.clone(), inputs.clone())),
            Secrets::OfRun { .. } => found.and_then(|(_, w)| w.as_deref()).map(secret_keys),
        };
        Secrecy {
            known: Redactor::of_process(),
            definition,
        }
    }

    /// Whether `text` holds a secret this process knows.
    fn known(&self, text: &str) -> bool {
        self.known.redact(text) != text
    }

    /// Whether the value `value` of `key` given with `flag` may be secret: its key looks
    /// secret, it holds a secret this process knows, or the definition makes it one (an
    /// output feeding a secret `env:` entry, a secret input) — or the definition could not
    /// be read to tell.
    fn may_be_secret(&self, flag: &str, key: &str, value: &str) -> bool {
        if is_secret_name(key) || self.known(value) {
            return true;
        }
        match &self.definition {
            Some((outputs, inputs)) => match flag {
                "--output" => outputs.iter().any(|k| k == key),
                _ => inputs.iter().any(|k| k == key),
            },
            None => true,
        }
    }
}

/// A run found: its kind and its definition.
type Found = (RunKind, Option<std::sync::Arc<Workflow>>);

/// The run `query` finds among `scope`'s runs, if it can be read.
fn run_found(ctx: &Ctx, scope: Scope, query: Option<&str>) -> Option<Found> {
    let store = ctx.reading_store().ok()??;
    let run_id = find_run(&*store, scope, query).ok()?;
    let state = load_state(&*store, &run_id).ok()?;
    let kind = match &state.start {
        Some(start) => start.kind,
        None => return None,
    };
    Some((kind, state.workflow))
}

/// The secret output keys and inputs of `workflow`.
fn secret_keys(workflow: &Workflow) -> (Vec<String>, Vec<String>) {
    (
        secret_outputs(workflow)
            .into_iter()
            .map(|(_, k)| k)
            .collect(),
        secret_inputs(workflow).into_iter().collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoreError;

    fn ctx() -> Ctx {
        let home = std::env::temp_dir().join("cortex-retry-test-no-home");
        Ctx::new(Some(home)).expect("a context")
    }

    fn busy() -> CommandError {
        CommandError::from(StoreError::Busy)
    }

    fn next(e: &CommandError) -> serde_json::Value {
        e.document()["next"].clone()
    }

    /// A busy log's error names the command again, its operands before its options, a value
    /// whose key looks secret a placeholder listed in `fill`; a value starting with `-` is
    /// joined to its flag, which the parser would otherwise read as an option.
    #[test]
    fn a_busy_logs_error_suggests_the_command_again_with_its_secret_values_as_placeholders() {
        let by = Operator {
            actor: crate::execute::default_actor(),
            message: Some("-done".into()),
        };
        let e = Retry::command(&["orchestrate", "complete"])
            .operand("sc")
            .operand("build")
            .switch("--no-drive", true)
            .outputs(&[
                ("plain".into(), "shown $(x)".into()),
                ("api_token".into(), "s3cr3t".into()),
            ])
            .by(&by)
            .on_busy(&ctx(), busy());
        let next = next(&e);
        let argv: Vec<String> = serde_json::from_value(next[0]["argv"].clone()).unwrap();
        assert!(!argv.iter().any(|a| a.contains("s3cr3t")), "{next:#}");
        assert_eq!(
            argv[argv.len() - 10..],
            [
                "orchestrate",
                "complete",
                "sc",
                "build",
                "--no-drive",
                "--output",
                "plain=shown $(x)",
                "--output",
                "api_token=VALUE",
                "--message=-done"
            ]
        );
        assert_eq!(
            next[0]["fill"],
            serde_json::json!([{"flag": "--output", "name": "api_token"}])
        );
    }

    /// An operand that starts with `-` goes last, after `--`.
    #[test]
    fn an_operand_that_looks_like_an_option_follows_a_double_dash() {
        let e = Retry::command(&["workflow", "stop"])
            .operand("-odd")
            .switch("--x", true)
            .on_busy(&ctx(), busy());
        let argv: Vec<String> = serde_json::from_value(next(&e)[0]["argv"].clone()).unwrap();
        assert_eq!(
            argv[argv.len() - 5..],
            ["workflow", "stop", "--x", "--", "-odd"]
        );
    }

    /// Only a busy log's error is given the command again, and one that suggests something
    /// else already keeps it alone.
    #[test]
    fn only_a_busy_log_that_suggests_nothing_else_is_given_the_command_again() {
        let other = Retry::command(&["workflow", "stop"])
            .on_busy(&ctx(), CommandError::bad_input("no such run"));
        assert!(!other.has_next());
        let resumed = busy().next(&["workflow", "resume", "R"], "go on");
        let kept = Retry::command(&["workflow", "stop"]).on_busy(&ctx(), resumed);
        assert_eq!(next(&kept).as_array().unwrap().len(), 1);
        assert_eq!(next(&kept)[0]["why"], "go on");
    }
}
