//! Rendering: pure functions from the app's state and an explicit `now` to ratatui widgets
//! in a frame. The same state and time always draw the same screen (the snapshot tests rely
//! on it); nothing here reads the clock, the log or the terminal.

mod form;
mod help;
mod output;
mod palette;
mod scenario_run;
mod scenarios;
mod style;
mod workflow_run;
mod workflows;

use std::time::SystemTime;

use ratatui::Frame;
use ratatui::layout::{Alignment, Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::app::{App, Screen};
pub use style::Theme;

/// Draw the whole screen: the tab bar, the current screen, the status bar and key hints, and
/// the palette or help on top when open.
pub fn draw(frame: &mut Frame, app: &App, now: SystemTime) {
    let theme = Theme { color: app.color };
    let status = status_lines(app, theme, frame.area());
    let [top, body, notice, keys] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(0),
        Constraint::Length(status.len() as u16),
        Constraint::Length(1),
    ])
    .areas(frame.area());
    tabs(frame, top, app, theme);
    // The output pane (`o`) takes the lower part of a run screen.
    let body = if app.output_open && matches!(app.screen, Screen::ScenarioRun | Screen::WorkflowRun)
    {
        let [steps, pane] =
            Layout::vertical([Constraint::Min(6), Constraint::Percentage(45)]).areas(body);
        output::draw(frame, pane, app, theme);
        steps
    } else {
        body
    };
    match app.screen {
        Screen::Scenarios => scenarios::draw(frame, body, app, theme, now),
        Screen::ScenarioRun => scenario_run::draw(frame, body, app, theme, now),
        Screen::Workflows => workflows::draw(frame, body, app, theme, now),
        Screen::WorkflowRun => workflow_run::draw(frame, body, app, theme, now),
    }
    frame.render_widget(Paragraph::new(status), notice);
    frame.render_widget(
        Paragraph::new(Line::styled(format!(" {}", hints(app)), theme.dim())),
        keys,
    );
    if app.form.is_some() {
        form::draw(frame, frame.area(), app, theme);
    } else if app.palette.is_some() {
        palette::draw(frame, frame.area(), app, theme);
    } else if app.help {
        help::draw(frame, frame.area(), theme);
    }
}

/// The status lines above the key hints, each said whole (wrapped, never cut at the edge):
/// why the log is read-only, why it could not be read, and the last notice. At least one
/// line; at most half the screen.
fn status_lines(app: &App, theme: Theme, area: Rect) -> Vec<Line<'static>> {
    let width = (area.width as usize).saturating_sub(2);
    let mut lines = Vec::new();
    let mut say = |text: &str, style| {
        for l in style::wrap(text, width) {
            lines.push(Line::styled(format!(" {l}"), style));
        }
    };
    if let Some(why) = &app.read_only {
        say(why, theme.accent());
    }
    if let Some(e) = &app.log_error {
        say(&format!("error: reading the log: {e}"), theme.error());
    }
    if let Some(n) = &app.notice {
        if n.error {
            say(&format!("error: {}", n.text), theme.error());
        } else {
            say(&n.text, theme.accent());
        }
    }
    let most = (area.height as usize / 2).max(1);
    if lines.len() > most {
        // The newest (the notice) last: what does not fit is the start of the first.
        lines.drain(..lines.len() - most);
    }
    if lines.is_empty() {
        lines.push(Line::raw(""));
    }
    lines
}

fn tabs(frame: &mut Frame, area: Rect, app: &App, theme: Theme) {
    let on_scenarios = matches!(app.screen, Screen::Scenarios | Screen::ScenarioRun);
    let tab = |label: &str, on: bool| {
        if on {
            Span::styled(format!("[{label}]"), theme.title().patch(theme.accent()))
        } else {
            Span::styled(format!(" {label} "), theme.dim())
        }
    };
    let line = Line::from(vec![
        Span::styled(" cortex ", theme.title()),
        Span::raw(" "),
        tab("Scenarios", on_scenarios),
        Span::raw(" "),
        tab("Workflows", !on_scenarios),
    ]);
    frame.render_widget(Paragraph::new(line), area);
    let who = Paragraph::new(Line::styled(format!("as {} ", app.actor), theme.dim()))
        .alignment(Alignment::Right);
    frame.render_widget(who, area);
}

fn hints(app: &App) -> &'static str {
    if let Some(form) = &app.form {
        return match form.what {
            crate::tui::app::FormFor::Run { .. } => {
                "type the value  ↑↓ input  Enter start  Esc cancel"
            }
            crate::tui::app::FormFor::Resume(_) => {
                "type the value  ↑↓ line  Enter resume  Esc cancel"
            }
        };
    }
    if app.palette.is_some() {
        return "type to filter  ↑↓ select  Enter run  Esc close";
    }
    if app.help {
        return "Esc close help  q quit";
    }
    match app.screen {
        Screen::Scenarios => {
            "↑↓ select  Enter status  Tab workflows  Ctrl+P palette  ? help  q quit"
        }
        Screen::ScenarioRun => {
            "↑↓ phase  o output  Esc back  Ctrl+P actions  Tab workflows  ? help  q quit"
        }
        Screen::Workflows => {
            "↑↓ select  Enter steps  Tab scenarios  Ctrl+P palette  ? help  q quit"
        }
        Screen::WorkflowRun => {
            "↑↓ step  o output  Esc back  Tab scenarios  Ctrl+P palette  ? help  q quit"
        }
    }
}

/// A rectangle of `width` x `height` centred horizontally, a little above the middle.
fn overlay(area: Rect, width: u16, height: u16) -> Rect {
    let width = width.min(area.width);
    let height = height.min(area.height);
    let x = area.x + (area.width - width) / 2;
    let y = area.y + (area.height - height) / 3;
    Rect::new(x, y, width, height)
}
