//! The driver loop: ask `plan::next` what to do, do it (spawn, wait, check), and record the
//! facts through the journal until the run finishes, waits, pauses or stops.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::{
    Journal, JournalError, ProcessSpec, Redactor, StopFlag, Stream, end_orphan_group, run_process,
    run_process_tracked,
};
use crate::decide::{AttemptReport, Command, RunState};
use crate::definition::template::{Reference, render_shell, render_text};
use crate::definition::{Check, Step};
use crate::event::{AttemptEnd, Event, Operator, Outcome, Recorded};
use crate::plan::{Next, next};

/// What the driver reports while it works; the CLI renders it, tests record it.
pub trait Observer {
    /// Events were appended; `state` is the run after them.
    fn recorded(&mut self, state: &RunState, events: &[Recorded]);
    /// A line of a step's output.
    fn line(&mut self, step: &str, stream: Stream, line: &str);
    /// Something went wrong that does not stop the run (e.g. a derived file not written).
    fn warn(&mut self, message: &str);
}

/// Everything the driver needs besides the journal.
pub struct DriveContext<'a> {
    pub home: PathBuf,
    pub stop: StopFlag,
    /// Recorded as the actor of a stop caused by a signal.
    pub actor: Operator,
    pub observer: &'a mut dyn Observer,
    /// Time between TERM and KILL when a step's process group must end.
    pub grace: Duration,
}

/// Where the driver left the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DriveEnd {
    Finished(Outcome),
    /// An external step waits for a report.
    Waiting(String),
    Paused,
    Stopped,
}

#[derive(Debug, thiserror::Error)]
pub enum DriveError {
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error("{0}")]
    Internal(String),
}

fn record(
    journal: &mut Journal<'_>,
    ctx: &mut DriveContext<'_>,
    command: Command,
) -> Result<(), DriveError> {
    let events = journal.submit(command)?;
    ctx.observer.recorded(&journal.state, &events);
    let derived_changed = events.iter().any(|r| {
        matches!(
            r.event,
            Event::RunStarted(_)
                | Event::CheckpointSaved { .. }
                | Event::RunFinished { .. }
                | Event::RunResumed { .. }
                | Event::RollbackFinished { .. }
        )
    });
    if derived_changed && let Err(e) = super::materialize(&ctx.home, &journal.state) {
        ctx.observer.warn(&format!(
            "could not write the run's derived files (the log is intact): {e}"
        ));
    }
    Ok(())
}

/// Secrets of the environment and of every step, for the journal to scrub.
fn redactor_for(state: &RunState) -> Redactor {
    let env: Vec<(String, String)> = std::env::vars().collect();
    let mut extra = Vec::new();
    let mut r = Redactor::default();
    if let Some(wf) = &state.workflow {
        for step in &wf.steps {
            extra.extend(step.secret_env.iter().cloned());
            for (name, value) in &step.env {
                if super::is_secret_name(name) || step.secret_env.contains(name) {
                    r.add(&value.0);
                }
            }
        }
    }
    r.merge(&Redactor::from_env(
        env.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        &extra,
    ));
    r
}

