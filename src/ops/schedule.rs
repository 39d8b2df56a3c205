//! Schedules: which definitions have one and when they fire next (`schedule list`), and the
//! scheduler that fires them (`schedule run`, and the one inside `cortex serve`), deciding
//! each due minute once in the schedule's stream and handing each run to a driver of its own.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Child;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::Serialize;
use serde_json::json;

use super::{CommandError, Ctx, Output, exit};
use crate::decide::{
    ScheduleCommand, ScheduleRefused, ScheduleState, decide_schedule, replay_schedule,
};
use crate::definition::{EntrySource, Schedule, parse_scenario, parse_workflow};
use crate::event::{ChainId, Driver, Event, FireOutcome, NewEvent, RunKind, SCHEDULE_PREFIX};
use crate::execute::{IdGen, StopFlag, UlidIds, hostname, operator};
use crate::plan::{Cadence, minute_of};
use crate::project::{RunStatus, run_status};
use crate::store::{EventStore, RunQuery, StoreError};

/// The actor every scheduled run is recorded with.
pub use crate::decide::SCHEDULE_ACTOR as ACTOR;

/// How long a scheduler waits, with `--once`, for a run it started to be recorded.
const SETTLE: Duration = Duration::from_secs(15);

/// How long after a run was decided, by a scheduler that is gone, its absence is a failure.
const ORPHANED_AFTER: Duration = Duration::from_secs(120);

/// A definition with a valid schedule.
#[derive(Debug, Clone)]
pub struct Scheduled {
    pub kind: RunKind,
    pub name: String,
    /// Where the definition is (or its name, when built in).
    pub file: String,
    pub schedule: Schedule,
    pub cadence: Cadence,
    /// Its required secret inputs without a default: a definition never gives them, so each
    /// run takes them from the scheduler's environment (`CORTEX_INPUT_<NAME>`).
    pub env_inputs: Vec<String>,
}

impl Scheduled {
    pub fn stream(&self) -> String {
        ChainId::Schedule {
            kind: self.kind,
            name: &self.name,
        }
        .to_string()
    }

    /// What a scheduled run's `--message` says, and how its run is found again.
    fn tag(&self, due: &str) -> String {
        format!("{TAG_START}{due} by `{}`", self.schedule.cron.trim())
    }
}

/// How a scheduled run's `--message` starts (`Scheduled::tag`): its due time follows.
const TAG_START: &str = "scheduled for ";

/// The output file of the driver started for `kind` `name`'s due time `due`, under the home's
/// `schedule/` folder.
fn driver_log_name(kind: RunKind, name: &str, due: &str) -> String {
    format!(
        "{}-{}-{}.log",
        kind.as_str(),
        &blake3::hash(name.as_bytes()).to_hex()[..12],
        due.replace(':', "-"),
    )
}

/// The output file (as `schedule/FILE`, relative to the home) of the driver the scheduler
/// started for the run `started` began, if the scheduler started it: `gc` keeps it while the
/// run has not finished, though its driver is gone (a run waiting on a prompt).
pub fn driver_log_of(started: &crate::event::RunStarted) -> Option<String> {
    if started.by.actor != ACTOR {
        return None;
    }
    let rest = started.by.message.as_deref()?.strip_prefix(TAG_START)?;
    let (due, _) = rest.split_once(" by `")?;
    Some(format!(
        "{}/{}",
        crate::execute::SCHEDULE_DRIVER_LOGS,
        driver_log_name(started.kind, &started.name, due)
    ))
}

/// A definition that has a schedule but does not validate: it never fires until fixed.
#[derive(Debug, Clone, Serialize)]
pub struct Unschedulable {
    pub kind: RunKind,
    pub name: String,
    pub file: String,
    /// Its first problem, located as validate locates it (`FILE:LINE:COLUMN: message`).
    pub error: String,
    /// Every problem validate finds, each `{message, file, line, column, hint}` as
    /// `validate --json` gives them.
    pub errors: Vec<crate::render::ProblemDoc>,
}

impl Unschedulable {
    fn new(
        kind: RunKind,
        name: String,
        file: String,
        errors: Vec<crate::render::ProblemDoc>,
    ) -> Self {
        let error = match errors.first() {
            None => format!("{file}: the definition does not validate"),
            Some(p) => {
                let message = p.message.lines().next().unwrap_or_default();
                let at = p.file.as_deref().unwrap_or(&file);
                match (p.line, p.column) {
                    (Some(line), Some(column)) => format!("{at}:{line}:{column}: {message}"),
                    _ => format!("{at}: {message}"),
                }
            }
        };
        Unschedulable {
            kind,
            name,
            file,
            error,
            errors,
        }
    }
}

/// `message` as a problem of `file` at `at` (none: the file as a whole).
fn problem_doc(
    file: &str,
    message: String,
    at: Option<crate::definition::Location>,
) -> crate::render::ProblemDoc {
    crate::render::ProblemDoc {
        message,
        file: Some(file.to_string()),
        line: at.map(|a| a.line),
        column: at.map(|a| a.column),
        hint: None,
    }
}

