//! Definitions read as written: a `${{ }}` template in a shell command is its value wherever
//! it stands in the shell's quoting (or refused, located, where no variable can expand), a
//! workflow's or scenario's `name:` is unique in its home, and a UTF-8 byte order mark at the
//! start of a file is allowed.

mod common;

use common::Env;
use proptest::prelude::*;

/// A workflow whose one step writes the input `v` through a template in every quoting context
/// the shell has, each to its own file.
const EVERY_CONTEXT: &str = r#"name: contexts
inputs: {v: {type: string, required: true}}
steps:
  - name: write
    run: |
      printf %s ${{ inputs.v }} > unquoted
      printf %s "<${{ inputs.v }}>" > double
      printf %s 'a${{ inputs.v }}b' > single
      printf '%s\n' '{"version": "${{ inputs.v }}"}' > json
      printf %s "$(printf %s '${{ inputs.v }}x')" > substitution
      printf %s ${UNSET_X:-${{ inputs.v }}} > param
      printf %s "${UNSET_X:-${{ inputs.v }}}" > double-param
      cat > heredoc <<EOF
      [${{ inputs.v }}]
      EOF
      printf %s "`printf %s '${{ inputs.v }}'`x" > backquote # a comment: '${{ inputs.v }}
"#;

fn expected(v: &str) -> Vec<(&'static str, String)> {
    let trimmed = v.trim_end_matches('\n');
    vec![
        ("unquoted", v.to_string()),
        ("double", format!("<{v}>")),
        ("single", format!("a{v}b")),
        ("json", format!("{{\"version\": \"{v}\"}}\n")),
        ("substitution", format!("{v}x")),
        ("param", v.to_string()),
        ("double-param", v.to_string()),
        ("heredoc", format!("[{v}]\n")),
        ("backquote", format!("{trimmed}x")),
    ]
}

fn run_every_context(env: &Env, v: &str) {
    let out = env.run(&["workflow", "run", "contexts", "--input", &format!("v={v}")]);
    assert_eq!(out.code, 0, "{}", out.text());
    for (file, want) in expected(v) {
        let got = std::fs::read_to_string(env.project().join(file)).unwrap();
        assert_eq!(got, want, "{file} for the value {v:?}");
    }
}

#[test]
fn template_in_single_quotes_is_the_value() {
    let env = Env::new();
    env.workflow(
        "sq",
        "name: sq\ninputs: {version: {type: string, default: \"1.2.3\"}}\nsteps:\n  - name: post\n    run: |\n      echo '{\"version\": \"${{ inputs.version }}\"}' > payload.json\n",
    );
    assert_eq!(env.run(&["workflow", "validate", "sq"]).code, 0);
    let out = env.run(&["workflow", "run", "sq"]);
    assert_eq!(out.code, 0, "{}", out.text());
    assert_eq!(
        std::fs::read_to_string(env.project().join("payload.json")).unwrap(),
        "{\"version\": \"1.2.3\"}\n"
    );
}

#[test]
fn template_is_the_value_in_every_quoting_context() {
    let env = Env::new();
    env.workflow("contexts", EVERY_CONTEXT);
    for v in [
        "",
        "plain",
        "two  spaces",
        "*",
        "it's",
        "say \"hi\"",
        "$(touch pwned)",
        "`touch pwned`",
        "a\nb\n",
        "'\"'\"$HOME\\",
        "EOF",
    ] {
        run_every_context(&env, v);
    }
    assert!(!env.project().join("pwned").exists());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Whatever the value holds (quotes, `$(...)`, backquotes, backslashes, newlines, globs),
    /// every quoting context gets it exactly and nothing in it runs.
    #[test]
    fn template_value_never_becomes_shell_text(v in "[a-z '\"$()`\\\\\n*;#|&<>~]{0,16}") {
        let env = Env::new();
        env.workflow("contexts", EVERY_CONTEXT);
        run_every_context(&env, &v);
        prop_assert_eq!(std::fs::read_dir(env.project()).unwrap().count(), expected(&v).len());
    }
}

#[test]
fn template_where_no_variable_expands_is_refused_where_it_stands() {
    let env = Env::new();
    env.workflow(
        "hd",
        "name: hd\ninputs: {version: {type: string, default: \"1.2.3\"}}\nsteps:\n  - name: post\n    run: |\n      cat <<'EOF' > out\n      v=${{ inputs.version }}\n      EOF\n  - name: arith\n    run: |\n      echo $((${{ inputs.version }} + 1))\n      echo \\${{ inputs.version }} $'${{ inputs.version }}'\n",
    );
    let out = env.run(&["workflow", "validate", "hd"]);
    assert_eq!(out.code, 2);
    insta::assert_snapshot!("template_where_no_variable_expands", out.snapshot(&env));
    let out = env.run(&["workflow", "run", "hd"]);
    assert_eq!(out.code, 2, "{}", out.text());
    assert!(out.text().contains("hd.yaml:7:9"), "{}", out.text());
    assert!(!env.project().join("out").exists());
}

