//! Secrets never reach what cortex stores, whoever appends: the real binary in a temporary
//! home, with secrets in the environment, in operators' arguments and in inputs; and the
//! property that redaction rewrites values, never identifiers.

mod common;
#[path = "common/server.rs"]
mod server;

use std::collections::BTreeMap;

use common::{Env, files_holding, next_argvs};
use cortex::event::{
    AgentResult, AttemptEnd, Driver, Event, Operator, Outcome, ResumeMode, RunKind, RunStarted,
    Stage,
};
use cortex::execute::Redactor;
use proptest::prelude::*;

/// Nothing under the home (the log, its WAL, derived files, locks) holds `secret`, and
/// neither does any document cortex prints about the run.
fn assert_nowhere(env: &Env, secret: &str) {
    let found = files_holding(&env.home(), secret);
    assert!(found.is_empty(), "the secret is stored in {found:?}");
    for args in [
        vec!["--json", "workflow", "status"],
        vec!["log", "export"],
        vec!["log", "show"],
    ] {
        let out = env.run(&args);
        assert!(
            !out.stdout.contains(secret),
            "`{}` prints the secret:\n{}",
            args.join(" "),
            out.stdout
        );
    }
}

/// A project whose `token.txt` holds `token`: a secret the definitions read from a file, as
/// the log keeps a definition as written.
fn with_token(token: &str) -> Env {
    let env = Env::new();
    std::fs::write(env.file("token.txt"), token).unwrap();
    env
}

fn events(env: &Env, run: Option<&str>) -> Vec<serde_json::Value> {
    let mut args = vec!["--json", "log", "show"];
    args.extend(run);
    env.run(&args).json().as_array().unwrap().clone()
}

fn first(events: &[serde_json::Value], kind: &str) -> serde_json::Value {
    events
        .iter()
        .find(|e| e["type"] == kind)
        .unwrap_or_else(|| panic!("no {kind} in {events:?}"))
        .clone()
}

#[test]
fn a_secret_equal_to_a_step_name_never_changes_the_step_name() {
    let env = Env::new();
    env.workflow(
        "short",
        "name: short\nsteps:\n  - name: build\n    run: echo build done\n  - name: test\n    run: echo tested\n",
    );
    let out = env.run_with(
        &["workflow", "run", "short", "--actor", "build"],
        &[("DB_PASSWORD", "build")],
    );
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let status = env.status(None);
    assert_eq!(status["status"], "completed");
    assert_eq!(status["steps"][0]["name"], "build");
    assert_eq!(status["steps"][1]["name"], "test");
    let log = events(&env, None);
    for e in &log {
        if let Some(step) = e["body"]["step"].as_str() {
            assert!(step == "build" || step == "test", "{e}");
        }
    }
    // The actor is display text, matched by nothing: a secret in it is scrubbed, as in a
    // message, and the run it started is the same run.
    assert_eq!(first(&log, "run_started")["body"]["actor"], "***");
    // Values are still scrubbed: the step's output names the secret.
    let succeeded = first(&log, "step_succeeded");
    assert_eq!(succeeded["body"]["output_tail"], "*** done\n");
    assert_eq!(
        env.run(&["--json", "log", "verify", "--all"]).json()["ok"],
        true
    );
}

/// `DB_PASSWORD=prod` and `--input env=prod`: the input's value was scrubbed in
/// `run_started` as any value is, and the run went on with `***` for it — its steps were
/// given `***`, `if: inputs.env == 'prod'` was false and the gated step skipped. An input
/// whose value holds a secret is now a secret input: the steps and conditions see it as
/// given, the log keeps `***`, and `resume` asks for it again.
#[test]
fn a_secret_equal_to_an_input_value_never_changes_what_the_run_does() {
    let env = Env::new();
    env.workflow(
        "deploy",
        "name: deploy\ninputs:\n  env: {type: string, enum: [prod, staging], required: true}\n  note: {type: string, default: none}\n  dry: {type: boolean, default: false}\nsteps:\n  - name: first\n    run: printf '%s' \"$CORTEX_INPUT_ENV\" > seen-env\n  - name: gate\n    if: inputs.env == 'prod'\n    run: touch gated\n  - name: ask\n    prompt: confirm\n  - name: after\n    if: inputs.env == 'prod' && inputs.note == 'see-prod'\n    run: touch after\n",
    );
    // `true` is a secret too (4 bytes), but a boolean is never scrubbed: it stays an input.
    let secret = [("DB_PASSWORD", "prod"), ("AUTH_TOKEN_ON", "true")];
    let out = env.run_with(
        &[
            "workflow",
            "run",
            "deploy",
            "--input",
            "env=prod",
            "--input",
            "note=see-prod",
            "--input",
            "dry=true",
        ],
        &secret,
    );
    assert_eq!(out.code, 3, "{}{}", out.stdout, out.stderr);
    assert_eq!(
        std::fs::read_to_string(env.file("seen-env")).unwrap(),
        "prod"
    );
    assert!(env.file("gated").exists(), "the gated step was skipped");
    let started = run_started(&env)["body"].clone();
    assert_eq!(started["inputs"]["env"], "***", "{started}");
    assert_eq!(started["inputs"]["note"], "***", "{started}");
    assert_eq!(started["secret_inputs"], serde_json::json!(["env", "note"]));
    assert_eq!(started["inputs"]["dry"], true, "{started}");
    // Its value is asked for again, as any secret input's is.
    let out = env.run_with(&["workflow", "step", "complete", "ask"], &secret);
    assert_eq!(out.code, 3, "{}{}", out.stdout, out.stderr);
    let out = env.run_with(
        &[
            "workflow",
            "resume",
            "--input",
            "env=prod",
            "--input",
            "note=see-prod",
        ],
        &secret,
    );
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        env.file("after").exists(),
        "the gated step after resume was skipped"
    );
    let status = env.status(None);
    assert_eq!(status["status"], "completed", "{status}");
}

/// `foreach: [prod, staging]` beside `DB_PASSWORD=prod`: the written item was scrubbed in
/// `foreach_expanded` and its attempt ran with `${{ item }}` and `$CORTEX_ITEM` as `***`. A
/// written list is definition text (the snapshot holds it as written): kept as it is.
#[test]
fn a_secret_equal_to_a_written_foreach_item_never_changes_the_item() {
    let env = Env::new();
    env.workflow(
        "regions",
        "name: regions\nsteps:\n  - name: deploy\n    foreach: [prod, staging]\n    run: echo \"${{ item }} $CORTEX_ITEM\" | tee -a seen\n",
    );
    let out = env.run_with(&["workflow", "run", "regions"], &[("DB_PASSWORD", "prod")]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert_eq!(
        std::fs::read_to_string(env.file("seen")).unwrap(),
        "prod prod\nstaging staging\n"
    );
    let expanded = first(&events(&env, None), "foreach_expanded");
    assert_eq!(
        expanded["body"]["items"],
        serde_json::json!(["prod", "staging"])
    );
    // What the step printed is a value still: scrubbed.
    let succeeded = first(&events(&env, None), "step_succeeded");
    assert_eq!(succeeded["body"]["output_tail"], "*** ***\n", "{succeeded}");
}

#[test]
fn a_secret_equal_to_a_phase_name_never_changes_the_phase_name() {
    let env = Env::new();
    env.scenario("ship", "name: ship\ndescription: d\nphases:\n  - name: deploy\n    description: d\n    run: echo deploy ok\n  - name: verify\n    description: v\n    condition: after:deploy\n    run: echo verified\n");
    let out = env.run_with(
        &["orchestrate", "run", "ship"],
        &[("DEPLOY_TOKEN", "deploy")],
    );
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let status = env.run(&["--json", "orchestrate", "status", "ship"]).json();
    assert_eq!(status["status"], "completed");
    assert_eq!(status["phases"][0]["name"], "deploy");
    let log = events(&env, None);
    let deps: Vec<&str> = log
        .iter()
        .filter_map(|e| e["body"]["step"].as_str())
        .collect();
    assert!(
        deps.contains(&"deploy") && !deps.contains(&"***"),
        "{deps:?}"
    );
}

/// A workflow with an external step, so that operators report on it.
const REVIEWED: &str = "name: reviewed\nsteps:\n  - name: review\n    prompt: Review it\n  - name: after\n    run: echo after\n";

/// Seen by a review: the actor was never redacted. `--actor "ci-bot:$DEPLOY_TOKEN"` put the
/// token in the log (`log show`: `by ci-bot:dtok-…`), `status` ("Started by"), `log export`,
/// the database and the run's lock file; `abort --actor` and `step complete --actor` too. The
/// actor is display text, scrubbed like `--message` on every path that appends, and in the
/// lock file, while the run is driven.
#[test]
fn an_actor_holding_a_secret_is_scrubbed_from_the_log_the_status_and_the_lock() {
    let env = Env::new();
    let secret = "dtok-5550001234";
    env.workflow(
        "slow",
        "name: slow\nsteps:\n  - name: wait\n    run: sleep 2\n  - name: review\n    prompt: Review it\n",
    );
    env.workflow("reviewed", REVIEWED);
    let actor = format!("ci-bot:{secret}");
    let with_token = |args: &[&str]| {
        let out = env
            .command(args)
            .env("DEPLOY_TOKEN", secret)
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr),
        )
    };
    // The lock file while the run is driven.
    let mut driver = env
        .command(&[
            "workflow",
            "run",
            "slow",
            "--actor",
            &actor,
            "--message",
            &format!("run with {secret}"),
        ])
        .env("DEPLOY_TOKEN", secret)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let (_, lock) = written_lock_file(&env);
    assert!(
        !lock.contains(secret) && lock.contains("ci-bot:***"),
        "{lock}"
    );
    assert_eq!(driver.wait().unwrap().code(), Some(3));
    let (code, text) = with_token(&[
        "workflow",
        "step",
        "complete",
        "review",
        "--actor",
        &format!("x {secret}"),
    ]);
    assert_eq!(code, 0, "{text}");
    let (code, text) = with_token(&["workflow", "run", "reviewed", "--actor", &actor]);
    assert_eq!(code, 3, "{text}");
    let (_, text) = with_token(&["workflow", "status"]);
    assert!(!text.contains(secret), "{text}");
    let (code, text) = with_token(&["workflow", "abort", "--actor", &format!("x {secret}")]);
    assert_eq!(code, 1, "{text}");
    assert!(!text.contains(secret), "{text}");
    assert_nowhere(&env, secret);
    let mut actors = Vec::new();
    for run in env.run(&["--json", "workflow", "history"]).json()["runs"]
        .clone()
        .as_array()
        .unwrap()
    {
        for e in events(&env, run["run_id"].as_str()) {
            for a in [&e["body"]["actor"], &e["body"]["by"]["actor"]] {
                if let Some(a) = a.as_str() {
                    actors.push(a.to_string());
                }
            }
        }
    }
    assert!(actors.iter().any(|a| a == "ci-bot:***"), "{actors:?}");
    assert!(actors.iter().any(|a| a == "x ***"), "{actors:?}");
    assert!(actors.iter().all(|a| !a.contains(secret)), "{actors:?}");
}

#[test]
fn operator_input_is_redacted_on_every_path_that_appends() {
    let env = Env::new();
    let secret = "ghp_operator0123456789";
    env.workflow("reviewed", REVIEWED);
    env.scenario("gate", "name: gate\ndescription: d\nphases:\n  - name: approve\n    description: a person approves\n    condition: manual\n");
    let with_token = |args: &[&str]| {
        let out = env
            .command(args)
            .env("GITHUB_TOKEN", secret)
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr),
        )
    };
    let used = format!("used {secret}");
    let token = format!("token={secret}");
    // `workflow run --message`, then `step complete --output --message` (recorded only),
    // then `resume --message` drives on.
    let (code, text) = with_token(&["workflow", "run", "reviewed", "--message", &used]);
    assert_eq!(code, 3, "{text}");
    let (code, text) = with_token(&[
        "workflow",
        "step",
        "complete",
        "review",
        "--output",
        &token,
        "--message",
        &used,
        "--no-drive",
    ]);
    assert_eq!(code, 3, "{text}");
    let (code, text) = with_token(&["workflow", "resume", "--message", &used]);
    assert_eq!(code, 0, "{text}");
    // `workflow abort --message`.
    let (code, text) = with_token(&["workflow", "run", "reviewed"]);
    assert_eq!(code, 3, "{text}");
    let (code, text) = with_token(&["workflow", "abort", "--message", &used]);
    assert_eq!(code, 1, "{text}");
    // `orchestrate start|complete --message`, and `orchestrate stop --message`.
    let (code, text) = with_token(&["orchestrate", "run", "gate"]);
    assert_eq!(code, 3, "{text}");
    let (code, text) = with_token(&[
        "orchestrate",
        "start",
        "gate",
        "approve",
        "--message",
        &used,
    ]);
    assert_eq!(code, 3, "{text}");
    let (code, text) = with_token(&[
        "orchestrate",
        "complete",
        "gate",
        "approve",
        "--message",
        &used,
    ]);
    assert_eq!(code, 0, "{text}");
    let (code, text) = with_token(&["orchestrate", "run", "gate"]);
    assert_eq!(code, 3, "{text}");
    let (code, text) = with_token(&["orchestrate", "stop", "gate", "--message", &used]);
    assert_eq!(code, 3, "{text}");

    assert_nowhere(&env, secret);
    // What was redacted is visible as such, and nothing else changed.
    let mut runs = env.run(&["--json", "workflow", "history"]).json()["runs"].clone();
    let scenario_runs = env.run(&["--json", "orchestrate", "history"]).json()["runs"].clone();
    runs.as_array_mut()
        .unwrap()
        .extend(scenario_runs.as_array().unwrap().iter().cloned());
    let mut messages = Vec::new();
    for run in runs.as_array().unwrap() {
        for e in events(&env, run["run_id"].as_str()) {
            if let Some(m) = e["body"]["message"]
                .as_str()
                .or(e["body"]["by"]["message"].as_str())
            {
                messages.push(m.to_string());
            }
            if e["type"] == "output_recorded" {
                assert_eq!(e["body"]["key"], "token");
                assert_eq!(e["body"]["value"], "***");
            }
        }
    }
    assert!(messages.len() >= 7, "{messages:?}");
    assert!(messages.iter().all(|m| m == "used ***"), "{messages:?}");
}

