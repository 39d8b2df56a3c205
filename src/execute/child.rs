//! Running a `uses:` step: its child run, driven in this process on the same log, under its
//! own lock, journal and hash chain. The parent records `child_started` (with the child's id)
//! before the child's `run_started` exists, so that a crash between the two leaves a link to
//! a child not yet started, which the next attempt starts with that id, never a second child.
//! What to do is `plan::child_*`; this module carries it out.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::driver::drive;
use super::runner::resolver;
use super::session::{DriveContext, DriveEnd, DriveError, Observer, flush, record};
use super::{Clock, DriverLock, Holder, IdGen, Journal, LockError, Stream, WriteBehind};
use crate::decide::{AttemptReport, Command, RunState};
use crate::definition::Workflow;
use crate::definition::template::{Reference, render_value, scan};
use crate::event::{AttemptEnd, Driver, Operator, Recorded};
use crate::plan::{
    ChildEnd, ChildNext, ChildPlan, child_end, child_next, child_plan_with, child_start,
};
use crate::store::EventStore;

/// How driving the child run of a `uses:` step ended, for the parent's driver.
#[derive(Debug)]
pub(crate) enum ChildOutcome {
    /// The child finished or paused on a failure: the step's attempt ends so.
    Report(Box<AttemptReport>),
    /// The child waits for a report, a start or a worker offering tags (or another process
    /// drives it).
    Waiting { run_id: String },
    /// The child was stopped: the parent stops too.
    Stopped,
}

fn driver() -> Driver {
    Driver {
        pid: std::process::id(),
        host: super::hostname(),
    }
}

fn holder(actor: &str) -> Holder {
    Holder::this_process(actor)
}

/// What the parent's step gives its child: its `with:` values (rendered with the parent's
/// values, secret inputs as this process holds them) and its directory.
struct Handover {
    given: Vec<(String, String)>,
    /// The child's inputs given a secret of the parent (a template naming a secret input of
    /// the parent): secret in the child too, never recorded.
    secret: Vec<String>,
    working_dir: String,
    workflow: Workflow,
    name: String,
}

/// Why the `with:` values (or directory) of `uses:` step `index` cannot be rendered here: a
/// secret output another process recorded is `***` in the log, and no child is started on it.
fn unheld_handover(state: &RunState, index: usize) -> Option<String> {
    let step = state.definition(index)?;
    let texts = step
        .with
        .values()
        .map(|v| v.0.as_str())
        .chain(step.working_dir.as_deref());
    super::unheld_secret_output_in(state, Some(index), texts)
}

/// The value a `with:` entry gives the child: rendered as a command's `env:` value is (a
/// template the run has no value for is empty, never its raw `${{ ... }}` text), except that
/// an entry that is one template alone and has no value gives nothing: the child's input is
/// then not given, so its `default:` applies, or a `required` input is refused as missing.
/// Before, the child received the raw template text.
pub(crate) fn given_value(
    text: &str,
    resolve: &dyn Fn(&Reference) -> Option<String>,
) -> Option<String> {
    let occurrences = scan(text);
    if let [only] = occurrences.as_slice()
        && text[..only.start].trim().is_empty()
        && text[only.end..].trim().is_empty()
        && only.reference.as_ref().ok().and_then(resolve).is_none()
    {
        return None;
    }
    Some(render_value(text, resolve))
}

