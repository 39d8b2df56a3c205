//! The JSON Schemas in `schemas/`: they are exactly what the types generate, every example and
//! seed definition conforms to them, and so does every event the engine emits.

mod common;

use common::Env;

fn committed(name: &str) -> serde_json::Value {
    let path = format!("{}/schemas/{name}.schema.json", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn check(schema: &serde_json::Value, instance: &serde_json::Value, what: &str) {
    let validator = jsonschema::validator_for(schema).expect("schemas compile");
    let errors: Vec<String> = validator
        .iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{what} does not conform:\n{}",
        errors.join("\n")
    );
}

/// Regenerate with `CORTEX_UPDATE_SCHEMAS=1 cargo test --test schemas`.
#[test]
fn committed_schemas_match_the_types() {
    for name in ["workflow", "scenario", "agent", "config", "event"] {
        let generated = cortex::cli::schema_text(name).unwrap();
        let path = format!("{}/schemas/{name}.schema.json", env!("CARGO_MANIFEST_DIR"));
        if std::env::var_os("CORTEX_UPDATE_SCHEMAS").is_some() {
            std::fs::write(&path, &generated).unwrap();
        }
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            generated,
            "schemas/{name}.schema.json is stale: run CORTEX_UPDATE_SCHEMAS=1 cargo test --test schemas"
        );
    }
}

