//! The status panel of a scenario run (seed 001 part 7's visual progress): phases in
//! dependency order with completion indicators and running times, agent badges, each
//! phase's success-criteria checklist, and what the run waits for.

use std::time::SystemTime;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Wrap};

use super::style::{
    Theme, fit, marker, name_width, run_title, took, unit_name, unit_runner_lines, word,
};
use crate::decide::StepStatus;
use crate::plan::topological_order;
use crate::project::{RunStatus, StatusView};
use crate::tui::app::App;
use crate::tui::model::Followed;

pub fn draw(frame: &mut Frame, area: Rect, app: &App, theme: Theme, now: SystemTime) {
    let name = app.shown_scenario.clone().unwrap_or_default();
    let Some(run) = app.shown_scenario_run() else {
        let text = if app.launching_shown() {
            vec![Line::raw(format!("Starting a run of {name}…"))]
        } else {
            let mut lines = vec![Line::raw(format!("No run of {name} yet."))];
            if let Some(err) = app
                .scenarios
                .iter()
                .find(|e| e.name == name)
                .and_then(|e| e.error.clone())
            {
                lines.extend(format!("invalid: {err}").lines().map(|l| {
                    Line::styled(crate::render::terminal_safe(l).into_owned(), theme.error())
                }));
            } else {
                lines.push(Line::styled(
                    "Ctrl+P, Scenario Run starts one.",
                    theme.dim(),
                ));
            }
            lines
        };
        frame.render_widget(
            Paragraph::new(text)
                .wrap(Wrap { trim: false })
                .block(Block::bordered().title(Span::styled(format!(" {name} "), theme.title()))),
            area,
        );
        return;
    };
    let view = run.view_for(&app.globals);
    // The lines under the panel are wrapped, not cut at the screen's edge (a long phase name
    // in "Waits for a report on …"): as many rows as they take, up to half the screen.
    let info_text = info_lines(&view, theme, usize::from(area.width));
    let rows = info_text
        .len()
        .clamp(2, usize::from(area.height / 2).max(2));
    let [phases, info] =
        Layout::vertical([Constraint::Min(3), Constraint::Length(rows as u16)]).areas(area);
    let title = run_title(&view, "", theme, now);
    let at = app.selected_phase(run).map_or(String::new(), |(at, _)| {
        format!(" · phase {}/{}", at + 1, view.steps.len())
    });
    let bottom = format!(
        " run {} · by {} · {} events{at} ",
        view.run_id, view.actor, view.events
    );
    let block = Block::bordered().title(title).title_bottom(bottom);
    let inner = block.inner(phases);
    let (lines, selected) = phase_lines(app, run, &view, theme, now, inner.width as usize);
    let scroll = scroll_to(selected, lines.len(), inner.height as usize);
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .scroll((scroll as u16, 0)),
        phases,
    );
    frame.render_widget(Paragraph::new(info_text), info);
}

/// The first line to show so that the selected phase's lines (`start..end`) are on screen.
fn scroll_to((start, end): (usize, usize), total: usize, height: usize) -> usize {
    if total <= height || end <= height {
        return 0;
    }
    let want = end.saturating_sub(height);
    want.min(start).min(total - height)
}

