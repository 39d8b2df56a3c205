//! Reading stored events of any schema version into today's `Event`, without rewriting them.

use super::Event;

/// The newest event schema version: what this cortex reads up to. Each event is written with
/// the first version that has its form (`Event::version`).
pub const EVENT_VERSION: u32 = 3;

/// Decode a stored event. Versions 2 and 3 only added forms (`agent_result`, `attempt_log`,
/// the `agent_failed` attempt end, `run_started.claude`, `stop_requested.abort`,
/// `run_resumed.timeout_seconds`, notifications and schedules; then composition:
/// `condition_checked`, `foreach_*`, `child_*`, the `child` attempt end, `run_started.parent`
/// and `uses`), so versions 1 to 3 decode alike; an event whose form
/// needs a newer version than its row says is refused, as it cannot have been written so.
/// Older versions would be upcast here, so stored bytes are never rewritten and the hash chain
/// stays intact.
pub fn decode(version: u32, type_name: &str, body: &str) -> Result<Event, String> {
    match version {
        1..=EVENT_VERSION => {
            let event = Event::from_parts(type_name, body)
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
        let later = decode(4, "agent_result", body).unwrap_err();
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
}
