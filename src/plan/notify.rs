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

use crate::decide::{RunPhase, RunState};

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

/// The lists due now, given which of them are not empty and what was delivered already.
pub fn due(
    state: &RunState,
    has_on_failure: bool,
    has_on_finish: bool,
    notified: &[Notified],
) -> Vec<Trigger> {
    let Some(end) = end_of(state) else {
        return Vec::new();
    };
    let this_session: Vec<&Notified> = notified
        .iter()
        .filter(|n| n.session == Some(state.session_seq))
        .collect();
    let mut due = Vec::new();
    if has_on_failure
        && end != "completed"
        && !this_session.iter().any(|n| n.trigger == Trigger::OnFailure)
    {
        due.push(Trigger::OnFailure);
    }
    if has_on_finish
        && !this_session
            .iter()
            .any(|n| n.trigger == Trigger::OnFinish && n.status.as_deref() == Some(end))
    {
        due.push(Trigger::OnFinish);
    }
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

    fn sent(trigger: Trigger, status: &str, session: u64) -> Notified {
        Notified {
            trigger,
            status: Some(status.into()),
            session: Some(session),
        }
    }

    #[test]
    fn a_pause_on_failure_is_an_end_for_both_lists() {
        assert_eq!(
            due(&state(paused(), 0), true, true, &[]),
            vec![Trigger::OnFailure, Trigger::OnFinish]
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
        assert_eq!(due(&aborted, true, true, &before), vec![Trigger::OnFinish]);
        let after = [before.as_slice(), &[sent(Trigger::OnFinish, "aborted", 0)]].concat();
        assert!(due(&aborted, true, true, &after).is_empty());
    }

    #[test]
    fn a_failure_after_a_resume_is_a_new_incident() {
        let before = [sent(Trigger::OnFailure, "failed", 0)];
        assert_eq!(
            due(&state(paused(), 7), true, false, &before),
            vec![Trigger::OnFailure]
        );
    }

    #[test]
    fn nothing_is_due_before_an_end_and_on_failure_never_for_a_completed_run() {
        assert!(due(&state(RunPhase::Running, 0), true, true, &[]).is_empty());
        assert!(due(&state(RunPhase::Waiting, 0), true, true, &[]).is_empty());
        let done = state(
            RunPhase::Finished {
                outcome: Outcome::Completed,
            },
            0,
        );
        assert_eq!(due(&done, true, true, &[]), vec![Trigger::OnFinish]);
    }
}
