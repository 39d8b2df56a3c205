//! The whole output of a run's attempts as kept beside the log (`cortex logs`): printed,
//! followed while the run goes on, answered as one document (at most `JSON_OUTPUT_MAX` of it),
//! or read raw and checked against the size and blake3 its `attempt_log` event records.

use std::path::Path;

use super::attempt_file::KeptCopy;
use super::{CommandError, Ctx, Output, attempt_file, exit};
use crate::render::{AttemptText, attempt_text};
use crate::store::{EventStore, Location};

/// One attempt whose output `cortex logs` shows.
struct Shown {
    step: String,
    attempt: u32,
    /// The file its output is written to (as its `attempt_log` names it, once recorded).
    file: String,
    /// How much of the file has been printed (`--follow`).
    offset: u64,
    /// What of the bytes printed is not shown yet (a cut character, a `\r`): `--follow`
    /// decodes an attempt's file as one piece however its reads cut it.
    decoder: AttemptText,
    /// Its header was printed (`--follow`).
    headed: bool,
    /// Its end was seen: nothing more comes.
    ended: bool,
    /// It was cut off (`step_interrupted`): its end, and so its file, was never recorded.
    interrupted: bool,
    /// What its `attempt_log` recorded: size and blake3.
    recorded: Option<(u64, String)>,
    /// The home that wrote its file, and its folder, as its `attempt_log` records them.
    writer: Option<String>,
    writer_dir: Option<String>,
    /// Its `attempt_log` names another home as the one that wrote its file
    /// (`execute::file_here_is_its`): a file at its path in this home is none of its.
    theirs: bool,
    /// What its `attempt_log` says did not reach the file: bytes, and why.
    lost: Option<(u64, String)>,
    /// The tail its end kept in the log.
    tail: String,
    /// It ran a process (it ended with an exit, a signal, a timeout or an agent's failure), so
    /// it had output to keep or none.
    ran_process: bool,
    /// A `uses:` step's attempt: the child run it ran.
    child: Option<String>,
    /// Its attempt ended naming a child run the log does not hold (its events were removed:
    /// `log verify` fails on the link).
    child_missing: bool,
    /// The host it ran on (its worker's, else its driver's).
    host: Option<String>,
    /// Its output as the log keeps it (PostgreSQL), where its file is not in this home:
    /// read into a file of this process's memory as far as the log holds it so far
    /// (`Tracker::fetch_copies`).
    copy: Option<KeptCopy>,
}

impl Shown {
    /// By the log's word it has no file: it ended (succeeded, failed, timed out, reported)
    /// and no `attempt_log` recorded one — an attempt that printed nothing writes none. A
    /// file at its path is none of its (dropped there later, a forgery `log verify` fails
    /// on), so it is never read as its output.
    fn disowns_file(&self) -> bool {
        self.ended && !self.interrupted && self.recorded.is_none()
    }

    /// The file at its path in this home, where it is its own (not `theirs`).
    fn own(&self, home: &Path) -> Option<std::fs::File> {
        match self.theirs {
            true => None,
            false => attempt_file::open(home, &self.file),
        }
    }

    /// Its file, open, unless the log says it has none (`disowns_file`): its own in this home
    /// (`own`), else the copy of what the log keeps of it (PostgreSQL), from its start.
    fn open(&self, home: &Path) -> Option<std::fs::File> {
        if self.disowns_file() {
            return None;
        }
        self.own(home).or_else(|| {
            // Opened again (not a clone sharing its offset): each reader reads from its own
            // place, as readers of a file in the home do.
            self.copy.as_ref()?.reopen()
        })
    }

    /// How its output differs from what its `attempt_log` recorded (the file in this home, or
    /// the copy the log keeps), if it does.
    fn changed(&self, home: &Path) -> Option<String> {
        let (bytes, blake3) = self.recorded.as_ref()?;
        if self.theirs || (self.own(home).is_none() && self.copy.is_some()) {
            let mut file = self.open(home)?;
            return match attempt_file::stream(&mut file, 0, None, &mut |_| {}) {
                Err(e) => Some(format!(
                    "the copy of {} the log keeps cannot be read: {e}",
                    self.file
                )),
                Ok(read) if read.bytes != *bytes || read.blake3 != *blake3 => {
                    Some(crate::execute::kept_output_differs(
                        &self.file,
                        read.bytes,
                        &read.blake3,
                        *bytes,
                        blake3,
                    ))
                }
                Ok(_) => None,
            };
        }
        match crate::execute::check_attempt_log(home, &self.file, *bytes, blake3) {
            crate::execute::LogFileCheck::Differs(reason) => Some(reason),
            _ => None,
        }
    }
}

/// The run's events read so far, and the attempts of the wanted step (or of every step).
struct Tracker<'a> {
    run_id: String,
    step: Option<&'a str>,
    seen: u64,
    state: crate::decide::RunState,
    shown: Vec<Shown>,
    /// This home's identity and host, and whether the log is a SQLite file.
    this: crate::execute::ThisHome,
    /// The home its attempt logs are written under.
    home: std::path::PathBuf,
    /// What the commands it suggests carry after `cortex` (`Ctx::globals`).
    globals: Vec<String>,
    /// Nobody drives the run though it is not at rest: its driver was cut off (killed), so
    /// it will not move until someone resumes it.
    interrupted: bool,
}

/// What `cortex logs` shows of one attempt: what it says before the output (its header, and
/// a mark) or instead of it, where the output is, and its JSON fields but the output's text.
struct AttemptView {
    json: serde_json::Value,
    text: String,
    body: Option<Body>,
}

/// An attempt's output, in its file (open while it is shown): read in pieces, never whole.
struct Body {
    file: std::fs::File,
    /// Where the bytes shown end: the file's end (an attempt that ended, or whose file is
    /// recorded), or the end of its last whole line (one still writing).
    end: u64,
    /// It is all there is (a last line without its line end is given one).
    complete: bool,
    /// The size and blake3 the log recorded, which the file was found to hold (`kept`): the
    /// bytes streamed must be them too, or it changed while it was shown.
    vouched: Option<(u64, String)>,
}

impl<'a> Tracker<'a> {
    fn new(ctx: &Ctx, run_id: String, step: Option<&'a str>) -> Result<Self, CommandError> {
        Ok(Tracker {
            run_id,
            step,
            seen: 0,
            state: crate::decide::RunState::default(),
            shown: Vec::new(),
            this: crate::execute::ThisHome::of(
                &ctx.home,
                matches!(ctx.location()?, Location::Sqlite(_)),
            ),
            home: ctx.home.clone(),
            globals: ctx.globals(),
            interrupted: false,
        })
    }

    /// A command to suggest, as `Ctx::cmd` writes it.
    fn cmd(&self, args: &[&str]) -> String {
        crate::render::suggested_command(&self.globals, args)
    }

