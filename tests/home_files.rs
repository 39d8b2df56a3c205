//! The files of the home every definition depends on — `cortex.config.json` and
//! `scenarios/schema.yaml` — are judged as themselves: a command that would refuse a run for
//! them says so (validate, preview), and a listing names the file that is wrong once, never
//! as each definition's own error.

mod common;

use common::Env;

const SCENARIO: &str = "name: s\ndescription: d\nphases:\n  - name: one\n    run: echo hi\n";
const BAD_CONFIG: &str = "{\"workflow\":{\"max_retry_attempt\":3}}\n";
const BAD_SCHEMA: &str = "required: [name]\nfeilds: {}\n";

fn with_bad_config() -> Env {
    let env = Env::new();
    env.scenario("s", SCENARIO);
    env.config(BAD_CONFIG);
    env
}

/// Seen by a review: `orchestrate validate NAME` said `[OK]` (exit 0) of a scenario whose
/// runs `orchestrate run` refuses for an invalid cortex.config.json; `workflow validate`
/// reported it. Both report the configuration, its file and line:column, exit 2.
#[test]
fn orchestrate_validate_reports_an_invalid_config_as_workflow_validate_does() {
    let env = with_bad_config();
    let out = env.run(&["orchestrate", "validate", "s"]);
    assert_eq!(out.code, 2, "{}", out.text());
    insta::assert_snapshot!("orchestrate_validate_bad_config", out.snapshot(&env));
    let doc = env.run(&["--json", "orchestrate", "validate", "s"]).json();
    assert_eq!(doc["valid"], false);
    let error = &doc["errors"][0];
    assert!(
        error["file"]
            .as_str()
            .unwrap()
            .ends_with("cortex.config.json")
    );
    // At the unknown key itself, not at the `:` serde_json stopped on.
    assert_eq!(
        (error["line"].as_u64(), error["column"].as_u64()),
        (Some(1), Some(14))
    );
    assert_eq!(env.run(&["orchestrate", "run", "s"]).code, 2);
}

/// `orchestrate validate --all` says the invalid configuration once, of its own file (a
/// `config` verdict in --json), above each scenario's own verdict; exit 2.
#[test]
fn orchestrate_validate_all_names_an_invalid_config_once() {
    let env = with_bad_config();
    env.scenario("t", &SCENARIO.replace("name: s", "name: t"));
    let out = env.run(&["orchestrate", "validate", "--all"]);
    assert_eq!(out.code, 2, "{}", out.text());
    assert_eq!(
        out.stdout.matches("[ERROR] cortex.config.json").count(),
        1,
        "{}",
        out.stdout
    );
    insta::assert_snapshot!("orchestrate_validate_all_bad_config", out.snapshot(&env));
    let doc = env
        .run(&["--json", "orchestrate", "validate", "--all"])
        .json();
    assert_eq!(doc["valid"], false);
    assert!(
        doc["config"]["file"]
            .as_str()
            .unwrap()
            .ends_with("cortex.config.json")
    );
    assert_eq!(doc["config"]["errors"][0]["line"], 1);
    for s in doc["scenarios"].as_array().unwrap() {
        assert_eq!(s["valid"], true, "each scenario's own verdict: {s}");
    }
}

/// `orchestrate preview` is refused for an invalid configuration, as the run it previews is.
#[test]
fn orchestrate_preview_refuses_an_invalid_config_as_run_does() {
    let env = with_bad_config();
    let out = env.run(&["orchestrate", "preview", "s"]);
    assert_eq!(out.code, 2, "{}", out.text());
    insta::assert_snapshot!("orchestrate_preview_bad_config", out.snapshot(&env));
}

/// Seen by a review: `workflow list` under an invalid configuration listed every workflow,
/// the built-ins too, as `invalid 1:32: unknown field max_retry_attempt…`, no file named.
/// The configuration is named once (a warning above the table, on stderr with --json too);
/// each row is the workflow's own verdict.
#[test]
fn workflow_list_names_an_invalid_config_once_not_in_each_row() {
    let env = with_bad_config();
    let out = env.run(&["workflow", "list"]);
    assert_eq!(out.code, 0, "{}", out.text());
    insta::assert_snapshot!("workflow_list_bad_config", out.snapshot(&env));
    let json = env.run(&["--json", "workflow", "list"]);
    for row in json.json().as_array().unwrap() {
        assert_eq!(row["valid"], true, "{row}");
        assert!(row["error"].is_null(), "{row}");
    }
    assert_eq!(
        json.stderr
            .matches("cortex.config.json is invalid at 1:14")
            .count(),
        1
    );
    // `workflow validate --all` says it once too, as `orchestrate validate --all` does.
    let all = env.run(&["workflow", "validate", "--all"]);
    assert_eq!(all.code, 2);
    assert_eq!(
        all.stdout.matches("[ERROR] cortex.config.json").count(),
        1,
        "{}",
        all.stdout
    );
    let doc = env.run(&["--json", "workflow", "validate", "--all"]).json();
    assert!(
        doc["config"]["file"]
            .as_str()
            .unwrap()
            .ends_with("cortex.config.json")
    );
}

