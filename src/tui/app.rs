//! The TUI's state and `update`: a pure function from the state and one message — a key, news
//! from the log, the outcome of an action — to the next state and the effects the shell must
//! carry out. Nothing here reads the clock, the terminal or the log.

use std::collections::{BTreeMap, BTreeSet};

use crate::decide::evolve;
use crate::event::Recorded;
use crate::plan::topological_order;

use super::model::{
    Followed, InputField, ScenarioEntry, ScenarioRow, latest_scenario_run, scenario_rows,
};
use super::palette::{self, Entry};
use crate::event::{ResumeMode, RunKind};
use crate::project::RunAct;

/// What fills the screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    /// Every scenario with its latest run.
    Scenarios,
    /// One scenario's latest run: the phase checklist.
    ScenarioRun,
    /// Workflow runs, newest first, with step progress.
    Workflows,
    /// One workflow run's steps.
    WorkflowRun,
}

/// A key as the app understands it (the shell translates the terminal's key events).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    Char(char),
    /// A letter with Ctrl held (`Ctrl('p')`).
    Ctrl(char),
    Enter,
    Esc,
    Backspace,
    Up,
    Down,
    Left,
    Right,
    Tab,
    BackTab,
    PageUp,
    PageDown,
    Home,
    End,
}

/// What an operator can do to one phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhaseOp {
    Start,
    Complete,
    Fail,
}

impl PhaseOp {
    pub fn verb(self) -> &'static str {
        match self {
            PhaseOp::Start => "start",
            PhaseOp::Complete => "complete",
            PhaseOp::Fail => "fail",
        }
    }
}

/// What a palette entry does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    ScenarioList,
    /// Start a new run of a scenario (`target` is what `orchestrate run` takes).
    ScenarioRun {
        scenario: String,
        target: String,
    },
    ScenarioStatus {
        scenario: String,
    },
    /// Say why an action cannot be taken (a definition that does not validate).
    Explain(String),
    WorkflowRuns,
    Phase {
        run_id: String,
        scenario: String,
        phase: String,
        op: PhaseOp,
    },
    Stop {
        run_id: String,
        scenario: String,
    },
    Resume {
        run_id: String,
        scenario: String,
    },
    /// Stop, resume (in a mode) or abort a workflow run, as `workflow stop|resume|abort` do.
    Workflow {
        run_id: String,
        /// The workflow's name, for the notices.
        name: String,
        act: RunAct,
    },
    Help,
    Quit,
}

impl Action {
    /// Whether it writes to the log (or starts a driver that does).
    pub fn records(&self) -> bool {
        matches!(
            self,
            Action::ScenarioRun { .. }
                | Action::Phase { .. }
                | Action::Stop { .. }
                | Action::Resume { .. }
                | Action::Workflow { .. }
        )
    }
}

/// Work for the shell: each is carried out off the UI thread and answers with messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Read the scenario catalog again.
    ReloadCatalog,
    /// Record an operator's report or start request (as `orchestrate start|complete|fail`),
    /// then hand the run to a background driver if it has work and nobody drives it.
    Phase {
        run_id: String,
        scenario: String,
        phase: String,
        op: PhaseOp,
    },
    /// Stop a run (as `orchestrate stop`), without waiting for its driver.
    Stop { run_id: String, scenario: String },
    /// Start a background `cortex orchestrate run TARGET`, with these inputs (`--input
    /// NAME=VALUE`; a secret's through the driver's environment).
    Run {
        scenario: String,
        target: String,
        inputs: Vec<GivenInput>,
    },
    /// Start a background `cortex workflow|orchestrate resume RUN` as asked.
    Resume(ResumeAsked),
    /// A workflow run's stop or abort (`workflow stop|abort`, with the TUI's actor), or a
    /// background `cortex workflow resume RUN` in the mode asked for.
    Workflow {
        run_id: String,
        name: String,
        act: RunAct,
    },
}

/// An input given in the input form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GivenInput {
    pub name: String,
    pub value: String,
    pub secret: bool,
}

/// A resume of run `run_id` in `mode`, as a terminal asks for it: `--input NAME=VALUE` for
/// each of `inputs` (the run's secret inputs, given to the driver through its environment,
/// `CORTEX_INPUT_<NAME>`) and `--timeout` for `timeout`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResumeAsked {
    pub run_id: String,
    /// The workflow's or scenario's name, for the notices.
    pub name: String,
    pub kind: RunKind,
    pub mode: ResumeMode,
    pub inputs: Vec<GivenInput>,
    pub timeout: Option<String>,
}

/// What a form is for: what Enter does with what was typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FormFor {
    /// Start a run of `scenario` (`target` is what `orchestrate run` takes).
    Run { scenario: String, target: String },
    /// This resume, given the inputs and time limit typed.
    Resume(ResumeAsked),
}

impl FormFor {
    /// The form's title.
    pub fn title(&self) -> String {
        match self {
            FormFor::Run { scenario, .. } => format!("Inputs of {scenario}"),
            FormFor::Resume(ResumeAsked { name, mode, .. }) => match mode {
                ResumeMode::Continue => format!("Resume {name}"),
                ResumeMode::Retry => format!("Resume {name}: its failed step again"),
                ResumeMode::Skip => format!("Resume {name}: its failed step skipped"),
                ResumeMode::From(step) => format!("Resume {name} from {step}"),
                ResumeMode::RollbackTo(step) => format!("Roll {name} back to {step}"),
            },
        }
    }

