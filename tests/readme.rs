//! The README's tour pastes and runs: every line of its `sh` block is run, in order, in a
//! fresh home and a copy of the project's examples, through `/bin/sh` with the built binary on
//! PATH. A line ending in `# ... (exit N)` must exit N; any other line must exit 0. Lines
//! marked `(interactive)` need a terminal and are only parsed.

use std::path::Path;
use std::process::Command;

use clap::Parser;

/// The tour: the first ```sh block after "## A tour".
fn tour() -> Vec<String> {
    let readme = std::fs::read_to_string(format!("{}/README.md", env!("CARGO_MANIFEST_DIR")))
        .expect("README.md");
    let after = &readme[readme.find("## A tour").expect("a tour section")..];
    let start = after.find("```sh\n").expect("a sh block") + "```sh\n".len();
    let block = &after[start..];
    let block = &block[..block.find("```").expect("the block ends")];
    block
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .map(str::to_string)
        .collect()
}

/// `(exit N)` in a line's comment, else 0.
fn expected_code(line: &str) -> i32 {
    line.split_once('#')
        .and_then(|(_, comment)| comment.split("(exit ").nth(1))
        .and_then(|rest| rest.split(')').next())
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let target = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_dir(&path, &target);
        } else {
            std::fs::copy(&path, &target).unwrap();
        }
    }
}

#[test]
fn every_line_of_the_readme_tour_runs_as_written() {
    let lines = tour();
    assert!(lines.len() >= 20, "the tour has {} lines", lines.len());
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("cortex-demo");
    let project = dir.path().join("project");
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("examples"),
        &project.join("examples"),
    );
    let bin = Path::new(env!("CARGO_BIN_EXE_cortex")).parent().unwrap();
    let path = format!("{}:/usr/local/bin:/usr/bin:/bin", bin.display());
    for line in &lines {
        let line = line.replace("/tmp/cortex-demo", &home.display().to_string());
        let command = line
            .split_once(" #")
            .map_or(line.as_str(), |(c, _)| c)
            .trim();
        if line.contains("(interactive)") {
            let argv = shell_words(command);
            assert!(
                cortex::cli::Cli::try_parse_from(&argv).is_ok(),
                "`{command}` does not parse"
            );
            continue;
        }
        let out = Command::new("/bin/sh")
            .arg("-c")
            .arg(format!("set -e; {command}"))
            .current_dir(&project)
            .env_clear()
            .env("PATH", &path)
            .env("HOME", dir.path())
            .env("USER", "reader")
            .env("CORTEX_HOME", &home)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(expected_code(&line)),
            "README tour line `{command}`:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Words of a simple command line (the interactive lines hold no quotes).
fn shell_words(command: &str) -> Vec<String> {
    command.split_whitespace().map(str::to_string).collect()
}

/// Every `sh` block of the README outside the tour: its `cortex` lines (and `cargo run --`,
/// which is `cortex`) parse as written, placeholders (`SCENARIO`) standing for a name; the
/// first of "The two commands" runs and completes; the Claude Code block's setup line runs.
#[test]
fn every_cortex_line_outside_the_tour_parses_and_the_first_command_runs() {
    let readme = std::fs::read_to_string(format!("{}/README.md", env!("CARGO_MANIFEST_DIR")))
        .expect("README.md");
    let tour_at = readme.find("## A tour").expect("a tour section");
    let mut lines = Vec::new();
    let mut at = 0;
    while let Some(start) = readme[at..].find("```sh\n") {
        let body_at = at + start + "```sh\n".len();
        let end = body_at + readme[body_at..].find("```").expect("the block ends");
        let in_tour = body_at > tour_at && readme[tour_at..body_at].matches("```sh\n").count() == 1;
        if !in_tour {
            lines.extend(
                readme[body_at..end]
                    .lines()
                    .map(|l| l.split(" #").next().unwrap_or_default().trim().to_string())
                    .filter(|l| !l.is_empty()),
            );
        }
        at = end + 3;
    }
    let commands: Vec<Vec<String>> = lines
        .iter()
        .flat_map(|l| l.split("&&").map(str::trim).map(str::to_string))
        .filter_map(|c| {
            let c = c
                .strip_prefix("cargo run -- ")
                .map_or(c.clone(), |r| format!("cortex {r}"));
            c.starts_with("cortex ").then(|| {
                c.replace("\"$TOKEN\"", "t0ken")
                    .replace("SCENARIO", "ship-it")
                    .split_whitespace()
                    .map(str::to_string)
                    .collect()
            })
        })
        .collect();
    assert!(commands.len() >= 5, "{commands:?}");
    for argv in &commands {
        if let Err(e) = cortex::cli::Cli::try_parse_from(argv) {
            panic!("README line `{}` does not parse: {e}", argv.join(" "));
        }
    }

    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("cortex-demo");
    let project = dir.path().join("project");
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("examples"),
        &project.join("examples"),
    );
    let bin = Path::new(env!("CARGO_BIN_EXE_cortex")).parent().unwrap();
    let first = lines
        .iter()
        .find(|l| l.starts_with("cargo run -- "))
        .expect("the two commands start with cargo run")
        .replace("cargo run -- ", "cortex ")
        .replace("/tmp/cortex-demo", &home.display().to_string());
    let setup = lines
        .iter()
        .find(|l| l.starts_with("mkdir -p \"$CORTEX_HOME/agents\""))
        .expect("the Claude Code block's setup line");
    for (command, expected) in [(first.as_str(), 0), (setup.as_str(), 0)] {
        let out = Command::new("/bin/sh")
            .arg("-c")
            .arg(format!("set -e; {command}"))
            .current_dir(&project)
            .env_clear()
            .env("PATH", format!("{}:/usr/bin:/bin", bin.display()))
            .env("HOME", dir.path())
            .env("CORTEX_HOME", &home)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(expected),
            "README line `{command}`:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert!(home.join("agents/claude-implementer.md").is_file());
}