/// Seen by a review: `orchestrate list` with an invalid `scenarios/schema.yaml` showed
/// `invalid 2:1: unknown field feilds` beside each scenario. The schema file is named once;
/// `orchestrate validate --all` says it once too (a `schema` verdict in --json).
#[test]
fn orchestrate_list_names_an_invalid_schema_once_not_in_each_row() {
    let env = Env::new();
    env.scenario("s", SCENARIO);
    env.scenario("t", &SCENARIO.replace("name: s", "name: t"));
    env.scenario("schema", BAD_SCHEMA);
    let out = env.run(&["orchestrate", "list"]);
    assert_eq!(out.code, 0, "{}", out.text());
    insta::assert_snapshot!("orchestrate_list_bad_schema", out.snapshot(&env));
    let json = env.run(&["--json", "orchestrate", "list"]);
    for row in json.json().as_array().unwrap() {
        assert_eq!(row["valid"], true, "{row}");
    }
    assert_eq!(
        json.stderr.matches("schema.yaml is invalid at 2:1").count(),
        1
    );
    let all = env.run(&["orchestrate", "validate", "--all"]);
    assert_eq!(all.code, 2);
    assert_eq!(
        all.stdout.matches("[ERROR] schema.yaml").count(),
        1,
        "{}",
        all.stdout
    );
    let doc = env
        .run(&["--json", "orchestrate", "validate", "--all"])
        .json();
    assert!(
        doc["schema"]["file"]
            .as_str()
            .unwrap()
            .ends_with("schema.yaml")
    );
    // One scenario's verdict is the schema's, naming its file, as its run's refusal is.
    let one = env.run(&["--json", "orchestrate", "validate", "s"]).json();
    assert!(
        one["errors"][0]["file"]
            .as_str()
            .unwrap()
            .ends_with("schema.yaml")
    );
}

/// A home cortex makes is its user's alone (0700): the log and the derived files hold what is
/// not redacted (outputs, prompts, whole logs of steps), which every user of the machine could
/// read before (0755 folders, 0644 files). A folder already there is left as it is.
#[test]
fn a_home_cortex_makes_is_readable_by_its_user_alone() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new();
    let fresh = env.project().join("fresh").join("home");
    std::fs::write(
        env.project().join("t.yaml"),
        "name: t\nsteps:\n  - {name: a, run: 'true'}\n",
    )
    .unwrap();
    let home = fresh.display().to_string();
    let out = env.run(&["--home", &home, "workflow", "run", "t.yaml"]);
    assert_eq!(out.code, 0, "{}", out.text());
    for dir in [&fresh, &fresh.parent().unwrap().to_path_buf()] {
        let mode = std::fs::metadata(dir).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700, "{} is {mode:o}", dir.display());
    }
    let before = std::fs::metadata(env.home()).unwrap().permissions().mode() & 0o777;
    assert_eq!(env.run(&["workflow", "run", "t.yaml"]).code, 0);
    let after = std::fs::metadata(env.home()).unwrap().permissions().mode() & 0o777;
    assert_eq!(before, after, "a home already there was changed");
}

/// Seen by a review: a misspelt `descripton` under `scenarios/schema.yaml`'s `required:` was
/// taken as a field nobody has, which quietly made `description` optional (the user list
/// replaces the default one); a `priorty:` under `fields:` restricted nothing, and `owner`
/// (no scenario field) was ignored. Each is refused where it is written, with the field it
/// looks like, and nothing validates until the schema is mended.
#[test]
fn a_misspelt_field_in_the_user_schema_is_refused_where_it_is_written() {
    let env = Env::new();
    env.scenario("nd", "name: nd\nphases:\n  - name: a\n    description: a\n");
    env.scenario(
        "schema",
        "required:\n  - name\n  - descripton\n  - phases\n  - owner\nfields:\n  priorty:\n    enum: [low]\n",
    );
    let out = env.run(&["orchestrate", "validate", "nd"]);
    assert_eq!(out.code, 2, "{}", out.text());
    insta::assert_snapshot!("user_schema_misspelt_fields", out.snapshot(&env));
    let out = env.run(&["--json", "orchestrate", "validate", "nd"]);
    let at: Vec<(u64, u64)> = out
        .located_errors()
        .into_iter()
        .map(|(_, l, c)| (l, c))
        .collect();
    assert_eq!(at, [(3, 5), (5, 5), (7, 3)], "{}", out.stdout);
    let doc = out.json();
    assert!(
        doc["errors"][0]["hint"]
            .as_str()
            .unwrap()
            .starts_with("did you mean `description`?"),
        "{doc}"
    );
}

/// A user schema's `required:` replaces the default list (README, DESIGN.md): without
/// `description` in it a scenario needs none; with it, or with no schema, it does.
#[test]
fn a_user_schema_required_list_replaces_the_default_one() {
    let env = Env::new();
    env.scenario("nd", "name: nd\nphases:\n  - name: a\n    description: a\n");
    let out = env.run(&["orchestrate", "validate", "nd"]);
    assert_eq!(out.code, 2, "{}", out.text());
    assert!(
        out.stdout.contains("Missing required field: description"),
        "{}",
        out.text()
    );
    env.scenario("schema", "required: [name, phases]\n");
    env.run(&["orchestrate", "validate", "nd"]).assert_exit(0);
    env.scenario("schema", "required: [name, phases, priority]\n");
    let out = env.run(&["orchestrate", "validate", "nd"]);
    assert_eq!(out.code, 2, "{}", out.text());
    assert!(
        out.stdout.contains("Missing required field: priority"),
        "{}",
        out.text()
    );
}
