//! One answer for one situation, on the real binary: a refused phase report lists its problems
//! as a refused step report does, a second stop or abort records nothing and says so,
//! `run --start` finds a phase as `orchestrate start` does, every validation error keeps its
//! place, and a prompt names an output that is missing rather than showing its template.

mod common;

use common::Env;

fn events(env: &Env, run: &str) -> usize {
    env.events(run).len()
}

fn run_id(env: &Env, args: &[&str]) -> String {
    let out = env.run(args);
    let doc = out.json();
    doc["run_id"]
        .as_str()
        .unwrap_or_else(|| panic!("no run_id: {}{}", out.stdout, out.stderr))
        .to_string()
}

/// `orchestrate complete` refused by its `check:` criteria put both problems in the error
/// string joined with `;` and left `errors: []`, where a step refused by its `validate:` gate
/// lists one entry per problem and the detail: the same shape for both (SPEC §7).
fn a_phase_refused_by_its_checks_lists_every_problem_as_a_refused_step_does(env: Env) {
    env.scenario(
        "crit",
        "name: crit\ndescription: d\nphases:\n  - name: Build\n    description: build it\n    success_criteria:\n      - check: \"test -f notes.txt\"\n      - check: \"grep -q done notes.txt\"\n",
    );
    let run = run_id(&env, &["--json", "orchestrate", "run", "crit"]);
    let before = events(&env, &run);
    let refused = env.run(&["--json", "orchestrate", "complete", "crit", "Build"]);
    assert_eq!(refused.code, 2, "{}{}", refused.stdout, refused.stderr);
    let doc = refused.json();
    let messages: Vec<&str> = doc["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["message"].as_str().unwrap())
        .collect();
    assert_eq!(messages.len(), 2, "{doc}");
    assert!(messages[0].contains("test -f notes.txt"), "{doc}");
    assert!(messages[1].contains("grep -q done notes.txt"), "{doc}");
    assert!(
        doc["detail"].as_str().unwrap().contains("grep -q done"),
        "{doc}"
    );
    assert_eq!(events(&env, &run), before, "nothing recorded");
    // The step's refusal, for the shape.
    env.workflow(
        "g",
        "name: g\nsteps:\n  - name: Plan\n    prompt: p\n    validate: [{output: plan}, {run: test -f plan-ok}]\n",
    );
    assert_eq!(env.run(&["workflow", "run", "g"]).code, 3);
    let step = env
        .run(&["--json", "workflow", "step", "complete", "Plan"])
        .json();
    let keys =
        |d: &serde_json::Value| -> Vec<String> { d.as_object().unwrap().keys().cloned().collect() };
    assert_eq!(keys(&doc), keys(&step));
    assert_eq!(keys(&doc["errors"][0]), keys(&step["errors"][0]));
    assert_eq!(
        step["error"],
        "`Plan` cannot be reported complete (2 problems)"
    );
    assert_eq!(
        doc["error"],
        "`Build` cannot be reported complete (2 problems)"
    );
    insta::assert_snapshot!(
        "phase_refused_by_its_checks",
        env.run(&["orchestrate", "complete", "crit", "Build"])
            .snapshot(&env)
    );
    // Fixed, the same report goes through.
    std::fs::write(env.file("notes.txt"), "done\n").unwrap();
    let done = env.run(&["orchestrate", "complete", "crit", "Build"]);
    assert_eq!(done.code, 0, "{}{}", done.stdout, done.stderr);
}

/// `orchestrate stop` of a stopped run appended another `stop_requested` + `run_stopped` pair
/// each time; of a finished run it was an error (exit 2), and so was `workflow abort` of an
/// aborted run, where `resume` of a finished run says so and exits with its outcome's code.
/// Now a stop or abort of a run already where it would leave it records nothing, says so
/// (`note` in the document) and exits with the code of how the run stands.
fn a_second_stop_or_abort_records_nothing_and_says_so(env: Env) {
    env.scenario(
        "gate",
        "name: gate\ndescription: d\nphases:\n  - {name: a, description: a, condition: manual}\n",
    );
    let run = run_id(&env, &["--json", "orchestrate", "run", "gate"]);
    assert_eq!(env.run(&["orchestrate", "stop", "gate"]).code, 3);
    let stopped = events(&env, &run);
    let again = env.run(&["orchestrate", "stop", "gate"]);
    assert_eq!(again.code, 3, "{}{}", again.stdout, again.stderr);
    insta::assert_snapshot!("stop_of_a_stopped_run", again.snapshot(&env));
    let json = env.run(&["--json", "orchestrate", "stop", &run]);
    assert_eq!(json.code, 3);
    let doc = json.json();
    assert_eq!(doc["status"], "stopped", "{doc}");
    assert!(
        doc["note"].as_str().unwrap().contains("already stopped"),
        "{doc}"
    );
    assert_eq!(events(&env, &run), stopped, "nothing recorded");
    // Finished: as `resume` of a finished run answers.
    assert_eq!(env.run(&["orchestrate", "abort", &run]).code, 1);
    let aborted = events(&env, &run);
    for verb in ["stop", "abort"] {
        let out = env.run(&["orchestrate", verb, &run]);
        assert_eq!(out.code, 1, "{verb}: {}{}", out.stdout, out.stderr);
        assert!(
            out.stdout
                .contains(&format!("already finished (aborted); nothing to {verb}.")),
            "{verb}: {}",
            out.stdout
        );
        let doc = env.run(&["--json", "orchestrate", verb, &run]).json();
        assert_eq!(doc["status"], "aborted", "{doc}");
        assert!(
            doc["note"]
                .as_str()
                .unwrap()
                .contains("nothing was recorded")
        );
    }
    assert_eq!(events(&env, &run), aborted, "nothing recorded");
    // A workflow's abort likewise: of an aborted run (exit 1), of a completed one (exit 0).
    env.workflow("w", "name: w\nsteps:\n  - name: A\n    prompt: p\n");
    let w = run_id(&env, &["--json", "workflow", "run", "w"]);
    assert_eq!(env.run(&["workflow", "abort", "w"]).code, 1);
    let aborted = events(&env, &w);
    let again = env.run(&["workflow", "abort", "w"]);
    assert_eq!(again.code, 1, "{}{}", again.stdout, again.stderr);
    insta::assert_snapshot!("abort_of_an_aborted_run", again.snapshot(&env));
    assert_eq!(events(&env, &w), aborted, "nothing recorded");
    let done = run_id(&env, &["--json", "workflow", "run", "w"]);
    assert_eq!(env.run(&["workflow", "step", "complete", "A"]).code, 0);
    let completed = events(&env, &done);
    let out = env.run(&["--json", "workflow", "abort", &done]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert_eq!(out.json()["status"], "completed");
    assert_eq!(events(&env, &done), completed, "nothing recorded");
}

/// `orchestrate run NAME --start Analysis` was refused ("not a manual phase ... manual
/// phases: analysis") while `orchestrate start NAME Analysis` found the phase: names are
/// matched forgivingly (SPEC §2), for `--start` as for `start`.
fn run_start_finds_a_manual_phase_as_orchestrate_start_does(env: Env) {
    env.scenario(
        "feat",
        "name: feat\ndescription: d\nphases:\n  - {name: analysis, description: a, condition: manual}\n  - {name: build, description: b, condition: 'after:analysis'}\n",
    );
    let plan = env.run(&[
        "orchestrate",
        "run",
        "feat",
        "--start",
        "Analysis",
        "--dry-run",
    ]);
    assert_eq!(plan.code, 0, "{}{}", plan.stdout, plan.stderr);
    assert!(
        plan.stdout.contains("analysis: starts at once (--start)"),
        "{}",
        plan.stdout
    );
    let out = env.run(&[
        "--json",
        "orchestrate",
        "run",
        "feat",
        "--start",
        "Analysis",
        "--start",
        "ANALYSIS",
    ]);
    assert_eq!(out.code, 3, "{}{}", out.stdout, out.stderr);
    let doc = out.json();
    assert_eq!(doc["phases"][0]["name"], "analysis", "{doc}");
    assert_eq!(doc["phases"][0]["status"], "waiting", "{doc}");
    // Still refused: a phase that is not manual, or that does not exist.
    for phase in ["Build", "nope"] {
        let out = env.run(&["orchestrate", "run", "feat", "--start", phase]);
        assert_eq!(out.code, 2, "{phase}: {}", out.stderr);
        assert!(
            out.stderr.contains("manual phases: analysis"),
            "{}",
            out.stderr
        );
    }
}

/// A problem found after an unknown key was set aside (`on_failure: explode` after `promt:`)
/// was found in the text re-written without that key, and lost its line and column
/// (`"line": null`); alone in the file it is at 7:17. Every problem keeps its place.
fn a_problem_after_an_unknown_key_keeps_its_line_and_column(env: Env) {
    env.workflow(
        "bad",
        "name: bad\nsteps:\n  - name: A\n    promt: x\n  - name: B\n    run: echo\n    on_failure: explode\n",
    );
    let out = env.run(&["--json", "workflow", "validate", "bad"]);
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    let errors = out.located_errors();
    // The unknown variant no longer hides the rest: the step left with nothing to do (its
    // `promt:` set aside) is said too, as it is when `promt:` is the only slip.
    assert_eq!(errors.len(), 3, "{errors:?}");
    let at = |needle: &str| {
        errors
            .iter()
            .find(|e| e.0.contains(needle))
            .map(|e| (e.1, e.2))
    };
    assert_eq!(at("promt"), Some((4, 5)), "{errors:?}");
    assert_eq!(at("explode"), Some((7, 17)), "{errors:?}");
    assert_eq!(at("nothing to do"), Some((3, 5)), "{errors:?}");
    let human = env.run(&["workflow", "validate", "bad"]);
    insta::assert_snapshot!("problem_after_an_unknown_key", human.snapshot(&env));
    // A scenario's the same way.
    env.scenario(
        "bs",
        "name: bs\ndescription: d\nphases:\n  - name: a\n    descripton: x\n  - name: b\n    parallel: maybe\n",
    );
    let out = env.run(&["--json", "orchestrate", "validate", "bs"]);
    let errors = out.located_errors();
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert_eq!((errors[0].1, errors[0].2), (5, 5), "{errors:?}");
    assert_eq!((errors[1].1, errors[1].2), (7, 15), "{errors:?}");
}

/// A prompt reading an output of a skipped step was shown raw (`Implement per ${{
/// steps.Plan.outputs.plan }}`) in status and `--json`, while a command reading it gets an
/// empty string. A prompt now says what is missing and why, the same wherever it is shown:
/// status, `--json`, and an agent's stdin.
fn a_prompt_reading_an_output_of_a_skipped_step_says_it_is_missing(env: Env) {
    std::fs::create_dir_all(env.home().join("agents")).unwrap();
    std::fs::write(
        env.home().join("agents/reader.md"),
        "---\nname: reader\ndescription: keeps its prompt\ncommand: cat > prompt.txt\n---\nReads.\n",
    )
    .unwrap();
    env.workflow(
        "t",
        "name: t\nsteps:\n  - name: Plan\n    prompt: p\n  - name: Impl\n    prompt: \"Implement per ${{ steps.Plan.outputs.plan }}\"\n  - name: Review\n    agent: reader\n    prompt: \"Review ${{ steps.Plan.outputs.plan }} and ${{ steps.Impl.outputs.diff }}\"\n",
    );
    assert_eq!(env.run(&["workflow", "run", "t"]).code, 3);
    let skipped = env.run(&["workflow", "resume", "--skip"]);
    assert_eq!(skipped.code, 3, "{}{}", skipped.stdout, skipped.stderr);
    let marker = "(no output `plan` of step `Plan`: it was skipped)";
    assert!(skipped.stdout.contains(marker), "{}", skipped.stdout);
    let status = env.status(None);
    assert_eq!(
        status["steps"][1]["prompt"],
        format!("Implement per {marker}"),
        "{status}"
    );
    let human = env.run(&["workflow", "status"]);
    assert!(!human.stdout.contains("${{"), "{}", human.stdout);
    insta::assert_snapshot!("prompt_of_a_skipped_output", human.snapshot(&env));
    // The agent reads what status showed: Impl completed without writing `diff`.
    let done = env.run(&["workflow", "step", "complete", "Impl"]);
    assert_eq!(done.code, 0, "{}{}", done.stdout, done.stderr);
    assert_eq!(
        std::fs::read_to_string(env.file("prompt.txt")).unwrap(),
        format!("Review {marker} and (no output `diff` of step `Impl`: it wrote none)")
    );
}

/// `orchestrate abort` with no run acts on the latest scenario run, as every command with no
/// run does (SPEC §5): once that one has ended, it says so and records nothing. Before, it
/// picked the latest *unfinished* run and aborted an older run nobody named; and a second
/// `orchestrate abort NAME` was an error (exit 2, "no unfinished run") where `workflow abort
/// NAME` says the run already ended.
fn a_bare_abort_or_stop_never_ends_an_older_run_nobody_named(env: Env) {
    for name in ["s1", "s2"] {
        env.scenario(
            name,
            &format!("name: {name}\ndescription: d\nphases:\n  - {{name: m, description: m, condition: manual}}\n"),
        );
    }
    let s1 = run_id(&env, &["--json", "orchestrate", "run", "s1"]);
    let s2 = run_id(&env, &["--json", "orchestrate", "run", "s2"]);
    assert_eq!(env.run(&["orchestrate", "abort", "s2"]).code, 1);
    let before = events(&env, &s1);
    for args in [
        &["orchestrate", "abort", "s2"][..],
        &["orchestrate", "abort"],
        &["orchestrate", "stop"],
        &["orchestrate", "stop", "s2"],
    ] {
        let out = env.run(args);
        assert_eq!(out.code, 1, "{args:?}: {}{}", out.stdout, out.stderr);
        assert!(
            out.stdout.contains(&s2) && out.stdout.contains("already finished (aborted)"),
            "{args:?}: {}",
            out.stdout
        );
    }
    assert_eq!(events(&env, &s1), before, "s1 was never named");
    let s1_status = env.run(&["--json", "orchestrate", "status", &s1]).json();
    assert_eq!(s1_status["status"], "waiting", "{s1_status}");
}

/// A success criterion reading an output the run does not have (its phase was skipped) shows
/// what is missing, as the phase's prompt does — in the human checklist and in `--json`
/// `criteria`. Before, the checklist showed the raw `${{ }}`.
fn a_criterion_reading_a_missing_output_says_it_is_missing(env: Env) {
    env.scenario(
        "mk",
        "name: mk\ndescription: d\nphases:\n  - name: build\n    description: b\n    if: \"false\"\n    run: echo \"ver=1.2.3\" >> \"$CORTEX_OUTPUT\"\n  - name: verify\n    description: v\n    condition: after:build\n    success_criteria:\n      - \"version ${{ phases.build.outputs.ver }} is tagged\"\n",
    );
    assert_eq!(env.run(&["orchestrate", "run", "mk"]).code, 3);
    let marker = "version (no output `ver` of phase `build`: it was skipped) is tagged";
    let doc = env.run(&["--json", "orchestrate", "status", "mk"]).json();
    assert_eq!(
        doc["phases"][1]["criteria"][0]["criterion"], marker,
        "{doc}"
    );
    let human = env.run(&["orchestrate", "status", "mk"]).stdout;
    assert!(human.contains(marker), "{human}");
    assert!(!human.contains("${{"), "{human}");
}

common::on_both_stores!(
    a_bare_abort_or_stop_never_ends_an_older_run_nobody_named,
    a_criterion_reading_a_missing_output_says_it_is_missing,
    a_phase_refused_by_its_checks_lists_every_problem_as_a_refused_step_does,
    a_second_stop_or_abort_records_nothing_and_says_so,
    run_start_finds_a_manual_phase_as_orchestrate_start_does,
    a_problem_after_an_unknown_key_keeps_its_line_and_column,
    a_prompt_reading_an_output_of_a_skipped_step_says_it_is_missing,
);

/// A `check:` criterion is shown as the engine will run it, alike in the prompt (an agent's
/// stdin, the rendered prompt of a waiting phase), the checklist, the gate lines and
/// `--json`: a value the run has written as the shell reads the value it is given, and a
/// template with no value yet (its own phase's output, until the report gives it) kept as
/// written in the command and said in words apart from it, "(`${{ ... }}`: output `file`,
/// not given yet)". Before, the prompt spliced those words into the command (`test -f
/// "(output `file`, not given yet)"`: a command that always passes, not the one the engine
/// runs) and the status showed the templates raw (review m, finding 3). The check's own output
/// is what the report must give: the suggestion carries `--output note=VALUE`, said as what
/// its gate reads.
fn a_check_reading_its_own_phases_output_is_shown_as_it_will_run(env: Env) {
    std::fs::create_dir_all(env.home().join("agents")).unwrap();
    std::fs::write(
        env.home().join("agents/writer.md"),
        "---\nname: writer\ndescription: keeps its prompt\ncommand: cat > prompt.txt; touch made; echo file=made >> \"$CORTEX_OUTPUT\"\n---\nWrites.\n",
    )
    .unwrap();
    env.scenario(
        "w",
        "name: w\ndescription: d\nphases:\n  - name: write\n    description: write a file\n    agents: [writer]\n    success_criteria:\n      - check: 'test -f \"${{ phases.write.outputs.file }}\"'\n  - name: later\n    description: by hand\n    condition: after:write\n    success_criteria:\n      - check: 'test -f \"${{ phases.write.outputs.file }}\"'\n      - check: 'test -n \"${{ phases.later.outputs.note }}\"'\n",
    );
    let out = env.run(&["orchestrate", "run", "w"]);
    assert_eq!(out.code, 3, "{}{}", out.stdout, out.stderr);
    let prompt = std::fs::read_to_string(env.file("prompt.txt")).unwrap();
    assert!(
        prompt.contains(
            "- check: test -f \"${{ phases.write.outputs.file }}\"\n  (`${{ phases.write.outputs.file }}`: output `file`, not given yet)\n"
        ),
        "{prompt}"
    );
    assert!(!prompt.contains("\"(output"), "{prompt}");
    assert!(!prompt.contains("has not completed"), "{prompt}");
    // The later phase's checks as its prompt shows them: the value the run has where the
    // output they read has one, a missing one in words apart (`render_check_in`).
    let doc = env.run(&["--json", "orchestrate", "status", "w"]).json();
    let criteria = &doc["phases"][1]["criteria"];
    assert_eq!(criteria[0]["criterion"], "check: test -f \"made\"", "{doc}");
    assert!(criteria[0].get("without_value").is_none(), "{doc}");
    assert_eq!(
        criteria[1]["criterion"], "check: test -n \"${{ phases.later.outputs.note }}\"",
        "{doc}"
    );
    assert_eq!(
        criteria[1]["without_value"],
        serde_json::json!(["`${{ phases.later.outputs.note }}`: output `note`, not given yet"]),
        "{doc}"
    );
    let prompt = doc["phases"][1]["prompt"].as_str().unwrap_or_default();
    assert!(
        prompt.contains("- check: test -f \"made\"\n")
            && prompt.contains(
                "- check: test -n \"${{ phases.later.outputs.note }}\"\n  (`${{ phases.later.outputs.note }}`: output `note`, not given yet)"
            ),
        "{doc}"
    );
    assert!(!out.stdout.contains("has not completed"), "{}", out.stdout);
    insta::assert_snapshot!(
        "check_reading_own_output",
        env.run(&["orchestrate", "status", "w"]).snapshot(&env)
    );
}

common::on_both_stores!(a_check_reading_its_own_phases_output_is_shown_as_it_will_run);

/// `orchestrate complete|fail` confirms the report before it drives on, as `workflow step
/// complete|fail` does ("✅ Step `X` of run … reported complete."): before, a phase report
/// went straight on to the drive's lines, and nothing said that the report itself landed.
#[test]
fn a_phase_report_is_confirmed_as_a_step_report_is() {
    let env = Env::new();
    env.scenario(
        "rep",
        "name: rep\ndescription: d\nphases:\n  - {name: review, description: by hand}\n  - {name: ship, description: s, condition: after:review, run: echo shipped}\n  - {name: other, description: o, parallel: true}\n",
    );
    env.workflow(
        "wrep",
        "name: wrep\nsteps:\n  - {name: review, prompt: by hand}\n  - {name: ship, run: echo shipped}\n",
    );
    let run = run_id(&env, &["--json", "orchestrate", "run", "rep"]);
    assert_eq!(env.run(&["workflow", "run", "wrep"]).code, 3);
    let phase = env.run(&["orchestrate", "complete", "rep", "review"]);
    let step = env.run(&["workflow", "step", "complete", "review", "--run", "wrep"]);
    let first = |out: &common::Out| out.stdout.lines().next().unwrap_or("").to_string();
    let wrun = env.run(&["--json", "workflow", "history"]).json()["runs"].clone()[0]["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        first(&phase),
        format!("✅ Phase `review` of run {run} reported complete.")
    );
    assert_eq!(
        first(&step).replace("Step", "Phase").replace(&wrun, &run),
        first(&phase)
    );
    insta::assert_snapshot!("phase_report_confirmed", phase.snapshot(&env));
    // A failure report, named by its whole id, and without the drive.
    let failed = env.run(&["orchestrate", "fail", &run, "other", "--no-drive"]);
    assert_eq!(
        first(&failed),
        "❌ Phase `other` reported failed.",
        "{}",
        failed.stdout
    );
    // The document is the status document, as before.
    let doc = env.run(&["--json", "orchestrate", "status", &run]).json();
    assert_eq!(doc["phases"][0]["status"], "completed", "{doc}");
}

/// `orchestrate start --help` said "Start a manual phase of a scenario's latest run", though
/// it takes a run id (or prefix) as well as a scenario name, as the other phase commands do.
#[test]
fn orchestrate_start_help_says_it_takes_a_run_id_or_a_scenario_name() {
    let env = Env::new();
    let help = env.run(&["orchestrate", "start", "--help"]);
    assert_eq!(help.code, 0, "{}{}", help.stdout, help.stderr);
    let about = help.stdout.lines().next().unwrap_or("");
    assert!(!about.contains("latest run."), "{about}");
    assert!(about.contains("a run id"), "{about}");
    let listed = env.run(&["orchestrate", "--help"]).stdout;
    assert!(!listed.contains("of a scenario's latest run"), "{listed}");
}
