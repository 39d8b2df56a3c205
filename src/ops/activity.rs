//! Where agents are active now: by hand (the registry stream) and in the phases of unfinished
//! scenario runs. Read from the run index's unfinished runs, so its cost follows the runs in
//! flight, not the history.

use crate::decide::{BY_HAND, evolve_registry};
use crate::event::REGISTRY_CHAIN;
use crate::event::RunKind;
use crate::execute::load_state;
use crate::store::{EventStore, RunQuery, StoreError};

/// One active agent: its name, the phase it works on (or `BY_HAND`), and the run (none by hand).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Activity {
    pub agent: String,
    pub phase: String,
    pub run_id: Option<String>,
}

/// Every agent active now.
pub fn agent_activity(store: &dyn EventStore) -> Result<Vec<Activity>, StoreError> {
    let registry = store
        .read_run(REGISTRY_CHAIN)?
        .iter()
        .fold(Default::default(), evolve_registry);
    let mut out: Vec<Activity> = registry
        .active
        .into_iter()
        .map(|agent| Activity {
            agent,
            phase: BY_HAND.to_string(),
            run_id: None,
        })
        .collect();
    let unfinished = RunQuery {
        kind: Some(RunKind::Scenario),
        unfinished: true,
        ..RunQuery::default()
    };
    let mut runs = store.list_runs(&unfinished)?;
    runs.reverse();
    for run in runs {
        let state = load_state(store, &run.run_id)?;
        out.extend(
            state
                .active_agents
                .into_iter()
                .map(|(agent, phase)| Activity {
                    agent,
                    phase,
                    run_id: Some(run.run_id.clone()),
                }),
        );
    }
    Ok(out)
}
