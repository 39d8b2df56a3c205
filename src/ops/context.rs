//! What every operation needs: the home folder, the project directory, the log — where it is
//! (SPEC §9: `--db`, else CORTEX_DB, else `db` in cortex.config.json, else the home's
//! `cortex.db`) and the store opened there — and how to name what it suggests.

use std::path::{Path, PathBuf};

use super::{CommandError, Hint};
use crate::definition::{Catalog, Durability};
use crate::event::{Operator, RunKind};
pub use crate::execute::{default_actor, hostname};
use crate::ops::{FindError, Scope, find_run};
use crate::project::{KeptTimeLimit, StatusView, status_view};
use crate::store::{EventStore, Location};

/// The environment variable that says where the event log is (after `--db`, before the
/// configuration's `db`).
pub const DB_ENV: &str = "CORTEX_DB";

/// Set (to `1`) beside CORTEX_DB by a process that hands its `--db` on to a background
/// `cortex` (`Ctx::db_env`): the log was chosen by a flag, so what that process prints (a
/// scheduled run's output file, a server's driver's) suggests commands carrying `--db`, as
/// the command that started it would. Before, they suggested `cortex workflow resume ID`,
/// which pasted into a shell without CORTEX_DB opened the home's log, not that one.
pub const DB_GIVEN_ENV: &str = "CORTEX_DB_GIVEN";

#[derive(Clone)]
pub struct Ctx {
    pub home: PathBuf,
    pub cwd: PathBuf,
    /// The home is not the one a bare `cortex` would use (`--home` given), or is one only
    /// from this directory (a relative CORTEX_HOME): suggested commands must name it, or
    /// pasting them would act on another log.
    pub explicit_home: bool,
    /// `--db`: where the log is, given on the command line. Suggested commands name it too.
    pub db: Option<String>,
    /// How runs driven by this command dispatch their units: a worker's seat (`cortex
    /// worker`), or by default every unit here.
    pub dispatch: crate::execute::Dispatch,
    /// Where to say, while the command waits, what it waits for (one line, e.g. "delivering
    /// 2 notification(s)…"): the CLI's stderr; none for front ends that answer once.
    pub announce: Option<fn(&str)>,
    /// How the notifications due after an operation are delivered (`ops::notify`).
    pub deliveries: Deliveries,
    /// The run this command found to act on (`Ctx::find`), for its errors' hints that name
    /// commands on it (`CommandError::for_run`, at `localize`). A front end that answers
    /// many requests gives each a context with its own.
    pub acted_on: ActedOn,
    /// The front end that asked (`Surface`): how a hint names what to give (a flag, a tool's
    /// argument, a field of a request's body).
    pub surface: Surface,
}

/// The front end an operation answers: what it is given is named in its words — the CLI's
/// `--input NAME=VALUE`, an MCP tool's `inputs: {"NAME": ...}`, the HTTP API's body field
/// `"inputs": {"NAME": ...}` — so that a hint or a warning says what the reader can do
/// where they are (before, an MCP client was told to "pass --input who=VALUE").
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Surface {
    #[default]
    Cli,
    Mcp,
    Api,
}

impl Surface {
    /// How to give the values of `names` as `what` (`input`, `output`), `value` standing for
    /// each value: `--input a=VALUE --input b=VALUE`, `inputs: {"a": VALUE, "b": VALUE}`.
    pub fn give(self, what: &str, names: &[&str], value: &str) -> String {
        match self {
            Surface::Cli => names
                .iter()
                .map(|n| format!("--{what} {n}={value}"))
                .collect::<Vec<_>>()
                .join(" "),
            Surface::Mcp | Surface::Api => {
                let fields = names
                    .iter()
                    .map(|n| format!("{}: {value}", serde_json::Value::from(*n)))
                    .collect::<Vec<_>>()
                    .join(", ");
                let field = format!("{what}s");
                match self {
                    Surface::Mcp => format!("{field}: {{{fields}}}"),
                    _ => format!("\"{field}\": {{{fields}}}"),
                }
            }
        }
    }

    /// An option by its name where the reader gives it: the CLI's flag `--NAME`, a tool's
    /// argument or a request body's field `NAME`. Before, an MCP error named `--timeout` and
    /// `--at`, which a tool call has none of.
    pub fn named(self, name: &str) -> String {
        match self {
            Surface::Cli => format!("--{name}"),
            Surface::Mcp | Surface::Api => name.to_string(),
        }
    }

    /// Option `name` given `value`, as the reader writes it: `--NAME VALUE`, a tool's
    /// `NAME: "VALUE"`, a body's `"NAME": "VALUE"`.
    pub fn set(self, name: &str, value: &str) -> String {
        let quoted = serde_json::Value::from(value);
        match self {
            Surface::Cli => format!("--{name} {value}"),
            Surface::Mcp => format!("{name}: {quoted}"),
            Surface::Api => format!("\"{name}\": {quoted}"),
        }
    }

    /// How to resume a run with the values of its secret inputs given again.
    pub fn resume_with_secrets(self) -> String {
        match self {
            Surface::Cli => {
                "resume it with --input NAME=VALUE, or CORTEX_INPUT_<NAME> set".to_string()
            }
            Surface::Mcp => "call the `resume` tool with `inputs: {\"NAME\": \"...\"}` (each secret input's value), or start the server with CORTEX_INPUT_<NAME> set".to_string(),
            Surface::Api => "resume it with `\"inputs\": {\"NAME\": \"...\"}` in the request's body (each secret input's value)".to_string(),
        }
    }
}

/// The run a command acts on, once found: its id, and its kind where the lookup knew it.
#[derive(Clone, Default, Debug)]
pub struct ActedOn(std::sync::Arc<std::sync::Mutex<Option<Found>>>);

/// A run found: its id, and its kind where the lookup was of one kind.
type Found = (String, Option<RunKind>);

impl ActedOn {
    pub(crate) fn set(&self, run_id: &str, kind: Option<RunKind>) {
        if let Ok(mut at) = self.0.lock() {
            *at = Some((run_id.to_string(), kind));
        }
    }

    pub(crate) fn get(&self) -> Option<Found> {
        self.0.lock().ok().and_then(|at| at.clone())
    }
}

/// How the notifications due after an operation are delivered.
#[derive(Clone, Default)]
pub enum Deliveries {
    /// Before the operation returns (a command that ends when it answers), saying so first
    /// on `announce`.
    #[default]
    Wait,
    /// The same, but the first Ctrl-C (SIGINT, SIGTERM, SIGHUP) while they are under way ends
    /// the wait: what is not delivered by then is recorded as not delivered. The CLI's way.
    WaitUnlessInterrupted,
    /// Handed to this process's background deliverer: the operation answers at once (a
    /// process that lives on and answers requests: `cortex serve`).
    Background(std::sync::Arc<super::background::Background>),
}

