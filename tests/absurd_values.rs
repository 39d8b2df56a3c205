//! Durations and counts outside their documented range (`definition::limits`): each one is an
//! error at its `file:line:column` (exit 2), never a panic, and nothing is recorded. A run
//! recorded with such values before the ranges existed still goes on: every conversion of a
//! recorded value saturates instead of overflowing.

mod common;

use common::{Env, Out};
use cortex::decide::{AttemptReport, Command};
use cortex::definition::{Config, Durability, parse_workflow, snapshot};
use cortex::event::{AttemptEnd, Driver, Event, Operator, RunKind, RunStarted};
use cortex::execute::{IdGen, Journal, SystemClock, UlidIds};
use cortex::store::SqliteStore;

/// Exit 2, no panic, and every `(line, column)` reported as `file:line:column`.
fn assert_located(out: &Out, file: &str, places: &[(usize, usize)]) {
    let said = format!("{}{}", out.stdout, out.stderr);
    assert_eq!(out.code, 2, "{said}");
    assert!(!said.contains("panicked"), "{said}");
    for (line, column) in places {
        assert!(
            said.contains(&format!("{file}:{line}:{column}")),
            "{file}:{line}:{column} is not reported:\n{said}"
        );
    }
}

#[test]
fn a_timeout_or_backoff_of_1e30_is_a_located_error_not_a_panic() {
    let env = Env::new();
    env.workflow(
        "absurd",
        "name: absurd\nsteps:\n  - name: a\n    run: 'true'\n    timeout: 1e30\n  - name: b\n    run: 'true'\n    retry: {backoff: 1e30}\n  - name: c\n    run: 'true'\n    timeout: 18446744073709551616\n",
    );
    let out = env.run(&["workflow", "validate", "absurd"]);
    assert_located(&out, "absurd.yaml", &[(5, 14), (8, 22), (11, 14)]);
    assert!(out.text().contains("from 1ms to 30 days"), "{}", out.stderr);
    assert!(out.text().contains("from 0 to 1 day"), "{}", out.stderr);
    assert_located(&env.run(&["workflow", "run", "absurd"]), "absurd.yaml", &[]);

    env.scenario("absurd", "name: absurd\ndescription: d\nphases:\n  - name: a\n    run: 'true'\n    timeout: 1e30\n    retry: {backoff: 1e300}\n");
    let out = env.run(&["orchestrate", "validate", "absurd"]);
    assert_located(&out, "absurd.yaml", &[(6, 14), (7, 22)]);
    assert!(!env.db().exists(), "nothing was recorded");
}

#[test]
fn a_run_timeout_of_i64_max_in_the_configuration_is_a_located_error_and_nothing_is_recorded() {
    let env = Env::new();
    env.config("{\n  \"workflow\": {\n    \"timeout_seconds\": 9223372036854775807\n  }\n}\n");
    let out = env.run(&["workflow", "run", "migration"]);
    assert_located(&out, "cortex.config.json", &[(3, 24)]);
    assert!(
        out.text().contains("0 for no limit"),
        "the error says how to fix it: {}",
        out.stderr
    );
    assert!(!env.db().exists(), "no run was started");
}

#[test]
fn every_count_outside_its_range_is_a_located_error() {
    let env = Env::new();
    env.config(
        "{\"workflow\": {\n  \"max_retry_attempts\": 4294967295,\n  \"max_parallel\": 0\n}}\n",
    );
    let out = env.run(&["workflow", "validate", "migration"]);
    assert_located(&out, "cortex.config.json", &[(2, 25), (3, 19)]);
    env.config("{\"workflow\": {\"max_parallel\": 100000}}");
    assert_located(
        &env.run(&["workflow", "validate", "migration"]),
        "cortex.config.json",
        &[(1, 31)],
    );
    std::fs::remove_file(env.home().join("cortex.config.json")).unwrap();

    env.workflow(
        "counts",
        "name: counts\nsteps:\n  - name: a\n    run: 'true'\n    retry:\n      max_retry_attempts: 101\n      on_exit_codes: [0, 3, 256]\n",
    );
    let out = env.run(&["workflow", "validate", "counts"]);
    assert_located(&out, "counts.yaml", &[(6, 27), (7, 23), (7, 29)]);
    assert!(!out.text().contains("code 3 "), "3 is a valid exit code");

    std::fs::create_dir_all(env.home().join("scenarios")).unwrap();
    for (n, bad) in [("zero", "0"), ("many", "5000")] {
        std::fs::write(
            env.home().join(format!("scenarios/{n}.yaml")),
            format!("name: {n}\ndescription: d\nmax_parallel: {bad}\nphases:\n  - {{name: a, run: 'true'}}\n"),
        )
        .unwrap();
        let out = env.run(&["orchestrate", "validate", n]);
        assert_located(&out, &format!("{n}.yaml"), &[(3, 15)]);
    }
}

