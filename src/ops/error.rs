//! The one error type at the edge: a message, hints, and the exit code of SPEC §5.

use crate::definition::{DefinitionError, LookupError};
use crate::execute::operator::OperatorError;
use crate::execute::{JournalError, LockError};
use crate::render::{ProblemDoc, definition_problems, render_definition_error};
use crate::store::StoreError;

/// Exit codes (SPEC §5).
pub mod exit {
    pub const OK: i32 = 0;
    /// A run failed, was rolled back or aborted, or a log failed verification.
    pub const FAILED: i32 = 1;
    /// Bad input: usage, invalid definition, unknown name.
    pub const BAD_INPUT: i32 = 2;
    /// A run is waiting or stopped (resumable).
    pub const WAITING: i32 = 3;
    /// The run is held by another process.
    pub const HELD: i32 = 4;
}

/// A hint: text, with the commands it suggests kept as argv until it is printed, so that each
/// is printed as the invocation that met the error would paste it (naming its `--home` and
/// `--db`: `Ctx::localize`), through the one way suggestions are written
/// (`render::suggested_command`). Printed as is (`Display`), it names neither.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Hint {
    parts: Vec<HintPart>,
    /// What each suggested command carries after `cortex` (`Ctx::globals`), set by
    /// `CommandError::with_globals`: the hint keeps its commands as argv until it is printed.
    globals: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum HintPart {
    Text(String),
    /// A `cortex` command's arguments (after `cortex` and its global options).
    Command(Vec<String>),
}

impl Hint {
    /// A hint that suggests the command `cortex ARGS` (more text and commands follow with
    /// `then` and `command`).
    pub fn suggest(args: &[&str]) -> Hint {
        Hint::default().command(args)
    }

    /// The hint followed by `text`.
    pub fn then(mut self, text: impl Into<String>) -> Hint {
        self.parts.push(HintPart::Text(text.into()));
        self
    }

    /// The hint followed by the suggested command `cortex ARGS`.
    pub fn command(mut self, args: &[&str]) -> Hint {
        self.parts.push(HintPart::Command(
            args.iter().map(|a| a.to_string()).collect(),
        ));
        self
    }

    /// The hint with its commands carrying `globals` after `cortex` (`Ctx::suggest`).
    pub fn carrying(mut self, globals: Vec<String>) -> Hint {
        self.globals = globals;
        self
    }

    /// The hint followed by `more`.
    pub fn and(mut self, more: Hint) -> Hint {
        self.parts.extend(more.parts);
        self
    }

    /// The hint as printed, each suggested command followed by what `after` says of its argv
    /// (after `cortex` and its global options): the MCP server names the tool that does the
    /// same from the command's words, never from the printed text, whose quoted values may
    /// hold anything.
    ///
    /// A command written into the hint's text (`Ctx::cmd` in a `format!`) is found there too
    /// (`commands_in`: a backticked `cortex …`, read as the shell reads its quoted words), so
    /// that every command a hint suggests is named, however the hint was made.
    pub fn render_with(&self, after: impl Fn(&[String]) -> Option<String>) -> String {
        self.parts
            .iter()
            .map(|part| match part {
                HintPart::Text(t) => {
                    let mut out = String::with_capacity(t.len());
                    let mut from = 0;
                    for (end, argv) in commands_in(t) {
                        out.push_str(&t[from..end]);
                        if let Some(more) = after(&argv) {
                            out.push_str(&more);
                        }
                        from = end;
                    }
                    out.push_str(&t[from..]);
                    out
                }
                HintPart::Command(args) => {
                    let command = crate::render::suggested_command(&self.globals, args);
                    match after(args) {
                        Some(more) => format!("{command}{more}"),
                        None => command,
                    }
                }
            })
            .collect()
    }
}

impl From<String> for Hint {
    fn from(text: String) -> Hint {
        Hint {
            parts: vec![HintPart::Text(text)],
            globals: Vec::new(),
        }
    }
}

