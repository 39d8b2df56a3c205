//! Notifications after an operation: when a run it drove or changed has come to an end of its
//! session (paused on a failure, or sealed), deliver what of its `notify:` is due
//! (`plan::notifications_due`: once per end, by what its stream `notify:RUN` already records)
//! and record the deliveries. Done here, once, for every front end. Each is delivered for the
//! end that made it due, with the run's status document as of that end's event (`status --at
//! SEQ`), whenever and by whichever process it is delivered.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::background::Enqueued;
use super::{Ctx, Deliveries};
use crate::decide::RunState;
use crate::event::{ChainId, Event};
use crate::execute::{
    Delivery, Ended, Redactor, StopFlag, Subject, SystemClock, UlidIds, deliver, input_text,
    not_made, record_deliveries,
};
use crate::plan::{DueAt, End, NotificationRef, Notified, Trigger};
use crate::project::run_status;
use crate::store::EventStore;

/// One delivery of a run's `notify:`, as its stream `notify:RUN` records it (its texts
/// redacted when they were recorded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedDelivery {
    /// `on_failure` or `on_finish`.
    pub trigger: String,
    /// `run: CMD` or `webhook: URL`.
    pub notification: String,
    pub attempts: u32,
    pub ok: bool,
    /// How the last try went: an HTTP status, an exit code, an error.
    pub detail: String,
    /// When it was recorded.
    pub time: String,
    /// The end of the run it was for.
    pub status: Option<String>,
    /// The driving session it was for.
    pub session: Option<u64>,
    /// Which notification of its list it was (None in records from before it was recorded).
    pub index: Option<u32>,
}

/// Every delivery recorded for run `run_id`, oldest first: what `status` lists as
/// `notifications` and the dashboard's run page shows.
pub fn recorded_deliveries(
    store: &dyn EventStore,
    run_id: &str,
) -> Result<Vec<RecordedDelivery>, crate::store::StoreError> {
    Ok(store
        .read_run(&ChainId::Notify(run_id).to_string())?
        .into_iter()
        .filter_map(|rec| match rec.event {
            Event::NotificationDelivered {
                trigger,
                notification,
                attempts,
                ok,
                detail,
                status,
                session,
                index,
            } => Some(RecordedDelivery {
                trigger,
                notification,
                attempts,
                ok,
                detail,
                time: rec.time,
                status,
                session,
                index,
            }),
            _ => None,
        })
        .collect())
}

/// The deliveries recorded for run `run_id`, as `plan::notifications_due` reads them.
fn notified(store: &dyn EventStore, run_id: &str) -> Result<Vec<Notified>, String> {
    Ok(recorded_deliveries(store, run_id)
        .map_err(|e| e.to_string())?
        .into_iter()
        .filter_map(|d| {
            Some(Notified {
                trigger: Trigger::parse(&d.trigger)?,
                status: d.status,
                session: d.session,
                index: d.index.map(|i| i as usize),
            })
        })
        .collect())
}

/// A notification still due, with the end of the run's session it is due for.
pub struct Pending {
    pub end: End,
    /// Not made yet: its trigger, place and masked label.
    pub delivery: Delivery,
}

/// The notifications of the run's `notify:` due at the ends its session came to and neither
/// delivered nor given up (no record of them in `notify:RUN`), oldest end first: what a driver
/// cut short (a SIGKILL while a webhook was retried) or a process lacking what they read left,
/// delivered by the next process that drives or resumes the run, each for its own end.
pub fn pending(store: &dyn EventStore, state: &RunState) -> Result<Vec<Pending>, String> {
    let Some(notify) = state.workflow.as_ref().map(|w| &w.notify) else {
        return Ok(Vec::new());
    };
    if notify.is_empty() || crate::plan::notify_end(state).is_none() {
        return Ok(Vec::new());
    }
    let redactor = Redactor::of_run(state);
    Ok(due(state, &notified(store, &state.run_id)?)
        .into_iter()
        .flat_map(|group| {
            not_made(notify, &group.due, &redactor, &SystemClock, "")
                .into_iter()
                .map(move |delivery| Pending {
                    end: group.end,
                    delivery,
                })
        })
        .collect())
}

/// Deliver what of the run's `notify:` is due now that the operation left it in `state`, and
/// record it, as `ctx.deliveries` says: before returning (the front end hears "delivering N
/// notification(s)…" on `Ctx::announce` first; with `WaitUnlessInterrupted` a Ctrl-C ends
/// the wait), or in the process's background. Failed deliveries (and a failure to record
/// them) are returned as warnings.
///
/// Only if this process has all they read (`deliverable`): the one place every operation
/// that leaves a run at an end comes to — its driver, a report (`step complete|fail`,
/// `orchestrate complete|fail`, from a terminal, the TUI, the HTTP API or an MCP tool), a
/// resume that carries out an abort left pending. One that lacks a secret input or a
/// webhook's variable makes none: each is left due for a process given it, and the warnings
/// say so once (`left_due`, with the `resume RUN --notify-only` that delivers them), the
/// operation's own change recorded all the same. Before, a report from a terminal without
/// the variable used the webhook up, recorded "not delivered … not set", never to be made.
pub fn after_change(ctx: &Ctx, state: &RunState, redactor: &Redactor) -> Vec<String> {
    deliver_due(ctx, state, redactor, false)
        .unwrap_or_else(|lacking| vec![left_due(ctx, state, &lacking)])
}

/// What this process lacks of what a run's notifications still due read
/// (`plan::due_needs`): the secret inputs it was not given, the environment variables not set
/// in it. Made without them, a delivery would be recorded not delivered, never to be made.
#[derive(Debug)]
pub struct Lacking {
    pub inputs: Vec<String>,
    pub env: Vec<String>,
}

