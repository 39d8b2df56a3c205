//! The run index: one entry per run (kind, name, start, head, outcome), so that finding a run,
//! the latest run and a page of history cost the same however many runs the log holds. A
//! store keeps it beside the events, written in the same transaction; this file defines its
//! rows, the queries on it, what the log says each row must be, and the check of one against
//! the other (`log verify`).

use serde::Serialize;

use super::{BadEvent, EventStore, RunHead, StoreError};
use crate::definition::normalize_name;
use crate::event::{Event, Outcome, RunKind};

/// One run as the index lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunEntry {
    pub run_id: String,
    pub kind: RunKind,
    pub name: String,
    pub started_at: String,
    /// How many events the run has (its head is event `events - 1`).
    pub events: u64,
    pub head_hash: String,
    /// How the run ended, once it has.
    pub outcome: Option<Outcome>,
}

/// The run index's entry of run `run_id` (exactly that id), if the log holds the run. The
/// index is a cache of the events, never their only way in: a run its index lacks (a row
/// deleted, the table emptied) is found by its events, and the kind, name and start of a row
/// are those of the run's first event (one read by key), so that an edited row neither hides
/// a run from its own id nor passes it off as another. Its head and outcome stay the row's:
/// a driver holds the replayed chain to them (`snapshot::index_disagrees`), and `log verify`
/// says where they differ.
pub fn run_entry(store: &dyn EventStore, run_id: &str) -> Result<Option<RunEntry>, StoreError> {
    let row = store
        .list_runs(&RunQuery::id(run_id))?
        .into_iter()
        .find(|e| e.run_id == run_id);
    // A first event that does not decode (a newer cortex's, or damaged) is for the reads
    // that follow to report: the row is answered as it is.
    let first = match store.first_event(run_id) {
        Ok(Some(first)) => first,
        Ok(None) => return Ok(row),
        Err(StoreError::NewerEvent { .. } | StoreError::Corrupt { .. }) => return Ok(row),
        Err(e) => return Err(e),
    };
    let Event::RunStarted(started) = &first.event else {
        return Ok(row);
    };
    match row {
        Some(row) => Ok(Some(RunEntry {
            kind: started.kind,
            name: started.name.clone(),
            started_at: first.time.clone(),
            ..row
        })),
        None => entry_from_first(store, first),
    }
}