#[test]
fn the_bounds_of_every_range_are_accepted() {
    let env = Env::new();
    env.config(
        "{\"workflow\": {\"timeout_seconds\": 2592000, \"max_retry_attempts\": 100, \"max_parallel\": 1024}}",
    );
    env.workflow(
        "edges",
        "name: edges\nsteps:\n  - {name: a, run: 'true', timeout: 1ms, retry: {backoff: 0, max_retry_attempts: 0, on_exit_codes: [1, 255]}}\n  - {name: b, run: 'true', timeout: 30d, retry: {backoff: 1d, max_retry_attempts: 100}}\n  - {name: c, run: 'true', timeout: 2592000}\n",
    );
    let out = env.run(&["workflow", "validate", "edges"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    env.config("{\"workflow\": {\"timeout_seconds\": 0, \"max_parallel\": 1}}");
    assert_eq!(env.run(&["workflow", "validate", "edges"]).code, 0);
}

fn operator() -> Operator {
    Operator {
        actor: "tester".into(),
        message: None,
    }
}

/// Record the start of a run of `yaml` with `config`, as a cortex without ranges would have;
/// the run's id.
fn record_old_run(env: &Env, yaml: &str, config: Config) -> (SqliteStore, String) {
    let wf = parse_workflow("old.yaml", yaml).expect("it parses; only validation refuses it");
    let (definition, definition_hash) = snapshot(&wf);
    let mut ids = UlidIds::default();
    let run_id = ids.next_id();
    let mut store = SqliteStore::open(&env.db(), Durability::Normal).unwrap();
    let clock = SystemClock;
    let mut journal = Journal::open(&mut store, &clock, &mut ids, &run_id).unwrap();
    journal
        .submit(Command::Start(Box::new(RunStarted {
            config,
            working_dir: env.project().display().to_string(),
            driver: Driver {
                pid: 1,
                host: "gone".into(),
            },
            ..common::run_started(
                RunKind::Workflow,
                &wf.name,
                (definition, definition_hash),
                "old.yaml",
                operator(),
            )
        })))
        .unwrap();
    drop(journal);
    (store, run_id)
}

#[test]
fn a_run_recorded_with_absurd_limits_resumes_without_a_panic() {
    let env = Env::new();
    let absurd = Config {
        timeout_seconds: u64::MAX,
        max_retry_attempts: u32::MAX,
        max_parallel: u32::MAX,
        ..Config::default()
    };
    let (store, run_id) = record_old_run(
        &env,
        "name: old\nsteps:\n  - {name: a, run: 'echo a >> ran', timeout: 1e30}\n  - {name: b, run: 'echo b >> ran', timeout: 18446744073709551615}\n",
        absurd,
    );
    drop(store);
    let out = env.run(&["workflow", "resume", &run_id]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(!out.text().contains("panicked"), "{}", out.stderr);
    assert_eq!(common::lines(&env.file("ran")), ["a", "b"]);
    assert_eq!(env.status(Some(&run_id))["status"], "completed");
}

#[test]
fn a_recorded_backoff_too_large_for_milliseconds_saturates() {
    let env = Env::new();
    let (mut store, run_id) = record_old_run(
        &env,
        "name: old\nsteps:\n  - {name: a, run: 'exit 3', retry: {max_retry_attempts: 20, backoff: 1e30}}\n",
        Config::default(),
    );
    let clock = SystemClock;
    let mut ids = UlidIds::default();
    let mut journal = Journal::open(&mut store, &clock, &mut ids, &run_id).unwrap();
    journal
        .submit(Command::RecordPreValidation { problems: vec![] })
        .unwrap();
    let mut delays = Vec::new();
    for attempt in 1..=3 {
        journal
            .submit(Command::StartAttempt { step: "a".into() })
            .unwrap();
        let recorded = journal
            .submit(Command::FinishAttempt(Box::new(AttemptReport {
                step: "a".into(),
                attempt,
                end: AttemptEnd::Exited { code: 3 },
                outputs: vec![],
                output_tail: String::new(),
                validation_problems: vec![],
                by: None,
                agent: None,
                log: None,
                permanent: false,
            })))
            .unwrap();
        delays.extend(recorded.iter().filter_map(|r| match &r.event {
            Event::RetryScheduled { delay_ms, .. } => Some(*delay_ms),
            _ => None,
        }));
    }
    assert_eq!(delays, [u64::MAX; 3], "the delay saturates, doubled or not");
    drop(journal);
    drop(store);
    // The run reads and renders like any other.
    let status = env.run(&["--json", "workflow", "status", &run_id]);
    assert_eq!(status.code, 0, "{}", status.stderr);
}

/// A home with a run `z` waiting on its prompt step, and its log as exported then (a refused
/// resume must leave it so).
fn waiting_run() -> (Env, String) {
    let env = Env::new();
    env.workflow(
        "z",
        "name: z\nsteps:\n  - {name: a, run: 'true'}\n  - {name: b, prompt: p}\n",
    );
    assert_eq!(env.run(&["workflow", "run", "z"]).code, 3);
    let before = env.run(&["log", "export"]).stdout;
    (env, before)
}

/// The command-line durations have the documented ranges of the values they stand for:
/// `resume --timeout` that of `timeout_seconds` (0 to 30 days), `worker --lease` 300ms to 1h,
/// `worker --poll` 20ms to 1h. Outside them, or not durations at all: exit 2 naming the flag
/// and the range, under `--dry-run` too, and nothing is recorded.
#[test]
fn command_line_durations_outside_their_range_are_refused_like_the_configuration() {
    let (env, before) = waiting_run();
    for value in ["abc", "1e30", "400d", "2592001"] {
        for resume in [
            &["workflow", "resume"][..],
            &["orchestrate", "resume", "any"][..],
        ] {
            for dry in [true, false] {
                let mut args = resume.to_vec();
                args.extend(["--timeout", value]);
                if dry {
                    args.push("--dry-run");
                }
                let out = env.run(&args);
                assert_eq!(out.code, 2, "{args:?}: {}", out.text());
                assert!(out.stderr.contains("--timeout"), "{args:?}: {}", out.stderr);
                assert!(!out.text().contains("panicked"), "{}", out.text());
                if value != "abc" {
                    assert!(
                        out.stderr.contains("from 0 (no limit) to 30 days"),
                        "{args:?}: {}",
                        out.stderr
                    );
                }
            }
        }
    }
    assert_eq!(
        env.run(&["log", "export"]).stdout,
        before,
        "nothing was recorded"
    );
    assert_eq!(
        env.run(&["workflow", "resume", "--timeout", "30d", "--dry-run"])
            .code,
        0
    );
    for (flag, value, range) in [
        ("--lease", "1e30", "from 300ms to 1h"),
        ("--lease", "0", "from 300ms to 1h"),
        ("--lease", "2h", "from 300ms to 1h"),
        ("--poll", "0", "from 20ms to 1h"),
        ("--poll", "1e30", "from 20ms to 1h"),
    ] {
        let out = env.run(&["worker", "--until-idle", flag, value]);
        assert_eq!(out.code, 2, "{flag} {value}: {}", out.text());
        assert!(
            out.stderr.contains(flag) && out.stderr.contains(range),
            "{flag} {value}: {}",
            out.stderr
        );
    }
    let help = env.run(&["worker", "--help"]).stdout;
    assert!(
        help.contains("From 300ms to 1h") && help.contains("From 20ms to 1h"),
        "{help}"
    );
    let help = env.run(&["workflow", "resume", "--help"]).stdout;
    assert!(help.contains("From 0 to 30 days"), "{help}");
}

/// A configuration value of the wrong type or sign said `invalid value: integer \`-1\`,
/// expected u32` or `invalid type: string "soon", expected u64`: Rust's type names, and not
/// the key. The error names the key and what it accepts in words, where it always was.
#[test]
/// Located at the value named (its first character), not where serde_json stopped reading.
fn a_configuration_value_of_the_wrong_type_names_its_key_and_what_it_accepts() {
    let env = Env::new();
    env.config("{\"workflow\": {\"max_retry_attempts\": -1}}");
    let out = env.run(&["workflow", "validate", "migration"]);
    assert_located(&out, "cortex.config.json", &[(1, 37)]);
    assert!(
        out.text()
            .contains("`workflow.max_retry_attempts` must be a whole number from 0 to 100, not -1"),
        "{}",
        out.text()
    );
    env.config("{\"workflow\": {\n  \"timeout_seconds\": \"soon\"\n}}");
    let out = env.run(&["workflow", "run", "migration"]);
    assert_located(&out, "cortex.config.json", &[(2, 22)]);
    assert!(
        out.text().contains("`workflow.timeout_seconds` must be a whole number of seconds from 0 (no limit) to 2592000 (30 days), not the string \"soon\""),
        "{}",
        out.text()
    );
    for said in [out.text(), env.run(&["--json", "workflow", "list"]).text()] {
        assert!(!said.contains("u64") && !said.contains("u32"), "{said}");
    }
    assert!(!env.db().exists(), "no run was started");
}

/// Seen by a review: the TUI's resume form took `0.5s` and recorded `timeout 1 s` without a
/// word, as `resume --timeout 0.5s` did. A run's time limit is whole seconds: one with a
/// fraction of a second is refused (exit 2, the whole seconds around it named, nothing
/// recorded) by `workflow resume` and `orchestrate resume` alike — the rule the TUI's form
/// and the MCP tool share — and `5 m` is `5m`, as everywhere a duration is read.
#[test]
fn a_resume_time_limit_with_a_fraction_of_a_second_is_refused_not_rounded() {
    let (env, before) = waiting_run();
    for (value, says) in [
        ("0.5s", "write `1s`"),
        ("1500ms", "write `2s` or `1s`"),
        ("1.5", "write `2s` or `1s`"),
    ] {
        for resume in [
            &["workflow", "resume", "z"][..],
            &["orchestrate", "resume", "any"][..],
        ] {
            let mut args = resume.to_vec();
            args.extend(["--timeout", value]);
            let out = env.run(&args);
            assert_eq!(out.code, 2, "{args:?}: {}", out.text());
            assert!(
                out.stderr
                    .contains("which is not a whole number of seconds")
                    && out.stderr.contains(says),
                "{args:?}: {}",
                out.stderr
            );
        }
    }
    // (Its words unredacted: they hold no id or time, and the durations are the point.)
    insta::assert_snapshot!(
        env.run(&["workflow", "resume", "z", "--timeout", "0.5s"])
            .stderr
    );
    assert_eq!(
        env.run(&["log", "export"]).stdout,
        before,
        "nothing was recorded"
    );
    let spaced = env.run(&["--json", "workflow", "resume", "z", "--timeout", "5 m"]);
    assert_eq!(spaced.code, 3, "{}", spaced.text());
    let resumed = env
        .events(env.status(None)["run_id"].as_str().unwrap())
        .into_iter()
        .rfind(|e| e["type"] == "run_resumed")
        .unwrap();
    assert_eq!(resumed["body"]["timeout_seconds"], 300, "{resumed}");
}

/// `"db": ""` in the configuration is not set, as `CORTEX_DB=""` is: both are the home's
/// `cortex.db` (documented on the setting and in the schema), so the two agree.
#[test]
fn an_empty_db_setting_means_the_homes_log_as_an_empty_cortex_db_does() {
    let env = Env::new();
    env.workflow("w", "name: w\nsteps:\n  - name: a\n    run: 'true'\n");
    env.config("{\"db\": \"\"}\n");
    let out = env.run(&["workflow", "run", "w"]);
    assert_eq!(out.code, 0, "{}", out.text());
    assert!(env.db().exists(), "the home's log is used");
    let out = env.run_with(&["workflow", "run", "w"], &[("CORTEX_DB", "")]);
    assert_eq!(out.code, 0, "{}", out.text());
    assert_eq!(
        env.run(&["--json", "workflow", "history"]).json()["runs"]
            .as_array()
            .map(Vec::len),
        Some(2),
        "both runs are in the home's log"
    );
}

/// Seen by a review: `"db": "/proc/self/mem"` failed with "the disk is full: disk I/O error
/// (/proc/self has 0 KiB free)": a file system of no blocks (procfs, sysfs) was taken for a
/// full disk. It is refused as what it is, exit 2, as a device or a FIFO is, and nothing
/// says the disk is full.
#[test]
fn a_log_on_a_virtual_file_system_is_refused_as_such_not_as_a_full_disk() {
    let env = Env::new();
    env.workflow("w", "name: w\nsteps:\n  - name: a\n    run: 'true'\n");
    for db in ["/proc/self/mem", "/proc/cortex-nope.db"] {
        env.config(&format!("{{\"db\": \"{db}\"}}\n"));
        let out = env.run(&["workflow", "run", "w"]);
        assert_eq!(out.code, 2, "{}", out.text());
        assert!(
            out.stderr
                .contains(&format!("{db} is on a virtual file system"))
                && !out.stderr.contains("disk is full"),
            "{}",
            out.stderr
        );
    }
}