fn handover(journal: &Journal<'_>, index: usize) -> Result<Handover, String> {
    let state = &journal.state;
    let step = state
        .definition(index)
        .ok_or("the step has no definition")?
        .clone();
    let start = state.start.as_ref().ok_or("the run has not started")?;
    let uses = step.uses.as_deref().ok_or("the step has no `uses:`")?;
    let used = start
        .uses
        .get(uses)
        .ok_or_else(|| format!("the run recorded no workflow for `uses: {uses}`"))?;
    let workflow: Workflow = serde_json::from_value(used.definition.clone())
        .map_err(|e| format!("the snapshot of `{uses}` cannot be read: {e}"))?;
    let resolve = resolver(state, &journal.redactor, Some(index));
    // A value rendered from a secret input of the parent this process was not given would be
    // the log's `***`, never the child's value: it is left out, so that input stays missing
    // for the child, which is not driven on without it (a report, a resume). Before, the
    // child's step ran with the text `***`.
    let unheld = journal.redactor.missing_inputs(state);
    let given = step
        .with
        .iter()
        .filter(|(_, v)| {
            unheld.is_empty()
                || !scan(&v.0)
                    .iter()
                    .any(|o| matches!(&o.reference, Ok(Reference::Input(n)) if unheld.contains(n)))
        })
        .filter_map(|(k, v)| given_value(&v.0, &resolve).map(|v| (k.clone(), v)))
        .collect();
    let secret = step
        .with
        .iter()
        .filter(|(_, v)| {
            scan(&v.0).iter().any(|o| {
                match &o.reference {
                    Ok(Reference::Input(n)) => start.secret_inputs.contains(n),
                    // A secret output of the parent is a secret input of the child.
                    Ok(Reference::StepOutput { step, key }) => {
                        super::is_secret_output_of(state, step, key)
                            || state
                                .step(step)
                                .and_then(|s| s.outputs.get(key))
                                .is_some_and(|v| v == super::REDACTED)
                    }
                    _ => false,
                }
            })
        })
        .map(|(k, _)| k.clone())
        .collect();
    let base = PathBuf::from(&start.working_dir);
    let working_dir = match &step.working_dir {
        Some(dir) => base.join(render_value(dir, &resolve)),
        None => base,
    }
    .display()
    .to_string();
    Ok(Handover {
        given,
        secret,
        working_dir,
        name: used.name.clone(),
        workflow,
    })
}

/// The child's inputs, typed as `workflow run` types them (a problem: the attempt fails).
fn typed_inputs(h: &Handover) -> Result<BTreeMap<String, serde_json::Value>, String> {
    let cwd = PathBuf::from(&h.working_dir);
    crate::validate::resolve_inputs(&h.workflow.inputs, &h.given, &|p| cwd.join(p).exists())
        .map_err(|problems| {
            format!(
                "the inputs given to `{}` with `with:` are not valid: {}",
                h.name,
                problems.join("; ")
            )
        })
}