impl Lacking {
    /// The note of a process that leaves run `run_id`'s notifications due for lack of them
    /// (`who`: what it is, "worker", "server", "process"; `resume`: the command that delivers
    /// them, as it is suggested, given here what it must be given): said once for the run.
    pub fn note(&self, run_id: &str, who: &str, resume: &str) -> String {
        let them = |n: usize| if n == 1 { "it" } else { "them" };
        let names: Vec<String> = self.env.iter().map(|n| format!("`{n}`")).collect();
        let lacks = self.lacks(who);
        let given: String = self
            .inputs
            .iter()
            .map(|n| {
                format!(
                    " {}",
                    crate::render::command_line(&crate::render::pair_args("--input", n, "VALUE"))
                )
            })
            .collect();
        let (worker, set) = match (names.is_empty(), self.inputs.is_empty()) {
            (false, true) => (
                format!("started with {}", them(names.len())),
                format!(" run with {} set", them(names.len())),
            ),
            (true, _) => (format!("given {}", them(self.inputs.len())), String::new()),
            (false, false) => (
                "given them".to_string(),
                format!(" run with {} set", names.join(", ")),
            ),
        };
        format!(
            "Run {run_id}: its notifications still due {lacks}: left to a `cortex worker` or `cortex serve` {worker}, or `{resume}{given}`{set}."
        )
    }

    /// What they read that this process (`who`: "process", "worker", …) lacks, as a clause:
    /// "send webhooks made of variable `HOOK`, not set in this process's environment".
    fn lacks(&self, who: &str) -> String {
        let names: Vec<String> = self.env.iter().map(|n| format!("`{n}`")).collect();
        let variables = format!(
            "{} {}",
            if names.len() == 1 {
                "variable"
            } else {
                "variables"
            },
            names.join(", ")
        );
        let (inputs, input_vars) = super::drive::lacking_inputs(&self.inputs);
        match (names.is_empty(), self.inputs.is_empty()) {
            (false, true) => {
                format!("send webhooks made of {variables}, not set in this {who}'s environment")
            }
            (true, _) => {
                format!("read secret {inputs}, not in this {who}'s environment ({input_vars})")
            }
            (false, false) => format!(
                "send webhooks made of {variables}, not set in this {who}'s environment, and read secret {inputs}, not in it either ({input_vars})"
            ),
        }
    }
}

/// A run's notifications still due that a process found it can deliver: it has all they
/// read (`deliverable`). The only way to deliver them: a process that lacks a value leaves
/// them due for one given it, rather than using each up on a value it cannot know.
pub struct Deliverable<'a> {
    state: &'a RunState,
    redactor: &'a Redactor,
}

/// Whether this process, given the secret inputs `redactor` holds and its environment, can
/// deliver the notifications `pending` of the run in `state` (`notify::pending`), or what it
/// lacks: the rule for every process that delivers a run's notifications (`after_change`,
/// `resume`, `--notify-only`, an abort, a worker's or server's sweep).
pub fn deliverable<'a>(
    state: &'a RunState,
    redactor: &'a Redactor,
    pending: &[Pending],
) -> Result<Deliverable<'a>, Lacking> {
    let refs: Vec<NotificationRef> = pending
        .iter()
        .map(|p| (p.delivery.trigger, p.delivery.index))
        .collect();
    judge(state, redactor, &refs)
}

/// `deliverable`, of the notifications `due` (by their place in the run's `notify:`).
fn judge<'a>(
    state: &'a RunState,
    redactor: &'a Redactor,
    due: &[NotificationRef],
) -> Result<Deliverable<'a>, Lacking> {
    let needs = match state.workflow.as_ref() {
        Some(w) => crate::plan::due_needs(&w.notify, due),
        None => crate::plan::DueNeeds::default(),
    };
    let lacking = Lacking {
        inputs: redactor
            .missing_inputs(state)
            .into_iter()
            .filter(|name| needs.inputs.contains(name))
            .collect(),
        env: crate::execute::unset_env(&needs.env),
    };
    match lacking.inputs.is_empty() && lacking.env.is_empty() {
        true => Ok(Deliverable { state, redactor }),
        false => Err(lacking),
    }
}

impl Deliverable<'_> {
    /// Deliver them as `after_change` does, and record each, from a process that is not the
    /// driver that owed them: under the notification lease, once it is held — and only then,
    /// so that the commands it ends are never those of a live deliverer that took the lease
    /// meanwhile — the notification commands a dead driver left running in this home ended
    /// first (`execute::end_notify_orphans_of`), a warning each, ahead of the others.
    pub fn deliver(self, ctx: &Ctx) -> Vec<String> {
        match ctx.store(crate::definition::Durability::Normal) {
            Ok(store) => self.deliver_on(ctx, store, true),
            Err(e) => not_delivered(&e.message),
        }
    }

    /// Deliver them through `store` (`deliver_held`), the dead driver's notification commands
    /// ended first if `orphans`.
    fn deliver_on(self, ctx: &Ctx, store: Box<dyn EventStore>, orphans: bool) -> Vec<String> {
        let run_id = &self.state.run_id;
        deliver_held(ctx, store, self.state, self.redactor, &mut || {
            if !orphans {
                return Vec::new();
            }
            end_orphans(ctx, run_id, "it is delivered again now")
        })
    }
}

/// End the notification commands a dead driver of `run_id` left running in this home, a
/// warning each (`then`: what becomes of its notification).
fn end_orphans(ctx: &Ctx, run_id: &str, then: &str) -> Vec<String> {
    crate::execute::end_notify_orphans_of(&ctx.home, run_id, super::KILL_GRACE)
        .into_iter()
        .map(|pgid| {
            format!(
                "ended process group {pgid}: a notification command the previous driver left running when it died ({then})"
            )
        })
        .collect()
}

/// What an abort does, under the run's lock, before it records the abort: the notification
/// commands a driver that died delivering them left running are ended, a warning each. What
/// they were delivering stays due for the end it was due for (`after_abort` delivers it).
pub fn end_dead_drivers_commands(ctx: &Ctx, run_id: &str) -> Vec<String> {
    end_orphans(ctx, run_id, "it is due again, for the end it was due for")
}

/// Deliver what of the run's `notify:` is still due from a process that is not its driver
/// (an abort): each due one, if this process has all they read (`deliverable`), the
/// commands a dead driver left running ended first; else none, left due for a process given
/// what it lacks (`Err`, to be said once: `left_due`).
pub fn deliver_still_due(ctx: &Ctx, state: &RunState) -> Result<Vec<String>, Lacking> {
    deliver_due(ctx, state, &Redactor::of_run(state), true)
}

