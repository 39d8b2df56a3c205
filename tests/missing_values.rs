//! What a command sees for a value the run does not have, and what is shown of it: the same
//! empty value in a step's `env:` as in its `run:` text (never the raw `${{ ... }}`), and a
//! refused report's check shown as it ran.

mod common;

use common::Env;

const USES_A_MISSING_VALUE: &str = r#"name: e
inputs:
  opt: {type: string}
steps:
  - name: Plan
    prompt: plan it
  - name: Use
    env: {PLAN: "${{ steps.Plan.outputs.plan }}", OPT: "${{ inputs.opt }}"}
    run: 'echo "PLAN=[$PLAN] OPT=[$OPT] inline=[${{ steps.Plan.outputs.plan }}]" > use.txt'
"#;

/// A step output never written and an input never given: empty in `env:`, as inline in
/// `run:`. Before, the `env:` value reached the command as the literal `${{ ... }}` text.
#[test]
fn a_missing_value_in_env_is_empty_as_in_run() {
    let env = Env::new();
    env.workflow("e", USES_A_MISSING_VALUE);
    assert_eq!(env.run(&["workflow", "run", "e"]).code, 3);
    let done = env.run(&["workflow", "step", "complete", "Plan"]);
    assert_eq!(done.code, 0, "{}{}", done.stdout, done.stderr);
    assert_eq!(
        std::fs::read_to_string(env.file("use.txt")).unwrap(),
        "PLAN=[] OPT=[] inline=[]\n"
    );
}

/// The same after `resume --skip` of the step that would have written the output.
#[test]
fn a_missing_value_in_env_is_empty_after_the_producer_is_skipped() {
    let env = Env::new();
    env.workflow(
        "e",
        &USES_A_MISSING_VALUE.replace(
            "    prompt: plan it\n",
            "    run: exit 1\n    retry: {max_retry_attempts: 0}\n",
        ),
    );
    assert_eq!(env.run(&["workflow", "run", "e"]).code, 1);
    let skipped = env.run(&["workflow", "resume", "--skip"]);
    assert_eq!(skipped.code, 0, "{}{}", skipped.stdout, skipped.stderr);
    assert_eq!(
        std::fs::read_to_string(env.file("use.txt")).unwrap(),
        "PLAN=[] OPT=[] inline=[]\n"
    );
}

/// A scenario phase's `env:` naming an output its producer never wrote: empty too.
#[test]
fn a_missing_phase_output_in_a_phase_env_is_empty() {
    let env = Env::new();
    env.scenario("rev", "name: rev\ndescription: d\nphases:\n  - name: review\n    description: review\n  - name: publish\n    description: p\n    condition: after:review\n    env: {URL: \"${{ phases.review.outputs.url }}\"}\n    run: 'echo \"URL=[$URL]\" > url.txt'\n");
    let run = env.run(&["--json", "orchestrate", "run", "rev"]);
    assert_eq!(run.code, 3, "{}{}", run.stdout, run.stderr);
    let id = run.json()["run_id"].as_str().unwrap().to_string();
    let done = env.run(&["orchestrate", "complete", &id, "review"]);
    assert_eq!(done.code, 0, "{}{}", done.stdout, done.stderr);
    assert_eq!(
        std::fs::read_to_string(env.file("url.txt")).unwrap(),
        "URL=[]\n"
    );
}

/// A report refused by a `validate:` check names the check as written (templates as
/// templates: a value pasted into its text read as a command, and a secret output's value was
/// written out) and then the values its templates had, a secret's `***`, in human output and
/// in `--json` `errors`.
#[test]
fn a_refused_report_shows_the_check_as_written_with_its_values_secrets_redacted() {
    let env = Env::new();
    env.workflow(
        "chk",
        r#"name: chk
inputs:
  api_token: {type: string, required: true}
steps:
  - name: Plan it
    prompt: plan it
    validate:
      - run: 'test -f "${{ steps.Plan it.outputs.plan }}" && test "${{ inputs.api_token }}" = x'
"#,
    );
    let run = env.run(&[
        "workflow",
        "run",
        "chk",
        "--input",
        "api_token=hunter2-very-secret",
    ]);
    assert_eq!(run.code, 3, "{}{}", run.stdout, run.stderr);
    let token = [("CORTEX_INPUT_API_TOKEN", "hunter2-very-secret")];
    let human = env.run_with(
        &[
            "workflow",
            "step",
            "complete",
            "Plan it",
            "--output",
            "plan=no-such-file",
        ],
        &token,
    );
    assert_eq!(human.code, 2, "{}{}", human.stdout, human.stderr);
    insta::assert_snapshot!("refused_report_check_as_written", human.snapshot(&env));
    let json = env.run_with(
        &[
            "--json",
            "workflow",
            "step",
            "complete",
            "Plan it",
            "--output",
            "plan=no-such-file",
        ],
        &token,
    );
    assert_eq!(json.code, 2);
    let message = json.json()["errors"][0]["message"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        message.contains("`test -f \"${{ steps.Plan it.outputs.plan }}\" && test \"${{ inputs.api_token }}\" = x` exited with code 1"),
        "{message}"
    );
    assert!(
        message.contains("steps.Plan it.outputs.plan = 'no-such-file'")
            && message.contains("inputs.api_token = ***"),
        "{message}"
    );
    assert!(
        !json.stdout.contains("hunter2-very-secret"),
        "{}",
        json.stdout
    );
    assert!(
        !human.text().contains("hunter2-very-secret"),
        "{}",
        human.text()
    );
}