/// Every workflow and scenario of the catalog with a `schedule:`, and those whose schedule
/// cannot be used (the definition does not validate).
pub fn find_scheduled(ctx: &Ctx) -> (Vec<Scheduled>, Vec<Unschedulable>) {
    let catalog = ctx.catalog();
    let mut good = Vec::new();
    let mut bad = Vec::new();
    let mentions_schedule = |text: &str| {
        text.lines()
            .any(|l| l.starts_with("schedule:") || l.starts_with("\"schedule\":"))
    };
    // Read through the bounded reader: an oversized file is refused by its size, unread.
    let entries = catalog
        .list_workflows()
        .into_iter()
        .map(|listed| (RunKind::Workflow, listed))
        .chain(
            catalog
                .list_scenarios()
                .into_iter()
                .map(|listed| (RunKind::Scenario, listed)),
        );
    for (kind, listed) in entries {
        let EntrySource::File(path) = &listed.source else {
            continue;
        };
        let file = path.display().to_string();
        let name = listed.name;
        let text = match listed.text {
            Ok(text) => text,
            // Whether it has a schedule cannot be told; that it cannot be used can.
            Err(e) if e.is_content() => {
                let errors = crate::render::definition_problems(&e.definition_error(&file));
                bad.push(Unschedulable::new(kind, name, file, errors));
                continue;
            }
            Err(_) => continue,
        };
        let parsed = match kind {
            RunKind::Workflow => parse_workflow(&file, &text),
            RunKind::Scenario => parse_scenario(&file, &text).map(|s| s.as_workflow()),
        };
        let (name, schedule, env_inputs) = match parsed {
            Ok(w) => match w.schedule.clone() {
                Some(schedule) => (w.name.clone(), schedule, env_inputs(&w)),
                None => continue,
            },
            Err(e) if mentions_schedule(&text) => {
                // Every problem, as validate gives them (the strict parse stops at the
                // first: an unknown `overlap:` hid a bad `cron:`).
                let checked = match kind {
                    RunKind::Workflow => super::workflow::validate(ctx, &file),
                    RunKind::Scenario => super::scenario::validate(ctx, Some(&file), false),
                };
                let errors = match checked {
                    Ok(out) => serde_json::from_value(out.json["errors"].clone()).ok(),
                    Err(c) => Some(c.errors),
                }
                .filter(|errors: &Vec<crate::render::ProblemDoc>| !errors.is_empty())
                .unwrap_or_else(|| crate::render::definition_problems(&e));
                bad.push(Unschedulable::new(kind, name, file, errors));
                continue;
            }
            Err(_) => continue,
        };
        // The whole definition must validate: a scheduled run that cannot start helps no one.
        let checked = match kind {
            RunKind::Workflow => super::workflow::validate(ctx, &file),
            RunKind::Scenario => super::scenario::validate(ctx, Some(&file), false),
        };
        // Its problems as validate gives them, each located.
        let problems: Option<Vec<crate::render::ProblemDoc>> = match checked {
            Ok(out) if out.code == exit::OK => None,
            Ok(out) => Some(
                serde_json::from_value(out.json["errors"].clone()).unwrap_or_else(|_| {
                    vec![problem_doc(
                        &file,
                        "the definition does not validate".into(),
                        None,
                    )]
                }),
            ),
            Err(e) if !e.errors.is_empty() => Some(e.errors),
            Err(e) => Some(vec![problem_doc(&file, e.message, None)]),
        };
        match (problems, Cadence::parse(&schedule.cron)) {
            (None, Ok(cadence)) => good.push(Scheduled {
                kind,
                name,
                file,
                schedule,
                cadence,
                env_inputs,
            }),
            (Some(errors), _) => bad.push(Unschedulable::new(kind, name, file, errors)),
            (None, Err(error)) => {
                let at = crate::definition::locate(&text, &["schedule".into(), "cron".into()]);
                let errors = vec![problem_doc(&file, error, at)];
                bad.push(Unschedulable::new(kind, name, file, errors));
            }
        }
    }
    (good, bad)
}

/// The required secret inputs of `w` without a default: a scheduled run has them only from
/// the scheduler's environment (validate refuses their values under `schedule.inputs`).
fn env_inputs(w: &crate::definition::Workflow) -> Vec<String> {
    let secret = crate::execute::secret_inputs(w);
    w.inputs
        .iter()
        .filter(|(name, spec)| spec.required && spec.default.is_none() && secret.contains(*name))
        .map(|(name, _)| name.clone())
        .collect()
}

/// The problem, if any, of starting a run of `s` from this process: a required secret input
/// its environment does not give (`CORTEX_INPUT_<NAME>` unset).
fn missing_env_inputs(s: &Scheduled) -> Option<String> {
    let missing: Vec<&String> = s
        .env_inputs
        .iter()
        .filter(|n| crate::execute::secret_input_from_env(n).is_none())
        .collect();
    if missing.is_empty() {
        return None;
    }
    let vars: Vec<String> = missing
        .iter()
        .map(|n| crate::execute::input_env_name(n))
        .collect();
    Some(format!(
        "{} {} secret and required, and the scheduler's environment does not give {}: set {} in the environment of the scheduler (`cortex schedule run`, `cortex serve`) and restart it",
        missing
            .iter()
            .map(|n| format!("input `{n}`"))
            .collect::<Vec<_>>()
            .join(", "),
        if missing.len() == 1 { "is" } else { "are" },
        if missing.len() == 1 { "it" } else { "them" },
        vars.join(", "),
    ))
}

/// Milliseconds since the epoch.
pub fn millis(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// A due time as recorded: RFC 3339, UTC, whole seconds.
pub fn due_text(ms: u64) -> String {
    humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_millis(ms)).to_string()
}

fn due_ms(text: &str) -> Option<u64> {
    humantime::parse_rfc3339_weak(text).ok().map(millis)
}