    /// What Enter does, in a word.
    pub fn verb(&self) -> &'static str {
        match self {
            FormFor::Run { .. } => "start",
            FormFor::Resume(_) => "resume",
        }
    }
}

/// A form drawn over the screen: the input form Scenario Run opens for a scenario that
/// declares inputs (one line per input, defaults filled in, required ones marked), or the one
/// a resume opens (a line for each secret input the run lacks, which the log keeps as `***`,
/// and one for its time limit). A secret's value is never shown as typed.
#[derive(Debug, Clone, PartialEq)]
pub struct InputForm {
    pub what: FormFor,
    pub fields: Vec<InputField>,
    /// What is typed in each field (a default filled in, except a secret's).
    pub values: Vec<String>,
    /// The time limit typed (`resume --timeout`), on the line after the fields: a resume's
    /// form has it, a run's not.
    pub timeout: Option<String>,
    pub selected: usize,
    /// Why Enter did not go on: what is wrong with what was typed.
    pub problem: Option<String>,
}

impl InputForm {
    fn new(scenario: String, target: String, fields: Vec<InputField>) -> InputForm {
        let values = fields
            .iter()
            .map(|f| match (&f.default, f.secret) {
                (Some(d), false) => d.clone(),
                _ => String::new(),
            })
            .collect();
        InputForm {
            what: FormFor::Run { scenario, target },
            fields,
            values,
            timeout: None,
            selected: 0,
            problem: None,
        }
    }

    /// The form of a resume of `run` in `mode`: a field for each secret input whose value
    /// that resume asks for (`plan::resume_secret_inputs`: those what is left of the run may
    /// read, as `resume` asks for them; before, every one, so a resume that reads none had a
    /// required field nothing would use) and the TUI's environment does not give
    /// (`given_by_env`: the names of its `CORTEX_INPUT_<NAME>` variables, which the driver
    /// inherits), each required, and the time limit.
    fn resume(run: &Followed, mode: ResumeMode, given_by_env: &BTreeSet<String>) -> InputForm {
        let to_give = crate::plan::resume_secret_inputs(&run.state, &mode);
        let fields: Vec<InputField> = to_give
            .into_iter()
            .filter(|name| !given_by_env.contains(&crate::execute::input_env_name(name)))
            .map(|name| {
                // Checked as `resume` checks it (type, pattern, range), required here.
                let mut spec = run
                    .state
                    .workflow
                    .as_ref()
                    .and_then(|w| w.inputs.get(&name).cloned())
                    .unwrap_or_default();
                spec.required = false;
                spec.default = None;
                InputField {
                    description: Some(spec.description.clone().unwrap_or_else(|| {
                        "secret: the log keeps only ***; give its value again".into()
                    })),
                    name,
                    required: true,
                    default: None,
                    secret: true,
                    spec,
                }
            })
            .collect();
        InputForm {
            what: FormFor::Resume(ResumeAsked {
                run_id: run.state.run_id.clone(),
                name: run.name().to_string(),
                kind: run.kind(),
                mode,
                inputs: Vec::new(),
                timeout: None,
            }),
            values: vec![String::new(); fields.len()],
            fields,
            timeout: Some(String::new()),
            selected: 0,
            problem: None,
        }
    }

    /// How many lines can be selected: the fields, and the time limit's.
    pub fn lines(&self) -> usize {
        self.fields.len() + usize::from(self.timeout.is_some())
    }

    /// What is typed on the selected line.
    fn selected_text(&mut self) -> Option<&mut String> {
        match self.values.get_mut(self.selected) {
            Some(v) => Some(v),
            None => self.timeout.as_mut(),
        }
    }

    /// The inputs to give: every field typed in (one left empty takes its default), checked
    /// as `orchestrate run` checks them (`resolve_inputs`; a path's existence is left to the
    /// run), or what is wrong with them (a secret's value never quoted).
    pub fn given(&self) -> Result<Vec<GivenInput>, String> {
        let given = self.typed()?;
        let specs: std::collections::BTreeMap<String, crate::definition::InputSpec> = self
            .fields
            .iter()
            .map(|f| (f.name.clone(), f.spec.clone()))
            .collect();
        let pairs: Vec<(String, String)> = given
            .iter()
            .map(|g| (g.name.clone(), g.value.clone()))
            .collect();
        crate::validate::resolve_inputs(&specs, &pairs, &|_| true).map_err(|problems| {
            let mut text = problems.join("; ");
            for g in given.iter().filter(|g| g.secret && !g.value.is_empty()) {
                text = text.replace(&g.value, "***");
            }
            text
        })?;
        Ok(given)
    }

    /// The time limit typed (none when left empty: the configuration's), checked as `resume
    /// --timeout` checks it (`limits::run_timeout_seconds`: whole seconds, a fraction refused
    /// rather than rounded), or what is wrong with it.
    pub fn time_limit(&self) -> Result<Option<String>, String> {
        let Some(text) = self
            .timeout
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
        else {
            return Ok(None);
        };
        // The line's own help says how to write one (`2h, 90m, seconds; 0 for none`), as
        // `resume --timeout`'s hint does.
        crate::definition::limits::run_timeout_seconds(text)?;
        Ok(Some(text.to_string()))
    }

