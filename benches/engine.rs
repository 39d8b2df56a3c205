//! In-process figures of the engine, each against a floor measured in the same run:
//! appends (one transaction per transition, durability normal and full; one run and many),
//! replay and verification of a run of 1,000,000 events, status of that run, and planning a
//! 10,000-phase random DAG. Prints one line per figure: `name|cortex|floor|unit|target`.
//! Run with `cargo bench --bench engine` (or through `benches/run.sh`).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use cortex::decide::replay;
use cortex::definition::{Durability, parse_scenario};
use cortex::event::{Event, NewEvent};
use cortex::execute::{load_state, maybe_snapshot};
use cortex::project::status_view;
use cortex::render::render_preview;
use cortex::store::{EventStore, SqliteStore, verify_rows};
use cortex::validate::validate_scenario;

fn event(i: u64) -> NewEvent {
    NewEvent {
        id: format!("01JBENCH{i:018}"),
        time: "2026-11-21T00:00:00.000Z".into(),
        event: Event::OutputRecorded {
            step: format!("s{}", i % 100),
            key: "k".into(),
            value: format!("v{i}"),
        },
    }
}

fn timed<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let t = Instant::now();
    let out = f();
    (out, t.elapsed())
}

/// The floor of an append: the same rows inserted into a plain table, no chain.
fn plain_inserts(conn: &rusqlite::Connection, rows: u64, per_tx: u64) -> Duration {
    conn.execute_batch("CREATE TABLE IF NOT EXISTS plain (run_id TEXT, seq INTEGER, id TEXT, time TEXT, type TEXT, version INTEGER, body TEXT, prev_hash BLOB, hash BLOB) STRICT").unwrap();
    let body = Event::OutputRecorded {
        step: "s".into(),
        key: "k".into(),
        value: "v".into(),
    }
    .body_json();
    let (_, d) = timed(|| {
        let mut seq = 0;
        while seq < rows {
            let tx = conn.unchecked_transaction().unwrap();
            for _ in 0..per_tx {
                tx.execute(
                    "INSERT INTO plain VALUES ('R', ?1, 'id', 'time', 'output_recorded', 1, ?2, ?3, ?3)",
                    rusqlite::params![seq as i64, body, vec![0u8; 32]],
                )
                .unwrap();
                seq += 1;
            }
            tx.commit().unwrap();
        }
    });
    d
}

fn sync_pragma(conn: &rusqlite::Connection, durability: Durability) {
    let mode = if durability == Durability::Full {
        "FULL"
    } else {
        "NORMAL"
    };
    conn.execute_batch(&format!(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous={mode};"
    ))
    .unwrap();
}

