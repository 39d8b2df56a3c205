//! `${{ inputs.NAME }}`, `${{ steps.STEP.outputs.KEY }}` and `${{ item }}` templates.
//!
//! In shell commands a template is never spliced into the command text: it becomes a variable
//! reference to `CORTEX_TPL_n`, written for the quoting it stands in (a small POSIX `sh` lexer
//! tells which), and the value travels in the environment, where a shell never re-reads it as
//! code. Where no reference can expand (a quoted here-document) `validate` refuses the template.
//! In prompts and env values (plain data) the value is substituted.

use std::borrow::Cow;

/// What a template refers to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Reference {
    Input(String),
    /// An output of a step or phase; `step` may name one item of a `foreach:` step
    /// (`deploy[0]`).
    StepOutput {
        step: String,
        key: String,
    },
    /// The item of a `foreach:` step or phase.
    Item,
}

/// One `${{ ... }}` in a text, by byte range, with what it refers to or why it is invalid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Occurrence {
    pub start: usize,
    pub end: usize,
    pub reference: Result<Reference, String>,
}

fn parse_reference(expr: &str) -> Result<Reference, String> {
    let expr = expr.trim();
    if expr == "item" {
        return Ok(Reference::Item);
    }
    if let Some(name) = expr.strip_prefix("inputs.") {
        if !name.is_empty() && !name.contains(char::is_whitespace) {
            return Ok(Reference::Input(name.to_string()));
        }
    } else if let Some(rest) = expr
        .strip_prefix("steps.")
        .or_else(|| expr.strip_prefix("phases."))
        && let Some((step, key)) = rest.split_once(".outputs.")
        && !step.is_empty()
        && !key.is_empty()
        && !key.contains(char::is_whitespace)
    {
        return Ok(Reference::StepOutput {
            step: step.to_string(),
            key: key.to_string(),
        });
    }
    // A reference as an `if:` writes it (`steps['Run tests'].outputs.passed`,
    // `steps.deploy[0].outputs.url`): the two languages name steps alike. Before, a template
    // refused the bracket form `if:` documents, without saying which form it takes.
    if let Ok(super::expr::Expr::Ref(reference, _)) = super::expr::parse(expr) {
        return Ok(reference);
    }
    Err(format!(
        "`${{{{ {expr} }}}}` is not a template cortex knows; use `${{{{ inputs.NAME }}}}`, `${{{{ steps.STEP.outputs.KEY }}}}` (a step named with spaces or quotes in brackets, as in `if:`: `${{{{ steps['Run tests'].outputs.KEY }}}}`), in a scenario `${{{{ phases.PHASE.outputs.KEY }}}}`, or in a `foreach:` step `${{{{ item }}}}`; to write a literal `${{{{` (a GitHub Actions expression in a prompt), write `$${{{{`"
    ))
}

/// The escape for a literal `${{`: `$${{` is the text `${{`, never a template (GitHub Actions
/// has no escape of its own; a prompt asking for a workflow with `${{ secrets.TOKEN }}` writes
/// `$${{ secrets.TOKEN }}`). Every `${{` right after a `$` is escaped: `$$${{` is `$${{`.
pub const ESCAPE: &str = "$${{";

/// Every template in `text` (`${{ ... }}`, lazily to the first `}}`; it may span lines); an
/// unclosed `${{` is reported as an invalid occurrence. An escaped `$${{` ([`ESCAPE`]) is not
/// a template: it is text, which [`unescape`] turns into `${{` wherever text is rendered.
pub fn scan(text: &str) -> Vec<Occurrence> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(found) = text[from..].find("${{") {
        let start = from + found;
        if start > 0 && text.as_bytes()[start - 1] == b'$' {
            from = start + 3;
            continue;
        }
        let Some(close) = text[start + 3..].find("}}") else {
            out.push(Occurrence {
                start,
                end: text.len(),
                reference: Err(
                    "`${{` is never closed with `}}` (to write a literal `${{`, write `$${{`)"
                        .to_string(),
                ),
            });
            break;
        };
        let end = start + 3 + close + 2;
        out.push(Occurrence {
            start,
            end,
            reference: parse_reference(&text[start + 3..end - 2]),
        });
        from = end;
    }
    out
}

/// Text between templates as it reads: each escaped `$${{` ([`ESCAPE`]) is `${{`. Only for the
/// text between the occurrences [`scan`] finds (where every `${{` is escaped).
pub fn unescape(text: &str) -> Cow<'_, str> {
    if text.contains(ESCAPE) {
        Cow::Owned(text.replace(ESCAPE, "${{"))
    } else {
        Cow::Borrowed(text)
    }
}

/// One piece of a text, in order: the text between templates as it reads, or a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment<'a> {
    /// Text between templates (possibly empty), [`unescape`]d: each `$${{` is `${{`.
    Text(Cow<'a, str>),
    /// A template ([`scan`]), with the text it is written as (`${{ inputs.x }}`).
    Template(Occurrence, &'a str),
}

/// `text` cut into the literal text between its templates (unescaped) and the templates
/// ([`scan`]), in order: the one walk every renderer makes, each saying only what a template
/// becomes.
pub fn segments(text: &str) -> impl Iterator<Item = Segment<'_>> {
    let occurrences = scan(text);
    let tail = occurrences.last().map_or(0, |o| o.end);
    let mut last = 0;
    occurrences
        .into_iter()
        .flat_map(move |occ| {
            let before = Segment::Text(unescape(&text[last..occ.start]));
            last = occ.end;
            let raw = &text[occ.start..occ.end];
            [before, Segment::Template(occ, raw)]
        })
        .chain(std::iter::once(Segment::Text(unescape(&text[tail..]))))
}

