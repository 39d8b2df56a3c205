//! `cortex workflow ...`: each command a thin wrapper over the library.

use std::collections::{BTreeMap, BTreeSet};
use std::time::SystemTime;

use serde_json::json;

use super::args::{Audit, StepCommand, StepReport, WorkflowCommand};
use super::context::{Ctx, default_actor, no_runs, operator};
use super::drive::{
    KILL_GRACE, acquire_or_stop_holder, driver, finish_driving, holder, parse_pairs,
    warn_if_definition_changed,
};
use super::observer::TerminalObserver;
use super::{CommandError, exit, out, out_json};
use crate::decide::{AttemptReport, Command, StepStatus};
use crate::definition::{
    Config, Durability, Entry, EntrySource, Workflow, normalize_name, parse_workflow, snapshot,
};
use crate::event::{AttemptEnd, ResumeMode, RunKind, RunStarted};
use crate::execute::{DriverLock, Journal, StopFlag, SystemClock, UlidIds, materialize};
use crate::plan::{preview_resume, preview_run};
use crate::project::{RunStatus, run_status, status_view};
use crate::render::{render_header, render_history, render_plan, render_status};
use crate::store::{EventStore, SqliteStore};
use crate::validate::{Known, resolve_inputs, validate_workflow};

pub fn dispatch(ctx: &Ctx, cmd: WorkflowCommand) -> Result<i32, CommandError> {
    match cmd {
        WorkflowCommand::List => list(ctx),
        WorkflowCommand::Validate { name } => validate(ctx, &name),
        WorkflowCommand::Run {
            name,
            inputs,
            dry_run,
            audit,
        } => run(ctx, &name, &inputs, dry_run, &audit),
        WorkflowCommand::Status { run, at } => status(ctx, run.as_deref(), at),
        WorkflowCommand::Resume {
            run,
            retry,
            skip,
            rollback_to,
            from,
            dry_run,
            audit,
        } => {
            let mode = match (retry, skip, rollback_to, from) {
                (true, ..) => ResumeMode::Retry,
                (_, true, ..) => ResumeMode::Skip,
                (_, _, Some(step), _) => ResumeMode::RollbackTo(step),
                (_, _, _, Some(step)) => ResumeMode::From(step),
                _ => ResumeMode::Continue,
            };
            resume(ctx, run.as_deref(), mode, dry_run, &audit)
        }
        WorkflowCommand::Abort { run, audit } => abort(ctx, run.as_deref(), &audit),
        WorkflowCommand::History => history(ctx),
        WorkflowCommand::Step(StepCommand::Complete(report)) => step_report(ctx, &report, true),
        WorkflowCommand::Step(StepCommand::Fail(report)) => step_report(ctx, &report, false),
    }
}

/// A definition that parsed and validated, with what it needs to run.
struct Loaded {
    entry: Entry,
    workflow: Workflow,
    config: Config,
    agents: BTreeMap<String, Option<String>>,
}

fn load(ctx: &Ctx, name: &str) -> Result<Loaded, CommandError> {
    let catalog = ctx.catalog();
    let config = catalog.config().map_err(|e| CommandError::definition(&e))?;
    let entry = catalog.find_workflow(name)?;
    let path = entry.display_path();
    let workflow = parse_workflow(&path, &entry.text).map_err(|e| CommandError::definition(&e))?;
    let found: Vec<_> = catalog
        .agents()
        .into_iter()
        .filter_map(Result::ok)
        .collect();
    let agent_names: BTreeSet<String> =
        found.iter().map(|(a, _)| normalize_name(&a.name)).collect();
    validate_workflow(
        &path,
        &entry.text,
        &workflow,
        &Known {
            config: &config,
            agents: &agent_names,
        },
    )
    .map_err(|e| CommandError::definition(&e))?;
    let agents = workflow
        .steps
        .iter()
        .filter_map(|s| s.agent.clone())
        .map(|name| {
            let command = found
                .iter()
                .find(|(a, _)| normalize_name(&a.name) == normalize_name(&name))
                .and_then(|(a, _)| a.command.clone());
            (name, command)
        })
        .collect();
    Ok(Loaded {
        entry,
        workflow,
        config,
        agents,
    })
}

