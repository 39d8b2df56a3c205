//! The status projection: the machine contract of `status --json`, and what humans see.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::decide::{RunPhase, RunState, StepStatus};
use crate::event::{Outcome, RunKind};

/// A run's status as users see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Running,
    Waiting,
    /// The log says running, but no live process drives it: `resume` takes it over.
    Interrupted,
    Completed,
    Failed,
    Stopped,
    Aborted,
    RolledBack,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::Waiting => "waiting",
            RunStatus::Interrupted => "interrupted",
            RunStatus::Completed => "completed",
            RunStatus::Failed => "failed",
            RunStatus::Stopped => "stopped",
            RunStatus::Aborted => "aborted",
            RunStatus::RolledBack => "rolled_back",
        }
    }

    /// The process exit code of a command that leaves a run in this status (SPEC §5).
    pub fn exit_code(self) -> i32 {
        match self {
            RunStatus::Completed => 0,
            RunStatus::Failed | RunStatus::Aborted | RunStatus::RolledBack => 1,
            RunStatus::Waiting
            | RunStatus::Stopped
            | RunStatus::Interrupted
            | RunStatus::Running => 3,
        }
    }

    /// The exit code of a command that recorded its change on a run another driver carries
    /// on (another process; `serve`'s background driver): 0 while the run is running — the
    /// change landed and someone goes on with it, no wait nor stop — else `exit_code`
    /// (3 for a run waiting on people). The CLI's report to a run driven elsewhere and the
    /// API's answers (`X-Cortex-Exit-Code`) both say it.
    pub fn exit_code_carried_on(self) -> i32 {
        match self {
            RunStatus::Running => 0,
            status => status.exit_code(),
        }
    }

    /// The status a status document's `status` names.
    pub fn from_word(word: &str) -> Option<RunStatus> {
        [
            RunStatus::Running,
            RunStatus::Waiting,
            RunStatus::Interrupted,
            RunStatus::Completed,
            RunStatus::Failed,
            RunStatus::Stopped,
            RunStatus::Aborted,
            RunStatus::RolledBack,
        ]
        .into_iter()
        .find(|s| s.as_str() == word)
    }
}

/// Status from the log plus one live fact: whether a driver process holds the run.
pub fn run_status(state: &RunState, driver_alive: bool) -> RunStatus {
    if state.is_scenario() && state.phase == RunPhase::Running {
        // A scenario waits as a whole when nothing runs and nothing can start: only reports
        // or manual starts can move it on.
        let running = state
            .steps
            .iter()
            .any(|s| s.status == StepStatus::Running || s.checking);
        let startable = !crate::plan::ready_phases(state).is_empty()
            || !crate::plan::to_prepare(state).is_empty();
        let waiting = state.steps.iter().any(|s| s.status == StepStatus::Waiting)
            || !crate::plan::awaiting_manual_start(state).is_empty();
        if !running && !startable && waiting && state.pre_validated {
            return RunStatus::Waiting;
        }
    }
    match &state.phase {
        RunPhase::Finished { outcome } => match outcome {
            Outcome::Completed => RunStatus::Completed,
            Outcome::Failed => RunStatus::Failed,
            Outcome::Aborted => RunStatus::Aborted,
            Outcome::RolledBack => RunStatus::RolledBack,
        },
        // Paused by a failed unit (a phase reported failed) while its live driver still
        // carries units on: running, until that driver has them end and lets go. Before, it
        // was `failed` with a `resume` to paste that was refused as held (exit 4).
        RunPhase::Paused { .. }
            if driver_alive && state.steps.iter().any(|s| s.status == StepStatus::Running) =>
        {
            RunStatus::Running
        }
        RunPhase::Paused { .. } => RunStatus::Failed,
        RunPhase::Stopped => RunStatus::Stopped,
        RunPhase::Waiting => RunStatus::Waiting,
        RunPhase::Running | RunPhase::RollingBack | RunPhase::NotStarted => {
            if driver_alive {
                RunStatus::Running
            } else if state.submitted {
                // Queued for workers (`run --submit`), not cut short.
                RunStatus::Waiting
            } else if state.work_in_hand() {
                RunStatus::Interrupted
            } else {
                // Nothing was cut short (a report was recorded without driving on, or a
                // driver ended between steps): the run waits for someone to go on with it.
                RunStatus::Waiting
            }
        }
    }
}

/// Whether a run that no live driver holds was cut short: what `status` shows `interrupted`
/// (`run_status` with no driver). The one rule `log copy` refuses a run by (`not_copyable`)
/// too: a run waiting — on a report, a manual start, a worker offering tags, or for workers
/// (`run --submit`) — has nothing under way and nothing that runs again, whatever driver its
/// log names. Before, `log copy` asked only whether the log named a driver while the run was
/// `running` in the log, which a scenario that waits as a whole (its phase stays `running`)
/// always is: every waiting scenario run was refused as "cut short", and the `resume` it
/// suggested changed nothing.
pub fn cut_short(state: &RunState) -> bool {
    run_status(state, false) == RunStatus::Interrupted
}

/// The status shown for unit `index`: its own, but a `foreach:` step whose items run shows
/// how its items stand (the first that failed, waits or stopped; running once any started).
/// A unit whose retry was scheduled when its run paused (a sibling phase failed for good, the
/// time limit) or stopped: no driver waits out its backoff, and only a resume runs it.
fn retry_held(state: &RunState, index: usize) -> bool {
    let s = &state.steps[index];
    s.status == StepStatus::Ready
        && s.attempts > 0
        && matches!(state.phase, RunPhase::Paused { .. } | RunPhase::Stopped)
}

fn shown_status(state: &RunState, index: usize) -> StepStatus {
    let s = &state.steps[index];
    if !state.is_open_parent(index) {
        return s.status;
    }
    let items: Vec<StepStatus> = state
        .item_units(index)
        .map(|j| state.steps[j].status)
        .collect();
    for wanted in [StepStatus::Failed, StepStatus::Waiting, StepStatus::Stopped] {
        if items.contains(&wanted) {
            return wanted;
        }
    }
    if items.iter().any(|st| *st != StepStatus::Pending) {
        StepStatus::Running
    } else {
        s.status
    }
}

/// Whether only a person or an agent can move the run on (a report, a manual start).
fn waits_on_people(state: &RunState) -> bool {
    (state.steps.iter().any(|s| s.status == StepStatus::Waiting)
        || !crate::plan::awaiting_manual_start(state).is_empty())
        && crate::plan::ready_phases(state).is_empty()
        && crate::plan::to_prepare(state).is_empty()
}

/// The units a driver would start next that ask for tags (`runs_on:`), which only a worker
/// offering them runs: a workflow's next attempt, a scenario's ready phases. And whether
/// nothing else would move the run on (no other ready phase, no check or list to read).
fn for_workers(state: &RunState) -> (Vec<usize>, bool) {
    use crate::plan::{Next, next, ready_phases, to_prepare};
    if state.phase != RunPhase::Running {
        return (Vec::new(), false);
    }
    // A run submitted for workers and not yet taken has not been pre-validated (its driver
    // does that first): what it starts first is what it starts once that is done. Before,
    // nothing was ready yet, so such a run whose first unit needs tags suggested a resume,
    // which stopped at once at that unit, instead of a worker offering them.
    let validated;
    let state = if state.submitted && !state.pre_validated {
        let mut s = state.clone();
        s.pre_validated = true;
        validated = s;
        &validated
    } else {
        state
    };
    if !state.is_scenario() {
        return match next(state) {
            Next::Attempt { index, .. } if !state.runs_on(index).is_empty() => (vec![index], true),
            _ => (Vec::new(), false),
        };
    }
    let ready: Vec<usize> = ready_phases(state)
        .into_iter()
        .filter(|&i| !state.is_external(i))
        .collect();
    let tagged: Vec<usize> = ready
        .iter()
        .copied()
        .filter(|&i| !state.runs_on(i).is_empty())
        .collect();
    let only = !tagged.is_empty() && tagged.len() == ready.len() && to_prepare(state).is_empty();
    (tagged, only)
}

/// The tags units `indexes` ask for, each once, in the order written.
fn tags_of(state: &RunState, indexes: &[usize]) -> Vec<String> {
    let mut tags: Vec<String> = Vec::new();
    for &i in indexes {
        for t in state.runs_on(i) {
            if !tags.contains(t) {
                tags.push(t.clone());
            }
        }
    }
    tags
}

/// A run's rollback, under way or decided.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RollbackView {
    pub reason: String,
    /// The steps whose compensations are still to run, in the order they run.
    pub to_compensate: Vec<String>,
    /// Compensations that failed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub failed: Vec<String>,
    /// An abort ended the rollback before its end: the run is over with steps not undone.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub left_unfinished: bool,
    /// Left unfinished: the compensation the abort cut off mid-command (its step may be
    /// half-undone).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cut_off: Option<String>,
    /// Left unfinished: the compensations that never ran.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub not_run: Vec<String>,
}

/// What became of a step's compensation, where it is not simply done (`rolled_back`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CompensationView {
    /// Its rollback command failed: the step is to be cleaned by hand.
    Failed,
    /// Its rollback command was ended mid-command by an abort: it may be half-undone.
    CutOff,
    /// An abort ended the rollback before its turn: it was never undone.
    NotRun,
}

/// One step in the status document.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StepView {
    pub name: String,
    pub status: StepStatus,
    pub attempts: u32,
    pub started_at: Option<String>,
    pub ended_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub outputs: BTreeMap<String, String>,
    /// The prompt, rendered with the run's inputs and outputs, for a step that waits on a
    /// person or an agent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
    /// While it waits for a report: the outputs the report must give (`RunState::required_outputs`: its
    /// `validate:` gate's `output:` checks, without which a report is refused, and its own
    /// outputs that its gate's `run:` checks read).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub required_outputs: Vec<String>,
    /// While it waits for a report: the outputs later steps or phases read that the gate does
    /// not require (a report may leave them out; what reads them then sees them empty).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub expected_outputs: Vec<String>,
    /// While it waits for a report: the commands its `validate:` gate runs on the report, as
    /// they will run (`gate_checks`: the run's values where it has them).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<String>,
    /// The templates those commands read that have no value now, each with what it stands
    /// for in words (`` `${{ steps.S.outputs.k }}`: output `k` of step `S`, not given yet ``):
    /// said apart from the commands, which show them as written.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub checks_without_value: Vec<String>,
    /// Who reported the step's outcome, and their message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reported_by: Option<crate::event::Operator>,
    /// Who skipped it (`resume --skip`), and their message; `reported_by` stays who
    /// reported the failure skipped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped_by: Option<crate::event::Operator>,
    /// Who asked for the phase to start (`orchestrate start`, `run --start`), and their
    /// message: the latest request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_requested_by: Option<crate::event::Operator>,
    /// The worker that claimed its running attempt: `NAME on HOST`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub worker: Option<String>,
    /// The lease of that claim lapsed (the worker stopped renewing it: killed, stopped, cut
    /// off) or is gone: the attempt is orphaned, and is recorded interrupted and run again when
    /// a worker or the run's driver reaps it. From the leases read before the log
    /// (`with_leases`); never set without them.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub lease_lapsed: bool,
    /// That claim's lease is held by a process of this host that is gone (killed before it
    /// let go): the attempt is orphaned whatever time its lease has left, and said so ("whose
    /// process is gone"), never "whose lease lapsed" while it did not. From the leases read
    /// before the log (`with_gone_holders`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub holder_gone: bool,
    /// Its attempt was running when the run's driver went (the run is `interrupted`): nothing
    /// runs it now, and `resume` records it interrupted and runs it again. `status` stays what
    /// the log says (`running`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub interrupted: bool,
    /// Its `if: {run:}` command runs (`condition_started`, its outcome not recorded yet); with
    /// `interrupted`, it ran when the run's driver went: `resume` runs it again. `status`
    /// stays what the log says (`pending`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub checking_condition: bool,
    /// A retry was scheduled (its backoff under way) when the run paused or stopped: nothing
    /// runs it until the run is resumed, so its status is `pending`, not `ready`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub retry_held: bool,
    /// What became of its compensation when it did not simply undo it: failed, cut off by an
    /// abort, or never run (the rollback aborted before it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compensation: Option<CompensationView>,
    /// A manual phase nobody has started yet, of a run that is going on: it is `ready`, and
    /// starts on `cortex orchestrate start` (a `pending` phase waits for its `after:` phases).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub awaits_start: bool,
    /// Its condition holds and nothing else keeps it back, but the parallel limits do
    /// (`max_parallel`, or another non-parallel phase): it is `ready`, not `pending` (which
    /// waits for its condition), and starts by itself when a slot frees.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waits_for_slot: Option<SlotWaitView>,
    /// Its condition holds and a slot is free, and it has not started: it is `ready`, and
    /// whoever drives the run starts it next (a worker offering its tags, with `runs_on:`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub starts_next: bool,
    /// It is next to start and asks for tags (`runs_on:`): it waits for a worker offering
    /// them (`cortex worker --tags …`; a driver started by a command offers none).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub waits_for_tags: Vec<String>,
    /// What the agent runner (Claude Code) reported for the latest attempt it ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent_result: Option<AgentResultView>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub output_tail: String,
    /// Scenario phases: the condition, parallelism, agents and success-criteria checklist.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub condition: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parallel: Option<bool>,
    /// A manual phase an operator asked to start that has not started yet (its dependencies
    /// or `max_parallel` hold it): it starts by itself when they allow.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub start_requested: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub agents: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub profiles: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub criteria: Vec<CriterionView>,
    /// Its `if:` and, once checked, what the check found.
    #[serde(rename = "if", skip_serializing_if = "Option::is_none")]
    pub if_: Option<IfView>,
    /// A `foreach:` step: how many items, and how many are done (its items follow it as
    /// units of their own, named `NAME[i]`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub foreach: Option<ForeachView>,
    /// One item of a `foreach:` step: which step, which position, which value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item: Option<ItemView>,
    /// A `uses:` step: the workflow it runs and its child run (once started).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uses: Option<UsesView>,
}

