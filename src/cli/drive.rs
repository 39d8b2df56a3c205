//! Shared by the commands that drive runs: taking a run, driving it to where it stops and
//! printing the outcome, parsing `KEY=VALUE` lists.

use std::time::{Duration, SystemTime};

use super::context::{Ctx, hostname};
use super::observer::TerminalObserver;
use super::{CommandError, exit, out, out_json};
use crate::definition::{parse_scenario, parse_workflow, snapshot};
use crate::event::{Driver, Operator, RunKind, RunStarted};
use crate::execute::{
    DriveContext, DriveEnd, DriverLock, Holder, Journal, StopFlag, WriteBehind, drive, rfc3339,
};
use crate::project::status_view;
use crate::render::render_outcome;

/// How long a step's process group gets between TERM and KILL.
pub(super) const KILL_GRACE: Duration = Duration::from_secs(5);

pub(super) fn parse_pairs(
    items: &[String],
    what: &str,
) -> Result<Vec<(String, String)>, CommandError> {
    items
        .iter()
        .map(|item| match item.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
            _ => Err(
                CommandError::bad_input(format!("`{item}` is not {what}=VALUE"))
                    .hint(format!("write --{what} NAME=VALUE")),
            ),
        })
        .collect()
}

pub(super) fn holder(actor: &str) -> Holder {
    Holder {
        pid: std::process::id(),
        host: hostname(),
        actor: actor.to_string(),
        since: rfc3339(SystemTime::now()),
    }
}

pub(super) fn driver() -> Driver {
    Driver {
        pid: std::process::id(),
        host: hostname(),
    }
}

/// Drive a run to where it stops, print the outcome, and give the exit code.
pub(super) fn finish_driving(
    ctx: &Ctx,
    mut journal: Journal<'_>,
    by: Operator,
    lock: DriverLock,
) -> Result<i32, CommandError> {
    let stop = StopFlag::install();
    let mut observer = TerminalObserver::new(ctx.json);
    let mut dctx = DriveContext {
        home: ctx.home.clone(),
        stop,
        actor: by,
        observer: &mut observer,
        grace: KILL_GRACE,
        files: WriteBehind::default(),
    };
    let end = drive(&mut journal, &mut dctx).map_err(|e| match e {
        crate::execute::DriveError::Journal(j) => CommandError::from(j),
        crate::execute::DriveError::Internal(m) => CommandError::new(exit::FAILED, m),
    })?;
    drop(observer);
    let view = status_view(&journal.state, true);
    drop(lock);
    if ctx.json {
        out_json(&view.to_json());
    } else {
        out(&render_outcome(&view, SystemTime::now()));
    }
    Ok(match end {
        DriveEnd::Finished(_) | DriveEnd::Paused => view.status.exit_code(),
        DriveEnd::Waiting(_) | DriveEnd::Stopped => exit::WAITING,
    })
}

pub(super) fn warn_if_definition_changed(ctx: &Ctx, start: &RunStarted) {
    let path = std::path::Path::new(&start.source);
    if start.source.starts_with("builtin:") || !path.is_file() {
        return;
    }
    let Ok(text) = crate::definition::read_definition(path) else {
        return;
    };
    // Hashed as it was at `run`: a scenario as a scenario, a workflow as a workflow.
    let hash = match start.kind {
        RunKind::Scenario => parse_scenario(&start.source, &text).map(|s| snapshot(&s).1),
        RunKind::Workflow => parse_workflow(&start.source, &text).map(|w| snapshot(&w).1),
    };
    let changed = hash.map_or(true, |h| h != start.definition_hash);
    if changed && !ctx.json {
        super::err(&format!(
            "warning: {} changed since this run started; the run goes on with the definition it started with\n",
            start.source
        ));
    }
}

/// Take the run; if a live driver on this host holds it, ask it to stop (SIGTERM, which it
/// records as a stop) and wait for it to let go.
pub(super) fn acquire_or_stop_holder(
    ctx: &Ctx,
    run_id: &str,
    actor: &str,
) -> Result<DriverLock, CommandError> {
    match DriverLock::acquire(&ctx.home, run_id, &holder(actor)) {
        Ok(lock) => Ok(lock),
        Err(crate::execute::LockError::Held {
            holder: Some(h), ..
        }) if h.host == hostname() && h.pid != 0 => {
            let pid = nix::unistd::Pid::from_raw(h.pid as i32);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
            let deadline = std::time::Instant::now() + KILL_GRACE * 3;
            loop {
                std::thread::sleep(Duration::from_millis(50));
                match DriverLock::acquire(&ctx.home, run_id, &holder(actor)) {
                    Ok(lock) => return Ok(lock),
                    Err(e) if std::time::Instant::now() >= deadline => return Err(e.into()),
                    Err(_) => {}
                }
            }
        }
        Err(e) => Err(e.into()),
    }
}