fn list(ctx: &Ctx) -> Result<i32, CommandError> {
    let catalog = ctx.catalog();
    let mut rows = Vec::new();
    for (name, source) in catalog.workflows() {
        let (text, src) = match &source {
            EntrySource::Builtin => (
                crate::definition::builtin_workflow(&name)
                    .unwrap_or_default()
                    .to_string(),
                "built-in".to_string(),
            ),
            EntrySource::File(p) => (
                crate::definition::read_definition(p).unwrap_or_default(),
                p.display().to_string(),
            ),
        };
        let parsed = parse_workflow(&name, &text).ok();
        rows.push(json!({
            "name": name,
            "source": src,
            "valid": parsed.is_some(),
            "steps": parsed.as_ref().map(|w| w.steps.len()),
            "description": parsed.as_ref().and_then(|w| w.description.clone()),
        }));
    }
    if ctx.json {
        out_json(&rows);
        return Ok(exit::OK);
    }
    let mut text = format!("Workflows ({}):\n", ctx.home.join("workflows").display());
    let width = super::name_width(&rows);
    for r in &rows {
        let steps = r["steps"]
            .as_u64()
            .map_or("invalid".to_string(), |n| format!("{n} steps"));
        let origin = if r["source"] == "built-in" {
            "  [built-in]"
        } else {
            ""
        };
        text.push_str(&format!(
            "  {:<width$}  {:<9}  {}{origin}\n",
            r["name"].as_str().unwrap_or_default(),
            steps,
            r["description"].as_str().unwrap_or(""),
        ));
    }
    text.push_str("\nRun one with `cortex workflow run NAME`.\n");
    out(&text);
    Ok(exit::OK)
}