/// What of the run's `notify:` is due at the ends `state`'s session came to (none for most runs: no
/// `notify:`, or no end, and the log is not opened again for them), delivered if this process
/// has all they read (`judge`), through the one connection the look used; the notification
/// commands a dead driver left running ended first if `orphans`. Else `Err`: none is made.
fn deliver_due(
    ctx: &Ctx,
    state: &RunState,
    redactor: &Redactor,
    orphans: bool,
) -> Result<Vec<String>, Lacking> {
    if state.workflow.as_ref().is_none_or(|w| w.notify.is_empty())
        || crate::plan::notify_end(state).is_none()
    {
        return Ok(Vec::new());
    }
    let store = match ctx.store(crate::definition::Durability::Normal) {
        Ok(store) => store,
        Err(e) => return Ok(not_delivered(&e.message)),
    };
    let owed = match notified(&*store, &state.run_id) {
        Ok(already) => due(state, &already),
        Err(e) => return Ok(not_delivered(&e)),
    };
    if owed.is_empty() {
        return Ok(Vec::new());
    }
    Ok(judge(state, redactor, &crate::plan::due_refs(&owed))?.deliver_on(ctx, store, orphans))
}

/// What this process says of run `state`'s notifications it leaves due for want of
/// `lacking` (`Lacking::note`): what it is, as the front end that asked knows it, and the
/// `resume RUN --notify-only` that delivers them.
fn left_due(ctx: &Ctx, state: &RunState, lacking: &Lacking) -> String {
    let group = state.start.as_ref().map_or("workflow", |s| s.kind.group());
    // Unquoted: `note` quotes it with what it must be given (`ctx.cmd` quotes it too, and
    // the warning showed it in doubled backticks).
    let mut argv = vec!["cortex".to_string()];
    argv.extend(ctx.globals());
    argv.extend([group, "resume", &state.run_id, "--notify-only"].map(String::from));
    let resume = crate::render::command_line(&argv);
    lacking.note(&state.run_id, who(ctx), &resume)
}

/// What this process is, as the front end that asked knows it ("process", "worker", …).
fn who(ctx: &Ctx) -> &'static str {
    match (&ctx.dispatch.shared, ctx.surface) {
        (Some(_), _) => "worker",
        (None, super::Surface::Api) => "server",
        (None, super::Surface::Mcp) => "MCP server",
        (None, super::Surface::Cli) => "process",
    }
}

/// A run's notifications as every document of it shows them: `status`'s, and the answer of
/// the driver that left the run at its end (`workflow run`, `orchestrate run`, `resume`) — one
/// projection, so the two never disagree. Before, the driver's document had neither
/// `notifications_pending` nor the `resume --notify-only` that `status` put first a moment
/// later (SPEC §7: the document carries the same suggestions).
pub struct Shown {
    /// `notifications` (recorded) and `notifications_pending` (still due) in `json`, a line
    /// each in `human`.
    pub output: super::Output,
    /// When nobody drives the run and some are still due: the resume that delivers them.
    pub deliver: Option<crate::project::Suggestion>,
}

/// The notifications of the run in `state` (`Shown`): `alive`, whether a driver holds it (then
/// those due are being delivered, and nothing is suggested); `redactor`, the secret inputs
/// this process was given, by which it judges whether it could deliver them itself: the
/// suggestion says why they are still due as far as this process can tell — what it lacks,
/// or that the process that left the run at its end did not deliver them.
pub fn shown(
    ctx: &Ctx,
    store: &dyn EventStore,
    state: &RunState,
    alive: bool,
    redactor: &Redactor,
) -> Result<Shown, super::CommandError> {
    let mut output = super::Output::new(serde_json::json!({}), String::new(), super::exit::OK);
    let group = state.start.as_ref().map_or("workflow", |s| s.kind.group());
    // The resume that delivers them and does nothing else: a plain one of a finished run;
    // of a run paused on a failure, `--notify-only` (a plain resume would run the failed
    // unit again).
    let mut delivering: Vec<String> = vec![group.into(), "resume".into(), state.run_id.clone()];
    if state.outcome().is_none() {
        delivering.push("--notify-only".into());
    }
    // The secret inputs they read and this process lacks: the resume is given them, a
    // placeholder each (its `fill`), as the note of the process that left them due says.
    // Before, the suggestion was the bare resume, refused (exit 2) for want of them.
    let lacking = match alive {
        true => None,
        false => pending(store, state)
            .ok()
            .and_then(|pending| deliverable(state, redactor, &pending).err()),
    };
    let inputs = lacking.as_ref().map_or(Vec::new(), |l| l.inputs.clone());
    for name in &inputs {
        delivering.extend(crate::render::pair_args("--input", name, "VALUE"));
    }
    let resume_with = (!alive).then(|| {
        let words: Vec<&str> = delivering.iter().map(String::as_str).collect();
        ctx.cmd(&words)
    });
    let delivers = resume_with.is_some();
    // Which of them the dead driver was delivering when it died (a command noted and not
    // seen to end), and whether that command still runs.
    let cut_short = match delivers {
        true => crate::execute::notify_cut_short_of(&ctx.home, &state.run_id),
        false => Vec::new(),
    };
    add_deliveries(
        store,
        &state.run_id,
        Some(StillDue {
            state,
            resume_with,
            cut_short: &cut_short,
        }),
        &mut output,
    )?;
    let due = output
        .json
        .get("notifications_pending")
        .and_then(|p| p.as_array())
        .map_or(0, Vec::len);
    if !delivers || due == 0 {
        return Ok(Shown {
            output,
            deliver: None,
        });
    }
    let them = if due == 1 {
        "the notification still due"
    } else {
        "the notifications still due"
    };
    let only = if state.outcome().is_none() {
        ", and nothing else"
    } else {
        ""
    };
    let (it, they) = if due == 1 {
        ("it", "it")
    } else {
        ("them", "they")
    };
    let why = match lacking {
        Some(lacking) => format!(
            "deliver {them}{only}, with what {they} read set: {} {}",
            if due == 1 { "it would" } else { "they" },
            lacking.lacks(who(ctx))
        ),
        None => format!(
            "deliver {them}{only} (the process that left the run there did not deliver {it}: it lacked what {they} read, or ended first)"
        ),
    };
    let mut argv = vec!["cortex".to_string()];
    argv.extend(ctx.globals());
    argv.extend(delivering);
    let fill = inputs
        .iter()
        .map(|name| crate::project::Fill::new("--input", name))
        .collect();
    let why = match inputs.is_empty() {
        true => why,
        false => format!("{why} ({})", crate::project::secret_inputs_note(&inputs)),
    };
    Ok(Shown {
        output,
        deliver: Some(crate::project::Suggestion { argv, why, fill }),
    })
}