/// The `cortex` commands written in `text` as `suggested_command` writes them (in backticks,
/// each word plain, `'single-quoted'` or `$'ANSI-C quoted'`): for each, the byte offset just
/// past its closing backtick and its argv after `cortex` and its global options (`--home H`,
/// `--db URL`). A backtick inside a quoted word is part of the word, not the command's end.
fn commands_in(text: &str) -> Vec<(usize, Vec<String>)> {
    const START: &str = "`cortex ";
    let mut found = Vec::new();
    let mut at = 0;
    while let Some(i) = text[at..].find(START) {
        let begin = at + i + 1;
        let mut words: Vec<String> = Vec::new();
        let mut word: Option<String> = None;
        let mut chars = text[begin..].char_indices().peekable();
        let mut end = None;
        while let Some((j, c)) = chars.next() {
            match c {
                '`' => {
                    end = Some(begin + j + 1);
                    break;
                }
                ' ' => words.extend(word.take()),
                '\\' => {
                    if let Some((_, next)) = chars.next() {
                        word.get_or_insert_default().push(next);
                    }
                }
                '\'' => {
                    let w = word.get_or_insert_default();
                    for (_, q) in chars.by_ref() {
                        if q == '\'' {
                            break;
                        }
                        w.push(q);
                    }
                }
                '$' if chars.peek().is_some_and(|(_, n)| *n == '\'') => {
                    chars.next();
                    let w = word.get_or_insert_default();
                    while let Some((_, q)) = chars.next() {
                        match q {
                            '\'' => break,
                            '\\' => {
                                if let Some((_, e)) = chars.next() {
                                    w.push('\\');
                                    w.push(e);
                                }
                            }
                            q => w.push(q),
                        }
                    }
                }
                c => word.get_or_insert_default().push(c),
            }
        }
        let Some(end) = end else {
            break;
        };
        words.extend(word.take());
        let mut argv: &[String] = &words;
        if argv.first().map(String::as_str) == Some("cortex") {
            argv = &argv[1..];
            while let [flag, _, rest @ ..] = argv
                && matches!(flag.as_str(), "--home" | "--db")
            {
                argv = rest;
            }
            found.push((end, argv.to_vec()));
        }
        at = end;
    }
    found
}

impl From<&str> for Hint {
    fn from(text: &str) -> Hint {
        Hint::from(text.to_string())
    }
}

impl std::fmt::Display for Hint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.render_with(|_| None))
    }
}

impl serde::Serialize for Hint {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A failed command as the user sees it.
#[derive(Debug)]
pub struct CommandError {
    pub code: i32,
    pub message: String,
    /// Pre-rendered detail (e.g. located definition errors).
    pub detail: Option<String>,
    pub hints: Vec<Hint>,
    /// Located definition problems, for machines (`--json`, MCP, the API).
    pub errors: Vec<ProblemDoc>,
    /// What kind of failure it is beyond its exit code (the HTTP API's status tells them apart).
    pub cause: Cause,
    /// A hint that names a command on the run, which takes the run's kind and id: met where
    /// neither is known (a lock held, a decision refused, a driver fenced), it is written for
    /// the run at the edge (`Ctx::localize`, `CommandError::for_run`). Until then the hint at
    /// `RunHint::slot` says it for either kind.
    pub run_hint: Option<Box<RunHint>>,
    /// What the error's document says besides (`More`): the warnings given before it, the
    /// commands that go on from here. Boxed, and none until there is some: every `Result` of
    /// a command carries this error's size.
    pub more: Option<Box<More>>,
}

/// What an error's document says besides its message and hints (`CommandError::more`).
#[derive(Debug, Default)]
pub struct More {
    /// Warnings the command gave before it failed (a definition changed since its run
    /// started, a guard not started): the error's document carries them in `warnings`, as a
    /// success's does (`Output::document`), so that a reader of the document alone (stdout of
    /// `--json`, an MCP client, which has no stderr) has them too.
    pub warnings: Vec<String>,
    /// The commands that go on from here (a run a driver left for `resume`): the document's
    /// `next`, as a status document has it (SPEC §7), so that a program need not read a
    /// hint's text to find them.
    pub next: Vec<NextCommand>,
}

/// A command an error's document suggests in `next`: `cortex`, its global options
/// (`CommandError::with_globals`), then `args`; and why; and its placeholders (`fill`, as a
/// status document's suggestion has them: `--output KEY=VALUE` whose VALUE only the one
/// running it has).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NextCommand {
    args: Vec<String>,
    why: String,
    globals: Vec<String>,
    fill: Vec<crate::project::Fill>,
}

/// A hint to be written for its run (`CommandError::run_hint`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunHint {
    /// The index in `hints` of the hint it replaces.
    pub slot: usize,
    /// The run, where the error knows it (the held lock's).
    pub run_id: Option<String>,
    pub what: RunHintKind,
    /// A `cortex worker` holds the run: its pid and host (`Holder::worker`), to say how to
    /// stop it — not Ctrl-C in a terminal or an MCP call, which a worker has none of.
    pub worker: Option<(u32, String)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunHintKind {
    /// Another process drives the run: how to stop it, for its kind.
    Held,
    /// The run was not where the command expected it: its status.
    Decided,
    /// This driver was fenced off: where the run is held now, its status.
    Fenced,
}

/// What an error is, where its exit code alone does not say it: a run whose log does not
/// verify, a store out of reach, written full or read-only are not faults of the command
/// (the HTTP API answers 409, 503 and 507 for them, not 500).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Cause {
    #[default]
    Other,
    /// The run's log does not verify: nothing acts on it until it is put back.
    Unverified,
    /// The store cannot be reached or written now (PostgreSQL down, busy, a read-only
    /// database or file): the same request may succeed later.
    Unavailable,
    /// The store's disk is full.
    Full,
    /// The run holds an event written by a newer cortex: upgrade to read it.
    Newer,
    /// Bad input naming something the run does not have (an attempt of a step): the HTTP API
    /// answers 404, as for an unknown run or step; the CLI exits 2.
    Missing,
    /// Bad input only because of where the run stands now (a report on a phase that is no
    /// longer waiting for one: another report or a stop got there first): the HTTP API
    /// answers 409, a state conflict; the CLI exits 2.
    Conflict,
}

