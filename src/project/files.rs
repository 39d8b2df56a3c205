//! The derived files of a run (`runs/<id>/workflow.json`, `checkpoints/`, `results.json`):
//! their contents as a pure function of the state. Deleting them loses nothing.

use serde_json::json;

use super::status_view;
use crate::decide::RunState;

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
    let Some(start) = state.start.as_deref() else {
        return Vec::new();
    };
    let mut files = vec![RunFile {
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
    }];
    for (n, cp) in state.checkpoints.iter().enumerate() {
        let outputs: serde_json::Map<String, serde_json::Value> = state
            .steps
            .iter()
            .take(cp.index + 1)
            .map(|s| (s.name.clone(), json!(s.outputs)))
            .collect();
        files.push(RunFile {
            path: format!("checkpoints/{:04}-step-{}.json", n + 1, cp.index + 1),
            contents: pretty(&json!({
                "run_id": state.run_id,
                "checkpoint": n + 1,
                "seq": cp.seq,
                "step": cp.step,
                "step_index": cp.index,
                "completed": cp.completed,
                "outputs": outputs,
                "validation": "passed",
                "time": cp.time,
            })),
        });
    }
    if state.outcome().is_some() {
        let view = status_view(state, false);
        let outputs: serde_json::Map<String, serde_json::Value> = state
            .steps
            .iter()
            .filter(|s| !s.outputs.is_empty())
            .map(|s| (s.name.clone(), json!(s.outputs)))
            .collect();
        files.push(RunFile {
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
        });
    }
    files
}
