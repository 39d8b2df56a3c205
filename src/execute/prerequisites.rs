//! Checking a workflow's `requires:` against this machine: commands on PATH, variables set,
//! files present.

use std::path::Path;

use crate::definition::Requires;

/// Every unmet prerequisite, as a sentence saying how to meet it.
pub fn check_requires(requires: &Requires, working_dir: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    for command in &requires.commands {
        if !on_path(command, working_dir) {
            problems.push(format!(
                "required command `{command}` is not on PATH; install it"
            ));
        }
    }
    for name in &requires.env {
        if std::env::var_os(name).is_none_or(|v| v.is_empty()) {
            problems.push(format!("required environment variable `{name}` is not set"));
        }
    }
    for file in &requires.files {
        if !working_dir.join(file).exists() {
            problems.push(format!(
                "required file `{file}` does not exist in {}",
                working_dir.display()
            ));
        }
    }
    problems
}

/// Whether `command` can be run from `working_dir`: a path (relative to it) to an executable
/// file, or a name found on PATH — only there, as the process started in `working_dir` looks
/// for it (`execvp`): a relative entry of PATH (`.`, or an empty one) is relative to
/// `working_dir`, never to wherever cortex itself runs. `validate` (from the current
/// directory) and a run's pre-validation (from its working directory) ask the same question.
fn on_path(command: &str, working_dir: &Path) -> bool {
    if command.contains('/') {
        return is_executable(&working_dir.join(command));
    }
    if command.is_empty() {
        return false;
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path).any(|dir| is_executable(&working_dir.join(dir).join(command)))
}

/// Why Claude Code cannot be run as `program` from `working_dir`, if it cannot: the program
/// is not found (on PATH, or at the path given), with how to fix it. No attempt of an agent
/// it runs could start, and trying again would not find it either.
pub fn claude_program_missing(program: &str, working_dir: &Path) -> Option<String> {
    if on_path(program, working_dir) {
        return None;
    }
    let where_ = if program.contains('/') {
        format!("`{program}` is not an executable file")
    } else {
        format!("`{program}` is not on PATH")
    };
    Some(format!(
        "Claude Code runs agents here (`runner: claude`), and its program {where_}: install Claude Code (`npm install -g @anthropic-ai/claude-code`), or set `agents.claude.program` in cortex.config.json to where it is"
    ))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// The unmet prerequisites of every workflow `workflow`'s `uses:` steps run, directly or
/// through their own `uses:` (read from the run's snapshot, `start.uses`), each named by the
/// child and the step that runs it: a run's pre-validation says them before anything starts
/// (SPEC §4), rather than the child's own pre-validation after the parent's earlier steps
/// ran. A child's `requires:` is checked from the directory it would run in (the parent's,
/// joined with the step's `working_dir`).
///
/// Not checked up front: a child whose step's `if:` is an expression over the run's inputs
/// alone that does not hold now (that child will not run; a resume with other `--input`
/// values that makes it run meets its own pre-validation when it starts), and a child whose
/// step's `working_dir` is a template (its directory is known only when the step runs). Any
/// other `if:` (one reading outputs, or a command) is decided only when the step is reached,
/// after the parent's side effects: its child is checked, the problem saying that it runs
/// only if the condition holds. Children's `health:` checks are not run up front: they probe
/// the state the child will act on, which the parent's earlier steps may be the ones to make
/// (and they are commands, with costs of their own); each still runs before any step of its
/// child (the child's own pre-validation).
pub fn children_requires(
    start: &crate::event::RunStarted,
    workflow: &crate::definition::Workflow,
    working_dir: &Path,
    input: &dyn Fn(&str) -> Option<crate::definition::expr::Value>,
) -> Vec<String> {
    let mut problems = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    walk_children(
        start,
        workflow,
        working_dir,
        Some(input),
        &mut Vec::new(),
        &mut seen,
        &mut problems,
    );
    problems
}

/// How a child is reached: the `uses:` steps down from the run, `(workflow, step, if)`.
type Chain = Vec<(String, String, Option<String>)>;

/// The value of one of the run's inputs, by name.
type InputOf<'a> = &'a dyn Fn(&str) -> Option<crate::definition::expr::Value>;

fn walk_children(
    start: &crate::event::RunStarted,
    workflow: &crate::definition::Workflow,
    working_dir: &Path,
    // The run's own inputs: only the top-most workflow's conditions are decided up front.
    input: Option<InputOf<'_>>,
    chain: &mut Chain,
    seen: &mut std::collections::BTreeSet<(String, std::path::PathBuf)>,
    problems: &mut Vec<String>,
) {
    use crate::definition::IfCondition;
    for step in &workflow.steps {
        let Some(uses) = &step.uses else { continue };
        let Some(used) = start.uses.get(uses) else {
            continue;
        };
        let condition = match (&step.if_, input) {
            (None, _) => None,
            (Some(IfCondition::Expression(text)), Some(input)) => {
                match inputs_only_condition(text, input) {
                    Some(false) => continue,
                    Some(true) => None,
                    None => Some(text.clone()),
                }
            }
            (Some(c), _) => Some(c.text()),
        };
        let dir = match &step.working_dir {
            Some(d) if d.contains("${{") => continue,
            Some(d) => working_dir.join(d),
            None => working_dir.to_path_buf(),
        };
        if chain.len() > 32 || !seen.insert((uses.clone(), dir.clone())) {
            continue;
        }
        let Ok(child) =
            serde_json::from_value::<crate::definition::Workflow>(used.definition.clone())
        else {
            continue;
        };
        chain.push((workflow.name.clone(), step.name.clone(), condition));
        let whose = chain
            .iter()
            .map(|(wf, step, cond)| match cond {
                None => format!("step `{step}` of `{wf}`"),
                Some(c) => format!("step `{step}` of `{wf}`, when `{c}` holds"),
            })
            .rev()
            .collect::<Vec<_>>()
            .join(", run by ");
        problems.extend(
            check_requires(&child.requires, &dir)
                .into_iter()
                .map(|p| format!("workflow `{}` (run by {whose}): {p}", child.name)),
        );
        walk_children(start, &child, &dir, None, chain, seen, problems);
        chain.pop();
    }
}

/// Whether an `if:` expression holds, when it reads the run's inputs alone (None: it reads
/// outputs or an item, or does not parse — decided only when its step is reached).
fn inputs_only_condition(text: &str, input: InputOf<'_>) -> Option<bool> {
    use crate::definition::expr;
    use crate::definition::template::Reference;
    let parsed = expr::parse(text).ok()?;
    if !expr::references(&parsed)
        .iter()
        .all(|(r, _)| matches!(r, Reference::Input(_)))
    {
        return None;
    }
    let resolve = |r: &Reference| match r {
        Reference::Input(name) => input(name),
        _ => None,
    };
    expr::evaluate(&parsed, &resolve).result.ok()
}
