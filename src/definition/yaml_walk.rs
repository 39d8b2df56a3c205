//! One walk over a YAML (or JSON) document, guided node by node: the single reader behind
//! locating a node or a key, finding keys given twice and reading scalars as written.
//!
//! The walk runs the real parser through a `DeserializeSeed`, so what it sees is what serde
//! sees. A guide decides for each node whether to skip it, enter it, read it as text, or stop
//! on it; stopping fails the parse with [`ARRIVED`] from inside the node's (or the key's) own
//! visit, which is what makes the parser's error carry that node's exact position.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::Location;
use super::locate::Seg;

/// The message of the error a walk stops with when its guide arrives.
const ARRIVED: &str = "\u{0}cortex-walk-arrived";

/// What to do with one node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum At {
    /// Pass over it and everything below it.
    Skip,
    /// Walk into its keys or items (a scalar is passed over).
    Enter,
    /// Read it as the text a scalar is written with ([`Guide::text`]).
    Text,
    /// Stop the walk on it: the walk's error is placed on this node.
    Arrive,
}

/// Decides, node by node, what a walk does; paths are from the document's root.
pub(crate) trait Guide {
    /// What to do with the node at `path`.
    fn node(&mut self, path: &[Seg]) -> At;
    /// Whether to stop on the key `key` of the mapping at `path`, given there for the `nth`
    /// time (from 0): the walk's error is then placed on the key.
    fn key(&mut self, _path: &[Seg], _key: &str, _nth: usize) -> bool {
        false
    }
    /// The text of the node at `path` that [`Guide::node`] asked to read (`None`: it is not a
    /// scalar).
    fn text(&mut self, _path: &[Seg], _text: Option<String>) {}
}

/// Walks the YAML `text` under `guide`; the place it arrived at, if it did.
pub(crate) fn walk(text: &str, guide: &mut dyn Guide) -> Option<Location> {
    let err = walk_with(serde_yaml::Deserializer::from_str(text), guide).err()?;
    if !err.to_string().contains(ARRIVED) {
        return None;
    }
    err.location().map(|l| Location {
        line: l.line(),
        column: l.column(),
    })
}

/// Walks the JSON `text` under `guide`; the place serde_json gives for where it arrived (just
/// after the node), if it did.
pub(crate) fn walk_json(text: &str, guide: &mut dyn Guide) -> Option<Location> {
    let err = walk_with(&mut serde_json::Deserializer::from_str(text), guide).err()?;
    (err.to_string().contains(ARRIVED) && err.line() > 0).then(|| Location {
        line: err.line(),
        column: err.column().max(1),
    })
}

/// Whether a walk over the YAML `text` read it to its end (it did not arrive, and the text
/// parses).
pub(crate) fn walk_whole(text: &str, guide: &mut dyn Guide) -> bool {
    walk_with(serde_yaml::Deserializer::from_str(text), guide).is_ok()
}

fn walk_with<'de, D: Deserializer<'de>>(d: D, guide: &mut dyn Guide) -> Result<(), D::Error> {
    Walk {
        path: &mut Vec::new(),
        guide,
    }
    .deserialize(d)
}

struct Walk<'a> {
    path: &'a mut Vec<Seg>,
    guide: &'a mut dyn Guide,
}

impl Walk<'_> {
    fn child(&mut self) -> Walk<'_> {
        Walk {
            path: &mut *self.path,
            guide: &mut *self.guide,
        }
    }
}

impl<'de> DeserializeSeed<'de> for Walk<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        match self.guide.node(self.path) {
            At::Skip => IgnoredAny::deserialize(d).map(|_| ()),
            At::Enter => d.deserialize_any(self),
            At::Arrive => d.deserialize_any(Arrive),
            At::Text => {
                let text = d.deserialize_str(Text)?;
                self.guide.text(self.path, text);
                Ok(())
            }
        }
    }
}

macro_rules! pass_scalars {
    ($($name:ident: $ty:ty),*) => {$(
        fn $name<E: de::Error>(self, _: $ty) -> Result<(), E> {
            Ok(())
        }
    )*};
}

impl<'de> Visitor<'de> for Walk<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML node")
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<(), A::Error> {
        let mut seen: Vec<String> = Vec::new();
        loop {
            let key = map.next_key_seed(Key {
                path: self.path,
                guide: &mut *self.guide,
                seen: &seen,
            })?;
            match key {
                None => return Ok(()),
                Some(None) => {
                    map.next_value::<IgnoredAny>()?;
                }
                Some(Some(key)) => {
                    seen.push(key.clone());
                    self.path.push(Seg::Key(key));
                    map.next_value_seed(self.child())?;
                    self.path.pop();
                }
            }
        }
    }

    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<(), A::Error> {
        let mut i = 0;
        loop {
            self.path.push(Seg::Index(i));
            let more = seq.next_element_seed(self.child())?.is_some();
            self.path.pop();
            if !more {
                return Ok(());
            }
            i += 1;
        }
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }

    fn visit_enum<A: de::EnumAccess<'de>>(self, data: A) -> Result<(), A::Error> {
        let (IgnoredAny, variant) = data.variant::<IgnoredAny>()?;
        de::VariantAccess::newtype_variant_seed(variant, self)
    }

    pass_scalars!(
        visit_bool: bool,
        visit_i64: i64,
        visit_u64: u64,
        visit_i128: i128,
        visit_u128: u128,
        visit_f64: f64,
        visit_str: &str
    );

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
}

/// Reads a mapping's key as text (a scalar key as YAML writes it; a mapping or a list as a key:
/// `None`), asking the guide whether to stop on it.
struct Key<'a> {
    path: &'a [Seg],
    guide: &'a mut dyn Guide,
    seen: &'a [String],
}