impl StepView {
    /// A `foreach:` step whose list was read: its items are the units that run, report and
    /// fail; it only sums them up.
    pub fn runs_as_items(&self) -> bool {
        self.foreach.as_ref().is_some_and(|f| f.items.is_some())
    }
}

/// Why a ready phase has not started: the parallel limits (SPEC §4) hold it back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SlotWaitView {
    /// The run's `max_parallel`.
    pub max_parallel: usize,
    /// The phases holding the slots it waits for: the active ones (running or waiting on a
    /// report) and the ready ones that start before it; with `one_at_a_time`, the
    /// non-parallel ones among them.
    pub held_by: Vec<String>,
    /// A slot is free, but this phase has `parallel: false` and another non-parallel phase
    /// is active: it waits for that one to end.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub one_at_a_time: bool,
    /// The same in words, as the human screen says it.
    pub note: String,
}

impl SlotWaitView {
    fn of(state: &RunState, hold: &crate::plan::SlotHold) -> SlotWaitView {
        let held_by: Vec<String> = hold
            .held_by
            .iter()
            .map(|&h| state.steps[h].name.clone())
            .collect();
        let names = held_by
            .iter()
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(", ");
        let note = if hold.one_at_a_time {
            format!("waiting for {names} to end (phases with `parallel: false` run one at a time)")
        } else {
            format!(
                "waiting for a free slot (max_parallel {}, held by {names})",
                hold.limit
            )
        };
        // One the engine runs says so: nobody is to report it, then or now.
        let note = if state.is_external(hold.index) {
            note
        } else if state
            .definition(hold.index)
            .is_some_and(|d| d.run.is_some())
        {
            format!("{note}; then the engine runs its command (nothing to report)")
        } else {
            format!("{note}; then the engine runs its agent (nothing to report)")
        };
        SlotWaitView {
            max_parallel: hold.limit,
            held_by,
            one_at_a_time: hold.one_at_a_time,
            note,
        }
    }
}

/// A step's `if:`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IfView {
    /// The expression, or `run: COMMAND`.
    pub condition: String,
    /// None: not checked yet (on this pass).
    pub holds: Option<bool>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub values: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A `foreach:` step's items.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ForeachView {
    /// The list as written (a list, or the template it is read from).
    pub over: String,
    /// How many items it has, once read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub items: Option<usize>,
    pub completed: usize,
    pub skipped: usize,
}

/// An item of a `foreach:` step.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ItemView {
    pub of: String,
    pub index: usize,
    pub value: crate::definition::Item,
}

/// A `uses:` step's workflow and child run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UsesView {
    pub workflow: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    /// While the step waits with its child: the run (the child, or a child of it) and the step
    /// that wait for a report, with its prompt rendered — what to report on to go on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waits_on: Option<WaitsOn>,
    /// While the step waits with a child run that has ended meanwhile (aborted directly, and
    /// this run not driven since): how it ended. No report can move it; `resume` gives the
    /// step that end.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub child_ended: Option<String>,
    /// While the step waits with a child run (or a child of it) whose next unit asks for
    /// tags (`runs_on:`) that nobody driving it offered: those tags. A worker offering them
    /// takes the child, and drives this run on once the child is done.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub waits_for_tags: Vec<String>,
    /// While the step waits with a child run (or a child of it) that was cut short — its
    /// driver died while it ran (a report's process killed as it drove the child on) and
    /// nobody drives it now: that run and the step it ran. Nobody must act but to resume.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub child_interrupted: Option<ChildInterrupted>,
}

/// A run down a chain of child runs whose driver died while it ran.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChildInterrupted {
    pub run_id: String,
    /// The step (or item) it ran when its driver died, if one was running.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
}

/// The run down the chain of child runs from `run_id` that was cut short (`cut_short`) and
/// that no live driver holds (`alive` of its id): found by following each waiting `uses:`
/// step's child, as `waits_on` does. Pure: the caller reads the states and the drivers.
pub fn interrupted_below(
    child: &dyn Fn(&str) -> Option<RunState>,
    alive: &dyn Fn(&str) -> bool,
    run_id: &str,
) -> Option<ChildInterrupted> {
    let mut id = run_id.to_string();
    for _ in 0..=crate::definition::limits::MAX_USES_DEPTH {
        let state = child(&id)?;
        if state.outcome().is_some() {
            return None;
        }
        if cut_short(&state) {
            return (!alive(&id)).then(|| ChildInterrupted {
                run_id: id.clone(),
                step: state
                    .steps
                    .iter()
                    .find(|s| s.status == StepStatus::Running)
                    .map(|s| s.name.clone()),
            });
        }
        let (i, s) = state
            .steps
            .iter()
            .enumerate()
            .find(|(_, s)| s.status == StepStatus::Waiting)?;
        id = s
            .child
            .as_ref()
            .filter(|_| state.is_uses(i))?
            .run_id
            .clone();
    }
    None
}

/// The step deepest down a chain of child runs that waits for a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WaitsOn {
    pub run_id: String,
    pub step: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
    /// The outputs the report on it must give (as `StepView::required_outputs`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub required_outputs: Vec<String>,
    /// The outputs later steps read (as `StepView::expected_outputs`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub expected_outputs: Vec<String>,
}

/// The outputs of unit `index` that later steps or phases (or the workflow's `outputs:`) read
/// and that its gate does not require: a report may leave them out, and what reads them then
/// sees them empty (`RunState::output_readers` says who).
pub fn expected_outputs(state: &RunState, index: usize) -> Vec<String> {
    let required = state.required_outputs(index);
    state
        .output_readers(index)
        .into_iter()
        .map(|(key, _)| key)
        .filter(|k| !required.contains(k))
        .collect()
}

/// The commands unit `index`'s `validate:` gate runs on a report, as they will run
/// (`RunState::render_check_in`: each value the run has written as the shell reads the value
/// it is given, so that pasted it runs the same, never a value spliced in as shell text), and
/// the templates they read that have no value now, in words (once each).
pub fn gate_checks(state: &RunState, index: usize) -> (Vec<String>, Vec<String>) {
    let mut checks = Vec::new();
    let mut without: Vec<String> = Vec::new();
    for command in state
        .definition(index)
        .into_iter()
        .flat_map(|d| d.validate.iter().filter_map(|c| c.run.as_deref()))
    {
        let (shown, notes) = state.render_check_in(command, index);
        checks.push(shown);
        for note in notes {
            if !without.contains(&note) {
                without.push(note);
            }
        }
    }
    (checks, without)
}

/// The tags the next unit of run `run_id` (or of the child run its waiting `uses:` step waits
/// with, and so on down) asks for, when only a worker offering them moves it on.
pub fn waits_for_tags(child: &dyn Fn(&str) -> Option<RunState>, run_id: &str) -> Vec<String> {
    let mut id = run_id.to_string();
    for _ in 0..=crate::definition::limits::MAX_USES_DEPTH {
        let Some(state) = child(&id) else {
            return Vec::new();
        };
        if crate::plan::waits_for_worker(&state) {
            return tags_of(&state, &for_workers(&state).0);
        }
        let link = state
            .steps
            .iter()
            .enumerate()
            .find(|(i, s)| s.status == StepStatus::Waiting && state.is_uses(*i))
            .and_then(|(_, s)| s.child.as_ref());
        match link {
            Some(link) if state.outcome().is_none() => id = link.run_id.clone(),
            _ => return Vec::new(),
        }
    }
    Vec::new()
}

/// What a waiting `uses:` step waits on, found by following its child runs (`child` gives a
/// run's state by id): the first run down the chain whose waiting step is not itself a
/// `uses:` step. Pure: the caller reads the states.
pub fn waits_on(child: &dyn Fn(&str) -> Option<RunState>, run_id: &str) -> Option<WaitsOn> {
    let mut id = run_id.to_string();
    for _ in 0..=crate::definition::limits::MAX_USES_DEPTH {
        let state = child(&id)?;
        // A finished run waits on nothing, whatever its steps were doing when it ended.
        if state.outcome().is_some() {
            return None;
        }
        let (i, s) = state
            .steps
            .iter()
            .enumerate()
            .find(|(_, s)| s.status == StepStatus::Waiting)?;
        match s.child.as_ref().filter(|_| state.is_uses(i)) {
            Some(link) => id = link.run_id.clone(),
            None => {
                return Some(WaitsOn {
                    run_id: id,
                    step: s.name.clone(),
                    prompt: state
                        .definition(i)
                        .and_then(|d| d.prompt.as_deref())
                        .map(|p| state.render_prompt_in(p, i)),
                    required_outputs: state.required_outputs(i),
                    expected_outputs: expected_outputs(&state, i),
                });
            }
        }
    }
    None
}

/// One step or phase of the definition as the status document lists it, with the items of a
/// `foreach:` one (the units that run for it), in order.
#[derive(Debug, Clone, Copy)]
pub struct StepGroup<'a> {
    pub step: &'a StepView,
    pub items: &'a [StepView],
}

