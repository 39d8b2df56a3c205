//! Replay as a stream: a run's events handed to a fold one by one, each decoded where the
//! store holds its bytes, with no `Vec<Recorded>` and no owned envelope per event.
//!
//! A fold needs an event's place (`seq`), its time, its hash (the state's head) and the event
//! itself: `FoldRow` is those columns, borrowed; `stream_run` decodes each into a `Stamped`
//! view. `stream_run` checks no chain, as `read_run` does not: `verify` does, a snapshot is
//! bound to the chain by its reader (`execute::load_state`), and a driver replays with
//! `stream_run_verified`, which verifies each row as it hands it on.

use super::{EventStore, RowRef, StoreError, Verifier};
use crate::event::{Stamped, decode};

/// The stored columns of one event that a fold reads, borrowed from wherever they are (a
/// database cursor, a stored row), with the id and previous hash a verifying replay hashes.
#[derive(Debug, Clone, Copy)]
pub struct FoldRow<'a> {
    pub seq: i64,
    pub id: &'a [u8],
    pub time: &'a [u8],
    pub type_name: &'a [u8],
    pub version: i64,
    pub body: &'a [u8],
    pub prev_hash: &'a [u8],
    pub hash: &'a [u8],
}

impl<'a> FoldRow<'a> {
    /// The whole row of run `run_id`, as the chain's checks take it.
    pub fn of_run(&self, run_id: &'a [u8]) -> RowRef<'a> {
        RowRef {
            run_id,
            seq: self.seq,
            id: self.id,
            time: self.time,
            type_name: self.type_name,
            version: self.version,
            body: self.body,
            prev_hash: self.prev_hash,
            hash: self.hash,
        }
    }
}

/// Hand `f` the rows of `rows` a stream from `seq` hands on (`first_seq`): the fold of rows a
/// store holds whole (the default `fold_rows`, the in-memory store).
pub(crate) fn fold_stored<'r>(
    rows: impl IntoIterator<Item = &'r super::RawRow>,
    seq: u64,
    f: &mut super::RowSink<'_>,
) -> Result<(), super::StoreError> {
    let from = first_seq(seq);
    for row in rows {
        if row.seq >= from {
            f(FoldRow {
                seq: row.seq,
                id: &row.id,
                time: &row.time,
                type_name: &row.type_name,
                version: row.version,
                body: &row.body,
                prev_hash: &row.prev_hash,
                hash: &row.hash,
            })?;
        }
    }
    Ok(())
}

/// The least stored seq a stream from `seq` hands on: from 0, every row of the run, whatever
/// its seq (as `read_run` reads them, a changed row included); else the rows from `seq` on.
pub(crate) fn first_seq(seq: u64) -> i64 {
    if seq == 0 {
        i64::MIN
    } else {
        seq.min(i64::MAX as u64) as i64
    }
}

/// What `EventStore::fold_rows` hands each row to: an error stops the stream and is returned.
pub type RowSink<'s> = dyn FnMut(FoldRow<'_>) -> Result<(), StoreError> + 's;