/// `runs/<id>/results.json` of finished workflow and scenario runs (completed, failed, rolled
/// back, aborted) conforms to `schemas/results.schema.json`, which `cortex schema results`
/// prints: `kind` says which, and the units are `steps` or `phases` to match.
#[test]
fn results_json_of_workflow_and_scenario_runs_conforms_to_the_results_schema() {
    let schema = committed("results");
    let printed = Env::new().run(&["schema", "results"]);
    assert_eq!(printed.code, 0, "{}", printed.stderr);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&printed.stdout).unwrap(),
        schema
    );
    let env = Env::new();
    env.workflow(
        "ok",
        "name: ok\nsteps:\n  - {name: a, run: 'echo out=1 >> $CORTEX_OUTPUT'}\n",
    );
    env.workflow("fails", "name: fails\nsteps:\n  - {name: a, run: 'true', rollback: 'true'}\n  - {name: b, run: 'exit 3', retry: {max_retry_attempts: 0}, on_failure: rollback}\n");
    env.workflow(
        "asks",
        "name: asks\nsteps:\n  - {name: Plan, prompt: plan}\n",
    );
    env.scenario(
        "ship",
        "name: ship\ndescription: ships\nphases:\n  - name: build\n    condition: auto\n    run: 'echo built'\n  - name: test\n    condition: after:build\n    run: 'true'\n",
    );
    env.scenario(
        "held",
        "name: held\ndescription: waits\nphases:\n  - name: gate\n    condition: manual\n",
    );
    let mut runs = Vec::new();
    for (args, kind) in [
        (&["--json", "workflow", "run", "ok"][..], "workflow"),
        (&["--json", "workflow", "run", "fails"][..], "workflow"),
        (&["--json", "workflow", "run", "asks"][..], "workflow"),
        (&["--json", "orchestrate", "run", "ship"][..], "scenario"),
        (&["--json", "orchestrate", "run", "held"][..], "scenario"),
    ] {
        let out = env.run(args);
        let run_id = out.json()["run_id"]
            .as_str()
            .unwrap_or_else(|| panic!("{}", out.stdout))
            .to_string();
        runs.push((run_id, kind));
    }
    // The two that wait, aborted: finished too.
    for (n, kind) in [(2, "workflow"), (4, "orchestrate")] {
        let abort = env.run(&[kind, "abort", &runs[n].0]);
        assert_eq!(abort.code, 1, "{}", abort.stderr);
    }
    let mut statuses = Vec::new();
    for (run_id, kind) in &runs {
        let path = env.home().join("runs").join(run_id).join("results.json");
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let results: serde_json::Value = serde_json::from_str(&text).unwrap();
        check(
            &schema,
            &results,
            &format!("results.json of {kind} run {run_id}"),
        );
        assert_eq!(results["kind"], *kind, "{text}");
        let (units, other) = if *kind == "scenario" {
            ("phases", "steps")
        } else {
            ("steps", "phases")
        };
        assert!(
            results[units].as_array().is_some_and(|u| !u.is_empty()),
            "{text}"
        );
        assert!(results.get(other).is_none(), "{text}");
        statuses.push(results["status"].as_str().unwrap().to_string());
    }
    assert_eq!(
        statuses,
        [
            "completed",
            "rolled_back",
            "aborted",
            "completed",
            "aborted"
        ]
    );
    // A scenario's results under `steps` fails the schema: the form is held, not just allowed.
    let mut wrong: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(
            env.home()
                .join("runs")
                .join(&runs[3].0)
                .join("results.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let phases = wrong.as_object_mut().unwrap().remove("phases").unwrap();
    wrong["steps"] = phases;
    assert!(!jsonschema::validator_for(&schema).unwrap().is_valid(&wrong));
}

#[test]
fn examples_builtins_and_seeds_conform() {
    let schema = committed("workflow");
    let dir = format!("{}/examples/workflows", env!("CARGO_MANIFEST_DIR"));
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let value: serde_json::Value =
            serde_yaml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        check(&schema, &value, &path.display().to_string());
    }
    for (name, text) in cortex::definition::BUILTIN_WORKFLOWS {
        let value: serde_json::Value = serde_yaml::from_str(text).unwrap();
        check(&schema, &value, name);
    }
    let scenarios = format!("{}/examples/scenarios", env!("CARGO_MANIFEST_DIR"));
    for entry in std::fs::read_dir(&scenarios).unwrap() {
        let path = entry.unwrap().path();
        let value: serde_json::Value =
            serde_yaml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        check(&committed("scenario"), &value, &path.display().to_string());
    }
    let agents = format!("{}/examples/agents", env!("CARGO_MANIFEST_DIR"));
    for entry in std::fs::read_dir(&agents).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let front = text.split("---").nth(1).unwrap();
        let value: serde_json::Value = serde_yaml::from_str(front).unwrap();
        check(&committed("agent"), &value, &path.display().to_string());
    }
    let seed_config = serde_json::json!({"workflow": {
        "enable_checkpoints": true, "checkpoint_frequency": "per_step", "enable_rollback": true,
        "max_retry_attempts": 3, "timeout_seconds": 3600
    }});
    check(&committed("config"), &seed_config, "the seed configuration");
    let claude_config = serde_json::json!({"agents": {"runner": "claude", "claude": {
        "program": "claude", "permission_mode": "acceptEdits", "model": "sonnet",
        "args": ["--max-turns", "30"]
    }}});
    check(
        &committed("config"),
        &claude_config,
        "a configuration running Claude Code",
    );
    let typo = serde_json::json!({"agents": {"claude": {"permission_mode": "acceptedits"}}});
    assert!(
        !jsonschema::is_valid(&committed("config"), &typo),
        "permission modes are the documented ones in the schema too"
    );
    let bad = serde_json::json!({"workflow": {"max_retries": 3}});
    assert!(
        !jsonschema::is_valid(&committed("config"), &bad),
        "unknown keys are rejected by the schema too"
    );
}

