//! Shell quoting: a suggested command, pasted into a POSIX shell, runs exactly its argv.
//!
//! Every word that is not made only of characters no shell treats specially is put in single
//! quotes, inside which POSIX `sh` expands nothing (`$`, backticks, `\`, `!`, globs, newlines
//! are all literal); a single quote itself is written `'\''` (close, escaped quote, reopen).
//! A NUL cannot be part of an argument at all, so it is shown as `\0` and the word no longer
//! names anything (the command then fails instead of doing something else). A word holding a
//! character a terminal does not show as itself (an escape, a carriage return, a bidi
//! override, a zero-width character), which the printing layer shows escaped, is put in ANSI-C
//! quotes instead (`$'…\x1b…\xe2\x80\xae…'`), so the printed line pastes the very word into bash,
//! zsh, ksh or a POSIX.1-2024 `sh` (Debian 12's dash predates them: there it gives a word
//! starting with `$` and runs nothing else). A newline is written so too (`$'…\n…'`): in
//! single quotes it split the printed command across two lines, and a tool that takes one
//! command a line got an unterminated quote (a home whose path holds a newline). A tab stays
//! in single quotes.

use std::borrow::Cow;

/// Characters that mean nothing to a POSIX shell, or to bash or zsh, anywhere in a word.
fn is_plain(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/' | ':' | ',' | '+' | '@' | '%')
}

/// A character a terminal does not show as itself: a control character (a newline, a tab, an
/// escape) or an invisible format character (bidi overrides and isolates, zero-width ones).
fn is_invisible(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{00AD}' | '\u{061C}' | '\u{180E}' | '\u{200B}'..='\u{200F}'
            | '\u{2028}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}')
}