    /// The step asked for, one of the items of the `foreach:` step asked for, or any step.
    fn wanted(&self, name: &str) -> bool {
        let Some(asked) = self.step else {
            return true;
        };
        crate::definition::same_name(asked, name)
            || self
                .state
                .step(name)
                .and_then(|s| s.item.as_ref())
                .is_some_and(|item| crate::definition::same_name(asked, &item.parent))
    }

    fn find(&mut self, step: &str, attempt: u32) -> Option<&mut Shown> {
        self.shown
            .iter_mut()
            .find(|s| s.step == step && s.attempt == attempt)
    }

    /// Nobody drives the run: every attempt still running by the log's word (its step
    /// running, this its latest attempt) was cut off, as if `StepInterrupted` were recorded.
    fn cut_off(&mut self) {
        use crate::decide::RunPhase;
        self.interrupted = !self.state.run_id.is_empty()
            && !self.state.submitted
            && matches!(
                self.state.phase,
                RunPhase::NotStarted | RunPhase::Running | RunPhase::RollingBack
            );
        for s in &mut self.shown {
            let running = self.state.step(&s.step).is_some_and(|st| {
                st.status == crate::decide::StepStatus::Running && st.attempts == s.attempt
            });
            if !s.ended && running {
                s.ended = true;
                s.interrupted = true;
            }
        }
    }

    /// Read the events appended since the last read; how many there were.
    fn read(&mut self, store: &dyn EventStore) -> Result<usize, CommandError> {
        use crate::event::{AttemptEnd, Event};
        let events = store.read_run_from(&self.run_id, self.seen)?;
        for rec in &events {
            self.state = crate::decide::evolve(std::mem::take(&mut self.state), rec);
            self.seen = rec.seq + 1;
            match &rec.event {
                Event::StepStarted { step, attempt } if self.wanted(step) => {
                    let Some(index) = self.state.step_index(step) else {
                        continue;
                    };
                    let host = self.state.steps[index]
                        .claimed
                        .as_ref()
                        .filter(|c| c.attempt == *attempt)
                        .map(|c| c.host.clone())
                        .or_else(|| self.state.driver.as_ref().map(|d| d.host.clone()));
                    self.shown.push(Shown {
                        step: step.clone(),
                        attempt: *attempt,
                        file: crate::execute::attempt_log_name(&self.run_id, step, *attempt),
                        offset: 0,
                        decoder: AttemptText::new(),
                        headed: false,
                        ended: false,
                        interrupted: false,
                        recorded: None,
                        writer: None,
                        writer_dir: None,
                        theirs: false,
                        lost: None,
                        tail: String::new(),
                        ran_process: false,
                        child: None,
                        child_missing: false,
                        host,
                        copy: None,
                    });
                }
                Event::AttemptLog {
                    step,
                    attempt,
                    file,
                    bytes,
                    blake3,
                    home,
                    home_dir,
                    lost_bytes,
                    lost_reason,
                } => {
                    let this = self.this.clone();
                    if let Some(s) = self.find(step, *attempt) {
                        s.file.clone_from(file);
                        s.recorded = Some((*bytes, blake3.clone()));
                        s.writer.clone_from(home);
                        s.writer_dir.clone_from(home_dir);
                        let by = crate::execute::WrittenBy {
                            home: home.as_deref(),
                            dir: home_dir.as_deref(),
                            host: s.host.as_deref(),
                        };
                        s.theirs = !crate::execute::file_here_is_its(by, &this);
                        s.lost = lost_bytes.map(|n| (n, lost_reason.clone().unwrap_or_default()));
                    }
                }
                Event::StepSucceeded {
                    step,
                    attempt,
                    end,
                    output_tail,
                    ..
                }
                | Event::StepFailed {
                    step,
                    attempt,
                    end,
                    output_tail,
                    ..
                } => {
                    if let Some(s) = self.find(step, *attempt) {
                        s.ended = true;
                        s.tail.clone_from(output_tail);
                        s.ran_process = matches!(
                            end,
                            AttemptEnd::Exited { .. }
                                | AttemptEnd::Signaled { .. }
                                | AttemptEnd::AgentFailed { .. }
                        );
                        if let AttemptEnd::Child { run_id, .. } = end {
                            s.child = Some(run_id.clone());
                        }
                    }
                }
                Event::StepTimedOut {
                    step,
                    attempt,
                    output_tail,
                    ..
                } => {
                    if let Some(s) = self.find(step, *attempt) {
                        s.ended = true;
                        s.tail.clone_from(output_tail);
                        s.ran_process = true;
                    }
                }
                // An attempt that ended without its file recorded (stopped, killed, or run by
                // no process) has nothing more coming.
                Event::StepInterrupted { step, attempt, .. } => {
                    if let Some(s) = self.find(step, *attempt) {
                        s.ended = true;
                        s.interrupted = true;
                    }
                }
                _ => {}
            }
        }
        // A `uses:` step's child run is linked as its attempt starts.
        for s in &mut self.shown {
            if s.child.is_none()
                && let Some(link) = self.state.step(&s.step).and_then(|st| st.child.as_ref())
                && link.attempt == s.attempt
            {
                s.child = Some(link.run_id.clone());
            }
            // Once its attempt ended the child run is in the log (its `run_started` comes
            // before the parent's step ends): one not there was removed.
            if s.ended
                && !s.child_missing
                && let Some(child) = &s.child
                && !events.is_empty()
                && store.hash_at(child, 0)?.is_none()
            {
                s.child_missing = true;
            }
        }
        Ok(events.len())
    }

    /// Read what the log keeps of each attempt's output whose file is not in this home
    /// (PostgreSQL keeps it: any host reads it), past what was read before.
    fn fetch_copies(&mut self, store: &dyn EventStore) -> Result<(), CommandError> {
        if !store.keeps_attempt_output() {
            return Ok(());
        }
        for s in &mut self.shown {
            if s.disowns_file() || s.child.is_some() {
                continue;
            }
            if s.own(&self.home).is_some() {
                continue;
            }
            // Whole once its size is recorded, and what is kept never changes after.
            if let (Some(copy), Some((bytes, _))) = (&s.copy, &s.recorded)
                && copy.len >= *bytes
            {
                continue;
            }
            let mut copy = match s.copy.take() {
                Some(copy) => copy,
                None => KeptCopy::new().map_err(|e| {
                    CommandError::new(
                        exit::FAILED,
                        format!(
                            "cannot hold the output of {} read from the log: {e}",
                            s.file
                        ),
                    )
                })?,
            };
            if copy.catch_up(store, &self.run_id, &s.file)? {
                s.copy = Some(copy);
            }
        }
        Ok(())
    }