/// Read `--at TIME` (a tool's `at`): RFC 3339 (`2026-12-03T10:00:00Z`; seconds and zone may
/// be left out), its error naming it as the front end that asked takes it (`surface`).
pub fn parse_at(surface: super::Surface, text: &str) -> Result<SystemTime, CommandError> {
    let t = text.trim().trim_end_matches('Z');
    humantime::parse_rfc3339_weak(t).map_err(|e| {
        CommandError::bad_input(format!(
            "{} `{}` is not a time: {e}",
            surface.named("at"),
            crate::definition::shown(text)
        ))
        .hint(format!(
            "write a UTC time such as {}",
            surface.set("at", "2026-12-03T10:00:00Z")
        ))
    })
}

/// `schedule run --once --at TIME` records what it does (`schedule_seen`, `schedule_fired`) as
/// if it were TIME, and a schedule's stream refuses every time at or before the last one it
/// decided: a pass at a future TIME would leave the real scheduler silent until then (an
/// every-minute schedule for weeks). So a TIME later than the clock is refused, recording
/// nothing; `schedule list --at`, which records nothing, takes any time.
pub fn refuse_future_at(at: SystemTime, now: SystemTime) -> Result<(), CommandError> {
    if at <= now {
        return Ok(());
    }
    Err(CommandError::bad_input(format!(
        "--at {} is later than now ({}): a pass records what it fires, and the schedule \
         would then skip every real time until {}",
        due_text(millis(at)),
        due_text(millis(now)),
        due_text(millis(at)),
    ))
    .hint(
        "give a time at or before now, or see future times with `cortex schedule list --at TIME`",
    ))
}

/// `schedule list`: every schedule, its next times and its last fire.
pub fn list(ctx: &Ctx, now: SystemTime) -> Result<Output, CommandError> {
    let now_ms = millis(now);
    let (scheduled, broken) = find_scheduled(ctx);
    let store = ctx.reading_store()?;
    let mut rows = Vec::new();
    for s in &scheduled {
        let state = match &store {
            Some(store) => replay_schedule(&store.read_run(&s.stream())?),
            None => ScheduleState::default(),
        };
        let last = state.fires.last().map(|f| {
            json!({
                "due": f.due,
                "outcome": f.outcome.as_str(),
                "reason": f.reason,
                "missed": f.missed,
                "released": f.released,
                "run_id": f.run.as_ref().and_then(|r| r.as_ref().ok()),
                "error": f.run.as_ref().and_then(|r| r.as_ref().err()),
            })
        });
        // A time already decided (fired early by `schedule run --once --at`) is not next: it
        // never fires again; nor is one before the schedule was seen.
        let seen = state
            .known_since(s.schedule.cron.trim())
            .flatten()
            .and_then(due_ms)
            .unwrap_or(0)
            .saturating_sub(1);
        let next_after = state
            .last_due()
            .and_then(due_ms)
            .unwrap_or(0)
            .max(seen)
            .max(now_ms);
        rows.push(json!({
            "kind": s.kind.as_str(),
            "name": s.name,
            "file": s.file,
            "cron": s.schedule.cron.trim(),
            "description": s.cadence.describe(),
            "overlap": s.schedule.overlap.as_str(),
            "inputs": s.schedule.inputs.keys().collect::<Vec<_>>(),
            // Required secret inputs: each run needs them in the scheduler's environment.
            "env_inputs": s.env_inputs.iter().map(|n| json!({
                "input": n,
                "variable": crate::execute::input_env_name(n),
                "set_here": crate::execute::secret_input_from_env(n).is_some(),
            })).collect::<Vec<_>>(),
            "next": s.cadence.next_times(next_after, 3).into_iter().map(due_text).collect::<Vec<_>>(),
            "last": last,
            "fired": state.fires.len(),
            "runs_started": state.runs().count(),
        }));
    }
    let doc = json!({
        "now": due_text(now_ms),
        "schedules": rows,
        "invalid": broken,
    });
    let text = crate::render::render_schedules(&doc, &ctx.globals());
    let code = if broken.is_empty() {
        exit::OK
    } else {
        exit::BAD_INPUT
    };
    Ok(Output::new(doc, text, code))
}

/// One thing a scheduler did.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Happened {
    pub kind: &'static str,
    pub name: String,
    /// The due time it concerns (RFC 3339, UTC).
    pub due: String,
    /// `seen` (first, or with a new cron expression: the time is when), `started`, `skipped`,
    /// `queued`, `released`, `dropped` (a queued time whose schedule is gone or changed),
    /// `run_recorded`, `run_failed` or `invalid`.
    pub what: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub run_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// A run's driver the scheduler started, until its run is recorded or it ends.
struct Spawned {
    child: Child,
    log: PathBuf,
}

/// The scheduler: fires the schedules of one home's catalog into one log.
pub struct Scheduler {
    /// No due time before this is fired (the minute the scheduler started, unless catching
    /// up from the last recorded fire).
    since_ms: u64,
    catch_up: bool,
    by: Driver,
    exe: PathBuf,
    /// Drivers started and not yet seen recording their runs, by (stream, due).
    spawned: BTreeMap<(String, String), Spawned>,
    /// Drivers whose runs are recorded, reaped when they end.
    running: Vec<Child>,
    /// Definitions already reported unschedulable (said once, not every tick).
    reported: BTreeSet<String>,
    ids: UlidIds,
    durability: crate::definition::Durability,
    /// What every event it records is scrubbed of (`Redactor::of_process`): its streams
    /// are appended here, not through a run's journal.
    redactor: crate::execute::Redactor,
    /// Streams of schedules that are gone, by how many events they held when this scheduler
    /// last found nothing queued in them: read again only once they grow (a pass replayed
    /// every gone schedule's whole stream, a cost growing with history, every minute).
    settled: BTreeMap<String, u64>,
    /// How long each statement waits for the log's write lock while a pass waits out a log
    /// another process holds locked (`execute::patiently`): none, the store's own wait.
    lock_wait: Option<Duration>,
}

