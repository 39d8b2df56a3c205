//! A person following seed 001 literally — its YAML at the paths it names, its commands as
//! written, no agent files of their own — gets what the seed shows: the agents its scenarios
//! name ship inside the binary, the workflow it runs by name exists, and an agent that exists
//! nowhere is still an error. The YAML is read from the seed itself (`../shared/seeds/`).

mod common;

use common::Env;

/// The seed's text, if it is beside the project (CI always has it).
fn seed() -> Option<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/seeds");
    let entry = std::fs::read_dir(&dir)
        .ok()?
        .flatten()
        .find(|e| e.file_name().to_string_lossy().starts_with("001_"))?;
    std::fs::read_to_string(entry.path()).ok()
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
        eprintln!("skipped: ../shared/seeds/001_*.txt is not beside the project");
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
    std::fs::write(
        env.home().join("scenarios/broken-scenario.yaml"),
        "name: broken-scenario\nphases:\n  - name: a\n    condition: after:nonexistent\n    agents:\n      - fake-agent\n",
    )
    .unwrap();
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
