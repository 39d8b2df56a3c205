//! Rendering: projections and errors turned into the text people read. Functions here return
//! strings; only `cli` prints them.

mod attempt_text;
mod diagnostic;
mod duration;
mod log;
mod names;
mod plan;
mod progress;
mod prompt;
mod scenario;
mod schedule;
mod shell;
mod status;
mod terminal;

pub use attempt_text::{AttemptText, attempt_text, cut_character};
pub use diagnostic::{ProblemDoc, definition_problems, render_definition_error};

/// The width of the widest `name` of JSON rows, for aligned tables: in the columns a
/// terminal gives it (`padded`).
pub fn name_width(rows: &[serde_json::Value]) -> usize {
    rows.iter()
        .filter_map(|r| r["name"].as_str())
        .map(unicode_width::UnicodeWidthStr::width)
        .max()
        .unwrap_or(4)
}

/// `text` followed by spaces up to `width` columns as a terminal draws it: a combining mark
/// takes none (`cafe` + U+0301 is four), a wide character two. (`{:<width$}` counts
/// characters, and a byte length counts `é` twice: either misaligned a table's columns.)
pub fn padded(text: &str, width: usize) -> String {
    let used = unicode_width::UnicodeWidthStr::width(text);
    format!("{text}{}", " ".repeat(width.saturating_sub(used)))
}

/// `1 step`, `2 steps`: a count with its noun.
pub fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}
/// A size for people: bytes, KiB, MiB or GiB (one decimal above bytes).
pub fn format_bytes(n: u64) -> String {
    const UNITS: [&str; 3] = ["KiB", "MiB", "GiB"];
    if n < 1024 {
        return format!("{n} bytes");
    }
    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

pub use duration::{elapsed_between, format_duration};
pub use log::{
    render_event_line, render_unreadable_line, render_unverified_show, render_verify,
    shown_chain_id,
};
pub use names::names_hints;
pub use plan::{render_command, render_inputs, render_plan, render_setting};
pub use progress::{item_labels, render_header, render_how_to_follow, render_progress};
pub use prompt::{not_known_before_the_run, render_prompt};
pub(crate) use scenario::upper_first;
pub use scenario::{render_preview, render_scenario_status, render_valid};
pub use schedule::{render_happened, render_schedules};
pub use shell::{
    check_text, command_line, flag_args, pair_args, shell_quote, shown_check, shown_command,
    suggested_command, with_globals_in,
};
pub(crate) use status::{SHOWN_OUTPUTS, agent_line, item_label};
pub use status::{
    render_history, render_next, render_outcome, render_outcome_line, render_outcome_noted,
    render_status, tags_line, worker_line,
};
pub use terminal::{
    breaks_line, clip, cut_long_words, cut_long_words_in, hanging, json_safe, markup_safe,
    one_line, shown_width, terminal_safe, whole_lines,
};
