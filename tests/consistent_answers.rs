//! One answer for one situation, on the real binary: a refused phase report lists its problems
//! as a refused step report does, a second stop or abort records nothing and says so,
//! `run --start` finds a phase as `orchestrate start` does, every validation error keeps its
//! place, and a prompt names an output that is missing rather than showing its template.

mod common;

use common::Env;

fn events(env: &Env, run: &str) -> usize {
    env.events(run).len()
}

fn run_id(env: &Env, args: &[&str]) -> String {
    let out = env.run(args);
    let doc = out.json();
    doc["run_id"]
        .as_str()
        .unwrap_or_else(|| panic!("no run_id: {}{}", out.stdout, out.stderr))
        .to_string()
}

/// A problem found after an unknown key was set aside (`on_failure: explode` after `promt:`)
/// was found in the text re-written without that key, and lost its line and column
/// (`"line": null`); alone in the file it is at 7:17. Every problem keeps its place.
fn a_problem_after_an_unknown_key_keeps_its_line_and_column(env: Env) {
    env.workflow(
        "bad",
        "name: bad\nsteps:\n  - name: A\n    promt: x\n  - name: B\n    run: echo\n    on_failure: explode\n",
    );
    let out = env.run(&["--json", "workflow", "validate", "bad"]);
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    let errors = out.located_errors();
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert_eq!((errors[0].1, errors[0].2), (4, 5), "{errors:?}");
    assert!(errors[1].0.contains("explode"), "{errors:?}");
    assert_eq!((errors[1].1, errors[1].2), (7, 17), "{errors:?}");
    let human = env.run(&["workflow", "validate", "bad"]);
    insta::assert_snapshot!("problem_after_an_unknown_key", human.snapshot(&env));
    // A scenario's the same way.
    env.scenario(
        "bs",
        "name: bs\ndescription: d\nphases:\n  - name: a\n    descripton: x\n  - name: b\n    parallel: maybe\n",
    );
    let out = env.run(&["--json", "orchestrate", "validate", "bs"]);
    let errors = out.located_errors();
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert_eq!((errors[0].1, errors[0].2), (5, 5), "{errors:?}");
    assert_eq!((errors[1].1, errors[1].2), (7, 15), "{errors:?}");
}

/// A prompt reading an output of a skipped step was shown raw (`Implement per ${{
/// steps.Plan.outputs.plan }}`) in status and `--json`, while a command reading it gets an
/// empty string. A prompt now says what is missing and why, the same wherever it is shown:
/// status, `--json`, and an agent's stdin.
fn a_prompt_reading_an_output_of_a_skipped_step_says_it_is_missing(env: Env) {
    std::fs::create_dir_all(env.home().join("agents")).unwrap();
    std::fs::write(
        env.home().join("agents/reader.md"),
        "---\nname: reader\ndescription: keeps its prompt\ncommand: cat > prompt.txt\n---\nReads.\n",
    )
    .unwrap();
    env.workflow(
        "t",
        "name: t\nsteps:\n  - name: Plan\n    prompt: p\n  - name: Impl\n    prompt: \"Implement per ${{ steps.Plan.outputs.plan }}\"\n  - name: Review\n    agent: reader\n    prompt: \"Review ${{ steps.Plan.outputs.plan }} and ${{ steps.Impl.outputs.diff }}\"\n",
    );
    assert_eq!(env.run(&["workflow", "run", "t"]).code, 3);
    let skipped = env.run(&["workflow", "resume", "--skip"]);
    assert_eq!(skipped.code, 3, "{}{}", skipped.stdout, skipped.stderr);
    let marker = "(no output `plan` of step `Plan`: it was skipped)";
    assert!(skipped.stdout.contains(marker), "{}", skipped.stdout);
    let status = env.status(None);
    assert_eq!(
        status["steps"][1]["prompt"],
        format!("Implement per {marker}"),
        "{status}"
    );
    let human = env.run(&["workflow", "status"]);
    assert!(!human.stdout.contains("${{"), "{}", human.stdout);
    insta::assert_snapshot!("prompt_of_a_skipped_output", human.snapshot(&env));
    // The agent reads what status showed: Impl completed without writing `diff`.
    let done = env.run(&["workflow", "step", "complete", "Impl"]);
    assert_eq!(done.code, 0, "{}{}", done.stdout, done.stderr);
    assert_eq!(
        std::fs::read_to_string(env.file("prompt.txt")).unwrap(),
        format!("Review {marker} and (no output `diff` of step `Impl`: it wrote none)")
    );
}

common::on_both_stores!(
    a_problem_after_an_unknown_key_keeps_its_line_and_column,
    a_prompt_reading_an_output_of_a_skipped_step_says_it_is_missing,
);