    /// The step asked for has not started, and may yet (pending, or a retry scheduled): why
    /// not, as the run stands (`the run waits for a report on `Plan``). None when it has an
    /// attempt, when no step was asked for, or when it never will run here (a prompt step, a
    /// skipped one).
    fn not_started(&self) -> Option<String> {
        use crate::decide::{RunPhase, StepStatus};
        let asked = self.step?;
        if !self.shown.is_empty() {
            return None;
        }
        let step = self
            .state
            .steps
            .iter()
            .find(|st| crate::definition::same_name(asked, &st.name))?;
        if !matches!(step.status, StepStatus::Pending | StepStatus::Ready) {
            return None;
        }
        let waiting: Vec<String> = self
            .state
            .steps
            .iter()
            .filter(|st| st.status == StepStatus::Waiting)
            .map(|st| format!("`{}`", crate::definition::shown(&st.name)))
            .collect();
        Some(match &self.state.phase {
            RunPhase::Waiting if !waiting.is_empty() => {
                format!("the run waits for a report on {}", waiting.join(", "))
            }
            RunPhase::Waiting => "the run waits for a report".to_string(),
            RunPhase::NotStarted | RunPhase::Running | RunPhase::RollingBack
                if self.interrupted =>
            {
                format!("the run was interrupted ({})", self.gone())
            }
            RunPhase::NotStarted | RunPhase::Running | RunPhase::RollingBack => {
                "the run is on earlier steps".to_string()
            }
            RunPhase::Paused { reason } => format!("the run is paused: {reason}"),
            RunPhase::Stopped => "the run was stopped".to_string(),
            RunPhase::Finished { outcome } => format!("the run ended {}", outcome.as_str()),
        })
    }

    /// What is said of a run cut off (`cut_off`): interrupted, with the command that goes on.
    fn gone(&self) -> String {
        let kind = if self.state.is_scenario() {
            "orchestrate"
        } else {
            "workflow"
        };
        format!(
            "its driver is gone; {} goes on",
            self.cmd(&[kind, "resume", &self.run_id])
        )
    }

    /// The run will not move without someone: it is paused, stopped or finished, or its
    /// driver was cut off.
    fn at_rest(&self) -> bool {
        use crate::decide::RunPhase;
        self.interrupted
            || matches!(
                self.state.phase,
                RunPhase::Paused { .. } | RunPhase::Stopped | RunPhase::Finished { .. }
            )
    }

    /// A step was asked for that the run does not have.
    fn unknown_step(&self) -> Option<CommandError> {
        let asked = self.step?;
        if self
            .state
            .steps
            .iter()
            .any(|st| crate::definition::same_name(asked, &st.name))
        {
            return None;
        }
        let names: Vec<&str> = self.state.steps.iter().map(|s| s.name.as_str()).collect();
        // A scenario's are phases.
        let (noun, of, command) = match self.state.start.as_ref().map(|s| s.kind) {
            Some(crate::event::RunKind::Scenario) => ("scenario", "phases", "orchestrate"),
            _ => ("workflow", "steps", "workflow"),
        };
        let lister = self.cmd(&[command, "status", &self.run_id]);
        Some(
            crate::render::names_hints(asked, &names, of, &lister)
                .into_iter()
                .fold(
                    CommandError::bad_input(format!(
                        "{noun} run {} has no {} `{}`",
                        self.run_id,
                        &of[..of.len() - 1],
                        crate::definition::shown(asked)
                    )),
                    |e, hint| e.hint(hint),
                ),
        )
    }

    /// What `cortex logs` says of an attempt whose file it cannot print (none: nothing to say
    /// yet, or ever — a prompt step's attempt runs nothing here).
    fn without_file(&self, s: &Shown) -> Option<(serde_json::Value, String)> {
        if let Some(child) = &s.child
            && s.child_missing
        {
            return Some((
                serde_json::json!({"status": "child_run_missing", "child_run_id": child}),
                format!(
                    "(ran child run {child}, which the log does not hold: its events were removed since; {} says what else is missing)\n",
                    self.cmd(&["log", "verify"])
                ),
            ));
        }
        if let Some(child) = &s.child {
            return Some((
                serde_json::json!({"status": "child_run", "child_run_id": child}),
                format!(
                    "(ran child run {child}: {} prints its output)\n",
                    self.cmd(&["logs", child])
                ),
            ));
        }
        if !s.ended {
            return None;
        }
        let tail = |text: &str| {
            let mut tail = s.tail.clone();
            if !tail.is_empty() && !tail.ends_with('\n') {
                tail.push('\n');
            }
            format!("{text}\n{tail}")
        };
        if let Some((bytes, blake3)) = &s.recorded {
            let by = crate::execute::WrittenBy {
                home: s.writer.as_deref(),
                dir: s.writer_dir.as_deref(),
                host: s.host.as_deref(),
            };
            let here = crate::execute::belongs_here(&self.home, &s.file, by, &self.this);
            let (status, text) = if here {
                // Something else at its path (a link, a FIFO, a linked folder) is said as
                // what it is: it was called missing.
                let what = match crate::execute::not_a_file_at(&self.home, &s.file) {
                    Some(what) => format!("is not readable here ({what})"),
                    None => "is missing".to_string(),
                };
                (
                    "missing",
                    tail(&format!(
                        "(the file {} {what}: the log recorded {bytes} bytes of this output, and {} fails on it; the tail kept in the log:)",
                        s.file,
                        self.cmd(&["log", "verify"])
                    )),
                )
            } else if s.host.as_deref() == Some(self.this.host.as_str()) {
                // This machine, another home (another CORTEX_HOME sharing the log): "not on this
                // machine" named the machine it was asked on.
                (
                    "elsewhere",
                    tail(&format!(
                        "(the file {} is not in this home ({}): the attempt ran on this machine, {}, in another home sharing the log{}; `cortex logs` run with that home (`--home` naming its folder) shows it there; the tail kept in the log:)",
                        s.file,
                        self.home.display(),
                        self.this.host,
                        // The log names the home that wrote it by its identity, and (since
                        // event version 9) its folder.
                        match (s.writer.as_deref(), s.writer_dir.as_deref()) {
                            (Some(id), Some(dir)) => format!(
                                " (the home at {}, whose {} holds {id})",
                                crate::render::shell_quote(dir),
                                crate::execute::HOME_ID_FILE
                            ),
                            (Some(id), None) => format!(
                                " (the home whose {} holds {id})",
                                crate::execute::HOME_ID_FILE
                            ),
                            _ => String::new(),
                        }
                    )),
                )
            } else {
                (
                    "elsewhere",
                    tail(&format!(
                        "(the file {} is not on this machine: the attempt ran on {}; the tail kept in the log:)",
                        s.file,
                        s.host.as_deref().unwrap_or("another host")
                    )),
                )
            };
            return Some((
                serde_json::json!({"status": status, "file": s.file, "bytes": bytes, "blake3": blake3, "host": s.host, "tail": s.tail}),
                text,
            ));
        }
        if s.interrupted {
            // No output of it here: no file in this home, none kept by the log. Cut off before
            // it printed anything (no file is made until it prints), or on another host, or in
            // another home (a log shared, or copied without it): nothing records which, so it
            // is said as what is known. Before, "before it printed anything" was said as a
            // fact, also of a copied log whose attempt had printed.
            let elsewhere = s.host.as_deref().filter(|h| *h != self.this.host.as_str());
            let text = match elsewhere {
                Some(host) => format!(
                    "(interrupted, not recorded: the attempt was cut off before it ended — stopped, aborted or its driver gone — and it ran on {host}: no file of its output is on this machine)\n"
                ),
                None => format!(
                    "(interrupted, not recorded: the attempt was cut off before it ended — stopped, aborted or its driver gone — and no output of it is here, in this home ({}) or kept by the log: it was cut off before it printed anything, or printed in another home that kept it)\n",
                    self.home.display()
                ),
            };
            return Some((
                serde_json::json!({"status": "not_recorded", "bytes": 0, "blake3": null, "host": s.host, "text": ""}),
                text,
            ));
        }
        if !s.ran_process {
            return None;
        }
        if s.tail.is_empty() {
            Some((
                serde_json::json!({"status": "no_output", "bytes": 0}),
                "(no output)\n".to_string(),
            ))
        } else {
            // It printed, but its whole output could not be kept (writing the file failed).
            Some((
                serde_json::json!({"status": "not_kept", "tail": s.tail}),
                tail("(its whole output could not be kept; the tail kept in the log:)"),
            ))
        }
    }

