//! The command palette (`Ctrl+P`): the entries that apply to what is on screen, and fuzzy
//! filtering of them by what was typed.
//!
//! Matching is per word, like an editor's palette: every typed word must start a word of the
//! entry's title or keywords, or be a subsequence of one that starts with the same letter
//! (`orch`, `stat`, `scnr` all match). Title words weigh more than keywords, so typing
//! "status" puts **Scenario Status** first and still lists the other scenario entries.

use crate::decide::StepStatus;
use crate::project::RunStatus;

use crate::event::ResumeMode;
use crate::project::RunAct;

use super::app::{Action, App, PhaseOp, Screen};
use super::model::Followed;

/// One thing the palette can do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub title: String,
    /// A few words on what it does to what, shown beside the title.
    pub detail: String,
    /// More words it is found by.
    pub keywords: &'static str,
    pub action: Action,
}

const SCENARIO_WORDS: &str = "scenario scenarios orchestrate status";
const PHASE_WORDS: &str = "scenario orchestrate phase";

/// The entries for the app as it is: the scenario entries of seed 001 part 7 for the
/// scenario in view, the run's stop and resume, and start, complete and fail for the selected
/// phase when they apply.
pub fn entries(app: &App) -> Vec<Entry> {
    let mut out = vec![Entry {
        title: "Scenario List".into(),
        detail: "view all scenarios".into(),
        keywords: SCENARIO_WORDS,
        action: Action::ScenarioList,
    }];
    if let Some(row) = app.scenario_in_view() {
        // A definition that does not validate is not offered to run: why, instead.
        match row.entry.and_then(|e| e.error.as_ref()) {
            Some(error) => out.push(Entry {
                title: "Scenario Run".into(),
                detail: format!("cannot: {} is not valid (Enter: why)", row.name),
                keywords: SCENARIO_WORDS,
                action: Action::Explain(format!(
                    "{} cannot run: {}",
                    row.name,
                    error.replace('\n', "; ")
                )),
            }),
            None => {
                let asks = row.entry.is_some_and(|e| !e.inputs.is_empty());
                out.push(Entry {
                    title: "Scenario Run".into(),
                    detail: format!(
                        "start {}{}",
                        row.name,
                        if asks { ", asks for its inputs" } else { "" }
                    ),
                    keywords: SCENARIO_WORDS,
                    action: Action::ScenarioRun {
                        scenario: row.name.clone(),
                        target: row.target.clone(),
                    },
                })
            }
        }
        out.push(Entry {
            title: "Scenario Status".into(),
            detail: format!("monitor {}", row.name),
            keywords: SCENARIO_WORDS,
            action: Action::ScenarioStatus {
                scenario: row.name.clone(),
            },
        });
        if let Some(run) = row.latest.filter(|f| f.state.outcome().is_none()) {
            let run_id = run.state.run_id.clone();
            let status = run.status();
            if app.screen == Screen::ScenarioRun
                && let Some((_, phase)) = app.selected_phase(run)
            {
                let step = &run.state.steps[phase];
                let manual_pending = run
                    .state
                    .phase_plan
                    .as_ref()
                    .is_some_and(|p| p.manual[phase])
                    && step.status == StepStatus::Pending
                    && !run.state.start_requested.contains(&step.name);
                let mut op = |op: PhaseOp, verb: &str, detail: &str| {
                    out.push(Entry {
                        title: format!("{verb} phase {}", step.name),
                        detail: detail.to_string(),
                        keywords: PHASE_WORDS,
                        action: Action::Phase {
                            run_id: run_id.clone(),
                            scenario: row.name.clone(),
                            phase: step.name.clone(),
                            op,
                        },
                    });
                };
                if manual_pending {
                    op(PhaseOp::Start, "Start", "a manual phase");
                }
                if step.status == StepStatus::Waiting {
                    op(PhaseOp::Complete, "Complete", "checklist confirmed");
                    op(PhaseOp::Fail, "Fail", "report it failed");
                }
            }
            if matches!(
                status,
                RunStatus::Running | RunStatus::Waiting | RunStatus::Interrupted
            ) {
                out.push(Entry {
                    title: "Stop run".into(),
                    detail: format!("stop {} gracefully", row.name),
                    keywords: "scenario orchestrate stop",
                    action: Action::Stop {
                        run_id: run_id.clone(),
                        scenario: row.name.clone(),
                    },
                });
            }
            if !run.alive
                && matches!(
                    status,
                    RunStatus::Stopped | RunStatus::Failed | RunStatus::Interrupted
                )
            {
                out.push(Entry {
                    title: "Resume run".into(),
                    detail: format!("go on with {}", row.name),
                    keywords: "scenario orchestrate resume continue",
                    action: Action::Resume {
                        run_id,
                        scenario: row.name.clone(),
                    },
                });
            }
        }
    }
    if let Some(run) = app.workflow_in_view() {
        out.extend(workflow_entries(run));
    }
    out.push(Entry {
        title: "Workflow Runs".into(),
        detail: "runs with step progress".into(),
        keywords: "workflow workflows history steps progress",
        action: Action::WorkflowRuns,
    });
    out.push(Entry {
        title: "Keyboard Help".into(),
        detail: "keys".into(),
        keywords: "help keys keyboard ?",
        action: Action::Help,
    });
    out.push(Entry {
        title: "Quit".into(),
        detail: "leave cortex tui".into(),
        keywords: "quit exit close",
        action: Action::Quit,
    });
    // A log that cannot be written: nothing that records is offered (the status line says
    // why).
    if app.read_only.is_some() {
        out.retain(|e| !e.action.records());
    }
    out
}

