//! The run index: built for logs written before it existed, kept with every append, and held
//! to the log by `log verify` — a cache that is provably equal to the log or reported.

mod common;

use common::Env;

fn sql(env: &Env, statements: &str) {
    let conn = rusqlite::Connection::open(env.db()).unwrap();
    conn.execute_batch(statements).unwrap();
}

fn verify(env: &Env) -> (i32, serde_json::Value) {
    let out = env.run(&["--json", "log", "verify", "--all"]);
    (out.code, out.json())
}

/// A home with a finished workflow run, a waiting one, and a scenario run.
fn mixed() -> Env {
    let env = Env::new();
    env.workflow("done", "name: done\nsteps:\n  - {name: a, run: 'true'}\n");
    env.workflow(
        "asks",
        "name: asks\nsteps:\n  - {name: Plan, prompt: plan it}\n",
    );
    env.scenario("gate", "name: gate\ndescription: d\nphases:\n  - {name: approve, description: a, condition: manual}\n");
    assert_eq!(env.run(&["workflow", "run", "done"]).code, 0);
    assert_eq!(env.run(&["workflow", "run", "asks"]).code, 3);
    assert_eq!(env.run(&["orchestrate", "run", "gate"]).code, 3);
    env
}

#[test]
fn a_log_written_before_the_index_is_read_by_scanning_and_indexed_on_the_next_write() {
    let env = mixed();
    let before = env.run(&["--json", "workflow", "history"]).json()["runs"].clone();
    // As a cortex of schema 3 left it: no index.
    sql(&env, "DROP TABLE runs; PRAGMA user_version = 3;");
    let read = env.run(&["--json", "workflow", "history"]).json()["runs"].clone();
    assert_eq!(read, before, "reads scan the log when there is no index");
    assert_eq!(env.run(&["workflow", "status", "asks"]).code, 0);
    // The next write migrates, and the index is built from the events.
    assert_eq!(env.run(&["workflow", "run", "done"]).code, 0);
    let after = env.run(&["--json", "workflow", "history"]).json()["runs"].clone();
    assert_eq!(after.as_array().unwrap().len(), 3, "{after}");
    assert_eq!(
        after.as_array().unwrap()[1..],
        before.as_array().unwrap()[..]
    );
    let (code, report) = verify(&env);
    assert_eq!(code, 0, "{report}");
    let count: i64 = rusqlite::Connection::open(env.db())
        .unwrap()
        .query_row("SELECT count(*) FROM runs", [], |r| r.get(0))
        .unwrap();
    assert_eq!(count, 4, "every run, the scenario run included");
}

#[test]
fn any_change_to_the_run_index_fails_verification() {
    let changes = [
        (
            "UPDATE runs SET name = 'other' WHERE name = 'asks'",
            "kind, name or start",
        ),
        (
            "UPDATE runs SET outcome = 'completed' WHERE name = 'asks'",
            "outcome",
        ),
        (
            "UPDATE runs SET outcome = NULL WHERE name = 'done'",
            "outcome",
        ),
        (
            "UPDATE runs SET head_seq = head_seq - 1 WHERE name = 'done'",
            "head",
        ),
        (
            "UPDATE runs SET kind = 'scenario' WHERE name = 'done'",
            "kind, name or start",
        ),
        (
            "UPDATE runs SET kind = 'nonsense' WHERE name = 'done'",
            "not one cortex writes",
        ),
        ("DELETE FROM runs WHERE name = 'gate'", "missing"),
        (
            "INSERT INTO runs SELECT 'ZZZZZZZZZZZZZZZZZZZZZZZZZZ', kind, name, name_key, started_at, head_seq, head_hash, outcome FROM runs WHERE name = 'done'",
            "the log holds none: events were removed",
        ),
    ];
    for (change, reason) in changes {
        let env = mixed();
        assert_eq!(verify(&env).0, 0);
        sql(&env, change);
        let (code, report) = verify(&env);
        assert_eq!(code, 1, "`{change}` went unnoticed: {report}");
        let said = report["first_bad"]["reason"].as_str().unwrap();
        assert!(
            said.contains("the run index") && said.contains(reason),
            "`{change}`: {said}"
        );
    }
}

