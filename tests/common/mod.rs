//! Shared test helpers: a temporary cortex home driven through the real binary, output
//! redaction for snapshots, and a pure in-memory simulator of the driver for properties.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A temporary `CORTEX_HOME` and project directory.
pub struct Env {
    pub dir: tempfile::TempDir,
}

/// What one invocation of the binary did.
#[derive(Debug)]
pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    /// stdout, stderr and the exit code together, redacted, for a snapshot.
    pub fn snapshot(&self, env: &Env) -> String {
        let mut text = format!("exit: {}\n--- stdout\n{}", self.code, self.stdout);
        if !self.stderr.is_empty() {
            text.push_str(&format!("--- stderr\n{}", self.stderr));
        }
        redact(&text, env)
    }

    /// Everything the command said, stdout then stderr (a `validate` verdict is on stdout, an
    /// error on stderr).
    pub fn text(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\n{}",
                self.stdout, self.stderr
            )
        })
    }
}

pub fn redact(text: &str, env: &Env) -> String {
    let mut text = text.replace(&env.project().display().to_string(), "[PROJECT]");
    text = text.replace(&env.home().display().to_string(), "[HOME]");
    text = text.replace(&format!("@{}", cortex::execute::hostname()), "@[HOST]");
    let rules = [
        (r"\b[0-9A-HJKMNP-TV-Z]{26}\b", "[RUN]"),
        (r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", "[TIME]"),
        (r"\b[0-9a-f]{64}\b", "[HASH]"),
        (r"\b[0-9a-f]{12}\b", "[HASH12]"),
        (r"\b\d+h \d+m\b|\b\d+m \d+s\b|\b\d+(ms|s)\b", "[DUR]"),
        (r"process \d+ on \S+", "process [PID] on [HOST]"),
    ];
    for (pattern, with) in rules {
        text = regex::Regex::new(pattern)
            .unwrap()
            .replace_all(&text, with)
            .into_owned();
    }
    text
}

impl Env {
    pub fn new() -> Env {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir_all(dir.path().join("home/workflows")).unwrap();
        std::fs::create_dir_all(dir.path().join("project")).unwrap();
        Env { dir }
    }

    pub fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    pub fn project(&self) -> PathBuf {
        self.dir.path().join("project")
    }

    /// Write a workflow into `CORTEX_HOME/workflows/NAME.yaml`.
    pub fn workflow(&self, name: &str, yaml: &str) -> &Self {
        std::fs::write(
            self.home().join("workflows").join(format!("{name}.yaml")),
            yaml,
        )
        .unwrap();
        self
    }

    pub fn config(&self, json: &str) -> &Self {
        std::fs::write(self.home().join("cortex.config.json"), json).unwrap();
        self
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_cortex"));
        cmd.args(args)
            .current_dir(self.project())
            .env("CORTEX_HOME", self.home())
            .env("NO_COLOR", "1")
            .env("USER", "tester")
            .env_remove("CORTEX_TEST_SECRET_TOKEN")
            .stdin(Stdio::null());
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Out {
        let out = self.command(args).output().expect("run cortex");
        Out {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// `--json` status of the most recent (or given) run.
    pub fn status(&self, run: Option<&str>) -> serde_json::Value {
        let mut args = vec!["--json", "workflow", "status"];
        if let Some(r) = run {
            args.push(r);
        }
        self.run(&args).json()
    }

    pub fn file(&self, rel: &str) -> PathBuf {
        self.project().join(rel)
    }

    pub fn db(&self) -> PathBuf {
        self.home().join("cortex.db")
    }
}

/// Lines of a file in the project directory (empty if missing).
pub fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}
