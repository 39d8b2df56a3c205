//! Scenario operations: list, validate, preview, run, status, start, complete, fail, stop.
//! Each returns its document and its text for people (`Output`), never prints.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant, SystemTime};

use serde_json::json;

use super::drive::{
    AsItStands, KILL_GRACE, Live, drive_on_recorded, driver, holder, run_as_it_stands,
};
use super::{CommandError, Ctx, Output, Scope, exit};
use crate::decide::{Command, RunState, StepStatus};
use crate::definition::{
    Condition, DefinitionError, Entry, EntrySource, Scenario, normalize_name,
    parse_scenario_setting_aside, resolve_agents, snapshot,
};
use crate::event::{Operator, RunKind, RunStarted};
use crate::execute::operator::{self, DriveOn, OperatorError, Stopping};
use crate::execute::{Journal, SystemClock, UlidIds};
use crate::plan::parallel_opportunities;
use crate::project::RunStatus;
use crate::render::render_scenario_status;
use crate::render::{render_preview, render_valid};

/// `orchestrate ...` commands act on scenario runs: a name, or none, means the latest
/// scenario run (`lookup::Scope`).
pub const SCENARIOS: Scope = Scope::of(RunKind::Scenario);

/// What `orchestrate run` was asked for.
pub struct RunRequest<'a> {
    /// The scenario: a name (forgiving) or a path.
    pub name: &'a str,
    /// Manual phases to start at once.
    pub starts: &'a [String],
    pub inputs: &'a [(String, String)],
    /// Drive it, only say what would start (recording nothing), or submit it for workers.
    pub how: super::RunHow,
}