/// `log verify RUN` holds that run's index row to its events too: an edited outcome (which
/// hides a submitted run from every worker), name or head fails it. Before,
/// only `log verify` of all runs looked at the index, and the per-run verify said intact.
#[test]
fn log_verify_of_one_run_checks_its_index_row() {
    let changes = [
        (
            "UPDATE runs SET outcome = 'completed' WHERE name = 'asks'",
            "outcome",
        ),
        (
            "UPDATE runs SET name = 'other' WHERE name = 'asks'",
            "kind, name or start",
        ),
        (
            "UPDATE runs SET head_seq = head_seq - 1 WHERE name = 'asks'",
            "head",
        ),
    ];
    for (change, reason) in changes {
        let env = mixed();
        let run = env.run(&["--json", "workflow", "status", "asks"]).json()["run_id"]
            .as_str()
            .unwrap()
            .to_string();
        let out = env.run(&["--json", "log", "verify", &run]);
        assert_eq!(out.code, 0, "{}", out.stdout);
        sql(&env, change);
        let out = env.run(&["--json", "log", "verify", &run]);
        assert_eq!(out.code, 1, "`{change}` went unnoticed: {}", out.stdout);
        let report = out.json();
        let said = report["first_bad"]["reason"].as_str().unwrap();
        assert!(
            said.contains("the run index") && said.contains(reason),
            "`{change}`: {said}"
        );
    }
}