impl CommandError {
    pub fn new(code: i32, message: impl Into<String>) -> Self {
        CommandError {
            code,
            message: message.into(),
            detail: None,
            hints: Vec::new(),
            errors: Vec::new(),
            cause: Cause::Other,
            run_hint: None,
            more: None,
        }
    }

    /// Whether another process holds the run (exit 4: another driver, a worker), rather than
    /// the log's write lock (exit 4 too, `StoreError::Busy`, which says nothing of who
    /// drives the run).
    pub fn run_held(&self) -> bool {
        self.code == exit::HELD && self.cause != Cause::Unavailable
    }

    /// Whether the log's write lock is held by another process (`StoreError::Busy`): the
    /// same command goes through once it lets go.
    pub fn log_locked(&self) -> bool {
        self.code == exit::HELD && self.cause == Cause::Unavailable
    }

    /// The error suggesting `cortex ARGS` (why: `why`) in its document's `next`.
    /// A command suggested already keeps its first why (`project::dedupe`, as `next` is
    /// everywhere).
    pub fn next(self, args: &[&str], why: impl Into<String>) -> Self {
        self.next_filled(args, why, Vec::new())
    }

    /// `next`, with placeholders in `args` to be filled (`fill`).
    pub fn next_filled(
        mut self,
        args: &[&str],
        why: impl Into<String>,
        fill: Vec<crate::project::Fill>,
    ) -> Self {
        let next = &mut self.more.get_or_insert_default().next;
        if !next.iter().any(|n| n.args == args) {
            next.push(NextCommand {
                args: args.iter().map(|a| a.to_string()).collect(),
                why: why.into(),
                globals: Vec::new(),
                fill,
            });
        }
        self
    }

    /// Each command its `next` suggests carrying `globals` after `cortex`, as a command
    /// suggested where the edge gives no error its globals (the HTTP API's) names the log it
    /// means; `with_globals` gives them to the hints too.
    pub fn with_next_globals(mut self, globals: &[String]) -> Self {
        for n in self.more.iter_mut().flat_map(|m| m.next.iter_mut()) {
            n.globals = globals.to_vec();
        }
        self
    }

    /// The commands its document suggests in `next`, as a status document's suggestions
    /// (`cortex`, its global options, then its arguments; why; its placeholders): what a front
    /// end that shows them (the dashboard's error page) lists.
    pub fn suggestions(&self) -> Vec<crate::project::Suggestion> {
        let next = self.more.as_deref().map(|m| m.next.as_slice());
        next.unwrap_or_default()
            .iter()
            .map(|n| crate::project::Suggestion {
                argv: std::iter::once("cortex")
                    .chain(n.globals.iter().map(String::as_str))
                    .chain(n.args.iter().map(String::as_str))
                    .map(str::to_string)
                    .collect(),
                why: n.why.clone(),
                fill: n.fill.clone(),
            })
            .collect()
    }

    /// Whether its document suggests a command in `next`.
    pub fn has_next(&self) -> bool {
        self.more.as_ref().is_some_and(|m| !m.next.is_empty())
    }

    /// The warnings given before it, taken out of the error (to be said, then given back
    /// with `warn`).
    pub fn take_warnings(&mut self) -> Vec<String> {
        self.more
            .as_mut()
            .map(|m| std::mem::take(&mut m.warnings))
            .unwrap_or_default()
    }

    /// The error with `warnings` given before it (`More::warnings`), each once.
    pub fn warn(mut self, warnings: impl IntoIterator<Item = String>) -> Self {
        for w in warnings {
            let kept = &mut self.more.get_or_insert_default().warnings;
            if !kept.contains(&w) {
                kept.push(w);
            }
        }
        self
    }

