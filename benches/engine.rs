//! In-process figures of the engine, each against a floor measured in the same run:
//! appends (one transaction per transition, durability normal and full; one run and many),
//! replay and verification of a run of 1,000,000 events, status of that run, and planning a
//! 10,000-phase random DAG. Prints one line per figure: `name|cortex|floor|unit|target|spread`:
//! the medians of `ENGINE_ROUNDS` (default 5) samples of each, cortex and floor taken
//! alternately, and their spread (min–max). `ENGINE_SECTIONS` picks sections (`appends`,
//! `big`, `dag`; default all); `CORTEX_BENCH_KEEP_DB=PATH` keeps a copy of the 1M-event log
//! (before any snapshot of it) for `benches/run.sh` to run the real binary on.
//! Run with `cargo bench --bench engine` (or through `benches/run.sh`).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use cortex::decide::replay;
use cortex::definition::{Durability, parse_scenario};
use cortex::event::{Event, NewEvent};
use cortex::execute::{fold_log, load_state, maybe_snapshot, replay_verified};
use cortex::plan::parallel_opportunities;
use cortex::project::status_view;
use cortex::render::render_preview;
use cortex::store::{EventStore, SqliteStore, verify_rows};
use cortex::validate::validate_scenario;

/// The allocator the `cortex` binary uses (src/main.rs), so that these figures are the
/// binary's; the floors run with it too.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The run of a million events: a run id (`event::is_run_id`), as every run's is.
const BIG: &str = "00000000000000000000000B1G";

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

/// Let the allocator settle what the previous measurement freed (a million events at once)
/// before the next one is timed: glibc consolidates its freed chunks at the next request of a
/// few KiB, which would otherwise be charged to whatever comes next.
fn settle() {
    drop(std::hint::black_box(vec![0u8; 4096]));
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

/// Median, min and max of some samples.
fn stats(samples: &[f64]) -> (f64, f64, f64) {
    let mut v = samples.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let median = if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    };
    (median, v[0], v[n - 1])
}

/// One figure: the medians of cortex's and the floor's samples, and their spreads.
fn line(name: &str, cortex: &[f64], floor: &[f64], unit: &str, target: &str) {
    let (c, cmin, cmax) = stats(cortex);
    let (f, fmin, fmax) = stats(floor);
    let fmt = |x: f64| {
        if x >= 1000.0 {
            format!("{x:.0}")
        } else if x < 1.0 {
            format!("{x:.3}")
        } else {
            format!("{x:.1}")
        }
    };
    println!(
        "{name}|{}|{}|{unit}|{target}|{}–{}; {}–{}",
        fmt(c),
        fmt(f),
        fmt(cmin),
        fmt(cmax),
        fmt(fmin),
        fmt(fmax)
    );
}

fn rounds() -> usize {
    std::env::var("ENGINE_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5)
        .max(1)
}

fn section(name: &str) -> bool {
    std::env::var("ENGINE_SECTIONS").map_or(true, |s| s.split(',').any(|x| x == name))
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let rounds = rounds();
    if section("appends") {
        appends(dir.path(), rounds);
    }
    if section("big") {
        big(dir.path(), rounds);
    }
    if section("dag") {
        dag(rounds);
    }
}

/// Appends, one transition per transaction: one run (normal, full) and 500 runs.
fn appends(dir: &std::path::Path, rounds: usize) {
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
        let (mut cortex, mut floor) = (Vec::new(), Vec::new());
        for r in 0..rounds {
            let mut store =
                SqliteStore::open(&dir.join(format!("one-{tag}-{r}.db")), durability).unwrap();
            let (_, d) = timed(|| {
                for i in 0..n {
                    store.append("R", i, &[event(i)]).unwrap();
                }
            });
            let floor_conn =
                rusqlite::Connection::open(dir.join(format!("plain-{tag}-{r}.db"))).unwrap();
            sync_pragma(&floor_conn, durability);
            cortex.push(d);
            floor.push(plain_inserts(&floor_conn, n, 1));
        }
        let micros = |d: &[Duration]| -> Vec<f64> {
            d.iter().map(|d| d.as_micros() as f64 / n as f64).collect()
        };
        let rate =
            |d: &[Duration]| -> Vec<f64> { d.iter().map(|d| n as f64 / d.as_secs_f64()).collect() };
        line(
            &format!("commit latency, one transition per transaction ({tag})"),
            &micros(&cortex),
            &micros(&floor),
            "µs",
            "",
        );
        line(
            &format!("append throughput, one run ({tag})"),
            &rate(&cortex),
            &rate(&floor),
            "events/s",
            "",
        );
    }
    // Many runs: 500 runs of 20 events, each transition its own transaction.
    let (mut cortex, mut floor) = (Vec::new(), Vec::new());
    for r in 0..rounds {
        let mut store =
            SqliteStore::open(&dir.join(format!("many-{r}.db")), Durability::Normal).unwrap();
        let (_, d) = timed(|| {
            for run in 0..500 {
                for i in 0..20 {
                    store.append(&format!("R{run:04}"), i, &[event(i)]).unwrap();
                }
            }
        });
        let floor_conn =
            rusqlite::Connection::open(dir.join(format!("plain-many-{r}.db"))).unwrap();
        sync_pragma(&floor_conn, Durability::Normal);
        cortex.push(10_000.0 / d.as_secs_f64());
        floor.push(10_000.0 / plain_inserts(&floor_conn, 10_000, 1).as_secs_f64());
    }
    line(
        "append throughput, 500 runs",
        &cortex,
        &floor,
        "events/s",
        "",
    );
}

