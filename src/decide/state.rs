//! Run state and `evolve`: the fold of a run's events. No business logic here, only
//! bookkeeping of facts that the decider already judged.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::definition::{Scenario, Workflow};
use crate::event::{
    AgentResult, AttemptEnd, ConditionCheck, Driver, Event, Outcome, Recorded, ResumeMode, RunKind,
    RunStarted, Stage, Stamped,
};

/// Where a step is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    Pending,
    /// A retry is scheduled: the next attempt runs after a delay.
    Ready,
    Running,
    /// An external step waits for `cortex workflow step complete|fail`.
    Waiting,
    Completed,
    Failed,
    Skipped,
    RolledBack,
    /// The attempt ended without an outcome (stop, or its driver died); it runs again on resume.
    Stopped,
}

impl StepStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            StepStatus::Pending => "pending",
            StepStatus::Ready => "ready",
            StepStatus::Running => "running",
            StepStatus::Waiting => "waiting",
            StepStatus::Completed => "completed",
            StepStatus::Failed => "failed",
            StepStatus::Skipped => "skipped",
            StepStatus::RolledBack => "rolled_back",
            StepStatus::Stopped => "stopped",
        }
    }

    /// Done for the purpose of moving on: completed or skipped.
    pub fn is_done(self) -> bool {
        matches!(self, StepStatus::Completed | StepStatus::Skipped)
    }
}

/// One step's projection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepState {
    pub name: String,
    pub status: StepStatus,
    /// Attempts started, over the whole run (interrupted ones included).
    pub attempts: u32,
    /// Failed attempts counted against the retry budget since the last `resume --retry`.
    pub budget_failures: u32,
    /// How many times the step completed (more than once only after `--from`/`--rollback-to`).
    pub completions: u32,
    pub outputs: BTreeMap<String, String>,
    pub started_at: Option<String>,
    pub ended_at: Option<String>,
    pub error: Option<String>,
    pub output_tail: String,
    pub exit_code: Option<i32>,
    pub retry_delay_ms: u64,
    /// When the retry waiting out `retry_delay_ms` was scheduled (`retry_scheduled`'s time):
    /// its backoff counts from then, however many drivers come and go (`backoff_left`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_scheduled_at: Option<String>,
    pub compensation_failed: bool,
    /// Its compensation was cut off, or never ran, when the run was aborted mid-rollback
    /// (`rollback_finished` with `cut_off` / `not_run`): it may be half-undone, or not undone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compensation_left: Option<CompensationLeft>,
    /// Who reported the latest outcome of an external step or phase, and their message.
    #[serde(default)]
    pub reported_by: Option<crate::event::Operator>,
    /// Who skipped it (`resume --skip`), and their message: never its reporter.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped_by: Option<crate::event::Operator>,
    /// Who asked for the phase to start (`orchestrate start`, `run --start`), and their
    /// message: the latest request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_requested_by: Option<crate::event::Operator>,
    /// The file holding the whole output of its latest attempt that kept one (`cortex logs`).
    #[serde(default)]
    pub log: Option<String>,
    /// What the agent runner (Claude Code) reported for the latest attempt it ran.
    #[serde(default)]
    pub agent_result: Option<AgentResult>,
    /// The runner's session the next attempt resumes (`claude --resume`): that of the latest
    /// attempt with a result, until the step completes, is skipped or is run again from
    /// scratch (`resume --from`), or an attempt given it shows it cannot be resumed
    /// (`lost_session`, or an error result of no turns).
    #[serde(default)]
    pub resume_session: Option<String>,
    /// What checking the step's `if:` found on this pass through it (none: not checked yet).
    /// Kept across retries and resumes: the check is a recorded fact, never made again for
    /// the same pass.
    #[serde(default)]
    pub condition: Option<ConditionCheck>,
    /// Its `if: {run:}` command was started (`condition_started`) and what it found is not
    /// recorded yet: under way while its driver lives, cut short if it died (the run is
    /// `interrupted`). Cleared when the check is recorded, the step moves on, or the session
    /// ends (a pause, a stop, a resume, the run's end).
    #[serde(default)]
    pub checking: bool,
    /// A `foreach:` step whose list was read: its items, whose units follow it.
    #[serde(default)]
    pub items: Option<Vec<crate::definition::Item>>,
    /// One item of a `foreach:` step.
    #[serde(default)]
    pub item: Option<ItemOf>,
    /// A `uses:` step: the child run of its latest attempt.
    #[serde(default)]
    pub child: Option<ChildLink>,
    /// The worker that claimed its latest claimed attempt (`attempt_claimed`).
    #[serde(default)]
    pub claimed: Option<Claimed>,
}

/// Which worker, on which host, claimed which attempt of a step or phase.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claimed {
    pub attempt: u32,
    pub worker: String,
    pub host: String,
}

/// Which item of which `foreach:` step a unit is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemOf {
    pub parent: String,
    /// The item's position in the list, from 0.
    pub index: usize,
    pub value: crate::definition::Item,
}

/// The child run of a `uses:` step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChildLink {
    pub run_id: String,
    pub workflow: String,
    /// The attempt of the step that started it.
    pub attempt: u32,
    /// Its end was recorded as an attempt's end and it is over for good: the next attempt
    /// starts a new child run (otherwise it resumes this one).
    pub finished: bool,
    /// An attempt of the step already ended with this child's state (it failed with it): a
    /// child that has ended for good since, other than completed, has nothing new to give the
    /// step, and its next attempt starts a new child run (`plan::child_plan_with`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub reported: bool,
}

/// How the engine runs a step's work itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgentRun<'a> {
    /// The agent's `command`, with the prompt on standard input.
    Command(&'a str),
    /// Claude Code, as this agent.
    Claude(&'a str),
}

/// A resume point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Checkpoint {
    pub seq: u64,
    pub step: String,
    pub index: usize,
    /// How many steps were done (completed or skipped) at this checkpoint.
    pub steps_done: usize,
    pub time: String,
}

/// How the reason of a run paused by its time limit begins.
const TIME_LIMIT: &str = "the run exceeded its time limit";

/// The reason recorded when a driver pauses a run at its time limit of `limit` seconds.
pub fn time_limit_reason(limit: u64, inherited: bool) -> String {
    if inherited {
        // A child run (`uses:`) is driven in its parent's session: its limit was what was
        // left of its parent's.
        return format!(
            "{TIME_LIMIT} of {limit} s, what was left of its parent run's when this driving session of it began (a `uses:` child is driven in its parent's session, within the parent's limit)"
        );
    }
    // The limit in force may come from `resume --timeout` or from `timeout_seconds` (the
    // configuration at `run` or at the resume): both are named, not only the setting.
    // The limit is counted anew by each driving session (DESIGN: "`timeout_seconds` bounds a
    // driving session"): said so, and from when.
    format!(
        "{TIME_LIMIT} of {limit} s, counted from the start of this driving session (`run` or the latest resume; set by `resume --timeout`, else `timeout_seconds` in cortex.config.json)"
    )
}

/// A run stops (`run_stopped`): by an operator (its `stop_requested` says who), or by its
/// time limit (`limit`: the words recorded).
fn stop_at(state: &mut RunState, limit: Option<String>) {
    state.phase = RunPhase::Stopped;
    state.stop_requested = false;
    state.stop_requested_at = None;
    state.abort_requested = None;
    if limit.is_some() {
        // No operator stopped it this time, whoever stopped it before.
        state.stopped_by = None;
    }
    state.stopped_by_limit = limit;
}

/// Whether a `run_paused` of an older cortex (before `run_stopped.time_limit`) recorded a cut
/// by the time limit: the run's own (`time_limit_reason`), or its `uses:` step's child's,
/// which the same deadline cut (the step failed with the child's pause, and the parent paused
/// on that failure). Only such logs are read so; a cortex of today records the stop.
fn legacy_time_limit(state: &RunState, step: Option<&str>, reason: &str) -> bool {
    match step {
        None => reason.starts_with(TIME_LIMIT),
        Some(step) => state.step(step).is_some_and(child_cut),
    }
}

/// A `uses:` step failed by its child run's time-limit pause (an older cortex's log).
fn child_cut(s: &StepState) -> bool {
    s.status == StepStatus::Failed
        && s.child.as_ref().is_some_and(|c| !c.finished)
        && s.error
            .as_deref()
            .is_some_and(|e| e.starts_with("child run ") && e.contains(&format!(": {TIME_LIMIT}")))
}

