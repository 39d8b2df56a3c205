//! Live progress while a run is driven: one line per transition, in the seed's look.

use std::fmt::Write;
use std::time::SystemTime;

use super::{elapsed_between, format_duration};
use crate::decide::RunState;
use crate::event::{Event, Recorded};

/// The banner printed when a run starts or resumes.
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
            let _ = writeln!(out, "   Steps: {} total", state.steps.len());
            for s in &state.steps {
                let _ = writeln!(out, "  -> {}", s.name);
            }
        }
        Some(sc) => {
            let _ = writeln!(out, "   Phases: {} total", sc.phases.len());
            for p in &sc.phases {
                let parallel = if p.parallel { " [PARALLEL]" } else { "" };
                let cond = p.condition.as_deref().unwrap_or("auto");
                let _ = writeln!(out, "  -> {} [{cond}]{parallel}", p.name);
            }
        }
    }
    out
}

fn step_label(state: &RunState, step: &str) -> String {
    if state.is_scenario() {
        return format!("Phase {step}");
    }
    let i = state.step_index(step).map_or(0, |i| i + 1);
    format!("Step {i}/{}: {step}", state.steps.len())
}

/// What to print for events just recorded (empty for quiet ones).
pub fn render_progress(state: &RunState, events: &[Recorded], now: SystemTime) -> String {
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
                if let Some(prompt) = state
                    .workflow
                    .as_ref()
                    .and_then(|w| w.steps.iter().find(|s| &s.name == step))
                    .and_then(|s| s.prompt.as_deref())
                {
                    let _ = writeln!(out, "   Prompt:");
                    for line in prompt.lines() {
                        let _ = writeln!(out, "     {line}");
                    }
                }
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
                    "❌ {} — attempt {attempt} {error}",
                    step_label(state, step)
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
                let _ = writeln!(out, "⏭️  {} skipped: {reason}", step_label(state, step));
            }
            Event::RollbackStarted { steps, .. } => {
                let _ = writeln!(
                    out,
                    "\n↩️  Rolling back {} step(s), newest first",
                    steps.len()
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
                    "❌ {}: compensation failed: {error}",
                    step_label(state, step)
                );
            }
            Event::StepInterrupted { step, reason, .. } => {
                let _ = writeln!(out, "⏸️  {}: {reason}", step_label(state, step));
            }
            Event::AgentActivated { agent, phase, .. } => {
                let _ = writeln!(out, "   🤖 {agent} activated ({phase})");
            }
            Event::AgentDeactivated { agent, phase, .. } => {
                let _ = writeln!(out, "   💤 {agent} deactivated ({phase})");
            }
            Event::CriterionMet { criterion, .. } => {
                let _ = writeln!(out, "   [x] {criterion}");
            }
            Event::PhaseStartRequested { phase, by } => {
                let _ = writeln!(out, "▶️  Phase {phase} start requested by {}", by.actor);
            }
            Event::RunStopped {} => {
                let kind = if state.is_scenario() {
                    "orchestrate"
                } else {
                    "workflow"
                };
                let _ = writeln!(
                    out,
                    "\n⏸️  Run stopped; `{}` continues it",
                    super::command_line(&["cortex", kind, "resume", &state.run_id])
                );
            }
            _ => {}
        }
    }
    out
}
