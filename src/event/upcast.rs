//! Reading stored events of any schema version into today's `Event`, without rewriting them.

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, IntoDeserializer, MapAccess, Visitor};

use super::Event;

/// The newest event schema version: what this cortex reads up to. Each event is written with
/// the first version that has its form (`Event::version`).
pub const EVENT_VERSION: u32 = 10;

/// Decode a stored event. Versions 2 to 10 only added forms (`agent_result`, `attempt_log`,
/// the `agent_failed` attempt end, `run_started.claude`, `stop_requested.abort`,
/// `run_resumed.timeout_seconds`, notifications and schedules; then composition:
/// `condition_checked`, `foreach_*`, `child_*`, the `child` attempt end, `run_started.parent`
/// and `uses`; then `schedule_seen`; then `attempt_log.lost_bytes`; then `run_resumed.enable_rollback`; then `condition_started`; then `run_resumed.claude`; then `attempt_log.home_dir`; then `run_stopped.time_limit`), so versions 1 to 10 decode alike (a
/// `run_paused` of an older cortex whose reason is the time limit is folded as the stop it was:
/// `decide::state`); an event whose form
/// needs a newer version than its row says is refused, as it cannot have been written so.
/// Older versions would be upcast here, so stored bytes are never rewritten and the hash chain
/// stays intact.
pub fn decode(version: u32, type_name: &str, body: &str) -> Result<Event, String> {
    match version {
        1..=EVENT_VERSION => {
            let event = decode_parts(type_name, body)
                .map_err(|e| format!("event of type `{type_name}` does not decode: {e}"))?;
            if event.version() > version {
                return Err(format!(
                    "event of type `{type_name}` has a form of event schema version {}, but is stored as version {version}",
                    event.version()
                ));
            }
            Ok(event)
        }
        v => Err(format!(
            "event schema version {v} is newer than this cortex understands ({EVENT_VERSION}); upgrade cortex"
        )),
    }
}

/// Rebuild an event from its stored `type` and `body` columns in one pass over the body, where
/// it lies (replay speed: no copy of the body into a `{"type": T, "body": B}` document, no
/// second parse to check it). The body must be one JSON value on its own: anything after it is
/// refused, so it cannot smuggle in other keys. Decodes exactly what `Event::from_parts` does.
fn decode_parts(type_name: &str, body: &str) -> Result<Event, serde_json::Error> {
    let mut body_de = serde_json::Deserializer::from_str(body);
    let event = Event::deserialize(Tagged {
        tag: type_name,
        body: &mut body_de,
    })?;
    body_de.end()?;
    Ok(event)
}

/// The map `{"type": tag, "body": <the body being parsed>}` as a deserializer: what the
/// adjacently tagged `Event` reads, the tag first, so the body is decoded straight into its
/// variant.
struct Tagged<'a, 'de> {
    tag: &'a str,
    body: &'a mut serde_json::Deserializer<serde_json::de::StrRead<'de>>,
}

impl<'de> de::Deserializer<'de> for Tagged<'_, 'de> {
    type Error = serde_json::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        visitor.visit_map(TaggedMap {
            tag: self.tag,
            body: self.body,
            next: 0,
        })
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        option unit unit_struct newtype_struct seq tuple tuple_struct map struct enum
        identifier ignored_any
    }
}

struct TaggedMap<'a, 'de> {
    tag: &'a str,
    body: &'a mut serde_json::Deserializer<serde_json::de::StrRead<'de>>,
    /// 0: the `type` key is next, 1: `body`, 2: done.
    next: u8,
}

impl<'de> MapAccess<'de> for TaggedMap<'_, 'de> {
    type Error = serde_json::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Self::Error> {
        let key = match self.next {
            0 => "type",
            1 => "body",
            _ => return Ok(None),
        };
        seed.deserialize(key.into_deserializer()).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(
        &mut self,
        seed: V,
    ) -> Result<V::Value, Self::Error> {
        self.next += 1;
        match self.next {
            1 => seed.deserialize(self.tag.into_deserializer()),
            _ => seed.deserialize(&mut *self.body),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(2usize.saturating_sub(self.next as usize))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_agent_result_is_version_2_and_refused_as_version_1() {
        let body = r#"{"step":"s","attempt":1,"agent":"a","runner":"claude","is_error":false,"session_id":"x"}"#;
        let event = decode(2, "agent_result", body).unwrap();
        assert_eq!(event.version(), 2);
        let err = decode(1, "agent_result", body).unwrap_err();
        assert!(err.contains("stored as version 1"), "{err}");
        let later = decode(EVENT_VERSION + 1, "agent_result", body).unwrap_err();
        assert!(later.contains("upgrade cortex"), "{later}");
        let plain = decode(1, "run_stopped", "{}").unwrap();
        assert_eq!(plain.version(), 1);
    }

    #[test]
    fn composition_events_are_version_3_and_refused_as_older() {
        let body = r#"{"step":"s","items":["a"]}"#;
        assert_eq!(decode(3, "foreach_expanded", body).unwrap().version(), 3);
        let err = decode(2, "foreach_expanded", body).unwrap_err();
        assert!(err.contains("stored as version 2"), "{err}");
    }

    #[test]
    fn a_schedule_sighting_is_version_4_and_refused_as_older() {
        let body =
            r#"{"cron":"0 3 * * *","at":"2026-12-03T10:00:00Z","scheduler":{"pid":1,"host":"h"}}"#;
        assert_eq!(decode(4, "schedule_seen", body).unwrap().version(), 4);
        let err = decode(3, "schedule_seen", body).unwrap_err();
        assert!(err.contains("stored as version 3"), "{err}");
    }
}
