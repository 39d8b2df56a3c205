//! Tamper evidence against the real log, SQLite's file or PostgreSQL's tables (changed by their
//! owner, triggers dropped or disabled): a change to any byte of any stored column of any
//! event, a deleted, duplicated, reordered or moved event is found by `log verify`, which
//! names the first bad event; a truncated tail is found against anchored heads.

mod common;
#[path = "common/server.rs"]
mod server;

use common::{Env, Store};
use cortex::store::{EventStore, verify_rows};

const COLUMNS: [&str; 9] = [
    "run_id",
    "seq",
    "id",
    "time",
    "type",
    "version",
    "body",
    "prev_hash",
    "hash",
];

/// Two finished runs in one log.
fn two_runs(env: Env) -> (Env, Vec<String>) {
    env.workflow(
        "pair",
        "name: pair\nsteps:\n  - {name: a, run: 'echo a'}\n  - {name: b, run: 'echo b'}\n",
    );
    assert_eq!(env.run(&["workflow", "run", "pair"]).code, 0);
    assert_eq!(env.run(&["workflow", "run", "pair"]).code, 0);
    let history = env.run(&["--json", "workflow", "history"]).json()["runs"].clone();
    let runs = history
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["run_id"].as_str().unwrap().to_string())
        .collect();
    (env, runs)
}

/// Run `statements` on the log as its owner would, past the append-only triggers: dropped on
/// SQLite, disabled on PostgreSQL.
fn sql(env: &Env, statements: &str) {
    match &env.pg {
        None => {
            let conn = rusqlite::Connection::open(env.db()).unwrap();
            conn.execute_batch(&format!(
                "DROP TRIGGER IF EXISTS events_append_only_update; DROP TRIGGER IF EXISTS events_append_only_delete; {statements}"
            ))
            .unwrap();
        }
        Some(pg) => {
            let mut c = postgres::Client::connect(&pg.url, postgres::NoTls).unwrap();
            c.batch_execute(&format!(
                "ALTER TABLE events DISABLE TRIGGER USER; {statements}"
            ))
            .unwrap();
        }
    }
}

/// A 32-byte hash literal in the log's SQL dialect.
fn forged_hash(store: Store) -> String {
    let hex = format!("{}01", "00".repeat(31));
    match store {
        Store::Sqlite => format!("X'{hex}'"),
        Store::Postgres => format!("'\\x{hex}'::bytea"),
    }
}

fn verify(env: &Env, extra: &[&str]) -> (i32, serde_json::Value) {
    let mut args = vec!["--json", "log", "verify"];
    args.extend_from_slice(extra);
    let out = env.run(&args);
    (out.code, out.json())
}

fn a_change_to_any_column_of_any_event_is_found_and_named(env: Env) {
    let kind = env.store_kind();
    drop(env);
    let mut tried = 0;
    for column in COLUMNS {
        for seq in [0, 3, 6] {
            let Some(env) = Env::on(
                kind,
                "a_change_to_any_column_of_any_event_is_found_and_named",
            ) else {
                return;
            };
            let (env, runs) = two_runs(env);
            let run = &runs[0];
            let row = format!("WHERE run_id = '{run}' AND seq = {seq}");
            let forged = forged_hash(kind);
            let change = match column {
                "seq" => format!("UPDATE events SET seq = seq + 1000 {row}"),
                "version" => format!("UPDATE events SET version = version + 1 {row}"),
                // Moved into the other run (at a free seq there).
                "run_id" => format!("UPDATE events SET run_id = '{}', seq = 999 {row}", runs[1]),
                "prev_hash" | "hash" => format!("UPDATE events SET {column} = {forged} {row}"),
                _ => format!("UPDATE events SET \"{column}\" = \"{column}\" || ' ' {row}"),
            };
            sql(&env, &change);
            tried += 1;
            let (code, report) = verify(&env, &["--all"]);
            assert_eq!(code, 1, "{column}@{seq}: {report}");
            // `log verify` streams borrowed rows; the same rows copied give the same verdict.
            let store = env.open_store();
            assert_eq!(
                store.verify(None).unwrap(),
                verify_rows(&store.raw_rows(None).unwrap()),
                "{column}@{seq}"
            );
            assert_eq!(report["ok"], false, "{column}@{seq}: {report}");
            let bad = &report["first_bad"];
            let named_seq = bad["seq"].as_i64().unwrap();
            assert!(
                (bad["run_id"] == run.as_str() && named_seq <= seq + 1)
                    || bad["run_id"] == runs[1].as_str(),
                "{column}@{seq}: named {bad}"
            );
        }
    }
    assert_eq!(tried, 27);
}

fn deleted_duplicated_and_reordered_events_are_found(env: Env) {
    let kind = env.store_kind();
    let fresh = || Env::on(kind, "deleted_duplicated_and_reordered_events_are_found").unwrap();
    let (env, runs) = two_runs(env);
    let run = &runs[0];
    sql(
        &env,
        &format!("DELETE FROM events WHERE run_id = '{run}' AND seq = 2"),
    );
    let (code, report) = verify(&env, &[]);
    assert_eq!(code, 1);
    assert_eq!(
        report["first_bad"]["seq"], 3,
        "the event after the gap is named: {report}"
    );

    let (env, runs) = two_runs(fresh());
    let run = &runs[0];
    sql(
        &env,
        &format!(
            "INSERT INTO events SELECT run_id, 1000, id, \"time\", \"type\", version, body, prev_hash, hash FROM events WHERE run_id = '{run}' AND seq = 2"
        ),
    );
    assert_eq!(verify(&env, &[]).0, 1, "a duplicated event");

    let (env, runs) = two_runs(fresh());
    let run = &runs[0];
    sql(
        &env,
        &format!(
            "UPDATE events SET seq = -1 WHERE run_id = '{run}' AND seq = 2;
         UPDATE events SET seq = 2 WHERE run_id = '{run}' AND seq = 3;
         UPDATE events SET seq = 3 WHERE run_id = '{run}' AND seq = -1;"
        ),
    );
    let (code, report) = verify(&env, &[]);
    assert_eq!(code, 1, "two events swapped");
    assert_eq!(report["first_bad"]["seq"], 2);
}

