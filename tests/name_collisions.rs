//! Names are matched forgivingly (case, spaces, `_` and `-` do not matter), so two names that
//! match each other are one name twice: `cortex workflow step complete review` must never pick
//! `Review` out of `Review` and `review`. Definitions with such names are refused with an error
//! at the second one that names both; lookups that could mean two files say so.

mod common;

use common::Env;

fn assert_refused(out: &common::Out, place: &str, both: [&str; 2]) {
    let said = format!("{}{}", out.stdout, out.stderr);
    assert_eq!(out.code, 2, "{said}");
    assert!(said.contains(place), "not at {place}: {said}");
    for name in both {
        assert!(
            said.contains(&format!("`{name}`")),
            "{name} is not named: {said}"
        );
    }
}

#[test]
fn steps_whose_names_differ_only_in_case_or_spacing_are_refused_naming_both() {
    let env = Env::new();
    env.workflow(
        "review",
        "name: review\nsteps:\n  - name: Review\n    prompt: look\n  - name: review\n    run: 'true'\n",
    );
    let out = env.run(&["workflow", "validate", "review"]);
    assert_refused(&out, "review.yaml:5:11", ["review", "Review"]);
    assert!(out.text().contains("rename one of them"), "{}", out.stderr);
    // The run that would have let `step complete review` complete `Review` never starts.
    assert_eq!(env.run(&["workflow", "run", "review"]).code, 2);
    assert!(!env.db().exists(), "nothing was recorded");

    env.workflow(
        "docs",
        "name: docs\nsteps:\n  - {name: build docs, run: 'true'}\n  - {name: build_docs, run: 'true'}\n  - {name: Build-Docs, run: 'true'}\n",
    );
    let out = env.run(&["workflow", "validate", "docs"]);
    assert_refused(&out, "docs.yaml:4:12", ["build_docs", "build docs"]);
    assert_refused(&out, "docs.yaml:5:12", ["Build-Docs", "build docs"]);
    // Exact duplicates keep their own message.
    env.workflow(
        "twice",
        "name: twice\nsteps:\n  - {name: a, run: 'true'}\n  - {name: a, run: 'true'}\n",
    );
    let out = env.run(&["workflow", "validate", "twice"]);
    assert!(
        out.text().contains("step name `a` is used twice"),
        "{}",
        out.stderr
    );
}

/// Two names drawn alike are one name: precomposed `é` against `e` + U+0301 (equal after NFC),
/// and an emoji with and without its presentation selector.
#[test]
fn names_equal_after_unicode_normalisation_or_a_presentation_selector_collide() {
    let env = Env::new();
    env.workflow(
        "cafe",
        "name: cafe\nsteps:\n  - {name: \"Caf\\u00e9\", prompt: p}\n  - {name: \"Cafe\\u0301\", prompt: p}\n",
    );
    let out = env.run(&["workflow", "validate", "cafe"]);
    assert_refused(&out, "cafe.yaml:4:", ["Café", "Cafe\\u{301}"]);
    assert_eq!(env.run(&["workflow", "run", "cafe"]).code, 2);
    assert!(!env.db().exists(), "nothing was recorded");
    env.workflow(
        "warn",
        "name: warn\nsteps:\n  - {name: \"\\u26A0 Check\", prompt: p}\n  - {name: \"\\u26A0\\uFE0F check\", prompt: p}\n",
    );
    let out = env.run(&["workflow", "validate", "warn"]);
    assert_refused(
        &out,
        "warn.yaml:4:",
        ["\u{26A0} Check", "\u{26A0}\u{FE0F} check"],
    );
    env.scenario("nfd", "name: nfd\ndescription: d\nphases:\n  - {name: \"r\\u00e9sum\\u00e9\", condition: manual}\n  - {name: \"Re\\u0301sume\\u0301\", run: 'true'}\n");
    let out = env.run(&["orchestrate", "validate", "nfd"]);
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("nfd.yaml:5:"), "{}", out.stdout);
}

#[test]
fn phases_whose_names_collide_are_refused_naming_both() {
    let env = Env::new();
    env.scenario("ship", "name: ship\ndescription: d\nphases:\n  - name: Review\n    condition: manual\n  - name: review\n    run: 'true'\n");
    let out = env.run(&["orchestrate", "validate", "ship"]);
    assert_refused(&out, "ship.yaml:6:11", ["review", "Review"]);
    assert_eq!(env.run(&["orchestrate", "run", "ship"]).code, 2);
    assert!(!env.db().exists(), "nothing was recorded");
}

