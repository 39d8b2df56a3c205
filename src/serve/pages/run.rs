//! One run's page: its status document (the one `status --json` prints) with the verdict of
//! `log verify` on its chain, its DAG, a timeline of attempts, every step or phase with its
//! criteria, agents, outputs and output tails, the event log with hashes, and the actions
//! its state allows (the status document's own suggestions); live through the run's event
//! stream.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::SystemTime;

use axum::Extension;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{Markup, html};

use super::{
    badge, duration, failure, layout, page, run_href, sign_in, token_field, urlencode, when,
};
use crate::decide::{RunState, StepStatus, replay};
use crate::event::{Event, Recorded, RunKind};
use crate::project::{StatusView, StepGroup, StepView};
use crate::render::{command_line, render_event_line};
use crate::serve::actions::find;
use crate::serve::auth::Viewer;
use crate::serve::error::Failure;
use crate::serve::graph::{Node, layered_svg};
use crate::serve::server::{Shared, blocking};
use crate::store::EventStore;

/// Events shown unless all are asked for (the newest ones).
const SHOWN_EVENTS: usize = 1000;
/// Attempts drawn on the timeline (the newest ones).
const SHOWN_ATTEMPTS: usize = 200;
/// Items of a `foreach:` step listed on its card (the first ones).
const SHOWN_ITEMS: usize = 1000;
/// Items of a `foreach:` step drawn as cards of their own under its list (those running,
/// waiting, failed or stopped: what can be acted on or read), the first ones.
const ITEM_CARDS: usize = 50;

/// What the run's page shows.
pub struct RunData {
    pub view: StatusView,
    pub state: RunState,
    pub events: Vec<Recorded>,
    /// The first stored event that does not decode (its seq, and why): `events` stop before it.
    pub unreadable: Option<(u64, String)>,
    /// `log verify RUN --json`.
    pub verify: serde_json::Value,
    pub alive: bool,
    /// The deliveries of its `notify:` (`status` lists them as `notifications`).
    pub notifications: Vec<crate::ops::notify::RecordedDelivery>,
    /// The unfinished child runs its `uses:` steps in flight wait with (and the runs down their
    /// chains that wait for a report), each with its last event's seq: the page follows their
    /// event streams too, since what it shows of them moves with their events, not this run's.
    pub watch: Vec<(String, u64)>,
    /// `?at=SEQ`: the state as of that event (`status --at`), shown read-only.
    pub as_of: Option<u64>,
    /// A workflow run this server's own background driver drives now: its page offers Stop
    /// (`actions::stop`), which asks that driver to stop.
    pub driven_here: bool,
}

/// At most this many child runs are followed by one page.
const WATCHED_CHILDREN: usize = 20;

/// The unfinished runs `view`'s `uses:` steps in flight wait with, and their last seqs.
fn children_to_watch(view: &StatusView, store: &dyn EventStore) -> Vec<(String, u64)> {
    let mut watch: Vec<(String, u64)> = Vec::new();
    let in_flight = view
        .steps
        .iter()
        .filter(|s| matches!(s.status, StepStatus::Running | StepStatus::Waiting));
    for uses in in_flight.filter_map(|s| s.uses.as_ref()) {
        let deeper = uses.waits_on.as_ref().map(|w| &w.run_id);
        for id in uses.run_id.iter().chain(deeper) {
            if watch.len() >= WATCHED_CHILDREN || watch.iter().any(|(w, _)| w == id) {
                continue;
            }
            let found = crate::store::run_entry(store, id).ok().flatten();
            if let Some(entry) = found.filter(|e| e.outcome.is_none()) {
                watch.push((entry.run_id, entry.events.saturating_sub(1)));
            }
        }
    }
    watch
}

/// Read a run once: its events, the state they fold to, its status document, its verdict.
pub fn load(shared: &Shared, id: &str, at: Option<u64>) -> Result<RunData, Failure> {
    let (run_id, kind) = find(shared, id)?;
    let ctx = &shared.ctx;
    let store = ctx
        .reading_store()?
        .ok_or_else(|| Failure::not_found(crate::ops::no_runs()))?;
    // Read, then probe; a driver that ended in between appended its last events first: read
    // again until the log stands still beside no driver (as `execute::load_live`).
    // The leases before the log, as `status` reads them: which claimed units are orphaned.
    let leases = store.leases(Some(&run_id)).ok();
    // An event that no longer decodes (the log was changed): the run is shown as far as it
    // reads, under the chain's `✗ not verified` — before, the whole page was an error.
    let (mut events, unreadable) = match store.read_run(&run_id) {
        Ok(events) => (events, None),
        Err(
            crate::store::StoreError::Corrupt { .. } | crate::store::StoreError::NewerEvent { .. },
        ) => crate::store::read_run_readable(&*store, &run_id)
            .map_err(crate::ops::CommandError::from)?,
        Err(e) => return Err(crate::ops::CommandError::from(e).into()),
    };
    if let Some(at) = at {
        // The past, as `status --at` reads it: the events up to SEQ, no driver, no leases.
        let total = events.last().map_or(0, |e| e.seq + 1);
        if at >= total {
            return Err(Failure::bad_request(
                format!(
                    "run {run_id} has {total} events (seq 0 to {}); event {at} is past its end",
                    total.saturating_sub(1)
                ),
                format!(
                    "`at` names an event of the run: /runs/{run_id} shows its event log, and the run as it stands without `at`"
                ),
            ));
        }
        events.retain(|e| e.seq <= at);
        let mut state = replay(&events);
        state.run_id = run_id.clone();
        let view = ctx.view(&state, false);
        let verify = crate::ops::log::verify(ctx, Some(&run_id), None, None)?.json;
        return Ok(RunData {
            view,
            state,
            events,
            unreadable,
            verify,
            alive: false,
            notifications: Vec::new(),
            watch: Vec::new(),
            as_of: Some(at),
            driven_here: false,
        });
    }
    let alive = loop {
        if crate::execute::driver_alive(&ctx.home, &store, &run_id) {
            break true;
        }
        if unreadable.is_some() {
            break false;
        }
        let more = store
            .read_run_from(&run_id, events.len() as u64)
            .map_err(crate::ops::CommandError::from)?;
        if more.is_empty() {
            break false;
        }
        events.extend(more);
    };
    let mut state = replay(&events);
    state.run_id = run_id.clone();
    // With what its waiting `uses:` steps wait on down their child runs, as `status` says.
    let view = ctx.view_with_children(&state, alive, &*store);
    let view = match &leases {
        Some(leases) => crate::execute::with_run_leases(view, leases),
        None => view,
    };
    let notifications = crate::ops::notify::recorded_deliveries(&*store, &run_id)
        .map_err(crate::ops::CommandError::from)?;
    let verify = crate::ops::log::verify(ctx, Some(&run_id), None, None)?.json;
    let watch = children_to_watch(&view, &*store);
    Ok(RunData {
        view,
        state,
        events,
        unreadable,
        verify,
        alive,
        notifications,
        watch,
        as_of: None,
        driven_here: alive
            && kind == RunKind::Workflow
            && crate::serve::actions::own_driver_holding(shared, &run_id).is_some(),
    })
}

