//! Shared by the operations that drive runs: who drives (holder, driver), driving a run to
//! where it stops and its document, parsing `KEY=VALUE` lists.

use std::time::{Duration, Instant, SystemTime};

use super::{Cause, CommandError, Ctx, Hint, Output, exit, hostname};
use crate::decide::Command;
use crate::definition::{parse_scenario, parse_workflow, read_definition, snapshot};
use crate::event::{Driver, Operator, RunKind, RunStarted};
use crate::execute::{
    DriveContext, DriveEnd, DriveError, DriverLock, Holder, Journal, Observer, StopFlag,
    WriteBehind, drive,
};
use crate::render::{render_outcome, render_outcome_line, render_outcome_noted};

/// What `run` does with the run it records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunHow {
    /// Drive it here to where it stops.
    Drive,
    /// Record nothing: say what would happen.
    DryRun,
    /// Record it for `cortex worker`s and return at once.
    Submit,
}

impl RunHow {
    pub fn of(dry_run: bool, submit: bool) -> RunHow {
        match (dry_run, submit) {
            (true, _) => RunHow::DryRun,
            (false, true) => RunHow::Submit,
            (false, false) => RunHow::Drive,
        }
    }
}

/// Record run `started` and drive it here, or submit it to a worker (`RunHow::Submit`):
/// `workflow run` and `orchestrate run` alike. A new run id and its driver lock, the claim
/// (not for a submit), then the start and `then` (a scenario's manual phases asked to start
/// at once): staged in one commit with `run_submitted` when submitted (`submit_run`: a worker
/// never reads the run started but not yet submitted, and takes it for one whose driver is
/// gone), else recorded and driven.
pub fn start_run(
    ctx: &Ctx,
    durability: crate::definition::Durability,
    started: RunStarted,
    then: Vec<Command>,
    by: Operator,
    how: RunHow,
    live: &mut Live<'_>,
) -> Result<Output, CommandError> {
    let mut store = ctx.store(durability)?;
    let clock = crate::execute::SystemClock;
    let mut ids = crate::execute::UlidIds::default();
    let run_id = crate::execute::IdGen::next_id(&mut ids);
    // Its lock names the actor scrubbed of the run's `secret_env` values, as `run_started` does.
    crate::execute::note_secret_env_of_start(&started);
    let lock = DriverLock::acquire(&ctx.home, &run_id, &holder(&by.actor))?;
    // The run this command acts on: an error's hint names it (`Ctx::localize`).
    ctx.acted_on.set(&run_id, Some(started.kind));
    if how != RunHow::Submit {
        claim_before_start(ctx, &mut *store, &run_id, &by)?;
    }
    let kind = started.kind;
    let mut journal = Journal::open(&mut store, &clock, &mut ids, &run_id)?;
    if how == RunHow::Drive {
        journal.be_patient(patience(ctx, &run_id, kind, &live.stop)?);
    }
    let start = Command::Start(Box::new(started));
    if how == RunHow::Submit {
        // One commit with `run_submitted` (`submit_run`): a worker never reads the run
        // started but not yet submitted, and takes it for one whose driver is gone.
        journal.stage(start)?;
        super::workflow::keep_secret_checks(ctx, &journal);
        for command in then {
            journal.stage(command)?;
        }
        return submit_run(ctx, journal, by, lock);
    }
    journal.submit(start)?;
    super::workflow::keep_secret_checks(ctx, &journal);
    for command in then {
        journal.submit(command)?;
    }
    live.observer.begin(&journal.state, false);
    drive_from(ctx, journal, by, lock, live, None, false)
}

/// Leave a run just recorded for workers (`run --submit`, `resume --submit`): recorded as
/// submitted, its document and exit 0 (the run id alone on stdout for people, so that
/// `$(cortex ... run --submit)` is the id). A `uses:` child run it no longer links to (its
/// step reset by `resume --from`) is aborted now, as the resume is recorded, as a driver
/// resuming here ends it before it drives on (`execute::end_children`), and said in a
/// warning; before, it stayed `waiting` until a worker drove the parent, and its status
/// offered reports that ran its steps for nobody.
pub fn submit_run(
    ctx: &Ctx,
    mut journal: Journal<'_>,
    by: Operator,
    lock: DriverLock,
) -> Result<Output, CommandError> {
    journal.submit(crate::decide::Command::Submit { by: by.clone() })?;
    let state = journal.state.clone();
    let superseded = journal.nested(|store, clock, ids| {
        crate::execute::end_children(store, clock, ids, &ctx.home, &state, &by, KILL_GRACE)
    });
    drop(lock);
    let view = ctx.view(&journal.state, false);
    let mut out = Output::new(view.to_json(), format!("{}\n", journal.run_id), exit::OK).warn(
        superseded
            .into_iter()
            .map(|id| format!("child run {id} aborted: {}", crate::execute::SUPERSEDED))
            .collect(),
    );
    let secret = journal
        .state
        .start
        .as_ref()
        .map(|s| s.secret_inputs.clone())
        .unwrap_or_default();
    if !secret.is_empty() {
        out = out.warn(vec![format!(
            "the run has secret inputs ({}): the workers that drive it need them in their environment ({}, or {})",
            secret.join(", "),
            secret
                .iter()
                .map(|n| format!("{}=…", crate::execute::input_env_name(n)))
                .collect::<Vec<_>>()
                .join(" "),
            ctx.cmd(&["worker", "--input", "NAME=VALUE"]),
        )]);
    }
    Ok(out)
}

pub use crate::execute::KILL_GRACE;

/// How an operation that drives a run shows its progress, and what stops it.
pub struct Live<'a> {
    pub observer: &'a mut dyn Observer,
    /// Raised to stop the drive gracefully (the CLI's signals; a front end's own request).
    pub stop: StopFlag,
}

/// The word a suggested command puts where a value must go (`--output verdict=VALUE`,
/// `--input api_token=VALUE`): refused as a value, so that a suggestion pasted as it is
/// records nothing made up (an agent follows "Next:" lines literally).
pub const PLACEHOLDER: &str = "VALUE";

/// The text of a JSON number given as an input's value (the API's `inputs`) when it is a
/// whole number as sent: its digits, or `-0` for the `-0` serde_json reads as the float -0.0
/// — the integer 0, as `--input n=-0` gives it (and the MCP server's `run`, which writes a
/// float for an integer input as Rust does, `-0`). Before, the API said "`-0.0` is not an
/// integer", a value nobody sent. `None` for any other float, whose text is gone (`1.10`
/// reads as 1.1).
pub fn json_integer_text(n: &serde_json::Number) -> Option<String> {
    if n.is_i64() || n.is_u64() {
        return Some(n.to_string());
    }
    n.as_f64()
        .filter(|v| *v == 0.0 && v.is_sign_negative())
        .map(|_| "-0".to_string())
}

/// `KEY=VALUE` items (`--input`, `--output`), or what is wrong with one.
pub fn parse_pairs(items: &[String], what: &str) -> Result<Vec<(String, String)>, CommandError> {
    parse_pairs_from(items, what, PairsFrom::Flag)
}

/// Where `NAME=VALUE` pairs were given, for what a mistake's hint says: a flag given once per
/// pair (`--output NAME=VALUE`), a form's box of lines (its label), or a query parameter of
/// an address given once per pair (`?input=NAME=VALUE`, the API's preview).
#[derive(Debug, Clone, Copy)]
pub enum PairsFrom<'a> {
    Flag,
    Lines(&'a str),
    Query,
}

/// `parse_pairs`, with hints in the words of where the pairs were given.
pub fn parse_pairs_from(
    items: &[String],
    what: &str,
    from: PairsFrom<'_>,
) -> Result<Vec<(String, String)>, CommandError> {
    let pairs: Vec<(String, String)> = items
        .iter()
        .map(|item| match item.split_once('=') {
            // A flag's pairs are checked where every front end's are (`refuse_placeholders`);
            // a form's box says where to put the value in its own words.
            Some((k, v)) if !k.trim().is_empty() && v == PLACEHOLDER => match from {
                PairsFrom::Flag => Ok((k.trim().to_string(), v.to_string())),
                PairsFrom::Lines(label) => Err(placeholder_given(k.trim(), v).hint(format!(
                    "put the real value in its place: {}=... in the {label} box",
                    k.trim()
                ))),
                PairsFrom::Query => Err(placeholder_given(k.trim(), v).hint(format!(
                    "put the real value in its place: {what}={}=... in the address",
                    k.trim()
                ))),
            },
            Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
            _ => Err(not_a_pair(item, what, from)),
        })
        .collect::<Result<_, _>>()?;
    no_key_twice(&pairs, what, from)?;
    Ok(pairs)
}

