//! The scenario list: every scenario of the catalog with its latest run's status, progress
//! and time, and a summary of the selected one.

use std::time::SystemTime;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Paragraph, Row, TableState, Wrap};

use super::style::{Theme, fit, list_table, marker, run_time, took};
use crate::plan::topological_order;
use crate::tui::app::App;
use crate::tui::model::{Followed, ScenarioRow};

pub fn draw(frame: &mut Frame, area: Rect, app: &App, theme: Theme, now: SystemTime) {
    let [list, detail] = Layout::vertical([Constraint::Min(4), Constraint::Length(6)]).areas(area);
    let rows = app.scenario_rows();
    let name_width = rows
        .iter()
        .map(|r| r.name.chars().count())
        .max()
        .unwrap_or(4)
        .clamp(4, 28);
    let header = Row::new(["NAME", "PHASES", "LAST RUN", "DONE", "TIME"]).style(theme.title());
    let table_rows: Vec<Row> = rows
        .iter()
        .map(|r| {
            let phases = match r.entry {
                Some(e) => e
                    .phases
                    .map_or_else(|| "invalid".to_string(), |n| n.to_string()),
                None => r
                    .latest
                    .map_or(String::new(), |f| f.state.steps.len().to_string()),
            };
            let (status, done, time) = match r.latest {
                Some(f) => run_cells(f, theme, now),
                None => (
                    Cell::from("-").style(theme.dim()),
                    Cell::from(""),
                    Cell::from(""),
                ),
            };
            Row::new(vec![
                Cell::from(fit(&r.name, name_width)),
                Cell::from(phases),
                status,
                done,
                time,
            ])
        })
        .collect();
    let widths = [
        Constraint::Length(name_width as u16),
        Constraint::Length(7),
        Constraint::Length(12),
        Constraint::Length(6),
        Constraint::Min(8),
    ];
    let title = format!(" Scenarios ({}) ", rows.len());
    let table = list_table(
        table_rows,
        widths,
        header,
        Block::bordered()
            .title(Span::styled(title, theme.title()))
            .title_bottom(format!(" {} ", fit(&app.scenarios_dir, 60))),
        theme,
    );
    let mut state =
        TableState::default().with_selected((!rows.is_empty()).then_some(app.scenario_cursor));
    frame.render_stateful_widget(table, list, &mut state);
    let lines = match rows.get(app.scenario_cursor) {
        Some(row) => summary(row, app, theme, now),
        None => vec![
            Line::raw("No scenarios yet."),
            Line::styled(
                format!("Put scenario files in {}, then press r.", app.scenarios_dir),
                theme.dim(),
            ),
        ],
    };
    let title = rows
        .get(app.scenario_cursor)
        .map_or(String::new(), |r| format!(" {} ", r.name));
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(Block::bordered().title(Span::styled(title, theme.title()))),
        detail,
    );
}

/// Status, phases done and time of a run, as table cells.
fn run_cells(
    f: &Followed,
    theme: Theme,
    now: SystemTime,
) -> (Cell<'static>, Cell<'static>, Cell<'static>) {
    let status = f.status();
    let (done, total) = f.progress();
    let time = run_time(&f.state, now);
    (
        Cell::from(status.as_str()).style(theme.run(status)),
        Cell::from(format!("{done}/{total}")),
        Cell::from(time),
    )
}

/// The selected scenario: its description, its latest run, its phases at a glance.
fn summary(row: &ScenarioRow<'_>, app: &App, theme: Theme, now: SystemTime) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    if let Some(e) = row.entry {
        match (&e.error, &e.description) {
            // Every problem, one a line, wrapped (the panel wraps).
            (Some(err), _) => lines.extend(format!("invalid: {err}").lines().map(|l| {
                Line::styled(crate::render::terminal_safe(l).into_owned(), theme.error())
            })),
            (None, Some(d)) => lines.push(Line::raw(d.clone())),
            (None, None) => {}
        }
    } else {
        lines.push(Line::styled(
            format!("not in the catalog; run from {}", row.target),
            theme.dim(),
        ));
    }
    let Some(f) = row.latest else {
        let text = if app.log_error.is_some() {
            "Its runs are not known: the log could not be read (below)."
        } else if app.read_only.is_some() {
            "No run in this log (it is read-only: none can be started here)."
        } else {
            "No run yet: Ctrl+P, Scenario Run starts one."
        };
        lines.push(Line::styled(text, theme.dim()));
        return lines;
    };
    let status = f.status();
    let actor = f.state.start.as_ref().map_or("", |s| s.by.actor.as_str());
    let mut head = vec![
        Span::raw(format!("Last run {} ", f.state.run_id)),
        Span::styled(status.as_str(), theme.run(status)),
    ];
    if let Some(t) = took(
        f.state.started_at.as_deref(),
        f.state.ended_at.as_deref(),
        f.state.outcome().is_none(),
        now,
    ) {
        head.push(Span::raw(format!(" · {t}")));
    }
    if !actor.is_empty() {
        head.push(Span::styled(format!(" · by {actor}"), theme.dim()));
    }
    lines.push(Line::from(head));
    if let Some(sc) = &f.state.scenario {
        let mut strip = Vec::new();
        for i in topological_order(sc) {
            let s = &f.state.steps[i];
            strip.push(Span::styled(
                format!("{} {}  ", marker(s.status), s.name),
                theme.step(s.status),
            ));
        }
        lines.push(Line::from(strip));
    }
    if !f.state.active_agents.is_empty() {
        let agents: Vec<&str> = f
            .state
            .active_agents
            .iter()
            .map(|(a, _)| a.as_str())
            .collect();
        lines.push(Line::from(vec![
            Span::raw("Active: "),
            Span::styled(agents.join(", "), theme.badge()),
        ]));
    }
    lines
}
