//! Snapshots of run states are a cache of the fold, never a source of truth: the state loaded
//! through a snapshot equals a full replay; a snapshot that does not match the log (its digest
//! no longer seals it, the event it was taken at changed, its JSON is damaged) is ignored; and
//! `log verify` replays every snapshotted run to catch a snapshot that disagrees with the log,
//! even one whose digest was recomputed.

mod common;

use common::Env;
use cortex::decide::{RunPhase, RunState, replay, snapshot_json};
use cortex::definition::Durability;
use cortex::event::{Outcome, Recorded};
use cortex::execute::{check_snapshots, load_state};
use cortex::store::{EventStore, Snapshot, SqliteStore};

const THREE: &str = "name: three\nsteps:\n  - {name: a, run: 'true'}\n  - {name: b, run: 'true'}\n  - {name: c, run: 'true'}\n";

/// A finished three-step run: the env, its id and its events.
fn finished_run() -> (Env, String, Vec<Recorded>) {
    let env = Env::new();
    env.workflow("three", THREE);
    assert_eq!(env.run(&["workflow", "run", "three"]).code, 0);
    let run_id = env.status(None)["run_id"].as_str().unwrap().to_string();
    let store = SqliteStore::open(&env.db(), Durability::Normal).unwrap();
    let events = store.read_run(&run_id).unwrap();
    (env, run_id, events)
}

/// The state after `events`, as a snapshot of the run holds it.
fn state_of(events: &[Recorded]) -> RunState {
    replay(events)
}

/// The run's state, but failed: what a forger would have `status` say.
fn failed(events: &[Recorded]) -> RunState {
    let mut state = state_of(events);
    state.phase = RunPhase::Finished {
        outcome: Outcome::Failed,
    };
    state.finish_reason = Some("forged".into());
    state
}

#[test]
fn a_snapshot_is_used_only_while_it_matches_the_log() {
    let (env, run_id, events) = finished_run();
    let mut store = SqliteStore::open(&env.db(), Durability::Normal).unwrap();
    let full = replay(&events);
    let head = events.len() - 1;
    let seal =
        |seq: usize, hash: &str, state: String| Snapshot::seal(&run_id, seq as u64, hash, state);

    // A snapshot after event 5, then the rest of the log: the same state.
    let mid = state_of(&events[..6]);
    store
        .save_snapshot(&seal(5, &events[5].hash, snapshot_json(&mid)))
        .unwrap();
    let mut loaded = load_state(&store, &run_id).unwrap();
    loaded.run_id = full.run_id.clone();
    assert_eq!(loaded, full);
    assert_eq!(check_snapshots(&store, None).unwrap(), None);

    // A sealed snapshot is read as it is (that is what a cache is for): the forged state of
    // the head is what `load_state` gives — which is why `log verify` replays (below).
    let forged = failed(&events);
    store
        .save_snapshot(&seal(head, &events[head].hash, snapshot_json(&forged)))
        .unwrap();
    assert_eq!(
        load_state(&store, &run_id)
            .unwrap()
            .finish_reason
            .as_deref(),
        Some("forged")
    );
    let bad = check_snapshots(&store, None).unwrap().expect("caught");
    assert_eq!(
        (bad.run_id.as_str(), bad.seq),
        (run_id.as_str(), head as i64)
    );
    assert!(
        bad.reason.contains("differs from the fold"),
        "{}",
        bad.reason
    );

    // The same state, edited without recomputing the digest: not sealed, ignored.
    let mut unsealed = seal(head, &events[head].hash, snapshot_json(&full));
    unsealed.state = snapshot_json(&forged);
    store.save_snapshot(&unsealed).unwrap();
    assert_eq!(load_state(&store, &run_id).unwrap(), full);
    let bad = check_snapshots(&store, None).unwrap().expect("caught");
    assert!(bad.reason.contains("digest"), "{}", bad.reason);

    // Sealed, but moved to another event than it was taken at: ignored.
    store
        .save_snapshot(&seal(5, &events[4].hash, snapshot_json(&forged)))
        .unwrap();
    assert_eq!(load_state(&store, &run_id).unwrap(), full);
    assert!(check_snapshots(&store, None).unwrap().is_some());

    // Sealed but damaged: ignored.
    store
        .save_snapshot(&seal(5, &events[5].hash, "{not json".into()))
        .unwrap();
    assert_eq!(load_state(&store, &run_id).unwrap(), full);
    assert!(check_snapshots(&store, None).unwrap().is_some());

    // And the status command agrees with a full replay.
    let status = env.status(Some(&run_id));
    assert_eq!(status["status"], "completed");
    assert_eq!(status["events"], events.len());
}

