//! Definition errors found by a hostile review: an agent file that is there but invalid is
//! said to be invalid (where, and how to fix it), never "not found"; every problem of a file
//! is reported in one pass, each at its own place (a key given twice at that key); an `if:`
//! is located at its real character; `schedule list` locates an invalid schedule's problems
//! as validate does; `with:` problems say what, where and how to fix them.

mod common;

use common::Env;

fn agent(env: &Env, file: &str, text: &str) {
    let dir = env.home().join("agents");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(file), text).unwrap();
}

#[test]
fn an_invalid_agent_file_is_said_invalid_with_its_place_not_not_found() {
    let env = Env::new();
    // A key given twice; and a file named otherwise whose `name:` is the one used.
    agent(
        &env,
        "reviewer.md",
        "---\nname: reviewer\ndescription: x\nname: again\n---\nbody\n",
    );
    agent(
        &env,
        "other-file.md",
        "---\nname: renamed\ndescription: x\nmodle: y\n---\nbody\n",
    );
    env.scenario(
        "sc",
        "name: sc\ndescription: x\nphases:\n  - name: one\n    description: d\n    condition: auto\n    agents: [reviewer, renamed]\n    success_criteria: [ok]\n    timeout: x\n",
    );
    let out = env.run(&["orchestrate", "validate", "sc"]);
    assert_eq!(out.code, 2, "{}", out.text());
    insta::assert_snapshot!("invalid_agent_files_of_a_scenario", out.snapshot(&env));
    let out = env.run(&["--json", "orchestrate", "validate", "sc"]);
    let errors = out.located_errors();
    assert!(
        !out.stdout.contains("not found"),
        "an agent whose file is there is never 'not found': {errors:?}"
    );
    // Every problem in one pass: both agents, at their names, and the scenario's own.
    assert_eq!(errors.len(), 3, "{errors:?}");
    assert!(
        errors[0]
            .0
            .contains("reviewer.md:4:1: duplicate key `name`")
    );
    assert_eq!((errors[0].1, errors[0].2), (7, 14));
    assert!(
        errors[1]
            .0
            .contains("other-file.md:4:1: unknown field `modle`")
    );
    assert_eq!((errors[1].1, errors[1].2), (7, 24));
    assert_eq!(errors[2].1, 9);

    // A workflow's `agent:` step, and the same workflow run by another with `uses:`.
    env.workflow(
        "child",
        "name: child\nsteps:\n  - name: a\n    agent: reviewer\n    prompt: do it\n",
    );
    env.workflow(
        "parent",
        "name: parent\nsteps:\n  - name: p\n    uses: child\n",
    );
    for name in ["child", "parent"] {
        let out = env.run(&["workflow", "validate", name]);
        assert_eq!(out.code, 2, "{}", out.text());
        let text = out.text();
        assert!(!text.contains("not found"), "{text}");
        assert!(
            text.contains("agent `reviewer` has a file, but it is invalid")
                && text.contains("reviewer.md:4:1"),
            "{text}"
        );
    }
}

#[test]
fn agent_front_matter_reports_every_problem_each_at_its_own_key() {
    let env = Env::new();
    agent(
        &env,
        "ag.md",
        "---\nname: ag\ndescription: x\nname: y\nmodle: 3\ntools: 5\n---\nbody\n",
    );
    let out = env.run(&["agent", "status", "ag"]);
    assert_eq!(out.code, 2, "{}", out.text());
    insta::assert_snapshot!("agent_front_matter_every_problem", out.snapshot(&env));
    let text = out.text();
    assert!(
        text.contains("ag.md:4:1"),
        "the duplicate `name` at its own key: {text}"
    );
    assert!(text.contains("(first at line 2, column 1)"), "{text}");
    assert!(
        text.contains("ag.md:5:1") && text.contains("ag.md:6:8"),
        "{text}"
    );
}

#[test]
fn empty_or_unclosed_front_matter_says_so_with_a_place() {
    let env = Env::new();
    agent(&env, "empty.md", "---\n---\nbody\n");
    agent(&env, "open.md", "---\nname: open\ndescription: x\n");
    let out = env.run(&["agent", "status", "empty"]);
    assert!(
        out.text().contains("the front matter is empty"),
        "{}",
        out.text()
    );
    assert!(out.text().contains("empty.md:2:1"), "{}", out.text());
    let out = env.run(&["agent", "status", "open"]);
    assert!(out.text().contains("is never closed"), "{}", out.text());
    assert!(out.text().contains("open.md:1:1"), "{}", out.text());
}

