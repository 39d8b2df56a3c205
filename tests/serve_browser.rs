//! The dashboard in a real browser: Debian's Chromium, headless, driven by playwright-core
//! (`tests/browser/dashboard.mjs`) against the real `cortex serve`. It loads the runs page,
//! opens a run, sees its graph and phases, starts a manual phase and completes a phase from
//! the page, sees a change made from another terminal appear without a reload, and saves
//! screenshots under `target/browser-shots/`. Skipped, saying why, where Chromium or the
//! npm package is missing — but not in CI, which installs both (`.ci/run`).

mod common;
#[path = "common/server.rs"]
mod server;

use std::path::Path;
use std::process::Command;

use common::Env;
use server::{Server, TOKEN};

const BROWSE: &str = r#"
name: browse
description: Plan, build, review and ship, with release notes on the side
phases:
  - name: plan
    description: Write the plan
    condition: auto
    agents: [writer]
    success_criteria: [Plan written]
  - name: build
    description: Build it
    condition: after:plan
    parallel: true
    run: echo built
    success_criteria:
      - {check: "true"}
  - name: review
    description: Review the build
    condition: manual
  - name: notes
    description: Release notes, on the side
    condition: auto
    parallel: true
    success_criteria: [Notes drafted]
  - name: ship
    description: Ship it
    condition: after:build,review
"#;

/// Why the browser test cannot run here, if it cannot.
fn missing(root: &Path) -> Option<String> {
    if !Path::new("/usr/bin/chromium").exists() {
        return Some("Debian's Chromium is not installed (apt-get install -y chromium)".into());
    }
    if !root
        .join("tests/browser/node_modules/playwright-core")
        .exists()
    {
        return Some("playwright-core is not installed (cd tests/browser && npm ci)".into());
    }
    if Command::new("node").arg("--version").output().is_err() {
        return Some("node is not on PATH".into());
    }
    None
}

#[test]
fn the_dashboard_works_in_a_real_browser() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    if let Some(why) = missing(root) {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must run the browser test: {why}"
        );
        eprintln!("skipped: {why}");
        return;
    }
    let env = Env::new();
    std::fs::create_dir_all(env.home().join("scenarios")).unwrap();
    std::fs::write(env.home().join("scenarios/browse.yaml"), BROWSE).unwrap();
    std::fs::create_dir_all(env.home().join("agents")).unwrap();
    std::fs::write(
        env.home().join("agents/writer.md"),
        "---\nname: writer\ndescription: Writes plans and notes\n---\nWrite clearly.\n",
    )
    .unwrap();
    // Some history for the runs page: one completed, one failed, one waiting.
    env.workflow(
        "deploy",
        "name: deploy\ndescription: Build and deploy\nsteps:\n  - name: build\n    run: echo built\n  - name: deploy\n    run: echo deployed\n",
    )
    .workflow(
        "migrate",
        "name: migrate\nsteps:\n  - name: backup\n    run: echo saved\n  - name: transform\n    run: exit 7\n    retry: {max_retry_attempts: 0}\n",
    );
    env.workflow(
        "release",
        "name: release\ndescription: Tag a release\ninputs:\n  version: {type: string, required: true, pattern: '^\\d+\\.\\d+\\.\\d+$'}\n  dry_run: {type: boolean, default: false}\nsteps:\n  - name: tag\n    run: echo tagged ${{ inputs.version }}\n",
    );
    assert_eq!(env.run(&["workflow", "run", "deploy"]).code, 0);
    assert_eq!(env.run(&["workflow", "run", "migrate"]).code, 1);
    assert_eq!(env.run(&["workflow", "run", "feature-development"]).code, 3);
    // A parent waiting with its child run, whose step waits for a report.
    env.workflow(
        "kid",
        "name: kid\nsteps:\n  - {name: inspect, prompt: look at it}\n  - {name: sign, prompt: sign it}\n",
    )
    .workflow("parent", "name: parent\nsteps:\n  - {name: call, uses: kid}\n");
    assert_eq!(env.run(&["workflow", "run", "parent"]).code, 3);
    let parent = env.run(&["--json", "workflow", "history"]).json()["runs"]
        .clone()
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "parent")
        .unwrap()["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(env.run(&["orchestrate", "run", "browse"]).code, 3);
    let run = env.run(&["--json", "orchestrate", "history"]).json()["runs"].clone()[0]["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    let s = Server::start(&env);
    let shots = root.join("target/browser-shots");
    std::fs::create_dir_all(&shots).unwrap();
    let profile = tempfile::tempdir().unwrap();
    let out = Command::new("node")
        .arg(root.join("tests/browser/dashboard.mjs"))
        .current_dir(root.join("tests/browser"))
        .env("BASE", &s.base)
        .env("TOKEN", TOKEN)
        .env("RUN", &run)
        .env("PARENT", &parent)
        .env("CORTEX_BIN", env!("CARGO_BIN_EXE_cortex"))
        .env("CORTEX_HOME", env.home())
        .env("SHOTS", &shots)
        .env("PROFILE", profile.path())
        .output()
        .expect("run node");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "the browser test failed:\n{text}");
    assert!(text.contains("all checks passed"), "{text}");
    for shot in ["runs.png", "run.png", "scenario.png"] {
        assert!(shots.join(shot).is_file(), "no screenshot {shot}");
    }
    // Everything done from the page is in the log, with the server's actor.
    let log = env.run(&["--json", "log", "show", &run]).json();
    let by_page = log
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["body"]["actor"] == server::ACTOR)
        .count();
    // The start's request is the server's; the driver it starts drives on as the CLI's
    // `orchestrate start` does, recording no `run_resumed` of its own (it counted before).
    assert!(
        by_page >= 1,
        "the start and the report are the server's: {log:#}"
    );
    // The phase's outputs, reported from its form.
    assert!(
        log.as_array()
            .unwrap()
            .iter()
            .any(|e| e["type"] == "output_recorded"
                && e["body"]["step"] == "plan"
                && e["body"]["key"] == "plan_file"
                && e["body"]["value"] == "plan.md"),
        "the phase's output reported from the page: {log:#}"
    );
    assert_eq!(env.run(&["log", "verify"]).code, 0);
}
