//! When a run's `notify:` lists are due, as a pure function of the ends its session came to
//! and the deliveries already recorded for it: each list fires once per outcome a driving
//! session comes to, and each notification belongs to the end that made it due.
//!
//! A session is the run's start or a resume, up to the next one. It *ends* when the run
//! pauses on a failure (`failed`, exit 1) or is sealed (completed, failed, aborted, rolled
//! back), or is stopped by its time limit (`stopped`, which owes `on_failure` alone); it may
//! come to more than one end (`RunState::session_ends`): paused `failed` (or `stopped`), then
//! `aborted`. `on_finish` is due once per end the session reached, for that end: a run that
//! paused failed and is then aborted owes `on_finish` for `failed` and again for `aborted`,
//! whenever they are delivered and whichever comes first. `on_failure` is due once per
//! session, for its first end that is a failure: a run that paused failed and is then aborted
//! is one incident, paged once, as `failed`; so is a run its time limit stopped and that is
//! then aborted, paged once, as `stopped`, with `on_finish` for `aborted` alone. A resume starts a new session, so a run that
//! fails again after a resume is a new incident.
//!
//! Each notification of a list is due on its own: until its own delivery (or giving up) is
//! recorded for its end of that session. A driver killed with one webhook in flight after
//! another notification of the same list was recorded leaves exactly that webhook due. Ends
//! are delivered in order, so a record for a later end of the session stands for the earlier
//! ends of the same notification too (logs written when an abort relabelled what the failure
//! owed `aborted` owe nothing more).

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

/// An end the run's current session came to: its status (`failed` for a pause on a failure)
/// and the sequence number of the event that recorded it — the status document a
/// notification due for it carries is the run as of that event (`status --at SEQ`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct End {
    pub status: &'static str,
    pub seq: u64,
}

/// The ends the run's current session came to, oldest first; none while the run is not at an
/// end (a session that goes on after a pause owes nothing until it comes to an end again).
/// A stop by the time limit is one of them (`EndKind::TimeLimit`), folded as the others are:
/// an abort after it is an end of its own, and what the stop owes stays the stop's.
pub fn ends_of(state: &RunState) -> Vec<End> {
    let Some(now) = notify_end(state) else {
        return Vec::new();
    };
    let ends: Vec<End> = state
        .session_ends
        .iter()
        .map(|e| End {
            status: e.end.as_str(),
            seq: e.seq,
        })
        .collect();
    match ends.is_empty() {
        // A state not folded from a log (a test's): its end now, at its last event.
        true => vec![End {
            status: now,
            seq: state.events.saturating_sub(1),
        }],
        false => ends,
    }
}

/// What is due for one end of the session: its notifications, in the order of the definition
/// (`on_failure`'s, then `on_finish`'s).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueAt {
    pub end: End,
    pub due: Vec<NotificationRef>,
}

/// The notifications due now for the ends `ends` of session `session` (`ends_of`), grouped by
/// end, oldest end first, given how many each list has and what was delivered already: each
/// one whose own delivery for its end of this session (or a later end's) is not recorded.
pub fn due(
    ends: &[End],
    session: u64,
    on_failure: usize,
    on_finish: usize,
    notified: &[Notified],
) -> Vec<DueAt> {
    let this_session: Vec<&Notified> = notified
        .iter()
        .filter(|n| n.session == Some(session))
        .collect();
    let recorded = |trigger: Trigger, index: usize, from: usize| {
        this_session.iter().any(|n| {
            n.trigger == trigger
                && n.index.is_none_or(|i| i == index)
                // `on_failure` once per session, `on_finish` once per end of it: recorded for
                // this end or a later one (delivered in order).
                && (trigger == Trigger::OnFailure
                    || ends[from..]
                        .iter()
                        .any(|e| n.status.as_deref() == Some(e.status)))
        })
    };
    // The end `on_failure` is due for: the session's first that is not `completed`.
    let failing = ends.iter().position(|e| e.status != "completed");
    let mut groups = Vec::new();
    for (k, &end) in ends.iter().enumerate() {
        let mut due = Vec::new();
        if failing == Some(k) {
            due.extend(
                (0..on_failure)
                    .filter(|&i| !recorded(Trigger::OnFailure, i, k))
                    .map(|i| (Trigger::OnFailure, i)),
            );
        }
        // A stop by the time limit owes `on_failure` only (`notify_end`): the run did not end.
        if end.status != "stopped" {
            due.extend(
                (0..on_finish)
                    .filter(|&i| !recorded(Trigger::OnFinish, i, k))
                    .map(|i| (Trigger::OnFinish, i)),
            );
        }
        if !due.is_empty() {
            groups.push(DueAt { end, due });
        }
    }
    groups
}

