//! The audit trail as text: one line per event, and verification verdicts.

use crate::event::{Event, Recorded};
use crate::store::VerifyReport;

/// `seq  time  type  summary`.
pub fn render_event_line(rec: &Recorded) -> String {
    let summary = match &rec.event {
        Event::RunStarted(s) => format!(
            "{} by {} in {} (definition {})",
            s.name,
            s.by.actor,
            s.working_dir,
            &s.definition_hash[..12.min(s.definition_hash.len())]
        ),
        Event::StepStarted { step, attempt } | Event::StepWaiting { step, attempt } => {
            format!("{step} attempt {attempt}")
        }
        Event::StepSucceeded {
            step, attempt, by, ..
        } => match by {
            Some(by) => format!("{step} attempt {attempt} reported by {}", by.actor),
            None => format!("{step} attempt {attempt}"),
        },
        Event::StepFailed {
            step,
            attempt,
            error,
            ..
        } => format!("{step} attempt {attempt}: {error}"),
        Event::StepTimedOut { step, attempt, .. } => format!("{step} attempt {attempt}"),
        Event::OutputRecorded { step, key, .. } => format!("{step}.{key}"),
        Event::RunFinished {
            outcome, reason, ..
        } => match reason {
            Some(r) => format!("{} ({r})", outcome.as_str()),
            None => outcome.as_str().to_string(),
        },
        Event::RunResumed { mode, by, .. } => format!("{mode:?} by {}", by.actor),
        Event::StopRequested { by, signal } => match signal {
            Some(s) => format!("{s} ({})", by.actor),
            None => by.actor.clone(),
        },
        other => {
            let body = other.body_json();
            body.chars().take(100).collect()
        }
    };
    format!(
        "{:>5}  {}  {:<20}  {summary}",
        rec.seq,
        rec.time,
        rec.event.type_name()
    )
}

/// The verdict of `log verify`.
pub fn render_verify(report: &VerifyReport) -> String {
    match &report.first_bad {
        None => format!(
            "✅ log verified: {} run(s), {} event(s), every hash chain intact{}\n",
            report.runs,
            report.events,
            report
                .anchors
                .map(|n| format!(", {n} anchored head(s) present"))
                .unwrap_or_default()
        ),
        Some(bad) => format!(
            "❌ log verification FAILED at run {} seq {}: {}\n   checked {} run(s), {} event(s) up to there\n",
            bad.run_id, bad.seq, bad.reason, report.runs, report.events
        ),
    }
}
