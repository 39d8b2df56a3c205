//! The event vocabulary of a run: one variant per transition, each a fact that already happened.
//!
//! Allowed transitions (enforced by `decide`, folded by `evolve`):
//! `run_started` first; then pre-validation; then per step `step_started` →
//! (`output_recorded`* → [`validation_passed`] → `step_succeeded` → [`checkpoint_saved`]) |
//! `step_failed` | `step_timed_out` | `validation_failed` | `step_interrupted`, followed by
//! `retry_scheduled`, `step_skipped`, `run_paused` or `rollback_started`; an external step
//! records `step_waiting` and is ended by an operator's report. An attempt run by an agent
//! runner (Claude Code) records what the runner reported, `agent_result`, first of its end. Rollback records one
//! `step_compensated` or `compensation_failed` per completed step, newest first, then
//! `rollback_finished`. `run_finished` seals the run: nothing may follow it.
//!
//! Composition (event version 3): a step with `if:` records `condition_checked` before its
//! first attempt (a command condition `condition_started` before its command runs, version 7) (then `step_skipped` when it does not hold, or its failure policy when it
//! cannot be decided); a `foreach:` step records `foreach_expanded` (its items become units
//! `STEP[i]` right after it, each with the events of a step) or `foreach_failed`, and
//! `foreach_finished` once every item is done; a `uses:` step's attempt records
//! `child_started` (before the child's own `run_started`, which names its parent), maybe
//! `child_waiting`, and ends with the child's outcome (`AttemptEnd::Child`).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::definition::{AgentRunner, ClaudeSetup, Config};

/// What kind of definition a run executes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RunKind {
    Workflow,
    Scenario,
}

/// Who did an operator action, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Operator {
    pub actor: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// The process that drives a run (for the audit trail and the "held by" message).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Driver {
    pub pid: u32,
    pub host: String,
}

/// Which validation gate a validation event belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Pre,
    Step,
    Post,
}

/// How a sealed run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Completed,
    Failed,
    Aborted,
    RolledBack,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Completed => "completed",
            Outcome::Failed => "failed",
            Outcome::Aborted => "aborted",
            Outcome::RolledBack => "rolled_back",
        }
    }
}

/// What an operator asked `resume` to do with a failed or interrupted run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", tag = "mode", content = "step")]
pub enum ResumeMode {
    /// Go on from the resume point (the latest checkpoint).
    Continue,
    /// Give the failed step a fresh retry budget and run it again.
    Retry,
    /// Record the failed step as skipped and go on.
    Skip,
    /// Compensate the steps completed after STEP, newest first, then go on from there.
    RollbackTo(String),
    /// Re-run STEP and everything after it, keeping earlier outputs.
    From(String),
}

impl ResumeMode {
    /// The mode `resume`'s flags ask for (`--retry`, `--skip`, `--rollback-to STEP`, `--from
    /// STEP`; the MCP tool's `retry`, `skip`, `rollback_to`, `from`): the first of them given
    /// (whoever takes them refuses more than one first), none of them `Continue`.
    pub fn from_flags(
        retry: bool,
        skip: bool,
        rollback_to: Option<String>,
        from: Option<String>,
    ) -> ResumeMode {
        match (retry, skip, rollback_to, from) {
            (true, ..) => ResumeMode::Retry,
            (_, true, ..) => ResumeMode::Skip,
            (_, _, Some(step), _) => ResumeMode::RollbackTo(step),
            (_, _, _, Some(step)) => ResumeMode::From(step),
            _ => ResumeMode::Continue,
        }
    }
}

/// How one attempt of a step ended, as observed by the executor or reported by an operator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", tag = "end")]
pub enum AttemptEnd {
    /// The process exited with this code (0 is success).
    Exited { code: i32 },
    /// The process was ended by a signal it did not ask for.
    Signaled { signal: i32 },
    /// The step ran past its timeout and its process group was terminated.
    TimedOut { timeout_ms: u64 },
    /// The command could not be started at all.
    SpawnFailed { error: String },
    /// An operator reported the outcome of an external step.
    Reported { success: bool },
    /// The agent runner (Claude Code) exited 0 but its result says the work failed, or it
    /// printed no result that could be read (event version 2).
    AgentFailed { error: String },
    /// The child run of a `uses:` step ended (`finished`: sealed) or paused (failed,
    /// resumable) with this outcome (event version 3).
    Child {
        run_id: String,
        outcome: Outcome,
        /// The child run is over for good: a later attempt starts a new child run. Otherwise
        /// (a paused child) a later attempt resumes it.
        finished: bool,
        /// Why it failed, in the child's words.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
}

impl AttemptEnd {
    /// How `describe` starts for `SpawnFailed`: the recorded error of an attempt that could
    /// not start.
    pub const SPAWN_FAILED: &'static str = "could not start: ";

