//! Scenario screens in the look of seed 001 parts 4 and 5: preview, validation verdicts.

use std::fmt::Write;

use crate::definition::Scenario;
use crate::plan::topological_order;

/// `orchestrate preview`, with the phases that run at once (`plan::parallel_opportunities`:
/// per group of phases ready together, the sets the scheduler runs at the same time), the
/// `foreach:` phases whose items run beside each other (`plan::parallel_items`: the phase and
/// how many at once), and the inputs a run given none would have (`inputs`: their defaults).
pub fn render_preview(
    s: &Scenario,
    groups: &[Vec<Vec<String>>],
    items: &[(String, usize)],
    inputs: &std::collections::BTreeMap<String, serde_json::Value>,
) -> String {
    // A template of an input with a value (its default) rendered with it; one with no value
    // before the run (another phase's output, an item, an input not given) said in words:
    // as `run --dry-run` renders a prompt (`render_prompt`), one rendering for both. Before,
    // the preview showed such a template raw (`Review ${{ phases.build.outputs.artifact }}`).
    let value = |r: &crate::definition::template::Reference| match r {
        crate::definition::template::Reference::Input(name) => {
            inputs.get(name).map(crate::event::input_text)
        }
        _ => None,
    };
    let rendered_in = |text: &str, unit: &str| {
        super::prompt::render_prompt(text, false, &value, &|r| {
            super::prompt::not_known_before_the_run(r, unit, "phase")
        })
    };
    let rendered = |text: &str| rendered_in(text, "");
    // A command as it will run: a value is passed to it, never spliced into its text, so it
    // is shown quoted for where it stands (`shell::shown_command`).
    let command = |text: &str| super::shell::shown_command(text, &value);
    let mut out = String::new();
    let _ = writeln!(out, "Scenario: {}", s.name);
    if let Some(d) = &s.description {
        let _ = writeln!(out, "Description: {}", rendered(d));
    }
    if let Some(t) = &s.kind {
        let _ = writeln!(out, "Type: {t}");
    }
    if let Some(p) = &s.priority {
        let _ = writeln!(out, "Priority: {p}");
    }
    let _ = writeln!(out, "\nPhases:");
    for (n, i) in topological_order(s).into_iter().enumerate() {
        let p = &s.phases[i];
        let cond = p.condition.clone().unwrap_or_else(|| "auto".into());
        let parallel = if p.parallel { " [PARALLEL]" } else { "" };
        let _ = writeln!(out, "  {}. {} [{cond}]{parallel}", n + 1, p.name);
        if let Some(d) = &p.description {
            let _ = writeln!(out, "     {}", rendered_in(d, &p.name));
        }
        if !p.agents.is_empty() {
            let _ = writeln!(out, "     Agents: {}", p.agents.join(", "));
        }
        if !p.profiles.is_empty() {
            let _ = writeln!(out, "     Profiles: {}", p.profiles.join(", "));
        }
        if let Some(run) = &p.run {
            let commands: Vec<String> = run.list().iter().map(|c| command(c)).collect();
            let _ = writeln!(out, "     Runs: {}", commands.join(" && "));
        }
        if let Some(c) = &p.if_ {
            let _ = writeln!(out, "     If: {}", c.text());
        }
        if let Some(f) = &p.foreach {
            let _ = writeln!(out, "     For each: {}", f.text());
        }
        for c in &p.success_criteria {
            // A check as it will run (`shell::shown_check`), a value not known before the run
            // said under it, never spliced into the command.
            let shown = match c {
                crate::definition::Criterion::Check { check } => {
                    let (shown, without) = super::shell::shown_check(check, &value, &|r| {
                        super::prompt::not_known_before_the_run(r, &p.name, "phase")
                    });
                    format!(
                        "check: {}",
                        super::shell::check_text(&shown, &without, "         ")
                    )
                }
                crate::definition::Criterion::Item(text) => rendered_in(text, &p.name),
            };
            let _ = writeln!(out, "     [ ] {shown}");
        }
        out.push('\n');
    }
    let _ = writeln!(out, "Estimated phases: {}", s.phases.len());
    // Large DAGs have large groups: name a few, count the rest.
    let shown = |g: &Vec<String>| match g.len() {
        n if n <= 6 => g.join(" + "),
        n => format!("{} + … ({n} phases)", g[..4].join(" + ")),
    };
    // One after the other within a group (`then`): what runs beside what changes as its
    // non-parallel phases take their turns.
    let group = |sets: &Vec<Vec<String>>| {
        let mut said: Vec<String> = sets.iter().take(4).map(shown).collect();
        if sets.len() > 4 {
            said.push(format!("… ({} sets)", sets.len()));
        }
        said.join(", then ")
    };
    let mut listed: Vec<String> = groups.iter().take(8).map(group).collect();
    if groups.len() > 8 {
        listed.push(format!("{} more", groups.len() - 8));
    }
    listed.extend(
        items
            .iter()
            .map(|(phase, n)| format!("phase `{phase}`: its items, {n} at a time")),
    );
    let sets: usize = groups.iter().map(Vec::len).sum::<usize>() + items.len();
    if listed.is_empty() {
        let _ = writeln!(out, "Parallel opportunities: 0");
    } else {
        let _ = writeln!(
            out,
            "Parallel opportunities: {sets} ({})",
            listed.join("; ")
        );
    }
    out
}

fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// `[OK] name.yaml - Valid` with the counts seed 001 shows.
pub fn render_valid(path: &str, s: &Scenario) -> String {
    let agents: std::collections::BTreeSet<&String> =
        s.phases.iter().flat_map(|p| &p.agents).collect();
    // Its inputs, as `workflow validate` names a workflow's.
    let inputs = if s.inputs.is_empty() {
        String::new()
    } else {
        let names: Vec<&str> = s.inputs.keys().map(String::as_str).collect();
        format!("  - inputs: {}\n", names.join(", "))
    };
    format!(
        "[OK] {} - Valid\n  - {} defined\n  - {} referenced\n{inputs}  - No circular dependencies\n",
        file_name(path),
        super::count(s.phases.len(), "phase"),
        super::count(agents.len(), "unique agent")
    )
}

fn marker(status: crate::decide::StepStatus) -> (&'static str, &'static str) {
    use crate::decide::StepStatus::*;
    match status {
        Pending => ("[ ]", "pending"),
        Ready => ("[~]", "retry scheduled"),
        Running => ("[>]", "in_progress"),
        Waiting => ("[>]", "waiting for a report"),
        Completed => ("[x]", "completed"),
        Failed => ("[!]", "failed"),
        Skipped => ("[-]", "skipped"),
        RolledBack => ("[<]", "rolled back"),
        Stopped => ("[=]", "stopped"),
    }
}

