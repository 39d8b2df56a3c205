//! Running a run's commands: one attempt of a step or phase, its validation checks, the
//! pre- and post-validation checks, and compensations. A `Runner` holds no observer, so it can
//! be moved to a worker thread; output lines go to a callback.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::inflight::{InflightNote, NotesFile, end_orphans, inflight_notes};
use super::secrets::{input_env_name, input_text};
use super::{ProcessSpec, Program, Redactor, StopFlag, Stream, claude};
use std::collections::BTreeMap;

use super::secrets::REDACTED;
use crate::decide::{AgentRun, AttemptReport, RunState};
use crate::definition::template::{Reference, render_shell, render_text, render_value};
use crate::definition::{Check, Foreach, IfCondition, Step, expr, items_of};
use crate::event::{AttemptEnd, ConditionCheck};

/// Where output lines go: (step or check label, stream, line).
pub type LineSink<'a> = &'a mut dyn FnMut(&str, Stream, &str);

/// How one attempt ended, for the driver.
#[derive(Debug)]
pub enum AttemptOutcome {
    Report(Box<AttemptReport>),
    /// A stop was requested: the attempt was ended without an outcome.
    Stopped,
    /// The run's time limit passed during the attempt.
    RunDeadline,
    /// This process's guard ended the command because its lease went unrenewed too long
    /// (self-fencing: the log did not answer, or the process was held up): an interruption
    /// by the engine, recorded as one (the attempt runs again, no retry spent, no
    /// `on_failure`), never as the command's failure. Which attempt, and why in words for
    /// the log.
    Fenced {
        step: String,
        attempt: u32,
        why: String,
    },
    /// Nothing ran: cortex cannot make or write its own files for the attempt in its home
    /// (the `runs/<run>/work/` folder or the attempt's output file there, the `logs/<run>/`
    /// folder of its whole output). A fault of the home, not of the step: no failed attempt
    /// is recorded (retries and `on_failure` are for what the step does); the driver pauses
    /// the run with this reason, which names the path, and stops with an error.
    HomeFault(HomeProblem),
}

/// A fault of the home met preparing an attempt (`AttemptOutcome::HomeFault`): what is wrong,
/// naming the path, and the fix its kind calls for — the folder's own for a link or a file
/// in place of a folder (`materialize::UnfitFolder`: put the folder back, move the file
/// aside), else making the path writable. Before, every such fault was hinted "make that
/// path writable", under a reason that said to put a linked `logs/` folder back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HomeProblem {
    pub problem: String,
    pub fix: String,
    /// Not the home's files but a limit of the system: a thread it refused
    /// (`thread::Refused`), `problem` saying which and why.
    pub system_limit: bool,
}

/// The fix of a path cortex cannot write in its home.
const MAKE_WRITABLE: &str = "make that path writable by the user cortex runs as (its owner or mode; or free space if the disk is full)";

impl HomeProblem {
    /// A path cortex cannot make or write (`problem` names it).
    pub fn unwritable(problem: String) -> HomeProblem {
        HomeProblem {
            problem,
            fix: MAKE_WRITABLE.into(),
            system_limit: false,
        }
    }

    /// A thread the system refused: nothing more can start here until the limit is raised.
    /// `problem` says it without its subject ("could not start a thread …"), which
    /// `reason` and `paused` give.
    pub fn no_thread(refused: &super::thread::Refused) -> HomeProblem {
        HomeProblem {
            problem: refused.unsaid(),
            fix: refused.fix(),
            system_limit: true,
        }
    }

    /// The error of a drive it paused.
    pub fn paused(&self) -> String {
        match self.system_limit {
            true => format!(
                "cortex met a limit of the system, so the run was paused: it {}",
                self.problem
            ),
            false => format!(
                "cortex hit a problem with its own files in its home, so the run was paused: {}",
                self.problem
            ),
        }
    }

    /// The reason recorded, `who` ("cortex", "worker W on H") being who met it.
    pub fn reason(&self, who: &str) -> String {
        if self.system_limit {
            format!("{who} {}", self.problem)
        } else {
            format!(
                "{who} hit a problem with its own files in its home: {}",
                self.problem
            )
        }
    }

    /// The fault `e` says, with the fix of an unfit folder where it is one.
    pub fn of(e: &std::io::Error) -> HomeProblem {
        match super::materialize::unfit_folder(e) {
            Some(unfit) => HomeProblem {
                problem: e.to_string(),
                fix: unfit.fix(),
                system_limit: false,
            },
            None => HomeProblem::unwritable(e.to_string()),
        }
    }
}

impl std::fmt::Display for HomeProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.problem)
    }
}

/// How a compensation went.
#[derive(Debug)]
pub enum Compensation {
    /// The step has no rollback command.
    Nothing,
    /// It ran: how it ended, and its redacted output tail.
    Ran(AttemptEnd, String),
    /// A stop ended it before it finished.
    Stopped,
    /// This process's guard ended it for a lease the process could not keep
    /// (`self_fence`), and why: no end of the command's own, so nothing is recorded and it
    /// runs again, as a fenced attempt does (`AttemptOutcome::Fenced`).
    Fenced(String),
}

/// Everything needed to run commands for a run, and nothing that cannot cross threads.
#[derive(Debug, Clone)]
pub struct Runner {
    pub home: PathBuf,
    /// Raised to end running commands (TERM, then KILL after `grace`).
    pub stop: StopFlag,
    pub grace: Duration,
    /// The run's secrets (the journal's), scrubbed from output lines and tails, and the
    /// values of its secret inputs; computed once per drive, not per attempt.
    pub redactor: Redactor,
    /// The notes of process groups in flight, kept open for the session.
    pub notes: NotesFile,
    /// The work folders this drive's attempts write in, as last checked (`prepare_home`).
    folders: FolderChecks,
}

/// Sleep `d` in small slices; false if a stop or the run deadline came first. A `d` beyond
/// what the clock can represent sleeps until one of them.
pub fn sleep_unless_stopped(d: Duration, stop: &StopFlag, deadline: Option<Instant>) -> bool {
    let until = Instant::now().checked_add(d);
    while until.is_none_or(|u| Instant::now() < u) {
        if stop.is_set() || deadline.is_some_and(|x| Instant::now() >= x) {
            return false;
        }
        let left = until.map_or(Duration::MAX, |u| {
            u.saturating_duration_since(Instant::now())
        });
        std::thread::sleep(left.min(Duration::from_millis(20)));
    }
    true
}

/// The step's time limit, at most `u64::MAX` milliseconds so that events can record it: a
/// snapshot recorded before timeouts were bounded may hold any duration.
pub fn step_timeout(step: &Step) -> Option<Duration> {
    step.timeout
        .as_ref()
        .and_then(|t| t.to_duration().ok())
        .map(|d| d.min(Duration::from_millis(u64::MAX)))
}

/// How templates resolve in this run, as seen from unit `unit` (its `${{ item }}`): its
/// inputs (a secret input's value from `secrets`: the log holds `***`) and the outputs
/// recorded so far (a secret output's value as this process recorded it: the log holds
/// `***`; one it did not record has no value here, never `***` — what reads it is refused
/// first, `unheld_secret_output_in`).
pub fn resolver<'a>(
    state: &'a RunState,
    secrets: &'a Redactor,
    unit: Option<usize>,
) -> impl Fn(&Reference) -> Option<String> + 'a {
    // A secret input's value is held by this process (the log keeps `***`).
    move |r: &Reference| match r {
        Reference::Input(name) => secrets
            .input(name)
            .map(str::to_string)
            .or_else(|| state.template_value(r)),
        Reference::StepOutput { step, key } => super::held_secret_output(&state.run_id, step, key)
            .or_else(|| {
                state
                    .template_value_in(r, unit)
                    .filter(|_| !super::unheld_secret_output(state, r))
            }),
        Reference::Item => state.template_value_in(r, unit),
    }
}

