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

/// What a duration written as text may look like, for the JSON Schemas: seconds as a number
/// (`30`, `1.5`, `1e3`), or numbers with units (`500ms`, `1h 30m`, `2 hours`). A superset of
/// what `to_duration` reads (it also lets through `1sm`), never narrower: an editor must not
/// refuse what `validate` takes, and it does refuse `soon`.
pub const DURATION_PATTERN: &str = r"^\s*(?:[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|[0-9](?:[0-9.\s]|nanos|nsec|ns|usec|us|µs|millis|msec|ms|seconds|second|secs|sec|s|minutes|minute|mins|min|m|hours|hour|hrs|hr|h|days|day|d|weeks|week|wks|wk|w|months|month|M|years|year|yrs|yr|y)*)\s*$";

#[derive(JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)]
enum DurationSchema {
    /// Seconds.
    Seconds(#[schemars(range(min = 0))] f64),
    /// A number with units, e.g. `500ms`, `2s`, `10m`, `1h 30m`.
    Text(#[schemars(pattern(DURATION_PATTERN))] String),
}

/// A time limit of one attempt (`limits::STEP_TIMEOUT`): from 1 ms to 30 days.
#[derive(JsonSchema)]
#[schemars(rename = "Timeout")]
#[serde(untagged)]
#[allow(dead_code)]
pub(crate) enum TimeoutSchema {
    /// Seconds, from 0.001 (1 ms) to 2592000 (30 days).
    Seconds(#[schemars(range(min = 0.001, max = 2_592_000))] f64),
    /// A number with units, from `1ms` to `30d`, e.g. `500ms`, `2s`, `10m`, `1h 30m`.
    Text(#[schemars(pattern(DURATION_PATTERN))] String),
}

/// A delay before a retry (`limits::RETRY_BACKOFF`): from 0 to 1 day.
#[derive(JsonSchema)]
#[schemars(rename = "Backoff")]
#[serde(untagged)]
#[allow(dead_code)]
pub(crate) enum BackoffSchema {
    /// Seconds, from 0 to 86400 (1 day).
    Seconds(#[schemars(range(min = 0, max = 86_400))] f64),
    /// A number with units, from `0s` to `1d`, e.g. `500ms`, `2s`, `10m`.
    Text(#[schemars(pattern(DURATION_PATTERN))] String),
}

impl DurationSpec {
    /// The duration, or a message saying how to write one. Never panics: a number of seconds
    /// too large for a `Duration` saturates to `Duration::MAX` (it is a duration, only a very
    /// long one), and `limits` bounds what a definition may say.
    pub fn to_duration(&self) -> Result<Duration, String> {
        let text = self.0.trim();
        if let Ok(secs) = text.parse::<u64>() {
            return Ok(Duration::from_secs(secs));
        }
        if let Ok(secs) = text.parse::<f64>()
            && secs.is_finite()
            && secs >= 0.0
        {
            return Ok(Duration::try_from_secs_f64(secs).unwrap_or(Duration::MAX));
        }
        humantime::parse_duration(text).map_err(|e| {
            format!(
                "`{}` is not a duration: {}; write seconds (`30`) or a number with a unit (`500ms`, `10m`, `1h 30m`)",
                super::name::shown(text),
                why_not_a_duration(text, &e)
            )
        })
    }
}

/// What is wrong with `text` as a duration, in words (the parser's own message names byte
/// offsets: "expected number at 0").
fn why_not_a_duration(text: &str, e: &humantime::DurationError) -> String {
    use humantime::DurationError as E;
    // The character at byte `at`, as it may be shown.
    let at = |at: usize| {
        text.get(at..)
            .and_then(|rest| rest.chars().next())
            .map(|c| super::name::shown(&c.to_string()))
            .unwrap_or_default()
    };
    match e {
        E::Empty => "it is empty".into(),
        E::NumberExpected(0) => "it does not start with a number".into(),
        E::NumberExpected(i) => format!("a number is missing before `{}`", at(*i)),
        E::InvalidCharacter(i) => format!(
            "`{}` has no place in a duration (only numbers, units and spaces)",
            at(*i)
        ),
        E::UnknownUnit { unit, .. } => format!(
            "`{}` is not a unit (ms, s, m, h, d, w and their long names: `5min`, `2 hours`)",
            super::name::shown(unit)
        ),
        E::NumberOverflow => "the number is too large".into(),
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
            // Integers beyond 64 bits are kept as written too: a range check, not the parser,
            // says what is wrong with them.
            fn visit_u128<E: de::Error>(self, v: u128) -> Result<DurationSpec, E> {
                Ok(DurationSpec(v.to_string()))
            }
            fn visit_i128<E: de::Error>(self, v: i128) -> Result<DurationSpec, E> {
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
        for (text, why) in [
            ("abc", "it does not start with a number"),
            ("5x", "`x` is not a unit"),
            ("", "it is empty"),
            ("5m!", "`!` has no place in a duration"),
            ("5m m", "a number is missing before `m`"),
        ] {
            let err = d(text).unwrap_err();
            assert!(err.contains(why) && err.contains("`10m`"), "{text}: {err}");
            assert!(!err.contains(" at "), "no byte offsets: {err}");
        }
        assert!(d("-3").is_err());
        for not_a_duration in ["-1e30", "1e309", "NaN", "inf", "-0.5", "-1"] {
            assert!(d(not_a_duration).is_err(), "{not_a_duration}");
        }
        assert_eq!(d("-0"), Ok(Duration::ZERO));
        for too_long in ["1e30", "18446744073709551616", "1e300"] {
            assert_eq!(d(too_long), Ok(Duration::MAX), "{too_long}");
        }
        assert_eq!(d("18446744073709551615"), Ok(Duration::from_secs(u64::MAX)));
    }
}
