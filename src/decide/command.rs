//! Commands: what the shell asks the decider to record, carrying facts from outside.

use crate::event::{
    AgentResult, AttemptEnd, ConditionCheck, Driver, Operator, ResumeMode, RunStarted,
};

/// The outcome of one attempt, as observed by the executor or reported by an operator.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptReport {
    pub step: String,
    pub attempt: u32,
    pub end: AttemptEnd,
    /// `key=value` outputs the attempt wrote to `$CORTEX_OUTPUT` (or `--output`).
    pub outputs: Vec<(String, String)>,
    /// The bounded, redacted tail of what the attempt printed.
    pub output_tail: String,
    /// Problems found by the step's `validate: - run:` checks (run by the shell).
    pub validation_problems: Vec<String>,
    pub by: Option<Operator>,
    /// What the agent runner (Claude Code) reported, when one ran the attempt and printed a
    /// result; its step and attempt are this report's.
    pub agent: Option<Box<AgentResult>>,
    /// The file the attempt's whole output was kept in, when the engine ran it.
    pub log: Option<LoggedOutput>,
    /// The attempt could not start for a reason no retry changes (its working directory does
    /// not exist, a value is longer than Linux passes or holds a NUL: a fault of the definition,
    /// its inputs or the host, not of the moment): the step fails at once, its retries
    /// unspent, whatever its `retry:` says.
    pub permanent: bool,
}

/// An attempt's whole output, as kept beside the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedOutput {
    /// Relative to the home.
    pub file: String,
    pub bytes: u64,
    /// blake3 of the file, hex.
    pub blake3: String,
    /// The identity of the home that wrote it.
    pub home: Option<String>,
    /// Where that home is (its folder, absolute).
    pub home_dir: Option<String>,
    /// Bytes the attempt printed that could not be written to the file, and why (the file
    /// is recorded as it is, marked incomplete).
    pub lost: Option<(u64, String)>,
    /// Where it is on this host, for the journal to scrub from it a secret output the attempt
    /// printed before its value was known (`Journal::scrub_attempt_file`). Not recorded.
    pub path: Option<std::path::PathBuf>,
}

