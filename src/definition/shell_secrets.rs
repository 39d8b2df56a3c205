//! Secrets written out in a shell command: `GITHUB_TOKEN=ghp_… cmd`, `export API_KEY='…'`.
//!
//! A definition is kept in its run's log (`run_started`'s snapshot), so a literal value in a
//! `run:` (or an agent's `command:`) would be too, and the command's output of it is not
//! redacted (nothing says it is a secret). `validate` refuses it, as it refuses a secret
//! `env:` entry written out. This is a lexical scan of the command, never an evaluation: it
//! finds the assignments a POSIX shell makes at a command's start (before the command word,
//! or a lone assignment), and the arguments of `export`, `readonly`, `local`, `declare`,
//! `typeset` and `env`, after `;`, `&&`, `||`, `|`, `&`, `(`, `{`, a newline, a keyword
//! (`then`, `do`, …) or inside `$(...)`. A value with an expansion in it (`"$OTHER"`,
//! `$(cat f)`, `${{ inputs.x }}`) or an empty one is not written out; nor is one no
//! redaction would take for a secret (`may_be_secret`: `TOKEN_TTL=3600`, `USE_PASSWORD=no`).
//! Quoted text, comments and here-document bodies are not commands.

/// An assignment of a value written out to a name `secret` says is secret: where it is (byte
/// offsets of `NAME=value` in the command) and the name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretAssignment {
    pub start: usize,
    pub end: usize,
    pub name: String,
}

/// The assignments of `command` that write a secret's value out (see the module's doc).
pub fn secret_assignments(
    command: &str,
    secret: &dyn Fn(&str) -> bool,
    may_be_secret: &dyn Fn(&str) -> bool,
) -> Vec<SecretAssignment> {
    let templates: Vec<(usize, usize)> = super::template::scan(command)
        .into_iter()
        .map(|o| (o.start, o.end))
        .collect();
    let mut scanner = Scanner {
        text: command.as_bytes(),
        templates: &templates,
        secret,
        may_be_secret,
        found: Vec::new(),
    };
    scanner.list(0, command.len());
    scanner.found.sort_by_key(|a| a.start);
    scanner.found.dedup();
    scanner.found
}

/// Where the arithmetic `((...))` whose first `(` is at `open` ends (after its `))`), or `end`.
fn arithmetic_end(t: &[u8], open: usize, end: usize) -> usize {
    let mut depth = 0usize;
    let mut j = open;
    while j < end {
        match t[j] {
            b'(' => depth += 1,
            b')' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return j + 1;
                }
            }
            _ => {}
        }
        j += 1;
    }
    end
}

/// What is wrong with a secret `name` assigned a value written out in a shell command, and
/// how to fix it, in the words of `validate`'s refusal of a secret `env:` entry written out
/// (`validate::literal_secret`). `place`: what the run's log keeps (`the definition`, `an
/// agent's command`); `templates`: whether the command is rendered (a `run:`), so that a secret
/// input can stand for the value; else (a notification's `run:`, an agent's `command:`) it
/// can only come from the environment.
pub fn assignment_problem(name: &str, place: &str, templates: bool) -> (String, String) {
    let problem = format!(
        "`{name}` is a secret, and its value is written out in the command (`{name}=…`), and {place} is kept in the run's log: the value would be too"
    );
    let inherit = format!(
        "leave the assignment out so the command inherits `{name}` from cortex's environment (redacted there)"
    );
    let fix = if templates {
        let input = name.to_ascii_lowercase();
        format!(
            "give it as a secret input (`{name}=\"${{{{ inputs.{input} }}}}\"`, then `--input {input}=...` or CORTEX_INPUT_{}), or {inherit}",
            name.to_ascii_uppercase()
        )
    } else {
        format!(
            "{inherit}; the command is not rendered, so no `${{{{ inputs.… }}}}` can stand for it"
        )
    };
    (problem, fix)
}

struct Scanner<'a> {
    text: &'a [u8],
    templates: &'a [(usize, usize)],
    secret: &'a dyn Fn(&str) -> bool,
    may_be_secret: &'a dyn Fn(&str) -> bool,
    found: Vec<SecretAssignment>,
}

/// A word as the scanner read it: its bytes' range, its value with quotes removed (when it
/// has no expansion), whether anything in it expands, and the `$(...)` in it.
struct Word {
    start: usize,
    end: usize,
    /// The text with quotes and escapes removed, up to the first `=` outside quotes kept as
    /// written (a name is plain).
    unquoted: String,
    /// Where `=` first stands outside quotes, as an offset into `unquoted`, with whether the
    /// part before it was written plain (no quote or escape).
    equals: Option<usize>,
    plain_before_equals: bool,
    /// Whether the value part (after the first `=`) holds an expansion: `$`, a backquote,
    /// a template (outside single quotes).
    value_expands: bool,
    /// The `$(...)` and backquoted command texts in it (byte ranges), scanned as commands.
    nested: Vec<(usize, usize)>,
}