/// A rollback in progress.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rollback {
    pub reason: String,
    /// Steps still to compensate, in order.
    pub pending: Vec<String>,
    pub failed: Vec<String>,
    pub resume_after: Option<String>,
    /// Decided by a report (`step fail` on a step with `on_failure: rollback`), and no driver
    /// has resumed it since: it waits for one, nothing was cut short.
    #[serde(default)]
    pub by_report: bool,
}

/// What an abort left of a rollback under way (`rollback_finished` with `cut_off` or
/// `not_run`): the run ended with steps not undone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RollbackLeft {
    pub reason: String,
    /// The compensation the abort cut off mid-command: its step may be half-undone.
    pub cut_off: Option<String>,
    /// The compensations that never ran, in the order they would have.
    pub not_run: Vec<String>,
    pub failed: Vec<String>,
}

/// Why a completed step was not undone by its run's rollback.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CompensationLeft {
    /// Its compensation was running when the run was aborted, and was ended mid-command.
    CutOff,
    /// Its compensation never ran: the run was aborted before its turn.
    NotRun,
}

/// The run's coarse state, as recorded in the log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "phase")]
pub enum RunPhase {
    NotStarted,
    Running,
    Waiting,
    RollingBack,
    Paused { reason: String },
    Stopped,
    Finished { outcome: Outcome },
}

/// An end a driving session came to, at the sequence number of the event that recorded it
/// (its `run_paused`, `run_stopped` or `run_finished`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionEnd {
    pub end: EndKind,
    pub seq: u64,
}

/// What a driving session came to: an outcome of the run (a pause on a failure is `Failed`),
/// or a stop by the run's time limit, which ends the session but not the run. Nobody chose
/// that stop, so it owes `on_failure` (`plan::notify_end`) as the other ends owe theirs, and
/// keeps it owed for itself, with its own status and document, whatever end follows it in the
/// session (an abort). Before, the stop was no end of the fold: an abort after it took its
/// owed page over, sent `aborted` with the aborted run's document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndKind {
    Outcome(Outcome),
    TimeLimit,
}

impl EndKind {
    /// The status the end is reported with: its outcome's, `stopped` for the time limit's.
    pub fn as_str(self) -> &'static str {
        match self {
            EndKind::Outcome(outcome) => outcome.as_str(),
            EndKind::TimeLimit => "stopped",
        }
    }
}

impl RunState {
    /// Note that the current session came to `end` at event `seq`, if it had not yet.
    fn reached(&mut self, end: EndKind, seq: u64) {
        if !self.session_ends.iter().any(|e| e.end == end) {
            self.session_ends.push(SessionEnd { end, seq });
        }
    }
}

/// Everything known about a run, folded from its events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunState {
    pub run_id: String,
    pub events: u64,
    pub head_hash: String,
    #[serde(skip)]
    pub start: Option<Arc<RunStarted>>,
    /// The steps to execute: a workflow's, or a scenario's phases as steps.
    #[serde(skip)]
    pub workflow: Option<Arc<Workflow>>,
    /// The scenario, for a scenario run (conditions, parallelism, agents, criteria).
    #[serde(skip)]
    pub scenario: Option<Arc<Scenario>>,
    /// The scenario's DAG, prepared once for scheduling.
    #[serde(skip)]
    pub phase_plan: Option<Arc<crate::plan::PhasePlan>>,
    /// Step (or phase) name → index, so folding an event does not walk the steps (hashed:
    /// a replay looks a name up for nearly every event).
    #[serde(skip)]
    pub index: Arc<std::collections::HashMap<String, usize>>,
    /// How many of `steps` are items of a `foreach:` step, counted with `index`: a step's
    /// place among the top-level steps is its index when none is (the progress line asks it
    /// for every event; counting them walked every step).
    #[serde(skip)]
    pub item_units: usize,
    pub definition_error: Option<String>,
    /// Manual phases an operator asked to start.
    pub start_requested: BTreeSet<String>,
    /// (agent, phase) pairs active now.
    pub active_agents: Vec<(String, String)>,
    /// Criteria met, per phase.
    pub criteria_met: BTreeMap<String, Vec<String>>,
    /// An operator asked a running driver to stop.
    pub stop_requested: bool,
    /// Recorded for workers to drive (`run --submit`) and not driven since.
    #[serde(default)]
    pub submitted: bool,
    /// An operator asked a running driver to abort the run (who, and why).
    #[serde(default)]
    pub abort_requested: Option<crate::event::Operator>,
    /// Who asked for the latest stop, why (their `--message`), and the signal that carried it
    /// if one did: a stopped run's status says so. Cleared by a resume.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped_by: Option<(crate::event::Operator, Option<String>)>,
    /// The words of the time limit that stopped the run (`run_stopped.time_limit`, or an
    /// older cortex's `run_paused` for it): no operator asked. Cleared by a resume.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped_by_limit: Option<String>,
    /// When the pending stop (or abort) request was recorded: while `stop_requested` holds,
    /// the driver has not acted on it yet (status says so). Cleared with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_requested_at: Option<String>,
    /// The run's time limit set by the latest resume (`resume --timeout`, or the
    /// configuration in force then); none: the one recorded at `run`.
    #[serde(default)]
    pub timeout_seconds: Option<u64>,
    /// How Claude Code runs from the latest resume that changed it (`run_resumed.claude`: the
    /// `agents.claude` block of the configuration in force then); none: as `run_started.claude`
    /// says. `claude_setup` applies it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claude_settings: Option<crate::definition::ClaudeConfig>,
    pub phase: RunPhase,
    pub steps: Vec<StepState>,
    pub pre_validated: bool,
    pub pre_problems: Vec<String>,
    pub post_passed: bool,
    pub post_problems: Vec<String>,
    /// Completed steps in completion order (compensated ones removed).
    pub completion_order: Vec<String>,
    pub checkpoints: Vec<Checkpoint>,
    pub rollback: Option<Rollback>,
    /// A rollback an abort left unfinished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback_left: Option<RollbackLeft>,
    pub started_at: Option<String>,
    pub ended_at: Option<String>,
    /// When the current driving session began (run start or latest resume).
    pub session_started_at: Option<String>,
    /// The sequence number of the event that began the current driving session (its
    /// `run_started` or latest `run_resumed`): notifications are due once per session.
    #[serde(default)]
    pub session_seq: u64,
    /// The ends the current driving session came to, in order, each once (`SessionEnd`): a
    /// pause on a failure (`failed`) or a stop by the time limit, then perhaps an abort. Each
    /// owes its own notifications.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub session_ends: Vec<SessionEnd>,
    pub driver: Option<Driver>,
    /// Who began the current driving session (the actor of its `run_started` or latest
    /// `run_resumed`): `worker:NAME` for a run a worker drives.
    #[serde(default)]
    pub driven_by: Option<String>,
    /// Who resumed the run last (`resume --actor`), and why (`--message`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resumed_by: Option<crate::event::Operator>,
    pub finish_reason: Option<String>,
    /// A completed child run its parent's rollback is undoing (`rollback_started` past its
    /// `run_finished completed`: `Command::RollBackForParent`): its parent run drives it, and
    /// its parent's status is where to go on from.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub rolled_back_for_parent: bool,
    /// The latest attempt of each `foreach:` item whose units a re-run removed (`--from`
    /// over its step): expanded again, an item goes on from there. An attempt number is the
    /// unit's fencing token and names its whole-output file: it never repeats for a unit.
    #[serde(default)]
    pub retired_attempts: BTreeMap<String, u32>,
    /// The latest resume of the run paused on a failure, and what the units it ran again had
    /// given before (`recovery_repeated` judges it); none before any, or once a resume is
    /// made of a run not paused on a failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_recovery: Option<super::recovery::Recovery>,
    /// Where the sequence stands (its position, how many units are done, which hold
    /// outputs), kept as events are folded: a cache of `steps`, never saved nor compared. Its
    /// parts are the fold's own; a state built otherwise leaves it at its default (unknown:
    /// every question walks the units).
    #[serde(skip)]
    pub tally: super::tally::Tally,
}