#[test]
fn a_secret_cut_by_the_tail_boundary_is_never_stored_in_part() {
    let env = Env::new();
    let secret = "sk-live-ABCDEFGHIJKLMNOPQRSTUVWXYZ012345";
    // Unredacted, the 4 KiB tail would begin in the middle of the secret's line.
    let filler = 4096 - secret.len() - 2 + secret.len() / 2;
    env.workflow(
        "cut",
        &format!(
            "name: cut\nsteps:\n  - name: print\n    run: echo \"$DEPLOY_TOKEN\"; printf '%{filler}s\\n' ''\n"
        ),
    );
    let out = env
        .command(&["workflow", "run", "cut"])
        .env("DEPLOY_TOKEN", secret)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let tail = first(&events(&env, None), "step_succeeded")["body"]["output_tail"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(tail.len() > 4000, "the tail is full: {}", tail.len());
    for part in secret.as_bytes().windows(8) {
        let part = std::str::from_utf8(part).unwrap();
        assert!(!tail.contains(part), "the tail keeps `{part}`");
        assert_nowhere(&env, part);
    }
}

#[test]
/// Seen by a review: a secret of several lines (a PEM key in `DEPLOY_TOKEN`) was masked in
/// the log's tail but printed in clear on the terminal, kept in the whole-output file and
/// shown by `cortex logs`: output is scrubbed a line at a time, where the whole secret is
/// never found. Each of its lines is scrubbed.
fn a_multi_line_secret_is_scrubbed_from_the_terminal_and_the_whole_output_file() {
    let env = Env::new();
    let body = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7";
    let secret = format!("-----BEGIN PRIVATE KEY-----\n{body}\n-----END PRIVATE KEY-----");
    env.workflow(
        "ml",
        "name: ml\nsteps:\n  - name: a\n    run: echo \"$DEPLOY_TOKEN\"; printf 'x%s\\n' \"$DEPLOY_TOKEN\"\n",
    );
    let out = env
        .command(&["workflow", "run", "ml"])
        .env("DEPLOY_TOKEN", &secret)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(!printed.contains(body), "{printed}");
    assert!(printed.contains("***"), "{printed}");
    let logs = env.run(&["logs", "ml", "a"]);
    assert!(!logs.stdout.contains(body), "{}", logs.stdout);
    assert_nowhere(&env, body);
}

/// The events of the latest run's `run_started`.
fn run_started(env: &Env) -> serde_json::Value {
    first(&events(env, None), "run_started")
}

#[test]
fn a_secret_passed_through_an_input_template_is_never_stored() {
    let env = Env::new();
    let secret = "tmpl-secret-0123456789";
    env.workflow(
        "templated",
        "name: templated\ninputs:\n  tok: {type: string, required: true}\nsteps:\n  - name: call\n    env:\n      API_TOKEN: \"${{ inputs.tok }}\"\n    run: echo \"calling with $API_TOKEN\"; echo \"$API_TOKEN\" > seen; echo \"echo=$API_TOKEN\" >> \"$CORTEX_OUTPUT\"\n",
    );
    let out = env.run(&[
        "workflow",
        "run",
        "templated",
        "--input",
        &format!("tok={secret}"),
    ]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(!out.stdout.contains(secret), "{}", out.stdout);
    assert_eq!(
        std::fs::read_to_string(env.file("seen")).unwrap().trim(),
        secret,
        "the step sees the value itself"
    );
    let started = run_started(&env);
    assert_eq!(started["body"]["inputs"]["tok"], "***");
    assert_eq!(started["body"]["secret_inputs"], serde_json::json!(["tok"]));
    assert_nowhere(&env, secret);
}

#[test]
fn the_value_of_a_secret_named_input_never_reaches_the_tail() {
    let env = Env::new();
    let secret = "input-secret-0123456789";
    env.workflow(
        "named",
        "name: named\ninputs:\n  api_token: {type: string}\nsteps:\n  - name: show\n    run: echo \"env $CORTEX_INPUT_API_TOKEN\"; echo \"tpl ${{ inputs.api_token }}\"\n",
    );
    let out = env.run(&[
        "workflow",
        "run",
        "named",
        "--input",
        &format!("api_token={secret}"),
    ]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let tail = first(&events(&env, None), "step_succeeded")["body"]["output_tail"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(tail, "env ***\ntpl ***\n");
    assert_eq!(run_started(&env)["body"]["inputs"]["api_token"], "***");
    assert_nowhere(&env, secret);
}

#[test]
fn output_files_do_not_keep_plain_text_after_their_step() {
    let env = Env::new();
    let secret = "outfile-secret-0123456789";
    env.workflow(
        "outs",
        "name: outs\nsteps:\n  - name: write\n    run: echo \"key=$DEPLOY_TOKEN\" >> \"$CORTEX_OUTPUT\"\n  - name: wait\n    prompt: look\n  - name: last\n    run: 'true'\n",
    );
    let out = env
        .command(&["workflow", "run", "outs"])
        .env("DEPLOY_TOKEN", secret)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let run_id = env.status(None)["run_id"].as_str().unwrap().to_string();
    let work = env.home().join("runs").join(&run_id).join("work");
    let leftovers: Vec<_> = std::fs::read_dir(&work)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".out"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    assert_nowhere(&env, secret);
    // One a killed driver left behind goes when the next driver starts.
    let stale = work.join("step-1-attempt-1.out");
    std::fs::write(&stale, format!("key={secret}\n")).unwrap();
    let out = env.run(&["workflow", "step", "complete", "wait"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let out = env.run(&["workflow", "resume"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(!stale.exists());
}

const NEEDS_TOKEN: &str = "name: needs\ninputs:\n  api_token: {type: string, required: true, pattern: '^[a-z0-9-]+$'}\n  plain: {type: string, default: p}\nsteps:\n  - name: wait\n    prompt: look first\n  - name: use\n    run: echo \"${{ inputs.api_token }}\" > used\n";

#[test]
fn a_resume_without_a_secret_input_refuses_with_exit_2_and_says_how_to_give_it() {
    let env = Env::new();
    let secret = "resume-secret-0123";
    env.workflow("needs", NEEDS_TOKEN);
    let out = env.run(&[
        "workflow",
        "run",
        "needs",
        "--input",
        &format!("api_token={secret}"),
    ]);
    assert_eq!(out.code, 3, "{}{}", out.stdout, out.stderr);
    // The report is recorded; without the secret, it cannot drive the run on, and says how.
    let out = env.run(&["workflow", "step", "complete", "wait"]);
    assert_eq!(out.code, 3, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("--input api_token=VALUE"),
        "{}",
        out.stdout
    );
    let before = env.status(None)["events"].clone();

    let refused = env.run(&["workflow", "resume"]);
    assert_eq!(refused.code, 2, "{}{}", refused.stdout, refused.stderr);
    assert!(
        refused.stderr.contains("secret input `api_token`")
            && refused.stderr.contains("--input api_token=VALUE")
            && refused.stderr.contains("CORTEX_INPUT_API_TOKEN"),
        "{}",
        refused.stderr
    );
    // A value that `run` would refuse is refused here too, and a non-secret input cannot be
    // given again.
    let bad = env.run(&["workflow", "resume", "--input", "api_token=NOT VALID"]);
    assert_eq!(bad.code, 2, "{}{}", bad.stdout, bad.stderr);
    let plain = env.run(&["workflow", "resume", "--input", "plain=x"]);
    assert_eq!(plain.code, 2, "{}{}", plain.stdout, plain.stderr);
    assert!(plain.stderr.contains("not secret"), "{}", plain.stderr);
    assert_eq!(env.status(None)["events"], before, "nothing was recorded");

    let resumed = env.run(&[
        "workflow",
        "resume",
        "--input",
        &format!("api_token={secret}"),
    ]);
    assert_eq!(resumed.code, 0, "{}{}", resumed.stdout, resumed.stderr);
    assert_eq!(
        std::fs::read_to_string(env.file("used")).unwrap().trim(),
        secret
    );
    assert_nowhere(&env, secret);
}

#[test]
fn a_secret_input_can_come_from_the_environment_at_run_and_at_resume() {
    let env = Env::new();
    let secret = "env-secret-0123";
    env.workflow("needs", NEEDS_TOKEN);
    let out = env
        .command(&["workflow", "run", "needs"])
        .env("CORTEX_INPUT_API_TOKEN", secret)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert_eq!(env.run(&["workflow", "step", "complete", "wait"]).code, 3);
    let out = env
        .command(&["workflow", "resume"])
        .env("CORTEX_INPUT_API_TOKEN", secret)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(env.file("used")).unwrap().trim(),
        secret
    );
    assert_nowhere(&env, secret);
}

// ---- the property: redaction rewrites values, never identifiers ----

/// Short words shared by names, keys, actors, values and secrets, so that a secret often
/// equals an identifier or sits inside a value.
fn word() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "build",
        "test",
        "deploy",
        "planner",
        "ab",
        "abcd",
        "token",
        "user@host",
        "build-2",
        "***",
        "x",
        "reviewer",
    ])
    .prop_map(str::to_string)
}

/// Text made of words: what values look like.
fn text() -> impl Strategy<Value = String> {
    prop::collection::vec(word(), 0..4).prop_map(|w| w.join(" "))
}

fn operator() -> impl Strategy<Value = Operator> {
    (word(), prop::option::of(text())).prop_map(|(actor, message)| Operator { actor, message })
}

fn end() -> impl Strategy<Value = AttemptEnd> {
    prop_oneof![
        any::<i32>().prop_map(|code| AttemptEnd::Exited { code }),
        (1..64i32).prop_map(|signal| AttemptEnd::Signaled { signal }),
        any::<u32>().prop_map(|t| AttemptEnd::TimedOut {
            timeout_ms: u64::from(t)
        }),
        text().prop_map(|error| AttemptEnd::SpawnFailed { error }),
        any::<bool>().prop_map(|success| AttemptEnd::Reported { success }),
        text().prop_map(|error| AttemptEnd::AgentFailed { error }),
        (word(), any::<bool>(), prop::option::of(text())).prop_map(|(run_id, finished, reason)| {
            AttemptEnd::Child {
                run_id,
                outcome: Outcome::Failed,
                finished,
                reason,
            }
        }),
    ]
}

/// The events of composition (`if:`, `foreach:`, `uses:`).
fn composition() -> impl Strategy<Value = Event> {
    prop_oneof![
        word().prop_map(|step| Event::ConditionStarted { step }),
        (
            word(),
            text(),
            any::<bool>(),
            prop::collection::btree_map(word(), text(), 0..3),
            prop::option::of(text())
        )
            .prop_map(|(step, condition, holds, values, error)| {
                Event::ConditionChecked(Box::new(cortex::event::ConditionCheck {
                    step,
                    condition,
                    holds,
                    values,
                    exit_code: None,
                    error,
                }))
            }),
        (word(), prop::collection::vec(text(), 0..3)).prop_map(|(step, items)| {
            Event::ForeachExpanded {
                step,
                items: items
                    .into_iter()
                    .map(cortex::definition::Item::from)
                    .collect(),
            }
        }),
        (word(), text()).prop_map(|(step, error)| Event::ForeachFailed { step, error }),
        (word(), any::<u32>(), any::<u32>()).prop_map(|(step, completed, skipped)| {
            Event::ForeachFinished {
                step,
                completed,
                skipped,
            }
        }),
        (word(), any::<u32>(), word(), word()).prop_map(|(step, attempt, run_id, workflow)| {
            Event::ChildStarted {
                step,
                attempt,
                run_id,
                workflow,
            }
        }),
        (word(), any::<u32>(), word()).prop_map(|(step, attempt, run_id)| Event::ChildWaiting {
            step,
            attempt,
            run_id
        }),
    ]
}

fn agent_result() -> impl Strategy<Value = Event> {
    (
        (word(), any::<u32>(), word(), any::<bool>(), word()),
        (text(), prop::collection::vec(text(), 0..2), word()),
        (
            prop::option::of(0.0..100.0f64),
            prop::option::of(any::<u32>()),
            prop::option::of(any::<u32>()),
        ),
    )
        .prop_map(
            |(
                (step, attempt, agent, is_error, subtype),
                (result, errors, session_id),
                (cost, turns, ms),
            )| {
                Event::AgentResult(Box::new(AgentResult {
                    step,
                    attempt,
                    agent,
                    runner: cortex::definition::AgentRunner::Claude,
                    is_error,
                    subtype,
                    result,
                    errors,
                    session_id,
                    total_cost_usd: cost,
                    num_turns: turns,
                    duration_ms: ms.map(u64::from),
                    duration_api_ms: None,
                }))
            },
        )
}

fn stage() -> impl Strategy<Value = Stage> {
    prop_oneof![Just(Stage::Pre), Just(Stage::Step), Just(Stage::Post)]
}

fn mode() -> impl Strategy<Value = ResumeMode> {
    prop_oneof![
        Just(ResumeMode::Continue),
        Just(ResumeMode::Retry),
        Just(ResumeMode::Skip),
        word().prop_map(ResumeMode::RollbackTo),
        word().prop_map(ResumeMode::From),
    ]
}

fn started() -> impl Strategy<Value = Event> {
    (
        word(),
        prop::collection::btree_map(word(), text(), 0..3),
        prop::collection::btree_map(word(), prop::option::of(text()), 0..2),
        word(),
        operator(),
        prop::collection::vec(word(), 0..2),
    )
        .prop_map(|(name, inputs, agents, dir, by, steps)| {
            let definition = serde_json::json!({
                "name": name,
                "steps": steps.iter().map(|s| serde_json::json!({"name": s, "run": s})).collect::<Vec<_>>(),
            });
            Event::RunStarted(Box::new(RunStarted {
                kind: RunKind::Workflow,
                name: name.clone(),
                definition,
                definition_hash: name.clone(),
                source: format!("{name}.yaml"),
                inputs: inputs
                    .into_iter()
                    .map(|(k, v)| (k, serde_json::Value::String(v)))
                    .collect(),
                secret_inputs: Vec::new(),
                secret_defaults: Vec::new(),
                config: Default::default(),
                agents: agents.into_iter().collect::<BTreeMap<_, _>>(),
                claude: None,
                parent: None,
                uses: Default::default(),
                working_dir: dir,
                driver: Driver {
                    pid: 7,
                    host: name,
                },
                by,
            }))
        })
}

/// Any event, with every field drawn from the shared words.
fn event() -> impl Strategy<Value = Event> {
    let by = || prop::option::of(operator());
    prop_oneof![
        started(),
        agent_result(),
        composition(),
        (stage(), prop::option::of(word()))
            .prop_map(|(stage, step)| Event::ValidationPassed { stage, step }),
        (
            stage(),
            prop::option::of(word()),
            prop::collection::vec(text(), 0..3)
        )
            .prop_map(|(stage, step, problems)| Event::ValidationFailed {
                stage,
                step,
                problems
            }),
        (word(), any::<u32>()).prop_map(|(step, attempt)| Event::StepStarted { step, attempt }),
        (word(), any::<u32>()).prop_map(|(step, attempt)| Event::StepWaiting { step, attempt }),
        (word(), word(), text()).prop_map(|(step, key, value)| Event::OutputRecorded {
            step,
            key,
            value
        }),
        (word(), any::<u32>(), end(), text(), by()).prop_map(
            |(step, attempt, end, output_tail, by)| Event::StepSucceeded {
                step,
                attempt,
                end,
                output_tail,
                by
            }
        ),
        (word(), any::<u32>(), end(), text(), text(), by()).prop_map(
            |(step, attempt, end, error, output_tail, by)| Event::StepFailed {
                step,
                attempt,
                end,
                error,
                output_tail,
                by
            }
        ),
        (word(), any::<u32>(), any::<u32>(), text()).prop_map(|(step, attempt, t, output_tail)| {
            Event::StepTimedOut {
                step,
                attempt,
                timeout_ms: u64::from(t),
                output_tail,
            }
        }),
        (word(), any::<u32>(), text()).prop_map(|(step, attempt, reason)| {
            Event::StepInterrupted {
                step,
                attempt,
                reason,
            }
        }),
        (word(), any::<u32>(), any::<u32>()).prop_map(|(step, attempt, d)| {
            Event::RetryScheduled {
                step,
                attempt,
                delay_ms: u64::from(d),
            }
        }),
        (word(), text(), by()).prop_map(|(step, reason, by)| Event::StepSkipped {
            step,
            reason,
            by
        }),
        word().prop_map(|step| Event::CheckpointSaved { step }),
        (
            text(),
            prop::collection::vec(word(), 0..3),
            prop::option::of(word())
        )
            .prop_map(|(reason, steps, resume_after)| Event::RollbackStarted {
                reason,
                steps,
                resume_after
            }),
        (word(), any::<bool>(), text()).prop_map(|(step, ran, output_tail)| {
            Event::StepCompensated {
                step,
                ran,
                output_tail,
            }
        }),
        (word(), end(), text(), text()).prop_map(|(step, end, error, output_tail)| {
            Event::CompensationFailed {
                step,
                end,
                error,
                output_tail,
            }
        }),
        prop::collection::vec(word(), 0..3).prop_map(|failed| Event::RollbackFinished {
            failed,
            cut_off: None,
            not_run: vec![]
        }),
        (prop::option::of(word()), text())
            .prop_map(|(step, reason)| Event::RunPaused { step, reason }),
        (operator(), prop::option::of(word()), any::<bool>())
            .prop_map(|(by, signal, abort)| { Event::StopRequested { by, signal, abort } }),
        Just(Event::RunStopped { time_limit: None }),
        (mode(), prop::option::of(word()), operator()).prop_map(|(mode, restart_from, by)| {
            Event::RunResumed {
                mode,
                restart_from,
                driver: Driver {
                    pid: 9,
                    host: "h".into(),
                },
                by,
                timeout_seconds: None,
                enable_rollback: None,
                claude: None,
                rerun: vec![],
            }
        }),
        (word(), operator()).prop_map(|(phase, by)| Event::PhaseStartRequested { phase, by }),
        (word(), word(), by()).prop_map(|(agent, phase, by)| Event::AgentActivated {
            agent,
            phase,
            by
        }),
        (word(), word(), by()).prop_map(|(agent, phase, by)| Event::AgentDeactivated {
            agent,
            phase,
            by
        }),
        (word(), text(), any::<bool>(), by()).prop_map(|(phase, criterion, checked, by)| {
            Event::CriterionMet {
                phase,
                criterion,
                checked,
                by,
            }
        }),
        (
            prop_oneof![
                Just(Outcome::Completed),
                Just(Outcome::Failed),
                Just(Outcome::Aborted),
                Just(Outcome::RolledBack)
            ],
            by(),
            prop::option::of(text())
        )
            .prop_map(|(outcome, by, reason)| Event::RunFinished {
                outcome,
                by,
                reason
            }),
    ]
}

/// Keys under which an event holds values (what a command printed, a person wrote, an input
/// held). Written here independently of `Event::visit_values`, from the event schema.
const VALUE_KEYS: [&str; 15] = [
    // Who acted: display text, matched by nothing (an operator's `--actor`, a client's name).
    "actor",
    "value",
    "values",
    "items",
    "output_tail",
    "error",
    "problems",
    "reason",
    "message",
    // An `if:` as written holds literals (a secret compared with one is refused by validate,
    // and what slips through is scrubbed there as in its skip reason): text, matched by
    // nothing.
    "condition",
    "inputs",
    "result",
    "errors",
    "session_id",
    "subtype",
];

/// Every string of `json` that is not under a value key, with its path.
fn identifiers(json: &serde_json::Value, path: &str, out: &mut Vec<(String, String)>) {
    match json {
        serde_json::Value::String(s) => out.push((path.to_string(), s.clone())),
        serde_json::Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                identifiers(v, &format!("{path}[{i}]"), out);
            }
        }
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                if !VALUE_KEYS.contains(&k.as_str()) {
                    identifiers(v, &format!("{path}.{k}"), out);
                }
            }
        }
        _ => out.push((path.to_string(), json.to_string())),
    }
}

