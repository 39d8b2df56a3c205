//! Scenarios as complete as workflows (SPEC §11): typed inputs, a phase's `env` and
//! `working_dir`, phase outputs (from `$CORTEX_OUTPUT` and `orchestrate complete --output`)
//! read by later phases, `orchestrate run --dry-run` and `orchestrate abort`.

mod common;

use common::Env;

fn scenario(env: &Env, name: &str, yaml: &str) {
    std::fs::create_dir_all(env.home().join("scenarios")).unwrap();
    std::fs::write(env.home().join(format!("scenarios/{name}.yaml")), yaml).unwrap();
}

const RELEASE: &str = r#"name: release
description: a release with inputs, outputs and a review
inputs:
  version: {type: string, required: true, pattern: '^\d+\.\d+\.\d+$'}
phases:
  - name: build
    description: build ${{ inputs.version }}
    working_dir: out
    env: {TARGET: "app-${{ inputs.version }}"}
    run:
      - echo "artifact=$TARGET.tar" >> "$CORTEX_OUTPUT"
      - pwd > where.txt
  - name: review
    description: review ${{ phases.build.outputs.artifact }}
    condition: after:build
  - name: publish
    condition: after:review
    description: publish
    run: echo "${{ phases.build.outputs.artifact }} ${{ phases.review.outputs.verdict }}" > ../published.txt
    working_dir: out
"#;

#[test]
fn inputs_env_working_dir_and_outputs_flow_through_a_scenario() {
    let env = Env::new();
    scenario(&env, "release", RELEASE);
    std::fs::create_dir_all(env.project().join("out")).unwrap();
    // A bad input records nothing.
    let bad = env.run(&["orchestrate", "run", "release", "--input", "version=one"]);
    assert_eq!(bad.code, 2, "{}{}", bad.stdout, bad.stderr);
    assert!(bad.stderr.contains("version"), "{}", bad.stderr);
    assert_eq!(
        env.run(&["--json", "orchestrate", "history"]).json()["runs"].clone(),
        serde_json::json!([])
    );
    let run = env.run(&["orchestrate", "run", "release", "--input", "version=1.2.3"]);
    assert_eq!(run.code, 3, "{}{}", run.stdout, run.stderr);
    assert_eq!(
        std::fs::read_to_string(env.project().join("out/where.txt"))
            .unwrap()
            .trim(),
        env.project().join("out").display().to_string()
    );
    let status = env.run(&["--json", "orchestrate", "status"]).json();
    assert_eq!(status["inputs"]["version"], "1.2.3");
    assert_eq!(status["phases"][0]["outputs"]["artifact"], "app-1.2.3.tar");
    // The review waits with its prompt rendered with the build's output.
    assert!(
        status["phases"][1]["prompt"]
            .as_str()
            .unwrap()
            .contains("review app-1.2.3.tar"),
        "{status}"
    );
    let done = env.run(&[
        "orchestrate",
        "complete",
        "release",
        "review",
        "--output",
        "verdict=approved",
    ]);
    assert_eq!(done.code, 0, "{}{}", done.stdout, done.stderr);
    assert_eq!(
        std::fs::read_to_string(env.project().join("published.txt")).unwrap(),
        "app-1.2.3.tar approved\n"
    );
}

