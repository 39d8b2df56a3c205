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
pub struct Journal<'a> {
    store: &'a mut dyn EventStore,
    clock: &'a dyn Clock,
    ids: &'a mut dyn IdGen,
    pub redactor: Redactor,
    pub run_id: String,
    pub state: RunState,
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
        let events = store.read_run(run_id)?;
        let mut state = replay(&events);
        state.run_id = run_id.to_string();
        Ok(Journal {
            store,
            clock,
            ids,
            redactor: Redactor::default(),
            run_id: run_id.to_string(),
            state,
        })
    }

    /// Fold in events other processes appended since this journal last looked (an operator's
    /// report or request while a driver runs), and return them.
    pub fn refresh(&mut self) -> Result<Vec<Recorded>, StoreError> {
        let new = self.store.read_run_from(&self.run_id, self.state.events)?;
        for rec in &new {
            self.state = evolve(std::mem::take(&mut self.state), rec);
        }
        Ok(new)
    }

    /// Decide `command`, append the resulting events (all or none) and fold them in. If
    /// another process appended first, catch up and decide again.
    pub fn submit(&mut self, command: Command) -> Result<Vec<Recorded>, JournalError> {
        let mut tries = 0;
        loop {
            match self.try_submit(command.clone()) {
                Err(JournalError::Store(StoreError::Conflict { .. })) if tries < 20 => {
                    tries += 1;
                    self.refresh()?;
                }
                other => return other,
            }
        }
    }

    fn try_submit(&mut self, command: Command) -> Result<Vec<Recorded>, JournalError> {
        let events = decide(&self.state, command)?;
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let stamped: Vec<NewEvent> = events
            .into_iter()
            .map(|event| NewEvent {
                id: self.ids.next_id(),
                time: rfc3339(self.clock.now()),
                event: self.redact(event),
            })
            .collect();
        let recorded = self
            .store
            .append(&self.run_id, self.state.events, &stamped)?;
        for rec in &recorded {
            self.state = evolve(std::mem::take(&mut self.state), rec);
        }
        Ok(recorded)
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

    /// Secrets never reach the log: every string of an event is redacted, except the
    /// definition snapshot (a definition is not a secret, and resume must run it as written).
    fn redact(&self, event: Event) -> Event {
        if self.redactor.is_empty() {
            return event;
        }
        match event {
            Event::RunStarted(mut started) => {
                for value in started.inputs.values_mut() {
                    self.redactor.redact_json(value);
                }
                Event::RunStarted(started)
            }
            other => {
                let mut value = serde_json::to_value(&other).expect("events serialise");
                self.redactor.redact_json(&mut value);
                serde_json::from_value(value).unwrap_or(other)
            }
        }
    }
}
