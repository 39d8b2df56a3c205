//! Verification of the hash chain from stored bytes, never from re-serialised events.

use serde::Serialize;

use super::hash::{GENESIS, event_hash, hex};

/// The stored bytes of one event row, exactly as the database returned them.
#[derive(Debug, Clone, PartialEq)]
pub struct RawRow {
    pub run_id: Vec<u8>,
    pub seq: i64,
    pub id: Vec<u8>,
    pub time: Vec<u8>,
    pub type_name: Vec<u8>,
    pub version: i64,
    pub body: Vec<u8>,
    pub prev_hash: Vec<u8>,
    pub hash: Vec<u8>,
}

/// The first event that failed verification, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BadEvent {
    pub run_id: String,
    pub seq: i64,
    pub reason: String,
}

/// The machine contract of `log verify --json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VerifyReport {
    pub ok: bool,
    pub runs: u64,
    pub events: u64,
    pub first_bad: Option<BadEvent>,
    /// Anchors checked (`log verify --anchors FILE`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub anchors: Option<u64>,
    /// The head hash of every run checked, in run order.
    #[serde(skip)]
    pub heads: Vec<(String, String)>,
}

/// Verify rows ordered by (run_id, seq): sequence numbers gapless from 0, each previous hash
/// equal to the hash before it, and each hash equal to the hash recomputed from the row's bytes.
pub fn verify_rows(rows: &[RawRow]) -> VerifyReport {
    let mut report = VerifyReport {
        ok: true,
        runs: 0,
        events: 0,
        first_bad: None,
        anchors: None,
        heads: Vec::new(),
    };
    let mut current: Option<&[u8]> = None;
    let mut expected_seq: i64 = 0;
    let mut prev: Vec<u8> = GENESIS.to_vec();
    for row in rows {
        if current != Some(row.run_id.as_slice()) {
            if let Some(run) = current {
                report
                    .heads
                    .push((String::from_utf8_lossy(run).into_owned(), hex(&prev)));
            }
            current = Some(&row.run_id);
            report.runs += 1;
            expected_seq = 0;
            prev = GENESIS.to_vec();
        }
        report.events += 1;
        let bad = |reason: String| BadEvent {
            run_id: String::from_utf8_lossy(&row.run_id).into_owned(),
            seq: row.seq,
            reason,
        };
        let problem = if row.seq != expected_seq {
            Some(bad(format!(
                "sequence gap: expected seq {expected_seq}, found {} (an event was removed, duplicated or reordered)",
                row.seq
            )))
        } else if row.prev_hash != prev {
            Some(bad(
                "previous-hash link broken (an event before it was changed, removed or reordered)"
                    .into(),
            ))
        } else {
            let recomputed = event_hash(
                &row.run_id,
                row.seq,
                &row.prev_hash,
                &row.id,
                &row.time,
                &row.type_name,
                row.version,
                &row.body,
            );
            (recomputed.as_slice() != row.hash.as_slice())
                .then(|| bad("hash mismatch: the stored bytes of this event were changed".into()))
        };
        if let Some(problem) = problem {
            report.ok = false;
            report.first_bad = Some(problem);
            return report;
        }
        prev = row.hash.clone();
        expected_seq += 1;
    }
    if let Some(run) = current {
        report
            .heads
            .push((String::from_utf8_lossy(run).into_owned(), hex(&prev)));
    }
    report
}