/// A stable key of a unit for the files of its attempts (its output file, the notes of its
/// process groups): units are named by anything a name may hold, and their positions move
/// when a `foreach:` step's items are inserted, so neither names nor positions will do.
pub fn unit_key(name: &str) -> String {
    blake3::hash(name.as_bytes()).to_hex()[..16].to_string()
}

/// The key under which a command other than an attempt notes its process group: what it is
/// (`rollback`, `validate`, `if`, `health`) and, for a unit's, the unit's key. A unit's key is
/// hexadecimal only, so these never collide with an attempt's; one unit runs one such command
/// at a time.
pub fn command_key(what: &str, unit: Option<&str>) -> String {
    match unit {
        Some(name) => format!("{what}-{}", unit_key(name)),
        None => what.to_string(),
    }
}

impl Runner {
    /// A runner for one drive (or one command) of the runs under `home`, its commands ended
    /// by `stop`: its notes file and its folder checks start empty and are shared by its
    /// clones (the attempts' threads), never with another drive in this process.
    pub fn new(home: PathBuf, stop: StopFlag, grace: Duration, redactor: Redactor) -> Runner {
        Runner {
            home,
            stop,
            grace,
            redactor,
            notes: NotesFile::default(),
            folders: FolderChecks::default(),
        }
    }

    /// Run `spec` for run `run_id`, its process group noted under `key` (`command_key`) while
    /// it runs, as an attempt's is: a driver killed meanwhile leaves a note that the next
    /// driver reads to end the group (`end_orphans`) before anything runs again. Every
    /// command a driver runs that could outlive it goes through here or `PreparedAttempt::run`.
    pub fn run_noted(
        &self,
        run_id: &str,
        key: &str,
        spec: &ProcessSpec,
        on_line: &mut dyn FnMut(Stream, &str),
        watch: &mut dyn FnMut() -> bool,
    ) -> super::process::ProcessResult {
        // Best effort, as for attempts: written only into a real folder (`NotesFile::at`).
        let notes = inflight_notes(&self.home, run_id).ok();
        let mut note = None;
        let result = super::process::run_process_watched(
            spec,
            &self.stop,
            on_line,
            &mut |pgid| {
                if let Some(notes) = &notes {
                    note = Some(InflightNote::started(&self.notes, notes, key, pgid));
                }
            },
            watch,
        );
        if let Some(note) = note {
            note.ended();
        }
        result
    }

    /// What a command of `step` in the run `state` is scrubbed of: the run's secrets, the
    /// secret outputs this process recorded since the drive began (a step may print one it
    /// reads), and the values of the step's secret `env:` entries in `env`.
    fn redactor_for(&self, state: &RunState, step: &Step, env: &[(String, String)]) -> Redactor {
        let mut redactor = self.redactor.clone();
        super::secrets::add_held_outputs(&mut redactor, &state.run_id);
        super::secrets::add_state_outputs(&mut redactor, state);
        redactor.with_step_env(step, env).into_owned()
    }

    /// The step definition, its environment and its directory.
    pub fn step_context(
        &self,
        state: &RunState,
        index: usize,
    ) -> (Step, Vec<(String, String)>, PathBuf) {
        let step = state
            .workflow
            .as_ref()
            .expect("started runs have a workflow")
            .steps[index]
            .clone();
        let start = state.start.as_ref().expect("started runs have a start");
        let resolve = resolver(state, &self.redactor, Some(index));
        let mut env = vec![
            ("CORTEX_RUN_ID".to_string(), state.run_id.clone()),
            ("CORTEX_STEP".to_string(), step.name.clone()),
            (
                "CORTEX_ATTEMPT".to_string(),
                state.steps[index].attempts.to_string(),
            ),
            ("CORTEX_HOME".to_string(), self.home.display().to_string()),
        ];
        if let Some(of) = &state.steps[index].item {
            env.push(("CORTEX_ITEM".to_string(), of.value.text()));
            env.push(("CORTEX_ITEM_INDEX".to_string(), of.index.to_string()));
        }
        for (name, value) in &start.inputs {
            let text = match self.redactor.input(name) {
                Some(secret) => secret.to_string(),
                None => input_text(value),
            };
            env.push((input_env_name(name), text));
        }
        for (name, value) in &step.env {
            env.push((name.clone(), render_value(&value.0, &resolve)));
        }
        let base = PathBuf::from(&start.working_dir);
        let cwd = match &step.working_dir {
            Some(dir) => base.join(render_text(dir, &resolve)),
            None => base,
        };
        (step, env, cwd)
    }

    /// Run the attempt of step `index` that `state` has just started.
    pub fn run_attempt(
        &self,
        state: &RunState,
        index: usize,
        deadline: Option<Instant>,
        on_line: LineSink<'_>,
    ) -> AttemptOutcome {
        self.prepare_attempt(state, index, deadline)
            .run(self, on_line)
    }