    /// What `cortex logs` says of an attempt in flight with no file yet: it runs a command
    /// that has printed nothing so far (or prints on another host). None for an attempt that
    /// runs no command here (a prompt step, a phase without `run:`).
    fn in_flight_empty(&self, s: &Shown) -> Option<(serde_json::Value, String)> {
        if s.ended || s.child.is_some() {
            return None;
        }
        let index = self.state.step_index(&s.step)?;
        if self.state.is_external(index) {
            return None;
        }
        let text = match s.host.as_deref().filter(|h| *h != self.this.host.as_str()) {
            Some(host) => format!(
                "(running on {host}; its output is written there, and its end event keeps its tail)\n"
            ),
            None => "(running; nothing printed yet)\n".to_string(),
        };
        Some((
            serde_json::json!({"status": "in_flight", "bytes": 0, "blake3": null, "host": s.host, "text": ""}),
            text,
        ))
    }

    /// An attempt's output (as far as it has been written, in whole lines, while it runs),
    /// or what there is to say instead. A recorded file is checked against its size and hash
    /// first (read in pieces), as `log verify` does: a changed one is shown marked, never as
    /// the attempt's output.
    fn view(&self, home: &Path, s: &Shown) -> Option<AttemptView> {
        let header = format!("── {} · attempt {} ──\n", s.step, s.attempt);
        let base = serde_json::json!({"step": s.step, "attempt": s.attempt});
        let with = |mut doc: serde_json::Value, extra: serde_json::Value| {
            if let (Some(doc), serde_json::Value::Object(extra)) = (doc.as_object_mut(), extra) {
                doc.extend(extra);
            }
            doc
        };
        let complete = s.ended || s.recorded.is_some();
        // All of it, a line still being written too (`Waiting for lock...`): the writer
        // passes a partial line on after a moment, cut only between characters.
        let opened = s
            .open(home)
            .and_then(|file| Some((attempt_file::size(&file).ok()?, file)))
            .map(|(end, file)| (file, end));
        if let Some((file, end)) = opened {
            let changed = s.changed(home);
            let (status, mark) = match (&s.recorded, s.ended, &changed) {
                (Some(_), _, Some(reason)) => (
                    "changed",
                    format!(
                        "(changed since the log recorded it: {reason}; {} fails on it)\n",
                        self.cmd(&["log", "verify"])
                    ),
                ),
                (Some(_), _, None) => match &s.lost {
                    None => ("kept", String::new()),
                    Some((lost, why)) => (
                        "incomplete",
                        format!(
                            "(incomplete: {} of its output could not be written to the file ({why}); what it kept is below)\n",
                            crate::render::format_bytes(*lost)
                        ),
                    ),
                },
                (None, false, _) => ("in_flight", String::new()),
                (None, true, _) => (
                    "not_recorded",
                    "(interrupted, not recorded: the attempt was cut off before it ended — stopped, aborted or its driver gone — so the log holds no size or hash of this output)\n"
                        .to_string(),
                ),
            };
            let (bytes, blake3) = match &s.recorded {
                Some((b, h)) => (serde_json::json!(b), serde_json::json!(h)),
                None => (serde_json::json!(end), serde_json::Value::Null),
            };
            let mut doc = with(
                base,
                serde_json::json!({"status": status, "file": s.file, "bytes": bytes, "blake3": blake3}),
            );
            if let Some(reason) = changed {
                doc["changed"] = serde_json::Value::String(reason);
            }
            if let Some((lost, why)) = &s.lost {
                doc["lost_bytes"] = serde_json::json!(lost);
                doc["lost_reason"] = serde_json::json!(why);
            }
            return Some(AttemptView {
                json: doc,
                text: header + &mark,
                body: Some(Body {
                    file,
                    end,
                    complete,
                    vouched: s
                        .recorded
                        .clone()
                        .filter(|_| matches!(status, "kept" | "incomplete")),
                }),
            });
        }
        let (extra, text) = self.without_file(s).or_else(|| self.in_flight_empty(s))?;
        Some(AttemptView {
            json: with(base, extra),
            text: header + &text,
            body: None,
        })
    }
}

impl Body {
    /// The output as a person reads it, given to `sink` piece by piece (`AttemptText`); then
    /// a line saying so if it could not be read to its end, or if the bytes read are not the
    /// ones its check found a moment before (the file changed in between).
    fn show(mut self, verify: &str, sink: &mut dyn FnMut(&str)) {
        let mut decoder = AttemptText::new();
        let streamed = attempt_file::stream(&mut self.file, 0, Some(self.end), &mut |bytes| {
            let text = decoder.push(bytes);
            if !text.is_empty() {
                sink(&text);
            }
        });
        // A person's view ends its last line, one still being written too, so that what
        // follows starts a line.
        sink(&decoder.finish(true));
        match streamed {
            Err(e) => sink(&format!(
                "(the rest of this output could not be read: {e})\n"
            )),
            Ok(read) => {
                if let Some((bytes, blake3)) = &self.vouched
                    && (read.bytes != *bytes || read.blake3 != *blake3)
                {
                    sink(&format!(
                        "(changed while it was shown: {} bytes read (blake3 {}), the log recorded {bytes} ({}); {verify} fails on it)\n",
                        read.bytes,
                        &read.blake3[..12],
                        &blake3[..blake3.len().min(12)]
                    ));
                }
            }
        }
    }
}

/// The most bytes of attempts' output one `--json` document of `cortex logs` holds, all its
/// attempts together (an HTTP answer and an MCP tool's result are documents held whole): an
/// attempt past it holds the last of its bytes that fit (maybe none), with `truncated` and
/// `omitted_bytes` saying how many of the first are left out. `cortex logs RUN STEP --raw`
/// prints them all, and `cortex logs` without `--json` shows them all, reading in pieces.
pub const JSON_OUTPUT_MAX: u64 = 8 << 20;