impl StatusView {
    /// The steps or phases of the definition, each with its items (which follow it in
    /// `steps`). An item whose step is not right before it (a damaged or hostile log) is a
    /// group of its own, never dropped.
    pub fn groups(&self) -> Vec<StepGroup<'_>> {
        let steps = &self.steps;
        let mut out = Vec::new();
        let mut i = 0;
        while i < steps.len() {
            let step = &steps[i];
            let mut end = i + 1;
            if step.item.is_none() {
                while steps
                    .get(end)
                    .is_some_and(|u| u.item.as_ref().is_some_and(|it| it.of == step.name))
                {
                    end += 1;
                }
            }
            out.push(StepGroup {
                step,
                items: &steps[i + 1..end],
            });
            i = end;
        }
        out
    }

    /// Say which running units a worker claimed whose lease no longer holds them: `leases`
    /// are the run's, read before the log the view was made from. Read in that order, a unit
    /// the log still shows running for the claimed attempt, with no live lease of that attempt,
    /// is orphaned: a worker lets go of its lease only after its result is recorded, and a
    /// lease is taken over only by the reaper, which records the attempt interrupted.
    ///
    /// A running unit no worker claimed, of a run whose driver is a command holding the run's
    /// driver lease (a command's driver on PostgreSQL runs its phases itself, unleased), is
    /// shown held by that driver: `driver ACTOR pid N on HOST` (SPEC §9: status shows who
    /// holds each running step or phase). Before, such a unit named nobody.
    pub fn with_leases(self, leases: &[crate::store::Lease]) -> StatusView {
        let mut view = self.with_held(&|unit, attempt| {
            leases
                .iter()
                .any(|l| l.unit == unit && l.attempt == attempt && !l.lapsed())
        });
        let driver = leases
            .iter()
            .find(|l| l.unit == crate::store::DRIVER_UNIT && !l.lapsed());
        if let Some(lease) = driver
            && let Some(who) = lease.holder.strip_prefix("driver:")
        {
            for s in &mut view.steps {
                if s.status == StepStatus::Running && s.worker.is_none() {
                    s.worker = Some(format!("driver {who} on {}", lease.host));
                }
            }
        }
        view
    }

    /// Say which orphaned units' leases are held by processes of this host that are gone
    /// (`gone`: their unit and attempt; a workflow's steps are held by its driver lease,
    /// `DRIVER_UNIT` attempt 0), as `with_leases` was given them without those leases.
    pub fn with_gone_holders(mut self, gone: &[(String, u32)]) -> StatusView {
        let workflow = self.kind == RunKind::Workflow;
        for s in &mut self.steps {
            if !s.lease_lapsed {
                continue;
            }
            let (unit, attempt) = if workflow {
                (crate::store::DRIVER_UNIT, 0)
            } else {
                (s.name.as_str(), s.attempts)
            };
            s.holder_gone = gone.iter().any(|(u, a)| u == unit && *a == attempt);
        }
        self
    }

    /// `with_leases`, given only whether a live lease holds attempt `attempt` of `unit` (read
    /// before the log, as there).
    pub fn with_held(mut self, held: &dyn Fn(&str, u32) -> bool) -> StatusView {
        let workflow = self.kind == RunKind::Workflow;
        for s in &mut self.steps {
            if s.worker.is_none() || s.status != StepStatus::Running {
                continue;
            }
            // A workflow's step runs in the worker that drives the run, under its driver
            // lease (attempt 0); a scenario's phase under a lease of its own.
            s.lease_lapsed = if workflow {
                !held(crate::store::DRIVER_UNIT, 0)
            } else {
                !held(&s.name, s.attempts)
            };
            // A phase a worker holds under a live lease of its own runs on that worker
            // whatever became of the run's driver: it is not interrupted (nothing runs it
            // again on resume; its worker records its end). Only a phase whose lease lapsed
            // or whose holder is gone is. The status is the log read with the lease table.
            if !workflow && !s.lease_lapsed {
                s.interrupted = false;
            }
        }
        self
    }

    /// Judge `--rollback-to` by `enable_rollback` in force now (`now`: the configuration as
    /// read now; none where it cannot be read, and the run's own setting stands), as a
    /// resume does: its suggestions are made again where that changes them.
    pub fn with_rollback_setting(mut self, now: Option<bool>) -> StatusView {
        if let Some(now) = now
            && now != self.rollback_enabled
        {
            self.rollback_enabled = now;
            if self.as_of.is_none() {
                self.next = super::next_actions(&self);
            }
        }
        self
    }

    /// Say which time limit a resume without `--timeout` gives the run (`kept`: the one its
    /// last session kept, `RunState::kept_time_limit`, with the configuration's now, read by
    /// the shell); its suggestions are made again where that changes them.
    pub fn with_time_limit_setting(mut self, kept: Option<KeptTimeLimit>) -> StatusView {
        if kept != self.kept_time_limit {
            self.kept_time_limit = kept;
            if self.as_of.is_none() {
                self.next = super::next_actions(&self);
            }
        }
        self
    }

    /// Say how the definition files of the run are now against its snapshot (`now`, read by
    /// the shell: `ops::definition_now`), which a new run "once the definition is fixed"
    /// needs; its suggestions are made again where that changes them.
    pub fn with_definition_now(mut self, now: DefinitionNow) -> StatusView {
        if now != self.definition_now {
            self.definition_now = now;
            if self.as_of.is_none() {
                self.next = super::next_actions(&self);
            }
        }
        self
    }

    /// A run `waiting` with a `uses:` step whose child run (or a child of it) was cut short
    /// — its driver died while it ran, as a report's process killed while it drove the child
    /// on — is not waiting on a person: it is `interrupted`, saying which run was cut short,
    /// and its resume (which goes on with the child where it was, then with this run) is the
    /// way on. `alive`: whether a live driver holds a run (its lock or lease). Before, the
    /// parent said `⏳ waiting` (someone must act) while its child said `⚠️ interrupted`.
    pub fn with_interrupted_children(
        mut self,
        child: &dyn Fn(&str) -> Option<RunState>,
        alive: &dyn Fn(&str) -> bool,
    ) -> StatusView {
        if self.as_of.is_some() || self.status != RunStatus::Waiting || alive(&self.run_id) {
            return self;
        }
        let mut found = None;
        for s in &mut self.steps {
            if s.status != StepStatus::Waiting {
                continue;
            }
            if let Some(u) = s.uses.as_mut()
                && let Some(id) = u.run_id.clone()
                && let Some(cut) = interrupted_below(child, alive, &id)
            {
                u.child_interrupted = Some(cut.clone());
                found.get_or_insert((s.name.clone(), cut));
            }
        }
        let Some((step, cut)) = found else {
            return self;
        };
        let ran = cut
            .step
            .as_ref()
            .map_or_else(String::new, |s| format!(" while its step `{s}` ran"));
        self.status = RunStatus::Interrupted;
        self.waiting_for = None;
        self.reason = Some(format!(
            "its step `{step}` waits with child run {}, whose driver died{ran} (killed, or ended on an error it could not record); resume goes on with the child where it was, then with this run",
            cut.run_id
        ));
        self.next = super::next_actions(&self);
        self
    }

    /// Say, for each `uses:` step waiting with its child, what the chain of child runs waits
    /// on, and suggest reporting on it.
    pub fn with_children(mut self, child: &dyn Fn(&str) -> Option<RunState>) -> StatusView {
        let mut changed = false;
        for s in &mut self.steps {
            if s.status != StepStatus::Waiting {
                continue;
            }
            if let Some(u) = s.uses.as_mut()
                && let Some(id) = u.run_id.clone()
            {
                u.waits_on = waits_on(child, &id);
                u.waits_for_tags = waits_for_tags(child, &id);
                u.child_ended = child(&id)
                    .and_then(|c| c.outcome())
                    .map(|o| o.as_str().to_string());
                changed |= u.waits_on.is_some() || u.child_ended.is_some();
            }
        }
        // The `uses:` step the time limit cut, whose child run ended since (resumed on its
        // own to its end): a resume gives the step that end. It does not start over, so the
        // time it ran asks for no longer limit. Before, the suggestion said it "starts over
        // and needs more than that".
        if self.as_of.is_none()
            && let Some((step, _)) = self.cut_by_limit.clone()
            && let Some(id) = self
                .steps
                .iter()
                .find(|s| s.name == step)
                .and_then(|s| s.uses.as_ref()?.run_id.clone())
            && let Some(ended) = child(&id).and_then(|c| c.outcome())
        {
            self.cut_by_limit = None;
            self.cut_child_ended = Some((step, id, ended.as_str().to_string()));
            changed = true;
        }
        // The child a `--retry` goes on with failed on a `foreach:` list that is no list: the
        // retry would fail the same way.
        if self.as_of.is_none()
            && let Some(id) = self.failed_child_resumes.clone()
            && let Some(c) = child(&id)
            && let Some((step, _)) = unlistable_foreach(&c)
        {
            self.child_unlistable_foreach = Some(step);
            changed = true;
        }
        // The child a `--retry` goes on with reads a secret output no process holds: the
        // retry runs the child's step that records it again first (`execute::child`), or,
        // across a wait for a report, cannot give it.
        if self.as_of.is_none()
            && let Some(id) = self.failed_child_resumes.clone()
            && let Some(c) = child(&id)
            && let Some(from) = crate::execute::rerun_for_unheld(&c, &[])
        {
            self.child_reruns_from = Some(from);
            changed = true;
        }
        if changed && self.as_of.is_none() {
            self.next = super::next_actions(&self);
        }
        // A child run whose parent was stopped, or failed with it (its `uses:` step took this
        // run's failure), and whose step still links to it: nobody will drive the parent on
        // by itself. Once this run is over for good (resumed on its own, then ended), resuming
        // the parent is how its step takes this run's end; while this run is failed and
        // resumable, the parent's `--retry` retries it and goes on with both (a resume of this
        // run alone would end it and leave the parent failed).
        if self.as_of.is_none()
            && let Some(parent) = self.parent.clone()
            && let Some(me) = child(&self.run_id)
            && let Some(p) = child(&parent.run_id)
            && p.step(&parent.step)
                .and_then(|s| s.child.as_ref())
                .is_some_and(|c| c.run_id == self.run_id)
        {
            let paused = matches!(p.phase, RunPhase::Paused { .. })
                && p.step(&parent.step)
                    .is_some_and(|s| s.status == StepStatus::Failed);
            // The parent's secret inputs, which its resume is to be given again (the log
            // keeps `***`): before, this run's suggestion of the parent's `--retry` carried
            // none, and run as given it was refused (exit 2).
            let parent_secrets = |mode: &crate::event::ResumeMode| match mode {
                crate::event::ResumeMode::Continue => crate::plan::resume_secret_inputs(&p, mode),
                _ => p
                    .start
                    .as_ref()
                    .map_or_else(Vec::new, |s| s.secret_inputs_to_give()),
            };
            let over = me.outcome().is_some();
            let failed = matches!(me.phase, RunPhase::Paused { .. });
            use crate::event::ResumeMode;
            let given = |mut s: super::next::Suggestion, mode: ResumeMode| {
                s.with_secret_inputs(&parent_secrets(&mode));
                s
            };
            if me.timed_out() && p.phase == RunPhase::Stopped {
                // Stopped by the time limit it had of its parent's, with its parent: the
                // parent's resume with a longer limit goes on with this run from where it
                // stopped, then with the parent (this run resumed alone would leave the parent
                // stopped). The same limit would stop it again.
                let more = self
                    .timed_out
                    .map(|limit| super::next::longer_limit(&self, limit).0)
                    .unwrap_or_default();
                self.next.insert(
                    0,
                    given(
                        super::next::Suggestion::new(
                            &["workflow", "resume", &parent.run_id, "--timeout", &more],
                            format!(
                                "the parent run stopped at its time limit with this run: its step `{}` goes on with this run from where it stopped, with a time limit of {more}, and both go on",
                                parent.step
                            ),
                        ),
                        ResumeMode::Continue,
                    ),
                );
            } else if over && p.phase == RunPhase::Stopped {
                self.next.push(given(
                    super::next::Suggestion::new(
                        &["workflow", "resume", &parent.run_id],
                        format!(
                            "the parent run is stopped: it goes on, its step `{}` taking this run's end",
                            parent.step
                        ),
                    ),
                    ResumeMode::Continue,
                ));
            } else if over && paused {
                self.next.push(given(
                    super::next::Suggestion::new(
                        &["workflow", "resume", &parent.run_id, "--retry"],
                        format!(
                            "the parent run failed with this run: it goes on, its step `{}` taking this run's end",
                            parent.step
                        ),
                    ),
                    ResumeMode::Retry,
                ));
            } else if failed
                && paused
                && !self.secret_foreach
                && !self.unpassable
                && self.unlistable_foreach.is_none()
                && crate::execute::rerun_for_unheld(&me, &[]).is_none_or(|(_, crossing)| !crossing)
            {
                // (A `foreach:` list read from a secret fails the same way retried, and so
                // does a secret output read across a wait for a report.)
                // Paused by its time limit: the parent's resume gives it the limit it is given
                // (`resume --timeout`), and the same limit would stop it again.
                let more = self
                    .timed_out
                    .map(|limit| super::next::longer_limit(&self, limit).0);
                let mut argv = vec!["workflow", "resume", parent.run_id.as_str(), "--retry"];
                if let Some(more) = more.as_deref() {
                    argv.extend(["--timeout", more]);
                }
                // A secret output no process holds: the retry runs its step again first.
                let first = match crate::execute::rerun_for_unheld(&me, &[]) {
                    Some((from, _)) => format!(
                        " from `{from}` (run again first: a secret output its steps read is held only by the process that records it)"
                    ),
                    None => String::new(),
                };
                let what = match more.as_deref() {
                    Some(more) => format!(
                        "the parent run failed with this run: its step `{}` retries this run{first} with a time limit of {more}, and both go on",
                        parent.step
                    ),
                    None => format!(
                        "the parent run failed with this run: its step `{}` retries this run{first}, and both go on",
                        parent.step
                    ),
                };
                self.next.insert(
                    0,
                    given(super::next::Suggestion::new(&argv, what), ResumeMode::Retry),
                );
            }
        }
        super::next::dedupe(&mut self.next);
        self
    }
}