    fn typed(&self) -> Result<Vec<GivenInput>, String> {
        let mut given = Vec::new();
        for (f, v) in self.fields.iter().zip(&self.values) {
            if v.is_empty() {
                if f.required && f.default.is_none() {
                    return Err(format!("input `{}` is required", f.name));
                }
                continue;
            }
            // A default left as it was is the default: not given, as on the command line.
            if !f.secret && f.default.as_deref() == Some(v.as_str()) {
                continue;
            }
            given.push(GivenInput {
                name: f.name.clone(),
                value: v.clone(),
                secret: f.secret,
            });
        }
        Ok(given)
    }
}

/// Two checks' results together: both values, or every problem (joined).
fn both<A, B>(a: Result<A, String>, b: Result<B, String>) -> Result<(A, B), String> {
    match (a, b) {
        (Ok(a), Ok(b)) => Ok((a, b)),
        (Err(a), Err(b)) => Err(format!("{a}; {b}")),
        (Err(e), _) | (_, Err(e)) => Err(e),
    }
}

/// The attempt whose output the pane should show: the selected step's latest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputWanted {
    pub run_id: String,
    pub step: String,
    pub attempt: u32,
    /// Its whole-output file, relative to the home (`execute::attempt_log_name`).
    pub file: String,
    /// What the log kept of its output when it ended, for where the file is not here.
    pub tail: String,
    /// The attempt has ended: its file will not grow.
    pub ended: bool,
}

/// Where the pane's text came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputSource {
    /// The attempt's whole-output file beside the log (its last part when it is long).
    File { bytes: u64, cut: bool },
    /// The whole output the log keeps (PostgreSQL), its file not here: its last part when it
    /// is long.
    Log { bytes: u64, cut: bool },
    /// The tail the log kept (the file is on another host, or gone).
    KeptTail,
    /// No output: none yet, or the attempt printed nothing.
    Nothing,
}

/// What the output pane shows: one attempt's output as the shell last read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputView {
    pub run_id: String,
    pub step: String,
    pub attempt: u32,
    pub text: String,
    pub source: OutputSource,
    /// Read after the attempt ended: nothing more will come.
    pub complete: bool,
}

/// A line for the status bar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    pub text: String,
    pub error: bool,
}

impl Notice {
    pub fn info(text: impl Into<String>) -> Notice {
        Notice {
            text: text.into(),
            error: false,
        }
    }

    pub fn error(text: impl Into<String>) -> Notice {
        Notice {
            text: text.into(),
            error: true,
        }
    }
}

/// Something that happened.
#[derive(Debug, Clone, PartialEq)]
pub enum Msg {
    Key(Key),
    /// The scenario catalog as read now.
    Catalog(Vec<ScenarioEntry>),
    /// A run the TUI did not follow yet, folded up to its head.
    RunLoaded(Box<Followed>),
    /// Events appended to a followed run since the TUI last looked.
    RunEvents {
        run_id: String,
        events: Vec<Recorded>,
    },
    /// A run's driver appeared or went away.
    DriverAlive {
        run_id: String,
        alive: bool,
    },
    /// The units (and attempts) a live lease holds in a followed run, read before its events
    /// of the same poll.
    Leases {
        run_id: String,
        held: std::collections::BTreeSet<(String, u32)>,
    },
    /// The outcome of an action, for the status bar.
    Notice(Notice),
    /// A background driver the TUI started has ended.
    DriverEnded {
        scenario: String,
        notice: Notice,
    },
    /// The selected attempt's output, as read now.
    Output(OutputView),
    /// The log can be read but not written (a read-only home or mount, a standby server, a
    /// newer cortex's log): why, and what would make it writable.
    ReadOnly(String),
    /// Reading the log failed (the text), or works again (`None`).
    LogError(Option<String>),
}

/// The palette while it is open.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PaletteState {
    pub query: String,
    pub selected: usize,
}

/// Everything the screens show.
#[derive(Debug, Clone, PartialEq)]
pub struct App {
    pub screen: Screen,
    pub scenarios: Vec<ScenarioEntry>,
    /// Where the catalog's scenarios live, for the list's title.
    pub scenarios_dir: String,
    /// Followed runs by id (ULIDs: id order is age order).
    pub runs: BTreeMap<String, Followed>,
    pub scenario_cursor: usize,
    pub workflow_cursor: usize,
    /// The selected phase, as a position in dependency order (or a step index).
    pub phase_cursor: usize,
    /// The scenario whose latest run `Screen::ScenarioRun` shows.
    pub shown_scenario: Option<String>,
    /// The run `Screen::WorkflowRun` shows.
    pub shown_workflow_run: Option<String>,
    /// A run started from here that the log does not show yet: the scenario, and the id of
    /// its latest run before.
    pub launching: Option<(String, Option<String>)>,
    pub palette: Option<PaletteState>,
    /// The input form of a run about to start, while it is open.
    pub form: Option<InputForm>,
    pub help: bool,
    /// The output pane (`o`) is open under a run's steps.
    pub output_open: bool,
    /// What the pane shows, once the shell has read it.
    pub output: Option<OutputView>,
    pub notice: Option<Notice>,
    /// The log cannot be written, and why: runs are shown, and nothing that records is
    /// offered (`Msg::ReadOnly`).
    pub read_only: Option<String>,
    /// Why the log could not be read at the last poll: lists then say so, never "no runs yet".
    pub log_error: Option<String>,
    /// Who the actions are recorded as.
    pub actor: String,
    pub color: bool,
    pub quit: bool,
    /// The command that starts a workflow run on this TUI's log, as another terminal would
    /// paste it (`--home`/`--db` named when the TUI was given them).
    pub start_workflow: String,
    /// The global options of this TUI's invocation (`Ctx::globals`: `--home`, `--db`, never a
    /// password), carried by each command its screens write out (the worker a unit waits for).
    pub globals: Vec<String>,
    /// The `CORTEX_INPUT_<NAME>` variables the TUI was started with: the drivers it starts
    /// inherit them, so a resume does not ask for those secret inputs.
    pub inputs_in_env: BTreeSet<String>,
}