fn a_truncated_tail_is_found_against_anchored_heads(env: Env) {
    let (env, runs) = two_runs(env);
    let anchors = env.dir.path().join("anchors.txt");
    let anchors_arg = anchors.display().to_string();
    let out = env.run(&["log", "anchor", "--file", &anchors_arg]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        std::fs::read_to_string(&anchors).unwrap().lines().count(),
        2
    );
    assert_eq!(env.run(&["log", "anchor", "--file", &anchors_arg]).code, 0);
    assert_eq!(
        std::fs::read_to_string(&anchors).unwrap().lines().count(),
        2,
        "append-only, no duplicates"
    );
    let (code, report) = verify(&env, &["--anchors", &anchors_arg]);
    assert_eq!((code, report["anchors"].as_u64()), (0, Some(2)), "{report}");

    // Cut the last two events of a run: its chain still verifies on its own...
    let run = &runs[1];
    sql(
        &env,
        &format!(
            "DELETE FROM events WHERE run_id = '{run}' AND seq >= (SELECT MAX(seq) - 1 FROM events WHERE run_id = '{run}')"
        ),
    );
    // The run index still holds the old head, so the cut shows...
    let (code, report) = verify(&env, &[]);
    assert_eq!(code, 1, "the run index remembers the head: {report}");
    assert!(
        report["first_bad"]["reason"]
            .as_str()
            .unwrap()
            .contains("the run index"),
        "{report}"
    );
    // ...unless whoever cut it also rewrote the index: then the chain alone verifies, and a
    // truncated tail is invisible without an anchor.
    sql(
        &env,
        &format!(
            "UPDATE runs SET head_seq = (SELECT MAX(seq) FROM events WHERE run_id = '{run}'),
                head_hash = (SELECT hash FROM events WHERE run_id = '{run}' ORDER BY seq DESC LIMIT 1),
                outcome = NULL
             WHERE run_id = '{run}'"
        ),
    );
    assert_eq!(
        verify(&env, &[]).0,
        0,
        "a truncated tail with a rewritten index is invisible without an anchor"
    );
    // ...but not against its anchored head.
    let (code, report) = verify(&env, &["--anchors", &anchors_arg]);
    assert_eq!(code, 1);
    assert!(
        report["first_bad"]["reason"]
            .as_str()
            .unwrap()
            .starts_with("truncated"),
        "{report}"
    );
    assert_eq!(report["first_bad"]["run_id"], run.as_str());

    let printed = env.run(&["log", "anchor"]);
    assert_eq!(
        printed.stdout.lines().count(),
        1,
        "only finished runs are anchored"
    );
}

/// An exported run (`log export`, JSON Lines) is an audit trail that leaves the machine: its
/// chain verifies from the file alone (`log verify --file run.jsonl`, on another home with no
/// log), reformatting it does not count as tampering, and a changed value, a removed line or
/// a line that is not an event fails it, naming where; a cut tail fails against the anchors.
/// Before, `--file` took only a database ("file is not a database").
fn an_exported_run_verifies_from_the_file_alone_and_a_change_to_it_is_found(env: Env) {
    let (env, runs) = two_runs(env);
    let export = env.run(&["log", "export", &runs[0]]);
    assert_eq!(export.code, 0, "{}", export.stderr);
    let dir = env.dir.path();
    let write = |name: &str, lines: &[String]| {
        let path = dir.join(name);
        std::fs::write(&path, lines.join("\n") + "\n").unwrap();
        path.display().to_string()
    };
    let lines: Vec<String> = export.stdout.lines().map(str::to_string).collect();
    assert!(lines.len() >= 6, "{}", export.stdout);
    // Another home, no log of its own: the file is all there is.
    let elsewhere = Env::new();
    let check = |file: &str, extra: &[&str]| {
        let mut args = vec!["--json", "log", "verify", "--file", file];
        args.extend(extra);
        let out = elsewhere.run(&args);
        (out.code, out.json())
    };
    let whole = write("run.jsonl", &lines);
    let (code, report) = check(&whole, &[]);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["events"].as_u64(), Some(lines.len() as u64));
    // Pretty-printed with other key order: the same values, the same chain.
    let reformatted: Vec<String> = lines
        .iter()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            serde_json::to_string_pretty(&v).unwrap().replace('\n', " ")
        })
        .collect();
    assert_eq!(check(&write("pretty.jsonl", &reformatted), &[]).0, 0);
    // A value changed in the third event.
    let mut changed = lines.clone();
    let mut event: serde_json::Value = serde_json::from_str(&changed[2]).unwrap();
    event["time"] = serde_json::json!("2020-01-01T00:00:00.000Z");
    changed[2] = event.to_string();
    let (code, report) = check(&write("changed.jsonl", &changed), &[]);
    assert_eq!(code, 1, "{report}");
    assert_eq!(report["first_bad"]["seq"].as_i64(), Some(2), "{report}");
    // A line removed from the middle.
    let mut removed = lines.clone();
    removed.remove(3);
    let (code, report) = check(&write("removed.jsonl", &removed), &[]);
    assert_eq!(code, 1, "{report}");
    assert!(
        report["first_bad"]["reason"]
            .as_str()
            .unwrap()
            .contains("sequence gap"),
        "{report}"
    );
    // A line that is no event.
    let mut garbage = lines.clone();
    garbage.insert(1, "{\"run_id\": 5}".into());
    let (code, report) = check(&write("garbage.jsonl", &garbage), &[]);
    assert_eq!(code, 1, "{report}");
    assert!(
        report["first_bad"]["reason"]
            .as_str()
            .unwrap()
            .contains("line 2"),
        "{report}"
    );
    // The tail cut: unseen alone, found against the run's anchored head.
    let anchors = dir.join("anchors.txt").display().to_string();
    assert_eq!(env.run(&["log", "anchor", "--file", &anchors]).code, 0);
    let cut = write("cut.jsonl", &lines[..lines.len() - 1]);
    assert_eq!(check(&cut, &[]).0, 0, "a cut tail alone verifies");
    let (code, report) = check(&cut, &["--anchors", &anchors]);
    assert_eq!(code, 1, "{report}");
    assert_eq!(check(&whole, &["--anchors", &anchors]).0, 0);
    // A file holding no event is an error, not a pass.
    let empty = write("empty.jsonl", &[]);
    assert_eq!(elsewhere.run(&["log", "verify", "--file", &empty]).code, 2);
    // The JSON array of `--json log show` is no log: the error says what to verify instead.
    let shown = env.run(&["--json", "log", "show", &runs[0]]);
    let array = write("shown.json", std::slice::from_ref(&shown.stdout));
    let refused = elsewhere.run(&["log", "verify", "--file", &array]);
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("is a JSON array") && refused.stderr.contains("log export"),
        "{}",
        refused.stderr
    );
    // Nor is any other file: bad input (2), not a failed verification (1).
    let text = dir.join("notes.txt");
    std::fs::write(&text, "not a log\n").unwrap();
    let refused = elsewhere.run(&["log", "verify", "--file", &text.display().to_string()]);
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("is neither a cortex log"),
        "{}",
        refused.stderr
    );
}

