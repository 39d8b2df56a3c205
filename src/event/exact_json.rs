//! JSON text in the one form the log stores it: compact, object keys sorted, strings as
//! `serde_json` writes them, and every number digit for digit as written (`1.10`, `-0`, `1E2`,
//! `18446744073709551616`), which a `serde_json::Value` would read as a double and write
//! back changed (`1.1`, `-0.0`, `100.0`, `1.8446744073709552e+19`).

use std::collections::BTreeMap;

use serde_json::value::RawValue;

/// A JSON value whose numbers are kept as their text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Json {
    Null,
    Bool(bool),
    /// A number as written.
    Number(String),
    String(String),
    Array(Vec<Json>),
    /// Keys sorted; of a key written twice, the last (as `serde_json::Value` reads it).
    Object(BTreeMap<String, Json>),
}

impl Json {
    /// One JSON value (whitespace around it aside), numbers kept as written.
    pub fn parse(text: &str) -> Result<Json, serde_json::Error> {
        let raw: &RawValue = serde_json::from_str(text)?;
        Json::of_raw(raw)
    }

    /// Each level is read by `serde_json` (which checks it and bounds its depth), its values
    /// kept as their text (`RawValue`) and read in turn: a number is never converted.
    fn of_raw(raw: &RawValue) -> Result<Json, serde_json::Error> {
        let text = raw.get().trim();
        Ok(match text.as_bytes().first() {
            Some(b'{') => Json::Object(
                serde_json::from_str::<BTreeMap<String, &RawValue>>(text)?
                    .into_iter()
                    .map(|(k, v)| Ok((k, Json::of_raw(v)?)))
                    .collect::<Result<_, serde_json::Error>>()?,
            ),
            Some(b'[') => Json::Array(
                serde_json::from_str::<Vec<&RawValue>>(text)?
                    .into_iter()
                    .map(Json::of_raw)
                    .collect::<Result<_, _>>()?,
            ),
            Some(b'"') => Json::String(serde_json::from_str(text)?),
            Some(b't') => Json::Bool(true),
            Some(b'f') => Json::Bool(false),
            Some(b'n') => Json::Null,
            _ => Json::Number(text.to_string()),
        })
    }

    /// The value in the stored form.
    pub fn text(&self) -> String {
        let mut out = String::new();
        self.write(&mut out);
        out
    }

    fn write(&self, out: &mut String) {
        let string = |s: &str, out: &mut String| {
            out.push_str(&serde_json::to_string(s).expect("a string serialises"))
        };
        match self {
            Json::Null => out.push_str("null"),
            Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Json::Number(n) => out.push_str(n),
            Json::String(s) => string(s, out),
            Json::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    item.write(out);
                }
                out.push(']');
            }
            Json::Object(map) => {
                out.push('{');
                for (i, (k, v)) in map.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    string(k, out);
                    out.push(':');
                    v.write(out);
                }
                out.push('}');
            }
        }
    }

    /// Each string value (not a key) given to `f`, which may change it.
    pub fn strings_mut(&mut self, f: &mut dyn FnMut(&mut String)) {
        match self {
            Json::String(s) => f(s),
            Json::Array(items) => items.iter_mut().for_each(|v| v.strings_mut(f)),
            Json::Object(map) => map.values_mut().for_each(|v| v.strings_mut(f)),
            Json::Null | Json::Bool(_) | Json::Number(_) => {}
        }
    }
}

/// `text` in the stored form (`Json::text`).
pub fn canonical(text: &str) -> Result<String, serde_json::Error> {
    Ok(Json::parse(text)?.text())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_kept_as_written_and_the_rest_as_a_value_writes_it() {
        let text = r#" { "b" : [1.10, -0, 1E2, 18446744073709551616, 0.1000000000000000055511151231257827],
            "a": "\u0041\n", "a": "x", "c": {"z": null, "y": true} } "#;
        assert_eq!(
            canonical(text).unwrap(),
            r#"{"a":"x","b":[1.10,-0,1E2,18446744073709551616,0.1000000000000000055511151231257827],"c":{"y":true,"z":null}}"#
        );
        // What a `Value` writes is already in this form: stored bodies read back unchanged.
        let value: serde_json::Value =
            serde_json::from_str(r#"{"z":[1.5,2,-3,"é\u0007"],"a":{"k":1e300}}"#).unwrap();
        let written = value.to_string();
        assert_eq!(canonical(&written).unwrap(), written);
        assert!(canonical("[1,").is_err());
        assert!(canonical("1 2").is_err());
    }
}
