//! The command-line shell: parse arguments, call an operation (`crate::ops`), print what it
//! returns. The only module that writes to stdout and stderr.

mod args;
mod commands;
mod completions;
mod help;
mod man;
mod observer;
mod schema;
mod tui;

use std::io::Write;

pub use crate::ops::{CommandError, exit};
pub use args::Cli;
pub use schema::schema_text;

use crate::ops::{Ctx, Output};

/// Write to stdout, ignoring a closed pipe (`cortex log show | head` must not panic).
/// Text for people: control characters from the log are shown, never obeyed
/// (`render::terminal_safe`).
pub(crate) fn out(text: &str) {
    write_stdout(&crate::render::terminal_safe(text));
}

/// JSON text (a document or JSON Lines) on stdout, its active characters escaped losslessly.
pub(crate) fn out_json_text(text: &str) {
    write_stdout(&crate::render::json_safe(text));
}

/// Bytes on stdout as they are (`logs --raw`), given in pieces: to a terminal, decoded as
/// `cortex logs` shows them (`render::AttemptText`, whatever the cuts between pieces) and with
/// control characters shown escaped as `out` does, since there they would act rather than be
/// read.
pub(crate) struct RawOut {
    /// Decoding for a terminal; `None`: the bytes as they are.
    terminal: Option<crate::render::AttemptText>,
}

impl RawOut {
    pub(crate) fn new() -> RawOut {
        use std::io::IsTerminal;
        RawOut {
            terminal: std::io::stdout()
                .is_terminal()
                .then(crate::render::AttemptText::new),
        }
    }

    pub(crate) fn write(&mut self, bytes: &[u8]) {
        match &mut self.terminal {
            Some(decoder) => out(&decoder.push(bytes)),
            None => {
                let mut stdout = std::io::stdout().lock();
                let _ = stdout.write_all(bytes);
                let _ = stdout.flush();
            }
        }
    }

    /// The end of the bytes: to a terminal, what the decoder held back.
    pub(crate) fn finish(self) {
        if let Some(decoder) = self.terminal {
            out(&decoder.finish(true));
        }
    }
}

fn write_stdout(text: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(text.as_bytes());
    let _ = stdout.flush();
}

/// Write to stderr, ignoring errors; control characters are shown, never obeyed.
pub(crate) fn err(text: &str) {
    let text = crate::render::terminal_safe(text);
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}

/// Say a warning on stderr, and keep it: a command that then fails gives it in its error's
/// document too (`report`), as one that succeeds does in its own (`print`). Before, a warning
/// said on the way to an error (a definition changed since its run started, then the drive
/// stopped on a fault of the home) reached stderr only, never the `--json` document on stdout.
pub(crate) fn warn(message: &str) {
    err(&format!("warning: {message}\n"));
    let mut said = SAID.lock().unwrap_or_else(|e| e.into_inner());
    if !said.iter().any(|w| w == message) {
        // A process that lives for days (`cortex worker`, `serve`) says warnings of run
        // after run: only the latest are kept, as many as an error's document could use.
        if said.len() >= SAID_KEPT {
            said.remove(0);
        }
        said.push(message.to_string());
    }
}

/// The most warnings `warn` keeps for an error's document.
const SAID_KEPT: usize = 100;

/// The warnings this command has said on stderr (`warn`).
static SAID: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

