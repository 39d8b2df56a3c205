//! End-to-end tests of scenarios through the real binary: the seed's four scenarios, its
//! broken scenario, cycles, the user schema, list and preview.

mod common;

use common::Env;

fn copy_dir(from: &str, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(format!("{}/{from}", env!("CARGO_MANIFEST_DIR"))).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, to.join(path.file_name().unwrap())).unwrap();
    }
}

/// A home with the seed's four scenarios and the agents they name.
fn seeded() -> Env {
    seeded_in(Env::new())
}

/// `env` with the seed's four scenarios and the agents they name.
fn seeded_in(env: Env) -> Env {
    copy_dir("examples/scenarios", &env.home().join("scenarios"));
    copy_dir("examples/agents", &env.home().join("agents"));
    env
}

#[test]
fn the_four_seed_scenarios_validate_and_list() {
    let env = seeded();
    let all = env.run(&["orchestrate", "validate", "--all"]);
    assert_eq!(all.code, 0, "{}{}", all.stdout, all.stderr);
    insta::assert_snapshot!("validate_all_seed", all.snapshot(&env));
    insta::assert_snapshot!("list", env.run(&["orchestrate", "list"]).snapshot(&env));
    let json = env.run(&["--json", "orchestrate", "list"]).json();
    assert_eq!(
        json.as_array().unwrap().len(),
        7,
        "the four seeds, ship-it, parameterized-release and regional-rollout"
    );
}

/// Seen by a review: `orchestrate validate` left a scenario's inputs out (no line, no
/// `inputs` key) while `workflow validate` names them: both kinds say them the same way.
#[test]
fn scenario_validate_names_its_inputs_as_workflow_validate_does() {
    let env = Env::new();
    env.scenario(
        "ag",
        "name: ag\ndescription: x\ninputs:\n  region: {type: string, default: eu}\nphases:\n  - {name: a, description: \"d ${{ inputs.region }}\"}\n",
    );
    env.workflow(
        "wg",
        "name: wg\ninputs:\n  region: {type: string, default: eu}\nsteps:\n  - {name: a, prompt: \"d ${{ inputs.region }}\"}\n",
    );
    for (group, name) in [("orchestrate", "ag"), ("workflow", "wg")] {
        let out = env.run(&[group, "validate", name]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        assert!(
            out.stdout.contains("  - inputs: region\n"),
            "{group}: {}",
            out.stdout
        );
        let doc = env.run(&["--json", group, "validate", name]).json();
        assert_eq!(
            doc["inputs"],
            serde_json::json!(["region"]),
            "{group}: {doc}"
        );
    }
    // None: an empty list, as a workflow's.
    env.scenario(
        "none",
        "name: none\ndescription: x\nphases:\n  - {name: a, description: d}\n",
    );
    let doc = env
        .run(&["--json", "orchestrate", "validate", "none"])
        .json();
    assert_eq!(doc["inputs"], serde_json::json!([]), "{doc}");
}

/// Seen by a review: `orchestrate list` (and the MCP `list` tool, which an agent picks a
/// scenario to run by) said `valid: true` of scenarios `validate` refuses — a cycle, a
/// condition naming no phase, a missing description, an unknown agent — as it only parsed
/// them. A row is valid exactly when `validate` passes, and an invalid one names its first
/// problem where it is.
#[test]
fn a_scenario_listed_valid_is_one_validate_passes() {
    let env = seeded();
    env.scenario("cyc", "name: cyc\ndescription: d\nphases:\n  - name: a\n    description: a\n    condition: after:b\n  - name: b\n    description: b\n    condition: after:a\n");
    env.scenario("nowhere", "name: nowhere\ndescription: d\nphases:\n  - name: a\n    description: a\n    condition: after:zzz\n");
    env.scenario("stranger", "name: stranger\ndescription: d\nphases:\n  - name: a\n    description: a\n    agents: [no-such-agent]\n");
    let rows = env.run(&["--json", "orchestrate", "list"]).json();
    for row in rows.as_array().unwrap() {
        let name = row["name"].as_str().unwrap();
        let validated = env.run(&["orchestrate", "validate", name]);
        assert_eq!(
            row["valid"] == true,
            validated.code == 0,
            "{name}: {row} against validate: {}",
            validated.stderr
        );
    }
    let cyc = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "cyc")
        .unwrap();
    assert_eq!(cyc["valid"], false);
    assert!(
        cyc["error"]
            .as_str()
            .unwrap()
            .starts_with("6:22: Circular dependency"),
        "{cyc}"
    );
}

/// The same for `workflow list`: a workflow whose `uses:` names no workflow, or whose step
/// names an agent that does not exist, listed as valid (it parsed) though `validate` refuses
/// it and it cannot run.
#[test]
fn a_workflow_listed_valid_is_one_validate_passes() {
    let env = seeded();
    env.workflow("p", "name: p\nsteps:\n  - name: a\n    uses: nochild\n");
    env.workflow(
        "q",
        "name: q\nsteps:\n  - name: a\n    agent: ghost\n    prompt: hi\n",
    );
    env.workflow("fine", "name: fine\nsteps:\n  - name: a\n    run: 'true'\n");
    let rows = env.run(&["--json", "workflow", "list"]).json();
    for row in rows.as_array().unwrap() {
        let name = row["name"].as_str().unwrap();
        let validated = env.run(&["workflow", "validate", name]);
        assert_eq!(
            row["valid"] == true,
            validated.code == 0,
            "{name}: {row} against validate: {}",
            validated.stderr
        );
    }
    let p = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "p")
        .unwrap();
    assert_eq!(
        p["error"], "4:11: `uses: nochild`: no workflow named `nochild`",
        "{p}"
    );
}

#[test]
fn preview_shows_conditions_agents_and_one_parallel_opportunity() {
    let env = seeded();
    let out = env.run(&["orchestrate", "preview", "full stack feature"]);
    assert_eq!(out.code, 0);
    assert!(
        out.stdout
            .contains("3. frontend [after:analysis] [PARALLEL]"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("Parallel opportunities: 1 (backend + frontend)"),
        "{}",
        out.stdout
    );
    insta::assert_snapshot!("preview_full_stack_feature", out.snapshot(&env));
    let json = env
        .run(&["--json", "orchestrate", "preview", "full-stack-feature"])
        .json();
    assert_eq!(
        json["parallel_opportunities"],
        serde_json::json!([["backend", "frontend"]])
    );
}

/// `orchestrate preview` of a `parallel: true` `foreach:` phase counts its items, which run
/// beside each other, as an opportunity: "phase `rollout`: its items, 2 at a time" for
/// `regional-rollout` (`max_parallel: 2`). It said "Parallel opportunities: 0". A written
/// list shorter than the limit runs all its items at once; items one at a time are none.
#[test]
fn preview_counts_the_items_of_a_parallel_foreach_phase_as_an_opportunity() {
    let env = Env::new();
    let example = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/scenarios/regional-rollout.yaml"
    );
    let out = env.run(&["orchestrate", "preview", example]);
    assert_eq!(out.code, 0, "{}", out.text());
    assert!(
        out.stdout
            .contains("Parallel opportunities: 1 (phase `rollout`: its items, 2 at a time)"),
        "{}",
        out.stdout
    );
    insta::assert_snapshot!("preview_parallel_foreach_items", out.snapshot(&env));
    let json = env
        .run(&["--json", "orchestrate", "preview", example])
        .json();
    assert_eq!(
        json["parallel_items"],
        serde_json::json!([{"phase": "rollout", "at_once": 2}])
    );
    env.scenario(
        "fans",
        "name: fans\ndescription: d\nphases:\n  - {name: two, parallel: true, foreach: [a, b], run: echo}\n  - {name: serial, foreach: [a, b, c], run: echo}\n  - {name: one, parallel: true, foreach: [a], run: echo}\n",
    );
    let json = env
        .run(&["--json", "orchestrate", "preview", "fans"])
        .json();
    assert_eq!(
        json["parallel_items"],
        serde_json::json!([{"phase": "two", "at_once": 2}]),
        "{json}"
    );
}

