//! Appends per second with fsync on, on both stores: `WRITERS` threads, each with a connection
//! of its own, commit one event per transaction through `append_at_head` (what every command
//! does: catch up with what others appended, decide, append) to one hot run, and across 1,000
//! runs. SQLite runs with `durability: full` (synchronous=FULL: an fsync per commit);
//! PostgreSQL with its defaults (fsync on, synchronous_commit on).
//!
//! The floor of each row: the same writers committing a plain `INSERT` of the same columns per
//! transaction into a table with no key, no lock and no chain.
//!
//! Run with `cargo bench --bench appends`; the PostgreSQL rows need a database:
//! `CORTEX_TEST_PG=postgres://… cargo bench --bench appends` (a schema of its own is made and
//! dropped). Each figure is the best of `ROUNDS` (3) runs of `SECONDS` (3) seconds.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use cortex::definition::Durability;
use cortex::event::{Event, NewEvent};
use cortex::store::{EventStore, Location};

const WRITERS: usize = 8;
const RUNS: usize = 1_000;

fn seconds() -> Duration {
    Duration::from_secs_f64(
        std::env::var("SECONDS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(3.0),
    )
}

fn rounds() -> usize {
    std::env::var("ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3)
}

fn event(writer: usize, n: u64) -> NewEvent {
    NewEvent {
        id: format!("W{writer:02}E{n:012}"),
        time: "2026-12-03T00:00:00.000Z".into(),
        event: Event::OutputRecorded {
            step: "bench".into(),
            key: format!("k{n}"),
            value: "a value of about the size of a small output".into(),
        },
    }
}

/// Transactions per second of `WRITERS` threads, each running the work `make` gives it (one
/// transaction per call, given its call count) for `seconds()`; connecting is not measured.
fn rate<M, F>(make: M) -> f64
where
    M: Fn(usize) -> F + Sync,
    F: FnMut(u64),
{
    let stop = AtomicBool::new(false);
    let done = AtomicU64::new(0);
    let ready = std::sync::Barrier::new(WRITERS + 1);
    std::thread::scope(|scope| {
        for w in 0..WRITERS {
            let (make, stop, done, ready) = (&make, &stop, &done, &ready);
            scope.spawn(move || {
                let mut work = make(w);
                ready.wait();
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    work(n);
                    n += 1;
                    done.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
        ready.wait();
        let started = Instant::now();
        std::thread::sleep(seconds());
        stop.store(true, Ordering::Relaxed);
        let before = done.load(Ordering::Relaxed);
        before as f64 / started.elapsed().as_secs_f64()
    })
}

fn best(mut f: impl FnMut() -> f64) -> f64 {
    (0..rounds()).map(|_| f()).fold(0.0, f64::max)
}

/// cortex's appends to `location`: one hot run, or spread over `RUNS` runs.
fn cortex_rate(location: &Location, spread: bool, tag: &str) -> f64 {
    // The runs exist first (their first event), so that every measured append is one to a
    // run that has a head.
    let mut setup = location.open(Durability::Full).unwrap();
    let run = |i: usize| format!("{tag}-{i:04}");
    for i in 0..if spread { RUNS } else { 1 } {
        if setup.first_event(&run(i)).unwrap().is_none() {
            setup.append(&run(i), 0, &[event(99, i as u64)]).unwrap();
        }
    }
    drop(setup);
    best(|| {
        rate(|w| {
            let mut store = location.open(Durability::Full).unwrap();
            let mut known = std::collections::HashMap::<String, u64>::new();
            let mut pick = (w as u64 + 1) * 7919;
            move |n| {
                pick = pick
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let id = run(if spread {
                    (pick >> 33) as usize % RUNS
                } else {
                    0
                });
                let k = known.get(&id).copied().unwrap_or(0);
                let mut new = Some(event(w, n));
                let at = store
                    .append_at_head(&id, k, &mut |_, _| new.take().into_iter().collect())
                    .unwrap();
                let head = at
                    .appended
                    .last()
                    .or(at.caught_up.last())
                    .map_or(k, |r| r.seq + 1);
                known.insert(id, head);
            }
        })
    })
}

/// The floor: plain inserts, one per transaction, no key, no lock, no chain.
fn sqlite_floor(path: &std::path::Path) -> f64 {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.execute_batch(
        "PRAGMA journal_mode = WAL; CREATE TABLE IF NOT EXISTS plain (run_id TEXT, seq INTEGER, id TEXT, time TEXT, type TEXT, version INTEGER, body TEXT, prev_hash BLOB, hash BLOB);",
    )
    .unwrap();
    best(|| {
        rate(|w| {
            let conn = rusqlite::Connection::open(path).unwrap();
            conn.busy_timeout(Duration::from_secs(10)).unwrap();
            conn.execute_batch("PRAGMA synchronous = FULL;").unwrap();
            move |n| {
                conn.execute_batch("BEGIN IMMEDIATE").unwrap();
                conn.execute(
                    "INSERT INTO plain VALUES (?1, ?2, ?3, 't', 'output_recorded', 1, ?4, zeroblob(32), zeroblob(32))",
                    rusqlite::params![format!("r{w}"), n as i64, format!("{w}-{n}"), "{\"step\":\"bench\"}"],
                )
                .unwrap();
                conn.execute_batch("COMMIT").unwrap();
            }
        })
    })
}

fn postgres_floor(url: &str) -> f64 {
    let mut c = postgres::Client::connect(url, postgres::NoTls).unwrap();
    c.batch_execute(
        "CREATE TABLE IF NOT EXISTS plain (run_id text, seq bigint, id text, \"time\" text, \"type\" text, version bigint, body text, prev_hash bytea, hash bytea)",
    )
    .unwrap();
    best(|| {
        rate(|w| {
            let mut c = postgres::Client::connect(url, postgres::NoTls).unwrap();
            let insert = c
                .prepare(
                    "INSERT INTO plain VALUES ($1, $2, $3, 't', 'output_recorded', 1, $4, $5, $5)",
                )
                .unwrap();
            let zero = vec![0u8; 32];
            move |n| {
                let mut tx = c.transaction().unwrap();
                tx.execute(
                    &insert,
                    &[
                        &format!("r{w}"),
                        &(n as i64),
                        &format!("{w}-{n}"),
                        &"{\"step\":\"bench\"}",
                        &zero,
                    ],
                )
                .unwrap();
                tx.commit().unwrap();
            }
        })
    })
}

fn line(name: &str, cortex: f64, floor: f64, target: &str) {
    println!("{name}|{cortex:.0}|{floor:.0}|transactions/s|{target}");
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = Location::Sqlite(dir.path().join("cortex.db"));
    let floor = sqlite_floor(&dir.path().join("floor.db"));
    line(
        &format!("appends, one hot run, {WRITERS} writers, SQLite fsync on"),
        cortex_rate(&sqlite, false, "hot"),
        floor,
        "≥ 250/s",
    );
    line(
        &format!("appends across {RUNS} runs, {WRITERS} writers, SQLite fsync on"),
        cortex_rate(&sqlite, true, "many"),
        floor,
        "≥ 1,400/s",
    );
    let Some(admin) = std::env::var("CORTEX_TEST_PG")
        .ok()
        .filter(|u| !u.is_empty())
    else {
        eprintln!("PostgreSQL rows skipped: set CORTEX_TEST_PG to a PostgreSQL URL");
        return;
    };
    let schema = format!("bench_{}", std::process::id());
    let mut c = postgres::Client::connect(&admin, postgres::NoTls).unwrap();
    c.batch_execute(&format!(
        "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"
    ))
    .unwrap();
    let sep = if admin.contains('?') { '&' } else { '?' };
    let url = format!("{admin}{sep}options=-csearch_path%3D{schema}");
    let pg = Location::Postgres(url.clone());
    let floor = postgres_floor(&url);
    line(
        &format!("appends, one hot run, {WRITERS} writers, PostgreSQL fsync on"),
        cortex_rate(&pg, false, "hot"),
        floor,
        "≥ 250/s",
    );
    line(
        &format!("appends across {RUNS} runs, {WRITERS} writers, PostgreSQL fsync on"),
        cortex_rate(&pg, true, "many"),
        floor,
        "≥ 1,400/s",
    );
    c.batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
        .unwrap();
}