/// Refuse a value that is the placeholder of a suggested command (`--output x=VALUE`,
/// `inputs: {"x": "VALUE"}`), pasted as it was: checked here, in the operations, so that
/// the CLI, the MCP tools and the HTTP API all refuse it (before, only the CLI's flags were
/// checked), with the hint in the words of the front end that asked (`Ctx::surface`).
pub fn refuse_placeholders(
    ctx: &super::Ctx,
    pairs: &[(String, String)],
    what: &str,
) -> Result<(), CommandError> {
    match pairs.iter().find(|(_, v)| v == PLACEHOLDER) {
        Some((k, v)) => Err(placeholder_given(k, v).hint(format!(
            "put the real value in its place: {}",
            ctx.surface
                .give(what, &[crate::definition::shown(k).as_str()], "...")
        ))),
        None => Ok(()),
    }
}

fn placeholder_given(key: &str, value: &str) -> CommandError {
    CommandError::bad_input(format!(
        "`{}={value}`: `{PLACEHOLDER}` is the placeholder of a suggested command, not a value",
        crate::definition::shown(key)
    ))
}

/// The error for an item of a `NAME=VALUE` list that is not one: what is missing (the `=`,
/// or the name before it), where (which flag or box), and the line to write instead — with
/// the item as the name when it has no `=` (`--output plan` → `--output plan=VALUE`).
fn not_a_pair(item: &str, what: &str, from: PairsFrom<'_>) -> CommandError {
    let shown = crate::definition::shown_query(item);
    let missing = if item.contains('=') {
        "has no name before its `=`"
    } else {
        "has no `=`"
    };
    let example = match item.split_once('=') {
        None if !item.trim().is_empty() => format!("{}={PLACEHOLDER}", item.trim()),
        Some((_, v)) if !v.is_empty() => format!("NAME={v}"),
        _ => format!("NAME={PLACEHOLDER}"),
    };
    match from {
        PairsFrom::Flag => CommandError::bad_input(format!(
            "--{what} `{shown}` {missing}: each --{what} is given as NAME=VALUE (the {what}'s name, `=`, then its value)"
        ))
        .hint(format!(
            "write --{what} {} (a value with spaces in quotes: --{what} 'NAME=two words')",
            crate::render::shell_quote(&example)
        )),
        PairsFrom::Lines(label) => CommandError::bad_input(format!(
            "the line `{shown}` in {label} {missing}: each line is NAME=VALUE (the {what}'s name, `=`, then its value)"
        ))
        .hint(format!(
            "write one NAME=VALUE per line in the {label} box (e.g. plan=ready)"
        )),
        PairsFrom::Query => CommandError::bad_input(format!(
            "query parameter `{what}` `{shown}` {missing}: each `{what}` is given as NAME=VALUE (the {what}'s name, `=`, then its value)"
        ))
        .hint(format!(
            "write {what}={example} in the address, once per {what} (e.g. ?{what}=who=me&{what}=count=2), the value URL-encoded"
        )),
    }
}

/// A key given twice is refused, naming it: before, the last value silently won (`--input
/// v=1 --input v=2` ran with `v=2`), so a mistyped repeat went unnoticed.
fn no_key_twice(
    pairs: &[(String, String)],
    what: &str,
    from: PairsFrom<'_>,
) -> Result<(), CommandError> {
    let mut seen = std::collections::BTreeSet::new();
    for (key, _) in pairs {
        if !seen.insert(key.as_str()) {
            let shown = crate::definition::shown(key);
            return Err(match from {
                PairsFrom::Flag => CommandError::bad_input(format!(
                    "--{what} `{shown}` is given twice: nothing was recorded"
                ))
                .hint(format!("give each {what} once: --{what} {shown}=VALUE")),
                PairsFrom::Lines(label) => CommandError::bad_input(format!(
                    "{what} `{shown}` is given twice in {label}: nothing was recorded"
                ))
                .hint(format!(
                    "write each {what} on one line only in the {label} box"
                )),
                PairsFrom::Query => CommandError::bad_input(format!(
                    "query parameter `{what}` gives `{shown}` twice"
                ))
                .hint(format!(
                    "give each {what} once in the address: {what}={shown}=VALUE"
                )),
            });
        }
    }
    Ok(())
}

pub fn holder(actor: &str) -> Holder {
    Holder::this_process(actor)
}

pub fn driver() -> Driver {
    Driver {
        pid: std::process::id(),
        host: hostname(),
    }
}

/// How a driver waits out a log another process holds locked (`execute::Patience`): up to
/// `CORTEX_LOG_LOCK_WAIT` (an hour by default), giving up at once on `stop` (or a worker told
/// to end what it runs), saying so where this command says what it waits for
/// (`Ctx::announce`), with the command that goes on with run `run_id` of `kind` if it gives up.
pub fn patience(
    ctx: &Ctx,
    run_id: &str,
    kind: RunKind,
    stop: &crate::execute::StopFlag,
) -> Result<crate::execute::Patience, CommandError> {
    let bound = crate::execute::log_lock_wait().map_err(|why| {
        CommandError::bad_input(why).hint(format!(
            "it says how long a driver waits for the event log while another process holds it locked (default {}); unset it for the default",
            crate::render::format_duration(crate::execute::LOG_LOCK_WAIT)
        ))
    })?;
    let (stop, dispatch) = (stop.clone(), ctx.dispatch.clone());
    Ok(crate::execute::Patience {
        bound,
        stop: std::sync::Arc::new(move || stop.is_set() || dispatch.ending()),
        announce: ctx.announce,
        leaves: format!("the run to {}", ctx.cmd(&[kind.group(), "resume", run_id])),
    })
}

/// Where a drive that ended on an error left what it had in hand.
struct Left {
    /// It was told to stop (a signal, a cancelled call, a worker told to end what it runs).
    stopped: bool,
    /// The steps or phases whose attempts ended here but whose ends are not in the log
    /// (`Journal::staged_ends`): a resume runs them again.
    unrecorded: Vec<String>,
}