/// How many bytes of each attempt's output `cortex logs --json` gives by default, its last:
/// about 2k tokens, given twice in an MCP result (text and structured content), so that the
/// attempts of a step fit what a model takes (Claude Code refuses a result past about 25k
/// tokens). `--tail-bytes` (`tail_bytes`) asks for more, up to `JSON_OUTPUT_MAX`.
pub const DEFAULT_TAIL_BYTES: u64 = 8 << 10;

/// Which attempts, and how much of each, `cortex logs --json` gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Only this attempt (of the step, or of each of a `foreach:` step's items).
    pub attempt: Option<u32>,
    /// At most this many bytes of each attempt's output, its last (`DEFAULT_TAIL_BYTES`).
    pub tail_bytes: u64,
}

impl Default for Window {
    fn default() -> Window {
        Window {
            attempt: None,
            tail_bytes: DEFAULT_TAIL_BYTES,
        }
    }
}

fn nothing_kept(run_id: &str, step: Option<&str>) -> String {
    format!(
        "No attempt output for {}run {run_id}: no command of it has run (a prompt step, or a phase without `run:`, has none).\n",
        step.map_or(String::new(), |s| format!("`{s}` in "))
    )
}

/// What `cortex logs` says when it has no attempt to show: that the step asked for has not
/// run yet (and why), that it was skipped (and why), that it runs no command here (a prompt
/// step, a phase without `run:`), or that no command of the run has run.
fn nothing_yet(tracker: &Tracker<'_>) -> String {
    use crate::decide::StepStatus;
    let Some(step) = tracker.step else {
        return nothing_kept(&tracker.run_id, None);
    };
    if let Some(why) = tracker.not_started() {
        return not_run_yet(&tracker.run_id, step, &why);
    }
    let run_id = &tracker.run_id;
    let state = &tracker.state;
    let Some(index) = state
        .steps
        .iter()
        .position(|st| crate::definition::same_name(step, &st.name))
    else {
        return nothing_kept(run_id, Some(step));
    };
    let st = &state.steps[index];
    let shown = crate::definition::shown(&st.name);
    if st.status == StepStatus::Skipped {
        let why = st.error.as_deref().unwrap_or("it was skipped");
        return format!(
            "No attempt output for `{shown}` in run {run_id}: it was skipped ({why}), so no command of it ran.\n"
        );
    }
    if state.is_external(index) {
        let (what, done) = if state.is_scenario() {
            ("a phase without `run:`", "an agent or a person does it")
        } else {
            ("a prompt step", "a person or an agent does it")
        };
        return format!(
            "No attempt output for `{shown}` in run {run_id}: it is {what}, which runs no command here ({done} and reports it), so it has no output to show.\n"
        );
    }
    nothing_kept(run_id, Some(step))
}

fn not_run_yet(run_id: &str, step: &str, why: &str) -> String {
    format!(
        "`{}` in run {run_id} has not run yet: {why}.\n",
        crate::definition::shown(step)
    )
}

/// The run and the attempts `cortex logs [RUN] [STEP]` shows.
/// With `attempt`, only the attempts of that number (one of the step, or one of each of a
/// `foreach:` step's items); a number no attempt has is refused, naming those there are.
fn tracked<'a>(
    ctx: &Ctx,
    run: Option<&str>,
    step: Option<&'a str>,
    attempt: Option<u32>,
) -> Result<Tracker<'a>, CommandError> {
    let store = ctx
        .reading_store()?
        .ok_or_else(|| ctx.no_runs_of_any_kind_for(run))?;
    let after: Vec<&str> = step.into_iter().collect();
    let run_id = ctx.resolve_any_run(&store, run, &["logs"], &after, step)?;
    let mut tracker = Tracker::new(ctx, run_id, step)?;
    tracker.read(&*store)?;
    // In flight or cut off, judged as `status` judges it (`execute::load_live`): with no live
    // driver, once the log stands still, an attempt still running by the log's word was cut
    // off (its driver SIGKILLed) — interrupted, not in flight. Before, `logs` listed it
    // `in_flight` and showed a file planted at its path with no note.
    while !crate::execute::driver_alive(&ctx.home, &*store, &tracker.run_id) {
        if tracker.read(&*store)? == 0 {
            tracker.cut_off();
            break;
        }
    }
    if let Some(e) = tracker.unknown_step() {
        return Err(e);
    }
    tracker.fetch_copies(&*store)?;
    if let Some(n) = attempt {
        let mut numbers: Vec<u32> = tracker.shown.iter().map(|s| s.attempt).collect();
        numbers.sort_unstable();
        numbers.dedup();
        tracker.shown.retain(|s| s.attempt == n);
        if tracker.shown.is_empty() {
            let of = step.map_or(String::new(), |s| {
                format!("`{}` in ", crate::definition::shown(s))
            });
            let there: Vec<String> = numbers.iter().map(u32::to_string).collect();
            // Attempts that ran no command here (a phase reported done or failed, a prompt
            // step answered) are none `cortex logs` shows, but they were made: the run's
            // state counts them, as `status` does.
            let made = step
                .and_then(|asked| {
                    tracker
                        .state
                        .steps
                        .iter()
                        .find(|st| crate::definition::same_name(asked, &st.name))
                })
                .map_or(0, |st| st.attempts);
            let hint = if !there.is_empty() {
                format!("its attempts: {}", there.join(", "))
            } else if made > 0 {
                let all: Vec<String> = (1..=made).map(|a| a.to_string()).collect();
                format!(
                    "its attempts: {}; none ran a command here (it was reported, or answered), so no output of it was kept",
                    all.join(", ")
                )
            } else {
                "no attempt of it has started".to_string()
            };
            return Err(CommandError::bad_input(format!(
                "{of}run {} has no attempt {n}",
                tracker.run_id
            ))
            .hint(hint));
        }
    }
    Ok(tracker)
}

/// `cortex logs [RUN] [STEP]` for a person: the whole output of every attempt (of one step or
/// phase, or of a `foreach:` step's items), each under its header, given to `sink` in pieces
/// read from its file as they are shown, so that a log of any size is shown in bounded memory.
/// An attempt that printed nothing says so, one whose file is missing or on another host says
/// that and shows the tail the log kept, and a `uses:` step's attempt names its child run.
pub fn print_attempt_logs(
    ctx: &Ctx,
    run: Option<&str>,
    step: Option<&str>,
    attempt: Option<u32>,
    sink: &mut dyn FnMut(&str),
) -> Result<i32, CommandError> {
    let tracker = tracked(ctx, run, step, attempt)?;
    let verify = tracker.cmd(&["log", "verify"]);
    let mut shown_any = false;
    // One at a time: each attempt's file is open only while it is shown.
    for view in tracker
        .shown
        .iter()
        .filter_map(|s| tracker.view(&ctx.home, s))
    {
        shown_any = true;
        sink(&view.text);
        if let Some(body) = view.body {
            body.show(&verify, sink);
        }
    }
    if !shown_any {
        sink(&nothing_yet(&tracker));
    }
    Ok(exit::OK)
}