#[test]
fn inputs_that_would_share_an_environment_variable_are_refused() {
    let env = Env::new();
    env.workflow(
        "inputs",
        "name: inputs\ninputs:\n  VERSION: {}\n  version: {}\nsteps:\n  - {name: a, run: 'true'}\n",
    );
    let out = env.run(&["workflow", "validate", "inputs"]);
    assert_refused(&out, "inputs.yaml:4:3", ["version", "VERSION"]);
    assert!(
        out.text().contains("CORTEX_INPUT_VERSION"),
        "{}",
        out.stderr
    );
}

#[test]
fn agents_of_one_folder_whose_names_collide_are_refused_and_the_home_still_hides_the_project() {
    let env = Env::new();
    let home = env.home().join("agents");
    let project = env.project().join(".claude/agents");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::create_dir_all(&project).unwrap();
    let agent = |dir: &std::path::Path, file: &str, name: &str| {
        std::fs::write(
            dir.join(file),
            format!("---\nname: {name}\ndescription: from {file}\n---\n"),
        )
        .unwrap();
    };
    agent(&home, "a.md", "Code Reviewer");
    agent(&home, "b.md", "code_reviewer");
    agent(&project, "c.md", "CODE-REVIEWER");
    let list = env.run(&["--json", "agent", "list"]).json();
    let invalid: Vec<String> = list["invalid"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        invalid.len(),
        1,
        "only the second of one folder: {invalid:?}"
    );
    assert!(
        invalid[0].contains("b.md:2:7")
            && invalid[0].contains("`code_reviewer`")
            && invalid[0].contains("a.md"),
        "{invalid:?}"
    );
    let status = env.run(&["--json", "agent", "status", "code reviewer"]);
    assert_eq!(status.code, 0, "{}", status.stderr);
    assert!(
        status.stdout.contains("from a.md"),
        "the home's first agent is the one found: {}",
        status.stdout
    );
}

#[test]
fn an_agent_listed_twice_in_a_phase_is_refused() {
    let env = Env::new();
    std::fs::create_dir_all(env.home().join("agents")).unwrap();
    std::fs::create_dir_all(env.home().join("scenarios")).unwrap();
    std::fs::write(
        env.home().join("agents/r.md"),
        "---\nname: reviewer\ndescription: d\n---\n",
    )
    .unwrap();
    env.scenario(
        "s",
        "name: s\ndescription: d\nphases:\n  - name: a\n    agents: [reviewer, Reviewer]\n",
    );
    let out = env.run(&["orchestrate", "validate", "s"]);
    assert_refused(&out, "s.yaml:5:24", ["Reviewer", "reviewer"]);
}

#[test]
fn two_definition_files_whose_names_collide_are_an_ambiguous_lookup() {
    let env = Env::new();
    let wf = |name: &str| format!("name: {name}\nsteps:\n  - {{name: a, run: 'true'}}\n");
    env.workflow("Deploy", &wf("Deploy"));
    env.workflow("deploy", &wf("deploy"));
    let out = env.run(&["workflow", "run", "deploy"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.text().contains("Deploy.yaml") && out.text().contains("deploy.yaml"),
        "both files are named: {}",
        out.stderr
    );
    assert!(!env.db().exists(), "nothing was recorded");
    // A path is never ambiguous, but the `name:` it says is also the other file's: their runs
    // would share it, so it is refused, naming the other file.
    let path = env.home().join("workflows/deploy.yaml");
    let out = env.run(&["workflow", "validate", path.to_str().unwrap()]);
    assert_eq!(out.code, 2, "{}", out.text());
    assert!(out.text().contains("Deploy.yaml"), "{}", out.text());
}

#[test]
fn workflow_and_scenario_lists_flag_files_whose_names_collide_as_ambiguous() {
    let env = Env::new();
    let wf = |name: &str| format!("name: {name}\nsteps:\n  - {{name: a, run: 'true'}}\n");
    env.workflow("Deploy", &wf("Deploy"));
    env.workflow("deploy", &wf("deploy"));
    env.workflow("solo", &wf("solo"));
    let rows = env.run(&["--json", "workflow", "list"]).json();
    for name in ["Deploy", "deploy"] {
        let row = rows
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == name)
            .unwrap();
        assert_eq!(row["valid"], false, "{row}");
        // Their `name:`s match too: each is refused for it, naming the other file.
        let error = row["error"].as_str().unwrap();
        assert!(error.contains("is unique in its home"), "{error}");
        let other = if name == "Deploy" {
            "deploy.yaml"
        } else {
            "Deploy.yaml"
        };
        assert!(error.contains(other), "{error}");
    }
    let solo = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "solo")
        .unwrap();
    assert_eq!(
        (solo["valid"].clone(), solo["error"].clone()),
        (true.into(), serde_json::Value::Null)
    );
    let text = env.run(&["workflow", "list"]).stdout;
    let row = text.lines().find(|l| l.contains(" Deploy ")).unwrap();
    assert!(
        row.contains("invalid") && row.contains("deploy.yaml"),
        "{text}"
    );

    std::fs::create_dir_all(env.home().join("scenarios")).unwrap();
    let sc = |name: &str| {
        format!("name: {name}\ndescription: d\nphases:\n  - {{name: a, run: 'true'}}\n")
    };
    std::fs::write(env.home().join("scenarios/Ship.yaml"), sc("Ship")).unwrap();
    std::fs::write(env.home().join("scenarios/ship.yml"), sc("ship")).unwrap();
    let text = env.run(&["orchestrate", "list"]).stdout;
    assert_eq!(text.matches("is unique in its home").count(), 2, "{text}");
}

