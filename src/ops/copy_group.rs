//! Which runs `log copy` copies together, read here and judged: a group of runs whose events
//! name each other (a parent and the child runs its `uses:` steps started, transitively), each
//! with its rows as verified and why it is not copied, if it is not.

use std::collections::{HashSet, VecDeque};

use super::Ctx;
use crate::store::{EventStore, RawRow, StoreError, verify_rows};

/// One run of a group, as `log copy` read it.
pub(super) struct Member {
    pub run_id: String,
    /// Its rows as read and verified (the ones copied); none when this log does not hold it.
    pub rows: Vec<RawRow>,
    /// The other runs its verified events name (its parent, its children), and what names each.
    links: Vec<(String, &'static str)>,
    /// Why it is not copied, if it is not.
    pub refusal: Option<String>,
}

/// The group of `start` (a run of `source`): it and every run linked to it, as read here, in
/// the order found (`start` first). `seen` gathers the runs read, so that each group is read
/// once. A run named by one of the group that this log does not hold refuses the one naming
/// it: the log does not verify here, and a copy would not verify there. `left_behind` holds
/// the runs this copy refused so far (its runs are judged before the chains that name them:
/// a run's notification deliveries and the schedules that started it go with it or not at
/// all).
pub(super) fn read_group(
    ctx: &Ctx,
    source: &dyn EventStore,
    start: &str,
    seen: &mut HashSet<String>,
    left_behind: &HashSet<String>,
) -> Result<Vec<Member>, StoreError> {
    let mut group = Vec::new();
    seen.insert(start.to_string());
    let mut queue = VecDeque::from([start.to_string()]);
    while let Some(run_id) = queue.pop_front() {
        let member = read_member(ctx, source, &run_id, left_behind)?;
        for (to, _) in &member.links {
            if seen.insert(to.clone()) {
                queue.push_back(to.clone());
            }
        }
        group.push(member);
    }
    let missing: HashSet<String> = group
        .iter()
        .filter(|m| m.rows.is_empty() && m.refusal.is_none())
        .map(|m| m.run_id.clone())
        .collect();
    for member in &mut group {
        if member.refusal.is_some() {
            continue;
        }
        if let Some((to, what)) = member.links.iter().find(|(to, _)| missing.contains(to)) {
            member.refusal = Some(names_missing(ctx, &member.run_id, what, to));
        }
    }
    group.retain(|m| !m.rows.is_empty() || m.refusal.is_some());
    Ok(group)
}

/// Why `run_id` is not copied when it names (`what`) the run `to`, which the log does not hold.
fn names_missing(ctx: &Ctx, run_id: &str, what: &str, to: &str) -> String {
    format!(
        "it names {what} {to}, which this log does not hold: its events were removed here ({} says so), and a copy would not verify either",
        ctx.cmd(&["log", "verify", run_id])
    )
}

/// Read one run for the copy. The rows copied are the rows verified and judged, read
/// together: the run's state is read after its rows, by the rule `status` and `resume` use
/// (`load_live`: a driver that ends meanwhile is seen ended, never as cut short), and when the
/// run moved on in between, both are read again — so the run judged copyable is the one
/// copied. A run still moving after a few reads is being driven, and judged so. The driver is
/// probed once more after the read: one that held the run as it was read and let go since (it
/// appended its last events, then its lock) leaves behind a state that is no longer the run's,
/// and both are read again.
fn read_member(
    ctx: &Ctx,
    source: &dyn EventStore,
    run_id: &str,
    left_behind: &HashSet<String>,
) -> Result<Member, StoreError> {
    let mut member = Member {
        run_id: run_id.to_string(),
        rows: Vec::new(),
        links: Vec::new(),
        refusal: None,
    };
    // A chain of an id no cortex writes (`../../tmp/x`, `/some/dir`) is copied nowhere,
    // before anything of it is read or imported: it was put in this log by hand.
    if let Some(reason) = crate::store::bad_chain_id(run_id.as_bytes()) {
        member.refusal = Some(reason);
        return Ok(member);
    }
    let mut reads = 0;
    let (rows, state, driven) = loop {
        reads += 1;
        let rows = source.raw_rows(Some(run_id))?;
        if rows.is_empty() {
            return Ok(member);
        }
        // A run this cortex cannot read (an event that does not decode, or a newer
        // cortex's) is said for that run; the copy goes on with the others.
        let (state, alive) = match crate::execute::load_live(&ctx.home, source, run_id) {
            Ok(read) => read,
            Err(e) if super::log::run_fault(&e) => {
                member.refusal = Some(format!("it cannot be read here: {e}"));
                return Ok(member);
            }
            Err(e) => return Err(e),
        };
        let driven = if alive {
            Driven::Now(crate::execute::run_holder(&ctx.home, source, &state))
        } else {
            Driven::Not
        };
        let moved = state.events != rows.len() as u64 || matches!(driven, Driven::Now(None));
        if !moved || reads >= 5 {
            break (rows, state, driven);
        }
    };
    let here = verify_rows(&rows);
    let links = here
        .links
        .iter()
        .filter(|l| l.to != run_id && crate::event::is_run_chain(l.to.as_bytes()))
        .map(|l| (l.to.clone(), l.what));
    // Runs name runs (a parent its children, a child its parent) both ways: they are copied
    // together. Notification and schedule chains only name runs, and are copied apart.
    let named_apart: Vec<(String, &'static str)> = if crate::event::is_run_chain(run_id.as_bytes())
    {
        member.links = links.collect();
        Vec::new()
    } else {
        links.collect()
    };
    member.rows = rows;
    if let Some(bad) = here.first_bad {
        member.refusal = Some(format!(
            "it does not verify here (seq {}: {})",
            bad.seq, bad.reason
        ));
        return Ok(member);
    }
    // A notification or schedule chain naming a run this log does not hold fails `log verify`
    // here (`check_links`), and would there: refused as the runs of a group are. Before, it
    // was copied, the copy said good (exit 0), and the other log then failed verification.
    for (to, what) in &named_apart {
        // One naming a run this copy leaves behind stays behind with it: copied alone, it
        // named a run the other log does not hold, and that log failed `log verify` (a
        // run refused for a wrong output of its own, its `notify:` chain copied all the
        // same).
        if left_behind.contains(to) {
            member.refusal = Some(format!(
                "it names {what} {to}, which is not copied (its line says why): copied without it, it would name a run the other log does not hold, and `log verify` there would fail on it; it is copied with that run"
            ));
            return Ok(member);
        }
        if source.hash_at(to, 0)?.is_none() {
            member.refusal = Some(names_missing(ctx, run_id, what, to));
            return Ok(member);
        }
    }
    // A run driven now, or whose driver never recorded the end of its session, is not
    // copied: nothing in the other log says it is driven here (no lease there, no lock),
    // so a worker there would take it and run its step again beside (or after) the driver
    // here — a deploy run twice.
    member.refusal = not_copyable(ctx, &state, driven);
    Ok(member)
}

/// Whether a live driver held a run as `log copy` read it.
enum Driven {
    /// None did, and the log stood still once read (`load_live`).
    Not,
    /// One did: the holder probed after the read, or `None` when it let go meanwhile.
    Now(Option<crate::execute::Holder>),
}

/// Why `state`'s run is not copied by `log copy`, if it is not: a live driver held it as it
/// was read (`driven`: its lock, a lease, or the process its log names for a session still
/// open), it waits for a worker to take it (submitted, not yet taken), or, with none, it was
/// cut short (`project::cut_short`: what `status` shows
/// `interrupted` — a step or rollback under way, work only a driver does). In the other log
/// nothing would say it is driven or was cut short here: a worker there would take it over at
/// once and run again the step that runs (or ran) here.
fn not_copyable(ctx: &Ctx, state: &crate::decide::RunState, driven: Driven) -> Option<String> {
    let run = state.run_id.as_str();
    let kind = if state.is_scenario() {
        "orchestrate"
    } else {
        "workflow"
    };
    if let Driven::Now(holder) = driven {
        let by = holder.map_or_else(
            || "a driver that let go as it was read".to_string(),
            |h| h.to_string(),
        );
        return Some(format!(
            "it is being driven now, by {by}: a copy would be driven there too, its running step run a second time; copy it once it finished, paused or stopped ({} shows it)",
            ctx.cmd(&[kind, "status", run])
        ));
    }
    // Waiting for a worker, by its state (not by its last event): submitted and not yet
    // taken, or left by its driver for a worker offering the tags its next unit asks for (a
    // command's driver, or a worker without them that looked at it and let it go — its
    // `run_resumed` ends the submission in the log, not the wait). A worker of either log
    // would take it (before, such runs were copied, and workers on both logs ran its step).
    if state.phase == crate::decide::RunPhase::Running {
        let why = if state.submitted {
            Some("it is submitted for workers".to_string())
        } else if crate::plan::waits_for_worker(state) {
            let tags =
                crate::project::waits_for_tags(&|id: &str| (id == run).then(|| state.clone()), run);
            Some(format!(
                "it waits for a worker offering tags {}",
                tags.join(", ")
            ))
        } else {
            None
        };
        if let Some(why) = why {
            return Some(format!(
                "{why}: a worker there would run it too; copy it once it finished, paused or stopped ({} shows it)",
                ctx.cmd(&[kind, "status", run])
            ));
        }
    }
    if crate::project::cut_short(state) {
        let stop = if state.is_scenario() { "stop" } else { "abort" };
        return Some(format!(
            "its driver was cut short (`status` shows it interrupted), its session never ended: a copy would be taken over there and its step run again; {} here, or {} it, then copy it",
            ctx.cmd(&[kind, "resume", run]),
            ctx.cmd(&[kind, stop, run])
        ));
    }
    None
}
