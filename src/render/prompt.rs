//! A prompt as it reads wherever it is shown (status, `--json`, MCP, the web page, the
//! progress lines, an agent's stdin, a dry run's plan, `orchestrate preview`): each template
//! rendered with its value, one without said in words (never the raw `${{ ... }}`), and a
//! phase's `check:` lines as the commands the engine runs (`shell::shown_check`).

use crate::definition::template::{Reference, render_text};

/// Where a phase's prompt lists a check criterion (`Phase::prompt`: "- check: COMMAND").
const CHECK_LINE: &str = "- check: ";

/// `text` rendered: each template with the value `value` gives, one without as `absent`
/// says (in parentheses: `(output `artifact` of phase `build`, not given yet)`). With
/// `checks` (a scenario phase's prompt), its "- check: COMMAND" lines are commands, not
/// prose: shown as they will run (`shell::shown_check`), a value not known said under the
/// command, never spliced into it. The one rendering of prompts: a run's
/// (`RunState::render_prompt_with`), a dry run's and a preview's.
pub fn render_prompt(
    text: &str,
    checks: bool,
    value: &dyn Fn(&Reference) -> Option<String>,
    absent: &dyn Fn(&Reference) -> String,
) -> String {
    let prose = |piece: &str| render_text(piece, &|r| value(r).or_else(|| Some(absent(r))));
    if !checks || !text.contains(&format!("\n{CHECK_LINE}")) {
        return prose(text);
    }
    // The text cut where a check begins or ends, each piece rendered as what it is.
    let mut pieces: Vec<(bool, String)> = Vec::new();
    let mut in_check = false;
    for line in text.split_inclusive('\n') {
        if line.starts_with("- ") {
            in_check = line.starts_with(CHECK_LINE);
        }
        match pieces.last_mut() {
            Some((check, piece)) if *check == in_check && !line.starts_with("- ") => {
                piece.push_str(line)
            }
            _ => pieces.push((in_check, line.to_string())),
        }
    }
    pieces
        .into_iter()
        .map(|(check, piece)| {
            let Some(command) = piece.strip_prefix(CHECK_LINE).filter(|_| check) else {
                return prose(&piece);
            };
            let (command, newline) = match command.strip_suffix('\n') {
                Some(c) => (c, "\n"),
                None => (command, ""),
            };
            let (shown, without) = super::shell::shown_check(command, value, absent);
            format!(
                "{CHECK_LINE}{}{newline}",
                super::shell::check_text(&shown, &without, "  ")
            )
        })
        .collect()
}

/// What a plan (`run --dry-run`, `orchestrate preview`) shows for a template that has no value
/// before the run: the words a run's status uses for it while the step it names has not ended
/// (`RunState::absent_value`). `unit`: the step (or phase, `noun`) whose text it is (its own
/// output is named as its own).
pub fn not_known_before_the_run(r: &Reference, unit: &str, noun: &str) -> String {
    match r {
        Reference::Input(name) => format!("(no input `{name}`: none was given)"),
        Reference::Item => "(its item of the `foreach:`, known when it runs)".to_string(),
        Reference::StepOutput { step, key } if step == unit => {
            format!("(output `{key}`, not given yet)")
        }
        Reference::StepOutput { step, key } => {
            format!("(output `{key}` of {noun} `{step}`, not given yet)")
        }
    }
}
