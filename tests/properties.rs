//! Property tests of the core invariants, over random workflows, random attempt outcomes and
//! random crash points. A pure simulator plays the driver: it asks `plan::next` what to do and
//! reports scripted outcomes as commands, exactly as `execute::drive` does with real processes.

mod common;

use std::collections::BTreeMap;

use cortex::decide::{
    AttemptReport, Command, RunState, StepStatus, evolve, replay, restore, snapshot_json,
};
use cortex::definition::{Durability, parse_workflow, snapshot};
use cortex::event::{AttemptEnd, Driver, Operator, Outcome, ResumeMode, RunKind, RunStarted};
use cortex::execute::{FixedClock, Journal, SequentialIds, fold_log, load_state};
use cortex::plan::{Next, next};
use cortex::store::{
    EventStore, Fault, FaultyStore, MemoryStore, RawRow, Snapshot, SqliteStore, verify_rows,
};
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;

#[derive(Debug, Clone)]
struct StepSpec {
    retries: u32,
    on_failure: &'static str,
    has_rollback: bool,
}

#[derive(Debug, Clone)]
struct Case {
    steps: Vec<StepSpec>,
    /// outcomes[step][k]: whether the k-th finished attempt of the step succeeds (true after).
    outcomes: Vec<Vec<bool>>,
}

fn step_spec() -> impl Strategy<Value = StepSpec> {
    let policy = prop_oneof![Just("pause"), Just("skip"), Just("abort"), Just("rollback")];
    (0u32..3, policy, any::<bool>()).prop_map(|(retries, on_failure, has_rollback)| StepSpec {
        retries,
        on_failure,
        has_rollback,
    })
}

fn case() -> impl Strategy<Value = Case> {
    prop::collection::vec(step_spec(), 1..6).prop_flat_map(|steps| {
        let n = steps.len();
        (
            Just(steps),
            prop::collection::vec(prop::collection::vec(prop::bool::weighted(0.7), 0..5), n),
        )
            .prop_map(|(steps, outcomes)| Case { steps, outcomes })
    })
}

fn yaml(case: &Case) -> String {
    let mut y = String::from("name: sim\nsteps:\n");
    for (i, s) in case.steps.iter().enumerate() {
        y.push_str(&format!(
            "  - name: s{i}\n    run: 'true'\n    retry: {{max_retry_attempts: {}, backoff: 0s}}\n    on_failure: {}\n",
            s.retries, s.on_failure
        ));
        if s.has_rollback {
            y.push_str(&format!("    rollback: undo-s{i}\n"));
        }
    }
    y
}

fn op() -> Operator {
    Operator {
        actor: "sim".into(),
        message: None,
    }
}

/// The simulated run's journal, opened on `store` as a new process opens it (a replay).
fn the_run<'a>(
    store: &'a mut dyn EventStore,
    clock: &'a FixedClock,
    ids: &'a mut SequentialIds,
) -> Journal<'a> {
    Journal::open(store, clock, ids, "000000000000000000000000RN").unwrap()
}

/// An operator's resume in `mode`, by `op()` on `driver()`.
fn resume(mode: ResumeMode) -> Command {
    Command::Resume {
        mode,
        by: op(),
        driver: driver(),
        timeout_seconds: None,
        enable_rollback: None,
        claude: None,
        leave_claimed: false,
        lease_lapsed: false,
    }
}

fn driver() -> Driver {
    Driver {
        pid: 7,
        host: "sim".into(),
    }
}

/// What the simulated world saw happen.
#[derive(Debug, Default, Clone, PartialEq)]
struct World {
    /// Attempts executed per step (the side effects a real step would have had).
    executions: BTreeMap<String, u32>,
    /// Compensations in the order they ran.
    compensations: Vec<String>,
    /// Steps completed, in completion order.
    completed: Vec<String>,
    /// Attempts per step whose end was recorded: the index of the step's next scripted outcome.
    finished: BTreeMap<String, usize>,
    /// Batches appended (one per command).
    batches: usize,
}