#[test]
fn every_emitted_event_conforms() {
    let env = Env::new();
    let example = std::fs::read_to_string(format!(
        "{}/examples/workflows/build-and-ship.yaml",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    env.workflow("build-and-ship", &example);
    env.workflow("fails", "name: fails\nsteps:\n  - {name: a, run: 'true', rollback: 'true'}\n  - {name: b, run: 'exit 3', retry: {max_retry_attempts: 1, backoff: 1ms}, on_failure: rollback}\n");
    assert_eq!(
        env.run(&[
            "workflow",
            "run",
            "build-and-ship",
            "--input",
            "version=0.1.0"
        ])
        .code,
        0
    );
    assert_eq!(env.run(&["workflow", "run", "fails"]).code, 1);
    assert_eq!(env.run(&["workflow", "run", "onboarding"]).code, 3);
    assert_eq!(
        env.run(&["workflow", "step", "complete", "Setup", "-o", "k=v"])
            .code,
        3,
        "the report drives the run on to the next prompt step"
    );
    assert_eq!(env.run(&["workflow", "abort"]).code, 1);
    let schema = committed("event");
    let validator = jsonschema::validator_for(&schema).unwrap();
    let mut types = std::collections::BTreeSet::new();
    for run in env.run(&["--json", "workflow", "history"]).json()["runs"]
        .clone()
        .as_array()
        .unwrap()
    {
        let export = env.run(&["log", "export", run["run_id"].as_str().unwrap()]);
        for line in export.stdout.lines() {
            let event: serde_json::Value = serde_json::from_str(line).unwrap();
            let errors: Vec<String> = validator
                .iter_errors(&event)
                .map(|e| e.to_string())
                .collect();
            assert!(errors.is_empty(), "{line}\n{}", errors.join("\n"));
            types.insert(event["type"].as_str().unwrap().to_string());
        }
    }
    for t in [
        "run_started",
        "step_succeeded",
        "step_failed",
        "retry_scheduled",
        "rollback_started",
        "step_compensated",
        "step_waiting",
        "run_finished",
    ] {
        assert!(types.contains(t), "no {t} event was checked");
    }
}

/// The ranges written into the schemas are the ones the parser enforces (`definition::limits`
/// and the name rule), so an editor and `cortex validate` agree at every boundary.
#[test]
fn documented_ranges_in_the_schemas_are_the_enforced_ones() {
    use cortex::definition::MAX_NAME_CHARS;
    use cortex::definition::limits::{
        EXIT_CODES, MAX_PARALLEL, MAX_RETRY_ATTEMPTS, MAX_RUN_TIMEOUT_SECONDS, RETRY_BACKOFF,
        STEP_TIMEOUT,
    };
    let workflow = committed("workflow");
    let defs = &workflow["$defs"];
    let seconds = |def: &str, bound: &str| defs[def]["anyOf"][0][bound].as_f64().unwrap();
    assert_eq!(
        seconds("Timeout", "minimum"),
        STEP_TIMEOUT.min.as_secs_f64()
    );
    assert_eq!(
        seconds("Timeout", "maximum"),
        STEP_TIMEOUT.max.as_secs_f64()
    );
    assert_eq!(
        seconds("Backoff", "minimum"),
        RETRY_BACKOFF.min.as_secs_f64()
    );
    assert_eq!(
        seconds("Backoff", "maximum"),
        RETRY_BACKOFF.max.as_secs_f64()
    );
    let retry = &defs["RetrySpec"]["properties"];
    assert_eq!(retry["max_retry_attempts"]["maximum"], MAX_RETRY_ATTEMPTS);
    assert_eq!(
        retry["on_exit_codes"]["items"]["minimum"],
        *EXIT_CODES.start()
    );
    assert_eq!(
        retry["on_exit_codes"]["items"]["maximum"],
        *EXIT_CODES.end()
    );
    assert_eq!(workflow["properties"]["name"]["maxLength"], MAX_NAME_CHARS);
    assert_eq!(
        defs["Step"]["properties"]["name"]["maxLength"],
        MAX_NAME_CHARS
    );
    let scenario = committed("scenario");
    assert_eq!(
        scenario["properties"]["max_parallel"]["maximum"],
        MAX_PARALLEL
    );
    assert_eq!(
        scenario["$defs"]["Phase"]["properties"]["name"]["maxLength"],
        MAX_NAME_CHARS
    );
    let config = committed("config");
    let keys = &config["$defs"]["Config"]["properties"];
    assert_eq!(keys["timeout_seconds"]["maximum"], MAX_RUN_TIMEOUT_SECONDS);
    assert_eq!(keys["max_retry_attempts"]["maximum"], MAX_RETRY_ATTEMPTS);
    assert_eq!(keys["max_parallel"]["minimum"], 1);
    assert_eq!(keys["max_parallel"]["maximum"], MAX_PARALLEL);

    // At the boundaries, the schema and the validator give the same answer.
    let env = Env::new();
    for (timeout, ok) in [
        ("0.001", true),
        ("2592000", true),
        ("2592001", false),
        ("0", false),
    ] {
        let text = format!("name: b\nsteps:\n  - {{name: a, run: 'true', timeout: {timeout}}}\n");
        let value: serde_json::Value = serde_yaml::from_str(&text).unwrap();
        assert_eq!(
            jsonschema::is_valid(&workflow, &value),
            ok,
            "schema, timeout {timeout}"
        );
        env.workflow("b", &text);
        let out = env.run(&["workflow", "validate", "b"]);
        assert_eq!(
            out.code == 0,
            ok,
            "validate, timeout {timeout}: {}",
            out.stderr
        );
    }
}

/// `schemas/openapi.json`'s schema `name`, its `$ref`s resolved within that document.
fn api_schema(name: &str) -> serde_json::Value {
    let path = format!("{}/schemas/openapi.json", env!("CARGO_MANIFEST_DIR"));
    let api: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let (item, array) = match name.strip_prefix('[').and_then(|n| n.strip_suffix(']')) {
        Some(item) => (item, true),
        None => (name, false),
    };
    assert!(
        api["components"]["schemas"].get(item).is_some(),
        "schemas/openapi.json has no schema {item}"
    );
    let one = serde_json::json!({ "$ref": format!("#/components/schemas/{item}") });
    let mut schema = if array {
        serde_json::json!({ "type": "array", "items": one })
    } else {
        one
    };
    schema["components"] = api["components"].clone();
    schema
}

/// Every `--json` document the CLI prints (each command an agent may run, in the states it
/// meets them in, errors included) is one that `schemas/openapi.json` describes: the dry-run
/// plans, `orchestrate validate --all` and `gc` had no schema there.
#[test]
fn every_cli_json_document_is_described_by_a_schema_in_openapi() {
    let env = Env::new();
    let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let scenarios = env.home().join("scenarios");
    std::fs::create_dir_all(&scenarios).unwrap();
    for name in ["full-stack-feature", "parameterized-release"] {
        std::fs::copy(
            examples.join(format!("scenarios/{name}.yaml")),
            scenarios.join(format!("{name}.yaml")),
        )
        .unwrap();
    }
    let rollback = examples.join("workflows/rollback-demo.yaml");
    let rollback = rollback.to_str().unwrap();
    let table: &[(&[&str], &str)] = &[
        (&["workflow", "list"], "[WorkflowRow]"),
        (&["workflow", "validate", "migration"], "WorkflowValid"),
        (&["workflow", "validate", "--all"], "WorkflowValidations"),
        (&["workflow", "status"], "Error"),
        (
            &["workflow", "run", "feature-development", "--dry-run"],
            "Plan",
        ),
        (&["workflow", "run", "feature-development"], "Status"),
        (&["workflow", "resume", "--dry-run"], "Plan"),
        (&["workflow", "status", "--at", "2"], "Status"),
        (&["workflow", "step", "complete", "Plan"], "Status"),
        (&["workflow", "step", "complete", "Nope"], "Error"),
        (&["workflow", "history", "--limit", "5"], "History"),
        (&["workflow", "abort"], "Status"),
        // A finished run has nothing to plan: the resume's own answer, not a `Plan`.
        (&["workflow", "resume", "--dry-run"], "ResumeFinished"),
        (&["workflow", "resume"], "Status"),
        (&["workflow", "run", rollback], "Status"),
        (&["logs", "rollback-demo"], "AttemptLogs"),
        (&["orchestrate", "list"], "[ScenarioRow]"),
        (&["orchestrate", "validate", "--all"], "ScenarioValidations"),
        (
            &["orchestrate", "validate", "full-stack-feature"],
            "ScenarioValidation",
        ),
        (&["orchestrate", "preview", "full-stack-feature"], "Preview"),
        (
            &["orchestrate", "run", "full-stack-feature", "--dry-run"],
            "Plan",
        ),
        (
            &[
                "orchestrate",
                "run",
                "parameterized-release",
                "--input",
                "version=1.2.0",
                "--dry-run",
            ],
            "Plan",
        ),
        (&["orchestrate", "run", "full-stack-feature"], "Status"),
        (
            &["orchestrate", "start", "full-stack-feature", "analysis"],
            "Status",
        ),
        (
            &["orchestrate", "complete", "full-stack-feature", "analysis"],
            "Status",
        ),
        (&["orchestrate", "status"], "Status"),
        (&["orchestrate", "stop", "full-stack-feature"], "Status"),
        (&["orchestrate", "resume", "full-stack-feature"], "Status"),
        (&["orchestrate", "history"], "History"),
        (&["orchestrate", "abort", "full-stack-feature"], "Status"),
        (
            &["orchestrate", "resume", "full-stack-feature", "--dry-run"],
            "ResumeFinished",
        ),
        (&["orchestrate", "status", "nope"], "Error"),
        (&["agent", "list"], "Agents"),
        (&["agent", "status", "python-pro"], "AgentStatus"),
        (&["schedule", "list"], "Schedules"),
        (&["log", "show"], "[Event]"),
        (&["log", "verify", "--all"], "Verify"),
        (&["log", "reindex"], "Reindex"),
        (&["gc", "--dry-run"], "Gc"),
        (&["gc"], "Gc"),
    ];
    for (args, name) in table {
        let out = env.run(&[&["--json"][..], args].concat());
        let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "`{}` printed no JSON document ({e}):\n{}",
                args.join(" "),
                out.stdout
            )
        });
        check(
            &api_schema(name),
            &doc,
            &format!("`cortex --json {}` (as {name})", args.join(" ")),
        );
    }
}