/// The notifications `due` names, whatever their end.
pub fn due_refs(due: &[DueAt]) -> Vec<NotificationRef> {
    due.iter().flat_map(|d| d.due.iter().copied()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decide::{EndKind, SessionEnd};
    use crate::event::Outcome;

    /// A run at its end now, its session begun at `session_seq` and come to `ends` (each
    /// outcome at a seq), as a fold leaves it.
    fn state(ends: &[(Outcome, u64)], session_seq: u64) -> RunState {
        let ends: Vec<(EndKind, u64)> = ends
            .iter()
            .map(|&(outcome, seq)| (EndKind::Outcome(outcome), seq))
            .collect();
        state_ended(&ends, session_seq)
    }

    /// `state`, of any kind of end: a time-limit stop leaves the run stopped by its limit.
    fn state_ended(ends: &[(EndKind, u64)], session_seq: u64) -> RunState {
        let (phase, limit) = match ends.last() {
            None => (RunPhase::Running, None),
            Some((EndKind::Outcome(Outcome::Failed), _)) if ends.len() == 1 => (paused(), None),
            Some((EndKind::TimeLimit, _)) => (RunPhase::Stopped, Some("the limit".to_string())),
            Some(&(EndKind::Outcome(outcome), _)) => (RunPhase::Finished { outcome }, None),
        };
        RunState {
            phase,
            stopped_by_limit: limit,
            session_seq,
            session_ends: ends
                .iter()
                .map(|&(end, seq)| SessionEnd { end, seq })
                .collect(),
            ..RunState::default()
        }
    }

    fn paused() -> RunPhase {
        RunPhase::Paused {
            reason: "boom".into(),
        }
    }

    /// What is due for `st`, each with the status of its end.
    fn due_now(
        st: &RunState,
        on_failure: usize,
        on_finish: usize,
        notified: &[Notified],
    ) -> Vec<(&'static str, NotificationRef)> {
        due(
            &ends_of(st),
            st.session_seq,
            on_failure,
            on_finish,
            notified,
        )
        .into_iter()
        .flat_map(|d| d.due.into_iter().map(move |r| (d.end.status, r)))
        .collect()
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
    const PAUSED: &[(Outcome, u64)] = &[(Outcome::Failed, 4)];
    const ABORTED: &[(Outcome, u64)] = &[(Outcome::Failed, 4), (Outcome::Aborted, 6)];

    #[test]
    fn a_pause_on_failure_is_an_end_for_both_lists() {
        assert_eq!(
            due_now(&state(PAUSED, 0), 1, 2, &[]),
            vec![
                ("failed", (FAIL, 0)),
                ("failed", (FINISH, 0)),
                ("failed", (FINISH, 1))
            ]
        );
    }

    #[test]
    fn an_abort_after_a_failure_pages_nobody_again_but_says_the_run_ended_aborted() {
        let before = [
            sent(Trigger::OnFailure, "failed", 0),
            sent(Trigger::OnFinish, "failed", 0),
        ];
        let aborted = state(ABORTED, 0);
        assert_eq!(
            due_now(&aborted, 1, 1, &before),
            vec![("aborted", (FINISH, 0))]
        );
        let after = [before.as_slice(), &[sent_one(FINISH, 0, "aborted", 0)]].concat();
        assert!(due_now(&aborted, 1, 1, &after).is_empty());
    }

    /// Nothing delivered before the abort: what the failure owed stays owed for `failed`, each
    /// from the event that paused the run, and the abort owes its own `on_finish`.
    #[test]
    fn what_a_failure_owed_stays_due_for_failed_when_an_abort_follows() {
        let aborted = state(ABORTED, 0);
        let due = due(&ends_of(&aborted), 0, 1, 1, &[]);
        assert_eq!(
            due,
            vec![
                DueAt {
                    end: End {
                        status: "failed",
                        seq: 4
                    },
                    due: vec![(FAIL, 0), (FINISH, 0)],
                },
                DueAt {
                    end: End {
                        status: "aborted",
                        seq: 6
                    },
                    due: vec![(FINISH, 0)],
                },
            ]
        );
    }

    /// A log written when an abort relabelled what the failure owed: its `on_failure` recorded
    /// `aborted` and its `on_finish` for `aborted` alone owe nothing more.
    #[test]
    fn records_for_the_later_end_stand_for_the_earlier() {
        let relabelled = [
            sent_one(FAIL, 0, "aborted", 0),
            sent_one(FINISH, 0, "aborted", 0),
        ];
        assert!(due_now(&state(ABORTED, 0), 1, 1, &relabelled).is_empty());
    }

    /// Seen by a review: a run its time limit stopped whose `on_failure` was still owed (its
    /// driver lacked the webhook's variable, or died delivering) and that was then aborted
    /// sent that page as `aborted`, with the aborted run's document, and never as `stopped`:
    /// the stop was no end of the fold. It is one now: its page stays owed for `stopped`, from
    /// the stop's event, and the abort owes its `on_finish` alone.
    #[test]
    fn what_a_time_limit_stop_owed_stays_due_for_stopped_when_an_abort_follows() {
        let stopped = state_ended(&[(EndKind::TimeLimit, 9)], 0);
        assert_eq!(due_now(&stopped, 1, 1, &[]), vec![("stopped", (FAIL, 0))]);
        let aborted = state_ended(
            &[
                (EndKind::TimeLimit, 9),
                (EndKind::Outcome(Outcome::Aborted), 10),
            ],
            0,
        );
        assert_eq!(
            due(&ends_of(&aborted), 0, 1, 1, &[]),
            vec![
                DueAt {
                    end: End {
                        status: "stopped",
                        seq: 9
                    },
                    due: vec![(FAIL, 0)],
                },
                DueAt {
                    end: End {
                        status: "aborted",
                        seq: 10
                    },
                    due: vec![(FINISH, 0)],
                },
            ]
        );
        // Delivered before the abort: nobody is paged again.
        let paged = [sent_one(FAIL, 0, "stopped", 0)];
        assert_eq!(
            due_now(&aborted, 1, 1, &paged),
            vec![("aborted", (FINISH, 0))]
        );
    }

    #[test]
    fn a_failure_after_a_resume_is_a_new_incident() {
        let before = [sent(Trigger::OnFailure, "failed", 0)];
        assert_eq!(
            due_now(&state(&[(Outcome::Failed, 9)], 7), 1, 0, &before),
            vec![("failed", (FAIL, 0))]
        );
    }

    #[test]
    fn nothing_is_due_before_an_end_and_on_failure_never_for_a_completed_run() {
        assert!(due_now(&state(&[], 0), 1, 1, &[]).is_empty());
        let waiting = RunState {
            phase: RunPhase::Waiting,
            ..state(PAUSED, 0)
        };
        assert!(due_now(&waiting, 1, 1, &[]).is_empty());
        let done = state(&[(Outcome::Completed, 3)], 0);
        assert_eq!(due_now(&done, 1, 1, &[]), vec![("completed", (FINISH, 0))]);
    }

    /// A completed child run its parent then rolls back: `on_finish` for each end, and
    /// `on_failure` for the rollback.
    #[test]
    fn on_failure_is_due_for_the_first_end_that_is_a_failure() {
        let st = state(&[(Outcome::Completed, 3), (Outcome::RolledBack, 8)], 0);
        assert_eq!(
            due_now(&st, 1, 1, &[]),
            vec![
                ("completed", (FINISH, 0)),
                ("rolled_back", (FAIL, 0)),
                ("rolled_back", (FINISH, 0))
            ]
        );
    }

    /// The driver killed with a webhook in flight after the command beside it was recorded:
    /// the webhook alone is still due. Before, one record of a list made the whole list done.
    #[test]
    fn a_notification_is_due_until_its_own_delivery_is_recorded() {
        let done = state(&[(Outcome::Completed, 3)], 0);
        let cmd_recorded = [sent_one(FINISH, 1, "completed", 0)];
        assert_eq!(
            due_now(&done, 0, 2, &cmd_recorded),
            vec![("completed", (FINISH, 0))]
        );
    }

    proptest::proptest! {
        /// Whatever subset of a run's notifications has its delivery recorded (for its end of
        /// this session), exactly the others are due, each for its end; records of another
        /// session change nothing.
        #[test]
        fn exactly_the_notifications_not_recorded_are_due(
            on_failure in 0usize..4,
            on_finish in 0usize..4,
            recorded in proptest::collection::vec(proptest::bool::ANY, 12),
            noise in proptest::collection::vec(0usize..4, 0..4),
            ends in 0usize..3,
        ) {
            // Completed; paused failed; paused failed then aborted.
            let (st, statuses): (RunState, &[&str]) = match ends {
                0 => (state(&[(Outcome::Completed, 9)], 5), &["completed"]),
                1 => (state(&[(Outcome::Failed, 9)], 5), &["failed"]),
                _ => (
                    state(&[(Outcome::Failed, 9), (Outcome::Aborted, 11)], 5),
                    &["failed", "aborted"],
                ),
            };
            let failing = statuses.iter().find(|s| **s != "completed");
            let all: Vec<(&str, NotificationRef)> = failing
                .into_iter()
                .flat_map(|s| (0..on_failure).map(move |i| (*s, (FAIL, i))))
                .chain(statuses.iter().flat_map(|s| (0..on_finish).map(move |i| (*s, (FINISH, i)))))
                .collect();
            let mut notified: Vec<Notified> = Vec::new();
            let mut expected = Vec::new();
            for (k, &(status, (trigger, index))) in all.iter().enumerate() {
                if recorded[k] {
                    notified.push(sent_one(trigger, index, status, 5));
                } else {
                    expected.push((status, (trigger, index)));
                }
            }
            // An `on_finish` recorded for the later end stands for the earlier (delivered in
            // order): not due for `failed` then.
            expected.retain(|&(status, (trigger, index))| {
                !(trigger == FINISH
                    && status == "failed"
                    && notified.iter().any(|n| {
                        n.trigger == FINISH
                            && n.index == Some(index)
                            && n.status.as_deref() == Some("aborted")
                    }))
            });
            // Records of an earlier session.
            for index in noise {
                for status in statuses {
                    notified.push(sent_one(FAIL, index, status, 2));
                    notified.push(sent_one(FINISH, index, status, 2));
                }
            }
            proptest::prop_assert_eq!(due_now(&st, on_failure, on_finish, &notified), expected);
        }
    }
}