/// `word` in ANSI-C quotes (`$'…'`, bash, zsh, ksh and POSIX.1-2024 `sh`), each invisible
/// character written as the escapes of its UTF-8 bytes (exact in any locale): in single quotes a newline split the printed line and a
/// bidi override was shown escaped (`\u{202e}`), so the pasted word was another one.
fn ansi_c_quote(word: &str) -> String {
    let mut out = String::with_capacity(word.len() + 3);
    out.push_str("$'");
    for c in word.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            // Not `\'`: a shell that does not know `$'…'` (dash) reads it as a quote that
            // closes there, and the rest of the line unbalanced.
            '\'' => out.push_str("\\x27"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\0' => out.push_str("\\0"),
            // Byte by byte, as UTF-8: `\uXXXX` is decoded by bash only in a UTF-8 locale
            // (under `C` it stays those six characters), `\xHH` in every one.
            c if is_invisible(c) => {
                let mut bytes = [0u8; 4];
                for b in c.encode_utf8(&mut bytes).bytes() {
                    out.push_str(&format!("\\x{b:02x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// `word` as one shell word.
pub fn shell_quote(word: &str) -> Cow<'_, str> {
    // `=` is plain except at the start of a zsh word, and `~`/`#` only at the start: quote
    // those cases rather than reason about them.
    if !word.is_empty() && word.chars().all(|c| is_plain(c) || c == '=') && !word.starts_with('=') {
        return Cow::Borrowed(word);
    }
    // A tab is shown as itself, and pasted so into any POSIX `sh`: single quotes keep it. A
    // newline would end the printed line (the command would span two), and any other
    // invisible character is shown escaped by the printing layer: only ANSI-C quotes give one
    // line that shows it and pastes it.
    if word
        .chars()
        .any(|c| !matches!(c, '\0' | '\t') && is_invisible(c))
    {
        return Cow::Owned(ansi_c_quote(word));
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

/// The words that give `name=value` to `flag` (`--output`, `--input`) in a command: `flag`
/// and the pair, or one word `flag=name=value` when the name starts with `-`, which the
/// parser would read as an option of its own (`--output -x=1` is a usage error; an output key
/// may start with `-`, as a `$CORTEX_OUTPUT` line may write it). Every suggestion that gives
/// a pair is made here.
pub fn pair_args(flag: &str, name: &str, value: &str) -> Vec<String> {
    if name.starts_with('-') {
        vec![format!("{flag}={name}={value}")]
    } else {
        vec![flag.to_string(), format!("{name}={value}")]
    }
}

/// The words that give `value` to `flag` (`--message`, `--actor`, `--run`) in a command:
/// `flag` and the value, or one word `flag=value` when the value starts with `-`, which the
/// parser would read as an option of its own (`--message -x` is a usage error).
pub fn flag_args(flag: &str, value: &str) -> Vec<String> {
    if value.starts_with('-') {
        vec![format!("{flag}={value}")]
    } else {
        vec![flag.to_string(), value.to_string()]
    }
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

/// `text` (an error or reason the log keeps, which the engine wrote without knowing which
/// home or log it would be read from) with each command it names in backticks
/// (`` `cortex workflow resume RUN --from STEP` ``) carrying `globals` after `cortex`, as every
/// suggestion printed by this invocation does (`suggested_command`). One that gives a global
/// option already is left as it is. Before, the hint in a step's error named a bare `cortex`:
/// pasted by someone who read the run with `--home`, it acted on `~/.cortex`.
pub fn with_globals_in(text: &str, globals: &[String]) -> String {
    const AT: &str = "`cortex ";
    if globals.is_empty() || !text.contains(AT) {
        return text.to_string();
    }
    let inserted = format!("{AT}{} ", command_line(globals));
    let mut out = String::with_capacity(text.len() + inserted.len());
    let mut rest = text;
    while let Some(at) = rest.find(AT) {
        out.push_str(&rest[..at]);
        let after = &rest[at + AT.len()..];
        out.push_str(if after.starts_with("--") {
            AT
        } else {
            &inserted
        });
        rest = after;
    }
    out.push_str(rest);
    out
}

/// A `run:` command as it will run, for showing before it runs (`orchestrate preview`): each
/// template with a value written as the shell reads the value it is given. The engine never
/// splices a value into shell text (`template::render_shell` passes it through the
/// environment, as one word where it stands unquoted), so a value is shown escaped for where it
/// stands: shell-quoted outside quotes, backslash-escaped inside double quotes or a
/// here-document, the single quotes closed around it in single quotes. Pasted, the line runs
/// what the engine runs (before, `echo ${{ inputs.msg }}` given `a; b` was shown `echo a; b`,
/// two commands, where one `echo` runs). A redacted value (`***`) and a template without a
/// value (an output not made yet) are shown as they are.
pub fn shown_command(
    command: &str,
    resolve: &dyn Fn(&crate::definition::template::Reference) -> Option<String>,
) -> String {
    use crate::definition::template::{Segment, ShellContext, segments, shell_contexts};
    let escaped = |value: &str, special: &[char]| {
        let mut out = String::with_capacity(value.len());
        for c in value.chars() {
            if special.contains(&c) {
                out.push('\\');
            }
            out.push(c);
        }
        out
    };
    let mut contexts = shell_contexts(command).into_iter();
    segments(command)
        .map(|segment| match segment {
            Segment::Text(text) => text,
            Segment::Template(occ, raw) => {
                let value = occ.reference.as_ref().ok().and_then(resolve);
                match (value, contexts.next()) {
                    (None, _) | (_, Some(Err(_)) | None) => raw.into(),
                    (Some(v), _) if v == crate::event::REDACTED => v.into(),
                    (Some(v), Some(Ok(ShellContext::Unquoted | ShellContext::Comment))) => {
                        shell_quote(&v).into_owned().into()
                    }
                    (Some(v), Some(Ok(ShellContext::Single))) => {
                        format!("'{}'", shell_quote(&v)).into()
                    }
                    (Some(v), Some(Ok(ShellContext::Double))) => {
                        escaped(&v, &['$', '`', '"', '\\']).into()
                    }
                    (Some(v), Some(Ok(ShellContext::Heredoc))) => {
                        escaped(&v, &['$', '`', '\\']).into()
                    }
                }
            }
        })
        .collect()
}

/// A check (a command the engine runs on a report: a phase's `check:` criterion, a step's
/// `validate:` `run:`) as it will run, and what it reads that has no value now. The command
/// is `shown_command` (each value the run has written as the shell reads the value it is
/// given, a secret `***`); a template without a value stays as written in it, and is said in
/// words apart from it (`absent`: `` `${{ phases.build.outputs.summary }}`: output `summary`
/// of phase `build`, not given yet ``), once each. Before, a prompt spliced those words into
/// the command (`test -n "(output `summary`, not given yet)"`), a command that always passes
/// and is not the one the engine runs, and the status showed the check's templates raw.
pub fn shown_check(
    command: &str,
    resolve: &dyn Fn(&crate::definition::template::Reference) -> Option<String>,
    absent: &dyn Fn(&crate::definition::template::Reference) -> String,
) -> (String, Vec<String>) {
    use crate::definition::template::{Segment, segments};
    let mut without: Vec<String> = Vec::new();
    for segment in segments(command) {
        if let Segment::Template(occ, raw) = segment
            && let Ok(r) = &occ.reference
            && resolve(r).is_none()
        {
            let words = absent(r);
            let words = words
                .strip_prefix('(')
                .and_then(|w| w.strip_suffix(')'))
                .unwrap_or(&words);
            let note = format!("`{raw}`: {words}");
            if !without.contains(&note) {
                without.push(note);
            }
        }
    }
    (shown_command(command, resolve), without)
}

/// A check as `shown_check` gives it, in text: the command, then each template it reads that
/// has no value on a line of its own under it, with `indent`, in parentheses (outside the
/// command: nothing there is shell text).
pub fn check_text(command: &str, without: &[String], indent: &str) -> String {
    let mut out = command.to_string();
    for note in without {
        out.push_str(&format!("\n{indent}({note})"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recorded_command_is_shown_with_the_global_options_unless_it_gives_one() {
        let globals = ["--home".to_string(), "/h o".to_string()];
        assert_eq!(
            with_globals_in("run `a` (`cortex workflow resume R --from a`)", &globals),
            "run `a` (`cortex --home '/h o' workflow resume R --from a`)"
        );
        let given = "`cortex --home /x logs R`";
        assert_eq!(with_globals_in(given, &globals), given);
        assert_eq!(with_globals_in("`cortex logs R`", &[]), "`cortex logs R`");
    }

    fn shown(command: &str, value: &str) -> String {
        shown_command(command, &|_| Some(value.to_string()))
    }

    #[test]
    fn a_shown_command_writes_each_value_as_the_shell_reads_the_value_it_is_given() {
        let v = "a; $(touch x) `y` \"z\" \\ 'q'";
        assert_eq!(
            shown("echo ${{ inputs.m }}", v),
            format!("echo {}", shell_quote(v))
        );
        assert_eq!(
            shown("echo \"<${{ inputs.m }}>\"", v),
            r#"echo "<a; \$(touch x) \`y\` \"z\" \\ 'q'>""#
        );
        assert_eq!(shown("echo '<${{ inputs.m }}>'", "a b"), "echo '<''a b''>'");
        assert_eq!(shown("echo ${{ inputs.t }}", "***"), "echo ***");
        assert_eq!(
            shown_command("echo ${{ steps.a.outputs.b }}", &|_| None),
            "echo ${{ steps.a.outputs.b }}"
        );
        // What sh makes of the shown line is what the engine passes.
        for command in [
            "printf %s ${{ inputs.m }}",
            "printf %s \"${{ inputs.m }}\"",
            "printf %s '${{ inputs.m }}'",
        ] {
            let line = shown(command, v);
            if let Ok(out) = std::process::Command::new("sh")
                .arg("-c")
                .arg(&line)
                .output()
            {
                assert_eq!(String::from_utf8(out.stdout).unwrap(), v, "{line}");
            }
        }
    }

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

    #[test]
    fn words_with_invisible_characters_are_ansi_c_quoted_so_the_line_shows_and_pastes_them() {
        assert_eq!(shell_quote("ver=1\n; x"), r"$'ver=1\n; x'");
        assert_eq!(shell_quote("a\tb"), "'a\tb'");
        assert_eq!(shell_quote("a\u{202e}b's"), r"$'a\xe2\x80\xaeb\x27s'");
        assert_eq!(shell_quote("tab\there\\\u{1b}"), r"$'tab\there\\\x1b'");
        assert_eq!(shell_quote("esc\u{1b}[31m"), r"$'esc\x1b[31m'");
        // What bash makes of it is the word itself.
        let word = "1\n; x \u{202e} y'\\";
        let out = std::process::Command::new("bash")
            .arg("-c")
            .arg(format!("printf %s {}", shell_quote(word)))
            .output();
        if let Ok(out) = out {
            assert_eq!(String::from_utf8(out.stdout).unwrap(), word);
        }
    }
}
