//! Housekeeping: `gc` removes the derived files of old finished runs and never the log;
//! completions and the manual page print.

mod common;

use common::Env;

#[test]
fn gc_removes_derived_files_of_old_finished_runs_and_never_the_log() {
    let env = Env::new();
    env.workflow("done", "name: done\nsteps:\n  - {name: a, run: 'true'}\n");
    env.workflow(
        "asks",
        "name: asks\nsteps:\n  - {name: Plan, prompt: plan}\n",
    );
    assert_eq!(env.run(&["workflow", "run", "done"]).code, 0);
    assert_eq!(env.run(&["workflow", "run", "asks"]).code, 3);
    let history = env.run(&["--json", "workflow", "history"]).json();
    let waiting = history[0]["run_id"].as_str().unwrap().to_string();
    let finished = history[1]["run_id"].as_str().unwrap().to_string();
    let runs = env.home().join("runs");
    assert!(runs.join(&finished).exists() && runs.join(&waiting).exists());
    let events_before = env.run(&["--json", "log", "show", &finished]).json();

    // Young runs stay.
    let out = env.run(&["gc"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(runs.join(&finished).exists());
    // A dry run says what it would remove and removes nothing.
    let dry = env
        .run(&["--json", "gc", "--older-than", "0s", "--dry-run"])
        .json();
    assert_eq!(dry["removed"], serde_json::json!([finished]));
    assert!(runs.join(&finished).exists());
    // Then they go; the waiting run's stay, and the log is whole.
    let out = env.run(&["gc", "--older-than", "0s"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains(&format!("runs/{finished}/")),
        "{}",
        out.stdout
    );
    assert!(!runs.join(&finished).exists());
    assert!(runs.join(&waiting).exists());
    assert_eq!(
        env.run(&["--json", "log", "show", &finished]).json(),
        events_before
    );
    assert_eq!(
        env.run(&["--json", "log", "verify", "--all"]).json()["ok"],
        true
    );
    assert_eq!(env.status(Some(&finished))["status"], "completed");
    // Resuming the finished run rebuilds its files from the log.
    assert_eq!(env.run(&["workflow", "resume", &finished]).code, 0);
    assert!(runs.join(&finished).join("results.json").exists());
    // A bad duration is bad input.
    assert_eq!(env.run(&["gc", "--older-than", "soon"]).code, 2);
}

#[test]
fn completions_and_the_manual_page_print() {
    let env = Env::new();
    for shell in ["bash", "zsh", "fish"] {
        let out = env.run(&["completions", shell]);
        assert_eq!(out.code, 0, "{shell}: {}", out.stderr);
        assert!(out.stdout.contains("orchestrate"), "{shell}");
    }
    assert_eq!(env.run(&["completions", "tcsh"]).code, 2);
    let man = env.run(&["man"]);
    assert_eq!(man.code, 0);
    assert!(man.stdout.contains(".TH cortex") && man.stdout.contains("workflow"));
}
