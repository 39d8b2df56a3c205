//! The command palette drawn over the screen: what was typed, and the matching entries.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};

use super::style::{Theme, fit};
use crate::tui::app::App;

pub fn draw(frame: &mut Frame, area: Rect, app: &App, theme: Theme) {
    let query = app.palette.as_ref().map_or("", |p| p.query.as_str());
    let selected = app.palette.as_ref().map_or(0, |p| p.selected);
    let entries = app.palette_entries();
    let width = area.width.saturating_sub(8).min(64);
    let height = (entries.len().max(1) as u16 + 4).min(area.height.saturating_sub(2));
    let rect = super::overlay(area, width, height);
    let inner_width = rect.width.saturating_sub(2) as usize;
    let title_width = entries
        .iter()
        .map(|e| e.title.chars().count())
        .max()
        .unwrap_or(0)
        .min(inner_width / 2);
    let mut lines = vec![
        Line::from(vec![
            Span::styled("> ", theme.accent()),
            Span::raw(query.to_string()),
            Span::styled("▏", theme.accent()),
        ]),
        Line::styled("─".repeat(inner_width), theme.dim()),
    ];
    if entries.is_empty() {
        lines.push(Line::styled("  no matching command", theme.dim()));
    }
    let room = rect.height.saturating_sub(4) as usize;
    let first = selected.saturating_sub(room.saturating_sub(1));
    for (i, e) in entries.iter().enumerate().skip(first).take(room) {
        let text = format!(
            "{}{:<title_width$}  {}",
            if i == selected { "› " } else { "  " },
            fit(&e.title, title_width),
            e.detail
        );
        let line = Line::raw(fit(&text, inner_width));
        lines.push(if i == selected {
            line.style(theme.selected())
        } else {
            line
        });
    }
    frame.render_widget(Clear, rect);
    frame.render_widget(
        Paragraph::new(lines).block(
            Block::bordered()
                .title(Span::styled(" Command palette ", theme.title()))
                .title_bottom(" Enter run · Esc close "),
        ),
        rect,
    );
}