/// The log a command that may record opened (none: there is none yet), and, where it could
/// only be opened for reading, the error a write meets (`Ctx::changing_store`).
pub type ChangingStore = (Option<Box<dyn EventStore>>, Option<CommandError>);

impl Ctx {
    pub fn new(home: Option<PathBuf>) -> Result<Ctx, CommandError> {
        let cwd = std::env::current_dir().map_err(|e| {
            CommandError::bad_input(format!("the current directory is unusable: {e}"))
        })?;
        // `--home`, else CORTEX_HOME (set but empty counts as unset), else ~/.cortex.
        let home = home.filter(|h| !h.as_os_str().is_empty()).or_else(|| {
            std::env::var_os("CORTEX_HOME")
                .filter(|h| !h.is_empty())
                .map(PathBuf::from)
        });
        let home = home
            .map(|h| {
                without_tilde(&h).map_err(|e| {
                    CommandError::bad_input(format!("the home {}: {e}", h.display()))
                        .hint("set CORTEX_HOME or pass --home DIR with the folder written out")
                })
            })
            .transpose()?;
        let home = match home {
            Some(h) if h.is_absolute() => h,
            Some(h) => cwd.join(h),
            None => match std::env::var_os("HOME") {
                Some(h) => PathBuf::from(h).join(".cortex"),
                None => {
                    return Err(CommandError::bad_input("no home folder: HOME is not set")
                        .hint("set CORTEX_HOME or pass --home DIR"));
                }
            },
        };
        // A home that is there but no folder (a file, or a link to one) would fail later as
        // if its files were broken ("cortex.config.json is invalid: Not a directory").
        if home.exists() && !home.is_dir() {
            return Err(CommandError::bad_input(format!(
                "the home {} is not a folder",
                home.display()
            ))
            .hint("set CORTEX_HOME or pass --home DIR naming a folder (made if missing)"));
        }
        let implied = match std::env::var_os("CORTEX_HOME").filter(|h| !h.is_empty()) {
            Some(h) => without_tilde(Path::new(&h)).ok().map(|h| cwd.join(h)),
            None => std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cortex")),
        };
        // A relative CORTEX_HOME names another home from another directory: suggestions name
        // it written out, as they do a relative `--home`.
        let relative_env = std::env::var_os("CORTEX_HOME")
            .filter(|h| !h.is_empty())
            .is_some_and(|h| without_tilde(Path::new(&h)).is_ok_and(|h| h.is_relative()));
        let explicit_home = relative_env || implied.as_deref() != Some(home.as_path());
        // The tokens of the servers running on this home are scrubbed from what this process
        // records (`execute::serve_tokens_to_scrub`).
        crate::execute::note_home(&home);
        Ok(Ctx {
            home,
            cwd,
            explicit_home,
            db: None,
            dispatch: Default::default(),
            announce: None,
            deliveries: Deliveries::Wait,
            acted_on: ActedOn::default(),
            surface: Surface::Cli,
        })
    }

    /// The same context with the log given by `--db` (an empty value counts as not given).
    pub fn with_db(mut self, db: Option<String>) -> Ctx {
        self.db = db.filter(|d| !d.trim().is_empty());
        self
    }

    /// The environment that has a background `cortex` this process starts use the log given
    /// with `--db` (none: it finds the log as this one did, `CORTEX_DB` being inherited).
    /// Never an argument: a connection string may hold a password, and a process's
    /// arguments are for anyone on the machine to read (`ps`, `/proc/PID/cmdline`).
    pub fn db_env(&self) -> Vec<(String, String)> {
        self.db
            .iter()
            .flat_map(|db| {
                [
                    (DB_ENV.to_string(), db.clone()),
                    (DB_GIVEN_ENV.to_string(), "1".to_string()),
                ]
            })
            .collect()
    }

    /// Where the log is: `--db`, else CORTEX_DB (both relative to the current directory),
    /// else `db` in the home's cortex.config.json (relative to the home), else
    /// `CORTEX_HOME/cortex.db`.
    /// A SQLite log's runs are locked beside it (`execute::locks_beside`).
    pub fn location(&self) -> Result<Location, CommandError> {
        let location = self.find_location()?;
        if let Location::Sqlite(path) = &location {
            crate::execute::locks_beside(&self.home, path);
        }
        Ok(location)
    }

    fn find_location(&self) -> Result<Location, CommandError> {
        let read = |spec: &str, base: &std::path::Path, from: &str| {
            let expanded = match spec.strip_prefix("sqlite:").unwrap_or(spec) {
                path if path.starts_with('~') => {
                    let path = without_tilde(Path::new(path)).map_err(|e| {
                        CommandError::bad_input(format!("{from}: {e}"))
                            .hint(format!("correct {from}, with the path written out"))
                    })?;
                    Some(format!("sqlite:{}", path.display()))
                }
                _ => None,
            };
            let spec = expanded.as_deref().unwrap_or(spec);
            Location::read(spec, base).map_err(|e| {
                CommandError::bad_input(format!("{from}: {e}")).hint(format!(
                    "correct {from}, or leave it out for the SQLite log in the home"
                ))
            })
        };
        if let Some(loc) = self
            .db
            .as_deref()
            .map(|d| read(d, &self.cwd, "--db"))
            .transpose()?
            .flatten()
        {
            return Ok(loc);
        }
        if let Some(loc) = std::env::var(DB_ENV)
            .ok()
            .map(|d| read(&d, &self.cwd, DB_ENV))
            .transpose()?
            .flatten()
        {
            return Ok(loc);
        }
        let config = self.home.join("cortex.config.json");
        let configured = match crate::definition::read_definition(&config) {
            Ok(text) => {
                match crate::definition::parse_config_file(&config.display().to_string(), &text) {
                    Ok(file) => file.db,
                    // A mistake elsewhere in the file is for the commands that use those
                    // settings to report; where the log is can still be read from it.
                    Err(e) => match serde_json::from_str::<serde_json::Value>(&text)
                        .ok()
                        .as_ref()
                        .and_then(|v| v.as_object())
                        .map(|o| o.get("db"))
                    {
                        Some(None | Some(serde_json::Value::Null)) => None,
                        Some(Some(serde_json::Value::String(db))) => Some(db.clone()),
                        _ => return Err(CommandError::definition(&e)),
                    },
                }
            }
            Err(crate::definition::ReadError::NotFound) => None,
            Err(e) if e.is_content() => {
                return Err(CommandError::definition(
                    &e.definition_error(&config.display().to_string()),
                ));
            }
            Err(e) => {
                return Err(CommandError::bad_input(format!(
                    "cannot read {}: {e}",
                    config.display()
                )));
            }
        };
        let from = format!("`db` in {}", config.display());
        Ok(configured
            .map(|d| read(&d, &self.home, &from))
            .transpose()?
            .flatten()
            .unwrap_or_else(|| Location::Sqlite(self.db_path())))
    }

