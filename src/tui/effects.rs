//! Carries out the app's effects off the UI thread: operator actions recorded through the
//! same library calls as `cortex orchestrate` (with the TUI's actor), and drivers started as
//! detached `cortex` processes so that the screen never waits on a run. Each effect answers
//! with messages; an error becomes a line in the status bar, never a panic.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::time::{Duration, SystemTime};

use crate::definition::Durability;
use crate::event::Operator;
use crate::execute::operator::{self, DriveOn, OperatorError, Stopping};
use crate::execute::{DriverLock, Holder, Journal, SystemClock, UlidIds, rfc3339};
use crate::store::{EventStore, Location};

use crate::event::{ResumeMode, RunKind};
use crate::project::RunAct;

use super::app::{Effect, GivenInput, Msg, Notice, PhaseOp, ResumeAsked};
use super::catalog::scenario_entries;

/// How long a phase's checks get between TERM and KILL when a report runs them (as the CLI).
const KILL_GRACE: Duration = Duration::from_secs(5);

/// What the effects need to know about where and as whom the TUI runs.
#[derive(Clone)]
pub struct Settings {
    pub home: PathBuf,
    /// The directory `cortex tui` was started in: the catalog's project directory, and
    /// where the drivers it starts run.
    pub cwd: PathBuf,
    pub actor: String,
    /// This binary, to start drivers with.
    pub exe: PathBuf,
    /// Where the log is (the drivers it starts are told too).
    pub location: Location,
    /// The operations' context, its notifications handed to this process's background
    /// deliverer (`ops::background`, as `cortex serve`'s): an action that ends a run with
    /// nobody driving it has the run's `notify:` delivered without the screen waiting for it.
    pub ctx: crate::ops::Ctx,
}

/// A thread that carries out effects one after another.
pub struct Worker {
    jobs: Sender<Effect>,
}

impl Worker {
    /// Start the worker; its messages arrive on `out`.
    pub fn start(
        settings: Settings,
        out: Sender<Msg>,
    ) -> Result<Worker, crate::execute::thread::Refused> {
        let (jobs, rx): (Sender<Effect>, Receiver<Effect>) = channel();
        crate::execute::thread::spawn("to carry out the terminal UI's actions", move || {
            for effect in rx {
                handle(&settings, effect, &out);
            }
        })?;
        Ok(Worker { jobs })
    }

    pub fn submit(&self, effect: Effect) {
        // The worker lives as long as the app; a send can fail only while quitting.
        let _ = self.jobs.send(effect);
    }
}

fn handle(settings: &Settings, effect: Effect, out: &Sender<Msg>) {
    let msg = match effect {
        Effect::ReloadCatalog => Msg::Catalog(scenario_entries(&settings.ctx)),
        Effect::Phase {
            run_id,
            scenario,
            phase,
            op,
        } => Msg::Notice(
            record_phase(settings, &run_id, &scenario, &phase, op, out)
                .unwrap_or_else(|e| Notice::error(e.to_string())),
        ),
        Effect::Stop { run_id, scenario } => Msg::Notice(
            stop(settings, &run_id, &scenario).unwrap_or_else(|e| Notice::error(e.to_string())),
        ),
        Effect::Run {
            scenario,
            target,
            inputs,
        } => {
            let argv = Argv::new(&["orchestrate", "run", &target]).inputs(&inputs);
            let again = settings.ctx.cmd(&argv.shown());
            match detach(
                settings,
                &scenario,
                &argv.args(),
                &argv.env,
                Some(again),
                out,
            ) {
                Ok(log) => Msg::Notice(Notice::info(format!(
                    "Started a run of {scenario} in the background (output: {})",
                    log.display()
                ))),
                Err(e) => Msg::DriverEnded {
                    scenario,
                    notice: Notice::error(format!("cannot start cortex: {e}")),
                },
            }
        }
        Effect::Workflow { run_id, name, act } => {
            Msg::Notice(workflow_act(settings, &run_id, &name, act, out))
        }
        Effect::Resume(asked) => Msg::Notice(resume(settings, asked, out)),
    };
    let _ = out.send(msg);
}

