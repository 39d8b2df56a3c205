//! Finding the `line:column` of any node of a YAML document by its path.
//!
//! serde_yaml attaches the position of the current node to every error. To locate a node we
//! walk the document ([`super::yaml_walk`]) along the path and fail on arrival; the error's
//! position is the node's. This reuses the real parser, so positions are exact.

use super::Location;
use super::yaml_walk::{At, Guide, walk, walk_json, walk_whole};

/// One step of a path into a YAML document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    Key(String),
    Index(usize),
}

impl From<&str> for Seg {
    fn from(key: &str) -> Self {
        Seg::Key(key.to_string())
    }
}

impl From<usize> for Seg {
    fn from(i: usize) -> Self {
        Seg::Index(i)
    }
}

/// The position of the node at `path` in `text`, if the path exists.
pub fn locate(text: &str, path: &[Seg]) -> Option<Location> {
    walk(text, &mut Seek(path)).map(|at| past_anchor(text, at))
}

/// A node's place after its anchor (`run: &x "..."` is at `"`, not at `&x`), when the node
/// is on the anchor's line.
fn past_anchor(text: &str, at: Location) -> Location {
    let Some(line) = text.lines().nth(at.line.saturating_sub(1)) else {
        return at;
    };
    let rest: Vec<char> = line.chars().skip(at.column.saturating_sub(1)).collect();
    if rest.first() != Some(&'&') {
        return at;
    }
    let name = rest.iter().take_while(|c| !c.is_whitespace()).count();
    let space = rest[name..]
        .iter()
        .take_while(|c| **c == ' ' || **c == '\t')
        .count();
    if space == 0 || name + space >= rest.len() || rest[name + space] == '#' {
        return at;
    }
    Location {
        line: at.line,
        column: at.column + name + space,
    }
}

/// The position of the key at `path` (its last step a key) in `text`, if the path exists: where
/// a misspelled key is, rather than its value.
pub fn locate_key(text: &str, path: &[Seg]) -> Option<Location> {
    locate_key_nth(text, path, 0)
}

/// [`locate_key`] of the key's occurrence `nth` (from 0) in its mapping: where a key given
/// twice is given again.
pub fn locate_key_nth(text: &str, path: &[Seg], nth: usize) -> Option<Location> {
    let Some((Seg::Key(key), mapping)) = path.split_last() else {
        return None;
    };
    walk(text, &mut SeekKey { mapping, key, nth })
}

/// A key given more than once in one mapping: the mapping's path, the key, and the place of
/// its first and of this occurrence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Duplicate {
    pub path: Vec<Seg>,
    pub key: String,
    pub first: Option<Location>,
    pub at: Option<Location>,
}

/// Every key given again in a mapping of `text`, in the order of the file: YAML allows a key
/// once, and serde reports only the first duplicate, at its mapping's start. A text that
/// stops parsing somewhere (a tab, nesting past serde_yaml's limit) has the duplicates given
/// before that place: that error is reported beside them, not in their stead.
pub fn duplicate_keys(text: &str) -> Vec<Duplicate> {
    let mut seen = KeysGivenAgain(Vec::new());
    walk_whole(text, &mut seen);
    let mut duplicates: Vec<Duplicate> = seen
        .0
        .into_iter()
        .map(|(path, key, nth)| {
            let full = [path.as_slice(), &[Seg::Key(key.clone())]].concat();
            Duplicate {
                first: locate_key_nth(text, &full, 0),
                at: locate_key_nth(text, &full, nth),
                path,
                key,
            }
        })
        .collect();
    duplicates.sort_by_key(|d| (d.at.is_none(), d.at));
    duplicates
}

/// Notes each key given again in its mapping: (the mapping's path, the key, which occurrence).
struct KeysGivenAgain(Vec<(Vec<Seg>, String, usize)>);

impl Guide for KeysGivenAgain {
    fn node(&mut self, _: &[Seg]) -> At {
        At::Enter
    }
    fn key(&mut self, path: &[Seg], key: &str, nth: usize) -> bool {
        if nth > 0 {
            self.0.push((path.to_vec(), key.to_string(), nth));
        }
        false
    }
}

/// The position of the node at `path` in the JSON `text`, if the path exists. JSON is read as
/// YAML first, which gives the start of the node; if the YAML parser refuses the text (a key
/// over 1,024 characters, say), serde_json gives the position just after the node.
pub fn locate_json(text: &str, path: &[Seg]) -> Option<Location> {
    locate(text, path).or_else(|| walk_json(text, &mut Seek(path)))
}