    /// Everything the attempt of step `index` that `state` has just started needs, so that it
    /// can run on another thread without a copy of the whole run.
    pub fn prepare_attempt(
        &self,
        state: &RunState,
        index: usize,
        deadline: Option<Instant>,
    ) -> PreparedAttempt {
        let (step, mut env, cwd) = self.step_context(state, index);
        let attempt = state.steps[index].attempts;
        let resolve = resolver(state, &self.redactor, Some(index));
        // The attempt's paths, made of the run's id through `materialize::run_path_part`: an
        // id that is no run id names none of them, and the attempt is refused (it never runs:
        // nothing is written, `prepare_home` is not reached).
        let paths = super::run_path(&self.home, super::RUNS_FOLDER, &state.run_id)
            .and_then(|dir| Ok((dir.join("work"), inflight_notes(&self.home, &state.run_id)?)));
        let (work, notes, no_paths) = match paths {
            Ok((work, notes)) => (work, notes, None),
            Err(e) => (PathBuf::new(), PathBuf::new(), Some(e.to_string())),
        };
        let key = unit_key(&state.steps[index].name);
        let log_name = attempt_log_name(&state.run_id, &state.steps[index].name, attempt);
        let output_file = work.join(format!("step-{key}-attempt-{attempt}.out"));
        env.push(("CORTEX_OUTPUT".into(), output_file.display().to_string()));
        // An agent's prompt is rendered as every prompt shown is (SPEC §7), secrets redacted:
        // it goes to a program that may hand it to a third party (Claude Code's API). The
        // agent reads a secret input's value from `CORTEX_INPUT_<NAME>`, as any command does.
        let prompt = || {
            let prompt = step
                .prompt
                .as_deref()
                .or(step.description.as_deref())
                .unwrap_or(&step.name);
            state.render_prompt_in(prompt, index)
        };
        let mut claude_agent = None;
        let mut refused = None;
        let (program, stdin) = match (&step.run, state.agent_run(index)) {
            (Some(run), _) => {
                let (command, tpl_env) = render_shell(run, &resolve);
                env.extend(tpl_env);
                (Program::Shell(command), None)
            }
            (None, Some(AgentRun::Command(command))) => {
                (Program::Shell(command.to_string()), Some(prompt()))
            }
            (None, Some(AgentRun::Claude(agent))) => {
                claude_agent = Some(agent.to_string());
                let argv = claude_command_line(state, index, agent).unwrap_or_else(|e| {
                    refused = Some(e);
                    Vec::new()
                });
                (Program::Argv(argv), Some(prompt()))
            }
            (None, None) => unreachable!("external steps are not run by the engine"),
        };
        // A secret output recorded by another process is `***` in the log: the attempt must
        // not run with that, and no retry can bring the value back.
        // Its gates too: they would fail after every attempt, the command run for nothing
        // (and again on each retry).
        let unheld = super::unheld_secret_output_in(
            state,
            Some(index),
            step.run_texts().chain(step.gate_texts()),
        );
        // Claude Code's command line refused (an argument longer than Linux passes, or one
        // holding a NUL: the agent's body, its phase's sub-agents) is made from the run's
        // definition snapshot: no retry changes it either.
        let permanent = unheld.is_some() || refused.is_some() || no_paths.is_some();
        if let Some(why) = unheld.or(no_paths.clone()) {
            refused = Some(why);
        }
        // Validation checks resolve templates against the run: only a step that has some
        // takes a copy of it along.
        let validates = step.validate.iter().any(|c| c.run.is_some());
        let redactor = self.redactor_for(state, &step, &env);
        PreparedAttempt {
            index,
            key,
            step: step.name.clone(),
            attempt,
            spec: ProcessSpec {
                program,
                env,
                cwd,
                stdin,
                timeout: step_timeout(&step),
                grace: self.grace,
                redactor,
                keep_background: step.keep_background,
                capture_stdout: claude_agent.is_some(),
                unset: if claude_agent.is_some() {
                    claude::UNSET_ENV
                } else {
                    &[]
                },
                // Its folders are checked before the attempt runs (`prepare_home`).
                log: super::attempt_logs::attempt_file_place(&self.home, &log_name)
                    .ok()
                    .map(|path| super::process::LogTarget {
                        path,
                        name: log_name,
                        home: super::attempt_logs::home_id_to_write(&self.home),
                        home_dir: super::attempt_logs::home_dir(&self.home),
                        run_id: state.run_id.clone(),
                    }),
            },
            claude_agent,
            refused,
            permanent,
            working_dir: step.working_dir.clone().map(|dir| {
                let base = state.start.as_ref().map(|s| s.working_dir.clone());
                (dir, base.unwrap_or_default())
            }),
            deadline,
            home: self.home.clone(),
            run_id: state.run_id.clone(),
            output_file,
            notes,
            state_for_checks: validates.then(|| state.clone()),
        }
    }

    /// Run `run:` checks (in step `index`'s environment, or the run's); a problem for each
    /// that fails. None if a stop ended one (the stop flag, or `watch` finding an operator's
    /// request in the log, as for an attempt): a stopped check is no verdict, and the checks
    /// after it do not run. `deadline`: the run's time limit, which bounds each check where it
    /// comes before the step's (or the ten minutes of a check whose step sets no `timeout:`).
    #[allow(clippy::too_many_arguments)]
    pub fn run_checks(
        &self,
        state: &RunState,
        index: Option<usize>,
        checks: &[Check],
        label: &str,
        on_line: LineSink<'_>,
        watch: &mut dyn FnMut() -> bool,
        deadline: Option<Instant>,
    ) -> Option<Vec<String>> {
        let resolve = resolver(state, &self.redactor, index);
        let (env, cwd, redactor) = match index {
            Some(i) => {
                let (step, env, cwd) = self.step_context(state, i);
                let redactor = self.redactor_for(state, &step, &env);
                (env, cwd, redactor)
            }
            None => (
                vec![("CORTEX_RUN_ID".to_string(), state.run_id.clone())],
                state
                    .start
                    .as_ref()
                    .map_or_else(|| PathBuf::from("."), |s| PathBuf::from(&s.working_dir)),
                {
                    let mut redactor = self.redactor.clone();
                    super::secrets::add_held_outputs(&mut redactor, &state.run_id);
                    super::secrets::add_state_outputs(&mut redactor, state);
                    redactor
                },
            ),
        };
        let key = command_key(
            label,
            index
                .and_then(|i| state.workflow.as_ref()?.steps.get(i))
                .map(|s| s.name.as_str()),
        );
        let mut problems = Vec::new();
        for check in checks {
            let Some(cmd) = &check.run else { continue };
            let step = index.and_then(|i| state.definition(i));
            let texts =
                std::iter::once(cmd.as_str()).chain(step.into_iter().flat_map(Step::run_texts));
            if let Some(why) = super::unheld_secret_output_in(state, index, texts) {
                problems.push(format!("`{cmd}` could not run: {why}"));
                continue;
            }
            let (command, tpl_env) = render_shell(cmd, &resolve);
            let mut spec = check_spec(
                &command,
                [env.clone(), tpl_env].concat(),
                &cwd,
                self.grace,
                &redactor,
            );
            // The step's `timeout:` bounds its checks as it bounds its attempts (a prompt
            // step's gate, run by a report, included: a gate that hangs refuses the report,
            // "timed out after 1s"); ten minutes where it sets none. Before, only the ten
            // minutes did, and a report waited on the gate as long as it ran.
            if let Some(own) = step.and_then(step_timeout) {
                spec.timeout = Some(own);
            }
            // And by the time left of the run's `timeout_seconds`, as a `run:` step is: a
            // prompt step with no `timeout:` ran its checks for up to ten minutes whatever
            // the run's limit.
            let run_left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            if let Some(left) = run_left.filter(|l| spec.timeout.is_none_or(|t| *l < t)) {
                spec.timeout = Some(left);
            }
            let r = self.run_noted(
                &state.run_id,
                &key,
                &spec,
                &mut |s, l| on_line(label, s, l),
                watch,
            );
            if r.stopped {
                return None;
            }
            if let Err(p) = check_result(r) {
                problems.push(check_problem(state, index, cmd, &p, &resolve, &redactor));
            }
        }
        Some(problems)
    }

    /// Run step `index`'s `validate: - run:` checks against `outputs`; a problem for each
    /// that fails, or None if a stop ended one (`run_checks`, bounded by `deadline` too).
    pub fn validate_report(
        &self,
        state: &RunState,
        index: usize,
        outputs: &[(String, String)],
        on_line: LineSink<'_>,
        watch: &mut dyn FnMut() -> bool,
        deadline: Option<Instant>,
    ) -> Option<Vec<String>> {
        let Some(step) = state.workflow.as_ref().and_then(|w| w.steps.get(index)) else {
            return Some(Vec::new());
        };
        let checks: Vec<Check> = step
            .validate
            .iter()
            .filter(|c| c.run.is_some())
            .cloned()
            .collect();
        if checks.is_empty() {
            return Some(Vec::new());
        }
        let mut with_outputs = state.clone();
        with_outputs.steps[index].outputs = outputs.iter().cloned().collect();
        self.run_checks(
            &with_outputs,
            Some(index),
            &checks,
            "validate",
            on_line,
            watch,
            deadline,
        )
    }

