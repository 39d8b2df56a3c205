//! Finding the run a command means: by id, by a unique prefix of an id, or by the name of its
//! workflow or scenario (its latest run), among the runs of the command's own kind.

use crate::definition::{catalog_suggest, normalize_name, shown_query};
use crate::event::{Event, RunKind};
use crate::store::{EventStore, RunQuery, StoreError};

/// Why no run was found. The query is shown as names are (escaped, cut past 120 characters): it
/// is whatever was typed or sent, a tool's argument of megabytes included.
#[derive(Debug, thiserror::Error)]
pub enum FindError {
    #[error("there are no {}runs yet", kind_prefix(*.kind))]
    NoRuns { kind: Option<RunKind> },
    #[error("no {}run `{}`", kind_prefix(*.kind), shown_query(.query))]
    NotFound {
        kind: Option<RunKind>,
        query: String,
        /// Names of runs of that kind that look like the query.
        suggestions: Vec<String>,
    },
    #[error("`{}` matches {count} runs; give more of the id", shown_query(.query))]
    Ambiguous {
        /// The kind looked among, whose history lists the runs.
        kind: Option<RunKind>,
        query: String,
        count: usize,
    },
    /// Shorter than `MIN_ID_PREFIX` and no run's name, but the start of run ids: too short
    /// to pick a run by (before, "no run `01M`" with runs whose ids start so).
    #[error(
        "`{}` is too short to pick a run by: {} start so; give at least {MIN_ID_PREFIX} characters of the id",
        shown_query(.query),
        if *.count == 1 { "the id of 1 run".to_string() } else { format!("the ids of {} runs", .count) }
    )]
    TooShort {
        kind: Option<RunKind>,
        query: String,
        count: usize,
    },
    /// The query names a run of the other kind (`workflow status` of a scenario run).
    #[error("`{}` is a {} run, not a {} run", shown_query(.query), kind_word(Some(*.found)), kind_word(*.kind))]
    OtherKind {
        kind: Option<RunKind>,
        query: String,
        found: RunKind,
    },
    /// A name that both a workflow's and a scenario's runs bear, given where either kind is
    /// taken (`log show NAME`): picking one would be a guess. `runs`: the latest of each kind.
    #[error(
        "`{}` names both a workflow's and a scenario's runs: the latest workflow run is {}, the latest scenario run {}; give the run's id",
        shown_query(.query), .workflow, .scenario
    )]
    BothKinds {
        query: String,
        workflow: String,
        scenario: String,
    },
    /// An empty or blank query (`status "$RUN"` with `RUN` unset): refused, never taken for
    /// "the latest run" — an abort of whatever ran last cannot be undone.
    #[error("an empty run was given (an unset variable, often): it names no run")]
    Empty { kind: Option<RunKind> },
    /// A query that is both the start of one run's id and the name of another run's
    /// definition (a name may read as an id prefix: `01m96p5asfy6`): picking one would be a
    /// guess.
    #[error(
        "`{}` is both the start of run {by_id}'s id and the name of runs whose latest is {by_name}; give the whole id of the run you mean",
        shown_query(.query)
    )]
    IdOrName {
        kind: Option<RunKind>,
        query: String,
        by_id: String,
        by_name: String,
    },
    /// A name that breaks the rule of names (SPEC §2: one never leads out of its folder, so
    /// `../evil` is no name), as `run` refuses it: before, the lookup took its last part and
    /// found the runs of `evil`.
    #[error("{problem}")]
    BadName { problem: String, fix: String },
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

/// The kind as a word before "run", with its space (nothing when any kind is meant).
fn kind_prefix(kind: Option<RunKind>) -> String {
    match kind {
        Some(_) => format!("{} ", kind_word(kind)),
        None => String::new(),
    }
}

/// Which runs a command may act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scope {
    /// Only runs of this kind (`workflow ...` and `orchestrate ...` each find their own).
    /// A name, or no query, picks the latest run of the kind, finished or not (SPEC §7): a
    /// command never reaches past it to an older run nobody named. Before, a report, a start,
    /// a stop or an abort took the latest *unfinished* run, so repeating a report on a run
    /// that had just finished (rolled back, say) failed an older waiting run.
    pub kind: Option<RunKind>,
    /// No query picks the latest run, child runs (`uses:`) included: a report (`workflow step
    /// complete STEP` right after a parent started waiting on its child reports on the child's
    /// step). Otherwise no query picks the latest top-level run (`latest_top_level`): a
    /// status, resume, abort or stop of a parent whose `uses:` step failed acted on its
    /// finished child ("already finished; nothing to do", exit 0).
    pub children: bool,
}

