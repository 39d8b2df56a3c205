//! Workflow runs, newest first, each with its status and step progress.

use std::time::SystemTime;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Paragraph, Row, TableState};

use super::style::{Theme, fit, list_table, marker, run_time, word};
use crate::decide::StepStatus;
use crate::tui::app::App;
use crate::tui::model::{Followed, workflow_runs};

/// `Step 2/4 ██░░`: the step a run is at (or how far it got) and a bar of done steps.
pub fn progress(f: &Followed) -> String {
    let (done, total) = f.progress();
    let at = if f.state.outcome().is_some() {
        done
    } else {
        (done + 1).min(total)
    };
    let width = 8;
    let filled = (done * width).checked_div(total).unwrap_or(0);
    format!(
        "Step {at}/{total} {}{}",
        "█".repeat(filled),
        "░".repeat(width - filled)
    )
}

pub fn draw(frame: &mut Frame, area: Rect, app: &App, theme: Theme, now: SystemTime) {
    let [list, detail] = Layout::vertical([Constraint::Min(4), Constraint::Length(4)]).areas(area);
    let runs = workflow_runs(&app.runs);
    let header = Row::new(["RUN", "WORKFLOW", "STATUS", "STEPS", "TIME"]).style(theme.title());
    let rows: Vec<Row> = runs
        .iter()
        .map(|f| {
            let status = f.status();
            let time = run_time(&f.state, now);
            Row::new(vec![
                Cell::from(
                    f.state
                        .run_id
                        .get(..10)
                        .unwrap_or(&f.state.run_id)
                        .to_string(),
                ),
                // A child run (started by a `uses:` step) runs with its parent: marked `↳`.
                Cell::from(
                    match f.state.start.as_ref().and_then(|s| s.parent.as_ref()) {
                        Some(_) => format!("↳ {}", fit(f.name(), 20)),
                        None => fit(f.name(), 22),
                    },
                ),
                Cell::from(status.as_str()).style(theme.run(status)),
                Cell::from(progress(f)),
                Cell::from(time),
            ])
        })
        .collect();
    let widths = [
        Constraint::Length(10),
        Constraint::Length(22),
        Constraint::Length(11),
        Constraint::Length(19),
        Constraint::Min(7),
    ];
    let table = list_table(
        rows,
        widths,
        header,
        Block::bordered().title(Span::styled(
            format!(" Workflow runs ({}, newest first) ", runs.len()),
            theme.title(),
        )),
        theme,
    );
    let mut state =
        TableState::default().with_selected((!runs.is_empty()).then_some(app.workflow_cursor));
    frame.render_stateful_widget(table, list, &mut state);
    let lines = match runs.get(app.workflow_cursor) {
        None if app.log_error.is_some() => vec![Line::styled(
            "Workflow runs are not known: the log could not be read (below).",
            theme.error(),
        )],
        None if app.read_only.is_some() => vec![Line::styled(
            "No workflow runs in this log (it is read-only: none can be started here).",
            theme.dim(),
        )],
        None => vec![Line::styled(
            format!("No workflow runs yet: `{}` starts one.", app.start_workflow),
            theme.dim(),
        )],
        Some(f) => {
            let actor = f.state.start.as_ref().map_or("", |s| s.by.actor.as_str());
            let parent = f.state.start.as_ref().and_then(|s| s.parent.as_ref());
            let child_of = parent.map_or(String::new(), |p| {
                format!(" · child of {} (step {})", p.run_id, fit(&p.step, 40))
            });
            let mut lines = vec![Line::raw(format!(
                "Run {} · by {}{child_of}",
                f.state.run_id,
                fit(actor, 40)
            ))];
            let now_at = f
                .state
                .steps
                .iter()
                .find(|s| !s.status.is_done() && s.status != StepStatus::Pending)
                .or_else(|| f.state.steps.iter().find(|s| !s.status.is_done()));
            match now_at {
                Some(s) => lines.push(Line::from(vec![
                    Span::raw("Now: "),
                    Span::styled(marker(s.status), theme.step(s.status)),
                    Span::raw(format!(" {} ", s.name)),
                    Span::styled(word(s.status), theme.step(s.status)),
                ])),
                None => {
                    let (done, total) = f.progress();
                    let status = f.status();
                    lines.push(Line::from(vec![
                        Span::styled(status.as_str(), theme.run(status)),
                        Span::raw(format!(": {done} of {total} steps done")),
                    ]));
                }
            }
            lines
        }
    };
    frame.render_widget(Paragraph::new(lines).block(Block::bordered()), detail);
}