    /// The global options every command this invocation prints (in a hint or a line of text)
    /// carries after `cortex`: `--home H` when a bare `cortex` would use another home, `--db`
    /// when given — as given, or, when it holds a password, without it and otherwise as given
    /// (`Location::without_password`): printed text never shows a password. A SQLite file
    /// given relative to this directory is written absolute (`sqlite:/…`), as `--home` is:
    /// a suggestion run from another directory opens the same log.
    pub fn globals(&self) -> Vec<String> {
        self.globals_with(|db| match Location::parse(db, &self.cwd) {
            Some(loc) if loc.holds_password() => loc.without_password(),
            Some(Location::Sqlite(path))
                if !std::path::Path::new(db.strip_prefix("sqlite:").unwrap_or(db))
                    .is_absolute() =>
            {
                format!("sqlite:{}", path.display())
            }
            _ => db.to_string(),
        })
    }

    /// `--home H` and `--db` as `db` writes the value given.
    fn globals_with(&self, db: impl Fn(&str) -> String) -> Vec<String> {
        let mut global = Vec::new();
        if self.explicit_home {
            global.extend(["--home".to_string(), self.home.display().to_string()]);
        }
        if let Some(given) = &self.db {
            global.extend(["--db".to_string(), db(given)]);
        } else if let Some(given) = db_given_env() {
            // Handed on from a `--db` (`DB_GIVEN_ENV`): suggested as that command would.
            global.extend(["--db".to_string(), db(&given)]);
        } else if let Some(file) = relative_db_env(&self.cwd) {
            // A SQLite file CORTEX_DB names relative to this directory: named written out, as
            // a relative `--db` is, or a suggestion pasted elsewhere would open another file.
            global.extend(["--db".to_string(), file]);
        }
        global
    }

    /// A command to suggest in a hint, quoted for pasting: `cortex [--home H] [--db URL]
    /// ARGS...` in backticks.
    pub fn cmd(&self, args: &[&str]) -> String {
        crate::render::suggested_command(&self.globals(), args)
    }

    /// A hint that suggests `cortex [--home H] [--db URL] ARGS...`, its command kept as argv
    /// (`Hint`): what `cmd` writes, for a hint that goes on (`then`, `command`).
    pub fn suggest(&self, args: &[&str]) -> Hint {
        Hint::suggest(args).carrying(self.globals())
    }

    /// `e` as this invocation prints it: each command its hints suggest names `--home` and
    /// `--db` as `cmd` does.
    /// A hint that names a command on the run (`CommandError::run_hint`) is written for it
    /// here: its kind and id, as this command found it or as the error names it.
    pub fn localize(&self, e: CommandError) -> CommandError {
        let e = match &e.run_hint {
            Some(pending) => {
                let acted = self.acted_on.get();
                let run_id = pending
                    .run_id
                    .clone()
                    .or_else(|| acted.as_ref().map(|(id, _)| id.clone()));
                let kind = run_id.as_deref().and_then(|id| match &acted {
                    Some((acted_id, Some(kind))) if acted_id == id => Some(*kind),
                    _ => self.kind_of(id),
                });
                match (kind, run_id) {
                    (Some(kind), Some(id)) => e.for_run(kind, &id),
                    _ => e,
                }
            }
            None => e,
        };
        e.with_globals(&self.globals())
    }

    /// The SQLite log's file, when this process cannot write it (the file, or its folder for
    /// the journal beside it): a read-only home, an archive copy. None when it can, when it
    /// is not there, and for PostgreSQL (whose role's rights tell only on a write).
    pub fn read_only_log(&self) -> Option<PathBuf> {
        use nix::unistd::{AccessFlags, access};
        let Ok(Location::Sqlite(path)) = self.location() else {
            return None;
        };
        let folder = path.parent().filter(|p| !p.as_os_str().is_empty())?;
        let cannot = |p: &std::path::Path| access(p, AccessFlags::W_OK).is_err();
        (path.exists() && (cannot(&path) || cannot(folder))).then_some(path)
    }

    /// The kind of run `run_id`, as the log's index has it (None where it cannot be read).
    fn kind_of(&self, run_id: &str) -> Option<RunKind> {
        let store = self.reading_store().ok()??;
        crate::store::run_entry(&*store, run_id)
            .ok()?
            .map(|e| e.kind)
    }

    /// The status document of a run as this invocation should show it: its suggested
    /// commands name `--home` when a bare `cortex` would use another home.
    pub fn view(&self, state: &crate::decide::RunState, driver_alive: bool) -> StatusView {
        self.with_globals(
            crate::project::status_view_for(state, driver_alive, &self.globals())
                .with_rollback_setting(self.rollback_setting())
                .with_time_limit_setting(self.kept_time_limit(state))
                .with_definition_now(self.definition_now(state)),
        )
    }

    /// How the definition files of the run in `state` are now against its snapshot (what
    /// `definition_changed` warns of at resume), read only for a run paused on a failure: the
    /// one whose suggestions may offer a new run once the definition is fixed
    /// (`StatusView::definition_now`). A changed one is checked as `run` would check it
    /// (`definition_valid_now`): a new run of one that does not validate is refused.
    fn definition_now(&self, state: &crate::decide::RunState) -> crate::project::DefinitionNow {
        use crate::project::DefinitionNow;
        let Some(start) = state
            .start
            .as_deref()
            .filter(|_| matches!(state.phase, crate::decide::RunPhase::Paused { .. }))
        else {
            return DefinitionNow::AsStarted;
        };
        if super::definition_changed(start).is_empty() {
            DefinitionNow::AsStarted
        } else if super::definition_valid_now(self, start) {
            DefinitionNow::Changed
        } else {
            DefinitionNow::ChangedInvalid
        }
    }

    /// `enable_rollback` in cortex.config.json now, which decides a `resume --rollback-to`
    /// (none where the file cannot be read: the run's own setting is shown).
    fn rollback_setting(&self) -> Option<bool> {
        self.catalog().config().ok().map(|c| c.enable_rollback)
    }

    /// The time limit a resume without `--timeout` keeps for run `state`, against
    /// `timeout_seconds` in cortex.config.json now (`RunState::kept_time_limit`; none where
    /// the file cannot be read).
    fn kept_time_limit(&self, state: &crate::decide::RunState) -> Option<KeptTimeLimit> {
        let configured = self.catalog().config().ok()?.timeout_seconds;
        let seconds = state.kept_time_limit(configured)?;
        Some(KeptTimeLimit {
            seconds,
            configured,
        })
    }

