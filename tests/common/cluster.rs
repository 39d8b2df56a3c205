//! A private PostgreSQL cluster for a test that restarts it or listens on addresses of its
//! own, so that no other test's database goes away under it.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command as Process;

/// A private PostgreSQL cluster for a test that restarts it, so that no other test's
/// database goes away under it.
pub struct Cluster {
    dir: tempfile::TempDir,
    bin: PathBuf,
    pub port: u16,
    /// The addresses it listens on (127.0.0.1 and any others).
    listen: String,
}

impl Cluster {
    pub fn start(test: &str) -> Option<Cluster> {
        Cluster::start_on(test, &[], &[])
    }

    /// Listening on 127.0.0.1 and `addresses`, trusting `hba` (pg_hba.conf lines) too.
    pub fn start_on(test: &str, addresses: &[&str], hba: &[&str]) -> Option<Cluster> {
        let Some(bin) = std::env::var_os("CORTEX_TEST_PG_BIN").map(PathBuf::from) else {
            eprintln!(
                "skipped {test}: CORTEX_TEST_PG_BIN is not set (PostgreSQL's bin folder; .ci/run sets it)"
            );
            return None;
        };
        let dir = tempfile::tempdir().unwrap();
        if nix::unistd::geteuid().is_root() {
            let user = nix::unistd::User::from_name("postgres")
                .unwrap()
                .expect("the postgres user (Debian's packages make it)");
            nix::unistd::chown(dir.path(), Some(user.uid), Some(user.gid)).unwrap();
        }
        let listen = std::iter::once("127.0.0.1")
            .chain(addresses.iter().copied())
            .collect::<Vec<_>>()
            .join(",");
        let mut cluster = Cluster {
            dir,
            bin,
            port: 0,
            listen,
        };
        let data = cluster.data();
        let init = cluster.as_owner(
            "initdb",
            &[
                "-D",
                &data,
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--no-locale",
                "--no-sync",
            ],
        );
        assert!(
            init.status.success(),
            "{}",
            String::from_utf8_lossy(&init.stderr)
        );
        if !hba.is_empty() {
            use std::io::Write;
            let mut f = std::fs::OpenOptions::new()
                .append(true)
                .open(format!("{data}/pg_hba.conf"))
                .unwrap();
            for line in hba {
                writeln!(f, "{line}").unwrap();
            }
        }
        for _ in 0..10 {
            cluster.port = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            if cluster.pg_ctl(&["start"]).status.success() {
                return Some(cluster);
            }
        }
        panic!("the private cluster did not start");
    }

    pub fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    pub fn as_owner(&self, program: &str, args: &[&str]) -> std::process::Output {
        let program = self.bin.join(program);
        let mut cmd = if nix::unistd::geteuid().is_root() {
            let mut c = Process::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&program);
            c
        } else {
            Process::new(&program)
        };
        cmd.args(args).current_dir("/").output().unwrap()
    }

    pub fn pg_ctl(&self, action: &[&str]) -> std::process::Output {
        let options = format!(
            "-p {} -k {} -c listen_addresses={}",
            self.port,
            self.dir.path().display(),
            self.listen
        );
        let log = self.dir.path().join("log").display().to_string();
        let data = self.data();
        let mut args = vec!["-D", &data, "-l", &log, "-w", "-t", "60", "-o", &options];
        args.extend_from_slice(action);
        self.as_owner("pg_ctl", &args)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self.pg_ctl(&["-m", "immediate", "stop"]);
    }
}
