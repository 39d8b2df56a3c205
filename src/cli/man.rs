//! Manual pages (roff), made by clap_mangen from the command line itself: `cortex man` the top
//! page (with the exit statuses, environment and files every command shares), `cortex man
//! workflow run` any subcommand's page, `cortex man --all DIR` every page as files.

use std::path::Path;

use clap::CommandFactory;

use super::CommandError;
use super::exit;

/// What every command shares, in the top page only (roff).
const SHARED_SECTIONS: &str = r#".SH "EXIT STATUS"
.TP
\fB0\fR
Done: the run completed, or the command did what it was asked.
.TP
\fB1\fR
Failed: a step or phase failed, the log does not verify, or something outside the input went wrong.
.TP
\fB2\fR
Bad input: an unknown run, step or input, a definition that does not validate, a bad flag; nothing was recorded.
.TP
\fB3\fR
Waiting or stopped: the run waits for a report (a prompt step, a manual phase) or was stopped; \fBresume\fR goes on.
.TP
\fB4\fR
Held: another process drives the run, or another program holds the SQLite log's write lock (a \fBsqlite3\fR session in a transaction, a backup or \fBVACUUM\fR): a report gives up after 10 s, a driver after \fBCORTEX_LOG_LOCK_WAIT\fR; try again once the lock is let go.
.SH ENVIRONMENT
.TP
\fBCORTEX_HOME\fR
Where definitions (\fBworkflows/\fR, \fBscenarios/\fR, \fBagents/\fR), the configuration and the event log live (default: \fI~/.cortex\fR); \fB\-\-home\fR overrides it.
.TP
\fBCORTEX_DB\fR
Where the event log is: a PostgreSQL URL (\fBpostgres://user@host:port/db\fR) or libpq \fBkey=value\fR string, or a SQLite path; \fB\-\-db\fR overrides it, and it overrides \fBdb\fR in the configuration.
.TP
\fBCORTEX_SERVE_TOKEN\fR
The token \fBcortex serve\fR asks of every change (generated and printed when not set).
.TP
\fBCORTEX_LOG_LOCK_WAIT\fR
How long a command waits, in all, for another program's write lock on the SQLite log (\fB30m\fR, \fB90s\fR, seconds; default: an hour for a driver, 10 s for a report) before it gives up with exit 4.
.TP
\fBCORTEX_INPUT_\fR\fINAME\fR
A secret input's value given to cortex out of sight of \fBps\fR (as \fB\-\-input\fR gives any input): a resume, a report or a worker of a run with secret inputs needs them again, since they are never stored (\fBCORTEX_INPUT_API_TOKEN=... cortex workflow step complete RUN STEP\fR). Any case of \fINAME\fR is matched.
.TP
\fBNO_COLOR\fR
No colours in the terminal UI (printed output is never coloured).
.TP
\fBCORTEX_RUN_ID\fR, \fBCORTEX_STEP\fR, \fBCORTEX_ATTEMPT\fR, \fBCORTEX_OUTPUT\fR, \fBCORTEX_INPUT_\fR\fINAME\fR, \fBCORTEX_ITEM\fR, \fBCORTEX_ITEM_INDEX\fR
Set by cortex for the commands it runs: the run, the step and its attempt, the file to write \fBkey=value\fR outputs to, the inputs (secret ones too), and a \fBforeach:\fR item.
.SH FILES
.TP
\fI$CORTEX_HOME/cortex.db\fR
The event log (SQLite), unless \fBCORTEX_DB\fR or \fB\-\-db\fR names another.
.TP
\fI$CORTEX_HOME/cortex.config.json\fR
The configuration (\fBcortex schema config\fR describes it).
.TP
\fI$CORTEX_HOME/workflows/\fR, \fI$CORTEX_HOME/scenarios/\fR, \fI$CORTEX_HOME/agents/\fR
Definitions found by name (\fBcortex schema workflow\fR, \fBscenario\fR, \fBagent\fR describe them).
.TP
\fI$CORTEX_HOME/logs/\fIRUN\fI/\fR
The whole output of each attempt (\fBcortex logs\fR), checked by \fBcortex log verify\fR.
.TP
\fI$CORTEX_HOME/runs/\fIRUN\fI/\fR
Files derived from the log (checkpoints, results), rebuilt when needed; \fBcortex gc\fR removes old ones.
"#;

/// The command line as clap builds it (display names `cortex-workflow-run` and so on).
fn built() -> clap::Command {
    let mut cmd = super::Cli::command().disable_help_subcommand(true);
    cmd.build();
    cmd
}

/// The page of one command, roff; the top page carries the shared sections.
fn page(cmd: &clap::Command, top: bool) -> Result<Vec<u8>, std::io::Error> {
    let man = clap_mangen::Man::new(cmd.clone())
        .source(format!("cortex {}", env!("CARGO_PKG_VERSION")))
        .manual("cortex manual");
    let mut buf = Vec::new();
    if !top {
        man.render(&mut buf)?;
        return Ok(buf);
    }
    man.render_title(&mut buf)?;
    man.render_name_section(&mut buf)?;
    man.render_synopsis_section(&mut buf)?;
    man.render_description_section(&mut buf)?;
    man.render_options_section(&mut buf)?;
    man.render_subcommands_section(&mut buf)?;
    buf.extend_from_slice(SHARED_SECTIONS.as_bytes());
    man.render_version_section(&mut buf)?;
    Ok(buf)
}

fn failed(what: String) -> impl FnOnce(std::io::Error) -> CommandError {
    move |e| CommandError::new(exit::FAILED, format!("{what}: {e}"))
}

/// `cortex man [COMMAND...]`: the page of `cortex` or of one of its subcommands, roff.
pub fn one(path: &[String]) -> Result<Vec<u8>, CommandError> {
    let mut cmd = built();
    let mut walked = vec!["cortex".to_string()];
    for name in path {
        let found = cmd
            .get_subcommands()
            .find(|s| {
                !s.is_hide_set() && (s.get_name() == name || s.get_all_aliases().any(|a| a == name))
            })
            .cloned();
        let Some(sub) = found else {
            let names: Vec<&str> = cmd
                .get_subcommands()
                .filter(|s| !s.is_hide_set())
                .map(clap::Command::get_name)
                .collect();
            let hint = if names.is_empty() {
                format!(
                    "`{}` has no subcommands: `cortex man {}`",
                    walked.join(" "),
                    path[..walked.len() - 1].join(" ")
                )
            } else {
                format!(
                    "the subcommands of `{}`: {}",
                    walked.join(" "),
                    names.join(", ")
                )
            };
            return Err(CommandError::bad_input(format!(
                "`{}` has no subcommand `{name}`",
                walked.join(" ")
            ))
            .hint(hint));
        };
        walked.push(name.clone());
        cmd = sub;
    }
    page(&cmd, path.is_empty()).map_err(failed("cannot render the manual page".into()))
}

/// Write `text` as `dir/name`, replacing what is there without writing through it: the page
/// goes into a new file beside it, then is renamed over the name, so a symbolic link (or a
/// hard link) at that name is replaced, never the file it points to, and a reader never sees
/// half a page.
fn replace_file(dir: &Path, name: &str, text: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let staged = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    // A leftover of a killed run of this process id: removed (a link is removed, not followed).
    match std::fs::remove_file(&staged) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&staged)
        .and_then(|mut f| f.write_all(text));
    match written.and_then(|()| std::fs::rename(&staged, dir.join(name))) {
        Ok(()) => Ok(()),
        Err(e) => {
            let _ = std::fs::remove_file(&staged);
            Err(e)
        }
    }
}

