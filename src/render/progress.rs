//! Live progress while a run is driven: one line per transition, in the seed's look.

use std::fmt::Write;
use std::time::SystemTime;

use super::{elapsed_between, format_duration};
use crate::decide::RunState;
use crate::event::{Event, Recorded};

/// The banner printed when a run starts or resumes: what runs (`render_how_to_follow` goes
/// under it once the run is under way).
pub fn render_header(state: &RunState, resumed: bool) -> String {
    let mut out = String::new();
    let name = state.start.as_ref().map_or("", |s| s.name.as_str());
    let kind = if state.is_scenario() {
        "Scenario"
    } else {
        "Workflow"
    };
    let _ = writeln!(out, "🔄 CORTEX {kind} Execution\n");
    let verb = if resumed { "Resumed" } else { "Started" };
    let _ = writeln!(out, "{verb} {}: {name}", kind.to_lowercase());
    let _ = writeln!(out, "📋 Run: {}", state.run_id);
    match &state.scenario {
        None => {
            let top: Vec<&str> = state
                .steps
                .iter()
                .filter(|s| s.item.is_none())
                .map(|s| s.name.as_str())
                .collect();
            let _ = writeln!(out, "   Steps: {} total", top.len());
            for s in top {
                let _ = writeln!(out, "  -> {s}");
            }
        }
        Some(sc) => {
            // The definition's phases, as `run` counts them: a resumed run's state holds the
            // items of its `foreach:` phases too, which are no phases of the file (before, a
            // resume said "5 total" where `run` said 2, each item listed `[auto]`).
            let phases: Vec<_> = sc
                .phases
                .iter()
                .filter(|p| state.step(&p.name).is_none_or(|unit| unit.item.is_none()))
                .collect();
            let _ = writeln!(out, "   Phases: {} total", phases.len());
            for p in phases {
                let parallel = if p.parallel { " [PARALLEL]" } else { "" };
                let cond = p.condition.as_deref().unwrap_or("auto");
                let _ = writeln!(out, "  -> {} [{cond}]{parallel}", p.name);
            }
        }
    }
    out
}

/// As seed 001 shows them under the banner of a run under way: how to check on the run and
/// how to resume it if it is interrupted — ready commands naming this run (not "the latest",
/// which another run can become), quoted for pasting, carrying `globals` (`Ctx::globals`)
/// after `cortex`, with the placeholders of the secret inputs a resume would be asked for
/// (`plan::secret_inputs_ahead`, as `resume` asks: at the start of a run, every one that
/// anything of it may read).
pub fn render_how_to_follow(state: &RunState, globals: &[String]) -> String {
    let mut out = String::new();
    let group = if state.is_scenario() {
        "orchestrate"
    } else {
        "workflow"
    };
    let command = |args: &[&str]| {
        let argv: Vec<&str> = std::iter::once("cortex")
            .chain(globals.iter().map(String::as_str))
            .chain(args.iter().copied())
            .collect();
        super::command_line(&argv)
    };
    // A resume in another process is given the secret inputs again (the log keeps `***`):
    // those it would be asked for. Before, every one was listed, read by anything or not.
    let secret = crate::plan::resume_secret_inputs(state, &crate::event::ResumeMode::Continue);
    let mut resume: Vec<String> = vec![group.into(), "resume".into(), state.run_id.clone()];
    for name in &secret {
        resume.extend(super::pair_args("--input", name, "VALUE"));
    }
    let resume: Vec<&str> = resume.iter().map(String::as_str).collect();
    let _ = writeln!(
        out,
        "\nTo check progress: {}",
        command(&[group, "status", &state.run_id])
    );
    let _ = writeln!(
        out,
        "To resume if interrupted: {}{}",
        command(&resume),
        if secret.is_empty() {
            ""
        } else {
            " (VALUE: each secret input's value again)"
        }
    );
    out
}