    /// Check step `index`'s `if:`: evaluate its expression with the run's values (a secret
    /// input's value as this process holds it, recorded as `***`), or run its command in the
    /// step's environment and directory (exit 0: it holds; another code: it does not). None
    /// if a stop ended the command first (the stop flag, or `watch` finding an operator's
    /// request in the log), or the run's `deadline` did: the caller pauses the run for its
    /// time limit, as for an attempt, and the condition is checked again on resume. The
    /// command is bounded as an attempt is: by the step's `timeout:` (ten minutes if it sets
    /// none) and the run's deadline; a step timeout leaves the condition undecided, its reason
    /// naming the limit.
    pub fn check_condition(
        &self,
        state: &RunState,
        index: usize,
        deadline: Option<Instant>,
        on_line: LineSink<'_>,
        watch: &mut dyn FnMut() -> bool,
    ) -> Option<ConditionCheck> {
        let step = state.definition(index)?.clone();
        let condition = step.if_.as_ref()?;
        let mut check = ConditionCheck {
            step: step.name.clone(),
            condition: condition.text(),
            holds: false,
            values: BTreeMap::new(),
            exit_code: None,
            error: None,
        };
        match condition {
            IfCondition::Expression(text) => {
                let expr = match expr::parse(text) {
                    Ok(e) => e,
                    Err(e) => {
                        check.error = Some(format!("it does not parse: {e}"));
                        return Some(check);
                    }
                };
                let secret = |name: &str| {
                    state
                        .start
                        .as_ref()
                        .is_some_and(|s| s.secret_inputs.iter().any(|n| n == name))
                };
                let resolve = |r: &Reference| -> Option<expr::Value> {
                    match r {
                        Reference::Input(name) => match self.redactor.input(name) {
                            Some(v) => Some(expr::Value::Str(v.to_string())),
                            None => state
                                .start
                                .as_ref()?
                                .inputs
                                .get(name)
                                .map(expr::Value::from_json),
                        },
                        Reference::StepOutput { .. } => {
                            resolver(state, &self.redactor, Some(index))(r).map(expr::Value::Str)
                        }
                        Reference::Item => None,
                    }
                };
                // A secret output recorded by another process is `***` in the log: the
                // condition is not decided on that.
                let unheld = expr::references(&expr)
                    .into_iter()
                    .find(|(r, _)| super::unheld_secret_output(state, r))
                    .map(|(r, _)| {
                        super::secrets::unheld_secret_output_error(state, Some(index), r)
                    });
                if let Some(why) = unheld {
                    check.error = Some(why);
                    return Some(check);
                }
                let secret_output = |r: &Reference| match r {
                    Reference::StepOutput { step, key } => {
                        super::is_secret_output_of(state, step, key)
                    }
                    _ => false,
                };
                let evaluation = expr::evaluate(&expr, &resolve);
                for (reference, written, value) in &evaluation.seen {
                    let shown = match (reference, value) {
                        (Reference::Input(name), _) if secret(name) => REDACTED.to_string(),
                        (r, Some(_)) if secret_output(r) => REDACTED.to_string(),
                        (_, Some(v)) => v.shown(),
                        (_, None) => "(not recorded)".to_string(),
                    };
                    check.values.insert(written.clone(), shown);
                }
                match evaluation.result {
                    Ok(holds) => check.holds = holds,
                    Err(e) => check.error = Some(e.0),
                }
            }
            IfCondition::Command(command) => {
                let texts = std::iter::once(command.run.as_str()).chain(step.run_texts());
                if let Some(why) = super::unheld_secret_output_in(state, Some(index), texts) {
                    check.error = Some(why);
                    return Some(check);
                }
                let (step, env, cwd) = self.step_context(state, index);
                let (cmd, tpl_env) =
                    render_shell(&command.run, &resolver(state, &self.redactor, Some(index)));
                let redactor = self.redactor_for(state, &step, &env);
                let own = step_timeout(&step);
                let step_limit = own.unwrap_or(Duration::from_secs(600));
                let run_left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
                let by_run_deadline = run_left.is_some_and(|r| r < step_limit);
                let spec = ProcessSpec {
                    program: Program::Shell(cmd),
                    env: [env, tpl_env].concat(),
                    cwd,
                    stdin: None,
                    timeout: Some(if by_run_deadline {
                        run_left.unwrap_or(step_limit)
                    } else {
                        step_limit
                    }),
                    grace: self.grace,
                    redactor,
                    keep_background: false,
                    capture_stdout: false,
                    unset: &[],
                    log: None,
                };
                let key = command_key("if", Some(&step.name));
                let r = self.run_noted(
                    &state.run_id,
                    &key,
                    &spec,
                    &mut |s, l| on_line("if", s, l),
                    watch,
                );
                if r.stopped || (by_run_deadline && matches!(r.end, AttemptEnd::TimedOut { .. })) {
                    return None;
                }
                match r.end {
                    // The shell's own codes for a command it could not run (127: not
                    // found; 126: found but not executable) say nothing of the condition:
                    // like a command killed, it cannot be decided, and the step fails. A typo
                    // (`tset -f x`) skipped the step as false, and the run completed.
                    AttemptEnd::Exited { code } if unrunnable(code).is_some() => {
                        let meaning = unrunnable(code).unwrap_or_default();
                        check.exit_code = Some(code);
                        check.error = Some(format!(
                            "its command exited with code {code}, the shell's code for {meaning}: a command that could not run says neither true nor false (fix the command; a condition that is false exits 1)"
                        ));
                    }
                    AttemptEnd::Exited { code } => {
                        check.holds = code == 0;
                        if code != 0 {
                            check.exit_code = Some(code);
                        }
                    }
                    AttemptEnd::TimedOut { .. } => {
                        let unit = if state.is_scenario() { "phase" } else { "step" };
                        let limit = match own {
                            Some(t) => format!(
                                "the {unit}'s `timeout:` of {}",
                                humantime::format_duration(t)
                            ),
                            None => format!(
                                "the ten minutes a condition command may take when its {unit} sets no `timeout:`"
                            ),
                        };
                        check.error = Some(format!("its command {} ({limit})", r.end.describe()));
                    }
                    end => check.error = Some(end.describe()),
                }
            }
        }
        Some(check)
    }

    /// The items of step `index`'s `foreach:`: its list, or its template rendered with the
    /// run's values and read as a JSON list (why not, if it is not one).
    pub fn read_items(
        &self,
        state: &RunState,
        index: usize,
    ) -> Result<Vec<crate::definition::Item>, String> {
        let Some(foreach) = state.definition(index).and_then(|d| d.foreach.clone()) else {
            return Err("the step has no `foreach:`".into());
        };
        match foreach {
            Foreach::Items(_) => Ok(foreach.written_items().unwrap_or_default()),
            Foreach::Template(text) => {
                // Items are recorded in the log (`foreach_expanded`) and each unit is given its
                // own: read from a secret output, they would be recorded in clear or run as
                // `***`.
                for occurrence in crate::definition::template::scan(&text) {
                    let what = match &occurrence.reference {
                        Ok(Reference::StepOutput { step, key })
                            if super::is_secret_output_of(state, step, key)
                                || state
                                    .step(step)
                                    .and_then(|s| s.outputs.get(key))
                                    .is_some_and(|v| v == super::REDACTED) =>
                        {
                            "a secret output"
                        }
                        // A secret input (by its name, its use, or its value holding a
                        // secret): `run_started` keeps `***`, its items would be in clear.
                        Ok(Reference::Input(name))
                            if state
                                .start
                                .as_ref()
                                .is_some_and(|s| s.secret_inputs.contains(name)) =>
                        {
                            "a secret input"
                        }
                        _ => continue,
                    };
                    return Err(format!(
                        "`{}` is {what}: a `foreach:` list is recorded in the log item by item, so it cannot be read from a secret (give the items as plain values, and the secret to each item's command through `env:`)",
                        &text[occurrence.start..occurrence.end]
                    ));
                }
                let resolve = resolver(state, &self.redactor, Some(index));
                for occurrence in crate::definition::template::scan(&text) {
                    match occurrence.reference {
                        Err(e) => return Err(e),
                        Ok(r) if resolve(&r).is_none() => {
                            return Err(format!(
                                "`{}` has no value in this run (the step or input it names recorded none)",
                                &text[occurrence.start..occurrence.end]
                            ));
                        }
                        Ok(_) => {}
                    }
                }
                items_of(&render_text(&text, &resolve)).map_err(|e| e.0)
            }
        }
    }