    /// The error with its run's hint (`run_hint`) written for run `run_id` of `kind` (the
    /// run the error's own id names, when it names one; else `run_id`): only that kind's
    /// commands, with the real id. Before, a workflow run held elsewhere was offered the
    /// scenario's `orchestrate stop ID` too, and a refused resume "`cortex workflow status
    /// RUN` (or `cortex orchestrate status RUN`)" with a literal `RUN`.
    pub fn for_run(mut self, kind: crate::event::RunKind, run_id: &str) -> Self {
        let Some(pending) = self.run_hint.take() else {
            return self;
        };
        let id = pending.run_id.as_deref().unwrap_or(run_id);
        let group = kind.group();
        let hint = match pending.what {
            RunHintKind::Held if pending.worker.is_some() => {
                let (pid, host) = pending.worker.clone().unwrap_or_default();
                worker_held_hint(Some(kind), id, pid, &host)
            }
            RunHintKind::Held => match kind {
                    crate::event::RunKind::Scenario => Hint::from("only one process drives a run at a time; wait for it, or stop it gracefully (`resume` continues it): press Ctrl-C in the terminal that drives it, cancel the MCP tool call that drives it, or from any terminal or host run ")
                        .command(&["orchestrate", "stop", id]),
                    crate::event::RunKind::Workflow => Hint::from("only one process drives a run at a time; wait for it (")
                        .command(&["workflow", "status", id])
                        .then(" shows how it stands), or stop it gracefully (`resume` continues it): press Ctrl-C in the terminal that drives it, cancel the MCP tool call that drives it, or from any terminal or host run ")
                        .command(&["workflow", "stop", id])
                        .then("; only to end it for good (it is not resumed after), from any terminal or host: ")
                        .command(&["workflow", "abort", id]),
            },
            RunHintKind::Decided => Hint::from("nothing was recorded; ")
                .command(&[group, "status", id])
                .then(" shows how the run stands and what it takes now"),
            RunHintKind::Fenced => Hint::from("the run goes on where it is held now: ")
                .command(&[group, "status", id])
                .then(" shows it"),
        };
        if let Some(slot) = self.hints.get_mut(pending.slot) {
            *slot = hint;
        }
        self
    }

    /// The error with `hint` as its run's hint, written for the run at the edge.
    fn run_hint(mut self, what: RunHintKind, run_id: Option<&str>, hint: Hint) -> Self {
        self.run_hint = Some(Box::new(RunHint {
            slot: self.hints.len(),
            run_id: run_id.map(str::to_string),
            what,
            worker: None,
        }));
        self.hint(hint)
    }

    pub fn bad_input(message: impl Into<String>) -> Self {
        Self::new(exit::BAD_INPUT, message)
    }

    /// The error with its cause (`Cause::Missing`, `Cause::Conflict`: what the HTTP API's
    /// status tells apart where the exit code does not).
    pub fn because(mut self, cause: Cause) -> Self {
        self.cause = cause;
        self
    }

    /// The error as a JSON document (`--json`, an MCP tool error, the HTTP API's): the message,
    /// the detail, the hints and the exit code, and the warnings given before it (`warnings`,
    /// only when there are some, as in a success's document); a word over 200 characters it quotes (a path,
    /// a name, a value of megabytes) cut to its start and its size (`render::cut_long_words`).
    pub fn document(&self) -> serde_json::Value {
        self.document_with(Hint::to_string)
    }

    /// `document`, each hint written by `hint` (the MCP server's names each suggested
    /// command's tool: `Hint::render_with`).
    pub fn document_with(&self, hint: impl Fn(&Hint) -> String) -> serde_json::Value {
        let hints: Vec<String> = self.hints.iter().map(hint).collect();
        let mut doc = serde_json::json!({
            "error": self.message,
            "detail": self.detail,
            "hints": hints,
            "errors": self.errors,
            "exit_code": self.code,
        });
        let more = self.more.as_deref();
        if let Some(warnings) = more.map(|m| &m.warnings).filter(|w| !w.is_empty()) {
            doc["warnings"] = serde_json::json!(warnings);
        }
        if more.is_some_and(|m| !m.next.is_empty()) {
            doc["next"] = serde_json::json!(self.suggestions());
        }
        crate::render::cut_long_words_in(&mut doc);
        doc
    }

    /// Its first located problem as `line:column: message` (its message when it has none):
    /// what a list row says of a definition that does not validate.
    pub fn first_problem(&self) -> String {
        match self.errors.first() {
            Some(p) => {
                let message = p.message.lines().next().unwrap_or_default();
                match (p.line, p.column) {
                    (Some(line), Some(column)) => format!("{line}:{column}: {message}"),
                    _ => message.to_string(),
                }
            }
            None => self.message.clone(),
        }
    }

    pub fn hint(mut self, hint: impl Into<Hint>) -> Self {
        self.hints.push(hint.into());
        self
    }

    /// The same error with each command its hints suggest carrying `globals` after `cortex`
    /// (`Ctx::localize`).
    pub fn with_globals(mut self, globals: &[String]) -> Self {
        for h in &mut self.hints {
            h.globals = globals.to_vec();
        }
        self.with_next_globals(globals)
    }

    /// The same error listing `problems`: for people as the detail (one `  - ` line each),
    /// for machines each as an entry of `errors`.
    pub fn listing(mut self, problems: &[String]) -> Self {
        self.detail = Some(problems.iter().map(|p| format!("  - {p}\n")).collect());
        self.errors = problems.iter().map(ProblemDoc::unlocated).collect();
        self
    }

    /// A `complete` report refused by its gate (a step's `validate:`, a phase's
    /// `success_criteria` checks): every problem listed, for people in the detail and for
    /// machines in `errors`, the same shape for steps and phases (SPEC §7).
    pub fn report_refused(name: &str, problems: &[String]) -> Self {
        let n = problems.len();
        CommandError::bad_input(format!(
            "`{name}` cannot be reported complete ({n} problem{})",
            if n == 1 { "" } else { "s" }
        ))
        .listing(problems)
    }