/// `Step 2/4: name` (counting the definition's steps, not the items of `foreach:` steps);
/// for an item, its step and which item: `Step 3/4: deploy, item 2/3 (us)`.
pub(crate) fn step_label(state: &RunState, step: &str) -> String {
    let index = state.step_index(step);
    let item = index.and_then(|i| state.steps[i].item.as_ref());
    let of = |parent: &str, index: usize, value: &crate::definition::Item| {
        let total = state
            .step(parent)
            .and_then(|p| p.items.as_ref())
            .map_or(0, Vec::len);
        let text = super::status::item_label(value);
        format!("item {}/{total} ({text})", index + 1)
    };
    if state.is_scenario() {
        return match item {
            Some(it) => format!("Phase {step}: {}", of(&it.parent, it.index, &it.value)),
            None => format!("Phase {step}"),
        };
    }
    // By index, not by comparing every step's name: this runs for every event recorded.
    let top = |name: &str| {
        let at = state
            .step_index(name)
            .filter(|&i| state.steps[i].item.is_none());
        if state.item_units == 0 {
            let position = at.map_or(0, |i| i + 1);
            return format!("Step {position}/{}: {name}", state.steps.len());
        }
        // The items of a `foreach:` step stand right after it, as many as its list holds:
        // the walk steps over each block, so a step's place costs the top-level steps before
        // it, not every item (it walked all of them for every event: a 10,000-item step
        // cost a hundred million steps of this loop).
        let total = state.steps.len().saturating_sub(state.item_units);
        let (mut position, mut seen, mut i) = (0, 0, 0);
        while i < state.steps.len() {
            seen += 1;
            if Some(i) == at {
                position = seen;
                break;
            }
            i += 1 + state.steps[i].items.as_ref().map_or(0, Vec::len);
        }
        format!("Step {position}/{total}: {name}")
    };
    match item {
        Some(it) => format!(
            "{}, {}",
            top(&it.parent),
            of(&it.parent, it.index, &it.value)
        ),
        None => top(step),
    }
}

/// The label (`step_label`) of every item of a `foreach:` unit of `state`: what an item is
/// called once its items are gone from the state (a rollback to before its step collapses
/// them in the batch that compensated the last one).
pub fn item_labels(state: &RunState) -> std::collections::BTreeMap<String, String> {
    state
        .steps
        .iter()
        .filter(|s| s.item.is_some())
        .map(|s| (s.name.clone(), step_label(state, &s.name)))
        .collect()
}