/// What an agent runner reported for an attempt: its verdict, session and costs (its result
/// text is the step's output `result`, or its error).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AgentResultView {
    pub agent: String,
    pub runner: crate::definition::AgentRunner,
    pub attempt: u32,
    pub is_error: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub subtype: String,
    pub session_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total_cost_usd: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub num_turns: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
}

impl AgentResultView {
    /// Whether the session failed (`AgentResult::failed`).
    pub fn failed(&self) -> bool {
        crate::event::session_failed(self.is_error, &self.subtype)
    }

    pub fn of(r: &crate::event::AgentResult) -> Self {
        AgentResultView {
            agent: r.agent.clone(),
            runner: r.runner,
            attempt: r.attempt,
            is_error: r.is_error,
            subtype: r.subtype.clone(),
            session_id: r.session_id.clone(),
            total_cost_usd: r.total_cost_usd,
            num_turns: r.num_turns,
            duration_ms: r.duration_ms,
        }
    }
}

/// The definition files of a run (its own, the workflows its `uses:` steps run) as they are
/// now, against the run's snapshot of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DefinitionNow {
    /// As the run started with them (or not read: a view made from the log alone).
    #[default]
    AsStarted,
    /// One changed since, and the definition validates now: a new run of it would start.
    Changed,
    /// One changed since, and the definition does not validate now (its own file, or the
    /// file of a workflow its `uses:` steps run): a new run of it would be refused.
    ChangedInvalid,
}

/// One success criterion and whether it was met.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CriterionView {
    pub criterion: String,
    pub met: bool,
    /// A check's templates that have no value now, each with what it stands for in words
    /// (`RunState::render_check_in`): said apart from the command, which shows them as
    /// written.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub without_value: Vec<String>,
    /// A command the engine runs (`{check: CMD}`), not a checklist item: told by the
    /// definition's type, never by the text (an item may read `check: ...`). In the document
    /// as `"check": true`, left out for an item: before, both read `{"criterion": "check:
    /// true"}`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub check: bool,
}

/// Where a run's log stops verifying, as a status read it: the event and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unverified {
    pub seq: i64,
    pub reason: String,
}

/// The event a view of the past is as of.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AsOf {
    pub seq: u64,
    pub time: String,
}

/// An agent active for a phase.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ActiveAgent {
    pub agent: String,
    pub phase: String,
}

/// The status document (`status --json`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatusView {
    pub run_id: String,
    pub kind: RunKind,
    pub name: String,
    pub description: Option<String>,
    pub status: RunStatus,
    /// Not sealed: `resume` can go on with it.
    pub resumable: bool,
    pub head_hash: String,
    pub events: u64,
    pub started_at: Option<String>,
    pub ended_at: Option<String>,
    pub working_dir: String,
    pub actor: String,
    /// What the one who started it said (`run --message`); a schedule's is `scheduled`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Started by a schedule: when it was due and by which expression.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheduled: Option<String>,
    /// Who resumed it last (`resume --actor`), and why (`resume --message`): an operator
    /// action shown as the start's is (`actor`, `message`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resumed_by: Option<crate::event::Operator>,
    /// The run's inputs (secret ones as `***`).
    pub inputs: BTreeMap<String, serde_json::Value>,
    /// `status --at SEQ`: the event the view is as of.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub as_of: Option<AsOf>,
    /// Whether what this status read of the run's log verified (`status` of the present:
    /// the events after its snapshot, chained to it, or all of them without one; and the run
    /// index's head; a view of the past, `status --at SEQ`: the events from the first to
    /// SEQ, which it replays). `false`: cortex will
    /// not act on the run, `unverified` says where it breaks, and only `log verify` is
    /// suggested.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verified: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unverified: Option<Unverified>,
    /// Why the run is failed, stopped or finished the way it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// A stop (or abort) asked of the run's driver that it has not acted on yet (it may be
    /// frozen or busy): who asked, when, and whether it is an abort. The run ends at the
    /// driver's next turn; asking again changes nothing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_requested: Option<StopRequestView>,
    /// Interrupted, and a command its dead driver started still runs (its process group,
    /// noted in `locks/RUN.pgids`, is alive): a resume or an abort ends it first. Set by the
    /// shell (`Ctx::view`), which can look at processes.
    #[serde(skip)]
    pub orphans_alive: bool,
    /// What the commands it suggests carry after `cortex` (`Ctx::globals`: `--home`, `--db`,
    /// never a password), set by the shell that adds them to `next` (`Ctx::view`): every
    /// command written in its text (`reason`, the lines `render` writes) carries them too, so
    /// that pasted it acts on the log the view was read from.
    #[serde(skip)]
    pub globals: Vec<String>,
    /// The latest checkpoint (resume point), by step name.
    pub resume_point: Option<String>,
    /// A rollback under way or decided: why, and the steps still to compensate (newest
    /// first). `resume` goes on with it, not from the resume point.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rollback: Option<RollbackView>,
    /// The step a person or agent must report on, if the run waits.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waiting_for: Option<String>,
    /// The failed step, if the run is failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed_step: Option<String>,
    /// A scenario paused on a failed phase: the phases that were ready (their condition met,
    /// not waiting for a manual start) and never started. A phase that fails for good pauses
    /// the run at once, so nothing else starts (DESIGN.md §4b, "A failed phase pauses the
    /// run"); a resume (`--retry`, `--skip`) runs them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ready_not_started: Vec<String>,
    pub pre_problems: Vec<String>,
    pub post_problems: Vec<String>,
    /// A child run: the run and the `uses:` step that started it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent: Option<crate::event::ParentRun>,
    /// A completed child run its parent's rollback undid, or is undoing
    /// (`RunState::rolled_back_for_parent`): its parent drives it, so what comes next is the
    /// parent's (`next::workflow_actions`), never a new run of this workflow.
    #[serde(skip)]
    pub rolled_back_for_parent: bool,
    /// Scenario runs: agents active now, and manual phases nobody has started yet (of an
    /// unfinished run: a finished run awaits no start).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub active_agents: Vec<ActiveAgent>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub awaiting_start: Vec<String>,
    /// A workflow's steps, or a scenario's phases (`phases` in the JSON of a scenario run).
    pub steps: Vec<StepView>,
    /// Commands that move the run on, as argv with why (the human "Next:" lines).
    pub next: Vec<super::Suggestion>,
    /// The secret inputs a driver must be given again (not their definition's default): a
    /// suggested `resume` names them.
    #[serde(skip)]
    pub secret_inputs: Vec<String>,
    /// Those of `secret_inputs` a plain resume asks for: what is left of the run may read
    /// them (`plan::secret_inputs_ahead`).
    #[serde(skip)]
    pub resume_secret_inputs: Vec<String>,
    /// Paused by its time limit of this many seconds: a suggested resume raises it.
    #[serde(skip)]
    pub timed_out: Option<u64>,
    /// The step the limit cut that had run longest, and for how many ms: it starts over, so
    /// the suggested limit gives it that time again on top (`next::longer_limit`).
    #[serde(skip)]
    pub cut_by_limit: Option<(String, u64)>,
    /// The run's time limit from the log (the latest `run_resumed`'s) where a resume set it
    /// otherwise than its start did (`resume --timeout`, or a configuration changed since):
    /// a suggested resume carries it (`--timeout`), since one without takes the
    /// configuration's. None for a child run (its parent gives it its limits).
    #[serde(skip)]
    pub given_limit: Option<u64>,
    /// Stopped by its time limit with a retry held (its backoff under way when the limit
    /// passed): the unit, its backoff and how long its last attempt ran. A resume waits out
    /// what is left of that backoff before it runs the attempt, so the suggested limit leaves
    /// room for it (`next::longer_limit`).
    #[serde(skip)]
    pub held_retry: Option<HeldRetry>,
    /// Stopped by its time limit, which cut a `uses:` step whose child run has ended since
    /// (resumed on its own): the step, the child run and how it ended. A resume of this run
    /// gives the step that end; nothing it cut starts over (`with_children`).
    #[serde(skip)]
    pub cut_child_ended: Option<(String, String, String)>,
    /// The time limit a resume without `--timeout` keeps (`RunState::kept_time_limit`): the
    /// one the run's last session ran under, which nobody ended (its driver died, or let it
    /// wait), longer than `timeout_seconds` in cortex.config.json now, which it would take
    /// otherwise. Set by `with_time_limit_setting`; none where the configuration cannot be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kept_time_limit: Option<KeptTimeLimit>,
    /// Stopped by its time limit, a step (phase) it cut reads a secret output the log keeps
    /// as `***`, no wait for a report between: the step that records it, to run again
    /// (`--from`, with the longer limit), and the step that reads it. A resume from another
    /// process cannot give the value (`unheld_secret_output`, as for a failed step).
    #[serde(skip)]
    pub limit_cut_unheld: Option<(String, String)>,
    /// The failed `uses:` step whose child run the run's time limit stopped: the run failed
    /// with it rather than paused, and `--retry` under the same limit stops it again.
    #[serde(skip)]
    pub child_cut_by_limit: Option<String>,
    /// The child run a `resume --retry` (or a plain resume) of the failed `uses:` step goes
    /// on with, rather than running the step again: it ended failed but can be resumed.
    #[serde(skip)]
    pub failed_child_resumes: Option<String>,
    /// What `run` takes to start its definition again: the file it came from (its absolute
    /// path, as recorded), or a built-in's name. Its `name:` may not find it: a file given
    /// by path is in no catalog, and `name:` may differ from the file's stem.
    #[serde(skip)]
    pub started_from: String,
    /// A rollback is under way or decided (`reason` says whether it waits for a driver).
    #[serde(skip)]
    pub rolling_back: bool,
    /// Only a report or a manual start can move the run on: `resume` would find nothing to
    /// do (and record that it tried), so it is not suggested.
    #[serde(skip)]
    pub waits_on_people: bool,
    /// Recorded with `run --submit` and not yet taken by a worker: a resume drives it here
    /// instead.
    #[serde(skip)]
    pub submitted: bool,
    /// Nobody drives it, and what it would start next asks for tags (`runs_on:`): the tags a
    /// worker must offer to take it (`cortex worker --tags …`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub waits_for_tags: Vec<String>,
    /// Only such a worker moves it on: a resume here (a driver offering no tags) would start
    /// nothing, so it is not suggested.
    #[serde(skip)]
    pub only_workers: bool,
    /// The failed step reads a secret output recorded as `***` (held only by the process that
    /// recorded it): `--retry` from another process fails the same way. The step that records
    /// it, to run again with `--from`, and whether a step waiting for a report stands between
    /// them (then no resume from the command line can give it: `secret_output_crossing`).
    #[serde(skip)]
    pub unheld_secret_output: Option<(String, bool)>,
    /// The failed step's `foreach:` list (its own, or its child's through `with:`) is read
    /// from a secret: refused every time, so `--retry` would fail the same way
    /// (`secret_foreach`).
    #[serde(skip)]
    pub secret_foreach: bool,
    /// The failed step is a `uses:` step whose child run could not be started (its `with:`
    /// values do not pass the child's inputs): never retried, and a `--retry` fails the same
    /// way (`unstartable_child`). The step, why, as recorded, and the step whose output made
    /// the values refused, to run again (`--from`), if one did.
    #[serde(skip)]
    pub unstartable_child: Option<(String, String, Option<String>)>,
    /// The failed step's `foreach:` list could not be read as one (not JSON, not a list, over
    /// the item cap, a value missing: `ForeachFailed`): the same log renders the same text, so
    /// a `--retry` fails the same way (`unlistable_foreach`). The step, and the step whose
    /// output the list reads, to run again (`--from`), if it reads one.
    #[serde(skip)]
    pub unlistable_foreach: Option<(String, Option<String>)>,
    /// The failed step's `if:` expression could not be decided (a value of the wrong kind:
    /// `if: steps.gen.outputs.empty` with `''`): the run keeps its definition and its values,
    /// so a `--retry` evaluates the same expression over the same values and fails the same
    /// way (`undecidable_condition`). The step, and the earliest step whose output it reads,
    /// to run again (`--from`), if it reads one.
    #[serde(skip)]
    pub undecidable_condition: Option<(String, Option<String>)>,
    /// The failed step (phase) read an output that the report of an earlier one left out
    /// (so it read it empty): the same log gives a `--retry` the same empty value, while
    /// `--from` that step has it reported again, with the output (`unreported_output`). The
    /// step to run again, and the output's key.
    #[serde(skip)]
    pub unreported_output: Option<(String, String)>,
    /// The failed step's (phase's) `if: {run: ...}` command could not run or answer (exit
    /// 126, 127, or killed): the run keeps its definition, so a `--retry` runs the same
    /// command, which fails the same way unless what it runs was fixed outside the run
    /// (`failed_condition_command`). The step.
    #[serde(skip)]
    pub failed_condition_command: Option<String>,
    /// The failed `uses:` step's child run (the one a `--retry` goes on with) failed on a
    /// `foreach:` list that is no list (its `unlistable_foreach`): the child's step. A retry
    /// goes on with that child and fails the same way; `--from` the step starts a new child,
    /// which runs its steps again (`with_children` fills it in).
    #[serde(skip)]
    pub child_unlistable_foreach: Option<String>,
    /// The failed `uses:` step's child run (the one a `--retry` goes on with) has steps left
    /// to run that read a secret output no process holds (`execute::rerun_for_unheld`): the
    /// child's step that records it, which the retry runs again first, and whether a wait for
    /// a report stands between (then no retry gives it, and none is offered).
    #[serde(skip)]
    pub child_reruns_from: Option<(String, bool)>,
    /// The failed step's command could not start for a value Linux does not pass (too long,
    /// too much together, a NUL: `AttemptEnd::unpassable`): it was not retried, and a
    /// `--retry` would meet the same refusal, so none is offered.
    #[serde(skip)]
    pub unpassable: bool,
    /// The failed step's command (a `run:`, written in the definition) wrote a malformed
    /// `$CORTEX_OUTPUT` (too large, a value with a newline): not retried, and the run keeps the
    /// definition it started with, so a fix of its `run:` reaches a new run only.
    #[serde(skip)]
    pub malformed_output: bool,
    /// The latest recovery followed ended in the failure it was made from, the units it ran
    /// again having given the same values (`RunState::recovery_repeated`): offered as it is,
    /// it ends here again, so it is not offered first (`next::demote_repeated`).
    #[serde(skip)]
    pub repeated_recovery: Option<crate::decide::Repeated>,
    /// Whether a definition file of the run (its own, a workflow its `uses:` steps run)
    /// differs from the run's snapshot of it, and validates now (`ops::definition_now`,
    /// read by the shell: as started in a view made from the log alone): only a changed one
    /// that validates is offered as a new run "once the definition is fixed" (with the same
    /// definition it fails the same way, and one that does not validate is refused).
    #[serde(skip)]
    pub definition_now: DefinitionNow,
    /// What `resume --retry` and `resume --skip` of a paused workflow run really run, where
    /// they run steps that completed again (no checkpoint keeps them: checkpoints off, or
    /// only `checkpoint: true` steps with `checkpoint_frequency: manual`), from the same plan
    /// `resume --dry-run` prints (`plan::preview_resume`): the suggestion says so. Before,
    /// it offered "run `Two` again" and the resume ran `One` again too.
    #[serde(skip)]
    pub restarts: Restarts,
    /// Whether a `resume --rollback-to` would be let through: `enable_rollback` as the run
    /// recorded it at `run`, until `with_rollback_setting` gives the one in force now (which
    /// is what a resume judges by). Off, no `--rollback-to` is suggested.
    #[serde(skip)]
    pub rollback_enabled: bool,
    /// The completed steps (phases; not the items of a `foreach:`), in the order they
    /// completed, each with whether it has a `rollback:` command: a scenario's
    /// `--rollback-to` undoes by that order.
    #[serde(skip)]
    pub completed_in_order: Vec<(String, bool)>,
}

