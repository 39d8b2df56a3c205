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
                    let caret: String = line
                        .chars()
                        .take(at.column.saturating_sub(1))
                        .map(|c| if c == '\t' { '\t' } else { ' ' })
                        .collect();
                    // Under what the problem covers, else what is written there.
                    let from = line.chars().skip(at.column.saturating_sub(1));
                    let width = match p.width {
                        Some(w) => from.take(w).count(),
                        None => crate::definition::written_width(line, at.column),
                    }
                    .max(1);
                    let _ = writeln!(out, "    {number} | {line}");
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
