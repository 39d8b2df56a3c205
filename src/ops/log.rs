//! The audit trail: show, export, verify (the chain, anchors, snapshots and the run index),
//! anchor, and copy into another log. Every operation only reads the log, so each opens it
//! for reading (`copy` writes only to the other log).

use std::path::Path;

use super::{CommandError, Ctx, Output, exit};
use crate::definition::{ReadError, read_bounded};
use crate::event::ChainId;
use crate::execute::check_snapshots;
use crate::render::{render_event_line, render_unreadable_line, render_verify};
use crate::store::{
    Anchor, EventStore, Location, LogFile, SqliteStore, check_anchors, parse_anchors, verify_rows,
};

/// The largest anchor file read: a line of about 110 bytes per run, so some 600,000 runs.
const MAX_ANCHOR_BYTES: u64 = 64 << 20;

/// An anchor file's text, through the bounded reader: refused by its size, unread, when larger
/// than `MAX_ANCHOR_BYTES`, and never a device or a FIFO.
fn read_anchors(path: &Path) -> Result<String, ReadError> {
    read_bounded(path, MAX_ANCHOR_BYTES, "anchor files")
}

/// `log show [RUN]`: every event of a run, one per line.
pub fn show(ctx: &Ctx, run: Option<&str>) -> Result<Output, CommandError> {
    let store = ctx
        .reading_store()?
        .ok_or_else(|| ctx.no_runs_of_any_kind_for(run))?;
    let run_id = resolve_chain(ctx, &*store, run, &["log", "show"])?;
    // The events shown and the checks of them read one view of the log.
    let _view = crate::store::View::of(&store)?;
    // Every stored event, an unreadable one (damaged, or a newer cortex's) said as such in its
    // place: the audit trail is never hidden whole by one event.
    let events = crate::store::read_run_all(&*store, &run_id)?;
    let scenario = matches!(
        events.first(),
        Some(crate::store::ReadEvent::Event(e))
            if matches!(&e.event, crate::event::Event::RunStarted(s) if s.kind == crate::event::RunKind::Scenario)
    );
    // What is shown is what is stored: a run that `log verify RUN` fails (its chain, its
    // snapshots, its attempt logs' files, its index row) is said under it, so that a changed
    // history is never read as the record; beside the document (`--json`), on the side.
    let bad = check_log(ctx, &*store, Some(&run_id), None, None)?.first_bad;
    let mut text = format!(
        "Run {}: {} events\n",
        crate::render::shown_chain_id(&run_id),
        events.len()
    );
    for e in &events {
        match e {
            crate::store::ReadEvent::Event(e) => text.push_str(&render_event_line(e, scenario)),
            // An event at or past where the chain breaks is no newer cortex's, whatever its
            // stored version says: it is said as damaged.
            crate::store::ReadEvent::Unreadable(u)
                if u.needs_version.is_some()
                    && bad
                        .as_ref()
                        .is_some_and(|b| b.seq <= u.seq.min(i64::MAX as u64) as i64) =>
            {
                let damaged = crate::store::Unreadable {
                    needs_version: None,
                    unreadable: "its stored version is past what cortex reads, and the chain does not verify there: it was changed".into(),
                    ..u.clone()
                };
                text.push_str(&render_unreadable_line(&damaged));
            }
            crate::store::ReadEvent::Unreadable(u) => text.push_str(&render_unreadable_line(u)),
        }
        text.push('\n');
    }
    let verify = ctx.cmd(&["log", "verify", &run_id]);
    let mut warnings = Vec::new();
    if let Some(bad) = bad {
        warnings.push(format!(
            "run {} does not verify at seq {}: {} (its events are as stored, not as recorded); {verify} checks it",
            crate::render::shown_chain_id(&run_id),
            bad.seq,
            bad.reason
        ));
        text.push_str(&crate::render::render_unverified_show(&bad, &verify));
    }
    Ok(Output::new(events, text, exit::OK).warn_beside_document(warnings))
}

/// The chain a `log show|export|verify` query names: a run (its id, a unique prefix of it, or
/// a workflow or scenario name: its latest run), or one of the log's other chains by its id —
/// a run's notification deliveries `notify:RUN` (RUN named any way a run is), a schedule's
/// `schedule:KIND:NAME`, the agent registry `agents` (a run of that name comes first). Their
/// events were redacted as they were recorded, as a run's are: what is stored is what is shown.
/// A chain of an id no cortex writes (`Agents`, `agents ` with its space, `../../x`: put in
/// the log by hand, which `log verify` names by that id) is found by that id exactly, as
/// given, where no run answers the query (a run found by its name or id comes first, so a
/// chain planted under a workflow's name never stands in for its runs): before, `Agents` was "no run `Agents`",
/// `agents ` lost its space to the name lookup, and `../../x` was refused as a definition's
/// name — a chain `log verify` named could not be looked at.
fn resolve_chain(
    ctx: &Ctx,
    store: &dyn EventStore,
    query: Option<&str>,
    before: &[&str],
) -> Result<String, CommandError> {
    let has_chain =
        |id: &str| -> Result<bool, CommandError> { Ok(store.hash_at(id, 0)?.is_some()) };
    // A chain of an id no cortex writes, stored under exactly the query (put in by hand).
    let planted = |q: Option<&str>| -> Result<Option<String>, CommandError> {
        Ok(match q {
            Some(q)
                if !q.is_empty() && !crate::event::is_chain_id(q.as_bytes()) && has_chain(q)? =>
            {
                Some(q.to_string())
            }
            _ => None,
        })
    };
    let prefixed = query.filter(|q| crate::event::has_chain_prefix(q.as_bytes()));
    if let Some(q) = prefixed {
        if has_chain(q)? {
            return Ok(q.to_string());
        }
        if let Some(run) = q.strip_prefix(crate::event::NOTIFY_PREFIX) {
            let run_id = ctx.resolve_any_run(store, Some(run), before, &[], None)?;
            let stream = ChainId::Notify(&run_id).to_string();
            if has_chain(&stream)? {
                return Ok(stream);
            }
            return Err(CommandError::bad_input(format!(
                "run {run_id} has no notification deliveries recorded (chain `{stream}`)"
            ))
            .hint("a definition's `notify:` (on_failure, on_finish) records its deliveries when the run fails or finishes"));
        }
        return Err(
            CommandError::bad_input(format!("no chain `{q}` in the log")).hint(
                other_chains_hint(ctx, store)?
                    .unwrap_or_else(|| "the log holds no schedule's chain yet".into()),
            ),
        );
    }
    let e = match ctx.resolve_any_run(store, query, before, &[], None) {
        Ok(run_id) => return Ok(run_id),
        Err(e) => e,
    };
    if let Some(id) = planted(query)? {
        return Ok(id);
    }
    if query == Some(crate::event::REGISTRY_CHAIN) && has_chain(crate::event::REGISTRY_CHAIN)? {
        return Ok(crate::event::REGISTRY_CHAIN.to_string());
    }
    if query.is_none() {
        return Err(e);
    }
    Err(match other_chains_hint(ctx, store)? {
        Some(hint) => e.hint(hint),
        None => e,
    })
}

/// The most other chains (no run's) a hint names.
const CHAINS_NAMED: usize = 5;

/// "the log's other chains: notify:…, schedule:… (`cortex log export ID` exports one)", or
/// `None` when the log holds none.
fn other_chains_hint(ctx: &Ctx, store: &dyn EventStore) -> Result<Option<String>, CommandError> {
    let chains: Vec<String> = store
        .runs()?
        .into_iter()
        .map(|h| h.run_id)
        .filter(|id| !crate::event::is_run_chain(id.as_bytes()))
        .collect();
    if chains.is_empty() {
        return Ok(None);
    }
    let mut named: Vec<String> = chains
        .iter()
        .take(CHAINS_NAMED)
        .map(|c| crate::render::shell_quote(c).into_owned())
        .collect();
    if chains.len() > CHAINS_NAMED {
        named.push(format!("and {} more", chains.len() - CHAINS_NAMED));
    }
    Ok(Some(format!(
        "the log's other chains (no run's): {}; {} exports one",
        named.join(", "),
        ctx.cmd(&["log", "export", "ID"])
    )))
}

