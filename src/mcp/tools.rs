//! The tools: for each, its name, a description written for a model, its input schema
//! (generated from its argument type), and the one `ops` call it makes — the same call its
//! CLI command makes, so a tool returns exactly the document of `--json`.

use std::collections::BTreeMap;
use std::sync::Arc;

use rmcp::model::{JsonObject, Tool, ToolAnnotations};
use schemars::JsonSchema;
use schemars::generate::SchemaSettings;
use serde::de::DeserializeOwned;

use super::args::{
    AbortArgs, HistoryArgs, Kind, ListArgs, LogVerifyArgs, LogsArgs, PhaseArgs, PhaseCompleteArgs,
    PreviewArgs, ResumeArgs, RunArgs, Scalar, ScheduleListArgs, StatusArgs, StepFailArgs,
    StepReportArgs, StopArgs, ValidateArgs, none_numeric, pairs,
};
use super::outputs;
use crate::definition::InputType;
use crate::event::{Operator, ResumeMode};
use crate::ops::scenario::{PhaseReport, SCENARIOS};
use crate::ops::workflow::{StepReport, WORKFLOWS};
use crate::ops::{self, CommandError, Ctx, Live, Output};

/// One tool as it is listed.
pub struct ToolSpec {
    pub name: &'static str,
    title: &'static str,
    description: &'static str,
    schema: fn() -> Arc<JsonObject>,
    /// What it returns as structured content (`outputs`).
    output: fn() -> Arc<JsonObject>,
    /// Changes nothing (reads the log or the definitions): MCP's `readOnlyHint`.
    read_only: bool,
    /// May change things for good (MCP's `destructiveHint`): ends or undoes work (abort,
    /// stop, a failure report that rolls back), or runs the workflow's own commands and
    /// agents, which may do anything.
    destructive: bool,
    /// Called again with the same arguments, it has no further effect (MCP's
    /// `idempotentHint`): the reads, and ending a run that has ended already.
    idempotent: bool,
    /// Reaches beyond cortex's home (MCP's `openWorldHint`): it drives a run, whose steps run
    /// shell commands and agents.
    open_world: bool,
}

impl ToolSpec {
    /// The tool as `tools/list` gives it.
    pub fn listed(&self) -> Tool {
        let annotations = ToolAnnotations::with_title(self.title)
            .read_only(self.read_only)
            .destructive(self.destructive)
            .idempotent(self.idempotent)
            .open_world(self.open_world);
        Tool::new(self.name, self.description(), (self.schema)())
            .with_raw_output_schema((self.output)())
            .with_title(self.title)
            .annotate(annotations)
    }

    /// Its description, `{builtins}` in it standing for the names of the built-in workflows
    /// (`BUILTIN_WORKFLOWS`): the list is derived, not spelt, so it stays whole (it named
    /// three of four).
    fn description(&self) -> String {
        let names: Vec<&str> = crate::definition::BUILTIN_WORKFLOWS
            .iter()
            .map(|(name, _)| *name)
            .collect();
        self.description.replace("{builtins}", &names.join(", "))
    }

    /// "`run` takes kind and name (required), and inputs, dry_run, start, message": said with
    /// an argument error, from the same schema the client was given.
    fn signature(&self) -> String {
        let schema = (self.schema)();
        let required: Vec<&str> = schema
            .get("required")
            .and_then(|r| r.as_array())
            .map(|r| r.iter().filter_map(|v| v.as_str()).collect())
            .unwrap_or_default();
        let optional: Vec<&str> = schema
            .get("properties")
            .and_then(|p| p.as_object())
            .map(|p| {
                p.keys()
                    .map(String::as_str)
                    .filter(|k| !required.contains(k))
                    .collect()
            })
            .unwrap_or_default();
        let mut text = format!("`{}` takes ", self.name);
        if !required.is_empty() {
            text.push_str(&format!("{} (required)", required.join(" and ")));
            if !optional.is_empty() {
                text.push_str(", and ");
            }
        }
        text.push_str(&optional.join(", "));
        if required.is_empty() && optional.is_empty() {
            text.push_str("no arguments");
        }
        text.push_str(" (its input schema is in tools/list)");
        text
    }
}

/// The input schema of a tool: the JSON Schema of its argument type, every subschema inline
/// (some clients do not follow `$ref`), without the type's own title and description (the
/// tool has its own).
fn input_schema<T: JsonSchema>() -> Arc<JsonObject> {
    let mut settings = SchemaSettings::draft2020_12();
    settings.inline_subschemas = true;
    let schema = settings.into_generator().into_root_schema_for::<T>();
    let mut value = schema.to_value();
    unwrap_descriptions(&mut value);
    let mut object = match value {
        serde_json::Value::Object(o) => o,
        _ => JsonObject::new(),
    };
    object.remove("title");
    object.remove("description");
    Arc::new(object)
}

