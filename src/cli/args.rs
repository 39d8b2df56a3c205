//! The command line (SPEC §5), declared with clap.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// cortex: a local-first, event-sourced orchestrator for multi-step operations.
#[derive(Debug, Parser)]
#[command(name = "cortex", version, about, propagate_version = true)]
pub struct Cli {
    /// Where definitions and the event log live [env: CORTEX_HOME; default: ~/.cortex].
    #[arg(long, global = true, value_name = "DIR")]
    pub home: Option<PathBuf>,
    /// Where the event log is: postgres://user@host:port/dbname (or a libpq `key=value`
    /// string) for PostgreSQL, a path or sqlite:PATH for SQLite [env: CORTEX_DB; default:
    /// `db` in cortex.config.json, else CORTEX_HOME/cortex.db].
    #[arg(long, global = true, value_name = "URL")]
    pub db: Option<String>,
    /// Print one JSON document on stdout and nothing else.
    #[arg(long, global = true)]
    pub json: bool,
    /// No colours (NO_COLOR is honoured too).
    #[arg(long, global = true)]
    pub no_color: bool,
    #[command(subcommand)]
    pub command: TopCommand,
}

/// What `resume --drive-on` takes none of: it is a drive on, not a resume.
const DRIVE_ON_CONFLICTS: [&str; 8] = [
    "retry",
    "skip",
    "rollback_to",
    "from",
    "inputs",
    "notify_only",
    "dry_run",
    "timeout",
];