/// `log export [RUN]`: a run's events as JSON Lines (the text), and as a list (the document).
pub fn export(ctx: &Ctx, run: Option<&str>) -> Result<Output, CommandError> {
    let store = ctx
        .reading_store()?
        .ok_or_else(|| ctx.no_runs_of_any_kind_for(run))?;
    let run_id = resolve_chain(ctx, &*store, run, &["log", "export"])?;
    // Decoded for `--json` (an event that does not decode said as such); the lines carry the
    // stored bytes of every row, readable or not, so that `log verify --file` checks the
    // chain from them alone.
    let events = crate::store::read_run_all(&*store, &run_id)?;
    let mut text = String::new();
    for row in store.raw_rows(Some(&run_id))? {
        let line = crate::store::export_line(&row).map_err(|reason| {
            CommandError::from(crate::store::StoreError::Corrupt {
                run_id: run_id.clone(),
                seq: row.seq.max(0) as u64,
                reason,
            })
        })?;
        text.push_str(&line);
        text.push('\n');
    }
    Ok(Output::new(events, text, exit::OK))
}

/// `log verify [RUN | --file F] [--anchors A]`: recompute the hash chains from the stored
/// bytes, and hold the anchors, the snapshots and the run index to them.
pub fn verify(
    ctx: &Ctx,
    run: Option<&str>,
    file: Option<&Path>,
    anchors: Option<&Path>,
) -> Result<Output, CommandError> {
    {
        {
            // The anchors first: a log that is gone (or emptied) is what they exist to catch,
            // and an anchors file that cannot be read is an error, never a pass.
            let anchored =
                match anchors {
                    Some(path) => {
                        let text = read_anchors(path).map_err(|e| {
                            CommandError::bad_input(format!("cannot read {}: {e}", path.display()))
                                .hint(format!(
                                    "{} writes the anchors of finished runs",
                                    ctx.cmd(&["log", "anchor", "--file", "PATH"])
                                ))
                        })?;
                        Some(parse_anchors(&text).map_err(|e| {
                            CommandError::bad_input(format!("{}: {e}", path.display()))
                        })?)
                    }
                    None => None,
                };
            let store = match file {
                Some(f) if !f.is_file() => {
                    return Err(CommandError::bad_input(format!(
                        "{} is not a file",
                        f.display()
                    )));
                }
                // Never written: an archive copy stays as it is, even on read-only media.
                Some(f) => match crate::store::LogFile::of(&head_of(f)) {
                    LogFile::Database => {
                        Box::new(SqliteStore::open_read(f)?) as Box<dyn EventStore>
                    }
                    LogFile::Export => return verify_export(f, anchored.as_deref()),
                    // Bad input, said as such (a failed verification would be exit 1).
                    other => {
                        let export = ctx.cmd(&["log", "export", "RUN"]);
                        let hint = if other == LogFile::JsonArray {
                            format!(
                                "{} is a JSON array (as `--json log show` prints), not a log: verify a copy of the database, or the JSON Lines that {export} writes",
                                f.display()
                            )
                        } else {
                            format!("give a copy of a cortex.db, or the output of {export}")
                        };
                        return Err(CommandError::bad_input(format!(
                            "{} is neither a cortex log (a SQLite database) nor a run exported by `log export` (JSON Lines)",
                            f.display()
                        ))
                        .hint(hint));
                    }
                },
                None => match ctx.reading_store()? {
                    Some(s) => s,
                    // No log where it was looked for (a mistyped --db, the wrong home, a
                    // PostgreSQL database or schema without cortex's tables): an audit of
                    // nothing is no pass, on either store. Against anchors, a log that is
                    // gone fails them (below); without, it is said where it was looked for.
                    // (A SQLite file left blank by a first command killed before it set the
                    // log up is a home's log with no runs yet.)
                    None if anchored.is_none()
                        && match ctx.location()? {
                            Location::Sqlite(ref p) => !p.exists(),
                            Location::Postgres(_) => true,
                        } =>
                    {
                        return Err(no_log_to_verify(ctx)?);
                    }
                    None => {
                        let mut report = verify_rows(&[]);
                        let mut code = exit::OK;
                        if let Some(anchored) = &anchored {
                            report.anchors = Some(anchored.len() as u64);
                            for bad in check_anchors(&[], anchored) {
                                report.fail(bad);
                                code = exit::FAILED;
                            }
                        }
                        let text = render_verify(&report);
                        return Ok(Output::new(report, text, code));
                    }
                },
            };
            // Every check below reads one view of the log: the chains, the snapshots, the
            // attempt logs' events and the run index as they were at one moment, so that
            // appends by other processes meanwhile never read as a disagreement between them.
            let _view = crate::store::View::of(&store)?;
            let run_id = match run {
                Some(r) => Some(resolve_verified_run(ctx, &*store, r, anchored.as_deref())?),
                None => None,
            };
            // The whole log's file is checked too (SQLite's integrity check): damaged pages
            // of an index or a table the chains do not read would otherwise pass, while
            // every other command fails on them. Not for one run: its chain is what is
            // asked about.
            let damaged = match run_id {
                None => store.check_file()?,
                Some(_) => None,
            };
            let mut report = match check_log(ctx, &*store, run_id.as_deref(), anchored, file) {
                Ok(report) => report,
                // Its chains cannot even be read through the damage: the file's finding is
                // the report.
                Err(e) if damaged.is_some() => {
                    let mut report = verify_rows(&[]);
                    report.ok = false;
                    report.file_damaged = Some(e.message.clone());
                    report
                }
                Err(e) => return Err(e),
            };
            if let Some(damaged) = damaged {
                report.ok = false;
                report.file_damaged = Some(match report.file_damaged.take() {
                    Some(read) => format!("{damaged} (reading its events: {read})"),
                    None => damaged,
                });
            }
            let mut text = render_verify(&report);
            if let Some(hint) = reindex_hint(ctx, &report) {
                text.push_str(&hint);
            }
            let code = if report.ok { exit::OK } else { exit::FAILED };
            Ok(Output::new(report, text, code))
        }
    }
}