/// Substitute values into plain text. Unknown references stay as written: a text as it is
/// shown before it runs. What a command reads goes through [`render_value`] (an `env:` value)
/// or [`render_shell`] (a `run:` command), and a prompt through `RunState::render_prompt_with`.
pub fn render_text(text: &str, resolve: &dyn Fn(&Reference) -> Option<String>) -> String {
    segments(text)
        .map(|segment| match segment {
            Segment::Text(text) => text,
            Segment::Template(occ, raw) => occ
                .reference
                .as_ref()
                .ok()
                .and_then(resolve)
                .map_or(Cow::Borrowed(raw), Cow::Owned),
        })
        .collect()
}

/// The value a command reads for a template: the value `resolve` gives, or empty for a
/// template the run has no value for (or one cortex refuses, which `validate` reports). The one
/// rule for what a command sees, whether the template stands in its `run:` text
/// ([`render_shell`]) or in its `env:` ([`render_value`]).
fn command_value(
    reference: &Result<Reference, String>,
    resolve: &dyn Fn(&Reference) -> Option<String>,
) -> String {
    reference
        .as_ref()
        .ok()
        .and_then(resolve)
        .unwrap_or_default()
}

/// Substitute values into data a command reads (an `env:` value): plain substitution, a
/// template the run has no value for empty, exactly as in its `run:` text ([`command_value`]),
/// never the raw `${{ ... }}`.
pub fn render_value(text: &str, resolve: &dyn Fn(&Reference) -> Option<String>) -> String {
    segments(text)
        .map(|segment| match segment {
            Segment::Text(text) => text,
            Segment::Template(occ, _) => command_value(&occ.reference, resolve).into(),
        })
        .collect()
}

/// Rewrite a shell command so that every template becomes a reference to a variable
/// `CORTEX_TPL_n`, written for where it stands ([`shell_contexts`]): `"${CORTEX_TPL_n}"`
/// outside quotes (one word, never split or globbed), `${CORTEX_TPL_n}` in double quotes or an
/// unquoted here-document, `'"${CORTEX_TPL_n}"'` in single quotes (the quote closed and
/// reopened around it). Returns the command and the variables to put in its environment. A
/// value is never part of the text. A template cortex refuses (`validate` says where and why)
/// is written as `${CORTEX_TPL_n}`.
pub fn render_shell(
    command: &str,
    resolve: &dyn Fn(&Reference) -> Option<String>,
) -> (String, Vec<(String, String)>) {
    let mut contexts = shell_contexts(command).into_iter();
    let mut env = Vec::new();
    let out = segments(command)
        .map(|segment| match segment {
            Segment::Text(text) => text,
            Segment::Template(occ, _) => {
                let var = format!("CORTEX_TPL_{}", env.len());
                let written = match contexts.next() {
                    Some(Ok(ShellContext::Unquoted)) => format!("\"${{{var}}}\""),
                    Some(Ok(ShellContext::Single)) => format!("'\"${{{var}}}\"'"),
                    Some(
                        Ok(ShellContext::Double | ShellContext::Heredoc | ShellContext::Comment)
                        | Err(_),
                    )
                    | None => format!("${{{var}}}"),
                };
                env.push((var, command_value(&occ.reference, resolve)));
                written.into()
            }
        })
        .collect();
    (out, env)
}

/// Where a template stands in the POSIX shell text of a `run:` command, as far as cortex's
/// lexer can tell: what the shell would do with a variable reference written there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShellContext {
    /// Outside quotes (also inside `$(...)`, backquotes or `${...}` outside quotes).
    Unquoted,
    /// Inside double quotes.
    Double,
    /// Inside single quotes: closed, the reference spliced in double quotes, reopened.
    Single,
    /// In the body of a here-document whose delimiter is unquoted (`<<EOF`).
    Heredoc,
    /// In a comment: nothing reads it.
    Comment,
}

/// A template standing where no variable reference can be written for it: its byte offset in
/// the command, what is wrong and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub start: usize,
    pub message: String,
    pub hint: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Frame {
    Top,
    /// `$(...)`, with its open parentheses.
    Command(u32),
    Backquote,
    /// `${...}` outside double quotes.
    Param,
    Double,
    /// `${...}` inside double quotes.
    DoubleParam,
    Single,
    DollarSingle,
    /// `$((...))`, with its open parentheses.
    Arith(u32),
}

struct Heredoc {
    delimiter: String,
    strip_tabs: bool,
    quoted: bool,
}

const HEREDOC_HINT: &str = "write the delimiter unquoted (`<<EOF`): the value is still never read as shell code (escape any other `$` in the body as `\\$`); or give the value a name with the step's `env:` (`VERSION: \"${{ inputs.version }}\"`) and write `$VERSION` where the shell expands it";

