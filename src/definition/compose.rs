//! The fields that compose steps and phases: `if:` (a condition, as an expression or a
//! command) and `foreach:` (a list of items, or a template naming an output that holds a JSON
//! list). Read strictly, so that a wrong shape is an error at its place, not a surprise at run.

use std::fmt;

use schemars::JsonSchema;
use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize};

/// The most items a `foreach:` may have: each item is a step or phase of its own in the run.
pub const MAX_FOREACH_ITEMS: usize = 10_000;

/// `if:` on a step or phase: it runs only when this holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum IfCondition {
    /// An expression over inputs and outputs, e.g. `inputs.env == 'prod' &&
    /// steps.build.outputs.changed != 'false'` (no `${{ }}`; an expression that starts with `!`
    /// must be quoted in YAML). At most 4096 bytes.
    Expression(String),
    /// A command the engine runs first (in the step's environment and directory): the step
    /// runs when it exits 0 and is skipped when it exits with another code.
    Command(IfCommand),
}

/// `if: {run: COMMAND}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IfCommand {
    pub run: String,
}

impl IfCondition {
    /// The condition as it is shown and recorded: the expression, or `run: COMMAND`.
    pub fn text(&self) -> String {
        match self {
            IfCondition::Expression(e) => e.clone(),
            IfCondition::Command(c) => format!("run: {}", c.run),
        }
    }
}

impl<'de> Deserialize<'de> for IfCondition {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = serde_yaml::Value::deserialize(d)?;
        let wrong = || {
            de::Error::custom(
                "`if` is an expression (`inputs.env == 'prod'`) or a command (`{run: \"test -f x\"}`)",
            )
        };
        match value {
            serde_yaml::Value::String(s) => Ok(IfCondition::Expression(s)),
            // `if: true` is read by YAML as a boolean: it is the expression `true`.
            serde_yaml::Value::Bool(b) => Ok(IfCondition::Expression(b.to_string())),
            serde_yaml::Value::Mapping(_) => serde_yaml::from_value::<IfCommand>(value)
                .map(IfCondition::Command)
                // `if: unknown field ...`: after the step's path, the place of the key
                // (`steps[1]: if: unknown field `timout``), which the located error finds.
                .map_err(|e| de::Error::custom(format!("if: {e}"))),
            _ => Err(wrong()),
        }
    }
}

/// `foreach:` on a step or phase: it runs once per item.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum Foreach {
    /// The items, written in the definition (`[eu, us]`); each is seen as `${{ item }}` and
    /// `CORTEX_ITEM` (a string as it is, anything else as JSON). At most 10,000.
    Items(Vec<serde_json::Value>),
    /// A template naming an output (or input) that holds a JSON list, e.g.
    /// `"${{ steps.list.outputs.items }}"`, read when the step is about to run.
    Template(String),
}

impl Foreach {
    /// The items of a list written in the definition as each unit sees them: data, never
    /// rendered, but an escaped `$${{` is the text `${{` there as in every other text
    /// (`template::ESCAPE`). `None` for a template.
    pub fn written_items(&self) -> Option<Vec<super::Item>> {
        let Foreach::Items(items) = self else {
            return None;
        };
        Some(
            items
                .iter()
                .map(|item| match item {
                    serde_json::Value::String(s) => super::Item::of_value(
                        &serde_json::Value::String(super::template::unescape(s).into_owned()),
                    ),
                    other => super::Item::of_value(other),
                })
                .collect(),
        )
    }

    pub fn text(&self) -> String {
        match self {
            Foreach::Items(items) => serde_json::Value::Array(items.clone()).to_string(),
            Foreach::Template(t) => t.clone(),
        }
    }
}

impl<'de> Deserialize<'de> for Foreach {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = serde_yaml::Value::deserialize(d)?;
        match value {
            serde_yaml::Value::Sequence(_) => {
                let items: Option<Vec<serde_json::Value>> =
                    super::finite::json_values(value).map_err(de::Error::custom)?;
                Ok(Foreach::Items(items.unwrap_or_default()))
            }
            serde_yaml::Value::String(s) => Ok(Foreach::Template(s)),
            other => Err(de::Error::custom(format!(
                "`foreach` is a list of items (`[a, b, c]`) or a template naming an output that holds a JSON list (`\"${{{{ steps.S.outputs.items }}}}\"`), not {}",
                kind(&other)
            ))),
        }
    }
}

fn kind(v: &serde_yaml::Value) -> &'static str {
    match v {
        serde_yaml::Value::Null => "nothing",
        serde_yaml::Value::Bool(_) => "a boolean",
        serde_yaml::Value::Number(_) => "a number",
        serde_yaml::Value::String(_) => "a string",
        serde_yaml::Value::Sequence(_) => "a list",
        serde_yaml::Value::Mapping(_) => "a mapping",
        serde_yaml::Value::Tagged(_) => "a tagged value",
    }
}

/// Why the text a `foreach:` template gave is not a list of items.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotAList(pub String);