fn line(name: &str, cortex: f64, floor: f64, unit: &str, target: &str) {
    println!("{name}|{cortex:.1}|{floor:.1}|{unit}|{target}");
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    for durability in [Durability::Normal, Durability::Full] {
        let tag = if durability == Durability::Full {
            "full"
        } else {
            "normal"
        };
        let n = if durability == Durability::Full {
            2_000
        } else {
            20_000
        };
        let mut store =
            SqliteStore::open(&dir.path().join(format!("one-{tag}.db")), durability).unwrap();
        let (_, d) = timed(|| {
            for i in 0..n {
                store.append("R", i, &[event(i)]).unwrap();
            }
        });
        let floor_conn =
            rusqlite::Connection::open(dir.path().join(format!("plain-{tag}.db"))).unwrap();
        sync_pragma(&floor_conn, durability);
        let floor = plain_inserts(&floor_conn, n, 1);
        line(
            &format!("commit latency, one transition per transaction ({tag})"),
            d.as_micros() as f64 / n as f64,
            floor.as_micros() as f64 / n as f64,
            "µs",
            "",
        );
        line(
            &format!("append throughput, one run ({tag})"),
            n as f64 / d.as_secs_f64(),
            n as f64 / floor.as_secs_f64(),
            "events/s",
            "",
        );
    }
    // Many runs: 500 runs of 20 events, each transition its own transaction.
    let mut store = SqliteStore::open(&dir.path().join("many.db"), Durability::Normal).unwrap();
    let (_, d) = timed(|| {
        for r in 0..500 {
            for i in 0..20 {
                store.append(&format!("R{r:04}"), i, &[event(i)]).unwrap();
            }
        }
    });
    let floor_conn = rusqlite::Connection::open(dir.path().join("plain-many.db")).unwrap();
    sync_pragma(&floor_conn, Durability::Normal);
    let floor = plain_inserts(&floor_conn, 10_000, 1);
    line(
        "append throughput, 500 runs",
        10_000.0 / d.as_secs_f64(),
        10_000.0 / floor.as_secs_f64(),
        "events/s",
        "",
    );

    // A run of 1,000,000 events (appended in batches of 1,000).
    let big = dir.path().join("big.db");
    let mut store = SqliteStore::open(&big, Durability::Normal).unwrap();
    let n = 1_000_000u64;
    let mut started = cortex::event::RunStarted {
        kind: cortex::event::RunKind::Workflow,
        name: "big".into(),
        definition: serde_json::json!({"name": "big", "steps": (0..100).map(|i| serde_json::json!({"name": format!("s{i}"), "run": "true"})).collect::<Vec<_>>()}),
        definition_hash: String::new(),
        source: String::new(),
        inputs: BTreeMap::new(),
        secret_inputs: Vec::new(),
        config: Default::default(),
        agents: BTreeMap::new(),
        claude: None,
        parent: None,
        uses: Default::default(),
        working_dir: "/".into(),
        driver: cortex::event::Driver {
            pid: 1,
            host: "h".into(),
        },
        by: cortex::event::Operator {
            actor: "bench".into(),
            message: None,
        },
    };
    started.definition_hash = "0".repeat(64);
    store
        .append(
            "BIG",
            0,
            &[NewEvent {
                id: "0".into(),
                time: "t".into(),
                event: Event::RunStarted(Box::new(started)),
            }],
        )
        .unwrap();
    let mut seq = 1;
    while seq < n {
        let batch: Vec<NewEvent> = (seq..(seq + 1000).min(n)).map(event).collect();
        store.append("BIG", seq, &batch).unwrap();
        seq += batch.len() as u64;
    }
    drop(store);
    let store = SqliteStore::open(&big, Durability::Normal).unwrap();
    let (rows, read_raw) = timed(|| store.raw_rows(Some("BIG")).unwrap());
    // What `log verify` does: rows streamed through the verifier, borrowed, not copied.
    let (report, verify) = timed(|| store.verify(Some("BIG")).unwrap());
    assert!(report.ok && report.events == n);
    assert_eq!(
        verify_rows(&rows),
        report,
        "streamed and copied verification agree"
    );
    let floor_hash = timed(|| {
        let mut h = blake3::Hasher::new();
        for r in &rows {
            h.update(&r.body);
        }
        h.finalize()
    })
    .1;
    line(
        "log verify, 1M events (read + check)",
        n as f64 / verify.as_secs_f64(),
        n as f64 / (read_raw + floor_hash).as_secs_f64(),
        "events/s",
        "≥ 1,000,000 events/s",
    );
    let (events, read) = timed(|| store.read_run("BIG").unwrap());
    let (state, fold) = timed(|| replay(&events));
    line(
        "full replay, 1M events (read + decode + fold)",
        n as f64 / (read + fold).as_secs_f64(),
        n as f64 / read_raw.as_secs_f64(),
        "events/s",
        "≥ 2,000,000 events/s",
    );
    line(
        "fold only (evolve), 1M events",
        n as f64 / fold.as_secs_f64(),
        n as f64 / read_raw.as_secs_f64(),
        "events/s",
        "",
    );
    drop(state);
    let mut store = store;
    let floor_status = timed(|| store.runs().unwrap()).1;
    let (_, cold) = timed(|| {
        let state = load_state(&store, "BIG").unwrap();
        maybe_snapshot(&mut store, &state);
        status_view(&state, false)
    });
    let (_, warm) = timed(|| status_view(&load_state(&store, "BIG").unwrap(), false));
    line(
        "status of a 1M-event run, first time (replay, then snapshot)",
        cold.as_secs_f64() * 1000.0,
        floor_status.as_secs_f64() * 1000.0,
        "ms",
        "",
    );
    line(
        "status of a 1M-event run (from its snapshot)",
        warm.as_secs_f64() * 1000.0,
        floor_status.as_secs_f64() * 1000.0,
        "ms",
        "< 50 ms",
    );

    // Planning a random DAG of 10,000 phases.
    let mut rng = 7u64;
    let mut next = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let mut yaml = String::from("name: dag\ndescription: random\nphases:\n");
    for i in 0..10_000u64 {
        let k = if i == 0 { 0 } else { next() % 4 };
        let deps: Vec<String> = (0..k).map(|_| format!("p{}", next() % i.max(1))).collect();
        let cond = if deps.is_empty() {
            "auto".to_string()
        } else {
            format!("after:{}", deps.join(","))
        };
        yaml.push_str(&format!(
            "  - name: p{i}\n    condition: '{cond}'\n    parallel: {}\n",
            next() % 2 == 0
        ));
    }
    let (_, plan) = timed(|| {
        let sc = parse_scenario("dag.yaml", &yaml).unwrap();
        let _ = validate_scenario("dag.yaml", &yaml, &sc, None, &Default::default());
        render_preview(&sc)
    });
    let floor_parse = timed(|| serde_yaml::from_str::<serde_yaml::Value>(&yaml).unwrap()).1;
    line(
        "validate + preview, 10,000-phase DAG",
        plan.as_secs_f64() * 1000.0,
        floor_parse.as_secs_f64() * 1000.0,
        "ms",
        "< 100 ms",
    );
}
