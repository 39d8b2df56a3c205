//! One workflow run: its steps in order with completion indicators, times, attempts,
//! outputs, errors and the prompt of a step that waits for a report.

use std::time::SystemTime;

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};

use super::style::{
    Theme, fit, marker, name_width, run_title, took, unit_name, unit_runner_lines, word,
};
use crate::decide::StepStatus;
use crate::tui::app::App;

pub fn draw(frame: &mut Frame, area: Rect, app: &App, theme: Theme, now: SystemTime) {
    let Some(run) = app.shown_workflow() else {
        frame.render_widget(
            Paragraph::new("That run is not in the log.").block(Block::bordered()),
            area,
        );
        return;
    };
    let view = run.view_for(&app.globals);
    let title = run_title(&view, &super::workflows::progress(run), theme, now);
    let block = Block::bordered()
        .title(title)
        .title_bottom(format!(" run {} · by {} ", view.run_id, view.actor));
    let width = block.inner(area).width as usize;
    // The definition's steps are numbered; the items of a `foreach:` step follow it, marked.
    let n = view.steps.iter().filter(|s| s.item.is_none()).count();
    let mut position = 0;
    let name_width = name_width(&view);
    let mut lines = Vec::new();
    let mut selected = (0, 0);
    for (i, s) in view.steps.iter().enumerate() {
        let number = if s.item.is_some() {
            "↳".to_string()
        } else {
            position += 1;
            format!("{position}/{n}")
        };
        let start = lines.len();
        let is_selected = app.phase_cursor == i;
        // An attempt whose driver is gone (the run is interrupted) is not going: nothing runs
        // it now, and its time does not count on (status says "Interrupted" too).
        let going = matches!(s.status, StepStatus::Running | StepStatus::Waiting) && !s.interrupted;
        let time = if s.status == StepStatus::Pending {
            String::new()
        } else {
            took(s.started_at.as_deref(), s.ended_at.as_deref(), going, now).unwrap_or_default()
        };
        let attempts = if s.attempts > 1 {
            format!("attempt {}", s.attempts)
        } else {
            String::new()
        };
        let mut head = Line::from(vec![
            Span::raw(if is_selected { "›" } else { " " }),
            Span::styled(marker(s.status), theme.step(s.status)),
            Span::raw(format!(" {number:>5} ")),
            Span::styled(
                format!("{:<name_width$}", fit(&unit_name(s), name_width)),
                theme.title(),
            ),
            Span::raw("  "),
            Span::styled(
                format!(
                    "{:<15}",
                    if s.interrupted {
                        "interrupted"
                    } else if s.checking_condition {
                        // Its `if: {run:}` command runs.
                        "checking if:"
                    } else {
                        word(s.status)
                    }
                ),
                theme.step(s.status),
            ),
            Span::raw(format!("{time:>8}  ")),
            Span::styled(attempts, theme.dim()),
        ]);
        if is_selected {
            head = head.style(theme.selected());
        }
        lines.push(head);
        lines.extend(unit_runner_lines(
            s,
            &view.globals,
            &view.secret_inputs,
            going,
            8,
            width,
            theme,
        ));
        // As `status` shows them: the first few, then how many more (`--json` status has all).
        for (k, v) in s.outputs.iter().take(crate::render::SHOWN_OUTPUTS) {
            lines.push(Line::styled(
                format!(
                    "        {}",
                    fit(&format!("{k}={v}"), width.saturating_sub(10))
                ),
                theme.dim(),
            ));
        }
        if let Some(more) = s
            .outputs
            .len()
            .checked_sub(crate::render::SHOWN_OUTPUTS)
            .filter(|&n| n > 0)
        {
            lines.push(Line::styled(
                format!("        … {more} more outputs (`--json` status shows every one)"),
                theme.dim(),
            ));
        }
        if let Some(e) = &s.error
            && matches!(
                s.status,
                StepStatus::Failed | StepStatus::Skipped | StepStatus::Stopped
            )
        {
            let first = e.lines().next().unwrap_or_default();
            lines.push(Line::styled(
                format!("        error: {}", fit(first, width.saturating_sub(16))),
                theme.error(),
            ));
        }
        if let Some(id) = s.uses.as_ref().and_then(|u| u.run_id.as_ref()) {
            lines.push(Line::styled(format!("        child run {id}"), theme.dim()));
        }
        if let Some(p) = &s.prompt {
            let first = p.lines().next().unwrap_or_default();
            lines.push(Line::raw(format!(
                "        prompt: {}",
                fit(first, width.saturating_sub(17))
            )));
        }
        if is_selected {
            selected = (start, lines.len());
        }
    }
    if let Some(r) = &view.reason {
        lines.push(Line::raw(""));
        lines.push(Line::styled(
            format!(" {}", fit(r, width.saturating_sub(2))),
            theme.dim(),
        ));
    }
    let height = block.inner(area).height as usize;
    let scroll = if selected.1 > height {
        (selected.1 - height).min(selected.0)
    } else {
        0
    };
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .scroll((scroll as u16, 0)),
        area,
    );
}
