//! A run's secrets: the values scrubbed from everything recorded or shown, and the values of
//! its secret inputs, which the log holds as `***` and only the driving process knows.
//!
//! What is protected, and what is not, is DESIGN.md §7 ("What redaction protects"): a value is
//! scrubbed where it appears whole, in one line of output or one field of an event.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use crate::decide::RunState;
use crate::definition::template::{Reference, render_value, scan};
use crate::definition::{Step, Workflow};
use crate::event::{Event, RunKind, RunStarted};

pub use crate::event::REDACTED;

/// Shorter values would scrub ordinary text ("1", "on"), and are no secret anyway.
pub const MIN_SECRET_LEN: usize = 4;

/// Whether `value` can be taken for a secret: long enough (`MIN_SECRET_LEN`), and not a word
/// or number that ordinary text is full of. A variable matched by its name alone
/// (`TOKENIZERS_PARALLELISM=false`, `USE_PASSWORD=true`, `TOKEN_TTL=3600`) would otherwise
/// scrub every `false`, `true` or `3600` a step printed or wrote as an output, and the run went
/// on with `***` where a condition read `false` (a step meant to be skipped ran). Nobody's
/// secret is `false`; a short number is a setting, not a credential.
pub fn may_be_secret(value: &str) -> bool {
    const ORDINARY: [&str; 12] = [
        "true", "false", "yes", "no", "on", "off", "null", "none", "enabled", "disabled", "enable",
        "disable",
    ];
    let v = value.trim();
    v.len() >= MIN_SECRET_LEN
        && !ORDINARY.iter().any(|w| v.eq_ignore_ascii_case(w))
        && !(v.len() < 6 && v.bytes().all(|b| b.is_ascii_digit()))
}

/// Does this environment variable (or input, or output key) name look like it holds a
/// secret? SPEC §6's `TOKEN`, `SECRET` and `PASSWORD`, and the other names credentials go by
/// in the wild: `PASSWD`, an API or private key (`OPENAI_API_KEY`, `ANTHROPIC_API_KEY`, which
/// a `runner: claude` step inherits), and a name ending in `_PWD` (`MYSQL_PWD`; not the
/// shell's `PWD`) or `_PAT` (a personal access token: `GITHUB_PAT`). Before, only the first
/// three were matched and these were written to the log as they were. Of the added words, a
/// name that says it holds where a key is or which one (`SSH_PRIVATE_KEY_PATH`,
/// `API_KEY_FILE`, `…_ID`) is no secret: its value is a path or a name, which `validate` would
/// refuse in a definition and redaction would scrub from every line.
pub fn is_secret_name(name: &str) -> bool {
    let upper = name.to_ascii_uppercase().replace('-', "_");
    if ["TOKEN", "SECRET", "PASSWORD"]
        .iter()
        .any(|w| upper.contains(w))
    {
        return true;
    }
    let pointer = ["_PATH", "_FILE", "_DIR", "_ID", "_NAME", "_URL"]
        .iter()
        .any(|end| upper.ends_with(end));
    !pointer
        && (["PASSWD", "API_KEY", "APIKEY", "PRIVATE_KEY"]
            .iter()
            .any(|w| upper.contains(w))
            || upper.ends_with("_PWD")
            || upper.ends_with("_PAT"))
}

/// Does `name` say where a secret is kept rather than hold one (`POSTGRES_PASSWORD_FILE`,
/// Docker's secrets convention; `GITHUB_TOKEN_PATH`, `SECRETS_DIR`)? Its value is a path:
/// `validate` does not refuse it written out (in `env:` or a command), which broke real
/// definitions (`POSTGRES_PASSWORD_FILE=/run/secrets/db`). It is still redacted by its name
/// (SPEC §6), which costs only a path in the output.
pub fn names_where_a_secret_is(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    ["_FILE", "_PATH", "_DIR"]
        .iter()
        .any(|end| upper.ends_with(end))
}

/// Is `name` a secret entry of `step`'s `env:` (a secret-looking name, or listed in its
/// `secret_env`)?
pub fn is_secret_env(step: &Step, name: &str) -> bool {
    is_secret_name(name) || step.secret_env.iter().any(|s| s == name)
}

/// The environment variables `workflow`'s `notify:` webhooks take a credential from
/// (`definition::webhook_credential_vars`: each that supplies some of what the URL's mask
/// hides — the whole URL, its userinfo, any part of its path, a token-like query parameter):
/// their values are secrets of the run, as a `secret_env` variable's are. Before, only the
/// webhook's shown URL hid them; a step printing the same value, or writing it as an output,
/// put it in clear in the log, status, results.json, checkpoints and attempt logs.
pub fn webhook_credential_env(workflow: &Workflow) -> Vec<String> {
    let notify = &workflow.notify;
    notify
        .on_failure
        .iter()
        .chain(&notify.on_finish)
        .filter_map(|n| n.webhook.as_deref())
        .flat_map(crate::definition::webhook_credential_vars)
        .map(str::to_string)
        .collect()
}

/// The inputs of `workflow` whose values are secret: those whose names look secret, those
/// that feed a secret `env:` entry through a template (`API_TOKEN: "${{ inputs.tok }}"`), and
/// those a `notify:` webhook is made of (a Slack-style URL is its own secret).
pub fn secret_inputs(workflow: &Workflow) -> BTreeSet<String> {
    let mut secret: BTreeSet<String> = workflow
        .inputs
        .keys()
        .filter(|name| is_secret_name(name))
        .cloned()
        .collect();
    let notify = &workflow.notify;
    for n in notify.on_failure.iter().chain(&notify.on_finish) {
        let parts = n.webhook.as_deref().map(crate::definition::webhook_parts);
        for part in parts.and_then(Result::ok).unwrap_or_default() {
            if let crate::definition::WebhookPart::Input(input) = part {
                secret.insert(input);
            }
        }
    }
    for step in &workflow.steps {
        for (name, value) in &step.env {
            if !is_secret_env(step, name) {
                continue;
            }
            for occurrence in scan(&value.0) {
                if let Ok(Reference::Input(input)) = occurrence.reference {
                    secret.insert(input);
                }
            }
        }
    }
    secret
}

/// The `foreach:` lists that read an output of a step (or phase) given a secret input in its
/// definition (a template `${{ inputs.NAME }}` in its `run:`, `env:`, `with:` or
/// `working_dir`, or `CORTEX_INPUT_<NAME>` in its `run:`), each a warning located in `text`
/// (`FILE:LINE:COLUMN`) where the `foreach:` is. Such an output holding the secret is recorded
/// as `***` and the `foreach:` is refused every time the run reaches it (its items would be
/// recorded in clear); whether it holds it is known only at run time, so this is a warning,
/// where a list read from a secret input or a secret output itself is an error (`validate`).
/// `top`: `steps` or `phases`, where the units are in the file.
pub fn foreach_from_secret_fed(
    workflow: &Workflow,
    file: &str,
    text: &str,
    top: &str,
) -> Vec<String> {
    let secret = secret_inputs(workflow);
    if secret.is_empty() {
        return Vec::new();
    }
    let unit = if top == "phases" { "phase" } else { "step" };
    // The secret input a step is given, if any.
    let fed = |step: &Step| -> Option<String> {
        let by_template = step
            .run_texts()
            .flat_map(scan)
            .find_map(|o| match o.reference {
                Ok(Reference::Input(n)) if secret.contains(&n) => Some(n),
                _ => None,
            });
        by_template.or_else(|| {
            let run = step.run.as_deref()?;
            secret
                .iter()
                .find(|n| run.contains(&input_env_name(n)))
                .cloned()
        })
    };
    let mut out = Vec::new();
    for (i, step) in workflow.steps.iter().enumerate() {
        let Some(crate::definition::Foreach::Template(list)) = &step.foreach else {
            continue;
        };
        for o in scan(list) {
            let Ok(Reference::StepOutput { step: of, key }) = &o.reference else {
                continue;
            };
            let of = step_of_unit(workflow, of);
            // A secret output itself is refused by `validate` already.
            if is_secret_output(workflow, of, key) {
                continue;
            }
            let Some(input) = workflow
                .step_index(of)
                .and_then(|p| fed(&workflow.steps[p]))
            else {
                continue;
            };
            let path = [top.into(), i.into(), "foreach".into()];
            let at = crate::definition::locate(text, &path)
                .map(|l| format!("{file}:{}:{}", l.line, l.column))
                .unwrap_or_else(|| file.to_string());
            let of = crate::definition::shown(of);
            out.push(format!(
                "{at}: the `foreach:` of {unit} `{}` reads `{}`, an output of {unit} `{of}`, which is given the secret input `{input}`: if that output holds the secret it is recorded as `***`, and the `foreach:` is refused every time the run reaches it (its items are recorded in the log one by one; running `{of}` again would not help) — keep the secret out of the list `{of}` writes, and give it to each item's command through `env:`",
                crate::definition::shown(&step.name),
                crate::definition::shown_text(&list[o.start..o.end]),
            ));
            break;
        }
    }
    out
}

/// The outputs of `workflow` whose values are secret, by step (or phase) and key, beside those
/// whose keys look secret (`is_secret_output`): those that feed a secret `env:` entry of any
/// step through a template (`GH_TOKEN: "${{ steps.login.outputs.tok }}"`), as an input is
/// secret by the same rule (`secret_inputs`). A reference to one item of a `foreach:` step
/// (`steps.build[2].outputs.tok`) makes that key secret for the whole step, its items and its
/// lists alike.
pub fn secret_outputs(workflow: &Workflow) -> BTreeSet<(String, String)> {
    let mut secret = BTreeSet::new();
    for step in &workflow.steps {
        for (name, value) in &step.env {
            if !is_secret_env(step, name) {
                continue;
            }
            for occurrence in scan(&value.0) {
                if let Ok(Reference::StepOutput { step: of, key }) = occurrence.reference {
                    secret.insert((step_of_unit(workflow, &of).to_string(), key));
                }
            }
        }
    }
    secret
}

/// Why `workflow` cannot complete when driven from the command line: an engine-run step reads
/// a secret output (`is_secret_output`) that an earlier step records with a step waiting for
/// a report between them. A secret output is held only by the process that records it (the
/// log keeps `***`), and a report is recorded by another process, which never holds it: the
/// step reading it fails every time (`unheld_secret_output_error`), unless one long-lived
/// process (`cortex mcp`, `cortex serve`) records both. One warning per reading step; `agents`
/// tells which agent steps the engine runs.
/// `validate`'s warnings on settings of a step people or agents report on (no `run:`, no
/// `uses:`, no agent with a command) that do nothing there: a report is a fact, never retried,
/// so its `retry:` never applies; its `timeout:` bounds only its `validate: - run:` checks (run
/// by the report), so with none it bounds nothing. Before, both passed silently.
pub fn inert_settings_on_reported_steps(
    workflow: &Workflow,
    agents: &crate::definition::ResolvedAgents,
) -> Vec<String> {
    let mut warnings = Vec::new();
    for step in &workflow.steps {
        let reported = step.run.is_none()
            && step.uses.is_none()
            && !step.agent.as_deref().is_some_and(|a| agents.is_run(a));
        if !reported {
            continue;
        }
        if step.retry.is_some() {
            warnings.push(format!(
                "step `{}`: `retry:` never applies to a step that is reported on (a report is a fact, not retried); a failure report goes to its `on_failure:`, and `resume --retry` asks for a new report",
                step.name
            ));
        }
        if step.timeout.is_some() && !step.validate.iter().any(|c| c.run.is_some()) {
            warnings.push(format!(
                "step `{}`: `timeout:` bounds only the `validate: - run:` checks a report runs, and it has none: nothing is timed",
                step.name
            ));
        }
    }
    warnings
}