/// An attempt's end that is staged, not yet appended: it reaches `World` with the append.
struct Pending {
    step: String,
    completed: bool,
}

/// Drive the run until it can go no further, or until `budget` batches have been appended
/// (a crash). Returns whether it crashed. Like the real driver, an attempt's end is staged and
/// appended with the next command; anything but the next attempt flushes it first.
fn drive(
    journal: &mut Journal<'_>,
    case: &Case,
    world: &mut World,
    budget: &mut Option<usize>,
) -> bool {
    // Append (the staged end, then `cmd`, if any) as one batch, unless the crash comes first.
    let submit = |journal: &mut Journal<'_>,
                  world: &mut World,
                  budget: &mut Option<usize>,
                  pending: &mut Option<Pending>,
                  cmd: Option<Command>|
     -> bool {
        if cmd.is_none() && !journal.has_staged() {
            return true;
        }
        if let Some(b) = budget {
            if *b == 0 {
                return false;
            }
            *b -= 1;
        }
        match cmd {
            Some(cmd) => journal.submit(cmd).map(drop),
            None => journal.flush().map(drop),
        }
        .expect("the simulator only sends valid commands");
        world.batches += 1;
        if let Some(done) = pending.take() {
            *world.finished.entry(done.step.clone()).or_default() += 1;
            if done.completed {
                world.completed.push(done.step);
            }
        }
        true
    };
    let mut pending: Option<Pending> = None;
    loop {
        let state = journal.state.clone();
        let action = next(&state);
        if !matches!(action, Next::Attempt { delay_ms: 0, .. })
            && !submit(journal, world, budget, &mut pending, None)
        {
            return true;
        }
        let ok = match action {
            Next::PreValidate => submit(
                journal,
                world,
                budget,
                &mut pending,
                Some(Command::RecordPreValidation { problems: vec![] }),
            ),
            Next::PostValidate => submit(
                journal,
                world,
                budget,
                &mut pending,
                Some(Command::RecordPostValidation { problems: vec![] }),
            ),
            Next::Attempt { index, .. } => {
                let name = state.steps[index].name.clone();
                if !submit(
                    journal,
                    world,
                    budget,
                    &mut pending,
                    Some(Command::StartAttempt { step: name.clone() }),
                ) {
                    return true;
                }
                let k = world.finished.get(&name).copied().unwrap_or(0);
                let success = case.outcomes[index].get(k).copied().unwrap_or(true);
                *world.executions.entry(name.clone()).or_default() += 1;
                let attempt = journal.state.steps[index].attempts;
                journal
                    .stage(Command::FinishAttempt(Box::new(AttemptReport {
                        step: name.clone(),
                        attempt,
                        end: AttemptEnd::Exited {
                            code: if success { 0 } else { 1 },
                        },
                        outputs: if success {
                            vec![("done".into(), name.clone())]
                        } else {
                            vec![]
                        },
                        output_tail: String::new(),
                        validation_problems: vec![],
                        by: None,
                        agent: None,
                        log: None,
                        permanent: false,
                    })))
                    .expect("the simulator only sends valid commands");
                pending = Some(Pending {
                    completed: journal.state.steps[index].status == StepStatus::Completed,
                    step: name,
                });
                true
            }
            Next::Compensate { index } => {
                let name = state.steps[index].name.clone();
                world.compensations.push(name.clone());
                submit(
                    journal,
                    world,
                    budget,
                    &mut pending,
                    Some(Command::RecordCompensation {
                        step: name,
                        end: case.steps[index]
                            .has_rollback
                            .then_some(AttemptEnd::Exited { code: 0 }),
                        output_tail: String::new(),
                    }),
                )
            }
            Next::Paused | Next::Stopped | Next::Finished(_) | Next::AwaitReport { .. } => {
                return false;
            }
            Next::InFlight { .. } => {
                unreachable!("the simulator never leaves an attempt in flight")
            }
            Next::CheckCondition { .. } | Next::ReadItems { .. } | Next::Child { .. } => {
                unreachable!(
                    "these workflows have no `if:`, `foreach:` or `uses:` (tests/composition_properties.rs has)"
                )
            }
        };
        if !ok {
            return true;
        }
    }
}