/// Seen by a review: `orchestrate preview` said "Parallel opportunities: 1 (a + b + c)" for
/// phases `a`, `b` (`parallel: false`) and `c` (`parallel: true`) ready at once, though the
/// scheduler never runs `a` beside `b` (SPEC §4). Preview derives its sets from the
/// scheduler's rule and the run's `max_parallel`: `a + c`, then `b + c`. And the run itself
/// never has `a` and `b` running at once.
#[test]
fn preview_parallel_opportunities_follow_the_scheduler_rule() {
    let env = Env::new();
    let phase = |name: &str, parallel: bool| {
        format!(
            "  - name: {name}\n    parallel: {parallel}\n    run: echo start-{name} >> ../trace; sleep 0.3; echo end-{name} >> ../trace\n"
        )
    };
    env.scenario(
        "abc",
        &format!(
            "name: abc\ndescription: d\nphases:\n{}{}{}",
            phase("a", false),
            phase("b", false),
            phase("c", true)
        ),
    );
    let out = env.run(&["orchestrate", "preview", "abc"]);
    assert_eq!(out.code, 0, "{}", out.text());
    insta::assert_snapshot!("preview_parallel_follows_scheduler", out.snapshot(&env));
    let json = env.run(&["--json", "orchestrate", "preview", "abc"]).json();
    assert_eq!(
        json["parallel_opportunities"],
        serde_json::json!([["a", "c"], ["b", "c"]])
    );
    // Under `max_parallel: 1`, nothing runs at once.
    env.config("{\"workflow\": {\"max_parallel\": 1}}");
    let one = env.run(&["orchestrate", "preview", "abc"]);
    assert!(
        one.stdout.contains("Parallel opportunities: 0"),
        "{}",
        one.stdout
    );
    env.config("{}");
    // The run: `a` and `b` never overlap.
    let ran = env.run(&["orchestrate", "run", "abc"]);
    assert_eq!(ran.code, 0, "{}", ran.text());
    let trace = std::fs::read_to_string(env.project().parent().unwrap().join("trace")).unwrap();
    let lines: Vec<&str> = trace.lines().collect();
    let at = |l: &str| lines.iter().position(|x| *x == l).unwrap();
    let (first, second) = if at("start-a") < at("start-b") {
        ("a", "b")
    } else {
        ("b", "a")
    };
    assert!(
        at(&format!("end-{first}")) < at(&format!("start-{second}")),
        "{trace}"
    );
}

#[test]
fn the_seed_broken_scenario_reports_every_error_at_once() {
    let env = seeded();
    env.scenario("broken-scenario", "name: broken-scenario\nphases:\n  - name: build\n    condition: after:nonexistent\n    agents:\n      - fake-agent\n");
    let out = env.run(&["orchestrate", "validate", "broken-scenario"]);
    assert_eq!(out.code, 2);
    for expected in [
        "Missing required field: description",
        "Unknown condition: after:nonexistent",
        "Agent not found: fake-agent",
    ] {
        assert!(
            out.stdout.contains(expected),
            "{expected} missing:\n{}",
            out.stdout
        );
    }
    insta::assert_snapshot!("validate_broken", out.snapshot(&env));
    assert_eq!(env.run(&["orchestrate", "validate", "--all"]).code, 2);
}

#[test]
fn a_cycle_is_rejected_naming_its_phases() {
    let env = seeded();
    std::fs::write(
        env.project().join("loop.yaml"),
        "name: loop\ndescription: d\nphases:\n  - {name: plan, condition: 'after:ship'}\n  - {name: build, condition: 'after:plan'}\n  - {name: ship, condition: 'after:build'}\n  - {name: side, condition: auto}\n",
    )
    .unwrap();
    let out = env.run(&["orchestrate", "validate", "loop.yaml"]);
    assert_eq!(out.code, 2);
    insta::assert_snapshot!("validate_cycle", out.snapshot(&env));
}

