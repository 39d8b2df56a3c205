//! A schedule's stream (`schedule:KIND:NAME`, `event::ChainId::Schedule`): which due times
//! fired, what each became, and which run each started — a small decider of its own, so that
//! any number of schedulers sharing a log fire each due minute once.

use crate::event::Recorded;
use crate::event::{Driver, Event, FireOutcome};

/// The actor every scheduled run is recorded with.
pub const SCHEDULE_ACTOR: &str = "schedule";

/// One due time and what became of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fire {
    /// The minute that was due (RFC 3339, UTC).
    pub due: String,
    pub outcome: FireOutcome,
    pub reason: Option<String>,
    pub missed: u64,
    /// When it was decided (the event's time).
    pub decided_at: String,
    /// A queued time whose run was let start.
    pub released: bool,
    /// The run it started, or why none started.
    pub run: Option<Result<String, String>>,
}

impl Fire {
    /// A run was decided for it (started, or released from the queue) and is not recorded yet.
    pub fn awaiting_run(&self) -> bool {
        self.run.is_none() && (self.outcome == FireOutcome::Start || self.released)
    }

    /// Queued and not let start yet.
    pub fn waiting_in_queue(&self) -> bool {
        self.outcome == FireOutcome::Queue && !self.released && self.run.is_none()
    }
}

/// The cron expression a schedule's stream knows, and since when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Known {
    pub cron: String,
    /// When a scheduler first saw it (`schedule_seen`); `None` when it fired before sightings
    /// were recorded (known since before any time that matters).
    pub since: Option<String>,
}

/// What a schedule's stream says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScheduleState {
    /// Every due time decided, oldest first.
    pub fires: Vec<Fire>,
    /// The cron expression last seen or fired by, and since when.
    pub known: Option<Known>,
    /// Events in the stream.
    pub events: u64,
}

impl ScheduleState {
    /// Whether `cron` is the expression the stream knows: `Some(since)` (see `Known`) if it
    /// is, `None` if it has never been seen, or another was seen or fired by since.
    pub fn known_since(&self, cron: &str) -> Option<Option<&str>> {
        self.known
            .as_ref()
            .filter(|k| k.cron == cron)
            .map(|k| k.since.as_deref())
    }

    /// The latest due time decided.
    pub fn last_due(&self) -> Option<&str> {
        self.fires.last().map(|f| f.due.as_str())
    }

    fn fire_mut(&mut self, due: &str) -> Option<&mut Fire> {
        self.fires.iter_mut().rev().find(|f| f.due == due)
    }

    pub fn fire(&self, due: &str) -> Option<&Fire> {
        self.fires.iter().rev().find(|f| f.due == due)
    }

    /// The runs this schedule started, newest first.
    pub fn runs(&self) -> impl Iterator<Item = &str> {
        self.fires.iter().rev().filter_map(|f| match &f.run {
            Some(Ok(id)) => Some(id.as_str()),
            _ => None,
        })
    }
}

/// Fold one event of a schedule's stream.
pub fn evolve_schedule(mut state: ScheduleState, rec: &Recorded) -> ScheduleState {
    state.events = rec.seq + 1;
    match &rec.event {
        Event::ScheduleSeen { cron, at, .. } => {
            state.known = Some(Known {
                cron: cron.clone(),
                since: Some(at.clone()),
            });
        }
        Event::ScheduleFired {
            due,
            cron,
            outcome,
            reason,
            missed,
            ..
        } => {
            // Fired before sightings were recorded (or by a scheduler that saw it another
            // way): known since before.
            if state.known.as_ref().is_none_or(|k| &k.cron != cron) {
                state.known = Some(Known {
                    cron: cron.clone(),
                    since: None,
                });
            }
            state.fires.push(Fire {
                due: due.clone(),
                outcome: *outcome,
                reason: reason.clone(),
                missed: *missed,
                decided_at: rec.time.clone(),
                released: false,
                run: None,
            })
        }
        Event::ScheduleReleased { due, .. } => {
            if let Some(f) = state.fire_mut(due) {
                f.released = true;
            }
        }
        Event::ScheduledRun { due, run_id, error } => {
            if let Some(f) = state.fire_mut(due) {
                f.run = Some(match (run_id, error) {
                    (Some(id), _) => Ok(id.clone()),
                    (None, e) => Err(e.clone().unwrap_or_default()),
                });
            }
        }
        _ => {}
    }
    state
}

/// Replay a schedule's stream.
pub fn replay_schedule(events: &[Recorded]) -> ScheduleState {
    events
        .iter()
        .fold(ScheduleState::default(), evolve_schedule)
}

/// What a scheduler asks of a schedule's stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScheduleCommand {
    /// The schedule is defined by `cron` at `at` (RFC 3339, UTC): recorded unless the stream
    /// knows that expression already.
    See {
        cron: String,
        at: String,
        scheduler: Driver,
    },
    /// `due` has come. `going` names a run of this schedule still going (found by the
    /// scheduler: a live driver, or a phase waiting for a report), if one is.
    Fire {
        due: String,
        cron: String,
        overlap: crate::definition::Overlap,
        going: Option<String>,
        missed: u64,
        scheduler: Driver,
    },
    /// Let the queued `due` start: `going` must be `None`.
    Release {
        due: String,
        going: Option<String>,
        scheduler: Driver,
    },
    /// Drop the queued `due` for good (its schedule is gone, or its cron expression changed):
    /// recorded as a run that did not start, for `reason`.
    Drop { due: String, reason: String },
    /// The run started for `due` (or the reason none did).
    RecordRun {
        due: String,
        run: Result<String, String>,
    },
}

