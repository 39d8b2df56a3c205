//! Appends decided at the head of the log (`EventStore::append_at_head`): an operator's
//! command beside a driver always lands, after whatever the driver appended, decided against
//! the state it actually follows — on the in-memory store and on SQLite, with the driver
//! staging its phases' ends as the real scheduler does.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use cortex::decide::{AttemptReport, Command, RunPhase, decide, replay};
use cortex::definition::{Durability, parse_scenario, snapshot};
use cortex::event::{AttemptEnd, Event, Operator, Recorded, RunKind};
use cortex::execute::{FixedClock, Journal, JournalError, UlidIds};
use cortex::plan::ready_phases;
use cortex::store::{
    AtHead, DecideAtHead, EventStore, MemoryStore, RawRow, RunHead, SqliteStore, StoreError,
    verify_rows,
};
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;

const RUN: &str = "000000000000000000000000RN";

/// One more handle on a shared in-memory log, as each process has its own connection to the
/// file: every journal gets one.
#[derive(Clone, Default)]
struct Shared(Arc<Mutex<MemoryStore>>);

impl EventStore for Shared {
    fn append(
        &mut self,
        run_id: &str,
        expected_seq: u64,
        events: &[cortex::event::NewEvent],
    ) -> Result<Vec<Recorded>, StoreError> {
        self.0.lock().unwrap().append(run_id, expected_seq, events)
    }

    fn append_at_head(
        &mut self,
        run_id: &str,
        known_seq: u64,
        decide: &mut DecideAtHead<'_>,
    ) -> Result<AtHead, StoreError> {
        self.0
            .lock()
            .unwrap()
            .append_at_head(run_id, known_seq, decide)
    }

    fn import_runs(&mut self, runs: &[&[RawRow]]) -> Result<(), StoreError> {
        self.0.lock().unwrap().import_runs(runs)
    }

    fn read_run(&self, run_id: &str) -> Result<Vec<Recorded>, StoreError> {
        self.0.lock().unwrap().read_run(run_id)
    }

    fn runs(&self) -> Result<Vec<RunHead>, StoreError> {
        self.0.lock().unwrap().runs()
    }

    fn raw_rows(&self, run_id: Option<&str>) -> Result<Vec<RawRow>, StoreError> {
        self.0.lock().unwrap().raw_rows(run_id)
    }
}

/// Makes one more handle on the log under test.
type Open = Arc<dyn Fn() -> Box<dyn EventStore> + Send + Sync>;

/// An operator's handle on a log that a driver keeps busy: before each of the operator's
/// writes reaches the store, another driver process takes `turns` turns (through a handle of
/// its own), so that the log has always moved on between what the operator read and what it
/// writes — what a busy driver does to an operator, at its worst.
struct Busy {
    inner: Box<dyn EventStore>,
    open: Open,
    turns: usize,
    /// How many events the run had when the operator's last write reached the log.
    head_at_write: Arc<AtomicUsize>,
}

impl Busy {
    fn intrude(&self) {
        let clock = FixedClock::new(1_790_000_000_000);
        let mut ids = UlidIds::default();
        let mut store = (self.open)();
        let mut other = Journal::open(&mut *store, &clock, &mut ids, RUN).unwrap();
        for _ in 0..self.turns {
            let _ = drive_turn(&mut other, true);
        }
        let _ = other.flush();
        drop(other);
        self.head_at_write.store(
            store.read_run(RUN).map_or(0, |events| events.len()),
            Ordering::SeqCst,
        );
    }
}

impl EventStore for Busy {
    fn append(
        &mut self,
        run_id: &str,
        expected_seq: u64,
        events: &[cortex::event::NewEvent],
    ) -> Result<Vec<Recorded>, StoreError> {
        self.intrude();
        self.inner.append(run_id, expected_seq, events)
    }

    fn append_at_head(
        &mut self,
        run_id: &str,
        known_seq: u64,
        decide: &mut DecideAtHead<'_>,
    ) -> Result<AtHead, StoreError> {
        self.intrude();
        self.inner.append_at_head(run_id, known_seq, decide)
    }

    fn import_runs(&mut self, runs: &[&[RawRow]]) -> Result<(), StoreError> {
        self.inner.import_runs(runs)
    }

    fn read_run(&self, run_id: &str) -> Result<Vec<Recorded>, StoreError> {
        self.inner.read_run(run_id)
    }

    fn runs(&self) -> Result<Vec<RunHead>, StoreError> {
        self.inner.runs()
    }

    fn raw_rows(&self, run_id: Option<&str>) -> Result<Vec<RawRow>, StoreError> {
        self.inner.raw_rows(run_id)
    }
}

fn person(actor: &str) -> Operator {
    Operator {
        actor: actor.into(),
        message: None,
    }
}

