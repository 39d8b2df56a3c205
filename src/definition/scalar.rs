//! A YAML scalar read as text, so `PORT: 8080` and `DEBUG: true` are valid env values.

use std::fmt;

use schemars::JsonSchema;
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};

/// Any scalar (string, number, boolean), kept as the text it stands for.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, JsonSchema)]
#[schemars(with = "ScalarSchema")]
#[serde(transparent)]
pub struct ScalarString(pub String);

#[derive(JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)]
enum ScalarSchema {
    String(String),
    Number(f64),
    Boolean(bool),
}

impl<'de> Deserialize<'de> for ScalarString {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = ScalarString;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string, number or boolean")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ScalarString, E> {
                Ok(ScalarString(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<ScalarString, E> {
                Ok(ScalarString(v.to_string()))
            }
            // Integers beyond 64 bits are kept as written too: a range check, not the parser,
            // says what is wrong with them.
            fn visit_u128<E: de::Error>(self, v: u128) -> Result<ScalarString, E> {
                Ok(ScalarString(v.to_string()))
            }
            fn visit_i128<E: de::Error>(self, v: i128) -> Result<ScalarString, E> {
                Ok(ScalarString(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<ScalarString, E> {
                Ok(ScalarString(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<ScalarString, E> {
                Ok(ScalarString(v.to_string()))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<ScalarString, E> {
                Ok(ScalarString(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

/// The text scalars are written with, by their paths in a YAML document: what serde_yaml
/// hands a string field for any scalar (`1.10`, `2.0`, `0x10`, `True`), where a value read
/// as any type becomes a number first and loses its text (`1.1`, `2`, `16`, `true`). `None`
/// for a path that is not a scalar in `text`. One pass over the document, whatever the number
/// of paths.
pub(crate) fn written_texts(text: &str, paths: &[Vec<super::locate::Seg>]) -> Vec<Option<String>> {
    let mut trie = Trie::default();
    for (id, path) in paths.iter().enumerate() {
        let mut node = &mut trie;
        for seg in path {
            node = match seg {
                super::locate::Seg::Key(k) => node.keys.entry(k.clone()).or_default(),
                super::locate::Seg::Index(i) => node.indices.entry(*i).or_default(),
            };
        }
        node.leaves.push(id);
    }
    let mut read = Read {
        trie: &trie,
        out: vec![None; paths.len()],
    };
    super::yaml_walk::walk_whole(super::without_bom(text), &mut read);
    read.out
}

/// `text` with each `ScalarString` at its path (beside it) replaced by the text it is written
/// with there, when the two differ: a number or boolean given where text is meant is kept as
/// written (`with: {version: 1.10}` gives `1.10`, as `--input version=1.10` does).
pub(crate) fn keep_written(text: &str, values: Vec<(Vec<super::locate::Seg>, &mut ScalarString)>) {
    if values.is_empty() {
        return;
    }
    let paths: Vec<_> = values.iter().map(|(p, _)| p.clone()).collect();
    for ((_, value), written) in values.into_iter().zip(written_texts(text, &paths)) {
        if let Some(written) = written {
            value.0 = written;
        }
    }
}

#[derive(Default)]
struct Trie {
    keys: std::collections::BTreeMap<String, Trie>,
    indices: std::collections::BTreeMap<usize, Trie>,
    leaves: Vec<usize>,
}

impl Trie {
    /// The node of the trie at `path`, if any path passes through it.
    fn at(&self, path: &[super::locate::Seg]) -> Option<&Trie> {
        path.iter().try_fold(self, |node, seg| match seg {
            super::locate::Seg::Key(k) => node.keys.get(k),
            super::locate::Seg::Index(i) => node.indices.get(i),
        })
    }
}

/// Reads the scalars at the trie's paths as their text.
struct Read<'a> {
    trie: &'a Trie,
    out: Vec<Option<String>>,
}

impl super::yaml_walk::Guide for Read<'_> {
    fn node(&mut self, path: &[super::locate::Seg]) -> super::yaml_walk::At {
        use super::yaml_walk::At;
        match self.trie.at(path) {
            None => At::Skip,
            Some(node) if node.keys.is_empty() && node.indices.is_empty() => At::Text,
            Some(_) => At::Enter,
        }
    }
    fn text(&mut self, path: &[super::locate::Seg], text: Option<String>) {
        for &id in self.trie.at(path).map_or(&[][..], |node| &node.leaves) {
            self.out[id] = text.clone();
        }
    }
}

/// The warnings for the items of lists written in a definition (`foreach: [1.10, 2.0]`) that
/// YAML reads as numbers or booleans whose text is not as written: the item is that number
/// (`${{ item }}` is `1.1`, `2`), not the text. Each located (`FILE:LINE:COLUMN`), with the
/// fix: quote it. `lists`: (what the list is, its path in `text`, its items).
pub fn items_not_as_written(
    file: &str,
    text: &str,
    lists: &[(String, Vec<super::locate::Seg>, &[serde_json::Value])],
) -> Vec<String> {
    let mut paths = Vec::new();
    let mut seen = Vec::new();
    // Each scalar of an item that YAML types (a number, a boolean, null), nested ones too
    // (`{x: 1.30}`): its path and the text it is read as.
    fn typed(
        value: &serde_json::Value,
        at: Vec<super::locate::Seg>,
        out: &mut Vec<(Vec<super::locate::Seg>, String)>,
    ) {
        match value {
            serde_json::Value::Number(_) | serde_json::Value::Bool(_) | serde_json::Value::Null => {
                out.push((at, value.to_string()))
            }
            serde_json::Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    typed(
                        item,
                        [at.as_slice(), &[super::locate::Seg::Index(i)]].concat(),
                        out,
                    );
                }
            }
            serde_json::Value::Object(map) => {
                for (k, item) in map {
                    typed(
                        item,
                        [at.as_slice(), &[super::locate::Seg::Key(k.clone())]].concat(),
                        out,
                    );
                }
            }
            serde_json::Value::String(_) => {}
        }
    }
    for (what, path, items) in lists {
        for (i, item) in items.iter().enumerate() {
            let mut found = Vec::new();
            typed(
                item,
                [path.as_slice(), &[super::locate::Seg::Index(i)]].concat(),
                &mut found,
            );
            for (at, read) in found {
                paths.push(at);
                seen.push((what, i, read));
            }
        }
    }
    if paths.is_empty() {
        return Vec::new();
    }
    let written = written_texts(text, &paths);
    let mut out = Vec::new();
    for ((path, (what, i, read)), written) in paths.iter().zip(seen).zip(written) {
        let Some(written) = written.filter(|w| *w != read) else {
            continue;
        };
        let at = super::locate(text, path)
            .map(|l| format!("{file}:{}:{}", l.line, l.column))
            .unwrap_or_else(|| file.to_string());
        out.push(format!(
            "{at}: item {i} of {what} is written `{}` but read as `{read}` (YAML takes it for a number or a boolean), so `${{{{ item }}}}` is `{read}`; quote it (`\"{}\"`) to keep it as written",
            super::shown(&written),
            written.replace('\\', "\\\\").replace('"', "\\\"")
        ));
    }
    out
}