/// Every check `log verify` makes of the log `store` (of run `run_id` alone, if given): the
/// hash chains, the anchors `anchored` (if given), what decodes, the snapshots, the attempt
/// logs' files (`file`: the copy of a log given by `--file`, checked with the `logs/` folder
/// beside it) and the run index. `log show` warns by the same checks of its run.
fn check_log(
    ctx: &Ctx,
    store: &dyn EventStore,
    run_id: Option<&str>,
    anchored: Option<Vec<Anchor>>,
    file: Option<&Path>,
) -> Result<crate::store::VerifyReport, CommandError> {
    // Anchors are checked against the rows; without them, verification streams.
    let rows = match &anchored {
        Some(_) => store.raw_rows(run_id)?,
        None => Vec::new(),
    };
    let mut report = match &anchored {
        Some(_) => verify_rows(&rows),
        None => store.verify(run_id)?,
    };
    if let Some(anchors) = anchored {
        let relevant: Vec<_> = anchors
            .into_iter()
            .filter(|a| run_id.is_none_or(|r| r == a.run_id))
            .collect();
        hold_to_anchors(&mut report, &rows, &relevant);
    }
    // A chain that verifies may still hold events this cortex cannot decode: written by
    // a newer cortex (said, not failed: upgrade to read them), or by no cortex (a
    // chain recomputed over a changed body: a failure).
    for (run, _) in &report.heads {
        if !report.failed(run)
            && let Some(u) = crate::store::first_unreadable(store, run)?
        {
            report.unreadable.push(u);
        }
    }
    let damaged: Vec<_> = report
        .unreadable
        .iter()
        .filter(|u| u.needs_version.is_none())
        .map(|damaged| crate::store::BadEvent {
            run_id: damaged.run_id.clone(),
            seq: damaged.seq.min(i64::MAX as u64) as i64,
            reason: format!("it does not decode: {}", damaged.unreadable),
        })
        .collect();
    for bad in damaged {
        report.fail(bad);
    }
    // The runs the checks below read whole: all of them (`None`: one pass over the
    // log) while every chain verified and decodes, else the others one by one.
    let readable: Vec<Option<String>> = if report.ok && report.unreadable.is_empty() {
        vec![run_id.map(str::to_string)]
    } else {
        checkable(&report)
    };
    // The snapshots that `status` may read must agree with the log they cache.
    check_each(&mut report, &readable, |run| {
        Ok(check_snapshots(store, run)?)
    })?;
    // The files of attempts' whole outputs must be what their events recorded. A log
    // given by `--file` is checked with the `logs/` folder beside it, if it came with
    // one (a copy of the database alone is a copy of the chain only).
    let home = match file {
        Some(f) => f
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map_or_else(|| ctx.cwd.clone(), Path::to_path_buf),
        None => ctx.home.clone(),
    };
    if file.is_none() || home.join("logs").is_dir() {
        // A file given by `--file` is a SQLite copy; otherwise the home's own log.
        let sqlite = file.is_some() || matches!(ctx.location()?, Location::Sqlite(_));
        let (mut checked, mut absent, mut other_home) = (0, 0, 0);
        let mut runs = readable.clone();
        let mut i = 0;
        while i < runs.len() {
            let run = runs[i].clone();
            i += 1;
            if run.as_deref().is_some_and(|r| report.failed(r)) {
                continue;
            }
            let found = crate::execute::check_attempt_logs(store, &home, run.as_deref(), sqlite)?;
            match found.first_bad {
                // A failure in one pass over the whole log: counted again run by run,
                // each run's files checked in full.
                Some(bad) if run.is_none() => {
                    report.fail(bad);
                    runs.extend(checkable(&report));
                }
                Some(bad) => {
                    report.fail(bad);
                    checked += found.checked;
                    absent += found.absent;
                    other_home += found.other_home;
                }
                None => {
                    checked += found.checked;
                    absent += found.absent;
                    other_home += found.other_home;
                }
            }
        }
        report.attempt_logs = Some(checked);
        report.attempt_logs_absent = Some(absent);
        report.attempt_logs_other_home = (other_home > 0).then_some(other_home);
    }
    // So must the run index that finds runs and lists history: checked whole while
    // every run so far verified (which also finds rows of runs that have no events),
    // else the row of each run still unfailed.
    let whole = run_id.is_none() && report.ok && report.unreadable.is_empty();
    let bad = match whole {
        true => crate::store::check_index(store)?,
        false => None,
    };
    let one_by_one = match (run_id, bad) {
        (Some(run), _) => vec![Some(run.to_string())],
        // The whole index cannot be read (its table gone): said once.
        (None, Some(bad)) if bad.seq < 0 => {
            report.fail(bad);
            Vec::new()
        }
        (None, Some(bad)) => {
            report.fail(bad);
            checkable(&report)
        }
        (None, None) if whole => Vec::new(),
        (None, None) => checkable(&report),
    };
    for run in one_by_one.into_iter().flatten() {
        if !report.failed(&run)
            && let Some(bad) = crate::store::check_index_run(store, &run)?
        {
            report.fail(bad);
        }
    }
    check_links(store, &mut report, run_id)?;
    // A row of the index whose run has no events at all is a run whose events were removed:
    // no chain leads to it, so it is looked for whatever else failed.
    if run_id.is_none() {
        // Every run with events was read: its chain verified (its head), or failed.
        let held: std::collections::HashSet<String> = report
            .heads
            .iter()
            .map(|(r, _)| r.clone())
            .chain(report.failures.iter().map(|f| f.run_id.clone()))
            .collect();
        for bad in crate::store::index_rows_without_events(store, &|r| held.contains(r))? {
            report.fail(bad);
        }
    }
    Ok(report)
}

/// Hold every link between chains that a verified event holds (`store::Link`: a parent's
/// child run, a child's parent, a notification chain's run, a schedule's started run) to the
/// chains the log holds, and every run whose definition notifies and whose end made a delivery
/// due to its notification chain `notify:RUN`: a chain removed whole (its events, its index
/// row) leaves no gap in any chain, but the chains that name it say it is gone. Checked
/// against the set of chains read (the whole log), or chain by chain (one run).
fn check_links(
    store: &dyn EventStore,
    report: &mut crate::store::VerifyReport,
    run_id: Option<&str>,
) -> Result<(), CommandError> {
    use std::collections::HashSet;
    let seen: HashSet<String> = report
        .heads
        .iter()
        .map(|(r, _)| r.clone())
        .chain(report.failures.iter().map(|f| f.run_id.clone()))
        .collect();
    let mut asked: std::collections::HashMap<String, bool> = Default::default();
    let mut holds = |chain: &str| -> Result<bool, CommandError> {
        if seen.contains(chain) {
            return Ok(true);
        }
        if run_id.is_none() {
            return Ok(false);
        }
        if let Some(known) = asked.get(chain) {
            return Ok(*known);
        }
        let there = store.hash_at(chain, 0)?.is_some();
        asked.insert(chain.to_string(), there);
        Ok(there)
    };
    let links = std::mem::take(&mut report.links);
    for link in &links {
        if report.failed(&link.from) || holds(&link.to)? {
            continue;
        }
        report.fail(crate::store::BadEvent {
            run_id: link.from.clone(),
            seq: link.seq,
            reason: format!(
                "it names {} {}, which the log does not hold: its events were removed (a chain removed whole leaves no gap in its own chain, only in those that name it)",
                link.what, link.to
            ),
        });
    }
    let notifying = std::mem::take(&mut report.notifying);
    for run in &notifying {
        let stream = ChainId::Notify(run).to_string();
        if report.failed(run) || holds(&stream)? {
            continue;
        }
        let state = crate::execute::load_state(store, run)?;
        let Some(notify) = state.workflow.as_ref().map(|w| &w.notify) else {
            continue;
        };
        let due = crate::plan::notifications_due(
            &crate::plan::ends_of(&state),
            state.session_seq,
            notify.on_failure.len(),
            notify.on_finish.len(),
            &[],
        );
        if due.is_empty() {
            continue;
        }
        // Each end its session came to owes its own ("failed, then aborted").
        let end = due
            .iter()
            .map(|d| d.end.status)
            .collect::<Vec<_>>()
            .join(", then ");
        let due = crate::plan::due_refs(&due);
        // Not a failure: a driver killed between the run's end and its first delivery's
        // record leaves the same log as a removed chain. Said beside the verdict.
        report
            .notifications_unrecorded
            .push(crate::store::BadEvent {
                run_id: run.clone(),
                seq: state.events.saturating_sub(1).min(i64::MAX as u64) as i64,
                reason: format!(
                    "its `notify:` was due when it came to its end ({end}, {}), and the log holds no notification chain {stream}: its deliveries were removed, or its driver was killed before it recorded the first (then `status` lists them pending, and `resume --notify-only` delivers them)",
                    crate::render::count(due.len(), "notification")
                ),
            });
    }
    report.links = links;
    report.notifying = notifying;
    Ok(())
}

/// `log verify` (the whole log) as `cortex serve` answers it where its log is not made yet (a
/// home with no runs): verified and empty, with a note saying so — its footer links to it on
/// every page, and the CLI's bad input (exit 2) names flags an HTTP client has no use for.
/// The CLI's own answer is unchanged.
pub fn verify_not_made_yet(ctx: &Ctx) -> Result<Output, CommandError> {
    let shown = ctx.location()?.shown();
    let report = verify_rows(&[]);
    let text = render_verify(&report);
    let mut output = Output::new(report, text, exit::OK);
    output.json["note"] = format!(
        "no log at {shown} yet (it is made by the first run): nothing recorded, nothing to verify"
    )
    .into();
    Ok(output)
}

/// `log verify` where the log it would read is not there: bad input, naming where it looked
/// and how to point at the log meant.
fn no_log_to_verify(ctx: &Ctx) -> Result<CommandError, CommandError> {
    let shown = ctx.location()?.shown();
    Ok(CommandError::bad_input(format!(
        "there is no log at {shown}: nothing to verify"
    ))
    .hint(match ctx.surface {
        super::Surface::Cli => format!(
            "say which log to verify with --home DIR (its cortex.db), --db PATH or URL, CORTEX_DB, or `db` in cortex.config.json; {} verifies a copy or an export; a home's cortex.db is made by its first run",
            ctx.cmd(&["log", "verify", "--file", "FILE"])
        ),
        // A server verifies the log it was started on: a call names no other but a file.
        s => format!(
            "this server reads the log it was started on (its --home, --db, CORTEX_DB, or `db` in cortex.config.json); {} verifies a copy or an export; a home's cortex.db is made by its first run",
            s.set("file", "FILE")
        ),
    }))
}

