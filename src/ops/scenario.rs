//! Scenario operations: list, validate, preview, run, status, start, complete, fail, stop.
//! Each returns its document and its text for people (`Output`), never prints.

use std::collections::BTreeSet;
use std::time::{Duration, Instant, SystemTime};

use serde_json::json;

use super::drive::{KILL_GRACE, Live, driver, finish_driving, holder};
use super::{CommandError, Ctx, Output, Scope, exit, no_runs};
use crate::decide::{Command, RunState};
use crate::definition::{
    Condition, DefinitionError, Entry, EntrySource, Scenario, normalize_name, parse_scenario,
    resolve_agents, snapshot,
};
use crate::event::{Operator, RunKind, RunStarted};
use crate::execute::operator::{self, DriveOn, OperatorError, Stopping};
use crate::execute::{DriverLock, Journal, SystemClock, UlidIds, load_state};
use crate::plan::parallel_opportunities;
use crate::project::RunStatus;
use crate::render::render_scenario_status;
use crate::render::{render_invalid, render_preview, render_valid};
use crate::validate::validate_scenario;

/// `orchestrate ...` commands act on scenario runs; operator actions on a name take its latest
/// unfinished run.
pub const SCENARIOS: Scope = Scope {
    kind: Some(RunKind::Scenario),
    unfinished: false,
};

/// `orchestrate run NAME [--start PHASE]...`: start a run and drive it to where it stops.
pub fn run(
    ctx: &Ctx,
    name: &str,
    starts: &[String],
    by: Operator,
    live: &mut Live<'_>,
) -> Result<Output, CommandError> {
    let entry = ctx.catalog().find_scenario(name)?;
    let scenario = check(ctx, &entry)?;
    let config_file = ctx
        .catalog()
        .config_file()
        .map_err(|e| CommandError::definition(&e))?;
    let config = config_file.workflow;
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
        .map(|(a, _)| a)
        .collect();
    let agents = resolve_agents(
        scenario
            .phases
            .iter()
            .flat_map(|p| p.agents.iter().cloned()),
        &found,
        &config_file.agents,
    );
    let mut store = ctx.store(config.durability)?;
    let clock = SystemClock;
    let mut ids = UlidIds::default();
    let run_id = crate::execute::IdGen::next_id(&mut ids);
    let lock = DriverLock::acquire(&ctx.home, &run_id, &holder(&by.actor))?;
    let (definition, definition_hash) = snapshot(&scenario);
    let started = RunStarted {
        kind: RunKind::Scenario,
        name: scenario.name.clone(),
        definition,
        definition_hash,
        source: entry.display_path(),
        inputs: Default::default(),
        secret_inputs: Vec::new(),
        config,
        agents: agents.commands,
        claude: agents.claude,
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
    live.observer.begin(&journal.state, false);
    finish_driving(ctx, journal, by, lock, live)
}

/// Append an operator's command to the latest unfinished run of `name` (a driver may be
/// running it: the log orders both), then, if nobody drives the run, drive it on from here.
fn act(
    ctx: &Ctx,
    name: &str,
    by: &Operator,
    no_drive: bool,
    live: &mut Live<'_>,
    make: impl FnOnce(&RunState) -> Result<Command, OperatorError>,
) -> Result<Output, CommandError> {
    let mut store = ctx.existing_store()?.ok_or_else(no_runs)?;
    let run_id = ctx.resolve_run(&store, SCENARIOS.unfinished(), Some(name))?;
    let clock = SystemClock;
    let mut ids = UlidIds::default();
    let mut journal = Journal::open(&mut store, &clock, &mut ids, &run_id)?;
    operator::record(&mut journal, &ctx.home, make).map_err(|e| operator_error(ctx, e, name))?;
    match operator::drive_on(&ctx.home, &journal.state, &holder(&by.actor))? {
        DriveOn::Here(lock) if !no_drive => {
            journal.refresh()?;
            finish_driving(ctx, journal, by.clone(), lock, live)
        }
        DriveOn::Here(_) | DriveOn::Nothing => {
            // Nothing to drive (the report paused or finished the run): say where it is.
            let view = ctx.view(&journal.state, false);
            let code = view.status.exit_code();
            Ok(scenario_output(&view, code))
        }
        DriveOn::Elsewhere => {
            // Its driver picks the report up from the log.
            Ok(scenario_output(&ctx.view(&journal.state, true), exit::OK))
        }
    }
}

/// An operator action's error as the user sees it, with where to look next.
fn operator_error(ctx: &Ctx, e: OperatorError, name: &str) -> CommandError {
    match e {
        OperatorError::NoSuchPhase { ref phases, .. } => CommandError::bad_input(e.to_string())
            .hint(format!("its phases: {}", phases.join(", "))),
        OperatorError::NotWaiting { .. } => CommandError::bad_input(e.to_string()).hint(format!(
            "{} shows every phase",
            ctx.cmd(&["orchestrate", "status", name])
        )),
        other => other.into(),
    }
}

fn scenario_output(view: &crate::project::StatusView, code: i32) -> Output {
    let text = render_scenario_status(view, SystemTime::now());
    Output::new(view.to_json(), text, code)
}

/// `orchestrate start`: ask for a manual phase to start, and drive the run on if nobody does.
pub fn start(
    ctx: &Ctx,
    name: &str,
    phase: &str,
    no_drive: bool,
    by: Operator,
    live: &mut Live<'_>,
) -> Result<Output, CommandError> {
    act(ctx, name, &by, no_drive, live, |state| {
        operator::start_phase(state, phase, &by)
    })
}

/// What `orchestrate complete|fail` reports.
pub struct PhaseReport<'a> {
    pub phase: &'a str,
    pub success: bool,
    /// Only record it; do not drive the run on.
    pub no_drive: bool,
}

