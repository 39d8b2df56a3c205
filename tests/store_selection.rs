//! Choosing the store (SPEC §9) through the real binary — `--db`, else CORTEX_DB, else `db` in
//! cortex.config.json, else the home's cortex.db; URLs and libpq strings select PostgreSQL —
//! and `log copy --to`, which moves a history between logs of either kind with the same
//! hashes.

mod common;

use common::{Env, Store, pg_schema, test_pg};

const TINY: &str =
    "name: tiny\nsteps:\n  - {name: a, run: 'echo a'}\n  - {name: b, run: 'echo b'}\n";

/// How many runs the log at `db` holds (0 where there is none).
fn runs_in(env: &Env, db: &str) -> usize {
    let out = env
        .command(&["--json", "--db", db, "workflow", "history"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| v["runs"].as_array().map(Vec::len))
        .unwrap_or(0)
}

/// `args` (with `vars` in its environment) refused for the log it names: exit 2, what it
/// prints (stdout and stderr) holding each of `says` and none of `never` (a password, a
/// suggestion that does not fit). Each failure names the command and what it missed.
fn refused(env: &Env, args: &[&str], vars: &[(&str, &str)], says: &[&str], never: &[&str]) {
    let out = env.run_with(args, vars);
    let all = out.text();
    assert_eq!(out.code, 2, "{args:?} {vars:?}: {all}");
    // Said on stderr, where a refusal belongs; what must not show, on neither stream.
    for said in says {
        assert!(
            out.stderr.contains(said),
            "{args:?} {vars:?} does not say {said:?} on stderr: {all}"
        );
    }
    for piece in never {
        assert!(
            !all.contains(piece),
            "{args:?} {vars:?} shows {piece:?}: {all}"
        );
    }
}

/// `--db` beats CORTEX_DB, which beats `db` in cortex.config.json (relative to the home),
/// which beats the home's cortex.db; `sqlite:PATH` and a plain path are SQLite files.
#[test]
fn the_log_is_chosen_by_flag_then_environment_then_config_then_home() {
    let env = Env::new();
    env.workflow("tiny", TINY);
    let flag = env.dir.path().join("flag.db");
    let from_env = env.dir.path().join("env.db");
    env.config(r#"{"db": "sqlite:logs/config.db"}"#);
    let configured = env.home().join("logs/config.db");
    let run = |args: &[&str], cortex_db: Option<&str>| {
        let mut cmd = env.command(args);
        if let Some(db) = cortex_db {
            cmd.env("CORTEX_DB", db);
        }
        let out = cmd.output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let flag_db = flag.display().to_string();
    let env_db = format!("sqlite:{}", from_env.display());
    run(
        &["--db", &flag_db, "workflow", "run", "tiny"],
        Some(&env_db),
    );
    run(&["workflow", "run", "tiny"], Some(&env_db));
    run(&["workflow", "run", "tiny"], Some(&env_db));
    run(&["workflow", "run", "tiny"], None);
    run(&["workflow", "run", "tiny"], None);
    run(&["workflow", "run", "tiny"], None);
    assert_eq!(runs_in(&env, &flag_db), 1);
    assert_eq!(runs_in(&env, &env_db), 2);
    assert_eq!(runs_in(&env, &configured.display().to_string()), 3);
    assert!(
        !env.db().exists(),
        "the home's cortex.db was not the choice"
    );
    // Without any of them, the home's cortex.db.
    std::fs::remove_file(env.home().join("cortex.config.json")).unwrap();
    run(&["workflow", "run", "tiny"], None);
    assert!(env.db().exists());
    assert_eq!(runs_in(&env, &env.db().display().to_string()), 1);
}

/// A value that looks like PostgreSQL but does not parse is bad input (exit 2) that says how
/// to write it; a database that cannot be reached fails clearly, naming it without its
/// password, and says what to check — exit 2, as a database the server does not know is (a
/// port nobody listens on is a value leading to no log, as a wrong name is; SPEC §5 keeps 1
/// for a failed run): before, one was 1 and the other 2.
#[test]
fn a_bad_or_unreachable_database_gets_a_clear_error() {
    let env = Env::new();
    env.workflow("tiny", TINY);
    refused(
        &env,
        &[
            "--db",
            "postgres://u@h:notaport/db",
            "workflow",
            "run",
            "tiny",
        ],
        &[],
        &["not a PostgreSQL connection string", "sqlite:PATH"],
        &[],
    );
    // A port nobody listens on (bound, then released).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("postgres://someone:hunter2@127.0.0.1:{port}/db");
    let shown = format!("postgres://someone@127.0.0.1:{port}/db");
    // Named without its password, with what to check; its hint's commands name that
    // database (so that pasting one acts on it), without the password.
    let resume = format!("`cortex --db {shown} workflow resume RUN`");
    refused(
        &env,
        &["--db", &url, "workflow", "run", "tiny"],
        &[],
        &[
            "cannot be reached",
            &shown,
            "PostgreSQL is running",
            &resume,
        ],
        &["hunter2"],
    );
    // Reading commands say the same, without suggesting to resume a run (nothing was being
    // driven).
    refused(&env, &["--db", &url, "workflow", "status"], &[], &[], &[]);
    refused(
        &env,
        &["--db", &url, "workflow", "history"],
        &[],
        &["cannot be reached"],
        &["resume"],
    );
}

/// A password holding an unencoded `@` (`p@ssw0rd!`: the connection then fails, which is
/// when the URL is shown) is in no message, human or `--json`, nor in `log copy`'s: the
/// client library ends the user information at the first `@`, and the rest of the password,
/// taken for the host, was printed (`postgres://app@ssw0rd!@db…`). The host the writer meant
/// is named.
#[test]
fn a_password_holding_an_unencoded_at_is_shown_nowhere() {
    let env = Env::new();
    env.workflow("tiny", TINY);
    let url = "postgres://app:p@ssw0rd!@db.invalid:5432/prod";
    let pieces = ["p@ss", "@ssw0rd", "ssw0rd!", "w0rd"];
    for args in [
        vec!["--db", url, "workflow", "history"],
        vec!["--json", "--db", url, "workflow", "history"],
        vec!["--db", url, "workflow", "run", "tiny"],
        vec!["log", "copy", "--to", url],
        vec!["--json", "log", "copy", "--to", url],
    ] {
        refused(
            &env,
            &args,
            &[],
            &["postgres://app@db.invalid:5432/prod"],
            &pieces,
        );
    }
}

/// Seen by a review: an unencoded `@` in a password (`Cp@yPASS`) of a server that is up was
/// said as "cannot be reached: … failed to lookup address information" of a host that is
/// fine (the client library had looked up the rest of the password). It is said as what it
/// is — the user information holds an unencoded `@` — with the `%40` advice, exit 2, before
/// any connection is tried; the password is never shown.
#[test]
fn an_unencoded_at_in_a_password_is_said_as_such_not_as_a_host_not_found() {
    let env = Env::new();
    let url = "postgres://postgres:Cp@yPASSQ@127.0.0.1:1/db";
    for args in [
        vec!["--db", url, "workflow", "history"],
        vec!["--json", "--db", url, "workflow", "history"],
        vec!["log", "copy", "--to", url],
    ] {
        refused(
            &env,
            &args,
            &[],
            &[
                "postgres://postgres@127.0.0.1:1/db holds an unencoded `@`",
                "%40",
            ],
            &["lookup", "cannot be reached", "Cp@y", "yPASS", "PASSQ"],
        );
    }
}

/// A port that accepts connections and never says a word (a hung server, a proxy with
/// nothing behind it), for as long as the test lives.
fn silent_server() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in listener.incoming().flatten() {
            held.push(conn);
        }
    });
    port
}