/// `orchestrate run NAME [--start PHASE]... [--input k=v]... [--dry-run]`: start a run and
/// drive it to where it stops (or, with `dry_run`, say what would happen, recording nothing).
pub fn run(
    ctx: &Ctx,
    req: RunRequest<'_>,
    by: Operator,
    live: &mut Live<'_>,
) -> Result<Output, CommandError> {
    let RunRequest {
        name,
        starts,
        inputs,
        how,
    } = req;
    let entry = ctx.catalog().find_scenario(name)?;
    let scenario = check(ctx, &entry)?;
    // Refused for a busy log before the run was recorded: the same command again.
    let mut again = super::Retry::command(&["orchestrate", "run"]).operand(name);
    for phase in starts {
        again = again.option("--start", Some(phase));
    }
    let again = again
        .inputs(inputs)
        .switch("--submit", how == super::RunHow::Submit)
        .by(&by)
        .of_definition(&scenario.as_workflow());
    let inputs = super::workflow::run_inputs(ctx, &scenario.as_workflow(), inputs)?;
    let by = super::workflow::secret_values_scrubbed(by, &scenario.as_workflow(), &inputs);
    let config_file = ctx
        .catalog()
        .config_file()
        .map_err(|e| CommandError::definition(&e))?;
    let config = config_file.workflow;
    // Each `--start` names its manual phase as `orchestrate start` does (names matched
    // forgivingly: `Analysis` finds `analysis`), and is recorded by the phase's own name.
    let mut named: Vec<String> = Vec::new();
    for phase in starts {
        let wanted = normalize_name(phase);
        let found = scenario.phases.iter().find(|p| {
            normalize_name(&p.name) == wanted
                && matches!(p.parsed_condition(), Ok(Condition::Manual))
        });
        if let Some(p) = found {
            if !named.contains(&p.name) {
                named.push(p.name.clone());
            }
        } else {
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
    let starts = &named[..];
    let agents = scenario_agents(ctx, &scenario, &config_file.agents);
    super::agents::claude_body_too_long(ctx, &agents)?;
    if how == super::RunHow::DryRun {
        return Ok(dry_run_output(ctx, &scenario, starts, &agents, &inputs));
    }
    let durability = config.durability;
    let (definition, definition_hash) = snapshot(&scenario);
    let started = RunStarted {
        kind: RunKind::Scenario,
        name: scenario.name.clone(),
        definition,
        definition_hash,
        source: entry.display_path(),
        inputs,
        // The journal finds the secret inputs, keeps their values and records `***`.
        secret_inputs: Vec::new(),
        secret_defaults: Vec::new(),
        config,
        agents: agents.commands,
        claude: agents.claude,
        parent: None,
        uses: Default::default(),
        working_dir: ctx.cwd.display().to_string(),
        driver: driver(),
        by: by.clone(),
    };
    let then = starts
        .iter()
        .map(|phase| Command::RequestStart {
            phase: phase.clone(),
            by: by.clone(),
        })
        .collect();
    super::drive::start_run(ctx, durability, started, then, by, how, live)
        .map_err(|e| again.on_busy(ctx, e))
}

/// What a run of `scenario` would do first: the phases that start at once (with who does
/// them), those that wait for a manual start, and the rest in dependency order.
fn dry_run_output(
    ctx: &Ctx,
    scenario: &Scenario,
    starts: &[String],
    agents: &crate::definition::ResolvedAgents,
    inputs: &BTreeMap<String, serde_json::Value>,
) -> Output {
    let mut rows = Vec::new();
    let (inputs, settings) =
        super::workflow::preview_settings(&scenario.as_workflow(), inputs, &ctx.cwd, "phase");
    let mut text = format!(
        "Plan for scenario `{}` (nothing recorded):\n",
        scenario.name
    );
    if !inputs.is_empty() {
        text.push_str(&crate::render::render_inputs(&inputs));
    }
    for i in crate::plan::topological_order(scenario) {
        let p = &scenario.phases[i];
        let condition = p.parsed_condition().unwrap_or(Condition::Auto);
        let when = match &condition {
            Condition::Auto => "starts at once".to_string(),
            Condition::Manual if starts.contains(&p.name) => "starts at once (--start)".to_string(),
            Condition::Manual => format!(
                "waits for {}",
                ctx.cmd(&["orchestrate", "start", &scenario.name, &p.name])
            ),
            Condition::After(deps) => format!("starts after {}", deps.join(", ")),
        };
        let by_agent = p.agents.iter().find(|a| agents.is_run(a));
        let (mut how, by) = match (&p.run, by_agent) {
            (Some(_), _) => ("runs its commands".to_string(), "commands"),
            (None, Some(a)) => (format!("run by agent {a}"), "agent"),
            (None, None) => (
                "waits for a report (orchestrate complete|fail)".to_string(),
                "report",
            ),
        };
        // The same facts for a program: how it starts, on what, and who does it.
        let mut row = json!({
            "phase": p.name,
            "starts": match &condition {
                Condition::Auto => "at_once",
                Condition::Manual if starts.contains(&p.name) => "at_once",
                Condition::Manual => "manual",
                Condition::After(_) => "after",
            },
            "after": match &condition {
                Condition::After(deps) => deps.clone(),
                _ => Vec::new(),
            },
            "by": by,
        });
        if let Some(a) = by_agent {
            row["agent"] = json!(a);
        }
        if let Some(c) = &p.if_ {
            row["if"] = json!(c.text());
        }
        if let Some(f) = &p.foreach {
            row["foreach"] = json!(f.text());
        }
        if let Some(f) = &p.foreach {
            how = format!("{how}, once per item of {}", f.text());
        }
        let when = match &p.if_ {
            Some(c) => format!("{when}, if {}", c.text()),
            None => when,
        };
        text.push_str(&format!("  - {}: {when}; {how}\n", p.name));
        // Where its commands, its agent or its checks would run, with what environment (a
        // phase that waits for a report runs nothing).
        if by != "report"
            && let Some(setting) = settings.get(&p.name)
        {
            let value = |r: &crate::definition::template::Reference| {
                super::workflow::input_value(&inputs, r)
            };
            let commands: Vec<String> = p
                .run
                .iter()
                .flat_map(|c| c.list())
                .map(|c| crate::render::shown_command(&c, &value))
                .collect();
            for command in &commands {
                text.push_str(&crate::render::render_command("      ", "run", command));
            }
            if !commands.is_empty() {
                row["run"] = json!(commands);
            }
            text.push_str(&crate::render::render_setting("      ", setting));
            row["working_dir"] = json!(setting.working_dir);
            if !setting.env.is_empty() {
                row["env"] = json!(setting.env);
            }
        }
        // What a person or an agent would read (a phase whose commands the engine runs has
        // none to read): rendered as status renders it, a value not known before the run as
        // a marker saying so.
        if by != "commands"
            && let Some(prompt) = settings.get(&p.name).and_then(|s| s.prompt.as_deref())
        {
            text.push_str(&crate::render::render_command("      ", "prompt", prompt));
            row["prompt"] = json!(prompt);
        }
        row["when"] = json!(when);
        row["how"] = json!(how);
        rows.push(row);
    }
    Output::new(
        json!({"scenario": scenario.name, "dry_run": true, "inputs": inputs, "phases": rows}),
        text,
        exit::OK,
    )
}

/// Append an operator's command to the latest unfinished run of `name` (a driver may be
/// running it: the log orders both), then, if nobody drives the run, drive it on from here.
/// `name` naming a workflow run: the hint is `instead`, the same action on it, where there is
/// one.
/// How an operator's action on a phase goes: only recorded (`no_drive`), the command that
/// acts on a workflow run named instead, and the secret inputs given with it.
struct Act<'a> {
    no_drive: bool,
    instead: &'a [&'a str],
    inputs: &'a [(String, String)],
    /// A report's phase and verb (`complete`/`fail`): a finished latest run names the older
    /// runs whose phase of that name waits for one.
    /// The report's other arguments (`Said`), repeated by each command named.
    unit: Option<(&'a str, &'a str, &'a super::said::Said)>,
    /// What a person typed into the report (its outputs' values, its message), where a
    /// secret input's value may be (`workflow::scrub_typed_secret_inputs`).
    typed: Vec<String>,
}

fn act(
    ctx: &Ctx,
    name: &str,
    by: &Operator,
    live: &mut Live<'_>,
    how: Act<'_>,
    make: impl FnOnce(&RunState, &crate::execute::Redactor) -> Result<Command, OperatorError>,
) -> Result<Output, CommandError> {
    let Act {
        no_drive,
        instead,
        inputs,
        unit: how_unit,
        typed,
    } = how;
    let (opened, read_only) = ctx.changing_store()?;
    let mut store = opened.ok_or_else(|| ctx.no_runs(SCENARIOS, Some(name)))?;
    let note = how_unit.map_or_else(String::new, |(_, _, said)| said.note_text());
    let run_id = ctx.resolve_report_run(&store, SCENARIOS, Some(name), instead, &note)?;
    let clock = SystemClock;
    let mut ids = UlidIds::default();
    let mut journal = Journal::open(&mut store, &clock, &mut ids, &run_id)?;
    if journal.state.outcome().is_some() {
        let e = ctx.finished(
            &journal.state,
            "its phases cannot be started or reported any more",
        );
        // Named by its scenario (its latest run), not by its id: the older runs whose phase
        // of that name waits for this action are named, with the command for each.
        let looked_up = super::workflow::looked_up_by(Some(name), &run_id);
        return Err(match (how_unit, looked_up) {
            (Some((unit, verb, said)), Some(named)) => journal.nested(|store, _, _| {
                let argv = |id: &str, phase: &str| -> Vec<String> {
                    ["orchestrate", verb, id, phase]
                        .map(String::from)
                        .into_iter()
                        .chain(said.args.iter().cloned())
                        .collect()
                };
                let at = super::workflow::Elsewhere {
                    scope: SCENARIOS,
                    run_id: &run_id,
                    name: named,
                    unit,
                    start: verb == "start",
                    own: false,
                    said,
                };
                super::workflow::report_elsewhere(ctx, &*store, at, &argv, e)
            }),
            _ => e,
        });
    }
    // On a read-only log only a finished run is answered (above).
    if let Some(e) = read_only {
        return Err(e);
    }
    if let Some(w) = super::workflow::take_secret_inputs(ctx, &mut journal, inputs)? {
        live.observer.warn(&w);
    }
    let typed: Vec<&str> = typed.iter().map(String::as_str).collect();
    if let Some(w) = super::workflow::scrub_typed_secret_inputs(ctx, &mut journal, &typed) {
        live.observer.warn(&w);
    }
    // Held before this action (stopped, or failed and paused): it is recorded, not driven on.
    let held = match journal.state.phase {
        crate::decide::RunPhase::Stopped => Some("stopped"),
        crate::decide::RunPhase::Paused { .. } => Some("failed"),
        _ => None,
    };
    // A report's checks run here, with the values this process holds (the journal's: its
    // environment's, and those given with the report).
    let redactor = journal.redactor.clone();
    operator::record(&mut journal, &ctx.home, |state| make(state, &redactor))
        .map_err(|e| operator_error(ctx, e, name))?;
    // What a report did, said first as `workflow step complete|fail` says it (the drive that
    // follows announces only what it records itself).
    let done = match how_unit {
        Some((unit, "complete" | "fail", _)) => reported(&journal.state, unit, name, &run_id),
        _ => String::new(),
    };
    let said = |out: Output| Output {
        human: format!("{done}{}", out.human),
        ..out
    };
    // The run as it stands in the log when this is printed (another process may have moved
    // it on since this one recorded): the document, its `next` and its exit code say that,
    // and a run another process carries on says who. Before, a reporter that found the run
    // waiting on other reports printed that state, though they were recorded milliseconds
    // later and the run went on under another reporter's drive (exit 3, its `next` naming
    // reports already made).
    let as_it_stands = |journal: &mut Journal<'_>| -> Result<Output, CommandError> {
        let AsItStands { state, view, code } =
            journal.nested(|store, _, _| run_as_it_stands(ctx, &*store, &run_id))?;
        // Running under another driver or worker: the report landed and someone carries
        // the run on, which is no wait nor stop (exit 3 is those, SPEC §5): 0 (`code`),
        // saying who. Before, it was 3 beside status "running".
        if view.status == RunStatus::Running {
            // Named as the exit-4 error names a holder (its lock's note: process, host,
            // actor, since); the log's driver only when no lock or lease says who.
            let held = journal
                .nested(|store, _, _| crate::execute::run_holder(&ctx.home, &*store, &state));
            let who = match state.driven_by.as_deref() {
                _ if let Some(h) = held.as_ref().filter(|h| h.worker().is_none()) => {
                    format!(
                        "its driver, {}",
                        crate::execute::scrub_known(&h.to_string())
                    )
                }
                Some(actor) => match actor.strip_prefix("worker:") {
                    Some(worker) => format!("worker {worker}"),
                    None => format!("its driver {actor}"),
                },
                None => "its driver".to_string(),
            };
            let note = format!("recorded; {who} carries the run on");
            return Ok(said(scenario_output(&view, code)).warn(vec![note]));
        }
        Ok(said(scenario_output(&view, code)))
    };
    // From here on the report stands: what keeps it from driving the run on is said as such
    // (`recorded_not_driven_on`), never as the report's failure.
    let not_driven_on = |e: CommandError| {
        super::drive::recorded_not_driven_on(ctx, &run_id, RunKind::Scenario, e, scenario_output)
            .map(said)
    };
    let state = journal.state.clone();
    // Only recording (`--no-drive`): no lock is taken, so that another process never reads
    // this one's as a driver's. Before, concurrent `start --no-drive` commands each took the
    // run's lock for a moment, and were told "its driver, process N ... carries the run on"
    // naming a sibling reporter, or themselves (the lock still held when they said how the
    // run stood), exit 0, while nobody drove it. Only a live driver's lock or lease counts.
    let on = if no_drive {
        match journal.nested(|store, _, _| crate::execute::run_holder(&ctx.home, &*store, &state)) {
            Some(_) => DriveOn::Elsewhere,
            None => DriveOn::Nothing,
        }
    } else {
        match journal.nested(|store, _, _| {
            operator::drive_on(&ctx.home, &*store, &state, &holder(&by.actor))
        }) {
            Ok(on) => on,
            Err(e) => return not_driven_on(e.into()),
        }
    };
    match on {
        DriveOn::Here(lock) if !no_drive => {
            if let Err(e) = journal.refresh() {
                return not_driven_on(e.into());
            }
            if !done.is_empty() {
                live.observer.note(&done);
            }
            drive_on_recorded(ctx, journal, by.clone(), lock, live, scenario_output)
        }
        DriveOn::Here(_) | DriveOn::Nothing => {
            // Nothing to drive (the report paused or finished the run, or it waits on other
            // reports): say where it is, as the log has it now. Another process that recorded
            // since (a concurrent report) may drive it on: said as it stands then.
            let seen = journal.appended();
            journal.refresh()?;
            if journal.appended() != seen {
                return as_it_stands(&mut journal);
            }
            let mut view = ctx.view(&journal.state, false);
            let code = view.status.exit_code();
            let mut warnings = super::notify::after_change(ctx, &journal.state, &journal.redactor);
            // A stopped or failed run is not driven on by a start or a report: it is recorded,
            // and resume goes on with it.
            // The command it names is the status document's first suggestion (a failed run's
            // is `--retry`, not a plain resume), so the two never disagree.
            if let Some(held) = held {
                let go_on = match view.next.first() {
                    Some(first) => format!(
                        "`{}`: {}",
                        crate::render::command_line(&first.argv),
                        first.why
                    ),
                    None => ctx.cmd(&["orchestrate", "resume", &run_id]),
                };
                warnings.insert(
                    0,
                    format!(
                        "recorded; the run is {held}, so nothing goes on until it is resumed — {go_on}; the resume acts on what was recorded"
                    ),
                );
            }
            // Finished or paused here: its notifications as `status` shows them, the resume
            // that delivers those left due first (`drive::notes_left`, as a driver answers).
            let notified = match view.status {
                RunStatus::Waiting | RunStatus::Running => None,
                _ => super::drive::notes_left(ctx, &mut journal, &mut view),
            };
            let mut out = scenario_output(&view, code);
            if let Some(shown) = notified {
                shown.into_doc(&mut out.json);
            }
            Ok(said(out).warn(warnings))
        }
        DriveOn::Elsewhere => {
            // Its driver picks the report up from the log. The run as it stands now (that
            // driver may have moved it on, or let go of it), and the exit code of what the
            // document says: a run still waiting on other reports is no 0 (SPEC §5). It was
            // 0 whatever the status, so one of three concurrent reports said `waiting` and 0.
            as_it_stands(&mut journal)
        }
    }
}