/// Every phase's lines, in dependency order, and where the selected phase's lines are.
fn phase_lines(
    app: &App,
    run: &Followed,
    view: &StatusView,
    theme: Theme,
    now: SystemTime,
    width: usize,
) -> (Vec<Line<'static>>, (usize, usize)) {
    let order = run
        .state
        .scenario
        .as_ref()
        .map(|sc| topological_order(sc))
        .unwrap_or_else(|| (0..view.steps.len()).collect());
    let selected = app.selected_phase(run).map(|(at, _)| at);
    let name_width = name_width(view);
    let mut lines = Vec::new();
    let mut span = (0, 0);
    for (at, &i) in order.iter().enumerate() {
        let s = &view.steps[i];
        let start = lines.len();
        let is_selected = selected == Some(at);
        let status_word = if view.awaiting_start.contains(&s.name) {
            "awaiting start"
        } else if s.waits_for_slot.is_some() {
            // Its condition holds: only the parallel limits keep it.
            "ready (slot)"
        } else if s.start_requested {
            "start requested"
        } else if s.starts_next {
            "ready"
        } else if s.interrupted {
            "interrupted"
        } else if s.checking_condition {
            // Its `if: {run:}` command runs.
            "checking if:"
        } else {
            word(s.status)
        };
        // An attempt whose driver is gone is not going: its time does not count on.
        let going = matches!(s.status, StepStatus::Running | StepStatus::Waiting) && !s.interrupted;
        let time = if s.status == StepStatus::Pending {
            String::new()
        } else {
            took(s.started_at.as_deref(), s.ended_at.as_deref(), going, now).unwrap_or_default()
        };
        let mut tags = s.condition.clone().unwrap_or_else(|| "auto".into());
        if s.parallel == Some(true) {
            tags.push_str(" [PARALLEL]");
        }
        if s.attempts > 1 {
            tags.push_str(&format!(" attempt {}", s.attempts));
        }
        let pointer = if is_selected { "›" } else { " " };
        let mut head = Line::from(vec![
            Span::raw(pointer),
            // A manual phase ready to start is no retry: its mark is a pending one's.
            if s.awaits_start || s.waits_for_slot.is_some() || s.starts_next {
                Span::styled(marker(StepStatus::Pending), theme.step(StepStatus::Pending))
            } else {
                Span::styled(marker(s.status), theme.step(s.status))
            },
            Span::raw(" "),
            Span::styled(
                format!("{:<name_width$}", fit(&unit_name(s), name_width)),
                theme.title(),
            ),
            Span::raw("  "),
            Span::styled(format!("{status_word:<15}"), theme.step(s.status)),
            Span::raw(format!("{time:>8}  ")),
            Span::styled(tags, theme.dim()),
        ]);
        if is_selected {
            head = head.style(theme.selected());
        }
        lines.push(head);
        if !s.agents.is_empty() {
            let mut badges = vec![Span::raw("     ")];
            for agent in &s.agents {
                let active = view
                    .active_agents
                    .iter()
                    .any(|a| a.agent == *agent && a.phase == s.name);
                if active {
                    badges.push(Span::styled(format!(" ● {agent} "), theme.badge()));
                } else {
                    badges.push(Span::styled(format!(" ○ {agent} "), theme.dim()));
                }
            }
            lines.push(Line::from(badges));
        }
        lines.extend(unit_runner_lines(
            s,
            &view.globals,
            &view.secret_inputs,
            going,
            6,
            width,
            theme,
        ));
        for c in &s.criteria {
            let (mark, style) = if c.met {
                ("[x]", theme.step(StepStatus::Completed))
            } else {
                ("[ ]", theme.dim())
            };
            lines.push(Line::from(vec![
                Span::raw("      "),
                Span::styled(mark, style),
                Span::raw(format!(" {}", fit(&c.criterion, width.saturating_sub(10)))),
            ]));
        }
        if let Some(e) = &s.error
            && matches!(s.status, StepStatus::Failed | StepStatus::Stopped)
        {
            let first = e.lines().next().unwrap_or_default();
            lines.push(Line::styled(
                format!("      error: {}", fit(first, width.saturating_sub(14))),
                theme.error(),
            ));
            if let Some(last) = s.output_tail.lines().rev().find(|l| !l.trim().is_empty()) {
                lines.push(Line::styled(
                    format!("      output: {}", fit(last, width.saturating_sub(15))),
                    theme.dim(),
                ));
            }
        }
        if is_selected {
            span = (start, lines.len());
        }
    }
    (lines, span)
}

/// The lines under the panel: the agents working now, and what the run waits for or why it
/// ended the way it did, in rows of at most `width` columns (a long phase name is carried on
/// to the next row, never cut at the screen's edge).
fn info_lines(view: &StatusView, theme: Theme, width: usize) -> Vec<Line<'static>> {
    let mut agents = vec![Span::raw(" Active agents:")];
    if view.active_agents.is_empty() {
        agents.push(Span::styled(" none", theme.dim()));
    }
    for a in &view.active_agents {
        agents.push(Span::raw(" "));
        agents.push(Span::styled(format!("●{}", a.agent), theme.badge()));
    }
    let waiting: Vec<&str> = view
        .steps
        .iter()
        .filter(|s| s.status == StepStatus::Waiting)
        .map(|s| s.name.as_str())
        .collect();
    let next = match view.status {
        RunStatus::Waiting if !view.awaiting_start.is_empty() && waiting.is_empty() => format!(
            "Waits for a start of {}: select it, Ctrl+P, Start phase",
            view.awaiting_start.join(", ")
        ),
        RunStatus::Waiting | RunStatus::Running if !waiting.is_empty() => format!(
            "Waits for a report on {}: select it, Ctrl+P, Complete or Fail",
            waiting.join(", ")
        ),
        RunStatus::Running => "A driver is running it; this view follows the log.".into(),
        RunStatus::Completed => format!(
            "Completed. Head hash {}",
            view.head_hash.get(..16).unwrap_or(&view.head_hash)
        ),
        _ => match &view.reason {
            Some(r) => format!("{}: {r}", capitalized(view.status.as_str())),
            None => capitalized(view.status.as_str()),
        },
    };
    let style = match view.status {
        RunStatus::Failed | RunStatus::Aborted | RunStatus::RolledBack => theme.error(),
        _ => theme.dim(),
    };
    // The reason is from the log (a problem may quote what a step wrote): shown, never obeyed.
    let next = format!(" {}", crate::render::terminal_safe(&next));
    std::iter::once(Line::from(agents))
        .chain(
            rows_of(&next, width)
                .into_iter()
                .map(|row| Line::styled(row, style)),
        )
        .collect()
}

/// `text` in rows of at most `width` columns (at least one row, at least one character a
/// row).
fn rows_of(text: &str, width: usize) -> Vec<String> {
    use unicode_width::UnicodeWidthChar;
    let mut rows = vec![String::new()];
    let mut used = 0;
    for c in text.chars() {
        let w = c.width().unwrap_or(0);
        if used + w > width.max(1) && rows.last().is_some_and(|r| !r.is_empty()) {
            rows.push(String::new());
            used = 0;
        }
        if let Some(row) = rows.last_mut() {
            row.push(c);
        }
        used += w;
    }
    rows
}

fn capitalized(word: &str) -> String {
    let mut c = word.chars();
    match c.next() {
        Some(f) => f
            .to_uppercase()
            .chain(c)
            .collect::<String>()
            .replace('_', " "),
        None => String::new(),
    }
}