/// `orchestrate complete|fail`: report on a phase that waits for one, and drive the run on if
/// nobody does.
pub fn report(
    ctx: &Ctx,
    name: &str,
    report: PhaseReport<'_>,
    by: Operator,
    live: &mut Live<'_>,
) -> Result<Output, CommandError> {
    let PhaseReport {
        phase,
        success,
        no_drive,
    } = report;
    act(ctx, name, &by, no_drive, live, |state| {
        operator::report_phase(state, &ctx.home, phase, success, &by, KILL_GRACE)
    })
}

/// `orchestrate stop`: stop a run gracefully, whoever drives it, and wait for it to stop.
pub fn stop(ctx: &Ctx, name: &str, by: Operator) -> Result<Output, CommandError> {
    let mut store = ctx.existing_store()?.ok_or_else(no_runs)?;
    let run_id = ctx.resolve_run(&store, SCENARIOS.unfinished(), Some(name))?;
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
    .map_err(|e| operator_error(ctx, e, name))?;
    if stopping == Stopping::Requested {
        // Wait for the driver to end its phases and let go, so that the status below is final.
        let until = Instant::now() + KILL_GRACE * 3;
        while DriverLock::probe(&ctx.home, &run_id).is_some() && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    let mut state = load_state(&store, &run_id)?;
    state.run_id = run_id.clone();
    let view = ctx.view(&state, DriverLock::probe(&ctx.home, &run_id).is_some());
    let code = if view.status == RunStatus::Stopped {
        exit::WAITING
    } else {
        view.status.exit_code()
    };
    Ok(scenario_output(&view, code))
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

/// `orchestrate list`: the scenarios of the home.
pub fn list(ctx: &Ctx) -> Result<Output, CommandError> {
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
    if rows.is_empty() {
        let text = format!(
            "No scenarios in {}.\nCreate one there (see `cortex schema scenario`), then `cortex orchestrate validate NAME`.\n",
            catalog.scenarios_dir().display()
        );
        return Ok(Output::new(rows, text, exit::OK));
    }
    let mut text = format!("Scenarios ({}):\n", catalog.scenarios_dir().display());
    let width = crate::render::name_width(&rows);
    for r in &rows {
        let phases = r["phases"].as_u64().map_or("invalid".to_string(), |n| {
            crate::render::count(n as usize, "phase")
        });
        text.push_str(&format!(
            "  {:<width$}  {:<10}  {:<8}  {:<12}  {}\n",
            r["name"].as_str().unwrap_or_default(),
            phases,
            r["priority"].as_str().unwrap_or("-"),
            r["type"].as_str().unwrap_or("-"),
            r["description"].as_str().unwrap_or(""),
        ));
    }
    Ok(Output::new(rows, text, exit::OK))
}

/// `orchestrate validate NAME|--all`.
pub fn validate(ctx: &Ctx, name: Option<&str>, all: bool) -> Result<Output, CommandError> {
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
    let code = if invalid == 0 {
        exit::OK
    } else {
        exit::BAD_INPUT
    };
    Ok(Output::new(
        json!({"valid": invalid == 0, "scenarios": docs}),
        text,
        code,
    ))
}

/// `orchestrate preview NAME`: phases, conditions, agents, parallel opportunities.
pub fn preview(ctx: &Ctx, name: &str) -> Result<Output, CommandError> {
    let entry = ctx.catalog().find_scenario(name)?;
    let scenario = check(ctx, &entry)?;
    let text = render_preview(&scenario);
    Ok(Output::new(
        json!({
            "scenario": scenario,
            "estimated_phases": scenario.phases.len(),
            "parallel_opportunities": parallel_opportunities(&scenario),
        }),
        text,
        exit::OK,
    ))
}