/// Doc comments are wrapped at 100 columns; a description reads as one line.
fn unwrap_descriptions(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                match v {
                    serde_json::Value::String(text) if key == "description" => {
                        *text = text.replace('\n', " ");
                    }
                    other => unwrap_descriptions(other),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(unwrap_descriptions),
        _ => {}
    }
}

/// Every tool, in the order they are listed.
pub const TOOLS: &[ToolSpec] = &[
    ToolSpec {
        name: "list",
        title: "List workflows or scenarios",
        description: "List what can be run: the workflows (kind \"workflow\": the home's files and the built-in templates {builtins}) or the scenarios (kind \"scenario\"). Use it to find a name for validate, preview or run. Returns a JSON array with one object per definition: name, where it comes from (source or path), valid, its number of steps or phases, description (scenarios also priority and type); its structured content carries that array as {\"workflows\": [...]} or {\"scenarios\": [...]}.",
        schema: input_schema::<ListArgs>,
        output: outputs::list,
        read_only: true,
        destructive: false,
        idempotent: true,
        open_world: false,
    },
    ToolSpec {
        name: "validate",
        title: "Validate a definition",
        description: "Check a workflow or scenario definition without running it — use it after writing or editing a YAML file, before run. Returns {file, name, valid, errors} (a valid workflow also has steps, agents and inputs; a scenario phases and agents); when invalid, valid is false, the exit code 2, and errors lists every problem as {message, file, line, column, hint}. With all: true instead of a name, {valid, workflows: [...]} (every workflow of the home and the built-ins) or {valid, scenarios: [...]} (every scenario of the home), one such document each.",
        schema: input_schema::<ValidateArgs>,
        output: outputs::validate,
        read_only: true,
        destructive: false,
        idempotent: true,
        open_world: false,
    },
    ToolSpec {
        name: "preview",
        title: "Preview a scenario",
        description: "Show a scenario's plan without running it: its phases with their conditions (manual, auto, after:a,b), agents and success criteria, and which phases can run in parallel. Returns {scenario: the parsed definition, estimated_phases, parallel_opportunities, parallel_items: the foreach phases whose items run beside each other, [{phase, at_once}]}.",
        schema: input_schema::<PreviewArgs>,
        output: outputs::preview,
        read_only: true,
        destructive: false,
        idempotent: true,
        open_world: false,
    },
    ToolSpec {
        name: "run",
        title: "Run a workflow or scenario",
        description: "Start a run of a workflow or scenario and drive it until it finishes, waits or stops, then return its status document (this takes as long as the run's commands take; a call carrying a progressToken gets progress notifications at each step and every 10 s; cancelling the call stops the run gracefully, and resume continues it; with detach: true it returns at once instead, see below). A prompt step — work for you to do — makes the run wait: the document then has status \"waiting\", `waiting_for` (the step), that step's rendered `prompt` in `steps`, and `next`. Do what the prompt asks, then call step_complete (with the outputs it asks for) or step_fail. A scenario waits on manual phases listed in `awaiting_start` (start one with phase_start) and on phases waiting for phase_complete. The status document: {run_id, kind, name, status: running|waiting|interrupted|completed|failed|stopped|aborted|rolled_back, steps (workflows) or phases (scenarios): [{name, status, attempts, prompt, outputs, error, ...}], inputs, reason, next: [{argv, why}], head_hash, events, ...}. The result's `_meta` holds `cortex/exit_code`, the CLI's exit code: 0 completed, 1 failed/aborted/rolled back, 3 waiting or stopped; an error result carries {error, detail, hints, exit_code}. With dry_run it returns the plan (which steps or phases would run, and how) and records nothing. With detach: true it returns at once — the start recorded, the run driven on by the server in the background — with the status document, whose `next` first suggests `status` to poll: use it when a step may run longer than your client lets a tool call last (often 60 s), since a call cut off by that limit is cancelled, which stops the run. A detached answer has `detached: true` in the document and `cortex/detached: true` in `_meta`, and no `cortex/exit_code` while its status is running (the drive goes on: poll `status` for the code).",
        schema: input_schema::<RunArgs>,
        output: outputs::status_or_plan,
        read_only: false,
        destructive: true,
        idempotent: false,
        open_world: true,
    },
    ToolSpec {
        name: "status",
        title: "A run's status",
        description: "The status document of a run (default: the latest run of the kind), the same document run returns: the run's status, each step's or phase's status, attempts, times and outputs, the waiting step's rendered prompt, active agents, and `next`. `next` lists the suggested commands as CLI argv with why; each is a tool here: `workflow step complete STEP` is step_complete, `orchestrate start S P` phase_start, `orchestrate complete S P` phase_complete, `workflow resume` / `orchestrate resume` resume. With `at`, the run as it was at that event (no suggestions; `verified` says whether the events up to it verified). Use it to see where a run is before acting on it.",
        schema: input_schema::<StatusArgs>,
        output: outputs::status,
        read_only: true,
        destructive: false,
        idempotent: true,
        open_world: false,
    },
    ToolSpec {
        name: "history",
        title: "Past runs",
        description: "The latest runs of a kind, newest first: {runs: [{run_id, kind, name, status, started_at, ended_at, events, actor, done, total, parent?}], more: true|false}, the document `history --json` prints; `more` says older runs exist past `limit`: ask again with `before` the last run listed (`next` is that page's command line). Use it to find a run's id.",
        schema: input_schema::<HistoryArgs>,
        output: outputs::history,
        read_only: true,
        destructive: false,
        idempotent: true,
        open_world: false,
    },
    ToolSpec {
        name: "step_complete",
        title: "Report a workflow step done",
        description: "Report a waiting workflow step done, after doing the work its prompt asks, with the outputs it produced (later prompts see them). The report is recorded with you as the actor and the run goes on at once to its next prompt step or to its end; returns the status document then (the next step's rendered prompt and `next` included). A report that does not pass the step's validate gate (a missing output, a failing check) is refused with every problem listed: nothing is recorded and the step keeps waiting. Only a step whose status is \"waiting\" can be reported. With detach: true it returns once the report (or start) is recorded and the server drives the run on in the background (poll `status`): for when what follows may run longer than your client lets a tool call last. A detached answer has `detached: true` in the document and `cortex/detached: true` in `_meta`, and no `cortex/exit_code` while its status is running (the drive goes on: poll `status` for the code).",
        schema: input_schema::<StepReportArgs>,
        output: outputs::status,
        read_only: false,
        destructive: true,
        idempotent: false,
        open_world: true,
    },
    ToolSpec {
        name: "step_fail",
        title: "Report a workflow step failed",
        description: "Report a waiting workflow step failed — the work could not be done; say why in message. It takes no outputs (a failed step records none). It is not retried: the step's on_failure decides (pause, the default: the run fails and can be resumed with resume retry or skip; rollback; skip; abort). Returns the status document. With detach: true it returns once the report (or start) is recorded and the server drives the run on in the background (poll `status`): for when what follows may run longer than your client lets a tool call last. A detached answer has `detached: true` in the document and `cortex/detached: true` in `_meta`, and no `cortex/exit_code` while its status is running (the drive goes on: poll `status` for the code).",
        schema: input_schema::<StepFailArgs>,
        output: outputs::status,
        read_only: false,
        destructive: true,
        idempotent: false,
        open_world: true,
    },
    ToolSpec {
        name: "phase_start",
        title: "Start a manual phase",
        description: "Start a manual phase of a scenario's latest run (those listed in `awaiting_start`) and drive the run on: the phase's agents are activated, and a phase with no command to run waits for phase_complete. Returns the scenario's status document. With detach: true it returns once the report (or start) is recorded and the server drives the run on in the background (poll `status`): for when what follows may run longer than your client lets a tool call last. A detached answer has `detached: true` in the document and `cortex/detached: true` in `_meta`, and no `cortex/exit_code` while its status is running (the drive goes on: poll `status` for the code).",
        schema: input_schema::<PhaseArgs>,
        output: outputs::status,
        read_only: false,
        destructive: true,
        idempotent: false,
        open_world: true,
    },
    ToolSpec {
        name: "phase_complete",
        title: "Report a phase done",
        description: "Report a waiting phase of a scenario done: its checklist criteria are confirmed by you and its check criteria must pass. The run goes on (phases that depend on it start) until it finishes or waits again; returns the scenario's status document. With detach: true it returns once the report (or start) is recorded and the server drives the run on in the background (poll `status`): for when what follows may run longer than your client lets a tool call last. A detached answer has `detached: true` in the document and `cortex/detached: true` in `_meta`, and no `cortex/exit_code` while its status is running (the drive goes on: poll `status` for the code).",
        schema: input_schema::<PhaseCompleteArgs>,
        output: outputs::status,
        read_only: false,
        destructive: true,
        idempotent: false,
        open_world: true,
    },
    ToolSpec {
        name: "phase_fail",
        title: "Report a phase failed",
        description: "Report a waiting phase of a scenario failed; say why in message. The run pauses as failed and can be resumed. Returns the scenario's status document. With detach: true it returns once the report (or start) is recorded and the server drives the run on in the background (poll `status`): for when what follows may run longer than your client lets a tool call last. A detached answer has `detached: true` in the document and `cortex/detached: true` in `_meta`, and no `cortex/exit_code` while its status is running (the drive goes on: poll `status` for the code).",
        schema: input_schema::<PhaseArgs>,
        output: outputs::status,
        read_only: false,
        destructive: true,
        idempotent: false,
        open_world: true,
    },
    ToolSpec {
        name: "stop",
        title: "Stop a run",
        description: "Stop a run gracefully, a workflow run or a scenario run, whoever drives it (a terminal, a worker, a call of this server, `cortex serve`) and from anywhere: its running commands end (a step's process group TERM, then KILL after the grace), its agents are deactivated and the stop is recorded, with who asked and `message`; resume continues it later. `run`: a run id, or a workflow or scenario name (its latest run); `kind` picks the kind (required without `run`: the latest run of that kind). Returns the status document (status \"stopped\", exit code 3); a finished or already stopped run is left as it is (nothing recorded).",
        schema: input_schema::<StopArgs>,
        output: outputs::status,
        read_only: false,
        destructive: true,
        idempotent: true,
        open_world: false,
    },
    ToolSpec {
        name: "resume",
        title: "Resume a run",
        description: "Continue a failed, waiting, stopped or interrupted run (default: the latest of the kind) and drive it until it finishes, waits or stops again; returns the status document. For a failed workflow step choose how: retry (run it again), skip (skip it), rollback_to STEP (undo what came after), from STEP (re-run from there); a scenario takes retry (run its failed phases again), skip (the failed phase), from PHASE (re-run that phase and the phases that depend on it) and rollback_to PHASE (undo the phases completed after it, by their rollback commands, newest first; then they run again). `inputs` gives the values of secret inputs again. A finished run is left as it is and its document returned, and so is a run that only waits for reports or manual starts (nothing is recorded: report its waiting step instead). With dry_run, the plan only. With detach: true it returns at once — the resume recorded, the run driven on by the server in the background — with the status document, whose `next` first suggests `status` to poll: use it when a step may run longer than your client lets a tool call last (often 60 s), since a call cut off by that limit is cancelled, which stops the run. A detached answer has `detached: true` in the document and `cortex/detached: true` in `_meta`, and no `cortex/exit_code` while its status is running (the drive goes on: poll `status` for the code).",
        schema: input_schema::<ResumeArgs>,
        output: outputs::status_or_plan,
        read_only: false,
        destructive: true,
        idempotent: false,
        open_world: true,
    },
    ToolSpec {
        name: "abort",
        title: "Abort a run",
        description: "End a run for good (status \"aborted\", not resumable): its running commands end and the abort is recorded. Returns the status document (exit code 1).",
        schema: input_schema::<AbortArgs>,
        output: outputs::status,
        read_only: false,
        destructive: true,
        idempotent: true,
        open_world: false,
    },
    ToolSpec {
        name: "log_verify",
        title: "Verify the event log",
        description: "Verify the hash-chained event log: recompute each event's hash from the stored bytes (every run, or one) and hold the snapshots, the run index and any anchors to them. Returns {ok, runs, events, first_bad: null | {run_id, seq, reason}, failures: [every run that failed, by its first bad event]}; ok false (exit code 1) means the log was changed after it was written.",
        schema: input_schema::<LogVerifyArgs>,
        output: outputs::verify,
        read_only: true,
        destructive: false,
        idempotent: true,
        open_world: false,
    },
    ToolSpec {
        name: "logs",
        title: "A run's whole step output",
        description: "The whole output of a run's attempts (of one step or phase with `step`), as kept beside the log: what status only shows the last 4 KiB of. Returns {run_id, step, attempts: [{step, attempt, status, file, bytes, blake3, text, base64?, ...}]}: status kept (the file is as the log recorded it), incomplete (as recorded, but lost_bytes of the output could not be written to it), changed (it was altered since: do not trust it), in_flight, not_recorded (interrupted), missing or elsewhere (only the tail the log kept, in `tail`), no_output, not_kept, or child_run (a `uses:` step: call logs with its child_run_id). `text` is the output decoded as UTF-8; when the bytes are not UTF-8, `base64` holds them exactly. Each attempt gives at most `tail_bytes` of its output (default 8192), its last bytes, and the document at most 8 MiB in all: a cut attempt has truncated: true, omitted_bytes (how many of the first are left out) and `more` (how to get more). Give `attempt` for one attempt (e.g. the last, of a step that was retried). Use it to read why a step failed.",
        schema: input_schema::<LogsArgs>,
        output: outputs::logs,
        read_only: true,
        destructive: false,
        idempotent: true,
        open_world: false,
    },
    ToolSpec {
        name: "schedule_list",
        title: "List the schedules",
        description: "The workflows and scenarios that start by themselves (`schedule:` in their YAML, a five-field cron expression in UTC), when each fires next and what its last due time became. They fire only while a scheduler runs (`cortex schedule run`, or `cortex serve`). Returns {now, schedules: [{kind, name, file, cron, description, overlap: skip|queue|allow, inputs, next: [3 times], last: null | {due, outcome: start|skip|queue, reason, missed, released, run_id, error}, fired, runs_started}], invalid: [{kind, name, file, error, errors: [{message, file, line, column, hint}]}]}; a definition listed in invalid never fires until fixed (error: its first problem as FILE:LINE:COLUMN: message; errors: every problem, as validate gives them) (exit code 2). Runs a schedule started are recorded with the actor \"schedule\"; find them with history.",
        schema: input_schema::<ScheduleListArgs>,
        output: outputs::schedules,
        read_only: true,
        destructive: false,
        idempotent: true,
        open_world: false,
    },
];

