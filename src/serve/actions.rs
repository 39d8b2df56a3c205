//! Every change the server makes, for the page and the API alike: one call each into `ops`,
//! as the CLI makes it, recorded with the server's actor and the request's message. A run
//! that must then be driven goes to a background `cortex` (`driver`), as the TUI does, so no
//! request waits for a run: `run` and `resume` answer once the driver has recorded or taken
//! the run, a report or a manual start once it is recorded.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};

use super::driver;
use super::error::{Failure, run_missing};
use super::server::{Shared, blocking};
use crate::definition::parse_workflow;
use crate::event::{ResumeMode, RunKind};
use crate::execute::{DriverLock, Quiet, StopFlag, input_env_name, load_state, operator};
use crate::ops::scenario::PhaseReport;
use crate::ops::workflow::{ResumeArgs, StepReport};
use crate::ops::{self, CommandError, Live, Output, PairsFrom, Scope, parse_pairs_from};

/// What an action did: the operation's document, the run it concerns, and whether a
/// background driver goes on with it (the API answers 202 then).
pub struct Done {
    pub output: Output,
    pub run_id: Option<String>,
    pub accepted: bool,
}

/// What can be done to one step or phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepAction {
    Start,
    Complete,
    Fail,
}

impl StepAction {
    pub fn parse(word: &str) -> Option<StepAction> {
        match word {
            "start" => Some(StepAction::Start),
            "complete" => Some(StepAction::Complete),
            "fail" => Some(StepAction::Fail),
            _ => None,
        }
    }
}