impl App {
    pub fn new(actor: impl Into<String>, scenarios_dir: impl Into<String>, color: bool) -> App {
        App {
            screen: Screen::Scenarios,
            scenarios: Vec::new(),
            scenarios_dir: scenarios_dir.into(),
            runs: BTreeMap::new(),
            scenario_cursor: 0,
            workflow_cursor: 0,
            phase_cursor: 0,
            shown_scenario: None,
            shown_workflow_run: None,
            launching: None,
            palette: None,
            form: None,
            help: false,
            output_open: false,
            output: None,
            notice: None,
            read_only: None,
            log_error: None,
            actor: actor.into(),
            color,
            quit: false,
            start_workflow: "cortex workflow run NAME".into(),
            globals: Vec::new(),
            inputs_in_env: BTreeSet::new(),
        }
    }

    pub fn scenario_rows(&self) -> Vec<ScenarioRow<'_>> {
        scenario_rows(&self.scenarios, &self.runs)
    }

    /// The scenario actions apply to: the one shown, else the one selected in the list.
    pub fn scenario_in_view(&self) -> Option<ScenarioRow<'_>> {
        let rows = self.scenario_rows();
        let shown = match (&self.screen, &self.shown_scenario) {
            (Screen::ScenarioRun, Some(name)) => rows.iter().position(|r| r.name == *name),
            _ => None,
        };
        let at = shown.unwrap_or(self.scenario_cursor);
        rows.into_iter().nth(at)
    }

    /// Whether the shown scenario's new run is still on its way.
    pub fn launching_shown(&self) -> bool {
        match (&self.launching, &self.shown_scenario) {
            (Some((name, before)), Some(shown)) if name == shown => {
                latest_scenario_run(&self.runs, name).map(|f| &f.state.run_id) == before.as_ref()
            }
            _ => false,
        }
    }

    /// The run `Screen::ScenarioRun` shows: the shown scenario's latest.
    pub fn shown_scenario_run(&self) -> Option<&Followed> {
        if self.launching_shown() {
            return None;
        }
        latest_scenario_run(&self.runs, self.shown_scenario.as_deref()?)
    }

    pub fn shown_workflow(&self) -> Option<&Followed> {
        self.runs.get(self.shown_workflow_run.as_deref()?)
    }

    /// The workflow run actions apply to: the one shown, else the one selected in the list
    /// (on the workflow screens only).
    pub fn workflow_in_view(&self) -> Option<&Followed> {
        match self.screen {
            Screen::WorkflowRun => self.shown_workflow(),
            Screen::Workflows => super::model::workflow_runs(&self.runs)
                .get(self.workflow_cursor)
                .copied(),
            Screen::Scenarios | Screen::ScenarioRun => None,
        }
    }

    /// Whether a run the screens show has a clock that runs (one not finished: its time is
    /// counted to now), so the screen is drawn again as the seconds pass.
    pub fn clock_runs(&self) -> bool {
        self.runs.values().any(|f| f.state.outcome().is_none())
    }

    /// The run whose new events matter most now: the one on screen.
    pub fn focus(&self) -> Option<String> {
        match self.screen {
            Screen::ScenarioRun => self.shown_scenario_run().map(|f| f.state.run_id.clone()),
            Screen::WorkflowRun => self.shown_workflow_run.clone(),
            Screen::Scenarios | Screen::Workflows => None,
        }
    }

    /// The selected phase of a scenario run: (position in dependency order, phase index).
    pub fn selected_phase(&self, run: &Followed) -> Option<(usize, usize)> {
        let scenario = run.state.scenario.as_ref()?;
        let order = topological_order(scenario);
        let at = self.phase_cursor.min(order.len().checked_sub(1)?);
        Some((at, order[at]))
    }

    /// The run on a run screen and the index of its selected step (or phase).
    fn selected_step(&self) -> Option<(&Followed, usize)> {
        match self.screen {
            Screen::ScenarioRun => {
                let run = self.shown_scenario_run()?;
                Some((run, self.selected_phase(run)?.1))
            }
            Screen::WorkflowRun => {
                let run = self.shown_workflow()?;
                (self.phase_cursor < run.state.steps.len()).then_some((run, self.phase_cursor))
            }
            Screen::Scenarios | Screen::Workflows => None,
        }
    }

    /// The attempt the open output pane should show: the selected step's latest, if it has
    /// started one.
    pub fn output_wanted(&self) -> Option<OutputWanted> {
        if !self.output_open {
            return None;
        }
        let (run, index) = self.selected_step()?;
        let step = &run.state.steps[index];
        (step.attempts > 0).then(|| OutputWanted {
            run_id: run.state.run_id.clone(),
            step: step.name.clone(),
            attempt: step.attempts,
            file: crate::execute::attempt_log_name(&run.state.run_id, &step.name, step.attempts),
            tail: step.output_tail.clone(),
            ended: !matches!(
                step.status,
                crate::decide::StepStatus::Running | crate::decide::StepStatus::Waiting
            ),
        })
    }

    /// The pane's text, if it is of the attempt the pane should show now.
    pub fn output_shown(&self) -> Option<&OutputView> {
        let wanted = self.output_wanted()?;
        self.output.as_ref().filter(|v| {
            v.run_id == wanted.run_id && v.step == wanted.step && v.attempt == wanted.attempt
        })
    }

    /// The palette's entries for what was typed, best first.
    pub fn palette_entries(&self) -> Vec<Entry> {
        let query = self.palette.as_ref().map_or("", |p| p.query.as_str());
        palette::filter(palette::entries(self), query)
    }

    /// How many rows the cursor of the current screen moves over.
    fn rows_here(&self) -> usize {
        match self.screen {
            Screen::Scenarios => self.scenario_rows().len(),
            Screen::Workflows => super::model::workflow_runs(&self.runs).len(),
            Screen::ScenarioRun => self.shown_scenario_run().map_or(0, |f| f.state.steps.len()),
            Screen::WorkflowRun => self.shown_workflow().map_or(0, |f| f.state.steps.len()),
        }
    }

    fn cursor_mut(&mut self) -> &mut usize {
        match self.screen {
            Screen::Scenarios => &mut self.scenario_cursor,
            Screen::Workflows => &mut self.workflow_cursor,
            Screen::ScenarioRun | Screen::WorkflowRun => &mut self.phase_cursor,
        }
    }

    /// Keep every cursor on a row that exists.
    fn clamp(&mut self) {
        let last = |n: usize| n.saturating_sub(1);
        self.scenario_cursor = self.scenario_cursor.min(last(self.scenario_rows().len()));
        self.workflow_cursor = self
            .workflow_cursor
            .min(last(super::model::workflow_runs(&self.runs).len()));
        let phases = self.rows_here();
        if matches!(self.screen, Screen::ScenarioRun | Screen::WorkflowRun) {
            self.phase_cursor = self.phase_cursor.min(last(phases));
        }
        if let Some(query) = self.palette.as_ref().map(|p| p.query.clone()) {
            let n = palette::filter(palette::entries(self), &query).len();
            if let Some(p) = &mut self.palette {
                p.selected = p.selected.min(last(n));
            }
        }
    }
}

