//! Composition on the real binary: `if:` (an expression or a command), `foreach:` (in a
//! workflow, and in a scenario within `max_parallel`), `uses:` (child runs linked both ways,
//! outputs flowing back, waiting, reports driving the parent on, kill -9, SIGINT and abort
//! propagating), and bad input refused with located errors and exit 2.

mod common;

use std::time::{Duration, Instant};

use common::{Env, files_holding, lines, next_argvs};

fn scenario(env: &Env, name: &str, yaml: &str) {
    std::fs::create_dir_all(env.home().join("scenarios")).unwrap();
    std::fs::write(
        env.home().join("scenarios").join(format!("{name}.yaml")),
        yaml,
    )
    .unwrap();
}

/// Every event of every run in the log, as exported.
fn events(env: &Env) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    for run in env
        .run(&["--json", "workflow", "history", "--limit", "100"])
        .json()["runs"]
        .clone()
        .as_array()
        .unwrap()
    {
        let export = env.run(&["log", "export", run["run_id"].as_str().unwrap()]);
        for line in export.stdout.lines() {
            out.push(serde_json::from_str(line).unwrap());
        }
    }
    out
}

const GUARDED: &str = r#"name: guarded
inputs:
  env: {type: string, default: dev}
steps:
  - name: build
    run: echo "changed=true" >> "$CORTEX_OUTPUT"
  - name: deploy
    if: inputs.env == 'prod' && steps.build.outputs.changed != 'false'
    run: echo deployed >> ran.log
  - name: notify
    if: "!(inputs.env == 'prod')"
    run: echo notified >> ran.log
  - name: migrate
    if: {run: "test -f pending"}
    run: echo migrated >> ran.log
"#;

/// Seen by a review: an `if:` value read `'\x1b[31mRED\x1b[0m\\u202eevil'` in `--json`, which
/// looked like a terminal escaping half applied. It was not (dash's `printf` writes `\u202e` as
/// those six characters, so the value held them), and this keeps it so: a JSON document
/// carries a value as data — an escape, a bidi override and the text `\u202e` each as it is,
/// in `if.values`, the skip reason and the output alike — and only the human rendering shows
/// the control and bidi characters as escapes, all of them the same way.
#[test]
fn an_if_value_holding_escapes_is_raw_in_json_and_escaped_alike_for_a_terminal() {
    let env = Env::new();
    env.workflow(
        "esc",
        "name: esc\nsteps:\n  - name: a\n    run: |\n      printf 'esc=\\033[31mRED\\033[0m\\342\\200\\256evil \\\\u202e\\n' >> \"$CORTEX_OUTPUT\"\n  - name: s\n    if: steps.a.outputs.esc == 'x'\n    run: echo s\n",
    );
    let run = env.run(&["workflow", "run", "esc"]).assert_exit(0);
    let raw = "\u{1b}[31mRED\u{1b}[0m\u{202e}evil \\u202e";
    let shown = "\\u{1b}[31mRED\\u{1b}[0m\\u{202e}evil \\u202e";
    for doc in [
        env.status(None),
        env.run(&["--json", "workflow", "status", "esc"]).json(),
    ] {
        assert_eq!(doc["steps"][0]["outputs"]["esc"], raw, "{doc}");
        assert_eq!(
            doc["steps"][1]["if"]["values"]["steps.a.outputs.esc"],
            format!("'{raw}'"),
            "{doc}"
        );
        assert_eq!(
            doc["steps"][1]["error"],
            format!("if: steps.a.outputs.esc == 'x' is false (steps.a.outputs.esc = '{raw}')"),
            "{doc}"
        );
    }
    let run_id = env.status(None)["run_id"].as_str().unwrap().to_string();
    let checked = env
        .events(&run_id)
        .into_iter()
        .find(|e| e["type"] == "condition_checked")
        .unwrap();
    assert_eq!(
        checked["body"]["values"]["steps.a.outputs.esc"],
        format!("'{raw}'"),
        "{checked}"
    );
    for args in [&["workflow", "status", "esc"][..], &["log", "show"][..]] {
        let out = env.run(args).assert_exit(0);
        assert!(out.stdout.contains(shown), "{args:?}:\n{}", out.stdout);
        assert!(
            !out.stdout.contains('\u{1b}') && !out.stdout.contains('\u{202e}'),
            "{args:?}:\n{}",
            out.stdout
        );
    }
    assert!(run.stdout.contains(shown), "{}", run.stdout);
    assert!(
        !run.stdout.contains('\u{1b}') && !run.stdout.contains('\u{202e}'),
        "{}",
        run.stdout
    );
}

#[test]
fn a_false_condition_skips_its_step_with_the_expression_and_the_values_it_saw() {
    let env = Env::new();
    env.workflow("guarded", GUARDED);
    env.run(&["workflow", "run", "guarded"]).assert_exit(0);
    assert_eq!(lines(&env.file("ran.log")), ["notified"]);
    let status = env.status(None);
    assert_eq!(status["steps"][1]["status"], "skipped");
    assert_eq!(
        status["steps"][1]["error"],
        "if: inputs.env == 'prod' && steps.build.outputs.changed != 'false' is false (inputs.env = 'dev')"
    );
    assert_eq!(status["steps"][1]["if"]["holds"], false);
    assert_eq!(status["steps"][1]["if"]["values"]["inputs.env"], "'dev'");
    assert_eq!(status["steps"][2]["if"]["holds"], true);
    assert_eq!(status["steps"][3]["status"], "skipped");
    assert_eq!(status["steps"][3]["if"]["exit_code"], 1);
    insta::assert_snapshot!(
        "guarded_status",
        env.run(&["workflow", "status"]).snapshot(&env)
    );
    // The same workflow in production, with the command's file present: both run.
    std::fs::write(env.file("pending"), "").unwrap();
    env.run(&["workflow", "run", "guarded", "--input", "env=prod"])
        .assert_exit(0);
    assert_eq!(
        lines(&env.file("ran.log")),
        ["notified", "deployed", "migrated"]
    );
    let log = env.run(&["log", "show"]);
    assert!(
        log.stdout
            .contains("condition_checked       step deploy: if: inputs.env == 'prod' && steps.build.outputs.changed != 'false' is true (inputs.env = 'prod', steps.build.outputs.changed = 'true')"),
        "{}",
        log.stdout
    );
}

/// Seen by a review: an `if:` over a string output that cannot be decided suggests a
/// comparison in backticks, `` `steps.a.outputs.q == '…`touch …`…'` ``, which a value holding
/// backticks broke into pieces. The suggestion (and the reference it names) is a code span
/// whose fence is longer than any run of backticks in it, as Markdown reads it; nothing in
/// the value runs.
#[test]
fn an_undecidable_if_over_a_value_holding_backticks_says_its_comparison_unambiguously() {
    let env = Env::new();
    env.workflow(
        "ticks",
        "name: ticks\nsteps:\n  - name: a\n    run: |\n      printf 'q=it'\"'\"'s `touch PWNED` ``x``\\n' >> \"$CORTEX_OUTPUT\"\n  - name: s8\n    if: steps.a.outputs.q\n    run: echo s8\n",
    );
    let run = env.run(&["workflow", "run", "ticks"]);
    assert_eq!(run.code, 1, "{}", run.text());
    let said = run
        .stdout
        .lines()
        .find(|l| l.starts_with("❌ Step 2/2"))
        .unwrap_or_default();
    insta::assert_snapshot!("undecidable_if_over_backticks", said);
    assert!(
        said.contains("compare it, e.g. ``` steps.a.outputs.q == 'it''s `touch PWNED` ``x``' ```"),
        "{said}"
    );
    assert!(!env.file("PWNED").exists());
}

#[test]
fn a_condition_that_cannot_be_decided_fails_the_step_and_resume_skip_goes_on() {
    let env = Env::new();
    env.workflow(
        "odd",
        "name: odd\nsteps:\n  - name: count\n    run: echo n=many >> \"$CORTEX_OUTPUT\"\n  - name: big\n    if: steps.count.outputs.n > 3\n    run: echo big >> ran.log\n  - name: last\n    run: echo last >> ran.log\n",
    );
    let run = env.run(&["workflow", "run", "odd"]).assert_exit(1);
    assert!(
        run.stdout.contains(
            "`steps.count.outputs.n` is a string ('many') and 3 is a number (3): the string does not read as a number"
        ),
        "{}",
        run.stdout
    );
    assert_eq!(env.status(None)["steps"][1]["status"], "failed");
    env.run(&["workflow", "resume", "--skip"]).assert_exit(0);
    assert_eq!(lines(&env.file("ran.log")), ["last"]);
}

#[test]
/// A command condition the shell could not run — 127, not found (a typo), 126, not
/// executable — cannot be decided: the step fails saying what the code means, as a condition
/// killed by a signal does. It was taken as false: the step skipped and the run completed.
fn a_condition_command_not_found_or_not_executable_cannot_be_decided_and_fails_the_step() {
    let env = Env::new();
    std::fs::write(env.file("noexec"), "#!/bin/sh\nexit 0\n").unwrap();
    env.workflow(
        "typo",
        "name: typo\nsteps:\n  - name: a\n    if: {run: \"tset-typo -f x\"}\n    run: echo a >> ran.log\n",
    );
    let run = env.run(&["workflow", "run", "typo"]).assert_exit(1);
    let status = env.status(None);
    assert_eq!(status["steps"][0]["status"], "failed");
    assert_eq!(status["steps"][0]["if"]["exit_code"], 127);
    insta::assert_snapshot!("condition_command_not_found", run.snapshot(&env));
    env.workflow(
        "noexec",
        "name: noexec\nsteps:\n  - name: a\n    if: {run: ./noexec}\n    run: echo a >> ran.log\n",
    );
    let run = env.run(&["workflow", "run", "noexec"]).assert_exit(1);
    assert!(
        run.stdout.contains(
            "exited with code 126, the shell's code for a command found but not executable"
        ),
        "{}",
        run.stdout
    );
    assert!(!env.file("ran.log").exists());
    // A command's own failure is still a false condition: skipped, the run completes.
    env.workflow(
        "falsy",
        "name: falsy\nsteps:\n  - name: a\n    if: {run: \"exit 3\"}\n    run: echo a >> ran.log\n",
    );
    env.run(&["workflow", "run", "falsy"]).assert_exit(0);
    assert_eq!(env.status(None)["steps"][0]["status"], "skipped");
}

const FANOUT: &str = r#"name: fanout
steps:
  - name: plan
    run: echo 'regions=["eu-west","us-east","ap-south"]' >> "$CORTEX_OUTPUT"
  - name: deploy
    foreach: "${{ steps.plan.outputs.regions }}"
    run: |
      echo "$CORTEX_ITEM_INDEX ${{ item }} $CORTEX_ITEM" >> ran.log
      echo "url=https://${{ item }}.example" >> "$CORTEX_OUTPUT"
    validate:
      - output: url
  - name: smoke
    foreach: [1, two]
    run: echo "smoke ${{ item }}" >> ran.log
  - name: report
    run: echo "${{ steps.deploy.outputs.url }} ${{ steps.deploy[1].outputs.url }}" >> ran.log
"#;

#[test]
fn foreach_runs_each_item_once_with_its_item_and_collects_outputs_as_lists() {
    let env = Env::new();
    env.workflow("fanout", FANOUT);
    env.run(&["workflow", "run", "fanout"]).assert_exit(0);
    assert_eq!(
        lines(&env.file("ran.log")),
        [
            "0 eu-west eu-west",
            "1 us-east us-east",
            "2 ap-south ap-south",
            "smoke 1",
            "smoke two",
            "[\"https://eu-west.example\",\"https://us-east.example\",\"https://ap-south.example\"] https://us-east.example",
        ]
    );
    let status = env.status(None);
    let names: Vec<&str> = status["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "plan",
            "deploy",
            "deploy[0]",
            "deploy[1]",
            "deploy[2]",
            "smoke",
            "smoke[0]",
            "smoke[1]",
            "report"
        ]
    );
    assert_eq!(status["steps"][1]["foreach"]["items"], 3);
    assert_eq!(status["steps"][3]["item"]["value"], "us-east");
    assert_eq!(status["steps"][6]["item"]["value"], 1);
    insta::assert_snapshot!(
        "fanout_status",
        env.run(&["workflow", "status"]).snapshot(&env)
    );
    assert_eq!(
        env.run(&["--json", "log", "verify", "--all"]).json()["ok"],
        true
    );
}

#[test]
/// Seen by a review: each item of a `foreach:` under the 1 MiB bound on outputs, the step's
/// list of them was recorded as one event of N MiB. The items together are held to the bound:
/// the item that would pass it fails, saying so, and no event holds more.
fn the_outputs_of_a_foreach_steps_items_are_held_to_the_bound_together() {
    let env = Env::new();
    env.workflow(
        "bigfe",
        "name: bigfe\nsteps:\n  - name: fe\n    foreach: [a, b, c]\n    retry: {max_retry_attempts: 0}\n    run: |\n      printf 'k=' >> \"$CORTEX_OUTPUT\"; head -c 700000 /dev/zero | tr '\\0' x >> \"$CORTEX_OUTPUT\"; echo >> \"$CORTEX_OUTPUT\"\n",
    );
    env.run(&["workflow", "run", "bigfe"]).assert_exit(1);
    let status = env.run(&["workflow", "status"]).stdout;
    assert!(
        status.contains("with the other items', the outputs of `fe` hold"),
        "{status}"
    );
    for e in events(&env) {
        assert!(
            e.to_string().len() < 1024 * 1024 + 4096,
            "an event of {} bytes: {}",
            e.to_string().len(),
            e["type"]
        );
    }
}

#[test]
fn foreach_over_an_output_that_is_not_a_json_list_fails_the_step_with_a_clear_error() {
    let env = Env::new();
    env.workflow(
        "notalist",
        "name: notalist\nsteps:\n  - name: plan\n    run: echo 'regions=eu,us' >> \"$CORTEX_OUTPUT\"\n  - name: deploy\n    foreach: \"${{ steps.plan.outputs.regions }}\"\n    run: echo ${{ item }} >> ran.log\n",
    );
    env.run(&["workflow", "run", "notalist"]).assert_exit(1);
    let status = env.status(None);
    assert_eq!(status["steps"][1]["status"], "failed");
    let error = status["steps"][1]["error"].as_str().unwrap();
    assert!(
        error.starts_with(
            "foreach: `foreach` needs a JSON list (`[\"a\", \"b\"]`), but the value is not JSON (\"eu,us\""
        ),
        "{error}"
    );
    assert!(!env.file("ran.log").exists());
}

/// Seen by a review: a `uses:` step whose `with:` reads an earlier step's output, and whose
/// child cannot start with that value (`abc` for an integer input), was offered `--skip`,
/// abort and a new run, where a `foreach:` list that is no list is offered `--from` the
/// step whose output made it: the same recovery now, by the same judge (`made_by`). A
/// `--rollback-to` that keeps that step is not offered (it gives the same value), nor
/// `--from` a step whose output the refused value does not read.
#[test]
fn a_child_refusing_a_with_value_an_earlier_step_made_offers_resume_from_that_step() {
    let env = Env::new();
    env.workflow(
        "c",
        "name: c\ninputs:\n  n: {type: integer, required: true}\n  m: {type: string, default: z}\nsteps:\n  - {name: x, run: 'echo ${{ inputs.n }} >> got.log'}\n",
    );
    env.workflow(
        "top",
        "name: top\nsteps:\n  - name: a\n    run: if [ -f fixed ]; then echo x=3; else echo x=abc; fi >> \"$CORTEX_OUTPUT\"\n  - {name: b, run: 'echo y=1 >> \"$CORTEX_OUTPUT\"'}\n  - name: call\n    uses: c\n    with: {n: \"${{ steps.a.outputs.x }}\"}\n",
    );
    let run = env.run(&["workflow", "run", "top"]);
    assert_eq!(run.code, 1, "{}", run.text());
    let recovery = &run.stdout[run.stdout.find("Recovery options:").unwrap()..];
    insta::assert_snapshot!(
        "child_refusing_a_with_value_recovery",
        common::redact(recovery, &env)
    );
    let next = env.status(None)["next"].clone();
    let argvs = next_argvs(&next);
    assert_eq!(&argvs[0][argvs[0].len() - 2..], ["--from", "a"], "{next}");
    assert!(
        !argvs
            .iter()
            .any(|a| a.iter().any(|w| w == "--retry" || w == "--rollback-to")),
        "{next}"
    );
    // The way it offers works once what the step reads changed.
    std::fs::write(env.file("fixed"), "").unwrap();
    let args: Vec<&str> = argvs[0][1..].iter().map(String::as_str).collect();
    let from = env.run(&args);
    assert_eq!(from.code, 0, "{}", from.text());
    assert_eq!(lines(&env.file("got.log")), ["3"]);
    // The refused value is the one to make again, not another `with:` entry's: `--from` the
    // step that made it, not an earlier one whose output passed.
    env.workflow(
        "top2",
        "name: top2\nsteps:\n  - {name: early, run: 'echo y=fine >> \"$CORTEX_OUTPUT\"'}\n  - {name: a, run: 'echo x=abc >> \"$CORTEX_OUTPUT\"'}\n  - name: call\n    uses: c\n    with: {m: \"${{ steps.early.outputs.y }}\", n: \"${{ steps.a.outputs.x }}\"}\n",
    );
    let run = env.run(&["--json", "workflow", "run", "top2"]);
    assert_eq!(run.code, 1, "{}", run.text());
    let next = run.json()["next"].clone();
    let first: Vec<String> = serde_json::from_value(next[0]["argv"].clone()).unwrap();
    assert_eq!(&first[first.len() - 2..], ["--from", "a"], "{next}");
}

/// Seen by a review: `workflow resume PARENT` while its child run waits on a prompt answered
/// "nothing to resume" (exit 3) with `status CHILD` and `resume PARENT` as next steps: the
/// second is the command just run, which answers the same again. It offers what `run` and
/// `status` offer, the report on the child's step, and never the plain resume; the report,
/// run as given, drives both runs to their end.
#[test]
fn a_resume_of_a_parent_whose_child_waits_on_a_prompt_offers_the_report_not_itself() {
    let env = Env::new();
    env.workflow(
        "leaf",
        "name: leaf\nsteps:\n  - {name: approve, prompt: ok?}\n  - {name: l2, run: 'echo l2'}\n",
    );
    env.workflow("top", "name: top\nsteps:\n  - {name: call, uses: leaf}\n");
    let run = env.run(&["--json", "workflow", "run", "top"]);
    assert_eq!(run.code, 3, "{}", run.text());
    let parent = run.json()["run_id"].as_str().unwrap().to_string();
    let human = env.run(&["workflow", "resume", &parent]);
    assert_eq!(human.code, 3, "{}", human.text());
    insta::assert_snapshot!(
        "resume_of_a_parent_waiting_on_its_child",
        human.snapshot(&env)
    );
    let doc = env.run(&["--json", "workflow", "resume", &parent]).json();
    let argvs = next_argvs(&doc["next"]);
    assert!(
        !argvs.iter().any(|a| a.iter().any(|w| w == "resume")),
        "{argvs:?}"
    );
    assert_eq!(
        &argvs[0][1..4],
        ["workflow", "step", "complete"],
        "{argvs:?}"
    );
    let args: Vec<&str> = argvs[0][1..].iter().map(String::as_str).collect();
    let out = env.run(&args);
    assert_eq!(out.code, 0, "{}", out.text());
    assert_eq!(env.status(Some(&parent))["status"], "completed");
}

