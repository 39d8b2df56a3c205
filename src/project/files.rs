//! The derived files of a run (`runs/<id>/workflow.json`, `checkpoints/`, `results.json`):
//! their contents as a pure function of the state. Deleting them loses nothing.

use serde_json::json;

use super::status_view;
use crate::decide::RunState;
use crate::event::{Event, Recorded};

/// One derived file: a path relative to `runs/<run-id>/` and its contents, or one line to add
/// to such a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunFile {
    pub path: String,
    pub contents: String,
    pub write: FileWrite,
}

/// How a derived file is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileWrite {
    /// The whole file (`contents`) replaces what was there.
    Whole,
    /// `contents` is line number `line` (from 1) of a JSON Lines file, added at its end unless
    /// the file already ends with that line or a later one (another process wrote it first).
    Line { line: usize },
}

/// `checkpoints/checkpoints.jsonl`: the run's checkpoints, one JSON object a line, oldest first.
/// One file added to per checkpoint, not a file per checkpoint: creating a file is the costly
/// part of writing a small one (an inode allocated; ext4 scans past recently freed ones).
pub const CHECKPOINTS_FILE: &str = "checkpoints/checkpoints.jsonl";

fn pretty(value: &serde_json::Value) -> String {
    let mut text = serde_json::to_string_pretty(value).expect("JSON values serialise");
    text.push('\n');
    text
}

/// Every derived file of a run as it stands.
pub fn run_files(state: &RunState) -> Vec<RunFile> {
    let mut files: Vec<RunFile> = workflow_file(state).into_iter().collect();
    let lines: String = (0..state.checkpoints.len())
        .filter_map(|n| checkpoint_line(state, n))
        .collect();
    if !lines.is_empty() {
        files.push(RunFile {
            path: CHECKPOINTS_FILE.into(),
            contents: lines,
            write: FileWrite::Whole,
        });
    }
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
                // From the end: the checkpoint just folded is the newest.
                let n = state.checkpoints.iter().rposition(|c| c.seq == rec.seq)?;
                files.push(RunFile {
                    path: CHECKPOINTS_FILE.into(),
                    contents: checkpoint_line(state, n)?,
                    write: FileWrite::Line { line: n + 1 },
                });
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
        write: FileWrite::Whole,
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

/// Line `n + 1` of `checkpoints/checkpoints.jsonl`: checkpoint `n` of the run — the resume
/// point, the checkpointed step's outputs and how many steps were done (O(1) per checkpoint:
/// the full history is the log's, and `results.json` has every output). Compact JSON, `\n`
/// at the end; `checkpoint` is its number, from 1.
fn checkpoint_line(state: &RunState, n: usize) -> Option<String> {
    /// One line, serialised as it is declared (`checkpoint` first: the writer reads it from
    /// a line's start), borrowing from the state.
    #[derive(serde::Serialize)]
    struct Line<'a> {
        checkpoint: usize,
        run_id: &'a str,
        seq: u64,
        step: &'a str,
        step_index: usize,
        steps_done: usize,
        outputs: Option<&'a std::collections::BTreeMap<String, String>>,
        validation: &'static str,
        time: &'a str,
    }
    let cp = state.checkpoints.get(n)?;
    let mut line = serde_json::to_string(&Line {
        checkpoint: n + 1,
        run_id: &state.run_id,
        seq: cp.seq,
        step: &cp.step,
        step_index: cp.index,
        steps_done: cp.steps_done,
        // By name: the resume point of a `foreach:` step is after its last item.
        outputs: state.step(&cp.step).map(|s| &s.outputs),
        validation: "passed",
        time: &cp.time,
    })
    .ok()?;
    line.push('\n');
    Some(line)
}

/// `results.json`: the final output of a finished run, with its head hash. Its form is
/// `schemas/results.schema.json` (`cortex schema results`): `kind` says whether the run is a
/// workflow's or a scenario's, and its units are under `steps` or `phases` to match, as in the
/// `--json` status document (SPEC §5).
fn results_file(state: &RunState) -> Option<RunFile> {
    state.outcome()?;
    let view = status_view(state, false);
    let outputs: serde_json::Map<String, serde_json::Value> = state
        .steps
        .iter()
        .filter(|s| !s.outputs.is_empty())
        .map(|s| (s.name.clone(), json!(s.outputs)))
        .collect();
    let units: Vec<serde_json::Value> = view
        .steps
        .iter()
        .map(|s| {
            json!({
                "name": s.name,
                "status": s.status,
                "attempts": s.attempts,
                "started_at": s.started_at,
                "ended_at": s.ended_at,
            })
        })
        .collect();
    let (kind, units_key) = match view.kind {
        crate::event::RunKind::Workflow => ("workflow", "steps"),
        crate::event::RunKind::Scenario => ("scenario", "phases"),
    };
    let mut results = json!({
        "run_id": view.run_id,
        "kind": kind,
        "name": view.name,
        "status": view.status,
        "reason": view.reason,
        "head_hash": view.head_hash,
        "events": view.events,
        "started_at": view.started_at,
        "ended_at": view.ended_at,
        "outputs": outputs,
    });
    results[units_key] = json!(units);
    Some(RunFile {
        path: "results.json".into(),
        write: FileWrite::Whole,
        contents: pretty(&results),
    })
}
