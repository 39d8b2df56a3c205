//! Suggested commands are safe to paste: every "Next:" line and `next` argv, passed through a
//! POSIX shell, runs cortex with exactly the intended argv and nothing else; stored text
//! never reaches a terminal as escape sequences.

mod common;

use std::path::Path;
use std::process::Command;

use common::Env;
use cortex::render::command_line;
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;

/// Run `line` in `/bin/sh` in `dir` with `cortex` defined as a shell function that prints its
/// arguments NUL-separated, and no PATH: any other command would fail on stderr.
fn paste(line: &str, dir: &Path) -> (Vec<String>, String, i32) {
    paste_into("/bin/sh", line, dir)
}

/// `paste` into the shell `sh`.
fn paste_into(sh: &str, line: &str, dir: &Path) -> (Vec<String>, String, i32) {
    let script =
        format!("cortex() {{ for a in \"$@\"; do printf '%s\\0' \"$a\"; done; }}\n{line}\n");
    let out = Command::new(sh)
        .arg("-c")
        .arg(script)
        .current_dir(dir)
        .env_clear()
        .env("PATH", "/nonexistent")
        .output()
        .expect("sh runs");
    let args = String::from_utf8_lossy(&out.stdout)
        .split_terminator('\0')
        .map(str::to_string)
        .collect();
    (
        args,
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.code().unwrap_or(-1),
    )
}

