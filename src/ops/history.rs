//! Past runs of a kind, newest first, a page at a time: the rows of `workflow history` and
//! `orchestrate history`.

use std::path::Path;

use serde::Serialize;

use crate::event::{Event, RunKind};
use crate::execute::{DriverLock, load_state};
use crate::project::{RunStatus, run_status};
use crate::store::{EventStore, StoreError};

/// One run as listed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HistoryRow {
    pub run_id: String,
    pub kind: RunKind,
    pub name: String,
    pub status: RunStatus,
    pub started_at: Option<String>,
    pub ended_at: Option<String>,
    pub events: u64,
}

/// A page of history: the newest `limit` runs of a kind, and how many there are in all.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct History {
    pub kind: Option<RunKind>,
    pub runs: Vec<HistoryRow>,
    pub total: usize,
}

/// The newest `limit` runs of `kind` (all kinds if none), newest first. Only the rows shown
/// are folded, so a page costs the same however long the history.
pub fn history(
    store: &dyn EventStore,
    home: &Path,
    kind: Option<RunKind>,
    limit: usize,
) -> Result<History, StoreError> {
    let heads: Vec<_> = store
        .runs()?
        .into_iter()
        .filter(
            |h| matches!(&h.first.event, Event::RunStarted(s) if kind.is_none_or(|k| k == s.kind)),
        )
        .collect();
    let total = heads.len();
    let mut runs = Vec::with_capacity(limit.min(total));
    for head in heads.iter().rev().take(limit) {
        let mut state = load_state(store, &head.run_id)?;
        state.run_id = head.run_id.clone();
        let alive = DriverLock::probe(home, &head.run_id).is_some();
        let start = state.start.as_deref();
        runs.push(HistoryRow {
            run_id: head.run_id.clone(),
            kind: start.map_or(RunKind::Workflow, |s| s.kind),
            name: start.map_or_else(String::new, |s| s.name.clone()),
            status: run_status(&state, alive),
            started_at: state.started_at.clone(),
            ended_at: state.ended_at.clone(),
            events: head.events,
        });
    }
    Ok(History { kind, runs, total })
}