/// The attempt of `uses:` step `index` (`new_attempt`: just started; else the attempt that
/// waits on its child): start its child run or go on with the one it has, drive it here until
/// it can go no further, and say how the attempt ends.
pub(crate) fn run_child(
    journal: &mut Journal<'_>,
    ctx: &mut DriveContext<'_>,
    index: usize,
    new_attempt: bool,
) -> Result<ChildOutcome, DriveError> {
    flush(journal, ctx)?;
    let step = journal.state.steps[index].name.clone();
    let attempt = journal.state.steps[index].attempts;
    let spawn_failed = |error: String| {
        ChildOutcome::Report(Box::new(AttemptReport {
            step: step.clone(),
            attempt,
            end: AttemptEnd::SpawnFailed { error },
            outputs: Vec::new(),
            output_tail: String::new(),
            validation_problems: Vec::new(),
            by: None,
            agent: None,
            log: None,
            permanent: false,
        }))
    };
    let h = match handover(journal, index) {
        Ok(h) => h,
        Err(e) => return Ok(spawn_failed(e)),
    };
    // The linked child as its log says now: one that ended for good since the step failed
    // with it (aborted meanwhile) makes this attempt start a new one.
    let linked = journal.state.steps[index].child.clone().and_then(|link| {
        journal.nested(|store, _, _| {
            super::fold_log(&*store, &link.run_id, 0, RunState::default())
                .ok()
                .map(|mut state| {
                    state.run_id = link.run_id.clone();
                    state
                })
        })
    });
    // A child that has begun already has its inputs: only one to be started needs the
    // `with:` values rendered, a secret output among them held by this process.
    let begun = linked
        .as_ref()
        .is_some_and(|c| c.phase != crate::decide::RunPhase::NotStarted);
    if !begun && let Some(why) = unheld_handover(&journal.state, index) {
        return Ok(spawn_failed(why));
    }
    let run_id = match child_plan_with(&journal.state, index, linked.as_ref()) {
        ChildPlan::Continue(run_id) => run_id,
        ChildPlan::Start => {
            if let Some(why) = unheld_handover(&journal.state, index) {
                return Ok(spawn_failed(why));
            }
            // The inputs are checked before anything is recorded for the child.
            if let Err(e) = typed_inputs(&h) {
                return Ok(spawn_failed(e));
            }
            let run_id = journal.next_id();
            // A linked child not over in the parent's eyes is replaced only because it was
            // seen over for good (`child_plan_with`).
            let replacing = journal.state.steps[index]
                .child
                .as_ref()
                .filter(|l| !l.finished)
                .map(|l| l.run_id.clone());
            record(
                journal,
                ctx,
                Command::StartChild {
                    step: step.clone(),
                    run_id: run_id.clone(),
                    workflow: h.name.clone(),
                    replacing,
                },
            )?;
            // A child the step ran before a `--from` or `--rollback-to` reset it is
            // superseded by this one now, if the drive did not end it already.
            super::driver::end_children(journal, ctx);
            run_id
        }
    };
    let parent = journal.state.clone();
    let inherited = Inherited::of(journal, ctx);
    let actor = inherited.actor.clone();
    // What is left of the parent's session is recorded as the child's limit (its
    // `config.timeout_seconds` at start, `run_resumed.timeout_seconds`).
    let left = inherited.deadline.map(super::session::seconds_left);
    let observer = &mut *ctx.observer;
    journal.nested(|store, clock, ids| {
        let mut observer = ChildObserver {
            inner: observer,
            step: step.clone(),
        };
        let lock = match inherited.lock(&run_id) {
            Ok(lock) => lock,
            // Another process drives the child (an operator's report drove it on): the step
            // waits; that process drives this run on when the child is done.
            Err(LockError::Held { .. }) => return Ok(ChildOutcome::Waiting { run_id }),
            Err(e) => return Err(DriveError::Internal(e.to_string())),
        };
        let mut child = inherited.open(store, clock, ids, &run_id)?;
        let mut drove = None;
        let mut resumed = None;
        if child.state.outcome().is_none() {
            if child.state.phase == crate::decide::RunPhase::NotStarted {
                let inputs = match typed_inputs(&h) {
                    Ok(inputs) => inputs,
                    Err(e) => return Ok(spawn_failed(e)),
                };
                let mut started = child_start(
                    &parent,
                    index,
                    inputs,
                    h.working_dir.clone(),
                    actor.clone(),
                    driver(),
                    left,
                )
                .map_err(DriveError::Internal)?;
                started.secret_inputs.clone_from(&h.secret);
                child.submit(Command::Start(Box::new(started)))?;
                // The check values of its secret inputs, as a run started by a command keeps
                // them (`ops::keep_secret_checks`): a report on the child checks against them.
                let values = child
                    .redactor
                    .input_values()
                    .filter(|(name, _)| h.secret.iter().any(|s| s == name));
                let _ = super::record_secret_inputs(&inherited.home, &run_id, values);
                resumed = Some(false);
            } else {
                supply_secret_inputs(&mut child, &h);
                // A stop or abort asked of the child's driver that died before acting on it
                // is recorded first, as every takeover records it (`Command::TakeUpRequest`).
                if crate::decide::pending_request(&child.state).is_some() {
                    child.submit(Command::TakeUpRequest)?;
                }
                let next = rerun_unheld(
                    &child.state,
                    &wanted_of(&parent, index),
                    child_next(&child.state, new_attempt),
                );
                if let ChildNext::Resume(crate::event::ResumeMode::From(from)) = &next {
                    observer.note(&format!(
                        "   ↳ `{step}`'s child run {run_id} runs `{from}` again first: a secret output its steps left to run read is held only by the process that records it\n"
                    ));
                }
                if let ChildNext::Resume(mode) = &next {
                    child.submit(Command::Resume {
                        mode: mode.clone(),
                        by: actor.clone(),
                        driver: driver(),
                        // It is driven in the parent's session: what is left of the parent's
                        // limit is its limit, else the one a resume of the parent gave.
                        timeout_seconds: left.or(parent.timeout_seconds),
                        enable_rollback: None,
                        // Claude Code runs in the child as it does in its parent now.
                        claude: parent.claude_setup().map(|setup| setup.settings()),
                        leave_claimed: false,
                        lease_lapsed: false,
                    })?;
                }
                if next != ChildNext::Report {
                    resumed = Some(true);
                }
            }
        }
        // Started or resumed above (a child that waits for a report is not driven here).
        if let Some(resumed) = resumed {
            observer.begin(&child.state, resumed);
            drove = Some(inherited.drive(&mut child, &mut observer)?);
        }
        drop(lock);
        Ok(match child_end(&child.state, &step, attempt) {
            ChildEnd::Report(mut report) => {
                with_held_child_outputs(&child.state, &mut report, &parent.run_id);
                ChildOutcome::Report(report)
            }
            ChildEnd::Waiting => ChildOutcome::Waiting { run_id },
            // Its drive ended waiting (for a worker, for secret inputs, handed back) with
            // nothing stopped: the parent waits on it; it records no stop nobody asked for.
            ChildEnd::Unfinished
                if matches!(drove, Some(DriveEnd::Waiting(_) | DriveEnd::HandedBack))
                    && child.state.phase != crate::decide::RunPhase::Stopped =>
            {
                ChildOutcome::Waiting { run_id }
            }
            ChildEnd::Unfinished => ChildOutcome::Stopped,
        })
    })
}

