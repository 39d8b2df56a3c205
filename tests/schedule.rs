//! `schedule:` (SPEC §11) on the real binary, with the clock injected (`schedule run --once
//! --at TIME`): each due minute fires once whatever the number of schedulers, the overlap
//! policies, no catch-up unless asked, the actor `schedule`, located errors, and hostile
//! names and secrets. Every injected time is in the past: a pass `--at` a time later than
//! the real clock is refused (it would record fires that silence the real schedule).

mod common;
#[path = "common/server.rs"]
mod server;

use std::time::{Duration, Instant};

use common::{Env, on_both_stores};
use serde_json::Value;

/// A workflow whose one step waits until the file `release-<who>` exists in the project
/// directory (so a test decides when a scheduled run ends), then writes `ran-<who>`.
fn waiting(name: &str, cron: &str, overlap: &str) -> String {
    format!(
        "name: {name}\ninputs:\n  who: {{type: string, required: true}}\nschedule:\n  cron: \"{cron}\"\n  overlap: {overlap}\n  inputs: {{who: {name}}}\nsteps:\n  - name: wait\n    run: 'while [ ! -f \"release-$CORTEX_INPUT_WHO\" ]; do sleep 0.05; done; echo \"ran for $CORTEX_INPUT_WHO\" >> \"ran-$CORTEX_INPUT_WHO\"'\n"
    )
}

/// Long before the tests' times, and no due minute: a pass at a due minute fires it as it
/// sees the schedule.
const EARLY: &str = "2026-12-01T00:00:30Z";

/// A pass long before the tests' times: it only sees the schedules (`schedule_seen`), since
/// a schedule fires only for times from when a scheduler first saw it on.
fn seen_early(env: &Env) {
    let happened = once(env, EARLY);
    assert!(whats(&happened).iter().all(|w| w == "seen"), "{happened}");
}

