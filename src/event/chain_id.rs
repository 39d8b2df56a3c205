//! What the id of each of the log's chains is — a run's, a run's notification deliveries', a
//! schedule's, the agent registry's: how each id and each prefix is written, and the one
//! parser that reads an id back and refuses every other.
//!
//! The id is every row's `run_id`, hashed into its chain and never rewritten, so its spelling
//! is fixed: a run's is its ULID (`run_id.rs`); a run's notification deliveries are
//! `notify:RUN` (RUN a run id); a schedule's stream is `schedule:workflow:NAME` or
//! `schedule:scenario:NAME` (NAME non-empty, on one line); the agent registry is `agents`.
//! No cortex writes any other, and an id read from a log is whatever was written there (the
//! everyday PostgreSQL role may insert rows, `log copy` imports another's file): `parse`
//! accepts these four and nothing else.

use std::fmt;

use super::{RunKind, is_run_id};

/// The id of the agent registry's chain (`decide::agents`).
pub const REGISTRY_CHAIN: &str = "agents";

/// What the id of a run's notification deliveries starts with (`notify:RUN`).
pub const NOTIFY_PREFIX: &str = "notify:";

/// What the id of a schedule's chain starts with (`schedule:KIND:NAME`).
pub const SCHEDULE_PREFIX: &str = "schedule:";

