//! Definition errors, one form for every kind of definition (seed 001 part 5's look): an
//! `[ERROR] file` line, then each problem on its own line with its `file:line:column`, the
//! offending line with a caret under the place, and a hint; and the same problems as JSON
//! objects `{message, file, line, column, hint}` for `--json`.

use std::fmt::Write;

use serde::{Deserialize, Serialize};

use crate::definition::DefinitionError;

/// Lines longer than this are located but not shown.
const MAX_SNIPPET_LINE: usize = 200;

/// One problem of a definition as a machine reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProblemDoc {
    pub message: String,
    /// The definition file; none for a problem that is not in one (a report's gate, a value
    /// given on the command line).
    pub file: Option<String>,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub hint: Option<String>,
}

impl ProblemDoc {
    /// A problem that has no place in a definition file.
    pub fn unlocated(message: impl Into<String>) -> ProblemDoc {
        ProblemDoc {
            message: message.into(),
            file: None,
            line: None,
            column: None,
            hint: None,
        }
    }
}

/// Every problem of a definition as JSON objects.
pub fn definition_problems(err: &DefinitionError) -> Vec<ProblemDoc> {
    err.problems
        .iter()
        .map(|p| ProblemDoc {
            message: p.message.clone(),
            file: Some(err.path.clone()),
            line: p.at.map(|a| a.line),
            column: p.at.map(|a| a.column),
            hint: p.hint.clone(),
        })
        .collect()
}

fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// `[ERROR] name.yaml` and each problem with its place, the line and a caret, and its hint.
pub fn render_definition_error(err: &DefinitionError) -> String {
    let mut out = format!("[ERROR] {}\n", file_name(&err.path));
    for p in &err.problems {
        let _ = writeln!(out, "  - {}", p.message);
        match p.at {
            Some(at) => {
                let _ = writeln!(out, "    --> {}:{}:{}", err.path, at.line, at.column);
                if let Some(line) = err.text.lines().nth(at.line.saturating_sub(1))
                    && line.chars().count() <= MAX_SNIPPET_LINE
                {
                    let number = at.line.to_string();
                    let pad = " ".repeat(number.len());
                    // The line is shown as a terminal shows it (`terminal_safe`: an escape
                    // sequence as `\u{1b}`), and the caret counts the columns shown: before,
                    // it counted characters, and stood short of the place by five columns
                    // for each escaped character before it (and one for each wide one).
                    let before = at.column.saturating_sub(1);
                    let caret: String = line
                        .chars()
                        .take(before)
                        .map(|c| match c {
                            '\t' => "\t".to_string(),
                            c => " ".repeat(crate::render::shown_width(c)),
                        })
                        .collect();
                    // Under what the problem covers, else what is written there.
                    let covered = match p.width {
                        Some(w) => w,
                        None => crate::definition::written_width(line, at.column),
                    };
                    let width: usize = line
                        .chars()
                        .skip(before)
                        .take(covered)
                        .map(|c| crate::render::shown_width(c).max(usize::from(c == '\t')))
                        .sum::<usize>()
                        .max(1);
                    let shown = crate::render::terminal_safe(line);
                    let _ = writeln!(out, "    {number} | {shown}");
                    let _ = writeln!(out, "    {pad} | {caret}{}", "^".repeat(width));
                }
            }
            None => {
                let _ = writeln!(out, "    --> {}", err.path);
            }
        }
        if let Some(h) = &p.hint {
            let _ = writeln!(out, "    hint: {h}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::definition::{Location, Problem};

    /// A caret under a problem on a line that holds a tab and an escape sequence before it
    /// stands under the place as the line is shown (the ESC escaped as `\u{1b}`, the tab
    /// kept), and spans the escaped character it points at: before, it counted characters
    /// and stood five columns short.
    #[test]
    fn a_caret_after_a_tab_and_an_escape_stands_under_the_place_as_shown() {
        let text = "name: w\nsteps:\n  - {name: \"\tb\u{1b}[31m\", run: echo, bogus: 1}\n";
        let line = text.lines().nth(2).unwrap();
        let column = line.chars().position(|c| c == 'b').unwrap() + 1;
        let bogus = line
            .find("bogus")
            .map(|b| line[..b].chars().count() + 1)
            .unwrap();
        let err = DefinitionError {
            path: "w.yaml".into(),
            text: text.into(),
            problems: vec![
                Problem::new(
                    "the name holds an escape",
                    Some(Location {
                        line: 3,
                        column: column + 1,
                    }),
                )
                .with_width(Some(1)),
                Problem::new(
                    "unknown key `bogus`",
                    Some(Location {
                        line: 3,
                        column: bogus,
                    }),
                ),
            ],
        };
        insta::assert_snapshot!(render_definition_error(&err).replace('\t', "<TAB>"), @r#"
        [ERROR] w.yaml
          - the name holds an escape
            --> w.yaml:3:15
            3 |   - {name: "<TAB>b\u{1b}[31m", run: echo, bogus: 1}
              |             <TAB> ^^^^^^
          - unknown key `bogus`
            --> w.yaml:3:34
            3 |   - {name: "<TAB>b\u{1b}[31m", run: echo, bogus: 1}
              |             <TAB>                         ^^^^^
        "#);
    }
}
