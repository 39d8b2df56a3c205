//! The status screen in the seed's look (✅/⏳/❌, `Step 2/4`, durations) and the recovery
//! options of a failed run as ready commands.

use std::fmt::Write;
use std::time::SystemTime;

use super::{command_line, hanging};
use super::{elapsed_between, format_duration};
use crate::decide::StepStatus;
use crate::project::{
    AgentResultView, CompensationView, RunStatus, StatusView, StepView, Suggestion,
};

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

/// `Reported by ACTOR: MESSAGE`.
/// "Reported by ACTOR: MESSAGE", the lines of a message of several under its first with
/// `indent` (the line's own, plus two).
pub(crate) fn reported_line(by: &crate::event::Operator, indent: &str) -> String {
    operator_line("Reported", by, indent)
}

/// Who skipped a step or phase (`resume --skip`), and their message, on one line.
pub(crate) fn skipped_line(by: &crate::event::Operator, indent: &str) -> String {
    operator_line("Skipped", by, indent)
}

/// Who resumed a run last, and their message, when it says more than the run's start does:
/// a message, or another actor than the one who started it.
pub(crate) fn resumed_line(view: &StatusView, indent: &str) -> Option<String> {
    let by = view.resumed_by.as_ref()?;
    (said(by) || by.actor != view.actor).then(|| operator_line("Resumed", by, indent))
}

/// Who asked for a phase to start, and their message, when it says more than the run's
/// start does (as `resumed_line`).
pub(crate) fn start_requested_line(
    view: &StatusView,
    by: &crate::event::Operator,
    indent: &str,
) -> Option<String> {
    (said(by) || by.actor != view.actor).then(|| operator_line("Start requested", by, indent))
}

fn said(by: &crate::event::Operator) -> bool {
    by.message.as_deref().is_some_and(|m| !m.trim().is_empty())
}

fn operator_line(what: &str, by: &crate::event::Operator, indent: &str) -> String {
    match &by.message {
        Some(m) => format!(
            "{what} by {}: {}",
            super::one_line(&by.actor),
            hanging(m, indent.len() + 2)
        ),
        None => format!("{what} by {}", super::one_line(&by.actor)),
    }
}

/// What an agent runner reported, on one line: `Claude Code (lead, attempt 2): session S,
/// 3 turns, $0.0123, 2s` and, for an error result, `, reported an error (error_max_turns)`.
pub(crate) fn agent_line(a: &AgentResultView) -> String {
    let runner = match a.runner {
        crate::definition::AgentRunner::Claude => "Claude Code",
    };
    let mut line = format!(
        "{runner} ({}, attempt {}): session {}",
        a.agent, a.attempt, a.session_id
    );
    if let Some(n) = a.num_turns {
        let _ = write!(line, ", {}", super::count(n as usize, "turn"));
    }
    if let Some(c) = a.total_cost_usd {
        let _ = write!(line, ", ${c:.4}");
    }
    if let Some(ms) = a.duration_ms {
        let _ = write!(
            line,
            ", {}",
            format_duration(std::time::Duration::from_millis(ms))
        );
    }
    if a.failed() {
        line.push_str(", reported an error");
        if !a.subtype.is_empty() {
            // Claude Code's word, kept to one line.
            let _ = write!(line, " ({})", super::one_line(&a.subtype));
        }
    }
    line
}

/// `(as of event SEQ, TIME)` above a view of the past; empty for the present.
pub(crate) fn as_of_line(view: &StatusView) -> String {
    view.as_of
        .as_ref()
        .map(|a| format!("(as of event {}, {})\n", a.seq, a.time))
        .unwrap_or_default()
}

/// The "Next:" block of suggested commands (empty when there are none).
pub fn render_next(next: &[Suggestion]) -> String {
    let mut out = String::new();
    commands_block(&mut out, "Next", next);
    out
}

/// Ready-to-run commands under a title, aligned, each with why; every word shell-quoted, so
/// that pasting a line runs exactly its argv.
pub(crate) fn commands_block(out: &mut String, title: &str, next: &[Suggestion]) {
    if next.is_empty() {
        return;
    }
    let _ = writeln!(out, "\n{title}:");
    let lines: Vec<String> = next.iter().map(|s| command_line(&s.argv)).collect();
    let width = lines.iter().map(|c| c.chars().count()).max().unwrap_or(0);
    for (c, s) in lines.iter().zip(next) {
        let _ = writeln!(out, "  {c:<width$}   # {}", s.why);
    }
}

/// The item of a `foreach:` step as shown beside its name: the value, cut to 40 characters.
pub(crate) fn item_value(s: &StepView) -> Option<String> {
    Some(item_label(&s.item.as_ref()?.value))
}