    /// Prerequisites and health checks: every problem at once, or None if a stop ended a
    /// health check (`run_checks`).
    pub fn pre_validate(
        &self,
        state: &RunState,
        on_line: LineSink<'_>,
        watch: &mut dyn FnMut() -> bool,
    ) -> Option<Vec<String>> {
        let Some(wf) = &state.workflow else {
            return Some(vec!["the run has no readable definition".into()]);
        };
        let cwd = state
            .start
            .as_ref()
            .map_or_else(|| PathBuf::from("."), |s| PathBuf::from(&s.working_dir));
        let mut problems = super::check_requires(&wf.requires, &cwd);
        // The children's too (`uses:`, from the run's snapshot): a child's unmet prerequisite
        // met only after the parent's earlier steps ran would fail the run midway, their side
        // effects done (SPEC §4: a failure starts nothing).
        if let Some(start) = &state.start {
            let input = |name: &str| match self.redactor.input(name) {
                Some(v) => Some(expr::Value::Str(v.to_string())),
                None => start.inputs.get(name).map(expr::Value::from_json),
            };
            problems.extend(super::prerequisites::children_requires(
                start, wf, &cwd, &input,
            ));
        }
        // Claude Code must be here for the agents it runs here (a unit with `runs_on` runs on
        // a worker, which has its own): without it every attempt would fail to start, and a
        // retry would not find it either.
        if let Some(setup) = state.claude_setup() {
            let runs_here = (0..state.steps.len()).any(|i| {
                matches!(state.agent_run(i), Some(AgentRun::Claude(_)))
                    && state.runs_on(i).is_empty()
            });
            if runs_here {
                problems.extend(super::claude_program_missing(&setup.program, &cwd));
            }
            // A command line Claude Code could never be started with (an agent's body or its
            // phase's sub-agents longer than one argument holds, a NUL in one), made as each
            // attempt makes it: every attempt would fail to start, on any host.
            for index in 0..state.steps.len() {
                if let Some(AgentRun::Claude(agent)) = state.agent_run(index)
                    && let Err(why) = claude_command_line(state, index, agent)
                    && !problems.contains(&why)
                {
                    problems.push(why);
                }
            }
        }
        problems.extend(self.run_checks(state, None, &wf.health, "health", on_line, watch, None)?);
        Some(problems)
    }

    /// Run step `index`'s rollback command.
    pub fn compensate(
        &self,
        state: &RunState,
        index: usize,
        on_line: LineSink<'_>,
        watch: &mut dyn FnMut() -> bool,
    ) -> Compensation {
        let (step, env, cwd) = self.step_context(state, index);
        let Some(cmd) = &step.rollback else {
            return Compensation::Nothing;
        };
        let texts = std::iter::once(cmd.as_str()).chain(step.run_texts());
        if let Some(error) = super::unheld_secret_output_in_rollback(state, &step.name, texts) {
            return Compensation::Ran(AttemptEnd::SpawnFailed { error }, String::new());
        }
        let (command, tpl_env) = render_shell(cmd, &resolver(state, &self.redactor, Some(index)));
        let redactor = self.redactor_for(state, &step, &env);
        let spec = ProcessSpec {
            program: Program::Shell(command),
            env: [env, tpl_env].concat(),
            cwd,
            stdin: None,
            timeout: step_timeout(&step),
            grace: self.grace,
            redactor,
            keep_background: step.keep_background,
            capture_stdout: false,
            unset: &[],
            log: None,
        };
        let key = command_key("rollback", Some(&step.name));
        let began = Instant::now();
        let r = self.run_noted(
            &state.run_id,
            &key,
            &spec,
            &mut |s, l| on_line(&step.name, s, l),
            watch,
        );
        if r.stopped {
            return Compensation::Stopped;
        }
        if !r.end.succeeded()
            && let Some(why) = super::self_fence::fenced_since(began)
        {
            return Compensation::Fenced(why);
        }
        Compensation::Ran(r.end, r.tail)
    }

    /// End process groups a dead driver left running for this run, so two copies of a step
    /// never overlap, and remove the output files they left (they may hold secrets in plain
    /// text; the attempts that wrote them run again). Returns the groups ended.
    pub fn end_orphans(&self, run_id: &str, keep: &[String]) -> Vec<i32> {
        self.notes.forget();
        end_orphans_of(&self.home, run_id, self.grace, keep)
    }
}

/// Whether the commands a dead driver of `run_id` started still run (`inflight::orphans_alive`).
pub fn orphans_alive_of(home: &Path, run_id: &str) -> bool {
    inflight_notes(home, run_id).is_ok_and(|notes| super::inflight::orphans_alive(&notes, run_id))
}

/// End the notification commands (`notify:`, noted under `notify::notify_key`) a driver of
/// `run_id` that died delivering them left running (TERM, then KILL after `grace`), before
/// they are delivered again; every other group the notes name is left alone (what takes the
/// run over on to its steps ends those: `end_orphans_of`). Returns the groups ended.
pub fn end_notify_orphans_of(home: &Path, run_id: &str, grace: Duration) -> Vec<i32> {
    let Ok(notes) = inflight_notes(home, run_id) else {
        return Vec::new();
    };
    end_orphans(&notes, run_id, grace, &|key| {
        !key.starts_with(super::notify::NOTIFY_KEY_PREFIX)
    })
}

/// The notification commands (by `notify::notify_key`) a driver of `run_id` had started and
/// not seen end — it died delivering them — each with whether it still runs.
pub fn notify_cut_short_of(home: &Path, run_id: &str) -> Vec<(String, bool)> {
    let Ok(notes) = inflight_notes(home, run_id) else {
        return Vec::new();
    };
    super::inflight::unfinished_under(&notes, run_id, super::notify::NOTIFY_KEY_PREFIX)
}

