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