#[test]
/// A `foreach:` list that can never be read from this log (an output that is not JSON, or
/// over the 10,000-item cap) fails the same way on every `--retry`: none is offered; the first
/// way out is `resume --from` the step whose output the list reads, as for a `uses:` whose
/// `with:` values its child refuses. `--retry` was offered first.
fn a_foreach_list_that_is_no_list_offers_resume_from_its_producing_step_not_retry() {
    let env = Env::new();
    env.workflow(
        "regions",
        "name: regions\nsteps:\n  - name: plan\n    run: if [ -f fixed ]; then echo 'regions=[\"eu-west\",\"us-east\"]'; else echo 'regions=eu-west us-east'; fi >> \"$CORTEX_OUTPUT\"\n  - name: deploy\n    foreach: \"${{ steps.plan.outputs.regions }}\"\n    run: echo \"$CORTEX_ITEM\" >> ran.log\n",
    );
    let run = env.run(&["workflow", "run", "regions"]).assert_exit(1);
    // No command offered retries (its reasons may say why not).
    let offers_retry = |out: &str| {
        out.lines()
            .any(|l| l.split('#').next().unwrap_or("").contains("--retry"))
    };
    assert!(!offers_retry(&run.stdout), "{}", run.stdout);
    insta::assert_snapshot!("foreach_not_json_recovery", run.snapshot(&env));
    let next: Vec<String> = env.status(None)["next"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            s["argv"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a.as_str().unwrap_or_default())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    assert!(next[0].ends_with("--from plan"), "{next:?}");
    assert!(next.iter().all(|c| !c.contains("--retry")), "{next:?}");
    // The way it offers works once the world the step reads changed.
    std::fs::write(env.file("fixed"), "").unwrap();
    env.run(&["workflow", "resume", "--from", "plan"])
        .assert_exit(0);
    assert_eq!(lines(&env.file("ran.log")), ["eu-west", "us-east"]);
    // Over the cap: the same.
    env.workflow(
        "many",
        "name: many\nsteps:\n  - name: count\n    run: echo \"n=[$(seq 10001 | paste -sd, -)]\" >> \"$CORTEX_OUTPUT\"\n  - name: each\n    foreach: \"${{ steps.count.outputs.n }}\"\n    run: 'true'\n",
    );
    let run = env.run(&["workflow", "run", "many"]).assert_exit(1);
    assert!(
        run.stdout.contains("the list has 10001 items") && !offers_retry(&run.stdout),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("--from count"), "{}", run.stdout);
    // A scenario's phase alike: `orchestrate resume --from` the phase it reads.
    scenario(
        &env,
        "rr",
        "name: rr\ndescription: d\nphases:\n  - name: plan\n    run: echo 'regions=eu-west us-east' >> \"$CORTEX_OUTPUT\"\n  - name: rollout\n    condition: after:plan\n    parallel: true\n    foreach: \"${{ phases.plan.outputs.regions }}\"\n    run: echo \"$CORTEX_ITEM\"\n",
    );
    let run = env.run(&["orchestrate", "run", "rr"]).assert_exit(1);
    assert!(
        !offers_retry(&run.stdout) && run.stdout.contains("--from plan"),
        "{}",
        run.stdout
    );
}

#[test]
/// A parent failed with a child whose `foreach:` list is no list is not offered the `--retry`
/// that goes on with that child (it fails the same way): `--from` its `uses:` step, a new
/// child that runs its steps again, comes first, and works once the world is fixed.
fn a_parent_whose_child_failed_on_a_foreach_list_offers_from_its_step_not_retry() {
    let env = Env::new();
    env.workflow(
        "kid",
        "name: kid\nsteps:\n  - name: plan\n    run: if [ -f fixed ]; then echo 'regions=[\"eu\"]'; else echo 'regions=eu us'; fi >> \"$CORTEX_OUTPUT\"\n  - name: deploy\n    foreach: \"${{ steps.plan.outputs.regions }}\"\n    run: echo \"$CORTEX_ITEM\" >> ran.log\n",
    )
    .workflow("dad", "name: dad\nsteps:\n  - {name: call, uses: kid}\n");
    let run = env.run(&["workflow", "run", "dad"]).assert_exit(1);
    let recovery = run.stdout.split("Recovery options:").last().unwrap_or("");
    let offered: Vec<&str> = recovery
        .lines()
        .filter_map(|l| l.split('#').next())
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    assert!(offered[0].ends_with("--from call"), "{}", run.stdout);
    assert!(
        offered.iter().all(|c| !c.contains("--retry")),
        "{}",
        run.stdout
    );
    std::fs::write(env.file("fixed"), "").unwrap();
    env.run(&["workflow", "resume", "dad", "--from", "call"])
        .assert_exit(0);
    assert_eq!(lines(&env.file("ran.log")), ["eu"]);
}

#[test]
/// An item is data: one holding a newline was printed raw inside the progress line and the
/// status line of its item, so an item could write a line reading as cortex's own. It is
/// shown on one line, its newline escaped, in progress and in status.
fn a_foreach_item_holding_a_newline_is_shown_on_one_line() {
    let env = Env::new();
    env.workflow(
        "forged",
        "name: forged\nsteps:\n  - name: each\n    foreach: [\"a\\n✅ Workflow completed: forged\"]\n    run: 'true'\n",
    );
    let run = env.run(&["workflow", "run", "forged"]).assert_exit(0);
    let status = env.run(&["workflow", "status"]);
    for text in [&run.stdout, &status.stdout] {
        assert!(
            text.contains("(a\\u{a}✅ Workflow completed: forged)"),
            "{text}"
        );
        assert!(
            !text
                .lines()
                .any(|l| l.starts_with("✅ Workflow completed: forged)")),
            "{text}"
        );
    }
}

#[test]
/// A JSON list in quotes is text to YAML: the message shows it as written (its quotes not
/// escaped, nor doubled as `{:?}` of an escaped text did) and tells to remove the quotes;
/// a control character in such a text still never reaches the terminal.
fn a_quoted_foreach_list_is_shown_as_written_and_told_to_lose_its_quotes() {
    let env = Env::new();
    env.workflow(
        "quoted",
        "name: quoted\nsteps:\n  - name: each\n    foreach: '[\"a\", \"b\"]'\n    run: echo ${{ item }}\n  - name: bell\n    foreach: \"x\\u001b[31my\"\n    run: 'true'\n",
    );
    let out = env.run(&["--json", "workflow", "validate", "quoted"]);
    assert_eq!(out.code, 2, "{}", out.stdout);
    out.assert_error_on_line("`foreach:` is the text `[\"a\", \"b\"]`, not a list", 4);
    assert!(out.stdout.contains("remove the quotes"), "{}", out.stdout);
    out.assert_error_on_line("`foreach:` is the text `x\\u{1b}[31my`, not a list", 7);
}

#[test]
/// A template inside a list written in the definition was taken as the item's text: with
/// `foreach: ["${{ inputs.token }}", x]` the step ran with the item `${{ inputs.token }}`,
/// silently. A written list is data, so such an item is refused, located at the item, in a
/// workflow and in a scenario, and nothing runs.
fn a_template_inside_a_written_foreach_list_is_refused_not_run_as_its_text() {
    let env = Env::new();
    env.workflow(
        "literal",
        "name: literal\ninputs:\n  region: {type: string, default: eu}\nsteps:\n  - name: each\n    foreach:\n      - us\n      - \"${{ inputs.region }}\"\n    run: echo ${{ item }} >> ran.log\n",
    );
    let out = env.run(&["--json", "workflow", "validate", "literal"]);
    assert_eq!(out.code, 2, "{}", out.stdout);
    out.assert_error_on_line(
        "item 1 of `foreach:` holds the template `${{ inputs.region }}`",
        8,
    );
    env.run(&["workflow", "run", "literal"]).assert_exit(2);
    assert!(!env.file("ran.log").exists());
    scenario(
        &env,
        "lit",
        "name: lit\ndescription: d\nphases:\n  - name: each\n    foreach: [\"a ${{ item }}\"]\n    run: 'true'\n",
    );
    let out = env.run(&["--json", "orchestrate", "validate", "lit"]);
    assert_eq!(out.code, 2, "{}", out.stdout);
    out.assert_error_on_line("item 0 of `foreach:` holds the template `${{ item }}`", 5);
}

#[test]
/// An item longer than Linux passes in one environment variable (`$CORTEX_ITEM`, and the
/// `${{ item }}` template's variable) failed its step with a bare "Argument list too long
/// (os error 7)". The error names the variable, its size, the limit and how to pass such a
/// value.
fn a_foreach_item_too_long_for_the_environment_names_the_variable_not_e2big() {
    let env = Env::new();
    env.workflow(
        "bigitem",
        "name: bigitem\nsteps:\n  - name: plan\n    run: python3 -c 'import json; print(\"l=\" + json.dumps([\"x\"*200000]))' >> \"$CORTEX_OUTPUT\"\n  - name: each\n    foreach: \"${{ steps.plan.outputs.l }}\"\n    retry: {max_retry_attempts: 0}\n    run: echo ${#CORTEX_ITEM}\n",
    );
    env.run(&["workflow", "run", "bigitem"]).assert_exit(1);
    let status = env.status(None);
    let error = status["steps"][2]["error"].as_str().unwrap();
    assert_eq!(
        error,
        "could not start: `CORTEX_ITEM` is 200000 bytes, and Linux passes at most 131071 in one environment variable: pass a value this large through a file (write it to one, and give its path as the output or item)",
        "{status}"
    );
}

#[test]
/// A value Linux refuses to pass (longer than one environment variable may be, or holding a
/// NUL) was retried as if the refusal were flaky: each retry met the same refusal after its
/// backoff. The step fails at the first attempt, its retries unspent, as for a missing
/// working directory.
fn a_value_the_system_refuses_to_pass_fails_at_once_without_spending_retries() {
    let env = Env::new();
    env.workflow(
        "bigvalue",
        "name: bigvalue\nsteps:\n  - name: plan\n    run: python3 -c 'print(\"l=\" + \"x\"*200000)' >> \"$CORTEX_OUTPUT\"\n  - name: use\n    retry: {max_retry_attempts: 3, backoff: 0}\n    run: echo \"${{ steps.plan.outputs.l }}\" | wc -c\n",
    );
    env.run(&["workflow", "run", "bigvalue"]).assert_exit(1);
    let status = env.status(None);
    let used = &status["steps"][1];
    assert_eq!(used["attempts"], 1, "{status}");
    assert!(
        used["error"]
            .as_str()
            .is_some_and(|e| e.contains("Linux passes at most")),
        "{status}"
    );
}

#[test]
/// Seen by a review: values each short enough for one environment variable but too much all
/// together (`ARG_MAX`) failed with a bare "Argument list too long (os error 7)", were retried
/// as if that were flaky, and `status` offered `resume --retry`, which meets the same refusal.
/// The attempt fails at once, saying it is all the values together, and no `--retry` is offered.
fn values_too_much_together_for_a_command_fail_at_once_and_offer_no_retry() {
    let env = Env::new();
    // Three steps of eight outputs of 120,000 bytes (each step under the 1 MiB outputs may
    // hold, each value under one variable's limit), all read by one command: 2.88 MB.
    let plans: String = (0..3)
        .map(|p| format!("  - name: p{p}\n    run: python3 -c 'print(\"\\n\".join(\"v%d=\" % i + \"x\"*120000 for i in range(8)))' >> \"$CORTEX_OUTPUT\"\n"))
        .collect();
    let uses: String = (0..3)
        .flat_map(|p| (0..8).map(move |i| format!("${{{{ steps.p{p}.outputs.v{i} }}}}")))
        .collect::<Vec<_>>()
        .join(" ");
    env.workflow(
        "bigtotal",
        &format!(
            "name: bigtotal\nsteps:\n{plans}  - name: use\n    retry: {{max_retry_attempts: 3, backoff: 0}}\n    run: echo \"{uses}\" | wc -c\n"
        ),
    );
    env.run(&["workflow", "run", "bigtotal"]).assert_exit(1);
    let status = env.status(None);
    let used = &status["steps"][3];
    assert_eq!(used["attempts"], 1, "{status}");
    assert!(
        used["error"]
            .as_str()
            .is_some_and(|e| e.contains("more than Linux passes to a program")),
        "{status}"
    );
    let next = status["next"].to_string();
    assert!(!next.contains("--retry"), "{next}");
}

#[test]
fn a_failing_item_pauses_on_that_item_and_retry_runs_only_it() {
    let env = Env::new();
    env.workflow(
        "flaky",
        "name: flaky\nsteps:\n  - name: each\n    foreach: [a, b, c]\n    retry: {max_retry_attempts: 0}\n    run: |\n      echo ${{ item }} >> ran.log\n      [ ${{ item }} != b ] || [ -f fixed ]\n",
    );
    env.run(&["workflow", "run", "flaky"]).assert_exit(1);
    assert_eq!(env.status(None)["failed_step"], "each[1]");
    std::fs::write(env.file("fixed"), "").unwrap();
    env.run(&["workflow", "resume", "--retry"]).assert_exit(0);
    assert_eq!(lines(&env.file("ran.log")), ["a", "b", "b", "c"]);
}

const FAN_SCENARIO: &str = r#"name: fan
description: deploy to every target, at most two at once
max_parallel: 2
inputs:
  env: {type: string, default: prod}
phases:
  - name: plan
    run: echo 'targets=["a","b","c","d"]' >> "$CORTEX_OUTPUT"
  - name: deploy
    condition: after:plan
    parallel: true
    foreach: "${{ phases.plan.outputs.targets }}"
    run:
      - touch "running-${{ item }}"; ls running-* | wc -l >> concurrency.log
      - n=0; while [ $(ls started-* 2>/dev/null | wc -l) -lt 2 ] && [ $n -lt 200 ]; do touch "started-${{ item }}"; sleep 0.05; n=$((n+1)); done; touch "started-${{ item }}"
      - rm "running-${{ item }}"
      - echo "host=h-${{ item }}" >> "$CORTEX_OUTPUT"
  - name: dev-only
    condition: after:plan
    if: inputs.env == 'dev'
    run: exit 1
  - name: verify
    condition: after:deploy,dev-only
    run: echo "${{ phases.deploy.outputs.host }}" > hosts.txt
"#;

#[test]
fn scenario_items_are_phases_that_run_in_parallel_within_max_parallel() {
    let env = Env::new();
    scenario(&env, "fan", FAN_SCENARIO);
    env.run(&["orchestrate", "run", "fan"]).assert_exit(0);
    let concurrency: Vec<usize> = lines(&env.file("concurrency.log"))
        .iter()
        .map(|l| l.trim().parse().unwrap())
        .collect();
    assert_eq!(concurrency.len(), 4, "each item ran once");
    assert!(
        concurrency.iter().all(|&n| n <= 2),
        "never more than max_parallel at once: {concurrency:?}"
    );
    assert_eq!(
        std::fs::read_to_string(env.file("hosts.txt"))
            .unwrap()
            .trim(),
        "[\"h-a\",\"h-b\",\"h-c\",\"h-d\"]"
    );
    let status = env.run(&["--json", "orchestrate", "status", "fan"]).json();
    assert_eq!(status["phases"][2]["name"], "deploy[0]");
    assert_eq!(status["phases"][6]["name"], "dev-only");
    assert_eq!(status["phases"][6]["status"], "skipped");
    insta::assert_snapshot!(
        "fan_scenario_status",
        env.run(&["orchestrate", "status", "fan"]).snapshot(&env)
    );
}

const CHILD: &str = r#"name: child
inputs:
  region: {type: string, required: true}
steps:
  - name: deploy
    run: |
      echo "deploy $CORTEX_INPUT_REGION" >> ran.log
      echo "url=https://${{ inputs.region }}.example" >> "$CORTEX_OUTPUT"
"#;

const PARENT: &str = r#"name: parent
steps:
  - name: ship
    uses: child
    with: {region: eu}
  - name: ship-all
    foreach: [us, ap]
    uses: child
    with: {region: "${{ item }}"}
  - name: after
    run: echo "after ${{ steps.ship.outputs.url }} ${{ steps.ship-all.outputs.url }}" >> ran.log
"#;

#[test]
fn uses_runs_a_child_run_linked_both_ways_whose_outputs_become_the_step_s() {
    let env = Env::new();
    env.workflow("child", CHILD).workflow("parent", PARENT);
    env.run(&["workflow", "run", "parent"]).assert_exit(0);
    assert_eq!(
        lines(&env.file("ran.log")),
        [
            "deploy eu",
            "deploy us",
            "deploy ap",
            "after https://eu.example [\"https://us.example\",\"https://ap.example\"]"
        ]
    );
    let history = env.run(&["--json", "workflow", "history"]).json()["runs"].clone();
    let runs = history.as_array().unwrap();
    assert_eq!(runs.len(), 4, "the parent and three child runs");
    let parent_id = runs.iter().find(|r| r["name"] == "parent").unwrap()["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    let status = env.status(Some(&parent_id));
    let child_id = status["steps"][0]["uses"]["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(status["steps"][0]["uses"]["workflow"], "child");
    // Linked both ways: the parent's step names the child, the child names the parent.
    let child = env.status(Some(&child_id));
    assert_eq!(child["parent"]["run_id"], parent_id.as_str());
    assert_eq!(child["parent"]["step"], "ship");
    // History marks child runs, which run with their parent, not on their own: each names
    // its parent and step, in --json and in words; the parent names none.
    for r in runs {
        match r["name"].as_str() {
            Some("parent") => assert!(r.get("parent").is_none(), "{r}"),
            _ => assert_eq!(r["parent"]["run_id"], parent_id.as_str(), "{r}"),
        }
    }
    let table = env.run(&["workflow", "history"]).stdout;
    assert!(
        table.contains(&format!("(child of {parent_id}, step `ship`)")),
        "{table}"
    );
    assert_eq!(
        table.matches("(child of").count(),
        3,
        "the three child runs: {table}"
    );
    let all = events(&env);
    assert!(all.iter().any(|e| e["type"] == "child_started"
        && e["body"]["run_id"] == child_id.as_str()
        && e["run_id"] == parent_id.as_str()));
    insta::assert_snapshot!(
        "uses_parent_status",
        env.run(&["workflow", "status", &parent_id]).snapshot(&env)
    );
    assert_eq!(
        env.run(&["--json", "log", "verify", "--all"]).json()["ok"],
        true
    );
}

#[test]
/// SPEC §4: `resume` warns if the definition file differs. A parent's child runs are made
/// from the parent's snapshot of its `uses:` workflows, so resuming the parent after the
/// child's file was edited runs the old child: that is said, with the way to take the change
/// (a new run; `--from` starts a child from the same snapshot). It was said only when the
/// child was resumed on its own; the parent's `--retry` ran `version=1` again silently.
fn resuming_a_parent_warns_that_its_child_s_definition_file_changed() {
    let env = Env::new();
    env.workflow(
        "kid",
        "name: kid\nsteps:\n  - name: k\n    run: echo \"version=1\"; exit 1\n    retry: {max_retry_attempts: 0}\n",
    )
    .workflow(
        "dad",
        "name: dad\nsteps:\n  - {name: call, uses: kid, retry: {max_retry_attempts: 0}}\n",
    );
    env.run(&["workflow", "run", "dad"]).assert_exit(1);
    env.workflow(
        "kid",
        "name: kid\nsteps:\n  - name: k\n    run: echo \"version=2 FIXED\"\n",
    );
    let resume = env
        .run(&["workflow", "resume", "dad", "--retry"])
        .assert_exit(1);
    assert!(resume.stdout.contains("version=1"), "{}", resume.stdout);
    assert_eq!(
        resume
            .stderr
            .matches("changed since this run started")
            .count(),
        1,
        "{}",
        resume.stderr
    );
    insta::assert_snapshot!("resume_parent_child_changed", resume.snapshot(&env));
    let doc = env
        .run(&["--json", "workflow", "resume", "dad", "--retry"])
        .json();
    let warning = doc["warnings"][0].as_str().unwrap_or_default();
    assert!(
        warning.contains(
            "kid.yaml (workflow `kid`, run by `uses: kid`) changed since this run started"
        ) && warning.contains("`cortex workflow run dad`"),
        "{doc}"
    );
    // The parent's own file unchanged and no `uses:` changed: nothing said.
    let fresh = env.run(&["workflow", "run", "dad"]).assert_exit(0);
    assert!(fresh.stdout.contains("version=2 FIXED"), "{}", fresh.stdout);
}

#[test]
fn a_failing_child_fails_the_step_with_the_child_s_reason_and_retry_resumes_that_child() {
    let env = Env::new();
    env.workflow(
        "fragile",
        "name: fragile\nsteps:\n  - name: one\n    run: echo one >> ran.log\n  - name: two\n    run: echo two >> ran.log; test -f fixed\n    retry: {max_retry_attempts: 0}\n",
    )
    .workflow(
        "outer",
        "name: outer\nsteps:\n  - name: inner\n    uses: fragile\n  - name: after\n    run: echo after >> ran.log\n",
    );
    env.run(&["workflow", "run", "outer"]).assert_exit(1);
    let history = env.run(&["--json", "workflow", "history"]).json()["runs"].clone();
    let outer = history
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "outer")
        .unwrap()["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    let status = env.status(Some(&outer));
    let error = status["steps"][0]["error"].as_str().unwrap();
    assert!(
        error.contains("failed (it can be resumed): step `two` failed: exited with code 1"),
        "{error}"
    );
    std::fs::write(env.file("fixed"), "").unwrap();
    env.run(&["workflow", "resume", &outer, "--retry"])
        .assert_exit(0);
    assert_eq!(lines(&env.file("ran.log")), ["one", "two", "two", "after"]);
    assert_eq!(
        env.run(&["--json", "workflow", "history"]).json()["runs"]
            .clone()
            .as_array()
            .unwrap()
            .len(),
        2,
        "the same child run was resumed, no second one started"
    );
}

const REVIEW: &str = r#"name: review
inputs:
  what: {type: string, required: true}
steps:
  - name: look
    prompt: Review ${{ inputs.what }}; report --output verdict=...
  - name: record
    run: echo "verdict=${{ steps.look.outputs.verdict }}" >> "$CORTEX_OUTPUT"
"#;

const RELEASE: &str = r#"name: release
steps:
  - name: build
    run: echo "artifact=app.tar" >> "$CORTEX_OUTPUT"
  - name: review
    uses: review
    with: {what: "${{ steps.build.outputs.artifact }}"}
  - name: publish
    run: echo "publish after ${{ steps.review.outputs.verdict }}" >> ran.log
"#;

#[test]
fn a_waiting_child_makes_its_step_wait_and_a_report_on_it_drives_the_parent_on() {
    let env = Env::new();
    env.workflow("review", REVIEW).workflow("release", RELEASE);
    let run = env.run(&["workflow", "run", "release"]).assert_exit(3);
    assert!(
        run.stdout.contains("Review app.tar; report"),
        "the child's prompt is shown rendered: {}",
        run.stdout
    );
    let parent = env.status(Some("release"));
    assert_eq!(parent["status"], "waiting");
    assert_eq!(parent["steps"][1]["status"], "waiting");
    let child_id = parent["steps"][1]["uses"]["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    // What it waits on, down the chain, with the prompt rendered, and the report to make.
    assert_eq!(parent["steps"][1]["uses"]["waits_on"]["step"], "look");
    assert_eq!(
        parent["steps"][1]["uses"]["waits_on"]["prompt"],
        "Review app.tar; report --output verdict=..."
    );
    // `verdict` is read by a later step of the child but required by no gate: in the report
    // all the same (an agent runs it as it is), and said to be read later.
    assert_eq!(
        parent["next"][0]["argv"],
        serde_json::json!([
            "cortex",
            "workflow",
            "step",
            "complete",
            "look",
            "--run",
            child_id,
            "--output",
            "verdict=VALUE",
        ])
    );
    assert!(
        parent["next"][0]["why"]
            .as_str()
            .unwrap()
            .ends_with("; later steps read `verdict`, empty if left out"),
        "{}",
        parent["next"][0]
    );
    assert_eq!(
        parent["steps"][1]["uses"]["waits_on"]["expected_outputs"],
        serde_json::json!(["verdict"])
    );
    insta::assert_snapshot!(
        "uses_waiting_parent_status",
        env.run(&["workflow", "status", "release"]).snapshot(&env)
    );
    // Reporting on the parent's `uses:` step itself is refused, naming the child.
    let wrong = env
        .run(&["workflow", "step", "complete", "review", "--run", "release"])
        .assert_exit(2);
    assert!(wrong.stderr.contains(&child_id), "{}", wrong.stderr);
    // One report on the child's step: the child finishes and the parent goes on.
    let report = env
        .run(&[
            "--json",
            "workflow",
            "step",
            "complete",
            "look",
            "--run",
            &child_id,
            "--output",
            "verdict=approved",
        ])
        .assert_exit(0);
    let doc = report.json();
    assert_eq!(doc["name"], "release", "the top-most run's document");
    assert_eq!(doc["status"], "completed");
    assert_eq!(lines(&env.file("ran.log")), ["publish after approved"]);
    assert_eq!(env.status(Some(&child_id))["status"], "completed");
}

/// Run workflow `name` and SIGKILL its driver once `ran.log` holds the line `line`.
fn killed_once_logged(env: &Env, name: &str, line: &str) {
    let mut driver = env
        .command(&["workflow", "run", name])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    common::wait_until(&format!("`{line}` in ran.log"), || {
        lines(&env.file("ran.log")).contains(&line.to_string())
    });
    driver.kill().unwrap(); // SIGKILL
    driver.wait().unwrap();
}

#[test]
fn killing_the_driver_inside_a_child_then_resuming_the_parent_resumes_that_child() {
    let env = Env::new();
    env.workflow(
        "slow",
        "name: slow\nsteps:\n  - name: one\n    run: echo one >> ran.log\n  - name: two\n    run: echo two >> ran.log; sleep 2; echo \"two=2\" >> \"$CORTEX_OUTPUT\"\n",
    )
    .workflow(
        "outer",
        "name: outer\nsteps:\n  - name: inner\n    uses: slow\n  - name: after\n    run: echo \"after ${{ steps.inner.outputs.two }}\" >> ran.log\n",
    );
    killed_once_logged(&env, "outer", "two");
    assert_eq!(env.status(Some("outer"))["status"], "interrupted");
    assert_eq!(env.status(Some("slow"))["status"], "interrupted");
    env.run(&["workflow", "resume", "outer"]).assert_exit(0);
    assert_eq!(
        lines(&env.file("ran.log")),
        ["one", "two", "two", "after 2"],
        "the child's completed step is not run again; the one in flight is"
    );
    assert_eq!(
        env.run(&["--json", "workflow", "history"]).json()["runs"]
            .clone()
            .as_array()
            .unwrap()
            .len(),
        2,
        "resuming the parent resumed its child rather than starting a new one"
    );
    assert_eq!(
        env.run(&["--json", "log", "verify", "--all"]).json()["ok"],
        true
    );
}

/// `top → mid → leaf` (`uses:`), its driver killed inside the leaf: the suggested command
/// (resume the leaf, the latest run), pasted as it is, carries `mid` and `top` on too rather
/// than completing the leaf alone and leaving its parents interrupted.
#[test]
fn resuming_a_child_whose_parents_were_interrupted_with_it_carries_them_on() {
    let env = Env::new();
    env.workflow(
        "top",
        "name: top\nsteps:\n  - name: mid\n    uses: mid\n  - name: z\n    run: echo z >> ran.log\n",
    )
    .workflow("mid", "name: mid\nsteps:\n  - name: b\n    uses: leaf\n")
    .workflow(
        "leaf",
        "name: leaf\nsteps:\n  - name: s\n    run: echo s >> ran.log; sleep 2\n",
    );
    killed_once_logged(&env, "top", "s");
    for name in ["top", "mid", "leaf"] {
        assert_eq!(env.status(Some(name))["status"], "interrupted", "{name}");
    }
    assert_eq!(
        env.status(None)["name"],
        "top",
        "no RUN means the latest top-level run"
    );
    let status = env.status(Some("leaf"));
    assert_eq!(status["name"], "leaf");
    let argv: Vec<String> = status["next"][0]["argv"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_string())
        .collect();
    assert_eq!(argv[1..3], ["workflow", "resume"], "{status}");
    let args: Vec<&str> = argv[1..].iter().map(String::as_str).collect();
    let resumed = env.run(&args).assert_exit(0);
    let top = env.status(Some("top"));
    assert!(
        resumed.stdout.contains(&format!(
            "is a `uses:` child of run {}, interrupted with it",
            top["run_id"].as_str().unwrap()
        )),
        "{}",
        resumed.stdout
    );
    for name in ["top", "mid", "leaf"] {
        assert_eq!(env.status(Some(name))["status"], "completed", "{name}");
    }
    assert_eq!(lines(&env.file("ran.log")), ["s", "s", "z"]);
    assert_eq!(
        env.run(&["--json", "workflow", "history"]).json()["runs"]
            .clone()
            .as_array()
            .unwrap()
            .len(),
        3,
        "no new run was started"
    );
}

/// `outer` (whose first step `uses: stoppable`, a child that waits until `fast` exists)
/// driven, and stopped by Ctrl-C (SIGINT) while its child's step runs: the driver exited 3.
fn outer_stopped_by_sigint_inside_its_child() -> Env {
    let env = Env::new();
    env.workflow(
        "stoppable",
        "name: stoppable\nsteps:\n  - name: long\n    run: echo go >> ran.log; touch started; [ -f fast ] || sleep 30\n",
    )
    .workflow(
        "outer",
        "name: outer\nsteps:\n  - name: inner\n    uses: stoppable\n  - name: after\n    run: echo after >> ran.log\n",
    );
    let mut driver = env
        .command(&["workflow", "run", "outer"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    common::wait_until("the child's step", || env.file("started").exists());
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(driver.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    assert_eq!(driver.wait().unwrap().code(), Some(3));
    env
}

#[test]
fn sigint_stops_the_child_and_the_parent_and_resume_goes_on_with_both() {
    let env = outer_stopped_by_sigint_inside_its_child();
    assert_eq!(env.status(Some("outer"))["status"], "stopped");
    assert_eq!(env.status(Some("stoppable"))["status"], "stopped");
    std::fs::write(env.file("fast"), "").unwrap();
    env.run(&["workflow", "resume", "outer"]).assert_exit(0);
    assert_eq!(lines(&env.file("ran.log")), ["go", "go", "after"]);
    assert_eq!(env.status(Some("stoppable"))["status"], "completed");
}

#[test]
fn a_child_resumed_on_its_own_after_sigint_left_its_stopped_parent_unmentioned() {
    // Ctrl-C on the parent stops both; `workflow resume` (the latest run: the child) finished
    // the child and said nothing of the parent, still stopped, its `uses:` step unfinished.
    let env = outer_stopped_by_sigint_inside_its_child();
    let parent = env.status(Some("outer"))["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    std::fs::write(env.file("fast"), "").unwrap();
    let child = env
        .run(&["--json", "workflow", "resume", "stoppable"])
        .assert_exit(0);
    let doc = child.json();
    assert_eq!(doc["status"], "completed");
    let next = doc["next"].as_array().unwrap();
    let resume = next
        .iter()
        .find(|s| s["argv"].as_array().unwrap().iter().any(|a| a == &parent))
        .unwrap_or_else(|| panic!("no suggestion names the parent {parent}: {doc}"));
    let argv: Vec<&str> = resume["argv"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(
        argv[argv.len() - 3..],
        ["workflow", "resume", parent.as_str()]
    );
    let shown = env.run(&["workflow", "status", "stoppable"]);
    assert!(
        shown.stdout.contains(&format!("workflow resume {parent}")),
        "{}",
        shown.stdout
    );
    // The suggestion does what it says: the parent goes on, the child is not run again.
    env.run(&["workflow", "resume", &parent]).assert_exit(0);
    assert_eq!(lines(&env.file("ran.log")), ["go", "go", "after"]);
    assert_eq!(env.status(Some("outer"))["status"], "completed");
    let after = env
        .run(&["--json", "workflow", "status", "stoppable"])
        .json();
    assert!(
        !after["next"].as_array().unwrap().iter().any(|s| s["argv"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a == &parent)),
        "{after}"
    );
}

#[test]
fn aborting_the_parent_aborts_its_waiting_child() {
    let env = Env::new();
    env.workflow("review", REVIEW).workflow("release", RELEASE);
    env.run(&["workflow", "run", "release"]).assert_exit(3);
    env.run(&["workflow", "abort", "release", "--message", "not now"])
        .assert_exit(1);
    let child = env.status(Some("review"));
    assert_eq!(child["status"], "aborted");
    assert!(
        child["reason"].as_str().unwrap().contains("aborted by "),
        "{child}"
    );
    let log = env.run(&["log", "show", "review"]);
    assert!(log.stdout.contains("its parent run"), "{}", log.stdout);
}

/// A child that waits on its prompt before a step with a side effect, and a parent calling it.
const GATED_CHILD: &str = "name: gated\nsteps:\n  - {name: approve, prompt: go on?}\n  - {name: side, run: echo side >> ran.log}\n";
const CALLER: &str = "name: caller\nsteps:\n  - {name: call, uses: gated}\n";

/// The child run the parent's step `call` links to now.
fn linked_child(env: &Env) -> String {
    env.status(Some("caller"))["steps"][0]["uses"]["run_id"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn a_child_superseded_by_resume_from_is_ended_and_suggests_nothing() {
    let env = Env::new();
    env.workflow("gated", GATED_CHILD)
        .workflow("caller", CALLER);
    env.run(&["workflow", "run", "caller"]).assert_exit(3);
    let old = linked_child(&env);
    env.run(&["workflow", "resume", "caller", "--from", "call"])
        .assert_exit(3);
    let new = linked_child(&env);
    assert_ne!(old, new, "the step runs a new child");
    // The old child is ended in its own log, by the resume's actor, saying why.
    let child = env.status(Some(&old));
    assert_eq!(child["status"], "aborted", "{child}");
    let reason = child["reason"].as_str().unwrap();
    assert!(
        reason.contains("superseded")
            && reason.contains(child["parent"]["run_id"].as_str().unwrap()),
        "{child}"
    );
    assert_eq!(
        child["next"],
        serde_json::json!([]),
        "it suggests nothing: {child}"
    );
    assert!(env.run(&["log", "verify", &old]).code == 0);
    // A report on it is refused: its steps never run for nobody.
    let report = env.run(&["workflow", "step", "complete", "approve", "--run", &old]);
    assert_ne!(report.code, 0, "{}{}", report.stdout, report.stderr);
    assert!(!env.file("ran.log").exists());
    // The new child is the one the parent waits on, and reporting on it goes on.
    assert_eq!(env.status(Some(&new))["status"], "waiting");
    env.run(&["workflow", "step", "complete", "approve", "--run", &new])
        .assert_exit(0);
    assert_eq!(lines(&env.file("ran.log")), ["side"]);
    assert_eq!(env.status(Some("caller"))["status"], "completed");
}

#[test]
fn composition_events_conform_to_the_event_schema() {
    let env = Env::new();
    env.workflow("child", CHILD)
        .workflow("parent", PARENT)
        .workflow("guarded", GUARDED)
        .workflow("fanout", FANOUT);
    for name in ["parent", "guarded", "fanout"] {
        env.run(&["workflow", "run", name]).assert_exit(0);
    }
    let schema: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(format!(
            "{}/schemas/event.schema.json",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let mut types = std::collections::BTreeSet::new();
    for event in events(&env) {
        let errors: Vec<String> = validator
            .iter_errors(&event)
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{event}\n{}", errors.join("\n"));
        types.insert(event["type"].as_str().unwrap().to_string());
        if event["type"] == "foreach_expanded" || event["type"] == "child_started" {
            assert_eq!(event["version"], 3);
        }
    }
    for t in [
        "condition_checked",
        "foreach_expanded",
        "foreach_finished",
        "child_started",
    ] {
        assert!(types.contains(t), "no {t} event in {types:?}");
    }
}

#[test]
fn uses_depth_limit_was_bypassed_by_a_workflow_reached_first_by_a_shorter_chain() {
    // `a` uses `y0` directly (a short chain, walked first and remembered) and through
    // z1..z8: the long chain root → a → z1..z8 → y0..y10 is 21 workflows deep. The walk
    // remembered `y0` as fine and let the long chain through.
    let env = Env::new();
    env.workflow("root", "name: root\nsteps:\n  - name: s\n    uses: a\n")
        .workflow(
            "a",
            "name: a\nsteps:\n  - name: short\n    uses: y0\n  - name: long\n    uses: z1\n",
        )
        .workflow(
            "y10",
            "name: y10\nsteps:\n  - name: leaf\n    run: echo leaf\n",
        );
    for i in 1..=8 {
        let next = if i == 8 {
            "y0".to_string()
        } else {
            format!("z{}", i + 1)
        };
        env.workflow(
            &format!("z{i}"),
            &format!("name: z{i}\nsteps:\n  - name: s\n    uses: {next}\n"),
        );
    }
    for i in 0..10 {
        env.workflow(
            &format!("y{i}"),
            &format!("name: y{i}\nsteps:\n  - name: s\n    uses: y{}\n", i + 1),
        );
    }
    let out = env.run(&["workflow", "validate", "root"]).assert_exit(2);
    let text = format!("{}{}", out.stdout, out.stderr);
    assert!(
        text.contains("nests deeper than 16 workflows (through root → a → z1 →"),
        "{text}"
    );
    assert!(text.contains("a chain of `uses:` is at most 16"), "{text}");
    env.run(&["workflow", "run", "root"]).assert_exit(2);
    // The short chain alone (a → y0..y10, 13 deep from root) is fine.
    env.workflow("a", "name: a\nsteps:\n  - name: short\n    uses: y0\n");
    env.run(&["workflow", "validate", "root"]).assert_exit(0);
}

#[test]
fn cycles_through_uses_are_located_errors_with_exit_2() {
    let env = Env::new();
    env.workflow("a", "name: a\nsteps:\n  - name: call-b\n    uses: b\n")
        .workflow("b", "name: b\nsteps:\n  - name: call-c\n    uses: c\n")
        .workflow("c", "name: c\nsteps:\n  - name: call-a\n    uses: a\n")
        .workflow(
            "self",
            "name: self\nsteps:\n  - name: again\n    uses: self\n",
        );
    let out = env.run(&["workflow", "validate", "a"]);
    assert_eq!(out.code, 2);
    insta::assert_snapshot!("uses_cycle", out.snapshot(&env));
    let json = env.run(&["--json", "workflow", "validate", "self"]).json();
    assert_eq!(json["errors"][0]["line"], 4);
    assert_eq!(json["errors"][0]["column"], 11);
    env.run(&["workflow", "run", "a"]).assert_exit(2);
    assert!(
        !env.db().exists()
            || env.run(&["--json", "workflow", "history"]).json()["runs"].clone()
                == serde_json::json!([])
    );
}

#[test]
fn conditions_that_do_not_parse_foreach_over_non_lists_and_bad_with_are_located_errors() {
    let env = Env::new();
    env.workflow("child", CHILD).workflow(
        "bad",
        r#"name: bad
inputs:
  env: {type: string, default: dev}
steps:
  - name: one
    run: echo
    if: inputs.env = 'prod'
  - name: two
    run: echo ${{ item }}
    foreach: a,b,c
  - name: three
    uses: child
    with: {regoin: eu}
  - name: four
    run: echo
    if: steps.five.outputs.x == '1'
  - name: five
    uses: chidl
"#,
    );
    let out = env.run(&["workflow", "validate", "bad"]);
    assert_eq!(out.code, 2);
    insta::assert_snapshot!("bad_composition", out.snapshot(&env));
    env.workflow(
        "notlist",
        "name: notlist\nsteps:\n  - name: each\n    run: echo\n    foreach: 3\n",
    );
    let json = env
        .run(&["--json", "workflow", "validate", "notlist"])
        .json();
    assert_eq!(json["valid"], false);
    assert_eq!(json["errors"][0]["line"], 5);
    assert_eq!(json["errors"][0]["column"], 14);
    scenario(
        &env,
        "badscen",
        "name: badscen\ndescription: d\nphases:\n  - name: p\n    run: 'true'\n    if: phases.q.outputs.x == ||\n  - name: q\n    run: 'true'\n    foreach: {a: 1}\n",
    );
    let out = env
        .run(&["orchestrate", "validate", "badscen"])
        .assert_exit(2);
    assert!(out.stdout.contains("badscen.yaml:9:14"), "{}", out.stdout);
}

#[test]
fn a_uses_step_s_validate_gate_checks_the_child_s_outputs() {
    let env = Env::new();
    env.workflow("child", CHILD).workflow(
        "gated",
        r#"name: gated
steps:
  - name: ship
    uses: child
    with: {region: eu}
    validate:
      - output: url
      - run: test "${{ steps.ship.outputs.url }}" = https://eu.example
  - name: strict
    uses: child
    with: {region: us}
    validate:
      - output: checksum
"#,
    );
    env.run(&["workflow", "run", "gated"]).assert_exit(1);
    let status = env.status(Some("gated"));
    assert_eq!(status["steps"][0]["status"], "completed");
    assert_eq!(status["steps"][1]["status"], "failed");
    assert_eq!(
        status["steps"][1]["error"],
        "validation failed: output `checksum` was not produced"
    );
}

#[test]
fn a_secret_input_handed_to_a_child_is_never_recorded_by_the_child() {
    let env = Env::new();
    let secret = "child-secret-0123456789";
    env.workflow(
        "use-key",
        "name: use-key\ninputs:\n  key: {type: string, required: true}\nsteps:\n  - name: wait\n    prompt: check the key\n  - name: use\n    run: echo \"${{ inputs.key }}\" > used.txt; echo \"echo=${{ inputs.key }}\" >> \"$CORTEX_OUTPUT\"\n",
    )
    .workflow(
        "holder",
        "name: holder\ninputs:\n  api_token: {type: string, required: true}\nsteps:\n  - name: hand\n    uses: use-key\n    with: {key: \"${{ inputs.api_token }}\"}\n",
    );
    let run = env
        .command(&["workflow", "run", "holder"])
        .env("CORTEX_INPUT_API_TOKEN", secret)
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(3));
    let child = env.status(Some("use-key"));
    assert_eq!(child["inputs"]["key"], "***");
    // Another process, given the parent's secret again, reports on the child: the parent
    // hands it to the child, which finishes, and the parent with it.
    let report = env
        .command(&["workflow", "step", "complete", "wait"])
        .env("CORTEX_INPUT_API_TOKEN", secret)
        .output()
        .unwrap();
    assert_eq!(
        report.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&report.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(env.file("used.txt"))
            .unwrap()
            .trim(),
        secret,
        "the child's step was given the value"
    );
    let found = files_holding(&env.home(), secret);
    assert!(found.is_empty(), "the secret is stored in {found:?}");
    for run in ["holder", "use-key"] {
        for args in [
            vec!["--json", "workflow", "status", run],
            vec!["log", "export", run],
        ] {
            let out = env.run(&args);
            assert!(!out.stdout.contains(secret), "{args:?}:\n{}", out.stdout);
        }
    }
}

/// The run id of the latest run of workflow `name`.
fn run_of(env: &Env, name: &str) -> String {
    env.status(Some(name))["run_id"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn aborting_a_waiting_child_directly_fails_its_parent_s_step_at_once() {
    let env = Env::new();
    env.workflow("review", REVIEW).workflow("release", RELEASE);
    env.run(&["workflow", "run", "release"]).assert_exit(3);
    let child = run_of(&env, "review");
    let abort = env.run(&["workflow", "abort", &child]).assert_exit(1);
    assert!(abort.stdout.contains("The parent run"), "{}", abort.stdout);
    let parent = env.status(Some("release"));
    assert_eq!(parent["status"], "failed", "{parent}");
    let step = &parent["steps"][1];
    assert!(
        step["error"]
            .as_str()
            .unwrap()
            .contains(&format!("child run {child} aborted")),
        "{step}"
    );
    let next = parent["next"].to_string();
    assert!(!next.contains("step\",\"complete"), "{next}");
    assert!(next.contains("--retry"), "{next}");
    // `resume --retry` starts a new child (the aborted one is over), which waits again.
    env.run(&["workflow", "resume", "release", "--retry"])
        .assert_exit(3);
    assert_ne!(run_of(&env, "review"), child);
}

#[test]
fn a_report_that_fails_a_child_s_step_fails_its_parent_s_step_and_retry_resumes_that_child() {
    let env = Env::new();
    env.workflow("review", REVIEW).workflow("release", RELEASE);
    env.run(&["workflow", "run", "release"]).assert_exit(3);
    let child = run_of(&env, "review");
    env.run(&["workflow", "step", "fail", "look", "--run", &child])
        .assert_exit(1);
    assert_eq!(env.status(Some("release"))["status"], "failed");
    // Retrying the parent goes on with the same child, whose step waits for a report again.
    env.run(&["workflow", "resume", "release", "--retry"])
        .assert_exit(3);
    assert_eq!(run_of(&env, "review"), child);
    env.run(&[
        "workflow",
        "step",
        "complete",
        "look",
        "--run",
        &child,
        "--output",
        "verdict=ok",
    ])
    .assert_exit(0);
    assert_eq!(env.status(Some("release"))["status"], "completed");
}

#[test]
fn a_parent_waiting_on_a_child_that_ended_meanwhile_never_suggests_a_report_on_it() {
    let env = Env::new();
    env.workflow("review", REVIEW).workflow("release", RELEASE);
    env.run(&["workflow", "run", "release"]).assert_exit(3);
    let parent = run_of(&env, "release");
    let child = run_of(&env, "review");
    // Someone holds the parent's lock: the abort of the child cannot drive the parent on.
    let lock = env.home().join("locks").join(format!("{parent}.lock"));
    // `-o`: flock itself holds the lock (not `sleep`), so killing it lets the lock go.
    let mut holder = std::process::Command::new("flock")
        .arg("-o")
        .arg(&lock)
        .args(["sleep", "60"])
        .spawn()
        .unwrap();
    for _ in 0..100 {
        if lock.exists() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    std::thread::sleep(std::time::Duration::from_millis(200));
    env.run(&["workflow", "abort", &child]).assert_exit(1);
    let status = env.status(Some(&parent));
    holder.kill().unwrap();
    holder.wait().unwrap();
    assert_eq!(status["status"], "waiting", "{status}");
    assert_eq!(
        status["steps"][1]["uses"]["child_ended"], "aborted",
        "{status}"
    );
    let argvs: Vec<String> = status["next"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["argv"].to_string())
        .collect();
    assert!(
        argvs.iter().all(|a| !a.contains(&child)),
        "a suggestion on the finished child: {argvs:?}"
    );
    assert!(argvs[0].contains("resume"), "{argvs:?}");
    // Resuming gives the step the child's end.
    env.run(&["workflow", "resume", &parent]).assert_exit(1);
    assert_eq!(env.status(Some(&parent))["status"], "failed");
}

const TYPED_CHILD: &str = "name: typed\ninputs:\n  need: {type: integer, required: true}\n  mode: {type: string, enum: [fast, safe]}\nsteps: [{name: s, run: echo ok}]\n";

/// `(message, line, column)` of each error `workflow validate --json` gives for `name`.
fn validation_errors(env: &Env, name: &str) -> (i32, Vec<(String, u64, u64)>) {
    let out = env.run(&["--json", "workflow", "validate", name]);
    let errors = out.json()["errors"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|e| {
            (
                e["message"].as_str().unwrap().to_string(),
                e["line"].as_u64().unwrap_or(0),
                e["column"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    (out.code, errors)
}

#[test]
fn a_literal_with_value_that_does_not_pass_the_child_s_input_is_refused_by_validate_where_it_is() {
    let env = Env::new();
    env.workflow("typed", TYPED_CHILD).workflow(
        "caller",
        "name: caller\nsteps:\n  - {name: y, uses: typed, with: {need: notanint}}\n  - name: z\n    uses: typed\n    with:\n      need: 3\n      mode: reckless\n",
    );
    let (code, errors) = validation_errors(&env, "caller");
    assert_eq!(code, 2, "{errors:?}");
    assert!(
        errors
            .iter()
            .any(|(m, l, c)| m.contains("`notanint` is not an integer") && (*l, *c) == (3, 41)),
        "{errors:?}"
    );
    assert!(
        errors
            .iter()
            .any(|(m, l, _)| m.contains("reckless") && m.contains("not one of") && *l == 8),
        "{errors:?}"
    );
    // A templated value is known only when the run gets there.
    env.workflow(
        "later",
        "name: later\ninputs: {x: {type: string, default: '3'}}\nsteps:\n  - {name: y, uses: typed, with: {need: \"${{ inputs.x }}\"}}\n",
    );
    assert_eq!(validation_errors(&env, "later").0, 0);
}

#[test]
fn a_with_key_that_is_not_an_input_is_located_at_the_key() {
    let env = Env::new();
    env.workflow("typed", TYPED_CHILD).workflow(
        "caller",
        "name: caller\nsteps:\n  - {name: y, uses: typed, with: {need: 1, nede: 1}}\n",
    );
    let (code, errors) = validation_errors(&env, "caller");
    assert_eq!(code, 2);
    assert!(
        errors
            .iter()
            .any(|(m, l, c)| m.contains("gives `nede`") && (*l, *c) == (3, 44)),
        "{errors:?}"
    );
}

#[test]
fn a_child_that_cannot_start_fails_its_step_at_once_without_retries() {
    let env = Env::new();
    env.workflow("typed", TYPED_CHILD).workflow(
        "caller",
        "name: caller\ninputs: {x: {type: string, default: nope}}\nsteps:\n  - {name: y, uses: typed, with: {need: \"${{ inputs.x }}\"}}\n",
    );
    // Read from the run's inputs, the value is checked before the run: nothing starts.
    env.run(&["workflow", "run", "caller"]).assert_exit(2);
    // Known only as the run goes (a step's output), it fails the step at once.
    env.workflow(
        "caller",
        "name: caller\nsteps:\n  - {name: s, run: 'echo v=nope >> \"$CORTEX_OUTPUT\"'}\n  - {name: y, uses: typed, with: {need: \"${{ steps.s.outputs.v }}\"}}\n",
    );
    env.run(&["workflow", "run", "caller"]).assert_exit(1);
    let status = env.status(Some("caller"));
    assert_eq!(status["steps"][1]["attempts"], 1, "{status}");
    assert!(
        status["steps"][1]["error"]
            .as_str()
            .unwrap()
            .contains("`nope` is not an integer"),
        "{status}"
    );
    assert!(
        !env.run(&["log", "show", "caller"]).stdout.contains("retry"),
        "a retry was scheduled"
    );
}

#[test]
fn an_if_that_can_never_be_decided_or_an_empty_command_condition_is_refused_by_validate() {
    let env = Env::new();
    env.workflow(
        "undecidable",
        "name: undecidable\ninputs: {n: {type: integer, default: 3}, f: {type: boolean, default: false}, s: {type: string, default: x}}\nsteps:\n  - {name: a, if: \"inputs.n > 'abc'\", run: echo}\n  - {name: b, if: \"inputs.f < true\", run: echo}\n  - {name: c, if: {run: ''}, run: echo}\n  - {name: d, if: \"inputs.n > '2' && inputs.s > 'abc' && inputs.f == 'true'\", run: echo}\n",
    );
    let (code, errors) = validation_errors(&env, "undecidable");
    assert_eq!(code, 2, "{errors:?}");
    let lines: Vec<u64> = errors.iter().map(|(_, l, _)| *l).collect();
    assert_eq!(lines, [4, 5, 6], "{errors:?}");
    assert!(
        errors[0].0.contains("does not read as a number"),
        "{errors:?}"
    );
    assert!(errors[1].0.contains("booleans have no order"), "{errors:?}");
    assert!(errors[2].0.contains("is empty"), "{errors:?}");
}

/// `if:` comparisons whose verdict the literals and the inputs' declared types fix are refused
/// where they are written: an integer input compared with text that is no number (always
/// false), and a string literal where `||` needs true or false (which failed the step at run
/// time, "cannot be decided").
#[test]
fn an_if_decided_by_its_literals_alone_is_refused_by_validate() {
    let env = Env::new();
    env.workflow(
        "c",
        "name: c\ninputs:\n  n: {type: integer, default: 2}\nsteps:\n  - name: a\n    if: inputs.n == 'two'\n    run: echo a\n  - name: b\n    if: inputs.n == 3 || 'x'\n    run: echo b\n  - name: ok\n    if: inputs.n == '2' || inputs.n > 5\n    run: echo ok\n",
    );
    let (code, errors) = validation_errors(&env, "c");
    assert_eq!(code, 2, "{errors:?}");
    let at: Vec<(u64, u64)> = errors.iter().map(|(_, l, c)| (*l, *c)).collect();
    assert_eq!(at, [(6, 9), (9, 9)], "{errors:?}");
    assert!(errors[0].0.contains("is always false"), "{errors:?}");
    assert!(
        errors[1]
            .0
            .contains("'x' is a string where true or false is needed"),
        "{errors:?}"
    );
    assert_eq!(
        env.run(&["workflow", "run", "c"]).code,
        2,
        "refused at run too"
    );
}

/// An `if:` or a template naming a step the definition does not have says so, with the closest
/// name (a typo), not that the step "does not run before this one" (which sent the reader
/// looking for an ordering problem); a step that exists but runs later is still said to.
#[test]
fn a_reference_to_a_step_that_does_not_exist_is_not_said_to_run_later() {
    let env = Env::new();
    env.workflow(
        "typo",
        "name: typo\nsteps:\n  - {name: build, run: 'true'}\n  - {name: deploy, if: \"steps.biuld.outputs.ok == 'yes'\", run: 'echo ${{ steps.later.outputs.y }}'}\n  - {name: later, run: 'true'}\n",
    );
    let (code, errors) = validation_errors(&env, "typo");
    assert_eq!(code, 2, "{errors:?}");
    assert!(
        errors[0]
            .0
            .contains("`if:` reads `steps.biuld.outputs.ok`, but there is no step `biuld`"),
        "{errors:?}"
    );
    assert!(
        errors[1]
            .0
            .contains("step `later`, which does not run before this point"),
        "{errors:?}"
    );
    let out = env.run(&["--json", "workflow", "validate", "typo"]).json();
    assert!(
        out["errors"][0]["hint"]
            .as_str()
            .unwrap()
            .starts_with("did you mean `build`?"),
        "{out}"
    );
}

/// A workflow's dry run says what a scenario's does: a `foreach:` step runs once per item of
/// its list, a `uses:` step runs its workflow as a child run, an `if:` step may be skipped —
/// in the plan's lines and in its document.
#[test]
fn a_workflow_dry_run_says_foreach_uses_and_if() {
    let env = Env::new();
    env.workflow("child", "name: child\nsteps:\n  - {name: c, run: 'true'}\n");
    env.workflow(
        "kinds",
        "name: kinds\ninputs:\n  env: {type: string, default: dev}\nsteps:\n  - {name: fan, foreach: [eu, us], run: 'echo ${{ item }}'}\n  - {name: call, uses: child}\n  - {name: gate, run: 'true', if: \"inputs.env == 'prod'\"}\n  - {name: plain, run: 'true'}\n",
    );
    let plan = env
        .run(&["workflow", "run", "kinds", "--dry-run"])
        .assert_exit(0);
    for line in [
        r#"fan                      run, once per item of ["eu","us"]"#,
        "call                     run workflow `child` (a child run)",
        "gate                     run, if inputs.env == 'prod' (else skipped)",
        "plain                    run\n",
    ] {
        assert!(plan.stdout.contains(line), "{line}: {}", plan.stdout);
    }
    let json = env
        .run(&["--json", "workflow", "run", "kinds", "--dry-run"])
        .json();
    assert_eq!(json["steps"][0]["foreach"], r#"["eu","us"]"#, "{json}");
    assert_eq!(json["steps"][1]["uses"], "child", "{json}");
    assert_eq!(json["steps"][2]["if"], "inputs.env == 'prod'", "{json}");
    assert!(json["steps"][3].get("if").is_none(), "{json}");
    assert!(!env.db().exists(), "a dry run records nothing");
}

/// A dry run showed what would run but not where nor with what: each step or phase that
/// would run a command now shows its directory (templates resolved) and its `env:` entries,
/// the plan the run's inputs, and a secret (a secret input, a secret entry) only as `***` —
/// in the words and in the document, of a workflow, a scenario and a resume.
#[test]
fn a_dry_run_did_not_show_the_inputs_env_and_working_dir_of_what_would_run() {
    let env = Env::new();
    let secret = "s3cr3t-value-42";
    env.workflow(
        "deploy",
        "name: deploy\ninputs:\n  region: {type: string, default: eu}\n  api_token: {type: string}\nsteps:\n  - name: first\n    run: echo x=1 >> $CORTEX_OUTPUT\n  - name: ship\n    run: 'true'\n    working_dir: \"out/${{ inputs.region }}\"\n    env:\n      REGION: \"${{ inputs.region }}\"\n      URL: \"https://h/${{ inputs.api_token }}\"\n      AUTH_TOKEN: \"${{ inputs.api_token }}\"\n      PLAIN: \"fixed-${{ inputs.api_token }}\"\n      NEXT: \"${{ steps.first.outputs.x }}\"\n    secret_env: [PLAIN]\n  - name: ask\n    prompt: check it\n",
    );
    let input = format!("api_token={secret}");
    let plan = env
        .run(&["workflow", "run", "deploy", "--input", &input, "--dry-run"])
        .assert_exit(0);
    assert!(!plan.stdout.contains(secret), "{}", plan.stdout);
    insta::assert_snapshot!("dry_run_setting_workflow", plan.snapshot(&env));
    let doc = env
        .run(&[
            "--json",
            "workflow",
            "run",
            "deploy",
            "--input",
            &input,
            "--dry-run",
        ])
        .json();
    assert!(!doc.to_string().contains(secret), "{doc}");
    assert_eq!(doc["inputs"]["api_token"], "***", "{doc}");
    assert_eq!(doc["inputs"]["region"], "eu", "{doc}");
    let ship = &doc["steps"][1];
    let dir = env.project().join("out/eu");
    assert_eq!(ship["working_dir"], dir.display().to_string(), "{doc}");
    assert_eq!(ship["env"]["REGION"], "eu", "{doc}");
    assert_eq!(ship["env"]["URL"], "https://h/***", "{doc}");
    assert_eq!(ship["env"]["AUTH_TOKEN"], "***", "{doc}");
    assert_eq!(ship["env"]["PLAIN"], "***", "{doc}");
    assert_eq!(ship["env"]["NEXT"], "${{ steps.first.outputs.x }}", "{doc}");
    assert!(
        doc["steps"][2].get("working_dir").is_none(),
        "an external step runs nothing: {doc}"
    );
    assert!(!env.db().exists(), "a dry run records nothing");

    // A resume's plan resolves what the log now knows: the first step's output.
    let ran = env.run_with(&["workflow", "run", "deploy", "--input", &input], &[]);
    assert_eq!(
        ran.code, 1,
        "`out/eu` does not exist: {}{}",
        ran.stdout, ran.stderr
    );
    let resume = env
        .run_with(
            &["--json", "workflow", "resume", "--dry-run"],
            &[("CORTEX_INPUT_API_TOKEN", secret)],
        )
        .json();
    assert!(!resume.to_string().contains(secret), "{resume}");
    assert_eq!(resume["inputs"]["api_token"], "***", "{resume}");
    let ship = &resume["steps"][1];
    assert_eq!(ship["action"], "rerun", "{resume}");
    assert_eq!(ship["env"]["NEXT"], "1", "{resume}");
    assert_eq!(ship["env"]["URL"], "https://h/***", "{resume}");

    // A scenario's plan says the same of its phases.
    env.scenario("rollout", "name: rollout\ndescription: d\ninputs:\n  region: {type: string, default: eu}\n  db_password: {type: string}\nphases:\n  - name: build\n    description: b\n    run: 'true'\n    working_dir: \"w/${{ inputs.region }}\"\n    env:\n      REGION: \"${{ inputs.region }}\"\n      DB_PASSWORD: \"${{ inputs.db_password }}\"\n  - name: review\n    description: r\n    condition: after:build\n");
    let input = format!("db_password={secret}");
    let plan = env
        .run(&[
            "orchestrate",
            "run",
            "rollout",
            "--input",
            &input,
            "--dry-run",
        ])
        .assert_exit(0);
    assert!(!plan.stdout.contains(secret), "{}", plan.stdout);
    insta::assert_snapshot!("dry_run_setting_scenario", plan.snapshot(&env));
    let doc = env
        .run(&[
            "--json",
            "orchestrate",
            "run",
            "rollout",
            "--input",
            &input,
            "--dry-run",
        ])
        .json();
    assert!(!doc.to_string().contains(secret), "{doc}");
    let build = &doc["phases"][0];
    let dir = env.project().join("w/eu");
    assert_eq!(build["working_dir"], dir.display().to_string(), "{doc}");
    assert_eq!(build["env"]["DB_PASSWORD"], "***", "{doc}");
    assert_eq!(build["env"]["REGION"], "eu", "{doc}");
    assert!(doc["phases"][1].get("working_dir").is_none(), "{doc}");
}

/// `steps.d[7]` of a `foreach:` over a list of two written in the definition can never be
/// there: a located validation error (templates and `if:`, workflows and scenarios), never
/// an empty value at run time.
#[test]
fn an_item_index_beyond_a_literal_foreach_list_is_a_located_error() {
    let env = Env::new();
    env.workflow(
        "fe2",
        "name: fe2\nsteps:\n  - {name: d, foreach: [a, b], run: echo x=1 >> $CORTEX_OUTPUT}\n  - {name: e, run: \"echo [${{ steps.d[7].outputs.x }}] ${{ steps.d[1].outputs.x }}\"}\n  - {name: f, run: 'true', if: 'steps.d[2].outputs.x == 1'}\n",
    );
    let out = env
        .run(&["--json", "workflow", "validate", "fe2"])
        .assert_exit(2);
    let errors = out.json()["errors"].as_array().unwrap().clone();
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert_eq!(errors[0]["line"], 4);
    assert!(
        errors[0]["message"]
            .as_str()
            .unwrap()
            .contains("`d[7]`, but step `d` has no item 7: its `foreach:` list has 2 items"),
        "{errors:?}"
    );
    assert_eq!(errors[0]["hint"], "use `d[0]` to `d[1]`, counted from 0");
    assert_eq!(errors[1]["line"], 5);
    assert!(
        errors[1]["message"].as_str().unwrap().contains("no item 2"),
        "{errors:?}"
    );
    env.run(&["workflow", "run", "fe2"]).assert_exit(2);
    assert!(!env.db().exists(), "nothing was recorded");
    // An item that is there, and a list known only when it runs, are fine.
    env.workflow(
        "fe3",
        "name: fe3\nsteps:\n  - {name: p, run: 'true'}\n  - {name: d, foreach: '${{ steps.p.outputs.list }}', run: 'true'}\n  - {name: e, run: \"echo ${{ steps.d[9].outputs.x }}\"}\n",
    );
    env.run(&["workflow", "validate", "fe3"]).assert_exit(0);
    scenario(
        &env,
        "s",
        "name: s\ndescription: d\nphases:\n  - {name: d, foreach: [a], run: 'true'}\n  - {name: e, condition: 'after:d', run: 'echo ${{ phases.d[1].outputs.x }}'}\n",
    );
    let out = env.run(&["orchestrate", "validate", "s"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stdout.contains("phase `d` has no item 1") && out.stdout.contains("s.yaml:5:"),
        "{}",
        out.stdout
    );
}

/// A child that sleeps until `fast` exists (`started` once it runs), and a parent with a step
/// after it and an `on_failure` notification.
fn sleepy_child_and_paged_parent(env: &Env) {
    env.workflow(
        "kid",
        "name: kid\nsteps:\n  - name: nap\n    run: echo nap >> ran.log; touch started; [ -f fast ] || sleep 30\n",
    )
    .workflow(
        "par",
        "name: par\nsteps:\n  - name: k\n    uses: kid\n  - name: after\n    run: echo after >> ran.log\nnotify:\n  on_failure:\n    - run: echo \"PAGED $CORTEX_RUN_STATUS\" >> paged.log\n",
    );
}

fn event_types(env: &Env, run: &str) -> Vec<String> {
    env.run(&["log", "export", run])
        .stdout
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["type"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

/// `sleepy_child_and_paged_parent`, with `par` driven by a `workflow run` of its own once its
/// child's step runs: the driver, and the ids of the child and parent runs.
fn parent_driving_its_running_child(env: &Env) -> (std::process::Child, String, String) {
    sleepy_child_and_paged_parent(env);
    let driver = env
        .command(&["workflow", "run", "par"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    common::wait_until("the child's step", || env.file("started").exists());
    (driver, run_of(env, "kid"), run_of(env, "par"))
}

#[test]
fn aborting_a_child_beside_its_parent_s_driver_fails_the_parent_s_step_and_never_stops_the_parent()
{
    let env = Env::new();
    let (driver, kid, par) = parent_driving_its_running_child(&env);
    let abort = env.run(&["workflow", "abort", &kid, "--message", "wrong build"]);
    assert_ne!(abort.code, 4, "{}{}", abort.stdout, abort.stderr);
    let out = driver.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    // The parent's step fails with the child's abort, and its `on_failure` applies (pause).
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert_eq!(env.status(Some(&kid))["status"], "aborted");
    let parent = env.status(Some(&par));
    assert_eq!(parent["status"], "failed", "{parent}");
    assert!(
        parent["reason"]
            .as_str()
            .unwrap()
            .contains(&format!("child run {kid} aborted")),
        "{parent}"
    );
    let types = event_types(&env, &par);
    assert!(
        !types
            .iter()
            .any(|t| t == "stop_requested" || t == "run_stopped"),
        "nobody stopped the parent: {types:?}"
    );
    assert_eq!(lines(&env.file("paged.log")), ["PAGED failed"]);
    // `--retry` starts a new child (the aborted one is over).
    std::fs::write(env.file("fast"), "").unwrap();
    env.run(&["workflow", "resume", &par, "--retry"])
        .assert_exit(0);
    assert_eq!(lines(&env.file("ran.log")), ["nap", "nap", "after"]);
}

#[test]
fn a_parent_s_resume_timeout_reaches_the_child_it_drives() {
    let env = Env::new();
    env.config("{\"workflow\": {\"timeout_seconds\": 1}}")
        .workflow(
            "kid",
            "name: kid\nsteps:\n  - name: slow\n    run: sleep 2; echo slow >> ran.log\n",
        )
        .workflow("par", "name: par\nsteps:\n  - name: k\n    uses: kid\n");
    env.run(&["workflow", "run", "par"]).assert_exit(3);
    let par = run_of(&env, "par");
    let kid = run_of(&env, "kid");
    // Both stopped by the limit (the child's is what was left of the parent's).
    assert_eq!(env.status(Some(&par))["status"], "stopped");
    assert_eq!(env.status(Some(&kid))["status"], "stopped");
    // The child's first suggestion is the parent's resume with a longer limit: the same limit
    // would stop it again (three times the ~1 s `slow` ran before it was cut — it starts
    // over — plus twice the old limit plus 5 s: about 10 s, more if the cut came late).
    let child = env.status(Some(&kid));
    let first: Vec<&str> = child["next"][0]["argv"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(
        first[..5],
        ["cortex", "workflow", "resume", &par, "--timeout"],
        "{child}"
    );
    let limit: u64 = first[5]
        .strip_suffix('s')
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("a limit in seconds: {child}"));
    assert!(
        (8..=20).contains(&limit),
        "a limit the cut step can finish in: {child}"
    );
    env.run(&["workflow", "resume", &par, "--timeout", "60s"])
        .assert_exit(0);
    assert_eq!(env.status(Some(&par))["status"], "completed");
    assert_eq!(env.status(Some(&kid))["status"], "completed");
}

#[test]
fn a_child_run_s_own_notify_is_delivered_and_recorded_when_it_fails_as_a_child() {
    let env = Env::new();
    env.workflow(
        "kid",
        "name: kid\nsteps:\n  - name: x\n    run: \"false\"\n    retry: {max_retry_attempts: 0}\nnotify:\n  on_failure:\n    - run: echo \"KID $CORTEX_RUN_STATUS\" >> kid.log\n  on_finish:\n    - run: echo \"KID ENDED $CORTEX_RUN_STATUS\" >> kid.log\n",
    )
    .workflow(
        "par",
        "name: par\nsteps:\n  - name: k\n    uses: kid\nnotify:\n  on_failure:\n    - run: echo \"PAR $CORTEX_RUN_STATUS\" >> par.log\n",
    );
    env.run(&["workflow", "run", "par"]).assert_exit(1);
    assert_eq!(lines(&env.file("par.log")), ["PAR failed"]);
    let mut kid_lines = lines(&env.file("kid.log"));
    kid_lines.sort();
    assert_eq!(kid_lines, ["KID ENDED failed", "KID failed"]);
    let kid = env.status(Some(&run_of(&env, "kid")));
    let notes = kid["notifications"].as_array().unwrap();
    assert_eq!(notes.len(), 2, "{kid}");
    // Aborting the parent aborts the child, a new end: its `on_finish` is delivered for it,
    // as any run's; its `on_failure` was for this session already, and is not again.
    env.run(&["workflow", "abort", "par"]).assert_exit(1);
    let mut kid_lines = lines(&env.file("kid.log"));
    kid_lines.sort();
    assert_eq!(
        kid_lines,
        ["KID ENDED aborted", "KID ENDED failed", "KID failed"]
    );
}

/// `par` using `kid`, whose one step fails until `ok` exists (no retries), run once: both
/// failed. The ids of the parent and child runs.
fn parent_failed_with_its_child(env: &Env) -> (String, String) {
    env.workflow(
        "kid",
        "name: kid\nsteps:\n  - name: x\n    run: echo x >> ran.log; test -f ok\n    retry: {max_retry_attempts: 0}\n",
    )
    .workflow("par", "name: par\nsteps:\n  - name: k\n    uses: kid\n");
    env.run(&["workflow", "run", "par"]).assert_exit(1);
    (run_of(env, "par"), run_of(env, "kid"))
}

#[test]
fn after_aborting_a_failed_child_one_resume_retry_starts_a_new_child() {
    let env = Env::new();
    let (par, kid) = parent_failed_with_its_child(&env);
    env.run(&["workflow", "abort", &kid]).assert_exit(1);
    let plan = env.run(&["workflow", "resume", &par, "--retry", "--dry-run"]);
    assert!(
        plan.stdout
            .contains("re-run: workflow `kid` as a new child run"),
        "{}",
        plan.stdout
    );
    std::fs::write(env.file("ok"), "").unwrap();
    env.run(&["workflow", "resume", &par, "--retry"])
        .assert_exit(0);
    assert_eq!(lines(&env.file("ran.log")), ["x", "x"]);
    let history = env.run(&["--json", "workflow", "history"]).json()["runs"].clone();
    assert_eq!(history.as_array().unwrap().len(), 3, "{history}");
}

#[test]
fn a_resume_dry_run_says_a_uses_step_takes_the_end_of_a_child_that_finished_on_its_own() {
    let env = Env::new();
    let (par, kid) = parent_failed_with_its_child(&env);
    std::fs::write(env.file("ok"), "").unwrap();
    // The child alone goes on and completes; the parent, failed, is not driven by it.
    env.run(&["workflow", "resume", &kid, "--retry"])
        .assert_exit(0);
    let plan = env.run(&["--json", "workflow", "resume", &par, "--retry", "--dry-run"]);
    let step = &plan.json()["steps"][0];
    assert_eq!(step["child_run"]["run_id"], kid.as_str(), "{step}");
    assert_eq!(step["child_run"]["ended"], "completed", "{step}");
    let text = env.run(&["workflow", "resume", &par, "--retry", "--dry-run"]);
    assert!(
        text.stdout
            .contains(&format!("takes the end of its child run {kid} (completed)")),
        "{}",
        text.stdout
    );
    env.run(&["workflow", "resume", &par, "--retry"])
        .assert_exit(0);
    assert_eq!(lines(&env.file("ran.log")), ["x", "x"], "nothing ran again");
}

#[test]
fn aborting_the_parent_while_its_child_runs_never_says_the_child_can_be_resumed() {
    let env = Env::new();
    let (driver, kid, par) = parent_driving_its_running_child(&env);
    env.run(&["workflow", "abort", &par, "--message", "not now"])
        .assert_exit(1);
    let out = driver.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains(&format!("resume {kid}")), "{text}");
    assert!(!text.contains("Run stopped"), "{text}");
    let child = env.status(Some(&kid));
    assert_eq!(child["status"], "aborted", "{child}");
    assert!(
        child["reason"]
            .as_str()
            .unwrap()
            .contains(&format!("its parent run {par}")),
        "{child}"
    );
    assert_eq!(env.status(Some(&par))["status"], "aborted");
    let types = event_types(&env, &par);
    assert!(
        !types.iter().any(|t| t == "run_paused"),
        "the abort ends the parent, not a failure of its step: {types:?}"
    );
}

#[test]
fn aborting_the_top_run_aborts_each_run_below_it_without_pausing_them_first() {
    let env = Env::new();
    env.workflow(
        "leaf",
        "name: leaf\nsteps:\n  - name: nap\n    run: touch started; sleep 30\n",
    )
    .workflow("mid", "name: mid\nsteps:\n  - name: l\n    uses: leaf\n")
    .workflow("top", "name: top\nsteps:\n  - name: m\n    uses: mid\n");
    let mut driver = env
        .command(&["workflow", "run", "top"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    common::wait_until("the leaf's step", || env.file("started").exists());
    let top = run_of(&env, "top");
    env.run(&["workflow", "abort", &top]).assert_exit(1);
    driver.wait().unwrap();
    for name in ["leaf", "mid", "top"] {
        let run = run_of(&env, name);
        assert_eq!(env.status(Some(&run))["status"], "aborted", "{name}");
        let types = event_types(&env, &run);
        assert!(
            !types
                .iter()
                .any(|t| t == "run_paused" || t == "run_stopped"),
            "{name}: {types:?}"
        );
    }
}

/// A child given a parent's secret input through `with:`, driven on by a report from a process
/// that was not given the parent's value: the child's step ran with the literal `***` (the
/// parent's `with:` rendered from the log). It now waits for the value, and a resume of the
/// parent given it carries the child on with the real value.
#[test]
fn a_report_without_the_parents_secret_never_gives_the_child_its_redacted_text() {
    let env = Env::new();
    env.workflow(
        "ck",
        "name: ck\ninputs: {key: {type: string, required: true}}\nsteps:\n  - {name: ask, prompt: approve}\n  - {name: use, run: 'printf \"%s\" \"${{ inputs.key }}\" > childkey.txt'}\n",
    )
    .workflow(
        "pk",
        "name: pk\ninputs: {deploy_password: {type: string, required: true}}\nsteps:\n  - {name: c, uses: ck, with: {key: \"${{ inputs.deploy_password }}\"}}\n",
    );
    env.run(&[
        "workflow",
        "run",
        "pk",
        "--input",
        "deploy_password=pw-LLLL5555",
    ])
    .assert_exit(3);
    let report = env.run(&["--json", "workflow", "step", "complete", "ask"]);
    assert!(
        !env.file("childkey.txt").exists(),
        "the child's step ran with {:?}",
        std::fs::read_to_string(env.file("childkey.txt"))
    );
    assert_eq!(report.code, 3, "{}{}", report.stdout, report.stderr);
    assert_eq!(env.status(Some("ck"))["steps"][1]["status"], "pending");
    let parent = run_of(&env, "pk");
    env.run(&[
        "workflow",
        "resume",
        &parent,
        "--input",
        "deploy_password=pw-LLLL5555",
    ])
    .assert_exit(0);
    assert_eq!(
        std::fs::read_to_string(env.file("childkey.txt")).unwrap(),
        "pw-LLLL5555"
    );
    assert_eq!(env.status(Some("ck"))["status"], "completed");
}

const SECRET_ECHO_CHILD: &str = "name: ch\ninputs: {value: {type: string, required: true}}\nsteps:\n  - {name: use, run: 'echo \"echo=${{ inputs.value }}\" >> \"$CORTEX_OUTPUT\"'}\n  - {name: ask, prompt: \"check it\"}\n";
const SECRET_ECHO_PARENT: &str = "name: pa\nsteps:\n  - {name: login, run: \"echo 'api_token=tok-QQQQ7777RRRR' >> \\\"$CORTEX_OUTPUT\\\"\"}\n  - {name: c, uses: ch, with: {value: \"${{ steps.login.outputs.api_token }}\"}}\n  - {name: z, run: 'printf \"%s\" \"${{ steps.c.outputs.echo }}\" > zval.txt'}\n";

fn validate_warnings(env: &Env, name: &str) -> Vec<String> {
    let out = env
        .run(&["--json", "workflow", "validate", name])
        .assert_exit(0);
    out.json()["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap().to_string())
        .collect()
}

/// A child's output holding a secret it was given (recorded `***`), brought back to the
/// parent by the process a report on the child's prompt ran in: a later parent step was
/// given the text `***`. It now fails as a flat secret output read across a wait does,
/// `validate` warns of it, and no resume is offered that would wait and fail again.
#[test]
fn a_child_output_holding_a_secret_never_reaches_a_later_parent_step_as_its_redacted_text() {
    let env = Env::new();
    env.workflow("ch", SECRET_ECHO_CHILD)
        .workflow("pa", SECRET_ECHO_PARENT);
    let warnings = validate_warnings(&env, "pa");
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("step `z` reads `steps.c.outputs.echo`") && w.contains("`ch/ask`")),
        "{warnings:?}"
    );
    env.run(&["workflow", "run", "pa"]).assert_exit(3);
    let report = env.run(&["workflow", "step", "complete", "ask"]);
    assert!(
        !env.file("zval.txt").exists(),
        "z ran with {:?}",
        std::fs::read_to_string(env.file("zval.txt"))
    );
    assert_eq!(report.code, 1, "{}{}", report.stdout, report.stderr);
    let status = env.status(Some("pa"));
    assert_eq!(status["steps"][2]["status"], "failed", "{status}");
    let error = status["steps"][2]["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("the secret output `steps.c.outputs.echo` is not kept in the log")
            && error.contains("running `c` again would not help"),
        "{error}"
    );
    let next = status["next"].to_string();
    assert!(
        !next.contains("--from") && !next.contains("--retry"),
        "{next}"
    );
}

/// A child writing a secret-named output before its prompt step: the parent step reading it
/// after the child fails every time from the command line, and `validate` now says so.
#[test]
fn validate_warns_of_a_childs_secret_output_read_after_the_child_waits() {
    let env = Env::new();
    env.workflow(
        "tokchild",
        "name: tokchild\nsteps:\n  - {name: mint, run: \"echo 'api_token=tok-ZZZZ1111' >> \\\"$CORTEX_OUTPUT\\\"\"}\n  - {name: ask, prompt: ok?}\n",
    )
    .workflow(
        "tokparent",
        "name: tokparent\nsteps:\n  - {name: c, uses: tokchild}\n  - {name: z, run: 'printf \"%s\" \"${{ steps.c.outputs.api_token }}\" > z.txt'}\n",
    );
    let warnings = validate_warnings(&env, "tokparent");
    assert!(
        warnings.iter().any(|w| w
            .contains("step `z` reads the secret output `steps.c.outputs.api_token`")
            && w.contains("`tokchild/ask`")),
        "{warnings:?}"
    );
}

const DEPLOY_CHILD: &str = "name: deploychild\ninputs:\n  token: {type: string, required: true}\nsteps:\n  - name: deploy\n    env: {API_TOKEN: \"${{ inputs.token }}\"}\n    run: test \"$API_TOKEN\" = tok-DDDD4444 && echo version=1.2.3 >> \"$CORTEX_OUTPUT\"\n  - {name: approve, prompt: check the deploy}\n";
const DEPLOY_PARENT: &str = "name: deployparent\ninputs:\n  token: {type: string, required: true}\nsteps:\n  - name: c\n    uses: deploychild\n    with: {token: \"${{ inputs.token }}\"}\n  - {name: z, run: 'printf \"%s\" \"${{ steps.c.outputs.version }}\" > zval.txt'}\n";

/// `validate` warned that a parent step reading an output of a `uses:` child "fails every
/// time" whenever the parent gave the child a secret with `with:`, whatever the child did
/// with it: a child that uses a secret input as a credential (a secret `env:` entry) and
/// writes `version=1.2.3` never gives back a `***`, and the run completes across the child's
/// report. Only a child step that passes the secret on to its outputs is warned of, and not
/// as certain: it fails whenever that output holds the secret.
#[test]
fn a_child_given_a_secret_it_uses_as_a_credential_is_not_warned_of() {
    let env = Env::new();
    env.workflow("deploychild", DEPLOY_CHILD)
        .workflow("deployparent", DEPLOY_PARENT);
    let out = env.run(&["workflow", "validate", "deployparent"]);
    insta::assert_snapshot!(
        "validate_child_given_a_secret_as_a_credential",
        out.snapshot(&env)
    );
    assert_eq!(
        validate_warnings(&env, "deployparent"),
        Vec::<String>::new()
    );
    // And it is so: the run completes from the command line, across the child's report.
    env.run(&[
        "workflow",
        "run",
        "deployparent",
        "--input",
        "token=tok-DDDD4444",
    ])
    .assert_exit(3);
    env.run_with(
        &["workflow", "step", "complete", "approve"],
        &[("CORTEX_INPUT_TOKEN", "tok-DDDD4444")],
    )
    .assert_exit(0);
    assert_eq!(
        std::fs::read_to_string(env.file("zval.txt")).unwrap(),
        "1.2.3"
    );
}

/// The true positive beside it: a child step that writes the secret it is given into an
/// output before its report is still warned of, naming the step that writes it, and what to
/// do (keep the secret out of the child's outputs).
#[test]
fn a_child_writing_a_given_secret_into_an_output_is_warned_of() {
    let env = Env::new();
    env.workflow("ch", SECRET_ECHO_CHILD)
        .workflow("pa", SECRET_ECHO_PARENT);
    let out = env.run(&["workflow", "validate", "pa"]);
    insta::assert_snapshot!("validate_child_writing_a_given_secret", out.snapshot(&env));
    let warnings = validate_warnings(&env, "pa");
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].contains("whose step `ch/use` writes outputs from the secret output `steps.login.outputs.api_token`")
            && warnings[0].contains("fails whenever that output holds the secret"),
        "{warnings:?}"
    );
}

/// A child step writing the secret it is given into an output only after the child's report
/// is recorded by the process that carries the child on and brings the output back, which
/// holds it: no warning, and the run completes.
#[test]
fn a_child_writing_a_given_secret_after_its_report_is_not_warned_of() {
    let env = Env::new();
    env.workflow(
        "late",
        "name: late\ninputs:\n  value: {type: string, required: true}\nsteps:\n  - {name: ask, prompt: check it}\n  - {name: use, run: 'echo \"echo=${{ inputs.value }}\" >> \"$CORTEX_OUTPUT\"'}\n",
    )
    .workflow(
        "latepa",
        "name: latepa\ninputs:\n  api_token: {type: string, required: true}\nsteps:\n  - {name: c, uses: late, with: {value: \"${{ inputs.api_token }}\"}}\n  - {name: z, run: 'printf \"%s\" \"${{ steps.c.outputs.echo }}\" > zval.txt'}\n",
    );
    assert_eq!(validate_warnings(&env, "latepa"), Vec::<String>::new());
    env.run(&[
        "workflow",
        "run",
        "latepa",
        "--input",
        "api_token=tok-EEEE5555",
    ])
    .assert_exit(3);
    env.run_with(
        &["workflow", "step", "complete", "ask"],
        &[("CORTEX_INPUT_API_TOKEN", "tok-EEEE5555")],
    )
    .assert_exit(0);
    assert_eq!(
        std::fs::read_to_string(env.file("zval.txt")).unwrap(),
        "tok-EEEE5555"
    );
}

/// Whether a step waits for a report, or the reading step runs at all, may be decided at run
/// time (an `if:`, a `foreach:` list read then): `validate` said such a read of a secret
/// output across the wait "fails every time". It says what decides it; a wait that always
/// happens still fails every time.
#[test]
fn a_secret_output_read_across_a_wait_decided_at_run_time_is_not_said_to_fail_every_time() {
    let env = Env::new();
    env.workflow(
        "maybe",
        "name: maybe\ninputs:\n  review: {type: string, default: 'no'}\nsteps:\n  - {name: mint, run: \"echo api_token=tok-FFFF6666 >> \\\"$CORTEX_OUTPUT\\\"\"}\n  - {name: ask, prompt: go on?, if: \"inputs.review == 'yes'\"}\n  - {name: each, prompt: 'check ${{ item }}', foreach: '${{ steps.mint.outputs.regions }}'}\n  - name: cmd\n    run: test -n \"$TOK\"\n    env: {TOK: \"${{ steps.mint.outputs.api_token }}\"}\n  - name: later\n    if: \"inputs.review == 'yes'\"\n    run: test -n \"$TOK\"\n    env: {TOK: \"${{ steps.mint.outputs.api_token }}\"}\n",
    );
    env.workflow(
        "maybechild",
        "name: maybechild\ninputs:\n  review: {type: string, default: 'no'}\nsteps:\n  - {name: mint, run: \"echo api_token=tok-GGGG7777 >> \\\"$CORTEX_OUTPUT\\\"\"}\n  - {name: ask, prompt: go on?, if: \"inputs.review == 'yes'\"}\n",
    )
    .workflow(
        "maybeparent",
        "name: maybeparent\nsteps:\n  - {name: c, uses: maybechild}\n  - name: z\n    run: test -n \"$TOK\"\n    env: {TOK: \"${{ steps.c.outputs.api_token }}\"}\n",
    );
    let out = env.run(&["workflow", "validate", "maybe"]);
    insta::assert_snapshot!(
        "validate_secret_read_across_a_wait_decided_at_run_time",
        out.snapshot(&env)
    );
    let warnings = validate_warnings(&env, "maybe");
    assert!(
        warnings.iter().all(|w| !w.contains("every time")),
        "{warnings:?}"
    );
    let child = validate_warnings(&env, "maybeparent");
    assert_eq!(child.len(), 1, "{child:?}");
    assert!(
        child[0].contains(
            "may wait for a report (`maybechild/ask`: `ask`'s `if: inputs.review == 'yes'` decides)"
        ) && child[0].contains("`z` fails whenever it waits ("),
        "{child:?}"
    );
    // A wait that always happens: every time, as before.
    env.workflow(
        "surely",
        "name: surely\nsteps:\n  - {name: mint, run: \"echo api_token=tok-HHHH8888 >> \\\"$CORTEX_OUTPUT\\\"\"}\n  - {name: ask, prompt: go on?}\n  - name: cmd\n    run: test -n \"$TOK\"\n    env: {TOK: \"${{ steps.mint.outputs.api_token }}\"}\n",
    );
    let surely = validate_warnings(&env, "surely");
    assert!(
        surely.len() == 1 && surely[0].contains("`cmd` fails every time"),
        "{surely:?}"
    );
}

/// A `foreach:` over a secret input wrote every item in clear to the log (`foreach_expanded`,
/// item labels and outputs, status, results.json, checkpoints) while `run_started` kept the
/// input as `***`. It is refused as one over a secret output is: by `validate`, located at the
/// `foreach:`, for workflows and scenarios, and at run time for an input secret by its value.
#[test]
fn foreach_over_a_secret_input_is_refused_never_recorded_item_by_item() {
    let env = Env::new();
    env.workflow(
        "loopsecret",
        "name: loopsecret\ninputs:\n  db_password: {type: string, required: true}\nsteps:\n  - name: each\n    foreach: \"${{ inputs.db_password }}\"\n    run: echo ${{ item }} >> ran.log\n",
    );
    let out = env.run(&["--json", "workflow", "validate", "loopsecret"]);
    assert_eq!(out.code, 2, "{}", out.stdout);
    out.assert_error_on_line(
        "`${{ inputs.db_password }}` is a secret input: a `foreach:` list is recorded in the log item by item, so it cannot be read from a secret",
        6,
    );
    env.run(&[
        "workflow",
        "run",
        "loopsecret",
        "--input",
        r#"db_password=["pw-AAAA1111","pw-BBBB2222"]"#,
    ])
    .assert_exit(2);
    assert!(!env.file("ran.log").exists());
    scenario(
        &env,
        "loopscen",
        "name: loopscen\ndescription: d\ninputs:\n  api_token: {type: string, required: true}\nphases:\n  - name: each\n    foreach: \"${{ inputs.api_token }}\"\n    run: 'true'\n",
    );
    let out = env.run(&["--json", "orchestrate", "validate", "loopscen"]);
    assert_eq!(out.code, 2, "{}", out.stdout);
    out.assert_error_on_line("`${{ inputs.api_token }}` is a secret input", 7);

    // Secret by its value (it holds a secret of the environment): refused when the step runs.
    env.workflow(
        "loopvalue",
        "name: loopvalue\ninputs:\n  regions: {type: string, required: true}\nsteps:\n  - name: each\n    foreach: \"${{ inputs.regions }}\"\n    run: echo ${{ item }} >> ran.log\n",
    );
    let run = env.run_with(
        &[
            "workflow",
            "run",
            "loopvalue",
            "--input",
            r#"regions=["eu-CCCC3333"]"#,
        ],
        &[("MY_TOKEN", "eu-CCCC3333")],
    );
    assert_ne!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(!env.file("ran.log").exists());
    let status = env.status(Some("loopvalue"));
    assert!(
        status["steps"][0]["error"]
            .as_str()
            .unwrap_or_default()
            .contains("`${{ inputs.regions }}` is a secret input"),
        "{status}"
    );
}

/// `resume --dry-run` of a leaf whose parents were interrupted with it (`top → mid → leaf`,
/// the driver killed inside the leaf) showed the leaf's plan alone, while `resume` resumes
/// `top` and runs mid's and top's remaining steps. The dry run now shows `top`'s plan and
/// names the chain, recording nothing.
#[test]
fn a_dry_run_resume_of_an_interrupted_nested_child_shows_the_root_s_plan() {
    let env = Env::new();
    env.workflow(
        "top",
        "name: top\nsteps:\n  - name: mid\n    uses: mid\n  - name: z\n    run: echo z >> ran.log\n",
    )
    .workflow("mid", "name: mid\nsteps:\n  - name: b\n    uses: leaf\n")
    .workflow(
        "leaf",
        "name: leaf\nsteps:\n  - name: s\n    run: echo s >> ran.log; sleep 2\n",
    );
    killed_once_logged(&env, "top", "s");
    let (top, mid, leaf) = (
        run_of(&env, "top"),
        run_of(&env, "mid"),
        run_of(&env, "leaf"),
    );
    let events_before = events(&env).len();
    let dry = env
        .run(&["workflow", "resume", &leaf, "--dry-run"])
        .assert_exit(0);
    assert!(
        dry.stdout.contains(&format!(
            "Run {leaf} is a `uses:` child of run {top}, interrupted with it: `resume` resumes {top}, which carries {leaf} on ({top} → {mid} → {leaf})"
        )),
        "{}",
        dry.stdout
    );
    assert!(
        dry.stdout.contains(&format!("Resume plan for run {top}")),
        "{}",
        dry.stdout
    );
    assert!(dry.stdout.contains("z"), "{}", dry.stdout);
    let doc = env
        .run(&["--json", "workflow", "resume", &leaf, "--dry-run"])
        .json();
    assert_eq!(doc["run_id"], top.as_str(), "{doc}");
    assert_eq!(doc["asked"], leaf.as_str(), "{doc}");
    assert_eq!(doc["through"], serde_json::json!([top, mid, leaf]), "{doc}");
    let names: Vec<&str> = doc["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert!(names.contains(&"z"), "{doc}");
    assert_eq!(
        events(&env).len(),
        events_before,
        "a dry run records nothing"
    );
    for name in ["top", "mid", "leaf"] {
        assert_eq!(env.status(Some(name))["status"], "interrupted", "{name}");
    }
}

const CK: &str = "name: ck\ninputs: {key: {type: string, required: true}}\nsteps:\n  - {name: ask, prompt: approve}\n  - {name: use, run: 'printf \"%s\" \"${{ inputs.key }}\" > childkey.txt'}\n";
const PK: &str = "name: pk\ninputs: {deploy_password: {type: string, required: true}}\nsteps:\n  - {name: c, uses: ck, with: {key: \"${{ inputs.deploy_password }}\"}}\n";

/// A report given the child's secret (not the parent's) completed the child, said "↑ The
/// parent run … goes on" and left the parent waiting (its driver asked for the parent's
/// secret input to take the child's end, which renders nothing). The parent now goes on.
/// Where it cannot be driven (another process holds it), its text says the child ended
/// (not that it "waits for a report or a start"), and its resume suggestion carries the
/// `--input` placeholder of its secret input, so that it works as pasted.
#[test]
fn a_parent_taking_its_child_s_end_needs_none_of_its_secrets_and_says_the_child_ended() {
    let env = Env::new();
    env.workflow("ck", CK).workflow("pk", PK);
    env.run(&[
        "workflow",
        "run",
        "pk",
        "--input",
        "deploy_password=pw-LLLL5555",
    ])
    .assert_exit(3);
    env.run_with(
        &["workflow", "step", "complete", "ask"],
        &[("CORTEX_INPUT_KEY", "pw-LLLL5555")],
    )
    .assert_exit(0);
    assert_eq!(
        std::fs::read_to_string(env.file("childkey.txt")).unwrap(),
        "pw-LLLL5555"
    );
    assert_eq!(env.status(Some("pk"))["status"], "completed");

    // Again, the parent held by another process while the report ends the child.
    let env = Env::new();
    env.workflow("ck", CK).workflow("pk", PK);
    env.run(&[
        "workflow",
        "run",
        "pk",
        "--input",
        "deploy_password=pw-LLLL5555",
    ])
    .assert_exit(3);
    let parent = run_of(&env, "pk");
    let lock = env.home().join("locks").join(format!("{parent}.lock"));
    let mut holder = std::process::Command::new("flock")
        .arg("-o")
        .arg(&lock)
        .args(["sleep", "60"])
        .spawn()
        .unwrap();
    for _ in 0..100 {
        if lock.exists() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    std::thread::sleep(std::time::Duration::from_millis(200));
    let report = env.run_with(
        &["workflow", "step", "complete", "ask"],
        &[("CORTEX_INPUT_KEY", "pw-LLLL5555")],
    );
    let text = env.run(&["workflow", "status", &parent]);
    let status = env.status(Some(&parent));
    holder.kill().unwrap();
    holder.wait().unwrap();
    assert_eq!(report.code, 0, "{}{}", report.stdout, report.stderr);
    assert_eq!(status["status"], "waiting", "{status}");
    assert!(
        !text.stdout.contains("waits for a report or a start")
            && text.stdout.contains("ended (completed)"),
        "{}",
        text.stdout
    );
    let argv: Vec<String> = status["next"][0]["argv"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        argv[1..4],
        ["workflow", "resume", parent.as_str()],
        "{argv:?}"
    );
    assert_eq!(argv[4..], ["--input", "deploy_password=VALUE"], "{argv:?}");
    // As pasted, with the value: the step takes the child's end.
    let mut args: Vec<String> = argv[1..].to_vec();
    *args.last_mut().unwrap() = "deploy_password=pw-LLLL5555".into();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    env.run(&args).assert_exit(0);
    assert_eq!(env.status(Some(&parent))["status"], "completed");
}

const APPROVAL: &str = r#"name: approval
steps:
  - name: check
    run: echo ran >> runs.txt; if [ -f approved ]; then echo "verdict=ok" >> "$CORTEX_OUTPUT"; else touch approved-next; fi
"#;

/// The `uses:` children of run `parent`, oldest first: (run id, the parent's attempt).
fn children_of(env: &Env, parent: &str) -> Vec<(String, u64)> {
    let mut children: Vec<(String, u64)> = env
        .run(&["--json", "workflow", "history", "--limit", "100"])
        .json()["runs"]
        .clone()
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["parent"]["run_id"] == parent)
        .map(|r| {
            (
                r["run_id"].as_str().unwrap().to_string(),
                r["parent"]["attempt"].as_u64().unwrap(),
            )
        })
        .collect();
    children.sort_by_key(|c| c.1);
    children
}

/// A `uses:` step whose child completed but whose `validate:` gate refused the child's
/// outputs: `resume --retry` (what the recovery options suggest) runs a new child, linked
/// both ways to the new attempt. Before, the retry took the old child's completed end again
/// and failed the same way without running anything ("takes the end of its child run …").
#[test]
fn resume_retry_after_a_uses_step_s_gate_failed_runs_a_new_child() {
    let env = Env::new();
    env.workflow("approval", APPROVAL).workflow(
        "gate",
        "name: gate\nsteps:\n  - name: review\n    uses: approval\n    validate: [{output: verdict}]\n",
    );
    let run = env.run(&["workflow", "run", "gate"]).assert_exit(1);
    let parent = env.status(Some("gate"))["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(run.stdout.contains("--retry"), "{}", run.stdout);
    std::fs::write(env.file("approved"), "").unwrap();
    let plan = env.run(&["workflow", "resume", &parent, "--retry", "--dry-run"]);
    assert!(
        plan.stdout
            .contains("re-run: workflow `approval` as a new child run"),
        "{}",
        plan.stdout
    );
    env.run(&["workflow", "resume", &parent, "--retry"])
        .assert_exit(0);
    assert_eq!(lines(&env.file("runs.txt")), ["ran", "ran"]);
    let children = children_of(&env, &parent);
    assert_eq!(children.len(), 2, "{children:?}");
    assert_eq!((children[0].1, children[1].1), (1, 2));
    let status = env.status(Some(&parent));
    assert_eq!(status["steps"][0]["outputs"]["verdict"], "ok");
    // The parent links the new child from its second attempt.
    let links: Vec<(String, u64)> = events(&env)
        .iter()
        .filter(|e| e["type"] == "child_started" && e["run_id"] == parent.as_str())
        .map(|e| {
            (
                e["body"]["run_id"].as_str().unwrap().to_string(),
                e["body"]["attempt"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(links, children);
    assert_eq!(
        env.run(&["--json", "log", "verify", "--all"]).json()["ok"],
        true
    );
}

/// A `retry:` on a `uses:` step whose gate failed spends each retry on a new child run.
/// Before, each retry took the first child's completed end again and the budget ran out
/// with the child run once.
#[test]
fn automatic_retries_of_a_uses_step_s_failed_gate_each_run_a_new_child() {
    let env = Env::new();
    env.workflow(
        "approval",
        "name: approval\nsteps:\n  - name: check\n    run: echo ran >> runs.txt; if [ -f approved ]; then echo \"verdict=ok\" >> \"$CORTEX_OUTPUT\"; else touch approved; fi\n",
    )
    .workflow(
        "gate",
        "name: gate\nsteps:\n  - name: review\n    uses: approval\n    validate: [{output: verdict}]\n    retry: {max_retry_attempts: 2, backoff: 0}\n",
    );
    env.run(&["workflow", "run", "gate"]).assert_exit(0);
    assert_eq!(lines(&env.file("runs.txt")), ["ran", "ran"]);
    let parent = env.status(Some("gate"))["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    let attempts: Vec<u64> = children_of(&env, &parent).iter().map(|c| c.1).collect();
    assert_eq!(attempts, [1, 2]);
}

#[test]
fn no_run_means_the_latest_top_level_run_not_the_finished_child_of_a_failed_parent() {
    let env = Env::new();
    env.workflow(
        "kid",
        "name: kid\nsteps:\n  - name: k\n    run: echo \"v=$(cat verdict 2>/dev/null || echo bad)\" >> \"$CORTEX_OUTPUT\"\n",
    )
    .workflow(
        "par",
        "name: par\nsteps:\n  - name: c\n    uses: kid\n    validate:\n      - run: test \"${{ steps.c.outputs.v }}\" = good\n",
    );
    env.run(&["workflow", "run", "par"]).assert_exit(1);
    // A bare status means the failed parent.
    let status = env.run(&["--json", "workflow", "status"]).json();
    assert_eq!(status["name"], "par", "{status}");
    assert_eq!(status["status"], "failed");
    // The child is still reached by its name and by its id.
    assert_eq!(env.status(Some("kid"))["status"], "completed");
    std::fs::write(env.file("verdict"), "good").unwrap();
    // A bare resume --retry resumes the parent (a new child), not the finished child.
    let resume = env
        .run(&["--json", "workflow", "resume", "--retry"])
        .assert_exit(0);
    let doc = resume.json();
    assert_eq!(doc["name"], "par", "{doc}");
    assert_eq!(doc["status"], "completed");
}

#[test]
fn a_bare_abort_ends_the_failed_parent_not_its_finished_child() {
    let env = Env::new();
    env.workflow(
        "kid",
        "name: kid\nsteps:\n  - name: k\n    run: echo \"v=bad\" >> \"$CORTEX_OUTPUT\"\n",
    )
    .workflow(
        "par",
        "name: par\nsteps:\n  - name: c\n    uses: kid\n    validate:\n      - run: test \"${{ steps.c.outputs.v }}\" = good\n",
    );
    env.run(&["workflow", "run", "par"]).assert_exit(1);
    let abort = env.run(&["--json", "workflow", "abort"]);
    assert_ne!(abort.code, 0, "{}{}", abort.stdout, abort.stderr);
    assert_eq!(env.status(Some("par"))["status"], "aborted");
    assert_eq!(env.status(Some("kid"))["status"], "completed");
}

/// `timeout_seconds` bounds the whole run (SPEC §3), children included: a `uses:` child is
/// driven in its parent's session, so its deadline is the parent's, and it records what was
/// left of the parent's limit as its own. Before, each child got the full limit again from its
/// own start (top → mid → leaf took three limits, the leaf starting after the top's had
/// passed), and `top` and `mid` each recorded two `run_paused` for one pause.
#[test]
fn a_uses_child_gets_what_is_left_of_its_parents_time_limit() {
    let env = Env::new();
    env.config(r#"{"workflow": {"timeout_seconds": 2}}"#);
    env.workflow(
        "top",
        "name: top\nsteps:\n  - name: a\n    run: echo top >> ran.log; sleep 1.5\n  - name: m\n    uses: mid\n",
    )
    .workflow(
        "mid",
        "name: mid\nsteps:\n  - name: a\n    run: echo mid >> ran.log; sleep 1.5\n  - name: l\n    uses: leaf\n",
    )
    .workflow(
        "leaf",
        "name: leaf\nsteps:\n  - name: a\n    run: echo leaf >> ran.log\n",
    );
    let started = Instant::now();
    let out = env.run(&["workflow", "run", "top"]);
    let took = started.elapsed();
    assert_ne!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert_eq!(
        lines(&env.file("ran.log")),
        ["top", "mid"],
        "nothing starts after the top's limit passed"
    );
    assert!(took < Duration::from_secs(6), "took {took:?}");
    let mid = env.status(Some("mid"))["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    let top = env.status(Some("top"))["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    let mid_events = env.events(&mid);
    let limit = mid_events
        .iter()
        .find(|e| e["type"] == "run_started")
        .map(|e| e.to_string())
        .unwrap();
    assert!(
        limit.contains(r#""timeout_seconds":1"#),
        "the child records what was left (2 s - 1.5 s, rounded up): {limit}"
    );
    for run in [&top, &mid] {
        let types = event_types(&env, run);
        let stops = types.iter().filter(|t| *t == "run_stopped").count();
        assert_eq!(stops, 1, "one stop, one run_stopped: {run}");
        assert!(!types.iter().any(|t| t == "run_paused"), "{types:?}");
        assert_eq!(env.status(Some(run))["status"], "stopped", "{run}");
    }
    let reason = env.status(Some(&mid))["reason"].to_string();
    assert!(
        reason.contains("what was left of its parent run's"),
        "{reason}"
    );
}

/// `uses: sc` where `sc` is a scenario suggested the workflow being validated itself ("did
/// you mean `cc`?"), a cycle: it is never suggested.
#[test]
fn a_uses_name_not_found_never_suggests_the_workflow_being_validated() {
    let env = Env::new();
    env.scenario(
        "sc",
        "name: sc\ndescription: d\nphases:\n  - {name: a, description: a, run: 'true'}\n",
    );
    env.workflow("cc", "name: cc\nsteps:\n  - name: a\n    uses: sc\n");
    let out = env.run(&["--json", "workflow", "validate", "cc"]);
    assert_eq!(out.code, 2, "{}", out.stdout);
    out.assert_error_on_line("it is a scenario", 4);
    assert!(!out.stdout.contains("did you mean `cc`"), "{}", out.stdout);
}

/// A parent stopped while its `uses:` child ran said `resume … # start again from the
/// beginning (no step has completed)`, while the resume goes on with the child run from its
/// checkpoint: it says so.
#[test]
fn a_stopped_parent_says_its_resume_goes_on_with_its_child_run() {
    let env = Env::new();
    env.workflow(
        "c2s",
        "name: c2s\nsteps:\n  - {name: one, run: echo}\n  - {name: two, run: 'touch two-started; sleep 6'}\n",
    );
    env.workflow("p2s", "name: p2s\nsteps:\n  - {name: call, uses: c2s}\n");
    let mut child = env.spawn(&["workflow", "run", "p2s"]);
    common::wait_until("the child's second step starts", || {
        env.project().join("two-started").exists()
    });
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    child.wait().unwrap();
    let out = env.run(&["workflow", "status", "p2s"]);
    assert!(
        out.stdout.contains("go on with `call`'s child run"),
        "{}",
        out.stdout
    );
    assert!(
        !out.stdout.contains("start again from the beginning"),
        "{}",
        out.stdout
    );
}

/// Found by a review of the human output: a `foreach:` item was labelled by its raw text —
/// an object dumped as JSON, a long value cut silently at 40 characters — and the label is
/// made from a step's output, which anyone can fill. Every screen (status, live progress,
/// `log show`) gives each item one readable label: a string as it is, an object as `key:
/// value`, a list as `[a, b]`, every control character (a terminal escape, a newline) written
/// as a visible escape, and a long value cut with `…`; `--json` keeps each value exactly.
#[test]
fn foreach_item_labels_are_readable_sanitized_and_bounded_the_same_on_every_screen() {
    let env = Env::new();
    env.workflow(
        "labels",
        r#"name: labels
steps:
  - name: gen
    run: |
      printf '%s\n' 'list=["plain", {"name": "obj", "region": "eu"}, "\u001b[31mRED\u001b]0;title\u0007", "multi\nline", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", ["a", 2], ""]' >> "$CORTEX_OUTPUT"
  - name: each
    foreach: ${{ steps.gen.outputs.list }}
    run: "true"
"#,
    );
    let run = env.run(&["workflow", "run", "labels"]).assert_exit(0);
    let status = env.run(&["workflow", "status"]);
    let log = env.run(&["log", "show"]);
    for out in [&run, &status, &log] {
        assert!(!out.stdout.contains('\u{1b}'), "{}", out.stdout);
        assert!(!out.stdout.contains('\u{7}'), "{}", out.stdout);
        // The step's output is the JSON it wrote; an item's label is no JSON dump.
        for line in out.stdout.lines().filter(|l| l.contains("each")) {
            assert!(!line.contains(r#"{"name""#), "{line}");
        }
    }
    for label in [
        "(plain)",
        "(name: obj, region: eu)",
        r"(\u{1b}[31mRED\u{1b}]0;title\u{7})",
        r"(multi\u{a}line)",
        "(aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa…)",
        "([a, 2])",
        r#"("")"#,
    ] {
        assert!(run.stdout.contains(label), "{label}:\n{}", run.stdout);
        assert!(status.stdout.contains(label), "{label}:\n{}", status.stdout);
    }
    insta::assert_snapshot!("foreach_item_labels_status", status.snapshot(&env));
    let json = env.status(None);
    let values: Vec<serde_json::Value> = json["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s.get("item").map(|i| i["value"].clone()))
        .collect();
    assert_eq!(
        values,
        [
            serde_json::json!("plain"),
            serde_json::json!({"name": "obj", "region": "eu"}),
            serde_json::json!("\u{1b}[31mRED\u{1b}]0;title\u{7}"),
            serde_json::json!("multi\nline"),
            serde_json::json!("a".repeat(50)),
            serde_json::json!(["a", 2]),
            serde_json::json!(""),
        ]
    );
}

/// SPEC §4: pre-validation runs before anything else and a failure starts nothing. A child's
/// `requires:` (from the run's snapshot of its `uses:` graph) is checked with its parent's, up
/// front, named with the child. Before, the parent ran `a` (its side effect done) and only
/// then failed in the child's own pre-validation.
#[test]
fn a_childs_unmet_prerequisites_refuse_the_parent_before_any_step_runs() {
    let env = Env::new();
    env.workflow(
        "reqc",
        "name: reqc\nrequires:\n  commands: [definitely-not-a-cmd]\n  env: [CORTEX_TEST_NEVER_SET_VAR]\nsteps:\n  - {name: c1, run: 'true'}\n",
    );
    env.workflow(
        "reqmid",
        "name: reqmid\nsteps:\n  - {name: m, uses: reqc}\n",
    );
    env.workflow(
        "reqp",
        "name: reqp\ninputs:\n  deep: {type: boolean, default: false}\nsteps:\n  - {name: a, run: echo a-side-effect >> side.log}\n  - name: c\n    if: \"!inputs.deep\"\n    uses: reqc\n  - name: d\n    if: inputs.deep\n    uses: reqmid\n",
    );
    let out = env.run(&["workflow", "run", "reqp"]);
    assert_ne!(out.code, 0, "{}", out.text());
    let text = out.text();
    assert!(!env.file("side.log").exists(), "a ran: {text}");
    assert!(
        text.contains(
            "workflow `reqc` (run by step `c` of `reqp`): required command `definitely-not-a-cmd` is not on PATH"
        ),
        "{text}"
    );
    assert!(
        text.contains("workflow `reqc` (run by step `c` of `reqp`): required environment variable `CORTEX_TEST_NEVER_SET_VAR` is not set"),
        "{text}"
    );
    // `d` does not run (its `if:` reads the inputs alone and does not hold): its child's
    // prerequisites are not its run's.
    assert!(!text.contains("reqmid"), "{text}");
    let status = env.status(None);
    assert_eq!(status["steps"][0]["status"], "pending", "{status}");
    // With `deep`, the grandchild through `reqmid` is named down its chain.
    let out = env.run(&["workflow", "run", "reqp", "--input", "deep=true"]);
    assert_ne!(out.code, 0, "{}", out.text());
    let text = out.text();
    assert!(!env.file("side.log").exists(), "a ran: {text}");
    assert!(
        text.contains("workflow `reqc` (run by step `m` of `reqmid`, run by step `d` of `reqp`): required command `definitely-not-a-cmd`"),
        "{text}"
    );
    assert!(!text.contains("step `c`"), "{text}");
    // Met, the run goes through the child.
    let bin = env.project().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::write(bin.join("definitely-not-a-cmd"), "#!/bin/sh\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(
        bin.join("definitely-not-a-cmd"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let out = env.run_with(
        &["workflow", "run", "reqp"],
        &[("CORTEX_TEST_NEVER_SET_VAR", "1"), ("PATH", &path)],
    );
    assert_eq!(out.code, 0, "{}", out.text());
    assert_eq!(lines(&env.file("side.log")), ["a-side-effect"]);
}

const NESTED_KID: &str = "name: kid\nsteps:\n  - name: c1\n    run: echo c1 >> ran.log\n    rollback: echo undo-c1 >> ran.log; while [ ! -f go ]; do sleep 0.05; done\n  - name: c2\n    run: echo c2 >> ran.log\n    rollback: echo undo-c2 >> ran.log\n";
const NESTED_PARENT: &str = "name: nest\nsteps:\n  - name: a\n    run: echo a >> ran.log\n    rollback: echo undo-a >> ran.log\n  - name: k\n    uses: kid\n    rollback: echo undo-k >> ran.log\n  - name: z\n    run: exit 1\n    retry: {max_retry_attempts: 0}\n    on_failure: rollback\n";

/// The id of the child run of step `k` of the latest `nest` run.
fn child_of_k(env: &Env) -> String {
    env.status(Some("nest"))["steps"][1]["uses"]["run_id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// SPEC §4: a rollback runs the rollback commands of the completed steps in reverse
/// completion order. Compensating a completed `uses:` step compensates its child run's
/// completed steps, newest first (recorded in the child's own log, which ends `rolled_back`),
/// then the step's own `rollback:`. Before, only the parent's own rollbacks ran and the run
/// still said `rolled_back`.
#[test]
fn rolling_back_past_a_uses_step_compensates_its_child_runs_steps_newest_first() {
    let env = Env::new();
    env.workflow("kid", NESTED_KID)
        .workflow("nest", NESTED_PARENT);
    std::fs::write(env.file("go"), "").unwrap();
    let out = env.run(&["workflow", "run", "nest"]);
    assert_eq!(
        env.status(Some("nest"))["status"],
        "rolled_back",
        "{}",
        out.text()
    );
    assert_eq!(
        lines(&env.file("ran.log")),
        ["a", "c1", "c2", "undo-c2", "undo-c1", "undo-k", "undo-a"]
    );
    let kid = child_of_k(&env);
    let child = env.status(Some(&kid));
    assert_eq!(child["status"], "rolled_back", "{child}");
    assert_eq!(child["parent"]["step"], "k");
    let compensated: Vec<String> = env
        .events(&kid)
        .iter()
        .filter(|e| e["type"] == "step_compensated")
        .map(|e| e["body"]["step"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(compensated, ["c2", "c1"], "recorded in the child's own log");
    assert_eq!(
        env.run(&["--json", "log", "verify", "--all"]).json()["ok"],
        true
    );
}

/// The same rollback, its driver killed (-9) while the child's `c1` is being compensated:
/// resuming the parent goes on with the child's rollback where its log says it is — `c2`
/// (compensated before the kill) is not compensated again, the cut-off `c1` runs again (a
/// compensation cut short runs again), then the parent's own — each completed step's
/// compensation recorded exactly once.
#[test]
fn a_kill_mid_child_rollback_then_resume_compensates_each_step_exactly_once() {
    let env = Env::new();
    env.workflow("kid", NESTED_KID)
        .workflow("nest", NESTED_PARENT);
    killed_once_logged(&env, "nest", "undo-c1");
    assert_eq!(env.status(Some("nest"))["status"], "interrupted");
    std::fs::write(env.file("go"), "").unwrap();
    let out = env.run(&["workflow", "resume", "nest"]);
    assert_eq!(
        env.status(Some("nest"))["status"],
        "rolled_back",
        "{}",
        out.text()
    );
    assert_eq!(
        lines(&env.file("ran.log")),
        [
            "a", "c1", "c2", "undo-c2", "undo-c1", "undo-c1", "undo-k", "undo-a"
        ],
        "{}",
        out.text()
    );
    let kid = child_of_k(&env);
    assert_eq!(env.status(Some(&kid))["status"], "rolled_back");
    let compensated: Vec<String> = env
        .events(&kid)
        .iter()
        .filter(|e| e["type"] == "step_compensated")
        .map(|e| e["body"]["step"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(compensated, ["c2", "c1"]);
    let parent = env.status(Some("nest"))["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    let compensated: Vec<String> = env
        .events(&parent)
        .iter()
        .filter(|e| e["type"] == "step_compensated")
        .map(|e| e["body"]["step"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(compensated, ["k", "a"]);
    assert_eq!(
        env.run(&["--json", "log", "verify", "--all"]).json()["ok"],
        true
    );
}

/// A child run its parent's rollback undid is driven by its parent: its status (human and
/// `--json` `next`) and the end of a resume of it point at the parent run's status. Before,
/// they suggested `workflow run kid.yaml`, a new run of the child alone.
#[test]
fn a_child_rolled_back_for_its_parent_points_at_its_parent_not_at_a_new_run() {
    let env = Env::new();
    env.workflow("kid", NESTED_KID)
        .workflow("nest", NESTED_PARENT);
    std::fs::write(env.file("go"), "").unwrap();
    env.run(&["workflow", "run", "nest"]);
    let parent = env.status(Some("nest"))["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    let kid = child_of_k(&env);
    let child = env.status(Some(&kid));
    assert_eq!(child["status"], "rolled_back", "{child}");
    let next: Vec<&serde_json::Value> = child["next"].as_array().unwrap().iter().collect();
    assert_eq!(next.len(), 1, "{child}");
    assert_eq!(
        next[0]["argv"],
        serde_json::json!(["cortex", "workflow", "status", parent]),
        "{child}"
    );
    let shown = env.run(&["workflow", "status", &kid]);
    assert!(
        shown
            .stdout
            .contains(&format!("cortex workflow status {parent}")),
        "{}",
        shown.stdout
    );
    assert!(!shown.stdout.contains("workflow run"), "{}", shown.stdout);
    insta::assert_snapshot!("child_rolled_back_for_parent_status", shown.snapshot(&env));
}

/// A completed child run whose parent's rollback was cut short (its driver killed) inside the
/// child's rollback is unfinished again: the run index no longer holds it `completed` (`log
/// verify` passes), `gc` leaves its files alone, `history --json` gives it no end, and its
/// status suggests first the parent's resume, which carries both rollbacks on. Then, rolled
/// back, it is finished again everywhere. Before, the index row kept `completed` through the
/// rollback (`log verify` failed on it, `gc` took the child for a finished run) and its
/// history row kept the end of its first `run_finished`. On SQLite and PostgreSQL.
#[test]
fn a_child_cut_short_mid_rollback_for_its_parent_is_unfinished_for_the_index_history_and_gc() {
    // Both stores keep the run index: each must unseal the row.
    for store in [common::Store::Sqlite, common::Store::Postgres] {
        let Some(env) = Env::on(store, "child_mid_rollback_index") else {
            continue;
        };
        env.workflow("kid", NESTED_KID)
            .workflow("nest", NESTED_PARENT);
        killed_once_logged(&env, "nest", "undo-c1");
        let parent = env.status(Some("nest"))["run_id"]
            .as_str()
            .unwrap()
            .to_string();
        let kid = child_of_k(&env);
        let verify = env.run(&["--json", "log", "verify", "--all"]);
        assert_eq!(verify.json()["ok"], true, "{}", verify.text());
        let row = |env: &Env| {
            env.run(&["--json", "workflow", "history"]).json()["runs"]
                .as_array()
                .unwrap()
                .iter()
                .find(|r| r["run_id"] == kid.as_str())
                .cloned()
                .unwrap()
        };
        let during = row(&env);
        assert_eq!(during["status"], "interrupted", "{during}");
        assert_eq!(during["ended_at"], serde_json::Value::Null, "{during}");
        let gc = env.run(&["--json", "gc", "--older-than", "0s"]);
        assert_eq!(gc.json()["removed"], serde_json::json!([]), "{}", gc.text());
        assert!(env.home().join("runs").join(&kid).exists());
        let child = env.status(Some(&kid));
        assert_eq!(child["status"], "interrupted", "{child}");
        assert_eq!(
            child["next"][0]["argv"],
            serde_json::json!(["cortex", "workflow", "resume", parent]),
            "{child}"
        );
        std::fs::write(env.file("go"), "").unwrap();
        let resumed = env.run(&["workflow", "resume", &parent]);
        assert_eq!(
            env.status(Some("nest"))["status"],
            "rolled_back",
            "{}",
            resumed.text()
        );
        let after = row(&env);
        assert_eq!(after["status"], "rolled_back", "{after}");
        assert!(after["ended_at"].is_string(), "{after}");
        let verify = env.run(&["--json", "log", "verify", "--all"]);
        assert_eq!(verify.json()["ok"], true, "{}", verify.text());
    }
}

/// A run's inputs are checked with what its child runs need of them, in one error (exit 2,
/// nothing started), each need said where it is (the parent's own, or a child's, by the step
/// that runs it, down a chain) and which of the run's inputs gives it. Before, a run missing
/// its own input was told of that one alone, and one given it started, ran `a` (its side
/// effects done) and failed at `k`, its child missing `need`.
#[test]
fn a_run_missing_inputs_its_children_need_lists_them_all_and_starts_nothing() {
    let env = Env::new();
    env.workflow(
        "ck",
        "name: ck\ninputs:\n  need: {type: integer, required: true}\nsteps:\n  - {name: c, run: echo c >> ran.log}\n",
    )
    .workflow(
        "cm",
        "name: cm\ninputs:\n  m: {type: string}\nsteps:\n  - name: g\n    uses: ck\n    with: {need: \"${{ inputs.m }}\"}\n",
    )
    .workflow(
        "cp",
        "name: cp\ninputs:\n  env: {required: true}\n  n: {type: string}\n  deep: {type: string}\nsteps:\n  - {name: a, run: echo a >> ran.log}\n  - name: k\n    uses: ck\n    with: {need: \"${{ inputs.n }}\"}\n  - name: t\n    uses: cm\n    with: {m: \"${{ inputs.deep }}\"}\n",
    );
    let none = env.run(&["--json", "workflow", "run", "cp"]);
    assert_eq!(none.code, 2, "{}", none.text());
    let messages: Vec<String> = none.json()["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["message"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        messages,
        [
            "input `env` is required: pass --input env=VALUE",
            "workflow `ck` (run by step `k`): input `need` is required: pass --input n=VALUE",
            "workflow `ck` (run by step `g` of `cm`, run by step `t`): input `need` is required: pass --input deep=VALUE",
        ],
        "{}",
        none.text()
    );
    let bad = env.run(&[
        "workflow", "run", "cp", "--input", "env=x", "--input", "n=abc", "--input", "deep=7",
    ]);
    assert_eq!(bad.code, 2, "{}", bad.text());
    insta::assert_snapshot!("run_inputs_children_need", bad.snapshot(&env));
    assert!(!env.file("ran.log").exists(), "nothing started");
    let dry = env.run(&["workflow", "run", "cp", "--dry-run", "--input", "env=x"]);
    assert_eq!(dry.code, 2, "{}", dry.text());
    let fine = env.run(&[
        "workflow", "run", "cp", "--input", "env=x", "--input", "n=3", "--input", "deep=7",
    ]);
    assert_eq!(fine.code, 0, "{}", fine.text());
    assert_eq!(lines(&env.file("ran.log")), ["a", "c", "c"]);
}

/// The process a report on a child's step drove the child on in (`workflow step complete`)
/// killed (-9) while the child's next step ran: the parent, whose `uses:` step waits with
/// that child, is not `⏳ waiting` (a person must act) but interrupted, naming the child
/// run cut short and the step it ran, and its resume — the suggested way on — goes on with
/// both. Before, the parent said `waiting` while its child said `interrupted`.
#[test]
fn a_parent_waiting_with_a_child_whose_driver_was_killed_shows_interrupted_and_its_resume() {
    let env = Env::new();
    env.workflow(
        "gkid",
        "name: gkid\nsteps:\n  - name: ask\n    prompt: approve it\n  - name: slow\n    run: echo slow >> ran.log; while [ ! -f go ]; do sleep 0.05; done\n",
    )
    .workflow(
        "gpar",
        "name: gpar\nsteps:\n  - name: k\n    uses: gkid\n  - name: after\n    run: echo after >> ran.log\n",
    );
    env.run(&["workflow", "run", "gpar"]).assert_exit(3);
    let kid = env.status(Some("gpar"))["steps"][0]["uses"]["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut reporter = env
        .command(&["workflow", "step", "complete", "ask", "--run", &kid])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    common::wait_until("`slow` in ran.log", || {
        lines(&env.file("ran.log")).contains(&"slow".to_string())
    });
    reporter.kill().unwrap(); // SIGKILL
    reporter.wait().unwrap();
    assert_eq!(env.status(Some(&kid))["status"], "interrupted");
    let parent = env.status(Some("gpar"));
    assert_eq!(parent["status"], "interrupted", "{parent}");
    assert_eq!(
        parent["steps"][0]["uses"]["child_interrupted"]["run_id"],
        kid.as_str()
    );
    assert_eq!(
        parent["steps"][0]["uses"]["child_interrupted"]["step"],
        "slow"
    );
    let reason = parent["reason"].as_str().unwrap();
    assert!(
        reason.contains(&format!("child run {kid}, whose driver died")),
        "{reason}"
    );
    let first = &parent["next"][0]["argv"];
    let argv: Vec<&str> = first
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert!(
        argv.contains(&"resume") && argv.contains(&parent["run_id"].as_str().unwrap()),
        "{first}"
    );
    let text = env.run(&["workflow", "status", "gpar"]).stdout;
    assert!(text.contains("interrupted"), "{text}");
    assert!(
        text.contains(&format!(
            "Interrupted below: the driver of child run {kid} died while `slow` ran"
        )),
        "{text}"
    );
    std::fs::write(env.file("go"), "").unwrap();
    let resumed = env.run(&["workflow", "resume", "gpar"]);
    assert_eq!(resumed.code, 0, "{}", resumed.text());
    assert_eq!(lines(&env.file("ran.log")), ["slow", "slow", "after"]);
    assert_eq!(env.status(Some(&kid))["status"], "completed");
}

/// Review s, finding 9: `resume --from` a `foreach:` step whose items had partly run was
/// refused as a step that "has not run yet" (its own attempts are its items'), workflows and
/// scenarios alike. It has started: `--from` it runs it again whole, its items dropped and
/// its list read again, and the steps after it.
#[test]
fn resume_from_a_foreach_step_whose_items_partly_ran_runs_it_again_whole() {
    let env = Env::new();
    env.workflow(
        "fe4",
        "name: fe4\nsteps:\n  - name: plan\n    run: echo 'l=[\"a\",\"b\",\"c\"]' >> \"$CORTEX_OUTPUT\"\n  - name: each\n    foreach: \"${{ steps.plan.outputs.l }}\"\n    run: echo \"$CORTEX_ITEM\" >> ran.log && { test \"$CORTEX_ITEM\" != b || test -f ok; }\n    retry: {max_retry_attempts: 0}\n  - name: last\n    run: echo last >> ran.log\n",
    );
    assert_eq!(env.run(&["workflow", "run", "fe4"]).code, 1);
    std::fs::write(env.file("ok"), "").unwrap();
    let out = env.run(&["workflow", "resume", "fe4", "--from", "each"]);
    assert_eq!(out.code, 0, "{}", out.text());
    assert_eq!(
        lines(&env.file("ran.log")),
        ["a", "b", "a", "b", "c", "last"],
        "the step ran again from its first item"
    );
    env.scenario(
        "rf",
        "name: rf\ndescription: t\npriority: high\ntype: deployment\nphases:\n  - name: plan\n    description: plan\n    run: echo 'regions=[\"eu\",\"us\"]' >> \"$CORTEX_OUTPUT\"\n  - name: rollout\n    description: roll\n    condition: after:plan\n    foreach: \"${{ phases.plan.outputs.regions }}\"\n    retry: {max_retry_attempts: 0}\n    run: echo \"$CORTEX_ITEM\" >> rolled.log && { test \"$CORTEX_ITEM\" != us || test -f ok2; }\n",
    );
    assert_eq!(env.run(&["orchestrate", "run", "rf"]).code, 1);
    std::fs::write(env.file("ok2"), "").unwrap();
    let out = env.run(&["orchestrate", "resume", "rf", "--from", "rollout"]);
    assert_eq!(out.code, 0, "{}", out.text());
    assert_eq!(lines(&env.file("rolled.log")), ["eu", "us", "eu", "us"]);
}

/// Review s, finding 9: a child run whose `foreach:` list comes from an input has no step
/// before it to run again: `--from` that step was refused, so the step could not be run from
/// scratch at all. It runs again whole, its list read from the input again.
#[test]
fn a_child_whose_foreach_list_is_an_input_runs_that_step_again_from_scratch() {
    let env = Env::new();
    env.workflow(
        "fkid",
        "name: fkid\ninputs:\n  list: {type: string, required: true}\nsteps:\n  - name: each\n    foreach: \"${{ inputs.list }}\"\n    run: echo \"$CORTEX_ITEM\" >> ran.log && { test \"$CORTEX_ITEM\" != y || test -f ok; }\n    retry: {max_retry_attempts: 0}\n",
    );
    env.workflow(
        "fpar",
        "name: fpar\nsteps:\n  - name: k\n    uses: fkid\n    with: {list: '[\"x\",\"y\"]'}\n",
    );
    assert_eq!(env.run(&["workflow", "run", "fpar"]).code, 1);
    std::fs::write(env.file("ok"), "").unwrap();
    let out = env.run(&["workflow", "resume", "fkid", "--from", "each"]);
    assert_eq!(out.code, 0, "{}", out.text());
    assert_eq!(lines(&env.file("ran.log")), ["x", "y", "x", "y"]);
    assert_eq!(env.status(Some("fkid"))["status"], "completed");
}