impl Default for RunState {
    fn default() -> Self {
        RunState {
            run_id: String::new(),
            events: 0,
            head_hash: String::new(),
            start: None,
            workflow: None,
            scenario: None,
            phase_plan: None,
            index: Arc::default(),
            item_units: 0,
            definition_error: None,
            start_requested: BTreeSet::new(),
            active_agents: Vec::new(),
            criteria_met: BTreeMap::new(),
            stop_requested: false,
            submitted: false,
            abort_requested: None,
            stopped_by: None,
            stopped_by_limit: None,
            stop_requested_at: None,
            timeout_seconds: None,
            claude_settings: None,
            phase: RunPhase::NotStarted,
            steps: Vec::new(),
            pre_validated: false,
            pre_problems: Vec::new(),
            post_passed: false,
            post_problems: Vec::new(),
            completion_order: Vec::new(),
            checkpoints: Vec::new(),
            rollback: None,
            rollback_left: None,
            started_at: None,
            ended_at: None,
            session_started_at: None,
            session_seq: 0,
            session_ends: Vec::new(),
            driver: None,
            driven_by: None,
            resumed_by: None,
            finish_reason: None,
            rolled_back_for_parent: false,
            retired_attempts: BTreeMap::new(),
            last_recovery: None,
            tally: super::tally::Tally::default(),
        }
    }
}

impl RunState {
    /// The number of the next attempt of unit `index`: after its latest, or that of the item
    /// it is again (`retired_attempts`, folded into its count when it was expanded). Numbers
    /// never repeat for a unit's name, so neither do the files named after them
    /// (`execute::attempt_log_name`).
    pub fn next_attempt(&self, index: usize) -> u32 {
        self.steps[index].attempts + 1
    }

    pub fn step_index(&self, name: &str) -> Option<usize> {
        self.index.get(name).copied()
    }

    pub fn step(&self, name: &str) -> Option<&StepState> {
        self.step_index(name).map(|i| &self.steps[i])
    }

    fn step_mut(&mut self, name: &str) -> Option<&mut StepState> {
        self.step_index(name).map(|i| &mut self.steps[i])
    }

    /// The first step that is not done, if any: the sequence's current position. A
    /// `foreach:` step whose items are running is not a position: its items are.
    pub fn current_step(&self) -> Option<usize> {
        super::tally::current_step(self)
    }

    /// The units that hold outputs, in no particular order (without a walk over every unit:
    /// `tally`).
    pub fn units_with_outputs(&self) -> impl Iterator<Item = &StepState> {
        let listed = super::tally::holding(self);
        let walked = listed
            .is_none()
            .then(|| self.steps.iter().filter(|s| !s.outputs.is_empty()));
        listed
            .into_iter()
            .flatten()
            .map(|&i| &self.steps[i])
            .chain(walked.into_iter().flatten())
    }

    /// The definition of step (or unit) `index`.
    pub fn definition(&self, index: usize) -> Option<&crate::definition::Step> {
        self.workflow.as_ref()?.steps.get(index)
    }

    /// The worker tags step or phase `index` asks for (`runs_on:`; none: any worker, or here).
    pub fn runs_on(&self, index: usize) -> &[String] {
        self.definition(index).map_or(&[], |d| &d.runs_on)
    }

    /// A `foreach:` step whose items were read and are not all done.
    pub fn is_open_parent(&self, index: usize) -> bool {
        let s = &self.steps[index];
        s.items.is_some() && !s.status.is_done()
    }

    /// The units of the items of `foreach:` step `index` (empty if its list was not read).
    pub fn item_units(&self, index: usize) -> std::ops::Range<usize> {
        let k = self.steps[index].items.as_ref().map_or(0, Vec::len);
        index + 1..index + 1 + k
    }

    /// The `foreach:` step that unit `index` is an item of.
    pub fn parent_of(&self, index: usize) -> Option<usize> {
        let of = self.steps.get(index)?.item.as_ref()?;
        self.step_index(&of.parent)
    }

    /// The run's progress as `status` counts it: its steps (phases) done (completed or
    /// skipped) of its steps, the definition's own; a `foreach:` step is one, its items shown
    /// under it, never counted beside it. History, the API's runs, the dashboard and MCP's
    /// progress read this. Before, a 4-step workflow with a 6-item `foreach:` read 10/10
    /// while `status` said "Steps: 4 total".
    pub fn progress(&self) -> (usize, usize) {
        let top = || self.steps.iter().filter(|s| s.item.is_none());
        (top().filter(|s| s.status.is_done()).count(), top().count())
    }

    /// The last unit of step `index`: the step itself, or its last item.
    pub fn block_end(&self, index: usize) -> usize {
        self.item_units(index).end.max(index + 1) - 1
    }

    /// Whether unit `index` may be started (or checked, or expanded) now as far as its own
    /// state goes: not done, not running, not failed.
    fn startable(&self, index: usize) -> bool {
        matches!(
            self.steps[index].status,
            StepStatus::Pending | StepStatus::Ready | StepStatus::Stopped
        )
    }

    /// Step `index` has an `if:` that must be checked before it runs: not checked on this
    /// pass, or its check could not decide (and an operator asked to go on).
    pub fn needs_condition(&self, index: usize) -> bool {
        self.definition(index).is_some_and(|d| d.if_.is_some())
            && self.steps[index]
                .condition
                .as_ref()
                .is_none_or(|c| c.error.is_some())
            && self.startable(index)
    }

    /// Step `index` has a `foreach:` whose list must be read before anything of it runs.
    pub fn needs_expansion(&self, index: usize) -> bool {
        self.definition(index).is_some_and(|d| d.foreach.is_some())
            && self.steps[index].items.is_none()
            && self.startable(index)
            && !self.needs_condition(index)
    }

    /// Step `index` runs a workflow (`uses:`).
    pub fn is_uses(&self, index: usize) -> bool {
        self.definition(index).is_some_and(|d| d.uses.is_some())
    }

    pub fn is_scenario(&self) -> bool {
        self.scenario.is_some()
    }

    /// Whether the run's last driving session recorded its end: it paused, stopped or
    /// finished (failed, aborted, completed). Such a run has no driver, whatever process
    /// its log names: a pid the log records is asked about only while its session is open.
    pub fn session_ended(&self) -> bool {
        matches!(
            self.phase,
            RunPhase::Paused { .. } | RunPhase::Stopped | RunPhase::Finished { .. }
        )
    }

    pub fn outcome(&self) -> Option<Outcome> {
        match self.phase {
            RunPhase::Finished { outcome } => Some(outcome),
            _ => None,
        }
    }