    pub fn definition(err: &DefinitionError) -> Self {
        let n = err.problems.len();
        let mut e = Self::bad_input(format!(
            "{} is invalid ({n} problem{})",
            err.path,
            if n == 1 { "" } else { "s" }
        ));
        e.detail = Some(render_definition_error(err));
        e.errors = definition_problems(err);
        e
    }
}

/// A thread the system refused (`ulimit -u`): what it was for, and how to raise the limit.
impl From<crate::execute::thread::Refused> for CommandError {
    fn from(e: crate::execute::thread::Refused) -> Self {
        CommandError::new(exit::FAILED, e.to_string()).hint(format!("{}, then retry", e.fix()))
    }
}

impl From<LookupError> for CommandError {
    fn from(e: LookupError) -> Self {
        if let LookupError::Invalid { error, .. } = &e {
            return CommandError::definition(error);
        }
        let mut err = CommandError::bad_input(e.to_string());
        if let LookupError::NotFound {
            query,
            other: Some(other),
            ..
        } = &e
        {
            let group = match *other {
                "scenario" => "orchestrate",
                other => other,
            };
            return err.hint(
                Hint::suggest(&[group, "validate", query])
                    .then(" checks it, ")
                    .command(&[group, "run", query])
                    .then(" runs it"),
            );
        }
        if let LookupError::NotFound {
            suggestions, kind, ..
        } = &e
        {
            if let Some(best) = suggestions.first() {
                err = err.hint(format!("did you mean `{best}`?"));
            }
            let group = match *kind {
                "scenario" => "orchestrate",
                other => other,
            };
            err = err.hint(Hint::suggest(&[group, "list"]).then(" shows what exists"));
        }
        err
    }
}

/// Who holds a log's write lock when a command finds it busy, said as it is: not always
/// cortex (it holds the lock for one transaction at a time), and what to do.
pub const BUSY_HINT: &str = "another process holds the log's write lock: a cortex command writing, or another program (a `sqlite3` session, a backup or VACUUM of the log); nothing was recorded: try again once it lets go";

/// What puts right a log that cannot be written (a full disk, a read-only file or database):
/// said by a command's error, which is run again, and by a driver's, whose run goes on with
/// `resume` (`ops::drive`).
pub fn unwritable_fix(e: &StoreError) -> Option<&'static str> {
    match e {
        StoreError::ReadOnly(_) => Some("make cortex.db (and its folder) writable"),
        StoreError::ReadOnlyDatabase { .. } => Some(
            "point --db, CORTEX_DB or `db` at the primary server, or let this role write (ALTER ROLE … SET default_transaction_read_only = off, likewise ALTER DATABASE)",
        ),
        StoreError::Full(_) => Some(
            "free disk space (or raise the file-size limit, `ulimit -f`, where the error names it)",
        ),
        _ => None,
    }
}