/// Every string of `json` under a value key.
fn values(json: &serde_json::Value, under_value: bool, out: &mut Vec<String>) {
    match json {
        serde_json::Value::String(s) if under_value => out.push(s.clone()),
        serde_json::Value::Array(items) => items.iter().for_each(|v| values(v, under_value, out)),
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                values(v, under_value || VALUE_KEYS.contains(&k.as_str()), out);
            }
        }
        _ => {}
    }
}

proptest! {
    /// For any event and any set of secrets: redaction never alters an identifier (a name, a
    /// key, a type, a number, the definition: everything not under a value key),
    /// the redacted event still encodes and decodes to itself, and no value field still
    /// holds a secret of the minimum length.
    #[test]
    fn redaction_never_alters_an_identifier(
        event in event(),
        secrets in prop::collection::vec(word(), 0..4),
    ) {
        let env: Vec<(String, String)> = secrets
            .iter()
            .enumerate()
            .map(|(i, s)| (format!("S{i}_TOKEN"), s.clone()))
            .collect();
        let redactor = Redactor::from_env(env.iter().map(|(k, v)| (k.as_str(), v.as_str())), &[]);
        let mut redacted = event.clone();
        redactor.redact_event(&mut redacted);

        let (before, after) = (serde_json::to_value(&event).unwrap(), serde_json::to_value(&redacted).unwrap());
        let (mut ids_before, mut ids_after) = (Vec::new(), Vec::new());
        identifiers(&before, "", &mut ids_before);
        identifiers(&after, "", &mut ids_after);
        prop_assert_eq!(ids_before, ids_after);

        let decoded = Event::from_parts(redacted.type_name(), &redacted.body_json()).unwrap();
        prop_assert_eq!(&decoded, &redacted);

        let mut left = Vec::new();
        values(&after, false, &mut left);
        for secret in secrets.iter().filter(|s| s.len() >= cortex::execute::MIN_SECRET_LEN) {
            for value in &left {
                prop_assert!(!value.contains(secret.as_str()), "`{}` keeps `{}`", value, secret);
            }
        }
    }
}

proptest! {
    /// For any event: decoding its stored columns (`type`, `body`) in one pass, as replay does
    /// (`cortex::event::decode`), gives the event itself, exactly what the two-pass
    /// `Event::from_parts` gives; and a body with anything after its one JSON value is refused
    /// by both.
    #[test]
    fn the_one_pass_decode_reads_every_event_as_from_parts_does(event in event(), tail in prop::sample::select(vec!["", " ", "\n", " {}", ", \"x\": 1", "]"])) {
        let body = format!("{}{tail}", event.body_json());
        let one_pass = cortex::event::decode(cortex::event::EVENT_VERSION, event.type_name(), &body);
        let two_pass = Event::from_parts(event.type_name(), &body);
        if tail.trim().is_empty() {
            prop_assert_eq!(one_pass.as_ref(), Ok(&event));
            prop_assert_eq!(two_pass.ok(), Some(event.clone()));
        } else {
            prop_assert!(one_pass.is_err(), "{:?} decodes", body);
            prop_assert!(two_pass.is_err(), "{:?} decodes", body);
        }
    }
}

#[test]
fn an_agent_activation_message_never_stores_a_secret() {
    let env = Env::new();
    let secret = "ghp_agentmessage0123456";
    std::fs::create_dir_all(env.home().join("agents")).unwrap();
    std::fs::write(
        env.home().join("agents/helper.md"),
        "---\nname: helper\ndescription: helps\n---\nHelp.\n",
    )
    .unwrap();
    let out = env
        .command(&[
            "agent",
            "activate",
            "helper",
            "--message",
            &format!("token {secret}"),
        ])
        .env("GITHUB_TOKEN", secret)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let found = files_holding(&env.home(), secret);
    assert!(found.is_empty(), "the secret is stored in {found:?}");
}