/// The time limit a resume keeps (`StatusView::kept_time_limit`), and the configuration's it
/// keeps instead of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct KeptTimeLimit {
    /// The limit a resume without `--timeout` goes on under, in seconds (0: none).
    pub seconds: u64,
    /// `timeout_seconds` in cortex.config.json now, in seconds: what a resume would take
    /// after a session that came to an end.
    pub configured: u64,
}

/// A stop or abort the run's driver was asked for and has not acted on yet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StopRequestView {
    pub by: crate::event::Operator,
    /// When it was recorded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at: Option<String>,
    /// An abort (the run ends for good), not a stop.
    pub abort: bool,
    /// Its driver died before it acted on it: whoever takes the run next records it first
    /// (an abort ends the run; a resume, not a worker, goes on after a stop).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub driver_gone: bool,
}

impl StopRequestView {
    /// "stop requested by X at T, not yet acted on", as status says it.
    pub fn sentence(&self) -> String {
        let what = if self.abort { "abort" } else { "stop" };
        let at = self
            .at
            .as_deref()
            .map(|t| format!(" at {t}"))
            .unwrap_or_default();
        let why = self
            .by
            .message
            .as_deref()
            .filter(|m| !m.trim().is_empty())
            .map(|m| format!(" ({m})"))
            .unwrap_or_default();
        if self.driver_gone {
            let then = if self.abort {
                "whoever takes the run next records it (`abort` does; `resume` and a worker do too, and do not continue the run)"
            } else {
                "whoever takes the run next records it (a worker then leaves the run stopped; `resume` goes on after it)"
            };
            return format!(
                "{what} requested by {}{at}{why} is pending: its driver died before it acted on it; {then}",
                self.by.actor
            );
        }
        format!(
            "{what} requested by {}{at}{why}, not yet acted on by its driver (it may be frozen or busy); it takes effect at the driver's next turn",
            self.by.actor
        )
    }
}

/// The stop or abort pending on `state`: asked for, and neither recorded nor undone by a
/// resume since (a run that is stopped or finished has none pending).
pub fn pending_stop(state: &RunState) -> Option<StopRequestView> {
    if !state.stop_requested || state.phase == RunPhase::Stopped || state.outcome().is_some() {
        return None;
    }
    let by = match &state.abort_requested {
        Some(by) => (by.clone(), true),
        None => (state.stopped_by.as_ref()?.0.clone(), false),
    };
    Some(StopRequestView {
        by: by.0,
        at: state.stop_requested_at.clone(),
        abort: by.1,
        driver_gone: false,
    })
}

/// The steps a recovery of a paused run runs again though they completed, and why.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Restarts {
    /// `resume --retry`: every step it runs (the failed one included), when a completed one
    /// is among them.
    pub retry: Vec<String>,
    /// `resume --skip`: the same for the steps it runs.
    pub skip: Vec<String>,
    /// A plain `resume` of a stopped or interrupted run: the same for the steps it runs.
    pub resume: Vec<String>,
    /// The first step of the run is among them: it starts from the start.
    pub from_start: bool,
    /// Checkpoints are off (`enable_checkpoints: false`), not only sparse.
    pub checkpoints_off: bool,
    /// The steps a checkpoint was saved after (`--rollback-to` one of them goes back to it;
    /// to another, it names its resume point itself, as `--from` does).
    pub checkpointed: Vec<String>,
}

impl StatusView {
    /// The machine contract: `steps` for a workflow run, `phases` for a scenario run.
    pub fn to_json(&self) -> serde_json::Value {
        let mut value = serde_json::to_value(self).expect("status views serialise");
        // A unit whose driver is gone (the run `interrupted`) keeps the status the log gives
        // it, `running`: its attempt's start is recorded and its end is not (its command may
        // well still run, as the screen says), and SPEC §5 lists no `interrupted` for a unit.
        // Its `interrupted` flag says its driver is gone and `resume` runs it again. Before,
        // the document said `pending` (as if it had never started, beside `attempts: 1` and a
        // `started_at`) while the screen said its command still runs.
        if self.kind == RunKind::Scenario
            && let Some(map) = value.as_object_mut()
            && let Some(steps) = map.remove("steps")
        {
            map.insert("phases".into(), steps);
        }
        value
    }
}

/// Build the status document of a run, its commands carrying no global options (`status_view_for`).
pub fn status_view(state: &RunState, driver_alive: bool) -> StatusView {
    status_view_for(state, driver_alive, &[])
}

