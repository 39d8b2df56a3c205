//! Durations as written in definitions: plain seconds (`30`) or human units (`10m`, `1h 30m`).

use std::fmt;
use std::time::Duration;

use schemars::JsonSchema;
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};

/// A duration kept as written; `validate` reports a bad one at its exact location.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
#[schemars(with = "DurationSchema")]
#[serde(transparent)]
pub struct DurationSpec(pub String);

#[derive(JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)]
enum DurationSchema {
    /// Seconds.
    Seconds(u64),
    /// A number with units, e.g. `500ms`, `2s`, `10m`, `1h 30m`.
    Text(String),
}

impl DurationSpec {
    /// The duration, or a message saying how to write one.
    pub fn to_duration(&self) -> Result<Duration, String> {
        let text = self.0.trim();
        if let Ok(secs) = text.parse::<u64>() {
            return Ok(Duration::from_secs(secs));
        }
        if let Ok(secs) = text.parse::<f64>()
            && secs.is_finite()
            && secs >= 0.0
        {
            return Ok(Duration::from_secs_f64(secs));
        }
        humantime::parse_duration(text).map_err(|e| {
            format!("`{text}` is not a duration ({e}); write seconds (`30`) or units (`500ms`, `10m`, `1h 30m`)")
        })
    }
}

impl<'de> Deserialize<'de> for DurationSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = DurationSpec;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a duration: seconds (30) or units (\"10m\")")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<DurationSpec, E> {
                Ok(DurationSpec(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<DurationSpec, E> {
                Ok(DurationSpec(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<DurationSpec, E> {
                Ok(DurationSpec(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<DurationSpec, E> {
                Ok(DurationSpec(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_and_units() {
        let d = |s: &str| DurationSpec(s.into()).to_duration();
        assert_eq!(d("30"), Ok(Duration::from_secs(30)));
        assert_eq!(d("1.5"), Ok(Duration::from_millis(1500)));
        assert_eq!(d("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(d("1h 30m"), Ok(Duration::from_secs(5400)));
        assert!(d("soon").unwrap_err().contains("not a duration"));
        assert!(d("-3").is_err());
    }
}