/// How many characters, from character `column` (1-based) of `line`, a caret goes under
/// where a problem gives no width: what is written there up to a `:` or the line's end; inside
/// a flow collection opened earlier on the line (`inputs: {n: notanumber, extra: 1}`), the
/// scalar alone — a quoted one to its closing quote, a plain one up to the `,`, `}` or `]`
/// that ends it. Before, the caret there ran on over the entries after it (`notanumber,
/// extra`).
pub fn written_width(line: &str, column: usize) -> usize {
    let before: Vec<char> = line.chars().take(column.saturating_sub(1)).collect();
    let rest: Vec<char> = line.chars().skip(column.saturating_sub(1)).collect();
    if flow_states(&before)
        .last()
        .is_none_or(|&(depth, _)| depth == 0)
    {
        return rest.iter().take_while(|c| **c != ':').count();
    }
    // Where `rest` is back out of what its first character opens: a collection closed, a
    // quote ended.
    let closed = |done: &dyn Fn(usize, bool) -> bool| {
        flow_states(&rest)
            .iter()
            .position(|&(depth, quoted)| done(depth, quoted))
            .map_or(rest.len(), |j| j + 1)
    };
    match rest.first() {
        // A flow collection itself (`[nested]`): through the bracket that closes it.
        Some('[' | '{') => closed(&|depth, quoted| depth == 0 && !quoted),
        Some('"' | '\'') => closed(&|_, quoted| !quoted),
        _ => {
            // A `:` ends it only as a key's (`http://x` is one scalar).
            let end = (0..rest.len())
                .find(|&j| match rest[j] {
                    ',' | '}' | ']' => true,
                    ':' => rest
                        .get(j + 1)
                        .is_none_or(|n| n.is_whitespace() || matches!(n, ',' | '}' | ']')),
                    _ => false,
                })
                .unwrap_or(rest.len());
            let plain: String = rest[..end].iter().collect();
            plain.trim_end().chars().count()
        }
    }
}

/// `chars` read as YAML flow text: after each character, how deep it stands in `[` and `{`
/// collections, and whether inside a quoted scalar (`\` escaping in double quotes, `''` in
/// single ones, as YAML reads them).
fn flow_states(chars: &[char]) -> Vec<(usize, bool)> {
    let mut out = Vec::with_capacity(chars.len());
    let (mut depth, mut quote) = (0usize, None::<char>);
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let escaped = match (quote, c) {
            (Some('"'), '\\') => true,
            (Some('\''), '\'') if chars.get(i + 1) == Some(&'\'') => true,
            (Some(q), _) if c == q => {
                quote = None;
                false
            }
            (Some(_), _) => false,
            (None, '"' | '\'') => {
                quote = Some(c);
                false
            }
            (None, '[' | '{') => {
                depth += 1;
                false
            }
            (None, ']' | '}') => {
                depth = depth.saturating_sub(1);
                false
            }
            _ => false,
        };
        out.push((depth, quote.is_some()));
        if escaped && i + 1 < chars.len() {
            i += 1;
            out.push((depth, true));
        }
        i += 1;
    }
    out
}

/// The place in `text` of byte `offset` of the scalar `value`, whose node starts at `at`: on its
/// own line and column inside a block scalar (`|`, `>`, with chomping indicators; a folded
/// block's line breaks are followed back to the file's lines), or inside a scalar written on
/// one line (plain, or quoted with nothing escaped before the offset). `None` when the text
/// at `at` is not written so: the file's characters are compared with the value's up to the
/// offset, so a place is never guessed.
pub fn within_scalar(text: &str, at: Location, value: &str, offset: usize) -> Option<Location> {
    let before = value.get(..offset)?;
    let line = text.lines().nth(at.line.checked_sub(1)?)?;
    let rest: Vec<char> = line.chars().skip(at.column.checked_sub(1)?).collect();
    match rest.first() {
        Some(c @ ('|' | '>')) => within_block(text, at.line, *c == '>', &rest[1..], before),
        _ if before.contains('\n') => None,
        first => {
            let quoted = matches!(first, Some('\'' | '"'));
            let body = &rest[usize::from(quoted)..];
            let n = before.chars().count();
            (body.len() >= n && body.iter().copied().take(n).eq(before.chars())).then(|| Location {
                line: at.line,
                column: at.column + usize::from(quoted) + n,
            })
        }
    }
}

