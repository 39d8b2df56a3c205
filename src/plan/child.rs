//! What a `uses:` step does with its child run, as pure functions of the parent's and the
//! child's states: whether an attempt starts a new child run or goes on with the one it has,
//! the child's first event, the resume an unfinished child needs, and how the child's state
//! ends the step's attempt. The driver (`execute::child`) carries these out.

use std::collections::BTreeMap;

use crate::decide::{AttemptReport, RunPhase, RunState, StepStatus};
use crate::event::{AttemptEnd, Driver, Operator, ParentRun, ResumeMode, RunKind, RunStarted};

/// What an attempt of a `uses:` step does with its child run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChildPlan {
    /// Start a new child run: the step has none yet, or its last one is over for good and
    /// its end was recorded.
    Start,
    /// Go on with this child run: it is not over (it waits, was stopped, paused on a
    /// failure, or its driver died), or it ended while nobody was looking.
    Continue(String),
}

/// What the next attempt (or the waiting attempt) of `uses:` step `index` does, as the
/// parent's log alone says it.
pub fn child_plan(parent: &RunState, index: usize) -> ChildPlan {
    child_plan_with(parent, index, None)
}

/// What the next attempt (or the waiting attempt) of `uses:` step `index` does, `child` being
/// the state of the child run its step links to (if it could be read). A child over for good
/// whose end the step has not taken yet gives it that end (it finished while nobody drove the
/// parent); but one the step already failed with (`ChildLink::reported`) that has since ended
/// other than completed (aborted, say) has nothing new for it: the attempt, a retry, starts a
/// new child run, as it would had the parent seen that end.
pub fn child_plan_with(parent: &RunState, index: usize, child: Option<&RunState>) -> ChildPlan {
    match &parent.steps[index].child {
        Some(link) if link.finished => ChildPlan::Start,
        Some(link)
            if link.reported
                && child.is_some_and(|c| {
                    c.run_id == link.run_id
                        && c.outcome()
                            .is_some_and(|o| o != crate::event::Outcome::Completed)
                }) =>
        {
            ChildPlan::Start
        }
        Some(link) => ChildPlan::Continue(link.run_id.clone()),
        None => ChildPlan::Start,
    }
}

/// The first event of the child run that step `index` of `parent` starts: the workflow as
/// snapshotted at the parent's `run` (never read again from a file), the parent's
/// configuration and agents, the link back to the parent.
pub fn child_start(
    parent: &RunState,
    index: usize,
    inputs: BTreeMap<String, serde_json::Value>,
    working_dir: String,
    by: Operator,
    driver: Driver,
    left: Option<u64>,
) -> Result<RunStarted, String> {
    let start = parent
        .start
        .as_ref()
        .ok_or("the parent run has not started")?;
    let step = parent
        .definition(index)
        .ok_or_else(|| format!("the parent run has no step {index}"))?;
    let uses = step
        .uses
        .as_deref()
        .ok_or_else(|| format!("step `{}` has no `uses:`", step.name))?;
    let used = start.uses.get(uses).ok_or_else(|| {
        format!("the parent run recorded no workflow for `uses: {uses}` when it started")
    })?;
    // The child is driven in the parent's session, whose limit is the whole run's (SPEC §3):
    // its limit is what is left of the parent's (`left`, in whole seconds), else the one a
    // resume of the parent gave (`resume --timeout`), else the parent's configuration's.
    let mut config = start.config.clone();
    if let Some(limit) = left.or(parent.timeout_seconds) {
        config.timeout_seconds = limit;
    }
    Ok(RunStarted {
        kind: RunKind::Workflow,
        name: used.name.clone(),
        definition: used.definition.clone(),
        definition_hash: used.definition_hash.clone(),
        source: used.source.clone(),
        inputs,
        // The journal finds the secret inputs, keeps their values and records `***`.
        secret_inputs: Vec::new(),
        secret_defaults: Vec::new(),
        config,
        agents: start.agents.clone(),
        // As the parent runs Claude Code now (a resume may have changed how).
        claude: parent.claude_setup().map(std::borrow::Cow::into_owned),
        working_dir,
        driver,
        by,
        parent: Some(ParentRun {
            run_id: parent.run_id.clone(),
            step: parent.steps[index].name.clone(),
            attempt: parent.steps[index].attempts,
        }),
        uses: start.uses.clone(),
    })
}

/// What the parent's driver does with its child run as it stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChildNext {
    /// Nothing to drive: the child's state ends (or keeps waiting) the step's attempt.
    Report,
    /// Resume it so, then drive it.
    Resume(ResumeMode),
    /// Drive it as it is.
    Drive,
}

