//! The status screen in the seed's look (✅/⏳/❌, `Step 2/4`, durations) and the recovery
//! options of a failed run as ready commands.

use std::fmt::Write;
use std::time::SystemTime;

use super::{elapsed_between, format_duration};
use crate::decide::StepStatus;
use crate::project::{RunStatus, StatusView, StepView};

/// Icon and label of a step status.
pub(crate) fn step_badge(status: StepStatus) -> (&'static str, &'static str) {
    match status {
        StepStatus::Pending => ("⬜", "Pending"),
        StepStatus::Ready => ("🔁", "Retry scheduled"),
        StepStatus::Running => ("⏳", "In Progress..."),
        StepStatus::Waiting => ("⏳", "Waiting for a report"),
        StepStatus::Completed => ("✅", "Complete"),
        StepStatus::Failed => ("❌", "Failed"),
        StepStatus::Skipped => ("⏭️", "Skipped"),
        StepStatus::RolledBack => ("↩️", "Rolled back"),
        StepStatus::Stopped => ("⏸️", "Stopped"),
    }
}

fn run_badge(status: RunStatus) -> &'static str {
    match status {
        RunStatus::Running => "🔄",
        RunStatus::Waiting => "⏳",
        RunStatus::Interrupted => "⚠️",
        RunStatus::Completed => "✅",
        RunStatus::Failed | RunStatus::Aborted => "❌",
        RunStatus::Stopped => "⏸️",
        RunStatus::RolledBack => "↩️",
    }
}

/// The last lines of an output tail, as a "Last output:" block.
fn tail_block(out: &mut String, tail: &str) {
    if tail.is_empty() {
        return;
    }
    let _ = writeln!(out, "   Last output:");
    let lines: Vec<&str> = tail.lines().collect();
    for line in &lines[lines.len().saturating_sub(10)..] {
        let _ = writeln!(out, "   │ {line}");
    }
}

/// Ready-to-run commands under a title, aligned, each with why.
pub(crate) fn commands_block(out: &mut String, title: &str, cmds: &[(String, String)]) {
    if cmds.is_empty() {
        return;
    }
    let _ = writeln!(out, "\n{title}:");
    let width = cmds
        .iter()
        .map(|(c, _)| c.chars().count())
        .max()
        .unwrap_or(0);
    for (c, why) in cmds {
        let _ = writeln!(out, "  {c:<width$}   # {why}");
    }
}

fn step_block(out: &mut String, i: usize, total: usize, s: &StepView, now: SystemTime) {
    let (icon, label) = step_badge(s.status);
    let _ = writeln!(out, "{icon} Step {}/{total}: {}", i + 1, s.name);
    let running = matches!(s.status, StepStatus::Running | StepStatus::Waiting);
    let end = if running { None } else { s.ended_at.as_deref() };
    if s.status != StepStatus::Pending
        && let Some(d) = elapsed_between(s.started_at.as_deref(), end, now)
    {
        let _ = writeln!(out, "   Duration: {}", format_duration(d));
    }
    let mut status = label.to_string();
    if s.attempts > 1 {
        let _ = write!(status, " (attempt {})", s.attempts);
    }
    let _ = writeln!(out, "   Status: {status}");
    if let Some(e) = &s.error
        && matches!(
            s.status,
            StepStatus::Failed | StepStatus::Skipped | StepStatus::Stopped
        )
    {
        let _ = writeln!(out, "   Error: {e}");
    }
    for (k, v) in &s.outputs {
        let shown: String = v.chars().take(80).collect();
        let _ = writeln!(out, "   Output: {k}={shown}");
    }
    if let Some(p) = &s.prompt {
        let _ = writeln!(out, "   Prompt:");
        for line in p.lines() {
            let _ = writeln!(out, "     {line}");
        }
    }
    tail_block(out, &s.output_tail);
    out.push('\n');
}