/// End the process groups a dead driver of `run_id` left running (TERM, then KILL after
/// `grace`) and remove the output files they left: what a driver taking the run over does
/// first, and what an operator's stop or abort of a run nobody drives does before it records
/// the run's end — the log must not say a step ended while its commands go on. Returns the
/// groups ended.
///
/// `keep`: the units (by name) whose commands are not orphans — claimed by a live worker,
/// their leases decide — left running with their output files.
pub fn end_orphans_of(home: &Path, run_id: &str, grace: Duration, keep: &[String]) -> Vec<i32> {
    let keys: Vec<String> = keep.iter().map(|name| unit_key(name)).collect();
    // A note's key is a unit's key, or `what-KEY` for another command of that unit.
    let kept = |key: &str| {
        let unit = key.rsplit('-').next().unwrap_or(key);
        keys.iter().any(|k| k == unit)
    };
    // An id that is no run id names no notes and no folder (`materialize::run_path_part`).
    let (Ok(notes), Ok(run_dir)) = (
        inflight_notes(home, run_id),
        super::run_path(home, super::RUNS_FOLDER, run_id),
    ) else {
        return Vec::new();
    };
    let ended = end_orphans(&notes, run_id, grace, &kept);
    let work = run_dir.join("work");
    let real = super::check_run_folders(home, run_id).is_ok();
    if let Some(entries) = std::fs::read_dir(&work).ok().filter(|_| real) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with(".out") && !keys.iter().any(|k| name.contains(k.as_str())) {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
    ended
}

/// One attempt, ready to run: the command, its environment and where its notes go.
#[derive(Debug)]
pub struct PreparedAttempt {
    index: usize,
    /// The unit's key for its files (`unit_key`).
    key: String,
    step: String,
    attempt: u32,
    spec: ProcessSpec,
    home: PathBuf,
    run_id: String,
    output_file: PathBuf,
    notes: PathBuf,
    /// The run's time limit, which may end the attempt before the step's own.
    deadline: Option<Instant>,
    /// The run as of the start, for steps with validation checks.
    state_for_checks: Option<RunState>,
    /// The agent Claude Code runs as, when it runs the attempt.
    claude_agent: Option<String>,
    /// Why the attempt cannot be run at all (its command line cannot be built, a secret
    /// output it reads is not held by this process, its run's id names no path).
    refused: Option<String>,
    /// Whether no retry can change the refusal (a secret output not held).
    permanent: bool,
    /// The step's `working_dir:` as written and the run's directory, for the error when the
    /// directory is missing.
    working_dir: Option<(String, String)>,
}

/// Why an attempt could not start in `cwd`, which is not a directory, and how to fix it:
/// `written` is the step's `working_dir:` as written and the run's directory it is under
/// (none: `cwd` is the run's directory itself).
fn missing_dir_error(cwd: &Path, written: Option<&(String, String)>) -> String {
    let what = match std::fs::metadata(cwd) {
        Ok(_) => "is not a directory",
        Err(_) => "does not exist",
    };
    let cause = match written {
        Some((dir, base)) => format!(
            "its `working_dir: {dir}`, under the run's directory {base}, where `run` was called"
        ),
        None => "the run's directory, where `run` was called".to_string(),
    };
    format!(
        "working directory {} {what} on this host ({cause}). No retry can change that, so none was spent: create the directory, then resume the run (a run keeps the definition it started with: a corrected `working_dir:` applies to a new run)",
        cwd.display()
    )
}

/// The command line Claude Code runs step `index` with, as `agent`: the phase's other agents
/// as sub-agents, and the session to resume if an earlier attempt left one.
fn claude_command_line(state: &RunState, index: usize, agent: &str) -> Result<Vec<String>, String> {
    let setup = state
        .claude_setup()
        .ok_or("the run records no Claude Code setup")?;
    let subagents: Vec<String> = state
        .scenario
        .as_ref()
        .and_then(|sc| sc.phases.get(index))
        .map(|p| p.agents.clone())
        .unwrap_or_default();
    let resume = state.steps[index].resume_session.as_deref();
    claude::command_line(&setup, agent, &subagents, resume)
}

/// A folder's identity (device and inode): whether it is still the folder it was.
type FolderId = crate::file_id::FileId;

/// The folders a run's attempts write in (`runs/<id>/work/`, `logs/<id>/`), as last made and
/// checked by this drive (`PreparedAttempt::prepare_home`): each part a real folder, never
/// a link, and writable. Checked in full at the drive's first attempt, then, before each
/// further attempt, by the identity of the two folders (one `statx` each: a folder removed,
/// replaced, or put back as a link is another inode, and the full check runs again) and a
/// one-call access test: a chain of steps made some twenty system calls a step for folders
/// that had not changed.
#[derive(Debug, Clone)]
struct CheckedFolders {
    home: PathBuf,
    run_id: String,
    work: PathBuf,
    logs: PathBuf,
    work_id: FolderId,
    logs_id: FolderId,
}

/// The folders a runner last checked, kept with the runner (one drive), not in the process:
/// two drives in one process (`cortex serve`, the MCP server, a worker) check their own.
#[derive(Debug, Clone, Default)]
struct FolderChecks(std::sync::Arc<std::sync::Mutex<Option<CheckedFolders>>>);

impl FolderChecks {
    /// The folders of `run_id` under `home` if they are still the ones checked last,
    /// writable.
    fn still(&self, home: &Path, run_id: &str) -> Option<CheckedFolders> {
        let memo = self.0.lock().ok()?.clone()?;
        let same = memo.home == home
            && memo.run_id == run_id
            && memo.work_id != FolderId::default()
            && memo.logs_id != FolderId::default()
            && FolderId::at(&memo.work) == Some(memo.work_id)
            && FolderId::at(&memo.logs) == Some(memo.logs_id)
            && may_write_in(&memo.work).is_ok()
            && may_write_in(&memo.logs).is_ok();
        same.then_some(memo)
    }

    /// Remember `checked` as the folders checked last.
    fn keep(&self, checked: &CheckedFolders) {
        if let Ok(mut memo) = self.0.lock() {
            *memo = Some(checked.clone());
        }
    }
}

/// Whether this process may make files in `dir` (write and search permission), said as the
/// error an attempt that cannot start shows. One `access` call when this process's real and
/// effective ids are the same (cortex is never set-user-id: always, in practice); otherwise
/// the effective ids' answer (`eaccess`, which reads the ids and the folder first).
fn may_write_in(dir: &Path) -> Result<(), String> {
    use nix::unistd::{AccessFlags, Gid, Uid, access, eaccess};
    static SAME_IDS: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let same_ids = *SAME_IDS
        .get_or_init(|| Uid::current() == Uid::effective() && Gid::current() == Gid::effective());
    let flags = AccessFlags::W_OK | AccessFlags::X_OK;
    let checked = if same_ids {
        access(dir, flags)
    } else {
        eaccess(dir, flags)
    };
    checked.map_err(|e| {
        format!(
            "cannot write in {}: {}",
            dir.display(),
            std::io::Error::from(e)
        )
    })
}

impl PreparedAttempt {
    /// Make the attempt's files' folders in the home and check that cortex may write in them,
    /// before anything runs; the error names the path at fault. The step creates its output
    /// file if it has outputs; one a crashed attempt of the same number left behind must not
    /// be read as this attempt's. `work/` must be a real folder: the notes of groups in
    /// flight and the outputs are never written through a link. The whole-output file is
    /// created at the attempt's first line (`process.rs`): its folder is checked writable
    /// here, so that it is not silently left unwritten.
    fn prepare_home(&self, folders: &FolderChecks) -> Result<FolderId, HomeProblem> {
        let checked = match folders.still(&self.home, &self.run_id) {
            Some(checked) => checked,
            None => {
                let work = super::run_folder(&self.home, &self.run_id, Some("work"))
                    .map_err(|e| HomeProblem::of(&e))?;
                let logs = super::materialize::logs_folder(&self.home, &self.run_id)
                    .map_err(|e| HomeProblem::of(&e))?;
                for dir in [&work, &logs] {
                    may_write_in(dir).map_err(HomeProblem::unwritable)?;
                }
                let checked = CheckedFolders {
                    home: self.home.clone(),
                    run_id: self.run_id.clone(),
                    work_id: FolderId::at(&work).unwrap_or_default(),
                    logs_id: FolderId::at(&logs).unwrap_or_default(),
                    work,
                    logs,
                };
                folders.keep(&checked);
                checked
            }
        };
        match std::fs::remove_file(&self.output_file) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(HomeProblem::unwritable(format!(
                    "cannot remove {}, left by an earlier attempt of the same number: {e}",
                    self.output_file.display()
                )))
            }
            _ => Ok(checked.work_id),
        }
    }

    /// Run it and say how it went.
    pub fn run(self, runner: &Runner, on_line: LineSink<'_>) -> AttemptOutcome {
        self.run_watched(runner, on_line, &mut || {}, &mut || false)
    }

    /// `run`, asking `watch` while the command runs whether to end it as a stop would
    /// (`process::run_process_watched`), and calling `spawned` once its process has started
    /// and is noted in flight (never if it did not start: the attempt was refused, or its
    /// spawn failed).
    pub fn run_watched(
        mut self,
        runner: &Runner,
        on_line: LineSink<'_>,
        spawned: &mut dyn FnMut(),
        watch: &mut dyn FnMut() -> bool,
    ) -> AttemptOutcome {
        let run_left = self
            .deadline
            .map(|d| d.saturating_duration_since(Instant::now()));
        let by_run_deadline = match (self.spec.timeout, run_left) {
            (Some(s), Some(r)) if r < s => true,
            (None, Some(_)) => true,
            _ => false,
        };
        if by_run_deadline {
            self.spec.timeout = run_left;
        }
        let report = |end: AttemptEnd, outputs, output_tail, validation_problems| {
            AttemptOutcome::Report(Box::new(AttemptReport {
                step: self.step.clone(),
                attempt: self.attempt,
                end,
                outputs,
                output_tail,
                validation_problems,
                by: None,
                agent: None,
                log: None,
                permanent: false,
            }))
        };
        if let Some(error) = self.refused.take() {
            let mut outcome = report(
                AttemptEnd::SpawnFailed { error },
                Vec::new(),
                String::new(),
                Vec::new(),
            );
            if let AttemptOutcome::Report(r) = &mut outcome {
                r.permanent = self.permanent;
            }
            return outcome;
        }
        let work = match self.prepare_home(&runner.folders) {
            Ok(work) => work,
            Err(problem) => return AttemptOutcome::HomeFault(problem),
        };
        let mut note = None;
        // From here the guard may end the command for a lease this process cannot keep.
        let began = Instant::now();
        let result = super::process::run_process_watched(
            &self.spec,
            &runner.stop,
            &mut |s, l| on_line(&self.step, s, l),
            &mut |pgid| {
                note = Some(InflightNote::started(
                    &runner.notes,
                    &self.notes,
                    &self.key,
                    pgid,
                ));
                spawned();
            },
            watch,
        );
        if let Some(note) = note {
            note.ended();
        }
        // A working directory that is not there is a fault of the definition (or of this
        // host), not of the moment: the attempt fails at once and no retry is spent on it.
        // Looked at only when the spawn failed (its `chdir` did): a `stat` before every spawn
        // was a system call on the chain's critical path for a case the spawn finds anyway.
        if matches!(result.end, AttemptEnd::SpawnFailed { .. }) && !self.spec.cwd.is_dir() {
            let mut outcome = report(
                AttemptEnd::SpawnFailed {
                    error: missing_dir_error(&self.spec.cwd, self.working_dir.as_ref()),
                },
                Vec::new(),
                String::new(),
                Vec::new(),
            );
            if let AttemptOutcome::Report(r) = &mut outcome {
                r.permanent = true;
            }
            return outcome;
        }
        // Read and removed whatever happens next: the file may hold secrets in plain text, and
        // what it says is in the log (redacted) from now on.
        let text = super::take_outputs(&self.output_file);
        if result.stopped {
            return AttemptOutcome::Stopped;
        }
        // Ended (not a success) while this process's leases went unrenewed past its guard's
        // deadline: the guard ended it (TERM, then KILL; a command that traps TERM exits as
        // it likes), for the lease, not for anything the command did. A command that
        // succeeded meanwhile is a result like any other, applied if its lease still holds.
        // `self_fence` knows it: a keeper past its deadline now, or a silence past it that
        // ended since the attempt began.
        if !result.end.succeeded()
            && let Some(why) = super::self_fence::fenced_since(began)
        {
            return AttemptOutcome::Fenced {
                step: self.step.clone(),
                attempt: self.attempt,
                why: format!("{why}: the attempt runs again"),
            };
        }
        // `work/` removed (or replaced) while the command ran — `runs/` deleted, as derived
        // files may be — took what the step had written to `$CORTEX_OUTPUT` with it. Said, not
        // silent: the step is not run again for it (a deploy run twice is worse than outputs
        // lost), and a file made before every attempt to survive it would cost an inode a
        // step. DESIGN.md §6.
        if let Some(folder) = self.output_file.parent()
            && work != FolderId::default()
            && FolderId::at(folder) != Some(work)
        {
            on_line(
                &self.step,
                Stream::Stderr,
                &format!(
                    "cortex: {} was removed while `{}` ran: whatever it wrote to $CORTEX_OUTPUT went with it",
                    folder.display(),
                    self.step
                ),
            );
        }
        if by_run_deadline && matches!(result.end, AttemptEnd::TimedOut { .. }) {
            return AttemptOutcome::RunDeadline;
        }
        let (mut outputs, mut problems) = match &text {
            Ok(text) => super::parse_outputs(text),
            Err(problem) => (Vec::new(), vec![problem.clone()]),
        };
        // What the step wrote cannot be taken as outputs (a line that is not `key=value`, more
        // than the limit, not UTF-8, a link): a fault of what it writes, not of the moment. No
        // retry is spent on it, which would run the step's side effects again to write the
        // same; only a file that could not be read (an I/O error) may read next time.
        let malformed = match &text {
            Ok(_) => !problems.is_empty(),
            Err(problem) => !problem.starts_with("$CORTEX_OUTPUT could not be read"),
        };
        let mut end = result.end;
        // Claude Code not found where the attempt ran: say so, and how to fix it. No retry
        // finds it either (DESIGN.md §6b), so none is spent: the run pauses at once, and a
        // `resume --retry` once it is installed, or `agents.claude.program` is fixed (a resume
        // runs with the configuration in force then), runs it.
        let mut missing_program = false;
        if let (AttemptEnd::SpawnFailed { .. }, Some(_), Program::Argv(argv)) =
            (&end, &self.claude_agent, &self.spec.program)
            && let Some(why) = argv
                .first()
                .and_then(|p| super::claude_program_missing(p, &self.spec.cwd))
        {
            end = AttemptEnd::SpawnFailed { error: why };
            missing_program = true;
        }
        let mut agent = None;
        if let Some(name) = &self.claude_agent {
            let (judged, said) =
                claude::judge(end, result.stdout.as_ref(), &self.step, self.attempt, name);
            end = judged;
            // The runner's final text is the step's output `result`.
            if let Some(said) = said.as_ref().filter(|_| end.succeeded()) {
                outputs.retain(|(k, _)| k != "result");
                outputs.push(("result".into(), said.result.clone()));
            }
            agent = said.map(Box::new);
        }
        let mut validation_problems = Vec::new();
        let malformed = malformed && end.succeeded();
        if end.succeeded() {
            if malformed && let Some(last) = problems.last_mut() {
                last.push_str(
                    " (a malformed $CORTEX_OUTPUT is not retried: a run keeps the definition it started with, so a fixed `run:` applies to a new run; a script the step runs, fixed, is read again by `resume --retry`)",
                );
            }
            validation_problems.append(&mut problems);
            // Validation sees the outputs of this attempt as if already recorded. A check a
            // stop ended is no verdict: the attempt was stopped, as if in its command.
            if let Some(state) = &self.state_for_checks {
                match runner.validate_report(state, self.index, &outputs, on_line, watch, None) {
                    Some(problems) => validation_problems.extend(problems),
                    None => return AttemptOutcome::Stopped,
                }
            }
        }
        let mut outcome = report(end, outputs, result.tail, validation_problems);
        if let AttemptOutcome::Report(r) = &mut outcome {
            r.agent = agent;
            r.log = result.log;
            r.permanent = result.permanent || malformed || missing_program;
        }
        outcome
    }
}