/// `cortex logs [RUN] [STEP] --json` (the MCP `logs` tool, `GET /api/v1/runs/{id}/logs`): the
/// attempts `print_attempt_logs` shows, as one document that lists them with their text, size
/// and hash — at most `JSON_OUTPUT_MAX` bytes of output in all, the last of each attempt's
/// (`truncated`, `omitted_bytes` where some are left out). Its text for people is the same,
/// each cut attempt saying so under its header.
///
/// `window` picks one attempt and bounds each attempt's bytes (`tail_bytes`, the last kept);
/// a cut attempt says how many bytes are left out and how to get them (`more`).
pub fn attempt_logs(
    ctx: &Ctx,
    run: Option<&str>,
    step: Option<&str>,
    window: Window,
) -> Result<Output, CommandError> {
    let tracker = tracked(ctx, run, step, window.attempt)?;
    let run_id = tracker.run_id.clone();
    let mut budget = JSON_OUTPUT_MAX;
    let mut text = String::new();
    let mut attempts = Vec::new();
    for view in tracker
        .shown
        .iter()
        .filter_map(|s| tracker.view(&ctx.home, s))
    {
        let AttemptView {
            mut json,
            text: said,
            body,
        } = view;
        text.push_str(&said);
        if let Some(mut body) = body {
            let most = budget.min(window.tail_bytes);
            let (from, raw) = match attempt_file::tail(&mut body.file, body.end, most) {
                Ok(read) => read,
                Err(e) => {
                    json["unreadable"] = serde_json::Value::String(e.to_string());
                    text.push_str(&format!("(this output could not be read: {e})\n"));
                    attempts.push(json);
                    continue;
                }
            };
            budget -= raw.len() as u64;
            let decoded = String::from_utf8_lossy(&raw);
            // JSON text cannot hold bytes that are not UTF-8: then the exact bytes go beside
            // the text (which shows them as U+FFFD).
            if let std::borrow::Cow::Owned(_) = decoded {
                use base64::Engine;
                json["base64"] = serde_json::Value::String(
                    base64::engine::general_purpose::STANDARD.encode(&raw),
                );
            }
            if from > 0 {
                let step = json["step"].as_str().unwrap_or_default().to_string();
                let n = json["attempt"].as_u64().unwrap_or_default().to_string();
                let raw_cmd = tracker.cmd(&["logs", &run_id, &step, "--raw", "--attempt", &n]);
                let more_cmd = tracker.cmd(&[
                    "logs",
                    &run_id,
                    &step,
                    "--json",
                    "--attempt",
                    &n,
                    "--tail-bytes",
                    &(body.end.min(JSON_OUTPUT_MAX)).to_string(),
                ]);
                let why = if most < window.tail_bytes {
                    format!(
                        "a document holds at most {JSON_OUTPUT_MAX} bytes of output, all its attempts together"
                    )
                } else {
                    format!(
                        "at most {} bytes of each attempt are given (tail_bytes)",
                        window.tail_bytes
                    )
                };
                let more = format!(
                    "the first {from} of its {} bytes are left out ({why}): {more_cmd} (the logs tool with attempt {n} and a larger tail_bytes, at most {JSON_OUTPUT_MAX}) gives more of its end, {raw_cmd} every byte",
                    body.end
                );
                json["truncated"] = serde_json::Value::Bool(true);
                json["omitted_bytes"] = serde_json::json!(from);
                text.push_str(&format!("(truncated: {more})\n"));
                json["more"] = serde_json::Value::String(more);
            }
            text.push_str(&attempt_text(&raw, body.complete));
            json["text"] = serde_json::Value::String(decoded.into_owned());
        }
        attempts.push(json);
    }
    if attempts.is_empty() {
        text = nothing_yet(&tracker);
    }
    let doc = serde_json::json!({
        "run_id": run_id,
        "step": step,
        "attempt": window.attempt,
        "tail_bytes": window.tail_bytes,
        "attempts": attempts,
    });
    Ok(Output::new(doc, text, exit::OK))
}

/// One attempt's output as the bytes its process wrote (`cortex logs RUN STEP --raw`, and the
/// API's raw log), to be read as they are wanted: an output of gigabytes is never held whole.
pub struct RawAttemptLog {
    /// The bytes. A recorded file's are checked as they are read: when the last of them has
    /// been read, their size and blake3 against what the log recorded, so a file changed while
    /// it is read ends the read with an error instead of passing for the attempt's output.
    pub reader: Box<dyn std::io::Read + Send>,
    /// How many bytes `reader` gives.
    pub len: u64,
    /// What the reader should know of them, for stderr: no size or hash vouches for them.
    pub warning: Option<String>,
}

/// A recorded file's bytes, checked at their end against the log's size and hash.
struct Checked {
    file: std::io::Take<std::fs::File>,
    hasher: blake3::Hasher,
    read: u64,
    bytes: u64,
    blake3: String,
    name: String,
}

impl std::io::Read for Checked {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.file.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.read += n as u64;
        if n == 0
            && !buf.is_empty()
            && (self.read != self.bytes || self.hasher.finalize().to_hex().as_str() != self.blake3)
        {
            return Err(std::io::Error::other(format!(
                "the output of {} changed while it was read: the {} bytes given are not the {} the log recorded",
                self.name, self.read, self.bytes
            )));
        }
        Ok(n)
    }
}

