//! The PostgreSQL store against SQLite and against itself: the same seeded runs give
//! byte-identical logs on memory, SQLite and PostgreSQL; many processes appending to one run
//! keep one gapless chain; PostgreSQL restarted under a running scenario loses nothing; the
//! database refuses to change an event (trigger, and privileges for a team's role); a log of a
//! newer cortex is read, never written. Each test says it skipped where `CORTEX_TEST_PG` (and,
//! for a private cluster, `CORTEX_TEST_PG_BIN`) is not set; `.ci/run` always sets them.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::cluster::Cluster;
use common::{Env, pg_schema, test_pg};
use cortex::decide::{AgentCommand, AttemptReport, Command, StepStatus, replay};
use cortex::definition::{Durability, parse_workflow, snapshot};
use cortex::event::{AttemptEnd, Driver, Operator, RunKind, RunStarted};
use cortex::execute::{FixedClock, Journal, SequentialIds, fold_log};
use cortex::plan::{Next, next};
use cortex::store::{
    EventStore, MemoryStore, PG_SCHEMA_VERSION, PostgresStore, RunQuery, SqliteStore, StoreError,
};
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;

fn op() -> Operator {
    Operator {
        actor: "sim".into(),
        message: None,
    }
}

/// A seeded workflow: its steps' retries, failure policies and rollbacks, and how each
/// finished attempt of each step ends.
#[derive(Debug, Clone)]
struct Case {
    /// (retries, on_failure, has rollback) per step.
    steps: Vec<(u32, &'static str, bool)>,
    /// outcomes[step][k]: whether the k-th attempt of the step succeeds (true after).
    outcomes: Vec<Vec<bool>>,
    /// Hand activations of agents recorded in the registry stream.
    agents: Vec<String>,
}

fn case() -> impl Strategy<Value = Case> {
    let step = (
        0u32..3,
        prop_oneof![Just("pause"), Just("skip"), Just("abort"), Just("rollback")],
        any::<bool>(),
    );
    prop::collection::vec(step, 1..5).prop_flat_map(|steps| {
        let n = steps.len();
        (
            Just(steps),
            prop::collection::vec(prop::collection::vec(prop::bool::weighted(0.7), 0..4), n),
            prop::collection::vec("[a-z]{1,8}", 0..3),
        )
            .prop_map(|(steps, outcomes, agents)| Case {
                steps,
                outcomes,
                agents,
            })
    })
}

fn start_event(case: &Case) -> RunStarted {
    let mut y = String::from("name: sim\nsteps:\n");
    for (i, (retries, on_failure, rollback)) in case.steps.iter().enumerate() {
        y.push_str(&format!(
            "  - name: s{i}\n    run: 'echo «{i}» \"quoted\" \\\\ done'\n    retry: {{max_retry_attempts: {retries}, backoff: 0s}}\n    on_failure: {on_failure}\n"
        ));
        if *rollback {
            y.push_str(&format!("    rollback: undo-s{i}\n"));
        }
    }
    let wf = parse_workflow("sim.yaml", &y).expect("generated workflows parse");
    let (definition, definition_hash) = snapshot(&wf);
    RunStarted {
        working_dir: "/ünïcode path".into(),
        driver: Driver {
            pid: 7,
            host: "sim".into(),
        },
        ..common::run_started(
            RunKind::Workflow,
            &wf.name,
            (definition, definition_hash),
            "sim.yaml",
            op(),
        )
    }
}

/// Drive `run_id` to its end as the driver would (an attempt's end staged and appended with
/// the next command), with scripted outcomes; then record the hand activations.
fn simulate(store: &mut dyn EventStore, case: &Case, run_id: &str, clock_start: u64) {
    let clock = FixedClock::new(clock_start);
    let mut ids = SequentialIds::default();
    {
        let mut journal = Journal::open(store, &clock, &mut ids, run_id).unwrap();
        journal
            .submit(Command::Start(Box::new(start_event(case))))
            .unwrap();
        let mut finished: BTreeMap<usize, usize> = BTreeMap::new();
        loop {
            let action = next(&journal.state);
            if !matches!(action, Next::Attempt { .. }) {
                journal.flush().unwrap();
            }
            let command = match action {
                Next::PreValidate => Command::RecordPreValidation { problems: vec![] },
                Next::PostValidate => Command::RecordPostValidation { problems: vec![] },
                Next::Attempt { index, .. } => {
                    let name = journal.state.steps[index].name.clone();
                    journal
                        .submit(Command::StartAttempt { step: name.clone() })
                        .unwrap();
                    let k = finished.entry(index).or_default();
                    let success = case.outcomes[index].get(*k).copied().unwrap_or(true);
                    *k += 1;
                    let attempt = journal.state.steps[index].attempts;
                    journal
                        .stage(Command::FinishAttempt(Box::new(AttemptReport {
                            step: name.clone(),
                            attempt,
                            end: AttemptEnd::Exited {
                                code: if success { 0 } else { 1 },
                            },
                            outputs: if success {
                                vec![("done".into(), format!("{name} ✓ \u{1b}[0m"))]
                            } else {
                                vec![]
                            },
                            output_tail: format!("line «{k}»\n\ttab\u{0}nul"),
                            validation_problems: vec![],
                            by: None,
                            agent: None,
                            log: None,
                            permanent: false,
                        })))
                        .unwrap();
                    continue;
                }
                Next::Compensate { index } => Command::RecordCompensation {
                    step: journal.state.steps[index].name.clone(),
                    end: case.steps[index]
                        .2
                        .then_some(AttemptEnd::Exited { code: 0 }),
                    output_tail: String::new(),
                },
                _ => break,
            };
            journal.submit(command).unwrap();
        }
        journal.flush().unwrap();
        assert_ne!(journal.state.steps[0].status, StepStatus::Running);
    }
    // The registry is one stream for the whole log: each activation names an agent of this
    // run alone (an agent active already is refused, and cases may draw the same name).
    for (k, agent) in case.agents.iter().enumerate() {
        Journal::record_registry(
            store,
            &clock,
            &mut ids,
            AgentCommand::Activate {
                agent: format!("{agent}-{run_id}-{k}"),
                by: op(),
            },
        )
        .unwrap();
    }
}

/// Everything a store says about its log: every row's bytes, the runs with their heads, the
/// run index, and the verdict of verification.
fn everything(store: &dyn EventStore) -> String {
    let rows = store.raw_rows(None).unwrap();
    let heads: Vec<_> = store
        .runs()
        .unwrap()
        .into_iter()
        .map(|h| (h.run_id, h.events, h.head_hash))
        .collect();
    let listed = store.list_runs(&RunQuery::default()).unwrap();
    let report = store.verify(None).unwrap();
    assert!(report.ok, "{report:?}");
    format!("{rows:?}\n{heads:?}\n{listed:?}\n{report:?}")
}

/// Every stream of `store` (its runs, the agent registry) replayed as a stream
/// (`execute::fold_log`) folds exactly what `read_run` does, from its start and from every seq
/// on top of the fold of the events before it.
fn streams_as_read(store: &dyn EventStore) {
    for head in store.runs().unwrap() {
        let events = store.read_run(&head.run_id).unwrap();
        let full = replay(&events);
        for k in 0..=events.len() {
            let base = replay(&events[..k]);
            let streamed = fold_log(store, &head.run_id, k as u64, base).unwrap();
            assert_eq!(streamed, full, "{} from seq {k}", head.run_id);
        }
    }
}

/// The test database for the differential property (looked up, and a skip said, once).
fn differential_pg() -> Option<String> {
    static URL: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    URL.get_or_init(|| test_pg("the_same_seeded_runs_give_byte_identical_logs_on_every_store"))
        .clone()
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 24,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "proptest-regressions/postgres.txt",
        ))),
        ..ProptestConfig::default()
    })]

    /// Property: the same seeded runs (injected clock and ids), appended through the journal
    /// to memory, to SQLite and to PostgreSQL, give byte-identical logs — every column of
    /// every row, hence the same hashes — and the same runs, run index and verification.
    #[test]
    fn the_same_seeded_runs_give_byte_identical_logs_on_every_store(
        cases in prop::collection::vec(case(), 1..3),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let mut memory = MemoryStore::new();
        let mut sqlite = SqliteStore::open(&dir.path().join("cortex.db"), Durability::Normal).unwrap();
        let schema = differential_pg().map(|url| pg_schema(&url));
        let mut postgres = schema
            .as_ref()
            .map(|s| PostgresStore::open(&s.url, Durability::Normal).unwrap());
        for (i, case) in cases.iter().enumerate() {
            let run_id = format!("01J{i:023}");
            let start = 1_800_000_000_000 + i as u64 * 3_600_000;
            simulate(&mut memory, case, &run_id, start);
            simulate(&mut sqlite, case, &run_id, start);
            if let Some(pg) = postgres.as_mut() {
                simulate(pg, case, &run_id, start);
            }
        }
        let reference = everything(&memory);
        prop_assert_eq!(&everything(&sqlite), &reference);
        streams_as_read(&memory);
        streams_as_read(&sqlite);
        if let Some(pg) = &postgres {
            prop_assert_eq!(&everything(pg), &reference);
            prop_assert_eq!(pg.index_rows().unwrap(), sqlite.index_rows().unwrap());
            streams_as_read(pg);
        }
    }
}