impl Scheduler {
    /// A scheduler starting at `now`: without `catch_up`, times before the current minute are
    /// never fired; with it, the latest time missed since a schedule's last fire is fired once.
    /// Either way no time before a schedule was first seen (`schedule_seen`) fires.
    pub fn new(ctx: &Ctx, now: SystemTime, catch_up: bool) -> Result<Scheduler, CommandError> {
        let exe = std::env::current_exe().map_err(|e| {
            CommandError::new(exit::FAILED, format!("cannot find the cortex binary: {e}"))
        })?;
        let durability = ctx
            .catalog()
            .config()
            .map(|c| c.durability)
            .unwrap_or_default();
        Ok(Scheduler {
            since_ms: minute_of(millis(now)).saturating_sub(1),
            catch_up,
            by: Driver {
                pid: std::process::id(),
                host: hostname(),
            },
            exe,
            spawned: BTreeMap::new(),
            running: Vec::new(),
            reported: BTreeSet::new(),
            ids: UlidIds::default(),
            durability,
            redactor: crate::execute::Redactor::of_process(),
            settled: BTreeMap::new(),
            lock_wait: None,
        })
    }

    /// One pass at `now`: settle the runs awaited, release what waits, fire what is due,
    /// each thing that happened added to `happened` as it is recorded — so that a pass that
    /// fails midway (a log locked by another process) keeps what it did, and the same pass
    /// again does only the rest: every decision is taken at the head of its schedule's stream.
    /// With `wait`, runs started are waited for until recorded (or `SETTLE` passes).
    pub fn tick(
        &mut self,
        ctx: &Ctx,
        now: SystemTime,
        wait: bool,
        happened: &mut Vec<Happened>,
    ) -> Result<(), CommandError> {
        let now_ms = millis(now);
        self.running
            .retain_mut(|c| !matches!(c.try_wait(), Ok(Some(_))));
        let (scheduled, broken) = find_scheduled(ctx);
        let broken_streams: Vec<String> = broken
            .iter()
            .map(|b| {
                ChainId::Schedule {
                    kind: b.kind,
                    name: &b.name,
                }
                .to_string()
            })
            .collect();
        for b in broken {
            if self
                .reported
                .insert(format!("{}:{}:{}", b.kind.as_str(), b.name, b.error))
            {
                happened.push(Happened {
                    kind: b.kind.as_str(),
                    name: b.name,
                    due: due_text(now_ms),
                    what: "invalid",
                    run_id: None,
                    detail: Some(b.error),
                });
            }
        }
        // A schedule whose definition is gone (or no longer has `schedule:`) drops the times
        // it had queued: a file of that name coming back later is another schedule, which
        // fires its own times only. (An invalid definition is not gone: it may be fixed.)
        let mut known: BTreeSet<String> = scheduled.iter().map(Scheduled::stream).collect();
        known.extend(broken_streams);
        // No log made for nothing: without schedules, only one that exists is looked at.
        let opened = match scheduled.is_empty() && ctx.reading_store()?.is_none() {
            true => None,
            false => Some(ctx.store(self.durability)?),
        };
        let Some(mut store) = opened else {
            return Ok(());
        };
        store.set_lock_wait(self.lock_wait)?;
        self.drop_gone(&mut *store, &known, happened)?;
        if scheduled.is_empty() {
            return Ok(());
        }
        for s in &scheduled {
            self.settle_runs(&mut *store, s, wait, happened)?;
            // First in, first out: a time queued earlier starts before a newer one is decided
            // (which then sees it starting, and queues or skips).
            self.release(ctx, &mut *store, s, now_ms, happened)?;
            self.fire(ctx, &mut *store, s, now_ms, happened)?;
            self.settle_runs(&mut *store, s, wait, happened)?;
        }
        Ok(())
    }

    fn state(store: &dyn EventStore, s: &Scheduled) -> Result<ScheduleState, StoreError> {
        Ok(replay_schedule(&store.read_run(&s.stream())?))
    }

