//! The derived files of a run (`runs/<id>/workflow.json`, `checkpoints/`, `results.json`):
//! their contents as a pure function of the state. Deleting them loses nothing.

use serde_json::json;

use super::status_view;
use crate::decide::RunState;
use crate::event::{Event, Recorded};

/// One derived file: a path relative to `runs/<run-id>/` and its contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunFile {
    pub path: String,
    pub contents: String,
}

fn pretty(value: &serde_json::Value) -> String {
    let mut text = serde_json::to_string_pretty(value).expect("JSON values serialise");
    text.push('\n');
    text
}

/// Every derived file of a run as it stands.
pub fn run_files(state: &RunState) -> Vec<RunFile> {
    let mut files: Vec<RunFile> = workflow_file(state).into_iter().collect();
    files.extend((0..state.checkpoints.len()).filter_map(|n| checkpoint_file(state, n)));
    files.extend(results_file(state));
    files
}

/// The files that `events`, just folded into `state`, changed; `None` when a full rewrite is
/// needed (a resume or a rollback may have made checkpoint files stale).
pub fn changed_files(state: &RunState, events: &[Recorded]) -> Option<Vec<RunFile>> {
    let mut files = Vec::new();
    for rec in events {
        match &rec.event {
            Event::RunStarted(_) => files.extend(workflow_file(state)),
            Event::CheckpointSaved { .. } => {
                let n = state.checkpoints.iter().position(|c| c.seq == rec.seq)?;
                files.extend(checkpoint_file(state, n));
            }
            Event::RunFinished { .. } => files.extend(results_file(state)),
            Event::RunResumed { .. } | Event::RollbackFinished { .. } => return None,
            _ => {}
        }
    }
    Some(files)
}

/// `workflow.json`: the definition snapshot and what the run started with.
fn workflow_file(state: &RunState) -> Option<RunFile> {
    let start = state.start.as_deref()?;
    Some(RunFile {
        path: "workflow.json".into(),
        contents: pretty(&json!({
            "run_id": state.run_id,
            "name": start.name,
            "source": start.source,
            "definition_hash": start.definition_hash,
            "definition": start.definition,
            "inputs": start.inputs,
            "config": start.config,
                        "working_dir": start.working_dir,
        })),
    })
}

/// `checkpoints/NNNN-step-K.json`: checkpoint `n` of the run — the resume point, the
/// checkpointed step's outputs and how many steps were done. (O(1) per checkpoint: the full
/// history is the log's, and `results.json` has every output.)
fn checkpoint_file(state: &RunState, n: usize) -> Option<RunFile> {
    let cp = state.checkpoints.get(n)?;
    // By name: the resume point of a `foreach:` step is after its last item.
    let outputs = state
        .step(&cp.step)
        .map(|s| json!(s.outputs))
        .unwrap_or_default();
    Some(RunFile {
        path: format!("checkpoints/{:04}-step-{}.json", n + 1, cp.index + 1),
        contents: pretty(&json!({
            "run_id": state.run_id,
            "checkpoint": n + 1,
            "seq": cp.seq,
            "step": cp.step,
            "step_index": cp.index,
            "steps_done": cp.steps_done,
            "outputs": outputs,
            "validation": "passed",
            "time": cp.time,
        })),
    })
}

/// `results.json`: the final output of a finished run, with its head hash.
fn results_file(state: &RunState) -> Option<RunFile> {
    state.outcome()?;
    {
        let view = status_view(state, false);
        let outputs: serde_json::Map<String, serde_json::Value> = state
            .steps
            .iter()
            .filter(|s| !s.outputs.is_empty())
            .map(|s| (s.name.clone(), json!(s.outputs)))
            .collect();
        Some(RunFile {
            path: "results.json".into(),
            contents: pretty(&json!({
                "run_id": view.run_id,
                "name": view.name,
                "status": view.status,
                "reason": view.reason,
                "head_hash": view.head_hash,
                "events": view.events,
                "started_at": view.started_at,
                "ended_at": view.ended_at,
                "steps": view.steps.iter().map(|s| json!({
                    "name": s.name,
                    "status": s.status,
                    "attempts": s.attempts,
                    "started_at": s.started_at,
                    "ended_at": s.ended_at,
                })).collect::<Vec<_>>(),
                "outputs": outputs,
            })),
        })
    }
}