    /// `view`, saying what its waiting `uses:` steps wait on down their child runs (read from
    /// `store`), with suggestions that report on it.
    pub fn view_with_children(
        &self,
        state: &crate::decide::RunState,
        driver_alive: bool,
        store: &dyn EventStore,
    ) -> StatusView {
        let child = |id: &str| {
            let mut s = crate::execute::load_state(store, id).ok()?;
            s.run_id = id.to_string();
            Some(s)
        };
        self.with_globals(
            crate::project::status_view_for(state, driver_alive, &self.globals())
                .with_rollback_setting(self.rollback_setting())
                .with_time_limit_setting(self.kept_time_limit(state))
                .with_definition_now(self.definition_now(state))
                .with_children(&child)
                .with_interrupted_children(&child, &|id| {
                    crate::execute::driver_alive(&self.home, store, id)
                }),
        )
    }

    /// `view`'s suggested commands, naming `--home` and `--db` when a bare `cortex` would use
    /// another home or log, as `globals` does: their argv (`next`, printed as "Next:" lines,
    /// shown on the dashboard's run page, returned by `--json`, MCP and the API) never carry
    /// a password; with `PGPASSWORD` set, as libpq reads it, they run as they are (DESIGN.md,
    /// PostgreSQL).
    fn with_globals(&self, mut view: StatusView) -> StatusView {
        // A dead driver's step command that still runs is said of its step.
        if view.status == crate::project::RunStatus::Interrupted {
            view.orphans_alive = crate::execute::orphans_alive_of(&self.home, &view.run_id);
        }
        let global = self.globals();
        for s in &mut view.next {
            s.argv.splice(1..1, global.iter().cloned());
        }
        view
    }

    pub fn catalog(&self) -> Catalog {
        Catalog::new(self.home.clone(), self.cwd.clone())
    }

    pub fn db_path(&self) -> PathBuf {
        self.home.join("cortex.db")
    }

