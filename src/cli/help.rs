//! `--help` with `--json`: the help of the command asked about as one JSON document, so that
//! an AI agent that asked for JSON can read it (SPEC §5: `--json` prints one JSON document and
//! nothing else on stdout). Without `--json`, clap's own help is printed as always.
//!
//! The document is built from the same clap definitions as the text help, the manual pages
//! and the completions, so the four cannot drift.

use std::ffi::OsString;

use clap::{Arg, Command, CommandFactory};
use serde_json::{Value, json};

use super::Cli;

/// The help document of the command `args` (the raw arguments, the program's name left out)
/// asks help of: `cortex workflow status --json --help`, `cortex --json help workflow run`,
/// `cortex --json --help`.
pub fn document(args: &[OsString]) -> Value {
    let mut root = Cli::command();
    // Globals propagated, bin names (`cortex workflow status`) and the generated `--help`
    // and `--version` set, as clap has them when it prints help.
    root.build();
    describe(asked_of(&root, args))
}

/// The subcommand the arguments name: their words that are subcommand names, each of the
/// one before (an option's value, a run id or a name is no subcommand), after `help` too.
fn asked_of<'a>(root: &'a Command, args: &[OsString]) -> &'a Command {
    let mut at = root;
    let mut words = args.iter().take_while(|a| *a != "--");
    while let Some(word) = words.next() {
        let Some(word) = word.to_str() else {
            continue;
        };
        if let Some(long) = word.strip_prefix("--") {
            // `--home DIR` takes the next word as its value; `--home=DIR` does not.
            if !long.contains('=')
                && at
                    .get_arguments()
                    .find(|a| a.get_long() == Some(long))
                    .is_some_and(takes_value)
            {
                words.next();
            }
            continue;
        }
        if let Some(shorts) = word.strip_prefix('-').filter(|s| !s.is_empty()) {
            // `-i NAME=VALUE`: a short option whose value is the next word (`-iNAME=VALUE` has
            // it attached).
            let mut chars = shorts.chars();
            if let (Some(c), None) = (chars.next(), chars.next())
                && at
                    .get_arguments()
                    .find(|a| a.get_short() == Some(c))
                    .is_some_and(takes_value)
            {
                words.next();
            }
            continue;
        }
        match at.find_subcommand(word) {
            // clap's generated `help NAME...`: the words after it name the command.
            Some(sub) if sub.get_name() == "help" => {}
            Some(sub) => at = sub,
            // A positional value (a name, a run id): no subcommand below it.
            None => {}
        }
    }
    at
}

fn takes_value(arg: &Arg) -> bool {
    arg.get_action().takes_values()
}

fn text(styled: Option<&clap::builder::StyledStr>) -> Value {
    styled.map_or(Value::Null, |s| Value::String(s.to_string()))
}

/// The help of `cmd` as a document: its command line, what it does, its arguments, options
/// and subcommands, each with its help.
fn describe(cmd: &Command) -> Value {
    let name = cmd
        .get_bin_name()
        .unwrap_or_else(|| cmd.get_name())
        .to_string();
    let usage = cmd.clone().render_usage().to_string();
    let usage = usage.strip_prefix("Usage: ").unwrap_or(&usage).trim();
    let visible = cmd.get_arguments().filter(|a| !a.is_hide_set());
    let (positionals, options): (Vec<&Arg>, Vec<&Arg>) = visible.partition(|a| a.is_positional());
    let subcommands: Vec<Value> = cmd
        .get_subcommands()
        .filter(|s| !s.is_hide_set())
        .map(|s| {
            json!({
                "name": s.get_name(),
                "command": s.get_bin_name().unwrap_or_else(|| s.get_name()),
                "about": text(s.get_about()),
            })
        })
        .collect();
    json!({
        "help": true,
        "command": name,
        "path": name.split_whitespace().collect::<Vec<_>>(),
        "about": text(cmd.get_about()),
        "long_about": text(cmd.get_long_about()),
        "usage": usage,
        "version": cmd.get_version(),
        "arguments": positionals.into_iter().map(argument).collect::<Vec<_>>(),
        "options": options.into_iter().map(option).collect::<Vec<_>>(),
        "subcommands": subcommands,
    })
}

/// What both kinds of argument say: their help, whether required or repeatable, their
/// values.
fn common(arg: &Arg) -> serde_json::Map<String, Value> {
    let values: Vec<Value> = arg
        .get_possible_values()
        .iter()
        .filter(|v| !v.is_hide_set())
        .map(|v| json!({ "value": v.get_name(), "help": text(v.get_help()) }))
        .collect();
    let defaults: Vec<String> = arg
        .get_default_values()
        .iter()
        .map(|d| d.to_string_lossy().into_owned())
        .collect();
    let multiple = arg.get_num_args().is_some_and(|n| n.max_values() > 1)
        || matches!(
            arg.get_action(),
            clap::ArgAction::Append | clap::ArgAction::Count
        );
    let mut map = serde_json::Map::new();
    map.insert("help".into(), text(arg.get_long_help().or(arg.get_help())));
    map.insert("required".into(), arg.is_required_set().into());
    map.insert("multiple".into(), multiple.into());
    map.insert(
        "value_name".into(),
        match arg.get_value_names() {
            Some(names) if takes_value(arg) => Value::String(
                names
                    .iter()
                    .map(|n| n.as_str())
                    .collect::<Vec<_>>()
                    .join(" "),
            ),
            _ if takes_value(arg) => Value::String(arg.get_id().as_str().to_uppercase()),
            _ => Value::Null,
        },
    );
    // A flag's "default" (`false`) is clap's, not a value anyone gives.
    map.insert(
        "default".into(),
        match defaults.len() {
            _ if !takes_value(arg) => Value::Null,
            0 => Value::Null,
            1 => Value::String(defaults[0].clone()),
            _ => defaults.into(),
        },
    );
    map.insert("possible_values".into(), values.into());
    map.insert(
        "env".into(),
        arg.get_env()
            .map_or(Value::Null, |e| e.to_string_lossy().into_owned().into()),
    );
    map
}

fn argument(arg: &Arg) -> Value {
    let mut map = serde_json::Map::new();
    map.insert("name".into(), arg.get_id().as_str().into());
    map.extend(common(arg));
    Value::Object(map)
}

fn option(arg: &Arg) -> Value {
    let mut map = serde_json::Map::new();
    map.insert(
        "long".into(),
        arg.get_long()
            .map_or(Value::Null, |l| format!("--{l}").into()),
    );
    map.insert(
        "short".into(),
        arg.get_short()
            .map_or(Value::Null, |s| format!("-{s}").into()),
    );
    map.insert("takes_value".into(), takes_value(arg).into());
    map.insert("global".into(), arg.is_global_set().into());
    map.extend(common(arg));
    Value::Object(map)
}
