//! Integers are compared exactly, never as doubles: an input's bounds, an `if:` and the value
//! recorded of it.

mod common;

use common::Env;

const BIG_ID: &str = r#"name: big
inputs:
  id: {type: integer, required: true, maximum: 9007199254740992}
steps:
  - name: A
    if: "inputs.id == 9007199254740992"
    run: 'echo "id=${{ inputs.id }}" >> ran.txt'
  - name: B
    if: "'99999999999999999999' == 100000000000000000000"
    run: echo big >> ran.txt
"#;

/// 2^53 + 1 is more than a maximum of 2^53 (as a double it was equal, and passed).
#[test]
fn an_integer_past_two_to_the_53_is_checked_exactly_against_its_maximum() {
    let env = Env::new();
    env.workflow("big", BIG_ID);
    let out = env.run(&["workflow", "run", "big", "--input", "id=9007199254740993"]);
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr
            .contains("9007199254740993 is more than the maximum 9007199254740992"),
        "{}",
        out.stderr
    );
    let at = env.run(&["workflow", "run", "big", "--input", "id=9007199254740992"]);
    assert_eq!(at.code, 0, "{}{}", at.stdout, at.stderr);
}

/// An `if:` compares 2^53 + 1 with 2^53 exactly (unequal), records the value read as it is,
/// and twenty-digit numbers as they are.
#[test]
fn an_if_compares_integers_exactly_and_records_the_value_read() {
    let env = Env::new();
    env.workflow("big", &BIG_ID.replace(", maximum: 9007199254740992", ""));
    let out = env.run(&["workflow", "run", "big", "--input", "id=9007199254740993"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(!env.file("ran.txt").exists(), "both steps are skipped");
    let status = env.status(None);
    let seen = &status["steps"][0]["if"]["values"];
    assert_eq!(seen["inputs.id"], "9007199254740993", "{status}");
    assert_eq!(status["steps"][0]["status"], "skipped");
    assert_eq!(status["steps"][1]["status"], "skipped");
}

/// `validate` finds `!` applied to a number input inside a comparison (`!inputs.n == 3` is
/// `(!inputs.n) == 3`), at the `if:`'s line; before, it passed and the run failed "cannot be
/// decided".
#[test]
fn validate_finds_not_of_a_number_input_inside_a_comparison() {
    let env = Env::new();
    env.workflow(
        "notn",
        "name: notn\ninputs:\n  n: {type: number, default: 1.5}\nsteps:\n  - name: a\n    if: \"inputs.n > 1 && !inputs.n == 3\"\n    run: 'true'\n",
    );
    let out = env.run(&["--json", "workflow", "validate", "notn"]);
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    out.assert_error_on_line(
        "`inputs.n` is a number input where true or false is needed",
        6,
    );
    let run = env.run(&["workflow", "run", "notn"]);
    assert_eq!(
        run.code, 2,
        "refused before it starts: {}{}",
        run.stdout, run.stderr
    );
}

const BIG_BOUNDS: &str = r#"name: bounds
inputs:
  k: {type: integer, maximum: 9007199254740993, default: 9007199254740993}
  n: {type: integer, minimum: 9007199254740993, default: 9007199254740993}
steps:
  - {name: a, run: 'echo "k=${{ inputs.k }} n=${{ inputs.n }}" >> ran.txt'}
"#;

/// A `maximum` past 2^53 is the bound written, not the double next to it: a default equal to
/// it validates and runs, one past it is refused, and the bound is said as written.
#[test]
fn an_integer_maximum_past_two_to_the_53_is_kept_exactly() {
    let env = Env::new();
    env.workflow("bounds", BIG_BOUNDS);
    let out = env.run(&["workflow", "validate", "bounds"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let run = env.run(&["workflow", "run", "bounds"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(
        std::fs::read_to_string(env.file("ran.txt")).unwrap(),
        "k=9007199254740993 n=9007199254740993\n"
    );
    let past = env.run(&["workflow", "run", "bounds", "--input", "k=9007199254740994"]);
    assert_eq!(past.code, 2, "{}{}", past.stdout, past.stderr);
    assert!(
        past.stderr
            .contains("9007199254740994 is more than the maximum 9007199254740993"),
        "{}",
        past.stderr
    );
    // The definition recorded at `run` keeps the bound's digits.
    let run_id = env.status(None)["run_id"].as_str().unwrap().to_string();
    let started = &env.events(&run_id)[0];
    let spec = started["body"]["definition"]["inputs"]["k"].to_string();
    assert!(spec.contains(r#""maximum":9007199254740993"#), "{started}");
}

/// A `minimum` past 2^53 refuses 2^53 (as a double the bound was 2^53, and it passed).
#[test]
fn an_integer_minimum_past_two_to_the_53_is_kept_exactly() {
    let env = Env::new();
    env.workflow("bounds", BIG_BOUNDS);
    let out = env.run(&["workflow", "run", "bounds", "--input", "n=9007199254740992"]);
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stderr
            .contains("9007199254740992 is less than the minimum 9007199254740993"),
        "{}",
        out.stderr
    );
    assert!(!env.file("ran.txt").exists());
}

/// `validate` compares a `minimum` and a `maximum` past 2^53 exactly: one apart, in the wrong
/// order, they are refused (as doubles they were equal); in the right order they pass.
#[test]
fn validate_compares_integer_bounds_past_two_to_the_53_exactly() {
    let env = Env::new();
    env.workflow(
        "wrong",
        "name: wrong\ninputs:\n  k: {type: integer, minimum: 9007199254740993, maximum: 9007199254740992}\nsteps: [{name: a, run: 'true'}]\n",
    );
    let out = env.run(&["workflow", "validate", "wrong"]);
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    assert!(
        out.text()
            .contains("`minimum` 9007199254740993 is greater than `maximum` 9007199254740992"),
        "{}",
        out.text()
    );
    env.workflow(
        "right",
        "name: right\ninputs:\n  k: {type: integer, minimum: 9007199254740992, maximum: 9007199254740993}\nsteps: [{name: a, run: 'true'}]\n",
    );
    let out = env.run(&["workflow", "validate", "right"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
}

/// `with:` values a YAML reader takes for numbers or booleans reach the child as written, as
/// `--input` gives them: `1.10` stays `1.10` (before, `1.1`), `2.0` stays `2.0` (before, `2`);
/// so do a step's `env:` values and a text input's `default:`.
#[test]
fn with_env_and_text_defaults_written_as_numbers_are_kept_as_written() {
    let env = Env::new();
    env.workflow(
        "pinned",
        "name: pinned\ninputs:\n  version: {type: string}\n  other: {type: string}\n  n: {type: number}\nsteps:\n  - name: s\n    run: echo \"${{ inputs.version }} ${{ inputs.other }} ${{ inputs.n }}\" >> ran.txt\n",
    )
    .workflow(
        "release",
        "name: release\ninputs:\n  channel: {type: string, default: 2.50}\nsteps:\n  - name: call\n    uses: pinned\n    with: {version: 1.10, other: 2.0, n: 1.10}\n  - name: show\n    run: echo \"${{ inputs.channel }} $RATIO\" >> ran.txt\n    env: {RATIO: 1.50}\n",
    );
    let valid = env.run(&["workflow", "validate", "release"]);
    assert_eq!(valid.code, 0, "{}{}", valid.stdout, valid.stderr);
    let run = env.run(&["workflow", "run", "release"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(
        std::fs::read_to_string(env.file("ran.txt")).unwrap(),
        "1.10 2.0 1.1\n2.50 1.50\n"
    );
    let child = env.status(Some("pinned"));
    assert_eq!(child["inputs"]["version"], "1.10");
    assert_eq!(child["inputs"]["other"], "2.0");
    assert_eq!(env.status(Some("release"))["inputs"]["channel"], "2.50");
}

/// An item of a `foreach:` list written in the definition is data as YAML types it: `1.10`
/// is the number 1.1, so `${{ item }}` is `1.1`. It cannot be kept as written (the item is a
/// number), so `validate` warns at the item, with the fix (quote it); `2.0` and `3`, whose
/// value reads back as written, and a quoted `"4.0"` are not warned about.
#[test]
fn validate_warns_at_a_foreach_item_read_as_a_number_not_as_written() {
    let env = Env::new();
    env.workflow(
        "loop",
        "name: loop\ninputs:\n  v: {type: string, enum: [1.10, 2.0]}\nsteps:\n  - name: each\n    foreach: [1.10, 2.0, 3, \"4.0\"]\n    run: echo \"${{ item }}\" >> items.txt\n",
    );
    let valid = env.run(&["--json", "workflow", "validate", "loop"]);
    assert_eq!(valid.code, 0, "{}{}", valid.stdout, valid.stderr);
    let warnings = valid.json()["warnings"].clone();
    let warnings: Vec<&str> = warnings
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap())
        .collect();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].ends_with(
            "loop.yaml:6:15: item 0 of the `foreach:` of step `each` is written `1.10` but read as `1.1` (YAML takes it for a number or a boolean), so `${{ item }}` is `1.1`; quote it (`\"1.10\"`) to keep it as written"
        ),
        "{}",
        warnings[0]
    );
    // An `enum:` of a text input is kept as written: `1.10` is one of its values.
    let run = env.run(&["workflow", "run", "loop", "--input", "v=1.10"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
}

/// A `~` item, and a number inside an item (`{x: 1.30}`), are typed by YAML too: warned about
/// at themselves, as a number item is.
#[test]
fn validate_warns_at_a_foreach_null_item_and_at_a_number_nested_in_an_item() {
    let env = Env::new();
    env.workflow(
        "loop2",
        "name: loop2\nsteps:\n  - name: each\n    foreach: [~, {x: 1.30}, ok]\n    run: echo \"${{ item }}\"\n",
    );
    let valid = env.run(&["--json", "workflow", "validate", "loop2"]);
    assert_eq!(valid.code, 0, "{}{}", valid.stdout, valid.stderr);
    let warnings = valid.json()["warnings"].clone();
    let warnings: Vec<&str> = warnings
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap())
        .collect();
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(
        warnings[0].contains("loop2.yaml:4:15: item 0 of the `foreach:` of step `each` is written `~` but read as `null`"),
        "{warnings:?}"
    );
    assert!(
        warnings[1].contains("loop2.yaml:4:22: item 1 of the `foreach:` of step `each` is written `1.30` but read as `1.3`"),
        "{warnings:?}"
    );
}

/// An integer past what an `integer` input holds is said to be out of range, echoed as given
/// and with the range; before, it read "`100000000000000000000` is not an integer". A text that
/// is no integer is still said to be none.
#[test]
fn an_integer_input_past_its_range_is_out_of_range_as_given() {
    let env = Env::new();
    env.workflow(
        "n",
        "name: n\ninputs: {n: {type: integer}}\nsteps:\n  - name: a\n    run: echo ${{ inputs.n }}\n",
    );
    for given in ["99999999999999999999", "-99999999999999999999"] {
        let out = env.run(&["workflow", "run", "n", "--input", &format!("n={given}")]);
        assert_eq!(out.code, 2, "{}", out.text());
        assert!(
            out.stderr.contains(&format!(
                "`{given}` is out of range: an `integer` input is from -9223372036854775808 to 9223372036854775807"
            )),
            "{}",
            out.stderr
        );
    }
    let out = env.run(&["workflow", "run", "n", "--input", "n=1e3"]);
    assert!(
        out.stderr.contains("`1e3` is not an integer"),
        "{}",
        out.stderr
    );
}

/// A `foreach:` over an output's JSON list gives each item, and records it, as the list wrote
/// it: `1.10`, `-0`, `1E2` and a number past u64 are not read as doubles (they ran as `1.1`,
/// `-0.0`, `100.0`, `1.8446744073709552e+19`). The log holds them so, and verifies, exported
/// too.
#[test]
fn foreach_items_from_an_output_keep_their_numbers_as_written() {
    let env = Env::new();
    env.workflow(
        "num",
        r#"name: num
steps:
  - name: plan
    run: |
      echo 'list=[1.10, 2.0, 18446744073709551616, -0, 1E2, {"v": 0.10, "a": 1}]' >> "$CORTEX_OUTPUT"
  - name: each
    foreach: "${{ steps.plan.outputs.list }}"
    run: echo "v=$CORTEX_ITEM" >> "$CORTEX_OUTPUT"
"#,
    );
    let out = env.run(&["workflow", "run", "num"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("each, item 3/6 (18446744073709551616)"),
        "{}",
        out.stdout
    );
    let status = env.status(None);
    let given: Vec<&str> = (0..6)
        .map(|i| {
            let unit = status["steps"]
                .as_array()
                .unwrap()
                .iter()
                .find(|s| s["name"] == format!("each[{i}]"))
                .unwrap();
            unit["outputs"]["v"].as_str().unwrap()
        })
        .collect();
    assert_eq!(
        given,
        [
            "1.10",
            "2.0",
            "18446744073709551616",
            "-0",
            "1E2",
            r#"{"a":1,"v":0.10}"#
        ],
        "{status}"
    );
    let run = status["run_id"].as_str().unwrap().to_string();
    let rows = env.open_store().raw_rows(Some(&run)).unwrap();
    let expanded = rows
        .iter()
        .find(|r| r.type_name == b"foreach_expanded")
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&expanded.body),
        r#"{"items":[1.10,2.0,18446744073709551616,-0,1E2,{"a":1,"v":0.10}],"step":"each"}"#
    );
    assert_eq!(env.run(&["log", "verify"]).code, 0);
    let exported = env.run(&["log", "export", &run]);
    assert_eq!(exported.code, 0, "{}", exported.stderr);
    let file = env.project().join("num.jsonl");
    std::fs::write(&file, &exported.stdout).unwrap();
    let verified = env.run(&["log", "verify", "--file", file.to_str().unwrap()]);
    assert_eq!(verified.code, 0, "{}{}", verified.stdout, verified.stderr);
}
