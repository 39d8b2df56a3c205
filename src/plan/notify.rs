//! When a run's `notify:` lists are due, as a pure function of the run and the deliveries
//! already recorded for it: each list fires once per outcome a driving session comes to.
//!
//! A session is the run's start or a resume, up to the next one. It *ends* when the run
//! pauses on a failure (`failed`, exit 1) or is sealed (completed, failed, aborted, rolled
//! back). `on_failure` is due once per session that ended in a failure: a run that paused
//! failed and is then aborted is one incident, paged once. `on_finish` is due once per end
//! the session reached: `failed` when it paused, and again `aborted` if it is then aborted
//! without being resumed. A resume starts a new session, so a run that fails again after a
//! resume is a new incident.
//!
//! Each notification of a list is due on its own: until its own delivery (or giving up) is
//! recorded for that end of that session. A driver killed with one webhook in flight after
//! another notification of the same list was recorded leaves exactly that webhook due.

use crate::decide::{RunPhase, RunState};
use crate::definition::{Notification, Notify};

/// Which list of `notify:`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    OnFailure,
    OnFinish,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::OnFailure => "on_failure",
            Trigger::OnFinish => "on_finish",
        }
    }

    pub fn parse(text: &str) -> Option<Trigger> {
        match text {
            "on_failure" => Some(Trigger::OnFailure),
            "on_finish" => Some(Trigger::OnFinish),
            _ => None,
        }
    }
}

/// A delivery already recorded for the run (from its stream `notify:RUN`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notified {
    pub trigger: Trigger,
    /// The end it was for (`failed`, `aborted`, …).
    pub status: Option<String>,
    /// The session it was for (the sequence number of the event that began it).
    pub session: Option<u64>,
    /// Which notification of its list (0 first). None in a record written before each was
    /// recorded with its place: such a record counts for its whole list, as it did then.
    pub index: Option<usize>,
}

/// One notification of a run's `notify:`: its list and its place in it (0 first).
pub type NotificationRef = (Trigger, usize);

/// The notification of `notify` that `r` names, if its list has one there (a definition
/// changed under a record may not).
pub fn notification(notify: &Notify, (trigger, index): NotificationRef) -> Option<&Notification> {
    match trigger {
        Trigger::OnFailure => &notify.on_failure,
        Trigger::OnFinish => &notify.on_finish,
    }
    .get(index)
}

/// The end the run's current session came to, if it came to one: `completed`, `failed`
/// (paused on a failure, or sealed failed), `aborted` or `rolled_back`.
pub fn end_of(state: &RunState) -> Option<&'static str> {
    match &state.phase {
        RunPhase::Paused { .. } => Some("failed"),
        RunPhase::Finished { outcome } => Some(outcome.as_str()),
        _ => None,
    }
}

/// The end a run's current session came to for its notifications: its `end_of`, or `stopped`
/// when its time limit stopped it. Nobody chose that stop (an operator's stop pages nobody: they
/// know), and a run left unfinished by an unattended session (a schedule, CI) must reach a
/// person: `on_failure` is due for it, with status `stopped`; `on_finish` is not (the run did
/// not end, and a resume with a longer limit goes on). Before, the limit paused it as failed.
pub fn notify_end(state: &RunState) -> Option<&'static str> {
    end_of(state).or_else(|| state.timed_out().then_some("stopped"))
}