#[test]
fn an_unknown_variant_does_not_hide_the_other_problems() {
    let env = Env::new();
    env.workflow(
        "s1",
        "name: s1\nschedule:\n  cron: \"61 * * * *\"\n  overlap: sometimes\nsteps:\n  - name: a\n    run: echo\n    timeout: x\n",
    );
    let out = env.run(&["--json", "workflow", "validate", "s1"]);
    assert_eq!(out.code, 2, "{}", out.stdout);
    let errors = out.located_errors();
    assert_eq!(errors.len(), 3, "{errors:?}");
    out.assert_error_on_line("61", 3);
    out.assert_error_on_line("unknown variant `sometimes`", 4);
    out.assert_error_on_line("not a duration", 8);
}

#[test]
fn an_unclosed_quote_in_if_is_located_at_the_opening_quote() {
    let env = Env::new();
    env.workflow(
        "w",
        concat!(
            "name: w\ninputs:\n  env: {type: string}\nsteps:\n",
            "  - name: a\n    if: inputs.env == 'prod\n    run: echo\n",
            "  - name: b\n    if: >-\n      inputs.env == 'prod\n    run: echo\n",
            "  - {name: c, if: \"inputs.env == \\\"x\\\" || inputs.env == 'prod\", run: echo}\n",
            "  - name: d\n    if: 'inputs.env == ''x'' || inputs.env == ''prod'\n    run: echo\n",
        ),
    );
    let out = env.run(&["--json", "workflow", "validate", "w"]);
    assert_eq!(out.code, 2, "{}", out.stdout);
    let at: Vec<(u64, u64)> = out
        .located_errors()
        .into_iter()
        .map(|(_, l, c)| (l, c))
        .collect();
    // Each at the `'` that opens `prod`: plain, in a folded block, after escapes.
    assert_eq!(at, vec![(6, 23), (10, 21), (12, 57), (14, 47)]);
}