    /// How Claude Code runs the run's agents now: `run_started.claude` (which agents, and as
    /// what, as at `run`) run with the `agents.claude` block of the latest resume that
    /// changed it (`claude_settings`). None when no agent of the run runs with Claude Code.
    pub fn claude_setup(&self) -> Option<std::borrow::Cow<'_, crate::definition::ClaudeSetup>> {
        let setup = self.start.as_ref()?.claude.as_ref()?;
        Some(match &self.claude_settings {
            Some(settings) => {
                let mut now = setup.clone();
                now.apply(settings);
                std::borrow::Cow::Owned(now)
            }
            None => std::borrow::Cow::Borrowed(setup),
        })
    }

    /// The agent command that runs step `index`, if any.
    pub fn agent_command(&self, index: usize) -> Option<&str> {
        match self.agent_run(index)? {
            AgentRun::Command(command) => Some(command),
            AgentRun::Claude(_) => None,
        }
    }

    /// How the agent of step `index` (a phase: the agent chosen to run it) does its work, if
    /// the engine runs it: its command, or Claude Code.
    pub fn agent_run(&self, index: usize) -> Option<AgentRun<'_>> {
        let step = self.workflow.as_ref()?.steps.get(index)?;
        let agent = step.agent.as_ref()?;
        let start = self.start.as_ref()?;
        if let Some(command) = start.agents.get(agent).and_then(Option::as_deref) {
            return Some(AgentRun::Command(command));
        }
        start
            .claude
            .as_ref()
            .filter(|c| c.runs.contains(agent))
            .map(|_| AgentRun::Claude(agent.as_str()))
    }

    /// A step with nothing for the engine to run waits for a person or an agent to report.
    pub fn is_external(&self, index: usize) -> bool {
        let Some(step) = self.workflow.as_ref().and_then(|w| w.steps.get(index)) else {
            return false;
        };
        step.run.is_none() && step.uses.is_none() && self.agent_run(index).is_none()
    }

    /// The step that waits for a report inside the child run of `uses:` step `index` (or its
    /// own children, down the chain), as `WORKFLOW/STEP`: a secret output the child records
    /// before it is held only by the process that records it, and a report is another one.
    /// Read from the run's snapshot of its `uses:` graph.
    pub fn waits_within(&self, index: usize) -> Option<String> {
        let step = self.workflow.as_ref()?.steps.get(index)?;
        let start = self.start.as_ref()?;
        let mut seen = std::collections::BTreeSet::new();
        waits_within_uses(start, step.uses.as_deref()?, &mut seen)
    }

    /// The value a `${{ }}` template names in this run: an input (secret ones are recorded
    /// as `***`), or an output recorded so far. `${{ item }}` has a value only in a unit
    /// (`template_value_in`).
    pub fn template_value(&self, r: &crate::definition::template::Reference) -> Option<String> {
        self.template_value_in(r, None)
    }

    /// `template_value` as seen from unit `unit`: there `${{ item }}` is its item.
    pub fn template_value_in(
        &self,
        r: &crate::definition::template::Reference,
        unit: Option<usize>,
    ) -> Option<String> {
        use crate::definition::template::Reference;
        match r {
            Reference::Input(name) => self.start.as_ref()?.inputs.get(name).map(|v| match v {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            }),
            Reference::StepOutput { step, key } => self.step(step)?.outputs.get(key).cloned(),
            Reference::Item => {
                let of = self.steps.get(unit?)?.item.as_ref()?;
                Some(of.value.text())
            }
        }
    }

    /// A prompt (or a phase's checklist item) as a person or an agent reads it, wherever it is
    /// shown (status, `--json`, MCP, the web page, the progress lines, an agent's stdin): each
    /// template rendered with the value `resolve` gives, and one that has no value as a marker
    /// that says so and why (`absent_value`), never as nothing nor as the raw `${{ ... }}`; a
    /// scenario phase's "- check: COMMAND" lines as the commands the engine runs
    /// (`render::render_prompt`). `unit`: the step or phase the text is of (its own outputs
    /// are named as its own). `render_prompt_in` is it with the run's own values.
    pub fn render_prompt_with(
        &self,
        text: &str,
        unit: Option<usize>,
        resolve: &dyn Fn(&crate::definition::template::Reference) -> Option<String>,
    ) -> String {
        crate::render::render_prompt(text, self.is_scenario(), resolve, &|r| {
            self.absent_value(r, unit).unwrap_or_default()
        })
    }

    /// A check (a phase's `check:` criterion, a step's `validate:` `run:`) of unit `unit` as
    /// the engine will run it (`render::shown_check`): the run's values where it has them,
    /// and apart from the command, each template it has none for, said in words
    /// (`absent_value`). Its prompt, its status line and its `--json` show it so alike.
    pub fn render_check_in(&self, command: &str, unit: usize) -> (String, Vec<String>) {
        crate::render::shown_check(command, &|r| self.template_value_in(r, Some(unit)), &|r| {
            self.absent_value(r, Some(unit)).unwrap_or_default()
        })
    }

    /// `render_prompt_with` the run's values as seen from unit `unit` (`template_value_in`).
    pub fn render_prompt_in(&self, text: &str, unit: usize) -> String {
        self.render_prompt_with(text, Some(unit), &|r| self.template_value_in(r, Some(unit)))
    }

    /// What a prompt shows for a template the run has no value for: what is missing and why,
    /// in parentheses (`(no output `plan` of step `Plan`: it was skipped)`). An output of a
    /// step that has not completed yet has no value yet, not none (it may still be given):
    /// `(output `out`, not given yet)` for one of `unit` itself (a `check:` reading its own
    /// phase's output, in the phase's prompt while it waits), `(output `out` of step `S`, not
    /// given yet)` for another's. Before, it was shown as the raw `${{ ... }}`.
    pub fn absent_value(
        &self,
        r: &crate::definition::template::Reference,
        unit: Option<usize>,
    ) -> Option<String> {
        use crate::definition::template::Reference;
        Some(match r {
            Reference::Input(name) => format!("(no input `{name}`: none was given)"),
            Reference::Item => "(no item: this is not an item of a `foreach:`)".to_string(),
            Reference::StepOutput { step, key } => {
                let noun = if self.is_scenario() { "phase" } else { "step" };
                let why = match self.step(step).map(|s| s.status) {
                    None => format!("no {noun} `{step}` in this run"),
                    Some(StepStatus::Skipped) => "it was skipped".to_string(),
                    Some(StepStatus::Completed) => "it wrote none".to_string(),
                    Some(StepStatus::Failed) => "it failed".to_string(),
                    Some(StepStatus::RolledBack) => "it was rolled back".to_string(),
                    Some(_) => {
                        let own = unit.and_then(|u| self.steps.get(u)).is_some_and(|u| {
                            u.name == *step
                                || self
                                    .step_index(&u.name)
                                    .and_then(|i| self.parent_of(i))
                                    .is_some_and(|p| self.steps[p].name == *step)
                        });
                        return Some(if own {
                            format!("(output `{key}`, not given yet)")
                        } else {
                            format!("(output `{key}` of {noun} `{step}`, not given yet)")
                        });
                    }
                };
                format!("(no output `{key}` of {noun} `{step}`: {why})")
            }
        })
    }

    /// `text` with its templates rendered with this run's values (unknown ones left as
    /// written): a command as it is shown (it runs with an empty value for them).
    pub fn render(&self, text: &str) -> String {
        crate::definition::template::render_text(text, &|r| self.template_value(r))
    }

    /// `render`, as seen from unit `unit` (`${{ item }}` is its item).
    pub fn render_in(&self, text: &str, unit: usize) -> String {
        crate::definition::template::render_text(text, &|r| self.template_value_in(r, Some(unit)))
    }

    /// Stopped by its time limit (`time_limit_reason`): a resume with the same limit would
    /// stop it again.
    pub fn timed_out(&self) -> bool {
        self.phase == RunPhase::Stopped && self.stopped_by_limit.is_some()
    }

    /// The step (or phase) the time limit cut that had run longest, and for how many
    /// milliseconds: it runs again from its start in the next driving session, so a limit
    /// that gives it no more time than it had stops the run again.
    pub fn cut_by_time_limit(&self) -> Option<(String, u64)> {
        let at = |t: &Option<String>| humantime::parse_rfc3339(t.as_deref()?).ok();
        self.cut_by_limit()
            .map(|i| &self.steps[i])
            .filter_map(|s| {
                let ran = at(&s.ended_at)?.duration_since(at(&s.started_at)?).ok()?;
                Some((
                    s.name.clone(),
                    u64::try_from(ran.as_millis()).unwrap_or(u64::MAX),
                ))
            })
            .max_by_key(|(_, ms)| *ms)
    }

    /// The steps (phases) the time limit cut, by index, in definition order: each stopped
    /// with the limit's words as its error.
    pub fn cut_by_limit(&self) -> impl Iterator<Item = usize> + '_ {
        self.steps.iter().enumerate().filter_map(|(i, s)| {
            (s.status == StepStatus::Stopped
                && s.error
                    .as_deref()
                    .is_some_and(|e| e.starts_with(TIME_LIMIT)))
            .then_some(i)
        })
    }

    /// The failed `uses:` step whose child run its parent's time limit stopped (the child
    /// is driven within what is left of it), and for how many milliseconds the step ran: the
    /// parent ended failed, not paused, but a resume under the same limit stops the child
    /// again, as a time limit stopping the parent's own step would.
    pub fn child_cut_by_time_limit(&self) -> Option<(String, u64)> {
        let at = |t: &Option<String>| humantime::parse_rfc3339(t.as_deref()?).ok();
        self.steps
            .iter()
            .filter(|s| child_cut(s))
            .map(|s| {
                let ran = (|| at(&s.ended_at)?.duration_since(at(&s.started_at)?).ok())()
                    .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
                (s.name.clone(), ran)
            })
            .max_by_key(|(_, ms)| *ms)
    }

    /// The run's time limit for a driving session, in seconds (0: none): the latest resume's,
    /// else the one recorded at `run`.
    pub fn time_limit(&self) -> u64 {
        self.timeout_seconds
            .or_else(|| self.start.as_ref().map(|s| s.config.timeout_seconds))
            .unwrap_or(0)
    }

    /// The time limit a resume gives the run's next driving session, in seconds (0: none):
    /// `given` (`--timeout`), else the one its last session kept (`kept_time_limit`), else
    /// `configured` (`timeout_seconds` in cortex.config.json now).
    pub fn resume_limit(&self, given: Option<u64>, configured: u64) -> u64 {
        given
            .or_else(|| self.kept_time_limit(configured))
            .unwrap_or(configured)
    }

    /// The limit the run's last driving session ran under (`time_limit`: a `resume --timeout`,
    /// or the configuration then), where a resume without `--timeout` keeps it instead of
    /// `configured`: nobody ended that session — no pause, stop or seal was recorded: its
    /// driver died, or let the run wait (on a report, a start, a worker) — and that limit is
    /// longer (0: none). The resume goes on with what that session was doing, and was given
    /// that limit for it. A session that came to an end hands its limit on to nobody: the
    /// next resume runs under `--timeout` or the configuration. Before, a `resume --timeout
    /// 15s` whose driver was killed was suggested a plain `resume`, which ran under the
    /// configuration's 2 s: the run was stopped again, and on-call paged again.
    pub fn kept_time_limit(&self, configured: u64) -> Option<u64> {
        let last = self.time_limit();
        let longer = match (last, configured) {
            (_, 0) => false,
            (0, _) => true,
            (last, configured) => last > configured,
        };
        (longer && self.start.is_some() && !self.session_ended()).then_some(last)
    }

    /// Whether the log shows the engine in the middle of something only a driver finishes: an
    /// attempt started and not ended, a rollback, a pre-validation under way. Only then does a
    /// run without a driver count as `interrupted`. A post-validation that is due is not such
    /// work: the log cannot tell it under way from not begun (a last step reported with
    /// `--no-drive` leaves it due), its checks are no attempt, and `resume` runs them whole.
    ///
    /// A retry scheduled (`retry_scheduled`, its backoff not yet run out or its attempt not yet
    /// started) is such work too: the engine itself runs the next attempt, nobody else can move
    /// the run on, so a run left with one and no driver was cut short (SPEC §4), not waiting.
    pub fn work_in_hand(&self) -> bool {
        let state = self;
        state.steps.iter().any(|s| s.status == StepStatus::Running)
            // An `if: {run:}` command was under way (`condition_started`, not checked yet).
            || (state.phase == RunPhase::Running && state.steps.iter().any(|s| s.checking))
            || (state.phase == RunPhase::Running
                && state
                    .steps
                    .iter()
                    .enumerate()
                    .any(|(i, s)| s.status == StepStatus::Ready && state.runs_on(i).is_empty()))
            || (state.phase == RunPhase::RollingBack
                && !state.rollback.as_ref().is_some_and(|rb| rb.by_report))
            || (state.phase == RunPhase::Running && !state.pre_validated)
    }

    /// How long the retry scheduled for unit `index` still waits at `now`: its backoff
    /// counted from when it was scheduled (`retry_scheduled`'s time), as a durable timer is,
    /// never more than the backoff itself (a clock set back, a time that does not parse: the
    /// whole backoff); zero for a unit with no retry waiting. A resume after the backoff ran
    /// out starts the attempt at once, and one before it waits only the rest. Before, each
    /// driver waited the whole backoff from when it came to the retry: a run its time limit
    /// stopped during a 10 s backoff, resumed with a limit of 9 s, waited 10 s again and was
    /// stopped again having run nothing, round after round.
    pub fn backoff_left(&self, index: usize, now: std::time::SystemTime) -> std::time::Duration {
        let Some(s) = self
            .steps
            .get(index)
            .filter(|s| s.status == StepStatus::Ready)
        else {
            return std::time::Duration::ZERO;
        };
        let backoff = std::time::Duration::from_millis(s.retry_delay_ms);
        let since = s
            .retry_scheduled_at
            .as_deref()
            .and_then(|t| humantime::parse_rfc3339(t).ok())
            .and_then(|at| now.duration_since(at).ok())
            .unwrap_or_default();
        backoff.saturating_sub(since)
    }

    /// The latest checkpoint's step index, if any.
    pub fn resume_point(&self) -> Option<usize> {
        self.checkpoints.last().map(|c| c.index)
    }
}

