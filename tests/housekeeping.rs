//! Housekeeping: `gc` removes the derived files of old finished runs and never the log;
//! completions and the manual page print.

mod common;

use common::Env;

/// A home with a workflow `done` that completes and one `asks` that waits on a prompt.
fn done_and_asks() -> Env {
    let env = Env::new();
    env.workflow("done", "name: done\nsteps:\n  - {name: a, run: 'true'}\n");
    env.workflow(
        "asks",
        "name: asks\nsteps:\n  - {name: Plan, prompt: plan}\n",
    );
    env
}

#[test]
fn gc_removes_derived_files_of_old_finished_runs_and_never_the_log() {
    let env = done_and_asks();
    assert_eq!(env.run(&["workflow", "run", "done"]).code, 0);
    assert_eq!(env.run(&["workflow", "run", "asks"]).code, 3);
    let history = env.run(&["--json", "workflow", "history"]).json()["runs"].clone();
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

/// `locks/<run>.lock` and `locks/<run>.pgids` of finished runs were never removed, even by
/// `gc`: two files a run for good. `gc` removes them, said, once it could take the run
/// without waiting: a run some process holds keeps them, and so do unfinished runs.
#[test]
fn gc_removes_the_lock_files_of_finished_runs_but_not_of_held_or_unfinished_ones() {
    let env = done_and_asks();
    assert_eq!(env.run(&["workflow", "run", "done"]).code, 0);
    assert_eq!(env.run(&["workflow", "run", "done"]).code, 0);
    assert_eq!(env.run(&["workflow", "run", "asks"]).code, 3);
    let history = env.run(&["--json", "workflow", "history"]).json()["runs"].clone();
    let id = |i: usize| history[i]["run_id"].as_str().unwrap().to_string();
    let (waiting, held, finished) = (id(0), id(1), id(2));
    let locks = env.home().join("locks");
    for run in [&waiting, &held, &finished] {
        assert!(locks.join(format!("{run}.lock")).exists(), "{run}");
    }
    // Some process holds the second finished run (as a driver taking it again would).
    let holding = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(locks.join(format!("{held}.lock")))
        .unwrap();
    holding.try_lock().unwrap();
    let dry = env
        .run(&["--json", "gc", "--older-than", "0s", "--dry-run"])
        .json();
    let named: Vec<String> = serde_json::from_value(dry["lock_files"].clone()).unwrap();
    assert!(
        named.contains(&format!("locks/{finished}.lock")),
        "{named:?}"
    );
    assert!(
        !named
            .iter()
            .any(|f| f.contains(&held) || f.contains(&waiting))
    );
    assert!(locks.join(format!("{finished}.lock")).exists());
    let out = env.run(&["gc", "--older-than", "0s"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains(&format!("  locks/{finished}.lock\n")),
        "{}",
        out.stdout
    );
    assert!(!locks.join(format!("{finished}.lock")).exists());
    assert!(!locks.join(format!("{finished}.pgids")).exists());
    assert!(locks.join(format!("{held}.lock")).exists());
    assert!(locks.join(format!("{waiting}.lock")).exists());
    // Let go, the held run's go too; and a finished run goes on working without them.
    drop(holding);
    let out = env.run(&["--json", "gc", "--older-than", "0s"]).json();
    let named: Vec<String> = serde_json::from_value(out["lock_files"].clone()).unwrap();
    assert!(named.contains(&format!("locks/{held}.lock")), "{named:?}");
    assert!(!locks.join(format!("{held}.lock")).exists());
    assert_eq!(env.run(&["workflow", "resume", &finished]).code, 0);
    assert_eq!(env.status(Some(&finished))["status"], "completed");
}

#[test]
/// The output files of drivers started in the background (by `serve`, `tui` and the
/// scheduler, under serve/, tui/ and schedule/) were never removed: a dashboard starting runs
/// for a year left a file per run. `gc` removes those last written to before its cutoff,
/// says which, and leaves alone a young one, a folder or a link planted there (and what the
/// link points to).
fn gc_removes_old_driver_output_files_and_nothing_planted_beside_them() {
    let env = Env::new();
    let home = env.home();
    for folder in ["serve", "tui", "schedule"] {
        std::fs::create_dir_all(home.join(folder)).unwrap();
        std::fs::write(home.join(folder).join("old.log"), "driver said\n").unwrap();
    }
    let young = home.join("serve/young.log");
    std::fs::write(&young, "just now\n").unwrap();
    let precious = env.project().join("precious.log");
    std::fs::write(&precious, "keep\n").unwrap();
    std::os::unix::fs::symlink(&precious, home.join("tui/link.log")).unwrap();
    std::fs::create_dir_all(home.join("schedule/dir.log")).unwrap();
    // Last written to two days ago.
    let then = std::time::SystemTime::now() - std::time::Duration::from_secs(2 * 86_400);
    for folder in ["serve", "tui", "schedule"] {
        let file = std::fs::File::options()
            .write(true)
            .open(home.join(folder).join("old.log"))
            .unwrap();
        file.set_modified(then).unwrap();
    }
    let dry = env
        .run(&["--json", "gc", "--older-than", "1d", "--dry-run"])
        .json();
    let expected = serde_json::json!(["serve/old.log", "tui/old.log", "schedule/old.log"]);
    assert_eq!(dry["driver_logs"], expected, "{dry}");
    assert!(home.join("serve/old.log").exists());
    let out = env.run(&["gc", "--older-than", "1d"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("  tui/old.log\n"), "{}", out.stdout);
    for folder in ["serve", "tui", "schedule"] {
        assert!(!home.join(folder).join("old.log").exists(), "{folder}");
    }
    assert!(young.exists());
    assert!(home.join("tui/link.log").symlink_metadata().is_ok());
    assert_eq!(std::fs::read_to_string(&precious).unwrap(), "keep\n");
    assert!(home.join("schedule/dir.log").is_dir());
    // With runs in the log, the duration is said in days, not humantime's "1days".
    env.workflow("done", "name: done\nsteps:\n  - {name: a, run: 'true'}\n");
    assert_eq!(env.run(&["workflow", "run", "done"]).code, 0);
    let out = env.run(&["gc", "--older-than", "1d"]);
    assert!(out.stdout.contains("older than 1d "), "{}", out.stdout);
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

/// Seen by a review: `cortex man`'s EXIT STATUS gave exit 4 only for another driver, and its
/// ENVIRONMENT left out `CORTEX_LOG_LOCK_WAIT` and `CORTEX_INPUT_<NAME>` as the way to give a
/// secret input, which the README and cortex's own hints give.
#[test]
fn the_manual_page_says_what_the_readme_says_of_exit_4_and_the_environment() {
    let man = Env::new().run(&["man"]);
    assert_eq!(man.code, 0, "{}", man.stderr);
    let exit_status = man
        .stdout
        .split(".SH \"EXIT STATUS\"")
        .nth(1)
        .and_then(|s| s.split(".SH ENVIRONMENT").next())
        .unwrap();
    assert!(exit_status.contains("write lock"), "{exit_status}");
    let environment = man.stdout.split(".SH ENVIRONMENT").nth(1).unwrap();
    assert!(
        environment.contains("CORTEX_LOG_LOCK_WAIT"),
        "{environment}"
    );
    assert!(
        environment.contains("A secret input's value given to cortex"),
        "{environment}"
    );
}

/// Seen by a review: every completion script offered `resume --drive-on`, which `--help` and
/// the manual pages hide (for front ends, not for people). No shell's script names it now, and
/// the visible flags beside it are still offered.
#[test]
fn hidden_flags_are_not_offered_by_completion_scripts() {
    let env = Env::new();
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = env.run(&["completions", shell]);
        assert_eq!(out.code, 0, "{shell}: {}", out.stderr);
        assert!(
            !out.stdout.contains("drive-on"),
            "{shell} offers --drive-on"
        );
        for visible in ["notify-only", "rollback-to", "no-color", "version"] {
            assert!(out.stdout.contains(visible), "{shell} lost --{visible}");
        }
    }
}

/// Seen by a review: `--no-color` left clap's `--help` coloured on a terminal (NO_COLOR did
/// not). With colour forced as a terminal would have it (`CLICOLOR_FORCE`), `--no-color`
/// anywhere before `--` turns the help's styles off.
#[test]
fn no_color_turns_off_the_colours_of_help() {
    let env = Env::new();
    let help = |args: &[&str]| {
        let mut cmd = env.command(args);
        cmd.env_remove("NO_COLOR").env("CLICOLOR_FORCE", "1");
        let out = cmd.output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert!(
        help(&["workflow", "--help"]).contains('\u{1b}'),
        "colour is forced"
    );
    for args in [
        &["--no-color", "--help"][..],
        &["--no-color", "workflow", "--help"],
        &["workflow", "resume", "--no-color", "--help"],
    ] {
        assert!(!help(args).contains('\u{1b}'), "{args:?} is coloured");
    }
}

#[test]
/// `cortex man --all FILE`, FILE a regular file (or a path through one), is bad input: exit
/// 2 saying a directory is expected, the file left as it was. It was exit 1, "cannot create
/// afile: File exists".
fn man_all_into_a_file_is_refused_as_bad_input_saying_a_directory_is_expected() {
    let env = Env::new();
    let file = env.project().join("afile");
    std::fs::write(&file, "keep").unwrap();
    for target in [file.clone(), file.join("man1")] {
        let out = env.run(&["man", "--all", target.to_str().unwrap()]);
        assert_eq!(out.code, 2, "{target:?}: {}", out.stderr);
        assert!(
            out.stderr.contains("writes its pages into a directory")
                && out.stderr.contains("give a directory"),
            "{}",
            out.stderr
        );
    }
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "keep");
}

/// Seen by a review: `cortex man --all /proc/nope` exited 1 ("cannot create /proc/nope: No
/// such file or directory"), a failure of cortex by SPEC §5, where the folder given is the
/// mistake. A folder that cannot be there, or that this user may not write, is bad input
/// (exit 2) saying why, with the fix.
#[test]
fn man_all_into_a_folder_that_cannot_be_made_is_bad_input() {
    let env = Env::new();
    let out = env.run(&["man", "--all", "/proc/nope"]);
    assert_eq!(out.code, 2, "{}", out.stderr);
    insta::assert_snapshot!(
        "man_all_into_a_folder_that_cannot_be_made",
        out.snapshot(&env)
    );
    // A folder this user may not write (unless it is root, which may).
    let locked = env.project().join("locked");
    std::fs::create_dir(&locked).unwrap();
    std::fs::set_permissions(&locked, std::os::unix::fs::PermissionsExt::from_mode(0o500)).unwrap();
    let probe = locked.join("probe");
    if std::fs::write(&probe, "").is_err() {
        let out = env.run(&["man", "--all", locked.join("man1").to_str().unwrap()]);
        assert_eq!(out.code, 2, "{}", out.stderr);
        assert!(
            out.stderr.contains("this user may not write there"),
            "{}",
            out.stderr
        );
    }
    std::fs::set_permissions(&locked, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
}

#[test]
/// Every page the top page points to can be made: `cortex man workflow run` prints
/// cortex-workflow-run(1) with its options, `cortex man --all DIR` writes every page, and the
/// top page has the exit statuses, environment and files every command shares.
fn cortex_man_makes_every_subcommands_page_and_the_top_page_has_exit_status_environment_and_files()
{
    let env = Env::new();
    let top = env.run(&["man"]);
    assert_eq!(top.code, 0, "{}", top.stderr);
    for section in [
        ".SH \"EXIT STATUS\"",
        ".SH ENVIRONMENT",
        ".SH FILES",
        "CORTEX_HOME",
        "CORTEX_DB",
    ] {
        assert!(top.stdout.contains(section), "{section} missing");
    }
    let run = env.run(&["man", "workflow", "run"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains(".TH cortex-workflow-run 1") && run.stdout.contains("dry\\-run"),
        "{}",
        run.stdout
    );
    let unknown = env.run(&["man", "workflow", "sprint"]);
    assert_eq!(unknown.code, 2);
    assert!(
        unknown
            .stderr
            .contains("`cortex workflow` has no subcommand `sprint`"),
        "{}",
        unknown.stderr
    );
    let dir = env.project().join("man1");
    let all = env.run(&["--json", "man", "--all", dir.to_str().unwrap()]);
    assert_eq!(all.code, 0, "{}", all.stderr);
    let pages: Vec<String> = all.json()["pages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap().to_string())
        .collect();
    // Each page named in a SUBCOMMANDS section (`cortex-workflow(1)`) is one written.
    let mut named = 0;
    for page in &pages {
        let text = std::fs::read_to_string(dir.join(page)).unwrap();
        assert!(text.starts_with(".ie") || text.contains(".TH"), "{page}");
        for line in text.lines().filter(|l| l.ends_with("(1)")) {
            let name = line.replace("\\-", "-").trim_end_matches("(1)").to_string();
            assert!(
                pages.contains(&format!("{name}.1")),
                "{page} names {name}(1), not written"
            );
            named += 1;
        }
    }
    // Every page but the top one is named by its parent's.
    assert_eq!(named + 1, pages.len(), "{pages:?}");
    for page in [
        "cortex.1",
        "cortex-workflow.1",
        "cortex-workflow-step-complete.1",
        "cortex-logs.1",
    ] {
        assert!(pages.iter().any(|p| p == page), "{page}: {pages:?}");
    }
}

#[test]
/// `--json` asks for one JSON document; the manual page and completion scripts are text, and
/// `log export` is JSON Lines (one document a line), so it is refused (exit 2) with a hint
/// rather than answered with something a JSON parser fails on.
fn json_man_completions_and_log_export_are_refused_with_a_hint() {
    let env = Env::new();
    for args in [
        &["--json", "man"][..],
        &["--json", "completions", "bash"],
        &["--json", "log", "export"],
    ] {
        let out = env.run(args);
        assert_eq!(out.code, 2, "{args:?}: {}", out.stdout);
        let doc = out.json();
        assert!(
            doc["error"]
                .as_str()
                .unwrap()
                .contains("not a JSON document"),
            "{doc}"
        );
    }
}

#[test]
fn man_all_wrote_through_a_symbolic_link_at_a_page_name_and_overwrote_its_target() {
    let env = Env::new();
    let dir = env.project().join("man1");
    std::fs::create_dir_all(&dir).unwrap();
    let victim = env.project().join("precious.txt");
    std::fs::write(&victim, "precious\n").unwrap();
    std::os::unix::fs::symlink(&victim, dir.join("cortex.1")).unwrap();
    std::fs::write(dir.join("cortex-gc.1"), "an old page\n").unwrap();
    let all = env.run(&["man", "--all", dir.to_str().unwrap()]);
    assert_eq!(all.code, 0, "{}{}", all.stdout, all.stderr);
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
    let page = dir.join("cortex.1");
    assert!(!page.symlink_metadata().unwrap().file_type().is_symlink());
    assert!(
        std::fs::read_to_string(&page)
            .unwrap()
            .contains(".TH cortex 1")
    );
    assert!(
        std::fs::read_to_string(dir.join("cortex-gc.1"))
            .unwrap()
            .contains(".TH cortex-gc 1")
    );
    // Nothing staged is left beside the pages.
    let stray: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| !n.ends_with(".1"))
        .collect();
    assert!(stray.is_empty(), "{stray:?}");
}

#[test]
/// The output file of a background driver that still runs is kept by `gc`, however long since
/// it was last written to: a scheduled run's driver holds a lock on it while it lives. Before,
/// `gc --older-than 0` removed the file of a run still going (its later lines were lost).
fn gc_keeps_the_output_file_of_a_background_driver_that_still_runs() {
    let env = Env::new();
    env.workflow(
        "every",
        "name: every\nschedule: '* * * * *'\nsteps:\n  - {name: s, run: 'touch started; while [ ! -e go-on ]; do sleep 0.05; done'}\n",
    );
    // A schedule fires only for times from when a scheduler first saw it on.
    let seen = env.run(&["schedule", "run", "--once", "--at", "2026-12-04T16:29:30Z"]);
    assert_eq!(seen.code, 0, "{}", seen.stderr);
    let fired = env.run(&[
        "--json",
        "schedule",
        "run",
        "--once",
        "--at",
        "2026-12-04T16:30:00Z",
    ]);
    assert_eq!(fired.code, 0, "{}{}", fired.stdout, fired.stderr);
    common::wait_within(
        "the scheduled run to start",
        std::time::Duration::from_secs(60),
        || env.project().join("started").exists(),
    );
    let logs: Vec<_> = std::fs::read_dir(env.home().join("schedule"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .collect();
    assert_eq!(logs.len(), 1, "{logs:?}");
    let out = env.run(&["--json", "gc", "--older-than", "0s"]).json();
    assert_eq!(out["driver_logs"], serde_json::json!([]), "{out}");
    assert!(logs[0].exists());
    // Once its driver has ended, the file is removed as any other.
    std::fs::write(env.project().join("go-on"), "").unwrap();
    let until = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let out = env.run(&["--json", "gc", "--older-than", "0s"]).json();
        if out["driver_logs"].as_array().is_some_and(|a| a.len() == 1) {
            break;
        }
        assert!(std::time::Instant::now() < until, "never removed: {out}");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(!logs[0].exists());
}

/// The output file of a scheduled run that has not finished is kept by `gc` after its driver
/// ended: a run waiting on a prompt has no driver, and its file (what its first steps printed,
/// the commands to go on with) was removed by `gc --older-than 0s`. Once the run ends, it goes.
#[test]
fn gc_keeps_the_output_file_of_a_scheduled_run_that_has_not_finished() {
    let env = Env::new();
    env.workflow(
        "asks",
        "name: asks\nschedule: '* * * * *'\nsteps:\n  - {name: first, run: echo first}\n  - {name: Plan, prompt: plan}\n",
    );
    let seen = env.run(&["schedule", "run", "--once", "--at", "2026-12-04T16:29:30Z"]);
    assert_eq!(seen.code, 0, "{}", seen.stderr);
    let fired = env.run(&[
        "--json",
        "schedule",
        "run",
        "--once",
        "--at",
        "2026-12-04T16:30:00Z",
    ]);
    assert_eq!(fired.code, 0, "{}{}", fired.stdout, fired.stderr);
    let run = fired.json()["happened"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|h| h["run_id"].as_str().map(str::to_string))
        .unwrap_or_else(|| panic!("{}", fired.stdout));
    common::wait_within(
        "the scheduled run to wait on its prompt, its driver gone",
        std::time::Duration::from_secs(60),
        || {
            let status = env.run(&["--json", "workflow", "status", &run]).json();
            status["status"] == "waiting"
                && std::fs::read_dir(env.home().join("schedule"))
                    .unwrap()
                    .flatten()
                    .all(|e| !cortex::execute::driver_log_in_use(&e.path()))
        },
    );
    let logs: Vec<_> = std::fs::read_dir(env.home().join("schedule"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(logs.len(), 1, "{logs:?}");
    let out = env.run(&["--json", "gc", "--older-than", "0s"]).json();
    assert_eq!(out["driver_logs"], serde_json::json!([]), "{out}");
    assert!(logs[0].exists());
    // Once the run has finished, its file is removed as any other.
    let done = env.run(&["workflow", "step", "complete", "Plan", "--run", &run]);
    assert_eq!(done.code, 0, "{}{}", done.stdout, done.stderr);
    let out = env.run(&["--json", "gc", "--older-than", "0s"]).json();
    assert_eq!(
        out["driver_logs"].as_array().map(Vec::len),
        Some(1),
        "{out}"
    );
    assert!(!logs[0].exists());
}

/// `gc` on either store: it removes the run's derived files (`runs/<id>/`) and keeps the
/// whole output of its attempts — the files under `logs/<id>/` (SQLite's home and
/// PostgreSQL's alike) and the copy PostgreSQL keeps — which the log vouches for (size and
/// blake3) but cannot rebuild: `log verify` afterwards checks them as before and passes, and
/// `cortex logs` prints them. Said in its answer (`attempt_outputs: "kept"`).
fn gc_keeps_attempt_outputs_and_log_verify_still_checks_them(env: Env) {
    env.workflow(
        "prints",
        "name: prints\nsteps:\n  - {name: s, run: \"printf 'kept output\\\\n'\"}\n",
    );
    let ran = env.run(&["workflow", "run", "prints"]);
    assert_eq!(ran.code, 0, "{}", ran.text());
    let run = env.status(None)["run_id"].as_str().unwrap().to_string();
    let verify = || env.run(&["--json", "log", "verify", "--all"]).json();
    let before = verify();
    assert_eq!(before["ok"], true, "{before}");
    assert_eq!(before["attempt_logs"], 1, "{before}");

    let gc = env.run(&["--json", "gc", "--older-than", "0s"]).json();
    assert_eq!(gc["removed"], serde_json::json!([run]), "{gc}");
    assert_eq!(gc["attempt_outputs"], "kept", "{gc}");
    let text = env.run(&["gc", "--older-than", "0s"]).stdout;
    assert!(text.contains("attempts' whole outputs are kept"), "{text}");
    assert!(!env.home().join("runs").join(&run).exists());
    assert!(
        env.home().join("logs").join(&run).is_dir(),
        "its output files stay"
    );

    let after = verify();
    assert_eq!(after["ok"], true, "{after}");
    assert_eq!(after["attempt_logs"], 1, "checked as before: {after}");
    assert_eq!(after["attempt_logs_absent"], 0, "{after}");
    let raw = env.command(&["logs", &run, "s", "--raw"]).output().unwrap();
    assert_eq!(raw.stdout, b"kept output\n");
}

common::on_both_stores!(gc_keeps_attempt_outputs_and_log_verify_still_checks_them);

/// `gc --dry-run` says what `gc` will do, by the same judgement: before, it listed a run's
/// `runs/<id>` that is a symbolic link under "Would remove", and the real `gc` then refused it
/// (exit 1). Now both refuse it, name it, and touch nothing behind the link.
#[test]
fn gc_dry_run_refuses_a_linked_run_folder_as_gc_does() {
    let env = done_and_asks();
    assert_eq!(env.run(&["workflow", "run", "done"]).code, 0);
    let run = env.status(None)["run_id"].as_str().unwrap().to_string();
    let runs = env.home().join("runs");
    let outside = env.home().parent().unwrap().join("outside-run-folder");
    std::fs::rename(runs.join(&run), &outside).unwrap();
    std::os::unix::fs::symlink(&outside, runs.join(&run)).unwrap();

    let dry = env.run(&["--json", "gc", "--older-than", "0s", "--dry-run"]);
    let real = env.run(&["--json", "gc", "--older-than", "0s"]);
    for out in [&dry, &real] {
        assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
        let doc = out.json();
        assert_eq!(doc["removed"], serde_json::json!([]), "{doc}");
        // Its lock files stay with it, and the dry run promises no removal of them (review j
        // F4); the link is said once.
        assert_eq!(doc["lock_files"], serde_json::json!([]), "{doc}");
        let problems = doc["problems"].to_string();
        assert!(problems.contains("is a symbolic link"), "{problems}");
        assert!(problems.contains(&run), "{problems}");
        assert_eq!(doc["problems"].as_array().unwrap().len(), 1, "{doc}");
    }
    let text = env.run(&["gc", "--older-than", "0s", "--dry-run"]);
    assert!(
        !text.stdout.contains(&format!("runs/{run}/")),
        "{}",
        text.stdout
    );
    assert!(
        outside.join("results.json").exists(),
        "behind the link, nothing is touched"
    );
    assert!(
        runs.join(&run)
            .symlink_metadata()
            .unwrap()
            .file_type()
            .is_symlink()
    );
}

/// Seen by a review (n N4): `gc --dry-run` listed both lock files of a run whose
/// `locks/<id>.lock` is a symbolic link as "Would remove"; `gc` removed neither and said only
/// "cannot lock …: Too many levels of symbolic links". One function judges them for both now:
/// each keeps both files, says so once and why (they are removed only under the run's lock,
/// taken through no link), and what the link points to is not touched.
#[test]
fn gc_dry_run_judges_a_linked_lock_file_as_gc_does_and_says_why_both_stay() {
    let env = done_and_asks();
    assert_eq!(env.run(&["workflow", "run", "done"]).code, 0);
    let run = env.status(None)["run_id"].as_str().unwrap().to_string();
    let locks = env.home().join("locks");
    let (lock, notes) = (
        locks.join(format!("{run}.lock")),
        locks.join(format!("{run}.pgids")),
    );
    assert!(notes.exists(), "a run's notes of its process groups");
    let victim = env.home().parent().unwrap().join("victim-lock");
    std::fs::write(&victim, "keep").unwrap();
    std::fs::remove_file(&lock).unwrap();
    std::os::unix::fs::symlink(&victim, &lock).unwrap();

    let dry = env.run(&["--json", "gc", "--older-than", "0s", "--dry-run"]);
    let real = env.run(&["--json", "gc", "--older-than", "0s"]);
    for out in [&dry, &real] {
        assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
        let doc = out.json();
        // The derived folder is no lock file: it goes (and would), as it did.
        assert_eq!(doc["removed"], serde_json::json!([run]), "{doc}");
        assert_eq!(doc["lock_files"], serde_json::json!([]), "{doc}");
        let problems = doc["problems"].as_array().unwrap();
        assert_eq!(problems.len(), 1, "{doc}");
        let said = problems[0].as_str().unwrap();
        for words in [
            format!("gc keeps the lock files of run {run} ({run}.lock, {run}.pgids)"),
            "it removes them only holding the run's lock".to_string(),
            format!("{} is a symbolic link", lock.display()),
            "takes no run's lock through a link".to_string(),
            "remove the link".to_string(),
        ] {
            assert!(said.contains(&words), "{words:?} in {said}");
        }
        assert!(lock.symlink_metadata().unwrap().file_type().is_symlink());
        assert!(notes.exists());
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");
    }
    let text = env.run(&["gc", "--older-than", "0s", "--dry-run"]);
    assert!(!text.stdout.contains("lock file"), "{}", text.stdout);
    // Once the link is removed, the next `gc` takes the run and removes the notes.
    std::fs::remove_file(&lock).unwrap();
    let out = env.run(&["--json", "gc", "--older-than", "0s"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert_eq!(
        out.json()["lock_files"],
        serde_json::json!([format!("locks/{run}.pgids")])
    );
    assert!(!notes.exists() && lock.symlink_metadata().is_err());
}