/// What a drive that could not go on tells the person who started it.
fn drive_error(ctx: &Ctx, e: DriveError, run_id: &str, kind: RunKind, left: &Left) -> CommandError {
    let group = kind.group();
    // What the run's resume goes on with: said in the hint, and as the document's `next`.
    let resume_next = |e: CommandError| {
        e.next(
            &[group, "resume", run_id],
            "go on with the run from where the log has it, once the log can be written",
        )
    };
    // What ended here but could not be recorded, which the resume runs again.
    let lost = match left.unrecorded.as_slice() {
        [] => String::new(),
        [one] => format!(
            "; `{one}` ended here, but its end could not be recorded: the resume runs it again"
        ),
        many => format!(
            "; {} ended here, but their ends could not be recorded: the resume runs them again",
            many.iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    match e {
        // The log stayed locked by another process through this driver's wait (or it was
        // told to stop while it waited): nothing recorded was lost, and the run goes on with
        // its resume once the lock is let go. Held by another process: exit 4 (SPEC §5), as a
        // report that finds the log locked; the run is left as the log has it (its status
        // says `interrupted`), never a failure of the run.
        DriveError::Journal(crate::execute::JournalError::Store(
            crate::store::StoreError::Busy,
        )) => {
            let why = if left.stopped {
                "stopped while waiting for the event log, which another process holds locked".to_string()
            } else {
                let bound = crate::execute::log_lock_wait().unwrap_or(crate::execute::LOG_LOCK_WAIT);
                format!(
                    "the event log stayed locked by another process longer than this driver waits ({})",
                    crate::render::format_duration(bound)
                )
            };
            let mut err = CommandError::new(
                exit::HELD,
                format!("{why}: run {run_id} was left where the log has it, to be resumed"),
            )
            .hint(
                Hint::from(format!(
                    "another process holds the log's write lock, such as a `sqlite3` session or a backup or VACUUM of the log (cortex's own commands hold it only for a moment); nothing recorded was lost{lost}; once the lock is let go, "
                ))
                .command(&[group, "resume", run_id])
                .then(" goes on with the run (")
                .command(&[group, "status", run_id])
                .then(" shows where it stands)"),
            );
            if !left.stopped {
                err = err.hint(format!(
                    "{} sets how long a driver waits for a locked log (default {})",
                    crate::execute::LOG_LOCK_WAIT_ENV,
                    crate::render::format_duration(crate::execute::LOG_LOCK_WAIT)
                ));
            }
            err.cause = Cause::Unavailable;
            resume_next(err)
        }
        // The log cannot be written (a full disk, a read-only file or database): nothing
        // recorded was lost; this very run goes on with its resume once that is fixed. The
        // run did not fail (it is left interrupted), but SPEC §5 has no code for the
        // environment: exit 1 (DESIGN §3, "Exit codes of a driver the log stopped").
        // Its hint is the driver's: the run goes on with its resume, never by running the
        // command again (a second `run` started another run).
        DriveError::Journal(crate::execute::JournalError::Store(e))
            if let Some(fix) = super::error::unwritable_fix(&e) =>
        {
            let mut err = CommandError::from(e);
            err.hints = vec![
                Hint::from(format!("{fix}; nothing recorded was lost{lost}; then "))
                    .command(&[group, "resume", run_id])
                    .then(" goes on with this run from where the log has it; commands that only read (status, history, log verify) work as it is"),
            ];
            resume_next(err)
        }
        // The driver's own command refused: the run moved on without it (another driver
        // took it over), not bad input from anyone.
        DriveError::Journal(crate::execute::JournalError::Decide(d)) => CommandError::from(
            crate::execute::JournalError::Fenced(format!("the run moved on without it ({d})")),
        ),
        // The log went away under the drive: nothing recorded was lost, and this very run
        // goes on with its resume once the database answers.
        DriveError::Journal(crate::execute::JournalError::Store(
            e @ crate::store::StoreError::Unreachable { .. },
        )) => {
            resume_next(CommandError::new(exit::FAILED, e.to_string()).hint(format!(
                "check that PostgreSQL is running and reachable there; nothing recorded was lost, and the run goes on once it answers: {} (a worker takes it too, once this driver's lease lapses)",
                ctx.cmd(&[group, "resume", run_id])
            )))
        }
        DriveError::Journal(j) => CommandError::from(j),
        DriveError::Internal(m) => CommandError::new(exit::FAILED, m),
        // The home, not the step: nothing ran, no attempt was counted as failed.
        // The fix the fault's own kind calls for (a linked `logs/` put back, not made writable).
        DriveError::Home(ref problem) => resume_next(CommandError::new(exit::FAILED, e.to_string()).hint(format!(
            "{}; nothing ran and no attempt was counted as failed; then {}",
            problem.fix,
            ctx.cmd(&[group, "resume", run_id])
        ))),
        DriveError::MissingSecretInputs(missing) => {
            super::workflow::missing_secret_inputs(ctx, run_id, kind, &missing, &[])
        }
    }
}

/// The lock, if the run is not driven by another live process. The lock excludes a second
/// driver in this home; a driver elsewhere — on another host, or a worker or driver of
/// another home on this host sharing the log (its lock is in its home) — holds the run's
/// driver lease, which is asked here, before anything is shown or recorded (exit 4). A lock
/// taken on a file this process made may be a lock beside a live driver's: `locks/` may
/// have been deleted under it, and a lock on a deleted file excludes nobody. The log names
/// the run's driver; if that process is alive here, the run is still its own (exit 4), and
/// the lock file made is removed so that the next process asks the same.
pub fn not_driven_elsewhere(
    ctx: &Ctx,
    lock: DriverLock,
    journal: &mut Journal<'_>,
) -> Result<DriverLock, CommandError> {
    let run_id = journal.run_id.clone();
    // A worker's driver holds the run's driver lease already (its journal is fenced with it).
    let leased = journal
        .fenced_by()
        .is_some_and(|l| l.unit == crate::store::DRIVER_UNIT);
    if !leased
        && let Some(lease) =
            journal.with_leases(|store| crate::execute::driven_elsewhere(store, &run_id))
    {
        lock.give_back();
        return Err(driven_by(ctx, journal, &lease));
    }
    // A driver holding the run's driver lease (claimed: the one before it lapsed, or there
    // was none) is the run's driver whatever process the log names: a driver paused or cut
    // off past its lease is fenced and records nothing more. Before, a worker of another home
    // on this host could not take over from a paused one there (its process lives), and said
    // its lock file was deleted, which was not so.
    if leased || !lock.made_anew() {
        return Ok(lock);
    }
    let state = journal.state.clone();
    match journal.with_leases(|store| crate::execute::live_recorded_driver(store, &state)) {
        None => Ok(lock),
        Some(holder) => {
            lock.give_back();
            Err(crate::execute::LockError::Held {
                run_id: journal.run_id.clone(),
                holder: Some(holder),
            }
            .into())
        }
    }
}

/// Drive a run to where it stops: its status document, its outcome for people, and the exit
/// code.
pub fn finish_driving(
    ctx: &Ctx,
    journal: Journal<'_>,
    by: Operator,
    lock: DriverLock,
    live: &mut Live<'_>,
) -> Result<Output, CommandError> {
    drive_from(ctx, journal, by, lock, live, None, true)
}

/// Drive a run on after an operator's start or report was recorded (`workflow step
/// complete|fail`, `orchestrate start|complete|fail`), as `finish_driving` — except that a
/// drive that cannot go on never reads as the report's failure (`recorded_not_driven_on`).
pub fn drive_on_recorded(
    ctx: &Ctx,
    journal: Journal<'_>,
    by: Operator,
    lock: DriverLock,
    live: &mut Live<'_>,
    answer: impl FnOnce(&crate::project::StatusView, i32) -> Output,
) -> Result<Output, CommandError> {
    let run_id = journal.run_id.clone();
    let kind = journal
        .state
        .start
        .as_ref()
        .map_or(RunKind::Workflow, |s| s.kind);
    match finish_driving(ctx, journal, by, lock, live) {
        Err(e) => recorded_not_driven_on(ctx, &run_id, kind, e, answer),
        ok => ok,
    }
}

/// The answer of a start or report that was recorded and then could not drive run `run_id`
/// on (`e`): the report stands, so the answer is the run as it stands now, as `answer` shows
/// its kind's status (its `next` names the resume where the run needs one), with the warning
/// "recorded; not driven on here: …" saying why — another driver holds the run (a worker the
/// report woke, a driver elsewhere: exit 0 while it carries the run on, else its status's
/// code), or the drive failed after the record (the log locked by another process past the
/// wait, a full disk), then with that error's hints and the resume that drives the run on.
/// A recorded report never answers exit 4 (exit 4 is for what was not done; DESIGN §3c).
/// Before, a drive that gave up on a locked log answered as if the report had failed
/// ("run R was left … to be resumed", exit 4), and a report made again was refused.
pub fn recorded_not_driven_on(
    ctx: &Ctx,
    run_id: &str,
    kind: RunKind,
    e: CommandError,
    answer: impl FnOnce(&crate::project::StatusView, i32) -> Output,
) -> Result<Output, CommandError> {
    let resume = [kind.group(), "resume", run_id];
    let e = e.with_globals(&ctx.globals());
    let mut note = format!("recorded; not driven on here: {}", e.message);
    if !e.run_held() {
        for hint in &e.hints {
            note.push_str(&format!("; {hint}"));
        }
        // Named once: the error's own hint may name it already.
        if !note.contains(&ctx.cmd(&resume)) {
            note.push_str(&format!(
                "; {} drives the run on from what was recorded",
                ctx.cmd(&resume)
            ));
        }
    }
    let now = ctx
        .reading_store()
        .ok()
        .flatten()
        .and_then(|store| run_as_it_stands(ctx, &*store, run_id).ok());
    match now {
        Some(now) => Ok(answer(&now.view, now.code).warn(vec![note])),
        // The log cannot even be read: the error, saying that the report was recorded and
        // naming the resume in its `next`.
        None => {
            let mut e = e;
            e.message = format!(
                "the report was recorded, but the run was not driven on: {}",
                e.message
            );
            if e.code == exit::HELD {
                e.code = exit::WAITING;
            }
            if !e.run_held() && !e.has_next() {
                e = e.next(&resume, "drive the run on from what was recorded");
            }
            Err(e)
        }
    }
}

/// A run as the log has it now, read for an answer once others may have moved it on: its
/// state, its status document and the exit code to answer with.
pub(super) struct AsItStands {
    pub state: crate::decide::RunState,
    pub view: crate::project::StatusView,
    pub code: i32,
}

/// Read run `run_id` as it stands now (`load_live`: the state and whether a live driver
/// holds it), for a command whose own change landed and that answers with the run as
/// another process may have moved it on since. The code is `exit_code_carried_on`: 0 while
/// another driver carries the run on (a status `running` needs a live driver), else its
/// status's code.
pub(super) fn run_as_it_stands(
    ctx: &Ctx,
    store: &dyn crate::store::EventStore,
    run_id: &str,
) -> Result<AsItStands, crate::store::StoreError> {
    let (mut state, alive) = crate::execute::load_live(&ctx.home, store, run_id)?;
    state.run_id = run_id.to_string();
    let view = ctx.view_with_children(&state, alive, store);
    let code = view.status.exit_code_carried_on();
    Ok(AsItStands { state, view, code })
}

/// Resume a run and drive it to where it stops, as `finish_driving`: `resume` (a
/// `Command::Resume`) is decided once the driver's lease is held and staged, so that
/// `run_resumed` is appended with the driver's first append (its checks, its first start),
/// one commit fewer before the first step starts.
/// `e` (a command the run refused), with the hint of its kind's status.
pub(super) fn where_the_run_is(
    ctx: &Ctx,
    state: &crate::decide::RunState,
    e: CommandError,
) -> CommandError {
    // A refusal that would name the run's status for either kind (`CommandError::run_hint`):
    // this one names it for this run, not twice.
    let mut e = e;
    let mut recorded = "";
    if let Some(pending) = e.run_hint.take()
        && pending.slot < e.hints.len()
    {
        e.hints.remove(pending.slot);
        recorded = " (nothing was recorded)";
    }
    let group = if state.is_scenario() {
        "orchestrate"
    } else {
        "workflow"
    };
    e.hint(format!(
        "{} shows where the run is{recorded}",
        ctx.cmd(&[group, "status", &state.run_id])
    ))
}

/// A resume the run refused, with the way on: named where there is one (a rollback under
/// way goes on with a plain resume), else the run's status.
pub(super) fn resume_refused(
    ctx: &Ctx,
    state: &crate::decide::RunState,
    e: crate::execute::JournalError,
) -> CommandError {
    let group = match state.is_scenario() {
        true => crate::event::RunKind::Scenario,
        false => crate::event::RunKind::Workflow,
    }
    .group();
    match e {
        crate::execute::JournalError::Decide(
            ref d @ crate::decide::DecideError::RollingBack { .. },
        ) => {
            CommandError::bad_input(d.to_string()).hint(format!(
                "nothing was recorded; {} goes on with the rollback",
                ctx.cmd(&[group, "resume", &state.run_id])
            ))
        }
        // The configuration in force at resume decides a rollback: where it is, and the resume
        // to give again once it allows one.
        crate::execute::JournalError::Decide(
            ref d @ crate::decide::DecideError::RollbackDisabled { .. },
        ) => {
            CommandError::bad_input(d.to_string()).hint(format!(
                "nothing was recorded; set `\"workflow\": {{\"enable_rollback\": true}}` in {} (the setting in force at resume decides), then resume again; {} goes on without rolling back",
                ctx.catalog().config_path().display(),
                ctx.cmd(&[group, "resume", &state.run_id])
            ))
        }
        // A manual phase never started is started by `orchestrate start`, never by a resume.
        crate::execute::JournalError::Decide(
            ref d @ crate::decide::DecideError::ManualNotStarted { ref phase },
        ) => CommandError::bad_input(d.to_string()).hint(format!(
            "nothing was recorded; start it with {}",
            ctx.cmd(&["orchestrate", "start", &state.run_id, phase])
        )),
        // Nothing failed to retry: the run's status says what moves it on (a plain resume,
        // a start, a report).
        crate::execute::JournalError::Decide(
            ref d @ crate::decide::DecideError::CannotRetry(_),
        ) => CommandError::bad_input(d.to_string()).hint(format!(
            "{} shows where the run is and what moves it on (nothing was recorded)",
            ctx.cmd(&[group, "status", &state.run_id])
        )),
        e => where_the_run_is(ctx, state, CommandError::from(e)),
    }
}

pub fn resume_driving(
    ctx: &Ctx,
    journal: Journal<'_>,
    by: Operator,
    lock: DriverLock,
    live: &mut Live<'_>,
    resume: Command,
) -> Result<Output, CommandError> {
    drive_from(ctx, journal, by, lock, live, Some(resume), true)
}

/// Drive a run on from its journal: `first` recorded first (a resume), and, with
/// `say_changed`, whether its definition file changed since it started said first. A run
/// this command has just started passes false: its definition was read and snapshotted a
/// moment ago, and reading and parsing the file again was a whole parse paid by every run.
pub(super) fn drive_from(
    ctx: &Ctx,
    mut journal: Journal<'_>,
    by: Operator,
    lock: DriverLock,
    live: &mut Live<'_>,
    first: Option<Command>,
    say_changed: bool,
) -> Result<Output, CommandError> {
    let actor = by.clone();
    let lock = not_driven_elsewhere(ctx, lock, &mut journal)?;
    // Whatever drives the run on (a resume, a report, a manual start, a parent driven on by
    // its child) runs the definition it started with: a file changed since is said, live
    // and in the document's `warnings`.
    let changed = match journal.state.start.as_deref() {
        Some(start) if say_changed => definition_changed(start),
        _ => Vec::new(),
    };
    for changed in &changed {
        live.observer.warn(changed);
    }
    // The driver's lease: the run is driven here and nowhere else (on any host), and every
    // append is made under it, so a driver that lost it (paused or cut off past it, the run
    // taken over) records nothing more.
    let run_id = journal.run_id.clone();
    let kind = journal
        .state
        .start
        .as_ref()
        .map_or(RunKind::Workflow, |s| s.kind);
    // A driver holds the run with work in hand: it waits out a log another process holds
    // locked rather than leave the run after the store's own 10 s (`execute::Patience`).
    if journal.patience().is_none() {
        journal.be_patient(patience(ctx, &run_id, kind, &live.stop)?);
    }
    let keeper = hold_driver_lease(ctx, &mut journal, &by)?;
    if let Some(command) = first
        && let Err(e) = journal.stage(command)
    {
        if let Some((lease, keeper)) = keeper {
            keeper.forget(&lease);
            let _ = journal.with_leases(|store| store.release_lease(&lease));
        }
        return Err(resume_refused(ctx, &journal.state, e));
    }
    // A child run (`uses:`) driven here delivers its own `notify:` when it ends.
    let mut notices = super::notify::ChildNotices {
        inner: &mut *live.observer,
        ctx,
        warnings: Vec::new(),
    };
    let mut dctx = DriveContext {
        home: ctx.home.clone(),
        stop: live.stop.clone(),
        actor: by,
        observer: &mut notices,
        grace: KILL_GRACE,
        files: WriteBehind::default(),
        dispatch: ctx.dispatch.clone(),
        deadline: None,
        globals: ctx.globals(),
    };
    let end = match drive(&mut journal, &mut dctx) {
        // The run was finished by another process as this driver went on (a helper worker
        // recorded the end of its last phase, and with it the run's): nothing was refused but
        // the command that found it over, and the run ended as it should — answered as a
        // drive that finished it. Before, the driver said "this driver stopped: the run moved
        // on without it … a result of its own that came late is recorded as rejected" of a
        // healthy run, and nothing was rejected.
        Err(DriveError::Journal(crate::execute::JournalError::Decide(
            crate::decide::DecideError::Finished(outcome),
        ))) if finished_meanwhile(&mut journal) => Ok(DriveEnd::Finished(outcome)),
        other => other.map_err(|e| {
            let left = Left {
                stopped: live.stop.is_set() || ctx.dispatch.ending(),
                unrecorded: journal.staged_ends(),
            };
            drive_error(ctx, e, &run_id, kind, &left)
        }),
    };
    drop(dctx);
    // A worker's driver: the results of its own it recorded rejected count in the worker's
    // closing summary.
    if let Some(seat) = &ctx.dispatch.shared {
        seat.rejected
            .fetch_add(journal.rejected(), std::sync::atomic::Ordering::Relaxed);
    }
    let mut child_warnings = std::mem::take(&mut notices.warnings);
    let leased = keeper.is_some();
    // Let the lease go however the drive ended (a fenced driver's is another's by now, and
    // releasing it changes nothing): once its notifications are delivered, below, if it
    // ended well enough to deliver them — held until then, so that a worker on another host
    // does not take this run's notifications for a dead driver's (SPEC §9: it delivers those
    // of a run whose driver is gone).
    let let_go = |journal: &mut Journal<'_>, keeper: Option<(crate::store::Lease, KeeperRef)>| {
        if let Some((lease, keeper)) = keeper {
            keeper.forget(&lease);
            let _ = journal.with_leases(|store| store.release_lease(&lease));
        }
    };
    let end = match end {
        Ok(end) => end,
        Err(e) => {
            let_go(&mut journal, keeper);
            return Err(e);
        }
    };
    // A worker draining, or told to stop a second time, let the run go with work left: it is
    // recorded submitted for the next worker now, while this driver holds the run's lease —
    // the journal's fence, so that a driver whose lease changed hands records nothing — and
    // only then is the lease let go (below), which wakes the other workers. Before, the worker
    // let go first and recorded it after, unfenced: the `run_submitted` landed in the session
    // of the worker that took the run meanwhile, and a third one then "resumed" the run.
    let handed_back = matches!(end, DriveEnd::HandedBack).then(|| hand_back(&mut journal, &actor));
    let mut state = journal.state.clone();
    // A drive that ended waiting leaves nobody driving: the run is shown as it stands for
    // whoever comes next (waiting on a report, on a worker, on secret inputs).
    let alive = !matches!(end, DriveEnd::Waiting(_) | DriveEnd::HandedBack);
    let mut view = journal.nested(|store, _, _| ctx.view_with_children(&state, alive, &*store));
    let mut code = match end {
        DriveEnd::Finished(_) | DriveEnd::Paused => view.status.exit_code(),
        DriveEnd::Waiting(_) | DriveEnd::Stopped | DriveEnd::HandedBack => exit::WAITING,
    };
    let now = SystemTime::now();
    let mut human = render_outcome(&view, &ctx.home, now);
    // Delivered while the run's lock is held, as the driver: a `resume` meanwhile is refused
    // as held (exit 4) rather than delivering them a second time; one after this process died
    // delivering delivers what it left (`notify::pending`).
    let mut warnings = super::notify::after_change(ctx, &journal.state, &journal.redactor);
    // An operator's abort or stop asked while this driver delivered them: carried out here,
    // and the answer is the run as the log ends (its driver's last words "aborted").
    let mut end = end;
    if matches!(end, DriveEnd::Paused)
        && let Some(carried) = carry_out_request(ctx, &mut journal, &mut warnings)
    {
        end = carried;
        state = journal.state.clone();
        view = journal.nested(|store, _, _| ctx.view_with_children(&state, alive, &*store));
        code = match end {
            DriveEnd::Stopped => exit::WAITING,
            _ => view.status.exit_code(),
        };
        human = render_outcome(&view, &ctx.home, SystemTime::now());
    }
    let_go(&mut journal, keeper);
    drop(lock);
    // Let go of with nothing appended (the next step or phase asks for tags this driver does
    // not offer, a draining worker handed it back): the workers listening to the log are told
    // now, with its lease and lock gone, so one offering those tags takes it within
    // milliseconds rather than at its next `--poll` (SPEC §9).
    if !alive && leased && state.phase == crate::decide::RunPhase::Running {
        let _ = journal.with_leases(|store| store.wake(&run_id));
    }
    // The children it ended on its way (an abort ends them after the drive) deliver theirs.
    child_warnings.extend(super::notify::after_change_below(ctx, &journal.state));
    warnings.extend(child_warnings);
    // A report (`orchestrate complete`) appended while this driver was letting go found the
    // run held and left it to this driver (`DriveOn::Elsewhere`), which had already decided
    // that nothing was left to do: with the lock given back, the log is read once more, and
    // what the report made ready is driven on here, unless another process took it. Without
    // this look, three concurrent reports could leave a run whose phases were all reported
    // waiting with nobody to drive it.
    // A worker that took the run once this driver let it go (a step it left for a worker's
    // tags): named, not suggested to be started.
    let mut taken_by: Option<String> = None;
    if matches!(end, DriveEnd::Waiting(_)) && ctx.dispatch.shared.is_none() {
        let seen = journal.state.events;
        journal.refresh()?;
        // A command in a terminal that let its run go for a worker's tags: a worker offering
        // them takes it within milliseconds (woken above on PostgreSQL; at its next `--poll`
        // on SQLite). It is watched for that long, and, once taken, followed to where the
        // worker leaves it (its end, or another wait), and answered as that, with the
        // outcome's exit code: what the person who typed `run` asked for. Before, it said
        // the run waited, suggested starting a worker that was there, and exited 3 while the
        // worker finished the run.
        if let Some(announce) = ctx.announce
            && journal.state.outcome().is_none()
            && (taken_by_worker(&journal.state, seen)
                || crate::plan::waits_for_worker(&journal.state))
            && let Some(followed) =
                follow_a_worker(ctx, &mut journal, &run_id, seen, live, announce)?
        {
            return Ok(followed.warn(warnings));
        }
        if journal.state.session_seq >= seen
            && journal.state.outcome().is_none()
            && let Some(worker) = journal
                .state
                .driven_by
                .as_deref()
                .filter(|a| a.starts_with("worker:"))
        {
            taken_by = Some(worker.to_string());
        }
        if journal.state.events > seen && crate::execute::operator::has_work(&journal.state) {
            let state = journal.state.clone();
            let on = journal.nested(|store, _, _| {
                crate::execute::operator::drive_on(
                    &ctx.home,
                    &*store,
                    &state,
                    &holder(&actor.actor),
                )
            })?;
            if let crate::execute::operator::DriveOn::Here(lock) = on {
                return drive_from(ctx, journal, actor, lock, live, None, false)
                    .map(|o| o.warn(warnings));
            }
        }
        // Others recorded since this drive ended (concurrent reports, the driver one of them
        // became): the answer is the run as it stands now, as `status` would show it — its
        // next steps the ones left, exit 0 while another process carries it on — not as this
        // drive left it. Before, a reporter beside two others said the run waited on reports
        // that had landed a moment before, and an agent following its `next` was refused.
        if journal.state.events > seen
            && let Ok(now) = journal.nested(|store, _, _| run_as_it_stands(ctx, &*store, &run_id))
        {
            code = now.code;
            human = render_outcome(&now.view, &ctx.home, SystemTime::now());
            view = now.view;
        }
    }
    // A child run driven on its own (a report on one of its steps, a resume) that finished or
    // failed drives its parent on, if the parent waits on it and nobody drives the parent: a
    // report on the child's last prompt is all it takes for the whole tree to go on.
    if matches!(end, DriveEnd::Finished(_) | DriveEnd::Paused)
        && let Some(parent) = journal.state.start.as_ref().and_then(|s| s.parent.clone())
    {
        let parent_out = journal.nested(|store, clock, ids| {
            let on = Handover {
                parent: &parent,
                child: &run_id,
                // Without this run's commands: the parent's, below, are the ones to follow.
                child_outcome: &render_outcome_line(&view, &ctx.home, now),
            };
            drive_parent_on(ctx, store, clock, ids, on, actor.clone(), live)
        })?;
        if let Some(out) = parent_out {
            return Ok(out.warn(warnings));
        }
    }
    // Its notifications as `status` shows them (`notify::shown`, one projection): recorded,
    // still due, and — this driver having let the run go — the resume that delivers those it
    // left due, first among the commands, with why (what this process lacked). Before, this
    // answer had none of them and `status` a moment later put `--notify-only` first.
    let mut notified = None;
    if taken_by.is_none()
        && let Some(shown) = notes_left(ctx, &mut journal, &mut view)
    {
        human = render_outcome_noted(&view, &ctx.home, now, &shown.output.human);
        notified = Some(shown);
    }
    let mut doc = view.to_json();
    if let Some(shown) = notified {
        shown.into_doc(&mut doc);
    }
    if !changed.is_empty() {
        // Said on stderr already, as the drive began.
        doc["warnings"] = serde_json::json!(changed);
    }
    // For the worker whose drive this was (only a worker's drive is handed back): whether its
    // handback was recorded, and if not why, as it says it.
    if let Some(handed_back) = handed_back {
        match handed_back {
            HandBack::Recorded => doc["handed_back"] = true.into(),
            HandBack::NotRecorded(why) => {
                doc["handed_back"] = false.into();
                doc["handback"] = why.into();
            }
            HandBack::Moot => {}
        }
    }
    // Before, it said the run waited for a worker and suggested starting one (`cortex worker
    // --tags=… --until-idle`) when the log already had that worker's `run_resumed`.
    let human = match &taken_by {
        Some(worker) => {
            doc["taken_by"] = worker.clone().into();
            let kind = if journal.state.is_scenario() {
                "orchestrate"
            } else {
                "workflow"
            };
            format!(
                "⏩ Run {run_id}: taken by {worker}, which drives it on from here.\n\nNext:\n  {}   # follow it\n",
                ctx.cmd(&[kind, "status", &run_id])
            )
        }
        None => human,
    };
    Ok(Output::new(doc, human, code).warn(warnings))
}

/// The notifications of the run a process lets go of (a driver's, a report's that finished or
/// paused it) as `status` shows them (`notify::shown`, nobody driving it): the resume that
/// delivers those left due put first in `view.next`; the caller moves the rest into its
/// document (`Shown::into_doc`) and its text. One projection for every such answer: before,
/// a report that finished a run left its notifications due (it lacked a secret input they
/// read) and answered with neither `notifications_pending` nor that resume, which `status`
/// had a moment later.
pub(super) fn notes_left(
    ctx: &Ctx,
    journal: &mut Journal<'_>,
    view: &mut crate::project::StatusView,
) -> Option<super::notify::Shown> {
    let state = journal.state.clone();
    let redactor = journal.redactor.clone();
    let shown = journal
        .nested(|store, _, _| super::notify::shown(ctx, &*store, &state, false, &redactor))
        .ok()?;
    super::notify::Shown::suggest(shown.deliver.clone(), &mut view.next);
    Some(shown)
}

/// How a worker's handback of a run it drove went (`DriveEnd::HandedBack`).
enum HandBack {
    /// `run_submitted` is recorded, under the driver's lease: the next worker drives the run.
    Recorded,
    /// Nothing was recorded, and why, as the worker says it: the lease changed hands (the
    /// driver that holds it now goes on with the run), or the log refused the append.
    NotRecorded(String),
    /// Nothing to hand back: the run moved on at the head (stopped, finished, paused, or
    /// submitted already).
    Moot,
}

/// Record the run submitted again, for the next worker, with this driver's journal: fenced by
/// its lease, which it still holds (`drive_from` lets it go after).
fn hand_back(journal: &mut Journal<'_>, by: &Operator) -> HandBack {
    if journal.state.submitted {
        return HandBack::Moot;
    }
    match journal.submit(crate::decide::Command::Submit { by: by.clone() }) {
        Ok(_) => HandBack::Recorded,
        Err(crate::execute::JournalError::Fenced(why)) => HandBack::NotRecorded(format!(
            "not handed back: {why}; that driver goes on with it, and nothing more was recorded here"
        )),
        Err(crate::execute::JournalError::Decide(_)) => HandBack::Moot,
        Err(e) => HandBack::NotRecorded(format!(
            "let go of, but its handback could not be recorded ({e}); a worker takes it up as a run nobody drives"
        )),
    }
}

/// Whether a worker took the run since event `seen` (its session began there or later, by a
/// `worker:` actor).
fn taken_by_worker(state: &crate::decide::RunState, seen: u64) -> bool {
    state.session_seq >= seen
        && state
            .driven_by
            .as_deref()
            .is_some_and(|a| a.starts_with("worker:"))
}

/// Secret inputs a process lacks, as its notes name them: ("input `a`" or "inputs `a`, `b`",
/// their variables "CORTEX_INPUT_A, CORTEX_INPUT_B").
pub(crate) fn lacking_inputs(lacking: &[String]) -> (String, String) {
    let names: Vec<String> = lacking.iter().map(|n| format!("`{n}`")).collect();
    let vars: Vec<String> = lacking
        .iter()
        .map(|n| crate::execute::input_env_name(n))
        .collect();
    let noun = if lacking.len() == 1 {
        "input"
    } else {
        "inputs"
    };
    (format!("{noun} {}", names.join(", ")), vars.join(", "))
}

/// How long a terminal command that let its run go for a worker's tags watches for a worker
/// to take it: past a polling worker's default `--poll` (1 s), with room for its look.
const WORKER_TAKE_WINDOW: Duration = Duration::from_millis(2_500);

/// How often a followed run's log is read.
const FOLLOW_EVERY: Duration = Duration::from_millis(100);

/// `drive_from`'s end for a terminal command whose run waits for a worker offering its
/// tags: watch the log for `WORKER_TAKE_WINDOW`; None when no worker took the run by then
/// (the run waits, as said). Once a worker took it (a `run_resumed` of a `worker:` actor after
/// `seen`), follow it until it ends, or the worker leaves it waiting (for a person, other
/// tags), or nobody drives it any more (the worker gone): the run's status then, its exit
/// code the status's (0 completed, 1 failed, 3 waiting), headed by who took it. A stop
/// signal (Ctrl-C) ends the following only: the worker goes on.
fn follow_a_worker(
    ctx: &Ctx,
    journal: &mut Journal<'_>,
    run_id: &str,
    seen: u64,
    live: &mut Live<'_>,
    announce: fn(&str),
) -> Result<Option<Output>, CommandError> {
    use crate::decide::RunPhase;
    let until = Instant::now() + WORKER_TAKE_WINDOW;
    while !taken_by_worker(&journal.state, seen) {
        if Instant::now() >= until || live.stop.is_set() || journal.state.outcome().is_some() {
            return Ok(None);
        }
        std::thread::sleep(FOLLOW_EVERY);
        journal.refresh()?;
    }
    let worker = journal.state.driven_by.clone().unwrap_or_default();
    announce(&format!(
        "{worker} took run {run_id}: following it here until it ends or waits (Ctrl-C stops following; the worker goes on)"
    ));
    // Followed while its driver (the worker, or whoever drives it next) holds it, by the rule
    // `status` uses (`load_live`): it ends, waits as a whole (a report), or is let go (for a
    // person, for other tags, or its worker gone).
    // The journal's state is caught up with each tick (only the new events are read); the
    // holder is asked of it, and, when none holds it, of the log once more (a driver that
    // handed the run on appended before letting go: `load_live`'s rule).
    let mut alive;
    loop {
        journal.refresh()?;
        loop {
            let state = journal.state.clone();
            alive = journal.nested(|store, _, _| {
                crate::execute::run_holder(&ctx.home, &*store, &state).is_some()
            });
            if alive || journal.refresh()?.is_empty() {
                break;
            }
        }
        let state = &journal.state;
        if state.outcome().is_some()
            || !matches!(state.phase, RunPhase::Running)
            || !alive
            || live.stop.is_set()
        {
            break;
        }
        std::thread::sleep(FOLLOW_EVERY);
    }
    let state = journal.state.clone();
    let view = journal.nested(|store, _, _| ctx.view_with_children(&state, alive, &*store));
    let code = view.status.exit_code();
    let mut doc = view.to_json();
    doc["taken_by"] = worker.clone().into();
    let human = format!(
        "⏩ Run {run_id}: taken by {worker}, followed here.\n\n{}",
        render_outcome(&view, &ctx.home, SystemTime::now()).trim_start_matches('\n')
    );
    Ok(Some(Output::new(doc, human, code)))
}

/// Whether the run, as the log stands (caught up once more if need be), is finished.
fn finished_meanwhile(journal: &mut Journal<'_>) -> bool {
    if journal.state.outcome().is_none() {
        let _ = journal.refresh();
    }
    journal.state.outcome().is_some()
}

/// How long a driver's lease lasts without renewal (renewed every third of it).
pub const DRIVER_LEASE_MS: u64 = 30_000;

/// The driver lease a command (not a worker) claims for run `run_id`: named for its actor and
/// process, for `DRIVER_LEASE_MS`.
fn command_driver_claim(run_id: &str, by: &Operator) -> crate::store::LeaseClaim {
    crate::store::LeaseClaim {
        run_id: run_id.to_string(),
        unit: crate::store::DRIVER_UNIT.to_string(),
        attempt: 0,
        // Scrubbed of the secrets this process knows, as the lock's note is: leases are read
        // by every process on the log (`worker list`, a "held by" error).
        holder: format!(
            "driver:{} pid {}",
            crate::execute::scrub_known(&by.actor),
            std::process::id()
        ),
        host: hostname(),
        ttl_ms: DRIVER_LEASE_MS,
    }
}

/// Claim the driver's lease of a run this command is about to start, before its first event:
/// on PostgreSQL a worker takes any unfinished run that no live driver holds, and a run whose
/// `run_started` was committed before its driver's lease (`hold_driver_lease`, a moment
/// later) was taken by a worker woken by that very commit: the person who typed `workflow run`
/// got exit 4 and the steps ran on the worker's host. The lease claimed here is the one
/// `hold_driver_lease` claims again (same holder: extended in place). Nothing to do on a store
/// without leases, for a submitted run (workers are meant to take it), or in a worker (its
/// seat claims its own).
pub(crate) fn claim_before_start(
    ctx: &Ctx,
    store: &mut dyn crate::store::EventStore,
    run_id: &str,
    by: &Operator,
) -> Result<(), CommandError> {
    use crate::store::StoreError;
    if ctx.dispatch.shared.is_some() || !ctx.location()?.is_postgres() {
        return Ok(());
    }
    match store.claim_lease(&command_driver_claim(run_id, by)) {
        Ok(_) | Err(StoreError::Unsupported(_)) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Claim the driver's lease of the journal's run for this process (a worker's seat, or this
/// command) and fence the journal with it: the lease and the keeper that renews it (none on a
/// store without leases). Held by another live driver: the run is held (exit 4).
fn hold_driver_lease(
    ctx: &Ctx,
    journal: &mut Journal<'_>,
    by: &Operator,
) -> Result<Option<(crate::store::Lease, KeeperRef)>, CommandError> {
    use crate::store::{DRIVER_UNIT, StoreError};
    // A command driving a SQLite log needs no lease: the log is on this host, where the run's
    // lock (and, for homes sharing the log, the leases of their workers: `not_driven_elsewhere`)
    // says who drives it, and nothing is paid per append for a fence.
    // Unless the run has a driver lease (a worker drove it): that one is claimed, so that a
    // worker frozen past its lease, whose lock this driver broke (`DriverLock::take_over`),
    // is fenced by the epoch and records nothing more once it wakes.
    if ctx.dispatch.shared.is_none() && !ctx.location()?.is_postgres() {
        let run_id = journal.run_id.clone();
        let leased = journal
            .nested(|store, _, _| store.leases(Some(&run_id)))
            .is_ok_and(|leases| leases.iter().any(|l| l.unit == DRIVER_UNIT));
        if !leased {
            return Ok(None);
        }
    }
    let claim = match &ctx.dispatch.shared {
        Some(seat) => seat.claim(&journal.run_id, DRIVER_UNIT, 0),
        None => command_driver_claim(&journal.run_id, by),
    };
    let run_id = journal.run_id.clone();
    // Claimed already by this worker (its loop claims a run's driver lease before it hands
    // the run to a thread, and fences the journal with it): kept from here on.
    if let (Some(seat), Some(held)) = (&ctx.dispatch.shared, journal.fenced_by())
        && held.unit == DRIVER_UNIT
        && held.holder == claim.holder
        && held.run_id == run_id
    {
        let lease = held.clone();
        seat.keeper.keep(lease.clone());
        return Ok(Some((lease, KeeperRef::Seat(seat.clone()))));
    }
    // A driver lease held by a process of this host that is gone (killed before it let go)
    // is let go at once, not waited out. One whose process lives is another home's driver or
    // worker on this host (its lock is in its home, not here): it holds the run.
    let _ = journal.nested(|store, _, _| {
        let dead = store.leases(Some(&claim.run_id))?.into_iter().find(|l| {
            l.unit == DRIVER_UNIT && l.holder != claim.holder && crate::execute::holder_gone(l)
        });
        match dead {
            Some(l) => store.release_lease(&l),
            None => Ok(()),
        }
    });
    let lease = match journal.nested(|store, _, _| store.claim_lease(&claim)) {
        Ok(Some(lease)) => lease,
        Err(StoreError::Unsupported(_)) => return Ok(None),
        Err(e) => return Err(e.into()),
        Ok(None) => {
            let Some(holder) = journal
                .nested(|store, _, _| store.leases(Some(&run_id)))
                .ok()
                .and_then(|ls| ls.into_iter().find(|l| l.unit == DRIVER_UNIT))
            else {
                return Err(CommandError::new(
                    exit::HELD,
                    format!("run {run_id} is driven by another driver"),
                ));
            };
            return Err(driven_by(ctx, journal, &holder));
        }
    };
    journal.fence(lease.clone());
    let keeper = match &ctx.dispatch.shared {
        Some(seat) => {
            seat.keeper.keep(lease.clone());
            KeeperRef::Seat(seat.clone())
        }
        None => {
            // Another home or host may take the run over once this lease lapses: a guard ends
            // this command's steps first if it dies, freezes or is cut off from the log
            // (`execute::guard`, self-fencing). Started before the keeper, which tells it.
            // Not on a home's own SQLite log, whose runs no one else drives (no lease there).
            // Best effort: without one (this program cannot be run again), the fence alone
            // keeps a late result out, as before.
            let _ = crate::execute::start_guard(super::KILL_GRACE);
            let keeper = lease_keeper(ctx, DRIVER_LEASE_MS)?;
            keeper.keep(lease.clone());
            KeeperRef::Own(keeper)
        }
    };
    Ok(Some((lease, keeper)))
}

/// The run is held (exit 4) by the live driver whose lease is `lease`: who, and how to see or
/// stop it from here.
pub(crate) fn driven_by(
    ctx: &Ctx,
    journal: &Journal<'_>,
    lease: &crate::store::Lease,
) -> CommandError {
    let run_id = &journal.run_id;
    CommandError::new(
        exit::HELD,
        format!(
            "run {run_id} is driven by {} on {} (for {} ms more)",
            crate::execute::scrub_known(&lease.holder),
            lease.host,
            lease.remaining_ms
        ),
    )
    .hint(if journal.state.is_scenario() {
        format!(
            "wait for it, or see it with {} (or stop it with {}) from here",
            ctx.cmd(&["orchestrate", "status", run_id]),
            ctx.cmd(&["orchestrate", "stop", run_id])
        )
    } else {
        format!(
            "wait for it, or see it with {} from here",
            ctx.cmd(&["workflow", "status", run_id])
        )
    })
}

/// The keeper renewing a driver's lease: a worker's (shared by its units) or its own.
enum KeeperRef {
    Seat(std::sync::Arc<crate::execute::Shared>),
    Own(crate::execute::LeaseKeeper),
}

impl KeeperRef {
    fn forget(&self, lease: &crate::store::Lease) {
        match self {
            KeeperRef::Seat(seat) => seat.keeper.forget(lease),
            KeeperRef::Own(keeper) => keeper.forget(lease),
        }
    }
}

/// A child run that ended its part, handing over to its parent.
struct Handover<'a> {
    parent: &'a crate::event::ParentRun,
    child: &'a str,
    /// How the child ended, for people (said before the parent goes on).
    child_outcome: &'a str,
}

/// A child run that came to an end of its session outside its parent's drive (aborted
/// directly, `workflow abort CHILD`; paused or ended by a report on one of its steps that did
/// not drive it on): drive its parent on from there, as a drive of the child would — the
/// parent's `uses:` step takes the child's end (it fails with "child run … aborted") and its
/// `on_failure` applies, so the parent never goes on waiting on a run that waits for nothing.
/// None if it has no parent, its parent does not wait on it, or is driven elsewhere.
pub(super) fn hand_over_ended_child(
    ctx: &Ctx,
    store: &mut dyn crate::store::EventStore,
    child: &crate::decide::RunState,
    child_outcome: &str,
    by: Operator,
    live: &mut Live<'_>,
) -> Result<Option<Output>, CommandError> {
    let Some(parent) = child.start.as_ref().and_then(|s| s.parent.clone()) else {
        return Ok(None);
    };
    if crate::plan::end_of(child).is_none() {
        return Ok(None);
    }
    let on = Handover {
        parent: &parent,
        child: &child.run_id,
        child_outcome,
    };
    let mut ids = crate::execute::UlidIds::default();
    let clock = crate::execute::SystemClock;
    drive_parent_on(ctx, store, &clock, &mut ids, on, by, live)
}

/// Drive the parent of a child run on, if its step waits on that child and nobody drives it:
/// its document, or none if there was nothing to do.
fn drive_parent_on(
    ctx: &Ctx,
    store: &mut dyn crate::store::EventStore,
    clock: &dyn crate::execute::Clock,
    ids: &mut dyn crate::execute::IdGen,
    on: Handover<'_>,
    by: Operator,
    live: &mut Live<'_>,
) -> Result<Option<Output>, CommandError> {
    let Handover {
        parent,
        child,
        child_outcome,
    } = on;
    let Ok(lock) = DriverLock::acquire(&ctx.home, &parent.run_id, &holder(&by.actor)) else {
        // Its driver is alive (it attached to the child after us) or the lock is unusable:
        // nothing to do here.
        return Ok(None);
    };
    let journal = Journal::open(store, clock, ids, &parent.run_id)?;
    let waits = journal.state.step(&parent.step).is_some_and(|s| {
        s.status == crate::decide::StepStatus::Waiting
            && s.child.as_ref().is_some_and(|c| c.run_id == child)
    });
    let active = matches!(
        journal.state.phase,
        crate::decide::RunPhase::Running | crate::decide::RunPhase::Waiting
    );
    if !waits || !active {
        return Ok(None);
    }
    live.observer.note(child_outcome);
    live.observer.note(&format!(
        "\n↑ The parent run {} goes on (step `{}` waited on this run).\n",
        parent.run_id, parent.step
    ));
    finish_driving(ctx, journal, by, lock, live).map(Some)
}

/// A warning for each definition file of a run that changed since it started (the run goes
/// on with its snapshot): its own, and each workflow its `uses:` steps run, directly or
/// through their own (the snapshot in `run_started.uses`, from which every child run is made,
/// a resumed one or a new one). Before, a child's changed file was said only when that child
/// was resumed on its own: resuming its parent ran the old child silently.
pub fn definition_changed(start: &RunStarted) -> Vec<String> {
    let mut out = Vec::new();
    if changed_file(&start.source, start.kind, &start.definition_hash) {
        out.push(format!(
            "{} changed since this run started; the run goes on with the definition it started with",
            start.source
        ));
    }
    let mut said = std::collections::BTreeSet::from([start.source.clone()]);
    for (uses, used) in used_by(start) {
        if !said.insert(used.source.clone())
            || !changed_file(&used.source, RunKind::Workflow, &used.definition_hash)
        {
            continue;
        }
        out.push(format!(
            "{} (workflow `{}`, run by `uses: {uses}`) changed since this run started; its child runs use the definition as it was then, even a new one `resume --from` starts: a new run (`cortex {} run {}`) takes the change",
            used.source,
            used.name,
            start.kind.group(),
            crate::render::shell_quote(&start.name),
        ));
    }
    out
}

/// Whether the definition run `start` started from validates as it is now, as a new `run` of
/// it would check it: a workflow with the workflows its `uses:` steps run, a scenario.
pub fn definition_valid_now(ctx: &Ctx, start: &RunStarted) -> bool {
    match start.kind {
        RunKind::Workflow => super::workflow::loads(ctx, &start.source),
        RunKind::Scenario => ctx
            .catalog()
            .find_scenario(&start.source)
            .map_err(CommandError::from)
            .and_then(|entry| super::scenario::check(ctx, &entry))
            .is_ok(),
    }
}

/// The warnings of driving run `run_id` on now, as its driver says them when it takes the
/// run (`drive_from`: `definition_changed`), for an answer given before or without that
/// driver's own words — the server's API and page, whose background driver writes them only
/// to its log, and an MCP call with `detach`, which answers once the drive has the run. A run
/// the log does not have (or cannot be read now) has none.
pub fn driving_on_warnings(ctx: &Ctx, run_id: &str) -> Vec<String> {
    ctx.reading_store()
        .ok()
        .flatten()
        .and_then(|store| crate::execute::load_state(&store, run_id).ok())
        .and_then(|state| state.start.as_deref().map(definition_changed))
        .unwrap_or_default()
}

/// Whether the definition file at `source` (not a built-in) differs from the snapshot hashed
/// `hash`: it was edited (or no longer reads as a definition). A file gone is not said.
fn changed_file(source: &str, kind: RunKind, hash: &str) -> bool {
    let path = std::path::Path::new(source);
    if source.starts_with("builtin:") || !path.is_file() {
        return false;
    }
    let Ok(text) = read_definition(path) else {
        return false;
    };
    // Hashed as it was at `run`: a scenario as a scenario, a workflow as a workflow.
    let now = match kind {
        RunKind::Scenario => parse_scenario(source, &text).map(|s| snapshot(&s).1),
        RunKind::Workflow => parse_workflow(source, &text).map(|w| snapshot(&w).1),
    };
    now.map_or(true, |h| h != hash)
}

/// The workflows the run's `uses:` steps (phases) run, directly or through their own, from
/// the run's snapshot, in the order first met: a child run carries its whole tree's map, of
/// which only what is below it is its own.
fn used_by(start: &RunStarted) -> Vec<(&str, &crate::event::UsedWorkflow)> {
    fn uses_of(definition: &serde_json::Value) -> Vec<&str> {
        ["steps", "phases"]
            .iter()
            .filter_map(|k| definition.get(k)?.as_array())
            .flatten()
            .filter_map(|s| s.get("uses")?.as_str())
            .collect()
    }
    let mut out: Vec<(&str, &crate::event::UsedWorkflow)> = Vec::new();
    let mut todo = uses_of(&start.definition);
    while let Some(uses) = todo.pop() {
        let Some((key, used)) = start.uses.get_key_value(uses) else {
            continue;
        };
        if out.iter().any(|(k, _)| *k == key.as_str()) {
            continue;
        }
        out.push((key.as_str(), used));
        let mut below = uses_of(&used.definition);
        below.reverse();
        todo.extend(below);
    }
    out
}

/// A keeper renewing leases of `ttl_ms` on a connection of its own to this command's log
/// (a driver's lease, the notifications' lease).
pub(super) fn lease_keeper(
    ctx: &Ctx,
    ttl_ms: u64,
) -> Result<crate::execute::LeaseKeeper, CommandError> {
    let opener = ctx.clone();
    Ok(crate::execute::LeaseKeeper::start(
        Box::new(move || {
            opener
                .store(crate::definition::Durability::Normal)
                .map_err(|e| crate::store::StoreError::Unreachable {
                    target: "the event log".into(),
                    reason: e.message,
                })
        }),
        ttl_ms,
    )?)
}

/// Carry out, as the driver still holding the run, a stop or abort an operator asked of it
/// while it delivered the notifications of the failure it paused on (`workflow abort|stop`
/// beside it: the request is in the log, and an abort's SIGTERM does not cut that wait,
/// `notify::wait_for`): the abort or stop recorded by whoever asked, the child runs an abort
/// leaves ended, and what the new end owes delivered (an abort's own `on_finish`, after the
/// failure's). How the drive ends then, if a request was carried out. Before, the driver
/// let the run go with the request pending: status said its driver "died" before acting on
/// it, and its first suggestion, `resume --retry`, recorded the stop and failed (exit 2).
fn carry_out_request(
    ctx: &Ctx,
    journal: &mut Journal<'_>,
    warnings: &mut Vec<String>,
) -> Option<DriveEnd> {
    // Unread, a request asked meanwhile would be let go of unsaid: the driver's warning says
    // how to see one and carry it out (it stays pending in the log, as status shows).
    if let Err(e) = journal.refresh() {
        let run_id = journal.state.run_id.clone();
        let group = journal
            .state
            .start
            .as_ref()
            .map_or("workflow", |s| s.kind.group());
        warnings.push(format!(
            "could not read run {run_id}'s log to carry out a stop or abort asked while its notifications were delivered: {e}; if `{}` shows one requested, ask again: `{}` or `{}`",
            ctx.cmd(&[group, "status", &run_id]),
            ctx.cmd(&[group, "abort", &run_id]),
            ctx.cmd(&[group, "stop", &run_id]),
        ));
        return None;
    }
    let state = &journal.state;
    if !state.stop_requested
        || state.outcome().is_some()
        || state.phase == crate::decide::RunPhase::Stopped
    {
        return None;
    }
    let (command, end) = match (&state.abort_requested, &state.stopped_by) {
        (Some(by), _) => (
            Command::Abort {
                by: by.clone(),
                cut_off: None,
            },
            DriveEnd::Finished(crate::event::Outcome::Aborted),
        ),
        (None, Some((by, _))) => (
            Command::Stop {
                by: by.clone(),
                signal: None,
            },
            DriveEnd::Stopped,
        ),
        (None, None) => return None,
    };
    let aborted_by = state.abort_requested.clone();
    match journal.submit(command) {
        Ok(_) => {}
        Err(e) => {
            warnings.push(format!(
                "the {} asked of this run was not recorded: {e}",
                if matches!(end, DriveEnd::Stopped) {
                    "stop"
                } else {
                    "abort"
                }
            ));
            return None;
        }
    };
    // Derived files are a cache of the log: failing to write them loses nothing.
    let _ = crate::execute::materialize(&ctx.home, &journal.state);
    if let Some(by) = aborted_by {
        let state = journal.state.clone();
        journal.nested(|store, clock, ids| {
            crate::execute::end_children(store, clock, ids, &ctx.home, &state, &by, KILL_GRACE)
        });
    }
    warnings.extend(super::notify::after_change(
        ctx,
        &journal.state,
        &journal.redactor,
    ));
    Some(end)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decide::DecideError;
    use crate::execute::JournalError;

    /// What a driver of run `R1` of `kind` that stopped on `e`, with the ends of `unrecorded`
    /// staged, says.
    fn said(e: DriveError, kind: RunKind, unrecorded: &[&str]) -> CommandError {
        let left = Left {
            stopped: false,
            unrecorded: unrecorded.iter().map(|s| s.to_string()).collect(),
        };
        drive_error(&Ctx::new(None).unwrap(), e, "R1", kind, &left)
    }

    #[test]
    fn a_driver_whose_attempt_was_superseded_fails_it_is_not_bad_input() {
        let superseded = DriveError::Journal(JournalError::Decide(DecideError::AttemptMismatch {
            noun: "step",
            step: "a".into(),
            expected: 2,
            got: 1,
        }));
        let e = said(superseded, RunKind::Workflow, &[]);
        assert_eq!(e.code, exit::FAILED, "{}", e.message);
        assert!(
            e.message.contains("moved on without it")
                && e.message.contains("not the attempt in flight"),
            "{}",
            e.message
        );
    }

    /// Review f, M1 and L4: a driver that gave up on a log another process holds locked
    /// answers as a run held by another process (exit 4), names its run's resume in a hint
    /// and in `next` — the same document on the CLI, an MCP tool error and the API — and
    /// says which step runs again; a report's busy log is exit 4 too, "try again".
    #[test]
    fn a_driver_left_by_a_locked_log_is_held_exit_4_and_names_its_resume_in_next() {
        let busy = DriveError::Journal(JournalError::Store(crate::store::StoreError::Busy));
        let e = said(busy, RunKind::Scenario, &["s2"]);
        assert_eq!((e.code, e.cause), (exit::HELD, Cause::Unavailable));
        assert!(!e.run_held(), "not another driver's run");
        let doc = e.document();
        assert_eq!(doc["exit_code"], 4);
        assert_eq!(
            doc["next"][0]["argv"],
            serde_json::json!(["cortex", "orchestrate", "resume", "R1"])
        );
        let hints = doc["hints"].to_string();
        assert!(hints.contains("`cortex orchestrate resume R1`"), "{hints}");
        assert!(hints.contains("`s2` ended here"), "{hints}");
        let report = CommandError::from(crate::store::StoreError::Busy);
        assert_eq!(
            (report.code, report.cause),
            (exit::HELD, Cause::Unavailable)
        );
        assert!(report.hints[0].to_string().contains("try again"));
        assert!(report.document().get("next").is_none());
    }
}