/// The "Next:" lines of a human report: the command part of each indented line after it.
fn next_lines(text: &str) -> Vec<String> {
    text.lines()
        .skip_while(|l| !l.starts_with("Next") && !l.starts_with("Recovery options"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .map(|l| {
            let l = l.trim_start();
            // Strip the aligned `# why` comment: commands never hold "   # " unquoted.
            l.rsplit_once("   # ")
                .map_or(l, |(cmd, _)| cmd)
                .trim_end()
                .to_string()
        })
        .collect()
}

fn assert_pastes_exactly(env: &Env, human: &str, next: &serde_json::Value) {
    let lines = next_lines(human);
    let argvs: Vec<Vec<String>> = next
        .as_array()
        .expect("next is a list")
        .iter()
        .map(|s| serde_json::from_value(s["argv"].clone()).unwrap())
        .collect();
    assert!(!lines.is_empty(), "no Next: lines in\n{human}");
    assert_eq!(lines.len(), argvs.len(), "{human}\n{next}");
    let scratch = tempfile::tempdir().unwrap();
    for (line, argv) in lines.iter().zip(&argvs) {
        let (got, stderr, code) = paste(line, scratch.path());
        assert_eq!(code, 0, "`{line}`: {stderr}");
        assert!(stderr.is_empty(), "`{line}` ran something else: {stderr}");
        assert_eq!(got, argv[1..], "`{line}` does not give the argv of `next`");
    }
    assert_eq!(
        std::fs::read_dir(scratch.path()).unwrap().count(),
        0,
        "pasting created files"
    );
    let _ = env;
}

#[test]
fn a_step_named_with_command_substitution_is_suggested_quoted_and_runs_nothing() {
    let env = Env::new();
    env.workflow(
        "evil",
        "name: evil\nsteps:\n  - name: rev $(touch pwned)\n    prompt: review it\n  - name: \"say \\\"hi\\\" `id` 'x'\"\n    prompt: then this\n",
    );
    let run = env.run(&["workflow", "run", "evil"]);
    assert_eq!(run.code, 3, "{}{}", run.stdout, run.stderr);
    let status = env.run(&["workflow", "status"]);
    let json = env.status(None);
    assert_pastes_exactly(&env, &status.stdout, &json["next"]);
    assert_eq!(json["next"][0]["argv"][4], "rev $(touch pwned)");
    assert!(!env.project().join("pwned").exists());
}

#[test]
fn scenario_next_lines_quote_phase_names_and_work_when_pasted() {
    let env = Env::new();
    env.scenario("quoting", "name: quoting\ndescription: hostile phase names\nphases:\n  - name: \"g'; touch x; '\"\n    description: a manual phase\n    condition: manual\n  - name: build docs\n    description: another\n    condition: manual\n");
    let run = env.run(&["orchestrate", "run", "quoting"]);
    assert_eq!(run.code, 3, "{}{}", run.stdout, run.stderr);
    let status = env.run(&["orchestrate", "status", "quoting"]);
    let json = env
        .run(&["--json", "orchestrate", "status", "quoting"])
        .json();
    assert_pastes_exactly(&env, &status.stdout, &json["next"]);
    // Pasted into a real shell with the real binary, the suggestion starts `build docs`.
    let line = next_lines(&status.stdout)
        .into_iter()
        .find(|l| l.contains("start") && l.contains("build docs"))
        .expect("a start suggestion for `build docs`");
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_cortex")).parent().unwrap();
    let out = Command::new("/bin/sh")
        .arg("-c")
        .arg(&line)
        .current_dir(env.project())
        .env("PATH", format!("{}:/usr/bin:/bin", bin_dir.display()))
        .env("CORTEX_HOME", env.home())
        .output()
        .unwrap();
    assert!(
        matches!(out.status.code(), Some(0 | 3)),
        "`{line}`: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let after = env
        .run(&["--json", "orchestrate", "status", "quoting"])
        .json();
    let phase = after["phases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "build docs")
        .unwrap();
    assert_eq!(phase["status"], "waiting", "{after}");
    assert!(!env.project().join("x").exists());
}

#[test]
fn suggestions_name_the_home_when_it_was_given_with_home() {
    let env = Env::new();
    env.workflow(
        "ask",
        "name: ask\nsteps:\n  - name: Plan\n    prompt: plan it\n",
    );
    let home = env.home().display().to_string();
    let out = env
        .command(&["--home", &home, "--json", "workflow", "run", "ask"])
        .env_remove("CORTEX_HOME")
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let argv = &json["next"][0]["argv"];
    assert_eq!(argv[1], "--home", "{json}");
    assert_eq!(argv[2], home.as_str());
    // With CORTEX_HOME naming the same home, a bare `cortex` finds it: no --home.
    assert_eq!(env.status(None)["next"][0]["argv"][1], "workflow");
}

#[test]
fn status_never_prints_escape_sequences_from_stored_output() {
    let env = Env::new();
    env.workflow(
        "noisy",
        "name: noisy\nsteps:\n  - name: leak\n    run: printf 'a\\033]52;c;ZXZpbA==\\007b\\033[2J\\r\\342\\200\\256x\\n'; exit 1\n    retry: {max_retry_attempts: 0}\n",
    );
    let run = env.run(&["workflow", "run", "noisy"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    for args in [
        &["workflow", "status"][..],
        &["log", "show"],
        &["--json", "workflow", "status"],
        &["log", "export"],
    ] {
        let out = env.run(args);
        for (what, text) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
            assert!(
                !text.contains('\u{1b}') && !text.contains('\r') && !text.contains('\u{202e}'),
                "{args:?} {what} holds raw control characters: {text:?}"
            );
        }
    }
    let status = env.run(&["workflow", "status"]).stdout;
    assert!(status.contains("a\\u{1b}]52;c;ZXZpbA==\\u{7}b"), "{status}");
    // The JSON still holds the exact bytes, escaped.
    let json = env.status(None);
    let tail = json["steps"][0]["output_tail"].as_str().unwrap();
    assert!(tail.contains("\u{1b}]52;c;ZXZpbA==\u{7}b"), "{tail:?}");
}

fn word() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9 _.-]{0,12}",
        // Shell syntax of every kind, and any other character but NUL.
        "[ '\"$`\\\\!*?\\[\\]{}()<>|&;#~=%^\n\t]{0,12}",
        any::<String>().prop_map(|s| s.replace('\0', "")),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(128),
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "proptest-regressions/suggestions.txt",
        ))),
        ..ProptestConfig::default()
    })]

    /// No printed suggestion, passed through `sh -c`, runs anything but cortex with the
    /// intended argv: for any words (no NUL, which no argv can hold), the quoted command line
    /// gives back exactly those words and nothing else runs (a word with an invisible character
    /// other than a tab (a newline too) is ANSI-C quoted: exact through bash, and through dash,
    /// which predates `$'…'`, still nothing else runs).
    #[test]
    fn a_quoted_command_line_runs_cortex_with_exactly_its_argv(
        words in proptest::collection::vec(word(), 0..5)
    ) {
        let mut argv = vec!["cortex".to_string()];
        argv.extend(words.iter().cloned());
        let scratch = tempfile::tempdir().unwrap();
        let line = command_line(&argv);
        // A word with an invisible character is in ANSI-C quotes (`$'…'`), which bash reads
        // and Debian 12's dash does not: exact in bash; in dash, still nothing else runs.
        let ansi_c = line.contains("$'");
        let (got, stderr, code) = if ansi_c {
            paste_into("/bin/bash", &line, scratch.path())
        } else {
            paste(&line, scratch.path())
        };
        prop_assert_eq!(code, 0, "{}", stderr);
        prop_assert!(stderr.is_empty(), "{}", stderr);
        prop_assert_eq!(got, words);
        prop_assert_eq!(std::fs::read_dir(scratch.path()).unwrap().count(), 0);
        if ansi_c {
            let (_, _, code) = paste(&line, scratch.path());
            prop_assert_eq!(code, 0);
            prop_assert_eq!(std::fs::read_dir(scratch.path()).unwrap().count(), 0);
        }
    }
}