/// Run `run_id`'s entry as its events make it (`entry_from_log`), never from the index: for
/// a run whose index row cannot be read. None if the run has no readable first event.
pub(crate) fn entry_from_events<S: EventStore + ?Sized>(
    store: &S,
    run_id: &str,
) -> Result<Option<RunEntry>, StoreError> {
    match store.first_event(run_id) {
        Ok(Some(first)) => entry_from_first(store, first),
        Ok(None) | Err(StoreError::NewerEvent { .. } | StoreError::Corrupt { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

fn entry_from_first<S: EventStore + ?Sized>(
    store: &S,
    first: super::Recorded,
) -> Result<Option<RunEntry>, StoreError> {
    let run_id = first.run_id.clone();
    let events = match store.read_run_from(&run_id, 0) {
        Ok(events) => events,
        Err(StoreError::NewerEvent { .. } | StoreError::Corrupt { .. }) => Vec::new(),
        Err(e) => return Err(e),
    };
    let last = events.last();
    let head = RunHead {
        run_id,
        first: first.clone(),
        events: last.map_or(1, |l| l.seq + 1),
        head_hash: last.map_or_else(|| first.hash.clone(), |l| l.hash.clone()),
    };
    Ok(entry_from_log(&head, last.map(|r| &r.event)))
}

/// What `log reindex` changed in the run index (`EventStore::rebuild_index`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct IndexRepair {
    /// Rows it holds now: one per run with events.
    pub runs: usize,
    /// Runs the index lacked, added.
    pub added: Vec<String>,
    /// Rows that said something their run's events do not (run id, what), corrected.
    pub corrected: Vec<(String, String)>,
    /// Rows of runs with no events, removed: their events were removed (as `log verify`
    /// says), and only the row remembered them.
    pub removed: Vec<RunEntry>,
    /// The index could not be read as it was (a row this cortex cannot read): why. Every
    /// row was written again from the events.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unreadable: Option<String>,
    /// Chains given no row (run id as shown, why): a stored id that is not UTF-8 (SQLite
    /// keeps a text's bytes as given: put in the log by hand), listed shown escaped
    /// (`event::shown_id`), an id no event has. Before, a row was written under that
    /// escaped text — an index naming a run the log does not hold.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub refused: Vec<(String, String)>,
}

impl IndexRepair {
    /// Whether the index agreed with the log already.
    pub fn unchanged(&self) -> bool {
        self.added.is_empty()
            && self.corrected.is_empty()
            && self.removed.is_empty()
            && self.unreadable.is_none()
    }
}

/// What `log reindex` writes and what that changes: the rows the log's events make
/// (`entries_from_log`) but those of a chain the log does not hold under the id it is listed
/// by (`IndexRepair::refused`: a stored id not UTF-8, listed shown escaped), and how the
/// rows `rows` (as stored) differ from them (`repair_of`).
pub(crate) fn rebuild_plan<S: EventStore + ?Sized>(
    store: &S,
    rows: Result<Option<Vec<RunEntry>>, StoreError>,
) -> Result<(Vec<RunEntry>, IndexRepair), StoreError> {
    let mut expected = Vec::new();
    let mut refused = Vec::new();
    for entry in entries_from_log(store)? {
        // Only an id shown escaped (`\xNN`) can name no chain: each other one is as stored.
        if entry.run_id.contains("\\x") && store.hash_at(&entry.run_id, 0)?.is_none() {
            refused.push((
                entry.run_id,
                "its stored id is not UTF-8 (shown here escaped; it was put in the log by hand): a row would name an id no event has, so none is written".to_string(),
            ));
            continue;
        }
        expected.push(entry);
    }
    let mut repair = repair_of(rows, &expected)?;
    // A row under it read (shown escaped) is not a run whose events were removed: said as
    // refused, not as removed.
    repair
        .removed
        .retain(|row| !refused.iter().any(|(id, _)| *id == row.run_id));
    repair.refused = refused;
    Ok((expected, repair))
}

/// How rows `rows` (as stored) differ from `expected` (from the log, `entries_from_log`):
/// what writing `expected` in their place changes.
pub(crate) fn repair_of(
    rows: Result<Option<Vec<RunEntry>>, StoreError>,
    expected: &[RunEntry],
) -> Result<IndexRepair, StoreError> {
    let mut repair = IndexRepair {
        runs: expected.len(),
        ..IndexRepair::default()
    };
    let rows = match rows {
        Ok(rows) => rows.unwrap_or_default(),
        Err(StoreError::Corrupt { reason, .. }) => {
            repair.unreadable = Some(reason);
            Vec::new()
        }
        Err(e) => return Err(e),
    };
    let wanted: std::collections::HashMap<&str, &RunEntry> =
        expected.iter().map(|e| (e.run_id.as_str(), e)).collect();
    let mut held = std::collections::HashSet::new();
    for row in rows {
        match wanted.get(row.run_id.as_str()) {
            Some(want) => {
                if let Some(what) = row_differs(&row, want) {
                    repair
                        .corrected
                        .push((row.run_id.clone(), what.to_string()));
                }
                held.insert(row.run_id);
            }
            None => repair.removed.push(row),
        }
    }
    repair.added = expected
        .iter()
        .filter(|e| !held.contains(&e.run_id))
        .map(|e| e.run_id.clone())
        .collect();
    Ok(repair)
}

/// Which runs to list: all conditions given must hold; newest first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunQuery {
    pub kind: Option<RunKind>,
    /// Runs whose name, matched forgivingly (`normalize_name`), is this.
    pub name: Option<String>,
    /// Runs whose id starts with this (ids are upper case).
    pub id_prefix: Option<String>,
    /// Only runs that have not finished.
    pub unfinished: bool,
    /// Only runs older than this one (ids order runs by start): the cursor of the next page.
    pub before: Option<String>,
    /// At most this many.
    pub limit: Option<usize>,
}

impl RunQuery {
    pub fn kind(kind: Option<RunKind>) -> RunQuery {
        RunQuery {
            kind,
            ..RunQuery::default()
        }
    }

    /// The run whose id is `run_id` (as a prefix, it could name longer ids too: the caller
    /// keeps the entry whose id is exactly it, `run_entry`).
    pub fn id(run_id: &str) -> RunQuery {
        RunQuery {
            id_prefix: Some(run_id.to_string()),
            limit: Some(2),
            ..RunQuery::default()
        }
    }

    pub fn limit(mut self, n: usize) -> RunQuery {
        self.limit = Some(n);
        self
    }

    /// Does `entry` satisfy the query (its conditions, not the limit)?
    pub fn matches(&self, entry: &RunEntry) -> bool {
        self.kind.is_none_or(|k| k == entry.kind)
            && self
                .name
                .as_ref()
                .is_none_or(|n| normalize_name(&entry.name) == normalize_name(n))
            && self
                .id_prefix
                .as_ref()
                .is_none_or(|p| entry.run_id.starts_with(p.as_str()))
            && (!self.unfinished || entry.outcome.is_none())
            && self
                .before
                .as_ref()
                .is_none_or(|b| entry.run_id.as_str() < b.as_str())
    }
}

/// A run's index entry as its events say it must be: from its first event (`run_started`) and
/// its head (the outcome is in a sealing `run_finished`, which is always the head). None for a
/// stream that is not a run (the agent registry).
/// The outcome a run's index row holds once `last` is the run's head: a sealing
/// `run_finished`'s, else none — also for an event past a seal (a completed child run rolled
/// back for its parent goes on after its `run_finished`), which unseals the row until the
/// next `run_finished` (`entry_from_log`).
pub(crate) fn sealed_by(last: &crate::event::Recorded) -> Option<&'static str> {
    match &last.event {
        Event::RunFinished { outcome, .. } => Some(outcome.as_str()),
        _ => None,
    }
}

/// The condition, in SQLite's SQL, that an index row's `run_id` is a run id
/// (`event::is_run_id`: 26 Crockford capitals, the first at most `7`). The index lists only
/// runs whose id is one: a row of another id was put in the log by hand, and no listing hands
/// it to what acts on runs (`gc`, workers, the latest run, history); `log verify` names it.
pub(crate) fn sqlite_is_run_id() -> &'static str {
    static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        format!(
            "runs.run_id GLOB '[0-7]{}'",
            RUN_ID_CLASS.repeat(crate::event::RUN_ID_LEN - 1)
        )
    });
    &SQL
}