/// `cortex logs RUN STEP --raw [--attempt N]`: the file of one attempt of `step` (its last
/// unless `attempt` is given), as its process wrote it — not decoded, not escaped, no header.
/// One that printed nothing is empty. Refused where the bytes are not here to give (a file
/// changed since the log recorded it, missing, or on another host; a `uses:` step's attempt,
/// whose output is its child run's), and for a `foreach:` step, whose items are the steps.
pub fn raw_attempt_log(
    ctx: &Ctx,
    run: Option<&str>,
    step: &str,
    attempt: Option<u32>,
) -> Result<RawAttemptLog, CommandError> {
    let tracker = tracked(ctx, run, Some(step), None)?;
    let run_id = tracker.run_id.clone();
    let mut steps: Vec<&str> = Vec::new();
    for s in &tracker.shown {
        if !steps.contains(&s.step.as_str()) {
            steps.push(&s.step);
        }
    }
    if steps.len() > 1 {
        return Err(CommandError::bad_input(format!(
            "`{}` in run {run_id} ran {} steps (a `foreach:` step's items): --raw prints one attempt of one of them",
            crate::definition::shown(step),
            steps.len()
        ))
        .hint(format!(
            "name one of {}, e.g. {}",
            steps
                .iter()
                .map(|s| crate::definition::shown(s))
                .collect::<Vec<_>>()
                .join(", "),
            ctx.cmd(&["logs", &run_id, steps[0], "--raw"])
        )));
    }
    let attempts: Vec<&Shown> = tracker.shown.iter().collect();
    let chosen = match attempt {
        None => attempts.last().copied(),
        Some(n) => attempts.iter().copied().find(|s| s.attempt == n),
    };
    let Some(shown) = chosen else {
        let ran: Vec<String> = attempts.iter().map(|s| s.attempt.to_string()).collect();
        // An attempt the run does not have: not found (the API's 404), as an unknown step.
        let mut e = CommandError::bad_input(match attempt {
            Some(n) => format!("`{step}` in run {run_id} has no attempt {n}"),
            None => format!("`{step}` in run {run_id} has not run yet"),
        })
        .because(crate::ops::Cause::Missing);
        if !ran.is_empty() {
            e = e.hint(format!("its attempts: {}", ran.join(", ")));
        }
        return Err(e);
    };
    let name = format!("attempt {} of `{}`", shown.attempt, shown.step);
    let nothing = || RawAttemptLog {
        reader: Box::new(std::io::empty()),
        len: 0,
        warning: None,
    };
    if let Some(file) = shown.open(&ctx.home) {
        use std::io::Read;
        let size = attempt_file::size(&file).map_err(|e| {
            CommandError::new(
                exit::FAILED,
                format!("the output of {name} could not be read: {e}"),
            )
        })?;
        let Some((bytes, blake3)) = &shown.recorded else {
            let warning = if shown.ended {
                format!(
                    "{name} was interrupted: its driver ended before it did, so the log holds no size or hash of this output"
                )
            } else {
                format!(
                    "{name} has not ended (or its driver is gone): this is what it wrote so far, and the log holds no size or hash of it yet"
                )
            };
            return Ok(RawAttemptLog {
                reader: Box::new(file.take(size)),
                len: size,
                warning: Some(warning),
            });
        };
        if let Some(reason) = shown.changed(&ctx.home) {
            return Err(CommandError::new(
                exit::FAILED,
                format!("the output of {name} was changed since the log recorded it: {reason}"),
            )
            .hint(format!(
                "{} fails on it; {} shows it marked",
                ctx.cmd(&["log", "verify", &run_id]),
                ctx.cmd(&["logs", &run_id, &shown.step])
            )));
        }
        let warning = shown.lost.as_ref().map(|(lost, why)| {
            format!(
                "the output of {name} is incomplete: {} of it could not be written to its file ({why})",
                crate::render::format_bytes(*lost)
            )
        });
        return Ok(RawAttemptLog {
            reader: Box::new(Checked {
                file: file.take(*bytes),
                hasher: blake3::Hasher::new(),
                read: 0,
                bytes: *bytes,
                blake3: blake3.clone(),
                name,
            }),
            len: *bytes,
            warning,
        });
    }
    match tracker.without_file(shown) {
        None if !shown.ended => Ok(nothing()),
        None => Err(CommandError::bad_input(format!(
            "{name} ran no command here (a prompt step or a phase without `run:`): it has no output"
        ))),
        Some((doc, text)) => match doc["status"].as_str() {
            Some("no_output") => Ok(nothing()),
            // Interrupted, and no output of it here (none printed, or kept in another home):
            // nothing, said so.
            Some("not_recorded") if doc["host"].as_str().is_none_or(|h| h == tracker.this.host) => {
                Ok(RawAttemptLog {
                    warning: Some(format!(
                        "{name} was interrupted before its end was recorded, and no output of it is here (in this home or kept by the log): nothing to print"
                    )),
                    ..nothing()
                })
            }
            _ => Err(CommandError::new(
                exit::FAILED,
                format!(
                    "the output of {name} is not here: {}",
                    text.lines()
                        .next()
                        .unwrap_or_default()
                        .trim_end_matches("; the tail kept in the log:)")
                        .trim_matches(['(', ')'])
                ),
            )
            .hint(format!(
                "{} shows what the log kept of it",
                ctx.cmd(&["logs", &run_id, &shown.step])
            ))),
        },
    }
}

/// Give `text` (whole lines: a header, a note) to `sink` on a line of its own: a partial
/// line printed before it is ended first.
fn sink_line(text: &str, mid_line: &mut bool, sink: &mut dyn FnMut(&str)) {
    if std::mem::take(mid_line) {
        sink("\n");
    }
    sink(text);
}

/// Print what is new in attempt `s`'s file under its header (`── LABEL · attempt N ──`; again
/// with "(continued)" when another attempt's text came between: `key` says which attempt
/// printed last); whether it has a file to print from (else the caller says why not).
fn pump(
    s: &mut Shown,
    home: &Path,
    label: &str,
    key: (usize, usize),
    last: &mut Option<(usize, usize)>,
    mid_line: &mut bool,
    sink: &mut dyn FnMut(&str),
) -> bool {
    let complete = s.ended || s.recorded.is_some();
    // All that is written, a partial line too (continued on this line when the rest comes,
    // unless another attempt's text comes between); the offset counts bytes of the file, not
    // of the text they are shown as.
    let opened = s.open(home).and_then(|file| {
        let upto = attempt_file::size(&file).ok()?.max(s.offset);
        Some((file, upto))
    });
    let Some((mut file, upto)) = opened else {
        return false;
    };
    let new = upto > s.offset;
    if !s.headed {
        sink_line(
            &format!("── {label} · attempt {} ──\n", s.attempt),
            mid_line,
            sink,
        );
        *last = Some(key);
    } else if new && *last != Some(key) {
        sink_line(
            &format!("── {label} · attempt {} (continued) ──\n", s.attempt),
            mid_line,
            sink,
        );
    }
    if new {
        *last = Some(key);
    }
    let decoder = &mut s.decoder;
    let streamed = attempt_file::stream(&mut file, s.offset, Some(upto), &mut |bytes| {
        let text = decoder.push(bytes);
        if !text.is_empty() {
            *mid_line = !text.ends_with('\n');
            sink(&text);
        }
    });
    if complete {
        let text = std::mem::take(&mut s.decoder).finish(true);
        if !text.is_empty() {
            *mid_line = !text.ends_with('\n');
            sink(&text);
        }
    }
    if let Err(e) = &streamed {
        sink_line(
            &format!("(part of this output could not be read: {e})\n"),
            mid_line,
            sink,
        );
    }
    s.headed = true;
    s.offset = upto;
    true
}