/// The tool of this name.
pub fn find(name: &str) -> Option<&'static ToolSpec> {
    TOOLS.iter().find(|t| t.name == name)
}

/// A call of an unknown tool, said with the closest name and the list.
pub fn unknown(name: &str) -> String {
    let names: Vec<&str> = TOOLS.iter().map(|t| t.name).collect();
    let mut text = format!("unknown tool `{}`", crate::definition::shown(name));
    if let Some(best) = names
        .iter()
        .map(|n| (strsim::jaro_winkler(n, name), n))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
    {
        text.push_str(&format!("; did you mean `{}`?", best.1));
    } else {
        text.push('.');
    }
    text.push_str(&format!(" The tools: {}.", names.join(", ")));
    text
}

fn parse<T: DeserializeOwned>(tool: &ToolSpec, args: JsonObject) -> Result<T, CommandError> {
    serde_json::from_value(serde_json::Value::Object(args)).map_err(|e| {
        CommandError::bad_input(format!("the arguments of `{}`: {e}", tool.name))
            .hint(tool.signature())
    })
}

/// An argument given where it does not apply, refused as the CLI refuses a flag its command
/// does not have.
fn only_for(tool: &ToolSpec, kind: Kind, given: bool, field: &str) -> Result<(), CommandError> {
    if !given {
        return Ok(());
    }
    let (applies, other) = match kind {
        Kind::Workflow => ("scenario", "workflow"),
        Kind::Scenario => ("workflow", "scenario"),
    };
    Err(CommandError::bad_input(format!(
        "`{field}` applies to {applies}s only, and this `{}` is for a {other}",
        tool.name
    ))
    .hint(tool.signature()))
}