/// A manual phase with no command (`gate`: started, then reported, by an operator) beside a
/// chain of `n` quick phases.
fn start(n: usize) -> Command {
    let mut yaml = String::from(
        "name: busy\ndescription: a chain beside an operator's gate\nphases:\n  - name: gate\n    condition: manual\n    parallel: true\n",
    );
    for i in 0..n {
        let condition = match i {
            0 => "auto".to_string(),
            _ => format!("after:p{}", i - 1),
        };
        yaml.push_str(&format!(
            "  - name: p{i}\n    condition: {condition}\n    parallel: true\n    run: 'true'\n"
        ));
    }
    let scenario = parse_scenario("busy.yaml", &yaml).expect("the scenario parses");
    let (definition, definition_hash) = snapshot(&scenario);
    Command::Start(Box::new(common::run_started(
        RunKind::Scenario,
        &scenario.name,
        (definition, definition_hash),
        "busy.yaml",
        person("driver"),
    )))
}

/// What an operator does.
#[derive(Debug, Clone, Copy)]
enum Act {
    StartGate,
    ReportGate(bool),
    Stop,
}

impl Act {
    /// The command, built as the CLI builds it: from the operator's own (maybe stale) view.
    fn command(self, journal: &Journal<'_>) -> Command {
        let by = person("operator");
        match self {
            Act::StartGate => Command::RequestStart {
                phase: "gate".into(),
                by,
            },
            Act::ReportGate(success) => Command::FinishAttempt(Box::new(AttemptReport {
                step: "gate".into(),
                attempt: journal.state.step("gate").map_or(0, |s| s.attempts),
                end: AttemptEnd::Reported { success },
                outputs: vec![],
                output_tail: String::new(),
                validation_problems: vec![],
                by: Some(by),
                agent: None,
                log: None,
                permanent: false,
            })),
            Act::Stop => Command::RequestStop { by, abort: false },
        }
    }
}

fn act() -> impl Strategy<Value = Act> {
    prop_oneof![
        Just(Act::StartGate),
        any::<bool>().prop_map(Act::ReportGate),
        Just(Act::Stop),
    ]
}

/// An operator's command: opened (its journal replays the log) before driver turn `open_at`,
/// submitted `delay` turns later, so that the driver may have appended any number of times
/// in between.
#[derive(Debug, Clone)]
struct Op {
    act: Act,
    open_at: usize,
    delay: usize,
    /// Turns another driver takes right before each write of this operator reaches the log.
    intruding: usize,
}

#[derive(Debug, Clone)]
struct Case {
    phases: usize,
    turns: usize,
    /// Per driver turn: whether it catches up with the log before deciding (the scheduler
    /// does at the top of each loop; an operator may still append right after).
    refresh: Vec<bool>,
    ops: Vec<Op>,
}

fn case() -> impl Strategy<Value = Case> {
    (2usize..7, 4usize..30).prop_flat_map(|(phases, turns)| {
        (
            Just(phases),
            Just(turns),
            prop::collection::vec(any::<bool>(), turns + 8),
            prop::collection::vec(
                (act(), 0..turns, 0usize..6, 0usize..3).prop_map(
                    |(act, open_at, delay, intruding)| Op {
                        act,
                        open_at,
                        delay,
                        intruding,
                    },
                ),
                1..6,
            ),
        )
            .prop_map(|(phases, turns, refresh, ops)| Case {
                phases,
                turns,
                refresh,
                ops,
            })
    })
}

/// One turn of a driver that behaves like the scheduler: record pre-validation, start the
/// first ready phase (its end is staged, to ride with the next append), flush when nothing
/// else is to do, and stop when asked. A command the log no longer allows (an operator's
/// event changed the run first) is refused by the decider, as it would be for the real one.
fn drive_turn(journal: &mut Journal<'_>, refresh: bool) -> Result<(), JournalError> {
    if refresh {
        journal.refresh()?;
    }
    let state = &journal.state;
    if state.outcome().is_some() || state.phase == RunPhase::Stopped {
        return journal.flush().map(drop);
    }
    if state.stop_requested {
        journal.flush()?;
        return journal
            .submit(Command::Stop {
                by: person("driver"),
                signal: None,
            })
            .map(drop);
    }
    if !state.pre_validated && state.phase == RunPhase::Running {
        return journal
            .submit(Command::RecordPreValidation { problems: vec![] })
            .map(drop);
    }
    let Some(&index) = ready_phases(state).first() else {
        return journal.flush().map(drop);
    };
    let step = state.steps[index].name.clone();
    journal.submit(Command::StartAttempt { step: step.clone() })?;
    if !journal.state.is_external(index) {
        let attempt = journal.state.steps[index].attempts;
        journal.stage(Command::FinishAttempt(Box::new(AttemptReport {
            step,
            attempt,
            end: AttemptEnd::Exited { code: 0 },
            outputs: vec![],
            output_tail: String::new(),
            validation_problems: vec![],
            by: None,
            agent: None,
            log: None,
            permanent: false,
        })))?;
    }
    Ok(())
}