///
/// A scenario's phases are checked the same way (`scenario`: the scenario `workflow` is read
/// from, `Scenario::as_workflow`): a phase reads a secret output of a phase it runs after with
/// a phase waiting for a report on the way (`units_between`). Before, only workflows were, and
/// such a scenario was valid until its run failed past the report.
pub fn secret_outputs_across_waits(
    workflow: &Workflow,
    scenario: Option<&crate::definition::Scenario>,
    agents: &crate::definition::ResolvedAgents,
    uses: &BTreeMap<String, crate::event::UsedWorkflow>,
) -> Vec<String> {
    let (unit, units) = if scenario.is_some() {
        ("phase", "phases")
    } else {
        ("step", "steps")
    };
    let waits = |step: &Step| {
        step.run.is_none()
            && step.uses.is_none()
            && !step.agent.as_deref().is_some_and(|a| agents.is_run(a))
    };
    let mut warnings = Vec::new();
    for (c, step) in workflow.steps.iter().enumerate() {
        if waits(step) {
            continue;
        }
        // Every place the step reads a value: what it runs, its `if:` (an expression or a
        // command), its `validate: - run:` gates. Before, only what it runs was read here,
        // and an `if:` or a gate reading a secret output across a wait passed silently.
        let reads = step.output_reads();
        let crossing = reads.iter().cloned().find_map(|(of, key)| {
            if !is_secret_output(workflow, &of, &key) {
                return None;
            }
            let p = workflow.step_index(step_of_unit(workflow, &of))?;
            // A step reading its own outputs (a rollback, a gate) crosses no wait.
            let between: Vec<&Step> = units_between(workflow, scenario, p, c)
                .into_iter()
                .map(|j| &workflow.steps[j])
                .filter(|w| waits(w))
                .collect();
            let first = between.first()?;
            // A wait between that always happens makes it certain; else each may be passed
            // by (an `if:`, a `foreach:` list read at run time), and it fails when one waits.
            let waits_here = if between.iter().any(|w| wait_condition(w).is_none()) {
                format!("`{}` waits for a report between them", first.name)
            } else {
                format!(
                    "{} may wait for a report between them ({})",
                    between
                        .iter()
                        .map(|w| format!("`{}`", w.name))
                        .collect::<Vec<_>>()
                        .join(" or "),
                    between
                        .iter()
                        .filter_map(|w| wait_condition(w))
                        .collect::<Vec<_>>()
                        .join("; ")
                )
            };
            let when = (!between.iter().any(|w| wait_condition(w).is_none())).then(|| {
                format!(
                    "whenever {} waits",
                    if between.len() == 1 { "it" } else { "one" }
                )
            });
            Some((of, key, waits_here, when))
        });
        if let Some((of, key, waits_here, when)) = crossing {
            let fails = fails_when(step, &of, &key, when);
            warnings.push(format!(
                "{unit} `{}` reads the secret output `{units}.{of}.outputs.{key}`, and {waits_here}: a secret output is held only by the process that records it (the log keeps `***`) and a report is recorded by another process, so from the command line `{}` fails {fails} (only one long-lived `cortex mcp` or `cortex serve` session recording both keeps it); give the secret as a secret input (`--input`) or in the environment instead",
                step.name, step.name
            ));
            continue;
        }
        // The same through a `uses:` step whose child waits for a report before it ends: an
        // output of the child that is secret (by its key or its use there), or that a step of
        // the child writes from a secret it is given, is brought back by the process that
        // carries the child on after the report, which does not hold it.
        let through_child = reads.iter().cloned().find_map(|(of, key)| {
            let p = workflow.step_index(step_of_unit(workflow, &of))?;
            let used = workflow.steps[p].uses.as_deref()?;
            let child = used_workflow(uses, used)?;
            let wait = waits_within(uses, used, agents, &mut BTreeSet::new())?;
            let secret_there = child
                .steps
                .iter()
                .any(|s| is_secret_output(&child, &s.name, &key));
            let from = if secret_there {
                None
            } else {
                // Only a step that passes a secret on to its outputs can make one of them
                // `***` (a redacted value): an output is kept as `***` only when it holds a
                // secret's value. Before, any secret given with `with:` made every output of
                // the child "fail every time", though a child that uses the secret as a
                // credential (a secret `env:` entry) and reports `version=1.2.3` never gives
                // a redacted one back, and the run completes.
                let given = given_secrets(workflow, &workflow.steps[p], &child);
                let name = uses.get(used).map_or(used, |u| u.name.as_str());
                Some(writes_from_secret((name, &child), &given, uses, agents)?)
            };
            Some((of, key, wait, from))
        });
        if let Some((of, key, wait, from)) = through_child {
            let what = match &from {
                None => format!("the secret output `steps.{of}.outputs.{key}`"),
                Some((writer, secret)) => format!(
                    "`steps.{of}.outputs.{key}` of a child run whose step `{writer}` writes outputs from {secret} (an output holding it is kept as `***`)"
                ),
            };
            let mut when = (!wait.certain).then(|| "whenever it waits".to_string());
            if from.is_some() {
                when = Some(match when {
                    Some(w) => format!("{w} and that output holds the secret"),
                    None => "whenever that output holds the secret".into(),
                });
            }
            let waits_there = if wait.certain {
                format!(
                    "its child run waits for a report (`{}`) before it ends",
                    wait.at
                )
            } else {
                format!(
                    "its child run may wait for a report (`{}`: {}) before it ends",
                    wait.at, wait.decided_by
                )
            };
            let fails = fails_when(step, &of, &key, when);
            let instead = match &from {
                None => {
                    "give the secret as a secret input (`--input`) or in the environment instead"
                }
                // It is given as one already: what the child writes is the trouble.
                Some(_) => {
                    "keep the secret out of the child's outputs (a secret `env:` entry gives it to a command as a credential)"
                }
            };
            warnings.push(format!(
                "step `{}` reads {what}, and {waits_there}: a secret output is held only by the process that records it (the log keeps `***`) and the report is recorded by another process, so from the command line `{}` fails {fails} (only one long-lived `cortex mcp` or `cortex serve` session recording both keeps it); {instead}",
                step.name, step.name
            ));
        }
    }
    warnings
}

/// The units of `workflow` that run after unit `p` and before unit `c`, when `c` reads what
/// `p` records: in a workflow, the steps between the two; in a scenario (`scenario`), the
/// phases that run after `p` and before `c` by their `after:` conditions (transitively): a
/// phase beside the two, on no way from one to the other, does not stand between them. None
/// when `c` does not run after `p` (a unit reading its own outputs: a rollback, a gate).
pub fn units_between(
    workflow: &Workflow,
    scenario: Option<&crate::definition::Scenario>,
    p: usize,
    c: usize,
) -> Vec<usize> {
    let Some(scenario) = scenario else {
        return if p < c && c <= workflow.steps.len() {
            (p + 1..c).collect()
        } else {
            Vec::new()
        };
    };
    let deps = crate::plan::dependencies(scenario);
    // Every phase `i` runs after (directly or not), by `after:`.
    let upstream = |i: usize| -> BTreeSet<usize> {
        let mut seen = BTreeSet::new();
        let mut stack: Vec<usize> = deps.get(i).cloned().unwrap_or_default();
        while let Some(j) = stack.pop() {
            if j < deps.len() && seen.insert(j) {
                stack.extend(deps[j].iter().copied());
            }
        }
        seen
    };
    let before_c = upstream(c);
    if !before_c.contains(&p) {
        return Vec::new();
    }
    before_c
        .into_iter()
        .filter(|&j| j != p && upstream(j).contains(&p))
        .collect()
}

/// The first unit of the run in `state` waiting for a report between unit `from` (which
/// records an output) and unit `until` (which reads it; `state.steps.len()`: after the
/// steps), by index into `state.steps`: in a workflow any step between the two, in a scenario
/// a phase on the way from one to the other by `after:` (`units_between`).
pub fn wait_between(state: &RunState, from: usize, until: usize) -> Option<usize> {
    let (Some(sc), Some(wf)) = (state.scenario.as_deref(), state.workflow.as_deref()) else {
        return (from + 1..until.min(state.steps.len())).find(|&j| state.is_external(j));
    };
    let phase = |i: usize| state.steps.get(i).and_then(|s| sc.phase_index(&s.name));
    let (Some(p), Some(c)) = (phase(from), phase(until)) else {
        // After the phases (a success criterion): every phase after `from` is before it.
        return (from + 1..until.min(state.steps.len())).find(|&j| state.is_external(j));
    };
    units_between(wf, Some(sc), p, c)
        .into_iter()
        .filter_map(|j| state.step_index(&sc.phases[j].name))
        .find(|&j| state.is_external(j))
}

/// "every time", or when: `when` (what decides at run time that the reading step meets a
/// value it cannot have), and the reading step's own `if:` when it may skip the step without
/// reading the output (one that reads it fails as the step would).
fn fails_when(step: &Step, of: &str, key: &str, when: Option<String>) -> String {
    let skipped = match &step.if_ {
        Some(crate::definition::IfCondition::Expression(text)) => {
            !crate::definition::expr::parse(text).is_ok_and(|e| {
                crate::definition::expr::references(&e).iter().any(|(r, _)| {
                    matches!(r, Reference::StepOutput { step: s, key: k } if s == of && k == key)
                })
            })
        }
        Some(crate::definition::IfCondition::Command(c)) => !scan(&c.run).iter().any(|o| {
            matches!(&o.reference, Ok(Reference::StepOutput { step: s, key: k }) if s == of && k == key)
        }),
        None => false,
    };
    match (when, skipped) {
        (None, false) => "every time".into(),
        (None, true) => "whenever its `if:` lets it run".into(),
        (Some(w), false) => w,
        (Some(w), true) => format!("{w} and its `if:` lets it run"),
    }
}

/// What decides at run time whether `step` (one people or agents report on) waits when the
/// run reaches it: its `if:` (which may skip it), or its `foreach:` list read then (an empty
/// one runs nothing). None: it always waits.
fn wait_condition(step: &Step) -> Option<String> {
    if let Some(c) = &step.if_ {
        return Some(format!("`{}`'s `if: {}` decides", step.name, c.text()));
    }
    match &step.foreach {
        Some(crate::definition::Foreach::Template(t)) => Some(format!(
            "`{}`'s `foreach: {t}` list may be empty",
            step.name
        )),
        Some(crate::definition::Foreach::Items(items)) if items.is_empty() => {
            Some(format!("`{}`'s `foreach:` list is empty", step.name))
        }
        _ => None,
    }
}

