//! Refusing YAML tags in definitions. serde_yaml ignores a local tag where a string is expected
//! (`run: !include /etc/passwd` runs `/etc/passwd`) and resolves `!!binary` or
//! `!<tag:...>` to plain text, so a tag would change nothing while looking as if it did.
//!
//! Two nets: the lexical scan (`lexical.rs`) sees every tag as written, including the ones
//! serde_yaml resolves; serde_yaml itself, walked with a visitor, reports every local tag it
//! keeps, at its exact place, whatever the lexical scan made of the text around it.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, EnumAccess, MapAccess, SeqAccess, Visitor};

use super::lexical::{Finding, scan, too_deep};
use super::workflow::yaml_location;
use super::{Location, Problem};

const TAG: &str = "\u{0}cortex-tag:";

/// A located problem for the first tag written in `text`, as the lexical scan sees it (or
/// flow nesting too deep to scan for one); `line_offset` is added to every line (front matter
/// does not start on the file's first line).
pub(crate) fn written_tag(text: &str, line_offset: usize) -> Option<Problem> {
    match scan(text, true)? {
        Finding::Tag { at, tag } => Some(tag_problem(shift(at, line_offset), &tag)),
        Finding::TooDeep(at) => Some(too_deep(shift(at, line_offset))),
    }
}

/// A located problem for the first tag serde_yaml keeps in `text` (the second net, behind
/// `written_tag`). It walks serde_yaml over the document, which expands every alias: call it
/// only on a document whose aliases are bounded (`document::problem`).
pub(crate) fn kept_tag(text: &str, line_offset: usize) -> Option<Problem> {
    let (at, tag) = walk(text)?;
    Some(tag_problem(shift(at, line_offset), &tag))
}

fn tag_problem(at: Location, tag: &str) -> Problem {
    Problem::new(
        format!(
            "the YAML tag `{tag}` is not allowed: definitions are plain data, and a tag would be ignored"
        ),
        Some(at),
    )
    .with_hint("remove the tag; if the value is text that starts with `!`, quote it ('!like this')")
}

fn shift(at: Location, lines: usize) -> Location {
    Location {
        line: at.line + lines,
        column: at.column,
    }
}

/// The first tag serde_yaml keeps (it hands tagged nodes to `visit_enum`), with its place.
/// A document that does not parse has no tag to report here: the parser's own error will.
/// Without a `!` there is no tag, and no second parse.
fn walk(text: &str) -> Option<(Location, String)> {
    if !text.contains('!') {
        return None;
    }
    let err = Walk
        .deserialize(serde_yaml::Deserializer::from_str(text))
        .err()?;
    let message = err.to_string();
    let start = message.find(TAG)? + TAG.len();
    let tag: String = message[start..]
        .split(" at line ")
        .next()
        .unwrap_or_default()
        .to_string();
    Some((yaml_location(&err)?, super::name::shown(&format!("!{tag}"))))
}

struct Walk;

impl<'de> DeserializeSeed<'de> for Walk {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Walk {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML node")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while map.next_key_seed(Walk)?.is_some() {
            map.next_value_seed(Walk)?;
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(Walk)?.is_some() {}
        Ok(())
    }

    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<(), A::Error> {
        let (tag, _): (String, _) = data.variant()?;
        Err(de::Error::custom(format!("{TAG}{tag}")))
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_none<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Lines of YAML-like text: keys, sequences, quotes that may span lines, plain scalars
    /// that may continue, block scalars, flow collections, anchors, comments and local tags.
    fn soup() -> impl Strategy<Value = String> {
        let fragment = prop::sample::select(vec![
            "k: v",
            "k: !t v",
            "- v",
            "- !t v",
            "- k: v",
            "- k: !t v",
            "k:",
            "-",
            "'q",
            "q'",
            "\"q",
            "q\"",
            "v",
            "!t v",
            "!t k: v",
            "k: |",
            "k: >-",
            "k: 'a",
            "k: [a, !t b]",
            "k: {a: !t b}",
            "[a,",
            "!t b]",
            "# c !t",
            "k: &a !t v",
            "k: x # !t",
            "--- !t",
            "k: *a",
            "? !t k",
            ": !t v",
            "k: a'b",
            "it''s",
            "\"a\\\"b\"",
        ]);
        prop::collection::vec(
            (
                prop::sample::select(vec!["", "  ", "    ", "   "]),
                fragment,
            ),
            1..8,
        )
        .prop_map(|lines| {
            lines
                .into_iter()
                .map(|(indent, f)| format!("{indent}{f}"))
                .collect::<Vec<_>>()
                .join("\n")
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]
        /// Property: whenever serde_yaml parses a document and keeps a local tag, the lexical
        /// scan has found a tag on that line or before it (the scan errs only on the side of
        /// reporting).
        #[test]
        fn the_scan_never_misses_a_tag_the_parser_keeps(text in soup()) {
            if serde_yaml::from_str::<serde_yaml::Value>(&text).is_ok()
                && let Some((kept, _)) = walk(&text)
            {
                match scan(&text, true) {
                    // The parser places a node with an anchor at its anchor (`&a !t v`).
                    Some(Finding::Tag { at, .. }) => {
                        prop_assert!(at.line <= kept.line, "{at:?} after {kept:?}\n{text}")
                    }
                    other => prop_assert!(false, "missed the tag at {kept:?} ({other:?})\n{text}"),
                }
            }
        }
    }

    #[test]
    fn serde_yaml_reports_the_local_tags_it_keeps() {
        let (at, tag) = walk("a: 1\nrun: !include /etc/passwd\n").unwrap();
        assert_eq!((at.line, at.column, tag.as_str()), (2, 6, "!include"));
        assert_eq!(
            walk("a: !!binary aGk=\n"),
            None,
            "resolved, so only the scan sees it"
        );
        assert_eq!(walk("a: [unclosed\n"), None);
    }

    #[test]
    fn tags_in_front_matter_are_placed_in_the_file() {
        let problem = written_tag("name: !x a\n", 1).unwrap();
        assert_eq!(problem.at, Some(Location { line: 2, column: 7 }));
        assert!(problem.message.contains("`!x`"), "{problem:?}");
    }
}