/// Play `case` on a log whose handles `open` makes (one per journal, as one connection per
/// process), checking every operator append against a decision on the log as it stood.
fn play(case: &Case, open: Open) -> Result<(), TestCaseError> {
    let clock = FixedClock::new(1_790_000_000_000);
    let reader = open();
    let mut driver_store = open();
    let mut driver_ids = UlidIds::default();
    let mut driver = Journal::open(&mut *driver_store, &clock, &mut driver_ids, RUN).unwrap();
    driver.submit(start(case.phases)).unwrap();

    let mut handles: Vec<(Busy, UlidIds)> = case
        .ops
        .iter()
        .map(|op| {
            let busy = Busy {
                inner: open(),
                open: open.clone(),
                turns: op.intruding,
                head_at_write: Arc::default(),
            };
            (busy, UlidIds::default())
        })
        .collect();
    let heads: Vec<_> = handles
        .iter()
        .map(|(b, _)| b.head_at_write.clone())
        .collect();
    let mut slots: Vec<Option<&mut (Busy, UlidIds)>> = handles.iter_mut().map(Some).collect();
    let mut open_ops: Vec<Option<Journal<'_>>> = case.ops.iter().map(|_| None).collect();
    let last = case
        .ops
        .iter()
        .map(|o| o.open_at + o.delay)
        .max()
        .unwrap_or(0);

    for turn in 0..=case.turns.max(last) {
        for (k, op) in case.ops.iter().enumerate() {
            if op.open_at == turn
                && let Some((store, ids)) = slots[k].take()
            {
                open_ops[k] = Some(Journal::open(store, &clock, ids, RUN).unwrap());
            }
            if op.open_at + op.delay == turn
                && let Some(mut journal) = open_ops[k].take()
            {
                let command = op.act.command(&journal);
                heads[k].store(reader.read_run(RUN).unwrap().len(), Ordering::SeqCst);
                let result = journal.submit(command.clone());
                // What the decider makes of the log as it stood right before the operator's
                // events (after everything the drivers appended, intruders included).
                let after = reader.read_run(RUN).unwrap();
                let before = &after[..heads[k].load(Ordering::SeqCst).min(after.len())];
                let mut head = replay(before);
                head.run_id = RUN.into();
                let expected = decide(&head, command);
                let own: Vec<&Event> = after[before.len()..].iter().map(|r| &r.event).collect();
                match expected {
                    Ok(events) => {
                        prop_assert!(result.is_ok(), "{:?} failed: {:?}", op, result.err());
                        prop_assert_eq!(own, events.iter().collect::<Vec<_>>());
                    }
                    Err(_) => {
                        prop_assert!(
                            matches!(result, Err(JournalError::Decide(_))),
                            "{:?}: the head refused it, the journal said {:?}",
                            op,
                            result
                        );
                        prop_assert!(own.is_empty());
                    }
                }
            }
        }
        let refresh = case.refresh.get(turn).copied().unwrap_or(true);
        match drive_turn(&mut driver, refresh) {
            Ok(()) | Err(JournalError::Decide(_)) => {}
            Err(e) => prop_assert!(false, "the driver failed at turn {}: {}", turn, e),
        }
    }
    driver.refresh().unwrap();
    driver.flush().unwrap();
    let live = driver.state.clone();
    drop(driver);
    let mut replayed = replay(&reader.read_run(RUN).unwrap());
    replayed.run_id = RUN.into();
    prop_assert_eq!(replayed, live, "the log alone gives the driver's state");
    prop_assert!(verify_rows(&reader.raw_rows(None).unwrap()).ok);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        // PROPTEST_CASES=N runs more (e.g. a soak); CI runs 128 per property.
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(128),
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "proptest-regressions/operator_appends.txt",
        ))),
        ..ProptestConfig::default()
    })]

    /// An operator append succeeds beside any interleaving of driver appends: whenever an
    /// operator opened its view and however many times the driver appended (with or without
    /// a phase's end staged, with or without catching up first), the operator's command is
    /// never refused for being late — it lands right after the driver's events, and what it
    /// appends is exactly what the decider makes of the log as it stood just before (or it
    /// is refused exactly when the decider refuses it there). The driver goes on, the log
    /// verifies, and it alone gives the driver's state.
    #[test]
    fn an_operator_append_succeeds_beside_any_interleaving_of_driver_appends(case in case()) {
        let shared = Shared::default();
        play(&case, Arc::new(move || Box::new(shared.clone())))?;
    }

    /// The same on SQLite, one connection per journal (as one per process).
    #[test]
    fn an_operator_append_on_sqlite_succeeds_beside_any_interleaving_of_driver_appends(
        case in case(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("cortex.db");
        play(&case, Arc::new(move || Box::new(SqliteStore::open(&db, Durability::Normal).unwrap())))?;
    }
}