/// The inputs of `child` that hold a secret when `step` (a `uses:` step of `workflow`) runs
/// it: those its `with:` gives a secret of the parent (a secret input, a secret output), and
/// the child's own secret inputs (secret by their name or their use, whatever gives them:
/// `with:`, the environment, a default), each with what makes it secret.
fn given_secrets(workflow: &Workflow, step: &Step, child: &Workflow) -> BTreeMap<String, String> {
    let parent_secrets = secret_inputs(workflow);
    let mut given = BTreeMap::new();
    for (input, value) in &step.with {
        let secret = scan(&value.0).into_iter().find_map(|o| match o.reference {
            Ok(Reference::Input(n)) if parent_secrets.contains(&n) => {
                Some(format!("the secret input `inputs.{n}`"))
            }
            Ok(Reference::StepOutput { step, key }) if is_secret_output(workflow, &step, &key) => {
                Some(format!("the secret output `steps.{step}.outputs.{key}`"))
            }
            _ => None,
        });
        if let Some(secret) = secret {
            given.insert(input.clone(), format!("{secret} it is given with `with:`"));
        }
    }
    for input in secret_inputs(child) {
        given
            .entry(input.clone())
            .or_insert_with(|| format!("its secret input `{input}`"));
    }
    given
}

/// The first step of `child` (as `WORKFLOW/STEP`) that may write an output from a secret in
/// `given` (its inputs that hold one), with what that secret is: a step whose command, plain
/// `env:` entries or `with:` (a child of its own) read such an input, or an output of an
/// earlier step that does (any of its outputs may hold the secret: a command writes whatever
/// keys it writes). A secret `env:` entry (by its name or `secret_env`) hands the command a
/// credential, scrubbed from all it prints, not a value validate sees it pass on; `if:`,
/// `validate:` and `rollback` write no outputs. Only steps before the child's last wait for a
/// report count: an output recorded after it is recorded, and held, by the process that
/// brings it back.
fn writes_from_secret(
    (name, child): (&str, &Workflow),
    given: &BTreeMap<String, String>,
    uses: &BTreeMap<String, crate::event::UsedWorkflow>,
    agents: &crate::definition::ResolvedAgents,
) -> Option<(String, String)> {
    if given.is_empty() {
        return None;
    }
    let reported = |s: &Step| {
        s.run.is_none() && s.uses.is_none() && !s.agent.as_deref().is_some_and(|a| agents.is_run(a))
    };
    let last_wait = child.steps.iter().rposition(|s| {
        reported(s)
            || s.uses
                .as_deref()
                .is_some_and(|u| waits_within(uses, u, agents, &mut BTreeSet::new()).is_some())
    })?;
    // Steps that may write a secret into their outputs, with the secret.
    let mut tainted: BTreeMap<&str, String> = BTreeMap::new();
    for s in &child.steps[..last_wait] {
        let texts = s
            .run
            .iter()
            .map(String::as_str)
            .chain(
                s.env
                    .iter()
                    .filter(|(k, _)| !is_secret_env(s, k))
                    .map(|(_, v)| v.0.as_str()),
            )
            .chain(s.with.values().map(|v| v.0.as_str()));
        let secret = texts.flat_map(scan).find_map(|o| match o.reference {
            Ok(Reference::Input(n)) => given.get(&n).cloned(),
            Ok(Reference::StepOutput { step, .. }) => {
                tainted.get(step_of_unit(child, &step)).cloned()
            }
            _ => None,
        });
        if let Some(secret) = secret {
            if !reported(s) {
                return Some((format!("{name}/{}", s.name), secret));
            }
            tainted.insert(s.name.as_str(), secret);
        }
    }
    None
}

/// A wait for a report within a child: where (`WORKFLOW/STEP`), whether it always waits when
/// the child reaches it, and if not, what decides it.
struct ChildWait {
    at: String,
    certain: bool,
    decided_by: String,
}

/// The definition `uses:` text `used` names in a load's (or run's) snapshot of its graph.
fn used_workflow(
    uses: &BTreeMap<String, crate::event::UsedWorkflow>,
    used: &str,
) -> Option<Workflow> {
    serde_json::from_value(uses.get(used)?.definition.clone()).ok()
}

/// The first step waiting for a report in the workflow `used` names, or in those its own
/// `uses:` steps run, as `WORKFLOW/STEP` (`RunState::waits_within`, before a run); `certain`
/// when one of its waits always happens once the child runs (no `if:` that may skip it, no
/// `foreach:` list that may be empty), else what decides the first one.
fn waits_within(
    uses: &BTreeMap<String, crate::event::UsedWorkflow>,
    used: &str,
    agents: &crate::definition::ResolvedAgents,
    seen: &mut BTreeSet<String>,
) -> Option<ChildWait> {
    if !seen.insert(used.to_string()) {
        return None;
    }
    let child = used_workflow(uses, used)?;
    let name = &uses.get(used)?.name;
    let mut first: Option<ChildWait> = None;
    for s in &child.steps {
        let wait = match &s.uses {
            Some(inner) => {
                waits_within(uses, inner, agents, seen).map(|w| match wait_condition(s) {
                    Some(decided_by) => ChildWait {
                        certain: false,
                        decided_by,
                        ..w
                    },
                    None => w,
                })
            }
            None => (s.run.is_none() && !s.agent.as_deref().is_some_and(|a| agents.is_run(a)))
                .then(|| {
                    let decided_by = wait_condition(s);
                    ChildWait {
                        at: format!("{name}/{}", s.name),
                        certain: decided_by.is_none(),
                        decided_by: decided_by.unwrap_or_default(),
                    }
                }),
        };
        let Some(wait) = wait else { continue };
        match &mut first {
            None => first = Some(wait),
            Some(f) => f.certain |= wait.certain,
        }
        if first.as_ref().is_some_and(|f| f.certain) {
            break;
        }
    }
    first
}

/// The step a unit name of `workflow` belongs to: `build` for `build[2]` (an item of the
/// `foreach:` step `build`), the name itself otherwise.
fn step_of_unit<'n>(workflow: &Workflow, unit: &'n str) -> &'n str {
    unit.strip_suffix(']')
        .and_then(|rest| rest.rsplit_once('['))
        .filter(|(step, index)| {
            !index.is_empty()
                && index.bytes().all(|b| b.is_ascii_digit())
                && workflow.steps.iter().any(|s| s.name == *step)
        })
        .map_or(unit, |(step, _)| step)
}

/// Whether output `key` of step (or phase) `step` of `workflow` is secret: its key looks
/// secret (`api_token`, `password`), or it feeds a secret `env:` entry (`secret_outputs`).
/// `step` may be a unit of a `foreach:` step (`build[2]`).
pub fn is_secret_output(workflow: &Workflow, step: &str, key: &str) -> bool {
    SecretOutputs::of(Some(workflow)).contains(step, key)
}

/// The secret `env:` feeds of the workflow asked of last (`secret_outputs`), with a weak hold
/// on it. Every attempt's redactor and every output recorded asked for them, each time a walk
/// of every step's `env:`: a chain of N steps cost N² here (28k instructions and a cache miss
/// per step at each step of 1,000). The weak hold keeps the workflow's address from being
/// reused while it is here, and a workflow changed where it is (`Arc::make_mut`, when a
/// `foreach:` step's items are added or removed) is moved away from its weak holders: found
/// at the same address and still held, it is the same workflow, unchanged.
type Feeds = (std::sync::Weak<Workflow>, Arc<BTreeSet<(String, String)>>);
static LAST_FEEDS: std::sync::Mutex<Option<Feeds>> = std::sync::Mutex::new(None);

/// `secret_outputs` of a run's workflow, found once for as long as the run's state holds it.
fn run_feeds(workflow: &Arc<Workflow>) -> Arc<BTreeSet<(String, String)>> {
    let mut last = LAST_FEEDS.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((held, fed)) = last.as_ref()
        && held.upgrade().is_some_and(|w| Arc::ptr_eq(&w, workflow))
    {
        return fed.clone();
    }
    let fed = Arc::new(secret_outputs(workflow));
    *last = Some((Arc::downgrade(workflow), fed.clone()));
    fed
}

/// Whether output `key` of unit `step` of the run in `state` is secret (`is_secret_output`
/// over its definition; by its key alone when it has none).
pub fn is_secret_output_of(state: &RunState, step: &str, key: &str) -> bool {
    SecretOutputs::of_run(state).contains(step, key)
}

/// The judge of `is_secret_output` for one definition, its secret `env:` feeds found once:
/// what asks of many outputs (every output of every unit, for each attempt's redactor) makes
/// one. Asked per output, the feeds were found again each time, each a walk of the whole
/// definition — and a `foreach:` step's N items are N units and N steps of it.
struct SecretOutputs<'w> {
    workflow: Option<&'w Workflow>,
    fed: Arc<BTreeSet<(String, String)>>,
}

impl<'w> SecretOutputs<'w> {
    fn of(workflow: Option<&'w Workflow>) -> Self {
        SecretOutputs {
            workflow,
            fed: Arc::new(workflow.map(secret_outputs).unwrap_or_default()),
        }
    }

    /// The judge of the run in `state`, its feeds found once per run (`run_feeds`).
    fn of_run(state: &'w RunState) -> Self {
        SecretOutputs {
            workflow: state.workflow.as_deref(),
            fed: state.workflow.as_ref().map_or_else(Arc::default, run_feeds),
        }
    }

    /// Whether output `key` of unit `unit` is secret: its key looks secret, or it feeds a
    /// secret `env:` entry (the unit's `foreach:` step's, for an item).
    fn contains(&self, unit: &str, key: &str) -> bool {
        is_secret_name(key) || self.feeds_env(unit, key)
    }

    /// Whether output `key` of unit `unit` feeds a secret `env:` entry.
    fn feeds_env(&self, unit: &str, key: &str) -> bool {
        self.fed.iter().any(|(_, k)| k == key)
            && self.workflow.is_some_and(|wf| {
                let step = step_of_unit(wf, unit);
                self.fed.iter().any(|(s, k)| s == step && k == key)
            })
    }
}

/// The values of secret outputs this process recorded, by run, then by unit and key: the log
/// holds `***` for them (`Journal::redact`), and a later step of the run, driven by this
/// process, is given the value (`runner::resolver`). Memory only: never written anywhere.
type HeldOutputs = BTreeMap<String, BTreeMap<(String, String), String>>;
static HELD_OUTPUTS: std::sync::Mutex<HeldOutputs> = std::sync::Mutex::new(BTreeMap::new());

/// Remember the value of secret output `key` of unit `step` of run `run_id` for as long as
/// this process lives (the log keeps `***`).
pub fn hold_secret_output(run_id: &str, step: &str, key: &str, value: &str) {
    let mut held = HELD_OUTPUTS.lock().unwrap_or_else(|e| e.into_inner());
    held.entry(run_id.to_string())
        .or_default()
        .insert((step.to_string(), key.to_string()), value.to_string());
}