/// Why a schedule command records nothing: another scheduler got there first, or there is
/// nothing to do. Not an error for the scheduler, which moves on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleRefused {
    #[error("{due} was already decided (latest: {latest})")]
    AlreadyFired { due: String, latest: String },
    #[error("{due} is not waiting in the queue")]
    NotQueued { due: String },
    #[error("{due} cannot start yet: {going} is still going")]
    StillGoing { due: String, going: String },
    #[error("no run is awaited for {due}")]
    NoRunAwaited { due: String },
    #[error("`{cron}` was already seen")]
    AlreadySeen { cron: String },
    #[error("{due} is before `{cron}` was first seen ({since})")]
    BeforeSeen {
        due: String,
        cron: String,
        since: String,
    },
}

/// Decide what a schedule command records. Due times are RFC 3339 UTC text of one format,
/// so their order is their text's.
pub fn decide_schedule(
    state: &ScheduleState,
    command: ScheduleCommand,
) -> Result<Vec<Event>, ScheduleRefused> {
    match command {
        ScheduleCommand::See {
            cron,
            at,
            scheduler,
        } => {
            if state.known_since(&cron).is_some() {
                return Err(ScheduleRefused::AlreadySeen { cron });
            }
            Ok(vec![Event::ScheduleSeen {
                cron,
                at,
                scheduler,
            }])
        }
        ScheduleCommand::Fire {
            due,
            cron,
            overlap,
            going,
            missed,
            scheduler,
        } => {
            // A time only fires for an expression seen at or before it: one added or changed
            // after a time it had not existed for never fires it late (SPEC §11: no catch-up
            // unless asked, and then never before the schedule was); the time it was seen at
            // is from then on, and fires (a pass at 10:15:00 fires `* * * * *`'s 10:15).
            match state.known_since(&cron) {
                Some(Some(since)) if due.as_str() < since => {
                    return Err(ScheduleRefused::BeforeSeen {
                        due,
                        cron,
                        since: since.to_string(),
                    });
                }
                Some(_) => {}
                None => {
                    return Err(ScheduleRefused::BeforeSeen {
                        due,
                        cron,
                        since: "never".into(),
                    });
                }
            }
            if let Some(latest) = state.last_due()
                && latest >= due.as_str()
            {
                return Err(ScheduleRefused::AlreadyFired {
                    due,
                    latest: latest.to_string(),
                });
            }
            // A run decided and not recorded yet is going too: its driver is starting.
            let going = going.or_else(|| {
                state
                    .fires
                    .iter()
                    .rev()
                    .find(|f| f.awaiting_run())
                    .map(|f| format!("the run of {}", f.due))
            });
            use crate::definition::Overlap;
            // First in, first out: a queued time that nothing holds back any more starts
            // before this one (its release comes first); the queue holds one.
            if overlap == Overlap::Queue
                && going.is_none()
                && let Some(waiting) = state.fires.iter().find(|f| f.waiting_in_queue())
            {
                return Ok(vec![Event::ScheduleFired {
                    due,
                    cron,
                    outcome: FireOutcome::Skip,
                    reason: Some(format!(
                        "{} waits in the queue to start first (overlap: queue holds one)",
                        waiting.due
                    )),
                    missed,
                    scheduler,
                }]);
            }
            let (outcome, reason) = match (going, overlap) {
                (None, _) | (Some(_), Overlap::Allow) => (FireOutcome::Start, None),
                (Some(run), Overlap::Skip) => (
                    FireOutcome::Skip,
                    Some(format!("{run} is still going (overlap: skip)")),
                ),
                (Some(run), Overlap::Queue) => {
                    match state.fires.iter().find(|f| f.waiting_in_queue()) {
                        Some(waiting) => (
                            FireOutcome::Skip,
                            Some(format!(
                                "{run} is still going and {} already waits to start after it (overlap: queue holds one)",
                                waiting.due
                            )),
                        ),
                        None => (
                            FireOutcome::Queue,
                            Some(format!("{run} is still going: starts when it ends")),
                        ),
                    }
                }
            };
            Ok(vec![Event::ScheduleFired {
                due,
                cron,
                outcome,
                reason,
                missed,
                scheduler,
            }])
        }
        ScheduleCommand::Release {
            due,
            going,
            scheduler,
        } => {
            if !state.fire(&due).is_some_and(Fire::waiting_in_queue) {
                return Err(ScheduleRefused::NotQueued { due });
            }
            if let Some(going) = going.or_else(|| {
                state
                    .fires
                    .iter()
                    .rev()
                    .find(|f| f.awaiting_run())
                    .map(|f| format!("the run of {}", f.due))
            }) {
                return Err(ScheduleRefused::StillGoing { due, going });
            }
            Ok(vec![Event::ScheduleReleased { due, scheduler }])
        }
        ScheduleCommand::Drop { due, reason } => {
            if !state.fire(&due).is_some_and(Fire::waiting_in_queue) {
                return Err(ScheduleRefused::NotQueued { due });
            }
            Ok(vec![Event::ScheduledRun {
                due,
                run_id: None,
                error: Some(reason),
            }])
        }
        ScheduleCommand::RecordRun { due, run } => {
            if !state.fire(&due).is_some_and(Fire::awaiting_run) {
                return Err(ScheduleRefused::NoRunAwaited { due });
            }
            let (run_id, error) = match run {
                Ok(id) => (Some(id), None),
                Err(e) => (None, Some(e)),
            };
            Ok(vec![Event::ScheduledRun { due, run_id, error }])
        }
    }
}
