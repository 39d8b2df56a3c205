//! Properties of scenario scheduling over random DAGs, random `parallel` flags, manual phases,
//! `max_parallel` limits and random completion orders. A pure simulator drives the run through
//! the journal the way `execute::scheduler` does, minus processes.

mod common;

use cortex::decide::{AttemptReport, Command, RunState, StepStatus, replay};
use cortex::definition::{Condition, parse_scenario, snapshot};
use cortex::event::{AttemptEnd, Driver, Operator, RunKind, RunStarted};
use cortex::execute::{FixedClock, Journal, SequentialIds};
use cortex::plan::ready_phases;
use cortex::store::{EventStore, MemoryStore};
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;

#[derive(Debug, Clone)]
struct PhaseSpec {
    deps: Vec<usize>,
    parallel: bool,
    manual: bool,
}

#[derive(Debug, Clone)]
struct Case {
    phases: Vec<PhaseSpec>,
    max_parallel: u32,
    /// Which running phase finishes next, and when manual starts are requested.
    choices: Vec<usize>,
}

fn case() -> impl Strategy<Value = Case> {
    (1usize..9).prop_flat_map(|n| {
        let phases = (0..n)
            .map(|i| {
                (
                    prop::collection::vec(0..i.max(1), 0..=i.min(3)),
                    any::<bool>(),
                    prop::bool::weighted(0.2),
                )
                    .prop_map(move |(deps, parallel, manual)| {
                        let mut deps: Vec<usize> = deps.into_iter().filter(|&d| d < i).collect();
                        deps.sort_unstable();
                        deps.dedup();
                        PhaseSpec {
                            manual: manual && deps.is_empty(),
                            deps,
                            parallel,
                        }
                    })
                    .boxed()
            })
            .collect::<Vec<_>>();
        (phases, 1u32..5, prop::collection::vec(any::<usize>(), 64)).prop_map(
            |(phases, max_parallel, choices)| Case {
                phases,
                max_parallel,
                choices,
            },
        )
    })
}

fn yaml(case: &Case) -> String {
    let mut y = format!(
        "name: sim\ndescription: simulated\nmax_parallel: {}\nphases:\n",
        case.max_parallel
    );
    for (i, p) in case.phases.iter().enumerate() {
        let condition = if p.manual {
            "manual".to_string()
        } else if p.deps.is_empty() {
            "auto".to_string()
        } else {
            format!(
                "after:{}",
                p.deps
                    .iter()
                    .map(|d| format!("p{d}"))
                    .collect::<Vec<_>>()
                    .join(",")
            )
        };
        y.push_str(&format!(
            "  - name: p{i}\n    condition: '{condition}'\n    parallel: {}\n    run: 'true'\n",
            p.parallel
        ));
    }
    y
}

fn op() -> Operator {
    Operator {
        actor: "sim".into(),
        message: None,
    }
}

/// Checks that must hold in every state the run passes through.
fn check_invariants(state: &RunState, case: &Case) -> Result<(), TestCaseError> {
    let active: Vec<usize> = state
        .steps
        .iter()
        .enumerate()
        .filter(|(_, s)| matches!(s.status, StepStatus::Running | StepStatus::Waiting))
        .map(|(i, _)| i)
        .collect();
    prop_assert!(
        active.len() <= case.max_parallel as usize,
        "{} active > max_parallel {}",
        active.len(),
        case.max_parallel
    );
    let exclusive = active.iter().filter(|&&i| !case.phases[i].parallel).count();
    prop_assert!(
        exclusive <= 1,
        "two non-parallel phases run at once: {:?}",
        active
    );
    for &i in &active {
        for &d in &case.phases[i].deps {
            prop_assert!(
                state.steps[d].status == StepStatus::Completed,
                "p{} runs before its dependency p{} completed",
                i,
                d
            );
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(128),
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "proptest-regressions/scenario_properties.txt",
        ))),
        ..ProptestConfig::default()
    })]

    /// For random DAGs and random completion orders: no phase starts before all its
    /// dependencies completed, no two non-parallel phases overlap, `max_parallel` is never
    /// exceeded, every phase eventually completes, and replaying the log gives the live state.
    #[test]
    fn scheduling_respects_the_dag_the_parallel_rule_and_the_limit(case in case()) {
        let scenario = parse_scenario("sim.yaml", &yaml(&case)).expect("generated scenarios parse");
        let (definition, definition_hash) = snapshot(&scenario);
        let clock = FixedClock::new(1_800_000_000_000);
        let mut ids = SequentialIds::default();
        let mut store = MemoryStore::new();
        let live = {
            let mut journal = Journal::open(&mut store, &clock, &mut ids, "000000000000000000000000RN").unwrap();
            journal.submit(Command::Start(Box::new(RunStarted {
                working_dir: "/".into(),
                driver: Driver { pid: 1, host: "sim".into() },
                ..common::run_started(RunKind::Scenario, "sim", (definition, definition_hash), "sim.yaml", op())
            }))).unwrap();
            journal.submit(Command::RecordPreValidation { problems: vec![] }).unwrap();
            let mut choices = case.choices.iter().cycle();
            for _ in 0..500 {
                if journal.state.outcome().is_some() {
                    break;
                }
                for index in ready_phases(&journal.state) {
                    let step = journal.state.steps[index].name.clone();
                    journal.submit(Command::StartAttempt { step }).unwrap();
                    check_invariants(&journal.state, &case)?;
                }
                let running: Vec<usize> = journal.state.steps.iter().enumerate()
                    .filter(|(_, s)| s.status == StepStatus::Running).map(|(i, _)| i).collect();
                let unrequested: Vec<usize> = scenario.phases.iter().enumerate()
                    .filter(|(i, p)| matches!(p.parsed_condition(), Ok(Condition::Manual))
                        && !journal.state.start_requested.contains(&p.name)
                        && journal.state.steps[*i].status == StepStatus::Pending)
                    .map(|(i, _)| i).collect();
                let choice = *choices.next().unwrap();
                if !unrequested.is_empty() && (running.is_empty() || choice % 3 == 0) {
                    let phase = format!("p{}", unrequested[choice % unrequested.len()]);
                    journal.submit(Command::RequestStart { phase, by: op() }).unwrap();
                    continue;
                }
                prop_assert!(!running.is_empty(), "the run is stuck: nothing runs, nothing can start");
                let index = running[choice % running.len()];
                let step = journal.state.steps[index].name.clone();
                let attempt = journal.state.steps[index].attempts;
                journal.submit(Command::FinishAttempt(Box::new(AttemptReport {
                    step, attempt, end: AttemptEnd::Exited { code: 0 }, outputs: vec![],
                    output_tail: String::new(), validation_problems: vec![], by: None, agent: None, log: None,
                    permanent: false,
                    fenced: None,
                }))).unwrap();
                check_invariants(&journal.state, &case)?;
            }
            prop_assert!(journal.state.outcome().is_some(), "the run did not finish");
            prop_assert!(journal.state.steps.iter().all(|s| s.status == StepStatus::Completed));
            journal.state.clone()
        };
        let mut replayed = replay(&store.read_run("000000000000000000000000RN").unwrap());
        replayed.run_id = "000000000000000000000000RN".into();
        prop_assert_eq!(replayed, live);
    }
}
