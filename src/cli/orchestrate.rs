//! `cortex orchestrate ...`: scenarios.

use std::collections::BTreeSet;

use serde_json::json;

use std::time::{Duration, Instant, SystemTime};

use super::args::{Audit, OrchestrateCommand};
use super::context::{Ctx, no_runs, operator};
use super::drive::{KILL_GRACE, driver, finish_driving, holder};
use super::{CommandError, exit, out, out_json};
use crate::decide::{Command, RunState};
use crate::definition::{
    Condition, DefinitionError, Entry, EntrySource, Scenario, normalize_name, parse_scenario,
    snapshot,
};
use crate::event::{Event, Operator, ResumeMode, RunKind, RunStarted};
use crate::execute::operator::{self, DriveOn, OperatorError, Stopping};
use crate::execute::{DriverLock, Journal, SystemClock, UlidIds, load_state};
use crate::plan::parallel_opportunities;
use crate::project::{RunStatus, status_view};
use crate::render::{render_header, render_scenario_status};
use crate::render::{render_invalid, render_preview, render_valid};
use crate::store::EventStore;
use crate::validate::validate_scenario;

pub fn dispatch(ctx: &Ctx, cmd: OrchestrateCommand) -> Result<i32, CommandError> {
    match cmd {
        OrchestrateCommand::List => list(ctx),
        OrchestrateCommand::Validate { name, all } => validate(ctx, name.as_deref(), all),
        OrchestrateCommand::Preview { name } => preview(ctx, &name),
        OrchestrateCommand::Run { name, start, audit } => run(ctx, &name, &start, &audit),
        OrchestrateCommand::Status { target } => status(ctx, target.as_deref()),
        OrchestrateCommand::Start { name, phase, audit } => start(ctx, &name, &phase, &audit),
        OrchestrateCommand::Complete { name, phase, audit } => {
            report(ctx, &name, &phase, true, &audit)
        }
        OrchestrateCommand::Fail { name, phase, audit } => {
            report(ctx, &name, &phase, false, &audit)
        }
        OrchestrateCommand::Stop { name, audit } => stop(ctx, &name, &audit),
        OrchestrateCommand::Resume {
            name,
            dry_run,
            audit,
        } => {
            let store = ctx.existing_store()?.ok_or_else(no_runs)?;
            let run_id = latest_run(ctx, &store, Some(&name), false)?;
            drop(store);
            super::workflow::resume(ctx, Some(&run_id), ResumeMode::Continue, dry_run, &audit)
        }
    }
}

/// The latest run of scenario `name` (a run id works too); with `active`, only runs that
/// have not finished.
fn latest_run(
    ctx: &Ctx,
    store: &dyn EventStore,
    name: Option<&str>,
    active: bool,
) -> Result<String, CommandError> {
    let runs = store.runs()?;
    if let Some(q) = name
        && let Some(hit) = runs
            .iter()
            .find(|r| r.run_id.starts_with(&q.trim().to_uppercase()) && q.len() >= 6)
    {
        return Ok(hit.run_id.clone());
    }
    let wanted = name.map(|n| normalize_name(n.strip_suffix(".yaml").unwrap_or(n)));
    for head in runs.iter().rev() {
        let Event::RunStarted(started) = &head.first.event else {
            continue;
        };
        if started.kind != RunKind::Scenario {
            continue;
        }
        if wanted
            .as_ref()
            .is_some_and(|w| normalize_name(&started.name) != *w)
        {
            continue;
        }
        if active && load_state(store, &head.run_id)?.outcome().is_some() {
            continue;
        }
        return Ok(head.run_id.clone());
    }
    let what = name.map_or("any scenario".to_string(), |n| format!("scenario `{n}`"));
    let qualifier = if active { "unfinished " } else { "" };
    Err(
        CommandError::bad_input(format!("there is no {qualifier}run of {what}"))
            .hint("start one with `cortex orchestrate run NAME`")
            .hint(format!(
                "`cortex workflow history` lists runs; {}",
                ctx.home.display()
            )),
    )
}

