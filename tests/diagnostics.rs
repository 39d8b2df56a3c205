//! Definition errors point at what is wrong: a template at its own line and column, inside a
//! block scalar too, its `${{ ... }}` underlined.

mod common;

use common::Env;

#[test]
fn template_errors_inside_block_scalars_point_at_the_template() {
    let env = Env::new();
    env.workflow(
        "bl",
        "name: bl\ninputs:\n  a: {type: string, default: x}\nsteps:\n  - name: A\n    run: |\n      echo one\n      echo two\n      echo ${{ steps.Nope.outputs.x }}\n  - name: B\n    run: |-\n      echo \"${{ inputs.missing }}\" ${{ inputs.a }}\n  - name: P\n    prompt: >\n      please do\n      the thing ${{ steps.A.output.x }} and\n\n      more\n",
    );
    let out = env.run(&["workflow", "validate", "bl"]);
    assert_eq!(out.code, 2, "{}", out.text());
    insta::assert_snapshot!("template_errors_in_block_scalars", out.snapshot(&env));
    let out = env.run(&["--json", "workflow", "validate", "bl"]);
    let at: Vec<(u64, u64)> = out
        .located_errors()
        .into_iter()
        .map(|(_, l, c)| (l, c))
        .collect();
    assert_eq!(at, vec![(9, 12), (12, 13), (16, 17)]);
}

#[test]
fn template_errors_on_one_line_underline_the_template() {
    let env = Env::new();
    env.workflow(
        "ol",
        "name: ol\nsteps:\n  - name: A\n    run: echo \"x ${{ inputs.nope }}\" done\n    env:\n      X: 'a ${{ steps.A.outputs.y }}'\n",
    );
    let out = env.run(&["workflow", "validate", "ol"]);
    assert_eq!(out.code, 2, "{}", out.text());
    insta::assert_snapshot!("template_errors_on_one_line", out.snapshot(&env));
}

#[test]
fn template_errors_in_a_scenario_run_list_item_point_at_the_template() {
    let env = Env::new();
    env.scenario(
        "sl",
        "name: sl\ndescription: d\nphases:\n  - name: one\n    description: d\n    run:\n      - echo a\n      - |\n        echo b\n        echo ${{ phases.zz.outputs.k }}\n      - echo ${{ phases.one.outputs.k }}\n",
    );
    let out = env.run(&["orchestrate", "validate", "sl"]);
    assert_eq!(out.code, 2, "{}", out.text());
    insta::assert_snapshot!("template_errors_in_a_scenario_run_list", out.snapshot(&env));
}

#[test]
fn misspelled_key_of_a_success_criterion_is_named_with_the_forms_of_a_criterion() {
    let env = Env::new();
    env.scenario(
        "cr",
        "name: cr\ndescription: d\nphases:\n  - name: one\n    description: d\n    success_criteria:\n      - Tests pass\n      - {chek: \"true\"}\n",
    );
    let out = env.run(&["orchestrate", "validate", "cr"]);
    assert_eq!(out.code, 2, "{}", out.text());
    insta::assert_snapshot!("misspelled_criterion_key", out.snapshot(&env));
}

#[test]
fn run_list_holding_a_map_says_what_run_is_at_run() {
    let env = Env::new();
    env.scenario(
        "rn",
        "name: rn\ndescription: d\nphases:\n  - name: two\n    description: d\n    run: [echo a, {b: 1}]\n",
    );
    let out = env.run(&["orchestrate", "validate", "rn"]);
    assert_eq!(out.code, 2, "{}", out.text());
    insta::assert_snapshot!("run_list_holding_a_map", out.snapshot(&env));
}

#[test]
fn success_criterion_of_neither_form_says_what_a_criterion_is() {
    let env = Env::new();
    env.scenario(
        "cr",
        "name: cr\ndescription: d\nphases:\n  - name: one\n    description: d\n    success_criteria:\n      - {}\n",
    );
    let out = env.run(&["orchestrate", "validate", "cr"]);
    assert_eq!(out.code, 2, "{}", out.text());
    insta::assert_snapshot!("empty_criterion", out.snapshot(&env));
}