impl Shown {
    /// The resume that delivers them among `next`: first, or said of the same command
    /// already suggested (a plain resume of a finished run).
    pub fn suggest(
        deliver: Option<crate::project::Suggestion>,
        next: &mut Vec<crate::project::Suggestion>,
    ) {
        let Some(deliver) = deliver else {
            return;
        };
        match next.iter_mut().find(|s| s.argv == deliver.argv) {
            Some(same) => {
                same.why = format!(
                    "{}; it also {}",
                    same.why,
                    deliver.why.replacen("deliver ", "delivers ", 1)
                )
            }
            None => next.insert(0, deliver),
        }
    }

    /// `notifications` and `notifications_pending`, moved into the document `json`.
    pub fn into_doc(mut self, json: &mut serde_json::Value) {
        for key in ["notifications", "notifications_pending"] {
            if let (Some(map), Some(docs)) = (json.as_object_mut(), self.output.json.get_mut(key)) {
                map.insert(key.into(), docs.take());
            }
        }
    }
}

/// Deliver the notifications of the run in `state` due now, through `store`, under the
/// notification lease (`first`, once it is held: what to do before, its warnings said
/// first). Reached only through a `Deliverable`: this process has all they read.
fn deliver_held(
    ctx: &Ctx,
    mut store: Box<dyn EventStore>,
    state: &RunState,
    redactor: &Redactor,
    first: &mut dyn FnMut() -> Vec<String>,
) -> Vec<String> {
    if crate::plan::ends_of(state).is_empty() {
        return Vec::new();
    }
    // Held while they are delivered: a worker (on any host) delivers what is still due only
    // once no process holds it (nor the run's driver lease), so a live deliverer's are not
    // sent twice; one that dies lets it lapse (`cortex worker` delivers them then).
    let hold = match hold_notify_lease(ctx, &mut *store, &state.run_id) {
        Ok(hold) => hold,
        Err(elsewhere) => {
            return vec![format!(
                "the notifications of run {} are being delivered by {} on {}: left to it",
                state.run_id, elsewhere.holder, elsewhere.host
            )];
        }
    };
    let mut warnings = first();
    match &ctx.deliveries {
        Deliveries::Background(background) => warnings.extend(hand_over(
            ctx,
            background,
            state,
            redactor,
            &mut *store,
            hold,
        )),
        _ => {
            warnings.extend(wait_for(ctx, state, redactor, &mut *store));
            hold.release(&mut *store);
        }
    }
    warnings
}

/// The lease (`store::NOTIFY_UNIT`) a process holds on a run while it delivers the run's
/// notifications, renewed by a worker's keeper or one of its own; none on a log without
/// leases (or one that could not be claimed for a fault of the log: delivered anyway, as
/// before, at least once).
pub struct NotifyHold {
    held: Option<(crate::store::Lease, Keeper)>,
}

enum Keeper {
    Seat(Arc<crate::execute::Shared>),
    Own(crate::execute::LeaseKeeper),
}

impl NotifyHold {
    /// Let it go: the notifications are delivered and recorded (or given up).
    pub fn release(self, store: &mut dyn EventStore) {
        if let Some((lease, keeper)) = self.held {
            match &keeper {
                Keeper::Seat(seat) => seat.keeper.forget(&lease),
                Keeper::Own(keeper) => keeper.forget(&lease),
            }
            let _ = store.release_lease(&lease);
        }
    }
}

/// Claim the notification lease of `run_id` for this process (a worker's seat, or this
/// process): the live lease of another process if one holds it. A lease left by a process of
/// this host that is gone is let go first. Without a seat, each claim is a holder of its own
/// (`notifier N pid PID`): two deliverers in one process (`cortex serve`'s actions and its
/// sweep for notifications still due, `ops::notify_sweep`) exclude each other as two
/// processes do. Before, both claimed as `notifier pid PID`, and the second, refused a lease
/// its own holder held, delivered without one.
fn hold_notify_lease(
    ctx: &Ctx,
    store: &mut dyn EventStore,
    run_id: &str,
) -> Result<NotifyHold, crate::store::Lease> {
    use crate::store::{LeaseClaim, NOTIFY_UNIT};
    let claim = match &ctx.dispatch.shared {
        Some(seat) => seat.claim(run_id, NOTIFY_UNIT, 0),
        None => LeaseClaim {
            run_id: run_id.to_string(),
            unit: NOTIFY_UNIT.to_string(),
            attempt: 0,
            holder: {
                static CLAIMS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
                let n = CLAIMS.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                format!("notifier {n} pid {}", std::process::id())
            },
            host: crate::execute::hostname(),
            ttl_ms: super::drive::DRIVER_LEASE_MS,
        },
    };
    let none = NotifyHold { held: None };
    let mut tries = 0;
    let lease = loop {
        tries += 1;
        match store.claim_lease(&claim) {
            Ok(Some(lease)) => break lease,
            Ok(None) => {
                let other = store.leases(Some(run_id)).ok().and_then(|ls| {
                    ls.into_iter()
                        .find(|l| l.unit == NOTIFY_UNIT && l.holder != claim.holder)
                });
                match other {
                    Some(l) if crate::execute::holder_gone(&l) && tries < 3 => {
                        let _ = store.release_lease(&l);
                    }
                    Some(l) if !l.lapsed() && !crate::execute::holder_gone(&l) => return Err(l),
                    // Let go meanwhile (or lapsed as it was read): claimed again.
                    _ if tries < 3 => {}
                    _ => return Ok(none),
                }
            }
            Err(_) => return Ok(none),
        }
    };
    let keeper = match &ctx.dispatch.shared {
        Some(seat) => {
            seat.keeper.keep(lease.clone());
            Keeper::Seat(seat.clone())
        }
        None => {
            // No thread to renew it (`ulimit -u`): let go, and delivered without one, as
            // when the log cannot lease.
            let Ok(keeper) = super::drive::lease_keeper(ctx, claim.ttl_ms) else {
                let _ = store.release_lease(&lease);
                return Ok(none);
            };
            keeper.keep(lease.clone());
            Keeper::Own(keeper)
        }
    };
    Ok(NotifyHold {
        held: Some((lease, keeper)),
    })
}