/// The ready-to-run commands that recover a run in this status.
pub fn recovery_commands(view: &StatusView) -> Vec<(String, String)> {
    if view.kind == crate::event::RunKind::Scenario {
        return scenario_commands(view);
    }
    let id = &view.run_id;
    let mut cmds = Vec::new();
    if !view.resumable {
        if view.status == RunStatus::Failed {
            cmds.push((
                format!("cortex workflow run {}", view.name),
                "fix what the report names, then start a new run".into(),
            ));
        }
        return cmds;
    }
    match view.status {
        RunStatus::Failed if view.failed_step.is_some() || !view.post_problems.is_empty() => {
            let step = view
                .failed_step
                .clone()
                .unwrap_or_else(|| "post-validation".into());
            cmds.push((
                format!("cortex workflow resume {id} --retry"),
                format!("run `{step}` again with a fresh retry budget"),
            ));
            if view.failed_step.is_some() {
                cmds.push((
                    format!("cortex workflow resume {id} --skip"),
                    format!("record `{step}` as skipped and go on"),
                ));
            }
            if let Some(last_done) = view
                .steps
                .iter()
                .rev()
                .find(|s| s.status == StepStatus::Completed)
            {
                cmds.push((
                    format!(
                        "cortex workflow resume {id} --rollback-to \"{}\"",
                        last_done.name
                    ),
                    "undo the steps completed after it, newest first, and go on from there".into(),
                ));
            }
            cmds.push((format!("cortex workflow abort {id}"), "end the run".into()));
        }
        RunStatus::Failed => {
            cmds.push((
                format!("cortex workflow resume {id}"),
                "go on from the resume point".into(),
            ));
            cmds.push((format!("cortex workflow abort {id}"), "end the run".into()));
        }
        RunStatus::Waiting => {
            if let Some(step) = &view.waiting_for {
                cmds.push((
                    format!("cortex workflow step complete \"{step}\" --run {id}"),
                    "report the step done (add --output KEY=VALUE as needed)".into(),
                ));
                cmds.push((
                    format!("cortex workflow step fail \"{step}\" --run {id}"),
                    "report the step failed".into(),
                ));
                cmds.push((
                    format!("cortex workflow resume {id}"),
                    "go on once the step is reported".into(),
                ));
            }
        }
        RunStatus::Stopped | RunStatus::Interrupted => {
            cmds.push((
                format!("cortex workflow resume {id}"),
                "go on from the resume point".into(),
            ));
            cmds.push((format!("cortex workflow abort {id}"), "end the run".into()));
        }
        _ => {}
    }
    cmds
}

/// The ready-to-run commands that move a scenario run on.
fn scenario_commands(view: &StatusView) -> Vec<(String, String)> {
    let name = &view.name;
    let mut cmds = Vec::new();
    if !view.resumable {
        if view.status == RunStatus::Failed {
            cmds.push((
                format!("cortex orchestrate run {name}"),
                "fix what the report names, then start a new run".into(),
            ));
        }
        return cmds;
    }
    for phase in &view.awaiting_start {
        cmds.push((
            format!("cortex orchestrate start {name} {phase}"),
            "start this manual phase".into(),
        ));
    }
    for s in view
        .steps
        .iter()
        .filter(|s| s.status == StepStatus::Waiting)
    {
        cmds.push((
            format!("cortex orchestrate complete {name} {}", s.name),
            "report the phase done (its checklist confirmed)".into(),
        ));
        cmds.push((
            format!("cortex orchestrate fail {name} {}", s.name),
            "report the phase failed".into(),
        ));
    }
    match view.status {
        RunStatus::Running => cmds.push((
            format!("cortex orchestrate stop {name}"),
            "stop gracefully; resume continues it".into(),
        )),
        RunStatus::Failed | RunStatus::Stopped | RunStatus::Interrupted | RunStatus::Waiting => {
            cmds.push((
                format!("cortex orchestrate resume {name}"),
                "go on from the completed phases".into(),
            ))
        }
        _ => {}
    }
    cmds
}