/// The line that confirms a report on phase `unit` as recorded, as a workflow step's says it:
/// "✅ Phase `build` of run RUN reported complete." (the run named where it was found by other
/// than its whole id, `query`).
fn reported(state: &RunState, unit: &str, query: &str, run_id: &str) -> String {
    let wanted = crate::definition::normalize_name(unit);
    let Some(phase) = state
        .steps
        .iter()
        .find(|s| s.item.is_none() && crate::definition::normalize_name(&s.name) == wanted)
    else {
        return String::new();
    };
    let of = if query.trim().eq_ignore_ascii_case(run_id) {
        String::new()
    } else {
        format!(" of run {run_id}")
    };
    match phase.status {
        StepStatus::Completed => format!("✅ Phase `{}`{of} reported complete.\n", phase.name),
        StepStatus::Skipped => format!(
            "⏭️ Phase `{}`{of} reported failed, and skipped.\n",
            phase.name
        ),
        _ => format!("❌ Phase `{}`{of} reported failed.\n", phase.name),
    }
}

/// An operator action's error as the user sees it, with where to look next.
fn operator_error(ctx: &Ctx, e: OperatorError, name: &str) -> CommandError {
    match e {
        OperatorError::ChecksNeedSecrets(lack) => {
            super::workflow::checks_need_secrets(ctx, &lack, crate::event::RunKind::Scenario)
        }
        OperatorError::NoSuchPhase {
            ref phase,
            ref phases,
        } => {
            let names: Vec<&str> = phases.iter().map(String::as_str).collect();
            let lister = ctx.cmd(&["orchestrate", "status", name]);
            crate::render::names_hints(phase, &names, "phases", &lister)
                .into_iter()
                .fold(CommandError::bad_input(e.to_string()), |e, hint| e.hint(hint))
        }
        OperatorError::AwaitsStart { ref phase } => CommandError::bad_input(e.to_string()).hint(
            ctx.suggest(&["orchestrate", "start", name, phase])
                .then(" starts it; report it once it is done"),
        ),
        OperatorError::NotWaiting { .. } | OperatorError::RunsAsItems { .. } => {
            let mut err = CommandError::bad_input(e.to_string());
            // Not waiting now (reported, stopped, not reached): a state conflict (409), not a
            // malformed request — a report that races another lands here.
            if matches!(e, OperatorError::NotWaiting { .. }) {
                err = err.because(crate::ops::Cause::Conflict);
            }
            // Stopped with the run: resume has a phase that waits for a report wait for it
            // again, and runs a phase the engine runs (its command, its agent) again, which
            // then reports itself.
            if let OperatorError::NotWaiting {
                status: "stopped",
                engine_runs,
                ..
            } = e
            {
                let resume = ctx.cmd(&["orchestrate", "resume", name]);
                err = err.hint(if engine_runs {
                    format!(
                        "{resume} goes on and runs the phase again (the engine runs it, so it reports itself: nothing to report by hand)"
                    )
                } else {
                    format!("{resume} goes on (the phase waits for its report again); then report it")
                });
            }
            // Not reached yet: said so, as a workflow step's report says what the run waits on.
            // One the engine runs is never reported, however far the run is: said so, with
            // what it waits for when the parallel limits hold it back (SPEC §4).
            if let OperatorError::NotWaiting {
                status: "pending",
                ref phase,
                engine_runs,
                command,
                ref held_by,
                one_at_a_time,
                ..
            } = e
            {
                let names = held_by
                    .iter()
                    .map(|n| format!("`{}`", crate::definition::shown(n)))
                    .collect::<Vec<_>>()
                    .join(", ");
                let when = if held_by.is_empty() {
                    "once the run reaches it".to_string()
                } else if one_at_a_time {
                    format!(
                        "after {names} ends (the `parallel: false` slot: phases with `parallel: false` run one at a time)"
                    )
                } else {
                    format!("once a slot frees (max_parallel, held by {names})")
                };
                let phase = crate::definition::shown(phase);
                err = err.hint(match (engine_runs, command) {
                    (true, true) => format!(
                        "`{phase}` is a command phase (its `run:`): the engine runs it {when}, and it reports itself; nothing to report by hand"
                    ),
                    (true, false) => format!(
                        "the engine runs `{phase}` through its agent {when}, and it reports itself; nothing to report by hand"
                    ),
                    (false, _) if held_by.is_empty() => "the run has not reached it yet: report it once the run goes on to it and it waits for a report (the phases before it first)".to_string(),
                    (false, _) => format!(
                        "it waits for a report {when}: report it then"
                    ),
                });
            }
            err.hint(format!(
                "{} shows every phase",
                ctx.cmd(&["orchestrate", "status", name])
            ))
        }
        // A `complete` its success criteria refuse: every problem listed, as a step's.
        OperatorError::Journal(crate::execute::JournalError::Decide(
            crate::decide::DecideError::ReportRefused { step, problems },
        )) => CommandError::report_refused(&step, &problems).hint(format!(
            "nothing was recorded and the phase still waits: fix what is listed, then report it again ({} shows it)",
            ctx.cmd(&["orchestrate", "status", name])
        )),
        // The run refused the start or the report (not manual, already started, ...): its
        // status says what moves each phase on.
        OperatorError::Journal(crate::execute::JournalError::Decide(d)) => {
            CommandError::bad_input(d.to_string()).hint(format!(
                "nothing was recorded; {} shows every phase and what moves it on",
                ctx.cmd(&["orchestrate", "status", name])
            ))
        }
        other => other.into(),
    }
}