/// Fold one recorded event into the state.
pub fn evolve(mut state: RunState, rec: &Recorded) -> RunState {
    evolve_in_place(&mut state, rec.stamped());
    state
}

/// Fold one event into the state where it is, the event as a fold reads it (borrowed: what a
/// replay streamed from the store folds, `store::stream_run`, without moving the state in
/// and out for every event).
pub fn evolve_in_place(state: &mut RunState, rec: Stamped<'_>) {
    if state.run_id != rec.run_id {
        rec.run_id.clone_into(&mut state.run_id);
    }
    state.events = rec.seq + 1;
    rec.hash.clone_into(&mut state.head_hash);
    let before = super::tally::before(state, rec.event);
    fold_event(state, rec);
    super::tally::after(state, before);
}

/// `evolve_in_place` of the event itself.
fn fold_event(state: &mut RunState, rec: Stamped<'_>) {
    // Owned only where the event records it.
    let time = || Some(rec.time.to_owned());
    // A condition's command is under way only until its step moves on or the session ends.
    match rec.event {
        Event::ConditionStarted { step } => {
            if let Some(s) = state.step_mut(step) {
                s.checking = true;
            }
        }
        Event::ConditionChecked(check) => {
            if let Some(s) = state.step_mut(&check.step) {
                s.checking = false;
            }
        }
        Event::StepStarted { step, .. }
        | Event::StepWaiting { step, .. }
        | Event::StepSkipped { step, .. } => {
            if let Some(s) = state.step_mut(step) {
                s.checking = false;
            }
        }
        Event::RunPaused { .. }
        | Event::RunStopped { .. }
        | Event::RunResumed { .. }
        | Event::RunFinished { .. } => {
            state.steps.iter_mut().for_each(|s| s.checking = false);
        }
        _ => {}
    }
    match rec.event {
        Event::RunStarted(started) => {
            let parsed = match started.kind {
                RunKind::Workflow => serde_json::from_value::<Workflow>(started.definition.clone()),
                RunKind::Scenario => {
                    serde_json::from_value::<Scenario>(started.definition.clone()).map(|sc| {
                        let mut wf = sc.as_workflow();
                        // A phase is run by the first of its agents that has a command or
                        // runs with Claude Code.
                        let runs = |a: &String| {
                            started.agents.get(a).is_some_and(Option::is_some)
                                || started.claude.as_ref().is_some_and(|c| c.runs.contains(a))
                        };
                        for (step, phase) in wf.steps.iter_mut().zip(&sc.phases) {
                            if let Some(runner) = phase.agents.iter().find(|a| runs(a)) {
                                step.agent = Some(runner.clone());
                            }
                        }
                        state.phase_plan = Some(Arc::new(crate::plan::PhasePlan::of(&sc)));
                        state.scenario = Some(Arc::new(sc));
                        wf
                    })
                }
            };
            match parsed {
                Ok(wf) => {
                    state.steps = wf.steps.iter().map(|s| new_step(&s.name)).collect();
                    // The first of duplicate names wins (validation refuses duplicates anyway).
                    super::items::reindex(state);
                    state.workflow = Some(Arc::new(wf));
                }
                Err(e) => state.definition_error = Some(e.to_string()),
            }
            state.driver = Some(started.driver.clone());
            state.driven_by = Some(started.by.actor.clone());
            state.start = Some(Arc::new((**started).clone()));
            state.phase = RunPhase::Running;
            state.started_at = time();
            state.session_started_at = time();
            state.session_seq = rec.seq;
            state.session_ends.clear();
        }
        Event::ValidationPassed { stage, .. } => match stage {
            Stage::Pre => state.pre_validated = true,
            Stage::Post => {
                state.post_passed = true;
                state.post_problems.clear();
            }
            Stage::Step => {}
        },
        Event::ValidationFailed {
            stage,
            step,
            problems,
        } => match stage {
            Stage::Pre => state.pre_problems.clone_from(problems),
            Stage::Post => state.post_problems.clone_from(problems),
            Stage::Step => {
                if let Some(s) = step.as_deref().and_then(|n| state.step_mut(n)) {
                    s.status = StepStatus::Failed;
                    s.budget_failures += 1;
                    s.error = Some(format!("validation failed: {}", problems.join("; ")));
                    s.ended_at = time();
                    // A step's gate judges an attempt that succeeded: a `uses:` step's child
                    // completed, over for good, and the step took its end. Its next attempt
                    // (a retry, `resume --retry`) starts a new child run; before, it went on
                    // with this one and took the same completed end again, never re-running it.
                    if let Some(link) = s.child.as_mut() {
                        link.finished = true;
                        link.reported = true;
                    }
                }
            }
        },
        Event::StepStarted { step, attempt } | Event::StepWaiting { step, attempt } => {
            let waiting = matches!(rec.event, Event::StepWaiting { .. });
            if let Some(s) = state.step_mut(step) {
                s.status = if waiting {
                    StepStatus::Waiting
                } else {
                    StepStatus::Running
                };
                // Retries keep the first attempt's start, so the duration covers them all.
                if s.status != StepStatus::Ready {
                    s.started_at = time();
                }
                s.attempts = *attempt;
                s.ended_at = None;
                s.error = None;
                s.exit_code = None;
                s.reported_by = None;
                s.skipped_by = None;
            }
            // A scenario waits as a whole only when nothing else can run (a projection).
            if waiting && !state.is_scenario() {
                state.phase = RunPhase::Waiting;
            }
        }
        Event::OutputRecorded { step, key, value } => {
            if let Some(i) = state.step_index(step) {
                let outputs = &mut state.steps[i].outputs;
                let first = outputs.is_empty();
                outputs.insert(key.clone(), value.clone());
                if first {
                    super::tally::first_output(state, i);
                }
            }
        }
        Event::StepSucceeded {
            step,
            end,
            output_tail,
            by,
            ..
        } => {
            // Only a step that completed before can be in the completion order: a first
            // completion (every step of a run that goes straight through) is pushed without
            // a walk over the order (which made a run of N steps cost N² comparisons).
            let mut again = true;
            if let Some(s) = state.step_mut(step) {
                child_ended(s, end);
                s.reported_by.clone_from(by);
                s.status = StepStatus::Completed;
                s.resume_session = None;
                again = s.completions > 0;
                s.completions += 1;
                s.ended_at = time();
                s.exit_code = end.exit_code();
                s.output_tail.clone_from(output_tail);
            }
            if again {
                state.completion_order.retain(|n| n != step);
            }
            state.completion_order.push(step.clone());
            if state.phase == RunPhase::Waiting {
                state.phase = RunPhase::Running;
            }
        }
        Event::StepFailed {
            step,
            attempt,
            end,
            error,
            output_tail,
            by,
        } => {
            if let Some(s) = state.step_mut(step) {
                if lost_session(s, *attempt, end, output_tail) {
                    s.resume_session = None;
                }
                child_ended(s, end);
                s.reported_by.clone_from(by);
                s.status = StepStatus::Failed;
                s.budget_failures += 1;
                s.error = Some(error.clone());
                s.exit_code = end.exit_code();
                s.output_tail.clone_from(output_tail);
                s.ended_at = time();
            }
            if state.phase == RunPhase::Waiting {
                state.phase = RunPhase::Running;
            }
        }
        Event::StepTimedOut {
            step,
            timeout_ms,
            output_tail,
            ..
        } => {
            if let Some(s) = state.step_mut(step) {
                s.status = StepStatus::Failed;
                s.budget_failures += 1;
                s.error = Some(format!(
                    "timed out after {}",
                    humantime::format_duration(std::time::Duration::from_millis(*timeout_ms))
                ));
                s.output_tail.clone_from(output_tail);
                s.ended_at = time();
            }
        }
        Event::AgentResult(result) => {
            if let Some(s) = state.step_mut(&result.step) {
                // A resumed attempt whose session answered an error before a single turn (Claude
                // Code's "No conversation found with session ID" is such a result): resuming
                // did not take, and trying it again would fail the same way; the next attempt
                // starts a new session. Any other result is the session to go on with.
                let resumption_failed =
                    s.resume_session.is_some() && result.failed() && result.num_turns == Some(0);
                s.resume_session = (!resumption_failed).then(|| result.session_id.clone());
                s.agent_result = Some((**result).clone());
            }
        }
        // Kept in the run's notification stream, never in the run itself.
        Event::NotificationDelivered { .. }
        | Event::ScheduleFired { .. }
        | Event::ScheduleReleased { .. }
        | Event::ScheduleSeen { .. }
        | Event::ScheduledRun { .. } => {}
        Event::RunSubmitted { .. } => state.submitted = true,
        Event::AttemptClaimed {
            step,
            attempt,
            worker,
            host,
            ..
        } => {
            if let Some(s) = state.step_mut(step) {
                s.claimed = Some(Claimed {
                    attempt: *attempt,
                    worker: worker.clone(),
                    host: host.clone(),
                });
            }
        }
        // Recorded, never applied.
        Event::AttemptRejected { .. } => {}
        Event::AttemptLog { step, file, .. } => {
            if let Some(s) = state.step_mut(step) {
                s.log = Some(file.clone());
            }
        }
        Event::StepInterrupted { step, reason, .. } => {
            if let Some(s) = state.step_mut(step) {
                s.status = StepStatus::Stopped;
                s.error = Some(reason.clone());
                s.ended_at = time();
            }
        }
        Event::RetryScheduled { step, delay_ms, .. } => {
            if let Some(s) = state.step_mut(step) {
                s.status = StepStatus::Ready;
                s.retry_delay_ms = *delay_ms;
                s.retry_scheduled_at = time();
            }
        }
        Event::StepSkipped { step, reason, by } => {
            if let Some(s) = state.step_mut(step) {
                // A skip of a failure (the engine's `on_failure: skip`, an operator's `resume
                // --skip`) keeps who reported the failure, and their message: status and the
                // log still show them. The operator who skipped is a fact of its own.
                // (A failed step that a resume gave a fresh budget is Ready, still reported.)
                if !matches!(s.status, StepStatus::Failed | StepStatus::Ready) {
                    s.reported_by = None;
                }
                s.skipped_by.clone_from(by);
                s.status = StepStatus::Skipped;
                s.resume_session = None;
                s.error = Some(reason.clone());
                s.ended_at = time();
            }
            if matches!(state.phase, RunPhase::Waiting | RunPhase::Paused { .. }) {
                state.phase = RunPhase::Running;
            }
        }
        Event::CheckpointSaved { step } => {
            // After a `foreach:` step means after its items too.
            let index = state.step_index(step).map_or(0, |i| state.block_end(i));
            let steps_done = super::tally::done(state);
            state.checkpoints.push(Checkpoint {
                seq: rec.seq,
                step: step.clone(),
                index,
                steps_done,
                time: rec.time.to_owned(),
            });
        }
        Event::RollbackStarted {
            reason,
            steps,
            resume_after,
        } => {
            // A report's failure is recorded by whoever reported it, not by a driver at work.
            let by_report = resume_after.is_none()
                && state
                    .steps
                    .iter()
                    .any(|s| s.status == StepStatus::Failed && s.reported_by.is_some());
            state.rollback = Some(Rollback {
                reason: reason.clone(),
                pending: steps.clone(),
                failed: Vec::new(),
                resume_after: resume_after.clone(),
                by_report,
            });
            // Past its seal (a completed child run its parent rolls back): it is no longer
            // over, and has no end until its rollback's `run_finished`.
            if let RunPhase::Finished { .. } = state.phase {
                state.rolled_back_for_parent = true;
                state.ended_at = None;
                state.finish_reason = None;
            }
            state.phase = RunPhase::RollingBack;
        }
        Event::StepCompensated { step, .. } => {
            if let Some(rb) = state.rollback.as_mut() {
                rb.pending.retain(|n| n != step);
            }
            if let Some(s) = state.step_mut(step) {
                s.status = StepStatus::RolledBack;
                s.ended_at = time();
            }
            // An item undone undoes its `foreach:` step: it is no longer complete.
            if let Some(p) = state.step_index(step).and_then(|i| state.parent_of(i))
                && state.steps[p].status == StepStatus::Completed
            {
                state.steps[p].status = StepStatus::RolledBack;
                state.steps[p].ended_at = time();
            }
            state.completion_order.retain(|n| n != step);
        }
        Event::CompensationFailed { step, error, .. } => {
            if let Some(rb) = state.rollback.as_mut() {
                rb.pending.retain(|n| n != step);
                rb.failed.push(step.clone());
            }
            if let Some(s) = state.step_mut(step) {
                s.compensation_failed = true;
                s.error = Some(format!("compensation failed: {error}"));
            }
        }
        Event::RollbackFinished {
            cut_off, not_run, ..
        } => {
            // An abort mid-rollback: what it left undone is kept, step by step.
            if (cut_off.is_some() || !not_run.is_empty())
                && let Some(rb) = state.rollback.clone()
            {
                let left = |n: &String| {
                    if Some(n) == cut_off.as_ref() {
                        CompensationLeft::CutOff
                    } else {
                        CompensationLeft::NotRun
                    }
                };
                for n in cut_off.iter().chain(not_run) {
                    let mark = left(n);
                    if let Some(s) = state.step_mut(n) {
                        s.compensation_left = Some(mark);
                    }
                }
                state.rollback_left = Some(RollbackLeft {
                    reason: rb.reason,
                    cut_off: cut_off.clone(),
                    not_run: not_run.clone(),
                    failed: rb.failed,
                });
            }
            if let Some(rb) = state.rollback.take()
                && let Some(after) = rb.resume_after
            {
                // Rolled back to a checkpoint: every step of a workflow after it runs again —
                // the compensated ones, and the failed, stopped, waiting or skipped ones too
                // (a failed one starts over with a fresh budget: it was shown as a retry
                // scheduled that no one had scheduled). Only a step whose compensation failed
                // stays completed: the rollback paused on it, to be cleaned by hand.
                let from = state
                    .step_index(&after)
                    .map_or(0, |i| state.block_end(i) + 1);
                // A scenario undoes the phases that completed after the target, wherever they
                // stand in the file: only the compensated ones run again.
                let again: Vec<usize> = if state.is_scenario() {
                    (0..state.steps.len())
                        .filter(|&i| state.steps[i].status == StepStatus::RolledBack)
                        .collect()
                } else {
                    (from..state.steps.len())
                        .filter(|&i| state.steps[i].status != StepStatus::Completed)
                        .collect()
                };
                if state.is_scenario() {
                    state.checkpoints.retain(|c| !again.contains(&c.index));
                } else {
                    state.checkpoints.retain(|c| c.index < from);
                }
                reset_units(state, &again);
                state.phase = RunPhase::Running;
            }
        }
        // An older cortex paused a run its time limit cut, as if it had failed: it was the
        // stop it is recorded as now (`run_stopped.time_limit`), and is folded as one, so that
        // its log reads as a log of today's does (status `stopped`, exit 3).
        Event::RunPaused { step, reason } if legacy_time_limit(state, step.as_deref(), reason) => {
            stop_at(state, Some(reason.clone()));
            state.reached(EndKind::TimeLimit, rec.seq);
        }
        Event::RunPaused { reason, .. } => {
            state.phase = RunPhase::Paused {
                reason: reason.clone(),
            };
            state.reached(EndKind::Outcome(Outcome::Failed), rec.seq);
        }
        Event::StopRequested { by, abort, signal } => {
            // The first request is the one pending (a later abort keeps its time).
            if !state.stop_requested {
                state.stop_requested_at = time();
            }
            state.stop_requested = true;
            if *abort {
                state.abort_requested = Some(by.clone());
            } else {
                state.stopped_by = Some((by.clone(), signal.clone()));
            }
        }
        Event::RunStopped { time_limit } => {
            // An operator's stop ends nobody's session for `notify:` (they know); the time
            // limit's does.
            if time_limit.is_some() {
                state.reached(EndKind::TimeLimit, rec.seq);
            }
            stop_at(state, time_limit.clone());
        }
        Event::PhaseStartRequested { phase, by } => {
            if let Some(s) = state.step_mut(phase) {
                s.start_requested_by = Some(by.clone());
            }
            state.start_requested.insert(phase.clone());
        }
        Event::AgentActivated { agent, phase, .. } => {
            state.active_agents.push((agent.clone(), phase.clone()));
        }
        Event::AgentDeactivated { agent, phase, .. } => {
            state
                .active_agents
                .retain(|(a, p)| !(a == agent && p == phase));
        }
        Event::CriterionMet {
            phase, criterion, ..
        } => {
            state
                .criteria_met
                .entry(phase.clone())
                .or_default()
                .push(criterion.clone());
        }
        Event::RunResumed {
            mode,
            restart_from,
            driver,
            timeout_seconds,
            claude,
            by,
            rerun,
            ..
        } => {
            // What this resume is made from, before anything is reset (`reset_units` keeps
            // the values of what it runs again).
            state.last_recovery = state
                .paused_failure()
                .map(|failed| super::recovery::Recovery {
                    mode: mode.clone(),
                    failed,
                    before: BTreeMap::new(),
                });
            if timeout_seconds.is_some() {
                state.timeout_seconds = *timeout_seconds;
            }
            if claude.is_some() {
                state.claude_settings.clone_from(claude);
            }
            state.submitted = false;
            state.driven_by = Some(by.actor.clone());
            state.resumed_by = Some(by.clone());
            if let Some(rb) = state.rollback.as_mut() {
                rb.by_report = false;
            }
            state.driver = Some(driver.clone());
            state.session_started_at = time();
            state.session_seq = rec.seq;
            state.session_ends.clear();
            state.stop_requested = false;
            state.stop_requested_at = None;
            state.abort_requested = None;
            state.stopped_by = None;
            state.stopped_by_limit = None;
            // Every way of resuming gives a failed step a fresh retry budget (or skips it next),
            // except during a rollback: the step that caused it stays failed. A rollback-to
            // resets it (with every step after its target) when the rollback ends.
            // (A scenario's failed phase may come before the target in the file: it is given
            // its fresh budget here, as before.)
            let fresh = state.rollback.is_none()
                && (state.is_scenario() || !matches!(mode, ResumeMode::RollbackTo(_)));
            for s in state.steps.iter_mut().filter(|_| fresh) {
                if s.status == StepStatus::Failed {
                    s.status = StepStatus::Ready;
                    s.budget_failures = 0;
                    s.retry_delay_ms = 0;
                    s.retry_scheduled_at = None;
                }
            }
            state.post_problems.clear();
            if let Some(from) = restart_from.as_deref().and_then(|n| state.step_index(n)) {
                // A workflow re-runs the step and every later one; a scenario the phase and
                // the phases that depend on it.
                let rerun_indices = rerun_set(state, from);
                let rerun: Vec<String> = rerun_indices
                    .iter()
                    .map(|&i| state.steps[i].name.clone())
                    .collect();
                state.completion_order.retain(|n| !rerun.contains(n));
                state.checkpoints.retain(|c| c.index < from);
                reset_units(state, &rerun_indices);
                state.post_passed = false;
            }
            // A scenario's completed phases no checkpoint keeps run again.
            if !rerun.is_empty() {
                let again: Vec<usize> = rerun.iter().filter_map(|n| state.step_index(n)).collect();
                state.completion_order.retain(|n| !rerun.contains(n));
                reset_units(state, &again);
                state.post_passed = false;
            }
            // A resumed run goes back to what it was doing: compensating, waiting on a
            // report, or running. Decided after a `--from` reset: a step waiting for a report
            // that is re-run (or comes after the re-run one) waits no more, and a run left
            // `waiting` would refuse the very step it is to re-run.
            // A scenario waits as a whole only when nothing else can run (a projection, as
            // for `step_waiting`): a phase waiting on a report must not hold back the
            // phases that are ready beside it.
            state.phase = if state.rollback.is_some() {
                RunPhase::RollingBack
            } else if !state.is_scenario()
                && state.steps.iter().any(|s| s.status == StepStatus::Waiting)
            {
                RunPhase::Waiting
            } else {
                RunPhase::Running
            };
        }
        Event::RunFinished {
            outcome, reason, ..
        } => {
            state.phase = RunPhase::Finished { outcome: *outcome };
            // A finished run has no agent at work. The decider records every deactivation
            // before the run's end (`phase_agents`); a log written before it did may lack
            // one (a skipped waiting phase's), and its status said the agents were active
            // while `agent status` (which reads unfinished runs only) said they were not.
            state.active_agents.clear();
            state.reached(EndKind::Outcome(*outcome), rec.seq);
            state.ended_at = time();
            state.finish_reason.clone_from(reason);
        }
        // Its step's `checking`, above.
        Event::ConditionStarted { .. } => {}
        Event::ConditionChecked(check) => {
            if let Some(s) = state.step_mut(&check.step) {
                s.condition = Some((**check).clone());
                if check.error.is_some() {
                    s.status = StepStatus::Failed;
                    s.error = Some(check.reason());
                    s.ended_at = time();
                }
            }
        }
        Event::ForeachExpanded { step, items } => {
            if let Some(p) = state.step_index(step) {
                state.steps[p].started_at = time();
                state.steps[p].ended_at = None;
                state.steps[p].error = None;
                super::items::expand(state, p, items);
            }
        }
        Event::ForeachFailed { step, error } => {
            if let Some(s) = state.step_mut(step) {
                s.status = StepStatus::Failed;
                s.error = Some(format!("foreach: {error}"));
                s.ended_at = time();
            }
        }
        Event::ForeachFinished { step, .. } => {
            if let Some(s) = state.step_mut(step) {
                s.status = StepStatus::Completed;
                s.completions += 1;
                s.ended_at = time();
            }
            if state.phase == RunPhase::Waiting {
                state.phase = RunPhase::Running;
            }
        }
        Event::ChildStarted {
            step,
            attempt,
            run_id,
            workflow,
        } => {
            if let Some(s) = state.step_mut(step) {
                s.child = Some(ChildLink {
                    run_id: run_id.clone(),
                    workflow: workflow.clone(),
                    attempt: *attempt,
                    finished: false,
                    reported: false,
                });
            }
        }
        Event::ChildWaiting { step, .. } => {
            if let Some(s) = state.step_mut(step) {
                s.status = StepStatus::Waiting;
            }
            if !state.is_scenario() {
                state.phase = RunPhase::Waiting;
            }
        }
    }
}