fn quiet<T>(f: impl FnOnce(&mut Live<'_>) -> T) -> T {
    let mut observer = Quiet;
    let mut live = Live {
        observer: &mut observer,
        stop: StopFlag::default(),
    };
    f(&mut live)
}

fn by(shared: &Shared, message: Option<&str>) -> Result<crate::event::Operator, CommandError> {
    let message = message.map(str::trim).filter(|m| !m.is_empty());
    ops::checked_operator(Some(&shared.actor), message)
}

/// The run a path names — its id or a unique prefix of it — and its kind; 404 if none.
pub fn find(shared: &Shared, id: &str) -> Result<(String, RunKind), Failure> {
    // A run started late may be this one: its secret inputs are held before anything is done.
    shared.adopt_late_starts();
    let ctx = &shared.ctx;
    // The CLI reads no run at all as "the latest": a path always names one.
    if id.trim().is_empty() {
        return Err(Failure::not_found(
            CommandError::bad_input(format!("no run {}", crate::definition::shown(id))).hint(
                "name a run by its id (or a unique prefix of it): GET /api/v1/runs lists them",
            ),
        ));
    }
    let Some(store) = ctx.reading_store()? else {
        return Err(Failure::not_found(ops::no_runs()));
    };
    match ops::find_run(&store, Scope::any(), Some(id)) {
        Ok(run_id) => {
            let kind = crate::store::run_entry(&*store, &run_id)
                .map_err(CommandError::from)?
                .map_or(RunKind::Workflow, |e| e.kind);
            Ok((run_id, kind))
        }
        Err(e) => {
            let missing = run_missing(&e);
            let error = ctx
                .resolve_run(&store, Scope::any(), Some(id))
                .err()
                .unwrap_or_else(|| CommandError::bad_input(e.to_string()));
            Err(if missing {
                Failure::not_found(error)
            } else {
                Failure::from(error)
            })
        }
    }
}

/// A workflow or scenario the catalog names. The server takes names only, never paths (a
/// path would read any YAML file the server can): `/`, `\` or a `.yaml` ending is refused.
pub fn catalog_name(kind: &str, name: &str) -> Result<(), Failure> {
    let lower = name.to_ascii_lowercase();
    if name.contains('/')
        || name.contains('\\')
        || lower.ends_with(".yaml")
        || lower.ends_with(".yml")
    {
        return Err(Failure::not_found(
            CommandError::bad_input(format!(
                "no {kind} named {}: the server looks names up in the catalog, not paths",
                crate::definition::shown(name)
            ))
            .hint("put the file in the home's workflows/ or scenarios/ folder"),
        ));
    }
    Ok(())
}

/// A catalog lookup that failed because nothing has that name is a 404.
pub fn lookup_failure(e: crate::definition::LookupError) -> Failure {
    // A name no definition could have names nothing, as a name none has.
    let missing = matches!(
        e,
        crate::definition::LookupError::NotFound { .. }
            | crate::definition::LookupError::BadName { .. }
    );
    let error = CommandError::from(e);
    if missing {
        Failure::not_found(error)
    } else {
        Failure::from(error)
    }
}

/// The run as it stands now, once an action left it to a background driver of this server:
/// its status document, with the exit code the CLI gives for a change on a run another driver
/// carries on (`RunStatus::exit_code_carried_on`: 3 for a run waiting on people, 0 while it
/// runs) — not `status`'s own 0, which said a run waiting for a report was done
/// (`X-Cortex-Exit-Code: 0` beside `"status": "waiting"`, where the CLI exits 3).
fn status_of_run(shared: &Shared, run_id: &str) -> Result<Output, Failure> {
    let mut output = ops::workflow::status(&shared.ctx, Scope::any(), Some(run_id), None)?;
    if let Some(status) = output.json["status"]
        .as_str()
        .and_then(crate::project::RunStatus::from_word)
    {
        output.code = status.exit_code_carried_on();
    }
    Ok(output)
}

/// Start a workflow run (inputs as `NAME=VALUE`): checked first as `run --dry-run` checks it
/// (nothing recorded if it is refused), then driven by a background `cortex workflow run`.
/// Secret inputs reach it through its environment, never its arguments.
pub fn run_workflow(
    shared: &Shared,
    name: &str,
    inputs: &[(String, String)],
    message: Option<&str>,
) -> Result<Done, Failure> {
    catalog_name("workflow", name)?;
    let ctx = &shared.ctx;
    let entry = ctx.catalog().find_workflow(name).map_err(lookup_failure)?;
    quiet(|live| {
        ops::workflow::run(
            ctx,
            name,
            inputs,
            ops::RunHow::DryRun,
            by(shared, message)?,
            live,
        )
    })
    .map_err(in_api_words)?;
    let secret = parse_workflow(&entry.display_path(), &entry.text)
        .map(|w| crate::execute::secret_inputs(&w))
        .unwrap_or_default();
    let mut args = vec!["workflow".to_string(), "run".into(), actor_arg(shared)];
    args.extend(message_arg(message));
    start_driver(shared, RunKind::Workflow, args, name, inputs, &secret)
}

/// Start a scenario run (with manual phases to start at once, and its inputs), checked first
/// as `orchestrate run --dry-run` checks it — the scenario, the phases to start, the inputs,
/// the message: what the driver would refuse is a 400 here, nothing started — then driven by
/// a background `cortex orchestrate run`.
pub fn run_scenario(
    shared: &Shared,
    name: &str,
    starts: &[String],
    inputs: &[(String, String)],
    message: Option<&str>,
) -> Result<Done, Failure> {
    catalog_name("scenario", name)?;
    let ctx = &shared.ctx;
    let entry = ctx.catalog().find_scenario(name).map_err(lookup_failure)?;
    quiet(|live| {
        ops::scenario::run(
            ctx,
            ops::scenario::RunRequest {
                name,
                starts,
                inputs,
                how: ops::RunHow::DryRun,
            },
            by(shared, message)?,
            live,
        )
    })
    .map_err(in_api_words)?;
    let secret = crate::definition::parse_scenario(&entry.display_path(), &entry.text)
        .map(|s| crate::execute::secret_inputs(&s.as_workflow()))
        .unwrap_or_default();
    let mut args = vec!["orchestrate".to_string(), "run".into(), actor_arg(shared)];
    args.extend(message_arg(message));
    args.extend(starts.iter().map(|p| format!("--start={p}")));
    start_driver(shared, RunKind::Scenario, args, name, inputs, &secret)
}

/// An error of the CLI's words that says how to give an input (`--input`, `CORTEX_INPUT_`),
/// with how to give it here too: the request body's `inputs`, or the page form's field.
fn in_api_words(e: CommandError) -> CommandError {
    let says = |t: &str| t.contains("--input") || t.contains("CORTEX_INPUT_");
    if says(&e.message)
        || e.detail.as_deref().is_some_and(says)
        || e.errors.iter().any(|p| says(&p.message))
        || e.hints.iter().any(|h| says(&h.to_string()))
    {
        e.hint("through this server, give an input's value in the request body's `inputs` field (`{\"inputs\": {\"NAME\": \"VALUE\"}}`), or in its field of the page's form")
    } else {
        e
    }
}

/// Start the background driver of a new run: `args` (the command, its actor and options), then
/// the inputs — a secret one through the driver's environment, never its arguments — and the
/// definition's `name`; answer with the run's status once the driver recorded it.
fn start_driver(
    shared: &Shared,
    kind: RunKind,
    mut args: Vec<String>,
    name: &str,
    inputs: &[(String, String)],
    secret: &std::collections::BTreeSet<String>,
) -> Result<Done, Failure> {
    let mut envs = Vec::new();
    let mut kept = Vec::new();
    for (k, v) in inputs {
        if secret.contains(k) {
            envs.push((input_env_name(k), v.clone()));
            kept.push((k.clone(), v.clone()));
        } else {
            args.push(format!("--input={k}={v}"));
        }
    }
    args.extend(["--".to_string(), name.to_string()]);
    let background = driver::start(shared, &args, &envs)?;
    let run_id = match background.started_run(shared, kind) {
        Ok(run_id) => run_id,
        // The driver goes on and may record the run: its secret inputs wait for it here.
        Err(mut late) if late.status == StatusCode::GATEWAY_TIMEOUT && !kept.is_empty() => {
            late.error.hints.push(
                "the secret inputs given are kept by this server for the run once its driver records it: act on that run here and its drivers get them (if this server restarts first, give them again as `inputs` of a resume request)".into(),
            );
            let mut held = shared.late_starts.lock().unwrap_or_else(|p| p.into_inner());
            held.push(driver::LateStart {
                driver: background,
                kind,
                secrets: kept,
            });
            return Err(late);
        }
        Err(other) => return Err(other),
    };
    shared.keep_secret_inputs(&run_id, &kept);
    Ok(Done {
        output: status_of_run(shared, &run_id)?,
        run_id: Some(run_id),
        accepted: true,
    })
}

fn actor_arg(shared: &Shared) -> String {
    format!("--actor={}", shared.actor)
}

fn message_arg(message: Option<&str>) -> Option<String> {
    message
        .map(str::trim)
        .filter(|m| !m.is_empty())
        .map(|m| format!("--message={m}"))
}

/// Start a manual phase, or report a step or phase complete or failed — recorded only (as
/// with `--no-drive`); if the run then has work and nobody drives it, a background driver
/// goes on with it.
/// `inputs`: values of the run's secret inputs given with a completion (the body's `inputs`,
/// the page form's `input.NAME` fields), for its checks; kept by this server for the run once
/// the report is taken, as a resume's are.
pub fn step(
    shared: &Shared,
    id: &str,
    step: &str,
    action: StepAction,
    outputs: Vec<(String, String)>,
    inputs: &[(String, String)],
    message: Option<&str>,
) -> Result<Done, Failure> {
    let (run_id, kind) = find(shared, id)?;
    // Two reports of this server on one run never race for its lock: the second waits, then
    // is answered as the CLI's second is (the step no longer waits for a report).
    let _turn = shared.one_at_a_time(&run_id);
    has_step(shared, &run_id, kind, step)?;
    // A workflow step's report takes the run's lock, as the CLI's does: while a driver this
    // server started drives the run, it is refused as the CLI's is (exit 4) — or, if the step
    // no longer waits for a report, says so; one that is only letting go (the run has no work
    // left for it) is waited for. A scenario's start or report is recorded whoever drives the
    // run (its driver picks it up from the log), as the CLI's is: nothing to wait for.
    let refused = (kind == RunKind::Workflow && action != StepAction::Start)
        .then(|| own_driver_let_go(shared, &run_id, kind, Doing::Report).err())
        .flatten();
    // The report itself checks as the CLI's does, in its order (`workflow::report_step`): what
    // the step is (run by the engine, a child's), then the run's lock — held, exit 4, whatever
    // the step's status — and only then whether the step waits for a report. Before, a report
    // on a driven run's step it had not reached was said to be "pending" (400, exit 2) where
    // the CLI says the run is held (exit 4).
    let by = by(shared, message)?;
    // The values given now, over those this server holds: the report's checks have them.
    let mut given = shared.secret_inputs_of(&run_id);
    given.retain(|(k, _)| !inputs.iter().any(|(n, _)| n == k));
    given.extend(inputs.iter().cloned());
    let output = report(shared, &run_id, kind, step, action, outputs, &given, by).map_err(|f| {
        match refused {
            // Held by this server's own driver: said so, with what to do here.
            Some(refused) if f.error.run_held() => refused,
            _ => Failure {
                error: Box::new(in_api_words(*f.error)),
                ..f
            },
        }
    })?;
    // Taken (the report checked them as `resume` checks them): kept for every later driver.
    if !inputs.is_empty() {
        shared.keep_secret_inputs(&run_id, inputs);
    }
    finish_step(shared, run_id, kind, step, output)
}

/// What an action refused while this server's own driver drives the run was doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Doing {
    Report,
    Resume,
}