#[test]
/// A file of a built-in agent's name that did not parse was listed as invalid, yet the
/// built-in was used in its place: `validate` said OK and the run activated the built-in, so
/// the user's agent (its command, its runner) silently never ran. The broken file claims the
/// name: the built-in is not listed, and a scenario that names it is refused with the file's
/// error, at its line.
fn a_broken_file_named_for_a_built_in_agent_is_an_error_not_the_built_in() {
    let env = Env::new();
    let agents = env.home().join("agents");
    std::fs::create_dir_all(&agents).unwrap();
    std::fs::write(
        agents.join("code-reviewer.md"),
        "---\nname: code-reviewer\ndescription: [broken\n---\nbody\n",
    )
    .unwrap();
    let list = env.run(&["--json", "agent", "list"]).json();
    assert!(
        !list["agents"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["name"] == "code-reviewer"),
        "{list}"
    );
    assert!(
        list["invalid"][0]
            .as_str()
            .unwrap()
            .contains("code-reviewer.md:3:14")
    );
    env.scenario("sc", "name: sc\ndescription: d\nphases:\n  - {name: p, description: x, agents: [code-reviewer], run: 'true'}\n");
    let validate = env.run(&["orchestrate", "validate", "sc"]);
    assert_eq!(validate.code, 2, "{}{}", validate.stdout, validate.stderr);
    assert!(
        validate.stdout.contains("code-reviewer.md:3:14"),
        "{}",
        validate.stdout
    );
    let run = env.run(&["orchestrate", "run", "sc"]);
    assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
    assert!(!run.stdout.contains("activated"), "{}", run.stdout);
    // Any other built-in is still there.
    assert_eq!(env.run(&["agent", "status", "python-pro"]).code, 0);
}

/// `café.yaml` written twice, its `é` precomposed and as `e` + U+0301, was said to differ
/// "only in case, spaces, `_` or `-`", naming two paths that looked the same; and
/// `workflow list` put the second one's columns one place left (its width was counted in
/// bytes). They are said to differ in Unicode normalisation, shown as their code points,
/// and the table is aligned by what a terminal draws.
#[test]
fn file_names_alike_but_for_unicode_normalisation_are_said_to_differ_so_and_shown_apart() {
    let env = Env::new();
    let composed = "caf\u{e9}";
    let decomposed = "cafe\u{301}";
    for stem in [composed, decomposed] {
        env.workflow(stem, "name: x\nsteps:\n  - {name: a, run: 'true'}\n");
    }
    let out = env.run(&["workflow", "run", composed]);
    assert_eq!(out.code, 2, "{}", out.text());
    let said = out.text();
    assert!(
        said.contains("differ only in Unicode normalisation"),
        "{said}"
    );
    assert!(
        said.contains("caf\\u{e9}.yaml") && said.contains("cafe\\u{301}.yaml"),
        "{said}"
    );
    // Every row's second column starts where the others' do, as drawn: a combining mark
    // takes no column.
    let list = env.run(&["workflow", "list"]).stdout;
    let columns: Vec<usize> = list
        .lines()
        .filter(|l| l.starts_with("  ") && l.contains("invalid") || l.contains("steps"))
        .map(|l| {
            let at = l.find(" invalid").or_else(|| l.find(" 4 steps")).unwrap();
            l[..at]
                .chars()
                .filter(|c| !('\u{300}'..='\u{36f}').contains(c))
                .count()
        })
        .collect();
    assert!(columns.len() >= 6, "{list}");
    assert!(
        columns.iter().all(|c| *c == columns[0]),
        "{columns:?}\n{list}"
    );
}
