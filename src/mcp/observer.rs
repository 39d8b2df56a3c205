//! What a run driven inside a tool call shows: each recorded event as one line of the server's
//! log (stderr, never the protocol stream), and its warnings kept for the tool's result.

use crate::decide::RunState;
use crate::event::Recorded;
use crate::execute::{Observer, Stream};
use crate::render::render_event_line;

use super::Log;

pub struct Logged {
    log: Log,
    /// Said during the drive (a definition changed since the run started, a derived file not
    /// written): handed back with the document, as the CLI says them beside it.
    pub warnings: Vec<String>,
}

impl Logged {
    pub fn new(log: Log) -> Logged {
        Logged {
            log,
            warnings: Vec::new(),
        }
    }
}

impl Observer for Logged {
    fn note(&mut self, text: &str) {
        (self.log)(text.trim_end());
    }

    fn recorded(&mut self, state: &RunState, events: &[Recorded]) {
        for event in events {
            let line = render_event_line(event, state.is_scenario());
            (self.log)(&format!("run {}: {}", state.run_id, line.trim()));
        }
    }

    // A step's output is kept (its tail) in the log; the server's log does not repeat it.
    fn line(&mut self, _step: &str, _stream: Stream, _line: &str) {}

    fn warn(&mut self, message: &str) {
        (self.log)(&format!("warning: {message}"));
        self.warnings.push(message.to_string());
    }
}
