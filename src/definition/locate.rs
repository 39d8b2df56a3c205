//! Finding the `line:column` of any node of a YAML document by its path.
//!
//! serde_yaml attaches the position of the current node to every error. To locate a node we
//! walk the document with a `DeserializeSeed` that follows the path and fails on arrival; the
//! error's position is the node's. This reuses the real parser, so positions are exact.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::Location;

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

const ARRIVED: &str = "\u{0}cortex-locate-arrived";

/// The position of the node at `path` in `text`, if the path exists.
pub fn locate(text: &str, path: &[Seg]) -> Option<Location> {
    arrived(text, Seek(path)).map(|at| past_anchor(text, at))
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
    arrived(text, Seek(path).key())
}

/// [`locate_key`] of the key's occurrence `nth` (from 0) in its mapping: where a key given
/// twice is given again.
pub fn locate_key_nth(text: &str, path: &[Seg], nth: usize) -> Option<Location> {
    arrived(text, SeekKey(path, nth))
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
/// once, and serde reports only the first duplicate, at its mapping's start.
pub fn duplicate_keys(text: &str) -> Vec<Duplicate> {
    let found = std::cell::RefCell::new(Vec::new());
    let walk = Walk {
        path: Vec::new(),
        found: &found,
    };
    if walk
        .deserialize(serde_yaml::Deserializer::from_str(text))
        .is_err()
    {
        return Vec::new();
    }
    let mut duplicates: Vec<Duplicate> = found
        .into_inner()
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

/// Reads a whole document, noting each key given again in its mapping: (the mapping's path,
/// the key, which occurrence).
struct Walk<'a> {
    path: Vec<Seg>,
    found: &'a std::cell::RefCell<Vec<(Vec<Seg>, String, usize)>>,
}

impl<'de> DeserializeSeed<'de> for Walk<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Walk<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML node")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen: Vec<String> = Vec::new();
        while let Some(key) = map.next_key::<serde_yaml::Value>()? {
            let key = match key {
                serde_yaml::Value::String(k) => k,
                other => serde_yaml::to_string(&other)
                    .map(|s| s.trim().to_string())
                    .unwrap_or_default(),
            };
            let nth = seen.iter().filter(|k| **k == key).count();
            if nth > 0 {
                self.found
                    .borrow_mut()
                    .push((self.path.clone(), key.clone(), nth));
            }
            seen.push(key.clone());
            map.next_value_seed(Walk {
                path: [self.path.as_slice(), &[Seg::Key(key)]].concat(),
                found: self.found,
            })?;
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut i = 0;
        while seq
            .next_element_seed(Walk {
                path: [self.path.as_slice(), &[Seg::Index(i)]].concat(),
                found: self.found,
            })?
            .is_some()
        {
            i += 1;
        }
        Ok(())
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }

    fn visit_enum<A: de::EnumAccess<'de>>(self, data: A) -> Result<(), A::Error> {
        let (IgnoredAny, variant) = data.variant::<IgnoredAny>()?;
        de::VariantAccess::newtype_variant_seed(variant, self)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_i128<E: de::Error>(self, _: i128) -> Result<(), E> {
        Ok(())
    }
    fn visit_u128<E: de::Error>(self, _: u128) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
}

/// Where `seek`, reading `text` as YAML, stopped on arriving at what it seeks (it stops by
/// failing with `ARRIVED`); `None` when it failed otherwise, or read the whole text.
fn arrived<'de, S: DeserializeSeed<'de>>(text: &'de str, seek: S) -> Option<Location> {
    let err = seek
        .deserialize(serde_yaml::Deserializer::from_str(text))
        .err()?;
    if !err.to_string().contains(ARRIVED) {
        return None;
    }
    err.location().map(|l| Location {
        line: l.line(),
        column: l.column(),
    })
}

/// The position of the node at `path` in the JSON `text`, if the path exists. JSON is read as
/// YAML first, which gives the start of the node; if the YAML parser refuses the text (a key
/// over 1,024 characters, say), serde_json gives the position just after the node.
pub fn locate_json(text: &str, path: &[Seg]) -> Option<Location> {
    if let Some(at) = locate(text, path) {
        return Some(at);
    }
    let err = Seek(path)
        .deserialize(&mut serde_json::Deserializer::from_str(text))
        .err()?;
    (err.to_string().contains(ARRIVED) && err.line() > 0).then(|| Location {
        line: err.line(),
        column: err.column().max(1),
    })
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

struct Seek<'a>(&'a [Seg]);

impl<'a> Seek<'a> {
    /// Arrive on the key of the path's last step, not on its value.
    fn key(self) -> SeekKey<'a> {
        SeekKey(self.0, 0)
    }
}

