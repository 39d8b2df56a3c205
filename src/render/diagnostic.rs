//! Definition errors as `file:line:column` reports with the offending line and a caret.

use codespan_reporting::diagnostic::{Diagnostic, Label};
use codespan_reporting::files::SimpleFile;
use codespan_reporting::term::{self, Config};

use crate::definition::DefinitionError;

/// Lines longer than this are located but not shown.
const MAX_SNIPPET_LINE: usize = 200;

fn offset(text: &str, line: usize, column: usize) -> usize {
    let mut pos = 0;
    for (i, l) in text.split_inclusive('\n').enumerate() {
        if i + 1 == line {
            let col = l
                .char_indices()
                .nth(column.saturating_sub(1))
                .map_or(l.len(), |(b, _)| b);
            return pos + col;
        }
        pos += l.len();
    }
    text.len()
}

/// Every problem of a definition, each with its place and a snippet.
pub fn render_definition_error(err: &DefinitionError) -> String {
    let file = SimpleFile::new(err.path.as_str(), err.text.as_str());
    let config = Config::default();
    let mut out = String::new();
    for p in &err.problems {
        let mut diag = Diagnostic::error().with_message(&p.message);
        let line_len =
            p.at.and_then(|at| err.text.lines().nth(at.line.saturating_sub(1)))
                .map_or(0, str::len);
        match p.at {
            // A snippet of a very long line (minified or hostile input) would drown the message.
            Some(at) if !err.text.is_empty() && line_len <= MAX_SNIPPET_LINE => {
                let start = offset(&err.text, at.line, at.column);
                let end = err.text[start..]
                    .find(['\n', ':'])
                    .map_or(err.text.len(), |n| start + n.max(1))
                    .min(err.text.len());
                diag = diag.with_labels(vec![Label::primary((), start..end.max(start))]);
            }
            Some(at) => {
                diag = diag.with_notes(vec![format!("at {}:{}:{}", err.path, at.line, at.column)]);
            }
            None => diag = diag.with_notes(vec![format!("in {}", err.path)]),
        }
        if let Some(h) = &p.hint {
            diag = diag.with_notes(vec![format!("hint: {h}")]);
        }
        let buf = term::emit_into_string(&config, &file, &diag).unwrap_or_else(|_| match p.at {
            Some(at) => format!(
                "error: {}\n --> {}:{}:{}\n",
                p.message, err.path, at.line, at.column
            ),
            None => format!("error: {}\n --> {}\n", p.message, err.path),
        });
        out.push_str(&buf);
    }
    out
}
