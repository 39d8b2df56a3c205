//! Snapshots of run states: taken for readers of long runs, used only while sealed to the
//! chain, and checked against the log by `log verify`.

use crate::decide::{
    RunState, evolve_in_place, replay, restore, snapshot_format, snapshot_json, state_format,
};
use crate::store::{
    BadEvent, EventStore, Snapshot, StoreError, Verifier, stream_run, stream_run_checked,
    stream_run_checked_upto, stream_run_verified,
};

/// Runs with more events than this since their last snapshot get a new one when read.
pub const SNAPSHOT_EVERY: u64 = 10_000;

/// A run's state for reading (`status`): from its latest snapshot — only while its digest
/// still seals it and the event it was taken at still has the hash it records — plus the
/// events after it, else by replaying the whole log. Drivers do not use it: they replay
/// (`Journal::open`).
pub fn load_state(store: &dyn EventStore, run_id: &str) -> Result<RunState, StoreError> {
    let state = match store.load_snapshot(run_id)? {
        Some(snapshot) if let Some(state) = restore_sealed(store, &snapshot)? => {
            fold_log(store, run_id, snapshot.seq.saturating_add(1), state)?
        }
        _ => fold_log(store, run_id, 0, RunState::default())?,
    };
    // A process that reads a run before taking its lock (a report) names itself in the lock
    // scrubbed of the run's `secret_env` values.
    if let Some(workflow) = &state.workflow {
        super::note_secret_env(workflow);
    }
    Ok(state)
}

/// `load_state`, checking what it reads (`status`): the snapshot is used only while sealed and
/// bound to its event's hash, as there, and the events after it — or every event, without
/// one — go through a `Verifier` as they are folded, linked each to the one before and the
/// first to the snapshot's event. It reads nothing more than `load_state` reads. A row that
/// does not verify stops nothing (the run is shown as its log says); the verifier keeps it,
/// and `read_problem` then says it. What this does not prove: the events before the snapshot
/// (only `log verify` replays them and checks the snapshot against them).
pub fn load_state_checked(
    store: &dyn EventStore,
    run_id: &str,
) -> Result<(RunState, Verifier), StoreError> {
    if let Some(snapshot) = store.load_snapshot(run_id)?
        && let Some(state) = restore_sealed(store, &snapshot)?
        && let Some(prev) = unhex(&snapshot.hash)
    {
        let from = snapshot.seq.saturating_add(1);
        let mut verifier = Verifier::from_point(run_id, from, &prev);
        let state = fold_log_checked(store, run_id, from, state, &mut verifier)?;
        return Ok((state, verifier));
    }
    let mut verifier = Verifier::default();
    let state = fold_log_checked(store, run_id, 0, RunState::default(), &mut verifier)?;
    Ok((state, verifier))
}

/// `fold_log` with each row also checked by `verifier` (which must stand where `seq` is).
pub fn fold_log_checked(
    store: &dyn EventStore,
    run_id: &str,
    seq: u64,
    state: RunState,
    verifier: &mut Verifier,
) -> Result<RunState, StoreError> {
    let mut state = state;
    if let Some(head) = stream_run_checked(store, run_id, seq, verifier, &mut |event| {
        evolve_in_place(&mut state, event)
    })? {
        state.head_hash = head;
    }
    Ok(state)
}

/// A run's state as of event `upto` (`status --at`), replayed from its first event with that
/// prefix checked in the same pass (a fresh `Verifier`: sequence, links, hashes), as
/// `load_state_checked` checks what it reads; a row that does not verify stops nothing, the
/// verifier keeps it. Also the last event folded (its seq and time; none for an empty log) and
/// how many events the log holds, to tell an `upto` past its end.
#[allow(clippy::type_complexity)]
pub fn load_state_upto_checked(
    store: &dyn EventStore,
    run_id: &str,
    upto: u64,
) -> Result<(RunState, Verifier, Option<(u64, String)>, u64), StoreError> {
    let mut state = RunState::default();
    let mut verifier = Verifier::default();
    let mut last = None;
    let (head, rows) = stream_run_checked_upto(store, run_id, upto, &mut verifier, &mut |event| {
        last = Some((event.seq, event.time.to_string()));
        evolve_in_place(&mut state, event);
    })?;
    if let Some(head) = head {
        state.head_hash = head;
    }
    Ok((state, verifier, last, rows))
}