/// The arguments of a `cortex` command a driver is started with, what a terminal would run
/// instead (should the driver refuse), and the driver's environment: a secret input's value
/// goes only into the environment (`CORTEX_INPUT_<NAME>`, which `run` and `resume` read
/// secrets from; arguments are for anyone to read), and is shown as `NAME=VALUE`.
struct Argv {
    args: Vec<String>,
    shown: Vec<String>,
    env: Vec<(String, String)>,
}

impl Argv {
    fn new(args: &[&str]) -> Argv {
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        Argv {
            shown: args.clone(),
            args,
            env: Vec::new(),
        }
    }

    /// An argument that is no secret, given and shown as it is.
    fn arg(mut self, arg: String) -> Argv {
        self.shown.push(arg.clone());
        self.args.push(arg);
        self
    }

    fn inputs(mut self, inputs: &[GivenInput]) -> Argv {
        for i in inputs {
            if i.secret {
                self.env
                    .push((crate::execute::input_env_name(&i.name), i.value.clone()));
                self.shown
                    .extend(crate::render::pair_args("--input", &i.name, "VALUE"));
            } else {
                self.args.push(format!("--input={}={}", i.name, i.value));
                self.shown
                    .extend(crate::render::pair_args("--input", &i.name, &i.value));
            }
        }
        self
    }

    fn args(&self) -> Vec<&str> {
        self.args.iter().map(String::as_str).collect()
    }

    fn shown(&self) -> Vec<&str> {
        self.shown.iter().map(String::as_str).collect()
    }
}

/// A resume in the background: a detached `cortex workflow|orchestrate resume RUN
/// [--retry|--skip|--from=STEP|--rollback-to=STEP] [--timeout=LIMIT]`, given the secret
/// inputs typed as a terminal gives them (`CORTEX_INPUT_<NAME>`), refused at once when a
/// driver holds the run (the screen never waits on a run).
fn resume(settings: &Settings, r: ResumeAsked, out: &Sender<Msg>) -> Notice {
    if let Some(h) = DriverLock::probe(&settings.home, &r.run_id) {
        return Notice::error(format!("{} is already driven by {h}", r.name));
    }
    let mut argv = Argv::new(&[r.kind.group(), "resume", &r.run_id]);
    argv = match &r.mode {
        ResumeMode::Continue => argv,
        ResumeMode::Retry => argv.arg("--retry".into()),
        ResumeMode::Skip => argv.arg("--skip".into()),
        ResumeMode::From(step) => argv.arg(format!("--from={step}")),
        ResumeMode::RollbackTo(step) => argv.arg(format!("--rollback-to={step}")),
    };
    if let Some(limit) = &r.timeout {
        argv = argv.arg(format!("--timeout={limit}"));
    }
    argv = argv.inputs(&r.inputs);
    let again = settings.ctx.cmd(&argv.shown());
    match detach(settings, &r.name, &argv.args(), &argv.env, Some(again), out) {
        Ok(log) => Notice::info(format!(
            "{} in the background{} (output: {})",
            super::app::doing(&RunAct::Resume(r.mode), &r.name),
            r.timeout
                .map(|t| format!(", time limit {t}"))
                .unwrap_or_default(),
            log.display()
        )),
        Err(e) => Notice::error(format!("cannot start cortex: {e}")),
    }
}

fn open_store(settings: &Settings) -> Result<Box<dyn EventStore>, OperatorError> {
    Ok(settings.location.open(Durability::Normal)?)
}

fn holder(actor: &str) -> Holder {
    Holder::this_process(actor)
}