#[test]
fn duplicate_keys_are_each_reported_where_they_are_given_again() {
    let env = Env::new();
    env.workflow(
        "dup",
        "name: dup\nsteps:\n  - name: B\n    run: echo b\n    timeout: 5\n    run: echo again\n",
    );
    let out = env.run(&["workflow", "validate", "dup"]);
    assert_eq!(out.code, 2, "{}", out.text());
    insta::assert_snapshot!("duplicate_key_in_a_step", out.snapshot(&env));
    env.workflow(
        "dup2",
        "name: dup2\nname: again\nsteps:\n  - name: B\n    env: {A: 1, A: 2}\n    promt: x\n    run: echo b\n    run: echo c\n",
    );
    let out = env.run(&["workflow", "validate", "dup2"]);
    assert_eq!(out.code, 2, "{}", out.text());
    insta::assert_snapshot!("every_duplicate_key_in_line_order", out.snapshot(&env));
}

/// A key given twice was placed at its mapping's start, without the place it was first
/// given, when the text stops parsing later (a tab, nesting past 128 levels), and that later
/// problem was not listed; in `cortex.config.json` likewise. Each is where it repeats now,
/// beside the later problem.
#[test]
fn a_key_given_twice_is_located_where_it_repeats_beside_a_later_problem() {
    let env = Env::new();
    env.workflow(
        "tab",
        "name: tab\nsteps:\n  - name: x\n    run: echo\n    run: echo 2\n  - name: y\n\trun: z\n",
    );
    let out = env.run(&["--json", "workflow", "validate", "tab"]);
    let errors = out.located_errors();
    assert_eq!(
        errors.iter().map(|(_, l, c)| (*l, *c)).collect::<Vec<_>>(),
        vec![(5, 5), (7, 1)],
        "{errors:?}"
    );
    assert_eq!(errors[0].0, "steps[0]: duplicate key `run`");
    assert!(errors[1].0.contains("tab character"), "{errors:?}");
    let human = env.run(&["workflow", "validate", "tab"]);
    insta::assert_snapshot!(
        "duplicate_key_beside_a_later_syntax_error",
        human.snapshot(&env)
    );
    env.workflow(
        "deep",
        &format!(
            "name: deep\nsteps:\n  - name: x\n    run: echo\n    timeout: 5s\n    timeout: 6s\n    validate:\n      {}x\n",
            "- ".repeat(200)
        ),
    );
    let out = env.run(&["--json", "workflow", "validate", "deep"]);
    let errors = out.located_errors();
    assert_eq!(
        errors[0],
        ("steps[0]: duplicate key `timeout`".to_string(), 6, 5)
    );
    assert_eq!(errors.len(), 2, "the nesting is said too: {errors:?}");
    env.config(r#"{"workflow": {"max_retry_attempts": 3, "max_retry_attempts": 5}}"#);
    let out = env.run(&["--json", "workflow", "validate", "feature-development"]);
    assert_eq!(out.code, 2, "{}", out.text());
    let errors = out.located_errors();
    assert_eq!(
        errors,
        vec![(
            "workflow: duplicate key `max_retry_attempts`".to_string(),
            1,
            40
        )]
    );
}

#[test]
fn scenario_given_to_workflow_commands_says_it_is_a_scenario_with_the_commands() {
    let env = Env::new();
    let scenario = "name: ship\ndescription: d\nphases:\n  - name: one\n    description: d\n";
    env.scenario("ship", scenario);
    let out = env.run(&["workflow", "run", "ship"]);
    assert_eq!(out.code, 2, "{}", out.text());
    insta::assert_snapshot!("workflow_run_of_a_scenario_name", out.snapshot(&env));
    std::fs::create_dir_all(env.project().join("my defs")).unwrap();
    std::fs::write(env.project().join("my defs/ship.yaml"), scenario).unwrap();
    let out = env.run(&["workflow", "validate", "my defs/ship.yaml"]);
    assert_eq!(out.code, 2, "{}", out.text());
    insta::assert_snapshot!("workflow_validate_of_a_scenario_file", out.snapshot(&env));
}

#[test]
fn workflow_given_to_orchestrate_commands_says_it_is_a_workflow_with_the_commands() {
    let env = Env::new();
    let workflow = "name: wf\nsteps:\n  - name: a\n    run: echo a\n";
    env.workflow("wf", workflow);
    let out = env.run(&["orchestrate", "run", "wf"]);
    assert_eq!(out.code, 2, "{}", out.text());
    insta::assert_snapshot!("orchestrate_run_of_a_workflow_name", out.snapshot(&env));
    std::fs::write(env.project().join("wf.yaml"), workflow).unwrap();
    let out = env.run(&["orchestrate", "validate", "./wf.yaml"]);
    assert_eq!(out.code, 2, "{}", out.text());
    insta::assert_snapshot!(
        "orchestrate_validate_of_a_workflow_file",
        out.snapshot(&env)
    );
}

#[test]
fn problems_of_one_file_are_listed_in_line_order() {
    let env = Env::new();
    env.workflow("ord", "name: ord\nbbb: 1\nccc: 2\naaa: 3\n");
    let out = env.run(&["--json", "workflow", "validate", "ord"]);
    let lines: Vec<u64> = out
        .located_errors()
        .into_iter()
        .map(|(_, l, _)| l)
        .collect();
    assert_eq!(lines, vec![1, 2, 3, 4], "{}", out.text());
}

#[test]
fn duplicate_keys_in_user_named_maps_are_reported_in_a_file_that_parses() {
    let env = Env::new();
    env.workflow(
        "dupmap",
        "name: dupmap\ninputs:\n  v: {type: string, default: a}\n  v: {type: string, default: b}\nschedule:\n  cron: '0 3 * * *'\n  inputs: {v: x, v: y}\nsteps:\n  - name: a\n    run: echo $A\n    env:\n      A: one\n      A: two\n  - name: b\n    uses: other\n    with:\n      k: 1\n      k: 2\n    timeout: soon\n",
    );
    env.workflow(
        "other",
        "name: other\nsteps:\n  - name: o\n    run: 'true'\n",
    );
    let out = env.run(&["workflow", "validate", "dupmap"]);
    assert_eq!(out.code, 2, "{}", out.text());
    insta::assert_snapshot!("duplicate_keys_in_user_named_maps", out.snapshot(&env));
    // Never run with the last of them.
    let out = env.run(&["workflow", "run", "dupmap"]);
    assert_ne!(out.code, 0, "{}", out.text());
    assert!(out.text().contains("duplicate key `A`"), "{}", out.text());
}

#[test]
fn duplicate_key_of_a_scenario_phase_env_is_reported_with_the_rest_of_the_file() {
    let env = Env::new();
    env.scenario(
        "dupenv",
        "name: dupenv\ndescription: d\nphases:\n  - name: p\n    run: [echo a, echo b, echo c, [nested], 12]\n    env:\n      A: one\n      A: two\n    condition: after:zz\n",
    );
    let out = env.run(&["orchestrate", "validate", "dupenv"]);
    assert_eq!(out.code, 2, "{}", out.text());
    insta::assert_snapshot!("duplicate_key_of_a_phase_env", out.snapshot(&env));
}

#[test]
fn bad_items_of_a_run_list_are_each_named_at_the_item() {
    let env = Env::new();
    env.scenario(
        "runitems",
        "name: runitems\ndescription: d\nphases:\n  - name: p\n    run:\n      - echo a\n      - echo b\n      - echo c\n      - [nested]\n      - 12\n  - name: q\n    run: echo\n    agents: [nobody]\n",
    );
    let out = env.run(&["orchestrate", "validate", "runitems"]);
    assert_eq!(out.code, 2, "{}", out.text());
    insta::assert_snapshot!("bad_run_list_items", out.snapshot(&env));
}

#[test]
fn every_bad_success_criterion_is_reported_at_its_index_in_one_pass() {
    let env = Env::new();
    env.scenario(
        "crits",
        "name: crits\ndescription: d\nphases:\n  - name: p\n    run: echo\n    success_criteria:\n      - ok\n      - {chek: a}\n      - {chek: b}\n      - \"criterion ${{ inputs.nope5 }}\"\n      - check: |\n          true\n          echo ${{ inputs.nope6 }}\n  - name: q\n    run: echo\n    success_criteria:\n      - bogus: 1\n    condition: after:zz\n",
    );
    let out = env.run(&["orchestrate", "validate", "crits"]);
    assert_eq!(out.code, 2, "{}", out.text());
    insta::assert_snapshot!("bad_success_criteria", out.snapshot(&env));
}

#[test]
fn every_bad_value_of_the_configuration_is_reported() {
    let env = Env::new();
    env.config(
        r#"{"workflow": {"max_parallel": 0, "checkpoint_frequency": "daily", "durability": "x", "bogus": 1}}"#,
    );
    let out = env.run(&["workflow", "validate", "--all"]);
    assert_ne!(out.code, 0, "{}", out.text());
    insta::assert_snapshot!("every_bad_configuration_value", out.snapshot(&env));
}

#[test]
fn a_name_with_an_apostrophe_is_shown_as_written() {
    let env = Env::new();
    env.workflow(
        "my flow",
        "name: \"it's my flow\"\nsteps:\n  - name: a\n    run: 'true'\n",
    );
    let out = env.run(&["workflow", "validate", "my flow"]);
    // As written; a name with a quote is no file name to suggest: `name:` is.
    assert!(out.text().contains("`it's my flow`"), "{}", out.text());
    assert!(
        out.text().contains("write `name: my flow`"),
        "{}",
        out.text()
    );
    assert!(!out.text().contains("\\'"), "{}", out.text());
}

#[test]
fn a_tilde_in_a_string_enum_is_the_text_tilde() {
    let env = Env::new();
    env.workflow(
        "en",
        "name: en\ninputs:\n  e: {type: string, enum: [\"a\", ~]}\nsteps:\n  - name: s\n    run: echo \"E=${{ inputs.e }}\"\n",
    );
    let out = env.run(&["workflow", "run", "en", "--input", "e=~"]);
    assert_eq!(out.code, 0, "{}", out.text());
    let out = env.run(&["workflow", "run", "en", "--input", "e=null"]);
    assert_ne!(out.code, 0, "{}", out.text());
    assert!(out.text().contains("not one of a, ~"), "{}", out.text());
}

#[test]
fn a_workflow_in_the_scenarios_folder_is_judged_a_workflow_by_its_content() {
    let env = Env::new();
    std::fs::create_dir_all(env.home().join("scenarios")).unwrap();
    std::fs::write(
        env.home().join("scenarios/w2.yaml"),
        "name: w2\nsteps:\n  - name: a\n    run: 'true'\n",
    )
    .unwrap();
    let out = env.run(&["workflow", "validate", "w2"]);
    assert_eq!(out.code, 2, "{}", out.text());
    assert!(
        out.text()
            .contains("w2.yaml is a workflow (it has `steps:`)"),
        "{}",
        out.text()
    );
    assert!(
        out.text().contains("move it to workflows/"),
        "{}",
        out.text()
    );
    let out = env.run(&["orchestrate", "validate", "--all"]);
    assert_eq!(out.code, 2, "{}", out.text());
    assert!(
        out.text().contains("this is a workflow, not a scenario"),
        "{}",
        out.text()
    );
    assert!(!out.text().contains("unknown field"), "{}", out.text());
    let out = env.run(&["orchestrate", "list"]);
    assert!(
        out.text().contains("this is a workflow, not a scenario"),
        "{}",
        out.text()
    );
}

#[test]
fn a_scenario_in_the_workflows_folder_does_not_make_its_namesake_workflow_unrunnable() {
    let env = Env::new();
    env.workflow("sc", "name: sc\nsteps:\n  - name: a\n    run: 'true'\n");
    env.workflow(
        "sc2",
        "name: sc\ndescription: d\nphases:\n  - name: p\n    run: 'true'\n",
    );
    let out = env.run(&["workflow", "run", "sc"]);
    assert_eq!(out.code, 0, "{}", out.text());
}

#[test]
fn errors_in_an_anchored_scalar_are_placed_past_the_anchor() {
    let env = Env::new();
    env.workflow(
        "an",
        "name: an\nsteps:\n  - name: a\n    run: &x \"echo ${{ inputs.nope }}\"\n    timeout: &t soon\n",
    );
    let out = env.run(&["workflow", "validate", "an"]);
    assert_eq!(out.code, 2, "{}", out.text());
    insta::assert_snapshot!("anchored_scalar_errors", out.snapshot(&env));
}

/// A `${{ }}` value is data for the shell cortex starts, but a nested shell (`sh -c '...'`,
/// `eval`, `ssh host '...'`) reads the script it is pasted into as code: `validate` warns,
/// at the template, and says to pass it as an argument instead; the definition stays valid,
/// and the argument form is not warned of.
#[test]
fn a_template_in_a_nested_shells_script_is_a_located_warning() {
    let env = Env::new();
    env.workflow(
        "nested",
        "name: nested\nsteps:\n  - name: fetch\n    run: echo title=x >> \"$CORTEX_OUTPUT\"\n  - name: show\n    run: sh -c 'echo ${{ steps.fetch.outputs.title }}'\n  - name: safe\n    run: sh -c 'echo \"$1\"' _ \"${{ steps.fetch.outputs.title }}\"\n",
    );
    let out = env.run(&["workflow", "validate", "nested"]);
    assert_eq!(out.code, 0, "{}", out.text());
    assert!(
        out.stderr.contains("nested.yaml:6:22: template `${{ steps.fetch.outputs.title }}` is pasted into the script of `sh -c`"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("sh -c 'echo \"$1\"' _"),
        "{}",
        out.stderr
    );
    assert_eq!(
        out.stderr.matches("is pasted into").count(),
        1,
        "{}",
        out.stderr
    );
    let doc = env
        .run(&["--json", "workflow", "validate", "nested"])
        .json();
    assert_eq!(doc["valid"], true);
    assert!(
        doc["warnings"].to_string().contains("nested.yaml:6:22"),
        "{doc}"
    );
    env.scenario(
        "nested",
        "name: nested\ndescription: d\nphases:\n  - name: a\n    description: d\n    run: eval \"echo ${{ inputs.title }}\"\ninputs:\n  title: {type: string, default: x}\n",
    );
    let out = env.run(&["orchestrate", "validate", "nested"]);
    assert_eq!(out.code, 0, "{}", out.text());
    assert!(
        out.text().contains(
            "nested.yaml:6:21: template `${{ inputs.title }}` is pasted into the text `eval` runs"
        ),
        "{}",
        out.text()
    );
}

/// Seen by a review: a template piped into a shell (`echo "${{ inputs.x }}" | sh`, `| sudo
/// bash`, `| xargs -I{} sh -c '... {} ...'`) runs the value as code, with no warning. It is
/// the same located warning as a template in `sh -c '...'`.
#[test]
fn a_template_piped_into_a_shell_is_a_located_warning() {
    let env = Env::new();
    env.workflow(
        "piped",
        "name: piped\ninputs:\n  x: {type: string, default: y}\nsteps:\n  - name: a\n    run: echo \"${{ inputs.x }}\" | sh\n  - name: b\n    run: echo ${{ inputs.x }} | sudo bash -s\n  - name: c\n    run: echo ${{ inputs.x }} | xargs -I{} sh -c 'echo {}'\n  - name: d\n    run: echo ${{ inputs.x }} | xargs sh -c 'echo \"$1\"' _\n",
    );
    let out = env.run(&["workflow", "validate", "piped"]);
    assert_eq!(out.code, 0, "{}", out.text());
    for want in [
        "piped.yaml:6:16: template `${{ inputs.x }}` is pasted into the script piped into `sh`",
        "piped.yaml:8:15: template `${{ inputs.x }}` is pasted into the script piped into `bash`",
        "piped.yaml:10:15: template `${{ inputs.x }}` is pasted into the script of `sh -c`, where `xargs` puts",
    ] {
        assert!(out.stderr.contains(want), "{want}\n{}", out.stderr);
    }
    assert_eq!(
        out.stderr.matches("is pasted into").count(),
        3,
        "{}",
        out.stderr
    );
}

/// Seen by a review: `orchestrate validate` reported only the first dependency cycle (e → e;
/// f → g → f came after fixing it), and put every `after:` error's caret on the condition's
/// first characters, not on the entry at fault. Every cycle is reported in one pass, each
/// error under its entry (an empty one under the separator before it).
#[test]
fn every_dependency_cycle_is_reported_at_once_with_the_caret_on_its_after_entry() {
    let env = Env::new();
    env.scenario(
        "cyc",
        "name: cyc\ndescription: d\nphases:\n  - {name: e, condition: \"after:e\"}\n  - name: f\n    condition: after:g\n  - name: g\n    condition: \"after: x, f\"\n  - name: h\n    condition: after:f,\n",
    );
    let out = env.run(&["orchestrate", "validate", "cyc"]);
    assert_eq!(out.code, 2, "{}", out.text());
    insta::assert_snapshot!("every_cycle_at_its_entry", out.snapshot(&env));
}

/// Seen by a review: a bad value of cortex.config.json written on one line with other keys
/// after it was underlined up to the next `:` (`"ten", "enable_rollback"`). The caret
/// covers the value only.
#[test]
fn a_configuration_values_caret_covers_the_value_only() {
    let env = Env::new();
    env.config(
        r#"{"workflow": {"timeout_seconds": "ten", "enable_rollback": true, "max_parallel": 0, "checkpoint_frequency": "daily"}, "agents": {"claude": {"program": "a/b", "model": "x"}}}"#,
    );
    let out = env.run(&["workflow", "validate", "--all"]);
    assert_ne!(out.code, 0, "{}", out.text());
    insta::assert_snapshot!("configuration_value_carets", out.snapshot(&env));
}

/// A value of the wrong type (`parallel: maybe`, `max_retry_attempts: many`) hides no other
/// problem of the file: it is set aside (its key read with its default) and the rest is
/// validated beside it. Before, it was the only problem reported until it was fixed, and then
/// an unknown `after:` phase and a cycle appeared.
#[test]
fn a_value_of_the_wrong_type_hides_no_other_problem() {
    let env = Env::new();
    env.scenario(
        "s",
        "name: s\ndescription: d\nphases:\n  - {name: a, description: x, condition: auto}\n  - {name: b, description: y, condition: after:zzz}\n  - {name: c, description: z, condition: after:c, parallel: maybe}\n",
    );
    let out = env.run(&["orchestrate", "validate", "s"]);
    assert_eq!(out.code, 2, "{}", out.text());
    insta::assert_snapshot!("wrong_type_beside_graph_problems", out.snapshot(&env));
    env.workflow(
        "w",
        "name: w\nsteps:\n  - {name: a, run: 'true', timeout: [1]}\n  - {name: a, run: 'true', retry: {max_retry_attempts: many}}\n  - {name: b, uses: nope}\n",
    );
    let out = env.run(&["--json", "workflow", "validate", "w"]);
    assert_eq!(out.code, 2, "{}", out.text());
    let at: Vec<(u64, u64)> = out
        .located_errors()
        .into_iter()
        .map(|(_, l, c)| (l, c))
        .collect();
    assert_eq!(
        at,
        vec![(3, 37), (4, 12), (4, 56), (5, 21)],
        "{}",
        out.text()
    );
    // A required key of the wrong type: said, and nothing more can be read without it.
    env.workflow("r", "name: [1]\nsteps:\n  - {name: a, run: 'true'}\n");
    let out = env.run(&["workflow", "validate", "r"]);
    assert_eq!(out.code, 2, "{}", out.text());
    assert!(
        out.text().contains("name: invalid type") || out.text().contains("invalid type"),
        "{}",
        out.text()
    );
}

/// An `if:` that does not parse is located at the token where parsing stopped inside a
/// double-quoted scalar that holds a `'` (no escape before it), as it is unquoted and
/// single-quoted: `if: "inputs.env == 'prod' and true"` put its caret on the opening quote
/// and underlined the whole expression though the message said "at character 22". A scalar
/// with an escape before the token still falls back to the scalar. And a function call
/// (`contains(inputs.env, 'pr')`) is said to be one, with what the language has: it was
/// "`,` is not part of the expression language".
#[test]
fn an_if_error_inside_a_double_quoted_scalar_is_located_at_its_token_and_calls_are_named() {
    let env = Env::new();
    env.workflow(
        "q",
        concat!(
            "name: q\n",
            "inputs:\n",
            "  env: {type: string, default: dev}\n",
            "steps:\n",
            "  - name: a\n",
            "    if: \"inputs.env == 'prod' and true\"\n",
            "    run: echo a\n",
            "  - name: b\n",
            "    if: contains(inputs.env, 'pr')\n",
            "    run: echo b\n",
            "  - name: c\n",
            "    if: 'inputs.env == ''prod'' and true'\n",
            "    run: echo c\n",
            "  - name: d\n",
            "    if: \"inputs.env == \\\"prod\\\" and true\"\n",
            "    run: echo d\n",
        ),
    );
    let out = env.run(&["--json", "workflow", "validate", "q"]);
    assert_eq!(out.code, 2, "{}", out.text());
    let errors = out.located_errors();
    let at: Vec<(u64, u64)> = errors.iter().map(|(_, l, c)| (*l, *c)).collect();
    // `and` is character 22 of the expression: column 9 (the quote) + 1 + 21; after a
    // doubled `''` or an escaped `\"`, each written as two characters, two columns further.
    assert_eq!(at, [(6, 31), (9, 9), (12, 33), (15, 33)], "{errors:?}");
    assert!(
        errors[1].0.contains("`contains(...)` is a function call")
            && errors[1].0.contains("comparisons (== != < <= > >=)"),
        "{errors:?}"
    );
    let human = env.run(&["workflow", "validate", "q"]);
    insta::assert_snapshot!("if_error_located_in_quoted_scalars", human.snapshot(&env));
}

/// `validate` words one problem one way for workflows and scenarios: a missing agent (before,
/// a scenario's had no hint and a workflow's another case) and a name used twice (before, a
/// scenario said "Duplicate phase name: a" with no hint), in the human output and `--json`.
#[test]
fn validate_words_a_missing_agent_and_a_name_used_twice_alike_for_both_kinds() {
    let env = Env::new();
    env.scenario(
        "s",
        "name: s\ndescription: d\nphases:\n  - {name: a, description: x, agents: [nobody]}\n  - {name: a, description: y}\n",
    );
    env.workflow(
        "w",
        "name: w\nsteps:\n  - {name: a, agent: nobody, prompt: p}\n  - {name: a, run: \"true\"}\n",
    );
    let said = |group: &str, name: &str| -> Vec<(String, String)> {
        let out = env.run(&["--json", group, "validate", name]);
        assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
        out.json()["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["message"].as_str().unwrap().to_string(),
                    e["hint"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect()
    };
    let scenario = said("orchestrate", "s");
    let workflow: Vec<(String, String)> = said("workflow", "w")
        .into_iter()
        .map(|(m, h)| (m.replace("step", "phase"), h.replace("step", "phase")))
        .collect();
    assert_eq!(scenario, workflow);
    assert_eq!(
        scenario[0],
        (
            "Agent not found: nobody".to_string(),
            "agents are Markdown files in CORTEX_HOME/agents/ or .claude/agents/".to_string()
        )
    );
    insta::assert_snapshot!(
        "missing_agent_and_name_used_twice_scenario",
        env.run(&["orchestrate", "validate", "s"]).snapshot(&env)
    );
}

#[test]
fn invalid_map_keyed_names_are_located_at_their_key() {
    let env = Env::new();
    env.workflow(
        "inp",
        "name: inp\ninputs:\n  \"a b\": {type: string}\nsteps:\n  - {name: s, prompt: x, env: {\"A B\": x}}\n",
    );
    let out = env.run(&["--json", "workflow", "validate", "inp"]);
    let at: Vec<(u64, u64)> = out
        .located_errors()
        .into_iter()
        .map(|(_, l, c)| (l, c))
        .collect();
    assert_eq!(at, vec![(3, 3), (5, 32)], "{}", out.text());
    env.scenario(
        "sc",
        "name: sc\ndescription: d\ninputs:\n  \"a b\":\n    type: string\nphases:\n  - name: p\n    condition: manual\n    env:\n      \"x y\": z\n",
    );
    let out = env.run(&["--json", "orchestrate", "validate", "sc"]);
    let at: Vec<(u64, u64)> = out
        .located_errors()
        .into_iter()
        .map(|(_, l, c)| (l, c))
        .collect();
    assert_eq!(at, vec![(4, 3), (10, 7)], "{}", out.text());
}

#[test]
fn a_pair_without_equals_says_name_equals_value_is_expected_and_how_to_write_it() {
    let env = Env::new();
    env.workflow("w", "name: w\nsteps:\n  - {name: s, run: \"true\"}\n");
    let out = env.run(&["workflow", "run", "w", "--input", "plan"]);
    assert_eq!(out.code, 2, "{}", out.text());
    assert!(
        out.stderr.contains("--input `plan` has no `=`")
            && out.stderr.contains("NAME=VALUE")
            && out.stderr.contains("write --input plan=VALUE"),
        "{}",
        out.stderr
    );
    let out = env.run(&["workflow", "run", "w", "--input", "=3"]);
    assert!(
        out.stderr.contains("has no name before its `=`"),
        "{}",
        out.stderr
    );
}