/// The refusal of directory `dir` given to `man --all`, which it cannot `verb` (create, write
/// into) for a reason of the path chosen — it cannot be there (`/proc/nope`), it is not this
/// user's to write, it is read-only: bad input (exit 2, SPEC §5), as a path that is a file is.
/// None for a failure of the machine (a full disk, an I/O error: exit 1). Before, all were
/// exit 1.
fn unusable(dir: &Path, verb: &str, e: &std::io::Error) -> Option<CommandError> {
    use std::io::ErrorKind::{NotFound, PermissionDenied, ReadOnlyFilesystem};
    let why = match e.kind() {
        NotFound => "that path cannot hold a directory here",
        PermissionDenied => "this user may not write there",
        ReadOnlyFilesystem => "that file system is read-only",
        _ => return None,
    };
    Some(
        CommandError::bad_input(format!(
            "cannot {verb} {}: {e} — {why}",
            dir.display()
        ))
        .hint("give a directory this user can write, existing or to be created (`cortex man --all ./man`)"),
    )
}

/// `cortex man --all DIR`: every page (`cortex.1`, `cortex-workflow.1`,
/// `cortex-workflow-run.1`, …) written into `dir`, created if need be; the files written.
pub fn all(dir: &Path) -> Result<Vec<String>, CommandError> {
    // A file where the directory should be (or on its way) is the caller's mistake, said as
    // such (exit 2): it was "cannot create FILE: File exists", exit 1.
    let not_a_directory = |what: String| {
        CommandError::bad_input(format!(
            "{what}: `man --all` writes its pages into a directory"
        ))
        .hint("give a directory, existing or to be created (`cortex man --all ./man`)")
    };
    if dir.exists() && !dir.is_dir() {
        return Err(not_a_directory(format!(
            "{} is not a directory",
            dir.display()
        )));
    }
    std::fs::create_dir_all(dir).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotADirectory | std::io::ErrorKind::AlreadyExists => {
            not_a_directory(format!(
                "cannot create {}: a part of that path is a file",
                dir.display()
            ))
        }
        _ => unusable(dir, "create", &e)
            .unwrap_or_else(|| failed(format!("cannot create {}", dir.display()))(e)),
    })?;
    let mut written = Vec::new();
    fn walk(
        cmd: &clap::Command,
        top: bool,
        dir: &Path,
        written: &mut Vec<String>,
    ) -> Result<(), CommandError> {
        let name = format!(
            "{}.1",
            cmd.get_display_name().unwrap_or_else(|| cmd.get_name())
        );
        let path = dir.join(&name);
        let text = page(cmd, top).map_err(failed("cannot render the manual page".into()))?;
        replace_file(dir, &name, &text).map_err(|e| {
            unusable(dir, "write into", &e)
                .unwrap_or_else(|| failed(format!("cannot write {}", path.display()))(e))
        })?;
        written.push(name);
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
            walk(sub, false, dir, written)?;
        }
        Ok(())
    }
    walk(&built(), true, dir, &mut written)?;
    Ok(written)
}