/// What a checked read (`load_state_checked`) found wrong, if anything: the first event that
/// did not verify, else a run index that contradicts the head read (newest events removed),
/// as a driver's replay checks it.
pub fn read_problem(
    store: &dyn EventStore,
    run_id: &str,
    state: &RunState,
    verifier: &Verifier,
) -> Result<Option<BadEvent>, StoreError> {
    if let Some(bad) = verifier.first_bad() {
        return Ok(Some(bad.clone()));
    }
    Ok(
        index_disagrees(store, run_id, state.events, &state.head_hash)?.map(|reason| BadEvent {
            run_id: run_id.to_string(),
            seq: state.events.min(i64::MAX as u64) as i64,
            reason,
        }),
    )
}

/// Bytes from lower-case or upper-case hex; none if it is not hex.
fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// `state` with the events of `run_id` from `seq` on folded into it, streamed from the store
/// as it steps through them (`store::stream_run`): the same state as folding `read_run_from`,
/// without holding the events. From seq 0 and the default state, the run's replay.
pub fn fold_log(
    store: &dyn EventStore,
    run_id: &str,
    seq: u64,
    state: RunState,
) -> Result<RunState, StoreError> {
    let mut state = state;
    // Each event's hash comes empty; the head is the last one's.
    if let Some(head) = stream_run(store, run_id, seq, &mut |event| {
        evolve_in_place(&mut state, event)
    })? {
        state.head_hash = head;
    }
    Ok(state)
}

/// The state a snapshot holds, if it may be used: sealed, and taken at an event of its run
/// that still has the hash it records.
fn restore_sealed(
    store: &dyn EventStore,
    snapshot: &Snapshot,
) -> Result<Option<RunState>, StoreError> {
    if !snapshot.is_sealed()
        || store.hash_at(&snapshot.run_id, snapshot.seq)?.as_deref() != Some(&snapshot.hash)
    {
        return Ok(None);
    }
    Ok(store
        .first_event(&snapshot.run_id)?
        .and_then(|first| restore(&snapshot.state, &first)))
}

/// Whether `state` is `SNAPSHOT_EVERY` events past the run's last snapshot.
pub fn snapshot_due(store: &dyn EventStore, state: &RunState) -> bool {
    // A snapshot in another form than this build's is not used: as if there were none.
    let last = store
        .load_snapshot(&state.run_id)
        .ok()
        .flatten()
        .filter(in_this_form)
        .map_or(0, |s| s.seq + 1);
    state.events > 0 && state.events >= last + SNAPSHOT_EVERY
}

/// Save a sealed snapshot of `state` if one is due. A snapshot is a cache: failing to save it
/// is not an error.
pub fn maybe_snapshot(store: &mut dyn EventStore, state: &RunState) {
    if snapshot_due(store, state) {
        let _ = store.save_snapshot(&Snapshot::seal(
            &state.run_id,
            state.events - 1,
            &state.head_hash,
            snapshot_json(state),
        ));
    }
}

/// The replay of `run_id` from its first event, its chain verified in the same pass
/// (`store::stream_run_verified`): what a driver decides from (`Journal::open`). A run whose
/// log does not verify is `StoreError::Unverified`.
pub fn replay_verified(store: &dyn EventStore, run_id: &str) -> Result<RunState, StoreError> {
    let mut state = RunState::default();
    if let Some(head) = stream_run_verified(store, run_id, &mut |event| {
        evolve_in_place(&mut state, event)
    })? {
        state.head_hash = head;
    }
    if let Some(reason) = index_disagrees(store, run_id, state.events, &state.head_hash)? {
        return Err(StoreError::Unverified {
            run_id: run_id.to_string(),
            seq: state.events,
            reason,
        });
    }
    Ok(state)
}

/// Whether `run_id`'s log verifies as it stands, checked as a driver's replay checks it
/// (`replay_verified`: its chain from the first event, then the run index against it), without
/// folding it: `StoreError::Unverified` if not. The one check every path that acts on a run
/// from a fold made earlier makes before it appends (`Journal::from_state`: a worker taking a
/// run over, claiming a unit, reaping lapsed leases) and the worker's loop makes before it
/// claims anything of a run, so that what `resume` refuses no path drives.
pub fn check_verified(store: &dyn EventStore, run_id: &str) -> Result<(), StoreError> {
    let mut events = 0u64;
    let head = stream_run_verified(store, run_id, &mut |_| events += 1)?;
    let head = head.unwrap_or_default();
    if let Some(reason) = index_disagrees(store, run_id, events, &head)? {
        return Err(StoreError::Unverified {
            run_id: run_id.to_string(),
            seq: events,
            reason,
        });
    }
    Ok(())
}

