//! SPEC §7, the loop a person or an AI agent goes through — show the work, do it, report it —
//! one test per promise, on the real binary.

mod common;

use std::time::{Duration, Instant};

use common::{Env, lines, next_argvs};

const TICKET: &str = "name: ticket\ninputs:\n  ticket: {type: string, required: true}\nsteps:\n  - name: Plan\n    prompt: Plan the fix for ${{ inputs.ticket }}.\n    validate:\n      - output: plan\n  - name: Implement\n    prompt: Implement ${{ steps.Plan.outputs.plan }} for ${{ inputs.ticket }}.\n";

fn events(env: &Env) -> usize {
    env.run(&["--json", "log", "show"])
        .json()
        .as_array()
        .unwrap()
        .len()
}

fn what_is_shown_is_what_is_meant_prompts_are_rendered_with_the_runs_values(env: Env) {
    env.workflow("ticket", TICKET);
    env.run(&["workflow", "run", "ticket", "--input", "ticket=ABC-12"])
        .assert_exit(3);
    let json = env.status(None);
    assert_eq!(json["inputs"]["ticket"], "ABC-12", "{json}");
    assert_eq!(json["steps"][0]["prompt"], "Plan the fix for ABC-12.");
    let human = env.run(&["workflow", "status"]).stdout;
    assert!(human.contains("Plan the fix for ABC-12."), "{human}");
    assert!(!human.contains("${{"), "{human}");
    env.run(&["workflow", "step", "complete", "Plan", "-o", "plan=p.md"])
        .assert_exit(3);
    let json = env.status(None);
    assert_eq!(json["steps"][0]["outputs"]["plan"], "p.md");
    assert_eq!(json["steps"][1]["prompt"], "Implement p.md for ABC-12.");
}

fn a_report_drives_the_run_on_and_no_drive_only_records_without_looking_interrupted(env: Env) {
    env.workflow(
        "two",
        "name: two\nsteps:\n  - name: Ask\n    prompt: do it\n  - name: Build\n    run: echo built > built.txt\n  - name: Ship\n    prompt: ship it\n",
    );
    env.run(&["workflow", "run", "two"]).assert_exit(3);
    // One command: the report records, and the run goes on through Build to the next prompt.
    let done = env
        .run(&["workflow", "step", "complete", "Ask"])
        .assert_exit(3);
    assert!(env.file("built.txt").exists(), "{}", done.stdout);
    let status = env.status(None);
    assert_eq!(status["status"], "waiting");
    assert_eq!(status["waiting_for"], "Ship");
    // --no-drive records only; the run is waiting for someone to go on, never "interrupted".
    let recorded = env.run(&["workflow", "step", "complete", "Ship", "--no-drive"]);
    assert_eq!(recorded.code, 0, "the last step done: the run completes");
    env.workflow(
        "three",
        "name: three\nsteps:\n  - name: Ask\n    prompt: do it\n  - name: After\n    run: 'true'\n",
    );
    env.run(&["workflow", "run", "three"]).assert_exit(3);
    env.run(&["workflow", "step", "complete", "Ask", "--no-drive"])
        .assert_exit(3);
    let status = env.status(None);
    assert_eq!(status["status"], "waiting", "{status}");
    assert_eq!(status["steps"][1]["status"], "pending");
    let human = env.run(&["workflow", "status"]).stdout;
    assert!(!human.contains("interrupted"), "{human}");
    assert_eq!(status["next"][0]["argv"][2], "resume", "{status}");
    env.run(&["workflow", "resume"]).assert_exit(0);
}

fn a_complete_that_fails_its_gate_is_refused_and_the_step_keeps_waiting(env: Env) {
    env.workflow("ticket", TICKET);
    env.run(&["workflow", "run", "ticket", "-i", "ticket=T-1"])
        .assert_exit(3);
    let before = events(&env);
    let refused = env
        .run(&["workflow", "step", "complete", "Plan"])
        .assert_exit(2);
    assert!(
        refused.stderr.contains("output `plan` was not produced"),
        "{}",
        refused.stderr
    );
    assert_eq!(events(&env), before, "nothing recorded");
    let status = env.status(None);
    assert_eq!(status["steps"][0]["status"], "waiting");
    assert_eq!(status["steps"][0]["attempts"], 1);
    // Fixed, the same command goes through at once: no resume needed in between.
    env.run(&["workflow", "step", "complete", "Plan", "-o", "plan=x"])
        .assert_exit(3);
}

fn a_reported_failure_is_a_fact_not_retried_and_the_message_is_shown(env: Env) {
    env.workflow(
        "one",
        "name: one\nsteps:\n  - name: Review\n    prompt: review it\n    retry: {max_retry_attempts: 3, backoff: 1ms}\n",
    );
    env.run(&["workflow", "run", "one"]).assert_exit(3);
    env.run(&[
        "workflow",
        "step",
        "fail",
        "Review",
        "--message",
        "the API is down",
    ])
    .assert_exit(1);
    let status = env.status(None);
    assert_eq!(status["status"], "failed");
    assert_eq!(status["steps"][0]["attempts"], 1);
    assert_eq!(
        status["steps"][0]["reported_by"]["message"],
        "the API is down"
    );
    let log = env.run(&["--json", "log", "show"]).json();
    assert!(
        !log.as_array()
            .unwrap()
            .iter()
            .any(|e| e["type"] == "retry_scheduled"),
        "{log}"
    );
    assert!(
        env.run(&["workflow", "status"])
            .stdout
            .contains("the API is down")
    );
    assert!(env.run(&["log", "show"]).stdout.contains("the API is down"));
}

fn a_scenario_phase_reported_failed_is_not_retried(env: Env) {
    env.scenario("gate", "name: gate\ndescription: one manual gate\nphases:\n  - name: approve\n    description: approve it\n    retry: {max_retry_attempts: 3, backoff: 1ms}\n");
    env.run(&["orchestrate", "run", "gate"]).assert_exit(3);
    env.run(&["orchestrate", "fail", "gate", "approve"])
        .assert_exit(1);
    let status = env.run(&["--json", "orchestrate", "status", "gate"]).json();
    assert_eq!(status["phases"][0]["status"], "failed");
    assert_eq!(status["phases"][0]["attempts"], 1);
}

fn the_past_stays_in_the_past_status_at_is_labelled_ends_its_times_there_and_suggests_nothing(
    env: Env,
) {
    env.workflow(
        "slow",
        "name: slow\nsteps:\n  - name: Ask\n    prompt: do it\n",
    );
    env.run(&["workflow", "run", "slow"]).assert_exit(3);
    std::thread::sleep(Duration::from_millis(1100));
    env.run(&["workflow", "step", "complete", "Ask"]);
    let log = env.run(&["--json", "log", "show"]).json();
    let waiting = log
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "step_waiting")
        .unwrap();
    let seq = waiting["seq"].as_u64().unwrap().to_string();
    let json = env
        .run(&["--json", "workflow", "status", "--at", &seq])
        .json();
    assert_eq!(json["as_of"]["seq"], waiting["seq"]);
    assert_eq!(json["as_of"]["time"], waiting["time"]);
    assert_eq!(json["steps"][0]["status"], "waiting");
    assert_eq!(json["next"], serde_json::json!([]));
    let human = env.run(&["workflow", "status", "--at", &seq]).stdout;
    assert!(
        human.starts_with(&format!("(as of event {seq}, ")),
        "{human}"
    );
    assert!(!human.contains("Next"), "{human}");
    // Its durations end at that event: the step had just begun waiting, the run a moment old.
    assert!(human.contains("Duration: 0ms"), "{human}");
}

/// `status --at SEQ` gives the status `status` gave at that event: a run a `--no-drive`
/// report left for nobody to drive is `waiting` as of its head as it is now (it said
/// `running`), and stays so once a resume went on; the resume's own event, which a driver went
/// on from, and a report that drove on are `running`.
fn status_at_an_event_gives_the_status_live_status_gave_there_waiting_when_nobody_drove(env: Env) {
    env.workflow(
        "two",
        "name: two\nsteps:\n  - {name: Ask, prompt: do it}\n  - {name: Ask2, prompt: do more}\n",
    );
    env.run(&["workflow", "run", "two"]).assert_exit(3);
    env.run(&["workflow", "step", "complete", "Ask", "--no-drive"])
        .assert_exit(3);
    let live = env.run(&["--json", "workflow", "status", "two"]).json();
    assert_eq!(live["status"], "waiting", "{live}");
    let head = (live["events"].as_u64().unwrap() - 1).to_string();
    let status_at = |seq: &str| {
        env.run(&["--json", "workflow", "status", "two", "--at", seq])
            .json()["status"]
            .clone()
    };
    assert_eq!(status_at(&head), "waiting");
    let human = env
        .run(&["workflow", "status", "two", "--at", &head])
        .stdout;
    assert!(human.contains("Status: ⏳ waiting"), "{human}");
    assert!(!human.contains("running"), "{human}");
    // A resume goes on: the past it went on from stays as it was; from its own event on, a
    // driver was at work.
    env.run(&["workflow", "resume", "two"]).assert_exit(3);
    assert_eq!(status_at(&head), "waiting");
    let resumed = (head.parse::<u64>().unwrap() + 1).to_string();
    assert_eq!(status_at(&resumed), "running");
    // A report that drives on: its checkpoint was one a driver went on from.
    env.run(&["workflow", "run", "two"]).assert_exit(3);
    env.run(&["workflow", "step", "complete", "Ask"])
        .assert_exit(3);
    assert_eq!(status_at(&head), "running");
    assert_eq!(env.status(None)["status"], "waiting");
}