/// The stop, resume (in the modes its status suggests: `--retry`, `--skip`, `--from STEP`,
/// `--rollback-to STEP`) and abort of a workflow run: what `workflow status` lists under
/// "Next:" for it (`project::next_actions`, read by `project::run_act`), so that none is
/// offered where the run's state refuses it; an abort wherever the run is not finished, as
/// `workflow abort` takes it then (a running run's too).
fn workflow_entries(run: &Followed) -> Vec<Entry> {
    let view = run.view();
    let name = run.name().to_string();
    let run_id = run.state.run_id.clone();
    let mut out: Vec<Entry> = Vec::new();
    for s in &view.next {
        let Some(act) = crate::project::run_act(&s.argv) else {
            continue;
        };
        let (title, keywords) = match &act {
            RunAct::Stop => ("Stop workflow run".to_string(), "workflow stop pause"),
            RunAct::Abort => (
                "Abort workflow run".to_string(),
                "workflow abort end cancel",
            ),
            RunAct::Resume(ResumeMode::Continue) => (
                "Resume workflow run".to_string(),
                "workflow resume continue",
            ),
            RunAct::Resume(ResumeMode::Retry) => (
                "Retry failed step".to_string(),
                "workflow resume retry again",
            ),
            RunAct::Resume(ResumeMode::Skip) => {
                ("Skip failed step".to_string(), "workflow resume skip")
            }
            RunAct::Resume(ResumeMode::From(step)) => {
                (format!("Resume from {step}"), "workflow resume from again")
            }
            RunAct::Resume(ResumeMode::RollbackTo(step)) => (
                format!("Roll back to {step}"),
                "workflow resume rollback undo",
            ),
        };
        if out.iter().any(|e| e.title == title) {
            continue;
        }
        out.push(Entry {
            title,
            detail: format!("{name}: {}", s.why),
            keywords,
            action: Action::Workflow {
                run_id: run_id.clone(),
                name: name.clone(),
                act,
            },
        });
    }
    if view.resumable && !out.iter().any(|e| e.title == "Abort workflow run") {
        out.push(Entry {
            title: "Abort workflow run".into(),
            detail: format!("{name}: end the run for good"),
            keywords: "workflow abort end cancel",
            action: Action::Workflow {
                run_id,
                name,
                act: RunAct::Abort,
            },
        });
    }
    out
}

/// How well one typed word matches one word: a prefix beats a subsequence; `None` if neither.
fn word_score(term: &str, word: &str) -> Option<u32> {
    if word.starts_with(term) {
        return Some(if word.len() == term.len() { 30 } else { 20 });
    }
    let mut rest = word.chars();
    let mut chars = term.chars();
    let first = chars.next()?;
    if rest.next()? != first {
        return None;
    }
    chars.all(|c| rest.by_ref().any(|w| w == c)).then_some(10)
}

/// The score of an entry for `query`, `None` if some typed word matches nothing.
pub fn score(entry: &Entry, query: &str) -> Option<u32> {
    let title = entry.title.to_lowercase();
    let mut total = 0;
    for term in query.split_whitespace().map(str::to_lowercase) {
        let in_title = title
            .split_whitespace()
            .filter_map(|w| word_score(&term, w))
            .max()
            .map(|s| s * 2);
        let in_keywords = entry
            .keywords
            .split_whitespace()
            .filter_map(|w| word_score(&term, w))
            .max();
        total += in_title.max(in_keywords)?;
    }
    Some(total)
}

/// The entries matching `query`, best first (ties keep their order); all of them for an
/// empty query.
pub fn filter(entries: Vec<Entry>, query: &str) -> Vec<Entry> {
    let mut scored: Vec<(u32, usize, Entry)> = entries
        .into_iter()
        .enumerate()
        .filter_map(|(i, e)| score(&e, query).map(|s| (s, i, e)))
        .collect();
    scored.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    scored.into_iter().map(|(_, _, e)| e).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(title: &str, keywords: &'static str) -> Entry {
        Entry {
            title: title.into(),
            detail: String::new(),
            keywords,
            action: Action::Help,
        }
    }

    fn titles(query: &str) -> Vec<String> {
        let all = vec![
            entry("Scenario List", SCENARIO_WORDS),
            entry("Scenario Run", SCENARIO_WORDS),
            entry("Scenario Status", SCENARIO_WORDS),
            entry("Complete phase backend", PHASE_WORDS),
            entry("Workflow Runs", "workflow workflows history steps progress"),
            entry("Quit", "quit exit close"),
        ];
        filter(all, query).into_iter().map(|e| e.title).collect()
    }

    #[test]
    fn the_seed_words_find_the_three_scenario_entries_first() {
        for query in ["scenario", "orchestrate", "Scenario", "orch"] {
            let t = titles(query);
            assert_eq!(
                t[..3],
                ["Scenario List", "Scenario Run", "Scenario Status"],
                "{query}: {t:?}"
            );
            assert!(!t.contains(&"Quit".to_string()), "{query}: {t:?}");
        }
        assert_eq!(
            titles("status"),
            ["Scenario Status", "Scenario List", "Scenario Run"]
        );
    }

    #[test]
    fn words_match_by_prefix_or_subsequence_from_their_first_letter() {
        for query in ["sc st", "scnr stts", "scenario status"] {
            assert_eq!(
                titles(query),
                ["Scenario Status", "Scenario List", "Scenario Run"],
                "{query}"
            );
        }
        assert_eq!(titles("comp"), ["Complete phase backend"]);
        assert_eq!(titles("wf")[0], "Workflow Runs");
        assert!(
            titles("tatus").is_empty(),
            "a word must match from its start"
        );
        assert!(titles("zzz").is_empty());
        assert_eq!(titles("").len(), 6, "an empty query lists everything");
    }
}
