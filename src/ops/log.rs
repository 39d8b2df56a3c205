//! The audit trail: show, export, verify (the chain, anchors, snapshots and the run index),
//! anchor. Every operation only reads the log, so each opens it for reading.

use std::path::Path;

use super::{CommandError, Ctx, Output, exit, no_runs};
use crate::execute::check_snapshots;
use crate::render::{render_event_line, render_verify};
use crate::store::{Anchor, EventStore, SqliteStore, check_anchors, parse_anchors, verify_rows};

/// `log show [RUN]`: every event of a run, one per line.
pub fn show(ctx: &Ctx, run: Option<&str>) -> Result<Output, CommandError> {
    let store = ctx.reading_store()?.ok_or_else(no_runs)?;
    let run_id = ctx.resolve_run(&store, super::Scope::any(), run)?;
    let events = store.read_run(&run_id)?;
    let scenario = matches!(
        events.first().map(|e| &e.event),
        Some(crate::event::Event::RunStarted(s)) if s.kind == crate::event::RunKind::Scenario
    );
    let mut text = format!("Run {run_id}: {} events\n", events.len());
    for e in &events {
        text.push_str(&render_event_line(e, scenario));
        text.push('\n');
    }
    Ok(Output::new(events, text, exit::OK))
}

/// `log export [RUN]`: a run's events as JSON Lines (the text), and as a list (the document).
pub fn export(ctx: &Ctx, run: Option<&str>) -> Result<Output, CommandError> {
    let store = ctx.reading_store()?.ok_or_else(no_runs)?;
    let run_id = ctx.resolve_run(&store, super::Scope::any(), run)?;
    let events = store.read_run(&run_id)?;
    let mut text = String::new();
    for e in &events {
        text.push_str(&serde_json::to_string(e).expect("events serialise"));
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
            let store = match file {
                Some(f) if !f.is_file() => {
                    return Err(CommandError::bad_input(format!(
                        "{} is not a file",
                        f.display()
                    )));
                }
                // Never written: an archive copy stays as it is, even on read-only media.
                Some(f) => SqliteStore::open_read(f)?,
                None => match ctx.reading_store()? {
                    Some(s) => s,
                    None => {
                        let report = verify_rows(&[]);
                        let text = render_verify(&report);
                        return Ok(Output::new(report, text, exit::OK));
                    }
                },
            };
            let run_id = match run {
                Some(r) => Some(ctx.resolve_run(&store, super::Scope::any(), Some(r))?),
                None => None,
            };
            // Anchors are checked against the rows; without them, verification streams.
            let rows = match anchors {
                Some(_) => store.raw_rows(run_id.as_deref())?,
                None => Vec::new(),
            };
            let mut report = match anchors {
                Some(_) => verify_rows(&rows),
                None => store.verify(run_id.as_deref())?,
            };
            if let Some(path) = anchors {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    CommandError::bad_input(format!("cannot read {}: {e}", path.display()))
                })?;
                let anchors = parse_anchors(&text)
                    .map_err(|e| CommandError::bad_input(format!("{}: {e}", path.display())))?;
                let relevant: Vec<_> = anchors
                    .into_iter()
                    .filter(|a| run_id.as_ref().is_none_or(|r| *r == a.run_id))
                    .collect();
                report.anchors = Some(relevant.len() as u64);
                if report.ok
                    && let Some(bad) = check_anchors(&rows, &relevant)
                {
                    report.ok = false;
                    report.first_bad = Some(bad);
                }
            }
            // The snapshots that `status` may read must agree with the log they cache.
            if report.ok
                && let Some(bad) = check_snapshots(&store, run_id.as_deref())?
            {
                report.ok = false;
                report.first_bad = Some(bad);
            }
            // So must the run index that finds runs and lists history (checked whole).
            if report.ok
                && run_id.is_none()
                && let Some(bad) = crate::store::check_index(&store)?
            {
                report.ok = false;
                report.first_bad = Some(bad);
            }
            let text = render_verify(&report);
            let code = if report.ok { exit::OK } else { exit::FAILED };
            Ok(Output::new(report, text, code))
        }
    }
}

/// `log anchor [--file F]`: anchor the heads of finished runs — append new ones to `file`, or
/// list them all.
pub fn anchor(ctx: &Ctx, file: Option<&Path>) -> Result<Output, CommandError> {
    let store = ctx.reading_store()?.ok_or_else(no_runs)?;
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
    let existing = match std::fs::read_to_string(path) {
        Ok(text) => parse_anchors(&text)
            .map_err(|e| CommandError::bad_input(format!("{}: {e}", path.display())))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
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
            "Anchored {} finished run(s) in {} ({} were already there).\n",
            new.len(),
            path.display(),
            existing.len()
        ),
        exit::OK,
    ))
}