    /// Open (creating if needed) the event log for writing.
    pub fn store(&self, durability: Durability) -> Result<Box<dyn EventStore>, CommandError> {
        let location = self.location()?;
        // The home, and a SQLite log's folder in it (`db: logs/cortex.db`); a folder elsewhere
        // must be there (`StoreError::NoFolder`): a typo in `--db /srv/cortx/c.db` made a
        // tree of folders and a log nobody looked at.
        let mut dirs = vec![self.home.clone()];
        if let Location::Sqlite(path) = &location
            && let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty())
            && parent.starts_with(&self.home)
        {
            dirs.push(parent.to_path_buf());
        }
        for dir in dirs {
            // Made for its owner alone (0700; a folder already there is left as it is): what
            // the log and the derived files hold that is not redacted (outputs, prompts,
            // whole logs of steps) was readable by every user of the machine (0755, 0644).
            use std::os::unix::fs::DirBuilderExt;
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&dir)
                .map_err(|e| {
                    let full = matches!(
                        e.raw_os_error(),
                        Some(nix::libc::ENOSPC | nix::libc::EDQUOT)
                    );
                    let err = CommandError::new(
                        super::exit::FAILED,
                        format!("cannot create {}: {e}", dir.display()),
                    );
                    if full {
                        err.hint("free disk space there, then run the command again")
                    } else {
                        // A home that cannot be made (`/proc/x`, a read-only mount, a parent
                        // that is not this user's): said how to point cortex elsewhere.
                        err.hint("set CORTEX_HOME (or pass --home DIR) to a folder this user can write, made if missing")
                    }
                })?;
        }
        let store = location.open(durability).map_err(not_opened)?;
        bound_lock_wait(&*store)?;
        // The attempts this process runs ship their whole output into a log that keeps it
        // (PostgreSQL: any host reads it), beside their files here.
        if store.keeps_attempt_output() {
            crate::execute::output_mirror::install(&location);
        }
        Ok(store)
    }

    /// Open the existing log for writing (an operator's command on a run); where there is no
    /// log yet there are no runs.
    pub fn existing_store(&self) -> Result<Option<Box<dyn EventStore>>, CommandError> {
        let location = self.location()?;
        let store = location.open_existing().map_err(not_opened)?;
        if let Some(store) = &store {
            bound_lock_wait(&**store)?;
        }
        if store.as_ref().is_some_and(|s| s.keeps_attempt_output()) {
            crate::execute::output_mirror::install(&location);
        }
        Ok(store)
    }

    /// The existing log opened for a command that may record, or — where it cannot be written
    /// (a read-only home, a read-only database) but can be read — opened for reading, with the
    /// error a write meets: a command that finds nothing to record (a finished run, a run
    /// already where it would leave it) answers from the log read only, as it would on a
    /// writable one; any other returns that error then. Before, such commands failed on a
    /// finished run with "make the log writable".
    pub fn changing_store(&self) -> Result<ChangingStore, CommandError> {
        match self.existing_store() {
            Err(e) if e.cause == super::Cause::Unavailable && self.reading_store().is_ok() => {
                Ok((self.reading_store()?, Some(e)))
            }
            opened => Ok((opened?, None)),
        }
    }

    /// Open the existing log for reading only (status, history, `log ...`): it works on a
    /// read-only home, an archive copy, or a log of a newer cortex, and never changes the
    /// log. Where there is no log, or it has no tables yet (its first command was stopped
    /// before it set it up, or is setting it up now), there are no runs.
    pub fn reading_store(&self) -> Result<Option<Box<dyn EventStore>>, CommandError> {
        self.location()?.open_read().map_err(|e| {
            let unreachable = matches!(e, crate::store::StoreError::Unreachable { .. });
            let mut err = not_opened(e);
            // Nothing was being written: the hint for a run that was being driven is not
            // this command's.
            if unreachable {
                err.hints = vec![
                    "check that PostgreSQL is running and reachable there (and the --db, CORTEX_DB or `db` value; a password, never shown, goes in it or in PGPASSWORD), then run the command again; nothing recorded was lost".into(),
                ];
            }
            err
        })
    }

    /// The run `query` names within `scope` (an id, a unique id prefix, or a name: its latest
    /// run), or the latest run of the scope.
    pub fn resolve_run(
        &self,
        store: &dyn EventStore,
        scope: Scope,
        query: Option<&str>,
    ) -> Result<String, CommandError> {
        self.find(store, scope, query)
            .map_err(|e| self.find_error(e, query, &[]))
    }

    /// `resolve_run` for a report on a step or phase: a run of the other kind is pointed to
    /// `instead`, that kind's report on the same name (`orchestrate complete RUN PHASE` for
    /// `workflow step complete PHASE --run RUN`, and back), rather than to its status; `note`
    /// follows it (what of the report it leaves out: `Said`).
    pub fn resolve_report_run(
        &self,
        store: &dyn EventStore,
        scope: Scope,
        query: Option<&str>,
        instead: &[&str],
        note: &str,
    ) -> Result<String, CommandError> {
        match self.find(store, scope.with_children(), query) {
            Err(e @ FindError::OtherKind { .. }) if !instead.is_empty() => {
                Err(CommandError::bad_input(e.to_string())
                    .hint(format!("{} reports on it there{note}", self.cmd(instead))))
            }
            found => found.map_err(|e| self.find_error(e, query, &[])),
        }
    }

    /// `resolve_run` for `orchestrate stop` and `workflow stop`: a run of the other kind is
    /// pointed to that kind's stop (`workflow stop RUN` for a workflow run named to
    /// `orchestrate stop`, and back), rather than to its status.
    pub fn resolve_stop_run(
        &self,
        store: &dyn EventStore,
        scope: Scope,
        query: Option<&str>,
    ) -> Result<String, CommandError> {
        match self.find(store, scope, query) {
            Err(e @ FindError::OtherKind { .. }) => {
                let FindError::OtherKind { query, found, .. } = &e else {
                    unreachable!()
                };
                let argv = [found.group(), "stop", query.as_str()];
                let hint = format!("{} stops it", self.cmd(&argv));
                Err(CommandError::bad_input(e.to_string()).hint(hint))
            }
            found => found.map_err(|e| self.lookup_error(e, scope, query, &[])),
        }
    }

    /// `find_error`; and no run of the kind, asked by the name or path of a definition that
    /// exists, says how to start it (`no_runs`), as with no run at all.
    fn lookup_error(
        &self,
        e: FindError,
        scope: Scope,
        query: Option<&str>,
        extra: &[&str],
    ) -> CommandError {
        match e {
            FindError::NoRuns { kind: Some(_) } if query.is_some() => self.no_runs(scope, query),
            e => self.find_error(e, query, extra),
        }
    }

    /// `resolve_run` for `status --at SEQ`: a run of the other kind is pointed to its own
    /// status command as of the same event.
    pub fn resolve_run_at(
        &self,
        store: &dyn EventStore,
        scope: Scope,
        query: Option<&str>,
        at: Option<u64>,
    ) -> Result<String, CommandError> {
        let seq = at.map(|a| a.to_string());
        let extra: Vec<&str> = match &seq {
            Some(seq) => vec!["--at", seq],
            None => Vec::new(),
        };
        self.find(store, scope, query)
            .map_err(|e| self.lookup_error(e, scope, query, &extra))
    }

    /// `find_run`; and a name that finds no run but finds a definition (as `run` finds it: by
    /// its file's name, or its path) whose `name:` is another finds that definition's runs,
    /// which bear its `name:`. Else `workflow run dp` would start a run that `workflow
    /// status dp` says does not exist, suggesting the same `run` again.
    fn find(
        &self,
        store: &dyn EventStore,
        scope: Scope,
        query: Option<&str>,
    ) -> Result<String, FindError> {
        let found = find_run(store, scope, query);
        let found = match (&found, query) {
            (Err(FindError::NotFound { .. }), Some(q)) => match self.defined_name(scope.kind, q) {
                Some(name) => find_run(store, scope, Some(&name)).or(found),
                None => found,
            },
            _ => found,
        };
        if let Ok(run_id) = &found {
            self.acted_on.set(run_id, scope.kind);
        }
        found
    }

    /// The `name:` of the definition `query` finds for `kind` (either, workflows first, for
    /// none), when it is not `query` (matched as names are).
    fn defined_name(&self, kind: Option<RunKind>, query: &str) -> Option<String> {
        let catalog = self.catalog();
        let workflow = || {
            let e = catalog.find_workflow(query).ok()?;
            crate::definition::parse_workflow(&e.display_path(), &e.text)
                .ok()
                .map(|w| w.name)
        };
        let scenario = || {
            let e = catalog.find_scenario(query).ok()?;
            crate::definition::parse_scenario(&e.display_path(), &e.text)
                .ok()
                .map(|s| s.name)
        };
        let name = match kind {
            Some(RunKind::Workflow) => workflow(),
            Some(RunKind::Scenario) => scenario(),
            None => workflow().or_else(scenario),
        }?;
        let same = crate::definition::normalize_name(&name)
            == crate::definition::normalize_name(query.strip_suffix(".yaml").unwrap_or(query));
        (!same).then_some(name)
    }

    /// How to start a run of the definition `entry` (one that has none yet): its `run`, or,
    /// when it is invalid, its `validate`, which says what to fix (a `run` would be refused).
    /// Named as `query` was when it was a path (`./pd.yaml`: `run pd` would find no such
    /// definition in the catalog), else by its name; its validity is checked as that `run`
    /// would find it.
    fn how_to_start(
        &self,
        group: &str,
        noun: &str,
        query: &str,
        entry: &crate::definition::Entry,
    ) -> Hint {
        let target = match &entry.source {
            crate::definition::EntrySource::File(_)
                if query.ends_with(".yaml") || query.ends_with(".yml") =>
            {
                query
            }
            _ => entry.name.as_str(),
        };
        // A file given by path whose content is the other kind (`workflow status
        // ./s.yaml` of a scenario): that kind's status, not "invalid" and its validate.
        if let crate::definition::EntrySource::File(_) = &entry.source
            && let Some(kind) = crate::definition::content_kind(&entry.text)
            && kind != noun
        {
            let other = if kind == "scenario" {
                "orchestrate"
            } else {
                "workflow"
            };
            return Hint::from(format!("`{target}` is a {kind} file, not a {noun}: "))
                .carrying(self.globals())
                .command(&[other, "status", target])
                .then(" shows its runs");
        }
        // The definition's `name:`, not its file's stem (`w'x.yaml` may be `name: wx`).
        let text = crate::definition::without_bom(&entry.text);
        let name = crate::definition::precheck("", text, true)
            .ok()
            .and_then(|()| serde_yaml::from_str::<serde_yaml::Value>(text).ok())
            .and_then(|v| v.get("name")?.as_str().map(str::to_string))
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| entry.name.clone());
        let name = crate::definition::shown(&name);
        let valid = match group {
            "orchestrate" => super::scenario::check(self, entry).is_ok(),
            _ => super::workflow::runs(self, target),
        };
        if valid {
            Hint::from(format!("{noun} `{name}` has no runs yet: "))
                .carrying(self.globals())
                .command(&[group, "run", target])
                .then(" starts one")
        } else {
            Hint::from(format!("{noun} `{name}` has no runs yet, and is invalid: "))
                .carrying(self.globals())
                .command(&[group, "validate", target])
                .then(" says what to fix")
        }
    }

    /// The error of an action on a run that already finished (`what` it cannot be any more):
    /// how it ended, and how to start its definition again.
    pub fn finished(&self, state: &crate::decide::RunState, what: &str) -> CommandError {
        let view = status_view(state, false);
        let group = view.kind.group();
        // The new run with this one's inputs (a secret one as `NAME=VALUE` to fill in): a
        // definition with a required input refused the bare `run NAME` (a child run's inputs
        // came from its parent's `with:`).
        let again = crate::project::run_again(&view, group);
        CommandError::bad_input(format!(
            "run {} already finished ({}); {what}",
            view.run_id,
            view.status.as_str()
        ))
        .hint(
            self.suggest(&[group, "status", &view.run_id])
                .then(" shows how it ended; ")
                .and(self.starts(&again))
                .then(" a new run"),
        )
    }

    /// `run_again`'s command as pasted here, and what it does: "`cortex workflow run
    /// /p/w.yaml --input n=1` starts" (with what to fill in, when a secret input is asked).
    /// Its commands are kept as argv (`Hint`): a quoted input value may hold anything.
    fn starts(&self, again: &crate::project::Suggestion) -> Hint {
        let args: Vec<&str> = again.argv.iter().skip(1).map(String::as_str).collect();
        let fill = if again.fill.is_empty() {
            ""
        } else {
            " (VALUE: each secret input's value again)"
        };
        self.suggest(&args).then(format!("{fill} starts"))
    }

    /// The answer to an action that would end a run that already ended (`stop`, `abort`, as
    /// `resume` of a finished run answers): nothing is recorded, it says so (`note` in the
    /// document), and the exit code is the run's outcome's (SPEC §4).
    pub fn already_finished(&self, state: &crate::decide::RunState, verb: &str) -> super::Output {
        let view = self.view(state, false);
        let note = format!(
            "run {} already finished ({}); nothing to {verb}, nothing was recorded",
            view.run_id,
            view.status.as_str()
        );
        let text = format!(
            "Run {} already finished ({}); nothing to {verb}.\n   Head hash: {}\n",
            view.run_id,
            view.status.as_str(),
            view.head_hash
        );
        let code = view.status.exit_code();
        let mut json = view.to_json();
        json["note"] = note.into();
        super::Output::new(json, text, code)
    }

    /// The error of a command on a run when the log holds no run at all: how to start one of
    /// the kind the command acts on (`orchestrate ...` a scenario), by its name when `query`
    /// names a definition of that kind.
    pub fn no_runs(&self, scope: Scope, query: Option<&str>) -> CommandError {
        let (group, noun) = match scope.kind {
            Some(RunKind::Scenario) => ("orchestrate", "scenario"),
            _ => ("workflow", "workflow"),
        };
        let defined = query.and_then(|q| match scope.kind {
            Some(RunKind::Scenario) => self.catalog().find_scenario(q).ok(),
            _ => self.catalog().find_workflow(q).ok(),
        });
        match defined {
            Some(entry) => CommandError::bad_input("there are no runs yet")
                .hint(self.how_to_start(group, noun, query.unwrap_or_default(), &entry)),
            None => self.find_error(FindError::NoRuns { kind: scope.kind }, query, &[]),
        }
    }

    /// The log holds no run of either kind: how to start one of each, as pasted here.
    pub fn no_runs_of_any_kind(&self) -> CommandError {
        CommandError::bad_input("there are no runs yet").hint(format!(
            "start one with {} or {} ({} and {} show what can run)",
            self.cmd(&["workflow", "run", "NAME"]),
            self.cmd(&["orchestrate", "run", "NAME"]),
            self.cmd(&["workflow", "list"]),
            self.cmd(&["orchestrate", "list"])
        ))
    }

    /// `no_runs_of_any_kind`; but a run asked for by id or name (`log show RUN`) is said not
    /// to be in the log looked in, which is named (`no_run_here`).
    pub fn no_runs_of_any_kind_for(&self, query: Option<&str>) -> CommandError {
        match query.map(str::trim).filter(|q| !q.is_empty()) {
            Some(q) => self.no_run_here(None, q),
            None => self.no_runs_of_any_kind(),
        }
    }

    /// A run asked for by id or name, where the log has no runs (of the kind) or is not there
    /// yet: the log looked in is named — the home, absolute, or the log given elsewhere —,
    /// since a command pasted from another directory, or with another CORTEX_HOME, looks in
    /// another home. Before, it said only "there are no workflow runs yet".
    fn no_run_here(&self, kind: Option<RunKind>, query: &str) -> CommandError {
        let (group, noun) = match kind {
            Some(RunKind::Scenario) => ("orchestrate", "scenario "),
            Some(RunKind::Workflow) => ("workflow", "workflow "),
            None => ("workflow", ""),
        };
        let home = self.home.display();
        let looked_in = match self.location() {
            Ok(Location::Sqlite(path)) if path == self.db_path() => format!("the home {home}"),
            Ok(location) => format!("the log {} (home {home})", location.shown()),
            Err(_) => format!("the home {home}"),
        };
        CommandError::bad_input(format!(
            "no {noun}run `{}`: there are no {noun}runs yet in {looked_in}",
            crate::definition::shown_query(query)
        ))
        .hint(
            "a run of another home is found with --home DIR (or CORTEX_HOME=DIR), a run of another log with --db",
        )
        .hint(format!(
            "or start one here with {} ({} shows what can run)",
            self.cmd(&[group, "run", "NAME"]),
            self.cmd(&[group, "list"])
        ))
    }

    fn find_error(&self, e: FindError, query: Option<&str>, extra: &[&str]) -> CommandError {
        if let FindError::NoRuns { kind } = e
            && let Some(q) = query.map(str::trim).filter(|q| !q.is_empty())
        {
            return self.no_run_here(kind, q);
        }
        let kind = e_kind(&e);
        let (group, noun) = match kind {
            Some(RunKind::Scenario) => ("orchestrate", "scenario"),
            Some(RunKind::Workflow) => ("workflow", "workflow"),
            None => ("workflow", "workflow"),
        };
        // The history of the kind looked among (an ambiguous prefix under `orchestrate` was
        // sent to `workflow history`, which does not list scenario runs); both for any kind.
        let history = match kind {
            Some(_) => format!("{} lists them", self.cmd(&[group, "history"])),
            None => format!(
                "{} and {} list them",
                self.cmd(&["workflow", "history"]),
                self.cmd(&["orchestrate", "history"])
            ),
        };
        match e {
            FindError::NoRuns { kind: None } => self.no_runs_of_any_kind(),
            FindError::NoRuns { .. } => CommandError::bad_input(e.to_string()).hint(format!(
                "start one with {} ({} shows what can run)",
                self.cmd(&[group, "run", "NAME"]),
                self.cmd(&[group, "list"])
            )),
            FindError::NotFound {
                ref suggestions,
                ref query,
                kind,
            } => {
                let mut err = CommandError::bad_input(e.to_string());
                // A definition of that name that has not run yet: say how to run it.
                let defined = match kind {
                    Some(RunKind::Scenario) => self.catalog().find_scenario(query).ok(),
                    _ => self.catalog().find_workflow(query).ok(),
                };
                if let Some(entry) = defined {
                    return err.hint(self.how_to_start(group, noun, query, &entry));
                }
                if let Some(best) = suggestions.first() {
                    // Among runs of any kind, it may be a scenario's.
                    let of = if kind.is_some() { noun } else { "run" };
                    err = err.hint(format!("did you mean the {of} `{best}`?"));
                }
                err.hint(history)
            }
            FindError::Ambiguous { .. } | FindError::TooShort { .. } => {
                CommandError::bad_input(e.to_string()).hint(history)
            }
            FindError::OtherKind {
                found, ref query, ..
            } => {
                let group = found.group();
                let argv = [&[group, "status", query.as_str()][..], extra].concat();
                CommandError::bad_input(e.to_string()).hint(format!("{} shows it", self.cmd(&argv)))
            }
            e @ FindError::BothKinds { .. } => self.both_kinds(e, &[], &[], None),
            FindError::BadName { problem, fix } => CommandError::bad_input(problem).hint(fix),
            FindError::Empty { .. } => {
                let of = if kind.is_some() {
                    noun
                } else {
                    "workflow or scenario"
                };
                CommandError::bad_input(format!("{e}; nothing was done")).hint(format!(
                    "leave the argument out for the latest {} run, or give a run's id, a unique start of one, or a {of} name",
                    if kind.is_some() { noun } else { "top-level" }
                ))
            }
            FindError::IdOrName {
                ref by_id,
                ref by_name,
                ..
            } => {
                let argv = |id: &str| self.cmd(&[group, "status", id]);
                let hint = format!("{} or {}", argv(by_id), argv(by_name));
                CommandError::bad_input(e.to_string()).hint(format!("{hint} shows each"))
            }
            FindError::Store(s) => s.into(),
        }
    }

    /// The error of a name that runs of both kinds bear (`FindError::BothKinds`), with the
    /// command given for each run by its id: `before ID after`, or its status when `before`
    /// is empty. With `step` (`logs NAME STEP`), only a run that has that step or phase is
    /// given a command (`has`: whether it has, by run id); one without it is said to lack it.
    fn both_kinds(
        &self,
        e: FindError,
        before: &[&str],
        after: &[&str],
        has: Option<(&str, &UnitsOf)>,
    ) -> CommandError {
        let FindError::BothKinds {
            workflow, scenario, ..
        } = &e
        else {
            return self.find_error(e, None, &[]);
        };
        let command = |group: &str, id: &str| {
            let argv = if before.is_empty() {
                vec![group, "status", id]
            } else {
                [before, &[id], after].concat()
            };
            self.cmd(&argv)
        };
        // Each run's units when it lacks `step` (`None`: it has it, or it is not known).
        let lacks = |id: &str| -> Option<Vec<String>> {
            let (step, units) = has?;
            let names = units(id)?;
            (!names.iter().any(|n| crate::definition::same_name(step, n))).then_some(names)
        };
        let step = has.map_or("", |(s, _)| s);
        let shown = crate::definition::shown(step);
        let each = [
            ("workflow", "workflow", "step", workflow),
            ("scenario", "orchestrate", "phase", scenario),
        ]
        .map(|(noun, group, unit, id)| match lacks(id) {
            None => format!("the {noun} run: {}", command(group, id)),
            Some(names) => format!(
                "the {noun} run {id} has no {unit} `{shown}` (its {unit}s: {})",
                names.join(", ")
            ),
        });
        CommandError::bad_input(e.to_string()).hint(each.join("; "))
    }

    /// `resolve_run` among runs of any kind for the command `before RUN after` (`log show
    /// RUN`, `logs RUN STEP`): a name both kinds' runs bear is refused with that command for
    /// each run by its id, to paste.
    /// With `step` (`logs NAME STEP`), only the runs that have that step or phase are given
    /// their command: the other's would be refused.
    pub fn resolve_any_run(
        &self,
        store: &dyn EventStore,
        query: Option<&str>,
        before: &[&str],
        after: &[&str],
        step: Option<&str>,
    ) -> Result<String, CommandError> {
        match self.find(store, Scope::any(), query) {
            Err(e @ FindError::BothKinds { .. }) => {
                let units = |id: &str| {
                    crate::execute::load_state(store, id)
                        .ok()
                        .map(|state| state.steps.iter().map(|s| s.name.clone()).collect())
                };
                let has = step.map(|s| (s, &units as &UnitsOf));
                Err(self.both_kinds(e, before, after, has))
            }
            found => found.map_err(|e| self.find_error(e, query, &[])),
        }
    }
}

