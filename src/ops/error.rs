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

/// A failed command as the user sees it.
#[derive(Debug)]
pub struct CommandError {
    pub code: i32,
    pub message: String,
    /// Pre-rendered detail (e.g. located definition errors).
    pub detail: Option<String>,
    pub hints: Vec<String>,
    /// Located definition problems, for machines (`--json`, MCP, the API).
    pub errors: Vec<ProblemDoc>,
}

impl CommandError {
    pub fn new(code: i32, message: impl Into<String>) -> Self {
        CommandError {
            code,
            message: message.into(),
            detail: None,
            hints: Vec::new(),
            errors: Vec::new(),
        }
    }

    pub fn bad_input(message: impl Into<String>) -> Self {
        Self::new(exit::BAD_INPUT, message)
    }

    /// The error as a JSON document (`--json`, and an MCP tool error): the message, the detail,
    /// the hints and the exit code.
    pub fn document(&self) -> serde_json::Value {
        serde_json::json!({
            "error": self.message,
            "detail": self.detail,
            "hints": self.hints,
            "errors": self.errors,
            "exit_code": self.code,
        })
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hints.push(hint.into());
        self
    }

    /// The same error listing `problems`: for people as the detail (one `  - ` line each),
    /// for machines each as an entry of `errors`.
    pub fn listing(mut self, problems: &[String]) -> Self {
        self.detail = Some(problems.iter().map(|p| format!("  - {p}\n")).collect());
        self.errors = problems.iter().map(ProblemDoc::unlocated).collect();
        self
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

impl From<LookupError> for CommandError {
    fn from(e: LookupError) -> Self {
        if let LookupError::Invalid { error, .. } = &e {
            return CommandError::definition(error);
        }
        let mut err = CommandError::bad_input(e.to_string());
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
            err = err.hint(format!("`cortex {group} list` shows what exists"));
        }
        err
    }
}

impl From<StoreError> for CommandError {
    fn from(e: StoreError) -> Self {
        let hint = match &e {
            StoreError::ReadOnly(_) => Some(
                "make cortex.db (and its folder) writable, then run the command again; nothing recorded was lost; commands that only read (status, history, log verify) work as it is",
            ),
            StoreError::NewerLog { .. } => Some(
                "upgrade cortex to write to this log; commands that only read it (status, history, log verify) still work",
            ),
            StoreError::WalUnreadable { .. } => Some(
                "copy cortex.db and cortex.db-wal together to a writable folder and read the copy (`cortex log verify --file COPY/cortex.db`)",
            ),
            StoreError::Full(_) => Some("free disk space, then resume; nothing recorded was lost"),
            StoreError::Busy => Some("another cortex process is writing; try again"),
            StoreError::Conflict { .. } => Some(
                "another process recorded events for this run meanwhile; check `cortex workflow status`",
            ),
            StoreError::Unreachable { .. } => Some(
                "check that PostgreSQL is running and reachable there (and the --db, CORTEX_DB or `db` value); nothing recorded was lost; a run that was being driven goes on with `cortex workflow resume RUN` (`cortex orchestrate resume NAME` for a scenario)",
            ),
            StoreError::Refused(_) => Some(
                "the role cortex connects as needs SELECT and INSERT on events, and SELECT, INSERT and UPDATE on runs and snapshots (DESIGN.md, section PostgreSQL); nothing recorded was lost",
            ),
            StoreError::BadLocation(_) => Some(
                "say where the log is as postgres://user@host:port/dbname, a libpq string (host=H dbname=D), or a SQLite file (sqlite:PATH or a path), in --db, CORTEX_DB or `db` in cortex.config.json",
            ),
            _ => None,
        };
        // A file that is not a log was named by the user (`log verify --file`): bad input.
        let code = match e {
            StoreError::NotALog { .. } | StoreError::BadLocation(_) => exit::BAD_INPUT,
            _ => exit::FAILED,
        };
        let mut err = CommandError::new(code, e.to_string());
        if let Some(h) = hint {
            err = err.hint(h);
        }
        err
    }
}

impl From<LockError> for CommandError {
    fn from(e: LockError) -> Self {
        match &e {
            LockError::Held { .. } => CommandError::new(exit::HELD, e.to_string())
                .hint("only one process drives a run at a time; wait for it, or stop it (Ctrl-C in its terminal)"),
            LockError::Io { .. } => CommandError::new(exit::FAILED, e.to_string()),
            LockError::UnsafeFolder(_) => CommandError::bad_input(e.to_string()),
        }
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
                let n = problems.len();
                let e = CommandError::bad_input(format!(
                    "`{step}` cannot be reported complete ({n} problem{})",
                    if n == 1 { "" } else { "s" }
                ))
                .hint("nothing was recorded and the step still waits: fix what is listed, then report it again");
                e.listing(&problems)
            }
            JournalError::Decide(d) => CommandError::bad_input(d.to_string()),
            JournalError::Fenced(why) => CommandError::new(
                exit::FAILED,
                format!("this driver stopped: {why}; nothing more was recorded by it"),
            )
            .hint("the run goes on where it is held now: `cortex workflow status RUN` (or `orchestrate status`) shows it"),
        }
    }
}