/// The id of one of the log's chains, as `parse` reads it and `Display` writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChainId<'a> {
    /// A workflow's or scenario's run: its run id.
    Run(&'a str),
    /// The notification deliveries of the run of this id: `notify:RUN`.
    Notify(&'a str),
    /// The schedule of a workflow or scenario: `schedule:KIND:NAME`.
    Schedule { kind: RunKind, name: &'a str },
    /// The agent registry: `agents`.
    Registry,
}

impl<'a> ChainId<'a> {
    /// The chain `id` names, if it is the id of one: a run id, `notify:` and a run id,
    /// `schedule:workflow:` or `schedule:scenario:` and a name of valid UTF-8, not empty,
    /// breaking no line (`render::breaks_line`) and holding no `\`, or `agents`. Nothing else.
    pub fn parse(id: &'a [u8]) -> Option<ChainId<'a>> {
        if let Some(run) = id.strip_prefix(NOTIFY_PREFIX.as_bytes()) {
            return run_id_of(run).map(ChainId::Notify);
        }
        if let Some(rest) = id.strip_prefix(SCHEDULE_PREFIX.as_bytes()) {
            let (kind, name) = [RunKind::Workflow, RunKind::Scenario]
                .into_iter()
                .find_map(|kind| {
                    let name = rest
                        .strip_prefix(kind.as_str().as_bytes())?
                        .strip_prefix(b":")?;
                    Some((kind, name))
                })?;
            let name = std::str::from_utf8(name).ok()?;
            // No definition's name holds a `\` (`definition::name`): nor does a schedule's,
            // so an id shown escaped (`shown_id`) is never read as one.
            let one_line = !name.is_empty()
                && !name.contains('\\')
                && !name.chars().any(crate::render::breaks_line);
            return one_line.then_some(ChainId::Schedule { kind, name });
        }
        if id == REGISTRY_CHAIN.as_bytes() {
            return Some(ChainId::Registry);
        }
        run_id_of(id).map(ChainId::Run)
    }

    /// `parse` of text.
    pub fn parse_str(id: &'a str) -> Option<ChainId<'a>> {
        ChainId::parse(id.as_bytes())
    }
}

/// `id` as text, if it is a run id.
fn run_id_of(id: &[u8]) -> Option<&str> {
    std::str::from_utf8(id)
        .ok()
        .filter(|id| is_run_id(id.as_bytes()))
}

impl fmt::Display for ChainId<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChainId::Run(run) => f.write_str(run),
            ChainId::Notify(run) => write!(f, "{NOTIFY_PREFIX}{run}"),
            ChainId::Schedule { kind, name } => {
                write!(f, "{SCHEDULE_PREFIX}{}:{name}", kind.as_str())
            }
            ChainId::Registry => f.write_str(REGISTRY_CHAIN),
        }
    }
}

/// A stored chain id as text: as stored when it is UTF-8, else each byte that is not shown as
/// `\xNN` (`01M…33\xff`). A row's id is whatever was written there (SQLite keeps the bytes
/// of a text value as given); read lossily, two ids differing there read as one, and one
/// shown with U+FFFD names an id the log does not hold (a query for it finds nothing). An
/// escaped id is no chain id (`parse`: a `\` is in no run id nor any schedule's name), so
/// whatever reads it refuses it as put in by hand.
pub fn shown_id(id: &[u8]) -> String {
    let mut out = String::with_capacity(id.len());
    for chunk in id.utf8_chunks() {
        out.push_str(chunk.valid());
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

/// Whether `id` starts with the prefix of a run's notification deliveries or of a schedule,
/// whether or not the rest is right: what a query by such an id names (`log show|export|verify
/// notify:RUN`), and one of the ids `log verify` counts apart from runs (`is_run_chain`).
pub fn has_chain_prefix(id: &[u8]) -> bool {
    id.starts_with(NOTIFY_PREFIX.as_bytes()) || id.starts_with(SCHEDULE_PREFIX.as_bytes())
}

/// Whether the chain `id` is counted a run's, as `log verify` counts them apart (else another
/// chain: notification deliveries, a schedule, the agent registry, or one put in the log by
/// hand under an id that is no run id, `writes`, `../x`): only a run id (`is_run_id`), as
/// `history` lists and `log reindex` counts runs. Before, every id without another chain's
/// prefix was a run: a chain planted under a workflow's name counted in "N runs".
pub fn is_run_chain(id: &[u8]) -> bool {
    super::is_run_id(id)
}

/// Whether `id` names a chain the log may hold (`ChainId::parse`). No cortex writes any other:
/// a row of another id was put in the log by hand (an `INSERT` by the everyday role, a file
/// handed over and copied in), and its chain is bad wherever it is read, however well it links
/// — nothing acts on it, nothing makes a path of its id.
pub fn is_chain_id(id: &[u8]) -> bool {
    ChainId::parse(id).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const RUN: &str = "01M95MGMFPG7PRPMB8QHM79X3E";

    #[test]
    fn each_chain_id_is_written_as_the_log_stores_it() {
        let cases = [
            (ChainId::Run(RUN), RUN.to_string()),
            (ChainId::Notify(RUN), format!("notify:{RUN}")),
            (
                ChainId::Schedule {
                    kind: RunKind::Workflow,
                    name: "nightly build",
                },
                "schedule:workflow:nightly build".to_string(),
            ),
            (
                ChainId::Schedule {
                    kind: RunKind::Scenario,
                    name: "x",
                },
                "schedule:scenario:x".to_string(),
            ),
            (ChainId::Registry, "agents".to_string()),
        ];
        for (chain, written) in cases {
            assert_eq!(chain.to_string(), written);
            assert_eq!(ChainId::parse_str(&written), Some(chain), "{written}");
        }
    }

    #[test]
    fn a_schedule_name_may_hold_colons_and_any_printable_text() {
        assert_eq!(
            ChainId::parse_str("schedule:workflow:a:b é/.."),
            Some(ChainId::Schedule {
                kind: RunKind::Workflow,
                name: "a:b é/.."
            })
        );
    }

    #[test]
    fn no_id_cortex_does_not_write_is_a_chain_id() {
        let refused: [&[u8]; 19] = [
            b"",
            b"notify:",
            b"notify:../x",
            b"notify:01m95mgmfpg7prpmb8qhm79x3e",
            b"notify:notify:01M95MGMFPG7PRPMB8QHM79X3E",
            b"schedule:",
            b"schedule:workflow",
            b"schedule:workflow:",
            b"schedule:scenario:",
            b"schedule:workflow:a\nb",
            b"schedule:scenario:a\rb",
            b"schedule:workflow:\x1b]0;x\x07",
            b"schedule:other:x",
            b"schedule:job:x",
            b"schedule:Workflow:x",
            b"schedule:workflow:\xff\xfe",
            b"schedule:workflow:a\\xff",
            b"agents ",
            b"../../../../tmp/victim",
        ];
        for id in refused {
            assert_eq!(
                ChainId::parse(id),
                None,
                "{:?}",
                String::from_utf8_lossy(id)
            );
            assert!(!is_chain_id(id));
        }
        assert_eq!(ChainId::parse(b"\xff01M95MGMFPG7PRPMB8QHM79X3"), None);
    }

    #[test]
    fn an_id_that_is_not_utf8_is_shown_escaped_and_is_no_chain_id() {
        let id = b"01M961WEWZJ8VS0002614BN33\xff";
        assert_eq!(shown_id(id), "01M961WEWZJ8VS0002614BN33\\xff");
        assert!(!is_chain_id(shown_id(id).as_bytes()));
        assert_eq!(shown_id(b"notify:x\xfe\xffy"), "notify:x\\xfe\\xffy");
        assert_eq!(shown_id(RUN.as_bytes()), RUN);
    }

    #[test]
    fn log_verify_counts_apart_every_id_spelled_as_another_chain() {
        for id in [
            "agents",
            "notify:../x",
            "schedule:other:x",
            "schedule:workflow:n",
            "../x",
            "agents2",
            "notify",
            "writes",
        ] {
            assert!(!is_run_chain(id.as_bytes()), "{id}");
        }
        assert!(is_run_chain(RUN.as_bytes()));
    }

    fn any_chain() -> impl Strategy<Value = (u8, String, bool)> {
        (
            0u8..4,
            prop_oneof![
                "[0-7][0-9A-HJKMNP-TV-Z]{25}",
                "[^\\p{Cc}\\p{Zl}\\p{Zp}]{1,24}",
            ],
            any::<bool>(),
        )
    }

    proptest! {
        #[test]
        fn every_chain_id_written_parses_back_to_itself((which, text, scenario) in any_chain()) {
            let kind = if scenario { RunKind::Scenario } else { RunKind::Workflow };
            let chain = match which {
                0 if is_run_id(text.as_bytes()) => ChainId::Run(&text),
                1 if is_run_id(text.as_bytes()) => ChainId::Notify(&text),
                2 if !text.contains('\\') && !text.chars().any(crate::render::breaks_line) => {
                    ChainId::Schedule { kind, name: &text }
                }
                _ => ChainId::Registry,
            };
            let written = chain.to_string();
            prop_assert_eq!(ChainId::parse_str(&written), Some(chain));
        }

        #[test]
        fn what_parses_is_written_back_byte_for_byte(
            prefix in prop_oneof![
                Just(""), Just("notify:"), Just("schedule:workflow:"), Just("schedule:scenario:"),
                Just("schedule:other:"), Just("agents"),
            ],
            rest in prop_oneof![
                Just(Vec::new()),
                "[0-7][0-9A-HJKMNP-TV-Z]{25}".prop_map(String::into_bytes),
                proptest::collection::vec(any::<u8>(), 0..30),
            ],
        ) {
            let id = [prefix.as_bytes(), &rest].concat();
            if let Some(chain) = ChainId::parse(&id) {
                prop_assert_eq!(chain.to_string().into_bytes(), id);
            }
        }
    }
}