/// The value of secret output `key` of unit `step` of run `run_id`, if this process recorded
/// it (`hold_secret_output`).
pub fn held_secret_output(run_id: &str, step: &str, key: &str) -> Option<String> {
    let held = HELD_OUTPUTS.lock().unwrap_or_else(|e| e.into_inner());
    held.get(run_id)?
        .get(&(step.to_string(), key.to_string()))
        .cloned()
}

/// The variable through which a process hands the secret outputs it holds for a run to a
/// driver it starts for that run (`cortex serve`, after a report it recorded): JSON, read by
/// the driver's journals of that run (`Redactor::of_run`), never given to a step, check or
/// agent (`process` removes it).
pub const SECRET_OUTPUTS_ENV: &str = "CORTEX_SECRET_OUTPUTS";

#[derive(serde::Serialize, serde::Deserialize)]
struct HandedOutputs {
    run: String,
    /// Unit, key and value of each.
    outputs: Vec<(String, String, String)>,
}

/// The environment that hands run `run_id`'s secret outputs this process holds to a driver it
/// starts (`SECRET_OUTPUTS_ENV`); nothing when it holds none.
pub fn secret_outputs_env(run_id: &str) -> Vec<(String, String)> {
    let held = HELD_OUTPUTS.lock().unwrap_or_else(|e| e.into_inner());
    let Some(of_run) = held.get(run_id).filter(|o| !o.is_empty()) else {
        return Vec::new();
    };
    let handed = HandedOutputs {
        run: run_id.to_string(),
        outputs: of_run
            .iter()
            .map(|((step, key), value)| (step.clone(), key.clone(), value.clone()))
            .collect(),
    };
    serde_json::to_string(&handed)
        .map(|json| vec![(SECRET_OUTPUTS_ENV.to_string(), json)])
        .unwrap_or_default()
}

/// Hold the secret outputs of run `run_id` that this process was handed in its environment
/// (`secret_outputs_env`), those it does not hold already.
fn adopt_handed_outputs(run_id: &str) {
    let Some(handed) = std::env::var_os(SECRET_OUTPUTS_ENV)
        .and_then(|v| v.into_string().ok())
        .and_then(|json| serde_json::from_str::<HandedOutputs>(&json).ok())
        .filter(|h| h.run == run_id)
    else {
        return;
    };
    for (step, key, value) in handed.outputs {
        if held_secret_output(run_id, &step, &key).is_none() {
            hold_secret_output(run_id, &step, &key, &value);
        }
    }
}

/// Every value of run `run_id`'s secret outputs this process holds.
fn held_secret_output_values(run_id: &str) -> Vec<String> {
    let held = HELD_OUTPUTS.lock().unwrap_or_else(|e| e.into_inner());
    held.get(run_id)
        .map(|of_run| of_run.values().cloned().collect())
        .unwrap_or_default()
}

/// Scrub with `redactor` every secret value this process holds for any run: the secret inputs
/// it was given (`hold_secret_inputs`) and the secret outputs it recorded. What a process that
/// serves many runs logs (`cortex mcp`'s stderr) is scrubbed of them all.
pub fn add_everything_held(redactor: &mut Redactor) {
    let values: Vec<String> = HELD
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .values()
        .flat_map(|h| h.values.iter().cloned())
        .collect();
    for value in values {
        redactor.add(&value);
    }
    let outputs: Vec<String> = HELD_OUTPUTS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .values()
        .flat_map(|of_run| of_run.values().cloned())
        .collect();
    for value in outputs {
        redactor.add_output(&value);
    }
}

/// Scrub with `redactor` the values of run `run_id`'s secret outputs this process holds.
pub(crate) fn add_held_outputs(redactor: &mut Redactor, run_id: &str) {
    for value in held_secret_output_values(run_id) {
        redactor.add_output(&value);
    }
}

/// Scrub with `redactor` the values of secret outputs that `state` holds in clear: those of
/// an attempt or a report seen by its `validate:` checks before they are recorded (the
/// journal keeps `***` for them once they are, and holds them: `add_held_outputs`).
pub(crate) fn add_state_outputs(redactor: &mut Redactor, state: &RunState) {
    // One judge for every output of every unit (`SecretOutputs`), and each key's name
    // judged once (a `foreach:` step's items share their keys): a 1,000-item step took
    // 3.4G instructions here where the rest of the run took 0.4G.
    let judge = SecretOutputs::of_run(state);
    let mut by_name: std::collections::HashMap<&str, bool> = std::collections::HashMap::new();
    for unit in state.units_with_outputs() {
        for (key, value) in &unit.outputs {
            if value == REDACTED {
                continue;
            }
            let secret = *by_name
                .entry(key.as_str())
                .or_insert_with(|| is_secret_name(key))
                || judge.feeds_env(&unit.name, key);
            if secret {
                redactor.add_output(value);
            }
        }
    }
}

/// Whether `r` is a secret output of the run in `state` that the log keeps as `***` and this
/// process does not hold (it was recorded by another process): what needs it cannot run.
pub fn unheld_secret_output(state: &RunState, r: &Reference) -> bool {
    let Reference::StepOutput { step, key } = r else {
        return false;
    };
    // Recorded as `***`, it is secret whatever its key (`Journal::hold_secret_output`: a
    // value holding a secret, a child's secret output brought back): never passed on as the
    // text `***`.
    state
        .step(step)
        .and_then(|s| s.outputs.get(key))
        .is_some_and(|v| v == REDACTED)
        && held_secret_output(&state.run_id, step, key).is_none()
}

/// Of a paused or interrupted workflow run that is gone on with (a `uses:` step's child run,
/// retried or resumed with its parent's step), the step to run again first so that this
/// process holds every secret output the steps left to run read (`unheld_secret_output`):
/// the earliest step that records one, and whether a step waiting for a report stands
/// between it and a step reading it (then running it again waits, and the process that
/// carries the run on past the report will not hold it either: no resume gives it). A
/// `uses:` step whose child has begun is not counted: its `with:` is not rendered again, and
/// its child is gone on with by this same rule. `wanted`: the outputs of the run that its
/// parent's steps left to run read (the keys of the `uses:` step it runs for): a step that
/// recorded one as `***` counts too, as its parent would be given `***` it cannot use. None
/// when nothing left reads one.
/// Its parent's resume cannot be given the child's `--from`: without this, a parent's
/// `--retry` after a driver died inside its child failed the same way every time.
pub fn rerun_for_unheld(state: &RunState, wanted: &[String]) -> Option<(String, bool)> {
    let mut found: Option<(usize, bool)> = None;
    let count = |found: &mut Option<(usize, bool)>, p: usize, crossing: bool| {
        *found = match *found {
            Some((_, true)) => *found,
            _ if crossing => Some((p, true)),
            Some((q, false)) if q <= p => *found,
            _ => Some((p, false)),
        };
    };
    for (p, unit) in state.steps.iter().enumerate() {
        if unit.item.is_some() || !unit.status.is_done() {
            continue;
        }
        for key in wanted {
            let r = Reference::StepOutput {
                step: unit.name.clone(),
                key: key.clone(),
            };
            if unheld_secret_output(state, &r) {
                let crossing = wait_between(state, p, state.steps.len()).is_some()
                    || state.waits_within(p).is_some();
                count(&mut found, p, crossing);
            }
        }
    }
    for (i, unit) in state.steps.iter().enumerate() {
        if unit.item.is_some() || unit.status.is_done() {
            continue;
        }
        let Some(step) = state.definition(i) else {
            continue;
        };
        if step.uses.is_some() && unit.child.is_some() {
            continue;
        }
        for (of, key) in step.output_reads() {
            let Some(p) = state.step_index(&of) else {
                continue;
            };
            if !unheld_secret_output(state, &Reference::StepOutput { step: of, key }) {
                continue;
            }
            let p = state.parent_of(p).unwrap_or(p);
            let crossing = wait_between(state, p, i).is_some() || state.waits_within(p).is_some();
            count(&mut found, p, crossing);
        }
    }
    found.map(|(p, crossing)| (state.steps[p].name.clone(), crossing))
}

/// The first secret output that `texts` (templates) read and this process does not hold
/// (`unheld_secret_output`), as the reason what reads it cannot run: which output, and how
/// to have it again.
pub fn unheld_secret_output_in<'t>(
    state: &RunState,
    reader: Option<usize>,
    texts: impl IntoIterator<Item = &'t str>,
) -> Option<String> {
    texts.into_iter().find_map(|text| {
        scan(text).into_iter().find_map(|o| match o.reference {
            Ok(r) if unheld_secret_output(state, &r) => {
                Some(unheld_secret_output_error(state, reader, &r))
            }
            _ => None,
        })
    })
}

/// The first secret output that the rollback of unit `unit` (its texts, `texts`) reads and
/// this process does not hold, as the reason the compensation cannot run. Running the unit
/// again (what `unheld_secret_output_error` offers a step) would redo what is to be undone:
/// a rollback has such a value only in the process that recorded it.
pub fn unheld_secret_output_in_rollback<'t>(
    state: &RunState,
    unit: &str,
    texts: impl IntoIterator<Item = &'t str>,
) -> Option<String> {
    let noun = if state.is_scenario() {
        "phases"
    } else {
        "steps"
    };
    texts.into_iter().find_map(|text| {
        scan(text).into_iter().find_map(|o| match o.reference {
            Ok(Reference::StepOutput { step, key })
                if unheld_secret_output(
                    state,
                    &Reference::StepOutput {
                        step: step.clone(),
                        key: key.clone(),
                    },
                ) =>
            {
                Some(format!(
                    "the rollback of `{unit}` reads the secret output `{noun}.{step}.outputs.{key}`, which is not kept in the log (it holds `***`) and which this process did not record: a rollback reads a secret output only in the process that recorded it (`on_failure: rollback`, or a rollback in the same drive); undo `{unit}` by hand"
                ))
            }
            _ => None,
        })
    })
}

/// Why a secret output this process does not hold cannot be used by step `reader` (none: after
/// the steps, a post-validation), and the fix: run the step that wrote it again, unless a wait
/// for a report stands between the two.
pub fn unheld_secret_output_error(
    state: &RunState,
    reader: Option<usize>,
    r: &Reference,
) -> String {
    let Reference::StepOutput { step, key } = r else {
        return String::new();
    };
    let (noun, command) = if state.is_scenario() {
        ("phases", "orchestrate")
    } else {
        ("steps", "workflow")
    };
    let index = state.step_index(step);
    let from = index
        .and_then(|i| state.parent_of(i))
        .map_or(step.as_str(), |p| state.steps[p].name.as_str());
    // A step waiting for a report after it ends the drive that recorded it: the report is
    // another process, which will not hold it either.
    // So does a child run of `uses:` step `from` that waits for one: run again, it waits
    // again, and the report that carries it on is another process.
    // The wait that matters is one between the producer and the reader: one after the
    // reader is no reason (before, the first wait anywhere after the producer was named, and
    // a later prompt step was blamed instead of the child's own wait).
    let until = reader.map_or(state.steps.len(), |r| {
        state.parent_of(r).unwrap_or(r).min(state.steps.len())
    });
    let waits = index
        .and_then(|i| wait_between(state, i, until))
        .map(|j| format!("`{}` waits for a report after it", state.steps[j].name))
        .or_else(|| {
            let f = state.step_index(from)?;
            let inside = state.waits_within(f)?;
            Some(format!(
                "its child run waits for a report (`{inside}`) before it ends"
            ))
        });
    // Across such a wait, running `from` again would wait and fail again: the fix is the
    // definition's, not a resume.
    match waits {
        Some(w) => format!(
            "the secret output `{noun}.{step}.outputs.{key}` is not kept in the log (it holds `***`) and this process did not record it; running `{from}` again would not help: {w}, which another process records — a secret that must outlive a wait is given as a secret input or in the environment, not as an output"
        ),
        None => format!(
            "the secret output `{noun}.{step}.outputs.{key}` is not kept in the log (it holds `***`) and this process did not record it: run `{from}` again (`cortex {command} resume {} --from {from}`)",
            state.run_id
        ),
    }
}