/// The next state, and what the shell must do, after `msg`.
pub fn update(mut app: App, msg: Msg) -> (App, Vec<Effect>) {
    match msg {
        Msg::Key(key) => return on_key(app, key),
        Msg::Catalog(entries) => app.scenarios = entries,
        Msg::RunLoaded(followed) => {
            app.runs.insert(followed.state.run_id.clone(), *followed);
            if let Some((name, before)) = &app.launching
                && latest_scenario_run(&app.runs, name).map(|f| &f.state.run_id) != before.as_ref()
            {
                app.launching = None;
            }
        }
        Msg::RunEvents { run_id, events } => {
            if let Some(f) = app.runs.get_mut(&run_id) {
                f.state = events.iter().fold(std::mem::take(&mut f.state), evolve);
            }
        }
        Msg::DriverAlive { run_id, alive } => {
            if let Some(f) = app.runs.get_mut(&run_id) {
                f.alive = alive;
            }
        }
        Msg::Leases { run_id, held } => {
            if let Some(f) = app.runs.get_mut(&run_id) {
                f.held = Some(held);
            }
        }
        Msg::Notice(notice) => app.notice = Some(notice),
        Msg::Output(view) => app.output = Some(view),
        Msg::ReadOnly(why) => app.read_only = Some(why),
        Msg::LogError(error) => app.log_error = error,
        Msg::DriverEnded { scenario, notice } => {
            if app.launching.as_ref().is_some_and(|(s, _)| *s == scenario) {
                app.launching = None;
            }
            app.notice = Some(notice);
        }
    }
    app.clamp();
    (app, Vec::new())
}

fn on_key(mut app: App, key: Key) -> (App, Vec<Effect>) {
    if app.form.is_some() {
        return form_key(app, key);
    }
    if app.palette.is_some() {
        return palette_key(app, key);
    }
    if app.help {
        match key {
            Key::Char('q') | Key::Ctrl('c') => app.quit = true,
            Key::Esc | Key::Char('?') | Key::Enter | Key::Backspace => app.help = false,
            _ => {}
        }
        return (app, Vec::new());
    }
    let mut effects = Vec::new();
    match key {
        Key::Ctrl('p') => app.palette = Some(PaletteState::default()),
        Key::Char('q') | Key::Ctrl('c') => app.quit = true,
        Key::Char('?') => app.help = true,
        Key::Tab | Key::BackTab => {
            app.screen = match app.screen {
                Screen::Scenarios | Screen::ScenarioRun => Screen::Workflows,
                Screen::Workflows | Screen::WorkflowRun => Screen::Scenarios,
            }
        }
        Key::Up | Key::Char('k') => move_cursor(&mut app, -1),
        Key::Down | Key::Char('j') => move_cursor(&mut app, 1),
        Key::PageUp => move_cursor(&mut app, -10),
        Key::PageDown => move_cursor(&mut app, 10),
        Key::Home | Key::Char('g') => *app.cursor_mut() = 0,
        Key::End | Key::Char('G') => *app.cursor_mut() = app.rows_here().saturating_sub(1),
        Key::Enter | Key::Right | Key::Char('l') => open(&mut app),
        Key::Esc | Key::Backspace | Key::Left | Key::Char('h') => {
            app.screen = match app.screen {
                Screen::ScenarioRun | Screen::Scenarios => Screen::Scenarios,
                Screen::WorkflowRun | Screen::Workflows => Screen::Workflows,
            }
        }
        Key::Char('o') if matches!(app.screen, Screen::ScenarioRun | Screen::WorkflowRun) => {
            app.output_open = !app.output_open;
        }
        Key::Char('r') => {
            effects.push(Effect::ReloadCatalog);
            app.notice = Some(Notice::info("Reading the scenario catalog again"));
        }
        _ => {}
    }
    app.clamp();
    (app, effects)
}