/// `sqlite_is_run_id` in PostgreSQL's SQL (the column is COLLATE "C": bytes).
pub(crate) fn postgres_is_run_id() -> &'static str {
    static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        format!(
            "runs.run_id ~ '^[0-7]{RUN_ID_CLASS}{{{}}}$'",
            crate::event::RUN_ID_LEN - 1
        )
    });
    &SQL
}

/// A character of a run id after its first, as a bracket expression of both dialects.
const RUN_ID_CLASS: &str = "[0-9A-HJKMNP-TV-Z]";

/// The conditions of `query` on the run index, each ` AND …` with its placeholders numbered
/// from 1 by `placeholder` (`?N` on SQLite, `$N` on PostgreSQL), and the text values they
/// bind, in order. Only the conditions given are in the statement, so that each shape of
/// query has a plan that uses its index (plans never depend on bound values).
pub(crate) fn index_conditions(
    query: &RunQuery,
    placeholder: fn(usize) -> String,
) -> (String, Vec<String>) {
    let mut sql = String::new();
    let mut values: Vec<String> = Vec::new();
    let mut bind = |sql: &mut String, cond: &str, value: String| {
        values.push(value);
        sql.push_str(&cond.replace('#', &placeholder(values.len())));
    };
    if let Some(kind) = query.kind {
        bind(&mut sql, " AND kind = #", kind.as_str().to_string());
    }
    if let Some(name) = &query.name {
        bind(&mut sql, " AND name_key = #", normalize_name(name));
    }
    if let Some(prefix) = &query.id_prefix {
        // Ids are upper-case Crockford base32: `~` sorts after every character of one (byte
        // order: on PostgreSQL the columns are COLLATE "C").
        bind(&mut sql, " AND run_id >= #", prefix.clone());
        bind(&mut sql, " AND run_id < #", format!("{prefix}~"));
    }
    if query.unfinished {
        sql.push_str(" AND outcome IS NULL");
    }
    if let Some(before) = &query.before {
        bind(&mut sql, " AND run_id < #", before.clone());
    }
    (sql, values)
}

pub fn entry_from_log(head: &RunHead, last: Option<&Event>) -> Option<RunEntry> {
    let Event::RunStarted(started) = &head.first.event else {
        return None;
    };
    let outcome = match last {
        Some(Event::RunFinished { outcome, .. }) => Some(*outcome),
        _ => None,
    };
    Some(RunEntry {
        run_id: head.run_id.clone(),
        kind: started.kind,
        name: started.name.clone(),
        started_at: head.first.time.clone(),
        events: head.events,
        head_hash: head.head_hash.clone(),
        outcome,
    })
}