#[derive(Debug, Subcommand)]
pub enum TopCommand {
    /// Ordered steps with validation gates, retries, rollback and resume.
    #[command(subcommand)]
    Workflow(WorkflowCommand),
    /// Scenarios: phases with conditions, parallel phases, agents and success criteria.
    #[command(subcommand)]
    Orchestrate(OrchestrateCommand),
    /// Agent definitions and which are active.
    #[command(subcommand)]
    Agent(AgentCommandArgs),
    /// The event log: show, verify, export, anchor, copy.
    #[command(subcommand)]
    Log(LogCommand),
    /// The terminal UI: scenarios and their runs live, a command palette (Ctrl+P), workflow runs.
    Tui {
        /// Who the actions taken in it are recorded as (default: user@host).
        #[arg(long, value_name = "NAME", value_parser = actor_name)]
        actor: Option<String>,
    },
    /// Serve the Model Context Protocol on stdin/stdout for Claude Code and other MCP clients
    /// (`claude mcp add cortex -- cortex mcp`): a tool for each command, each run's status as
    /// a resource; the server's log goes to stderr.
    Mcp {
        /// Who the actions taken through it are recorded as (default: mcp:<the client's name>).
        #[arg(long, value_name = "NAME", value_parser = actor_name)]
        actor: Option<String>,
    },
    /// The web dashboard and the HTTP API (`/api/v1/`) over this home's log.
    Serve {
        /// Where to listen; any address but loopback needs the token for every request
        /// (port 0 picks a free port; the address is printed).
        #[arg(long, default_value = "127.0.0.1:7420", value_name = "ADDR")]
        addr: String,
        /// The token every change needs (generated and printed when not given). Prefer
        /// CORTEX_SERVE_TOKEN: a command line is visible to every user through `ps`.
        #[arg(
            long,
            value_name = "TOKEN",
            env = "CORTEX_SERVE_TOKEN",
            hide_env_values = true
        )]
        token: Option<String>,
        /// Who the actions taken through the server are recorded as (default: user@host).
        #[arg(long, value_name = "NAME", value_parser = actor_name)]
        actor: Option<String>,
        /// The address people open when a proxy stands in front (e.g. an HTTPS proxy:
        /// https://cortex.example.com): changes from its pages are accepted, the printed
        /// sign-in address uses it, and every read needs the token too (requests come
        /// through the proxy from anywhere).
        #[arg(long, value_name = "URL")]
        public_url: Option<String>,
        /// How long an action that hands a run to a background driver (run, resume, a report
        /// after which the run has work) waits for the driver to record that it took the run;
        /// past it a run or resume is answered 504 (a report: recorded, with a warning), and
        /// the driver may still take it.
        #[arg(long, default_value_t = 60, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..=3600))]
        driver_wait: u64,
        /// How many connections are open at once, at most; one more is answered 503 with
        /// Retry-After and closed (default: half of `ulimit -n`, at most 1024). Event streams
        /// take at most half of them.
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(crate::serve::MIN_CONNECTIONS as u64..=1_000_000))]
        max_connections: Option<u64>,
        /// How long a connection may take to send a request's headers, from when it opens or
        /// from its last answer (so also how long an idle kept-alive connection stays open):
        /// past it, the connection is closed.
        #[arg(long, default_value_t = crate::serve::HEADER_TIMEOUT_SECS, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..=3600))]
        header_timeout: u64,
        /// How long a request's body may take to arrive once its headers have: past it, the
        /// request is answered 408 and the connection closed (nothing is recorded).
        #[arg(long, default_value_t = crate::serve::BODY_TIMEOUT_SECS, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..=3600))]
        body_timeout: u64,
        /// Do not fire schedules (by default the server runs a scheduler, as `cortex schedule
        /// run` does; any number may share a log, each due time fires once).
        #[arg(long)]
        no_schedule: bool,
        /// Do not deliver the notifications still due of runs whose driver died before
        /// delivering them (by default the server delivers them, as `cortex worker` does,
        /// each once nobody is on the run).
        #[arg(long)]
        no_notify: bool,
    },
    /// Print a JSON Schema: workflow, scenario, agent, config, event or results.
    Schema {
        /// The format: workflow, scenario, agent, config, event, or results (a finished run's
        /// `runs/<id>/results.json`).
        #[arg(value_parser = ["workflow", "scenario", "agent", "config", "event", "results"])]
        name: String,
    },
    /// Remove the derived files (runs/<id>/) of finished runs older than a duration, and the
    /// output files of background drivers (serve/, tui/, schedule/) as old; the log keeps
    /// everything, and runs' files are rebuilt from it when needed.
    Gc {
        /// How long ago a run must have ended (`30d`, `12h`, seconds), from 0 to 3650 days.
        #[arg(long, default_value = "30d", value_name = "DURATION")]
        older_than: String,
        /// Say what would be removed, removing nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Print a shell completion script (e.g. `cortex completions bash > /etc/bash_completion.d/cortex`).
    /// Its output is the script, so `--json` is refused.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print a manual page (roff): `cortex man | man -l -` for cortex(1), `cortex man workflow
    /// run` for cortex-workflow-run(1); `--all DIR` writes every page into DIR. Its output is
    /// roff, so `--json` is refused (with `--all`, the JSON lists the pages written).
    Man {
        /// The subcommand whose page to print, e.g. `workflow` or `workflow run` (default:
        /// the top page).
        #[arg(value_name = "COMMAND")]
        command: Vec<String>,
        /// Write every page (cortex.1, cortex-workflow.1, cortex-workflow-run.1, ...) into DIR
        /// instead, creating it.
        #[arg(long, value_name = "DIR", conflicts_with = "command")]
        all: Option<PathBuf>,
    },
    /// Workflows and scenarios that start by themselves (`schedule:`): list them, run the
    /// scheduler.
    #[command(subcommand)]
    Schedule(ScheduleCommand),
    /// Drive runs from any host that reaches the log: runs whose driver is gone (or submitted
    /// with `run --submit`) and the ready phases of runs other workers drive, under leases;
    /// SIGTERM drains it (nothing new is taken, what runs finishes, runs are handed back); a
    /// second ends what it runs (recorded interrupted, runs handed back), or the worker at
    /// once when it holds nothing; a third ends it.
    Worker {
        /// Its name, recorded on what it does (default: HOST-PID).
        #[arg(long)]
        name: Option<String>,
        /// The tags it offers (comma-separated): it runs steps and phases whose `runs_on:`
        /// they cover.
        #[arg(long, value_name = "TAG,...", default_value = "")]
        tags: String,
        /// How many steps or phases it runs at once.
        #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=256))]
        concurrency: u16,
        /// How long what it holds stays its own without renewal (renewed every third of it):
        /// a worker that dies or is cut off loses its work this long after. From 300ms to 1h.
        #[arg(long, default_value = "30s", value_name = "DURATION")]
        lease: String,
        /// How often it looks for work when nothing wakes it (PostgreSQL wakes it at once).
        /// From 20ms to 1h.
        #[arg(long, default_value = "1s", value_name = "DURATION")]
        poll: String,
        /// Exit once nothing is left for it (e.g. in CI, after `run --submit`).
        #[arg(long)]
        until_idle: bool,
        /// The value of a secret input, for the runs it takes that have one so named (repeat
        /// for several), as `CORTEX_INPUT_<NAME>` in its environment gives it; a run whose
        /// secret inputs it was not given is left to a worker that was. The environment is
        /// out of sight of `ps`, a command line is not: prefer it on a shared host.
        #[arg(long = "input", value_name = "NAME=VALUE")]
        inputs: Vec<String>,
        /// Do not run the scheduler (`schedule:`) beside it.
        #[arg(long)]
        no_schedule: bool,
    },
    /// The whole output of a run's attempts (of one step or phase), as kept beside the log.
    Logs {
        /// The run: its id, a unique prefix of it, or a workflow or scenario name (its latest
        /// run); default: the latest run.
        run: Option<String>,
        /// Only this step or phase (matched forgivingly).
        step: Option<String>,
        /// Keep printing as attempts write, until the run stops moving.
        #[arg(long, short = 'f', conflicts_with = "raw")]
        follow: bool,
        /// Print one attempt's output as its process wrote it: the bytes, no header, nothing
        /// decoded or escaped (to a terminal, control characters are still shown escaped).
        /// Needs STEP; its last attempt unless --attempt.
        #[arg(long, requires = "step")]
        raw: bool,
        /// Only this attempt (1, 2, ...): of STEP with --raw, else of each step shown.
        #[arg(long, value_name = "N", conflicts_with = "follow")]
        attempt: Option<u32>,
        /// With --json: at most N bytes of each attempt's output, its last (default 8192;
        /// at most 8 MiB in all). A cut attempt says so, and how to get more.
        #[arg(long, value_name = "N", conflicts_with = "raw")]
        tail_bytes: Option<u64>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ScheduleCommand {
    /// Every schedule, when it fires next (UTC) and what its last time became.
    List {
        /// Say when they fire next as if it were TIME (UTC, e.g. 2026-12-03T10:00:00Z).
        #[arg(long, value_name = "TIME")]
        at: Option<String>,
    },
    /// Fire schedules as their times come, until stopped (Ctrl-C): each due minute once,
    /// whatever the number of schedulers sharing the log, each run recorded with the actor
    /// `schedule`. `cortex serve` runs one too.
    Run {
        /// One pass, then exit: fire what is due in the current minute (and wait for the runs
        /// started to be recorded).
        #[arg(long)]
        once: bool,
        /// With --once: the pass as if it were TIME (UTC, e.g. 2026-12-03T10:00:00Z), at or
        /// before now: what the pass fires is recorded, so a later TIME is refused.
        #[arg(long, value_name = "TIME", requires = "once")]
        at: Option<String>,
        /// Fire, once, the latest time each schedule missed since its last recorded fire
        /// (while no scheduler ran). Without it, missed times are not run. A time before a
        /// scheduler first saw the schedule (or its cron expression changed) never runs; the
        /// minute it saw it at, if due then, does.
        #[arg(long)]
        catch_up: bool,
    },
}

/// What `workflow resume` and `orchestrate resume` take alike after the run and the way to go
/// on (`--retry`, `--skip`, `--rollback-to`, `--from`, each said of steps or of phases).
#[derive(Debug, Args)]
pub struct ResumeRest {
    /// The value of a secret input, NAME=VALUE (repeatable): the log keeps only `***` for
    /// it. `CORTEX_INPUT_<NAME>` in the environment works too.
    #[arg(long = "input", short = 'i', value_name = "NAME=VALUE")]
    pub inputs: Vec<String>,
    /// Only deliver the notifications (`notify:`) still due because the run's driver died
    /// before delivering them, and do nothing else: a run paused on a failure is not gone on
    /// with (a plain resume of it runs the failed unit again).
    #[arg(long, conflicts_with_all = ["retry", "skip", "rollback_to", "from", "timeout"])]
    pub notify_only: bool,
    /// Print what resume would do without doing it.
    #[arg(long)]
    pub dry_run: bool,
    /// Record the resume and return at once (exit 0, the run id on stdout): `cortex
    /// worker`s drive it, as they drive a run recorded with `run --submit`.
    #[arg(long, conflicts_with_all = ["dry_run", "notify_only", "rollback_to"])]
    pub submit: bool,
    /// The run's time limit from now on (`2h`, `90m`, seconds; 0: none) instead of
    /// `timeout_seconds` in cortex.config.json. From 0 to 30 days, in whole seconds.
    #[arg(long, value_name = "DURATION")]
    pub timeout: Option<String>,
    /// Drive on a run an operator's start or report (recorded by another process) left
    /// with work, as that report's own drive would: nothing of this command's own is
    /// recorded first (no `run_resumed`). For front ends that record a report and hand
    /// the run to a background driver (`cortex serve`); not for people.
    #[arg(long, hide = true, conflicts_with_all = DRIVE_ON_CONFLICTS)]
    pub drive_on: bool,
    #[command(flatten)]
    pub audit: Audit,
}

/// Who did an operator action, and why.
#[derive(Debug, Args, Clone, Default)]
pub struct Audit {
    /// Who is acting (default: user@host).
    #[arg(long, value_name = "NAME", value_parser = actor_name)]
    pub actor: Option<String>,
    /// Why, recorded with the action.
    #[arg(long, value_name = "TEXT", value_parser = message_text)]
    pub message: Option<String>,
}

/// A message is recorded with its action and shown with it: at most `MAX_MESSAGE_CHARS`
/// characters (one rule for every front end; DESIGN §4d).
fn message_text(value: &str) -> Result<String, String> {
    match crate::ops::message_problem(value) {
        Some(problem) => Err(format!("{problem}; {}", crate::ops::LONG_MESSAGE_HINT)),
        None => Ok(value.to_string()),
    }
}

#[derive(Debug, Subcommand)]
pub enum WorkflowCommand {
    /// List workflows (yours and the built-in templates).
    List,
    /// Check workflows without running them.
    #[command(group(clap::ArgGroup::new("target").required(true).args(["name", "all"])))]
    Validate {
        /// A name (forgiving) or a path to a .yaml file.
        name: Option<String>,
        /// Validate every workflow in CORTEX_HOME/workflows and every built-in.
        #[arg(long, conflicts_with = "name")]
        all: bool,
    },
    /// Run a workflow.
    Run {
        /// A workflow name (forgiving) or a path to a .yaml file.
        name: String,
        /// An input value, NAME=VALUE (repeatable).
        #[arg(long = "input", short = 'i', value_name = "NAME=VALUE")]
        inputs: Vec<String>,
        /// Print the plan without executing or recording anything.
        #[arg(long, conflicts_with = "submit")]
        dry_run: bool,
        /// Record the run and return at once (exit 0, its id on stdout): `cortex worker`s
        /// drive it.
        #[arg(long)]
        submit: bool,
        #[command(flatten)]
        audit: Audit,
    },
    /// Show a run's state (default: the most recent workflow run).
    Status {
        /// The run: its id, a unique prefix of it, or a workflow name (its latest run);
        /// default: the latest workflow run.
        run: Option<String>,
        /// The state as of event SEQ (0 or more: `cortex log show RUN` numbers them).
        #[arg(long, value_name = "SEQ", allow_negative_numbers = true, value_parser = parse_seq)]
        at: Option<u64>,
    },
    /// Continue a failed, waiting, stopped or interrupted run.
    Resume {
        /// The run: its id, a unique prefix of it, or a workflow name (its latest run);
        /// default: the latest workflow run.
        run: Option<String>,
        /// Run the failed step again with a fresh retry budget (refused when no step failed).
        #[arg(long, group = "mode")]
        retry: bool,
        /// Record the failed (or waiting) step as skipped and go on.
        #[arg(long, group = "mode")]
        skip: bool,
        /// Compensate the steps completed after STEP, newest first, then go on from there:
        /// STEP and the steps before it are kept, checkpoint or not (as --from keeps them).
        #[arg(long, group = "mode", value_name = "STEP")]
        rollback_to: Option<String>,
        /// Re-run STEP and everything after it, keeping earlier outputs.
        #[arg(long, group = "mode", value_name = "STEP")]
        from: Option<String>,
        #[command(flatten)]
        rest: ResumeRest,
    },
    /// Stop a running workflow run gracefully (from any terminal); resume continues it.
    Stop {
        /// The run: its id, a unique prefix of it, or a workflow name (its latest run);
        /// default: the latest workflow run.
        run: Option<String>,
        #[command(flatten)]
        audit: Audit,
    },
    /// End a run for good.
    Abort {
        /// The run: its id, a unique prefix of it, or a workflow name (its latest run);
        /// default: the latest workflow run.
        run: Option<String>,
        #[command(flatten)]
        audit: Audit,
    },
    /// List past workflow runs, newest first.
    History {
        /// How many runs to list (1 to 500).
        #[arg(long, default_value = "20", value_name = "N")]
        limit: String,
        /// List the runs older than this one (its id, a unique prefix of it, or a workflow
        /// name: its latest run): the next page, as the hint under a full page names it.
        #[arg(long, value_name = "RUN")]
        before: Option<String>,
    },
    /// Report on an external step (a prompt for a person or an agent).
    #[command(subcommand)]
    Step(StepCommand),
}

#[derive(Debug, Subcommand)]
pub enum OrchestrateCommand {
    /// List scenarios.
    List,
    /// Check scenarios without running them.
    #[command(group(clap::ArgGroup::new("target").required(true).args(["name", "all"])))]
    Validate {
        /// A name (forgiving) or a path to a .yaml file.
        name: Option<String>,
        /// Validate every scenario in CORTEX_HOME/scenarios.
        #[arg(long, conflicts_with = "name")]
        all: bool,
    },
    /// Show the phases, conditions, agents and parallel opportunities.
    Preview {
        /// A scenario name (forgiving) or a path to a .yaml file.
        name: String,
        /// An input value, NAME=VALUE (repeatable), checked as `run` checks it: the phases
        /// are shown rendered with it (a secret one as ***); an input not given shows its
        /// default, else stays as written.
        #[arg(long = "input", short = 'i', value_name = "NAME=VALUE")]
        inputs: Vec<String>,
    },
    /// Run a scenario.
    Run {
        /// A scenario name (forgiving) or a path to a .yaml file.
        name: String,
        /// Start this manual phase right away (repeatable).
        #[arg(long = "start", value_name = "PHASE")]
        start: Vec<String>,
        /// An input value, NAME=VALUE (repeatable).
        #[arg(long = "input", short = 'i', value_name = "NAME=VALUE")]
        inputs: Vec<String>,
        /// Say what would start, without executing or recording anything.
        #[arg(long, conflicts_with = "submit")]
        dry_run: bool,
        /// Record the run and return at once (exit 0, its id on stdout): `cortex worker`s
        /// drive it.
        #[arg(long)]
        submit: bool,
        #[command(flatten)]
        audit: Audit,
    },
    /// Show a scenario run: phase checklist, durations, active agents (default: the latest).
    Status {
        /// A scenario name (its latest run) or a run id (default: the latest scenario run).
        target: Option<String>,
        /// The state as of event SEQ (0 or more: `cortex log show RUN` numbers them).
        #[arg(long, value_name = "SEQ", allow_negative_numbers = true, value_parser = parse_seq)]
        at: Option<u64>,
    },
    /// Start a manual phase of a scenario run (a run id, or a scenario name: its latest run).
    Start {
        /// A scenario name (its latest run), or a run id or unique prefix of one.
        #[arg(value_name = "SCENARIO")]
        name: String,
        /// The phase's name (forgiving).
        phase: String,
        /// Only record it; do not drive the run on.
        #[arg(long)]
        no_drive: bool,
        #[command(flatten)]
        audit: Audit,
    },
    /// Report a phase done: its checklist is confirmed and its checks must pass.
    Complete {
        /// A scenario name (its latest run), or a run id or unique prefix of one.
        #[arg(value_name = "SCENARIO")]
        name: String,
        /// The phase's name (forgiving).
        phase: String,
        /// An output of the phase, KEY=VALUE (repeatable), read by later phases.
        #[arg(long = "output", short = 'o', value_name = "KEY=VALUE")]
        outputs: Vec<String>,
        /// Only record it; do not drive the run on.
        #[arg(long)]
        no_drive: bool,
        #[command(flatten)]
        audit: Audit,
    },
    /// Report a phase failed.
    Fail {
        /// A scenario name (its latest run), or a run id or unique prefix of one.
        #[arg(value_name = "SCENARIO")]
        name: String,
        /// The phase's name (forgiving).
        phase: String,
        /// Only record it; do not drive the run on.
        #[arg(long)]
        no_drive: bool,
        #[command(flatten)]
        audit: Audit,
    },
    /// Stop a running scenario gracefully (from any terminal); resume continues it.
    Stop {
        /// A scenario name (its latest run), or a run id or unique prefix of one; default: the
        /// latest scenario run.
        #[arg(value_name = "SCENARIO")]
        name: Option<String>,
        #[command(flatten)]
        audit: Audit,
    },
    /// List past scenario runs, newest first.
    History {
        /// How many runs to list (1 to 500).
        #[arg(long, default_value = "20", value_name = "N")]
        limit: String,
        /// List the runs older than this one (its id, a unique prefix of it, or a scenario
        /// name: its latest run): the next page, as the hint under a full page names it.
        #[arg(long, value_name = "RUN")]
        before: Option<String>,
    },
    /// End a scenario run for good (its running phases end, its agents are deactivated).
    Abort {
        /// A scenario name (its latest run), or a run id or unique prefix of one; default: the
        /// latest scenario run.
        #[arg(value_name = "SCENARIO")]
        name: Option<String>,
        #[command(flatten)]
        audit: Audit,
    },
    /// Continue a stopped, failed, waiting or interrupted scenario run.
    Resume {
        /// A scenario name (its latest run), or a run id or unique prefix of one; default: the
        /// latest scenario run.
        #[arg(value_name = "SCENARIO")]
        name: Option<String>,
        /// Run the failed phase(s) again with a fresh retry budget, and go on (refused when no
        /// phase failed).
        #[arg(long, conflicts_with_all = ["skip", "rollback_to", "from"])]
        retry: bool,
        /// Record the failed (or waiting) phase as skipped and go on (refused when no phase,
        /// or more than one, failed or waits).
        #[arg(long, conflicts_with = "from")]
        skip: bool,
        /// Undo the phases that completed after PHASE did (by the log, not the file), newest
        /// first, by their `rollback:` commands; then they run again. Needs `enable_rollback`.
        #[arg(long, value_name = "PHASE", conflicts_with_all = ["skip", "from"])]
        rollback_to: Option<String>,
        /// Re-run PHASE and every phase that depends on it (by `after:`, transitively),
        /// keeping the other phases' outcomes and outputs.
        #[arg(long, value_name = "PHASE")]
        from: Option<String>,
        #[command(flatten)]
        rest: ResumeRest,
    },
}

#[derive(Debug, Subcommand)]
pub enum AgentCommandArgs {
    /// List agents (CORTEX_HOME/agents/, then .claude/agents/) and whether they are active.
    List,
    /// Show an agent's definition and where it is active.
    Status {
        /// The agent's name (forgiving) or a path to its .md file.
        name: String,
    },
    /// Activate an agent by hand (recorded in the log).
    Activate {
        /// The agent's name (forgiving) or a path to its .md file.
        name: String,
        #[command(flatten)]
        audit: Audit,
    },
    /// Deactivate an agent activated by hand.
    Deactivate {
        /// The agent's name (forgiving) or a path to its .md file.
        name: String,
        #[command(flatten)]
        audit: Audit,
    },
}

#[derive(Debug, Subcommand)]
pub enum StepCommand {
    /// Report a waiting step done.
    Complete(StepReport),
    /// Report a waiting step failed (with no outputs: a failed step has none).
    Fail(StepFailReport),
}

/// `workflow step fail`: no `--output` (a failed step records none, as a failed attempt of a
/// command records none), so clap refuses one with exit 2.
#[derive(Debug, Args)]
pub struct StepFailReport {
    /// The step's name (forgiving).
    pub step: String,
    /// The run: its id, a unique prefix of it, or a workflow name (its latest run);
    /// default: the latest workflow run.
    #[arg(long, value_name = "RUN")]
    pub run: Option<String>,
    /// Only record the report; do not drive the run on (`resume` does it later).
    #[arg(long)]
    pub no_drive: bool,
    #[command(flatten)]
    pub audit: Audit,
}

#[derive(Debug, Args)]
pub struct StepReport {
    /// The step's name (forgiving).
    pub step: String,
    /// The run: its id, a unique prefix of it, or a workflow name (its latest run);
    /// default: the latest workflow run.
    #[arg(long, value_name = "RUN")]
    pub run: Option<String>,
    /// An output of the step, KEY=VALUE (repeatable).
    #[arg(long = "output", short = 'o', value_name = "KEY=VALUE")]
    pub outputs: Vec<String>,
    /// Only record the report; do not drive the run on (`resume` does it later).
    #[arg(long)]
    pub no_drive: bool,
    #[command(flatten)]
    pub audit: Audit,
}

#[derive(Debug, Subcommand)]
pub enum LogCommand {
    /// Every event of a run, one per line.
    Show {
        /// The run: its id, a unique prefix of it, or a workflow or scenario name (its latest
        /// run); default: the latest run.
        run: Option<String>,
    },
    /// Check hash chains: a run, every run (default), or another log file.
    Verify {
        /// The run: its id, a unique prefix of it, or a workflow or scenario name (its latest
        /// run); default: the latest run.
        run: Option<String>,
        /// Every run (the default when no run is named).
        #[arg(long, conflicts_with_all = ["run", "file"])]
        all: bool,
        /// Verify this file instead of the log: a copy of a cortex.db, or a run exported with `log export` (JSON Lines), checked from the file alone.
        #[arg(long, value_name = "F", conflicts_with = "run")]
        file: Option<PathBuf>,
        /// Also check the heads anchored in this file (`log anchor`): catches a truncated tail.
        #[arg(long, value_name = "FILE")]
        anchors: Option<PathBuf>,
    },
    /// Anchor the head hashes of finished runs outside the log: append them to FILE (only runs
    /// not anchored there yet), or print them (for a git note or a ticket).
    Anchor {
        /// The anchor file to append to (created if missing); without it, the head hashes are
        /// printed.
        #[arg(long, value_name = "FILE")]
        file: Option<PathBuf>,
    },
    /// Copy every run of this log into another one (PostgreSQL or SQLite), verifying each
    /// chain; runs already there with the same head are left as they are, and a run being
    /// driven (or whose driver was cut short) is not copied until its session ends.
    Copy {
        /// The log to copy into: postgres://user@host:port/dbname, a libpq string, a path or
        /// sqlite:PATH.
        #[arg(long, value_name = "URL")]
        to: String,
    },
    /// Rebuild the run index (the cache that finds runs by name and lists history) from the
    /// events, in one transaction, saying what it changed: when `log verify` fails on "the
    /// run index". The events are taken as they are: verify them first.
    Reindex,
    /// A run's events as JSON Lines (or another chain's: `notify:RUN`, `schedule:KIND:NAME`).
    Export {
        /// The run: its id, a unique prefix of it, or a workflow or scenario name (its latest
        /// run); default: the latest run. Or another chain of the log by its id: a run's
        /// notification deliveries `notify:RUN` (RUN named as above), a schedule's
        /// `schedule:KIND:NAME`, the agent registry `agents`.
        run: Option<String>,
    },
}

/// An actor is recorded with every action and shown on one line of `log show`: a control
/// character (a newline, a tab, an escape) or a bidirectional control in it is refused, so
/// that a name never forges a line or reorders what is read, and so is one longer than
/// `MAX_ACTOR_CHARS` (one rule for every front end; DESIGN §4d).
fn actor_name(value: &str) -> Result<String, String> {
    use crate::execute::MAX_ACTOR_CHARS;
    if value.trim().is_empty() {
        return Err(
            "an actor names who acts, and this one is empty; give a name (e.g. `--actor ci@build-7`) or leave --actor out for user@host".to_string(),
        );
    }
    let chars = value.chars().count();
    if chars > MAX_ACTOR_CHARS {
        return Err(format!(
            "an actor has at most {MAX_ACTOR_CHARS} characters, and this one has {chars}; give a shorter name"
        ));
    }
    match value.chars().find(|c| crate::render::breaks_line(*c)) {
        Some(c) => Err(format!(
            "an actor is one line of plain text, and this one holds {}; give the name without control characters",
            match c {
                '\n' => "a newline".to_string(),
                '\t' => "a tab".to_string(),
                '\r' => "a carriage return".to_string(),
                c => format!("the control character U+{:04X}", c as u32),
            }
        )),
        None => Ok(value.to_string()),
    }
}

/// `--at SEQ`: an event's number in its run, 0 or more.
fn parse_seq(text: &str) -> Result<u64, String> {
    text.parse::<u64>().map_err(|_| {
        format!("`{text}` is not an event number: write 0 or more (`cortex log show RUN` numbers a run's events)")
    })
}
