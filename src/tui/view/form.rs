//! A form drawn over the screen — Scenario Run's inputs, or a resume's secret inputs and time
//! limit: one line per input (`*` marks a required one), what is typed in it (a secret's as
//! `•`, never the value), and its description.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph};

use super::style::{Theme, fit};
use crate::tui::app::{App, FormFor};

pub fn draw(frame: &mut Frame, area: Rect, app: &App, theme: Theme) {
    let Some(form) = &app.form else {
        return;
    };
    let width = area.width.saturating_sub(8).min(72);
    let inner = width.saturating_sub(2) as usize;
    // Each line: its label, what is shown of what was typed, what an empty one means, and a
    // description under it.
    let mut rows: Vec<(String, String, &str, Option<&str>)> = form
        .fields
        .iter()
        .zip(&form.values)
        .map(|(f, v)| {
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
            (name, shown, placeholder, f.description.as_deref())
        })
        .collect();
    if let Some(t) = &form.timeout {
        rows.push((
            "timeout".into(),
            t.clone(),
            if t.is_empty() {
                " (the configured one)"
            } else {
                ""
            },
            Some("the run's time limit from now on: 2h, 90m, seconds; 0 for none"),
        ));
    }
    let name_width = rows
        .iter()
        .map(|(name, ..)| name.chars().count())
        .max()
        .unwrap_or(1)
        .min(inner / 3);
    let mut lines = Vec::new();
    for (i, (name, shown, placeholder, description)) in rows.iter().enumerate() {
        let on = i == form.selected;
        let value_width = inner.saturating_sub(name_width + 6);
        let mut line = Line::from(vec![
            Span::raw(if on { "› " } else { "  " }),
            Span::styled(
                format!("{:<name_width$}", fit(name, name_width)),
                theme.title(),
            ),
            Span::raw("  "),
            Span::raw(fit(shown, value_width)),
            Span::styled(if on { "▏" } else { "" }, theme.accent()),
            Span::styled(*placeholder, theme.dim()),
        ]);
        if on {
            line = line.style(theme.selected());
        }
        lines.push(line);
        if let Some(d) = description {
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
            fit(
                match (&form.what, form.fields.is_empty()) {
                    (FormFor::Run { .. }, _) => "* required · a secret is not shown as typed",
                    (FormFor::Resume(_), false) => {
                        "* the log keeps only ***: given again, not shown as typed"
                    }
                    (FormFor::Resume(_), true) => "Enter resumes it in the background",
                },
                inner,
            ),
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
                    format!(" {} ", fit(&form.what.title(), inner.saturating_sub(2))),
                    theme.title(),
                ))
                .title_bottom(format!(
                    " Enter {} · Tab next · Esc cancel ",
                    form.what.verb()
                )),
        ),
        rect,
    );
}
