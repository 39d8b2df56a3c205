//! Run ids read from a log are held to the grammar of run ids (a ULID as cortex writes it):
//! a run planted in the log under a path as its id (`../../victim`, `/abs/dir`) with a chain
//! that verifies link by link — as whoever may INSERT rows (the everyday PostgreSQL role) or
//! hands over a file to `log copy` can write one — is refused as corrupt wherever it is read:
//! `gc` never removes the folder it names, a worker never drives it, `status` never shows it
//! as the latest run, `log verify` fails it by name, `log copy` copies it nowhere and goes on
//! with the others.

mod common;

use std::path::{Path, PathBuf};

use common::{Env, ids, on_both_stores};

/// A workflow that writes into its run's folder (`$CORTEX_OUTPUT`) and finishes.
const WRITES: &str = "name: writes\nsteps:\n  - {name: a, run: 'echo a; echo k=v >> \"$CORTEX_OUTPUT\"'}\n  - {name: b, run: 'echo b'}\n";

/// A finished run of `WRITES`: its id.
fn finished_run(env: &Env) -> String {
    env.workflow("writes", WRITES);
    let out = env.run(&["--json", "workflow", "run", "writes"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    out.json()["run_id"].as_str().unwrap().to_string()
}

/// Plant in `env`'s log a copy of run `src` under `id`, as someone who may insert rows can:
/// its events with every mention of `src` in their bodies made `id`, its chain hashed anew —
/// it verifies link by link — and its run-index row. Its `attempt_log` events are left out
/// (the files they name are `src`'s): its attempts recorded no output.
fn plant(env: &Env, src: &str, id: &str) {
    plant_bytes(env, src, id.as_bytes())
}

/// `plant` under an id of any bytes, as SQLite keeps a text's bytes as given (PostgreSQL
/// takes only UTF-8).
fn plant_bytes(env: &Env, src: &str, id_bytes: &[u8]) {
    let lossy = String::from_utf8_lossy(id_bytes);
    let id: &str = &lossy;
    let store = env.open_store();
    let rows = store.raw_rows(Some(src)).unwrap();
    drop(store);
    let mut prev = cortex::store::GENESIS.to_vec();
    let mut planted = Vec::new();
    for row in rows.iter().filter(|r| r.type_name != b"attempt_log") {
        let body = String::from_utf8(row.body.clone())
            .unwrap()
            .replace(src, id);
        let seq = planted.len() as i64;
        let hash = cortex::store::event_hash(
            id_bytes,
            seq,
            &prev,
            &row.id,
            &row.time,
            &row.type_name,
            row.version,
            body.as_bytes(),
        );
        planted.push((seq, row.clone(), body, prev.clone(), hash.to_vec()));
        prev = hash.to_vec();
    }
    let head_seq = planted.len() as i64 - 1;
    match &env.pg {
        None => {
            let c = rusqlite::Connection::open(env.db()).unwrap();
            for (seq, row, body, prev, hash) in &planted {
                c.execute(
                    "INSERT INTO events (run_id, seq, id, time, type, version, body, prev_hash, hash) VALUES (CAST(?1 AS TEXT), ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                    rusqlite::params![
                        id_bytes,
                        seq,
                        String::from_utf8_lossy(&row.id),
                        String::from_utf8_lossy(&row.time),
                        String::from_utf8_lossy(&row.type_name),
                        row.version,
                        body,
                        prev,
                        hash
                    ],
                )
                .unwrap();
            }
            c.execute(
                "INSERT INTO runs (run_id, kind, name, name_key, started_at, head_seq, head_hash, outcome) SELECT CAST(?1 AS TEXT), kind, name, name_key, started_at, ?2, ?3, outcome FROM runs WHERE run_id = ?4",
                rusqlite::params![id_bytes, head_seq, prev, src],
            )
            .unwrap();
        }
        Some(pg) => {
            let mut c = postgres::Client::connect(&pg.url, postgres::NoTls).unwrap();
            for (seq, row, body, prev, hash) in &planted {
                c.execute(
                    "INSERT INTO events (run_id, seq, id, time, type, version, body, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                    &[
                        &id,
                        seq,
                        &String::from_utf8_lossy(&row.id).into_owned(),
                        &String::from_utf8_lossy(&row.time).into_owned(),
                        &String::from_utf8_lossy(&row.type_name).into_owned(),
                        &row.version,
                        body,
                        prev,
                        hash,
                    ],
                )
                .unwrap();
            }
            c.execute(
                "INSERT INTO runs (run_id, kind, name, name_key, started_at, head_seq, head_hash, outcome) SELECT $1, kind, name, name_key, started_at, $2, $3, outcome FROM runs WHERE run_id = $4",
                &[&id, &head_seq, &prev, &src],
            )
            .unwrap();
        }
    }
}

