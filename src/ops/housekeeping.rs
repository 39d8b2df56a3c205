//! Housekeeping: `gc` removes the derived files of old finished runs (never the log, from
//! which they are rebuilt whenever needed).

use std::time::{Duration, SystemTime};

use serde_json::json;

use super::{CommandError, Ctx, Output, exit};
use crate::execute::{load_state, remove_run_files};
use crate::store::{EventStore, RunQuery};

/// `gc --older-than`'s value, inside its range (`limits::GC_OLDER_THAN`).
pub fn older_than(text: &str) -> Result<Duration, CommandError> {
    crate::definition::limits::GC_OLDER_THAN
        .check_flag(text)
        .map_err(|e| {
            CommandError::bad_input(e).hint("write e.g. --older-than 30d or --older-than 12h")
        })
}

/// `gc --older-than DURATION [--dry-run]`: remove `runs/<id>/` of every finished run that ended
/// more than `older_than` ago. Unfinished runs and runs a process holds are left alone.
pub fn gc(ctx: &Ctx, older_than: Duration, dry_run: bool) -> Result<Output, CommandError> {
    let Some(store) = ctx.reading_store()? else {
        return Ok(Output::new(
            json!({"removed": [], "dry_run": dry_run, "problems": []}),
            "No runs, nothing to remove.\n",
            exit::OK,
        ));
    };
    let cutoff = SystemTime::now()
        .checked_sub(older_than)
        .unwrap_or(SystemTime::UNIX_EPOCH);
    let before = |time: &str| humantime::parse_rfc3339(time).is_ok_and(|t| t < cutoff);
    let mut removed = Vec::new();
    let mut problems = Vec::new();
    for entry in store.list_runs(&RunQuery::default())? {
        // A run that started after the cutoff cannot have ended before it.
        if entry.outcome.is_none() || !before(&entry.started_at) {
            continue;
        }
        let state = load_state(&store, &entry.run_id)?;
        if !state.ended_at.as_deref().is_some_and(before)
            || crate::execute::driver_alive(&ctx.home, &store, &entry.run_id)
        {
            continue;
        }
        if dry_run {
            if ctx.home.join("runs").join(&entry.run_id).exists() {
                removed.push(entry.run_id);
            }
            continue;
        }
        match remove_run_files(&ctx.home, &entry.run_id) {
            Ok(true) => removed.push(entry.run_id),
            Ok(false) => {}
            Err(e) => problems.push(format!("runs/{}: {e}", entry.run_id)),
        }
    }
    let verb = if dry_run { "Would remove" } else { "Removed" };
    let mut text = format!(
        "{verb} the derived files of {} older than {} (the log keeps them all).\n",
        crate::render::count(removed.len(), "finished run"),
        humantime::format_duration(older_than)
    );
    for id in &removed {
        text.push_str(&format!("  runs/{id}/\n"));
    }
    let code = if problems.is_empty() {
        exit::OK
    } else {
        exit::FAILED
    };
    Ok(Output::new(
        json!({"removed": removed, "dry_run": dry_run, "problems": problems}),
        text,
        code,
    )
    .warn(problems))
}
