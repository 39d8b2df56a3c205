//! A failed request: the `CommandError` the same operation gives the CLI, with the HTTP status
//! that says what kind of failure it is; answered as the CLI's `--json` error document
//! (`{error, detail, hints, errors, exit_code}`) by the API and as an escaped page by the dashboard.

use axum::http::StatusCode;

use crate::ops::{Cause, CommandError, FindError, exit};

/// A request's failure and its status.
#[derive(Debug)]
pub struct Failure {
    pub status: StatusCode,
    /// Boxed: every handler's `Result` carries a failure's size.
    pub error: Box<CommandError>,
}

impl Failure {
    pub fn new(status: StatusCode, error: CommandError) -> Failure {
        Failure {
            status,
            error: Box::new(error),
        }
    }

    pub fn not_found(error: CommandError) -> Failure {
        Failure::new(StatusCode::NOT_FOUND, error)
    }

    /// A request this server refuses by its shape: what is wrong, and how to ask instead
    /// (every refusal carries a hint).
    pub fn bad_request(message: impl Into<String>, hint: impl Into<String>) -> Failure {
        Failure::new(
            StatusCode::BAD_REQUEST,
            CommandError::bad_input(message.into()).hint(hint.into()),
        )
    }

    /// The document the CLI prints for the same error with `--json`.
    pub fn json(&self) -> serde_json::Value {
        self.error.document()
    }
}

/// The status of an operation's error, from its SPEC exit code and its cause: bad input is the
/// client's (400), but for something the run does not have (404) or a request its state
/// refuses now (409); a run held or waiting on something else, or whose log does not verify, is
/// a conflict (409); a store out of reach or read-only is unavailable (503), a full one
/// insufficient storage (507); the rest is ours (500).
pub fn status_of(code: i32, cause: Cause) -> StatusCode {
    match (code, cause) {
        // The server's own log out of reach is no fault of the request (a command line says
        // it with exit 2, the `--db` it was given leading to no log: `ops::context`).
        (_, Cause::Unavailable) => StatusCode::SERVICE_UNAVAILABLE,
        // Bad input as the CLI sees it (exit 2), told apart here: what the run does not have
        // is not found, a request the run's state refuses now is a conflict.
        (_, Cause::Missing) => StatusCode::NOT_FOUND,
        (_, Cause::Conflict) => StatusCode::CONFLICT,
        (exit::BAD_INPUT, _) => StatusCode::BAD_REQUEST,
        (exit::WAITING | exit::HELD, _) | (_, Cause::Unverified) => StatusCode::CONFLICT,
        (_, Cause::Full) => StatusCode::INSUFFICIENT_STORAGE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl From<CommandError> for Failure {
    fn from(error: CommandError) -> Failure {
        Failure::new(status_of(error.code, error.cause), error)
    }
}

/// Whether finding a run failed because there is no such run (404) rather than a bad query.
pub fn run_missing(e: &FindError) -> bool {
    matches!(e, FindError::NotFound { .. } | FindError::NoRuns { .. })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A log another process holds locked is exit 4 (held by another process) to the CLI and
    /// an MCP client, and to the API what it is for a request: the store unavailable for now
    /// (503), not a conflict with the run (409) nor a fault of the server (500).
    #[test]
    fn a_locked_log_is_unavailable_to_the_api_whatever_its_exit_code() {
        let busy = CommandError::from(crate::store::StoreError::Busy);
        assert_eq!(busy.code, exit::HELD);
        assert_eq!(
            status_of(busy.code, busy.cause),
            StatusCode::SERVICE_UNAVAILABLE
        );
    }
}