    /// Fire the latest due time of `s` not fired yet, if one is due — never one before the
    /// time its cron expression was first seen: a schedule seen for the first time, or
    /// changed, is recorded as seen now (`schedule_seen`) and fires from then on, that very
    /// time included (a pass at 10:15:00 fires `* * * * *`'s 10:15 as it sees it).
    fn fire(
        &mut self,
        ctx: &Ctx,
        store: &mut dyn EventStore,
        s: &Scheduled,
        now_ms: u64,
        happened: &mut Vec<Happened>,
    ) -> Result<(), CommandError> {
        let mut state = Self::state(store, s)?;
        let cron = s.schedule.cron.trim().to_string();
        if state.known_since(&cron).is_none() {
            // Another scheduler may see it first: either way it is seen from now on.
            let at = due_text(now_ms);
            let why = match &state.known {
                Some(known) => format!(
                    "its cron expression changed from `{}` to `{cron}`",
                    known.cron
                ),
                None => format!("`{cron}` for the first time"),
            };
            let command = ScheduleCommand::See {
                cron: cron.clone(),
                at: at.clone(),
                scheduler: self.by.clone(),
            };
            if self.decide(store, s, command)?.is_some() {
                let next = due_ms(&at)
                    .and_then(|from| s.cadence.next_times(from.saturating_sub(1), 1).pop())
                    .map_or_else(|| "none".to_string(), due_text);
                happened.push(Happened {
                    kind: s.kind.as_str(),
                    name: s.name.clone(),
                    due: at,
                    what: "seen",
                    run_id: None,
                    detail: Some(format!(
                        "{why}: only its times from now on fire (next: {next})"
                    )),
                });
            }
            state = Self::state(store, s)?;
        }
        // Times at or after the sighting fire: `due_in` takes those after `seen - 1`.
        let seen = match state.known_since(&cron) {
            Some(since) => since.and_then(due_ms).unwrap_or(0).saturating_sub(1),
            None => return Ok(()),
        };
        let last = state.last_due().and_then(due_ms);
        let after = if self.catch_up {
            last.unwrap_or(0).max(seen)
        } else {
            last.unwrap_or(0).max(self.since_ms).max(seen)
        };
        let Some((due_at, count)) = s.cadence.due_in(after, now_ms, 100_000) else {
            return Ok(());
        };
        let due = due_text(due_at);
        let going = going_run(ctx, store, &state)?;
        let command = ScheduleCommand::Fire {
            due: due.clone(),
            cron: s.schedule.cron.trim().to_string(),
            overlap: s.schedule.overlap,
            going,
            missed: count.saturating_sub(1),
            scheduler: self.by.clone(),
        };
        let Some(events) = self.decide(store, s, command)? else {
            return Ok(());
        };
        for event in events {
            if let Event::ScheduleFired {
                outcome, reason, ..
            } = event
            {
                let what = match outcome {
                    FireOutcome::Start => "started",
                    FireOutcome::Skip => "skipped",
                    FireOutcome::Queue => "queued",
                };
                happened.push(Happened {
                    kind: s.kind.as_str(),
                    name: s.name.clone(),
                    due: due.clone(),
                    what,
                    run_id: None,
                    detail: reason,
                });
                if outcome == FireOutcome::Start {
                    self.spawn(ctx, store, s, &due, happened)?;
                }
            }
        }
        Ok(())
    }

    /// Drop the queued times of every schedule stream not in `known` (its definition gone):
    /// each recorded as a run that did not start, and said (`dropped`).
    fn drop_gone(
        &mut self,
        store: &mut dyn EventStore,
        known: &BTreeSet<String>,
        happened: &mut Vec<Happened>,
    ) -> Result<(), CommandError> {
        let streams: Vec<(String, u64)> = store
            .streams_with_prefix(SCHEDULE_PREFIX)?
            .into_iter()
            .filter(|(id, events)| !known.contains(id) && self.settled.get(id) != Some(events))
            .collect();
        for (stream, events) in streams {
            // A chain under the prefix whose id is no schedule's was put in the log by hand:
            // not read (reading it is refused as corrupt, which would stop every pass), left
            // to `log verify` to report.
            let Some(ChainId::Schedule { kind, name }) = ChainId::parse_str(&stream) else {
                continue;
            };
            let state = replay_schedule(&store.read_run(&stream)?);
            if !state.fires.iter().any(|f| f.waiting_in_queue()) {
                self.settled.insert(stream, events);
                continue;
            }
            self.drop_queued(
                store,
                &stream,
                &state,
                kind.as_str(),
                name,
                "dropped: its schedule is gone (the definition was removed or no longer has `schedule:`)",
                happened,
            )?;
        }
        Ok(())
    }

    /// Drop every time queued in `state` (of `stream`) for `reason`.
    #[allow(clippy::too_many_arguments)]
    fn drop_queued(
        &mut self,
        store: &mut dyn EventStore,
        stream: &str,
        state: &ScheduleState,
        kind: &'static str,
        name: &str,
        reason: &str,
        happened: &mut Vec<Happened>,
    ) -> Result<(), CommandError> {
        let queued: Vec<String> = state
            .fires
            .iter()
            .filter(|f| f.waiting_in_queue())
            .map(|f| f.due.clone())
            .collect();
        for due in queued {
            let command = ScheduleCommand::Drop {
                due: due.clone(),
                reason: reason.to_string(),
            };
            if self.decide_on(store, stream, command)?.is_some() {
                happened.push(Happened {
                    kind,
                    name: name.to_string(),
                    due,
                    what: "dropped",
                    run_id: None,
                    detail: Some(reason.to_string()),
                });
            }
        }
        Ok(())
    }

