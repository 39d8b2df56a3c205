//! Which fields of an event are values (what a command printed, a person wrote, an input held)
//! and which are identifiers (names, keys, types, numbers) that give the event its
//! meaning. Redaction rewrites values only: an identifier changed by it would make the event
//! mean something else (a step named `build` redacted to `***` is no step of the run).

use super::{AttemptEnd, Event, Operator};

impl Event {
    /// Call `f` on every value string of this event, mutably: output values and tails,
    /// errors, problems, reasons, operators' messages, input values, and what an agent runner
    /// reported (its result text, errors, session id and subtype), and who acted (an
    /// operator's actor: display text, matched by nothing). Never on step, phase or agent
    /// names, output keys, criteria (definition text), types, attempt numbers or the definition
    /// snapshot (an `if:` condition, definition text too, is scrubbed: see `ConditionChecked`).
    ///
    /// Every variant is listed, with no catch-all, so that a new event type must say here
    /// what its values are.
    pub fn visit_values(&mut self, f: &mut dyn FnMut(&mut String)) {
        match self {
            Event::RunStarted(started) => {
                for value in started.inputs.values_mut() {
                    json_strings(value, f);
                }
                message(&mut started.by, f);
            }
            Event::ValidationPassed { .. } => {}
            Event::ValidationFailed { problems, .. } => problems.iter_mut().for_each(&mut *f),
            Event::StepStarted { .. } | Event::StepWaiting { .. } => {}
            Event::OutputRecorded { value, .. } => f(value),
            Event::StepSucceeded {
                end,
                output_tail,
                by,
                ..
            } => {
                attempt_end(end, f);
                f(output_tail);
                optional_message(by, f);
            }
            Event::StepFailed {
                end,
                error,
                output_tail,
                by,
                ..
            } => {
                attempt_end(end, f);
                f(error);
                f(output_tail);
                optional_message(by, f);
            }
            Event::StepTimedOut { output_tail, .. } => f(output_tail),
            // Everything the runner printed is a value; the session id too (a redacted one
            // cannot be resumed, and the retry then starts a new session: no secret is worth
            // keeping a session).
            Event::AgentResult(result) => {
                f(&mut result.subtype);
                f(&mut result.result);
                result.errors.iter_mut().for_each(&mut *f);
                f(&mut result.session_id);
            }
            Event::StepInterrupted { reason, .. } => f(reason),
            // A path cortex made, a size and a hash: identifiers, no values.
            Event::AttemptLog { .. } => {}
            Event::NotificationDelivered {
                notification,
                detail,
                ..
            } => {
                f(notification);
                f(detail);
            }
            // Times, an expression and identifiers; a reason and an error cortex wrote, from
            // a run id and a driver's message, which may quote a value.
            Event::ScheduleFired { reason, .. } => {
                if let Some(r) = reason {
                    f(r);
                }
            }
            Event::ScheduleReleased { .. } | Event::ScheduleSeen { .. } => {}
            Event::RunSubmitted { by } => message(by, f),
            // Names and numbers; a reason cortex wrote (a lease's holders), no value.
            Event::AttemptClaimed { .. } => {}
            Event::AttemptRejected { reason, .. } => f(reason),
            Event::ScheduledRun { error, .. } => {
                if let Some(e) = error {
                    f(e);
                }
            }
            Event::RetryScheduled { .. } => {}
            Event::StepSkipped { reason, by, .. } => {
                f(reason);
                optional_message(by, f);
            }
            Event::CheckpointSaved { .. } => {}
            Event::RollbackStarted { reason, .. } => f(reason),
            Event::StepCompensated { output_tail, .. } => f(output_tail),
            Event::CompensationFailed {
                end,
                error,
                output_tail,
                ..
            } => {
                attempt_end(end, f);
                f(error);
                f(output_tail);
            }
            Event::RollbackFinished { .. } => {}
            Event::RunPaused { reason, .. } => f(reason),
            Event::StopRequested { by, .. } => message(by, f),
            Event::RunStopped { time_limit } => {
                if let Some(words) = time_limit {
                    f(words);
                }
            }
            Event::RunResumed { by, .. } => message(by, f),
            Event::PhaseStartRequested { by, .. } => message(by, f),
            Event::AgentActivated { by, .. } | Event::AgentDeactivated { by, .. } => {
                optional_message(by, f);
            }
            Event::CriterionMet { by, .. } => optional_message(by, f),
            // What a condition saw is values (an output may hold anything). The condition is
            // definition text, but it is scrubbed too: the skip or failure reason made of it
            // (`ConditionCheck::reason`) is, and the two were shown side by side, one with a
            // literal in clear and the other with `***` for it (a value this run holds as
            // secret, written in the condition: `validate` refuses it against a secret input or
            // output, but a value is known secret only when the run starts).
            Event::ConditionChecked(check) => {
                f(&mut check.condition);
                check.values.values_mut().for_each(&mut *f);
                if let Some(e) = &mut check.error {
                    f(e);
                }
            }
            // Items may come from outputs.
            Event::ForeachExpanded { items, .. } => {
                items.iter_mut().for_each(|v| v.strings_mut(f));
            }
            Event::ForeachFailed { error, .. } => f(error),
            // Names, counts and run ids only.
            Event::ForeachFinished { .. }
            | Event::ConditionStarted { .. }
            | Event::ChildStarted { .. }
            | Event::ChildWaiting { .. } => {}
            Event::RunFinished { by, reason, .. } => {
                optional_message(by, f);
                if let Some(reason) = reason {
                    f(reason);
                }
            }
        }
    }
}

/// Who acted and why: both display text (the actor names nobody cortex matches on — a lease's
/// holder and a worker's name are kept elsewhere — so a secret in it is scrubbed like one in
/// the message).
fn message(by: &mut Operator, f: &mut dyn FnMut(&mut String)) {
    f(&mut by.actor);
    if let Some(m) = &mut by.message {
        f(m);
    }
}

fn optional_message(by: &mut Option<Operator>, f: &mut dyn FnMut(&mut String)) {
    if let Some(by) = by {
        message(by, f);
    }
}

fn attempt_end(end: &mut AttemptEnd, f: &mut dyn FnMut(&mut String)) {
    match end {
        AttemptEnd::SpawnFailed { error } | AttemptEnd::AgentFailed { error } => f(error),
        AttemptEnd::Child { reason, .. } => {
            if let Some(r) = reason {
                f(r);
            }
        }
        AttemptEnd::Exited { .. }
        | AttemptEnd::Signaled { .. }
        | AttemptEnd::TimedOut { .. }
        | AttemptEnd::Reported { .. } => {}
    }
}

/// Every string inside a JSON value (object keys are structure, not values).
fn json_strings(value: &mut serde_json::Value, f: &mut dyn FnMut(&mut String)) {
    match value {
        serde_json::Value::String(s) => f(s),
        serde_json::Value::Array(items) => items.iter_mut().for_each(|v| json_strings(v, f)),
        serde_json::Value::Object(map) => map.values_mut().for_each(|v| json_strings(v, f)),
        serde_json::Value::Null | serde_json::Value::Bool(_) | serde_json::Value::Number(_) => {}
    }
}