/// How a child run that is gone on with goes on (`next`, as `child_next` plans it), where
/// its steps left to run read a secret output that no process holds and no wait for a
/// report stands before (`rerun_for_unheld`): from the step that records it (`--from`, which
/// its parent's resume cannot be given), so that this process holds it. A retry, a resume
/// or a drive of a child that was not started here; never a rollback. Before, the parent's
/// `--retry` after a driver died inside the child went on with it and failed the same way
/// every time.
fn rerun_unheld(state: &RunState, wanted: &[String], next: ChildNext) -> ChildNext {
    use crate::decide::RunPhase;
    use crate::event::ResumeMode;
    let goes_on = match &next {
        ChildNext::Resume(ResumeMode::Retry | ResumeMode::Continue) => {
            state.phase != RunPhase::RollingBack
        }
        ChildNext::Drive => state.phase == RunPhase::Running,
        _ => false,
    };
    match super::rerun_for_unheld(state, wanted) {
        Some((from, false)) if goes_on => ChildNext::Resume(ResumeMode::From(from)),
        _ => next,
    }
}

/// The outputs of `uses:` step `index` that the steps of `parent` left to run read: what its
/// child run is to give it held, not as `***` (`rerun_unheld`).
fn wanted_of(parent: &RunState, index: usize) -> Vec<String> {
    let step = &parent.steps[index].name;
    let mut keys: Vec<String> = (0..parent.steps.len())
        .filter(|&i| i != index && !parent.steps[i].status.is_done())
        .filter_map(|i| parent.definition(i))
        .flat_map(|d| d.output_reads())
        .filter(|(of, _)| of == step)
        .map(|(_, key)| key)
        .collect();
    keys.sort();
    keys.dedup();
    keys
}

