//! Checks of `schedule:` (workflows and scenarios alike): the cron expression reads and
//! matches some time, and the inputs it gives are declared, typed, and enough for a run that
//! nobody is there to give the rest to — secrets excepted, which never belong in a definition.

use std::collections::{BTreeMap, BTreeSet};

use super::inputs::resolve_inputs;
use super::workflow::Checker;
use crate::definition::{InputSpec, Schedule, Seg};
use crate::plan::Cadence;

/// Check `schedule`; `secret` names the inputs whose values are secret.
pub(super) fn check_schedule(
    c: &mut Checker<'_>,
    schedule: &Schedule,
    inputs: &BTreeMap<String, InputSpec>,
    secret: &BTreeSet<String>,
) {
    let at = |key: &str| vec![Seg::Key("schedule".into()), Seg::Key(key.into())];
    if let Err(problem) = Cadence::parse(&schedule.cron) {
        c.hinted(
            &at("cron"),
            problem,
            "five fields in UTC: minute hour day-of-month month day-of-week, e.g. `0 3 * * *` (03:00 every day) or `*/15 * * * MON-FRI`",
        );
    }
    let mut given = Vec::new();
    for (name, value) in &schedule.inputs {
        let path = [at("inputs").as_slice(), &[Seg::Key(name.clone())]].concat();
        if secret.contains(name) {
            c.hinted(
                &path,
                format!("input `{name}` is secret: its value does not belong in a definition"),
                format!(
                    "remove it here and set CORTEX_INPUT_{} in the environment of the scheduler (`cortex schedule run`, `cortex serve`)",
                    name.to_ascii_uppercase()
                ),
            );
            continue;
        }
        given.push((name.clone(), value.0.clone()));
    }
    // A scheduled run has nobody to ask for a required input: the schedule gives it, or its
    // default does; secret ones come from the scheduler's environment at each run.
    for (name, spec) in inputs {
        if spec.required
            && spec.default.is_none()
            && !secret.contains(name)
            && !schedule.inputs.contains_key(name)
        {
            c.hinted(
                &[Seg::Key("schedule".into())],
                format!("input `{name}` is required, and a scheduled run has nobody to ask for it"),
                format!(
                    "give it under `schedule:` as `inputs: {{{name}: VALUE}}` (with `cron:`), or give the input a default"
                ),
            );
        }
    }
    let checked: BTreeMap<String, InputSpec> = inputs
        .iter()
        .map(|(name, spec)| {
            let mut spec = spec.clone();
            spec.required = false;
            (name.clone(), spec)
        })
        .collect();
    if let Err(problems) = resolve_inputs(&checked, &given, &|_| true) {
        for problem in problems {
            let name = problem
                .split('`')
                .nth(1)
                .filter(|n| schedule.inputs.contains_key(*n))
                .map(str::to_string);
            let path = match name {
                Some(n) => [at("inputs").as_slice(), &[Seg::Key(n)]].concat(),
                None => at("inputs"),
            };
            // An input it does not have is its name's mistake: the caret goes under the key.
            if problem.starts_with("unknown input") {
                c.problem_at_key(&path, format!("schedule: {problem}"));
            } else {
                c.problem(&path, format!("schedule: {problem}"));
            }
        }
    }
}
