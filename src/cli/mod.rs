//! The command-line shell: parse arguments, call the library, print. The only module that
//! writes to stdout and stderr.

mod agent;
mod args;
mod context;
mod drive;
mod error;
mod log;
mod observer;
mod orchestrate;
mod schema;
mod tui;
mod workflow;

use std::io::Write;

use clap::Parser;

pub use args::Cli;
pub use error::{CommandError, exit};
pub use schema::schema_text;

use args::TopCommand;
use context::Ctx;

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

/// The width of the widest `name` of JSON rows, for aligned tables.
pub(crate) fn name_width(rows: &[serde_json::Value]) -> usize {
    rows.iter()
        .filter_map(|r| r["name"].as_str())
        .map(str::len)
        .max()
        .unwrap_or(4)
}

/// Print one JSON document on stdout.
pub(crate) fn out_json<T: serde::Serialize>(value: &T) {
    let mut text = serde_json::to_string_pretty(value).expect("documents serialise");
    text.push('\n');
    out_json_text(&text);
}

/// Run the command line and return the process exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() {
                exit::BAD_INPUT
            } else {
                exit::OK
            };
            match misleading_tip(&e) {
                Some(text) => err(&text),
                None => {
                    let _ = e.print();
                }
            }
            return code;
        }
    };
    // Printed output is never coloured, so `--no-color` and NO_COLOR hold for it by
    // construction (the emoji badges are text); only the TUI has colours to turn off.
    let json = cli.json;
    let ctx = match Ctx::new(cli.home.clone(), json) {
        Ok(ctx) => ctx,
        Err(e) => return report(e, json),
    };
    let result = match cli.command {
        TopCommand::Workflow(cmd) => workflow::dispatch(&ctx, cmd),
        TopCommand::Orchestrate(cmd) => orchestrate::dispatch(&ctx, cmd),
        TopCommand::Agent(cmd) => agent::dispatch(&ctx, cmd),
        TopCommand::Log(cmd) => log::dispatch(&ctx, cmd),
        TopCommand::Tui { actor } => tui::run(&ctx, actor, cli.no_color),
        TopCommand::Schema { name } => schema::print(&name),
    };
    match result {
        Ok(code) => code,
        Err(e) => report(e, json),
    }
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

fn report(e: CommandError, json: bool) -> i32 {
    if json {
        out_json(&serde_json::json!({
            "error": e.message,
            "detail": e.detail,
            "hints": e.hints,
            "exit_code": e.code,
        }));
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
    err(&text);
    e.code
}
