//! End-to-end tests of scenarios through the real binary: the seed's four scenarios, its
//! broken scenario, cycles, the user schema, list and preview.

mod common;

use common::Env;

fn copy_dir(from: &str, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(format!("{}/{from}", env!("CARGO_MANIFEST_DIR"))).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, to.join(path.file_name().unwrap())).unwrap();
    }
}

/// A home with the seed's four scenarios and the agents they name.
fn seeded() -> Env {
    let env = Env::new();
    copy_dir("examples/scenarios", &env.home().join("scenarios"));
    copy_dir("examples/agents", &env.home().join("agents"));
    env
}

#[test]
fn the_four_seed_scenarios_validate_and_list() {
    let env = seeded();
    let all = env.run(&["orchestrate", "validate", "--all"]);
    assert_eq!(all.code, 0, "{}{}", all.stdout, all.stderr);
    insta::assert_snapshot!("validate_all_seed", all.snapshot(&env));
    insta::assert_snapshot!("list", env.run(&["orchestrate", "list"]).snapshot(&env));
    let json = env.run(&["--json", "orchestrate", "list"]).json();
    assert_eq!(json.as_array().unwrap().len(), 5, "the four seeds and ship-it");
}

#[test]
fn preview_shows_conditions_agents_and_one_parallel_opportunity() {
    let env = seeded();
    let out = env.run(&["orchestrate", "preview", "full stack feature"]);
    assert_eq!(out.code, 0);
    assert!(
        out.stdout
            .contains("3. frontend [after:analysis] [PARALLEL]"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("Parallel opportunities: 1 (backend + frontend)"),
        "{}",
        out.stdout
    );
    insta::assert_snapshot!("preview_full_stack_feature", out.snapshot(&env));
    let json = env
        .run(&["--json", "orchestrate", "preview", "full-stack-feature"])
        .json();
    assert_eq!(
        json["parallel_opportunities"],
        serde_json::json!([["backend", "frontend"]])
    );
}

#[test]
fn the_seed_broken_scenario_reports_every_error_at_once() {
    let env = seeded();
    std::fs::write(
        env.home().join("scenarios/broken-scenario.yaml"),
        "name: broken-scenario\nphases:\n  - name: build\n    condition: after:nonexistent\n    agents:\n      - fake-agent\n",
    )
    .unwrap();
    let out = env.run(&["orchestrate", "validate", "broken-scenario"]);
    assert_eq!(out.code, 2);
    for expected in [
        "Missing required field: description",
        "Unknown condition: after:nonexistent",
        "Agent not found: fake-agent",
    ] {
        assert!(
            out.stdout.contains(expected),
            "{expected} missing:\n{}",
            out.stdout
        );
    }
    insta::assert_snapshot!("validate_broken", out.snapshot(&env));
    assert_eq!(env.run(&["orchestrate", "validate", "--all"]).code, 2);
}

#[test]
fn a_cycle_is_rejected_naming_its_phases() {
    let env = seeded();
    std::fs::write(
        env.project().join("loop.yaml"),
        "name: loop\ndescription: d\nphases:\n  - {name: plan, condition: 'after:ship'}\n  - {name: build, condition: 'after:plan'}\n  - {name: ship, condition: 'after:build'}\n  - {name: side, condition: auto}\n",
    )
    .unwrap();
    let out = env.run(&["orchestrate", "validate", "loop.yaml"]);
    assert_eq!(out.code, 2);
    insta::assert_snapshot!("validate_cycle", out.snapshot(&env));
}

#[test]
fn the_user_schema_enforces_required_fields_and_enums() {
    let env = seeded();
    std::fs::write(
        env.home().join("scenarios/schema.yaml"),
        "required:\n  - name\n  - description\n  - phases\n  - type\nfields:\n  type:\n    enum: [development, deployment, maintenance, migration]\n  priority:\n    enum: [low, medium, high, critical]\n  condition:\n    enum: [manual, auto]\n",
    )
    .unwrap();
    assert_eq!(
        env.run(&["orchestrate", "validate", "--all"]).code,
        0,
        "the seeds satisfy the seed schema"
    );
    std::fs::write(
        env.home().join("scenarios/odd.yaml"),
        "name: odd\ndescription: d\npriority: urgent\nphases:\n  - {name: a}\n",
    )
    .unwrap();
    let out = env.run(&["orchestrate", "validate", "odd"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stdout.contains("Missing required field: type"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("Invalid priority: urgent"),
        "{}",
        out.stdout
    );
}

#[test]
fn unknown_scenarios_get_a_suggestion() {
    let env = seeded();
    let out = env.run(&["orchestrate", "preview", "release-prop"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("did you mean `release-prep`?"),
        "{}",
        out.stderr
    );
}
