//! Hostile input: huge files (refused by their size, never read), devices and FIFOs, deep
//! nesting, alias bombs, invalid UTF-8, NUL bytes, YAML tags, names that try to escape their
//! folder, carry control, bidirectional or zero-width characters, or are too long to run — in
//! every format. Each gets a clear error (exit 2, what and where) and never a panic; parsing
//! stays bounded.

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
        !out.text().contains("panicked"),
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
        out.text().contains(":1:1"),
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
                !out.text().contains('\u{1b}'),
                "control characters are echoed escaped"
            );
        }
    }
}

/// Run the binary with its address space limited to 512 MiB: a file read whole at 1 GiB cannot
/// fit, so passing proves the size was checked before reading (without timing anything).
fn run_in_512_mib(env: &Env, args: &[&str]) -> common::Out {
    let cortex = env!("CARGO_BIN_EXE_cortex");
    let mut all = vec!["-c", "ulimit -v 524288 && exec \"$@\"", "sh", cortex];
    all.extend_from_slice(args);
    let out = std::process::Command::new("sh")
        .args(&all)
        .current_dir(env.project())
        .env("CORTEX_HOME", env.home())
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run cortex under sh");
    common::Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A sparse file that says it is 1 GiB and holds nothing.
fn sparse_gigabyte(path: &std::path::Path) {
    std::fs::File::create(path)
        .unwrap()
        .set_len(1 << 30)
        .unwrap();
}

#[test]
fn a_sparse_gigabyte_definition_is_refused_by_its_size_without_being_read() {
    let env = Env::new();
    std::fs::create_dir_all(env.home().join("scenarios")).unwrap();
    std::fs::create_dir_all(env.home().join("agents")).unwrap();
    sparse_gigabyte(&env.home().join("workflows/huge.yaml"));
    sparse_gigabyte(&env.home().join("scenarios/huge.yaml"));
    let size = "1073741824 bytes";
    for args in [
        vec!["workflow", "validate", "huge"],
        vec!["workflow", "run", "huge"],
        vec!["orchestrate", "validate", "huge"],
    ] {
        let out = run_in_512_mib(&env, &args);
        assert_clear_refusal(&out, &format!("{args:?}"));
        assert!(
            out.text().contains(size) || out.stdout.contains(size),
            "{args:?}: {}{}",
            out.stdout,
            out.stderr
        );
    }
    // Listing reads every file: the huge ones are listed as invalid, the rest still shown.
    let list = run_in_512_mib(&env, &["workflow", "list"]);
    assert_eq!(list.code, 0, "{}", list.stderr);
    assert!(list.stdout.contains("migration"), "{}", list.stdout);
    assert_eq!(run_in_512_mib(&env, &["orchestrate", "list"]).code, 0);

    sparse_gigabyte(&env.home().join("agents/huge.md"));
    let agents = run_in_512_mib(&env, &["--json", "agent", "list"]);
    assert_eq!(agents.code, 0, "{}", agents.stderr);
    assert!(agents.json()["invalid"][0].as_str().unwrap().contains(size));
    std::fs::remove_file(env.home().join("agents/huge.md")).unwrap();

    sparse_gigabyte(&env.home().join("scenarios/schema.yaml"));
    env.scenario(
        "ok",
        "name: ok\ndescription: d\nphases:\n  - {name: a, run: 'true'}\n",
    );
    let out = run_in_512_mib(&env, &["orchestrate", "validate", "ok"]);
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains(size) || out.text().contains(size),
        "{}{}",
        out.stdout,
        out.stderr
    );
    std::fs::remove_file(env.home().join("scenarios/schema.yaml")).unwrap();

    sparse_gigabyte(&env.home().join("cortex.config.json"));
    let out = run_in_512_mib(&env, &["workflow", "run", "migration"]);
    assert_clear_refusal(&out, "huge config");
    assert!(out.text().contains(size), "{}", out.stderr);
    assert!(!env.db().exists(), "nothing was recorded");
}

#[test]
fn a_device_or_fifo_given_as_a_definition_is_refused_not_read() {
    let env = Env::new();
    std::os::unix::fs::symlink("/dev/zero", env.project().join("zero.yaml")).unwrap();
    let fifo = env.project().join("fifo.yaml");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    for file in ["./zero.yaml", "./fifo.yaml"] {
        if file == "./fifo.yaml" && !made.as_ref().is_ok_and(|s| s.success()) {
            eprintln!("mkfifo is not available: the FIFO case is skipped");
            continue;
        }
        let out = run_in_512_mib(&env, &["workflow", "validate", file]);
        assert_clear_refusal(&out, file);
        assert!(
            out.text().contains("not a regular file"),
            "{file}: {}",
            out.stderr
        );
    }
    std::os::unix::fs::symlink("/dev/zero", env.home().join("cortex.config.json")).unwrap();
    let out = run_in_512_mib(&env, &["workflow", "run", "migration"]);
    assert_clear_refusal(&out, "config from /dev/zero");
}

