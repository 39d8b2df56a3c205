//! Staging in the journal: a step's end is decided and folded at once but appended with the
//! next command, in one transaction. Given a started run, when an end is staged and the next
//! start submitted, then both are in the log as one append and the log alone gives the same
//! state; when another process appends in between, then the staged end is decided again
//! after that event and nothing is lost.

mod common;

use cortex::decide::{AttemptReport, Command, replay};
use cortex::definition::{Durability, parse_workflow, snapshot};
use cortex::event::{AttemptEnd, Event, Operator, RunKind};
use cortex::execute::{FixedClock, Journal, UlidIds};
use cortex::store::{EventStore, SqliteStore, verify_rows};

const TWO: &str = "name: t\nsteps:\n  - {name: a, run: 'true'}\n  - {name: b, run: 'true'}\n";

fn op(actor: &str) -> Operator {
    Operator {
        actor: actor.into(),
        message: None,
    }
}

fn start() -> Command {
    let wf = parse_workflow("t.yaml", TWO).unwrap();
    let (definition, definition_hash) = snapshot(&wf);
    Command::Start(Box::new(common::run_started(
        RunKind::Workflow,
        &wf.name,
        (definition, definition_hash),
        "t.yaml",
        op("driver"),
    )))
}

fn finished(step: &str) -> Command {
    Command::FinishAttempt(Box::new(AttemptReport {
        step: step.into(),
        attempt: 1,
        end: AttemptEnd::Exited { code: 0 },
        outputs: vec![],
        output_tail: String::new(),
        validation_problems: vec![],
        by: None,
        agent: None,
        log: None,
        permanent: false,
    }))
}

fn types(store: &dyn EventStore) -> Vec<String> {
    store
        .read_run("000000000000000000000000RN")
        .unwrap()
        .iter()
        .map(|r| r.event.type_name().to_string())
        .collect()
}

/// Open a log and start the run, with step `a` in flight.
fn with_a_in_flight(db: &std::path::Path) -> SqliteStore {
    let mut store = SqliteStore::open(db, Durability::Normal).unwrap();
    let clock = FixedClock::new(1_790_000_000_000);
    let mut ids = UlidIds::default();
    let mut j = Journal::open(&mut store, &clock, &mut ids, "000000000000000000000000RN").unwrap();
    j.submit(start()).unwrap();
    j.submit(Command::RecordPreValidation { problems: vec![] })
        .unwrap();
    j.submit(Command::StartAttempt { step: "a".into() })
        .unwrap();
    drop(j);
    store
}

#[test]
fn a_staged_end_is_appended_with_the_next_start_and_replays_to_the_same_state() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = with_a_in_flight(&dir.path().join("cortex.db"));
    let before = types(&store).len();
    let clock = FixedClock::new(1_790_000_000_000);
    let mut ids = UlidIds::default();
    let mut j = Journal::open(&mut store, &clock, &mut ids, "000000000000000000000000RN").unwrap();

    j.stage(finished("a")).unwrap();
    assert!(j.has_staged());
    let recorded = j
        .submit(Command::StartAttempt { step: "b".into() })
        .unwrap();
    let live = j.state.clone();
    drop(j);

    let kinds: Vec<&str> = recorded.iter().map(|r| r.event.type_name()).collect();
    assert_eq!(kinds.first(), Some(&"step_succeeded"), "{kinds:?}");
    assert_eq!(kinds.last(), Some(&"step_started"), "{kinds:?}");
    assert_eq!(types(&store).len(), before + recorded.len());
    let mut replayed = replay(&store.read_run("000000000000000000000000RN").unwrap());
    replayed.run_id = "000000000000000000000000RN".into();
    assert_eq!(replayed, live, "the log alone gives the live state");
    assert!(verify_rows(&store.raw_rows(None).unwrap()).ok);
}

#[test]
fn another_process_appending_before_the_flush_is_folded_in_and_the_staged_end_kept() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cortex.db");
    let mut store = with_a_in_flight(&db);
    let clock = FixedClock::new(1_790_000_000_000);
    let mut ids = UlidIds::default();
    let mut j = Journal::open(&mut store, &clock, &mut ids, "000000000000000000000000RN").unwrap();
    j.stage(finished("a")).unwrap();

    // Meanwhile an operator asks for a stop through a connection of their own.
    let mut other = SqliteStore::open(&db, Durability::Normal).unwrap();
    let mut other_ids = UlidIds::default();
    let mut k = Journal::open(
        &mut other,
        &clock,
        &mut other_ids,
        "000000000000000000000000RN",
    )
    .unwrap();
    k.submit(Command::RequestStop {
        by: op("operator"),
        abort: false,
    })
    .unwrap();
    drop(k);

    let seen = j.refresh().unwrap();
    assert_eq!(seen.len(), 1, "the operator's event is caught up with");
    assert!(j.has_staged(), "the end stays staged, decided again");
    let flushed = j.flush().unwrap();
    assert_eq!(
        flushed.first().map(|r| r.event.type_name()),
        Some("step_succeeded")
    );
    let live = j.state.clone();
    drop(j);

    let kinds = types(&store);
    let stop_at = kinds.iter().position(|t| t == "stop_requested").unwrap();
    let end_at = kinds.iter().position(|t| t == "step_succeeded").unwrap();
    assert!(stop_at < end_at, "{kinds:?}");
    let mut replayed = replay(&store.read_run("000000000000000000000000RN").unwrap());
    replayed.run_id = "000000000000000000000000RN".into();
    assert_eq!(replayed, live);
    assert!(live.stop_requested);
    assert!(verify_rows(&store.raw_rows(None).unwrap()).ok);
    assert!(matches!(
        store.read_run("000000000000000000000000RN").unwrap()[end_at].event,
        Event::StepSucceeded { .. }
    ));
}

/// Given a run whose last step's end is staged (the run finished in the journal's state),
/// when its driver submits a command the finished run refuses (the pause its time limit asked
/// for, as it ran out just as the step ended), then the refusal is returned and the staged end
/// is in the log all the same: the run is completed, its step never run again. Before, the
/// refusal took the staged end with it and the run was left `interrupted`.
#[test]
fn a_command_refused_after_a_staged_end_leaves_the_staged_end_in_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = with_a_in_flight(&dir.path().join("cortex.db"));
    let clock = FixedClock::new(1_790_000_000_000);
    let mut ids = UlidIds::default();
    let mut j = Journal::open(&mut store, &clock, &mut ids, "000000000000000000000000RN").unwrap();
    j.submit(finished("a")).unwrap();
    j.submit(Command::StartAttempt { step: "b".into() })
        .unwrap();
    j.stage(finished("b")).unwrap();
    assert!(
        j.state.outcome().is_some(),
        "finished once b's end is staged"
    );

    let refused = j.submit(Command::Pause {
        reason: "the run exceeded its time limit".into(),
    });
    assert!(refused.is_err(), "{refused:?}");
    assert!(!j.has_staged(), "the staged end went to the log");
    let live = j.state.clone();
    drop(j);

    let kinds = types(&store);
    assert_eq!(
        kinds.last().map(String::as_str),
        Some("run_finished"),
        "{kinds:?}"
    );
    assert!(!kinds.iter().any(|t| t == "run_paused"), "{kinds:?}");
    let mut replayed = replay(&store.read_run("000000000000000000000000RN").unwrap());
    replayed.run_id = "000000000000000000000000RN".into();
    assert_eq!(replayed, live, "the log alone gives the live state");
    assert!(verify_rows(&store.raw_rows(None).unwrap()).ok);
}
