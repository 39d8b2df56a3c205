//! The lexical facts checked before YAML reaches the parser: flow nesting deeper than the
//! parser can take in reasonable time, and tags (`!include`, `!!binary`), which serde_yaml
//! would silently drop or resolve (definitions are plain data; a tag never means anything).
//!
//! This is just enough of YAML's tokens to know where a node can start: quoted scalars (which
//! may span lines), comments, block scalars (`|`, `>`), continuation lines of plain scalars,
//! flow collections, anchors, aliases and document markers. Where it is unsure it errs on the
//! side of reporting: a tag it wrongly suspects is an error with a place and a fix (quote the
//! text); one it missed would be a tag silently dropped.

use super::{Location, Problem};

/// Deeper flow nesting is refused before parsing: no definition needs it, and the YAML parser's
/// time grows with the square of it (8,000 levels take a second).
pub(crate) const MAX_FLOW_DEPTH: usize = 64;

/// The problem of nesting too deep at `at`.
pub(crate) fn too_deep(at: Location) -> Problem {
    Problem::new(
        format!("`[`/`{{` nested more than {MAX_FLOW_DEPTH} levels deep"),
        Some(at),
    )
}

/// The first thing found that stops a definition before parsing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Finding {
    /// `[`/`{` nesting first exceeds `MAX_FLOW_DEPTH` here.
    TooDeep(Location),
    /// A tag starts here; `tag` is its text (escaped and cut for display).
    Tag { at: Location, tag: String },
}

fn is_blank(c: Option<&char>) -> bool {
    c.is_none_or(|c| *c == ' ' || *c == '\t')
}

fn is_flow_indicator(c: char) -> bool {
    matches!(c, ',' | '[' | ']' | '{' | '}')
}

/// After `|` or `>`: only indentation and chomping indicators, then nothing or a comment.
/// (It reads no further than those characters and the blanks after them, so checking every
/// `|` of a long line stays linear.)
fn block_header_ends(rest: &[char]) -> bool {
    let k = rest
        .iter()
        .take_while(|c| matches!(c, '+' | '-' | '0'..='9'))
        .count();
    let blanks = rest[k..]
        .iter()
        .take_while(|c| **c == ' ' || **c == '\t')
        .count();
    match rest.get(k + blanks) {
        None => true,
        Some('#') => k + blanks == 0 || blanks > 0,
        Some(_) => false,
    }
}

/// The lines of `text` as the YAML parser counts them: libyaml breaks lines at LF, CRLF, CR,
/// NEL, LS and PS. A byte-order mark at the start is not part of the first line.
fn yaml_lines(text: &str) -> impl Iterator<Item = &str> {
    let text = text.strip_prefix('\u{FEFF}').unwrap_or(text);
    let mut rest = Some(text);
    std::iter::from_fn(move || {
        let t = rest?;
        match t.find(['\n', '\r', '\u{85}', '\u{2028}', '\u{2029}']) {
            Some(i) => {
                let c = t[i..].chars().next().expect("a break was found");
                let mut next = i + c.len_utf8();
                if t[i..].starts_with("\r\n") {
                    next += 1;
                }
                rest = Some(&t[next..]);
                Some(&t[..i])
            }
            None => {
                rest = None;
                (!t.is_empty()).then_some(t)
            }
        }
    })
}