/// The child's outputs in `report` as this process recorded them: a secret output of the
/// child (`***` in its log) whose value this process holds is given as that value, and held
/// as a secret output of the parent's step too (`parent_run`), so that the parent's journal
/// keeps it as `***` and the parent's later steps are given it.
fn with_held_child_outputs(child: &RunState, report: &mut AttemptReport, parent_run: &str) {
    for (key, value) in &mut report.outputs {
        if value != super::REDACTED {
            continue;
        }
        // The unit `child_outputs` took it from: the last step (not an item) that has it.
        let unit = child
            .steps
            .iter()
            .rev()
            .find(|s| s.item.is_none() && s.outputs.contains_key(key.as_str()));
        if let Some(real) =
            unit.and_then(|s| super::held_secret_output(&child.run_id, &s.name, key))
        {
            super::hold_secret_output(parent_run, &report.step, key, &real);
            *value = real;
        }
    }
}

/// What a child run driven in its parent's session takes from the parent's driver.
struct Inherited {
    /// The parent and its own parents: a stop asked of any of them ends the child's commands
    /// as one asked of the child does.
    lineage: Vec<RunState>,
    /// The parent's secrets, scrubbed from the child's log too.
    secrets: super::Redactor,
    home: std::path::PathBuf,
    stop: super::StopFlag,
    actor: Operator,
    grace: std::time::Duration,
    /// The parent's session's deadline is the child's.
    deadline: Option<std::time::Instant>,
    /// The child runs what the parent's driver may run: a worker offering tags runs the
    /// child's units that ask for them; one they do not cover leaves the child waiting for a
    /// worker that offers them (and the parent waiting on the child).
    tags: Vec<String>,
    /// The child's driver waits out a locked log as its parent's does.
    patience: Option<super::Patience>,
    /// The parent's driver's global options (`DriveContext::globals`).
    globals: Vec<String>,
}

impl Inherited {
    fn of(journal: &Journal<'_>, ctx: &DriveContext<'_>) -> Inherited {
        Inherited {
            lineage: journal.lineage(),
            secrets: journal.redactor.clone(),
            home: ctx.home.clone(),
            stop: ctx.stop.clone(),
            actor: ctx.actor.clone(),
            grace: ctx.grace,
            deadline: ctx.deadline,
            tags: ctx.dispatch.tags.clone(),
            patience: journal.patience().cloned(),
            globals: ctx.globals.clone(),
        }
    }

    /// The child run's driver lock, taken for the parent's actor.
    fn lock(&self, run_id: &str) -> Result<DriverLock, LockError> {
        DriverLock::acquire(&self.home, run_id, &holder(&self.actor.actor))
    }

    /// The child run's journal, holding the parent's secrets and watching its lineage.
    fn open<'s>(
        &self,
        store: &'s mut dyn EventStore,
        clock: &'s dyn Clock,
        ids: &'s mut dyn IdGen,
        run_id: &str,
    ) -> Result<Journal<'s>, DriveError> {
        let mut child =
            Journal::open(store, clock, ids, run_id).map_err(|e| DriveError::Journal(e.into()))?;
        child.redactor.merge_secrets(&self.secrets);
        child.watch_parents(self.lineage.clone());
        if let Some(patience) = &self.patience {
            child.be_patient(patience.clone());
        }
        Ok(child)
    }

    /// Drive the child here, in the parent's session: its units run here without leases, as
    /// the parent's driver's own would without a worker's seat.
    fn drive(
        &self,
        child: &mut Journal<'_>,
        observer: &mut dyn Observer,
    ) -> Result<DriveEnd, DriveError> {
        let mut cctx = DriveContext {
            home: self.home.clone(),
            stop: self.stop.clone(),
            actor: self.actor.clone(),
            observer,
            grace: self.grace,
            files: WriteBehind::default(),
            dispatch: super::Dispatch {
                tags: self.tags.clone(),
                shared: None,
            },
            deadline: self.deadline,
            globals: self.globals.clone(),
        };
        drive(child, &mut cctx)
    }
}