/// Call `tool` with `args` on behalf of `actor`: one operation, exactly as its CLI command
/// calls it.
/// A tool's answer: its operation's output, and, when that document is an array (rows), the
/// field of the object that carries it as structured content (MCP wants an object there).
pub struct Answer {
    pub output: Output,
    pub array_field: Option<&'static str>,
    /// The answer of a detached call, given while the server drives the run on
    /// (`reply::document`: no exit code while the run is running).
    pub detached: bool,
}

/// Call `tool` with `args`, acting as `actor`.
pub fn call(
    ctx: &Ctx,
    tool: &ToolSpec,
    args: JsonObject,
    actor: &str,
    live: &mut Live<'_>,
) -> Result<Answer, CommandError> {
    let array_field = match tool.name {
        "list" => Some(outputs::list_field(
            args.get("kind").and_then(|k| k.as_str()) == Some("scenario"),
        )),
        _ => None,
    };
    let output = operate(ctx, tool, args, actor, live)?;
    Ok(Answer {
        output,
        array_field,
        detached: false,
    })
}

/// The one `ops` call of `tool`, as its CLI command makes it.
fn operate(
    ctx: &Ctx,
    tool: &ToolSpec,
    args: JsonObject,
    actor: &str,
    live: &mut Live<'_>,
) -> Result<Output, CommandError> {
    let by = |message: Option<String>| -> Result<Operator, CommandError> {
        ops::checked_operator(Some(actor), message.as_deref())
    };
    match tool.name {
        "list" => match parse::<ListArgs>(tool, args)?.kind {
            Kind::Workflow => ops::workflow::list(ctx),
            Kind::Scenario => ops::scenario::list(ctx),
        },
        // `{runs, more}`: whether older runs exist past the page (an agent asks again for
        // more), as `history --json` says it.
        "history" => {
            let a: HistoryArgs = parse(tool, args)?;
            let limit = ops::history_limit_text(&a.limit.to_string(), "`limit`")?;
            ops::workflow::history(ctx, a.kind.run_kind(), limit, a.before.as_deref())
        }
        "validate" => {
            let a: ValidateArgs = parse(tool, args)?;
            match (a.kind, a.name, a.all) {
                (Kind::Workflow, Some(name), false) => ops::workflow::validate(ctx, &name),
                (Kind::Workflow, None, true) => ops::workflow::validate_all(ctx),
                (Kind::Scenario, None, true) => ops::scenario::validate(ctx, None, true),
                (Kind::Scenario, Some(name), false) => {
                    ops::scenario::validate(ctx, Some(&name), false)
                }
                (_, Some(_), true) => Err(CommandError::bad_input(
                    "`name` and `all` cannot be used together: give a name, or all: true",
                )
                .hint(tool.signature())),
                (_, None, _) => Err(CommandError::bad_input(
                    "`validate` needs the name of what to check (or all: true)",
                )
                .hint(tool.signature())),
            }
        }
        "preview" => {
            let a: PreviewArgs = parse(tool, args)?;
            let inputs = run_inputs(ctx, Kind::Scenario, &a.name, a.inputs)?;
            ops::scenario::preview(ctx, &a.name, &inputs)
        }
        "run" => {
            let a: RunArgs = parse(tool, args)?;
            match a.kind {
                Kind::Workflow => {
                    only_for(tool, Kind::Workflow, !a.start.is_empty(), "start")?;
                    let inputs = run_inputs(ctx, a.kind, &a.name, a.inputs)?;
                    ops::workflow::run(
                        ctx,
                        &a.name,
                        &inputs,
                        ops::RunHow::of(a.dry_run, false),
                        by(a.message)?,
                        live,
                    )
                }
                Kind::Scenario => {
                    let inputs = run_inputs(ctx, a.kind, &a.name, a.inputs)?;
                    let req = ops::scenario::RunRequest {
                        name: &a.name,
                        starts: &a.start,
                        inputs: &inputs,
                        how: ops::RunHow::of(a.dry_run, false),
                    };
                    ops::scenario::run(ctx, req, by(a.message)?, live)
                }
            }
        }
        "status" => {
            let a: StatusArgs = parse(tool, args)?;
            let scope = match a.kind {
                Kind::Workflow => WORKFLOWS,
                Kind::Scenario => SCENARIOS,
            };
            ops::workflow::status(ctx, scope, a.run.as_deref(), a.at)
        }
        "step_fail" => {
            let a: StepFailArgs = parse(tool, args)?;
            report_step(ctx, a.into(), false, &by, live)
        }
        "step_complete" => report_step(ctx, parse(tool, args)?, true, &by, live),
        "phase_start" => {
            let a: PhaseArgs = parse(tool, args)?;
            ops::scenario::start(ctx, &a.scenario, &a.phase, a.no_drive, by(a.message)?, live)
        }
        "phase_complete" => {
            let a: PhaseCompleteArgs = parse(tool, args)?;
            let inputs = pairs(a.inputs, "input", &none_numeric)?;
            let report = PhaseReport {
                phase: &a.phase,
                success: true,
                outputs: pairs(a.outputs, "output", &none_numeric)?,
                no_drive: a.no_drive,
                inputs: &inputs,
            };
            ops::scenario::report(ctx, &a.scenario, report, by(a.message)?, live)
        }
        "phase_fail" => {
            let a: PhaseArgs = parse(tool, args)?;
            let report = PhaseReport {
                phase: &a.phase,
                success: false,
                outputs: Vec::new(),
                no_drive: a.no_drive,
                inputs: &[],
            };
            ops::scenario::report(ctx, &a.scenario, report, by(a.message)?, live)
        }
        "stop" => {
            let a: StopArgs = parse(tool, args)?;
            let scope = match a.kind {
                Some(Kind::Workflow) => WORKFLOWS,
                Some(Kind::Scenario) => SCENARIOS,
                None if a.run.is_some() => crate::ops::Scope::any(),
                None => {
                    return Err(CommandError::bad_input(
                        "`stop` needs the run (`run`) or its kind (`kind`: its latest run)",
                    )
                    .hint("give `run`: a run id, or a workflow or scenario name (its latest run); or `kind`: `workflow` or `scenario`"));
                }
            };
            ops::scenario::stop_run(ctx, scope, a.run.as_deref(), by(a.message)?)
        }
        "resume" => resume(ctx, tool, parse(tool, args)?, &by, live),
        "abort" => {
            let a: AbortArgs = parse(tool, args)?;
            let scope = match a.kind {
                Kind::Workflow => WORKFLOWS,
                Kind::Scenario => SCENARIOS,
            };
            ops::workflow::abort(ctx, scope, a.run.as_deref(), by(a.message)?)
        }
        "logs" => {
            let a: LogsArgs = parse(tool, args)?;
            let window = ops::attempt_logs::Window {
                attempt: a.attempt,
                tail_bytes: a.tail_bytes,
            };
            ops::attempt_logs::attempt_logs(ctx, a.run.as_deref(), a.step.as_deref(), window)
        }
        "schedule_list" => {
            let a: ScheduleListArgs = parse(tool, args)?;
            let now = match a.at {
                Some(t) => ops::schedule::parse_at(ctx.surface, &t)?,
                None => std::time::SystemTime::now(),
            };
            ops::schedule::list(ctx, now)
        }
        "log_verify" => {
            let a: LogVerifyArgs = parse(tool, args)?;
            if a.run.is_some() && a.file.is_some() {
                return Err(CommandError::bad_input(
                    "`run` and `file` cannot be used together: a run is looked for in the home's log",
                )
                .hint(tool.signature()));
            }
            let absolute = |p: Option<std::path::PathBuf>| p.map(|p| ctx.cwd.join(p));
            ops::log::verify(
                ctx,
                a.run.as_deref(),
                absolute(a.file).as_deref(),
                absolute(a.anchors).as_deref(),
            )
        }
        other => Err(CommandError::bad_input(unknown(other))),
    }
}

