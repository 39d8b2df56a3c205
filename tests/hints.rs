//! Every suggestion works: each hint and "Next:" line the CLI prints, in every situation a run
//! can be in (waiting, failed, paused, stopped, interrupted, rolled back) and for every kind of
//! mistake (invalid definitions, unknown names, no runs), names a subcommand and flags that
//! exist — checked by parsing it with the CLI's own parser.

mod common;

use std::process::Command;

use clap::Parser;
use common::{Env, Out};
use cortex::cli::Cli;

/// The argv of a pasted command line, as `/bin/sh` splits it.
fn split(line: &str) -> Vec<String> {
    let script =
        format!("cortex() {{ for a in \"$@\"; do printf '%s\\0' \"$a\"; done; }}\n{line}\n");
    let out = Command::new("/bin/sh")
        .arg("-c")
        .arg(script)
        .env_clear()
        .env("PATH", "/nonexistent")
        .output()
        .unwrap();
    assert!(
        out.stderr.is_empty(),
        "`{line}`: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .split_terminator('\0')
        .map(str::to_string)
        .collect()
}

/// Every `cortex ...` command a text suggests: "Next:" lines, and backticked commands in hints.
fn suggested(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut in_next = false;
    for line in text.lines() {
        if line.starts_with("Next:") || line.starts_with("Recovery options:") {
            in_next = true;
            continue;
        }
        if in_next {
            match line.strip_prefix("  ") {
                Some(rest) if rest.starts_with("cortex ") => {
                    let cmd = rest.rsplit_once("   # ").map_or(rest, |(c, _)| c);
                    found.push(cmd.trim_end().to_string());
                    continue;
                }
                _ => in_next = false,
            }
        }
        let mut rest = line;
        while let Some(start) = rest.find("`cortex ") {
            let after = &rest[start + 1..];
            let Some(end) = after.find('`') else { break };
            found.push(after[..end].to_string());
            rest = &after[end + 1..];
        }
    }
    found
}

/// Each suggestion of `out` parses as a cortex command line; returns how many were checked.
fn check(situation: &str, out: &Out) -> usize {
    let mut n = 0;
    for text in [&out.stdout, &out.stderr] {
        for line in suggested(text) {
            let argv = split(&line);
            let parsed =
                Cli::try_parse_from(std::iter::once("cortex".to_string()).chain(argv.clone()));
            assert!(
                parsed.is_ok(),
                "{situation}: `{line}` does not parse: {}",
                parsed.err().unwrap()
            );
            n += 1;
        }
    }
    if let Ok(json) = serde_json::from_str::<serde_json::Value>(&out.stdout)
        && let Some(next) = json["next"].as_array()
    {
        for s in next {
            let argv: Vec<String> = serde_json::from_value(s["argv"].clone()).unwrap();
            assert_eq!(argv[0], "cortex");
            let parsed = Cli::try_parse_from(argv.clone());
            assert!(
                parsed.is_ok(),
                "{situation}: next {argv:?} does not parse: {}",
                parsed.err().unwrap()
            );
            n += 1;
        }
    }
    n
}

/// `secpar`, whose `uses:` child `seckid` fails on a step reading a secret output `login`
/// records (`use`, never passing): resumed by another process, it cannot read it.
fn secret_child(env: &Env) {
    env.workflow(
        "seckid",
        "name: seckid\nsteps:\n  - name: login\n    run: echo \"api_token=tok-$$-s3cretvalue\" >> \"$CORTEX_OUTPUT\"\n  - name: use\n    run: test -f never && test -n \"$T\"\n    env: {T: \"${{ steps.login.outputs.api_token }}\"}\n    retry: {max_retry_attempts: 0}\n",
    );
    env.workflow(
        "secpar",
        "name: secpar\ninputs:\n  db_password: {type: string, required: true}\nsteps:\n  - name: k\n    uses: seckid\n",
    );
}

fn scenario(env: &Env, name: &str, yaml: &str) {
    std::fs::create_dir_all(env.home().join("scenarios")).unwrap();
    std::fs::write(env.home().join(format!("scenarios/{name}.yaml")), yaml).unwrap();
}

#[test]
fn every_hint_and_next_line_names_a_command_that_exists() {
    let env = Env::new();
    let mut checked = 0;
    let mut situation = |what: &str, args: &[&str]| {
        let out = env.run(args);
        checked += check(what, &out);
        let mut json_args = vec!["--json"];
        json_args.extend_from_slice(args);
        let out = env.run(&json_args);
        checked += check(what, &out);
    };
    // Nothing yet.
    situation("no runs", &["workflow", "status"]);
    situation("no scenario runs", &["orchestrate", "status"]);
    situation("no runs to resume", &["workflow", "resume"]);
    // Unknown names.
    situation(
        "unknown workflow",
        &["workflow", "run", "feature-developmnt"],
    );
    situation("unknown scenario", &["orchestrate", "run", "nope"]);
    situation("unknown agent", &["agent", "status", "nobody"]);
    // Invalid definitions.
    env.workflow("broken", "name: broken\nsteps:\n  - name: a\n    runn: x\n");
    situation("invalid workflow", &["workflow", "validate", "broken"]);
    situation("invalid workflow run", &["workflow", "run", "broken"]);
    scenario(
        &env,
        "bad",
        "name: bad\nphases:\n  - name: a\n    condition: after:nowhere\n",
    );
    situation("invalid scenario", &["orchestrate", "validate", "bad"]);
    // Waiting, then reported.
    env.workflow(
        "ask",
        "name: ask\nsteps:\n  - name: Plan it\n    prompt: plan\n    validate: [{output: plan}]\n  - name: Build\n    run: 'true'\n",
    );
    situation("waiting", &["workflow", "run", "ask"]);
    situation("waiting status", &["workflow", "status"]);
    situation(
        "refused report",
        &["workflow", "step", "complete", "Plan it"],
    );
    situation("unknown step", &["workflow", "step", "complete", "Plam"]);
    situation(
        "recorded only",
        &[
            "workflow",
            "step",
            "complete",
            "Plan it",
            "-o",
            "plan=x",
            "--no-drive",
        ],
    );
    situation("nobody drives", &["workflow", "status"]);
    situation("unknown run", &["workflow", "status", "ZZZZZZZZ"]);
    // Failed (paused), then the recovery options.
    env.workflow(
        "fails",
        "name: fails\nsteps:\n  - name: ok\n    run: 'true'\n    rollback: 'true'\n  - name: bad\n    run: exit 3\n    retry: {max_retry_attempts: 0}\n",
    );
    situation("failed", &["workflow", "run", "fails"]);
    situation("failed status", &["workflow", "status"]);
    situation("resume dry run", &["workflow", "resume", "--dry-run"]);
    // Rolled back.
    env.workflow(
        "rolls",
        "name: rolls\nsteps:\n  - name: ok\n    run: 'true'\n    rollback: 'true'\n  - name: bad\n    run: exit 3\n    retry: {max_retry_attempts: 0}\n    on_failure: rollback\n",
    );
    situation("rolled back", &["workflow", "run", "rolls"]);
    situation("finished, resumed", &["workflow", "resume"]);
    situation(
        "finished, reported",
        &["workflow", "step", "complete", "ok"],
    );
    // A scenario waiting on a manual phase, stopped, and resumed.
    scenario(
        &env,
        "gate",
        "name: gate\ndescription: a manual gate\nphases:\n  - name: approve it\n    description: approve\n    condition: manual\n  - name: ship\n    description: ship\n    condition: after:approve it\n",
    );
    situation("scenario waiting", &["orchestrate", "run", "gate"]);
    situation("scenario status", &["orchestrate", "status", "gate"]);
    situation(
        "not waiting",
        &["orchestrate", "complete", "gate", "approve it"],
    );
    situation("unknown phase", &["orchestrate", "start", "gate", "aprove"]);
    situation("scenario stopped", &["orchestrate", "stop", "gate"]);
    situation(
        "scenario stopped status",
        &["orchestrate", "status", "gate"],
    );
    situation("other kind", &["workflow", "status", "gate"]);
    // A definition given by its path, with no runs yet.
    std::fs::write(
        env.file("by path.yaml"),
        "name: bypath\nsteps:\n  - {name: a, run: 'true'}\n",
    )
    .unwrap();
    situation(
        "by path, no runs",
        &["workflow", "status", "./by path.yaml"],
    );
    // A scheduled definition that does not validate: the pass names the command that shows
    // where (it named `cortex validate`, which is no command).
    env.workflow(
        "badcron",
        "name: badcron\ninputs: {who: {type: string, required: true}}\nschedule: {cron: \"0 * * * *\"}\nsteps: [{name: s, run: echo hi}]\n",
    );
    situation(
        "invalid schedule",
        &["schedule", "run", "--once", "--at", "2026-12-04T09:00:00Z"],
    );
    // Review s: a phase writing a malformed `$CORTEX_OUTPUT` (`--skip` first), a `foreach:`
    // step whose items partly ran resumed `--from` it, and a child whose failed step reads a
    // secret output another process recorded (its parent's `--retry` runs that step again).
    scenario(
        &env,
        "junk",
        "name: junk\ndescription: d\npriority: low\ntype: t\nphases:\n  - name: p\n    description: d\n    run: echo junk >> \"$CORTEX_OUTPUT\"\n",
    );
    situation("malformed output phase", &["orchestrate", "run", "junk"]);
    situation(
        "malformed output phase status",
        &["orchestrate", "status", "junk"],
    );
    env.workflow(
        "items",
        "name: items\nsteps:\n  - name: plan\n    run: echo 'l=[\"a\",\"b\"]' >> \"$CORTEX_OUTPUT\"\n  - name: each\n    foreach: \"${{ steps.plan.outputs.l }}\"\n    run: test \"$CORTEX_ITEM\" != b\n    retry: {max_retry_attempts: 0}\n",
    );
    situation("foreach item failed", &["workflow", "run", "items"]);
    situation(
        "foreach resumed from its step",
        &["workflow", "resume", "items", "--from", "each"],
    );
    secret_child(&env);
    situation(
        "child failed past a secret",
        &[
            "workflow",
            "run",
            "secpar",
            "--input",
            "db_password=pw-1234567890",
        ],
    );
    situation(
        "child lost a secret, parent",
        &["workflow", "status", "secpar"],
    );
    situation("child lost a secret", &["workflow", "status", "seckid"]);
    situation(
        "child resumed alone past a secret it lost",
        &["workflow", "resume", "seckid", "--retry"],
    );
    assert!(checked >= 30, "only {checked} suggestions were checked");
}

#[test]
fn an_interrupted_run_suggests_commands_that_exist() {
    let env = Env::new();
    env.workflow(
        "hold",
        "name: hold\nsteps:\n  - name: wait\n    run: touch started; sleep 30\n",
    );
    let mut child = env
        .command(&["workflow", "run", "hold"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let until = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !env.file("started").exists() {
        assert!(std::time::Instant::now() < until);
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let status = env.run(&["workflow", "status"]);
    assert!(status.stdout.contains("interrupted"), "{}", status.stdout);
    assert!(check("interrupted", &status) >= 2);
    assert!(check("interrupted", &env.run(&["--json", "workflow", "status"])) >= 2);
}

/// With no run at all in the log, a command on a scenario run says how to start a scenario —
/// the named one when it exists — never `workflow run`.
#[test]
fn with_no_runs_at_all_every_orchestrate_command_hints_orchestrate_run() {
    let env = Env::new();
    scenario(
        &env,
        "rr",
        "name: rr\ndescription: d\nphases:\n  - {name: plan, description: p, condition: manual}\n",
    );
    for args in [
        &["orchestrate", "status", "rr"][..],
        &["orchestrate", "start", "rr", "plan"],
        &["orchestrate", "complete", "rr", "plan"],
        &["orchestrate", "fail", "rr", "plan"],
        &["orchestrate", "stop", "rr"],
        &["orchestrate", "resume", "rr"],
        &["orchestrate", "abort", "rr"],
    ] {
        let out = env.run(args);
        assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
        assert!(
            out.stderr.contains("scenario `rr` has no runs yet")
                && out.stderr.contains("orchestrate run rr`"),
            "{args:?}: {}",
            out.stderr
        );
        assert!(!out.stderr.contains("workflow"), "{args:?}: {}", out.stderr);
        check("no runs", &out);
    }
    for args in [
        &["orchestrate", "status"][..],
        &["orchestrate", "stop"],
        &["orchestrate", "resume"],
    ] {
        let out = env.run(args);
        assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
        assert!(
            out.stderr.contains("cortex orchestrate run NAME") && !out.stderr.contains("workflow"),
            "{args:?}: {}",
            out.stderr
        );
    }
    let out = env.run(&["workflow", "status"]);
    assert!(
        out.stderr.contains("cortex workflow run NAME"),
        "{}",
        out.stderr
    );
}

/// After a failed compensation the run is over, and the suggested `run` starts its definition
/// again: the file it came from, whether it was given by path or found by a name that is not
/// its `name:`.
#[test]
fn after_a_failed_compensation_the_suggested_run_starts_the_definition_again() {
    let env = Env::new();
    env.config(r#"{"workflow":{"enable_rollback":true}}"#);
    let body = "steps:\n  - {name: Prep, run: 'true', rollback: 'exit 3'}\n  - {name: Review, prompt: r, on_failure: rollback}\n";
    let path = env.project().join("rb.yaml");
    std::fs::write(&path, format!("name: rb\n{body}")).unwrap();
    env.workflow("dp", &format!("name: Deploy Prod\n{body}"));
    for start in [path.to_str().unwrap(), "dp"] {
        assert_eq!(env.run(&["workflow", "run", start]).code, 3);
        let failed = env.run(&["workflow", "step", "fail", "Review"]);
        assert_eq!(failed.code, 1, "{}{}", failed.stdout, failed.stderr);
        assert!(
            failed.stdout.contains("compensation failed"),
            "{}",
            failed.stdout
        );
        let next = env.status(None)["next"].clone();
        let argv: Vec<String> = serde_json::from_value(next[0]["argv"].clone()).unwrap();
        assert_eq!(argv[1..3], ["workflow", "run"], "{argv:?}");
        let args: Vec<&str> = argv[1..].iter().map(String::as_str).collect();
        let again = env.run(&args);
        assert_eq!(
            again.code, 3,
            "{start}: {argv:?}: {}{}",
            again.stdout, again.stderr
        );
        assert_eq!(env.status(None)["waiting_for"], "Review");
        assert_eq!(env.run(&["workflow", "abort"]).code, 1);
    }
}

/// Every `` `cortex ...` `` a text quotes, as written.
fn quoted_commands(text: &str) -> Vec<String> {
    text.split('`')
        .skip(1)
        .step_by(2)
        .filter(|c| c.starts_with("cortex "))
        .map(str::to_string)
        .collect()
}

/// On an empty log, a command that looks at a run of either kind (`logs`, `log show`, `log
/// export`) suggests starting one of either kind, and one that looks at a kind suggests that
/// kind; with `--home` given, every suggested command carries it (and parses).
#[test]
fn on_an_empty_log_hints_fit_the_kind_asked_and_carry_the_home() {
    let env = Env::new();
    let home = env.home().display().to_string();
    let cases: [(&[&str], &[&str]); 7] = [
        (&["logs"], &["workflow", "orchestrate"]),
        (&["log", "show"], &["workflow", "orchestrate"]),
        (&["log", "export"], &["workflow", "orchestrate"]),
        (&["workflow", "status"], &["workflow"]),
        (&["orchestrate", "status"], &["orchestrate"]),
        (&["workflow", "history"], &["workflow"]),
        (&["orchestrate", "history"], &["orchestrate"]),
    ];
    for (args, kinds) in cases {
        let argv = [&["--home", home.as_str()][..], args].concat();
        // Without CORTEX_HOME, a bare `cortex` would use another home.
        let out = env
            .command(&argv)
            .env_remove("CORTEX_HOME")
            .output()
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let commands = quoted_commands(&text);
        for kind in ["workflow", "orchestrate"] {
            let run = format!("cortex --home {home} {kind} run NAME");
            assert_eq!(
                commands.contains(&run),
                kinds.contains(&kind),
                "{args:?}: {text}"
            );
        }
        for command in &commands {
            assert!(
                command.starts_with(&format!("cortex --home {home} ")),
                "{args:?}: `{command}` leaves out --home: {text}"
            );
            let parsed =
                Cli::try_parse_from(std::iter::once("cortex".to_string()).chain(split(command)));
            assert!(parsed.is_ok(), "{args:?}: `{command}` does not parse");
        }
    }
}

/// The hint that asks for a secret input's value again (a resume without it) names `--home`
/// when one was given, and each flag as its own word, so that it pastes.
#[test]
fn the_secret_input_hint_carries_the_home_and_parses() {
    let env = Env::new();
    env.workflow(
        "sec",
        "name: sec\ninputs:\n  api_token: {type: string, required: true}\nsteps:\n  - name: a\n    prompt: do\n  - name: b\n    run: echo ok\n",
    );
    let home = env.home().display().to_string();
    let run = |args: &[&str]| {
        let argv = [&["--home", home.as_str()][..], args].concat();
        let out = env
            .command(&argv)
            .env_remove("CORTEX_HOME")
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    assert_eq!(
        run(&[
            "workflow",
            "run",
            "sec",
            "--input",
            "api_token=abcdefgh12345"
        ])
        .0,
        Some(3)
    );
    // Recorded only: nobody drives the run now (exit 3).
    assert_eq!(
        run(&["workflow", "step", "complete", "a", "--no-drive"]).0,
        Some(3)
    );
    let (code, stderr) = run(&["workflow", "resume"]);
    assert_eq!(code, Some(2), "{stderr}");
    let commands = quoted_commands(&stderr);
    let resume = commands
        .iter()
        .find(|c| c.contains(" resume "))
        .unwrap_or_else(|| panic!("{stderr}"));
    assert!(
        resume.starts_with(&format!("cortex --home {home} workflow resume ")),
        "{stderr}"
    );
    let argv = split(resume);
    assert!(
        argv.windows(2)
            .any(|w| w[0] == "--input" && w[1] == "api_token=VALUE"),
        "{argv:?}"
    );
    assert!(Cli::try_parse_from(std::iter::once("cortex".to_string()).chain(argv)).is_ok());
}

/// Each command `out` suggests (its "Next:" lines, its backticked commands, its `next` argv),
/// split as a shell would: it must carry `globals` right after `cortex`, and parse. Returns
/// how many were checked.
fn check_carries(situation: &str, out: &Out, globals: &[&str]) -> usize {
    let mut n = 0;
    let mut argvs: Vec<(String, Vec<String>)> = Vec::new();
    for text in [&out.stdout, &out.stderr] {
        for line in suggested(text) {
            argvs.push((line.clone(), split(&line)));
        }
    }
    if let Ok(json) = serde_json::from_str::<serde_json::Value>(&out.stdout)
        && let Some(next) = json["next"].as_array()
    {
        for s in next {
            let argv: Vec<String> = serde_json::from_value(s["argv"].clone()).unwrap();
            assert_eq!(argv[0], "cortex");
            argvs.push((format!("next {argv:?}"), argv[1..].to_vec()));
        }
    }
    for (shown, argv) in argvs {
        assert!(
            argv.len() > globals.len() && argv[..globals.len()] == *globals,
            "{situation}: `{shown}` leaves out {globals:?}:\n{}{}",
            out.stdout,
            out.stderr
        );
        let parsed = Cli::try_parse_from(std::iter::once("cortex".to_string()).chain(argv));
        assert!(parsed.is_ok(), "{situation}: `{shown}` does not parse");
        n += 1;
    }
    n
}

/// A run in a home other than the one a bare `cortex` would use (`--home DIR`, no
/// CORTEX_HOME), or in a log given by `--db`: every command that status, `log show`, `logs`,
/// the progress of a drive and the hints of errors (unknown names, a refused report, a store
/// problem) suggest names that home (and that log), so that pasting it acts on this run and
/// not on another home's.
#[test]
fn every_command_suggested_for_a_run_in_another_home_names_that_home() {
    let env = Env::new();
    let home = env.home().display().to_string();
    let db = env.dir.path().join("elsewhere.db").display().to_string();
    env.workflow(
        "ask",
        "name: ask\nsteps:\n  - name: Plan it\n    prompt: plan\n    validate: [{output: plan}]\n  - name: Build\n    run: 'true'\n",
    );
    env.workflow(
        "kid",
        "name: kid\nsteps:\n  - name: k1\n    run: echo from the kid\n  - name: k2\n    prompt: then this\n",
    );
    env.workflow(
        "mom",
        "name: mom\nsteps:\n  - name: m1\n    uses: kid\n  - name: m2\n    run: 'true'\n",
    );
    secret_child(&env);
    scenario(
        &env,
        "gate",
        "name: gate\ndescription: a manual gate\nphases:\n  - name: approve it\n    description: approve\n    condition: manual\n  - name: ship\n    description: ship\n    condition: after:approve it\n",
    );
    for globals in [
        vec!["--home", home.as_str()],
        vec!["--home", home.as_str(), "--db", db.as_str()],
    ] {
        let mut checked = 0;
        let mut situation = |what: &str, args: &[&str]| {
            for json in [false, true] {
                let mut argv: Vec<&str> = globals.clone();
                if json {
                    argv.push("--json");
                }
                argv.extend_from_slice(args);
                let out = env
                    .command(&argv)
                    .env_remove("CORTEX_HOME")
                    .output()
                    .unwrap();
                let out = Out {
                    code: out.status.code().unwrap_or(-1),
                    stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
                    stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
                };
                checked += check_carries(what, &out, &globals);
            }
        };
        // Errors: unknown names of each kind, and a run that is not there.
        situation("unknown workflow", &["workflow", "run", "nope"]);
        situation("unknown scenario", &["orchestrate", "preview", "nope"]);
        situation("unknown agent", &["agent", "status", "nobody"]);
        situation("no runs", &["workflow", "status"]);
        // A waiting run, its status, a refused report, its events.
        situation("waiting", &["workflow", "run", "ask"]);
        situation("waiting status", &["workflow", "status", "ask"]);
        situation(
            "refused report",
            &["workflow", "step", "complete", "Plan it"],
        );
        situation("unknown run", &["workflow", "status", "ZZZZZZZZ"]);
        situation("failed", &["workflow", "step", "fail", "Plan it"]);
        situation("failed status", &["workflow", "status", "ask"]);
        situation("log show", &["log", "show", "ask"]);
        // A run waiting with its child run: `logs` names the child's own command.
        situation("child waiting", &["workflow", "run", "mom"]);
        situation("child status", &["workflow", "status", "mom"]);
        situation("child log show", &["log", "show", "mom"]);
        situation("child logs", &["logs", "mom"]);
        // Review s: a child whose failed step reads a secret output another process
        // recorded: the error's hint (`resume CHILD --from login`), its parent's `--retry`.
        situation(
            "child failed past a secret",
            &[
                "workflow",
                "run",
                "secpar",
                "--input",
                "db_password=pw-1234567890",
            ],
        );
        situation(
            "child lost a secret, parent",
            &["workflow", "status", "secpar"],
        );
        situation(
            "child resumed alone past a secret it lost",
            &["workflow", "resume", "seckid", "--retry"],
        );
        situation("child lost a secret", &["workflow", "status", "seckid"]);
        // A scenario: its plan, waiting on a manual phase, stopped.
        situation(
            "scenario plan",
            &["orchestrate", "run", "gate", "--dry-run"],
        );
        situation("scenario waiting", &["orchestrate", "run", "gate"]);
        situation("scenario stopped", &["orchestrate", "stop", "gate"]);
        situation("scenario status", &["orchestrate", "status", "gate"]);
        situation("other kind", &["workflow", "status", "gate"]);
        assert!(
            checked >= 40,
            "{globals:?}: only {checked} suggestions were checked"
        );
    }
    // The child's own output is printed by the command `logs` suggests for it.
    let out = env
        .command(&["--home", &home, "logs", "mom"])
        .env_remove("CORTEX_HOME")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let child = suggested(&text)
        .into_iter()
        .find(|c| c.contains(" logs "))
        .unwrap_or_else(|| panic!("no `logs` command for the child run in\n{text}"));
    let argv = split(&child);
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    let out = env
        .command(&argv)
        .env_remove("CORTEX_HOME")
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("from the kid"),
        "`{child}` does not print the child's output"
    );
}

/// A report that names a run of the other kind (`workflow step complete PHASE --run
/// SCENARIO`, `orchestrate complete WORKFLOW STEP`) is refused, and its hint is the same
/// report for that kind, which pasted as printed records it.
#[test]
fn a_report_on_a_run_of_the_other_kind_hints_that_kinds_report_which_works_when_pasted() {
    let env = Env::new();
    scenario(
        &env,
        "s",
        "name: s\ndescription: d\nphases:\n  - name: review it\n    description: x\n",
    );
    env.workflow("w", "name: w\nsteps:\n  - name: sign off\n    prompt: x\n");
    assert_eq!(env.run(&["orchestrate", "run", "s"]).code, 3);
    assert_eq!(env.run(&["workflow", "run", "w"]).code, 3);
    for (wrong, kind) in [
        (
            &["workflow", "step", "complete", "review it", "--run", "s"][..],
            "orchestrate",
        ),
        (&["orchestrate", "complete", "w", "sign off"], "workflow"),
    ] {
        let out = env.run(wrong);
        assert_eq!(out.code, 2, "{wrong:?}: {}", out.stderr);
        let hinted = quoted_commands(&out.stderr);
        assert_eq!(hinted.len(), 1, "{wrong:?}: {}", out.stderr);
        let argv = split(&hinted[0]);
        assert_eq!(argv[0], kind, "{}", hinted[0]);
        let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
        let pasted = env.run(&argv);
        assert_eq!(
            pasted.code, 0,
            "`{}`: {}{}",
            hinted[0], pasted.stdout, pasted.stderr
        );
    }
    assert_eq!(env.status(Some("w"))["status"], "completed");
    let s = env.run(&["--json", "orchestrate", "status", "s"]).json();
    assert_eq!(s["status"], "completed", "{s}");
}

/// A report on a phase stopped with its run is refused; the hint says `orchestrate resume`
/// goes on, and after pasting it the phase waits and the same report is recorded.
#[test]
fn a_report_on_a_stopped_phase_hints_resume_after_which_the_report_is_recorded() {
    let env = Env::new();
    scenario(
        &env,
        "s",
        "name: s\ndescription: d\nphases:\n  - name: review it\n    description: x\n",
    );
    assert_eq!(env.run(&["orchestrate", "run", "s"]).code, 3);
    assert_eq!(env.run(&["orchestrate", "stop", "s"]).code, 3);
    let report = ["orchestrate", "complete", "s", "review it"];
    let refused = env.run(&report);
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    let resume = quoted_commands(&refused.stderr)
        .into_iter()
        .find(|c| c.contains(" resume "))
        .unwrap_or_else(|| panic!("no resume hint in {}", refused.stderr));
    let argv = split(&resume);
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    assert_eq!(env.run(&argv).code, 3, "`{resume}`: the phase waits again");
    let done = env.run(&report);
    assert_eq!(done.code, 0, "{}{}", done.stdout, done.stderr);
}

/// `logs RUN STEP --raw` of an attempt whose file is missing or changed: its hints name the
/// home and quote the step's name, so that pasting them runs exactly `logs RUN STEP` there
/// (a name holding `; touch pwned` stays one word).
#[test]
fn raw_logs_hints_of_a_missing_or_changed_file_quote_the_step_and_name_the_home() {
    let env = Env::new();
    let step = "a b; touch pwned";
    env.workflow(
        "w",
        &format!("name: w\nsteps:\n  - name: \"{step}\"\n    run: echo hi\n"),
    );
    assert_eq!(env.run(&["workflow", "run", "w"]).code, 0);
    let run = env.status(None)["run_id"].as_str().unwrap().to_string();
    let file = env
        .home()
        .join(cortex::execute::attempt_log_name(&run, step, 1));
    assert!(file.exists(), "{}", file.display());
    let home = env.home().display().to_string();
    for change in ["missing", "changed"] {
        match change {
            "missing" => std::fs::remove_file(&file).unwrap(),
            _ => std::fs::write(&file, "not what ran\n").unwrap(),
        }
        let out = env
            .command(&["--home", &home, "logs", &run, step, "--raw"])
            .env_remove("CORTEX_HOME")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{change}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let hints: Vec<String> = stderr
            .lines()
            .filter(|l| l.starts_with("hint: "))
            .flat_map(quoted_commands)
            .collect();
        let logs = hints
            .iter()
            .find(|c| c.contains(" logs "))
            .unwrap_or_else(|| panic!("{change}: no `logs` hint in {stderr}"));
        assert_eq!(
            split(logs),
            ["--home", home.as_str(), "logs", run.as_str(), step],
            "{change}: {stderr}"
        );
        for command in &hints {
            assert!(
                command.starts_with(&format!("cortex --home {home} ")),
                "{change}: `{command}` leaves out --home"
            );
        }
    }
    assert!(!env.project().join("pwned").exists());
}

/// A file found as `dp` whose `name:` is `Deploy Prod`: `workflow run dp` starts a run named
/// `Deploy Prod`, and `workflow status dp` used to say "no runs yet: `workflow run dp` starts
/// one" — the command just run, a loop. A name finds the runs of the definition it finds.
/// And a definition that cannot run is not suggested to `run` (which is refused) but to
/// `validate`.
#[test]
fn a_definition_named_unlike_its_file_finds_its_runs_by_the_file_name_and_an_invalid_one_hints_validate()
 {
    let env = Env::new();
    env.workflow(
        "dp",
        "name: Deploy Prod\nsteps:\n  - {name: a, prompt: do it}\n",
    );
    scenario(
        &env,
        "s",
        "name: other\ndescription: d\nphases:\n  - {name: a, condition: manual}\n",
    );
    let before = env.run(&["workflow", "status", "dp"]);
    assert_eq!(before.code, 2);
    assert!(
        before
            .stderr
            .contains("`cortex workflow run dp` starts one"),
        "{}",
        before.stderr
    );
    assert_eq!(env.run(&["workflow", "run", "dp"]).code, 3);
    for args in [
        &["workflow", "status", "dp"][..],
        &["workflow", "status", "Deploy Prod"],
    ] {
        let status = env.run(&[&["--json"][..], args].concat());
        assert_eq!(status.code, 0, "{}{}", status.stdout, status.stderr);
        assert_eq!(status.json()["name"], "Deploy Prod");
    }
    let done = env.run(&["workflow", "step", "complete", "a", "--run", "dp"]);
    assert_eq!(done.code, 0, "{}{}", done.stdout, done.stderr);

    assert_eq!(env.run(&["orchestrate", "run", "s"]).code, 3);
    let started = env.run(&["orchestrate", "start", "s", "a"]);
    assert_eq!(started.code, 3, "{}{}", started.stdout, started.stderr);
    let status = env.run(&["--json", "orchestrate", "status", "s"]);
    assert_eq!(status.code, 0, "{}", status.stderr);
    assert_eq!(status.json()["name"], "other");

    env.workflow("noname", "steps:\n  - {name: a, prompt: x}\n");
    let invalid = env.run(&["workflow", "status", "noname"]);
    assert_eq!(invalid.code, 2);
    assert!(
        invalid
            .stderr
            .contains("`cortex workflow validate noname` says what to fix")
            && !invalid.stderr.contains("workflow run noname"),
        "{}",
        invalid.stderr
    );
    assert_eq!(env.run(&["workflow", "validate", "noname"]).code, 2);
}

/// A start or report on a run that already ended said so for a workflow with no way on,
/// and for a scenario called the phase "pending, not waiting for a report" (true, and beside
/// the point) or said "the run already finished" alone: each now says the run ended, how, and
/// hints its status and how to start a new run — both of which work when pasted.
#[test]
fn an_action_on_a_finished_run_says_it_ended_and_hints_status_and_a_new_run() {
    let env = Env::new();
    scenario(
        &env,
        "sc",
        "name: sc\ndescription: d\nphases:\n  - {name: a, condition: manual}\n",
    );
    let run = env.run(&["--json", "orchestrate", "run", "sc"]).json();
    let sc = run["run_id"].as_str().unwrap().to_string();
    assert_eq!(env.run(&["orchestrate", "abort", &sc]).code, 1);
    assert_eq!(env.run(&["workflow", "run", "feature-development"]).code, 3);
    assert_eq!(env.run(&["workflow", "abort"]).code, 1);
    for args in [
        &["orchestrate", "start", &sc, "a"][..],
        &["orchestrate", "complete", &sc, "a"],
        &["orchestrate", "fail", &sc, "a"],
        &["workflow", "step", "complete", "Plan"],
    ] {
        let out = env.run(args);
        assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
        assert!(
            out.stderr.contains("already finished (aborted)") && !out.stderr.contains("pending"),
            "{args:?}: {}",
            out.stderr
        );
        let hints = suggested(&out.stderr);
        assert_eq!(hints.len(), 2, "{args:?}: {}", out.stderr);
        for hint in hints {
            let words = split(&hint);
            let words: Vec<&str> = words.iter().map(String::as_str).collect();
            let pasted = env.run(&words);
            assert!(
                [0, 3].contains(&pasted.code),
                "`{hint}` (from {args:?}) exits {}: {}",
                pasted.code,
                pasted.stderr
            );
        }
    }
    // A definition with a required input: the new run is offered with the run's inputs (a
    // child run's came from its parent's `with:`); before, the bare `run NAME` exited 2.
    env.workflow(
        "needs",
        "name: needs\ninputs:\n  what: {type: string, required: true}\nsteps:\n  - name: look\n    prompt: look at ${{ inputs.what }}\n",
    );
    let started = env.run(&[
        "--json",
        "workflow",
        "run",
        "needs",
        "--input",
        "what=the diff",
    ]);
    assert_eq!(started.code, 3, "{}", started.stderr);
    let needs = started.json()["run_id"].as_str().unwrap().to_string();
    assert_eq!(env.run(&["workflow", "abort", &needs]).code, 1);
    let out = env.run(&["workflow", "step", "complete", "look", "--run", &needs]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    let hints = suggested(&out.stderr);
    let new_run = hints
        .iter()
        .find(|h| h.contains(" run "))
        .unwrap_or_else(|| panic!("{}", out.stderr));
    assert!(new_run.contains("what=the diff"), "{new_run}");
    let words = split(new_run);
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    assert_eq!(env.run(&words).code, 3, "`{new_run}`");
}

/// A run rolled back by its failure ended with no way on (a failed one was offered a new
/// run, a rolled-back one nothing): it is offered the same, and pasting it starts one.
#[test]
fn a_rolled_back_run_suggests_a_new_run_that_works_when_pasted() {
    let env = Env::new();
    env.workflow(
        "rb",
        "name: rb\nsteps:\n  - {name: a, run: 'true', rollback: 'true'}\n  - {name: b, run: 'exit 3', retry: {max_retry_attempts: 1, backoff: 1ms}, on_failure: rollback}\n",
    );
    let run = env.run(&["workflow", "run", "rb"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let status = env.status(None);
    assert_eq!(status["status"], "rolled_back");
    let next = status["next"].as_array().unwrap();
    assert_eq!(next.len(), 1, "{status}");
    let argv: Vec<&str> = next[0]["argv"].as_array().unwrap()[1..]
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(argv[..2], ["workflow", "run"]);
    let again = env.run(&argv);
    assert_eq!(again.code, 1, "{}{}", again.stdout, again.stderr);
    assert_eq!(env.status(None)["name"], "rb");
    assert!(
        suggested(&run.stdout)
            .iter()
            .any(|c| c.contains("workflow run"))
    );
}

/// The suggested `resume --rollback-to` named the last completed step, after which nothing
/// was completed: it undid nothing, a `--retry` said otherwise. It names the one before, so
/// the last completed step is undone by its rollback, and pasted it does that.
#[test]
fn the_suggested_rollback_to_undoes_the_last_completed_step() {
    let env = Env::new();
    env.workflow(
        "back",
        "name: back\nsteps:\n  - {name: base, run: 'echo base >> ran.log'}\n  - {name: mid, run: 'echo mid >> ran.log', rollback: 'echo undo-mid >> ran.log'}\n  - {name: gate, run: 'test -f ok', retry: {max_retry_attempts: 0}}\n",
    );
    let run = env.run(&["workflow", "run", "back"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let status = env.status(None);
    let rollback: Vec<&serde_json::Value> = status["next"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| {
            n["argv"]
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a == "--rollback-to")
        })
        .collect();
    assert_eq!(rollback.len(), 1, "{status}");
    let argv: Vec<&str> = rollback[0]["argv"].as_array().unwrap()[1..]
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(
        argv[argv.len() - 2..],
        ["--rollback-to", "base"],
        "{argv:?}"
    );
    std::fs::write(env.file("ok"), "").unwrap();
    let out = env.run(&argv);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert_eq!(
        common::lines(&env.file("ran.log")),
        ["base", "mid", "undo-mid", "mid"]
    );
}

/// `log anchor --help` showed `--file <FILE>` with no description: every argument and option
/// of every command says what it is.
#[test]
fn every_argument_of_every_command_has_a_description() {
    use clap::CommandFactory;
    fn walk(cmd: &clap::Command, path: &str, blank: &mut Vec<String>) {
        for arg in cmd.get_arguments() {
            let said = arg
                .get_help()
                .or(arg.get_long_help())
                .map(|h| h.to_string());
            if arg.is_hide_set() || said.is_some_and(|h| !h.trim().is_empty()) {
                continue;
            }
            blank.push(format!("{path} {}", arg.get_id()));
        }
        for sub in cmd.get_subcommands() {
            walk(sub, &format!("{path} {}", sub.get_name()), blank);
        }
    }
    let mut blank = Vec::new();
    walk(&cortex::cli::Cli::command(), "cortex", &mut blank);
    assert!(blank.is_empty(), "no description: {blank:?}");
}

/// A start the run refuses (a phase that is not manual, or already started) said why and
/// nothing else: it hints the scenario's status, which works when pasted.
#[test]
fn a_start_the_run_refuses_hints_the_scenario_status() {
    let env = Env::new();
    scenario(
        &env,
        "sc",
        "name: sc\ndescription: d\nphases:\n  - {name: a, condition: manual}\n  - {name: b, condition: 'after:a'}\n",
    );
    assert_eq!(env.run(&["orchestrate", "run", "sc"]).code, 3);
    assert_eq!(env.run(&["orchestrate", "start", "sc", "a"]).code, 3);
    for phase in ["b", "a"] {
        let out = env.run(&["orchestrate", "start", "sc", phase]);
        assert_eq!(out.code, 2, "{}", out.stderr);
        let hints = suggested(&out.stderr);
        assert_eq!(hints, ["cortex orchestrate status sc"], "{}", out.stderr);
        assert_eq!(
            env.run(
                &split(&hints[0])
                    .iter()
                    .map(String::as_str)
                    .collect::<Vec<_>>()
            )
            .code,
            0
        );
    }
}

/// `orchestrate validate --all` in a home without scenarios said so and nothing else: it
/// hints where the scenario schema is, as `orchestrate list` does.
#[test]
fn validate_all_without_scenarios_hints_the_scenario_schema() {
    let env = Env::new();
    let out = env.run(&["orchestrate", "validate", "--all"]);
    assert_eq!(out.code, 2);
    assert_eq!(
        suggested(&out.stderr),
        ["cortex schema scenario"],
        "{}",
        out.stderr
    );
    assert_eq!(env.run(&["schema", "scenario"]).code, 0);
}

/// A report on a step of a `uses:` child, given the parent's run (`--run PARENT`, which is
/// what a person has on screen), said "run PARENT has no step `look`" and listed the
/// parent's steps: it says the step is the child run's, and hints the report there with the
/// same outputs, which pasted completes the child and drives the parent on.
#[test]
fn a_report_on_a_child_step_given_the_parent_run_hints_the_report_on_the_child() {
    let env = Env::new();
    env.workflow(
        "kid",
        "name: kid\nsteps:\n  - {name: look, prompt: look at it, validate: [{output: verdict}]}\n",
    );
    env.workflow(
        "parent",
        "name: parent\nsteps:\n  - {name: review, uses: kid}\n  - {name: after, run: 'true'}\n",
    );
    let run = env.run(&["--json", "workflow", "run", "parent"]);
    assert_eq!(run.code, 3, "{}{}", run.stdout, run.stderr);
    let parent = run.json()["run_id"].as_str().unwrap().to_string();
    let out = env.run(&[
        "workflow",
        "step",
        "complete",
        "look",
        "--run",
        &parent,
        "--output",
        "verdict=ok $(x)",
    ]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("which its step `review` runs"),
        "{}",
        out.stderr
    );
    let hints = suggested(&out.stderr);
    assert_eq!(hints.len(), 1, "{}", out.stderr);
    let words = split(&hints[0]);
    assert_eq!(words[words.len() - 2..], ["--output", "verdict=ok $(x)"]);
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    let pasted = env.run(&words);
    assert_eq!(pasted.code, 0, "{}{}", pasted.stdout, pasted.stderr);
    assert_eq!(env.status(Some(&parent))["status"], "completed");
}

/// Seen by a review: a report of a `uses:` step (which waits with its child run, and whose
/// report is refused) without `--run` landed on the latest run, the child, and hinted
/// `step complete Sub --run PARENT`, which pasted was refused ("it waits with that run, not
/// for a report"). Both ways of reporting it hint the step the child run waits on, in the
/// child run, and that pasted completes the child and drives the parent on.
#[test]
fn a_report_of_a_uses_step_hints_the_child_runs_waiting_step() {
    let env = Env::new();
    env.workflow(
        "child",
        "name: child\nsteps:\n  - name: look\n    prompt: Look at it\n",
    );
    env.workflow(
        "parent",
        "name: parent\nsteps:\n  - name: Sub\n    uses: child\n  - name: Done\n    run: echo done\n",
    );
    let run = env.run(&["--json", "workflow", "run", "parent"]);
    assert_eq!(run.code, 3, "{}{}", run.stdout, run.stderr);
    let parent = run.json()["run_id"].as_str().unwrap().to_string();
    let status = env.status(Some(&parent));
    let child = status["steps"][0]["uses"]["run_id"]
        .as_str()
        .unwrap_or_else(|| panic!("{status}"))
        .to_string();
    let expected = format!("cortex workflow step complete look --run {child}");
    for args in [
        vec!["workflow", "step", "complete", "Sub"],
        vec!["workflow", "step", "complete", "Sub", "--run", &parent],
    ] {
        let out = env.run(&args);
        assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
        let hints = suggested(&out.stderr);
        assert_eq!(hints.first(), Some(&expected), "{args:?}: {}", out.stderr);
        assert!(
            !hints.iter().any(|h| h.contains("complete Sub")),
            "{args:?}: {}",
            out.stderr
        );
    }
    let words = split(&expected);
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    let pasted = env.run(&words);
    assert_eq!(pasted.code, 0, "{}{}", pasted.stdout, pasted.stderr);
    assert_eq!(env.status(Some(&parent))["status"], "completed");
}

/// A run recorded with `--submit` for workers was offered `resume` as "nobody drives the run
/// now" (its reason said a worker drives it): the suggestion says it drives it here instead
/// of a worker, and pasted it does.
#[test]
fn a_submitted_run_is_offered_to_be_driven_here_instead_of_by_a_worker() {
    let env = Env::new();
    env.workflow("one", "name: one\nsteps:\n  - {name: a, run: 'true'}\n");
    let submitted = env.run(&["workflow", "run", "one", "--submit"]);
    assert_eq!(submitted.code, 0, "{}", submitted.stderr);
    let status = env.status(None);
    let first = &status["next"][0];
    assert_eq!(
        first["why"], "drive it here instead of a worker (`cortex worker` takes it otherwise)",
        "{status}"
    );
    let argv: Vec<&str> = first["argv"].as_array().unwrap()[1..]
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(env.run(&argv).code, 0);
    assert_eq!(env.status(None)["status"], "completed");
}

/// A scenario run submitted for workers that none has taken is offered abort (as a workflow
/// run is), and the suggestion ends it when pasted.
#[test]
fn a_submitted_scenario_run_is_offered_abort_and_it_ends_the_run() {
    let env = Env::new();
    env.scenario(
        "sc",
        "name: sc\ndescription: d\nphases:\n  - {name: a, run: 'true'}\n",
    );
    let submitted = env.run(&["orchestrate", "run", "sc", "--submit"]);
    assert_eq!(submitted.code, 0, "{}", submitted.stderr);
    let status = env.run(&["--json", "orchestrate", "status", "sc"]).json();
    let abort = status["next"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["argv"][1] == "orchestrate" && n["argv"][2] == "abort")
        .unwrap_or_else(|| panic!("no abort offered: {status}"));
    let argv: Vec<&str> = abort["argv"].as_array().unwrap()[1..]
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    // An aborted run ends not completed: exit 1, as every abort.
    assert_eq!(env.run(&argv).code, 1);
    let after = env.run(&["--json", "orchestrate", "status", "sc"]).json();
    assert_eq!(after["status"], "aborted", "{after}");
}

/// The longest start two run ids share, of at least 4 characters (an id prefix).
fn shared_prefix(a: &str, b: &str) -> String {
    let n = a.chars().zip(b.chars()).take_while(|(x, y)| x == y).count();
    assert!(n >= 4, "{a} and {b} share too little to be a prefix");
    a[..n].to_string()
}

/// An id prefix matching two scenario runs, under `orchestrate`, was told "`cortex workflow
/// history` lists them" (text and `--json`): the hint named the history of the other kind,
/// which does not list scenario runs. It names the history of the kind looked among, and both
/// where any kind is looked among (`log show`).
#[test]
fn an_ambiguous_id_prefix_is_sent_to_the_history_of_its_kind() {
    let env = Env::new();
    scenario(
        &env,
        "s",
        "name: s\ndescription: d\nphases:\n  - name: build\n    description: b\n    condition: auto\n    run: 'true'\n",
    );
    env.workflow("w", "name: w\nsteps:\n  - name: a\n    run: 'true'\n");
    for args in [
        &["orchestrate", "run", "s"][..],
        &["orchestrate", "run", "s"],
        &["workflow", "run", "w"],
        &["workflow", "run", "w"],
    ] {
        assert_eq!(env.run(args).code, 0);
    }
    let ids = |group: &str| -> Vec<String> {
        env.run(&["--json", group, "history"]).json()["runs"]
            .clone()
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["run_id"].as_str().unwrap().to_string())
            .collect()
    };
    let scenarios = ids("orchestrate");
    let prefix = shared_prefix(&scenarios[0], &scenarios[1]);
    let text = env.run(&["orchestrate", "status", &prefix]);
    assert_eq!(text.code, 2, "{}", text.text());
    assert!(text.stderr.contains("matches"), "{}", text.stderr);
    assert!(
        text.stderr
            .contains("`cortex orchestrate history` lists them"),
        "{}",
        text.stderr
    );
    assert!(!text.stderr.contains("workflow"), "{}", text.stderr);
    let json = env
        .run(&["--json", "orchestrate", "status", &prefix])
        .json();
    assert_eq!(
        json["hints"],
        serde_json::json!(["`cortex orchestrate history` lists them"]),
        "{json}"
    );

    let workflows = ids("workflow");
    let prefix = shared_prefix(&workflows[0], &workflows[1]);
    let text = env.run(&["workflow", "status", &prefix]);
    assert!(
        text.stderr.contains("`cortex workflow history` lists them"),
        "{}",
        text.stderr
    );
    assert!(!text.stderr.contains("orchestrate"), "{}", text.stderr);

    // Any kind: both histories.
    let prefix = shared_prefix(&scenarios[0], &workflows[0]);
    let text = env.run(&["log", "show", &prefix]);
    assert!(
        text.stderr
            .contains("`cortex workflow history` and `cortex orchestrate history` list them"),
        "{}",
        text.stderr
    );
    check("an ambiguous prefix of any kind", &text);
}

/// A prefix of fewer than 4 characters that starts run ids (and is no run's name) is too
/// short, said so with how many characters it takes, exit 2 — never "no run `01M`", which it
/// was with two runs in the log whose ids start so. One that starts no id is still no run.
#[test]
fn a_too_short_id_prefix_is_said_to_be_too_short_not_missing() {
    let env = Env::new();
    env.workflow("w", "name: w\nsteps:\n  - name: p\n    prompt: x\n");
    assert_eq!(env.run(&["workflow", "run", "w"]).code, 3);
    assert_eq!(env.run(&["workflow", "run", "w"]).code, 3);
    let ids: Vec<String> = env.run(&["--json", "workflow", "history"]).json()["runs"]
        .clone()
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["run_id"].as_str().unwrap().to_string())
        .collect();
    let short = shared_prefix(&ids[0], &ids[1])[..3].to_string();
    for args in [
        &["log", "show", short.as_str()][..],
        &["workflow", "status", &short.to_lowercase()],
    ] {
        let out = env.run(args);
        assert_eq!(out.code, 2, "{}", out.text());
        assert!(
            out.stderr
                .contains("is too short to pick a run by: the ids of 2 runs start so")
                && out.stderr.contains("give at least 4 characters of the id"),
            "{}",
            out.stderr
        );
        assert!(!out.stderr.contains("no run"), "{}", out.stderr);
    }
    let json = env.run(&["--json", "log", "show", &short]).json();
    assert_eq!(json["exit_code"], 2, "{json}");
    // No id starts with `ZZZ`: that is no run.
    let none = env.run(&["log", "show", "ZZZ"]);
    assert!(none.stderr.contains("no run `ZZZ`"), "{}", none.stderr);
}

/// `workflow abort "$RUN"` with `RUN` unset gives an empty argument: it is refused (exit 2,
/// nothing done), never taken for "the latest run" (an abort cannot be undone) — for every
/// command that takes a run, either kind, and `history --before`.
#[test]
fn an_empty_run_argument_is_refused_never_taken_for_the_latest_run() {
    let env = Env::new();
    env.workflow("w", "name: w\nsteps:\n  - name: p\n    prompt: x\n");
    env.scenario(
        "s",
        "name: s\ndescription: d\nphases:\n  - name: m\n    condition: manual\n",
    );
    env.run(&["workflow", "run", "w"]).assert_exit(3);
    env.run(&["orchestrate", "run", "s"]).assert_exit(3);
    for args in [
        &["workflow", "abort", ""][..],
        &["workflow", "abort", "  "],
        &["workflow", "status", ""],
        &["workflow", "resume", ""],
        &["workflow", "stop", ""],
        &["workflow", "step", "complete", "p", "--run", ""],
        &["workflow", "history", "--before", ""],
        &["orchestrate", "abort", ""],
        &["orchestrate", "status", ""],
        &["orchestrate", "complete", "", "m"],
        &["log", "show", ""],
    ] {
        let out = env.run(args);
        assert_eq!(out.code, 2, "{args:?}: {}", out.text());
        assert!(
            out.stderr.contains("an empty run was given")
                && out.stderr.contains("leave the argument out for the latest"),
            "{args:?}: {}",
            out.stderr
        );
    }
    assert_eq!(env.status(None)["status"], "waiting");
    let scenario = env.run(&["--json", "orchestrate", "status"]).json();
    assert_eq!(scenario["status"], "waiting", "{scenario}");
}

/// A definition may be named so that its name reads as the start of another run's id
/// (`01m96p5asfy6`): the lookup refuses to guess between them (exit 2, both runs' commands
/// given) rather than act on the other workflow's run; and where the id reading matches
/// several runs, the name picks its own.
#[test]
fn a_name_that_reads_as_another_runs_id_prefix_is_not_taken_for_that_run() {
    let env = Env::new();
    env.workflow("first", "name: first\nsteps:\n  - name: a\n    prompt: x\n");
    env.run(&["workflow", "run", "first"]).assert_exit(3);
    let first = env.status(None)["run_id"].as_str().unwrap().to_string();
    let name = first[..12].to_lowercase();
    env.workflow(
        &name,
        &format!("name: '{name}'\nsteps:\n  - name: a\n    prompt: x\n"),
    );
    env.run(&["workflow", "run", &name]).assert_exit(3);
    let own = env.status(None)["run_id"].as_str().unwrap().to_string();
    assert_ne!(own, first);
    let out = env.run(&[
        "workflow",
        "step",
        "complete",
        "a",
        "--run",
        &name,
        "--no-drive",
    ]);
    assert_eq!(out.code, 2, "{}", out.text());
    assert!(
        out.stderr.contains("is both the start of run")
            && out.stderr.contains(&first)
            && out.stderr.contains(&own),
        "{}",
        out.stderr
    );
    let status = env.run(&["workflow", "status", &name]);
    assert_eq!(status.code, 2, "{}", status.text());
    // Nothing was recorded on either run.
    assert_eq!(env.status(Some(&first))["status"], "waiting");
    assert_eq!(env.status(Some(&own))["status"], "waiting");
    // The whole id picks each.
    env.run(&["workflow", "step", "complete", "a", "--run", &own])
        .assert_exit(0);
    assert_eq!(env.status(Some(&first))["status"], "waiting");
}

/// A report on a definition run by path whose runs all ended suggests a new run of that path,
/// as the run recorded it: `run NAME` of a file outside the home is refused (exit 2: no
/// workflow named so). Each suggestion, pasted, starts a new run.
#[test]
fn a_report_after_a_run_by_path_ended_suggests_running_that_path_again() {
    let env = Env::new();
    let noisy = env.project().join("noisy.yaml");
    std::fs::write(
        &noisy,
        "name: noisy\nsteps:\n  - name: A\n    run: echo a\n  - name: B\n    prompt: do b\n",
    )
    .unwrap();
    let g2 = env.project().join("g2.yaml");
    std::fs::write(
        &g2,
        "name: g2\ndescription: d\nphases:\n  - name: p\n    description: do it\n",
    )
    .unwrap();
    assert_eq!(
        env.run(&["workflow", "run", noisy.to_str().unwrap()]).code,
        3
    );
    assert_eq!(env.run(&["workflow", "abort", "noisy"]).code, 1);
    assert_eq!(
        env.run(&["orchestrate", "run", g2.to_str().unwrap()]).code,
        3
    );
    assert_eq!(env.run(&["orchestrate", "complete", "g2", "p"]).code, 0);
    for (report, path) in [
        (vec!["workflow", "step", "complete", "B"], &noisy),
        (
            vec!["workflow", "step", "complete", "B", "--run", "noisy"],
            &noisy,
        ),
        (vec!["orchestrate", "complete", "g2", "p"], &g2),
    ] {
        let refused = env.run(&report);
        assert_eq!(refused.code, 2, "{report:?}: {}", refused.stdout);
        let commands = quoted_commands(&refused.stderr);
        let again = commands
            .iter()
            .find(|c| c.contains(" run "))
            .unwrap_or_else(|| panic!("{report:?}: no run suggested: {}", refused.stderr));
        assert!(
            again.ends_with(&format!(" run {}", path.display())),
            "{report:?}: {again}"
        );
        let argv = split(again);
        let args: Vec<&str> = argv.iter().map(String::as_str).collect();
        let started = env.run(&args);
        assert_eq!(
            started.code, 3,
            "{again}: {}{}",
            started.stdout, started.stderr
        );
        let end = if report[0] == "workflow" {
            env.run(&["workflow", "abort", "noisy"])
        } else {
            env.run(&["orchestrate", "complete", "g2", "p"])
        };
        assert!(matches!(end.code, 0 | 1), "{}", end.stderr);
    }
}

/// `agent deactivate` of an agent nobody activated by hand: refused (exit 2), with a hint at
/// the agent's status, not at a run's. Before, it pointed to `workflow status RUN` and
/// `orchestrate status RUN`, which say nothing of agents.
#[test]
fn a_refused_agent_deactivate_hints_at_the_agents_status() {
    let env = Env::new();
    let out = env.run(&["agent", "deactivate", "code-reviewer"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("agent status code-reviewer"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("status RUN"), "{}", out.stderr);
}

/// Seen by a review: `orchestrate resume --from PHASE` of a manual phase never started was
/// refused with "a plain resume starts it when its condition is met" — a plain resume never
/// starts a manual phase. The hint is `orchestrate start RUN PHASE`, shell-quoted, for the
/// resume and its dry run alike, and it works when pasted.
#[test]
fn resume_from_a_manual_phase_never_started_hints_orchestrate_start() {
    let env = Env::new();
    scenario(
        &env,
        "m",
        "name: m\ndescription: d\nphases:\n  - name: one\n    run: echo hi\n  - name: my review\n    condition: manual\n    run: echo rev\n",
    );
    assert_eq!(env.run(&["orchestrate", "run", "m"]).code, 3);
    let status = env.run(&["--json", "orchestrate", "status"]).json();
    let run = status["run_id"].as_str().unwrap().to_string();
    let refused = env.run(&["orchestrate", "resume", &run, "--from", "my review"]);
    assert_eq!(refused.code, 2, "{}", refused.text());
    insta::assert_snapshot!(
        "resume_from_manual_phase_never_started",
        refused.snapshot(&env).replace(&run, "[RUN]")
    );
    let dry = env.run(&[
        "orchestrate",
        "resume",
        &run,
        "--from",
        "my review",
        "--dry-run",
    ]);
    assert_eq!(dry.code, 2);
    assert_eq!(dry.stderr, refused.stderr);
    assert_eq!(check("resume --from a manual phase", &refused), 1);
    let pasted = split(suggested(&refused.stderr).last().unwrap());
    let started = env.run(&pasted.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(started.code, 0, "{}", started.text());
}

/// Seen by a review: the usage shown when `validate` is given neither NAME nor `--all`
/// omitted `--all` (`Usage: cortex orchestrate validate <NAME>`): it reads `<NAME|--all>`.
#[test]
fn validate_without_name_or_all_shows_usage_naming_both() {
    let env = Env::new();
    for kind in ["workflow", "orchestrate"] {
        let out = env.run(&[kind, "validate"]);
        assert_eq!(out.code, 2);
        assert!(
            out.stderr
                .contains(&format!("Usage: cortex {kind} validate <NAME|--all>")),
            "{}",
            out.stderr
        );
    }
    insta::assert_snapshot!(
        "orchestrate_validate_usage",
        env.run(&["orchestrate", "validate"]).snapshot(&env)
    );
}

/// Seen by a review: a run whose `timeout_seconds: 2` cut its `sleep 4` step was offered
/// `resume --timeout 4s` (twice the old limit), which cut the step again: it starts over, and
/// the limit counts from each resume. The suggestion adds what the cut step had already run
/// to twice the old limit, says why, and works when pasted; the reason says from when the
/// limit counts.
#[test]
fn the_longer_time_limit_suggested_covers_the_step_the_limit_cut() {
    let env = Env::new();
    env.config("{\"workflow\": {\"timeout_seconds\": 2}}");
    env.workflow(
        "slow",
        "name: slow\ndescription: d\nsteps:\n  - name: nap\n    run: sleep 4\n",
    );
    let run = env.run(&["--json", "workflow", "run", "slow"]);
    assert_eq!(run.code, 3, "{}", run.text());
    let doc = run.json();
    assert!(
        doc["reason"]
            .as_str()
            .unwrap()
            .contains("counted from the start of this driving session"),
        "{doc}"
    );
    let first = &doc["next"][0];
    let argv: Vec<String> = serde_json::from_value(first["argv"].clone()).unwrap();
    // Twice the old limit plus what the cut step had run (2 s, more on a loaded machine):
    // at least 6 s, whatever the machine's speed.
    assert_eq!(argv[argv.len() - 2], "--timeout", "{argv:?}");
    let secs: u64 = argv[argv.len() - 1]
        .strip_suffix('s')
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("a duration in seconds: {argv:?}"));
    assert!(secs >= 6, "{argv:?}");
    let why = first["why"].as_str().unwrap();
    assert!(
        why.contains("`nap` ran ") && why.contains("s before the limit cut it and starts over"),
        "{first}"
    );
    let args: Vec<&str> = argv[1..].iter().map(String::as_str).collect();
    let resumed = env.run(&args);
    assert_eq!(resumed.code, 0, "{}", resumed.text());
}

/// The suggested commands of `out` (text and `--json`'s `next`), each parsed and then run
/// from the project directory: the argv of each, as pasted.
fn pasted(out: &Out) -> Vec<Vec<String>> {
    let mut found: Vec<Vec<String>> = [&out.stdout, &out.stderr]
        .iter()
        .flat_map(|t| suggested(t))
        .map(|line| {
            let mut argv = vec!["cortex".to_string()];
            argv.extend(split(&line));
            argv
        })
        .collect();
    if let Ok(json) = serde_json::from_str::<serde_json::Value>(&out.stdout)
        && let Some(next) = json["next"].as_array()
    {
        for s in next {
            found.push(serde_json::from_value(s["argv"].clone()).unwrap());
        }
    }
    found
}

/// Seen by a review: `workflow status ./pd.yaml` of a valid definition with no runs said it
/// was invalid and hinted `workflow validate pd` (refused: no `pd` in the catalog), and
/// `orchestrate status ./sc.yaml` hinted `orchestrate run sc` (no scenario named so). The
/// hint names the path as it was given, and calls a valid file valid; an error echoing a
/// path does not cut it.
#[test]
fn status_of_a_definition_by_path_with_no_runs_hints_running_that_path() {
    let env = Env::new();
    std::fs::write(
        env.file("pd.yaml"),
        "name: pd\nsteps:\n  - {name: a, run: 'true'}\n",
    )
    .unwrap();
    std::fs::write(
        env.file("sc.yaml"),
        "name: sc\ndescription: d\nphases:\n  - {name: a, run: 'true'}\n",
    )
    .unwrap();
    for (args, want) in [
        (
            &["workflow", "status", "./pd.yaml"][..],
            "`cortex workflow run ./pd.yaml` starts one",
        ),
        (
            &["orchestrate", "status", "./sc.yaml"],
            "`cortex orchestrate run ./sc.yaml` starts one",
        ),
    ] {
        let out = env.run(args);
        assert_eq!(out.code, 2, "{}", out.text());
        assert!(
            out.stderr.contains(want) && !out.stderr.contains("invalid"),
            "{}",
            out.stderr
        );
        for argv in pasted(&out) {
            let words: Vec<&str> = argv[1..].iter().map(String::as_str).collect();
            let ran = env.run(&words);
            assert_eq!(ran.code, 0, "{argv:?}: {}", ran.text());
        }
    }
    let long = "examples/scenarios/incident-response.yaml";
    let out = env.run(&["orchestrate", "status", long]);
    assert!(out.stderr.contains(long), "{}", out.stderr);
}

/// Seen by a review: a scenario under a 2 s limit whose phase `a` started after 1 s was told
/// "`a` ran 2s before the limit cut it" (rounded up: it ran 1 s) and offered a longer limit
/// than that warrants; and its plain `resume` was said to go on "with the same time limit",
/// while a resume applies the configuration in force (as the workflow's hint said). Both
/// kinds say the time the log gives, and one wording for the plain resume.
#[test]
fn a_timed_out_scenario_says_how_long_its_phase_ran_and_that_resume_applies_the_config() {
    let env = Env::new();
    env.config("{\"workflow\": {\"timeout_seconds\": 2}}");
    env.scenario(
        "t",
        "name: t\ndescription: d\nphases:\n  - {name: warm, run: sleep 1}\n  - {name: a, condition: 'after:warm', run: sleep 2}\n",
    );
    let run = env.run(&["--json", "orchestrate", "run", "t"]);
    assert_eq!(run.code, 3, "{}", run.text());
    let next = run.json()["next"].as_array().unwrap().clone();
    let argv: Vec<String> = serde_json::from_value(next[0]["argv"].clone()).unwrap();
    assert_eq!(argv[argv.len() - 2..], ["--timeout", "12s"], "{next:?}");
    let why = next[0]["why"].as_str().unwrap();
    assert!(
        why.contains("`a` ran 1.0s") || why.contains("`a` ran 0.9s"),
        "{why}"
    );
    let plain = next
        .iter()
        .find(|n| n["argv"].as_array().unwrap().len() == 4)
        .unwrap();
    assert_eq!(
        plain["why"],
        "go on from the completed phases with the time limit cortex.config.json sets now"
    );
    let text = env.run(&["orchestrate", "status", "t"]).stdout;
    assert!(!text.contains("same time limit"), "{text}");
}

/// Seen by a review: with a workflow and a scenario both named `deploy`, `log show deploy`,
/// `log export`, `log verify` and `logs deploy go` took the scenario's latest run silently,
/// and `logs` called the scenario's phases "steps". A name both kinds bear is refused with
/// each run's kind and id and the command for it, which works when pasted; a scenario's
/// phases are called phases.
#[test]
fn a_name_both_kinds_bear_is_refused_by_log_commands_with_a_command_for_each_run_that_has_the_step()
{
    let env = Env::new();
    env.workflow(
        "deploy",
        "name: deploy\nsteps:\n  - {name: one, run: 'true'}\n",
    );
    env.scenario(
        "deploy",
        "name: deploy\ndescription: d\nphases:\n  - {name: go, run: 'true'}\n",
    );
    assert_eq!(env.run(&["workflow", "run", "deploy"]).code, 0);
    assert_eq!(env.run(&["orchestrate", "run", "deploy"]).code, 0);
    let workflow = env.status(Some("deploy"))["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    let scenario = env
        .run(&["--json", "orchestrate", "status", "deploy"])
        .json()["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    for args in [
        &["log", "show", "deploy"][..],
        &["log", "export", "deploy"],
        &["log", "verify", "deploy"],
        &["logs", "deploy", "go"],
    ] {
        let out = env.run(args);
        assert_eq!(out.code, 2, "{args:?}: {}", out.text());
        assert!(
            out.stderr.contains(&format!("workflow run is {workflow}"))
                && out.stderr.contains(&format!("scenario run {scenario}")),
            "{}",
            out.stderr
        );
        let commands = pasted(&out);
        // The workflow has no step `go`: `logs` is given the scenario run's command only,
        // and says the workflow run lacks it (its command would be refused).
        if args[0] == "logs" {
            assert_eq!(commands.len(), 1, "{}", out.stderr);
            assert!(commands[0].contains(&scenario), "{}", out.stderr);
            assert!(
                out.stderr.contains(&format!(
                    "the workflow run {workflow} has no step `go` (its steps: one)"
                )),
                "{}",
                out.stderr
            );
        } else {
            assert_eq!(commands.len(), 2, "{}", out.stderr);
        }
        for argv in &commands {
            assert!(argv.contains(&workflow) || argv.contains(&scenario));
            let words: Vec<&str> = argv[1..].iter().map(String::as_str).collect();
            let ran = env.run(&words);
            assert_eq!(ran.code, 0, "{argv:?}: {}", ran.text());
        }
    }
    let out = env.run(&["logs", &scenario, "nope"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("has no phase `nope`") && out.stderr.contains("its phases: go"),
        "{}",
        out.stderr
    );
}

/// Seen by a review: with checkpoints off, a failure's recovery options offered
/// `--rollback-to s1 # back to the checkpoint after s1` (no checkpoint exists) beside a
/// `--retry` that runs s1 again "(checkpoints are off)". `--rollback-to` names its resume
/// point itself and keeps s1, checkpoint or not: the suggestion says so (no checkpoint named),
/// and does it when pasted.
#[test]
fn with_checkpoints_off_the_suggested_rollback_to_names_no_checkpoint_and_keeps_its_step() {
    let env = Env::new();
    env.config("{\"workflow\": {\"enable_checkpoints\": false}}");
    std::fs::write(
        env.file("k.yaml"),
        "name: k\nsteps:\n  - {name: s1, run: 'echo s1 >> ran.txt'}\n  - {name: s2, run: 'echo s2 >> ran.txt'}\n  - {name: s3, run: 'test -z \"$FAIL\"', retry: {max_retry_attempts: 0}}\n",
    )
    .unwrap();
    let run = env.run_with(&["workflow", "run", "./k.yaml"], &[("FAIL", "1")]);
    assert_eq!(run.code, 1, "{}", run.text());
    assert!(!run.stdout.contains("checkpoint after"), "{}", run.stdout);
    let status = env.status(None);
    let rollback = status["next"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| {
            n["argv"]
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a == "--rollback-to")
        })
        .unwrap()
        .clone();
    let why = rollback["why"].as_str().unwrap();
    assert!(
        why.contains("keep `s1`") && why.contains("checkpoints are off"),
        "{why}"
    );
    let argv: Vec<String> = serde_json::from_value(rollback["argv"].clone()).unwrap();
    let words: Vec<&str> = argv[1..].iter().map(String::as_str).collect();
    let out = env.run(&words);
    assert_eq!(out.code, 0, "{}", out.text());
    assert_eq!(common::lines(&env.file("ran.txt")), ["s1", "s2", "s2"]);
}

/// Seen by a review: a `uses:` step whose child cannot start (`with: {n: "${{ inputs.env }}"}`
/// with env=dev into an integer input) offered `resume --retry` first, which fails the same
/// way forever (such a child is never retried). The options offer only what can work
/// (`--skip`, abort, a new run with other inputs) and say why; and the dry run of such a run
/// says it would fail there (as the run itself does since its inputs are checked with its
/// children's needs: the options are then seen with a `with:` known only as the run goes).
#[test]
fn a_child_that_cannot_start_is_not_offered_a_retry_and_its_dry_run_says_so() {
    let env = Env::new();
    env.workflow(
        "child",
        "name: child\ninputs:\n  n: {type: integer, required: true}\nsteps:\n  - {name: c, run: 'true'}\n",
    );
    env.workflow(
        "par",
        "name: par\ninputs:\n  env: {type: string, default: dev}\nsteps:\n  - name: call\n    uses: child\n    with: {n: \"${{ inputs.env }}\"}\n  - {name: after, run: 'true'}\n",
    );
    let dry = env.run(&["workflow", "run", "par", "--dry-run"]);
    assert_eq!(dry.code, 2, "{}", dry.text());
    assert!(
        dry.stderr
            .contains("workflow `child` (run by step `call`): input `n`: `dev` is not an integer (given from the run's input `env`)"),
        "{}",
        dry.stderr
    );
    let fine = env.run(&["workflow", "run", "par", "--dry-run", "--input", "env=3"]);
    assert_eq!(fine.code, 0, "{}", fine.text());
    // A run is refused as its dry run is (its inputs are checked with its children's needs,
    // starting nothing); a value known only as the run goes (a step's output) still reaches a
    // child that cannot start.
    assert_eq!(env.run(&["workflow", "run", "par"]).code, 2);
    env.workflow(
        "par",
        "name: par\ninputs:\n  env: {type: string, default: dev}\nsteps:\n  - {name: s, run: 'echo v=${{ inputs.env }} >> \"$CORTEX_OUTPUT\"'}\n  - name: call\n    uses: child\n    with: {n: \"${{ steps.s.outputs.v }}\"}\n  - {name: after, run: 'true'}\n",
    );
    let run = env.run(&["workflow", "run", "par"]);
    assert_eq!(run.code, 1, "{}", run.text());
    assert!(
        !suggested(&run.stdout)
            .iter()
            .any(|c| c.split_whitespace().any(|w| w == "--retry")),
        "{}",
        run.stdout
    );
    assert!(check("unstartable child", &run) >= 3);
    let status = env.status(None);
    let next = status["next"].as_array().unwrap();
    let flags: Vec<&str> = next
        .iter()
        .map(|n| n["argv"].as_array().unwrap()[2].as_str().unwrap())
        .collect();
    // First `--from s`, whose output made the value (as for a `foreach:` list that is no
    // list), then `--skip`; no new run of the definition as it is (it fails the same way).
    assert_eq!(flags, ["resume", "resume", "abort"], "{status}");
    assert_eq!(next[0]["argv"][4], "--from", "{status}");
    assert_eq!(next[0]["argv"][5], "s", "{status}");
    assert!(
        next[1]["why"]
            .as_str()
            .unwrap()
            .contains("a `--retry` would fail the same way"),
        "{status}"
    );
    let skip: Vec<String> = serde_json::from_value(next[1]["argv"].clone()).unwrap();
    assert_eq!(skip.last().unwrap(), "--skip");
    let words: Vec<&str> = skip[1..].iter().map(String::as_str).collect();
    let out = env.run(&words);
    assert_eq!(out.code, 0, "{}", out.text());
}

/// Seen by a review: a `uses:` child stopped by its parent's time limit (it is driven within
/// what is left of it) failed the parent, which was offered `--retry`, `--skip` and abort
/// only: `--retry` under the same limit stops the child again, and its why said the step ran
/// again while the resume goes on with the child. The first option raises the limit, as for
/// a step the limit cut itself, and works when pasted. Now the parent is stopped with its
/// child (exit 3), not failed: no `--retry`, and the plain resume goes on with the child.
#[test]
fn a_child_stopped_by_its_parents_time_limit_is_offered_a_longer_limit() {
    let env = Env::new();
    env.config("{\"workflow\": {\"timeout_seconds\": 2}}");
    env.workflow("kid", "name: kid\nsteps:\n  - {name: k1, run: sleep 3}\n");
    env.workflow(
        "par",
        "name: par\nsteps:\n  - {name: first, run: sleep 1}\n  - {name: call, uses: kid}\n",
    );
    let run = env.run(&["--json", "workflow", "run", "par"]);
    assert_eq!(run.code, 3, "{}", run.text());
    let doc = run.json();
    let next = doc["next"].as_array().unwrap();
    let first: Vec<String> = serde_json::from_value(next[0]["argv"].clone()).unwrap();
    assert_eq!(first[first.len() - 2], "--timeout", "{doc}");
    let why = next[0]["why"].as_str().unwrap();
    assert!(
        why.contains("`call` ran ") && why.contains("before the limit cut it"),
        "{why}"
    );
    // Stopped with its child (not failed with it): a plain resume goes on with the child,
    // no `--retry` (nothing failed).
    assert!(
        !next
            .iter()
            .any(|n| n["argv"].as_array().unwrap().iter().any(|a| a == "--retry")),
        "{doc}"
    );
    let plain = next
        .iter()
        .find(|n| n["argv"].as_array().unwrap().len() == first.len() - 2)
        .unwrap();
    assert!(
        plain["why"]
            .as_str()
            .unwrap()
            .contains("go on from the resume point"),
        "{plain}"
    );
    assert!(check("child stopped by the limit", &run) >= 3);
    let words: Vec<&str> = first[1..].iter().map(String::as_str).collect();
    let out = env.run(&words);
    assert_eq!(out.code, 0, "{}", out.text());
}

/// Seen by a review: with checkpoints off, a failed scenario's options said `resume` goes on
/// "from the completed phases" and `--skip` records the failed phase "and go(es) on", while
/// both run the completed phase `a` again (DESIGN: with checkpoints off a completed phase is no
/// resume point), as the dry run showed. The options say so, as a workflow's do.
#[test]
fn with_checkpoints_off_a_scenarios_options_say_its_completed_phases_run_again() {
    let env = Env::new();
    env.config("{\"workflow\": {\"enable_checkpoints\": false, \"max_retry_attempts\": 0}}");
    env.scenario(
        "s",
        "name: s\ndescription: d\nphases:\n  - {name: a, condition: auto, run: 'echo a >> ran.txt', success_criteria: [ok]}\n  - {name: b, condition: 'after:a', run: 'test -z \"$FAIL\"'}\n",
    );
    let run = env.run_with(&["orchestrate", "run", "s"], &[("FAIL", "1")]);
    assert_eq!(run.code, 1, "{}", run.text());
    assert!(
        !run.stdout.contains("go on from the completed phases"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("--retry   # run `b` again with a fresh retry budget; the completed phase `a` runs again too (checkpoints are off)")
            && run.stdout.contains(
                "record `b` as skipped and go on, running from the start again first (checkpoints are off): a"
            ),
        "{}",
        run.stdout
    );
    assert!(check("scenario, checkpoints off", &run) >= 3);
    let dry = env.run(&["orchestrate", "resume", "s", "--dry-run"]);
    assert!(
        dry.stdout.contains("a                        re-run"),
        "{}",
        dry.stdout
    );
    let out = env.run(&["orchestrate", "resume", "s"]);
    assert_eq!(out.code, 0, "{}", out.text());
    assert_eq!(common::lines(&env.file("ran.txt")), ["a", "a"]);
}

/// Seen by a review: `workflow status ./sc/s.yaml` of a valid scenario file said "workflow
/// `s` has no runs yet, and is invalid" and hinted `workflow validate` (which refuses a
/// scenario); and the hint named the file's stem (`w'x`), not its `name:` (`wx`). A file of
/// the other kind is said to be one, with that kind's status (which works when pasted), and a
/// definition is named by its `name:`.
#[test]
fn status_of_a_file_of_the_other_kind_hints_that_kinds_status_and_names_the_definition() {
    let env = Env::new();
    std::fs::create_dir_all(env.file("sc")).unwrap();
    std::fs::write(
        env.file("sc/s.yaml"),
        "name: s\ndescription: d\nphases:\n  - {name: p, run: 'true'}\n",
    )
    .unwrap();
    std::fs::write(
        env.file("sc/w.yaml"),
        "name: w\nsteps:\n  - {name: a, run: 'true'}\n",
    )
    .unwrap();
    std::fs::write(
        env.file("w'x.yaml"),
        "name: wx\nsteps:\n  - {name: a, run: 'true'}\n",
    )
    .unwrap();
    for (args, want, other) in [
        (
            ["workflow", "status", "./sc/s.yaml"],
            "`./sc/s.yaml` is a scenario file, not a workflow: `cortex orchestrate status ./sc/s.yaml` shows its runs",
            "orchestrate",
        ),
        (
            ["orchestrate", "status", "./sc/w.yaml"],
            "`./sc/w.yaml` is a workflow file, not a scenario: `cortex workflow status ./sc/w.yaml` shows its runs",
            "workflow",
        ),
    ] {
        let out = env.run(&args);
        assert_eq!(out.code, 2, "{}", out.text());
        assert!(out.stderr.contains(want), "{}", out.stderr);
        assert!(!out.stderr.contains("invalid"), "{}", out.stderr);
        let commands = pasted(&out);
        assert_eq!(commands.len(), 1, "{}", out.stderr);
        assert_eq!(commands[0][1], other);
        // Pasted: the right kind's status, which finds the definition (no runs yet).
        let words: Vec<&str> = commands[0][1..].iter().map(String::as_str).collect();
        let ran = env.run(&words);
        assert!(ran.stderr.contains("has no runs yet: "), "{}", ran.stderr);
    }
    let out = env.run(&["workflow", "status", "./w'x.yaml"]);
    assert!(
        out.stderr.contains("workflow `wx` has no runs yet"),
        "{}",
        out.stderr
    );
}

/// A run stopped (Ctrl-C, `orchestrate stop`) or interrupted before anything completed: its
/// resume starts it from the beginning, and the hint says so (before, "go on from the resume
/// point" and "go on from the completed phases", of which there were none).
#[test]
fn a_run_stopped_before_anything_completed_is_resumed_from_the_beginning_by_its_hint() {
    let env = Env::new();
    env.workflow(
        "w",
        "name: w\nsteps:\n  - name: a\n    run: touch w-started; sleep 30\n  - name: b\n    run: 'true'\n",
    );
    env.scenario(
        "s",
        "name: s\ndescription: d\nphases:\n  - {name: a, description: x, run: 'touch s-started; sleep 30'}\n",
    );
    let wait_for = |file: &str| {
        let until = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while !env.file(file).exists() {
            assert!(std::time::Instant::now() < until, "{file} never appeared");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    };
    // The workflow stopped by Ctrl-C, the scenario by `orchestrate stop`.
    let driver = env
        .command(&["workflow", "run", "w"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    wait_for("w-started");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(driver.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let report = driver.wait_with_output().unwrap();
    assert_eq!(report.status.code(), Some(3));
    let report = String::from_utf8_lossy(&report.stdout);
    let from_start = "start again from the beginning (no step has completed)";
    assert!(report.contains(from_start), "{report}");
    assert!(!report.contains("go on from"), "{report}");
    let status = env.run(&["workflow", "status", "w"]);
    insta::assert_snapshot!(
        "stopped_before_anything_completed_workflow",
        status.snapshot(&env)
    );
    let scenario = env
        .command(&["orchestrate", "run", "s"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_for("s-started");
    assert_eq!(env.run(&["orchestrate", "stop", "s"]).code, 3);
    scenario.wait_with_output().unwrap();
    let status = env.run(&["orchestrate", "status", "s"]);
    assert!(
        status
            .stdout
            .contains("start again from the beginning (no phase has completed)"),
        "{}",
        status.stdout
    );
    assert!(!status.stdout.contains("go on from"), "{}", status.stdout);
    let next = env.run(&["--json", "orchestrate", "status", "s"]).json()["next"].clone();
    assert!(
        next.to_string().contains("start again from the beginning"),
        "{next}"
    );
}

/// `n` runs of `name` (`kind`) written into `env`'s log as a driver records them (started,
/// then aborted): a history longer than a page, made in a moment.
fn many_runs(env: &Env, kind: cortex::event::RunKind, name: &str, n: usize) {
    use cortex::decide::Command as Decided;
    use cortex::event::Operator;
    use cortex::execute::{FixedClock, IdGen, Journal, UlidIds};
    let (definition, path) = match kind {
        cortex::event::RunKind::Workflow => {
            let yaml = format!("name: {name}\nsteps:\n  - {{name: a, run: 'true'}}\n");
            let wf = cortex::definition::parse_workflow("w.yaml", &yaml).unwrap();
            (cortex::definition::snapshot(&wf), "w.yaml")
        }
        cortex::event::RunKind::Scenario => {
            let yaml = format!(
                "name: {name}\ndescription: d\nphases:\n  - {{name: a, description: d, run: 'true'}}\n"
            );
            let sc = cortex::definition::parse_scenario("s.yaml", &yaml).unwrap();
            (cortex::definition::snapshot(&sc), "s.yaml")
        }
    };
    let by = || Operator {
        actor: "tester".into(),
        message: None,
    };
    let mut store = env.open_store();
    let clock = FixedClock::new(1_790_000_000_000);
    let mut run_ids = UlidIds::default();
    let mut ids = UlidIds::default();
    for _ in 0..n {
        let run_id = run_ids.next_id();
        let mut journal = Journal::open(&mut *store, &clock, &mut ids, &run_id).unwrap();
        journal
            .submit(Decided::Start(Box::new(common::run_started(
                kind,
                name,
                definition.clone(),
                path,
                by(),
            ))))
            .unwrap();
        journal
            .submit(Decided::Abort {
                by: by(),
                cut_off: None,
            })
            .unwrap();
    }
}

/// The run ids a history's text lists, in order.
fn listed(text: &str) -> Vec<String> {
    text.lines()
        .skip(1)
        .filter(|l| !l.starts_with('('))
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect()
}

/// The hint under a full page of history, and `--json`'s `next`, name a command history takes
/// and that lists the next page: following them lists every run once, newest first, past the
/// 500 one page holds. Before, the hint suggested five times the limit (`--limit 600` under
/// `--limit 120`), which history refuses (exit 2), and past 500 runs `--json` said
/// `"more": true` with no way on.
#[test]
fn the_history_hint_and_next_page_on_through_every_run_with_commands_history_takes() {
    use cortex::event::RunKind;
    let env = Env::new();
    many_runs(&env, RunKind::Workflow, "w", 505);
    many_runs(&env, RunKind::Scenario, "s", 130);
    let all = |kind: RunKind| -> Vec<String> {
        let store = env.open_store();
        store
            .list_runs(&cortex::store::RunQuery::kind(Some(kind)))
            .unwrap()
            .into_iter()
            .map(|r| r.run_id)
            .collect()
    };
    for (group, kind, limit) in [
        ("workflow", RunKind::Workflow, "120"),
        ("orchestrate", RunKind::Scenario, "120"),
        ("workflow", RunKind::Workflow, "20"),
    ] {
        let mut args: Vec<String> = vec![group.into(), "history".into()];
        if limit != "20" {
            args.extend(["--limit".into(), limit.into()]);
        }
        let mut seen = Vec::new();
        let mut pages = 0;
        loop {
            let argv: Vec<&str> = args.iter().map(String::as_str).collect();
            let out = env.run(&argv);
            assert_eq!(out.code, 0, "`{}`: {}", args.join(" "), out.stderr);
            check(&format!("{group} history page {pages}"), &out);
            seen.extend(listed(&out.stdout));
            pages += 1;
            let hints = suggested(&out.stdout);
            match hints.as_slice() {
                [] => break,
                [next] => {
                    assert!(next.contains("--before"), "{}", out.stdout);
                    if limit != "20" {
                        assert!(next.contains(&format!("--limit {limit}")), "{next}");
                    }
                    args = split(next);
                }
                more => panic!("{more:?}"),
            }
        }
        let want = all(kind);
        assert_eq!(
            seen, want,
            "{group} --limit {limit}: every run once, newest first"
        );
        let per_page: usize = limit.parse().unwrap();
        assert_eq!(
            pages,
            want.len().div_ceil(per_page),
            "{group} --limit {limit}"
        );
    }
    // `--json`: `next` pages on past the 500 a page holds; the last page has none.
    let mut argv: Vec<String> = ["--json", "workflow", "history", "--limit", "500"]
        .map(String::from)
        .to_vec();
    let mut seen = Vec::new();
    loop {
        let args: Vec<&str> = argv.iter().map(String::as_str).collect();
        let out = env.run(&args);
        assert_eq!(out.code, 0, "{}", out.stderr);
        check("history --json", &out);
        let doc = out.json();
        for r in doc["runs"].as_array().unwrap() {
            seen.push(r["run_id"].as_str().unwrap().to_string());
        }
        let next = doc["next"].as_array().unwrap();
        assert_eq!(doc["more"], !next.is_empty(), "{doc}");
        let Some(next) = next.first() else { break };
        let next: Vec<String> = serde_json::from_value(next["argv"].clone()).unwrap();
        argv = std::iter::once("--json".to_string())
            .chain(next.into_iter().skip(1))
            .collect();
    }
    assert_eq!(seen, all(RunKind::Workflow));
    // Before the oldest run: none, and how to list the newest.
    let oldest = all(RunKind::Workflow).pop().unwrap();
    let out = env.run(&["workflow", "history", "--before", &oldest]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout
            .starts_with(&format!("No workflow runs before {oldest}")),
        "{}",
        out.stdout
    );
    check("before the oldest", &out);
    // A prefix of an id is taken; a run of the other kind is not. The prefix is one no other
    // run's id starts with: runs made within one millisecond have ids that differ only in
    // their last characters (ULIDs are monotonic there), so a fixed 20 characters could name
    // two of them.
    let newest = all(RunKind::Scenario)[0].clone();
    let others: Vec<String> = [all(RunKind::Workflow), all(RunKind::Scenario)]
        .concat()
        .into_iter()
        .filter(|id| *id != newest)
        .collect();
    let unique = (20..newest.len())
        .find(|&n| !others.iter().any(|id| id.starts_with(&newest[..n])))
        .unwrap_or(newest.len());
    let out = env.run(&[
        "orchestrate",
        "history",
        "--limit",
        "1",
        "--before",
        &newest[..unique],
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(listed(&out.stdout), vec![all(RunKind::Scenario)[1].clone()]);
    let out = env.run(&["workflow", "history", "--before", &newest]);
    assert_eq!(out.code, 2, "{}", out.stdout);
    assert!(out.stderr.contains("is a scenario run"), "{}", out.stderr);
    check("before a run of the other kind", &out);
}

/// `resume --skip` of the one phase a time limit stopped skips it and goes on, as a workflow's
/// skips the step its stop ended: the scenario refused it ("no phase failed"), the workflow took
/// it (review j F7).
#[test]
fn a_scenario_skips_the_one_phase_its_time_limit_stopped_as_a_workflow_does() {
    let env = Env::new();
    env.config("{\"workflow\": {\"timeout_seconds\": 2}}");
    env.scenario(
        "napsc",
        "name: napsc\ndescription: d\nphases:\n  - {name: nap, description: n, run: sleep 6}\n  - {name: after, description: a, run: echo after, condition: 'after:nap'}\n",
    );
    let run = env.run(&["orchestrate", "run", "napsc"]);
    assert_eq!(run.code, 3, "{}", run.text());
    let skipped = env.run(&["--json", "orchestrate", "resume", "napsc", "--skip"]);
    assert_eq!(skipped.code, 0, "{}", skipped.text());
    let doc = skipped.json();
    assert_eq!(doc["status"], "completed", "{doc}");
    let phases = doc["phases"].as_array().unwrap();
    assert_eq!(phases[0]["status"], "skipped", "{doc}");
    assert_eq!(phases[1]["status"], "completed", "{doc}");
}

/// SPEC §7 "A run stopped by `timeout_seconds`" and exit 3 "a run is waiting or stopped
/// (resumable)": a run its time limit cut is `stopped` (recorded as `run_stopped` with the
/// limit's words, not paused as failed), exits 3, and its driver's last line and `status` say
/// the time limit stopped it and how to lift it, the resume with a longer `--timeout` first;
/// `on_failure` is delivered for it with status `stopped` (nobody chose that stop), `on_finish`
/// is not (the run did not end). For a workflow and a scenario. Before, it was `failed`, exit 1.
#[test]
fn a_run_cut_by_its_time_limit_is_stopped_and_exits_3() {
    let env = Env::new();
    env.config("{\"workflow\": {\"timeout_seconds\": 2}}");
    let notify = "notify:\n  on_failure:\n    - run: echo \"FAIL $CORTEX_RUN_STATUS\" >> notified.log\n  on_finish:\n    - run: echo \"FINISH $CORTEX_RUN_STATUS\" >> notified.log\n";
    env.workflow(
        "slowwf",
        &format!("name: slowwf\nsteps:\n  - name: nap\n    run: sleep 4\n{notify}"),
    );
    env.scenario(
        "slowsc",
        &format!(
            "name: slowsc\ndescription: d\nphases:\n  - {{name: nap, description: n, run: sleep 4}}\n{notify}"
        ),
    );
    for (kind, name) in [("workflow", "slowwf"), ("orchestrate", "slowsc")] {
        let _ = std::fs::remove_file(env.file("notified.log"));
        let run = env.run(&[kind, "run", name]);
        assert_eq!(run.code, 3, "{kind}: {}", run.text());
        assert!(
            run.stdout
                .contains("stopped by its time limit: the run exceeded its time limit of 2 s")
                && run.stdout.contains("progress is saved"),
            "{kind}: {}",
            run.stdout
        );
        let doc = env.run(&["--json", kind, "status", name]).json();
        assert_eq!(doc["status"], "stopped", "{kind}: {doc}");
        assert!(
            doc["reason"]
                .as_str()
                .unwrap()
                .starts_with("stopped by its time limit: the run exceeded its time limit of 2 s"),
            "{kind}: {doc}"
        );
        let id = doc["run_id"].as_str().unwrap().to_string();
        let argv: Vec<String> = serde_json::from_value(doc["next"][0]["argv"].clone()).unwrap();
        assert_eq!(
            argv[argv.len() - 4..argv.len() - 1],
            ["resume", &id, "--timeout"],
            "{kind}: {doc}"
        );
        let types: Vec<String> = env
            .events(&id)
            .iter()
            .map(|e| e["type"].as_str().unwrap().to_string())
            .collect();
        assert!(
            types.iter().any(|t| t == "run_stopped"),
            "{kind}: {types:?}"
        );
        assert!(
            !types.iter().any(|t| t == "run_paused"),
            "{kind}: {types:?}"
        );
        assert_eq!(
            std::fs::read_to_string(env.file("notified.log")).unwrap_or_default(),
            "FAIL stopped\n",
            "{kind}"
        );
        let args: Vec<&str> = argv[1..].iter().map(String::as_str).collect();
        let resumed = env.run(&args);
        assert_eq!(resumed.code, 0, "{kind}: {}", resumed.text());
        let done = env.run(&["--json", kind, "status", name]).json();
        assert_eq!(done["status"], "completed", "{kind}: {done}");
    }
}

/// `logs RUN NOSUCHSTEP` of a run with a big `foreach:` names its steps in a short line (the
/// items as one range), with the closest name; before, it listed every item: 119 KB for
/// 10,000.
#[test]
fn logs_of_an_unknown_step_of_a_big_foreach_names_its_steps_in_one_short_line() {
    let env = Env::new();
    env.workflow(
        "big",
        "name: big\nsteps:\n  - name: plan\n    run: echo \"list=[$(seq -s, 0 299)]\" >> \"$CORTEX_OUTPUT\"\n  - name: each\n    foreach: \"${{ steps.plan.outputs.list }}\"\n    run: \"true\"\n",
    );
    assert_eq!(env.run(&["workflow", "run", "big"]).code, 0);
    let out = env.run(&["logs", "big", "eahc"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.len() < 400, "{}", out.stderr);
    insta::assert_snapshot!("unknown_step_of_a_big_foreach", out.snapshot(&env));
}