/// Build the status document of a run, each command its text writes carrying `globals` after
/// `cortex` (`StatusView::globals`; `next` is given them by the shell).
pub fn status_view_for(state: &RunState, driver_alive: bool, globals: &[String]) -> StatusView {
    let start = state.start.as_deref();
    let workflow = state.workflow.as_ref();
    let status = run_status(state, driver_alive);
    let phase = |i: usize| state.scenario.as_ref().map(|sc| &sc.phases[i]);
    let (tagged, only_workers) = for_workers(state);
    // Nobody drives it and something waits for a worker's tags.
    let for_tags = if state.phase == RunPhase::Running
        && status == RunStatus::Waiting
        && !driver_alive
        && !tagged.is_empty()
    {
        tags_of(state, &tagged)
    } else {
        Vec::new()
    };
    // Manual phases that `orchestrate start` starts now: `ready` (SPEC §5), not `pending`.
    let ready_to_start: Vec<usize> = if state.phase == RunPhase::Running {
        crate::plan::awaiting_manual_start(state)
    } else {
        Vec::new()
    };
    // Phases whose condition holds that the parallel limits hold back: `ready` too (SPEC
    // §5: `pending` waits for its condition), with what they wait for. Before, they were
    // shown `pending`, as if their `after:` phases had not ended.
    let held: Vec<crate::plan::SlotHold> = crate::plan::held_for_slots(state);
    let slot_wait = |i: usize| held.iter().find(|h| h.index == i);
    // Ready phases the scheduler starts now (not a retry waiting out its backoff, which is
    // `ready` already): a driver starts them at once, so they are seen when nobody drives
    // the run, or while they wait for a worker's tags.
    let starts_next: Vec<usize> = crate::plan::ready_phases(state)
        .into_iter()
        .filter(|&i| {
            matches!(
                state.steps[i].status,
                StepStatus::Pending | StepStatus::Stopped
            )
        })
        .collect();
    // The secret inputs whoever drives it must be given again (a worker too).
    let to_give = start.map_or_else(Vec::new, |s| s.secret_inputs_to_give());
    let tagged_names = || {
        tagged
            .iter()
            .map(|&i| format!("`{}`", state.steps[i].name))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let reason = match &state.phase {
        RunPhase::Paused { reason } => Some(reason.clone()),
        RunPhase::Finished { .. } => state.finish_reason.clone(),
        RunPhase::Stopped if state.rollback.is_some() => {
            let by = match &state.stopped_by {
                _ if let Some(words) = &state.stopped_by_limit => {
                    format!("stopped by its time limit ({words})")
                }
                Some((by, signal)) => {
                    let how = signal.as_ref().map(|s| format!(" ({s})")).unwrap_or_default();
                    match by.message.as_deref().filter(|m| !m.trim().is_empty()) {
                        Some(m) => format!("stopped by {}{how}: {m}", by.actor),
                        None => format!("stopped by {}{how}", by.actor),
                    }
                }
                None => "stopped by request".into(),
            };
            Some(format!(
                "{by} while rolling back; resume goes on with the rollback ({} still to compensate)",
                state.rollback.as_ref().map_or_else(String::new, |rb| rb
                    .pending
                    .iter()
                    .map(|p| format!("`{p}`"))
                    .collect::<Vec<_>>()
                    .join(", "))
            ))
        }
        // No operator asked: its time limit cut it. Which limit and how it is set, and that a
        // resume under a longer one goes on (the first of its next steps gives one).
        RunPhase::Stopped if let Some(words) = &state.stopped_by_limit => Some(format!(
            "stopped by its time limit: {words}; resume continues it, with a longer `--timeout`"
        )),
        RunPhase::Stopped => Some(match &state.stopped_by {
            // Who stopped it and why, as an abort's reason says.
            Some((by, signal)) => {
                let how = signal.as_ref().map(|s| format!(" ({s})")).unwrap_or_default();
                match by.message.as_deref().filter(|m| !m.trim().is_empty()) {
                    Some(m) => format!("stopped by {}{how}: {m}; resume continues it", by.actor),
                    None => format!("stopped by {}{how}; resume continues it", by.actor),
                }
            }
            None => "stopped by request; resume continues it".into(),
        }),
        RunPhase::Running
            if !for_tags.is_empty() && only_workers && status != RunStatus::Interrupted =>
        {
            Some(format!(
                "{} waits for a worker offering tags {}: `{}` takes it (a resume here offers no tags)",
                tagged_names(),
                for_tags.join(", "),
                super::worker_command(globals, &for_tags, &to_give),
            ))
        }
        RunPhase::Running if state.submitted && !driver_alive && status != RunStatus::Interrupted => {
            Some("submitted for workers: a `cortex worker` drives it (resume drives it here instead)".into())
        }
        RunPhase::RollingBack if status == RunStatus::Interrupted => Some(format!(
            "its driver is gone (killed or the machine restarted) while rolling back; resume goes on with the rollback ({} still to compensate)",
            state.rollback.as_ref().map_or_else(String::new, |rb| rb
                .pending
                .iter()
                .map(|p| format!("`{p}`"))
                .collect::<Vec<_>>()
                .join(", "))
        )),
        _ if status == RunStatus::Interrupted
            && let Some(p) = pending_stop(state) =>
        {
            Some(if p.abort {
                format!(
                    "interrupted — an abort by {} is pending (its driver died before it acted on it): abort records it and ends the run (a resume would record it too, and not continue the run)",
                    p.by.actor
                )
            } else {
                format!(
                    "interrupted — a stop by {} is pending (its driver died before it acted on it): a worker records it and leaves the run stopped; resume records it, then continues the run",
                    p.by.actor
                )
            })
        }
        _ if status == RunStatus::Interrupted => {
            // Not only a kill: a driver that ended on an error it could not record (a full
            // disk) leaves the same log, so none is claimed.
            Some("its driver is gone (killed, ended on an error it could not record, or the machine restarted); resume continues it".into())
        }
        RunPhase::Running if !for_tags.is_empty() && !waits_on_people(state) => Some(format!(
            "nobody drives it now; resume goes on with the other phases, and {} waits for a worker offering tags {} (`{}`)",
            tagged_names(),
            for_tags.join(", "),
            super::worker_command(globals, &for_tags, &to_give),
        )),
        RunPhase::Running
            if status == RunStatus::Waiting && !driver_alive && !waits_on_people(state) =>
        {
            Some(match !to_give.is_empty() {
                true => "nobody drives it now; resume goes on, given the values of its secret inputs again".into(),
                false => "nobody drives it now; resume goes on".into(),
            })
        }
        RunPhase::RollingBack if status == RunStatus::Waiting && !driver_alive => {
            Some("its rollback waits for a driver: resume runs the compensations".into())
        }
        _ => None,
    };
    let child_cut = state.child_cut_by_time_limit();
    let mut view = StatusView {
        run_id: state.run_id.clone(),
        kind: start.map_or(RunKind::Workflow, |s| s.kind),
        name: start.map_or_else(String::new, |s| s.name.clone()),
        description: workflow.and_then(|w| w.description.clone()),
        status,
        resumable: state.outcome().is_none(),
        head_hash: state.head_hash.clone(),
        events: state.events,
        started_at: state.started_at.clone(),
        ended_at: state.ended_at.clone(),
        working_dir: start.map_or_else(String::new, |s| s.working_dir.clone()),
        actor: start.map_or_else(String::new, |s| s.by.actor.clone()),
        message: start
            .filter(|s| s.by.actor != crate::decide::SCHEDULE_ACTOR)
            .and_then(|s| s.by.message.clone())
            .filter(|m| !m.trim().is_empty()),
        scheduled: start
            .filter(|s| s.by.actor == crate::decide::SCHEDULE_ACTOR)
            .and_then(|s| s.by.message.clone()),
        resumed_by: state.resumed_by.clone(),
        inputs: start.map(|s| s.inputs.clone()).unwrap_or_default(),
        parent: start.and_then(|s| s.parent.clone()),
        rolled_back_for_parent: state.rolled_back_for_parent,
        as_of: None,
        reason: reason.map(|r| crate::render::with_globals_in(&r, globals)),
        // Shown whether its driver lives (it has not acted yet) or died first (whoever takes
        // the run over records it: `decide::pending_request`).
        stop_requested: pending_stop(state).map(|p| StopRequestView {
            driver_gone: !driver_alive,
            ..p
        }),
        orphans_alive: false,
        globals: globals.to_vec(),
        resume_point: state.checkpoints.last().map(|c| c.step.clone()),
        // Under way (rolling back, or stopped or interrupted mid-rollback: resume goes on with
        // it), or left unfinished by an abort.
        rollback: match (&state.rollback, &state.rollback_left) {
            (Some(rb), _) if state.outcome().is_none() => Some(RollbackView {
                reason: rb.reason.clone(),
                to_compensate: rb.pending.clone(),
                failed: rb.failed.clone(),
                left_unfinished: false,
                cut_off: None,
                not_run: Vec::new(),
            }),
            (_, Some(left)) if state.outcome().is_some() => Some(RollbackView {
                reason: left.reason.clone(),
                to_compensate: Vec::new(),
                failed: left.failed.clone(),
                left_unfinished: true,
                cut_off: left.cut_off.clone(),
                not_run: left.not_run.clone(),
            }),
            _ => None,
        },
        waiting_for: state
            .steps
            .iter()
            .find(|s| s.status == StepStatus::Waiting)
            .map(|s| s.name.clone()),
        failed_step: matches!(state.phase, RunPhase::Paused { .. })
            .then(|| {
                state
                    .steps
                    .iter()
                    .find(|s| s.status == StepStatus::Failed)
                    .map(|s| s.name.clone())
            })
            .flatten(),
        ready_not_started: ready_not_started(state),
        pre_problems: state.pre_problems.clone(),
        post_problems: state.post_problems.clone(),
        active_agents: state
            .active_agents
            .iter()
            .map(|(agent, phase)| ActiveAgent {
                agent: agent.clone(),
                phase: phase.clone(),
            })
            .collect(),
        // A finished run awaits nothing: its manual phases nobody started stay `pending`.
        awaiting_start: crate::plan::awaiting_manual_start(state)
            .into_iter()
            .filter(|_| state.outcome().is_none())
            .map(|i| state.steps[i].name.clone())
            .collect(),
        steps: state
            .steps
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let gate = if s.status == StepStatus::Waiting && !state.is_uses(i) {
                    gate_checks(state, i)
                } else {
                    Default::default()
                };
                StepView {
                    name: s.name.clone(),
                    status: if ready_to_start.contains(&i)
                        || slot_wait(i).is_some()
                        || starts_next.contains(&i)
                    {
                        StepStatus::Ready
                    } else if retry_held(state, i)
                        || (s.status == StepStatus::Ready && state.outcome().is_some())
                    {
                        // Nothing will run it: its run paused or stopped (until a resume), or
                        // ended (a retry scheduled, or a budget given back, that never ran).
                        StepStatus::Pending
                    } else {
                        match shown_status(state, i) {
                            // An attempt that ended without an outcome (its worker's lease lapsed
                            // or its driver went: `step_interrupted`) in a run that goes on runs
                            // again: `pending` (its `error` says why the last one ended, its
                            // `waits_for_tags` who takes it). `stopped` is an operator's stop's.
                            // Before, a phase reaped from a killed worker was shown `stopped`
                            // beside its run `running`, waiting for a worker with its tags.
                            StepStatus::Stopped
                                if matches!(state.phase, RunPhase::Running | RunPhase::Waiting) =>
                            {
                                StepStatus::Pending
                            }
                            shown => shown,
                        }
                    },
                    retry_held: !ready_to_start.contains(&i) && retry_held(state, i),
                    attempts: s.attempts,
                    started_at: s.started_at.clone(),
                    ended_at: s.ended_at.clone(),
                    error: s
                        .error
                        .as_deref()
                        .map(|e| crate::render::with_globals_in(e, globals)),
                    exit_code: s.exit_code,
                    outputs: s.outputs.clone(),
                    prompt: (s.status == StepStatus::Waiting)
                        .then(|| workflow.and_then(|w| w.steps[i].prompt.as_deref()))
                        .flatten()
                        .map(|p| state.render_prompt_in(p, i)),
                    // A `uses:` step's outputs come from its child run (`uses.waits_on` says what
                    // the report there needs).
                    required_outputs: if s.status == StepStatus::Waiting && !state.is_uses(i) {
                        state.required_outputs(i)
                    } else {
                        Vec::new()
                    },
                    expected_outputs: if s.status == StepStatus::Waiting && !state.is_uses(i) {
                        expected_outputs(state, i)
                    } else {
                        Vec::new()
                    },
                    checks: gate.0,
                    checks_without_value: gate.1,
                    reported_by: s.reported_by.clone(),
                    skipped_by: s.skipped_by.clone(),
                    start_requested_by: s.start_requested_by.clone(),
                    worker: if s.status != StepStatus::Running {
                        None
                    } else if let Some(c) = &s.claimed {
                        (c.attempt == s.attempts).then(|| format!("{} on {}", c.worker, c.host))
                    } else {
                        // A workflow's steps run in its driver: a worker driving it runs them.
                        worker_driving(state)
                    },
                    lease_lapsed: false,
                    holder_gone: false,
                    interrupted: status == RunStatus::Interrupted
                        && (s.status == StepStatus::Running || s.checking),
                    checking_condition: s.checking,
                    compensation: match s.compensation_left {
                        Some(crate::decide::CompensationLeft::CutOff) => {
                            Some(CompensationView::CutOff)
                        }
                        Some(crate::decide::CompensationLeft::NotRun) => {
                            Some(CompensationView::NotRun)
                        }
                        None if s.compensation_failed => Some(CompensationView::Failed),
                        None => None,
                    },
                    awaits_start: ready_to_start.contains(&i),
                    waits_for_slot: slot_wait(i).map(|h| SlotWaitView::of(state, h)),
                    starts_next: starts_next.contains(&i),
                    waits_for_tags: if tagged.contains(&i) {
                        state.runs_on(i).to_vec()
                    } else {
                        Vec::new()
                    },
                    agent_result: s.agent_result.as_ref().map(AgentResultView::of),
                    output_tail: if s.status == StepStatus::Failed {
                        s.output_tail.clone()
                    } else {
                        String::new()
                    },
                    condition: phase(i)
                        .map(|p| p.condition.clone().unwrap_or_else(|| "auto".into())),
                    parallel: phase(i).map(|p| p.parallel),
                    start_requested: s.status == StepStatus::Pending
                        && state.start_requested.contains(&s.name),
                    agents: phase(i).map(|p| p.agents.clone()).unwrap_or_default(),
                    profiles: phase(i).map(|p| p.profiles.clone()).unwrap_or_default(),
                    criteria: phase(i)
                        .map(|p| {
                            // A `foreach:` phase's criteria are met by its items: met when every
                            // item that ran met it (the phase itself records none).
                            let units: Vec<&str> = if s.items.is_some() {
                                state
                                    .item_units(i)
                                    .filter(|&j| state.steps[j].status != StepStatus::Skipped)
                                    .map(|j| state.steps[j].name.as_str())
                                    .collect()
                            } else {
                                vec![s.name.as_str()]
                            };
                            p.success_criteria
                                .iter()
                                .map(|c| {
                                    // An item as a person reads it: templates rendered. A check
                                    // as its prompt shows it (`render_check_in`): as it will
                                    // run, the run's values where it has them, and apart from
                                    // the command, a template with no value said in words.
                                    // Before, the status showed its templates raw while the
                                    // prompt spliced "(output `doc`, not given yet)" into it.
                                    let (criterion, without_value) = match c {
                                        crate::definition::Criterion::Check { check } => {
                                            let (shown, without) = state.render_check_in(check, i);
                                            (format!("check: {shown}"), without)
                                        }
                                        crate::definition::Criterion::Item(_) => {
                                            (state.render_prompt_in(&c.label(), i), Vec::new())
                                        }
                                    };
                                    CriterionView {
                                        criterion,
                                        without_value,
                                        check: matches!(
                                            c,
                                            crate::definition::Criterion::Check { .. }
                                        ),
                                        met: !units.is_empty()
                                            && units.iter().all(|u| {
                                                state
                                                    .criteria_met
                                                    .get(*u)
                                                    .is_some_and(|m| m.contains(&c.label()))
                                            }),
                                    }
                                })
                                .collect()
                        })
                        .unwrap_or_default(),
                    if_: state.definition(i).and_then(|d| d.if_.as_ref()).map(|c| {
                        let check = s.condition.as_ref();
                        IfView {
                            condition: c.text(),
                            holds: check.filter(|c| c.error.is_none()).map(|c| c.holds),
                            values: check.map(|c| c.values.clone()).unwrap_or_default(),
                            exit_code: check.and_then(|c| c.exit_code),
                            error: check.and_then(|c| c.error.clone()),
                        }
                    }),
                    foreach: state
                        .definition(i)
                        .and_then(|d| d.foreach.as_ref())
                        .map(|f| {
                            let units = state.item_units(i);
                            let count = |status| {
                                units
                                    .clone()
                                    .filter(|&j| state.steps[j].status == status)
                                    .count()
                            };
                            ForeachView {
                                over: f.text(),
                                items: s.items.as_ref().map(Vec::len),
                                completed: count(StepStatus::Completed),
                                skipped: count(StepStatus::Skipped),
                            }
                        }),
                    item: s.item.as_ref().map(|of| ItemView {
                        of: of.parent.clone(),
                        index: of.index,
                        value: of.value.clone(),
                    }),
                    uses: state
                        .definition(i)
                        .and_then(|d| d.uses.as_ref())
                        .map(|u| UsesView {
                            workflow: s
                                .child
                                .as_ref()
                                .map_or_else(|| u.clone(), |c| c.workflow.clone()),
                            run_id: s.child.as_ref().map(|c| c.run_id.clone()),
                            child_ended: None,
                            waits_on: None,
                            waits_for_tags: Vec::new(),
                            child_interrupted: None,
                        }),
                }
            })
            .collect(),
        next: Vec::new(),
        // Stopped by its time limit (an older cortex's log: paused, or failed with a `uses:`
        // child that limit cut, folded as that stop).
        timed_out: state.timed_out().then(|| state.time_limit()),
        kept_time_limit: None,
        cut_by_limit: state
            .timed_out()
            .then(|| state.cut_by_time_limit().or_else(|| child_cut.clone()))
            .flatten(),
        child_cut_by_limit: child_cut.map(|(step, _)| step),
        failed_child_resumes: matches!(state.phase, RunPhase::Paused { .. })
            .then(|| {
                state
                    .steps
                    .iter()
                    .find(|s| s.status == StepStatus::Failed)
                    .and_then(|s| s.child.as_ref())
                    .filter(|c| !c.finished)
                    .map(|c| c.run_id.clone())
            })
            .flatten(),
        // Worked out only where a resume is suggested: it plans the resume.
        resume_secret_inputs: if state.outcome().is_some() {
            Vec::new()
        } else {
            crate::plan::resume_secret_inputs(state, &crate::event::ResumeMode::Continue)
        },
        secret_inputs: to_give,
        // Stopped mid-rollback too: resume goes on with the compensations, not from the
        // resume point.
        rolling_back: state.rollback.is_some() && state.outcome().is_none(),
        waits_on_people: waits_on_people(state),
        submitted: state.submitted && !driver_alive && status == RunStatus::Waiting,
        only_workers: only_workers && !for_tags.is_empty(),
        unheld_secret_output: unheld_secret_output(state),
        limit_cut_unheld: limit_cut_unheld(state),
        held_retry: held_retry(state),
        given_limit: state.timeout_seconds.filter(|limit| {
            state
                .start
                .as_ref()
                .is_some_and(|s| s.parent.is_none() && s.config.timeout_seconds != *limit)
        }),
        cut_child_ended: None,
        secret_foreach: secret_foreach(state),
        unstartable_child: unstartable_child(state),
        unlistable_foreach: unlistable_foreach(state),
        undecidable_condition: undecidable_condition(state),
        unreported_output: unreported_output(state),
        failed_condition_command: failed_condition_command(state),
        child_unlistable_foreach: None,
        child_reruns_from: None,
        unpassable: unpassable(state),
        malformed_output: malformed_output(state),
        repeated_recovery: state.recovery_repeated(),
        definition_now: DefinitionNow::AsStarted,
        verified: None,
        unverified: None,
        restarts: restarts(state),
        rollback_enabled: start.is_none_or(|s| s.config.enable_rollback),
        completed_in_order: state
            .completion_order
            .iter()
            .filter_map(|n| {
                let i = state.step_index(n)?;
                let s = &state.steps[i];
                (s.item.is_none() && s.status == StepStatus::Completed).then(|| {
                    let undo = state.definition(i).is_some_and(|d| d.rollback.is_some());
                    (s.name.clone(), undo)
                })
            })
            .collect(),
        waits_for_tags: for_tags,
        started_from: start.map_or_else(String::new, |s| match s.source.strip_prefix("builtin:") {
            Some(builtin) => builtin.to_string(),
            None if s.source.is_empty() => s.name.clone(),
            None => s.source.clone(),
        }),
    };
    view.next = super::next_actions(&view);
    view
}