/// A `uses:` step's attempt ended with its child's outcome: remember whether that child is
/// over for good.
fn child_ended(s: &mut StepState, end: &AttemptEnd) {
    if let (
        Some(link),
        AttemptEnd::Child {
            run_id, finished, ..
        },
    ) = (s.child.as_mut(), end)
        && link.run_id == *run_id
    {
        link.finished = *finished;
        link.reported = true;
    }
}

/// What Claude Code says on standard error, exiting 1 without a result, when the session it
/// was asked to resume (`--resume`) is gone: expired, on another host, in another directory.
const SESSION_GONE: &str = "No conversation found with session ID";

/// Whether attempt `attempt` of `s`, ending `end` with `output_tail`, leaves no session to
/// resume: it was given one (`--resume`), its process ended by itself with no result read
/// from it, and what it printed says the session is gone (`SESSION_GONE`). Resuming it again
/// would fail the same way on every retry; the next attempt starts a new session. Any other
/// attempt that printed no result (a crash, an exit on a bad key, output that is not JSON)
/// keeps the last session the log knows for the unit, and the retry resumes it (SPEC §8: "a
/// retry resumes the same session"); before, every such attempt dropped it and the next
/// started a new session (review m, finding 4). An attempt cut short (a timeout, a stop)
/// keeps it too: the session is there, the process was ended.
fn lost_session(s: &StepState, attempt: u32, end: &AttemptEnd, output_tail: &str) -> bool {
    s.resume_session.is_some()
        && s.agent_result.as_ref().is_none_or(|r| r.attempt != attempt)
        && matches!(
            end,
            AttemptEnd::Exited { .. } | AttemptEnd::AgentFailed { .. }
        )
        && output_tail.contains(SESSION_GONE)
}