/// A request to change a run.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    Start(Box<RunStarted>),
    /// A completed child run (`uses:`) whose parent's rollback compensates the step that ran
    /// it: its completed steps are compensated, newest first, in its own log (a rollback
    /// begun after its end; it ends `rolled_back`). `reason` is the parent's, as said here.
    RollBackForParent {
        reason: String,
    },
    /// Inputs, prerequisites and health checks were checked; these problems were found.
    RecordPreValidation {
        problems: Vec<String>,
    },
    /// Begin the next attempt of the current step.
    StartAttempt {
        step: String,
    },
    FinishAttempt(Box<AttemptReport>),
    /// The run is left for workers to drive (`run --submit`).
    Submit {
        by: Operator,
    },
    /// A worker holding the lease `epoch` of step `step` begins its next attempt.
    ClaimAttempt {
        step: String,
        worker: String,
        host: String,
        epoch: u64,
    },
    /// The lease of attempt `attempt` of `step` lapsed and was taken over: the attempt ends
    /// without an outcome (nothing if it already ended).
    InterruptAttempt {
        step: String,
        attempt: u32,
        reason: String,
    },
    /// A driver takes over a run whose driver died: the attempts that driver had in flight
    /// end without an outcome (`decide::orphaned`), as a resume ends them.
    InterruptOrphans {
        /// Taken over by a worker: attempts a worker claimed are left to their leases.
        leave_claimed: bool,
        /// As for `Resume`: the driver before lost its lease rather than ended.
        lease_lapsed: bool,
    },
    /// A result reported after its attempt's lease changed hands: recorded, not applied.
    RejectResult {
        step: String,
        attempt: u32,
        worker: String,
        host: String,
        reason: String,
    },
    /// A rollback command ran (`end` none: the step has no rollback command).
    RecordCompensation {
        step: String,
        end: Option<AttemptEnd>,
        output_tail: String,
    },
    RecordPostValidation {
        problems: Vec<String>,
    },
    /// Stop gracefully (an operator or a signal); the shell has already ended running commands.
    Stop {
        by: Operator,
        signal: Option<String>,
    },
    Resume {
        mode: ResumeMode,
        by: Operator,
        driver: Driver,
        /// The run's time limit from now on (`resume --timeout`, or the configuration in
        /// force at resume); none keeps the one in force.
        timeout_seconds: Option<u64>,
        /// `enable_rollback` of the configuration in force at resume, which decides a
        /// `--rollback-to` (as `timeout_seconds` does the time limit); none: the one recorded
        /// at `run`.
        enable_rollback: Option<bool>,
        /// The `agents.claude` block of the configuration in force at resume: how Claude Code
        /// runs from now on (program, permission mode, model, args), as the time limit does;
        /// none keeps the one in force. Recorded only where it differs from that one.
        claude: Option<crate::definition::ClaudeConfig>,
        /// A worker's resume (`cortex worker` taking a run over): attempts a worker claimed
        /// are left to their leases — the worker reaps the lapsed ones — instead of being
        /// ended as the dead driver's. A worker that helped with the run and took it over
        /// once ended its own running phase and ran it again.
        leave_claimed: bool,
        /// The driver before was taken over because its driver lease lapsed (this driver's
        /// lease took it over: epoch past 1), not because its process was seen gone: the
        /// attempts it had in flight are recorded interrupted saying so.
        lease_lapsed: bool,
    },
    /// A process taking over a run whose driver died (a resume, a worker, an abort) records
    /// first the stop or abort that driver was asked for and never acted on: an abort ends
    /// the run (by its requester), a stop stops it. Nothing pending: nothing recorded.
    TakeUpRequest,
    Abort {
        by: Operator,
        /// The compensation the aborting driver ended mid-command (its step's rollback was
        /// running): recorded as cut off, not as never run.
        cut_off: Option<String>,
    },
    /// An operator asks for a manual phase to start.
    RequestStart {
        phase: String,
        by: Operator,
    },
    /// An operator asks the driver of a run to stop (it records the stop when it has ended
    /// the running commands), or, with `abort`, to end the run for good.
    RequestStop {
        by: Operator,
        abort: bool,
    },
    /// Pause the run for a reason outside any step (a fault of cortex's home); attempts in
    /// flight end without an outcome and run again on resume.
    Pause {
        reason: String,
    },
    /// Stop the run at its time limit (`reason`: the limit's words, `time_limit_reason`): what
    /// runs or waits ends without an outcome, as an operator's stop ends it, and runs again
    /// (or waits again) on resume.
    StopAtTimeLimit {
        reason: String,
    },
    /// A step's `if: {run:}` command is about to run: recorded first, so that a driver that
    /// dies while it runs leaves the run `interrupted` (the command runs again on takeover).
    StartCondition {
        step: String,
    },
    /// A step's `if:` was checked (the shell evaluated the expression or ran the command):
    /// what it found.
    RecordCondition(Box<ConditionCheck>),
    /// A `foreach:` step's list was read (its items), or could not be (why).
    RecordItems {
        step: String,
        items: Result<Vec<crate::definition::Item>, String>,
    },
    /// The attempt in flight of a `uses:` step starts child run `run_id` (before the child's
    /// own `run_started` is appended).
    StartChild {
        step: String,
        run_id: String,
        workflow: String,
        /// The child run the step links to, which its driver saw over for good (aborted, say)
        /// after the step had failed with it (`ChildLink::reported`): replaced, not resumed.
        replacing: Option<String>,
    },
    /// The child run of a `uses:` step waits for a report or a start.
    ChildWaiting {
        step: String,
        run_id: String,
    },
}