    /// Part of the recorded error of an attempt whose command Linux would not start for its
    /// arguments and environment (E2BIG): one value longer than it passes in one.
    pub const UNPASSABLE_ONE: &'static str = "Linux passes at most ";
    /// ... or all of them together (`ARG_MAX`).
    pub const UNPASSABLE_TOTAL: &'static str = "more than Linux passes to a program";
    /// ... or a value holding a NUL character, which none can carry.
    pub const UNPASSABLE_NUL: &'static str = "holds a NUL character: ";

    /// Whether `error`, an attempt's recorded error, says its command could not start for a
    /// value Linux does not pass (too long, too much together, holding a NUL): the same values
    /// are refused the same way however often the attempt is tried, so none is retried and
    /// `resume --retry` is not offered.
    pub fn unpassable(error: &str) -> bool {
        error.starts_with(Self::SPAWN_FAILED)
            && [
                Self::UNPASSABLE_ONE,
                Self::UNPASSABLE_TOTAL,
                Self::UNPASSABLE_NUL,
            ]
            .iter()
            .any(|m| error.contains(m))
    }

    pub fn succeeded(&self) -> bool {
        matches!(
            self,
            AttemptEnd::Exited { code: 0 }
                | AttemptEnd::Reported { success: true }
                | AttemptEnd::Child {
                    outcome: Outcome::Completed,
                    ..
                }
        )
    }

    /// How the attempt ended, as a clause: "exited with code 3", "timed out after 10s".
    pub fn describe(&self) -> String {
        match self {
            AttemptEnd::Exited { code } => format!("exited with code {code}"),
            AttemptEnd::Signaled { signal } => format!("killed by signal {signal}"),
            AttemptEnd::TimedOut { timeout_ms } => format!(
                "timed out after {}",
                humantime::format_duration(std::time::Duration::from_millis(*timeout_ms))
            ),
            AttemptEnd::SpawnFailed { error } => format!("{}{error}", AttemptEnd::SPAWN_FAILED),
            AttemptEnd::Reported { success: true } => "reported done".to_string(),
            AttemptEnd::Reported { success: false } => "reported failed".to_string(),
            AttemptEnd::AgentFailed { error } => error.clone(),
            AttemptEnd::Child {
                run_id,
                outcome,
                finished,
                reason,
            } => {
                let how = match (outcome, finished) {
                    (Outcome::Failed, false) => "failed (it can be resumed)".to_string(),
                    (o, _) => o.as_str().replace('_', " "),
                };
                match reason {
                    Some(r) => format!("child run {run_id} {how}: {r}"),
                    None => format!("child run {run_id} {how}"),
                }
            }
        }
    }

    pub fn exit_code(&self) -> Option<i32> {
        match self {
            AttemptEnd::Exited { code } => Some(*code),
            _ => None,
        }
    }
}

/// The first event of every run: everything needed to replay it without reading any file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RunStarted {
    pub kind: RunKind,
    pub name: String,
    /// The definition snapshot: the run executes this, whatever happens to the file later.
    pub definition: serde_json::Value,
    /// blake3 of the canonical JSON of `definition`, to notice a file edited mid-run.
    pub definition_hash: String,
    /// Where the definition came from (a path, or `builtin:NAME`).
    pub source: String,
    pub inputs: BTreeMap<String, serde_json::Value>,
    /// The inputs whose values are secret: `inputs` holds `***` for them, and a driver must be
    /// given them again (`resume --input NAME=VALUE`, or `CORTEX_INPUT_<NAME>`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secret_inputs: Vec<String>,
    /// The secret inputs that took their definition's `default:`: a driver takes the value
    /// from the definition snapshot, nobody has to give it again.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secret_defaults: Vec<String>,
    pub config: Config,
    /// The `command` of every agent the definition names, resolved at `run` (none: external).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub agents: BTreeMap<String, Option<String>>,
    /// How the agents that run with Claude Code are run (the configuration and the agent
    /// files, as they were at `run`); absent when none does (event version 2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claude: Option<ClaudeSetup>,
    /// The directory commands run in, recorded so that `resume` runs there too.
    pub working_dir: String,
    pub driver: Driver,
    #[serde(flatten)]
    pub by: Operator,
    /// A child run: the run and the `uses:` step (and its attempt) that started it (event
    /// version 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<ParentRun>,
    /// Every workflow the definition's `uses:` steps run, directly or through their own
    /// `uses:`, as it was at `run`, keyed by the `uses:` text (event version 3): a child run is
    /// made from this, never from a file read later.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub uses: BTreeMap<String, UsedWorkflow>,
}