/// The run's state as its log has it now, if it can be read.
fn state_now(shared: &Shared, run_id: &str) -> Option<crate::decide::RunState> {
    let store = shared.ctx.reading_store().ok()??;
    load_state(&store, run_id).ok()
}

/// Before an action on run `run_id`: if a background driver this server started holds it,
/// the CLI's twin would be refused (exit 4, "held by"), and so is this action (409, said as
/// this server's own driver: `driven_by`) while that driver drives the run — it has work
/// (`operator::has_work`). One with nothing left to do is only letting go (it recorded that
/// the run waits, failed or ended): waited for, at most `--driver-wait`, so that a client
/// acting on what it just read is not refused for an instant's overlap; if the log moved on
/// meanwhile, the action is refused all the same (it would act on a state its sender never
/// saw). Before, every action waited for the driver whatever it did, so a second resume sent
/// with the first ran the failed step again once the first's driver had ended.
fn own_driver_let_go(
    shared: &Shared,
    run_id: &str,
    kind: RunKind,
    doing: Doing,
) -> Result<(), Failure> {
    let Some(pid) = own_driver_holding(shared, run_id) else {
        return Ok(());
    };
    let seen = state_now(shared, run_id);
    let Some(seen) = seen.filter(|state| !operator::has_work(state)) else {
        return Err(driven_by(run_id, kind, pid, doing));
    };
    let until = std::time::Instant::now() + shared.driver_wait;
    while let Some(pid) = own_driver_holding(shared, run_id) {
        let moved = state_now(shared, run_id).is_none_or(|now| now.events != seen.events);
        if moved || std::time::Instant::now() >= until {
            return Err(driven_by(run_id, kind, pid, doing));
        }
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
    if state_now(shared, run_id).is_none_or(|now| now.events != seen.events) {
        return Err(driven_by(run_id, kind, pid, doing));
    }
    Ok(())
}

/// A resume sent while another action of this server on the run is under way (another
/// resume, a report): refused at once, as the CLI's second resume is (exit 4), never queued
/// to act on a state its sender never saw.
fn busy_here(run_id: &str) -> Failure {
    Failure::new(
        axum::http::StatusCode::CONFLICT,
        CommandError::new(
            ops::exit::HELD,
            format!(
                "run {run_id} is being acted on now by another request to this server (a resume or a report); nothing was recorded"
            ),
        )
        .hint(format!(
            "GET /api/v1/runs/{run_id} (or the run's page, which updates itself) shows where the run is once that request is answered; resume it then if it still needs it"
        )),
    )
}

/// The pid of the background driver this server started that holds run `run_id` now, if one
/// does.
pub fn own_driver_holding(shared: &Shared, run_id: &str) -> Option<u32> {
    let holder = DriverLock::probe(&shared.ctx.home, run_id)?;
    shared
        .drivers
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .contains(&holder.pid)
        .then_some(holder.pid)
}

/// A resume refused because this server's own background driver drives the run: said so, with
/// what to do here — never the CLI's hint about a terminal to press Ctrl-C in, which a run
/// this server drives does not have.
fn driven_here(shared: &Shared, run_id: &str, kind: RunKind, e: Failure) -> Failure {
    let Some(pid) = e
        .error
        .run_held()
        .then(|| own_driver_holding(shared, run_id))
        .flatten()
    else {
        return e;
    };
    driven_by(run_id, kind, pid, Doing::Resume)
}

/// That run `run_id` is driven now by this server's own background driver `pid`, so that
/// what the request was `doing` is not done (the CLI's exit 4).
fn driven_by(run_id: &str, kind: RunKind, pid: u32, doing: Doing) -> Failure {
    let stop = if kind == RunKind::Scenario {
        "`POST .../stop` stops it gracefully (then resume it in another mode)"
    } else {
        "`POST .../stop` stops it gracefully (then resume it in another mode), `POST .../abort` ends it for good"
    };
    let first = match doing {
        Doing::Resume => "nothing to resume while it goes on",
        Doing::Report => "it holds the run while it runs the run's steps",
    };
    Failure::new(
        axum::http::StatusCode::CONFLICT,
        CommandError::new(
            ops::exit::HELD,
            format!(
                "run {run_id} is driven now by this server's own background driver (process {pid}), which carries it on; nothing was recorded"
            ),
        )
        .hint(format!(
            "{first}: GET /api/v1/runs/{run_id} (or the run's page, which updates itself) shows it; when it waits for a report, report it; {stop}"
        )),
    )
}

/// The report itself, as the CLI makes it with `--no-drive`, with the values of the run's
/// secret inputs `inputs` (those this server holds, and those given with it).
#[allow(clippy::too_many_arguments)]
fn report(
    shared: &Shared,
    run_id: &str,
    kind: RunKind,
    step: &str,
    action: StepAction,
    outputs: Vec<(String, String)>,
    inputs: &[(String, String)],
    by: crate::event::Operator,
) -> Result<Output, Failure> {
    let ctx = &shared.ctx;
    let run_id = run_id.to_string();
    Ok(match (kind, action) {
        (RunKind::Workflow, StepAction::Start) => {
            return Err(Failure::bad_request(
                "a workflow's steps start by themselves; `start` is for a scenario's manual phases",
                "report a workflow step with `complete` or `fail`; a step that has not started yet starts when the run reaches it (`resume`)",
            ));
        }
        // A failed step records no outputs, as a failed phase (`workflow::report_step`).
        (RunKind::Workflow, StepAction::Fail) if !outputs.is_empty() => {
            return Err(Failure::bad_request(
                "outputs belong to completing a step, not to failing it: a failed step records none",
                "leave `outputs` out here, and say what happened in `message`",
            ));
        }
        (RunKind::Workflow, _) => quiet(|live| {
            ops::workflow::report_step(
                ctx,
                StepReport {
                    step,
                    run: Some(&run_id),
                    success: action == StepAction::Complete,
                    outputs,
                    no_drive: true,
                    // A driver of this server's goes on with it (`finish_step`).
                    drives_after: true,
                    // This server keeps a secret output reported here and hands it to the
                    // drivers it starts (`drive_on`): it says itself when none takes it.
                    holder_stays: true,
                    by,
                    // The step's checks run here: they have the values this server holds.
                    inputs,
                },
                live,
            )
        })?,
        (RunKind::Scenario, StepAction::Start | StepAction::Fail) if !outputs.is_empty() => {
            return Err(Failure::bad_request(
                "outputs belong to completing a phase, not to starting or failing it",
                "leave `outputs` out here, and give them when the phase is completed",
            ));
        }
        (RunKind::Scenario, StepAction::Start) => {
            quiet(|live| ops::scenario::start(ctx, &run_id, step, true, by, live))?
        }
        (RunKind::Scenario, _) => quiet(|live| {
            ops::scenario::report(
                ctx,
                &run_id,
                PhaseReport {
                    phase: step,
                    success: action == StepAction::Complete,
                    outputs,
                    no_drive: true,
                    inputs,
                },
                by,
                live,
            )
        })?,
    })
}

/// After a report: a driver goes on with the run if it has work, and the answer says so.
fn finish_step(
    shared: &Shared,
    run_id: String,
    kind: RunKind,
    step: &str,
    output: Output,
) -> Result<Done, Failure> {
    let drove = drive_on(shared, &run_id, kind)?;
    let foreign = matches!(drove, DriveOn::Nothing | DriveOn::Elsewhere);
    let elsewhere = matches!(drove, DriveOn::Elsewhere);
    let (output, accepted) = match drove {
        // The driver has taken the run (`Background::took_on`): the answer is the run as it is
        // now, as `resume` answers and as the CLI's report (which drives) prints it — not the
        // document of the report alone, which said nobody drives it and suggested a resume
        // the driver then holds (exit 4). The report's warnings stay.
        DriveOn::Started => match status_of_run(shared, &run_id) {
            Ok(now) => (now.warn(output.warnings), true),
            Err(f) => (
                output.warn(vec![format!(
                    "recorded, and a driver goes on with the run; its status could not be read now: {}",
                    f.error.message
                )]),
                true,
            ),
        },
        DriveOn::Nothing | DriveOn::Elsewhere => (output, false),
        DriveOn::NeedsSecrets(missing) => (output.warn(vec![needs_secrets_note(&missing)]), false),
        DriveOn::Late(note) => (output.warn(vec![note]), true),
        DriveOn::NotDriven(note) => (output.warn(vec![note]), false),
    };
    // What driving the run on says (a definition changed since the run started) is said here
    // as the CLI's report says it — a driver this server started writes it only to its log —
    // unless another process drives the run, as the CLI's report then does not say it either.
    let output = if !elsewhere {
        output.warn(ops::driving_on_warnings(&shared.ctx, &run_id))
    } else {
        output
    };
    // A secret output reported here is held by this server, and handed to the drivers it
    // starts; said only when the run is driven by another process, which does not have it.
    let output = match unhanded_secret_outputs(shared, &run_id, step, kind).filter(|_| foreign) {
        Some(note) => output.warn(vec![note]),
        None => output,
    };
    Ok(Done {
        output,
        run_id: Some(run_id),
        accepted,
    })
}

/// What to say of the secret outputs step `step` of run `run_id` has that this server holds
/// (the log keeps `***`), when another process drives the run now (this server started no
/// driver, which would have been handed them): a step that reads them there is refused.
fn unhanded_secret_outputs(
    shared: &Shared,
    run_id: &str,
    step: &str,
    kind: RunKind,
) -> Option<String> {
    if kind != RunKind::Workflow {
        return None;
    }
    let store = shared.ctx.reading_store().ok()??;
    let state = load_state(&store, run_id).ok()?;
    let wanted = crate::definition::normalize_name(step);
    let unit = state
        .steps
        .iter()
        .find(|s| crate::definition::normalize_name(&s.name) == wanted)?;
    let held: Vec<String> = unit
        .outputs
        .keys()
        .filter(|key| crate::execute::held_secret_output(run_id, &unit.name, key).is_some())
        .map(|key| format!("`{}`", crate::definition::shown(key)))
        .collect();
    if held.is_empty() {
        return None;
    }
    let holder = DriverLock::probe(&shared.ctx.home, run_id)?;
    if holder.pid == std::process::id() {
        return None;
    }
    Some(format!(
        "the secret output {} is held by this server only (the log keeps `***`), and the run is driven by another process (pid {}), which does not have it: a step there that reads it will be refused; once that process lets go, resume the run here (POST /api/v1/runs/{run_id}/resume, or Resume on its page) and the driver this server starts is given it",
        held.join(", "),
        holder.pid
    ))
}

/// A path that names no step of the run is a 404 (the operation says the same as a 400).
pub fn has_step(shared: &Shared, run_id: &str, kind: RunKind, step: &str) -> Result<(), Failure> {
    let Some(store) = shared.ctx.reading_store()? else {
        return Ok(());
    };
    let state = load_state(&store, run_id).map_err(CommandError::from)?;
    let wanted = crate::definition::normalize_name(step);
    if state
        .steps
        .iter()
        .any(|s| crate::definition::normalize_name(&s.name) == wanted)
    {
        return Ok(());
    }
    let unit = match kind {
        RunKind::Workflow => "step",
        RunKind::Scenario => "phase",
    };
    let names: Vec<&str> = state.steps.iter().map(|s| s.name.as_str()).collect();
    // A step of a child run (a `uses:` step's), named with the parent's run: said whose it
    // is and where to report it, as the CLI's `step complete` says (before, only "run has no
    // step", with no way to the child run).
    if kind == RunKind::Workflow
        && let Some((child, by_step)) = ops::workflow::child_with_step(&store, &state, &wanted)
    {
        let path = format!(
            "/api/v1/runs/{child}/steps/{}/complete",
            super::pages::urlencode(step)
        );
        return Err(Failure::not_found(
            CommandError::bad_input(format!(
                "run {run_id} has no step {}: it is in child run {child}, which its step `{by_step}` runs",
                crate::definition::shown(step)
            ))
            .hint(format!(
                "POST {path} (or `/fail`) reports it there, and drives this run on too; the CLI's twin is {}",
                crate::render::command_line(&["cortex", "workflow", "step", "complete", step, "--run", &child])
            ))
            .hint(
                crate::render::names_hints(step, &names, "steps", &format!("GET /api/v1/runs/{run_id}"))
                    .pop()
                    .unwrap_or_default(),
            ),
        ));
    }
    let lister = format!("GET /api/v1/runs/{run_id}");
    Err(Failure::not_found(
        crate::render::names_hints(step, &names, &format!("{unit}s"), &lister)
            .into_iter()
            .fold(
                CommandError::bad_input(format!(
                    "run {run_id} has no {unit} {}",
                    crate::definition::shown(step)
                )),
                |e, hint| e.hint(hint),
            ),
    ))
}

/// What a complete form confirmed of a phase's checklist: `confirm_at` fields, each an item's
/// place in the phase's criteria (what the page sends), and `confirm` fields, each an item's
/// text as the page shows it (line breaks compared as LF, as a browser sends them as CRLF).
#[derive(Debug, Default)]
pub struct Confirmed {
    pub at: Vec<String>,
    pub texts: Vec<String>,
}

/// Text with its line breaks as LF (a browser submits every one as CRLF).
fn lf(text: &str) -> String {
    text.replace("\r\n", "\n").replace('\r', "\n")
}

/// The page's complete form confirms a phase's checklist (`Confirmed`): each item (a string
/// criterion of the definition — a `{check: CMD}` one is a command, run by the report itself,
/// told by its type, never by its text) must be ticked, and nothing else may be. Before, the
/// form's fields were not read, and a completion with nothing ticked recorded every criterion
/// as met.
fn checklist(shared: &Shared, id: &str, step: &str, confirmed: &Confirmed) -> Result<(), Failure> {
    let (run_id, kind) = find(shared, id)?;
    if kind != RunKind::Scenario {
        return Ok(());
    }
    let Some(store) = shared.ctx.reading_store()? else {
        return Ok(());
    };
    let state = load_state(&store, &run_id).map_err(CommandError::from)?;
    let view = crate::project::status_view(&state, false);
    let wanted = crate::definition::normalize_name(step);
    // A phase the run does not have is said by the report itself (404).
    let Some(phase) = view
        .steps
        .iter()
        .find(|s| crate::definition::normalize_name(&s.name) == wanted)
    else {
        return Ok(());
    };
    // The checklist's items, by their place among the phase's criteria.
    let items: Vec<(usize, &str)> = phase
        .criteria
        .iter()
        .enumerate()
        .filter(|(_, c)| !c.check)
        .map(|(i, c)| (i, c.criterion.as_str()))
        .collect();
    // Each quoted as it reads: an item over several lines keeps its line breaks (shown as
    // lines on the page), each line escaped — before, a page said `"Line one\u{a}Line two"`.
    let quoted = |list: &[&str]| {
        list.iter()
            .map(|c| {
                let lines: Vec<String> = lf(c)
                    .split('\n')
                    .map(crate::definition::shown_text)
                    .collect();
                format!("\"{}\"", lines.join("\n"))
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut ticked: Vec<usize> = Vec::new();
    let mut unknown: Vec<String> = Vec::new();
    for at in &confirmed.at {
        match at
            .trim()
            .parse::<usize>()
            .ok()
            .filter(|i| items.iter().any(|(j, _)| j == i))
        {
            Some(i) => ticked.push(i),
            None => unknown.push(format!("at {at}")),
        }
    }
    for text in &confirmed.texts {
        let text = lf(text);
        match items.iter().find(|(_, c)| lf(c) == text) {
            Some((i, _)) => ticked.push(*i),
            None => unknown.push(text),
        }
    }
    let names: Vec<&str> = items.iter().map(|(_, c)| *c).collect();
    if !unknown.is_empty() {
        let unknown: Vec<&str> = unknown.iter().map(String::as_str).collect();
        return Err(Failure::bad_request(
            format!(
                "phase {} has no criterion {}; nothing was recorded",
                crate::definition::shown(&phase.name),
                quoted(&unknown)
            ),
            if items.is_empty() {
                "it has no checklist to confirm: leave `confirm` out".to_string()
            } else {
                format!("its criteria: {}", quoted(&names))
            },
        ));
    }
    let unticked: Vec<&str> = items
        .iter()
        .filter(|(i, _)| !ticked.contains(i))
        .map(|(_, c)| *c)
        .collect();
    if !unticked.is_empty() {
        return Err(Failure::bad_request(
            format!(
                "phase {} cannot be completed with its checklist not all ticked: {} not confirmed; nothing was recorded",
                crate::definition::shown(&phase.name),
                quoted(&unticked)
            ),
            "tick every criterion the phase met (a `confirm` field each); a phase that did not meet them is failed, not completed",
        ));
    }
    Ok(())
}

/// After a report or a start: a background driver takes the run if it has work and nobody
/// drives it (`operator::has_work`, the TUI's rule); the answer waits until it has taken the
/// run, so that what the client reads next shows it driven.
fn drive_on(shared: &Shared, run_id: &str, kind: RunKind) -> Result<DriveOn, Failure> {
    let ctx = &shared.ctx;
    let Some(store) = ctx.reading_store()? else {
        return Ok(DriveOn::Nothing);
    };
    let state = load_state(&store, run_id).map_err(CommandError::from)?;
    if DriverLock::probe(&ctx.home, run_id).is_some() {
        return Ok(DriveOn::Elsewhere);
    }
    if !operator::has_work(&state) {
        return Ok(DriveOn::Nothing);
    }
    let held = shared.secret_inputs_of(run_id);
    let missing = unheld_secret_inputs(&state, &held);
    if !missing.is_empty() {
        // What was reported is recorded; a driver without these values would refuse at once.
        return Ok(DriveOn::NeedsSecrets(missing));
    }
    // It drives on what was recorded, as the CLI's report goes on from its own process:
    // nothing of its own recorded first (`resume --drive-on`: no `run_resumed`), so the page's
    // report records the events its CLI twin records.
    let args = [
        kind.group().to_string(),
        "resume".into(),
        "--drive-on".into(),
        actor_arg(shared),
        "--".into(),
        run_id.to_string(),
    ];
    // What was reported is recorded whatever the driver does: its trouble is a warning on
    // the answer, never an error that would say nothing was done.
    let said = |f: Failure| {
        let mut note = format!("recorded; {}", f.error.message);
        for hint in &f.error.hints {
            note.push_str(&format!(" ({hint})"));
        }
        note
    };
    // The secret outputs a report recorded here are held here only: the driver is given them.
    let envs = [as_env(&held), crate::execute::secret_outputs_env(run_id)].concat();
    let started = driver::start(shared, &args, &envs).map_err(Failure::from);
    match started.and_then(|d| d.took_on(shared, run_id, state.events)) {
        Ok(()) => Ok(DriveOn::Started),
        Err(f) if f.status == StatusCode::GATEWAY_TIMEOUT => Ok(DriveOn::Late(said(f))),
        Err(f) => Ok(DriveOn::NotDriven(said(f))),
    }
}

/// Whether an action was driven on by a background driver.
enum DriveOn {
    /// Nothing to drive.
    Nothing,
    /// Another process drives it.
    Elsewhere,
    Started,
    /// The run goes on only with the values of these secret inputs, which this server was not
    /// given (it did not start the run, or was restarted since).
    NeedsSecrets(Vec<String>),
    /// A driver was started but did not take the run within `--driver-wait`: it may still.
    Late(String),
    /// The driver started to go on could not take the run (it ended with an error, or did not
    /// start): the run waits for the next `resume`.
    NotDriven(String),
}

/// The secret inputs of the run in `state` that a driver going on with it may read
/// (`plan::secret_inputs_ahead`, as `resume` asks for them) and whose values neither this
/// server's environment (`CORTEX_INPUT_<NAME>`), nor `held`, nor the definition's defaults
/// give. Before, every secret input the server lacked held the drive back, though what was
/// left of the run (people's phases) read none.
fn unheld_secret_inputs(state: &crate::decide::RunState, held: &[(String, String)]) -> Vec<String> {
    let ahead = crate::plan::secret_inputs_ahead(state, ResumeMode::Continue);
    held_redactor(state, held)
        .missing_inputs(state)
        .into_iter()
        .filter(|name| ahead.contains(name))
        .collect()
}

/// The run's redactor as this server has it: its environment's values, and those it holds.
fn held_redactor(
    state: &crate::decide::RunState,
    held: &[(String, String)],
) -> crate::execute::Redactor {
    let mut redactor = crate::execute::Redactor::of_run(state);
    for (name, value) in held {
        redactor.set_input(name, value);
    }
    redactor
}

/// The secret inputs whose values a completion of unit `index` of the run in `state` must be
/// given here: its checks run a command and this server holds no value for them
/// (`operator::checks_lack_secrets`, the rule the report itself applies). The page's complete
/// form asks for them.
pub fn report_needs_secrets(
    shared: &Shared,
    state: &crate::decide::RunState,
    index: usize,
) -> Vec<String> {
    let redactor = held_redactor(state, &shared.secret_inputs_of(&state.run_id));
    operator::checks_lack_secrets(state, &redactor, index, &[])
        .map(|lack| lack.missing)
        .unwrap_or_default()
}

/// Secret input values as the environment a driver reads them from (`CORTEX_INPUT_<NAME>`).
fn as_env(given: &[(String, String)]) -> Vec<(String, String)> {
    given
        .iter()
        .map(|(k, v)| (input_env_name(k), v.clone()))
        .collect()
}

/// What an action says when the run waits for secret inputs this server does not hold: the
/// driver's own note, and how to give them through the API.
fn needs_secrets_note(missing: &[String]) -> String {
    format!(
        "recorded; {} (through the API: `inputs` in the resume request)",
        crate::execute::missing_secrets_note(missing, crate::execute::CLI_RESUME_WITH_SECRETS)
    )
}

/// Stop a run gracefully, whoever drives it (`orchestrate stop`, `workflow stop`: one
/// `ops::scenario::stop_run`): a live driver — this server's own background one, a terminal's,
/// a worker's — is asked through the log and records the stop with the server's actor and the
/// message; a run nobody drives has it recorded here. `resume` goes on from it.
pub fn stop(shared: &Shared, id: &str, message: Option<&str>) -> Result<Done, Failure> {
    let (run_id, _) = find(shared, id)?;
    let _turn = shared.one_at_a_time(&run_id);
    let by = by(shared, message)?;
    let output = ops::scenario::stop_run(&shared.ctx, Scope::any(), Some(&run_id), by)?;
    Ok(Done {
        output,
        run_id: Some(run_id),
        accepted: false,
    })
}

/// End a run for good (`workflow abort` / `orchestrate abort`).
pub fn abort(shared: &Shared, id: &str, message: Option<&str>) -> Result<Done, Failure> {
    let (run_id, _) = find(shared, id)?;
    let _turn = shared.one_at_a_time(&run_id);
    let output = ops::workflow::abort(
        &shared.ctx,
        Scope::any(),
        Some(&run_id),
        by(shared, message)?,
    )?;
    Ok(Done {
        output,
        run_id: Some(run_id),
        accepted: false,
    })
}

/// Resume a run (`--retry`, `--skip`, `--from STEP`, `--rollback-to STEP`, `--timeout
/// LIMIT`): checked as `resume --dry-run` checks it (a bad time limit refused there, nothing
/// recorded; a finished run answers as `resume` does, changing nothing), then driven by a
/// background `cortex ... resume`.
pub fn resume(
    shared: &Shared,
    id: &str,
    mode: ResumeMode,
    inputs: &[(String, String)],
    timeout: Option<&str>,
    message: Option<&str>,
) -> Result<Done, Failure> {
    let (run_id, kind) = find(shared, id)?;
    // Another action of this server on the run now: refused, as the CLI's second resume is.
    let Some(_turn) = shared.turn_if_free(&run_id) else {
        return Err(busy_here(&run_id));
    };
    // This server's own driver driving the run: refused as well; one letting go is waited for.
    own_driver_let_go(shared, &run_id, kind, Doing::Resume)?;
    // Values of its secret inputs given now (`inputs`): kept for every later driver of the run.
    if !inputs.is_empty() {
        let store = shared
            .ctx
            .reading_store()?
            .ok_or_else(|| Failure::not_found(ops::no_runs()))?;
        let state = load_state(&store, &run_id).map_err(CommandError::from)?;
        let secret: Vec<String> = state
            .start
            .as_ref()
            .map(|s| s.secret_inputs.clone())
            .unwrap_or_default();
        for (k, _) in inputs {
            if !secret.contains(k) {
                return Err(Failure::bad_request(
                    format!(
                        "`{}` is not a secret input of run {run_id}: a resume takes only the values the log keeps as `***`{}",
                        crate::definition::shown(k),
                        if secret.is_empty() {
                            String::new()
                        } else {
                            format!(" ({})", secret.join(", "))
                        }
                    ),
                    "give in `inputs` only the run's secret inputs (its status document's `inputs` shows them as `***`); the others are in the log already",
                ));
            }
        }
        shared.keep_secret_inputs(&run_id, inputs);
    }
    let held = shared.secret_inputs_of(&run_id);
    let ctx = &shared.ctx;
    let args = ResumeArgs {
        mode: mode.clone(),
        inputs: &held,
        dry_run: true,
        timeout,
        notify_only: false,
        submit: false,
    };
    let plan = quiet(|live| {
        ops::workflow::resume(
            ctx,
            Scope::any(),
            Some(&run_id),
            args,
            by(shared, message)?,
            live,
        )
    })
    .map_err(|e| driven_here(shared, &run_id, kind, in_api_words(e).into()))?;
    if plan.json.get("dry_run") != Some(&serde_json::Value::Bool(true)) {
        // Already finished: the CLI's `resume` itself answers, here, in this server — it
        // changes nothing, or delivers the notifications still due (its driver died
        // delivering them; this server's background deliverer makes them and records each),
        // its document carrying `notifications` and `notifications_pending`. Before, the dry
        // run's answer was returned: "nothing to do", and the notification stayed due for good.
        let output = quiet(|live| {
            ops::workflow::resume(
                ctx,
                Scope::any(),
                Some(&run_id),
                ResumeArgs {
                    mode: mode.clone(),
                    inputs: &held,
                    dry_run: false,
                    timeout,
                    notify_only: false,
                    submit: false,
                },
                by(shared, message)?,
                live,
            )
        })
        .map_err(|e| driven_here(shared, &run_id, kind, in_api_words(e).into()))?;
        return Ok(Done {
            output,
            run_id: Some(run_id),
            accepted: false,
        });
    }
    // A plain resume of a run that only waits on people changes nothing, as the CLI's does:
    // no driver is started, and the answer is the CLI's — the status document with its `note`
    // and its exit code (3). Before, a background driver "took" the run, 202.
    if matches!(mode, ResumeMode::Continue)
        && inputs.is_empty()
        && let Some(output) = ops::workflow::idle_resume(ctx, &run_id)?
    {
        return Ok(Done {
            output,
            run_id: Some(run_id),
            accepted: false,
        });
    }
    let mut argv = vec![kind.group().to_string(), "resume".into(), actor_arg(shared)];
    argv.extend(message_arg(message));
    match mode {
        ResumeMode::Continue => {}
        ResumeMode::Retry => argv.push("--retry".into()),
        ResumeMode::Skip => argv.push("--skip".into()),
        ResumeMode::From(step) => argv.push(format!("--from={step}")),
        ResumeMode::RollbackTo(step) => argv.push(format!("--rollback-to={step}")),
    }
    argv.extend(timeout.map(|limit| format!("--timeout={limit}")));
    argv.extend(["--".to_string(), run_id.clone()]);
    let envs = [as_env(&held), crate::execute::secret_outputs_env(&run_id)].concat();
    // What the CLI's resume warns of, said here too: the driver runs the definition the run
    // started with, whatever the file now says (SPEC §4).
    let changed = ops::driving_on_warnings(ctx, &run_id);
    if let Some(pid) = own_driver_holding(shared, &run_id) {
        return Err(driven_by(&run_id, kind, pid, Doing::Resume));
    }
    let background = driver::start(shared, &argv, &envs)?;
    background
        .took(shared, &run_id)
        .map_err(|e| driven_here(shared, &run_id, kind, e))?;
    Ok(Done {
        output: status_of_run(shared, &run_id)?.warn(changed),
        run_id: Some(run_id),
        accepted: true,
    })
}

/// A resume mode by name, with the step it needs.
pub fn resume_mode(mode: Option<&str>, step: Option<&str>) -> Result<ResumeMode, Failure> {
    let step = step.map(str::trim).filter(|s| !s.is_empty());
    let needs_step = |make: fn(String) -> ResumeMode, word: &str| match step {
        Some(s) => Ok(make(s.to_string())),
        None => Err(Failure::bad_request(
            format!("resume `{word}` needs the step to go on from (`step`)"),
            "name one of the run's steps in `step` (its status document lists them)",
        )),
    };
    let word = mode.unwrap_or("continue");
    // A step given to a mode that goes on where the run stopped would be ignored, as the CLI
    // refuses `--retry --from STEP`: refused here too, nothing recorded.
    if let Some(s) = step
        && matches!(word, "continue" | "retry" | "skip")
    {
        let given = match mode {
            Some(m) => format!("mode `{m}` goes on where the run stopped"),
            None => "with no `mode` the run goes on where it stopped".to_string(),
        };
        return Err(Failure::bad_request(
            format!(
                "`step` ({}) is only meaningful with mode `from` or `rollback_to`: {given}, and takes no step; nothing was recorded",
                crate::definition::shown(s)
            ),
            "leave `step` out, or give `mode` `from` (run that step and the ones after it again) or `rollback_to` (undo the steps completed after it) with it",
        ));
    }
    match word {
        "continue" => Ok(ResumeMode::Continue),
        "retry" => Ok(ResumeMode::Retry),
        "skip" => Ok(ResumeMode::Skip),
        "from" => needs_step(ResumeMode::From, "from"),
        "rollback_to" => needs_step(ResumeMode::RollbackTo, "rollback_to"),
        other => Err(Failure::bad_request(
            format!(
                "resume mode {} is not one of continue, retry, skip, from, rollback_to",
                super::api::shown_value(other)
            ),
            "leave `mode` out to go on where the run stopped",
        )),
    }
}

// ---- the page's forms: the same actions, answered with a redirect to the run's page ----

/// A form's fields, in order (a field may repeat: `start`, `confirm`).
fn fields(body: &Bytes) -> Vec<(String, String)> {
    form_urlencoded::parse(body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// A form's `input.NAME` fields, as (NAME, value); empty ones are left out (a default, or a
/// value the server holds, applies).
pub fn input_fields(form: &[(String, String)]) -> Vec<(String, String)> {
    form.iter()
        .filter_map(|(k, v)| Some((k.strip_prefix("input.")?.to_string(), v.clone())))
        .filter(|(_, v)| !v.is_empty())
        .collect()
}

/// Where an error page of a page's action leads back to: the run, or the catalog entry,
/// whose form was sent.
struct Back {
    href: String,
    label: &'static str,
}

impl Back {
    fn run(id: &str) -> Back {
        Back {
            href: super::pages::run_href(id),
            label: "Back to the run",
        }
    }

    fn definition(group: &str, name: &str) -> Back {
        Back {
            href: format!("/catalog/{group}/{}", super::pages::urlencode(name)),
            label: "Back to the form",
        }
    }
}

/// What a page's action answers: to the run's page, or an error page leading `back`.
fn answer(back: Back, done: Result<Result<Done, Failure>, CommandError>) -> Response {
    match done {
        // What was done, with what the CLI would have warned about: said before going on.
        Ok(Ok(done)) if !done.output.warnings.is_empty() => {
            super::pages::done_with_warnings(done.run_id.as_deref(), &done.output.warnings)
        }
        Ok(Ok(done)) => match done.run_id {
            Some(id) => Redirect::to(&super::pages::run_href(&id)).into_response(),
            None => Redirect::to("/").into_response(),
        },
        Ok(Err(failure)) => super::pages::failure_back(failure, &back.href, back.label),
        Err(e) => super::pages::failure_back(Failure::from(e), &back.href, back.label),
    }
}

/// `POST /runs/{id}/steps/{step}/{start|complete|fail}` from the run's page: `message`, the
/// step's or phase's `outputs` (`KEY=VALUE` lines), and `input.NAME` fields for the secret
/// inputs its checks need (empty ones left out).
pub async fn page_step(
    State(shared): State<Arc<Shared>>,
    Path((id, step, action)): Path<(String, String, String)>,
    body: Bytes,
) -> Response {
    let Some(action) = StepAction::parse(&action) else {
        return super::pages::not_found_page();
    };
    let form = fields(&body);
    answer(
        Back::run(&id),
        blocking(&shared, move |shared| {
            let lines: Vec<String> = field(&form, "outputs")
                .unwrap_or_default()
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_string)
                .collect();
            let outputs = parse_pairs_from(&lines, "output", PairsFrom::Lines("Outputs"))?;
            if action == StepAction::Complete {
                let all = |name: &str| {
                    form.iter()
                        .filter(|(k, _)| k == name)
                        .map(|(_, v)| v.clone())
                        .collect()
                };
                let confirmed = Confirmed {
                    at: all("confirm_at"),
                    texts: all("confirm"),
                };
                checklist(shared, &id, &step, &confirmed)?;
            }
            let inputs = input_fields(&form);
            self::step(
                shared,
                &id,
                &step,
                action,
                outputs,
                &inputs,
                field(&form, "message"),
            )
        })
        .await,
    )
}

/// `POST /runs/{id}/{stop|resume|abort}` from the run's page (`message`; resume's `mode`,
/// `step` and `input.NAME` fields for its secret inputs, empty ones left out).
pub async fn page_run(
    State(shared): State<Arc<Shared>>,
    Path((id, action)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let form = fields(&body);
    answer(
        Back::run(&id),
        blocking(&shared, move |shared| {
            let message = field(&form, "message");
            match action.as_str() {
                "stop" => stop(shared, &id, message),
                "abort" => abort(shared, &id, message),
                "resume" => {
                    let mode = resume_mode(field(&form, "mode"), field(&form, "step"))?;
                    // Left empty: the limit a plain resume keeps.
                    let timeout = field(&form, "timeout").filter(|t| !t.trim().is_empty());
                    resume(shared, &id, mode, &input_fields(&form), timeout, message)
                }
                _ => Err(Failure::not_found(
                    CommandError::bad_input(format!(
                        "there is no action {}",
                        crate::definition::shown(&action)
                    ))
                    .hint("a run's actions are stop, abort and resume"),
                )),
            }
        })
        .await,
    )
}

/// `POST /catalog/workflows/{name}/run` from the run form: `input.NAME` fields (empty ones
/// are left out, so defaults apply), `message`.
pub async fn page_run_workflow(
    State(shared): State<Arc<Shared>>,
    Path(name): Path<String>,
    body: Bytes,
) -> Response {
    let form = fields(&body);
    answer(
        Back::definition("workflows", &name),
        blocking(&shared, move |shared| {
            run_workflow(shared, &name, &input_fields(&form), field(&form, "message"))
        })
        .await,
    )
}

/// `POST /catalog/scenarios/{name}/run`: `start` fields (manual phases to start at once),
/// `message`.
pub async fn page_run_scenario(
    State(shared): State<Arc<Shared>>,
    Path(name): Path<String>,
    body: Bytes,
) -> Response {
    let form = fields(&body);
    answer(
        Back::definition("scenarios", &name),
        blocking(&shared, move |shared| {
            let starts: Vec<String> = form
                .iter()
                .filter(|(k, _)| k == "start")
                .map(|(_, v)| v.clone())
                .collect();
            run_scenario(
                shared,
                &name,
                &starts,
                &input_fields(&form),
                field(&form, "message"),
            )
        })
        .await,
    )
}

/// The HTTP status of what an action did: 202 when a background driver goes on with it.
pub fn done_status(done: &Done) -> StatusCode {
    if done.accepted {
        StatusCode::ACCEPTED
    } else {
        StatusCode::OK
    }
}