fn run(ctx: &Ctx, name: &str, starts: &[String], audit: &Audit) -> Result<i32, CommandError> {
    let entry = ctx.catalog().find_scenario(name)?;
    let scenario = check(ctx, &entry)?;
    let config = ctx
        .catalog()
        .config()
        .map_err(|e| CommandError::definition(&e))?;
    for phase in starts {
        let ok = scenario
            .phases
            .iter()
            .any(|p| p.name == *phase && matches!(p.parsed_condition(), Ok(Condition::Manual)));
        if !ok {
            let manual: Vec<&str> = scenario
                .phases
                .iter()
                .filter(|p| matches!(p.parsed_condition(), Ok(Condition::Manual)))
                .map(|p| p.name.as_str())
                .collect();
            return Err(CommandError::bad_input(format!(
                "`{phase}` is not a manual phase of {}",
                scenario.name
            ))
            .hint(format!(
                "manual phases: {}",
                if manual.is_empty() {
                    "none".into()
                } else {
                    manual.join(", ")
                }
            )));
        }
    }
    let catalog = ctx.catalog();
    let found: Vec<_> = catalog
        .agents()
        .into_iter()
        .filter_map(Result::ok)
        .collect();
    let agents = scenario
        .phases
        .iter()
        .flat_map(|p| p.agents.iter().cloned())
        .map(|agent| {
            let command = found
                .iter()
                .find(|(a, _)| normalize_name(&a.name) == normalize_name(&agent))
                .and_then(|(a, _)| a.command.clone());
            (agent, command)
        })
        .collect();
    let mut store = ctx.store(config.durability)?;
    let clock = SystemClock;
    let mut ids = UlidIds::default();
    let run_id = crate::execute::IdGen::next_id(&mut ids);
    let by = operator(audit);
    let lock = DriverLock::acquire(&ctx.home, &run_id, &holder(&by.actor))?;
    let (definition, definition_hash) = snapshot(&scenario);
    let started = RunStarted {
        kind: RunKind::Scenario,
        name: scenario.name.clone(),
        definition,
        definition_hash,
        source: entry.display_path(),
        inputs: Default::default(),
        config,
        agents,
        working_dir: ctx.cwd.display().to_string(),
        driver: driver(),
        by: by.clone(),
    };
    let mut journal = Journal::open(&mut store, &clock, &mut ids, &run_id)?;
    journal.submit(Command::Start(Box::new(started)))?;
    for phase in starts {
        journal.submit(Command::RequestStart {
            phase: phase.clone(),
            by: by.clone(),
        })?;
    }
    if !ctx.json {
        out(&render_header(&journal.state, false));
    }
    finish_driving(ctx, journal, by, lock)
}

fn status(ctx: &Ctx, target: Option<&str>) -> Result<i32, CommandError> {
    let store = ctx.existing_store()?.ok_or_else(no_runs)?;
    let run_id = latest_run(ctx, &store, target, false)?;
    let mut state = load_state(&store, &run_id)?;
    state.run_id = run_id.clone();
    let alive = DriverLock::probe(&ctx.home, &run_id).is_some();
    let view = status_view(&state, alive);
    if ctx.json {
        out_json(&view.to_json());
    } else {
        out(&render_scenario_status(&view, SystemTime::now()));
    }
    Ok(exit::OK)
}

/// Append an operator's command to the latest unfinished run of `name` (a driver may be
/// running it: the log orders both), then, if nobody drives the run, drive it on from here.
fn act(
    ctx: &Ctx,
    name: &str,
    by: &Operator,
    make: impl FnOnce(&RunState) -> Result<Command, OperatorError>,
) -> Result<i32, CommandError> {
    let mut store = ctx.existing_store()?.ok_or_else(no_runs)?;
    let run_id = latest_run(ctx, &store, Some(name), true)?;
    let clock = SystemClock;
    let mut ids = UlidIds::default();
    let mut journal = Journal::open(&mut store, &clock, &mut ids, &run_id)?;
    operator::record(&mut journal, &ctx.home, make).map_err(|e| operator_error(e, name))?;
    match operator::drive_on(&ctx.home, &journal.state, &holder(&by.actor))? {
        DriveOn::Here(lock) => {
            journal.refresh()?;
            finish_driving(ctx, journal, by.clone(), lock)
        }
        DriveOn::Nothing => {
            // Nothing to drive (the report paused or finished the run): say where it is.
            let view = status_view(&journal.state, false);
            print_status(ctx, &view);
            Ok(view.status.exit_code())
        }
        DriveOn::Elsewhere => {
            // Its driver picks the report up from the log.
            print_status(ctx, &status_view(&journal.state, true));
            Ok(exit::OK)
        }
    }
}