/// A child run with secret inputs needs their values again when another process drives it:
/// the parent gives them as it gave them at the start (its `with:`, rendered here).
fn supply_secret_inputs(child: &mut Journal<'_>, h: &Handover) {
    let Some(start) = child.state.start.clone() else {
        return;
    };
    for name in &start.secret_inputs {
        if child.redactor.input(name).is_none()
            && let Some((_, value)) = h.given.iter().find(|(n, _)| n == name)
        {
            child.redactor.set_input(name, value);
        }
    }
}

/// The child runs `run_id`'s log says it started (`child_started`), oldest first, each with
/// the unit that started it.
fn started_children(store: &dyn EventStore, run_id: &str) -> Vec<(String, String)> {
    let mut children: Vec<(String, String)> = Vec::new();
    let _ = crate::store::stream_run(store, run_id, 0, &mut |e| {
        if let crate::event::Event::ChildStarted { step, run_id, .. } = e.event
            && !children.iter().any(|(_, id)| id == run_id)
        {
            children.push((step.clone(), run_id.clone()));
        }
    });
    children
}

/// `run_id` (whose state is `state`) and the child runs under it, down every level (each
/// run's log's `child_started`), parents first: the runs whose commands are this run's work. A run with
/// no `uses:` started no child: only its own id, and its log is not read.
pub fn run_tree(store: &dyn EventStore, run_id: &str, state: &RunState) -> Vec<String> {
    let mut tree = vec![run_id.to_string()];
    if state.start.as_ref().is_none_or(|s| s.uses.is_empty()) {
        return tree;
    }
    let mut next = 0;
    while next < tree.len() {
        for (_, child) in started_children(store, &tree[next]) {
            if !tree.contains(&child) {
                tree.push(child);
            }
        }
        next += 1;
    }
    tree
}

/// The child runs a run leaves behind are aborted (and their own children with them), by
/// `by`, each with a message naming the run and why. A run that ended for good leaves none
/// unfinished: each child run it ever started (its log's `child_started`, not only the ones
/// its steps link to now) that is not over ("its parent run … ended …"). A run that goes on
/// leaves those it no longer links to — its step was run again from the start (`resume
/// --from`, `--rollback-to`) or names another child run now: superseded, nothing the run does
/// reads them again, and a report on one would run its steps for nobody. The ids of those
/// ended.
pub(crate) fn end_children(
    store: &mut dyn EventStore,
    clock: &dyn Clock,
    ids: &mut dyn IdGen,
    home: &std::path::Path,
    state: &RunState,
    by: &Operator,
    grace: std::time::Duration,
) -> Vec<String> {
    let why = |step: &str, run_id: &str| {
        if let Some(outcome) = state.outcome() {
            return Some(format!(
                "its parent run {} ended {}",
                state.run_id,
                outcome.as_str()
            ));
        }
        match state.step(step).and_then(|s| s.child.as_ref()) {
            Some(link) if link.run_id == run_id => None,
            Some(link) => Some(format!(
                "superseded: its parent run {} runs child run {} for its step `{step}` now",
                state.run_id, link.run_id
            )),
            None => Some(format!(
                "superseded: its parent run {} runs its step `{step}` again from the start (resume --from or --rollback-to), with a new child run",
                state.run_id
            )),
        }
    };
    // A run with no `uses:` started no child: its log is not read.
    if state.start.as_ref().is_none_or(|s| s.uses.is_empty()) {
        return Vec::new();
    }
    let mut ended = Vec::new();
    for (step, run_id) in started_children(&*store, &state.run_id) {
        let Some(message) = why(&step, &run_id) else {
            continue;
        };
        let over = state
            .steps
            .iter()
            .filter_map(|s| s.child.as_ref())
            .any(|l| l.run_id == run_id && l.finished);
        if over {
            continue;
        }
        let Ok(child) = super::fold_log(&*store, &run_id, 0, RunState::default()) else {
            continue;
        };
        if child.outcome().is_some() || child.phase == crate::decide::RunPhase::NotStarted {
            continue;
        }
        let by = Operator {
            actor: by.actor.clone(),
            message: Some(message),
        };
        let done = super::operator::abort(
            store,
            clock,
            ids,
            home,
            &run_id,
            &by,
            &holder(&by.actor),
            grace * 3,
            &mut |_| {},
        );
        if done.is_ok() {
            ended.push(run_id);
        }
    }
    ended
}

