//! Finding the run a command means: by id, by a unique prefix of an id, or by the name of its
//! workflow or scenario (its latest run), among the runs of the command's own kind.

use crate::definition::{catalog_suggest, normalize_name};
use crate::event::{Event, RunKind};
use crate::store::{EventStore, RunHead, StoreError};

/// Why no run was found.
#[derive(Debug, thiserror::Error)]
pub enum FindError {
    #[error("there are no {} runs yet", kind_word(*.kind))]
    NoRuns { kind: Option<RunKind> },
    #[error("no {} run `{query}`", kind_word(*.kind))]
    NotFound {
        kind: Option<RunKind>,
        query: String,
        /// Names of runs of that kind that look like the query.
        suggestions: Vec<String>,
    },
    #[error("`{query}` matches {count} runs; give more of the id")]
    Ambiguous { query: String, count: usize },
    #[error("{} `{name}` has no unfinished run", kind_noun(*.kind))]
    NoneUnfinished { kind: Option<RunKind>, name: String },
    /// The query names a run of the other kind (`workflow status` of a scenario run).
    #[error("`{query}` is a {} run, not a {} run", kind_word(Some(*.found)), kind_word(*.kind))]
    OtherKind {
        kind: Option<RunKind>,
        query: String,
        found: RunKind,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn kind_word(kind: Option<RunKind>) -> &'static str {
    match kind {
        Some(RunKind::Workflow) => "workflow",
        Some(RunKind::Scenario) => "scenario",
        None => "",
    }
}

fn kind_noun(kind: Option<RunKind>) -> &'static str {
    match kind {
        Some(RunKind::Workflow) => "workflow",
        Some(RunKind::Scenario) => "scenario",
        None => "run",
    }
}

/// Which runs a command may act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scope {
    /// Only runs of this kind (`workflow ...` and `orchestrate ...` each find their own).
    pub kind: Option<RunKind>,
    /// A name picks its latest run that has not finished (operator actions on a scenario).
    pub unfinished: bool,
}

impl Scope {
    pub fn of(kind: RunKind) -> Scope {
        Scope {
            kind: Some(kind),
            unfinished: false,
        }
    }

    pub fn any() -> Scope {
        Scope {
            kind: None,
            unfinished: false,
        }
    }

    pub fn unfinished(mut self) -> Scope {
        self.unfinished = true;
        self
    }
}

/// The runs of `scope`'s kind, oldest first.
fn runs_of(store: &dyn EventStore, scope: Scope) -> Result<Vec<RunHead>, StoreError> {
    Ok(store
        .runs()?
        .into_iter()
        .filter(|r| match &r.first.event {
            // The agent registry stream is not a run.
            Event::RunStarted(s) => scope.kind.is_none_or(|k| k == s.kind),
            _ => false,
        })
        .collect())
}

fn run_name(head: &RunHead) -> &str {
    match &head.first.event {
        Event::RunStarted(s) => &s.name,
        _ => "",
    }
}

/// Could `q` be (the start of) a ULID? Crockford base32, case-insensitive.
fn looks_like_id(q: &str) -> bool {
    q.len() >= 4
        && q.len() <= 26
        && q.chars()
            .all(|c| c.is_ascii_digit() || (c.is_ascii_alphabetic() && !"iIlLoOuU".contains(c)))
}

/// The run `query` names within `scope`, or its latest run when there is no query. A query
/// that names only a run of the other kind says so.
pub fn find_run(
    store: &dyn EventStore,
    scope: Scope,
    query: Option<&str>,
) -> Result<String, FindError> {
    let found = find_in(store, scope, query);
    let Some(kind) = scope.kind else {
        return found;
    };
    match (&found, query) {
        (Err(FindError::NotFound { .. } | FindError::NoRuns { .. }), Some(q)) => {
            let other = match kind {
                RunKind::Workflow => RunKind::Scenario,
                RunKind::Scenario => RunKind::Workflow,
            };
            let elsewhere = Scope {
                kind: Some(other),
                unfinished: false,
            };
            match find_in(store, elsewhere, Some(q)) {
                Ok(_) => Err(FindError::OtherKind {
                    kind: Some(kind),
                    query: q.to_string(),
                    found: other,
                }),
                Err(_) => found,
            }
        }
        _ => found,
    }
}

fn find_in(store: &dyn EventStore, scope: Scope, query: Option<&str>) -> Result<String, FindError> {
    let runs = runs_of(store, scope)?;
    let Some(query) = query.map(str::trim).filter(|q| !q.is_empty()) else {
        return runs
            .last()
            .map(|r| r.run_id.clone())
            .ok_or(FindError::NoRuns { kind: scope.kind });
    };
    if looks_like_id(query) {
        let prefix = query.to_ascii_uppercase();
        let hits: Vec<&RunHead> = runs
            .iter()
            .filter(|r| r.run_id.starts_with(&prefix))
            .collect();
        match hits.as_slice() {
            [one] => return Ok(one.run_id.clone()),
            [] => {}
            many => {
                return Err(FindError::Ambiguous {
                    query: query.to_string(),
                    count: many.len(),
                });
            }
        }
    }
    // A name (or a definition's file name): its latest run.
    let stem = query
        .rsplit('/')
        .next()
        .unwrap_or(query)
        .trim_end_matches(".yaml")
        .trim_end_matches(".yml");
    let wanted = normalize_name(stem);
    let mut named = runs
        .iter()
        .rev()
        .filter(|r| normalize_name(run_name(r)) == wanted)
        .peekable();
    if named.peek().is_none() {
        if runs.is_empty() {
            return Err(FindError::NoRuns { kind: scope.kind });
        }
        let mut names: Vec<&str> = runs.iter().map(run_name).collect();
        names.sort_unstable();
        names.dedup();
        return Err(FindError::NotFound {
            kind: scope.kind,
            query: query.to_string(),
            suggestions: catalog_suggest(&wanted, names.into_iter()),
        });
    }
    if !scope.unfinished {
        return Ok(named.next().expect("peeked").run_id.clone());
    }
    for head in named {
        if crate::execute::load_state(store, &head.run_id)?
            .outcome()
            .is_none()
        {
            return Ok(head.run_id.clone());
        }
    }
    Err(FindError::NoneUnfinished {
        kind: scope.kind,
        name: stem.to_string(),
    })
}
