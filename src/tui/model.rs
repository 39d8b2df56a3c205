//! What the TUI knows: the scenario catalog as listed, and the runs it follows (each a fold
//! of its events plus whether a driver holds it), with the pure queries the screens ask.

use std::collections::BTreeMap;

use crate::decide::RunState;
use crate::definition::normalize_name;
use crate::event::RunKind;
use crate::project::{RunStatus, run_status};

/// One scenario of the catalog, as `orchestrate list` sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct ScenarioEntry {
    /// The file's name without `.yaml`, what `orchestrate run NAME` takes.
    pub name: String,
    /// The file it was read from.
    pub path: String,
    /// Phases, if the file parses.
    pub phases: Option<usize>,
    pub description: Option<String>,
    /// Why the file does not validate: every problem, as `orchestrate validate` says them.
    pub error: Option<String>,
    /// Its declared inputs, by name: what Scenario Run asks for before it starts a run.
    pub inputs: Vec<InputField>,
}

/// One declared input of a definition, as the input form shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct InputField {
    pub name: String,
    pub required: bool,
    /// Its default, as text (as `--input NAME=VALUE` would give it).
    pub default: Option<String>,
    /// A secret (by its name, or used in a webhook): never shown as typed, given to the
    /// driver through its environment (`CORTEX_INPUT_<NAME>`), never as an argument.
    pub secret: bool,
    pub description: Option<String>,
    /// What it declares: a value is checked against it before the run starts.
    pub spec: crate::definition::InputSpec,
}

/// A run the TUI follows: its state, folded from the log, and one live fact.
#[derive(Debug, Clone, PartialEq)]
pub struct Followed {
    pub state: RunState,
    /// A live process holds the run's driver lock.
    pub alive: bool,
    /// The units (and attempts) a live lease holds, read before the events folded into
    /// `state`, when the follower read them (the run on screen, unfinished): a unit a worker
    /// claimed that none holds is orphaned.
    pub held: Option<std::collections::BTreeSet<(String, u32)>>,
}

impl Followed {
    /// The run as the log says it: `state` and whether a driver holds it.
    pub fn new(state: RunState, alive: bool) -> Followed {
        Followed {
            state,
            alive,
            held: None,
        }
    }

    /// Its status document, with the units whose worker's lease lapsed marked orphaned when
    /// the leases were read.
    pub fn view(&self) -> crate::project::StatusView {
        self.view_for(&[])
    }

    /// `view`, the commands its text writes carrying `globals` (`StatusView::globals`).
    pub fn view_for(&self, globals: &[String]) -> crate::project::StatusView {
        let view = crate::project::status_view_for(&self.state, self.alive, globals);
        match &self.held {
            Some(held) => {
                view.with_held(&|unit, attempt| held.contains(&(unit.to_string(), attempt)))
            }
            None => view,
        }
    }

    pub fn status(&self) -> RunStatus {
        run_status(&self.state, self.alive)
    }

    pub fn kind(&self) -> RunKind {
        self.state
            .start
            .as_ref()
            .map_or(RunKind::Workflow, |s| s.kind)
    }

    pub fn name(&self) -> &str {
        self.state.start.as_ref().map_or("", |s| s.name.as_str())
    }

    /// Steps (or phases) completed or skipped, and how many there are.
    pub fn progress(&self) -> (usize, usize) {
        let done = self
            .state
            .steps
            .iter()
            .filter(|s| s.status.is_done())
            .count();
        (done, self.state.steps.len())
    }
}

/// A row of the scenario list: a catalog entry, or a scenario that only runs know (started
/// from a path outside the catalog), with its latest run.
#[derive(Debug, Clone, PartialEq)]
pub struct ScenarioRow<'a> {
    pub name: String,
    /// What `orchestrate run` takes to start it again: the catalog name, or the run's path.
    pub target: String,
    pub entry: Option<&'a ScenarioEntry>,
    pub latest: Option<&'a Followed>,
}

/// The latest run of the scenario `name` (matched forgivingly), if any. Run ids are ULIDs, so
/// the last in id order is the newest.
pub fn latest_scenario_run<'a>(
    runs: &'a BTreeMap<String, Followed>,
    name: &str,
) -> Option<&'a Followed> {
    let wanted = normalize_name(name);
    runs.values()
        .rev()
        .find(|f| f.kind() == RunKind::Scenario && normalize_name(f.name()) == wanted)
}

/// Every catalog scenario, then scenarios known only from their runs, sorted by name.
pub fn scenario_rows<'a>(
    catalog: &'a [ScenarioEntry],
    runs: &'a BTreeMap<String, Followed>,
) -> Vec<ScenarioRow<'a>> {
    let mut rows: Vec<ScenarioRow<'a>> = catalog
        .iter()
        .map(|e| ScenarioRow {
            name: e.name.clone(),
            target: e.name.clone(),
            entry: Some(e),
            latest: latest_scenario_run(runs, &e.name),
        })
        .collect();
    for f in runs.values().rev() {
        if f.kind() != RunKind::Scenario {
            continue;
        }
        let name = normalize_name(f.name());
        if rows.iter().any(|r| normalize_name(&r.name) == name) {
            continue;
        }
        rows.push(ScenarioRow {
            name: f.name().to_string(),
            target: f
                .state
                .start
                .as_ref()
                .map_or_else(|| f.name().to_string(), |s| s.source.clone()),
            entry: None,
            latest: Some(f),
        });
    }
    rows.sort_by(|a, b| a.name.cmp(&b.name));
    rows
}

/// Workflow runs, newest first.
pub fn workflow_runs(runs: &BTreeMap<String, Followed>) -> Vec<&Followed> {
    runs.values()
        .rev()
        .filter(|f| f.kind() == RunKind::Workflow && f.state.start.is_some())
        .collect()
}