impl From<StoreError> for CommandError {
    fn from(e: StoreError) -> Self {
        let hint: Option<Hint> = match &e {
            StoreError::ReadOnly(_) => Some(format!(
                "{}, then run the command again; nothing recorded was lost; commands that only read (status, history, log verify) work as it is",
                unwritable_fix(&e).unwrap_or_default()
            ).into()),
            StoreError::ReadOnlyDatabase { .. } => Some(format!(
                "{}; nothing recorded was lost; commands that only read (status, history, log verify) work as it is",
                unwritable_fix(&e).unwrap_or_default()
            ).into()),
            StoreError::NewerLog { .. } => Some(
                "upgrade cortex to write to this log; commands that only read it (status, history, log verify) still work".into(),
            ),
            StoreError::WalUnreadable { .. } => Some(
                Hint::from("copy cortex.db and cortex.db-wal together to a writable folder and read the copy (")
                    .command(&["log", "verify", "--file", "COPY/cortex.db"])
                    .then(")"),
            ),
            StoreError::Removed { path, .. } => Some(format!(
                "put back the log from a backup (or with its -wal beside it) at {path}, or point --home/--db at the log meant; `log verify` there says what it holds"
            ).into()),
            StoreError::Full(_) => Some(format!(
                "{}, then run the command again (a run that stopped goes on with `resume`); nothing recorded was lost; commands that only read (status, history, log verify) work as it is",
                unwritable_fix(&e).unwrap_or_default()
            ).into()),
            StoreError::IndexMissing { .. } => Some(
                Hint::from("the run index is a cache of the events: ")
                    .command(&["log", "reindex"])
                    .then(" makes it again from them; nothing recorded was lost"),
            ),
            StoreError::Busy => Some(BUSY_HINT.into()),
            // Not damage: the log is as it was.
            StoreError::OutOfFiles(_) => Some(format!(
                "{}, then run the command again (a run that stopped goes on with `resume`); the log is not damaged and nothing recorded was lost",
                crate::execute::RAISE_OPEN_FILES
            ).into()),
            StoreError::Damaged(_) => Some(
                Hint::from("the file holding the log is damaged (a disk fault, a copy taken mid-write, an edit); ")
                    .command(&["log", "verify"])
                    .then(" says what SQLite's integrity check finds; restore cortex.db from a backup, or rebuild it with `sqlite3 cortex.db .recover | sqlite3 recovered.db` and point --db at the rebuilt file after `cortex log verify --file recovered.db` passes"),
            ),
            StoreError::Conflict { .. } => Some(
                Hint::from("another process recorded events for this run meanwhile; check ")
                    .command(&["workflow", "status"]),
            ),
            StoreError::Unreachable { .. } => Some(
                Hint::from("check that PostgreSQL is running and reachable there (and the --db, CORTEX_DB or `db` value; a password, never shown, goes in it or in PGPASSWORD); nothing recorded was lost; a run that was being driven goes on with ")
                    .command(&["workflow", "resume", "RUN"])
                    .then(" (")
                    .command(&["orchestrate", "resume", "NAME"])
                    .then(" for a scenario)"),
            ),
            StoreError::Rejected { .. } => Some(
                "check the database's name (a team creates it once: CREATE DATABASE … ENCODING 'UTF8' TEMPLATE template0), the user, and its password (in the URL or PGPASSWORD; never shown), in --db, CORTEX_DB or `db` in cortex.config.json, and the server's pg_hba.conf; nothing recorded was lost".into(),
            ),
            StoreError::Refused(_) => Some(
                "the role cortex connects as needs SELECT and INSERT on events, SELECT, INSERT and UPDATE on runs and snapshots, and SELECT, INSERT, UPDATE and DELETE on leases; tables are created and upgraded by their owner: run the command once as that role (e.g. `cortex --home \"$(mktemp -d)\" log copy --to postgres://OWNER@HOST/DB`), then grant again (DESIGN.md, section PostgreSQL); nothing recorded was lost".into(),
            ),
            StoreError::Foreign {
                sqlite: true,
                target,
                ..
            } => Some(format!(
                "name a file of cortex's own for the log (--db PATH, CORTEX_DB or `db` in cortex.config.json; a file not there yet is set up as one); nothing of {target} was changed"
            ).into()),
            StoreError::Foreign { .. } => Some(
                "give cortex a database of its own (CREATE DATABASE cortex ENCODING 'UTF8' TEMPLATE template0), or a schema of its own in this one (CREATE SCHEMA cortex, then options=-csearch_path%3Dcortex in the URL, or ALTER ROLE … SET search_path = cortex); nothing of that database was changed".into(),
            ),
            // Damaged, or not an SQLite file at all: cortex cannot tell more than SQLite does.
            StoreError::Open { path, .. } => Some(format!(
                "check that --home (or --db) names the log meant; if {path} is damaged, put back a copy (a backup, or the file with its -wal beside it), as no command can read past the damage"
            ).into()),
            StoreError::NoSchema { .. } => Some(
                "correct the schema's name in the URL (options=-csearch_path%3DNAME in --db, CORTEX_DB or `db` in cortex.config.json) or in the role's search_path (ALTER ROLE … SET search_path = NAME), or create the schema as the role that is to own cortex's tables (CREATE SCHEMA NAME; DESIGN.md, section PostgreSQL); nothing recorded was lost".into(),
            ),
            StoreError::Unverified { run_id, .. } => Some(
                Hint::from("nothing was recorded; ")
                    .command(&["log", "verify", run_id])
                    .then(" says which event was changed; put back the log from a backup: no command drives, resumes or reports on a run whose log does not verify (`status` still reads it)"),
            ),
            // Not damage: a newer cortex wrote it, and only a newer one reads it.
            StoreError::NewerEvent { run_id, version, .. } => Some(
                Hint::from(format!("upgrade cortex to one that reads event schema version {version} to read this run; nothing is damaged: "))
                    .command(&["log", "verify", run_id])
                    .then(" checks its chain, and ")
                    .command(&["log", "show", run_id])
                    .then(" shows every event, this one by its type and hash"),
            ),
            // An event that no longer decodes: the log was changed (or damaged) there.
            // A chain of an id no cortex writes (one not UTF-8, shown escaped, among them) is
            // no id to type back: `log verify` of the whole log names it and where it breaks.
            StoreError::Corrupt { run_id, .. } if !crate::event::is_chain_id(run_id.as_bytes()) => Some(
                Hint::from("the log was changed or damaged; ")
                    .command(&["log", "verify"])
                    .then(" (the whole log) names that chain and says where it breaks; put back the log from a backup: no command can read it"),
            ),
            StoreError::Corrupt { run_id, .. } => Some(
                Hint::from("the log was changed or damaged; ")
                    .command(&["log", "verify", run_id])
                    .then(" says where its chain breaks; put back the log from a backup: no command can read this run past that event"),
            ),
            StoreError::EventsGone { .. } => Some(
                "put back the log from a backup: every run it held is gone (`log verify --anchors FILE` names the anchored ones)".into(),
            ),
            StoreError::NoFolder { folder, .. } => Some(format!(
                "make the folder first (`mkdir -p {}`), or correct the path (--db, CORTEX_DB or `db` in cortex.config.json; `log copy --to`): cortex makes no folder for a log but the home's",
                crate::render::shell_quote(folder)
            ).into()),
            StoreError::BadLocation(_) => Some(
                "say where the log is as postgres://user@host:port/dbname, a libpq string (host=H dbname=D), or a SQLite file (sqlite:PATH or a path), in --db, CORTEX_DB or `db` in cortex.config.json".into(),
            ),
            _ => None,
        };
        // A file that is not a log was named by the user (`log verify --file`): bad input.
        let code = match e {
            // Another process holds the log's write lock: held by another process (SPEC §5),
            // as a run held by another driver is; the same command goes through once it lets
            // go. Before, exit 1, the code of a run that failed.
            StoreError::Busy => exit::HELD,
            StoreError::NotALog { .. }
            | StoreError::BadLocation(_)
            | StoreError::NoFolder { .. }
            | StoreError::NoSchema { .. }
            | StoreError::Foreign { .. }
            | StoreError::Rejected { .. } => exit::BAD_INPUT,
            _ => exit::FAILED,
        };
        let cause = match e {
            StoreError::Unverified { .. }
            | StoreError::Corrupt { .. }
            | StoreError::EventsGone { .. } => Cause::Unverified,
            StoreError::NewerEvent { .. } => Cause::Newer,
            StoreError::Unreachable { .. }
            | StoreError::Busy
            | StoreError::ReadOnly(_)
            | StoreError::ReadOnlyDatabase { .. } => Cause::Unavailable,
            StoreError::Full(_) => Cause::Full,
            _ => Cause::Other,
        };
        let mut err = CommandError::new(code, e.to_string());
        err.cause = cause;
        if let Some(h) = hint {
            err = err.hint(h);
        }
        err
    }
}