fn move_cursor(app: &mut App, by: isize) {
    let last = app.rows_here().saturating_sub(1);
    let cursor = app.cursor_mut();
    *cursor = cursor.saturating_add_signed(by).min(last);
}

/// Enter on a list: show the selected run.
fn open(app: &mut App) {
    match app.screen {
        Screen::Scenarios => {
            if let Some(row) = app.scenario_rows().into_iter().nth(app.scenario_cursor) {
                app.shown_scenario = Some(row.name);
                app.phase_cursor = 0;
                app.screen = Screen::ScenarioRun;
            }
        }
        Screen::Workflows => {
            let id = super::model::workflow_runs(&app.runs)
                .get(app.workflow_cursor)
                .map(|f| f.state.run_id.clone());
            if let Some(id) = id {
                app.shown_workflow_run = Some(id);
                app.phase_cursor = 0;
                app.screen = Screen::WorkflowRun;
            }
        }
        Screen::ScenarioRun | Screen::WorkflowRun => {}
    }
}

fn palette_key(mut app: App, key: Key) -> (App, Vec<Effect>) {
    let Some(mut p) = app.palette.take() else {
        return (app, Vec::new());
    };
    match key {
        Key::Esc | Key::Ctrl('p') | Key::Ctrl('c') => return (app, Vec::new()),
        Key::Enter => {
            app.palette = Some(p);
            let chosen = app
                .palette_entries()
                .into_iter()
                .nth(app.palette.as_ref().map_or(0, |p| p.selected));
            app.palette = None;
            return match chosen {
                Some(entry) => apply(app, entry.action),
                None => (app, Vec::new()),
            };
        }
        Key::Up | Key::Ctrl('k') => p.selected = p.selected.saturating_sub(1),
        Key::Down | Key::Ctrl('j') | Key::Tab => p.selected += 1,
        Key::Backspace => {
            p.query.pop();
            p.selected = 0;
        }
        Key::Char(c) => {
            p.query.push(c);
            p.selected = 0;
        }
        _ => {}
    }
    app.palette = Some(p);
    app.clamp();
    (app, Vec::new())
}

fn form_key(mut app: App, key: Key) -> (App, Vec<Effect>) {
    let Some(mut form) = app.form.take() else {
        return (app, Vec::new());
    };
    let last = form.lines().saturating_sub(1);
    match key {
        Key::Esc | Key::Ctrl('c') => {
            app.notice = Some(Notice::info(match &form.what {
                FormFor::Run { scenario, .. } => {
                    format!("Run of {scenario} cancelled: nothing started")
                }
                FormFor::Resume(asked) => {
                    format!("Resume of {} cancelled: nothing recorded", asked.name)
                }
            }));
            return (app, Vec::new());
        }
        // Every problem at once: the inputs' and the time limit's.
        Key::Enter => match both(form.given(), form.time_limit()) {
            Ok((inputs, timeout)) => {
                return match form.what {
                    FormFor::Run { scenario, target } => launch(app, scenario, target, inputs),
                    FormFor::Resume(asked) => {
                        app.notice = Some(Notice::info(format!(
                            "{}…",
                            doing(&RunAct::Resume(asked.mode.clone()), &asked.name)
                        )));
                        let asked = ResumeAsked {
                            inputs,
                            timeout,
                            ..asked
                        };
                        (app, vec![Effect::Resume(asked)])
                    }
                };
            }
            Err(problem) => form.problem = Some(problem),
        },
        Key::Up | Key::BackTab => form.selected = form.selected.saturating_sub(1),
        Key::Down | Key::Tab => form.selected = (form.selected + 1).min(last),
        Key::Backspace => {
            if let Some(v) = form.selected_text() {
                v.pop();
            }
        }
        Key::Char(c) => {
            if let Some(v) = form.selected_text() {
                v.push(c);
            }
            form.problem = None;
        }
        _ => {}
    }
    app.form = Some(form);
    (app, Vec::new())
}

/// Start a run of `scenario` in the background and show it.
fn launch(
    mut app: App,
    scenario: String,
    target: String,
    inputs: Vec<GivenInput>,
) -> (App, Vec<Effect>) {
    let before = latest_scenario_run(&app.runs, &scenario).map(|f| f.state.run_id.clone());
    app.launching = Some((scenario.clone(), before));
    app.notice = Some(Notice::info(format!("Starting {scenario}…")));
    show_scenario(&mut app, &scenario);
    app.clamp();
    (
        app,
        vec![Effect::Run {
            scenario,
            target,
            inputs,
        }],
    )
}