/// A folder outside the home holding a file, that a run id planted in the log names: its
/// path, and the id — relative to `runs/` (`../../NAME`, `zz/../../../NAME`: sorted after
/// every ULID, so the latest by id) or absolute.
fn victim(env: &Env, name: &str) -> PathBuf {
    let dir = env.dir.path().join(name);
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    std::fs::write(dir.join("sub/precious.txt"), "precious").unwrap();
    dir
}

fn intact(dir: &Path) -> bool {
    std::fs::read_to_string(dir.join("sub/precious.txt")).is_ok_and(|t| t == "precious")
}

fn gc_never_removes_what_a_planted_run_id_names(env: Env) {
    let src = finished_run(&env);
    let up = victim(&env, "up");
    let latest = victim(&env, "latest");
    let absolute = victim(&env, "absolute");
    let abs_id = absolute.display().to_string();
    // Files a lock and its notes would be, for an id naming them outside `locks/`.
    for file in ["up.lock", "up.pgids"] {
        std::fs::write(env.dir.path().join(file), "keep").unwrap();
    }
    for id in ["../../up", "zz/../../../latest", abs_id.as_str()] {
        plant(&env, &src, id);
    }
    let out = env.run(&["--json", "gc", "--older-than", "0s"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let doc = out.json();
    assert_eq!(doc["removed"], serde_json::json!([src]), "{doc}");
    for dir in [&up, &latest, &absolute] {
        assert!(intact(dir), "{} was removed", dir.display());
    }
    for file in ["up.lock", "up.pgids"] {
        assert!(env.dir.path().join(file).exists(), "{file} was removed");
    }
}

fn a_worker_never_drives_a_run_planted_under_a_path(env: Env) {
    env.workflow("writes", WRITES);
    let out = env.run(&["workflow", "run", "writes", "--submit"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let src = out.stdout.trim().to_string();
    let up = env.dir.path().join("driven");
    let id = "../../driven";
    plant(&env, &src, id);
    let absolute = env.dir.path().join("driven-abs");
    plant(&env, &src, &absolute.display().to_string());
    let planted = env.open_store().raw_rows(Some(id)).unwrap();
    let worker = env.run(&["worker", "--until-idle", "--lease", "3s"]);
    assert_eq!(worker.code, 0, "{}{}", worker.stdout, worker.stderr);
    // The real run was driven; the planted ones were not, and nothing was written for them.
    assert_eq!(env.status(Some(&src))["status"], "completed");
    for path in [&up, &absolute] {
        assert!(!path.exists(), "{} was written", path.display());
        for ext in ["lock", "pgids"] {
            let file = PathBuf::from(format!("{}.{ext}", path.display()));
            assert!(!file.exists(), "{} was written", file.display());
        }
    }
    assert!(!worker.text().contains("driven"), "{}", worker.text());
    assert_eq!(env.open_store().raw_rows(Some(id)).unwrap(), planted);
}

fn status_and_history_never_show_a_run_whose_id_is_no_run_id(env: Env) {
    let src = finished_run(&env);
    victim(&env, "latest");
    plant(&env, &src, "zz/../../../latest");
    // The latest run is the real one, though the planted id sorts after it.
    let status = env.run(&["--json", "workflow", "status"]);
    assert_eq!(status.code, 0, "{}", status.stderr);
    assert_eq!(status.json()["run_id"], src.as_str());
    let human = env.run(&["workflow", "status"]);
    assert_eq!(human.code, 0, "{}", human.stderr);
    assert!(!human.text().contains("latest"), "{}", human.text());
    let history = env.run(&["--json", "workflow", "history"]).json();
    assert_eq!(ids(&history, "runs"), [src.as_str()]);
    assert_eq!(history["more"], false, "{history}");
}

fn log_verify_fails_a_run_whose_id_is_no_run_id_and_names_it_on_one_line(env: Env) {
    let src = finished_run(&env);
    let hostile = "../x\n❌ forged line\u{1b}[2J";
    plant(&env, &src, hostile);
    let out = env.run(&["--json", "log", "verify"]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    let doc = out.json();
    assert_eq!(doc["ok"], false);
    let failures = doc["failures"].as_array().unwrap();
    assert_eq!(failures.len(), 1, "{doc}");
    assert_eq!(failures[0]["run_id"], hostile);
    assert_eq!(failures[0]["seq"], 0);
    assert!(
        failures[0]["reason"]
            .as_str()
            .unwrap()
            .contains("is no run id"),
        "{doc}"
    );
    let human = env.run(&["log", "verify"]);
    assert_eq!(human.code, 1);
    assert!(!human.stdout.contains('\u{1b}'), "{:?}", human.stdout);
    assert!(
        !human.stdout.lines().any(|l| l.starts_with("❌ forged")),
        "{}",
        human.stdout
    );
    assert!(human.stdout.contains("is no run id"), "{}", human.stdout);
}

fn log_copy_copies_no_run_whose_id_is_no_run_id_and_goes_on_with_the_others(env: Env) {
    let first = finished_run(&env);
    victim(&env, "copied");
    // Sorted before and after the real runs: the copy goes on past it either way.
    plant(&env, &first, "../../copied");
    plant(&env, &first, "zz/../../../copied\nline");
    let second = finished_run(&env);
    let target = env.dir.path().join("copy.db");
    let out = env.run(&["--json", "log", "copy", "--to", target.to_str().unwrap()]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    let doc = out.json();
    let mut copied = ids(&doc, "copied");
    copied.sort();
    let mut want = vec![first.as_str(), second.as_str()];
    want.sort();
    assert_eq!(copied, want, "{doc}");
    assert_eq!(
        ids(&doc, "refused"),
        ["../../copied", "zz/../../../copied\nline"],
        "{doc}"
    );
    let copy = cortex::store::SqliteStore::open_read(&target).unwrap();
    use cortex::store::EventStore;
    assert!(copy.raw_rows(Some("../../copied")).unwrap().is_empty());
    assert!(copy.verify(None).unwrap().ok);
    // Said one line each.
    let human = env.run(&["log", "copy", "--to", target.to_str().unwrap()]);
    assert_eq!(human.code, 1);
    let not_copied: Vec<&str> = human
        .stdout
        .lines()
        .filter(|l| l.contains("not copied: run"))
        .collect();
    assert_eq!(not_copied.len(), 2, "{}", human.stdout);
    assert!(
        !human.stdout.lines().any(|l| l.starts_with("line")),
        "{}",
        human.stdout
    );
}

/// One run whose output cannot be read stops nothing: before, the copy ended there with that
/// run's events imported and the runs after it never copied.
fn log_copy_goes_on_past_an_output_it_cannot_copy(env: Env) {
    let src = finished_run(&env);
    // A run (a ULID, sorted first) whose attempts recorded no file, and where this home's
    // file of its first attempt would be, a folder: its output cannot be read.
    let odd = "00000000000000000000000001";
    plant(&env, &src, odd);
    let file = cortex::execute::attempt_log_name(odd, "a", 1);
    std::fs::create_dir_all(env.home().join(&file)).unwrap();
    let after = finished_run(&env);
    let target = env.dir.path().join("copy.db");
    let out = env.run(&["--json", "log", "copy", "--to", target.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let doc = out.json();
    let copied = ids(&doc, "copied");
    for run in [odd, src.as_str(), after.as_str()] {
        assert!(copied.iter().any(|c| c == run), "{run} not copied: {doc}");
    }
    let left = doc["attempt_logs"]["left"].as_array().unwrap();
    assert_eq!(left.len(), 1, "{doc}");
    assert_eq!(left[0]["run_id"], odd, "{doc}");
    assert_eq!(left[0]["file"], file.as_str(), "{doc}");
    let copy = cortex::store::SqliteStore::open_read(&target).unwrap();
    use cortex::store::EventStore;
    assert!(copy.verify(None).unwrap().ok);
    let human = env.run(&["log", "copy", "--to", target.to_str().unwrap()]);
    assert!(
        human
            .stdout
            .contains(&format!("not copied: the output {file} of run {odd}")),
        "{}",
        human.stdout
    );
}

/// A notification chain whose run the log does not hold (`notify:RUN`, RUN removed or never
/// there) fails `log verify` here, and would there: `log copy` refuses it, by name, and exits
/// 1. Before, it was copied, the copy exited 0, and the other log failed verification.
fn log_copy_refuses_a_notification_chain_whose_run_the_log_does_not_hold(env: Env) {
    let src = finished_run(&env);
    let orphan = "notify:01M961ZZZZZZZZZZZZZZZZZZZZ";
    plant(&env, &src, orphan);
    let verify = env.run(&["--json", "log", "verify"]);
    assert_eq!(verify.code, 1, "{}{}", verify.stdout, verify.stderr);
    let target = env.dir.path().join("copy.db");
    let out = env.run(&["--json", "log", "copy", "--to", target.to_str().unwrap()]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    let doc = out.json();
    assert_eq!(ids(&doc, "copied"), [src.as_str()], "{doc}");
    assert_eq!(ids(&doc, "refused"), [orphan], "{doc}");
    let reason = doc["refused"][0]["reason"].as_str().unwrap();
    assert!(
        reason.contains("01M961ZZZZZZZZZZZZZZZZZZZZ, which this log does not hold"),
        "{doc}"
    );
    let copy = cortex::store::SqliteStore::open_read(&target).unwrap();
    use cortex::store::EventStore;
    assert!(copy.raw_rows(Some(orphan)).unwrap().is_empty());
    assert!(copy.verify(None).unwrap().ok);
    let human = env.run(&["log", "copy", "--to", target.to_str().unwrap()]);
    assert_eq!(human.code, 1, "{}{}", human.stdout, human.stderr);
    assert!(
        human
            .stdout
            .contains(&format!("not copied: run {orphan} — it names")),
        "{}",
        human.stdout
    );
}

/// `log verify`'s first line counts the runs and the other chains that failed apart, as its
/// last line counts those checked: before, two notification chains were "2 runs".
fn log_verify_counts_failed_runs_and_other_chains_apart(env: Env) {
    let src = finished_run(&env);
    for id in [
        "notify:01M961ZZZZZZZZZZZZZZZZZZZ1",
        "notify:01M961ZZZZZZZZZZZZZZZZZZZ2",
    ] {
        plant(&env, &src, id);
    }
    let human = env.run(&["log", "verify"]);
    assert_eq!(human.code, 1, "{}{}", human.stdout, human.stderr);
    assert!(
        human
            .stdout
            .starts_with("❌ log verification FAILED: 2 other chains did not verify\n"),
        "{}",
        human.stdout
    );
    plant(&env, &src, "../../x");
    let human = env.run(&["log", "verify"]);
    assert!(
        human
            .stdout
            .starts_with("❌ log verification FAILED: 3 other chains did not verify\n"),
        "{}",
        human.stdout
    );
}

/// A chain planted under the schedules' prefix with an id no scheduler writes
/// (`schedule:job:x`, no kind cortex knows): a scheduler's pass goes on past it (it is not
/// read; `log verify` names it), where reading it as a schedule's stream stopped every pass.
fn a_scheduler_pass_goes_on_past_a_chain_planted_under_the_schedule_prefix(env: Env) {
    let src = finished_run(&env);
    plant(&env, &src, "schedule:job:x");
    let out = env.run(&[
        "--json",
        "schedule",
        "run",
        "--once",
        "--at",
        "2026-12-01T00:00:30Z",
    ]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let verify = env.run(&["--json", "log", "verify"]);
    assert_eq!(verify.code, 1, "{}{}", verify.stdout, verify.stderr);
}

/// Seen by a review: `log verify` names chains put in the log by hand (`Agents`, `agents `
/// with its space, `../../x`), yet `log show|export|verify ID` of that very id answered "no
/// run `Agents`", "no run `agents`" (the space dropped) or read it as a definition's name.
/// An id a chain is stored under finds that chain, as given; and it is shown quoted where it
/// holds what the eye misses (`'agents '`), so that it can be given back as shown.
fn a_chain_log_verify_names_is_shown_exported_and_verified_by_that_id(env: Env) {
    let src = finished_run(&env);
    let ids = ["Agents", "agents ", "../../k_evil_run"];
    for id in ids {
        plant(&env, &src, id);
    }
    let verify = env.run(&["log", "verify"]);
    assert_eq!(verify.code, 1, "{}{}", verify.stdout, verify.stderr);
    assert!(
        verify.stdout.contains("at run 'agents ' seq 0"),
        "{}",
        verify.stdout
    );
    for id in ids {
        let show = env.run(&["log", "show", id]);
        assert_eq!(show.code, 0, "{id}: {}{}", show.stdout, show.stderr);
        let header = shown_header(id);
        assert!(show.stdout.starts_with(&header), "{id}: {}", show.stdout);
        let export = env.run(&["log", "export", id]);
        assert_eq!(export.code, 0, "{id}: {}{}", export.stdout, export.stderr);
        for line in export.stdout.lines() {
            let row: serde_json::Value = serde_json::from_str(line).unwrap();
            assert_eq!(row["run_id"], id, "{line}");
        }
        let one = env.run(&["--json", "log", "verify", id]);
        assert_eq!(one.code, 1, "{id}: {}{}", one.stdout, one.stderr);
        let doc = one.json();
        assert_eq!(doc["failures"][0]["run_id"], id, "{doc}");
        assert!(
            doc["failures"][0]["reason"]
                .as_str()
                .unwrap()
                .contains("put in the log by hand"),
            "{doc}"
        );
    }
}

/// A chain planted under a workflow's name never stands in for that workflow's runs: `log
/// verify NAME`, `log show NAME` and `log export NAME` answer for its latest run, and the
/// planted chain is still named by a verify of the whole log.
fn a_chain_planted_under_a_workflows_name_never_stands_in_for_its_runs(env: Env) {
    let src = finished_run(&env);
    plant(&env, &src, "writes");
    let one = env.run(&["--json", "log", "verify", "writes"]);
    assert_eq!(one.code, 0, "{}{}", one.stdout, one.stderr);
    let show = env.run(&["log", "show", "writes"]);
    assert_eq!(show.code, 0, "{}{}", show.stdout, show.stderr);
    assert!(
        show.stdout.starts_with(&format!("Run {src}")),
        "{}",
        show.stdout
    );
    let all = env.run(&["log", "verify"]);
    assert_eq!(all.code, 1, "{}{}", all.stdout, all.stderr);
    assert!(all.stdout.contains("writes"), "{}", all.stdout);
}

/// A chain planted under an id that is no run id (a workflow's name, events copied and
/// re-hashed) was counted in `log verify`'s "N runs" and its `--json` `runs`: it is another
/// chain, counted apart from the runs there really are, in words and in the document.
fn log_verify_counts_a_planted_chain_apart_from_the_runs(env: Env) {
    let src = finished_run(&env);
    plant(&env, &src, "writes");
    let human = env.run(&["log", "verify"]);
    assert_eq!(human.code, 1, "{}{}", human.stdout, human.stderr);
    assert!(
        human
            .stdout
            .starts_with("❌ log verification FAILED at run writes seq 0:"),
        "{}",
        human.stdout
    );
    assert!(
        human.stdout.contains("checked 1 run and 1 other chain,"),
        "{}",
        human.stdout
    );
    let doc = env.run(&["--json", "log", "verify"]).json();
    assert_eq!(
        (&doc["runs"], &doc["chains"]),
        (&1.into(), &1.into()),
        "{doc}"
    );
    // Verified alone, by its id, it is no run either.
    let one = env.run(&["--json", "log", "verify", "writes"]).json();
    assert_eq!(one["runs"], 1, "the name finds the workflow's run: {one}");
}

/// The first line `log show` prints of the chain `id` (put in by hand): quoted where it
/// holds a space.
fn shown_header(id: &str) -> String {
    match id.contains(' ') {
        true => format!("Run '{id}': "),
        false => format!("Run {id}: "),
    }
}

on_both_stores!(
    a_chain_log_verify_names_is_shown_exported_and_verified_by_that_id,
    a_chain_planted_under_a_workflows_name_never_stands_in_for_its_runs,
    gc_never_removes_what_a_planted_run_id_names,
    a_worker_never_drives_a_run_planted_under_a_path,
    status_and_history_never_show_a_run_whose_id_is_no_run_id,
    log_verify_fails_a_run_whose_id_is_no_run_id_and_names_it_on_one_line,
    log_copy_copies_no_run_whose_id_is_no_run_id_and_goes_on_with_the_others,
    log_copy_goes_on_past_an_output_it_cannot_copy,
    a_scheduler_pass_goes_on_past_a_chain_planted_under_the_schedule_prefix,
    log_copy_refuses_a_notification_chain_whose_run_the_log_does_not_hold,
    log_verify_counts_failed_runs_and_other_chains_apart,
    log_verify_counts_a_planted_chain_apart_from_the_runs,
);

/// A chain whose stored id is not UTF-8 (SQLite keeps a text's bytes as given) is one more
/// chain put in by hand: `log copy` refuses it, named escaped, and copies the rest; `log
/// verify` names it escaped; `log show` reads on. Before, it stopped `log copy` whole (nothing
/// copied), and the hint named it with U+FFFD, an id no query finds.
#[test]
fn a_chain_whose_id_is_not_utf8_is_refused_by_name_and_the_rest_copied() {
    let env = Env::new();
    let src = finished_run(&env);
    plant_bytes(&env, &src, b"01M961WEWZJ8VS0002614BN33\xff");
    let escaped = "01M961WEWZJ8VS0002614BN33\\xff";
    let target = env.dir.path().join("copy.db");
    let out = env.run(&["--json", "log", "copy", "--to", target.to_str().unwrap()]);
    assert_eq!(out.code, 1, "{}{}", out.stdout, out.stderr);
    let doc = out.json();
    assert_eq!(ids(&doc, "copied"), [src.as_str()], "{doc}");
    assert_eq!(ids(&doc, "refused"), [escaped], "{doc}");
    let verify = env.run(&["log", "verify"]);
    assert_eq!(verify.code, 1, "{}{}", verify.stdout, verify.stderr);
    assert!(
        verify.stdout.contains(escaped),
        "{}{}",
        verify.stdout,
        verify.stderr
    );
    let show = env.run(&["log", "show"]);
    assert_eq!(show.code, 0, "{}{}", show.stdout, show.stderr);
    for out in [&out, &verify, &show] {
        assert!(!out.text().contains('\u{fffd}'), "{}", out.text());
    }
}

/// `log copy` into a log whose own checks would refuse such a run: the other log's import
/// (`import_rows`) refuses rows of an id that is no run id, whoever calls it.
#[test]
fn an_import_refuses_rows_of_an_id_that_is_no_run_id() {
    let env = Env::new();
    let src = finished_run(&env);
    plant(&env, &src, "../../imported");
    let rows = env.open_store().raw_rows(Some("../../imported")).unwrap();
    assert!(!rows.is_empty());
    let target = env.dir.path().join("other.db");
    let mut other =
        cortex::store::SqliteStore::open(&target, cortex::definition::Durability::Normal).unwrap();
    use cortex::store::EventStore;
    let err = other.import_rows(&rows).unwrap_err();
    assert!(err.to_string().contains("is no run id"), "{err}");
    assert!(other.raw_rows(None).unwrap().is_empty());
}

/// `log reindex` of a log holding a chain whose stored id is not UTF-8 (SQLite keeps a text's
/// bytes as given) writes it no row, and says so: it is listed under its id shown escaped
/// (`01M…33\xff`), and a row under that text named an id no event has. The other runs are
/// indexed, and `log verify` names the chain alone (not the index).
#[test]
fn log_reindex_writes_no_row_under_the_escaped_id_of_a_chain_not_utf8() {
    let env = Env::new();
    let src = finished_run(&env);
    plant_bytes(&env, &src, b"01M961WEWZJ8VS0002614BN33\xff");
    let escaped = "01M961WEWZJ8VS0002614BN33\\xff";
    let out = env.run(&["--json", "log", "reindex"]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    let doc = out.json();
    assert_eq!(doc["runs"], 1, "{doc}");
    assert_eq!(doc["refused"][0][0], escaped, "{doc}");
    assert_eq!(doc["removed"], serde_json::json!([]), "{doc}");
    let c = rusqlite::Connection::open(env.db()).unwrap();
    let rows: Vec<Vec<u8>> = c
        .prepare("SELECT CAST(run_id AS BLOB) FROM runs")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(rows, vec![src.as_bytes().to_vec()]);
    drop(c);
    let human = env.run(&["log", "reindex"]);
    assert_eq!(human.code, 0, "{}{}", human.stdout, human.stderr);
    assert!(
        human.stdout.contains(&format!(
            "! {escaped}: not indexed: its stored id is not UTF-8"
        )),
        "{}",
        human.stdout
    );
    let verify = env.run(&["--json", "log", "verify"]).json();
    let failures = verify["failures"].as_array().unwrap();
    assert_eq!(failures.len(), 1, "{verify}");
    assert_eq!(failures[0]["run_id"], escaped, "{verify}");
}
