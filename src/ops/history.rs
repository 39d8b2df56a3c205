//! Past runs of a kind, newest first, a page at a time: the rows of `workflow history` and
//! `orchestrate history`.

use std::path::Path;

use serde::Serialize;

use crate::event::RunKind;
use crate::project::{RunStatus, run_status};
use crate::store::{EventStore, RunQuery, StoreError};

/// The most runs one page of history lists: `workflow history --limit`, `orchestrate history
/// --limit`, the MCP tool's `limit` and the API's `GET /api/v1/runs?limit=` alike.
pub const MAX_HISTORY_LIMIT: usize = 500;

/// How many runs a page of history lists when no limit is given.
pub const DEFAULT_HISTORY_LIMIT: usize = 20;

/// `limit`, if a page of history may list that many runs (1 to `MAX_HISTORY_LIMIT`); else the
/// one error every front end gives (exit 2, the API's 400). Before, the API refused 0 and
/// 1000 while the CLI and MCP listed nothing or a thousand rows.
pub fn checked_history_limit(limit: usize, name: &str) -> Result<usize, super::CommandError> {
    if (1..=MAX_HISTORY_LIMIT).contains(&limit) {
        return Ok(limit);
    }
    Err(limit_error(&limit.to_string(), name))
}

/// `checked_history_limit` of a limit as given (`--limit`, `?limit=`, MCP's `limit`): text that
/// is no whole number a page could list — past any integer (`99999999999999999999`), negative,
/// a fraction or not a number — gets the same range error, quoting it as given. Before, a
/// number too large for an integer was "must be a whole number", which it is.
pub fn history_limit_text(text: &str, name: &str) -> Result<usize, super::CommandError> {
    match text.trim().parse::<usize>() {
        Ok(limit) => checked_history_limit(limit, name),
        // Printable text as given (a word of megabytes is cut where errors are written,
        // `render::cut_long_words`, to its start and its size); else escaped and cut.
        Err(_) if text.chars().all(|c| c.is_ascii_graphic()) => Err(limit_error(text, name)),
        Err(_) => Err(limit_error(&crate::definition::shown(text), name)),
    }
}

fn limit_error(given: &str, name: &str) -> super::CommandError {
    super::CommandError::bad_input(format!(
        "{name} is between 1 and {MAX_HISTORY_LIMIT} (runs listed, newest first); {given} is not"
    ))
    .hint(format!(
        "give {name} from 1 to {MAX_HISTORY_LIMIT}; a run further back is read by its id (`status RUN`), and the API's pages go on with `before` (the `Link: <...>; rel=\"next\"` header)"
    ))
}

/// The status a history row shows for a run holding an event this cortex cannot read.
pub const UNREADABLE: &str = "unreadable";

/// One run as listed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HistoryRow {
    pub run_id: String,
    pub kind: RunKind,
    pub name: String,
    /// As the events before the one that cannot be read leave it, for an unreadable run.
    #[serde(skip)]
    pub status: RunStatus,
    /// What the JSON row says: `unreadable` for a run holding an event this cortex cannot
    /// read (as the text history says), else `status`. Before, such a row said the status of
    /// the events before it: `interrupted` for a run that had completed (a damaged event in
    /// its middle), `waiting` for one holding a newer cortex's event, and an agent resumed it.
    #[serde(rename = "status")]
    pub shown_status: &'static str,
    pub started_at: Option<String>,
    pub ended_at: Option<String>,
    pub events: u64,
    /// Who started it.
    pub actor: String,
    /// Steps (or phases) completed or skipped, of how many, as `status` counts them: a
    /// `foreach:` step is one, its items not counted beside it (`RunState::progress`).
    pub done: usize,
    pub total: usize,
    /// A child run: the run and the `uses:` step that started it (as in its status).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent: Option<crate::event::ParentRun>,
    /// The run holds an event this cortex cannot read (damaged, or written by a newer cortex):
    /// which, and why. Its status and counts are then those of the events before it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unreadable: Option<String>,
}