/// Where each template of `command` (in the order of [`scan`]) stands in its shell quoting,
/// or why cortex refuses it there. The lexer follows POSIX `sh`: single and double quotes,
/// backslash escapes, `$(...)`, backquotes, `${...}`, `$((...))`, comments and here-documents.
pub fn shell_contexts(command: &str) -> Vec<Result<ShellContext, Refusal>> {
    let occurrences = scan(command);
    let mut found: Vec<Option<Result<ShellContext, Refusal>>> = vec![None; occurrences.len()];
    let starts: std::collections::HashMap<usize, usize> = occurrences
        .iter()
        .enumerate()
        .map(|(n, o)| (o.start, n))
        .collect();
    let bytes = command.as_bytes();
    let shown_at = |n: usize| {
        let o = &occurrences[n];
        command[o.start..o.end].replace('\n', " ")
    };
    let refuse = |n: usize, message: String, hint: &str| {
        Err(Refusal {
            start: occurrences[n].start,
            message,
            hint: hint.to_string(),
        })
    };
    let escaped = |n: usize| {
        refuse(
            n,
            format!(
                "template `{}` follows a backslash, which makes the shell print the variable reference itself instead of the value",
                shown_at(n)
            ),
            "remove the backslash before `${{`",
        )
    };
    let mut stack = vec![Frame::Top];
    let mut pending: Vec<Heredoc> = Vec::new();
    let mut unsure: Option<String> = None;
    let mut i = 0;
    while i < bytes.len() {
        let frame = *stack.last().unwrap_or(&Frame::Top);
        if let Some(&n) = starts.get(&i) {
            found[n] = Some(match (&unsure, frame) {
                (Some(why), _) => refuse(
                    n,
                    format!(
                        "cortex cannot tell how the shell reads template `{}`: {why}",
                        shown_at(n)
                    ),
                    "simplify the command around it, or give the value a name with the step's `env:` (`VALUE: \"${{ inputs.x }}\"`) and write `\"$VALUE\"`",
                ),
                (None, Frame::Top | Frame::Command(_) | Frame::Backquote | Frame::Param) => {
                    Ok(ShellContext::Unquoted)
                }
                (None, Frame::Double | Frame::DoubleParam) => Ok(ShellContext::Double),
                (None, Frame::Single) => Ok(ShellContext::Single),
                (None, Frame::DollarSingle) => refuse(
                    n,
                    format!(
                        "template `{}` stands inside `$'...'`, which /bin/sh may not know (dash reads it as `$` and a single-quoted text)",
                        shown_at(n)
                    ),
                    "write it inside '...' or \"...\" instead of `$'...'`",
                ),
                (None, Frame::Arith(_)) => refuse(
                    n,
                    format!(
                        "template `{}` stands inside `$((...))`, where a shell evaluates its value as arithmetic (some shells run commands written in it)",
                        shown_at(n)
                    ),
                    "give the value a name with the step's `env:` (`N: \"${{ inputs.n }}\"`), check it is a number (`case $N in *[!0-9]*) exit 1;; esac`), then write `$((N + 1))`",
                ),
            });
            i = occurrences[n].end;
            continue;
        }
        let c = bytes[i];
        let next = bytes.get(i + 1).copied();
        let unquoted = matches!(
            frame,
            Frame::Top | Frame::Command(_) | Frame::Backquote | Frame::Param
        );
        match frame {
            Frame::Single => {
                if c == b'\'' {
                    stack.pop();
                }
                i += 1;
                continue;
            }
            Frame::DollarSingle => {
                match c {
                    b'\\' => i += 1,
                    b'\'' => {
                        stack.pop();
                    }
                    _ => {}
                }
                i += 1;
                continue;
            }
            Frame::Arith(depth) => {
                match c {
                    b'(' => *stack.last_mut().expect("frame") = Frame::Arith(depth + 1),
                    b')' if depth == 0 => {
                        stack.pop();
                        i += 1;
                    }
                    b')' => *stack.last_mut().expect("frame") = Frame::Arith(depth - 1),
                    _ => {}
                }
                i += 1;
                continue;
            }
            _ => {}
        }
        match c {
            b'\\' => {
                if let Some(&n) = starts.get(&(i + 1)) {
                    found[n] = Some(escaped(n));
                    i = occurrences[n].end;
                } else {
                    i += 2;
                }
                continue;
            }
            b'"' if matches!(frame, Frame::Double) => {
                stack.pop();
            }
            b'"' => stack.push(Frame::Double),
            b'\'' if unquoted => stack.push(Frame::Single),
            b'`' if frame == Frame::Backquote => {
                stack.pop();
            }
            b'`' => stack.push(Frame::Backquote),
            b'}' if matches!(frame, Frame::Param | Frame::DoubleParam) => {
                stack.pop();
            }
            b'$' => match next {
                Some(b'\'') if unquoted => {
                    stack.push(Frame::DollarSingle);
                    i += 1;
                }
                Some(b'(') if bytes.get(i + 2) == Some(&b'(') => {
                    stack.push(Frame::Arith(0));
                    i += 2;
                }
                Some(b'(') => {
                    stack.push(Frame::Command(0));
                    i += 1;
                }
                Some(b'{') if !starts.contains_key(&i) => {
                    stack.push(if unquoted {
                        Frame::Param
                    } else {
                        Frame::DoubleParam
                    });
                    i += 1;
                }
                _ => {}
            },
            // `case WORD in PATTERN) ...` inside `$(...)`: a pattern's `)` is not the end of the
            // substitution, which this lexer does not follow; what comes after is unsure.
            b'c' if matches!(frame, Frame::Command(_))
                && (i == 0 || b" \t\n;&|(".contains(&bytes[i - 1]))
                && command[i..].starts_with("case")
                && bytes.get(i + 4).is_some_and(|b| b" \t\n".contains(b)) =>
            {
                unsure.get_or_insert_with(|| {
                    "it follows a `case` inside `$(...)`, whose `)` patterns cortex's lexer does not follow".to_string()
                });
            }
            b'(' if let Frame::Command(depth) = frame => {
                *stack.last_mut().expect("frame") = Frame::Command(depth + 1);
            }
            b')' if let Frame::Command(depth) = frame => {
                if depth == 0 {
                    stack.pop();
                } else {
                    *stack.last_mut().expect("frame") = Frame::Command(depth - 1);
                }
            }
            b'#' if unquoted
                && frame != Frame::Param
                && (i == 0 || b" \t\n;&|()<>".contains(&bytes[i - 1])) =>
            {
                // A comment, to the end of the line; a template in it is never read.
                while i < bytes.len() && bytes[i] != b'\n' {
                    if let Some(&n) = starts.get(&i) {
                        found[n] = Some(Ok(ShellContext::Comment));
                        i = occurrences[n].end;
                    } else {
                        i += 1;
                    }
                }
                continue;
            }
            b'<' if unquoted && frame != Frame::Param && next == Some(b'<') => {
                if bytes.get(i + 2) == Some(&b'<') {
                    i += 3;
                    continue;
                }
                i += 2;
                let strip_tabs = bytes.get(i) == Some(&b'-');
                if strip_tabs {
                    i += 1;
                }
                while matches!(bytes.get(i), Some(b' ' | b'\t')) {
                    i += 1;
                }
                let mut delimiter = Vec::new();
                let mut quoted = false;
                while i < bytes.len() && !b" \t\n;&|()<>".contains(&bytes[i]) {
                    if starts.contains_key(&i) {
                        unsure.get_or_insert_with(|| {
                            "a template is the delimiter of a here-document".to_string()
                        });
                        i += 1;
                        continue;
                    }
                    match bytes[i] {
                        q @ (b'\'' | b'"') => {
                            quoted = true;
                            i += 1;
                            while i < bytes.len() && bytes[i] != q {
                                delimiter.push(bytes[i]);
                                i += 1;
                            }
                        }
                        b'\\' => {
                            quoted = true;
                            i += 1;
                            if let Some(&b) = bytes.get(i) {
                                delimiter.push(b);
                            }
                        }
                        b => delimiter.push(b),
                    }
                    i += 1;
                }
                if delimiter.is_empty() {
                    unsure.get_or_insert_with(|| {
                        "a here-document (`<<`) has no delimiter cortex can read".to_string()
                    });
                }
                pending.push(Heredoc {
                    delimiter: String::from_utf8_lossy(&delimiter).into_owned(),
                    strip_tabs,
                    quoted,
                });
                continue;
            }
            b'\n' if unquoted && !pending.is_empty() => {
                i += 1;
                for doc in std::mem::take(&mut pending) {
                    i = heredoc_body(command, i, &doc, &starts, &occurrences, &mut found);
                }
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    found
        .into_iter()
        .enumerate()
        .map(|(n, f)| {
            f.unwrap_or_else(|| {
                refuse(
                    n,
                    format!(
                        "cortex cannot tell how the shell reads template `{}`",
                        shown_at(n)
                    ),
                    "simplify the command around it, or give the value a name with the step's `env:` and write `\"$NAME\"`",
                )
            })
        })
        .collect()
}

/// Read a here-document body starting at byte `i` to the line after its delimiter, placing
/// the templates in it; returns where the command goes on.
fn heredoc_body(
    command: &str,
    mut i: usize,
    doc: &Heredoc,
    starts: &std::collections::HashMap<usize, usize>,
    occurrences: &[Occurrence],
    found: &mut [Option<Result<ShellContext, Refusal>>],
) -> usize {
    let bytes = command.as_bytes();
    let mut substitution = false;
    while i < bytes.len() {
        // At the start of a line: the delimiter ends the body.
        let end = command[i..].find('\n').map_or(command.len(), |e| i + e);
        let line = &command[i..end];
        let line = if doc.strip_tabs {
            line.trim_start_matches('\t')
        } else {
            line
        };
        if line == doc.delimiter {
            return (end + 1).min(command.len());
        }
        while i < bytes.len() && bytes[i] != b'\n' {
            if let Some(&n) = starts.get(&i) {
                let shown = command[occurrences[n].start..occurrences[n].end].replace('\n', " ");
                found[n] = Some(if doc.quoted {
                    Err(Refusal {
                        start: i,
                        message: format!(
                            "template `{shown}` stands in a here-document whose delimiter is quoted (`<<'{}'`), where no variable expands: the command would see the text `${{CORTEX_TPL_n}}`, not the value",
                            doc.delimiter
                        ),
                        hint: HEREDOC_HINT.to_string(),
                    })
                } else if substitution {
                    Err(Refusal {
                        start: i,
                        message: format!(
                            "cortex cannot tell how the shell reads template `{shown}`: it follows a command substitution in a here-document"
                        ),
                        hint: "give the value a name with the step's `env:` (`VALUE: \"${{ inputs.x }}\"`) and write `$VALUE`".to_string(),
                    })
                } else {
                    Ok(ShellContext::Heredoc)
                });
                i = occurrences[n].end;
                continue;
            }
            match bytes[i] {
                b'\\' if !doc.quoted => {
                    if let Some(&n) = starts.get(&(i + 1)) {
                        found[n] = Some(Err(Refusal {
                            start: i + 1,
                            message: "a template follows a backslash, which makes the shell print the variable reference itself instead of the value".to_string(),
                            hint: "remove the backslash before `${{`".to_string(),
                        }));
                        i = occurrences[n].end;
                        continue;
                    }
                    i += 1;
                }
                b'`' => substitution = true,
                b'$' if bytes.get(i + 1) == Some(&b'(') => substitution = true,
                _ => {}
            }
            i += 1;
        }
        i += 1;
    }
    i
}

/// A template pasted into code that another shell reads: the script of `sh -c` (`bash -c`,
/// `su -c`, `xargs sh -c`, ...), the text `eval` runs, the command `ssh` hands to the remote
/// shell. cortex's shell gets the value as data (a variable reference), but expands it into
/// that argument, and the inner shell then reads it as code: a `$(...)` in the value runs.
/// Warned of, not refused (a value cortex itself wrote may be safe there).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nested {
    /// Where the template starts in the command.
    pub start: usize,
    pub message: String,
    pub hint: String,
}

/// A word of a simple command as the lexer of [`nested_shells`] reads it: its text with quotes
/// and escapes taken off (each template as `\0`), and the templates in it.
#[derive(Default)]
struct Word {
    text: String,
    templates: Vec<usize>,
    started: bool,
}

fn take(word: &mut Word, b: u8) {
    word.started = true;
    word.text.push(char::from(b));
}

/// Programs whose `-c` argument is a script another shell reads.
const SHELLS: &[&str] = &[
    "sh", "bash", "dash", "zsh", "ksh", "mksh", "ash", "busybox", "fish", "su",
];

/// Programs that run the command after their options (and `NAME=VALUE` words): `sudo sh`.
const WRAPPERS: &[&str] = &[
    "sudo", "doas", "env", "exec", "command", "nice", "nohup", "time", "stdbuf",
];

/// Options of those that take a value as the next word (`sudo -u root sh`, `nice -n 5 sh`).
const WRAPPER_VALUED: &[&str] = &["-u", "-g", "-C", "-D", "-h", "-p", "-r", "-t", "-n"];

/// Whether the simple command `words`, piped into, reads its standard input as code, and how
/// that is said: a shell given no script (`sh`, `bash -s`, `sudo sh -e`), or `xargs -I R` (`-i`,
/// `--replace`) running a shell whose `-c` script holds `R`.
fn reads_input_as_code(words: &[Word]) -> Option<String> {
    let name = |w: &Word| w.text.rsplit('/').next().unwrap_or_default().to_string();
    let mut k = 0;
    let mut replace: Option<String> = None;
    let mut xargs = false;
    // Past wrappers, their options and `NAME=VALUE` words, to the program run.
    loop {
        let w = words.get(k)?;
        let t = &w.text;
        if t.contains('=') && !t.starts_with('-') && !t.starts_with('=') {
            k += 1;
            continue;
        }
        let program = name(w);
        if WRAPPERS.contains(&program.as_str()) || program == "xargs" {
            xargs |= program == "xargs";
            k += 1;
            while let Some(o) = words.get(k) {
                let t = o.text.as_str();
                if !t.starts_with('-') || t == "-" {
                    break;
                }
                if xargs {
                    if t == "-I" {
                        replace = words.get(k + 1).map(|r| r.text.clone());
                        k += 2;
                        continue;
                    }
                    if let Some(r) = t.strip_prefix("-I") {
                        replace = Some(r.to_string());
                    } else if t == "-i" || t == "--replace" {
                        replace = Some("{}".to_string());
                    } else if let Some(r) = t
                        .strip_prefix("--replace=")
                        .or_else(|| t.strip_prefix("-i"))
                    {
                        replace = Some(r.to_string());
                    } else if matches!(t, "-n" | "-L" | "-P" | "-d" | "-E" | "-s" | "-a") {
                        k += 2;
                        continue;
                    }
                } else if WRAPPER_VALUED.contains(&t) {
                    k += 2;
                    continue;
                }
                k += 1;
            }
            continue;
        }
        break;
    }
    let program = name(words.get(k)?);
    if !SHELLS.contains(&program.as_str()) || program == "su" || program == "busybox" {
        return None;
    }
    // Its options: a `-c` script, or an operand (a script file) unless after `-s`.
    let mut j = k + 1;
    let mut stdin = false;
    while let Some(w) = words.get(j) {
        let t = w.text.as_str();
        if t == "-o" || t == "+o" {
            j += 2;
            continue;
        }
        if t == "-" || t == "--" {
            stdin = true;
            break;
        }
        if (t.starts_with('-') || t.starts_with('+')) && !t.starts_with("--") && t.len() > 1 {
            if t[1..].contains('c') {
                // `xargs -I R sh -c SCRIPT`: the input lands in SCRIPT where R is.
                let script = words.get(j + 1)?;
                return replace
                    .filter(|r| !r.is_empty() && script.text.contains(r.as_str()))
                    .map(|r| {
                        format!("the script of `{program} -c`, where `xargs` puts the text piped into it (`{r}`)")
                    });
            }
            stdin |= t[1..].contains('s');
            j += 1;
            continue;
        }
        if t.starts_with("--") {
            j += 1;
            continue;
        }
        break;
    }
    // An operand is the script file (its arguments follow `-s`): none, or `-s`, reads stdin.
    (!xargs && (stdin || j >= words.len())).then(|| format!("the script piped into `{program}`"))
}

/// ssh options that take a value (`ssh -p 22 host CMD`).
const SSH_VALUED: &str = "BbcDEeFIiJLlmOoPpQRSWw";

/// Every template of `command` that stands in code a nested shell reads (see [`Nested`]). The
/// command is split into simple commands and words as `sh` reads them (quotes, escapes,
/// `$(...)` kept inside its word, comments); a template is flagged in the word after a shell's
/// `-c` (or an option cluster holding `c`: `-ec`), in any argument of `eval`, and in any word
/// after `ssh`'s host. Passing a value as an argument after the script (`sh -c 'echo "$1"' _
/// "${{ x }}"`) is what it is told to do, and is not flagged.
pub fn nested_shells(command: &str) -> Vec<Nested> {
    let occurrences = scan(command);
    let starts: std::collections::HashMap<usize, usize> = occurrences
        .iter()
        .enumerate()
        .map(|(n, o)| (o.start, n))
        .collect();
    let bytes = command.as_bytes();
    let mut commands: Vec<Vec<Word>> = Vec::new();
    let mut words: Vec<Word> = Vec::new();
    let mut word = Word::default();
    let end_word = |word: &mut Word, words: &mut Vec<Word>| {
        if word.started {
            words.push(std::mem::take(word));
        }
    };
    #[derive(PartialEq)]
    enum Quote {
        None,
        Single,
        Double,
        DollarSingle,
    }
    let mut quote = Quote::None;
    // Whether each simple command reads the standard output of the one before (`a | b`).
    let mut piped: Vec<bool> = Vec::new();
    let mut piped_in = false;
    // Open `$(` / `(` inside a word's `$(...)` (their separators do not split it).
    let mut depth = 0u32;
    let mut i = 0;
    while i < bytes.len() {
        if let Some(&n) = starts.get(&i) {
            word.started = true;
            word.text.push('\0');
            word.templates.push(n);
            i = occurrences[n].end;
            continue;
        }
        let c = bytes[i];
        let next = bytes.get(i + 1).copied();
        match quote {
            Quote::Single => {
                if c == b'\'' {
                    quote = Quote::None;
                } else {
                    take(&mut word, c);
                }
                i += 1;
                continue;
            }
            Quote::DollarSingle => {
                match c {
                    b'\\' => i += 1,
                    b'\'' => quote = Quote::None,
                    _ => take(&mut word, c),
                }
                i += 1;
                continue;
            }
            Quote::Double => {
                match c {
                    b'\\' => {
                        if let Some(b) = next {
                            take(&mut word, b);
                        }
                        i += 1;
                    }
                    b'"' => quote = Quote::None,
                    _ => take(&mut word, c),
                }
                i += 1;
                continue;
            }
            Quote::None => {}
        }
        match c {
            b'\\' => {
                if let Some(b) = next.filter(|b| *b != b'\n') {
                    take(&mut word, b);
                }
                i += 2;
                continue;
            }
            b'\'' => {
                word.started = true;
                quote = Quote::Single;
            }
            b'"' => {
                word.started = true;
                quote = Quote::Double;
            }
            b'$' if next == Some(b'\'') => {
                word.started = true;
                quote = Quote::DollarSingle;
                i += 1;
            }
            b'$' if next == Some(b'(') => {
                take(&mut word, c);
                take(&mut word, b'(');
                depth += 1;
                i += 1;
            }
            b'(' if depth > 0 => {
                take(&mut word, c);
                depth += 1;
            }
            b')' if depth > 0 => {
                take(&mut word, c);
                depth -= 1;
            }
            _ if depth > 0 => take(&mut word, c),
            b' ' | b'\t' => end_word(&mut word, &mut words),
            b'|' if next == Some(b'|') => {
                end_word(&mut word, &mut words);
                commands.push(std::mem::take(&mut words));
                piped.push(std::mem::replace(&mut piped_in, false));
                i += 2;
                continue;
            }
            b'\n' | b';' | b'&' | b'|' | b'(' | b')' => {
                end_word(&mut word, &mut words);
                commands.push(std::mem::take(&mut words));
                piped.push(std::mem::replace(&mut piped_in, c == b'|'));
                // `|&` pipes standard error too.
                if c == b'|' && next == Some(b'&') {
                    i += 1;
                }
            }
            b'#' if !word.started => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            _ => take(&mut word, c),
        }
        i += 1;
    }
    end_word(&mut word, &mut words);
    commands.push(words);
    piped.push(piped_in);
    let mut found = Vec::new();
    let shown_at = |n: usize| {
        let o = &occurrences[n];
        command[o.start..o.end].replace('\n', " ")
    };
    for (ci, words) in commands.iter().enumerate() {
        let name = |w: &Word| w.text.rsplit('/').next().unwrap_or_default().to_string();
        let flag = |w: &Word, how: &str, found: &mut Vec<Nested>| {
            for &n in &w.templates {
                found.push(Nested {
                    start: occurrences[n].start,
                    message: format!(
                        "template `{}` is pasted into {how}, which reads its value as code: a `$(...)`, `;` or quote in the value runs there (cortex's own shell keeps it data, the nested one does not)",
                        shown_at(n)
                    ),
                    hint: "pass it as an argument or an environment variable instead: `sh -c 'echo \"$1\"' _ \"${{ ... }}\"`, or name it with `env:` (`TITLE: \"${{ ... }}\"`) and write `\"$TITLE\"` in the script".to_string(),
                });
            }
        };
        // Piped into a shell that reads its standard input as its script (`| sh`, `| sudo
        // bash`), or into `xargs -I R sh -c '... R ...'`: what the command before writes is
        // code there, and so are its templates.
        if piped[ci]
            && ci > 0
            && let Some(how) = reads_input_as_code(words)
        {
            for w in &commands[ci - 1] {
                flag(w, &how, &mut found);
            }
        }
        let mut k = 0;
        while k < words.len() {
            let program = name(&words[k]);
            if SHELLS.contains(&program.as_str()) {
                // Its options up to the script: `-c`, or a cluster with `c` (`-ec`, `-lc`).
                let mut j = k + 1;
                let mut script = None;
                while let Some(w) = words.get(j) {
                    let t = &w.text;
                    if t == "-o" || t == "+o" {
                        j += 2;
                        continue;
                    }
                    if (t.starts_with('-') || t.starts_with('+'))
                        && !t.starts_with("--")
                        && t.len() > 1
                    {
                        if t[1..].chars().all(|c| c.is_ascii_alphabetic()) && t.contains('c') {
                            script = Some(j + 1);
                        }
                        j += 1;
                        if script.is_some() {
                            break;
                        }
                        continue;
                    }
                    break;
                }
                if let Some(w) = script.and_then(|j| words.get(j)) {
                    flag(w, &format!("the script of `{program} -c`"), &mut found);
                    k = script.unwrap_or(k) + 1;
                    continue;
                }
            } else if program == "eval" {
                for w in &words[k + 1..] {
                    flag(w, "the text `eval` runs", &mut found);
                }
                break;
            } else if program == "ssh" {
                let mut j = k + 1;
                while let Some(w) = words.get(j) {
                    let t = &w.text;
                    if t.starts_with('-') && t.len() > 1 {
                        let last = t.chars().last().unwrap_or('-');
                        j += if t.len() == 2 && SSH_VALUED.contains(last) {
                            2
                        } else {
                            1
                        };
                        continue;
                    }
                    break;
                }
                // `words[j]` is the host; what follows is the remote shell's command.
                for w in words.iter().skip(j + 1) {
                    flag(w, "the command `ssh` hands to the remote shell", &mut found);
                }
                break;
            }
            k += 1;
        }
    }
    found.sort_by_key(|f| f.start);
    found.dedup_by_key(|f| f.start);
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(r: &Reference) -> Option<String> {
        match r {
            Reference::Input(n) if n == "version" => Some("1.2.3".into()),
            Reference::StepOutput { step, key } if step == "Build" && key == "bin" => {
                Some("$(touch x); touch y".into())
            }
            _ => None,
        }
    }

    #[test]
    fn shell_templates_become_variable_references() {
        let (cmd, env) = render_shell(
            "echo ${{ inputs.version }} \"${{steps.Build.outputs.bin}}\"",
            &resolve,
        );
        assert_eq!(cmd, "echo \"${CORTEX_TPL_0}\" \"${CORTEX_TPL_1}\"");
        assert_eq!(env[1].1, "$(touch x); touch y");
    }

    #[test]
    fn text_templates_are_substituted() {
        assert_eq!(
            render_text("v${{ inputs.version }}", &resolve),
            "v1.2.3".to_string()
        );
    }

    #[test]
    fn templates_may_span_lines() {
        let (cmd, env) = render_shell(
            "echo ${{ inputs.version\n}} ${{ inputs.version }}",
            &resolve,
        );
        assert_eq!(cmd, "echo \"${CORTEX_TPL_0}\" \"${CORTEX_TPL_1}\"");
        assert_eq!(env.len(), 2);
    }

    #[test]
    fn bad_and_unclosed_templates_are_reported() {
        let occ = scan("a ${{ env.HOME }} b ${{ inputs.x");
        assert_eq!(occ.len(), 2);
        assert!(occ.iter().all(|o| o.reference.is_err()));
    }

    #[test]
    fn an_escaped_template_is_text_never_a_template() {
        let text = "a $${{ secrets.T }} b ${{ inputs.version }} $$${{ x }} $${{ open";
        let occ = scan(text);
        assert_eq!(occ.len(), 1, "{occ:?}");
        assert_eq!(occ[0].reference, Ok(Reference::Input("version".into())));
        assert_eq!(
            render_text(text, &resolve),
            "a ${{ secrets.T }} b 1.2.3 $${{ x }} ${{ open"
        );
        assert_eq!(
            render_value(text, &resolve),
            "a ${{ secrets.T }} b 1.2.3 $${{ x }} ${{ open"
        );
        let (cmd, env) = render_shell("echo '$${{ secrets.T }}' ${{ inputs.version }}", &resolve);
        assert_eq!(cmd, "echo '${{ secrets.T }}' \"${CORTEX_TPL_0}\"");
        assert_eq!(env.len(), 1);
    }

    fn contexts(command: &str) -> Vec<Result<ShellContext, ()>> {
        shell_contexts(command)
            .into_iter()
            .map(|c| c.map_err(|_| ()))
            .collect()
    }

    #[test]
    fn the_lexer_follows_shell_quoting_to_each_template() {
        use ShellContext::*;
        let t = "${{ inputs.version }}";
        let cases: Vec<(String, Vec<Result<ShellContext, ()>>)> = vec![
            (
                format!("echo {t} \"{t}\" '{t}'"),
                vec![Ok(Unquoted), Ok(Double), Ok(Single)],
            ),
            (
                format!("echo \"it's {t}\" 'a\"b' {t}"),
                vec![Ok(Double), Ok(Unquoted)],
            ),
            (
                format!("echo \"$(echo '{t}')\" `echo {t}`"),
                vec![Ok(Single), Ok(Unquoted)],
            ),
            (
                format!("echo \\' {t} # '{t}\necho {t}"),
                vec![Ok(Unquoted), Ok(Comment), Ok(Unquoted)],
            ),
            (format!("echo a#{t}"), vec![Ok(Unquoted)]),
            (
                format!("cat <<EOF\n'{t}'\nEOF\necho '{t}'"),
                vec![Ok(Heredoc), Ok(Single)],
            ),
            (
                format!("cat <<-\"EOF\"\n\t{t}\n\tEOF\necho {t}"),
                vec![Err(()), Ok(Unquoted)],
            ),
            (
                format!("echo $(( {t} )) $'{t}' \\{t} \"\\{t}\""),
                vec![Err(()), Err(()), Err(()), Err(())],
            ),
            (
                format!("echo ${{X:-{t}}} \"${{X:-{t}}}\""),
                vec![Ok(Unquoted), Ok(Double)],
            ),
            (
                format!("echo {t} \"$(case a in a) echo 1;; esac)\" {t}"),
                vec![Ok(Unquoted), Err(())],
            ),
        ];
        for (command, want) in cases {
            assert_eq!(contexts(&command), want, "{command:?}");
        }
    }

    #[test]
    fn templates_in_a_nested_shells_script_are_found_and_arguments_are_not() {
        let flagged = |cmd: &str| -> Vec<String> {
            nested_shells(cmd)
                .into_iter()
                .map(|n| {
                    let o = scan(cmd).into_iter().find(|o| o.start == n.start).unwrap();
                    cmd[o.start..o.end].to_string()
                })
                .collect()
        };
        let t = "${{ steps.fetch.outputs.title }}";
        for cmd in [
            format!("sh -c 'echo {t}'"),
            format!("bash -c \"echo {t}\""),
            format!("/bin/bash -ec 'printf %s {t}' && true"),
            format!("eval \"echo {t}\""),
            format!("ssh -p 22 host 'echo {t}'"),
            format!("ls | xargs sh -c 'echo {t} \"$1\"' _"),
            format!("echo hi; sudo sh -c \"cat $(echo {t})\""),
            format!("echo \"{t}\" | sh"),
            format!("echo \"{t}\" | bash -s -- arg"),
            format!("printf '%s' {t} |& /bin/bash"),
            format!("echo \"{t}\" | sudo -u root sh"),
            format!("echo {t} | env X=1 dash -e"),
            format!("echo {t} | xargs -I{{}} sh -c 'echo {{}}'"),
            format!("echo {t} | xargs --replace=R bash -c 'echo R'"),
        ] {
            assert_eq!(flagged(&cmd), vec![t.to_string()], "{cmd}");
        }
        for cmd in [
            format!("sh -c 'echo \"$1\"' _ \"{t}\""),
            format!("echo {t}"),
            format!("bash script.sh \"{t}\""),
            format!("ssh \"{t}\" uptime"),
            format!("echo 'sh -c' {t}"),
            format!("# sh -c '{t}'\necho ok"),
            format!("echo {t} | sh script.sh"),
            format!("echo {t} | xargs sh -c 'echo \"$1\"' _"),
            format!("echo {t} || sh"),
            format!("echo {t} | grep x | sh -c 'cat'"),
            format!("echo {t} | cat; sh"),
        ] {
            assert!(flagged(&cmd).is_empty(), "{cmd}: {:?}", flagged(&cmd));
        }
    }

    #[test]
    fn single_quoted_templates_close_and_reopen_the_quote() {
        let (cmd, _) = render_shell("echo '{\"v\": \"${{ inputs.version }}\"}'", &resolve);
        assert_eq!(cmd, "echo '{\"v\": \"'\"${CORTEX_TPL_0}\"'\"}'");
    }
}
