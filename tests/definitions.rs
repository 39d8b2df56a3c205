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