/// Carry out a palette action: change screens here, or ask the shell to act.
pub fn apply(mut app: App, action: Action) -> (App, Vec<Effect>) {
    let mut effects = Vec::new();
    // The palette offers none of these on a read-only log; refused here all the same.
    if app.read_only.is_some() && action.records() {
        app.notice = Some(Notice::error(
            "the event log is read-only: nothing can be started, reported or stopped from here",
        ));
        return (app, effects);
    }
    match action {
        Action::ScenarioList => app.screen = Screen::Scenarios,
        Action::ScenarioRun { scenario, target } => {
            let fields = app
                .scenarios
                .iter()
                .find(|e| e.name == scenario)
                .map(|e| e.inputs.clone())
                .unwrap_or_default();
            if fields.is_empty() {
                return launch(app, scenario, target, Vec::new());
            }
            // Its inputs first: a required one missing was a driver exiting 2 in the
            // background.
            app.form = Some(InputForm::new(scenario, target, fields));
        }
        Action::Explain(why) => app.notice = Some(Notice::error(why)),
        Action::ScenarioStatus { scenario } => show_scenario(&mut app, &scenario),
        Action::WorkflowRuns => app.screen = Screen::Workflows,
        Action::Phase {
            run_id,
            scenario,
            phase,
            op,
        } => {
            app.notice = Some(Notice::info(format!("Recording {} of {phase}…", op.verb())));
            effects.push(Effect::Phase {
                run_id,
                scenario,
                phase,
                op,
            });
        }
        Action::Stop { run_id, scenario } => {
            app.notice = Some(Notice::info(format!("Stopping {scenario}…")));
            effects.push(Effect::Stop { run_id, scenario });
        }
        // A resume asks first for what it may be given: the secret inputs the run lacks and
        // a time limit (`resume --input`, `--timeout`).
        Action::Resume { run_id, .. } => open_resume(&mut app, &run_id, ResumeMode::Continue),
        Action::Workflow {
            run_id,
            act: RunAct::Resume(mode),
            ..
        } => open_resume(&mut app, &run_id, mode),
        Action::Workflow { run_id, name, act } => {
            app.notice = Some(Notice::info(format!("{}…", doing(&act, &name))));
            effects.push(Effect::Workflow { run_id, name, act });
        }
        Action::Help => app.help = true,
        Action::Quit => app.quit = true,
    }
    app.clamp();
    (app, effects)
}

/// Open the form of a resume of `run_id` in `mode` (`InputForm::resume`).
fn open_resume(app: &mut App, run_id: &str, mode: ResumeMode) {
    match app.runs.get(run_id) {
        Some(run) => app.form = Some(InputForm::resume(run, mode, &app.inputs_in_env)),
        None => app.notice = Some(Notice::error(format!("run {run_id} is not known here"))),
    }
}

/// What a workflow action is doing, for the status bar while it is under way.
pub fn doing(act: &RunAct, name: &str) -> String {
    match act {
        RunAct::Stop => format!("Stopping {name}"),
        RunAct::Abort => format!("Aborting {name}"),
        RunAct::Resume(ResumeMode::Continue) => format!("Resuming {name}"),
        RunAct::Resume(ResumeMode::Retry) => format!("Resuming {name}, its failed step again"),
        RunAct::Resume(ResumeMode::Skip) => format!("Resuming {name}, its failed step skipped"),
        RunAct::Resume(ResumeMode::From(step)) => format!("Resuming {name} from {step}"),
        RunAct::Resume(ResumeMode::RollbackTo(step)) => {
            format!("Rolling {name} back to {step}")
        }
    }
}