/// The report of rows `rows` held to the anchors `relevant` to them: counted, and every
/// anchored head missing, changed or no longer the head fails its run.
fn hold_to_anchors(
    report: &mut crate::store::VerifyReport,
    rows: &[crate::store::RawRow],
    relevant: &[crate::store::Anchor],
) {
    report.anchors = Some(relevant.len() as u64);
    for bad in check_anchors(rows, relevant) {
        report.fail(bad);
    }
}

/// The run `query` names for `log verify` (as every command finds runs); and one the log no
/// longer finds but the anchors `anchored` name (its id, or a prefix of one alone): a run
/// whose events and index row were deleted is checked, and fails as missing, rather than
/// said not to exist.
fn resolve_verified_run(
    ctx: &Ctx,
    store: &dyn EventStore,
    query: &str,
    anchored: Option<&[Anchor]>,
) -> Result<String, CommandError> {
    let err = match resolve_chain(ctx, store, Some(query), &["log", "verify"]) {
        Ok(run) => return Ok(run),
        Err(e) => e,
    };
    // A row of the run index whose run has no events is no run to list or find, but it is
    // what a verify of that id checks (the row remembers events since removed).
    if let Ok(Some(rows)) = store.index_rows()
        && rows.iter().any(|r| r.run_id == query)
    {
        return Ok(query.to_string());
    }
    let Some(anchored) = anchored else {
        return Err(err);
    };
    if let Some(a) = anchored.iter().find(|a| a.run_id == query) {
        return Ok(a.run_id.clone());
    }
    let mut prefixed = anchored.iter().filter(|a| a.run_id.starts_with(query));
    match (prefixed.next(), prefixed.next()) {
        (Some(a), None) => Ok(a.run_id.clone()),
        _ => Err(err),
    }
}

/// The runs still to check one by one: those whose chains verified, that decode, and that
/// have not failed a check.
fn checkable(report: &crate::store::VerifyReport) -> Vec<Option<String>> {
    report
        .heads
        .iter()
        .filter(|(r, _)| !report.failed(r) && !report.unreadable.iter().any(|u| u.run_id == *r))
        .map(|(r, _)| Some(r.clone()))
        .collect()
}

/// `check` over `runs` (`[None]`: one pass over the whole log), each failure recorded. A
/// failure found in one pass over the whole log is followed by a check of every run not yet
/// failed, one by one: one changed run never hides another.
fn check_each(
    report: &mut crate::store::VerifyReport,
    runs: &[Option<String>],
    mut check: impl FnMut(Option<&str>) -> Result<Option<crate::store::BadEvent>, CommandError>,
) -> Result<(), CommandError> {
    for run in runs {
        if let Some(bad) = check(run.as_deref())? {
            report.fail(bad);
            if run.is_none() {
                for run in checkable(report) {
                    if let Some(bad) = check(run.as_deref())? {
                        report.fail(bad);
                    }
                }
            }
        }
    }
    Ok(())
}

/// The first 512 bytes of `file` (fewer if it is shorter or cannot be read).
fn head_of(file: &Path) -> Vec<u8> {
    let mut head = vec![0u8; 512];
    let n = std::fs::File::open(file)
        .and_then(|mut f| std::io::Read::read(&mut f, &mut head))
        .unwrap_or(0);
    head.truncate(n);
    head
}

/// `log verify --file F` of an exported run (or several, one after another): its chain
/// checked from the lines alone, line by line, and the heads of the runs it holds against
/// `anchors` if given (an export holds the runs it was made of, not the whole log). A line
/// that is not an exported event fails verification, saying which line and why. What it
/// proves is what the database's check proves of the same rows (DESIGN.md §7).
fn verify_export(
    file: &Path,
    anchors: Option<&[crate::store::Anchor]>,
) -> Result<Output, CommandError> {
    let shown = file.display().to_string();
    let (mut report, kept) = std::fs::File::open(file)
        .and_then(|f| crate::store::verify_export(std::io::BufReader::new(f), anchors.is_some()))
        .map_err(|e| CommandError::bad_input(format!("cannot read {shown}: {e}")))?;
    if report.ok && report.events == 0 {
        return Err(
            CommandError::bad_input(format!("{shown} holds no events")).hint(
                super::Hint::suggest(&["log", "export", "RUN"])
                    .then(" writes a run's events as JSON Lines (redirect it into FILE)"),
            ),
        );
    }
    if let Some(anchors) = anchors {
        let held: std::collections::HashSet<&[u8]> =
            kept.iter().map(|r| r.run_id.as_slice()).collect();
        let relevant: Vec<_> = anchors
            .iter()
            .filter(|a| held.contains(a.run_id.as_bytes()))
            .cloned()
            .collect();
        hold_to_anchors(&mut report, &kept, &relevant);
    }
    let text = render_verify(&report);
    let code = if report.ok { exit::OK } else { exit::FAILED };
    Ok(Output::new(report, text, code))
}

/// `log anchor [--file F]`: anchor the heads of finished runs — append new ones to `file`, or
/// list them all.
pub fn anchor(ctx: &Ctx, file: Option<&Path>) -> Result<Output, CommandError> {
    let store = ctx
        .reading_store()?
        .ok_or_else(|| ctx.no_runs_of_any_kind())?;
    // The heads anchored are those of the chains verified: one view of the log.
    let _view = crate::store::View::of(&store)?;
    let rows = store.raw_rows(None)?;
    let report = verify_rows(&rows);
    if !report.ok {
        let mut e = CommandError::new(
            exit::FAILED,
            "the log does not verify: anchoring it would vouch for a broken chain",
        );
        e.detail = Some(render_verify(&report));
        return Err(e);
    }
    let mut anchors = Vec::new();
    for head in store.runs()? {
        if crate::execute::load_state(&store, &head.run_id)?
            .outcome()
            .is_some()
        {
            anchors.push(Anchor {
                run_id: head.run_id.clone(),
                seq: head.events as i64 - 1,
                hash: head.head_hash.clone(),
            });
        }
    }
    let Some(path) = file else {
        let docs: Vec<_> = anchors
            .iter()
            .map(|a| serde_json::json!({"run_id": a.run_id, "seq": a.seq, "head_hash": a.hash}))
            .collect();
        let text = anchors.iter().map(|a| a.line() + "\n").collect::<String>();
        return Ok(Output::new(docs, text, exit::OK));
    };
    let existing = match read_anchors(path) {
        Ok(text) => parse_anchors(&text)
            .map_err(|e| CommandError::bad_input(format!("{}: {e}", path.display())))?,
        Err(ReadError::NotFound) => Vec::new(),
        Err(e) => {
            return Err(CommandError::bad_input(format!(
                "cannot read {}: {e}",
                path.display()
            )));
        }
    };
    let new: Vec<&Anchor> = anchors
        .iter()
        .filter(|a| !existing.iter().any(|e| e.run_id == a.run_id))
        .collect();
    let text: String = new.iter().map(|a| a.line() + "\n").collect();
    use std::io::Write;
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()).and_then(|()| f.sync_data()))
        .map_err(|e| {
            CommandError::new(
                exit::FAILED,
                format!("cannot append to {}: {e}", path.display()),
            )
        })?;
    Ok(Output::new(
        serde_json::json!({"file": path.display().to_string(), "anchored": new.len(), "already": existing.len()}),
        format!(
            "Anchored {} in {} ({} already there).\n",
            crate::render::count(new.len(), "finished run"),
            path.display(),
            existing.len()
        ),
        exit::OK,
    ))
}

/// `log reindex`: rebuild the run index (the cache that finds runs by name and lists history)
/// from the events, in one transaction, and say what it changed. The events are trusted as
/// they are: a row that remembered events since removed is dropped (and named), so `log
/// verify` comes first.
pub fn reindex(ctx: &Ctx) -> Result<Output, CommandError> {
    rebuild_index(ctx).map_err(|e| super::Retry::command(&["log", "reindex"]).on_busy(ctx, e))
}