/// An item's value inside a line, the one label every screen gives it (status, live progress,
/// the TUI, `log show`, the web page): readable (a string as it is, not JSON-quoted; an object
/// as `key: value, …`; a list as `[a, b]`), on one line with every control character escaped
/// (an item is data: a newline in it would start a line that reads as cortex's own, an escape
/// sequence would drive the terminal), and cut to 40 characters with `…` (before, a cut label
/// was not marked as cut). `--json` keeps the value itself.
pub(crate) fn item_label(item: &crate::definition::Item) -> String {
    use crate::event::exact_json::Json;
    // Numbers as the list wrote them (`1.10`), as the item's unit is given it.
    fn inner(value: &Json) -> String {
        match value {
            Json::String(s) if s.is_empty() => "\"\"".to_string(),
            Json::String(s) => s.clone(),
            Json::Array(list) => format!(
                "[{}]",
                list.iter().map(inner).collect::<Vec<_>>().join(", ")
            ),
            Json::Object(map) => format!(
                "{{{}}}",
                map.iter()
                    .map(|(k, v)| format!("{k}: {}", inner(v)))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            other => other.text(),
        }
    }
    let text = match item.tree() {
        // The top-level object needs no braces: its fields are the label.
        Json::Object(map) if !map.is_empty() => map
            .iter()
            .map(|(k, v)| format!("{k}: {}", inner(v)))
            .collect::<Vec<_>>()
            .join(", "),
        other => inner(&other),
    };
    super::clip(&super::one_line(&text), 40).into_owned()
}

/// What composes a step: its `if:`, its `foreach:`, the workflow it runs.
fn composition_lines(out: &mut String, s: &StepView, indent: &str) {
    if let Some(c) = &s.if_ {
        let verdict = match (&c.error, c.holds) {
            (Some(e), _) => format!(" → cannot be decided: {e}"),
            (None, Some(true)) => " → true".to_string(),
            (None, Some(false)) => match c.exit_code {
                Some(code) => format!(" → false (exit code {code})"),
                None => " → false".to_string(),
            },
            (None, None) => String::new(),
        };
        let saw = if c.values.is_empty() {
            String::new()
        } else {
            let parts: Vec<String> = c.values.iter().map(|(k, v)| format!("{k} = {v}")).collect();
            format!(" ({})", parts.join(", "))
        };
        let _ = writeln!(out, "{indent}If: {}{verdict}{saw}", c.condition);
    }
    if let Some(f) = &s.foreach {
        match f.items {
            Some(n) => {
                let _ = writeln!(
                    out,
                    "{indent}For each: {} — {} ({} completed, {} skipped)",
                    f.over,
                    super::count(n, "item"),
                    f.completed,
                    f.skipped
                );
            }
            None => {
                let _ = writeln!(out, "{indent}For each: {}", f.over);
            }
        }
    }
    if let Some(u) = &s.uses {
        match &u.run_id {
            Some(id) => {
                let _ = writeln!(
                    out,
                    "{indent}Uses: workflow {} (child run {id})",
                    u.workflow
                );
            }
            None => {
                let _ = writeln!(out, "{indent}Uses: workflow {}", u.workflow);
            }
        }
        if let Some(w) = &u.waits_on {
            let _ = writeln!(
                out,
                "{indent}Waits on: step `{}` of run {}",
                w.step, w.run_id
            );
            if let Some(p) = &w.prompt {
                let _ = writeln!(out, "{indent}Prompt:");
                for line in p.lines() {
                    let _ = writeln!(out, "{indent}  {line}");
                }
            }
            gate_lines(
                out,
                indent,
                "step",
                (&w.required_outputs, &w.expected_outputs),
                (&[], &[]),
            );
        }
        if let Some(c) = &u.child_interrupted {
            let _ = writeln!(
                out,
                "{indent}Interrupted below: the driver of child run {} died{}; resume goes on with it",
                super::one_line(&c.run_id),
                c.step
                    .as_ref()
                    .map_or_else(String::new, |s| format!(" while `{s}` ran"))
            );
        }
    }
}

/// The problems the run's pre- and post-validation found, one line each: a workflow's status
/// and a scenario's say them alike (a scenario's said only "pre-validation failed (1
/// problem)", and its hint to "fix what the report names" named nothing).
pub(super) fn validation_lines(out: &mut String, view: &StatusView) {
    for p in &view.pre_problems {
        let _ = writeln!(out, "❌ Pre-validation: {}", super::hanging(p, 4));
    }
    for p in &view.post_problems {
        let _ = writeln!(out, "❌ Post-validation: {}", super::hanging(p, 4));
    }
}

/// What a report on a waiting step (or phase: `noun`) must give (its outputs) and what its
/// gate runs on it. Outputs its gate requires are "Report with:"; those only later steps (or
/// phases) read are "Later steps use:" (a report may leave them out; they are then empty).
/// The checks as they will run, and under them what they read that has no value now
/// (`StepView::checks_without_value`), apart from the commands.
pub fn gate_lines(
    out: &mut String,
    indent: &str,
    noun: &str,
    (outputs, expected): (&[String], &[String]),
    (checks, without): (&[String], &[String]),
) {
    let flags = |keys: &[String]| -> String {
        keys.iter()
            .map(|k| super::command_line(&super::pair_args("--output", k, "VALUE")))
            .collect::<Vec<_>>()
            .join(" ")
    };
    if !outputs.is_empty() {
        let _ = writeln!(out, "{indent}Report with: {}", flags(outputs));
    }
    if !expected.is_empty() {
        let _ = writeln!(out, "{indent}Later {noun}s use: {}", flags(expected));
    }
    for c in checks {
        let _ = writeln!(
            out,
            "{indent}Gate check: {}",
            super::hanging(c, indent.len() + 12)
        );
    }
    for note in without {
        let _ = writeln!(out, "{indent}  ({note})");
    }
}

/// `KEY=VALUE` of an output as a status shows it: its first 80 characters, the lines of a
/// value of several under its first with `indent`, so that no line of it starts at the margin
/// (where it would read as a line of cortex's own).
pub(crate) fn output_line(key: &str, value: &str, indent: &str) -> String {
    format!("{key}={}", hanging(&super::clip(value, 80), indent.len()))
}

/// The most outputs of one unit a human status shows: a status is for reading, and a unit
/// may have up to `decide::MAX_OUTPUT_KEYS`. `--json` status has every one.
pub const SHOWN_OUTPUTS: usize = 20;

/// A unit's outputs as a status shows them, `LABEL: KEY=VALUE` each under `indent`: the
/// first `SHOWN_OUTPUTS`, then how many more there are and the command that shows them all.
pub(crate) fn outputs_lines(
    out: &mut String,
    outputs: &std::collections::BTreeMap<String, String>,
    indent: &str,
    label: &str,
    view: &StatusView,
) {
    let hang = " ".repeat(indent.len() + label.len() + 2);
    for (k, v) in outputs.iter().take(SHOWN_OUTPUTS) {
        let _ = writeln!(out, "{indent}{label}: {}", output_line(k, v, &hang));
    }
    if let Some(more) = outputs.len().checked_sub(SHOWN_OUTPUTS).filter(|&n| n > 0) {
        let group = match view.kind {
            crate::event::RunKind::Workflow => "workflow",
            crate::event::RunKind::Scenario => "orchestrate",
        };
        let _ = writeln!(
            out,
            "{indent}… {more} more outputs ({} in all): {} shows every one",
            outputs.len(),
            super::shell::suggested_command(
                &view.globals,
                &["--json", group, "status", &view.run_id]
            )
        );
    }
}

/// One item of a `foreach:` step, under it.
fn item_block(out: &mut String, s: &StepView, view: &StatusView) {
    let (icon, label) = step_badge(s.status);
    let value = item_value(s).unwrap_or_default();
    let mut status = match (&s.uses, s.status) {
        // What moves it is in its child run, not a report on it.
        (Some(_), StepStatus::Waiting) => "Waiting with its child run".to_string(),
        _ => label.to_string(),
    };
    if s.attempts > 1 {
        let _ = write!(status, " (attempt {})", s.attempts);
    }
    let _ = writeln!(out, "   {icon} {} ({value}): {status}", s.name);
    if let Some(e) = &s.error
        && matches!(
            s.status,
            StepStatus::Failed | StepStatus::Skipped | StepStatus::Stopped
        )
    {
        let _ = writeln!(out, "      Error: {}", hanging(e, 13));
    }
    if let Some(u) = s.uses.as_ref().and_then(|u| u.run_id.as_ref()) {
        let _ = writeln!(out, "      Child run: {u}");
    }
    if let Some(w) = s.uses.as_ref().and_then(|u| u.waits_on.as_ref()) {
        // As a step's: the report that moves it, down its child runs.
        let _ = writeln!(out, "      Waits on: step `{}` of run {}", w.step, w.run_id);
        if let Some(p) = &w.prompt {
            let _ = writeln!(out, "      Prompt:");
            for line in p.lines() {
                let _ = writeln!(out, "        {line}");
            }
        }
        gate_lines(
            out,
            "      ",
            "step",
            (&w.required_outputs, &w.expected_outputs),
            (&[], &[]),
        );
    }
    outputs_lines(out, &s.outputs, "      ", "Output", view);
    if let Some(by) = &s.reported_by {
        let _ = writeln!(out, "      {}", reported_line(by, "      "));
    }
}

/// How the run a step belongs to stands, as its block needs it: over (and when), and whether
/// it was aborted.
#[derive(Clone, Copy)]
struct RunOver<'a> {
    ended_at: Option<&'a str>,
    aborted: bool,
}