/// `validate --all` under an invalid `cortex.config.json` and user schema says each once, as
/// `config` and `schema` beside the definitions' verdicts: documents openapi describes too.
#[test]
fn validate_all_with_invalid_home_files_is_described_by_openapi() {
    let env = Env::new();
    std::fs::create_dir_all(env.home().join("scenarios")).unwrap();
    env.scenario(
        "s",
        "name: s\ndescription: d\nphases:\n  - name: one\n    run: echo hi\n",
    );
    env.scenario("schema", "required: [name]\nfeilds: {}\n");
    env.config("{\"workflow\":{\"max_retry_attempt\":3}}\n");
    for (args, name, keys) in [
        (
            ["workflow", "validate", "--all"],
            "WorkflowValidations",
            &["config"][..],
        ),
        (
            ["orchestrate", "validate", "--all"],
            "ScenarioValidations",
            &["config", "schema"][..],
        ),
    ] {
        let out = env.run(&[&["--json"][..], &args[..]].concat());
        let doc: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
        for key in keys {
            assert_eq!(doc[key]["valid"], false, "{doc}");
        }
        check(&api_schema(name), &doc, &format!("`{}`", args.join(" ")));
    }
}

/// Names `validate` refuses (a leading `-`, a control character or newline, only spaces, too
/// long) are refused by the editor schemas too, and ordinary names are not.
#[test]
fn schemas_refuse_names_validate_refuses() {
    let workflow = committed("workflow");
    let scenario = committed("scenario");
    let validator = jsonschema::validator_for(&workflow).unwrap();
    let scenarios = jsonschema::validator_for(&scenario).unwrap();
    let wf = |name: &str, step: &str| serde_json::json!({"name": name, "steps": [{"name": step, "run": "true"}]});
    let sc = |name: &str, phase: &str| serde_json::json!({"name": name, "description": "d", "phases": [{"name": phase, "condition": "manual"}]});
    let long = "a".repeat(101);
    for good in [
        "deploy",
        "build docs",
        "say \"hi\"",
        "⚠\u{FE0F} Check",
        "a",
        "Café",
    ] {
        assert!(
            validator.is_valid(&wf(good, good.trim_end_matches('.'))),
            "{good:?}"
        );
        assert!(scenarios.is_valid(&sc(good, good)), "{good:?}");
    }
    for bad in [
        "-json",
        "a\nb",
        "a\u{1b}b",
        "   ",
        " a",
        "a ",
        "",
        long.as_str(),
        "x\u{202E}y",
    ] {
        assert!(!validator.is_valid(&wf(bad, "s")), "workflow {bad:?}");
        assert!(!validator.is_valid(&wf("w", bad)), "step {bad:?}");
        assert!(!scenarios.is_valid(&sc(bad, "p")), "scenario {bad:?}");
        assert!(!scenarios.is_valid(&sc("s", bad)), "phase {bad:?}");
    }
    assert!(!validator.is_valid(&wf("a/b", "s")));
    assert!(!validator.is_valid(&wf("w", "a.b")));
    assert!(!scenarios.is_valid(&sc("s", "a,b")));
}

