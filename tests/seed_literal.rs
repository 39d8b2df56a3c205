//! A person following seed 001 literally — its YAML at the paths it names, its commands as
//! written, no agent files of their own — gets what the seed shows: the agents its scenarios
//! name ship inside the binary, the workflow it runs by name exists, and an agent that exists
//! nowhere is still an error. The YAML is read from the seed itself (`shared/seeds/` beside the project).

mod common;

use common::Env;

/// Seed `prefix`'s text (`001_` …), from the `shared/seeds/` beside the project or beside any
/// directory above it (a git worktree lives deeper than the main checkout; looking only at
/// `../shared` skipped these tests there, silently), if there is one (CI always has it).
fn seed_text(prefix: &str) -> Option<String> {
    let project = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    project.ancestors().skip(1).find_map(|dir| {
        let entry = std::fs::read_dir(dir.join("shared/seeds"))
            .ok()?
            .flatten()
            .find(|e| e.file_name().to_string_lossy().starts_with(prefix))?;
        std::fs::read_to_string(entry.path()).ok()
    })
}

fn seed() -> Option<String> {
    seed_text("001_")
}

/// The ```yaml blocks of the seed, in order.
fn yaml_blocks(text: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("```yaml\n") {
        let body = &rest[start + "```yaml\n".len()..];
        let end = body.find("```").expect("a yaml block ends");
        blocks.push(body[..end].to_string());
        rest = &body[end..];
    }
    blocks
}

fn name_of(yaml: &str) -> Option<String> {
    yaml.lines()
        .find_map(|l| l.strip_prefix("name: "))
        .map(str::to_string)
}

#[test]
fn seed_001_followed_literally_gets_what_it_shows() {
    let Some(text) = seed() else {
        eprintln!("skipped: no shared/seeds/001_*.txt beside the project");
        return;
    };
    let env = Env::new();
    std::fs::create_dir_all(env.home().join("scenarios")).unwrap();
    let blocks = yaml_blocks(&text);
    assert!(
        blocks.len() >= 6,
        "the seed has {} yaml blocks",
        blocks.len()
    );
    for block in &blocks {
        // Part 2's workflow, part 3 and 6's scenarios, part 5's schema — where the seed says.
        if block.starts_with("required:") {
            std::fs::write(env.home().join("scenarios/schema.yaml"), block).unwrap();
        } else if block.contains("\nsteps:") {
            let name = name_of(block).unwrap();
            env.workflow(&name, block);
        } else if block.contains("\nphases:") {
            let name = name_of(block).unwrap();
            std::fs::write(env.home().join(format!("scenarios/{name}.yaml")), block).unwrap();
        }
    }
    assert!(
        !env.home().join("agents").exists(),
        "no agent files of their own"
    );

    // Part 1 and 2: workflows.
    let list = env.run(&["workflow", "list"]);
    assert_eq!(list.code, 0);
    let run = env.run(&["workflow", "run", "feature-development"]);
    assert_eq!(run.code, 3, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("Started workflow: feature-development"),
        "{}",
        run.stdout
    );
    for step in [
        "-> Planning",
        "-> Implementation",
        "-> Testing",
        "-> Documentation",
    ] {
        assert!(run.stdout.contains(step), "{}", run.stdout);
    }
    assert_eq!(env.run(&["workflow", "status"]).code, 0);
    assert_eq!(
        env.run(&["workflow", "resume"]).code,
        3,
        "it waits for Claude Code"
    );
    let modernize = env.run(&["workflow", "run", "code-modernization"]);
    assert_eq!(
        modernize.code, 3,
        "{}{}",
        modernize.stdout, modernize.stderr
    );

    // Part 4 and 5: scenarios, with the agents they name, which nobody wrote.
    let valid = env.run(&["orchestrate", "validate", "full-stack-feature"]);
    assert_eq!(valid.code, 0, "{}{}", valid.stdout, valid.stderr);
    assert!(
        valid
            .stdout
            .starts_with("[OK] full-stack-feature.yaml - Valid")
            && valid.stdout.contains("No circular dependencies"),
        "{}",
        valid.stdout
    );
    let all = env.run(&["orchestrate", "validate", "--all"]);
    assert_eq!(all.code, 0, "{}{}", all.stdout, all.stderr);
    assert!(!all.stdout.contains("Agent not found"), "{}", all.stdout);
    let preview = env.run(&["orchestrate", "preview", "full-stack-feature"]);
    assert!(
        preview
            .stdout
            .contains("Parallel opportunities: 1 (backend + frontend)"),
        "{}",
        preview.stdout
    );
    assert!(
        preview.stdout.contains("1. analysis [manual]"),
        "{}",
        preview.stdout
    );
    assert_eq!(env.run(&["orchestrate", "list"]).code, 0);
    assert_eq!(
        env.run(&["orchestrate", "run", "full-stack-feature"]).code,
        3
    );
    let status = env.run(&["orchestrate", "status"]);
    assert!(
        status.stdout.starts_with("Scenario: full-stack-feature")
            && status.stdout.contains("Phase Status:"),
        "{}",
        status.stdout
    );
    assert_eq!(
        env.run(&["orchestrate", "stop", "full-stack-feature"]).code,
        3
    );
    for scenario in [
        "microservice-migration",
        "release-prep",
        "incident-response",
    ] {
        let out = env.run(&["orchestrate", "preview", scenario]);
        assert_eq!(out.code, 0, "{scenario}: {}", out.stderr);
    }

    // Troubleshooting: agents by name.
    assert_eq!(env.run(&["agent", "status", "python-pro"]).code, 0);
    assert_eq!(env.run(&["agent", "activate", "python-pro"]).code, 0);

    // The broken scenario of part 5: its three errors, the missing agent among them.
    env.scenario("broken-scenario", "name: broken-scenario\nphases:\n  - name: a\n    condition: after:nonexistent\n    agents:\n      - fake-agent\n");
    let broken = env.run(&["orchestrate", "validate", "broken-scenario"]);
    assert_eq!(broken.code, 2);
    for said in [
        "[ERROR] broken-scenario.yaml",
        "Missing required field: description",
        "Unknown condition: after:nonexistent",
        "Agent not found: fake-agent",
    ] {
        assert!(broken.stdout.contains(said), "{}", broken.stdout);
    }
}