/// An operator action's error as the user sees it, with where to look next.
fn operator_error(e: OperatorError, name: &str) -> CommandError {
    match e {
        OperatorError::NoSuchPhase { ref phases, .. } => CommandError::bad_input(e.to_string())
            .hint(format!("its phases: {}", phases.join(", "))),
        OperatorError::NotWaiting { .. } => CommandError::bad_input(e.to_string()).hint(format!(
            "`cortex orchestrate status {name}` shows every phase"
        )),
        OperatorError::Journal(j) => j.into(),
        OperatorError::Store(s) => s.into(),
        OperatorError::Lock(l) => l.into(),
    }
}

fn print_status(ctx: &Ctx, view: &crate::project::StatusView) {
    if ctx.json {
        out_json(&view.to_json());
    } else {
        out(&render_scenario_status(view, SystemTime::now()));
    }
}

fn start(ctx: &Ctx, name: &str, phase: &str, audit: &Audit) -> Result<i32, CommandError> {
    let by = operator(audit);
    act(ctx, name, &by, |state| {
        operator::start_phase(state, phase, &by)
    })
}

fn report(
    ctx: &Ctx,
    name: &str,
    phase: &str,
    success: bool,
    audit: &Audit,
) -> Result<i32, CommandError> {
    let by = operator(audit);
    act(ctx, name, &by, |state| {
        operator::report_phase(state, &ctx.home, phase, success, &by, KILL_GRACE)
    })
}