#[test]
fn the_user_schema_enforces_required_fields_and_enums() {
    let env = seeded();
    env.scenario("schema", "required:\n  - name\n  - description\n  - phases\n  - type\nfields:\n  type:\n    enum: [development, deployment, maintenance, migration]\n  priority:\n    enum: [low, medium, high, critical]\n  condition:\n    enum: [manual, auto]\n");
    assert_eq!(
        env.run(&["orchestrate", "validate", "--all"]).code,
        0,
        "the seeds satisfy the seed schema"
    );
    env.scenario(
        "odd",
        "name: odd\ndescription: d\npriority: urgent\nphases:\n  - {name: a}\n",
    );
    let out = env.run(&["orchestrate", "validate", "odd"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stdout.contains("Missing required field: type"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("Invalid priority: urgent"),
        "{}",
        out.stdout
    );
}

#[test]
fn unknown_scenarios_get_a_suggestion() {
    let env = seeded();
    let out = env.run(&["orchestrate", "preview", "release-prop"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("did you mean `release-prep`?"),
        "{}",
        out.stderr
    );
}

fn timeline(env: &Env) -> std::collections::BTreeMap<String, f64> {
    std::fs::read_to_string(env.file("build/timeline.txt"))
        .unwrap()
        .lines()
        .map(|l| {
            let parts: Vec<&str> = l.split_whitespace().collect();
            (
                format!("{} {}", parts[0], parts[1]),
                parts[2].parse().unwrap(),
            )
        })
        .collect()
}

fn parallel_phases_overlap_in_time_and_the_join_runs_last(env: Env) {
    let env = seeded_in(env);
    let out = env.run(&["orchestrate", "run", "ship-it"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let t = timeline(&env);
    assert!(
        t["backend start"] < t["frontend end"] && t["frontend start"] < t["backend end"],
        "no overlap: {t:?}"
    );
    let status = env
        .run(&["--json", "orchestrate", "status", "ship-it"])
        .json();
    assert_eq!(status["status"], "completed");
    assert_eq!(status["kind"], "scenario");
    let phases = status["phases"].as_array().unwrap();
    let at = |name: &str, field: &str| {
        phases.iter().find(|p| p["name"] == name).unwrap()[field]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert!(at("package", "started_at") >= at("backend", "ended_at"));
    assert!(at("package", "started_at") >= at("frontend", "ended_at"));
    assert!(phases.iter().all(|p| {
        p["criteria"]
            .as_array()
            .is_none_or(|c| c.iter().all(|c| c["met"] == true))
    }));
    assert_eq!(
        env.run(&["--json", "log", "verify", "--all"]).json()["ok"],
        true
    );
}

fn a_manual_phase_blocks_its_dependents_until_started_and_reports_move_the_run_on(env: Env) {
    let env = seeded_in(env);
    env.config(r#"{"workflow": {"max_retry_attempts": 0}}"#);
    let run = env.run(&[
        "orchestrate",
        "run",
        "full-stack-feature",
        "--actor",
        "lead",
    ]);
    assert_eq!(run.code, 3, "{}{}", run.stdout, run.stderr);
    let status = env.run(&["--json", "orchestrate", "status"]).json();
    assert_eq!(status["status"], "waiting");
    assert_eq!(status["awaiting_start"], serde_json::json!(["analysis"]));
    // The manual phase can start now: `ready`; the rest wait for it.
    assert_eq!(status["phases"][0]["name"], "analysis");
    assert_eq!(status["phases"][0]["status"], "ready");
    assert!(
        status["phases"]
            .as_array()
            .unwrap()
            .iter()
            .skip(1)
            .all(|p| p["status"] == "pending")
    );

    assert_eq!(
        env.run(&["orchestrate", "start", "full-stack-feature", "analysis"])
            .code,
        3
    );
    let status = env.run(&["--json", "orchestrate", "status"]).json();
    assert_eq!(status["phases"][0]["status"], "waiting");
    assert_eq!(
        status["phases"][1]["status"], "pending",
        "backend waits for analysis"
    );
    assert_eq!(status["active_agents"].as_array().unwrap().len(), 2);

    let done = env.run(&[
        "orchestrate",
        "complete",
        "full-stack-feature",
        "analysis",
        "--message",
        "plan in docs/",
    ]);
    assert_eq!(done.code, 3, "{}{}", done.stdout, done.stderr);
    let status = env.run(&["--json", "orchestrate", "status"]).json();
    assert_eq!(status["phases"][1]["status"], "waiting");
    assert_eq!(
        status["phases"][2]["status"], "waiting",
        "frontend runs beside backend"
    );
    assert_eq!(status["phases"][0]["criteria"][0]["met"], true);
    insta::assert_snapshot!(
        "status_parallel_pair_waiting",
        env.run(&["orchestrate", "status", "full-stack-feature"])
            .snapshot(&env)
    );

    assert_eq!(
        env.run(&["orchestrate", "complete", "full-stack-feature", "backend"])
            .code,
        3
    );
    assert_eq!(
        env.run(&["orchestrate", "complete", "full-stack-feature", "frontend"])
            .code,
        3
    );
    assert_eq!(
        env.run(&[
            "orchestrate",
            "fail",
            "full-stack-feature",
            "integration",
            "--message",
            "perf regression"
        ])
        .code,
        1
    );
    let failed = env.run(&["orchestrate", "status"]);
    insta::assert_snapshot!("status_failed_phase", failed.snapshot(&env));
    let resumed = env.run(&["orchestrate", "resume", "full-stack-feature"]);
    assert_eq!(
        resumed.code, 3,
        "the failed external phase waits again: {}{}",
        resumed.stdout, resumed.stderr
    );
    assert!(
        !resumed.stderr.contains("changed since"),
        "an unchanged scenario is not reported as changed: {}",
        resumed.stderr
    );
    assert_eq!(
        env.run(&[
            "orchestrate",
            "complete",
            "full-stack-feature",
            "integration"
        ])
        .code,
        0
    );
    let status = env.run(&["--json", "orchestrate", "status"]).json();
    assert_eq!(status["status"], "completed");
    assert_eq!(
        status["active_agents"],
        serde_json::Value::Null,
        "every agent was deactivated"
    );
}

fn stop_from_another_terminal_then_resume_completes_the_scenario(env: Env) {
    let env = seeded_in(env);
    env.scenario("long", "name: long\ndescription: a long phase beside a short one\nphases:\n  - name: slow\n    parallel: true\n    agents: [python-pro]\n    run: echo go >> ran.log; touch started; for i in $(seq 300); do [ -f fast ] && break; sleep 0.1; done\n  - name: quick\n    parallel: true\n    run: echo quick >> ran.log\n  - name: after\n    condition: after:slow,quick\n    run: echo after >> ran.log\n");
    let mut driver = env
        .command(&["orchestrate", "run", "long"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    common::wait_until("the slow phase to start", || env.file("started").exists());
    let stop = env.run(&["orchestrate", "stop", "long", "--actor", "oncall"]);
    assert_eq!(stop.code, 3, "{}{}", stop.stdout, stop.stderr);
    assert_eq!(
        driver.wait().unwrap().code(),
        Some(3),
        "the stopped run exits 3"
    );
    let status = env.run(&["--json", "orchestrate", "status", "long"]).json();
    assert_eq!(status["status"], "stopped");
    assert_eq!(status["phases"][0]["status"], "stopped");
    assert_eq!(
        status["active_agents"],
        serde_json::Value::Null,
        "agents were deactivated"
    );
    let log = env.run(&["--json", "log", "show"]).json();
    let stop_event = log
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "stop_requested")
        .unwrap();
    assert_eq!(stop_event["body"]["actor"], "oncall");

    std::fs::write(env.file("fast"), "").unwrap();
    // Editing the file mid-run changes nothing for the run, but resume says so.
    let path = env.home().join("scenarios/long.yaml");
    let edited = std::fs::read_to_string(&path)
        .unwrap()
        .replace("a long phase beside", "one long phase beside");
    std::fs::write(&path, edited).unwrap();
    let resumed = env.run(&["orchestrate", "resume", "long"]);
    assert_eq!(resumed.code, 0, "{}{}", resumed.stdout, resumed.stderr);
    assert!(
        resumed.stderr.contains("changed since this run started"),
        "{}",
        resumed.stderr
    );
    let ran = common::lines(&env.file("ran.log"));
    assert_eq!(
        ran.iter().filter(|l| *l == "quick").count(),
        1,
        "a completed phase is not re-run: {ran:?}"
    );
    assert_eq!(ran.last().map(String::as_str), Some("after"));
    assert_eq!(
        env.run(&["--json", "log", "verify", "--all"]).json()["ok"],
        true
    );
}

fn an_agent_command_receives_the_phase_prompt_on_stdin_and_the_log_records_it(env: Env) {
    let env = seeded_in(env);
    std::fs::write(
        env.home().join("agents/scribe.md"),
        "---\nname: scribe\ndescription: Writes down what it is asked\ncommand: cat > prompt.txt\n---\nYou write.\n",
    )
    .unwrap();
    env.scenario("notes", "name: notes\ndescription: one phase done by an agent\nphases:\n  - name: draft\n    description: Draft the release notes\n    agents: [scribe]\n    success_criteria:\n      - Notes drafted\n      - {check: test -s prompt.txt}\n");
    let out = env.run(&["orchestrate", "run", "notes"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let prompt = std::fs::read_to_string(env.file("prompt.txt")).unwrap();
    assert!(
        prompt.contains("Draft the release notes") && prompt.contains("- Notes drafted"),
        "{prompt}"
    );
    let log = env.run(&["log", "show"]);
    assert!(
        log.stdout.contains("agent_activated") && log.stdout.contains("agent_deactivated"),
        "{}",
        log.stdout
    );
}

fn agents_are_listed_and_activated_by_hand_through_the_log(env: Env) {
    let env = seeded_in(env);
    let list = env.run(&["--json", "agent", "list"]).json();
    assert_eq!(list["agents"].as_array().unwrap().len(), 15);
    assert_eq!(
        env.run(&["agent", "activate", "Python Pro", "--actor", "lead"])
            .code,
        0
    );
    assert_eq!(
        env.run(&["agent", "activate", "python-pro"]).code,
        2,
        "already active"
    );
    let status = env.run(&["--json", "agent", "status", "python-pro"]).json();
    assert_eq!(status["active"], true);
    insta::assert_snapshot!(
        "agent_status_active",
        env.run(&["agent", "status", "python-pro"]).snapshot(&env)
    );
    assert_eq!(env.run(&["agent", "deactivate", "python-pro"]).code, 0);
    assert_eq!(env.run(&["agent", "deactivate", "python-pro"]).code, 2);
    let missing = env.run(&["agent", "status", "pyton-pro"]);
    assert_eq!(missing.code, 2);
    assert!(
        missing.stderr.contains("did you mean `python-pro`?"),
        "{}",
        missing.stderr
    );
    assert_eq!(
        env.run(&["--json", "log", "verify", "--all"]).json()["ok"],
        true
    );
    assert_eq!(
        env.run(&["--json", "workflow", "history"]).json()["runs"]
            .clone()
            .as_array()
            .unwrap()
            .len(),
        0,
        "the registry is not a run"
    );
}

fn run_start_begins_a_manual_phase_at_once_and_status_takes_a_run_id(env: Env) {
    let env = seeded_in(env);
    let out = env.run(&[
        "--json",
        "orchestrate",
        "run",
        "full-stack-feature",
        "--start",
        "analysis",
    ]);
    assert_eq!(out.code, 3);
    let doc = out.json();
    assert_eq!(doc["phases"][0]["status"], "waiting");
    let run_id = doc["run_id"].as_str().unwrap().to_string();
    let by_id = env
        .run(&["--json", "orchestrate", "status", &run_id])
        .json();
    assert_eq!(by_id["run_id"], run_id.as_str());
    let bad = env.run(&[
        "orchestrate",
        "run",
        "full-stack-feature",
        "--start",
        "backend",
    ]);
    assert_eq!(bad.code, 2, "backend is not manual");
    assert!(
        bad.stderr.contains("manual phases: analysis"),
        "{}",
        bad.stderr
    );
}

fn each_command_finds_its_own_runs_and_points_at_the_other_kind(env: Env) {
    let env = seeded_in(env);
    assert_eq!(env.run(&["orchestrate", "run", "ship-it"]).code, 0);
    // `workflow ...` acts on workflow runs: a scenario run is not "the latest run" for it.
    let out = env.run(&["workflow", "status"]);
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    assert!(out.stderr.contains("no workflow runs"), "{}", out.stderr);
    // Named by id or name, it says what it is and where to look.
    let id = env.run(&["--json", "orchestrate", "status"]).json()["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    for query in [id.as_str(), &id[..10], "ship-it"] {
        let out = env.run(&["workflow", "status", query]);
        assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
        assert!(
            out.stderr.contains("is a scenario run")
                && out
                    .stderr
                    .contains(&format!("cortex orchestrate status {query}")),
            "{}",
            out.stderr
        );
    }
    // The scenario's own commands find it by id, prefix or name.
    for query in [id.as_str(), &id[..10], "ship-it", "Ship It"] {
        let out = env.run(&["orchestrate", "status", query]);
        assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
        assert!(
            out.stdout.starts_with("Scenario: ship-it"),
            "{}",
            out.stdout
        );
    }
}

fn a_phases_profiles_reach_its_commands_and_are_shown(env: Env) {
    env.scenario("profiled", "name: profiled\ndescription: d\nphases:\n  - name: build\n    description: d\n    profiles: [development, ci]\n    run: echo \"$CORTEX_PROFILES\" > profiles.txt\n");
    assert_eq!(env.run(&["orchestrate", "run", "profiled"]).code, 0);
    assert_eq!(
        std::fs::read_to_string(env.file("profiles.txt")).unwrap(),
        "development,ci\n"
    );
    let preview = env.run(&["orchestrate", "preview", "profiled"]);
    assert!(
        preview.stdout.contains("Profiles: development, ci"),
        "{}",
        preview.stdout
    );
    let status = env.run(&["--json", "orchestrate", "status"]).json();
    assert_eq!(
        status["phases"][0]["profiles"],
        serde_json::json!(["development", "ci"])
    );
}

/// The derived checkpoints file (one line added per checkpoint) is what a full rewrite from
/// the log gives, even when an operator's process and the driver both write the lines of the
/// operator's events: each checkpoint once, in order.
fn checkpoints_written_beside_an_operator_equal_a_rewrite_from_the_log(env: Env) {
    env.scenario("cp", "name: cp\ndescription: a long phase beside a manual one\nphases:\n  - name: slow\n    parallel: true\n    run: touch started; for i in $(seq 300); do [ -f go ] && break; sleep 0.1; done\n  - name: gate\n    condition: manual\n    parallel: true\n  - name: after\n    condition: after:slow,gate\n    run: 'true'\n");
    let mut driver = env
        .command(&["orchestrate", "run", "cp"])
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    common::wait_until("the slow phase to start", || env.file("started").exists());
    let started = env.run(&["orchestrate", "start", "cp", "gate"]);
    assert!(
        started.code == 0 || started.code == 3,
        "{}{}",
        started.stdout,
        started.stderr
    );
    // The driver starts the phase it was asked to; then it waits for its report. Accepted
    // beside the running driver, which carries the run on, the report exits 0: running is
    // neither waiting nor stopped (SPEC §5).
    common::wait_until("the gate to be completed", || {
        env.run(&["orchestrate", "complete", "cp", "gate", "--no-drive"])
            .code
            == 0
    });
    std::fs::write(env.file("go"), "").unwrap();
    assert_eq!(driver.wait().unwrap().code(), Some(0));
    let status = env.run(&["--json", "orchestrate", "status", "cp"]).json();
    assert_eq!(status["status"], "completed");
    let run_id = status["run_id"].as_str().unwrap().to_string();
    let store = env.open_store();
    let state = cortex::execute::load_state(&*store, &run_id).unwrap();
    let expected = cortex::project::run_files(&state)
        .into_iter()
        .find(|f| f.path == cortex::project::CHECKPOINTS_FILE)
        .expect("the run has checkpoints");
    let written = std::fs::read_to_string(
        env.home()
            .join("runs")
            .join(&run_id)
            .join(cortex::project::CHECKPOINTS_FILE),
    )
    .unwrap();
    assert_eq!(written, expected.contents);
    assert_eq!(written.lines().count(), state.checkpoints.len());
}

/// README: "`cortex agent list` — agents, how each runs, and where they are active". The
/// text showed `active` without where, and an agent without a command (a built-in, most
/// often) only as `[built-in]`, while `--json` had both (`runner`, `active_for`): the text
/// says how each runs and, under an active one, where (review m, finding 7).
#[test]
fn agent_list_text_says_how_each_agent_runs_and_where_it_is_active() {
    let env = Env::new();
    std::fs::create_dir_all(env.home().join("agents")).unwrap();
    std::fs::write(
        env.home().join("agents/reviewer.md"),
        "---\nname: reviewer\ndescription: Reviews by hand\n---\nYou review.\n",
    )
    .unwrap();
    std::fs::write(
        env.home().join("agents/writer.md"),
        "---\nname: writer\ndescription: Writes notes\ncommand: cat > notes.txt\n---\nYou write.\n",
    )
    .unwrap();
    env.scenario(
        "rev",
        "name: rev\ndescription: a review by hand\nphases:\n  - {name: review, description: review it, condition: manual, agents: [reviewer]}\n",
    );
    assert_eq!(
        env.run(&["orchestrate", "run", "rev", "--start", "review"])
            .code,
        3
    );
    assert_eq!(env.run(&["agent", "activate", "writer"]).code, 0);
    let list = env.run(&["agent", "list"]);
    let doc = env.run(&["--json", "agent", "list"]).json();
    let row = |name: &str| common::agent_row(&doc, name);
    // Every place `--json` names is in the text, and every agent says how it runs.
    let place = row("reviewer")["active_for"][0]
        .as_str()
        .unwrap()
        .to_string();
    let line = format!("active for {place}");
    assert!(list.stdout.contains(&line), "{line}\n{}", list.stdout);
    assert_eq!(
        row("writer")["active_for"],
        serde_json::json!(["(by hand)"])
    );
    assert!(list.stdout.contains("active by hand"), "{}", list.stdout);
    for line in list
        .stdout
        .lines()
        .filter(|l| l.contains("active  ") || l.contains("inactive"))
    {
        assert!(
            line.contains("  [runs ") || line.contains("  [no command"),
            "{line}"
        );
    }
    insta::assert_snapshot!("agent_list_how_and_where", list.snapshot(&env));
}

/// Review m, finding 1: `orchestrate resume --skip` of the one waiting manual phase recorded
/// no `agent_deactivated`, and after the run completed `orchestrate status` (text and
/// `--json`) still listed its agents active while `agent status` said they were not. The skip
/// records the deactivation, and status and `agent status` agree.
fn a_skipped_waiting_phase_deactivates_its_agents_and_status_agrees_with_agent_status(env: Env) {
    let env = seeded_in(env);
    assert_eq!(
        env.run(&["orchestrate", "run", "full-stack-feature"]).code,
        3
    );
    assert_eq!(
        env.run(&["orchestrate", "start", "full-stack-feature", "analysis"])
            .code,
        3
    );
    let active =
        |agent: &str| env.run(&["--json", "agent", "status", agent]).json()["active"].clone();
    assert_eq!(active("architect-reviewer"), true);
    let skipped = env.run(&["orchestrate", "resume", "full-stack-feature", "--skip"]);
    assert_eq!(skipped.code, 3, "{}{}", skipped.stdout, skipped.stderr);
    let run = env.run(&["--json", "orchestrate", "status"]).json()["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    let deactivated: Vec<String> = env
        .events(&run)
        .iter()
        .filter(|e| e["type"] == "agent_deactivated" && e["body"]["phase"] == "analysis")
        .map(|e| e["body"]["agent"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(deactivated, ["architect-reviewer", "system-architect"]);
    assert_eq!(active("architect-reviewer"), false);
    for phase in ["backend", "frontend", "integration"] {
        assert_eq!(
            env.run(&["orchestrate", "complete", "full-stack-feature", phase])
                .code,
            if phase == "integration" { 0 } else { 3 }
        );
    }
    let doc = env.run(&["--json", "orchestrate", "status", &run]).json();
    assert_eq!(doc["status"], "completed");
    assert!(doc.get("active_agents").is_none(), "{doc:#}");
    let text = env.run(&["orchestrate", "status", &run]).stdout;
    assert!(!text.contains("Active Agents"), "{text}");
    for agent in ["architect-reviewer", "system-architect", "python-pro"] {
        assert_eq!(active(agent), false, "{agent}");
    }
}

common::on_both_stores!(
    parallel_phases_overlap_in_time_and_the_join_runs_last,
    a_manual_phase_blocks_its_dependents_until_started_and_reports_move_the_run_on,
    stop_from_another_terminal_then_resume_completes_the_scenario,
    an_agent_command_receives_the_phase_prompt_on_stdin_and_the_log_records_it,
    agents_are_listed_and_activated_by_hand_through_the_log,
    run_start_begins_a_manual_phase_at_once_and_status_takes_a_run_id,
    each_command_finds_its_own_runs_and_points_at_the_other_kind,
    a_phases_profiles_reach_its_commands_and_are_shown,
    checkpoints_written_beside_an_operator_equal_a_rewrite_from_the_log,
    a_skipped_waiting_phase_deactivates_its_agents_and_status_agrees_with_agent_status,
);

/// A manual phase that `orchestrate start` would start now is `ready` (SPEC §5's phase
/// states), in `--json` and on the screen, and a phase blocked on its `after:` phases stays
/// `pending`. Before, both showed `pending`.
#[test]
fn a_manual_phase_that_can_start_is_ready_not_pending() {
    let env = Env::new();
    env.scenario(
        "gated",
        "name: gated\ndescription: a manual gate, then a phase after it\nphases:\n  - {name: gate, description: started by hand, condition: manual, run: 'true'}\n  - {name: later, description: after the gate, condition: 'after:gate', run: 'true'}\n",
    );
    let out = env.run(&["orchestrate", "run", "gated"]);
    assert_eq!(out.code, 3, "{}", out.text());
    let doc = env
        .run(&["--json", "orchestrate", "status", "gated"])
        .json();
    assert_eq!(doc["phases"][0]["status"], "ready", "{doc}");
    assert_eq!(doc["phases"][0]["awaits_start"], true, "{doc}");
    assert_eq!(doc["phases"][1]["status"], "pending", "{doc}");
    assert!(doc["phases"][1].get("awaits_start").is_none(), "{doc}");
    let out = env.run(&["orchestrate", "status", "gated"]);
    insta::assert_snapshot!(out.snapshot(&env));
    // Once the run is over, a manual phase nobody started is not ready any more.
    env.run(&["orchestrate", "abort", "gated"]);
    let doc = env
        .run(&["--json", "orchestrate", "status", "gated"])
        .json();
    assert_eq!(doc["phases"][0]["status"], "pending", "{doc}");
}

/// Seen by a review: `agent status ../examples/agents/python-pro.md` was refused as a name
/// with `/`, hinting "give its path ending in .yaml" — agents are Markdown files. A path to
/// an agent's `.md` file is accepted wherever an agent's name is (SPEC §2): status, activate,
/// deactivate; a path that is not one says why, and a name with `/` hints `.md`.
#[test]
fn an_agent_md_path_is_accepted_where_an_agent_name_is() {
    let env = Env::new();
    let elsewhere = env.project().join("mine");
    std::fs::create_dir_all(&elsewhere).unwrap();
    std::fs::write(
        elsewhere.join("reviewer.md"),
        "---\nname: reviewer\ndescription: Reviews changes\n---\nReview carefully.\n",
    )
    .unwrap();
    let out = env.run(&["agent", "status", "mine/reviewer.md"]);
    assert_eq!(out.code, 0, "{}", out.text());
    insta::assert_snapshot!("agent_status_by_md_path", out.snapshot(&env));
    let absolute = elsewhere.join("reviewer.md");
    let absolute = absolute.to_str().unwrap();
    assert_eq!(env.run(&["agent", "activate", absolute]).code, 0);
    let status = env
        .run(&["--json", "agent", "status", "./mine/reviewer.md"])
        .json();
    assert_eq!(status["agent"]["name"], "reviewer");
    assert_eq!(status["active"], true);
    assert_eq!(
        env.run(&["agent", "deactivate", "mine/reviewer.md"]).code,
        0
    );
    // Not an agent file: its problem, located; a name with `/`: the hint names `.md`.
    std::fs::write(elsewhere.join("notes.md"), "# notes\n").unwrap();
    let bad = env.run(&["agent", "status", "mine/notes.md"]);
    assert_eq!(bad.code, 2);
    assert!(
        bad.stderr.contains("missing YAML front matter"),
        "{}",
        bad.stderr
    );
    let named = env.run(&["agent", "status", "mine/reviewer"]);
    assert_eq!(named.code, 2);
    assert!(
        named.stderr.contains("give its path ending in .md"),
        "{}",
        named.stderr
    );
}

/// One malformed `after:` list (a trailing comma) hides none of the other problems: the empty
/// entry, the unknown name beside it and the cycle through it are all reported in one pass.
#[test]
fn an_empty_entry_in_an_after_list_hides_no_other_error() {
    let env = Env::new();
    env.scenario(
        "tangle",
        "name: tangle\ndescription: d\nphases:\n  - name: a\n    description: a\n    condition: after:c\n  - name: b\n    description: b\n    condition: after:a\n  - name: c\n    description: c\n    condition: 'after:b, nonexistent,'\n",
    );
    let out = env.run(&["orchestrate", "validate", "tangle"]);
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    for needle in [
        "an empty phase name in the list",
        "no phase named `nonexistent`",
        "Circular dependency",
    ] {
        assert!(out.text().contains(needle), "{needle}: {}", out.text());
    }
}

/// `a` fails until `ok` exists (each attempt logged), `b` runs after it.
const BLOCKED: &str = "name: blk\ndescription: d\nphases:\n  - {name: a, description: fails, run: 'echo $CORTEX_ATTEMPT >> a.log; test -f ok'}\n  - {name: b, description: after a, condition: 'after:a', run: 'echo b >> b.log'}\n";

fn blocked() -> (Env, String) {
    let env = Env::new();
    env.config("{\"workflow\": {\"max_retry_attempts\": 0}}");
    env.scenario("blk", BLOCKED);
    let run = env.run(&["orchestrate", "run", "blk"]);
    assert_eq!(run.code, 1, "{}", run.text());
    let id = env.run(&["--json", "orchestrate", "status", "blk"]).json()["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    (env, id)
}

/// `orchestrate resume --retry` was refused by clap ("unexpected argument"), though SPEC §4
/// lists it and a workflow has it: it runs the failed phase again with a fresh retry budget
/// and goes on with the phases after it.
#[test]
fn orchestrate_resume_retry_runs_the_failed_phase_again_and_goes_on() {
    let (env, id) = blocked();
    let plan = env.run(&["orchestrate", "resume", &id, "--retry", "--dry-run"]);
    assert_eq!(plan.code, 0, "{}", plan.text());
    assert!(plan.stdout.contains("a  "), "{}", plan.stdout);
    assert!(plan.stdout.contains("re-run"), "{}", plan.stdout);
    // `--retry` with another way to resume is refused, as the workflow's is.
    for other in [&["--skip"][..], &["--from", "a"], &["--rollback-to", "a"]] {
        let mut args = vec!["orchestrate", "resume", &id, "--retry"];
        args.extend_from_slice(other);
        let out = env.run(&args);
        assert_eq!(out.code, 2, "{other:?}: {}", out.text());
        assert!(out.stderr.contains("cannot be used with"), "{}", out.stderr);
    }
    std::fs::write(env.file("ok"), "").unwrap();
    let out = env.run(&["orchestrate", "resume", &id, "--retry"]);
    assert_eq!(out.code, 0, "{}", out.text());
    assert_eq!(common::lines(&env.file("a.log")), ["1", "2"]);
    assert_eq!(common::lines(&env.file("b.log")), ["b"]);
    let status = env.run(&["--json", "orchestrate", "status", &id]).json();
    assert_eq!(status["status"], "completed", "{status:#}");
    let resumed: Vec<_> = env
        .events(&id)
        .into_iter()
        .filter(|e| e["type"] == "run_resumed")
        .collect();
    assert_eq!(resumed.len(), 1);
    assert_eq!(resumed[0]["body"]["mode"]["mode"], "retry", "{resumed:#?}");
}

/// With no failed phase there is nothing to retry: refused (exit 2) with what moves the run
/// on instead, and nothing recorded: a run waiting on a manual phase. A completed run is left as
/// it is, as a plain resume leaves it.
#[test]
fn orchestrate_resume_retry_is_refused_when_no_phase_failed() {
    let env = Env::new();
    env.scenario(
        "gate",
        "name: gate\ndescription: d\nphases:\n  - {name: a, description: a, condition: manual}\n",
    );
    assert_eq!(env.run(&["orchestrate", "run", "gate"]).code, 3);
    let id = env.run(&["--json", "orchestrate", "status", "gate"]).json()["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    let before = env.events(&id).len();
    for dry in [false, true] {
        let mut args = vec!["orchestrate", "resume", "gate", "--retry"];
        if dry {
            args.push("--dry-run");
        }
        let out = env.run(&args);
        assert_eq!(out.code, 2, "{}", out.text());
        assert!(out.stdout.is_empty(), "{}", out.stdout);
        assert!(
            out.stderr
                .contains("cannot retry: no phase of this run failed"),
            "{}",
            out.stderr
        );
        let hint = format!("hint: `cortex orchestrate status {id}` shows where the run is");
        assert!(out.stderr.contains(&hint), "{}", out.stderr);
    }
    assert_eq!(env.events(&id).len(), before, "nothing recorded");
    // Its way on is a start, as the status says; once completed, a retry is refused too.
    assert_eq!(env.run(&["orchestrate", "start", &id, "a"]).code, 3);
    assert_eq!(env.run(&["orchestrate", "complete", &id, "a"]).code, 0);
    let done = env.run(&["orchestrate", "resume", &id, "--retry"]);
    assert_eq!(done.code, 0, "{}", done.text());
    assert!(done.stdout.contains("already finished"), "{}", done.stdout);
}

/// A failed scenario's first suggestion was a plain `resume` said to "go on from the
/// completed phases (then start the manual phases)", though it runs the failed phase again (and
/// the scenario had no manual phase). It is `resume --retry`, said to run the failed phase (or
/// phases, named) again with a fresh retry budget, and following it literally works.
#[test]
fn a_failed_scenarios_first_suggestion_is_resume_retry_and_following_it_works() {
    let (env, id) = blocked();
    let status = env.run(&["--json", "orchestrate", "status", &id]).json();
    let first = &status["next"][0];
    let argv: Vec<String> = serde_json::from_value(first["argv"].clone()).unwrap();
    assert_eq!(argv, ["cortex", "orchestrate", "resume", &id, "--retry"]);
    assert_eq!(first["why"], "run `a` again with a fresh retry budget");
    assert!(
        !status["next"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["why"].as_str().unwrap().contains("manual")),
        "{status:#}"
    );
    std::fs::write(env.file("ok"), "").unwrap();
    let args: Vec<&str> = argv[1..].iter().map(String::as_str).collect();
    let out = env.run(&args);
    assert_eq!(out.code, 0, "{}", out.text());
    assert_eq!(common::lines(&env.file("b.log")), ["b"]);

    // Two failed phases are both named; a manual phase left to start is said.
    let env = Env::new();
    env.config("{\"workflow\": {\"max_retry_attempts\": 0}}");
    env.scenario(
        "two",
        "name: two\ndescription: d\nphases:\n  - {name: a, description: a, run: 'test -f ok', parallel: true}\n  - {name: c, description: c, run: 'test -f ok', parallel: true}\n  - {name: m, description: m, condition: manual}\n",
    );
    let run = env.run(&["orchestrate", "run", "two"]);
    assert_eq!(run.code, 1, "{}", run.text());
    let status = env.run(&["--json", "orchestrate", "status", "two"]).json();
    assert_eq!(
        status["next"][0]["why"],
        "run `a`, `c` again with a fresh retry budget (then start the manual phases)",
        "{status:#}"
    );
    std::fs::write(env.file("ok"), "").unwrap();
    let argv: Vec<String> = serde_json::from_value(status["next"][0]["argv"].clone()).unwrap();
    let args: Vec<&str> = argv[1..].iter().map(String::as_str).collect();
    let out = env.run(&args);
    assert_eq!(out.code, 3, "waits on the manual phase: {}", out.text());
    let status = env.run(&["--json", "orchestrate", "status", "two"]).json();
    assert_eq!(
        status["awaiting_start"],
        serde_json::json!(["m"]),
        "{status:#}"
    );
}

/// `--skip` skips exactly one phase that failed or waits for a report: with two failed, no
/// suggestion offers it (following it was refused with exit 2); with one, it is offered and
/// works. Before, a run with two failed phases suggested `orchestrate resume RUN --skip`.
#[test]
fn skip_is_suggested_only_when_exactly_one_phase_failed_or_waits() {
    let env = Env::new();
    env.scenario(
        "pf",
        "name: pf\ndescription: two parallel phases that fail\nphases:\n  - {name: a, description: a, parallel: true, run: 'false', retry: {max_retry_attempts: 0}}\n  - {name: b, description: b, parallel: true, run: 'false', retry: {max_retry_attempts: 0}}\n  - {name: c, description: c, condition: 'after:a,b', run: 'true'}\n",
    );
    let out = env.run(&["--json", "orchestrate", "run", "pf"]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    let skips = |doc: &serde_json::Value| {
        doc["next"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|n| n["argv"].as_array().unwrap().iter().any(|a| a == "--skip"))
            .count()
    };
    assert_eq!(skips(&out.json()), 0, "{}", out.stdout);
    let status = env.run(&["--json", "orchestrate", "status", "pf"]).json();
    assert_eq!(skips(&status), 0, "{status}");
    let human = env.run(&["orchestrate", "status", "pf"]).stdout;
    assert!(!human.contains("--skip"), "{human}");
    env.scenario(
        "one",
        "name: one\ndescription: one phase fails\nphases:\n  - {name: a, description: a, run: 'false', retry: {max_retry_attempts: 0}}\n  - {name: c, description: c, condition: 'after:a', run: 'true'}\n",
    );
    let out = env.run(&["--json", "orchestrate", "run", "one"]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    let doc = out.json();
    let skip = doc["next"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["argv"].as_array().unwrap().iter().any(|a| a == "--skip"))
        .expect("--skip offered for the one failed phase")
        .clone();
    let argv: Vec<&str> = skip["argv"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(env.run(&argv[1..]).code, 0, "{argv:?}");
}

/// The same for a phase: its driver SIGKILLed while the phase's `if: {run:}` command ran, the
/// scenario is `interrupted` (before: `waiting`, "nobody drives it now"), the phase said to be
/// cut short while checking its condition; `orchestrate resume` runs it again and completes.
#[test]
fn a_driver_killed_while_a_phases_if_command_runs_leaves_the_scenario_interrupted() {
    let env = Env::new();
    env.scenario(
        "sc",
        "name: sc\ndescription: d\nphases:\n  - name: a\n    description: d\n    if: {run: 'if [ -f started ]; then exit 0; fi; touch started; exec sleep 60'}\n    run: echo ran > ran.log\n",
    );
    let mut driver = env.spawn(&["orchestrate", "run", "sc"]);
    common::wait_until("the condition command to start", || {
        env.file("started").exists()
    });
    let status = |env: &Env| env.run(&["--json", "orchestrate", "status"]).json();
    let live = status(&env);
    assert_eq!(live["status"], "running", "{live}");
    assert_eq!(live["phases"][0]["checking_condition"], true, "{live}");
    common::wait_until("the condition command to be noted", || {
        env.all_inflight_notes().iter().any(|n| n.contains("if-"))
    });
    driver.kill().unwrap();
    driver.wait().unwrap();
    let dead = status(&env);
    assert_eq!(dead["status"], "interrupted", "{dead}");
    assert_eq!(dead["phases"][0]["interrupted"], true, "{dead}");
    let text = env.run(&["orchestrate", "status"]).stdout;
    assert!(
        text.contains("interrupted while its `if:` command ran"),
        "{text}"
    );
    let resumed = env.run(&["orchestrate", "resume"]);
    assert_eq!(resumed.code, 0, "{}{}", resumed.stdout, resumed.stderr);
    assert_eq!(status(&env)["status"], "completed");
    assert_eq!(common::lines(&env.file("ran.log")), ["ran"]);
}

/// The driver of a scenario `scn` (a phase `long` that sleeps 2 s beside a manual `review`),
/// frozen (SIGSTOP) once `long` has started.
fn frozen_in_a_phase(env: &Env) -> common::Frozen {
    env.scenario(
        "scn",
        "name: scn\ndescription: d\nphases:\n  - {name: long, description: l, parallel: true, run: 'touch started; sleep 2'}\n  - {name: review, description: r, parallel: true}\n",
    );
    common::Frozen::start(
        env,
        &["orchestrate", "run", "scn"],
        "the long phase to start",
        || env.file("started").exists(),
    )
}

/// `orchestrate stop` of a run whose driver is frozen (SIGSTOP): after its wait it says the
/// stop is requested and not yet acted on (exit 0, as `workflow abort`'s requested case),
/// never "running" with `stop` suggested again (exit 3, which means stopped); `status` shows
/// the pending request (human and `--json`) and suggests `status` or `abort`, not `stop`; a
/// second stop answers at once; once thawed, the driver stops the run.
#[test]
fn a_stop_a_frozen_driver_has_not_acted_on_is_said_to_be_pending() {
    let env = Env::new();
    let mut driver = frozen_in_a_phase(&env);

    let stop = env.run(&["orchestrate", "stop", "scn", "--actor", "oncall"]);
    assert_eq!(stop.code, 0, "{}{}", stop.stdout, stop.stderr);
    assert!(
        stop.stdout.starts_with("⏳ Stop of run ")
            && stop
                .stdout
                .contains("has not acted on it yet (it may be frozen or busy)"),
        "{}",
        stop.stdout
    );
    assert!(
        !stop.stdout.contains("orchestrate stop"),
        "no second stop is suggested: {}",
        stop.stdout
    );

    let status = env.run(&["--json", "orchestrate", "status", "scn"]);
    let doc = status.json();
    assert_eq!(doc["status"], "running");
    assert_eq!(doc["stop_requested"]["by"]["actor"], "oncall");
    assert_eq!(doc["stop_requested"]["abort"], false);
    assert!(doc["stop_requested"]["at"].is_string(), "{doc}");
    let next: Vec<String> = doc["next"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["argv"][2].as_str().unwrap().to_string())
        .collect();
    assert!(
        next.contains(&"status".to_string()) && next.contains(&"abort".to_string()),
        "{next:?}"
    );
    assert!(!next.contains(&"stop".to_string()), "{next:?}");
    let human = env.run(&["orchestrate", "status", "scn"]);
    assert!(
        human.stdout.contains("Stop requested by oncall at ")
            && human.stdout.contains("not yet acted on"),
        "{}",
        human.stdout
    );

    // Asked again: answered at once, nothing recorded.
    let started = std::time::Instant::now();
    let again = env.run(&["orchestrate", "stop", "scn"]);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "a second stop waited again"
    );
    assert_eq!(again.code, 0, "{}{}", again.stdout, again.stderr);
    assert!(
        again.stdout.contains("was requested already by oncall"),
        "{}",
        again.stdout
    );
    assert_eq!(
        common::count_events(&env, "scn", "stop_requested"),
        1,
        "one request in the log"
    );

    driver.thaw();
    assert_eq!(
        driver.child.wait().unwrap().code(),
        Some(3),
        "the run stopped"
    );
    let doc = env.run(&["--json", "orchestrate", "status", "scn"]).json();
    assert_eq!(doc["status"], "stopped");
    assert!(doc.get("stop_requested").is_none(), "{doc}");
}

/// Seen by a review: a second `orchestrate abort` of a run whose driver is frozen (SIGSTOP)
/// waited its whole grace again and said the same "Abort … requested", recording a second
/// request. Now, as a second `stop` does, it answers at once that the abort was requested
/// already and nothing was recorded; once thawed, the driver ends the run aborted.
#[test]
fn a_second_abort_of_a_frozen_driver_answers_at_once_that_it_was_requested_already() {
    let env = Env::new();
    let mut driver = frozen_in_a_phase(&env);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let abort = env.run(&["orchestrate", "abort", "scn", "--actor", "oncall"]);
        assert_eq!(abort.code, 0, "{}{}", abort.stdout, abort.stderr);
        assert!(
            abort.stdout.starts_with("⏳ Abort of run "),
            "{}",
            abort.stdout
        );
        let started = std::time::Instant::now();
        let again = env.run(&["--json", "orchestrate", "abort", "scn"]);
        assert!(
            started.elapsed() < std::time::Duration::from_secs(5),
            "a second abort waited again"
        );
        assert_eq!(again.code, 0, "{}{}", again.stdout, again.stderr);
        let doc = again.json();
        let note = doc["note"].as_str().unwrap_or_default();
        assert!(
            note.contains("was requested already by oncall")
                && note.contains("nothing was recorded"),
            "{doc}"
        );
        let human = env.run(&["orchestrate", "abort", "scn"]);
        assert!(
            human.stdout.starts_with("⏳ Abort of run ")
                && human.stdout.contains("was requested already by oncall"),
            "{}",
            human.stdout
        );
        assert_eq!(
            common::count_events(&env, "scn", "stop_requested"),
            1,
            "one request in the log"
        );
    }));
    driver.thaw();
    let _ = driver.child.wait();
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
    common::wait_until("the run to end aborted", || {
        env.run(&["--json", "orchestrate", "status", "scn"]).json()["status"] == "aborted"
    });
}

/// `orchestrate preview` took no inputs: a phase's `${{ inputs.X }}` showed only a default or
/// the template as written, so what a run with given values would do could not be seen before
/// it ran. It takes `--input NAME=VALUE` as `run` does: the phases are shown rendered with the
/// values (a secret one as `***`, in either form), the document's `inputs` has them, and a bad
/// name or value is `run`'s own error, exit 2, never quoting a secret's value. A required
/// input not given is no error: it stays as written.
#[test]
fn orchestrate_preview_renders_the_inputs_given_and_refuses_bad_ones() {
    let env = Env::new();
    env.scenario(
        "deploy",
        "name: deploy\ndescription: d\ninputs:\n  api_token: {type: string, required: true}\n  count: {type: integer, default: 2}\n  who: {type: string, required: true}\nphases:\n  - name: p\n    description: Deploy ${{ inputs.who }} with ${{ inputs.api_token }} x${{ inputs.count }}\n    run: echo \"${{ inputs.who }} ${{ inputs.api_token }}\"\n",
    );
    let secret = "hunter2-not-shown";
    let token = format!("api_token={secret}");
    let out = env.run(&[
        "orchestrate",
        "preview",
        "deploy",
        "--input",
        "who=ops team",
        "-i",
        &token,
        "-i",
        "count=5",
    ]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("Deploy ops team with *** x5"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("echo \"ops team ***\""),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains(secret) && !out.stderr.contains(secret));
    // Not given, required: said in words, as `run --dry-run` says it; not given, with a
    // default: the default.
    let out = env.run(&["orchestrate", "preview", "deploy", "-i", "who=me"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout
            .contains("Deploy me with (no input `api_token`: none was given) x2"),
        "{}",
        out.stdout
    );
    let out = env.run(&[
        "--json",
        "orchestrate",
        "preview",
        "deploy",
        "-i",
        &token,
        "-i",
        "who=me",
    ]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(!out.stdout.contains(secret), "{}", out.stdout);
    let doc = out.json();
    assert_eq!(
        doc["inputs"],
        serde_json::json!({"api_token": "***", "count": 2, "who": "me"}),
        "{doc}"
    );
    // A bad name or value: `run`'s error, every problem listed, the secret never quoted.
    let bad = ["-i", "nope=1", "-i", "count=many", "-i", &token];
    let preview = env.run(&[&["--json", "orchestrate", "preview", "deploy"][..], &bad].concat());
    let run = env.run(
        &[
            &[
                "--json",
                "orchestrate",
                "run",
                "deploy",
                "--dry-run",
                "-i",
                "who=me",
            ][..],
            &bad,
        ]
        .concat(),
    );
    assert_eq!(preview.code, 2, "{}{}", preview.stdout, preview.stderr);
    let (preview, run) = (preview.json(), run.json());
    assert_eq!(preview["error"], run["error"], "{preview}\n{run}");
    assert_eq!(preview["errors"], run["errors"], "{preview}\n{run}");
    let listed = preview["errors"].to_string();
    assert!(
        listed.contains("unknown input `nope`") && listed.contains("`many` is not an integer"),
        "{preview}"
    );
    assert!(!preview.to_string().contains(secret), "{preview}");
}