/// The step (phase) names of a run, by its id (`None`: not read).
type UnitsOf<'a> = dyn Fn(&str) -> Option<Vec<String>> + 'a;

fn e_kind(e: &FindError) -> Option<RunKind> {
    match e {
        FindError::NoRuns { kind }
        | FindError::NotFound { kind, .. }
        | FindError::Ambiguous { kind, .. }
        | FindError::TooShort { kind, .. }
        | FindError::Empty { kind }
        | FindError::IdOrName { kind, .. }
        | FindError::OtherKind { kind, .. } => *kind,
        _ => None,
    }
}

/// The log holds no run of either kind (a front end with no command line of its own, e.g.
/// the web page; the CLI says it with its `--home`: `Ctx::no_runs_of_any_kind`).
pub fn no_runs() -> CommandError {
    CommandError::bad_input("there are no runs yet").hint(
        super::Hint::from("start one with ")
            .command(&["workflow", "run", "NAME"])
            .then(" or ")
            .command(&["orchestrate", "run", "NAME"])
            .then(" (")
            .command(&["workflow", "list"])
            .then(" and ")
            .command(&["orchestrate", "list"])
            .then(" show what can run)"),
    )
}

/// The longest message an action takes (`--message`, a tool's `message`, the web page's): it
/// is recorded in the action's event and shown with it by every status document that shows
/// the action, so one without bound would make each of them as long. One rule for every front
/// end, as for actors (DESIGN §4d).
pub const MAX_MESSAGE_CHARS: usize = 65_536;

