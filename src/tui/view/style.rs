//! The look shared by every screen: status markers and words, colours (none under
//! `NO_COLOR`), durations.

use std::time::SystemTime;

use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, HighlightSpacing, Row, Table};

use crate::decide::StepStatus;
use crate::project::{RunStatus, StatusView};
use crate::render::{elapsed_between, format_duration};

/// Styles for one app: coloured, or plain text with emphasis only.
#[derive(Debug, Clone, Copy)]
pub struct Theme {
    pub color: bool,
}

impl Theme {
    fn fg(self, color: Color) -> Style {
        if self.color {
            Style::new().fg(color)
        } else {
            Style::new()
        }
    }

    pub fn step(self, status: StepStatus) -> Style {
        match status {
            StepStatus::Completed => self.fg(Color::Green),
            StepStatus::Running | StepStatus::Waiting => self.fg(Color::Yellow),
            StepStatus::Failed => self.fg(Color::Red).add_modifier(Modifier::BOLD),
            StepStatus::Ready | StepStatus::Stopped | StepStatus::RolledBack => {
                self.fg(Color::Magenta)
            }
            StepStatus::Pending | StepStatus::Skipped => self.dim(),
        }
    }

    pub fn run(self, status: RunStatus) -> Style {
        match status {
            RunStatus::Completed => self.fg(Color::Green),
            RunStatus::Running | RunStatus::Waiting => self.fg(Color::Yellow),
            RunStatus::Failed | RunStatus::Aborted | RunStatus::RolledBack => {
                self.fg(Color::Red).add_modifier(Modifier::BOLD)
            }
            RunStatus::Stopped | RunStatus::Interrupted => self.fg(Color::Magenta),
        }
    }

    pub fn dim(self) -> Style {
        if self.color {
            Style::new().fg(Color::DarkGray)
        } else {
            Style::new()
        }
    }

    pub fn title(self) -> Style {
        Style::new().add_modifier(Modifier::BOLD)
    }

    pub fn selected(self) -> Style {
        Style::new().add_modifier(Modifier::REVERSED)
    }

    /// An agent working now.
    pub fn badge(self) -> Style {
        if self.color {
            Style::new()
                .fg(Color::Black)
                .bg(Color::Green)
                .add_modifier(Modifier::BOLD)
        } else {
            Style::new().add_modifier(Modifier::BOLD)
        }
    }

    pub fn error(self) -> Style {
        self.fg(Color::Red).add_modifier(Modifier::BOLD)
    }

    pub fn accent(self) -> Style {
        self.fg(Color::Cyan)
    }
}

/// The completion indicator of a step or phase (the CLI's checklist markers).
pub fn marker(status: StepStatus) -> &'static str {
    match status {
        StepStatus::Pending => "[ ]",
        StepStatus::Ready => "[~]",
        StepStatus::Running | StepStatus::Waiting => "[>]",
        StepStatus::Completed => "[x]",
        StepStatus::Failed => "[!]",
        StepStatus::Skipped => "[-]",
        StepStatus::RolledBack => "[<]",
        StepStatus::Stopped => "[=]",
    }
}

/// A step's status in words.
pub fn word(status: StepStatus) -> &'static str {
    match status {
        StepStatus::Pending => "pending",
        StepStatus::Ready => "retry scheduled",
        StepStatus::Running => "running",
        StepStatus::Waiting => "waiting",
        StepStatus::Completed => "completed",
        StepStatus::Failed => "failed",
        StepStatus::Skipped => "skipped",
        StepStatus::RolledBack => "rolled back",
        StepStatus::Stopped => "stopped",
    }
}

/// How long something took, or has been going: to `now` while it runs, else to its end.
pub fn took(
    started: Option<&str>,
    ended: Option<&str>,
    going: bool,
    now: SystemTime,
) -> Option<String> {
    let end = if going { None } else { Some(ended?) };
    elapsed_between(started, end, now).map(format_duration)
}

/// Cut `text` to `width` characters, with an ellipsis when cut. What it draws comes from the
/// log (an output, an error, a prompt, Claude Code's answer): its active characters are shown
/// as escapes (`render::terminal_safe`) — ratatui drops control characters but passes a
/// bidirectional override (U+202E) to the terminal, which would reorder what is read.
pub fn fit(text: &str, width: usize) -> String {
    let text = crate::render::terminal_safe(text);
    crate::render::clip(&text, width.max(1)).into_owned()
}

/// `text` broken into lines of at most `width` characters, at spaces where it can be (a
/// longer word is cut), its active characters shown as escapes as `fit` shows them: for what
/// must be read whole (an error, why the log is read-only), never cut at the screen's edge.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let text = crate::render::terminal_safe(text);
    let mut lines = Vec::new();
    for paragraph in text.split('\n') {
        let mut line = String::new();
        let mut len = 0;
        for word in paragraph.split(' ') {
            let mut word: Vec<char> = word.chars().collect();
            if len > 0 && len + 1 + word.len() > width {
                lines.push(std::mem::take(&mut line));
                len = 0;
            }
            if len > 0 {
                line.push(' ');
                len += 1;
            }
            while len + word.len() > width {
                let rest = word.split_off(width - len);
                line.extend(word);
                lines.push(std::mem::take(&mut line));
                len = 0;
                word = rest;
            }
            len += word.len();
            line.extend(word);
        }
        lines.push(line);
    }
    lines
}