/// The suggested report of a step whose `validate:` runs a command, in a run with a secret
/// input: pasted as is, `workflow step complete` is refused (its checks need the value, which
/// the log keeps as `***`), so its `why` says to set `CORTEX_INPUT_<NAME>`; pasted with it set,
/// the suggestion completes the step.
#[test]
fn the_suggested_report_of_a_step_whose_checks_need_a_secret_input_says_how_to_give_it() {
    let env = Env::new();
    env.workflow("sec", "name: sec\ninputs:\n  api_token: {type: string, required: true}\nsteps:\n  - name: Write\n    prompt: Write notes.txt\n    validate:\n      - run: test -f notes.txt\n");
    let run = env.run(&["workflow", "run", "sec", "--input", "api_token=s3cr3t-val"]);
    assert_eq!(run.code, 3, "{}", run.text());
    let status = env.status(None);
    let complete = status["next"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["argv"][3] == "complete")
        .unwrap_or_else(|| panic!("{status:#}"))
        .clone();
    let why = complete["why"].as_str().unwrap();
    assert!(
        why.contains("set CORTEX_INPUT_API_TOKEN in the environment"),
        "{why}"
    );
    std::fs::write(env.file("notes.txt"), "notes\n").unwrap();
    let argv: Vec<&str> = complete["argv"].as_array().unwrap()[1..]
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    let bare = env.run(&argv);
    assert_eq!(bare.code, 2, "{}", bare.text());
    let given = env.run_with(&argv, &[("CORTEX_INPUT_API_TOKEN", "s3cr3t-val")]);
    assert_eq!(given.code, 0, "{}", given.text());
    assert_eq!(env.status(None)["status"], "completed");
}