/// A completed step its rollback did not simply undo: its compensation failed, was cut off
/// by an abort, or never ran. Shown as that, not as complete.
pub(crate) fn compensation_badge(s: &StepView) -> Option<(&'static str, &'static str)> {
    Some(match s.compensation? {
        CompensationView::Failed => ("❌", "Compensation failed: clean it up by hand"),
        CompensationView::CutOff => (
            "⚠️",
            "Compensation cut off by the abort: it may be half-undone",
        ),
        CompensationView::NotRun => ("⚠️", "Not compensated: the rollback was aborted first"),
    })
}

fn step_block(
    out: &mut String,
    i: usize,
    total: usize,
    s: &StepView,
    now: SystemTime,
    over: Option<RunOver<'_>>,
    view: &StatusView,
) {
    let driver_gone = view.status == RunStatus::Interrupted;
    let running = matches!(s.status, StepStatus::Running | StepStatus::Waiting);
    // The run's driver is gone (killed, or its machine restarted): a step it ran is not in
    // progress any more, and the time since it started is not a duration that grows.
    let orphaned = driver_gone && s.status == StepStatus::Running && over.is_none();
    // A step still in flight when its run ended for good (an abort while it waited for a
    // report; older logs leave it waiting) is not waiting any more: said so, its time counted
    // to its end or the run's.
    let cut = (running || s.status == StepStatus::Stopped)
        .then_some(over)
        .flatten();
    let (icon, label) = match cut {
        Some(o) if o.aborted => ("⏹️", "Not finished: the run was aborted"),
        // A failed run that can still be resumed has no end (`ended_at`): it paused (a fault
        // of its home, a failure elsewhere) and a resume goes on from here.
        Some(o) if o.ended_at.is_none() && view.status == RunStatus::Failed => (
            "⏸️",
            "Not finished: the run paused before it ended; resume goes on from here",
        ),
        Some(_) => ("⏹️", "Not finished: the run ended"),
        None if orphaned && view.orphans_alive => (
            "⚠️",
            "Interrupted: its driver died while this step ran, and its command still runs; resume (or abort) ends it first, then it runs again on resume",
        ),
        None if orphaned => (
            "⚠️",
            "Interrupted: its driver is gone; it runs again on resume",
        ),
        // Its `if: {run:}` command was under way.
        None if s.checking_condition && driver_gone => (
            "⚠️",
            "Interrupted while its `if:` command ran: its driver is gone; the command runs again on resume",
        ),
        None if s.checking_condition => ("⏳", "Checking its condition: its `if:` command runs"),
        None if s.retry_held => (
            "⬜",
            "Retry held: the run was paused or stopped before it; it runs again on resume",
        ),
        None => compensation_badge(s).unwrap_or_else(|| step_badge(s.status)),
    };
    let _ = writeln!(out, "{icon} Step {}/{total}: {}", i + 1, s.name);
    let end = match cut {
        Some(o) => s.ended_at.as_deref().or(o.ended_at),
        None if running => None,
        None => s.ended_at.as_deref(),
    };
    if s.status != StepStatus::Pending
        && let Some(d) = elapsed_between(s.started_at.as_deref(), end, now)
    {
        if orphaned {
            let _ = writeln!(out, "   Started: {} ago", format_duration(d));
        } else {
            let _ = writeln!(out, "   Duration: {}", format_duration(d));
        }
    }
    let mut status = match (&s.uses, s.status) {
        (Some(_), StepStatus::Waiting) if cut.is_none() => "Waiting with its child run".to_string(),
        _ => label.to_string(),
    };
    if s.attempts > 1 {
        let _ = write!(status, " (attempt {})", s.attempts);
    }
    let _ = writeln!(out, "   Status: {status}");
    if let Some(by) = &s.reported_by {
        let _ = writeln!(out, "   {}", reported_line(by, "   "));
    }
    if let Some(by) = &s.skipped_by {
        let _ = writeln!(out, "   {}", skipped_line(by, "   "));
    }
    if let Some(w) = &s.worker {
        let _ = writeln!(out, "   {}", worker_line(w, s.lease_lapsed, s.holder_gone));
    }
    if !s.waits_for_tags.is_empty() {
        let _ = writeln!(
            out,
            "   {}",
            tags_line(&view.globals, &s.waits_for_tags, &view.secret_inputs)
        );
    }
    if let Some(a) = &s.agent_result {
        let _ = writeln!(out, "   Agent: {}", agent_line(a));
    }
    composition_lines(out, s, "   ");
    if let Some(e) = &s.error
        && (matches!(s.status, StepStatus::Failed | StepStatus::Stopped)
            || s.compensation == Some(CompensationView::Failed))
        && !s.runs_as_items()
        && cut.is_none()
    {
        let _ = writeln!(out, "   Error: {}", hanging(e, 10));
    }
    // A false `if:` is said by its line above.
    if let Some(e) = &s.error
        && s.status == StepStatus::Skipped
        && s.if_.as_ref().is_none_or(|c| c.holds != Some(false))
    {
        let _ = writeln!(out, "   Reason: {}", hanging(e, 11));
    }
    // Interrupted (its worker's lease lapsed, or its driver went), to run again: why its
    // last attempt ended.
    if let Some(e) = &s.error
        && s.status == StepStatus::Pending
        && s.attempts > 0
        && !s.runs_as_items()
    {
        let _ = writeln!(out, "   Attempt {} ended: {}", s.attempts, hanging(e, 3));
    }
    outputs_lines(out, &s.outputs, "   ", "Output", view);
    if let Some(p) = &s.prompt {
        let _ = writeln!(out, "   Prompt:");
        for line in p.lines() {
            let _ = writeln!(out, "     {line}");
        }
    }
    gate_lines(
        out,
        "   ",
        "step",
        (&s.required_outputs, &s.expected_outputs),
        (&s.checks, &s.checks_without_value),
    );
    tail_block(out, &s.output_tail);
    out.push('\n');
}