/// What an editor's schema says of a definition is what `validate` says: durations written as
/// words (`soon`, `fast`), an empty `steps:` or `phases:` list and an `after:` with no phase are
/// refused by both, and the durations and conditions `validate` takes (`1h 30m`, `2 hours`,
/// `1e3` seconds, `after: a, b`) by neither. Before, the schemas let the refused ones through.
#[test]
fn published_schemas_refuse_the_definitions_validate_refuses() {
    let env = Env::new();
    let workflow = jsonschema::validator_for(&committed("workflow")).unwrap();
    let scenario = jsonschema::validator_for(&committed("scenario")).unwrap();
    let agree = |kind: &str, text: &str, ok: bool| {
        let value: serde_json::Value = serde_yaml::from_str(text).unwrap();
        let validator = if kind == "workflow" {
            &workflow
        } else {
            &scenario
        };
        assert_eq!(validator.is_valid(&value), ok, "schema, {text}");
        let path = env.project().join(format!("{kind}.yaml"));
        std::fs::write(&path, text).unwrap();
        let group = if kind == "workflow" {
            "workflow"
        } else {
            "orchestrate"
        };
        let out = env.run(&[group, "validate", path.to_str().unwrap()]);
        assert_eq!(out.code == 0, ok, "validate, {text}: {}", out.text());
    };
    let step = |extra: &str| {
        format!("name: w\ndescription: d\nsteps:\n  - {{name: a, run: 'true', {extra}}}\n")
    };
    for (extra, ok) in [
        ("timeout: soon", false),
        ("timeout: ''", false),
        ("retry: {backoff: fast}", false),
        ("timeout: 1h 30m", true),
        ("timeout: 2 hours", true),
        ("timeout: '1e3'", true),
        ("timeout: '90'", true),
        ("retry: {backoff: 500ms}", true),
    ] {
        agree("workflow", &step(extra), ok);
    }
    agree("workflow", "name: w\ndescription: d\nsteps: []\n", false);
    let phases = |condition: &str| {
        format!(
            "name: s\ndescription: d\nphases:\n  - {{name: a, description: a}}\n  - {{name: b, description: b, condition: '{condition}'}}\n"
        )
    };
    for (condition, ok) in [
        ("after:", false),
        ("after: a,", false),
        ("soon", false),
        ("after:a", true),
        (" after: a ", true),
        ("manual", true),
    ] {
        agree("scenario", &phases(condition), ok);
    }
    agree("scenario", "name: s\ndescription: d\nphases: []\n", false);
}
