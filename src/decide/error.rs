//! Why the decider refused a command.

use crate::event::Outcome;

/// A command that does not fit the run's current state.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DecideError {
    #[error("the run has not started")]
    NotStarted,
    /// A stop or an abort was asked for (perhaps from another host, caught up with as the
    /// driver appended): nothing more is started; the driver records the stop next.
    #[error("the run is being stopped: nothing more is started")]
    Stopping,
    /// A resume of a run with a stop or abort asked for and not acted on (its driver died
    /// first): the request is older than the resume and is recorded first
    /// (`Command::TakeUpRequest`); an abort is final.
    #[error("{} {} is pending (asked for{}; its driver never acted on it): it is recorded first", if *.abort { "an abort" } else { "a stop" }, by_words(.by), message_words(.by))]
    RequestPending {
        abort: bool,
        by: crate::event::Operator,
    },
    #[error("the run has already started")]
    AlreadyStarted,
    #[error("the run already finished ({})", .0.as_str())]
    Finished(Outcome),
    #[error("the run's definition snapshot cannot be read: {0}")]
    BadSnapshot(String),
    /// `noun` is what the run's units are called: "step" in a workflow, "phase" in a
    /// scenario (a scenario's refusals said "step").
    #[error("no {noun} named `{}` in this run", crate::definition::shown(.name))]
    UnknownStep { name: String, noun: &'static str },
    #[error("{noun} `{step}` is {status}, not {expected}")]
    WrongStepState {
        noun: &'static str,
        step: String,
        status: String,
        expected: String,
    },
    #[error("{noun} `{step}` is not the current {noun} (the current {noun} is {current})")]
    NotCurrent {
        noun: &'static str,
        step: String,
        current: String,
    },
    #[error("attempt {got} of {noun} `{step}` is not the attempt in flight ({expected})")]
    AttemptMismatch {
        noun: &'static str,
        step: String,
        expected: u32,
        got: u32,
    },
    #[error("no rollback is in progress for step `{0}`")]
    NoRollback(String),
    #[error("the run is not failed, so there is nothing to {0}")]
    NothingToRecover(&'static str),
    /// A scenario's `--skip` skips the one phase that failed or waits for a report: none, or
    /// several, and it cannot tell which (a stopped phase did not fail: a resume runs it again).
    #[error("cannot skip: {0}")]
    CannotSkip(String),
    /// A scenario's `--retry` runs its failed phases again: none failed.
    #[error("cannot retry: {0}")]
    CannotRetry(String),
    /// A rollback began and has not ended: what it undoes is half undone, so the run can
    /// only go on with the rollback (a plain resume), never skip or retry its way past it.
    #[error(
        "the run is rolling back ({pending} still to undo): `--{mode}` cannot be used until the rollback ends; a plain resume goes on with it"
    )]
    RollingBack { mode: &'static str, pending: String },
    /// `at_start`: the setting is the one recorded when the run started (no configuration was
    /// read at resume), else cortex.config.json's as it is now.
    #[error("{}", if *at_start {
        "rollback is disabled: `enable_rollback` was false in cortex.config.json when the run started"
    } else {
        "rollback is disabled: cortex.config.json sets `\"workflow\": {\"enable_rollback\": false}`"
    })]
    RollbackDisabled { at_start: bool },
    #[error("cannot roll back to `{step}`: {reason}")]
    CannotRollbackTo { step: String, reason: String },
    #[error("cannot re-run from {noun} `{step}`: {reason}")]
    CannotRerunFrom {
        noun: &'static str,
        step: String,
        reason: String,
    },
    #[error(
        "cannot re-run from phase `{phase}`: it has not run yet, and a manual phase starts only when it is started"
    )]
    ManualNotStarted { phase: String },
    #[error("phase `{phase}` cannot start now: {why}")]
    NotReady { phase: String, why: String },
    /// A manual phase's start was asked for and is not taken up yet.
    #[error("a start of `{phase}` is already requested; it takes effect {when}")]
    StartRequested { phase: String, when: &'static str },
    #[error("step `{step}` cannot start now: {why}")]
    StepNotReady { step: String, why: String },
    #[error(
        "`{unit}` is an item of `{parent}`: name the step `{parent}` (its items run again with it)"
    )]
    ItemOfForeach { unit: String, parent: String },
    #[error("{0}")]
    AgentState(String),
    #[error("the run is {0}; resume it first")]
    NotActive(String),
    /// A worker's takeover (`Resume` with `leave_claimed`) of a run that is no longer going:
    /// stopped, being stopped or aborted, paused or waiting. A worker's resume is not an
    /// operator's: what an operator stopped stays stopped until an operator resumes it.
    #[error(
        "the run is {0}: a worker takes over only a run still going; an operator's `resume` carries it on"
    )]
    NotForWorkers(String),
    /// A person's or an agent's `complete` that does not pass the step's gate is refused: the
    /// step keeps waiting, nothing is recorded.
    #[error("`{step}` cannot be reported complete: {}", .problems.join("; "))]
    ReportRefused { step: String, problems: Vec<String> },
}

/// "by X", as a pending request names its requester.
fn by_words(by: &crate::event::Operator) -> String {
    format!("by {}", by.actor)
}

/// " with message `M`" when the requester said why.
fn message_words(by: &crate::event::Operator) -> String {
    by.message
        .as_deref()
        .filter(|m| !m.trim().is_empty())
        .map(|m| format!(" with message \"{m}\""))
        .unwrap_or_default()
}
