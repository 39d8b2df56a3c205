//! Shell quoting: a suggested command, pasted into a POSIX shell, runs exactly its argv.
//!
//! Every word that is not made only of characters no shell treats specially is put in single
//! quotes, inside which POSIX `sh` expands nothing (`$`, backticks, `\`, `!`, globs, newlines
//! are all literal); a single quote itself is written `'\''` (close, escaped quote, reopen).
//! A NUL cannot be part of an argument at all, so it is shown as `\0` and the word no longer
//! names anything (the command then fails instead of doing something else).

use std::borrow::Cow;

/// Characters that mean nothing to a POSIX shell, or to bash or zsh, anywhere in a word.
fn is_plain(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/' | ':' | ',' | '+' | '@' | '%')
}

/// `word` as one shell word.
pub fn shell_quote(word: &str) -> Cow<'_, str> {
    // `=` is plain except at the start of a zsh word, and `~`/`#` only at the start: quote
    // those cases rather than reason about them.
    if !word.is_empty() && word.chars().all(|c| is_plain(c) || c == '=') && !word.starts_with('=') {
        return Cow::Borrowed(word);
    }
    let mut out = String::with_capacity(word.len() + 2);
    out.push('\'');
    for c in word.chars() {
        match c {
            '\'' => out.push_str("'\\''"),
            '\0' => out.push_str("\\0"),
            c => out.push(c),
        }
    }
    out.push('\'');
    Cow::Owned(out)
}

/// An argv as one line to paste into a shell.
pub fn command_line<S: AsRef<str>>(argv: &[S]) -> String {
    argv.iter()
        .map(|w| shell_quote(w.as_ref()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A command suggested to the user, as printed in a hint or a line of text: `cortex`, the
/// global options that say which home and log the suggestion is about (`--home H`, `--db
/// URL`; none when a bare `cortex` finds them), then `args`, quoted for pasting and set in
/// backticks. Every printed suggestion is made here (`Ctx::cmd`, `ops::Hint`).
pub fn suggested_command<S: AsRef<str>>(globals: &[String], args: &[S]) -> String {
    let argv: Vec<&str> = std::iter::once("cortex")
        .chain(globals.iter().map(String::as_str))
        .chain(args.iter().map(AsRef::as_ref))
        .collect();
    format!("`{}`", command_line(&argv))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_words_stay_as_they_are() {
        assert_eq!(
            command_line(&["cortex", "workflow", "resume", "01JABC", "--run=x"]),
            "cortex workflow resume 01JABC --run=x"
        );
    }

    #[test]
    fn words_with_shell_syntax_are_single_quoted() {
        assert_eq!(shell_quote("rev $(touch pwned)"), "'rev $(touch pwned)'");
        assert_eq!(shell_quote("g'; touch x; '"), r"'g'\''; touch x; '\'''");
        assert_eq!(shell_quote("build docs"), "'build docs'");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("~root"), "'~root'");
        assert_eq!(shell_quote("=cmd"), "'=cmd'");
    }
}
