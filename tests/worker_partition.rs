//! Workers as separate hosts (SPEC §9): a worker in a network namespace of its own (its own
//! hostname, reaching PostgreSQL over a veth pair) claims a phase; the link is cut mid-phase
//! (a partition): its lease lapses, the attempt is recorded interrupted and runs again on
//! another worker, and once the link is back the cut-off worker's late result is recorded as
//! rejected, never applied. Skipped, saying why, where namespaces are not permitted or
//! PostgreSQL's binaries are not given.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::Env;
use common::cluster::Cluster;
use serde_json::Value;

const PATIENCE: Duration = Duration::from_secs(90);

fn ip(args: &[&str]) -> bool {
    Command::new("ip")
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A network namespace joined to this one by a veth pair, removed when dropped.
struct Namespace {
    name: String,
    host_if: String,
    host_ip: String,
    subnet: String,
}

impl Namespace {
    /// None (after saying why) where namespaces cannot be made here.
    fn make() -> Option<Namespace> {
        let n = std::process::id() % 60_000;
        let (a, b) = (n / 250, n % 250);
        let ns = Namespace {
            name: format!("cxw{n}"),
            host_if: format!("cxh{n}"),
            host_ip: format!("10.{}.{}.1", 100 + a, b),
            subnet: format!("10.{}.{}.0/30", 100 + a, b),
        };
        let peer = format!("cxn{n}");
        let ns_ip = format!("10.{}.{}.2/30", 100 + a, b);
        let host_cidr = format!("{}/30", ns.host_ip);
        let ok = ip(&["netns", "add", &ns.name])
            && ip(&[
                "link",
                "add",
                &ns.host_if,
                "type",
                "veth",
                "peer",
                "name",
                &peer,
            ])
            && ip(&["link", "set", &peer, "netns", &ns.name])
            && ip(&["addr", "add", &host_cidr, "dev", &ns.host_if])
            && ip(&["link", "set", &ns.host_if, "up"])
            && ip(&[
                "netns", "exec", &ns.name, "ip", "addr", "add", &ns_ip, "dev", &peer,
            ])
            && ip(&["netns", "exec", &ns.name, "ip", "link", "set", &peer, "up"])
            && ip(&["netns", "exec", &ns.name, "ip", "link", "set", "lo", "up"]);
        if !ok {
            eprintln!(
                "skipped: network namespaces and veth pairs cannot be made here (needs root and CAP_NET_ADMIN)"
            );
            return None;
        }
        Some(ns)
    }

    /// Cut (false) or heal (true) the link.
    fn link(&self, up: bool) {
        assert!(ip(&[
            "link",
            "set",
            &self.host_if,
            if up { "up" } else { "down" }
        ]));
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        ip(&["link", "del", &self.host_if]);
        ip(&["netns", "del", &self.name]);
    }
}

struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn worker(env: &Env, name: &str, extra: &[&str]) -> Proc {
    let mut args = vec!["worker", "--name", name, "--poll", "100ms", "--lease", "1s"];
    args.extend_from_slice(extra);
    Proc(
        env.command(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    )
}

fn wait_for(env: &Env, run: &str, what: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    env.wait_for_events(run, what, PATIENCE, done)
}

fn of<'a>(ev: &'a [Value], t: &str, step: &str) -> Vec<&'a Value> {
    ev.iter()
        .filter(|e| e["type"] == t && e["body"]["step"] == step)
        .collect()
}

#[test]
fn a_partitioned_worker_loses_its_phase_and_its_late_result_is_rejected() {
    let test = "a_partitioned_worker_loses_its_phase_and_its_late_result_is_rejected";
    if !nix::unistd::geteuid().is_root() {
        eprintln!("skipped {test}: network namespaces need root");
        return;
    }
    let uts = Command::new("unshare")
        .args(["--uts", "true"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !uts {
        eprintln!("skipped {test}: `unshare --uts` (a hostname of its own) is not permitted here");
        return;
    }
    let Some(ns) = Namespace::make() else {
        return;
    };
    let hba = format!("host all all {} trust", ns.subnet);
    let Some(cluster) = Cluster::start_on(test, &[&ns.host_ip], &[&hba]) else {
        return;
    };
    let mut env = Env::new();
    env.pg = Some(common::pg_schema(&cluster.url()));
    let remote_db = env
        .pg
        .as_ref()
        .unwrap()
        .url
        .replacen("127.0.0.1", &ns.host_ip, 1);
    let dir = env.home().join("scenarios");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("remote.yaml"),
        "name: remote\ndescription: a phase for a far host\nphases:\n  - name: far\n    runs_on: [far]\n    run: 'sleep 2; echo far'\n  - name: near\n    parallel: true\n    run: 'sleep 60'\n",
    )
    .unwrap();
    let driver = worker(&env, "driver", &["--concurrency", "4"]);
    let out = env.run(&["orchestrate", "run", "remote", "--submit"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let run = out.stdout.trim().to_string();
    wait_for(&env, &run, "the driver to take the run", |ev| {
        ev.iter().any(|e| e["type"] == "run_resumed")
    });
    // The far worker: another network, another hostname, another home, the same log.
    let far_home = tempfile::tempdir().unwrap();
    let far = Proc(
        Command::new("ip")
            .args(["netns", "exec", &ns.name, "unshare", "--uts", "sh", "-c"])
            .arg("hostname far-host && exec \"$0\" \"$@\"")
            .arg(env!("CARGO_BIN_EXE_cortex"))
            .args([
                "worker", "--name", "faraway", "--tags", "far", "--poll", "100ms",
            ])
            .args(["--lease", "1s"])
            .env("CORTEX_HOME", far_home.path())
            .env("CORTEX_DB", &remote_db)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let ev = wait_for(&env, &run, "the far worker to claim `far`", |ev| {
        !of(ev, "attempt_claimed", "far").is_empty()
    });
    let claim = of(&ev, "attempt_claimed", "far")[0];
    assert_eq!(claim["body"]["worker"], "faraway");
    assert_eq!(claim["body"]["host"], "far-host");
    ns.link(false);
    let ev = wait_for(&env, &run, "the cut-off attempt to be ended", |ev| {
        !of(ev, "step_interrupted", "far").is_empty()
    });
    let why = of(&ev, "step_interrupted", "far")[0]["body"]["reason"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(why.contains("faraway") && why.contains("far-host"), "{why}");
    let helper = worker(&env, "near-helper", &["--tags", "far"]);
    wait_for(&env, &run, "`far` to run again on this side", |ev| {
        !of(ev, "step_succeeded", "far").is_empty()
    });
    ns.link(true);
    let ev = wait_for(&env, &run, "the late result to be rejected", |ev| {
        !of(ev, "attempt_rejected", "far").is_empty()
    });
    let rejected = of(&ev, "attempt_rejected", "far")[0];
    assert_eq!(rejected["body"]["worker"], "faraway");
    assert_eq!(rejected["body"]["attempt"], 1);
    let applied = of(&ev, "step_succeeded", "far");
    assert_eq!(applied.len(), 1);
    assert_eq!(applied[0]["body"]["attempt"], 2);
    env.run(&["orchestrate", "abort", &run]);
    drop((far, helper, driver));
    let verify = env.run(&["log", "verify"]);
    assert_eq!(verify.code, 0, "{}{}", verify.stdout, verify.stderr);
}
