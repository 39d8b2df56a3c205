//! Dry-run plans: what would happen to each step, nothing executed.

use std::fmt::Write;

use std::collections::BTreeMap;

use super::shell::shell_quote;
use super::terminal::one_line;
use crate::plan::{Action, PlannedStep, Setting, Start};

/// One line per action, in the order they happen: compensations first (newest step first),
/// then every step with what it would see, and under a step that would run a command, where
/// and with what environment. The run's inputs (secret ones `***`) come first.
pub fn render_plan(
    title: &str,
    inputs: &BTreeMap<String, serde_json::Value>,
    plan: &[PlannedStep],
) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{title} (dry run: nothing is executed or recorded)\n");
    out.push_str(&render_inputs(inputs));
    for (i, p) in plan.iter().enumerate() {
        let action = match p.action {
            Action::Reuse => "reuse (completed; outputs kept)",
            Action::Run => "run",
            Action::Rerun => "re-run",
            Action::Wait if p.phase => "wait for a report (orchestrate complete|fail)",
            Action::Wait => "wait for a report (external step)",
            Action::Skipped => "skipped",
            Action::Compensate => "compensate (rollback); it runs again below",
            Action::Undo => "compensate (rollback)",
            Action::Untouched => "not run: the run ends rolled back",
            Action::CompensationFailed => {
                "its compensation failed: not run again; the run ends failed (clean up by hand)"
            }
            Action::UntouchedFailed => "not run: the run ends failed (a compensation failed)",
        };
        let mut action = match (&p.uses, p.action, &p.child_run) {
            (Some(_), Action::Run | Action::Rerun, Some(child)) => match &child.ended {
                Some(end) => format!(
                    "takes the end of its child run {} ({end}); nothing runs",
                    child.run_id
                ),
                None => format!("goes on with its child run {}", child.run_id),
            },
            (Some(uses), Action::Run, None) => format!("run workflow `{uses}` (a child run)"),
            (Some(uses), Action::Rerun, None) => {
                format!("re-run: workflow `{uses}` as a new child run")
            }
            _ => action.to_string(),
        };
        match &p.starts {
            Some(Start::Manual) => action = format!("once started (orchestrate start): {action}"),
            Some(Start::After) => action = format!("after {}: {action}", p.after.join(", ")),
            None => {}
        }
        if let Some(items) = &p.foreach {
            action.push_str(&format!(", once per item of {items}"));
        }
        if let Some(condition) = &p.if_ {
            action.push_str(&format!(", if {condition} (else skipped)"));
        }
        let _ = writeln!(out, "  {:>2}. {:<24} {action}", i + 1, p.name);
        if let Some(setting) = &p.setting {
            let command = match p.action {
                Action::Compensate | Action::Undo => {
                    setting.rollback.as_deref().map(|c| ("rollback", c))
                }
                _ if p.uses.is_none() => setting.run.as_deref().map(|c| ("run", c)),
                _ => None,
            };
            if let Some((label, command)) = command {
                out.push_str(&render_command("        ", label, command));
            }
            out.push_str(&render_setting("        ", setting));
        }
        if let Some(prompt) = p.prompt.as_deref().filter(|_| !p.phase) {
            out.push_str(&render_command("        ", "prompt", prompt));
        }
    }
    out
}

/// The run's inputs, one line, as `name=value` words a shell would read back (values as steps
/// see them in `CORTEX_INPUT_<NAME>`); nothing when it has none.
pub fn render_inputs(inputs: &BTreeMap<String, serde_json::Value>) -> String {
    if inputs.is_empty() {
        return String::new();
    }
    let words: Vec<String> = inputs
        .iter()
        .map(|(name, value)| match value {
            serde_json::Value::String(text) => pair(name, text),
            other => pair(name, &other.to_string()),
        })
        .collect();
    format!("  inputs: {}\n\n", words.join(" "))
}

/// Where a step would run and with what `env:` and `with:`, each on a line of its own under
/// it, indented by `indent`.
pub fn render_setting(indent: &str, setting: &Setting) -> String {
    let mut out = format!("{indent}dir: {}\n", one_line(&setting.working_dir));
    for (label, entries) in [("env", &setting.env), ("with", &setting.with)] {
        if entries.is_empty() {
            continue;
        }
        let words: Vec<String> = entries.iter().map(|(k, v)| pair(k, v)).collect();
        out.push_str(&format!("{indent}{label}: {}\n", words.join(" ")));
    }
    out
}

/// `label: TEXT` under a step, indented by `indent`: a command or a prompt as written, each of
/// its lines on a line of its own (the later ones under the first), made safe for a terminal.
pub fn render_command(indent: &str, label: &str, text: &str) -> String {
    let mut out = String::new();
    let pad = " ".repeat(label.len() + 2);
    for (i, line) in text.trim_end().lines().enumerate() {
        let lead = if i == 0 {
            format!("{label}: ")
        } else {
            pad.clone()
        };
        let _ = writeln!(out, "{indent}{lead}{}", one_line(line));
    }
    out
}

/// `name=value`, the value quoted for a shell and on one line (a hidden secret as `***`).
fn pair(name: &str, value: &str) -> String {
    let value = match value {
        "***" => "***".into(),
        _ => shell_quote(value),
    };
    format!("{}={}", one_line(name), one_line(&value))
}