fn not_delivered(e: &str) -> Vec<String> {
    vec![format!("the notifications were not delivered: {e}")]
}

/// The notifications of the run's `notify:` that are due, `already` done (recorded, or in
/// flight): each until its own delivery is recorded for its end, grouped by end.
fn due(state: &RunState, already: &[Notified]) -> Vec<DueAt> {
    let Some(notify) = state.workflow.as_ref().map(|w| &w.notify) else {
        return Vec::new();
    };
    crate::plan::notifications_due(
        &crate::plan::ends_of(state),
        state.session_seq,
        notify.on_failure.len(),
        notify.on_finish.len(),
        already,
    )
}

/// The run in `state` as of end `end` of its session (`status --at SEQ`): what a notification
/// due for that end is given, whenever it is delivered. The state itself when that end is its
/// last event.
fn as_of(store: &dyn EventStore, state: &RunState, end: End) -> Result<RunState, String> {
    if end.seq.saturating_add(1) >= state.events {
        return Ok(state.clone());
    }
    let (mut then, ..) = crate::execute::load_state_upto_checked(store, &state.run_id, end.seq)
        .map_err(|e| e.to_string())?;
    then.run_id.clone_from(&state.run_id);
    Ok(then)
}

/// The end a delivery for `end` is recorded with.
fn ended(state: &RunState, end: End) -> Ended<'static> {
    Ended {
        status: end.status,
        session: state.session_seq,
    }
}

