//! The YAML parser's events, one by one, as libyaml (the parser serde_yaml runs) produces
//! them: what serde never shows — an alias where it is written, before serde_yaml expands it
//! into a copy of its anchor's node, and where each document starts. The one place that
//! speaks to libyaml directly; everything unsafe about it stays in this file.

use std::ffi::CStr;
use std::marker::PhantomData;
use std::mem::MaybeUninit;
use std::ptr::NonNull;

use unsafe_libyaml::{
    YAML_ALIAS_EVENT, YAML_DOCUMENT_END_EVENT, YAML_DOCUMENT_START_EVENT, YAML_MAPPING_END_EVENT,
    YAML_MAPPING_START_EVENT, YAML_SCALAR_EVENT, YAML_SEQUENCE_END_EVENT,
    YAML_SEQUENCE_START_EVENT, YAML_STREAM_END_EVENT, YAML_UTF8_ENCODING, yaml_event_delete,
    yaml_event_t, yaml_parser_delete, yaml_parser_initialize, yaml_parser_parse,
    yaml_parser_set_encoding, yaml_parser_set_input_string, yaml_parser_t,
};

use super::Location;

/// One event of the parser, with what the checks on events need of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Event {
    DocumentStart,
    DocumentEnd,
    /// `*name`: the node the anchor `name` last named, again.
    Alias {
        anchor: Vec<u8>,
    },
    /// A scalar of `bytes` bytes (its value, escapes and folding resolved).
    Scalar {
        anchor: Option<Vec<u8>>,
        bytes: u64,
    },
    SequenceStart {
        anchor: Option<Vec<u8>>,
    },
    MappingStart {
        anchor: Option<Vec<u8>>,
    },
    /// The end of a sequence or a mapping.
    CollectionEnd,
}

/// The events of a YAML text in order, each with the place it starts at (as serde_yaml
/// places its errors: 1-based line and column, in characters). They end at the end of the
/// stream, or where the text stops being YAML: the parser's error is serde_yaml's to report.
pub(crate) struct Events<'a> {
    /// libyaml keeps a pointer to the parser inside the parser (its string reader's data), so
    /// the parser lives at one address for its whole life: allocated here, freed in `drop`.
    parser: NonNull<yaml_parser_t>,
    done: bool,
    /// The parser reads the text in place.
    text: PhantomData<&'a str>,
}

impl<'a> Events<'a> {
    pub(crate) fn new(text: &'a str) -> Self {
        let parser = NonNull::from(Box::leak(Box::<yaml_parser_t>::new_uninit())).cast();
        // SAFETY: `parser` points to memory for a parser that nothing else uses;
        // `yaml_parser_initialize` fills it in (it fails only when out of memory, then
        // leaving nothing to free but the allocation), and the text outlives the parser
        // (`'a`), which only reads it.
        let initialized = unsafe {
            let p = parser.as_ptr();
            if yaml_parser_initialize(p).fail {
                drop(Box::from_raw(p.cast::<MaybeUninit<yaml_parser_t>>()));
                false
            } else {
                yaml_parser_set_encoding(p, YAML_UTF8_ENCODING);
                yaml_parser_set_input_string(p, text.as_ptr(), text.len() as u64);
                true
            }
        };
        assert!(initialized, "out of memory starting the YAML parser");
        Events {
            parser,
            done: false,
            text: PhantomData,
        }
    }
}

/// The anchor a libyaml event names (a NUL-terminated string, or null for none).
///
/// SAFETY: `anchor` is null or a NUL-terminated string that lives until the event is
/// deleted.
unsafe fn anchor_of(anchor: *const u8) -> Option<Vec<u8>> {
    (!anchor.is_null()).then(|| unsafe { CStr::from_ptr(anchor.cast()) }.to_bytes().to_vec())
}