impl From<LockError> for CommandError {
    fn from(e: LockError) -> Self {
        // The holder's note is another process's text: a secret this process was given (a
        // secret input typed into that process's `--actor` too) is never said back.
        let e = match e {
            LockError::Held {
                run_id,
                holder: Some(mut holder),
            } => {
                holder.actor = crate::execute::scrub_known(&holder.actor);
                holder.host = crate::execute::scrub_known(&holder.host);
                LockError::Held {
                    run_id,
                    holder: Some(holder),
                }
            }
            e => e,
        };
        match &e {
            LockError::Held {
                run_id,
                holder: Some(holder),
            } if holder.worker().is_some() => {
                let (pid, host) = holder.worker().unwrap_or_default();
                let mut err = CommandError::new(exit::HELD, e.to_string()).run_hint(
                    RunHintKind::Held,
                    Some(run_id),
                    // Written for its kind at the edge (`for_run`); this says both.
                    worker_held_hint(None, run_id, pid, &host),
                );
                if let Some(pending) = err.run_hint.as_mut() {
                    pending.worker = Some((pid, host));
                }
                err
            }
            LockError::Held { run_id, .. } => CommandError::new(exit::HELD, e.to_string())
                // Its driver may be a terminal, an MCP client's call (`cortex mcp`, whose
                // client has no terminal to press Ctrl-C in) or a worker (whose Ctrl-C would
                // drain all it holds): each way to stop it is said.
                // A lock does not know its run's kind: each kind's way is said by its name
                // (before, the scenario's command was offered with a workflow run's id, which
                // failed when pasted).
                // Commands as argv: printed as this invocation would paste them, its `--home`
                // and `--db` included (they were dropped from the literal text before).
                // Written for its kind at the edge (`for_run`); this says both.
                .run_hint(
                    RunHintKind::Held,
                    Some(run_id),
                    Hint::from("only one process drives a run at a time; wait for it, or stop it gracefully (`resume` continues it): press Ctrl-C in the terminal that drives it, cancel the MCP tool call that drives it, or from any terminal or host with ")
                        .command(&["workflow", "stop", run_id])
                        .then(" (a workflow run) or ")
                        .command(&["orchestrate", "stop", run_id])
                        .then(" (a scenario run); a workflow run is ended for good from anywhere with ")
                        .command(&["workflow", "abort", run_id]),
                ),
            // No room for the lock file (or its holder's note): said with where and what is
            // free there, and the hint the log's own full disk gives.
            LockError::Io { path, error }
                if matches!(
                    error.raw_os_error(),
                    Some(nix::libc::ENOSPC | nix::libc::EDQUOT)
                ) =>
            {
                let place = std::path::Path::new(path);
                let why = crate::store::disk_full_at(place).map_or_else(String::new, |w| {
                    format!(" ({w})")
                });
                let mut err = CommandError::new(exit::FAILED, format!("{e}{why}")).hint(
                    "free disk space there, then run the command again (a run that stopped goes on with `resume`); nothing recorded was lost; commands that only read (status, history, log verify) work as it is",
                );
                err.cause = Cause::Full;
                err
            }
            // Out of file descriptors: said with the limit and how to raise it.
            LockError::Io { path, error } if crate::execute::out_of_files(error) => {
                CommandError::new(
                    exit::FAILED,
                    format!("cannot lock {path}: {}", crate::execute::no_more_files(error)),
                )
                .hint(format!(
                    "{}, then run the command again (a run that stopped goes on with `resume`); nothing recorded was lost",
                    crate::execute::RAISE_OPEN_FILES
                ))
            }
            LockError::Io { .. } => CommandError::new(exit::FAILED, e.to_string()),
            LockError::UnsafeFolder(_) => CommandError::bad_input(e.to_string()),
        }
    }
}