/// The suggestion to report on a step (or phase) whose own gate (`validate: - run:`, a
/// `check:` criterion) reads one of its outputs carries `--output KEY=VALUE`, in the human
/// "Next:" line and in `next[].argv` alike, and its why says the report gives it. Before, only
/// an `output:` gate put it there, and the why said "later steps use --output api_token=VALUE"
/// of what the step's own gate needed: pasted, the suggestion was refused with exit 2. A report
/// that leaves it out is told which output to give and how.
#[test]
fn an_output_its_own_gate_reads_is_in_the_suggestion_and_the_suggestion_passes() {
    let env = Env::new();
    env.scenario(
        "sc",
        "name: sc\ndescription: d\nphases:\n  - name: login\n    description: log in\n    success_criteria:\n      - check: test -n \"${{ phases.login.outputs.api_token }}\"\n  - name: after\n    description: then\n    condition: after:login\n",
    );
    let run = env.run(&["orchestrate", "run", "sc"]);
    assert_eq!(run.code, 3, "{}{}", run.stdout, run.stderr);
    let status = env.run(&["orchestrate", "status", "sc"]);
    let json = env.run(&["--json", "orchestrate", "status", "sc"]).json();
    assert_pastes_exactly(&env, &status.stdout, &json["next"]);
    let complete = json["next"][0].clone();
    let argv: Vec<String> = serde_json::from_value(complete["argv"].clone()).unwrap();
    assert_eq!(
        argv[argv.len() - 2..],
        ["--output", "api_token=VALUE"],
        "{json}"
    );
    let why = complete["why"].as_str().unwrap();
    assert!(
        why.contains("giving `api_token`") && !why.contains("later steps"),
        "{why}"
    );
    insta::assert_snapshot!("own_gate_output_suggested", status.snapshot(&env));
    // Left out, the gate's failure says which output and how to give it.
    let bare = env.run(&["orchestrate", "complete", "sc", "login"]);
    assert_eq!(bare.code, 2, "{}{}", bare.stdout, bare.stderr);
    assert!(
        bare.stderr
            .contains("output `api_token` was not given: add --output api_token=VALUE"),
        "{}",
        bare.stderr
    );
    // The suggestion as given, VALUE filled in, passes.
    let done = env.run_filled(&argv, "tok-123");
    assert_eq!(done.code, 3, "{}{}", done.stdout, done.stderr);
    let after = env.run(&["--json", "orchestrate", "status", "sc"]).json();
    assert_eq!(after["phases"][0]["status"], "completed", "{after}");

    // A workflow's prompt step with such a gate: the same.
    let env = Env::new();
    env.workflow(
        "w",
        "name: w\nsteps:\n  - name: Login\n    prompt: log in\n    validate:\n      - run: test -n \"${{ steps.Login.outputs.api_token }}\"\n",
    );
    assert_eq!(env.run(&["workflow", "run", "w"]).code, 3);
    let status = env.run(&["workflow", "status"]);
    let json = env.status(None);
    assert_pastes_exactly(&env, &status.stdout, &json["next"]);
    let argv: Vec<String> = serde_json::from_value(json["next"][0]["argv"].clone()).unwrap();
    assert_eq!(
        argv[argv.len() - 2..],
        ["--output", "api_token=VALUE"],
        "{json}"
    );
    assert!(
        status
            .stdout
            .contains("Report with: --output api_token=VALUE"),
        "{}",
        status.stdout
    );
    assert!(
        !status.stdout.contains("Later steps use"),
        "{}",
        status.stdout
    );
}