/// The words that make the next word a command's first again.
const KEYWORDS: [&str; 10] = [
    "if", "then", "else", "elif", "do", "while", "until", "!", "{", "time",
];
/// The commands whose arguments are assignments (`sudo` and `doas` pass `NAME=value` before
/// their command into its environment, as `env` does).
const ASSIGNING: [&str; 8] = [
    "export", "readonly", "local", "declare", "typeset", "env", "sudo", "doas",
];
/// The commands that run the next word as a command (`nohup env NAME=value cmd`).
const PREFIXES: [&str; 5] = ["nohup", "exec", "nice", "command", "builtin"];

impl Scanner<'_> {
    fn template_at(&self, i: usize) -> Option<usize> {
        self.templates
            .iter()
            .find(|(s, _)| *s == i)
            .map(|(_, e)| *e)
    }

    /// Scan the command list in `start..end`.
    fn list(&mut self, start: usize, end: usize) {
        let t = self.text;
        let mut i = start;
        // The next word is a command's first (assignments may come before it).
        let mut at_command = true;
        // The arguments of `export` and its kin are assignments; `env`'s until its command.
        let mut assigning: Option<&str> = None;
        let mut heredocs: Vec<(String, bool)> = Vec::new();
        while i < end {
            let c = t[i];
            match c {
                b' ' | b'\t' | b'\r' => i += 1,
                b'\n' => {
                    i += 1;
                    at_command = true;
                    assigning = None;
                    for (delimiter, strip_tabs) in std::mem::take(&mut heredocs) {
                        i = self.skip_heredoc(i, end, &delimiter, strip_tabs);
                    }
                }
                b'#' => {
                    while i < end && t[i] != b'\n' {
                        i += 1;
                    }
                }
                // `((...))`: an arithmetic command, skipped whole (a `<<` in it is a shift).
                b'(' if t.get(i + 1) == Some(&b'(') => {
                    i = arithmetic_end(t, i, end);
                    at_command = false;
                    assigning = None;
                }
                b';' | b'&' | b'|' | b'(' | b')' => {
                    i += 1;
                    at_command = true;
                    assigning = None;
                }
                b'<' | b'>' => {
                    let heredoc =
                        c == b'<' && t.get(i + 1) == Some(&b'<') && t.get(i + 2) != Some(&b'<');
                    // The operator, then its word (a file, a descriptor, a delimiter).
                    i += 1;
                    let mut strip_tabs = false;
                    while i < end && matches!(t[i], b'<' | b'>' | b'&' | b'|' | b'-') {
                        strip_tabs |= t[i] == b'-';
                        i += 1;
                    }
                    while i < end && matches!(t[i], b' ' | b'\t') {
                        i += 1;
                    }
                    if i < end && !matches!(t[i], b'\n' | b';' | b'&' | b'|' | b'(' | b')') {
                        let word = self.word(i, end);
                        i = word.end;
                        if heredoc {
                            heredocs.push((word.unquoted, strip_tabs));
                        }
                    }
                }
                _ => {
                    let word = self.word(i, end);
                    i = word.end.max(i + 1);
                    for (s, e) in word.nested.clone() {
                        self.list(s, e);
                    }
                    // A file descriptor before a redirection (`2>file`) is no word.
                    if i < end
                        && matches!(t[i], b'<' | b'>')
                        && word.unquoted.bytes().all(|b| b.is_ascii_digit())
                    {
                        continue;
                    }
                    let assignment = (at_command || assigning.is_some()) && self.assignment(&word);
                    if at_command {
                        if assignment {
                            continue;
                        }
                        at_command = KEYWORDS.contains(&word.unquoted.as_str())
                            || PREFIXES.contains(&word.unquoted.as_str());
                        assigning = ASSIGNING.iter().find(|w| **w == word.unquoted).copied();
                    } else if let Some(command) = assigning
                        && !assignment
                        && matches!(command, "env" | "sudo" | "doas")
                        && !word.unquoted.starts_with('-')
                    {
                        // `env NAME=value COMMAND ...`: its command's arguments are not.
                        assigning = None;
                    }
                }
            }
        }
    }

    /// Whether `word` is an assignment (at a place one is made: the caller knows), and if its
    /// value writes out a secret, record it.
    fn assignment(&mut self, word: &Word) -> bool {
        let Some(eq) = word.equals else {
            return false;
        };
        // `NAME+=value` (bash's append) assigns NAME too.
        let name = word.unquoted[..eq]
            .strip_suffix('+')
            .unwrap_or(&word.unquoted[..eq]);
        let is_name = word.plain_before_equals
            && name
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !is_name {
            return false;
        }
        let value = &word.unquoted[eq + 1..];
        if !word.value_expands
            && !value.is_empty()
            && (self.secret)(name)
            && !crate::execute::names_where_a_secret_is(name)
            && (self.may_be_secret)(value)
        {
            self.found.push(SecretAssignment {
                start: word.start,
                end: word.end,
                name: name.to_string(),
            });
        }
        true
    }

    /// Read the word starting at `i` (up to an unquoted blank or operator).
    fn word(&self, mut i: usize, end: usize) -> Word {
        let t = self.text;
        let start = i;
        let mut raw: Vec<u8> = Vec::new();
        let mut equals = None;
        let mut plain_before_equals = true;
        let mut value_expands = false;
        let mut nested = Vec::new();
        let expands = |equals: Option<usize>, flag: &mut bool| {
            if equals.is_some() {
                *flag = true;
            }
        };
        while i < end {
            if let Some(e) = self.template_at(i) {
                expands(equals, &mut value_expands);
                raw.extend_from_slice(&t[i..e.min(end)]);
                i = e;
                continue;
            }
            match t[i] {
                b' ' | b'\t' | b'\r' | b'\n' | b';' | b'&' | b'|' | b'(' | b')' | b'<' | b'>' => {
                    break;
                }
                b'\\' => {
                    if equals.is_none() {
                        plain_before_equals = false;
                    }
                    if let Some(&next) = t.get(i + 1).filter(|_| i + 1 < end) {
                        if next != b'\n' {
                            raw.push(next);
                        }
                        i += 2;
                    } else {
                        i += 1;
                    }
                }
                b'\'' => {
                    if equals.is_none() {
                        plain_before_equals = false;
                    }
                    i += 1;
                    while i < end && t[i] != b'\'' {
                        raw.push(t[i]);
                        i += 1;
                    }
                    i += 1;
                }
                b'"' => {
                    if equals.is_none() {
                        plain_before_equals = false;
                    }
                    i += 1;
                    while i < end && t[i] != b'"' {
                        if let Some(e) = self.template_at(i) {
                            expands(equals, &mut value_expands);
                            raw.extend_from_slice(&t[i..e.min(end)]);
                            i = e;
                            continue;
                        }
                        match t[i] {
                            b'\\' if i + 1 < end => {
                                raw.push(t[i + 1]);
                                i += 2;
                            }
                            b'$' | b'`' => {
                                expands(equals, &mut value_expands);
                                if let Some((s, e, after)) = self.substitution(i, end) {
                                    nested.push((s, e));
                                    raw.extend_from_slice(&t[i..after]);
                                    i = after;
                                } else {
                                    raw.push(t[i]);
                                    i += 1;
                                }
                            }
                            b => {
                                raw.push(b);
                                i += 1;
                            }
                        }
                    }
                    i += 1;
                }
                // `$'...'` (ANSI-C quoting) is a literal, not an expansion.
                b'$' if t.get(i + 1) == Some(&b'\'') => {
                    if equals.is_none() {
                        plain_before_equals = false;
                    }
                    i += 2;
                    while i < end && t[i] != b'\'' {
                        if t[i] == b'\\' && i + 1 < end {
                            raw.push(t[i + 1]);
                            i += 2;
                        } else {
                            raw.push(t[i]);
                            i += 1;
                        }
                    }
                    i += 1;
                }
                // A `$` that starts no expansion (`abc$`, `$ `, `$%`) is itself.
                b'$' if !t.get(i + 1).is_some_and(|&n| {
                    n.is_ascii_alphanumeric()
                        || matches!(
                            n,
                            b'_' | b'{' | b'(' | b'@' | b'*' | b'#' | b'?' | b'$' | b'!' | b'-'
                        )
                }) =>
                {
                    raw.push(b'$');
                    i += 1;
                }
                // `$((...))`: arithmetic, to its closing parentheses (a `<<` in it is a shift,
                // not a here-document, and its blanks end no word).
                b'$' if t.get(i + 1) == Some(&b'(') && t.get(i + 2) == Some(&b'(') => {
                    expands(equals, &mut value_expands);
                    let after = arithmetic_end(t, i + 1, end);
                    raw.extend_from_slice(&t[i..after]);
                    i = after;
                }
                b'$' | b'`' => {
                    expands(equals, &mut value_expands);
                    match self.substitution(i, end) {
                        Some((s, e, after)) => {
                            nested.push((s, e));
                            raw.extend_from_slice(&t[i..after]);
                            i = after;
                        }
                        None => {
                            // `${...}`: to its brace, so that a blank in it ends no word.
                            let after = if t.get(i + 1) == Some(&b'{') {
                                t[i..end]
                                    .iter()
                                    .position(|&b| b == b'}')
                                    .map_or(end, |p| i + p + 1)
                            } else {
                                i + 1
                            };
                            raw.extend_from_slice(&t[i..after]);
                            i = after;
                        }
                    }
                }
                b'=' if equals.is_none() => {
                    equals = Some(raw.len());
                    raw.push(b'=');
                    i += 1;
                }
                b => {
                    raw.push(b);
                    i += 1;
                }
            }
        }
        Word {
            start,
            end: i.min(end),
            unquoted: String::from_utf8_lossy(&raw).into_owned(),
            equals,
            plain_before_equals,
            value_expands,
            nested,
        }
    }

    /// A command substitution at `i` (`$(...)`, not `$((...))`, or a backquoted one): the
    /// range of its command text, and where it ends.
    fn substitution(&self, i: usize, end: usize) -> Option<(usize, usize, usize)> {
        let t = self.text;
        if t[i] == b'`' {
            let close = t[i + 1..end].iter().position(|&b| b == b'`')? + i + 1;
            return Some((i + 1, close, close + 1));
        }
        if t.get(i + 1) != Some(&b'(') || t.get(i + 2) == Some(&b'(') {
            return None;
        }
        // To the parenthesis that closes it, past quoted text.
        let mut depth = 0usize;
        let mut j = i + 1;
        while j < end {
            match t[j] {
                b'(' => depth += 1,
                b')' => {
                    depth -= 1;
                    if depth == 0 {
                        return Some((i + 2, j, j + 1));
                    }
                }
                b'\\' => j += 1,
                b'\'' => {
                    j += 1;
                    while j < end && t[j] != b'\'' {
                        j += 1;
                    }
                }
                b'"' => {
                    j += 1;
                    while j < end && t[j] != b'"' {
                        if t[j] == b'\\' {
                            j += 1;
                        }
                        j += 1;
                    }
                }
                _ => {}
            }
            j += 1;
        }
        Some((i + 2, end, end))
    }

    /// Past the body of a here-document starting at `i`: after its delimiter's line.
    fn skip_heredoc(&self, mut i: usize, end: usize, delimiter: &str, strip_tabs: bool) -> usize {
        let t = self.text;
        while i < end {
            let line_end = t[i..end]
                .iter()
                .position(|&b| b == b'\n')
                .map_or(end, |p| i + p);
            let line = String::from_utf8_lossy(&t[i..line_end]);
            let line = if strip_tabs {
                line.trim_start_matches('\t')
            } else {
                &line
            };
            i = (line_end + 1).min(end);
            if line == delimiter {
                break;
            }
        }
        i
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(command: &str) -> Vec<String> {
        secret_assignments(
            command,
            &|n| n.to_ascii_uppercase().contains("TOKEN") || n.ends_with("PASSWORD"),
            &|v| v.len() >= 4 && v != "false",
        )
        .into_iter()
        .map(|a| a.name)
        .collect()
    }

    #[test]
    fn a_secret_assigned_a_written_out_value_at_a_commands_start_is_found() {
        let command =
            "GITHUB_TOKEN=ghp_abcdefghijklmnopqrstuvwxyz0123456789 sh -c 'echo tok=$GITHUB_TOKEN'";
        let found = secret_assignments(command, &|n| n.contains("TOKEN"), &|_| true);
        assert_eq!(found.len(), 1);
        assert_eq!(
            (found[0].start, found[0].name.as_str()),
            (0, "GITHUB_TOKEN")
        );
        assert_eq!(
            &command[found[0].start..found[0].end],
            "GITHUB_TOKEN=ghp_abcdefghijklmnopqrstuvwxyz0123456789"
        );
        for command in [
            "NPM_TOKEN=abcd1234 npm publish",
            "NPM_TOKEN='abcd1234' npm publish",
            "NPM_TOKEN=\"abcd1234\" npm publish",
            "export NPM_TOKEN=abcd1234",
            "export -n X NPM_TOKEN=\"abcd 1234\"",
            "env -i PATH=/bin NPM_TOKEN=abcd1234 npm publish",
            "cd x && NPM_TOKEN=abcd1234 npm publish",
            "cd x; NPM_TOKEN=abcd1234",
            "true || NPM_TOKEN=abcd1234 x",
            "cat f | NPM_TOKEN=abcd1234 x",
            "set -e\nNPM_TOKEN=abcd1234\nnpm publish",
            "if true; then NPM_TOKEN=abcd1234 x; fi",
            "( NPM_TOKEN=abcd1234 x )",
            "{ NPM_TOKEN=abcd1234 x; }",
            "A=1 NPM_TOKEN=abcd1234 x",
            "echo $(NPM_TOKEN=abcd1234 x)",
            "out=\"$(NPM_TOKEN=abcd1234 x)\"",
            "local DB_PASSWORD=hunter22",
            "x 2>/dev/null; NPM_TOKEN=abcd1234 y",
        ] {
            assert_eq!(names(command).len(), 1, "{command}");
        }
    }

    /// What a review found slipping past the scan: a `<<` in arithmetic read as a
    /// here-document (the rest of the script skipped), `sudo`/`nohup env` before the
    /// assignment, ANSI-C quoting and a lone `$` taken for expansions, bash's `+=`.
    #[test]
    fn arithmetic_prefix_commands_ansi_c_quotes_and_appends_hide_no_secret() {
        for command in [
            "echo $(( 1 << 2 ))\nGITHUB_TOKEN=ghp_leakedtoken123 sh -c x",
            "(( x = 1 << 2 ))\nGITHUB_TOKEN=ghp_leakedtoken123 x",
            "sudo GITHUB_TOKEN=ghp_abcdef123 cmd",
            "sudo -E GITHUB_TOKEN=ghp_abcdef123 cmd",
            "nohup env GITHUB_TOKEN=ghp_abcdef123 cmd",
            "exec env GITHUB_TOKEN=ghp_abcdef123 cmd",
            "GITHUB_TOKEN=$'ghp_abcdef123' cmd",
            "GITHUB_TOKEN=ghp_abcdef123$ cmd",
            "GITHUB_TOKEN+=ghp_abcdef123",
        ] {
            assert_eq!(names(command), ["GITHUB_TOKEN"], "{command}");
        }
        // Where a secret is kept is no secret to refuse (`POSTGRES_PASSWORD_FILE`).
        assert!(names("POSTGRES_PASSWORD_FILE=/run/secrets/db cmd").is_empty());
        assert!(names("GITHUB_TOKEN_PATH=/run/t cmd").is_empty());
        // Still expansions, and still no assignment.
        for command in [
            "GITHUB_TOKEN=$((1 << 2)) cmd",
            "GITHUB_TOKEN=$x cmd",
            "sudo cmd GITHUB_TOKEN=ghp_abcdef123",
            "nohup cmd GITHUB_TOKEN=ghp_abcdef123",
        ] {
            assert!(names(command).is_empty(), "{command}");
        }
    }

    #[test]
    fn expansions_empty_values_and_what_is_no_assignment_are_not_refused() {
        for command in [
            "NPM_TOKEN=\"$OTHER\" npm publish",
            "NPM_TOKEN=$OTHER npm publish",
            "NPM_TOKEN=${OTHER:-x} npm publish",
            "NPM_TOKEN=$(cat /run/secrets/npm) npm publish",
            "NPM_TOKEN=`cat f` npm publish",
            "NPM_TOKEN=${{ inputs.token }} npm publish",
            "NPM_TOKEN=\"${{ inputs.token }}\" npm publish",
            "NPM_TOKEN= npm publish",
            "NPM_TOKEN='' npm publish",
            "USE_PASSWORD=false x",
            "echo NPM_TOKEN=abcd1234",
            "echo 'NPM_TOKEN=abcd1234'; echo \"x; NPM_TOKEN=abcd1234\"",
            "# NPM_TOKEN=abcd1234\necho hi",
            "cat <<EOF\nNPM_TOKEN=abcd1234\nEOF\necho hi",
            "cat <<-'EOF'\n\tNPM_TOKEN=abcd1234\n\tEOF",
            "env NPM_TOKEN=$T cmd NPM_TOKEN=abcd1234",
            "git config --global x NPM_TOKEN=abcd1234",
            "'NPM_TOKEN'=abcd1234 x",
            "MY_ID=abcd1234 x",
        ] {
            assert!(names(command).is_empty(), "{command}: {:?}", names(command));
        }
        // After a here-document, commands again.
        assert_eq!(
            names("cat <<EOF\nhi\nEOF\nNPM_TOKEN=abcd1234 x"),
            ["NPM_TOKEN"]
        );
    }
}