/// The parent of a child run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ParentRun {
    pub run_id: String,
    /// The `uses:` step (a unit name: `deploy[0]` for an item of a `foreach:`).
    pub step: String,
    pub attempt: u32,
}

/// A workflow a `uses:` step runs, snapshotted when the run started.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UsedWorkflow {
    pub name: String,
    /// Where it came from (a path, or `builtin:NAME`).
    pub source: String,
    pub definition: serde_json::Value,
    pub definition_hash: String,
}

/// What checking a step's `if:` found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConditionCheck {
    pub step: String,
    /// The condition as written: the expression, or `run: COMMAND`.
    pub condition: String,
    /// Whether the step runs (false also when the condition could not be decided).
    pub holds: bool,
    /// Each reference the expression read and the value it saw (`'dev'`, `3`, `true`,
    /// `(not recorded)`; `***` for a secret input or output).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub values: BTreeMap<String, String>,
    /// The exit code of a command condition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// Why it could not be decided (a value of the wrong kind, a command that could not run):
    /// the step then fails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl ConditionCheck {
    /// Why the step is skipped or failed, with what the condition saw.
    pub fn reason(&self) -> String {
        let saw = if self.values.is_empty() {
            String::new()
        } else {
            let parts: Vec<String> = self
                .values
                .iter()
                .map(|(k, v)| format!("{k} = {v}"))
                .collect();
            format!(" ({})", parts.join(", "))
        };
        match (&self.error, self.exit_code) {
            (Some(e), _) => format!("if: {} cannot be decided: {e}{saw}", self.condition),
            (None, Some(code)) => format!("if: {} exited with code {code}", self.condition),
            (None, None) if self.holds => format!("if: {} is true{saw}", self.condition),
            (None, None) => format!("if: {} is false{saw}", self.condition),
        }
    }
}

impl RunStarted {
    /// The secret inputs whose values whoever drives the run must be given again (those that
    /// took no `default:`), in the definition's order.
    pub fn secret_inputs_to_give(&self) -> Vec<String> {
        self.secret_inputs
            .iter()
            .filter(|n| !self.secret_defaults.contains(n))
            .cloned()
            .collect()
    }
}

#[cfg(test)]
impl RunStarted {
    /// A run of `definition` started in `/` by `t` on host `h`, with the default configuration
    /// and no inputs, for unit tests.
    pub(crate) fn for_test(
        kind: RunKind,
        name: &str,
        definition: serde_json::Value,
        definition_hash: String,
    ) -> RunStarted {
        RunStarted {
            kind,
            name: name.into(),
            definition,
            definition_hash,
            source: format!("{name}.yaml"),
            inputs: BTreeMap::new(),
            secret_inputs: Vec::new(),
            secret_defaults: Vec::new(),
            config: Config::default(),
            agents: BTreeMap::new(),
            claude: None,
            working_dir: "/".into(),
            driver: Driver {
                pid: 1,
                host: "h".into(),
            },
            by: Operator {
                actor: "t".into(),
                message: None,
            },
            parent: None,
            uses: BTreeMap::new(),
        }
    }
}

/// What an agent runner (Claude Code, `--output-format json`) reported at the end of an
/// attempt: recorded whether the attempt succeeded or not (event version 2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentResult {
    pub step: String,
    pub attempt: u32,
    /// The agent that ran (as the definition names it).
    pub agent: String,
    pub runner: AgentRunner,
    /// The runner's own verdict (`is_error`).
    pub is_error: bool,
    /// How its session ended (`success`, `error_max_turns`, `error_during_execution`, ...).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub subtype: String,
    /// Its final text (`result`); on success also recorded as the step's output `result`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub result: String,
    /// Its error messages (`errors`), when it gives them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
    /// The session, which a retry of the step resumes (`--resume`).
    pub session_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_cost_usd: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub num_turns: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_api_ms: Option<u64>,
}