/// The whole status screen.
pub fn render_status(view: &StatusView, now: SystemTime) -> String {
    let mut out = as_of_line(view);
    let _ = writeln!(out, "🔄 CORTEX Workflow Execution\n");
    let _ = writeln!(out, "📋 Workflow: {}", view.name);
    if let Some(d) = &view.description {
        let _ = writeln!(out, "   {d}");
    }
    let _ = writeln!(out, "   Run: {}", view.run_id);
    if let Some(when) = &view.scheduled {
        let _ = writeln!(out, "   Started by the schedule: {when}");
    }
    if let Some(m) = &view.message {
        // A message of several lines keeps its lines under it.
        let m = m.replace('\n', "\n     ");
        let _ = writeln!(out, "   Started by {}: {m}", super::one_line(&view.actor));
    }
    if let Some(line) = resumed_line(view, "   ") {
        let _ = writeln!(out, "   {line}");
    }
    // A decided rollback that waits for a driver is not waiting on a report.
    let rollback = if view.rolling_back && view.status == RunStatus::Waiting {
        " to roll back (resume runs the compensations)"
    } else if view.rolling_back
        && matches!(view.status, RunStatus::Interrupted | RunStatus::Stopped)
    {
        " while rolling back"
    } else {
        ""
    };
    let _ = writeln!(
        out,
        "   Status: {} {}{rollback}",
        run_badge(view.status),
        view.status.as_str()
    );
    if let Some(pending) = &view.stop_requested {
        let _ = writeln!(
            out,
            "   ⏳ {}",
            super::scenario::upper_first(&pending.sentence())
        );
    }
    let finished = matches!(
        view.status,
        RunStatus::Completed | RunStatus::Failed | RunStatus::Aborted | RunStatus::RolledBack
    );
    // A failed run that can still be resumed has no end yet: its time ran until its last
    // step ended, not until now.
    let end = if finished {
        view.ended_at.as_deref().or_else(|| {
            view.steps
                .iter()
                .filter_map(|s| s.ended_at.as_deref())
                .max()
        })
    } else {
        None
    };
    if let Some(d) = elapsed_between(view.started_at.as_deref(), end, now) {
        let _ = writeln!(out, "   Elapsed: {}", format_duration(d));
    }
    if let Some(p) = &view.parent {
        let _ = writeln!(
            out,
            "   Parent: run {} (step {}, attempt {})",
            p.run_id, p.step, p.attempt
        );
    }
    // The definition's steps, numbered; the items of a `foreach:` step under it.
    // The definition's steps, each with its items (`StatusView::groups`).
    let top: Vec<_> = view
        .groups()
        .into_iter()
        .filter(|g| g.step.item.is_none())
        .collect();
    let _ = writeln!(out, "   Steps: {} total\n", top.len());
    for (i, g) in top.iter().enumerate() {
        let over = finished.then_some(RunOver {
            ended_at: view.ended_at.as_deref(),
            aborted: view.status == RunStatus::Aborted,
        });
        step_block(&mut out, i, top.len(), g.step, now, over, view);
        let mut items = String::new();
        for unit in g.items {
            item_block(&mut items, unit, view);
        }
        if !items.is_empty() {
            // Under the step's block, before its blank line.
            out.truncate(out.len() - 1);
            out.push_str(&items);
            out.push('\n');
        }
    }
    validation_lines(&mut out, view);
    if let Some(r) = &view.reason {
        // A reason of several lines (an operator's message) keeps its lines under it.
        let _ = writeln!(out, "Reason: {}", hanging(r, 8));
    }
    if let Some(line) = rollback_line(view, finished) {
        let _ = writeln!(out, "{line}");
    } else if let Some(cp) = view.resume_point.as_ref().filter(|_| !finished) {
        let _ = writeln!(out, "Resume point: after `{cp}`");
    }
    if let Some(line) = kept_limit_line(view) {
        let _ = writeln!(out, "{line}");
    }
    if matches!(view.status, RunStatus::Completed) || finished {
        let _ = writeln!(out, "Head hash: {}", view.head_hash);
    }
    commands_block(&mut out, "Next", &view.next);
    out
}