/// Units that run again from scratch: pending, without what their last pass left (outputs,
/// condition verdict, child run, session, checklist); a `foreach:` step among them loses its
/// items, which are read again.
fn reset_units(state: &mut RunState, indices: &[usize]) {
    // What they gave, for the recovery that runs them again (items too, before their step's
    // reset removes them).
    for &i in indices {
        state.keep_for_recovery(i);
    }
    let names: Vec<String> = indices
        .iter()
        .map(|&i| state.steps[i].name.clone())
        .collect();
    for name in &names {
        let Some(i) = state.step_index(name) else {
            // An item of a step reset before it in this same pass: already gone.
            continue;
        };
        let s = &mut state.steps[i];
        s.status = StepStatus::Pending;
        s.outputs.clear();
        s.resume_session = None;
        s.budget_failures = 0;
        s.retry_delay_ms = 0;
        s.retry_scheduled_at = None;
        s.condition = None;
        s.child = None;
        state.criteria_met.remove(name);
        if state.steps[i].items.is_some() {
            super::items::collapse(state, i);
        } else if let Some(p) = state.parent_of(i)
            && state.steps[p].status.is_done()
        {
            // An item runs again: its step is no longer done (its lists are made again).
            state.steps[p].status = StepStatus::Pending;
            state.steps[p].outputs.clear();
        }
    }
}

