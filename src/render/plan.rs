//! Dry-run plans: what would happen to each step, nothing executed.

use std::fmt::Write;

use crate::plan::{Action, PlannedStep};

/// One line per step with the action it would see.
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
            Action::Compensate => "compensate (rollback), then run again",
            Action::Undo => "compensate (rollback)",
            Action::Untouched => "not run: the run ends rolled back",
        };
        let _ = writeln!(out, "  {:>2}. {:<24} {action}", i + 1, p.name);
    }
    out
}