fn said() -> Vec<String> {
    SAID.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

/// Print one JSON document on stdout.
pub(crate) fn out_json<T: serde::Serialize>(value: &T) {
    let mut text = serde_json::to_string_pretty(value).expect("documents serialise");
    text.push('\n');
    out_json_text(&text);
}

/// Run the command line and return the process exit code.
pub fn main() -> i32 {
    crate::execute::survive_file_size_limit();
    // A worker's guard (`execute::start_guard`) is this program started again, not a command.
    let mut args = std::env::args_os().skip(1);
    if args.next().as_deref() == Some(std::ffi::OsStr::new(crate::execute::GUARD_ARG)) {
        // Its input is a worker's pipe; from a terminal it would wait for an end of input
        // deaf to Ctrl-C.
        if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
            err(&format!(
                "error: `{}` is internal to `cortex worker` (its guard), not a command\nhint: see `cortex --help`\n",
                crate::execute::GUARD_ARG
            ));
            return exit::BAD_INPUT;
        }
        let grace = args.next();
        return crate::execute::guard_main(grace.as_deref().and_then(|g| g.to_str()));
    }
    // clap's `--help` is printed output too: `--no-color` turns its styles off as NO_COLOR
    // does (clap reads NO_COLOR itself, but not our flag, which it has not parsed yet).
    let mut command = <Cli as clap::CommandFactory>::command();
    if flag_asked("--no-color") {
        command = command.color(clap::ColorChoice::Never);
    }
    let parsed = command
        .try_get_matches()
        .and_then(|m| <Cli as clap::FromArgMatches>::from_arg_matches(&m));
    let cli = match parsed {
        Ok(cli) => cli,
        Err(e) => {
            // `--help` (or `--version`) with `--json`: the help as one JSON document, for an
            // agent that asked for JSON. Before, clap's text came out, which no JSON reader
            // takes.
            use clap::error::ErrorKind;
            if json_asked()
                && matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion)
            {
                let doc = match e.kind() {
                    ErrorKind::DisplayHelp => {
                        help::document(&std::env::args_os().skip(1).collect::<Vec<_>>())
                    }
                    _ => serde_json::json!({
                        "name": "cortex",
                        "version": env!("CARGO_PKG_VERSION"),
                    }),
                };
                out_json(&doc);
                return exit::OK;
            }
            let code = if e.use_stderr() {
                exit::BAD_INPUT
            } else {
                exit::OK
            };
            let meant = seed_phrasing(&e);
            let text = match misleading_tip(&e) {
                Some(text) => text,
                None if e.use_stderr() => without_dash_dash_tip(&e.render().to_string()),
                None => {
                    let _ = e.print();
                    return code;
                }
            };
            let text = match &meant {
                Some(meant) => with_meant_tip(&text, meant),
                None => text,
            };
            let text = crate::render::cut_long_words(&text);
            // With --json, stdout still carries one document: the error's, as for every
            // other bad input (an agent reading stdout is never left with nothing).
            if json_asked() {
                let mut e = if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                    missing_subcommand(&text)
                } else {
                    usage_error(&text)
                };
                if let Some(meant) = &meant {
                    let args: Vec<&str> = meant.iter().map(String::as_str).collect();
                    e.hints.insert(
                        0,
                        crate::ops::Hint::default()
                            .then("did you mean ")
                            .command(&args)
                            .then("?"),
                    );
                }
                out_json(&e.document());
            }
            // An error quotes what was given: shown, never obeyed, like every other.
            err(&text);
            return code;
        }
    };
    // Printed output is never coloured, so `--no-color` and NO_COLOR hold for it by
    // construction (the emoji badges are text); only the TUI has colours to turn off.
    let json = cli.json;
    let ctx = match Ctx::new(cli.home.clone()) {
        Ok(ctx) => ctx.with_db(cli.db.clone()),
        Err(e) => return report(e, json),
    };
    let ctx = Ctx {
        announce: Some(|line| err(&format!("{line}\n"))),
        deliveries: crate::ops::Deliveries::WaitUnlessInterrupted,
        ..ctx
    };
    match commands::dispatch(&ctx, json, cli.no_color, cli.command) {
        Ok(code) => code,
        Err(e) => report(ctx.localize(e), json),
    }
}

/// Print what an operation returned (its document with `--json`, else its text; warnings on
/// stderr), and give its exit code.
pub(crate) fn print(json: bool, output: Output) -> i32 {
    if json || !output.warnings_in_text {
        // Those said as they came (`Output::said`) are not said again.
        for w in output.warnings.iter().filter(|w| !output.said.contains(w)) {
            warn(w);
        }
    }
    if json {
        out_json(&output.document());
    } else {
        out(&crate::render::whole_lines(&output.human));
    }
    output.code
}

/// Whether the command line asks for JSON (`--json` before any `--`), read from the raw
/// arguments: for when they did not parse.
fn json_asked() -> bool {
    flag_asked("--json")
}