/// Every run's entry computed from the log itself, oldest first: what a store without an index
/// lists, and what `check_index` holds the index to.
pub fn entries_from_log<S: EventStore + ?Sized>(store: &S) -> Result<Vec<RunEntry>, StoreError> {
    Ok(entries_tolerant(store)?
        .into_iter()
        .map(|(e, _)| e)
        .collect())
}

/// `entries_from_log`, where a run whose last event was written by a newer cortex (which this
/// one cannot decode) is given without an outcome, and said to be so (`true`).
fn entries_tolerant<S: EventStore + ?Sized>(
    store: &S,
) -> Result<Vec<(RunEntry, bool)>, StoreError> {
    let mut out = Vec::new();
    for head in store.runs()? {
        let (last, unknown) = match store.read_run_from(&head.run_id, head.events.saturating_sub(1))
        {
            Ok(last) => (last, false),
            Err(StoreError::NewerEvent { .. }) => (Vec::new(), true),
            Err(e) => return Err(e),
        };
        if let Some(entry) = entry_from_log(&head, last.first().map(|r| &r.event)) {
            out.push((entry, unknown));
        }
    }
    Ok(out)
}

/// `query` answered by scanning the log (stores without an index).
pub fn scan<S: EventStore + ?Sized>(
    store: &S,
    query: &RunQuery,
) -> Result<Vec<RunEntry>, StoreError> {
    // Only runs of a run id are listed, as the index lists them (`sqlite_is_run_id`).
    let mut hits: Vec<RunEntry> = entries_from_log(store)?
        .into_iter()
        .filter(|e| crate::event::is_run_id(e.run_id.as_bytes()) && query.matches(e))
        .collect();
    hits.reverse();
    if let Some(n) = query.limit {
        hits.truncate(n);
    }
    Ok(hits)
}

/// The first disagreement between the store's run index and the log, if any: a row that says
/// something the events do not (a changed head, name, kind or outcome), a run the index lacks,
/// or a row for a run that has no events. None also for a store that keeps no index.
pub fn check_index(store: &dyn EventStore) -> Result<Option<BadEvent>, StoreError> {
    let mut rows = match store.index_rows() {
        Ok(Some(rows)) => rows,
        Ok(None) => return Ok(None),
        Err(StoreError::Corrupt {
            run_id,
            seq,
            reason,
        }) => return Ok(Some(unreadable_index(run_id, seq, reason))),
        Err(e) => return Err(e),
    };
    rows.sort_by(|a, b| a.run_id.cmp(&b.run_id));
    let expected = entries_tolerant(store)?;
    let bad = |run_id: &str, seq: u64, reason: String| {
        Some(BadEvent {
            run_id: run_id.to_string(),
            seq: seq.min(i64::MAX as u64) as i64,
            reason: format!("the run index: {reason}"),
        })
    };
    let mut rows = rows.into_iter().peekable();
    for (want, outcome_unknown) in &expected {
        if let Some(extra) = rows.next_if(|r| r.run_id < want.run_id) {
            return Ok(Some(no_events(&extra)));
        }
        let Some(row) = rows.next_if(|r| r.run_id == want.run_id) else {
            return Ok(bad(&want.run_id, 0, "the run is missing from it".into()));
        };
        // A newer cortex's last event (unreadable here) may have set the outcome.
        let row = match outcome_unknown {
            true => RunEntry {
                outcome: None,
                ..row
            },
            false => row,
        };
        if let Some(what) = row_differs(&row, want) {
            return Ok(bad(
                &want.run_id,
                want.events.saturating_sub(1),
                what.into(),
            ));
        }
    }
    if let Some(extra) = rows.next() {
        return Ok(Some(no_events(&extra)));
    }
    Ok(None)
}

/// The failure of an index that cannot be read: a row of a kind or outcome no cortex writes
/// (at that run), or its table gone (no run: no place).
fn unreadable_index(run_id: String, seq: u64, reason: String) -> BadEvent {
    BadEvent {
        seq: match run_id.is_empty() {
            true => -1,
            false => seq.min(i64::MAX as u64) as i64,
        },
        run_id,
        reason: format!("the run index: {reason}"),
    }
}