struct Sim {
    store: MemoryStore,
    world: World,
}

fn start_event(case: &Case) -> RunStarted {
    let wf = parse_workflow("sim.yaml", &yaml(case)).expect("generated workflows parse");
    let (definition, definition_hash) = snapshot(&wf);
    RunStarted {
        working_dir: "/".into(),
        driver: driver(),
        ..common::run_started(
            RunKind::Workflow,
            &wf.name,
            (definition, definition_hash),
            "sim.yaml",
            op(),
        )
    }
}

/// Run a case to its end, crashing after `crash_after` appended batches (then resuming once).
fn simulate(case: &Case, crash_after: Option<usize>) -> Sim {
    let mut sim = Sim {
        store: MemoryStore::new(),
        world: World::default(),
    };
    let clock = FixedClock::new(1_800_000_000_000);
    let mut ids = SequentialIds::default();
    let mut budget = crash_after;
    let crashed = {
        let mut journal = the_run(&mut sim.store, &clock, &mut ids);
        journal
            .submit(Command::Start(Box::new(start_event(case))))
            .unwrap();
        drive(&mut journal, case, &mut sim.world, &mut budget)
    };
    if crashed {
        // A new process: replay the log, resume, go on.
        let mut journal = the_run(&mut sim.store, &clock, &mut ids);
        if !matches!(next(&journal.state), Next::Paused | Next::Finished(_)) {
            journal.submit(resume(ResumeMode::Continue)).unwrap();
        }
        let mut none = None;
        drive(&mut journal, case, &mut sim.world, &mut none);
    }
    sim
}

/// A run paused on a failure resumed `--from` its first step and driven on (twice, so that a
/// recovery followed may end as it started): the run a status judges a repeated recovery in.
fn resumed_from_the_start(sim: &mut Sim, case: &Case) {
    let clock = FixedClock::new(1_800_000_000_000);
    let mut ids = SequentialIds::default();
    for _ in 0..2 {
        let mut journal = the_run(&mut sim.store, &clock, &mut ids);
        if !matches!(next(&journal.state), Next::Paused) {
            return;
        }
        let resumed = journal.submit(resume(ResumeMode::From("s0".into())));
        if resumed.is_err() {
            return;
        }
        drive(&mut journal, case, &mut sim.world, &mut None);
    }
}

fn summary(state: &RunState) -> Vec<(String, StepStatus, BTreeMap<String, String>, u32)> {
    state
        .steps
        .iter()
        .map(|s| (s.name.clone(), s.status, s.outputs.clone(), s.completions))
        .collect()
}