#[test]
fn lookups_and_history_follow_the_index_as_runs_come_and_go() {
    let env = mixed();
    // The waiting run finishes: `orchestrate complete` on a name finds its latest run, which
    // then says it has finished.
    assert_eq!(
        env.run(&["orchestrate", "start", "gate", "approve"]).code,
        3
    );
    assert_eq!(
        env.run(&["orchestrate", "complete", "gate", "approve"])
            .code,
        0
    );
    let out = env.run(&["orchestrate", "complete", "gate", "approve"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("already finished (completed)"),
        "{}",
        out.stderr
    );
    let history = env.run(&["--json", "orchestrate", "history"]).json()["runs"].clone();
    assert_eq!(history[0]["status"], "completed", "{history}");
    // A page of one, and the count of all.
    for _ in 0..3 {
        env.run(&["workflow", "run", "done"]);
    }
    let page = env.run(&["workflow", "history", "--limit", "2"]);
    let last = page
        .stdout
        .lines()
        .nth(2)
        .unwrap()
        .split(' ')
        .next()
        .unwrap();
    assert!(
        page.stdout.contains(&format!(
            "(the newest 2; `cortex workflow history --limit 2 --before {last}` shows older ones)"
        )),
        "{}",
        page.stdout
    );
    let all = env.run(&["workflow", "history", "--limit", "5"]);
    assert!(!all.stdout.contains("shows older"), "{}", all.stdout);
    assert_eq!(verify(&env).0, 0);
}

/// A page of runs older than a given one (`RunQuery::before`, the cursor of the web page's
/// and the API's history) holds only older runs, on both stores: the index's conditions are
/// one shared piece, so neither store can drop one.
fn a_page_before_a_run_holds_only_older_runs(env: Env) {
    env.workflow("done", "name: done\nsteps:\n  - {name: a, run: 'true'}\n");
    for _ in 0..3 {
        assert_eq!(env.run(&["workflow", "run", "done"]).code, 0);
    }
    let store = env.open_store();
    let all = store
        .list_runs(&cortex::store::RunQuery::kind(None))
        .unwrap();
    assert_eq!(all.len(), 3);
    let older = store
        .list_runs(&cortex::store::RunQuery {
            before: Some(all[0].run_id.clone()),
            ..cortex::store::RunQuery::kind(None)
        })
        .unwrap();
    let ids: Vec<_> = older.iter().map(|e| e.run_id.clone()).collect();
    assert_eq!(ids, vec![all[1].run_id.clone(), all[2].run_id.clone()]);
    let count = store
        .count_runs(&cortex::store::RunQuery {
            before: Some(all[0].run_id.clone()),
            ..cortex::store::RunQuery::kind(None)
        })
        .unwrap();
    assert_eq!(count, 2);
}

common::on_both_stores!(a_page_before_a_run_holds_only_older_runs);

/// `statements` run on the test's log, whichever store holds it (tampering with it by hand).
fn tamper(env: &Env, statements: &str) {
    match &env.pg {
        Some(pg) => postgres::Client::connect(&pg.url, postgres::NoTls)
            .unwrap()
            .batch_execute(statements)
            .unwrap(),
        None => sql(env, statements),
    }
}

/// The index is a cache of the events: whatever was done to it, `log verify` names the way
/// back (`log reindex`), which rebuilds it from the events in one go and says what it
/// changed; the log then verifies and history is as before. A row that remembered a run
/// with no events (its events removed) is dropped and named.
#[test]
fn log_reindex_rebuilds_any_damaged_run_index_from_the_events() {
    let changes = [
        ("UPDATE runs SET name = 'other' WHERE name = 'asks'", "~"),
        (
            "UPDATE runs SET outcome = 'completed' WHERE name = 'asks'",
            "~",
        ),
        (
            "UPDATE runs SET head_seq = head_seq - 1 WHERE name = 'done'",
            "~",
        ),
        ("UPDATE runs SET kind = 'scenario' WHERE name = 'done'", "~"),
        (
            "UPDATE runs SET kind = 'nonsense' WHERE name = 'done'",
            "could not be read",
        ),
        ("DELETE FROM runs", "+"),
        (
            "INSERT INTO runs SELECT 'ZZZZZZZZZZZZZZZZZZZZZZZZZZ', kind, name, name_key, started_at, head_seq, head_hash, outcome FROM runs WHERE name = 'done'",
            "- ZZZZZZZZZZZZZZZZZZZZZZZZZZ",
        ),
    ];
    for (change, said) in changes {
        let env = mixed();
        let before = env.run(&["--json", "workflow", "history"]).json()["runs"].clone();
        sql(&env, change);
        let failed = env.run(&["log", "verify", "--all"]);
        assert_eq!(failed.code, 1, "`{change}`: {}", failed.stdout);
        assert!(
            failed.stdout.contains("`cortex log reindex` rebuilds it"),
            "`{change}`: the failure names the way back: {}",
            failed.stdout
        );
        let reindex = env.run(&["log", "reindex"]);
        assert_eq!(
            reindex.code, 0,
            "`{change}`: {}{}",
            reindex.stdout, reindex.stderr
        );
        assert!(
            reindex
                .stdout
                .starts_with("✅ Run index rebuilt from the events: 3 runs.")
                && reindex.stdout.contains(said),
            "`{change}`: {}",
            reindex.stdout
        );
        let (code, report) = verify(&env);
        assert_eq!(code, 0, "`{change}`: {report}");
        assert_eq!(
            env.run(&["--json", "workflow", "history"]).json()["runs"].clone(),
            before,
            "`{change}`"
        );
        // Rebuilt again: nothing to change.
        let again = env.run(&["log", "reindex"]);
        assert!(
            again.stdout.contains("it agreed with the log already"),
            "{}",
            again.stdout
        );
    }
}

/// A run the index lacks (its row deleted, the table emptied) is still found by its id —
/// `status`, `log show`, `log verify` — from its events, and a row whose kind or name was
/// changed does not pass it off as another run. The next append to the run writes its row
/// again, so it is found by name once more.
#[test]
fn a_run_missing_from_the_index_is_still_found_by_its_id() {
    let env = mixed();
    let asks = env.run(&["--json", "workflow", "status", "asks"]).json()["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    let gate = env.run(&["--json", "orchestrate", "status", "gate"]).json()["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    sql(&env, "DELETE FROM runs");
    let status = env.run(&["--json", "workflow", "status", &asks]);
    assert_eq!(status.code, 0, "{}{}", status.stdout, status.stderr);
    assert_eq!(status.json()["name"], "asks");
    let status = env.run(&["--json", "orchestrate", "status", &gate]);
    assert_eq!(status.code, 0, "{}{}", status.stdout, status.stderr);
    let show = env.run(&["log", "show", &asks]);
    assert_eq!(show.code, 0, "{}{}", show.stdout, show.stderr);
    assert!(show.stdout.contains("run_started"), "{}", show.stdout);
    // The other kind's command says which kind it is, as for any run.
    let other = env.run(&["workflow", "status", &gate]);
    assert!(
        other
            .stderr
            .contains("is a scenario run, not a workflow run"),
        "{}",
        other.stderr
    );
    // A report appends to the run: its row is written again.
    let report = env.run(&["workflow", "step", "complete", "Plan", "--run", &asks]);
    assert_eq!(report.code, 0, "{}{}", report.stdout, report.stderr);
    let by_name = env.run(&["--json", "workflow", "status", "asks"]);
    assert_eq!(by_name.code, 0, "{}", by_name.stderr);
    assert_eq!(by_name.json()["run_id"], asks.as_str());

    // A row saying another kind and name: the run by its id is still itself.
    sql(
        &env,
        &format!(
            "UPDATE runs SET kind = 'scenario', name = 'gate', name_key = 'gate' WHERE run_id = '{asks}'"
        ),
    );
    let status = env.run(&["--json", "workflow", "status", &asks]);
    assert_eq!(status.code, 0, "{}{}", status.stdout, status.stderr);
    assert_eq!(status.json()["name"], "asks");
    let wrong = env.run(&["orchestrate", "status", &asks]);
    assert!(
        wrong
            .stderr
            .contains("is a workflow run, not a scenario run"),
        "{}",
        wrong.stderr
    );
    // History lists runs as their events say: not the workflow run among scenarios, and a
    // renamed row under its run's own name.
    let scenarios = env.run(&["--json", "orchestrate", "history"]).json()["runs"].clone();
    assert!(
        scenarios
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["run_id"] != asks.as_str()),
        "{scenarios}"
    );
    assert_eq!(env.run(&["log", "reindex"]).code, 0);
    sql(
        &env,
        "UPDATE runs SET name = 'zzz', name_key = 'zzz' WHERE name = 'done'",
    );
    let workflows = env.run(&["--json", "workflow", "history"]).json()["runs"].clone();
    let names: Vec<&str> = workflows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["asks", "done"], "{workflows}");
}