/// Whether the run index contradicts the chain a driver just replayed, as `log verify`'s
/// check of the index would: a chain whose newest events were deleted still links, but the
/// index (moved in the same transaction as every append) names a later head. Appends by
/// others since the replay are no contradiction: the index may name a head past the replayed
/// one only if the log now holds that head, with that hash.
fn index_disagrees(
    store: &dyn EventStore,
    run_id: &str,
    events: u64,
    head_hash: &str,
) -> Result<Option<String>, StoreError> {
    let Some(entry) = crate::store::run_entry(store, run_id)? else {
        return Ok(None);
    };
    if entry.events == events {
        return Ok((entry.head_hash != head_hash)
            .then(|| "the run index names another head than the log's last event".to_string()));
    }
    if entry.events < events {
        return Ok(Some(format!(
            "the log holds {} events, the run index {}: events were added outside cortex",
            events, entry.events
        )));
    }
    let head = store.hash_at(run_id, entry.events - 1)?;
    Ok(
        (head.as_deref() != Some(entry.head_hash.as_str())).then(|| {
            format!(
                "the run index names event #{} as its head, which the log {}: events were removed",
                entry.events - 1,
                if head.is_some() {
                    "holds with another hash"
                } else {
                    "lacks"
                }
            )
        }),
    )
}

/// Whether `snapshot` holds a state in the form this build writes (`state_format`).
fn in_this_form(snapshot: &Snapshot) -> bool {
    snapshot_format(&snapshot.state).as_deref() == Some(state_format())
}

/// Whether `snapshot` holds a state another build wrote in its own form: one that names
/// another form, or one from before snapshots named theirs (a state object, with the run's
/// id and steps). Not what a damaged or forged text is.
fn in_another_form(snapshot: &Snapshot) -> bool {
    match snapshot_format(&snapshot.state) {
        Some(form) => form != state_format(),
        None => serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(&snapshot.state)
            .is_ok_and(|state| state.contains_key("run_id") && state.contains_key("steps")),
    }
}

/// `log verify`'s check of the cache: every stored snapshot (of one run, or all) must be
/// sealed, taken at an event of its run that still has the hash it records, and — when in
/// this build's form, the only ones ever used — equal to the
/// fold of the log up to that event (each snapshotted run is replayed that far). Returns the
/// first that is not, naming its run, its seq and why.
pub fn check_snapshots(
    store: &dyn EventStore,
    run_id: Option<&str>,
) -> Result<Option<BadEvent>, StoreError> {
    for snapshot in store.snapshots(run_id)? {
        if let Some(reason) = snapshot_problem(store, &snapshot)? {
            return Ok(Some(BadEvent {
                run_id: snapshot.run_id.clone(),
                seq: snapshot.seq.min(i64::MAX as u64) as i64,
                reason: format!("the snapshot of this run at seq {}: {reason}", snapshot.seq),
            }));
        }
    }
    Ok(None)
}

fn snapshot_problem(
    store: &dyn EventStore,
    snapshot: &Snapshot,
) -> Result<Option<&'static str>, StoreError> {
    if !snapshot.is_sealed() {
        return Ok(Some(
            "its digest does not match its contents (the snapshot was changed)",
        ));
    }
    let events = store.read_run(&snapshot.run_id)?;
    let Some(at) = usize::try_from(snapshot.seq)
        .ok()
        .and_then(|seq| events.get(seq))
    else {
        return Ok(Some("the run has no event at that seq"));
    };
    if at.hash != snapshot.hash {
        return Ok(Some("the event it was taken at has another hash"));
    }
    // Sealed and at its event, but written by a build whose state had another form (an
    // upgrade): never used (`restore` refuses it), so nothing it says can reach a reader, and
    // comparing it with this build's fold would call a field added since a difference.
    if in_another_form(snapshot) {
        return Ok(None);
    }
    let folded = replay(&events[..=snapshot.seq as usize]);
    Ok(match restore(&snapshot.state, &events[0]) {
        None => Some("its state does not decode"),
        Some(restored) if restored != folded => {
            Some("its state differs from the fold of the log up to that event")
        }
        Some(_) => None,
    })
}