/// [`within_scalar`] for a block scalar whose indicator is on line `header` (1-based),
/// `indicators` the characters after `|` or `>`.
fn within_block(
    text: &str,
    header: usize,
    folded: bool,
    indicators: &[char],
    before: &str,
) -> Option<Location> {
    // `|-`, `>+`: chomping only; an explicit indentation (`|2`) is not followed.
    let spec: String = indicators
        .iter()
        .take_while(|c| !c.is_whitespace() && **c != '#')
        .collect();
    if !spec.chars().all(|c| c == '-' || c == '+') {
        return None;
    }
    let lines: Vec<&str> = text.lines().skip(header).collect();
    let indent = lines
        .iter()
        .find(|l| !l.trim().is_empty())
        .map(|l| l.chars().take_while(|c| *c == ' ').count())?;
    // The block's characters with their places, its lines joined by `\n`.
    let mut src: Vec<(char, Location)> = Vec::new();
    for (k, l) in lines.iter().enumerate() {
        let blank = l.trim().is_empty();
        if !blank && l.chars().take_while(|c| *c == ' ').count() < indent {
            break;
        }
        let place = |column: usize| Location {
            line: header + 1 + k,
            column,
        };
        if k > 0 {
            src.push(('\n', place(1)));
        }
        for (j, c) in l.chars().enumerate().skip(indent) {
            src.push((c, place(j + 1)));
        }
    }
    // Follow the value through the block: a folded line break is a space, or nothing
    // before an empty line.
    let mut j = 0;
    for c in before.chars() {
        loop {
            let (s, _) = *src.get(j)?;
            j += 1;
            if s == c || (folded && c == ' ' && s == '\n') {
                break;
            }
            if !(folded && s == '\n') {
                return None;
            }
        }
    }
    while folded && src.get(j).is_some_and(|(s, _)| *s == '\n') {
        j += 1;
    }
    src.get(j).map(|(_, at)| *at)
}

/// Follows `path` and arrives on its node.
struct Seek<'a>(&'a [Seg]);

impl Guide for Seek<'_> {
    fn node(&mut self, path: &[Seg]) -> At {
        match self.0.strip_prefix(path) {
            Some([]) => At::Arrive,
            Some(_) => At::Enter,
            None => At::Skip,
        }
    }
}

/// Follows the path to a mapping and arrives on its key `key`, given there for the `nth` time
/// (from 0).
struct SeekKey<'a> {
    mapping: &'a [Seg],
    key: &'a str,
    nth: usize,
}

impl Guide for SeekKey<'_> {
    fn node(&mut self, path: &[Seg]) -> At {
        match self.mapping.starts_with(path) {
            true => At::Enter,
            false => At::Skip,
        }
    }
    fn key(&mut self, path: &[Seg], key: &str, nth: usize) -> bool {
        path == self.mapping && key == self.key && nth == self.nth
    }
}

