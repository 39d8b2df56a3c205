//! An item of a `foreach:` list: its JSON text as the list wrote it, numbers digit for digit
//! (`1.10` stays `1.10`, `18446744073709551616` is not rounded to a double), recorded in the
//! log (`foreach_expanded`) and given to its unit (`${{ item }}`, `CORTEX_ITEM`) so.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;

use crate::event::exact_json::{Json, canonical};

/// One item, as its JSON text in the log's form (`event::exact_json`: compact, object keys
/// sorted, numbers as written).
#[derive(Debug, Clone)]
pub struct Item(Box<RawValue>);

impl Item {
    /// An item from JSON text (one value, in any layout).
    pub fn parse(text: &str) -> Result<Item, serde_json::Error> {
        Ok(Item::of_canonical(canonical(text)?))
    }

    /// An item written in a definition (YAML gave it its type: `foreach: [1.10]` is the
    /// number 1.1, which validation warns of).
    pub fn of_value(value: &serde_json::Value) -> Item {
        // A `Value` writes its text in the log's form already.
        Item::of_canonical(value.to_string())
    }

    fn of_canonical(text: String) -> Item {
        Item(RawValue::from_string(text).expect("canonical JSON text is JSON"))
    }

    /// Its JSON text.
    pub fn json(&self) -> &str {
        self.0.get()
    }

    /// The item as its text and numbers (`exact_json::Json`).
    pub fn tree(&self) -> Json {
        Json::parse(self.json()).expect("an item is JSON")
    }

    /// The item as a step sees it (`${{ item }}`, `CORTEX_ITEM`): a string as it is, anything
    /// else as its JSON text.
    pub fn text(&self) -> String {
        match self.tree() {
            Json::String(s) => s,
            _ => self.json().to_string(),
        }
    }

    /// Is it a string (and which)?
    pub fn as_str(&self) -> Option<String> {
        match self.tree() {
            Json::String(s) => Some(s),
            _ => None,
        }
    }

    /// Each string value of it (not a key) given to `f`, which may change it (redaction).
    pub fn strings_mut(&mut self, f: &mut dyn FnMut(&mut String)) {
        let mut tree = self.tree();
        tree.strings_mut(f);
        let text = tree.text();
        if text != self.json() {
            *self = Item::of_canonical(text);
        }
    }
}

/// A string item (`"eu".into()`).
impl From<&str> for Item {
    fn from(text: &str) -> Item {
        Item::of_value(&serde_json::Value::String(text.to_string()))
    }
}

impl From<String> for Item {
    fn from(text: String) -> Item {
        Item::of_value(&serde_json::Value::String(text))
    }
}

impl PartialEq for Item {
    fn eq(&self, other: &Item) -> bool {
        self.json() == other.json()
    }
}

impl Serialize for Item {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Item {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Item, D::Error> {
        let raw = Box::<RawValue>::deserialize(d)?;
        Item::parse(raw.get()).map_err(serde::de::Error::custom)
    }
}

impl schemars::JsonSchema for Item {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "AnyValue".into()
    }
    fn inline_schema() -> bool {
        true
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        true.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_item_keeps_its_numbers_and_reads_back_from_the_log_as_it_was() {
        let item = Item::parse("{ \"v\": 1.10, \"id\": 18446744073709551616 }").unwrap();
        assert_eq!(item.json(), r#"{"id":18446744073709551616,"v":1.10}"#);
        assert_eq!(Item::parse("1E2").unwrap().text(), "1E2");
        assert_eq!(Item::parse("\"a\\nb\"").unwrap().text(), "a\nb");
        let back: Item = serde_json::from_str(&serde_json::to_string(&item).unwrap()).unwrap();
        assert_eq!(back, item);
        let mut secret = Item::parse(r#"{"k":"tok-1","n":-0}"#).unwrap();
        secret.strings_mut(&mut |s| *s = s.replace("tok-1", "***"));
        assert_eq!(secret.json(), r#"{"k":"***","n":-0}"#);
    }
}
