//! Resuming a scenario run in which one phase waits for a report and others are ready.

mod common;

use common::Env;

/// Seen from `cortex serve`, whose background drivers are `orchestrate resume`: after a
/// report recorded with `--no-drive`, `resume` recorded `run_resumed` and exited 3 without
/// starting the phase that had become ready, because `run_resumed` set the whole run waiting
/// as soon as any phase waited (a parallel phase beside it).
#[test]
fn a_resumed_scenario_starts_ready_phases_while_another_waits_for_a_report() {
    let env = Env::new();
    env.scenario("side", "name: side\ndescription: A plan, a build after it, notes beside\nphases:\n  - name: plan\n    condition: auto\n  - name: build\n    condition: after:plan\n    run: echo built\n  - name: notes\n    condition: auto\n    parallel: true\n");
    assert_eq!(env.run(&["orchestrate", "run", "side"]).code, 3);
    let run = env.run(&["--json", "orchestrate", "history"]).json()[0]["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        env.run(&["orchestrate", "complete", &run, "plan", "--no-drive"])
            .code,
        3
    );
    let resumed = env.run(&["--json", "orchestrate", "resume", &run]);
    assert_eq!(resumed.code, 3, "{}", resumed.stderr);
    let phases = resumed.json()["phases"].clone();
    assert_eq!(phases[1]["name"], "build");
    assert_eq!(phases[1]["status"], "completed", "{phases:#}");
    assert_eq!(phases[2]["status"], "waiting", "{phases:#}");
}