/// A path as serde writes it in its messages (`steps[1].env`, `a[0][2]`) as the steps of a
/// path into the document (serde_path_to_error's too: `agents.claude.args[1]`); `None` when
/// an index is not a number or a part could not be named (`?`).
pub(crate) fn serde_path(path: &str) -> Option<Vec<Seg>> {
    let mut segs = Vec::new();
    for part in path.split('.') {
        let (key, indices) = match part.split_once('[') {
            Some((key, rest)) => (key, Some(rest)),
            None => (part, None),
        };
        if key == "?" {
            return None;
        }
        if !key.is_empty() {
            segs.push(Seg::Key(key.to_string()));
        }
        if let Some(indices) = indices {
            for i in indices.split('[') {
                segs.push(Seg::Index(i.strip_suffix(']')?.parse().ok()?));
            }
        }
    }
    Some(segs)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str =
        "name: x\nsteps:\n  - name: a\n    timeout: 5\n  - name: b\n    timeout: zz\n";

    #[test]
    fn locates_scalars_maps_and_sequence_items() {
        let at = |path: &[Seg]| locate(DOC, path).map(|l| (l.line, l.column));
        assert_eq!(at(&["name".into()]), Some((1, 7)));
        assert_eq!(at(&["steps".into(), 1.into()]), Some((5, 5)));
        assert_eq!(
            at(&["steps".into(), 1.into(), "timeout".into()]),
            Some((6, 14))
        );
        assert_eq!(at(&["steps".into(), 7.into()]), None);
        assert_eq!(at(&["nope".into()]), None);
    }

    #[test]
    fn locates_keys() {
        let at = |path: &[Seg]| locate_key(DOC, path).map(|l| (l.line, l.column));
        assert_eq!(
            at(&["steps".into(), 1.into(), "timeout".into()]),
            Some((6, 5))
        );
        assert_eq!(at(&["name".into()]), Some((1, 1)));
        assert_eq!(at(&["steps".into(), 1.into(), "nope".into()]), None);
    }

    #[test]
    fn places_offsets_inside_block_and_one_line_scalars() {
        let place = |text: &str, value: &str, needle: &str| {
            let at = locate(text, &["a".into()]).expect("node");
            within_scalar(text, at, value, value.find(needle).expect("needle"))
                .map(|l| (l.line, l.column))
        };
        let literal = "a: |\n  one\n    two X\nb: 1\n";
        assert_eq!(place(literal, "one\n  two X\n", "X"), Some((3, 9)));
        let folded = "a: >-\n  one\n  two\n\n  three X\n";
        assert_eq!(place(folded, "one two\nthree X", "X"), Some((5, 9)));
        assert_eq!(place("a: 'it x'\n", "it x", "x"), Some((1, 8)));
        assert_eq!(place("a: \"\\tx\"\n", "\tx", "x"), None);
        assert_eq!(place("a: |2\n   x\n", " x\n", "x"), None);
    }

    #[test]
    fn finds_every_key_given_again_where_it_is_given() {
        let text =
            "name: a\nname: b\nsteps:\n  - name: B\n    run: x\n    timeout: 5\n    run: y\n";
        let found: Vec<_> = duplicate_keys(text)
            .into_iter()
            .map(|d| {
                (
                    d.path,
                    d.key,
                    d.first.map(|l| (l.line, l.column)),
                    d.at.map(|l| (l.line, l.column)),
                )
            })
            .collect();
        assert_eq!(
            found,
            vec![
                (vec![], "name".to_string(), Some((1, 1)), Some((2, 1))),
                (
                    vec!["steps".into(), 0.into()],
                    "run".to_string(),
                    Some((5, 5)),
                    Some((7, 5))
                ),
            ]
        );
    }

    #[test]
    fn a_caret_in_a_flow_mapping_covers_the_value_alone() {
        let line = "schedule: {cron: \"* * * * *\", inputs: {n: notanumber, extra: 1}}";
        let at = |needle: &str| line.find(needle).unwrap() + 1;
        assert_eq!(written_width(line, at("notanumber")), "notanumber".len());
        assert_eq!(written_width(line, at("\"* *")), "\"* * * * *\"".len());
        assert_eq!(written_width(line, at("1}}")), 1);
        assert_eq!(written_width("{url: http://x, n: 1}", 7), "http://x".len());
        assert_eq!(
            written_width("run: [a, [nested], 12]", 10),
            "[nested]".len()
        );
        // Outside one, as before: up to a `:` or the line's end.
        assert_eq!(written_width("{a: 'it''s', b: 1}", 5), "'it''s'".len());
        assert_eq!(written_width(r#"{a: "x\"y", b: 1}"#, 5), r#""x\"y""#.len());
        assert_eq!(written_width("run: echo a, b", 6), "echo a, b".len());
    }

    #[test]
    fn keys_given_again_before_the_text_stops_parsing_are_found_where_they_are_given() {
        let at = |text: &str| -> Vec<_> {
            duplicate_keys(text)
                .into_iter()
                .map(|d| (d.key, d.at.map(|l| (l.line, l.column))))
                .collect()
        };
        // A tab where indentation is read, after the duplicate.
        let tab =
            "name: a\nsteps:\n  - name: x\n    run: echo\n    run: echo 2\n  - name: y\n\trun: z\n";
        assert_eq!(at(tab), vec![("run".to_string(), Some((5, 5)))]);
        // Nesting past serde_yaml's limit of 128, after the duplicate.
        let deep = format!("a: 1\na: 2\nb:\n  {}x\n", "- ".repeat(200));
        assert_eq!(at(&deep), vec![("a".to_string(), Some((2, 1)))]);
    }

    #[test]
    fn locates_json_values() {
        let json = "{\n  \"workflow\": {\n    \"timeout_seconds\": 99\n  }\n}";
        let at = locate_json(json, &["workflow".into(), "timeout_seconds".into()]);
        assert_eq!(at.map(|l| (l.line, l.column)), Some((3, 24)));
        let long_key = format!("{{\"{}\": 1, \"b\": 2}}", "k".repeat(2000));
        assert!(locate_json(&long_key, &["b".into()]).is_some());
    }
}