fn validate(ctx: &Ctx, name: &str) -> Result<i32, CommandError> {
    match load(ctx, name) {
        Ok(l) => {
            let file = l.entry.display_path();
            let agents: BTreeSet<&String> = l.agents.keys().collect();
            if ctx.json {
                out_json(&json!({
                    "valid": true, "path": file, "name": l.workflow.name,
                    "steps": l.workflow.steps.len(), "agents": agents, "inputs": l.workflow.inputs.keys().collect::<Vec<_>>(),
                }));
            } else {
                let shown = match &l.entry.source {
                    EntrySource::File(p) => p
                        .file_name()
                        .map_or(file.clone(), |f| f.to_string_lossy().into_owned()),
                    EntrySource::Builtin => file.clone(),
                };
                let mut text = format!("[OK] {shown} - Valid\n");
                text.push_str(&format!("  - {} steps defined\n", l.workflow.steps.len()));
                text.push_str(&format!("  - {} unique agents referenced\n", agents.len()));
                if !l.workflow.inputs.is_empty() {
                    text.push_str(&format!(
                        "  - inputs: {}\n",
                        l.workflow
                            .inputs
                            .keys()
                            .cloned()
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
                out(&text);
            }
            Ok(exit::OK)
        }
        Err(e) => Err(e),
    }
}

fn run(
    ctx: &Ctx,
    name: &str,
    inputs: &[String],
    dry_run: bool,
    audit: &Audit,
) -> Result<i32, CommandError> {
    let loaded = load(ctx, name)?;
    let given = parse_pairs(inputs, "input")?;
    let cwd = ctx.cwd.clone();
    let inputs = resolve_inputs(&loaded.workflow.inputs, &given, &|p| cwd.join(p).exists())
        .map_err(|problems| {
            let mut e = CommandError::bad_input(format!(
                "the inputs of `{}` are not valid ({} problem{})",
                loaded.workflow.name,
                problems.len(),
                if problems.len() == 1 { "" } else { "s" }
            ));
            e.detail = Some(problems.iter().map(|p| format!("  - {p}\n")).collect());
            e
        })?;
    if dry_run {
        let agents = &loaded.agents;
        let wf = &loaded.workflow;
        let plan = preview_run(wf, &|i| {
            let s = &wf.steps[i];
            s.run.is_none()
                && s.agent
                    .as_ref()
                    .and_then(|a| agents.get(a).cloned().flatten())
                    .is_none()
        });
        if ctx.json {
            out_json(&json!({ "workflow": wf.name, "dry_run": true, "steps": plan }));
        } else {
            out(&render_plan(
                &format!("Plan for workflow `{}`", wf.name),
                &plan,
            ));
        }
        return Ok(exit::OK);
    }
    let mut store = ctx.store(loaded.config.durability)?;
    let clock = SystemClock;
    let mut ids = UlidIds::default();
    let run_id = crate::execute::IdGen::next_id(&mut ids);
    let by = operator(audit);
    let lock = DriverLock::acquire(&ctx.home, &run_id, &holder(&by.actor))?;
    let (definition, definition_hash) = snapshot(&loaded.workflow);
    let started = RunStarted {
        kind: RunKind::Workflow,
        name: loaded.workflow.name.clone(),
        definition,
        definition_hash,
        source: loaded.entry.display_path(),
        inputs,
        config: loaded.config.clone(),
        agents: loaded.agents.clone(),
        working_dir: ctx.cwd.display().to_string(),
        driver: driver(),
        by: by.clone(),
    };
    let mut journal = Journal::open(&mut store, &clock, &mut ids, &run_id)?;
    journal.submit(Command::Start(Box::new(started)))?;
    if !ctx.json {
        out(&render_header(&journal.state, false));
    }
    finish_driving(ctx, journal, by, lock)
}

fn open_run<'a>(
    ctx: &Ctx,
    store: &'a mut SqliteStore,
    clock: &'a SystemClock,
    ids: &'a mut UlidIds,
    run: Option<&str>,
) -> Result<Journal<'a>, CommandError> {
    let run_id = ctx.resolve_run(store, run)?;
    Ok(Journal::open(store, clock, ids, &run_id)?)
}

fn status(ctx: &Ctx, run: Option<&str>, at: Option<u64>) -> Result<i32, CommandError> {
    let Some(mut store) = ctx.existing_store()? else {
        return Err(no_runs());
    };
    let run_id = ctx.resolve_run(&store, run)?;
    if at.is_none() {
        // The present: from the latest snapshot plus the events after it.
        let mut state = crate::execute::load_state(&store, &run_id)?;
        state.run_id = run_id.clone();
        crate::execute::maybe_snapshot(&mut store, &state);
        let alive = DriverLock::probe(&ctx.home, &run_id).is_some();
        return print_status(ctx, &state, alive, None);
    }
    let events = store.read_run(&run_id)?;
    let upto: Vec<_> = match at {
        Some(seq) if seq >= events.len() as u64 => {
            return Err(CommandError::bad_input(format!(
                "run {run_id} has {} events (seq 0 to {}); --at {seq} is past its end",
                events.len(),
                events.len().saturating_sub(1)
            )));
        }
        Some(seq) => events.into_iter().filter(|e| e.seq <= seq).collect(),
        None => events,
    };
    let mut state = crate::decide::replay(&upto);
    state.run_id = run_id.clone();
    print_status(ctx, &state, true, at)
}

fn print_status(
    ctx: &Ctx,
    state: &crate::decide::RunState,
    alive: bool,
    at: Option<u64>,
) -> Result<i32, CommandError> {
    let view = status_view(state, alive);
    if ctx.json {
        out_json(&view.to_json());
    } else {
        let mut text = String::new();
        if let Some(seq) = at {
            text.push_str(&format!("(as of event {seq})\n"));
        }
        // RUN defaults to the most recent run of either kind: show each in its own screen.
        if state.is_scenario() {
            text.push_str(&crate::render::render_scenario_status(
                &view,
                SystemTime::now(),
            ));
        } else {
            text.push_str(&render_status(&view, SystemTime::now()));
        }
        out(&text);
    }
    Ok(exit::OK)
}

pub(super) fn resume(
    ctx: &Ctx,
    run: Option<&str>,
    mode: ResumeMode,
    dry_run: bool,
    audit: &Audit,
) -> Result<i32, CommandError> {
    let Some(mut store) = ctx.existing_store()? else {
        return Err(no_runs());
    };
    let clock = SystemClock;
    let mut ids = UlidIds::default();
    let run_id = ctx.resolve_run(&store, run)?;
    let durability = {
        let journal = Journal::open(&mut store, &clock, &mut ids, &run_id)?;
        if let Some(outcome) = journal.state.outcome() {
            // Nothing to run, but derived files deleted by hand are rebuilt from the log.
            if let Err(e) = materialize(&ctx.home, &journal.state) {
                super::err(&format!("warning: could not write derived files: {e}\n"));
            }
            let view = status_view(&journal.state, false);
            if ctx.json {
                out_json(&view.to_json());
            } else {
                out(&format!(
                    "Run {run_id} already finished ({}); nothing to do.\n   Head hash: {}\n",
                    outcome.as_str(),
                    view.head_hash
                ));
            }
            return Ok(view.status.exit_code());
        }
        if dry_run {
            let plan = preview_resume(&journal.state, mode.clone())
                .map_err(|e| CommandError::bad_input(e.to_string()))?;
            if ctx.json {
                out_json(&json!({ "run_id": run_id, "dry_run": true, "steps": plan }));
            } else {
                out(&render_plan(
                    &format!("Resume plan for run {run_id}"),
                    &plan,
                ));
            }
            return Ok(exit::OK);
        }
        // Fixed at `run` (it is in `run_started`): no need to read it again under the lock.
        journal
            .state
            .start
            .as_ref()
            .map_or(Durability::Normal, |s| s.config.durability)
    };
    let by = operator(audit);
    let lock = DriverLock::acquire(&ctx.home, &run_id, &holder(&by.actor))?;
    // The run's own configuration decides how hard its appends try.
    store.set_durability(durability)?;
    let mut journal = open_run(ctx, &mut store, &clock, &mut ids, Some(&run_id))?;
    if let Some(start) = journal.state.start.as_deref() {
        warn_if_definition_changed(ctx, start);
    }
    journal
        .submit(Command::Resume {
            mode,
            by: by.clone(),
            driver: driver(),
        })
        .map_err(|e| {
            CommandError::from(e).hint(format!(
                "`cortex workflow status {run_id}` shows where the run is"
            ))
        })?;
    if let Err(e) = materialize(&ctx.home, &journal.state) {
        super::err(&format!("warning: could not write derived files: {e}\n"));
    }
    if !ctx.json {
        out(&render_header(&journal.state, true));
    }
    finish_driving(ctx, journal, by, lock)
}

fn abort(ctx: &Ctx, run: Option<&str>, audit: &Audit) -> Result<i32, CommandError> {
    let Some(mut store) = ctx.existing_store()? else {
        return Err(no_runs());
    };
    let clock = SystemClock;
    let mut ids = UlidIds::default();
    let run_id = ctx.resolve_run(&store, run)?;
    let by = operator(audit);
    let lock = acquire_or_stop_holder(ctx, &run_id, &by.actor)?;
    let mut journal = Journal::open(&mut store, &clock, &mut ids, &run_id)?;
    if let Some(outcome) = journal.state.outcome() {
        return Err(CommandError::bad_input(format!(
            "run {run_id} already finished ({}); there is nothing to abort",
            outcome.as_str()
        )));
    }
    journal.submit(Command::Abort { by })?;
    let _ = materialize(&ctx.home, &journal.state);
    drop(lock);
    let view = status_view(&journal.state, false);
    if ctx.json {
        out_json(&view.to_json());
    } else {
        out(&format!(
            "❌ Run {run_id} aborted.\n   Head hash: {}\n",
            view.head_hash
        ));
    }
    Ok(view.status.exit_code())
}

fn history(ctx: &Ctx) -> Result<i32, CommandError> {
    let Some(store) = ctx.existing_store()? else {
        if ctx.json {
            out_json(&Vec::<serde_json::Value>::new());
        } else {
            out(&render_history(&[]));
        }
        return Ok(exit::OK);
    };
    let mut rows = Vec::new();
    for head in store.runs()?.iter().rev() {
        if !matches!(head.first.event, crate::event::Event::RunStarted(_)) {
            continue;
        }
        let mut state = crate::execute::load_state(&store, &head.run_id)?;
        state.run_id = head.run_id.clone();
        let alive = DriverLock::probe(&ctx.home, &head.run_id).is_some();
        let status: RunStatus = run_status(&state, alive);
        let name = state
            .start
            .as_ref()
            .map_or_else(String::new, |s| s.name.clone());
        rows.push((
            head.run_id.clone(),
            name,
            status,
            state.started_at.clone(),
            head.events,
        ));
    }
    if ctx.json {
        let docs: Vec<_> = rows
            .iter()
            .map(|(id, name, status, started, events)| {
                json!({"run_id": id, "name": name, "status": status, "started_at": started, "events": events})
            })
            .collect();
        out_json(&docs);
    } else {
        out(&render_history(&rows));
    }
    Ok(exit::OK)
}

fn step_report(ctx: &Ctx, report: &StepReport, success: bool) -> Result<i32, CommandError> {
    let Some(mut store) = ctx.existing_store()? else {
        return Err(no_runs());
    };
    let clock = SystemClock;
    let mut ids = UlidIds::default();
    let run_id = ctx.resolve_run(&store, report.run.as_deref())?;
    let outputs = parse_pairs(&report.outputs, "output")?;
    let by = operator(&report.audit);
    let lock = DriverLock::acquire(&ctx.home, &run_id, &holder(&by.actor))?;
    let mut journal = Journal::open(&mut store, &clock, &mut ids, &run_id)?;
    let state = &journal.state;
    if let Some(outcome) = state.outcome() {
        return Err(CommandError::bad_input(format!(
            "run {run_id} already finished ({}); its steps cannot be reported any more",
            outcome.as_str()
        )));
    }
    let wanted = normalize_name(&report.step);
    let Some(index) = state
        .steps
        .iter()
        .position(|s| normalize_name(&s.name) == wanted)
    else {
        let names: Vec<&str> = state.steps.iter().map(|s| s.name.as_str()).collect();
        let mut e = CommandError::bad_input(format!("run {run_id} has no step `{}`", report.step))
            .hint(format!("its steps: {}", names.join(", ")));
        if let Some(best) =
            crate::definition::catalog_suggest(&wanted, names.iter().copied()).first()
        {
            e = e.hint(format!("did you mean `{best}`?"));
        }
        return Err(e);
    };
    let step = state.steps[index].clone();
    if step.status != StepStatus::Waiting {
        let now = match state.steps.iter().find(|s| s.status == StepStatus::Waiting) {
            Some(w) => format!("the run waits on `{}`", w.name),
            None => "no step is waiting for a report".to_string(),
        };
        return Err(CommandError::bad_input(format!(
            "step `{}` is {}, not waiting for a report; {now}",
            step.name,
            step.status.as_str()
        ))
        .hint(format!(
            "`cortex workflow status {run_id}` shows every step"
        )));
    }
    let problems = if success {
        let mut observer = TerminalObserver::new(ctx.json);
        let runner = crate::execute::Runner {
            home: ctx.home.clone(),
            stop: StopFlag::default(),
            grace: KILL_GRACE,
            redactor: crate::execute::redactor_for(state),
        };
        runner.validate_report(state, index, &outputs, &mut |step, s, l| {
            crate::execute::Observer::line(&mut observer, step, s, l)
        })
    } else {
        Vec::new()
    };
    let attempt = step.attempts;
    let events = journal.submit(Command::FinishAttempt(Box::new(AttemptReport {
        step: step.name.clone(),
        attempt,
        end: AttemptEnd::Reported { success },
        outputs,
        output_tail: report.audit.message.clone().unwrap_or_default(),
        validation_problems: problems.clone(),
        by: Some(by),
    })))?;
    let _ = materialize(&ctx.home, &journal.state);
    drop(lock);
    let view = status_view(&journal.state, false);
    if ctx.json {
        out_json(&view.to_json());
        return Ok(exit::OK);
    }
    let after = journal.state.step(&step.name).map(|s| s.status);
    let mut text = match after {
        Some(StepStatus::Completed) => format!("✅ Step `{}` reported complete.\n", step.name),
        _ if success => format!(
            "❌ Step `{}` did not pass its validation:\n{}",
            step.name,
            problems
                .iter()
                .map(|p| format!("   - {p}\n"))
                .collect::<String>()
        ),
        _ => format!("❌ Step `{}` reported failed.\n", step.name),
    };
    let _ = events;
    match view.status {
        RunStatus::Completed => text.push_str(&format!(
            "✅ Workflow completed.\n   Head hash: {}\n",
            view.head_hash
        )),
        _ => text.push_str(&format!("Next: cortex workflow resume {run_id}\n")),
    }
    out(&text);
    let _ = default_actor;
    Ok(exit::OK)
}
