//! What a run id is: one grammar — a ULID as cortex writes it — held to wherever an id comes
//! in (typed, read from a log, copied from another) and before one is made part of a path.
//!
//! Cortex names every run it starts with a ULID (`execute::UlidIds`): 26 characters of
//! Crockford base32 in capitals, the first at most `7` (128 bits). Nothing else is a run id.
//! An id read from a log is whatever was written there: the everyday PostgreSQL role may
//! insert rows, and `log copy` imports another's file. An id such as
//! `../../../../tmp/victim` or `/some/dir` whose chain verifies would be joined into
//! `runs/<id>/`, `logs/<id>/` and `locks/<id>.lock` — a `gc` removing a folder elsewhere, a
//! worker writing outside its home. A run id of this grammar is one path component, never
//! `.`, `..`, empty, or holding `/`, `\`, a control character or a space.

/// How many characters a run id has.
pub const RUN_ID_LEN: usize = 26;

/// A character of Crockford's base32 as cortex writes it: a digit or a capital other than
/// `I`, `L`, `O` and `U`.
pub fn is_crockford(c: u8) -> bool {
    c.is_ascii_digit() || (c.is_ascii_uppercase() && !matches!(c, b'I' | b'L' | b'O' | b'U'))
}

/// Whether `id` is a run id: a ULID as cortex writes it (`RUN_ID_LEN` Crockford characters
/// in capitals, the first at most `7`).
pub fn is_run_id(id: &[u8]) -> bool {
    id.len() == RUN_ID_LEN && id[0] <= b'7' && id.iter().all(|&c| is_crockford(c))
}

/// A run id that breaks the grammar, and the rule it breaks. The id is shown escaped and cut
/// (`definition::shown_query`): it is whatever a log held.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{shown}` is no run id (a run id is a ULID, {RUN_ID_LEN} digits and capitals as cortex makes them)"
)]
pub struct BadRunId {
    pub shown: String,
}

/// `id` if it is a run id (`is_run_id`), else why not.
pub fn check_run_id(id: &str) -> Result<&str, BadRunId> {
    if is_run_id(id.as_bytes()) {
        Ok(id)
    } else {
        Err(BadRunId {
            shown: crate::definition::shown_query(id),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_id_is_a_ulid_as_cortex_writes_it() {
        use crate::execute::IdGen;
        let made = crate::execute::UlidIds::default().next_id();
        assert!(is_run_id(made.as_bytes()), "{made}");
        assert!(is_run_id(b"01M95MGMFPG7PRPMB8QHM79X3E"));
        assert!(is_run_id(b"7ZZZZZZZZZZZZZZZZZZZZZZZZZ"));
    }

    #[test]
    fn nothing_that_could_name_another_path_is_a_run_id() {
        for id in [
            "",
            ".",
            "..",
            "../../../../tmp/victim",
            "/tmp/victim",
            "01M95MGMFPG7PRPMB8QHM79X3",
            "01M95MGMFPG7PRPMB8QHM79X3EE",
            "01m95mgmfpg7prpmb8qhm79x3e",
            "81M95MGMFPG7PRPMB8QHM79X3E",
            "01M95MGMFPG7PRPMB8QHM79XIE",
            "01M95MGMFPG7PRPMB8QHM79X\n3",
            "01M95MGMFPG7PRPMB8QHM7/..",
            "notify:01M95MGMFPG7PRPMB8QHM79X3E",
            "01M95MGMFPG7PRPMB8QHM79X3É",
        ] {
            assert!(!is_run_id(id.as_bytes()), "{id:?}");
            assert!(check_run_id(id).is_err(), "{id:?}");
        }
    }

    #[test]
    fn a_bad_run_id_is_named_escaped() {
        let e = check_run_id("../x\n\u{1b}]0;PWN\u{7}").unwrap_err();
        let said = e.to_string();
        assert!(!said.contains('\n') && !said.contains('\u{1b}'), "{said}");
        assert!(said.contains("../x"), "{said}");
    }
}