/// What a failed `run:` check says: the check as written (its templates as templates: a
/// value pasted into its shell text would read as a command to paste, and a secret output's
/// value would be written out in clear, as it was), how it ended, and the values its
/// templates had, each a secret's `***`. An output of its own unit that it reads and that was
/// not given is named as the cause, with how to give it.
fn check_problem(
    state: &RunState,
    index: Option<usize>,
    cmd: &str,
    ended: &str,
    resolve: &dyn Fn(&Reference) -> Option<String>,
    redactor: &Redactor,
) -> String {
    let unit = index
        .and_then(|i| state.steps.get(i))
        .map(|s| s.name.as_str());
    let mut seen: Vec<String> = Vec::new();
    let mut values: Vec<String> = Vec::new();
    let mut missing: Vec<String> = Vec::new();
    for occurrence in crate::definition::template::scan(cmd) {
        let Ok(reference) = &occurrence.reference else {
            continue;
        };
        let written = cmd[occurrence.start..occurrence.end]
            .trim_start_matches("${{")
            .trim_end_matches("}}")
            .trim()
            .to_string();
        if seen.contains(&written) {
            continue;
        }
        seen.push(written.clone());
        let value = resolve(reference);
        let secret = match reference {
            Reference::Input(name) => state
                .start
                .as_ref()
                .is_some_and(|s| s.secret_inputs.iter().any(|n| n == name)),
            Reference::StepOutput { step, key } => {
                super::is_secret_output_of(state, step, key)
                    || state
                        .step(step)
                        .and_then(|s| s.outputs.get(key))
                        .is_some_and(|v| v == REDACTED)
            }
            Reference::Item => false,
        };
        let shown = match (value, reference) {
            (None, Reference::StepOutput { step, key }) if Some(step.as_str()) == unit => {
                missing.push(key.clone());
                continue;
            }
            (None, _) => "(no value)".to_string(),
            (Some(_), _) if secret => REDACTED.to_string(),
            (Some(v), _) => match redactor.redact(&v) {
                std::borrow::Cow::Owned(_) => REDACTED.to_string(),
                std::borrow::Cow::Borrowed(v) => expr::Value::Str(clipped(v)).shown(),
            },
        };
        values.push(format!("{written} = {shown}"));
    }
    let mut text = format!("`{}` {ended}", redactor.redact(cmd));
    let external = index.is_some_and(|i| state.is_external(i));
    for key in &missing {
        let flag = crate::render::command_line(&crate::render::pair_args("--output", key, "VALUE"));
        if external {
            let _ = std::fmt::Write::write_fmt(
                &mut text,
                format_args!(": output `{key}` was not given: add {flag}"),
            );
        } else {
            let _ = std::fmt::Write::write_fmt(
                &mut text,
                format_args!(
                    ": output `{key}` was not produced (the step writes {key}=VALUE to $CORTEX_OUTPUT)"
                ),
            );
        }
    }
    if !values.is_empty() {
        text.push_str(&format!(" ({})", values.join(", ")));
    }
    text
}