/// `orchestrate start|complete|fail` for one phase, then a background driver if the run has
/// work and nobody drives it.
fn record_phase(
    settings: &Settings,
    run_id: &str,
    scenario: &str,
    phase: &str,
    op: PhaseOp,
    out: &Sender<Msg>,
) -> Result<Notice, OperatorError> {
    let by = Operator {
        actor: settings.actor.clone(),
        message: None,
    };
    let home = settings.home.as_path();
    let mut store = open_store(settings)?;
    let clock = SystemClock;
    let mut ids = UlidIds::default();
    let mut journal = Journal::open(&mut store, &clock, &mut ids, run_id)?;
    // A phase's checks run here, with the secret inputs' values the TUI's environment gives
    // (`CORTEX_INPUT_<NAME>`); without one they are refused, as the CLI's report is.
    let redactor = journal.redactor.clone();
    let report = |state: &crate::decide::RunState, success: bool| {
        operator::report_phase(
            state,
            home,
            phase,
            success,
            Vec::new(),
            &by,
            KILL_GRACE,
            &redactor,
        )
    };
    let recorded = operator::record(&mut journal, home, |state| match op {
        PhaseOp::Start => operator::start_phase(state, phase, &by),
        PhaseOp::Complete => report(state, true),
        PhaseOp::Fail => report(state, false),
    });
    if let Err(OperatorError::ChecksNeedSecrets(lack)) = &recorded {
        return Ok(checks_need_secrets(settings, lack));
    }
    recorded?;
    let owned = journal.state.clone();
    let state = &owned;
    let status = state.step(phase).map(|s| s.status);
    let mut notice = match op {
        PhaseOp::Start => Notice::info(format!("{phase}: start requested by {}", by.actor)),
        PhaseOp::Complete if status == Some(crate::decide::StepStatus::Completed) => {
            Notice::info(format!("{phase}: reported complete by {}", by.actor))
        }
        PhaseOp::Complete => {
            let why = state
                .step(phase)
                .and_then(|s| s.error.clone())
                .unwrap_or_else(|| "its checks failed".into());
            Notice::error(format!("{phase} did not pass its checks: {why}"))
        }
        PhaseOp::Fail => Notice::info(format!("{phase}: reported failed by {}", by.actor)),
    };
    let on = journal
        .nested(|store, _, _| operator::drive_on(home, &*store, state, &holder(&by.actor)))?;
    match on {
        DriveOn::Here(lock) if !has_work(state) => {
            // Every phase left waits on a report or a start: a driver would only exit again.
            drop(lock);
        }
        DriveOn::Here(lock) => {
            // The background driver takes the run; this process only looked.
            drop(lock);
            let run_id = state.run_id.clone();
            // It drives on what was recorded, as `orchestrate complete` goes on in its own
            // process: nothing of its own recorded first (no `run_resumed`).
            let args = ["orchestrate", "resume", "--drive-on", run_id.as_str()];
            match detach(settings, scenario, &args, &[], None, out) {
                Ok(_) => notice
                    .text
                    .push_str("; a background driver goes on with it"),
                Err(e) => {
                    notice = Notice::error(format!(
                        "{}; but no driver could be started: {e}",
                        notice.text
                    ))
                }
            }
        }
        DriveOn::Elsewhere => notice.text.push_str("; its driver goes on with it"),
        DriveOn::Nothing => {
            // Nobody drives the run on: what its end has due (`notify:`) is delivered here,
            // in the background, as `orchestrate fail` would deliver it.
            let redactor = crate::execute::Redactor::of_run(state);
            for warning in crate::ops::notify::after_change(&settings.ctx, state, &redactor) {
                notice.text.push_str(&format!("; {warning}"));
            }
        }
    }
    Ok(notice)
}

