//! Properties of composition (`if:`, `foreach:`, `uses:`) over random workflows, random
//! attempt outcomes and random crash points. A pure simulator plays the driver as
//! `tests/properties.rs` does, and more: it checks conditions and reads lists through the
//! same `Runner` methods the driver calls, and runs child workflows through the same pure
//! plan (`plan::child_*`) the driver's `execute::child` carries out, in the same log.

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use cortex::decide::{
    AttemptReport, Command, RunPhase, RunState, StepStatus, evolve, replay, restore, snapshot_json,
};
use cortex::definition::{Workflow, parse_workflow, snapshot};
use cortex::event::{AttemptEnd, Driver, Operator, ResumeMode, RunKind, RunStarted, UsedWorkflow};
use cortex::execute::{FixedClock, Journal, Redactor, Runner, SequentialIds, StopFlag};
use cortex::plan::{
    ChildEnd, ChildNext, ChildPlan, Next, child_end, child_next, child_plan, child_start, next,
};
use cortex::store::{EventStore, MemoryStore, verify_rows};
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;

/// What a generated step is.
#[derive(Debug, Clone)]
enum Kind {
    /// A plain command; `list` makes it also output `list` (a JSON list of two items).
    Plain { list: bool },
    /// Runs only if its condition holds.
    If(Cond),
    /// Once per item: of a literal list of `n` items, or of step `from`'s `list` output.
    Foreach { n: usize, from: Option<usize> },
    /// Runs the child workflow (`child`, of `child_steps` plain steps).
    Uses,
}

#[derive(Debug, Clone)]
enum Cond {
    /// `inputs.flag == 'on'`.
    Flag,
    /// `steps.sK.outputs.done == 'sK'` (true when step K completed).
    Done(usize),
    /// `!(steps.sK.outputs.done == 'sK')`.
    NotDone(usize),
}

#[derive(Debug, Clone)]
struct Case {
    kinds: Vec<Kind>,
    on_failure: Vec<&'static str>,
    flag: bool,
    child_steps: usize,
    /// outcomes[unit name][k]: whether the k-th finished attempt of that unit succeeds
    /// (true once the list runs out). Drawn per position, named when the case is built.
    outcomes: BTreeMap<String, Vec<bool>>,
}

fn kind(i: usize) -> impl Strategy<Value = Kind> {
    let earlier = i.max(1);
    prop_oneof![
        any::<bool>().prop_map(|list| Kind::Plain { list }),
        prop_oneof![
            Just(Cond::Flag),
            (0..earlier).prop_map(Cond::Done),
            (0..earlier).prop_map(Cond::NotDone),
        ]
        .prop_map(Kind::If),
        (0usize..4, prop::option::of(0..earlier)).prop_map(|(n, from)| Kind::Foreach { n, from }),
        Just(Kind::Uses),
    ]
}

fn case() -> impl Strategy<Value = Case> {
    (1usize..6)
        .prop_flat_map(|n| {
            let kinds: Vec<_> = (0..n).map(kind).collect();
            (
                kinds,
                prop::collection::vec(prop_oneof![Just("pause"), Just("skip")], n),
                any::<bool>(),
                1usize..3,
                prop::collection::vec(prop::collection::vec(prop::bool::weighted(0.8), 0..3), 40),
            )
        })
        .prop_map(|(mut kinds, on_failure, flag, child_steps, draws)| {
            // The first step has nothing before it to read.
            if !matches!(kinds[0], Kind::Plain { .. } | Kind::Uses) {
                kinds[0] = Kind::Plain { list: true };
            }
            let mut outcomes = BTreeMap::new();
            let names = unit_names(&kinds, child_steps);
            for (name, draw) in names.into_iter().zip(draws.into_iter().cycle()) {
                outcomes.insert(name, draw);
            }
            Case {
                kinds,
                on_failure,
                flag,
                child_steps,
                outcomes,
            }
        })
}

/// Every unit a case may run, for drawing outcomes (items up to 4, child steps by parent).
fn unit_names(kinds: &[Kind], child_steps: usize) -> Vec<String> {
    let mut out = Vec::new();
    for (i, k) in kinds.iter().enumerate() {
        let name = format!("s{i}");
        match k {
            Kind::Foreach { .. } => {
                for j in 0..4 {
                    out.push(format!("{name}[{j}]"));
                }
            }
            Kind::Uses => {
                for c in 0..child_steps {
                    out.push(format!("{name}/c{c}"));
                }
            }
            _ => out.push(name),
        }
    }
    out
}