#[test]
fn a_users_agent_file_replaces_the_built_in_of_its_name() {
    let env = Env::new();
    std::fs::create_dir_all(env.home().join("agents")).unwrap();
    std::fs::write(
        env.home().join("agents/python-pro.md"),
        "---\nname: python-pro\ndescription: ours\ncommand: cat\n---\nOurs.\n",
    )
    .unwrap();
    let list = env.run(&["--json", "agent", "list"]).json();
    let agents = list["agents"].as_array().unwrap();
    let ours: Vec<_> = agents
        .iter()
        .filter(|a| a["name"] == "python-pro")
        .collect();
    assert_eq!(ours.len(), 1, "{list}");
    assert_eq!(ours[0]["description"], "ours");
    assert_eq!(ours[0]["builtin"], false);
    assert!(
        agents
            .iter()
            .any(|a| a["name"] == "code-reviewer" && a["builtin"] == true)
    );
    let human = env.run(&["agent", "list"]).stdout;
    assert!(human.contains("[built-in]"), "{human}");
}

/// The ```bash blocks of a seed: each `cortex ...` line, its comment cut off.
fn cortex_lines(text: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("```bash\n") {
        let body = &rest[start + "```bash\n".len()..];
        let end = body.find("```").expect("a bash block ends");
        for line in body[..end].lines() {
            let command = line.split(" #").next().unwrap_or_default().trim();
            if command.starts_with("cortex ") {
                lines.push(command.to_string());
            }
        }
        rest = &body[end + 3..];
    }
    lines
}

/// Every `cortex` command the seed shows, pasted in the order it shows them into a shell in a
/// home holding the seed's YAML (its placeholders `my-scenario`, `<name>` and `<agent-name>`
/// filled in with the seed's own names, a workflow's for `workflow <name>`): each one runs — exit 0, or 3 where a run waits or is
/// stopped — and none says `error:`.
#[test]
fn every_command_of_seed_001_pastes_and_runs_in_order() {
    let Some(text) = seed() else {
        eprintln!("skipped: no shared/seeds/001_*.txt beside the project");
        return;
    };
    let env = Env::new();
    std::fs::create_dir_all(env.home().join("scenarios")).unwrap();
    for block in yaml_blocks(&text) {
        if block.contains("\nsteps:") {
            env.workflow(&name_of(&block).unwrap(), &block);
        } else if block.contains("\nphases:") {
            let name = name_of(&block).unwrap();
            std::fs::write(env.home().join(format!("scenarios/{name}.yaml")), &block).unwrap();
        }
    }
    let lines = cortex_lines(&text);
    assert!(
        lines.len() >= 20,
        "the seed has {} cortex lines",
        lines.len()
    );
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_cortex"))
        .parent()
        .unwrap()
        .display()
        .to_string();
    for line in &lines {
        let name = if line.starts_with("cortex workflow") {
            "feature-development"
        } else {
            "full-stack-feature"
        };
        let command = line
            .replace("my-scenario", "full-stack-feature")
            .replace("<agent-name>", "python-pro")
            .replace("<name>", name);
        let out = std::process::Command::new("/bin/sh")
            .arg("-c")
            .arg(&command)
            .current_dir(env.project())
            .env("PATH", format!("{bin}:/usr/bin:/bin"))
            .env("CORTEX_HOME", env.home())
            .env("NO_COLOR", "1")
            .env_remove("CORTEX_DB")
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        assert!(
            matches!(out.status.code(), Some(0 | 3)) && !stderr.contains("error:"),
            "the seed's `{line}` (as `{command}`) exits {:?}:\n{stdout}{stderr}",
            out.status.code()
        );
    }
}