/// Hand what is due to the process's background deliverer, which records each delivery as it
/// lands; nothing is waited for. What it refuses (too many waiting, or stopping) is recorded
/// as not delivered at once.
fn hand_over(
    ctx: &Ctx,
    background: &Arc<super::background::Background>,
    state: &RunState,
    redactor: &Redactor,
    store: &mut dyn EventStore,
    hold: NotifyHold,
) -> Vec<String> {
    let Some(notify) = state.workflow.as_ref().map(|w| &w.notify) else {
        hold.release(store);
        return Vec::new();
    };
    let mut failure = None;
    // Handed to the work with what it delivers, and let go once it is done; let go here if
    // nothing is queued.
    let mut hold = Some(hold);
    let enqueued = background.enqueue(&state.run_id, |in_flight| {
        let mut already = match notified(store, &state.run_id) {
            Ok(n) => n,
            Err(e) => {
                failure = Some(e);
                return None;
            }
        };
        already.extend_from_slice(in_flight);
        // Each end's with the run as of that end; one whose document cannot be read now is
        // left due.
        let groups: Vec<(Ended<'static>, Vec<NotificationRef>, Subject)> = due(state, &already)
            .into_iter()
            .filter_map(|group| {
                let then = match as_of(store, state, group.end) {
                    Ok(then) => then,
                    Err(e) => {
                        failure = Some(e);
                        return None;
                    }
                };
                let subject = subject(ctx, &then, redactor);
                Some((ended(state, group.end), group.due, subject))
            })
            .collect();
        if groups.is_empty() {
            return None;
        }
        let claims: Vec<Notified> = groups
            .iter()
            .flat_map(|(ended, due, _)| claims(due, *ended))
            .collect();
        let (ctx, notify) = (ctx.clone(), notify.clone());
        let (run_id, redactor) = (state.run_id.clone(), redactor.clone());
        let hold = hold.take();
        let work: super::background::Work = Box::new(move |stop| {
            // No one waits for these: each is recorded as it lands, and what it came to is
            // in the run's status from then on. The ends in order, oldest first.
            let mut store = ctx.store(crate::definition::Durability::Normal).ok();
            let mut ids = UlidIds::default();
            for (ended, due, subject) in groups {
                deliver(
                    &notify,
                    &due,
                    subject,
                    &redactor,
                    Arc::new(SystemClock),
                    stop,
                    &mut |d| {
                        if let Some(store) = store.as_mut() {
                            let _ = record_deliveries(
                                &mut **store,
                                &mut ids,
                                &run_id,
                                ended,
                                std::slice::from_ref(d),
                            );
                        }
                    },
                    &mut || {},
                );
            }
            if let (Some(hold), Some(store)) = (hold, store.as_mut()) {
                hold.release(&mut **store);
            }
        });
        Some((claims, work))
    });
    if let Some(hold) = hold {
        hold.release(store);
    }
    match enqueued {
        Enqueued::Nothing => failure.map(|e| not_delivered(&e)).unwrap_or_default(),
        Enqueued::Queued => Vec::new(),
        Enqueued::Refused(claimed, why) => {
            let mut warnings = Vec::new();
            let mut ids = UlidIds::default();
            // Each recorded for the end it was claimed for.
            for claim in &claimed {
                let (Some(index), Some(status)) = (claim.index, claim.status.as_deref()) else {
                    continue;
                };
                let deliveries = not_made(
                    notify,
                    &[(claim.trigger, index)],
                    redactor,
                    &SystemClock,
                    &format!("not delivered: {why}"),
                );
                warnings.extend(warnings_of(&deliveries));
                let ended = Ended {
                    status,
                    session: claim.session.unwrap_or(state.session_seq),
                };
                if let Err(e) =
                    record_deliveries(store, &mut ids, &state.run_id, ended, &deliveries)
                {
                    warnings.push(format!("that was not recorded: {e}"));
                }
            }
            warnings
        }
    }
}

/// Deliver what is due before returning, each recorded as it lands (a process ended meanwhile
/// by SIGKILL loses only the others), saying so first on `Ctx::announce`; with
/// `WaitUnlessInterrupted`, a Ctrl-C ends the wait — but not the SIGTERM an operator's abort
/// sends the run's driver (`operator_signalled`): the deliveries are the failure's, owed
/// whatever comes next, and the driver carries the request out once they are done. Before,
/// that SIGTERM cut them: recorded "not delivered … 0 tries" (a POST under way had landed),
/// given up, and the failure's `on_finish` never sent; a notification command that aborted
/// its own run was ended before the abort was recorded.
fn wait_for(
    ctx: &Ctx,
    state: &RunState,
    redactor: &Redactor,
    store: &mut dyn EventStore,
) -> Vec<String> {
    let Some(notify) = state.workflow.as_ref().map(|w| &w.notify) else {
        return Vec::new();
    };
    let already = match notified(store, &state.run_id) {
        Ok(n) => n,
        Err(e) => return not_delivered(&e),
    };
    let due = due(state, &already);
    if due.is_empty() {
        return Vec::new();
    }
    let count = crate::plan::due_refs(&due).len();
    // Listening for Ctrl-C before saying it waits, so that no Ctrl-C after the line is missed.
    let signals = match ctx.deliveries {
        Deliveries::WaitUnlessInterrupted => StopFlag::from_now_on(),
        _ => StopFlag::default(),
    };
    // What ends the wait: a signal judged not an operator's request. One judged so is
    // lowered, so that each later signal is judged anew: before, the first was judged alone,
    // and after the abort's SIGTERM a Ctrl-C was ignored for the rest of this wait and the
    // whole of the next (the abort's own `on_finish`, `drive::carry_out_request`).
    let stop = StopFlag::default();
    let store = std::cell::RefCell::new(store);
    let mut watch = || {
        if stop.is_set() {
            return;
        }
        let Some(signal) = signals.signal() else {
            return;
        };
        if operator_signalled(ctx, &**store.borrow(), &state.run_id, signal) {
            signals.clear(signal);
        } else {
            stop.set(signal);
        }
    };
    if let Some(announce) = ctx.announce {
        announce(&format!(
            "delivering {}…",
            crate::render::count(count, "notification")
        ));
    }
    let mut ids = UlidIds::default();
    let mut unrecorded = None;
    let mut warnings = Vec::new();
    let mut deliveries: Vec<Delivery> = Vec::new();
    // The ends in order, oldest first, each with the run as of its event.
    for group in &due {
        let ended = ended(state, group.end);
        watch();
        let then = as_of(&**store.borrow(), state, group.end);
        let made = match (stop.signal_name(), then) {
            // Stopped before this end's turn: given up, as the wait's others are.
            (Some(signal), _) => {
                let given_up = not_made(
                    notify,
                    &group.due,
                    redactor,
                    &SystemClock,
                    &format!("not delivered: {signal} stopped the wait for it"),
                );
                if let Err(e) = record_deliveries(
                    &mut **store.borrow_mut(),
                    &mut ids,
                    &state.run_id,
                    ended,
                    &given_up,
                ) {
                    unrecorded = Some(e);
                }
                given_up
            }
            // Left due for a process that can read it.
            (None, Err(e)) => {
                warnings.extend(not_delivered(&e));
                continue;
            }
            (None, Ok(then)) => {
                let mut landed = |d: &Delivery| {
                    if let Err(e) = record_deliveries(
                        &mut **store.borrow_mut(),
                        &mut ids,
                        &state.run_id,
                        ended,
                        std::slice::from_ref(d),
                    ) {
                        unrecorded = Some(e);
                    }
                };
                deliver(
                    notify,
                    &group.due,
                    subject(ctx, &then, redactor),
                    redactor,
                    Arc::new(SystemClock),
                    &stop,
                    &mut landed,
                    &mut watch,
                )
            }
        };
        deliveries.extend(made);
    }
    warnings.splice(0..0, warnings_of(&deliveries));
    if let Some(signal) = stop.signal_name() {
        let left = deliveries.iter().filter(|d| !d.ok).count();
        let group = state
            .start
            .as_ref()
            .map(|s| s.kind)
            .map_or("workflow", crate::event::RunKind::group);
        warnings.push(format!(
            "{signal}: stopped waiting for the notifications; {left} of {count} not delivered, recorded so ({} shows them)",
            ctx.cmd(&[group, "status", &state.run_id])
        ));
    }
    if let Some(e) = unrecorded {
        warnings.push(format!("the notifications were sent but not recorded: {e}"));
    }
    warnings
}

/// Whether the stop signal `signal` is an operator's request that run `run_id`'s log records
/// (pending, or the abort carried out since) and that was sent to this process: the SIGTERM
/// `workflow abort` sends the run's driver after recording its request
/// (`execute::operator::abort`), so only while this process holds the run's lock. It asks
/// the driver to end the run, which a wait for the failure's notifications does not stand in
/// the way of: they go on, and the driver records the abort after them
/// (`drive::carry_out_request`). A Ctrl-C, a SIGTERM with no abort in the log, or one to a
/// process that does not drive the run (an abort delivering its `on_finish` under
/// `timeout`) ends the wait. (`workflow stop` sends no signal: a pending stop excuses none.)
fn operator_signalled(ctx: &Ctx, store: &dyn EventStore, run_id: &str, signal: i32) -> bool {
    signal == nix::sys::signal::Signal::SIGTERM as i32
        && crate::execute::DriverLock::probe(&ctx.home, run_id).is_some_and(|holder| {
            holder.pid == std::process::id() && holder.host == crate::execute::hostname()
        })
        // Carried out already (the abort's own `on_finish` is delivered after it), or pending.
        && crate::execute::load_state(store, run_id).is_ok_and(|now| now.abort_requested.is_some())
}

/// What the notifications `due` claim for the end `ended`, as `plan::notifications_due` reads
/// records: each its own.
fn claims(due: &[NotificationRef], ended: Ended<'_>) -> Vec<Notified> {
    due.iter()
        .map(|&(trigger, index)| Notified {
            trigger,
            status: Some(ended.status.to_string()),
            session: Some(ended.session),
            index: Some(index),
        })
        .collect()
}

/// What a notification is given about the run: its status document, where it ran, its inputs.
fn subject(ctx: &Ctx, state: &RunState, redactor: &Redactor) -> Subject {
    let view = ctx.view(state, false);
    let cwd = state
        .start
        .as_ref()
        .map_or_else(|| ctx.cwd.clone(), |s| s.working_dir.clone().into());
    // The inputs as the run has them; a secret one as this process was given it.
    let inputs: BTreeMap<String, String> = state
        .start
        .iter()
        .flat_map(|s| {
            s.inputs.iter().filter_map(|(name, value)| {
                if s.secret_inputs.contains(name) {
                    redactor.input(name).map(|v| (name.clone(), v.to_string()))
                } else {
                    Some((name.clone(), input_text(value)))
                }
            })
        })
        .collect();
    Subject {
        run_id: state.run_id.clone(),
        name: view.name.clone(),
        status: run_status(state, false).as_str().to_string(),
        document: view.to_json(),
        cwd,
        home: ctx.home.clone(),
        inputs,
        notes: crate::execute::inflight_notes(&ctx.home, &state.run_id).ok(),
    }
}

/// A warning for each delivery that did not work.
fn warnings_of(deliveries: &[Delivery]) -> Vec<String> {
    deliveries
        .iter()
        .filter(|d| !d.ok)
        .map(|d| match d.attempts {
            0 => format!(
                "{} notification `{}` {}",
                d.trigger.as_str(),
                d.notification,
                d.detail
            ),
            n => format!(
                "{} notification `{}` failed after {n} tr{}: {}",
                d.trigger.as_str(),
                d.notification,
                if n == 1 { "y" } else { "ies" },
                d.detail
            ),
        })
        .collect()
}

/// What `add_deliveries` is given to say what of a run's `notify:` is still due.
pub struct StillDue<'a> {
    pub state: &'a RunState,
    /// The command that delivers them, when nobody drives the run.
    pub resume_with: Option<String>,
    /// The notification commands its dead driver was running when it died (by key), and
    /// whether each still runs (`execute::notify_cut_short_of`).
    pub cut_short: &'a [(String, bool)],
}