/// A completion refused because the phase's checks need secret inputs the TUI was not given
/// (`operator::checks_lack_secrets`, the CLI's rule): nothing recorded, the inputs named, and
/// how to give them — in the TUI's environment, or with the report from a terminal.
fn checks_need_secrets(settings: &Settings, lack: &operator::ChecksLackSecrets) -> Notice {
    let vars: Vec<String> = lack
        .missing
        .iter()
        .map(|n| crate::execute::input_env_name(n))
        .collect();
    let assigned: Vec<String> = vars.iter().map(|v| format!("{v}=VALUE")).collect();
    let again = settings
        .ctx
        .cmd(&["orchestrate", "complete", &lack.run_id, &lack.unit]);
    Notice::error(format!(
        "{} not reported: its checks need the secret input{} {} of the run, which this TUI was not given (the log keeps only `***`, and every command cortex runs, checks included, gets the run's inputs); start cortex tui with {} set to the value{} the run started with, or report it from a terminal: `{} {}`",
        lack.unit,
        if lack.missing.len() == 1 { "" } else { "s" },
        lack.missing
            .iter()
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(", "),
        vars.join(", "),
        if lack.missing.len() == 1 { "" } else { "s" },
        assigned.join(" "),
        again.trim_matches('`'),
    ))
}

/// Whether a driver has something to do: a phase may start, or one runs without a driver.
fn has_work(state: &crate::decide::RunState) -> bool {
    operator::has_work(state)
}

fn stop(settings: &Settings, run_id: &str, scenario: &str) -> Result<Notice, OperatorError> {
    let by = Operator {
        actor: settings.actor.clone(),
        message: None,
    };
    let mut store = open_store(settings)?;
    let clock = SystemClock;
    let mut ids = UlidIds::default();
    let stopping = operator::stop(
        &mut store,
        &clock,
        &mut ids,
        &settings.home,
        run_id,
        &by,
        &holder(&by.actor),
    )?;
    Ok(Notice::info(match stopping {
        Stopping::Recorded => format!("{scenario} stopped by {}", by.actor),
        Stopping::Already => format!("{scenario} is already stopped; nothing was recorded"),
        Stopping::Requested => format!(
            "Stop of {scenario} requested by {}; its driver ends the running phases",
            by.actor
        ),
    }))
}

/// A workflow run's stop or abort, recorded as `workflow stop|abort` record them (the same
/// operations: `ops::scenario::stop_run`, `ops::workflow::abort`, through
/// `execute::operator`), with the TUI's actor; or its resume in a mode, by a background
/// `cortex workflow resume RUN [--retry|--skip|--from=STEP|--rollback-to=STEP]` (the screen
/// never waits on a run).
fn workflow_act(
    settings: &Settings,
    run_id: &str,
    name: &str,
    act: RunAct,
    out: &Sender<Msg>,
) -> Notice {
    let by = || Operator {
        actor: settings.actor.clone(),
        message: None,
    };
    let scope = crate::ops::Scope::any();
    let ctx = &settings.ctx;
    let done = match act {
        RunAct::Stop => crate::ops::scenario::stop_run(ctx, scope, Some(run_id), by()),
        RunAct::Abort => crate::ops::workflow::abort(ctx, scope, Some(run_id), by()),
        RunAct::Resume(mode) => {
            let asked = ResumeAsked {
                run_id: run_id.to_string(),
                name: name.to_string(),
                kind: RunKind::Workflow,
                mode,
                inputs: Vec::new(),
                timeout: None,
            };
            return resume(settings, asked, out);
        }
    };
    match done {
        Ok(output) => said(&output, name, &settings.actor),
        // Its message and what to do, as the CLI's `error:` and `hint:` lines say them.
        Err(e) => {
            let mut text = e.message.clone();
            for hint in &e.hints {
                text.push_str(&format!("\nhint: {}", hint.render_with(|_| None)));
            }
            Notice::error(text)
        }
    }
}

/// The notice for a workflow run's stop or abort, from its document: its `note` where it
/// says why nothing (or only a request) was recorded, else how the run stands now, and what
/// was said on the side (a notification that could not be delivered).
fn said(output: &crate::ops::Output, name: &str, actor: &str) -> Notice {
    let status = output.json["status"].as_str().unwrap_or("unknown");
    let mut text = match output.json["note"].as_str() {
        Some(note) => format!("{name}: {note}"),
        None => match status {
            "stopped" => format!("{name} stopped by {actor}"),
            "aborted" => format!("{name} aborted by {actor}"),
            other => format!("{name} is {other} now"),
        },
    };
    for warning in &output.warnings {
        text.push_str(&format!("; {warning}"));
    }
    // The action was taken (or found nothing to do): how the run ended is no error of it.
    Notice::info(text)
}