#[test]
fn yaml_tags_are_refused_at_their_place_not_dropped() {
    let env = Env::new();
    for (name, text, place) in [
        (
            "include",
            "name: include\nsteps:\n  - name: a\n    run: !include /etc/passwd\n",
            "include.yaml:4:10",
        ),
        (
            "binary",
            "name: binary\ndescription: !!binary aGk=\nsteps:\n  - {name: a, run: 'true'}\n",
            "binary.yaml:2:14",
        ),
        (
            "verbatim",
            "name: verbatim\nsteps:\n  - {name: a, run: !<tag:yaml.org,2002:str> 'true'}\n",
            "verbatim.yaml:3:20",
        ),
        (
            "onmap",
            "name: onmap\nsteps:\n  - !step\n    name: a\n    run: 'true'\n",
            "onmap.yaml:3:5",
        ),
        (
            "anchored",
            "name: anchored\nsteps:\n  - {name: a, run: &r !!python/object 'true'}\n",
            "anchored.yaml:3:23",
        ),
    ] {
        env.workflow(name, text);
        let out = env.run(&["workflow", "validate", name]);
        assert_clear_refusal(&out, name);
        assert!(out.text().contains("YAML tag"), "{name}: {}", out.stderr);
        assert!(
            out.text().contains(place),
            "{name}: not at {place}: {}",
            out.stderr
        );
        assert_clear_refusal(&env.run(&["workflow", "run", name]), name);
    }
    // An exclamation mark in text is text.
    env.workflow(
        "text",
        "name: text\nsteps:\n  - name: a\n    run: echo '!x' \"!y\" !z\n    prompt: |\n      !important\n      - !also text\n",
    );
    let out = env.run(&["workflow", "validate", "text"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);

    env.scenario(
        "tagged",
        "name: tagged\ndescription: d\nphases:\n  - name: a\n    run: [!include x]\n",
    );
    let out = env.run(&["orchestrate", "validate", "tagged"]);
    assert_clear_refusal(&out, "scenario");
    assert!(out.stdout.contains("tagged.yaml:5:11"), "{}", out.stdout);

    std::fs::create_dir_all(env.home().join("agents")).unwrap();
    std::fs::write(
        env.home().join("agents/tagged.md"),
        "---\nname: tagged\ndescription: d\ncommand: !sh cat\n---\n!not a tag in the body\n",
    )
    .unwrap();
    let list = env.run(&["--json", "agent", "list"]);
    let invalid = list.json()["invalid"][0].as_str().unwrap().to_string();
    assert!(
        invalid.contains("tagged.md:4:10") && invalid.contains("YAML tag"),
        "{invalid}"
    );
}

#[test]
fn scenario_names_follow_the_one_name_rule() {
    let env = Env::new();
    std::fs::create_dir_all(env.home().join("scenarios")).unwrap();
    for (file, name) in [
        ("slash", "a/b"),
        ("escape", "../../evil"),
        ("newline", "\"a\\nb\""),
        ("terminal", "\"esc\\e[31m\""),
        ("bidi", "\"a\\u202Eb\""),
    ] {
        std::fs::write(
            env.home().join(format!("scenarios/{file}.yaml")),
            format!("name: {name}\ndescription: d\nphases:\n  - {{name: a, run: 'true'}}\n"),
        )
        .unwrap();
        let out = env.run(&["orchestrate", "validate", file]);
        assert_clear_refusal(&out, file);
        assert!(
            out.stdout.contains(&format!("{file}.yaml:1:7")),
            "{file}: {}",
            out.stdout
        );
        assert!(
            out.stdout.contains("scenario name"),
            "{file}: {}",
            out.stdout
        );
        assert!(!out.stdout.contains('\u{1b}') && !out.stdout.contains('\u{202e}'));
        assert_clear_refusal(&env.run(&["orchestrate", "run", file]), file);
    }
    assert!(!env.db().exists(), "nothing was recorded");
}

/// An actor is shown on one line of `log show`: one with a newline (which would forge a line
/// that reads as another event), a tab, an escape or a bidirectional control is refused
/// (exit 2, what is wrong) before anything is recorded — for every command that takes one.
#[test]
fn an_actor_empty_or_with_a_control_character_is_refused_and_nothing_recorded() {
    let env = Env::new();
    env.workflow("one", "name: one\nsteps:\n  - name: a\n    run: 'true'\n");
    let forged = "bob\n    1  2026-12-03T12:12:09.788Z  run_finished            completed";
    for actor in [
        forged,
        "tab\there",
        "esc\u{1b}[31m",
        "a\u{202e}b",
        "line\u{2028}separator",
    ] {
        for args in [
            vec!["workflow", "run", "one", "--actor", actor],
            vec!["mcp", "--actor", actor],
            vec!["serve", "--addr", "127.0.0.1:0", "--actor", actor],
        ] {
            let out = env.run(&args);
            assert_eq!(out.code, 2, "{args:?}: {}{}", out.stdout, out.stderr);
            assert!(
                out.stderr.contains("an actor is one line of plain text"),
                "{args:?}: {}",
                out.stderr
            );
            assert!(!out.stderr.contains('\u{1b}') && !out.stderr.contains('\u{202e}'));
        }
    }
    for empty in ["", "   "] {
        let out = env.run(&["workflow", "run", "one", "--actor", empty]);
        assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
        assert!(out.stderr.contains("this one is empty"), "{}", out.stderr);
    }
    assert!(!env.db().exists(), "nothing was recorded");
}

/// One rule for actors on every front end: at most 128 characters. A longer `--actor` is
/// refused with exit 2 naming the limit (CLI commands, `tui`, `mcp`, `serve`), nothing
/// recorded; one of exactly 128 is recorded whole.
#[test]
fn an_actor_over_the_length_limit_is_refused_by_every_front_end() {
    let env = Env::new();
    env.workflow("one", "name: one\nsteps:\n  - name: a\n    run: 'true'\n");
    let long = "a".repeat(129);
    for args in [
        vec!["workflow", "run", "one", "--actor", &long],
        vec!["workflow", "abort", "--actor", &long],
        vec!["tui", "--actor", &long],
        vec!["mcp", "--actor", &long],
        vec!["serve", "--addr", "127.0.0.1:0", "--actor", &long],
    ] {
        let out = env.run(&args);
        assert_eq!(
            out.code,
            2,
            "{:?}: {}{}",
            &args[..2],
            out.stdout,
            out.stderr
        );
        assert!(
            out.stderr.contains("an actor has at most 128 characters")
                && out.stderr.contains("this one has 129"),
            "{:?}: {}",
            &args[..2],
            out.stderr
        );
    }
    assert!(!env.db().exists(), "nothing was recorded");
    let exact = "b".repeat(128);
    let out = env.run(&["workflow", "run", "one", "--actor", &exact]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let shown = env.run(&["log", "show"]).stdout;
    assert!(shown.contains(&exact), "{shown}");
}

/// `log show` prints one line per event whatever its fields hold: a newline, a carriage return
/// or an escape in a message or an error is written as a visible escape.
#[test]
fn log_show_prints_one_line_per_event_whatever_a_field_holds() {
    let env = Env::new();
    env.workflow("ask", "name: ask\nsteps:\n  - name: a\n    prompt: Do it\n");
    assert_eq!(env.run(&["workflow", "run", "ask"]).code, 3);
    let forged =
        "no\n    9  2026-12-03T12:12:09.788Z  run_finished            completed\r\u{1b}[2K";
    let out = env.run(&["workflow", "step", "fail", "a", "--message", forged]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    let events = env.run(&["--json", "workflow", "history"]).json()["runs"].clone()[0]["events"]
        .as_u64()
        .unwrap();
    let shown = env.run(&["log", "show"]);
    assert_eq!(shown.code, 0);
    let lines: Vec<&str> = shown.stdout.lines().collect();
    assert_eq!(lines.len() as u64, events + 1, "{}", shown.stdout);
    for (seq, line) in lines[1..].iter().enumerate() {
        assert!(
            line.trim_start().starts_with(&format!("{seq}  ")),
            "line {seq} is not event {seq}: {line}"
        );
    }
    assert!(
        shown
            .stdout
            .contains("no\\u{a}    9  2026-12-03T12:12:09.788Z  run_finished")
            && !shown.stdout.contains('\r')
            && !shown.stdout.contains('\u{1b}'),
        "{}",
        shown.stdout
    );
}

#[test]
fn invisible_characters_are_refused_in_every_kind_of_name() {
    let env = Env::new();
    let mut count = 0;
    std::fs::create_dir_all(env.home().join("scenarios")).unwrap();
    std::fs::create_dir_all(env.home().join("agents")).unwrap();
    for (i, c) in [
        "\\u202E", "\\u2066", "\\u2069", "\\u200B", "\\u200F", "\\uFEFF", "\\u00AD",
        // Default-ignorable but not format characters: Hangul fillers, grapheme joiner,
        // variation selector; and the braille blank, a symbol that shows as a space.
        "\\u3164", "\\uFFA0", "\\u115F", "\\u034F", "\\uFE00", "\\u2800",
    ]
    .into_iter()
    .enumerate()
    {
        let cases = [
            (
                format!("name: \"w{c}x\"\nsteps:\n  - {{name: a, run: 'true'}}\n"),
                "1:7",
                "workflow name",
            ),
            (
                format!("name: w\nsteps:\n  - {{name: \"a{c}b\", run: 'true'}}\n"),
                "3:12",
                "step name",
            ),
            (
                format!(
                    "name: w\ninputs:\n  \"v{c}\": {{}}\nsteps:\n  - {{name: a, run: 'true'}}\n"
                ),
                "3:3",
                "input name",
            ),
            (
                format!(
                    "name: w\nsteps:\n  - {{name: a, run: 'true', validate: [{{output: \"k{c}\"}}]}}\n"
                ),
                "3:48",
                "output key",
            ),
        ];
        for (j, (text, place, noun)) in cases.into_iter().enumerate() {
            let name = format!("w{i}-{j}");
            env.workflow(&name, &text);
            let out = env.run(&["workflow", "validate", &name]);
            assert_clear_refusal(&out, &name);
            assert!(
                out.text().contains(&format!("{name}.yaml:{place}")),
                "{name}: {}",
                out.stderr
            );
            assert!(out.text().contains(noun), "{name}: {}", out.stderr);
        }
        std::fs::write(
            env.home().join(format!("scenarios/p{i}.yaml")),
            format!("name: p{i}\ndescription: d\nphases:\n  - {{name: \"a{c}\", run: 'true'}}\n"),
        )
        .unwrap();
        let out = env.run(&["orchestrate", "validate", &format!("p{i}")]);
        assert_clear_refusal(&out, "phase");
        assert!(
            out.stdout.contains(&format!("p{i}.yaml:4:12")) && out.stdout.contains("phase name"),
            "{}",
            out.stdout
        );
        std::fs::write(
            env.home().join(format!("scenarios/s{i}.yaml")),
            format!("name: \"s{c}\"\ndescription: d\nphases:\n  - {{name: a, run: 'true'}}\n"),
        )
        .unwrap();
        let out = env.run(&["orchestrate", "validate", &format!("s{i}")]);
        assert_clear_refusal(&out, "scenario");
        assert!(
            out.stdout.contains(&format!("s{i}.yaml:1:7")) && out.stdout.contains("scenario name"),
            "{}",
            out.stdout
        );
        std::fs::write(
            env.home().join(format!("agents/a{i}.md")),
            format!("---\nname: \"agent{c}\"\ndescription: d\n---\n"),
        )
        .unwrap();
        count += 1;
    }
    let list = env.run(&["--json", "agent", "list"]);
    let invalid = list.json()["invalid"].as_array().unwrap().clone();
    assert_eq!(invalid.len(), count, "{invalid:?}");
    for entry in invalid {
        let entry = entry.as_str().unwrap();
        assert!(
            entry.contains(".md:2:7") && entry.contains("agent name"),
            "{entry}"
        );
    }
}

#[test]
fn a_name_too_long_for_the_environment_is_refused_before_it_runs() {
    let env = Env::new();
    let long = "s".repeat(200_000);
    env.workflow(
        "long",
        &format!("name: long\nsteps:\n  - name: {long}\n    run: 'true'\n"),
    );
    let out = env.run(&["workflow", "validate", "long"]);
    assert_clear_refusal(&out, "long step name");
    assert!(
        out.text().contains("200000 characters") && out.text().contains("at most 100"),
        "{}",
        out.stderr
    );
    assert!(out.text().contains("long.yaml:3:11"), "{}", out.stderr);
    assert_clear_refusal(&env.run(&["workflow", "run", "long"]), "run");
    assert!(!env.db().exists(), "nothing was recorded");
    let edge = "s".repeat(100);
    env.workflow(
        "edge",
        &format!("name: edge\nsteps:\n  - name: {edge}\n    run: test \"$CORTEX_STEP\" = {edge}\n"),
    );
    let out = env.run(&["workflow", "run", "edge"]);
    assert_eq!(
        out.code, 0,
        "a name of the longest length runs: {}",
        out.stderr
    );
}

#[test]
fn a_reported_output_key_follows_the_name_rule() {
    let env = Env::new();
    env.workflow(
        "ask",
        "name: ask\nsteps:\n  - name: Plan\n    prompt: plan it\n",
    );
    assert_eq!(env.run(&["workflow", "run", "ask"]).code, 3);
    for key in ["bad\u{202e}key", "", "new\nline"] {
        let out = env.run(&[
            "workflow",
            "step",
            "complete",
            "Plan",
            "--output",
            &format!("{key}=v"),
        ]);
        assert_eq!(out.code, 2, "{key:?}: {}{}", out.stdout, out.stderr);
    }
    assert_eq!(
        env.status(None)["steps"][0]["status"],
        "waiting",
        "nothing was recorded"
    );
}

#[test]
fn every_listing_the_scheduler_and_anchor_files_refuse_a_sparse_gigabyte_by_its_size_and_say_why() {
    let env = Env::new();
    std::fs::create_dir_all(env.home().join("scenarios")).unwrap();
    sparse_gigabyte(&env.home().join("workflows/huge.yaml"));
    sparse_gigabyte(&env.home().join("scenarios/vast.yaml"));
    let why = "the file is 1073741824 bytes; definitions are limited to 1048576 bytes (1 MiB)";
    let list = run_in_512_mib(&env, &["workflow", "list"]);
    assert_eq!(list.code, 0, "{}", list.stderr);
    let row = list.stdout.lines().find(|l| l.contains("huge")).unwrap();
    assert!(row.contains("invalid") && row.contains(why), "{row}");
    let rows = run_in_512_mib(&env, &["--json", "workflow", "list"]).json();
    let huge = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "huge")
        .unwrap();
    assert_eq!(huge["valid"], false);
    assert!(huge["error"].as_str().unwrap().contains(why), "{huge}");
    let scenarios = run_in_512_mib(&env, &["orchestrate", "list"]);
    assert!(scenarios.stdout.contains(why), "{}", scenarios.stdout);
    // The scheduler (alone, and beside a worker) cannot tell whether such a file has a
    // schedule, and says it never fires until fixed.
    let schedules = run_in_512_mib(&env, &["schedule", "list"]);
    assert!(
        schedules.stdout.contains("huge") && schedules.stdout.contains(why),
        "{}{}",
        schedules.stdout,
        schedules.stderr
    );
    let once = run_in_512_mib(&env, &["schedule", "run", "--once"]);
    assert!(once.text().contains(why), "{}", once.text());
    // The worker's scheduler finds schedules the same way (`find_scheduled`).
    let worker = run_in_512_mib(&env, &["worker", "--until-idle"]);
    assert_eq!(worker.code, 0, "{}", worker.text());

    // Anchor files have their own, larger bound, through the same reader.
    assert_eq!(env.run(&["workflow", "run", "migration"]).code, 3);
    let anchors = env.file("anchors.txt");
    sparse_gigabyte(&anchors);
    let anchors = anchors.to_str().unwrap();
    for args in [
        vec!["log", "verify", "--anchors", anchors],
        vec!["log", "anchor", "--file", anchors],
    ] {
        let out = run_in_512_mib(&env, &args);
        assert_clear_refusal(&out, &format!("{args:?}"));
        assert!(
            out.stderr
                .contains("anchor files are limited to 67108864 bytes"),
            "{args:?}: {}",
            out.stderr
        );
    }
}

#[test]
fn agent_status_of_an_invalid_agent_file_gives_the_files_error_not_no_such_agent() {
    let env = Env::new();
    std::fs::create_dir_all(env.home().join("agents")).unwrap();
    std::fs::write(
        env.home().join("agents/ag.md"),
        "---\nname: ag\ndescription: d\nbogus: 1\n---\nbody\n",
    )
    .unwrap();
    for args in [
        vec!["agent", "status", "ag"],
        vec!["agent", "activate", "ag"],
    ] {
        let out = env.run(&args);
        assert_clear_refusal(&out, &format!("{args:?}"));
        assert!(
            out.stderr.contains("ag.md:4:1") && out.stderr.contains("bogus"),
            "{args:?}: {}",
            out.stderr
        );
        assert!(!out.stderr.contains("no agent named"), "{}", out.stderr);
    }
    let json = env.run(&["--json", "agent", "status", "ag"]).json();
    assert_eq!(json["errors"][0]["line"], 4, "{json}");
    // A name no file has is still not found.
    let out = env.run(&["agent", "status", "nobody"]);
    assert!(out.stderr.contains("no agent named"), "{}", out.stderr);
}

/// An emoji or symbol with its presentation selector (`⚠️ Check`, `❤️`, the keycap `1️⃣`) is a
/// name like any other; a selector that follows nothing visible (first, after a space, after
/// another selector) shows as nothing and is refused, saying so.
#[test]
fn an_emoji_with_its_presentation_selector_is_a_name_and_a_stray_selector_is_refused_truthfully() {
    let env = Env::new();
    env.workflow(
        "emoji",
        "name: emoji\nsteps:\n  - {name: \"\\u26A0\\uFE0F Check\", prompt: p}\n  - {name: \"\\u2764\\uFE0F\", prompt: p}\n  - {name: \"1\\uFE0F\\u20E3 first\", prompt: p}\n",
    );
    let out = env.run(&["workflow", "validate", "emoji"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert_eq!(env.run(&["workflow", "run", "emoji"]).code, 3);
    // Reported by the name as typed, selector and all, or without it.
    let done = env.run(&["workflow", "step", "complete", "\u{26A0}\u{FE0F} Check"]);
    assert_eq!(done.code, 3, "{}{}", done.stdout, done.stderr);
    let done = env.run(&["workflow", "step", "complete", "\u{2764}"]);
    assert_eq!(done.code, 3, "{}{}", done.stdout, done.stderr);
    assert_eq!(env.status(None)["waiting_for"], "1\u{FE0F}\u{20E3} first");
    for (i, name) in [
        "\\uFE0F",
        "\\uFE0Fdeploy",
        "deploy \\uFE0Fx",
        "\\u26A0\\uFE0F\\uFE0F Check",
    ]
    .into_iter()
    .enumerate()
    {
        let file = format!("stray{i}");
        env.workflow(
            &file,
            &format!("name: w\nsteps:\n  - {{name: \"{name}\", prompt: p}}\n"),
        );
        let out = env.run(&["workflow", "validate", &file]);
        assert_clear_refusal(&out, &file);
        let said = out.text();
        assert!(
            said.contains("U+FE0F") && said.contains("does not follow a visible character"),
            "{file}: {said}"
        );
    }
}

/// A FIFO, a link to a device and a broken link named like definitions were skipped without a
/// word by `workflow list` and `orchestrate validate --all` (`is_file` was false for them): they
/// are listed as invalid, saying what they are, `validate --all` gives every other file its
/// verdict too, and nothing hangs on the FIFO.
#[test]
fn definition_files_that_are_not_regular_files_are_listed_as_invalid_not_skipped() {
    let env = Env::new();
    let workflows = env.home().join("workflows");
    let scenarios = env.home().join("scenarios");
    std::fs::create_dir_all(&workflows).unwrap();
    std::fs::create_dir_all(&scenarios).unwrap();
    let fifo = |p: &std::path::Path| {
        let made = std::process::Command::new("mkfifo")
            .arg(p)
            .status()
            .unwrap();
        assert!(made.success());
    };
    fifo(&workflows.join("pipe.yaml"));
    std::os::unix::fs::symlink("/dev/zero", workflows.join("zero.yaml")).unwrap();
    std::os::unix::fs::symlink("/nonexistent/gone", workflows.join("gone.yaml")).unwrap();
    fifo(&scenarios.join("pipe.yaml"));
    std::fs::write(
        scenarios.join("fine.yaml"),
        "name: fine\ndescription: fine\nphases:\n  - {name: a, description: a, run: 'true'}\n",
    )
    .unwrap();
    let list = env.run(&["--json", "workflow", "list"]);
    assert_eq!(list.code, 0, "{}", list.stderr);
    let rows = list.json();
    for name in ["pipe", "zero", "gone"] {
        let row = rows
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == name)
            .unwrap_or_else(|| panic!("{name} is not listed: {rows}"));
        assert_eq!(row["valid"], false, "{row}");
    }
    let all = env.run(&["--json", "orchestrate", "validate", "--all"]);
    assert_eq!(all.code, 2, "{}", all.stderr);
    let doc = all.json();
    let verdicts = doc["scenarios"].as_array().unwrap();
    assert_eq!(verdicts.len(), 2, "{doc}");
    assert!(
        verdicts.iter().any(|v| v["valid"] == false
            && v["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("not a regular file")),
        "{doc}"
    );
    assert!(verdicts.iter().any(|v| v["valid"] == true), "{doc}");
}

/// A step's `$CORTEX_OUTPUT` was read whole, whatever its size: a sparse 100 GB file was
/// read until memory ran out, and a 100 MB one was recorded as one event of the log. It is
/// refused by its size (never read past 1 MiB): the attempt fails its validation, saying
/// why, and nothing of it is recorded. A file that is not UTF-8 was taken as no outputs,
/// silently: it is a problem too.
#[test]
fn a_huge_or_binary_output_file_is_refused_by_its_size_and_said_not_read_whole() {
    let env = Env::new();
    env.workflow(
        "outs",
        "name: outs\nsteps:\n  - name: huge\n    run: echo small=1 > \"$CORTEX_OUTPUT\"; truncate -s 100G \"$CORTEX_OUTPUT\"\n    retry: {max_retry_attempts: 0}\n    on_failure: skip\n  - name: binary\n    run: printf 'k=\\377\\376\\n' > \"$CORTEX_OUTPUT\"\n    retry: {max_retry_attempts: 0}\n    on_failure: skip\n  - name: fine\n    run: echo ok=yes > \"$CORTEX_OUTPUT\"\n",
    );
    let out = env.run(&["workflow", "run", "outs"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let status = env.status(None);
    let steps = status["steps"].as_array().unwrap();
    assert_eq!(steps[0]["status"], "skipped", "{status}");
    assert_eq!(steps[1]["status"], "skipped", "{status}");
    assert_eq!(steps[2]["outputs"]["ok"], "yes", "{status}");
    let log = env.run(&["log", "show"]).stdout;
    assert!(
        log.contains("$CORTEX_OUTPUT holds 107374182400 bytes, more than the 1024 KiB"),
        "{log}"
    );
    assert!(log.contains("$CORTEX_OUTPUT is not UTF-8 text"), "{log}");
    assert!(steps[0]["outputs"].get("small").is_none(), "{status}");
    let db = std::fs::metadata(env.db()).unwrap().len();
    assert!(db < 10 << 20, "the log grew to {db} bytes");
}

/// A FIFO in the place of the home's `cortex.db`: SQLite opened it and waited in `open` for a
/// writer that never came, so every command — `status`, `history`, `run` — hung for good;
/// and a device named by `--db` (`/dev/zero`) read as a log without runs. Both are refused
/// before SQLite sees them (exit 2, saying what is there).
#[test]
fn a_fifo_or_device_in_place_of_the_log_is_refused_not_waited_on() {
    let env = Env::new();
    env.workflow("w", "name: w\nsteps:\n  - {name: a, run: 'true'}\n");
    std::fs::create_dir_all(env.home()).unwrap();
    nix::unistd::mkfifo(&env.db(), nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    for args in [
        vec!["workflow", "status"],
        vec!["workflow", "history"],
        vec!["log", "verify"],
        vec!["workflow", "run", "w"],
    ] {
        let mut child = env
            .command(&args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let until = std::time::Instant::now() + std::time::Duration::from_secs(60);
        let code = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status.code();
            }
            if std::time::Instant::now() > until {
                let _ = child.kill();
                panic!("`{}` waited on the FIFO", args.join(" "));
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        };
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(code, Some(2), "`{}`: {stderr}", args.join(" "));
        assert!(stderr.contains("is a FIFO, not a log file"), "{stderr}");
    }
    let out = env.run(&["--db", "/dev/zero", "workflow", "history"]);
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains("/dev/zero is a device"),
        "{}",
        out.stderr
    );
}

#[test]
/// An argument of megabytes that does not parse (`log anchor XXXX…`, an unknown flag) was
/// echoed whole by the usage error, twice where clap suggests something: the error is buried
/// under the argument. A word over 200 characters is cut to its start and its size, in words
/// and in the `--json` error.
fn a_huge_argument_in_a_usage_error_is_cut_not_echoed_whole() {
    let env = Env::new();
    let huge = "x".repeat(100_000);
    for args in [
        vec!["log", "anchor", huge.as_str()],
        vec!["workflow", "history", "--limit", huge.as_str()],
    ] {
        let out = env.run(&args);
        assert_eq!(out.code, 2, "{}", &out.stderr[..out.stderr.len().min(500)]);
        assert!(out.stderr.len() < 2_000, "{} bytes", out.stderr.len());
        assert!(out.stderr.contains("…[100000 bytes]"), "{}", out.stderr);
        let mut with_json = vec!["--json"];
        with_json.extend(&args);
        let out = env.run(&with_json);
        assert_eq!(out.code, 2);
        assert!(out.stdout.len() < 2_000, "{} bytes", out.stdout.len());
        assert!(out.json()["error"].is_string(), "{}", out.stdout);
    }
}

#[test]
/// An error quotes what it was given: a path of 100,000 characters (`--anchors`, `--file`)
/// was echoed whole, in words and in `--json`, once per mention. Every word over 200
/// characters of an error is cut to its start and its size.
fn a_huge_path_in_an_error_is_cut_not_echoed_whole() {
    let env = Env::new();
    env.workflow("w", "name: w\nsteps:\n  - {name: a, run: 'true'}\n");
    assert_eq!(env.run(&["workflow", "run", "w"]).code, 0);
    let huge = format!("/tmp/{}", "y".repeat(100_000));
    for args in [
        vec!["log", "verify", "--anchors", huge.as_str()],
        vec!["log", "verify", "--file", huge.as_str()],
    ] {
        let out = env.run(&args);
        assert_ne!(out.code, 0, "{}", args[2]);
        assert!(
            out.stderr.len() < 2_000,
            "{} bytes: {}",
            out.stderr.len(),
            args[2]
        );
        assert!(out.stderr.contains("bytes]"), "{}", out.stderr);
        let mut with_json = vec!["--json"];
        with_json.extend(&args);
        let out = env.run(&with_json);
        assert!(out.stdout.len() < 2_000, "{} bytes", out.stdout.len());
        assert!(out.json()["error"].is_string(), "{}", out.stdout);
    }
}

/// `log verify --anchors FILE` and `log anchor --file FILE` given a file that is no anchor
/// file (`.env`, a shadow file) say which line is wrong and what was expected, never what the
/// line holds: the error went to the terminal, an MCP client and the server's stderr,
/// quoting `GITHUB_TOKEN=ghp_…` word for word.
#[test]
fn an_anchors_file_that_is_no_anchor_file_is_never_quoted() {
    let env = Env::new();
    assert_eq!(env.run(&["workflow", "run", "migration"]).code, 3);
    let secrets = env.file(".env");
    std::fs::write(
        &secrets,
        "# settings\nGITHUB_TOKEN=ghp_realsecret123456\nroot:$6$hash:19000:0:99999:7:::\n",
    )
    .unwrap();
    let path = secrets.to_str().unwrap();
    for args in [
        vec!["log", "verify", "--anchors", path],
        vec!["log", "anchor", "--file", path],
    ] {
        let out = env.run(&args);
        assert_eq!(out.code, 2, "{args:?}: {}", out.text());
        assert!(
            !out.text().contains("realsecret") && !out.text().contains("$6$"),
            "{args:?}: {}",
            out.text()
        );
        assert!(
            out.stderr
                .contains("line 2: expected `RUN_ID SEQ HEAD_HASH`")
                && out.stderr.contains("the line is not quoted"),
            "{args:?}: {}",
            out.stderr
        );
    }
}

/// A value with a line break in it, refused by the argument parser, stays whole in the
/// `--json` error's `error` (the break shown as `\n`): before, the message was cut at the
/// break and the rest of the value, and the reason, went to `detail`.
#[test]
fn a_refused_value_with_a_line_break_stays_whole_in_the_json_error() {
    let env = Env::new();
    for (args, said) in [
        (
            vec!["--json", "workflow", "status", "--at", "1\n2"],
            "invalid value '1\\n2' for '--at <SEQ>'",
        ),
        (
            vec!["--json", "workflow", "abort", "--actor", "a\nb"],
            "invalid value 'a\\nb' for '--actor <NAME>'",
        ),
        (
            vec!["--json", "bogus\nx"],
            "unrecognized subcommand 'bogus\\nx'",
        ),
    ] {
        let out = env.run(&args);
        assert_eq!(out.code, 2, "{args:?}: {}", out.stdout);
        let doc = out.json();
        let error = doc["error"].as_str().unwrap();
        assert!(error.starts_with(said), "{args:?}: {doc}");
        assert!(!error.contains('\n'), "{args:?}: {doc}");
    }
}

/// A raw control character in a definition (an escape sequence pasted into a comment) is
/// reported at its line and column, for people and in `--json`, for workflows and
/// scenarios: before, the YAML parser's "at position N" was shown at 1:1.
#[test]
fn a_control_character_in_a_definition_is_located_at_its_line_and_column() {
    let env = Env::new();
    env.workflow(
        "w",
        "name: w\nsteps:\n  - name: A\n    run: echo hi   # \u{1b}[31m\n",
    );
    env.scenario(
        "s",
        "name: s\ndescription: d\nphases:\n  - name: a\n    run: echo \u{9b} x\n",
    );
    for (args, line, column) in [
        (["--json", "workflow", "validate", "w"], 4, 22),
        (["--json", "orchestrate", "validate", "s"], 5, 15),
    ] {
        let out = env.run(&args);
        assert_eq!(out.code, 2, "{args:?}: {}", out.stdout);
        let doc = out.json();
        let error = &doc["errors"][0];
        assert_eq!(error["line"], line, "{doc}");
        assert_eq!(error["column"], column, "{doc}");
        assert!(
            error["message"]
                .as_str()
                .unwrap()
                .contains("control character U+"),
            "{doc}"
        );
    }
    let human = env.run(&["workflow", "validate", "w"]);
    assert!(human.stdout.contains("w.yaml:4:22"), "{}", human.stdout);
}

/// A workflow whose `requires.commands` is one 100 KB string repeated by 20,000 aliases: a
/// 160 KB file serde_yaml would expand to 2 GB.
fn string_bomb(name: &str) -> String {
    format!(
        "name: {name}\nrequires:\n  commands: [&x \"{}\"{}]\nsteps: [{{name: a, run: 'true'}}]\n",
        "A".repeat(100_000),
        ", *x".repeat(20_000)
    )
}

/// The column of the alias with which `string_bomb`'s aliases pass 1 MiB: its eleventh
/// (each adds 100,001: one node and 100,000 bytes), after `  commands: [&x "`, the string
/// and its quote, and ten `, *x`.
const STRING_BOMB_COLUMN: u64 = 17 + 100_001 + 4 * 10 + 3;

/// A YAML alias bomb in one file of `workflows/` (an 850 KB one asked for 60 GB) made every
/// command that reads the catalog abort: `workflow list`, `orchestrate list`, and even
/// `workflow run` of a built-in. Its aliases are now counted where they are written, before
/// serde_yaml expands them, and the file alone is refused at the alias that passes the
/// bound: under 512 MiB of address space, every other definition still lists and runs.
#[test]
fn one_alias_bomb_blocks_neither_the_other_definitions_nor_the_built_ins() {
    let env = Env::new();
    env.workflow("bk", &string_bomb("bk"));
    env.workflow("fine", "name: fine\nsteps: [{name: a, run: 'true'}]\n");
    env.scenario(
        "sbk",
        &format!(
            "name: sbk\ndescription: d\nphases:\n  - name: a\n    description: d\n    agents: [&x \"{}\"{}]\n",
            "A".repeat(100_000),
            ", *x".repeat(20_000)
        ),
    );
    env.scenario(
        "ok",
        "name: ok\ndescription: d\nphases:\n  - {name: a, description: d, run: 'true'}\n",
    );
    let list = run_in_512_mib(&env, &["--json", "workflow", "list"]);
    assert_eq!(list.code, 0, "{}", list.stderr);
    let rows = list.json();
    let row = |name: &str| {
        rows.as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == name)
            .unwrap_or_else(|| panic!("{name} is not listed: {rows}"))
            .clone()
    };
    assert_eq!(row("bk")["valid"], false);
    let error = row("bk")["error"].as_str().unwrap().to_string();
    assert!(
        error.starts_with(&format!(
            "3:{STRING_BOMB_COLUMN}: the alias `*x` repeats too much"
        )),
        "{error}"
    );
    for name in ["fine", "feature-development", "migration"] {
        assert_eq!(row(name)["valid"], true, "{name}: {rows}");
    }
    let scenarios = run_in_512_mib(&env, &["--json", "orchestrate", "list"]);
    assert_eq!(scenarios.code, 0, "{}", scenarios.stderr);
    let doc = scenarios.json();
    let verdict = |name: &str| {
        doc.as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == name)
            .map(|r| r["valid"].clone())
    };
    assert_eq!(verdict("sbk"), Some(false.into()), "{doc}");
    assert_eq!(verdict("ok"), Some(true.into()), "{doc}");
    for args in [
        vec!["workflow", "run", "--dry-run", "feature-development"],
        vec!["workflow", "run", "fine"],
        vec!["orchestrate", "run", "ok"],
    ] {
        let out = run_in_512_mib(&env, &args);
        assert_eq!(out.code, 0, "{args:?}: {}{}", out.stdout, out.stderr);
    }
    let out = run_in_512_mib(&env, &["--json", "workflow", "validate", "bk"]);
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    let doc = out.json();
    let problem = &doc["errors"][0];
    assert_eq!(
        (problem["line"].as_u64(), problem["column"].as_u64()),
        (Some(3), Some(STRING_BOMB_COLUMN)),
        "{doc}"
    );
    assert!(
        problem["hint"].as_str().unwrap().contains("anchor (`&x`)"),
        "{doc}"
    );
    let run = run_in_512_mib(&env, &["workflow", "run", "bk"]);
    assert_clear_refusal(&run, "bk");
}

/// A 100 KB workflow whose `validate:` repeats one check 300 times through an alias ran, and
/// its `run_started` snapshot made a 30 MB log. Aliases add at most 1 MiB to a definition, so
/// such a file is refused before anything is recorded.
#[test]
fn a_check_repeated_through_aliases_past_the_bound_is_refused_before_anything_is_recorded() {
    let env = Env::new();
    env.workflow(
        "snap",
        &format!(
            "name: snap\nsteps:\n  - name: a\n    run: 'true'\n    validate: [&c {{run: \"true #{}\"}}{}]\n",
            "x".repeat(20_000),
            ", *c".repeat(300)
        ),
    );
    let out = env.run(&["workflow", "run", "snap"]);
    assert_clear_refusal(&out, "snap");
    assert!(out.text().contains("snap.yaml:5:"), "{}", out.text());
    assert!(!env.db().exists(), "nothing was recorded");
    // Under the bound, the same shape is a workflow like any other.
    env.workflow(
        "few",
        "name: few\nsteps:\n  - name: a\n    run: 'true'\n    validate: [&c {run: 'true'}, *c, *c]\n",
    );
    assert_eq!(env.run(&["workflow", "run", "few"]).code, 0);
}

/// The classic bomb (nine of nine of ... a short list) as `validate` shows it: at the alias
/// where the aliases pass the bound, with the line, a caret under the alias, and the fix.
#[test]
fn an_alias_bomb_is_shown_at_the_alias_that_passes_the_bound() {
    let env = Env::new();
    env.workflow(
        "bomb",
        &format!(
            "name: bomb\ninputs:\n  x:\n    default:\n{}steps: [{{name: a, run: 'true'}}]\n",
            alias_bomb("      ")
        ),
    );
    env.workflow("self", "name: self\nsteps: &s [*s]\n");
    let bomb = env.run(&["workflow", "validate", "bomb"]);
    let itself = env.run(&["workflow", "validate", "self"]);
    insta::assert_snapshot!(
        "alias_bomb_refused_at_its_alias",
        format!("{}\n{}", bomb.snapshot(&env), itself.snapshot(&env))
    );
}

/// What is wrong with a file as a whole was said without a place: a second YAML document (a
/// `---` alone at its end) in serde's words, a raw NUL byte by its line only, a byte that is
/// not UTF-8 by its offset, a file over 1 MiB by its size, each with `line: null` or no
/// `errors` at all. Each is located now, as SPEC §7 asks of every problem of a definition.
#[test]
fn problems_of_a_whole_file_are_located_in_the_validate_document() {
    let env = Env::new();
    let file = |name: &str, bytes: &[u8]| {
        let path = env.project().join(name);
        std::fs::write(&path, bytes).unwrap();
        format!("./{name}")
    };
    // 1 MiB is passed on line 104,858 (each line is ten bytes), at its seventh byte.
    let big = "# a line.\n".repeat(110_000);
    let cases = [
        (
            file(
                "two.yaml",
                b"name: two\nsteps: [{name: a, run: 'true'}]\n---\n",
            ),
            "a second YAML document starts here",
            (3, 1),
        ),
        (
            file(
                "nul.yaml",
                b"name: nul\nsteps: [{name: a, run: 'true'}]\n# \0 here\n",
            ),
            "NUL byte",
            (3, 3),
        ),
        (
            file(
                "latin1.yaml",
                b"name: l\nsteps: [{name: \"caf\xe9\", run: 'true'}]\n",
            ),
            "not UTF-8 text",
            (2, 20),
        ),
        (
            file("big.yaml", big.as_bytes()),
            "definitions are limited to 1048576 bytes",
            (104_858, 7),
        ),
    ];
    for (path, says, (line, column)) in cases {
        let out = env.run(&["--json", "workflow", "validate", &path]);
        assert_eq!(out.code, 2, "{path}: {}{}", out.stdout, out.stderr);
        let doc = out.json();
        assert_eq!(doc["valid"], false, "{doc}");
        let problem = &doc["errors"][0];
        assert!(problem["message"].as_str().unwrap().contains(says), "{doc}");
        assert_eq!(
            (problem["line"].as_u64(), problem["column"].as_u64()),
            (Some(line), Some(column)),
            "{path}: {doc}"
        );
        assert!(problem["hint"].is_string(), "{doc}");
    }
    // A scenario's the same way, and `--all` lists it located among the others.
    std::fs::create_dir_all(env.home().join("scenarios")).unwrap();
    std::fs::write(
        env.home().join("scenarios/latin1.yaml"),
        b"name: l\ndescription: \xe9t\xe9\nphases: []\n",
    )
    .unwrap();
    for args in [
        vec!["--json", "orchestrate", "validate", "latin1"],
        vec!["--json", "orchestrate", "validate", "--all"],
    ] {
        let out = env.run(&args);
        assert_eq!(out.code, 2, "{args:?}: {}{}", out.stdout, out.stderr);
        let doc = out.json();
        let verdict = doc["scenarios"].get(0).unwrap_or(&doc);
        assert_eq!(
            (
                verdict["errors"][0]["line"].as_u64(),
                verdict["errors"][0]["column"].as_u64()
            ),
            (Some(2), Some(14)),
            "{args:?}: {doc}"
        );
    }
    let human = env.run(&["workflow", "validate", "./two.yaml"]);
    let nul = env.run(&["workflow", "validate", "./nul.yaml"]);
    insta::assert_snapshot!(
        "whole_file_problems_located",
        format!("{}\n{}", human.snapshot(&env), nul.snapshot(&env))
    );
}

/// A NUL written as an escape (`"\0"`) in a command or an environment value passed
/// `validate`, and the run failed on it: no argument or variable can carry one. Refused at
/// `validate`, at the escape; a prompt (given on standard input) may hold one.
#[test]
fn a_nul_escape_in_what_a_command_is_given_is_refused_at_validate_where_it_is_written() {
    let env = Env::new();
    env.workflow(
        "w",
        "name: w\nsteps:\n  - name: a\n    run: \"echo a\\0b\"\n    env: {X: \"a\\x00b\"}\n    working_dir: \"d\\0\"\n  - name: b\n    prompt: \"do \\0 this\"\n",
    );
    let out = env.run(&["--json", "workflow", "validate", "w"]);
    assert_eq!(out.code, 2, "{}", out.stdout);
    let errors = out.located_errors();
    let at: Vec<(u64, u64)> = errors.iter().map(|(_, l, c)| (*l, *c)).collect();
    assert_eq!(at, vec![(4, 17), (5, 16), (6, 20)], "{errors:?}");
    assert!(
        errors[0].0.starts_with("the command holds a NUL character"),
        "{errors:?}"
    );
    assert!(errors[1].0.starts_with("the value of `X`"), "{errors:?}");
    env.scenario(
        "s",
        "name: s\ndescription: d\nphases:\n  - name: a\n    description: d\n    run: [\"true\", \"echo \\0\"]\n    env: {Y: \"\\0\"}\n",
    );
    let out = env.run(&["--json", "orchestrate", "validate", "s"]);
    assert_eq!(out.code, 2, "{}", out.stdout);
    let at: Vec<(u64, u64)> = out
        .located_errors()
        .iter()
        .map(|(_, l, c)| (*l, *c))
        .collect();
    assert_eq!(at, vec![(6, 25), (7, 15)], "{}", out.stdout);
    assert!(!env.db().exists(), "nothing was recorded");
}

/// A bare `z.yaml` that is a link to /dev/zero, a FIFO or a link to nothing was answered
/// "no workflow named `z.yaml`", where `./z.yaml` said what it is: either way it is said now.
#[test]
fn a_bare_file_name_that_is_a_device_fifo_or_broken_link_is_said_to_be_one() {
    let env = Env::new();
    std::os::unix::fs::symlink("/dev/zero", env.project().join("z.yaml")).unwrap();
    std::os::unix::fs::symlink("/nonexistent/gone.yaml", env.project().join("gone.yaml")).unwrap();
    let fifo = env.project().join("pipe.yaml");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    let mut cases = vec![
        ("z.yaml", "not a regular file"),
        ("./z.yaml", "not a regular file"),
        (
            "gone.yaml",
            "a symbolic link to /nonexistent/gone.yaml, which does not exist",
        ),
        (
            "./gone.yaml",
            "a symbolic link to /nonexistent/gone.yaml, which does not exist",
        ),
    ];
    if made.as_ref().is_ok_and(|s| s.success()) {
        cases.push(("pipe.yaml", "not a regular file"));
    }
    for (name, says) in cases {
        for kind in ["workflow", "orchestrate"] {
            let out = run_in_512_mib(&env, &[kind, "validate", name]);
            assert_clear_refusal(&out, name);
            assert!(out.text().contains(says), "{kind} {name}: {}", out.text());
        }
    }
}

/// Each output is an event of the log and a line of `status`: 1 MiB of short `k=v` lines
/// (100,000 keys) made 100,000 events, hundreds of MB for every replay. An attempt with more
/// keys than `MAX_OUTPUT_KEYS` fails its validation naming the limit, and none of its outputs
/// is recorded.
#[test]
fn more_output_keys_than_the_limit_fail_the_attempt_and_none_is_recorded() {
    let env = Env::new();
    env.workflow(
        "keys",
        "name: keys\nsteps:\n  - name: gen\n    run: 'i=0; while [ $i -lt 1001 ]; do echo k$i=v; i=$((i+1)); done > \"$CORTEX_OUTPUT\"'\n    retry: {max_retry_attempts: 0}\n",
    );
    let out = env.run(&["workflow", "run", "keys"]);
    assert_ne!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let status = env.status(None);
    let step = &status["steps"][0];
    assert_eq!(step["status"], "failed", "{status}");
    assert!(
        step["outputs"].as_object().is_none_or(|o| o.is_empty()),
        "{status}"
    );
    assert_eq!(
        common::count_events(&env, status["run_id"].as_str().unwrap(), "output_recorded"),
        0
    );
    let log = env.run(&["log", "show"]).stdout;
    assert!(
        log.contains("its outputs have 1001 keys, more than the 1000 outputs may have"),
        "{log}"
    );
}

/// A human `status` shows the first outputs of a step and says how many more there are and
/// the command that shows them all, not one line each.
#[test]
fn status_shows_a_few_outputs_of_a_step_and_the_command_for_the_rest() {
    let env = Env::new();
    env.workflow(
        "keys",
        "name: keys\nsteps:\n  - name: gen\n    run: 'i=0; while [ $i -lt 1000 ]; do echo k$i=v; i=$((i+1)); done > \"$CORTEX_OUTPUT\"'\n",
    );
    let out = env.run(&["workflow", "run", "keys"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let text = env.run(&["workflow", "status"]).stdout;
    assert_eq!(text.matches("Output: ").count(), 20, "{text}");
    assert!(
        text.contains("… 980 more outputs (1000 in all): `cortex --json workflow status "),
        "{text}"
    );
    assert_eq!(
        env.status(None)["steps"][0]["outputs"]
            .as_object()
            .unwrap()
            .len(),
        1000
    );
}