/// The environment variable that carries input `name` (to steps, and to `resume` for a secret
/// input): `CORTEX_INPUT_<NAME>`. Read back in any case (`input_from_env`).
pub fn input_env_name(name: &str) -> String {
    format!("CORTEX_INPUT_{}", name.to_ascii_uppercase())
}

/// The prefix of the variables that give inputs' values.
const INPUT_ENV_PREFIX: &str = "CORTEX_INPUT_";

/// The value this process's environment gives input `name`: the `CORTEX_INPUT_*` variable
/// whose name after the prefix is the input's in any case (`CORTEX_INPUT_API_TOKEN`, as every
/// hint spells it, or `CORTEX_INPUT_api_token`), as input names are matched everywhere else
/// (ASCII case aside, as `input_env_name` folds them). Before, only the upper-case one was
/// read: a worker given `CORTEX_INPUT_api_token` left the run alone as one lacking it. Two
/// variables that differ only by case are refused as every command starts
/// (`input_env_clash`); none of them is read.
pub fn input_from_env(name: &str) -> Option<String> {
    let mut found = std::env::vars_os().filter_map(|(k, v)| {
        let k = k.into_string().ok()?;
        let rest = k.strip_prefix(INPUT_ENV_PREFIX)?;
        rest.eq_ignore_ascii_case(name)
            .then(|| v.into_string().ok())
    });
    let first = found.next()?;
    match found.next() {
        Some(_) => None,
        None => first,
    }
}

/// The `CORTEX_INPUT_*` variables of this process's environment that name one input twice,
/// differing only by case (`CORTEX_INPUT_api_token` and `CORTEX_INPUT_API_TOKEN`), said: which
/// one was meant cannot be told, so the command refuses rather than pick one.
pub fn input_env_clash() -> Option<String> {
    let mut by_input: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (k, _) in std::env::vars_os() {
        if let Some(rest) = k.to_str().and_then(|k| k.strip_prefix(INPUT_ENV_PREFIX)) {
            by_input
                .entry(rest.to_ascii_uppercase())
                .or_default()
                .push(format!("{INPUT_ENV_PREFIX}{rest}"));
        }
    }
    let clashes: Vec<String> = by_input
        .into_values()
        .filter(|vars| vars.len() > 1)
        .map(|mut vars| {
            vars.sort();
            vars.join(" and ")
        })
        .collect();
    (!clashes.is_empty()).then(|| {
        format!(
            "the environment gives one input twice: {} (an input's variable is read in any case, so which value is meant cannot be told)",
            clashes.join("; ")
        )
    })
}

/// Those of `names` not set in this process's environment, or set empty (a webhook made of
/// one cannot be delivered from here: `definition::resolve_webhook`).
pub fn unset_env<'a>(names: impl IntoIterator<Item = &'a String>) -> Vec<String> {
    names
        .into_iter()
        .filter(|name| std::env::var_os(name.as_str()).is_none_or(|v| v.is_empty()))
        .cloned()
        .collect()
}

/// A secret input's value given to this process for every run: by a worker's `--input
/// NAME=VALUE` (`give_secret_inputs`), else through the environment (`CORTEX_INPUT_<NAME>`).
pub fn secret_input_from_env(name: &str) -> Option<String> {
    let given = GIVEN_TO_EVERY_RUN
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(name)
        .cloned();
    given.or_else(|| input_from_env(name))
}

/// The values of secret inputs given to this process for every run it drives that has an
/// input so named (a worker's `--input NAME=VALUE`): read as `CORTEX_INPUT_<NAME>` in its
/// environment is, before it. Memory only.
static GIVEN_TO_EVERY_RUN: std::sync::Mutex<BTreeMap<String, String>> =
    std::sync::Mutex::new(BTreeMap::new());

/// Give this process `inputs` (name, value) as the values of the secret inputs so named of
/// every run it drives, as `CORTEX_INPUT_<NAME>` in its environment would (a worker's
/// `--input`), and scrub them from everything it records (`note_given_secrets`).
pub fn give_secret_inputs<'a>(inputs: impl IntoIterator<Item = (&'a str, &'a str)>) {
    let mut given = GIVEN_TO_EVERY_RUN.lock().unwrap_or_else(|e| e.into_inner());
    for (name, value) in inputs {
        note_given_secrets([value]);
        given.insert(name.to_string(), value.to_string());
    }
}

pub use crate::event::input_text;

/// The process environment, skipping what is not UTF-8 (it cannot be a value we print).
fn process_env() -> Vec<(String, String)> {
    std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect()
}

/// The token of the `cortex serve` this process is (`scrub_serve_token`).
static SERVE_TOKEN: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// Scrub the server's token from everything this process records (`Redactor::of_process`,
/// `Redactor::of_run`) and every driver it starts (`operator::spawn_detached` gives it to them
/// as `process::SCRUB_TOKEN_ENV`, never to the commands they run). A step can read the token
/// from the server's command line or environment; printed, it was recorded and served in
/// the step's output.
pub fn scrub_serve_token(token: &str) {
    let _ = SERVE_TOKEN.set(token.to_string());
}

/// The server's token to scrub: this process's (`scrub_serve_token`), or the one the server
/// that started this driver gave it.
pub fn serve_token_to_scrub() -> Option<String> {
    SERVE_TOKEN.get().cloned().or_else(|| {
        std::env::var(super::process::SCRUB_TOKEN_ENV)
            .ok()
            .filter(|t| !t.is_empty())
    })
}

/// Every server token this process scrubs: its own or the one its server gave it
/// (`serve_token_to_scrub`), and those of the servers running on every home it has opened
/// (`register_serve_token`). A run started from another terminal on a home a server serves
/// (`cortex workflow run`, a scheduler's) was never given the token, yet a step of it can
/// read it (`/proc/PID/environ`, `ps -eo args`): without the register it was recorded in
/// clear, and served to every reader.
///
/// And those of every server of this user on this machine, whatever its home: a step of a run
/// of one home can read the token file of a server on another (`cat ~/other/serve/*.token`:
/// same user, mode 0600 is no bar), and the log they share kept it in clear. Each server
/// registers its token in this user's folder too (`user_serve_tokens_dir`).
pub fn serve_tokens_to_scrub() -> Vec<String> {
    let mut tokens: Vec<String> = serve_token_to_scrub().into_iter().collect();
    let homes = HOMES.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let dirs = homes
        .iter()
        .map(|home| serve_tokens_dir(home))
        .chain(user_serve_tokens_dir(false));
    for dir in dirs {
        for token in tokens_in(&dir) {
            if !tokens.contains(&token) {
                tokens.push(token);
            }
        }
    }
    tokens
}

/// The homes this process has opened (`note_home`): the servers running on them have their
/// tokens scrubbed from what it records.
static HOMES: std::sync::Mutex<Vec<std::path::PathBuf>> = std::sync::Mutex::new(Vec::new());

/// This process works on `home` (`ops::Ctx::new`): the tokens of the servers registered there
/// are scrubbed from everything it records.
pub fn note_home(home: &std::path::Path) {
    let mut homes = HOMES.lock().unwrap_or_else(|e| e.into_inner());
    if !homes.iter().any(|h| h == home) {
        homes.push(home.to_path_buf());
    }
}

/// Where the servers of `home` register their tokens: one file per server, `PID.token`.
fn serve_tokens_dir(home: &std::path::Path) -> std::path::PathBuf {
    home.join("serve")
}

/// This user's folder of the tokens of its servers on this machine, whatever their home:
/// `TMPDIR/cortex-serve-UID` (made, mode 0700, when `make`). None unless it is a folder (not
/// a link) this user owns that no one else may read or write: a folder another user made
/// there first is not trusted with a token, nor read.
fn user_serve_tokens_dir(make: bool) -> Option<std::path::PathBuf> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
    let uid = nix::unistd::getuid().as_raw();
    let dir = std::env::temp_dir().join(format!("cortex-serve-{uid}"));
    if make {
        let _ = std::fs::DirBuilder::new().mode(0o700).create(&dir);
    }
    let meta = std::fs::symlink_metadata(&dir).ok()?;
    (meta.is_dir() && meta.uid() == uid && meta.permissions().mode() & 0o077 == 0).then_some(dir)
}

/// A running server's registration of its token (`register_serve_token`): the files are
/// removed when this is dropped (the server ends).
#[derive(Debug)]
pub struct ServeTokenRegistration {
    paths: Vec<std::path::PathBuf>,
}

impl Drop for ServeTokenRegistration {
    fn drop(&mut self) {
        for path in &self.paths {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Register the token of the server this process is in `home`, so that every process working
/// on the home scrubs it (`serve_tokens_to_scrub`): `home/serve/PID.token`, mode 0600 in a
/// folder of mode 0700, written whole then renamed into place (a reader never sees half a
/// token). Removed when the registration is dropped; a server that was killed leaves its file,
/// which readers remove once its process is gone. Registered in this user's folder too
/// (`user_serve_tokens_dir`), best effort, for the processes of other homes.
pub fn register_serve_token(
    home: &std::path::Path,
    token: &str,
) -> std::io::Result<ServeTokenRegistration> {
    use std::os::unix::fs::DirBuilderExt;
    let dir = serve_tokens_dir(home);
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)?;
    let pid = std::process::id();
    let mut paths = vec![write_token_file(&dir, token, &pid.to_string())?];
    // Named apart within this process too (`PID-N`): the folder is shared by every home.
    static REGISTERED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = REGISTERED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    if let Some(user) = user_serve_tokens_dir(true)
        && let Ok(path) = write_token_file(&user, token, &format!("{pid}-{n}"))
    {
        paths.push(path);
    }
    Ok(ServeTokenRegistration { paths })
}

/// `dir/NAME.token` holding `token`, mode 0600, written whole then renamed into place.
fn write_token_file(
    dir: &std::path::Path,
    token: &str,
    name: &str,
) -> std::io::Result<std::path::PathBuf> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let path = dir.join(format!("{name}.token"));
    let tmp = dir.join(format!(".{name}.token.tmp"));
    let _ = std::fs::remove_file(&tmp);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)?;
    file.write_all(token.as_bytes())?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&tmp, &path)?;
    Ok(path)
}