/// `log reindex` on both stores: an intact index is left as it is; one whose rows were
/// changed or deleted is written again from the events (on PostgreSQL, beside the rows that
/// lock streams that are not runs), and the log verifies.
fn log_reindex_agrees_with_an_intact_log_and_repairs_a_damaged_one(env: Env) {
    env.workflow("done", "name: done\nsteps:\n  - {name: a, run: 'true'}\n");
    env.workflow(
        "asks",
        "name: asks\nsteps:\n  - {name: Plan, prompt: plan it}\n",
    );
    assert_eq!(env.run(&["workflow", "run", "done"]).code, 0);
    assert_eq!(env.run(&["workflow", "run", "asks"]).code, 3);
    let before = env.run(&["--json", "workflow", "history"]).json()["runs"].clone();
    let intact = env.run(&["--json", "log", "reindex"]);
    assert_eq!(intact.code, 0, "{}{}", intact.stdout, intact.stderr);
    let doc = intact.json();
    assert_eq!(doc["runs"], 2, "{doc}");
    assert_eq!(doc["added"], serde_json::json!([]), "{doc}");
    assert_eq!(doc["corrected"], serde_json::json!([]), "{doc}");
    tamper(
        &env,
        "UPDATE runs SET name = 'other', outcome = 'completed' WHERE name = 'asks'; DELETE FROM runs WHERE name = 'done'",
    );
    assert_eq!(env.run(&["log", "verify", "--all"]).code, 1);
    let repaired = env.run(&["--json", "log", "reindex"]);
    assert_eq!(repaired.code, 0, "{}{}", repaired.stdout, repaired.stderr);
    let doc = repaired.json();
    assert_eq!(doc["added"].as_array().unwrap().len(), 1, "{doc}");
    assert_eq!(doc["corrected"].as_array().unwrap().len(), 1, "{doc}");
    let verified = env.run(&["log", "verify", "--all"]);
    assert_eq!(verified.code, 0, "{}", verified.stdout);
    assert_eq!(
        env.run(&["--json", "workflow", "history"]).json()["runs"].clone(),
        before
    );
}

common::on_both_stores!(log_reindex_agrees_with_an_intact_log_and_repairs_a_damaged_one);