/// One attempt on the timeline.
struct Attempt {
    step: String,
    attempt: u32,
    start: SystemTime,
    end: Option<SystemTime>,
    result: &'static str,
}

fn time(t: &str) -> Option<SystemTime> {
    humantime::parse_rfc3339(t).ok()
}

/// Every attempt of the run, from its events, in the order they started.
fn attempts(events: &[Recorded]) -> Vec<Attempt> {
    let mut out: Vec<Attempt> = Vec::new();
    let mut open: BTreeMap<(String, u32), usize> = BTreeMap::new();
    for e in events {
        let Some(t) = time(&e.time) else { continue };
        let mut end = |step: &str, attempt: u32, result: &'static str| {
            if let Some(&i) = open.get(&(step.to_string(), attempt)) {
                out[i].end = Some(t);
                out[i].result = result;
                open.remove(&(step.to_string(), attempt));
            }
        };
        match &e.event {
            Event::StepStarted { step, attempt } => {
                open.insert((step.clone(), *attempt), out.len());
                out.push(Attempt {
                    step: step.clone(),
                    attempt: *attempt,
                    start: t,
                    end: None,
                    result: "running",
                });
            }
            Event::StepWaiting { step, attempt } => match open.get(&(step.clone(), *attempt)) {
                Some(&i) => out[i].result = "waiting",
                // A phase that waits for a report from the start has no `step_started`.
                None => {
                    open.insert((step.clone(), *attempt), out.len());
                    out.push(Attempt {
                        step: step.clone(),
                        attempt: *attempt,
                        start: t,
                        end: None,
                        result: "waiting",
                    });
                }
            },
            Event::StepSucceeded { step, attempt, .. } => end(step, *attempt, "completed"),
            Event::StepFailed { step, attempt, .. } => end(step, *attempt, "failed"),
            Event::StepTimedOut { step, attempt, .. } => end(step, *attempt, "failed"),
            Event::StepInterrupted { step, attempt, .. } => end(step, *attempt, "stopped"),
            _ => {}
        }
    }
    out
}

