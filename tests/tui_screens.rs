//! Snapshots of the TUI's screens at 80x24, drawn by ratatui's test backend from app states
//! built the way the real TUI builds them: runs recorded through the journal (fixed times and
//! ids), handed to `update` as the follower would, keys pressed through `update`, then drawn
//! with a fixed `now`.

mod common;

use std::cell::Cell;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use cortex::decide::{AttemptReport, Command, RunState, replay};
use cortex::definition::{Config, parse_scenario, parse_workflow, snapshot};
use cortex::event::{AttemptEnd, Driver, Operator, ResumeMode, RunKind, RunStarted};
use cortex::execute::{Clock, Journal, SequentialIds};
use cortex::project::RunAct;
use cortex::store::{EventStore, MemoryStore};
use cortex::tui::app::{Action, Effect, GivenInput, Notice, PhaseOp, ResumeAsked};
use cortex::tui::model::{Followed, InputField, ScenarioEntry};
use cortex::tui::{App, Key, Msg, Screen, update, view};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

/// 2026-01-01T00:00:00Z: every recorded time is this plus a few seconds.
const T0: u64 = 1_767_225_600;

/// A clock the test moves by hand.
struct TestClock(Cell<SystemTime>);

impl TestClock {
    fn at(secs: u64) -> TestClock {
        TestClock(Cell::new(UNIX_EPOCH + Duration::from_secs(T0 + secs)))
    }

    fn set(&self, secs: u64) {
        self.0.set(UNIX_EPOCH + Duration::from_secs(T0 + secs));
    }
}

impl Clock for TestClock {
    fn now(&self) -> SystemTime {
        self.0.get()
    }
}

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(T0 + secs)
}

fn lead() -> Operator {
    Operator {
        actor: "lead@host".into(),
        message: None,
    }
}