/// Add a run's recorded deliveries to its status: `notifications` in the document, a line each
/// for people. Given the run's state, the notifications still due (`pending`) too: a line
/// each, and `notifications_pending` in the document; `resume_with`, when nobody drives the
/// run, is the command that delivers them; `cut_short`, the notification commands its dead
/// driver was running when it died (`execute::notify_cut_short_of`: by key, and whether each
/// still runs), said of them: such a command may have done its work already, and is done again.
pub fn add_deliveries(
    store: &dyn crate::store::EventStore,
    run_id: &str,
    state: Option<StillDue<'_>>,
    output: &mut super::Output,
) -> Result<(), super::CommandError> {
    let mut docs = Vec::new();
    for d in recorded_deliveries(store, run_id)? {
        let when = d
            .status
            .as_deref()
            .map(|s| format!(" ({s})"))
            .unwrap_or_default();
        output.human.push_str(&format!(
            "{} {}{when}: {} ({}, {} tr{})\n",
            if d.ok { "📣" } else { "⚠️" },
            d.trigger,
            d.notification,
            d.detail,
            d.attempts,
            if d.attempts == 1 { "y" } else { "ies" }
        ));
        docs.push(serde_json::json!({
            "trigger": d.trigger, "notification": d.notification, "attempts": d.attempts,
            "ok": d.ok, "detail": d.detail, "time": d.time, "status": d.status,
        }));
    }
    if !docs.is_empty()
        && let Some(map) = output.json.as_object_mut()
    {
        map.insert("notifications".into(), serde_json::Value::Array(docs));
    }
    let Some(StillDue {
        state,
        resume_with,
        cut_short,
    }) = state
    else {
        return Ok(());
    };
    let mut pending_docs = Vec::new();
    // A notification due for two ends was in flight for the older (delivered in order).
    let mut said_cut = std::collections::BTreeSet::new();
    for Pending { end, delivery: d } in pending(store, state).unwrap_or_default() {
        let ended = end.status;
        let key = crate::execute::notify_key(d.trigger, d.index);
        let running = cut_short
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, alive)| *alive)
            .filter(|_| said_cut.insert(key.clone()));
        let how = match (&resume_with, running) {
            (Some(cmd), Some(true)) => format!(
                "due, not recorded as delivered: its driver died while this command ran, and it still runs; {cmd} ends it, then delivers it again"
            ),
            (Some(cmd), Some(false)) => format!(
                "due, not recorded as delivered: its driver died while this command ran, which may have done its work before it ended; {cmd} delivers it again"
            ),
            (Some(cmd), None) => format!(
                "due, not delivered yet: {cmd} delivers it, as does any `cortex worker` on the log once no process holds the run"
            ),
            (None, _) => "due, being delivered".to_string(),
        };
        output.human.push_str(&format!(
            "⏳ {} ({ended}): {} ({how})\n",
            d.trigger.as_str(),
            d.notification,
        ));
        let mut doc = serde_json::json!({
            "trigger": d.trigger.as_str(), "notification": d.notification, "status": ended,
        });
        // Its delivery was under way when its driver died: it may have been made already.
        if let (Some(still_running), Some(map)) = (running, doc.as_object_mut()) {
            map.insert("cut_short".into(), serde_json::json!(true));
            map.insert("still_running".into(), serde_json::json!(still_running));
        }
        pending_docs.push(doc);
    }
    if !pending_docs.is_empty()
        && let Some(map) = output.json.as_object_mut()
    {
        map.insert(
            "notifications_pending".into(),
            serde_json::Value::Array(pending_docs),
        );
    }
    Ok(())
}