/// Flip bit `bit` of column `column` of a stored row (the columns in their stored order:
/// run_id, seq, id, time, type, version, body, prev_hash, hash), at the byte `byte_pick` picks.
fn flip_bit(row: &mut RawRow, column: usize, byte_pick: prop::sample::Index, bit: u8) {
    match column {
        1 => row.seq ^= 1 << bit,
        5 => row.version ^= 1 << bit,
        _ => {
            let field = match column {
                0 => &mut row.run_id,
                2 => &mut row.id,
                3 => &mut row.time,
                4 => &mut row.type_name,
                6 => &mut row.body,
                7 => &mut row.prev_hash,
                _ => &mut row.hash,
            };
            let b = byte_pick.index(field.len());
            field[b] ^= 1 << bit;
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        // PROPTEST_CASES=N runs more (e.g. a soak); CI runs 128 per property.
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(128),
        // Failures are kept in the repository's proptest-regressions/ and replayed first.
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "proptest-regressions/properties.txt",
        ))),
        ..ProptestConfig::default()
    })]

    /// Replay equals live state: folding the stored log from scratch gives exactly the state
    /// the journal built event by event while the run was driven.
    #[test]
    fn replay_equals_live_state(case in case()) {
        let clock = FixedClock::new(1_800_000_000_000);
        let mut ids = SequentialIds::default();
        let mut store = MemoryStore::new();
        let mut world = World::default();
        let live = {
            let mut journal = the_run(&mut store, &clock, &mut ids);
            journal.submit(Command::Start(Box::new(start_event(&case)))).unwrap();
            drive(&mut journal, &case, &mut world, &mut None);
            journal.state.clone()
        };
        let mut replayed = replay(&store.read_run("000000000000000000000000RN").unwrap());
        replayed.run_id = "000000000000000000000000RN".into();
        prop_assert_eq!(replayed, live);
    }

    /// No suggestion list holds a command twice (each kept with its first why): over every
    /// prefix of the log of any simulated run — crashed and resumed or not, resumed `--from`
    /// its start after a failure or not — driven or not, its definition changed (validating
    /// or not) or not.
    #[test]
    fn no_next_list_holds_the_same_command_twice(
        case in case(),
        crash in prop::option::of(0usize..12),
    ) {
        let mut sim = simulate(&case, crash);
        resumed_from_the_start(&mut sim, &case);
        let events = sim.store.read_run("000000000000000000000000RN").unwrap();
        for k in 1..=events.len() {
            let state = replay(&events[..k]);
            use cortex::project::DefinitionNow;
            for (alive, now) in [
                (false, DefinitionNow::AsStarted),
                (false, DefinitionNow::Changed),
                (false, DefinitionNow::ChangedInvalid),
                (true, DefinitionNow::AsStarted),
            ] {
                let view = cortex::project::status_view(&state, alive).with_definition_now(now);
                let mut seen = std::collections::HashSet::new();
                for s in &view.next {
                    prop_assert!(
                        seen.insert(s.argv.clone()),
                        "{:?} twice at event {}: {:?}",
                        s.argv,
                        k - 1,
                        view.next
                    );
                }
            }
        }
    }

    /// A snapshot is a pure cache of the fold: restoring a snapshot taken after any event and
    /// folding the events after it gives exactly the state of a full replay.
    #[test]
    fn a_snapshot_at_any_event_plus_the_rest_equals_a_full_replay(
        case in case(),
        pick in any::<prop::sample::Index>(),
    ) {
        let sim = simulate(&case, None);
        let events = sim.store.read_run("000000000000000000000000RN").unwrap();
        let k = pick.index(events.len()) + 1;
        let snapshot = snapshot_json(&replay(&events[..k]));
        let restored = restore(&snapshot, &events[0]).expect("snapshots decode");
        let resumed = events[k..].iter().fold(restored, evolve);
        prop_assert_eq!(resumed, replay(&events));
    }

    /// A streamed replay is the replay: folding a run's events as the store steps through
    /// them (`execute::fold_log`, what `status`, resume and `load_state` do) gives exactly the
    /// state of folding `read_run`, for any run (crashed and resumed or not), from its start
    /// and from any seq on top of the state restored from a snapshot taken before it; and
    /// `load_state` with a sealed snapshot stored at any event gives the full replay — on the
    /// memory store and on SQLite (the same rows, imported as they are).
    #[test]
    fn a_streamed_replay_equals_the_fold_of_read_run_from_any_snapshot(
        case in case(),
        crash in proptest::option::of(0usize..20),
        pick in any::<prop::sample::Index>(),
    ) {
        let mut sim = simulate(&case, crash);
        let dir = tempfile::tempdir().unwrap();
        let mut sqlite =
            SqliteStore::open(&dir.path().join("cortex.db"), Durability::Normal).unwrap();
        sqlite.import_rows(&sim.store.raw_rows(Some("000000000000000000000000RN")).unwrap()).unwrap();
        let events = sim.store.read_run("000000000000000000000000RN").unwrap();
        let full = replay(&events);
        // A snapshot after event k - 1, then the events from k on (k = 0: from the start).
        let k = pick.index(events.len() + 1);
        let base = if k == 0 {
            RunState::default()
        } else {
            restore(&snapshot_json(&replay(&events[..k])), &events[0]).expect("snapshots decode")
        };
        let stores: [&mut dyn EventStore; 2] = [&mut sim.store, &mut sqlite];
        for store in stores {
            prop_assert_eq!(&fold_log(&*store, "000000000000000000000000RN", 0, RunState::default()).unwrap(), &full);
            prop_assert_eq!(&fold_log(&*store, "000000000000000000000000RN", k as u64, base.clone()).unwrap(), &full);
            if k > 0 {
                let at = &events[k - 1];
                store.save_snapshot(&Snapshot::seal("000000000000000000000000RN", at.seq, &at.hash, snapshot_json(&base))).unwrap();
                prop_assert_eq!(&load_state(&*store, "000000000000000000000000RN").unwrap(), &full);
            }
        }
    }

    /// A streamed replay reads a changed row as `read_run` does: after flipping any bit of any
    /// column a fold reads (seq, time, type, version, body, hash) of any stored event, a
    /// streamed replay gives the state that folding `read_run` gives, or the same error.
    #[test]
    fn a_streamed_replay_of_a_changed_row_agrees_with_read_run(
        case in case(),
        row_pick in any::<prop::sample::Index>(),
        column in prop::sample::select(vec![1usize, 3, 4, 5, 6, 8]),
        byte_pick in any::<prop::sample::Index>(),
        bit in 0u8..8,
    ) {
        let mut sim = simulate(&case, None);
        let rows = sim.store.rows_mut("000000000000000000000000RN").unwrap();
        let i = row_pick.index(rows.len());
        flip_bit(&mut rows[i], column, byte_pick, bit);
        let read = sim.store.read_run("000000000000000000000000RN").map(|events| replay(&events));
        let streamed = fold_log(&sim.store, "000000000000000000000000RN", 0, RunState::default());
        match (read, streamed) {
            (Ok(read), Ok(streamed)) => prop_assert_eq!(streamed, read),
            (Err(read), Err(streamed)) => prop_assert_eq!(streamed.to_string(), read.to_string()),
            (read, streamed) => prop_assert!(false, "read_run: {:?}; streamed: {:?}", read.map(|_| ()), streamed.map(|_| ())),
        }
    }

    /// Attempts never exceed retries + 1: without an operator's resume, no step starts more
    /// attempts than its retry budget allows.
    #[test]
    fn attempts_never_exceed_retries_plus_one(case in case()) {
        let sim = simulate(&case, None);
        let state = replay(&sim.store.read_run("000000000000000000000000RN").unwrap());
        for (i, s) in state.steps.iter().enumerate() {
            prop_assert!(s.attempts <= case.steps[i].retries + 1, "step {} made {} attempts", s.name, s.attempts);
        }
    }

    /// Rollback compensates exactly the completed steps, newest first: when a run rolls back,
    /// the compensations are the steps that had completed, in reverse completion order.
    #[test]
    fn rollback_compensates_exactly_the_completed_steps_newest_first(mut case in case()) {
        let last = case.steps.len() - 1;
        case.steps[last].on_failure = "rollback";
        case.outcomes[last] = vec![false; (case.steps[last].retries + 1) as usize];
        let sim = simulate(&case, None);
        let state = replay(&sim.store.read_run("000000000000000000000000RN").unwrap());
        if state.outcome() == Some(Outcome::RolledBack) {
            let mut expected = sim.world.completed.clone();
            expected.reverse();
            prop_assert_eq!(&sim.world.compensations, &expected);
            for s in &state.steps {
                let was_completed = sim.world.completed.contains(&s.name);
                prop_assert_eq!(s.status == StepStatus::RolledBack, was_completed);
            }
        }
    }

    /// The same invariant, down a `uses:` step: a completed child run that its parent's
    /// rollback compensates (`Command::RollBackForParent`) compensates exactly its completed
    /// steps, newest first, in its own log, and ends rolled back; a crash at any point of that
    /// rollback then a resume compensates each of them once (only the one in flight at the
    /// crash may run again), and no step of the child runs again.
    #[test]
    fn a_child_rolled_back_for_its_parent_compensates_exactly_its_completed_steps_newest_first(
        mut case in case(),
        pick in any::<prop::sample::Index>(),
    ) {
        // A child that completed: every attempt succeeds.
        case.outcomes.iter_mut().for_each(Vec::clear);
        let clock = FixedClock::new(1_800_000_000_000);
        let mut ids = SequentialIds::default();
        let mut store = MemoryStore::new();
        let mut world = World::default();
        {
            let mut journal = Journal::open(&mut store, &clock, &mut ids, "00000000000000000000000KD0").unwrap();
            let mut start = start_event(&case);
            start.parent = Some(cortex::event::ParentRun {
                run_id: "000000000000000000000000RN".into(),
                step: "k".into(),
                attempt: 1,
            });
            journal.submit(Command::Start(Box::new(start))).unwrap();
            drive(&mut journal, &case, &mut world, &mut None);
            prop_assert_eq!(journal.state.outcome(), Some(Outcome::Completed));
        }
        let executions = world.executions.clone();
        let mut expected = world.completed.clone();
        expected.reverse();
        let crash_after = pick.index(expected.len() + 1);
        let mut budget = Some(crash_after);
        let crashed = {
            let mut journal = Journal::open(&mut store, &clock, &mut ids, "00000000000000000000000KD0").unwrap();
            journal
                .submit(Command::RollBackForParent { reason: "its parent rolled back".into() })
                .unwrap();
            drive(&mut journal, &case, &mut world, &mut budget)
        };
        if crashed {
            let mut journal = Journal::open(&mut store, &clock, &mut ids, "00000000000000000000000KD0").unwrap();
            prop_assert_eq!(journal.state.outcome(), None, "mid-rollback, not finished");
            journal
                .submit(resume(ResumeMode::Continue))
                .unwrap();
            drive(&mut journal, &case, &mut world, &mut None);
        }
        let state = replay(&store.read_run("00000000000000000000000KD0").unwrap());
        prop_assert_eq!(state.outcome(), Some(Outcome::RolledBack));
        let mut compensations = world.compensations.clone();
        compensations.dedup();
        prop_assert_eq!(&compensations, &expected);
        prop_assert!(world.compensations.len() <= expected.len() + 1);
        prop_assert_eq!(&world.executions, &executions, "a step of the child ran again");
        prop_assert!(state.steps.iter().all(|s| s.status == StepStatus::RolledBack));
        prop_assert!(verify_rows(&store.raw_rows(None).unwrap()).ok);
    }

    /// A crash at any event followed by resume equals an uninterrupted run: the same step
    /// statuses, outputs, compensations and outcome, no completed step is run again, and only
    /// the attempt or compensation in flight at the crash may run twice (at-least-once).
    #[test]
    fn a_crash_at_any_point_then_resume_equals_an_uninterrupted_run(case in case(), pick in any::<prop::sample::Index>()) {
        let full = simulate(&case, None);
        let full_state = replay(&full.store.read_run("000000000000000000000000RN").unwrap());
        let batches = full.world.batches.max(1);
        let crash_after = pick.index(batches);
        let crashed = simulate(&case, Some(crash_after));
        let events = crashed.store.read_run("000000000000000000000000RN").unwrap();
        let state = replay(&events);
        prop_assert_eq!(summary(&state), summary(&full_state));
        prop_assert_eq!(state.outcome(), full_state.outcome());
        // Compensations are at-least-once too: the one in flight at the crash may run again.
        let mut compensations = crashed.world.compensations.clone();
        compensations.dedup();
        prop_assert_eq!(&compensations, &full.world.compensations);
        let extra_compensations = (crashed.world.compensations.len() - full.world.compensations.len()) as u32;
        prop_assert!(state.steps.iter().all(|s| s.completions <= 1), "a completed step ran again");
        let mut extra = 0;
        for (step, n) in &crashed.world.executions {
            let base = full.world.executions.get(step).copied().unwrap_or(0);
            prop_assert!(*n >= base && *n <= base + 1, "step {} ran {} times, uninterrupted {}", step, n, base);
            extra += n - base;
        }
        prop_assert!(extra + extra_compensations <= 1, "more than the action in flight ran again");
        prop_assert!(verify_rows(&crashed.store.raw_rows(None).unwrap()).ok);
    }

        /// A storage fault (busy, disk full, read-only, I/O) at any append loses nothing already
    /// recorded and writes nothing of the failed batch; the command fails with that fault, and
    /// the next process resumes to the same end as an uninterrupted run.
    #[test]
    fn a_storage_fault_at_any_append_loses_nothing_and_resume_recovers(
        case in case(),
        pick in any::<prop::sample::Index>(),
        fault in prop::sample::select(Fault::ALL.to_vec()),
    ) {
        let full = simulate(&case, None);
        let full_state = replay(&full.store.read_run("000000000000000000000000RN").unwrap());
        let fail_at = pick.index(full.world.batches + 1) as u64;
        let clock = FixedClock::new(1_800_000_000_000);
        let mut ids = SequentialIds::default();
        let mut store = FaultyStore::new(MemoryStore::new(), Some(fail_at), fault);
        let mut world = World::default();
        let before_fault = {
            let mut journal = the_run(&mut store, &clock, &mut ids);
            let started = journal.submit(Command::Start(Box::new(start_event(&case))));
            if started.is_ok() {
                let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    drive(&mut journal, &case, &mut world, &mut None)
                }));
                prop_assert!(outcome.is_err() || fail_at > full.world.batches as u64, "the fault surfaced");
            }
            journal.appended()
        };
        // Nothing of the failed batch reached the log, nothing before it was lost.
        let stored = store.read_run("000000000000000000000000RN").unwrap();
        prop_assert_eq!(stored.len() as u64, before_fault);
        prop_assert!(verify_rows(&store.raw_rows(None).unwrap()).ok);
        // The next process: no more faults, replay, resume, go on.
        store.fail_at = None;
        let mut journal = the_run(&mut store, &clock, &mut ids);
        if journal.state.events == 0 {
            journal.submit(Command::Start(Box::new(start_event(&case)))).unwrap();
        } else if !matches!(next(&journal.state), Next::Paused | Next::Finished(_)) {
            journal.submit(resume(ResumeMode::Continue)).unwrap();
        }
        drive(&mut journal, &case, &mut world, &mut None);
        let state = replay(&store.read_run("000000000000000000000000RN").unwrap());
        prop_assert_eq!(summary(&state), summary(&full_state));
        prop_assert_eq!(state.outcome(), full_state.outcome());
    }

    /// Any change to a stored event fails verification: flipping any bit of any stored column
    /// of any event, deleting or duplicating an event before the head, or swapping two events
    /// is found, and the first bad event is named (a truncated tail needs an anchored head).
    #[test]
    fn any_change_to_a_stored_event_fails_verification(
        case in case(),
        row_pick in any::<prop::sample::Index>(),
        column in 0usize..9,
        byte_pick in any::<prop::sample::Index>(),
        bit in 0u8..8,
        how in 0u8..4,
    ) {
        let mut sim = simulate(&case, None);
        let rows = sim.store.rows_mut("000000000000000000000000RN").unwrap();
        prop_assert!(verify_rows(rows).ok);
        let i = row_pick.index(rows.len());
        match how {
            0 | 1 => {
                flip_bit(&mut rows[i], column, byte_pick, bit);
                let report = verify_rows(rows);
                prop_assert!(!report.ok);
                let bad = report.first_bad.unwrap();
                prop_assert!(bad.seq <= i as i64 || column == 1, "first bad {} after the change at {}", bad.seq, i);
            }
            2 => {
                prop_assume!(rows.len() > 1 && i + 1 < rows.len());
                rows.remove(i);
                prop_assert!(!verify_rows(rows).ok);
            }
            _ => {
                prop_assume!(rows.len() > 1);
                let j = (i + 1) % rows.len();
                if how == 3 && i % 2 == 0 {
                    let dup = rows[i].clone();
                    rows.insert(i, dup);
                } else {
                    rows.swap(i, j);
                }
                prop_assert!(!verify_rows(rows).ok);
            }
        }
    }
}