impl Iterator for Events<'_> {
    type Item = (Event, Location);

    fn next(&mut self) -> Option<(Event, Location)> {
        while !self.done {
            let mut raw = MaybeUninit::<yaml_event_t>::uninit();
            // SAFETY: the parser was initialized in `new` and is used by this one thread;
            // on success `raw` holds an event, whose anchors are read before it is deleted.
            let read = unsafe {
                if yaml_parser_parse(self.parser.as_ptr(), raw.as_mut_ptr()).fail {
                    None
                } else {
                    let e = raw.as_mut_ptr();
                    let data = &(*e).data;
                    let event = match (*e).type_ {
                        YAML_STREAM_END_EVENT => {
                            self.done = true;
                            None
                        }
                        YAML_DOCUMENT_START_EVENT => Some(Event::DocumentStart),
                        YAML_DOCUMENT_END_EVENT => Some(Event::DocumentEnd),
                        YAML_ALIAS_EVENT => Some(Event::Alias {
                            anchor: anchor_of(data.alias.anchor).unwrap_or_default(),
                        }),
                        YAML_SCALAR_EVENT => Some(Event::Scalar {
                            anchor: anchor_of(data.scalar.anchor),
                            bytes: data.scalar.length,
                        }),
                        YAML_SEQUENCE_START_EVENT => Some(Event::SequenceStart {
                            anchor: anchor_of(data.sequence_start.anchor),
                        }),
                        YAML_MAPPING_START_EVENT => Some(Event::MappingStart {
                            anchor: anchor_of(data.mapping_start.anchor),
                        }),
                        YAML_SEQUENCE_END_EVENT | YAML_MAPPING_END_EVENT => {
                            Some(Event::CollectionEnd)
                        }
                        // The stream's start (and nothing else libyaml has) is no node.
                        _ => None,
                    };
                    let mark = (*e).start_mark;
                    yaml_event_delete(e);
                    Some(event.map(|event| {
                        let at = Location {
                            line: mark.line as usize + 1,
                            column: mark.column as usize + 1,
                        };
                        (event, at)
                    }))
                }
            };
            match read {
                None => self.done = true,
                Some(Some(found)) => return Some(found),
                Some(None) => {}
            }
        }
        None
    }
}

impl Drop for Events<'_> {
    fn drop(&mut self) {
        // SAFETY: the parser was initialized in `new` and is deleted once, then its
        // allocation (made in `new`) freed.
        unsafe {
            yaml_parser_delete(self.parser.as_ptr());
            drop(Box::from_raw(
                self.parser.as_ptr().cast::<MaybeUninit<yaml_parser_t>>(),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(text: &str) -> Vec<(Event, (usize, usize))> {
        Events::new(text)
            .map(|(e, at)| (e, (at.line, at.column)))
            .collect()
    }

    #[test]
    fn reads_anchors_aliases_and_scalars_where_they_are_written() {
        let got = events("a: &x [1, \"\\x41b\"]\nb: *x\n");
        let anchor = |s: &str| Some(s.as_bytes().to_vec());
        assert_eq!(
            got,
            vec![
                (Event::DocumentStart, (1, 1)),
                (Event::MappingStart { anchor: None }, (1, 1)),
                (
                    Event::Scalar {
                        anchor: None,
                        bytes: 1
                    },
                    (1, 1)
                ),
                (
                    Event::SequenceStart {
                        anchor: anchor("x")
                    },
                    (1, 4)
                ),
                (
                    Event::Scalar {
                        anchor: None,
                        bytes: 1
                    },
                    (1, 8)
                ),
                (
                    Event::Scalar {
                        anchor: None,
                        bytes: 2
                    },
                    (1, 11)
                ),
                (Event::CollectionEnd, (1, 18)),
                (
                    Event::Scalar {
                        anchor: None,
                        bytes: 1
                    },
                    (2, 1)
                ),
                (
                    Event::Alias {
                        anchor: b"x".to_vec()
                    },
                    (2, 4)
                ),
                (Event::CollectionEnd, (3, 1)),
                (Event::DocumentEnd, (3, 1)),
            ]
        );
    }

    #[test]
    fn the_events_end_where_the_text_stops_being_yaml() {
        let got = events("a: 1\nb: [2\n");
        assert!(got.len() >= 3 && got.len() < 8, "{got:?}");
        assert!(events("").iter().all(|(e, _)| *e != Event::DocumentStart));
    }
}