/// `reindex`, once.
fn rebuild_index(ctx: &Ctx) -> Result<Output, CommandError> {
    let (opened, read_only) = ctx.changing_store()?;
    let mut store = opened.ok_or_else(|| ctx.no_runs_of_any_kind())?;
    if let Some(e) = read_only {
        return Err(e);
    }
    let Some(repair) = store.rebuild_index()? else {
        let text =
            "This log keeps no run index: runs are found from their events; nothing to rebuild.\n";
        return Ok(Output::new(
            serde_json::json!({"runs": 0, "rebuilt": false}),
            text,
            exit::OK,
        ));
    };
    let mut text = if repair.unchanged() {
        format!(
            "✅ Run index rebuilt from the events: {}; it agreed with the log already.\n",
            crate::render::count(repair.runs, "run")
        )
    } else {
        format!(
            "✅ Run index rebuilt from the events: {}.\n",
            crate::render::count(repair.runs, "run")
        )
    };
    if let Some(why) = &repair.unreadable {
        text.push_str(&format!(
            "   the index could not be read ({why}): every row was written again\n"
        ));
    }
    for run in &repair.added {
        text.push_str(&format!("   + {run}: missing from it, added\n"));
    }
    for (run, what) in &repair.corrected {
        text.push_str(&format!("   ~ {run}: {what}, corrected\n"));
    }
    for row in &repair.removed {
        text.push_str(&format!(
            "   - {}: the index named {} of `{}`, the log holds none (events were removed), removed\n",
            row.run_id,
            crate::render::count(row.events as usize, "event"),
            row.name
        ));
    }
    if !repair.removed.is_empty() {
        text.push_str("   restore the removed events from a backup if they should be there; the index now says what the log holds\n");
    }
    for (run, why) in &repair.refused {
        text.push_str(&format!(
            "   ! {}: not indexed: {why}; {} names it\n",
            crate::render::one_line(run),
            ctx.cmd(&["log", "verify"])
        ));
    }
    let mut doc = serde_json::to_value(&repair).unwrap_or_default();
    doc["rebuilt"] = true.into();
    Ok(Output::new(doc, text, exit::OK))
}

/// The hint under a `log verify` that failed on the run index: the index is a cache of the
/// events, and `log reindex` rebuilds it.
fn reindex_hint(ctx: &Ctx, report: &crate::store::VerifyReport) -> Option<String> {
    report
        .failures
        .iter()
        .any(|f| f.reason.starts_with("the run index"))
        .then(|| {
            format!(
                "   the run index is a cache of the events: if the events are as they should be (their chains verify), {} rebuilds it from them; if events were removed, restore them from a backup first\n",
                ctx.cmd(&["log", "reindex"])
            )
        })
}

