//! Dry-run plans: which steps a run or a resume would reuse, run, re-run, skip or wait on.

use serde::Serialize;

use crate::decide::{Command, RunState, StepStatus, decide, evolve};
use crate::definition::Workflow;
use crate::event::{Driver, Operator, Recorded, ResumeMode};
use crate::plan::Setting;

/// What a step will see happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Completed before: its outputs are reused, it does not run.
    Reuse,
    Run,
    /// It ran before and runs again.
    Rerun,
    /// It waits for a person or an agent to report.
    Wait,
    Skipped,
    /// Its rollback command runs first (it runs again after the rollback: listed again).
    Compensate,
    /// Its rollback command runs, and the run then ends rolled back.
    Undo,
    /// Nothing happens to it: the run ends (rolled back) before it.
    Untouched,
    /// Its rollback command already ran and failed: it is not run again, and the run ends
    /// failed (clean up by hand).
    CompensationFailed,
    /// Nothing happens to it: the run ends failed before it, a compensation having failed.
    UntouchedFailed,
}

/// One line of a plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlannedStep {
    pub name: String,
    pub action: Action,
    /// Its `if:` (the expression, or `run: COMMAND`): it is skipped when that is false.
    #[serde(rename = "if", skip_serializing_if = "Option::is_none")]
    pub if_: Option<String>,
    /// Its `foreach:` list or template: it runs once per item.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub foreach: Option<String>,
    /// Its `uses:`: the workflow it runs as a child run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uses: Option<String>,
    /// What it would run with (its directory, `env:` and `with:`), for a step that would run
    /// something: set by the caller (`with_settings`), which knows the run's directory.
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub setting: Option<Setting>,
    /// Its prompt as it would be shown (templates resolved as far as known, a secret `***`),
    /// for a step that would run or wait for a report: set by `with_settings` too.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
    /// A scenario's phase: what it waits for before it starts, when it waits for anything
    /// (as a scenario's run plan says it: `manual` or `after`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub starts: Option<Start>,
    /// The phases it starts after (`starts: after`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub after: Vec<String>,
    /// A `uses:` step's child run that a resume goes on with rather than starting a new one
    /// (`child_plan_with`): its id, and its end when it is over (the step takes that end).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub child_run: Option<PlannedChild>,
    /// A scenario's phase, not a workflow's step (the plan's words say so).
    #[serde(skip)]
    pub phase: bool,
}

/// The child run a `uses:` step goes on with, in a resume plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PlannedChild {
    pub run_id: String,
    /// Its end (`completed`, `aborted`, …) when it is over: the step takes it, and nothing
    /// runs; absent, the child is resumed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ended: Option<String>,
}

/// What a scenario's phase waits for before it starts, in a resume plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Start {
    /// A manual phase not yet started: `orchestrate start` starts it.
    Manual,
    /// After the phases in `after` end (`after:a,b`).
    After,
}

impl PlannedStep {
    fn new(name: &str, action: Action) -> PlannedStep {
        PlannedStep {
            name: name.to_string(),
            action,
            if_: None,
            foreach: None,
            uses: None,
            setting: None,
            prompt: None,
            starts: None,
            after: Vec::new(),
            child_run: None,
            phase: false,
        }
    }
}

/// `plan` of a scenario run in `state` with each phase marked a phase and what it waits for
/// before it starts: a manual phase nobody started yet, the phases an `after:` names. A
/// workflow run's plan is returned as it is.
pub fn with_phase_starts(mut plan: Vec<PlannedStep>, state: &RunState) -> Vec<PlannedStep> {
    let Some(scenario) = state.scenario.as_ref() else {
        return plan;
    };
    for p in &mut plan {
        p.phase = true;
        let Some(phase) = scenario.phases.iter().find(|ph| ph.name == p.name) else {
            continue;
        };
        let not_started = state.step_index(&p.name).is_some_and(|i| {
            matches!(
                state.steps[i].status,
                StepStatus::Pending | StepStatus::Ready
            ) && state.steps[i].attempts == 0
        });
        p.starts = match phase.parsed_condition() {
            Ok(crate::definition::Condition::Manual)
                if not_started && !state.start_requested.contains(&p.name) =>
            {
                Some(Start::Manual)
            }
            Ok(crate::definition::Condition::After(names)) if not_started => {
                p.after = names;
                Some(Start::After)
            }
            _ => None,
        };
    }
    plan
}

/// The plan of a new run: every step runs, or waits when it is external; with the `if:` that
/// may skip it, the `foreach:` list it runs once per item of, the workflow it calls.
pub fn preview_run(workflow: &Workflow, external: &dyn Fn(usize) -> bool) -> Vec<PlannedStep> {
    workflow
        .steps
        .iter()
        .enumerate()
        .map(|(i, s)| PlannedStep {
            if_: s.if_.as_ref().map(|c| c.text()),
            foreach: s.foreach.as_ref().map(|f| f.text()),
            uses: s.uses.clone(),
            ..PlannedStep::new(
                &s.name,
                if external(i) {
                    Action::Wait
                } else {
                    Action::Run
                },
            )
        })
        .collect()
}

impl Action {
    /// Whether the step (or its rollback) would run a command: what it runs with is then
    /// worth showing.
    pub fn runs(self) -> bool {
        matches!(
            self,
            Action::Run | Action::Rerun | Action::Compensate | Action::Undo
        )
    }
}