/// Whether the command line gives `flag` before any `--`, however it parses.
fn flag_asked(flag: &str) -> bool {
    std::env::args_os()
        .skip(1)
        .take_while(|a| a != "--")
        .any(|a| a == flag)
}

/// A usage error clap rendered (`error: WHAT`, then the detail: usage, tips) as the error
/// every other bad input is.
/// A message that ends in a colon (`the following required arguments were not provided:`)
/// takes the indented lines under it (`  <STEP>`), so that it says what it is about; the
/// usage line gives the hint of the command's own `--help`.
/// The message is its lines up to the blank line before the usage (`message_line`): a value
/// given with a line break in it (`--at "$(printf '1\n2')"`) spans them, never cut in the
/// middle, and so does clap's own layout (`  [possible values: …]` under the message).
fn usage_error(text: &str) -> CommandError {
    let mut lines = text.lines().peekable();
    let first = lines.next().unwrap_or_default();
    let mut message = first
        .strip_prefix("error: ")
        .unwrap_or(first)
        .trim_start()
        .to_string();
    if !message.ends_with(':') {
        while let Some(more) = lines.next_if(|l| {
            !l.trim().is_empty() && !l.starts_with("Usage: ") && !l.starts_with("  tip: ")
        }) {
            message.push('\n');
            message.push_str(more);
        }
    }
    let given: Vec<String> = std::env::args_os()
        .skip(1)
        .filter_map(|a| a.into_string().ok())
        .collect();
    let mut message = message_line(&message, &given).trim_end().to_string();
    if message.ends_with(':') {
        let mut items = Vec::new();
        while let Some(item) = lines.next_if(|l| l.starts_with("  ") && !l.trim().is_empty()) {
            items.push(item.trim());
        }
        if !items.is_empty() {
            message = format!("{message} {}", items.join(", "));
        }
    }
    let mut e = CommandError::bad_input(message);
    let detail = lines.collect::<Vec<_>>().join("\n");
    let detail = detail.trim_matches('\n');
    e.detail = (!detail.is_empty()).then(|| format!("{detail}\n"));
    // `Usage: cortex workflow step complete <STEP>`: the subcommand is the words before the
    // first argument or option. A value refused by its parser (`status --at x`) has no usage
    // line: its subcommand is read from the command line. Before, that error had no hint.
    let command: Vec<String> = match text.lines().find_map(|l| l.strip_prefix("Usage: ")) {
        Some(usage) => usage
            .split_whitespace()
            .take_while(|w| !w.starts_with(['<', '[', '-']))
            .skip_while(|w| *w == "cortex")
            .map(str::to_string)
            .collect(),
        None => subcommand_asked(),
    };
    let help: Vec<&str> = command
        .iter()
        .map(String::as_str)
        .chain(["--help"])
        .collect();
    e.hint(crate::ops::Hint::suggest(&help).then(" shows what it takes"))
}

/// clap's message (its lines, `block`) as one line: a line break inside a value given on the
/// command line (`given`) is shown as `\n`, so that the value reads whole; any other is
/// clap's layout, joined with a space. Before, every break was shown as `\n`, and `schema
/// nope`'s error read "for '<NAME>'\n  [possible values: …]" with a backslash in it.
fn message_line(block: &str, given: &[String]) -> String {
    let mut text = block.to_string();
    // A value may be quoted whole (`bogus\nx`) or after its option's `=` (`--at=1\n2`);
    // the longest first, so that a part of one is not escaped before the whole of it.
    let mut values: Vec<&str> = given
        .iter()
        .filter(|a| a.contains('\n'))
        .flat_map(|a| [Some(a.as_str()), a.split_once('=').map(|(_, v)| v)])
        .flatten()
        .filter(|v| v.contains('\n'))
        .collect();
    values.sort_by_key(|v| std::cmp::Reverse(v.len()));
    for value in values {
        text = text.replace(value, &value.replace('\n', "\\n"));
    }
    let mut lines = text.lines();
    let mut out = lines.next().unwrap_or_default().to_string();
    for line in lines {
        out.push(' ');
        out.push_str(line.trim_start());
    }
    out
}