/// `log copy --to URL`: copy every run (and the agent registry) of this log into another one,
/// row by row as stored — never re-hashed — so the copy verifies with the same hashes. Each
/// run's chain is verified here first and there after. A run already there with the same
/// head is left alone; one there that this run continues (copied before it went on) gets the
/// rest; one there that continues this run (copied, then gone on there) is already there
/// (`ahead`); one there with another history is refused, as is a run that does not verify here,
/// and one being driven or cut short (`not_copyable`). A run another copy imported first is
/// judged again against what is there (`CopyOutcome`); each run is said for itself. Runs
/// whose events name each other (a parent and its `uses:` children: `copy_group`) are
/// imported in one transaction, whole or not at all.
pub fn copy(ctx: &Ctx, to: &str) -> Result<Output, CommandError> {
    let example = || {
        format!(
            "e.g. {}",
            ctx.cmd(&[
                "log",
                "copy",
                "--to",
                "postgres://cortex@db.example:5432/cortex"
            ])
        )
    };
    let target = Location::read(to, &ctx.cwd)
        .map_err(|e| CommandError::bad_input(format!("--to: {e}")).hint(example()))?
        .ok_or_else(|| {
            CommandError::bad_input("--to is empty: say which log to copy into").hint(example())
        })?;
    let source_location = ctx.location()?;
    let from = source_location.shown();
    let into = target.shown();
    if target.same_log(&source_location) {
        return Err(
            CommandError::bad_input(format!("--to names the log being copied ({into})"))
                .hint("copy into another log; --db or CORTEX_DB chooses the one to copy from"),
        );
    }
    // Opened first (a SQLite file's folder must be there: none is made, a typo in `--to`
    // made a tree of them — `StoreError::NoFolder`), so that copying an empty log sets up (or upgrades) the other one: how a
    // team's database gets its tables from the role that owns them.
    let mut dest = target
        .open(crate::definition::Durability::Normal)
        .map_err(|e| match e {
            // The file `--to` names is no cortex log (or a damaged one): said of it, not of
            // this home's log, whose repair the error's hints described.
            crate::store::StoreError::Damaged(why) => CommandError::bad_input(format!(
                "--to {into} is not a cortex log, or a damaged one ({why}); nothing was copied"
            ))
            .hint("name a new file (it is made) or an existing cortex log; or a PostgreSQL URL")
            .hint(example()),
            e => super::context::not_opened(e),
        })?;
    let Some(source) = ctx.reading_store()? else {
        let doc = serde_json::json!({"from": from, "to": into, "runs": 0, "copied": [], "extended": [], "already": [], "ahead": [], "refused": [], "events": 0});
        return Ok(Output::new(
            doc,
            format!("{from} has no runs: nothing to copy ({into} is set up).\n"),
            exit::OK,
        ));
    };
    let (mut copied, mut extended, mut already) = (Vec::new(), Vec::new(), Vec::new());
    let mut ahead: Vec<String> = Vec::new();
    // Each run copied before it finished (`unfinished_group`), with its group, those copied
    // first (went on with: `false`) as `copied` and `extended` list them.
    let mut unfinished: Vec<(bool, String, &str)> = Vec::new();
    let mut refused: Vec<serde_json::Value> = Vec::new();
    let mut events = 0u64;
    let mut registry: Option<serde_json::Value> = None;
    // The whole output of attempts goes along (SPEC §9, §11): into the other log's table when
    // it keeps them (PostgreSQL), else into files beside it, as a home lays them out.
    let dest_home = match &target {
        Location::Sqlite(path) => Some(
            path.parent()
                .filter(|d| !d.as_os_str().is_empty())
                .map_or_else(|| ctx.cwd.clone(), Path::to_path_buf),
        ),
        _ => None,
    };
    let mut outputs = OutputsCopied::default();
    // Runs first, then the chains that only name runs (notification deliveries, schedules):
    // one naming a run this copy refused is left behind with it (`left_behind`).
    let mut heads = source.runs()?;
    heads.sort_by_key(|h| !crate::event::is_run_chain(h.run_id.as_bytes()));
    let mut runs = 0usize;
    let mut seen = std::collections::HashSet::new();
    let mut left_behind = std::collections::HashSet::new();
    for head in &heads {
        let run_id = head.run_id.as_str();
        // The agent registry is a stream each log keeps of its own, not a run: it is merged
        // (`copy_registry`), never refused for a history of its own there.
        if run_id == crate::event::REGISTRY_CHAIN {
            registry = Some(copy_registry(&source, &mut dest)?);
            continue;
        }
        if seen.contains(run_id) {
            continue;
        }
        // A run and the runs linked to it (a parent and its `uses:` children), read whole
        // first and imported in one transaction: a copy cut short (killed, a full target, a
        // dropped connection) never leaves one naming another that is not there, which
        // `log verify` there reads as events removed.
        let group = super::copy_group::read_group(ctx, &*source, run_id, &mut seen, &left_behind)?;
        runs += group.len();
        let mut refuse = |run_id: &str, reason: String| {
            left_behind.insert(run_id.to_string());
            refused.push(serde_json::json!({"run_id": run_id, "reason": reason}));
        };
        // The other log at the moment of each try: another copy (of this log, or of another
        // holding the same runs) may import one between the read and the import; the import
        // then fails as out of date, and the group is judged again against what is there
        // now — the same history is already there, not a failure.
        let mut tries = 0;
        let outcomes = loop {
            tries += 1;
            let mut outcomes = Vec::with_capacity(group.len());
            for member in &group {
                outcomes.push(match &member.refusal {
                    Some(reason) => CopyOutcome::Differs(reason.clone()),
                    None => judge(&*dest, &member.run_id, &member.rows, &into)?,
                });
            }
            if outcomes
                .iter()
                .any(|o| matches!(o, CopyOutcome::Differs(_)))
            {
                break outcomes;
            }
            let slices: Vec<&[crate::store::RawRow]> = group
                .iter()
                .zip(&outcomes)
                .filter_map(|(m, o)| match o {
                    CopyOutcome::Imported(from_seq) => Some(&m.rows[*from_seq..]),
                    _ => None,
                })
                .collect();
            let failed = match dest.import_runs(&slices) {
                Ok(()) => break outcomes,
                Err(crate::store::StoreError::Conflict { .. }) if tries < 5 => continue,
                Err(crate::store::StoreError::Conflict {
                    run_id,
                    expected,
                    actual,
                }) => (
                    run_id,
                    format!(
                        "{into} kept changing while it was copied (expected it at seq {expected}, found it at {actual}, {tries} times): copy again"
                    ),
                ),
                // Refused by the other log's check of what is imported (`check_import`):
                // nothing of the group was imported.
                Err(e) if run_fault(&e) => match faulty_run(&e) {
                    Some(run_id) => (run_id.to_string(), format!("{into} refused it: {e}")),
                    None => return Err(e.into()),
                },
                Err(e) => return Err(e.into()),
            };
            for (member, outcome) in group.iter().zip(outcomes.iter_mut()) {
                if member.run_id == failed.0 {
                    *outcome = CopyOutcome::Differs(failed.1.clone());
                }
            }
            break outcomes;
        };
        // A group is copied whole or not at all: with one of its runs refused, none of the
        // others is imported (those already there stay as they are), each said, naming it.
        let first_refused = group
            .iter()
            .zip(&outcomes)
            .find(|(_, o)| matches!(o, CopyOutcome::Differs(_)))
            .map(|(m, _)| m.run_id.clone());
        for (member, outcome) in group.iter().zip(outcomes) {
            let run_id = member.run_id.as_str();
            let from_seq = match outcome {
                CopyOutcome::Imported(_) if first_refused.is_some() => {
                    let with = first_refused.as_deref().unwrap_or_default();
                    refuse(
                        run_id,
                        format!(
                            "it is linked to run {with}, which is not copied: a run and the runs its `uses:` steps started (or that started it) are copied together or not at all, so that none in {into} names a run that is not there"
                        ),
                    );
                    continue;
                }
                CopyOutcome::Imported(from_seq) => from_seq,
                CopyOutcome::Already => {
                    already.push(run_id.to_string());
                    outputs.copy(ctx, &*source, &mut *dest, dest_home.as_deref(), run_id)?;
                    continue;
                }
                CopyOutcome::Ahead => {
                    already.push(run_id.to_string());
                    ahead.push(run_id.to_string());
                    outputs.copy(ctx, &*source, &mut *dest, dest_home.as_deref(), run_id)?;
                    continue;
                }
                CopyOutcome::Differs(reason) => {
                    refuse(run_id, reason);
                    continue;
                }
            };
            let rows = &member.rows;
            let copied_head = &crate::store::hex(&rows[rows.len() - 1].hash);
            let check = dest.verify(Some(run_id))?;
            // Held to what was copied (at the seq it ends), not to the source's head now, nor
            // to the other log's head (either may have gone on meanwhile).
            let landed = dest.hash_at(run_id, rows.len() as u64 - 1)?;
            if !check.ok || landed.as_ref() != Some(copied_head) {
                // Said for this run; the others are still copied.
                refuse(
                    run_id,
                    format!(
                        "it does not verify in {into} after copying it: {} shows where",
                        ctx.clone()
                            .with_db(Some(to.to_string()))
                            .cmd(&["log", "verify", run_id])
                    ),
                );
                continue;
            }
            events += (rows.len() - from_seq) as u64;
            outputs.copy(ctx, &*source, &mut *dest, dest_home.as_deref(), run_id)?;
            if let Some(group) = unfinished_group(run_id, rows) {
                unfinished.push((from_seq > 0, run_id.to_string(), group));
            }
            match from_seq {
                0 => copied.push(run_id.to_string()),
                _ => extended.push(run_id.to_string()),
            }
        }
    }
    // Runs and the log's other chains (notification deliveries, schedules) counted apart, as
    // `log verify` counts them: before, "Copied 17 runs" of 13 runs and 4 other chains.
    let chains = copied
        .iter()
        .filter(|id| !crate::event::is_run_chain(id.as_bytes()))
        .count();
    let copied_runs = crate::render::count(copied.len() - chains, "run");
    let mut text = format!(
        "Copied {}{} ({}) from {from} into {into}",
        copied_runs,
        match chains {
            0 => String::new(),
            1 => " and 1 other chain".to_string(),
            n => format!(" and {n} other chains"),
        },
        crate::render::count(events as usize, "event")
    );
    if !extended.is_empty() {
        text.push_str(&format!(", went on with {} copied before", extended.len()));
    }
    text.push_str(&format!("; {} already there", already.len()));
    if !ahead.is_empty() {
        text.push_str(&format!(
            " ({} gone further there: {into} holds what this log has and more)",
            ahead.len()
        ));
    }
    text.push_str(".\n");
    if outputs.copied > 0 || outputs.already > 0 {
        text.push_str(&format!(
            "  the whole output of attempts: {} copied{}{}\n",
            crate::render::count(outputs.copied as usize, "attempt log"),
            match outputs.unrecorded {
                0 => String::new(),
                n => format!(
                    " ({n} of attempts cut off before they ended, as found: the log records no size or hash of them)"
                ),
            },
            match outputs.already {
                0 => String::new(),
                n => format!(", {n} already there"),
            }
        ));
    }
    for left in &outputs.left {
        // Each what a log held: one line each, whatever it holds.
        let field = |key: &str| crate::render::one_line(left[key].as_str().unwrap_or_default());
        text.push_str(&format!(
            "  not copied: the output {} of run {} — {}{}\n",
            field("file"),
            field("run_id"),
            field("reason"),
            match (left["fix"].as_str(), left["recorded"] == true) {
                (Some(_), true) => format!(
                    "; `log verify` of {into} fails on that run until it is there: {}",
                    field("fix")
                ),
                (Some(_), false) => format!("; {}", field("fix")),
                (None, _) => String::new(),
            }
        ));
    }
    for folder in &outputs.folders {
        text.push_str(&folder.line(&into));
    }
    if let Some(r) = &registry {
        let n = r["events"].as_u64().unwrap_or(0) as usize;
        let line = match r["how"].as_str().unwrap_or_default() {
            "copied" => format!(
                "  the agent registry: {} copied as stored\n",
                crate::render::count(n, "event")
            ),
            "appended" => format!(
                "  the agent registry: {} appended after {into}'s own (its history kept; `agent list` there shows the result)\n",
                crate::render::count(n, "activation or deactivation")
            ),
            "refused" => format!(
                "  not copied: the agent registry — {}\n",
                r["reason"].as_str().unwrap_or_default()
            ),
            _ => "  the agent registry: already there\n".to_string(),
        };
        text.push_str(&line);
    }
    for r in &refused {
        let field = |key: &str| crate::render::one_line(r[key].as_str().unwrap_or_default());
        text.push_str(&format!(
            "  not copied: run {} — {}\n",
            crate::render::shown_chain_id(r["run_id"].as_str().unwrap_or_default()),
            field("reason")
        ));
    }
    let registry_refused = registry.as_ref().is_some_and(|r| r["how"] == "refused");
    let outputs_missing = outputs.recorded_left();
    let code = if refused.is_empty() && !registry_refused && !outputs_missing {
        exit::OK
    } else {
        exit::FAILED
    };
    let doc = serde_json::json!({
        "from": from,
        "to": into,
        "runs": runs,
        "copied": copied,
        "extended": extended,
        "already": already,
        "ahead": ahead,
        "refused": refused,
        "events": events,
        "registry": registry,
        "attempt_logs": {
            "copied": outputs.copied, "unrecorded": outputs.unrecorded, "already": outputs.already,
            "left": outputs.left,
            "folders": outputs.folders.iter().map(UnfitOutputs::document).collect::<Vec<_>>(),
        },
    });
    unfinished.sort_by_key(|(went_on, ..)| *went_on);
    let warnings = match unfinished.as_slice() {
        [] => Vec::new(),
        ids => {
            let one = ids.len() == 1;
            let (_, first, group) = &ids[0];
            vec![format!(
                "{} copied before {} finished ({}): carry {} on in one log only — in {into} from now on ({}), or here, leaving the copy as it is; acted on in both, {} history forks under one id, and a later copy refuses {}",
                if one {
                    "1 run was".to_string()
                } else {
                    format!("{} runs were", ids.len())
                },
                if one { "it" } else { "they" },
                ids.iter()
                    .map(|(_, id, _)| id.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                if one { "it" } else { "each" },
                ctx.clone()
                    .with_db(Some(to.to_string()))
                    .cmd(&[*group, "status", first.as_str()]),
                if one { "its" } else { "their" },
                if one { "it" } else { "them" },
            )]
        }
    };
    Ok(Output::new(doc, text, code).warn(warnings))
}

/// The group (`workflow` or `orchestrate`) of run `run_id` when the rows `log copy` copied
/// of it (`rows`, the whole run as read) end before it finished: live in both logs, carried
/// on in each, their histories fork under one id (a later copy refuses it, but only once it
/// has), which `log copy` says, with how to go on in one of them. The rows in hand are
/// folded (`decide::replay`), not the log read again: the state is the one copied. None for
/// another chain (notification deliveries, schedules), a finished run, or rows that do not
/// decode (the copy checked and decoded them as it imported them).
fn unfinished_group(run_id: &str, rows: &[crate::store::RawRow]) -> Option<&'static str> {
    if !crate::event::is_run_id(run_id.as_bytes()) {
        return None;
    }
    let events = crate::store::decode_rows(rows).ok()?;
    let state = crate::decide::replay(&events);
    if matches!(state.phase, crate::decide::RunPhase::Finished { .. }) {
        return None;
    }
    Some(if state.is_scenario() {
        "orchestrate"
    } else {
        "workflow"
    })
}