impl fmt::Display for NotAList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The items of a `foreach:` template's rendered text: it must be a JSON list of at most
/// `MAX_FOREACH_ITEMS` items. Each item is kept as its text (`Item`): read as a
/// `serde_json::Value`, its numbers were changed (`1.10` ran as `1.1`).
pub fn items_of(text: &str) -> Result<Vec<super::Item>, NotAList> {
    use serde_json::value::RawValue;
    let shown = crate::render::clip(text, 61);
    let not_json = |e: serde_json::Error| {
        NotAList(format!(
            "`foreach` needs a JSON list (`[\"a\", \"b\"]`), but the value is not JSON ({shown:?}: {e})"
        ))
    };
    let raw: &RawValue = serde_json::from_str(text.trim()).map_err(not_json)?;
    let what = match raw.get().as_bytes().first() {
        Some(b'[') => None,
        Some(b'n') => Some("null"),
        Some(b't' | b'f') => Some("a boolean"),
        Some(b'"') => Some("a JSON string"),
        Some(b'{') => Some("a JSON object"),
        _ => Some("a number"),
    };
    if let Some(what) = what {
        return Err(NotAList(format!(
            "`foreach` needs a JSON list (`[\"a\", \"b\"]`), but the value is {what} ({shown:?})"
        )));
    }
    let items: Vec<&RawValue> = serde_json::from_str(raw.get()).map_err(not_json)?;
    if items.len() > MAX_FOREACH_ITEMS {
        return Err(NotAList(format!(
            "the list has {} items; a `foreach:` takes at most {MAX_FOREACH_ITEMS}",
            items.len()
        )));
    }
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| {
            // A number no double holds (`1e400`) is infinite wherever an item is read as a
            // `serde_json::Value` (the `--json` documents): refused, as before, not kept.
            if let Some(n) = out_of_range(item.get()) {
                let n = crate::render::clip(n, 40);
                return Err(NotAList(format!(
                    "item {i} of the list holds the number {n}, beyond a double's range; quote it (`\"{n}\"`) to give it as text"
                )));
            }
            super::Item::parse(item.get()).map_err(not_json)
        })
        .collect()
}

/// The first number in JSON text `text` that is beyond a double's range (`1e400`), if any.
fn out_of_range(text: &str) -> Option<&str> {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            // A string: to its closing quote, escapes passed over.
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
            }
            b'-' | b'0'..=b'9' => {
                let start = i;
                while i < bytes.len()
                    && matches!(bytes[i], b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
                {
                    i += 1;
                }
                let n = &text[start..i];
                if n.parse::<f64>().is_ok_and(f64::is_infinite) {
                    return Some(n);
                }
            }
            _ => i += 1,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_and_templates_read_other_shapes_are_refused() {
        let f: Foreach = serde_yaml::from_str("[a, 2, true]").unwrap();
        assert_eq!(f, Foreach::Items(vec!["a".into(), 2.into(), true.into()]));
        let t: Foreach = serde_yaml::from_str("'${{ steps.s.outputs.items }}'").unwrap();
        assert!(matches!(t, Foreach::Template(_)));
        let err = serde_yaml::from_str::<Foreach>("3")
            .unwrap_err()
            .to_string();
        assert!(err.contains("not a number"), "{err}");
        assert!(serde_yaml::from_str::<Foreach>("{a: 1}").is_err());
        let back: Foreach = serde_json::from_value(serde_json::to_value(&f).unwrap()).unwrap();
        assert_eq!(back, f);
    }

    #[test]
    fn conditions_are_expressions_or_commands() {
        let c: IfCondition = serde_yaml::from_str("inputs.a == 'b'").unwrap();
        assert_eq!(c, IfCondition::Expression("inputs.a == 'b'".into()));
        let c: IfCondition = serde_yaml::from_str("{run: test -f x}").unwrap();
        assert_eq!(c.text(), "run: test -f x");
        assert!(serde_yaml::from_str::<IfCondition>("{run: x, other: 1}").is_err());
        assert!(serde_yaml::from_str::<IfCondition>("[1]").is_err());
        let t: IfCondition = serde_yaml::from_str("true").unwrap();
        assert_eq!(t, IfCondition::Expression("true".into()));
        let back: IfCondition = serde_json::from_value(serde_json::to_value(&c).unwrap()).unwrap();
        assert_eq!(back, c);
    }

    #[test]
    fn rendered_lists_must_be_json_lists() {
        assert_eq!(items_of("[\"a\", 1]").unwrap().len(), 2);
        assert!(items_of("a,b").unwrap_err().0.contains("not JSON"));
        assert!(
            items_of("{\"a\": 1}")
                .unwrap_err()
                .0
                .contains("JSON object")
        );
        assert!(items_of("\"a\"").unwrap_err().0.contains("JSON string"));
        let many = format!("[{}]", vec!["1"; MAX_FOREACH_ITEMS + 1].join(","));
        assert!(items_of(&many).unwrap_err().0.contains("at most"));
    }
}