/// The tokens of the servers running on `home`; the files of servers whose process is gone
/// are removed (and not read).
#[cfg(test)]
pub fn registered_serve_tokens(home: &std::path::Path) -> Vec<String> {
    tokens_in(&serve_tokens_dir(home))
}

/// The tokens registered in `dir` (`PID.token`, or `PID-N.token` in this user's folder) by
/// servers whose process runs; the files of those whose process is gone are removed (and not
/// read).
fn tokens_in(dir: &std::path::Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut tokens = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_suffix(".token"))
            .and_then(|p| p.split('-').next()?.parse::<i32>().ok())
        else {
            continue;
        };
        if pid <= 0 || !super::procinfo::running(pid) {
            let _ = std::fs::remove_file(entry.path());
            continue;
        }
        if let Ok(token) = std::fs::read_to_string(entry.path()) {
            let token = token.trim();
            if !token.is_empty() {
                tokens.push(token.to_string());
            }
        }
    }
    tokens
}

/// The values of secret inputs this process was given, by run. A front end that lives on
/// (`serve`, an MCP session) starts or resumes a run with them, and later appends to that run
/// what people send it (a report's outputs, a message) through journals it opens afresh,
/// whose redactors read only this process's environment (`Redactor::of_run`): without this,
/// a report quoting a secret input's value stored it in plain text.
static HELD: std::sync::Mutex<BTreeMap<String, Held>> = std::sync::Mutex::new(BTreeMap::new());

/// The values of secret inputs this process was given (`--input` of a secret input, the
/// inputs of a report or a resume) before it knows for which run, or before they are checked:
/// scrubbed only (`Redactor::of_process`), never given to a run. Memory only.
static GIVEN: std::sync::Mutex<BTreeSet<String>> = std::sync::Mutex::new(BTreeSet::new());

/// Scrub `values` from everything this process says from now on that `Redactor::of_process`
/// scrubs (the actor of the lock it takes and of its lease, the holder named in an error):
/// values of secret inputs given on the command line, known before the run's journal is.
pub fn note_given_secrets<'a>(values: impl IntoIterator<Item = &'a str>) {
    let mut given = GIVEN.lock().unwrap_or_else(|e| e.into_inner());
    for value in values {
        // An empty value is no secret (and would match everywhere).
        if !value.is_empty() {
            given.insert(value.to_string());
        }
    }
}

/// Why a report's or an attempt's outputs are refused when `count` of their keys hold a
/// secret's value: a key is an identifier, recorded as written (redaction changes values,
/// never identifiers), so such a key would keep the secret in clear in the log, `results.json`
/// and the checkpoints. The keys are not quoted.
pub fn secret_output_keys_problem(count: usize) -> String {
    let (keys, hold) = match count {
        1 => ("an output key".to_string(), "holds"),
        n => (format!("{n} output keys"), "hold"),
    };
    format!(
        "{keys} {hold} the value of a secret (not shown): a key is recorded as written, never scrubbed, so a secret may not be one; give the secret as a value (`NAME=SECRET`, stored as `***`) under a key that names it"
    )
}

/// Scrub, from everything this process says of itself from now on (`Redactor::of_process`:
/// the actor of the lock it takes and of its lease, the holder named in an error), the values
/// its environment gives the variables `workflow`'s steps list in `secret_env` (and its
/// webhooks' credentials): the run's secrets, as the journal's redactor has them
/// (`Redactor::of_run`). Before, `--actor "ci-$DEPLOY_KEY"` was scrubbed in `run_started` but
/// kept in clear in `locks/<run>.lock`, and quoted by every "its driver ..." message.
pub fn note_secret_env(workflow: &Workflow) {
    let names: Vec<String> = workflow
        .steps
        .iter()
        .flat_map(|s| s.secret_env.iter().cloned())
        .chain(webhook_credential_env(workflow))
        .collect();
    if names.is_empty() {
        return;
    }
    let env = process_env();
    note_given_secrets(
        env.iter()
            .filter(|(k, _)| names.contains(k))
            .map(|(_, v)| v.as_str()),
    );
}

/// The definition a starting run snapshots, as a workflow (a scenario's phases as steps).
fn started_workflow(started: &RunStarted) -> Option<Workflow> {
    match started.kind {
        RunKind::Workflow => serde_json::from_value::<Workflow>(started.definition.clone()).ok(),
        RunKind::Scenario => {
            serde_json::from_value::<crate::definition::Scenario>(started.definition.clone())
                .ok()
                .map(|sc| sc.as_workflow())
        }
    }
}

/// `note_secret_env` for the run `started` starts: called before its lock is taken.
pub fn note_secret_env_of_start(started: &RunStarted) {
    if let Some(workflow) = started_workflow(started) {
        note_secret_env(&workflow);
    }
}

/// `text` scrubbed of every secret this process knows (`Redactor::of_process`): for what
/// names this process to others — its actor in a run's lock file or lease, a holder named in
/// an error.
pub fn scrub_known(text: &str) -> String {
    Redactor::of_process().redact(text).into_owned()
}

/// Whether this process gives the secret inputs it holds to every journal it opens of their
/// run (`supply_held_secret_inputs`), not only scrubs them.
static SUPPLIES: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// What this process holds of one run's secret inputs.
#[derive(Default)]
struct Held {
    /// Every value given, the older ones too: all are scrubbed.
    values: BTreeSet<String>,
    /// The latest value of each input, by name.
    named: BTreeMap<String, String>,
}

/// Remember the values of secret inputs `inputs` (name, value) of run `run_id` for as long as
/// this process lives: every journal it opens for that run scrubs them (and is given them,
/// in a process that `supply_held_secret_inputs`). Memory only: never written anywhere.
pub fn hold_secret_inputs<'a>(run_id: &str, inputs: impl IntoIterator<Item = (&'a str, &'a str)>) {
    let mut held = HELD.lock().unwrap_or_else(|e| e.into_inner());
    let of_run = held.entry(run_id.to_string()).or_default();
    for (name, value) in inputs {
        of_run.values.insert(value.to_string());
        of_run.named.insert(name.to_string(), value.to_string());
    }
}

/// From now on, the secret inputs this process holds for a run are its values in every
/// journal this process opens of it: the checks and drives of a report or a resume have
/// them. The MCP server's way (one session per process): a client that gave a run's secret
/// inputs (`run`, `resume`, a report's `inputs`) cannot set the server's environment, so
/// without this its `step_complete` of a step whose checks need them could only be refused.
/// `cortex serve` does not: it gives them to the drivers it starts, as their environment.
pub fn supply_held_secret_inputs() {
    SUPPLIES.store(true, std::sync::atomic::Ordering::Relaxed);
}

/// The values of run `run_id`'s secret inputs this process holds (`hold_secret_inputs`):
/// every value, and the latest of each input by name.
fn held_secret_inputs(run_id: &str) -> (Vec<String>, BTreeMap<String, String>) {
    let held = HELD.lock().unwrap_or_else(|e| e.into_inner());
    held.get(run_id)
        .map(|h| (h.values.iter().cloned().collect(), h.named.clone()))
        .unwrap_or_default()
}

/// `bytes` with every whole occurrence of each of `needles`, in the order given (longest
/// first, so that one containing another is replaced whole), replaced by `***` — or, with
/// `same_length`, by as many `*` as it has bytes (an answer whose length was said before it
/// is read keeps it true). Borrowed when none is found. `Redactor::redact_bytes`, and the
/// server's scrubbing of its token from what it serves (`serve::redact`).
pub fn scrub_bytes<'b, 'n>(
    bytes: &'b [u8],
    needles: impl IntoIterator<Item = &'n [u8]>,
    same_length: bool,
) -> Cow<'b, [u8]> {
    let mut out = Cow::Borrowed(bytes);
    for needle in needles {
        let finder = memchr::memmem::Finder::new(needle);
        if finder.find(&out).is_none() {
            continue;
        }
        let mut scrubbed = Vec::with_capacity(out.len());
        let mut from = 0;
        for at in finder.find_iter(&out) {
            scrubbed.extend_from_slice(&out[from..at]);
            if same_length {
                scrubbed.extend(std::iter::repeat_n(b'*', needle.len()));
            } else {
                scrubbed.extend_from_slice(REDACTED.as_bytes());
            }
            from = at + needle.len();
        }
        scrubbed.extend_from_slice(&out[from..]);
        out = Cow::Owned(scrubbed);
    }
    out
}

/// The secret values to scrub, longest first (so a secret containing another is scrubbed
/// whole), and the values of the run's secret inputs.
#[derive(Default, Clone)]
pub struct Redactor {
    secrets: Vec<String>,
    inputs: BTreeMap<String, String>,
}