/// What `resume --retry` and `--skip` of a paused workflow run would run again that had
/// completed (`StatusView::restarts`), as the resume plan has it.
fn restarts(state: &RunState) -> Restarts {
    let paused = matches!(state.phase, RunPhase::Paused { .. });
    // A plain resume of a stopped or cut-short run goes on from the resume point too: with
    // checkpoints off that is the start (its hint must not say "from the resume point").
    let going_on = state.outcome().is_none()
        && state.rollback.is_none()
        && matches!(state.phase, RunPhase::Stopped | RunPhase::Running);
    if !(paused || going_on) {
        return Restarts::default();
    }
    let completed = |name: &str| {
        state
            .steps
            .iter()
            .any(|s| s.name == name && s.status == StepStatus::Completed)
    };
    let runs = |mode: crate::event::ResumeMode| -> Vec<String> {
        let Ok(plan) = crate::plan::preview_resume(state, mode, None, &|_| None) else {
            return Vec::new();
        };
        use crate::plan::Action;
        let run: Vec<&crate::plan::PlannedStep> = plan
            .iter()
            .filter(|p| matches!(p.action, Action::Run | Action::Rerun | Action::Wait))
            .collect();
        if run.iter().any(|p| completed(&p.name)) {
            run.iter().map(|p| p.name.clone()).collect()
        } else {
            Vec::new()
        }
    };
    let (retry, skip, resume) = if state.is_scenario() {
        // A scenario's `--retry` runs its failed phases again, as a plain resume does.
        let failed = state.steps.iter().any(|s| s.status == StepStatus::Failed);
        (
            if failed {
                runs(crate::event::ResumeMode::Retry)
            } else {
                Vec::new()
            },
            if paused {
                runs(crate::event::ResumeMode::Skip)
            } else {
                Vec::new()
            },
            runs(crate::event::ResumeMode::Continue),
        )
    } else if paused {
        (
            runs(crate::event::ResumeMode::Retry),
            runs(crate::event::ResumeMode::Skip),
            Vec::new(),
        )
    } else {
        (
            Vec::new(),
            Vec::new(),
            runs(crate::event::ResumeMode::Continue),
        )
    };
    let first = state.steps.first().map(|s| s.name.as_str());
    Restarts {
        from_start: retry
            .first()
            .or(skip.first())
            .or(resume.first())
            .is_some_and(|n| Some(n.as_str()) == first),
        resume,
        checkpoints_off: state
            .start
            .as_ref()
            .is_some_and(|s| !s.config.enable_checkpoints),
        checkpointed: state.checkpoints.iter().map(|c| c.step.clone()).collect(),
        retry,
        skip,
    }
}

/// The failed step of a paused run (the first, in definition order), if the run is paused.
fn paused_on_failure(state: &RunState) -> Option<usize> {
    if !matches!(state.phase, RunPhase::Paused { .. }) {
        return None;
    }
    state
        .steps
        .iter()
        .position(|s| s.status == StepStatus::Failed)
}

/// Whether the failed step of a paused run (a workflow's, a scenario's) reads, in what it runs, secret outputs the
/// log keeps as `***`: the step to run again so that a resume holds them all (the earliest
/// that records one), and whether a step waiting for a report stands between one of them
/// and the failed step (then that one's, and no resume helps: `StatusView::unheld_secret_output`).
/// Every output it reads counts, not the first: a report's output held by the process that
/// drove on from the report was read first, and `--from` that report was offered while the
/// error named another output across the wait — run again, it failed the same way.
fn unheld_secret_output(state: &RunState) -> Option<(String, bool)> {
    unheld_secret_output_of(state, paused_on_failure(state)?)
}

/// A retry held by a time-limit stop (`StatusView::held_retry`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldRetry {
    pub step: String,
    /// Its backoff, in ms: the most a resume waits before it runs the attempt.
    pub backoff_ms: u64,
    /// How long its last attempt ran, in ms (the log's times).
    pub ran_ms: u64,
}

/// `StatusView::held_retry`: of a run its time limit stopped, the unit whose retry was held
/// with the longest backoff.
fn held_retry(state: &RunState) -> Option<HeldRetry> {
    if !state.timed_out() {
        return None;
    }
    let at = |t: &Option<String>| humantime::parse_rfc3339(t.as_deref()?).ok();
    (0..state.steps.len())
        .filter(|&i| retry_held(state, i))
        .map(|i| {
            let s = &state.steps[i];
            let ran = (|| at(&s.ended_at)?.duration_since(at(&s.started_at)?).ok())()
                .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
            HeldRetry {
                step: s.name.clone(),
                backoff_ms: s.retry_delay_ms,
                ran_ms: ran,
            }
        })
        .max_by_key(|h| h.backoff_ms)
}

/// `StatusView::limit_cut_unheld`: of a run its time limit stopped, the steps (phases) it cut
/// that read a secret output no process holds and no wait for a report stands before (the
/// first such, in definition order), with the step that records it. Before, the first
/// suggestion was `resume --timeout`, which failed on the secret (the run failed), and the
/// failure's `--from` carried no longer limit: the report drove the step under the same limit
/// again, and an agent following `next` went round for ever.
fn limit_cut_unheld(state: &RunState) -> Option<(String, String)> {
    if !state.timed_out() {
        return None;
    }
    state
        .cut_by_limit()
        .find_map(|i| match unheld_secret_output_of(state, i)? {
            (from, false) => Some((from, state.steps[i].name.clone())),
            (_, true) => None,
        })
}

