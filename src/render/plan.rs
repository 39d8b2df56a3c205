//! Dry-run plans: what would happen to each step, nothing executed.

use std::fmt::Write;

use crate::plan::{Action, PlannedStep};

/// One line per action, in the order they happen: compensations first (newest step first),
/// then every step with what it would see.
pub fn render_plan(title: &str, plan: &[PlannedStep]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{title} (dry run: nothing is executed or recorded)\n");
    for (i, p) in plan.iter().enumerate() {
        let action = match p.action {
            Action::Reuse => "reuse (completed; outputs kept)",
            Action::Run => "run",
            Action::Rerun => "re-run",
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
        let mut action = match (&p.uses, p.action) {
            (Some(uses), Action::Run) => format!("run workflow `{uses}` (a child run)"),
            _ => action.to_string(),
        };
        if let Some(items) = &p.foreach {
            action.push_str(&format!(", once per item of {items}"));
        }
        if let Some(condition) = &p.if_ {
            action.push_str(&format!(", if {condition} (else skipped)"));
        }
        let _ = writeln!(out, "  {:>2}. {:<24} {action}", i + 1, p.name);
    }
    out
}