/// A server that accepts the connection and then says nothing ends a command within the
/// URL's `connect_timeout` (the client library bounded only the TCP connect: such a server
/// held every command forever), as "cannot be reached", naming the wait.
#[test]
fn a_server_that_accepts_and_never_answers_fails_within_the_connect_timeout() {
    let env = Env::new();
    let port = silent_server();
    let url = format!("postgres://u@127.0.0.1:{port}/x?connect_timeout=1");
    for args in [
        &["workflow", "history"][..],
        &["log", "verify", "--all"][..],
    ] {
        let started = std::time::Instant::now();
        let mut cmd_args = vec!["--db", url.as_str()];
        cmd_args.extend_from_slice(args);
        let out = env.run(&cmd_args);
        assert!(
            started.elapsed() < std::time::Duration::from_secs(8),
            "{args:?} took {:?}",
            started.elapsed()
        );
        assert_eq!(out.code, 2, "{args:?}: {}", out.stderr);
        for said in ["cannot be reached", "did not answer within 1 s"] {
            assert!(out.stderr.contains(said), "{args:?}: {}", out.stderr);
        }
    }
}

/// A worker drains on its first SIGTERM; one stuck where draining cannot go on (a database
/// that stopped answering) with nothing in hand ends at once on a second SIGTERM or SIGINT
/// (before, it ignored both for as long as the database was silent). One that holds work
/// ends it on the second and exits on the third (`workers.rs`).
#[test]
fn a_second_stop_signal_ends_a_worker_stuck_on_a_silent_database() {
    let env = Env::new();
    let port = silent_server();
    let url = format!("postgres://u@127.0.0.1:{port}/x?connect_timeout=30");
    let mut worker = env.spawn(&["--db", &url, "worker", "--name", "stuck"]);
    let pid = nix::unistd::Pid::from_raw(worker.id() as i32);
    std::thread::sleep(std::time::Duration::from_millis(1500));
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(
        worker.try_wait().unwrap().is_none(),
        "the first signal drains"
    );
    let sent = std::time::Instant::now();
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).unwrap();
    loop {
        if let Some(status) = worker.try_wait().unwrap() {
            assert_eq!(status.code(), Some(128 + 2));
            break;
        }
        if sent.elapsed() > std::time::Duration::from_secs(5) {
            let _ = worker.kill();
            panic!("the worker was still alive 5 s after a second stop signal");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// `postgres://` alone names no server: bad input (exit 2) saying the URL's form, never "cannot
/// be reached: invalid configuration" with a hint to resume a run there.
#[test]
fn an_empty_postgres_url_is_bad_input_naming_the_form() {
    let env = Env::new();
    env.workflow("tiny", TINY);
    for args in [
        &["--db", "postgres://", "workflow", "history"][..],
        &["--db", "postgres://", "workflow", "run", "tiny"][..],
    ] {
        refused(
            &env,
            args,
            &[],
            &["names no host", "postgres://user@host:port/dbname"],
            &["resume", "cannot be reached"],
        );
    }
}

/// A search_path naming a schema that does not exist (a typo in `options=-csearch_path=…`) is
/// a bad configuration (exit 2) named as such, on reads and writes alike: before, reads said
/// "No runs yet" (exit 0) and a run failed with "no schema has been selected to create in".
/// Every message names the schema the URL selects (and never its password).
#[test]
fn a_search_path_naming_no_schema_is_a_clear_error_on_reads_and_writes() {
    let Some(admin) =
        common::test_pg("a_search_path_naming_no_schema_is_a_clear_error_on_reads_and_writes")
    else {
        return;
    };
    let env = Env::new();
    env.workflow("tiny", TINY);
    let missing = format!(
        "t_missing_{}",
        ulid::Ulid::generate().to_string().to_lowercase()
    );
    let sep = if admin.contains('?') { '&' } else { '?' };
    let url = format!("{admin}{sep}options=-csearch_path%3D{missing}");
    for args in [
        &["workflow", "history"][..],
        &["log", "verify", "--all"][..],
        &["workflow", "run", "tiny"][..],
    ] {
        refused(
            &env,
            args,
            &[("CORTEX_DB", &url)],
            &[
                &format!("the schema {missing}, which does not exist"),
                "CREATE SCHEMA",
                &format!("options=-csearch_path%3D{missing}"),
            ],
            &["No runs yet"],
        );
    }
}

/// A URL of a scheme cortex has no store for (`mysql://`, a typo such as `postgress://`) is
/// refused with exit 2 wherever it comes from (`--db`, CORTEX_DB, `db` in the config, `log
/// copy --to`), never taken for a SQLite file of that name: a read said "no runs yet" and a
/// write made a folder `mysql:` beside the user.
#[test]
fn a_log_url_of_an_unknown_scheme_is_refused_not_taken_for_a_file() {
    let env = Env::new();
    env.workflow("tiny", TINY);
    for (args, cortex_db) in [
        (vec!["--db", "mysql://u@h/db", "workflow", "history"], None),
        (
            vec!["--db", "mysql://u@h/db", "workflow", "run", "tiny"],
            None,
        ),
        (vec!["workflow", "history"], Some("postgress://h/db")),
        (vec!["log", "copy", "--to", "sqlite3://x.db"], None),
    ] {
        let vars: Vec<(&str, &str)> = cortex_db.map(|db| ("CORTEX_DB", db)).into_iter().collect();
        refused(
            &env,
            &args,
            &vars,
            &["is not a log cortex can use", "postgres://"],
            &[],
        );
    }
    env.config(r#"{"db": "mysql://u@h/db"}"#);
    refused(&env, &["workflow", "history"], &[], &["`db` in"], &[]);
    let mut made: Vec<String> = std::fs::read_dir(env.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(':'))
        .collect();
    made.extend(
        std::fs::read_dir(env.home())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains(':')),
    );
    assert!(made.is_empty(), "nothing made for a refused log: {made:?}");
}

/// A libpq `key=value` string selects PostgreSQL as a URL does, and commands suggested for a
/// run name the `--db` they were given, so that pasting them acts on the same log.
#[test]
fn a_libpq_string_selects_postgres_and_suggestions_name_the_db() {
    let Some(admin) = test_pg("a_libpq_string_selects_postgres_and_suggestions_name_the_db") else {
        return;
    };
    let schema = pg_schema(&admin);
    let config: postgres::Config = admin.parse().unwrap();
    let host = match &config.get_hosts()[0] {
        postgres::config::Host::Tcp(h) => h.clone(),
        postgres::config::Host::Unix(p) => p.display().to_string(),
    };
    let libpq = format!(
        "host={host} port={} user={} dbname={} options=-csearch_path={}",
        config.get_ports()[0],
        config.get_user().unwrap_or("postgres"),
        config.get_dbname().unwrap_or("postgres"),
        schema.name
    );
    let env = Env::new();
    env.workflow(
        "gate",
        "name: gate\nsteps:\n  - {name: ask, prompt: 'say yes'}\n",
    );
    let out = env.run(&["--json", "--db", &libpq, "workflow", "run", "gate"]);
    assert_eq!(out.code, 3, "waits on its prompt step: {}", out.stderr);
    let doc = out.json();
    let next = doc["next"][0]["argv"].as_array().unwrap();
    assert_eq!(next[1], "--db");
    assert_eq!(next[2], libpq.as_str());
    assert!(!env.db().exists(), "nothing went to the home's SQLite");
    let mut c = postgres::Client::connect(&schema.url, postgres::NoTls).unwrap();
    let runs: i64 = c
        .query_one("SELECT count(*) FROM runs", &[])
        .unwrap()
        .get(0);
    assert_eq!(runs, 1);
}

/// The events of every run, as `log export` prints them (hashes included), for each run.
fn exported(env: &Env, db: &str) -> Vec<String> {
    let history = env
        .command(&["--json", "--db", db, "workflow", "history"])
        .output()
        .unwrap();
    let runs: Vec<String> =
        serde_json::from_slice::<serde_json::Value>(&history.stdout).unwrap()["runs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["run_id"].as_str().unwrap().to_string())
            .collect();
    runs.iter()
        .map(|r| {
            let out = env
                .command(&["--db", db, "log", "export", r])
                .output()
                .unwrap();
            String::from_utf8_lossy(&out.stdout).into_owned()
        })
        .collect()
}

/// `log copy --to` moves a history into another log of the other kind: every event with the
/// same bytes and hashes (the export is identical), the copy verifies; copying again changes
/// nothing; a run that went on since is extended; a run there with another history is
/// refused and named, and the rest still copied.
fn copy_moves_a_history_with_the_same_hashes_and_is_idempotent(env: Env) {
    let Some(other) = Env::on(
        match env.store_kind() {
            Store::Sqlite => Store::Postgres,
            Store::Postgres => Store::Sqlite,
        },
        "copy_moves_a_history_with_the_same_hashes_and_is_idempotent",
    ) else {
        return;
    };
    env.workflow("tiny", TINY);
    env.workflow(
        "gate",
        "name: gate\nsteps:\n  - {name: a, run: 'true'}\n  - {name: ask, prompt: 'say yes'}\n",
    );
    assert_eq!(env.run(&["workflow", "run", "tiny"]).code, 0);
    assert_eq!(env.run(&["workflow", "run", "gate"]).code, 3);
    assert_eq!(env.run(&["agent", "activate", "code-reviewer"]).code, 0);
    let to = other.db_spec();
    let copy = env.run(&["--json", "log", "copy", "--to", &to]).json();
    assert_eq!(copy["copied"].as_array().unwrap().len(), 2, "{copy}");
    assert_eq!(copy["registry"]["how"], "copied", "{copy}");
    let here = env.db_spec();
    assert_eq!(exported(&env, &to), exported(&env, &here));
    let verified = env
        .run(&["--json", "--db", &to, "log", "verify", "--all"])
        .json();
    // Two runs, and the agent registry's chain beside them.
    assert_eq!(
        (
            verified["ok"].clone(),
            verified["runs"].clone(),
            verified["chains"].clone()
        ),
        (true.into(), 2.into(), 1.into())
    );

    let again = env.run(&["--json", "log", "copy", "--to", &to]).json();
    assert_eq!(again["already"].as_array().unwrap().len(), 2, "{again}");
    assert_eq!(again["registry"]["how"], "already", "{again}");
    assert_eq!(again["events"], 0);

    // The waiting run goes on here; the copy there is extended.
    assert_eq!(env.run(&["workflow", "step", "complete", "ask"]).code, 0);
    let extended = env.run(&["--json", "log", "copy", "--to", &to]).json();
    assert_eq!(
        extended["extended"].as_array().unwrap().len(),
        1,
        "{extended}"
    );
    assert_eq!(exported(&env, &to), exported(&env, &here));

    // A run only there is left alone; the agent registry, which went on differently on both
    // sides, is merged (never refused as a run): see
    // `copy_appends_this_logs_agent_activations_to_a_log_that_has_its_own`.
    other.workflow("tiny", TINY);
    assert_eq!(
        other.run(&["workflow", "run", "tiny"]).code,
        0,
        "a run only there"
    );
    let tiny_there =
        other.run(&["--json", "workflow", "history"]).json()["runs"].clone()[0]["run_id"]
            .as_str()
            .unwrap()
            .to_string();
    let diverged = other.run(&["--json", "agent", "deactivate", "code-reviewer"]);
    assert_eq!(diverged.code, 0, "{}", diverged.stderr);
    assert_eq!(env.run(&["agent", "activate", "python-pro"]).code, 0);
    let merged = env.run(&["--json", "log", "copy", "--to", &to]);
    assert_eq!(merged.code, 0, "{}", merged.stdout);
    let doc = merged.json();
    assert_eq!(doc["refused"], serde_json::json!([]), "{doc}");
    assert_eq!(doc["registry"]["how"], "appended", "{doc}");
    let verified = other.run(&["--json", "log", "verify", "--all"]).json();
    assert_eq!(verified["ok"], true, "{verified}");
    assert!(
        other.run(&["--json", "workflow", "history"]).json()["runs"]
            .clone()
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["run_id"] == tiny_there.as_str())
    );
}

/// The names of the agents active in `env`'s log.
fn active_agents(env: &Env) -> Vec<String> {
    let list = env.run(&["--json", "agent", "list"]).json();
    let mut names: Vec<String> = list["agents"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["active"] == true)
        .map(|a| a["name"].as_str().unwrap().to_string())
        .collect();
    names.sort();
    names
}

/// Two logs that both used `agent activate` (a laptop, a team's database): copying one into
/// the other appends the laptop's activations after the team's own — the team's history is
/// never rewritten, the laptop's activations are not lost — and copying again appends nothing.
/// The registry is never reported as a run, and never makes the copy fail.
fn copy_appends_this_logs_agent_activations_to_a_log_that_has_its_own(env: Env) {
    let Some(team) = Env::on(
        match env.store_kind() {
            Store::Sqlite => Store::Postgres,
            Store::Postgres => Store::Sqlite,
        },
        "copy_appends_this_logs_agent_activations_to_a_log_that_has_its_own",
    ) else {
        return;
    };
    assert_eq!(team.run(&["agent", "activate", "code-reviewer"]).code, 0);
    env.workflow("tiny", TINY);
    assert_eq!(env.run(&["agent", "activate", "python-pro"]).code, 0);
    assert_eq!(env.run(&["workflow", "run", "tiny"]).code, 0);
    let to = team.db_spec();
    let out = env.run(&["log", "copy", "--to", &to]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(!out.stdout.contains("run agents"), "{}", out.stdout);
    assert!(out.stdout.contains("the agent registry"), "{}", out.stdout);
    let doc = env.run(&["--json", "log", "copy", "--to", &to]).json();
    assert_eq!(doc["registry"]["how"], "already", "{doc}");
    assert_eq!(doc["runs"], 1, "{doc}");
    for list in ["copied", "extended", "already", "refused"] {
        assert!(
            !doc[list].to_string().contains("\"agents\""),
            "the registry listed as a run in {list}: {doc}"
        );
    }
    assert_eq!(active_agents(&team), ["code-reviewer", "python-pro"]);
    assert_eq!(
        active_agents(&env),
        ["python-pro"],
        "the source is untouched"
    );
    let verified = team.run(&["--json", "log", "verify", "--all"]).json();
    assert_eq!(verified["ok"], true, "{verified}");
    // A later activation on the laptop lands too, once.
    assert_eq!(env.run(&["agent", "activate", "security-auditor"]).code, 0);
    let doc = env.run(&["--json", "log", "copy", "--to", &to]).json();
    assert_eq!(doc["registry"]["events"], 1, "{doc}");
    assert_eq!(
        active_agents(&team),
        ["code-reviewer", "python-pro", "security-auditor"]
    );
}

/// A run copied, then driven on in the other log (the team completed its step there), is
/// already there when copied again — the source is a prefix of the target's run, checked by
/// hash — exit 0, listed under `already` and `ahead`, never refused. Before, it was refused as
/// "its history differs", exit 1. A run that went on on both sides (same length, other events)
/// is still refused.
fn copy_counts_a_run_that_went_on_in_the_target_as_already_there(env: Env) {
    let Some(other) = Env::on(
        match env.store_kind() {
            Store::Sqlite => Store::Postgres,
            Store::Postgres => Store::Sqlite,
        },
        "copy_counts_a_run_that_went_on_in_the_target_as_already_there",
    ) else {
        return;
    };
    let gate = "name: gate\nsteps:\n  - {name: ask, prompt: 'say yes'}\n";
    env.workflow("gate", gate);
    other.workflow("gate", gate);
    assert_eq!(env.run(&["workflow", "run", "gate"]).code, 3);
    let to = other.db_spec();
    let first = env.run(&["--json", "log", "copy", "--to", &to]).json();
    assert_eq!(first["copied"].as_array().unwrap().len(), 1, "{first}");
    let done = other.run(&["workflow", "step", "complete", "ask"]);
    assert_eq!(done.code, 0, "{}", done.stderr);

    let again = env.run(&["log", "copy", "--to", &to]);
    assert_eq!(again.code, 0, "{again:?}");
    assert!(
        again
            .stdout
            .contains("1 already there (1 gone further there"),
        "{}",
        again.stdout
    );
    let doc = env.run(&["--json", "log", "copy", "--to", &to]).json();
    assert_eq!(doc["refused"], serde_json::json!([]), "{doc}");
    assert_eq!(doc["already"].as_array().unwrap().len(), 1, "{doc}");
    assert_eq!(doc["ahead"], doc["already"], "{doc}");
    assert_eq!(doc["events"], 0, "{doc}");

    // Completed here too: as long as there, but other events — another history, refused.
    assert_eq!(env.run(&["workflow", "step", "complete", "ask"]).code, 0);
    let diverged = env.run(&["--json", "log", "copy", "--to", &to]);
    assert_eq!(diverged.code, 1, "{}", diverged.stdout);
    let doc = diverged.json();
    assert_eq!(doc["ahead"], serde_json::json!([]), "{doc}");
    assert!(
        doc["refused"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("its history differs"),
        "{doc}"
    );
}

common::on_both_stores!(
    copy_counts_a_run_that_went_on_in_the_target_as_already_there,
    copy_moves_a_history_with_the_same_hashes_and_is_idempotent,
    copy_appends_this_logs_agent_activations_to_a_log_that_has_its_own,
);

/// A run that does not verify here is not copied (its rows would carry the damage), and the
/// copy says so and fails; the runs that verify are copied.
#[test]
fn a_run_that_does_not_verify_is_not_copied() {
    let env = Env::new();
    env.workflow("tiny", TINY);
    assert_eq!(env.run(&["workflow", "run", "tiny"]).code, 0);
    assert_eq!(env.run(&["workflow", "run", "tiny"]).code, 0);
    let history = env.run(&["--json", "workflow", "history"]).json()["runs"].clone();
    let bad = history[0]["run_id"].as_str().unwrap().to_string();
    let conn = rusqlite::Connection::open(env.db()).unwrap();
    conn.execute_batch(&format!(
        "DROP TRIGGER events_append_only_update; UPDATE events SET body = body || ' ' WHERE run_id = '{bad}' AND seq = 2"
    ))
    .unwrap();
    let target = env.dir.path().join("copy.db").display().to_string();
    let out = env.run(&["--json", "log", "copy", "--to", &target]);
    assert_eq!(out.code, 1);
    let doc = out.json();
    assert_eq!(doc["refused"][0]["run_id"], bad.as_str());
    assert!(
        doc["refused"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("does not verify"),
        "{doc}"
    );
    assert_eq!(doc["copied"].as_array().unwrap().len(), 1);
    assert_eq!(runs_in(&env, &target), 1);
}

/// A config whose `db` is fine but which has a mistake elsewhere still says where the log is:
/// reading commands read that log, and the commands that use the faulty setting report it.
/// A `db` that is not a string is bad input, named.
#[test]
fn a_config_with_another_mistake_still_says_where_the_log_is() {
    let env = Env::new();
    env.workflow("tiny", TINY);
    env.config(r#"{"db": "sqlite:elsewhere.db"}"#);
    assert_eq!(env.run(&["workflow", "run", "tiny"]).code, 0);
    env.config(r#"{"db": "sqlite:elsewhere.db", "workflow": {"max_parallel": 0}}"#);
    let history = env.run(&["--json", "workflow", "history"]);
    assert_eq!(history.code, 0, "{}", history.stderr);
    assert_eq!(history.json()["runs"].as_array().unwrap().len(), 1);
    refused(
        &env,
        &["workflow", "run", "tiny"],
        &[],
        &["max_parallel"],
        &[],
    );
    assert!(!env.db().exists());
    env.config(r#"{"db": 5}"#);
    refused(&env, &["workflow", "history"], &[], &["db"], &[]);
}

/// A connection string that demands TLS (`sslmode=require`), which cortex does not speak yet,
/// is refused before any connection (exit 2) saying so and what to do, without the password;
/// before, it failed a TLS handshake as "cannot be reached … check that PostgreSQL is
/// running".
#[test]
fn a_connection_string_demanding_tls_says_cortex_does_not_speak_it() {
    let env = Env::new();
    // `require`, and the modes that verify a certificate, which the client library does not
    // even read.
    for (conn, mode) in [
        (
            "postgres://someone:hunter2@127.0.0.1:9/db?sslmode=require",
            "require",
        ),
        (
            "postgres://someone:hunter2@127.0.0.1:9/db?sslmode=verify-full",
            "verify-full",
        ),
        (
            "host=127.0.0.1 port=9 password=hunter2 sslmode=verify-ca",
            "verify-ca",
        ),
    ] {
        refused(
            &env,
            &["--db", conn, "workflow", "history"],
            &[],
            &[&format!("sslmode={mode}"), "does not speak"],
            &["hunter2"],
        );
    }
}

/// A second home on the first home's SQLite log (`--db`) judges a run's driver by the lock
/// beside that log, as the first home does: a live run is `running` from both, and a resume
/// from the second is not suggested. Before, the second home probed its own `locks/`, called
/// the run `interrupted` and suggested a resume that was refused as held.
#[test]
fn every_home_on_one_sqlite_log_sees_a_live_run_as_running() {
    let first = Env::new();
    first.workflow(
        "slow",
        "name: slow\nsteps:\n  - {name: wait, run: 'while [ ! -f go ]; do sleep 0.05; done'}\n",
    );
    let mut driver = first
        .command(&["workflow", "run", "slow"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let until = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while first.status(None)["status"] != "running" {
        assert!(std::time::Instant::now() < until, "the run never started");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let second = Env::new();
    let db = first.db().display().to_string();
    let status = second.run(&["--json", "--db", &db, "workflow", "status"]);
    let doc = status.json();
    std::fs::write(first.file("go"), "").unwrap();
    let ended = driver.wait().unwrap();
    assert_eq!(doc["status"], "running", "{doc}");
    let next = doc["next"].to_string();
    assert!(
        !next.contains("\"resume\""),
        "no resume of a live run: {next}"
    );
    assert!(ended.success());
    assert_eq!(
        second
            .run(&["--json", "--db", &db, "workflow", "status"])
            .json()["status"],
        "completed"
    );
}

/// A SQLite log given by a path relative to the current directory (`--db sqlite:../x.db`,
/// or a bare `../x.db`) is written absolute in every suggestion, as `--home` is: an agent
/// running a `next` argv from another directory opens the same log. Before, the path stayed
/// relative, and the suggestion run elsewhere found "no workflow runs yet" in another file.
#[test]
fn a_relative_db_path_is_absolute_in_suggestions_run_from_elsewhere() {
    let env = Env::new();
    env.workflow(
        "ask",
        "name: ask\nsteps:\n  - {name: plan, prompt: 'Plan it'}\n",
    );
    for given in ["sqlite:../rel.db", "../bare.db"] {
        let out = env.run(&["--json", "--db", given, "workflow", "run", "ask"]);
        assert_eq!(out.code, 3, "{}{}", out.stdout, out.stderr);
        let doc = out.json();
        let argv: Vec<String> = doc["next"][0]["argv"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap().to_string())
            .collect();
        let db = argv
            .iter()
            .skip_while(|a| *a != "--db")
            .nth(1)
            .expect("the suggestion carries --db");
        assert!(
            db.strip_prefix("sqlite:")
                .is_some_and(|p| p.starts_with('/')),
            "{given}: {argv:?}"
        );
        let elsewhere = env
            .command(&argv[1..].iter().map(String::as_str).collect::<Vec<_>>())
            .current_dir("/")
            .output()
            .unwrap();
        assert_eq!(
            elsewhere.status.code(),
            Some(0),
            "{given}: {argv:?}\n{}",
            String::from_utf8_lossy(&elsewhere.stderr)
        );
    }
}

/// A home or a log written with a leading `~` where no shell expanded it (CORTEX_HOME in an
/// `.mcp.json` `env` block, a systemd unit): the user's home folder, as a shell would have
/// read it. Before, cortex made a folder literally named `~` in the current directory; `~user`
/// is refused (exit 2), nothing made.
#[test]
fn a_home_or_log_written_with_a_tilde_is_the_users_home_not_a_folder_named_tilde() {
    let env = Env::new();
    let user_home = env.project().join("user-home");
    std::fs::create_dir_all(&user_home).unwrap();
    std::fs::write(env.project().join("tiny.yaml"), TINY).unwrap();
    let run = |vars: &[(&str, &str)]| {
        let mut cmd = env.command(&["workflow", "run", "tiny.yaml"]);
        cmd.env("HOME", &user_home);
        for (k, v) in vars {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    };
    let out = run(&[("CORTEX_HOME", "~/.cortex-work")]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(user_home.join(".cortex-work/cortex.db").is_file());
    assert!(
        !env.project().join("~").exists(),
        "a folder named `~` was made"
    );

    let out = run(&[("CORTEX_DB", "~/shared.db")]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(user_home.join("shared.db").is_file());
    assert!(!env.project().join("~").exists());

    let out = run(&[("CORTEX_HOME", "~nobody/x")]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("another user's home"));
    assert!(!env.project().join("~nobody").exists());
}

/// Seen by a review: with a relative CORTEX_HOME (`export CORTEX_HOME=h11`), the "Next:"
/// suggestions and the `--json` `next` argv named no `--home`, so pasted from another
/// directory they acted on another home (a relative `--home` was already written out); and
/// there a run asked for by id was "there are no workflow runs yet", without saying where
/// cortex looked. A relative CORTEX_HOME, and a SQLite file CORTEX_DB names relative to the
/// current directory, are written absolute in suggestions; a run not found because the log
/// looked in has no runs names that home.
#[test]
fn a_relative_cortex_home_or_db_is_absolute_in_suggestions_and_a_missing_run_names_the_home() {
    let env = Env::new();
    let home = env.project().join("rel-home");
    std::fs::create_dir_all(home.join("workflows")).unwrap();
    std::fs::write(
        home.join("workflows/ask.yaml"),
        "name: ask\nsteps:\n  - {name: plan, prompt: 'Plan it'}\n",
    )
    .unwrap();
    let elsewhere = env.project().join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    let argv_of = |out: &common::Out| -> Vec<String> {
        assert_eq!(out.code, 3, "{}{}", out.stdout, out.stderr);
        out.json()["next"][0]["argv"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap().to_string())
            .collect()
    };
    let after = |argv: &[String], flag: &str| -> Option<String> {
        argv.iter().skip_while(|a| *a != flag).nth(1).cloned()
    };
    for db in [None, Some("rel.db"), Some("sqlite:rel2.db")] {
        let mut vars = vec![("CORTEX_HOME", "rel-home")];
        vars.extend(db.map(|d| ("CORTEX_DB", d)));
        let out = env.run_with(&["--json", "workflow", "run", "ask"], &vars);
        let argv = argv_of(&out);
        assert_eq!(
            after(&argv, "--home").as_deref(),
            Some(home.to_str().unwrap()),
            "{db:?}: {argv:?}"
        );
        match db {
            Some(db) => {
                let file = env.project().join(db.trim_start_matches("sqlite:"));
                assert_eq!(
                    after(&argv, "--db"),
                    Some(format!("sqlite:{}", file.display())),
                    "{argv:?}"
                );
            }
            None => assert!(!argv.contains(&"--db".to_string()), "{argv:?}"),
        }
        // The human "Next:" lines say the same.
        let out = env.run_with(&["workflow", "run", "ask"], &vars);
        assert!(
            out.stdout.contains(&format!("--home {}", home.display())),
            "{}",
            out.stdout
        );
        // Pasted from another directory, with the same relative variables: the same run.
        let mut cmd = env.command(&argv[1..].iter().map(String::as_str).collect::<Vec<_>>());
        cmd.current_dir(&elsewhere);
        for (k, v) in &vars {
            cmd.env(k, v);
        }
        let pasted = cmd.output().unwrap();
        assert_eq!(
            pasted.status.code(),
            Some(0),
            "{db:?}: {argv:?}\n{}",
            String::from_utf8_lossy(&pasted.stderr)
        );
    }
    // A run asked for by id where the home looked in has no runs: that home is named.
    let run = env
        .run_with(
            &["--json", "workflow", "history"],
            &[("CORTEX_HOME", "rel-home")],
        )
        .json()["runs"][0]["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    let there = elsewhere.join("rel-home");
    for args in [
        vec!["workflow", "status", run.as_str()],
        vec![
            "workflow",
            "step",
            "complete",
            "plan",
            "--run",
            run.as_str(),
        ],
        vec!["log", "show", run.as_str()],
    ] {
        let out = env
            .command(&args)
            .current_dir(&elsewhere)
            .env("CORTEX_HOME", "rel-home")
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {said}");
        assert!(
            said.contains(&format!("`{run}`")) && said.contains(&format!("{}", there.display())),
            "{args:?}: {said}"
        );
    }
}