#[test]
fn a_scenario_phase_declares_secret_env_and_its_secret_inputs_stay_out_of_the_log() {
    let env = Env::new();
    std::fs::create_dir_all(env.home().join("scenarios")).unwrap();
    let secret = "s3cr3t-phase-value";
    env.scenario("ship", "name: ship\ndescription: d\nphases:\n  - name: deploy\n    description: d\n    run: echo \"using $DB_CREDS\"\n    secret_env: [DB_CREDS]\n");
    let valid = env.run(&["orchestrate", "validate", "ship"]);
    assert_eq!(valid.code, 0, "{}{}", valid.stdout, valid.stderr);
    let out = env.run_with(&["orchestrate", "run", "ship"], &[("DB_CREDS", secret)]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(!out.stdout.contains(secret));
    let found = files_holding(&env.home(), secret);
    assert!(found.is_empty(), "the secret is stored in {found:?}");
    let log = env.run(&["log", "export"]).stdout;
    assert!(log.contains("using ***"), "{log}");

    // A scenario's secret-named input is kept out of the log as a workflow's is.
    env.scenario("inp", "name: inp\ndescription: d\ninputs:\n  api_token: {}\nphases:\n  - name: a\n    run: echo \"tok ${{ inputs.api_token }}\"\n");
    let input = "zz-scenario-input-zz";
    let out = env.run(&[
        "orchestrate",
        "run",
        "inp",
        "--input",
        &format!("api_token={input}"),
    ]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(!out.stdout.contains(input), "{}", out.stdout);
    let found = files_holding(&env.home(), input);
    assert!(found.is_empty(), "the input is stored in {found:?}");

    // A name that is no environment variable is refused where it is written.
    env.scenario("bad", "name: bad\ndescription: d\nphases:\n  - name: a\n    run: 'true'\n    secret_env: [NOT-A-NAME]\n");
    let refused = env.run(&["orchestrate", "validate", "bad"]);
    assert_eq!(refused.code, 2, "{}", refused.stdout);
    assert!(
        refused.stdout.contains("bad.yaml:6:18"),
        "{}",
        refused.stdout
    );
}

/// The log's connection string reaches every step (a step that runs `cortex` reports to the
/// same log), and CORTEX_DB's name does not look secret: a step printing it (`env`, a
/// debugging `echo`) put the database password in the log. Its password is a secret.
#[test]
fn the_password_in_cortex_db_never_reaches_the_log() {
    let Some(env) = Env::postgres("the_password_in_cortex_db_never_reaches_the_log") else {
        return;
    };
    let pg = env.db_spec();
    // The test server trusts its clients: a password in the URL is sent to nobody.
    let password = "pg-pass-0123";
    let with_password = pg.replacen(
        "postgres://postgres@",
        &format!("postgres://postgres:{password}@"),
        1,
    );
    assert_ne!(with_password, pg, "the test URL names its user: {pg}");
    env.workflow(
        "dbenv",
        "name: dbenv\nsteps:\n  - {name: a, run: 'echo \"db=$CORTEX_DB\"'}\n",
    );
    let out = env.run_with(
        &["workflow", "run", "dbenv"],
        &[("CORTEX_DB", &with_password)],
    );
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("db=***"), "{}", out.stdout);
    assert_eq!(env.log_holding(password), Vec::<String>::new());
}

/// A secret written out in a definition — `env: {DEPLOY_TOKEN: literal}` on a step or a phase,
/// or any entry `secret_env` lists — is refused where it stands. Before, the run went ahead and
/// the value reached the log in the definition's snapshot, `runs/ID/workflow.json` and `log
/// export`, while the screen showed it as `***`: SPEC §6 says a secret is never written to the
/// log. A template resolved at run time is accepted, and the secret given through it is
/// nowhere in the home.
#[test]
fn a_secret_written_in_a_definition_is_refused_where_it_stands() {
    let env = Env::new();
    env.workflow(
        "lit",
        "name: lit\nsteps:\n  - name: a\n    env: {DEPLOY_TOKEN: literalTok98765}\n    run: echo \"tok $DEPLOY_TOKEN\"\n",
    );
    env.scenario(
        "lit-sc",
        "name: lit-sc\ndescription: d\nphases:\n  - name: a\n    description: d\n    env: {PLAIN: literalTok98765}\n    secret_env: [PLAIN]\n    run: echo \"$PLAIN\"\n",
    );
    for (args, line) in [
        (vec!["workflow", "validate", "lit"], 4),
        (vec!["workflow", "run", "lit"], 4),
        (vec!["orchestrate", "run", "lit-sc"], 6),
    ] {
        let out = env.run(&args);
        assert_eq!(out.code, 2, "{args:?}: {}", out.text());
        assert!(
            out.text()
                .contains("is a secret, and its value is written in the definition"),
            "{args:?}: {}",
            out.text()
        );
        assert!(
            out.text().contains(&format!(":{line}:")),
            "{args:?}: {}",
            out.text()
        );
    }
    assert!(!env.db().exists() || files_holding(&env.home(), "literalTok98765").is_empty());
    env.workflow(
        "tpl",
        "name: tpl\ninputs:\n  deploy_token: {type: string, required: true}\nsteps:\n  - name: a\n    env: {DEPLOY_TOKEN: \"${{ inputs.deploy_token }}\"}\n    run: echo \"tok $DEPLOY_TOKEN\"\n",
    );
    let out = env.run(&[
        "workflow",
        "run",
        "tpl",
        "--input",
        "deploy_token=literalTok98765",
    ]);
    assert_eq!(out.code, 0, "{}", out.text());
    // The refused definitions are the user's own files: everything else is cortex's.
    std::fs::remove_file(env.home().join("workflows/lit.yaml")).unwrap();
    std::fs::remove_file(env.home().join("scenarios/lit-sc.yaml")).unwrap();
    assert_nowhere(&env, "literalTok98765");
}

/// A secret input's `default:` is a secret written out in a definition, as `env:
/// {DEPLOY_TOKEN: literal}` is: before, `validate` took it, the run's log kept it in the
/// definition's snapshot (and `runs/ID/workflow.json`, `log export`), and `serve`'s run form
/// showed it as the field's placeholder. It is refused where it stands, for a workflow and a
/// scenario alike (a secret-looking name, or an input that feeds a secret `env:` entry); a
/// short or common default (no secret worth hiding) is taken.
#[test]
fn a_secret_inputs_default_is_refused_where_it_stands() {
    let env = Env::new();
    env.workflow(
        "sec",
        "name: sec\ninputs:\n  api_token: {type: string, default: \"tok-verysecret-9876\"}\n  flag_token: {type: string, default: \"false\"}\nsteps:\n  - name: A\n    prompt: \"use ${{ inputs.api_token }}\"\n",
    );
    env.scenario(
        "sec-sc",
        "name: sec-sc\ndescription: d\ninputs:\n  key: {type: string, default: tok-verysecret-9876}\nphases:\n  - name: a\n    description: d\n    env: {DEPLOY_TOKEN: \"${{ inputs.key }}\"}\n    run: echo \"$DEPLOY_TOKEN\"\n",
    );
    for (args, at) in [
        (vec!["workflow", "validate", "sec"], ":3:38"),
        (vec!["workflow", "run", "sec"], ":3:38"),
        (vec!["orchestrate", "validate", "sec-sc"], ":4:"),
        (vec!["orchestrate", "run", "sec-sc"], ":4:"),
    ] {
        let out = env.run(&args);
        assert_eq!(out.code, 2, "{args:?}: {}", out.text());
        assert!(
            out.text()
                .contains("is secret, and its `default:` is written in the definition"),
            "{args:?}: {}",
            out.text()
        );
        assert!(out.text().contains(at), "{args:?}: {}", out.text());
        assert!(!out.text().contains("flag_token"), "{}", out.text());
    }
    assert!(!env.db().exists() || files_holding(&env.home(), "tok-verysecret").is_empty());
}

/// `TOKENIZERS_PARALLELISM=false` (exported by many machine-learning setups) matched by its
/// name alone made `false` a secret: a step's output `changed=false` was recorded as `***`,
/// `if: steps.build.outputs.changed != 'false'` held and a step meant to be skipped ran, and
/// `--input dry_run=false` became a secret input asked for again at every report. A common word
/// or a short number is never taken for a secret; a real one beside it still is.
#[test]
fn an_ordinary_word_in_a_secret_named_variable_never_changes_what_the_run_does() {
    let env = Env::new();
    env.workflow(
        "cd",
        "name: cd\ninputs:\n  dry_run: {type: string, default: 'true'}\nsteps:\n  - name: build\n    run: 'echo \"changed=false\" >> \"$CORTEX_OUTPUT\"; echo \"key $GH_TOKEN\"'\n  - name: deploy\n    if: steps.build.outputs.changed != 'false'\n    run: touch deployed\n  - name: ask\n    prompt: 'dry run: ${{ inputs.dry_run }}'\n",
    );
    let vars = [
        ("TOKENIZERS_PARALLELISM", "false"),
        ("USE_PASSWORD", "true"),
        ("TOKEN_TTL", "3600"),
        ("GH_TOKEN", "ghp_realsecret77"),
    ];
    let out = env.run_with(
        &["workflow", "run", "cd", "--input", "dry_run=false"],
        &vars,
    );
    assert_eq!(out.code, 3, "{}{}", out.stdout, out.stderr);
    assert!(!env.file("deployed").exists(), "the skipped step ran");
    let status = env.status(None);
    assert_eq!(
        status["steps"][0]["outputs"]["changed"], "false",
        "{status}"
    );
    assert_eq!(status["inputs"]["dry_run"], "false", "{status}");
    assert_eq!(status["steps"][2]["prompt"], "dry run: false", "{status}");
    assert!(
        !status.to_string().contains("ghp_realsecret77"),
        "the real secret is scrubbed: {status}"
    );
    // No secret input to give again: the report goes through.
    let out = env.run_with(&["workflow", "step", "complete", "ask"], &vars);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert_nowhere(&env, "ghp_realsecret77");
}

/// Everything `workflow status` (human) says of the latest run.
fn human_status(env: &Env) -> String {
    env.run(&["workflow", "status"]).stdout
}

/// A step writes a token as an output and the next step feeds it into a secret `env:` entry
/// (the reviewer's workflow): the output is secret by that alone. The log, status, exports
/// the run's files and a notification's payload keep `***` for it (its `if:` too); the
/// consuming step is given the value itself.
#[test]
fn an_output_feeding_a_secret_env_entry_is_kept_out_of_the_log_and_given_to_the_next_step() {
    let env = Env::new();
    let token = "ghs_LEAKQ9q8w7e6r5t4";
    // The token comes from outside the definition (which the log keeps as written).
    std::fs::write(env.file("token.txt"), token).unwrap();
    env.workflow(
        "o3",
        "name: o3\nsteps:\n  - name: login\n    run: echo \"tok=$(cat token.txt)\" >> \"$CORTEX_OUTPUT\"\n  - name: push\n    if: steps.login.outputs.tok != ''\n    env: {GH_TOKEN: \"${{ steps.login.outputs.tok }}\"}\n    secret_env: [GH_TOKEN]\n    run: echo \"pushing with $GH_TOKEN\" && test \"$GH_TOKEN\" = \"$(cat token.txt)\" && touch matched\nnotify:\n  on_finish:\n    - run: cat > notified.json\n",
    );
    let out = env.run(&["workflow", "run", "o3"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(env.file("matched").exists(), "push was not given the token");
    assert!(!out.stdout.contains(token), "{}", out.stdout);
    assert_nowhere(&env, token);
    let status = human_status(&env);
    assert!(!status.contains(token), "{status}");
    assert!(status.contains("tok=***"), "{status}");
    let log = events(&env, None);
    let recorded = first(&log, "output_recorded");
    assert_eq!(recorded["body"]["value"], "***", "{recorded}");
    let checked = first(&log, "condition_checked");
    assert_eq!(
        checked["body"]["values"]["steps.login.outputs.tok"], "***",
        "{checked}"
    );
    assert_eq!(checked["body"]["holds"], true, "{checked}");
    // What a notification is given is the status document: `***` too.
    let payload = std::fs::read_to_string(env.file("notified.json")).unwrap();
    assert!(payload.contains("\"tok\":\"***\""), "{payload}");
    assert!(!payload.contains(token), "{payload}");
}

/// An output whose key looks secret (`api_token`) is secret, however a step uses it: the
/// step after it reads it in its command and is given the value, the log keeps `***`.
#[test]
fn a_secret_named_output_written_to_cortex_output_never_reaches_the_log() {
    let token = "tok-0a9b8c7d6e5f";
    let env = with_token(token);
    env.workflow(
        "named",
        "name: named\nsteps:\n  - name: mint\n    run: echo \"api_token=$(cat token.txt)\" >> \"$CORTEX_OUTPUT\"\n  - name: use\n    run: test \"${{ steps.mint.outputs.api_token }}\" = \"$(cat token.txt)\" && touch matched && echo \"got ${{ steps.mint.outputs.api_token }}\"\n",
    );
    let out = env.run(&["workflow", "run", "named"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(env.file("matched").exists(), "use was not given the output");
    assert!(!out.stdout.contains(token), "{}", out.stdout);
    assert!(out.stdout.contains("got ***"), "{}", out.stdout);
    assert_nowhere(&env, token);
    assert!(human_status(&env).contains("api_token=***"));
    let results = std::fs::read_to_string(
        env.home()
            .join("runs")
            .join(env.status(None)["run_id"].as_str().unwrap())
            .join("results.json"),
    )
    .unwrap_or_default();
    assert!(!results.contains(token), "{results}");
}

/// Seen after the secret outputs landed: a step that prints its own secret output before
/// writing it to `$CORTEX_OUTPUT` (`echo "got $TOKEN"`) kept it in clear in its whole-output
/// file (`cortex logs`), written before the value was known to be secret. The file is
/// scrubbed before its event records its size and hash (`log verify` passes), on one line
/// of its own, inside a line of 3 MiB, and as a scenario phase's output.
#[test]
fn a_step_printing_its_own_secret_output_leaves_it_in_no_file() {
    let token = "tok-Pr1nt3dB3f0reKnown";
    let env = with_token(token);
    env.workflow(
        "printer",
        "name: printer\nsteps:\n  - name: mint\n    run: |\n      echo \"minted $(cat token.txt)\"\n      head -c 3145728 /dev/zero | tr '\\0' x; cat token.txt; echo\n      echo \"api_token=$(cat token.txt)\" >> \"$CORTEX_OUTPUT\"\n  - name: use\n    run: test \"${{ steps.mint.outputs.api_token }}\" = \"$(cat token.txt)\" && touch matched\n",
    );
    std::fs::create_dir_all(env.home().join("scenarios")).unwrap();
    std::fs::write(
        env.home().join("scenarios/printed.yaml"),
        "name: printed\ndescription: a phase that prints its secret output\nphases:\n  - name: mint\n    condition: auto\n    run: echo \"minted $(cat token.txt)\" && echo \"api_token=$(cat token.txt)\" >> \"$CORTEX_OUTPUT\"\n",
    )
    .unwrap();
    let out = env.run(&["workflow", "run", "printer"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(env.file("matched").exists(), "use was not given the output");
    let out = env.run(&["orchestrate", "run", "printed"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    // The terminal showed the line as it came (the value was not known yet); every file
    // under the home and every document is scrubbed.
    assert_nowhere(&env, token);
    let run = env.status(None)["run_id"].as_str().unwrap().to_string();
    let logs = env.run(&["logs", &run, "mint"]);
    assert_eq!(logs.code, 0, "{}", logs.stderr);
    assert!(
        logs.stdout.contains("minted ***"),
        "{}",
        &logs.stdout[..200.min(logs.stdout.len())]
    );
    assert!(
        logs.stdout.contains("xxx***\n"),
        "the long line is kept, scrubbed"
    );
    let verify = env.run(&["--json", "log", "verify", "--all"]).json();
    assert_eq!(verify["ok"], true, "{verify}");
    // `mint` and the phase (`use` printed nothing, so it has no file).
    assert_eq!(verify["attempt_logs"], 2, "{verify}");
}

/// A person reports a secret-named output (`step complete --output api_token=...`): the log
/// keeps `***`, the step after it, driven by the same command, is given the value, and a
/// prompt that quotes it shows `***`.
#[test]
fn a_secret_output_reported_by_step_complete_reaches_the_next_step_in_the_same_drive() {
    let token = "reported-4f3e2d1c0b";
    let env = with_token(token);
    env.workflow(
        "rep",
        "name: rep\nsteps:\n  - name: ask\n    prompt: give the token\n  - name: use\n    run: test \"${{ steps.ask.outputs.api_token }}\" = \"$(cat token.txt)\" && touch matched\n  - name: review\n    prompt: 'check with ${{ steps.ask.outputs.api_token }}'\n",
    );
    let out = env.run(&["workflow", "run", "rep"]);
    assert_eq!(out.code, 3, "{}{}", out.stdout, out.stderr);
    let out = env.run(&[
        "workflow",
        "step",
        "complete",
        "ask",
        "--output",
        &format!("api_token={token}"),
    ]);
    assert_eq!(out.code, 3, "{}{}", out.stdout, out.stderr);
    assert!(env.file("matched").exists(), "use was not given the output");
    // A prompt shows `***` for it, to a person and to an agent alike.
    assert!(out.stdout.contains("check with ***"), "{}", out.stdout);
    assert!(!out.stdout.contains(token), "{}", out.stdout);
    assert!(
        env.status(None).to_string().contains("check with ***"),
        "{}",
        env.status(None)
    );
    assert_nowhere(&env, token);
}

/// A scenario phase reported with a secret-named output (`orchestrate complete --output`)
/// keeps it out of the log, and the phase after it is given the value.
#[test]
fn a_secret_output_reported_by_orchestrate_complete_never_reaches_the_log() {
    let env = Env::new();
    std::fs::create_dir_all(env.home().join("scenarios")).unwrap();
    let token = "phase-9z8y7x6w5v";
    std::fs::write(env.file("token.txt"), token).unwrap();
    env.scenario(
        "ship",
        "name: ship\ndescription: d\nphases:\n  - name: ask\n    description: give the token\n  - name: use\n    description: d\n    condition: after:ask\n    run: test \"${{ phases.ask.outputs.api_token }}\" = \"$(cat token.txt)\" && touch matched\n",
    );
    let out = env.run(&["--json", "orchestrate", "run", "ship"]);
    assert_eq!(out.code, 3, "{}{}", out.stdout, out.stderr);
    let run = out.json()["run_id"].as_str().unwrap().to_string();
    let out = env.run(&[
        "orchestrate",
        "complete",
        &run,
        "ask",
        "--output",
        &format!("api_token={token}"),
    ]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(env.file("matched").exists(), "use was not given the output");
    let found = files_holding(&env.home(), token);
    assert!(found.is_empty(), "the secret is stored in {found:?}");
    for args in [
        vec!["--json", "orchestrate", "status", run.as_str()],
        vec!["log", "export"],
        vec!["log", "show"],
    ] {
        let out = env.run(&args);
        assert!(!out.stdout.contains(token), "{args:?}:\n{}", out.stdout);
    }
}

/// A secret output is held only by the process that recorded it: a step that needs it,
/// driven by another process (a report on a prompt step in between), never runs with `***`.
/// Its attempt fails at once, no retry spent, saying which output and how to have it again.
#[test]
fn a_secret_output_another_process_recorded_is_refused_not_used_as_stars() {
    let token = "ghs_OTHERPROC1234";
    let env = with_token(token);
    env.workflow(
        "split",
        "name: split\nsteps:\n  - name: login\n    run: echo \"tok=$(cat token.txt)\" >> \"$CORTEX_OUTPUT\"\n  - name: wait\n    prompt: look first\n  - name: push\n    retry: {max_retry_attempts: 2}\n    env: {GH_TOKEN: \"${{ steps.login.outputs.tok }}\"}\n    secret_env: [GH_TOKEN]\n    run: echo \"$GH_TOKEN\" > got\n",
    );
    let out = env.run(&["workflow", "run", "split"]);
    assert_eq!(out.code, 3, "{}{}", out.stdout, out.stderr);
    let run = env.status(None)["run_id"].as_str().unwrap().to_string();
    let out = env.run(&["workflow", "step", "complete", "wait"]);
    assert_ne!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(!env.file("got").exists(), "push ran without the token");
    let said = format!("{}{}", out.stdout, out.stderr);
    let status = env.status(None);
    let push = status["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "push")
        .unwrap()
        .clone();
    assert_eq!(push["attempts"], 1, "no retry is spent on it: {push}");
    let error = push.to_string();
    // Across the wait, `--from login` would wait and fail again: it is not offered.
    assert!(
        !error.contains(&format!("resume {run} --from login")),
        "{error}"
    );
    for needed in [
        "steps.login.outputs.tok",
        "running `login` again would not help: `wait` waits for a report after it",
        "given as a secret input or in the environment",
    ] {
        assert!(
            error.contains(needed) || said.contains(needed),
            "`{needed}` not said:\n{said}\n{push}"
        );
    }
    assert_nowhere(&env, token);
}

/// The items of a `foreach:` step write a secret output: each item's value and the step's list
/// of them are kept out of the log, and a later step reading the list is given the values.
#[test]
fn secret_outputs_of_foreach_items_and_their_list_never_reach_the_log() {
    let token = "item-tok-7h6g5f4e";
    let env = with_token(token);
    env.workflow(
        "fan",
        "name: fan\nsteps:\n  - name: build\n    foreach: [a, b]\n    run: echo \"api_token=$(cat token.txt)-${{ item }}\" >> \"$CORTEX_OUTPUT\"\n  - name: use\n    env: {LIST: \"${{ steps.build.outputs.api_token }}\", ONE: \"${{ steps.build[1].outputs.api_token }}\"}\n    run: T=$(cat token.txt) && test \"$LIST\" = \"[\\\"$T-a\\\",\\\"$T-b\\\"]\" && test \"$ONE\" = \"$T-b\" && touch matched\n",
    );
    let out = env.run(&["workflow", "run", "fan"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(env.file("matched").exists(), "use was not given the values");
    assert_nowhere(&env, token);
    let recorded: Vec<serde_json::Value> = events(&env, None)
        .into_iter()
        .filter(|e| e["type"] == "output_recorded")
        .map(|e| e["body"]["value"].clone())
        .collect();
    assert_eq!(recorded, ["***", "***", "***"], "{recorded:?}");
}

/// A child run's secret output (secret in the child: it feeds a secret `env:` entry there)
/// comes back to its `uses:` step as a secret output of the parent too, whatever the
/// parent's definition says of it: `***` in both logs, its value given to the parent's later
/// steps.
#[test]
fn a_secret_output_of_a_child_run_stays_secret_in_its_parent() {
    let token = "ghs_CHILDTOK5566";
    let env = with_token(token);
    env.workflow(
        "kid",
        "name: kid\nsteps:\n  - name: login\n    run: echo \"tok=$(cat token.txt)\" >> \"$CORTEX_OUTPUT\"\n  - name: push\n    env: {GH_TOKEN: \"${{ steps.login.outputs.tok }}\"}\n    run: test \"$GH_TOKEN\" = \"$(cat token.txt)\"\n",
    );
    env.workflow(
        "mom",
        "name: mom\nsteps:\n  - {name: get, uses: kid}\n  - name: use\n    run: test \"${{ steps.get.outputs.tok }}\" = \"$(cat token.txt)\" && touch matched && echo \"saw ${{ steps.get.outputs.tok }}\"\n",
    );
    let out = env.run(&["workflow", "run", "mom"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(env.file("matched").exists(), "use was not given the value");
    assert!(out.stdout.contains("saw ***"), "{}", out.stdout);
    assert_nowhere(&env, token);
}

/// Seen by a review: a child run whose output its parent feeds to a secret `env:` entry kept
/// it in clear in the child's own log (the "reusable login workflow" pattern): the parent hid
/// `tok`, the child's `output_recorded`, status and results.json showed it. An output the
/// parent uses as a secret is secret in the child too.
#[test]
fn an_output_a_parent_uses_as_a_secret_is_kept_out_of_the_childs_log() {
    let token = "ghpCHILDleak9999x";
    let env = with_token(token);
    env.workflow(
        "login",
        "name: login\nsteps:\n  - name: get\n    run: echo \"tok=$(cat token.txt)\" >> \"$CORTEX_OUTPUT\"\n",
    );
    env.workflow(
        "parent",
        "name: parent\nsteps:\n  - {name: sub, uses: login}\n  - name: push\n    env: {GH_TOKEN: \"${{ steps.sub.outputs.tok }}\"}\n    run: test \"$GH_TOKEN\" = \"$(cat token.txt)\" && touch matched\n",
    );
    let out = env.run(&["workflow", "run", "parent"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(env.file("matched").exists(), "push was not given the value");
    assert_nowhere(&env, token);
    let child = env.run(&["workflow", "status", "login"]);
    assert!(!child.stdout.contains(token), "{}", child.stdout);
}

/// Seen by a review: a value that holds a secret (`user=admin` beside a secret output
/// `password=admin`) was scrubbed in place: the `if:` reading it was false, a step was
/// skipped and others ran with `***`. Such an output is held as a secret, as an input holding
/// one is: the run uses its value, the log keeps `***`.
#[test]
fn an_output_holding_a_secret_is_held_as_one_not_run_as_stars() {
    let env = Env::new();
    env.workflow(
        "admin",
        "name: admin\nsteps:\n  - name: login\n    run: echo \"password=$(cat pw.txt)\" >> \"$CORTEX_OUTPUT\"\n  - name: whoami\n    run: echo \"user=$(cat pw.txt)\" >> \"$CORTEX_OUTPUT\"\n  - name: grant\n    if: steps.whoami.outputs.user != ''\n    run: printf '%s' \"${{ steps.whoami.outputs.user }}\" > user.txt\n",
    );
    let secret = "adm1n-pass-77";
    std::fs::write(env.file("pw.txt"), secret).unwrap();
    let out = env.run(&["workflow", "run", "admin"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert_eq!(
        std::fs::read_to_string(env.file("user.txt")).unwrap(),
        secret,
        "the step was given `***`"
    );
    assert_nowhere(&env, secret);
}

/// Seen by a review: `step complete --output api_token=… --no-drive` took the secret and
/// dropped it as the process ended, and its "Next:" resume was certain to fail. The report
/// says so, and how to make it so that the value is used.
#[test]
fn a_secret_output_reported_with_no_drive_says_it_is_not_kept() {
    let env = Env::new();
    env.workflow(
        "nd",
        "name: nd\nsteps:\n  - name: ask\n    prompt: give the token\n  - name: use\n    run: test -n \"${{ steps.ask.outputs.api_token }}\"\n",
    );
    assert_eq!(env.run(&["workflow", "run", "nd"]).code, 3);
    let out = env.run(&[
        "workflow",
        "step",
        "complete",
        "ask",
        "--output",
        "api_token=nd-tok-0987654",
        "--no-drive",
    ]);
    assert!(
        out.stderr.contains("held by this process only")
            && out.stderr.contains("without --no-drive"),
        "{}{}",
        out.stdout,
        out.stderr
    );
    assert_nowhere(&env, "nd-tok-0987654");
}

/// Seen by a review: a child given a parent's secret output through `with:`, resumed in
/// another process with the value given again, completed; then the parent failed its `uses:`
/// step "attempt 1 could not start" (the `with:` value is not held here) and dropped the
/// child's outputs. A child that has begun has its inputs: the parent goes on with it.
#[test]
fn a_begun_child_given_a_secret_output_is_gone_on_with_after_another_process_resumed_it() {
    let env = Env::new();
    let secret = "cred-pw-5566aa";
    std::fs::write(env.file("pw.txt"), secret).unwrap();
    env.workflow(
        "kid",
        "name: kid\ninputs:\n  cred: {type: string}\nsteps:\n  - name: wait\n    prompt: go on?\n  - name: use\n    run: test \"${{ inputs.cred }}\" = \"$(cat pw.txt)\" && echo \"done=yes\" >> \"$CORTEX_OUTPUT\"\n",
    );
    env.workflow(
        "top",
        "name: top\nsteps:\n  - name: login\n    run: echo \"password=$(cat pw.txt)\" >> \"$CORTEX_OUTPUT\"\n  - name: sub\n    uses: kid\n    with: {cred: \"${{ steps.login.outputs.password }}\"}\n  - name: after\n    run: test \"${{ steps.sub.outputs.done }}\" = yes && touch after.ok\n",
    );
    assert_eq!(env.run(&["workflow", "run", "top"]).code, 3);
    let kid = env.status(Some("kid"))["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    env.run(&["workflow", "step", "complete", "wait", "--run", &kid]);
    let resumed = env.run(&[
        "workflow",
        "resume",
        &kid,
        "--input",
        &format!("cred={secret}"),
    ]);
    assert_eq!(resumed.code, 0, "{}{}", resumed.stdout, resumed.stderr);
    assert_eq!(env.status(Some("kid"))["status"], "completed");
    let top = env.status(Some("top"));
    assert_eq!(top["status"], "completed", "{top}");
    assert!(
        env.file("after.ok").exists(),
        "the child's output did not reach `after`"
    );
    assert_nowhere(&env, secret);
}

/// A `foreach:` list read from a secret output would be recorded item by item (and each
/// unit given its own): the run is refused saying so, and no item is recorded or run.
#[test]
fn a_foreach_list_read_from_a_secret_output_is_refused() {
    let token = "list-tok-3c2b1a0z";
    let env = with_token(token);
    env.workflow(
        "over",
        "name: over\nsteps:\n  - name: mint\n    run: echo \"api_tokens=[\\\"$(cat token.txt)\\\"]\" >> \"$CORTEX_OUTPUT\"\n  - name: each\n    foreach: '${{ steps.mint.outputs.api_tokens }}'\n    run: echo \"${{ item }}\" > got\n",
    );
    // Refused before anything runs (`validate`, located at the `foreach:`); the step's own
    // guard refuses what only the run knows (an output secret by its value).
    let out = env.run(&["workflow", "run", "over"]);
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    assert!(
        format!("{}{}", out.stdout, out.stderr)
            .contains("`${{ steps.mint.outputs.api_tokens }}` is a secret output"),
        "{}{}",
        out.stdout,
        out.stderr
    );
    assert!(!env.file("got").exists());
    assert_nowhere(&env, token);
}

/// `cortex serve` records a report in its own process and hands the run to a background
/// driver: the secret output the report gave is handed to that driver with the run
/// (`CORTEX_SECRET_OUTPUTS`, never given to the steps), so the step after it is given the
/// value, and the log keeps `***`.
#[test]
fn a_secret_output_reported_through_the_server_reaches_the_driver_it_starts() {
    let token = "served-8u7y6t5r4e";
    let env = with_token(token);
    env.workflow(
        "rep",
        "name: rep\nsteps:\n  - name: ask\n    prompt: give the token\n  - name: use\n    run: test \"${{ steps.ask.outputs.api_token }}\" = \"$(cat token.txt)\" && touch matched && env > seen.env\n",
    );
    let s = server::Server::start(&env);
    let r = s.post("/api/v1/workflows/rep/runs", "{}");
    assert_eq!(r.status, 202, "{}", r.body);
    let run = r.json()["run_id"].as_str().unwrap().to_string();
    server::eventually(60, "the run to wait on `ask`", || {
        let status = s.get(&format!("/api/v1/runs/{run}")).json();
        (status["status"] == "waiting").then_some(())
    });
    let r = s.post(
        &format!("/api/v1/runs/{run}/steps/ask/complete"),
        &format!(r#"{{"outputs": {{"api_token": "{token}"}}}}"#),
    );
    assert!(r.status == 200 || r.status == 202, "{}", r.body);
    let done = server::eventually(60, "the run to end", || {
        let status = s.get(&format!("/api/v1/runs/{run}")).json();
        (status["status"] != "running" && status["status"] != "waiting").then_some(status)
    });
    assert_eq!(done["status"], "completed", "{done}");
    assert!(env.file("matched").exists(), "use was not given the output");
    let seen = std::fs::read_to_string(env.file("seen.env")).unwrap();
    assert!(
        !seen.contains("CORTEX_SECRET_OUTPUTS"),
        "a step was given the handover: {seen}"
    );
    std::fs::remove_file(env.file("seen.env")).unwrap();
    assert_nowhere(&env, token);
}

/// Seen by a review: a workflow whose command step reads a secret output recorded before a
/// prompt step validated as fine, though from the command line that step fails every time
/// (the value is held only by the process that recorded it; the prompt's report is another).
/// `validate` says so, naming both steps and what to do instead; a reading step with no wait
/// between is not warned about.
#[test]
fn validate_warns_of_a_secret_output_read_across_a_wait_for_a_report() {
    let env = Env::new();
    env.workflow(
        "across",
        "name: across\nsteps:\n  - {name: login, prompt: report api_token}\n  - {name: use, prompt: go on}\n  - name: cmd\n    run: echo \"${#TOK}\"\n    env: {TOK: \"${{ steps.login.outputs.api_token }}\"}\n",
    );
    env.workflow(
        "next-door",
        "name: next-door\nsteps:\n  - {name: login, prompt: report api_token}\n  - name: cmd\n    run: echo \"${#TOK}\"\n    env: {TOK: \"${{ steps.login.outputs.api_token }}\"}\n",
    );
    let doc = env.run(&["--json", "workflow", "validate", "across"]);
    assert_eq!(doc.code, 0, "a warning, not an error: {}", doc.stderr);
    let warnings = doc.json()["warnings"].clone();
    let said = warnings[0].as_str().unwrap_or_default();
    assert!(
        said.contains("`cmd` reads the secret output `steps.login.outputs.api_token`")
            && said.contains("`use` waits for a report")
            && said.contains("secret input"),
        "{warnings}"
    );
    let human = env.run(&["workflow", "validate", "across"]);
    assert!(
        human.stderr.contains("warning: step `cmd`"),
        "{}",
        human.stderr
    );
    let fine = env
        .run(&["--json", "workflow", "validate", "next-door"])
        .json();
    assert_eq!(fine["warnings"], serde_json::json!([]), "{fine}");
}

/// Seen by a review: a step that failed reading a secret output was offered `resume --retry`
/// first, which fails every time from another process (the value is held only by the process
/// that recorded it). `next` offers to run the step that records it again (`--from`), and
/// that suggestion, run as given, completes the run; across a wait for a report it offers
/// no resume that cannot work.
#[test]
fn a_step_failing_on_a_secret_output_is_offered_the_resume_that_can_give_it() {
    let token = "tok-Ret4yC4nn0tG1ve";
    let env = with_token(token);
    env.workflow(
        "again",
        "name: again\nsteps:\n  - name: mint\n    run: echo \"api_token=$(cat token.txt)\" >> \"$CORTEX_OUTPUT\"\n  - name: cmd\n    run: test -f ok && test \"$TOK\" = \"$(cat token.txt)\"\n    env: {TOK: \"${{ steps.mint.outputs.api_token }}\"}\n    retry: {max_retry_attempts: 0}\n",
    );
    assert_eq!(env.run(&["workflow", "run", "again"]).code, 1);
    let status = env.status(None);
    let argvs = next_argvs(&status["next"]);
    assert!(
        !argvs.iter().any(|a| a.iter().any(|w| w == "--retry")),
        "{argvs:?}"
    );
    let first = &argvs[0];
    assert_eq!(&first[first.len() - 2..], ["--from", "mint"], "{argvs:?}");
    std::fs::write(env.file("ok"), "").unwrap();
    let args: Vec<&str> = first[1..].iter().map(String::as_str).collect();
    let out = env.run(&args);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert_nowhere(&env, token);

    env.workflow(
        "waits",
        "name: waits\nsteps:\n  - {name: login, prompt: report api_token}\n  - {name: use, prompt: go on}\n  - name: cmd\n    run: echo \"${#TOK}\"\n    env: {TOK: \"${{ steps.login.outputs.api_token }}\"}\n",
    );
    assert_eq!(env.run(&["workflow", "run", "waits"]).code, 3);
    let reported = env.run(&[
        "workflow",
        "step",
        "complete",
        "login",
        "--output",
        &format!("api_token={token}"),
    ]);
    assert_eq!(reported.code, 3, "{}", reported.stderr);
    assert_eq!(env.run(&["workflow", "step", "complete", "use"]).code, 1);
    let status = env.status(None);
    let said = status["next"].to_string();
    assert!(
        !said.contains("--retry") && !said.contains("--from"),
        "{said}"
    );
    assert!(said.contains("\"abort\""), "{said}");
}

/// Seen by a review: a step reading a report's output (held by the process that drove on
/// from the report) and a secret output recorded before the report was offered `resume --from`
/// the report first, and `--rollback-to` the step that records the secret: neither brings
/// that secret back (the report is another process again), and the run failed the same way.
/// Every output the step reads counts: the first failure offers only what works, an abort and
/// a skip worded as giving up the step's work, in that order (a new run only once the
/// definition changed: the same one fails the same way), and the skip, run as given, ends the
/// run.
#[test]
fn a_secret_output_lost_across_a_prompt_is_offered_nothing_that_fails_the_same_way() {
    let token = "tok-L00pOnceF0rN0thing";
    let env = Env::new();
    env.workflow(
        "across",
        "name: across\ninputs:\n  api_token: {type: string, required: true}\nsteps:\n  - name: mint\n    run: echo \"i=${{ inputs.api_token }}\" >> \"$CORTEX_OUTPUT\"\n  - {name: Review, prompt: review}\n  - name: After\n    run: echo \"after ${{ steps.Review.outputs.leaked }} ${{ steps.mint.outputs.i }}\"\n",
    );
    let input = format!("api_token={token}");
    assert_eq!(
        env.run(&["workflow", "run", "across", "--input", &input])
            .code,
        3
    );
    let secret = "pw-Rep0rtedS3cret";
    let out = env.run_with(
        &[
            "workflow",
            "step",
            "complete",
            "Review",
            "--output",
            &format!("leaked={secret}"),
        ],
        &[("CORTEX_INPUT_API_TOKEN", token), ("DB_PASSWORD", secret)],
    );
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    let recovery = out.stdout[out.stdout.find("Recovery options:").unwrap()..].to_string();
    insta::assert_snapshot!(
        "secret_output_lost_across_a_prompt_recovery",
        common::redact(&recovery, &env)
    );
    let status = env.status(None);
    let argvs = next_argvs(&status["next"]);
    for futile in ["--from", "--retry", "--rollback-to"] {
        assert!(
            !argvs.iter().any(|a| a.iter().any(|w| w == futile)),
            "{futile}: {argvs:?}"
        );
    }
    assert!(!argvs.iter().any(|a| a[2] == "run"), "{argvs:?}");
    assert_eq!(argvs[0][2], "abort", "{argvs:?}");
    assert!(argvs[1].iter().any(|w| w == "--skip"), "{argvs:?}");
    let skip = argvs
        .iter()
        .find(|a| a.iter().any(|w| w == "--skip"))
        .expect("a skip");
    let args: Vec<&str> = skip[1..]
        .iter()
        .map(String::as_str)
        .filter(|w| !w.starts_with("api_token="))
        .filter(|w| *w != "--input")
        .collect();
    let out = env.run_with(&args, &[("CORTEX_INPUT_API_TOKEN", token)]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert_nowhere(&env, token);
}

/// Review m, finding 5: a step reading a secret output across a wait for a report (`Login`
/// writes it, `Review` waits, `Use` reads it) fails from the command line, and its only
/// suggestions were `resume --skip` (first) and `abort`: an agent running `next[0]` finished
/// the run `completed` with `Use` never run. The first suggestion no longer hides the work:
/// `abort`, saying how the work gets done (a new run that gives the secret as an input, or one
/// process driving the run); the skip comes after it, worded as giving up the step's work; and
/// once the definition is changed, a new run of it comes first.
#[test]
fn a_secret_output_read_across_a_report_is_not_offered_a_skip_first() {
    let env = Env::new();
    env.workflow(
        "sec",
        "name: sec\nsteps:\n  - {name: Login, run: 'echo \"api_token=tok-$(date +%s%N)-secretvalue\" >> \"$CORTEX_OUTPUT\"'}\n  - {name: Review, prompt: Approve the deploy}\n  - {name: Use, run: 'test -n \"$T\" && echo used', env: {T: \"${{ steps.Login.outputs.api_token }}\"}}\n",
    );
    assert_eq!(env.run(&["workflow", "run", "sec"]).code, 3);
    let out = env.run(&["workflow", "step", "complete", "Review"]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    let status = env.status(None);
    let next = status["next"].as_array().unwrap().clone();
    assert_eq!(next[0]["argv"][2], "abort", "{next:#?}");
    let why = next[0]["why"].as_str().unwrap();
    assert!(
        why.contains("no resume does its work") && why.contains("secret input"),
        "{why}"
    );
    let skip = next
        .iter()
        .position(|s| s["argv"].as_array().unwrap().iter().any(|w| w == "--skip"))
        .expect("a skip");
    assert!(skip > 0);
    assert!(
        next[skip]["why"]
            .as_str()
            .unwrap()
            .starts_with("only to give up `Use`'s work"),
        "{next:#?}"
    );
    // An agent that runs the first suggestion does not end the run `completed`.
    let first: Vec<String> = common::next_argvs(&status["next"])[0][1..].to_vec();
    let args: Vec<&str> = first.iter().map(String::as_str).collect();
    assert_eq!(env.run(&args).code, 1);
    assert_eq!(env.status(None)["status"], "aborted");
}

/// Once the definition of a run that failed on a secret output across a report is changed
/// (and still validates), a new run of it is the first suggestion: the way that does the work.
#[test]
fn a_changed_definition_puts_a_new_run_first_for_a_secret_across_a_report() {
    let env = Env::new();
    env.workflow(
        "sec",
        "name: sec\nsteps:\n  - {name: Login, run: 'echo \"api_token=tok-abcdef123456\" >> \"$CORTEX_OUTPUT\"'}\n  - {name: Review, prompt: Approve the deploy}\n  - {name: Use, run: 'test -n \"$T\" && echo used', env: {T: \"${{ steps.Login.outputs.api_token }}\"}}\n",
    );
    assert_eq!(env.run(&["workflow", "run", "sec"]).code, 3);
    assert_eq!(env.run(&["workflow", "step", "complete", "Review"]).code, 1);
    let path = env.home().join("workflows/sec.yaml");
    let yaml = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, yaml.replace("Approve the deploy", "Approve it")).unwrap();
    let next = common::next_argvs(&env.status(None)["next"]);
    assert_eq!(next[0][2], "run", "{next:?}");
    assert_eq!(next[1][2], "abort", "{next:?}");
}

const KIDWAIT: &str = "name: kidwait\nsteps:\n  - {name: login, run: 'echo \"api_token=tok-abcdef123456\" >> \"$CORTEX_OUTPUT\"'}\n  - {name: review, prompt: ok?}\n";

/// Seen by a review: `validate` warned of a secret output read across a wait for a report by
/// `run:`, `env:` or `with:`, but not by an `if:` (an expression) or a `validate: - run:`
/// gate, which fail the same way every time. Every text a step reads a value in is walked.
#[test]
fn validate_warns_of_a_secret_output_read_by_an_if_or_a_gate_across_a_wait() {
    let env = Env::new();
    env.workflow("kidwait", KIDWAIT);
    env.workflow(
        "p5",
        "name: p5\nsteps:\n  - {name: call, uses: kidwait}\n  - {name: cond, if: \"steps.call.outputs.api_token == 'x'\", run: 'true'}\n",
    );
    env.workflow(
        "p9",
        "name: p9\nsteps:\n  - {name: call, uses: kidwait}\n  - name: use\n    run: 'echo ran >> ran.txt'\n    validate: [{run: 'test \"${{ steps.call.outputs.api_token }}\" = tok-abcdef123456'}]\n",
    );
    env.workflow(
        "plain",
        "name: plain\nsteps:\n  - {name: login, run: 'echo \"api_token=tok-abcdef123456\" >> \"$CORTEX_OUTPUT\"'}\n  - {name: review, prompt: ok?}\n  - {name: cond, if: \"steps.login.outputs.api_token == 'x'\", run: 'true'}\n",
    );
    for (name, step, wait) in [
        ("p5", "cond", "`kidwait/review`"),
        ("p9", "use", "`kidwait/review`"),
        ("plain", "cond", "`review` waits for a report"),
    ] {
        let doc = env.run(&["--json", "workflow", "validate", name]);
        assert_eq!(doc.code, 0, "{name}: {}", doc.stderr);
        let warnings = doc.json()["warnings"].clone();
        let said = warnings[0].as_str().unwrap_or_default();
        assert!(
            said.contains(&format!("step `{step}` reads the secret output")) && said.contains(wait),
            "{name}: {warnings}"
        );
    }
}

/// Seen by a review: a step whose `validate: - run:` gate reads a secret output the process
/// does not hold ran its command once per attempt (4 times by default) before the gate failed
/// each time, and the failure offered `resume --retry`, which fails the same way. It now
/// fails before its command runs, once, and `--retry` is not offered.
#[test]
fn a_gate_needing_an_unheld_secret_output_fails_before_its_command_runs() {
    let env = Env::new();
    env.workflow("kidwait", KIDWAIT);
    env.workflow(
        "p9",
        "name: p9\nsteps:\n  - {name: call, uses: kidwait}\n  - name: use\n    run: 'echo ran >> ran.txt'\n    validate: [{run: 'test \"${{ steps.call.outputs.api_token }}\" = tok-abcdef123456'}]\n",
    );
    assert_eq!(env.run(&["workflow", "run", "p9"]).code, 3);
    let out = env.run(&["workflow", "step", "complete", "review", "--run", "kidwait"]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("is not kept") || out.stderr.contains("is not kept"),
        "{}{}",
        out.stdout,
        out.stderr
    );
    assert!(!env.file("ran.txt").exists(), "the command ran");
    let said = format!("{}{}", out.stdout, out.stderr);
    assert!(!said.contains("--retry"), "{said}");
    let status = env.status(None);
    let next: String = status["next"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["argv"].to_string())
        .collect();
    assert!(!next.contains("--retry"), "{next}");
}

/// Seen by a review: a step whose `if:` needs a secret output across a wait failed (as it
/// must) but was offered `resume --retry`, which cannot decide it either.
#[test]
fn an_if_needing_an_unheld_secret_output_is_offered_no_retry() {
    let env = Env::new();
    env.workflow("kidwait", KIDWAIT);
    env.workflow(
        "p5",
        "name: p5\nsteps:\n  - {name: call, uses: kidwait}\n  - {name: cond, if: \"steps.call.outputs.api_token == 'x'\", run: 'true'}\n",
    );
    assert_eq!(env.run(&["workflow", "run", "p5"]).code, 3);
    let out = env.run(&["workflow", "step", "complete", "review", "--run", "kidwait"]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    let said = format!("{}{}", out.stdout, out.stderr);
    assert!(
        said.contains("cannot be decided") && !said.contains("--retry"),
        "{said}"
    );
    let next = env.status(None)["next"].to_string();
    assert!(!next.contains("--retry"), "{next}");
}

/// Seen by a review: with a prompt step after the reader, the "secret output is not kept"
/// error blamed that later step (`p` waits for a report after it) instead of the wait between
/// the producer and the reader: the child's own `kidwait/review`.
#[test]
fn the_unheld_secret_output_error_names_the_wait_between_producer_and_reader() {
    let env = Env::new();
    env.workflow("kidwait", KIDWAIT);
    env.workflow(
        "p4",
        "name: p4\nsteps:\n  - {name: call, uses: kidwait}\n  - {name: cond, if: \"steps.call.outputs.api_token == 'x'\", run: 'true'}\n  - {name: p, prompt: later}\n",
    );
    assert_eq!(env.run(&["workflow", "run", "p4"]).code, 3);
    let out = env.run(&["workflow", "step", "complete", "review", "--run", "kidwait"]);
    let said = format!("{}{}", out.stdout, out.stderr);
    assert!(
        said.contains("its child run waits for a report (`kidwait/review`)")
            && !said.contains("`p` waits for a report"),
        "{said}"
    );
}

/// Seen by a review: a `foreach:` over a secret input is refused at validate inside one
/// workflow, but a parent's secret input given through `with:` to an input its child loops
/// over passed, and the run failed in the child (offered a futile `--retry`). `validate`
/// refuses it, located at the `with:` entry, and so does `run` before anything starts.
#[test]
fn a_secret_given_with_with_to_a_childs_foreach_is_refused_at_validate() {
    let env = Env::new();
    env.workflow(
        "fkid",
        "name: fkid\ninputs: {lst: {type: string, default: '[\"a\",\"b\"]'}}\nsteps:\n  - {name: each, foreach: \"${{ inputs.lst }}\", run: 'echo ${{ item }}'}\n",
    );
    env.workflow(
        "f3",
        "name: f3\ninputs: {api_token: {type: string}}\nsteps:\n  - name: call\n    uses: fkid\n    with: {lst: \"${{ inputs.api_token }}\"}\n",
    );
    env.workflow(
        "plainlist",
        "name: plainlist\ninputs: {regions: {type: string}}\nsteps:\n  - name: call\n    uses: fkid\n    with: {lst: \"${{ inputs.regions }}\"}\n",
    );
    let out = env.run(&["--json", "workflow", "validate", "f3"]);
    assert_eq!(out.code, 2, "{}", out.text());
    out.assert_error_on_line("`with:` gives `lst` a secret input", 6);
    let run = env.run(&[
        "workflow",
        "run",
        "f3",
        "--input",
        "api_token=[\"x\",\"y\"]",
    ]);
    assert_eq!(run.code, 2, "{}", run.text());
    assert!(!run.text().contains("--retry"), "{}", run.text());
    let fine = env.run(&["--json", "workflow", "validate", "plainlist"]);
    assert_eq!(fine.code, 0, "{}", fine.text());
}

/// Seen by a review: a secret reaching a `foreach:` through `with:` fails in the child every
/// time, yet the runs were offered `resume --retry --input NAME=VALUE`, which fails the same
/// way. Given down a chain (parent → middle → child that loops), which `validate` of the
/// parent does not see, no run of the chain is offered `--retry`.
#[test]
fn a_secret_reaching_a_foreach_through_with_is_offered_no_retry() {
    let env = Env::new();
    env.workflow(
        "fkid",
        "name: fkid\ninputs: {lst: {type: string, default: '[\"a\",\"b\"]'}}\nsteps:\n  - {name: each, foreach: \"${{ inputs.lst }}\", run: 'echo ${{ item }}'}\n",
    );
    env.workflow(
        "fmid",
        "name: fmid\ninputs: {lst: {type: string}}\nsteps:\n  - {name: inner, uses: fkid, with: {lst: \"${{ inputs.lst }}\"}}\n",
    );
    env.workflow(
        "f4",
        "name: f4\ninputs: {api_token: {type: string}}\nsteps:\n  - {name: call, uses: fmid, with: {lst: \"${{ inputs.api_token }}\"}}\n",
    );
    let run = env.run(&[
        "workflow",
        "run",
        "f4",
        "--input",
        "api_token=[\"x\",\"y\"]",
    ]);
    assert_eq!(run.code, 1, "{}", run.text());
    assert!(
        run.text().contains("cannot be read from a secret"),
        "{}",
        run.text()
    );
    assert!(!run.text().contains("--retry"), "{}", run.text());
    for name in ["f4", "fmid", "fkid"] {
        let next = env.status(Some(name))["next"].to_string();
        assert!(!next.contains("--retry"), "{name}: {next}");
        assert!(next.contains("\"abort\""), "{name}: {next}");
    }
}

/// Seen by a review: `cortex worker --name "w-$SVC_TOKEN"` put the token in the lock files
/// and lease holders of the runs it drove (a shared database), the "held by" error other
/// users got, and its own output, while the log scrubbed it. A worker's name is the identity
/// its leases are kept under (two names that differ only in their secrets would be one once
/// scrubbed): one holding a secret is refused, exit 2, without quoting it, before anything.
#[test]
fn a_worker_name_holding_a_secret_is_refused_without_quoting_it() {
    let env = Env::new();
    let secret = "tok-ABCDEF-123456";
    env.workflow(
        "short",
        "name: short\nsteps:\n  - {name: s, run: 'echo hi'}\n",
    );
    assert_eq!(
        env.run(&["workflow", "run", "short", "--submit"]).code,
        0,
        "submitted for workers"
    );
    let out = env
        .command(&[
            "worker",
            "--name",
            &format!("w-{secret}"),
            "--until-idle",
            "--no-schedule",
        ])
        .env("SVC_TOKEN", secret)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(
        text.contains("--name holds the value of a secret") && !text.contains(secret),
        "{text}"
    );
    let locks: Vec<String> = std::fs::read_dir(env.home().join("locks"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
        .collect();
    assert!(locks.iter().all(|l| !l.contains(secret)), "{locks:?}");
    let status = env.status(None);
    assert_eq!(
        status["status"], "waiting",
        "the run was not taken: {status}"
    );
    // Without the secret in it, the same worker drives the run.
    let out = env
        .command(&["worker", "--name", "w-1", "--until-idle", "--no-schedule"])
        .env("SVC_TOKEN", secret)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(env.status(None)["status"], "completed");
}

/// A secret assigned a value written out in a shell command — `GITHUB_TOKEN=ghp_… sh -c …` in
/// a `run:`, `export NPM_TOKEN='…'`, in a rollback, a check, an `if: {run:}`, a notification,
/// a scenario's phase, an agent file's `command:` — is refused where it stands, as a secret
/// `env:` entry written out is. Before, `validate` said OK, and the value was in the
/// definition's snapshot in the log (served on the run's page, its log and `/logs`) and
/// printed unredacted. A value from elsewhere (`"$OTHER"`, `${{ inputs.x }}`) or an empty one
/// stays accepted, and such a run runs.
#[test]
fn a_secret_assigned_in_a_shell_command_is_refused_where_it_stands() {
    let env = Env::new();
    env.workflow(
        "inline",
        "name: inline
inputs:
  gh_token: {type: string, required: false}
steps:
  - name: a
    run: \"GITHUB_TOKEN=ghp_abcdefghijklmnopqrstuvwxyz0123456789 sh -c 'echo tok=$GITHUB_TOKEN'\"
  - name: b
    run: |
      set -e
      export NPM_TOKEN='litNpm98765'
    rollback: cd /tmp && DB_PASSWORD=litPass98765 undo
    validate:
      - run: API_KEY=litKey98765 check
  - name: c
    if:
      run: true; SECRET=\"litSecret98765\" test -f x
    run: echo c
notify:
  on_failure:
    - run: SLACK_TOKEN=litSlack98765 notify-send
",
    );
    let out = env.run(&["--json", "workflow", "validate", "inline"]);
    assert_eq!(out.code, 2, "{}", out.text());
    let errors = out.located_errors();
    let expected = [
        ("GITHUB_TOKEN", 6, 11),
        ("NPM_TOKEN", 10, 14),
        ("DB_PASSWORD", 11, 26),
        ("API_KEY", 13, 14),
        ("SECRET", 16, 18),
        ("SLACK_TOKEN", 20, 12),
    ];
    assert_eq!(errors.len(), expected.len(), "{errors:?}");
    for ((message, line, column), (name, l, c)) in errors.iter().zip(expected) {
        assert!(
            message.starts_with(&format!(
                "`{name}` is a secret, and its value is written out in the command"
            )) && message.contains("kept in the run's log"),
            "{message}"
        );
        assert_eq!((*line, *column), (l, c), "{name}: {errors:?}");
    }
    let hints = out.json()["errors"][0]["hint"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(hints.contains("${{ inputs.github_token }}"), "{hints}");
    // Its run is refused as well, nothing recorded.
    let out = env.run(&["workflow", "run", "inline"]);
    assert_eq!(out.code, 2, "{}", out.text());
    assert!(!env.db().exists() || env.log_holding("ghp_abcdef").is_empty());
    env.scenario(
        "inline-sc",
        "name: inline-sc\ndescription: d\nphases:\n  - name: a\n    description: d\n    run: PGPASSWORD=litPg98765 psql -c 'select 1'\n",
    );
    let out = env.run(&["--json", "orchestrate", "validate", "inline-sc"]);
    assert_eq!(out.code, 2, "{}", out.text());
    out.assert_error_on_line("`PGPASSWORD` is a secret", 6);
    // An agent's command: the run keeps it in its log too.
    let agents = env.home().join("agents");
    std::fs::create_dir_all(&agents).unwrap();
    std::fs::write(
        agents.join("helper.md"),
        "---\nname: helper\ndescription: Helps\ncommand: OPENAI_API_KEY=sk-litKey98765 ./agent.sh\n---\nHelp.\n",
    )
    .unwrap();
    let out = env.run(&["agent", "list"]);
    assert!(
        out.text()
            .contains("helper.md:4:10: `OPENAI_API_KEY` is a secret"),
        "{}",
        out.text()
    );
    std::fs::remove_file(agents.join("helper.md")).unwrap();
    // From elsewhere, or empty: accepted, and the run runs.
    env.workflow(
        "fromenv",
        "name: fromenv
inputs:
  gh_token: {type: string, required: true}
steps:
  - name: a
    run: |
      OTHER_TOKEN=\"$HOME\" true
      GH_TOKEN=${{ inputs.gh_token }} sh -c 'echo \"tok=$GH_TOKEN\"'
      EMPTY_TOKEN= true
      TOKEN_TTL=3600 true
      echo NPM_TOKEN=notAnAssignment
",
    );
    let out = env.run(&["workflow", "validate", "fromenv"]);
    assert_eq!(out.code, 0, "{}", out.text());
    let out = env.run(&[
        "workflow",
        "run",
        "fromenv",
        "--input",
        "gh_token=ghp_givenAtRun98765",
    ]);
    assert_eq!(out.code, 0, "{}", out.text());
    assert!(out.text().contains("tok=***"), "{}", out.text());
}

/// A name that says where a secret is kept (`POSTGRES_PASSWORD_FILE`, Docker's secrets
/// convention) is not refused written out, in `env:` or a command: its value is a path. And
/// the scan of commands is not fooled by a `<<` in arithmetic (read as a here-document, it hid
/// the rest of the script), `sudo`, or `nohup env`.
#[test]
fn a_secrets_file_path_passes_validate_and_arithmetic_or_sudo_hides_no_written_secret() {
    let env = Env::new();
    env.workflow(
        "paths",
        "name: paths\nsteps:\n  - name: db\n    run: POSTGRES_PASSWORD_FILE=/run/secrets/db ./start\n    env:\n      GITHUB_TOKEN_FILE: /run/secrets/gh\n",
    );
    let out = env.run(&["workflow", "validate", "paths"]);
    assert_eq!(out.code, 0, "{}", out.text());
    for (name, run) in [
        (
            "arith",
            "echo $(( 1 << 2 ))\n      GITHUB_TOKEN=ghp_leakedtoken123 sh -c x",
        ),
        ("sudo", "sudo GITHUB_TOKEN=ghp_leakedtoken123 cmd"),
        ("nohup", "nohup env GITHUB_TOKEN=ghp_leakedtoken123 cmd"),
    ] {
        env.workflow(
            name,
            &format!("name: {name}\nsteps:\n  - name: s\n    run: |\n      {run}\n"),
        );
        let out = env.run(&["workflow", "validate", name]);
        assert_eq!(out.code, 2, "{name}: {}", out.text());
        assert!(
            out.text().contains("`GITHUB_TOKEN` is a secret"),
            "{name}: {}",
            out.text()
        );
    }
}

/// Seen by a review: a secret input's value typed into `--actor` as well (`workflow run slowsec
/// --input api_token=$T --actor "ci $T"`) was written as is into the run's lock file
/// (`locks/RUN.lock`, readable by all, left after the run) and a PostgreSQL lease's holder,
/// and said back in the "held by" error (exit 4) of a second process — while the log and the
/// status showed `ci ***`, as they did for a secret from a secret-named variable. The actor is
/// scrubbed of the run's secret inputs (given with `--input`, or as `CORTEX_INPUT_<NAME>`)
/// before the lock is taken, the held-by error of a process given the secret scrubs it too,
/// and the lock files are the owner's alone.
#[test]
fn a_secret_input_in_the_actor_never_reaches_the_lock_file_or_the_held_by_error() {
    use std::os::unix::fs::PermissionsExt;
    for store in [common::Store::Sqlite, common::Store::Postgres] {
        let Some(env) = Env::on(store, "secret_input_in_the_actor") else {
            continue;
        };
        let secret = "tok-actorleak-777";
        env.workflow(
            "slowsec",
            "name: slowsec\ninputs:\n  api_token: {type: string, required: true}\nsteps:\n  - {name: s, run: sleep 3}\n",
        );
        let input = format!("api_token={secret}");
        let actor = format!("ci {secret}");
        let mut driver = env.spawn(&[
            "workflow", "run", "slowsec", "--input", &input, "--actor", &actor,
        ]);
        let (path, lock) = written_lock_file(&env);
        assert!(
            !lock.contains(secret) && lock.contains("ci ***"),
            "{store:?}: {lock}"
        );
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{store:?}: lock file mode {mode:o}");
        // The driver takes its lock before it records the run: the run is there to resume
        // (and held) once its step runs.
        common::wait_until("the run's step to start", || {
            env.run(&["--json", "workflow", "status", "slowsec"]).json()["steps"][0]["status"]
                == "running"
        });
        // A second process, given the secret on its command line or in its environment.
        let held = env.run(&["--json", "workflow", "resume", "slowsec", "--input", &input]);
        assert_eq!(held.code, 4, "{store:?}: {}{}", held.stdout, held.stderr);
        let error = held.json()["error"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(
            error.contains("held by") && error.contains("ci ***") && !error.contains(secret),
            "{store:?}: {error}"
        );
        let held = env.run_with(
            &["workflow", "resume", "slowsec"],
            &[("CORTEX_INPUT_API_TOKEN", secret)],
        );
        assert_eq!(held.code, 4, "{store:?}: {}", held.stderr);
        assert!(
            !held.stderr.contains(secret) && !held.stdout.contains(secret),
            "{store:?}: {}",
            held.stderr
        );
        assert_eq!(driver.wait().unwrap().code(), Some(0), "{store:?}");
        // Nothing under the home (the lock file left behind included) nor in the log (a
        // PostgreSQL lease's holder included) holds it.
        assert_nowhere(&env, secret);
        assert!(
            env.log_holding(secret).is_empty(),
            "{store:?}: {:?}",
            env.log_holding(secret)
        );
        // Given as `CORTEX_INPUT_API_TOKEN` instead of `--input`: the same.
        let out = env.run_with(
            &["workflow", "run", "slowsec", "--actor", &actor],
            &[("CORTEX_INPUT_API_TOKEN", secret)],
        );
        assert_eq!(out.code, 0, "{store:?}: {}", out.stderr);
        assert_nowhere(&env, secret);
        assert!(env.log_holding(secret).is_empty(), "{store:?}");
    }
}

/// The first lock file in `env`'s home once it is written (a driver takes its run): its path
/// and text.
fn written_lock_file(env: &Env) -> (std::path::PathBuf, String) {
    let until = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let found = std::fs::read_dir(env.home().join("locks"))
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|x| x == "lock"));
        if let Some(path) = found
            && let Ok(text) = std::fs::read_to_string(&path)
            && !text.is_empty()
        {
            return (path, text);
        }
        assert!(std::time::Instant::now() < until, "no lock file");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Everything said of the latest run of `kind` (`workflow` or `orchestrate`) — its status,
/// human and `--json`, its log shown and exported — and what is stored under the home and in
/// the log: none holds `secret`.
fn assert_said_nowhere(env: &Env, kind: &str, secret: &str) {
    let found = files_holding(&env.home(), secret);
    assert!(found.is_empty(), "the secret is stored in {found:?}");
    assert!(
        env.log_holding(secret).is_empty(),
        "{:?}",
        env.log_holding(secret)
    );
    for args in [
        vec![kind, "status"],
        vec!["--json", kind, "status"],
        vec!["log", "export"],
        vec!["log", "show"],
    ] {
        let out = env.run(&args);
        assert!(
            !out.text().contains(secret),
            "`{}` says the secret:\n{}",
            args.join(" "),
            out.text()
        );
    }
}

/// A `validate: - run:` gate (a workflow's) and a `check:` criterion (a scenario's) that read
/// a secret output and fail: the problem named the check with its templates rendered, the
/// secret's value pasted in, and `validation_failed` stored it in clear (and the status, the
/// log and the driver's lines showed it) while `output_recorded` kept `***`. The check is
/// named as written, its values after it with the secret's `***`; and the journal scrubs an
/// attempt's secret outputs whether or not they are recorded.
#[test]
fn a_failing_gate_that_reads_a_secret_output_never_says_its_value() {
    let secret = "ghp_FileSecret77777";
    let env = with_token(secret);
    env.workflow(
        "w2",
        "name: w2\nsteps:\n  - name: Login\n    run: echo \"api_token=$(cat token.txt)\" >> \"$CORTEX_OUTPUT\"\n    retry: {max_retry_attempts: 0}\n    validate:\n      - run: test \"${{ steps.Login.outputs.api_token }}\" = \"expected-value-123\"\n",
    );
    let run = env.run(&["workflow", "run", "w2"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(!run.text().contains(secret), "{}", run.text());
    assert!(
        run.stdout.contains(
            "`test \"${{ steps.Login.outputs.api_token }}\" = \"expected-value-123\"` exited with code 1 (steps.Login.outputs.api_token = ***)"
        ),
        "{}",
        run.stdout
    );
    assert_said_nowhere(&env, "workflow", secret);

    let env = with_token(secret);
    env.scenario(
        "sc",
        "name: sc\ndescription: d\nphases:\n  - name: login\n    description: log in\n    run: echo \"api_token=$(cat token.txt)\" >> \"$CORTEX_OUTPUT\"\n    success_criteria:\n      - check: test \"${{ phases.login.outputs.api_token }}\" = \"expected-value-123\"\n",
    );
    let run = env.run(&["orchestrate", "run", "sc"]);
    assert_ne!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(!run.text().contains(secret), "{}", run.text());
    assert!(
        run.text().contains("phases.login.outputs.api_token = ***"),
        "{}",
        run.text()
    );
    assert_said_nowhere(&env, "orchestrate", secret);
}

/// A report whose secret output fails its step's (or phase's) gate is refused with exit 2:
/// the refusal, on stderr and in `--json` (`detail`, `errors[].message`), named the check
/// with the value pasted in. It says `***`.
#[test]
fn a_refused_report_never_echoes_the_secret_output_it_gave() {
    let secret = "ghp_RealSecret987654";
    let env = Env::new();
    env.workflow(
        "w3",
        "name: w3\nsteps:\n  - name: Login\n    prompt: log in\n    validate:\n      - run: test \"${{ steps.Login.outputs.api_token }}\" = \"expected-value-123\"\n  - name: After\n    run: echo hi\n",
    );
    assert_eq!(env.run(&["workflow", "run", "w3"]).code, 3);
    let given = format!("api_token={secret}");
    let human = env.run(&["workflow", "step", "complete", "Login", "--output", &given]);
    assert_eq!(human.code, 2, "{}{}", human.stdout, human.stderr);
    assert!(!human.text().contains(secret), "{}", human.text());
    assert!(human.stderr.contains("api_token = ***"), "{}", human.stderr);
    let json = env.run(&[
        "--json", "workflow", "step", "complete", "Login", "--output", &given,
    ]);
    assert_eq!(json.code, 2);
    assert!(!json.text().contains(secret), "{}", json.text());
    let doc = json.json();
    assert!(
        doc["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("api_token = ***")),
        "{doc}"
    );
    assert_said_nowhere(&env, "workflow", secret);

    let env = Env::new();
    env.scenario(
        "sc",
        "name: sc\ndescription: d\nphases:\n  - name: login\n    description: log in\n    success_criteria:\n      - check: test \"${{ phases.login.outputs.api_token }}\" = \"expected-value-123\"\n",
    );
    assert_eq!(env.run(&["orchestrate", "run", "sc"]).code, 3);
    let human = env.run(&["orchestrate", "complete", "sc", "login", "--output", &given]);
    assert_eq!(human.code, 2, "{}{}", human.stdout, human.stderr);
    assert!(!human.text().contains(secret), "{}", human.text());
    let json = env.run(&[
        "--json",
        "orchestrate",
        "complete",
        "sc",
        "login",
        "--output",
        &given,
    ]);
    assert_eq!(json.code, 2);
    assert!(!json.text().contains(secret), "{}", json.text());
    assert!(
        json.json()["detail"]
            .as_str()
            .is_some_and(|d| d.contains("***"))
    );
    assert_said_nowhere(&env, "orchestrate", secret);
}

/// Whoever appends an attempt's end scrubs the secret outputs it carries, recorded or not: an
/// attempt whose gate failed records no `output_recorded` (which would hold the value as a
/// secret), and a problem text that quoted the value — from any caller, not only the runner's
/// checks — went to `validation_failed` in clear.
#[test]
fn the_journal_scrubs_the_secret_outputs_of_an_attempt_its_gate_failed() {
    use cortex::decide::{AttemptReport, Command};
    use cortex::definition::{Config, Durability, parse_workflow, snapshot};
    use cortex::execute::{IdGen, Journal, SystemClock, UlidIds};
    use cortex::store::{EventStore, SqliteStore};
    let secret = "ghp_JournalSecret4242";
    let env = Env::new();
    let wf = parse_workflow(
        "w.yaml",
        "name: w\nsteps:\n  - name: Login\n    run: 'true'\n    retry: {max_retry_attempts: 0}\n    validate:\n      - run: test -n \"${{ steps.Login.outputs.api_token }}\"\n",
    )
    .unwrap();
    let mut ids = UlidIds::default();
    let run_id = ids.next_id();
    let mut store = SqliteStore::open(&env.db(), Durability::Normal).unwrap();
    let clock = SystemClock;
    let mut journal = Journal::open(&mut store, &clock, &mut ids, &run_id).unwrap();
    journal
        .submit(Command::Start(Box::new(RunStarted {
            config: Config::default(),
            working_dir: env.project().display().to_string(),
            ..common::run_started(
                RunKind::Workflow,
                &wf.name,
                snapshot(&wf),
                "w.yaml",
                Operator {
                    actor: "tester".into(),
                    message: None,
                },
            )
        })))
        .unwrap();
    journal
        .submit(Command::RecordPreValidation { problems: vec![] })
        .unwrap();
    journal
        .submit(Command::StartAttempt {
            step: "Login".into(),
        })
        .unwrap();
    journal
        .submit(Command::FinishAttempt(Box::new(AttemptReport {
            step: "Login".into(),
            attempt: 1,
            end: AttemptEnd::Exited { code: 0 },
            outputs: vec![("api_token".into(), secret.into())],
            output_tail: String::new(),
            validation_problems: vec![format!("`test -n \"{secret}\"` exited with code 1")],
            by: None,
            agent: None,
            log: None,
            permanent: false,
        })))
        .unwrap();
    drop(journal);
    let events = store.read_run(&run_id).unwrap();
    assert!(
        events
            .iter()
            .any(|r| matches!(r.event, Event::ValidationFailed { .. })),
        "{events:?}"
    );
    let said = format!("{events:?}");
    assert!(!said.contains(secret), "{said}");
    assert!(env.log_holding(secret).is_empty());
}

/// An `if:` comparing a secret input with a literal would write the secret (or a guess at
/// it) into the definition, which the run's log keeps, and the verdict would confirm it:
/// `validate` refuses it, located, with a hint, in workflows and scenarios alike, as it
/// refuses a secret input's `default:`; and `run` refuses it before anything is stored. A
/// literal that can be no secret (`''`) stays allowed.
#[test]
fn an_if_comparing_a_secret_input_with_a_literal_is_refused_by_validate() {
    let secret = "prod-token-ABCDEF";
    let env = Env::new();
    env.workflow(
        "ifsec",
        &format!(
            "name: ifsec\ninputs:\n  api_token: {{type: string, required: true}}\nsteps:\n  - name: a\n    run: echo a\n    if: inputs.api_token == '{secret}'\n  - name: b\n    run: echo b\n    if: inputs.api_token != '{secret}'\n"
        ),
    );
    let out = env.run(&["workflow", "validate", "ifsec"]);
    assert_eq!(out.code, 2, "{}", out.text());
    insta::assert_snapshot!("if_secret_literal_refused", out.snapshot(&env));
    let out = env.run(&[
        "workflow",
        "run",
        "ifsec",
        "--input",
        &format!("api_token={secret}"),
    ]);
    assert_eq!(out.code, 2, "{}", out.text());
    assert!(
        files_holding(&env.home(), secret)
            .iter()
            .all(|f| f.extension().is_some_and(|e| e == "yaml"))
    );
    assert_eq!(
        env.run(&["--json", "log", "export"])
            .stdout
            .matches(secret)
            .count(),
        0
    );

    // A secret output (by its key) compared with a literal, in a scenario: refused too.
    env.scenario(
        "sif",
        "name: sif\ndescription: d\nphases:\n  - name: login\n    description: d\n    run: echo \"api_token=abcdEFGH1234\" >> \"$CORTEX_OUTPUT\"\n  - name: use\n    description: d\n    condition: after:login\n    if: phases.login.outputs.api_token == 'abcdEFGH1234'\n    run: echo ok\n",
    );
    let out = env.run(&["--json", "orchestrate", "validate", "sif"]);
    assert_eq!(out.code, 2, "{}", out.text());
    let doc = out.json();
    assert!(
        doc["errors"].to_string().contains("a secret output"),
        "{doc}"
    );
    assert_eq!(doc["errors"][0]["line"], 10, "{doc}");

    // Whether one was given at all: `''` is no secret.
    env.workflow(
        "given",
        "name: given\ninputs:\n  api_token: {type: string, required: true}\nsteps:\n  - name: a\n    run: echo a\n    if: inputs.api_token != ''\n",
    );
    let out = env.run(&["workflow", "validate", "given"]);
    assert_eq!(out.code, 0, "{}", out.text());
}

/// A scenario phase reading a secret output across a phase waiting for a report fails from
/// the command line, as a workflow step does: `orchestrate validate` warns as `workflow
/// validate` does, and once it failed, its recovery options offer no `--retry` (it fails the
/// same way in any other process) but what can work: `--skip`, or a new run.
#[test]
fn a_scenario_reading_a_secret_output_across_a_report_is_warned_and_offered_no_retry() {
    let env = Env::new();
    env.scenario(
        "sw",
        "name: sw\ndescription: d\nphases:\n  - name: login\n    description: d\n    run: echo \"api_token=abcdEFGH1234\" >> \"$CORTEX_OUTPUT\"\n  - name: gate\n    description: a person says go\n    condition: after:login\n  - name: use\n    description: d\n    condition: after:gate\n    run: echo \"${{ phases.login.outputs.api_token }}\"\n",
    );
    let out = env.run(&["orchestrate", "validate", "sw"]);
    assert_eq!(out.code, 0, "{}", out.text());
    assert!(
        out.stderr.contains(
            "phase `use` reads the secret output `phases.login.outputs.api_token`, and `gate` waits for a report between them"
        ),
        "{}",
        out.text()
    );
    // A report phase beside the two, on no way from one to the other, is no wait between.
    env.scenario(
        "beside",
        "name: beside\ndescription: d\nphases:\n  - name: login\n    description: d\n    run: echo \"api_token=abcdEFGH1234\" >> \"$CORTEX_OUTPUT\"\n  - name: gate\n    description: a person says go\n  - name: use\n    description: d\n    condition: after:login\n    run: echo \"${{ phases.login.outputs.api_token }}\"\n",
    );
    let out = env.run(&["orchestrate", "validate", "beside"]);
    assert!(!out.stderr.contains("secret output"), "{}", out.text());

    let out = env.run(&["--json", "orchestrate", "run", "sw"]);
    assert_eq!(out.code, 3, "{}", out.text());
    let run = out.json()["run_id"].as_str().unwrap().to_string();
    env.run(&["orchestrate", "complete", &run, "gate"]);
    let status = env.run(&["--json", "orchestrate", "status", &run]).json();
    assert_eq!(status["status"], "failed", "{status}");
    let next: String = status["next"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["argv"].to_string())
        .collect();
    assert!(!next.contains("--retry"), "{next}");
    assert!(next.contains("--skip"), "{next}");
    // A new run of the same definition fails the same way: offered once it changed.
    assert!(!next.contains("\"run\""), "{next}");
    let path = env.home().join("scenarios/sw.yaml");
    let yaml = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        yaml.replace("a person says go", "a person says go on"),
    )
    .unwrap();
    let status = env.run(&["--json", "orchestrate", "status", &run]).json();
    assert_eq!(
        status["next"][0]["argv"][2], "run",
        "a new run is offered: {status}"
    );
}

/// A secret input given again (`resume`, `resume --dry-run`, a step's report) with another
/// value than the run started with is refused, saying which input and how to go on; checked
/// against the keyed check values kept in the home's run folder, never the log, which holds
/// nothing the value could be guessed from. Without them (a run started from another home)
/// the value is taken with a warning that it could not be checked. Before, a wrong value was
/// taken silently and the rest of the run used it.
#[test]
fn a_secret_input_given_again_must_be_the_value_the_run_started_with() {
    let env = Env::new();
    env.workflow(
        "sec2",
        "name: sec2\ninputs:\n  the_secret: {type: string, required: true}\nsteps:\n  - name: Ask\n    prompt: go on?\n  - name: two\n    run: echo \"len=${#S}\"\n    env: {S: \"${{ inputs.the_secret }}\"}\n",
    );
    let right = "RightSecret123456";
    let out = env.run(&[
        "workflow",
        "run",
        "sec2",
        "--input",
        &format!("the_secret={right}"),
    ]);
    assert!(out.stdout.contains("⏳ Step 1/2: Ask"), "{}", out.text());
    for args in [
        &["workflow", "resume", "sec2", "--input", "the_secret=WRONG"][..],
        &[
            "workflow",
            "resume",
            "sec2",
            "--dry-run",
            "--input",
            "the_secret=WRONG",
        ],
    ] {
        let out = env.run(args);
        assert_eq!(out.code, 2, "{args:?}: {}", out.text());
        assert!(
            out.stderr.contains("secret input `the_secret`")
                && out
                    .stderr
                    .contains("differs from the value the run started with")
                && out.stderr.contains("workflow abort"),
            "{args:?}: {}",
            out.stderr
        );
    }
    // A report, given the value in the environment, is checked the same way.
    let out = env.run_with(
        &["workflow", "step", "complete", "Ask"],
        &[("CORTEX_INPUT_THE_SECRET", "WRONG")],
    );
    assert_eq!(out.code, 2, "{}", out.text());
    assert!(
        out.stderr.contains("secret input `the_secret`"),
        "{}",
        out.stderr
    );
    // The log holds nothing of the value: no hash, no check value.
    let run_dir = std::fs::read_dir(env.home().join("runs"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let check = std::fs::read_to_string(run_dir.join("secret-inputs.check")).unwrap();
    let check_value = check.split_whitespace().nth(1).unwrap();
    assert!(env.log_holding(check_value).is_empty());
    assert_nowhere(&env, right);
    // Without the check values (a run started from another home): taken, with a warning.
    std::fs::remove_file(run_dir.join("secret-inputs.check")).unwrap();
    let out = env.run_with(
        &["workflow", "step", "complete", "Ask"],
        &[("CORTEX_INPUT_THE_SECRET", "WRONG!")],
    );
    assert_eq!(out.code, 0, "{}", out.text());
    assert!(
        out.stderr.contains("could not be checked"),
        "{}",
        out.stderr
    );
    assert!(out.text().contains("len=6"), "{}", out.text());
}

/// A `foreach:` over an output of a step given a secret input: `validate` warns, located
/// where the `foreach:` is (the output holds the secret only at run time, so no error); the
/// run fails there, and its recovery options do not offer `--from` or `--retry`, which would
/// fail the same way every time — `--skip` says why. Before, validate passed and the first
/// suggestion, `--from mk`, failed again.
#[test]
fn a_foreach_over_an_output_of_a_step_given_a_secret_is_warned_of_and_not_offered_again() {
    let env = Env::new();
    env.workflow(
        "leak2",
        "name: leak2\ninputs:\n  gh_token: {type: string, required: true}\nsteps:\n  - name: mk\n    run: echo \"lst=[\\\"$GT\\\", \\\"b\\\"]\" >> $CORTEX_OUTPUT\n    env: {GT: \"${{ inputs.gh_token }}\"}\n  - name: fe\n    foreach: \"${{ steps.mk.outputs.lst }}\"\n    run: echo \"${{ item }}\"\n",
    );
    let validated = env.run(&["--json", "workflow", "validate", "leak2"]);
    assert_eq!(validated.code, 0, "{}", validated.text());
    let doc: serde_json::Value = serde_json::from_str(&validated.stdout).unwrap();
    let warning = doc["warnings"][0].as_str().unwrap_or_default();
    assert!(
        warning.contains("leak2.yaml:9:")
            && warning.contains("which is given the secret input `gh_token`"),
        "{doc:#}"
    );
    let run = env.run(&[
        "workflow",
        "run",
        "leak2",
        "--input",
        "gh_token=abcdef123456",
    ]);
    assert_eq!(run.code, 1, "{}", run.text());
    let status = env.status(None);
    let next: Vec<String> = status["next"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["argv"].to_string())
        .collect();
    assert!(
        !next
            .iter()
            .any(|n| n.contains("--from") || n.contains("--retry")),
        "{next:?}"
    );
    let skip = status["next"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["argv"].to_string().contains("--skip"))
        .unwrap_or_else(|| panic!("{status:#}"));
    assert!(
        skip["why"].as_str().unwrap().contains("refused every time"),
        "{skip:#}"
    );
}

/// Seen by a review: `orchestrate complete` by a process not given the run's secret input
/// ran the phase's `check:` criteria with its value set to `***` (the log's), so a check
/// printed `tok=[***]` and passed or failed on the wrong value, silently. It is refused
/// before any check runs (exit 2, nothing recorded, the phase still waiting), naming the
/// input and how to give it, as `workflow step complete` is (`operator::checks_lack_secrets`);
/// given the value, the checks see it and the report is taken.
#[test]
fn a_phase_report_whose_checks_need_a_secret_input_not_given_is_refused_naming_it() {
    let env = Env::new();
    let secret = "k-sc3cr3t-4a7f";
    let run_id = common::waiting_on_a_secret_check(&env, secret);
    let before = env.events(&run_id).len();
    let refused = env.run(&["orchestrate", "complete", "sc", "review"]);
    insta::assert_snapshot!("phase_report_needs_secret_input", refused.snapshot(&env));
    assert!(
        !refused.text().contains("tok=["),
        "a check ran: {}",
        refused.text()
    );
    assert_eq!(env.events(&run_id).len(), before, "something was recorded");
    let status = env.run(&["--json", "orchestrate", "status", "sc"]).json();
    assert_eq!(
        common::phase(&status, "review")["status"],
        "waiting",
        "{status}"
    );
    // The command it suggests, with the value: the checks see it, and the report is taken.
    let given = env.run_with(
        &["orchestrate", "complete", &run_id, "review"],
        &[("CORTEX_INPUT_API_TOKEN", secret)],
    );
    assert_eq!(given.code, 0, "{}", given.text());
    let status = env.run(&["--json", "orchestrate", "status", "sc"]).json();
    assert_eq!(status["status"], "completed", "{status}");
    assert_nowhere(&env, secret);
}

/// Seen by a review: the "To resume if interrupted:" line a run starts with gave a
/// `--input NAME=VALUE` placeholder for every secret input, though a resume asks only for
/// those what is left of the run may read (`plan::secret_inputs_ahead`): one nothing reads
/// (a prompt shows it as `***`) is left out; one a command step may read stays in.
#[test]
fn the_resume_line_a_run_starts_with_carries_only_the_secret_inputs_a_resume_needs() {
    let env = Env::new();
    let header = "name: rel\ninputs:\n  api_token: {type: string, required: true}\n  db_password: {type: string, required: true}\nsteps:\n  - name: review\n    prompt: Review it with ${{ inputs.api_token }}\n";
    env.workflow("rel", header);
    let inputs = [
        "--input",
        "api_token=k-unread-0042",
        "--input",
        "db_password=pw-unread-0042",
    ];
    let people = env.run(&[&["workflow", "run", "rel"][..], &inputs].concat());
    assert_eq!(people.code, 3, "{}", people.text());
    // A command step after it may read either: both are asked for.
    env.workflow("rel", &format!("{header}  - name: ship\n    run: 'true'\n"));
    let command = env.run(&[&["workflow", "run", "rel"][..], &inputs].concat());
    assert_eq!(command.code, 3, "{}", command.text());
    let line = |out: &common::Out| {
        out.stdout
            .lines()
            .find(|l| l.starts_with("To resume if interrupted:"))
            .unwrap_or_else(|| panic!("no resume line: {}", out.stdout))
            .to_string()
    };
    insta::assert_snapshot!(
        "resume_line_secret_inputs",
        common::redact(&format!("{}\n{}\n", line(&people), line(&command)), &env)
    );
}

/// A secret input's value typed into a report by a process that was not given it (no
/// `CORTEX_INPUT_<NAME>` in its environment): from the home that started the run, it is
/// recognised by the check values that home keeps and scrubbed, as an output's value and as a
/// word of the message; from another home sharing the log, which keeps none, it cannot be
/// recognised, and the reporter is told that it is recorded as given. Before, both stored it
/// in clear, the second with no word of it (DESIGN.md §7 says why nothing in the log could
/// tell the value).
#[test]
fn a_secret_inputs_value_typed_into_a_report_is_scrubbed_where_the_home_can_recognise_it() {
    let env = Env::new();
    let value = "SEKRET-abc-9f8e7d";
    env.scenario(
        "sec",
        "name: sec\ndescription: d\ninputs:\n  api_token: {type: string, required: true}\nphases:\n  - {name: m, description: approve it}\n",
    );
    let started = |env: &Env| {
        let given = format!("api_token={value}");
        let out = env.run(&["--json", "orchestrate", "run", "sec", "--input", &given]);
        assert_eq!(out.code, 3, "{}{}", out.stdout, out.stderr);
        out.json()["run_id"].as_str().unwrap().to_string()
    };
    let typed = [
        "--output".to_string(),
        format!("pw={value}"),
        "--message".to_string(),
        format!("the token is {value}, done"),
    ];
    let report = |env: &Env, run: &str, vars: &[(&str, &str)]| {
        let mut args = vec!["orchestrate", "complete", run, "m"];
        args.extend(typed.iter().map(String::as_str));
        let out = env.run_with(&args, vars);
        assert_eq!(out.code, 0, "{}", out.stderr);
        out.stderr
    };
    // The home that started the run recognises it.
    let here = started(&env);
    let said = report(&env, &here, &[]);
    assert!(!said.contains("recorded as given"), "{said}");
    let ev = env.events(&here);
    let out = ev
        .iter()
        .find(|e| e["type"] == "output_recorded")
        .expect("the output");
    assert_eq!(out["body"]["value"], "***", "{out}");
    let shown = serde_json::to_string(&ev).unwrap();
    assert!(shown.contains("the token is ***, done"), "{shown}");
    assert!(
        env.log_holding(value).is_empty(),
        "{:?}",
        env.log_holding(value)
    );
    // Another home on the same log cannot: it says so.
    let other = started(&env);
    let home = env.dir.path().join("other-home");
    std::fs::create_dir_all(&home).unwrap();
    let db = env.db_spec();
    let said = report(
        &env,
        &other,
        &[("CORTEX_HOME", home.to_str().unwrap()), ("CORTEX_DB", &db)],
    );
    assert!(
        said.contains("run ")
            && said.contains("secret inputs (api_token)")
            && said.contains("recorded as given, not as `***`")
            && said.contains("CORTEX_INPUT_API_TOKEN"),
        "{said}"
    );
}

/// Seen by a review: a secret given as an output KEY (`--output "$TOKEN=x"`) was kept in
/// clear in the log, `results.json` and the checkpoints (its value `x` became `***`; a key is
/// an identifier, never scrubbed). Refused, exit 2, nothing recorded, the key not quoted: a
/// secret of the environment, and one the run's `secret_env` names (known to its journal).
#[test]
fn a_secret_given_as_a_reported_output_key_is_refused_and_never_stored() {
    let env = Env::new();
    env.workflow(
        "w",
        "name: w\ndescription: d\nsteps:\n  - name: two\n    prompt: do it\n    secret_env: [DEPLOY_KEY]\n",
    );
    let token = "ghp_abcdefSECRETVALUE123";
    let deploy = "dk_DEPLOYKEYVAL_CCCC3333";
    let vars = [("GITHUB_TOKEN", token), ("DEPLOY_KEY", deploy)];
    assert_eq!(env.run_with(&["workflow", "run", "w"], &vars).code, 3);
    for secret in [token, deploy] {
        let out = env.run_with(
            &[
                "workflow",
                "step",
                "complete",
                "two",
                "--output",
                &format!("{secret}=x"),
            ],
            &vars,
        );
        assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
        assert!(
            out.stderr
                .contains("holds the value of a secret (not shown)"),
            "{}",
            out.stderr
        );
        assert!(!out.stderr.contains(secret) && !out.stdout.contains(secret));
        assert_nowhere(&env, secret);
    }
    assert_eq!(env.status(None)["steps"][0]["status"], "waiting");
}

/// A step writing `$API_TOKEN=1` to `$CORTEX_OUTPUT`: its key was recorded in clear. Its
/// attempt fails (not retried: it would write the same) with a problem that does not quote it.
#[test]
fn a_step_writing_a_secret_as_an_output_key_fails_and_stores_nothing() {
    let env = Env::new();
    env.workflow(
        "s",
        "name: s\ndescription: d\nsteps:\n  - name: a\n    retry: {max_retry_attempts: 2, backoff: 10ms}\n    run: echo \"$API_TOKEN=1\" >> $CORTEX_OUTPUT\n",
    );
    let secret = "ghp_KEYSECRET_24680";
    let out = env.run_with(&["workflow", "run", "s"], &[("API_TOKEN", secret)]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout
            .contains("an output key holds the value of a secret (not shown)"),
        "{}",
        out.stdout
    );
    let status = env.status(None);
    assert_eq!(status["steps"][0]["status"], "failed", "{status}");
    assert_eq!(status["steps"][0]["attempts"], 1, "{status}");
    assert_nowhere(&env, secret);
}

/// `--actor "act-$DEPLOY_KEY"` with `secret_env: [DEPLOY_KEY]`: `run_started` kept `act-***`,
/// the run's lock file the value in clear (and every "its driver ..." message quoted it).
#[test]
fn a_secret_env_value_in_the_actor_is_scrubbed_from_the_lock_file() {
    let env = Env::new();
    env.workflow(
        "w",
        "name: w\ndescription: d\nsteps:\n  - name: a\n    prompt: x\n    secret_env: [DEPLOY_KEY]\n",
    );
    let secret = "dk_DEPLOYKEYVAL_BBBB2222";
    let vars = [("DEPLOY_KEY", secret)];
    let actor = format!("act-{secret}");
    let out = env.run_with(&["workflow", "run", "w", "--actor", &actor], &vars);
    assert_eq!(out.code, 3, "{}{}", out.stdout, out.stderr);
    let out = env.run_with(
        &["workflow", "step", "complete", "a", "--actor", &actor],
        &vars,
    );
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let locks: Vec<String> = std::fs::read_dir(env.home().join("locks"))
        .unwrap()
        .filter_map(|e| std::fs::read_to_string(e.unwrap().path()).ok())
        .collect();
    assert!(locks.iter().any(|l| l.contains("act-***")), "{locks:?}");
    assert_nowhere(&env, secret);
}
