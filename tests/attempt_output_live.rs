//! An attempt's output while it runs (SPEC §11 "Logs"): a line still being written reaches
//! the attempt's file (`cortex logs`, `--raw`, `--follow`, the live view) and survives a
//! killed driver; a long line is passed on in pieces cut only between characters; `cortex
//! logs` says what is true of a step with no output; `--follow` of a step that has not
//! started ends once the run is interrupted.

mod common;

use std::io::Read;
use std::time::Duration;

use common::Env;

fn run_id(env: &Env) -> String {
    env.status(None)["run_id"].as_str().unwrap().to_string()
}

/// The status of step `step` of the latest run, once there is a run.
fn step_status(env: &Env, step: &str) -> Option<String> {
    let status = env.run(&["--json", "workflow", "status"]);
    if status.code != 0 {
        return None;
    }
    status.json()["steps"]
        .as_array()?
        .iter()
        .find(|s| s["name"] == step)
        .and_then(|s| s["status"].as_str().map(str::to_string))
}

const WAITING: &str = "name: n\nsteps:\n  - name: Wait\n    run: 'printf \"Waiting for lock...\"; while [ ! -f go ]; do sleep 0.1; done; echo \" got it\"'\n";

#[test]
/// Output without a line end (`printf "Waiting for lock..."` while the command waits) is in
/// the attempt's file while the step runs: `logs --raw` gives it, `logs` shows it (its line
/// ended for the reader), the live `run` output shows it, and `--follow` continues it on the
/// same line when the rest comes. Before, it was held until its line end: 0 bytes everywhere.
/// The recorded size and hash are those of the file: `log verify` passes.
fn a_partial_line_is_shown_while_the_step_waits_and_continued_when_it_ends() {
    let env = Env::new();
    env.workflow("n", WAITING);
    let live = env.project().join("live.out");
    let mut driver = env
        .command(&["workflow", "run", "n"])
        .stdout(std::fs::File::create(&live).unwrap())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    common::wait_within(
        "the partial line in the attempt's file",
        Duration::from_secs(60),
        || {
            step_status(&env, "Wait").as_deref() == Some("running")
                && env.run(&["logs", "n", "Wait", "--raw"]).stdout == "Waiting for lock..."
        },
    );
    let run = run_id(&env);
    let logs = env.run(&["logs", &run, "Wait"]);
    assert_eq!(
        logs.stdout, "── Wait · attempt 1 ──\nWaiting for lock...\n",
        "{}",
        logs.stderr
    );
    common::wait_within(
        "the partial line in the live output",
        Duration::from_secs(60),
        || std::fs::read_to_string(&live).is_ok_and(|t| t.contains("   │ Waiting for lock...\n")),
    );
    let mut follow = env
        .command(&["logs", &run, "Wait", "--follow"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::fs::write(env.project().join("go"), "").unwrap();
    assert_eq!(driver.wait().unwrap().code(), Some(0));
    let mut followed = String::new();
    follow
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut followed)
        .unwrap();
    assert_eq!(follow.wait().unwrap().code(), Some(0));
    assert_eq!(
        followed,
        "── Wait · attempt 1 ──\nWaiting for lock... got it\n"
    );
    assert_eq!(
        env.run(&["logs", &run, "Wait", "--raw"]).stdout,
        "Waiting for lock... got it\n"
    );
    let verify = env.run(&["log", "verify", &run]);
    assert_eq!(verify.code, 0, "{}{}", verify.stdout, verify.stderr);
}

#[test]
/// A partial line printed before the driver is SIGKILLed is kept in the attempt's file:
/// `logs --attempt 1` shows it under "(interrupted, not recorded: …)". Before, it was lost
/// and the attempt was said to be cut off "before it printed anything".
fn a_partial_line_survives_a_killed_driver() {
    let env = Env::new();
    env.workflow("n", WAITING);
    let mut driver = env.spawn(&["workflow", "run", "n"]);
    common::wait_within(
        "the partial line in the attempt's file",
        Duration::from_secs(60),
        || env.run(&["logs", "n", "Wait", "--raw"]).stdout == "Waiting for lock...",
    );
    driver.kill().unwrap(); // SIGKILL
    driver.wait().unwrap();
    let run = run_id(&env);
    let logs = env.run(&["logs", &run, "Wait", "--attempt", "1"]);
    assert!(
        logs.stdout.starts_with(
            "── Wait · attempt 1 ──\n(interrupted, not recorded: the attempt was cut off before it ended"
        ) && logs.stdout.ends_with(")\nWaiting for lock...\n")
            && !logs.stdout.contains("before it printed anything"),
        "{}",
        logs.stdout
    );
    // The orphaned command ends; the run is resumed and verifies.
    std::fs::write(env.project().join("go"), "").unwrap();
    let resumed = env.run(&["workflow", "resume", &run]);
    assert_eq!(resumed.code, 0, "{}{}", resumed.stdout, resumed.stderr);
    let verify = env.run(&["log", "verify", &run]);
    assert_eq!(verify.code, 0, "{}{}", verify.stdout, verify.stderr);
}

#[test]
/// The live output passes a line longer than its piece size on in pieces cut only between
/// characters: no piece shows half a character as U+FFFD, and the pieces join into the line.
/// Before, a cut inside `é` showed U+FFFD on both sides of it.
fn live_output_cuts_a_long_line_only_between_characters() {
    let env = Env::new();
    env.workflow(
        "u8",
        "name: u8\nsteps:\n  - name: Wide\n    run: printf a; yes é | head -n 150000 | tr -d '\\n'; echo\n",
    );
    let out = env.run(&["workflow", "run", "u8"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        !out.stdout.contains('\u{FFFD}'),
        "U+FFFD in the live output"
    );
    let pieces: Vec<&str> = out
        .stdout
        .lines()
        .filter_map(|l| l.strip_prefix("   │ "))
        .collect();
    assert!(pieces.len() > 1, "the line was passed on in pieces");
    let want = format!("a{}", "é".repeat(150_000));
    assert_eq!(pieces.concat(), want);
    let kept = env.run(&["logs", "u8", "Wide", "--raw"]).stdout;
    assert_eq!(kept, format!("{want}\n"));
}

#[test]
/// `cortex logs` of a step with no output says why, truly: a `run:` step running that has
/// printed nothing yet, a step skipped by its `if:`, a prompt step (which runs no command
/// here). Before, each was said to be "a prompt step, or a phase without `run:`".
fn logs_of_a_step_with_no_output_says_whether_it_is_running_skipped_or_a_prompt_step() {
    let env = Env::new();
    env.workflow(
        "q",
        "name: q\nsteps:\n  - name: Build\n    run: while [ ! -f go ]; do sleep 0.1; done\n  - name: Maybe\n    if: \"false\"\n    run: echo maybe\n  - name: Ask\n    prompt: ship it?\n",
    );
    let mut driver = env.spawn(&["workflow", "run", "q"]);
    common::wait_within("Build running", Duration::from_secs(60), || {
        step_status(&env, "Build").as_deref() == Some("running")
    });
    let run = run_id(&env);
    let build = env.run(&["logs", &run, "Build"]);
    assert_eq!(
        build.stdout,
        "── Build · attempt 1 ──\n(running; nothing printed yet)\n"
    );
    let doc = env.run(&["--json", "logs", &run, "Build"]).json();
    assert_eq!(doc["attempts"][0]["status"], "in_flight", "{doc}");
    assert_eq!(doc["attempts"][0]["bytes"], 0, "{doc}");
    std::fs::write(env.project().join("go"), "").unwrap();
    assert_eq!(
        driver.wait().unwrap().code(),
        Some(3),
        "the run waits on Ask"
    );
    assert_eq!(
        env.run(&["logs", &run, "Maybe"]).stdout,
        format!(
            "No attempt output for `Maybe` in run {run}: it was skipped (if: false is false), so no command of it ran.\n"
        )
    );
    assert_eq!(
        env.run(&["logs", &run, "Ask"]).stdout,
        format!(
            "No attempt output for `Ask` in run {run}: it is a prompt step, which runs no command here (a person or an agent does it and reports it), so it has no output to show.\n"
        )
    );
    assert_eq!(
        env.run(&["logs", &run, "Build"]).stdout,
        "── Build · attempt 1 ──\n(no output)\n"
    );
}

#[test]
/// `logs RUN STEP --follow` of a step that has not started ends once the run is interrupted
/// (its driver SIGKILLed), saying so and how to go on, exit 3, as it does for a stopped run;
/// `logs RUN STEP` says the same. Before, it waited for ever: "the run is on earlier steps".
fn logs_follow_of_a_step_not_started_ends_when_the_run_is_interrupted() {
    let env = Env::new();
    env.workflow(
        "k",
        "name: k\nsteps:\n  - name: Slow\n    run: while [ ! -f go ]; do sleep 0.1; done\n  - name: Later\n    run: echo later\n",
    );
    let mut driver = env.spawn(&["workflow", "run", "k"]);
    common::wait_within("Slow running", Duration::from_secs(60), || {
        step_status(&env, "Slow").as_deref() == Some("running")
    });
    driver.kill().unwrap(); // SIGKILL
    driver.wait().unwrap();
    let run = run_id(&env);
    let why = format!(
        "the run was interrupted (its driver is gone; `cortex workflow resume {run}` goes on)"
    );
    // Exit 3, as for any run left resumable (SPEC §5), no longer 0 as for a finished one.
    let follow = env.run(&["logs", &run, "Later", "--follow"]);
    assert_eq!(follow.code, 3, "{}", follow.stderr);
    assert_eq!(
        follow.stdout,
        format!("`Later` in run {run} did not start: {why}.\n")
    );
    assert_eq!(
        env.run(&["logs", &run, "Later"]).stdout,
        format!("`Later` in run {run} has not run yet: {why}.\n")
    );
    // Without a step, the attempt cut off is listed.
    let all = env.run(&["logs", &run, "--follow"]);
    assert!(
        all.stdout.starts_with(
            "── Slow · attempt 1 ──\n(interrupted, not recorded: the attempt was cut off before it ended"
        ),
        "{}",
        all.stdout
    );
    std::fs::write(env.project().join("go"), "").unwrap();
    let resumed = env.run(&["workflow", "resume", &run]);
    assert_eq!(resumed.code, 0, "{}{}", resumed.stdout, resumed.stderr);
}

/// The live output is bounded by bytes a second, not only by lines: a line with no end is
/// passed on in pieces, each counted as a line, so a 200 MB line still sent 110–130 MB to the
/// terminal. What is held back is said, and the attempt's log keeps every byte.
#[test]
fn a_huge_line_is_not_sent_whole_to_the_terminal() {
    let env = Env::new();
    env.workflow(
        "big",
        "name: big\nsteps:\n  - name: line\n    run: head -c 30000000 /dev/zero | tr '\\0' a\n",
    );
    let out = env.run(&["workflow", "run", "big"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let shown = out.stdout.len() + out.stderr.len();
    assert!(shown < 15_000_000, "{shown} bytes sent to the terminal");
    let said = format!("{}{}", out.stdout, out.stderr);
    assert!(
        said.contains("not shown here (at most 1000 lines and 1024 KiB a second are)"),
        "{}",
        &said[said.len().saturating_sub(2000)..]
    );
    let kept = env.run(&["logs", "big", "line", "--raw"]).stdout;
    assert_eq!(kept.len(), 30_000_000);
}
