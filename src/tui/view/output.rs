//! The output pane (`o`) under a run's steps: the selected attempt's output, its last lines,
//! with every control character shown as a visible escape.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};

use super::style::{Theme, fit};
use crate::tui::app::{App, OutputSource};

pub fn draw(frame: &mut Frame, area: Rect, app: &App, theme: Theme) {
    let block = Block::bordered();
    let inner = block.inner(area);
    let (title, lines) = match (app.output_wanted(), app.output_shown()) {
        (None, _) => (
            " output ".to_string(),
            vec![Line::styled(
                " The selected step has not run: no output yet.",
                theme.dim(),
            )],
        ),
        (Some(w), None) => (
            format!(" output · {} · attempt {} ", w.step, w.attempt),
            vec![Line::styled(" Reading…", theme.dim())],
        ),
        (Some(w), Some(view)) => {
            let what = match view.source {
                OutputSource::File { bytes, cut } => format!(
                    "{}{}",
                    crate::render::format_bytes(bytes),
                    if cut { ", its last lines" } else { "" }
                ),
                OutputSource::Log { bytes, cut } => format!(
                    "{} kept in the log{}",
                    crate::render::format_bytes(bytes),
                    if cut { ", its last lines" } else { "" }
                ),
                OutputSource::KeptTail => "the tail the log kept".to_string(),
                OutputSource::Nothing if w.ended => "printed nothing".to_string(),
                OutputSource::Nothing => "nothing yet".to_string(),
            };
            let title = format!(" output · {} · attempt {} · {what} ", w.step, w.attempt);
            let width = inner.width as usize;
            let height = inner.height as usize;
            let all: Vec<&str> = view.text.lines().collect();
            let shown = &all[all.len().saturating_sub(height)..];
            let lines = shown
                .iter()
                .map(|l| Line::raw(fit(&crate::render::terminal_safe(l), width)))
                .collect();
            (title, lines)
        }
    };
    let title = fit(
        &crate::render::terminal_safe(&title),
        area.width.saturating_sub(2) as usize,
    );
    frame.render_widget(
        Paragraph::new(lines).block(block.title(Span::styled(title, theme.title()))),
        area,
    );
}
