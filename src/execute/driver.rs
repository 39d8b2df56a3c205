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
    let end = if journal.state.is_scenario() {
        scheduler::drive_scenario(journal, ctx)
    } else {
        workflow_loop::drive_workflow(journal, ctx)
    }
    // An attempt's end staged last is in the log before the driver says where it left the run.
    .and_then(|end| flush(journal, ctx).map(|()| end));
    // A run over for good leaves no child run unfinished behind it.
    if let Ok(DriveEnd::Finished(_)) = end {
        let state = journal.state.clone();
        let home = ctx.home.clone();
        let by = state
            .abort_requested
            .clone()
            .unwrap_or_else(|| ctx.actor.clone());
        let grace = ctx.grace;
        let ended = journal.nested(|store, clock, ids| {
            super::child::end_children(store, clock, ids, &home, &state, &by, grace)
        });
        for run_id in ended {
            ctx.observer.note(&format!(
                "   ↳ child run {run_id} aborted: its parent run ended\n"
            ));
        }
    }
    // And the derived files are written before it returns.
    for problem in ctx.files.finish() {
        ctx.observer.warn(&format!(
            "could not write the run's derived files (the log is intact): {problem}"
        ));
    }
    end
}