/// The failure of an index row whose run has no events: the row proves the run existed, so
/// its events were removed (all of them, or the table that held them).
fn no_events(row: &RunEntry) -> BadEvent {
    BadEvent {
        run_id: row.run_id.clone(),
        seq: 0,
        reason: format!(
            "the run index names {} event{}, the log holds none: events were removed",
            row.events,
            if row.events == 1 { "" } else { "s" }
        ),
    }
}

/// Every row of the run index whose run has no events in the log, each a failure (see
/// `no_events`), whatever else failed: `check_index` finds them only while the whole log
/// verified, and a run with no events has no chain that `log verify` would look at.
/// `has_events` says which runs hold events (those whose chains were read: an event that
/// does not decode never stops this). None for a store that keeps no index; an index that
/// cannot be read is itself the failure.
pub fn index_rows_without_events(
    store: &dyn EventStore,
    has_events: &dyn Fn(&str) -> bool,
) -> Result<Vec<BadEvent>, StoreError> {
    let rows = match store.index_rows() {
        Ok(Some(rows)) => rows,
        Ok(None) => return Ok(Vec::new()),
        Err(StoreError::Corrupt {
            run_id,
            seq,
            reason,
        }) => return Ok(vec![unreadable_index(run_id, seq, reason)]),
        Err(e) => return Err(e),
    };
    Ok(rows
        .iter()
        .filter(|r| !has_events(&r.run_id))
        .map(no_events)
        .collect())
}

/// How index row `row` differs from `want`, the entry its run's events make, if it does.
fn row_differs(row: &RunEntry, want: &RunEntry) -> Option<&'static str> {
    if row == want {
        return None;
    }
    Some(
        if row.events != want.events || row.head_hash != want.head_hash {
            "its head differs from the log's"
        } else if row.outcome != want.outcome {
            "its outcome differs from the log's"
        } else {
            "its kind, name or start differs from the run's first event"
        },
    )
}

/// `check_index` for one run (`log verify RUN`): its index row against its events — changed,
/// or missing while the run has events. A store without an index answers from the log, so
/// it never disagrees. Before, a per-run verify did not look at the index: an edited row
/// (its outcome set to `completed`, which hid a submitted run from every worker) verified
/// intact there.
pub fn check_index_run(
    store: &dyn EventStore,
    run_id: &str,
) -> Result<Option<BadEvent>, StoreError> {
    let events = match store.read_run_from(run_id, 0) {
        Ok(events) => events,
        // A newer cortex's event, unreadable here: what the row should say cannot be worked
        // out (`check_index` holds such a run's outcome as unknown); the chain is checked.
        Err(StoreError::NewerEvent { .. }) => return Ok(None),
        Err(e) => return Err(e),
    };
    // An index that cannot be read (a row of a kind or outcome no cortex writes, its table
    // dropped) is a damaged index, said as such: the events are another matter.
    let row = match index_row(store, run_id) {
        Ok(row) => row,
        Err(StoreError::Corrupt {
            run_id: at,
            seq,
            reason,
        }) => return Ok(Some(unreadable_index(at, seq, reason))),
        Err(e) => return Err(e),
    };
    let (Some(first), Some(last)) = (events.first(), events.last()) else {
        // No events, yet a row: the row proves the run existed.
        return Ok(row.map(|row| no_events(&row)));
    };
    let head = RunHead {
        run_id: run_id.to_string(),
        first: first.clone(),
        events: events.len() as u64,
        head_hash: last.hash.clone(),
    };
    let Some(want) = entry_from_log(&head, Some(&last.event)) else {
        return Ok(None);
    };
    let what = match &row {
        None => Some("the run is missing from it"),
        Some(row) => row_differs(row, &want),
    };
    Ok(what.map(|what| BadEvent {
        run_id: run_id.to_string(),
        seq: want.events.saturating_sub(1).min(i64::MAX as u64) as i64,
        reason: format!("the run index: {what}"),
    }))
}

/// The run index's row of run `run_id` as stored, if it has one: not `list_runs`, which
/// lists no row of a run without events and takes an unreadable row's run from its events.
/// An index that cannot be read is the error (`StoreError::Corrupt`).
fn index_row(store: &dyn EventStore, run_id: &str) -> Result<Option<RunEntry>, StoreError> {
    Ok(match store.index_rows()? {
        Some(rows) => rows.into_iter().find(|r| r.run_id == run_id),
        // No index: the run's entry is what its events say.
        None => store
            .list_runs(&RunQuery {
                id_prefix: Some(run_id.to_string()),
                ..RunQuery::default()
            })?
            .into_iter()
            .find(|r| r.run_id == run_id),
    })
}
