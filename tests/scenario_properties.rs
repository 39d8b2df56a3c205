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

/// A phase of `agents_are_active_exactly_while_their_phase_is_at_work`: its condition,
/// whether it runs a command (else it waits for a report), its retries, and whether it has a
/// compensation.
#[derive(Debug, Clone)]
struct AgentPhase {
    condition: u8,
    runs: bool,
    retries: u8,
    rollback: bool,
}

fn agent_phases() -> impl Strategy<Value = Vec<AgentPhase>> {
    prop::collection::vec(
        (0u8..3, any::<bool>(), 0u8..2, any::<bool>()).prop_map(
            |(condition, runs, retries, rollback)| AgentPhase {
                condition,
                runs,
                retries,
                rollback,
            },
        ),
        1..5,
    )
}

/// Each phase `pI` has agents `xI` and `yI`; its condition is `auto`, `manual` or after the
/// phase before it.
fn agent_yaml(phases: &[AgentPhase]) -> String {
    let mut y = "name: ag\ndescription: agents\nphases:\n".to_string();
    for (i, p) in phases.iter().enumerate() {
        let condition = match p.condition {
            1 => "manual".to_string(),
            2 if i > 0 => format!("after:p{}", i - 1),
            _ => "auto".to_string(),
        };
        y.push_str(&format!(
            "  - name: p{i}\n    description: d\n    condition: '{condition}'\n    parallel: true\n    agents: [x{i}, y{i}]\n    retry: {{max_retry_attempts: {}}}\n{}{}",
            p.retries,
            if p.runs { "    run: 'true'\n" } else { "" },
            if p.rollback { "    rollback: 'true'\n" } else { "" },
        ));
    }
    y
}