/// `step_complete`, and `step_fail` as a report with no outputs.
fn report_step(
    ctx: &Ctx,
    a: StepReportArgs,
    success: bool,
    by: &dyn Fn(Option<String>) -> Result<Operator, CommandError>,
    live: &mut Live<'_>,
) -> Result<Output, CommandError> {
    let inputs = pairs(a.inputs, "input", &none_numeric)?;
    let report = StepReport {
        step: &a.step,
        run: a.run.as_deref(),
        success,
        outputs: pairs(a.outputs, "output", &none_numeric)?,
        no_drive: a.no_drive,
        drives_after: false,
        // This server goes on, and keeps a secret output reported here for its later
        // calls (a `resume` drives on with it): never "held by this process only,
        // which ends now".
        holder_stays: true,
        by: by(a.message)?,
        inputs: &inputs,
    };
    ops::workflow::report_step(ctx, report, live)
}

/// `run`'s inputs as pairs: a JSON number that is not an integer is taken for an input the
/// definition declares a number or an integer, as before, and refused for any other (`pairs`).
/// When the definition does not load, or does not declare the input, the run says so.
fn run_inputs(
    ctx: &Ctx,
    kind: Kind,
    name: &str,
    inputs: BTreeMap<String, Scalar>,
) -> Result<Vec<(String, String)>, CommandError> {
    let floats = inputs.values().any(|v| matches!(v, Scalar::Float(_)));
    let types = floats
        .then(|| ops::workflow::input_types(ctx, kind.run_kind(), name))
        .flatten();
    let numeric = |key: &str| match types.as_ref().and_then(|t| t.get(key)) {
        Some(t) => matches!(t, InputType::Number | InputType::Integer),
        None => true,
    };
    pairs(inputs, "input", &numeric)
}

