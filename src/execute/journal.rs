//! The journal: decide, stamp, redact, append, evolve — the one path by which a run changes.

use crate::decide::{Command, DecideError, RunState, decide, evolve};
use crate::event::{Event, NewEvent, Recorded};
use crate::store::{EventStore, StoreError};

use super::patience::Patience;
use super::{Clock, IdGen, Redactor, rfc3339};

/// Why a command could not be recorded.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error(transparent)]
    Decide(#[from] DecideError),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The lease this journal writes under changed hands (it lapsed and was taken over):
    /// nothing more is recorded by it.
    #[error("{0}")]
    Fenced(String),
}

/// One run's state together with the store it lives in.
///
/// Every append is decided at the log's head (`EventStore::append_at_head`): inside one write
/// transaction the journal folds what other processes appended since it last looked, decides
/// its command on that state, and appends the result right after them. An operator's command
/// beside a busy driver therefore always lands, decided against the state it follows, in one
/// transaction — never a conflict, never a retry.
///
/// A driver may `stage` a command: it is decided and folded into `state` at once, and its
/// events are appended in the same transaction as the next command's (or by `flush`). A step's
/// end thus rides with the next step's start: one commit per step instead of two. If others
/// appended meanwhile, the staged commands are decided again after their events. Nothing that
/// is not yet appended is ever shown or written out: observers hear of events when they are
/// appended, and the driver flushes before it runs anything but the next attempt, waits or
/// returns. A crash loses at most the staged end of the attempt before, which runs again
/// (steps are at-least-once).
pub struct Journal<'a> {
    /// The log. Lent to the store's decision at the head while an append runs (`at_head`),
    /// so that the decision can use the journal; always back in place between calls.
    store: Option<&'a mut dyn EventStore>,
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
    /// The lease every append is made under, checked inside the append's transaction: once
    /// it has changed hands, appends are refused (`Fenced`).
    fence: Option<crate::store::Lease>,
    /// The runs this one was started for, nearest first (a `uses:` child's parent, its
    /// parent, ...), each as last read: a stop or abort asked of any of them halts this run's
    /// commands too (`parent_halted`).
    parents: Vec<RunState>,
    /// How many results of this journal's driver it recorded rejected (`reject_late`): a
    /// worker counts them among its late results rejected.
    rejected: u64,
    /// How a driver's journal waits out a log another process holds locked (`be_patient`);
    /// none: a locked log fails the append or read at once (`StoreError::Busy`), as a
    /// report's does.
    patience: Option<Patience>,
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
            store: Some(store),
            clock,
            ids,
            redactor,
            run_id: run_id.to_string(),
            state,
            staged: Vec::new(),
            fence: None,
            parents: Vec::new(),
            rejected: 0,
            patience: None,
        })
    }

    /// Open a run from `state`, a fold of a prefix of its log made earlier (a worker's cache
    /// of the runs it watches), caught up with the rest of the log: the same state as `open`,
    /// without replaying what was folded already. The log is checked first as `open` checks
    /// it (`snapshot::check_verified`): the cache was folded unchecked, and a driver refuses
    /// to act on a log that was changed (`StoreError::Unverified`), whoever opens it.
    pub fn from_state(
        store: &'a mut dyn EventStore,
        clock: &'a dyn Clock,
        ids: &'a mut dyn IdGen,
        state: RunState,
    ) -> Result<Self, JournalError> {
        super::snapshot::check_verified(&*store, &state.run_id)?;
        let redactor = Redactor::of_run(&state);
        let mut journal = Journal {
            store: Some(store),
            clock,
            ids,
            redactor,
            run_id: state.run_id.clone(),
            state,
            staged: Vec::new(),
            fence: None,
            parents: Vec::new(),
            rejected: 0,
            patience: None,
        };
        journal.refresh()?;
        // Secrets of the run are known from its start, which the state has folded.
        journal.redactor = Redactor::of_run(&journal.state);
        Ok(journal)
    }

    /// The run's replay, its chain verified as it goes: a driver refuses to act on a log that
    /// was changed (`StoreError::Unverified`).
    fn replay_log(store: &dyn EventStore, run_id: &str) -> Result<RunState, StoreError> {
        let mut state = super::snapshot::replay_verified(store, run_id)?;
        state.run_id = run_id.to_string();
        Ok(state)
    }

    /// Watch `parents` (nearest first, as `lineage` gives them) from now on.
    pub fn watch_parents(&mut self, parents: Vec<RunState>) {
        self.parents = parents;
    }

    /// What a run started for this one watches: this run, then the runs it watches.
    pub fn lineage(&self) -> Vec<RunState> {
        std::iter::once(self.state.clone())
            .chain(self.parents.iter().cloned())
            .collect()
    }

    /// Whether a run this one was started for (`watch_parents`) was asked to stop or abort,
    /// or ended, as its log says now: only what was appended to it since the last look is
    /// read.
    pub fn parent_halted(&mut self) -> Result<bool, JournalError> {
        let store = self
            .store
            .as_deref()
            .expect("the journal's store is back in place after every append");
        for parent in &mut self.parents {
            let state = std::mem::take(parent);
            let (run_id, seq) = (state.run_id.clone(), state.events);
            *parent = super::fold_log(store, &run_id, seq, state)?;
            if parent.stop_requested
                || parent.abort_requested.is_some()
                || parent.outcome().is_some()
            {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// The nearest run this one was started for (`watch_parents`) that was asked to abort,
    /// as last read (`parent_halted`): its id and who asked.
    pub fn parent_aborting(&self) -> Option<(String, crate::event::Operator)> {
        self.parents
            .iter()
            .find_map(|p| p.abort_requested.clone().map(|by| (p.run_id.clone(), by)))
    }

    /// The nearest run this one was started for (`watch_parents`) that an operator asked to
    /// stop (not abort), as last read (`parent_halted`): its id and who asked.
    pub fn parent_stopping(&self) -> Option<(String, crate::event::Operator)> {
        self.parents.iter().find_map(|p| {
            let asked = p.stop_requested && p.abort_requested.is_none();
            let (by, _) = p.stopped_by.clone().filter(|_| asked)?;
            Some((p.run_id.clone(), by))
        })
    }

    /// How long the retry scheduled for unit `index` still waits, by this journal's clock
    /// (`RunState::backoff_left`: counted from when it was scheduled).
    pub fn backoff_left(&self, index: usize) -> std::time::Duration {
        self.state.backoff_left(index, self.clock.now())
    }

    fn store(&self) -> &dyn EventStore {
        self.store
            .as_deref()
            .expect("the journal's store is back in place after every append")
    }

    /// How many of the run's events are in the log (staged ones are not yet).
    pub fn appended(&self) -> u64 {
        let staged: usize = self.staged.iter().map(|(_, events)| events.len()).sum();
        self.state.events - staged as u64
    }

    /// Fold in events other processes appended since this journal last looked (an operator's
    /// report or request while a driver runs), and return them. Staged commands are decided
    /// again after them. Outside any lock: a driver looks between steps, so that its appends
    /// rarely find anything new.
    pub fn refresh(&mut self) -> Result<Vec<Recorded>, JournalError> {
        self.patiently(Self::look)
    }

    /// `refresh`, without waiting out a locked log however patient the journal is: for a look
    /// taken while a command runs, which is taken again a moment later (`session::watch_log`).
    pub fn look(&mut self) -> Result<Vec<Recorded>, JournalError> {
        let new = self.store().read_run_from(&self.run_id, self.appended())?;
        if !new.is_empty() {
            self.catch_up(&new, None)?;
        }
        Ok(new)
    }

    /// From now on, wait out a log another process holds locked as `patience` says, in every
    /// append and every look at the log (`refresh`), rather than fail after the store's own
    /// wait: a driver, which holds the run with work in hand.
    pub fn be_patient(&mut self, patience: Patience) {
        self.patience = Some(patience);
    }

    /// How this journal waits out a locked log, if it does: a child run driven in its
    /// parent's session waits as its parent does.
    pub fn patience(&self) -> Option<&Patience> {
        self.patience.as_ref()
    }

    /// `op`, tried again while it fails for a log another process holds locked, as long as
    /// this journal's patience lasts (`patience::patiently`): at once without one. A journal that gave up
    /// waiting once is not patient any more: what its driver still does on the way out (the
    /// derived files, a child's end) fails at the first refusal rather than wait again.
    fn patiently<T>(
        &mut self,
        mut op: impl FnMut(&mut Self) -> Result<T, JournalError>,
    ) -> Result<T, JournalError> {
        let Some(patience) = self.patience.clone() else {
            return op(self);
        };
        let subject = format!("run {}", self.run_id);
        let tried = super::patience::patiently(
            self,
            &patience,
            &subject,
            |e| matches!(e, JournalError::Store(StoreError::Busy)),
            |journal, wait| {
                let _ = journal.store().set_lock_wait(wait);
            },
            op,
        );
        if tried.gave_up {
            self.patience = None;
        }
        tried.result
    }

    /// Fold in `new`, the events others appended after `appended()`: one by one when nothing
    /// is staged; else rebuild the state from the log (`log`, or this journal's store) and
    /// decide the staged commands again on it. A staged command that no longer applies is an
    /// error, as it would have been had it been submitted after those events.
    fn catch_up(
        &mut self,
        new: &[Recorded],
        log: Option<&dyn EventStore>,
    ) -> Result<(), JournalError> {
        if self.staged.is_empty() {
            for rec in new {
                self.state = evolve(std::mem::take(&mut self.state), rec);
            }
            return Ok(());
        }
        let staged = std::mem::take(&mut self.staged);
        self.state = Self::replay_log(log.unwrap_or_else(|| self.store()), &self.run_id)?;
        for (command, _) in staged {
            match self.stage(command) {
                // A resume staged before an operator's stop or abort landed (asked of this
                // driver as it took the run over) gives way to it: the request is first in
                // the log, so the resume never happened, and this driver records the request
                // instead (`session::record_stop`). What was staged after the resume was
                // decided as part of it and goes with it. Before, the staged `run_resumed`
                // cleared the request: an abort during a takeover was recorded as a stop.
                Err(JournalError::Decide(DecideError::RequestPending { .. })) => {
                    self.staged.clear();
                    self.state =
                        Self::replay_log(log.unwrap_or_else(|| self.store()), &self.run_id)?;
                    return Ok(());
                }
                other => other?,
            }
        }
        Ok(())
    }

    /// Decide `command` and fold its events in now; append them with the next `submit` or
    /// `flush`.
    pub fn stage(&mut self, command: Command) -> Result<(), JournalError> {
        let stamped = self.decide_stamped(command.clone())?;
        let base = self.state.events;
        for (i, new) in stamped.iter().enumerate() {
            let provisional = Recorded {
                run_id: self.run_id.clone(),
                seq: base + i as u64,
                id: new.id.clone(),
                time: new.time.clone(),
                version: new.event.version(),
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

    /// A fresh id from the journal's source (a child run's id, allocated by its parent).
    pub fn next_id(&mut self) -> String {
        self.ids.next_id()
    }

    /// Lend the log, the clock and the ids to `f` (a child run driven in this process opens
    /// its own journal on them). Nothing may be staged: what the parent decided is in the
    /// log before the child appends, and the parent catches up with the log afterwards.
    pub fn nested<R>(
        &mut self,
        f: impl FnOnce(&mut dyn EventStore, &dyn Clock, &mut dyn IdGen) -> R,
    ) -> R {
        assert!(
            self.staged.is_empty(),
            "a journal lends its store only with nothing staged"
        );
        let Some(store) = self.store.take() else {
            unreachable!("the journal's store is back in place after every append");
        };
        let out = f(&mut *store, self.clock, &mut *self.ids);
        self.store = Some(store);
        out
    }

    /// From now on, append only while `lease` is held (checked in each append's transaction).
    pub fn fence(&mut self, lease: crate::store::Lease) {
        self.fence = Some(lease);
    }

    /// The lease every append is made under, if any.
    pub fn fenced_by(&self) -> Option<&crate::store::Lease> {
        self.fence.as_ref()
    }

    /// Lend the log to `f` for its leases (claimed, read, let go), which never append to the
    /// run: unlike `nested`, allowed with commands staged, so that a unit's lease is claimed
    /// before the append that records its start carries what is staged.
    pub fn with_leases<R>(&mut self, f: impl FnOnce(&mut dyn EventStore) -> R) -> R {
        let Some(store) = self.store.take() else {
            unreachable!("the journal's store is back in place after every append");
        };
        let out = f(&mut *store);
        self.store = Some(store);
        out
    }

    /// Whether commands are staged and not yet appended.
    pub fn has_staged(&self) -> bool {
        !self.staged.is_empty()
    }

    /// The steps (or phases) whose attempts' ends are staged, not yet in the log: a driver
    /// that stops now leaves them to run again on resume.
    pub fn staged_ends(&self) -> Vec<String> {
        self.staged
            .iter()
            .filter_map(|(command, _)| match command {
                Command::FinishAttempt(report) => Some(report.step.clone()),
                _ => None,
            })
            .collect()
    }

    /// Append the staged events; return what was caught up with and appended, in log order.
    pub fn flush(&mut self) -> Result<Vec<Recorded>, JournalError> {
        if self.staged.is_empty() {
            return Ok(Vec::new());
        }
        self.at_head(None)
    }

    /// Decide `command` at the head of the log and append its events (all or none, after any
    /// staged ones), folding in first whatever other processes appended: it always lands
    /// after them, decided against the state they left. Returns the events caught up with and
    /// then those appended, in log order, all folded in.
    pub fn submit(&mut self, command: Command) -> Result<Vec<Recorded>, JournalError> {
        self.at_head(Some(command))
    }

    /// `at_head_roomy`, waited out while the log is locked by another process, for a patient
    /// journal (`patiently`).
    fn at_head(&mut self, command: Option<Command>) -> Result<Vec<Recorded>, JournalError> {
        if self.patience.is_none() {
            return self.at_head_roomy(command);
        }
        self.patiently(|journal| journal.at_head_roomy(command.clone()))
    }

    /// `at_head_once`, once more on a full disk after making room with the files of the
    /// attempts whose ends are staged (`make_room_for_ends`): a step's end is never lost to
    /// its own output's file, which is cortex's and not yet recorded (it is recorded emptied,
    /// its bytes as lost). Otherwise the full disk is returned as it is.
    fn at_head_roomy(&mut self, command: Option<Command>) -> Result<Vec<Recorded>, JournalError> {
        let again = command.clone();
        match self.at_head_once(command) {
            Err(JournalError::Store(StoreError::Full(why))) => {
                if !self.make_room_for_ends(&why)? {
                    return Err(JournalError::Store(StoreError::Full(why)));
                }
                self.at_head_once(again)
            }
            other => other,
        }
    }

    /// Empty the files of the attempts whose ends are staged, each recorded then as holding
    /// nothing of its output (`lost` all of it, and why), and decide the staged commands
    /// again on the log. False if none had a file to empty.
    fn make_room_for_ends(&mut self, why: &str) -> Result<bool, JournalError> {
        let mut emptied = false;
        for (command, _) in &mut self.staged {
            let Command::FinishAttempt(report) = command else {
                continue;
            };
            let Some(log) = report.log.as_mut() else {
                continue;
            };
            let Some(path) = log.path.as_ref() else {
                continue;
            };
            if log.bytes == 0 {
                continue;
            }
            let opened = super::materialize::derived_file().write(true).open(path);
            if opened.and_then(|f| f.set_len(0)).is_err() {
                continue;
            }
            let lost = log.bytes + log.lost.as_ref().map_or(0, |(n, _)| *n);
            log.lost = Some((
                lost,
                format!(
                    "emptied to make room for the log's events on a full disk ({})",
                    crate::render::one_line(why)
                ),
            ));
            log.bytes = 0;
            log.blake3 = blake3::hash(b"").to_hex().to_string();
            emptied = true;
        }
        if emptied {
            let staged = std::mem::take(&mut self.staged);
            self.state = Self::replay_log(self.store(), &self.run_id)?;
            for (command, _) in staged {
                self.stage(command)?;
            }
        }
        Ok(emptied)
    }

    /// One transaction at the head: catch up, decide (the staged commands' events, then
    /// `command`'s), append, fold.
    fn at_head_once(&mut self, command: Option<Command>) -> Result<Vec<Recorded>, JournalError> {
        let Some(store) = self.store.take() else {
            unreachable!("the journal's store is back in place after every append");
        };
        let run_id = self.run_id.clone();
        let known = self.appended();
        let mut command = command;
        let mut refused: Option<JournalError> = None;
        let mut staged_events = 0;
        let at = store.append_at_head(
            &run_id,
            known,
            &mut |others, log| match self.decide_at_head(others, log, command.take()) {
                Ok((events, staged, later)) => {
                    staged_events = staged;
                    refused = later;
                    events
                }
                Err(e) => {
                    refused = Some(e);
                    Vec::new()
                }
            },
        );
        self.store = Some(store);
        let at = at?;
        if at.appended.is_empty() {
            return match refused {
                // The results staged are late results of a driver that lost its lease: each
                // is owed to the log as rejected (never applied), then the driver stops. The
                // rest staged (its resume, its checks) are decisions it may no longer make:
                // dropped, so that what it still owes (a unit's late result, rejected) is not
                // held back behind them. Before, a fenced driver with only decisions staged
                // failed every later append, and its running phase's end was never recorded.
                Some(JournalError::Fenced(why)) if self.has_staged() => {
                    self.reject_staged(&why)?;
                    Err(JournalError::Fenced(why))
                }
                Some(e) => Err(e),
                None => Ok(at.caught_up),
            };
        }
        // The staged events were folded when staged; fold the rest.
        self.staged.clear();
        for rec in &at.appended[staged_events.min(at.appended.len())..] {
            self.state = evolve(std::mem::take(&mut self.state), rec);
        }
        if let Some(last) = at.appended.last() {
            self.state.head_hash.clone_from(&last.hash);
        }
        // The command refused after staged ones: what was staged is in the log all the same
        // (a step's end never goes down with the refusal of what its driver asked next).
        if let Some(e) = refused {
            return Err(e);
        }
        let mut events = at.caught_up;
        events.extend(at.appended);
        Ok(events)
    }

    /// Inside the write lock: fold `others` (appended after `appended()`), then return the
    /// staged events followed by `command`'s, how many are staged, and `command`'s refusal
    /// when it was refused after staged events (which are appended all the same). Pure but
    /// for ids and times; with commands staged and others appended (a driver racing an
    /// operator), the state is rebuilt from `log`.
    fn decide_at_head(
        &mut self,
        others: &[Recorded],
        log: &dyn EventStore,
        command: Option<Command>,
    ) -> Result<(Vec<NewEvent>, usize, Option<JournalError>), JournalError> {
        if let Some(fence) = &self.fence {
            check_fence(log, fence)?;
        }
        if !others.is_empty() {
            self.catch_up(others, Some(log))?;
        }
        let mut events: Vec<NewEvent> = Vec::new();
        for (_, staged) in &self.staged {
            events.extend(staged.iter().cloned());
        }
        let staged = events.len();
        let mut later = None;
        if let Some(command) = command {
            match self.decide_stamped(command) {
                Ok(decided) => events.extend(decided),
                Err(e) if staged > 0 => later = Some(e.into()),
                Err(e) => return Err(e.into()),
            }
        }
        Ok((events, staged, later))
    }

    /// This journal's fence lost (`why`) with commands staged: drop what is staged (it
    /// decides nothing now), and record each end as rejected (`attempt_rejected`, naming this
    /// driver's lease holder), whatever the fence says. Before, a driver that lost its lease
    /// while its own attempt ran dropped that attempt's late result.
    fn reject_staged(&mut self, why: &str) -> Result<Vec<Recorded>, JournalError> {
        let staged = std::mem::take(&mut self.staged);
        self.state = Self::replay_log(self.store(), &self.run_id)?;
        let mut events = Vec::new();
        for (command, _) in staged {
            if let Command::FinishAttempt(report) = command {
                events.extend(self.reject_late(&report.step, report.attempt, why)?);
            }
        }
        Ok(events)
    }

    /// Record the result of attempt `attempt` of `step`, run by this journal's driver, as
    /// rejected (`attempt_rejected`) because `why` (its lease changed hands): whatever the
    /// fence says, as a record that decides nothing for the run. The worker and host are the
    /// fence's holder (a worker by its name, a command's driver as `driver ACTOR pid N`).
    pub fn reject_late(
        &mut self,
        step: &str,
        attempt: u32,
        why: &str,
    ) -> Result<Vec<Recorded>, JournalError> {
        let (worker, host) = match &self.fence {
            Some(lease) => (holder_shown(&lease.holder), lease.host.clone()),
            None => ("this driver".to_string(), super::hostname()),
        };
        let events = self.submit_unfenced(Command::RejectResult {
            step: step.to_string(),
            attempt,
            worker,
            host,
            reason: why.to_string(),
        })?;
        self.rejected += 1;
        Ok(events)
    }

    /// How many results of this journal's driver it recorded rejected (`reject_late`).
    pub fn rejected(&self) -> u64 {
        self.rejected
    }

    /// Whether this journal's fence is still held (checked now, outside any append): `Ok`
    /// if it is (or there is none), else `Fenced` with why not.
    pub fn check_fence(&mut self) -> Result<(), JournalError> {
        match &self.fence {
            Some(fence) => check_fence(self.store(), fence),
            None => Ok(()),
        }
    }

    /// Stage the end of an attempt this driver ran itself (unleased): when the decider refuses
    /// it because the attempt was ended by another driver that took the run over (this one
    /// lost its lease while the attempt ran), the result is recorded as rejected and the
    /// drive stops (`Fenced`); any other refusal is returned as is.
    pub fn stage_result(
        &mut self,
        report: Box<crate::decide::AttemptReport>,
    ) -> Result<(), JournalError> {
        let (step, attempt) = (report.step.clone(), report.attempt);
        match self.stage(Command::FinishAttempt(report)) {
            Err(JournalError::Decide(refused)) if self.fence.is_some() && !self.has_staged() => {
                match self.check_fence() {
                    Err(JournalError::Fenced(why)) => {
                        self.reject_late(&step, attempt, &why)?;
                        Err(JournalError::Fenced(why))
                    }
                    Err(e) => Err(e),
                    Ok(()) => Err(JournalError::Decide(refused)),
                }
            }
            other => other,
        }
    }

    /// Record an attempt this driver ran itself (unleased) interrupted, `reason` saying who
    /// ended it and why (its guard, for a lease the driver could not renew: it runs again).
    /// If this driver lost its lease meanwhile (the run was taken over), its end is recorded
    /// as a late result rejected and the drive stops (`Fenced`), as `stage_result` does.
    pub fn interrupt_own(
        &mut self,
        step: &str,
        attempt: u32,
        reason: String,
    ) -> Result<Vec<Recorded>, JournalError> {
        let interrupt = Command::InterruptAttempt {
            step: step.to_string(),
            attempt,
            reason,
        };
        match self.submit(interrupt) {
            Err(JournalError::Fenced(why)) => {
                self.reject_late(step, attempt, &why)?;
                Err(JournalError::Fenced(why))
            }
            other => other,
        }
    }

    /// Decide `command` at the head and append it whatever this journal's fence says: for a
    /// record that decides nothing for the run (a late result recorded as rejected), which a
    /// driver that lost its lease still owes the log. Commands staged keep the fence (they
    /// are decisions): with any staged, the fence is checked as for `submit`.
    pub fn submit_unfenced(&mut self, command: Command) -> Result<Vec<Recorded>, JournalError> {
        let previous = if self.staged.is_empty() {
            self.fence.take()
        } else {
            None
        };
        let out = self.submit(command);
        if previous.is_some() {
            self.fence = previous;
        }
        out
    }

    /// Decide `command` at the head only while `lease` is still held (checked inside the
    /// append's transaction); if it changed hands, decide `fenced` instead (a result recorded
    /// as rejected). Returns the events appended and whether the lease was still held.
    pub fn submit_fenced(
        &mut self,
        lease: &crate::store::Lease,
        command: Command,
        fenced: impl FnOnce(String) -> Command,
    ) -> Result<(Vec<Recorded>, bool), JournalError> {
        let previous = self.fence.replace(lease.clone());
        let held = self.submit(command);
        self.fence = previous;
        match held {
            Ok(events) => Ok((events, true)),
            // The rejection is owed to the log whatever this journal's own fence says: a
            // driver that lost its lease while its attempt ran still records the attempt's
            // late result as rejected (it decides nothing for the run).
            Err(JournalError::Fenced(why)) => Ok((self.submit_unfenced(fenced(why))?, false)),
            Err(e) => Err(e),
        }
    }

    /// Decide `command` against the state and stamp its events (`stamp`).
    fn decide_stamped(&mut self, command: Command) -> Result<Vec<NewEvent>, DecideError> {
        let file = match &command {
            Command::FinishAttempt(report) => report.log.as_ref().and_then(|l| l.path.clone()),
            _ => None,
        };
        let command = self.refuse_secret_keys(command);
        // A report's secret outputs are scrubbed from now on, whether or not they are
        // recorded: a report its gate refuses, or an attempt whose checks fail, records no
        // output (which would hold them, `hold_secret_output`), and what is said of it (the
        // problems of `validation_failed`, a refusal) must not carry them either.
        if let Command::FinishAttempt(report) = &command {
            for (key, value) in &report.outputs {
                if value != super::REDACTED
                    && super::is_secret_output_of(&self.state, &report.step, key)
                {
                    self.redactor.add_output(value);
                }
            }
        }
        let events = match decide(&self.state, command) {
            Ok(events) => events,
            Err(DecideError::ReportRefused { step, problems }) => {
                return Err(DecideError::ReportRefused {
                    step,
                    problems: problems
                        .iter()
                        .map(|p| self.redactor.redact(p).into_owned())
                        .collect(),
                });
            }
            Err(e) => return Err(e),
        };
        Ok(self.stamp(events, file.as_deref()))
    }

    /// The outputs of a successful attempt or report whose key holds a secret this journal
    /// knows, taken out with a problem that does not quote them (`secret_output_keys_problem`):
    /// a key is recorded as written, so the secret would be kept in clear. Every route into
    /// outputs comes here — `--output`, the HTTP API's body, an MCP tool's `outputs`, a step
    /// writing `$CORTEX_OUTPUT` — with the run's own secrets (its `secret_env`, its secret
    /// inputs): an operator's report is refused (`ReportRefused`, nothing recorded), an
    /// attempt fails, not retried (it would write the same). A key the definition itself names
    /// (its gate's `output:`, a template reading it) is definition text, as a written
    /// `foreach:` item is, and stays.
    fn refuse_secret_keys(&self, command: Command) -> Command {
        let Command::FinishAttempt(mut report) = command else {
            return command;
        };
        if !report.end.succeeded() || report.outputs.is_empty() {
            return Command::FinishAttempt(report);
        }
        let named: Vec<String> = self
            .state
            .step_index(&report.step)
            .map(|i| self.state.named_outputs(i))
            .unwrap_or_default();
        let before = report.outputs.len();
        report
            .outputs
            .retain(|(key, _)| !self.redactor.holds_secret(key) || named.contains(key));
        let refused = before - report.outputs.len();
        if refused > 0 {
            report
                .validation_problems
                .insert(0, super::secret_output_keys_problem(refused));
            report.permanent = true;
        }
        Command::FinishAttempt(report)
    }

    /// Ids, times and redaction for freshly decided events; `file`: where the whole output
    /// of the attempt they finish is, when they finish one.
    fn stamp(&mut self, mut events: Vec<Event>, file: Option<&std::path::Path>) -> Vec<NewEvent> {
        // Secret outputs first: their values are scrubbed from every event of the batch, those
        // before them too (an agent's result, recorded before the output `result` it gives).
        let mut held = false;
        for event in &mut events {
            held |= self.hold_secret_output(event);
        }
        if held && let Some(file) = file {
            self.scrub_attempt_file(&mut events, file);
        }
        events
            .into_iter()
            .map(|event| NewEvent {
                id: self.ids.next_id(),
                time: rfc3339(self.clock.now()),
                event: self.redact(event),
            })
            .collect()
    }

    /// Decide a command for the agent registry stream at its head and append its events
    /// (concurrent activations of different agents all land, each decided after the others).
    pub fn record_registry(
        store: &mut dyn EventStore,
        clock: &dyn Clock,
        ids: &mut dyn IdGen,
        command: crate::decide::AgentCommand,
    ) -> Result<Vec<Recorded>, JournalError> {
        use crate::decide::{AgentRegistry, decide_registry, evolve_registry};
        use crate::event::REGISTRY_CHAIN;
        let mut reg = store
            .read_run(REGISTRY_CHAIN)?
            .iter()
            .fold(AgentRegistry::default(), evolve_registry);
        let known = reg.events;
        // An operator's message may hold a secret of this environment, as on any run.
        let redactor = Redactor::of_run(&RunState::default());
        let mut command = Some(command);
        let mut refused: Option<DecideError> = None;
        let at = store.append_at_head(REGISTRY_CHAIN, known, &mut |others, _| {
            reg = others
                .iter()
                .fold(std::mem::take(&mut reg), evolve_registry);
            let Some(command) = command.take() else {
                return Vec::new();
            };
            match decide_registry(&reg, command) {
                Ok(events) => events
                    .into_iter()
                    .map(|mut event| {
                        redactor.redact_event(&mut event);
                        NewEvent {
                            id: ids.next_id(),
                            time: rfc3339(clock.now()),
                            event,
                        }
                    })
                    .collect(),
                Err(e) => {
                    refused = Some(e);
                    Vec::new()
                }
            }
        })?;
        if let Some(e) = refused {
            return Err(e.into());
        }
        Ok(at.appended)
    }

    /// If `event` records a secret output (`is_secret_output_of`: a secret-looking key, or one
    /// that feeds a secret `env:` entry; or one whoever produced it held as secret, a child
    /// run's): its value is held by this process for the run (`hold_secret_output`: the
    /// steps after it are given it) and scrubbed from now on, and the event keeps `***`,
    /// whatever the value looks like.
    fn hold_secret_output(&mut self, event: &mut Event) -> bool {
        let Event::OutputRecorded { step, key, value } = event else {
            return false;
        };
        if value == super::REDACTED {
            return false;
        }
        let marked =
            super::held_secret_output(&self.run_id, step, key).is_some_and(|held| held == *value);
        // A value holding a secret this journal knows is held as one too, as an input's is:
        // scrubbed in place, `user=admin` beside a password `admin` made the run go on with
        // `***` (an `if:` false, a `foreach:` item `***`).
        let holds_secret = matches!(self.redactor.redact(value), std::borrow::Cow::Owned(_));
        // The run this one was started for (`uses:`) may use the output as a secret: the
        // child must not keep in clear what its parent hides.
        let for_parent = self
            .state
            .start
            .as_ref()
            .and_then(|s| s.parent.as_ref())
            .is_some_and(|p| {
                self.parents.first().is_some_and(|parent| {
                    parent.run_id == p.run_id && super::is_secret_output_of(parent, &p.step, key)
                })
            });
        if !marked
            && !holds_secret
            && !for_parent
            && !super::is_secret_output_of(&self.state, step, key)
        {
            return false;
        }
        let real = self.foreach_list(step, key, value);
        super::hold_secret_output(&self.run_id, step, key, &real);
        self.redactor.add_output(&real);
        if real != *value {
            self.redactor.add_output(value);
        }
        *value = super::REDACTED.to_string();
        true
    }

    /// An attempt that printed a secret output of its own (`echo "$TOKEN"` before writing it
    /// to `$CORTEX_OUTPUT`) wrote it in clear to its whole-output file, before the value was
    /// known to be secret: scrub the file (`attempt_logs::scrub_attempt_log`) before its
    /// `attempt_log` event records the size and hash. A file that cannot be scrubbed is
    /// removed and not recorded, as one that could not be written: a log without it is better
    /// than a secret kept beside the log.
    fn scrub_attempt_file(&self, events: &mut Vec<Event>, file: &std::path::Path) {
        let mut lost = false;
        for event in events.iter_mut() {
            if let Event::AttemptLog {
                bytes,
                blake3,
                file: name,
                ..
            } = event
            {
                match super::attempt_logs::scrub_attempt_log(file, &self.redactor) {
                    Ok(Some((size, hash))) => {
                        *bytes = size;
                        *blake3 = hash;
                        // The copy shipped into the log (PostgreSQL) held the secret too.
                        super::output_mirror::ship_whole(&self.run_id, name, file);
                    }
                    Ok(None) => {}
                    Err(_) => {
                        let _ = std::fs::remove_file(file);
                        super::output_mirror::ship_whole(&self.run_id, name, file);
                        lost = true;
                    }
                }
            }
        }
        if lost {
            events.retain(|e| !matches!(e, Event::AttemptLog { .. }));
        }
    }

    /// The list a `foreach:` step records as its output `key` (`value`, made from its items'
    /// outputs as the state has them): with each item's secret value this process holds in
    /// place of its `***`. Any other output is `value` itself.
    fn foreach_list(&self, step: &str, key: &str, value: &str) -> String {
        let Some(index) = self
            .state
            .step_index(step)
            .filter(|&i| self.state.steps[i].items.is_some())
        else {
            return value.to_string();
        };
        let Ok(serde_json::Value::Array(mut list)) = serde_json::from_str(value) else {
            return value.to_string();
        };
        for (element, unit) in list.iter_mut().zip(self.state.item_units(index)) {
            if element.as_str() == Some(super::REDACTED)
                && let Some(held) =
                    super::held_secret_output(&self.run_id, &self.state.steps[unit].name, key)
            {
                *element = serde_json::Value::String(held);
            }
        }
        serde_json::Value::Array(list).to_string()
    }

    /// Secrets never reach the log: the value fields of every event are scrubbed (never its
    /// identifiers: `Event::visit_values`). A starting run first hands over its secrets: its
    /// secret inputs (stored as `***`, their values kept here for the driver) and its secret
    /// `env:` entries. The definition snapshot is not redacted (a definition is not a secret,
    /// and resume must run it as written).
    fn redact(&mut self, mut event: Event) -> Event {
        // The items of a list written in the definition are definition text, as the snapshot
        // that holds them is: not scrubbed. Scrubbed, an item `prod` beside `DB_PASSWORD=prod`
        // ran as `***` (`${{ item }}`, `$CORTEX_ITEM`), protecting nothing.
        if let Event::ForeachExpanded { step, items } = &event
            && self.state.step_index(step).is_some_and(|index| {
                matches!(
                    self.state.definition(index).and_then(|d| d.foreach.as_ref()).and_then(|f| f.written_items()),
                    Some(written) if written == *items
                )
            })
        {
            return event;
        }
        if let Event::RunStarted(started) = &mut event {
            self.redactor.start_run(started);
            // Held for this process's later journals of the run (an operator's report
            // through the same server or MCP session).
            super::hold_secret_inputs(&self.run_id, self.redactor.input_values());
        }
        self.redactor.redact_event(&mut event);
        event
    }
}

/// Inside an append's transaction: `fence` is still held as it was granted (same holder,
/// same epoch), else why not.
fn check_fence(log: &dyn EventStore, fence: &crate::store::Lease) -> Result<(), JournalError> {
    let now = log
        .leases(Some(&fence.run_id))?
        .into_iter()
        .find(|l| l.unit == fence.unit);
    match now {
        Some(l) if l.same_holding(fence) => Ok(()),
        Some(l) => {
            // What differs is said: an epoch restarts at 1 when a let-go lease is granted
            // anew, so "epoch 1, was 1" quoted the same number twice (another holder, or a
            // later attempt's lease).
            let differs = if l.epoch != fence.epoch {
                format!(" (epoch {}, was {})", l.epoch, fence.epoch)
            } else if l.attempt != fence.attempt && l.holder == fence.holder {
                format!(" (for attempt {}, was {})", l.attempt, fence.attempt)
            } else {
                format!(" (was {})", fence.holder)
            };
            Err(JournalError::Fenced(format!(
                "the lease of {} on {} changed hands: {} on {} holds it now{differs}",
                unit_shown(&fence.unit),
                fence.run_id,
                l.holder,
                l.host,
            )))
        }
        None => Err(JournalError::Fenced(format!(
            "the lease of {} on {} is no longer held (it lapsed and was taken over)",
            unit_shown(&fence.unit),
            fence.run_id
        ))),
    }
}

/// A lease's holder as `attempt_rejected` names it: a worker by its name (`worker:W pid N`
/// is `W`), anyone else as written without its colon (`driver ACTOR pid N`).
fn holder_shown(holder: &str) -> String {
    match holder.strip_prefix("worker:") {
        Some(rest) => rest.split(" pid ").next().unwrap_or(rest).to_string(),
        None => holder.replacen(':', " ", 1),
    }
}

fn unit_shown(unit: &str) -> String {
    if unit.is_empty() {
        "its driver".into()
    } else {
        format!("`{unit}`")
    }
}

/// Whether `journal`'s driver took the run over from a driver whose lease lapsed: its fence
/// is the run's driver lease at an epoch past 1 (a lapsed lease taken over; one let go and
/// claimed again starts at 1).
fn took_over_lapsed(journal: &Journal<'_>) -> bool {
    journal
        .fenced_by()
        .is_some_and(|l| l.unit == crate::store::DRIVER_UNIT && l.epoch > 1)
}

/// Whether the driver before `journal`'s lost its driver lease rather than was seen to end,
/// for every taker alike (a worker, an operator's resume from the CLI or the API, a report
/// driving on): `journal` took a lapsed lease over (`took_over_lapsed`), or — a taker that
/// holds no lease yet (an operator's resume claims it with its first append; `resume
/// --submit` never does) — the run's driver lease stands lapsed under a holder whose process
/// is not seen gone from this host (the lease its claim takes over; one of a gone process is
/// let go first, `ops::drive::hold_driver_lease`). The attempts in flight are then recorded
/// interrupted because that driver's lease lapsed (DESIGN §3c): it may be alive, frozen or cut
/// off. Before, an operator's resume decided this before it held its lease, and said a frozen
/// worker "ended before it finished".
pub fn driver_lease_lapsed(journal: &mut Journal<'_>) -> bool {
    if took_over_lapsed(journal) {
        return true;
    }
    if journal.fenced_by().is_some() {
        return false;
    }
    let run_id = journal.run_id.clone();
    journal
        .with_leases(|store| store.leases(Some(&run_id)))
        .is_ok_and(|leases| {
            leases.iter().any(|l| {
                l.unit == crate::store::DRIVER_UNIT && l.lapsed() && !super::holder_gone(l)
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Fault, FaultyStore, Lease, LeaseClaim, MemoryStore};

    fn patience(stop: bool) -> Patience {
        Patience {
            bound: std::time::Duration::from_secs(60),
            stop: std::sync::Arc::new(move || stop),
            announce: None,
            leaves: "the run to `cortex workflow resume R`".into(),
        }
    }

    /// A driver's journal that meets a log another process holds locked (`Busy`, which
    /// SQLite gives before anything is decided or read under the lock) tries again and
    /// appends once, nothing lost or doubled; told to stop while it waits, it gives up with
    /// the refusal, staged ends kept, and waits no more after.
    #[test]
    fn a_patient_journal_appends_once_past_a_locked_log_and_gives_up_on_a_stop() {
        use crate::definition::{parse_workflow, snapshot};
        use crate::event::{RunKind, RunStarted};
        let workflow =
            parse_workflow("w.yaml", "name: w\nsteps:\n  - {name: a, run: 'true'}\n").unwrap();
        let (definition, hash) = snapshot(&workflow);
        let start = RunStarted::for_test(RunKind::Workflow, "w", definition, hash);
        let clock = super::super::FixedClock::new(1_800_000_000_000);
        let mut ids = super::super::SequentialIds::default();
        // How many events the store holds of the run, under its faults.
        let stored = |store: &FaultyStore<MemoryStore>| {
            store
                .inner
                .read_run("0000000000000000000000000R")
                .unwrap()
                .len()
        };
        // The second append meets the lock.
        let mut store = FaultyStore::new(MemoryStore::new(), Some(1), Fault::Busy);
        let mut journal =
            Journal::open(&mut store, &clock, &mut ids, "0000000000000000000000000R").unwrap();
        journal.be_patient(patience(false));
        journal
            .submit(Command::Start(Box::new(start.clone())))
            .unwrap();
        journal
            .submit(Command::RecordPreValidation { problems: vec![] })
            .unwrap();
        assert_eq!(journal.appended(), journal.state.events);
        assert!(journal.patience().is_some());
        drop(journal);
        assert_eq!(stored(&store), 2);

        let mut store = FaultyStore::new(MemoryStore::new(), Some(1), Fault::Busy);
        let mut journal =
            Journal::open(&mut store, &clock, &mut ids, "0000000000000000000000000R").unwrap();
        journal.be_patient(patience(true));
        journal.submit(Command::Start(Box::new(start))).unwrap();
        let refused = journal.submit(Command::RecordPreValidation { problems: vec![] });
        assert!(
            matches!(refused, Err(JournalError::Store(StoreError::Busy))),
            "{refused:?}"
        );
        assert!(
            journal.patience().is_none(),
            "given up once, it waits no more"
        );
        drop(journal);
        assert_eq!(stored(&store), 1);
    }

    /// Seen by a review: a fenced result said "worker:g2 … holds it now (epoch 1, was 1)",
    /// one number quoted twice (an epoch restarts at 1 when a let-go lease is granted anew).
    /// What differs is said: the holder before, or the epochs when they differ.
    #[test]
    fn a_fenced_append_says_what_changed_hands_never_the_same_epoch_twice() {
        let mut store = MemoryStore::new();
        let claim = |holder: &str| LeaseClaim {
            run_id: "0000000000000000000000000R".into(),
            unit: "p".into(),
            attempt: 1,
            holder: holder.into(),
            host: "h".into(),
            ttl_ms: 60_000,
        };
        let g1 = store
            .claim_lease(&claim("worker:g1 pid 1"))
            .unwrap()
            .unwrap();
        store.release_lease(&g1).unwrap();
        let g2 = store
            .claim_lease(&claim("worker:g2 pid 2"))
            .unwrap()
            .unwrap();
        assert_eq!((g1.epoch, g2.epoch), (1, 1));
        let Err(JournalError::Fenced(why)) = check_fence(&store, &g1) else {
            panic!("fenced");
        };
        assert!(
            why.contains("worker:g2 pid 2 on h holds it now (was worker:g1 pid 1)"),
            "{why}"
        );
        assert!(!why.contains("epoch"), "{why}");
        let later = Lease {
            epoch: 3,
            ..g2.clone()
        };
        let Err(JournalError::Fenced(why)) = check_fence(&store, &later) else {
            panic!("fenced");
        };
        assert!(why.ends_with("holds it now (epoch 1, was 3)"), "{why}");
    }
}
