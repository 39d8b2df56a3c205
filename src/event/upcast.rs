//! Reading stored events of any schema version into today's `Event`, without rewriting them.

use super::Event;

/// The schema version written for new events.
pub const EVENT_VERSION: u32 = 1;

/// Decode a stored event. Older versions are upcast here (there are none yet: version 1 is the
/// first), so stored bytes are never rewritten and the hash chain stays intact.
pub fn decode(version: u32, type_name: &str, body: &str) -> Result<Event, String> {
    match version {
        1 => Event::from_parts(type_name, body)
            .map_err(|e| format!("event of type `{type_name}` does not decode: {e}")),
        v => Err(format!(
            "event schema version {v} is newer than this cortex understands ({EVENT_VERSION}); upgrade cortex"
        )),
    }
}