/// The whole status screen.
pub fn render_status(view: &StatusView, now: SystemTime) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "🔄 CORTEX Workflow Execution\n");
    let _ = writeln!(out, "📋 Workflow: {}", view.name);
    if let Some(d) = &view.description {
        let _ = writeln!(out, "   {d}");
    }
    let _ = writeln!(out, "   Run: {}", view.run_id);
    let _ = writeln!(
        out,
        "   Status: {} {}",
        run_badge(view.status),
        view.status.as_str()
    );
    let finished = matches!(
        view.status,
        RunStatus::Completed | RunStatus::Failed | RunStatus::Aborted | RunStatus::RolledBack
    );
    let end = if finished {
        view.ended_at.as_deref()
    } else {
        None
    };
    if let Some(d) = elapsed_between(view.started_at.as_deref(), end, now) {
        let _ = writeln!(out, "   Elapsed: {}", format_duration(d));
    }
    let _ = writeln!(out, "   Steps: {} total\n", view.steps.len());
    for (i, s) in view.steps.iter().enumerate() {
        step_block(&mut out, i, view.steps.len(), s, now);
    }
    for p in &view.pre_problems {
        let _ = writeln!(out, "❌ Pre-validation: {p}");
    }
    for p in &view.post_problems {
        let _ = writeln!(out, "❌ Post-validation: {p}");
    }
    if let Some(r) = &view.reason {
        let _ = writeln!(out, "Reason: {r}");
    }
    if let Some(cp) = &view.resume_point
        && !finished
    {
        let _ = writeln!(out, "Resume point: after `{cp}`");
    }
    if matches!(view.status, RunStatus::Completed) || finished {
        let _ = writeln!(out, "Head hash: {}", view.head_hash);
    }
    commands_block(&mut out, "Next", &recovery_commands(view));
    out
}

/// One line per run, newest first.
pub fn render_history(rows: &[(String, String, RunStatus, Option<String>, u64)]) -> String {
    if rows.is_empty() {
        return "No runs yet. Start one with `cortex workflow run NAME`.\n".into();
    }
    let mut out = String::new();
    let w = rows
        .iter()
        .map(|r| r.1.chars().count())
        .max()
        .unwrap_or(4)
        .max(4);
    let _ = writeln!(
        out,
        "{:<26}  {:<w$}  {:<11}  {:<24}  EVENTS",
        "RUN", "NAME", "STATUS", "STARTED"
    );
    for (id, name, status, started, events) in rows {
        let _ = writeln!(
            out,
            "{id:<26}  {name:<w$}  {:<11}  {:<24}  {events}",
            status.as_str(),
            started.as_deref().unwrap_or("-")
        );
    }
    out
}

/// What `run` and `resume` print when the driver stops: the outcome, and for a failed, waiting
/// or stopped run the report with its recovery options.
pub fn render_outcome(view: &StatusView, now: SystemTime) -> String {
    let mut out = String::new();
    let kind = match view.kind {
        crate::event::RunKind::Workflow => "Workflow",
        crate::event::RunKind::Scenario => "Scenario",
    };
    let elapsed = elapsed_between(view.started_at.as_deref(), view.ended_at.as_deref(), now)
        .map(format_duration)
        .unwrap_or_default();
    match view.status {
        RunStatus::Completed => {
            let _ = writeln!(out, "\n✅ {kind} completed: {} ({elapsed})", view.name);
            let _ = writeln!(out, "   Head hash: {}", view.head_hash);
            let _ = writeln!(out, "   Results: runs/{}/results.json", view.run_id);
        }
        RunStatus::Waiting if view.kind == crate::event::RunKind::Scenario => {
            let _ = writeln!(
                out,
                "\n⏸️  Waiting: the phases that can go on need a report or a start."
            );
        }
        RunStatus::Waiting => {
            let step = view.waiting_for.as_deref().unwrap_or("?");
            let _ = writeln!(
                out,
                "\n⏸️  Waiting on step `{step}`: do the work, then report it."
            );
        }
        RunStatus::Stopped => {
            let _ = writeln!(out, "\n⏸️  Stopped; progress is saved.");
        }
        status => {
            let _ = writeln!(
                out,
                "\n{} {kind} {}: {}",
                run_badge(status),
                status.as_str().replace('_', " "),
                view.reason.as_deref().unwrap_or("")
            );
            if let Some(step) = view.steps.iter().find(|s| s.status == StepStatus::Failed) {
                if let Some(code) = step.exit_code {
                    let _ = writeln!(
                        out,
                        "   Step `{}`: exit code {code}, {} attempt(s)",
                        step.name, step.attempts
                    );
                } else {
                    let _ = writeln!(out, "   Step `{}`: {} attempt(s)", step.name, step.attempts);
                }
                tail_block(&mut out, &step.output_tail);
            }
            if matches!(status, RunStatus::Aborted | RunStatus::RolledBack) {
                let _ = writeln!(out, "   Head hash: {}", view.head_hash);
            }
        }
    }
    let title = if view.status == RunStatus::Waiting {
        "Next"
    } else {
        "Recovery options"
    };
    commands_block(&mut out, title, &recovery_commands(view));
    out
}