/// A check is shown as it will run: the checklist's `$ COMMAND` lines and the `--at` view's
/// "Gate check:" once pasted a value a report gave into shell text (`test -n "$(touch PWNED)
/// `id`"`), and pasting it ran that (SPEC §7); the value is written as the shell reads the
/// value it is given, so pasting runs what the engine runs. The past view suggests nothing
/// (no "Later steps use:"), and a waiting phase's prompt says an output not given yet in
/// words apart from the check's command, never spliced into it (review m, finding 3: `test
/// -n "(output `out`, not given yet)"`, a command that always passes).
#[test]
fn checks_are_shown_as_they_will_run_and_pasting_one_runs_no_value_a_report_gave() {
    let env = Env::new();
    env.scenario(
        "hs",
        "name: hs\ndescription: d\nphases:\n  - name: first\n    description: give out\n    success_criteria:\n      - check: test -n \"${{ phases.first.outputs.out }}\"\n  - name: second\n    description: then\n    condition: after:first\n    success_criteria:\n      - check: test -n \"${{ phases.first.outputs.out }}\"\n",
    );
    assert_eq!(env.run(&["orchestrate", "run", "hs"]).code, 3);
    // Waiting, its prompt names the output it is to give.
    let json = env.run(&["--json", "orchestrate", "status", "hs"]).json();
    let prompt = json["phases"][0]["prompt"].as_str().unwrap_or_default();
    assert!(
        prompt.contains(
            "- check: test -n \"${{ phases.first.outputs.out }}\"\n  (`${{ phases.first.outputs.out }}`: output `out`, not given yet)\n"
        ) && !prompt.contains("\"(output"),
        "{json}"
    );
    let done = env.run(&[
        "orchestrate",
        "complete",
        "hs",
        "first",
        "--output",
        "out=$(touch PWNED) `id`",
    ]);
    assert_eq!(done.code, 3, "{}{}", done.stdout, done.stderr);
    let status = env.run(&["orchestrate", "status", "hs"]);
    let past = env.run(&["orchestrate", "status", "hs", "--at", "2"]);
    let scratch = tempfile::tempdir().unwrap();
    for text in [&status.stdout, &past.stdout, &done.stdout] {
        assert!(!text.contains("test -n \"$(touch"), "{text}");
        // Every check line, pasted, runs nothing a report gave.
        for line in text.lines() {
            let cmd = line
                .split_once("] $ ")
                .or_else(|| line.split_once("Gate check: "))
                .map(|(_, c)| c);
            if let Some(cmd) = cmd {
                let _ = paste(cmd, scratch.path());
            }
        }
    }
    assert_eq!(
        std::fs::read_dir(scratch.path()).unwrap().count(),
        0,
        "pasting a check line created files"
    );
    assert!(
        !past.stdout.contains("Later steps use") && !past.stdout.contains("Report with"),
        "{}",
        past.stdout
    );
    insta::assert_snapshot!("checks_as_they_run_status", status.snapshot(&env));
    insta::assert_snapshot!("checks_as_they_run_past", past.snapshot(&env));
}

/// An output key may start with `-` (a `$CORTEX_OUTPUT` line may write it), and a suggested
/// report gives it joined to its flag: `--output -x=VALUE` was a usage error (clap read `-x`
/// as an option), so an agent that filled the suggestion in got exit 2 and went no further.
#[test]
fn a_suggested_report_of_an_output_key_starting_with_a_dash_parses() {
    let env = Env::new();
    env.workflow(
        "k",
        "name: k\nsteps:\n  - name: P\n    prompt: report\n  - name: S\n    run: 'test \"${{ steps.P.outputs.-x }}\" = hello'\n    retry: {max_retry_attempts: 0}\n",
    );
    assert_eq!(env.run(&["workflow", "validate", "k"]).code, 0);
    assert_eq!(env.run(&["workflow", "run", "k"]).code, 3);
    let status = env.run(&["workflow", "status"]);
    let json = env.status(None);
    assert_pastes_exactly(&env, &status.stdout, &json["next"]);
    let argv: Vec<String> = serde_json::from_value(json["next"][0]["argv"].clone()).unwrap();
    assert_eq!(argv.last().unwrap(), "--output=-x=VALUE", "{json}");
    assert_eq!(json["next"][0]["fill"][0]["name"], "-x", "{json}");
    assert!(
        status.stdout.contains("Later steps use: --output=-x=VALUE"),
        "{}",
        status.stdout
    );
    // Filled in as `fill` says, it is the report that lets `S` read the value.
    let done = env.run_filled(&argv, "hello");
    assert_eq!(done.code, 0, "{}", done.text());
    assert_eq!(env.status(None)["status"], "completed");
}