/// `Seek` that arrives on a key: the path's last step is a key of a mapping; its occurrence
/// given by the number (from 0), for a key given more than once.
struct SeekKey<'a>(&'a [Seg], usize);

impl<'de> DeserializeSeed<'de> for SeekKey<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for SeekKey<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML node")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let Some((Seg::Key(want), rest)) = self.0.split_first() else {
            return Ok(());
        };
        if rest.is_empty() {
            // Fail while reading the key itself: the error is placed on it.
            let skip = std::cell::Cell::new(self.1);
            while map.next_key_seed(KeyProbe(want, &skip))?.is_some() {
                map.next_value::<IgnoredAny>()?;
            }
            return Ok(());
        }
        while let Some(key) = map.next_key::<serde_yaml::Value>()? {
            if key.as_str() == Some(want.as_str()) {
                return map.next_value_seed(SeekKey(rest, self.1));
            }
            map.next_value::<IgnoredAny>()?;
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let Some((Seg::Index(want), rest)) = self.0.split_first() else {
            return Ok(());
        };
        let mut i = 0;
        loop {
            if i == *want {
                return seq.next_element_seed(SeekKey(rest, self.1)).map(|_| ());
            }
            if seq.next_element::<IgnoredAny>()?.is_none() {
                return Ok(());
            }
            i += 1;
        }
    }
}

/// Reads a mapping's key; fails (arrives) when it is the one wanted, once the number of its
/// occurrences to skip is down to 0.
struct KeyProbe<'a>(&'a str, &'a std::cell::Cell<usize>);

impl<'de> DeserializeSeed<'de> for KeyProbe<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        // Failing inside the key's own visit is what places the error on the key.
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for KeyProbe<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a key")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<(), E> {
        if key != self.0 {
            return Ok(());
        }
        match self.1.get() {
            0 => Err(E::custom(ARRIVED)),
            n => {
                self.1.set(n - 1);
                Ok(())
            }
        }
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        IgnoredAny::deserialize(d).map(|_| ())
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<(), A::Error> {
        IgnoredAny.visit_map(map).map(|_| ())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<(), A::Error> {
        IgnoredAny.visit_seq(seq).map(|_| ())
    }
}

impl<'de> DeserializeSeed<'de> for Seek<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

macro_rules! arrive_on_scalar {
    ($($name:ident: $ty:ty),*) => {$(
        fn $name<E: de::Error>(self, _: $ty) -> Result<(), E> {
            if self.0.is_empty() { Err(E::custom(ARRIVED)) } else { Ok(()) }
        }
    )*};
}

impl<'de> Visitor<'de> for Seek<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML node")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let Some((first, rest)) = self.0.split_first() else {
            return Err(de::Error::custom(ARRIVED));
        };
        while let Some(key) = map.next_key::<serde_yaml::Value>()? {
            let matches = match (first, &key) {
                (Seg::Key(want), serde_yaml::Value::String(k)) => want == k,
                (Seg::Key(want), other) => serde_yaml::to_string(other)
                    .map(|s| s.trim() == want)
                    .unwrap_or(false),
                _ => false,
            };
            if matches {
                return map.next_value_seed(Seek(rest));
            }
            map.next_value::<IgnoredAny>()?;
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let Some((first, rest)) = self.0.split_first() else {
            return Err(de::Error::custom(ARRIVED));
        };
        let mut i = 0;
        loop {
            if *first == Seg::Index(i) {
                return seq.next_element_seed(Seek(rest)).map(|_| ());
            }
            if seq.next_element::<IgnoredAny>()?.is_none() {
                return Ok(());
            }
            i += 1;
        }
    }

    arrive_on_scalar!(
        visit_bool: bool,
        visit_i64: i64,
        visit_u64: u64,
        visit_i128: i128,
        visit_u128: u128,
        visit_f64: f64,
        visit_str: &str
    );

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        if self.0.is_empty() {
            Err(E::custom(ARRIVED))
        } else {
            Ok(())
        }
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }

    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        self.visit_unit()
    }

    fn visit_enum<A: de::EnumAccess<'de>>(self, data: A) -> Result<(), A::Error> {
        if self.0.is_empty() {
            return Err(de::Error::custom(ARRIVED));
        }
        let (IgnoredAny, variant) = data.variant::<IgnoredAny>()?;
        de::VariantAccess::newtype_variant_seed(variant, self)
    }
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
    fn locates_json_values() {
        let json = "{\n  \"workflow\": {\n    \"timeout_seconds\": 99\n  }\n}";
        let at = locate_json(json, &["workflow".into(), "timeout_seconds".into()]);
        assert_eq!(at.map(|l| (l.line, l.column)), Some((3, 24)));
        let long_key = format!("{{\"{}\": 1, \"b\": 2}}", "k".repeat(2000));
        assert!(locate_json(&long_key, &["b".into()]).is_some());
    }
}
