//! Keyboard help (`?`), drawn over the screen.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};

use super::style::Theme;

const KEYS: &[(&str, &str)] = &[
    (
        "Ctrl+P",
        "command palette: scenario list, run, status, phase actions",
    ),
    (
        "↑ ↓  k j",
        "move the selection (a scenario, a run, a phase)",
    ),
    (
        "Enter",
        "open the selected scenario's latest run, or a workflow run",
    ),
    ("o", "show or hide the selected step's output, live"),
    ("Esc", "back to the list"),
    ("Tab", "switch between scenarios and workflow runs"),
    ("g G", "first, last"),
    ("r", "read the scenario catalog again"),
    ("?", "this help"),
    ("q  Ctrl+C", "quit (drivers started from here go on)"),
];

pub fn draw(frame: &mut Frame, area: Rect, theme: Theme) {
    let rect = super::overlay(area, 74, KEYS.len() as u16 + 4);
    let mut lines: Vec<Line> = KEYS
        .iter()
        .map(|(k, what)| {
            Line::from(vec![
                Span::styled(format!(" {k:<10} "), theme.accent()),
                Span::raw(*what),
            ])
        })
        .collect();
    lines.push(Line::raw(""));
    lines.push(Line::styled(
        " The screens follow the log live; actions are recorded with your name.",
        theme.dim(),
    ));
    frame.render_widget(Clear, rect);
    frame.render_widget(
        Paragraph::new(lines).block(
            Block::bordered()
                .title(Span::styled(" Keyboard help ", theme.title()))
                .title_bottom(" Esc close "),
        ),
        rect,
    );
}