const SHIP_IT: &str = r#"
name: ship-it
description: Build two components in parallel, then package them
max_parallel: 3
phases:
  - name: prepare
    description: Create a clean build folder
    run: mkdir -p build
    success_criteria:
      - {check: test -d build}
  - name: backend
    condition: after:prepare
    parallel: true
    agents: [python-pro, database-admin]
    run: make backend
    success_criteria:
      - Backend artifact written
      - {check: test -s build/backend.txt}
  - name: frontend
    condition: after:prepare
    parallel: true
    agents: [react-specialist]
    run: make frontend
    success_criteria:
      - Components render correctly
  - name: package
    condition: after:backend,frontend
    run: cat build/* > release.txt
    success_criteria:
      - Release notes reviewed
"#;

const FULL_STACK: &str = r#"
name: full-stack-feature
description: Complete full-stack feature implementation with testing
phases:
  - name: analysis
    condition: manual
    agents: [architect-reviewer]
    success_criteria: [Plan document created]
  - name: backend
    condition: after:analysis
    agents: [python-pro]
    success_criteria: [API endpoints functional]
  - name: frontend
    condition: after:analysis
    parallel: true
    agents: [react-specialist]
    success_criteria: [Components render correctly]
  - name: integration
    condition: after:backend,frontend
    agents: [quality-engineer]
    success_criteria: [All integration tests pass, Performance benchmarks met]
"#;

/// A run of a scenario, recorded through the journal into a memory store.
struct Recorder {
    store: MemoryStore,
    clock: TestClock,
    ids: SequentialIds,
    run_id: String,
}

impl Recorder {
    fn scenario(run_id: &str, yaml: &str, config: Config) -> Recorder {
        let scenario = parse_scenario("s.yaml", yaml).expect("test scenario parses");
        let (definition, definition_hash) = snapshot(&scenario);
        let source = format!("/home/lead/.cortex/scenarios/{}.yaml", scenario.name);
        Recorder::started(
            run_id,
            RunKind::Scenario,
            &scenario.name,
            (definition, definition_hash),
            source,
            config,
        )
    }

    fn workflow(run_id: &str, yaml: &str) -> Recorder {
        Recorder::workflow_with(run_id, yaml, Config::default())
    }

    fn workflow_with(run_id: &str, yaml: &str, config: Config) -> Recorder {
        let wf = parse_workflow("w.yaml", yaml).expect("test workflow parses");
        let snapshot = snapshot(&wf);
        Recorder::started(
            run_id,
            RunKind::Workflow,
            &wf.name,
            snapshot,
            "w.yaml".into(),
            config,
        )
    }

    /// A run of the `snapshot` definition, started by the lead and pre-validated at T0.
    fn started(
        run_id: &str,
        kind: RunKind,
        name: &str,
        (definition, definition_hash): (serde_json::Value, String),
        source: String,
        config: Config,
    ) -> Recorder {
        Recorder::from_start(
            run_id,
            RunStarted {
                config,
                working_dir: "/work".into(),
                driver: Driver {
                    pid: 1,
                    host: "host".into(),
                },
                ..common::run_started(kind, name, (definition, definition_hash), &source, lead())
            },
        )
    }

    /// A run started as `start` says, pre-validated at T0.
    fn from_start(run_id: &str, start: RunStarted) -> Recorder {
        let mut r = Recorder {
            store: MemoryStore::new(),
            clock: TestClock::at(0),
            ids: SequentialIds::default(),
            run_id: run_id.into(),
        };
        r.submit(0, Command::Start(Box::new(start)));
        r.submit(0, Command::RecordPreValidation { problems: vec![] });
        r
    }

    /// Record `command` at `secs` seconds after T0.
    fn submit(&mut self, secs: u64, command: Command) -> &mut Self {
        self.clock.set(secs);
        let mut journal =
            Journal::open(&mut self.store, &self.clock, &mut self.ids, &self.run_id).unwrap();
        journal
            .submit(command)
            .expect("the decider accepts the test's command");
        self
    }

    fn start(&mut self, secs: u64, step: &str) -> &mut Self {
        self.submit(secs, Command::StartAttempt { step: step.into() })
    }

    fn finish(&mut self, secs: u64, step: &str, end: AttemptEnd, tail: &str) -> &mut Self {
        let attempt = self.state().step(step).unwrap().attempts;
        self.submit(
            secs,
            Command::FinishAttempt(Box::new(AttemptReport {
                step: step.into(),
                attempt,
                end,
                outputs: vec![],
                output_tail: tail.into(),
                validation_problems: vec![],
                by: Some(lead()),
                agent: None,
                log: None,
                permanent: false,
            })),
        )
    }

    /// The run's state as the follower loads it: a fold of its events.
    fn state(&self) -> RunState {
        let mut state = replay(&self.store.read_run(&self.run_id).unwrap());
        state.run_id = self.run_id.clone();
        state
    }

    fn followed(&self, alive: bool) -> Msg {
        Msg::RunLoaded(Box::new(Followed::new(self.state(), alive)))
    }
}

/// ship-it with `prepare` done and the parallel pair `backend` + `frontend` running.
fn running_parallel_pair() -> Recorder {
    let mut r = Recorder::scenario("01JRVNSH1P1T000000000000A1", SHIP_IT, Config::default());
    r.start(1, "prepare")
        .finish(3, "prepare", AttemptEnd::Exited { code: 0 }, "")
        .start(4, "backend")
        .start(4, "frontend");
    r
}

/// ship-it with `prepare` done, `backend` running here and `frontend` claimed by a worker on
/// another host.
fn pair_with_a_worker() -> Recorder {
    let mut r = Recorder::scenario("01JRVNW0RKER000000000000A2", SHIP_IT, Config::default());
    r.start(1, "prepare")
        .finish(3, "prepare", AttemptEnd::Exited { code: 0 }, "")
        .start(4, "backend")
        .submit(
            4,
            Command::ClaimAttempt {
                step: "frontend".into(),
                worker: "ci-7".into(),
                host: "build-host".into(),
                epoch: 1,
            },
        );
    r
}

/// full-stack-feature with the integration phase reported failed, no retries left.
fn failed_phase() -> Recorder {
    failed_phase_saying(
        "01JRVNFA11ED0000000000000B",
        "perf regression: p99 420ms > 250ms",
    )
}

/// `failed_phase` as run `id`, the failure reported with `error`.
fn failed_phase_saying(id: &str, error: &str) -> Recorder {
    let config = Config {
        max_retry_attempts: 0,
        ..Config::default()
    };
    let mut r = Recorder::scenario(id, FULL_STACK, config);
    let ok = AttemptEnd::Reported { success: true };
    r.submit(
        2,
        Command::RequestStart {
            phase: "analysis".into(),
            by: lead(),
        },
    )
    .start(2, "analysis")
    .finish(62, "analysis", ok.clone(), "")
    .start(62, "backend")
    .start(62, "frontend")
    .finish(300, "backend", ok.clone(), "")
    .finish(420, "frontend", ok, "")
    .start(420, "integration")
    .finish(
        500,
        "integration",
        AttemptEnd::Reported { success: false },
        error,
    );
    r
}

fn entry(name: &str, phases: Option<usize>, description: &str) -> ScenarioEntry {
    ScenarioEntry {
        name: name.into(),
        path: format!("/home/lead/.cortex/scenarios/{name}.yaml"),
        phases,
        description: (!description.is_empty()).then(|| description.into()),
        error: phases.is_none().then(|| "unknown field `phses`".into()),
        inputs: Vec::new(),
    }
}

/// The app with a catalog of five scenarios and the runs above.
fn app() -> App {
    let mut app = App::new("tester@host", "/home/lead/.cortex/scenarios", false);
    app.scenarios = vec![
        entry("broken", None, ""),
        entry(
            "full-stack-feature",
            Some(4),
            "Complete full-stack feature implementation with testing",
        ),
        entry(
            "incident-response",
            Some(4),
            "Rapid incident response and resolution",
        ),
        entry(
            "ship-it",
            Some(4),
            "Build two components in parallel, then package them",
        ),
    ];
    let mut release = Recorder::scenario(
        "01JRVNRE1EASE0000000000000",
        "name: release-prep\ndescription: Prepare a release\nphases:\n  - {name: freeze, run: 'true'}\n  - {name: notes, condition: 'after:freeze', run: 'true'}\n",
        Config::default(),
    );
    release
        .start(5, "freeze")
        .finish(9, "freeze", AttemptEnd::Exited { code: 0 }, "")
        .start(9, "notes")
        .finish(12, "notes", AttemptEnd::Exited { code: 0 }, "");
    let mut builds = Recorder::workflow(
        "01JRVNW0RKF10W000000000000",
        "name: build-and-ship\nsteps:\n  - {name: Build, run: 'true'}\n  - {name: Test, run: 'true'}\n  - {name: Publish, run: 'true'}\n  - {name: Announce, run: 'true'}\n",
    );
    builds
        .start(1, "Build")
        .finish(20, "Build", AttemptEnd::Exited { code: 0 }, "")
        .start(21, "Test");
    let msgs = [
        failed_phase().followed(false),
        running_parallel_pair().followed(true),
        release.followed(false),
        builds.followed(true),
    ];
    msgs.into_iter().fold(app, |app, msg| update(app, msg).0)
}

fn press(app: App, keys: &[Key]) -> App {
    keys.iter().fold(app, |app, &k| update(app, Msg::Key(k)).0)
}

fn typed(app: App, text: &str) -> App {
    text.chars()
        .fold(app, |app, c| update(app, Msg::Key(Key::Char(c))).0)
}

fn draw(app: &App, now: SystemTime) -> String {
    let mut terminal = Terminal::new(TestBackend::new(80, 24)).unwrap();
    terminal.draw(|frame| view::draw(frame, app, now)).unwrap();
    terminal.backend().to_string()
}

#[test]
fn the_scenario_list_shows_every_scenario_with_its_latest_run() {
    let app = app();
    let screen = draw(&app, at(600));
    for expected in [
        "broken",
        "invalid",
        "full-stack-feature",
        "failed",
        "incident-response",
        "release-prep",
        "completed",
        "ship-it",
        "running",
    ] {
        assert!(screen.contains(expected), "{expected} missing:\n{screen}");
    }
    insta::assert_snapshot!("list", screen);
}

#[test]
fn the_status_of_a_running_scenario_shows_the_parallel_pair_with_agents_and_times() {
    let app = press(
        app(),
        &[Key::Down, Key::Down, Key::Down, Key::Down, Key::Enter],
    );
    assert_eq!(app.screen, Screen::ScenarioRun);
    assert_eq!(app.shown_scenario.as_deref(), Some("ship-it"));
    let screen = draw(&app, at(600));
    assert!(
        screen.contains("ship-it · running · 10m 0s total"),
        "{screen}"
    );
    assert!(screen.contains("● python-pro"), "{screen}");
    insta::assert_snapshot!("status_running_parallel_pair", screen);
}

#[test]
fn a_phase_claimed_by_a_worker_says_which_worker_on_which_host() {
    let app = update(app(), pair_with_a_worker().followed(true)).0;
    let app = press(
        app,
        &[Key::Down, Key::Down, Key::Down, Key::Down, Key::Enter],
    );
    assert_eq!(app.shown_scenario.as_deref(), Some("ship-it"));
    let screen = draw(&app, at(600));
    assert!(screen.contains("on worker ci-7 on build-host"), "{screen}");
    assert_eq!(
        screen.matches("on worker").count(),
        1,
        "only the claimed phase: {screen}"
    );
    insta::assert_snapshot!("status_phase_on_a_worker", screen);
}

#[test]
/// A phase claimed by a worker whose lease lapsed (the worker killed or cut off) was shown
/// "on worker ci-7" in the TUI while `status` and the dashboard said it was orphaned: the TUI
/// reads the run's leases before its events, as `status` does, and says so too.
fn a_phase_whose_workers_lease_lapsed_is_shown_orphaned() {
    let app = update(app(), pair_with_a_worker().followed(true)).0;
    let run_id = "01JRVNW0RKER000000000000A2".to_string();
    let app = press(
        app,
        &[Key::Down, Key::Down, Key::Down, Key::Down, Key::Enter],
    );
    // A live lease holds the claimed attempt: on its worker.
    let held = std::collections::BTreeSet::from([("frontend".to_string(), 1)]);
    let app = update(
        app,
        Msg::Leases {
            run_id: run_id.clone(),
            held,
        },
    )
    .0;
    let screen = draw(&app, at(600));
    assert!(screen.contains("on worker ci-7"), "{screen}");
    assert!(!screen.contains("orphaned"), "{screen}");
    // None does any more.
    let app = update(
        app,
        Msg::Leases {
            run_id,
            held: Default::default(),
        },
    )
    .0;
    let screen = draw(&app, at(600));
    assert!(
        screen.contains("orphaned: claimed by worker ci-7"),
        "{screen}"
    );
}

#[test]
fn the_palette_filters_to_the_scenario_entries() {
    let app = press(app(), &[Key::Down, Key::Enter, Key::Ctrl('p')]);
    let app = typed(app, "scenario");
    let titles: Vec<String> = app.palette_entries().into_iter().map(|e| e.title).collect();
    assert_eq!(
        titles[..3],
        ["Scenario List", "Scenario Run", "Scenario Status"],
        "{titles:?}"
    );
    insta::assert_snapshot!("palette_scenario", draw(&app, at(600)));
    let app = typed(press(app, &[Key::Backspace; 8]), "status");
    assert_eq!(app.palette_entries()[0].title, "Scenario Status");
    insta::assert_snapshot!("palette_status", draw(&app, at(600)));
}

#[test]
fn a_failed_phase_shows_its_error_and_the_reason() {
    let app = press(
        app(),
        &[Key::Down, Key::Enter, Key::Down, Key::Down, Key::Down],
    );
    let screen = draw(&app, at(600));
    assert!(screen.contains("[!] integration"), "{screen}");
    assert!(screen.contains("failed"), "{screen}");
    insta::assert_snapshot!("status_failed_phase", screen);
}

/// A failed phase whose error holds a bidirectional override and an escape sequence (a Claude
/// Code answer, a person's message): shown as escapes on the run screen, never sent to the
/// terminal (ratatui drops control characters but passed U+202E on).
#[test]
fn a_phase_error_with_a_bidi_override_is_shown_escaped_not_obeyed() {
    let hostile = failed_phase_saying(
        "01JRVNFA11ED0000000000000C",
        "see \u{202e}gnp.exe \x1b[31mred",
    );
    let app = update(app(), hostile.followed(false)).0;
    let app = press(
        app,
        &[Key::Down, Key::Enter, Key::Down, Key::Down, Key::Down],
    );
    let screen = draw(&app, at(600));
    assert!(screen.contains(r"see \u{202e}gnp.exe"), "{screen}");
    assert!(
        !screen.contains('\u{202e}') && !screen.contains('\x1b'),
        "{screen}"
    );
}

#[test]
fn workflow_runs_show_step_progress() {
    let app = press(app(), &[Key::Tab]);
    let screen = draw(&app, at(600));
    assert!(screen.contains("Step 2/4 ██░░░░░░"), "{screen}");
    insta::assert_snapshot!("workflow_runs", screen);
    let app = press(app, &[Key::Enter]);
    assert_eq!(app.screen, Screen::WorkflowRun);
    insta::assert_snapshot!("workflow_run_steps", draw(&app, at(600)));
}

#[test]
/// A child run (started by a `uses:` step) was listed among the workflow runs like any run of
/// its own: it is marked `↳`, and its detail names its parent run and step.
fn a_child_run_is_marked_and_names_its_parent_in_the_workflow_runs() {
    let kid = Recorder::workflow(
        "01JRVNCH11D000000000000000",
        "name: kid\nsteps:\n  - {name: look, prompt: look}\n",
    );
    let mut state = kid.state();
    let mut started = (*state.start.clone().unwrap()).clone();
    started.parent = Some(cortex::event::ParentRun {
        run_id: "01JRVNPARENT00000000000000".into(),
        step: "review".into(),
        attempt: 1,
    });
    state.start = Some(std::sync::Arc::new(started));
    let app = update(app(), Msg::RunLoaded(Box::new(Followed::new(state, false)))).0;
    let app = press(app, &[Key::Tab]);
    let screen = draw(&app, at(600));
    let row = screen
        .lines()
        .find(|l| l.contains("01JRVNCH11"))
        .unwrap_or_else(|| panic!("{screen}"));
    assert!(row.contains("↳ kid"), "{screen}");
    assert_eq!(screen.matches('↳').count(), 1, "only the child: {screen}");
}

#[test]
fn help_is_drawn_over_the_screen_and_closes_on_esc() {
    let app = press(app(), &[Key::Char('?')]);
    let screen = draw(&app, at(600));
    assert!(screen.contains("Keyboard help"), "{screen}");
    insta::assert_snapshot!("help", screen);
    let app = press(app, &[Key::Esc]);
    assert!(!app.help);
    assert!(press(app, &[Key::Char('q')]).quit, "q quits");
}

#[test]
fn phase_actions_from_the_palette_become_effects_with_the_run_and_phase() {
    // A newer run of full-stack-feature whose manual phase awaits a start: the palette
    // offers the start for the selected phase.
    let fresh = Recorder::scenario("01JRVNMANVA10000000000000C", FULL_STACK, Config::default());
    let app = update(app(), fresh.followed(false)).0;
    let app = press(app, &[Key::Down, Key::Enter, Key::Ctrl('p')]);
    let app = typed(app, "start");
    let entries = app.palette_entries();
    assert_eq!(entries[0].title, "Start phase analysis");
    assert_eq!(
        entries[0].action,
        Action::Phase {
            run_id: "01JRVNMANVA10000000000000C".into(),
            scenario: "full-stack-feature".into(),
            phase: "analysis".into(),
            op: PhaseOp::Start,
        }
    );
    let (app, effects) = update(app, Msg::Key(Key::Enter));
    assert!(app.palette.is_none());
    assert_eq!(
        effects,
        [Effect::Phase {
            run_id: "01JRVNMANVA10000000000000C".into(),
            scenario: "full-stack-feature".into(),
            phase: "analysis".into(),
            op: PhaseOp::Start,
        }]
    );
    let (app, _) = update(
        app,
        Msg::Notice(Notice::error("this run has no phase `analysis`")),
    );
    assert!(draw(&app, at(10)).contains("error: this run has no phase `analysis`"));
}

/// `o` on a run screen opens the output pane for the selected step's latest attempt: the
/// shell reads it (`Msg::Output`) and the pane shows its last lines with every control
/// character as a visible escape, so a step's output can never drive the terminal.
#[test]
fn the_output_pane_shows_the_selected_attempt_with_escapes_visible() {
    use cortex::tui::app::{OutputSource, OutputView};
    let app = press(app(), &[Key::Tab, Key::Enter]);
    assert_eq!(app.screen, Screen::WorkflowRun);
    assert!(app.output_wanted().is_none(), "closed until `o`");
    let app = press(app, &[Key::Char('o')]);
    let wanted = app.output_wanted().expect("Build has run");
    assert_eq!(
        (wanted.step.as_str(), wanted.attempt, wanted.ended),
        ("Build", 1, true)
    );
    assert_eq!(
        wanted.file,
        format!(
            "logs/01JRVNW0RKF10W000000000000/step-{}-attempt-1.log",
            cortex::execute::unit_key("Build")
        )
    );
    assert!(
        draw(&app, at(600)).contains("Reading…"),
        "before the shell has read it"
    );
    let hostile = "compiling\n\x1b[2J\x1b]0;pwned\x07cleared?\nok \u{202e}gnp.exe\n";
    let app = update(
        app,
        Msg::Output(OutputView {
            run_id: wanted.run_id.clone(),
            step: "Build".into(),
            attempt: 1,
            text: hostile.into(),
            source: OutputSource::File {
                bytes: hostile.len() as u64,
                cut: false,
            },
            complete: true,
        }),
    )
    .0;
    let screen = draw(&app, at(600));
    assert!(screen.contains("output · Build · attempt 1"), "{screen}");
    assert!(screen.contains(r"\u{1b}[2J"), "{screen}");
    assert!(
        !screen.contains('\x1b') && !screen.contains('\u{202e}'),
        "{screen}"
    );
    insta::assert_snapshot!("workflow_run_output_pane", screen);
    // Another step selected: its own attempt is wanted, the old text is not shown for it.
    let app = press(app, &[Key::Down]);
    let wanted = app.output_wanted().expect("Test has started");
    assert_eq!((wanted.step.as_str(), wanted.ended), ("Test", false));
    assert!(app.output_shown().is_none());
    // A step that has not run has nothing to read; `o` closes the pane.
    let app = press(app, &[Key::Down]);
    assert!(app.output_wanted().is_none());
    assert!(draw(&app, at(600)).contains("has not run"));
    let app = press(app, &[Key::Char('o')]);
    assert!(!app.output_open && !draw(&app, at(600)).contains("has not run"));
}

/// A failed phase's error and its output's last line are drawn on the run screen; ratatui
/// drops control characters but passed a bidirectional override (U+202E, a format
/// character) to the terminal, which may reorder what is read (`gnp.exe` for `exe.png`).
/// Every text fitted into the TUI is shown with such characters as visible escapes.
#[test]
fn a_failed_phases_output_with_a_bidi_override_is_shown_escaped() {
    let config = Config {
        max_retry_attempts: 0,
        ..Config::default()
    };
    let mut r = Recorder::scenario("01JRVNZB1D1000000000000000", FULL_STACK, config);
    r.submit(
        2,
        Command::RequestStart {
            phase: "analysis".into(),
            by: lead(),
        },
    )
    .start(2, "analysis")
    .finish(
        62,
        "analysis",
        AttemptEnd::Exited { code: 1 },
        "building\nsaved report \u{202e}gnp.exe\n",
    );
    let app = update(app(), r.followed(false)).0;
    let app = press(app, &[Key::Down, Key::Enter]);
    let screen = draw(&app, at(600));
    assert!(screen.contains(r"saved report \u{202e}gnp.exe"), "{screen}");
    assert!(!screen.contains('\u{202e}'), "{screen}");
    // The run's reason, at the foot of the screen, is text from the log too.
    r.submit(
        70,
        Command::Abort {
            by: Operator {
                actor: "lead@host".into(),
                message: Some("see \u{202e}gnp.exe".into()),
            },
            cut_off: None,
        },
    );
    let app = update(app, r.followed(false)).0;
    let screen = draw(&app, at(600));
    assert!(screen.contains(r"see \u{202e}gnp.exe"), "{screen}");
    assert!(!screen.contains('\u{202e}'), "{screen}");
}

#[test]
/// A phase left for a worker offering tags, with nobody driving the run: the TUI says which
/// worker takes it, as `status` and the run page do. Before, only `status` said so.
fn a_phase_waiting_for_a_tagged_worker_says_which_worker_takes_it() {
    let tagged = SHIP_IT.replace(
        "    run: make frontend\n",
        "    run: make frontend\n    runs_on: [gpu]\n",
    );
    let mut r = Recorder::scenario("01JRVNTAGGED000000000000A3", &tagged, Config::default());
    r.start(1, "prepare")
        .finish(3, "prepare", AttemptEnd::Exited { code: 0 }, "")
        .start(4, "backend")
        .finish(9, "backend", AttemptEnd::Exited { code: 0 }, "");
    let app = update(app(), r.followed(false)).0;
    let app = press(
        app,
        &[Key::Down, Key::Down, Key::Down, Key::Down, Key::Enter],
    );
    assert_eq!(app.shown_scenario.as_deref(), Some("ship-it"));
    let screen = draw(&app, at(600));
    assert!(
        screen.contains("Waits for a worker offering tags gpu"),
        "{screen}"
    );
}

/// An aborted run of full-stack-feature, its manual `analysis` never started: the run screen
/// said "awaiting start" for it and could offer its start; a finished run awaits nothing, so
/// the phase is `pending` (as `orchestrate status` says) and the palette offers no action on
/// the run or its phases.
#[test]
fn a_finished_runs_manual_phase_is_pending_with_no_actions() {
    let mut aborted =
        Recorder::scenario("01JRVNXAB0RTED00000000000D", FULL_STACK, Config::default());
    aborted.submit(
        5,
        Command::Abort {
            by: lead(),
            cut_off: None,
        },
    );
    let app = update(app(), aborted.followed(false)).0;
    let app = press(app, &[Key::Down, Key::Enter]);
    let screen = draw(&app, at(600));
    let row = screen
        .lines()
        .find(|l| l.contains("analysis"))
        .unwrap_or_else(|| panic!("{screen}"));
    assert!(row.contains("pending"), "{screen}");
    assert!(!screen.contains("awaiting start"), "{screen}");
    assert!(screen.contains("aborted"), "{screen}");
    let app = press(app, &[Key::Ctrl('p')]);
    let titles: Vec<String> = app.palette_entries().into_iter().map(|e| e.title).collect();
    assert!(
        !titles
            .iter()
            .any(|t| t.contains("phase") || t.contains("Stop") || t.contains("Resume")),
        "{titles:?}"
    );
    insta::assert_snapshot!("status_aborted_manual_phase", screen);
}

/// On a log that can be read but not written (a read-only home), the TUI listed no runs ("No
/// workflow runs yet") and cut its error at the screen's edge: its runs are shown, why nothing
/// can be recorded is said once and whole (wrapped), and the palette offers nothing that
/// records.
#[test]
fn a_read_only_log_shows_its_runs_and_says_whole_why_nothing_can_be_recorded() {
    let why = "the event log is read-only: /home/lead/.cortex/cortex.db cannot be written \
               (Read-only file system (os error 30)). Runs are shown as recorded, but nothing \
               can be started, reported or stopped from here (make cortex.db and its folder \
               writable, then start cortex tui again).";
    let app = update(app(), Msg::ReadOnly(why.into())).0;
    let app = press(app, &[Key::Tab]);
    let screen = draw(&app, at(600));
    assert!(screen.contains("Workflow runs (1"), "{screen}");
    assert!(!screen.contains("yet"), "{screen}");
    let said: String = screen
        .lines()
        .map(|l| l.trim_matches('"').trim())
        .collect::<Vec<_>>()
        .join(" ");
    assert!(said.contains(why), "said whole: {screen}");
    assert_eq!(screen.matches("read-only").count(), 1, "once: {screen}");
    insta::assert_snapshot!("workflow_runs_read_only", screen);

    let app = press(app, &[Key::Tab, Key::Down, Key::Enter, Key::Ctrl('p')]);
    let titles: Vec<String> = app.palette_entries().into_iter().map(|e| e.title).collect();
    assert_eq!(
        titles,
        [
            "Scenario List",
            "Scenario Status",
            "Workflow Runs",
            "Keyboard Help",
            "Quit"
        ]
    );
    // Refused even if asked for some other way.
    let (app, effects) = cortex::tui::app::apply(
        app,
        Action::ScenarioRun {
            scenario: "ship-it".into(),
            target: "ship-it".into(),
        },
    );
    assert!(effects.is_empty());
    assert!(app.notice.is_some_and(|n| n.error));
}

fn input(name: &str, spec: cortex::definition::InputSpec, secret: bool) -> InputField {
    InputField {
        name: name.into(),
        required: spec.required,
        default: spec.default.as_ref().map(cortex::execute::input_text),
        secret,
        description: spec.description.clone(),
        spec,
    }
}

/// Scenario Run on a scenario with a required input started a driver that exited 2 in the
/// background, its reason only in its output file: the palette asks for the inputs first —
/// one line each, defaults filled in, required ones marked, a secret's value not shown —,
/// checks them as `orchestrate run` does, and only then starts the run with them.
#[test]
fn scenario_run_asks_for_the_inputs_before_starting_and_checks_them() {
    use cortex::definition::InputSpec;
    let mut app = app();
    app.scenarios.push(ScenarioEntry {
        inputs: vec![
            input(
                "channel",
                InputSpec {
                    default: Some("stable".into()),
                    ..InputSpec::default()
                },
                false,
            ),
            input(
                "api_token",
                InputSpec {
                    required: true,
                    description: Some("for the registry".into()),
                    ..InputSpec::default()
                },
                true,
            ),
            input(
                "version",
                InputSpec {
                    required: true,
                    pattern: Some(r"^\d+\.\d+\.\d+$".into()),
                    ..InputSpec::default()
                },
                false,
            ),
        ],
        ..entry("release", Some(3), "Build, review, publish")
    });
    let release = app
        .scenario_rows()
        .iter()
        .position(|r| r.name == "release")
        .unwrap();
    app.scenario_cursor = release;
    let app = press(app, &[Key::Ctrl('p')]);
    let app = typed(app, "scenario run");
    assert_eq!(app.palette_entries()[0].title, "Scenario Run");
    let (app, effects) = update(app, Msg::Key(Key::Enter));
    assert!(effects.is_empty(), "nothing starts before the inputs");
    let form = app.form.as_ref().expect("the input form is open");
    assert_eq!(form.values, ["stable", "", ""], "defaults filled in");

    let app = typed(press(app, &[Key::Down]), "s3cr3t-value");
    let (app, effects) = update(app, Msg::Key(Key::Enter));
    assert!(effects.is_empty());
    assert_eq!(
        app.form.as_ref().unwrap().problem.as_deref(),
        Some("input `version` is required")
    );
    let app = typed(press(app, &[Key::Down]), "1.2");
    let (app, effects) = update(app, Msg::Key(Key::Enter));
    assert!(effects.is_empty());
    let problem = app.form.as_ref().unwrap().problem.clone().unwrap();
    assert!(problem.contains("does not match the pattern"), "{problem}");
    let screen = draw(&app, at(600));
    assert!(
        !screen.contains("s3cr3t"),
        "a secret is never shown: {screen}"
    );
    assert!(
        screen.contains("api_token*") && screen.contains("version*"),
        "{screen}"
    );
    insta::assert_snapshot!("input_form", screen);

    let app = typed(app, ".3");
    let (app, effects) = update(app, Msg::Key(Key::Enter));
    assert!(app.form.is_none());
    assert_eq!(
        effects,
        [Effect::Run {
            scenario: "release".into(),
            target: "release".into(),
            inputs: vec![
                GivenInput {
                    name: "api_token".into(),
                    value: "s3cr3t-value".into(),
                    secret: true
                },
                GivenInput {
                    name: "version".into(),
                    value: "1.2.3".into(),
                    secret: false
                },
            ],
        }],
        "a default left as it is is not given"
    );
    assert!(app.launching_shown());
}

/// Scenario Run was offered for a scenario that does not validate (its driver then exited 2):
/// the entry says it cannot, and Enter shows why, starting nothing.
#[test]
fn an_invalid_scenario_is_not_offered_to_run_and_says_why() {
    let app = press(app(), &[Key::Home, Key::Ctrl('p')]);
    let app = typed(app, "scenario run");
    let run = &app.palette_entries()[0];
    assert_eq!(run.title, "Scenario Run");
    assert!(run.detail.contains("broken is not valid"), "{}", run.detail);
    let (app, effects) = update(app, Msg::Key(Key::Enter));
    assert!(effects.is_empty());
    let notice = app.notice.clone().unwrap();
    assert!(
        notice.error && notice.text.contains("unknown field `phses`"),
        "{notice:?}"
    );
    assert!(app.launching.is_none());
}

/// The titles of the palette's workflow-run entries, as offered now.
fn workflow_titles(app: &App) -> Vec<String> {
    app.palette_entries()
        .into_iter()
        .filter(|e| matches!(e.action, Action::Workflow { .. }))
        .map(|e| e.title)
        .collect()
}

/// `deploy` with its `Test` step failed for good (no retries left): the run is paused on the
/// failure, nobody driving it.
fn failed_workflow_step() -> Recorder {
    let config = Config {
        max_retry_attempts: 0,
        ..Config::default()
    };
    let mut r = Recorder::workflow_with(
        "01JRVNWFFA11ED000000000000",
        "name: deploy\nsteps:\n  - {name: Build, run: 'true'}\n  - {name: Test, run: 'false'}\n  - {name: Ship, run: 'true'}\n",
        config,
    );
    r.start(1, "Build")
        .finish(5, "Build", AttemptEnd::Exited { code: 0 }, "")
        .start(5, "Test")
        .finish(9, "Test", AttemptEnd::Exited { code: 1 }, "1 test failed");
    r
}

/// A workflow run was offered no stop, resume or abort in the TUI (only scenario runs were):
/// a run paused on a failed step offers what `workflow status` suggests for it — retry, skip,
/// abort — and no stop (nothing runs); Enter on one asks the shell to act on that run.
#[test]
fn a_failed_workflow_run_offers_retry_skip_and_abort_in_the_palette_and_they_become_effects() {
    let failed = failed_workflow_step();
    let app = update(app(), failed.followed(false)).0;
    // The workflow list, newest first: the failed run is the first row.
    let app = press(app, &[Key::Tab]);
    assert_eq!(
        app.workflow_in_view().map(|f| f.state.run_id.as_str()),
        Some("01JRVNWFFA11ED000000000000")
    );
    let app = press(app, &[Key::Ctrl('p')]);
    let titles = workflow_titles(&app);
    assert_eq!(
        titles,
        [
            "Retry failed step",
            "Skip failed step",
            "Abort workflow run"
        ],
        "{titles:?}"
    );
    let entries = app.palette_entries();
    let retry = entries
        .iter()
        .find(|e| e.title == "Retry failed step")
        .unwrap();
    assert!(retry.detail.starts_with("deploy: "), "{}", retry.detail);
    assert!(retry.detail.contains("`Test`"), "{}", retry.detail);

    let app = typed(app, "retry");
    assert_eq!(app.palette_entries()[0].title, "Retry failed step");
    // The resume's form first (its time limit; the run has no secret input to ask for).
    let (app, effects) = update(app, Msg::Key(Key::Enter));
    assert!(effects.is_empty(), "nothing before the form's Enter");
    let form = app.form.as_ref().expect("the resume's form is open");
    assert!(form.fields.is_empty());
    let (app, effects) = update(app, Msg::Key(Key::Enter));
    assert!(app.form.is_none());
    assert_eq!(
        effects,
        [Effect::Resume(ResumeAsked {
            run_id: "01JRVNWFFA11ED000000000000".into(),
            name: "deploy".into(),
            kind: RunKind::Workflow,
            mode: ResumeMode::Retry,
            inputs: Vec::new(),
            timeout: None,
        })]
    );
    assert_eq!(
        app.notice,
        Some(Notice::info("Resuming deploy, its failed step again…"))
    );

    // The same from the run's own screen: abort.
    let app = press(app, &[Key::Enter, Key::Ctrl('p')]);
    assert_eq!(app.screen, Screen::WorkflowRun);
    let app = typed(app, "abort");
    let (app, effects) = update(app, Msg::Key(Key::Enter));
    assert_eq!(
        effects,
        [Effect::Workflow {
            run_id: "01JRVNWFFA11ED000000000000".into(),
            name: "deploy".into(),
            act: RunAct::Abort,
        }]
    );
    assert_eq!(app.notice, Some(Notice::info("Aborting deploy…")));
}

/// A running workflow run (its driver alive) offers its stop and abort, never a resume (a
/// driver holds it); one stopped offers its resume and abort, never a second stop; a finished
/// one offers none of them; and a log that cannot be written offers none at all.
#[test]
fn workflow_run_actions_are_offered_only_where_the_runs_state_takes_them() {
    // `build-and-ship` of `app()`: `Test` running, its driver alive.
    let app = press(app(), &[Key::Tab, Key::Ctrl('p')]);
    assert_eq!(
        workflow_titles(&app),
        ["Stop workflow run", "Abort workflow run"]
    );
    let app = typed(app, "stop");
    let (app, effects) = update(app, Msg::Key(Key::Enter));
    assert_eq!(
        effects,
        [Effect::Workflow {
            run_id: "01JRVNW0RKF10W000000000000".into(),
            name: "build-and-ship".into(),
            act: RunAct::Stop,
        }]
    );
    assert_eq!(app.notice, Some(Notice::info("Stopping build-and-ship…")));

    // Stopped: resume and abort.
    let mut stopped = Recorder::workflow(
        "01JRVNWST0PPED000000000000",
        "name: nightly\nsteps:\n  - {name: Crawl, run: 'sleep 100'}\n",
    );
    stopped.start(1, "Crawl").submit(
        3,
        Command::Stop {
            by: lead(),
            signal: None,
        },
    );
    let app = update(app, stopped.followed(false)).0;
    let app = press(app, &[Key::Home, Key::Ctrl('p')]);
    assert_eq!(
        workflow_titles(&app),
        ["Resume workflow run", "Abort workflow run"]
    );
    let app = press(app, &[Key::Esc]);

    // Finished: nothing.
    let mut done = Recorder::workflow(
        "01JRVNWZD0NE00000000000000",
        "name: tidy\nsteps:\n  - {name: Sweep, run: 'true'}\n",
    );
    done.start(1, "Sweep")
        .finish(2, "Sweep", AttemptEnd::Exited { code: 0 }, "");
    assert!(done.state().outcome().is_some(), "the run finished");
    let app = update(app, done.followed(false)).0;
    let app = press(app, &[Key::Home, Key::Ctrl('p')]);
    assert_eq!(
        app.workflow_in_view().map(|f| f.name()),
        Some("tidy"),
        "the newest run is selected"
    );
    assert!(
        workflow_titles(&app).is_empty(),
        "{:?}",
        workflow_titles(&app)
    );
    let app = press(app, &[Key::Esc, Key::Down, Key::Ctrl('p')]);
    assert_eq!(workflow_titles(&app)[0], "Resume workflow run");

    // A read-only log: nothing that records is offered.
    let app = press(app, &[Key::Esc]);
    let app = update(app, Msg::ReadOnly("a read-only home".into())).0;
    let app = press(app, &[Key::Ctrl('p')]);
    assert!(workflow_titles(&app).is_empty());
}

/// `publish`, started with the secret input `api_token` (the log keeps `***`) and paused on
/// its failed `Push` step: a resume goes on only with the token given again.
fn paused_for_a_secret_input() -> Recorder {
    paused_on_push(
        "01JRVNWSECRET0000000000000",
        "name: publish\ninputs:\n  api_token: {type: string, required: true, description: for the registry}\n  channel: {type: string, default: stable}\nsteps:\n  - name: Push\n    run: push \"$API_TOKEN\"\n    env: {API_TOKEN: '${{ inputs.api_token }}'}\n",
        &[("api_token", "***"), ("channel", "stable")],
    )
}

/// Run `run_id` of workflow `yaml` (its secret input `api_token`, its `inputs` as recorded),
/// its step `Push` failed and the run paused.
fn paused_on_push(run_id: &str, yaml: &str, inputs: &[(&str, &str)]) -> Recorder {
    let wf = parse_workflow("w.yaml", yaml).unwrap();
    let start = RunStarted {
        config: Config {
            max_retry_attempts: 0,
            ..Config::default()
        },
        inputs: inputs
            .iter()
            .map(|(k, v)| (k.to_string(), serde_json::json!(v)))
            .collect(),
        secret_inputs: vec!["api_token".into()],
        ..common::run_started(
            RunKind::Workflow,
            "publish",
            snapshot(&wf),
            "w.yaml",
            lead(),
        )
    };
    let mut r = Recorder::from_start(run_id, start);
    r.start(1, "Push").finish(
        4,
        "Push",
        AttemptEnd::Exited { code: 1 },
        "401 unauthorized",
    );
    r
}

/// Seen by a review: a resume's form asked for every secret input the run lacked, required,
/// though the resume asked for might read none (`resume --skip` of a failed command step
/// with only a prompt step after it) and the CLI's resume would not ask. It asks for those
/// that resume may read (`plan::resume_secret_inputs`, as `resume` asks): none for the skip,
/// the input for a retry, which runs the command again.
#[test]
fn a_resume_form_asks_only_for_the_secret_inputs_that_resume_may_read() {
    let r = paused_on_push(
        "01JRVNWSK1PSECRET000000000",
        "name: publish\ninputs:\n  api_token: {type: string, required: true}\nsteps:\n  - name: Push\n    run: push \"$API_TOKEN\"\n    env: {API_TOKEN: '${{ inputs.api_token }}'}\n  - name: Announce\n    prompt: Announce it\n",
        &[("api_token", "***")],
    );
    let app = update(app(), r.followed(false)).0;
    let fields = |app: App, action: &str| -> Vec<String> {
        let app = typed(press(app, &[Key::Ctrl('p')]), action);
        let app = press(app, &[Key::Enter]);
        let form = app.form.as_ref().expect("the resume's form is open");
        form.fields.iter().map(|f| f.name.clone()).collect()
    };
    let app = press(app, &[Key::Tab]);
    assert_eq!(fields(app.clone(), "skip failed"), Vec::<String>::new());
    assert_eq!(fields(app, "retry failed"), ["api_token"]);
}

/// Seen by a review: a resume form with a missing secret input and a bad time limit said the
/// first problem only, and the second once the first was mended. Both are said at once.
#[test]
fn a_resume_forms_problems_are_said_together() {
    let app = update(app(), paused_for_a_secret_input().followed(false)).0;
    let app = press(app, &[Key::Tab, Key::Ctrl('p')]);
    let app = typed(app, "retry");
    let (app, _) = update(app, Msg::Key(Key::Enter));
    let app = typed(press(app, &[Key::Down]), "abc");
    let (app, effects) = update(app, Msg::Key(Key::Enter));
    assert!(effects.is_empty());
    let problem = app.form.as_ref().unwrap().problem.clone().unwrap();
    assert!(
        problem.contains("input `api_token` is required"),
        "{problem}"
    );
    assert!(problem.contains("--timeout"), "{problem}");
}

/// Seen by a review: the resume form took `0.5s` and recorded `timeout 1 s` without saying
/// so. Its time limit is read by `resume --timeout`'s rule: a fraction of a second is refused
/// on the form, naming the whole seconds to write, and nothing is asked for; `5 m` is `5m`,
/// as `resume --timeout` takes it.
#[test]
fn a_resume_forms_time_limit_with_a_fraction_of_a_second_is_refused_as_the_cli_refuses_it() {
    let app = update(app(), paused_for_a_secret_input().followed(false)).0;
    let app = press(app, &[Key::Tab, Key::Ctrl('p')]);
    let app = typed(app, "retry");
    let (app, _) = update(app, Msg::Key(Key::Enter));
    let app = typed(app, "tok-1");
    let app = typed(press(app, &[Key::Down]), "0.5s");
    let (app, effects) = update(app, Msg::Key(Key::Enter));
    assert!(effects.is_empty(), "nothing is asked for");
    let problem = app.form.as_ref().unwrap().problem.clone().unwrap();
    assert!(
        problem.contains("`0.5s`, which is not a whole number of seconds")
            && problem.contains("write `1s`"),
        "{problem}"
    );
    insta::assert_snapshot!("resume_form_sub_second_limit", draw(&app, at(600)));
    let app = typed(press(app, &[Key::Backspace; 4]), "5 m");
    let (app, effects) = update(app, Msg::Key(Key::Enter));
    assert!(app.form.is_none());
    assert!(
        matches!(&effects[..], [Effect::Resume(ResumeAsked { timeout: Some(t), .. })] if t == "5 m"),
        "{effects:?}"
    );
}

/// The TUI's resume could not give a run the secret inputs it needs to go on (the CLI's
/// `resume --input NAME=VALUE`, `CORTEX_INPUT_<NAME>`), nor a time limit (`resume
/// --timeout`): a resume opens a form with a masked field for each secret input the run
/// lacks — none the TUI's environment gives — and one for the time limit, checked as `resume`
/// checks them, and Enter asks for the resume with them. What is typed in a secret field is
/// on no screen.
#[test]
fn a_resume_asks_for_the_secret_inputs_the_run_lacks_masked_and_for_a_time_limit() {
    let secret = "tok-9f3e1c77ab";
    let app = update(app(), paused_for_a_secret_input().followed(false)).0;
    let app = press(app, &[Key::Tab, Key::Ctrl('p')]);
    assert_eq!(app.workflow_in_view().map(|f| f.name()), Some("publish"));
    let app = typed(app, "retry");
    let (app, effects) = update(app, Msg::Key(Key::Enter));
    assert!(effects.is_empty(), "nothing before the form's Enter");
    let form = app.form.as_ref().expect("the resume's form is open");
    let names: Vec<&str> = form.fields.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["api_token"], "only the secret input, not `channel`");

    // Empty: refused, saying which.
    let (app, effects) = update(app, Msg::Key(Key::Enter));
    assert!(effects.is_empty());
    assert_eq!(
        app.form.as_ref().unwrap().problem.as_deref(),
        Some("input `api_token` is required")
    );
    let app = typed(app, secret);
    let app = typed(press(app, &[Key::Down]), "soon");
    let (app, effects) = update(app, Msg::Key(Key::Enter));
    assert!(effects.is_empty(), "a time limit that is none is refused");
    let problem = app.form.as_ref().unwrap().problem.clone().unwrap();
    assert!(problem.contains("--timeout"), "{problem}");
    let app = typed(press(app, &[Key::Backspace; 4]), "2h");
    let screen = draw(&app, at(600));
    assert!(
        !screen.contains(secret),
        "a secret is never shown: {screen}"
    );
    assert!(
        screen.contains("api_token*") && screen.contains("••••••••••••••"),
        "{screen}"
    );
    insta::assert_snapshot!("resume_form", screen);

    let (app, effects) = update(app, Msg::Key(Key::Enter));
    assert!(app.form.is_none());
    assert_eq!(
        effects,
        [Effect::Resume(ResumeAsked {
            run_id: "01JRVNWSECRET0000000000000".into(),
            name: "publish".into(),
            kind: RunKind::Workflow,
            mode: ResumeMode::Retry,
            inputs: vec![GivenInput {
                name: "api_token".into(),
                value: secret.into(),
                secret: true,
            }],
            timeout: Some("2h".into()),
        })]
    );
    assert!(!format!("{:?}", app.notice).contains(secret));

    // Given by the TUI's environment (`CORTEX_INPUT_API_TOKEN`, which its drivers inherit):
    // not asked for; the form has the time limit alone, and Esc records nothing.
    let mut app = app;
    app.inputs_in_env = ["CORTEX_INPUT_API_TOKEN".to_string()].into();
    let app = typed(press(app, &[Key::Ctrl('p')]), "retry");
    let app = press(app, &[Key::Enter]);
    assert!(app.form.as_ref().unwrap().fields.is_empty());
    let (app, effects) = update(app, Msg::Key(Key::Esc));
    assert!(effects.is_empty() && app.form.is_none());
    assert_eq!(
        app.notice,
        Some(Notice::info(
            "Resume of publish cancelled: nothing recorded"
        ))
    );
}

/// The line under a scenario's panel is wrapped, not cut at the screen's edge: a phase with a
/// long name that waits for a report is named whole.
#[test]
fn the_waiting_line_under_the_panel_wraps_a_long_phase_name() {
    let long = format!("beta-{}", "x".repeat(95));
    let mut r = Recorder::scenario(
        "01JRVNWA1T1NG0000000000000",
        &format!("name: ship-it\ndescription: d\nphases:\n  - {{name: {long}}}\n"),
        Config::default(),
    );
    r.start(1, &long);
    let app = update(app(), r.followed(true)).0;
    let app = press(
        app,
        &[Key::Down, Key::Down, Key::Down, Key::Down, Key::Enter],
    );
    assert_eq!(app.shown_scenario.as_deref(), Some("ship-it"));
    let screen = draw(&app, at(600));
    let joined: String = screen
        .lines()
        .map(|l| l.trim_matches('"').trim())
        .collect::<Vec<_>>()
        .join("");
    assert!(
        joined.contains(&format!("Waits for a report on {long}"))
            && joined.contains("Complete or Fail"),
        "{screen}"
    );
}