/// Hand the events of `run_id` from `from` on, in order, to `f`, each decoded from the bytes
/// the store holds (`EventStore::fold_rows`): the body parsed where it lies. Each event's hash
/// is handed on empty: a fold needs only the last one (the state's head), which the stream
/// returns as hex (none if it handed nothing on) — writing every hash as hex was a sixteenth
/// of a replay. A row that does not decode is the same `StoreError::Corrupt` that `read_run`
/// returns for it.
pub fn stream_run(
    store: &dyn EventStore,
    run_id: &str,
    from: u64,
    f: &mut dyn FnMut(Stamped<'_>),
) -> Result<Option<String>, StoreError> {
    stream(store, run_id, from, None, f)
}

/// `stream_run` from the run's first event, verifying its chain in the same pass (each row
/// through a `Verifier`, as `log verify` checks it, before it is decoded): the first row that
/// does not verify stops the stream with `StoreError::Unverified`. What a driver replays: it
/// never acts on a log that was changed.
pub fn stream_run_verified(
    store: &dyn EventStore,
    run_id: &str,
    f: &mut dyn FnMut(Stamped<'_>),
) -> Result<Option<String>, StoreError> {
    let mut verifier = Verifier::default();
    stream(store, run_id, 0, Some(&mut verifier), f)
}

/// `stream_run` from `from`, each row also checked by `verifier` (made to start there,
/// `Verifier::from_point`, or from seq 0 by default) — but, unlike `stream_run_verified`, a
/// row that does not verify does not stop the stream: the verifier keeps it
/// (`Verifier::first_bad`) and the rest is handed on unchecked. What a reader (`status`)
/// folds: it shows the run as its log says, and says whether what it read verified.
pub fn stream_run_checked(
    store: &dyn EventStore,
    run_id: &str,
    from: u64,
    verifier: &mut Verifier,
    f: &mut dyn FnMut(Stamped<'_>),
) -> Result<Option<String>, StoreError> {
    stream_with(store, run_id, from, u64::MAX, Some(verifier), false, f).map(|(head, _)| head)
}

/// `stream_run_checked` from the run's first event up to event `upto` (`status --at`): the
/// prefix it folds is checked in the same pass, every row from seq 0 through a fresh
/// `Verifier`; the rows after `upto` are neither checked nor decoded. Also says how many rows
/// the log holds, to tell an `upto` past its end.
pub fn stream_run_checked_upto(
    store: &dyn EventStore,
    run_id: &str,
    upto: u64,
    verifier: &mut Verifier,
    f: &mut dyn FnMut(Stamped<'_>),
) -> Result<(Option<String>, u64), StoreError> {
    stream_with(store, run_id, 0, upto, Some(verifier), false, f)
}

fn stream(
    store: &dyn EventStore,
    run_id: &str,
    from: u64,
    verifier: Option<&mut Verifier>,
    f: &mut dyn FnMut(Stamped<'_>),
) -> Result<Option<String>, StoreError> {
    stream_with(store, run_id, from, u64::MAX, verifier, true, f).map(|(head, _)| head)
}

/// The stream, through event `upto` (the rows after it are counted, not handed on); with a
/// verifier, a row that does not verify stops it (`stop`) or is noted in the verifier, the
/// rest unchecked. Its head, and how many rows it met.
fn stream_with(
    store: &dyn EventStore,
    run_id: &str,
    from: u64,
    upto: u64,
    mut verifier: Option<&mut Verifier>,
    stop: bool,
    f: &mut dyn FnMut(Stamped<'_>),
) -> Result<(Option<String>, u64), StoreError> {
    // A chain of an id no cortex writes (`event::is_chain_id`) is read by nobody: no state is
    // folded from it, so nothing is decided on it, driven, collected or made a path of.
    if let Some(reason) = super::bad_chain_id(run_id.as_bytes()) {
        return Err(StoreError::Corrupt {
            run_id: run_id.to_string(),
            seq: from,
            reason,
        });
    }
    let mut last_hash: Option<Vec<u8>> = None;
    let mut rows = 0u64;
    store.fold_rows(run_id, from, &mut |row| {
        rows += 1;
        let seq = row.seq.max(0) as u64;
        if seq > upto {
            return Ok(());
        }
        if let Some(verifier) = verifier.as_deref_mut()
            && (stop || verifier.first_bad().is_none())
        {
            let checked = row.of_run(run_id.as_bytes());
            if !verifier.check(checked) && stop {
                let reason = std::mem::take(verifier)
                    .finish()
                    .first_bad
                    .map_or_else(|| "it does not verify".to_string(), |bad| bad.reason);
                return Err(StoreError::Unverified {
                    run_id: run_id.to_string(),
                    seq,
                    reason,
                });
            }
        }
        let corrupt = |reason: String| StoreError::Corrupt {
            run_id: run_id.to_string(),
            seq,
            reason,
        };
        let text = |bytes, what: &str| {
            std::str::from_utf8(bytes).map_err(|_| corrupt(format!("{what} is not UTF-8")))
        };
        let type_name = text(row.type_name, "type")?;
        let body = text(row.body, "body")?;
        let version = u32::try_from(row.version).unwrap_or(u32::MAX);
        if let Some(newer) = super::newer_event(run_id, seq, row.version) {
            // A row whose chain does not verify (here or before) is no newer cortex's event:
            // its version is as changed as anything else in it.
            if let Some(bad) = verifier.as_deref().and_then(Verifier::first_bad) {
                return Err(corrupt(format!(
                    "the log does not verify from event #{} ({}): its event schema version {} is not to be read as a newer cortex's",
                    bad.seq, bad.reason, row.version
                )));
            }
            return Err(newer);
        }
        let event = decode(version, type_name, body).map_err(corrupt)?;
        let time = text(row.time, "time")?;
        let last = last_hash.get_or_insert_with(|| Vec::with_capacity(32));
        last.clear();
        last.extend_from_slice(row.hash);
        f(Stamped {
            run_id,
            seq,
            time,
            hash: "",
            event: &event,
        });
        Ok(())
    })?;
    Ok((last_hash.map(|h| super::hash::hex(&h)), rows))
}
