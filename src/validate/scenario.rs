//! Checks a parsed scenario: required fields (the user schema's, or name/description/phases),
//! enums, conditions and their targets, agents, durations, and the absence of cycles.

use std::collections::{BTreeMap, BTreeSet};

use super::limits::attempt_limits;
use crate::definition::limits::{MAX_PARALLEL, check_count};
use crate::definition::{
    Condition, DefinitionError, Location, NameKind, Problem, Scenario, Seg, UserSchema, check_name,
    locate, normalize_name, same_name, shown,
};
use crate::plan::{dependencies, find_cycles};

/// The phases that phase `i` runs after, directly or not.
fn upstream(deps: &[Vec<usize>], i: usize) -> Vec<usize> {
    let mut seen = vec![false; deps.len()];
    let mut stack = deps[i].clone();
    let mut out = Vec::new();
    while let Some(j) = stack.pop() {
        if j < seen.len() && !seen[j] {
            seen[j] = true;
            out.push(j);
            stack.extend(deps[j].iter().copied());
        }
    }
    out
}

fn at(text: &str, path: &[Seg]) -> Option<Location> {
    (0..=path.len())
        .rev()
        .find_map(|n| locate(text, &path[..n]))
}

/// The entries of an `after:` condition as written (`condition`, the raw value): each trimmed
/// name with its byte span in the value. An empty entry (`after:b,`) spans the `:` or `,`
/// before it, so a caret has something to stand on.
fn after_entries(condition: &str) -> Vec<(&str, usize, usize)> {
    let Some(colon) = condition.find("after:").map(|i| i + "after:".len()) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut start = colon;
    for part in condition[colon..].split(',') {
        let name = part.trim();
        let lead = part.len() - part.trim_start().len();
        if name.is_empty() {
            out.push((name, start - 1, start));
        } else {
            out.push((name, start + lead, start + lead + name.len()));
        }
        start += part.len() + 1;
    }
    out
}

/// A problem on an entry of the `after:` condition at `path` (`condition`): its caret under
/// the entry where the file writes the value on one line, else on the value.
fn on_entry(
    text: &str,
    path: &[Seg],
    condition: &str,
    span: (usize, usize),
    message: String,
) -> Problem {
    let placed = locate(text, path).and_then(|at| {
        let at = crate::definition::within_scalar(text, at, condition, span.0)?;
        let entry = condition.get(span.0..span.1)?;
        let written = text
            .lines()
            .nth(at.line - 1)?
            .chars()
            .skip(at.column - 1)
            .take(entry.chars().count())
            .eq(entry.chars());
        written.then_some((at, entry.chars().count()))
    });
    match placed {
        Some((at, width)) => Problem::new(message, Some(at)).with_width(Some(width)),
        None => Problem::new(message, at(text, path)),
    }
}

/// Every problem of a scenario, each located; `agents` holds the known agent names
/// (normalized).
pub fn validate_scenario(
    path: &str,
    text: &str,
    scenario: &Scenario,
    user_schema: Option<&UserSchema>,
    agents: &BTreeSet<String>,
) -> Result<(), DefinitionError> {
    validate_scenario_cautioned(path, text, scenario, user_schema, agents, &BTreeMap::new()).0
}

