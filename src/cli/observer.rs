//! Live progress on the terminal: a spinner with the step and its elapsed time when stdout is
//! a terminal, plain lines when piped; step output is streamed as it comes.

use std::io::IsTerminal;
use std::time::{Duration, SystemTime};

use indicatif::{ProgressBar, ProgressStyle};

use crate::decide::RunState;
use crate::event::{Event, Recorded};
use crate::execute::{Observer, Stream};
use crate::render::render_progress;

pub struct TerminalObserver {
    /// With --json, stdout carries only the final document: progress goes to stderr.
    json: bool,
    live: bool,
    spinner: Option<ProgressBar>,
    /// What the commands its lines suggest carry after `cortex` (`Ctx::globals`).
    globals: Vec<String>,
    /// The labels of the items of `foreach:` units seen (`render::item_labels`): an item
    /// compensated in the batch that collapses its step's items is still called by its item.
    labels: std::collections::BTreeMap<String, String>,
    /// Whether the lines on following the run (`render::render_how_to_follow`) are yet to be
    /// said: under the banner of a resume, or of a new run once its pre-validation passed
    /// (a run it refuses is over, and neither line would apply).
    follow: bool,
    /// The warnings said (on stderr, as they came): the document carries them too
    /// (`Output::said_live`).
    pub said: Vec<String>,
}

impl TerminalObserver {
    pub fn new(json: bool, globals: Vec<String>) -> Self {
        TerminalObserver {
            json,
            live: !json && std::io::stdout().is_terminal(),
            spinner: None,
            globals,
            labels: Default::default(),
            follow: false,
            said: Vec::new(),
        }
    }

    /// Print `text` whole lines: one that does not end its last line (a text of the run's
    /// own, such as a prompt, rendered as it was written) is ended here, so that what comes
    /// next — more progress, the document, the shell's prompt — starts on a line of its own.
    fn emit(&self, text: &str) {
        if text.is_empty() {
            return;
        }
        let text = &crate::render::whole_lines(text);
        let print = || {
            if self.json {
                super::err(text)
            } else {
                super::out(text)
            }
        };
        match &self.spinner {
            Some(s) => s.suspend(print),
            None => print(),
        }
    }

    fn stop_spinner(&mut self) {
        if let Some(s) = self.spinner.take() {
            s.finish_and_clear();
        }
    }
}

impl Observer for TerminalObserver {
    fn begin(&mut self, state: &RunState, resumed: bool) {
        self.labels = crate::render::item_labels(state);
        // With --json, stdout carries the final document only.
        if !self.json {
            self.emit(&crate::render::render_header(state, resumed));
            if resumed {
                self.emit(&crate::render::render_how_to_follow(state, &self.globals));
            }
            self.follow = !resumed;
        }
    }

    fn note(&mut self, text: &str) {
        if !self.json {
            self.emit(text);
        }
    }

    fn recorded(&mut self, state: &RunState, events: &[Recorded]) {
        let starts_step = events.iter().find_map(|r| match &r.event {
            Event::StepStarted { step, .. } => Some(step.clone()),
            _ => None,
        });
        if events.iter().any(|r| {
            !matches!(
                r.event,
                Event::StepStarted { .. }
                    | Event::OutputRecorded { .. }
                    | Event::CheckpointSaved { .. }
            )
        }) {
            self.stop_spinner();
        }
        if self.follow {
            let under_way = events.iter().any(|r| {
                matches!(
                    r.event,
                    Event::ValidationPassed {
                        stage: crate::event::Stage::Pre,
                        ..
                    } | Event::StepStarted { .. }
                        | Event::StepWaiting { .. }
                        | Event::ConditionStarted { .. }
                )
            });
            let refused = events.iter().any(|r| {
                matches!(
                    r.event,
                    Event::ValidationFailed {
                        stage: crate::event::Stage::Pre,
                        ..
                    }
                )
            });
            if refused {
                self.follow = false;
            } else if under_way {
                self.follow = false;
                self.emit(&crate::render::render_how_to_follow(state, &self.globals));
            }
        }
        self.emit(&render_progress(
            state,
            events,
            SystemTime::now(),
            &self.globals,
            &self.labels,
        ));
        if events
            .iter()
            .any(|r| matches!(r.event, Event::ForeachExpanded { .. }))
        {
            self.labels.extend(crate::render::item_labels(state));
        }
        if let (Some(step), true) = (starts_step, self.live) {
            let i = state.step_index(&step).map_or(0, |i| i + 1);
            let bar = ProgressBar::new_spinner();
            bar.set_style(
                ProgressStyle::with_template("{spinner} Step {msg} — {elapsed}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            bar.set_message(format!("{i}/{}: {step}", state.steps.len()));
            bar.enable_steady_tick(Duration::from_millis(120));
            self.spinner = Some(bar);
        }
    }

    fn line(&mut self, _step: &str, _stream: Stream, line: &str) {
        self.emit(&format!("   │ {line}\n"));
    }

    fn warn(&mut self, message: &str) {
        self.stop_spinner();
        super::warn(message);
        if !self.said.iter().any(|w| w == message) {
            self.said.push(message.to_string());
        }
    }

    fn child_begin(&mut self, step: &str, state: &RunState, resumed: bool) {
        let name = state.start.as_ref().map_or("", |s| s.name.as_str());
        let verb = if resumed { "goes on with" } else { "starts" };
        self.emit(&format!(
            "   ↳ `{step}` {verb} child run {} (workflow {name})\n",
            state.run_id
        ));
    }

    fn child(&mut self, _step: &str, state: &RunState, events: &[Recorded]) {
        let text = render_progress(
            state,
            events,
            SystemTime::now(),
            &self.globals,
            &Default::default(),
        );
        let indented: String = text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| format!("   ↳ {l}\n"))
            .collect();
        self.emit(&indented);
    }
}

impl Drop for TerminalObserver {
    fn drop(&mut self) {
        self.stop_spinner();
    }
}
