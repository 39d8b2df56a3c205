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