/// Start `cortex ARGS` detached, with this home and actor, its output in
/// `<home>/tui/driver-<time>.log`; a thread waits for it and reports how it ended.
fn detach(
    settings: &Settings,
    scenario: &str,
    args: &[&str],
    env: &[(String, String)],
    again: Option<String>,
    out: &Sender<Msg>,
) -> std::io::Result<PathBuf> {
    let stamp = rfc3339(SystemTime::now()).replace(':', "-");
    let log = settings
        .home
        .join(crate::execute::TUI_DRIVER_LOGS)
        .join(format!("driver-{stamp}-{}.log", std::process::id()));
    let mut full: Vec<String> = vec!["--home".into(), settings.home.display().to_string()];
    full.extend(args.iter().map(|a| a.to_string()));
    full.extend(["--actor".to_string(), settings.actor.clone()]);
    // The log in the environment, never an argument: its connection string may hold a
    // password (from CORTEX_DB or the configuration), and arguments are for anyone to read.
    let mut vars = vec![(crate::ops::DB_ENV.to_string(), settings.location.spec())];
    vars.extend(env.iter().cloned());
    let out = out.clone();
    let scenario = scenario.to_string();
    // The thread that waits for the driver first: refused (`ulimit -u`), no driver is started.
    let waiter = crate::execute::thread::ready_for(
        "to wait for a driver",
        move |mut detached: operator::Detached| {
            let code = detached.child.wait().ok().and_then(|s| s.code());
            let _ = out.send(Msg::DriverEnded {
                notice: ended(&scenario, code, &detached.log, again.as_deref()),
                scenario,
            });
        },
    )
    .map_err(|refused| std::io::Error::other(format!("{refused}; {}", refused.fix())))?;
    let detached = operator::spawn_detached(&settings.exe, &full, &vars, &settings.cwd, &log)?;
    let _ = waiter.send(detached);
    Ok(log)
}