/// The run index's table dropped by hand: `log verify` says the index is missing (with the
/// way back), reads find runs from their events, a write is refused with a clear error
/// naming `log reindex` (every append keeps the index), and `log reindex` makes the table
/// again as the migration does and fills it; the log then verifies and runs run.
#[test]
fn a_dropped_run_index_is_reported_refuses_writes_by_name_and_is_made_again_by_reindex() {
    let env = mixed();
    let before = env.run(&["--json", "workflow", "history"]).json()["runs"].clone();
    sql(&env, "DROP TABLE runs;");
    let failed = env.run(&["log", "verify", "--all"]);
    assert_eq!(failed.code, 1, "{}", failed.stdout);
    assert!(
        failed
            .stdout
            .contains("the run index: its table `runs` is missing")
            && failed.stdout.contains("`cortex log reindex` rebuilds it"),
        "{}",
        failed.stdout
    );
    assert_eq!(
        env.run(&["--json", "workflow", "history"]).json()["runs"].clone(),
        before,
        "reads scan the log"
    );
    let refused = env.run(&["workflow", "run", "done"]);
    assert_eq!(refused.code, 1, "{}{}", refused.stdout, refused.stderr);
    assert!(
        refused.stderr.contains("its table `runs`) is missing")
            && refused.stderr.contains("`cortex log reindex`")
            && !refused.stderr.contains("no such table"),
        "{}",
        refused.stderr
    );
    let reindex = env.run(&["log", "reindex"]);
    assert_eq!(reindex.code, 0, "{}{}", reindex.stdout, reindex.stderr);
    assert!(
        reindex
            .stdout
            .starts_with("✅ Run index rebuilt from the events: 3 runs."),
        "{}",
        reindex.stdout
    );
    let (code, report) = verify(&env);
    assert_eq!(code, 0, "{report}");
    let indexes: i64 = rusqlite::Connection::open(env.db())
        .unwrap()
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'runs' AND name LIKE 'runs_%'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(indexes, 3, "the migration's indexes are made again");
    assert_eq!(env.run(&["workflow", "run", "done"]).code, 0);
    assert_eq!(verify(&env).0, 0);
}

/// A row of the index with a kind or outcome no cortex writes is a damaged index, not a
/// damaged event: the run is still found by its id and by its name and listed in history as
/// its events say, and `log verify RUN` says the index is damaged with the way back
/// (`log reindex`), never that the events must be restored from a backup.
#[test]
fn an_unreadable_index_row_is_a_damaged_index_and_its_run_is_taken_from_its_events() {
    for change in [
        "UPDATE runs SET outcome = 'garbage' WHERE name = 'done'",
        "UPDATE runs SET kind = 'bogus' WHERE name = 'done'",
    ] {
        let env = mixed();
        let before = env.run(&["--json", "workflow", "history"]).json()["runs"].clone();
        let run = before.as_array().unwrap()[1]["run_id"]
            .as_str()
            .unwrap()
            .to_string();
        assert_eq!(before.as_array().unwrap()[1]["name"], "done");
        sql(&env, change);
        let by_id = env.run(&["workflow", "status", &run]);
        assert_eq!(
            by_id.code, 0,
            "`{change}`: {}{}",
            by_id.stdout, by_id.stderr
        );
        let by_name = env.run(&["workflow", "status", "done"]);
        assert_eq!(
            by_name.code, 0,
            "`{change}`: {}{}",
            by_name.stdout, by_name.stderr
        );
        assert!(
            by_name.stdout.contains(&run),
            "`{change}`: {}",
            by_name.stdout
        );
        let history = env.run(&["--json", "workflow", "history"]);
        assert_eq!(history.json()["runs"], before, "`{change}`");
        assert!(
            history.stderr.contains("the run index is damaged")
                && history.stderr.contains("`cortex log reindex` rebuilds it"),
            "`{change}`: {}",
            history.stderr
        );
        let one = env.run(&["log", "verify", &run]);
        assert_eq!(one.code, 1, "`{change}`: {}{}", one.stdout, one.stderr);
        assert!(
            one.stdout.contains("the run index: its")
                && one.stdout.contains("is not one cortex writes")
                && one.stdout.contains("`cortex log reindex` rebuilds it")
                && !one.stderr.contains("backup"),
            "`{change}`: {}{}",
            one.stdout,
            one.stderr
        );
    }
}

