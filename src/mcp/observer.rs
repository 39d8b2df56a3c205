//! What a run driven inside a tool call shows: each recorded event as one line of the server's
//! log (stderr, never the protocol stream), its warnings kept for the tool's result, and,
//! when the client asked for progress, where the run is after each transition (`progress`).

use crate::decide::RunState;
use crate::event::Recorded;
use crate::execute::{Observer, Stream};
use crate::render::render_event_line;

use super::Log;
use super::progress::{Reached, reached};

/// Where the drive's progress goes: the call that sends it as notifications.
pub type ProgressTx = tokio::sync::mpsc::UnboundedSender<Reached>;

pub struct Logged {
    log: Log,
    /// Said during the drive (a definition changed since the run started, a derived file not
    /// written): handed back with the document, as the CLI says them beside it.
    pub warnings: Vec<String>,
    progress: Option<ProgressTx>,
}

impl Logged {
    pub fn new(log: Log, progress: Option<ProgressTx>) -> Logged {
        Logged {
            log,
            warnings: Vec::new(),
            progress,
        }
    }

    fn progress(&self, state: &RunState) {
        if let Some(tx) = &self.progress {
            // The call has ended (and its receiver with it): nobody is left to tell.
            let _ = tx.send(reached(state));
        }
    }
}

impl Observer for Logged {
    fn begin(&mut self, state: &RunState, _resumed: bool) {
        self.progress(state);
    }

    fn note(&mut self, text: &str) {
        (self.log)(text.trim_end());
    }

    fn recorded(&mut self, state: &RunState, events: &[Recorded]) {
        for event in events {
            let line = render_event_line(event, state.is_scenario());
            (self.log)(&format!("run {}: {}", state.run_id, line.trim()));
        }
        self.progress(state);
    }

    // A step's output is kept (its tail) in the log; the server's log does not repeat it.
    fn line(&mut self, _step: &str, _stream: Stream, _line: &str) {}

    fn warn(&mut self, message: &str) {
        (self.log)(&format!("warning: {message}"));
        self.warnings.push(message.to_string());
    }

    // Said with the `resume` tool's `inputs`, not the CLI's `--input`.
    fn missing_secrets(&mut self, missing: &[String]) {
        self.warn(&crate::execute::missing_secrets_note(
            missing,
            &crate::ops::Surface::Mcp.resume_with_secrets(),
        ));
    }
}