/// Whether an agent runner's session failed, from its verdict and how it ended (`AgentResult::failed`).
pub fn session_failed(is_error: bool, subtype: &str) -> bool {
    is_error || (!subtype.is_empty() && subtype != "success")
}

impl AgentResult {
    /// Whether the runner's session failed: it said so (`is_error`), or it ended any way but
    /// `success` (Claude Code prints `error_max_turns` or `error_max_budget_usd` with
    /// `is_error: false` and no `result` when it ran out of turns or budget mid-work: work
    /// left half done is not a completed step).
    pub fn failed(&self) -> bool {
        session_failed(self.is_error, &self.subtype)
    }

    /// What went wrong, in the runner's words, when its session failed (`failed`): its
    /// result text, else its error messages, else how its session ended (with its turns).
    pub fn error_text(&self) -> Option<String> {
        if !self.failed() {
            return None;
        }
        let text = self.result.trim();
        Some(if !text.is_empty() {
            text.to_string()
        } else if !self.errors.is_empty() {
            self.errors.join("; ")
        } else if !self.subtype.is_empty() {
            match self.num_turns {
                Some(turns) if !self.is_error => format!(
                    "{} stopped with `{}` after {turns} turns, its work unfinished",
                    self.runner.as_str(),
                    self.subtype
                ),
                _ => format!("{} reported `{}`", self.runner.as_str(), self.subtype),
            }
        } else {
            format!("{} reported an error", self.runner.as_str())
        })
    }
}

/// What a scheduler did with a due time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FireOutcome {
    /// A run starts for it.
    Start,
    /// Nothing starts: the previous run is still going (`overlap: skip`), or one already waits.
    Skip,
    /// Its run starts when the previous one ends (`overlap: queue`).
    Queue,
}