/// `orchestrate status`: the phase checklist with durations, criteria and active agents.
pub fn render_scenario_status(
    view: &crate::project::StatusView,
    now: std::time::SystemTime,
) -> String {
    use super::{elapsed_between, format_duration};
    let mut out = super::status::as_of_line(view);
    let _ = writeln!(out, "Scenario: {}", view.name);
    let _ = writeln!(out, "Run: {}", view.run_id);
    if let Some(when) = &view.scheduled {
        let _ = writeln!(out, "Started by the schedule: {when}");
    }
    if let Some(m) = &view.message {
        let m = m.replace('\n', "\n  ");
        let _ = writeln!(out, "Started by {}: {m}", super::one_line(&view.actor));
    }
    if let Some(line) = super::status::resumed_line(view, "") {
        let _ = writeln!(out, "{line}");
    }
    let _ = writeln!(out, "Status: {}", view.status.as_str());
    if let Some(pending) = &view.stop_requested {
        let _ = writeln!(out, "⏳ {}", upper_first(&pending.sentence()));
    }
    let finished = !view.resumable;
    let end = if finished {
        view.ended_at.as_deref()
    } else {
        None
    };
    if let Some(d) = elapsed_between(view.started_at.as_deref(), end, now) {
        let _ = writeln!(out, "Elapsed: {}", format_duration(d));
    }
    let _ = writeln!(out, "\nPhase Status:");
    let width = view
        .steps
        .iter()
        .filter(|s| s.item.is_none())
        .map(|s| s.name.chars().count())
        .max()
        .unwrap_or(4);
    // Its driver gone, a phase it ran is not in progress any more: nothing runs it until the
    // run is taken over (and its time since the start is not a duration that grows).
    // A phase a worker holds under a live lease is not (`StatusView::with_held`).
    let orphaned = |s: &crate::project::StepView| {
        view.status == crate::project::RunStatus::Interrupted
            && s.status == crate::decide::StepStatus::Running
            && s.interrupted
    };
    for s in &view.steps {
        let slot_word;
        let (mark, word) = if s.awaits_start {
            ("[ ]", "ready: starts on `orchestrate start`")
        } else if let Some(w) = &s.waits_for_slot {
            // Its condition holds: only a slot keeps it (SPEC §4's parallel rule).
            slot_word = format!("ready: {}", w.note);
            ("[ ]", slot_word.as_str())
        } else if s.starts_next {
            ("[ ]", "ready")
        } else if orphaned(s) && view.orphans_alive {
            (
                "[?]",
                "interrupted: its driver died while this phase ran, and its command still runs; resume (or abort) ends it first, then it runs again on resume",
            )
        } else if orphaned(s) {
            (
                "[?]",
                "interrupted: its driver is gone; it runs again on resume",
            )
        } else if s.checking_condition && s.interrupted {
            (
                "[?]",
                "interrupted while its `if:` command ran: its driver is gone; the command runs again on resume",
            )
        } else if s.checking_condition {
            ("[>]", "checking its condition: its `if:` command runs")
        } else if s.retry_held {
            (
                "[ ]",
                "retry held: the run paused first; it runs again on resume",
            )
        } else if let Some((_, label)) = super::status::compensation_badge(s) {
            ("[!]", label)
        } else {
            marker(s.status)
        };
        let timing = match s.status {
            crate::decide::StepStatus::Running if orphaned(s) => {
                elapsed_between(s.started_at.as_deref(), None, now)
                    .map(|d| format!(" (started {} ago)", format_duration(d)))
            }
            crate::decide::StepStatus::Running | crate::decide::StepStatus::Waiting => {
                elapsed_between(s.started_at.as_deref(), None, now)
                    .map(|d| format!(" ({})", format_duration(d)))
            }
            crate::decide::StepStatus::Completed => {
                elapsed_between(s.ended_at.as_deref(), None, now)
                    .map(|d| format!(" ({} ago)", format_duration(d)))
            }
            _ => None,
        }
        .unwrap_or_default();
        let parallel = if s.parallel == Some(true) {
            " [PARALLEL]"
        } else {
            ""
        };
        match super::status::item_value(s) {
            // An item of a `foreach:` phase, under it.
            Some(value) => {
                let _ = writeln!(out, "      {mark} {} ({value}) - {word}{timing}", s.name);
            }
            None => {
                let requested = if s.start_requested {
                    ", start requested"
                } else {
                    ""
                };
                let _ = writeln!(
                    out,
                    "  {mark} {:<width$}  - {word}{requested}{timing}   [{}]{parallel}",
                    s.name,
                    s.condition.as_deref().unwrap_or("auto")
                );
            }
        }
        if let Some(c) = &s.if_ {
            let verdict = match (&c.error, c.holds) {
                (Some(e), _) => format!(" → cannot be decided: {e}"),
                (None, Some(h)) => format!(" → {h}"),
                (None, None) => String::new(),
            };
            let saw = if c.values.is_empty() {
                String::new()
            } else {
                let parts: Vec<String> =
                    c.values.iter().map(|(k, v)| format!("{k} = {v}")).collect();
                format!(" ({})", parts.join(", "))
            };
            let _ = writeln!(out, "        if: {}{verdict}{saw}", c.condition);
        }
        if let Some(f) = &s.foreach {
            match f.items {
                Some(n) => {
                    let _ = writeln!(
                        out,
                        "        foreach: {} ({} completed, {} skipped)",
                        super::count(n, "item"),
                        f.completed,
                        f.skipped
                    );
                }
                None => {
                    let _ = writeln!(out, "        foreach: {}", f.over);
                }
            }
        }
        if let Some(e) = &s.error
            && s.status == crate::decide::StepStatus::Skipped
            && s.if_.as_ref().is_none_or(|c| c.holds != Some(false))
        {
            let _ = writeln!(out, "        skipped: {}", super::hanging(e, 17));
        }
        for c in &s.criteria {
            let mark = if c.met { "[x]" } else { "[ ]" };
            // A check (a command the engine runs) is shown as the command, `$ CMD`; an item
            // as its text — one that reads "check: ..." is told apart — its further lines
            // under its first.
            match c.criterion.strip_prefix("check: ").filter(|_| c.check) {
                Some(cmd) => {
                    let _ = writeln!(out, "        {mark} $ {}", super::hanging(cmd, 14));
                    for note in &c.without_value {
                        let _ = writeln!(out, "              ({note})");
                    }
                }
                None => {
                    let _ = writeln!(out, "        {mark} {}", super::hanging(&c.criterion, 12));
                }
            }
        }
        if let Some(e) = &s.error
            && s.status == crate::decide::StepStatus::Failed
            && !s.runs_as_items()
        {
            let _ = writeln!(out, "        error: {}", super::hanging(e, 15));
        }
        // Interrupted (reaped from a worker whose lease lapsed, or whose driver went), to run
        // again: why its last attempt ended.
        if let Some(e) = &s.error
            && (s.status == crate::decide::StepStatus::Pending
                || s.starts_next
                || s.waits_for_slot.is_some())
            && s.attempts > 0
            && !s.runs_as_items()
        {
            let _ = writeln!(
                out,
                "        attempt {} ended: {}",
                s.attempts,
                super::hanging(e, 8)
            );
        }
        super::status::gate_lines(
            &mut out,
            "        ",
            "phase",
            (&s.required_outputs, &s.expected_outputs),
            (&s.checks, &s.checks_without_value),
        );
        if let Some(line) = s
            .start_requested_by
            .as_ref()
            .and_then(|by| super::status::start_requested_line(view, by, "        "))
        {
            let _ = writeln!(out, "        {line}");
        }
        if let Some(by) = &s.reported_by {
            let _ = writeln!(
                out,
                "        {}",
                super::status::reported_line(by, "        ")
            );
        }
        if let Some(by) = &s.skipped_by {
            let _ = writeln!(
                out,
                "        {}",
                super::status::skipped_line(by, "        ")
            );
        }
        // What it gave (`orchestrate complete --output`, `$CORTEX_OUTPUT`), as a workflow
        // step's status shows it.
        super::status::outputs_lines(&mut out, &s.outputs, "        ", "output", view);
        if let Some(w) = &s.worker {
            let line = super::status::worker_line(w, s.lease_lapsed, s.holder_gone);
            let _ = writeln!(out, "        {}", lowercase_first(&line));
        }
        if !s.waits_for_tags.is_empty() {
            let line =
                super::status::tags_line(&view.globals, &s.waits_for_tags, &view.secret_inputs);
            let _ = writeln!(out, "        {}", lowercase_first(&line));
        }
        if let Some(a) = &s.agent_result {
            let _ = writeln!(out, "        agent: {}", super::status::agent_line(a));
        }
    }
    if !view.active_agents.is_empty() {
        let _ = writeln!(out, "\nActive Agents:");
        for a in &view.active_agents {
            let _ = writeln!(out, "  - {} ({})", a.agent, a.phase);
        }
    }
    if !view.pre_problems.is_empty() || !view.post_problems.is_empty() {
        out.push('\n');
        super::status::validation_lines(&mut out, view);
    }
    if let Some(r) = &view.reason {
        let _ = writeln!(out, "\nReason: {}", super::hanging(r, 8));
    }
    if let Some(line) = super::status::not_started_line(view) {
        let _ = writeln!(out, "{}", super::hanging(&line, 0));
    }
    if let Some(line) = super::status::rollback_line(view, finished) {
        let _ = writeln!(out, "{line}");
    }
    if let Some(line) = super::status::kept_limit_line(view) {
        let _ = writeln!(out, "{line}");
    }
    if finished {
        let _ = writeln!(out, "Head hash: {}", view.head_hash);
    }
    super::status::commands_block(&mut out, "Next", &view.next);
    out
}

/// `text` with its first letter in lower case (a line under a phase, which starts lower).
fn lowercase_first(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// `text` with its first letter upper case.
pub(crate) fn upper_first(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}
