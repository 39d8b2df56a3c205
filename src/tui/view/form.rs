//! The input form of Scenario Run drawn over the screen: one line per declared input (`*`
//! marks a required one), what is typed in it (a secret's as `•`), and its description.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};

use super::style::{Theme, fit};
use crate::tui::app::App;

pub fn draw(frame: &mut Frame, area: Rect, app: &App, theme: Theme) {
    let Some(form) = &app.form else {
        return;
    };
    let width = area.width.saturating_sub(8).min(72);
    let inner = width.saturating_sub(2) as usize;
    let name_width = form
        .fields
        .iter()
        .map(|f| f.name.chars().count() + 1)
        .max()
        .unwrap_or(1)
        .min(inner / 3);
    let mut lines = Vec::new();
    for (i, (f, v)) in form.fields.iter().zip(&form.values).enumerate() {
        let on = i == form.selected;
        let name = format!("{}{}", f.name, if f.required { "*" } else { "" });
        let shown = if f.secret {
            "•".repeat(v.chars().count())
        } else {
            v.clone()
        };
        let placeholder = match (&f.default, v.is_empty()) {
            (Some(_), true) if f.secret => " (its default)",
            (None, true) if f.required => " (required)",
            _ => "",
        };
        let value_width = inner.saturating_sub(name_width + 6);
        let mut line = Line::from(vec![
            Span::raw(if on { "› " } else { "  " }),
            Span::styled(
                format!("{:<name_width$}", fit(&name, name_width)),
                theme.title(),
            ),
            Span::raw("  "),
            Span::raw(fit(&shown, value_width)),
            Span::styled(if on { "▏" } else { "" }, theme.accent()),
            Span::styled(placeholder, theme.dim()),
        ]);
        if on {
            line = line.style(theme.selected());
        }
        lines.push(line);
        if let Some(d) = &f.description {
            lines.push(Line::styled(
                format!("    {}", fit(d, inner.saturating_sub(4))),
                theme.dim(),
            ));
        }
    }
    lines.push(Line::raw(""));
    match &form.problem {
        Some(p) => lines.extend(
            super::style::wrap(p, inner)
                .into_iter()
                .map(|l| Line::styled(l, theme.error())),
        ),
        None => lines.push(Line::styled(
            fit("* required · a secret is not shown as typed", inner),
            theme.dim(),
        )),
    }
    let height = (lines.len() as u16 + 2).min(area.height.saturating_sub(2));
    let rect = super::overlay(area, width, height);
    frame.render_widget(Clear, rect);
    frame.render_widget(
        Paragraph::new(lines).block(
            Block::bordered()
                .title(Span::styled(
                    format!(" Inputs of {} ", fit(&form.scenario, inner / 2)),
                    theme.title(),
                ))
                .title_bottom(" Enter start · Tab next · Esc cancel "),
        ),
        rect,
    );
}
