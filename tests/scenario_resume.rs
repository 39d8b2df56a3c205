//! Resuming a scenario run in which one phase waits for a report and others are ready.

mod common;

use common::{Env, phase};

/// Seen from `cortex serve`, whose background drivers are `orchestrate resume`: after a
/// report recorded with `--no-drive`, `resume` recorded `run_resumed` and exited 3 without
/// starting the phase that had become ready, because `run_resumed` set the whole run waiting
/// as soon as any phase waited (a parallel phase beside it).
#[test]
fn a_resumed_scenario_starts_ready_phases_while_another_waits_for_a_report() {
    let env = Env::new();
    env.scenario("side", "name: side\ndescription: A plan, a build after it, notes beside\nphases:\n  - name: plan\n    condition: auto\n  - name: build\n    condition: after:plan\n    run: echo built\n  - name: notes\n    condition: auto\n    parallel: true\n");
    assert_eq!(env.run(&["orchestrate", "run", "side"]).code, 3);
    let run = env.run(&["--json", "orchestrate", "history"]).json()["runs"].clone()[0]["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        env.run(&["orchestrate", "complete", &run, "plan", "--no-drive"])
            .code,
        3
    );
    let resumed = env.run(&["--json", "orchestrate", "resume", &run]);
    assert_eq!(resumed.code, 3, "{}", resumed.stderr);
    let phases = resumed.json()["phases"].clone();
    assert_eq!(phases[1]["name"], "build");
    assert_eq!(phases[1]["status"], "completed", "{phases:#}");
    assert_eq!(phases[2]["status"], "waiting", "{phases:#}");
}

/// Plan, build after it, test after build (fails until the file `ok` exists), and notes
/// beside them: `--from build` re-runs build and test, not plan or notes.
const CHAIN: &str = "name: chain\ndescription: Plan, build, test after build, notes beside\nphases:\n  - name: plan\n    condition: auto\n    run: echo plan >> plan.log\n  - name: build\n    condition: after:plan\n    run: echo build >> build.log; echo artifact=v$(wc -l < build.log | tr -d ' ') >> \"$CORTEX_OUTPUT\"\n  - name: test\n    condition: after:build\n    run: test -f ok\n  - name: notes\n    condition: auto\n    parallel: true\n    run: echo notes >> notes.log; echo kept=yes >> \"$CORTEX_OUTPUT\"\n";

fn failed_chain(env: &Env) -> String {
    env.scenario("chain", CHAIN);
    assert_eq!(env.run(&["orchestrate", "run", "chain"]).code, 1);
    env.run(&["--json", "orchestrate", "history"]).json()["runs"].clone()[0]["run_id"]
        .as_str()
        .unwrap()
        .to_string()
}

fn lines_of(env: &Env, file: &str) -> usize {
    std::fs::read_to_string(env.file(file))
        .unwrap_or_default()
        .lines()
        .count()
}