/// The subcommand the raw command line names (`["workflow", "status"]`), as far as its words
/// are subcommands: for a usage error that has no usage line to read it from.
fn subcommand_asked() -> Vec<String> {
    use clap::CommandFactory;
    let mut command = Cli::command();
    let mut path = Vec::new();
    for arg in std::env::args_os().skip(1).take_while(|a| a != "--") {
        let Some(arg) = arg.to_str() else { continue };
        if arg.starts_with('-') {
            continue;
        }
        match command.find_subcommand(arg) {
            Some(sub) => {
                path.push(sub.get_name().to_string());
                let sub = sub.clone();
                command = sub;
            }
            None if command.has_subcommands() => continue,
            None => break,
        }
    }
    path
}

/// A command that takes a subcommand, given none (`cortex workflow`): clap answers with the
/// command's help, whose first line is what the command is about. As a `--json` error that
/// line was the message ("Ordered steps with validation gates, ..."), which says nothing of
/// what went wrong: the message says a subcommand is needed and which there are, the help
/// is the detail, and the hint is the command's `--help`, as for every other usage error.
fn missing_subcommand(text: &str) -> CommandError {
    use clap::CommandFactory;
    let path = subcommand_asked();
    let mut command = Cli::command();
    for name in &path {
        match command.find_subcommand(name) {
            Some(sub) => {
                let sub = sub.clone();
                command = sub;
            }
            None => break,
        }
    }
    let names: Vec<&str> = command
        .get_subcommands()
        .filter(|c| !c.is_hide_set() && c.get_name() != "help")
        .map(|c| c.get_name())
        .collect();
    let shown = ["cortex"]
        .into_iter()
        .chain(path.iter().map(String::as_str))
        .collect::<Vec<_>>()
        .join(" ");
    let mut e = CommandError::bad_input(format!("`{shown}` needs a command: {}", names.join(", ")));
    e.detail = Some(format!("{}\n", text.trim_end()));
    let help: Vec<&str> = path.iter().map(String::as_str).chain(["--help"]).collect();
    e.hint(crate::ops::Hint::suggest(&help).then(" shows what each does"))
}

/// Other words for a subcommand, as people (and seed 000) say them: `execute` a workflow is
/// to `run` it.
const SYNONYMS: &[(&str, &str)] = &[("execute", "run"), ("exec", "run"), ("launch", "run")];

/// The command meant by a line in seed 000's phrasing, which clap does not know: the verb
/// before its group (`resume workflow`, `execute workflow`, `status workflow`), a word before
/// the command (`show workflow status`), or a verb cortex says otherwise (`workflow
/// execute`). Its argv after `cortex`, the rest of the line
/// as given (`workflow resume RUN`). clap's nearest name was no answer to those: `resume`
/// got "a similar subcommand exists: 'serve'", `execute` nothing at all (review m, finding 6).
fn seed_phrasing(e: &clap::Error) -> Option<Vec<String>> {
    use clap::CommandFactory;
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if e.kind() != ErrorKind::InvalidSubcommand {
        return None;
    }
    let ContextValue::String(given) = e.get(ContextKind::InvalidSubcommand)? else {
        return None;
    };
    let args: Vec<String> = std::env::args_os()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    // The words that may name commands: not options, nor the value of `--home`/`--db`,
    // nor anything after `--`.
    let mut words: Vec<usize> = Vec::new();
    let mut value_next = false;
    for (i, a) in args.iter().enumerate() {
        if a == "--" {
            break;
        }
        if std::mem::take(&mut value_next) {
            continue;
        }
        if a.starts_with('-') {
            value_next = matches!(a.as_str(), "--home" | "--db");
            continue;
        }
        words.push(i);
    }
    let top = Cli::command();
    let verb_in = |group: &clap::Command, verb: &str| -> Option<String> {
        let verb = SYNONYMS
            .iter()
            .find(|(said, _)| *said == verb)
            .map_or(verb, |(_, meant)| meant);
        group
            .find_subcommand(verb)
            .map(|c| c.get_name().to_string())
    };
    let at = *words.iter().find(|&&i| args[i] == *given)?;
    let before: Vec<&String> = words
        .iter()
        .filter(|&&i| i < at)
        .map(|&i| &args[i])
        .collect();
    let mut meant = args.clone();
    match before.as_slice() {
        // The verb first: the next word names the group it belongs to (`resume workflow`);
        // or a word before the command itself (`show workflow status`), left out.
        [] => {
            let mut after = words.iter().filter(|&&i| i > at);
            let next = *after.next()?;
            let group = top.find_subcommand(&args[next])?;
            match verb_in(group, given) {
                Some(verb) => {
                    meant[at] = group.get_name().to_string();
                    meant[next] = verb;
                }
                None => {
                    let third = *after.next()?;
                    group.find_subcommand(&args[third])?;
                    meant.remove(at);
                }
            }
        }
        // A group's verb said otherwise.
        [group] => {
            let group = top.find_subcommand(group.as_str())?;
            let verb = verb_in(group, given).filter(|v| v != given)?;
            meant[at] = verb;
        }
        _ => return None,
    }
    Some(meant)
}