#[test]
fn a_scenario_template_must_name_a_declared_input_or_an_earlier_phase() {
    let env = Env::new();
    scenario(
        &env,
        "wrong",
        "name: wrong\ndescription: d\nphases:\n  - name: a\n    description: d\n    run: echo ${{ inputs.nope }}\n  - name: b\n    description: d\n    run: echo ${{ phases.c.outputs.x }}\n  - name: c\n    description: d\n    condition: after:b\n",
    );
    let out = env.run(&["--json", "orchestrate", "validate", "wrong"]);
    assert_eq!(out.code, 2, "{}", out.stdout);
    let doc = out.json();
    let messages: Vec<&str> = doc["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["message"].as_str().unwrap())
        .collect();
    assert!(
        messages.iter().any(|m| m.contains("unknown input `nope`")),
        "{messages:?}"
    );
    assert!(
        messages
            .iter()
            .any(|m| m.contains("phase `c`, which does not run before this point")),
        "{messages:?}"
    );
    assert_eq!(doc["errors"][0]["line"], 6);
}

#[test]
fn a_scenario_dry_run_says_what_would_start_and_records_nothing() {
    let env = Env::new();
    scenario(&env, "release", RELEASE);
    let out = env.run(&[
        "orchestrate",
        "run",
        "release",
        "--input",
        "version=1.0.0",
        "--dry-run",
    ]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    insta::assert_snapshot!("scenario_dry_run", out.snapshot(&env));
    assert_eq!(
        env.run(&["--json", "orchestrate", "history"]).json()["runs"].clone(),
        serde_json::json!([])
    );
}

#[test]
fn orchestrate_abort_ends_a_scenario_run_for_good() {
    let env = Env::new();
    scenario(
        &env,
        "gate",
        "name: gate\ndescription: d\nphases:\n  - name: approve\n    description: d\n    condition: manual\n",
    );
    assert_eq!(env.run(&["orchestrate", "run", "gate"]).code, 3);
    let out = env.run(&["orchestrate", "abort", "gate", "--message", "not needed"]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    let status = env.run(&["--json", "orchestrate", "status", "gate"]).json();
    assert_eq!(status["status"], "aborted");
}

#[test]
fn a_phase_env_name_that_is_no_variable_name_is_refused_where_it_is_written() {
    let env = Env::new();
    scenario(
        &env,
        "envbad",
        "name: envbad\ndescription: d\nphases:\n  - name: one\n    description: d\n    env: {\"B=C\": x, \"\": y, GOOD_1: z}\n    run: echo done\n",
    );
    let out = env.run(&["--json", "orchestrate", "validate", "envbad"]);
    assert_eq!(out.code, 2, "{}", out.stdout);
    let errors = out.located_errors();
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(
        errors.iter().any(
            |(m, l, c)| m.contains("`B=C` is not a valid environment variable name")
                && (*l, *c) == (6, 11)
        ),
        "{errors:?}"
    );
    out.assert_error_on_line("an empty name", 6);
    assert_eq!(env.run(&["orchestrate", "run", "envbad"]).code, 2);
}

#[test]
fn a_scenario_s_secret_inputs_and_webhook_inputs_are_never_recorded() {
    let env = Env::new();
    scenario(
        &env,
        "secretive",
        "name: secretive\ndescription: d\ninputs: {api_token: {type: string, required: true}, hook: {type: string, required: true}}\nphases:\n  - name: one\n    description: d\n    run: echo \"tok=${{ inputs.api_token }}\"\nnotify:\n  on_finish:\n    - webhook: \"${{ inputs.hook }}\"\n      retries: 0\n",
    );
    let out = env.run(&[
        "orchestrate",
        "run",
        "secretive",
        "--input",
        "api_token=supersecretvalue",
        "--input",
        "hook=http://127.0.0.1:9/hooks/secretpathzz",
    ]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    for secret in ["supersecretvalue", "secretpathzz"] {
        assert!(
            env.log_holding(secret).is_empty(),
            "`{secret}` is in the log"
        );
        assert!(!out.stdout.contains(secret) && !out.stderr.contains(secret));
    }
}

#[test]
fn resuming_a_scenario_without_its_secret_input_says_how_to_give_it_to_orchestrate_resume() {
    let env = Env::new();
    scenario(
        &env,
        "needs-token",
        "name: needs-token\ndescription: d\ninputs: {api_token: {type: string, required: true}}\nphases:\n  - name: one\n    description: d\n    run: test -f ready\n    retry: {max_retry_attempts: 0}\n  - name: two\n    description: d\n    condition: after:one\n    run: echo \"tok=${{ inputs.api_token }}\"\n",
    );
    let run = env.run(&[
        "orchestrate",
        "run",
        "needs-token",
        "--input",
        "api_token=supersecretvalue",
    ]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    std::fs::write(env.file("ready"), "").unwrap();
    let out = env.run(&["orchestrate", "resume", "needs-token"]);
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains("CORTEX_INPUT_API_TOKEN") && out.stderr.contains("orchestrate resume"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("workflow resume"), "{}", out.stderr);
    let out = env
        .command(&["orchestrate", "resume", "needs-token"])
        .env("CORTEX_INPUT_API_TOKEN", "supersecretvalue")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(env.log_holding("supersecretvalue").is_empty());
}

/// A manual phase whose start was requested while `max_parallel` was used up stayed plain
/// "pending" in status, so an operator could not tell a requested start from none: it says
/// "start requested", and `--json` has `start_requested: true`, until the phase starts.
#[test]
fn a_manual_phase_whose_start_is_held_by_max_parallel_says_its_start_was_requested() {
    let env = Env::new();
    scenario(
        &env,
        "held",
        "name: held\ndescription: one at a time\nmax_parallel: 1\nphases:\n  - {name: first, description: a person, condition: manual}\n  - {name: second, description: a person too, condition: manual}\n",
    );
    assert_eq!(env.run(&["orchestrate", "run", "held"]).code, 3);
    assert_eq!(env.run(&["orchestrate", "start", "held", "first"]).code, 3);
    assert_eq!(env.run(&["orchestrate", "start", "held", "second"]).code, 3);
    let status = env.run(&["orchestrate", "status", "held"]);
    assert!(
        status
            .stdout
            .contains("second  - ready: waiting for a free slot (max_parallel 1, held by `first`), start requested"),
        "{}",
        status.stdout
    );
    let doc = env.run(&["--json", "orchestrate", "status", "held"]).json();
    let phase = |name: &str| common::phase(&doc, name).clone();
    assert_eq!(phase("second")["start_requested"], true, "{doc}");
    assert!(phase("first").get("start_requested").is_none(), "{doc}");
    // Once the slot is free the requested phase starts by itself, and the mark is gone.
    assert_eq!(
        env.run(&["orchestrate", "complete", "held", "first"]).code,
        3
    );
    let doc = env.run(&["--json", "orchestrate", "status", "held"]).json();
    let second = doc["phases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "second")
        .unwrap()
        .clone();
    assert_eq!(second["status"], "waiting", "{doc}");
    assert!(second.get("start_requested").is_none(), "{doc}");
}

/// A phase whose condition holds but which waits for a free slot (`max_parallel`) was shown
/// `pending` in `orchestrate status`, as if its `after:` phases had not ended: it is `ready`
/// (SPEC §5), and says what holds it, on the screen and in `--json` (`waits_for_slot`); a
/// phase whose `after:` phase has not ended stays `pending`.
#[test]
fn a_phase_waiting_for_a_free_slot_is_ready_and_says_what_holds_it() {
    let env = Env::new();
    scenario(
        &env,
        "slots",
        "name: slots\ndescription: two at a time\nmax_parallel: 2\nphases:\n  - {name: a, description: first, parallel: true}\n  - {name: b, description: second, parallel: true}\n  - {name: c, description: third, parallel: true}\n  - {name: d, description: after a, condition: 'after:a', parallel: true}\n",
    );
    assert_eq!(env.run(&["orchestrate", "run", "slots"]).code, 3);
    let status = env.run(&["orchestrate", "status", "slots"]);
    insta::assert_snapshot!("phase_waiting_for_a_free_slot", status.snapshot(&env));
    let doc = env
        .run(&["--json", "orchestrate", "status", "slots"])
        .json();
    let phase = |doc: &serde_json::Value, name: &str| {
        doc["phases"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .unwrap()
            .clone()
    };
    let c = phase(&doc, "c");
    assert_eq!(c["status"], "ready", "{doc}");
    assert_eq!(c["waits_for_slot"]["max_parallel"], 2, "{doc}");
    assert_eq!(
        c["waits_for_slot"]["held_by"],
        serde_json::json!(["a", "b"]),
        "{doc}"
    );
    assert_eq!(
        c["waits_for_slot"]["note"], "waiting for a free slot (max_parallel 2, held by `a`, `b`)",
        "{doc}"
    );
    let d = phase(&doc, "d");
    assert_eq!(d["status"], "pending", "{doc}");
    assert!(d.get("waits_for_slot").is_none(), "{doc}");
    // A slot frees: `c` starts by itself (and `d`'s condition holds: it waits for a slot now).
    assert_eq!(env.run(&["orchestrate", "complete", "slots", "a"]).code, 3);
    let doc = env
        .run(&["--json", "orchestrate", "status", "slots"])
        .json();
    assert_eq!(phase(&doc, "c")["status"], "waiting", "{doc}");
    assert!(phase(&doc, "c").get("waits_for_slot").is_none(), "{doc}");
    assert_eq!(phase(&doc, "d")["status"], "ready", "{doc}");
    assert_eq!(
        phase(&doc, "d")["waits_for_slot"]["held_by"],
        serde_json::json!(["b", "c"]),
        "{doc}"
    );
}

/// Seen by a review: a command phase held back by a non-parallel phase waiting for a report
/// was reported on, and the refusal said "report it once the run goes on to it and it waits
/// for a report", which it never does (the engine runs its `run:`). The hint and the status
/// line say it is a command phase the engine runs after that phase ends (the `parallel:
/// false` rule, SPEC §4), and tell nobody to report it.
#[test]
fn a_command_phase_held_by_a_waiting_phase_is_never_to_be_reported() {
    let env = Env::new();
    scenario(
        &env,
        "pf",
        "name: pf\ndescription: x\nphases:\n  - {name: mk, description: m, run: \"echo made\"}\n  - {name: rev, description: r, condition: \"after:mk\"}\n  - {name: other, description: o, run: \"sleep 2\"}\n",
    );
    assert_eq!(env.run(&["orchestrate", "run", "pf"]).code, 3);
    let out = env.run(&["orchestrate", "complete", "pf", "other"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains(
            "`other` is a command phase (its `run:`): the engine runs it after `rev` ends (the `parallel: false` slot"
        ) && out.stderr.contains("nothing to report by hand"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("report it once"), "{}", out.stderr);
    let status = env.run(&["orchestrate", "status", "pf"]);
    assert!(
        status.stdout.contains(
            "other  - ready: waiting for `rev` to end (phases with `parallel: false` run one at a time); then the engine runs its command (nothing to report)"
        ),
        "{}",
        status.stdout
    );
}

/// A non-parallel phase whose condition holds, kept out by another non-parallel phase while
/// `max_parallel` leaves a slot, is `ready` too and names the phase it waits for.
#[test]
fn a_non_parallel_phase_held_by_another_is_ready_and_names_it() {
    let env = Env::new();
    scenario(
        &env,
        "turns",
        "name: turns\ndescription: one non-parallel at a time\nmax_parallel: 3\nphases:\n  - {name: lint, description: beside anything, parallel: true}\n  - {name: migrate, description: alone}\n  - {name: seed, description: alone too}\n",
    );
    assert_eq!(env.run(&["orchestrate", "run", "turns"]).code, 3);
    let status = env.run(&["orchestrate", "status", "turns"]);
    insta::assert_snapshot!(
        "phase_waiting_for_a_non_parallel_phase",
        status.snapshot(&env)
    );
    let doc = env
        .run(&["--json", "orchestrate", "status", "turns"])
        .json();
    let seed = doc["phases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "seed")
        .unwrap()
        .clone();
    assert_eq!(seed["status"], "ready", "{doc}");
    assert_eq!(seed["waits_for_slot"]["one_at_a_time"], true, "{doc}");
    assert_eq!(
        seed["waits_for_slot"]["held_by"],
        serde_json::json!(["migrate"]),
        "{doc}"
    );
}

/// A phase's `success_criteria: - check:` may read the phase's own outputs, as a workflow
/// step's `validate: - run:` reads the step's: written to $CORTEX_OUTPUT by the phase's
/// command, or reported with `orchestrate complete --output`, and rendered when the check
/// runs. Before, `validate` refused it ("does not run before this point").
#[test]
fn a_phase_check_reads_the_phases_own_outputs() {
    let env = Env::new();
    scenario(
        &env,
        "gated",
        r#"name: gated
description: checks that read their own phase's outputs
phases:
  - name: build
    description: build
    run: echo "artifact=app.tar" >> "$CORTEX_OUTPUT"
    success_criteria:
      - check: test "${{ phases.build.outputs.artifact }}" = app.tar
  - name: review
    description: review
    condition: after:build
    success_criteria:
      - check: 'echo "verdict: ${{ phases.review.outputs.verdict }}"; test "${{ phases.review.outputs.verdict }}" = approved'
  - name: publish
    description: publish
    condition: after:review
    run: echo published > published.txt
"#,
    );
    let valid = env.run(&["orchestrate", "validate", "gated"]);
    assert_eq!(valid.code, 0, "{}", valid.text());
    let run = env.run(&["orchestrate", "run", "gated"]);
    assert_eq!(run.code, 3, "{}", run.text());
    let status = env.run(&["--json", "orchestrate", "status"]).json();
    assert_eq!(status["phases"][0]["status"], "completed", "{status}");
    let rejected = env.run(&[
        "orchestrate",
        "complete",
        "gated",
        "review",
        "--output",
        "verdict=rejected",
    ]);
    assert_ne!(rejected.code, 0, "{}", rejected.text());
    assert!(
        !env.project().join("published.txt").exists(),
        "the check refused the report"
    );
    let done = env.run(&[
        "orchestrate",
        "complete",
        "gated",
        "review",
        "--output",
        "verdict=approved",
    ]);
    assert_eq!(done.code, 0, "{}", done.text());
    assert_eq!(
        std::fs::read_to_string(env.project().join("published.txt")).unwrap(),
        "published\n"
    );
}

/// `orchestrate preview` renders the templates of inputs that have a default, as `run
/// --dry-run` does (before, a description said `${{ inputs.dir }}` though `dir` defaults to
/// `src`); an input with no default is said in words as the dry run says it (`(no input
/// `target`: none was given)`), and a secret one is `***`.
#[test]
fn preview_renders_inputs_with_their_defaults() {
    let env = Env::new();
    env.scenario(
        "p",
        r#"name: p
description: build in ${{ inputs.dir }}
inputs:
  dir: {type: string, default: src}
  target: {type: string}
  api_token: {type: string, default: s3c}
phases:
  - name: build
    description: build ${{ inputs.dir }} for ${{ inputs.target }}
    run: make -C ${{ inputs.dir }} TOKEN=${{ inputs.api_token }}
    success_criteria:
      - "${{ inputs.dir }} builds"
"#,
    );
    let out = env.run(&["orchestrate", "preview", "p"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(!out.stdout.contains("s3c"), "{}", out.stdout);
    assert!(
        out.stdout
            .contains("build src for (no input `target`: none was given)"),
        "{}",
        out.stdout
    );
    insta::assert_snapshot!("preview_with_input_defaults", out.snapshot(&env));
}

/// Review m, finding 2: `orchestrate preview` showed a template of another phase's output raw
/// (`Review ${{ phases.build.outputs.artifact }}`) where `run --dry-run` says it in words; a
/// check's value not known before the run is said apart from its command in both. One
/// rendering for both (`render::render_prompt`).
#[test]
fn preview_and_dry_run_render_a_value_not_known_before_the_run_alike() {
    let env = Env::new();
    let example = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("examples/scenarios/parameterized-release.yaml"),
    )
    .unwrap();
    let example = example.replace(
        "      - Changelog entry present\n",
        "      - Changelog entry present\n      - check: test -n \"${{ phases.build.outputs.artifact }}\"\n",
    );
    env.scenario("parameterized-release", &example);
    let args = ["parameterized-release", "--input", "version=1.2.0"];
    let preview = env.run(&[&["orchestrate", "preview"][..], &args].concat());
    assert_eq!(preview.code, 0, "{}{}", preview.stdout, preview.stderr);
    let dry = env.run(&[&["orchestrate", "run"][..], &args, &["--dry-run"]].concat());
    assert_eq!(dry.code, 0, "{}{}", dry.stdout, dry.stderr);
    let review = "Review (output `artifact` of phase `build`, not given yet); report with --output verdict=...";
    let note = "(`${{ phases.build.outputs.artifact }}`: output `artifact` of phase `build`, not given yet)";
    for out in [&preview, &dry] {
        assert!(out.stdout.contains(review), "{}", out.stdout);
        assert!(
            out.stdout
                .contains("check: test -n \"${{ phases.build.outputs.artifact }}\"\n"),
            "{}",
            out.stdout
        );
        assert!(out.stdout.contains(note), "{}", out.stdout);
        assert!(!out.stdout.contains("\"(output"), "{}", out.stdout);
    }
    insta::assert_snapshot!(
        "preview_value_not_known_before_the_run",
        preview.snapshot(&env)
    );
}

/// Found by a review of the human output: `orchestrate preview` spliced an input's value into
/// a shown command as text (`echo a; $(touch pwned)`: two commands, one substituting), where a
/// run passes it as data (one word, never read as shell code). The preview shows each command
/// as it runs: the value quoted for where it stands, so that the line, pasted, does what the
/// run does; a secret one `***`, in the human form and in `--json` (whose definition kept the
/// secret default).
#[test]
fn preview_shows_commands_as_they_run_with_hostile_values_quoted_and_secrets_redacted() {
    let env = Env::new();
    env.scenario(
        "hostile",
        r#"name: hostile
description: d
inputs:
  msg: {type: string, default: "a; $(touch pwned) `id` \"q\" 'r' \\ *"}
  api_token: {type: string, default: s3c}
phases:
  - name: show
    description: says ${{ inputs.msg }}
    run: printf '<%s>' ${{ inputs.msg }} "${{ inputs.msg }}" 'x${{ inputs.msg }}y' > shown.txt
    success_criteria:
      - check: test -n "${{ inputs.msg }}${{ inputs.api_token }}"
"#,
    );
    let out = env.run(&["orchestrate", "preview", "hostile"]);
    assert_eq!(out.code, 0, "{}", out.text());
    assert!(!out.text().contains("s3c"), "{}", out.stdout);
    insta::assert_snapshot!("preview_hostile_values", out.snapshot(&env));
    let json = env.run(&["--json", "orchestrate", "preview", "hostile"]);
    assert!(!json.text().contains("s3c"), "{}", json.stdout);
    assert_eq!(
        json.json()["scenario"]["inputs"]["api_token"]["default"],
        "***"
    );
    // The shown line, pasted, writes what the run writes.
    let shown = out
        .stdout
        .lines()
        .find_map(|l| l.trim_start().strip_prefix("Runs: "))
        .unwrap()
        .to_string();
    let elsewhere = env.project().join("pasted");
    std::fs::create_dir_all(&elsewhere).unwrap();
    let pasted = std::process::Command::new("sh")
        .arg("-c")
        .arg(&shown)
        .current_dir(&elsewhere)
        .status()
        .unwrap();
    assert!(pasted.success(), "{shown}");
    let run = env.run(&["orchestrate", "run", "hostile"]);
    assert_eq!(run.code, 0, "{}", run.text());
    assert_eq!(
        std::fs::read_to_string(elsewhere.join("shown.txt")).unwrap(),
        std::fs::read_to_string(env.project().join("shown.txt")).unwrap(),
        "{shown}"
    );
    assert!(!env.project().join("pwned").exists());
    assert!(!elsewhere.join("pwned").exists());
}

/// A failed phase pauses the scenario before an independent ready phase starts (fail-fast,
/// DESIGN.md §4b): the failure report and `orchestrate status` (human and `--json`) name the
/// phase that was ready and never started, and say a resume runs it; `--skip` then does.
/// Before, it showed only `pending` with 0 attempts, as if its condition did not hold.
#[test]
fn a_failed_phase_names_the_ready_phases_it_kept_from_starting() {
    let env = Env::new();
    env.scenario(
        "ind",
        "name: ind\ndescription: x\nphases:\n  - name: bad\n    description: fails\n    run: exit 1\n    retry: {max_retry_attempts: 0}\n  - name: good\n    description: independent\n    run: echo good\n  - name: later\n    description: after bad\n    condition: after:bad\n    run: echo later\n",
    );
    let run = env.run(&["orchestrate", "run", "ind"]);
    assert_eq!(run.code, 1, "{}", run.text());
    let said = "Not started: `good` was ready, but a failed phase pauses the scenario before anything else starts; a resume (`--retry` or `--skip`) runs it";
    assert!(run.stdout.contains(said), "{}", run.stdout);
    let status = env.run(&["orchestrate", "status", "ind"]);
    assert!(status.stdout.contains(said), "{}", status.stdout);
    let doc: serde_json::Value =
        serde_json::from_str(&env.run(&["--json", "orchestrate", "status", "ind"]).stdout).unwrap();
    // `later` waits on `bad`: not ready, not named.
    assert_eq!(
        doc["ready_not_started"],
        serde_json::json!(["good"]),
        "{doc:#}"
    );
    let resumed = env.run(&["orchestrate", "resume", "ind", "--skip"]);
    assert_eq!(resumed.code, 0, "{}", resumed.text());
    let doc: serde_json::Value =
        serde_json::from_str(&env.run(&["--json", "orchestrate", "status", "ind"]).stdout).unwrap();
    assert!(doc.get("ready_not_started").is_none(), "{doc:#}");
}