/// `unheld_secret_output` of the step (phase) at `failed`, which a resume would run again.
fn unheld_secret_output_of(state: &RunState, failed: usize) -> Option<(String, bool)> {
    let step = state.definition(failed)?;
    // Wherever it reads them: its `if:` and its gates fail on them as its command does.
    let producers: Vec<(usize, bool)> = step
        .output_reads()
        .into_iter()
        .filter_map(|(of, key)| {
            let p = state.step_index(&of)?;
            let recorded = state.steps[p].outputs.get(&key)?;
            if recorded != crate::event::REDACTED {
                return None;
            }
            let from = producer(state, &of)?;
            // A `uses:` step's child that waits for a report is such a wait too: `--from` it
            // starts a child that waits again.
            // In a scenario, a phase waiting for a report on the way from one to the other by
            // `after:` (`execute::wait_between`); one beside them does not stand between.
            let crossing = crate::execute::wait_between(state, p, failed).is_some()
                || state.waits_within(from).is_some();
            Some((from, crossing))
        })
        .collect();
    let (from, crossing) = producers
        .iter()
        .find(|(_, crossing)| *crossing)
        .or_else(|| producers.iter().min_by_key(|(from, _)| *from))?;
    Some((state.steps[*from].name.clone(), *crossing))
}

/// The paused run's failed `uses:` step whose child run could not be started (no child linked,
/// its attempt ended `could not start`): the step, the recorded error, and the step whose
/// output made the `with:` values the error names (`made_by`), to run again (`--from`). A
/// retry renders the same `with:` from the same log and fails the same way (DESIGN: such a
/// child is never retried); before, it was offered no `--from`, where a `foreach:` list
/// that is no list (`unlistable_foreach`) was.
fn unstartable_child(state: &RunState) -> Option<(String, String, Option<String>)> {
    use crate::definition::template::scan;
    let failed = paused_on_failure(state)?;
    let step = &state.steps[failed];
    let error = step.error.as_deref()?;
    let definition = state.definition(failed)?;
    if definition.uses.is_none()
        || step.child.is_some()
        || !error.starts_with(crate::event::AttemptEnd::SPAWN_FAILED)
    {
        return None;
    }
    // The entries whose values the child refused: each of its problems starts `input
    // \`NAME\`: ` (`validate::resolve_inputs`), after the error's own `: ` or the `; ` between
    // two problems. A missing or unknown input is the definition's: no step's output helps.
    let refused = definition.with.iter().filter(|(name, _)| {
        [": ", "; "]
            .iter()
            .any(|before| error.contains(&format!("{before}input `{name}`: ")))
    });
    let reads: Vec<_> = refused
        .flat_map(|(_, value)| scan(&value.0))
        .filter_map(|o| o.reference.ok())
        .collect();
    Some((step.name.clone(), error.to_string(), made_by(state, &reads)))
}

/// The step (phase) that recorded `unit`'s outputs: `unit` itself, or for an item of a
/// `foreach:` step, that step (its items run again with it).
fn producer(state: &RunState, unit: &str) -> Option<usize> {
    let i = state.step_index(unit)?;
    Some(state.parent_of(i).unwrap_or(i))
}

/// The earliest step (phase) whose outputs `reads` read (`producer`): running it again
/// (`resume --from`), and what follows, is what can give a value made of them another one.
/// One answer for every value a failed step took from the log and could not use — its
/// `foreach:` list, its `if:`, its `with:` — where the same log gives a retry the same value.
fn made_by<'r>(
    state: &RunState,
    reads: impl IntoIterator<Item = &'r crate::definition::template::Reference>,
) -> Option<String> {
    use crate::definition::template::Reference;
    reads
        .into_iter()
        .filter_map(|r| match r {
            Reference::StepOutput { step, .. } => producer(state, step),
            _ => None,
        })
        .min()
        .map(|i| state.steps[i].name.clone())
}

/// The failed step (phase) whose `foreach:` list could not be read (its `foreach_failed`,
/// recorded as `foreach: WHY`), unless it is read from a secret (`secret_foreach` says that),
/// and the earliest step whose output its template reads (`made_by`): running that again
/// (`resume --from`) is what can give the list another value. A retry renders the same
/// template from the same log and fails the same way; it was offered first.
fn unlistable_foreach(state: &RunState) -> Option<(String, Option<String>)> {
    use crate::definition::template::scan;
    if !matches!(state.phase, RunPhase::Paused { .. }) || secret_foreach(state) {
        return None;
    }
    let (index, step) = state.steps.iter().enumerate().find(|(_, s)| {
        s.status == StepStatus::Failed
            && s.item.is_none()
            && s.error
                .as_deref()
                .is_some_and(|e| e.starts_with("foreach: "))
    })?;
    let producer = match &state.definition(index)?.foreach {
        Some(crate::definition::Foreach::Template(text)) => {
            let reads: Vec<_> = scan(text)
                .into_iter()
                .filter_map(|o| o.reference.ok())
                .collect();
            made_by(state, &reads)
        }
        _ => None,
    };
    Some((step.name.clone(), producer))
}

/// The failed step (phase) of a paused run whose `if:` expression could not be decided (its
/// `condition_checked` with an error), and the earliest step whose output the expression
/// reads (`made_by`): running that again (`resume --from`) is what can give the condition
/// other values. Its definition and inputs are the run's own, so a retry decides nothing
/// new. A command condition (`if: {run: ...}`) that could not run is left out: run again,
/// it may.
fn undecidable_condition(state: &RunState) -> Option<(String, Option<String>)> {
    let failed = paused_on_failure(state)?;
    let step = &state.steps[failed];
    let check = step.condition.as_ref()?;
    check.error.as_ref()?;
    let Some(crate::definition::IfCondition::Expression(text)) = &state.definition(failed)?.if_
    else {
        return None;
    };
    let expr = crate::definition::expr::parse(text).ok()?;
    let reads = crate::definition::expr::references(&expr);
    Some((
        step.name.clone(),
        made_by(state, reads.into_iter().map(|(r, _)| r)),
    ))
}

/// The earliest step (phase) whose report (by a person or an agent, not a command's run)
/// left out an output the failed step of a paused run reads, and that output's key: what it
/// read was empty, and a `--retry` reads it empty again from the same log — running that step
/// again (`resume --from`) has it reported again (`made_by`'s answer for such a value).
fn unreported_output(state: &RunState) -> Option<(String, String)> {
    let failed = paused_on_failure(state)?;
    let step = state.definition(failed)?;
    step.output_reads()
        .into_iter()
        .filter_map(|(of, key)| {
            let unit = &state.steps[state.step_index(&of)?];
            let left_out = unit.status == StepStatus::Completed
                && unit.reported_by.is_some()
                && !unit.outputs.contains_key(&key);
            left_out.then(|| Some((producer(state, &of)?, key)))?
        })
        .min_by_key(|(from, _)| *from)
        .map(|(from, key)| (state.steps[from].name.clone(), key))
}

/// The failed step (phase) of a paused run whose `if: {run: ...}` command could not decide
/// (`condition_checked` with an error): a retry runs the same command from the run's kept
/// definition (`StatusView::failed_condition_command`).
fn failed_condition_command(state: &RunState) -> Option<String> {
    let failed = paused_on_failure(state)?;
    let step = &state.steps[failed];
    step.condition.as_ref()?.error.as_ref()?;
    matches!(
        state.definition(failed)?.if_,
        Some(crate::definition::IfCondition::Command(_))
    )
    .then(|| step.name.clone())
}

/// Whether the paused run's failed step could not start for a value Linux does not pass
/// (`AttemptEnd::unpassable`, as recorded).
fn unpassable(state: &RunState) -> bool {
    matches!(state.phase, RunPhase::Paused { .. })
        && state.steps.iter().any(|s| {
            s.status == StepStatus::Failed
                && s.error
                    .as_deref()
                    .is_some_and(crate::event::AttemptEnd::unpassable)
        })
}

/// Whether the paused run's failed step is a `run:` step whose `$CORTEX_OUTPUT` was
/// malformed (`StatusView::malformed_output`).
fn malformed_output(state: &RunState) -> bool {
    let Some(failed) = paused_on_failure(state) else {
        return false;
    };
    let malformed = state.steps[failed]
        .error
        .as_deref()
        .is_some_and(|e| e.contains("a malformed $CORTEX_OUTPUT is not retried"));
    let failed = state.parent_of(failed).unwrap_or(failed);
    malformed && state.definition(failed).is_some_and(|d| d.run.is_some())
}

/// Whether the failed step of a paused workflow run has a `foreach:` list read from a secret
/// (a secret input, an output recorded as `***`), or gives one with `with:` to an input its
/// child's `foreach:` reads (the child's definition from the run's snapshot of its `uses:`
/// graph): the step refuses it every time (`Runner::read_items`), so `--retry` fails the same
/// way. Before, `--retry --input NAME=VALUE` was offered.
fn secret_foreach(state: &RunState) -> bool {
    use crate::definition::template::{Reference, scan};
    let Some(failed) = paused_on_failure(state) else {
        return false;
    };
    let failed = state.parent_of(failed).unwrap_or(failed);
    let (Some(step), Some(start)) = (state.definition(failed), state.start.as_ref()) else {
        return false;
    };
    let secret = |text: &str| {
        scan(text).iter().any(|o| match &o.reference {
            Ok(Reference::Input(n)) => start.secret_inputs.contains(n),
            Ok(Reference::StepOutput { step, key }) => state
                .step(step)
                .and_then(|s| s.outputs.get(key))
                .is_some_and(|v| v == crate::event::REDACTED),
            _ => false,
        })
    };
    let template = |f: &Option<crate::definition::Foreach>| match f {
        Some(crate::definition::Foreach::Template(t)) => Some(t.clone()),
        _ => None,
    };
    if template(&step.foreach).is_some_and(|t| secret(&t)) {
        return true;
    }
    let Some(uses) = step.uses.as_deref() else {
        return false;
    };
    let looped = foreach_inputs(start, uses, &mut std::collections::BTreeSet::new());
    step.with
        .iter()
        .any(|(k, v)| looped.contains(k) && secret(&v.0))
}

/// The inputs of the workflow `uses` names (in the run's snapshot of its `uses:` graph) that
/// end in a `foreach:` list: read by one of its steps' `foreach:`, or given with `with:` to
/// such an input of a workflow it runs in turn.
fn foreach_inputs(
    start: &crate::event::RunStarted,
    uses: &str,
    seen: &mut std::collections::BTreeSet<String>,
) -> std::collections::BTreeSet<String> {
    use crate::definition::template::{Reference, scan};
    let mut out = std::collections::BTreeSet::new();
    if !seen.insert(uses.to_string()) {
        return out;
    }
    let Some(child) = start.uses.get(uses).and_then(|u| {
        serde_json::from_value::<crate::definition::Workflow>(u.definition.clone()).ok()
    }) else {
        return out;
    };
    let inputs = |text: &str| {
        scan(text)
            .into_iter()
            .filter_map(|o| match o.reference {
                Ok(Reference::Input(n)) => Some(n),
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    for s in &child.steps {
        if let Some(crate::definition::Foreach::Template(t)) = &s.foreach {
            out.extend(inputs(t));
        }
        if let Some(inner) = s.uses.as_deref() {
            let below = foreach_inputs(start, inner, seen);
            for (k, v) in &s.with {
                if below.contains(k) {
                    out.extend(inputs(&v.0));
                }
            }
        }
    }
    // A workflow run twice side by side is walked again; only a cycle stops the walk.
    seen.remove(uses);
    out
}

/// `NAME on HOST` when a worker drives the run's current session (a workflow's steps run in
/// its driver).
fn worker_driving(state: &RunState) -> Option<String> {
    let name = state.driven_by.as_deref()?.strip_prefix("worker:")?;
    let host = state.driver.as_ref().map_or("", |d| d.host.as_str());
    Some(format!("{name} on {host}"))
}

/// The phases of a scenario paused on a failed phase that were ready and never started
/// (`StatusView::ready_not_started`): pending, their condition met (a manual one only once
/// its start was asked).
fn ready_not_started(state: &RunState) -> Vec<String> {
    let paused_on_failure = matches!(state.phase, RunPhase::Paused { .. })
        && state.steps.iter().any(|s| s.status == StepStatus::Failed);
    if !state.is_scenario() || !paused_on_failure {
        return Vec::new();
    }
    (0..state.steps.len())
        .filter(|&i| {
            state.steps[i].status == StepStatus::Pending && crate::plan::condition_met(state, i)
        })
        .map(|i| state.steps[i].name.clone())
        .collect()
}
