//! Hostile input: huge files, deep nesting, alias bombs, invalid UTF-8, NUL bytes, names that
//! try to escape their folder or carry control characters — in every format. Each gets a clear
//! error (exit 2, what and where) and never a panic; parsing stays bounded.

mod common;

use common::Env;

/// A billion-laughs document: ten levels of nine aliases each.
fn alias_bomb(indent: &str) -> String {
    let mut text = format!("{indent}- &a [lol,lol,lol,lol,lol,lol,lol,lol,lol]\n");
    for i in 1..10u8 {
        let (name, prev) = ((b'a' + i) as char, (b'a' + i - 1) as char);
        let refs = vec![format!("*{prev}"); 9].join(",");
        text.push_str(&format!("{indent}- &{name} [{refs}]\n"));
    }
    text
}

fn hostile_workflows() -> Vec<(&'static str, Vec<u8>)> {
    let deep = format!(
        "name: deep\ninputs:\n  x:\n    default: {}{}\nsteps: [{{name: a, run: 'true'}}]\n",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let bomb = format!(
        "name: bomb\ninputs:\n  x:\n    default:\n{}steps: [{{name: a, run: 'true'}}]\n",
        alias_bomb("      ")
    );
    let huge = format!(
        "name: huge\nsteps:\n{}",
        "  - {name: s, run: 'true'}\n".repeat(60_000)
    );
    vec![
        ("deep", deep.into_bytes()),
        ("bomb", bomb.into_bytes()),
        ("huge", huge.into_bytes()),
        ("utf8", b"name: bad\xff\xfe\nsteps: []\n".to_vec()),
        ("nul", b"name: n\0\nsteps: [{name: a, run: 'true'}]\n".to_vec()),
        ("inf", b"name: n\ninputs:\n  x: {type: number, maximum: .inf}\nsteps: [{name: a, run: 'true'}]\n".to_vec()),
        ("tabs", b"name: t\nsteps:\n\t- name: a\n".to_vec()),
        ("empty", Vec::new()),
    ]
}

fn assert_clear_refusal(out: &common::Out, what: &str) {
    assert_eq!(out.code, 2, "{what}: {}{}", out.stdout, out.stderr);
    // Most commands say `error:` on stderr; `orchestrate validate` reports in seed 001's
    // `[ERROR] file` form on stdout.
    assert!(
        out.stderr.starts_with("error: ") || out.stdout.starts_with("[ERROR] "),
        "{what}: {}{}",
        out.stdout,
        out.stderr
    );
    assert!(
        !out.stderr.contains("panicked"),
        "{what} panicked: {}",
        out.stderr
    );
    let said = out.stderr.len() + out.stdout.len();
    assert!(
        said < 4_000,
        "{what}: the error drowns in output ({said} bytes)"
    );
}

#[test]
fn hostile_workflow_files_get_a_clear_error() {
    let env = Env::new();
    for (name, bytes) in hostile_workflows() {
        std::fs::write(env.home().join(format!("workflows/{name}.yaml")), &bytes).unwrap();
        let out = env.run(&["workflow", "validate", name]);
        assert_clear_refusal(&out, name);
        let run = env.run(&["workflow", "run", name]);
        assert_clear_refusal(&run, name);
    }
    assert!(!env.db().exists(), "nothing was recorded");
}

#[test]
fn hostile_scenarios_agents_and_config_get_a_clear_error() {
    let env = Env::new();
    std::fs::create_dir_all(env.home().join("scenarios")).unwrap();
    std::fs::create_dir_all(env.home().join("agents")).unwrap();
    let deep = format!(
        "name: s\ndescription: d\nphases: {}{}\n",
        "[".repeat(50_000),
        "]".repeat(50_000)
    );
    std::fs::write(env.home().join("scenarios/deep.yaml"), deep).unwrap();
    assert_clear_refusal(
        &env.run(&["orchestrate", "validate", "deep"]),
        "deep scenario",
    );
    let bomb = format!(
        "name: s\ndescription: d\nphases:\n  - name: a\n    agents:\n{}",
        alias_bomb("      ")
    );
    std::fs::write(env.home().join("scenarios/bomb.yaml"), bomb).unwrap();
    assert_clear_refusal(
        &env.run(&["orchestrate", "validate", "bomb"]),
        "scenario bomb",
    );
    std::fs::write(env.home().join("scenarios/utf8.yaml"), b"name: \xc3\x28\n").unwrap();
    assert_clear_refusal(
        &env.run(&["orchestrate", "preview", "utf8"]),
        "scenario utf8",
    );

    std::fs::write(
        env.home().join("agents/odd.md"),
        format!(
            "---\nname: odd\ndescription: d\ntools:\n{}---\n",
            alias_bomb("  ")
        ),
    )
    .unwrap();
    let list = env.run(&["--json", "agent", "list"]);
    assert_eq!(list.code, 0, "one bad agent file does not hide the rest");
    assert!(
        list.json()["invalid"][0]
            .as_str()
            .unwrap()
            .contains("odd.md")
    );

    std::fs::write(
        env.home().join("cortex.config.json"),
        format!("{{\"workflow\": {}}}", "[".repeat(10_000)),
    )
    .unwrap();
    assert_clear_refusal(&env.run(&["workflow", "run", "migration"]), "deep config");
    std::fs::write(env.home().join("cortex.config.json"), "").unwrap();
    let out = env.run(&["workflow", "run", "migration"]);
    assert_clear_refusal(&out, "empty config");
    assert!(
        out.stderr.contains(":1:1"),
        "columns are 1-based: {}",
        out.stderr
    );
}

#[test]
fn names_cannot_escape_their_folder_or_carry_control_characters() {
    let env = Env::new();
    for name in [
        "../../etc/passwd",
        "..",
        "a/b",
        "a\\b",
        "tab\there",
        "bell\u{7}",
        "esc\u{1b}[31m",
        "  ",
    ] {
        for args in [
            vec!["workflow", "run", name],
            vec!["workflow", "validate", name],
            vec!["orchestrate", "preview", name],
            vec!["agent", "status", name],
        ] {
            let out = env.run(&args);
            assert_clear_refusal(&out, &format!("{args:?}"));
            assert!(
                !out.stderr.contains('\u{1b}'),
                "control characters are echoed escaped"
            );
        }
    }
}