/// A run of 1,000,000 events: verification, replay and status.
fn big(dir: &std::path::Path, rounds: usize) {
    // Appended in batches of 1,000.
    let big = dir.join("big.db");
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
        secret_defaults: Vec::new(),
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
            BIG,
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
        store.append(BIG, seq, &batch).unwrap();
        seq += batch.len() as u64;
    }
    drop(store);
    if let Ok(keep) = std::env::var("CORTEX_BENCH_KEEP_DB") {
        std::fs::copy(&big, keep).unwrap();
    }
    let store = SqliteStore::open(&big, Durability::Normal).unwrap();
    let rate = |d: Duration| n as f64 / d.as_secs_f64();
    let (mut verify, mut verify_floor, mut replayed, mut folded, mut read_floor) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut streamed, mut step_floor, mut verified) = (Vec::new(), Vec::new(), Vec::new());
    // The floor of the streamed replay: stepping through the same rows and the same six
    // columns it reads, each borrowed where SQLite holds it (only their lengths are summed).
    let plain = rusqlite::Connection::open_with_flags(
        &big,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .unwrap();
    let step_columns = || {
        let mut stmt = plain
            .prepare_cached(
                "SELECT seq, time, type, version, body, hash FROM events
                 WHERE run_id = ?1 AND seq >= ?2 ORDER BY seq",
            )
            .unwrap();
        let mut rows = stmt.query(rusqlite::params![BIG, 0]).unwrap();
        let mut total = 0usize;
        while let Some(r) = rows.next().unwrap() {
            for i in 0..6 {
                total += match r.get_ref(i).unwrap() {
                    rusqlite::types::ValueRef::Text(b) | rusqlite::types::ValueRef::Blob(b) => {
                        b.len()
                    }
                    _ => 1,
                };
            }
        }
        total
    };
    for r in 0..rounds {
        // Alternately: the floors first in odd rounds.
        let floors = |read_floor: &mut Vec<f64>, verify_floor: &mut Vec<f64>| {
            settle();
            let (rows, read_raw) = timed(|| store.raw_rows(Some(BIG)).unwrap());
            let hash = timed(|| {
                let mut h = blake3::Hasher::new();
                for r in &rows {
                    h.update(&r.body);
                }
                h.finalize()
            })
            .1;
            read_floor.push(rate(read_raw));
            verify_floor.push(rate(read_raw + hash));
            rows
        };
        let rows = if r % 2 == 1 {
            Some(floors(&mut read_floor, &mut verify_floor))
        } else {
            None
        };
        // What `log verify` does: rows streamed through the verifier, borrowed, not copied.
        settle();
        let (report, v) = timed(|| store.verify(Some(BIG)).unwrap());
        assert!(report.ok && report.events == n);
        verify.push(rate(v));
        settle();
        let (events, read) = timed(|| store.read_run(BIG).unwrap());
        let (state, fold) = timed(|| replay(&events));
        drop(events);
        replayed.push(rate(read + fold));
        folded.push(rate(fold));
        // What every replay for the state does: rows folded as SQLite steps through them.
        let mut step = || {
            settle();
            step_floor.push(rate(timed(step_columns).1));
        };
        let stream = |streamed: &mut Vec<f64>| {
            settle();
            let (s, d) = timed(|| fold_log(&store, BIG, 0, Default::default()).unwrap());
            assert_eq!(s, state, "the streamed replay folds what read_run does");
            streamed.push(rate(d));
        };
        // What a driver's replay does (`Journal::open`): the same, verifying the chain as it goes.
        settle();
        let (s, d) = timed(|| replay_verified(&store, BIG).unwrap());
        assert_eq!(
            s.events, state.events,
            "the verified replay folds every event"
        );
        verified.push(rate(d));
        if r % 2 == 1 {
            step();
            stream(&mut streamed);
        } else {
            stream(&mut streamed);
            step();
        }
        let rows = rows.unwrap_or_else(|| floors(&mut read_floor, &mut verify_floor));
        if r == 0 {
            assert_eq!(
                verify_rows(&rows),
                report,
                "streamed and copied verification agree"
            );
        }
    }
    line(
        "log verify, 1M events (read + check)",
        &verify,
        &verify_floor,
        "events/s",
        "≥ 1,000,000 events/s",
    );
    line(
        "full replay through read_run, 1M events (read + decode into a Vec<Recorded> + fold)",
        &replayed,
        &read_floor,
        "events/s",
        "≥ 2,000,000 events/s",
    );
    line(
        "replay streamed, 1M events (step + decode + fold: every replay for the state)",
        &streamed,
        &step_floor,
        "events/s",
        "≥ 2,000,000 events/s",
    );
    line(
        "replay streamed and verified, 1M events (a driver's replay: step + hash + decode + fold)",
        &verified,
        &streamed,
        "events/s",
        "",
    );
    line(
        "replay streamed, against the copying floor (reading nine columns into buffers)",
        &streamed,
        &read_floor,
        "events/s",
        "≥ 2,000,000 events/s",
    );
    line(
        "fold only (evolve), 1M events",
        &folded,
        &read_floor,
        "events/s",
        "",
    );
    let mut store = store;
    let floor_status = timed(|| store.runs().unwrap()).1;
    settle();
    let (_, cold) = timed(|| {
        let state = load_state(&store, BIG).unwrap();
        maybe_snapshot(&mut store, &state);
        status_view(&state, false)
    });
    let mut warm = Vec::new();
    let mut floor_warm = Vec::new();
    for _ in 0..rounds {
        warm.push(timed(|| status_view(&load_state(&store, BIG).unwrap(), false)).1);
        floor_warm.push(timed(|| store.runs().unwrap()).1);
    }
    let ms = |d: &[Duration]| -> Vec<f64> { d.iter().map(|d| d.as_secs_f64() * 1000.0).collect() };
    line(
        "status of a 1M-event run, first time (replay, then snapshot)",
        &ms(&[cold]),
        &ms(&[floor_status]),
        "ms",
        "",
    );
    line(
        "status of a 1M-event run (from its snapshot)",
        &ms(&warm),
        &ms(&floor_warm),
        "ms",
        "< 50 ms",
    );
}

/// Planning a random DAG of 10,000 phases.
fn dag(rounds: usize) {
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
    let (mut plan, mut parse) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        let (_, d) = timed(|| {
            let sc = parse_scenario("dag.yaml", &yaml).unwrap();
            let _ = validate_scenario("dag.yaml", &yaml, &sc, None, &Default::default());
            // Under the default `max_parallel` (4), as `orchestrate preview` renders it.
            render_preview(
                &sc,
                &parallel_opportunities(&sc, 4),
                &cortex::plan::parallel_items(&sc, 4),
                &Default::default(),
            )
        });
        plan.push(d.as_secs_f64() * 1000.0);
        let floor = timed(|| serde_yaml::from_str::<serde_yaml::Value>(&yaml).unwrap()).1;
        parse.push(floor.as_secs_f64() * 1000.0);
    }
    line(
        "validate + preview, 10,000-phase DAG",
        &plan,
        &parse,
        "ms",
        "< 100 ms",
    );
}