impl FireOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            FireOutcome::Start => "start",
            FireOutcome::Skip => "skip",
            FireOutcome::Queue => "queue",
        }
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// One fact in the life of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", content = "body", rename_all = "snake_case")]
pub enum Event {
    RunStarted(Box<RunStarted>),
    ValidationPassed {
        stage: Stage,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        step: Option<String>,
    },
    ValidationFailed {
        stage: Stage,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        step: Option<String>,
        problems: Vec<String>,
    },
    StepStarted {
        step: String,
        attempt: u32,
    },
    /// An external step (a prompt with nothing to run it) waits for a person or an agent.
    StepWaiting {
        step: String,
        attempt: u32,
    },
    OutputRecorded {
        step: String,
        key: String,
        value: String,
    },
    StepSucceeded {
        step: String,
        attempt: u32,
        end: AttemptEnd,
        output_tail: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        by: Option<Operator>,
    },
    StepFailed {
        step: String,
        attempt: u32,
        end: AttemptEnd,
        error: String,
        output_tail: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        by: Option<Operator>,
    },
    StepTimedOut {
        step: String,
        attempt: u32,
        timeout_ms: u64,
        output_tail: String,
    },
    /// What the agent runner of an attempt reported (Claude Code's JSON result), just before
    /// the attempt's end.
    AgentResult(Box<AgentResult>),
    /// A notification of the run's failure or end was delivered, or given up on (in the
    /// run's notification stream `notify:RUN`, so that the run's seal stays its head).
    NotificationDelivered {
        /// `on_failure` or `on_finish`.
        trigger: String,
        /// `run: CMD` or `webhook: URL`.
        notification: String,
        /// Tries made (retries with backoff).
        attempts: u32,
        ok: bool,
        /// How the last try went: an HTTP status, an exit code, an error.
        detail: String,
        /// The end of the run it was for (`completed`, `failed`, `aborted`, `rolled_back`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        status: Option<String>,
        /// The driving session it was for: the sequence number of the run's `run_started` or
        /// `run_resumed` that began it (each list is delivered once per end of a session).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        session: Option<u64>,
        /// Which notification of its list it was (0 first): each is due until its own
        /// delivery is recorded. Absent in records written before: such a record stands for
        /// its whole list.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        index: Option<u32>,
    },
    /// A schedule's time came (in the schedule's stream `schedule:KIND:NAME`): what the
    /// scheduler decided, once per due minute whatever the number of schedulers.
    ScheduleFired {
        /// The minute that was due (RFC 3339, UTC).
        due: String,
        /// The cron expression it was due by.
        cron: String,
        outcome: FireOutcome,
        /// Why it was skipped or queued (the run still going).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
        /// Earlier due times missed while no scheduler ran, caught up by this one
        /// (`--catch-up`: one run for them all).
        #[serde(default, skip_serializing_if = "is_zero")]
        missed: u64,
        /// The scheduler that decided.
        scheduler: Driver,
    },
    /// A scheduler saw this schedule for the first time, or with a cron expression other than
    /// the one it last fired or was seen with (event version 4): only times at or after `at`
    /// fire (with `--catch-up` too; `at` itself when it is a due minute). Before, a schedule added (or changed) after a due time it had
    /// not existed for fired that time at once, late.
    ScheduleSeen {
        /// The cron expression seen.
        cron: String,
        /// When it was seen (RFC 3339, UTC, whole seconds: the scheduler's clock).
        at: String,
        /// The scheduler that saw it.
        scheduler: Driver,
    },
    /// A queued time is released: its run starts, the run before it having ended.
    ScheduleReleased {
        due: String,
        scheduler: Driver,
    },
    /// The run was recorded for workers to drive (`run --submit`), not by the process that
    /// recorded it (event version 3).
    RunSubmitted {
        by: Operator,
    },
    /// A worker claimed attempt `attempt` of a step or phase under a lease (`epoch`): it
    /// starts the attempt (its start follows in the same append), and only a result it
    /// reports while still holding that lease is applied (event version 3).
    AttemptClaimed {
        step: String,
        attempt: u32,
        worker: String,
        host: String,
        epoch: u64,
    },
    /// A result that came after its attempt's lease had changed hands (lapsed and taken over):
    /// recorded, never applied (event version 3).
    AttemptRejected {
        step: String,
        attempt: u32,
        worker: String,
        host: String,
        reason: String,
    },
    /// The run started for a due time, or why none was (its driver refused to start).
    ScheduledRun {
        due: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        run_id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    /// The whole output of an attempt, kept in a file beside the log (the end event keeps
    /// only its tail): where, how long, and its blake3, so that `log verify` checks the file
    /// too. Just before the attempt's end (event version 2).
    AttemptLog {
        step: String,
        attempt: u32,
        /// Relative to the home: `logs/RUN/step-KEY-attempt-M.log` (`execute::attempt_log_name`).
        file: String,
        bytes: u64,
        blake3: String,
        /// The identity of the home that wrote the file (`execute::home_id`, its `home.id`),
        /// so that `log verify` can tell a file this home lost from one kept elsewhere.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        home: Option<String>,
        /// Where that home was when it wrote the file (its folder, absolute): so that a file
        /// missing here is looked for in the home that wrote it, on this machine, and a home
        /// whose `home.id` was deleted or replaced is still known as the one that wrote it
        /// (`execute::belongs_here`). Event version 9.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        home_dir: Option<String>,
        /// The file is incomplete: this many bytes the attempt printed could not be written to
        /// it (a full disk), so its output is missing from the file, which holds `bytes` (whose
        /// size and hash are recorded as it is). Event version 5.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        lost_bytes: Option<u64>,
        /// Why they could not be written (the first write error).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        lost_reason: Option<String>,
    },
    /// The attempt ended without an outcome: its driver died or was stopped.
    StepInterrupted {
        step: String,
        attempt: u32,
        reason: String,
    },
    RetryScheduled {
        step: String,
        attempt: u32,
        delay_ms: u64,
    },
    StepSkipped {
        step: String,
        reason: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        by: Option<Operator>,
    },
    /// A resume point: the run can go on from after `step` (which steps were done by then is
    /// in the log before it).
    CheckpointSaved {
        step: String,
    },
    /// The compensation plan: `steps` are compensated in this order (newest completion first).
    RollbackStarted {
        reason: String,
        steps: Vec<String>,
        /// Where the run goes on afterwards (`resume --rollback-to`); none ends it `rolled_back`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        resume_after: Option<String>,
    },
    StepCompensated {
        step: String,
        /// False when the step has no `rollback` command: nothing had to be undone.
        ran: bool,
        output_tail: String,
    },
    CompensationFailed {
        step: String,
        end: AttemptEnd,
        error: String,
        output_tail: String,
    },
    RollbackFinished {
        failed: Vec<String>,
        /// An abort ended the rollback: the compensation it cut off mid-command (its step
        /// may be half-undone).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cut_off: Option<String>,
        /// An abort ended the rollback: the compensations it left unrun, in their order.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        not_run: Vec<String>,
    },
    /// The run stopped on a failure and can be resumed (`on_failure: pause`).
    RunPaused {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        step: Option<String>,
        reason: String,
    },
    StopRequested {
        #[serde(flatten)]
        by: Operator,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        signal: Option<String>,
        /// The operator asked to abort (`workflow abort` beside a live driver): the driver
        /// ends what runs and records the abort, not a stop.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        abort: bool,
    },
    /// The run stopped, resumable. `time_limit`: no operator asked — the run's time limit
    /// (`timeout_seconds`, `resume --timeout`) cut it, in these words (which limit, counted
    /// from when, how it is set); an operator's stop is the `stop_requested` before it.
    RunStopped {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        time_limit: Option<String>,
    },
    RunResumed {
        mode: ResumeMode,
        /// Steps from this one on are run again (the resume point, or `--from`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        restart_from: Option<String>,
        driver: Driver,
        #[serde(flatten)]
        by: Operator,
        /// The run's time limit from this resume on (`resume --timeout`, or the configuration
        /// in force at resume); absent in runs recorded before it existed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        timeout_seconds: Option<u64>,
        /// `enable_rollback` of the configuration in force at this resume where it decided a
        /// `--rollback-to` differently from the one recorded at `run`; absent otherwise.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        enable_rollback: Option<bool>,
        /// How Claude Code runs from this resume on (`agents.claude` of the configuration in
        /// force at resume: program, permission mode, model, args) where it differs from the
        /// one in force before (`run_started.claude`, or an earlier resume's); absent otherwise
        /// (event version 8).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        claude: Option<crate::definition::ClaudeConfig>,
        /// A scenario's completed phases that are no resume point (no checkpoint keeps them:
        /// `enable_checkpoints: false`) and run again.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        rerun: Vec<String>,
    },
    /// An operator asked for a manual phase to start (`orchestrate start`, `run --start`).
    PhaseStartRequested {
        phase: String,
        #[serde(flatten)]
        by: Operator,
    },
    /// An agent became active for a phase (or by hand, in the `agents` registry stream).
    AgentActivated {
        agent: String,
        phase: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        by: Option<Operator>,
    },
    AgentDeactivated {
        agent: String,
        phase: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        by: Option<Operator>,
    },
    /// A success criterion of a completed phase: a checklist item confirmed by whoever
    /// completed it, or a check the engine ran and saw pass.
    CriterionMet {
        phase: String,
        criterion: String,
        checked: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        by: Option<Operator>,
    },
    /// A step's `if: {run: COMMAND}` command was started (event version 7), before it runs,
    /// as `step_started` is before an attempt: a driver that dies while it runs leaves a run
    /// that is cut short (`interrupted`), not one that waits. Ended by `condition_checked`;
    /// a driver that takes the run over starts the command again.
    ConditionStarted {
        step: String,
    },
    /// A step's `if:` was checked (event version 3).
    ConditionChecked(Box<ConditionCheck>),
    /// The list of a `foreach:` step was read: its items become units `STEP[0]`, `STEP[1]`,
    /// ... right after it, each run like a step (event version 3).
    ForeachExpanded {
        step: String,
        /// Each item's JSON text, numbers as written (`definition::Item`).
        items: Vec<crate::definition::Item>,
    },
    /// The list of a `foreach:` step could not be read (not a JSON list): the step fails
    /// (event version 3).
    ForeachFailed {
        step: String,
        error: String,
    },
    /// Every item of a `foreach:` step is done (completed or skipped): the step completes.
    /// Its outputs, the JSON lists of its items' values, are recorded just before (event
    /// version 3).
    ForeachFinished {
        step: String,
        completed: u32,
        skipped: u32,
    },
    /// An attempt of a `uses:` step starts child run `run_id` of `workflow`; recorded before
    /// the child's `run_started` (event version 3).
    ChildStarted {
        step: String,
        attempt: u32,
        run_id: String,
        workflow: String,
    },
    /// The child run of a `uses:` step waits for a report or a start; the step waits with it
    /// (event version 3).
    ChildWaiting {
        step: String,
        attempt: u32,
        run_id: String,
    },
    /// The sealing event: the run is over and its head hash can be anchored elsewhere.
    RunFinished {
        outcome: Outcome,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        by: Option<Operator>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
}

impl Event {
    /// The operator whose action this event records (`--actor`, `--message`), if a person or
    /// an agent acted rather than a driver on its own.
    pub fn operator(&self) -> Option<&Operator> {
        match self {
            Event::RunStarted(start) => Some(&start.by),
            Event::RunSubmitted { by }
            | Event::StopRequested { by, .. }
            | Event::RunResumed { by, .. }
            | Event::PhaseStartRequested { by, .. } => Some(by),
            Event::StepSucceeded { by, .. }
            | Event::StepFailed { by, .. }
            | Event::StepSkipped { by, .. }
            | Event::AgentActivated { by, .. }
            | Event::AgentDeactivated { by, .. }
            | Event::CriterionMet { by, .. }
            | Event::RunFinished { by, .. } => by.as_ref(),
            _ => None,
        }
    }

    /// The stored `type` column.
    pub fn type_name(&self) -> &'static str {
        match self {
            Event::RunStarted(_) => "run_started",
            Event::ValidationPassed { .. } => "validation_passed",
            Event::ValidationFailed { .. } => "validation_failed",
            Event::StepStarted { .. } => "step_started",
            Event::StepWaiting { .. } => "step_waiting",
            Event::OutputRecorded { .. } => "output_recorded",
            Event::StepSucceeded { .. } => "step_succeeded",
            Event::StepFailed { .. } => "step_failed",
            Event::StepTimedOut { .. } => "step_timed_out",
            Event::AgentResult(_) => "agent_result",
            Event::AttemptLog { .. } => "attempt_log",
            Event::NotificationDelivered { .. } => "notification_delivered",
            Event::ScheduleFired { .. } => "schedule_fired",
            Event::ScheduleSeen { .. } => "schedule_seen",
            Event::ScheduleReleased { .. } => "schedule_released",
            Event::ScheduledRun { .. } => "scheduled_run",
            Event::RunSubmitted { .. } => "run_submitted",
            Event::AttemptClaimed { .. } => "attempt_claimed",
            Event::AttemptRejected { .. } => "attempt_rejected",
            Event::StepInterrupted { .. } => "step_interrupted",
            Event::RetryScheduled { .. } => "retry_scheduled",
            Event::StepSkipped { .. } => "step_skipped",
            Event::CheckpointSaved { .. } => "checkpoint_saved",
            Event::RollbackStarted { .. } => "rollback_started",
            Event::StepCompensated { .. } => "step_compensated",
            Event::CompensationFailed { .. } => "compensation_failed",
            Event::RollbackFinished { .. } => "rollback_finished",
            Event::RunPaused { .. } => "run_paused",
            Event::StopRequested { .. } => "stop_requested",
            Event::RunStopped { .. } => "run_stopped",
            Event::RunResumed { .. } => "run_resumed",
            Event::RunFinished { .. } => "run_finished",
            Event::PhaseStartRequested { .. } => "phase_start_requested",
            Event::AgentActivated { .. } => "agent_activated",
            Event::AgentDeactivated { .. } => "agent_deactivated",
            Event::CriterionMet { .. } => "criterion_met",
            Event::ConditionStarted { .. } => "condition_started",
            Event::ConditionChecked(_) => "condition_checked",
            Event::ForeachExpanded { .. } => "foreach_expanded",
            Event::ForeachFailed { .. } => "foreach_failed",
            Event::ForeachFinished { .. } => "foreach_finished",
            Event::ChildStarted { .. } => "child_started",
            Event::ChildWaiting { .. } => "child_waiting",
        }
    }

    /// The event schema version this event is written with: the first version that has its
    /// form. Version 2 added `agent_result`, `attempt_log`, the `agent_failed` attempt end,
    /// `run_started.claude`, `stop_requested.abort` and `run_resumed.timeout_seconds`; every other event is still written as version 1, so a log with
    /// no agent runner stays readable by a cortex that knows version 1 only, and one with
    /// them is refused by it as "newer" rather than as undecodable. Version 3 added
    /// composition: `condition_checked`, `foreach_*`, `child_*`, the `child` attempt end and
    /// `run_started.parent`/`uses`. Version 4 added `schedule_seen`; 5, `attempt_log.lost_bytes`
    /// (an incomplete file); 6, `run_resumed.enable_rollback`; 7, `condition_started`; 8,
    /// `run_resumed.claude`; 9, `attempt_log.home_dir`; 10, `run_stopped.time_limit` (a run its
    /// time limit cut is stopped, no longer paused as failed).
    pub fn version(&self) -> u32 {
        let agent_failed = |end: &AttemptEnd| matches!(end, AttemptEnd::AgentFailed { .. });
        let child = |end: &AttemptEnd| matches!(end, AttemptEnd::Child { .. });
        match self {
            Event::RunStopped {
                time_limit: Some(_),
            } => 10,
            Event::AttemptLog {
                home_dir: Some(_), ..
            } => 9,
            Event::RunResumed {
                claude: Some(_), ..
            } => 8,
            Event::ConditionStarted { .. } => 7,
            Event::AttemptLog {
                lost_bytes: Some(_),
                ..
            } => 5,
            Event::RunResumed {
                enable_rollback: Some(_),
                ..
            } => 6,
            Event::ScheduleSeen { .. } => 4,
            Event::ConditionChecked(_)
            | Event::ForeachExpanded { .. }
            | Event::ForeachFailed { .. }
            | Event::ForeachFinished { .. }
            | Event::ChildStarted { .. }
            | Event::ChildWaiting { .. }
            | Event::RunSubmitted { .. }
            | Event::AttemptClaimed { .. }
            | Event::AttemptRejected { .. } => 3,
            Event::RunStarted(started) if started.parent.is_some() || !started.uses.is_empty() => 3,
            Event::StepFailed { end, .. }
            | Event::StepSucceeded { end, .. }
            | Event::CompensationFailed { end, .. }
                if child(end) =>
            {
                3
            }
            Event::AgentResult(_)
            | Event::AttemptLog { .. }
            | Event::NotificationDelivered { .. }
            | Event::ScheduleFired { .. }
            | Event::ScheduleReleased { .. }
            | Event::ScheduledRun { .. } => 2,
            // Forms an older cortex would misread (an abort taken for a stop, a lifted limit
            // ignored) rather than refuse.
            Event::StopRequested { abort: true, .. } => 2,
            Event::RunResumed {
                timeout_seconds: Some(_),
                ..
            } => 2,
            Event::RunStarted(started) if started.claude.is_some() => 2,
            Event::StepFailed { end, .. }
            | Event::StepSucceeded { end, .. }
            | Event::CompensationFailed { end, .. }
                if agent_failed(end) =>
            {
                2
            }
            _ => 1,
        }
    }

    /// The stored `body` column: the event's fields as compact JSON.
    /// A `foreach_expanded` is written in the log's form (`exact_json`: keys sorted, compact),
    /// never through a `serde_json::Value`, which would change the numbers of its items as
    /// written (`1.10` became `1.1`); every other event goes through a `Value` as before (the
    /// same bytes, so the chains of old logs are unchanged, and the cheaper path: the step
    /// path appends several events a step).
    pub fn body_json(&self) -> String {
        if !matches!(self, Event::ForeachExpanded { .. }) {
            // The step path's form (every event but a list's items): through a `Value`,
            // whose keys are sorted and whose numbers are cortex's own, taken out of the
            // tree, not copied (this runs for every event appended).
            let mut value = serde_json::to_value(self).expect("events always serialise");
            let body = value
                .as_object_mut()
                .and_then(|event| event.remove("body"))
                .unwrap_or_else(|| serde_json::json!({}));
            return serde_json::to_string(&body).expect("a JSON value always serialises");
        }
        #[derive(Deserialize)]
        struct Parts<'a> {
            #[serde(borrow)]
            body: Option<&'a serde_json::value::RawValue>,
        }
        let event = serde_json::to_string(self).expect("events always serialise");
        let parts: Parts<'_> = serde_json::from_str(&event).expect("an event reads back");
        parts.body.map_or_else(
            || "{}".to_string(),
            |body| super::exact_json::canonical(body.get()).expect("an event's body is JSON"),
        )
    }

    /// Rebuild an event from its stored `type` and `body` columns.
    pub fn from_parts(type_name: &str, body: &str) -> Result<Event, serde_json::Error> {
        // One parse of `{"type": T, "body": B}`: no intermediate `Value` (replay speed). The
        // body must be one JSON value on its own, or it could smuggle in other keys.
        serde_json::from_str::<serde::de::IgnoredAny>(body)?;
        let tag = serde_json::to_string(type_name)?;
        serde_json::from_str(&format!("{{\"type\":{tag},\"body\":{body}}}"))
    }
}