/// A row whose run has no events (made by hand, or its events removed) is no run: history
/// does not list it and a lookup by name does not take it for the latest run; `log verify`
/// (whole, and of that run) names it with the way back.
#[test]
fn an_index_row_without_events_is_never_listed_or_found() {
    let env = mixed();
    let before = env.run(&["--json", "workflow", "history"]).json()["runs"].clone();
    let latest = env.run(&["--json", "workflow", "status", "done"]).json();
    sql(
        &env,
        "INSERT INTO runs VALUES ('ZZZZZZZZZZZZZZZZZZZZZZZZZZ', 'workflow', 'done', 'done', '2099-01-01T00:00:00.000Z', 3, x'00', NULL);",
    );
    let history = env.run(&["--json", "workflow", "history"]);
    assert_eq!(history.json()["runs"], before);
    assert!(
        history
            .stderr
            .contains("it has a row for run ZZZZZZZZZZZZZZZZZZZZZZZZZZ, which has no events")
            && history.stderr.contains("`cortex log reindex` rebuilds it"),
        "{}",
        history.stderr
    );
    assert_eq!(
        env.run(&["--json", "workflow", "status", "done"]).json(),
        latest
    );
    let whole = env.run(&["log", "verify", "--all"]);
    assert_eq!(whole.code, 1, "{}", whole.stdout);
    assert!(
        whole
            .stdout
            .contains("at run ZZZZZZZZZZZZZZZZZZZZZZZZZZ seq 0: the run index names 4 events, the log holds none")
            && whole.stdout.contains("`cortex log reindex` rebuilds it"),
        "{}",
        whole.stdout
    );
    let one = env.run(&["log", "verify", "ZZZZZZZZZZZZZZZZZZZZZZZZZZ"]);
    assert_eq!(one.code, 1, "{}{}", one.stdout, one.stderr);
}

/// `log verify --all` counts runs as `history` and `log reindex` do: the other chains it
/// verifies (the agent registry, notification deliveries, schedules) are said apart. Before,
/// the agent registry's chain was counted as a run ("2 runs" where history listed 1).
#[test]
fn log_verify_counts_runs_apart_from_other_chains() {
    let env = Env::new();
    env.workflow("w", "name: w\nsteps:\n  - {name: a, run: echo a}\n");
    std::fs::create_dir_all(env.home().join("agents")).unwrap();
    std::fs::write(
        env.home().join("agents/helper.md"),
        "---\nname: helper\ndescription: helps\n---\nbody\n",
    )
    .unwrap();
    assert_eq!(env.run(&["agent", "activate", "helper"]).code, 0);
    assert_eq!(env.run(&["workflow", "run", "w"]).code, 0);
    let doc = env.run(&["--json", "log", "verify", "--all"]).json();
    assert_eq!(doc["runs"], 1, "{doc}");
    assert_eq!(doc["chains"], 1, "{doc}");
    let text = env.run(&["log", "verify", "--all"]).stdout;
    assert!(
        text.starts_with("✅ log verified: 1 run and 1 other chain, "),
        "{text}"
    );
    assert!(
        env.run(&["log", "reindex"]).stdout.contains(": 1 run;"),
        "the index counts the same runs"
    );
}

/// History's progress counts the definition's steps, as `status` does ("Steps: 4 total"): a
/// `foreach:` step is one step, its items under it. Before, a 4-step workflow with a 6-item
/// `foreach:` read 10/10 in `workflow history --json` (and `/api/v1/runs`, the runs page).
#[test]
fn history_progress_counts_a_foreach_step_once_as_status_does() {
    let env = Env::new();
    env.workflow(
        "fe",
        "name: fe\nsteps:\n  - name: a\n    run: 'true'\n  - name: each\n    foreach: [1, 2, 3, 4, 5, 6]\n    run: 'true'\n  - name: b\n    run: 'true'\n  - name: c\n    run: 'true'\n",
    );
    let out = env.run(&["workflow", "run", "fe"]);
    assert_eq!(out.code, 0, "{}", out.text());
    let rows = env.run(&["--json", "workflow", "history"]).json()["runs"].clone();
    assert_eq!(
        (rows[0]["done"].as_u64(), rows[0]["total"].as_u64()),
        (Some(4), Some(4)),
        "{rows}"
    );
    let status = env.run(&["workflow", "status"]).stdout;
    assert!(status.contains("Steps: 4 total"), "{status}");
}