/// Scan `text` (YAML, or JSON read as YAML); with `tags`, tags are findings too.
pub(crate) fn scan(text: &str, tags: bool) -> Option<Finding> {
    let mut depth = 0usize;
    // Inside a quoted scalar (which may span lines): its quote character.
    let mut quote: Option<char> = None;
    // The indentation of the line that opened a block scalar, while inside it.
    let mut block_scalar: Option<usize> = None;
    // After a plain scalar that ended a line in block context: lines indented more than this
    // column continue it (they are text, not structure).
    let mut plain_continues: Option<usize> = None;
    // Can a node (or its tag or anchor) start at the next character?
    let mut node_start = true;
    // When a line ends with `key:` or `-`, the column of that entry: the next line's value
    // belongs to it.
    let mut parent: Option<usize> = None;
    // One buffer for the characters of every line.
    let mut cs: Vec<char> = Vec::new();
    for (n, line) in yaml_lines(text).enumerate() {
        cs.clear();
        cs.extend(line.chars());
        let indent = cs.iter().take_while(|c| **c == ' ').count();
        let blank_line = line.trim().is_empty();
        if let Some(parent) = block_scalar {
            if blank_line || indent > parent {
                continue;
            }
            block_scalar = None;
        }
        let mut j = 0;
        if quote.is_none() && depth == 0 {
            if let Some(column) = plain_continues {
                if blank_line {
                    continue;
                }
                if indent > column && !line.trim_start().starts_with('#') {
                    continue;
                }
                plain_continues = None;
            }
            node_start = true;
            if line.starts_with('%') {
                continue; // a directive (`%YAML`, `%TAG`)
            }
            if (line.starts_with("---") || line.starts_with("...")) && is_blank(cs.get(3)) {
                j = 3;
            }
        }
        // The column of the innermost block entry on this line (its `-`, `?` or key), which a
        // continuation line of a plain scalar must be indented beyond.
        let mut entry: Option<usize> = if depth == 0 { parent.take() } else { None };
        // Where the scalar being read began.
        let mut scalar_start = 0;
        let mut in_plain = false;
        let mut after_quote = false;
        let mut commented = false;
        while j < cs.len() {
            let c = cs[j];
            let next = cs.get(j + 1);
            let at = Location {
                line: n + 1,
                column: j + 1,
            };
            if let Some(q) = quote {
                if q == '"' && c == '\\' {
                    j += 2;
                    continue;
                }
                if c == q {
                    if q == '\'' && next == Some(&'\'') {
                        j += 2;
                        continue;
                    }
                    quote = None;
                    node_start = false;
                    after_quote = true;
                }
                j += 1;
                continue;
            }
            if c == ' ' || c == '\t' {
                j += 1;
                continue;
            }
            if c == '#' && (j == 0 || cs[j - 1] == ' ' || cs[j - 1] == '\t') {
                commented = true;
                break;
            }
            // The end of a token that starts at `j`: blanks, or flow indicators in flow context.
            let token_end = |from: usize| {
                let mut k = from;
                while k < cs.len()
                    && cs[k] != ' '
                    && cs[k] != '\t'
                    && !(depth > 0 && is_flow_indicator(cs[k]))
                {
                    k += 1;
                }
                k
            };
            if node_start {
                match c {
                    '-' | '?' if is_blank(next) => entry = Some(j),
                    ':' if is_blank(next) => {}
                    '!' => {
                        let end = token_end(j);
                        if tags {
                            let tag: String = cs[j..end].iter().collect();
                            return Some(Finding::Tag {
                                at,
                                tag: super::name::shown(&tag),
                            });
                        }
                        j = end;
                        continue;
                    }
                    '&' => {
                        j = token_end(j);
                        continue;
                    }
                    '*' => {
                        j = token_end(j);
                        node_start = false;
                        continue;
                    }
                    '"' | '\'' => {
                        scalar_start = j;
                        quote = Some(c);
                        in_plain = false;
                    }
                    '[' | '{' => {
                        depth += 1;
                        if depth > MAX_FLOW_DEPTH {
                            return Some(Finding::TooDeep(at));
                        }
                        in_plain = false;
                    }
                    ']' | '}' if depth > 0 => {
                        depth -= 1;
                        node_start = false;
                    }
                    ',' if depth > 0 => {}
                    '|' | '>' if depth == 0 && block_header_ends(&cs[j + 1..]) => {
                        block_scalar = Some(indent);
                        break;
                    }
                    _ => {
                        scalar_start = j;
                        node_start = false;
                        in_plain = true;
                    }
                }
            } else {
                match c {
                    ':' if is_blank(next)
                        || after_quote
                        || (depth > 0 && next.is_some_and(|c| is_flow_indicator(*c))) =>
                    {
                        if depth == 0 {
                            entry = Some(scalar_start);
                        }
                        node_start = true;
                        in_plain = false;
                    }
                    ',' if depth > 0 => {
                        node_start = true;
                        in_plain = false;
                    }
                    ']' | '}' if depth > 0 => {
                        depth -= 1;
                        in_plain = false;
                    }
                    _ => {}
                }
            }
            after_quote = false;
            j += 1;
        }
        // A comment ends a plain scalar: what follows is structure again.
        if depth == 0 && quote.is_none() && block_scalar.is_none() {
            if in_plain && !commented {
                plain_continues = Some(entry.unwrap_or(indent));
            } else if node_start {
                parent = entry;
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag_at(text: &str) -> Option<(usize, usize, String)> {
        match scan(text, true) {
            Some(Finding::Tag { at, tag }) => Some((at.line, at.column, tag)),
            _ => None,
        }
    }

    #[test]
    fn tags_are_found_wherever_a_node_can_start() {
        let cases = [
            ("run: !include /etc/passwd\n", (1, 6, "!include")),
            ("a: !!binary aGk=\n", (1, 4, "!!binary")),
            ("a: !!python/object x\n", (1, 4, "!!python/object")),
            (
                "a: !<tag:yaml.org,2002:str> x\n",
                (1, 4, "!<tag:yaml.org,2002:str>"),
            ),
            ("x: [1, !foo {b: 2}]\n", (1, 8, "!foo")),
            ("x: {a: !t 1}\n", (1, 8, "!t")),
            ("!t\na: 1\n", (1, 1, "!t")),
            ("--- !t\na: 1\n", (1, 5, "!t")),
            ("- - !x a\n", (1, 5, "!x")),
            ("? !k a\n: 1\n", (1, 3, "!k")),
            ("a: &anchor !t x\n", (1, 12, "!t")),
            ("a:\n  !t x\n", (2, 3, "!t")),
            ("a: [1,\n  !t 2]\n", (2, 3, "!t")),
            ("a: \"multi\n  line\"\nb: !t x\n", (3, 4, "!t")),
            ("a: 'it''s'\nb: !t x\n", (2, 4, "!t")),
            ("a: |\n  !not a tag\nb: !t x\n", (3, 4, "!t")),
            ("a: plain\n  !continued\nb: !t x\n", (3, 4, "!t")),
            ("{\"a\":!t 1}\n", (1, 6, "!t")),
            ("a: x\r!!binary k: v\n", (2, 1, "!!binary")),
            // A line that does not continue a plain scalar is structure again.
            ("- a\n- !!str c\n", (2, 3, "!!str")),
            ("- k: v\n  !!str c: d\n", (2, 3, "!!str")),
            // Continuation lines are text, even when they start with a quote.
            ("- a\n  'b\n- !!str c\n", (3, 3, "!!str")),
            ("key:\n  value\n  'more\nb: !!str x\n", (4, 4, "!!str")),
            ("- k: v\n   'more\n- !!str x\n", (3, 3, "!!str")),
            ("a: x\r\nb: y\u{2028}!!str k: v\n", (3, 1, "!!str")),
            ("\u{FEFF}!!str a: b\n", (1, 1, "!!str")),
        ];
        for (text, (line, column, tag)) in cases {
            assert_eq!(
                tag_at(text),
                Some((line, column, tag.to_string())),
                "{text:?}"
            );
        }
    }

    #[test]
    fn an_exclamation_mark_inside_text_is_not_a_tag() {
        for text in [
            "a: hello!\n",
            "a: '!quoted'\n",
            "a: \"!quoted\"\n",
            "a: wow !x\n",
            "a: echo - !x\n",
            "a: -!x\n",
            "a: x # !comment\n",
            "a: |\n  !text\n  - !more\n",
            "a: >-\n  !text\n",
            "- |\n  !text\n",
            "a: plain\n  !continued\n",
            "a: \"multi\n  !line\"\n",
            "a: [x\n  !y]\n",
            "a: b:!c\n",
        ] {
            assert_eq!(scan(text, true), None, "{text:?}");
        }
    }

    #[test]
    fn lines_break_where_the_yaml_parser_breaks_them() {
        let lines: Vec<&str> = yaml_lines("a\r\nb\rc\u{85}d\u{2028}e\u{2029}f\n\ng").collect();
        assert_eq!(lines, ["a", "b", "c", "d", "e", "f", "", "g"]);
    }

    #[test]
    fn nesting_is_counted_only_where_a_collection_can_open() {
        let deep = format!("a: {}{}\n", "[".repeat(65), "]".repeat(65));
        assert_eq!(
            scan(&deep, false),
            Some(Finding::TooDeep(Location {
                line: 1,
                column: 68
            }))
        );
        let text = format!("a: |\n  {}\nb: '{}'\n", "[".repeat(100), "[".repeat(100));
        assert_eq!(scan(&text, false), None);
    }
}