    /// Let the queued time of `s` start once nothing of it is going — only a time due by
    /// `now_ms` (a pass `--at` an earlier minute releases none after it). A time queued under
    /// another cron expression than the schedule's now is dropped, not released.
    fn release(
        &mut self,
        ctx: &Ctx,
        store: &mut dyn EventStore,
        s: &Scheduled,
        now_ms: u64,
        happened: &mut Vec<Happened>,
    ) -> Result<(), CommandError> {
        let mut state = Self::state(store, s)?;
        let cron = s.schedule.cron.trim();
        if let Some(known) = state.known.as_ref().filter(|k| k.cron != cron) {
            let reason = format!(
                "dropped: its schedule changed from `{}` to `{cron}` while it was queued",
                known.cron
            );
            self.drop_queued(
                store,
                &s.stream(),
                &state,
                s.kind.as_str(),
                &s.name,
                &reason,
                happened,
            )?;
            state = Self::state(store, s)?;
        }
        let Some(queued) = state.fires.iter().find(|f| f.waiting_in_queue()) else {
            return Ok(());
        };
        let due = queued.due.clone();
        if due_ms(&due).is_some_and(|at| at > now_ms) {
            return Ok(());
        }
        let going = going_run(ctx, store, &state)?;
        if going.is_some() {
            return Ok(());
        }
        let command = ScheduleCommand::Release {
            due: due.clone(),
            going,
            scheduler: self.by.clone(),
        };
        if self.decide(store, s, command)?.is_some() {
            happened.push(Happened {
                kind: s.kind.as_str(),
                name: s.name.clone(),
                due: due.clone(),
                what: "released",
                run_id: None,
                detail: Some("the run before it ended".into()),
            });
            self.spawn(ctx, store, s, &due, happened)?;
        }
        Ok(())
    }

    /// Record the runs of fires that await theirs: found in the log by their message, or
    /// failed (their driver ended without recording one, or the scheduler that decided them
    /// is long gone).
    fn settle_runs(
        &mut self,
        store: &mut dyn EventStore,
        s: &Scheduled,
        wait: bool,
        happened: &mut Vec<Happened>,
    ) -> Result<(), CommandError> {
        let state = Self::state(store, s)?;
        let awaited: Vec<(String, String)> = state
            .fires
            .iter()
            .filter(|f| f.awaiting_run())
            .map(|f| (f.due.clone(), f.decided_at.clone()))
            .collect();
        for (due, decided_at) in awaited {
            let key = (s.stream(), due.clone());
            let until = Instant::now() + if wait { SETTLE } else { Duration::ZERO };
            let run = loop {
                if let Some(run_id) = find_run(store, s, &s.tag(&due))? {
                    break Some(Ok(run_id));
                }
                if let Some(spawned) = self.spawned.get_mut(&key) {
                    if let Ok(Some(status)) = spawned.child.try_wait() {
                        // Read once more: it may have recorded its run and ended.
                        if let Some(run_id) = find_run(store, s, &s.tag(&due))? {
                            break Some(Ok(run_id));
                        }
                        break Some(Err(printed_error(&spawned.log).unwrap_or_else(|| {
                            format!("its driver ended ({status}) without recording a run")
                        })));
                    }
                } else {
                    let decided = humantime::parse_rfc3339_weak(&decided_at).ok();
                    let orphaned = decided.is_some_and(|t| {
                        SystemTime::now()
                            .duration_since(t)
                            .is_ok_and(|age| age > ORPHANED_AFTER)
                    });
                    if orphaned {
                        break Some(Err(
                            "no run was recorded for it: the scheduler that decided it stopped before its driver started".into(),
                        ));
                    }
                    break None;
                }
                if Instant::now() >= until {
                    break None;
                }
                std::thread::sleep(Duration::from_millis(50));
            };
            let Some(run) = run else { continue };
            // What a driver printed may quote an input's value: said scrubbed, as recorded.
            let run = run.map_err(|e| self.redactor.redact(&e).into_owned());
            let command = ScheduleCommand::RecordRun {
                due: due.clone(),
                run: run.clone(),
            };
            if self.decide(store, s, command)?.is_some() {
                happened.push(Happened {
                    kind: s.kind.as_str(),
                    name: s.name.clone(),
                    due: due.clone(),
                    what: if run.is_ok() {
                        "run_recorded"
                    } else {
                        "run_failed"
                    },
                    run_id: run.as_ref().ok().cloned(),
                    detail: run.err(),
                });
            }
            if let Some(spawned) = self.spawned.remove(&key) {
                self.running.push(spawned.child);
            }
        }
        Ok(())
    }

    /// Decide `command` at the head of the schedule's stream; the events recorded, or `None`
    /// when another scheduler got there first (or there was nothing to do).
    fn decide(
        &mut self,
        store: &mut dyn EventStore,
        s: &Scheduled,
        command: ScheduleCommand,
    ) -> Result<Option<Vec<Event>>, CommandError> {
        self.decide_on(store, &s.stream(), command)
    }

    /// `decide` on the schedule stream `stream`.
    fn decide_on(
        &mut self,
        store: &mut dyn EventStore,
        stream: &str,
        command: ScheduleCommand,
    ) -> Result<Option<Vec<Event>>, CommandError> {
        let mut decided: Option<Result<Vec<Event>, ScheduleRefused>> = None;
        let time = crate::execute::rfc3339(SystemTime::now());
        let ids = &mut self.ids;
        let redactor = &self.redactor;
        store.append_at_head(stream, 0, &mut |events, _| {
            let state = replay_schedule(events);
            let outcome = decide_schedule(&state, command.clone()).map(|mut events| {
                events.iter_mut().for_each(|e| redactor.redact_event(e));
                events
            });
            let new = match &outcome {
                Ok(events) => events
                    .iter()
                    .map(|event| NewEvent {
                        id: ids.next_id(),
                        time: time.clone(),
                        event: event.clone(),
                    })
                    .collect(),
                Err(_) => Vec::new(),
            };
            decided = Some(outcome);
            new
        })?;
        Ok(decided.and_then(Result::ok))
    }