fn limits_can_be_lifted_a_run_stopped_by_its_time_limit_resumes_with_more_time(env: Env) {
    env.config(r#"{"workflow": {"timeout_seconds": 1}}"#);
    env.workflow(
        "long",
        "name: long\nsteps:\n  - name: wait\n    run: sleep 2\n",
    );
    env.run(&["workflow", "run", "long"]).assert_exit(3);
    // The reason names the limit and both places it is set: after a `resume --timeout` the
    // configuration's `timeout_seconds` is not where the limit in force came from.
    let reason = env.status(None)["reason"].as_str().unwrap().to_string();
    assert!(
        reason.contains("time limit of 1 s")
            && reason.contains("resume --timeout")
            && reason.contains("timeout_seconds"),
        "{reason}"
    );
    // The same limit again: the same end.
    env.run(&["workflow", "resume"]).assert_exit(3);
    // --timeout lifts it for this resume, and is recorded.
    env.run(&["workflow", "resume", "--timeout", "1m"])
        .assert_exit(0);
    let log = env.run(&["--json", "log", "show"]).json();
    let last_resume = log
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find(|e| e["type"] == "run_resumed")
        .unwrap();
    assert_eq!(last_resume["body"]["timeout_seconds"], 60);
    // Raising it in the configuration works as well.
    env.workflow(
        "long2",
        "name: long2\nsteps:\n  - name: wait\n    run: sleep 2\n",
    );
    env.run(&["workflow", "run", "long2"]).assert_exit(3);
    env.config(r#"{"workflow": {"timeout_seconds": 60}}"#);
    env.run(&["workflow", "resume"]).assert_exit(0);
}

/// Seen by a review: a last step that ended as the run's time limit ran out (`sleep 1` under
/// `timeout_seconds: 1`) lost its success: the driver asked to pause a run that had just
/// finished, the refusal took the staged end with it, the driver said "the run already
/// finished (completed)" and exited 1, and the run stayed `interrupted`, its step run again
/// by `resume`. Whichever comes first, the run ends completed (its success recorded) or
/// stopped by its limit (resumable, the step not done), never neither.
fn a_last_step_ending_as_the_time_limit_runs_out_is_recorded_completed_or_stopped(env: Env) {
    env.config(r#"{"workflow": {"timeout_seconds": 1}}"#);
    env.workflow(
        "edge",
        "name: edge\nsteps:\n  - name: slow\n    run: sleep 1; echo done >> ran.txt\n",
    );
    for _ in 0..4 {
        let out = env.run(&["workflow", "run", "edge"]);
        let status = env.status(None);
        match status["status"].as_str() {
            Some("completed") => assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr),
            // Stopped by its limit: resumable (exit 3), the limit its reason.
            Some("stopped") => {
                assert_eq!(out.code, 3, "{}{}", out.stdout, out.stderr);
                assert!(
                    status["reason"].as_str().unwrap().contains("time limit")
                        && status["resumable"] == true,
                    "{status}"
                );
            }
            other => panic!("{other:?}: {}{}\n{status}", out.stdout, out.stderr),
        }
        assert!(
            !out.stderr.contains("moved on without it"),
            "{}",
            out.stderr
        );
    }
    let verify = env.run(&["--json", "log", "verify", "--all"]).json();
    assert_eq!(verify["ok"], true, "{verify}");
}

fn an_abort_from_another_terminal_ends_the_driver_with_aborted_and_exit_1(env: Env) {
    env.workflow(
        "hold",
        "name: hold\nsteps:\n  - name: wait\n    run: touch started; sleep 30\n",
    );
    let child = env
        .command(&["workflow", "run", "hold"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    common::wait_until("the step to start", || env.file("started").exists());
    env.run(&["workflow", "abort", "--message", "wrong branch"])
        .assert_exit(1);
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("aborted"), "{stdout}");
    assert!(!stdout.contains("Stopped"), "{stdout}");
    let status = env.status(None);
    assert_eq!(status["status"], "aborted");
    let log = env.run(&["--json", "log", "show"]).json();
    let end = log.as_array().unwrap().last().unwrap().clone();
    assert_eq!(end["type"], "run_finished");
    assert_eq!(end["body"]["by"]["message"], "wrong branch", "{end}");
}

fn a_stopped_scenario_names_orchestrate_resume(env: Env) {
    env.scenario("gate", "name: gate\ndescription: one manual gate\nphases:\n  - name: approve\n    description: approve it\n");
    env.run(&["orchestrate", "run", "gate"]).assert_exit(3);
    let stopped = env.run(&["orchestrate", "stop", "gate"]).assert_exit(3);
    assert!(
        stopped.stdout.contains("cortex orchestrate resume"),
        "{}",
        stopped.stdout
    );
    assert!(
        !stopped.stdout.contains("workflow resume"),
        "{}",
        stopped.stdout
    );
}

fn validation_errors_have_one_shape_and_one_form_for_workflows_and_scenarios(env: Env) {
    env.workflow(
        "broken",
        "name: broken\nsteps:\n  - name: a\n    run: 'true'\n    timeout: soon\n",
    );
    env.scenario("bad", "name: bad\ndescription: d\nphases:\n  - name: a\n    description: d\n    condition: after:nowhere\n");
    let w = env.run(&["--json", "workflow", "validate", "broken"]);
    let s = env.run(&["--json", "orchestrate", "validate", "bad"]);
    for (out, line, column) in [(&w, 5, 14), (&s, 6, 22)] {
        assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
        let doc = out.json();
        assert_eq!(doc["valid"], false);
        let e = &doc["errors"][0];
        let keys: Vec<&str> = e.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, ["column", "file", "hint", "line", "message"], "{doc}");
        assert_eq!(
            (e["line"].as_u64(), e["column"].as_u64()),
            (Some(line), Some(column))
        );
        assert!(e["file"].as_str().unwrap().ends_with(".yaml"));
    }
    // The same human form, on stdout, for both.
    for (args, file) in [
        (&["workflow", "validate", "broken"][..], "broken.yaml"),
        (&["orchestrate", "validate", "bad"], "bad.yaml"),
    ] {
        let out = env.run(args);
        assert!(
            out.stdout.starts_with(&format!("[ERROR] {file}\n  - ")) && out.stdout.contains("--> "),
            "{}",
            out.stdout
        );
    }
    // A run of an invalid definition says the same, as an error with the same list.
    let run = env.run(&["--json", "workflow", "run", "broken"]);
    assert_eq!(run.code, 2);
    assert_eq!(run.json()["errors"][0]["line"], 5);
}

fn a_reported_failure_on_a_rollback_step_rolls_back_at_once_and_is_never_interrupted(env: Env) {
    env.config(r#"{"workflow": {"enable_rollback": true}}"#);
    env.workflow(
        "rb",
        "name: rb\nsteps:\n  - name: Prep\n    run: echo prep\n    rollback: echo undone > undone.txt\n  - name: Review\n    prompt: review it\n    on_failure: rollback\n",
    );
    env.run(&["workflow", "run", "rb"]).assert_exit(3);
    // --no-drive: the rollback is recorded as decided and waits for a driver, not "interrupted";
    // the dry run shows what resume will do.
    env.run(&["workflow", "step", "fail", "Review", "--no-drive"])
        .assert_exit(3);
    let status = env.status(None);
    assert_eq!(status["status"], "waiting", "{status}");
    let plan = env
        .run(&["--json", "workflow", "resume", "--dry-run"])
        .json();
    assert_eq!(plan["steps"][0]["action"], "undo", "{plan}");
    assert_eq!(plan["steps"][1]["action"], "untouched", "{plan}");
    assert!(!env.file("undone.txt").exists());
    // A report drives the rollback at once: compensated, recorded, rolled back, exit 1.
    env.workflow(
        "rb2",
        "name: rb2\nsteps:\n  - name: Prep\n    run: echo prep\n    rollback: echo undone > undone2.txt\n  - name: Review\n    prompt: review it\n    on_failure: rollback\n",
    );
    env.run(&["workflow", "run", "rb2"]).assert_exit(3);
    let failed = env
        .run(&["workflow", "step", "fail", "Review", "--message", "bad"])
        .assert_exit(1);
    assert!(env.file("undone2.txt").exists(), "{}", failed.stdout);
    let status = env.status(None);
    assert_eq!(status["status"], "rolled_back", "{status}");
    assert_eq!(status["steps"][0]["status"], "rolled_back", "{status}");
    let log = env
        .run(&["--json", "log", "show", status["run_id"].as_str().unwrap()])
        .json();
    let types: Vec<&str> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert!(
        types.ends_with(&["step_compensated", "rollback_finished", "run_finished"]),
        "{types:?}"
    );
}

fn a_secret_input_given_at_run_lets_reports_drive_on_to_what_needs_it_and_the_suggested_resume_names_it(
    env: Env,
) {
    env.workflow(
        "tg",
        "name: tg\ninputs:\n  api_token: {type: string, required: true}\nsteps:\n  - {name: Plan, prompt: plan}\n  - {name: Implement, prompt: implement}\n  - {name: Use, run: 'echo ${{ inputs.api_token }} > tok.txt'}\n",
    );
    env.run(&["workflow", "run", "tg", "--input", "api_token=given-1234"])
        .assert_exit(3);
    // Prompt steps need no secret: the report drives on to the next one.
    env.run(&["workflow", "step", "complete", "Plan"])
        .assert_exit(3);
    assert_eq!(env.status(None)["waiting_for"], "Implement");
    // The next runs a command: the drive stops before it and says what to give.
    let done = env
        .run(&["workflow", "step", "complete", "Implement"])
        .assert_exit(3);
    assert!(done.stderr.contains("api_token"), "{}", done.stderr);
    assert!(!env.file("tok.txt").exists());
    let status = env.status(None);
    assert_eq!(status["status"], "waiting", "{status}");
    let argv: Vec<String> = status["next"][0]["argv"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_string())
        .collect();
    assert_eq!(argv[1..3], ["workflow", "resume"], "{argv:?}");
    assert_eq!(argv[4..], ["--input", "api_token=VALUE"], "{argv:?}");
    // As pasted, with VALUE replaced: it goes on.
    let mut args: Vec<&str> = argv[1..].iter().map(String::as_str).collect();
    args[4] = "api_token=given-1234";
    env.run(&args).assert_exit(0);
    assert_eq!(
        std::fs::read_to_string(env.file("tok.txt")).unwrap().trim(),
        "given-1234"
    );
}

/// Without the secret inputs' values, an `if:` that reads none of them is decided and a
/// literal `foreach:` list is read (nothing runs); an `if:` that reads one waits for them.
fn an_if_that_reads_no_secret_input_is_decided_without_it_and_one_that_does_waits(env: Env) {
    env.workflow(
        "ti",
        "name: ti\ninputs:\n  api_token: {type: string, required: true}\n  env: {type: string, default: prod}\nsteps:\n  - {name: Plan, prompt: plan}\n  - {name: Review, prompt: r, if: \"inputs.env == 'prod'\", foreach: [a, b]}\n  - {name: Gate, prompt: go, if: \"inputs.api_token != ''\"}\n",
    );
    env.run(&["workflow", "run", "ti", "--input", "api_token=k-1234"])
        .assert_exit(3);
    env.run(&["workflow", "step", "complete", "Plan"])
        .assert_exit(3);
    assert_eq!(env.status(None)["waiting_for"], "Review[0]");
    for item in ["Review[0]", "Review[1]"] {
        env.run(&["workflow", "step", "complete", item])
            .assert_exit(3);
    }
    // Gate's `if:` reads the secret: not decided on `***`. (A comparison with a literal
    // secret is refused by validate: the literal would be in the log.)
    let status = env.status(None);
    assert!(status["waiting_for"].is_null(), "{status}");
    let gate = status["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "Gate")
        .unwrap();
    assert_eq!(gate["status"], "pending", "{status}");
    assert!(gate["if"]["holds"].is_null(), "{status}");
    let resumed = env
        .command(&["workflow", "resume"])
        .env("CORTEX_INPUT_API_TOKEN", "k-1234")
        .output()
        .unwrap();
    assert_eq!(resumed.status.code(), Some(3));
    assert_eq!(env.status(None)["waiting_for"], "Gate");
}

fn the_suggested_report_names_the_outputs_its_gate_needs_and_those_later_steps_read(env: Env) {
    env.workflow(
        "needout",
        "name: needout\nsteps:\n  - name: Plan it\n    prompt: plan\n    validate: [{output: plan}, {run: 'test -n \"${{ steps.Plan it.outputs.plan }}\"'}]\n  - name: Use\n    run: echo ${{ steps.Plan it.outputs.notes }}\n",
    );
    let run = env.run(&["workflow", "run", "needout"]);
    assert_eq!(run.code, 3);
    // Required is what the gate refuses a report without; what a later step reads is in the
    // report too, said apart (a report may leave it out: it is empty then).
    assert!(
        run.stdout.contains(
            "--output plan=VALUE --output notes=VALUE   # report the step done, giving `plan`, `notes` (replace each VALUE); later steps read `notes`, empty if left out"
        ),
        "{}",
        run.stdout
    );
    let status = env.status(None);
    assert_eq!(
        status["steps"][0]["required_outputs"],
        serde_json::json!(["plan"])
    );
    assert_eq!(
        status["steps"][0]["expected_outputs"],
        serde_json::json!(["notes"])
    );
    assert_eq!(
        status["steps"][0]["checks"].as_array().unwrap().len(),
        1,
        "{status}"
    );
    let human = env.run(&["workflow", "status"]).stdout;
    assert!(
        human.contains(
            "Report with: --output plan=VALUE\n   Later steps use: --output notes=VALUE\n"
        ),
        "{human}"
    );
    // Pasted literally, the placeholder is refused and nothing is recorded (an agent follows
    // the line as it is: nothing made up may pass the gate); with values in its place, it does.
    let argv: Vec<String> = status["next"][0]["argv"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_string())
        .collect();
    let args: Vec<&str> = argv[1..].iter().map(String::as_str).collect();
    let before = events(&env);
    let pasted = env.run(&args).assert_exit(2);
    assert!(pasted.stderr.contains("placeholder"), "{}", pasted.stderr);
    assert_eq!(events(&env), before, "a refused paste records nothing");
    let filled: Vec<String> = argv[1..]
        .iter()
        .map(|a| a.replace("=VALUE", "=the real thing"))
        .collect();
    let args: Vec<&str> = filled.iter().map(String::as_str).collect();
    env.run(&args).assert_exit(0);
    // `notes` left out: accepted, and said, with the step that sees it empty.
    // (A new run's, found without `--run`.)
    let without: Vec<&str> = [&args[..4], &args[6..args.len() - 2]].concat();
    env.run(&["workflow", "run", "needout"]).assert_exit(3);
    let done = env.run(&without).assert_exit(0);
    assert!(
        done.stderr.contains(
            "warning: `Plan it` was reported without output `notes`: `Use` will see it empty"
        ),
        "{}",
        done.stderr
    );
    // A scenario phase whose output a later phase reads: the same.
    env.scenario("rev", "name: rev\ndescription: d\nphases:\n  - name: review\n    description: review\n  - name: publish\n    description: p\n    condition: after:review\n    run: echo ${{ phases.review.outputs.verdict }}\n");
    let run = env.run(&["--json", "orchestrate", "run", "rev"]);
    assert_eq!(run.code, 3);
    let next = &run.json()["next"][0];
    assert_eq!(next["argv"][2], "complete", "{next}");
    assert_eq!(next["argv"][5], "--output", "{next}");
    assert_eq!(next["argv"][6], "verdict=VALUE", "{next}");
    assert!(
        next["why"]
            .as_str()
            .unwrap()
            .ends_with("; later phases read `verdict`, empty if left out"),
        "{next}"
    );
    assert_eq!(
        run.json()["phases"][0]["expected_outputs"],
        serde_json::json!(["verdict"])
    );
}

/// Outputs a later step reads but no `validate: - output:` requires are "expected", not
/// "required": a report without them is accepted (with a warning naming the steps that see
/// them empty), so the status does not say it must give them. Before, `required_outputs`
/// and the suggested report's placeholders named them, yet a report without them passed.
#[test]
fn outputs_only_later_steps_read_are_expected_not_required_and_leaving_them_out_warns() {
    let env = Env::new();
    env.workflow(
        "inj",
        "name: inj\nsteps:\n  - {name: first, prompt: \"Hello\"}\n  - {name: second, run: 'echo \"got ${{ steps.first.outputs.x }}\"'}\n  - {name: third, prompt: \"Third sees ${{ steps.first.outputs.x }}\"}\n",
    );
    let run = env.run(&["--json", "workflow", "run", "inj"]);
    assert_eq!(run.code, 3);
    let doc = run.json();
    assert!(doc["steps"][0]["required_outputs"].is_null(), "{doc}");
    assert_eq!(
        doc["steps"][0]["expected_outputs"],
        serde_json::json!(["x"])
    );
    // In the suggested report all the same (an agent runs it as it is), said apart.
    assert_eq!(doc["next"][0]["argv"][8], "x=VALUE", "{doc}");
    assert_eq!(
        doc["next"][0]["why"],
        "report the step done, giving `x` (replace each VALUE); later steps read `x`, empty if left out"
    );
    let human = env.run(&["workflow", "status"]).stdout;
    assert!(
        human.contains("   Later steps use: --output x=VALUE\n"),
        "{human}"
    );
    assert!(!human.contains("Report with"), "{human}");
    let done = env
        .run(&["--json", "workflow", "step", "complete", "first"])
        .assert_exit(3);
    let warnings = &done.json()["warnings"];
    assert_eq!(
        warnings[0], "`first` was reported without output `x`: `second`, `third` will see it empty",
        "{warnings}"
    );
    // Given, nothing is said.
    env.run(&["workflow", "run", "inj"]).assert_exit(3);
    let given = env
        .run(&["workflow", "step", "complete", "first", "--output", "x=1"])
        .assert_exit(3);
    assert!(
        !given.stderr.contains("will see it empty"),
        "{}",
        given.stderr
    );
}

fn a_start_on_a_stopped_scenario_says_resume_goes_on_and_failed_or_stopped_runs_offer_abort(
    env: Env,
) {
    env.scenario("sc", "name: sc\ndescription: d\nphases:\n  - name: analysis\n    description: a\n    condition: manual\n  - name: wait\n    description: w\n");
    env.run(&["orchestrate", "run", "sc"]).assert_exit(3);
    // No name: the latest scenario run.
    let stopped = env.run(&["--json", "orchestrate", "stop"]).assert_exit(3);
    let next: Vec<serde_json::Value> = stopped.json()["next"].as_array().unwrap().clone();
    let verbs: Vec<&str> = next
        .iter()
        .map(|n| n["argv"][2].as_str().unwrap())
        .collect();
    assert_eq!(verbs, ["resume", "abort"], "{next:?}");
    let run_id = stopped.json()["run_id"].as_str().unwrap().to_string();
    let started = env.run(&["orchestrate", "start", &run_id, "analysis"]);
    assert!(
        started
            .stderr
            .contains(&format!("cortex orchestrate resume {run_id}")),
        "{}",
        started.stderr
    );
    // Resume goes on and starts it: it waits for its report.
    let resumed = env.run(&["--json", "orchestrate", "resume"]).assert_exit(3);
    assert_eq!(resumed.json()["phases"][0]["status"], "waiting");
    // A failed phase: resume, skip it, or abort.
    env.scenario("scfail", "name: scfail\ndescription: d\nphases:\n  - name: one\n    description: b\n    retry: {max_retry_attempts: 0}\n    run: exit 1\n  - name: two\n    description: c\n    condition: after:one\n    run: echo two > two.txt\n");
    let failed = env
        .run(&["--json", "orchestrate", "run", "scfail"])
        .assert_exit(1);
    let next = next_argvs(&failed.json()["next"]);
    assert!(
        next.iter().any(|a| a.ends_with(&["--skip".to_string()])),
        "{next:?}"
    );
    assert!(next.iter().any(|a| a[2] == "abort"), "{next:?}");
    env.run(&["orchestrate", "resume", "scfail", "--skip"])
        .assert_exit(0);
    assert!(env.file("two.txt").exists());
}

fn a_refused_report_lists_every_problem_in_errors(env: Env) {
    env.workflow(
        "g",
        "name: g\nsteps:\n  - name: Plan\n    prompt: p\n    validate: [{output: plan}, {run: test -f plan-ok}]\n",
    );
    env.run(&["workflow", "run", "g"]).assert_exit(3);
    let refused = env.run(&["--json", "workflow", "step", "complete", "Plan"]);
    assert_eq!(refused.code, 2);
    let doc: serde_json::Value = serde_json::from_str(&refused.stdout).unwrap();
    let messages: Vec<&str> = doc["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["message"].as_str().unwrap())
        .collect();
    assert_eq!(messages.len(), 2, "{doc}");
    assert!(messages.iter().any(|m| m.contains("plan-ok")), "{doc}");
    assert!(messages.iter().any(|m| m.contains("`plan`")), "{doc}");
    let keys: Vec<&str> = doc["errors"][0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, ["column", "file", "hint", "line", "message"], "{doc}");
}

fn status_at_shows_a_scenario_run_as_of_an_event_and_a_negative_seq_is_a_range_error(env: Env) {
    env.scenario(
        "one",
        "name: one\ndescription: d\nphases:\n  - name: a\n    description: a\n",
    );
    env.run(&["orchestrate", "run", "one"]).assert_exit(3);
    env.run(&["orchestrate", "complete", "one", "a"])
        .assert_exit(0);
    let then = env
        .run(&["--json", "orchestrate", "status", "one", "--at", "1"])
        .assert_exit(0);
    let doc = then.json();
    assert_eq!(doc["as_of"]["seq"], 1, "{doc}");
    assert_ne!(doc["status"], "completed", "{doc}");
    assert!(doc["phases"].is_array(), "{doc}");
    let human = env.run(&["orchestrate", "status", "--at", "1"]).stdout;
    assert!(human.starts_with("(as of event 1, "), "{human}");
    // Asked of `workflow status`, it points to the scenario's status as of the same event.
    let run_id = doc["run_id"].as_str().unwrap().to_string();
    let other = env.run(&["workflow", "status", &run_id, "--at", "1"]);
    assert_eq!(other.code, 2);
    assert!(
        other
            .stderr
            .contains(&format!("cortex orchestrate status {run_id} --at 1")),
        "{}",
        other.stderr
    );
    for group in ["workflow", "orchestrate"] {
        let negative = env.run(&[group, "status", "--at", "-1"]);
        assert_eq!(negative.code, 2);
        assert!(negative.stderr.contains("0 or more"), "{}", negative.stderr);
    }
}

fn a_run_stopped_by_its_time_limit_suggests_a_longer_one_that_works_when_pasted(env: Env) {
    env.config(r#"{"workflow": {"timeout_seconds": 1}}"#);
    env.workflow(
        "slow",
        "name: slow\nsteps:\n  - name: wait\n    run: sleep 1.5\n",
    );
    let run = env.run(&["--json", "workflow", "run", "slow"]);
    assert_eq!(run.code, 3);
    let argv: Vec<String> = serde_json::from_value(run.json()["next"][0]["argv"].clone()).unwrap();
    assert_eq!(
        argv[2..],
        ["resume", &argv[3], "--timeout", "10s"],
        "{argv:?}"
    );
    let human = env.run(&["workflow", "status"]).stdout;
    assert!(human.contains("--timeout 10s"), "{human}");
    // The plain resume beside it says which limit it goes on with, and from where: `wait`
    // never completed, so from the beginning.
    assert_eq!(
        run.json()["next"][1]["why"],
        "start again from the beginning (no step has completed) with the time limit cortex.config.json sets now"
    );
    let args: Vec<&str> = argv[1..].iter().map(String::as_str).collect();
    env.run(&args).assert_exit(0);
}

fn scenario_messages_say_phase_not_step(env: Env) {
    env.scenario("ins", "name: ins\ndescription: d\ninputs:\n  n: {type: integer}\nphases:\n  - name: one\n    description: b\n    retry: {max_retry_attempts: 0}\n    run: exit 1\n");
    let bad = env.run(&["orchestrate", "run", "ins", "--input", "zz=1"]);
    assert_eq!(bad.code, 2);
    let all = format!("{}{}", bad.stdout, bad.stderr);
    assert!(!all.contains("workflow"), "{all}");
    assert!(all.contains("its inputs: n"), "{all}");
    let failed = env.run(&["orchestrate", "run", "ins"]);
    assert_eq!(failed.code, 1);
    assert!(
        failed
            .stdout
            .contains("Phase `one`: exit code 1, 1 attempt\n"),
        "{}",
        failed.stdout
    );
    env.scenario("iff", "name: iff\ndescription: d\nphases:\n  - name: one\n    description: b\n    if: 'inputs.x =='\n");
    let invalid = env.run(&["--json", "orchestrate", "validate", "iff"]);
    let hint = invalid.json()["errors"][0]["hint"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(hint.contains("phases.build.outputs"), "{}", invalid.stdout);
}

fn a_report_without_run_goes_to_the_latest_run_and_engine_steps_are_not_reported(env: Env) {
    env.workflow("ask", "name: ask\nsteps:\n  - {name: Ask, prompt: do it}\n");
    env.workflow("quick", "name: quick\nsteps:\n  - {name: q, run: 'true'}\n");
    env.run(&["workflow", "run", "ask"]).assert_exit(3);
    env.run(&["workflow", "run", "quick"]).assert_exit(0);
    // The newest run finished: a report without `--run` goes to it (SPEC §7: the latest run
    // of the kind), which says so; never on to an older run that waits. Named, it goes there.
    let latest = env
        .run(&["workflow", "step", "complete", "Ask"])
        .assert_exit(2);
    assert!(
        latest.stderr.contains("already finished (completed)"),
        "{}",
        latest.stderr
    );
    env.run(&["workflow", "step", "complete", "Ask", "--run", "ask"])
        .assert_exit(0);
    // A step the engine runs is not reported on, whoever holds the run.
    env.workflow(
        "hold",
        "name: hold\nsteps:\n  - {name: L, run: 'touch started; sleep 30'}\n",
    );
    let mut child = env.spawn(&["workflow", "run", "hold"]);
    common::wait_until("the step to start", || env.file("started").exists());
    let refused = env
        .run(&["workflow", "step", "fail", "L", "--run", "hold"])
        .assert_exit(2);
    assert!(
        refused.stderr.contains("run by the engine"),
        "{}",
        refused.stderr
    );
    env.run(&["workflow", "abort", "hold"]).assert_exit(1);
    let _ = child.wait();
}

fn an_abort_message_is_the_runs_reason_and_no_drive_then_report_points_to_resume(env: Env) {
    env.workflow(
        "two",
        "name: two\nsteps:\n  - {name: A, prompt: a}\n  - {name: B, prompt: b}\n",
    );
    env.run(&["workflow", "run", "two"]).assert_exit(3);
    env.run(&["workflow", "step", "complete", "A", "--no-drive"])
        .assert_exit(3);
    let early = env.run(&["workflow", "step", "complete", "B"]);
    assert_eq!(early.code, 2);
    assert!(
        early.stderr.contains("cortex workflow resume"),
        "{}",
        early.stderr
    );
    let aborted = env.run(&["workflow", "abort", "--message", "not this sprint"]);
    assert_eq!(aborted.code, 1);
    let status = env.status(None);
    let reason = status["reason"].as_str().unwrap();
    assert!(reason.contains("not this sprint"), "{status}");
    assert!(
        reason.contains(status["actor"].as_str().unwrap()),
        "{status}"
    );
}

fn history_limit_0_and_status_of_a_definition_without_runs_say_what_is_true(env: Env) {
    env.workflow("w", "name: w\nsteps:\n  - {name: a, run: 'true'}\n");
    env.workflow("v", "name: v\nsteps:\n  - {name: a, run: 'true'}\n");
    env.run(&["workflow", "run", "w"]).assert_exit(0);
    // A page of no runs is refused (1 to 500, as the API's `limit`), not said to be empty.
    let none = env.run(&["workflow", "history", "--limit", "0"]);
    assert!(!none.stdout.contains("No runs yet"), "{}", none.stdout);
    assert_eq!(none.code, 2, "{}", none.stderr);
    assert!(
        none.stderr.contains("`--limit` is between 1 and 500"),
        "{}",
        none.stderr
    );
    let never = env.run(&["workflow", "status", "v"]);
    assert_eq!(never.code, 2);
    assert!(
        never.stderr.contains("`cortex workflow run v`"),
        "{}",
        never.stderr
    );
}

fn an_unknown_key_gets_a_did_you_mean(env: Env) {
    env.workflow(
        "typo",
        "name: typo\nsteps:\n  - {name: a, run: 'true', on_failur: skip}\n",
    );
    let out = env.run(&["--json", "workflow", "validate", "typo"]);
    assert_eq!(out.code, 2);
    assert_eq!(
        out.json()["errors"][0]["hint"],
        "did you mean `on_failure`?"
    );
}

/// A misspelled key does not hide the file's other problems: the duplicate step and the bad
/// duration are reported with it, each at its place, and every unknown key is (workflows and
/// scenarios alike).
fn an_unknown_key_does_not_hide_the_other_problems_of_its_file(env: Env) {
    env.workflow(
        "many",
        "name: many\nsteps:\n  - name: a\n    run: 'true'\n    timout: 5s\n  - name: a\n    run: 'true'\n    timeout: 5x\n    retry: {max_retry_attempt: 3, bakoff: 2}\n",
    );
    let out = env
        .run(&["--json", "workflow", "validate", "many"])
        .assert_exit(2);
    let errors: Vec<(u64, u64, String)> = out.json()["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["line"].as_u64().unwrap(),
                e["column"].as_u64().unwrap(),
                e["message"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let at: Vec<(u64, u64)> = errors.iter().map(|e| (e.0, e.1)).collect();
    assert_eq!(
        at,
        [(5, 5), (6, 11), (8, 14), (9, 13), (9, 35)],
        "{errors:?}"
    );
    assert!(errors[0].2.contains("unknown field `timout`"), "{errors:?}");
    assert!(errors[1].2.contains("used twice"), "{errors:?}");
    assert!(errors[2].2.contains("`5x` is not a duration"), "{errors:?}");
    assert!(errors[4].2.contains("unknown field `bakoff`"), "{errors:?}");
    // Nothing runs.
    env.run(&["workflow", "run", "many"]).assert_exit(2);
    env.scenario("sc", "name: sc\ndescription: d\nphases:\n  - {name: a, descripton: x}\n  - {name: a, timeout: 5x}\n");
    let out = env.run(&["orchestrate", "validate", "sc"]);
    assert_eq!(out.code, 2);
    for said in [
        "unknown field `descripton`",
        "phase name `a` is used twice",
        "`5x` is not a duration",
    ] {
        assert!(out.stdout.contains(said), "{said}: {}", out.stdout);
    }
}

/// A duration that is not one says why in words, with examples, never the parser's
/// "expected number at 0" (in a definition and on the command line).
fn a_bad_duration_says_why_in_words_with_an_example(env: Env) {
    env.workflow(
        "dur",
        "name: dur\nsteps:\n  - {name: a, run: 'true', timeout: abc}\n",
    );
    for out in [
        env.run(&["workflow", "validate", "dur"]),
        env.run(&["gc", "--older-than", "abc"]),
        env.run(&["worker", "--poll", "abc"]),
    ] {
        assert_eq!(out.code, 2);
        let said = out.text();
        assert!(said.contains("it does not start with a number"), "{said}");
        assert!(said.contains("`10m`"), "{said}");
        assert!(!said.contains("expected number"), "{said}");
    }
    // Out of range: the examples are inside the range.
    let out = env.run(&["worker", "--lease", "2h"]);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("from 300ms to 1h"), "{}", out.stderr);
    let examples = out
        .stderr
        .split("in that range (")
        .nth(1)
        .unwrap_or_default();
    assert!(
        examples.starts_with("`30`, `500ms`, `10m`)"),
        "{}",
        out.stderr
    );
    for absurd in ["1e30", "9999999999999999999"] {
        let out = env.run(&["gc", "--older-than", absurd]);
        assert_eq!(out.code, 2, "{absurd}: {}", out.stdout);
        assert!(out.stderr.contains("from 0 to 3650 days"), "{}", out.stderr);
    }
}

/// What to do next ends the status screen: a run's notification lines come before it.
fn the_next_block_ends_the_status_after_the_notification_lines(env: Env) {
    env.workflow(
        "nd",
        "name: nd\nsteps:\n  - {name: Deploy, run: 'exit 1', retry: {max_retry_attempts: 0}}\nnotify:\n  on_failure:\n    - run: 'true'\n  on_finish:\n    - run: 'true'\n",
    );
    env.run(&["workflow", "run", "nd"]).assert_exit(1);
    let status = env.run(&["workflow", "status"]).stdout;
    let notes = status.find("📣 on_failure").expect(&status);
    let finish = status.find("📣 on_finish").expect(&status);
    let next = status.find("\nNext:\n").expect(&status);
    assert!(notes < next && finish < next, "{status}");
    let after: Vec<&str> = status[next..].lines().skip(2).collect();
    assert!(
        after.iter().all(|l| l.starts_with("  cortex ")),
        "only suggestions follow Next: {status}"
    );
    let json = env.run(&["--json", "workflow", "status"]).json();
    assert_eq!(
        json["notifications"].as_array().map(Vec::len),
        Some(2),
        "{json}"
    );
}

/// A dry run of `resume` on a run a live driver holds says so (exit 4, as the resume would
/// be refused), also when `locks/` was deleted under it; a file where `locks/` belongs is a
/// clear error saying what to do.
fn a_dry_run_resume_of_a_held_run_says_it_is_held(env: Env) {
    env.workflow(
        "hold",
        "name: hold\nsteps:\n  - name: wait\n    run: touch started; while [ ! -f go ]; do sleep 0.05; done\n",
    );
    let mut child = env.spawn(&["workflow", "run", "hold"]);
    common::wait_until("the step to start", || env.file("started").exists());
    for deleted in [false, true] {
        if deleted {
            std::fs::remove_dir_all(env.home().join("locks")).unwrap();
        }
        let plan = env.run(&["workflow", "resume", "--dry-run"]).assert_exit(4);
        assert!(plan.stdout.contains("Held: run"), "{}", plan.stdout);
        assert!(plan.stdout.contains("exit 4"), "{}", plan.stdout);
        let json = env.run(&["--json", "workflow", "resume", "--dry-run"]);
        assert!(json.json()["held_by"].is_string(), "{}", json.stdout);
    }
    std::fs::write(env.file("go"), "").unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(0));
    env.workflow("w", "name: w\nsteps:\n  - {name: a, prompt: p}\n");
    env.run(&["workflow", "run", "w"]).assert_exit(3);
    let free = env.run(&["workflow", "resume", "--dry-run"]);
    assert_eq!(free.code, 0, "{}", free.stdout);
    assert!(!free.stdout.contains("Held"), "{}", free.stdout);
    // `locks` a file: what is wrong and what to do, nothing recorded.
    let _ = std::fs::remove_dir_all(env.home().join("locks"));
    std::fs::write(env.home().join("locks"), "").unwrap();
    let before = env.run(&["--json", "log", "show"]).json();
    let out = env
        .run(&["workflow", "step", "complete", "a"])
        .assert_exit(2);
    assert!(
        out.stderr.contains("locks is not a folder") && out.stderr.contains("remove or move it"),
        "{}",
        out.stderr
    );
    assert_eq!(env.run(&["--json", "log", "show"]).json(), before);
}

/// `resume --dry-run` lists a rollback's compensations in the order they run (newest step
/// first); after one failed, it says the run ends failed, as it does.
fn a_dry_run_lists_compensations_newest_first_and_a_failed_one_ends_the_run_failed(env: Env) {
    env.config(r#"{"workflow": {"enable_rollback": true}}"#);
    env.workflow(
        "rb3",
        "name: rb3\nsteps:\n  - {name: Prep, run: 'true', rollback: 'test -f started && exit 0; touch started; sleep 5'}\n  - {name: Prep2, run: 'true', rollback: 'exit 3'}\n  - {name: Review, prompt: r, on_failure: rollback}\n",
    );
    env.run(&["workflow", "run", "rb3"]).assert_exit(3);
    env.run(&["workflow", "step", "fail", "Review", "--no-drive"])
        .assert_exit(3);
    let plan = env
        .run(&["--json", "workflow", "resume", "--dry-run"])
        .json();
    let steps: Vec<(String, String)> =
        serde_json::from_value::<Vec<serde_json::Value>>(plan["steps"].clone())
            .unwrap()
            .iter()
            .map(|s| {
                (
                    s["name"].as_str().unwrap().into(),
                    s["action"].as_str().unwrap().into(),
                )
            })
            .collect();
    let expected = |v: &[(&str, &str)]| -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    };
    assert_eq!(
        steps,
        expected(&[("Prep2", "undo"), ("Prep", "undo"), ("Review", "untouched")])
    );
    // Prep2's compensation fails, then the driver dies during Prep's.
    let mut child = env.spawn(&["workflow", "resume"]);
    common::wait_until("Prep's compensation to start", || {
        env.file("started").exists()
    });
    child.kill().unwrap();
    child.wait().unwrap();
    let plan = env.run(&["workflow", "resume", "--dry-run"]);
    assert!(
        plan.stdout
            .contains("Prep2                    its compensation failed")
            && plan
                .stdout
                .contains("the run ends failed (a compensation failed)"),
        "{}",
        plan.stdout
    );
    assert!(!plan.stdout.contains("ends rolled back"), "{}", plan.stdout);
    let json = env
        .run(&["--json", "workflow", "resume", "--dry-run"])
        .json();
    assert_eq!(json["steps"][0]["action"], "compensation_failed", "{json}");
    assert_eq!(json["steps"][1]["action"], "undo", "{json}");
    assert_eq!(json["steps"][2]["action"], "untouched_failed", "{json}");
    // And so it ends.
    env.run(&["workflow", "resume"]).assert_exit(1);
    assert_eq!(env.status(None)["status"], "failed");
}

/// After `step fail --no-drive` on a rollback step the run waits for a driver to roll back:
/// the status says that, and the suggested resume says it rolls back.
fn a_rollback_decided_by_a_no_drive_report_shows_as_waiting_to_roll_back(env: Env) {
    env.config(r#"{"workflow": {"enable_rollback": true}}"#);
    env.workflow(
        "rb4",
        "name: rb4\nsteps:\n  - {name: Prep, run: 'true', rollback: 'true'}\n  - {name: Review, prompt: r, on_failure: rollback}\n",
    );
    env.run(&["workflow", "run", "rb4"]).assert_exit(3);
    let recorded = env.run(&["workflow", "step", "fail", "Review", "--no-drive"]);
    assert!(
        recorded.stdout.contains("roll it back"),
        "{}",
        recorded.stdout
    );
    let status = env.run(&["workflow", "status"]).stdout;
    assert!(
        status.contains("Status: ⏳ waiting to roll back (resume runs the compensations)"),
        "{status}"
    );
    env.run(&["workflow", "resume"]).assert_exit(1);
    assert_eq!(env.status(None)["status"], "rolled_back");
}

/// A check criterion is shown in the driver's lines as `preview` shows it: each template's
/// value quoted for where it stands (it was shown as `${{ ... }}`), so the line is the
/// command that ran, and pasting it runs nothing a value holds; a secret input as `***`. The
/// status shows it so too (`$ CMD`, told apart from an item): one rendering of a check,
/// wherever it is shown (review m, finding 3).
fn check_criteria_are_shown_as_the_command_that_ran_quoted(env: Env) {
    env.scenario("chk", "name: chk\ndescription: d\ninputs:\n  v: {type: string, default: '1.2'}\n  api_token: {type: string, default: ''}\nphases:\n  - name: build\n    description: b\n    run: touch \"app-${{ inputs.v }}.txt\"\n    success_criteria:\n      - check: test -f \"app-${{ inputs.v }}.txt\"\n      - check: test -n \"${{ inputs.api_token }}\"\n");
    let token = [("CORTEX_INPUT_API_TOKEN", "s3cr3t-value-1234")];
    let run = env
        .run_with(&["orchestrate", "run", "chk"], &token)
        .assert_exit(0);
    assert!(env.project().join("app-1.2.txt").exists());
    assert!(
        run.stdout.contains("[x] check: test -f \"app-1.2.txt\"\n"),
        "{}",
        run.stdout
    );
    let run = env
        .run_with(
            &["orchestrate", "run", "chk", "--input", "v=$(touch pwned)"],
            &token,
        )
        .assert_exit(0);
    assert!(
        run.stdout
            .contains("[x] check: test -f \"app-\\$(touch pwned).txt\"\n"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("[x] check: test -n \"***\"\n"),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains("s3cr3t"), "{}", run.stdout);
    assert!(!env.project().join("pwned").exists());
    let status = env.run(&["orchestrate", "status", "chk"]).stdout;
    assert!(
        status.contains("[x] $ test -f \"app-\\$(touch pwned).txt\"\n"),
        "{status}"
    );
    assert!(status.contains("[x] $ test -n \"***\"\n"), "{status}");
    assert!(!status.contains("s3cr3t"), "{status}");
}

fn a_scenarios_secret_input_is_kept_out_of_the_log_and_the_suggested_resume_names_it(env: Env) {
    env.scenario("ss", "name: ss\ndescription: d\ninputs:\n  api_token: {type: string, required: true}\nphases:\n  - name: a\n    description: b\n  - name: u\n    description: u\n    condition: after:a\n    run: echo ${{ inputs.api_token }} > tok.txt\n");
    env.run(&[
        "orchestrate",
        "run",
        "ss",
        "--input",
        "api_token=sekrit-value-1",
    ])
    .assert_exit(3);
    assert!(env.log_holding("sekrit-value-1").is_empty());
    // A report from a process without the value: recorded, and it says what it needs.
    let done = env
        .run(&["--json", "orchestrate", "complete", "ss", "a"])
        .assert_exit(3);
    assert!(done.stderr.contains("api_token"), "{}", done.stderr);
    let argv: Vec<String> = serde_json::from_value(done.json()["next"][0]["argv"].clone()).unwrap();
    assert_eq!(argv[1..3], ["orchestrate", "resume"], "{argv:?}");
    assert_eq!(argv[4..], ["--input", "api_token=VALUE"], "{argv:?}");
    let mut args: Vec<&str> = argv[1..].iter().map(String::as_str).collect();
    args[4] = "api_token=sekrit-value-1";
    env.run(&args).assert_exit(0);
    assert_eq!(
        std::fs::read_to_string(env.file("tok.txt")).unwrap().trim(),
        "sekrit-value-1"
    );
    assert!(env.log_holding("sekrit-value-1").is_empty());
}

/// A scenario given a secret input at `run` goes on after a start or a report from a process
/// without the value, as a workflow does: phases people do start and wait for their reports;
/// the drive stops only before a phase the engine runs, and says to resume with the input.
fn a_scenario_with_a_secret_input_drives_on_after_start_and_complete_until_a_phase_needs_it(
    env: Env,
) {
    env.scenario("sec", "name: sec\ndescription: d\ninputs:\n  db_password: {type: string, required: true}\n  env: {type: string, default: prod}\nphases:\n  - {name: plan, description: plan it, condition: manual}\n  - {name: review, description: look, condition: after:plan, if: \"inputs.env == 'prod'\"}\n  - {name: deploy, description: d, condition: after:review, run: 'echo $CORTEX_INPUT_DB_PASSWORD > pw.txt'}\n");
    env.run(&[
        "orchestrate",
        "run",
        "sec",
        "--input",
        "db_password=realpw-9",
    ])
    .assert_exit(3);
    // Waiting on a manual start is waiting on people, not "nobody drives it".
    assert!(env.run(&["--json", "orchestrate", "status", "sec"]).json()["reason"].is_null());
    env.run(&["orchestrate", "start", "sec", "plan"])
        .assert_exit(3);
    let phase = |name: &str| {
        let status = env.run(&["--json", "orchestrate", "status", "sec"]).json();
        status["phases"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .unwrap()["status"]
            .clone()
    };
    assert_eq!(phase("plan"), "waiting");
    env.run(&["orchestrate", "complete", "sec", "plan"])
        .assert_exit(3);
    assert_eq!(phase("plan"), "completed");
    // Its `if:` reads no secret input: decided without one.
    assert_eq!(phase("review"), "waiting");
    // The next phase runs a command: the drive stops before it and says what to give.
    let done = env
        .run(&["orchestrate", "complete", "sec", "review"])
        .assert_exit(3);
    assert!(done.stderr.contains("db_password"), "{}", done.stderr);
    assert!(
        done.stdout
            .contains("Waiting: nobody drives it now; resume goes on, given the values of its secret inputs again"),
        "{}",
        done.stdout
    );
    // Its condition holds: `ready` (SPEC §5), started by whoever drives the run next.
    assert_eq!(phase("deploy"), "ready");
    assert!(!env.file("pw.txt").exists());
    let status = env.run(&["--json", "orchestrate", "status", "sec"]).json();
    let argv: Vec<String> = serde_json::from_value(status["next"][0]["argv"].clone()).unwrap();
    assert_eq!(argv[1..3], ["orchestrate", "resume"], "{argv:?}");
    assert_eq!(argv[4..], ["--input", "db_password=VALUE"], "{argv:?}");
    let mut args: Vec<&str> = argv[1..].iter().map(String::as_str).collect();
    args[4] = "db_password=realpw-9";
    env.run(&args).assert_exit(0);
    assert_eq!(
        std::fs::read_to_string(env.file("pw.txt")).unwrap().trim(),
        "realpw-9"
    );
    assert!(env.log_holding("realpw-9").is_empty());
}

/// The last step reported with `--no-drive` in a workflow with `post:` checks: the checks are
/// due, nobody runs them, and the run waits for someone to go on (never "interrupted", which
/// said its driver was killed); the report's own "Next:" and status say resume, and resume
/// runs the checks and completes it.
fn a_last_step_reported_without_driving_before_post_checks_waits_and_is_not_interrupted(env: Env) {
    env.workflow(
        "checked",
        "name: checked\nsteps:\n  - name: Ask\n    prompt: do it\npost:\n  - run: echo checked > post.txt\n",
    );
    env.run(&["workflow", "run", "checked"]).assert_exit(3);
    let recorded = env
        .run(&["workflow", "step", "complete", "Ask", "--no-drive"])
        .assert_exit(3);
    assert!(
        !env.file("post.txt").exists(),
        "--no-drive ran the post checks"
    );
    assert!(
        recorded.stdout.contains("nobody drives the run now"),
        "{}",
        recorded.stdout
    );
    let status = env.status(None);
    assert_eq!(status["status"], "waiting", "{status}");
    assert_eq!(status["next"][0]["argv"][2], "resume", "{status}");
    let human = env.run(&["workflow", "status"]).stdout;
    assert!(!human.contains("interrupted"), "{human}");
    assert!(!human.contains("driver is gone"), "{human}");
    env.run(&["workflow", "resume"]).assert_exit(0);
    assert!(env.file("post.txt").exists());
    assert_eq!(env.status(None)["status"], "completed");
}

/// An agent that reads only `--json` and runs the suggested `next` argv literally (the first
/// one, or the one a strategy picks), starting from `run`: it reaches the end of a workflow, of
/// a scenario and of a workflow whose `uses:` child waits, through failures and retries, never runs a suggestion that fails, and is never
/// offered a `resume` while the run waits on a report or a manual start (such a resume finds
/// nothing to do, records that it tried, and an agent taking it would go round forever).
fn an_agent_following_next_literally_reaches_the_end_and_is_never_offered_a_resume_that_does_nothing(
    env: Env,
) {
    let home = env.home();
    let home = home.to_str().unwrap();
    std::fs::create_dir_all(env.home().join("scenarios")).unwrap();
    std::fs::copy(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("examples/scenarios/full-stack-feature.yaml"),
        env.home().join("scenarios/full-stack-feature.yaml"),
    )
    .unwrap();
    // Which suggestion to take at each turn: `fail` once where it is offered, then the first.
    std::fs::create_dir_all(env.project().join("examples/workflows")).unwrap();
    for file in ["release-with-review.yaml", "review-checklist.yaml"] {
        std::fs::copy(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("examples/workflows")
                .join(file),
            env.project().join("examples/workflows").join(file),
        )
        .unwrap();
    }
    let cases: [(&[&str], &str); 3] = [
        (&["workflow", "run", "feature-development"], "workflow"),
        (&["orchestrate", "run", "full-stack-feature"], "orchestrate"),
        // A `uses:` step whose child run waits for a report.
        (
            &[
                "workflow",
                "run",
                "examples/workflows/release-with-review.yaml",
            ],
            "workflow",
        ),
    ];
    for (start, group) in cases {
        let mut argv: Vec<String> = ["--home", home, "--json"]
            .iter()
            .chain(start)
            .map(|s| s.to_string())
            .collect();
        let mut failed_once = false;
        let mut turns = 0;
        loop {
            turns += 1;
            assert!(turns < 40, "`{}` never ends: {argv:?}", start.join(" "));
            let args: Vec<&str> = argv.iter().map(String::as_str).collect();
            let out = env.run(&args);
            assert!(
                [0, 1, 3].contains(&out.code),
                "the suggested `{}` failed (exit {}): {}{}",
                args.join(" "),
                out.code,
                out.stdout,
                out.stderr
            );
            let doc = out.json();
            let doc = match doc.get("next") {
                Some(_) => doc,
                None => env
                    .run(&["--json", group, "status", doc["run_id"].as_str().unwrap()])
                    .json(),
            };
            let next = doc["next"].as_array().unwrap();
            if doc["status"] == "waiting" {
                let resumes: Vec<_> = next
                    .iter()
                    .filter(|n| n["argv"].as_array().unwrap().iter().any(|a| a == "resume"))
                    .collect();
                assert!(
                    resumes.is_empty(),
                    "a run waiting on people is offered {resumes:?}: {doc}"
                );
            }
            let Some(pick) = (if failed_once {
                next.first()
            } else {
                next.iter().find(|n| {
                    let a = n["argv"].as_array().unwrap();
                    a.iter().any(|w| w == "fail")
                })
            })
            .or(next.first()) else {
                assert_eq!(doc["status"], "completed", "ended without a way on: {doc}");
                break;
            };
            let mut words: Vec<String> = pick["argv"]
                .as_array()
                .unwrap()
                .iter()
                .map(|w| w.as_str().unwrap().to_string())
                .collect();
            // An agent gives its values where `fill` says, reading no sentence.
            for fill in pick["fill"].as_array().into_iter().flatten() {
                let placeholder = format!("{}=VALUE", fill["name"].as_str().unwrap());
                let at = words
                    .windows(2)
                    .position(|w| w[0] == fill["flag"] && w[1] == placeholder)
                    .unwrap_or_else(|| panic!("{fill} names no argument of {words:?}"));
                words[at + 1] = placeholder.replace("=VALUE", "=approved");
            }
            assert!(
                !words.iter().any(|w| w.ends_with("=VALUE")),
                "a placeholder `fill` does not name: {pick}"
            );
            failed_once |= words.iter().any(|w| w == "fail");
            assert_eq!(words[0], "cortex");
            argv = ["--json".to_string()]
                .into_iter()
                .chain(words[1..].iter().cloned())
                .collect();
        }
        assert!(failed_once, "{group}: a failure was reported on the way");
    }
}

/// An agent that runs `next[0]` of `group status RUN` as it is (its `fill` given `value`), at
/// most `turns` times or until nothing is suggested: each argv it ran, and the status it ended
/// on.
fn follow_first(
    env: &Env,
    group: &str,
    run: &str,
    value: &str,
    turns: usize,
) -> (Vec<Vec<String>>, serde_json::Value) {
    let mut ran = Vec::new();
    for _ in 0..turns {
        let doc = env.run(&["--json", group, "status", run]).json();
        let Some(first) = doc["next"].as_array().and_then(|n| n.first()).cloned() else {
            return (ran, doc);
        };
        let mut words: Vec<String> = serde_json::from_value(first["argv"].clone()).unwrap();
        for fill in first["fill"].as_array().into_iter().flatten() {
            let placeholder = format!("{}=VALUE", fill["name"].as_str().unwrap());
            for w in words.iter_mut().filter(|w| **w == placeholder) {
                *w = placeholder.replace("=VALUE", &format!("={value}"));
            }
        }
        let args: Vec<&str> = words[1..].iter().map(String::as_str).collect();
        let out = env.run_with(&args, &[("CORTEX_INPUT_EXPECTED_TOKEN", value)]);
        assert!(
            [0, 1, 3].contains(&out.code),
            "the suggested `{}` failed (exit {}): {}",
            args.join(" "),
            out.code,
            out.text()
        );
        ran.push(words);
    }
    let doc = env.run(&["--json", group, "status", run]).json();
    (ran, doc)
}

/// SPEC §7 "every suggestion works", for an agent that runs the first one for ever: a
/// recovery that re-runs the step whose value the failed step could not use (a `with:` its
/// `uses:` child refuses, a `foreach:` list that is no list) is offered first once; followed,
/// and ended in the same failure with the same value made again, it goes below `--skip` and
/// `abort`, saying why, and the agent's loop ends (here by the skip) within a few turns.
/// Before, `resume --from mk` was offered first after every such resume, for ever.
fn a_recovery_that_made_the_same_value_and_failure_again_is_not_offered_first_again(env: Env) {
    env.workflow(
        "kid",
        "name: kid\ninputs:\n  n: {type: string, required: true, pattern: '^\\d+$'}\nsteps:\n  - {name: K, run: 'true'}\n",
    );
    env.workflow(
        "par1",
        "name: par1\nsteps:\n  - {name: mk, run: 'echo \"v=abc\" >> \"$CORTEX_OUTPUT\"'}\n  - {name: call, uses: kid, with: {n: \"${{ steps.mk.outputs.v }}\"}}\n",
    );
    env.workflow(
        "fe",
        "name: fe\nsteps:\n  - {name: mk, run: 'echo \"items=notjson\" >> \"$CORTEX_OUTPUT\"'}\n  - {name: each, foreach: \"${{ steps.mk.outputs.items }}\", run: 'echo hi'}\n",
    );
    for (name, failed) in [("par1", "call"), ("fe", "each")] {
        let run = env.run(&["--json", "workflow", "run", name]);
        assert_eq!(run.code, 1, "{}", run.text());
        let id = run.json()["run_id"].as_str().unwrap().to_string();
        let first = &env.status(Some(&id))["next"][0];
        assert_eq!(first["argv"][4], "--from", "{first}");
        assert_eq!(first["argv"][5], "mk", "{first}");
        let (ran, end) = follow_first(&env, "workflow", &id, "x", 6);
        assert_eq!(end["status"], "completed", "{name}: {ran:?} {end}");
        assert_eq!(end["steps"][1]["status"], "skipped", "{end}");
        let from: Vec<_> = ran
            .iter()
            .filter(|a| a.contains(&"--from".into()))
            .collect();
        assert_eq!(
            from.len(),
            1,
            "{name}: `--from mk` followed once only: {ran:?}"
        );
        assert!(ran.len() <= 2, "{name}: {ran:?}");
        // Between the two, the status said why the recovery is no longer first.
        let again = env.run(&["workflow", "run", name]);
        assert_eq!(again.code, 1, "{}", again.text());
        let id = env.status(None)["run_id"].as_str().unwrap().to_string();
        env.run(&["workflow", "resume", &id, "--from", "mk"])
            .assert_exit(1);
        let doc = env.status(Some(&id));
        let next = next_argvs(&doc["next"]);
        assert!(next[0].contains(&"--skip".to_string()), "{doc}");
        let last = doc["next"].as_array().unwrap().last().unwrap();
        assert_eq!(last["argv"][5], "mk", "{doc}");
        let why = last["why"].as_str().unwrap();
        let value = if name == "par1" { "`v`" } else { "`items`" };
        assert!(
            why.starts_with(&format!(
                "`mk` gave {value} the same value again, and `{failed}` failed the same way after: change what it reads first"
            )),
            "{why}"
        );
        let human = env.run(&["workflow", "status", &id]).stdout;
        assert!(human.contains("the same value again"), "{human}");
    }
}

/// A step whose output changes from one run of it to the next is offered again first: the
/// recovery made another value, so it may end differently; and `--from` a prompt step stays
/// first however often it was followed (a person or an agent reports anew each time).
fn a_recovery_that_made_another_value_or_asks_a_report_again_stays_first(env: Env) {
    env.workflow(
        "kid",
        "name: kid\ninputs:\n  n: {type: string, required: true, pattern: '^\\d+$'}\nsteps:\n  - {name: K, run: 'true'}\n",
    );
    // `v` is `a1`, `a2`, ...: another value each run, never a number.
    env.workflow(
        "count",
        "name: count\nsteps:\n  - {name: mk, run: 'n=$(cat n 2>/dev/null || echo 0); n=$((n+1)); echo $n > n; echo \"v=a$n\" >> \"$CORTEX_OUTPUT\"'}\n  - {name: call, uses: kid, with: {n: \"${{ steps.mk.outputs.v }}\"}}\n",
    );
    env.run(&["workflow", "run", "count"]).assert_exit(1);
    for _ in 0..2 {
        let doc = env.status(None);
        let first = next_argvs(&doc["next"]).remove(0);
        assert_eq!(first[4..6], ["--from", "mk"], "{doc}");
        let args: Vec<&str> = first[1..].iter().map(String::as_str).collect();
        env.run(&args).assert_exit(1);
    }
    // A prompt step that leaves out the output the next step reads, reported the same way twice.
    env.workflow(
        "asked",
        "name: asked\nsteps:\n  - {name: Plan, prompt: 'Report the output `plan`.'}\n  - name: Use\n    retry: {max_retry_attempts: 0}\n    run: test -n \"${{ steps.Plan.outputs.plan }}\"\n",
    );
    env.run(&["workflow", "run", "asked"]).assert_exit(3);
    for _ in 0..2 {
        env.run(&["workflow", "step", "complete", "Plan"])
            .assert_exit(1);
        let doc = env.status(None);
        let first = next_argvs(&doc["next"]).remove(0);
        assert_eq!(first[4..6], ["--from", "Plan"], "{doc}");
        let args: Vec<&str> = first[1..].iter().map(String::as_str).collect();
        assert_eq!(env.run(&args).code, 3, "it waits for the report again");
    }
}

/// A step reading a secret output across a wait for a report can be helped by no resume, and
/// a new run of the same definition fails the same way: it is offered only once the
/// definition file differs from the run's snapshot, and once (it was listed twice, first, and
/// an agent following it started a new run per turn). Without it, the agent's loop ends.
fn a_new_run_once_the_definition_is_fixed_is_offered_only_when_it_changed_and_once(env: Env) {
    const V1: &str = "name: v1\ninputs: {expected_token: {type: string, required: true}}\nsteps:\n  - {name: mint, run: 'echo \"api_token=tok-abcdef123456\" >> \"$CORTEX_OUTPUT\"'}\n  - {name: review, prompt: ok?}\n  - {name: cond, if: \"steps.mint.outputs.api_token == inputs.expected_token\", run: echo ran}\n";
    env.workflow("v1", V1);
    let token = [("CORTEX_INPUT_EXPECTED_TOKEN", "tok-abcdef123456")];
    env.run_with(&["workflow", "run", "v1"], &token)
        .assert_exit(3);
    let report = env.run_with(&["workflow", "step", "complete", "review"], &token);
    assert_eq!(report.code, 1, "{}", report.text());
    let id = env.status(None)["run_id"].as_str().unwrap().to_string();
    let doc = env.status(Some(&id));
    let next = next_argvs(&doc["next"]);
    assert!(!next.iter().any(|a| a[2] == "run"), "{doc}");
    // No skip first, which would finish the run with `cond` never run (review m, finding 5).
    assert_eq!(next[0][2], "abort", "{doc}");
    assert!(next[1].contains(&"--skip".to_string()), "{doc}");
    // Changed: the new run is offered, first, once.
    env.workflow("v1", &V1.replace("ok?", "ok now?"));
    let doc = env.status(Some(&id));
    let next = next_argvs(&doc["next"]);
    assert_eq!(next[0][2], "run", "{doc}");
    assert_eq!(next.iter().filter(|a| a[2] == "run").count(), 1, "{doc}");
    env.workflow("v1", V1);
    let (ran, end) = follow_first(&env, "workflow", &id, "tok-abcdef123456", 6);
    assert_eq!(end["status"], "aborted", "{ran:?} {end}");
    assert_eq!(ran.len(), 1, "{ran:?}");
    assert_eq!(
        end["run_id"],
        id.as_str(),
        "no new run was started: {ran:?}"
    );
}

/// Review n, N5: "start a new run of the fixed definition" was offered once a definition file
/// differed from the run's snapshot, even when the file (or its `uses:` child's file) no longer
/// validated, and running it exited 2. It is offered only when the changed definition
/// validates; otherwise the suggestion says the definition has problems, with the `validate`
/// that shows them (never first: it moves nothing on).
#[test]
fn a_new_run_is_offered_only_when_the_changed_definition_validates() {
    let env = Env::new();
    const PAR: &str = "name: par\nsteps:\n  - {name: mint, run: 'echo \"api_token=tok-abcdef123456\" >> \"$CORTEX_OUTPUT\"'}\n  - {name: child, uses: kid}\n  - {name: review, prompt: ok?}\n  - {name: use, run: 'echo \"${{ steps.mint.outputs.api_token }}\"'}\n";
    const KID: &str = "name: kid\nsteps:\n  - {name: k, run: echo kid}\n";
    env.workflow("par", PAR).workflow("kid", KID);
    assert_eq!(env.run(&["workflow", "run", "par"]).code, 3);
    let report = env.run(&["workflow", "step", "complete", "review", "--run", "par"]);
    assert_eq!(report.code, 1, "{}", report.text());
    let id = env.status(Some("par"))["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    let next = |env: &Env| next_argvs(&env.status(Some(&id))["next"]);
    assert!(
        !next(&env)
            .iter()
            .any(|a| a[2] == "run" || a[2] == "validate")
    );
    let invalid = |env: &Env| {
        let next = next(env);
        assert!(!next.iter().any(|a| a[2] == "run"), "{next:?}");
        assert_ne!(next[0][2], "validate", "{next:?}");
        let validate = next
            .iter()
            .find(|a| a[2] == "validate")
            .unwrap_or_else(|| panic!("no validate: {next:?}"));
        let args: Vec<&str> = validate[1..].iter().map(String::as_str).collect();
        let out = env.run(&args);
        assert_eq!(out.code, 2, "{}", out.text());
        out.text()
    };
    // The parent's file broken.
    env.workflow("par", &format!("{PAR}  - {{name: x\n"));
    invalid(&env);
    // The parent's file as it was, its child's broken.
    env.workflow("par", PAR)
        .workflow("kid", &format!("{KID}steps: [[[\n"));
    let said = invalid(&env);
    assert!(said.contains("kid"), "{said}");
    // The child's changed and valid: the new run is offered, first, and starts.
    env.workflow("kid", &KID.replace("echo kid", "echo kid2"));
    let next = next(&env);
    assert_eq!(next[0][2], "run", "{next:?}");
    assert!(!next.iter().any(|a| a[2] == "validate"), "{next:?}");
    let args: Vec<&str> = next[0][1..].iter().map(String::as_str).collect();
    assert_eq!(env.run(&args).code, 3);
}

/// An output a later step (phase) reads is in the suggested report (`--output KEY=VALUE`,
/// with `fill`), not only in its why: an agent that ran `next[0]` as it was reported without
/// it, the later step ran on an empty value, and the only recovery offered (`--retry`) read
/// the same empty value, failing forever. A scenario's report without it warns as a
/// workflow's does, and a step that failed on such an empty value is offered `--from` the
/// step whose report left it out, first.
fn an_output_a_later_step_reads_is_in_the_suggested_report_and_a_failure_on_its_absence_offers_from_its_producer_first(
    env: Env,
) {
    env.workflow(
        "wf-out",
        "name: wf-out\nsteps:\n  - name: Plan\n    prompt: Write a plan and report its path as the output `plan`.\n  - name: Use\n    retry: {max_retry_attempts: 0}\n    run: echo \"plan is [${{ steps.Plan.outputs.plan }}]\"; test -n \"${{ steps.Plan.outputs.plan }}\"\n",
    );
    let run = env
        .run(&["--json", "workflow", "run", "wf-out"])
        .assert_exit(3);
    let doc = run.json();
    let run_id = doc["run_id"].as_str().unwrap().to_string();
    let first = &next_argvs(&doc["next"])[0];
    assert_eq!(
        first[1..],
        [
            "workflow",
            "step",
            "complete",
            "Plan",
            "--run",
            &run_id,
            "--output",
            "plan=VALUE"
        ],
        "{doc}"
    );
    assert_eq!(
        doc["next"][0]["fill"],
        serde_json::json!([{"flag": "--output", "name": "plan"}])
    );
    // The human "Next:" line is the same command.
    let human = env.run(&["workflow", "status"]).stdout;
    assert!(
        human.contains(&format!(
            "cortex workflow step complete Plan --run {run_id} --output plan=VALUE"
        )),
        "{human}"
    );
    // Reported without it all the same: warned, `Use` fails on the empty value, and the
    // first way on runs `Plan` again (`--retry` would read the same empty value).
    let done = env
        .run(&["--json", "workflow", "step", "complete", "Plan"])
        .assert_exit(1);
    let doc = done.json();
    assert_eq!(
        doc["warnings"][0],
        "`Plan` was reported without output `plan`: `Use` will see it empty"
    );
    let next = next_argvs(&doc["next"]);
    assert_eq!(
        next[0][1..],
        ["workflow", "resume", &run_id, "--from", "Plan"],
        "{doc}"
    );
    assert_eq!(next[1][1..], ["workflow", "resume", &run_id, "--retry"]);
    // Followed, `Plan` waits again, and its report with the value completes the run.
    let again = env
        .run(&["--json", "workflow", "resume", &run_id, "--from", "Plan"])
        .assert_exit(3);
    assert_eq!(again.json()["waiting_for"], "Plan");
    env.run(&[
        "workflow",
        "step",
        "complete",
        "Plan",
        "--output",
        "plan=docs/plan.md",
    ])
    .assert_exit(0);
    // A scenario phase: the suggested report carries the output a later phase reads, and a
    // report without it warns.
    env.scenario(
        "rev",
        "name: rev\ndescription: d\nphases:\n  - name: review\n    description: review\n  - name: publish\n    description: p\n    condition: after:review\n    run: echo \"shipped ${{ phases.review.outputs.verdict }}\"\n",
    );
    let run = env
        .run(&["--json", "orchestrate", "run", "rev"])
        .assert_exit(3);
    let doc = run.json();
    let id = doc["run_id"].as_str().unwrap().to_string();
    assert_eq!(
        next_argvs(&doc["next"])[0][1..],
        [
            "orchestrate",
            "complete",
            &id,
            "review",
            "--output",
            "verdict=VALUE"
        ],
        "{doc}"
    );
    let done = env
        .run(&["--json", "orchestrate", "complete", &id, "review"])
        .assert_exit(0);
    assert_eq!(
        done.json()["warnings"][0],
        "`review` was reported without output `verdict`: `publish` will see it empty"
    );
    assert!(
        done.stderr
            .contains("warning: `review` was reported without output `verdict`"),
        "{}",
        done.stderr
    );
}

/// `workflow validate --all` was not there (clap's tip said to pass `-- --all`, a name the name
/// rule refuses): it gives every workflow's verdict, the home's and the built-ins', in the shape
/// and the form `orchestrate validate --all` gives scenarios', exit 2 when one is invalid.
fn workflow_validate_all_gives_every_verdict_as_orchestrate_validate_all_does(env: Env) {
    let all = env
        .run(&["--json", "workflow", "validate", "--all"])
        .assert_exit(0);
    let doc = all.json();
    assert_eq!(doc["valid"], true);
    let names: Vec<&str> = doc["workflows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"feature-development"), "{doc}");
    env.workflow(
        "broken",
        "name: broken\nsteps:\n  - name: a\n    run: 'true'\n    retyr: 2\n",
    );
    let all = env
        .run(&["--json", "workflow", "validate", "--all"])
        .assert_exit(2);
    let doc = all.json();
    assert_eq!(doc["valid"], false);
    let broken = doc["workflows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["file"].as_str().unwrap().ends_with("broken.yaml"))
        .unwrap();
    assert_eq!(broken["errors"][0]["line"], 5, "{broken}");
    let human = env.run(&["workflow", "validate", "--all"]);
    assert_eq!(human.code, 2);
    assert!(
        human.stdout.contains("[ERROR] broken.yaml")
            && human
                .stdout
                .contains("[OK] builtin:feature-development - Valid"),
        "{}",
        human.stdout
    );
}

/// A workflow aborted while a step waited for a report (its own, or its `uses:` child's) left
/// that step `waiting` in the status document, its prompt and "Report with:" still shown, as
/// if a report could still come: the abort ends it (`stopped`, "Not finished"), in the parent,
/// in its item and in the child the abort ends with it.
fn an_aborted_workflow_shows_its_waiting_step_ended_not_waiting_for_a_report(env: Env) {
    env.workflow(
        "child",
        "name: child\ninputs:\n  what: {type: string, required: true}\nsteps:\n  - name: look\n    prompt: Review ${{ inputs.what }}\n    validate: [{output: verdict}]\n",
    );
    env.workflow(
        "parent",
        "name: parent\nsteps:\n  - name: reviews\n    foreach: [a, b]\n    uses: child\n    with: {what: '${{ item }}'}\n",
    );
    env.workflow(
        "solo",
        "name: solo\nsteps:\n  - {name: ask, prompt: do it}\n",
    );
    env.run(&["workflow", "run", "parent"]).assert_exit(3);
    env.run(&["workflow", "run", "solo"]).assert_exit(3);
    for name in ["parent", "solo"] {
        env.run(&["workflow", "abort", name, "--message", "not now"])
            .assert_exit(1);
    }
    for (name, step) in [("solo", "ask"), ("parent", "reviews[0]"), ("child", "look")] {
        let doc = env.status(Some(name));
        assert_eq!(doc["status"], "aborted", "{doc}");
        let steps = doc["steps"].as_array().unwrap();
        let unit = steps.iter().find(|s| s["name"] == step).unwrap();
        assert_eq!(unit["status"], "stopped", "{name}: {doc}");
        assert!(unit.get("prompt").is_none(), "{name}: {doc}");
        assert!(
            steps.iter().all(|s| s["status"] != "waiting"),
            "{name}: {doc}"
        );
        assert_eq!(doc["next"], serde_json::json!([]), "{name}: {doc}");
        let human = env.run(&["workflow", "status", name]).stdout;
        assert!(
            !human.contains("Waiting")
                && !human.contains("Report with")
                && !human.contains("Prompt:"),
            "{name}: {human}"
        );
    }
    let human = env.run(&["workflow", "status", "solo"]).stdout;
    assert!(
        human.contains("Status: Not finished: the run was aborted"),
        "{human}"
    );
}

/// `orchestrate stop --message` recorded the message, but a stopped run's status said only
/// "stopped by request", whoever asked and why: its reason names them, as an abort's does.
fn a_stopped_runs_reason_names_who_stopped_it_and_their_message(env: Env) {
    env.scenario(
        "halt",
        "name: halt\ndescription: d\nphases:\n  - {name: one, description: o, condition: manual}\n",
    );
    env.run(&["orchestrate", "run", "halt", "--start", "one"])
        .assert_exit(3);
    let stop = env
        .run(&[
            "orchestrate",
            "stop",
            "halt",
            "--actor",
            "bob",
            "--message",
            "lunch; back at 2",
        ])
        .assert_exit(3);
    assert!(
        stop.stdout
            .contains("Reason: stopped by bob: lunch; back at 2; resume continues it"),
        "{}",
        stop.stdout
    );
    let doc = env.run(&["--json", "orchestrate", "status", "halt"]).json();
    assert_eq!(
        doc["reason"], "stopped by bob: lunch; back at 2; resume continues it",
        "{doc}"
    );
    // A resume forgets it; a stop without a message names who asked.
    env.run(&["orchestrate", "resume", "halt"]).assert_exit(3);
    env.run(&["orchestrate", "stop", "halt", "--actor", "carol"])
        .assert_exit(3);
    let doc = env.run(&["--json", "orchestrate", "status", "halt"]).json();
    assert_eq!(
        doc["reason"], "stopped by carol; resume continues it",
        "{doc}"
    );
}

/// `workflow run --message` and `orchestrate run --message` recorded the message in
/// `run_started`, but `status` showed it nowhere (only `log show` did): the status document
/// carries it as `message`, and both screens say "Started by ACTOR: ...", each line of it.
/// Every operator action is shown with who did it and why: the latest `resume`'s actor and
/// message in the run's status (human and `--json` `resumed_by`), and an `orchestrate start`'s
/// on its phase (`start_requested_by`), as `log show` has them. Before, only `log show` did.
fn a_resumes_and_a_phase_starts_actor_and_message_are_shown_by_status(env: Env) {
    env.workflow("st", "name: st\nsteps:\n  - {name: a, prompt: do it}\n");
    env.run(&["workflow", "run", "st"]).assert_exit(3);
    env.run(&["workflow", "stop", "st"]).assert_exit(3);
    assert!(env.status(Some("st")).get("resumed_by").is_none());
    env.run(&[
        "workflow",
        "resume",
        "st",
        "--actor",
        "alice smith",
        "--message",
        "resume-msg-123",
    ])
    .assert_exit(3);
    let doc = env.status(Some("st"));
    assert_eq!(
        doc["resumed_by"],
        serde_json::json!({"actor": "alice smith", "message": "resume-msg-123"}),
        "{doc}"
    );
    let human = env.run(&["workflow", "status", "st"]).stdout;
    assert!(
        human.contains("   Resumed by alice smith: resume-msg-123\n"),
        "{human}"
    );
    env.scenario(
        "sc",
        "name: sc\ndescription: d\nphases:\n  - {name: A, description: a, condition: manual}\n  - {name: B, description: b, condition: manual}\n",
    );
    env.run(&["orchestrate", "run", "sc"]).assert_exit(3);
    env.run(&[
        "orchestrate",
        "start",
        "sc",
        "A",
        "--actor",
        "bob",
        "--message",
        "go now",
    ])
    .assert_exit(3);
    env.run(&["orchestrate", "stop", "sc"]).assert_exit(3);
    env.run(&[
        "orchestrate",
        "resume",
        "sc",
        "--actor",
        "carol",
        "--message",
        "on again",
    ])
    .assert_exit(3);
    let doc = env.run(&["--json", "orchestrate", "status", "sc"]).json();
    assert_eq!(
        doc["phases"][0]["start_requested_by"],
        serde_json::json!({"actor": "bob", "message": "go now"}),
        "{doc}"
    );
    assert!(
        doc["phases"][1].get("start_requested_by").is_none(),
        "{doc}"
    );
    assert_eq!(
        doc["resumed_by"],
        serde_json::json!({"actor": "carol", "message": "on again"}),
        "{doc}"
    );
    let human = env.run(&["orchestrate", "status", "sc"]).stdout;
    assert!(human.contains("\nResumed by carol: on again\n"), "{human}");
    assert!(
        human.contains("        Start requested by bob: go now\n"),
        "{human}"
    );
}

fn a_runs_start_message_is_shown_by_status(env: Env) {
    env.workflow("w", "name: w\nsteps:\n  - {name: a, prompt: do it}\n");
    env.run(&[
        "workflow",
        "run",
        "w",
        "--actor",
        "ann",
        "--message",
        "for ABC-1\nsee the ticket",
    ])
    .assert_exit(3);
    let doc = env.status(Some("w"));
    assert_eq!(doc["message"], "for ABC-1\nsee the ticket", "{doc}");
    let human = env.run(&["workflow", "status", "w"]).stdout;
    assert!(
        human.contains("   Started by ann: for ABC-1\n     see the ticket\n"),
        "{human}"
    );
    env.scenario(
        "s",
        "name: s\ndescription: d\nphases:\n  - {name: one, description: o, condition: manual}\n",
    );
    env.run(&[
        "orchestrate",
        "run",
        "s",
        "--actor",
        "ann",
        "--message",
        "go",
    ])
    .assert_exit(3);
    let human = env.run(&["orchestrate", "status", "s"]).stdout;
    assert!(human.contains("\nStarted by ann: go\n"), "{human}");
    // Nothing said, nothing shown.
    env.run(&["workflow", "run", "w"]).assert_exit(3);
    assert!(env.status(None).get("message").is_none());
    assert!(
        !env.run(&["workflow", "status"])
            .stdout
            .contains("Started by")
    );
}

/// A child run whose report failed its parent's `uses:` step suggested only its own
/// `resume --retry`: an agent following it finished the child and was left with a failed
/// parent and an empty "Next:". The failed child suggests first the parent's `resume --retry`
/// (which retries the child and goes on with both); a child resumed on its own and completed
/// suggests the parent's `resume --retry`, which takes its end.
fn a_child_that_failed_its_parent_suggests_the_parents_retry_first_and_once_over_the_parents_resume(
    env: Env,
) {
    env.workflow(
        "kid",
        "name: kid\nsteps:\n  - name: look\n    prompt: look\n    validate: [{output: verdict}]\n",
    );
    env.workflow(
        "mom",
        "name: mom\nsteps:\n  - {name: review, uses: kid}\n  - {name: after, prompt: 'verdict ${{ steps.review.outputs.verdict }}'}\n",
    );
    let parent = env.run(&["--json", "workflow", "run", "mom"]).json();
    let parent = parent["run_id"].as_str().unwrap().to_string();
    let child = env.status(Some("kid"))["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    env.run(&["workflow", "step", "fail", "look", "--run", &child])
        .assert_exit(1);
    let kid = env.status(Some(&child));
    assert_eq!(
        kid["next"][0]["argv"],
        serde_json::json!(["cortex", "workflow", "resume", parent, "--retry"]),
        "{kid}"
    );
    // Followed, it retries the same child, and a report there drives both on.
    env.run(&["workflow", "resume", &parent, "--retry"])
        .assert_exit(3);
    assert_eq!(env.status(Some(&child))["status"], "waiting");
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
    .assert_exit(3);
    let mom = env.status(Some(&parent));
    assert_eq!(mom["waiting_for"], "after", "{mom}");

    // The child resumed on its own: once it completes, it names the parent's resume.
    let parent = env.run(&["--json", "workflow", "run", "mom"]).json();
    let parent = parent["run_id"].as_str().unwrap().to_string();
    let child = env.status(Some("kid"))["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    env.run(&["workflow", "step", "fail", "look", "--run", &child])
        .assert_exit(1);
    env.run(&["workflow", "resume", &child, "--retry"])
        .assert_exit(3);
    let done = env
        .run(&[
            "--json",
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
    let next = &done.json()["next"];
    assert_eq!(
        next[0]["argv"],
        serde_json::json!(["cortex", "workflow", "resume", parent, "--retry"]),
        "{next}"
    );
    env.run(&["workflow", "resume", &parent, "--retry"])
        .assert_exit(3);
    let mom = env.status(Some(&parent));
    assert_eq!(mom["waiting_for"], "after", "{mom}");
    assert_eq!(
        mom["steps"][1]["prompt"], "verdict ok",
        "the parent's step took the child's outputs: {mom}"
    );
}

/// A failed run whose completed units ended with an item of a `foreach:` step was offered
/// `resume --rollback-to 'reviews[0]'`, which `--rollback-to` refuses (exit 2: an item is no
/// checkpoint). The suggestion names steps only, and every suggestion offered works.
#[test]
fn a_suggested_rollback_to_never_names_a_foreach_item() {
    let env = Env::new();
    env.workflow(
        "items",
        "name: items\nsteps:\n  - {name: first, prompt: one}\n  - {name: second, prompt: two}\n  - name: each\n    foreach: [a, b]\n    prompt: 'do ${{ item }}'\n",
    );
    env.run(&["workflow", "run", "items"]).assert_exit(3);
    for step in ["first", "second", "each[0]"] {
        assert_eq!(
            env.run(&["workflow", "step", "complete", step]).code,
            3,
            "{step}"
        );
    }
    env.run(&["workflow", "step", "fail", "each[1]"])
        .assert_exit(1);
    let doc = env.status(None);
    let next = doc["next"].as_array().unwrap();
    let rollback = next
        .iter()
        .find(|n| {
            n["argv"]
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a == "--rollback-to")
        })
        .unwrap_or_else(|| panic!("no --rollback-to offered: {doc}"));
    assert_eq!(rollback["argv"][5], "first", "{rollback}");
    for n in next {
        // Each on a copy of the log, as if it were the one taken.
        let copy = tempfile::tempdir().unwrap();
        for entry in std::fs::read_dir(env.home()).unwrap() {
            let entry = entry.unwrap();
            if entry.file_type().unwrap().is_file() {
                std::fs::copy(entry.path(), copy.path().join(entry.file_name())).unwrap();
            }
        }
        let argv: Vec<&str> = n["argv"].as_array().unwrap()[1..]
            .iter()
            .map(|a| a.as_str().unwrap())
            .collect();
        let home = copy.path().to_str().unwrap();
        let mut args = vec!["--home", home];
        args.extend(argv);
        let out = env.run(&args);
        assert!(
            [0, 1, 3].contains(&out.code),
            "{args:?}: {}{}",
            out.stdout,
            out.stderr
        );
    }
}

/// Every "Next:" / "Recovery options:" block of a human answer, each command as its argv
/// (shell words; the aligned `# why` comment left out).
fn command_blocks(text: &str) -> Vec<Vec<Vec<String>>> {
    let mut blocks = Vec::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        if line != "Next:" && line != "Recovery options:" {
            continue;
        }
        let mut block = Vec::new();
        while let Some(l) = lines.next_if(|l| l.starts_with("  cortex ")) {
            let cmd = l.rsplit_once("   # ").map_or(l, |(c, _)| c);
            block.push(shell_words(cmd.trim()));
        }
        blocks.push(block);
    }
    blocks
}

/// The words of a command line as `render::command_line` quotes them (single quotes, `'\''`).
fn shell_words(line: &str) -> Vec<String> {
    let out = std::process::Command::new("/bin/sh")
        .arg("-c")
        .arg(format!("for a in {line}; do printf '%s\\0' \"$a\"; done"))
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_terminator('\0')
        .map(str::to_string)
        .collect()
}

/// A report that failed a grandchild printed three "Recovery options:" blocks, the
/// grandchild's and the child's (whose own resumes leave the tree failed) above the top-most
/// run's, while `--json` answered with the top-most's alone; and `workflow abort CHILD` printed
/// the parent's recovery options while its `--json` document had `next: []`. Each answer has
/// one block, and it is its `next`.
fn a_nested_child_failed_or_aborted_prints_one_block_of_commands_the_same_as_its_json_next(
    env: Env,
) {
    env.workflow(
        "leaf",
        "name: leaf\nsteps:\n  - {name: look, prompt: look}\n",
    );
    env.workflow("mid", "name: mid\nsteps:\n  - {name: deeper, uses: leaf}\n");
    env.workflow("top", "name: top\nsteps:\n  - {name: sub, uses: mid}\n");
    let start = |env: &Env| {
        let doc = env.run(&["--json", "workflow", "run", "top"]).json();
        let top = doc["run_id"].as_str().unwrap().to_string();
        let leaf = env.status(Some("leaf"))["run_id"]
            .as_str()
            .unwrap()
            .to_string();
        (top, leaf)
    };
    let (top, leaf) = start(&env);
    let failed = env
        .run(&["workflow", "step", "fail", "look", "--run", &leaf])
        .assert_exit(1);
    let blocks = command_blocks(&failed.stdout);
    let status = env.status(Some(&top));
    assert_eq!(
        blocks,
        vec![next_argvs(&status["next"])],
        "{}",
        failed.stdout
    );
    let (top, leaf) = start(&env);
    let failed = env.run(&["--json", "workflow", "step", "fail", "look", "--run", &leaf]);
    assert_eq!(failed.json()["run_id"], top.as_str());
    assert_eq!(
        next_argvs(&failed.json()["next"]),
        next_argvs(&env.status(Some(&top))["next"])
    );

    for json in [false, true] {
        let (top, leaf) = start(&env);
        let mut args = vec!["workflow", "abort", leaf.as_str()];
        if json {
            args.insert(0, "--json");
        }
        let aborted = env.run(&args).assert_exit(1);
        let top_next = next_argvs(&env.status(Some(&top))["next"]);
        assert!(!top_next.is_empty());
        if json {
            let doc = aborted.json();
            assert_eq!(doc["run_id"], leaf.as_str(), "{doc}");
            assert_eq!(next_argvs(&doc["next"]), top_next, "{doc}");
        } else {
            assert_eq!(
                command_blocks(&aborted.stdout),
                vec![top_next],
                "{}",
                aborted.stdout
            );
            // It names the run whose step waited on it, and the top-most run that answers.
            let mid = env.status(Some("mid"))["run_id"]
                .as_str()
                .unwrap()
                .to_string();
            let said = format!(
                "↑ The parent run {mid} goes on (its step `deeper` waited on this run), and so does run {top} above it:"
            );
            assert!(aborted.stdout.contains(&said), "{}", aborted.stdout);
        }
    }
}

/// An output value or a report's message of several lines printed its later lines at the
/// margin of `status`, where a value like "x\n✅ Step 9/9: done" read as a line of cortex's
/// own: they stay indented under their first.
fn a_multi_line_output_or_message_keeps_its_lines_indented_under_its_step(env: Env) {
    env.workflow(
        "ml",
        "name: ml\nsteps:\n  - name: a\n    prompt: a\n  - name: each\n    foreach: [x]\n    prompt: b\n  - {name: c, prompt: c}\n",
    );
    env.run(&["workflow", "run", "ml"]).assert_exit(3);
    for step in ["a", "each[0]"] {
        env.run(&[
            "workflow",
            "step",
            "complete",
            step,
            "--output",
            "k=one\n✅ Step 9/9: fake",
            "--message",
            "first\n✅ Workflow completed",
            "--actor",
            "tester",
        ])
        .assert_exit(3);
    }
    let human = env.run(&["workflow", "status"]).stdout;
    for line in human.lines() {
        assert!(
            !line.starts_with('✅')
                || line.starts_with("✅ Step 1/3")
                || line.starts_with("✅ Step 2/3"),
            "a line of a value or message at the margin: {line:?}\n{human}"
        );
    }
    assert!(
        human.contains("   Output: k=one\n           ✅ Step 9/9: fake"),
        "{human}"
    );
    assert!(
        human.contains("   Reported by tester: first\n     ✅ Workflow completed"),
        "{human}"
    );
    assert!(
        human.contains("      Output: k=one\n              ✅ Step 9/9: fake"),
        "{human}"
    );
}

/// `orchestrate complete --output` and a phase's `$CORTEX_OUTPUT` gave outputs that the
/// status document carried but `orchestrate status` never showed (a workflow's status shows
/// each step's): each phase, and each item, shows its outputs.
fn a_scenario_status_shows_each_phases_outputs(env: Env) {
    env.scenario("outs", "name: outs\ndescription: d\nphases:\n  - name: build\n    description: b\n    run: echo artifact=a.tar >> \"$CORTEX_OUTPUT\"\n  - {name: review, description: r, condition: 'after:build'}\n  - name: each\n    description: e\n    condition: 'after:review'\n    foreach: [x]\n    run: echo \"seen=${{ item }}\" >> \"$CORTEX_OUTPUT\"\n");
    env.run(&["orchestrate", "run", "outs"]).assert_exit(3);
    env.run(&[
        "orchestrate",
        "complete",
        "outs",
        "review",
        "--output",
        "verdict=approved",
    ])
    .assert_exit(0);
    let human = env.run(&["orchestrate", "status", "outs"]).stdout;
    for line in [
        "        output: artifact=a.tar\n",
        "        output: verdict=approved\n",
        "        output: seen=x\n",
        "        output: seen=[\"x\"]\n",
    ] {
        assert!(human.contains(line), "{line:?} missing from\n{human}");
    }
}

/// A `foreach:` phase whose every item met its criteria was shown completed with its
/// checklist unchecked (`[ ] done`, `met: false`): the phase itself records none, its items
/// do. Its criteria are met when every item that ran met them.
fn a_foreach_phases_checklist_is_met_when_its_items_met_it(env: Env) {
    env.scenario("fe", "name: fe\ndescription: d\nphases:\n  - name: each\n    description: e\n    foreach: [a, b]\n    success_criteria: [Done]\n");
    env.run(&["orchestrate", "run", "fe"]).assert_exit(3);
    env.run(&["orchestrate", "complete", "fe", "each[0]"])
        .assert_exit(3);
    let doc = env.run(&["--json", "orchestrate", "status", "fe"]).json();
    assert_eq!(doc["phases"][0]["criteria"][0]["met"], false, "{doc}");
    env.run(&["orchestrate", "complete", "fe", "each[1]"])
        .assert_exit(0);
    let doc = env.run(&["--json", "orchestrate", "status", "fe"]).json();
    assert_eq!(doc["phases"][0]["status"], "completed", "{doc}");
    assert_eq!(doc["phases"][0]["criteria"][0]["met"], true, "{doc}");
    let human = env.run(&["orchestrate", "status", "fe"]).stdout;
    assert!(!human.contains("[ ] Done"), "{human}");
}

/// An item of a `foreach:` + `uses:` step whose child waited for a report was shown "Waiting
/// for a report", as if a report on the item moved it (one is refused): it says it waits with
/// its child run, and on which step of which run, with that step's prompt, as a step does.
fn an_item_of_a_uses_step_says_it_waits_with_its_child_and_on_what(env: Env) {
    env.workflow(
        "kid",
        "name: kid\ninputs:\n  what: {type: string, required: true}\nsteps:\n  - name: look\n    prompt: Review ${{ inputs.what }}\n    validate: [{output: verdict}]\n",
    );
    env.workflow(
        "fan",
        "name: fan\nsteps:\n  - name: reviews\n    foreach: [a, b]\n    uses: kid\n    with: {what: '${{ item }}'}\n",
    );
    env.run(&["workflow", "run", "fan"]).assert_exit(3);
    let child = env.status(Some("kid"))["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    let human = env.run(&["workflow", "status", "fan"]).stdout;
    let expected = format!(
        "   ⏳ reviews[0] (a): Waiting with its child run\n      Child run: {child}\n      Waits on: step `look` of run {child}\n      Prompt:\n        Review a\n      Report with: --output verdict=VALUE\n"
    );
    assert!(human.contains(&expected), "{human}");
}

/// `resume --dry-run` listed a `foreach:` step whose items were read as waiting for a report
/// beside its items, and said only "run" or "wait" where the run's own dry run says what
/// decides a step: its `if:`, its `foreach:` list, the workflow its `uses:` runs. It lists
/// the items alone, and says those as `run --dry-run` does.
fn a_resume_dry_run_lists_items_not_their_step_and_says_if_foreach_and_uses(env: Env) {
    env.workflow("kid", "name: kid\nsteps:\n  - {name: look, prompt: look}\n");
    env.workflow(
        "plan",
        "name: plan\ninputs:\n  env: {type: string, default: staging}\nsteps:\n  - name: ask\n    foreach: [a, b]\n    prompt: 'do ${{ item }}'\n  - name: gated\n    if: inputs.env == 'prod'\n    prompt: only prod\n  - name: reviews\n    foreach: [x]\n    uses: kid\n",
    );
    env.run(&["workflow", "run", "plan"]).assert_exit(3);
    env.run(&["workflow", "step", "fail", "ask[0]"])
        .assert_exit(1);
    let dry = env
        .run(&["--json", "workflow", "resume", "plan", "--dry-run"])
        .assert_exit(0);
    let mut steps = dry.json()["steps"].clone();
    // A step that would run shows the directory it runs in (as `run --dry-run` does).
    let dir = steps[3]
        .as_object_mut()
        .and_then(|s| s.remove("working_dir"))
        .unwrap_or_default();
    assert_eq!(dir, env.project().display().to_string());
    assert_eq!(
        steps,
        serde_json::json!([
            {"name": "ask[0]", "action": "wait", "prompt": "do a"},
            {"name": "ask[1]", "action": "wait", "prompt": "do b"},
            {"name": "gated", "action": "wait", "if": "inputs.env == 'prod'", "prompt": "only prod"},
            {"name": "reviews", "action": "run", "foreach": "[\"x\"]", "uses": "kid"},
        ]),
        "{steps}"
    );
    let human = env.run(&["workflow", "resume", "plan", "--dry-run"]).stdout;
    assert!(
        human.contains(
            "reviews                  run workflow `kid` (a child run), once per item of [\"x\"]"
        ),
        "{human}"
    );
    assert!(
        human.contains("gated                    wait for a report (external step), if inputs.env == 'prod' (else skipped)"),
        "{human}"
    );
}

/// `orchestrate resume --dry-run` called a manual phase "wait for a report (external step)",
/// as if a report moved it (it must be started first), and said "run" for a phase that waits
/// on others: the plan says which phases wait to be started and which wait for others, in
/// words and in `--json` (`starts`), and calls a phase's report `orchestrate complete|fail`.
fn a_scenario_resume_dry_run_says_what_each_phase_waits_for(env: Env) {
    env.scenario("sc", "name: sc\ndescription: d\nphases:\n  - {name: build, description: b, run: 'false', retry: {max_retry_attempts: 0}}\n  - {name: approve, description: a, condition: manual}\n  - {name: ship, description: s, condition: 'after:build,approve', run: 'true'}\n");
    env.run(&["orchestrate", "run", "sc"]).assert_exit(1);
    let dry = env
        .run(&["--json", "orchestrate", "resume", "sc", "--dry-run"])
        .assert_exit(0);
    let steps = dry.json()["steps"].clone();
    assert_eq!(steps[0]["action"], "rerun", "{steps}");
    assert!(steps[0].get("starts").is_none(), "{steps}");
    assert_eq!(steps[1]["starts"], "manual", "{steps}");
    assert_eq!(steps[2]["starts"], "after", "{steps}");
    assert_eq!(
        steps[2]["after"],
        serde_json::json!(["build", "approve"]),
        "{steps}"
    );
    let human = env
        .run(&["orchestrate", "resume", "sc", "--dry-run"])
        .stdout;
    assert!(!human.contains("external step"), "{human}");
    assert!(
        human.contains(
            "approve                  once started (orchestrate start): wait for a report (orchestrate complete|fail)"
        ),
        "{human}"
    );
    assert!(
        human.contains("ship                     after build, approve: run"),
        "{human}"
    );
    // Once started, the manual phase waits for its report alone.
    env.run(&["orchestrate", "start", "sc", "approve"])
        .assert_exit(1);
    let dry = env.run(&["--json", "orchestrate", "resume", "sc", "--dry-run"]);
    assert!(
        dry.json()["steps"][1].get("starts").is_none(),
        "{}",
        dry.stdout
    );
}

/// With two runs of a workflow waiting on the same step, `workflow step complete Plan` (no
/// `--run`) reported on the latest and said only "Step `Plan` reported complete": it names the
/// run it found; given `--run`, the line stays as it was.
fn a_report_without_run_names_the_run_it_found(env: Env) {
    env.workflow(
        "twice",
        "name: twice\nsteps:\n  - {name: Plan, prompt: p}\n  - {name: Do, prompt: d}\n",
    );
    let first = env.run(&["--json", "workflow", "run", "twice"]).json()["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    let second = env.run(&["--json", "workflow", "run", "twice"]).json()["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    let out = env
        .run(&["workflow", "step", "complete", "Plan"])
        .assert_exit(3);
    assert!(
        out.stdout.starts_with(&format!(
            "✅ Step `Plan` of run {second} reported complete.\n"
        )),
        "{}",
        out.stdout
    );
    let out = env.run(&["workflow", "step", "fail", "Plan", "--run", &first]);
    assert!(
        out.stdout.starts_with("❌ Step `Plan` reported failed.\n"),
        "{}",
        out.stdout
    );
}

/// A CORTEX_HOME (or `--home`) naming a file was met with "cortex.config.json is invalid:
/// Not a directory", as if a file in it were broken: it is refused as a home that is no
/// folder, exit 2, with `--json` as one document.
#[test]
fn a_home_that_is_a_file_is_refused_as_such() {
    let env = Env::new();
    let file = env.project().join("not-a-folder");
    std::fs::write(&file, "x").unwrap();
    let home = file.to_str().unwrap();
    for args in [
        &["--home", home, "workflow", "run", "feature-development"][..],
        &["--home", home, "--json", "workflow", "status"],
    ] {
        let out = env.run(args);
        assert_eq!(out.code, 2, "{args:?}: {}{}", out.stdout, out.stderr);
        assert!(
            out.stderr
                .contains(&format!("error: the home {home} is not a folder")),
            "{}",
            out.stderr
        );
        assert!(!out.stderr.contains("cortex.config.json"), "{}", out.stderr);
    }
    let doc = env
        .run(&["--home", home, "--json", "workflow", "list"])
        .json();
    assert_eq!(doc["exit_code"], 2, "{doc}");
}

common::on_both_stores!(
    a_last_step_ending_as_the_time_limit_runs_out_is_recorded_completed_or_stopped,
    what_is_shown_is_what_is_meant_prompts_are_rendered_with_the_runs_values,
    a_report_drives_the_run_on_and_no_drive_only_records_without_looking_interrupted,
    a_complete_that_fails_its_gate_is_refused_and_the_step_keeps_waiting,
    a_reported_failure_is_a_fact_not_retried_and_the_message_is_shown,
    a_scenario_phase_reported_failed_is_not_retried,
    the_past_stays_in_the_past_status_at_is_labelled_ends_its_times_there_and_suggests_nothing,
    status_at_an_event_gives_the_status_live_status_gave_there_waiting_when_nobody_drove,
    limits_can_be_lifted_a_run_stopped_by_its_time_limit_resumes_with_more_time,
    an_abort_from_another_terminal_ends_the_driver_with_aborted_and_exit_1,
    a_stopped_scenario_names_orchestrate_resume,
    validation_errors_have_one_shape_and_one_form_for_workflows_and_scenarios,
    a_reported_failure_on_a_rollback_step_rolls_back_at_once_and_is_never_interrupted,
    a_secret_input_given_at_run_lets_reports_drive_on_to_what_needs_it_and_the_suggested_resume_names_it,
    the_suggested_report_names_the_outputs_its_gate_needs_and_those_later_steps_read,
    a_start_on_a_stopped_scenario_says_resume_goes_on_and_failed_or_stopped_runs_offer_abort,
    a_refused_report_lists_every_problem_in_errors,
    status_at_shows_a_scenario_run_as_of_an_event_and_a_negative_seq_is_a_range_error,
    a_run_stopped_by_its_time_limit_suggests_a_longer_one_that_works_when_pasted,
    scenario_messages_say_phase_not_step,
    a_report_without_run_goes_to_the_latest_run_and_engine_steps_are_not_reported,
    an_abort_message_is_the_runs_reason_and_no_drive_then_report_points_to_resume,
    history_limit_0_and_status_of_a_definition_without_runs_say_what_is_true,
    an_unknown_key_gets_a_did_you_mean,
    an_unknown_key_does_not_hide_the_other_problems_of_its_file,
    a_bad_duration_says_why_in_words_with_an_example,
    the_next_block_ends_the_status_after_the_notification_lines,
    a_dry_run_resume_of_a_held_run_says_it_is_held,
    a_dry_run_lists_compensations_newest_first_and_a_failed_one_ends_the_run_failed,
    a_rollback_decided_by_a_no_drive_report_shows_as_waiting_to_roll_back,
    check_criteria_are_shown_as_the_command_that_ran_quoted,
    a_scenarios_secret_input_is_kept_out_of_the_log_and_the_suggested_resume_names_it,
    a_scenario_with_a_secret_input_drives_on_after_start_and_complete_until_a_phase_needs_it,
    an_if_that_reads_no_secret_input_is_decided_without_it_and_one_that_does_waits,
    a_last_step_reported_without_driving_before_post_checks_waits_and_is_not_interrupted,
    an_agent_following_next_literally_reaches_the_end_and_is_never_offered_a_resume_that_does_nothing,
    workflow_validate_all_gives_every_verdict_as_orchestrate_validate_all_does,
    an_aborted_workflow_shows_its_waiting_step_ended_not_waiting_for_a_report,
    a_stopped_runs_reason_names_who_stopped_it_and_their_message,
    a_runs_start_message_is_shown_by_status,
    a_resumes_and_a_phase_starts_actor_and_message_are_shown_by_status,
    a_child_that_failed_its_parent_suggests_the_parents_retry_first_and_once_over_the_parents_resume,
    a_nested_child_failed_or_aborted_prints_one_block_of_commands_the_same_as_its_json_next,
    a_multi_line_output_or_message_keeps_its_lines_indented_under_its_step,
    a_scenario_status_shows_each_phases_outputs,
    a_foreach_phases_checklist_is_met_when_its_items_met_it,
    an_item_of_a_uses_step_says_it_waits_with_its_child_and_on_what,
    a_resume_dry_run_lists_items_not_their_step_and_says_if_foreach_and_uses,
    a_report_without_run_names_the_run_it_found,
    a_scenario_resume_dry_run_says_what_each_phase_waits_for,
    an_output_a_later_step_reads_is_in_the_suggested_report_and_a_failure_on_its_absence_offers_from_its_producer_first,
    a_recovery_that_made_the_same_value_and_failure_again_is_not_offered_first_again,
    a_recovery_that_made_another_value_or_asks_a_report_again_stays_first,
    a_new_run_once_the_definition_is_fixed_is_offered_only_when_it_changed_and_once,
);

/// A `check:` criterion reading an output not given yet was shown raw (`${{ phases.design.
/// outputs.doc }}`) by `orchestrate status`, human and `--json`, while the phase's prompt said
/// it in words: the status shows it as the prompt does (`render_check_in`), one rendering —
/// the command as it will run, the value not given yet said apart from it, never spliced into
/// it (review m, finding 3).
#[test]
fn a_check_criterion_is_shown_by_status_as_its_prompt_shows_it() {
    let env = Env::new();
    env.scenario(
        "des",
        "name: des\ndescription: d\nphases:\n  - name: design\n    description: design it\n    success_criteria:\n      - Design reviewed\n      - check: 'test -f \"${{ phases.design.outputs.doc }}\"'\n",
    );
    let run = env
        .run(&["--json", "orchestrate", "run", "des"])
        .assert_exit(3);
    let doc = run.json();
    let shown = "check: test -f \"${{ phases.design.outputs.doc }}\"";
    let note = "`${{ phases.design.outputs.doc }}`: output `doc`, not given yet";
    let prompt = doc["phases"][0]["prompt"].as_str().unwrap();
    assert!(
        prompt.contains(&format!("- {shown}\n  ({note})\n")),
        "{prompt}"
    );
    assert_eq!(doc["phases"][0]["criteria"][1]["criterion"], shown, "{doc}");
    assert_eq!(
        doc["phases"][0]["criteria"][1]["without_value"],
        serde_json::json!([note]),
        "{doc}"
    );
    let human = env.run(&["orchestrate", "status", "des"]).stdout;
    assert!(
        human.contains(&format!(
            "[ ] $ test -f \"${{{{ phases.design.outputs.doc }}}}\"\n              ({note})\n"
        )),
        "{human}"
    );
    assert!(!human.contains("\"(output"), "{human}");
}

/// `orchestrate status` of a scenario run that failed pre-validation said "pre-validation
/// failed (1 problem)" and "fix what the report names", naming nothing (`--json` had
/// `pre_problems`): it prints each problem as `workflow status` does, one rendering.
#[test]
fn a_scenario_status_after_failed_pre_validation_names_each_problem() {
    let env = Env::new();
    std::fs::write(
        env.home().join("cortex.config.json"),
        r#"{"agents": {"runner": "claude", "claude": {"program": "/nonexistent/claude"}}}"#,
    )
    .unwrap();
    env.scenario(
        "pre",
        "name: pre\ndescription: d\nphases:\n  - {name: a, description: a, agents: [code-reviewer]}\n",
    );
    env.run(&["orchestrate", "run", "pre"]).assert_exit(1);
    let status = env.run(&["orchestrate", "status", "pre"]).stdout;
    assert!(
        status.contains(
            "❌ Pre-validation: Claude Code runs agents here (`runner: claude`), and its program `/nonexistent/claude` is not an executable file"
        ),
        "{status}"
    );
    assert!(
        status.contains("Reason: pre-validation failed (1 problem)"),
        "{status}"
    );
}

/// The built-in `feature-development` could not be told which feature (`--input feature=...`
/// was refused: it declared no inputs), and no prompt read the `plan` its Plan step reports:
/// an agent driving it learnt neither the task nor where its plan was. The feature is an
/// optional input rendered into every prompt, and Implement's prompt gives the plan; run as
/// the README's tour runs it (no input), it still waits on Plan.
#[test]
fn the_built_in_feature_development_takes_the_feature_and_implement_reads_the_plan() {
    let env = Env::new();
    let run = env
        .run(&[
            "--json",
            "workflow",
            "run",
            "feature-development",
            "--input",
            "feature=add a --version flag",
        ])
        .assert_exit(3);
    let doc = run.json();
    let prompt = doc["steps"][0]["prompt"].as_str().unwrap();
    assert!(
        prompt.starts_with("Feature: add a --version flag\n"),
        "{prompt}"
    );
    let done = env
        .run(&[
            "--json",
            "workflow",
            "step",
            "complete",
            "Plan",
            "--output",
            "plan=docs/plan.md",
        ])
        .assert_exit(3);
    let prompt = done.json()["steps"][1]["prompt"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        prompt.starts_with("Feature: add a --version flag\nPlan: docs/plan.md\n"),
        "{prompt}"
    );
    // As the tour runs it: no input, and the prompts still read.
    let run = env
        .run(&["--json", "workflow", "run", "feature-development"])
        .assert_exit(3);
    let doc = run.json();
    assert_eq!(doc["waiting_for"], "Plan", "{doc}");
    assert!(
        !doc["steps"][0]["prompt"].as_str().unwrap().contains("${{"),
        "{doc}"
    );
}

/// `--json schema nope`'s error read "for '<NAME>'\\n  [possible values: …]": clap's layout
/// line joined with a backslash and an `n`, as if it were a line break inside the value. Its
/// layout is joined with a space; a break inside a value given stays `\\n`
/// (`a_refused_value_with_a_line_break_stays_whole_in_the_json_error`).
#[test]
fn a_json_usage_error_joins_clap_s_layout_lines_without_a_backslash() {
    let env = Env::new();
    let out = env.run(&["--json", "schema", "nope"]).assert_exit(2);
    let doc = out.json();
    assert_eq!(
        doc["error"],
        "invalid value 'nope' for '<NAME>' [possible values: workflow, scenario, agent, config, event, results]",
        "{doc}"
    );
}

/// A command line that does not parse, given `--json` (anywhere before `--`): stdout still
/// carries one JSON document, the error's (`{error, detail, hints, errors, exit_code}`), and
/// exit 2; the usage text stays on stderr. Without `--json`, stdout stays empty.
#[test]
fn a_usage_error_with_json_still_prints_one_json_document() {
    let env = Env::new();
    for args in [
        &["--json", "workflow", "run"][..],
        &["workflow", "--json", "run", "x", "--verbose"],
        &["--json", "workflow", "step", "complete"],
        &["--json", "orchestrate", "status", "--at", "x"],
    ] {
        let out = env.run(args);
        assert_eq!(out.code, 2, "{args:?}: {}{}", out.stdout, out.stderr);
        let doc = out.json();
        assert_eq!(doc["exit_code"], 2, "{args:?}: {doc}");
        assert!(
            !doc["error"].as_str().unwrap().is_empty(),
            "{args:?}: {doc}"
        );
        assert!(!doc["error"].as_str().unwrap().starts_with("error:"));
        assert!(
            out.stderr.starts_with("error: "),
            "{args:?}: {}",
            out.stderr
        );
    }
    let out = env.run(&["workflow", "run"]);
    assert_eq!(out.code, 2);
    assert!(out.stdout.is_empty(), "{}", out.stdout);
    // After `--`, `--json` is no flag of cortex: the error is not a document.
    let out = env.run(&["workflow", "run", "x", "--", "--json"]);
    assert_eq!(out.code, 2);
    assert!(out.stdout.is_empty(), "{}", out.stdout);
}

/// A missing argument's `--json` error was "the following required arguments were not
/// provided:" with nothing after the colon (what was missing only in `detail`'s usage text)
/// and no hint: the message names it, and the hint is that command's own `--help`.
#[test]
fn a_missing_argument_is_named_in_the_json_error_with_its_commands_help_as_hint() {
    let env = Env::new();
    let out = env.run(&["--json", "orchestrate", "complete", "x"]);
    assert_eq!(out.code, 2);
    let doc = out.json();
    assert_eq!(
        doc["error"],
        "the following required arguments were not provided: <PHASE>"
    );
    assert_eq!(
        doc["hints"][0],
        "`cortex orchestrate complete --help` shows what it takes"
    );
    let help = env.run(&["orchestrate", "complete", "--help"]);
    assert_eq!(help.code, 0, "{}", help.stderr);
}

/// A completed run said "Results: runs/<id>/results.json", a path relative to the home that
/// a reader in their project looked for in vain: the path shown is where the file is.
#[test]
fn the_results_file_a_completed_run_names_is_where_it_says() {
    let env = Env::new();
    env.workflow("one", "name: one\nsteps:\n  - {name: a, run: 'true'}\n");
    let out = env.run(&["workflow", "run", "one"]).assert_exit(0);
    let shown = out
        .stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("Results: "))
        .unwrap_or_else(|| panic!("no Results line:\n{}", out.stdout));
    let path = std::path::Path::new(shown);
    assert!(path.is_absolute() && path.is_file(), "{shown}");
}

/// A resume the run refuses printed "Resumed workflow: ..." and its steps, then the error (a
/// resume that did not happen), and for a scenario run hinted `workflow status`, which is
/// refused for a scenario run; clap's tip for an option a command lacks was to pass it after
/// `--`, as a name, which the name rule refuses.
#[test]
fn a_refused_resume_announces_nothing_and_hints_its_kinds_status() {
    let env = Env::new();
    std::fs::create_dir_all(env.home().join("scenarios")).unwrap();
    std::fs::copy(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("examples/scenarios/full-stack-feature.yaml"),
        env.home().join("scenarios/full-stack-feature.yaml"),
    )
    .unwrap();
    env.run(&["workflow", "run", "feature-development"])
        .assert_exit(3);
    env.run(&["orchestrate", "run", "full-stack-feature"])
        .assert_exit(3);
    for (args, group) in [
        (&["workflow", "resume", "--from", "Nope"][..], "workflow"),
        (&["workflow", "resume", "--retry"], "workflow"),
        (&["orchestrate", "resume", "--skip"], "orchestrate"),
        (&["orchestrate", "resume", "--from", "Nope"], "orchestrate"),
        // Nothing failed: the run waits on a manual phase.
        (&["orchestrate", "resume", "--retry"], "orchestrate"),
    ] {
        let out = env.run(args);
        assert_eq!(out.code, 2, "{args:?}: {}{}", out.stdout, out.stderr);
        assert!(out.stdout.is_empty(), "{args:?} announced:\n{}", out.stdout);
        let hint = out
            .stderr
            .lines()
            .find_map(|l| l.strip_prefix("hint: `"))
            .and_then(|l| l.split('`').next())
            .unwrap_or_else(|| panic!("{args:?}: no hint in {}", out.stderr));
        let words: Vec<&str> = hint.split_whitespace().skip(1).collect();
        assert_eq!(words[..2], [group, "status"], "{hint}");
        assert_eq!(env.run(&words).code, 0, "`{hint}`");
    }
    // An option `orchestrate resume` lacks (`--start` is `orchestrate run`'s).
    let unknown = env.run(&["orchestrate", "resume", "--start", "a"]);
    assert_eq!(unknown.code, 2);
    assert!(
        !unknown.stderr.contains("'-- --start'"),
        "{}",
        unknown.stderr
    );
    assert!(unknown.stderr.contains("Usage: cortex orchestrate resume"));
}

/// The suggestion to start a new run of a failed run's definition carries the run's inputs.
/// Before, it was `workflow run FILE` alone, which a definition with a required input refused
/// (exit 2): following it literally failed. A secret input the run must be given again is a
/// placeholder with its `fill`.
#[test]
fn a_new_run_suggested_after_a_failure_repeats_the_runs_inputs_and_works_when_run() {
    let env = Env::new();
    env.workflow(
        "ri",
        "name: ri\ninputs:\n  version: {type: string, required: true}\n  n: {type: integer, default: 1}\n  API_TOKEN: {type: string, required: true}\nsteps:\n  - {name: a, run: 'true', rollback: 'true'}\n  - {name: b, run: 'exit 1', retry: {max_retry_attempts: 0}, on_failure: rollback}\n",
    );
    env.config(r#"{"workflow": {"enable_rollback": true}}"#);
    let out = env.run(&[
        "workflow",
        "run",
        "ri",
        "--input",
        "version=1.2 beta",
        "--input",
        "n=3",
        "--input",
        "API_TOKEN=tok-very-secret-1",
    ]);
    assert_eq!(out.code, 1, "{}", out.text());
    let status = env.status(None);
    assert_eq!(status["status"], "rolled_back", "{status}");
    let next = &status["next"][0];
    let argv: Vec<String> = next["argv"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_string())
        .collect();
    assert_eq!(&argv[1..3], ["workflow", "run"], "{next}");
    for pair in [
        ["--input", "version=1.2 beta"],
        ["--input", "n=3"],
        ["--input", "API_TOKEN=VALUE"],
    ] {
        assert!(argv.windows(2).any(|w| w == pair), "{pair:?} in {argv:?}");
    }
    assert_eq!(next["fill"][0]["name"], "API_TOKEN", "{next}");
    assert!(!next.to_string().contains("tok-very-secret-1"), "{next}");
    // Filled in and run as given, it starts (and fails again as the first did).
    let filled: Vec<&str> = argv[1..]
        .iter()
        .map(|a| {
            if a == "API_TOKEN=VALUE" {
                "API_TOKEN=tok-very-secret-1"
            } else {
                a.as_str()
            }
        })
        .collect();
    let again = env.run(&filled);
    assert_eq!(again.code, 1, "{}", again.text());
    assert_eq!(env.status(None)["inputs"]["version"], "1.2 beta");
}

/// A reported failure says what it did to the run. Before, `workflow step fail` on a step
/// with `on_failure: abort` printed only "reported failed" while the run was aborted, and with
/// `on_failure: skip` said nothing of the skip before going on.
#[test]
fn a_reported_failure_says_whether_it_aborted_or_skipped() {
    let env = Env::new();
    env.workflow(
        "ab",
        "name: ab\nsteps:\n  - {name: review, prompt: Review it., on_failure: abort}\n  - {name: after, run: 'true'}\n",
    );
    env.workflow(
        "sk",
        "name: sk\nsteps:\n  - {name: review, prompt: Review it., on_failure: skip}\n  - {name: after, run: 'true'}\n",
    );
    env.run(&["workflow", "run", "ab"]).assert_exit(3);
    let out = env.run(&["workflow", "step", "fail", "review", "--run", "ab"]);
    assert_eq!(out.code, 1, "{}", out.text());
    assert!(out.stdout.contains("reported failed"), "{}", out.stdout);
    assert!(out.stdout.contains("Workflow aborted"), "{}", out.stdout);
    env.run(&["workflow", "run", "sk"]).assert_exit(3);
    let out = env.run(&["workflow", "step", "fail", "review", "--run", "sk"]);
    assert_eq!(out.code, 0, "{}", out.text());
    assert!(
        out.stdout
            .contains("reported failed, and skipped (its on_failure: skip)"),
        "{}",
        out.stdout
    );
}

fn latest_run(env: &Env) -> String {
    env.run(&["--json", "workflow", "history"]).json()["runs"].clone()[0]["run_id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Seen by a review: `resume --from Plan` on the normal agent-loop state (Plan reported done,
/// Implement waiting) printed "Resumed workflow" and then failed, exit 1, "the run moved on
/// without it (the run is waiting; resume it first)": the resume left the run `waiting` on
/// the step it had just reset. Now Plan runs again (waits for its report, attempt 2), the
/// steps after it are pending, one `run_resumed` is recorded and Plan's first report kept.
fn resume_from_a_step_of_a_waiting_workflow_run_reruns_it_and_waits_for_its_report(env: Env) {
    env.run(&["workflow", "run", "feature-development"])
        .assert_exit(3);
    let done = env.run(&[
        "workflow",
        "step",
        "complete",
        "Plan",
        "--output",
        "plan=p.md",
    ]);
    assert_eq!(done.code, 3, "{}", done.text());
    let run = latest_run(&env);
    let resumed = env.run(&[
        "workflow",
        "resume",
        "feature-development",
        "--from",
        "Plan",
    ]);
    assert_eq!(resumed.code, 3, "{}", resumed.text());
    assert!(!resumed.stderr.contains("moved on"), "{}", resumed.stderr);
    let status = env.status(Some(&run));
    assert_eq!(status["status"], "waiting", "{status}");
    assert_eq!(status["steps"][0]["status"], "waiting", "{status}");
    assert_eq!(status["steps"][0]["attempts"], 2, "{status}");
    assert_eq!(status["steps"][1]["status"], "pending", "{status}");
    let events = env.events(&run);
    let kinds: Vec<&str> = events.iter().filter_map(|e| e["type"].as_str()).collect();
    assert_eq!(
        kinds.iter().filter(|k| **k == "run_resumed").count(),
        1,
        "{kinds:?}"
    );
    assert_eq!(
        kinds.iter().filter(|k| **k == "step_succeeded").count(),
        1,
        "Plan's first report is kept: {kinds:?}"
    );
    // The loop goes on: Plan reported again, Implement waits again.
    let again = env.run(&[
        "workflow",
        "step",
        "complete",
        "Plan",
        "--output",
        "plan=q.md",
    ]);
    assert_eq!(again.code, 3, "{}", again.text());
    let status = env.status(Some(&run));
    assert_eq!(status["waiting_for"], "Implement", "{status}");
    assert_eq!(status["steps"][1]["attempts"], 2, "{status}");
    // `--from` the waiting step itself re-runs it.
    let resumed = env.run(&["workflow", "resume", &run, "--from", "Implement"]);
    assert_eq!(resumed.code, 3, "{}", resumed.text());
    let status = env.status(Some(&run));
    assert_eq!(status["waiting_for"], "Implement", "{status}");
    assert_eq!(status["steps"][1]["attempts"], 3, "{status}");
}

/// `--from` and `--rollback-to` take a step's name as every other command does (case,
/// spaces, `_` and `-` do not matter: `step complete plan` worked, `resume --from plan` was
/// "no step named `plan`"), and the step's real name is recorded.
fn resume_from_matches_the_step_name_forgivingly_and_records_the_real_name(env: Env) {
    env.run(&["workflow", "run", "feature-development"])
        .assert_exit(3);
    env.run(&["workflow", "step", "complete", "plan"])
        .assert_exit(3);
    let run = latest_run(&env);
    let dry = env.run(&["workflow", "resume", "--from", "plan", "--dry-run"]);
    assert_eq!(dry.code, 0, "{}", dry.text());
    assert!(dry.stdout.contains("Plan"), "{}", dry.stdout);
    let resumed = env.run(&["workflow", "resume", "--from", " PLAN "]);
    assert_eq!(resumed.code, 3, "{}", resumed.text());
    let events = env.events(&run);
    let resumed = events
        .iter()
        .find(|e| e["type"] == "run_resumed")
        .expect("a run_resumed event");
    assert_eq!(resumed["body"]["restart_from"], "Plan", "{resumed}");
    assert_eq!(resumed["body"]["mode"]["step"], "Plan", "{resumed}");
    // A name that is no step is still refused, with the steps there are.
    let wrong = env.run(&["workflow", "resume", "--from", "plans"]);
    assert_eq!(wrong.code, 2, "{}", wrong.text());
    assert!(
        wrong.stderr.contains("no step named `plans`"),
        "{}",
        wrong.stderr
    );
}

common::on_both_stores!(
    resume_from_a_step_of_a_waiting_workflow_run_reruns_it_and_waits_for_its_report,
    resume_from_matches_the_step_name_forgivingly_and_records_the_real_name,
);

/// `--rollback-to` takes a step's name forgivingly too (`first step` finds `First_Step`),
/// and records the real one.
#[test]
fn resume_rollback_to_matches_the_step_name_forgivingly_and_records_the_real_name() {
    let env = Env::new();
    env.workflow(
        "rb",
        "name: rb\nsteps:\n  - {name: First_Step, prompt: one}\n  - {name: second, prompt: two}\n  - {name: third, prompt: three}\n",
    );
    env.run(&["workflow", "run", "rb"]).assert_exit(3);
    for step in ["first step", "second"] {
        env.run(&["workflow", "step", "complete", step])
            .assert_exit(3);
    }
    env.run(&["workflow", "step", "fail", "third"])
        .assert_exit(1);
    let run = latest_run(&env);
    let back = env.run(&["workflow", "resume", "--rollback-to", "first step"]);
    assert!(matches!(back.code, 0 | 3), "{}", back.text());
    let events = env.events(&run);
    let resumed = events
        .iter()
        .find(|e| e["type"] == "run_resumed")
        .expect("a run_resumed event");
    assert_eq!(resumed["body"]["mode"]["step"], "First_Step", "{resumed}");
    let started = events
        .iter()
        .find(|e| e["type"] == "rollback_started")
        .expect("a rollback_started event");
    assert_eq!(started["body"]["resume_after"], "First_Step", "{started}");
}

/// Outputs are small values (1 MiB at most, as `$CORTEX_OUTPUT`): a report whose `--output`
/// values hold more — each under Linux's limit on one argument — is refused whole, by
/// `workflow step complete` as by `orchestrate complete`, and nothing is recorded.
#[test]
fn a_report_whose_outputs_pass_the_output_limit_is_refused_and_nothing_is_recorded() {
    let env = Env::new();
    env.workflow(
        "ask",
        "name: ask\nsteps:\n  - name: Ask\n    prompt: do it\n",
    );
    env.scenario(
        "sc",
        "name: sc\ndescription: d\nphases:\n  - name: a\n    description: do it\n",
    );
    let values: Vec<String> = (0..10)
        .map(|i| format!("k{i}={}", "v".repeat(120_000)))
        .collect();
    let mut outputs = Vec::new();
    for v in &values {
        outputs.extend(["--output", v.as_str()]);
    }
    for (run, complete) in [
        (
            ["workflow", "run", "ask"],
            vec!["workflow", "step", "complete", "Ask"],
        ),
        (
            ["orchestrate", "run", "sc"],
            vec!["orchestrate", "complete", "sc", "a"],
        ),
    ] {
        env.run(&run).assert_exit(3);
        let before = events(&env);
        let mut args = complete.clone();
        args.extend(&outputs);
        let refused = env.run(&args);
        assert_eq!(refused.code, 2, "{complete:?}: {}", refused.stdout);
        assert!(
            refused
                .stderr
                .contains("its outputs hold 1200040 bytes, more than the 1024 KiB outputs may hold: write data to a file and its path as an output"),
            "{complete:?}: {}",
            refused.stderr
        );
        assert!(
            refused.stderr.contains("nothing was recorded"),
            "{}",
            refused.stderr
        );
        assert_eq!(events(&env), before, "{complete:?}: nothing recorded");
        // Under the limit, the same report goes through.
        let mut args = complete.clone();
        args.extend(&outputs[..16]);
        let done = env.run(&args);
        assert_eq!(done.code, 0, "{complete:?}: {}{}", done.stdout, done.stderr);
    }
}

/// An `if: {run: …}` command is bounded as an attempt is: the step's `timeout:` leaves the
/// condition undecided (the reason names that limit), and the run's time limit pauses the run
/// while the command runs, instead of holding it until the command returns.
#[test]
fn a_condition_command_is_bounded_by_the_steps_timeout_and_the_runs_time_limit() {
    let env = Env::new();
    env.workflow(
        "slowif",
        "name: slowif\nsteps:\n  - name: a\n    timeout: 1s\n    if: {run: \"sleep 20\"}\n    run: echo ran\n",
    );
    let started = Instant::now();
    let run = env.run(&["workflow", "run", "slowif"]);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{}",
        run.stdout
    );
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let reason = env.status(None)["reason"].as_str().unwrap().to_string();
    assert!(
        reason.contains("cannot be decided") && reason.contains("the step's `timeout:` of 1s"),
        "{reason}"
    );
    assert!(!run.stdout.contains("ran\n"), "{}", run.stdout);

    env.config(r#"{"workflow": {"timeout_seconds": 1}}"#);
    env.workflow(
        "slowif2",
        "name: slowif2\nsteps:\n  - name: a\n    timeout: 30s\n    if: {run: \"sleep 20\"}\n    run: echo ran\n",
    );
    let started = Instant::now();
    let run = env.run(&["workflow", "run", "slowif2"]);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{}",
        run.stdout
    );
    assert_eq!(run.code, 3, "{}{}", run.stdout, run.stderr);
    let status = env.status(None);
    let reason = status["reason"].as_str().unwrap().to_string();
    assert!(reason.contains("time limit of 1 s"), "{status}");
    // Ended as by any time limit, resumable: the condition is checked again on resume.
    let events = env.run(&["--json", "log", "show"]).json();
    assert!(
        !events
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["type"] == "condition_checked"
                && e["body"]["step"] == "a"
                && e["run_id"] == status["run_id"]),
        "a condition the run's time limit cut short is not recorded: {events}"
    );
    assert_eq!(status["resumable"], true, "{status}");
    assert!(status["steps"][0]["if"]["holds"].is_null(), "{status}");

    // A scenario phase's condition command alike, by its phase's `timeout:`.
    env.config(r#"{"workflow": {"timeout_seconds": 60}}"#);
    env.scenario(
        "slowifs",
        "name: slowifs\ndescription: d\nphases:\n  - name: a\n    description: d\n    timeout: 1s\n    if: {run: \"sleep 20\"}\n    run: echo ran\n",
    );
    let started = Instant::now();
    let run = env.run(&["orchestrate", "run", "slowifs"]);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{}",
        run.stdout
    );
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let human = env.run(&["orchestrate", "status"]).stdout;
    assert!(human.contains("the phase's `timeout:` of 1s"), "{human}");
}

/// `history --limit` past every integer (or not a number) is refused with the range, as 501
/// is, with its hint. Before, clap said "number too large to fit in target type".
#[test]
fn history_limit_past_every_integer_says_the_range() {
    let env = Env::new();
    for group in ["workflow", "orchestrate"] {
        for limit in ["99999999999999999999", "abc", "501"] {
            let out = env.run(&[group, "history", "--limit", limit]);
            assert_eq!(out.code, 2, "{}", out.stderr);
            assert!(
                out.stderr.starts_with(&format!(
                    "error: `--limit` is between 1 and 500 (runs listed, newest first); {limit} is not\nhint: give `--limit` from 1 to 500"
                )),
                "{}",
                out.stderr
            );
        }
    }
}

/// With checkpoints off, a report recorded with `--no-drive` is a hand-off, not a crash: the
/// `resume` its "Next:" suggests goes on from the report (its dry run says "reuse"), as the
/// same report without `--no-drive` does. Before, the resume threw the report away and waited
/// on the reported step again (attempt 2). A driver killed with an attempt in flight still
/// leaves a run whose resume starts again from the first step (nothing is a resume point).
#[test]
fn with_checkpoints_off_a_resume_after_a_no_drive_report_goes_on_from_the_report() {
    let env = Env::new();
    env.config(r#"{"workflow":{"enable_checkpoints":false}}"#);
    env.workflow(
        "w",
        "name: w\nsteps:\n  - {name: Plan, prompt: plan it}\n  - {name: Build, run: echo built >> ran.log}\n  - {name: Ship, prompt: ship it}\n",
    );
    env.run(&["workflow", "run", "w"]).assert_exit(3);
    let recorded = env
        .run(&[
            "workflow",
            "step",
            "complete",
            "Plan",
            "--no-drive",
            "--output",
            "plan=p.md",
        ])
        .assert_exit(3);
    assert!(
        recorded
            .stdout
            .contains("nobody drives the run now: go on with it"),
        "{}",
        recorded.stdout
    );
    let plan = env
        .run(&["--json", "workflow", "resume", "--dry-run"])
        .json();
    assert_eq!(plan["steps"][0]["action"], "reuse", "{plan}");
    let dry = env.run(&["workflow", "resume", "--dry-run"]).stdout;
    assert!(
        !dry.contains("wait for a report (external step)\n   2."),
        "{dry}"
    );
    env.run(&["workflow", "resume"]).assert_exit(3);
    let status = env.status(None);
    assert_eq!(status["waiting_for"], "Ship", "{status}");
    assert_eq!(status["steps"][0]["attempts"], 1, "{status}");
    assert_eq!(status["steps"][0]["outputs"]["plan"], "p.md", "{status}");
    assert_eq!(lines(&env.file("ran.log")), ["built"]);

    // A crash is no hand-off: `Build` cut short by a killed driver, the resume runs the run
    // from the start again (checkpoints are off), and its dry run says so.
    let crash = Env::new();
    crash.config(r#"{"workflow":{"enable_checkpoints":false}}"#);
    crash.workflow(
        "w",
        "name: w\nsteps:\n  - {name: Plan, prompt: plan it}\n  - {name: Build, run: echo built >> ran.log; sleep 2}\n  - {name: Ship, prompt: ship it}\n",
    );
    assert_eq!(crash.run(&["workflow", "run", "w"]).code, 3);
    let mut driver = crash
        .command(&["workflow", "step", "complete", "Plan"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    common::wait_until("Build to start", || {
        lines(&crash.file("ran.log")).contains(&"built".to_string())
    });
    driver.kill().unwrap(); // SIGKILL
    driver.wait().unwrap();
    assert_eq!(crash.status(None)["status"], "interrupted");
    let plan = crash
        .run(&["--json", "workflow", "resume", "--dry-run"])
        .json();
    // `Plan` waits for its report again, and `Build` runs again.
    assert_eq!(plan["steps"][0]["action"], "wait", "{plan}");
    assert_eq!(plan["steps"][1]["action"], "rerun", "{plan}");
    assert_eq!(crash.run(&["workflow", "resume"]).code, 3);
    let status = crash.status(None);
    assert_eq!(status["waiting_for"], "Plan", "{status}");
    assert_eq!(status["steps"][0]["attempts"], 2, "{status}");
}

/// A report refused because its gate's checks need a secret input not given lists every other
/// problem too (SPEC §7 "every problem listed"): the required output it lacks as well. Before,
/// only the secret was named, and the missing output came up at the next try.
#[test]
fn a_report_refused_for_a_secret_input_lists_the_missing_outputs_too() {
    let env = Env::new();
    env.workflow(
        "sec",
        "name: sec\ninputs:\n  api_token: {type: string, required: true}\nsteps:\n  - name: first\n    prompt: do it\n    validate:\n      - output: plan\n      - run: test -n \"$CORTEX_INPUT_API_TOKEN\"\n",
    );
    env.run(&["workflow", "run", "sec", "--input", "api_token=k-1"])
        .assert_exit(3);
    let refused = env
        .run(&["workflow", "step", "complete", "first"])
        .assert_exit(2);
    assert!(
        refused
            .stderr
            .starts_with("error: `first` cannot be reported complete (2 problems)"),
        "{}",
        refused.stderr
    );
    assert!(
        refused.stderr.contains("need the secret input `api_token`"),
        "{}",
        refused.stderr
    );
    assert!(
        refused.stderr.contains("output `plan` was not produced"),
        "{}",
        refused.stderr
    );
    assert!(
        refused.stderr.contains("CORTEX_INPUT_API_TOKEN"),
        "{}",
        refused.stderr
    );
}

/// Usage errors with `--json` carry a message that says what is wrong and a hint, the
/// command's own `--help`, across `workflow`, `orchestrate`, `log` and `logs`. Two did not: a
/// command given no subcommand (`cortex workflow`) had the command's description as its error
/// ("Ordered steps with validation gates, ..."), and a value its parser refused (`status --at
/// x`) had no hint, its clap text having no usage line to read the command from. A `status
/// --at` past the run's end, the one refusal of `status` with no hint, names `log show`.
#[test]
fn json_usage_errors_say_what_is_wrong_and_hint_the_commands_help() {
    let env = Env::new();
    for (args, error, hint) in [
        (
            &["--json", "workflow"][..],
            "`cortex workflow` needs a command: list, validate, run, ",
            "`cortex workflow --help` shows what each does",
        ),
        (
            &["--json", "workflow", "step"],
            "`cortex workflow step` needs a command: complete, fail",
            "`cortex workflow step --help` shows what each does",
        ),
        (
            &["--json", "orchestrate"],
            "`cortex orchestrate` needs a command: list, validate, preview, run, ",
            "`cortex orchestrate --help` shows what each does",
        ),
        (
            &["--json", "log"],
            "`cortex log` needs a command: ",
            "`cortex log --help` shows what each does",
        ),
        (
            &["--json", "workflow", "status", "--at", "x"],
            "invalid value 'x' for '--at <SEQ>'",
            "`cortex workflow status --help` shows what it takes",
        ),
        (
            &["orchestrate", "--json", "status", "x", "--at", "-"],
            "invalid value '-' for '--at <SEQ>'",
            "`cortex orchestrate status --help` shows what it takes",
        ),
        (
            &["--json", "logs", "--bogus"],
            "unexpected argument '--bogus' found",
            "`cortex logs --help` shows what it takes",
        ),
    ] {
        let out = env.run(args);
        assert_eq!(out.code, 2, "{args:?}: {}{}", out.stdout, out.stderr);
        let doc = out.json();
        assert!(
            doc["error"].as_str().unwrap().starts_with(error),
            "{args:?}: {doc}"
        );
        assert_eq!(doc["hints"], serde_json::json!([hint]), "{args:?}: {doc}");
        let help: Vec<&str> = hint
            .trim_start_matches("`cortex ")
            .split('`')
            .next()
            .unwrap()
            .split(' ')
            .collect();
        assert_eq!(env.run(&help).code, 0, "the hint works: {help:?}");
    }
    env.workflow("one", "name: one\nsteps:\n  - {name: a, run: 'true'}\n");
    env.run(&["workflow", "run", "one"]).assert_exit(0);
    let doc = env
        .run(&["--json", "workflow", "status", "one", "--at", "999"])
        .json();
    let hint = doc["hints"][0].as_str().unwrap_or_default();
    assert!(
        hint.starts_with("`cortex log show ")
            && hint.ends_with("lists its events, each by its seq"),
        "{doc}"
    );
}

/// A check that reads no secret input still needs them all: every command cortex runs gets
/// the run's inputs in its environment (`CORTEX_INPUT_<NAME>`), and which a check reads cannot
/// be known from its text (a script may read one). The refusal says so, and gives the command
/// that reports the step with the value set; pasted with it, the report goes through.
#[test]
fn a_check_reading_no_secret_input_is_refused_with_why_and_the_command_that_gives_it() {
    let env = Env::new();
    env.workflow(
        "sc3",
        "name: sc3\ninputs:\n  api_token: {type: string, required: true}\nsteps:\n  - name: Review\n    prompt: Review the change\n    validate:\n      - run: test 1 = 1\n",
    );
    let run = env.run(&[
        "workflow",
        "run",
        "sc3",
        "--input",
        "api_token=tok-abcdef998877",
    ]);
    assert_eq!(run.code, 3, "{}", run.text());
    let refused = env.run(&["workflow", "step", "complete", "Review"]);
    assert_eq!(refused.code, 2, "{}", refused.text());
    for said in [
        "every command cortex runs, checks included, gets the run's inputs in its environment (CORTEX_INPUT_API_TOKEN)",
        "even for a check that does not read it",
        "`CORTEX_INPUT_API_TOKEN=VALUE cortex workflow step complete Review --run ",
    ] {
        assert!(refused.stderr.contains(said), "{said}:\n{}", refused.stderr);
    }
    let done = env.run_with(
        &["workflow", "step", "complete", "Review"],
        &[("CORTEX_INPUT_API_TOKEN", "tok-abcdef998877")],
    );
    assert_eq!(done.code, 0, "{}", done.text());
}

/// Seen by a review: a step cut by the time limit while it read a secret output a person
/// reported. The first suggestion, `resume --timeout`, could not work (the secret is held only
/// by the reporting process, gone), it failed the run, and the failure's `--from P` carried no
/// longer limit: the report drove the step under the same limit, which cut it again, and an
/// agent following `next[0]` went round for ever. Now the stopped run offers `--from P` with
/// the longer limit first, and following `next[0]` (each VALUE filled in) completes the run.
#[test]
fn a_step_cut_by_the_time_limit_reading_a_reported_secret_is_offered_from_with_a_longer_limit() {
    let env = Env::new();
    env.config(r#"{"workflow": {"timeout_seconds": 1}}"#);
    env.workflow(
        "sec",
        "name: sec\nsteps:\n  - name: P\n    prompt: report\n  - name: S\n    run: 'sleep 2; test \"$X\" = hunter2secretXYZ'\n    env: {X: \"${{ steps.P.outputs.API_TOKEN }}\"}\n    retry: {max_retry_attempts: 0}\n",
    );
    env.run(&["workflow", "run", "sec"]).assert_exit(3);
    let mut doc = env.status(None);
    let mut seen = Vec::new();
    for round in 0.. {
        if doc["status"] == "completed" {
            break;
        }
        assert!(round < 4, "still not completed after {seen:#?}\n{doc}");
        let argv = next_argvs(&doc["next"]).remove(0);
        if doc["status"] == "stopped" {
            assert_eq!(
                argv[2..4],
                [
                    "resume".to_string(),
                    doc["run_id"].as_str().unwrap().to_string()
                ]
            );
            assert_eq!(argv[4..7], ["--from", "P", "--timeout"], "{doc}");
        }
        let out = env.run_filled(&argv, "hunter2secretXYZ");
        seen.push((argv.join(" "), out.code, doc["status"].clone()));
        doc = env.status(None);
    }
    // The report drove `S` under the limit it was cut by, and the run stopped there; then
    // `--from P` with the longer limit, and the report again: done.
    let statuses: Vec<String> = seen.iter().map(|(_, _, s)| s.to_string()).collect();
    assert_eq!(
        statuses,
        ["\"waiting\"", "\"stopped\"", "\"waiting\""],
        "{seen:#?}"
    );
}