/// An untouched log verifies, and copies, while other processes append to several runs of it:
/// `log verify --all` reads the chains, the snapshots and the run index in one view of the log
/// (never a chain read before an append and an index row after it), and `log copy` holds the
/// copy to the rows it copied (never to a head that moved on meanwhile), leaving out by name
/// only the runs being driven; once they end, a copy holds them all.
fn verify_and_copy_never_fail_while_other_processes_append(env: Env) {
    let items: Vec<String> = (1..=20).map(|i| format!("\"{i}\"")).collect();
    let path = env.project().join("busy.yaml");
    std::fs::write(
        &path,
        format!(
            "name: busy\ndescription: many quick phases\nphases:\n  - name: p\n    description: x\n    foreach: [{}]\n    run: \"true\"\n",
            items.join(", ")
        ),
    )
    .unwrap();
    let path = path.display().to_string();
    let appenders: Vec<_> = (0..2)
        .map(|_| {
            let mut cmds: Vec<_> = (0..3)
                .map(|_| env.command(&["orchestrate", "run", &path]))
                .collect();
            std::thread::spawn(move || {
                for cmd in &mut cmds {
                    let out = cmd.output().unwrap();
                    assert!(out.status.success(), "{out:?}");
                }
            })
        })
        .collect();
    let copy = env.dir.path().join("copy.db");
    let copy = copy.display().to_string();
    let (mut verifies, mut copies) = (0, 0);
    // From the first run on: before it, there is no log to verify (exit 2, said so).
    while appenders.iter().any(|a| !a.is_finished())
        && env.run(&["--json", "orchestrate", "history"]).json()["runs"]
            .clone()
            .as_array()
            .is_none_or(Vec::is_empty)
    {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    while appenders.iter().any(|a| !a.is_finished()) {
        let out = env.run(&["log", "verify", "--all"]);
        assert_eq!(out.code, 0, "verify failed on an untouched log: {out:?}");
        verifies += 1;
        // A run being driven is left out by name (exit 1): a copy would be driven there too.
        // Never a failure of the copy itself.
        let out = env.run(&["log", "copy", "--to", &copy]);
        let left_out: Vec<&str> = out
            .stdout
            .lines()
            .filter(|l| l.trim_start().starts_with("not copied:"))
            .collect();
        assert!(
            (out.code == 0 && left_out.is_empty())
                || (out.code == 1
                    && !left_out.is_empty()
                    && left_out
                        .iter()
                        .all(|l| l.contains("it is being driven now"))),
            "copy failed on an untouched log: {out:?}"
        );
        copies += 1;
    }
    for a in appenders {
        a.join().unwrap();
    }
    assert!(verifies > 0 && copies > 0);
    assert_eq!(env.run(&["log", "verify", "--all"]).code, 0);
    // The copy, finished, holds every run as the log does.
    assert_eq!(env.run(&["log", "copy", "--to", &copy]).code, 0);
    let out = env.run(&["log", "verify", "--file", &copy]);
    assert_eq!(out.code, 0, "{out:?}");
}

/// A driver verifies the run's chain as it replays it: after an `output_recorded` body was
/// forged, a report, a resume and `--json` alike are refused (exit 1, a log that fails
/// verification), naming `log verify`, and nothing runs with the forged value or is appended.
/// `status`, a reader, still shows the run.
fn a_run_whose_chain_is_broken_is_not_driven_on(env: Env) {
    env.workflow(
        "tw",
        "name: tw\nsteps:\n  - name: a\n    run: echo \"cmd=echo safe\" >> \"$CORTEX_OUTPUT\"\n  - name: gate\n    prompt: approve\n  - name: c\n    run: echo \"running ${{ steps.a.outputs.cmd }}\" > ran.txt\n",
    );
    assert_eq!(env.run(&["workflow", "run", "tw"]).code, 3);
    let run = env.status(None)["run_id"].as_str().unwrap().to_string();
    let before = env.events(&run).len();
    sql(
        &env,
        "UPDATE events SET body = replace(body, 'echo safe', 'rm -rf TAMPERED') WHERE type = 'output_recorded'",
    );
    for args in [
        &["workflow", "step", "complete", "gate"][..],
        &["workflow", "resume", &run],
        &["workflow", "abort", &run],
    ] {
        let out = env.run(args);
        assert_eq!(out.code, 1, "{args:?}: {}{}", out.stdout, out.stderr);
        assert!(
            out.stderr.contains(&format!("run {run} does not verify"))
                && out.stderr.contains(&format!("cortex log verify {run}")),
            "{args:?}: {}",
            out.stderr
        );
    }
    let doc = env
        .run(&["--json", "workflow", "step", "complete", "gate"])
        .json();
    assert_eq!(doc["exit_code"], 1, "{doc}");
    // The HTTP API says it as a conflict with the run (409), not as a fault of the server
    // (500, before), with the same document.
    let s = server::Server::start(&env);
    for path in [
        format!("/api/v1/runs/{run}/steps/gate/complete"),
        format!("/api/v1/runs/{run}/abort"),
    ] {
        let refused = s.post(&path, "{}");
        assert_eq!(refused.status, 409, "{path}: {}", refused.body);
        let doc = refused.json();
        assert_eq!(doc["exit_code"], 1, "{doc}");
        assert!(
            doc["error"].as_str().unwrap().contains("does not verify"),
            "{doc}"
        );
    }
    drop(s);
    assert!(
        !env.file("ran.txt").exists(),
        "the forged value was acted on"
    );
    assert_eq!(env.events(&run).len(), before, "nothing is appended");
    assert_eq!(env.status(None)["status"], "waiting");
}

/// Seen by a review: deleting a run's newest event (an operator's abort of a rejected deploy)
/// left a chain that still links; `log verify` named the run index's head as missing, but a
/// resume went on, a report ran the deploy, and the log verified clean afterwards. A driver
/// checks the run index's head against the chain it replays, as `log verify` does.
fn a_run_whose_newest_events_were_deleted_is_not_driven_on(env: Env) {
    env.workflow(
        "trunc",
        "name: trunc\nsteps:\n  - name: ask\n    prompt: approve the deploy?\n  - name: deploy\n    run: echo DEPLOYED > deployed.txt\n",
    );
    assert_eq!(env.run(&["workflow", "run", "trunc"]).code, 3);
    let run = env.status(None)["run_id"].as_str().unwrap().to_string();
    assert_eq!(
        env.run(&["workflow", "abort", &run, "--message", "rejected"])
            .code,
        1
    );
    let before = env.events(&run).len();
    sql(
        &env,
        &format!(
            "DELETE FROM events WHERE run_id = '{run}' AND seq = (SELECT max(seq) FROM events WHERE run_id = '{run}')"
        ),
    );
    for args in [
        &["workflow", "resume", &run][..],
        &["workflow", "step", "complete", "ask"],
    ] {
        let out = env.run(args);
        assert_eq!(out.code, 1, "{args:?}: {}{}", out.stdout, out.stderr);
        assert!(
            out.stderr.contains(&format!("run {run} does not verify"))
                && out.stderr.contains("events were removed"),
            "{args:?}: {}",
            out.stderr
        );
    }
    assert!(
        !env.file("deployed.txt").exists(),
        "the rejected deploy ran"
    );
    assert_eq!(env.events(&run).len(), before - 1, "nothing is appended");
    assert_eq!(env.run(&["log", "verify", "--all"]).code, 1);
}

/// `status` checks what it reads (the events after its snapshot, or all of them, and the run
/// index's head): a run whose log was changed is said not to verify — `verified: false`, where
/// it breaks, a warning line — and nothing is suggested but `log verify`, by the CLI, the API
/// and the run's page (no action forms). Before, it looked healthy, with a `step complete`
/// that was then refused ("cortex will not act on a run whose log was changed").
fn a_status_of_a_run_whose_log_does_not_verify_says_so_and_suggests_only_log_verify(env: Env) {
    env.workflow(
        "tv",
        "name: tv\ninputs:\n  v: {type: string}\nsteps:\n  - name: plan\n    prompt: plan ${{ inputs.v }}\n",
    );
    assert_eq!(
        env.run(&["workflow", "run", "tv", "--input", "v=hello"])
            .code,
        3
    );
    let run = env.status(None)["run_id"].as_str().unwrap().to_string();
    let clean = env.status(Some(&run));
    assert_eq!(clean["verified"], true, "{clean}");
    assert!(clean.get("unverified").is_none(), "{clean}");
    sql(
        &env,
        &format!(
            "UPDATE events SET body = replace(body, 'hello', 'HELLO') WHERE run_id = '{run}' AND seq = 0"
        ),
    );
    let doc = env.status(Some(&run));
    assert_eq!(doc["verified"], false, "{doc}");
    assert_eq!(doc["unverified"]["seq"], 0, "{doc}");
    assert_eq!(
        doc["next"],
        serde_json::json!([{
            "argv": ["cortex", "log", "verify", run],
            "why": doc["next"][0]["why"],
        }]),
        "{doc}"
    );
    let human = env.run(&["workflow", "status", &run]);
    assert!(
        human.stdout.contains("does not verify") && !human.stdout.contains("step complete"),
        "{}",
        human.stdout
    );
    assert!(
        human.stdout.contains(&format!("cortex log verify {run}")),
        "{}",
        human.stdout
    );
    let s = server::Server::start(&env);
    let api = s.get(&format!("/api/v1/runs/{run}")).json();
    assert_eq!(api["verified"], false, "{api}");
    assert_eq!(api["next"], doc["next"], "{api}");
    let page = s.get(&format!("/runs/{run}")).body;
    assert!(page.contains("not verified"), "{page}");
    for action in ["/complete\"", "/fail\"", "/abort\"", "/resume\""] {
        assert!(
            !page.contains(action),
            "the page offers {action} on a run cortex will not act on"
        );
    }
}

/// `status --at SEQ` checks the prefix of the log it replays, as `status` of the present checks
/// what it reads: at or past a changed event the view says `verified: false`, where it breaks,
/// warns and suggests only `log verify` (CLI, API `?at=`); before the changed event what it
/// read verified. Before, `--at` showed the forged text with no word of it.
fn a_status_at_a_changed_event_says_the_log_does_not_verify(env: Env) {
    env.workflow("sl", "name: sl\nsteps: [{name: a, prompt: do a}]\n");
    assert_eq!(env.run(&["workflow", "run", "sl"]).code, 3);
    let failed = env.run(&["workflow", "step", "fail", "a", "--message", "nope"]);
    assert_eq!(failed.code, 1, "{}{}", failed.stdout, failed.stderr);
    let run = env.status(None)["run_id"].as_str().unwrap().to_string();
    let seq_of_nope = env
        .events(&run)
        .iter()
        .position(|e| e.to_string().contains("nope"))
        .expect("an event says nope") as u64;
    let last = env.events(&run).len() as u64 - 1;
    let at = |seq: u64| {
        let out = env.run(&[
            "--json",
            "workflow",
            "status",
            &run,
            "--at",
            &seq.to_string(),
        ]);
        (out.json(), out)
    };
    let (clean, _) = at(last);
    assert_eq!(clean["verified"], true, "{clean}");
    assert!(clean.get("unverified").is_none(), "{clean}");
    sql(
        &env,
        &format!(
            "UPDATE events SET body = replace(body, 'nope', 'NOPE') WHERE run_id = '{run}' AND seq = {seq_of_nope}"
        ),
    );
    for seq in [seq_of_nope, last] {
        let (doc, _) = at(seq);
        assert_eq!(doc["verified"], false, "--at {seq}: {doc}");
        assert_eq!(doc["unverified"]["seq"], seq_of_nope, "{doc}");
        assert_eq!(doc["as_of"]["seq"], seq, "{doc}");
        assert_eq!(
            doc["next"],
            serde_json::json!([{
                "argv": ["cortex", "log", "verify", run],
                "why": doc["next"][0]["why"],
            }]),
            "{doc}"
        );
        let human = env.run(&["workflow", "status", &run, "--at", &seq.to_string()]);
        assert!(
            human.stdout.contains("does not verify")
                && human.stdout.contains(&format!("event #{seq_of_nope}")),
            "{}",
            human.stdout
        );
    }
    // What it read before the changed event verified.
    let (before, _) = at(seq_of_nope - 1);
    assert_eq!(before["verified"], true, "{before}");
    assert!(
        before["next"].as_array().is_some_and(Vec::is_empty),
        "{before}"
    );
    let s = server::Server::start(&env);
    let api = s.get(&format!("/api/v1/runs/{run}?at={last}")).json();
    assert_eq!(api["verified"], false, "{api}");
    assert_eq!(api["unverified"]["seq"], seq_of_nope, "{api}");
    let api = s
        .get(&format!("/api/v1/runs/{run}?at={}", seq_of_nope - 1))
        .json();
    assert_eq!(api["verified"], true, "{api}");
}

/// One changed run never hides another: `log verify` checks every run afresh after another's
/// failure and names each failed run by its first bad event (`failures`, `first_bad` the first
/// of them), the rest said to verify; against anchors, a deleted run and a rewritten one are
/// both named; `log show` of a changed run says so under its events. Before, verification
/// stopped at the first bad run and said nothing of the runs after it.
fn one_changed_run_never_hides_another(env: Env) {
    let (env, mut runs) = two_runs(env);
    assert_eq!(env.run(&["workflow", "run", "pair"]).code, 0);
    let third = env.status(None)["run_id"].as_str().unwrap().to_string();
    runs.push(third);
    runs.sort();
    let anchors = env.dir.path().join("anchors.txt");
    let anchors_arg = anchors.to_str().unwrap();
    assert_eq!(env.run(&["log", "anchor", "--file", anchors_arg]).code, 0);
    sql(
        &env,
        &format!(
            "UPDATE events SET body = replace(body, 'echo a', 'echo A') WHERE run_id = '{}' AND seq = 0;
             UPDATE events SET body = replace(body, 'echo a', 'echo A') WHERE run_id = '{}' AND seq = 0;",
            runs[0], runs[2]
        ),
    );
    let (code, report) = verify(&env, &[]);
    assert_eq!(code, 1, "{report}");
    let failed: Vec<&str> = report["failures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["run_id"].as_str().unwrap())
        .collect();
    assert_eq!(failed, [runs[0].as_str(), runs[2].as_str()], "{report}");
    assert_eq!(report["first_bad"], report["failures"][0], "{report}");
    assert_eq!(report["failures"][1]["seq"], 0, "{report}");
    assert_eq!(report["runs"], 3, "{report}");
    let human = env.run(&["log", "verify"]);
    assert!(
        human.stdout.contains("2 runs did not verify")
            && human.stdout.contains(&runs[0])
            && human.stdout.contains(&runs[2])
            && human.stdout.contains("the other run verified"),
        "{}",
        human.stdout
    );
    // The one run asked for is checked alone; the intact one verifies.
    assert_eq!(verify(&env, &[&runs[1]]).0, 0);
    let shown = env.run(&["log", "show", &runs[2]]);
    assert_eq!(shown.code, 0);
    assert!(
        shown
            .stdout
            .contains("this run's log does not verify at seq 0")
            && shown
                .stdout
                .contains(&format!("cortex log verify {}", runs[2])),
        "{}",
        shown.stdout
    );
    assert!(
        !env.run(&["log", "show", &runs[1]])
            .stdout
            .contains("does not verify")
    );
    // Against anchors: a run deleted and a run rewritten are both named.
    sql(
        &env,
        &format!("DELETE FROM events WHERE run_id = '{}'", runs[1]),
    );
    let (code, report) = verify(&env, &["--anchors", anchors_arg]);
    assert_eq!(code, 1, "{report}");
    let failed: Vec<&str> = report["failures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["run_id"].as_str().unwrap())
        .collect();
    for run in &runs {
        assert!(failed.contains(&run.as_str()), "{run} not named: {report}");
    }
}

/// The reasons of the failures `report` names, by run.
fn failures(report: &serde_json::Value) -> Vec<(String, String)> {
    report["failures"]
        .as_array()
        .unwrap_or_else(|| panic!("no failures array: {report}"))
        .iter()
        .map(|f| {
            (
                f["run_id"].as_str().unwrap().to_string(),
                f["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// A run whose events were all deleted, its run-index row left (which proves it existed),
/// fails `log verify RUN` and `log verify --all` by that row, even when another run failed
/// too; on PostgreSQL a dropped events table beside the index is an error, never "0 runs"
/// verified. `failures` is always in the document, `[]` on a clean log. Seen by a review: such
/// a run passed ("0 runs, 0 events") while `workflow resume` sent the user to `log verify`.
fn a_run_whose_events_were_all_deleted_fails_verification_by_its_index_row(env: Env) {
    let (env, runs) = two_runs(env);
    let (code, clean) = verify(&env, &["--all"]);
    assert_eq!(code, 0, "{clean}");
    assert_eq!(clean["failures"], serde_json::json!([]), "{clean}");
    sql(
        &env,
        &format!("DELETE FROM events WHERE run_id = '{}'", runs[0]),
    );
    let removed = "the log holds none: events were removed";
    let (code, report) = verify(&env, &[&runs[0]]);
    assert_eq!(code, 1, "{report}");
    assert_eq!(report["first_bad"]["run_id"], runs[0].as_str(), "{report}");
    let reason = report["first_bad"]["reason"].as_str().unwrap();
    assert!(
        reason.contains("the run index names") && reason.contains(removed),
        "{report}"
    );
    let (code, report) = verify(&env, &["--all"]);
    assert_eq!(code, 1, "{report}");
    assert_eq!(failures(&report)[0].0, runs[0], "{report}");
    // Another run failing first never hides it.
    sql(
        &env,
        &format!(
            "UPDATE events SET body = replace(body, 'echo a', 'echo A') WHERE run_id = '{}' AND seq = 0",
            runs[1]
        ),
    );
    let (code, report) = verify(&env, &[]);
    assert_eq!(code, 1, "{report}");
    let named = failures(&report);
    assert!(
        named
            .iter()
            .any(|(r, why)| *r == runs[0] && why.contains(removed))
            && named.iter().any(|(r, _)| *r == runs[1]),
        "{report}"
    );
    if env.pg.is_some() {
        sql(&env, "DROP TABLE events CASCADE");
        let out = env.run(&["log", "verify"]);
        assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
        assert!(
            out.stderr.contains("no events table") && !out.stdout.contains("verified"),
            "{}{}",
            out.stdout,
            out.stderr
        );
    }
}

/// `log verify RUN --anchors FILE` of a run deleted whole (its events and its index row), which
/// the anchors still name by id or a prefix of it, fails naming it as deleted (exit 1), rather
/// than saying there is no such run (exit 2); a run neither knows is still bad input.
fn a_deleted_run_named_with_its_anchors_fails_as_deleted(env: Env) {
    let (env, runs) = two_runs(env);
    let anchors = env.dir.path().join("anchors.txt");
    let anchors_arg = anchors.to_str().unwrap();
    assert_eq!(env.run(&["log", "anchor", "--file", anchors_arg]).code, 0);
    let run = &runs[0];
    sql(
        &env,
        &format!(
            "DELETE FROM events WHERE run_id = '{run}'; DELETE FROM runs WHERE run_id = '{run}'"
        ),
    );
    for named in [run.as_str(), &run[..run.len() - 4]] {
        let (code, report) = verify(&env, &[named, "--anchors", anchors_arg]);
        assert_eq!(code, 1, "{named}: {report}");
        assert_eq!(report["first_bad"]["run_id"], run.as_str(), "{report}");
        assert!(
            report["first_bad"]["reason"]
                .as_str()
                .unwrap()
                .contains("deleted"),
            "{report}"
        );
    }
    let out = env.run(&["log", "verify", "no-such-run", "--anchors", anchors_arg]);
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
}

/// `log show` of a run that does not verify says so under its events for each thing `log
/// verify RUN` checks (its chain, its index row, its attempt logs' files), and with `--json`
/// on stderr, stdout the same array of events; an intact run is shown without a word of it.
fn log_show_warns_of_whatever_log_verify_of_the_run_finds(env: Env) {
    let (env, runs) = two_runs(env);
    let clean = env.run(&["--json", "log", "show", &runs[1]]);
    assert!(
        !clean.stderr.contains("does not verify"),
        "{}",
        clean.stderr
    );
    let before = clean.json();
    let shows_warning = |run: &str, what: &str| {
        let human = env.run(&["log", "show", run]);
        assert_eq!(human.code, 0, "{what}: {}", human.stderr);
        assert!(
            human.stdout.contains("this run's log does not verify")
                && human.stdout.contains(&format!("cortex log verify {run}")),
            "{what}: {}",
            human.stdout
        );
        // Said once: in the text, not again on the side.
        assert!(
            !human.stderr.contains("does not verify"),
            "{what}: {}",
            human.stderr
        );
        let json = env.run(&["--json", "log", "show", run]);
        assert_eq!(json.code, 0, "{what}: {}", json.stderr);
        assert!(json.json().is_array(), "{what}: {}", json.stdout);
        assert!(
            json.stderr.contains(&format!("run {run} does not verify"))
                && json.stderr.contains(&format!("cortex log verify {run}")),
            "{what}: {}",
            json.stderr
        );
        json.json()
    };
    // Its attempt log's file changed.
    let logs = env.home().join("logs").join(&runs[1]);
    let file = std::fs::read_dir(&logs)
        .unwrap()
        .flatten()
        .flat_map(|e| {
            if e.path().is_dir() {
                std::fs::read_dir(e.path())
                    .unwrap()
                    .flatten()
                    .map(|f| f.path())
                    .collect()
            } else {
                vec![e.path()]
            }
        })
        .find(|p| p.is_file())
        .expect("the run has an attempt log file");
    let mut text = std::fs::read(&file).unwrap();
    text.extend_from_slice(b"forged\n");
    std::fs::write(&file, text).unwrap();
    assert_eq!(verify(&env, &[&runs[1]]).0, 1);
    assert_eq!(shows_warning(&runs[1], "attempt log"), before);
    // Its index row changed.
    sql(
        &env,
        &format!(
            "UPDATE runs SET name = 'other' WHERE run_id = '{}'",
            runs[0]
        ),
    );
    assert_eq!(verify(&env, &[&runs[0]]).0, 1);
    shows_warning(&runs[0], "index row");
}

/// An event whose stored `version` was set past what this cortex reads, its hash left, is a
/// changed row, not a newer cortex's event: `workflow status` says the log does not verify
/// there, as `log verify` does, never "written by a newer cortex … nothing is damaged"; nor
/// do `log show` on its line and the run's page.
fn a_changed_event_version_is_said_not_to_verify_not_to_be_newer(env: Env) {
    env.workflow("nv", "name: nv\nsteps: [{name: a, prompt: do a}]\n");
    assert_eq!(env.run(&["workflow", "run", "nv"]).code, 3);
    let run = env.status(None)["run_id"].as_str().unwrap().to_string();
    sql(
        &env,
        &format!("UPDATE events SET version = 99 WHERE run_id = '{run}' AND seq = 1"),
    );
    let (code, report) = verify(&env, &[&run]);
    assert_eq!(code, 1, "{report}");
    assert_eq!(report["first_bad"]["seq"], 1, "{report}");
    for args in [
        &["workflow", "status", &run][..],
        &["--json", "workflow", "status", &run],
    ] {
        let out = env.run(args);
        let said = format!("{}{}", out.stdout, out.stderr);
        assert!(
            said.contains("does not verify")
                && !said.contains("newer cortex (")
                && !said.contains("nothing is damaged")
                && !said.contains("written by a newer cortex"),
            "{args:?}: {said}"
        );
    }
    // `log show` says the event changed, not that a newer cortex wrote it.
    let shown = env.run(&["log", "show", &run]);
    assert_eq!(shown.code, 0, "{}", shown.stderr);
    assert!(
        shown.stdout.contains("it was changed")
            && !shown.stdout.contains("newer cortex")
            && shown.stdout.contains("does not verify at seq 1"),
        "{}",
        shown.stdout
    );
    // Nor does the run's page.
    let s = server::Server::start(&env);
    let page = s.get(&format!("/runs/{run}")).body;
    assert!(
        !page.contains("newer cortex") && !page.contains("nothing is damaged"),
        "{page}"
    );
}

/// Seen by a review: `cortex worker` took over a submitted run whose `run_started` had been
/// changed (its definition snapshot made to run another command), ran the changed command and
/// appended to the broken chain, where `resume` refuses the run. A worker makes the check a
/// driver's replay makes before it takes, helps with or reaps anything of a run: such a run
/// is left alone, said once in its output, nothing is run and nothing appended.
fn a_worker_never_drives_a_run_whose_log_does_not_verify(env: Env) {
    env.scenario(
        "t",
        "name: t\ndescription: t\nphases:\n  - {name: p, description: p, run: touch SAFE}\n",
    );
    env.workflow("w", "name: w\nsteps:\n  - {name: s, run: touch SAFE}\n");
    let submit = |kind: &str, name: &str| {
        let out = env.run(&[kind, "run", name, "--submit"]);
        assert_eq!(out.code, 0, "{}", out.stderr);
        out.stdout.trim().to_string()
    };
    let runs = [submit("orchestrate", "t"), submit("workflow", "w")];
    let before: Vec<usize> = runs.iter().map(|r| env.events(r).len()).collect();
    sql(
        &env,
        "UPDATE events SET body = replace(body, 'touch SAFE', 'touch PWNED') WHERE seq = 0",
    );
    let out = env.run(&["worker", "--poll", "100ms", "--until-idle"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    for (run, n) in runs.iter().zip(before) {
        let said = format!("Run {run}: left alone: run {run} does not verify");
        assert_eq!(out.stdout.matches(&said).count(), 1, "{}", out.stdout);
        assert_eq!(env.events(run).len(), n, "nothing is appended to {run}");
    }
    assert!(out.stdout.contains("drove 0 runs"), "{}", out.stdout);
    assert!(
        !env.file("PWNED").exists(),
        "the changed definition was run"
    );
    assert!(!env.file("SAFE").exists());
}

/// The summary of a failed verification counts the runs that verified apart from the other
/// chains (a schedule's): before, with two runs, one changed, and a schedule's chain, it said
/// "the other 2 runs verified", the schedule's chain counted as a run.
fn the_verified_count_beside_a_failure_counts_runs_apart_from_other_chains(env: Env) {
    let (env, runs) = two_runs(env);
    env.workflow(
        "nightly",
        "name: nightly\nschedule: \"0 3 * * *\"\nsteps:\n  - {name: s, run: 'true'}\n",
    );
    let pass = env.run(&["schedule", "run", "--once", "--at", "2026-12-03T10:00:00Z"]);
    assert_eq!(pass.code, 0, "{}{}", pass.stdout, pass.stderr);
    sql(
        &env,
        &format!(
            "UPDATE events SET body = replace(body, 'echo a', 'echo A') WHERE run_id = '{}' AND seq = 0;",
            runs[0]
        ),
    );
    let (code, report) = verify(&env, &[]);
    assert_eq!(code, 1, "{report}");
    assert_eq!(report["runs"], 2, "{report}");
    assert_eq!(report["chains"], 1, "{report}");
    let human = env.run(&["log", "verify"]);
    assert!(
        human
            .stdout
            .contains("the other run and 1 other chain verified"),
        "{}",
        human.stdout
    );
}

/// A parent's hash-chained `child_started` and step end name its `uses:` child run: deleting
/// the child whole (its events and its index row) leaves no gap in any chain, and before this
/// passed `log verify --all`. Now the parent fails naming the child, so does `log verify` of
/// the parent alone, and `cortex logs PARENT STEP` says the log lacks the child rather than
/// suggesting `cortex logs CHILD`, which fails "no run".
fn a_child_run_deleted_whole_fails_verification_of_its_parent(env: Env) {
    env.workflow(
        "kid",
        "name: kid\nsteps:\n  - {name: k, run: echo kid ran}\n",
    );
    env.workflow("dad", "name: dad\nsteps:\n  - {name: call, uses: kid}\n");
    assert_eq!(env.run(&["workflow", "run", "dad"]).code, 0);
    let history = env.run(&["--json", "workflow", "history"]).json()["runs"].clone();
    let id_of = |name: &str| {
        history
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == name)
            .unwrap()["run_id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (dad, kid) = (id_of("dad"), id_of("kid"));
    assert_eq!(verify(&env, &["--all"]).0, 0);
    sql(
        &env,
        &format!(
            "DELETE FROM events WHERE run_id = '{kid}'; DELETE FROM runs WHERE run_id = '{kid}';"
        ),
    );
    let (code, report) = verify(&env, &["--all"]);
    assert_eq!(code, 1, "{report}");
    let named = failures(&report);
    assert!(
        named
            .iter()
            .any(|(r, why)| *r == dad && why.contains(&kid) && why.contains("does not hold")),
        "{report}"
    );
    let (code, report) = verify(&env, &[&dad]);
    assert_eq!(code, 1, "{report}");
    let logs = env.run(&["logs", &dad, "call"]);
    assert!(
        logs.stdout.contains("which the log does not hold")
            && logs.stdout.contains("cortex log verify")
            && !logs.stdout.contains(&format!("cortex logs {kid}")),
        "{}",
        logs.stdout
    );
    let logs = env.run(&["--json", "logs", &dad, "call"]).json();
    assert_eq!(logs["attempts"][0]["status"], "child_run_missing", "{logs}");
}

/// A run whose definition notifies records its deliveries in its own chain `notify:RUN`:
/// deleting that chain whole before passed `log verify` in silence (and `status` then listed
/// no deliveries). Now verify says so beside its verdict, its `notify:` having been due at
/// its end — without failing, since a driver killed before its first delivery's record leaves
/// the same log; and a notification chain whose run was deleted fails naming the run it
/// records.
fn a_deleted_notification_chain_and_a_deleted_notified_run_fail_verification(env: Env) {
    env.workflow(
        "noti",
        "name: noti\nnotify:\n  on_finish:\n    - run: 'true'\nsteps:\n  - {name: s, run: echo hi}\n",
    );
    assert_eq!(env.run(&["workflow", "run", "noti"]).code, 0);
    assert_eq!(env.run(&["workflow", "run", "noti"]).code, 0);
    let history = env.run(&["--json", "workflow", "history"]).json()["runs"].clone();
    let runs: Vec<String> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["run_id"].as_str().unwrap().to_string())
        .collect();
    let (code, clean) = verify(&env, &["--all"]);
    assert_eq!(code, 0, "{clean}");
    assert_eq!(clean["chains"], 2, "{clean}");
    sql(
        &env,
        &format!("DELETE FROM events WHERE run_id = 'notify:{}'", runs[0]),
    );
    for args in [&["--all"][..], &[runs[0].as_str()][..]] {
        let (code, report) = verify(&env, args);
        assert_eq!(code, 0, "{report}");
        let said = report["notifications_unrecorded"].as_array().cloned();
        assert!(
            said.iter()
                .flatten()
                .any(|u| u["run_id"] == runs[0].as_str()
                    && u["reason"]
                        .as_str()
                        .is_some_and(|why| why.contains(&format!("notify:{}", runs[0]))
                            && why.contains("no notification chain"))),
            "{report}"
        );
    }
    let human = env.run(&["log", "verify", "--all"]);
    assert!(
        human.stdout.contains("⚠ run") && human.stdout.contains("no notification chain"),
        "{}",
        human.stdout
    );
    // The other way: the run deleted, its notification chain left.
    sql(
        &env,
        &format!(
            "DELETE FROM events WHERE run_id = '{0}'; DELETE FROM runs WHERE run_id = '{0}';",
            runs[1]
        ),
    );
    let (code, report) = verify(&env, &["--all"]);
    assert_eq!(code, 1, "{report}");
    assert!(
        failures(&report)
            .iter()
            .any(|(r, why)| *r == format!("notify:{}", runs[1]) && why.contains(&runs[1])),
        "{report}"
    );
}

common::on_both_stores!(
    a_child_run_deleted_whole_fails_verification_of_its_parent,
    a_deleted_notification_chain_and_a_deleted_notified_run_fail_verification,
    a_changed_event_version_is_said_not_to_verify_not_to_be_newer,
    the_verified_count_beside_a_failure_counts_runs_apart_from_other_chains,
    a_run_whose_events_were_all_deleted_fails_verification_by_its_index_row,
    a_deleted_run_named_with_its_anchors_fails_as_deleted,
    log_show_warns_of_whatever_log_verify_of_the_run_finds,
    one_changed_run_never_hides_another,
    a_change_to_any_column_of_any_event_is_found_and_named,
    a_status_of_a_run_whose_log_does_not_verify_says_so_and_suggests_only_log_verify,
    a_status_at_a_changed_event_says_the_log_does_not_verify,
    verify_and_copy_never_fail_while_other_processes_append,
    deleted_duplicated_and_reordered_events_are_found,
    a_truncated_tail_is_found_against_anchored_heads,
    an_exported_run_verifies_from_the_file_alone_and_a_change_to_it_is_found,
    a_run_whose_chain_is_broken_is_not_driven_on,
    a_run_whose_newest_events_were_deleted_is_not_driven_on,
    a_worker_never_drives_a_run_whose_log_does_not_verify,
);

/// Anchors exist to catch a log replaced or emptied: a log that is gone entirely fails against
/// its anchors (every anchored run missing), and an anchors file that cannot be read is an
/// error (exit 2), never a pass.
#[test]
fn a_log_that_is_gone_fails_against_its_anchors_and_a_missing_anchors_file_is_an_error() {
    let env = Env::new();
    env.workflow("ok", "name: ok\nsteps:\n  - name: a\n    run: 'true'\n");
    assert_eq!(env.run(&["workflow", "run", "ok"]).code, 0);
    let anchors = env.dir.path().join("anchors.txt");
    let anchors_arg = anchors.display().to_string();
    assert_eq!(env.run(&["log", "anchor", "--file", &anchors_arg]).code, 0);
    let missing = env.dir.path().join("no-such-anchors.txt");
    let out = env.run(&["log", "verify", "--anchors", &missing.display().to_string()]);
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    for entry in std::fs::read_dir(env.home()).unwrap() {
        let path = entry.unwrap().path();
        if path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("cortex.db"))
        {
            std::fs::remove_file(path).unwrap();
        }
    }
    let (code, report) = verify(&env, &["--anchors", &anchors_arg]);
    assert_eq!(code, 1, "{report}");
    assert_eq!(report["ok"], false, "{report}");
    assert!(
        report["first_bad"]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("missing")),
        "{report}"
    );
}

/// A hostile "export" that is one endless line is refused at 64 MiB (no event comes near it)
/// rather than read into memory whole.
#[test]
fn an_export_that_is_one_endless_line_is_refused_not_read_whole() {
    let env = Env::new();
    let path = env.dir.path().join("endless.jsonl");
    let mut text = String::from("{\"run_id\":\"");
    text.push_str(&"a".repeat(65 << 20));
    std::fs::write(&path, text).unwrap();
    let out = env.run(&[
        "--json",
        "log",
        "verify",
        "--file",
        &path.display().to_string(),
    ]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    let report = out.json();
    assert!(
        report["first_bad"]["reason"]
            .as_str()
            .unwrap()
            .contains("longer than 64 MiB"),
        "{report}"
    );
}
