//! Numbers in definitions must be finite: JSON (the snapshot, the log) cannot hold `.inf` or
//! `.nan`, and dropping them silently would change the definition a run executes.

use serde::de::{Deserialize, Deserializer, Error};

fn check(value: &serde_yaml::Value) -> Result<(), String> {
    match value {
        serde_yaml::Value::Number(n) if n.as_f64().is_some_and(|f| !f.is_finite()) => Err(format!(
            "`{n}` is not a finite number; .inf, .nan and numbers too large for a double are not allowed"
        )),
        serde_yaml::Value::Sequence(items) => items.iter().try_for_each(check),
        serde_yaml::Value::Mapping(map) => map.values().try_for_each(check),
        serde_yaml::Value::Tagged(t) => check(&t.value),
        _ => Ok(()),
    }
}

/// An optional JSON value read from YAML (or JSON), refusing non-finite numbers.
pub fn json_value<'de, D: Deserializer<'de>>(d: D) -> Result<Option<serde_json::Value>, D::Error> {
    let value = serde_yaml::Value::deserialize(d)?;
    if value.is_null() {
        return Ok(None);
    }
    check(&value).map_err(D::Error::custom)?;
    serde_json::to_value(&value)
        .map(Some)
        .map_err(D::Error::custom)
}

/// An optional list of JSON values, refusing non-finite numbers.
pub fn json_values<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Vec<serde_json::Value>>, D::Error> {
    let value = serde_yaml::Value::deserialize(d)?;
    if value.is_null() {
        return Ok(None);
    }
    check(&value).map_err(D::Error::custom)?;
    serde_json::from_value(serde_json::to_value(&value).map_err(D::Error::custom)?)
        .map(Some)
        .map_err(D::Error::custom)
}

/// An optional finite number.
pub fn number<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    let n = f64::deserialize(d)?;
    if n.is_finite() {
        Ok(Some(n))
    } else {
        Err(D::Error::custom(format!(
            "`{n}` is not a finite number; .inf and .nan are not allowed"
        )))
    }
}