/// The whole outputs of attempts `log copy` carried: how many were copied, how many were there
/// already, and those it could not (with why).
#[derive(Default)]
struct OutputsCopied {
    copied: u64,
    /// Of those copied, the outputs of attempts cut off before an `attempt_log` recorded
    /// them (copied as found).
    unrecorded: u64,
    already: u64,
    left: Vec<serde_json::Value>,
    /// Outputs not copied for a folder of their path there (`UnfitOutputs`), by folder.
    folders: Vec<UnfitOutputs>,
}

impl OutputsCopied {
    /// Copy the whole output of every attempt of `run_id`, from this home's file or what
    /// `source` keeps, into `dest` (`execute::output_mirror`): as its `attempt_log` records
    /// it, and, for an attempt cut off before it recorded one (stopped, its worker killed),
    /// as found (`unrecorded_output`: its file here, else the copy PostgreSQL kept while it
    /// ran). Before, only attempts with an `attempt_log` were copied: an interrupted
    /// attempt's output, kept by the source log, was lost in the copy, where `cortex logs`
    /// then said it had printed nothing.
    fn copy(
        &mut self,
        ctx: &Ctx,
        source: &dyn EventStore,
        dest: &mut dyn EventStore,
        dest_home: Option<&Path>,
        run_id: &str,
    ) -> Result<(), CommandError> {
        use crate::event::Event;
        use crate::execute::output_mirror::{OutputCopy, copy_attempt_output, unrecorded_output};
        // An output that cannot be copied is said for that output (`left`), the run's events
        // being copied already; the copy goes on. Before, it ended the copy there, the runs
        // after it never copied.
        // One the log vouches for (an `attempt_log` records it) leaves the other log failing
        // `log verify` on that run: the copy then fails (exit 1), with the fix.
        let mut left = |file: &str, reason: String, recorded: bool, fix: Option<String>| {
            let fix = fix.or_else(|| recorded.then(|| format!(
                "{} here says what is wrong with it; once this home holds it as recorded (from the home that ran it, or a backup), copy again",
                ctx.cmd(&["log", "verify", run_id])
            )));
            self.left.push(serde_json::json!({
                "run_id": run_id, "file": file, "reason": reason, "recorded": recorded, "fix": fix,
            }));
        };
        // Each attempt started (a unit running a command here or on a worker), and the
        // output its `attempt_log` vouches for, if it recorded one.
        let mut started: Vec<(String, u32)> = Vec::new();
        let mut recorded: Vec<(String, u32, String, u64, String)> = Vec::new();
        // Of each recorded output, whether the file at its path in this home is its own
        // (`execute::file_here_is_its`): one another home's attempt left here is not copied
        // as it (the copy the log keeps is, or the output is left, said).
        let this =
            crate::execute::ThisHome::of(&ctx.home, matches!(ctx.location()?, Location::Sqlite(_)));
        let mut hosts = None;
        let mut its: Vec<bool> = Vec::new();
        for rec in source.read_run(run_id)? {
            match rec.event {
                Event::StepStarted { step, attempt } => started.push((step, attempt)),
                Event::AttemptLog {
                    step,
                    attempt,
                    file,
                    bytes,
                    blake3,
                    home,
                    home_dir,
                    ..
                } => {
                    let mut by = crate::execute::WrittenBy {
                        home: home.as_deref(),
                        dir: home_dir.as_deref(),
                        host: None,
                    };
                    // The host matters only where another identity names this home's folder.
                    if by.home.is_some()
                        && by.home != this.id.as_deref()
                        && by.dir.is_some()
                        && by.dir == this.dir.as_deref()
                    {
                        if hosts.is_none() {
                            hosts = Some(crate::execute::attempt_hosts(source, run_id)?);
                        }
                        by.host = hosts
                            .as_ref()
                            .and_then(|h| h.get(&(step.clone(), attempt)))
                            .map(String::as_str);
                    }
                    its.push(crate::execute::file_here_is_its(by, &this));
                    recorded.push((step, attempt, file, bytes, blake3));
                }
                _ => {}
            }
        }
        let mut outputs: Vec<(String, u64, String, bool, bool)> = recorded
            .iter()
            .zip(&its)
            .map(|((_, _, file, bytes, blake3), its)| {
                (file.clone(), *bytes, blake3.clone(), false, *its)
            })
            .collect();
        for (step, attempt) in &started {
            if recorded.iter().any(|(s, a, ..)| s == step && a == attempt) {
                continue;
            }
            let file = crate::execute::attempt_log_name(run_id, step, *attempt);
            match unrecorded_output(&ctx.home, source, run_id, &file) {
                Ok(Some((bytes, blake3))) => outputs.push((file, bytes, blake3, true, true)),
                Ok(None) => {}
                Err(e) => left(&file, e, false, None),
            }
        }
        for (file, bytes, blake3, unrecorded, its) in &outputs {
            let home = its.then_some(ctx.home.as_path());
            match copy_attempt_output(home, source, dest, dest_home, run_id, file, *bytes, blake3) {
                Ok(OutputCopy::Copied) => {
                    self.copied += 1;
                    self.unrecorded += u64::from(*unrecorded);
                }
                Ok(OutputCopy::Already) => self.already += 1,
                Ok(OutputCopy::Occupied(reason)) => {
                    let there = dest_home
                        .map_or_else(|| file.clone(), |d| d.join(file).display().to_string());
                    left(
                        file,
                        format!("another file is at its path in the other log's folder ({reason})"),
                        !*unrecorded,
                        Some(format!(
                            "move {} aside (it is not the output the log records; keep it if it matters) and copy again",
                            crate::render::shell_quote(&there)
                        )),
                    )
                }
                Ok(OutputCopy::Unfit(unfit)) => {
                    let at = match self.folders.iter().position(|f| f.unfit == unfit) {
                        Some(at) => at,
                        None => {
                            self.folders.push(UnfitOutputs {
                                unfit,
                                outputs: Vec::new(),
                            });
                            self.folders.len() - 1
                        }
                    };
                    self.folders[at]
                        .outputs
                        .push((run_id.to_string(), file.clone(), !*unrecorded));
                }
                Ok(OutputCopy::Left(reason)) | Err(reason) => {
                    left(file, reason, !*unrecorded, None)
                }
            }
        }
        Ok(())
    }