pub(super) fn scenario_output(view: &crate::project::StatusView, code: i32) -> Output {
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
    let nothing_said = super::said::Said::default();
    let how = Act {
        no_drive,
        instead: &[],
        inputs: &[],
        unit: Some((phase, "start", &nothing_said)),
        typed: by.message.iter().cloned().collect(),
    };
    let again = super::Retry::on_run(SCENARIOS, Some(name), &["start"])
        .operand(name)
        .operand(phase)
        .switch("--no-drive", no_drive)
        .by(&by);
    act(ctx, name, &by, live, how, |state, _| {
        operator::start_phase(state, phase, &by)
    })
    .map_err(|e| again.on_busy(ctx, e))
}

/// What `orchestrate complete|fail` reports.
pub struct PhaseReport<'a> {
    pub phase: &'a str,
    pub success: bool,
    /// The phase's outputs (`--output k=v`), read by later phases.
    pub outputs: Vec<(String, String)>,
    /// Only record it; do not drive the run on.
    pub no_drive: bool,
    /// Values of the run's secret inputs given with the report (the MCP tools' `inputs`):
    /// its checks and the drive after it have them.
    pub inputs: &'a [(String, String)],
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
        outputs,
        no_drive,
        inputs,
    } = report;
    let verb = if success { "complete" } else { "fail" };
    let again = super::Retry::on_run(SCENARIOS, Some(name), &[verb])
        .operand(name)
        .operand(phase)
        .switch("--no-drive", no_drive)
        .outputs(&outputs)
        .by(&by);
    // The inputs a report gives are the run's secret ones (any other is refused): their values
    // are scrubbed from the actor before the run's lock, or a command suggested, names it.
    let by = super::context::with_secrets_scrubbed(by, inputs.iter().map(|(_, v)| v.as_str()));
    super::refuse_placeholders(ctx, &outputs, "output")?;
    super::refuse_placeholders(ctx, inputs, "input")?;
    super::workflow::check_output_keys(&outputs)?;
    // A workflow run named here: its steps are reported with `workflow step`.
    // Every argument given besides the phase and run, repeated by each command suggested in
    // this report's place (its secrets left out: `Said`).
    let read = ctx.reading_store().ok().flatten();
    let said = super::said::Said::of_report(ctx, read.as_deref(), Some(name), &outputs, &by);
    drop(read);
    let instead: Vec<&str> = ["workflow", "step", verb, phase, "--run", name]
        .into_iter()
        .chain(said.args.iter().map(String::as_str))
        .collect();
    let how = Act {
        no_drive,
        instead: &instead,
        inputs,
        unit: Some((phase, verb, &said)),
        typed: outputs
            .iter()
            .map(|(_, v)| v.clone())
            .chain(by.message.clone())
            .collect(),
    };
    // Outputs later phases read that the report leaves out (its gate does not require
    // them): said, with the phases that will see them empty, as a workflow step's report
    // says it (`workflow::omitted_outputs`). Before, a scenario's said nothing, and the phase
    // that read one ran on an empty value.
    let mut unsaid = Vec::new();
    act(ctx, name, &by, live, how, |state, redactor| {
        if success && let Ok(index) = operator::phase_index(state, phase) {
            unsaid = super::workflow::omitted_outputs(state, index, &outputs);
        }
        operator::report_phase(
            state, &ctx.home, phase, success, outputs, &by, KILL_GRACE, redactor,
        )
    })
    .map(|o| o.warn(unsaid))
    .map_err(|e| again.on_busy(ctx, e))
}