/// A page of history: the newest `limit` runs of a kind (older than `before`, when given), and
/// whether there are older ones.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct History {
    pub kind: Option<RunKind>,
    pub runs: Vec<HistoryRow>,
    /// Older runs exist beyond the page (counting them all would cost what the index saves).
    pub more: bool,
    /// The most runs the page was asked for.
    #[serde(skip)]
    pub limit: usize,
    /// The run the page lists runs older than (`--before`), if any.
    #[serde(skip)]
    pub before: Option<String>,
}

impl History {
    /// The run the next page lists runs older than: the last one listed, when older runs
    /// exist (`history --before` it, the API's `?before=`).
    pub fn next_before(&self) -> Option<&str> {
        self.more
            .then(|| self.runs.last().map(|r| r.run_id.as_str()))
            .flatten()
    }

    /// The arguments of the command that lists the page after this one (the runs older than
    /// its last), as many runs at most: `GROUP history [--limit N] --before RUN`; none when
    /// no older runs exist, or when the page lists both kinds.
    pub fn next_args(&self) -> Option<Vec<String>> {
        let last = self.next_before()?;
        // Both kinds (the API without `kind`): no one command lists them.
        let group = self.kind?.group();
        let mut args = vec![group.to_string(), "history".to_string()];
        if self.limit != DEFAULT_HISTORY_LIMIT {
            args.extend(["--limit".to_string(), self.limit.to_string()]);
        }
        args.extend(["--before".to_string(), last.to_string()]);
        Some(args)
    }
}

/// The newest `limit` runs of `kind` (all kinds if none), newest first, from the run index:
/// only the rows shown are read and folded, so a page costs the same however long the history.
pub fn history_page(
    store: &dyn EventStore,
    home: &Path,
    kind: Option<RunKind>,
    limit: usize,
) -> Result<History, StoreError> {
    history_page_before(store, home, kind, None, limit)
}

/// A page of history that starts after the run `before` (the last one of the previous page),
/// at the same cost as the first.
pub fn history_page_before(
    store: &dyn EventStore,
    home: &Path,
    kind: Option<RunKind>,
    before: Option<&str>,
    limit: usize,
) -> Result<History, StoreError> {
    let query = RunQuery {
        before: before.map(str::to_string),
        ..RunQuery::kind(kind).limit(limit.saturating_add(1))
    };
    let mut page = store.list_runs(&query)?;
    let more = page.len() > limit;
    page.truncate(limit);
    let mut runs = Vec::with_capacity(page.len());
    for entry in page {
        // One run that cannot be read is listed as such: the others are listed all the same.
        let (mut state, alive, unreadable) =
            match crate::execute::load_live(home, store, &entry.run_id) {
                Ok((state, alive)) => (state, alive, None),
                Err(StoreError::Corrupt { .. } | StoreError::NewerEvent { .. }) => {
                    let (events, bad) = crate::store::read_run_readable(store, &entry.run_id)?;
                    let why = bad.map(|(seq, reason)| format!("event #{seq}: {reason}"));
                    (crate::decide::replay(&events), false, why)
                }
                Err(e) => return Err(e),
            };
        state.run_id = entry.run_id.clone();
        // The run index is a cache: a row is listed as its run's first event says (its kind,
        // name and start), and a row that claims another kind than its run's is not this
        // kind's (`log verify` names it, `log reindex` corrects it).
        let started = state.start.as_ref();
        if let (Some(want), Some(s)) = (kind, started)
            && s.kind != want
        {
            continue;
        }
        let run_kind = started.map_or(entry.kind, |s| s.kind);
        let name = started.map_or_else(|| entry.name.clone(), |s| s.name.clone());
        let status = run_status(&state, alive);
        let (done, total) = state.progress();
        runs.push(HistoryRow {
            actor: state
                .start
                .as_ref()
                .map_or_else(String::new, |s| s.by.actor.clone()),
            parent: state.start.as_ref().and_then(|s| s.parent.clone()),
            done,
            total,
            status,
            shown_status: if unreadable.is_some() {
                UNREADABLE
            } else {
                status.as_str()
            },
            ended_at: state.ended_at.clone(),
            run_id: entry.run_id,
            kind: run_kind,
            name,
            started_at: Some(state.started_at.clone().unwrap_or(entry.started_at)),
            events: entry.events,
            unreadable,
        });
    }
    Ok(History {
        kind,
        runs,
        more,
        limit,
        before: before.map(str::to_string),
    })
}