fn stop(ctx: &Ctx, name: &str, audit: &Audit) -> Result<i32, CommandError> {
    let by = operator(audit);
    let mut store = ctx.existing_store()?.ok_or_else(no_runs)?;
    let run_id = latest_run(ctx, &store, Some(name), true)?;
    let clock = SystemClock;
    let mut ids = UlidIds::default();
    let stopping = operator::stop(
        &mut store,
        &clock,
        &mut ids,
        &ctx.home,
        &run_id,
        &by,
        &holder(&by.actor),
    )
    .map_err(|e| operator_error(e, name))?;
    if stopping == Stopping::Requested {
        // Wait for the driver to end its phases and let go, so that the status below is final.
        let until = Instant::now() + KILL_GRACE * 3;
        while DriverLock::probe(&ctx.home, &run_id).is_some() && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    let mut state = load_state(&store, &run_id)?;
    state.run_id = run_id.clone();
    let view = status_view(&state, DriverLock::probe(&ctx.home, &run_id).is_some());
    if ctx.json {
        out_json(&view.to_json());
    } else {
        out(&render_scenario_status(&view, SystemTime::now()));
    }
    Ok(if view.status == RunStatus::Stopped {
        exit::WAITING
    } else {
        view.status.exit_code()
    })
}

fn known_agents(ctx: &Ctx) -> BTreeSet<String> {
    ctx.catalog()
        .agents()
        .into_iter()
        .filter_map(Result::ok)
        .map(|(a, _)| normalize_name(&a.name))
        .collect()
}

/// Parse and validate one scenario file.
fn check(ctx: &Ctx, entry: &Entry) -> Result<Scenario, CommandError> {
    let path = entry.display_path();
    let schema = ctx
        .catalog()
        .user_schema()
        .map_err(|e| CommandError::definition(&e))?;
    let verdict: Result<Scenario, DefinitionError> =
        parse_scenario(&path, &entry.text).and_then(|s| {
            validate_scenario(&path, &entry.text, &s, schema.as_ref(), &known_agents(ctx))
                .map(|()| s)
        });
    verdict.map_err(|e| {
        let mut err = CommandError::bad_input(format!(
            "{} is invalid ({} problem{})",
            path,
            e.problems.len(),
            if e.problems.len() == 1 { "" } else { "s" }
        ));
        err.detail = Some(render_invalid(&e));
        err
    })
}

fn list(ctx: &Ctx) -> Result<i32, CommandError> {
    let catalog = ctx.catalog();
    let mut rows = Vec::new();
    for (name, source) in catalog.scenarios() {
        let EntrySource::File(path) = &source else {
            continue;
        };
        let text = crate::definition::read_definition(path).unwrap_or_default();
        let parsed = parse_scenario(&name, &text).ok();
        rows.push(json!({
            "name": name,
            "path": path.display().to_string(),
            "valid": parsed.is_some(),
            "phases": parsed.as_ref().map(|s| s.phases.len()),
            "priority": parsed.as_ref().and_then(|s| s.priority.clone()),
            "type": parsed.as_ref().and_then(|s| s.kind.clone()),
            "description": parsed.as_ref().and_then(|s| s.description.clone()),
        }));
    }
    if ctx.json {
        out_json(&rows);
        return Ok(exit::OK);
    }
    if rows.is_empty() {
        out(&format!(
            "No scenarios in {}.\nCreate one there (see `cortex schema scenario`), then `cortex orchestrate validate NAME`.\n",
            catalog.scenarios_dir().display()
        ));
        return Ok(exit::OK);
    }
    let mut text = format!("Scenarios ({}):\n", catalog.scenarios_dir().display());
    let width = super::name_width(&rows);
    for r in &rows {
        let phases = r["phases"]
            .as_u64()
            .map_or("invalid".to_string(), |n| format!("{n} phases"));
        text.push_str(&format!(
            "  {:<width$}  {:<10}  {:<8}  {:<12}  {}\n",
            r["name"].as_str().unwrap_or_default(),
            phases,
            r["priority"].as_str().unwrap_or("-"),
            r["type"].as_str().unwrap_or("-"),
            r["description"].as_str().unwrap_or(""),
        ));
    }
    out(&text);
    Ok(exit::OK)
}

fn validate(ctx: &Ctx, name: Option<&str>, all: bool) -> Result<i32, CommandError> {
    let catalog = ctx.catalog();
    let entries: Vec<Entry> = if all {
        let mut v = Vec::new();
        for (n, _) in catalog.scenarios() {
            v.push(catalog.find_scenario(&n)?);
        }
        if v.is_empty() {
            return Err(CommandError::bad_input(format!(
                "no scenarios in {}",
                catalog.scenarios_dir().display()
            )));
        }
        v
    } else {
        vec![catalog.find_scenario(name.unwrap_or_default())?]
    };
    let mut text = String::new();
    let mut docs = Vec::new();
    let mut invalid = 0;
    for entry in &entries {
        match check(ctx, entry) {
            Ok(s) => {
                text.push_str(&render_valid(&entry.display_path(), &s));
                docs.push(
                    json!({"path": entry.display_path(), "valid": true, "phases": s.phases.len()}),
                );
            }
            Err(e) => {
                invalid += 1;
                text.push_str(e.detail.as_deref().unwrap_or_default());
                docs.push(
                    json!({"path": entry.display_path(), "valid": false, "errors": e.detail}),
                );
            }
        }
    }
    if ctx.json {
        out_json(&json!({"valid": invalid == 0, "scenarios": docs}));
    } else {
        out(&text);
    }
    Ok(if invalid == 0 {
        exit::OK
    } else {
        exit::BAD_INPUT
    })
}

fn preview(ctx: &Ctx, name: &str) -> Result<i32, CommandError> {
    let entry = ctx.catalog().find_scenario(name)?;
    let scenario = check(ctx, &entry)?;
    if ctx.json {
        out_json(&json!({
            "scenario": scenario,
            "estimated_phases": scenario.phases.len(),
            "parallel_opportunities": parallel_opportunities(&scenario),
        }));
    } else {
        out(&render_preview(&scenario));
    }
    Ok(exit::OK)
}