/// A fresh schema of the test database (None, after saying so, without one).
fn fresh(test: &str) -> Option<common::PgSchema> {
    test_pg(test).map(|url| pg_schema(&url))
}

/// A SQLite log in `dir` and the PostgreSQL log in `schema`, to give both the same calls.
fn both_stores(dir: &std::path::Path, schema: &common::PgSchema) -> Vec<Box<dyn EventStore>> {
    vec![
        Box::new(SqliteStore::open(&dir.join("cortex.db"), Durability::Normal).unwrap()),
        Box::new(PostgresStore::open(&schema.url, Durability::Normal).unwrap()),
    ]
}

/// Eight processes recording operator facts on one run at once (each an append decided at
/// the head, through the real binary): every fact lands exactly once, the chain is gapless
/// and verifies, and nobody was refused.
#[test]
fn eight_processes_appending_to_one_run_at_once_keep_one_gapless_chain() {
    let Some(env) =
        Env::postgres("eight_processes_appending_to_one_run_at_once_keep_one_gapless_chain")
    else {
        return;
    };
    const PROCESSES: usize = 8;
    const EACH: usize = 6;
    let mut yaml = String::from("name: crowd\ndescription: many hands\nphases:\n");
    for p in 0..PROCESSES * EACH {
        yaml.push_str(&format!(
            "  - {{name: p{p}, condition: manual, run: 'true'}}\n"
        ));
    }
    std::fs::create_dir_all(env.home().join("scenarios")).unwrap();
    std::fs::write(env.home().join("scenarios/crowd.yaml"), yaml).unwrap();
    let out = env.run(&["--json", "orchestrate", "run", "crowd"]);
    assert_eq!(out.code, 3, "waits on its manual phases: {}", out.stderr);
    let run_id = out.json()["run_id"].as_str().unwrap().to_string();
    let before = env.run(&["log", "export", &run_id]).stdout.lines().count();
    let workers: Vec<_> = (0..PROCESSES)
        .map(|w| {
            let cmds: Vec<_> = (0..EACH)
                .map(|k| {
                    let phase = format!("p{}", w * EACH + k);
                    env.command(&["orchestrate", "start", &run_id, &phase, "--no-drive"])
                })
                .collect();
            std::thread::spawn(move || {
                cmds.into_iter()
                    .map(|mut c| c.output().unwrap())
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    for worker in workers {
        for out in worker.join().unwrap() {
            // Recorded (exit 3 while the run waits for a driver, or 0).
            assert!(
                matches!(out.status.code(), Some(0 | 3)),
                "{:?}: {}",
                out.status.code(),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    let events: Vec<serde_json::Value> = env
        .run(&["log", "export", &run_id])
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events.len(), before + PROCESSES * EACH);
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e["seq"], i as u64, "gapless");
    }
    let mut requested: Vec<String> = events
        .iter()
        .filter(|e| e["type"] == "phase_start_requested")
        .map(|e| e["body"]["phase"].as_str().unwrap_or_default().to_string())
        .collect();
    requested.sort();
    requested.dedup();
    assert_eq!(requested.len(), PROCESSES * EACH, "each fact exactly once");
    let verify = env.run(&["--json", "log", "verify", "--all"]).json();
    assert_eq!(verify["ok"], true, "{verify}");
}

/// Many processes opening a fresh schema at once, round after round: every one opens it
/// while another creates the tables (none takes cortex's own half-made tables for another
/// application's: the CI run that found it saw "holds tables named as cortex's ... that are
/// not a cortex event log" from one of twelve first users).
#[test]
fn first_openers_racing_a_migration_never_take_its_tables_for_foreign() {
    let Some(url) = test_pg("first_openers_racing_a_migration_never_take_its_tables_for_foreign")
    else {
        return;
    };
    for _round in 0..12 {
        let schema = pg_schema(&url);
        let openers: Vec<_> = (0..10)
            .map(|_| {
                let url = schema.url.clone();
                std::thread::spawn(move || {
                    PostgresStore::open(&url, Durability::Normal).map(|_| ())
                })
            })
            .collect();
        for opener in openers {
            let opened = opener.join().unwrap();
            assert!(opened.is_ok(), "{opened:?}");
        }
    }
}

/// Many writers racing for the first event of one run (the row each append locks does not
/// exist yet): exactly one lands at seq 0, the others are told the run moved on; none fails
/// otherwise.
#[test]
fn first_appends_racing_for_a_new_run_land_once() {
    let Some(schema) = fresh("first_appends_racing_for_a_new_run_land_once") else {
        return;
    };
    PostgresStore::open(&schema.url, Durability::Normal).unwrap();
    let racers: Vec<_> = (0..8)
        .map(|i| {
            let url = schema.url.clone();
            std::thread::spawn(move || {
                let mut store = PostgresStore::open(&url, Durability::Normal).unwrap();
                let event = cortex::event::NewEvent {
                    id: format!("E{i}"),
                    time: "2026-12-03T00:00:00.000Z".into(),
                    event: cortex::event::Event::RunStopped { time_limit: None },
                };
                store.append("0000000000000000000000000R", 0, &[event])
            })
        })
        .collect();
    let results: Vec<_> = racers.into_iter().map(|t| t.join().unwrap()).collect();
    let landed = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(landed, 1, "{results:?}");
    assert!(
        results
            .iter()
            .all(|r| matches!(r, Ok(_) | Err(StoreError::Conflict { actual: 1, .. }))),
        "{results:?}"
    );
    let store = PostgresStore::open_read(&schema.url).unwrap();
    assert_eq!(
        store.read_run("0000000000000000000000000R").unwrap().len(),
        1
    );
    assert!(store.verify(None).unwrap().ok);
}

/// The database itself refuses to change or remove an event, even for its owner, until the
/// trigger is deliberately disabled (and then `log verify` finds the change: tests/tamper.rs).
#[test]
fn the_database_refuses_to_change_or_delete_an_event() {
    let Some(env) = Env::postgres("the_database_refuses_to_change_or_delete_an_event") else {
        return;
    };
    env.workflow("one", "name: one\nsteps:\n  - {name: a, run: 'true'}\n");
    assert_eq!(env.run(&["workflow", "run", "one"]).code, 0);
    let url = &env.pg.as_ref().unwrap().url;
    let mut c = postgres::Client::connect(url, postgres::NoTls).unwrap();
    for change in [
        "UPDATE events SET body = body || ' '",
        "DELETE FROM events",
        "TRUNCATE events",
    ] {
        let e = c.batch_execute(change).unwrap_err();
        assert!(
            e.as_db_error()
                .is_some_and(|d| d.message().contains("append-only")),
            "{change}: {e}"
        );
    }
}

/// A team's setup as DESIGN.md gives it: the owner creates the tables (`log copy` of an empty
/// home); the everyday role, granted SELECT and INSERT on events only, runs workflows and
/// verifies, and may not change an event — refused by privileges before any trigger.
#[test]
fn a_role_granted_select_and_insert_runs_everything_but_cannot_change_an_event() {
    let Some(env) = Env::postgres(
        "a_role_granted_select_and_insert_runs_everything_but_cannot_change_an_event",
    ) else {
        return;
    };
    let pg = env.pg.as_ref().unwrap();
    // Copying an empty home's log (none) sets the database up.
    let setup = env
        .command(&["log", "copy", "--to", &pg.url])
        .env_remove("CORTEX_DB")
        .output()
        .unwrap();
    assert_eq!(
        setup.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&setup.stderr)
    );
    let role = format!("r_{}", pg.name);
    let mut owner = postgres::Client::connect(&pg.url, postgres::NoTls).unwrap();
    owner
        .batch_execute(&format!(
            "CREATE ROLE {role} LOGIN;
             GRANT USAGE ON SCHEMA {s} TO {role};
             GRANT SELECT, INSERT ON events TO {role};
             GRANT SELECT, INSERT, UPDATE ON runs, snapshots TO {role};
             GRANT SELECT, INSERT, UPDATE, DELETE ON leases TO {role};
             GRANT SELECT, INSERT, DELETE ON attempt_output TO {role};
             GRANT SELECT ON schema_version TO {role};",
            s = pg.name
        ))
        .unwrap();
    struct DropRole(String, String);
    impl Drop for DropRole {
        fn drop(&mut self) {
            if let Ok(mut c) = postgres::Client::connect(&self.1, postgres::NoTls) {
                let _ = c.batch_execute(&format!("DROP OWNED BY {0}; DROP ROLE {0}", self.0));
            }
        }
    }
    let _cleanup = DropRole(role.clone(), pg.url.clone());
    let as_role = pg
        .url
        .replacen("postgres://postgres@", &format!("postgres://{role}@"), 1);
    assert_ne!(as_role, pg.url, "the test URL names its user: {}", pg.url);
    env.workflow("one", "name: one\nsteps:\n  - {name: a, run: 'echo a'}\n");
    let run = env
        .command(&["workflow", "run", "one"])
        .env("CORTEX_DB", &as_role)
        .output()
        .unwrap();
    assert_eq!(
        run.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let verify = env
        .command(&["--json", "log", "verify", "--all"])
        .env("CORTEX_DB", &as_role)
        .output()
        .unwrap();
    assert_eq!(verify.status.code(), Some(0));
    let mut everyday = postgres::Client::connect(&as_role, postgres::NoTls).unwrap();
    for change in ["UPDATE events SET body = body", "DELETE FROM events"] {
        let e = everyday.batch_execute(change).unwrap_err();
        assert_eq!(
            e.code(),
            Some(&postgres::error::SqlState::INSUFFICIENT_PRIVILEGE),
            "{change}: {e}"
        );
        assert!(
            e.as_db_error()
                .is_some_and(|d| d.message().contains("permission denied")),
            "refused by privileges: {e}"
        );
    }
}

/// A role granted everything but DELETE on `leases`: a command that writes is refused when it
/// opens the log, naming the missing grant (as for a missing grant on `events`), and nothing
/// is recorded. Before, the driver could not let its lease go and said nothing; a later
/// report then answered exit 4, "driven by" a process that was dead.
#[test]
fn a_role_without_delete_on_leases_is_told_the_missing_grant_when_it_opens_the_log() {
    let Some(env) = Env::postgres(
        "a_role_without_delete_on_leases_is_told_the_missing_grant_when_it_opens_the_log",
    ) else {
        return;
    };
    let pg = env.pg.as_ref().unwrap();
    let setup = env
        .command(&["log", "copy", "--to", &pg.url])
        .env_remove("CORTEX_DB")
        .output()
        .unwrap();
    assert_eq!(setup.status.code(), Some(0));
    let role = format!("d_{}", pg.name);
    let mut owner = postgres::Client::connect(&pg.url, postgres::NoTls).unwrap();
    owner
        .batch_execute(&format!(
            "CREATE ROLE {role} LOGIN;
             GRANT USAGE ON SCHEMA {s} TO {role};
             GRANT SELECT, INSERT ON events TO {role};
             GRANT SELECT, INSERT, UPDATE ON runs, snapshots TO {role};
             GRANT SELECT, INSERT, UPDATE ON leases TO {role};
             GRANT SELECT ON schema_version TO {role};",
            s = pg.name
        ))
        .unwrap();
    struct DropRole(String, String);
    impl Drop for DropRole {
        fn drop(&mut self) {
            if let Ok(mut c) = postgres::Client::connect(&self.1, postgres::NoTls) {
                let _ = c.batch_execute(&format!("DROP OWNED BY {0}; DROP ROLE {0}", self.0));
            }
        }
    }
    let _cleanup = DropRole(role.clone(), pg.url.clone());
    let as_role = pg
        .url
        .replacen("postgres://postgres@", &format!("postgres://{role}@"), 1);
    env.workflow("one", "name: one\nsteps:\n  - {name: a, run: 'echo a'}\n");
    let run = env
        .command(&["workflow", "run", "one"])
        .env("CORTEX_DB", &as_role)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("lacks DELETE on table leases"), "{stderr}");
    // Reading still works.
    let verify = env
        .command(&["--json", "log", "verify", "--all"])
        .env("CORTEX_DB", &as_role)
        .output()
        .unwrap();
    assert_eq!(verify.status.code(), Some(0));
    let runs: i64 = owner
        .query_one("SELECT count(*) FROM runs WHERE kind IS NOT NULL", &[])
        .unwrap()
        .get(0);
    assert_eq!(runs, 0, "nothing recorded");
}

/// A database written by a newer cortex (a higher schema version) is read — status, verify —
/// and never written: a command that would write says so, and names the versions.
#[test]
fn a_database_of_a_newer_cortex_is_read_never_written() {
    let Some(env) = Env::postgres("a_database_of_a_newer_cortex_is_read_never_written") else {
        return;
    };
    env.workflow("one", "name: one\nsteps:\n  - {name: a, run: 'true'}\n");
    assert_eq!(env.run(&["workflow", "run", "one"]).code, 0);
    let url = &env.pg.as_ref().unwrap().url;
    let mut c = postgres::Client::connect(url, postgres::NoTls).unwrap();
    c.execute(
        "INSERT INTO schema_version (version) VALUES ($1)",
        &[&(PG_SCHEMA_VERSION + 1)],
    )
    .unwrap();
    let refused = env.run(&["workflow", "run", "one"]);
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("newer cortex")
            && refused
                .stderr
                .contains(&format!("schema version {}", PG_SCHEMA_VERSION + 1)),
        "{}",
        refused.stderr
    );
    assert_eq!(env.run(&["--json", "log", "verify"]).json()["ok"], true);
    assert_eq!(env.status(None)["status"], "completed");
    let n: i64 = c
        .query_one("SELECT count(*) FROM runs", &[])
        .unwrap()
        .get(0);
    assert_eq!(n, 1, "nothing was written");
}

/// A database whose tables named as cortex's are another application's (`events`, `runs`):
/// every command — reading or writing — is refused as bad input (exit 2) saying so and how to
/// give cortex a database or schema of its own, and nothing of that database is touched.
/// Before, reading failed on "column run_id does not exist" and writing on "relation events
/// already exists", exit 1, with no hint.
#[test]
fn a_database_holding_another_applications_tables_is_refused_and_left_alone() {
    let Some(env) =
        Env::postgres("a_database_holding_another_applications_tables_is_refused_and_left_alone")
    else {
        return;
    };
    let url = &env.pg.as_ref().unwrap().url;
    let mut c = postgres::Client::connect(url, postgres::NoTls).unwrap();
    c.batch_execute(
        "CREATE TABLE events (id serial PRIMARY KEY, name text);
         INSERT INTO events (name) VALUES ('signup');
         CREATE TABLE runs (id int);",
    )
    .unwrap();
    env.workflow("one", "name: one\nsteps:\n  - {name: a, run: 'true'}\n");
    for args in [
        &["workflow", "status"][..],
        &["log", "verify"],
        &["workflow", "run", "one"],
        &["workflow", "run", "one", "--submit"],
    ] {
        let out = env.run(args);
        assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
        assert!(
            out.stderr.contains("(events, runs)")
                && out.stderr.contains("not a cortex event log")
                && out
                    .stderr
                    .contains("hint: give cortex a database of its own"),
            "{args:?}: {}",
            out.stderr
        );
    }
    let tables: Vec<String> = c
        .query(
            "SELECT table_name::text FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY 1",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(tables, ["events", "runs"], "nothing was created");
    let rows: i64 = c
        .query_one("SELECT count(*) FROM events", &[])
        .unwrap()
        .get(0);
    assert_eq!(rows, 1, "nothing was written");
}

/// A database whose cortex tables were dropped (events, runs, snapshots, leases,
/// schema_version) but not the append-only trigger function: reading says there are no runs,
/// and the next write sets the tables up again, append-only as before. Before, every write
/// failed on "function cortex_events_append_only already exists with same argument types".
#[test]
fn tables_dropped_but_their_trigger_function_left_are_set_up_again() {
    let Some(env) =
        Env::postgres("tables_dropped_but_their_trigger_function_left_are_set_up_again")
    else {
        return;
    };
    env.workflow("one", "name: one\nsteps:\n  - {name: a, run: 'true'}\n");
    assert_eq!(env.run(&["workflow", "run", "one"]).code, 0);
    let url = &env.pg.as_ref().unwrap().url;
    let mut c = postgres::Client::connect(url, postgres::NoTls).unwrap();
    c.batch_execute("DROP TABLE events, runs, snapshots, leases, schema_version")
        .unwrap();
    let left: bool = c
        .query_one(
            "SELECT to_regprocedure('cortex_events_append_only()') IS NOT NULL",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(left, "the function outlives the tables");
    let read = env.run(&["workflow", "status"]);
    assert!(
        read.stderr.contains("no workflow runs yet"),
        "{}",
        read.stderr
    );
    let again = env.run(&["workflow", "run", "one"]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(env.status(None)["status"], "completed");
    assert_eq!(env.run(&["--json", "log", "verify"]).json()["ok"], true);
    let refused = c.batch_execute("DELETE FROM events").unwrap_err();
    assert!(
        refused
            .as_db_error()
            .is_some_and(|d| d.message().contains("append-only")),
        "the trigger is back: {refused}"
    );
}

/// A team's everyday role (it may read and append, not create or alter tables) on a database
/// an older cortex set up: a command that writes says the tables need upgrading by the role
/// that owns them (which versions, and how), exit 1, and reading still works; once the owner
/// has run `log copy` of an empty home as DESIGN.md says, the everyday role works. Before, it
/// said only "permission denied for schema …".
#[test]
fn an_everyday_role_on_an_older_schema_is_told_the_owner_must_upgrade_it() {
    let Some(env) =
        Env::postgres("an_everyday_role_on_an_older_schema_is_told_the_owner_must_upgrade_it")
    else {
        return;
    };
    let pg = env.pg.as_ref().unwrap();
    let owner_setup = |env: &Env| {
        let out = env
            .command(&["log", "copy", "--to", &pg.url])
            .env_remove("CORTEX_DB")
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    owner_setup(&env);
    env.workflow("one", "name: one\nsteps:\n  - {name: a, run: 'echo a'}\n");
    assert_eq!(env.run(&["workflow", "run", "one"]).code, 0);
    // As the first version of the schema left it: no leases yet.
    let role = format!("r_{}", pg.name);
    let mut owner = postgres::Client::connect(&pg.url, postgres::NoTls).unwrap();
    owner
        .batch_execute(&format!(
            "DROP TABLE leases;
             DELETE FROM schema_version WHERE version > 1;
             CREATE ROLE {role} LOGIN;
             GRANT USAGE ON SCHEMA {s} TO {role};
             GRANT SELECT, INSERT ON events TO {role};
             GRANT SELECT, INSERT, UPDATE ON runs, snapshots TO {role};
             GRANT SELECT ON schema_version TO {role};",
            s = pg.name
        ))
        .unwrap();
    struct DropRole(String, String);
    impl Drop for DropRole {
        fn drop(&mut self) {
            if let Ok(mut c) = postgres::Client::connect(&self.1, postgres::NoTls) {
                let _ = c.batch_execute(&format!("DROP OWNED BY {0}; DROP ROLE {0}", self.0));
            }
        }
    }
    let _cleanup = DropRole(role.clone(), pg.url.clone());
    let as_role = pg
        .url
        .replacen("postgres://postgres@", &format!("postgres://{role}@"), 1);
    assert_ne!(as_role, pg.url, "the test URL names its user: {}", pg.url);
    let everyday = |args: &[&str]| {
        let out = env
            .command(args)
            .env("CORTEX_DB", &as_role)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, stderr) = everyday(&["workflow", "run", "one"]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains("needs its tables upgraded (schema version 1, this cortex writes")
            && stderr.contains("only the role that owns them")
            && stderr.contains("log copy --to"),
        "{stderr}"
    );
    assert_eq!(
        everyday(&["log", "verify"]).0,
        Some(0),
        "reading still works"
    );
    owner_setup(&env);
    owner
        .batch_execute(&format!(
            "GRANT SELECT, INSERT, UPDATE, DELETE ON leases TO {role}"
        ))
        .unwrap();
    let (code, stderr) = everyday(&["workflow", "run", "one"]);
    assert_eq!(code, Some(0), "{stderr}");
}

/// Opening for reading never creates anything, and the store refuses writes with the reason.
#[test]
fn reading_an_empty_database_creates_nothing_and_a_reading_store_refuses_writes() {
    let Some(schema) =
        fresh("reading_an_empty_database_creates_nothing_and_a_reading_store_refuses_writes")
    else {
        return;
    };
    assert!(matches!(
        PostgresStore::open_read(&schema.url),
        Err(StoreError::NotALog { blank: true, .. })
    ));
    assert!(PostgresStore::open_existing(&schema.url).unwrap().is_none());
    let mut c = postgres::Client::connect(&schema.url, postgres::NoTls).unwrap();
    let tables: i64 = c
        .query_one(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = $1",
            &[&schema.name],
        )
        .unwrap()
        .get(0);
    assert_eq!(tables, 0, "reading created nothing");
    PostgresStore::open(&schema.url, Durability::Full).unwrap();
    let mut reader = PostgresStore::open_read(&schema.url).unwrap();
    let event = cortex::event::NewEvent {
        id: "E".into(),
        time: "t".into(),
        event: cortex::event::Event::RunStopped { time_limit: None },
    };
    assert!(matches!(
        reader.append("0000000000000000000000000R", 0, &[event]),
        Err(StoreError::ReadOnly(_))
    ));
}

/// PostgreSQL restarted (`pg_ctl restart -m immediate`: its processes killed, crash recovery
/// on start) while a scenario runs: nothing recorded before is lost, the driver reconnects
/// (or fails saying the log cannot be reached, and `resume` finishes), each phase completes
/// once, and the log verifies.
#[test]
fn postgres_restarted_mid_run_loses_nothing_and_the_run_finishes() {
    let Some(cluster) =
        Cluster::start("postgres_restarted_mid_run_loses_nothing_and_the_run_finishes")
    else {
        return;
    };
    let env = Env::new();
    let url = cluster.url();
    env.scenario("slow", "name: slow\ndescription: three slow phases\nphases:\n  - {name: a, run: 'touch a.started; sleep 2'}\n  - {name: b, condition: 'after:a', run: 'sleep 1'}\n  - {name: c, condition: 'after:b', run: 'sleep 1'}\n");
    let driver = env
        .command(&["orchestrate", "run", "slow"])
        .env("CORTEX_DB", &url)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    common::wait_within("phase a to start", Duration::from_secs(30), || {
        env.file("a.started").exists()
    });
    let export = |env: &Env| -> Vec<String> {
        let out = env
            .command(&["log", "export"])
            .env("CORTEX_DB", &url)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect()
    };
    let before = export(&env);
    assert!(!before.is_empty());
    let restart = cluster.pg_ctl(&["-m", "immediate", "restart"]);
    assert!(
        restart.status.success(),
        "{}",
        String::from_utf8_lossy(&restart.stderr)
    );
    let out = driver.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    match out.status.code() {
        Some(0) => eprintln!("the driver reconnected and finished the run"),
        Some(1) => {
            eprintln!("the driver failed clearly ({stderr}); resume finishes the run");
            // Failing is allowed only clearly, and then resume finishes the run.
            assert!(stderr.contains("cannot be reached"), "{stderr}");
            // Its hint names this run's resume, not a placeholder.
            assert!(
                stderr.contains("orchestrate resume 0") && !stderr.contains("RUN"),
                "{stderr}"
            );
            let resumed = env
                .command(&["orchestrate", "resume", "slow"])
                .env("CORTEX_DB", &url)
                .output()
                .unwrap();
            assert_eq!(
                resumed.status.code(),
                Some(0),
                "{}",
                String::from_utf8_lossy(&resumed.stderr)
            );
        }
        other => panic!("the driver ended with {other:?}: {stderr}"),
    }
    let after = export(&env);
    assert_eq!(
        &after[..before.len()],
        &before[..],
        "nothing recorded was lost"
    );
    let events: Vec<serde_json::Value> = after
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    for phase in ["a", "b", "c"] {
        let done = events
            .iter()
            .filter(|e| e["type"] == "step_succeeded" && e["body"]["step"] == phase)
            .count();
        assert_eq!(done, 1, "phase {phase} completed once");
    }
    let verify = env
        .command(&["--json", "log", "verify", "--all"])
        .env("CORTEX_DB", &url)
        .output()
        .unwrap();
    assert_eq!(verify.status.code(), Some(0));
}

/// A worker outlives an outage of its database longer than a connection's patience (a
/// PostgreSQL upgrade, a failover, the network cut): it says once that the log cannot be
/// reached and keeps trying, and when the server is back it says so and takes a run
/// submitted then, through notifications heard on a connection made again. Before, every
/// worker of a team exited (exit 1) about 30 s into an outage, and one that lived through a
/// shorter one polled for the rest of its life, its LISTEN connection never made again.
#[test]
fn a_worker_waits_out_a_database_outage_and_takes_work_again() {
    use std::io::BufRead;
    let Some(cluster) = Cluster::start("a_worker_waits_out_a_database_outage_and_takes_work_again")
    else {
        return;
    };
    let env = Env::new();
    let url = cluster.url();
    env.scenario(
        "one",
        "name: one\ndescription: one phase\nphases:\n  - {name: a, run: 'echo a'}\n",
    );
    let mut worker = env
        .command(&["worker", "--name", "steady", "--poll", "100ms"])
        .env("CORTEX_DB", &url)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let said = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let out = worker.stdout.take().unwrap();
    let sink = said.clone();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
            let mut all = sink.lock().unwrap();
            all.push_str(&line);
            all.push('\n');
        }
    });
    let mut worker = Kill(worker);
    let heard = |text: &str| said.lock().unwrap().contains(text);
    common::wait_within("the worker to start", Duration::from_secs(60), || {
        heard("takes work from")
    });
    let stop = cluster.pg_ctl(&["-m", "fast", "stop"]);
    assert!(
        stop.status.success(),
        "{}",
        String::from_utf8_lossy(&stop.stderr)
    );
    common::wait_within(
        "the worker to say the log cannot be reached",
        Duration::from_secs(180),
        || heard("cannot be reached") || !matches!(worker.0.try_wait(), Ok(None)),
    );
    assert!(
        matches!(worker.0.try_wait(), Ok(None)),
        "the worker ended in the outage: {}",
        said.lock().unwrap()
    );
    let start = cluster.pg_ctl(&["start"]);
    assert!(
        start.status.success(),
        "{}",
        String::from_utf8_lossy(&start.stderr)
    );
    let submitted = env
        .command(&["orchestrate", "run", "one", "--submit"])
        .env("CORTEX_DB", &url)
        .output()
        .unwrap();
    assert_eq!(submitted.status.code(), Some(0));
    let run = String::from_utf8_lossy(&submitted.stdout)
        .trim()
        .to_string();
    common::wait_within(
        "the run to be driven to its end",
        Duration::from_secs(120),
        || {
            let status = env
                .command(&["--json", "orchestrate", "status", &run])
                .env("CORTEX_DB", &url)
                .output()
                .unwrap();
            serde_json::from_slice::<serde_json::Value>(&status.stdout)
                .is_ok_and(|doc| doc["status"] == "completed")
        },
    );
    assert!(heard("answers again"), "{}", said.lock().unwrap());
    drains(&mut worker.0);
}

/// SIGTERM to a worker, and it drains and exits (at most a minute).
fn drains(worker: &mut std::process::Child) {
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(worker.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    common::wait_within("the worker to drain", Duration::from_secs(60), || {
        matches!(worker.try_wait(), Ok(Some(_)))
    });
}

/// A password given in `--db` is shown nowhere: not in status (its "Next:" lines), not in the
/// `--json` document's `next` argv (which the dashboard's run page and the API show too), nor
/// in a hint. The suggested commands name the database without it and run as they are with
/// the password in `PGPASSWORD`, as libpq reads it. Before, every "Next:" line and `next`
/// argv repeated the password.
#[test]
fn a_password_in_db_is_in_no_suggested_command() {
    let Some(env) = Env::postgres("a_password_in_db_is_in_no_suggested_command") else {
        return;
    };
    let url = env.pg.as_ref().unwrap().url.clone();
    let with_password = url.replacen("postgres://postgres@", "postgres://postgres:hunter2@", 1);
    assert_ne!(with_password, url, "the test URL names its user: {url}");
    env.workflow(
        "ask",
        "name: ask\nsteps:\n  - {name: review, prompt: 'look at it'}\n",
    );
    let cortex = |args: &[&str]| {
        let mut all = vec!["--db", with_password.as_str()];
        all.extend_from_slice(args);
        let out = env
            .command(&all)
            .env_remove("CORTEX_DB")
            .env("PGPASSWORD", "hunter2")
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, stdout, stderr) = cortex(&["workflow", "run", "ask"]);
    assert_eq!(code, Some(3), "{stderr}");
    for (code, stdout, stderr) in [
        (code, stdout, stderr),
        cortex(&["workflow", "status"]),
        cortex(&["--json", "workflow", "status"]),
        cortex(&["workflow", "history"]),
        cortex(&["workflow", "step", "complete", "nope"]),
    ] {
        assert!(
            !stdout.contains("hunter2") && !stderr.contains("hunter2"),
            "{code:?}: {stdout}{stderr}"
        );
    }
    let (_, doc, _) = cortex(&["--json", "workflow", "status"]);
    let doc: serde_json::Value = serde_json::from_str(&doc).unwrap();
    let argv: Vec<String> = doc["next"][0]["argv"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_string())
        .collect();
    assert_eq!(argv[1], "--db", "{argv:?}");
    // As suggested, with the password in PGPASSWORD: it runs.
    let out = env
        .command(&argv[1..].iter().map(String::as_str).collect::<Vec<_>>())
        .env_remove("CORTEX_DB")
        .env("PGPASSWORD", "hunter2")
        .output()
        .unwrap();
    assert!(
        matches!(out.status.code(), Some(0 | 3)),
        "{argv:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A server that accepts no writes from the session (a standby, a read replica, or
/// `default_transaction_read_only` for the role): a command that writes says so and to point
/// at the primary, exit 1, and reading commands work. Before, the hint said to make
/// cortex.db and its folder writable.
#[test]
fn a_read_only_database_says_so_and_not_to_make_a_file_writable() {
    let Some(env) = Env::postgres("a_read_only_database_says_so_and_not_to_make_a_file_writable")
    else {
        return;
    };
    env.workflow("one", "name: one\nsteps:\n  - {name: a, run: 'true'}\n");
    assert_eq!(env.run(&["workflow", "run", "one"]).code, 0);
    let url = &env.pg.as_ref().unwrap().url;
    assert!(url.contains("options="), "{url}");
    let read_only = url.replacen(
        "options=",
        "options=-cdefault_transaction_read_only%3Don%20",
        1,
    );
    let cortex = |args: &[&str]| {
        env.command(args)
            .env("CORTEX_DB", &read_only)
            .output()
            .unwrap()
    };
    let refused = cortex(&["workflow", "run", "one"]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("accepts no writes") && stderr.contains("primary"),
        "{stderr}"
    );
    assert!(!stderr.contains("cortex.db"), "{stderr}");
    assert_eq!(cortex(&["workflow", "status"]).status.code(), Some(0));
    assert_eq!(cortex(&["log", "verify"]).status.code(), Some(0));
}

/// A database name the server does not know, or a user it does not accept, is a wrong value
/// naming the log (exit 2) that says so and what to check — not "cannot be reached … check
/// that PostgreSQL is running", exit 1, as if the server were down.
#[test]
fn a_database_or_user_the_server_refuses_is_bad_input_saying_what_to_check() {
    let Some(admin) =
        test_pg("a_database_or_user_the_server_refuses_is_bad_input_saying_what_to_check")
    else {
        return;
    };
    let env = Env::new();
    let base = admin.split('?').next().unwrap();
    let (server, _) = base.rsplit_once('/').unwrap();
    let no_db = format!("{server}/cortex_no_such_database");
    let no_user = no_db
        .replacen("postgres://postgres@", "postgres://no_such_role@", 1)
        .replacen(
            "/cortex_no_such_database",
            &format!("/{}", base.rsplit_once('/').unwrap().1),
            1,
        );
    for (url, says) in [
        (no_db.as_str(), "\"cortex_no_such_database\" does not exist"),
        (no_user.as_str(), "no_such_role"),
    ] {
        let out = env.run(&["--db", url, "workflow", "history"]);
        assert_eq!(out.code, 2, "{url}: {}", out.stderr);
        assert!(
            out.stderr.contains("refused the connection")
                && out.stderr.contains(says)
                && out.stderr.contains("CREATE DATABASE")
                && !out.stderr.contains("is running"),
            "{url}: {}",
            out.stderr
        );
    }
}

/// A log that cannot be opened exits 2 however it cannot: a server nobody answers at (a
/// wrong port, a server down) as a database the server does not know — before, 1 and 2 — for a
/// reading command, one that records, and `log copy --to`.
#[test]
fn a_log_that_cannot_be_connected_to_exits_2_whether_unreachable_or_unknown() {
    let Some(admin) =
        test_pg("a_log_that_cannot_be_connected_to_exits_2_whether_unreachable_or_unknown")
    else {
        return;
    };
    let env = Env::new();
    env.workflow("tiny", "name: tiny\nsteps:\n  - {name: a, run: 'true'}\n");
    let base = admin.split('?').next().unwrap();
    let (server, db) = base.rsplit_once('/').unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let unreachable = format!("postgres://postgres@127.0.0.1:{port}/{db}");
    let unknown = format!("{server}/cortex_no_such_database");
    for url in [&unreachable, &unknown] {
        for args in [
            &["workflow", "history"][..],
            &["workflow", "run", "tiny"][..],
        ] {
            let mut argv = vec!["--db", url.as_str()];
            argv.extend_from_slice(args);
            let out = env.run(&argv);
            assert_eq!(out.code, 2, "{argv:?}: {}", out.stderr);
        }
        assert_eq!(env.run(&["workflow", "run", "tiny"]).code, 0);
        let copy = env.run(&["log", "copy", "--to", url]);
        assert_eq!(copy.code, 2, "log copy --to {url}: {}", copy.stderr);
    }
}

/// A connection the server ends between two appends (an administrator's
/// `pg_terminate_backend`, a failover) is made again: the next append and read succeed, and
/// the chain goes on unbroken.
#[test]
fn a_connection_ended_by_the_server_is_made_again_for_the_next_append() {
    let Some(schema) = fresh("a_connection_ended_by_the_server_is_made_again_for_the_next_append")
    else {
        return;
    };
    let name = format!("victim_{}", schema.name);
    let url = format!("{}&application_name={name}", schema.url);
    let mut store = PostgresStore::open(&url, Durability::Normal).unwrap();
    let event = |i: u32| cortex::event::NewEvent {
        id: format!("E{i}"),
        time: "2026-12-03T00:00:00.000Z".into(),
        event: cortex::event::Event::RunStopped { time_limit: None },
    };
    store
        .append("0000000000000000000000000R", 0, &[event(0)])
        .unwrap();
    for i in 1..4 {
        let mut admin = postgres::Client::connect(&schema.url, postgres::NoTls).unwrap();
        let ended: i64 = admin
            .query_one(
                "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1) t",
                &[&name],
            )
            .unwrap()
            .get(0);
        assert_eq!(ended, 1);
        if i % 2 == 0 {
            // A read first, then the append: both on a new connection.
            assert_eq!(
                store.read_run("0000000000000000000000000R").unwrap().len(),
                i as usize
            );
        }
        store
            .append("0000000000000000000000000R", i as u64, &[event(i)])
            .unwrap();
    }
    assert_eq!(
        store.read_run("0000000000000000000000000R").unwrap().len(),
        4
    );
    assert!(store.verify(Some("0000000000000000000000000R")).unwrap().ok);
}

/// A connection lost after an append's decision (here: ended by the server from inside the
/// decision) loses the append whole — nothing of it is stored, half or otherwise — and says
/// so (`Unreachable`), without deciding twice; the next append, on a new connection, lands
/// right after what is there.
#[test]
fn a_connection_lost_after_the_decision_stores_nothing_and_says_so() {
    let Some(schema) = fresh("a_connection_lost_after_the_decision_stores_nothing_and_says_so")
    else {
        return;
    };
    let name = format!("decider_{}", schema.name);
    let url = format!("{}&application_name={name}", schema.url);
    let mut store = PostgresStore::open(&url, Durability::Normal).unwrap();
    let event = |i: u32| cortex::event::NewEvent {
        id: format!("E{i}"),
        time: "2026-12-03T00:00:00.000Z".into(),
        event: cortex::event::Event::RunStopped { time_limit: None },
    };
    store
        .append("0000000000000000000000000R", 0, &[event(0)])
        .unwrap();
    let mut decisions = 0;
    let lost = store.append_at_head("0000000000000000000000000R", 1, &mut |_, _| {
        decisions += 1;
        let mut admin = postgres::Client::connect(&schema.url, postgres::NoTls).unwrap();
        admin
            .execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
                &[&name],
            )
            .unwrap();
        vec![event(1), event(2)]
    });
    assert!(
        matches!(lost, Err(StoreError::Unreachable { .. })),
        "{lost:?}"
    );
    assert_eq!(decisions, 1, "a decision is never made twice");
    assert_eq!(
        store.read_run("0000000000000000000000000R").unwrap().len(),
        1,
        "nothing of it stored"
    );
    let at = store
        .append_at_head("0000000000000000000000000R", 1, &mut |_, _| vec![event(3)])
        .unwrap();
    assert_eq!(at.appended[0].seq, 1);
    assert!(store.verify(None).unwrap().ok);
}

/// A writer stopped inside its transaction (here: a decision that sits for 20 s while the
/// run's row is locked, as a driver frozen by SIGSTOP mid-append would) does not hold every
/// other writer of the run for as long as it stays stopped: the server ends its session after
/// the writing transaction's idle bound (15 s), its append is lost whole (nothing of it
/// stored, `Unreachable`), and the writer queued behind it lands well before the stopped one
/// wakes. Before, an operator's stop beside a frozen driver waited for the driver to be woken.
#[test]
fn a_writer_stopped_inside_its_transaction_frees_the_runs_lock_after_a_bound() {
    let Some(schema) =
        fresh("a_writer_stopped_inside_its_transaction_frees_the_runs_lock_after_a_bound")
    else {
        return;
    };
    let event = |i: u32| cortex::event::NewEvent {
        id: format!("E{i}"),
        time: "2026-12-03T00:00:00.000Z".into(),
        event: cortex::event::Event::RunStopped { time_limit: None },
    };
    let mut stalled = PostgresStore::open(&schema.url, Durability::Normal).unwrap();
    stalled
        .append("0000000000000000000000000R", 0, &[event(0)])
        .unwrap();
    let url = schema.url.clone();
    let (locked_tx, locked_rx) = std::sync::mpsc::channel::<()>();
    let queued = std::thread::spawn(move || {
        // Once the stalled writer holds the lock.
        locked_rx.recv().unwrap();
        let mut store = PostgresStore::open(&url, Durability::Normal).unwrap();
        let at = store
            .append_at_head("0000000000000000000000000R", 1, &mut |_, _| vec![event(7)])
            .unwrap();
        (at.appended[0].seq, Instant::now())
    });
    let lost = stalled.append_at_head("0000000000000000000000000R", 1, &mut |_, _| {
        locked_tx.send(()).unwrap();
        std::thread::sleep(Duration::from_secs(20));
        vec![event(1)]
    });
    let woke = Instant::now();
    let (seq, landed) = queued.join().unwrap();
    assert!(
        landed < woke,
        "the queued writer landed only after the stopped one woke"
    );
    assert_eq!(seq, 1, "the queued writer appends right after the head");
    assert!(
        matches!(lost, Err(StoreError::Unreachable { .. })),
        "{lost:?}"
    );
    let events = stalled.read_run("0000000000000000000000000R").unwrap();
    assert_eq!(events.len(), 2, "nothing of the stalled append stored");
    assert!(stalled.verify(None).unwrap().ok);
}

/// A lease claim is one statement on PostgreSQL (committed without waiting for the WAL's
/// flush) and one upsert on SQLite: the same claims, renewals and releases give the same
/// answers on both — granted when absent (epoch 1), refused while another holds it, a run's
/// driver lease extended in place by its holder (same epoch), taken over once lapsed (epoch +
/// 1, by anyone, its old holder too), renewed and let go only by its holder at its epoch.
#[test]
fn a_lease_is_granted_refused_extended_and_taken_over_as_on_sqlite() {
    use cortex::store::{Lease, LeaseClaim};
    let Some(schema) = fresh("a_lease_is_granted_refused_extended_and_taken_over_as_on_sqlite")
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut stores = both_stores(dir.path(), &schema);
    let claim = |holder: &str, attempt: u32, ttl_ms: u64| LeaseClaim {
        run_id: "01JLEASE000000000000000000".into(),
        unit: cortex::store::DRIVER_UNIT.into(),
        attempt,
        holder: holder.into(),
        host: "h".into(),
        ttl_ms,
    };
    // What each step gave: the epoch granted (None: refused), or a renewal's answer.
    let mut answers: Vec<Vec<String>> = Vec::new();
    for store in &mut stores {
        let mut said = Vec::new();
        let mut grant = |store: &mut Box<dyn EventStore>, c: LeaseClaim| -> Option<Lease> {
            let got = store.claim_lease(&c).unwrap();
            said.push(format!("{} {:?}", c.holder, got.as_ref().map(|l| l.epoch)));
            got
        };
        let a = grant(store, claim("a", 1, 60_000)).expect("granted when absent");
        assert!(a.remaining_ms > 0, "{a:?}");
        assert!(grant(store, claim("b", 1, 60_000)).is_none());
        let a = grant(store, claim("a", 1, 60_000)).expect("extended by its holder");
        // Lapsed at once (no time left): anyone takes it over, its old holder too.
        let lapsed = grant(store, claim("a", 2, 0)).expect("extended, to nothing");
        assert!(lapsed.remaining_ms <= 0, "{lapsed:?}");
        let b = grant(store, claim("b", 2, 60_000)).expect("taken over once lapsed");
        assert!(!store.renew_lease(&a, 60_000).unwrap(), "not a's any more");
        assert!(store.renew_lease(&b, 60_000).unwrap(), "b renews its own");
        store.release_lease(&a).unwrap();
        assert!(
            grant(store, claim("c", 2, 60_000)).is_none(),
            "a cannot let b's go"
        );
        store.release_lease(&b).unwrap();
        let c = grant(store, claim("c", 3, 60_000)).expect("granted once let go");
        let held = store.leases(Some("01JLEASE000000000000000000")).unwrap();
        assert_eq!(held.len(), 1, "{held:?}");
        assert!(held[0].same_holding(&c), "{held:?}");
        said.push(format!("held {} {} {}", c.holder, c.attempt, c.epoch));
        answers.push(said);
    }
    assert_eq!(answers[0], answers[1], "SQLite, then PostgreSQL");
    assert_eq!(
        answers[0],
        [
            "a Some(1)",
            "b None",
            "a Some(1)",
            "a Some(1)",
            "b Some(2)",
            "c None",
            "c Some(1)",
            "held c 3 1"
        ]
    );
}

/// A lease let go and granted anew starts again at epoch 1, so a holding is its attempt as
/// well as its holder and epoch: on both stores an old attempt's late release or renewal by
/// the same holder leaves the lease of the attempt that ran after it alone, and fences the old
/// attempt off. Before, a worker's late result for attempt 1 (reaped, then ended) let go of the
/// lease its own attempt 2 ran under: the phase was reaped again as orphaned while it ran.
#[test]
fn an_old_attempts_late_release_leaves_the_next_attempts_lease_alone() {
    use cortex::store::LeaseClaim;
    let Some(schema) = fresh("an_old_attempts_late_release_leaves_the_next_attempts_lease_alone")
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut stores = both_stores(dir.path(), &schema);
    let claim = |holder: &str, attempt: u32| LeaseClaim {
        run_id: "01JLEASE000000000000000001".into(),
        unit: "slow".into(),
        attempt,
        holder: holder.into(),
        host: "h".into(),
        ttl_ms: 60_000,
    };
    for store in &mut stores {
        let first = store.claim_lease(&claim("worker:g", 1)).unwrap().unwrap();
        // Reaped: taken over (here: let go) and the phase ready again.
        store.release_lease(&first).unwrap();
        let second = store.claim_lease(&claim("worker:g", 2)).unwrap().unwrap();
        assert_eq!(
            second.epoch, first.epoch,
            "granted anew: the epoch starts again"
        );
        assert!(
            !store.renew_lease(&first, 60_000).unwrap(),
            "not attempt 1's"
        );
        store.release_lease(&first).unwrap();
        let held = store.leases(Some("01JLEASE000000000000000001")).unwrap();
        assert_eq!(held.len(), 1, "{held:?}");
        assert!(held[0].same_holding(&second), "{held:?}");
        assert!(!held[0].same_holding(&first), "{held:?}");
        // Claimed again while held, by its own holder (another thread of the same worker:
        // its drive beside its helper): refused, for this attempt or the next, so that two
        // threads never share one lease and one lets it go under the other.
        assert!(store.claim_lease(&claim("worker:g", 2)).unwrap().is_none());
        assert!(store.claim_lease(&claim("worker:g", 3)).unwrap().is_none());
        assert!(store.renew_lease(&second, 60_000).unwrap());
        let held = store.leases(Some("01JLEASE000000000000000001")).unwrap();
        assert!(held.len() == 1 && held[0].same_holding(&second), "{held:?}");
    }
}

/// The leases a decision at the head reads (a journal's fence check) are those that stand
/// once the append holds the run's lock, on both stores, though PostgreSQL reads them in the
/// statement that takes the lock: a lease taken over, and events appended, while an append
/// waited for the lock are seen by it (its snapshot predates them, so it reads again).
#[test]
fn a_decision_at_the_head_sees_the_leases_and_events_that_stand_once_it_holds_the_lock() {
    use cortex::event::{Event, NewEvent};
    use cortex::store::{Lease, LeaseClaim};
    let Some(schema) = fresh(
        "a_decision_at_the_head_sees_the_leases_and_events_that_stand_once_it_holds_the_lock",
    ) else {
        return;
    };
    const RUN: &str = "01JFENCE000000000000000000";
    let event = |id: &str| NewEvent {
        id: id.into(),
        time: "2026-12-03T00:00:00.000Z".into(),
        event: Event::RunStopped { time_limit: None },
    };
    let claim = |holder: &str, ttl_ms: u64| LeaseClaim {
        run_id: RUN.into(),
        unit: String::new(),
        attempt: 0,
        holder: holder.into(),
        host: "h".into(),
        ttl_ms,
    };
    let holders = |leases: &[Lease]| -> Vec<(String, u64)> {
        leases.iter().map(|l| (l.holder.clone(), l.epoch)).collect()
    };
    let dir = tempfile::tempdir().unwrap();
    let mut stores = both_stores(dir.path(), &schema);
    let mut seen_by_store = Vec::new();
    for store in &mut stores {
        let mut seen: Vec<Vec<(String, u64)>> = Vec::new();
        // No lease, then a's, then b's after a's lapsed: each read inside an append.
        for (i, step) in ["none", "a", "b"].into_iter().enumerate() {
            match step {
                "a" => drop(store.claim_lease(&claim("a", 0)).unwrap().unwrap()),
                "b" => drop(store.claim_lease(&claim("b", 60_000)).unwrap().unwrap()),
                _ => {}
            }
            let mut inside = Vec::new();
            store
                .append_at_head(RUN, i as u64, &mut |_, log| {
                    inside = log.leases(Some(RUN)).unwrap();
                    vec![event(&format!("E{i}"))]
                })
                .unwrap();
            assert_eq!(holders(&inside), holders(&store.leases(Some(RUN)).unwrap()));
            seen.push(holders(&inside));
        }
        seen_by_store.push(seen);
    }
    assert_eq!(
        seen_by_store[0], seen_by_store[1],
        "SQLite, then PostgreSQL"
    );
    assert_eq!(
        seen_by_store[1],
        [vec![], vec![("a".into(), 1)], vec![("b".into(), 2)]]
    );

    // On PostgreSQL, B's append waits for A's lock; meanwhile the lease changes hands and A
    // appends: B decides after both.
    let (waiting_tx, waiting_rx) = std::sync::mpsc::channel::<()>();
    let url = schema.url.clone();
    let b = std::thread::spawn(move || {
        waiting_rx.recv().unwrap();
        let mut store = PostgresStore::open(&url, Durability::Normal).unwrap();
        let mut inside = Vec::new();
        let at = store
            .append_at_head(RUN, 3, &mut |_, log| {
                inside = log.leases(Some(RUN)).unwrap();
                vec![event("EB")]
            })
            .unwrap();
        (
            at.caught_up
                .iter()
                .map(|r| r.id.clone())
                .collect::<Vec<_>>(),
            holders(&inside),
        )
    });
    let url = schema.url.clone();
    stores[1]
        .append_at_head(RUN, 3, &mut |_, _| {
            waiting_tx.send(()).unwrap();
            // B's statement is under way, waiting for this lock.
            std::thread::sleep(Duration::from_millis(300));
            let mut other = PostgresStore::open(&url, Durability::Normal).unwrap();
            let c = other.claim_lease(&claim("c", 0)).unwrap();
            assert!(c.is_none(), "b's lease is live: {c:?}");
            let b_lease = other.leases(Some(RUN)).unwrap().remove(0);
            other.release_lease(&b_lease).unwrap();
            drop(other.claim_lease(&claim("c", 60_000)).unwrap().unwrap());
            vec![event("EA")]
        })
        .unwrap();
    let (caught_up, leases) = b.join().unwrap();
    assert_eq!(caught_up, ["EA"], "B decided after A's event");
    assert_eq!(
        leases,
        [("c".to_string(), 1)],
        "and after the lease changed hands"
    );
    let store = PostgresStore::open_read(&schema.url).unwrap();
    assert_eq!(store.read_run(RUN).unwrap().len(), 5);
    assert!(store.verify(None).unwrap().ok);
}

/// A private cluster (which the test stops and starts) and a home whose log is a fresh schema
/// of it: `Env`'s helpers (`events`, `command`, …) all use it. None where the test said it
/// skipped. (Declared in this order, the home goes before the cluster.)
fn private_log(test: &str) -> Option<(Cluster, Env)> {
    let cluster = Cluster::start(test)?;
    let mut env = Env::new();
    env.pg = Some(pg_schema(&cluster.url()));
    Some((cluster, env))
}

/// A worker (`--lease 2s`, polling every 100 ms) on `env`'s log, its output dropped, killed
/// when dropped.
struct LeasedWorker(std::process::Child);

impl LeasedWorker {
    fn start(env: &Env, name: &str) -> LeasedWorker {
        let child = env
            .command(&["worker", "--name", name, "--lease", "2s", "--poll", "100ms"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        LeasedWorker(child)
    }
}

impl Drop for LeasedWorker {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A scenario `name` of two phases, `p2` after `p1`, whose `p1`'s first attempt writes
/// `began-p` and runs for a minute (long past any outage a test makes), its later attempts
/// ending at once.
fn hanging_scenario(env: &Env, name: &str) {
    env.scenario(
        name,
        &format!(
            "name: {name}\ndescription: d\nphases:\n  - {{name: p1, description: p1, run: '{}'}}\n  - {{name: p2, description: p2, condition: 'after:p1', run: 'echo p2'}}\n",
            first_attempt_hangs("p")
        ),
    );
}

/// A command whose first attempt writes `began-NAME` and runs for a minute, and whose later
/// attempts end at once.
fn first_attempt_hangs(name: &str) -> String {
    format!("if [ ! -e began-{name} ]; then touch began-{name}; sleep 60; fi; echo done {name}")
}

/// `args` (a `run --submit`) on `env`: the run id it printed.
fn submitted(env: &Env, args: &[&str]) -> String {
    let out = env.run(args);
    assert_eq!(out.code, 0, "{}", out.stderr);
    out.stdout.trim().to_string()
}

/// The log stopped (`pg_ctl stop -m immediate`: connections cut at once) for `down`, then
/// started again.
fn outage(cluster: &Cluster, down: Duration) {
    for action in [&["-m", "immediate", "stop"][..], &["start"][..]] {
        let done = cluster.pg_ctl(action);
        assert!(
            done.status.success(),
            "{}",
            String::from_utf8_lossy(&done.stderr)
        );
        if action[0] == "-m" {
            std::thread::sleep(down);
        }
    }
}

/// The events of `run` once it finished, after its `unit`'s first attempt was recorded
/// interrupted and its second ran to success, `after` (the unit after it) too, and the run
/// completed: never failed, skipped or paused for it. The interruption's reason.
fn interrupted_once_then_completed(env: &Env, run: &str, unit: &str, after: &str) -> String {
    let ev = env.wait_for_events(run, "the run to finish", Duration::from_secs(240), |ev| {
        ev.iter().any(|e| e["type"] == "run_finished")
    });
    let shown = serde_json::to_string_pretty(&ev).unwrap();
    let of = |type_: &str, unit: &str| -> Vec<&serde_json::Value> {
        ev.iter()
            .filter(|e| e["type"] == type_ && e["body"]["step"] == unit)
            .collect()
    };
    assert!(of("step_failed", unit).is_empty(), "{shown}");
    assert!(of("step_skipped", unit).is_empty(), "{shown}");
    let interrupted = of("step_interrupted", unit);
    assert_eq!(interrupted.len(), 1, "{shown}");
    assert_eq!(interrupted[0]["body"]["attempt"], 1, "{shown}");
    let succeeded = of("step_succeeded", unit);
    assert_eq!(succeeded.len(), 1, "{shown}");
    assert_eq!(succeeded[0]["body"]["attempt"], 2, "{shown}");
    assert_eq!(of("step_succeeded", after).len(), 1, "{shown}");
    let finished = ev.iter().find(|e| e["type"] == "run_finished").unwrap();
    assert_eq!(finished["body"]["outcome"], "completed", "{shown}");
    interrupted[0]["body"]["reason"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// An outage of the log shorter than the store's patience but longer than a worker's lease
/// allows (its guard ends what it runs at four fifths of the lease: self-fencing): the step
/// of a workflow and the phase of a scenario the worker drives are recorded interrupted, with
/// the worker and its host, and run again — never failed. Before, each was recorded
/// `step_failed … killed by signal 15`: a retry spent and `on_failure` applied (with `skip`,
/// the migration step was skipped and the run "completed"; a scenario's phase failed the run).
#[test]
fn a_short_outage_that_fences_a_workers_step_records_it_interrupted_and_runs_it_again() {
    let Some((cluster, env)) = private_log(
        "a_short_outage_that_fences_a_workers_step_records_it_interrupted_and_runs_it_again",
    ) else {
        return;
    };
    env.workflow(
        "wfs",
        &format!(
            "name: wfs\nsteps:\n  - name: Migrate\n    run: '{}'\n    retry: {{max_retry_attempts: 0}}\n    on_failure: skip\n  - {{name: Announce, run: 'echo announce'}}\n",
            first_attempt_hangs("s")
        ),
    );
    hanging_scenario(&env, "sc");
    let _worker = LeasedWorker::start(&env, "u3");
    let workflow = submitted(&env, &["workflow", "run", "wfs", "--submit"]);
    let scenario = submitted(&env, &["orchestrate", "run", "sc", "--submit"]);
    common::wait_within("both commands to start", Duration::from_secs(60), || {
        env.file("began-s").exists() && env.file("began-p").exists()
    });
    // Well past the 1.6 s the guard allows a 2 s lease, well short of the 30 s patience.
    outage(&cluster, Duration::from_secs(6));
    let hostname = nix::unistd::gethostname()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    for (run, unit, after) in [(&workflow, "Migrate", "Announce"), (&scenario, "p1", "p2")] {
        let reason = interrupted_once_then_completed(&env, run, unit, after);
        assert!(
            reason.starts_with(&format!("worker u3 on {hostname} ended it: "))
                && reason.contains("its guard ended the command")
                && reason.ends_with("the attempt runs again"),
            "{reason}"
        );
    }
    let verify = env.run(&["--json", "log", "verify", "--all"]);
    assert_eq!(verify.code, 0, "{}", verify.stdout);
}

/// An outage of the log longer than the store's patience (30 s) while a worker drives a
/// scenario: its guard ends the phase, the drive ends for the log it cannot reach, and once the
/// log answers the phase is recorded interrupted and run again, and the run finishes. Before,
/// the worker kept renewing the lease of the phase nothing ran any more (its end could not be
/// recorded) and never reaped a lapsed lease of its own: the phase stayed "in_progress on
/// worker W" for good, `resume` elsewhere was refused as held, and a SIGTERM never drained.
#[test]
fn after_an_outage_past_the_patience_a_workers_phase_is_run_again_not_left_running() {
    let Some((cluster, env)) = private_log(
        "after_an_outage_past_the_patience_a_workers_phase_is_run_again_not_left_running",
    ) else {
        return;
    };
    hanging_scenario(&env, "wedge");
    let mut worker = LeasedWorker::start(&env, "q1");
    let run = submitted(&env, &["orchestrate", "run", "wedge", "--submit"]);
    common::wait_within("p1 to start", Duration::from_secs(60), || {
        env.file("began-p").exists()
    });
    outage(&cluster, Duration::from_secs(36));
    interrupted_once_then_completed(&env, &run, "p1", "p2");
    // The worker still drains on one SIGTERM.
    drains(&mut worker.0);
}

/// `CORTEX_LOG_LOCK_WAIT` bounds a writer's wait for a run's row another transaction holds
/// locked on PostgreSQL, as it bounds SQLite's wait for the log's write lock (DESIGN.md).
/// Before, it had no effect there: a report waited on the row for as long as the other
/// transaction stayed open. Held by a connection of the test's own (`SELECT … FOR UPDATE` in
/// an open transaction), the report gives up within a generous bound of the second it is
/// given, with the busy log's error (exit 4) and nothing recorded; once let go, it goes
/// through.
#[test]
fn the_lock_wait_a_user_sets_bounds_a_reports_wait_for_a_locked_run_on_postgresql() {
    let Some(env) = Env::postgres(
        "the_lock_wait_a_user_sets_bounds_a_reports_wait_for_a_locked_run_on_postgresql",
    ) else {
        return;
    };
    let (run, events) = common::waiting_on_a_report(&env);
    let url = &env.pg.as_ref().unwrap().url;
    let mut holder = postgres::Client::connect(url, postgres::NoTls).unwrap();
    let mut tx = holder.transaction().unwrap();
    let locked = tx
        .query(
            "SELECT head_seq FROM runs WHERE run_id = $1 FOR UPDATE",
            &[&run],
        )
        .unwrap();
    assert_eq!(locked.len(), 1, "the run's row is locked");
    let report = ["workflow", "step", "complete", "p", "--run", "w"];
    let mut child = env
        .command(&report)
        .env("CORTEX_LOG_LOCK_WAIT", "1s")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    common::wait_within(
        "the report to give up within the wait set",
        Duration::from_secs(30),
        || child.try_wait().unwrap().is_some(),
    );
    let out = child.wait_with_output().unwrap();
    let said = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(4), "{said}");
    assert!(
        said.contains("the event log is busy (another process holds a write lock)"),
        "{said}"
    );
    tx.rollback().unwrap();
    assert_eq!(
        common::event_types(&env, &run),
        events,
        "nothing was recorded"
    );
    let out = env.run_with(&report, &[("CORTEX_LOG_LOCK_WAIT", "1s")]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert_eq!(env.status(Some(&run))["status"], "completed");
}