/// Which time limit a resume gives the run where it is not the configuration's
/// (`StatusView::kept_time_limit`): one line, for a workflow's screen and a scenario's.
pub(crate) fn kept_limit_line(view: &StatusView) -> Option<String> {
    let kept = view.kept_time_limit?;
    let limit = match kept.seconds {
        0 => "no time limit".to_string(),
        n => format!("a time limit of {n} s"),
    };
    Some(format!(
        "Time limit: a resume goes on with {limit}, as its last driving session had (nobody ended it); timeout_seconds in cortex.config.json is {} s, and `--timeout` sets another",
        kept.configured
    ))
}

/// A rollback under way (resume goes on with it, not from the resume point), or one an abort
/// left unfinished (what it left undone): one line, for a workflow's screen and a scenario's.
pub(crate) fn rollback_line(view: &StatusView, finished: bool) -> Option<String> {
    let rb = view.rollback.as_ref()?;
    let names = |v: &[String]| {
        v.iter()
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if !finished {
        let left = if rb.to_compensate.is_empty() {
            "nothing".to_string()
        } else {
            names(&rb.to_compensate)
        };
        return Some(format!(
            "Rolling back: {left} still to compensate, in that order ({})",
            rb.reason
        ));
    }
    if !rb.left_unfinished {
        return None;
    }
    let mut parts = Vec::new();
    if let Some(c) = &rb.cut_off {
        parts.push(format!(
            "{} cut off mid-compensation (may be half-undone)",
            names(std::slice::from_ref(c))
        ));
    }
    if !rb.not_run.is_empty() {
        parts.push(format!("{} never compensated", names(&rb.not_run)));
    }
    if !rb.failed.is_empty() {
        parts.push(format!("{} compensation failed", names(&rb.failed)));
    }
    Some(format!(
        "Rollback left unfinished by the abort: {}; check them by hand",
        parts.join("; ")
    ))
}

/// One line per run, newest first, and how to see more. `cmd` quotes a suggested command as
/// it is to be pasted (`cortex [--home H] ARGS...`, as `Ctx::cmd`).
pub fn render_history(h: &crate::ops::History, cmd: &dyn Fn(&[&str]) -> String) -> String {
    let group = h.kind.map_or("workflow", crate::event::RunKind::group);
    if h.runs.is_empty() && h.more {
        // `--limit 0`: there are runs, none was asked for.
        return format!(
            "No runs listed (--limit 0); {} lists the newest.\n",
            cmd(&[group, "history"])
        );
    }
    if let (true, Some(before)) = (h.runs.is_empty(), &h.before) {
        // The last page went up to the oldest run.
        return format!(
            "No {} runs before {before}; {} lists the newest.\n",
            if group == "orchestrate" {
                "scenario"
            } else {
                "workflow"
            },
            cmd(&[group, "history"])
        );
    }
    if h.runs.is_empty() {
        return format!(
            "No runs yet. Start one with {}.\n",
            cmd(&[group, "run", "NAME"])
        );
    }
    let mut out = String::new();
    // A name and a start as the log holds them: one line each, whatever they hold.
    let w = h
        .runs
        .iter()
        .map(|r| super::one_line(&r.name).chars().count())
        .max()
        .unwrap_or(4)
        .max(4);
    let _ = writeln!(
        out,
        "{:<26}  {:<w$}  {:<11}  {:<24}  EVENTS",
        "RUN", "NAME", "STATUS", "STARTED"
    );
    for r in &h.runs {
        let _ = write!(
            out,
            "{:<26}  {:<w$}  {:<11}  {:<24}  {}",
            r.run_id,
            super::one_line(&r.name),
            // `unreadable` for a run holding an event that cannot be read.
            r.shown_status,
            super::one_line(r.started_at.as_deref().unwrap_or("-")),
            r.events
        );
        if let Some(why) = &r.unreadable {
            let _ = write!(
                out,
                "  (cannot be read past {})",
                super::terminal::terminal_safe(&super::one_line(why))
            );
        }
        // A child run says whose: it is driven with its parent, not on its own.
        if let Some(parent) = &r.parent {
            let _ = write!(
                out,
                "  (child of {}, step `{}`)",
                super::one_line(&parent.run_id),
                super::one_line(&parent.step)
            );
        }
        out.push('\n');
    }
    if let Some(next) = h.next_args() {
        let next: Vec<&str> = next.iter().map(String::as_str).collect();
        let listed = match &h.before {
            None => format!("the newest {}", h.runs.len()),
            Some(before) => format!("{} runs before {before}", h.runs.len()),
        };
        let _ = writeln!(out, "({listed}; {} shows older ones)", cmd(&next));
    }
    out
}

/// What `run` and `resume` print when the driver stops: the outcome, and for a failed, waiting
/// or stopped run the report with its recovery options.
///
/// `home` is where the run's derived files are (`runs/<id>/results.json` is shown under it:
/// a path relative to nothing the reader knows sent them looking in their project).
pub fn render_outcome(view: &StatusView, home: &std::path::Path, now: SystemTime) -> String {
    render_outcome_noted(view, home, now, "")
}

/// `render_outcome` with `notes` (lines: its notifications, as `status` shows them) between
/// the outcome and its commands, which end the screen.
pub fn render_outcome_noted(
    view: &StatusView,
    home: &std::path::Path,
    now: SystemTime,
    notes: &str,
) -> String {
    let mut out = render_outcome_line(view, home, now);
    out.push_str(notes);
    let title = if matches!(view.status, RunStatus::Waiting | RunStatus::Completed) {
        "Next"
    } else {
        "Recovery options"
    };
    commands_block(&mut out, title, &view.next);
    out
}

/// `render_outcome` without its commands: how a child run ended, said before its parent goes
/// on (the parent's commands are the ones that count then).
pub fn render_outcome_line(view: &StatusView, home: &std::path::Path, now: SystemTime) -> String {
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
            // Where its results are, for a run whose id names a path (`run_path_part`).
            if let Ok(dir) =
                crate::execute::run_path(home, crate::execute::RUNS_FOLDER, &view.run_id)
            {
                let _ = writeln!(out, "   Results: {}", dir.join("results.json").display());
            }
        }
        RunStatus::Waiting if view.kind == crate::event::RunKind::Scenario => {
            // Why nobody drives it (a resume given the secret inputs goes on, workers take
            // it), or what people do next.
            let _ = writeln!(
                out,
                "\n⏸️  Waiting: {}",
                hanging(
                    view.reason
                        .as_deref()
                        .unwrap_or("the phases that can go on need a report or a start."),
                    3
                )
            );
        }
        RunStatus::Waiting if view.waiting_for.is_none() => {
            let _ = writeln!(
                out,
                "\n⏸️  Waiting: {}",
                hanging(
                    view.reason
                        .as_deref()
                        .unwrap_or("nobody drives the run now"),
                    3
                )
            );
        }
        RunStatus::Waiting => {
            let step = view.waiting_for.as_deref().unwrap_or("?");
            let uses = view
                .steps
                .iter()
                .find(|s| s.name == step)
                .and_then(|s| s.uses.as_ref());
            // A child's id as the parent's log holds it: one line, whatever it holds.
            let child = uses.and_then(|u| u.run_id.as_deref()).map(super::one_line);
            match child {
                Some(child) if uses.is_some_and(|u| !u.waits_for_tags.is_empty()) => {
                    let tags = uses.map(|u| u.waits_for_tags.clone()).unwrap_or_default();
                    let _ = writeln!(
                        out,
                        "\n⏸️  Waiting on step `{step}`: its child run {child} waits for a worker offering tags {} (`{}` takes it, then this run goes on).",
                        tags.join(", "),
                        crate::project::worker_command(&view.globals, &tags, &[])
                    );
                }
                // The child ended meanwhile (nobody drove this run on): it waits for nothing
                // but a resume of this run, which gives the step that end.
                Some(child) if let Some(ended) = uses.and_then(|u| u.child_ended.as_ref()) => {
                    let _ = writeln!(
                        out,
                        "\n⏸️  Waiting on step `{step}`: its child run {child} ended ({ended}); `resume` gives the step that end."
                    );
                }
                Some(child) => {
                    let _ = writeln!(
                        out,
                        "\n⏸️  Waiting on step `{step}`: its child run {child} waits for a report or a start."
                    );
                }
                None => {
                    let _ = writeln!(
                        out,
                        "\n⏸️  Waiting on step `{step}`: do the work, then report it."
                    );
                }
            }
        }
        // Stopped by its time limit: which, and how to lift it (the first recovery option
        // resumes with a longer `--timeout`).
        RunStatus::Stopped if view.timed_out.is_some() => {
            let reason = view
                .reason
                .as_deref()
                .unwrap_or("stopped by its time limit");
            let _ = writeln!(
                out,
                "\n⏸️  {kind} {}",
                hanging(&format!("{reason}; progress is saved."), 3)
            );
        }
        RunStatus::Stopped => {
            let _ = writeln!(out, "\n⏸️  Stopped; progress is saved.");
        }
        status => {
            let word = status.as_str().replace('_', " ");
            let reason = view.reason.as_deref().unwrap_or("");
            // A reason that starts with the outcome (`aborted by ACTOR: MESSAGE`) says it
            // once: `❌ Workflow aborted by a: x`, not `❌ Workflow aborted: aborted by a: x`.
            let line = match reason.strip_prefix(word.as_str()) {
                Some(rest) if rest.starts_with(' ') => format!("{word}{rest}"),
                _ => format!("{word}: {reason}"),
            };
            let _ = writeln!(out, "\n{} {kind} {}", run_badge(status), hanging(&line, 3));
            if let Some(step) = view
                .steps
                .iter()
                .find(|s| s.status == StepStatus::Failed && !s.runs_as_items())
            {
                let unit = match view.kind {
                    crate::event::RunKind::Workflow => "Step",
                    crate::event::RunKind::Scenario => "Phase",
                };
                let attempts = super::count(step.attempts as usize, "attempt");
                if let Some(code) = step.exit_code {
                    let _ = writeln!(
                        out,
                        "   {unit} `{}`: exit code {code}, {attempts}",
                        step.name
                    );
                } else {
                    let _ = writeln!(out, "   {unit} `{}`: {attempts}", step.name);
                }
                tail_block(&mut out, &step.output_tail);
            }
            if let Some(line) = not_started_line(view) {
                let _ = writeln!(out, "   {}", hanging(&line, 3));
            }
            if matches!(status, RunStatus::Aborted | RunStatus::RolledBack) {
                let _ = writeln!(out, "   Head hash: {}", view.head_hash);
            }
        }
    }
    out
}