/// What to do with an unfinished child run. A child stopped, or whose driver died with work
/// in hand, goes on from where it was. A child paused on a failure gets its failed step again
/// only from a new attempt of the parent's step (a retry); the attempt that saw it fail ends
/// with that failure.
pub fn child_next(child: &RunState, new_attempt: bool) -> ChildNext {
    match child.phase {
        RunPhase::Finished { .. } => ChildNext::Report,
        RunPhase::Paused { .. } if new_attempt => ChildNext::Resume(ResumeMode::Retry),
        RunPhase::Paused { .. } => ChildNext::Report,
        RunPhase::Stopped | RunPhase::RollingBack => ChildNext::Resume(ResumeMode::Continue),
        RunPhase::Running | RunPhase::Waiting
            if child.steps.iter().any(|s| s.status == StepStatus::Running) =>
        {
            ChildNext::Resume(ResumeMode::Continue)
        }
        RunPhase::NotStarted | RunPhase::Running | RunPhase::Waiting => ChildNext::Drive,
    }
}

/// How a child run, as its state stands, ends the attempt of its parent's step.
#[derive(Debug, Clone, PartialEq)]
pub enum ChildEnd {
    /// It finished, or paused on a failure: the attempt ends with its outcome.
    Report(Box<AttemptReport>),
    /// It waits for a report or a start, or for a worker offering the tags its next unit asks
    /// for: so does the step.
    Waiting,
    /// It was stopped (or is mid-way): the parent stops too, and resumes it later.
    Unfinished,
}

/// The outputs a child run gives its parent's step: every output of its steps, a later step's
/// replacing an earlier one's of the same key (a `foreach:` step counts with its lists, not
/// its items one by one).
pub fn child_outputs(child: &RunState) -> Vec<(String, String)> {
    let mut merged: BTreeMap<String, String> = BTreeMap::new();
    for s in child.steps.iter().filter(|s| s.item.is_none()) {
        for (k, v) in &s.outputs {
            merged.insert(k.clone(), v.clone());
        }
    }
    merged.into_iter().collect()
}

/// Whether what `state` starts next is a unit that asks for tags (`runs_on:`): only a driver
/// offering them (a worker's `--tags`) goes on with it. A workflow's next attempt; a scenario
/// whose ready phases all ask for tags.
pub fn waits_for_worker(state: &RunState) -> bool {
    if state.phase != RunPhase::Running {
        return false;
    }
    if !state.is_scenario() {
        return matches!(
            super::next(state),
            super::Next::Attempt { index, .. } if !state.runs_on(index).is_empty()
        );
    }
    let ready: Vec<usize> = super::ready_phases(state)
        .into_iter()
        .filter(|&i| !state.is_external(i))
        .collect();
    !ready.is_empty()
        && ready.iter().all(|&i| !state.runs_on(i).is_empty())
        && super::to_prepare(state).is_empty()
}

/// The end of attempt `attempt` of `step` that `child`'s state gives.
pub fn child_end(child: &RunState, step: &str, attempt: u32) -> ChildEnd {
    let report = |end: AttemptEnd, outputs: Vec<(String, String)>| {
        ChildEnd::Report(Box::new(AttemptReport {
            step: step.to_string(),
            attempt,
            end,
            outputs,
            output_tail: String::new(),
            validation_problems: Vec::new(),
            by: None,
            agent: None,
            log: None,
            permanent: false,
        }))
    };
    match &child.phase {
        RunPhase::Finished { outcome } => {
            let outputs = match outcome {
                crate::event::Outcome::Completed => child_outputs(child),
                _ => Vec::new(),
            };
            report(
                AttemptEnd::Child {
                    run_id: child.run_id.clone(),
                    outcome: *outcome,
                    finished: true,
                    reason: child.finish_reason.clone(),
                },
                outputs,
            )
        }
        RunPhase::Paused { reason } => report(
            AttemptEnd::Child {
                run_id: child.run_id.clone(),
                outcome: crate::event::Outcome::Failed,
                finished: false,
                reason: Some(reason.clone()),
            },
            Vec::new(),
        ),
        RunPhase::Waiting => ChildEnd::Waiting,
        // Its next unit asks for tags (`runs_on:`) the driver did not offer: the child waits
        // for a worker offering them, as a run of its own would, and the parent waits on it.
        RunPhase::Running if waits_for_worker(child) => ChildEnd::Waiting,
        RunPhase::NotStarted | RunPhase::Running | RunPhase::RollingBack | RunPhase::Stopped => {
            ChildEnd::Unfinished
        }
    }
}