impl Scope {
    pub const fn of(kind: RunKind) -> Scope {
        Scope {
            kind: Some(kind),
            children: false,
        }
    }

    pub const fn any() -> Scope {
        Scope {
            kind: None,
            children: false,
        }
    }

    /// The same scope, where no query picks the latest run, child or not (a report).
    pub const fn with_children(self) -> Scope {
        Scope {
            children: true,
            ..self
        }
    }
}

/// The fewest characters of a run id that pick a run by prefix: shorter, a query is a name
/// (every run of a day shares its first few characters).
pub const MIN_ID_PREFIX: usize = 4;

/// Could `q` be (the start of) a run id (`event::is_run_id`)? Crockford base32, any case.
fn is_id_text(q: &str) -> bool {
    !q.is_empty()
        && q.len() <= crate::event::RUN_ID_LEN
        && q.bytes()
            .all(|c| crate::event::is_crockford(c.to_ascii_uppercase()))
}

/// Could `q` be a prefix that picks a run?
fn looks_like_id(q: &str) -> bool {
    q.len() >= MIN_ID_PREFIX && is_id_text(q)
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
        return both_kinds(store, scope, query, found);
    };
    match (&found, query) {
        (Err(FindError::NotFound { .. } | FindError::NoRuns { .. }), Some(q)) => {
            let other = match kind {
                RunKind::Workflow => RunKind::Scenario,
                RunKind::Scenario => RunKind::Workflow,
            };
            let elsewhere = Scope {
                kind: Some(other),
                ..scope
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

/// `found` among runs of any kind by `query`: refused (`FindError::BothKinds`) when it was
/// found by a name that runs of both kinds bear, rather than one picked silently.
fn both_kinds(
    store: &dyn EventStore,
    scope: Scope,
    query: Option<&str>,
    found: Result<String, FindError>,
) -> Result<String, FindError> {
    let (Ok(run_id), Some(q)) = (&found, query.map(str::trim)) else {
        return found;
    };
    // Picked by its id (or a prefix of it): no guess.
    if run_id.starts_with(&q.to_ascii_uppercase()) && looks_like_id(q) {
        return found;
    }
    let of = |kind| {
        find_in(
            store,
            Scope {
                kind: Some(kind),
                ..scope
            },
            Some(q),
        )
    };
    match (of(RunKind::Workflow), of(RunKind::Scenario)) {
        (Ok(workflow), Ok(scenario)) if workflow != scenario => Err(FindError::BothKinds {
            query: q.to_string(),
            workflow,
            scenario,
        }),
        _ => found,
    }
}

/// The id of the latest run of `of_kind` named `name`, if any.
fn latest_named(
    store: &dyn EventStore,
    of_kind: &RunQuery,
    name: &str,
) -> Result<Option<String>, StoreError> {
    let named = RunQuery {
        name: Some(name.to_string()),
        ..of_kind.clone()
    };
    Ok(store
        .list_runs(&named.limit(1))?
        .first()
        .map(|r| r.run_id.clone()))
}

fn find_in(store: &dyn EventStore, scope: Scope, query: Option<&str>) -> Result<String, FindError> {
    let of_kind = RunQuery::kind(scope.kind);
    if query.is_some_and(|q| q.trim().is_empty()) {
        return Err(FindError::Empty { kind: scope.kind });
    }
    let Some(query) = query.map(str::trim) else {
        // The latest top-level run (one that finished says so where it cannot be acted on).
        let latest = if scope.children {
            store
                .list_runs(&of_kind.clone().limit(1))?
                .first()
                .map(|r| r.run_id.clone())
        } else {
            latest_top_level(store, &of_kind)?
        };
        return latest.ok_or(FindError::NoRuns { kind: scope.kind });
    };
    // A whole run id: its run, found by its events where the run index lacks it or says
    // another kind (`store::run_entry`): the index is a cache, never the only way to a run.
    if crate::event::is_run_id(query.to_ascii_uppercase().as_bytes()) {
        let id = query.to_ascii_uppercase();
        if let Some(entry) = crate::store::run_entry(store, &id)? {
            if scope.kind.is_none_or(|k| k == entry.kind) {
                return Ok(entry.run_id);
            }
            return Err(FindError::NotFound {
                kind: scope.kind,
                query: query.to_string(),
                suggestions: Vec::new(),
            });
        }
    }
    if looks_like_id(query) {
        let by_id = RunQuery {
            id_prefix: Some(query.to_ascii_uppercase()),
            ..of_kind.clone()
        };
        let hits = store.list_runs(&by_id.clone().limit(2))?;
        // A name may read as an id prefix: the latest run bearing it as its name.
        match hits.as_slice() {
            [one] => {
                return match latest_named(store, &of_kind, query)? {
                    Some(named) if named != one.run_id => Err(FindError::IdOrName {
                        kind: scope.kind,
                        query: query.to_string(),
                        by_id: one.run_id.clone(),
                        by_name: named,
                    }),
                    _ => Ok(one.run_id.clone()),
                };
            }
            [] => {}
            _ => {
                // Too short to pick a run by its id, but the name of runs: theirs.
                if let Some(named) = latest_named(store, &of_kind, query)? {
                    return Ok(named);
                }
                return Err(FindError::Ambiguous {
                    kind: scope.kind,
                    query: query.to_string(),
                    count: store.count_runs(&by_id)? as usize,
                });
            }
        }
    }
    // A name (or a definition's file name): its latest run. A name is held to the rule of
    // names as `run` holds it (a path to a definition file ends in .yaml or .yml).
    if !(query.ends_with(".yaml") || query.ends_with(".yml"))
        && (query.contains('/') || query.contains('\\') || query.contains(".."))
    {
        let noun = match scope.kind {
            Some(RunKind::Scenario) => crate::definition::NameKind::Scenario,
            _ => crate::definition::NameKind::Workflow,
        };
        if let Err(bad) = crate::definition::check_name(noun, query) {
            return Err(FindError::BadName {
                problem: bad.problem,
                fix: "a name cannot lead out of its folder: give the run's name or id (a definition's file by its path, ending in .yaml)".to_string(),
            });
        }
    }
    let stem = query
        .rsplit('/')
        .next()
        .unwrap_or(query)
        .trim_end_matches(".yaml")
        .trim_end_matches(".yml");
    if let Some(hit) = latest_named(store, &of_kind, stem)? {
        return Ok(hit);
    }
    // A short start of run ids, which is no name: too short, not "no run".
    if !looks_like_id(query) && is_id_text(query) {
        let count = store.count_runs(&RunQuery {
            id_prefix: Some(query.to_ascii_uppercase()),
            ..of_kind.clone()
        })? as usize;
        if count > 0 {
            return Err(FindError::TooShort {
                kind: scope.kind,
                query: query.to_string(),
                count,
            });
        }
    }
    // Not found: the names of recent runs of the kind, for a suggestion.
    let recent = store.list_runs(&of_kind.limit(SUGGEST_AMONG))?;
    if recent.is_empty() {
        return Err(FindError::NoRuns { kind: scope.kind });
    }
    let mut names: Vec<&str> = recent.iter().map(|r| r.name.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    Err(FindError::NotFound {
        kind: scope.kind,
        query: query.to_string(),
        suggestions: catalog_suggest(&normalize_name(stem), names.into_iter()),
    })
}

/// The latest run matching `query` that is no child run (started by a `uses:` step), or the
/// latest run when every one is a child. A child starts a millisecond after its parent: the
/// latest run outright is, after a failed `uses:` step, the finished child, and a bare
/// `resume` answered "already finished; nothing to do" (exit 0) of it while the failed parent
/// was never resumed. A child is reached through its parent, by its id, or by its name.
fn latest_top_level(store: &dyn EventStore, query: &RunQuery) -> Result<Option<String>, FindError> {
    let mut first: Option<String> = None;
    let mut before: Option<String> = None;
    loop {
        let page = store.list_runs(&RunQuery {
            before: before.clone(),
            ..query.clone().limit(TOP_LEVEL_PAGE)
        })?;
        for entry in &page {
            first.get_or_insert_with(|| entry.run_id.clone());
            if !is_child_run(store, &entry.run_id)? {
                return Ok(Some(entry.run_id.clone()));
            }
        }
        match page.last() {
            Some(last) if page.len() == TOP_LEVEL_PAGE => before = Some(last.run_id.clone()),
            _ => return Ok(first),
        }
    }
}

/// Was run `run_id` started by a `uses:` step of another run (its `run_started` names a parent)?
fn is_child_run(store: &dyn EventStore, run_id: &str) -> Result<bool, StoreError> {
    Ok(matches!(
        store.first_event(run_id)?.map(|r| r.event),
        Some(Event::RunStarted(started)) if started.parent.is_some()
    ))
}

/// How many runs `latest_top_level` reads the index for at a time.
const TOP_LEVEL_PAGE: usize = 16;

/// How many of the newest runs' names a "did you mean" looks among.
const SUGGEST_AMONG: usize = 1_000;