/// The output tails the log keeps of each attempt of each step: (attempt, result, tail).
fn tails(events: &[Recorded]) -> BTreeMap<String, Vec<(u32, &'static str, String)>> {
    let mut out: BTreeMap<String, Vec<(u32, &'static str, String)>> = BTreeMap::new();
    for e in events {
        let (step, attempt, result, tail) = match &e.event {
            Event::StepSucceeded {
                step,
                attempt,
                output_tail,
                ..
            } => (step, attempt, "completed", output_tail),
            Event::StepFailed {
                step,
                attempt,
                output_tail,
                ..
            } => (step, attempt, "failed", output_tail),
            Event::StepTimedOut {
                step,
                attempt,
                output_tail,
                ..
            } => (step, attempt, "timed out", output_tail),
            _ => continue,
        };
        if !tail.is_empty() {
            out.entry(step.clone())
                .or_default()
                .push((*attempt, result, tail.clone()));
        }
    }
    out
}

/// The timeline of attempts as SVG: a row per attempt, bars placed by time.
fn timeline(attempts: &[Attempt], now: SystemTime) -> Markup {
    let shown = &attempts[attempts.len().saturating_sub(SHOWN_ATTEMPTS)..];
    let Some(t0) = shown.iter().map(|a| a.start).min() else {
        return html! { p class="muted" { "No attempt has started yet." } };
    };
    let t1 = shown
        .iter()
        .map(|a| a.end.unwrap_or(now))
        .max()
        .unwrap_or(now)
        .max(t0);
    let span = t1
        .duration_since(t0)
        .unwrap_or_default()
        .as_secs_f64()
        .max(0.001);
    let (label, plot, row) = (200.0, 640.0, 22.0);
    let x = |t: SystemTime| {
        label + plot * t.duration_since(t0).unwrap_or_default().as_secs_f64() / span
    };
    let height = row * shown.len() as f64 + 24.0;
    html! {
        svg class="timeline" xmlns="http://www.w3.org/2000/svg" role="img" width=(label + plot + 10.0) height=(height)
            viewBox={"0 0 " (label + plot + 10.0) " " (height)} {
            title { "Attempts over time" }
            @for (i, a) in shown.iter().enumerate() {
                @let y = 4.0 + row * i as f64;
                @let x1 = x(a.start);
                @let x2 = x(a.end.unwrap_or(now)).max(x1 + 2.0);
                g class={"attempt st-" (a.result)} {
                    title { (a.step) " · attempt " (a.attempt) " · " (a.result) }
                    text class="label" x="4" y=(y + 14.0) { (short(&a.step, 22)) " #" (a.attempt) }
                    rect x=(format!("{x1:.1}")) y=(y + 3.0) width=(format!("{:.1}", x2 - x1)) height=(row - 6.0) rx="3" {}
                }
            }
            text class="axis" x=(label) y=(height - 4.0) { "0 s" }
            text class="axis" x=(label + plot) y=(height - 4.0) text-anchor="end" { (crate::render::format_duration(t1.duration_since(t0).unwrap_or_default())) }
        }
    }
}

fn short(name: &str, n: usize) -> String {
    crate::render::clip(name, n).into_owned()
}

/// The DAG: a scenario's `after:` edges, a workflow's order. One node per step or phase of
/// the definition: a `foreach:` step is one node that counts its items (they are listed on
/// its card), not a node per item.
fn graph(state: &RunState, top: &[StepGroup<'_>]) -> Markup {
    let nodes: Vec<Node> = top
        .iter()
        .map(|&StepGroup { step: s, items }| Node {
            name: s.name.clone(),
            status: s.status.as_str().to_string(),
            note: s.foreach.as_ref().map(|f| match f.items {
                Some(n) => format!(
                    "{}/{n} item{} done",
                    items
                        .iter()
                        .filter(|i| matches!(i.status, StepStatus::Completed | StepStatus::Skipped))
                        .count(),
                    if n == 1 { "" } else { "s" },
                ),
                None => "list not read yet".to_string(),
            }),
        })
        .collect();
    let deps: Vec<Vec<usize>> = match &state.scenario {
        // By name: the run's scenario holds its items as phases too (after the definition's),
        // which are not nodes here.
        Some(sc) => {
            let names: Vec<&str> = top.iter().map(|g| g.step.name.as_str()).collect();
            crate::plan::dependencies_among(sc, &names)
        }
        None => (0..nodes.len())
            .map(|i| if i == 0 { vec![] } else { vec![i - 1] })
            .collect(),
    };
    layered_svg(&nodes, &deps)
}

/// A suggested command the page can carry out, as a form.
enum Act {
    Resume {
        mode: &'static str,
        step: Option<String>,
        /// The mode itself, for the secret inputs its resume asks for.
        resume: crate::event::ResumeMode,
    },
    Stop,
    Abort,
}

/// What a suggestion asks for, if it is a run-level action (step reports and starts are
/// offered on their steps): `Suggestion::run_act`, the TUI's reading of it too.
fn act_of(argv: &[String]) -> Option<Act> {
    use crate::event::ResumeMode;
    use crate::project::RunAct;
    Some(match crate::project::run_act(argv)? {
        RunAct::Resume(resume) => {
            let (mode, step) = match &resume {
                ResumeMode::Continue => ("continue", None),
                ResumeMode::Retry => ("retry", None),
                ResumeMode::Skip => ("skip", None),
                ResumeMode::From(s) => ("from", Some(s.clone())),
                ResumeMode::RollbackTo(s) => ("rollback_to", Some(s.clone())),
            };
            Act::Resume { mode, step, resume }
        }
        RunAct::Stop => Act::Stop,
        RunAct::Abort => Act::Abort,
    })
}

/// A password field for each secret input a resume in one of `modes` asks for
/// (`plan::resume_secret_inputs`: those what is left of the run may read, as `resume` and the
/// TUI's resume form ask for them; the log keeps `***`), for the resume to give its value
/// again: optional where this server holds it already. Before, every secret input of the run
/// had a field, though a resume that reads none would use none of them.
fn secret_fields(shared: &Shared, d: &RunData, modes: &[crate::event::ResumeMode]) -> Markup {
    let all = d
        .state
        .start
        .as_ref()
        .map_or(0, |s| s.secret_inputs_to_give().len());
    let mut asked: Vec<String> = Vec::new();
    // Once every one is asked for, no other mode can ask for more.
    for mode in modes {
        if asked.len() >= all {
            break;
        }
        for name in crate::plan::resume_secret_inputs(&d.state, mode) {
            if !asked.contains(&name) {
                asked.push(name);
            }
        }
    }
    let held = shared.secret_inputs_of(&d.view.run_id);
    html! {
        @for name in &asked {
            @let kept = held.iter().any(|(k, _)| k == name);
            input type="password" name={"input." (name)} autocomplete="off" aria-label={"secret input " (name)}
                placeholder=(if kept { format!("{name} (kept by this server: leave empty)") } else { format!("{name} (secret input: give it again)") });
        }
    }
}

/// The time limit of a resume (`resume --timeout`), optional: a run its limit stopped goes on
/// under a longer one; left empty, the limit a plain resume keeps.
fn time_limit_field() -> Markup {
    html! {
        input type="text" name="timeout" autocomplete="off" aria-label="time limit" maxlength="40"
            placeholder="time limit from now on (2h, 90m, 0 for none): empty keeps the run's";
    }
}

/// The resumes the page's free resume form offers: from each step, and for a workflow a
/// rollback to each.
fn free_choices(view: &crate::project::StatusView) -> Vec<crate::event::ResumeMode> {
    use crate::event::ResumeMode;
    let rollback = view.kind == RunKind::Workflow;
    view.steps
        .iter()
        .flat_map(|s| {
            std::iter::once(ResumeMode::From(s.name.clone()))
                .chain(rollback.then(|| ResumeMode::RollbackTo(s.name.clone())))
        })
        .collect()
}

fn actions(shared: &Shared, viewer: Viewer, d: &RunData) -> Markup {
    let view = &d.view;
    let id = &view.run_id;
    let token = token_field(shared, viewer);
    let disabled = !viewer.signed_in;
    let suggested: Vec<(Act, &crate::project::Suggestion)> = view
        .next
        .iter()
        .filter_map(|s| act_of(&s.argv).map(|a| (a, s)))
        .collect();
    let abort_offered = suggested.iter().any(|(a, _)| matches!(a, Act::Abort));
    html! {
        section class="actions" {
            h2 { "Actions" }
            @if !view.resumable {
                p class="muted" { "This run is finished and sealed: nothing more can be done with it." }
            }
            @for (act, s) in &suggested {
                form class="act" method="post" action={(run_href(id)) "/" (match act { Act::Resume { .. } => "resume", Act::Stop => "stop", Act::Abort => "abort" })} {
                    (token)
                    @if let Act::Resume { mode, step, resume } = act {
                        input type="hidden" name="mode" value=(mode);
                        @if let Some(step) = step { input type="hidden" name="step" value=(step); }
                        (secret_fields(shared, d, std::slice::from_ref(resume)))
                        (time_limit_field())
                    }
                    input type="text" name="message" placeholder="why (recorded)" maxlength="2000";
                    button type="submit" class=(match act { Act::Abort => "danger", Act::Stop => "warn", _ => "primary" }) disabled[disabled] {
                        (match act {
                            Act::Resume { mode: "continue", .. } => "Resume".to_string(),
                            Act::Resume { mode: "rollback_to", step, .. } => format!("Roll back to {}", step.as_deref().unwrap_or("")),
                            Act::Resume { mode: "from", step, .. } => format!("Resume from {}", step.as_deref().unwrap_or("")),
                            Act::Resume { mode, .. } => format!("Resume ({mode})"),
                            Act::Stop => "Stop".to_string(),
                            Act::Abort => "Abort".to_string(),
                        })
                    }
                    span class="why" { (s.why) }
                    code class="cli" { (command_line(&s.argv.iter().map(String::as_str).collect::<Vec<_>>())) }
                }
            }
            // A workflow run this server's own driver drives: stopped by asking that driver
            // (`actions::stop`), as a scenario run is stopped from anywhere.
            @if d.driven_here && !suggested.iter().any(|(a, _)| matches!(a, Act::Stop)) {
                form class="act" method="post" action={(run_href(id)) "/stop"} {
                    (token)
                    input type="text" name="message" placeholder="why (recorded)" maxlength="2000";
                    button type="submit" class="warn" disabled[disabled] { "Stop" }
                    span class="why" { "stop it gracefully: this server drives it; resume goes on from where it stopped" }
                }
            }
            @if view.resumable && !abort_offered {
                form class="act" method="post" action={(run_href(id)) "/abort"} {
                    (token)
                    input type="text" name="message" placeholder="why (recorded)" maxlength="2000";
                    button type="submit" class="danger" disabled[disabled] { "Abort" }
                    span class="why" { "end the run for good" }
                }
            }
            // A scenario re-runs a phase and the phases that depend on it; only a workflow
            // rolls back.
            @if view.resumable && !d.alive && !view.steps.is_empty() {
                form class="act" method="post" action={(run_href(id)) "/resume"} {
                    (token)
                    select name="mode" aria-label="resume mode" {
                        option value="from" { "Re-run from" }
                        @if view.kind == RunKind::Workflow {
                            option value="rollback_to" { "Roll back to" }
                        }
                    }
                    select name="step" aria-label="step" {
                        @for s in &view.steps { option value=(s.name) { (s.name) } }
                    }
                    // Any of its choices may be sent: what any of them asks for.
                    (secret_fields(shared, d, &free_choices(view)))
                    (time_limit_field())
                    input type="text" name="message" placeholder="why (recorded)" maxlength="2000";
                    button type="submit" disabled[disabled] { "Resume" }
                }
            }
            (sign_in(viewer, &run_href(id)))
        }
    }
}

/// The tails of `step`'s attempts.
type Tails = BTreeMap<String, Vec<(u32, &'static str, String)>>;

/// The list of a `foreach:` step's items on its card: each item's position, value (cut to one
/// line, whole in its tooltip), status, attempts and child run; then a card of its own for
/// each item that runs, waits, failed or stopped (its report forms, error and output).
fn items_block(
    shared: &Shared,
    viewer: Viewer,
    d: &RunData,
    s: &StepView,
    items: &[StepView],
    tails: &Tails,
) -> Markup {
    let f = s.foreach.as_ref();
    let acted: Vec<&StepView> = items
        .iter()
        .filter(|it| {
            matches!(
                it.status,
                StepStatus::Running
                    | StepStatus::Waiting
                    | StepStatus::Failed
                    | StepStatus::Stopped
            )
        })
        .collect();
    html! {
        div class="items" {
            p class="muted" {
                (items.len()) " item" (if items.len() == 1 { "" } else { "s" })
                @if let Some(f) = f { ": " (f.completed) " completed, " (f.skipped) " skipped" }
                @if items.len() > SHOWN_ITEMS { " — the first " (SHOWN_ITEMS) " listed; every one is in the status document (" code { "/api/v1/runs/" (d.view.run_id) } ")" }
            }
            table class="items" {
                thead { tr { th class="num" { "#" } th { "item" } th { "status" } th class="num" { "attempts" } th { "" } } }
                tbody {
                    @for it in items.iter().take(SHOWN_ITEMS) {
                        @let value = it.item.as_ref().map(|v| &v.value);
                        tr data-item=(it.name) class={"st-" (it.status.as_str())} {
                            td class="num" { (it.item.as_ref().map_or(0, |v| v.index)) }
                            td class="mono" title=(value.map(|v| short(&v.text(), 2000)).unwrap_or_default()) {
                                (value.map(crate::render::item_label).unwrap_or_default())
                            }
                            td { (badge(it.status.as_str())) }
                            td class="num" { (it.attempts) }
                            td {
                                @if let Some(child) = it.uses.as_ref().and_then(|u| u.run_id.as_deref()) {
                                    "child run " a class="mono" href=(run_href(child)) { (short(child, 12)) }
                                } @else if let Some(e) = &it.error {
                                    span class="error" { (short(&crate::render::one_line(e), 120)) }
                                }
                            }
                        }
                    }
                }
            }
            @for it in acted.iter().take(ITEM_CARDS) {
                (step_card(shared, viewer, d, None, it, &[], tails))
            }
            @if acted.len() > ITEM_CARDS {
                p class="muted" { "The first " (ITEM_CARDS) " of " (acted.len()) " items that run, wait, failed or stopped have a card above." }
            }
        }
    }
}

/// The card of a step or phase (`i`: its place among the definition's, for the graph's
/// links; None for an item, drawn inside its step's card).
/// Whether the page offers actions on the run: only on a log that reads whole and verifies, as
/// cortex acts on no other (a driver's replay refuses it). Before, a page under `✗ not
/// verified` still carried abort, resume, complete and fail forms, each then refused.
/// Whether the page offers actions: on the run as it stands (not `?at=`), whose log verifies.
fn actionable(d: &RunData) -> bool {
    d.as_of.is_none() && verifies(d)
}

fn verifies(d: &RunData) -> bool {
    d.unreadable.is_none() && d.verify["ok"].as_bool() == Some(true)
}

fn step_card(
    shared: &Shared,
    viewer: Viewer,
    d: &RunData,
    i: Option<usize>,
    s: &StepView,
    items: &[StepView],
    all_tails: &Tails,
) -> Markup {
    let tails = all_tails.get(&s.name).map_or(&[][..], Vec::as_slice);
    let view = &d.view;
    let id = &view.run_id;
    let scenario = view.kind == RunKind::Scenario;
    let unit = if scenario { "phase" } else { "step" };
    let waiting = s.status == StepStatus::Waiting;
    let awaiting_start = view.awaiting_start.contains(&s.name);
    let active = |agent: &str| {
        view.active_agents
            .iter()
            .any(|a| a.agent == agent && a.phase == s.name)
    };
    let token = token_field(shared, viewer);
    let disabled = !viewer.signed_in;
    let base = format!("{}/steps/{}", run_href(id), urlencode(&s.name));
    html! {
        article class={"step st-" (s.status.as_str()) @if s.item.is_some() { " item" }} id=[i.map(|i| format!("step-{i}"))] data-step=(s.name) {
            header {
                h3 { (s.name) }
                @if let Some(it) = &s.item { span class="tag" title=(short(&it.value.text(), 2000)) { "item: " (crate::render::item_label(&it.value)) } }
                @if let Some(f) = &s.foreach { span class="tag" { "foreach: " (short(&f.over, 80)) } }
                (badge(s.status.as_str()))
                @if s.attempts > 0 { span class="muted" { " attempt " (s.attempts) } }
                @if let Some(c) = &s.condition { span class="tag" { "condition: " (c) } }
                @if s.parallel == Some(true) { span class="tag" { "parallel" } }
                @if s.start_requested { span class="tag" title="its dependencies or max_parallel hold it; it starts by itself" { "start requested" } }
            }
            dl class="times" {
                dt { "started" } dd { (when(s.started_at.as_deref())) }
                dt { "ended" } dd { (when(s.ended_at.as_deref())) }
                @if let Some(d) = duration(s.started_at.as_deref(), s.ended_at.as_deref()) { dt { "took" } dd { (d) } }
            }
            @if !s.agents.is_empty() {
                div class="agents" {
                    "agents: "
                    @for a in &s.agents {
                        span class={"agent" @if active(a) { " active" }} title=(if active(a) { "active" } else { "not active" }) {
                            (if active(a) { "● " } else { "○ " }) (a)
                        }
                    }
                }
            }
            @if !s.criteria.is_empty() {
                ul class="criteria" {
                    @for c in &s.criteria {
                        li class=(if c.met { "met" } else { "unmet" }) {
                            (if c.met { "✓ " } else { "○ " }) (c.criterion)
                            @for note in &c.without_value { br; small class="muted" { "(" (note) ")" } }
                        }
                    }
                }
            }
            @if !items.is_empty() { (items_block(shared, viewer, d, s, items, all_tails)) }
            @if let Some(p) = &s.prompt { div class="prompt" { h4 { "Prompt" } pre { (p) } } }
            @if !s.outputs.is_empty() {
                table class="outputs" {
                    @for (k, v) in &s.outputs { tr { th { (k) } td { pre { (v) } } } }
                }
            }
            @if let Some(u) = &s.uses { (uses_block(u)) }
            // What the agent runner (Claude Code) reported, as `status` shows it: its session,
            // turns, cost and time (its result text is the output `result`, or the error).
            @if let Some(a) = &s.agent_result {
                p class={"agent-result" @if a.failed() { " error" }} { "Agent: " (crate::render::agent_line(a)) }
            }
            // Nobody drives the run and this unit asks for tags: which worker takes it, as
            // `status` says it (with the secret inputs that worker needs).
            @if !s.waits_for_tags.is_empty() {
                p class="muted worker" { (crate::render::tags_line(&view.globals, &s.waits_for_tags, &view.secret_inputs)) }
            }
            @if let Some(w) = &s.worker {
                @if s.lease_lapsed {
                    p class="error worker" { (crate::render::worker_line(w, true, s.holder_gone)) }
                } @else if matches!(s.status, StepStatus::Running | StepStatus::Waiting) {
                    p class="muted worker" { (if w.starts_with("driver ") { "on its " } else { "on worker " }) strong { (w) } }
                }
            }
            @if let Some(by) = &s.reported_by {
                p class="reported" { "reported by " strong { (by.actor) } @if let Some(m) = &by.message { ": “" (m) "”" } }
            }
            @if let Some(by) = &s.skipped_by {
                p class="reported" { "skipped by " strong { (by.actor) } @if let Some(m) = &by.message { ": “" (m) "”" } }
            }
            @if let Some(e) = &s.error { p class="error" { (e) } }
            @if let Some(code) = s.exit_code { p class="muted" { "exit code " (code) } }
            @for (attempt, result, tail) in tails {
                details class="tail" {
                    summary { "output of attempt " (attempt) " (" (result) ")" }
                    pre { (tail) }
                    // The bytes as written, streamed whatever their size (the tail is the
                    // log's last 4 KiB of them).
                    p class="muted" {
                        a href={"/api/v1/runs/" (id) "/logs/" (urlencode(&s.name)) "/raw?attempt=" (attempt)} { "whole output" }
                        " (plain text; above, its last 4 KiB)"
                    }
                }
            }
            @if view.resumable && actionable(d) && awaiting_start {
                form class="act" method="post" action={(base) "/start"} {
                    (token)
                    input type="text" name="message" placeholder="why (recorded)" maxlength="2000";
                    button type="submit" class="primary" disabled[disabled] { "Start " (unit) }
                }
            }
            // A `uses:` step waits with its child run and a `foreach:` step with its items:
            // the engine refuses a report on either (it is made on the child's step, or the
            // item), so none is offered.
            @if view.resumable && actionable(d) && waiting && s.uses.is_none() && !s.runs_as_items() {
                form class="report" method="post" action={(base) "/complete"} {
                    (token)
                    @if scenario {
                        // Each item by its place in the phase's criteria (`confirm_at`), not
                        // its text, which a browser sends with its line breaks as CRLF.
                        @for (i, c) in s.criteria.iter().enumerate().filter(|(_, c)| !c.check) {
                            label class="check" { input type="checkbox" name="confirm_at" value=(i) required; " " (c.criterion) }
                        }
                    }
                    // A phase's outputs are read by later phases (`phases.P.outputs.K`) as a
                    // step's are: both are reported here, as `--output K=V` reports them.
                    label { "Outputs (one KEY=VALUE a line)" textarea name="outputs" rows="2" {} }
                    // Its checks run a command, given every input: the secret ones this
                    // server holds no value for are asked for (the report is refused without).
                    @for name in d.state.step_index(&s.name).map(|i| crate::serve::actions::report_needs_secrets(shared, &d.state, i)).unwrap_or_default() {
                        input type="password" name={"input." (name)} autocomplete="off" required aria-label={"secret input " (name)}
                            placeholder=(format!("{name} (secret input its checks need: give it again)"));
                    }
                    input type="text" name="message" placeholder="message (recorded)" maxlength="2000";
                    button type="submit" class="primary" disabled[disabled] { "Complete " (unit) }
                }
                form class="report" method="post" action={(base) "/fail"} {
                    (token)
                    input type="text" name="message" placeholder="what went wrong (recorded)" maxlength="2000";
                    button type="submit" class="danger" disabled[disabled] { "Fail " (unit) }
                }
            }
        }
    }
}

/// A `uses:` step's child run, linked, and what waits for a report down its chain of child
/// runs (where the report is made).
fn uses_block(u: &crate::project::UsesView) -> Markup {
    html! {
        div class="uses" {
            "runs workflow " strong { (u.workflow) }
            @if let Some(child) = &u.run_id {
                " as child run " a class="mono" href=(run_href(child)) { (child) }
            } @else {
                span class="muted" { " (no child run yet)" }
            }
            @if let Some(w) = &u.waits_on {
                p class="waiting" {
                    "Waits with its child run: step " strong { (w.step) } " of run "
                    a class="mono" href={(run_href(&w.run_id)) "#steps"} { (w.run_id) }
                    " waits for a report; report it there."
                }
            }
            @if let Some(end) = &u.child_ended {
                p class="muted" { "Its child run ended (" (end) "): resume gives the step that end." }
            }
        }
    }
}

/// The deliveries of the run's `notify:`, as `status` lists them.
fn notifications(d: &RunData) -> Markup {
    html! {
        @if !d.notifications.is_empty() {
            section class="notifications" {
                h2 { "Notifications" }
                table class="notifications" {
                    thead { tr { th { "" } th { "when" } th { "trigger" } th { "notification" } th { "result" } th class="num" { "tries" } } }
                    tbody {
                        @for n in &d.notifications {
                            tr class=(if n.ok { "ok" } else { "bad" }) {
                                td { (if n.ok { "📣" } else { "⚠️" }) }
                                td class="when" { (when(Some(&n.time))) }
                                td { (n.trigger) @if let Some(st) = &n.status { " (" (st) ")" } }
                                td class="mono" { (n.notification) }
                                td class=(if n.ok { "" } else { "error" }) { (n.detail) }
                                td class="num" { (n.attempts) }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn event_log(d: &RunData, all: bool) -> Markup {
    let scenario = d.view.kind == RunKind::Scenario;
    let skip = if all {
        0
    } else {
        d.events.len().saturating_sub(SHOWN_EVENTS)
    };
    html! {
        @if skip > 0 {
            p class="muted" { "The newest " (SHOWN_EVENTS) " of " (d.events.len()) " events. " a href={(run_href(&d.view.run_id)) "?events=all#events"} { "Show all" } }
        }
        table class="events" {
            thead { tr { th class="num" { "seq" } th { "time" } th { "type" } th { "what" } th { "hash" } } }
            tbody {
                @for e in &d.events[skip..] {
                    @let line = render_event_line(e, scenario);
                    @let prefix = format!("{:>5}  {}  {:<20}  ", e.seq, e.time, e.event.type_name());
                    tr data-seq=(e.seq) {
                        td class="num" { (e.seq) }
                        td class="when" { (when(Some(&e.time))) }
                        td class="type" { (e.event.type_name()) }
                        td class="what" { (line.strip_prefix(&prefix).unwrap_or(&line)) }
                        td class="mono hash" title={"hash " (e.hash) "\nprevious " (e.prev_hash)} { (e.hash.get(..12).unwrap_or(&e.hash)) }
                    }
                }
            }
        }
    }
}

fn verified(verify: &serde_json::Value) -> Markup {
    let ok = verify["ok"].as_bool().unwrap_or(false);
    html! {
        @if ok {
            span class="verify ok" title="log verify: every hash of this run's chain recomputed from the stored bytes" {
                "✓ chain verified (" (verify["events"].as_u64().unwrap_or(0)) " events)"
            }
        } @else {
            span class="verify bad" title="log verify found a bad event" {
                "✗ not verified: "
                (verify["first_bad"]["reason"].as_str().unwrap_or("unknown"))
                " (seq " (verify["first_bad"]["seq"]) ")"
            }
        }
    }
}

/// The run's page.
pub fn render_run_page(shared: &Shared, viewer: Viewer, d: &RunData, all_events: bool) -> Markup {
    let view = &d.view;
    let now = SystemTime::now();
    let attempts = attempts(&d.events);
    let tails = tails(&d.events);
    let last = d.events.last().map_or(0, |e| e.seq);
    let top = view.groups();
    let unit = if view.kind == RunKind::Scenario {
        "Phases"
    } else {
        "Steps"
    };
    let kind = view.kind.as_str();
    // As `status` counts: the definition's steps, a `foreach:` step's items under it.
    let units = || view.steps.iter().filter(|s| s.item.is_none());
    let (done, total) = (
        units()
            .filter(|s| matches!(s.status, StepStatus::Completed | StepStatus::Skipped))
            .count(),
        units().count(),
    );
    layout(
        &view.name,
        super::Tab::Runs,
        html! {
            // A past state (`?at=`) is not followed: the run's events since are not its.
            section id="live" data-live=(if d.as_of.is_some() { "past" } else { "run" }) data-run=(view.run_id) data-after=(last)
                data-alive=(d.alive) data-finished=(!view.resumable)
                data-watch=(d.watch.iter().map(|(id, seq)| format!("{id}:{seq}")).collect::<Vec<_>>().join(" ")) {
                div class="page-head" {
                    h1 { (view.name) }
                    span class={"kind kind-" (kind)} { (kind) }
                    (badge(view.status.as_str()))
                    @if let Some(at) = d.as_of { span class="as-of" { "as of event " (at) } }
                    (verified(&d.verify))
                    @if view.resumable { span class="live-dot off" title="not live: updates arrive only while the page's script follows the run's event stream" { "not live" } }
                }
                @if let Some(desc) = &view.description { p class="description" { (desc) } }
                @if let Some(r) = &view.reason { p class="reason" { (r) } }
                // A newer cortex's event only where the chain verifies through it: a changed
                // row's version is as changed as anything else in it.
                @if let Some((seq, why)) = d.unreadable.as_ref().filter(|(seq, w)| {
                    w.contains("upgrade cortex")
                        && d.verify["first_bad"]["seq"].as_u64().is_none_or(|bad| bad > *seq)
                }) {
                    p class="reason" {
                        "⚠ The stored event " (seq) " was written by a newer cortex (" (why) "). "
                        "The run is shown as far as this one reads, up to event " (seq.saturating_sub(1))
                        "; nothing is damaged (" code { "cortex log verify " (view.run_id) } " checks its chain)."
                    }
                } @else if let Some((seq, why)) = &d.unreadable {
                    p class="reason" {
                        "✗ The stored event " (seq) " cannot be read (" (why) "): the log was changed. "
                        "The run is shown as far as it reads, up to event " (seq.saturating_sub(1))
                        "; nothing can be done on it until its log is restored ("
                        code { "cortex log verify " (view.run_id) } " says where it breaks)."
                    }
                }
                @if let Some(w) = &view.waiting_for { p class="waiting" { "Waiting for a report on " strong { (w) } "." } }
                dl class="meta" {
                    dt { "run" } dd class="mono" { (view.run_id) }
                    dt { "started by" } dd { (view.actor) " at " (when(view.started_at.as_deref())) }
                    // What the one who started it said (`run --message`), and the schedule
                    // that started it: both from the status document, as `status` shows them.
                    @if let Some(m) = &view.message {
                        dt { "message" } dd class="message" { (m) }
                    }
                    @if let Some(due) = &view.scheduled {
                        dt { "schedule" } dd { "started by the schedule: " (due) }
                    }
                    @if let Some(p) = &view.parent {
                        dt { "parent run" }
                        dd {
                            a class="mono" href=(run_href(&p.run_id)) { (p.run_id) }
                            " (its step " strong { (p.step) } ", attempt " (p.attempt) ")"
                        }
                    }
                    dt { "ended" } dd { (when(view.ended_at.as_deref())) }
                    dt { "progress" } dd { progress value=(done) max=(total.max(1)) {} " " (done) "/" (total) }
                    dt { "driver" } dd { (if d.alive { "a process drives it now" } else { "none" }) }
                    dt { "working dir" } dd class="mono" { (view.working_dir) }
                    dt { "head hash" } dd class="mono hash" { (view.head_hash) }
                    dt { "events" } dd { (view.events) }
                    @if let Some(r) = &view.resume_point { dt { "resume point" } dd { (r) } }
                }
                @if !view.inputs.is_empty() {
                    table class="inputs" {
                        caption { "Inputs" }
                        @for (k, v) in &view.inputs {
                            tr { th { (k) } td { pre { (v.as_str().map_or_else(|| v.to_string(), str::to_string)) } } }
                        }
                    }
                }
                @for p in view.pre_problems.iter().chain(&view.post_problems) { p class="error" { (p) } }
                @if actionable(d) { (actions(shared, viewer, d)) } @else if d.as_of.is_some() {
                    p class="muted" {
                        "A past state, read-only: nothing can be done on it here. "
                        a href=(run_href(&view.run_id)) { "The run as it stands" } " offers its actions."
                    }
                } @else if d.unreadable.is_none() {
                    p class="reason" {
                        "✗ This run's log does not verify: cortex will not act on it, so no action is offered ("
                        code { "cortex log verify " (view.run_id) } " says where it breaks)."
                    }
                }
                section class="graph" {
                    h2 { "Graph" }
                    div class="scroll" { (graph(&d.state, &top)) }
                    p class="legend" {
                        @for s in ["pending", "running", "waiting", "completed", "failed", "skipped", "stopped"] { (badge(s)) " " }
                    }
                }
                section class="timeline" {
                    h2 { "Timeline of attempts" }
                    // Said, or the older attempts would look as if they never ran.
                    @if attempts.len() > SHOWN_ATTEMPTS {
                        p class="muted" { "The newest " (SHOWN_ATTEMPTS) " of " (attempts.len()) " attempts; every one is in the event log below." }
                    }
                    div class="scroll" { (timeline(&attempts, view.ended_at.as_deref().and_then(time).unwrap_or(now))) }
                }
                section class="steps" id="steps" {
                    h2 { (unit) }
                    @for (k, g) in top.iter().enumerate() {
                        (step_card(shared, viewer, d, Some(k), g.step, g.items, &tails))
                    }
                }
                (notifications(d))
                section class="log" id="events" {
                    h2 { "Event log " (verified(&d.verify)) }
                    (event_log(d, all_events))
                }
            }
        },
    )
}

/// `GET /runs/{id}?events=all`.
pub async fn run_page(
    State(shared): State<Arc<Shared>>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let all = raw.as_deref().is_some_and(|q| {
        form_urlencoded::parse(q.as_bytes()).any(|(k, v)| k == "events" && v == "all")
    });
    let at = raw.as_deref().and_then(|q| {
        form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == "at")
            .map(|(_, v)| v.into_owned())
    });
    let result = blocking(&shared, move |shared| {
        let at = at
            .map(|v| {
                v.parse::<u64>().map_err(|_| {
                    Failure::bad_request(
                        format!(
                            "`at` must be a whole number, not {}",
                            crate::serve::api::shown_value(&v)
                        ),
                        "`at` names an event of the run by its seq (the event log on the run's page lists them)",
                    )
                })
            })
            .transpose()?;
        let data = load(shared, &id, at)?;
        Ok::<_, Failure>(render_run_page(shared, viewer, &data, all))
    })
    .await;
    match result {
        Ok(Ok(markup)) => page(StatusCode::OK, markup),
        Ok(Err(f)) => failure(f),
        Err(e) => failure(Failure::from(e)),
    }
}
