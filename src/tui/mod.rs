//! `cortex tui`: the scenario panel of seed 001 part 7 — the scenario list, a live status
//! panel per run, a command palette (`Ctrl+P`), and workflow runs with step progress — on
//! the same projections and library calls as the command line.
//!
//! Functional core, imperative shell: `app` (state and a pure `update`), `palette`, `model`
//! and `view` (pure rendering with an explicit `now`) are the core; `follow` (the log
//! follower), `effects` (actions and background drivers), `output` (the output pane's
//! reads), `catalog`, `keys` and `terminal` are the shell, tied together by the loop in `run`.

pub mod app;
mod catalog;
mod effects;
mod follow;
mod keys;
pub mod model;
pub mod output;
pub mod palette;
mod terminal;
pub mod view;

use std::sync::mpsc::channel;
use std::time::{Duration, Instant, SystemTime};

use ratatui::crossterm::event::{self, Event};

pub use app::{App, Effect, Key, Msg, Screen, update};
pub use catalog::scenario_entries;
pub use effects::Settings;
pub use follow::Follower;

use effects::Worker;

/// How often the log is looked at.
pub const TICK: Duration = Duration::from_millis(250);

/// Why the TUI stopped early.
#[derive(Debug, thiserror::Error)]
pub enum TuiError {
    #[error("the terminal failed: {0}")]
    Terminal(#[from] std::io::Error),
    #[error(transparent)]
    NoThread(#[from] crate::execute::thread::Refused),
}

/// Run the TUI on this terminal until the user quits, or SIGTERM, SIGINT or SIGHUP ends it
/// as `q` does (checked at least every `TICK`). The terminal is put back as it was however
/// this ends (quit, signal, error or panic): a `kill` from another terminal left it raw, on
/// the alternate screen with its cursor hidden, before.
pub fn run(settings: Settings, color: bool) -> Result<(), TuiError> {
    // It acts on many runs: an abort of one it holds for an instant never signals it.
    crate::execute::serve_many();
    let catalog = settings.ctx.catalog();
    let mut app = App::new(
        settings.actor.clone(),
        catalog.scenarios_dir().display().to_string(),
        color,
    );
    app.scenarios = scenario_entries(&settings.ctx);
    // The drivers it starts inherit them: a resume does not ask for those secret inputs.
    app.inputs_in_env = std::env::vars_os()
        .filter_map(|(name, _)| name.into_string().ok())
        .filter_map(|name| {
            // Read in any case (`execute::input_from_env`): held as `input_env_name` spells it.
            let rest = name.strip_prefix("CORTEX_INPUT_")?;
            Some(crate::execute::input_env_name(rest))
        })
        .collect();
    app.globals = settings.ctx.globals();
    app.start_workflow = settings
        .ctx
        .cmd(&["workflow", "run", "NAME"])
        .trim_matches('`')
        .to_string();
    let (tx, rx) = channel();
    let worker = Worker::start(settings.clone(), tx)?;
    let mut follower = Follower::at(&settings.home, settings.location.clone());
    let mut output = output::Reader::at(settings.location.clone());
    let stop = crate::execute::StopFlag::install();
    // A hang-up (the terminal closed, its tmux killed) leaves the terminal at its end of file:
    // crossterm then reads that end over and over inside `event::poll` and never comes back
    // to this loop to see the flag (such a TUI spun at half a core for good). A watchdog ends
    // the process a second after a stop signal the loop has not acted on; a live terminal's
    // loop acts within a `TICK` and puts it back first.
    let watched = stop.clone();
    crate::execute::thread::spawn(
        "to end the terminal UI once its terminal is gone",
        move || {
            loop {
                std::thread::sleep(TICK);
                if let Some(signal) = watched.signal() {
                    std::thread::sleep(Duration::from_secs(1));
                    std::process::exit(128 + signal);
                }
            }
        },
    )?;
    let mut session = terminal::Session::enter()?;
    let mut next_poll = Instant::now();
    let mut last_error = None;
    // Drawn only when something changed (a message, a key, a new size) or, while a shown
    // run's clock runs, once a second: building the view of a finished 20,000-step run every
    // tick kept a seventh of a core busy on a screen where nothing moved.
    let mut dirty = true;
    let mut drawn_second = None;
    loop {
        if stop.is_set() {
            return Ok(());
        }
        while let Ok(msg) = rx.try_recv() {
            app = step(app, msg, &worker);
            dirty = true;
        }
        if Instant::now() >= next_poll {
            match follower.poll(app.focus().as_deref()) {
                Ok(msgs) => {
                    if last_error.take().is_some() {
                        app = step(app, Msg::LogError(None), &worker);
                        dirty = true;
                    }
                    for msg in msgs {
                        app = step(app, msg, &worker);
                        dirty = true;
                    }
                }
                Err(e) => {
                    // Say it once, not every tick; the next poll tries again.
                    let text = e.to_string();
                    if last_error.as_ref() != Some(&text) {
                        last_error = Some(text.clone());
                        app = step(app, Msg::LogError(Some(text)), &worker);
                        dirty = true;
                    }
                }
            }
            next_poll = Instant::now() + TICK;
            let read;
            (app, read) = read_output(app, &settings.home, &mut output);
            dirty |= read;
        }
        if app.quit {
            return Ok(());
        }
        let now = SystemTime::now();
        let second = now
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        if dirty || (app.clock_runs() && drawn_second != Some(second)) {
            session
                .terminal
                .draw(|frame| view::draw(frame, &app, now))?;
            dirty = false;
            drawn_second = Some(second);
        }
        if event::poll(next_poll.saturating_duration_since(Instant::now()))? {
            match event::read()? {
                Event::Key(k) => {
                    if let Some(key) = keys::key(k) {
                        app = step(app, Msg::Key(key), &worker);
                        dirty = true;
                        // A pane just opened, or another step selected: its output now, not
                        // at the next tick.
                        if app.output_wanted().is_some() && app.output_shown().is_none() {
                            (app, _) = read_output(app, &settings.home, &mut output);
                        }
                    }
                }
                // A new size: start from a clean screen; the next draw fills it.
                Event::Resize(_, _) => {
                    session.terminal.clear()?;
                    dirty = true;
                }
                _ => {}
            }
        }
    }
}

/// The open output pane's text, read again while the attempt may write more (an ended
/// attempt's, once): from the home's file, else from the log where it keeps the output.
/// Says whether it was read (the pane may show something new).
fn read_output(app: App, home: &std::path::Path, reader: &mut output::Reader) -> (App, bool) {
    match app.output_wanted() {
        Some(wanted) if !app.output_shown().is_some_and(|v| v.complete) => {
            (update(app, Msg::Output(reader.read(home, &wanted))).0, true)
        }
        _ => (app, false),
    }
}

/// Feed one message to the app and hand its effects to the worker.
fn step(app: App, msg: Msg, worker: &Worker) -> App {
    let (app, effects) = update(app, msg);
    for effect in effects {
        worker.submit(effect);
    }
    app
}