/// The line under a step or phase a worker claimed, indented by `indent` and fitted to
/// `width`: the worker, or — its lease lapsed — that the unit is orphaned (the worker stopped
/// renewing it) and runs again once reaped, as `status` says it (`render::worker_line`).
pub fn worker_line(
    worker: &str,
    lease_lapsed: bool,
    holder_gone: bool,
    indent: usize,
    width: usize,
    theme: Theme,
) -> Line<'static> {
    let text = crate::render::worker_line(worker, lease_lapsed, holder_gone);
    let style = if lease_lapsed {
        theme.error()
    } else {
        theme.dim()
    };
    let first = text
        .chars()
        .next()
        .map_or(String::new(), |c| c.to_lowercase().collect());
    let text = format!("{first}{}", text.chars().skip(1).collect::<String>());
    Line::styled(
        format!(
            "{:indent$}{}",
            "",
            fit(&text, width.saturating_sub(indent + 2))
        ),
        style,
    )
}

/// Under a unit that waits for a worker offering tags (nobody drives the run): which worker
/// takes it, as `status` says it, dim.
pub fn tags_line(
    globals: &[String],
    tags: &[String],
    secret_inputs: &[String],
    indent: usize,
    width: usize,
    theme: Theme,
) -> Line<'static> {
    let text = crate::render::tags_line(globals, tags, secret_inputs);
    Line::styled(
        format!(
            "{:indent$}{}",
            "",
            fit(&text, width.saturating_sub(indent + 2))
        ),
        theme.dim(),
    )
}

/// The lines under a unit that say who runs it or is to: the worker a unit waits for (its
/// tags), and the worker that runs it while it goes.
pub fn unit_runner_lines(
    s: &crate::project::StepView,
    globals: &[String],
    secret_inputs: &[String],
    going: bool,
    indent: usize,
    width: usize,
    theme: Theme,
) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    // A ready phase the parallel limits hold back: what it waits for, as status says it.
    if let Some(w) = &s.waits_for_slot {
        lines.push(Line::styled(
            format!(
                "{:indent$}{}",
                "",
                fit(&w.note, width.saturating_sub(indent + 2))
            ),
            theme.dim(),
        ));
    }
    if !s.waits_for_tags.is_empty() {
        lines.push(tags_line(
            globals,
            &s.waits_for_tags,
            secret_inputs,
            indent,
            width,
            theme,
        ));
    }
    if let Some(w) = s.worker.as_deref().filter(|_| going) {
        lines.push(worker_line(
            w,
            s.lease_lapsed,
            s.holder_gone,
            indent,
            width,
            theme,
        ));
    }
    lines
}

/// A run panel's title: `name · status · DETAIL<total time> `, where `detail` (e.g. a step
/// count) ends in ` · ` if given.
pub fn run_title(view: &StatusView, detail: &str, theme: Theme, now: SystemTime) -> Line<'static> {
    let total = took(
        view.started_at.as_deref(),
        view.ended_at.as_deref(),
        view.resumable,
        now,
    )
    .map_or(String::new(), |t| format!("{t} total"));
    let tail = match (detail.is_empty(), total.is_empty()) {
        (true, true) => String::new(),
        (true, false) => format!(" · {total}"),
        (false, true) => format!(" · {detail}"),
        (false, false) => format!(" · {detail} · {total}"),
    };
    Line::from(vec![
        Span::styled(format!(" {} · ", view.name), theme.title()),
        Span::styled(
            view.status.as_str(),
            theme.run(view.status).patch(theme.title()),
        ),
        Span::styled(format!("{tail} "), theme.title()),
    ])
}

/// A selectable list: a header, rows, the selection marked `> `.
pub fn list_table<'a>(
    rows: Vec<Row<'a>>,
    widths: impl IntoIterator<Item = ratatui::layout::Constraint>,
    header: Row<'a>,
    block: Block<'a>,
    theme: Theme,
) -> Table<'a> {
    Table::new(rows, widths)
        .header(header)
        .block(block)
        .row_highlight_style(theme.selected())
        .highlight_symbol("> ")
        .highlight_spacing(HighlightSpacing::Always)
}

/// How long a run took, or has been going (empty before it started).
pub fn run_time(state: &crate::decide::RunState, now: SystemTime) -> String {
    took(
        state.started_at.as_deref(),
        state.ended_at.as_deref(),
        state.outcome().is_none(),
        now,
    )
    .unwrap_or_default()
}

/// A step's or phase's name as its row shows it: an item of a `foreach:` unit with its
/// item's label (`deploy[1] (region: eu)`), as `status` shows it (`render::item_label`:
/// readable, escapes neutralised, bounded).
pub fn unit_name(s: &crate::project::StepView) -> String {
    match &s.item {
        Some(item) => format!("{} ({})", s.name, crate::render::item_label(&item.value)),
        None => s.name.clone(),
    }
}

/// The width of the step-name column: the longest name, between 4 and 24 characters.
pub fn name_width(view: &StatusView) -> usize {
    view.steps
        .iter()
        .map(|s| unit_name(s).chars().count())
        .max()
        .unwrap_or(4)
        .min(24)
}
