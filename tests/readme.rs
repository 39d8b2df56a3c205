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

/// Every line of the tour runs as written, twice in the same directory with a fresh home each
/// time, and the second pass behaves as the first. Review m, finding 8: the tour left files in
/// the directory it ran in (`approved`, `notifications.log`, `publish.log`, `run.jsonl`), and a
/// second pass behaved otherwise (the pause-demo found `approved` and completed at once). What
/// the tour writes goes to its home, but for what its examples build or report where cortex
/// runs (which `.gitignore` ignores).
#[test]
fn every_line_of_the_readme_tour_runs_as_written_and_a_second_pass_behaves_as_the_first() {
    let lines = tour();
    assert!(lines.len() >= 20, "the tour has {} lines", lines.len());
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("project");
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("examples"),
        &project.join("examples"),
    );
    run_tour(&lines, dir.path(), &dir.path().join("first-home"), &project);
    let gitignore =
        std::fs::read_to_string(format!("{}/.gitignore", env!("CARGO_MANIFEST_DIR"))).unwrap();
    for entry in std::fs::read_dir(&project).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        assert!(
            name == "examples" || gitignore.lines().any(|l| l == format!("/{name}")),
            "the tour left `{name}` in the directory it ran in, and .gitignore does not ignore it"
        );
    }
    run_tour(
        &lines,
        dir.path(),
        &dir.path().join("second-home"),
        &project,
    );
}

/// Run each line of the tour in `project` through `/bin/sh`, with `home` as the tour's
/// `CORTEX_HOME` (and `HOME` at `user_home`); each must exit as its comment says.
fn run_tour(lines: &[String], user_home: &Path, home: &Path, project: &Path) {
    let bin = Path::new(env!("CARGO_BIN_EXE_cortex")).parent().unwrap();
    let path = format!("{}:/usr/local/bin:/usr/bin:/bin", bin.display());
    for line in lines {
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
            .current_dir(project)
            .env_clear()
            .env("PATH", &path)
            .env("HOME", user_home)
            .env("USER", "reader")
            .env("CORTEX_HOME", home)
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
/// which is `cortex`) parse as written; the first of "The two commands" runs and completes; the
/// Claude Code block's setup line runs.
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

/// A stand-in for Claude Code on PATH: the documented `--output-format json` result, its
/// answer naming the first line of the prompt it was given on standard input.
const STAND_IN_CLAUDE: &str = r#"#!/bin/sh
first=$(head -n 1)
printf '{"type":"result","subtype":"success","is_error":false,"num_turns":2,"result":"did %s","session_id":"0b5e7a3c-0000-4000-8000-000000000001","total_cost_usd":0.01}\n' "$first"
"#;

/// The Claude Code section's block runs as written, line by line, with Claude Code (a stand-in)
/// on PATH: the agent is installed, the scenario written, `implement` done by Claude Code (its
/// answer recorded as the phase's `result` and shown in `review`'s prompt), `review` waits
/// (exit 3) until it is reported, and the run completes. Before, the block ran a placeholder
/// scenario (`SCENARIO`) that nobody had.
#[test]
fn the_readme_claude_code_block_runs_a_scenario_whose_phase_claude_code_does() {
    let readme = std::fs::read_to_string(format!("{}/README.md", env!("CARGO_MANIFEST_DIR")))
        .expect("README.md");
    let section = &readme[readme
        .find("## Using cortex from Claude Code")
        .expect("the section")..];
    let setup = section
        .find("```sh\nmkdir -p \"$CORTEX_HOME/agents\"")
        .expect("the block that installs the agent")
        + "```sh\n".len();
    let block = &section[setup..setup + section[setup..].find("```").expect("it ends")];
    // Commands as the shell reads them: a heredoc's lines belong to the line that opens it.
    let mut commands: Vec<String> = Vec::new();
    let mut heredoc = None;
    for line in block.lines() {
        match &heredoc {
            Some(end) => {
                commands.last_mut().unwrap().push_str(&format!("\n{line}"));
                if line == end {
                    heredoc = None;
                }
            }
            None => {
                if let Some((_, tag)) = line.split_once("<<'") {
                    heredoc = Some(tag.trim_end_matches('\'').to_string());
                }
                commands.push(line.to_string());
            }
        }
    }
    assert!(heredoc.is_none(), "a heredoc is never closed:\n{block}");

    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("cortex-demo");
    let project = dir.path().join("project");
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("examples"),
        &project.join("examples"),
    );
    let tools = dir.path().join("tools");
    std::fs::create_dir_all(&tools).unwrap();
    let claude = tools.join("claude");
    std::fs::write(&claude, STAND_IN_CLAUDE).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&claude, std::fs::Permissions::from_mode(0o755)).unwrap();
    let bin = Path::new(env!("CARGO_BIN_EXE_cortex")).parent().unwrap();
    let path = format!("{}:{}:/usr/bin:/bin", bin.display(), tools.display());
    let mut ran = 0;
    for command in &commands {
        if command.starts_with("cortex tui") {
            continue; // needs a terminal
        }
        let out = Command::new("/bin/sh")
            .arg("-c")
            .arg(format!("set -e; {command}"))
            .current_dir(&project)
            .env_clear()
            .env("PATH", &path)
            .env("HOME", dir.path())
            .env("CORTEX_HOME", &home)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(expected_code(command.lines().next().unwrap())),
            "README line `{command}`:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        ran += 1;
        if command.starts_with("cortex orchestrate run") {
            let status = Command::new(env!("CARGO_BIN_EXE_cortex"))
                .args([
                    "--home",
                    home.to_str().unwrap(),
                    "orchestrate",
                    "status",
                    "--json",
                ])
                .output()
                .unwrap();
            let doc: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
            let phase = |name: &str| {
                doc["phases"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|p| p["name"] == name)
                    .cloned()
                    .unwrap()
            };
            let implement = phase("implement");
            assert_eq!(implement["status"], "completed", "{doc}");
            assert_eq!(
                implement["agent_result"]["agent"], "claude-implementer",
                "{doc}"
            );
            assert_eq!(
                implement["outputs"]["result"], "did Phase: implement",
                "{doc}"
            );
            let review = phase("review");
            assert_eq!(review["status"], "waiting", "{doc}");
            assert!(
                review["prompt"]
                    .as_str()
                    .unwrap()
                    .contains("Claude Code's summary: did Phase: implement"),
                "{doc}"
            );
        }
    }
    assert_eq!(ran, 4, "{commands:?}");
    let status = Command::new(env!("CARGO_BIN_EXE_cortex"))
        .args([
            "--home",
            home.to_str().unwrap(),
            "orchestrate",
            "status",
            "--json",
        ])
        .output()
        .unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(doc["status"], "completed", "{doc}");
}