/// What to do instead of a message past `MAX_MESSAGE_CHARS`.
pub const LONG_MESSAGE_HINT: &str = "say why in a few lines; put long text in a file or in an output of the step, and name it in the message";

/// Why `message` cannot be recorded, if it cannot: it is longer than `MAX_MESSAGE_CHARS`.
pub fn message_problem(message: &str) -> Option<String> {
    let chars = message.chars().count();
    (chars > MAX_MESSAGE_CHARS).then(|| {
        format!("a message has at most {MAX_MESSAGE_CHARS} characters, and this one has {chars}")
    })
}

/// `operator`, refusing a message longer than `MAX_MESSAGE_CHARS` (exit 2): for the front ends
/// that take a message as data (the MCP server's tools, the web page), as the CLI's `--message`
/// refuses it when parsed.
pub fn checked_operator(
    actor: Option<&str>,
    message: Option<&str>,
) -> Result<Operator, CommandError> {
    if let Some(problem) = message.and_then(message_problem) {
        return Err(CommandError::bad_input(problem).hint(LONG_MESSAGE_HINT));
    }
    Ok(operator(actor, message))
}

/// Who acts (`--actor`, default `user@host`) and why. The actor is display text, scrubbed
/// here of the secrets this process holds (`Redactor::of_process`: secret-named variables,
/// `CORTEX_INPUT_*`, the server's token), before it goes anywhere — the run's lock file, a
/// lease's holder, the log (whose appends scrub it again, with the run's own secrets, as they
/// scrub the message).
pub fn operator(actor: Option<&str>, message: Option<&str>) -> Operator {
    let actor = actor.map_or_else(default_actor, str::to_string);
    let actor = match crate::execute::Redactor::of_process().redact(&actor) {
        std::borrow::Cow::Owned(scrubbed) => scrubbed,
        std::borrow::Cow::Borrowed(_) => actor,
    };
    Operator {
        actor,
        message: message.map(str::to_string),
    }
}