/// `orchestrate stop`: stop a run gracefully, whoever drives it, and wait for it to stop.
pub fn stop(ctx: &Ctx, name: &str, by: Operator) -> Result<Output, CommandError> {
    stop_run(ctx, SCENARIOS, Some(name), by)
}

/// `orchestrate stop [NAME|RUN]` and `workflow stop [RUN]` (MCP `stop`, the page's Stop): stop
/// a run of `scope` gracefully, whoever drives it, and wait for it to stop. With no name the
/// latest run of the kind, with a name its latest run (`lookup::Scope`). Nobody drives it:
/// the stop is recorded here. A live driver holds it: the stop is asked of it through the log
/// (`operator::stop`), it ends what runs (a workflow's step, its process group TERM then KILL)
/// and records the stop, with this actor and message, and this waits for that.
pub fn stop_run(
    ctx: &Ctx,
    scope: Scope,
    name: Option<&str>,
    by: Operator,
) -> Result<Output, CommandError> {
    let (opened, read_only) = ctx.changing_store()?;
    let mut store = opened.ok_or_else(|| match scope.kind {
        Some(_) => ctx.no_runs(scope, name),
        None => ctx.no_runs_of_any_kind_for(name),
    })?;
    let run_id = ctx.resolve_stop_run(&store, scope, name)?;
    let again = super::Retry::on_run(scope, name, &["stop"])
        .operand_if(name)
        .by(&by);
    stop_found(ctx, &mut *store, read_only, &run_id, name, by).map_err(|e| again.on_busy(ctx, e))
}

fn stop_found(
    ctx: &Ctx,
    store: &mut dyn crate::store::EventStore,
    read_only: Option<CommandError>,
    run_id: &str,
    name: Option<&str>,
    by: Operator,
) -> Result<Output, CommandError> {
    let run_id = run_id.to_string();
    let mut before = crate::execute::load_state(&*store, &run_id)?;
    before.run_id = run_id.clone();
    // Already where a stop would leave it: nothing is recorded, and it says so (as `resume`
    // of a finished run does), with the exit code of how the run stands (on a read-only log
    // too).
    if before.outcome().is_some() {
        return Ok(ctx.already_finished(&before, "stop"));
    }
    if before.phase == crate::decide::RunPhase::Stopped {
        return Ok(already_stopped(ctx, &before));
    }
    if matches!(before.phase, crate::decide::RunPhase::Paused { .. }) {
        return Err(paused_on_failure(ctx, &before));
    }
    if let Some(e) = read_only {
        return Err(e);
    }
    // A stop (or abort) asked for already, that its live driver has not acted on: a second
    // request changes nothing, so it is answered at once rather than after another wait.
    if crate::project::pending_stop(&before).is_some() {
        let (now, alive) = crate::execute::load_live(&ctx.home, &*store, &run_id)?;
        if alive {
            return Ok(stop_pending(ctx, &*store, now, false));
        }
    }
    let clock = SystemClock;
    let mut ids = UlidIds::default();
    let mut stop = |store: &mut dyn crate::store::EventStore| {
        operator::stop(
            store,
            &clock,
            &mut ids,
            &ctx.home,
            &run_id,
            &by,
            &holder(&by.actor),
        )
        .map_err(|e| operator_error(ctx, e, name.unwrap_or(&run_id)))
    };
    let stopping = match stop(&mut *store) {
        Ok(stopping) => stopping,
        Err(e) => {
            // It ended by another hand meanwhile: the answer above.
            let mut now = crate::execute::load_state(&*store, &run_id)?;
            now.run_id = run_id.clone();
            if now.outcome().is_some() {
                return Ok(ctx.already_finished(&now, "stop"));
            }
            return Err(e);
        }
    };
    if stopping == Stopping::Already {
        // Stopped by another hand meanwhile: the answer above.
        let mut now = crate::execute::load_state(&*store, &run_id)?;
        now.run_id = run_id.clone();
        return Ok(already_stopped(ctx, &now));
    }
    if stopping == Stopping::Requested {
        // Wait for the driver to end its phases and let go, so that the status below is final.
        let until = Instant::now() + KILL_GRACE * 3;
        while crate::execute::driver_alive(&ctx.home, &*store, &run_id) && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(50));
        }
        // A driver that was ending (the run waiting on people) when the request came let go
        // without reading it: nobody holds the run now, so the stop is recorded here, as for
        // a run nobody drives.
        let (state, alive) = crate::execute::load_live(&ctx.home, &*store, &run_id)?;
        if !alive && state.phase != crate::decide::RunPhase::Stopped && state.outcome().is_none() {
            stop(&mut *store)?;
        }
    }
    let (mut state, alive) = crate::execute::load_live(&ctx.home, &*store, &run_id)?;
    state.run_id = run_id.clone();
    // Its driver is alive and has not acted on the request (frozen, or busy past the wait):
    // the request is recorded and stays for it. Said so, exit 0 as for an abort requested,
    // never "running" with `stop` suggested again.
    if alive && crate::project::pending_stop(&state).is_some() {
        return Ok(stop_pending(ctx, &*store, state, true));
    }
    let view = ctx.view(&state, alive);
    let code = if view.status == RunStatus::Stopped {
        exit::WAITING
    } else {
        view.status.exit_code()
    };
    Ok(kind_output(&view, code))
}