/// The child runs (`uses:`) below `state`, as their logs say now, nearest first: each one's
/// `notify:` is its own, delivered when it ends as any run's.
fn descendants(store: &dyn EventStore, state: &RunState) -> Vec<RunState> {
    let mut found: Vec<RunState> = Vec::new();
    let mut todo: Vec<String> = state
        .steps
        .iter()
        .filter_map(|s| s.child.as_ref().map(|c| c.run_id.clone()))
        .collect();
    // At most as many runs as a tree of 16 levels can reach in one drive; a log that links
    // in a loop (it cannot, validation refuses cycles) would still end.
    while let Some(run_id) = todo.pop() {
        if found.len() >= 1024 || found.iter().any(|f| f.run_id == run_id) {
            continue;
        }
        let Ok(mut child) = crate::execute::fold_log(store, &run_id, 0, RunState::default()) else {
            continue;
        };
        child.run_id = run_id;
        todo.extend(
            child
                .steps
                .iter()
                .filter_map(|s| s.child.as_ref().map(|c| c.run_id.clone())),
        );
        found.push(child);
    }
    found
}

/// Deliver what is due of the `notify:` of the child runs below `state` (ended, or paused on
/// a failure, during the operation that drove or ended `state`): each child's notifications
/// are its own, delivered and recorded as any run's (`after_change`), once per end.
pub fn after_change_below(ctx: &Ctx, state: &RunState) -> Vec<String> {
    match notified_below(ctx, state) {
        Ok(children) => children
            .iter()
            .flat_map(|c| after_change(ctx, c, &Redactor::of_run(c)))
            .collect(),
        Err(e) => not_delivered(&e),
    }
}

/// The child runs below `state` (`descendants`) that have a `notify:`.
fn notified_below(ctx: &Ctx, state: &RunState) -> Result<Vec<RunState>, String> {
    if !state.steps.iter().any(|s| s.child.is_some()) {
        return Ok(Vec::new());
    }
    let store = ctx
        .store(crate::definition::Durability::Normal)
        .map_err(|e| e.message)?;
    let mut children = descendants(&*store, state);
    children.retain(|c| c.workflow.as_ref().is_some_and(|w| !w.notify.is_empty()));
    Ok(children)
}

/// Deliver what an abort of the run in `state` left due of its `notify:` and of the child
/// runs below it (aborted with it), each from this process, which is not their driver
/// (`deliver_still_due`): a run whose notifications read what this process lacks keeps them
/// due, said once (`left_due`, with the `resume --notify-only` that delivers them).
pub fn after_abort(ctx: &Ctx, state: &RunState) -> Vec<String> {
    let children = notified_below(ctx, state);
    let mut warnings = Vec::new();
    for run in std::iter::once(state).chain(children.iter().flatten()) {
        match deliver_still_due(ctx, run) {
            Ok(said) => warnings.extend(said),
            Err(lacking) => warnings.push(left_due(ctx, run, &lacking)),
        }
    }
    if let Err(e) = children {
        warnings.extend(not_delivered(&e));
    }
    warnings
}

/// An observer that delivers a child run's `notify:` as soon as the child ends (or pauses on
/// a failure) while its parent's driver drives it, before the parent goes on.
pub struct ChildNotices<'a> {
    pub inner: &'a mut dyn crate::execute::Observer,
    pub ctx: &'a Ctx,
    /// Failed deliveries, as `after_change` returns them.
    pub warnings: Vec<String>,
}

impl crate::execute::Observer for ChildNotices<'_> {
    fn begin(&mut self, state: &RunState, resumed: bool) {
        self.inner.begin(state, resumed);
    }

    fn note(&mut self, text: &str) {
        self.inner.note(text);
    }

    fn recorded(&mut self, state: &RunState, events: &[crate::event::Recorded]) {
        self.inner.recorded(state, events);
    }

    fn line(&mut self, step: &str, stream: crate::execute::Stream, line: &str) {
        self.inner.line(step, stream, line);
    }

    fn warn(&mut self, message: &str) {
        self.inner.warn(message);
    }

    fn missing_secrets(&mut self, missing: &[String]) {
        self.inner.missing_secrets(missing);
    }

    fn child_begin(&mut self, step: &str, state: &RunState, resumed: bool) {
        self.inner.child_begin(step, state, resumed);
    }

    fn child(&mut self, step: &str, state: &RunState, events: &[crate::event::Recorded]) {
        self.inner.child(step, state, events);
        let ended = events
            .iter()
            .any(|r| matches!(r.event, Event::RunPaused { .. } | Event::RunFinished { .. }));
        if ended
            && state
                .workflow
                .as_ref()
                .is_some_and(|w| !w.notify.is_empty())
        {
            let warnings = after_change(self.ctx, state, &Redactor::of_run(state));
            self.warnings.extend(warnings);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Lacking;

    fn names(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| n.to_string()).collect()
    }

    /// The note of a process that leaves a run's notifications due names what it lacks and
    /// the command that delivers them given it, whole, inside one pair of backticks: the
    /// secret inputs as that command takes them, the variables as set beside it.
    #[test]
    fn a_note_names_what_is_lacking_and_the_whole_command_that_delivers_given_it() {
        let resume = "cortex workflow resume R --notify-only";
        let env = Lacking {
            inputs: Vec::new(),
            env: names(&["HOOK_URL"]),
        };
        assert_eq!(
            env.note("R", "process", resume),
            "Run R: its notifications still due send webhooks made of variable `HOOK_URL`, not set in this process's environment: left to a `cortex worker` or `cortex serve` started with it, or `cortex workflow resume R --notify-only` run with it set."
        );
        let inputs = Lacking {
            inputs: names(&["hook", "token"]),
            env: Vec::new(),
        };
        assert_eq!(
            inputs.note("R", "server", resume),
            "Run R: its notifications still due read secret inputs `hook`, `token`, not in this server's environment (CORTEX_INPUT_HOOK, CORTEX_INPUT_TOKEN): left to a `cortex worker` or `cortex serve` given them, or `cortex workflow resume R --notify-only --input hook=VALUE --input token=VALUE`."
        );
        let both = Lacking {
            inputs: names(&["hook"]),
            env: names(&["A", "B"]),
        };
        assert_eq!(
            both.note("R", "worker", resume),
            "Run R: its notifications still due send webhooks made of variables `A`, `B`, not set in this worker's environment, and read secret input `hook`, not in it either (CORTEX_INPUT_HOOK): left to a `cortex worker` or `cortex serve` given them, or `cortex workflow resume R --notify-only --input hook=VALUE` run with `A`, `B` set."
        );
    }
}