/// The notifications due now, in the order of the definition (`on_failure`'s, then
/// `on_finish`'s), given how many each list has and what was delivered already: each one whose
/// own delivery for this end of this session is not recorded.
pub fn due(
    state: &RunState,
    on_failure: usize,
    on_finish: usize,
    notified: &[Notified],
) -> Vec<NotificationRef> {
    let Some(end) = notify_end(state) else {
        return Vec::new();
    };
    let this_session: Vec<&Notified> = notified
        .iter()
        .filter(|n| n.session == Some(state.session_seq))
        .collect();
    let recorded = |trigger: Trigger, index: usize| {
        this_session.iter().any(|n| {
            n.trigger == trigger
                && n.index.is_none_or(|i| i == index)
                // `on_failure` once per session, `on_finish` once per end of it.
                && (trigger == Trigger::OnFailure || n.status.as_deref() == Some(end))
        })
    };
    let mut due = Vec::new();
    if end != "completed" {
        due.extend(
            (0..on_failure)
                .filter(|&i| !recorded(Trigger::OnFailure, i))
                .map(|i| (Trigger::OnFailure, i)),
        );
    }
    if end == "stopped" {
        return due;
    }
    due.extend(
        (0..on_finish)
            .filter(|&i| !recorded(Trigger::OnFinish, i))
            .map(|i| (Trigger::OnFinish, i)),
    );
    due
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Outcome;

    fn state(phase: RunPhase, session_seq: u64) -> RunState {
        RunState {
            phase,
            session_seq,
            ..RunState::default()
        }
    }

    fn paused() -> RunPhase {
        RunPhase::Paused {
            reason: "boom".into(),
        }
    }

    /// A record from before each notification was recorded with its place: its whole list.
    fn sent(trigger: Trigger, status: &str, session: u64) -> Notified {
        Notified {
            trigger,
            status: Some(status.into()),
            session: Some(session),
            index: None,
        }
    }

    fn sent_one(trigger: Trigger, index: usize, status: &str, session: u64) -> Notified {
        Notified {
            index: Some(index),
            ..sent(trigger, status, session)
        }
    }

    const FAIL: Trigger = Trigger::OnFailure;
    const FINISH: Trigger = Trigger::OnFinish;

    #[test]
    fn a_pause_on_failure_is_an_end_for_both_lists() {
        assert_eq!(
            due(&state(paused(), 0), 1, 2, &[]),
            vec![(FAIL, 0), (FINISH, 0), (FINISH, 1)]
        );
    }

    #[test]
    fn an_abort_after_a_failure_pages_nobody_again_but_says_the_run_ended_aborted() {
        let before = [
            sent(Trigger::OnFailure, "failed", 0),
            sent(Trigger::OnFinish, "failed", 0),
        ];
        let aborted = state(
            RunPhase::Finished {
                outcome: Outcome::Aborted,
            },
            0,
        );
        assert_eq!(due(&aborted, 1, 1, &before), vec![(FINISH, 0)]);
        let after = [before.as_slice(), &[sent_one(FINISH, 0, "aborted", 0)]].concat();
        assert!(due(&aborted, 1, 1, &after).is_empty());
    }

    #[test]
    fn a_failure_after_a_resume_is_a_new_incident() {
        let before = [sent(Trigger::OnFailure, "failed", 0)];
        assert_eq!(due(&state(paused(), 7), 1, 0, &before), vec![(FAIL, 0)]);
    }

    #[test]
    fn nothing_is_due_before_an_end_and_on_failure_never_for_a_completed_run() {
        assert!(due(&state(RunPhase::Running, 0), 1, 1, &[]).is_empty());
        assert!(due(&state(RunPhase::Waiting, 0), 1, 1, &[]).is_empty());
        let done = state(
            RunPhase::Finished {
                outcome: Outcome::Completed,
            },
            0,
        );
        assert_eq!(due(&done, 1, 1, &[]), vec![(FINISH, 0)]);
    }

    /// The driver killed with a webhook in flight after the command beside it was recorded:
    /// the webhook alone is still due. Before, one record of a list made the whole list done.
    #[test]
    fn a_notification_is_due_until_its_own_delivery_is_recorded() {
        let done = state(
            RunPhase::Finished {
                outcome: Outcome::Completed,
            },
            0,
        );
        let cmd_recorded = [sent_one(FINISH, 1, "completed", 0)];
        assert_eq!(due(&done, 0, 2, &cmd_recorded), vec![(FINISH, 0)]);
    }

    proptest::proptest! {
        /// Whatever subset of a run's notifications has its delivery recorded (for this end of
        /// this session), exactly the others are due; records of another session or another
        /// end change nothing.
        #[test]
        fn exactly_the_notifications_not_recorded_are_due(
            on_failure in 0usize..4,
            on_finish in 0usize..4,
            recorded in proptest::collection::vec(proptest::bool::ANY, 8),
            noise in proptest::collection::vec((0usize..4, proptest::bool::ANY), 0..4),
            failed in proptest::bool::ANY,
        ) {
            let (phase, end) = if failed { (paused(), "failed") } else {
                (RunPhase::Finished { outcome: Outcome::Completed }, "completed")
            };
            let st = state(phase, 5);
            let all: Vec<NotificationRef> = (0..on_failure)
                .filter(|_| failed)
                .map(|i| (FAIL, i))
                .chain((0..on_finish).map(|i| (FINISH, i)))
                .collect();
            let mut notified: Vec<Notified> = Vec::new();
            let mut expected = Vec::new();
            for (k, &(trigger, index)) in all.iter().enumerate() {
                if recorded[k] {
                    notified.push(sent_one(trigger, index, end, 5));
                } else {
                    expected.push((trigger, index));
                }
            }
            // Records of an earlier session, and `on_finish` records of another end.
            for (index, earlier) in noise {
                if earlier {
                    notified.push(sent_one(FAIL, index, end, 2));
                    notified.push(sent_one(FINISH, index, end, 2));
                } else {
                    notified.push(sent_one(FINISH, index, "aborted", 5));
                }
            }
            proptest::prop_assert_eq!(due(&st, on_failure, on_finish, &notified), expected);
        }
    }
}