/// The child's progress, handed to the parent's observer as a child's.
struct ChildObserver<'a> {
    inner: &'a mut dyn Observer,
    step: String,
}

impl Observer for ChildObserver<'_> {
    fn begin(&mut self, state: &RunState, resumed: bool) {
        self.inner.child_begin(&self.step, state, resumed);
    }

    fn note(&mut self, text: &str) {
        self.inner.note(text);
    }

    fn recorded(&mut self, state: &RunState, events: &[Recorded]) {
        self.inner.child(&self.step, state, events);
    }

    fn line(&mut self, step: &str, stream: Stream, line: &str) {
        self.inner
            .line(&format!("{}/{step}", self.step), stream, line);
    }

    fn warn(&mut self, message: &str) {
        self.inner.warn(message);
    }

    fn missing_secrets(&mut self, missing: &[String]) {
        self.inner.missing_secrets(missing);
    }

    fn child(&mut self, step: &str, state: &RunState, events: &[Recorded]) {
        self.inner
            .child(&format!("{}/{step}", self.step), state, events);
    }

    fn child_begin(&mut self, step: &str, state: &RunState, resumed: bool) {
        self.inner
            .child_begin(&format!("{}/{step}", self.step), state, resumed);
    }
}

/// A child run's secret inputs come from its parent: when a process that was not given them
/// drives the child (a report on its step, a resume), the parent's `with:` is rendered again
/// with the parent's values — its own secret inputs as this process was given them, up the
/// chain of parents — and handed to the child's journal. What cannot be found stays missing.
pub fn inherit_secret_inputs(child: &mut Journal<'_>) {
    let Some(parent) = child.state.start.as_ref().and_then(|s| s.parent.clone()) else {
        return;
    };
    if child.redactor.missing_inputs(&child.state).is_empty() {
        return;
    }
    let given = child.nested(|store, clock, ids| {
        let mut journal = Journal::open(store, clock, ids, &parent.run_id).ok()?;
        inherit_secret_inputs(&mut journal);
        let index = journal.state.step_index(&parent.step)?;
        // A value this process does not hold stays missing (never given as `***`).
        if unheld_handover(&journal.state, index).is_some() {
            return None;
        }
        let h = handover(&journal, index).ok()?;
        Some((h, journal.redactor.clone()))
    });
    if let Some((h, parent_secrets)) = given {
        child.redactor.merge_secrets(&parent_secrets);
        supply_secret_inputs(child, &h);
    }
}

/// How compensating the child run of a completed `uses:` step went.
#[derive(Debug)]
pub(crate) enum ChildCompensation {
    /// Its completed steps are compensated (it ended `rolled_back`), or it had none, or no
    /// child run is linked: the step's own `rollback:` goes next.
    Done,
    /// Its rollback did not end well (a compensation failed: it ended `failed`; it was
    /// aborted mid-way): the step's compensation fails with this end.
    Failed(AttemptEnd),
    /// A stop (or an abort, of the parent) ended it mid-way: nothing is recorded for the
    /// step; a resume goes on with the child's rollback where its log says it is.
    Stopped,
}