/// The adversarial review's case: editing the `snapshots` table made `status` say failed
/// while `log verify` said the log was intact. Now `status` still tells the log's truth (the
/// edit breaks the snapshot's digest), and `log verify` exits 1 naming the run and the
/// snapshot; a forger who recomputes the digest fools `status`, but not `log verify`, which
/// replays the run to the snapshot and compares.
#[test]
fn a_forged_snapshot_never_changes_status_and_log_verify_names_it() {
    let (env, run_id, events) = finished_run();
    let head = events.len() - 1;
    {
        let mut store = SqliteStore::open(&env.db(), Durability::Normal).unwrap();
        store
            .save_snapshot(&Snapshot::seal(
                &run_id,
                head as u64,
                &events[head].hash,
                snapshot_json(&state_of(&events)),
            ))
            .unwrap();
    }
    let verify = env.run(&["--json", "log", "verify"]);
    assert_eq!(
        verify.code, 0,
        "an honest snapshot verifies: {}",
        verify.stdout
    );

    // Forge the state with sqlite, as the review did.
    let conn = rusqlite::Connection::open(env.db()).unwrap();
    conn.execute(
        "UPDATE snapshots SET state = ?1 WHERE run_id = ?2",
        rusqlite::params![snapshot_json(&failed(&events)), run_id],
    )
    .unwrap();
    let status = env.status(Some(&run_id));
    assert_eq!(status["status"], "completed", "{status}");
    let human = env.run(&["workflow", "status", &run_id]);
    assert!(!human.stdout.contains("forged"), "{}", human.stdout);

    let verify = env.run(&["--json", "log", "verify"]);
    assert_eq!(verify.code, 1, "{}", verify.stdout);
    let bad = &verify.json()["first_bad"];
    assert_eq!(bad["run_id"], run_id.as_str());
    assert_eq!(bad["seq"], head);
    let reason = bad["reason"].as_str().unwrap();
    assert!(
        reason.contains("snapshot") && reason.contains("digest"),
        "{reason}"
    );
    let human = env.run(&["log", "verify"]);
    assert_eq!(human.code, 1);
    assert!(human.stdout.contains("snapshot"), "{}", human.stdout);

    // A forger who recomputes the digest: `log verify` still replays and says so.
    let resealed = Snapshot::seal(
        &run_id,
        head as u64,
        &events[head].hash,
        snapshot_json(&failed(&events)),
    );
    conn.execute(
        "UPDATE snapshots SET state = ?1, digest = ?2 WHERE run_id = ?3",
        rusqlite::params![resealed.state, resealed.digest, run_id],
    )
    .unwrap();
    let verify = env.run(&["--json", "log", "verify", &run_id]);
    assert_eq!(verify.code, 1, "{}", verify.stdout);
    let reason = verify.json()["first_bad"]["reason"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(reason.contains("differs from the fold"), "{reason}");
}

/// A snapshot written by a build whose state had another form (an upgrade added a field to
/// the run state): before, `status` restored it — reading the new field as its default, a
/// state the log never had — and `log verify` called the difference tampering. A saved state
/// names its form (a digest of the source of the state's types); one in another form, or from
/// before forms were named, is neither used nor reported, while a damaged one still is.
#[test]
fn a_snapshot_from_a_build_with_another_state_form_is_not_used_nor_called_tampered() {
    let (env, run_id, events) = finished_run();
    let mut store = SqliteStore::open(&env.db(), Durability::Normal).unwrap();
    let full = replay(&events);
    let head = events.len() - 1;
    // What the older build saw differs from this build's fold (here: the reason).
    let older = failed(&events);
    let legacy = serde_json::to_string(&older).unwrap();
    let other_form = format!(
        "{{\"format\":\"0123456789abcdef\",\"state\":{}}}",
        serde_json::to_string(&older).unwrap()
    );
    assert!(snapshot_json(&older).contains(cortex::decide::state_format()));
    for saved in [legacy, other_form] {
        store
            .save_snapshot(&Snapshot::seal(
                &run_id,
                head as u64,
                &events[head].hash,
                saved.clone(),
            ))
            .unwrap();
        let mut loaded = load_state(&store, &run_id).unwrap();
        loaded.run_id = full.run_id.clone();
        assert_eq!(
            loaded, full,
            "a snapshot in another form was used: {saved:.80}"
        );
        assert_eq!(check_snapshots(&store, None).unwrap(), None, "{saved:.80}");
    }
    assert_eq!(env.run(&["log", "verify"]).code, 0);
}

/// `status` verifies what it reads and no more: from a snapshot, the events after it (linked
/// to the snapshot's event); a changed event after the snapshot makes it say `verified:
/// false` naming that event, while one before the snapshot is found by `log verify` alone —
/// the limit DESIGN states (§5, §7).
#[test]
fn status_from_a_snapshot_verifies_the_events_after_it_and_only_log_verify_those_before() {
    let (env, run_id, events) = finished_run();
    assert!(events.len() > 8, "{} events", events.len());
    {
        let mut store = SqliteStore::open(&env.db(), Durability::Normal).unwrap();
        store
            .save_snapshot(&Snapshot::seal(
                &run_id,
                5,
                &events[5].hash,
                snapshot_json(&state_of(&events[..6])),
            ))
            .unwrap();
    }
    let clean = env.status(Some(&run_id));
    assert_eq!(clean["verified"], true, "{clean}");
    let conn = rusqlite::Connection::open(env.db()).unwrap();
    let retime = |seq: usize| {
        conn.execute_batch(&format!(
            "DROP TRIGGER IF EXISTS events_append_only_update; UPDATE events SET time = '2000-01-01T00:00:00.000Z' WHERE run_id = '{run_id}' AND seq = {seq}"
        ))
        .unwrap();
    };
    // Before the snapshot: status reads from the snapshot on, and cannot tell.
    retime(2);
    let before = env.status(Some(&run_id));
    assert_eq!(before["verified"], true, "{before}");
    assert_eq!(env.run(&["log", "verify", &run_id]).code, 1);
    // After it: status says so, and suggests only `log verify`.
    retime(7);
    let after = env.status(Some(&run_id));
    assert_eq!(after["verified"], false, "{after}");
    assert_eq!(after["unverified"]["seq"], 7, "{after}");
    let human = env.run(&["workflow", "status", &run_id]);
    assert!(human.stdout.contains("does not verify"), "{}", human.stdout);
}