fn child_yaml(case: &Case) -> String {
    let mut y = String::from("name: child\nsteps:\n");
    for c in 0..case.child_steps {
        y.push_str(&format!(
            "  - name: c{c}\n    run: 'true'\n    retry: {{max_retry_attempts: 1, backoff: 0s}}\n"
        ));
    }
    y
}

fn yaml(case: &Case) -> String {
    let mut y =
        String::from("name: sim\ninputs:\n  flag: {type: string, default: 'off'}\nsteps:\n");
    for (i, k) in case.kinds.iter().enumerate() {
        y.push_str(&format!(
            "  - name: s{i}\n    retry: {{max_retry_attempts: 1, backoff: 0s}}\n    on_failure: {}\n",
            case.on_failure[i]
        ));
        match k {
            Kind::Plain { .. } => y.push_str("    run: 'true'\n"),
            Kind::If(c) => {
                let expr = match c {
                    Cond::Flag => "inputs.flag == 'on'".to_string(),
                    Cond::Done(k) => format!("steps.s{k}.outputs.done == 's{k}'"),
                    Cond::NotDone(k) => format!("!(steps.s{k}.outputs.done == 's{k}')"),
                };
                y.push_str(&format!("    run: 'true'\n    if: \"{expr}\"\n"));
            }
            Kind::Foreach { n, from } => {
                y.push_str("    run: 'true'\n");
                match from {
                    Some(k) => y.push_str(&format!(
                        "    foreach: \"${{{{ steps.s{k}.outputs.list }}}}\"\n"
                    )),
                    None => {
                        let items: Vec<String> = (0..*n).map(|j| format!("i{j}")).collect();
                        y.push_str(&format!("    foreach: [{}]\n", items.join(", ")));
                    }
                }
            }
            Kind::Uses => y.push_str("    uses: child\n"),
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

fn driver() -> Driver {
    Driver {
        pid: 7,
        host: "sim".into(),
    }
}

fn start_event(case: &Case) -> RunStarted {
    let wf = parse_workflow("sim.yaml", &yaml(case)).expect("generated workflows parse");
    let child: Workflow = parse_workflow("child.yaml", &child_yaml(case)).expect("child parses");
    let (definition, definition_hash) = snapshot(&wf);
    let (child_def, child_hash) = snapshot(&child);
    let mut inputs = BTreeMap::new();
    inputs.insert(
        "flag".to_string(),
        serde_json::Value::String(if case.flag { "on" } else { "off" }.into()),
    );
    let mut uses = BTreeMap::new();
    uses.insert(
        "child".to_string(),
        UsedWorkflow {
            name: "child".into(),
            source: "child.yaml".into(),
            definition: child_def,
            definition_hash: child_hash,
        },
    );
    RunStarted {
        inputs,
        working_dir: "/".into(),
        driver: driver(),
        uses,
        ..common::run_started(
            RunKind::Workflow,
            &wf.name,
            (definition, definition_hash),
            "sim.yaml",
            op(),
        )
    }
}

fn runner() -> Runner {
    Runner::new(
        PathBuf::from("/nonexistent-sim-home"),
        StopFlag::default(),
        Duration::from_millis(1),
        Redactor::default(),
    )
}

/// What the simulated world saw happen.
#[derive(Debug, Default, Clone, PartialEq)]
struct World {
    /// Commands executed per unit (a child's step as `PARENT_UNIT/STEP`).
    executions: BTreeMap<String, u32>,
    /// Finished attempts per unit: the index of its next scripted outcome.
    finished: BTreeMap<String, usize>,
    /// Child runs started (their `run_started` appended).
    children_started: u32,
    batches: usize,
}

/// The crash budget: batches that may still be appended (none: no crash).
struct Budget(Option<usize>);

impl Budget {
    /// Whether one more batch may be appended; false: the process dies here.
    fn take(&mut self) -> bool {
        match &mut self.0 {
            Some(0) => false,
            Some(b) => {
                *b -= 1;
                true
            }
            None => true,
        }
    }
}

/// Append `cmd` as one batch, unless the crash comes first (false).
fn submit(journal: &mut Journal<'_>, world: &mut World, budget: &mut Budget, cmd: Command) -> bool {
    if !budget.take() {
        return false;
    }
    journal
        .submit(cmd)
        .expect("the simulator only sends valid commands");
    world.batches += 1;
    true
}

/// Drive `journal`'s run until it can go no further, or the budget is spent (true: crashed).
/// `prefix` names the units of a child run in the world (`PARENT_UNIT/`).
fn drive(
    journal: &mut Journal<'_>,
    case: &Case,
    world: &mut World,
    budget: &mut Budget,
    prefix: &str,
) -> bool {
    let runner = runner();
    loop {
        let state = journal.state.clone();
        let ok = match next(&state) {
            Next::PreValidate => submit(
                journal,
                world,
                budget,
                Command::RecordPreValidation { problems: vec![] },
            ),
            Next::PostValidate => submit(
                journal,
                world,
                budget,
                Command::RecordPostValidation { problems: vec![] },
            ),
            Next::CheckCondition { index } => {
                let check = runner
                    .check_condition(&state, index, None, &mut |_, _, _| {}, &mut || false)
                    .expect("expressions are never stopped");
                submit(
                    journal,
                    world,
                    budget,
                    Command::RecordCondition(Box::new(check)),
                )
            }
            Next::ReadItems { index } => {
                let items = runner.read_items(&state, index);
                let step = state.steps[index].name.clone();
                submit(journal, world, budget, Command::RecordItems { step, items })
            }
            Next::Attempt { index, .. } => {
                let name = state.steps[index].name.clone();
                if !submit(
                    journal,
                    world,
                    budget,
                    Command::StartAttempt { step: name.clone() },
                ) {
                    return true;
                }
                if journal.state.is_uses(index) {
                    match run_child(journal, case, world, budget, index, true) {
                        None => return true,
                        Some(Some(report)) => {
                            submit(journal, world, budget, Command::FinishAttempt(report))
                        }
                        Some(None) => return false,
                    }
                } else {
                    let unit = format!("{prefix}{name}");
                    *world.executions.entry(unit.clone()).or_default() += 1;
                    let k = world.finished.get(&unit).copied().unwrap_or(0);
                    let success = case
                        .outcomes
                        .get(&unit)
                        .and_then(|o| o.get(k).copied())
                        .unwrap_or(true);
                    let attempt = journal.state.steps[index].attempts;
                    let mut outputs = Vec::new();
                    if success {
                        outputs.push(("done".to_string(), name.clone()));
                        let lists = prefix.is_empty()
                            && matches!(case.kinds.get(index), Some(Kind::Plain { list: true }))
                            && state.steps[index].item.is_none();
                        if lists {
                            outputs.push(("list".to_string(), "[\"a\",\"b\"]".to_string()));
                        }
                    }
                    let done = submit(
                        journal,
                        world,
                        budget,
                        Command::FinishAttempt(Box::new(AttemptReport {
                            step: name,
                            attempt,
                            end: AttemptEnd::Exited {
                                code: if success { 0 } else { 1 },
                            },
                            outputs,
                            output_tail: String::new(),
                            validation_problems: vec![],
                            by: None,
                            agent: None,
                            log: None,
                            permanent: false,
                        })),
                    );
                    if done {
                        *world.finished.entry(unit).or_default() += 1;
                    }
                    done
                }
            }
            Next::Child { index } => match run_child(journal, case, world, budget, index, false) {
                None => return true,
                Some(Some(report)) => {
                    submit(journal, world, budget, Command::FinishAttempt(report))
                }
                Some(None) => return false,
            },
            Next::Paused | Next::Stopped | Next::Finished(_) | Next::AwaitReport { .. } => {
                return false;
            }
            Next::Compensate { .. } | Next::InFlight { .. } => {
                unreachable!("the simulated workflows never roll back nor leave attempts in flight")
            }
        };
        if !ok {
            return true;
        }
    }
}

/// The attempt of `uses:` step `index`, as `execute::child::run_child` does it: None if the
/// process crashed, Some(None) if the child waits, Some(report) when the attempt ends.
fn run_child(
    journal: &mut Journal<'_>,
    case: &Case,
    world: &mut World,
    budget: &mut Budget,
    index: usize,
    new_attempt: bool,
) -> Option<Option<Box<AttemptReport>>> {
    let step = journal.state.steps[index].name.clone();
    let attempt = journal.state.steps[index].attempts;
    let run_id = match child_plan(&journal.state, index) {
        ChildPlan::Continue(id) => id,
        ChildPlan::Start => {
            let id = journal.next_id();
            if !budget.take() {
                return None;
            }
            journal
                .submit(Command::StartChild {
                    step: step.clone(),
                    run_id: id.clone(),
                    workflow: "child".into(),
                    replacing: None,
                })
                .expect("a child starts");
            world.batches += 1;
            id
        }
    };
    let parent = journal.state.clone();
    let prefix = format!("{step}/");
    journal.nested(|store, clock, ids| {
        let mut child = Journal::open(store, clock, ids, &run_id).expect("the log opens");
        if child.state.phase == RunPhase::NotStarted {
            let started = child_start(
                &parent,
                index,
                BTreeMap::new(),
                "/".into(),
                op(),
                driver(),
                None,
            )
            .expect("the child's start is known");
            if !budget.take() {
                return None;
            }
            child.submit(Command::Start(Box::new(started))).unwrap();
            world.batches += 1;
            world.children_started += 1;
            if drive(&mut child, case, world, budget, &prefix) {
                return None;
            }
        } else {
            let next = child_next(&child.state, new_attempt);
            if let ChildNext::Resume(mode) = &next {
                if !budget.take() {
                    return None;
                }
                child
                    .submit(Command::Resume {
                        mode: mode.clone(),
                        by: op(),
                        driver: driver(),
                        timeout_seconds: None,
                        enable_rollback: None,
                        claude: None,
                        leave_claimed: false,
                        lease_lapsed: false,
                    })
                    .unwrap();
                world.batches += 1;
            }
            if next != ChildNext::Report && drive(&mut child, case, world, budget, &prefix) {
                return None;
            }
        }
        Some(match child_end(&child.state, &step, attempt) {
            ChildEnd::Report(report) => Some(report),
            ChildEnd::Waiting | ChildEnd::Unfinished => None,
        })
    })
}

struct Sim {
    store: MemoryStore,
    world: World,
}

/// Run a case to its end, crashing after `crash_after` appended batches (then resuming once,
/// as a new process would: replay, resume, drive).
fn simulate(case: &Case, crash_after: Option<usize>) -> Sim {
    let mut sim = Sim {
        store: MemoryStore::new(),
        world: World::default(),
    };
    let clock = FixedClock::new(1_800_000_000_000);
    let mut ids = SequentialIds::default();
    let mut budget = Budget(crash_after);
    let crashed = {
        let mut journal = Journal::open(
            &mut sim.store,
            &clock,
            &mut ids,
            "000000000000000000000000RN",
        )
        .unwrap();
        journal
            .submit(Command::Start(Box::new(start_event(case))))
            .unwrap();
        drive(&mut journal, case, &mut sim.world, &mut budget, "")
    };
    if crashed {
        let mut journal = Journal::open(
            &mut sim.store,
            &clock,
            &mut ids,
            "000000000000000000000000RN",
        )
        .unwrap();
        if !matches!(next(&journal.state), Next::Paused | Next::Finished(_)) {
            journal
                .submit(Command::Resume {
                    mode: ResumeMode::Continue,
                    by: op(),
                    driver: driver(),
                    timeout_seconds: None,
                    enable_rollback: None,
                    claude: None,
                    leave_claimed: false,
                    lease_lapsed: false,
                })
                .unwrap();
        }
        let mut none = Budget(None);
        drive(&mut journal, case, &mut sim.world, &mut none, "");
    }
    sim
}

type Summary = Vec<(String, StepStatus, BTreeMap<String, String>, u32)>;

fn summary(state: &RunState) -> Summary {
    state
        .steps
        .iter()
        .map(|s| (s.name.clone(), s.status, s.outputs.clone(), s.completions))
        .collect()
}

/// The parent's summary and each child run's (by the parent's unit that ran it), from a log.
fn summaries(store: &MemoryStore) -> (RunState, BTreeMap<String, Summary>) {
    let parent = replay(&store.read_run("000000000000000000000000RN").unwrap());
    let mut children = BTreeMap::new();
    for s in &parent.steps {
        if let Some(link) = &s.child {
            let child = replay(&store.read_run(&link.run_id).unwrap());
            children.insert(s.name.clone(), summary(&child));
        }
    }
    (parent, children)
}

fn config() -> ProptestConfig {
    ProptestConfig {
        // PROPTEST_CASES=N runs more (e.g. a soak); CI runs 128 per property.
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(128),
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "proptest-regressions/composition_properties.txt",
        ))),
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    /// A skipped `if:` never runs its command: every step skipped because its condition
    /// did not hold (`condition_checked` with `holds: false`) has no execution in the world,
    /// nor any item or child — with or without a crash and resume at any point.
    #[test]
    fn a_step_whose_if_is_false_never_runs_its_command(case in case(), pick in any::<prop::sample::Index>()) {
        let full = simulate(&case, None);
        let crash_after = pick.index(full.world.batches.max(1));
        for sim in [full, simulate(&case, Some(crash_after))] {
            let state = replay(&sim.store.read_run("000000000000000000000000RN").unwrap());
            for s in &state.steps {
                if s.condition.as_ref().is_some_and(|c| !c.holds) {
                    prop_assert_eq!(s.status, StepStatus::Skipped);
                    prop_assert!(!sim.world.executions.contains_key(&s.name), "{} ran", s.name);
                    prop_assert!(s.items.is_none() && s.child.is_none());
                }
            }
            // And every step with an `if:` that ran was checked first, and held.
            for (i, s) in state.steps.iter().enumerate() {
                let has_if = state.definition(i).is_some_and(|d| d.if_.is_some());
                if has_if && s.attempts > 0 {
                    prop_assert!(s.condition.as_ref().is_some_and(|c| c.holds));
                }
            }
        }
    }

    /// `foreach` runs each item exactly once: every item of every `foreach:` step completes
    /// at most once, a completed step has one unit per item, all done, and its outputs are the
    /// lists of its items' outputs; across a crash at any point and a resume, the items and
    /// their statuses are those of an uninterrupted run, and only the attempt in flight at the
    /// crash runs again.
    #[test]
    fn foreach_runs_each_item_exactly_once_even_across_a_crash(case in case(), pick in any::<prop::sample::Index>()) {
        let full = simulate(&case, None);
        let full_state = replay(&full.store.read_run("000000000000000000000000RN").unwrap());
        let crashed = simulate(&case, Some(pick.index(full.world.batches.max(1))));
        let state = replay(&crashed.store.read_run("000000000000000000000000RN").unwrap());
        prop_assert_eq!(summary(&state), summary(&full_state));
        for (i, s) in state.steps.iter().enumerate() {
            prop_assert!(s.completions <= 1, "{} completed {} times", s.name, s.completions);
            if let Some(items) = &s.items {
                let units = state.item_units(i);
                prop_assert_eq!(units.len(), items.len());
                if s.status == StepStatus::Completed {
                    prop_assert!(units.clone().all(|j| state.steps[j].status.is_done()));
                    let done: Vec<serde_json::Value> = units
                        .clone()
                        .map(|j| state.steps[j].outputs.get("done").map_or(serde_json::Value::Null, |v| v.clone().into()))
                        .collect();
                    if !items.is_empty() && done.iter().any(|v| !v.is_null()) {
                        prop_assert_eq!(s.outputs.get("done").cloned(), Some(serde_json::Value::Array(done).to_string()));
                    }
                }
            }
        }
        let mut extra = 0;
        for (unit, n) in &crashed.world.executions {
            let base = full.world.executions.get(unit).copied().unwrap_or(0);
            prop_assert!(*n >= base && *n <= base + 1, "{} ran {} times, uninterrupted {}", unit, n, base);
            extra += n - base;
        }
        prop_assert!(extra <= 1, "more than the attempt in flight ran again");
    }

    /// Crash + resume inside a child workflow equals an uninterrupted run: the parent and
    /// every child run end with the same statuses, outputs and completions; no second child
    /// run is started for a step (resuming the parent resumes its unfinished child); no
    /// completed step of a child runs again; and every chain verifies.
    #[test]
    fn a_crash_inside_a_child_workflow_then_resume_equals_an_uninterrupted_run(case in case(), pick in any::<prop::sample::Index>()) {
        let full = simulate(&case, None);
        let (full_parent, full_children) = summaries(&full.store);
        let crashed = simulate(&case, Some(pick.index(full.world.batches.max(1))));
        let (parent, children) = summaries(&crashed.store);
        prop_assert_eq!(summary(&parent), summary(&full_parent));
        prop_assert_eq!(parent.outcome(), full_parent.outcome());
        prop_assert_eq!(children, full_children);
        prop_assert_eq!(crashed.world.children_started, full.world.children_started);
        for (unit, n) in &crashed.world.executions {
            let base = full.world.executions.get(unit).copied().unwrap_or(0);
            prop_assert!(*n <= base + 1, "{} ran {} times, uninterrupted {}", unit, n, base);
        }
        prop_assert!(verify_rows(&crashed.store.raw_rows(None).unwrap()).ok);
        // Linked both ways.
        for s in &parent.steps {
            if let Some(link) = &s.child {
                let child = replay(&crashed.store.read_run(&link.run_id).unwrap());
                let up = child.start.as_ref().and_then(|st| st.parent.clone()).expect("a child names its parent");
                prop_assert_eq!(up.run_id.as_str(), "000000000000000000000000RN");
                prop_assert_eq!(&up.step, &s.name);
            }
        }
    }

    /// Replay equals live state, and a snapshot taken after any event plus the events after
    /// it equals a full replay, for runs whose layout changes (items inserted): the layout is
    /// derived from the steps, never stored.
    #[test]
    fn replay_and_snapshots_rebuild_composed_runs_exactly(case in case(), pick in any::<prop::sample::Index>()) {
        let clock = FixedClock::new(1_800_000_000_000);
        let mut ids = SequentialIds::default();
        let mut store = MemoryStore::new();
        let mut world = World::default();
        let live = {
            let mut journal = Journal::open(&mut store, &clock, &mut ids, "000000000000000000000000RN").unwrap();
            journal.submit(Command::Start(Box::new(start_event(&case)))).unwrap();
            drive(&mut journal, &case, &mut world, &mut Budget(None), "");
            journal.state.clone()
        };
        let events = store.read_run("000000000000000000000000RN").unwrap();
        let mut replayed = replay(&events);
        replayed.run_id = "000000000000000000000000RN".into();
        prop_assert_eq!(&replayed, &live);
        let k = pick.index(events.len()) + 1;
        let restored = restore(&snapshot_json(&replay(&events[..k])), &events[0]).expect("snapshots decode");
        prop_assert_eq!(events[k..].iter().fold(restored, evolve), replay(&events));
    }
}

proptest! {
    #![proptest_config(config())]

    /// Any text is refused with a position inside it or parsed, never a panic; and whatever
    /// parses evaluates to a verdict or an error for any values of what it reads, never a
    /// panic and never a guess: the verdict is a boolean, and reading the same values gives
    /// the same verdict.
    #[test]
    fn any_condition_text_parses_or_is_refused_at_a_place_and_evaluates_without_panicking(
        parts in prop::collection::vec(prop::sample::select(vec![
            "inputs.a", "inputs.b", "steps.s.outputs.k", "steps['x y'].outputs.k",
            "phases.p[2].outputs.v", "'str'", "'it''s'", "\"q\\\"\"", "3", "-1.5", "2e3",
            "true", "false", "==", "!=", "<", "<=", ">", ">=", "&&", "||", "!", "(", ")",
            " ", "=", "&", "|", "item", "env.X", "${{", "}}", "'", "[", "]", ".", "é", "\n",
        ]), 0..24),
        a in prop_oneof![
            any::<bool>().prop_map(cortex::definition::expr::Value::Bool),
            (-5i32..5).prop_map(|n| cortex::definition::expr::Value::Num(
                cortex::definition::expr::Number::parse(&n.to_string()).unwrap()
            )),
            "[a-c0-9]{0,3}".prop_map(cortex::definition::expr::Value::Str),
        ],
        missing in any::<bool>(),
    ) {
        use cortex::definition::expr;
        let text: String = parts.concat();
        match expr::parse(&text) {
            Err(e) => prop_assert!(e.at <= text.chars().count(), "{} at {} of {:?}", e.message, e.at, text),
            Ok(parsed) => {
                let read = |_: &cortex::definition::template::Reference| {
                    (!missing).then(|| a.clone())
                };
                let first = expr::evaluate(&parsed, &read);
                let again = expr::evaluate(&parsed, &read);
                prop_assert_eq!(first, again);
            }
        }
    }
}

proptest! {
    #![proptest_config(config())]

    /// `validate`'s type check walks the whole condition: an expression over a number input
    /// `n` and a boolean input `f` that it finds no problem in evaluates to a verdict for any
    /// values of those types, never "cannot be decided" at run time. Before, the operands of a
    /// comparison were not walked: `inputs.n > 1 && !inputs.n == 3` (`(!inputs.n) == 3`)
    /// passed and failed the run.
    #[test]
    fn a_condition_validate_accepts_is_decided_for_any_values_of_its_typed_inputs(
        text in prop::sample::select(vec![
            "inputs.n", "inputs.f", "'str'", "'2'", "'true'", "3", "-1.5", "true", "false",
        ])
        .prop_map(String::from)
        .prop_recursive(4, 24, 2, |inner| {
            let op = prop::sample::select(vec![" == ", " != ", " < ", " >= ", " && ", " || "]);
            prop_oneof![
                inner.clone().prop_map(|a| format!("!{a}")),
                inner.clone().prop_map(|a| format!("({a})")),
                (inner.clone(), op, inner).prop_map(|(a, op, b)| format!("{a}{op}{b}")),
            ]
        }),
        n in -5i32..5,
        f in any::<bool>(),
    ) {
        use cortex::definition::expr::{self, Number, Value};
        use cortex::definition::template::Reference;
        let Ok(parsed) = expr::parse(&text) else { return Ok(()) };
        let kind_of = |name: &str| match name {
            "n" => Some(Value::Num(Number::zero())),
            "f" => Some(Value::Bool(false)),
            _ => None,
        };
        if expr::type_problems(&parsed, &kind_of).is_empty() {
            let read = |r: &Reference| match r {
                Reference::Input(name) if name == "n" => {
                    Some(Value::Num(Number::parse(&n.to_string()).unwrap()))
                }
                Reference::Input(name) if name == "f" => Some(Value::Bool(f)),
                _ => None,
            };
            let verdict = expr::evaluate(&parsed, &read).result;
            prop_assert!(verdict.is_ok(), "{:?} passed the check but: {:?}", text, verdict);
        }
    }
}

/// A random scenario for the scheduling property: each phase after some earlier ones, maybe
/// parallel, maybe a `foreach:` of 0 to 3 items.
#[derive(Debug, Clone)]
struct FanCase {
    phases: Vec<(Vec<usize>, bool, Option<usize>)>,
    max_parallel: u32,
    choices: Vec<usize>,
}

fn fan_case() -> impl Strategy<Value = FanCase> {
    (1usize..7).prop_flat_map(|n| {
        let phases: Vec<_> = (0..n)
            .map(|i| {
                (
                    prop::collection::vec(0..i.max(1), 0..=i.min(2)),
                    any::<bool>(),
                    prop::option::of(0usize..4),
                )
                    .prop_map(move |(deps, parallel, items)| {
                        let mut deps: Vec<usize> = deps.into_iter().filter(|&d| d < i).collect();
                        deps.sort_unstable();
                        deps.dedup();
                        (deps, parallel, items)
                    })
            })
            .collect();
        (phases, 1u32..4, prop::collection::vec(any::<usize>(), 64)).prop_map(
            |(phases, max_parallel, choices)| FanCase {
                phases,
                max_parallel,
                choices,
            },
        )
    })
}

fn fan_yaml(case: &FanCase) -> String {
    let mut y = format!(
        "name: fan\ndescription: d\nmax_parallel: {}\nphases:\n",
        case.max_parallel
    );
    for (i, (deps, parallel, items)) in case.phases.iter().enumerate() {
        y.push_str(&format!(
            "  - name: p{i}\n    parallel: {parallel}\n    run: 'true'\n"
        ));
        if !deps.is_empty() {
            let names: Vec<String> = deps.iter().map(|d| format!("p{d}")).collect();
            y.push_str(&format!("    condition: 'after:{}'\n", names.join(",")));
        }
        if let Some(n) = items {
            let list: Vec<String> = (0..*n).map(|j| format!("x{j}")).collect();
            y.push_str(&format!("    foreach: [{}]\n", list.join(", ")));
        }
    }
    y
}

/// What must hold in every state a scenario with `foreach:` phases passes through.
fn fan_invariants(state: &RunState, case: &FanCase) -> Result<(), TestCaseError> {
    let plan = state
        .phase_plan
        .as_ref()
        .expect("scenario runs have a plan");
    let active: Vec<usize> = (0..state.steps.len())
        .filter(|&i| {
            matches!(
                state.steps[i].status,
                StepStatus::Running | StepStatus::Waiting
            )
        })
        .collect();
    prop_assert!(
        active.len() <= case.max_parallel as usize,
        "{} phases active > max_parallel {}",
        active.len(),
        case.max_parallel
    );
    prop_assert!(
        active.iter().filter(|&&i| !plan.parallel[i]).count() <= 1,
        "two non-parallel phases run at once"
    );
    for &i in &active {
        prop_assert!(
            state.steps[i].items.is_none(),
            "a foreach phase never runs itself"
        );
        // The phase whose unit this is (itself, or the phase of an item).
        let phase = state.steps[i]
            .item
            .as_ref()
            .map_or(state.steps[i].name.clone(), |of| of.parent.clone());
        let k: usize = phase[1..].parse().unwrap();
        for d in &case.phases[k].0 {
            let dep = state.step(&format!("p{d}")).unwrap();
            prop_assert!(
                dep.status == StepStatus::Completed,
                "{} runs before p{} completed (every item of it)",
                state.steps[i].name,
                d
            );
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    /// In a scenario, each item of a `foreach:` phase is a phase of the ready set: whatever
    /// order phases finish in, never more than `max_parallel` run at once (items included),
    /// never two non-parallel ones, nothing after a `foreach:` phase starts before all its
    /// items completed, each item completes exactly once, the run finishes, and replaying the
    /// log gives the live state.
    #[test]
    fn scenario_items_are_scheduled_like_phases_within_the_limits(case in fan_case()) {
        let scenario = cortex::definition::parse_scenario("fan.yaml", &fan_yaml(&case)).expect("parses");
        let (definition, definition_hash) = snapshot(&scenario);
        let clock = FixedClock::new(1_800_000_000_000);
        let mut ids = SequentialIds::default();
        let mut store = MemoryStore::new();
        let runner = runner();
        let live = {
            let mut journal = Journal::open(&mut store, &clock, &mut ids, "000000000000000000000000RN").unwrap();
            let mut started = start_event(&Case {
                kinds: vec![Kind::Plain { list: false }],
                on_failure: vec!["pause"],
                flag: false,
                child_steps: 1,
                outcomes: BTreeMap::new(),
            });
            started.kind = RunKind::Scenario;
            started.name = "fan".into();
            started.definition = definition;
            started.definition_hash = definition_hash;
            started.inputs = BTreeMap::new();
            started.uses = BTreeMap::new();
            journal.submit(Command::Start(Box::new(started))).unwrap();
            journal.submit(Command::RecordPreValidation { problems: vec![] }).unwrap();
            let mut choices = case.choices.iter().cycle();
            for _ in 0..400 {
                if journal.state.outcome().is_some() {
                    break;
                }
                // As the scheduler does: first read the lists, then start what is ready.
                if let Some(&index) = cortex::plan::to_prepare(&journal.state).first() {
                    let step = journal.state.steps[index].name.clone();
                    let items = runner.read_items(&journal.state, index);
                    journal.submit(Command::RecordItems { step, items }).unwrap();
                    fan_invariants(&journal.state, &case)?;
                    continue;
                }
                for index in cortex::plan::ready_phases(&journal.state) {
                    let step = journal.state.steps[index].name.clone();
                    journal.submit(Command::StartAttempt { step }).unwrap();
                    fan_invariants(&journal.state, &case)?;
                }
                let running: Vec<usize> = (0..journal.state.steps.len())
                    .filter(|&i| journal.state.steps[i].status == StepStatus::Running)
                    .collect();
                prop_assert!(!running.is_empty(), "stuck: nothing runs, nothing can start");
                let index = running[*choices.next().unwrap() % running.len()];
                let step = journal.state.steps[index].name.clone();
                let attempt = journal.state.steps[index].attempts;
                journal.submit(Command::FinishAttempt(Box::new(AttemptReport {
                    step, attempt, end: AttemptEnd::Exited { code: 0 }, outputs: vec![],
                    output_tail: String::new(), validation_problems: vec![], by: None, agent: None, log: None,
                    permanent: false,
                }))).unwrap();
                fan_invariants(&journal.state, &case)?;
            }
            prop_assert!(journal.state.outcome().is_some(), "the run did not finish");
            for (i, s) in journal.state.steps.iter().enumerate() {
                prop_assert_eq!(s.status, StepStatus::Completed);
                prop_assert_eq!(s.completions, 1, "{} completed {} times", s.name, s.completions);
                if let Some(items) = &s.items {
                    prop_assert_eq!(journal.state.item_units(i).len(), items.len());
                }
            }
            let expected: usize = case.phases.iter().map(|(_, _, n)| 1 + n.unwrap_or(0)).sum();
            prop_assert_eq!(journal.state.steps.len(), expected);
            journal.state.clone()
        };
        let mut replayed = replay(&store.read_run("000000000000000000000000RN").unwrap());
        replayed.run_id = "000000000000000000000000RN".into();
        prop_assert_eq!(replayed, live);
    }
}