/// [`validate_scenario`], and what is valid but unsafe, as located warnings (a template in
/// the script of a nested shell). `broken_agents`: the agent files that are there but
/// invalid, by name, with their first problem (`Catalog::broken_agents`).
pub fn validate_scenario_cautioned(
    path: &str,
    text: &str,
    scenario: &Scenario,
    user_schema: Option<&UserSchema>,
    agents: &BTreeSet<String>,
    broken_agents: &BTreeMap<String, String>,
) -> (Result<(), DefinitionError>, Vec<String>) {
    let mut problems: Vec<Problem> = Vec::new();
    // Problems with a place inside a value (an entry of an `after:` list).
    let mut placed: Vec<Problem> = Vec::new();
    let mut report = |p: &[Seg], message: String, hint: Option<&str>| {
        let found = Problem::new(message, at(text, p));
        problems.push(match hint {
            Some(h) => found.with_hint(h),
            None => found,
        });
    };
    let default_required = [
        "name".to_string(),
        "description".to_string(),
        "phases".to_string(),
    ];
    let required = user_schema.map_or(&default_required[..], |s| &s.required[..]);
    for field in required {
        let missing = match field.as_str() {
            "name" => scenario.name.trim().is_empty(),
            "description" => scenario
                .description
                .as_deref()
                .is_none_or(|d| d.trim().is_empty()),
            "phases" => scenario.phases.is_empty(),
            "type" => scenario.kind.is_none(),
            "priority" => scenario.priority.is_none(),
            "max_parallel" => scenario.max_parallel.is_none(),
            "inputs" => scenario.inputs.is_empty(),
            "notify" => scenario.notify.is_empty(),
            "schedule" => scenario.schedule.is_none(),
            // `parse_user_schema` refuses any other name.
            _ => false,
        };
        // An empty list is there, but holds nothing: said at it, as a workflow's `steps: []`.
        if missing && field == "phases" && locate(text, &["phases".into()]).is_some() {
            report(
                &["phases".into()],
                "a scenario needs at least one phase".to_string(),
                Some("list them under `phases:`, each `- name: ...` with a `description:`"),
            );
        } else if missing {
            // Worded as a missing key the parser finds is (`definition::workflow`).
            report(
                &[],
                format!("Missing required field: {field}"),
                Some(&format!("add `{field}:` here")),
            );
        }
    }
    // An empty name is reported above when it is required; otherwise here.
    let name_required = required.iter().any(|f| f == "name");
    if !(name_required && scenario.name.trim().is_empty())
        && let Err(bad) = check_name(NameKind::Scenario, &scenario.name)
    {
        report(&["name".into()], bad.problem, Some(&bad.fix));
    }
    if let Some(schema) = user_schema {
        for (field, value, path) in [
            ("type", scenario.kind.as_deref(), "type"),
            ("priority", scenario.priority.as_deref(), "priority"),
        ] {
            if let (Some(rule), Some(v)) = (schema.fields.get(field), value)
                && !rule.allowed.is_empty()
                && !rule.allowed.iter().any(|a| a == v)
            {
                report(
                    &[path.into()],
                    format!(
                        "Invalid {field}: {v} (allowed: {})",
                        rule.allowed.join(", ")
                    ),
                    None,
                );
            }
        }
    }
    if let Some(n) = scenario.max_parallel
        && let Err(e) = check_count(
            "max_parallel",
            u64::from(n),
            1,
            u64::from(MAX_PARALLEL),
            "phases active at once: write 1 to 1024",
        )
    {
        report(&["max_parallel".into()], e, None);
    }
    let names: BTreeSet<&str> = scenario.phases.iter().map(|p| p.name.as_str()).collect();
    // Each phase name as forgiving matching sees it, and the first phase with it.
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for (i, phase) in scenario.phases.iter().enumerate() {
        let base: Vec<Seg> = vec!["phases".into(), Seg::Index(i)];
        let key = |k: &str| [base.as_slice(), &[Seg::Key(k.to_string())]].concat();
        if let Err(bad) = check_name(NameKind::Phase, &phase.name) {
            report(&key("name"), bad.problem, Some(&bad.fix));
        }
        match seen.get(&normalize_name(&phase.name)) {
            // Worded as a workflow's step is (`validate::workflow`).
            Some(&first) if scenario.phases[first].name == phase.name => report(
                &key("name"),
                format!("phase name `{}` is used twice", shown(&phase.name)),
                Some(&format!(
                    "phase {} already has this name; names must be unique",
                    first + 1
                )),
            ),
            Some(&first) => report(
                &key("name"),
                format!(
                    "phase name `{}` collides with `{}` (phase {}): names are matched ignoring case, spaces, `_` and `-`, so `orchestrate complete` could mean either",
                    shown(&phase.name),
                    shown(&scenario.phases[first].name),
                    first + 1
                ),
                Some("rename one of them"),
            ),
            None => {
                seen.insert(normalize_name(&phase.name), i);
            }
        }
        // A malformed `after:` list (an empty entry) hides none of its other problems: its
        // names are checked too, and cycles through it are found (`dependencies`).
        let after = match phase.parsed_condition() {
            Err(e) => {
                let raw = phase.condition.as_deref().unwrap_or_default();
                match after_entries(raw)
                    .into_iter()
                    .find(|(n, _, _)| n.is_empty())
                {
                    Some((_, a, b)) => {
                        placed.push(on_entry(text, &key("condition"), raw, (a, b), e));
                    }
                    None => report(&key("condition"), e, None),
                }
                phase.after_names()
            }
            Ok(Condition::After(deps)) => Some(deps),
            Ok(c) => {
                let word = if c == Condition::Manual {
                    "manual"
                } else {
                    "auto"
                };
                if let Some(rule) = user_schema.and_then(|s| s.fields.get("condition"))
                    && !rule.allowed.is_empty()
                    && phase.condition.is_some()
                    && !rule.allowed.iter().any(|a| a == word)
                {
                    report(
                        &key("condition"),
                        format!(
                            "Invalid condition: {word} (allowed: {}, after:PHASE)",
                            rule.allowed.join(", ")
                        ),
                        None,
                    );
                }
                None
            }
        };
        let raw = phase.condition.as_deref().unwrap_or_default();
        let entries = after_entries(raw);
        for d in after.unwrap_or_default() {
            if !names.contains(d.as_str()) {
                let message = format!(
                    "Unknown condition: after:{0} (no phase named `{0}`)",
                    shown(&d)
                );
                // As a misspelt step name gets (`validate::workflow`).
                let hint = crate::definition::catalog_suggest(&d, names.iter().copied())
                    .first()
                    .map(|best| format!("did you mean `{}`?", shown(best)));
                match entries.iter().find(|(n, _, _)| *n == d) {
                    Some(&(_, a, b)) => {
                        let found = on_entry(text, &key("condition"), raw, (a, b), message);
                        placed.push(match &hint {
                            Some(h) => found.with_hint(h),
                            None => found,
                        });
                    }
                    None => report(&key("condition"), message, hint.as_deref()),
                }
            }
        }
        for (j, agent) in phase.agents.iter().enumerate() {
            let path = [key("agents").as_slice(), &[Seg::Index(j)]].concat();
            if let Some(summary) = broken_agents
                .get(&normalize_name(agent))
                .filter(|_| !agents.contains(&normalize_name(agent)))
            {
                let (message, hint) = super::broken_agent_problem(agent, summary);
                // The caret under the name (in a flow list, not the rest of the line).
                let place = at(text, &path);
                let width = place
                    .and_then(|l| text.lines().nth(l.line - 1))
                    .zip(place)
                    .filter(|(line, l)| {
                        line.chars()
                            .skip(l.column - 1)
                            .collect::<String>()
                            .starts_with(agent.as_str())
                    })
                    .map(|_| agent.chars().count());
                placed.push(
                    Problem::new(message, place)
                        .with_width(width)
                        .with_hint(hint),
                );
            } else if !agents.contains(&normalize_name(agent)) {
                report(
                    &path,
                    format!("Agent not found: {}", shown(agent)),
                    Some("agents are Markdown files in CORTEX_HOME/agents/ or .claude/agents/"),
                );
            } else if let Some(first) = phase.agents[..j].iter().find(|a| same_name(a, agent)) {
                report(
                    &path,
                    format!(
                        "agent `{}` is listed twice in this phase (as `{}` before)",
                        shown(agent),
                        shown(first)
                    ),
                    Some("list each agent once"),
                );
            }
        }
        for (below, e) in attempt_limits(phase.timeout.as_ref(), phase.retry.as_ref()) {
            report(&[base.as_slice(), &below].concat(), e, None);
        }
    }
    // Inputs, and templates in what phases run: inputs must be declared, phase outputs must be
    // of phases this one runs after (directly or not), so they are there by then.
    let deps = dependencies(scenario);
    // Secret inputs and outputs are found on the scenario read as a workflow.
    let as_workflow = scenario.as_workflow();
    let mut c = super::workflow::Checker::new(text);
    c.secrets_of = Some(as_workflow.clone());
    c.foreach =
        super::workflow::foreach_units(scenario.phases.iter().map(|p| (&p.name, &p.foreach)));
    c.units = scenario.phases.iter().map(|p| p.name.clone()).collect();
    super::workflow::check_inputs(
        &mut c,
        &scenario.inputs,
        &crate::execute::secret_inputs(&as_workflow),
    );
    super::notify::check_notify(&mut c, &scenario.notify, &scenario.inputs);
    if let Some(schedule) = &scenario.schedule {
        let secret = crate::execute::secret_inputs(&scenario.as_workflow());
        super::schedule::check_schedule(&mut c, schedule, &scenario.inputs, &secret);
    }
    for (i, phase) in scenario.phases.iter().enumerate() {
        let before: Vec<&str> = upstream(&deps, i)
            .into_iter()
            .map(|j| scenario.phases[j].name.as_str())
            .collect();
        let base: Vec<Seg> = vec!["phases".into(), Seg::Index(i)];
        let key = |k: &str| [base.as_slice(), &[Seg::Key(k.to_string())]].concat();
        // A phase's checks run once its outputs are reported (`orchestrate complete --output`,
        // or written to $CORTEX_OUTPUT): they may read them, as a step's `validate: - run:`
        // reads the step's own.
        let mut with_self = before.clone();
        with_self.push(phase.name.as_str());
        // Each with whether it is a shell command, whose templates must stand where a variable
        // reference expands, and whether it may read the phase's own outputs.
        let mut texts: Vec<(Vec<Seg>, &str, bool, bool)> = Vec::new();
        if let Some(run) = &phase.run {
            match run {
                crate::definition::Commands::One(cmd) => texts.push((key("run"), cmd, true, false)),
                crate::definition::Commands::Many(cmds) => {
                    for (j, cmd) in cmds.iter().enumerate() {
                        texts.push((
                            [key("run").as_slice(), &[Seg::Index(j)]].concat(),
                            cmd,
                            true,
                            false,
                        ));
                    }
                }
            }
        }
        for (j, name) in phase.secret_env.iter().enumerate() {
            if !super::is_env_name(name) {
                c.problem(
                    &[key("secret_env").as_slice(), &[Seg::Index(j)]].concat(),
                    format!("`{}` is not a valid environment variable name", shown(name)),
                );
            }
        }
        for (name, value) in &phase.env {
            let p = [key("env").as_slice(), &[Seg::Key(name.clone())]].concat();
            // As a step's `env:` (a name with `=` or an empty one would never be set).
            if !super::is_env_name(name) {
                c.hinted_at_key(
                    &p,
                    if name.is_empty() {
                        "an empty name is not a valid environment variable name".to_string()
                    } else {
                        format!("`{}` is not a valid environment variable name", shown(name))
                    },
                    "letters, digits and `_`, not starting with a digit",
                );
            }
            let secret =
                crate::execute::is_secret_name(name) || phase.secret_env.iter().any(|s| s == name);
            if let Some((problem, fix)) = super::literal_secret(name, &value.0, secret, "phase") {
                c.hinted(&p, problem, fix);
            }
            c.no_nul(&p, &value.0, &format!("the value of `{}`", shown(name)));
            c.fits_one(
                &p,
                &value.0,
                Some(name),
                &format!("the value of `{}`", shown(name)),
            );
            texts.push((p, &value.0, false, false));
        }
        if let Some(dir) = &phase.working_dir {
            c.no_nul(&key("working_dir"), dir, "the working directory");
            texts.push((key("working_dir"), dir, false, false));
        }
        super::workflow::check_runs_on(&mut c, &key("runs_on"), &phase.runs_on);
        if let Some(d) = &phase.description {
            texts.push((key("description"), d, false, false));
        }
        // A rollback runs only once its phase completed: it may read the phase's own outputs.
        if let Some(r) = &phase.rollback {
            texts.push((key("rollback"), r, true, true));
        }
        // A criterion's templates are filled when it is shown or run: checked as a
        // description's (an item) or a command's (a check), each placed in its own text.
        for (j, criterion) in phase.success_criteria.iter().enumerate() {
            let item = [key("success_criteria").as_slice(), &[Seg::Index(j)]].concat();
            match criterion {
                crate::definition::Criterion::Check { check } => texts.push((
                    [item.as_slice(), &["check".into()]].concat(),
                    check,
                    true,
                    true,
                )),
                crate::definition::Criterion::Item(text) => texts.push((item, text, false, false)),
            }
        }
        if let Some(condition) = &phase.if_ {
            c.condition("phase", &key("if"), condition, &scenario.inputs, &before);
        }
        if let Some(foreach) = &phase.foreach {
            c.foreach(
                "phase",
                &key("foreach"),
                foreach,
                &scenario.inputs,
                &before,
                &as_workflow,
            );
        }
        c.item_ok = phase.foreach.is_some();
        for (path, value, shell, own) in texts {
            let earlier = if own { &with_self } else { &before };
            c.templates_of("phase", &path, value, &scenario.inputs, earlier);
            if shell {
                c.shell_templates(&path, value);
            }
        }
        c.item_ok = false;
    }
    let cautions = c.caution_lines(path);
    let template_problems = c.problems;
    // Every cycle, each at the entry of its first phase's `after:` naming the phase before it
    // in the cycle.
    for cycle in find_cycles(&deps) {
        let names: Vec<String> = cycle
            .iter()
            .map(|&i| shown(&scenario.phases[i].name))
            .collect();
        let message = format!("Circular dependency: {}", names.join(" → "));
        let path: Vec<Seg> = vec!["phases".into(), Seg::Index(cycle[0]), "condition".into()];
        let raw = scenario.phases[cycle[0]]
            .condition
            .as_deref()
            .unwrap_or_default();
        let before = &scenario.phases[cycle[cycle.len() - 2]].name;
        match after_entries(raw).into_iter().find(|(n, _, _)| n == before) {
            Some((_, a, b)) => placed.push(on_entry(text, &path, raw, (a, b), message)),
            None => report(&path, message, None),
        }
    }
    problems.extend(placed);
    problems.extend(template_problems);
    // In the order of the file (those without a place last).
    problems.sort_by_key(|p| (p.at.is_none(), p.at));
    if problems.is_empty() {
        (Ok(()), cautions)
    } else {
        (
            Err(DefinitionError {
                path: path.to_string(),
                text: text.to_string(),
                problems,
            }),
            cautions,
        )
    }
}
