//! The API follows its OpenAPI document under Schemathesis (from PyPI): generated requests to
//! every operation of `schemas/openapi.json`, each answer checked against the document (status
//! codes, content types, headers, bodies, server-sent events) and for server errors. Skipped,
//! saying why, where Schemathesis is not installed — but not in CI, which installs it in
//! `target/schemathesis-venv` (`.ci/run`).
//!
//! `positive_data_acceptance` is left out: a request can follow the document and still be bad
//! input for the operation (a step the run does not have, an input its pattern refuses, a
//! phase that is not manual), which the API answers 400 as the CLI answers exit 2.

mod common;
#[path = "common/server.rs"]
mod server;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::Env;
use server::{Server, TOKEN};

fn schemathesis(root: &Path) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("SCHEMATHESIS") {
        return Some(PathBuf::from(p));
    }
    let venv = root.join("target/schemathesis-venv/bin/schemathesis");
    venv.exists().then_some(venv)
}

#[test]
fn the_api_follows_its_openapi_document_under_schemathesis() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let Some(st) = schemathesis(root) else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must run Schemathesis: install it in target/schemathesis-venv"
        );
        eprintln!(
            "skipped: Schemathesis is not installed (python3 -m venv target/schemathesis-venv && target/schemathesis-venv/bin/pip install schemathesis)"
        );
        return;
    };
    let env = Env::new();
    env.workflow(
        "review",
        "name: review\nsteps:\n  - name: write\n    prompt: Write the notes\n  - name: publish\n    run: echo published\n",
    );
    env.scenario("gate", "name: gate\ndescription: A plan, then a manual ship\nphases:\n  - name: plan\n    condition: auto\n  - name: ship\n    condition: manual\n");
    assert_eq!(env.run(&["workflow", "run", "review"]).code, 3);
    assert_eq!(env.run(&["orchestrate", "run", "gate"]).code, 3);
    let s = Server::start(&env);
    let out = Command::new(&st)
        .args(["run", "--no-color"])
        .arg(root.join("schemas/openapi.json"))
        .args(["--url", &s.base])
        .args(["--header", &format!("Authorization: Bearer {TOKEN}")])
        .args([
            "--max-examples",
            "10",
            "--seed",
            "14",
            "--request-timeout",
            "30",
        ])
        .args(["--phases", "examples,coverage,fuzzing"])
        .args(["--exclude-checks", "positive_data_acceptance"])
        .current_dir(env.project())
        .env("NO_COLOR", "1")
        .output()
        .expect("run schemathesis");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "Schemathesis found failures:\n{text}");
    assert_eq!(
        env.run(&["log", "verify"]).code,
        0,
        "the log still verifies"
    );
}
