//! What every command needs: the home folder, the project directory, output style, the log.

use std::path::PathBuf;

use super::CommandError;
use crate::definition::{Catalog, Durability};
use crate::event::Operator;
use crate::store::{EventStore, SqliteStore, StoreError};

pub struct Ctx {
    pub home: PathBuf,
    pub cwd: PathBuf,
    pub json: bool,
}

impl Ctx {
    pub fn new(home: Option<PathBuf>, json: bool) -> Result<Ctx, CommandError> {
        let cwd = std::env::current_dir().map_err(|e| {
            CommandError::bad_input(format!("the current directory is unusable: {e}"))
        })?;
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
        Ok(Ctx { home, cwd, json })
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

    /// The run `query` names (a full id or a unique prefix), or the most recent run.
    pub fn resolve_run(
        &self,
        store: &dyn EventStore,
        query: Option<&str>,
    ) -> Result<String, CommandError> {
        // Runs only: the agent registry stream is not a run.
        let runs: Vec<_> = store
            .runs()?
            .into_iter()
            .filter(|r| matches!(r.first.event, crate::event::Event::RunStarted(_)))
            .collect();
        match query {
            None => runs.last().map(|r| r.run_id.clone()).ok_or_else(no_runs),
            Some(q) => {
                let q = q.trim().to_uppercase();
                let matches: Vec<&str> = runs
                    .iter()
                    .map(|r| r.run_id.as_str())
                    .filter(|id| id.starts_with(&q))
                    .collect();
                match matches.as_slice() {
                    [one] => Ok(one.to_string()),
                    [] => Err(CommandError::bad_input(format!("no run `{q}`"))
                        .hint("`cortex workflow history` lists runs")),
                    many => Err(CommandError::bad_input(format!(
                        "`{q}` matches {} runs; give more of the id",
                        many.len()
                    ))),
                }
            }
        }
    }
}

pub fn no_runs() -> CommandError {
    CommandError::bad_input("there are no runs yet")
        .hint("start one with `cortex workflow run NAME`")
}

/// The default actor: user@host.
pub fn default_actor() -> String {
    let user = std::env::var("USER")
        .ok()
        .filter(|u| !u.is_empty())
        .or_else(|| {
            nix::unistd::User::from_uid(nix::unistd::getuid())
                .ok()
                .flatten()
                .map(|u| u.name)
        })
        .unwrap_or_else(|| "unknown".into());
    format!("{user}@{}", hostname())
}

pub fn hostname() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "localhost".into())
}

pub fn operator(audit: &super::args::Audit) -> Operator {
    Operator {
        actor: audit.actor.clone().unwrap_or_else(default_actor),
        message: audit.message.clone(),
    }
}