/// Never prints a secret: a `Runner` or an error holding one may be debug-printed.
impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redactor")
            .field("secrets", &self.secrets.len())
            .field("inputs", &self.inputs.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Redactor {
    /// Secrets from an environment: every variable with a secret-looking name, plus `extra`
    /// names (a step's `secret_env`).
    pub fn from_env<'a>(
        env: impl IntoIterator<Item = (&'a str, &'a str)>,
        extra: &[String],
    ) -> Self {
        let mut r = Redactor::default();
        for (name, value) in env {
            if is_secret_name(name) || extra.iter().any(|e| e == name) {
                r.add(value);
            }
            // The log's connection string, which steps inherit (a step that runs `cortex`
            // reports to the same log): its password is a secret whatever the variable's
            // name, as written in it and decoded, and so is the whole string holding it.
            if name == crate::ops::DB_ENV {
                let passwords = crate::store::Location::read(value, std::path::Path::new("/"))
                    .ok()
                    .flatten()
                    .map(|l| l.passwords())
                    .unwrap_or_default();
                if !passwords.is_empty() {
                    r.add(value);
                }
                for password in &passwords {
                    r.add(password);
                }
            }
        }
        r
    }

    /// The secrets this process knows before any run: its environment's, and the value of
    /// every `CORTEX_INPUT_<NAME>` in it (how secret inputs are given out of sight of `ps`,
    /// and the only way a scheduled run's are). What is said of inputs that do not pass
    /// (which quotes their values), and what a scheduler records of a run it started (the
    /// error its driver printed), is scrubbed of them.
    pub fn of_process() -> Redactor {
        let env = process_env();
        let mut r = Redactor::from_env(env.iter().map(|(k, v)| (k.as_str(), v.as_str())), &[]);
        for (name, value) in &env {
            if name.starts_with("CORTEX_INPUT_") {
                r.add(value);
            }
        }
        for token in serve_tokens_to_scrub() {
            r.add(&token);
        }
        // The secret inputs this process was given, for any run (`note_given_secrets`,
        // `hold_secret_inputs`): an actor typed with one in it (`--actor "ci $TOKEN"`) is
        // scrubbed of it before it names the run's holder in its lock file or lease.
        for value in GIVEN.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            r.add(value);
        }
        for held in HELD.lock().unwrap_or_else(|e| e.into_inner()).values() {
            for value in &held.values {
                r.add(value);
            }
        }
        r
    }

    /// The secrets of the run in `state`, from this process's environment: secret-named
    /// variables, the variables the run's steps list in `secret_env`, the values of its secret
    /// inputs given as `CORTEX_INPUT_<NAME>` or held by this process (`hold_secret_inputs`:
    /// scrubbed, and given only where `supply_held_secret_inputs`), and its secret `env:` entries as rendered.
    pub fn of_run(state: &RunState) -> Redactor {
        let env = process_env();
        let extra: Vec<String> = state
            .workflow
            .iter()
            .flat_map(|wf| {
                wf.steps
                    .iter()
                    .flat_map(|s| s.secret_env.iter().cloned())
                    .chain(webhook_credential_env(wf))
            })
            .collect();
        let mut r = Redactor::from_env(env.iter().map(|(k, v)| (k.as_str(), v.as_str())), &extra);
        // What this process says of itself (its lock's actor) is scrubbed of them too.
        note_given_secrets(
            env.iter()
                .filter(|(k, _)| extra.contains(k))
                .map(|(_, v)| v.as_str()),
        );
        for token in serve_tokens_to_scrub() {
            r.add(&token);
        }
        let (held, named) = held_secret_inputs(&state.run_id);
        let supplies = SUPPLIES.load(std::sync::atomic::Ordering::Relaxed);
        if let Some(start) = &state.start {
            for name in &start.secret_inputs {
                // Given to this process for the run (an MCP session): the latest value wins
                // over its environment's.
                if let Some(value) = named.get(name).filter(|_| supplies) {
                    r.set_input(name, value);
                } else if let Some(value) = secret_input_from_env(name) {
                    r.set_input(name, &value);
                } else if start.secret_defaults.contains(name)
                    && let Some(value) = state
                        .workflow
                        .as_ref()
                        .and_then(|wf| wf.inputs.get(name))
                        .and_then(|spec| spec.default.as_ref())
                {
                    // Its value is the definition's own default, kept in the snapshot.
                    r.set_input(name, &input_text(value));
                }
            }
            if let Some(wf) = &state.workflow {
                r.add_env_entries(wf, &start.inputs);
            }
        }
        for value in held {
            r.add(&value);
        }
        // The secret outputs this process recorded for the run: scrubbed by every journal of
        // it (the log keeps `***` for them, whatever they look like: `Journal::redact`).
        adopt_handed_outputs(&state.run_id);
        add_held_outputs(&mut r, &state.run_id);
        r
    }

    /// The secret inputs this redactor holds: name and value.
    pub fn input_values(&self) -> impl Iterator<Item = (&str, &str)> {
        self.inputs.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Take in the secrets of a run that is starting, and keep its secret inputs out of the
    /// log: their values move here (the driver needs them), `started` holds `***` for them and
    /// names them in `secret_inputs` (so that `resume` knows to ask for them again).
    pub fn start_run(&mut self, started: &mut RunStarted) {
        // A scenario's inputs, phases' `env:` and `secret_env` are secret as a workflow's are.
        let workflow = started_workflow(started);
        let mut secret: BTreeSet<String> = workflow.as_ref().map(secret_inputs).unwrap_or_default();
        secret.extend(started.secret_inputs.iter().cloned());
        let redacted = serde_json::Value::String(REDACTED.to_string());
        let hold = |this: &mut Redactor, name: &str, started: &mut RunStarted| {
            if let Some(value) = started.inputs.get_mut(name) {
                if *value != redacted {
                    this.set_input(name, &input_text(value));
                    let default = workflow
                        .as_ref()
                        .and_then(|wf| wf.inputs.get(name))
                        .and_then(|spec| spec.default.as_ref());
                    if default == Some(&*value)
                        && !started.secret_defaults.iter().any(|d| d == name)
                    {
                        started.secret_defaults.push(name.to_string());
                    }
                }
                *value = redacted.clone();
            }
        };
        for name in &secret {
            hold(self, name, started);
        }
        // An input whose value holds a secret this process knows is a secret input too.
        // Scrubbed in place as any value is, the run went on with `***` for it: with
        // `DB_PASSWORD=prod`, `--input env=prod` gave the steps `***` and made `if: inputs.env
        // == 'prod'` false. Held, it reaches the steps and conditions as given, the log keeps
        // `***`, and `resume` asks for it again. Holding one adds its value to the secrets,
        // which another input may hold: looked at again until none is found.
        loop {
            let found: Vec<String> = started
                .inputs
                .iter()
                // Text only: a number or a boolean is never scrubbed (`true` beside a
                // `*_TOKEN_AUTH=true` stays `true`), so it never went on as `***` either.
                .filter(|(name, value)| {
                    **value != redacted
                        && !secret.contains(*name)
                        && value.as_str().is_some_and(|text| self.redact(text) != text)
                })
                .map(|(name, _)| name.clone())
                .collect();
            if found.is_empty() {
                break;
            }
            for name in found {
                hold(self, &name, started);
                secret.insert(name);
            }
        }
        started.secret_inputs = secret
            .into_iter()
            .filter(|name| started.inputs.contains_key(name))
            .collect();
        if let Some(wf) = &workflow {
            let names = wf
                .steps
                .iter()
                .flat_map(|step| step.secret_env.iter().cloned())
                .chain(webhook_credential_env(wf));
            for name in names {
                if let Some(value) = std::env::var_os(&name).and_then(|v| v.into_string().ok()) {
                    self.add(&value);
                }
            }
            self.add_env_entries(wf, &started.inputs);
        }
    }

    /// The secret `env:` entries of every step whose templates refer only to inputs, as the
    /// steps will see them (an entry that refers to a step's outputs is added per attempt,
    /// by `with_step_env`).
    fn add_env_entries(&mut self, wf: &Workflow, inputs: &BTreeMap<String, serde_json::Value>) {
        let resolve = |r: &Reference| match r {
            Reference::Input(name) => self
                .input(name)
                .map(str::to_string)
                .or_else(|| inputs.get(name).map(input_text)),
            Reference::StepOutput { .. } | Reference::Item => None,
        };
        let mut found = Vec::new();
        for step in &wf.steps {
            for (name, value) in &step.env {
                let only_inputs = scan(&value.0)
                    .iter()
                    .all(|o| matches!(o.reference, Ok(Reference::Input(_))));
                if is_secret_env(step, name) && only_inputs {
                    found.push(render_value(&value.0, &resolve));
                }
            }
        }
        found.iter().for_each(|v| self.add(v));
    }

    /// This redactor plus the values `step`'s secret `env:` entries have in `env` (the
    /// environment of one attempt, templates rendered).
    pub fn with_step_env<'a>(&'a self, step: &Step, env: &[(String, String)]) -> Cow<'a, Self> {
        let values: Vec<&str> = env
            .iter()
            .filter(|(name, value)| {
                step.env.contains_key(name)
                    && is_secret_env(step, name)
                    && may_be_secret(value)
                    && !self.secrets.contains(value)
            })
            .map(|(_, value)| value.as_str())
            .collect();
        if values.is_empty() {
            return Cow::Borrowed(self);
        }
        let mut more = self.clone();
        values.into_iter().for_each(|v| more.add(v));
        Cow::Owned(more)
    }

    /// Scrub `value` from now on. A secret of several lines (a PEM key, a kubeconfig) is
    /// scrubbed whole and line by line too: output is read and kept a line at a time, so a
    /// secret spanning lines would never be found whole in one (as GitHub Actions masks each
    /// line of a multi-line secret).
    pub fn add(&mut self, value: &str) {
        self.add_one(value);
        if value.contains(['\n', '\r']) {
            for line in value.split(['\n', '\r']) {
                self.add_one(line.trim());
            }
        }
    }

    /// Scrub the value of a secret output from now on: whole, and each text of it when it is
    /// a JSON list (a `foreach:` step's list of its items' values, or a list a later
    /// `foreach:` reads its items from: each item is recorded on its own).
    pub fn add_output(&mut self, value: &str) {
        self.add(value);
        if let Ok(serde_json::Value::Array(items)) = serde_json::from_str(value) {
            for item in items {
                if let serde_json::Value::String(text) = item {
                    self.add(&text);
                }
            }
        }
    }

    fn add_one(&mut self, value: &str) {
        if may_be_secret(value) && !self.secrets.iter().any(|s| s == value) {
            self.secrets.push(value.to_string());
            self.secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        }
    }

    pub fn merge(&mut self, other: &Redactor) {
        for s in &other.secrets {
            self.add(s);
        }
        for (name, value) in &other.inputs {
            self.inputs
                .entry(name.clone())
                .or_insert_with(|| value.clone());
        }
    }

    /// Scrub `other`'s secrets too (a child run's redactor takes its parent's: what the parent
    /// must not record, the child must not either), without taking its inputs.
    pub fn merge_secrets(&mut self, other: &Redactor) {
        for s in &other.secrets {
            self.add(s);
        }
    }

    /// Hold the value of secret input `name` (and scrub it).
    pub fn set_input(&mut self, name: &str, value: &str) {
        self.add(value);
        self.inputs.insert(name.to_string(), value.to_string());
    }

    /// The value of secret input `name`, if this process was given it.
    pub fn input(&self, name: &str) -> Option<&str> {
        self.inputs.get(name).map(String::as_str)
    }

    /// The secret inputs of the run in `state` whose values this process was not given.
    pub fn missing_inputs(&self, state: &RunState) -> Vec<String> {
        state.start.as_ref().map_or_else(Vec::new, |start| {
            start
                .secret_inputs
                .iter()
                .filter(|name| !self.inputs.contains_key(*name))
                .cloned()
                .collect()
        })
    }

    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty()
    }

    /// Whether `text` holds a secret this redactor knows (`redact` would change it).
    pub fn holds_secret(&self, text: &str) -> bool {
        self.secrets.iter().any(|s| text.contains(s.as_str()))
    }

    /// `text` with every secret replaced by `***` (borrowed when there is none).
    pub fn redact<'t>(&self, text: &'t str) -> Cow<'t, str> {
        let mut out = Cow::Borrowed(text);
        for s in &self.secrets {
            if out.contains(s.as_str()) {
                out = Cow::Owned(out.replace(s.as_str(), REDACTED));
            }
        }
        out
    }

    /// `redact` over bytes: a process's whole output is kept as the bytes it wrote, UTF-8 or
    /// not, with each secret's bytes replaced by `***` (longest first, as `redact` does).
    pub fn redact_bytes<'b>(&self, bytes: &'b [u8]) -> Cow<'b, [u8]> {
        scrub_bytes(bytes, self.secrets.iter().map(String::as_bytes), false)
    }

    /// The length in bytes of the longest secret (0 without any).
    pub fn longest(&self) -> usize {
        self.secrets.first().map_or(0, String::len)
    }

    /// How many bytes at the end of `bytes` begin a secret that more bytes could complete
    /// (the longest such end, shorter than its secret): what a partial line passed on before
    /// its end must hold back, so that no piece keeps part of a secret.
    pub fn open_prefix(&self, bytes: &[u8]) -> usize {
        self.secrets
            .iter()
            .filter_map(|s| {
                let s = s.as_bytes();
                (1..s.len().min(bytes.len() + 1))
                    .rev()
                    .find(|&k| bytes.ends_with(&s[..k]))
            })
            .max()
            .unwrap_or(0)
    }

    /// Where to cut `bytes` at or before `want` so that the cut goes through no secret found
    /// in them: a piece of an over-long line passed on without the rest must not keep part of
    /// a secret that the rest completes (the caller holds back `longest() - 1` bytes, so one
    /// that the next bytes would complete starts after the cut). 0 when a secret begins the
    /// bytes and goes past `want`: then nothing can be passed on yet.
    pub fn safe_cut(&self, bytes: &[u8], want: usize) -> usize {
        let mut cut = want.min(bytes.len());
        loop {
            let inside = self.secrets.iter().find_map(|s| {
                let first = cut.saturating_sub(s.len() - 1);
                memchr::memmem::find_iter(
                    &bytes[first..(cut + s.len() - 1).min(bytes.len())],
                    s.as_bytes(),
                )
                .map(|at| first + at)
                .find(|&at| at < cut && cut < at + s.len())
            });
            match inside {
                Some(at) => cut = at,
                None => return cut,
            }
        }
    }

    /// Scrub the value fields of `event` (`Event::visit_values`), never its identifiers: a
    /// secret equal to a step's name leaves the step's name alone.
    pub fn redact_event(&self, event: &mut Event) {
        if self.is_empty() {
            return;
        }
        event.visit_values(&mut |value| {
            if let Cow::Owned(scrubbed) = self.redact(value) {
                *value = scrubbed;
            }
        });
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_servers_registered_token_is_read_while_it_runs_and_gone_when_it_ends() {
        let home = tempfile::tempdir().unwrap();
        let token = "registered-token-0123456789";
        let registration = super::register_serve_token(home.path(), token).unwrap();
        assert_eq!(
            super::registered_serve_tokens(home.path()),
            vec![token.to_string()]
        );
        // A file of a process that is gone is removed, not read.
        let stale = home.path().join("serve/2147483646.token");
        std::fs::write(&stale, "stale-token-0123456789").unwrap();
        assert_eq!(
            super::registered_serve_tokens(home.path()),
            vec![token.to_string()]
        );
        assert!(!stale.exists());
        drop(registration);
        assert!(super::registered_serve_tokens(home.path()).is_empty());
    }

    /// Seen by a review: a step of a run of one home printed the token of a server of another
    /// home on this host (`cat OTHER/serve/*.token`) and the log they share kept it: only the
    /// tokens of the homes this process opened were scrubbed. Every server of this user on
    /// this machine registers its token in this user's folder too, and every process scrubs
    /// those.
    #[test]
    fn a_servers_token_is_scrubbed_by_processes_of_every_home_of_its_user() {
        let (served, other) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let token = "token-of-another-home-0123456789";
        let registration = super::register_serve_token(served.path(), token).unwrap();
        super::note_home(other.path());
        assert!(
            super::serve_tokens_to_scrub().contains(&token.to_string()),
            "scrubbed whatever home this process works on"
        );
        assert!(
            super::Redactor::of_process()
                .redact(token)
                .contains(super::REDACTED)
        );
        drop(registration);
        assert!(!super::serve_tokens_to_scrub().contains(&token.to_string()));
    }

    use super::*;

    #[test]
    fn the_password_of_the_logs_connection_string_is_a_secret() {
        let url = "postgres://cortex:s3cret%40pw@db:5432/cortex";
        let r = Redactor::from_env([("CORTEX_DB", url)], &[]);
        assert_eq!(r.redact(&format!("CORTEX_DB={url}")), "CORTEX_DB=***");
        assert_eq!(r.redact("password s3cret@pw"), "password ***");
        let kv = "host=db user=cortex password=kv-secret-1";
        let r = Redactor::from_env([("CORTEX_DB", kv)], &[]);
        assert_eq!(r.redact("kv-secret-1"), "***");
        // No password, or a file: nothing to keep.
        for plain in ["postgres://cortex@db/cortex", "sqlite:/tmp/cortex.db"] {
            assert!(Redactor::from_env([("CORTEX_DB", plain)], &[]).is_empty());
        }
    }

    /// Output kept as bytes is scrubbed as text is: every occurrence, longest secret first,
    /// whatever bytes that are not UTF-8 surround it.
    #[test]
    fn secrets_are_scrubbed_from_bytes_that_are_not_utf8() {
        let r = Redactor::from_env([("A_TOKEN", "abcdef"), ("B_TOKEN", "abcdefgh")], &[]);
        assert_eq!(
            &*r.redact_bytes(b"\xffabcdefgh\0abcdef\r\nabcde"),
            b"\xff***\0***\r\nabcde"
        );
        assert!(matches!(r.redact_bytes(b"\xfe nothing"), Cow::Borrowed(_)));
        assert_eq!(r.longest(), 8);
    }

    /// A cut is moved before any secret it would go through, and left where it is otherwise.
    #[test]
    fn an_over_long_line_is_never_cut_through_a_secret() {
        let r = Redactor::from_env([("A_TOKEN", "secret")], &[]);
        let line = b"xxsecretxxsecret";
        for want in 0..=line.len() {
            let cut = r.safe_cut(line, want);
            let inside = [(2, 8), (10, 16)]
                .iter()
                .any(|&(start, end)| start < cut && cut < end);
            assert!(!inside && cut <= want, "{want} -> {cut}");
        }
        assert_eq!(r.safe_cut(line, 5), 2);
        assert_eq!(r.safe_cut(line, 9), 9);
        assert_eq!(Redactor::default().safe_cut(line, 5), 5);
    }

    /// The names credentials go by beyond SPEC §6's three are secret; the names of where a
    /// key is or which one it is are not, nor is the shell's `PWD`.
    #[test]
    fn common_credential_names_are_secret_and_their_pointers_are_not() {
        for name in [
            "GITHUB_TOKEN",
            "my_secret",
            "DB_PASSWORD",
            "DB_PASSWD",
            "OPENAI_API_KEY",
            "ANTHROPIC_API_KEY",
            "stripe-apikey",
            "SSH_PRIVATE_KEY",
            "MYSQL_PWD",
            "GITHUB_PAT",
            "api_key",
        ] {
            assert!(is_secret_name(name), "{name}");
        }
        for name in [
            "PWD",
            "OLDPWD",
            "HOME",
            "SSH_PRIVATE_KEY_PATH",
            "API_KEY_FILE",
            "AWS_ACCESS_KEY_ID",
            "KEYBOARD",
            "PATH",
            "MONKEY",
        ] {
            assert!(!is_secret_name(name), "{name}");
        }
    }

    #[test]
    fn secret_names_and_values_are_scrubbed() {
        let r = Redactor::from_env(
            [
                ("GITHUB_TOKEN", "ghp_abcdef"),
                ("HOME", "/root"),
                ("MY_KEY", "k3y-value"),
            ],
            &["MY_KEY".to_string()],
        );
        assert_eq!(
            r.redact("t=ghp_abcdef k=k3y-value h=/root"),
            "t=*** k=*** h=/root"
        );
    }

    #[test]
    fn inputs_are_secret_by_name_or_by_feeding_a_secret_env_entry() {
        let wf: Workflow = serde_yaml::from_str(
            "name: w\ninputs:\n  api_token: {}\n  tok: {}\n  plain: {}\n  key: {}\nsteps:\n  - name: s\n    run: 'true'\n    env:\n      API_TOKEN: 'Bearer ${{ inputs.tok }}'\n      KEY: '${{ inputs.key }}'\n      VISIBLE: '${{ inputs.plain }}'\n    secret_env: [KEY]\n",
        )
        .unwrap();
        let names: Vec<String> = secret_inputs(&wf).into_iter().collect();
        assert_eq!(names, ["api_token", "key", "tok"]);
    }

    #[test]
    fn outputs_are_secret_by_key_or_by_feeding_a_secret_env_entry() {
        let wf: Workflow = serde_yaml::from_str(
            "name: w\nsteps:\n  - name: login\n    run: 'true'\n  - name: build\n    foreach: [a, b]\n    run: 'true'\n  - name: push\n    run: 'true'\n    env:\n      GH_TOKEN: '${{ steps.login.outputs.tok }}'\n      KEY: 'k ${{ steps.build[1].outputs.key }}'\n      VISIBLE: '${{ steps.login.outputs.plain }}'\n    secret_env: [KEY]\n",
        )
        .unwrap();
        let pairs: Vec<(String, String)> = secret_outputs(&wf).into_iter().collect();
        assert_eq!(
            pairs,
            [
                ("build".into(), "key".into()),
                ("login".into(), "tok".into())
            ]
        );
        assert!(is_secret_output(&wf, "login", "tok"));
        assert!(!is_secret_output(&wf, "login", "plain"));
        // By its key alone, whichever step wrote it.
        assert!(is_secret_output(&wf, "push", "api_token"));
        assert!(is_secret_output(&wf, "login", "db_password"));
        // An item of the `foreach:` step, and the step's own list, alike.
        assert!(is_secret_output(&wf, "build[0]", "key"));
        assert!(is_secret_output(&wf, "build", "key"));
        assert!(!is_secret_output(&wf, "build[0]", "tok"));
        // `[..]` that names no item of a step is part of a name.
        assert!(!is_secret_output(&wf, "other[1]", "key"));
    }

    #[test]
    fn a_starting_run_keeps_secret_inputs_in_memory_and_stars_in_the_event() {
        let definition = serde_json::json!({
            "name": "w",
            "inputs": {"tok": {}, "n": {}},
            "steps": [{"name": "s", "run": "true", "env": {"API_TOKEN": "Bearer ${{ inputs.tok }}"}}],
        });
        let mut started = RunStarted::for_test(RunKind::Workflow, "w", definition, String::new());
        started
            .inputs
            .insert("tok".into(), serde_json::json!("s3cr3t-value"));
        started.inputs.insert("n".into(), serde_json::json!(3));
        let mut r = Redactor::default();
        r.start_run(&mut started);
        assert_eq!(started.inputs["tok"], "***");
        assert_eq!(started.inputs["n"], 3);
        assert_eq!(started.secret_inputs, ["tok"]);
        assert_eq!(r.input("tok"), Some("s3cr3t-value"));
        // The rendered env value is a secret as a whole, not only the input inside it.
        assert_eq!(r.redact("Bearer s3cr3t-value"), "***");
    }

    /// A secret of several lines is found in output read line by line: each of its lines is
    /// a secret of its own (lines too short or common to be secrets are left, as any value).
    #[test]
    fn each_line_of_a_multi_line_secret_is_scrubbed() {
        let key = "-----BEGIN PRIVATE KEY-----\r\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n\n-----END PRIVATE KEY-----";
        let mut r = Redactor::default();
        r.add(key);
        assert_eq!(r.redact(key), "***");
        assert_eq!(
            r.redact("got MIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n"),
            "got ***\n"
        );
        assert_eq!(r.redact("-----END PRIVATE KEY-----"), "***");
        assert_eq!(r.redact("a plain line"), "a plain line");
    }

    #[test]
    fn debug_output_never_shows_a_secret() {
        let mut r = Redactor::default();
        r.set_input("tok", "hunter2-long");
        assert!(!format!("{r:?}").contains("hunter2"));
    }
}