    /// Start the driver of `s`'s run for `due`, detached, recorded as the actor `schedule`
    /// with a message that finds it again; if it cannot start, that is recorded as its run.
    fn spawn(
        &mut self,
        ctx: &Ctx,
        store: &mut dyn EventStore,
        s: &Scheduled,
        due: &str,
        happened: &mut Vec<Happened>,
    ) -> Result<(), CommandError> {
        // Said here, before a driver starts and fails: what it would print (`pass --input`)
        // is no help to a scheduler, whose secret inputs come from its environment.
        if let Some(error) = missing_env_inputs(s) {
            self.record_failed_start(store, s, due, error, happened)?;
            return Ok(());
        }
        let mut args: Vec<String> = vec!["--home".into(), ctx.home.display().to_string()];
        args.push(s.kind.group().into());
        args.extend([
            "run".into(),
            s.file.clone(),
            "--actor".into(),
            ACTOR.into(),
            "--message".into(),
            s.tag(due),
        ]);
        for (k, v) in s.schedule.input_pairs() {
            args.extend(crate::render::pair_args("--input", &k, &v));
        }
        let log = ctx
            .home
            .join(crate::execute::SCHEDULE_DRIVER_LOGS)
            .join(driver_log_name(s.kind, &s.name, due));
        // The log, when `--db` chose it: in the environment, out of sight of `ps`.
        match operator::spawn_detached(&self.exe, &args, &ctx.db_env(), &ctx.cwd, &log) {
            Ok(detached) => {
                self.spawned.insert(
                    (s.stream(), due.to_string()),
                    Spawned {
                        child: detached.child,
                        log,
                    },
                );
            }
            Err(e) => {
                let error = format!("cannot start a cortex driver: {e}");
                self.record_failed_start(store, s, due, error, happened)?;
            }
        }
        Ok(())
    }

    /// Record that the run of `s` for `due` could not start, and why.
    fn record_failed_start(
        &mut self,
        store: &mut dyn EventStore,
        s: &Scheduled,
        due: &str,
        error: String,
        happened: &mut Vec<Happened>,
    ) -> Result<(), CommandError> {
        let command = ScheduleCommand::RecordRun {
            due: due.to_string(),
            run: Err(error.clone()),
        };
        if self.decide(store, s, command)?.is_some() {
            happened.push(Happened {
                kind: s.kind.as_str(),
                name: s.name.clone(),
                due: due.to_string(),
                what: "run_failed",
                run_id: None,
                detail: Some(error),
            });
        }
        Ok(())
    }
}

/// A run of this schedule still going (driven by a live driver, or waiting for a report), or
/// one whose dead driver's commands still run. A run's `uses:` child runs, down every level,
/// are its work too: each is judged by the same rule, so an orphaned step of a child counts
/// as its scheduled run's.
fn going_run(
    ctx: &Ctx,
    store: &dyn EventStore,
    state: &ScheduleState,
) -> Result<Option<String>, CommandError> {
    for run_id in state.runs().take(8) {
        let (run, alive) = crate::execute::load_live(&ctx.home, store, run_id)?;
        if let Some(why) = still_going(ctx, run_id, &run, alive) {
            return Ok(Some(format!("run {run_id}{why}")));
        }
        // A finished run's tree is read too: an abort records the parent's end before it ends
        // the children (`execute::operator::abort`, then `end_children`, whose failures it
        // leaves), so a crash or a child held past its wait between the two leaves a finished
        // parent over a child whose orphaned step runs on. Before, such a tree was skipped and
        // the next pass started a second copy of the step beside the orphan. A run with no
        // `uses:` costs nothing more (`run_tree` returns at once).
        for child in crate::execute::run_tree(store, run_id, &run).iter().skip(1) {
            let (state, alive) = crate::execute::load_live(&ctx.home, store, child)?;
            if let Some(why) = still_going(ctx, child, &state, alive) {
                return Ok(Some(format!("run {run_id}: its child run {child}{why}")));
            }
        }
    }
    Ok(None)
}

/// Whether `run` is still going (`Some`, with what to add to its name when it is only its
/// commands): a live driver or a wait, or a dead driver whose commands still run.
fn still_going(
    ctx: &Ctx,
    run_id: &str,
    run: &crate::decide::RunState,
    alive: bool,
) -> Option<&'static str> {
    match run_status(run, alive) {
        RunStatus::Running | RunStatus::Waiting => Some(""),
        // Its driver died, but the commands it started go on: a new run beside them would
        // overlap them.
        RunStatus::Interrupted if crate::execute::orphans_alive_of(&ctx.home, run_id) => {
            Some(" (its driver is gone, its commands still run)")
        }
        _ => None,
    }
}

/// The run a scheduled driver recorded: started by the actor `schedule` with `tag`.
fn find_run(
    store: &dyn EventStore,
    s: &Scheduled,
    tag: &str,
) -> Result<Option<String>, CommandError> {
    for entry in store.list_runs(&RunQuery::kind(Some(s.kind)).limit(64))? {
        if let Some(Event::RunStarted(started)) = store.first_event(&entry.run_id)?.map(|r| r.event)
            && started.by.actor == ACTOR
            && started.by.message.as_deref() == Some(tag)
            && started.name == s.name
        {
            return Ok(Some(entry.run_id));
        }
    }
    Ok(None)
}

/// The error a driver printed (`error: ...` and its hints), if it printed one.
fn printed_error(log: &std::path::Path) -> Option<String> {
    let text = crate::execute::read_driver_log(log).ok()?;
    let mut lines = text.lines().skip_while(|l| !l.starts_with("error: "));
    let mut message = lines.next()?.trim_start_matches("error: ").to_string();
    for line in lines {
        let line = line.strip_prefix("hint: ").unwrap_or(line).trim();
        if !line.is_empty() {
            message.push_str(if message.ends_with(':') { " " } else { ": " });
            message.push_str(line.trim_start_matches("- "));
        }
    }
    Some(message)
}