impl Key<'_> {
    fn read<E: de::Error>(self, key: String) -> Result<Option<String>, E> {
        let nth = self.seen.iter().filter(|k| **k == key).count();
        match self.guide.key(self.path, &key, nth) {
            true => Err(E::custom(ARRIVED)),
            false => Ok(Some(key)),
        }
    }
}

impl<'de> DeserializeSeed<'de> for Key<'_> {
    type Value = Option<String>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Option<String>, D::Error> {
        // Failing inside the key's own visit is what places the error on the key.
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Key<'_> {
    type Value = Option<String>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a key")
    }
    fn visit_str<E: de::Error>(self, key: &str) -> Result<Option<String>, E> {
        self.read(key.to_string())
    }
    fn visit_bool<E: de::Error>(self, key: bool) -> Result<Option<String>, E> {
        self.read(key.to_string())
    }
    fn visit_i64<E: de::Error>(self, key: i64) -> Result<Option<String>, E> {
        self.read(key.to_string())
    }
    fn visit_u64<E: de::Error>(self, key: u64) -> Result<Option<String>, E> {
        self.read(key.to_string())
    }
    fn visit_i128<E: de::Error>(self, key: i128) -> Result<Option<String>, E> {
        self.read(key.to_string())
    }
    fn visit_u128<E: de::Error>(self, key: u128) -> Result<Option<String>, E> {
        self.read(key.to_string())
    }
    fn visit_f64<E: de::Error>(self, key: f64) -> Result<Option<String>, E> {
        // As YAML writes it (`1.0`, `.inf`), not as Rust does (`1`, `inf`).
        let text = serde_yaml::to_string(&key).unwrap_or_default();
        self.read(text.trim().to_string())
    }
    fn visit_unit<E: de::Error>(self) -> Result<Option<String>, E> {
        self.read("null".to_string())
    }
    fn visit_none<E: de::Error>(self) -> Result<Option<String>, E> {
        self.read("null".to_string())
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Option<String>, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Option<String>, A::Error> {
        IgnoredAny.visit_map(map).map(|_| None)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Option<String>, A::Error> {
        IgnoredAny.visit_seq(seq).map(|_| None)
    }
    fn visit_enum<A: de::EnumAccess<'de>>(self, data: A) -> Result<Option<String>, A::Error> {
        IgnoredAny.visit_enum(data).map(|_| None)
    }
}

/// Fails on whatever node it visits: the node the walk arrived at.
struct Arrive;

macro_rules! arrive_on_scalars {
    ($($name:ident: $ty:ty),*) => {$(
        fn $name<E: de::Error>(self, _: $ty) -> Result<(), E> {
            Err(E::custom(ARRIVED))
        }
    )*};
}

impl<'de> Visitor<'de> for Arrive {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML node")
    }
    arrive_on_scalars!(
        visit_bool: bool,
        visit_i64: i64,
        visit_u64: u64,
        visit_i128: i128,
        visit_u128: u128,
        visit_f64: f64,
        visit_str: &str
    );
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Err(E::custom(ARRIVED))
    }
    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        Err(E::custom(ARRIVED))
    }
    fn visit_some<D: Deserializer<'de>>(self, _: D) -> Result<(), D::Error> {
        Err(de::Error::custom(ARRIVED))
    }
    fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<(), A::Error> {
        Err(de::Error::custom(ARRIVED))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<(), A::Error> {
        Err(de::Error::custom(ARRIVED))
    }
    fn visit_enum<A: de::EnumAccess<'de>>(self, _: A) -> Result<(), A::Error> {
        Err(de::Error::custom(ARRIVED))
    }
}

/// A scalar's text, as written (a node that is not a scalar: `None`).
struct Text;

impl Visitor<'_> for Text {
    type Value = Option<String>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a scalar")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Option<String>, E> {
        Ok(Some(v.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records every node it is asked about and reads every scalar as text.
    struct Everything(Vec<(Vec<Seg>, Option<String>)>);

    impl Guide for Everything {
        fn node(&mut self, path: &[Seg]) -> At {
            match path.last() {
                Some(Seg::Key(k)) if k == "map" || k == "list" => At::Enter,
                Some(Seg::Key(_)) | Some(Seg::Index(_)) => At::Text,
                None => At::Enter,
            }
        }
        fn text(&mut self, path: &[Seg], text: Option<String>) {
            self.0.push((path.to_vec(), text));
        }
    }

    #[test]
    fn reads_scalars_as_written_and_scalar_keys_as_yaml_writes_them() {
        let mut seen = Everything(Vec::new());
        let text = "a: 1.10\nmap: {1: True, 2.0: 0x10}\nlist: [ 'x', 07 ]\n";
        assert!(walk_whole(text, &mut seen));
        let got: Vec<_> = seen.0.into_iter().map(|(p, t)| (p, t.unwrap())).collect();
        let key = |k: &str| Seg::Key(k.to_string());
        assert_eq!(
            got,
            vec![
                (vec![key("a")], "1.10".to_string()),
                (vec![key("map"), key("1")], "True".to_string()),
                (vec![key("map"), key("2.0")], "0x10".to_string()),
                (vec![key("list"), Seg::Index(0)], "x".to_string()),
                (vec![key("list"), Seg::Index(1)], "07".to_string()),
            ]
        );
    }

    #[test]
    fn a_walk_that_never_arrives_reports_no_place() {
        struct Nowhere;
        impl Guide for Nowhere {
            fn node(&mut self, _: &[Seg]) -> At {
                At::Enter
            }
        }
        assert_eq!(walk("a: [1, {b: c}]\n", &mut Nowhere), None);
        assert_eq!(walk("a: [1, {b: c\n", &mut Nowhere), None);
        assert!(!walk_whole("a: [1, {b: c\n", &mut Nowhere));
    }
}
