//! What every operation needs: the home folder, the project directory, the log, and how to
//! name what it suggests.

use std::path::PathBuf;

use super::CommandError;
use crate::definition::{Catalog, Durability};
use crate::event::{Operator, RunKind};
pub use crate::execute::{default_actor, hostname};
use crate::ops::{FindError, Scope, find_run};
use crate::project::{StatusView, status_view};
use crate::store::{EventStore, SqliteStore, StoreError};

pub struct Ctx {
    pub home: PathBuf,
    pub cwd: PathBuf,
    /// The home is not the one a bare `cortex` would use (`--home` given): suggested commands
    /// must name it, or pasting them would act on another log.
    pub explicit_home: bool,
}

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
        let implied = match std::env::var_os("CORTEX_HOME").filter(|h| !h.is_empty()) {
            Some(h) => Some(cwd.join(h)),
            None => std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cortex")),
        };
        let explicit_home = implied.as_deref() != Some(home.as_path());
        Ok(Ctx {
            home,
            cwd,
            explicit_home,
        })
    }

    /// A command to suggest in a hint, quoted for pasting: `cortex [--home H] ARGS...`.
    pub fn cmd(&self, args: &[&str]) -> String {
        let home = self.home.display().to_string();
        let mut argv = vec!["cortex"];
        if self.explicit_home {
            argv.extend(["--home", home.as_str()]);
        }
        argv.extend_from_slice(args);
        format!("`{}`", crate::render::command_line(&argv))
    }

    /// The status document of a run as this invocation should show it: its suggested
    /// commands name `--home` when a bare `cortex` would use another home.
    pub fn view(&self, state: &crate::decide::RunState, driver_alive: bool) -> StatusView {
        let mut view = status_view(state, driver_alive);
        if self.explicit_home {
            let home = self.home.display().to_string();
            for s in &mut view.next {
                s.argv.splice(1..1, ["--home".to_string(), home.clone()]);
            }
        }
        view
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
        let mut view = status_view(state, driver_alive).with_children(&child);
        if self.explicit_home {
            let home = self.home.display().to_string();
            for s in &mut view.next {
                s.argv.splice(1..1, ["--home".to_string(), home.clone()]);
            }
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
    pub fn store(&self, durability: Durability) -> Result<SqliteStore, CommandError> {
        std::fs::create_dir_all(&self.home).map_err(|e| {
            CommandError::new(
                super::exit::FAILED,
                format!("cannot create {}: {e}", self.home.display()),
            )
        })?;
        Ok(SqliteStore::open(&self.db_path(), durability)?)
    }

    /// Open the existing log for writing (an operator's command on a run); a home without a
    /// log has no runs.
    pub fn existing_store(&self) -> Result<Option<SqliteStore>, CommandError> {
        if !self.db_path().exists() {
            return Ok(None);
        }
        Ok(Some(SqliteStore::open(
            &self.db_path(),
            Durability::Normal,
        )?))
    }

    /// Open the existing log for reading only (status, history, `log ...`): it works on a
    /// read-only home, an archive copy, or a log of a newer cortex, and never changes the
    /// log. A home without a log, or whose log has no tables yet (its first command was
    /// stopped before it set it up, or is setting it up now), has no runs.
    pub fn reading_store(&self) -> Result<Option<SqliteStore>, CommandError> {
        let path = self.db_path();
        if !path.exists() {
            return Ok(None);
        }
        match SqliteStore::open_read(&path) {
            Ok(store) => Ok(Some(store)),
            Err(StoreError::NotALog { blank: true, .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// The run `query` names within `scope` (an id, a unique id prefix, or a name: its latest
    /// run), or the latest run of the scope.
    pub fn resolve_run(
        &self,
        store: &dyn EventStore,
        scope: Scope,
        query: Option<&str>,
    ) -> Result<String, CommandError> {
        find_run(store, scope, query).map_err(|e| self.find_error(e))
    }

    fn find_error(&self, e: FindError) -> CommandError {
        let (group, noun) = match e_kind(&e) {
            Some(RunKind::Scenario) => ("orchestrate", "scenario"),
            Some(RunKind::Workflow) => ("workflow", "workflow"),
            None => ("workflow", "workflow"),
        };
        let history = format!("{} lists them", self.cmd(&[group, "history"]));
        match e {
            FindError::NoRuns { .. } => CommandError::bad_input(e.to_string()).hint(format!(
                "start one with `cortex {group} run NAME` ({} shows what can run)",
                self.cmd(&[group, "list"])
            )),
            FindError::NotFound {
                ref suggestions, ..
            } => {
                let mut err = CommandError::bad_input(e.to_string());
                if let Some(best) = suggestions.first() {
                    err = err.hint(format!("did you mean the {noun} `{best}`?"));
                }
                err.hint(history)
            }
            FindError::Ambiguous { .. } => CommandError::bad_input(e.to_string()).hint(history),
            FindError::NoneUnfinished { ref name, .. } => CommandError::bad_input(e.to_string())
                .hint(format!(
                    "{} starts a new one; {history}",
                    self.cmd(&[group, "run", name])
                )),
            FindError::OtherKind {
                found, ref query, ..
            } => {
                let group = match found {
                    RunKind::Scenario => "orchestrate",
                    RunKind::Workflow => "workflow",
                };
                CommandError::bad_input(e.to_string())
                    .hint(format!("{} shows it", self.cmd(&[group, "status", query])))
            }
            FindError::Store(s) => s.into(),
        }
    }
}

fn e_kind(e: &FindError) -> Option<RunKind> {
    match e {
        FindError::NoRuns { kind }
        | FindError::NotFound { kind, .. }
        | FindError::NoneUnfinished { kind, .. }
        | FindError::OtherKind { kind, .. } => *kind,
        _ => None,
    }
}

pub fn no_runs() -> CommandError {
    CommandError::bad_input("there are no runs yet")
        .hint("start one with `cortex workflow run NAME`")
}

/// Who acts (`--actor`, default `user@host`) and why.
pub fn operator(actor: Option<&str>, message: Option<&str>) -> Operator {
    Operator {
        actor: actor.map_or_else(default_actor, str::to_string),
        message: message.map(str::to_string),
    }
}