/// A run's status as `status` shows it: a scenario's or a workflow's.
fn kind_output(view: &crate::project::StatusView, code: i32) -> Output {
    if view.kind == crate::event::RunKind::Workflow {
        let text = crate::render::render_status(view, SystemTime::now());
        return Output::new(view.to_json(), text, code);
    }
    scenario_output(view, code)
}

/// `orchestrate stop` of a run whose live driver has a stop (or abort) asked of it that it has
/// not acted on yet: the request stands in the log, the driver acts on it at its next turn.
/// `waited`: this stop recorded it and waited for the driver in vain; otherwise it was pending
/// already and nothing was recorded. Exit 0: the request is recorded (as `workflow abort`'s
/// requested case), the run is not stopped yet (not 3).
fn stop_pending(
    ctx: &Ctx,
    store: &dyn crate::store::EventStore,
    mut state: crate::decide::RunState,
    waited: bool,
) -> Output {
    let run_id = state.run_id.clone();
    let holder = crate::execute::run_holder(&ctx.home, store, &state);
    state.run_id = run_id.clone();
    let view = ctx.view(&state, true);
    let who = crate::execute::Holder::pending_actor(holder.as_ref(), &state);
    let pending = view.stop_requested.clone();
    let (what, effect) = if pending.as_ref().is_some_and(|p| p.abort) {
        ("Abort", "it ends the run at its next turn")
    } else {
        ("Stop", "it stops at its next turn")
    };
    let first = if waited {
        format!(
            "⏳ {what} of run {run_id} requested: {who} has not acted on it yet (it may be frozen or busy); {effect}.\n"
        )
    } else {
        let note =
            super::workflow::requested_already(what, &run_id, pending.as_ref(), &who, effect);
        format!("⏳ {note}\n")
    };
    let mut out = kind_output(&view, exit::OK);
    out.json["note"] = first.trim_start_matches("⏳ ").trim_end().into();
    out.human = format!("{first}\n{}", out.human);
    out
}

/// A stop of a run paused on a failure, refused: it is at rest already (nothing runs), and
/// a stop would only hide its failure and the recoveries that go with it (`resume --retry`,
/// `--skip`). The same for both kinds; nothing is recorded.
fn paused_on_failure(ctx: &Ctx, state: &crate::decide::RunState) -> CommandError {
    let view = ctx.view(state, false);
    let group = view.kind.group();
    let unit = if view.kind == crate::event::RunKind::Workflow {
        "step"
    } else {
        "phase"
    };
    let run = view.run_id.as_str();
    CommandError::bad_input(format!(
        "run {run} failed and is paused: nothing runs, so there is nothing to stop; nothing was recorded"
    ))
    .hint(
        ctx.suggest(&[group, "resume", run, "--retry"])
            .then(format!(" runs the failed {unit} again, `--skip` goes on past it; "))
            .and(ctx.suggest(&[group, "abort", run]))
            .then(" ends the run"),
    )
}