/// `plan` with the setting of each step that would run a command (`Action::runs`), by name,
/// and the prompt of each that would run or wait for a report.
pub fn with_settings(
    mut plan: Vec<PlannedStep>,
    setting_of: &dyn Fn(&str) -> Option<Setting>,
) -> Vec<PlannedStep> {
    for p in &mut plan {
        if p.action.runs() || p.action == Action::Wait {
            let mut setting = setting_of(&p.name);
            p.prompt = setting.as_mut().and_then(|s| s.prompt.take());
            if p.action.runs() {
                p.setting = setting;
            }
        }
    }
    plan
}

/// The plan of `resume` with `mode`, computed by deciding the resume on a copy of the state
/// and folding the events it would record. Nothing is written.
pub fn preview_resume(
    state: &RunState,
    mode: ResumeMode,
    enable_rollback: Option<bool>,
    child: &dyn Fn(&str) -> Option<RunState>,
) -> Result<Vec<PlannedStep>, crate::decide::DecideError> {
    // A stop asked of a driver that died before acting on it is recorded first by the resume
    // (an abort is too, and then nothing is resumed: the refusal says so).
    let fold = |mut after: RunState, events: Vec<crate::event::Event>| {
        let base = after.events;
        for (i, event) in events.into_iter().enumerate() {
            let rec = Recorded {
                run_id: after.run_id.clone(),
                seq: base + i as u64,
                id: String::new(),
                time: String::new(),
                version: event.version(),
                prev_hash: String::new(),
                hash: String::new(),
                event,
            };
            after = evolve(after, &rec);
        }
        after
    };
    let taken_up;
    let state = match crate::decide::pending_request(state) {
        Some((false, _)) => {
            taken_up = fold(state.clone(), decide(state, Command::TakeUpRequest)?);
            &taken_up
        }
        _ => state,
    };
    let events = decide(
        state,
        Command::Resume {
            mode,
            by: Operator {
                actor: "dry-run".into(),
                message: None,
            },
            driver: Driver {
                pid: 0,
                host: String::new(),
            },
            timeout_seconds: None,
            enable_rollback,
            claude: None,
            leave_claimed: false,
            lease_lapsed: false,
        },
    )?;
    let after = fold(state.clone(), events);
    // A rollback (decided by `on_failure: rollback`, or this resume's `--rollback-to`) goes
    // on where it is: its compensations first, in the order they run (newest step first);
    // without a step to go on from, the run then ends — failed if a compensation failed.
    let (compensate, failed, ends) = match &after.rollback {
        Some(rb) => (
            rb.pending.clone(),
            rb.failed.clone(),
            rb.resume_after.is_none(),
        ),
        None => (Vec::new(), Vec::new(), false),
    };
    let ends_failed = ends && !failed.is_empty();
    let step = |name: &String, action| PlannedStep::new(name, action);
    let mut plan: Vec<PlannedStep> = failed
        .iter()
        .filter(|_| ends)
        .map(|name| step(name, Action::CompensationFailed))
        .collect();
    plan.extend(compensate.iter().map(|name| {
        step(
            name,
            if ends {
                Action::Undo
            } else {
                Action::Compensate
            },
        )
    }));
    for (i, s) in after.steps.iter().enumerate() {
        let undone = compensate.contains(&s.name) || failed.contains(&s.name);
        let action = if ends {
            if undone {
                continue;
            }
            if ends_failed {
                Action::UntouchedFailed
            } else {
                Action::Untouched
            }
        } else if compensate.contains(&s.name) {
            Action::Rerun
        } else {
            // A `foreach:` step whose items were read: each item says what happens to it, on
            // its own line (the step itself is neither run nor reported on).
            if s.items.is_some() {
                continue;
            }
            match s.status {
                StepStatus::Completed => Action::Reuse,
                StepStatus::Skipped => Action::Skipped,
                _ if after.is_external(i) => Action::Wait,
                _ if s.attempts > 0 => Action::Rerun,
                _ => Action::Run,
            }
        };
        let mut planned = step(&s.name, action);
        // What will decide it, as a run's plan says: the `if:` not checked yet, the list of a
        // `foreach:` not read yet, the workflow a `uses:` step runs.
        if matches!(action, Action::Run | Action::Rerun | Action::Wait)
            && let Some(d) = after.definition(i)
        {
            planned.if_ = d
                .if_
                .as_ref()
                .filter(|_| s.condition.is_none())
                .map(|c| c.text());
            planned.foreach = d
                .foreach
                .as_ref()
                .filter(|_| s.items.is_none() && s.item.is_none())
                .map(|f| f.text());
            planned.uses = d.uses.clone();
            // A `uses:` step with a child run it goes on with (as the driver decides it,
            // `child_plan_with`): resumed, or its end taken, not a new child run.
            if d.uses.is_some()
                && let Some(link) = s.child.as_ref()
            {
                let linked = child(&link.run_id);
                if let super::ChildPlan::Continue(run_id) =
                    super::child_plan_with(&after, i, linked.as_ref())
                {
                    planned.child_run = Some(PlannedChild {
                        ended: linked
                            .as_ref()
                            .and_then(|c| c.outcome())
                            .map(|o| o.as_str().to_string()),
                        run_id,
                    });
                }
            }
        }
        plan.push(planned);
    }
    Ok(plan)
}