    /// Whether an output an `attempt_log` vouches for was left behind: the other log then
    /// fails `log verify` on its run.
    fn recorded_left(&self) -> bool {
        self.left.iter().any(|l| l["recorded"] == true)
            || self
                .folders
                .iter()
                .any(|f| f.outputs.iter().any(|(_, _, recorded)| *recorded))
    }
}

/// The outputs `log copy` did not copy because a folder of their path beside the other log
/// is a link or no folder (`OutputCopy::Unfit`): the folder, said once with its own fix,
/// and each output it stopped (run, file, whether an `attempt_log` vouches for it).
struct UnfitOutputs {
    unfit: crate::execute::UnfitFolder,
    outputs: Vec<(String, String, bool)>,
}

impl UnfitOutputs {
    /// Its runs, each once, in the order met.
    fn runs(&self) -> Vec<&str> {
        let mut runs: Vec<&str> = Vec::new();
        for (run, ..) in &self.outputs {
            if !runs.contains(&run.as_str()) {
                runs.push(run);
            }
        }
        runs
    }

    /// The fix, whole: the folder's, then the copy again.
    fn fix(&self) -> String {
        format!("{}, then copy again", self.unfit.fix())
    }

    fn document(&self) -> serde_json::Value {
        serde_json::json!({
            "folder": self.unfit.path.display().to_string(),
            "reason": self.unfit.reason(),
            "fix": self.fix(),
            "recorded": self.outputs.iter().any(|(_, _, r)| *r),
            "outputs": self.outputs.iter().map(|(run, file, recorded)| serde_json::json!({
                "run_id": run, "file": file, "recorded": recorded,
            })).collect::<Vec<_>>(),
        })
    }

    /// Its line: the outputs it stopped, the folder's reason, and its fix once.
    fn line(&self, into: &str) -> String {
        let runs = self.runs();
        let of = match runs.as_slice() {
            [one] => format!("of run {}", crate::render::one_line(one)),
            _ => format!("of {}", crate::render::count(runs.len(), "run")),
        };
        let vouched = self.outputs.iter().any(|(_, _, r)| *r);
        format!(
            "  not copied: the output of {} {of} — {}; {}{}\n",
            crate::render::count(self.outputs.len(), "attempt"),
            crate::render::one_line(&self.unfit.reason()),
            match (vouched, runs.len()) {
                (true, 1) => format!(
                    "`log verify` of {into} fails on that run until its outputs are there: "
                ),
                (true, _) => format!(
                    "`log verify` of {into} fails on those runs until their outputs are there: "
                ),
                (false, _) => String::new(),
            },
            crate::render::one_line(&self.fix())
        )
    }
}

/// Whether `e` is a fault of one run's rows (they do not decode, verify or pass an import's
/// check), which `log copy` says for that run and goes on with the others, rather than a fault
/// of either log (unreachable, full, read-only), which ends the copy.
pub(super) fn run_fault(e: &crate::store::StoreError) -> bool {
    use crate::store::StoreError;
    matches!(
        e,
        StoreError::Corrupt { .. } | StoreError::NewerEvent { .. } | StoreError::Unverified { .. }
    )
}

/// What became of one run `log copy` tried to import.
enum CopyOutcome {
    /// Its rows from this seq on are imported (with the rest of its group).
    Imported(usize),
    /// The other log holds the same history.
    Already,
    /// The other log holds this history and more (copied, then gone on there).
    Ahead,
    /// Not copied, and why.
    Differs(String),
}

/// Judge one run to copy against what `dest` holds of it now: gone on there (copied before,
/// then driven in the other log), already there, another history there, or the rows to
/// import (from the seq `dest`'s head stops at).
fn judge(
    dest: &dyn EventStore,
    run_id: &str,
    rows: &[crate::store::RawRow],
    into: &str,
) -> Result<CopyOutcome, crate::store::StoreError> {
    let copied_head = &crate::store::hex(&rows[rows.len() - 1].hash);
    let there = dest.raw_rows(Some(run_id))?;
    let from_seq = there.len();
    // Gone on there: the source is a prefix of the target's run when the target's event at
    // the source's last seq has the source head's hash — the chain makes that hash stand for
    // every event before it. Already there, the target ahead: nothing to copy, nothing
    // differs.
    if from_seq > rows.len()
        && dest.hash_at(run_id, rows.len() as u64 - 1)?.as_ref() == Some(copied_head)
    {
        return Ok(CopyOutcome::Ahead);
    }
    if from_seq > rows.len()
        || there.last().map(|r| &r.hash) != from_seq.checked_sub(1).map(|i| &rows[i].hash)
    {
        return Ok(CopyOutcome::Differs(format!(
            "{into} holds it with another head ({} events, head {}): its history differs",
            there.len(),
            there
                .last()
                .map_or_else(String::new, |r| crate::store::hex(&r.hash))
        )));
    }
    if from_seq == rows.len() {
        return Ok(CopyOutcome::Already);
    }
    Ok(CopyOutcome::Imported(from_seq))
}

/// The run a fault of one run's rows (`run_fault`) names.
fn faulty_run(e: &crate::store::StoreError) -> Option<&str> {
    use crate::store::StoreError;
    match e {
        StoreError::Corrupt { run_id, .. }
        | StoreError::NewerEvent { run_id, .. }
        | StoreError::Unverified { run_id, .. } => Some(run_id),
        _ => None,
    }
}

/// Copy the agent registry (`REGISTRY_CHAIN`) of `source` into `dest`, which may hold one of
/// its own (everyone who activated an agent there). Where `dest`'s registry is a prefix of the
/// source's (none, or copied before), the rest is imported as stored, with the same hashes.
/// Otherwise the two histories differ and neither is rewritten: the source's events that
/// `dest` does not hold (by event id: an earlier copy's are there) are appended at `dest`'s
/// head, in the source's order, as new events of its chain (new seq and hashes; the same ids,
/// times and contents), so each lands exactly once and what `dest` recorded stays as it was.
/// The result as a document: how (`copied`, `appended`, `already`, `refused`) and how many.
fn copy_registry(
    source: &dyn EventStore,
    dest: &mut Box<dyn EventStore>,
) -> Result<serde_json::Value, CommandError> {
    use crate::event::REGISTRY_CHAIN;
    let rows = source.raw_rows(Some(REGISTRY_CHAIN))?;
    let here = verify_rows(&rows);
    if let Some(bad) = here.first_bad {
        return Ok(
            serde_json::json!({"how": "refused", "events": 0, "reason": format!(
                "it does not verify here (stream {REGISTRY_CHAIN}, seq {}: {})",
                bad.seq, bad.reason
            )}),
        );
    }
    let there = dest.raw_rows(Some(REGISTRY_CHAIN))?;
    let shared = there
        .iter()
        .zip(&rows)
        .take_while(|(a, b)| a.hash == b.hash)
        .count();
    if shared == rows.len() {
        return Ok(serde_json::json!({"how": "already", "events": 0}));
    }
    if shared == there.len() {
        dest.import_rows(&rows[shared..])?;
        return Ok(serde_json::json!({"how": "copied", "events": rows.len() - shared}));
    }
    let held: std::collections::HashSet<&[u8]> = there.iter().map(|r| r.id.as_slice()).collect();
    let mut pending: Vec<crate::event::NewEvent> = source
        .read_run(REGISTRY_CHAIN)?
        .into_iter()
        .filter(|r| !held.contains(r.id.as_bytes()))
        .map(|r| crate::event::NewEvent {
            id: r.id,
            time: r.time,
            event: r.event,
        })
        .collect();
    if pending.is_empty() {
        return Ok(serde_json::json!({"how": "already", "events": 0}));
    }
    let at = dest.append_at_head(REGISTRY_CHAIN, there.len() as u64, &mut |others, _| {
        // Appended there meanwhile (another copy of this log): not appended twice.
        pending.retain(|e| !others.iter().any(|o| o.id == e.id));
        pending.clone()
    })?;
    Ok(serde_json::json!({"how": "appended", "events": at.appended.len()}))
}