/// Drive the run in `journal` until it can go no further without outside help.
pub fn drive(
    journal: &mut Journal<'_>,
    ctx: &mut DriveContext<'_>,
) -> Result<DriveEnd, DriveError> {
    let redactor = redactor_for(&journal.state);
    journal.redactor.merge(&redactor);
    let inflight = inflight_file(&ctx.home, &journal.run_id);
    if let Some(pgid) = std::fs::read_to_string(&inflight)
        .ok()
        .and_then(|t| t.trim().parse::<i32>().ok())
    {
        // A driver that died mid-step leaves its step's process group running; end it before
        // the step runs again, so two copies never run at once.
        if end_orphan_group(pgid, ctx.grace) {
            ctx.observer.warn(&format!(
                "ended process group {pgid} left running by the previous driver"
            ));
        }
        let _ = std::fs::remove_file(&inflight);
    }
    if let Err(e) = super::materialize(&ctx.home, &journal.state) {
        ctx.observer
            .warn(&format!("could not write the run's derived files: {e}"));
    }
    let limit = journal
        .state
        .start
        .as_ref()
        .map_or(0, |s| s.config.timeout_seconds);
    let deadline = (limit > 0).then(|| Instant::now() + Duration::from_secs(limit));
    loop {
        if ctx.stop.is_set() {
            let by = ctx.actor.clone();
            record(
                journal,
                ctx,
                Command::Stop {
                    by,
                    signal: ctx.stop.signal_name(),
                },
            )?;
            return Ok(DriveEnd::Stopped);
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            let reason = format!("the run exceeded its time limit (timeout_seconds: {limit})");
            record(journal, ctx, Command::Pause { reason })?;
            return Ok(DriveEnd::Paused);
        }
        match next(&journal.state) {
            Next::Finished(outcome) => return Ok(DriveEnd::Finished(outcome)),
            Next::Paused => return Ok(DriveEnd::Paused),
            Next::Stopped => return Ok(DriveEnd::Stopped),
            Next::AwaitReport { index } => {
                return Ok(DriveEnd::Waiting(journal.state.steps[index].name.clone()));
            }
            Next::InFlight { index } => {
                return Err(DriveError::Internal(format!(
                    "step `{}` is marked running but no attempt is in flight",
                    journal.state.steps[index].name
                )));
            }
            Next::PreValidate => {
                let problems = pre_validate(&journal.state, ctx);
                record(journal, ctx, Command::RecordPreValidation { problems })?;
            }
            Next::PostValidate => {
                let checks = journal
                    .state
                    .workflow
                    .as_ref()
                    .map(|w| w.post.clone())
                    .unwrap_or_default();
                let problems = run_checks(&journal.state, ctx, None, &checks, "post");
                if ctx.stop.is_set() {
                    continue;
                }
                record(journal, ctx, Command::RecordPostValidation { problems })?;
            }
            Next::Attempt { index, delay_ms } => {
                if !sleep_unless_stopped(Duration::from_millis(delay_ms), &ctx.stop, deadline) {
                    continue;
                }
                let name = journal.state.steps[index].name.clone();
                record(journal, ctx, Command::StartAttempt { step: name })?;
                if journal.state.is_external(index) {
                    continue;
                }
                match run_attempt(&journal.state, ctx, index, deadline) {
                    AttemptOutcome::Report(report) => {
                        record(journal, ctx, Command::FinishAttempt(Box::new(report)))?
                    }
                    AttemptOutcome::Stopped => continue,
                    AttemptOutcome::RunDeadline => continue,
                }
            }
            Next::Compensate { index } => {
                let (step, env, cwd) = step_context(&journal.state, ctx, index);
                let (end, output_tail) = match &step.rollback {
                    None => (None, String::new()),
                    Some(cmd) => {
                        let (command, tpl_env) = render_shell(cmd, &resolver(&journal.state));
                        let spec = ProcessSpec {
                            command,
                            env: [env, tpl_env].concat(),
                            cwd,
                            stdin: None,
                            timeout: step_timeout(&step),
                            grace: ctx.grace,
                        };
                        let name = step.name.clone();
                        let observer = &mut *ctx.observer;
                        let r =
                            run_process(&spec, &ctx.stop, &mut |s, l| observer.line(&name, s, l));
                        if r.stopped {
                            continue;
                        }
                        (Some(r.end), journal.redactor.redact(&r.tail))
                    }
                };
                record(
                    journal,
                    ctx,
                    Command::RecordCompensation {
                        step: step.name.clone(),
                        end,
                        output_tail,
                    },
                )?;
            }
        }
    }
}

enum AttemptOutcome {
    Report(AttemptReport),
    Stopped,
    RunDeadline,
}

/// Sleep `d` in small slices; false if a stop or the run deadline came first.
fn sleep_unless_stopped(d: Duration, stop: &StopFlag, deadline: Option<Instant>) -> bool {
    let until = Instant::now() + d;
    while Instant::now() < until {
        if stop.is_set() || deadline.is_some_and(|x| Instant::now() >= x) {
            return false;
        }
        std::thread::sleep((until - Instant::now()).min(Duration::from_millis(20)));
    }
    true
}

/// Where the process group of the attempt in flight is noted (a hint for cleanup, not state).
fn inflight_file(home: &Path, run_id: &str) -> PathBuf {
    home.join("runs")
        .join(run_id)
        .join("work")
        .join("inflight.pgid")
}