#[test]
fn schedule_list_locates_each_problem_of_an_invalid_schedule() {
    let env = Env::new();
    env.workflow(
        "nightly",
        "name: nightly\nschedule:\n  cron: \"61 * * * *\"\n  overlap: sometimes\nsteps:\n  - name: a\n    run: echo\n",
    );
    let out = env.run(&["schedule", "list"]);
    assert_eq!(out.code, 2, "{}", out.text());
    insta::assert_snapshot!("schedule_list_invalid_located", out.snapshot(&env));
    let out = env.run(&["--json", "schedule", "list"]);
    let bad = &out.json()["invalid"][0];
    let errors = bad["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 2, "{bad}");
    for e in errors {
        assert!(
            e["line"].as_u64().is_some() && e["column"].as_u64().is_some(),
            "{e}"
        );
    }
    assert!(
        bad["error"].as_str().unwrap().contains("nightly.yaml:3:"),
        "{bad}"
    );
}

#[test]
fn with_problems_of_uses_steps_say_what_where_and_how_to_fix() {
    let env = Env::new();
    env.workflow(
        "child",
        "name: child\ninputs:\n  version: {type: string, required: true}\n  count: {type: number}\nsteps:\n  - name: a\n    run: echo ${{ inputs.version }}\n",
    );
    env.workflow(
        "parent",
        concat!(
            "name: parent\nsteps:\n",
            "  - name: misspelled\n    uses: child\n    with:\n      versoin: \"1.0\"\n",
            "  - name: missing\n    uses: child\n",
            "  - name: no-uses\n    run: echo\n    with: {version: \"1\"}\n",
            "  - name: mistyped\n    uses: child\n    with:\n      version: {a: 1}\n",
            "  - name: unknown\n    uses: chidl\n    with: {version: \"1\"}\n",
            "  - name: not-a-map\n    uses: child\n    with: [version]\n",
        ),
    );
    let out = env.run(&["workflow", "validate", "parent"]);
    assert_eq!(out.code, 2, "{}", out.text());
    insta::assert_snapshot!("with_problems", out.snapshot(&env));
    let out = env.run(&["--json", "workflow", "validate", "parent"]);
    let errors = out.located_errors();
    // A value of the wrong type, or a `with:` that is no mapping, is that problem alone: the
    // input is not also said to be missing.
    let missing: Vec<u64> = errors
        .iter()
        .filter(|(m, _, _)| m.contains("does not give it"))
        .map(|(_, l, _)| *l)
        .collect();
    assert_eq!(missing, vec![5, 8], "{errors:?}");
    let hints: Vec<String> = out.json()["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["hint"].as_str().unwrap_or_default().to_string())
        .collect();
    assert!(
        hints.iter().all(|h| !h.is_empty()),
        "every problem says how to fix it: {hints:?}"
    );
}

/// An input's value is one scalar, whichever way it is given: a `type: string` input's
/// `default: [1, 2]` (or a list sixty deep, or a map, or an `enum:` choice that is a list)
/// is refused at validate, located at the value, with how to mean the text. Before, it
/// validated and the run recorded the list itself as the input (`[1,2]`), where `type:
/// integer` refused it. The other ways refuse a list too: a schedule's `inputs:`, `with:`.
#[test]
fn a_list_or_map_default_of_a_string_input_is_refused_at_validate() {
    let env = Env::new();
    let deep = format!("{}1{}", "[".repeat(60), "]".repeat(60));
    env.workflow(
        "listy",
        &format!(
            "name: listy\ninputs:\n  x: {{type: string, default: [1, 2]}}\n  deep: {{type: string, default: {deep}}}\n  m:\n    type: path\n    default: {{a: b}}\n  e: {{type: string, enum: [ok, [1]]}}\n  n: {{type: integer, default: [1, 2]}}\nsteps:\n  - {{name: a, run: 'true'}}\n"
        ),
    );
    let out = env.run(&["--json", "workflow", "validate", "listy"]);
    assert_eq!(out.code, 2, "{}", out.text());
    let errors = out.located_errors();
    let on = |line: u64, text: &str| {
        assert!(
            errors
                .iter()
                .any(|(m, l, _)| *l == line && m.contains(text)),
            "no error holding `{text}` on line {line}: {errors:?}"
        )
    };
    on(3, "`[1, 2]` is not a string: quote it to mean the text");
    on(4, "is not a string");
    on(7, "`{a: b}` is not a path");
    on(8, "`[1]` is not a string");
    on(9, "`[1, 2]` is not an integer");
    assert_eq!(errors.len(), 5, "one problem each: {errors:?}");
    // Nothing is recorded: the run is refused as the definition is.
    let run = env.run(&["workflow", "run", "listy"]);
    assert_eq!(run.code, 2, "{}", run.text());
    assert_eq!(
        env.run(&["--json", "workflow", "history"]).json()["runs"],
        serde_json::json!([])
    );
    // Quoted, it is the text.
    env.workflow(
        "texty",
        "name: texty\ninputs:\n  x: {type: string, default: '[1, 2]'}\nsteps:\n  - {name: a, run: 'true'}\n",
    );
    assert_eq!(env.run(&["workflow", "run", "texty"]).code, 0);
    assert_eq!(env.status(None)["inputs"]["x"], "[1, 2]");
    // A schedule's `inputs:` and a `uses:` step's `with:` refuse a list as well.
    env.workflow(
        "given",
        "name: given\ninputs:\n  x: {type: string}\nschedule:\n  cron: '0 3 * * *'\n  inputs: {x: [1, 2]}\nsteps:\n  - {name: a, uses: texty, with: {x: [1, 2]}}\n",
    );
    let out = env.run(&["--json", "workflow", "validate", "given"]);
    assert_eq!(out.code, 2, "{}", out.text());
    let errors = out.located_errors();
    assert!(errors.iter().any(|(_, l, _)| *l == 6), "{errors:?}");
    assert!(errors.iter().any(|(_, l, _)| *l == 8), "{errors:?}");
}

/// An output key longer than the name rule's 100 characters was recorded from a
/// `$CORTEX_OUTPUT` line, though no template could read it (`validate` refuses one naming it)
/// and a report's `--output` refused it: two rules. Now every way of writing one refuses it,
/// saying what (the line, the key) and the limit, and nothing is recorded; a key of exactly
/// 100 characters is written and read back.
#[test]
fn an_output_key_too_long_to_read_back_is_refused_where_it_is_written() {
    let env = Env::new();
    let (long, longest) = ("k".repeat(101), "k".repeat(100));
    env.workflow(
        "w",
        &format!(
            "name: w\nsteps:\n  - name: A\n    run: 'echo {long}=v >> \"$CORTEX_OUTPUT\"'\n    retry: {{max_retry_attempts: 2}}\n"
        ),
    );
    let out = env.run(&["--json", "workflow", "run", "w"]);
    assert_eq!(out.code, 1, "{}", out.text());
    let status = env.status(None);
    let error = status["steps"][0]["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("line 1 of $CORTEX_OUTPUT")
            && error.contains("101 characters long")
            && error.contains("at most 100"),
        "{status:#}"
    );
    // A fault of what the step writes: not retried.
    assert_eq!(status["steps"][0]["attempts"], 1, "{status:#}");
    let outputs = &status["steps"][0]["outputs"];
    assert!(
        outputs.is_null() || outputs.as_object().is_some_and(|o| o.is_empty()),
        "the key is not recorded: {status:#}"
    );
    // A report's `--output` refuses it too, naming the limit.
    env.workflow("p", "name: p\nsteps:\n  - {name: P, prompt: report}\n");
    assert_eq!(env.run(&["workflow", "run", "p"]).code, 3);
    let refused = env.run(&[
        "workflow",
        "step",
        "complete",
        "P",
        "--output",
        &format!("{long}=v"),
    ]);
    assert_eq!(refused.code, 2, "{}", refused.text());
    assert!(refused.text().contains("at most 100"), "{}", refused.text());
    // 100 characters: written, and read back by a template.
    env.workflow(
        "ok",
        &format!(
            "name: ok\nsteps:\n  - name: A\n    run: 'echo {longest}=v >> \"$CORTEX_OUTPUT\"'\n  - name: B\n    run: 'test \"${{{{ steps.A.outputs.{longest} }}}}\" = v'\n"
        ),
    );
    let out = env.run(&["workflow", "run", "ok"]);
    assert_eq!(out.code, 0, "{}", out.text());
}

#[test]
fn an_output_key_no_report_or_output_line_can_set_is_refused_at_validate() {
    // `--output a=b=VALUE` records `a` (the key ends at the first `=`), and so does a
    // `$CORTEX_OUTPUT` line: a step reading `a=b` would wait for it round after round.
    let env = Env::new();
    env.workflow(
        "k",
        concat!(
            "name: k\nsteps:\n",
            "  - name: P\n    prompt: report\n",
            "  - name: S\n    run: 'test -n \"${{ steps.P.outputs.a=b }}\"'\n",
            "  - name: T\n    env: {X: '${{ steps.P.outputs.a.b }}'}\n    run: echo \"$X\"\n",
            "  - name: U\n    run: 'echo ${{ steps.P.outputs.fine-key_1 }}'\n",
        ),
    );
    let out = env.run(&["--json", "workflow", "validate", "k"]);
    assert_eq!(out.code, 2, "{}", out.text());
    let errors = out.located_errors();
    assert_eq!(errors.len(), 2, "{errors:?}");
    let (message, line, column) = &errors[0];
    assert_eq!((*line, *column), (6, 20), "at its `${{`: {errors:?}");
    assert!(
        message.contains("output `a=b` of `P`, which nothing can set")
            && message.contains("not letters, digits, `_` and `-`"),
        "{message}"
    );
    assert!(
        out.stdout.contains("its key ends at the first `=`"),
        "{}",
        out.stdout
    );
    assert_eq!(errors[1].1, 8, "{errors:?}");
    // Nothing is recorded: the run is refused as the definition is.
    assert_eq!(env.run(&["workflow", "run", "k"]).code, 2);
    // A scenario's phase reading one is refused the same way.
    env.scenario(
        "ks",
        "name: ks\nphases:\n  - name: P\n    prompt: report\n  - name: S\n    condition: after:P\n    run: 'test -n \"${{ phases.P.outputs.a=b }}\"'\n",
    );
    let out = env.run(&["--json", "orchestrate", "validate", "ks"]);
    assert_eq!(out.code, 2, "{}", out.text());
    let errors = out.located_errors();
    assert!(
        errors
            .iter()
            .any(|(m, l, _)| *l == 7 && m.contains("`a=b` of `P`, which nothing can set")),
        "{errors:?}"
    );
}

/// Seen by a review: a 200 KB `foreach:` item, `env:` value or `run:` text validated, and
/// every run failed to start (E2BIG: Linux passes at most 131071 bytes in one variable or
/// argument). `validate` refuses each where it is written, as it does a name past its length;
/// a value made from a template at run time stays the run's error.
#[test]
fn a_value_longer_than_linux_passes_in_one_variable_or_argument_is_refused_by_validate() {
    let env = Env::new();
    let big = "x".repeat(200_000);
    env.workflow(
        "fi",
        &format!("name: fi\nsteps:\n  - name: s\n    foreach: [\"{big}\"]\n    run: echo ok\n"),
    );
    env.workflow(
        "en",
        &format!("name: en\nsteps:\n  - name: s\n    env: {{BIG: \"{big}\"}}\n    run: echo ok\n"),
    );
    env.workflow(
        "ru",
        &format!("name: ru\nsteps:\n  - name: s\n    run: \"echo {big}\"\n"),
    );
    env.scenario(
        "sc",
        &format!("name: sc\ndescription: d\nphases:\n  - name: p\n    description: d\n    env: {{BIG: \"{big}\"}}\n    run: echo ok\n"),
    );
    for (args, said, line) in [
        (
            ["workflow", "validate", "fi"],
            "item 0 of `foreach:` is 200000 bytes",
            4,
        ),
        (
            ["workflow", "validate", "en"],
            "the value of `BIG` is 200000 bytes",
            4,
        ),
        (
            ["workflow", "validate", "ru"],
            "the command is 200005 bytes",
            4,
        ),
        (
            ["orchestrate", "validate", "sc"],
            "the value of `BIG` is 200000 bytes",
            6,
        ),
    ] {
        let out = env.run(&args);
        assert_eq!(out.code, 2, "{}", out.text());
        assert!(
            out.stdout.contains(said) && out.stdout.contains("at most 131071 bytes"),
            "{}",
            out.text()
        );
        assert!(
            out.stdout.contains(&format!(".yaml:{line}:")),
            "{}",
            out.text()
        );
    }
    // Templates are counted at run time, not here: 9,000 of them validate.
    let templated = "${{ inputs.x }}".repeat(9_000);
    env.workflow(
        "tp",
        &format!("name: tp\ninputs:\n  x: {{type: string, default: a}}\nsteps:\n  - name: s\n    run: \"echo {templated}\"\n"),
    );
    let out = env.run(&["workflow", "validate", "tp"]);
    assert_eq!(out.code, 0, "{}", out.text());
}

/// Seen by a review (SPEC §7: the human form is the same for both kinds): a missing field was
/// "missing field `steps`" for a workflow and "Missing required field: phases" for a
/// scenario (whose missing `name:` was the first wording again); `phases: []` was called
/// missing, at 1:1. Now a missing field is "Missing required field: X" with where to add it,
/// for both kinds, and an empty list is said at the list, as a workflow's `steps: []` is.
#[test]
fn missing_fields_and_empty_lists_are_worded_and_placed_alike_for_both_kinds() {
    let env = Env::new();
    let p = env.project();
    let files = [
        ("workflow", "no-steps.yaml", "name: w\ndescription: d\n"),
        (
            "orchestrate",
            "no-name.yaml",
            "description: d\nphases:\n  - name: a\n    description: a\n",
        ),
        (
            "orchestrate",
            "no-description.yaml",
            "name: s\nphases:\n  - name: a\n    description: a\n",
        ),
        (
            "workflow",
            "empty-steps.yaml",
            "name: w\ndescription: d\nsteps: []\n",
        ),
        (
            "orchestrate",
            "empty-phases.yaml",
            "name: s\ndescription: d\nphases: []\n",
        ),
    ];
    let mut shown = String::new();
    for (group, file, text) in files {
        std::fs::write(p.join(file), text).unwrap();
        let out = env.run(&[group, "validate", &format!("./{file}")]);
        assert_eq!(out.code, 2, "{}", out.text());
        shown.push_str(&out.snapshot(&env));
    }
    insta::assert_snapshot!("missing_fields_and_empty_lists_of_both_kinds", shown);
    let empty = env.run(&["--json", "orchestrate", "validate", "./empty-phases.yaml"]);
    assert_eq!(empty.located_errors()[0].1, 3, "{}", empty.stdout);
}

/// Seen by a review: a step's `run:` given as a list was two errors, its type and a false
/// "step `a` has nothing to do"; it is one.
#[test]
fn a_run_given_as_a_list_is_one_error_not_also_nothing_to_do() {
    let env = Env::new();
    env.workflow(
        "w",
        "name: w\ndescription: d\nsteps:\n  - name: a\n    run: [x, y]\n  - name: b\n",
    );
    let out = env.run(&["--json", "workflow", "validate", "w"]);
    assert_eq!(out.code, 2, "{}", out.text());
    let messages: Vec<String> = out.located_errors().into_iter().map(|(m, ..)| m).collect();
    assert_eq!(
        messages,
        [
            "steps[0].run: invalid type: sequence, expected a string",
            // A step with nothing at all is still said to have nothing to do.
            "step `b` has nothing to do",
        ],
        "{}",
        out.stdout
    );
}

/// Seen by a review: a misspelt step name got "did you mean", a misspelt phase name did not,
/// neither in an `after:` condition nor in `orchestrate start`.
#[test]
fn a_misspelt_phase_name_gets_did_you_mean_as_a_step_name_does() {
    let env = Env::new();
    env.scenario(
        "s",
        "name: s\ndescription: d\nphases:\n  - name: analysis\n    description: a\n    condition: manual\n  - name: b\n    description: b\n    condition: after:analysys\n",
    );
    let out = env.run(&["orchestrate", "validate", "s"]);
    assert_eq!(out.code, 2, "{}", out.text());
    assert!(
        out.stdout.contains("hint: did you mean `analysis`?"),
        "{}",
        out.stdout
    );
    env.scenario(
        "s",
        "name: s\ndescription: d\nphases:\n  - name: analysis\n    description: a\n    condition: manual\n",
    );
    env.run(&["orchestrate", "run", "s"]);
    let out = env.run(&["orchestrate", "start", "s", "analysys"]);
    assert_eq!(out.code, 2, "{}", out.text());
    assert!(
        out.stderr.contains("did you mean `analysis`?"),
        "{}",
        out.stderr
    );
}

/// An `if:` may compare a secret output only for (in)equality with another secret or with a
/// value that can be no secret: ordering it against another value (one bit of it per
/// condition, recorded) or comparing it with a value in clear is refused, located, exit 2.
/// Before, `pw_password > lo` ran and recorded its verdict.
#[test]
fn an_if_may_not_order_a_secret_nor_compare_it_with_a_value_in_clear() {
    let env = Env::new();
    env.workflow(
        "sec",
        "name: sec\nsteps:\n  - name: w\n    run: |\n      echo 'pw_password=hunter2' >> \"$CORTEX_OUTPUT\"\n      echo 'lo=h' >> \"$CORTEX_OUTPUT\"\n  - name: x\n    if: steps.w.outputs.pw_password > steps.w.outputs.lo\n    run: echo RAN\n  - name: y\n    if: steps.w.outputs.lo == steps.w.outputs.pw_password\n    run: echo RAN\n  - name: z\n    if: steps.w.outputs.pw_password != ''\n    run: echo RAN\n",
    );
    let out = env.run(&["workflow", "validate", "sec"]);
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    insta::assert_snapshot!("secret_ordered_or_compared_in_clear", out.snapshot(&env));
}

/// A template names a step as an `if:` does: `steps['Run tests ✅ it''s'].outputs.k` works in
/// both (a template refused it); `if:` refuses the dotted form with a space, saying to write
/// the name in brackets, and a template's refusal names the bracket form.
#[test]
fn a_template_names_a_step_in_brackets_as_an_if_does_and_each_refusal_says_so() {
    let env = Env::new();
    env.workflow(
        "n",
        "name: n\nsteps:\n  - name: \"Run tests ✅ it's\"\n    run: echo \"k=v\" >> \"$CORTEX_OUTPUT\"\n  - name: x\n    if: \"steps['Run tests ✅ it''s'].outputs.k == 'v'\"\n    run: echo \"RAN ${{ steps['Run tests ✅ it''s'].outputs.k }}\" > ran.txt\n",
    );
    let out = env.run(&["workflow", "run", "n"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert_eq!(
        std::fs::read_to_string(env.project().join("ran.txt")).unwrap(),
        "RAN v\n"
    );
    env.workflow(
        "d",
        "name: d\nsteps:\n  - name: Run tests\n    run: echo \"k=v\" >> \"$CORTEX_OUTPUT\"\n  - name: x\n    if: \"steps.Run tests.outputs.k == 'v'\"\n    run: echo \"${{ steps.Run-tests outputs.k }}\"\n",
    );
    let out = env.run(&["workflow", "validate", "d"]);
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    insta::assert_snapshot!("step_names_in_brackets", out.snapshot(&env));
}
