//! `cortex tui`: checks that there is a terminal to draw on, then hands it to the TUI with
//! this home, directory and actor.

use std::io::IsTerminal;

use super::{CommandError, exit};
use crate::ops::{Ctx, operator};
use crate::tui::Settings;

/// How long notifications still under way when the TUI quits get to land.
const DELIVERY_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

pub fn run(
    ctx: &Ctx,
    json: bool,
    actor: Option<String>,
    no_color: bool,
) -> Result<i32, CommandError> {
    if json {
        return Err(
            CommandError::bad_input("`cortex tui` is interactive: --json does not apply").hint(
                format!(
                    "{} prints the status document",
                    ctx.cmd(&["--json", "orchestrate", "status"])
                ),
            ),
        );
    }
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        return Err(
            CommandError::bad_input("`cortex tui` needs a terminal").hint(format!(
                "{} and {} print the same facts",
                ctx.cmd(&["orchestrate", "status"]),
                ctx.cmd(&["workflow", "status"])
            )),
        );
    }
    let exe = std::env::current_exe().map_err(|e| {
        CommandError::new(exit::FAILED, format!("cannot find the cortex binary: {e}"))
    })?;
    // The same actor as every other command's: --actor, else user@host.
    let by = operator(actor.as_deref(), None);
    // Notifications an action in the TUI makes due are delivered in the background, as
    // `cortex serve` delivers them: the screen never waits on a slow or dead receiver.
    let background = crate::ops::background::Background::new();
    let settings = Settings {
        home: ctx.home.clone(),
        cwd: ctx.cwd.clone(),
        actor: by.actor,
        exe,
        location: ctx.location()?,
        ctx: Ctx {
            deliveries: crate::ops::Deliveries::Background(std::sync::Arc::clone(&background)),
            announce: None,
            ..ctx.clone()
        },
    };
    let color = !no_color && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let ran = crate::tui::run(settings, color);
    // On quitting, what is under way gets a few seconds to land; the rest is recorded as not
    // delivered.
    background.shutdown(DELIVERY_GRACE, nix::libc::SIGINT);
    ran.map_err(|e| match e {
        crate::tui::TuiError::NoThread(refused) => CommandError::from(refused),
        e => CommandError::new(exit::FAILED, e.to_string()),
    })?;
    Ok(exit::OK)
}
