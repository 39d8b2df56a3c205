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

/// An input's `minimum` or `maximum`, exactly as written: an integer past 2^53
/// (`9007199254740993`) keeps its digits instead of rounding to a double, so the bound is the
/// one written and values are checked against it exactly (`expr::Number`).
#[derive(Debug, Clone)]
pub struct Bound(serde_json::Number);

/// Equal as numbers: `1` read from a definition and `1.0` read back from its snapshot (a
/// bound a double holds is written as that double) are the same bound. Before, the derived
/// equality compared the JSON number's form, and a definition written and read again was not
/// equal to itself (the fuzz corpus's round trip).
impl PartialEq for Bound {
    fn eq(&self, other: &Bound) -> bool {
        self.exact() == other.exact()
    }
}

impl Bound {
    /// The bound as an exact number.
    pub fn exact(&self) -> crate::definition::expr::Number {
        crate::definition::expr::Number::from_json(&self.0)
            .expect("a bound is a finite number a double can hold the magnitude of")
    }

    /// Within the integers a double holds exactly (|n| ≤ 2^53).
    fn double_exact(&self) -> Option<f64> {
        const EXACT: u64 = 1 << 53;
        if let Some(i) = self.0.as_i64() {
            (i.unsigned_abs() <= EXACT).then_some(i as f64)
        } else if let Some(u) = self.0.as_u64() {
            (u <= EXACT).then_some(u as f64)
        } else {
            self.0.as_f64()
        }
    }
}

impl From<i64> for Bound {
    fn from(n: i64) -> Bound {
        Bound(n.into())
    }
}

impl std::fmt::Display for Bound {
    /// Exactly, as `expr::Number` writes numbers (`9007199254740993`, `1.5`, `1e300`).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.exact().fmt(f)
    }
}

impl serde::Serialize for Bound {
    /// A bound a double holds exactly is written as the double it was stored as before bounds
    /// were exact (`1.0`), so a definition's snapshot and hash are unchanged by the upgrade;
    /// only an integer past 2^53 is written as its digits.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.double_exact() {
            Some(f) => s.serialize_f64(f),
            None => self.0.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Bound {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Bound, D::Error> {
        struct Visit;
        impl serde::de::Visitor<'_> for Visit {
            type Value = Bound;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a number")
            }
            fn visit_i64<E: Error>(self, n: i64) -> Result<Bound, E> {
                Ok(Bound(n.into()))
            }
            fn visit_u64<E: Error>(self, n: u64) -> Result<Bound, E> {
                Ok(Bound(n.into()))
            }
            fn visit_i128<E: Error>(self, n: i128) -> Result<Bound, E> {
                match i64::try_from(n) {
                    Ok(n) => self.visit_i64(n),
                    Err(_) => self.visit_f64(n as f64),
                }
            }
            fn visit_u128<E: Error>(self, n: u128) -> Result<Bound, E> {
                match u64::try_from(n) {
                    Ok(n) => self.visit_u64(n),
                    Err(_) => self.visit_f64(n as f64),
                }
            }
            fn visit_f64<E: Error>(self, n: f64) -> Result<Bound, E> {
                serde_json::Number::from_f64(n).map(Bound).ok_or_else(|| {
                    E::custom(format!(
                        "`{n}` is not a finite number; .inf and .nan are not allowed"
                    ))
                })
            }
        }
        d.deserialize_any(Visit)
    }
}

impl schemars::JsonSchema for Bound {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Bound".into()
    }
    fn inline_schema() -> bool {
        true
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A number, kept exactly: an integer past 2^53 is not rounded to a double.",
            "type": "number"
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::definition::InputSpec;

    /// A definition recorded before bounds were exact (`run_started` in an old log, a state
    /// snapshot) reads back, and one whose bounds a double holds is written as it was then, so
    /// its hash (and `definition_changed`) is unchanged by the upgrade.
    #[test]
    fn bounds_recorded_as_doubles_read_back_and_small_bounds_are_written_as_before() {
        let old =
            r#"{"type":"integer","required":false,"minimum":1.0,"maximum":9007199254740992.0}"#;
        let spec: InputSpec = serde_json::from_str(old).unwrap();
        assert_eq!(spec.minimum.as_ref().unwrap().to_string(), "1");
        assert_eq!(
            spec.maximum.as_ref().unwrap().to_string(),
            "9007199254740992"
        );
        assert_eq!(serde_json::to_string(&spec).unwrap(), old);
        let new: InputSpec =
            serde_yaml::from_str("{type: integer, minimum: -3, maximum: 9007199254740993}")
                .unwrap();
        assert_eq!(
            serde_json::to_string(&new).unwrap(),
            r#"{"type":"integer","required":false,"minimum":-3.0,"maximum":9007199254740993}"#
        );
        let back: InputSpec = serde_json::from_str(&serde_json::to_string(&new).unwrap()).unwrap();
        assert_eq!(back.maximum.unwrap().to_string(), "9007199254740993");
    }

    #[test]
    fn a_bound_that_is_not_finite_is_refused() {
        let e = serde_yaml::from_str::<InputSpec>("{type: number, maximum: .inf}").unwrap_err();
        assert!(e.to_string().contains("is not a finite number"), "{e}");
    }
}