/// The phases a scenario's failed phase kept from starting (`StatusView::ready_not_started`),
/// said with why and what runs them.
pub(crate) fn not_started_line(view: &StatusView) -> Option<String> {
    let names = &view.ready_not_started;
    if names.is_empty() {
        return None;
    }
    let list = names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ");
    let (were, them) = if names.len() == 1 {
        ("was", "it")
    } else {
        ("were", "them")
    };
    Some(format!(
        "Not started: {list} {were} ready, but a failed phase pauses the scenario before anything else starts; a resume (`--retry` or `--skip`) runs {them}"
    ))
}

/// A unit next to start that asks for tags (`runs_on:`): only a worker offering them runs it,
/// given the values of the run's secret inputs (`secret_inputs`) in its environment; the
/// command carries the global options of the invocation that read the run (`globals`).
pub fn tags_line(globals: &[String], tags: &[String], secret_inputs: &[String]) -> String {
    format!(
        "Waits for a worker offering tags {} (`{}`)",
        tags.join(", "),
        crate::project::worker_command(globals, tags, secret_inputs)
    )
}

/// Who runs a unit a worker claimed, or, once that worker's lease lapsed or its process is
/// gone (`holder_gone`: a process of this host, killed before it let go), that nobody does.
/// Each said as it is: before, a worker killed half a second earlier, its lease of 20 s
/// running, was said to be one "whose lease lapsed".
pub fn worker_line(worker: &str, lease_lapsed: bool, holder_gone: bool) -> String {
    // `NAME on HOST`, as recorded: a host name may hold a newline, which would start a line
    // that reads as the screen's (a phase of the list).
    let worker = super::one_line(worker);
    match (lease_lapsed, holder_gone) {
        // Run by a command's driver, named by its driver lease (`StatusView::with_leases`).
        (false, _) if worker.starts_with("driver ") => format!("On its {worker}"),
        (false, _) => format!("On worker {worker}"),
        (true, true) => format!(
            "Orphaned: claimed by worker {worker}, whose process is gone (killed before it let go); the attempt is recorded interrupted and runs again when a worker or the run's driver reaps it"
        ),
        (true, false) => format!(
            "Orphaned: claimed by worker {worker}, whose lease lapsed (the worker stopped renewing it: killed, stopped or cut off); the attempt is recorded interrupted and runs again when a worker or the run's driver reaps it"
        ),
    }
}

#[cfg(test)]
mod tests {
    /// A host name, a worker's or an operator's name is what a log or a lease holds: a newline
    /// or an escape in one is shown, never a line of the screen of its own (a worker on a host
    /// named `h\n✅ Step 3/3` forged a line of the phase list).
    #[test]
    fn a_newline_in_a_host_or_an_actor_starts_no_line() {
        let host = "w1 on h\u{1b}]0;PWN\u{7}\n✅ Phase deploy";
        for line in [
            super::worker_line(host, false, false),
            super::worker_line(host, true, false),
            super::worker_line(host, false, true),
        ] {
            assert!(!line.contains('\n') && !line.contains('\u{1b}'), "{line:?}");
            assert!(line.contains("\\u{a}✅ Phase deploy"), "{line:?}");
        }
        let by = crate::event::Operator {
            actor: "bob\n✅ Step 2/2".into(),
            message: None,
        };
        let line = super::reported_line(&by, "   ");
        assert!(!line.contains('\n'), "{line:?}");
    }
}