/// SPEC §4: `resume --from STEP` re-runs that step and everything after it (scenario: the
/// phase and its dependents), keeping earlier outputs available. `orchestrate resume` had no
/// `--from` at all.
#[test]
fn orchestrate_resume_from_a_phase_reruns_it_and_its_dependents_keeping_the_others() {
    let env = Env::new();
    let run = failed_chain(&env);
    std::fs::write(env.file("ok"), "").unwrap();
    // The plan first: build and test again, plan and notes reused; nothing recorded.
    let events = env.events(&run).len();
    let plan = env.run(&[
        "--json",
        "orchestrate",
        "resume",
        &run,
        "--from",
        "build",
        "--dry-run",
    ]);
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    let actions: Vec<(String, String)> = plan.json()["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap().to_string(),
                s["action"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let rerun: Vec<&str> = actions
        .iter()
        .filter(|(_, a)| a.contains("run"))
        .map(|(n, _)| n.as_str())
        .collect();
    assert_eq!(rerun, ["build", "test"], "{actions:?}");
    assert_eq!(env.events(&run).len(), events, "a dry run records nothing");

    let resumed = env.run(&["--json", "orchestrate", "resume", &run, "--from", "build"]);
    assert_eq!(resumed.code, 0, "{}", resumed.stderr);
    let doc = resumed.json();
    assert_eq!(doc["status"], "completed", "{doc:#}");
    assert_eq!(lines_of(&env, "plan.log"), 1, "plan is not re-run");
    assert_eq!(
        lines_of(&env, "notes.log"),
        1,
        "notes does not depend on build"
    );
    assert_eq!(lines_of(&env, "build.log"), 2, "build re-ran");
    assert_eq!(phase(&doc, "build")["outputs"]["artifact"], "v2", "{doc:#}");
    assert_eq!(phase(&doc, "notes")["outputs"]["kept"], "yes", "{doc:#}");
    assert_eq!(phase(&doc, "plan")["attempts"], 1);
    // Recorded as the workflow's `--from` is: `run_resumed` with its mode and restart point.
    let resumed_event = env
        .events(&run)
        .into_iter()
        .find(|e| e["type"] == "run_resumed")
        .expect("run_resumed recorded");
    assert_eq!(
        resumed_event["body"]["restart_from"], "build",
        "{resumed_event:#}"
    );
    assert_eq!(
        resumed_event["body"]["mode"]["mode"], "from",
        "{resumed_event:#}"
    );
    assert_eq!(
        resumed_event["body"]["mode"]["step"], "build",
        "{resumed_event:#}"
    );
    let log = env.run(&["log", "show", &run]).stdout;
    assert!(log.contains("from phase build"), "{log}");
    assert_eq!(env.run(&["log", "verify", "--all"]).code, 0);
}

#[test]
fn orchestrate_resume_from_an_unknown_phase_is_refused_with_the_phases_it_has() {
    let env = Env::new();
    let run = failed_chain(&env);
    let events = env.events(&run).len();
    for dry in [false, true] {
        let mut args = vec!["orchestrate", "resume", run.as_str(), "--from", "deploy"];
        if dry {
            args.push("--dry-run");
        }
        let out = env.run(&args);
        assert_eq!(out.code, 2, "{}", out.text());
        assert!(
            out.stderr.contains("no phase named `deploy`"),
            "{}",
            out.stderr
        );
        assert!(
            out.stderr.contains("its phases: plan, build, test, notes"),
            "{}",
            out.stderr
        );
    }
    assert_eq!(env.events(&run).len(), events, "nothing recorded");
}

#[test]
fn orchestrate_resume_refuses_from_with_skip_and_from_a_phase_that_never_ran() {
    let env = Env::new();
    env.scenario("gate", "name: gate\ndescription: A build that fails, a manual release after\nphases:\n  - name: build\n    condition: auto\n    run: test -f ok\n  - name: release\n    condition: manual\n    run: echo released\n");
    assert_eq!(env.run(&["orchestrate", "run", "gate"]).code, 1);
    let both = env.run(&["orchestrate", "resume", "gate", "--from", "build", "--skip"]);
    assert_eq!(both.code, 2, "{}", both.text());
    assert!(
        both.stderr.contains("cannot be used with"),
        "{}",
        both.stderr
    );
    let never = env.run(&["orchestrate", "resume", "gate", "--from", "release"]);
    assert_eq!(never.code, 2, "{}", never.text());
    assert!(
        never
            .stderr
            .contains("cannot re-run from phase `release`: it has not run yet"),
        "{}",
        never.stderr
    );
    // A manual phase is started by `orchestrate start`, never by a resume.
    assert!(
        never.stderr.contains("cortex orchestrate start ") && never.stderr.contains(" release`"),
        "{}",
        never.stderr
    );
}

/// A `--from` resume of a run whose secret input is not given: the hint's command keeps the
/// `--from` it was asked with, so pasting it does what was asked.
#[test]
fn a_from_resume_without_the_secret_input_names_the_from_in_its_hint() {
    let env = Env::new();
    env.scenario("sec", "name: sec\ndescription: A token, a build, a test\ninputs:\n  deploy_token: {type: string, required: true}\nphases:\n  - name: build\n    condition: auto\n    run: echo build >> build.log\n  - name: test\n    condition: after:build\n    run: test -f ok\n");
    let out = env.run_with(
        &["orchestrate", "run", "sec"],
        &[("CORTEX_INPUT_DEPLOY_TOKEN", "tok-12345")],
    );
    assert_eq!(out.code, 1, "{}", out.text());
    let refused = env.run(&["orchestrate", "resume", "sec", "--from", "build"]);
    assert_eq!(refused.code, 2, "{}", refused.text());
    assert!(
        refused
            .stderr
            .contains("--from build --input deploy_token=VALUE"),
        "{}",
        refused.stderr
    );
    std::fs::write(env.file("ok"), "").unwrap();
    let done = env.run(&[
        "orchestrate",
        "resume",
        "sec",
        "--from",
        "build",
        "--input",
        "deploy_token=tok-12345",
    ]);
    assert_eq!(done.code, 0, "{}", done.text());
    assert_eq!(lines_of(&env, "build.log"), 2);
}

/// A scenario's `foreach:` phase re-run by `orchestrate resume --from` (over the phase its
/// list comes from, named forgivingly): its items go on from their latest attempt, both
/// outputs are kept and `log verify` passes. Before, the items' attempts were `attempt 1`
/// again, their whole-output file was overwritten and `log verify` exited 1.
#[test]
fn orchestrate_resume_from_over_a_foreach_phase_keeps_both_outputs_and_log_verify_passes() {
    let env = Env::new();
    env.scenario("fe", "name: fe\ndescription: d\nphases:\n  - name: regions\n    description: r\n    run: echo 'list=[\"eu\",\"us\"]' >> \"$CORTEX_OUTPUT\"; echo x >> runs.txt\n  - name: deploy\n    description: d\n    condition: after:regions\n    foreach: ${{ phases.regions.outputs.list }}\n    run: echo \"deploying ${{ item }} run $(wc -l < runs.txt | tr -d ' ')\"\n  - name: hold\n    description: h\n    condition: manual\n");
    assert_eq!(env.run(&["orchestrate", "run", "fe"]).code, 3);
    let resumed = env.run(&["orchestrate", "resume", "fe", "--from", "REGIONS"]);
    assert_eq!(resumed.code, 3, "{}", resumed.text());
    let run = env.run(&["--json", "orchestrate", "history"]).json()["runs"].clone()[0]["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    let events = env.events(&run);
    let resumed = events.iter().find(|e| e["type"] == "run_resumed").unwrap();
    assert_eq!(resumed["body"]["restart_from"], "regions", "{resumed}");
    let attempts: Vec<u64> = events
        .iter()
        .filter(|e| e["type"] == "step_started" && e["body"]["step"] == "deploy[0]")
        .map(|e| e["body"]["attempt"].as_u64().unwrap())
        .collect();
    assert_eq!(attempts, [1, 2]);
    let logs = env.run(&["logs", &run, "deploy[0]"]).stdout;
    assert_eq!(logs.matches("deploying eu run 1").count(), 1, "{logs}");
    assert_eq!(logs.matches("deploying eu run 2").count(), 1, "{logs}");
    let verify = env.run(&["log", "verify"]);
    assert_eq!(verify.code, 0, "{}", verify.text());
}

/// A build that reads the secret input, then people's phases: a review, and a sign-off after
/// it (`after`: a command phase, or none).
fn release(after: &str) -> String {
    format!(
        "name: rel\ndescription: d\ninputs:\n  deploy_password: {{type: string, required: true}}\nphases:\n  - name: build\n    description: build\n    env: {{PW: \"${{{{ inputs.deploy_password }}}}\"}}\n    run: echo artifact=a >> \"$CORTEX_OUTPUT\"\n  - name: review\n    description: Review ${{{{ phases.build.outputs.artifact }}}}\n    condition: after:build\n    success_criteria:\n      - Changelog present\n{after}"
    )
}

/// Seen by a review: `orchestrate resume` of a stopped run asked for every secret input,
/// though no phase left could read one (only a report phase was left: its prompt shows `***`
/// and its checks run in the process that reports it). It asks only for those a remaining
/// phase may read (`plan::secret_inputs_ahead`), and so does its suggestion; where a command
/// phase is left (every command is given every input as `CORTEX_INPUT_<NAME>`), it still
/// asks.
#[test]
fn a_scenario_resume_asks_only_for_secret_inputs_a_remaining_phase_may_read() {
    let env = Env::new();
    env.scenario("rel", &release(""));
    let input = "deploy_password=pw-S3cretN0tNeeded";
    assert_eq!(
        env.run(&["orchestrate", "run", "rel", "--input", input])
            .code,
        3
    );
    let stopped = env.run(&["orchestrate", "stop", "rel"]);
    assert_eq!(stopped.code, 3, "{}", stopped.text());
    let next = &stopped.stdout[stopped.stdout.find("Next:").unwrap()..];
    insta::assert_snapshot!(
        "scenario_resume_with_no_secret_left_to_read",
        common::redact(next, &env)
    );
    let resumed = env.run(&["--json", "orchestrate", "resume", "rel"]);
    assert_eq!(resumed.code, 3, "{}", resumed.text());
    assert_eq!(phase(&resumed.json(), "review")["status"], "waiting");
    // A command phase left: it may read the input, which is asked for.
    let env = Env::new();
    env.scenario(
        "rel",
        &release(
            "  - name: ship\n    description: ship\n    condition: after:review\n    run: 'true'\n",
        ),
    );
    assert_eq!(
        env.run(&["orchestrate", "run", "rel", "--input", input])
            .code,
        3
    );
    assert_eq!(env.run(&["orchestrate", "stop", "rel"]).code, 3);
    let refused = env.run(&["orchestrate", "resume", "rel"]);
    assert_eq!(refused.code, 2, "{}", refused.text());
    assert!(
        refused
            .stderr
            .contains("needs the value of its secret input `deploy_password`"),
        "{}",
        refused.stderr
    );
}