/// How to stop a run a `cortex worker` drives (pid `pid`, 0 when unknown, on `host`): not by
/// Ctrl-C or an MCP call — a worker has neither, and a signal to it drains every run it holds
/// (it takes nothing new, lets what runs finish, and hands its runs back, to another worker or
/// a `resume`). A run alone is stopped from anywhere with `orchestrate stop` or `workflow
/// stop`; a workflow run is ended for good with `workflow abort`, which
/// the worker reads in the log and ends that run alone.
/// `kind` none: both kinds' ways are said.
fn worker_held_hint(kind: Option<crate::event::RunKind>, id: &str, pid: u32, host: &str) -> Hint {
    let signal = if pid == 0 {
        format!("`kill -TERM` to that worker's process on {host}")
    } else {
        format!("`kill -TERM {pid}` on {host}")
    };
    let head = format!(
        "a worker drives this run, with others: wait for it, or drain the worker — {signal} lets what it runs finish, takes nothing new, and hands its runs back (to another worker, or to `resume`); "
    );
    match kind {
        None => Hint::from(format!(
            "{head}this run alone is stopped gracefully (`resume` continues it) from any terminal or host with "
        ))
        .command(&["workflow", "stop", id])
        .then(" (a workflow run) or ")
        .command(&["orchestrate", "stop", id])
        .then(" (a scenario run); a workflow run alone is ended for good with ")
        .command(&["workflow", "abort", id])
        .then(" (the worker reads it in the log and ends that run only)"),
        Some(crate::event::RunKind::Scenario) => Hint::from(format!(
            "{head}this run alone is stopped gracefully (`resume` continues it) from any terminal or host with "
        ))
        .command(&["orchestrate", "stop", id]),
        // Never the abort alone: a worker's run is healthy (it runs, or goes on once what it
        // waits for comes); its status says which. The abort, last, ends it for good.
        Some(crate::event::RunKind::Workflow) => Hint::from(head)
            .command(&["workflow", "status", id])
            .then(" shows how it stands; this run alone is stopped gracefully (`resume` continues it) from any terminal or host with ")
            .command(&["workflow", "stop", id])
            .then("; only to end it for good (it is not resumed after): ")
            .command(&["workflow", "abort", id])
            .then(" (the worker reads it in the log and ends this run only)"),
    }
}

impl From<OperatorError> for CommandError {
    fn from(e: OperatorError) -> Self {
        match e {
            OperatorError::Journal(j) => j.into(),
            OperatorError::Store(s) => s.into(),
            OperatorError::Lock(l) => l.into(),
            other => CommandError::bad_input(other.to_string()),
        }
    }
}

impl From<JournalError> for CommandError {
    fn from(e: JournalError) -> Self {
        match e {
            JournalError::Store(s) => s.into(),
            JournalError::Decide(crate::decide::DecideError::ReportRefused { step, problems }) => {
                CommandError::report_refused(&step, &problems).hint(
                    "nothing was recorded and the step still waits: fix what is listed, then report it again",
                )
            }
            // The run is not where the command expected it (another operator, a driver or
            // a second click got there first): nothing was recorded, and its status says
            // what it takes now.
            JournalError::Decide(d) => CommandError::bad_input(d.to_string()).run_hint(
                RunHintKind::Decided,
                None,
                Hint::from("nothing was recorded; ")
                    .command(&["workflow", "status", "RUN"])
                    .then(" (or ")
                    .command(&["orchestrate", "status", "RUN"])
                    .then(") shows how the run stands and what it takes now"),
            ),
            JournalError::Fenced(why) => CommandError::new(
                exit::FAILED,
                format!(
                    "this driver stopped: {why}; it decides nothing more for the run (a result of its own that came late is recorded as rejected)"
                ),
            )
            .run_hint(
                RunHintKind::Fenced,
                None,
                Hint::from("the run goes on where it is held now: ")
                    .command(&["workflow", "status", "RUN"])
                    .then(" (or ")
                    .command(&["orchestrate", "status", "RUN"])
                    .then(") shows it"),
            ),
        }
    }
}