/// The agents active after `log`, as its `agent_activated` and `agent_deactivated` events
/// say (not as the state keeps them: a finished run's state holds none, whatever its log
/// recorded).
fn recorded_active(log: &[cortex::event::Event]) -> Vec<(String, String)> {
    use cortex::event::Event;
    let mut active = Vec::new();
    for e in log {
        match e {
            Event::AgentActivated { agent, phase, .. } => {
                active.push((agent.clone(), phase.clone()))
            }
            Event::AgentDeactivated { agent, phase, .. } => {
                active.retain(|(a, p)| !(a == agent && p == phase));
            }
            _ => {}
        }
    }
    active
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(128),
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "proptest-regressions/scenario_agents.txt",
        ))),
        ..ProptestConfig::default()
    })]

    /// Whatever happens to a scenario run (phases completed, failed with or without a retry
    /// left, skipped by `resume --skip`, interrupted, reported or left waiting; the run
    /// stopped, stopped at its time limit, paused, aborted, rolled back, resumed), the log
    /// records an agent active exactly while its phase is at work: every phase running or
    /// waiting has its agents active, and an agent is active only for a phase running,
    /// waiting or due for a retry, in a run that is not over or stopped. So every way a phase
    /// ends records `agent_deactivated` for its agents.
    #[test]
    fn agents_are_active_exactly_while_their_phase_is_at_work(
        phases in agent_phases(),
        choices in prop::collection::vec(any::<u16>(), 1..80),
    ) {
        use cortex::decide::{RunPhase, decide, evolve};
        use cortex::event::{Event, Recorded, ResumeMode};
        let scenario = parse_scenario("ag.yaml", &agent_yaml(&phases)).expect("generated scenarios parse");
        let (definition, definition_hash) = snapshot(&scenario);
        let start = RunStarted {
            config: cortex::definition::Config { enable_rollback: true, ..Default::default() },
            ..common::run_started(RunKind::Scenario, "ag", (definition, definition_hash), "ag.yaml", op())
        };
        let mut log: Vec<Event> = Vec::new();
        let mut state = RunState::default();
        let apply = |state: &mut RunState, log: &mut Vec<Event>, command: Command| {
            if let Ok(events) = decide(state, command) {
                for event in events {
                    let seq = log.len() as u64;
                    *state = evolve(std::mem::take(state), &Recorded {
                        run_id: "R".into(),
                        seq,
                        id: format!("E{seq}"),
                        time: "2026-01-01T00:00:00.000Z".into(),
                        version: 1,
                        prev_hash: String::new(),
                        hash: String::new(),
                        event: event.clone(),
                    });
                    log.push(event);
                }
            }
        };
        apply(&mut state, &mut log, Command::Start(Box::new(start)));
        apply(&mut state, &mut log, Command::RecordPreValidation { problems: vec![] });
        let driver = || Driver { pid: 2, host: "h".into() };
        let resume = |mode| Command::Resume {
            mode, by: op(), driver: driver(), timeout_seconds: None, enable_rollback: None,
            claude: None, leave_claimed: false, lease_lapsed: false,
        };
        for &choice in &choices {
            if state.outcome().is_some() {
                break;
            }
            let c = choice as usize;
            let names: Vec<String> = state.steps.iter().map(|s| s.name.clone()).collect();
            let pick = |pred: &dyn Fn(StepStatus) -> bool| -> Option<(String, u32)> {
                let units: Vec<_> = state.steps.iter().filter(|s| pred(s.status)).collect();
                (!units.is_empty()).then(|| {
                    let s = units[(c / 32) % units.len()];
                    (s.name.clone(), s.attempts)
                })
            };
            let at_work = pick(&|s| matches!(s, StepStatus::Running | StepStatus::Waiting));
            let report = |(step, attempt): (String, u32), code: i32| Command::FinishAttempt(Box::new(AttemptReport {
                step, attempt, end: AttemptEnd::Exited { code }, outputs: vec![],
                output_tail: String::new(), validation_problems: vec![], by: None, agent: None,
                log: None, permanent: false,
            }));
            let command = match c % 16 {
                0..=3 => {
                    for index in ready_phases(&state) {
                        let step = state.steps[index].name.clone();
                        apply(&mut state, &mut log, Command::StartAttempt { step });
                    }
                    continue;
                }
                4 | 5 => match at_work { Some(unit) => report(unit, 0), None => continue },
                6 => match at_work { Some(unit) => report(unit, 1), None => continue },
                7 => resume(ResumeMode::Continue),
                8 => resume(ResumeMode::Skip),
                9 => resume(ResumeMode::Retry),
                10 => Command::Stop { by: op(), signal: None },
                11 => Command::StopAtTimeLimit { reason: "time limit".into() },
                12 => Command::Abort { by: op(), cut_off: None },
                13 => match (c / 16) % 3 {
                    0 => Command::Pause { reason: "paused".into() },
                    1 => match pick(&|s| s == StepStatus::Running) {
                        Some((step, attempt)) => Command::InterruptAttempt { step, attempt, reason: "cut".into() },
                        None => continue,
                    },
                    _ => Command::InterruptOrphans { leave_claimed: false, lease_lapsed: false },
                },
                14 => match (c / 16) % 2 {
                    0 => Command::RequestStart { phase: names[(c / 32) % names.len()].clone(), by: op() },
                    _ => match pick(&|s| s == StepStatus::Completed) {
                        Some((step, _)) => resume(ResumeMode::RollbackTo(step)),
                        None => continue,
                    },
                },
                _ => match state.rollback.as_ref().and_then(|rb| rb.pending.first().cloned()) {
                    Some(step) => Command::RecordCompensation {
                        step, end: Some(AttemptEnd::Exited { code: (c / 16 % 2) as i32 }), output_tail: String::new(),
                    },
                    None => continue,
                },
            };
            apply(&mut state, &mut log, command);
            let active = recorded_active(&log);
            let over = matches!(state.phase, RunPhase::Finished { .. } | RunPhase::Stopped);
            for (agent, phase) in &active {
                let status = state.step(phase).map(|s| s.status);
                prop_assert!(
                    !over && matches!(status, Some(StepStatus::Running | StepStatus::Waiting | StepStatus::Ready)),
                    "agent {} is recorded active for phase {} ({:?}) in a run {:?}", agent, phase, status, state.phase
                );
            }
            for (i, s) in state.steps.iter().enumerate() {
                if matches!(s.status, StepStatus::Running | StepStatus::Waiting) {
                    for agent in [format!("x{i}"), format!("y{i}")] {
                        prop_assert!(
                            active.iter().any(|(a, p)| *a == agent && *p == s.name),
                            "phase {} is {:?} without its agent {}", s.name, s.status, agent
                        );
                    }
                }
            }
            prop_assert_eq!(&active, &state.active_agents, "the state's agents are the log's");
        }
    }
}