/// `schedule run`: fire schedules until stopped (or once, with `once`), telling `sink` what
/// happened as it happens. `at` replaces the clock for a single pass (`--once --at TIME`).
pub fn run(
    ctx: &Ctx,
    once: bool,
    at: Option<SystemTime>,
    catch_up: bool,
    stop: &StopFlag,
    sink: &mut dyn FnMut(&Happened),
) -> Result<Vec<Happened>, CommandError> {
    if let Some(at) = at {
        refuse_future_at(at, SystemTime::now())?;
    }
    let now = || at.unwrap_or_else(SystemTime::now);
    let patience = patience(ctx, stop)?;
    let mut scheduler = Scheduler::new(ctx, now(), catch_up)?;
    let mut all = Vec::new();
    loop {
        // A pass that meets the log's write lock held by another process (a `sqlite3`
        // session, a backup or VACUUM) waits it out as a driver does, rather than end the
        // scheduler: what it did before it met the lock is kept, and it goes on from there.
        let mut happened = Vec::new();
        let tried = crate::execute::patiently(
            &mut scheduler,
            &patience,
            "the scheduler",
            CommandError::log_locked,
            |scheduler, wait| scheduler.lock_wait = wait,
            |scheduler| scheduler.tick(ctx, now(), once, &mut happened),
        );
        for h in happened {
            sink(&h);
            all.push(h);
        }
        match tried.result {
            // Asked to end while it waited: it ends, as it would between two passes.
            Err(_) if tried.gave_up && stop.is_set() => return Ok(all),
            Err(e) if tried.gave_up => return Err(gave_up(ctx, e, once)),
            other => other?,
        }
        if once || stop.is_set() {
            return Ok(all);
        }
        // Due times are whole minutes; a pass every 2 s starts a run within 2 s of its time.
        for _ in 0..20 {
            if stop.is_set() {
                return Ok(all);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// How a scheduler waits out a log another process holds locked, as a driver does
/// (`execute::Patience`): up to `CORTEX_LOG_LOCK_WAIT` (an hour by default), giving up at once
/// on `stop`, saying so where the command says what it waits for (`Ctx::announce`).
fn patience(ctx: &Ctx, stop: &StopFlag) -> Result<crate::execute::Patience, CommandError> {
    let bound = crate::execute::log_lock_wait().map_err(|why| {
        CommandError::bad_input(why).hint(format!(
            "it says how long a driver or the scheduler waits for the event log while another process holds it locked (default {}); unset it for the default",
            crate::render::format_duration(crate::execute::LOG_LOCK_WAIT)
        ))
    })?;
    let stop = stop.clone();
    Ok(crate::execute::Patience {
        bound,
        stop: std::sync::Arc::new(move || stop.is_set()),
        announce: ctx.announce,
        leaves: "its schedules to the next `cortex schedule run` (a time missed meanwhile fires with --catch-up)".into(),
    })
}

/// What a scheduler that gave up waiting for a locked log says (`e`, the store's refusal):
/// held by another process (exit 4), nothing recorded lost, and how to go on — in its hint,
/// and as its `next` the scheduler again (`--once` as it was), catching up what it missed.
fn gave_up(ctx: &Ctx, e: CommandError, once: bool) -> CommandError {
    let bound = crate::execute::log_lock_wait().unwrap_or(crate::execute::LOG_LOCK_WAIT);
    let mut err = CommandError::new(
        e.code,
        format!(
            "the event log stayed locked by another process longer than the scheduler waits ({}): no schedule fired meanwhile",
            crate::render::format_duration(bound)
        ),
    )
    .hint(format!(
            "another process holds the log's write lock, such as a `sqlite3` session or a backup or VACUUM of the log; nothing recorded was lost; once it lets go, {} goes on firing ({} fires a time missed meanwhile)",
            ctx.cmd(&["schedule", "run"]),
            ctx.cmd(&["schedule", "run", "--catch-up"]),
        ))
    .hint(format!(
        "{} sets how long it waits for a locked log (default {})",
        crate::execute::LOG_LOCK_WAIT_ENV,
        crate::render::format_duration(crate::execute::LOG_LOCK_WAIT)
    ));
    err.cause = e.cause;
    let again: &[&str] = match once {
        true => &["schedule", "run", "--once", "--catch-up"],
        false => &["schedule", "run", "--catch-up"],
    };
    err.next(
        again,
        "the scheduler again once the other process lets go of the event log's write lock, firing the times missed meanwhile",
    )
}

/// Run a scheduler in a thread of its own until the process ends (`cortex serve`): what it
/// does, and any error (after which it tries again a little later), goes to `log`.
pub fn in_background(
    ctx: Ctx,
    log: impl Fn(&str) + Send + 'static,
) -> Result<(), crate::execute::thread::Refused> {
    crate::execute::thread::spawn("to run the scheduler", move || {
        let stop = StopFlag::default();
        loop {
            let result = run(&ctx, false, None, false, &stop, &mut |h| {
                log(crate::render::render_happened(h).trim_end())
            });
            if let Err(e) = result {
                log(&format!(
                    "the scheduler met an error, trying again in 30 s: {}",
                    e.message
                ));
            }
            std::thread::sleep(Duration::from_secs(30));
        }
    })
    .map(drop)
}
