//! Cost against history (SPEC §7: "cost does not grow with history"): `workflow status` of
//! the latest run, `workflow history --limit 20`, `workflow list` and a step report, each run
//! as the real binary on logs holding 10, 10,000 and 100,000 runs. Each command is timed
//! `SAMPLES` times (alternating the logs, so load hits all alike); the median and the spread
//! (min–max) are printed, and the ratio of the medians at 100,000 and at 10 runs.
//! Run with `cargo bench --bench history` (`SIZES=10,1000` for a quick look).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use cortex::decide::Command as Cmd;
use cortex::definition::Durability;
use cortex::execute::{FixedClock, Journal, SequentialIds};
use cortex::store::SqliteStore;

mod common;
use common::{OLD, binary, old_run, started};

const SAMPLES: usize = 21;

/// A home whose log holds `runs` runs: all but the last finished (aborted), the last waiting
/// on the first of many prompt steps (so that every sample of a report has one to report).
fn home_with(runs: usize, dir: &Path) -> PathBuf {
    let home = dir.join(format!("home-{runs}"));
    std::fs::create_dir_all(home.join("workflows")).unwrap();
    let mut prompts = String::from("name: asks\nsteps:\n");
    for i in 0..(SAMPLES * 2) {
        prompts.push_str(&format!("  - {{name: p{i}, prompt: do {i}}}\n"));
    }
    std::fs::write(home.join("workflows/old.yaml"), OLD).unwrap();
    std::fs::write(home.join("workflows/asks.yaml"), &prompts).unwrap();
    let mut store = SqliteStore::open(&home.join("cortex.db"), Durability::Normal).unwrap();
    let clock = FixedClock::new(1_764_547_200_000);
    let mut ids = SequentialIds::default();
    for i in 0..runs {
        let run_id = format!("01JB{i:022}");
        let mut journal = Journal::open(&mut store, &clock, &mut ids, &run_id).unwrap();
        if i + 1 < runs {
            old_run(&mut journal);
            continue;
        }
        journal
            .submit(Cmd::Start(Box::new(started("asks", &prompts))))
            .unwrap();
        journal
            .submit(Cmd::RecordPreValidation { problems: vec![] })
            .unwrap();
        journal
            .submit(Cmd::StartAttempt { step: "p0".into() })
            .unwrap();
    }
    home
}

fn time(bin: &Path, home: &Path, args: &[&str]) -> Duration {
    let t = Instant::now();
    let status = Command::new(bin)
        .args(args)
        .env("CORTEX_HOME", home)
        .current_dir(home)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    let d = t.elapsed();
    assert!(
        matches!(status.code(), Some(0 | 3)),
        "{args:?} on {}: {status}",
        home.display()
    );
    d
}

fn median(mut v: Vec<Duration>) -> (Duration, Duration, Duration) {
    v.sort();
    (v[v.len() / 2], v[0], v[v.len() - 1])
}

fn main() {
    let sizes: Vec<usize> = std::env::var("SIZES")
        .ok()
        .map(|s| s.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![10, 10_000, 100_000]);
    let bin = binary();
    let dir = tempfile::tempdir().unwrap();
    let homes: Vec<PathBuf> = sizes
        .iter()
        .map(|&n| {
            let t = Instant::now();
            let home = home_with(n, dir.path());
            eprintln!("built a log of {n} runs in {:.1?}", t.elapsed());
            home
        })
        .collect();
    let commands: [(&str, Vec<&str>); 4] = [
        ("workflow status", vec!["workflow", "status"]),
        (
            "workflow history --limit 20",
            vec!["workflow", "history", "--limit", "20"],
        ),
        ("workflow list", vec!["workflow", "list"]),
        ("step report (complete, drives on)", vec![]),
    ];
    let header: Vec<String> = sizes
        .iter()
        .map(|n| format!("{n} runs: median (min–max)"))
        .collect();
    println!(
        "| command | {} | {} / {} runs |",
        header.join(" | "),
        sizes.last().unwrap(),
        sizes[0]
    );
    println!("|---|{}---|", "---|".repeat(sizes.len()));
    for (label, args) in &commands {
        let mut samples: Vec<Vec<Duration>> = vec![Vec::new(); sizes.len()];
        for s in 0..SAMPLES {
            for (i, home) in homes.iter().enumerate() {
                let step = format!("p{s}");
                let report = ["workflow", "step", "complete", step.as_str()];
                let args: &[&str] = if args.is_empty() { &report } else { args };
                samples[i].push(time(&bin, home, args));
            }
        }
        let stats: Vec<_> = samples.into_iter().map(median).collect();
        let cells: Vec<String> = stats
            .iter()
            .map(|(m, lo, hi)| {
                format!(
                    "{:.1} ms ({:.1}–{:.1})",
                    m.as_secs_f64() * 1e3,
                    lo.as_secs_f64() * 1e3,
                    hi.as_secs_f64() * 1e3
                )
            })
            .collect();
        let ratio = stats.last().unwrap().0.as_secs_f64() / stats[0].0.as_secs_f64();
        println!("| `{label}` | {} | {ratio:.2}x |", cells.join(" | "));
    }
}