fn resume(
    ctx: &Ctx,
    tool: &ToolSpec,
    a: ResumeArgs,
    by: &dyn Fn(Option<String>) -> Result<Operator, CommandError>,
    live: &mut Live<'_>,
) -> Result<Output, CommandError> {
    let modes = [a.retry, a.skip, a.rollback_to.is_some(), a.from.is_some()];
    if modes.iter().filter(|m| **m).count() > 1 {
        return Err(CommandError::bad_input(
            "`retry`, `skip`, `rollback_to` and `from` are ways to resume: give at most one",
        )
        .hint(tool.signature()));
    }
    if a.notify_only && (modes.contains(&true) || a.timeout.is_some()) {
        return Err(CommandError::bad_input(
            "`notify_only` delivers the notifications still due and does nothing else: give it without `retry`, `skip`, `rollback_to`, `from` or `timeout`",
        )
        .hint(tool.signature()));
    }
    let scope = match a.kind {
        Kind::Workflow => WORKFLOWS,
        // As `orchestrate resume`: `retry`, `skip`, `from`, `rollback_to` and `inputs` are a
        // scenario's too.
        Kind::Scenario => SCENARIOS,
    };
    let mode = ResumeMode::from_flags(a.retry, a.skip, a.rollback_to, a.from);
    let inputs = pairs(a.inputs, "input", &none_numeric)?;
    let args = ops::workflow::ResumeArgs {
        mode,
        inputs: &inputs,
        dry_run: a.dry_run,
        timeout: a.timeout.as_deref(),
        notify_only: a.notify_only,
        submit: false,
    };
    ops::workflow::resume(ctx, scope, a.run.as_deref(), args, by(a.message)?, live)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SPEC §8's tools, in its order.
    const SPEC: &[&str] = &[
        "list",
        "validate",
        "preview",
        "run",
        "status",
        "history",
        "step_complete",
        "step_fail",
        "phase_start",
        "phase_complete",
        "phase_fail",
        "stop",
        "resume",
        "abort",
        "log_verify",
        "logs",
        "schedule_list",
    ];

    #[test]
    fn the_tools_are_the_specs_each_with_an_object_schema_that_refuses_unknown_arguments() {
        let names: Vec<&str> = TOOLS.iter().map(|t| t.name).collect();
        assert_eq!(names, SPEC);
        for tool in TOOLS {
            let schema = (tool.schema)();
            assert_eq!(schema["type"], "object", "{}", tool.name);
            assert_eq!(schema["additionalProperties"], false, "{}", tool.name);
            assert!(!schema.contains_key("$defs"), "{}: inline", tool.name);
            assert!(
                !serde_json::to_string(&*schema).unwrap().contains("\\n"),
                "{}",
                tool.name
            );
            assert!(tool.description.len() > 100, "{}", tool.name);
            let listed = tool.listed();
            assert_eq!(listed.name, tool.name);
        }
    }

    /// The `list` tool's description named three of the four built-in workflows: it names
    /// each, from the list the binary carries, and no placeholder is left in any description.
    #[test]
    fn the_list_tools_description_names_every_built_in_workflow() {
        let listed = find("list").unwrap().listed();
        let description = listed.description.as_deref().unwrap_or_default();
        for (name, _) in crate::definition::BUILTIN_WORKFLOWS {
            assert!(description.contains(name), "{name}: {description}");
        }
        for tool in TOOLS {
            assert!(
                !tool
                    .listed()
                    .description
                    .unwrap_or_default()
                    .contains("{builtins}")
            );
        }
    }

    #[test]
    fn tools_that_drive_a_run_say_they_run_open_world_commands_and_reads_say_they_change_nothing() {
        let annotations = |name: &str| find(name).unwrap().listed().annotations.unwrap();
        for name in [
            "run",
            "resume",
            "step_complete",
            "step_fail",
            "phase_start",
            "phase_complete",
            "phase_fail",
        ] {
            let a = annotations(name);
            assert_eq!(a.read_only_hint, Some(false), "{name}");
            assert_eq!(a.destructive_hint, Some(true), "{name}");
            assert_eq!(a.idempotent_hint, Some(false), "{name}");
            assert_eq!(a.open_world_hint, Some(true), "{name}");
        }
        for name in ["stop", "abort"] {
            let a = annotations(name);
            assert_eq!(a.destructive_hint, Some(true), "{name}");
            assert_eq!(
                a.idempotent_hint,
                Some(true),
                "{name}: an ended run is left as it is"
            );
            assert_eq!(a.open_world_hint, Some(false), "{name}");
        }
        for tool in TOOLS.iter().filter(|t| t.read_only) {
            let a = annotations(tool.name);
            assert_eq!(a.destructive_hint, Some(false), "{}", tool.name);
            assert_eq!(a.idempotent_hint, Some(true), "{}", tool.name);
            assert_eq!(a.open_world_hint, Some(false), "{}", tool.name);
        }
    }

    #[test]
    fn phase_start_and_phase_fail_do_not_offer_outputs_they_would_refuse() {
        let props = |name: &str| {
            let schema = (find(name).unwrap().schema)();
            let keys: Vec<String> = schema["properties"]
                .as_object()
                .unwrap()
                .keys()
                .cloned()
                .collect();
            keys
        };
        assert!(!props("phase_start").contains(&"outputs".to_string()));
        assert!(!props("phase_fail").contains(&"outputs".to_string()));
        assert!(props("phase_complete").contains(&"outputs".to_string()));
        assert!(!props("step_fail").contains(&"outputs".to_string()));
        assert!(props("step_complete").contains(&"outputs".to_string()));
    }

    #[test]
    fn an_argument_error_says_what_the_tool_takes() {
        let run = find("run").unwrap();
        assert_eq!(
            run.signature(),
            "`run` takes kind and name (required), and detach, dry_run, inputs, message, start (its input schema is in tools/list)"
        );
        let err = parse::<RunArgs>(run, JsonObject::new()).unwrap_err();
        assert_eq!(err.code, crate::ops::exit::BAD_INPUT);
        assert!(
            err.message.contains("missing field `kind`"),
            "{}",
            err.message
        );
    }

    #[test]
    fn an_unknown_tool_is_said_with_the_closest_name() {
        assert!(unknown("stauts").starts_with("unknown tool `stauts`; did you mean `status`?"));
        assert!(unknown("zzz").starts_with("unknown tool `zzz`. The tools: list,"));
    }
}