/// What to print for events just recorded (empty for quiet ones); a command it suggests
/// carries `globals` after `cortex` (`Ctx::globals`). `labels`: the labels of items seen
/// before (`item_labels`), for an item no longer in `state`.
pub fn render_progress(
    state: &RunState,
    events: &[Recorded],
    now: SystemTime,
    globals: &[String],
    labels: &std::collections::BTreeMap<String, String>,
) -> String {
    let step_label = |state: &RunState, step: &str| match labels.get(step) {
        Some(label)
            if state
                .step_index(step)
                .is_none_or(|i| state.steps[i].item.is_none()) =>
        {
            label.clone()
        }
        _ => step_label(state, step),
    };
    let mut out = String::new();
    for rec in events {
        match &rec.event {
            Event::StepStarted { step, attempt } => {
                let retry = if *attempt > 1 {
                    format!(" (attempt {attempt})")
                } else {
                    String::new()
                };
                let _ = writeln!(out, "\n⏳ {}{retry}", step_label(state, step));
            }
            Event::StepWaiting { step, .. } => {
                let _ = writeln!(out, "\n⏳ {}", step_label(state, step));
                let what = if state.is_scenario() { "phase" } else { "step" };
                let _ = writeln!(
                    out,
                    "   Status: Waiting for a person or an agent to do this {what}"
                );
                // Rendered, as everywhere a prompt is shown (the run's values, its item).
                if let Some((index, prompt)) = state.step_index(step).and_then(|i| {
                    state
                        .definition(i)
                        .and_then(|s| s.prompt.as_deref())
                        .map(|p| (i, p))
                }) {
                    let prompt = state.render_prompt_in(prompt, index);
                    let _ = writeln!(out, "   Prompt:");
                    for line in prompt.lines() {
                        let _ = writeln!(out, "     {line}");
                    }
                }
            }
            // Output that did not reach the attempt's file (a full disk): said at once, not
            // found later in a file that silently lacks it.
            Event::AttemptLog {
                step,
                attempt,
                lost_bytes: Some(lost),
                lost_reason,
                ..
            } => {
                let _ = writeln!(
                    out,
                    "⚠ {} attempt {attempt}: {} of its output could not be written to its log file ({}); the file is kept incomplete, marked so in the log",
                    step_label(state, step),
                    super::format_bytes(*lost),
                    lost_reason.as_deref().unwrap_or("a write failed")
                );
            }
            Event::StepSucceeded { step, .. } => {
                let s = state.step(step);
                let d = s.and_then(|s| {
                    elapsed_between(s.started_at.as_deref(), s.ended_at.as_deref(), now)
                });
                let _ = writeln!(out, "✅ {}", step_label(state, step));
                if let Some(d) = d {
                    let _ = writeln!(out, "   Duration: {}", format_duration(d));
                }
                let _ = writeln!(out, "   Status: Complete");
            }
            Event::StepFailed {
                step,
                error,
                attempt,
                ..
            } => {
                let _ = writeln!(
                    out,
                    "❌ {} — attempt {attempt} {}",
                    step_label(state, step),
                    super::hanging(&super::with_globals_in(error, globals), 3)
                );
            }
            Event::StepTimedOut {
                step,
                timeout_ms,
                attempt,
                ..
            } => {
                let _ = writeln!(
                    out,
                    "❌ {} — attempt {attempt} timed out after {}",
                    step_label(state, step),
                    format_duration(std::time::Duration::from_millis(*timeout_ms))
                );
            }
            Event::ValidationFailed {
                stage,
                step,
                problems,
            } => {
                let what = match step {
                    Some(s) => step_label(state, s),
                    None => format!("{stage:?}-validation"),
                };
                let _ = writeln!(out, "❌ {what}: validation failed");
                for p in problems {
                    let _ = writeln!(out, "   - {p}");
                }
            }
            Event::ValidationPassed {
                stage: crate::event::Stage::Post,
                ..
            } => {
                let _ = writeln!(out, "\n✅ Post-validation passed");
            }
            Event::RetryScheduled {
                attempt, delay_ms, ..
            } => {
                let _ = writeln!(
                    out,
                    "🔁 Retrying in {} (attempt {attempt})",
                    format_duration(std::time::Duration::from_millis(*delay_ms))
                );
            }
            Event::StepSkipped { step, reason, .. } => {
                let _ = writeln!(
                    out,
                    "⏭️  {} skipped: {}",
                    step_label(state, step),
                    super::hanging(reason, 3)
                );
            }
            Event::RollbackStarted { steps, .. } => {
                let _ = writeln!(
                    out,
                    "\n↩️  Rolling back {}, newest first",
                    super::count(
                        steps.len(),
                        if state.is_scenario() { "phase" } else { "step" }
                    )
                );
            }
            Event::StepCompensated { step, ran, .. } => {
                let how = if *ran {
                    "compensated"
                } else {
                    "nothing to undo"
                };
                let _ = writeln!(out, "↩️  {}: {how}", step_label(state, step));
            }
            Event::CompensationFailed { step, error, .. } => {
                let _ = writeln!(
                    out,
                    "❌ {}: compensation failed: {}",
                    step_label(state, step),
                    super::hanging(error, 3)
                );
            }
            Event::StepInterrupted { step, reason, .. } => {
                let _ = writeln!(
                    out,
                    "⏸️  {}: {}",
                    step_label(state, step),
                    super::hanging(reason, 3)
                );
            }
            Event::AgentActivated { agent, phase, .. } => {
                let _ = writeln!(out, "   🤖 {agent} activated ({phase})");
            }
            Event::AgentDeactivated { agent, phase, .. } => {
                let _ = writeln!(out, "   💤 {agent} deactivated ({phase})");
            }
            Event::CriterionMet {
                phase,
                criterion,
                checked,
                ..
            } => {
                // An item as a person reads it: templates rendered with the run's values. A
                // check as `preview` shows it (`shell::shown_command`): each template's value
                // (a secret's as recorded, `***`) quoted for where it stands, so the line is
                // the command that ran and pasting it runs nothing else. Before, its templates
                // were left as `${{ ... }}`, which `preview` rendered.
                let shown = match (state.step_index(phase), criterion.strip_prefix("check: ")) {
                    (Some(i), _) if !*checked => state.render_prompt_in(criterion, i),
                    (Some(i), Some(command)) => format!(
                        "check: {}",
                        super::shown_command(command, &|r| state.template_value_in(r, Some(i)))
                    ),
                    _ => criterion.clone(),
                };
                let _ = writeln!(out, "   [x] {shown}");
            }
            Event::ConditionChecked(check) if check.holds => {
                let _ = writeln!(
                    out,
                    "\n▶️  {}: {}",
                    step_label(state, &check.step),
                    check.reason()
                );
            }
            Event::ConditionChecked(check) if check.error.is_some() => {
                let _ = writeln!(
                    out,
                    "❌ {}: {}",
                    step_label(state, &check.step),
                    check.reason()
                );
            }
            Event::ForeachExpanded { step, items } => {
                let _ = writeln!(
                    out,
                    "\n🔁 {}: {}",
                    step_label(state, step),
                    super::count(items.len(), "item")
                );
            }
            Event::ForeachFailed { step, error } => {
                let _ = writeln!(
                    out,
                    "❌ {}: foreach: {}",
                    step_label(state, step),
                    super::hanging(error, 3)
                );
            }
            Event::ForeachFinished {
                step,
                completed,
                skipped,
            } => {
                let _ = writeln!(
                    out,
                    "✅ {}: {} completed, {skipped} skipped",
                    step_label(state, step),
                    super::count(*completed as usize, "item")
                );
            }
            Event::ChildWaiting { step, run_id, .. } => {
                let _ = writeln!(
                    out,
                    "⏸️  {}: waits with its child run {}",
                    step_label(state, step),
                    super::one_line(run_id)
                );
            }
            Event::PhaseStartRequested { phase, by } => {
                let _ = writeln!(
                    out,
                    "▶️  Phase {phase} start requested by {}",
                    super::one_line(&by.actor)
                );
            }
            // Stopped by its time limit: the driver's last lines say so, and how to lift it.
            Event::RunStopped {
                time_limit: Some(_),
            } => {}
            Event::RunStopped { time_limit: None } => {
                let kind = if state.is_scenario() {
                    "orchestrate"
                } else {
                    "workflow"
                };
                // Who stopped it and why (an operator from another terminal, the page, an
                // MCP client; or this terminal's own signal), as its status says.
                let by = match &state.stopped_by {
                    Some((by, signal)) => {
                        let how = signal
                            .as_ref()
                            .map(|s| format!(" ({s})"))
                            .unwrap_or_default();
                        match by.message.as_deref().filter(|m| !m.trim().is_empty()) {
                            Some(m) => format!(" by {}{how}: {m};", super::one_line(&by.actor)),
                            None => format!(" by {}{how};", super::one_line(&by.actor)),
                        }
                    }
                    None => ";".to_string(),
                };
                let _ = writeln!(
                    out,
                    "\n⏸️  Run stopped{by} {} continues it",
                    super::suggested_command(globals, &[kind, "resume", &state.run_id])
                );
            }
            _ => {}
        }
    }
    out
}
