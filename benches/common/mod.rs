//! What the benches that drive the real binary on a prepared log share: where the binary is,
//! and how a run of the log is started and how an old one is recorded.
#![allow(dead_code)] // each bench uses what it needs

use std::path::{Path, PathBuf};

use cortex::decide::Command as Cmd;
use cortex::definition::{Config, parse_workflow, snapshot};
use cortex::event::{Driver, Operator, RunKind, RunStarted};
use cortex::execute::Journal;

/// The workflow of the old runs a prepared log holds: one command step.
pub const OLD: &str = "name: old\nsteps:\n  - {name: a, run: 'true'}\n";

/// The binary `cargo bench` built beside this bench (target/release/cortex).
pub fn binary() -> PathBuf {
    let exe = std::env::current_exe().expect("bench path");
    let dir = exe.parent().and_then(Path::parent).expect("target dir");
    let bin = dir.join("cortex");
    assert!(
        bin.exists(),
        "build the binary first: cargo build --release"
    );
    bin
}

/// The start of a run of workflow `name` (its text `yaml`), by the bench.
pub fn started(name: &str, yaml: &str) -> RunStarted {
    let wf = parse_workflow(&format!("{name}.yaml"), yaml).expect("bench workflow parses");
    let (definition, definition_hash) = snapshot(&wf);
    RunStarted {
        kind: RunKind::Workflow,
        name: name.into(),
        definition,
        definition_hash,
        source: format!("{name}.yaml"),
        inputs: Default::default(),
        secret_inputs: Vec::new(),
        secret_defaults: Vec::new(),
        config: Config::default(),
        agents: Default::default(),
        claude: None,
        parent: None,
        uses: Default::default(),
        working_dir: "/tmp".into(),
        driver: Driver {
            pid: 1,
            host: "bench".into(),
        },
        by: bench(),
    }
}

/// The operator of every action the bench records.
fn bench() -> Operator {
    Operator {
        actor: "bench".into(),
        message: None,
    }
}

/// Record a finished run of [`OLD`] in `journal` (a new run): started, then aborted.
pub fn old_run(journal: &mut Journal) {
    journal
        .submit(Cmd::Start(Box::new(started("old", OLD))))
        .unwrap();
    journal
        .submit(Cmd::Abort {
            by: bench(),
            cut_off: None,
        })
        .unwrap();
}