fn show_scenario(app: &mut App, scenario: &str) {
    if app.shown_scenario.as_deref() != Some(scenario) {
        app.phase_cursor = 0;
    }
    app.shown_scenario = Some(scenario.to_string());
    if let Some(at) = app.scenario_rows().iter().position(|r| r.name == scenario) {
        app.scenario_cursor = at;
    }
    app.screen = Screen::ScenarioRun;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decide::{Command, RunState, replay};
    use crate::definition::{parse_scenario, snapshot};
    use crate::event::{Operator, RunKind, RunStarted};
    use crate::execute::{FixedClock, Journal, SequentialIds};
    use crate::store::{EventStore, MemoryStore};

    const YAML: &str = "name: ship\ndescription: d\nphases:\n  - {name: a, condition: manual}\n  - {name: b, condition: 'after:a'}\n";

    /// A run of `ship` recorded through the journal: its store, for reading events back.
    fn recorded(run_id: &str, extra: Vec<Command>) -> MemoryStore {
        let scenario = parse_scenario("ship.yaml", YAML).unwrap();
        let (definition, definition_hash) = snapshot(&scenario);
        let mut store = MemoryStore::new();
        let clock = FixedClock::new(1_800_000_000_000);
        let mut ids = SequentialIds::default();
        let mut journal = Journal::open(&mut store, &clock, &mut ids, run_id).unwrap();
        let start = RunStarted::for_test(RunKind::Scenario, "ship", definition, definition_hash);
        journal.submit(Command::Start(Box::new(start))).unwrap();
        journal
            .submit(Command::RecordPreValidation { problems: vec![] })
            .unwrap();
        for c in extra {
            journal.submit(c).unwrap();
        }
        store
    }

    fn state(store: &MemoryStore, run_id: &str) -> RunState {
        let mut s = replay(&store.read_run(run_id).unwrap());
        s.run_id = run_id.into();
        s
    }

    fn loaded(store: &MemoryStore, run_id: &str) -> Msg {
        Msg::RunLoaded(Box::new(Followed::new(state(store, run_id), false)))
    }

    fn app_with_ship() -> App {
        let mut app = App::new("me", "/s", false);
        app.scenarios = vec![ScenarioEntry {
            name: "ship".into(),
            path: "/s/ship.yaml".into(),
            phases: Some(2),
            description: None,
            error: None,
            inputs: Vec::new(),
        }];
        app
    }

    fn keys(app: App, keys: &[Key]) -> (App, Vec<Effect>) {
        keys.iter().fold((app, Vec::new()), |(app, mut all), &k| {
            let (app, effects) = update(app, Msg::Key(k));
            all.extend(effects);
            (app, all)
        })
    }

    #[test]
    fn new_events_are_folded_onto_the_followed_state() {
        let store = recorded("000000000000000000000000R1", vec![]);
        let app = update(
            app_with_ship(),
            loaded(&store, "000000000000000000000000R1"),
        )
        .0;
        let more = recorded(
            "000000000000000000000000R1",
            vec![Command::RequestStart {
                phase: "a".into(),
                by: Operator {
                    actor: "t".into(),
                    message: None,
                },
            }],
        );
        let events = more.read_run_from("000000000000000000000000R1", 2).unwrap();
        assert_eq!(events.len(), 1);
        let (app, effects) = update(
            app,
            Msg::RunEvents {
                run_id: "000000000000000000000000R1".into(),
                events,
            },
        );
        assert!(effects.is_empty());
        assert_eq!(
            app.runs["000000000000000000000000R1"].state,
            state(&more, "000000000000000000000000R1"),
            "fold = replay"
        );
    }

    #[test]
    fn the_palette_opens_filters_and_closes() {
        let app = update(
            app_with_ship(),
            loaded(
                &recorded("000000000000000000000000R1", vec![]),
                "000000000000000000000000R1",
            ),
        )
        .0;
        let (app, _) = keys(app, &[Key::Ctrl('p')]);
        assert!(app.palette.is_some());
        let (app, _) = keys(app, &[Key::Char('s'), Key::Char('t'), Key::Char('a')]);
        let titles: Vec<String> = app.palette_entries().into_iter().map(|e| e.title).collect();
        assert_eq!(titles[0], "Scenario Status", "{titles:?}");
        let (app, effects) = keys(app, &[Key::Esc]);
        assert!(app.palette.is_none() && effects.is_empty());
        assert_eq!(app.screen, Screen::Scenarios, "Esc closes only the palette");
    }

    #[test]
    fn scenario_run_asks_for_a_background_run_and_shows_it_once_it_is_in_the_log() {
        let first = recorded("000000000000000000000000R1", vec![]);
        let app = update(
            app_with_ship(),
            loaded(&first, "000000000000000000000000R1"),
        )
        .0;
        let (app, effects) = keys(app, &[Key::Ctrl('p'), Key::Char('r'), Key::Char('u')]);
        assert!(effects.is_empty());
        assert_eq!(app.palette_entries()[0].title, "Scenario Run");
        let (app, effects) = keys(app, &[Key::Enter]);
        assert_eq!(
            effects,
            [Effect::Run {
                scenario: "ship".into(),
                target: "ship".into(),
                inputs: Vec::new(),
            }]
        );
        assert_eq!(app.screen, Screen::ScenarioRun);
        assert!(
            app.launching_shown(),
            "the old run is not shown as the new one"
        );
        assert!(app.shown_scenario_run().is_none());
        assert_eq!(app.focus(), None);
        let app = update(
            app,
            loaded(
                &recorded("000000000000000000000000R2", vec![]),
                "000000000000000000000000R2",
            ),
        )
        .0;
        assert!(app.launching.is_none());
        assert_eq!(app.focus().as_deref(), Some("000000000000000000000000R2"));
    }

    #[test]
    fn a_background_driver_that_ends_before_its_run_appears_ends_the_wait() {
        let app = app_with_ship();
        let (app, _) = apply(
            app,
            Action::ScenarioRun {
                scenario: "ship".into(),
                target: "ship".into(),
            },
        );
        assert!(app.launching_shown());
        let (app, _) = update(
            app,
            Msg::DriverEnded {
                scenario: "ship".into(),
                notice: Notice::error("ship.yaml is invalid"),
            },
        );
        assert!(!app.launching_shown());
        assert_eq!(app.notice, Some(Notice::error("ship.yaml is invalid")));
    }

    #[test]
    fn keys_move_open_go_back_help_and_quit() {
        let app = update(
            app_with_ship(),
            loaded(
                &recorded("000000000000000000000000R1", vec![]),
                "000000000000000000000000R1",
            ),
        )
        .0;
        let (app, _) = keys(app, &[Key::Enter]);
        assert_eq!(app.screen, Screen::ScenarioRun);
        assert_eq!(app.focus().as_deref(), Some("000000000000000000000000R1"));
        let (app, _) = keys(app, &[Key::Down, Key::Down, Key::Down]);
        assert_eq!(app.phase_cursor, 1, "the cursor stays on a phase");
        let (app, _) = keys(app, &[Key::Esc]);
        assert_eq!(app.screen, Screen::Scenarios);
        let (app, _) = keys(app, &[Key::Tab]);
        assert_eq!(app.screen, Screen::Workflows);
        let (app, _) = keys(app, &[Key::Char('?')]);
        assert!(app.help);
        let (app, _) = keys(app, &[Key::Char('?')]);
        assert!(!app.help && !app.quit);
        let (app, effects) = keys(app, &[Key::Char('r')]);
        assert_eq!(effects, [Effect::ReloadCatalog]);
        assert!(keys(app, &[Key::Char('q')]).0.quit);
    }
}