#[test]
fn template_in_quoted_heredoc_of_a_scenario_check_is_refused() {
    let env = Env::new();
    env.scenario(
        "s",
        "name: s\ninputs: {v: {type: string, default: x}}\nphases:\n  - name: one\n    description: d\n    success_criteria:\n      - check: \"cat <<'E'\\n${{ inputs.v }}\\nE\"\n",
    );
    let out = env.run(&["orchestrate", "validate", "s"]);
    assert_eq!(out.code, 2, "{}", out.text());
    assert!(out.text().contains("here-document"), "{}", out.text());
}

#[test]
fn workflow_name_shared_by_two_files_is_refused_naming_both() {
    let env = Env::new();
    env.workflow(
        "one",
        "name: same\nsteps:\n  - name: s\n    run: echo one\n",
    );
    // Alone, it validates, with a warning that its runs are recorded under another name; it
    // is found by its file name and by its `name:`.
    let out = env.run(&["workflow", "validate", "one"]);
    assert_eq!(out.code, 0, "{}", out.text());
    assert!(
        out.stderr.contains("name the file `same.yaml`"),
        "{}",
        out.text()
    );
    assert_eq!(env.run(&["workflow", "run", "same"]).code, 0);
    env.workflow(
        "two",
        "name: same\nsteps:\n  - name: s\n    run: echo two\n",
    );
    let out = env.run(&["workflow", "validate", "one"]);
    assert_eq!(out.code, 2);
    insta::assert_snapshot!("workflow_name_shared_by_two_files", out.snapshot(&env));
    let out = env.run(&["workflow", "run", "same"]);
    assert_eq!(out.code, 2, "{}", out.text());
    assert!(out.text().contains("two.yaml"), "{}", out.text());
    let out = env.run(&["workflow", "validate", "--all", "--json"]);
    assert_eq!(out.code, 2);
    let doc = out.json();
    let invalid: Vec<&str> = doc["workflows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["valid"] == false)
        .map(|d| d["file"].as_str().unwrap())
        .collect();
    assert_eq!(invalid.len(), 2, "{invalid:?}");
    let out = env.run(&["workflow", "list", "--json"]);
    for row in out.json().as_array().unwrap() {
        let named_same = ["one", "two"].contains(&row["name"].as_str().unwrap());
        assert_eq!(row["valid"] == false, named_same, "{row}");
    }
}

#[test]
fn workflow_name_of_a_builtin_in_another_file_is_refused() {
    let env = Env::new();
    env.workflow(
        "mine",
        "name: migration\nsteps:\n  - name: s\n    run: echo mine\n",
    );
    let out = env.run(&["workflow", "validate", "mine"]);
    assert_eq!(out.code, 2, "{}", out.text());
    assert!(out.text().contains("builtin:migration"), "{}", out.text());
    // A file named after the built-in overrides it: one workflow, valid.
    let env = Env::new();
    env.workflow(
        "migration",
        "name: migration\nsteps:\n  - name: s\n    run: echo mine\n",
    );
    assert_eq!(env.run(&["workflow", "validate", "--all"]).code, 0);
}

#[test]
fn scenario_name_shared_by_two_files_is_refused_naming_both() {
    let env = Env::new();
    let yaml = "name: sc\ndescription: d\nphases:\n  - name: p\n    description: x\n";
    env.scenario("a", yaml).scenario("b", yaml);
    let out = env.run(&["orchestrate", "validate", "a"]);
    assert_eq!(out.code, 2, "{}", out.text());
    assert!(out.text().contains("b.yaml"), "{}", out.text());
    assert_eq!(env.run(&["orchestrate", "validate", "--all"]).code, 2);
    let out = env.run(&["orchestrate", "run", "sc"]);
    assert_eq!(out.code, 2, "{}", out.text());
    assert!(out.text().contains("unique"), "{}", out.text());
}

const BOM: &str = "\u{feff}";

#[test]
fn byte_order_mark_is_allowed_and_locations_stay_right() {
    let env = Env::new();
    env.workflow(
        "bom",
        &format!("{BOM}name: bom\nsteps:\n  - name: s\n    run: echo hi\n"),
    );
    assert_eq!(env.run(&["workflow", "validate", "bom"]).code, 0);
    assert_eq!(env.run(&["workflow", "run", "bom"]).code, 0);
    env.workflow("typo", &format!("{BOM}nme: typo\nsteps: []\n"));
    let out = env.run(&["workflow", "validate", "typo", "--json"]);
    let errors = out.located_errors();
    assert!(
        errors
            .iter()
            .any(|(m, l, c)| m.contains("nme") && *l == 1 && *c == 1),
        "{errors:?}"
    );
    std::fs::create_dir_all(env.home().join("agents")).unwrap();
    std::fs::write(
        env.home().join("agents/helper.md"),
        format!("{BOM}---\nname: helper\ndescription: helps\n---\nbody\n"),
    )
    .unwrap();
    env.config(&format!("{BOM}{{\"workflow\": {{\"max_parallel\": 2}}}}"));
    env.scenario("schema", &format!("{BOM}required: [name, description]\n"));
    env.scenario(
        "sc",
        &format!(
            "{BOM}name: sc\ndescription: d\nphases:\n  - name: p\n    description: x\n    agents: [helper]\n"
        ),
    );
    let out = env.run(&["orchestrate", "validate", "sc"]);
    assert_eq!(out.code, 0, "{}", out.text());
    env.scenario(
        "bad",
        &format!("{BOM}name: bad\ndescription: d\nphase: []\n"),
    );
    let out = env.run(&["orchestrate", "validate", "bad", "--json"]);
    out.assert_error_on_line("phase", 3);
}

#[test]
fn names_with_quotes_are_shown_as_written_in_validate_messages() {
    let env = Env::new();
    env.workflow(
        "dq",
        "name: dq\nsteps:\n  - name: 'say \"hi\"'\n    run: \"true\"\n  - name: use\n    run: |\n      echo \"${{ steps.say \"ho\".outputs.x }}\"\n",
    );
    let out = env.run(&["workflow", "validate", "dq"]);
    assert_eq!(out.code, 2, "{}", out.text());
    assert!(
        out.text().contains("no step `say \"ho\"`")
            && out.text().contains("did you mean `say \"hi\"`?"),
        "{}",
        out.text()
    );
    assert!(!out.text().contains("\\\""), "{}", out.text());
}

#[test]
fn name_mismatch_suggests_a_file_name_only_for_a_safe_name_and_never_nests_backticks() {
    let env = Env::new();
    env.workflow(
        "evil",
        "name: \"rel $(touch pwned) `touch pwned2`; touch pwned3 q\"\nsteps:\n  - {name: s, prompt: p}\n",
    );
    let out = env.run(&["workflow", "validate", "evil"]);
    assert_eq!(out.code, 0, "{}", out.text());
    assert!(!out.stderr.contains("name the file"), "{}", out.stderr);
    assert!(out.stderr.contains("write `name: evil`"), "{}", out.stderr);
    assert!(
        out.stderr
            .contains("is `` rel $(touch pwned) `touch pwned2`; touch pwned3 q ``"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains('…'), "{}", out.stderr);
    env.workflow("bd", "name: build docs\nsteps:\n  - {name: s, prompt: p}\n");
    let out = env.run(&["workflow", "validate", "bd"]);
    assert!(
        out.stderr
            .contains("name the file `build-docs.yaml`, or write `name: bd`"),
        "{}",
        out.stderr
    );
}

/// `$${{` is a literal `${{` wherever templates are read (a prompt asking an agent for a GitHub
/// Actions workflow, a `run:` command, an `env:` value, `foreach:` items): `validate` accepts
/// it, nothing evaluates it, and the text reads `${{`; a real template beside it still renders.
#[test]
fn an_escaped_template_is_literal_text_everywhere_templates_are_read() {
    let env = Env::new();
    env.workflow(
        "esc",
        r#"name: esc
inputs: {v: {type: string, default: "1.2"}}
steps:
  - name: write
    env: {LIT: "$${{ secrets.GITHUB_TOKEN }} ${{ inputs.v }}"}
    run: |
      printf %s '$${{ secrets.GITHUB_TOKEN }}' > run-lit
      printf %s "$LIT" > env-lit
  - name: each
    foreach: ["$${{ a }}"]
    run: printf %s '${{ item }}' > item-lit
  - name: ask
    prompt: "Write .github/workflows/ci.yml with token: $${{ secrets.GITHUB_TOKEN }} for v${{ inputs.v }}"
"#,
    );
    let validate = env.run(&["workflow", "validate", "esc"]);
    assert_eq!(validate.code, 0, "{}", validate.text());
    let out = env.run(&["--json", "workflow", "run", "esc"]);
    assert_eq!(out.code, 3, "{}", out.text());
    let read = |f: &str| std::fs::read_to_string(env.project().join(f)).unwrap();
    assert_eq!(read("run-lit"), "${{ secrets.GITHUB_TOKEN }}");
    assert_eq!(read("env-lit"), "${{ secrets.GITHUB_TOKEN }} 1.2");
    assert_eq!(read("item-lit"), "${{ a }}");
    let status = env.run(&["--json", "workflow", "status"]).stdout;
    assert!(
        status.contains("token: ${{ secrets.GITHUB_TOKEN }} for v1.2"),
        "{status}"
    );
    assert!(!status.contains("token: $${{"), "{status}");
    // Unescaped, it is refused, and the error names the escape.
    env.workflow(
        "bare",
        "name: bare\nsteps:\n  - name: ask\n    prompt: \"token: ${{ secrets.GITHUB_TOKEN }}\"\n",
    );
    let bare = env.run(&["workflow", "validate", "bare"]);
    assert_ne!(bare.code, 0);
    assert!(bare.text().contains("write `$${{`"), "{}", bare.text());
}