/// The steps `from` re-runs: later steps of a workflow, dependents of a scenario phase.
fn rerun_set(state: &RunState, from: usize) -> Vec<usize> {
    match &state.scenario {
        None => (from..state.steps.len()).collect(),
        Some(sc) => {
            let deps = state
                .phase_plan
                .as_ref()
                .map_or_else(|| crate::plan::dependencies(sc), |p| p.deps.clone());
            let mut set = vec![from];
            let mut changed = true;
            while changed {
                changed = false;
                for (i, ds) in deps.iter().enumerate() {
                    if !set.contains(&i) && ds.iter().any(|d| set.contains(d)) {
                        set.push(i);
                        changed = true;
                    }
                }
            }
            set.sort_unstable();
            set
        }
    }
}

pub(super) fn new_step(name: &str) -> StepState {
    StepState {
        name: name.to_string(),
        status: StepStatus::Pending,
        attempts: 0,
        budget_failures: 0,
        completions: 0,
        outputs: BTreeMap::new(),
        started_at: None,
        ended_at: None,
        error: None,
        output_tail: String::new(),
        exit_code: None,
        retry_delay_ms: 0,
        retry_scheduled_at: None,
        compensation_failed: false,
        compensation_left: None,
        reported_by: None,
        skipped_by: None,
        start_requested_by: None,
        agent_result: None,
        resume_session: None,
        log: None,
        claimed: None,
        condition: None,
        checking: false,
        items: None,
        item: None,
        child: None,
    }
}

/// The state after all of `events`: every projection starts here.
pub fn replay<'a>(events: impl IntoIterator<Item = &'a Recorded>) -> RunState {
    events.into_iter().fold(RunState::default(), evolve)
}

/// The form of a saved state, as this build writes and reads it: a digest of the source that
/// defines `RunState` and every type it holds. A snapshot records it; one written in another
/// form (by a build whose state had other fields, before or after an upgrade) is not used and
/// is no sign of tampering — restoring it would read a missing field as its default, a state
/// the log never had. Derived from the source so that no change can forget to bump it: any
/// edit of these files leaves older snapshots unused (a replay, then a new snapshot).
pub fn state_format() -> &'static str {
    static FORMAT: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        let mut h = blake3::Hasher::new();
        for source in [
            include_str!("state.rs"),
            include_str!("items.rs"),
            include_str!("recovery.rs"),
            include_str!("../event/body.rs"),
            include_str!("../event/values.rs"),
            include_str!("../definition/item.rs"),
        ] {
            h.update(&(source.len() as u64).to_le_bytes());
            h.update(source.as_bytes());
        }
        h.finalize().to_hex()[..16].to_string()
    });
    &FORMAT
}

/// A state saved as JSON (a snapshot: a cache of the fold, never a source of truth), with the
/// form it is in (`state_format`).
pub fn snapshot_json(state: &RunState) -> String {
    #[derive(Serialize)]
    struct Saved<'a> {
        format: &'a str,
        state: &'a RunState,
    }
    serde_json::to_string(&Saved {
        format: state_format(),
        state,
    })
    .expect("run states serialise")
}

/// The form a saved state says it is in (`state_format`); None when it names none (written
/// before snapshots recorded it) or is not JSON.
pub fn snapshot_format(snapshot: &str) -> Option<String> {
    #[derive(Deserialize)]
    struct Form {
        format: Option<String>,
    }
    serde_json::from_str::<Form>(snapshot).ok()?.format
}

/// A state from a snapshot taken at some event of the run, completed with what the snapshot
/// leaves out (the definition and what is derived from it), which `first` — the run's
/// `run_started` event — rebuilds. None if the snapshot does not decode or is in another form
/// than this build's (`state_format`).
pub fn restore(snapshot: &str, first: &Recorded) -> Option<RunState> {
    #[derive(Deserialize)]
    struct Saved {
        format: String,
        state: RunState,
    }
    let saved: Saved = serde_json::from_str(snapshot).ok()?;
    if saved.format != state_format() {
        return None;
    }
    let mut state = saved.state;
    let base = evolve(RunState::default(), first);
    state.start = base.start;
    state.workflow = base.workflow;
    state.scenario = base.scenario;
    state.phase_plan = base.phase_plan;
    state.index = base.index;
    // Items of `foreach:` steps are units of the run: its layout follows its steps.
    super::items::rebuild(&mut state);
    Some(state)
}

/// The first step waiting for a report in the workflow `uses` names in `start`'s snapshot, or
/// in the workflows its own `uses:` steps run (`RunState::waits_within`).
fn waits_within_uses(
    start: &crate::event::RunStarted,
    uses: &str,
    seen: &mut std::collections::BTreeSet<String>,
) -> Option<String> {
    if !seen.insert(uses.to_string()) {
        return None;
    }
    let used = start.uses.get(uses)?;
    let workflow: crate::definition::Workflow =
        serde_json::from_value(used.definition.clone()).ok()?;
    workflow.steps.iter().find_map(|step| match &step.uses {
        Some(inner) => waits_within_uses(start, inner, seen),
        None => {
            let engine_runs = step.run.is_some()
                || step.agent.as_ref().is_some_and(|a| {
                    start.agents.get(a).is_some_and(Option::is_some)
                        || start.claude.as_ref().is_some_and(|c| c.runs.contains(a))
                });
            (!engine_runs).then(|| format!("{}/{}", used.name, step.name))
        }
    })
}
