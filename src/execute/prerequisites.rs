//! Checking a workflow's `requires:` against this machine: commands on PATH, variables set,
//! files present.

use std::path::Path;

use crate::definition::Requires;

/// Every unmet prerequisite, as a sentence saying how to meet it.
pub fn check_requires(requires: &Requires, working_dir: &Path) -> Vec<String> {
    let mut problems = Vec::new();
    let path = std::env::var_os("PATH").unwrap_or_default();
    for command in &requires.commands {
        let found = if command.contains('/') {
            is_executable(&working_dir.join(command))
        } else {
            std::env::split_paths(&path).any(|dir| is_executable(&dir.join(command)))
        };
        if !found {
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

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}