/// `orchestrate stop` of a run that is stopped already: its status, said to be unchanged
/// (`note` in the document), exit 3 as for any stopped run.
fn already_stopped(ctx: &Ctx, state: &crate::decide::RunState) -> Output {
    let view = ctx.view(state, false);
    let note = format!(
        "run {} is already stopped; nothing was recorded",
        view.run_id
    );
    let mut out = kind_output(&view, exit::WAITING);
    out.human = format!(
        "Run {} is already stopped; nothing was recorded.\n\n{}",
        view.run_id, out.human
    );
    out.json["note"] = note.into();
    out
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
pub fn check(ctx: &Ctx, entry: &Entry) -> Result<Scenario, CommandError> {
    let schema = ctx
        .catalog()
        .user_schema()
        .map_err(|e| CommandError::definition(&e))?;
    check_with(ctx, entry, schema.as_ref())
}

/// `check` under the user schema `schema` (a listing says an invalid one once, of its own
/// file, and checks each scenario itself without it).
fn check_with(
    ctx: &Ctx,
    entry: &Entry,
    schema: Option<&crate::definition::UserSchema>,
) -> Result<Scenario, CommandError> {
    let path = entry.display_path();
    // Keys it does not know are reported with the rest of what validation finds.
    let parsed = parse_scenario_setting_aside(&path, &entry.text);
    // A workflow given as a scenario (by its path, or written in `scenarios/`) is said to be
    // one, with its commands, by every command that reads it (`validate --all`, `list`). Only
    // a text without phases can be one (a parse that found phases read a `phases:` key).
    if parsed.as_ref().map_or(true, |(s, _)| s.phases.is_empty())
        && let Some(e) = crate::definition::wrong_kind(
            &path,
            &entry.text,
            "scenario",
            &super::workflow::other_kind_commands(ctx, "workflow", &path, &path),
        )
    {
        return Err(CommandError::definition(&e));
    }
    let verdict: Result<Scenario, DefinitionError> = parsed.and_then(|(s, set_aside)| {
        let known = known_agents(ctx);
        // A phase naming an agent whose file is there but invalid is told so where it
        // names it, with the file's first problem, beside the scenario's other problems.
        let broken = ctx.catalog().broken_agents();
        let verdict = crate::validate::validate_scenario_cautioned(
            &path,
            &entry.text,
            &s,
            schema,
            &known,
            &broken,
        )
        .0;
        let namesakes = ctx.catalog().scenario_namesakes(entry, &s.name);
        let verdict = crate::validate::with_namesakes(
            verdict,
            &path,
            &entry.text,
            "scenario",
            &s.name,
            &namesakes,
        );
        DefinitionError::with_set_aside(&path, &entry.text, set_aside, verdict).map(|()| s)
    });
    verdict.map_err(|e| CommandError::definition(&e))
}

/// How each agent the scenario's phases name is run (the agent files and the
/// configuration's `agents` block), as `run` records it.
fn scenario_agents(
    ctx: &Ctx,
    scenario: &Scenario,
    config: &crate::definition::AgentsConfig,
) -> crate::definition::ResolvedAgents {
    let found: Vec<_> = ctx
        .catalog()
        .agents()
        .into_iter()
        .filter_map(Result::ok)
        .map(|(a, _)| a)
        .collect();
    resolve_agents(
        scenario
            .phases
            .iter()
            .flat_map(|p| p.agents.iter().cloned()),
        &found,
        config,
    )
}

/// `orchestrate list`: the scenarios of the home.
pub fn list(ctx: &Ctx) -> Result<Output, CommandError> {
    let catalog = ctx.catalog();
    // An invalid user schema or configuration is its own file's error, said once (a warning,
    // above the table): each row is the scenario's own verdict. Before, every row showed the
    // schema's `2:1: unknown field` as if it were in that scenario.
    let validate = ["orchestrate", "validate", "NAME"];
    let (_, mut warnings) = super::workflow::home_config(ctx, &validate);
    let schema = match catalog.user_schema() {
        Ok(schema) => schema,
        Err(e) => {
            warnings.insert(0, super::workflow::invalid_home_file(ctx, &e, &validate));
            None
        }
    };
    let mut rows = Vec::new();
    for listed in catalog.list_scenarios() {
        let EntrySource::File(path) = &listed.source else {
            continue;
        };
        // Valid as `validate` says it (its cycles, its conditions' phases, its agents), not
        // only parsed: `valid` is what an agent picks a scenario to run by.
        let parsed = match &listed.text {
            Ok(text) => {
                let entry = Entry {
                    name: listed.name.clone(),
                    source: listed.source.clone(),
                    text: text.clone(),
                };
                check_with(ctx, &entry, schema.as_ref()).map_err(|e| e.first_problem())
            }
            Err(e) => Err(e.definition_error(&listed.path()).first_problem()),
        };
        let ambiguity = listed.ambiguity();
        let valid = parsed.as_ref().ok();
        rows.push(json!({
            "name": listed.name,
            "path": path.display().to_string(),
            "valid": valid.is_some() && ambiguity.is_none(),
            "phases": valid.map(|s| s.phases.len()),
            "priority": valid.and_then(|s| s.priority.clone()),
            "type": valid.and_then(|s| s.kind.clone()),
            "description": valid.and_then(|s| s.description.clone()),
            "error": parsed.as_ref().err().or(ambiguity.as_ref()),
        }));
    }
    if rows.is_empty() {
        let text = format!(
            "No scenarios in {}.\nCreate one there (see {}), then {}.\n",
            catalog.scenarios_dir().display(),
            ctx.cmd(&["schema", "scenario"]),
            ctx.cmd(&["orchestrate", "validate", "NAME"])
        );
        return Ok(Output::new(rows, text, exit::OK).warn(warnings));
    }
    let mut text = format!("Scenarios ({}):\n", catalog.scenarios_dir().display());
    let width = crate::render::name_width(&rows);
    for r in &rows {
        let phases = match (r["phases"].as_u64(), r["valid"].as_bool()) {
            (Some(n), Some(true)) => crate::render::count(n as usize, "phase"),
            (Some(_), _) => "ambiguous".to_string(),
            (None, _) => "invalid".to_string(),
        };
        text.push_str(&format!(
            "  {}  {:<10}  {:<8}  {:<12}  {}\n",
            crate::render::padded(r["name"].as_str().unwrap_or_default(), width),
            phases,
            r["priority"].as_str().unwrap_or("-"),
            r["type"].as_str().unwrap_or("-"),
            r["error"]
                .as_str()
                .or_else(|| r["description"].as_str())
                .unwrap_or(""),
        ));
    }
    Ok(Output::new(rows, text, exit::OK).warn(warnings))
}

/// `orchestrate validate NAME|--all`: the verdict on one scenario (the same document as
/// `workflow validate`), or on every scenario (`{valid, scenarios: [...]}`). Invalid is exit 2.
pub fn validate(ctx: &Ctx, name: Option<&str>, all: bool) -> Result<Output, CommandError> {
    let catalog = ctx.catalog();
    // With --all, a file that cannot be read (a FIFO, a device, a broken link) is one verdict
    // among the others, rendered as every definition error is, not the end of the listing.
    let entries: Vec<(String, Result<Entry, CommandError>)> = if all {
        let mut v = Vec::new();
        for (n, source) in catalog.scenarios() {
            let file = match source {
                crate::definition::EntrySource::File(p) => p.display().to_string(),
                crate::definition::EntrySource::Builtin => format!("builtin:{n}"),
            };
            let entry = catalog.find_scenario(&n).map_err(|e| match e {
                // Its content (too large, not UTF-8): located.
                e @ crate::definition::LookupError::Invalid { .. } => CommandError::from(e),
                e => CommandError::definition(&crate::definition::DefinitionError {
                    path: file.clone(),
                    text: String::new(),
                    problems: vec![crate::definition::Problem::new(e.to_string(), None)],
                }),
            });
            v.push((file, entry));
        }
        if v.is_empty() {
            return Err(CommandError::bad_input(format!(
                "no scenarios in {}",
                catalog.scenarios_dir().display()
            ))
            .hint(format!(
                "create one there (see {}), then validate it",
                ctx.cmd(&["schema", "scenario"])
            )));
        }
        v
    } else {
        match catalog.find_scenario(name.unwrap_or_default()) {
            Ok(entry) => vec![(entry.display_path(), Ok(entry))],
            // A file whose content no definition can have (too large, not UTF-8): its verdict.
            Err(crate::definition::LookupError::Invalid { error, .. }) => {
                vec![(error.path.clone(), Err(CommandError::definition(&error)))]
            }
            Err(e) => return Err(e.into()),
        }
    };
    // The configuration every run of the home reads: a run refuses it, so validation does
    // too (as `workflow validate`). Said once, naming its own file, not as a scenario's.
    let config = catalog
        .config_file()
        .err()
        .map(|e| CommandError::definition(&e));
    let mut text = String::new();
    let mut docs = Vec::new();
    let mut warnings = Vec::new();
    if all && let Some(e) = &config {
        text.push_str(e.detail.as_deref().unwrap_or_default());
    }
    // So is an invalid user schema, with --all: once, of its own file (`schema`), each
    // scenario checked itself without it.
    let schema = catalog.user_schema();
    let schema_error = schema
        .as_ref()
        .err()
        .filter(|_| all)
        .map(CommandError::definition);
    if let Some(e) = &schema_error {
        text.insert_str(0, e.detail.as_deref().unwrap_or_default());
    }
    for (file, entry) in entries {
        let checked = |entry: &Entry| match (&schema, all) {
            (Ok(schema), true) => check_with(ctx, entry, schema.as_ref()),
            (Err(_), true) => check_with(ctx, entry, None),
            (_, false) => check(ctx, entry),
        };
        match entry.and_then(|entry| checked(&entry).map(|s| (entry, s))) {
            // One scenario, valid itself: its runs are refused for the configuration.
            Ok(_) if !all && config.is_some() => {
                let e = config.as_ref().expect("checked");
                text.push_str(e.detail.as_deref().unwrap_or_default());
                docs.push(json!({"file": file, "valid": false, "errors": e.errors}));
            }
            Ok((entry, s)) => {
                // Valid, but what would make its runs fail here is said in the document too.
                let mut its: Vec<String> =
                    crate::validate::name_mismatch(&entry, "scenario", &s.name)
                        .into_iter()
                        .collect();
                its.extend(s.items_not_as_written(&entry.display_path(), &entry.text));
                // A template in a nested shell's script: valid, but unsafe.
                its.extend(
                    crate::validate::validate_scenario_cautioned(
                        &entry.display_path(),
                        &entry.text,
                        &s,
                        None,
                        &known_agents(ctx),
                        &Default::default(),
                    )
                    .1,
                );
                if let Ok(config) = ctx.catalog().config_file() {
                    let agents = scenario_agents(ctx, &s, &config.agents);
                    its.extend(super::agents::claude_missing(ctx, &agents));
                    // A phase reading a secret output across a phase waiting for a report
                    // fails from the command line, as a workflow's step does.
                    its.extend(crate::execute::secret_outputs_across_waits(
                        &s.as_workflow(),
                        Some(&s),
                        &agents,
                        &Default::default(),
                    ));
                    its.extend(crate::execute::foreach_from_secret_fed(
                        &s.as_workflow(),
                        &entry.display_path(),
                        &entry.text,
                        "phases",
                    ));
                    // An agent Claude Code could never be given its body: refused by `run`
                    // (its file's located error), said here too.
                    if let Err(e) = super::agents::claude_body_too_long(ctx, &agents) {
                        its.push(e.detail.unwrap_or(e.message));
                    }
                }
                // A phase's `rollback:` runs on one path only: phases have no `on_failure`.
                let undoable: Vec<String> = s
                    .phases
                    .iter()
                    .filter(|p| p.rollback.is_some())
                    .map(|p| format!("`{}`", p.name))
                    .collect();
                if !undoable.is_empty() {
                    its.push(format!(
                        "{}: the `rollback` of {} runs only when an operator rolls a run back ({}: the phases completed after PHASE are undone, newest first, then run again); a failed phase pauses the run and is never rolled back by itself",
                        s.name,
                        undoable.join(", "),
                        ctx.cmd(&["orchestrate", "resume", "RUN", "--rollback-to", "PHASE"]),
                    ));
                }
                text.push_str(&render_valid(&file, &s));
                let agents: BTreeSet<&String> = s.phases.iter().flat_map(|p| &p.agents).collect();
                docs.push(json!({
                    "file": file, "name": s.name, "valid": true, "phases": s.phases.len(),
                    "agents": agents, "inputs": s.inputs.keys().collect::<Vec<_>>(),
                    "errors": [], "warnings": its,
                }));
                warnings.extend(its);
            }
            Err(e) => {
                text.push_str(e.detail.as_deref().unwrap_or_default());
                docs.push(json!({"file": file, "valid": false, "errors": e.errors}));
            }
        }
    }
    let valid = docs.iter().all(|d| d["valid"] == true) && config.is_none();
    let valid = valid && schema_error.is_none();
    let code = if valid { exit::OK } else { exit::BAD_INPUT };
    let doc = if all {
        let mut doc = json!({"valid": valid, "scenarios": docs});
        if let Some(e) = &schema_error {
            doc["schema"] = json!({
                "file": catalog.scenarios_dir().join("schema.yaml").display().to_string(),
                "valid": false,
                "errors": e.errors,
            });
        }
        if let Some(e) = &config {
            doc["config"] = json!({
                "file": catalog.config_path().display().to_string(),
                "valid": false,
                "errors": e.errors,
            });
        }
        doc
    } else {
        docs.remove(0)
    };
    warnings.dedup();
    Ok(Output::new(doc, text, code).warn(warnings))
}

/// `orchestrate preview NAME [--input k=v]...`: phases, conditions, agents, parallel
/// opportunities, rendered with the inputs `given` (checked as `run` checks them).
pub fn preview(ctx: &Ctx, name: &str, given: &[(String, String)]) -> Result<Output, CommandError> {
    let entry = ctx.catalog().find_scenario(name)?;
    let scenario = check(ctx, &entry)?;
    // A run of it is refused for an invalid configuration: so is its preview.
    let config = ctx
        .catalog()
        .config_file()
        .map_err(|e| CommandError::definition(&e))?;
    // What runs at once by the scheduler's own rule, under the limit a run of it would have.
    let limit = scenario
        .max_parallel
        .unwrap_or(config.workflow.max_parallel)
        .max(1) as usize;
    let groups = parallel_opportunities(&scenario, limit);
    // A `foreach:` phase whose items run beside each other is an opportunity too.
    let items = crate::plan::parallel_items(&scenario, limit);
    // The inputs it is shown with (a secret one as `***`), as `run --dry-run` renders them:
    // those given, else their defaults; an input with neither stays as written. Given ones
    // are checked as `run` checks them (an unknown name, a value of the wrong type or not
    // among its choices: the same error), but one required and not given is no error here: a
    // preview shows the phases before every value is known. Before, a preview took no inputs,
    // and a phase's `${{ inputs.X }}` showed only a default or the template.
    let values: BTreeMap<String, serde_json::Value> = if given.is_empty() {
        scenario
            .inputs
            .iter()
            .filter_map(|(name, spec)| Some((name.clone(), spec.default.clone()?)))
            .collect()
    } else {
        let mut optional = scenario.as_workflow();
        for spec in optional.inputs.values_mut() {
            spec.required = false;
        }
        super::workflow::run_inputs(ctx, &optional, given)?
    };
    let secret = crate::execute::secret_inputs(&scenario.as_workflow());
    let shown_inputs = crate::plan::shown_inputs(&values, &|name| secret.contains(name));
    let text = render_preview(&scenario, &groups, &items, &shown_inputs);
    // Each set of phases that run at the same time.
    let sets: Vec<&Vec<String>> = groups.iter().flatten().collect();
    let items_json: Vec<serde_json::Value> = items
        .iter()
        .map(|(phase, at_once)| json!({"phase": phase, "at_once": at_once}))
        .collect();
    // The definition as written, but for the defaults of secret inputs: a preview shows no
    // secret value, in either form (the human one shows them as `***`).
    let mut shown = serde_json::to_value(&scenario).unwrap_or_default();
    for name in &secret {
        if let Some(default) = shown.pointer_mut(&format!(
            "/inputs/{}/default",
            name.replace('~', "~0").replace('/', "~1")
        )) {
            *default = json!(crate::event::REDACTED);
        }
    }
    Ok(Output::new(
        json!({
            "scenario": shown,
            "estimated_phases": scenario.phases.len(),
            "parallel_opportunities": sets,
            "parallel_items": items_json,
            "inputs": shown_inputs,
        }),
        text,
        exit::OK,
    ))
}
