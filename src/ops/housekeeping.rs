//! Housekeeping: `gc` removes the derived files of old finished runs (never the log, from
//! which they are rebuilt whenever needed).

use std::time::{Duration, SystemTime};

use serde_json::json;

use super::{CommandError, Ctx, Output, exit};
use crate::execute::{load_state, remove_run_files};
use crate::store::{EventStore, RunQuery, StoreError};

/// `gc --older-than`'s value, inside its range (`limits::GC_OLDER_THAN`).
pub fn older_than(text: &str) -> Result<Duration, CommandError> {
    crate::definition::limits::GC_OLDER_THAN
        .check_flag(text)
        .map_err(|e| {
            CommandError::bad_input(e).hint("write e.g. --older-than 30d or --older-than 12h")
        })
}

/// `gc --older-than DURATION [--dry-run]`: remove `runs/<id>/` of every finished run that ended
/// more than `older_than` ago, with its lock file and notes (`locks/<id>.lock`, `.pgids`),
/// and the output files of background drivers last written to
/// before then. Unfinished runs and runs a process holds are left alone.
///
/// The whole output of attempts is kept, on either store: the files under `logs/<id>/` and
/// the copy PostgreSQL keeps of them. They are no derived files: the log records their size
/// and blake3 (`attempt_log`) but cannot rebuild them, so removing them would make `log
/// verify` fail on the run ("… is missing") and `cortex logs` print only the kept tail. After
/// `gc`, `log verify` reports what it reported before.
pub fn gc(ctx: &Ctx, older_than: Duration, dry_run: bool) -> Result<Output, CommandError> {
    let cutoff = SystemTime::now()
        .checked_sub(older_than)
        .unwrap_or(SystemTime::UNIX_EPOCH);
    let Some(store) = ctx.reading_store()? else {
        let mut problems = Vec::new();
        let logs = old_driver_logs(
            &ctx.home,
            cutoff,
            dry_run,
            &Default::default(),
            &mut problems,
        );
        let text = format!("No runs.\n{}", logs_text(dry_run, &logs));
        return Ok(Output::new(
            json!({"removed": [], "lock_files": [], "driver_logs": logs, "dry_run": dry_run, "problems": problems, "skipped_unreadable": [], "attempt_outputs": "kept"}),
            text,
            if problems.is_empty() {
                exit::OK
            } else {
                exit::FAILED
            },
        )
        .warn(problems));
    };
    let before = |time: &str| humantime::parse_rfc3339(time).is_ok_and(|t| t < cutoff);
    let mut removed = Vec::new();
    let mut problems = Vec::new();
    let mut skipped = Vec::new();
    let mut locks = Vec::new();
    // The output files of drivers of runs not finished: kept, though their drivers are gone
    // (a scheduled run waiting on a prompt; before, its file was removed under it).
    let mut unfinished_logs = std::collections::BTreeSet::new();
    for entry in store.list_runs(&RunQuery::default())? {
        if entry.outcome.is_none() {
            if let Ok(Some(crate::event::Event::RunStarted(started))) =
                store.first_event(&entry.run_id).map(|r| r.map(|r| r.event))
                && let Some(log) = super::schedule::driver_log_of(&started)
            {
                unfinished_logs.insert(log);
            }
            continue;
        }
        // A run that started after the cutoff cannot have ended before it.
        if !before(&entry.started_at) {
            continue;
        }
        // A run holding an event this cortex cannot read (damaged, or a newer cortex's) is
        // left alone, said, and the others are seen to: before, `gc` exited 1 at the first.
        let state = match load_state(&store, &entry.run_id) {
            Ok(state) => state,
            Err(StoreError::Corrupt { .. } | StoreError::NewerEvent { .. }) => {
                skipped.push(entry.run_id);
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        if !state.ended_at.as_deref().is_some_and(before)
            || crate::execute::driver_alive(&ctx.home, &store, &entry.run_id)
        {
            continue;
        }
        // Its folder first: one refused (a link planted there) leaves the run's lock files
        // too, by `gc` and `--dry-run` alike — before, the dry run listed the lock files the
        // real `gc` then kept (its lock refused the same link, said a second time).
        let folder = match remove_run_files(&ctx.home, &entry.run_id, dry_run) {
            Ok(folder) => folder,
            Err(e) => {
                problems.push(format!("runs/{}: {e}", entry.run_id));
                continue;
            }
        };
        // Its lock file and the notes of its process groups, taken without waiting (a run
        // held keeps them).
        match crate::execute::remove_lock_files(&ctx.home, &entry.run_id, dry_run) {
            Ok(files) => locks.extend(files.iter().map(|f| shown_path(&ctx.home, f))),
            Err(e) => problems.push(e.to_string()),
        }
        if folder {
            removed.push(entry.run_id);
        }
    }
    let logs = old_driver_logs(&ctx.home, cutoff, dry_run, &unfinished_logs, &mut problems);
    let verb = if dry_run { "Would remove" } else { "Removed" };
    let mut text = format!(
        "{verb} the derived files of {} older than {} (the log keeps them all; attempts' whole outputs are kept, `cortex logs` and `log verify` read them).\n",
        crate::render::count(removed.len(), "finished run"),
        crate::render::format_duration(older_than)
    );
    for id in &removed {
        text.push_str(&format!("  runs/{id}/\n"));
    }
    if !locks.is_empty() {
        text.push_str(&format!(
            "{verb} {} of finished runs (the runs' locks and the notes of their process groups):\n",
            crate::render::count(locks.len(), "lock file")
        ));
        for file in &locks {
            text.push_str(&format!("  {}\n", crate::render::one_line(file)));
        }
    }
    if !skipped.is_empty() {
        text.push_str(&format!(
            "Left alone {} holding an event that cannot be read (`log verify` says which):\n",
            crate::render::count(skipped.len(), "run")
        ));
        for id in &skipped {
            text.push_str(&format!("  {id}\n"));
        }
    }
    text.push_str(&logs_text(dry_run, &logs));
    let code = if problems.is_empty() {
        exit::OK
    } else {
        exit::FAILED
    };
    Ok(Output::new(
        json!({"removed": removed, "lock_files": locks, "driver_logs": logs, "dry_run": dry_run, "problems": problems, "skipped_unreadable": skipped, "attempt_outputs": "kept"}),
        text,
        code,
    )
    .warn(problems))
}

/// A file as `gc` names it: relative to the home when it is in it.
fn shown_path(home: &std::path::Path, path: &std::path::Path) -> String {
    path.strip_prefix(home)
        .unwrap_or(path)
        .display()
        .to_string()
}

/// The lines naming the drivers' output files `gc` removed (or would): none when there are none.
fn logs_text(dry_run: bool, logs: &[String]) -> String {
    if logs.is_empty() {
        return String::new();
    }
    let verb = if dry_run { "Would remove" } else { "Removed" };
    let mut text = format!(
        "{verb} {} of background drivers last written to before then.\n",
        crate::render::count(logs.len(), "output file")
    );
    for log in logs {
        text.push_str(&format!("  {}\n", crate::render::one_line(log)));
    }
    text
}

/// Remove (or, with `dry_run`, list) the drivers' output files in `DRIVER_LOG_FOLDERS` last
/// written to before `cutoff`, as paths relative to the home, but those of `keep` (of runs not
/// finished). Only plain `.log` files are touched: a link or a folder planted there is left
/// alone, and so is anything a driver wrote to since. What cannot be removed is a problem,
/// not an error.
fn old_driver_logs(
    home: &std::path::Path,
    cutoff: SystemTime,
    dry_run: bool,
    keep: &std::collections::BTreeSet<String>,
    problems: &mut Vec<String>,
) -> Vec<String> {
    let mut found = Vec::new();
    for folder in crate::execute::DRIVER_LOG_FOLDERS {
        let dir = home.join(folder);
        // The folder itself must be a real one: never list through a link.
        if !std::fs::symlink_metadata(&dir).is_ok_and(|m| m.is_dir()) {
            continue;
        }
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut names: Vec<_> = entries
            .flatten()
            .filter(|e| {
                e.file_type().is_ok_and(|t| t.is_file())
                    && e.path().extension().is_some_and(|x| x == "log")
                    && e.metadata()
                        .and_then(|m| m.modified())
                        .is_ok_and(|t| t < cutoff)
                    // A live driver's output is kept, however long since it wrote to it.
                    && !crate::execute::driver_log_in_use(&e.path())
            })
            .map(|e| e.file_name())
            .collect();
        names.sort();
        for name in names {
            let shown = format!("{folder}/{}", name.to_string_lossy());
            if keep.contains(&shown) {
                continue;
            }
            if !dry_run && let Err(e) = std::fs::remove_file(dir.join(&name)) {
                problems.push(format!("{shown}: {e}"));
                continue;
            }
            found.push(shown);
        }
    }
    found
}
