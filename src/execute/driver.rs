//! Driving a run: the entry point that hands a workflow to `workflow_loop` (one step at a
//! time) and a scenario to `scheduler` (ready phases at once), then ends what a finished run
//! leaves behind (child runs) and waits for the derived files.

use super::session::{DriveContext, DriveEnd, DriveError, flush};
use super::{scheduler, workflow_loop};

/// Drive the run in `journal` until it can go no further without outside help.
pub fn drive(
    journal: &mut super::Journal<'_>,
    ctx: &mut DriveContext<'_>,
) -> Result<DriveEnd, DriveError> {
    // A child run the run no longer links to (a step run again from the start) is ended
    // before the run goes on, and after it stops (a rollback resets its steps as it ends).
    end_children(journal, ctx);
    let end = if journal.state.is_scenario() {
        scheduler::drive_scenario(journal, ctx)
    } else {
        workflow_loop::drive_workflow(journal, ctx)
    }
    // An attempt's end staged last is in the log before the driver says where it left the run.
    .and_then(|end| flush(journal, ctx).map(|()| end));
    // A run over for good leaves no child run unfinished behind it; one that goes on, none
    // it superseded (a rollback resets its steps as it ends).
    end_children(journal, ctx);
    // And the derived files are written before it returns. Lines added to the checkpoints
    // file by an operator's process racing this driver's writer may have left one out: if
    // the file is not exactly the run's checkpoints, all the files are written again from the
    // state the drive ends with, so that once no driver runs they are what the log gives.
    let mut problems = ctx.files.finish();
    let state = &journal.state;
    if problems.is_empty()
        && !super::materialize::checkpoints_exact(&ctx.home, &state.run_id, state.checkpoints.len())
        && let Err(e) = super::materialize(&ctx.home, state)
    {
        problems.push(e.to_string());
    }
    problems.dedup();
    for problem in problems {
        ctx.observer.warn(&format!(
            "could not write the run's derived files (the log is intact): {problem}"
        ));
    }
    end
}

/// Why a child run its parent no longer links to was aborted, as a drive and `resume
/// --submit` say it.
pub const SUPERSEDED: &str = "superseded, its parent run no longer links to it";

/// End the child runs `journal`'s run leaves behind (`child::end_children`: every unfinished
/// one if the run is over, by whoever aborted it or the driving actor; else the ones it no
/// longer links to, by the driving actor), saying so.
pub(super) fn end_children(journal: &mut super::Journal<'_>, ctx: &mut DriveContext<'_>) {
    // Only a run that started a child has one to end; what is staged is recorded first (a
    // journal lends its store with nothing staged).
    if journal
        .state
        .start
        .as_ref()
        .is_none_or(|s| s.uses.is_empty())
        || flush(journal, ctx).is_err()
    {
        return;
    }
    let state = journal.state.clone();
    let home = ctx.home.clone();
    let by = state
        .abort_requested
        .clone()
        .filter(|_| state.outcome().is_some())
        .unwrap_or_else(|| ctx.actor.clone());
    let grace = ctx.grace;
    let ended = journal.nested(|store, clock, ids| {
        super::child::end_children(store, clock, ids, &home, &state, &by, grace)
    });
    let why = if state.outcome().is_some() {
        "its parent run ended"
    } else {
        SUPERSEDED
    };
    for run_id in ended {
        ctx.observer
            .note(&format!("   ↳ child run {run_id} aborted: {why}\n"));
    }
}