/// Seed 000's configuration block, as written, is a `cortex.config.json` that the engine
/// takes: the seed's workflow runs under it, and its console shows the seed's step lines.
#[test]
fn seed_000s_configuration_is_taken_as_written_and_its_console_lines_are_shown() {
    let Some(text) = seed_text("000_") else {
        eprintln!("skipped: no shared/seeds/000_*.txt beside the project");
        return;
    };
    let start = text.find("```json\n").expect("the seed has a json block") + "```json\n".len();
    let block = &text[start..];
    let block = &block[..block.find("```").unwrap()];
    let env = Env::new();
    env.config(block);
    let run = env.run(&["workflow", "run", "feature-development"]);
    assert_eq!(run.code, 3, "{}{}", run.stdout, run.stderr);
    assert!(run.stderr.is_empty(), "{}", run.stderr);
    let done = env.run(&["workflow", "step", "complete", "Plan"]);
    assert_eq!(done.code, 3, "{}{}", done.stdout, done.stderr);
    let status = env.run(&["workflow", "status"]).stdout;
    for shown in [
        "🔄 CORTEX Workflow Execution",
        "📋 Workflow: feature-development",
        "Steps: 4 total",
        "✅ Step 1/4: Plan",
        "Status: Complete",
        "⏳ Step 2/4: Implement",
    ] {
        assert!(status.contains(shown), "`{shown}` in:\n{status}");
    }
    let config = env.run(&["--json", "workflow", "validate", "feature-development"]);
    assert_eq!(config.code, 0, "{}{}", config.stdout, config.stderr);
}

/// Seed 000 names its commands `execute workflow`, `workflow status` and `resume workflow`
/// (and says "show workflow status"): each, as written, is answered with the command cortex
/// has for it, in the text and in `--json`'s hints. Before, `resume workflow` got "a similar
/// subcommand exists: 'serve'" and `execute workflow` no tip at all (review m, finding 6).
#[test]
fn seed_000s_command_phrasings_are_answered_with_the_command_cortex_has() {
    let env = Env::new();
    for (said, meant) in [
        (&["resume", "workflow"][..], "cortex workflow resume"),
        (&["execute", "workflow"][..], "cortex workflow run"),
        (&["status", "workflow"][..], "cortex workflow status"),
        (
            &["show", "workflow", "status"][..],
            "cortex workflow status",
        ),
        (
            &["workflow", "execute", "ship"][..],
            "cortex workflow run ship",
        ),
        (
            &["resume", "orchestrate", "r1"][..],
            "cortex orchestrate resume r1",
        ),
    ] {
        let out = env.run(said);
        assert_eq!(out.code, 2, "{said:?}");
        let tip = format!("tip: did you mean `{meant}`?");
        assert!(out.stderr.contains(&tip), "{said:?}: {}", out.stderr);
        assert!(!out.stderr.contains("'serve'"), "{said:?}: {}", out.stderr);
        let json: Vec<&str> = std::iter::once("--json")
            .chain(said.iter().copied())
            .collect();
        let doc = env.run(&json).json();
        assert_eq!(
            doc["hints"][0],
            format!(
                "did you mean `{}`?",
                meant.replacen("cortex", "cortex --json", 1)
            ),
            "{said:?}: {doc}"
        );
    }
    // `workflow status` is the command itself.
    let status = env.run(&["workflow", "status"]);
    assert!(
        status.stderr.contains("no workflow runs yet"),
        "{}",
        status.stderr
    );
    insta::assert_snapshot!(
        "seed_000_resume_workflow",
        env.run(&["resume", "workflow"]).snapshot(&env)
    );
}
