//! Snapshots of run states are a cache of the fold, never a source of truth: the state loaded
//! through a snapshot equals a full replay, and a snapshot that does not match the log (the
//! event it was taken at changed, or its JSON is damaged) is ignored.

mod common;

use common::Env;
use cortex::decide::{replay, snapshot_json};
use cortex::definition::Durability;
use cortex::execute::load_state;
use cortex::store::{EventStore, SqliteStore};

#[test]
fn a_snapshot_is_used_only_while_it_matches_the_log() {
    let env = Env::new();
    env.workflow("five", "name: five\nsteps:\n  - {name: a, run: 'true'}\n  - {name: b, run: 'true'}\n  - {name: c, run: 'true'}\n");
    assert_eq!(env.run(&["workflow", "run", "five"]).code, 0);
    let run_id = env.status(None)["run_id"].as_str().unwrap().to_string();
    let mut store = SqliteStore::open(&env.db(), Durability::Normal).unwrap();
    let events = store.read_run(&run_id).unwrap();
    let full = replay(&events);

    // A snapshot after event 5, then the rest of the log: the same state.
    let mid = replay(&events[..6]);
    store
        .save_snapshot(&run_id, 5, &events[5].hash, &snapshot_json(&mid))
        .unwrap();
    let mut loaded = load_state(&store, &run_id).unwrap();
    loaded.run_id = full.run_id.clone();
    assert_eq!(loaded, full);

    // A snapshot whose recorded hash is not the log's: ignored, the log wins.
    let wrong = replay(&events[..3]);
    store
        .save_snapshot(&run_id, 5, &"0".repeat(64), &snapshot_json(&wrong))
        .unwrap();
    assert_eq!(load_state(&store, &run_id).unwrap(), full);

    // A damaged snapshot: ignored.
    store
        .save_snapshot(&run_id, 5, &events[5].hash, "{not json")
        .unwrap();
    assert_eq!(load_state(&store, &run_id).unwrap(), full);

    // And the status command agrees with a full replay either way.
    let status = env.status(Some(&run_id));
    assert_eq!(status["status"], "completed");
    assert_eq!(status["events"], events.len());
}