/// clap's text of an unknown subcommand with the tip `seed_phrasing` found in place of
/// clap's own (a similar name that is another command: `serve` for `resume`).
fn with_meant_tip(text: &str, meant: &[String]) -> String {
    let words: Vec<&str> = std::iter::once("cortex")
        .chain(meant.iter().map(String::as_str))
        .collect();
    let tip = format!(
        "  tip: did you mean `{}`?\n",
        crate::render::command_line(&words)
    );
    let mut lines = text.split_inclusive('\n');
    let first = lines.next().unwrap_or_default();
    // clap's lines but its own tip, from the first that is not blank.
    let rest: String = lines
        .filter(|l| {
            !l.trim_start()
                .starts_with("tip: a similar subcommand exists")
        })
        .skip_while(|l| l.trim().is_empty())
        .collect();
    format!("{first}\n{tip}\n{rest}")
}

/// clap answers an unknown flag with the closest known one, which for `--verbose` is
/// `--version` (and its usage line then shows `cortex --version <COMMAND>`): a suggestion
/// that does something else entirely. Such an error is said plainly instead.
fn misleading_tip(e: &clap::Error) -> Option<String> {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if e.kind() != ErrorKind::UnknownArgument {
        return None;
    }
    let suggested = match e.get(ContextKind::SuggestedArg)? {
        ContextValue::String(s) => s.clone(),
        _ => return None,
    };
    if !matches!(suggested.as_str(), "--version" | "--help" | "-V" | "-h") {
        return None;
    }
    let given = match e.get(ContextKind::InvalidArg)? {
        ContextValue::String(s) => s.clone(),
        _ => return None,
    };
    Some(format!(
        "error: unexpected argument '{given}' found\n\nFor the commands and options there are, try 'cortex --help'.\n"
    ))
}

/// clap answers an unknown option of a command that takes a name with "tip: to pass
/// '--from' as a value, use '-- --from'": no name may start with `-` (the name rule), so
/// that command is refused too. The tip is left out; the usage line and `--help` stay.
fn without_dash_dash_tip(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut skip_blank = false;
    for line in text.split_inclusive('\n') {
        if line.trim_start().starts_with("tip: to pass '") && line.contains("as a value, use '-- ")
        {
            skip_blank = true;
            continue;
        }
        if skip_blank && line.trim().is_empty() {
            skip_blank = false;
            continue;
        }
        skip_blank = false;
        out.push_str(line);
    }
    out
}

fn report(e: CommandError, json: bool) -> i32 {
    // What was said on stderr before the error is in its document too (a reader of stdout
    // alone learns of it), then the error's own warnings, said here if they were not.
    let mut e = e;
    let mut warnings = said();
    for w in e.take_warnings() {
        if !warnings.contains(&w) {
            warn(&w);
            warnings.push(w);
        }
    }
    let e = e.warn(warnings);
    // An error quotes what it was given (a path, a name, a value): one of megabytes is cut, in
    // both forms (`CommandError::document` cuts its own), so that the error stays readable.
    if json {
        out_json(&e.document());
    }
    let mut text = format!("error: {}\n", e.message);
    if let Some(d) = &e.detail {
        text.push_str(d);
        if !d.ends_with('\n') {
            text.push('\n');
        }
    }
    for h in &e.hints {
        text.push_str(&format!("hint: {h}\n"));
    }
    err(&crate::render::cut_long_words(&text));
    e.code
}