/// A value as a problem quotes it: its first line, at most 80 characters, `…` where cut.
fn clipped(value: &str) -> String {
    let first = value.lines().next().unwrap_or("");
    let mut out: String = first.chars().take(80).collect();
    if out.len() < value.len() {
        out.push('…');
    }
    out
}

/// Where attempt `attempt` of step (or phase) `unit` keeps its whole output, relative to the
/// home: beside the log, not in the derived `runs/` (it cannot be rebuilt from the log). Named
/// by the unit's key (`unit_key`), not its position, which a re-expanded `foreach:` moves: a
/// unit's attempt numbers never repeat (`RunState::next_attempt`), so neither do its files.
pub fn attempt_log_name(run_id: &str, unit: &str, attempt: u32) -> String {
    format!(
        "logs/{run_id}/step-{}-attempt-{attempt}.log",
        unit_key(unit)
    )
}

/// How a check command runs: in the shell, for at most ten minutes.
fn check_spec(
    command: &str,
    env: Vec<(String, String)>,
    cwd: &Path,
    grace: Duration,
    redactor: &Redactor,
) -> ProcessSpec {
    ProcessSpec {
        program: Program::Shell(command.to_string()),
        env,
        cwd: cwd.to_path_buf(),
        stdin: None,
        timeout: Some(Duration::from_secs(600)),
        grace,
        redactor: redactor.clone(),
        keep_background: false,
        capture_stdout: false,
        unset: &[],
        log: None,
    }
}

/// A check's verdict from how its command ended: Ok if it exited 0, else how it failed (with
/// its last output line, redacted).
fn check_result(r: super::process::ProcessResult) -> Result<(), String> {
    if r.end.succeeded() {
        return Ok(());
    }
    let last = r.tail.lines().last().unwrap_or("").trim().to_string();
    let how = r.end.describe();
    Err(if last.is_empty() {
        how
    } else {
        format!("{how}: {last}")
    })
}

/// What the shell's exit code says when it could not run a command at all (126, 127), or
/// None for a command's own code.
fn unrunnable(code: i32) -> Option<&'static str> {
    match code {
        127 => Some("a command not found"),
        126 => Some("a command found but not executable (permission denied, or not a program)"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The folders one drive checked are the memo of its runner and of the runner's clones
    /// (its attempts' threads), never of another runner: two drives in one process
    /// (`cortex serve`, the MCP server, a worker) each check their folders in full first.
    #[test]
    fn a_runners_folder_checks_are_shared_by_its_clones_and_by_no_other_runner() {
        let home = tempfile::tempdir().unwrap();
        let home = home.path();
        let (work, logs) = (home.join("work"), home.join("logs"));
        std::fs::create_dir(&work).unwrap();
        std::fs::create_dir(&logs).unwrap();
        let checked = CheckedFolders {
            home: home.to_path_buf(),
            run_id: "r".to_string(),
            work_id: FolderId::at(&work).unwrap(),
            logs_id: FolderId::at(&logs).unwrap(),
            work,
            logs,
        };
        let runner = || {
            Runner::new(
                home.to_path_buf(),
                StopFlag::default(),
                Duration::ZERO,
                Redactor::default(),
            )
        };
        let drive = runner();
        drive.folders.keep(&checked);
        assert!(drive.clone().folders.still(home, "r").is_some());
        assert!(drive.folders.still(home, "another run").is_none());
        assert!(runner().folders.still(home, "r").is_none());
    }
}