/// Compensate the child run of completed `uses:` step `index`, in the child's own log: a
/// completed child begins its rollback (`Command::RollBackForParent`: its completed steps,
/// newest first) and is driven here, under its lock, until it ends; one whose rollback began
/// (a driver killed mid-way, a stop) is resumed and goes on where its log says it is, so each
/// of its compensations is recorded once (a command cut short runs again, as any
/// compensation's does); one that ended `rolled_back` has nothing left to do. The parent
/// records its step's compensation only after this (`session::compensate_step`), so a crash
/// anywhere in between is resumed through the parent's plan, the child's log saying what is
/// left of its own.
pub(crate) fn compensate_child(
    journal: &mut Journal<'_>,
    ctx: &mut DriveContext<'_>,
    index: usize,
) -> Result<ChildCompensation, DriveError> {
    use crate::decide::RunPhase;
    use crate::event::Outcome;
    let Some(link) = journal.state.steps[index].child.clone() else {
        return Ok(ChildCompensation::Done);
    };
    flush(journal, ctx)?;
    let step = journal.state.steps[index].name.clone();
    let reason = format!(
        "its parent run {} rolled back past its step `{step}`: {}",
        journal.state.run_id,
        journal
            .state
            .rollback
            .as_ref()
            .map_or("", |rb| rb.reason.as_str())
    );
    let failed = |child: &RunState| {
        let outcome = child.outcome().unwrap_or(Outcome::Failed);
        AttemptEnd::Child {
            run_id: child.run_id.clone(),
            outcome,
            finished: true,
            reason: Some(format!(
                "the rollback of its child run {} did not end well: {}",
                child.run_id,
                child.finish_reason.clone().unwrap_or_default()
            )),
        }
    };
    let inherited = Inherited::of(journal, ctx);
    let actor = inherited.actor.clone();
    let deadline = inherited.deadline;
    let parent_timeout = journal.state.timeout_seconds;
    let claude = journal.state.claude_setup().map(|setup| setup.settings());
    let observer = &mut *ctx.observer;
    journal.nested(|store, clock, ids| {
        let mut observer = ChildObserver {
            inner: observer,
            step: step.clone(),
        };
        let lock = match inherited.lock(&link.run_id) {
            Ok(lock) => lock,
            Err(LockError::Held { .. }) => {
                return Err(DriveError::Internal(format!(
                    "child run {} of step `{step}` is driven by another process: its rollback cannot be run from here now; resume this run once that process is done",
                    link.run_id
                )));
            }
            Err(e) => return Err(DriveError::Internal(e.to_string())),
        };
        let mut child = inherited.open(store, clock, ids, &link.run_id)?;
        inherit_secret_inputs(&mut child);
        match child.state.phase {
            RunPhase::Finished {
                outcome: Outcome::RolledBack,
            } => return Ok(ChildCompensation::Done),
            RunPhase::Finished {
                outcome: Outcome::Completed,
            } => {
                child.submit(Command::RollBackForParent { reason })?;
                if child.state.outcome().is_some() {
                    // Nothing was completed in it: rolled back at once.
                    return Ok(ChildCompensation::Done);
                }
                observer.begin(&child.state, true);
            }
            RunPhase::Finished { .. } => return Ok(ChildCompensation::Failed(failed(&child.state))),
            RunPhase::NotStarted => return Ok(ChildCompensation::Done),
            _ => {
                if crate::decide::pending_request(&child.state).is_some() {
                    child.submit(Command::TakeUpRequest)?;
                }
                if let Some(outcome) = child.state.outcome() {
                    return Ok(if outcome == Outcome::RolledBack {
                        ChildCompensation::Done
                    } else {
                        ChildCompensation::Failed(failed(&child.state))
                    });
                }
                child.submit(Command::Resume {
                    mode: crate::event::ResumeMode::Continue,
                    by: actor.clone(),
                    driver: driver(),
                    timeout_seconds: deadline.map(super::session::seconds_left).or(parent_timeout),
                    enable_rollback: None,
                    claude,
                    leave_claimed: false,
                    lease_lapsed: false,
                })?;
                observer.begin(&child.state, true);
            }
        }
        inherited.drive(&mut child, &mut observer)?;
        drop(lock);
        Ok(match child.state.outcome() {
            Some(Outcome::RolledBack) => ChildCompensation::Done,
            Some(_) => ChildCompensation::Failed(failed(&child.state)),
            None => ChildCompensation::Stopped,
        })
    })
}