/// How a background driver ended, in the words of SPEC §5's exit codes: its error whole
/// (from its last `error:` line to the end: the problems and hints under it), and for a run
/// it refused to start (exit 2), `again`: the command that starts it from a terminal.
fn ended(scenario: &str, code: Option<i32>, log: &Path, again: Option<&str>) -> Notice {
    let last_error = || {
        crate::execute::read_driver_log(log)
            .ok()
            .and_then(|t| {
                let lines: Vec<&str> = t.lines().collect();
                let at = lines.iter().rposition(|l| l.starts_with("error:"))?;
                let text = lines[at..]
                    .iter()
                    .map(|l| l.trim())
                    .filter(|l| !l.is_empty())
                    .collect::<Vec<_>>()
                    .join("\n");
                Some(text)
            })
            .unwrap_or_else(|| format!("see {}", log.display()))
    };
    match code {
        Some(0) => Notice::info(format!("The driver of {scenario} ended: completed")),
        Some(3) => Notice::info(format!(
            "The driver of {scenario} ended: waiting or stopped"
        )),
        Some(1) => Notice::error(format!("The run of {scenario} failed ({})", last_error())),
        Some(c) => {
            let mut text = format!("The driver of {scenario} exited {c}: {}", last_error());
            if let Some(again) = again.filter(|_| c == 2) {
                text.push_str(&format!("\nTo start it from a terminal: {again}"));
            }
            Notice::error(text)
        }
        None => Notice::error(format!("The driver of {scenario} was killed")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::background::Background;
    use crate::ops::scenario::RunRequest;

    /// A home in `dir` with scenario `name` (`yaml`), and a run of it driven as far as it goes
    /// by `tester`: the context and the run's id.
    fn started_scenario(
        dir: &std::path::Path,
        name: &str,
        yaml: &str,
    ) -> (crate::ops::Ctx, String) {
        let home = dir.join("home");
        std::fs::create_dir_all(home.join("scenarios")).unwrap();
        std::fs::write(home.join("scenarios").join(format!("{name}.yaml")), yaml).unwrap();
        let ctx = crate::ops::Ctx::new(Some(home)).unwrap();
        let mut observer = crate::execute::Quiet;
        let mut live = crate::ops::Live {
            observer: &mut observer,
            stop: crate::execute::StopFlag::default(),
        };
        let started = crate::ops::scenario::run(
            &ctx,
            RunRequest {
                name,
                starts: &[],
                inputs: &[],
                how: crate::ops::RunHow::Drive,
            },
            crate::ops::operator(Some("tester"), None),
            &mut live,
        )
        .unwrap();
        let run_id = started.json["run_id"].as_str().unwrap().to_string();
        (ctx, run_id)
    }

    /// The TUI's settings over the home of `ctx`, in `dir`, acting as `tui-tester` (with no
    /// binary to start a background driver with).
    fn settings_over(dir: &std::path::Path, ctx: crate::ops::Ctx) -> Settings {
        Settings {
            home: ctx.home.clone(),
            cwd: dir.to_path_buf(),
            actor: "tui-tester".into(),
            exe: PathBuf::from("/nonexistent/cortex"),
            location: ctx.location().unwrap(),
            ctx,
        }
    }

    /// A report from the TUI that ends a run nobody drives has the run's `notify:` delivered
    /// by the process's background deliverer: the screen hears back before the notification
    /// lands (it waits here on a file the test writes only after the answer came), and the
    /// notification still lands.
    #[test]
    fn a_phase_failed_from_the_tui_is_notified_in_the_background_not_waited_for() {
        let dir = tempfile::tempdir().unwrap();
        let gate = dir.path().join("gate");
        let delivered = dir.path().join("delivered");
        let (ctx, run_id) = started_scenario(
            dir.path(),
            "s",
            &format!(
                "name: s\ndescription: d\nphases:\n  - name: review\n    description: d\nnotify:\n  on_failure:\n    - run: \"while [ ! -f '{}' ]; do sleep 0.05; done; touch '{}'\"\n",
                gate.display(),
                delivered.display()
            ),
        );
        let background = Background::new();
        let settings = settings_over(
            dir.path(),
            crate::ops::Ctx {
                deliveries: crate::ops::Deliveries::Background(std::sync::Arc::clone(&background)),
                announce: None,
                ..ctx
            },
        );
        let (tx, rx) = channel();
        let worker = Worker::start(settings, tx).unwrap();
        worker.submit(Effect::Phase {
            run_id,
            scenario: "s".into(),
            phase: "review".into(),
            op: PhaseOp::Fail,
        });
        let answer = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("the action answers without waiting for its notification");
        match answer {
            Msg::Notice(n) => assert!(n.text.contains("reported failed"), "{}", n.text),
            _ => panic!("not a notice"),
        }
        assert!(!delivered.exists(), "delivered before the gate opened");
        std::fs::write(&gate, "").unwrap();
        background.shutdown(Duration::from_secs(60), nix::libc::SIGINT);
        assert!(delivered.exists(), "the notification was delivered");
    }

    /// A report from the TUI that ends a run whose webhook is made of a variable the TUI's
    /// process lacks: the report lands, the webhook is left due (nothing recorded, given up or
    /// made), and the notice says so once, with the command that delivers it. Before, it was
    /// used up, recorded "not delivered … not set", never to be made.
    #[test]
    fn a_phase_failed_from_the_tui_without_a_webhooks_variable_leaves_it_due() {
        let dir = tempfile::tempdir().unwrap();
        let (ctx, run_id) = started_scenario(
            dir.path(),
            "s",
            "name: s\ndescription: d\nphases:\n  - name: review\n    description: d\nnotify:\n  on_failure:\n    - webhook: $CORTEX_TEST_TUI_HOOK_NEVER_SET\n",
        );
        let settings = settings_over(dir.path(), ctx);
        let (tx, _rx) = channel();
        let notice = record_phase(&settings, &run_id, "s", "review", PhaseOp::Fail, &tx).unwrap();
        assert_eq!(
            notice.text.matches("its notifications still due").count(),
            1,
            "{}",
            notice.text
        );
        assert!(
            notice.text.contains("`CORTEX_TEST_TUI_HOOK_NEVER_SET`")
                && notice
                    .text
                    .contains(&format!("orchestrate resume {run_id} --notify-only")),
            "{}",
            notice.text
        );
        let store = open_store(&settings).unwrap();
        let mut state = crate::execute::load_state(&*store, &run_id).unwrap();
        state.run_id = run_id.clone();
        assert_eq!(crate::plan::end_of(&state), Some("failed"));
        assert_eq!(
            crate::ops::notify::pending(&*store, &state).unwrap().len(),
            1
        );
        assert!(
            crate::ops::notify::recorded_deliveries(&*store, &run_id)
                .unwrap()
                .is_empty()
        );
    }

    /// A stop from the TUI of a run already stopped recorded another `stop_requested` +
    /// `run_stopped` pair and said it stopped it: it records nothing and says so.
    #[test]
    fn a_stop_from_the_tui_of_a_stopped_run_records_nothing_and_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let (ctx, run_id) = started_scenario(
            dir.path(),
            "gate",
            "name: gate\ndescription: d\nphases:\n  - {name: a, description: a, condition: manual}\n",
        );
        let settings = settings_over(dir.path(), ctx);
        let events = || {
            let store = open_store(&settings).unwrap();
            crate::execute::load_state(&*store, &run_id).unwrap().events
        };
        let first = stop(&settings, &run_id, "gate").unwrap();
        assert!(
            first.text.contains("gate stopped by tui-tester"),
            "{}",
            first.text
        );
        let stopped = events();
        let again = stop(&settings, &run_id, "gate").unwrap();
        assert!(again.text.contains("already stopped"), "{}", again.text);
        assert_eq!(events(), stopped, "nothing recorded");
    }

    /// A workflow run could not be stopped or aborted from the TUI: both are recorded as
    /// `workflow stop|abort` record them, with the TUI's actor, and said in the status bar; a
    /// second stop records nothing and says so.
    #[test]
    fn a_workflow_run_is_stopped_and_aborted_from_the_tui_with_its_actor() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home");
        std::fs::create_dir_all(home.join("workflows")).unwrap();
        std::fs::write(
            home.join("workflows").join("review.yaml"),
            "name: review\nsteps:\n  - {name: look, prompt: look at it}\n  - {name: ship, run: 'true'}\n",
        )
        .unwrap();
        let ctx = crate::ops::Ctx::new(Some(home)).unwrap();
        let mut observer = crate::execute::Quiet;
        let mut live = crate::ops::Live {
            observer: &mut observer,
            stop: crate::execute::StopFlag::default(),
        };
        let started = crate::ops::workflow::run(
            &ctx,
            "review",
            &[],
            crate::ops::RunHow::Drive,
            crate::ops::operator(Some("tester"), None),
            &mut live,
        )
        .unwrap();
        let run_id = started.json["run_id"].as_str().unwrap().to_string();
        assert_eq!(started.json["status"], "waiting", "{}", started.json);
        let settings = settings_over(dir.path(), ctx);
        let (tx, rx) = channel();
        let worker = Worker::start(settings.clone(), tx).unwrap();
        let act = |act: RunAct| {
            worker.submit(Effect::Workflow {
                run_id: run_id.clone(),
                name: "review".into(),
                act,
            });
            match rx.recv_timeout(Duration::from_secs(60)).expect("an answer") {
                Msg::Notice(n) => n,
                _ => panic!("not a notice"),
            }
        };
        let events = || {
            let store = open_store(&settings).unwrap();
            crate::execute::load_state(&*store, &run_id).unwrap().events
        };
        let stopped = act(RunAct::Stop);
        assert_eq!(stopped, Notice::info("review stopped by tui-tester"));
        let after_stop = events();
        let again = act(RunAct::Stop);
        assert!(
            !again.error && again.text.contains("already stopped"),
            "{again:?}"
        );
        assert_eq!(events(), after_stop, "nothing recorded");
        let aborted = act(RunAct::Abort);
        assert_eq!(aborted, Notice::info("review aborted by tui-tester"));
        let store = open_store(&settings).unwrap();
        let log: Vec<serde_json::Value> = store
            .read_run(&run_id)
            .unwrap()
            .iter()
            .map(|r| serde_json::to_value(&r.event).unwrap())
            .collect();
        let types: Vec<&str> = log.iter().filter_map(|e| e["type"].as_str()).collect();
        for kind in ["stop_requested", "run_finished"] {
            let event = log
                .iter()
                .find(|e| e["type"] == kind)
                .unwrap_or_else(|| panic!("no {kind} in {types:?}"));
            assert!(event.to_string().contains("\"tui-tester\""), "{event}");
        }
        // A finished run: an abort says so and records nothing.
        let late = act(RunAct::Abort);
        assert!(late.text.contains("already finished"), "{late:?}");
    }

    /// A secret input typed in a form reaches the driver as a terminal gives it, through its
    /// environment (`CORTEX_INPUT_<NAME>`): never an argument (for anyone to read), and the
    /// command shown to run from a terminal says `NAME=VALUE`; an input that is no secret is
    /// an argument, as typed.
    #[test]
    fn a_secret_input_goes_to_the_drivers_environment_never_to_its_arguments() {
        let inputs = [
            GivenInput {
                name: "api_token".into(),
                value: "s3cr3t-typed".into(),
                secret: true,
            },
            GivenInput {
                name: "channel".into(),
                value: "beta".into(),
                secret: false,
            },
        ];
        let argv = Argv::new(&["workflow", "resume", "R1"])
            .arg("--timeout=2h".into())
            .inputs(&inputs);
        assert_eq!(
            argv.args(),
            [
                "workflow",
                "resume",
                "R1",
                "--timeout=2h",
                "--input=channel=beta"
            ]
        );
        assert_eq!(
            argv.env,
            [(
                "CORTEX_INPUT_API_TOKEN".to_string(),
                "s3cr3t-typed".to_string()
            )]
        );
        assert_eq!(
            argv.shown(),
            [
                "workflow",
                "resume",
                "R1",
                "--timeout=2h",
                "--input",
                "api_token=VALUE",
                "--input",
                "channel=beta"
            ]
        );
    }

    /// A run its driver refused to start (exit 2) showed only its error's first line, the
    /// problem that says what to do left in the driver's output file: the whole error is
    /// said, and the command that starts the run from a terminal.
    #[test]
    fn a_refused_run_says_its_whole_error_and_the_command_that_starts_it() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("driver.log");
        std::fs::write(
            &log,
            "starting\nerror: the inputs of `rel` are not valid (1 problem)\n  - input `version` is required: pass --input version=VALUE\n",
        )
        .unwrap();
        let again = "`cortex orchestrate run rel --input 'version=1 2'`";
        let notice = ended("rel", Some(2), &log, Some(again));
        assert!(notice.error);
        assert_eq!(
            notice.text,
            "The driver of rel exited 2: error: the inputs of `rel` are not valid (1 problem)\n- input `version` is required: pass --input version=VALUE\nTo start it from a terminal: `cortex orchestrate run rel --input 'version=1 2'`"
        );
        let failed = ended("rel", Some(1), &log, Some(again));
        assert!(!failed.text.contains("from a terminal"), "{}", failed.text);
    }
}
