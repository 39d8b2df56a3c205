//! Which of a run's secret inputs a resume may need: those a unit it may still run, or what
//! the run does at its end, can read. A pure function of the run's state and the resume's mode.

use std::collections::BTreeSet;

use super::preview::{Action, preview_resume};
use crate::decide::RunState;
use crate::definition::template::{Reference, scan};
use crate::definition::{Foreach, IfCondition, Step};
use crate::event::ResumeMode;

/// The secret inputs of the run in `state` that a resume with `mode` may need the values of,
/// the log keeping only `***`: every one, where it may run a command (a `run:` step or
/// phase, an agent, a `uses:` step's gate, a command `if:`, a rollback, a health check not
/// yet passed, a post-validation check — every command cortex
/// runs is given every input as `CORTEX_INPUT_<NAME>`, and which it reads cannot be known
/// from its text); otherwise those the templates it renders name: the `if:` expressions and
/// `foreach:` lists of the units it runs or waits on, a `uses:` step's `with:` and
/// `working_dir`, the run's `notify:` webhooks. A unit that waits for a report needs none of
/// its own: its prompt shows `***`, and its checks run in the process that records the
/// report. Before, a resume asked for every secret input whatever was left, and a scenario
/// whose remaining phases were all people's was refused without them.
pub fn secret_inputs_ahead(state: &RunState, mode: ResumeMode) -> BTreeSet<String> {
    let Some(start) = &state.start else {
        return BTreeSet::new();
    };
    let all: BTreeSet<String> = start.secret_inputs.iter().cloned().collect();
    let Some(workflow) = state.workflow.as_deref() else {
        return all;
    };
    // A mode the run cannot take is refused before any value is used: nothing is asked for
    // it, and what cannot be planned is taken to need everything.
    let Ok(plan) = preview_resume(state, mode, None, &|_| None) else {
        return all;
    };
    let mut named = BTreeSet::new();
    let mut goes_on = false;
    for planned in &plan {
        match planned.action {
            Action::Compensate | Action::Undo => return all,
            Action::Run | Action::Rerun | Action::Wait => {}
            _ => continue,
        }
        goes_on = true;
        let Some(index) = workflow.step_index(&planned.name) else {
            return all;
        };
        let step = &workflow.steps[index];
        let commands = !state.is_external(index)
            && (step.uses.is_none() || step.gate_texts().next().is_some());
        if commands || matches!(step.if_, Some(IfCondition::Command(_))) {
            return all;
        }
        match inputs_named(step) {
            Some(names) => named.extend(names),
            None => return all,
        }
    }
    // A unit that runs may fail, and a failure may roll back what completed: a rollback is a
    // command. So are the health checks of a run not yet past them, and the post-validation
    // a resume may reach.
    let commands = |checks: &[crate::definition::Check]| checks.iter().any(|c| c.run.is_some());
    if goes_on && workflow.steps.iter().any(|s| s.rollback.is_some())
        || !state.pre_validated && commands(&workflow.health)
        || commands(&workflow.post)
    {
        return all;
    }
    let notify = &workflow.notify;
    for n in notify.on_failure.iter().chain(&notify.on_finish) {
        named.extend(n.run.iter().chain(&n.webhook).flat_map(|t| named_in(t)));
    }
    named.retain(|name| all.contains(name));
    named
}

/// The secret inputs a resume with `mode` of the run in `state` is to be given again, in their
/// declared order: those `secret_inputs_ahead` names, but one whose definition's `default:`
/// gave it (`RunStarted::secret_inputs_to_give`), which every process has. What a resume
/// suggestion carries as `--input NAME=VALUE` placeholders: the start banner's "To resume if
/// interrupted", a status's plain resume.
pub fn resume_secret_inputs(state: &RunState, mode: &ResumeMode) -> Vec<String> {
    let to_give = state
        .start
        .as_ref()
        .map_or_else(Vec::new, |s| s.secret_inputs_to_give());
    if to_give.is_empty() {
        return to_give;
    }
    let ahead = secret_inputs_ahead(state, mode.clone());
    to_give.into_iter().filter(|n| ahead.contains(n)).collect()
}

/// The inputs that unit `step`, run by no command, reads in what the driver renders of it:
/// its `if:` expression, its `foreach:` list, a `uses:` step's `with:` and `working_dir`.
/// None where that cannot be told (an `if:` that does not parse: refused when the run started,
/// it is taken to read anything).
fn inputs_named(step: &Step) -> Option<BTreeSet<String>> {
    let mut out = BTreeSet::new();
    if let Some(IfCondition::Expression(text)) = &step.if_ {
        let expr = crate::definition::expr::parse(text).ok()?;
        out.extend(
            crate::definition::expr::references(&expr)
                .into_iter()
                .filter_map(|(r, _)| match r {
                    Reference::Input(name) => Some(name.clone()),
                    _ => None,
                }),
        );
    }
    if let Some(Foreach::Template(text)) = &step.foreach {
        out.extend(named_in(text));
    }
    if step.uses.is_some() {
        for text in step
            .with
            .values()
            .map(|v| v.0.as_str())
            .chain(step.working_dir.as_deref())
        {
            out.extend(named_in(text));
        }
    }
    Some(out)
}

/// The inputs the `${{ }}` templates of `text` name.
fn named_in(text: &str) -> impl Iterator<Item = String> {
    scan(text).into_iter().filter_map(|o| match o.reference {
        Ok(Reference::Input(name)) => Some(name),
        _ => None,
    })
}