fn step_timeout(step: &Step) -> Option<Duration> {
    step.timeout.as_ref().and_then(|t| t.to_duration().ok())
}

/// How templates resolve in this run: its inputs and the outputs recorded so far.
fn resolver(state: &RunState) -> impl Fn(&Reference) -> Option<String> + '_ {
    move |r: &Reference| match r {
        Reference::Input(name) => state.start.as_ref()?.inputs.get(name).map(|v| match v {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        }),
        Reference::StepOutput { step, key } => state.step(step)?.outputs.get(key).cloned(),
    }
}

/// The step definition, its environment and its directory.
fn step_context(
    state: &RunState,
    ctx: &DriveContext<'_>,
    index: usize,
) -> (Step, Vec<(String, String)>, PathBuf) {
    let step = state
        .workflow
        .as_ref()
        .expect("started runs have a workflow")
        .steps[index]
        .clone();
    let start = state.start.as_ref().expect("started runs have a start");
    let resolve = resolver(state);
    let mut env = vec![
        ("CORTEX_RUN_ID".to_string(), state.run_id.clone()),
        ("CORTEX_STEP".to_string(), step.name.clone()),
        (
            "CORTEX_ATTEMPT".to_string(),
            state.steps[index].attempts.to_string(),
        ),
        ("CORTEX_HOME".to_string(), ctx.home.display().to_string()),
    ];
    for (name, value) in &start.inputs {
        let text = match value {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        env.push((format!("CORTEX_INPUT_{}", name.to_ascii_uppercase()), text));
    }
    for (name, value) in &step.env {
        env.push((name.clone(), render_text(&value.0, &resolve)));
    }
    let base = PathBuf::from(&start.working_dir);
    let cwd = match &step.working_dir {
        Some(dir) => base.join(render_text(dir, &resolve)),
        None => base,
    };
    (step, env, cwd)
}

fn run_attempt(
    state: &RunState,
    ctx: &mut DriveContext<'_>,
    index: usize,
    deadline: Option<Instant>,
) -> AttemptOutcome {
    let (step, mut env, cwd) = step_context(state, ctx, index);
    let attempt = state.steps[index].attempts;
    let resolve = resolver(state);
    let work = ctx.home.join("runs").join(&state.run_id).join("work");
    let output_file = work.join(format!("step-{}-attempt-{attempt}.out", index + 1));
    let prepared = std::fs::create_dir_all(&work).and_then(|()| std::fs::write(&output_file, ""));
    if let Err(e) = prepared {
        return AttemptOutcome::Report(AttemptReport {
            step: step.name.clone(),
            attempt,
            end: AttemptEnd::SpawnFailed {
                error: format!("cannot create {}: {e}", output_file.display()),
            },
            outputs: Vec::new(),
            output_tail: String::new(),
            validation_problems: Vec::new(),
            by: None,
        });
    }
    env.push(("CORTEX_OUTPUT".into(), output_file.display().to_string()));
    let (command, stdin) = match (&step.run, state.agent_command(index)) {
        (Some(run), _) => (run.clone(), None),
        (None, Some(agent)) => {
            let prompt = step
                .prompt
                .as_deref()
                .or(step.description.as_deref())
                .unwrap_or(&step.name);
            (agent.to_string(), Some(render_text(prompt, &resolve)))
        }
        (None, None) => unreachable!("external steps are not run by the driver"),
    };
    let (command, tpl_env) = if step.run.is_some() {
        render_shell(&command, &resolve)
    } else {
        (command, Vec::new())
    };
    env.extend(tpl_env);
    let step_limit = step_timeout(&step);
    let run_left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
    let (timeout, by_run_deadline) = match (step_limit, run_left) {
        (Some(s), Some(r)) if r < s => (Some(r), true),
        (None, Some(r)) => (Some(r), true),
        (s, _) => (s, false),
    };
    let spec = ProcessSpec {
        command,
        env: env.clone(),
        cwd: cwd.clone(),
        stdin,
        timeout,
        grace: ctx.grace,
    };
    let name = step.name.clone();
    let inflight = inflight_file(&ctx.home, &state.run_id);
    let redactor = redactor_for(state);
    let result = {
        let observer = &mut *ctx.observer;
        run_process_tracked(
            &spec,
            &ctx.stop,
            &mut |s, l| observer.line(&name, s, &redactor.redact(l)),
            &mut |pgid| {
                let _ = std::fs::write(&inflight, pgid.to_string());
            },
        )
    };
    let _ = std::fs::remove_file(&inflight);
    if result.stopped {
        return AttemptOutcome::Stopped;
    }
    if by_run_deadline && matches!(result.end, AttemptEnd::TimedOut { .. }) {
        return AttemptOutcome::RunDeadline;
    }
    let text = std::fs::read_to_string(&output_file).unwrap_or_default();
    let (outputs, mut problems) = super::parse_outputs(&text);
    let mut validation_problems = Vec::new();
    if result.end.succeeded() {
        validation_problems.append(&mut problems);
        // Validation sees the outputs of this attempt as if already recorded.
        validation_problems.extend(validate_report(state, ctx, index, &outputs));
    }
    AttemptOutcome::Report(AttemptReport {
        step: step.name.clone(),
        attempt,
        end: result.end,
        outputs,
        output_tail: redactor.redact(&result.tail),
        validation_problems,
        by: None,
    })
}

/// Run `run:` checks; a problem for each that fails.
fn run_checks(
    state: &RunState,
    ctx: &mut DriveContext<'_>,
    index: Option<usize>,
    checks: &[Check],
    label: &str,
) -> Vec<String> {
    let resolve = resolver(state);
    let (env, cwd) = match index {
        Some(i) => {
            let (_, env, cwd) = step_context(state, ctx, i);
            (env, cwd)
        }
        None => (
            vec![("CORTEX_RUN_ID".to_string(), state.run_id.clone())],
            state
                .start
                .as_ref()
                .map_or_else(|| PathBuf::from("."), |s| PathBuf::from(&s.working_dir)),
        ),
    };
    let mut problems = Vec::new();
    for check in checks {
        let Some(cmd) = &check.run else { continue };
        let (command, tpl_env) = render_shell(cmd, &resolve);
        let observer = &mut *ctx.observer;
        let r = run_check(
            &command,
            [env.clone(), tpl_env].concat(),
            &cwd,
            &ctx.stop,
            ctx.grace,
            &mut |s, l| observer.line(label, s, l),
        );
        if let Err(p) = r {
            problems.push(format!("`{cmd}` {p}"));
        }
    }
    problems
}

/// Run one check command: Ok if it exits 0, else how it failed (with its last output line).
pub fn run_check(
    command: &str,
    env: Vec<(String, String)>,
    cwd: &Path,
    stop: &StopFlag,
    grace: Duration,
    on_line: &mut dyn FnMut(Stream, &str),
) -> Result<(), String> {
    let spec = ProcessSpec {
        command: command.to_string(),
        env,
        cwd: cwd.to_path_buf(),
        stdin: None,
        timeout: Some(Duration::from_secs(600)),
        grace,
    };
    let r = run_process(&spec, stop, on_line);
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

/// Prerequisites and health checks: every problem at once.
fn pre_validate(state: &RunState, ctx: &mut DriveContext<'_>) -> Vec<String> {
    let Some(wf) = &state.workflow else {
        return vec!["the run has no readable definition".into()];
    };
    let cwd = state
        .start
        .as_ref()
        .map_or_else(|| PathBuf::from("."), |s| PathBuf::from(&s.working_dir));
    let mut problems = super::check_requires(&wf.requires, &cwd);
    let health = wf.health.clone();
    problems.extend(run_checks(state, ctx, None, &health, "health"));
    problems
}

/// Run step `index`'s `validate: - run:` checks against `outputs` (for an operator's report of
/// an external step); a problem for each that fails.
pub fn validate_report(
    state: &RunState,
    ctx: &mut DriveContext<'_>,
    index: usize,
    outputs: &[(String, String)],
) -> Vec<String> {
    let Some(step) = state.workflow.as_ref().and_then(|w| w.steps.get(index)) else {
        return Vec::new();
    };
    let checks: Vec<Check> = step
        .validate
        .iter()
        .filter(|c| c.run.is_some())
        .cloned()
        .collect();
    let mut with_outputs = state.clone();
    with_outputs.steps[index].outputs = outputs.iter().cloned().collect();
    run_checks(&with_outputs, ctx, Some(index), &checks, "validate")
}