const PARENT_OF_A_MISSING_VALUE: &str = r#"name: p
steps:
  - name: Plan
    prompt: plan it
  - name: c
    uses: ch
    with: {note: "${{ steps.Plan.outputs.plan }}", label: "v-${{ steps.Plan.outputs.plan }}"}
"#;

/// A `with:` value the parent has no value for: an entry that is one template alone gives the
/// child nothing (its `default:` applies), and one with text around the template gets the
/// template empty, as a command's `env:` does. Before, the child's input was the raw
/// `${{ ... }}` text.
#[test]
fn a_missing_value_in_with_leaves_the_childs_input_to_its_default() {
    let env = Env::new();
    env.workflow(
        "ch",
        "name: ch\ninputs:\n  note: {type: string, default: none given}\n  label: {type: string}\nsteps:\n  - name: show\n    run: 'echo \"note=[${{ inputs.note }}] label=[${{ inputs.label }}]\" > child.txt'\n",
    );
    env.workflow("p", PARENT_OF_A_MISSING_VALUE);
    assert_eq!(env.run(&["workflow", "run", "p"]).code, 3);
    let done = env.run(&["workflow", "step", "complete", "Plan"]);
    assert_eq!(done.code, 0, "{}{}", done.stdout, done.stderr);
    assert_eq!(
        std::fs::read_to_string(env.file("child.txt")).unwrap(),
        "note=[none given] label=[v-]\n"
    );
}

/// The same entry for a `required` input of the child: the input is missing, and the step
/// fails saying so, instead of the child running on the raw template text.
#[test]
fn a_missing_value_in_with_for_a_required_input_fails_the_step_naming_it() {
    let env = Env::new();
    env.workflow(
        "ch",
        "name: ch\ninputs:\n  note: {type: string, required: true}\n  label: {type: string}\nsteps:\n  - name: show\n    run: 'echo \"note=[${{ inputs.note }}]\" > child.txt'\n",
    );
    env.workflow("p", PARENT_OF_A_MISSING_VALUE);
    assert_eq!(env.run(&["workflow", "run", "p"]).code, 3);
    let done = env.run(&["workflow", "step", "complete", "Plan"]);
    let text = format!("{}{}", done.stdout, done.stderr);
    assert_ne!(done.code, 0, "{text}");
    assert!(text.contains("note"), "{text}");
    assert!(!env.file("child.txt").exists(), "the child ran: {text}");
}

/// An optional input with no default, taken as true or false itself by an `if:`: `validate`
/// refuses it at the `if:` (before, it was valid and the run failed there, naming the input
/// "a string ('')" with a hint to compare it with `''`, and a resume takes no inputs to fix
/// it). Compared, or with a default, it is fine.
#[test]
fn an_if_taking_an_optional_input_without_default_as_a_boolean_is_refused_by_validate() {
    let env = Env::new();
    env.scenario(
        "in",
        "name: in\ndescription: optional boolean input\ninputs:\n  flag: {type: boolean}\nphases:\n  - name: a\n    if: inputs.flag\n    run: echo ran\n",
    );
    env.workflow(
        "inw",
        "name: inw\ninputs:\n  flag: {type: boolean}\n  other: {type: boolean, default: false}\nsteps:\n  - name: a\n    if: inputs.other && !inputs.flag\n    run: echo ran\n  - name: b\n    if: inputs.flag == true\n    run: echo ran\n",
    );
    let scenario = env.run(&["--json", "orchestrate", "validate", "in"]);
    assert_eq!(scenario.code, 2, "{}{}", scenario.stdout, scenario.stderr);
    scenario.assert_error_on_line("input `flag` is optional with no `default:`", 7);
    let workflow = env.run(&["--json", "workflow", "validate", "inw"]);
    assert_eq!(workflow.code, 2, "{}{}", workflow.stdout, workflow.stderr);
    workflow.assert_error_on_line("input `flag` is optional with no `default:`", 7);
    assert_eq!(
        workflow.located_errors().len(),
        1,
        "{:?}",
        workflow.located_errors()
    );
    insta::assert_snapshot!(
        "optional_input_if_refused",
        env.run(&["orchestrate", "validate", "in"]).snapshot(&env)
    );
    // Given on the run, or with a default, the same `if:` decides.
    let given = env.run(&["orchestrate", "run", "in", "--input", "flag=true"]);
    assert_eq!(
        given.code, 2,
        "validate refuses it whatever is given: {}",
        given.stderr
    );
    env.scenario(
        "in",
        "name: in\ndescription: optional boolean input\ninputs:\n  flag: {type: boolean, default: false}\nphases:\n  - name: a\n    if: inputs.flag\n    run: echo ran >> ran.log\n",
    );
    assert_eq!(env.run(&["orchestrate", "run", "in"]).code, 0);
    assert!(!env.file("ran.log").exists());
}

/// A step output never written, taken as true or false itself: the failure says it has no
/// value and why, and a comparison that decides it (before: "a string ('')", compare it with
/// `''`).
#[test]
fn an_if_taking_a_missing_output_as_a_boolean_says_it_has_no_value() {
    let env = Env::new();
    env.workflow(
        "o",
        "name: o\nsteps:\n  - name: a\n    run: 'true'\n  - name: b\n    if: steps.a.outputs.ok\n    run: echo ran\n",
    );
    let out = env.run(&["workflow", "run", "o"]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout
            .contains("`steps.a.outputs.ok` has no value (`a` recorded no output `ok`)")
            && out.stdout.contains("`steps.a.outputs.ok == 'true'`"),
        "{}",
        out.stdout
    );
}