/// The arguments that say who acts and why, as the CLI takes them (`operator`'s inverse): its
/// `--message`, and its `--actor` unless that is who acts when nobody says. Every command
/// suggested in an action's place repeats them, so pasting it records what was meant.
pub fn operator_args(by: &Operator) -> Vec<String> {
    let mut args = Vec::new();
    if let Some(message) = &by.message {
        args.extend(crate::render::flag_args("--message", message));
    }
    if by.actor != default_actor() {
        args.extend(crate::render::flag_args("--actor", &by.actor));
    }
    args
}

/// `by` scrubbed of `secrets` as well — the values of the secret inputs this command was
/// given (`--input`, a tool's `inputs`), known only once the definition or the run is read —,
/// which this process scrubs from now on (`execute::note_given_secrets`): called before the
/// run's lock is taken, so that neither its lock file, nor a lease's holder, nor the
/// "held by" error of another process names them (`--actor "ci $TOKEN"`).
pub fn with_secrets_scrubbed<'a>(
    by: Operator,
    secrets: impl IntoIterator<Item = &'a str>,
) -> Operator {
    crate::execute::note_given_secrets(secrets);
    let actor = match crate::execute::Redactor::of_process().redact(&by.actor) {
        std::borrow::Cow::Owned(scrubbed) => scrubbed,
        std::borrow::Cow::Borrowed(_) => by.actor,
    };
    Operator { actor, ..by }
}

/// Hold a log opened for writing to the wait `CORTEX_LOG_LOCK_WAIT` sets for a log another
/// process holds locked (`execute::log_lock_wait`): every statement waits at most that long
/// for the lock, so a report (one try) gives up after it, and a driver's or the scheduler's
/// patient wait (`execute::patiently`) is bounded by it from its first try. Before, SQLite's
/// own 10 s came first: with `CORTEX_LOG_LOCK_WAIT=3` a report and `schedule run --once`
/// gave up after about 10 s. A value that is no duration is the drivers' to refuse (they
/// say how to write one); here it leaves the store's own wait.
fn bound_lock_wait(store: &dyn EventStore) -> Result<(), CommandError> {
    match crate::execute::log_lock_wait() {
        Ok(bound) => store.bound_lock_wait(bound).map_err(CommandError::from),
        Err(_) => Ok(()),
    }
}

/// The SQLite file CORTEX_DB names relative to `cwd`, written out (`sqlite:/…`); None when
/// it is unset, absolute, or a PostgreSQL database.
/// The error of a log that could not be opened. One that cannot be connected to is exit 2, as
/// is every other value naming a log that leads to none (a database the server does not know,
/// a search_path naming no schema, a folder that is not there, a value that does not parse):
/// the command was not carried out at all, and SPEC §5 keeps exit 1 for a run that failed and
/// a log that failed verification. Before, a server that did not answer was exit 1, and a
/// database it did not know exit 2. A connection lost once the log was open is another
/// matter: what was being done failed midway (exit 1; a run is resumed).
pub(crate) fn not_opened(e: crate::store::StoreError) -> CommandError {
    let unreachable = matches!(e, crate::store::StoreError::Unreachable { .. });
    let mut err = CommandError::from(e);
    if unreachable {
        err.code = super::exit::BAD_INPUT;
    }
    err
}

/// CORTEX_DB, when the process that started this one handed on its `--db` in it
/// (`DB_GIVEN_ENV`).
fn db_given_env() -> Option<String> {
    std::env::var_os(DB_GIVEN_ENV).filter(|v| v == "1")?;
    std::env::var(DB_ENV).ok().filter(|v| !v.trim().is_empty())
}

fn relative_db_env(cwd: &Path) -> Option<String> {
    let value = std::env::var(DB_ENV)
        .ok()
        .filter(|v| !v.trim().is_empty())?;
    let path = value.strip_prefix("sqlite:").unwrap_or(&value);
    if path.starts_with('~') || Path::new(path).is_absolute() {
        return None;
    }
    match Location::read(&value, cwd) {
        Ok(Some(Location::Sqlite(file))) => Some(format!("sqlite:{}", file.display())),
        _ => None,
    }
}

/// `path` with a leading `~` or `~/` read as the user's home folder (`HOME`), as a shell would
/// have: a value that no shell expanded (CORTEX_HOME in `.mcp.json`'s `env`, a systemd unit,
/// `--home=~/x`) made a folder literally named `~` in the current directory, splitting the
/// runs' history by where cortex was started (and inviting an `rm -rf ~`). `~user` is
/// refused: only the shell knows other users' homes.
pub fn without_tilde(path: &Path) -> Result<PathBuf, String> {
    let text = path.to_string_lossy();
    let Some(rest) = text.strip_prefix('~') else {
        return Ok(path.to_path_buf());
    };
    if !(rest.is_empty() || rest.starts_with('/')) {
        return Err(format!(
            "`{}` names another user's home, which only a shell can find",
            crate::definition::shown(&text)
        ));
    }
    match std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        Some(home) => Ok(PathBuf::from(home).join(rest.trim_start_matches('/'))),
        None => Err("it starts with `~`, but HOME is not set to say what that is".into()),
    }
}
