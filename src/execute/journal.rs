//! The journal: decide, stamp, redact, append, evolve — the one path by which a run changes.

use crate::decide::{Command, DecideError, RunState, decide, evolve, replay};
use crate::event::{Event, NewEvent, Recorded};
use crate::store::{EventStore, StoreError};

use super::{Clock, IdGen, Redactor, rfc3339};

/// Why a command could not be recorded.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error(transparent)]
    Decide(#[from] DecideError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Runs with more events than this since their last snapshot get a new one when loaded.
pub const SNAPSHOT_EVERY: u64 = 10_000;

/// A run's state for reading (`status`): from its latest snapshot (only if the event it was
/// taken at still has the hash it records) plus the events after it, else by replaying the
/// whole log. Drivers do not use it: they replay (`Journal::open`).
pub fn load_state(store: &dyn EventStore, run_id: &str) -> Result<RunState, StoreError> {
    if let Some((seq, hash, json)) = store.load_snapshot(run_id)?
        && store.hash_at(run_id, seq)?.as_deref() == Some(hash.as_str())
        && let Some(first) = store.first_event(run_id)?
        && let Some(state) = crate::decide::restore(&json, &first)
    {
        let rest = store.read_run_from(run_id, seq + 1)?;
        return Ok(rest.iter().fold(state, evolve));
    }
    Ok(replay(&store.read_run(run_id)?))
}

/// Save a snapshot of `state` if it is `SNAPSHOT_EVERY` events past the last one. A snapshot
/// is a cache: failing to save it is not an error.
pub fn maybe_snapshot(store: &mut dyn EventStore, state: &RunState) {
    let last = store
        .load_snapshot(&state.run_id)
        .ok()
        .flatten()
        .map_or(0, |(seq, _, _)| seq + 1);
    if state.events >= last + SNAPSHOT_EVERY && state.events > 0 {
        let _ = store.save_snapshot(
            &state.run_id,
            state.events - 1,
            &state.head_hash,
            &crate::decide::snapshot_json(state),
        );
    }
}

/// One run's state together with the store it lives in.
///
/// A driver may `stage` a command: it is decided and folded into `state` at once, and its
/// events are appended in the same transaction as the next command's (or by `flush`). A step's
/// end thus rides with the next step's start: one commit per step instead of two. Nothing that
/// is not yet appended is ever shown or written out: observers hear of events when they are
/// appended, and the driver flushes before it runs anything but the next attempt, waits or
/// returns. A crash loses at most the staged end of the attempt before, which runs again
/// (steps are at-least-once).
pub struct Journal<'a> {
    store: &'a mut dyn EventStore,
    clock: &'a dyn Clock,
    ids: &'a mut dyn IdGen,
    /// The run's secrets, built when the journal is opened (from this process's environment
    /// and the run's definition) and when the run starts (its secret inputs): every event is
    /// scrubbed with it before it is appended.
    pub redactor: Redactor,
    pub run_id: String,
    /// The run as of the log plus the staged commands.
    pub state: RunState,
    /// Commands decided and folded into `state`, not yet appended, with their events.
    staged: Vec<(Command, Vec<NewEvent>)>,
}

impl<'a> Journal<'a> {
    /// Open a run by replaying its log (an unknown id gives an empty, not-started state).
    pub fn open(
        store: &'a mut dyn EventStore,
        clock: &'a dyn Clock,
        ids: &'a mut dyn IdGen,
        run_id: &str,
    ) -> Result<Self, StoreError> {
        // A driver decides from the log itself, never from a cache of it.
        let state = Self::replay_log(&*store, run_id)?;
        // Whoever appends redacts: the driver, an operator's report, the TUI alike.
        let redactor = Redactor::of_run(&state);
        Ok(Journal {
            store,
            clock,
            ids,
            redactor,
            run_id: run_id.to_string(),
            state,
            staged: Vec::new(),
        })
    }

    fn replay_log(store: &dyn EventStore, run_id: &str) -> Result<RunState, StoreError> {
        let mut state = replay(&store.read_run(run_id)?);
        state.run_id = run_id.to_string();
        Ok(state)
    }

    /// How many of the run's events are in the log (staged ones are not yet).
    pub fn appended(&self) -> u64 {
        let staged: usize = self.staged.iter().map(|(_, events)| events.len()).sum();
        self.state.events - staged as u64
    }

    /// Fold in events other processes appended since this journal last looked (an operator's
    /// report or request while a driver runs), and return them. Staged commands are decided
    /// again after them.
    pub fn refresh(&mut self) -> Result<Vec<Recorded>, JournalError> {
        let new = self.store.read_run_from(&self.run_id, self.appended())?;
        if new.is_empty() {
            return Ok(new);
        }
        if self.staged.is_empty() {
            for rec in &new {
                self.state = evolve(std::mem::take(&mut self.state), rec);
            }
            return Ok(new);
        }
        self.rebase()?;
        Ok(new)
    }

