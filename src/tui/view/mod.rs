//! Rendering: pure functions from the app's state and an explicit `now` to ratatui widgets
//! in a frame. The same state and time always draw the same screen (the snapshot tests rely
//! on it); nothing here reads the clock, the log or the terminal.

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
    let [top, body, notice, keys] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(0),
        Constraint::Length(1),
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
    if let Some(n) = &app.notice {
        let style = if n.error {
            theme.error()
        } else {
            theme.accent()
        };
        let text = if n.error {
            format!(" error: {}", n.text)
        } else {
            format!(" {}", n.text)
        };
        frame.render_widget(Paragraph::new(Line::styled(text, style)), notice);
    }
    frame.render_widget(
        Paragraph::new(Line::styled(format!(" {}", hints(app)), theme.dim())),
        keys,
    );
    if app.palette.is_some() {
        palette::draw(frame, frame.area(), app, theme);
    } else if app.help {
        help::draw(frame, frame.area(), theme);
    }
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