/// `cortex logs [RUN] [STEP] --follow`: what `print_attempt_logs` prints, as it comes — an
/// attempt in flight line by line under one header, the next attempts as they start — until
/// the run stops moving. Each new part of a file is read in pieces.
pub fn follow_attempt_logs(
    ctx: &Ctx,
    run: Option<&str>,
    step: Option<&str>,
    sink: &mut dyn FnMut(&str),
) -> Result<i32, CommandError> {
    let store = ctx
        .reading_store()?
        .ok_or_else(|| ctx.no_runs_of_any_kind_for(run))?;
    let after: Vec<&str> = step.into_iter().chain(["--follow"]).collect();
    let run_id = ctx.resolve_any_run(&store, run, &["logs"], &after, step)?;
    let mut tracker = Tracker::new(ctx, run_id.clone(), step)?;
    let mut printed_any = false;
    // The attempt whose text was printed last: attempts in flight side by side (parallel
    // phases, `foreach:` items) each get their header again when their lines resume, so a
    // line is always under the header of the attempt that printed it.
    let mut last: Option<(usize, usize)> = None;
    // The child runs of `uses:` steps followed, each with the parent step that ran it.
    let mut children: Vec<(String, Tracker<'_>)> = Vec::new();
    let mut said_waiting = false;
    let mut said_not_started = false;
    // The text printed last ends inside a line (an attempt's partial line): a header or a
    // note printed next starts a line first.
    let mut mid_line = false;
    loop {
        // Probed before the read: a driver that ends in between appended everything first,
        // so this read has it (probed after, its last events would be left unread).
        let alive = crate::execute::driver_alive(&ctx.home, &*store, &run_id);
        let read = tracker.read(&*store)?;
        if let Some(e) = tracker.unknown_step() {
            return Err(e);
        }
        tracker.fetch_copies(&*store)?;
        // A run submitted for workers moves once one takes it: followed from its submission,
        // not ended at once as a run that nobody drives (it said "no command of it has run").
        let waits_for_workers = tracker.state.submitted && !alive;
        let moving = !tracker.state.run_id.is_empty()
            && matches!(
                tracker.state.phase,
                crate::decide::RunPhase::Running | crate::decide::RunPhase::RollingBack
            )
            && (alive || waits_for_workers);
        // Nobody drives it, and the log stands still: its driver was cut off (killed), and so
        // was the attempt it ran. A run waiting for a report or for a worker is not: it moves
        // once someone answers.
        if !moving && read == 0 && !waits_for_workers {
            tracker.cut_off();
        }
        // A `uses:` step's child run: its steps' output is followed too, each attempt under
        // the parent's step and its own (`deploy › build · attempt 1`), right after the
        // parent's attempt, until the parent stops moving (it waits for its child: the
        // child's events are all in by then).
        for s in &tracker.shown {
            if let Some(child) = &s.child
                && !children.iter().any(|(_, t)| t.run_id == *child)
            {
                children.push((s.step.clone(), Tracker::new(ctx, child.clone(), None)?));
            }
        }
        for i in 0..tracker.shown.len() {
            let label = tracker.shown[i].step.clone();
            let child = tracker.shown[i].child.clone();
            if pump(
                &mut tracker.shown[i],
                &ctx.home,
                &label,
                (0, i),
                &mut last,
                &mut mid_line,
                sink,
            ) {
                printed_any = true;
            } else {
                let s = &tracker.shown[i];
                let header = format!("── {} · attempt {} ──\n", s.step, s.attempt);
                if !s.headed
                    && let Some((_, text)) = tracker.without_file(s)
                {
                    sink_line(&(header + &text), &mut mid_line, sink);
                    last = Some((0, i));
                    tracker.shown[i].headed = true;
                    printed_any = true;
                }
            }
            let Some(c) = child.and_then(|id| children.iter().position(|(_, t)| t.run_id == id))
            else {
                continue;
            };
            let (parent_step, child) = &mut children[c];
            child.read(&*store)?;
            child.fetch_copies(&*store)?;
            for j in 0..child.shown.len() {
                let label = format!("{parent_step} › {}", child.shown[j].step);
                if pump(
                    &mut child.shown[j],
                    &ctx.home,
                    &label,
                    (c + 1, j),
                    &mut last,
                    &mut mid_line,
                    sink,
                ) {
                    printed_any = true;
                } else if !child.shown[j].headed
                    && let Some((_, text)) = child.without_file(&child.shown[j])
                {
                    // What has no file to print is said as the parent's own is: a grandchild
                    // (the child's `uses:` step) is named, with the command that prints its
                    // output (before, the follower left no trace of it).
                    let s = &child.shown[j];
                    let header = format!("── {label} · attempt {} ──\n", s.attempt);
                    sink_line(&(header + &text), &mut mid_line, sink);
                    last = Some((c + 1, j));
                    child.shown[j].headed = true;
                    printed_any = true;
                }
            }
        }
        if waits_for_workers && !said_waiting {
            sink_line(
                "(submitted for workers: waiting for one to take the run)\n",
                &mut mid_line,
                sink,
            );
            said_waiting = true;
        }
        // A step asked for that has not started waits for it, however long the run waits
        // on something else (a report on an earlier prompt step, a driver to take it on):
        // until it starts, or the run comes to rest without it (paused, stopped, finished,
        // interrupted), which is said.
        if let Some(why) = tracker.not_started() {
            if tracker.at_rest() {
                let asked = step.unwrap_or_default();
                sink_line(
                    &format!(
                        "`{}` in run {run_id} did not start: {why}.\n",
                        crate::definition::shown(asked)
                    ),
                    &mut mid_line,
                    sink,
                );
                return Ok(if tracker.interrupted {
                    exit::WAITING
                } else {
                    exit::OK
                });
            }
            // Said once the log stands still (or the run moves): a run whose driver is gone
            // is found interrupted then, and said so instead.
            if !said_not_started && (moving || read == 0) {
                sink_line(
                    &format!(
                        "(waiting for `{}` to start: {why})\n",
                        crate::definition::shown(step.unwrap_or_default())
                    ),
                    &mut mid_line,
                    sink,
                );
                said_not_started = true;
            }
        } else if !moving && (read == 0 || tracker.shown.iter().all(|s| s.ended)) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    // What attempts cut off held back (a `\r`, a cut character), and the end of a line they
    // left open.
    let shown = tracker
        .shown
        .iter_mut()
        .chain(children.iter_mut().flat_map(|(_, t)| t.shown.iter_mut()));
    for s in shown {
        let text = std::mem::take(&mut s.decoder).finish(false);
        if !text.is_empty() {
            mid_line = !text.ends_with('\n');
            sink(&text);
        }
    }
    if mid_line {
        sink("\n");
    }
    if !printed_any {
        sink_line(&nothing_yet(&tracker), &mut mid_line, sink);
    }
    // A run whose driver is gone ends the follow as what it is, interrupted and resumable
    // (exit 3, SPEC §5), never as a run that finished (before: exit 0, no word).
    if tracker.interrupted {
        sink_line(
            &format!(
                "Run {} was interrupted: {}.\n",
                tracker.run_id,
                tracker.gone()
            ),
            &mut mid_line,
            sink,
        );
        return Ok(exit::WAITING);
    }
    Ok(exit::OK)
}