    /// Rebuild the state from the log and decide the staged commands again on it (another
    /// process appended meanwhile). A command that no longer applies is an error, as it would
    /// have been had it been submitted after those events.
    fn rebase(&mut self) -> Result<(), JournalError> {
        let staged = std::mem::take(&mut self.staged);
        self.state = Self::replay_log(&*self.store, &self.run_id)?;
        staged
            .into_iter()
            .try_for_each(|(command, _)| self.stage(command))
    }

    /// Decide `command` and fold its events in now; append them with the next `submit` or
    /// `flush`.
    pub fn stage(&mut self, command: Command) -> Result<(), JournalError> {
        let events = decide(&self.state, command.clone())?;
        let stamped = self.stamp(events);
        let base = self.state.events;
        for (i, new) in stamped.iter().enumerate() {
            let provisional = Recorded {
                run_id: self.run_id.clone(),
                seq: base + i as u64,
                id: new.id.clone(),
                time: new.time.clone(),
                version: crate::event::EVENT_VERSION,
                prev_hash: String::new(),
                hash: String::new(),
                event: new.event.clone(),
            };
            self.state = evolve(std::mem::take(&mut self.state), &provisional);
        }
        if !stamped.is_empty() {
            self.staged.push((command, stamped));
        }
        Ok(())
    }

    /// Whether commands are staged and not yet appended.
    pub fn has_staged(&self) -> bool {
        !self.staged.is_empty()
    }

    /// Append the staged events, and return them as recorded.
    pub fn flush(&mut self) -> Result<Vec<Recorded>, JournalError> {
        if self.staged.is_empty() {
            return Ok(Vec::new());
        }
        self.submit_events(Vec::new())
    }

    /// Decide `command`, append the resulting events (all or none, after any staged ones) and
    /// fold them in. If another process appended first, catch up and decide again.
    pub fn submit(&mut self, command: Command) -> Result<Vec<Recorded>, JournalError> {
        let mut tries = 0;
        loop {
            let attempt = decide(&self.state, command.clone())
                .map_err(JournalError::from)
                .map(|events| self.stamp(events))
                .and_then(|stamped| self.submit_events(stamped));
            match attempt {
                Err(JournalError::Store(StoreError::Conflict { .. })) if tries < 20 => {
                    tries += 1;
                    self.rebase()?;
                }
                other => return other,
            }
        }
    }

    /// Append the staged events and then `stamped` (decided on the current state) in one
    /// transaction; fold in `stamped`.
    fn submit_events(&mut self, stamped: Vec<NewEvent>) -> Result<Vec<Recorded>, JournalError> {
        if stamped.is_empty() && self.staged.is_empty() {
            return Ok(Vec::new());
        }
        let staged_count: usize = self.staged.iter().map(|(_, e)| e.len()).sum();
        let mut all: Vec<NewEvent> = Vec::with_capacity(staged_count + stamped.len());
        for (_, events) in &self.staged {
            all.extend(events.iter().cloned());
        }
        all.extend(stamped);
        let recorded = self.store.append(&self.run_id, self.appended(), &all)?;
        self.staged.clear();
        for rec in &recorded[staged_count..] {
            self.state = evolve(std::mem::take(&mut self.state), rec);
        }
        if let Some(last) = recorded.last() {
            self.state.head_hash.clone_from(&last.hash);
        }
        Ok(recorded)
    }

    /// Ids, times and redaction for freshly decided events.
    fn stamp(&mut self, events: Vec<Event>) -> Vec<NewEvent> {
        events
            .into_iter()
            .map(|event| NewEvent {
                id: self.ids.next_id(),
                time: rfc3339(self.clock.now()),
                event: self.redact(event),
            })
            .collect()
    }

    /// Decide a command for the agent registry stream and append its events.
    pub fn record_registry(
        store: &mut dyn EventStore,
        clock: &dyn Clock,
        ids: &mut dyn IdGen,
        command: crate::decide::AgentCommand,
    ) -> Result<Vec<Recorded>, JournalError> {
        use crate::decide::{REGISTRY_STREAM, decide_registry, evolve_registry};
        let reg = store
            .read_run(REGISTRY_STREAM)?
            .iter()
            .fold(Default::default(), evolve_registry);
        let events = decide_registry(&reg, command)?;
        let stamped: Vec<NewEvent> = events
            .into_iter()
            .map(|event| NewEvent {
                id: ids.next_id(),
                time: rfc3339(clock.now()),
                event,
            })
            .collect();
        Ok(store.append(REGISTRY_STREAM, reg.events, &stamped)?)
    }

    /// Secrets never reach the log: the value fields of every event are scrubbed (never its
    /// identifiers: `Event::visit_values`). A starting run first hands over its secrets: its
    /// secret inputs (stored as `***`, their values kept here for the driver) and its secret
    /// `env:` entries. The definition snapshot is not redacted (a definition is not a secret,
    /// and resume must run it as written).
    fn redact(&mut self, mut event: Event) -> Event {
        if let Event::RunStarted(started) = &mut event {
            self.redactor.start_run(started);
        }
        self.redactor.redact_event(&mut event);
        event
    }
}