fn once(env: &Env, at: &str) -> Value {
    let out = env.run(&["--json", "schedule", "run", "--once", "--at", at]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    out.json()["happened"].clone()
}

/// `schedule run --once --at AT` where a due run cannot start: the pass exits 1.
fn once_failing(env: &Env, at: &str) -> Value {
    let out = env.run(&["--json", "schedule", "run", "--once", "--at", at]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    out.json()["happened"].clone()
}

/// `schedule run --once --catch-up --at AT`: what happened.
fn catch_up(env: &Env, at: &str) -> Value {
    let out = env.run(&[
        "--json",
        "schedule",
        "run",
        "--once",
        "--catch-up",
        "--at",
        at,
    ]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    out.json()["happened"].clone()
}

fn whats(happened: &Value) -> Vec<String> {
    happened
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["what"].as_str().unwrap().to_string())
        .collect()
}

/// The events of a schedule's stream.
fn stream(env: &Env, kind: &str, name: &str) -> Vec<cortex::event::Recorded> {
    env.open_store()
        .read_run(&format!("schedule:{kind}:{name}"))
        .unwrap()
}

fn release(env: &Env, who: &str) {
    std::fs::write(env.project().join(format!("release-{who}")), "").unwrap();
}

/// Wait until the run is no longer going.
fn wait_finished(env: &Env, run: &str) -> Value {
    let until = Instant::now() + Duration::from_secs(30);
    loop {
        let status = env.status(Some(run));
        if !matches!(status["status"].as_str(), Some("running")) {
            return status;
        }
        assert!(Instant::now() < until, "{status}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

on_both_stores!(
    a_due_time_starts_one_run_recorded_with_the_actor_schedule,
    overlap_skip_records_the_time_skipped_while_the_run_goes,
    overlap_queue_starts_the_waiting_time_when_the_run_ends_and_holds_one,
    two_schedulers_at_once_fire_a_due_time_once,
);

fn a_due_time_starts_one_run_recorded_with_the_actor_schedule(env: Env) {
    env.workflow("nightly", &waiting("nightly", "*/5 * * * *", "skip"));
    release(&env, "nightly");
    // The first pass sees it (a time before this is never run); not a matching minute.
    let seen = once(&env, "2026-12-03T09:58:00Z");
    assert_eq!(whats(&seen), ["seen"], "{seen}");
    assert_eq!(seen[0]["due"], "2026-12-03T09:58:00Z");
    assert!(
        seen[0]["detail"]
            .as_str()
            .unwrap()
            .contains("next: 2026-12-03T10:00:00Z"),
        "{seen}"
    );
    let happened = once(&env, "2026-12-03T10:00:20Z");
    assert_eq!(whats(&happened), ["started", "run_recorded"], "{happened}");
    assert_eq!(happened[0]["due"], "2026-12-03T10:00:00Z");
    let run = happened[1]["run_id"].as_str().unwrap().to_string();
    let status = wait_finished(&env, &run);
    assert_eq!(status["status"], "completed", "{status}");
    assert_eq!(status["actor"], "schedule");
    assert_eq!(
        status["scheduled"],
        "scheduled for 2026-12-03T10:00:00Z by `*/5 * * * *`"
    );
    assert_eq!(status["inputs"]["who"], "nightly");
    let human = env.run(&["workflow", "status", &run]);
    assert!(
        human
            .stdout
            .contains("Started by the schedule: scheduled for 2026-12-03T10:00:00Z"),
        "{}",
        human.stdout
    );
    // The same minute again, from this scheduler or another: already decided.
    assert_eq!(
        whats(&once(&env, "2026-12-03T10:00:59Z")),
        Vec::<String>::new()
    );
    let events = stream(&env, "workflow", "nightly");
    let types: Vec<&str> = events.iter().map(|e| e.event.type_name()).collect();
    // Seen at 09:58 (the first pass), fired at 10:00.
    assert_eq!(types, ["schedule_seen", "schedule_fired", "scheduled_run"]);
    // `schedule list` says when next and what the last time became.
    let list = env.run(&["--json", "schedule", "list", "--at", "2026-12-03T10:01:00Z"]);
    assert_eq!(list.code, 0, "{}", list.stderr);
    let row = &list.json()["schedules"][0];
    assert_eq!(row["name"], "nightly");
    assert_eq!(
        row["next"],
        serde_json::json!([
            "2026-12-03T10:05:00Z",
            "2026-12-03T10:10:00Z",
            "2026-12-03T10:15:00Z"
        ])
    );
    assert_eq!(row["last"]["run_id"], run.as_str());
    assert_eq!(row["runs_started"], 1);
    assert_eq!(env.run(&["--json", "log", "verify"]).json()["ok"], true);
}

fn overlap_skip_records_the_time_skipped_while_the_run_goes(env: Env) {
    env.workflow("busy", &waiting("busy", "*/5 * * * *", "skip"));
    seen_early(&env);
    let first = once(&env, "2026-12-03T10:00:00Z");
    let run = first[1]["run_id"].as_str().unwrap().to_string();
    let skipped = once(&env, "2026-12-03T10:05:00Z");
    assert_eq!(whats(&skipped), ["skipped"], "{skipped}");
    let reason = skipped[0]["detail"].as_str().unwrap();
    assert!(
        reason.contains(&run) && reason.contains("overlap: skip"),
        "{reason}"
    );
    release(&env, "busy");
    wait_finished(&env, &run);
    // Once it has ended, the next time starts again.
    let next = once(&env, "2026-12-03T10:10:00Z");
    assert_eq!(whats(&next), ["started", "run_recorded"], "{next}");
    wait_finished(&env, next[1]["run_id"].as_str().unwrap());
    let history = env.run(&["--json", "workflow", "history"]).json()["runs"].clone();
    assert_eq!(history.as_array().unwrap().len(), 2, "{history}");
}

fn overlap_queue_starts_the_waiting_time_when_the_run_ends_and_holds_one(env: Env) {
    env.workflow("queued", &waiting("queued", "*/5 * * * *", "queue"));
    seen_early(&env);
    let first = once(&env, "2026-12-03T10:00:00Z");
    let run = first[1]["run_id"].as_str().unwrap().to_string();
    let queued = once(&env, "2026-12-03T10:05:00Z");
    assert_eq!(whats(&queued), ["queued"], "{queued}");
    // A second time while one waits: skipped, the queue holds one.
    let skipped = once(&env, "2026-12-03T10:10:00Z");
    assert_eq!(whats(&skipped), ["skipped"], "{skipped}");
    assert!(
        skipped[0]["detail"]
            .as_str()
            .unwrap()
            .contains("2026-12-03T10:05:00Z already waits"),
        "{skipped}"
    );
    // Still going: nothing is released.
    assert_eq!(
        whats(&once(&env, "2026-12-03T10:11:00Z")),
        Vec::<String>::new()
    );
    release(&env, "queued");
    wait_finished(&env, &run);
    let released = once(&env, "2026-12-03T10:12:00Z");
    assert_eq!(whats(&released), ["released", "run_recorded"], "{released}");
    assert_eq!(released[0]["due"], "2026-12-03T10:05:00Z");
    let second = released[1]["run_id"].as_str().unwrap();
    let status = wait_finished(&env, second);
    assert_eq!(status["status"], "completed", "{status}");
    assert_eq!(
        status["scheduled"],
        "scheduled for 2026-12-03T10:05:00Z by `*/5 * * * *`"
    );
}

fn two_schedulers_at_once_fire_a_due_time_once(env: Env) {
    env.workflow("shared", &waiting("shared", "0 * * * *", "allow"));
    release(&env, "shared");
    seen_early(&env);
    let children: Vec<_> = (0..4)
        .map(|_| {
            env.command(&[
                "--json",
                "schedule",
                "run",
                "--once",
                "--at",
                "2026-12-03T11:00:00Z",
            ])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap()
        })
        .collect();
    let mut started = 0;
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success());
        let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
        started += whats(&doc["happened"])
            .iter()
            .filter(|w| *w == "started")
            .count();
    }
    assert_eq!(
        started, 1,
        "one scheduler decides, the others find it decided"
    );
    let fired = stream(&env, "workflow", "shared")
        .iter()
        .filter(|e| e.event.type_name() == "schedule_fired")
        .count();
    assert_eq!(fired, 1);
    // Its run is recorded by whoever settles it; exactly one run either way.
    let until = Instant::now() + Duration::from_secs(20);
    while env.run(&["--json", "workflow", "history"]).json()["runs"]
        .clone()
        .as_array()
        .unwrap()
        .is_empty()
    {
        assert!(Instant::now() < until);
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(300));
    let history = env.run(&["--json", "workflow", "history"]).json()["runs"].clone();
    assert_eq!(history.as_array().unwrap().len(), 1, "{history}");
}

#[test]
fn a_schedules_chain_is_exported_shown_and_verified_by_its_id() {
    let env = Env::new();
    env.workflow("nightly", &waiting("nightly", "*/5 * * * *", "skip"));
    seen_early(&env);
    let chain = "schedule:workflow:nightly";
    let export = env.run(&["log", "export", chain]);
    assert_eq!(export.code, 0, "{}", export.stderr);
    let first: Value = serde_json::from_str(export.stdout.lines().next().unwrap()).unwrap();
    assert_eq!(first["run_id"], chain);
    assert_eq!(first["type"], "schedule_seen");
    let file = env.file("schedule.jsonl");
    std::fs::write(&file, &export.stdout).unwrap();
    let verified = env.run(&["--json", "log", "verify", "--file", file.to_str().unwrap()]);
    assert_eq!(verified.code, 0, "{}", verified.stderr);
    assert_eq!(verified.json()["ok"], true);
    let show = env.run(&["log", "show", chain]);
    assert_eq!(show.code, 0, "{}", show.stderr);
    assert!(show.stdout.contains("schedule_seen"), "{}", show.stdout);
    assert_eq!(
        env.run(&["--json", "log", "verify", chain]).json()["ok"],
        true
    );
    // An unknown chain is bad input that names the chains there are.
    let unknown = env.run(&["log", "export", "schedule:workflow:daily"]);
    assert_eq!(unknown.code, 2);
    assert!(unknown.stderr.contains(chain), "{}", unknown.stderr);
}

#[test]
fn missed_times_are_not_run_unless_catch_up_is_asked_and_then_once() {
    let env = Env::new();
    env.workflow("hourly", &waiting("hourly", "*/5 * * * *", "skip"));
    release(&env, "hourly");
    seen_early(&env);
    let first = once(&env, "2026-12-03T10:00:00Z");
    wait_finished(&env, first[1]["run_id"].as_str().unwrap());
    // An hour later, between two times: nothing is due now, and what was missed is not run.
    assert_eq!(
        whats(&once(&env, "2026-12-03T11:03:00Z")),
        Vec::<String>::new()
    );
    // Asked: the latest missed time runs once, saying how many it stands for.
    let happened = catch_up(&env, "2026-12-03T11:03:00Z");
    assert_eq!(whats(&happened), ["started", "run_recorded"], "{happened}");
    assert_eq!(happened[0]["due"], "2026-12-03T11:00:00Z");
    let fired = stream(&env, "workflow", "hourly");
    let cortex::event::Event::ScheduleFired { missed, .. } = &fired[3].event else {
        panic!("{:?}", fired[3].event)
    };
    assert_eq!(*missed, 11, "10:05 to 10:55 were missed");
    wait_finished(&env, happened[1]["run_id"].as_str().unwrap());
}

#[test]
fn overlap_allow_starts_beside_the_run_still_going() {
    let env = Env::new();
    env.workflow("both", &waiting("both", "*/5 * * * *", "allow"));
    seen_early(&env);
    let first = once(&env, "2026-12-03T10:00:00Z");
    let second = once(&env, "2026-12-03T10:05:00Z");
    assert_eq!(whats(&second), ["started", "run_recorded"], "{second}");
    release(&env, "both");
    for run in [&first[1]["run_id"], &second[1]["run_id"]] {
        assert_eq!(
            wait_finished(&env, run.as_str().unwrap())["status"],
            "completed"
        );
    }
    let ran = std::fs::read_to_string(env.project().join("ran-both")).unwrap();
    assert_eq!(ran.lines().count(), 2, "{ran}");
}

/// Seen by a review: a cron expression cron does not take quoted the parser's upper-cased
/// copy of it (`illegal character '$' in part '$(ID)'`, `'A'` for `a`), not what was
/// written; and a bad value among schedule inputs written as a flow mapping (`{n: notanumber,
/// extra: 1}`) had its caret run on over the next entry. The field and character are the
/// user's own, the caret covers the value alone, and an unknown input's is under its name.
#[test]
fn a_bad_schedule_quotes_the_text_as_written_and_its_caret_covers_the_value_alone() {
    let env = Env::new();
    env.workflow(
        "odd",
        "name: odd\ninputs:\n  n: {type: integer, default: 1}\nschedule: {cron: \"$(id) * * * *\", inputs: {n: notanumber, extra: 1}}\nsteps:\n  - {name: a, run: 'true'}\n",
    );
    let out = env.run(&["workflow", "validate", "odd"]);
    assert_eq!(out.code, 2, "{}", out.text());
    insta::assert_snapshot!(
        "bad_schedule_as_written_and_its_value_alone",
        out.snapshot(&env)
    );
    env.workflow(
        "odd",
        "name: odd\nschedule: \"a b c d e\"\nsteps:\n  - {name: a, run: 'true'}\n",
    );
    let json = env.run(&["--json", "workflow", "validate", "odd"]).json();
    let message = json["errors"][0]["message"].as_str().unwrap();
    assert!(
        message.starts_with("the minute field `a` holds `a`") && !message.contains("'A'"),
        "{message}"
    );
}

#[test]
fn a_bad_schedule_is_a_located_error_and_never_fires() {
    let env = Env::new();
    env.workflow(
        "broken",
        "name: broken\nschedule: \"61 * * * *\"\nsteps:\n  - {name: a, run: 'touch fired'}\n",
    );
    let out = env.run(&["workflow", "validate", "broken"]);
    assert_eq!(out.code, 2);
    insta::assert_snapshot!(out.snapshot(&env));
    env.workflow(
        "needs",
        "name: needs\ninputs:\n  version: {type: string, required: true}\nschedule:\n  cron: \"* * * * *\"\n  overlap: sometimes\nsteps:\n  - {name: a, run: 'true'}\n",
    );
    let json = env.run(&["--json", "workflow", "validate", "needs"]).json();
    // The bad `overlap:` is set aside, so the rest is checked too: the required input that a
    // scheduled run has nobody to ask for (line 5) is said in the same pass.
    assert_eq!(json["errors"][0]["line"], 5, "{json}");
    assert_eq!(json["errors"][1]["line"], 6, "{json}");
    assert!(
        json["errors"][1]["message"]
            .as_str()
            .unwrap()
            .contains("unknown variant `sometimes`"),
        "{json}"
    );
    env.workflow(
        "needs",
        "name: needs\ninputs:\n  version: {type: string, required: true}\nschedule: \"* * * * *\"\nsteps:\n  - {name: a, run: 'true'}\n",
    );
    let json = env.run(&["--json", "workflow", "validate", "needs"]).json();
    assert!(
        json["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("input `version` is required, and a scheduled run has nobody to ask for it"),
        "{json}"
    );
    // What croner says only vaguely ("Range out of bounds", an illegal character in a part
    // the user never wrote) is said of the field: the regression of
    // cron_errors_said_range_out_of_bounds_for_a_backwards_range.
    for (cron, says) in [
        (
            "0 0 * * FRI-MON",
            "`FRI-MON`, which runs backwards: write `MON-FRI`",
        ),
        (
            "0 0 * * SAT-SUN",
            "write `SAT-7` (Sunday is 7 as well as 0)",
        ),
        ("0 0 1 JANX *", "holds `JANX`, which is not a month"),
        ("0,,30 * * * *", "an empty item in its list"),
    ] {
        env.workflow(
            "odd",
            &format!("name: odd\nschedule: \"{cron}\"\nsteps:\n  - {{name: a, run: 'true'}}\n"),
        );
        let json = env.run(&["--json", "workflow", "validate", "odd"]);
        assert_eq!(json.code, 2, "{cron}: {}", json.stdout);
        let json = json.json();
        assert_eq!(json["errors"][0]["line"], 2, "{json}");
        let message = json["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains(says), "{cron}: {message}");
    }
    std::fs::remove_file(env.home().join("workflows/odd.yaml")).unwrap();
    // Listed as never firing, exit 2; a pass fires nothing, says so once, and exits 2 as the
    // list does (a cron job running `--once` learns its schedule stopped firing).
    let list = env.run(&["--json", "schedule", "list"]);
    assert_eq!(list.code, 2);
    assert_eq!(list.json()["invalid"].as_array().unwrap().len(), 2);
    let pass = env.run(&[
        "--json",
        "schedule",
        "run",
        "--once",
        "--at",
        "2026-12-03T10:00:00Z",
    ]);
    assert_eq!(pass.code, 2, "{}{}", pass.stdout, pass.stderr);
    let happened = pass.json()["happened"].clone();
    assert_eq!(whats(&happened), ["invalid", "invalid"], "{happened}");
    let human = env.run(&["schedule", "run", "--once", "--at", "2026-12-03T10:00:00Z"]);
    assert_eq!(human.code, 2, "{}{}", human.stdout, human.stderr);
    assert!(
        human.stderr.contains(
            "2 schedules' definitions do not validate (see above; `cortex workflow validate broken`, `cortex workflow validate needs` show where)"
        ),
        "{}",
        human.stderr
    );
    assert!(!env.project().join("fired").exists());
}

#[test]
fn a_secret_input_comes_from_the_schedulers_environment_and_never_from_the_definition() {
    let env = Env::new();
    let secret = "sk_live_schedule0123456789";
    env.workflow(
        "deploy",
        "name: deploy\ninputs:\n  api_token: {type: string, required: true}\nschedule:\n  cron: \"0 3 * * *\"\n  inputs: {api_token: written-here}\nsteps:\n  - {name: a, run: 'echo token=$CORTEX_INPUT_API_TOKEN'}\n",
    );
    let json = env
        .run(&["--json", "workflow", "validate", "deploy"])
        .json();
    let problem = &json["errors"][0];
    assert!(
        problem["message"].as_str().unwrap().contains("is secret")
            && problem["hint"]
                .as_str()
                .unwrap()
                .contains("CORTEX_INPUT_API_TOKEN"),
        "{json}"
    );
    env.workflow(
        "deploy",
        "name: deploy\ninputs:\n  api_token: {type: string, required: true}\nschedule: \"0 3 * * *\"\nsteps:\n  - {name: a, run: 'echo token=$CORTEX_INPUT_API_TOKEN'}\n",
    );
    seen_early(&env);
    let out = env
        .command(&[
            "--json",
            "schedule",
            "run",
            "--once",
            "--at",
            "2026-12-03T03:00:00Z",
        ])
        .env("CORTEX_INPUT_API_TOKEN", secret)
        .output()
        .unwrap();
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        whats(&doc["happened"]),
        ["started", "run_recorded"],
        "{doc}"
    );
    let run = doc["happened"][1]["run_id"].as_str().unwrap();
    let status = wait_finished(&env, run);
    assert_eq!(status["status"], "completed", "{status}");
    assert_eq!(status["inputs"]["api_token"], "***");
    assert!(env.log_holding(secret).is_empty());
}

/// A required secret input the scheduler's environment does not give: the pass said `pass
/// --input api_token=VALUE` (no help to a scheduler) and exited 0, seen only in `schedule
/// list`'s `last:`. It names the variable, exits 1, and `schedule list` warns beforehand.
#[test]
fn a_scheduled_run_missing_its_secret_input_names_the_variable_and_fails_the_pass() {
    let env = Env::new();
    env.workflow(
        "ssec",
        "name: ssec\ninputs:\n  api_token: {type: string, required: true}\nschedule: \"0 3 * * *\"\nsteps:\n  - {name: a, run: 'true'}\n",
    );
    let list = env.run(&["schedule", "list", "--at", "2026-12-03T02:00:00Z"]);
    assert!(
        list.stdout
            .contains("warning: input `api_token` is secret and required")
            && list
                .stdout
                .contains("CORTEX_INPUT_API_TOKEN in the scheduler's environment"),
        "{}",
        list.stdout
    );
    seen_early(&env);
    let happened = once_failing(&env, "2026-12-03T03:00:00Z");
    assert_eq!(whats(&happened), ["started", "run_failed"], "{happened}");
    let detail = happened[1]["detail"].as_str().unwrap();
    assert!(
        detail.contains("set CORTEX_INPUT_API_TOKEN in the environment of the scheduler"),
        "{detail}"
    );
    assert!(!detail.contains("--input"), "{detail}");
    let human = env.run(&["schedule", "run", "--once", "--at", "2026-12-04T03:00:00Z"]);
    assert_eq!(human.code, 1, "{}{}", human.stdout, human.stderr);
    assert!(
        human.stderr.contains("a due run could not start"),
        "{}",
        human.stderr
    );
}

#[test]
fn a_scheduled_run_whose_driver_refuses_to_start_is_recorded_with_its_reason() {
    let env = Env::new();
    env.workflow(
        "paths",
        "name: paths\ninputs:\n  data: {type: path, exists: true, default: ./missing-dir}\nschedule: \"0 * * * *\"\nsteps:\n  - {name: a, run: 'true'}\n",
    );
    seen_early(&env);
    let happened = once_failing(&env, "2026-12-03T10:00:00Z");
    assert_eq!(whats(&happened), ["started", "run_failed"], "{happened}");
    let detail = happened[1]["detail"].as_str().unwrap();
    assert!(detail.contains("missing-dir"), "{detail}");
    let list = env.run(&["schedule", "list", "--at", "2026-12-03T10:01:00Z"]);
    assert!(list.stdout.contains("no run started"), "{}", list.stdout);
}

/// The driver's output log of a scheduled time has a predictable name
/// (`schedule/workflow-<hash of the name>-<due>.log`): a FIFO planted there blocked the
/// scheduler in `open` for good (SIGTERM did not end it), and a link there, or a linked
/// `schedule/` folder, had the driver's output appended to whatever it pointed at.
#[test]
fn a_planted_driver_log_neither_blocks_the_scheduler_nor_is_written_through() {
    let env = Env::new();
    env.workflow(
        "planted",
        "name: planted\nschedule: \"0 * * * *\"\nsteps:\n  - {name: a, run: 'echo from-the-step'}\n",
    );
    let folder = env.home().join("schedule");
    std::fs::create_dir_all(&folder).unwrap();
    let hash = &blake3::hash(b"planted").to_hex()[..12];
    let log = |due: &str| folder.join(format!("workflow-{hash}-{due}.log"));
    nix::unistd::mkfifo(
        &log("2026-12-03T10-00-00Z"),
        nix::sys::stat::Mode::from_bits_truncate(0o600),
    )
    .unwrap();
    let victim = env.project().join("victim.txt");
    std::fs::write(&victim, "keep\n").unwrap();
    std::os::unix::fs::symlink(&victim, log("2026-12-03T11-00-00Z")).unwrap();
    seen_early(&env);
    for (at, what) in [
        ("2026-12-03T10:00:00Z", "not a regular file"),
        ("2026-12-03T11:00:00Z", "a symbolic link"),
    ] {
        let happened = once_failing(&env, at);
        assert_eq!(whats(&happened), ["started", "run_failed"], "{happened}");
        let detail = happened[1]["detail"].as_str().unwrap();
        assert!(detail.contains(what), "{detail}");
    }
    // A linked folder: refused, nothing made through it.
    std::fs::remove_dir_all(&folder).unwrap();
    let elsewhere = env.project().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, &folder).unwrap();
    let happened = once_failing(&env, "2026-12-03T12:00:00Z");
    assert_eq!(whats(&happened), ["started", "run_failed"], "{happened}");
    let detail = happened[1]["detail"].as_str().unwrap();
    assert!(detail.contains("symbolic link"), "{detail}");
    assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0);
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep\n");
    // Once the plants are gone, the next time runs as usual.
    std::fs::remove_file(&folder).unwrap();
    let happened = once(&env, "2026-12-03T13:00:00Z");
    assert_eq!(whats(&happened), ["started", "run_recorded"], "{happened}");
    wait_finished(&env, happened[1]["run_id"].as_str().unwrap());
}

/// The log given with `--db` reached a background driver as `--db URL` among its arguments,
/// which anyone on the machine reads (`ps`, `/proc/PID/cmdline`), and a PostgreSQL URL may
/// hold its password (the TUI passed even a log found through CORTEX_DB or the
/// configuration so). It is given in the driver's environment, readable by its owner only.
#[test]
fn a_scheduled_driver_is_given_the_log_in_its_environment_not_its_arguments() {
    let env = Env::new();
    env.workflow(
        "seen",
        "name: seen\nschedule: \"0 * * * *\"\nsteps:\n  - {name: a, run: \"tr '\\\\0' ' ' < /proc/$PPID/cmdline > argv; tr '\\\\0' '\\\\n' < /proc/$PPID/environ | grep '^CORTEX_DB=' > dbenv\"}\n",
    );
    let other = env.project().join("elsewhere.db");
    let spec = format!("sqlite:{}", other.display());
    let seen = env.run(&["--db", &spec, "schedule", "run", "--once", "--at", EARLY]);
    assert_eq!(seen.code, 0, "{}", seen.stderr);
    let out = env.run(&[
        "--db",
        &spec,
        "--json",
        "schedule",
        "run",
        "--once",
        "--at",
        "2026-12-03T10:00:00Z",
    ]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let happened = out.json()["happened"].clone();
    assert_eq!(whats(&happened), ["started", "run_recorded"], "{happened}");
    let run = happened[1]["run_id"].as_str().unwrap().to_string();
    let until = Instant::now() + Duration::from_secs(30);
    // The shell creates `dbenv` before `grep` writes into it: wait for its line.
    while !std::fs::read_to_string(env.project().join("dbenv")).is_ok_and(|s| s.ends_with('\n')) {
        assert!(Instant::now() < until, "the step never ran");
        std::thread::sleep(Duration::from_millis(50));
    }
    let argv = std::fs::read_to_string(env.project().join("argv")).unwrap();
    assert!(
        !argv.contains("--db") && !argv.contains("elsewhere.db"),
        "{argv}"
    );
    assert_eq!(
        std::fs::read_to_string(env.project().join("dbenv"))
            .unwrap()
            .trim(),
        format!("CORTEX_DB={spec}")
    );
    // The run is in that log, not the home's; it ends there.
    loop {
        let status = env.run(&["--db", &spec, "--json", "workflow", "status", &run]);
        if status.json()["status"] == "completed" {
            break;
        }
        assert!(Instant::now() < until, "{}{}", status.stdout, status.stderr);
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(!env.db().exists(), "the home's own log was made");
    // What its driver printed, in its output file, suggests commands on that log: pasted in
    // a shell without CORTEX_DB, `cortex workflow resume ID` opened the home's.
    let printed = scheduled_output(&env);
    let suggested: Vec<&str> = printed
        .lines()
        .filter_map(|l| l.find("cortex ").map(|at| &l[at..]))
        .collect();
    assert!(!suggested.is_empty(), "{printed}");
    for line in suggested {
        assert!(line.contains(&format!("--db {spec}")), "{printed}");
    }
}

/// Every output file of scheduled drivers in the home, one after the other.
fn scheduled_output(env: &Env) -> String {
    let mut text = String::new();
    for entry in std::fs::read_dir(env.home().join("schedule")).unwrap() {
        text.push_str(&std::fs::read_to_string(entry.unwrap().path()).unwrap());
    }
    text
}

/// A scheduled definition that does not validate fails the pass (exit 2), and the error names
/// the command that shows where, for that definition: it said `cortex validate`, which is no
/// command.
#[test]
fn an_invalid_schedule_names_the_validate_command_of_its_definition() {
    let env = Env::new();
    env.workflow(
        "badcron",
        "name: badcron\ninputs: {who: {type: string, required: true}}\nschedule: {cron: \"0 * * * *\"}\nsteps: [{name: s, run: echo hi}]\n",
    );
    let out = env.run(&["schedule", "run", "--once", "--at", "2026-12-04T09:00:00Z"]);
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains(
            "error: a schedule's definition does not validate (see above; `cortex workflow validate badcron` shows where)"
        ),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("`cortex validate`"), "{}", out.stderr);
    // That command shows where.
    let validate = env.run(&["workflow", "validate", "badcron"]);
    assert_eq!(validate.code, 2);
    assert!(
        (validate.stdout.clone() + &validate.stderr).contains("who"),
        "{}{}",
        validate.stdout,
        validate.stderr
    );
}

/// A secret input's value that did not pass its input (`pattern:`) was quoted in the error
/// its driver printed, and the scheduler recorded that error in the schedule's stream — an
/// append-only log — as it was, the value in plain text; `workflow run` printed it too (to a
/// terminal, a CI log). What is said of inputs is scrubbed of the secrets the process knows.
#[test]
fn a_secret_inputs_refused_value_is_recorded_and_said_without_it() {
    let env = Env::new();
    let secret = "sk-rotated-format-0123456789";
    env.workflow(
        "rotated",
        "name: rotated\ninputs:\n  api_token: {type: string, required: true, pattern: '^sk_live_.*'}\nschedule: \"0 3 * * *\"\nsteps:\n  - {name: a, run: 'true'}\n",
    );
    seen_early(&env);
    let out = env
        .command(&[
            "--json",
            "schedule",
            "run",
            "--once",
            "--at",
            "2026-12-03T03:00:00Z",
        ])
        .env("CORTEX_INPUT_API_TOKEN", secret)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(whats(&doc["happened"]), ["started", "run_failed"], "{doc}");
    let detail = doc["happened"][1]["detail"].as_str().unwrap();
    assert!(detail.contains("does not match the pattern"), "{detail}");
    assert!(!detail.contains(secret), "{detail}");
    assert!(
        env.log_holding(secret).is_empty(),
        "the schedule's stream holds it"
    );
    let list = env.run(&["schedule", "list", "--at", "2026-12-03T03:01:00Z"]);
    assert!(!list.stdout.contains(secret), "{}", list.stdout);
    // And where it was typed: said without it too.
    let out = env
        .command(&["workflow", "run", "rotated"])
        .env("CORTEX_INPUT_API_TOKEN", secret)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("`***` does not match the pattern"),
        "{stderr}"
    );
}

#[test]
fn shell_metacharacters_in_a_scheduled_name_reach_no_shell() {
    let env = Env::new();
    let name = "nightly; touch pwned $(touch pwned2) `touch pwned3`";
    env.workflow(
        "hostile",
        &format!(
            "name: \"{name}\"\nschedule: \"0 * * * *\"\nsteps:\n  - {{name: a, run: 'echo ok'}}\n"
        ),
    );
    seen_early(&env);
    let happened = once(&env, "2026-12-03T10:00:00Z");
    assert_eq!(whats(&happened), ["started", "run_recorded"], "{happened}");
    assert_eq!(happened[0]["name"], name);
    wait_finished(&env, happened[1]["run_id"].as_str().unwrap());
    for file in ["pwned", "pwned2", "pwned3"] {
        assert!(!env.project().join(file).exists(), "{file}");
        assert!(!env.home().join(file).exists(), "{file}");
    }
}

#[test]
fn schedule_run_without_schedules_says_nothing_was_due() {
    let env = Env::new();
    let out = env.run(&["schedule", "run", "--once"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout, "nothing was due\n");
    let list = env.run(&["schedule", "list"]);
    assert!(
        list.stdout.contains("none: add `schedule:"),
        "{}",
        list.stdout
    );
    let bad = env.run(&["schedule", "run", "--once", "--at", "yesterday"]);
    assert_eq!(bad.code, 2);
    assert!(
        bad.stderr.contains("--at `yesterday` is not a time"),
        "{}",
        bad.stderr
    );
    let needs_once = env.run(&["schedule", "run", "--at", "2026-12-03T10:00:00Z"]);
    assert_eq!(needs_once.code, 2, "{}", needs_once.stderr);
}

/// The scheduler inside `cortex serve` fires as `schedule run` does (real time: an
/// every-minute schedule, so this waits for the next minute), and `/api/v1/schedules` is
/// `schedule list`.
#[test]
fn cortex_serve_runs_a_scheduler_that_fires_each_minute_once() {
    let env = Env::new();
    env.workflow(
        "minutely",
        "name: minutely\nschedule: \"* * * * *\"\nsteps:\n  - {name: a, run: 'echo tick'}\n",
    );
    let server = server::Server::start(&env);
    let list = server.get("/api/v1/schedules").json();
    assert_eq!(list["schedules"][0]["name"], "minutely", "{list}");
    assert_eq!(list["schedules"][0]["cron"], "* * * * *");
    let run = server::eventually(75, "a run started by the schedule", || {
        let history = env.run(&["--json", "workflow", "history"]).json()["runs"].clone();
        history
            .as_array()
            .and_then(|runs| runs.first())
            .and_then(|r| r["run_id"].as_str().map(str::to_string))
    });
    let status = wait_finished(&env, &run);
    assert_eq!(status["actor"], "schedule", "{status}");
    assert_eq!(status["status"], "completed", "{status}");
    // The scheduler links the run to its time on its next pass.
    server::eventually(10, "the run linked to its due time", || {
        stream(&env, "workflow", "minutely")
            .iter()
            .find_map(|e| match &e.event {
                cortex::event::Event::ScheduledRun { run_id, .. } => run_id.clone(),
                _ => None,
            })
            .filter(|id| *id == run)
    });
    drop(server);
}

/// `overlap: queue` is first in, first out: the first pass after the run ended lets the queued
/// time start before a newer time is decided, and the newer one, finding it starting, waits
/// in the queue behind it.
#[test]
fn overlap_queue_releases_the_queued_time_before_a_newer_one_starts() {
    let env = Env::new();
    env.workflow("fifo", &waiting("fifo", "* * * * *", "queue"));
    seen_early(&env);
    let first = once(&env, "2026-12-04T10:00:00Z");
    assert_eq!(whats(&first), ["started", "run_recorded"], "{first}");
    let run = first[1]["run_id"].as_str().unwrap().to_string();
    let queued = once(&env, "2026-12-04T10:01:00Z");
    assert_eq!(whats(&queued), ["queued"], "{queued}");
    release(&env, "fifo");
    wait_finished(&env, &run);
    let next = once(&env, "2026-12-04T10:02:30Z");
    assert_eq!(
        whats(&next),
        ["released", "queued", "run_recorded"],
        "{next}"
    );
    assert_eq!(next[0]["due"], "2026-12-04T10:01:00Z", "{next}");
    assert_eq!(next[1]["due"], "2026-12-04T10:02:00Z", "{next}");
    assert_eq!(next[2]["due"], "2026-12-04T10:01:00Z", "{next}");
}

/// A time already fired (early, by `schedule run --once --at`) never fires again, so `schedule
/// list` does not show it as next.
#[test]
fn schedule_list_never_shows_a_time_already_fired_as_next() {
    let env = Env::new();
    env.workflow(
        "nightly",
        "name: nightly\nschedule: \"0 3 * * *\"\nsteps:\n  - {name: a, run: 'true'}\n",
    );
    seen_early(&env);
    let fired = once(&env, "2026-12-04T03:00:00Z");
    assert_eq!(whats(&fired), ["started", "run_recorded"], "{fired}");
    let list = env.run(&["--json", "schedule", "list", "--at", "2026-12-03T12:00:00Z"]);
    assert_eq!(list.code, 0, "{}", list.stderr);
    let doc = list.json();
    assert_eq!(
        doc["schedules"][0]["next"],
        serde_json::json!([
            "2026-12-05T03:00:00Z",
            "2026-12-06T03:00:00Z",
            "2026-12-07T03:00:00Z"
        ]),
        "{doc}"
    );
    assert_eq!(doc["schedules"][0]["last"]["due"], "2026-12-04T03:00:00Z");
}

/// The scheduler beside `cortex worker` says each thing it does on a line of its own on
/// stderr (it fires the minute it starts in at once, then records the run on a later pass).
#[test]
fn the_scheduler_beside_a_worker_writes_each_line_on_its_own() {
    let env = Env::new();
    env.workflow(
        "every",
        "name: every\nschedule: \"* * * * *\"\nsteps:\n  - {name: a, run: 'echo tick'}\n",
    );
    let err_path = env.project().join("worker.err");
    let mut worker = env
        .command(&["worker", "--name", "w1"])
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .unwrap();
    let until = Instant::now() + Duration::from_secs(90);
    let text = loop {
        let text = std::fs::read_to_string(&err_path).unwrap_or_default();
        if text.matches("schedule: ").count() >= 2 && text.ends_with('\n') {
            break text;
        }
        if Instant::now() >= until {
            let _ = worker.kill();
            panic!("the worker's scheduler said less than two things: {text:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    worker.kill().unwrap();
    worker.wait().unwrap();
    let said: Vec<&str> = text.lines().filter(|l| l.contains("schedule: ")).collect();
    assert!(said.len() >= 2, "{text:?}");
    for line in &said {
        assert!(
            line.starts_with("schedule: ") && line.matches("schedule: ").count() == 1,
            "{text:?}"
        );
    }
}

/// SIGKILL the driver of `run` (as its `run_started` names it), and wait until the run is
/// shown interrupted.
fn kill_driver(env: &Env, run: &str) {
    let pid = env.events(run)[0]["body"]["driver"]["pid"]
        .as_u64()
        .unwrap();
    let killed = std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let until = Instant::now() + Duration::from_secs(30);
    while env.status(Some(run))["status"] != "interrupted" {
        assert!(Instant::now() < until, "{}", env.status(Some(run)));
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `overlap: skip` while a scheduled run's driver is dead but its command still runs. Before,
/// the run was only "interrupted" to the scheduler, which started the next time's run beside
/// the orphaned command (two copies of the step at once). Now a run whose dead driver's
/// commands still run is still going; once they are ended (an abort ends them), the next time
/// starts.
#[test]
fn overlap_skip_counts_a_dead_drivers_commands_still_running_as_going() {
    let env = Env::new();
    env.workflow("orphan", &waiting("orphan", "*/5 * * * *", "skip"));
    seen_early(&env);
    let first = once(&env, "2026-12-03T10:00:00Z");
    let run = first[1]["run_id"].as_str().unwrap().to_string();
    let notes = env.inflight_notes(&run);
    let until = Instant::now() + Duration::from_secs(30);
    while !std::fs::read_to_string(&notes).is_ok_and(|t| {
        t.lines()
            .any(|l| l.split(' ').nth(1).is_some_and(|p| p != "-"))
    }) {
        assert!(Instant::now() < until, "the step's group was never noted");
        std::thread::sleep(Duration::from_millis(20));
    }
    kill_driver(&env, &run);
    let skipped = once(&env, "2026-12-03T10:05:00Z");
    assert_eq!(whats(&skipped), ["skipped"], "{skipped}");
    let reason = skipped[0]["detail"].as_str().unwrap();
    assert!(
        reason.contains(&run) && reason.contains("its commands still run"),
        "{reason}"
    );
    assert_eq!(env.run(&["workflow", "abort", &run]).code, 1);
    let next = once(&env, "2026-12-03T10:10:00Z");
    assert_eq!(whats(&next), ["started", "run_recorded"], "{next}");
    release(&env, "orphan");
    wait_finished(&env, next[1]["run_id"].as_str().unwrap());
    assert_eq!(
        std::fs::read_to_string(env.project().join("ran-orphan")).unwrap(),
        "ran for orphan\n",
        "the orphan was ended by the abort; only the new run's step finished"
    );
}

/// Seen by a review: `schedule run --once --at 10:15:00` that first saw `* * * * *` said "only
/// its times from now on fire (next: 10:16)", leaving out the minute the pass was at the start
/// of, which cron or Dagu fire. A time at the sighting is from now on: it fires on that pass
/// (and `--catch-up` still fires nothing before it: a schedule seen 5 s into a minute does not
/// fire that minute).
#[test]
fn a_pass_at_a_due_minute_fires_it_as_it_first_sees_the_schedule() {
    let env = Env::new();
    env.workflow(
        "minutely",
        "name: minutely\nschedule: \"* * * * *\"\nsteps:\n  - {name: a, run: 'echo tick'}\n",
    );
    let out = env.run(&[
        "--json",
        "schedule",
        "run",
        "--once",
        "--at",
        "2026-12-06T10:15:00Z",
    ]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let happened = out.json()["happened"].clone();
    assert_eq!(
        whats(&happened),
        ["seen", "started", "run_recorded"],
        "{happened}"
    );
    assert!(
        happened[0]["detail"]
            .as_str()
            .unwrap()
            .contains("only its times from now on fire (next: 2026-12-06T10:15:00Z)"),
        "{happened}"
    );
    assert_eq!(happened[1]["due"], "2026-12-06T10:15:00Z");
    let run = happened[2]["run_id"].as_str().unwrap().to_string();
    assert_eq!(wait_finished(&env, &run)["status"], "completed");
    let types: Vec<&str> = stream(&env, "workflow", "minutely")
        .iter()
        .map(|e| e.event.type_name())
        .collect();
    assert_eq!(types, ["schedule_seen", "schedule_fired", "scheduled_run"]);
    // Seen 5 s into its minute: that minute is before the sighting, even with --catch-up.
    env.workflow(
        "later",
        "name: later\nschedule: \"* * * * *\"\nsteps:\n  - {name: a, run: 'echo tick'}\n",
    );
    let caught = catch_up(&env, "2026-12-06T10:16:05Z");
    let later: Vec<&Value> = caught
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["name"] == "later")
        .collect();
    assert_eq!(later.len(), 1, "{caught}");
    assert_eq!(later[0]["what"], "seen", "{caught}");
    assert!(
        later[0]["detail"]
            .as_str()
            .unwrap()
            .contains("(next: 2026-12-06T10:17:00Z)"),
        "{caught}"
    );
    // The human lines of a pass that sees and fires at once.
    env.workflow(
        "hourly",
        "name: hourly\nschedule: \"0 * * * *\"\nsteps:\n  - {name: a, run: 'echo tick'}\n",
    );
    std::fs::remove_file(env.home().join("workflows/minutely.yaml")).unwrap();
    std::fs::remove_file(env.home().join("workflows/later.yaml")).unwrap();
    let human = env.run(&["schedule", "run", "--once", "--at", "2026-12-06T11:00:00Z"]);
    insta::assert_snapshot!(human.snapshot(&env));
}

/// SPEC §11, no catch-up unless asked: a schedule added (or whose cron expression changed)
/// after a due time it had not existed for never fires that time — not on the pass that first
/// sees it, not later, not with `--catch-up`; it fires from its next time on. Before, a
/// `5 18 * * *` schedule added at 18:22 started a run "scheduled for 18:05" at once, and a
/// daily schedule for the current minute written 5 s into it fired immediately.
#[test]
fn a_schedule_added_or_changed_after_a_due_time_never_fires_that_time() {
    let env = Env::new();
    let daily = |cron: &str| {
        format!("name: daily\nschedule: \"{cron}\"\nsteps:\n  - {{name: a, run: 'true'}}\n")
    };
    // Written 5 s into its own minute, and 17 minutes after its time.
    env.workflow("daily", &daily("22 18 * * *"));
    env.workflow(
        "late",
        &daily("5 18 * * *").replace("name: daily", "name: late"),
    );
    assert_eq!(whats(&once(&env, "2026-11-28T18:22:05Z")), ["seen", "seen"]);
    assert_eq!(
        whats(&once(&env, "2026-11-28T18:23:00Z")),
        Vec::<String>::new()
    );
    let caught = catch_up(&env, "2026-11-28T18:24:00Z");
    assert_eq!(whats(&caught), Vec::<String>::new());
    let types: Vec<&str> = stream(&env, "workflow", "late")
        .iter()
        .map(|e| e.event.type_name())
        .collect();
    assert_eq!(types, ["schedule_seen"]);
    // `schedule list` says so: the next time is tomorrow's.
    let list = env.run(&["--json", "schedule", "list", "--at", "2026-11-28T18:00:00Z"]);
    let row = list.json()["schedules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "late")
        .cloned()
        .unwrap();
    assert_eq!(row["next"][0], "2026-11-29T18:05:00Z", "{row}");
    // Their next times fire.
    let next = once(&env, "2026-11-29T18:05:10Z");
    assert_eq!(whats(&next), ["started", "run_recorded"], "{next}");
    assert_eq!(next[0]["name"], "late");
    assert_eq!(next[0]["due"], "2026-11-29T18:05:00Z");
    // Changed at 18:30 to a time already past today: seen anew, not fired until tomorrow.
    env.workflow(
        "late",
        &daily("10 18 * * *").replace("name: daily", "name: late"),
    );
    let happened = catch_up(&env, "2026-11-29T18:30:00Z");
    let late: Vec<&Value> = happened
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["name"] == "late")
        .collect();
    assert_eq!(late.len(), 1, "{happened}");
    assert_eq!(late[0]["what"], "seen");
    assert!(
        late[0]["detail"]
            .as_str()
            .unwrap()
            .contains("changed from `5 18 * * *` to `10 18 * * *`"),
        "{happened}"
    );
    let events = stream(&env, "workflow", "late");
    assert!(
        matches!(
            &events.last().unwrap().event,
            cortex::event::Event::ScheduleSeen { cron, at, .. }
                if cron == "10 18 * * *" && at == "2026-11-29T18:30:00Z"
        ),
        "{:?}",
        events.last()
    );
    let next = once(&env, "2026-11-30T18:10:00Z");
    assert!(
        next.as_array().unwrap().iter().any(|h| h["name"] == "late"
            && h["what"] == "started"
            && h["due"] == "2026-11-30T18:10:00Z"),
        "{next}"
    );
}

/// A pass `--at` a future time would record its sighting and fire there, and the stream then
/// refuses every real time before it (an every-minute schedule silent for weeks): it is
/// refused, exit 2, recording nothing, and the real scheduler still sees the schedule.
#[test]
fn a_pass_at_a_future_time_is_refused_and_records_nothing() {
    let env = Env::new();
    env.workflow(
        "minutely",
        "name: minutely\nschedule: \"* * * * *\"\nsteps:\n  - {name: a, run: 'echo tick'}\n",
    );
    let future = env.run(&["schedule", "run", "--once", "--at", "2099-01-01T00:00:00Z"]);
    assert_eq!(future.code, 2, "{}{}", future.stdout, future.stderr);
    assert!(
        future
            .stderr
            .contains("--at 2099-01-01T00:00:00Z is later than now"),
        "{}",
        future.stderr
    );
    assert!(
        future.stderr.contains("schedule list --at"),
        "{}",
        future.stderr
    );
    assert!(stream(&env, "workflow", "minutely").is_empty());
    // A dry look at the future records nothing and is still taken.
    let list = env.run(&["schedule", "list", "--at", "2099-01-01T00:00:00Z"]);
    assert_eq!(list.code, 0, "{}", list.stderr);
    // The real clock's pass sees the schedule: nothing was decided ahead of it.
    let now = env.run(&["--json", "schedule", "run", "--once"]);
    assert_eq!(now.code, 0, "{}", now.stderr);
    // (In the first second of a minute, the pass also fires that minute as it sees it.)
    let happened = now.json()["happened"].clone();
    assert_eq!(whats(&happened)[0], "seen", "{happened}");
}

/// Seen by a review: with `overlap: queue`, removing the definition while a time was queued
/// left that time pending, and when a file of that name came back the old time fired with
/// the new definition. A schedule that is gone drops its queued times, recorded (a run that
/// did not start, saying why) and said by `schedule run`; a definition of that name coming
/// back fires its own times only.
#[test]
fn a_schedule_that_is_gone_drops_its_queued_times() {
    let env = Env::new();
    env.workflow("gone", &waiting("gone", "* * * * *", "queue"));
    seen_early(&env);
    let first = once(&env, "2026-12-05T10:00:00Z");
    assert_eq!(whats(&first), ["started", "run_recorded"], "{first}");
    let run = first[1]["run_id"].as_str().unwrap().to_string();
    assert_eq!(whats(&once(&env, "2026-12-05T10:01:00Z")), ["queued"]);
    std::fs::remove_file(env.home().join("workflows/gone.yaml")).unwrap();
    let dropped = once(&env, "2026-12-05T10:02:00Z");
    assert_eq!(whats(&dropped), ["dropped"], "{dropped}");
    assert_eq!(dropped[0]["due"], "2026-12-05T10:01:00Z", "{dropped}");
    assert!(
        dropped[0]["detail"].as_str().unwrap().contains("gone"),
        "{dropped}"
    );
    let human = env.run(&["schedule", "run", "--once", "--at", "2026-12-05T10:02:30Z"]);
    assert!(
        !human.stdout.contains("dropped"),
        "dropped once: {}",
        human.stdout
    );
    release(&env, "gone");
    wait_finished(&env, &run);
    // Back: the old time never starts; its own next time does.
    env.workflow("gone", &waiting("gone", "* * * * *", "queue"));
    let back = once(&env, "2026-12-05T10:03:00Z");
    assert!(!whats(&back).contains(&"released".to_string()), "{back}");
    assert_eq!(back[0]["due"], "2026-12-05T10:03:00Z", "{back}");
    let list = env.run(&["--json", "schedule", "list", "--at", "2026-12-05T10:03:00Z"]);
    assert_eq!(list.json()["schedules"][0]["fired"], 3, "{}", list.stdout);
}

/// A queued time whose schedule changed its cron expression is dropped (its times are the
/// old expression's), said by `schedule run` and `schedule list`.
#[test]
fn a_queued_time_is_dropped_when_its_cron_expression_changes() {
    let env = Env::new();
    env.workflow("chg", &waiting("chg", "* * * * *", "queue"));
    seen_early(&env);
    let first = once(&env, "2026-12-05T11:00:00Z");
    let run = first[1]["run_id"].as_str().unwrap().to_string();
    assert_eq!(whats(&once(&env, "2026-12-05T11:01:00Z")), ["queued"]);
    release(&env, "chg");
    wait_finished(&env, &run);
    env.workflow("chg", &waiting("chg", "*/5 * * * *", "queue"));
    let changed = once(&env, "2026-12-05T11:02:00Z");
    assert_eq!(whats(&changed), ["dropped", "seen"], "{changed}");
    assert!(
        changed[0]["detail"].as_str().unwrap().contains("changed"),
        "{changed}"
    );
    let list = env.run(&["schedule", "list", "--at", "2026-12-05T11:02:00Z"]);
    assert!(
        list.stdout.contains("queued, then dropped"),
        "{}",
        list.stdout
    );
}

/// Seen by a review: a pass `schedule run --once --at T` released a time queued later than T.
/// A pass at T releases only times due by T.
#[test]
fn a_pass_at_a_time_releases_no_queued_time_after_it() {
    let env = Env::new();
    env.workflow("late", &waiting("late", "*/5 * * * *", "queue"));
    seen_early(&env);
    let first = once(&env, "2026-12-05T12:00:00Z");
    let run = first[1]["run_id"].as_str().unwrap().to_string();
    assert_eq!(whats(&once(&env, "2026-12-05T12:05:00Z")), ["queued"]);
    release(&env, "late");
    wait_finished(&env, &run);
    let early = once(&env, "2026-12-05T12:03:00Z");
    assert_eq!(whats(&early), Vec::<String>::new(), "{early}");
    let due = once(&env, "2026-12-05T12:06:00Z");
    assert_eq!(whats(&due), ["released", "run_recorded"], "{due}");
    assert_eq!(due[0]["due"], "2026-12-05T12:05:00Z", "{due}");
}

/// Seen by a review: `overlap: skip` when the orphaned command is a step of the scheduled
/// run's `uses:` child. The scheduled run's driver was SIGKILLed while its child's step ran;
/// the run was "interrupted" and its own notes named no command, so the next time started a
/// second run beside the child's orphaned step (two copies of it at once). Now the whole run
/// tree is judged by the same rule: the child's still-running command keeps the run going.
#[test]
fn overlap_skip_counts_an_orphaned_step_of_a_uses_child_as_going() {
    let env = Env::new();
    env.workflow(
        "kidlong",
        "name: kidlong\nsteps:\n  - name: long\n    run: 'echo start >> starts; while [ ! -f release-kid ]; do sleep 0.05; done; echo ran >> ran-kid'\n",
    );
    env.workflow(
        "parent",
        "name: parent\nschedule: {cron: \"*/5 * * * *\", overlap: skip}\nsteps:\n  - name: k\n    uses: kidlong\n",
    );
    seen_early(&env);
    let first = once(&env, "2026-12-03T10:00:00Z");
    let run = first[1]["run_id"].as_str().unwrap().to_string();
    let until = Instant::now() + Duration::from_secs(30);
    let child = loop {
        let child = env
            .events(&run)
            .iter()
            .find(|e| e["type"] == "child_started")
            .map(|e| e["body"]["run_id"].as_str().unwrap().to_string());
        if let Some(child) = child
            && std::fs::read_to_string(env.inflight_notes(&child)).is_ok_and(|t| {
                t.lines()
                    .any(|l| l.split(' ').nth(1).is_some_and(|p| p != "-"))
            })
        {
            break child;
        }
        assert!(Instant::now() < until, "the child's step was never noted");
        std::thread::sleep(Duration::from_millis(20));
    };
    kill_driver(&env, &run);
    let skipped = once(&env, "2026-12-03T10:05:00Z");
    assert_eq!(whats(&skipped), ["skipped"], "{skipped}");
    let reason = skipped[0]["detail"].as_str().unwrap();
    assert!(
        reason.contains(&run)
            && reason.contains(&child)
            && reason.contains("its commands still run"),
        "{reason}"
    );
    assert_eq!(
        std::fs::read_to_string(env.project().join("starts")).unwrap(),
        "start\n",
        "one copy of the child's step"
    );
    // The abort ends the child's orphan with the run: the next time starts.
    assert_eq!(env.run(&["workflow", "abort", &run]).code, 1);
    let next = once(&env, "2026-12-03T10:10:00Z");
    assert_eq!(whats(&next), ["started", "run_recorded"], "{next}");
    std::fs::write(env.project().join("release-kid"), "").unwrap();
    wait_finished(&env, next[1]["run_id"].as_str().unwrap());
    assert_eq!(
        std::fs::read_to_string(env.project().join("ran-kid")).unwrap(),
        "ran\n",
        "the orphan was ended by the abort; only the new run's child step finished"
    );
}
