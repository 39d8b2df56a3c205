//! Anchors: head hashes of finished runs kept outside the database, so that a truncated tail —
//! which leaves a shorter chain that still verifies — is caught too.
//!
//! An anchor file is text, one anchor per line: `RUN_ID SEQ HEAD_HASH` (`#` starts a comment).
//! It is meant to be append-only (`cortex log anchor --file F`), or its lines kept elsewhere (a
//! git note, a ticket).

use super::{BadEvent, RawRow, hex};

/// One anchored head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anchor {
    pub run_id: String,
    pub seq: i64,
    pub hash: String,
}

impl Anchor {
    pub fn line(&self) -> String {
        format!("{} {} {}", self.run_id, self.seq, self.hash)
    }
}

/// Parse an anchor file; a malformed line is an error naming it, what was expected and what
/// is wrong with it — never its text: the path may name any file (`.env`, `/etc/shadow`, over
/// MCP too), and an error quoting a line that is no anchor would read that file out.
pub fn parse_anchors(text: &str) -> Result<Vec<Anchor>, String> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let parts: Vec<&str> = line.split_whitespace().collect();
        let bad = |what: String| {
            format!(
                "line {}: expected `RUN_ID SEQ HEAD_HASH` (an anchor, as `cortex log anchor` writes it), but {what}; the line is not quoted, since this may be no anchor file",
                n + 1
            )
        };
        let [run_id, seq, hash] = parts.as_slice() else {
            return Err(bad(format!(
                "it has {} word{} ({} characters)",
                parts.len(),
                if parts.len() == 1 { "" } else { "s" },
                line.chars().count()
            )));
        };
        let seq: i64 = seq
            .parse()
            .map_err(|_| bad("its second word (SEQ) is not a whole number".into()))?;
        if hash.len() != 64 || !hash.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(bad(
                "its third word (HEAD_HASH) is not 64 hexadecimal digits".into(),
            ));
        }
        if !run_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(bad(
                "its first word (RUN_ID) is not a run id (letters, digits, `-`, `_`)".into(),
            ));
        }
        out.push(Anchor {
            run_id: run_id.to_string(),
            seq,
            hash: hash.to_ascii_lowercase(),
        });
    }
    Ok(out)
}

/// Check anchors against rows ordered by (run_id, seq): each anchored event must still be
/// there with the anchored hash, and must still be the head (an anchored run is finished:
/// nothing may follow its seal). Every anchor that fails, in the anchors' order; the rows are
/// indexed once by run, so the cost is that of reading them.
pub fn check_anchors(rows: &[RawRow], anchors: &[Anchor]) -> Vec<BadEvent> {
    // Each run's rows, as the range of `rows` they fill (they are ordered by run).
    let mut runs: std::collections::HashMap<&[u8], std::ops::Range<usize>> =
        std::collections::HashMap::new();
    let mut start = 0;
    for i in 1..=rows.len() {
        if i == rows.len() || rows[i].run_id != rows[start].run_id {
            runs.insert(&rows[start].run_id, start..i);
            start = i;
        }
    }
    let mut failures = Vec::new();
    for a in anchors {
        let bad = |seq: i64, reason: String| BadEvent {
            run_id: a.run_id.clone(),
            seq,
            reason,
        };
        let run = runs
            .get(a.run_id.as_bytes())
            .map_or(&[][..], |range| &rows[range.clone()]);
        let Some(last) = run.last() else {
            failures.push(bad(
                a.seq,
                "the anchored run is missing from the log (deleted)".into(),
            ));
            continue;
        };
        match run.iter().find(|r| r.seq == a.seq) {
            None => failures.push(bad(
                last.seq + 1,
                format!(
                    "truncated: the run ends at seq {} but its anchored head is seq {}",
                    last.seq, a.seq
                ),
            )),
            Some(r) if hex(&r.hash) != a.hash => failures.push(bad(
                a.seq,
                "the anchored head hash no longer matches (the chain was rewritten)".into(),
            )),
            Some(_) if last.seq != a.seq => failures.push(bad(
                a.seq + 1,
                "events were added after the anchored (sealed) head".into(),
            )),
            Some(_) => {}
        }
    }
    failures
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_that_is_no_anchor_is_named_but_never_quoted() {
        for text in [
            "GITHUB_TOKEN=ghp_realsecret123456\n",
            "root:ghp_realsecret123456:19000:0:99999:7:::\n",
            "# c\nghp_realsecret123456 12 zz\n",
            "a ghp_realsecret123456 b\n",
            &format!("ghp_realsecret123456=x 1 {}\n", "a".repeat(64)),
        ] {
            let err = parse_anchors(text).unwrap_err();
            assert!(!err.contains("realsecret"), "{err}");
            assert!(err.starts_with("line "), "{err}");
        }
        let err = parse_anchors("\n\nGITHUB_TOKEN=ghp_realsecret123456\n").unwrap_err();
        assert!(
            err.starts_with("line 3: expected `RUN_ID SEQ HEAD_HASH`"),
            "{err}"
        );
    }
}
