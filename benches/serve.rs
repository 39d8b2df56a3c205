//! `cortex serve` under load of history (issue 14): the runs page of a log holding 100,000 runs
//! (and 10, to compare), a page deep in that history, and the page of a run of 10,000 events
//! (its graph, timeline, steps and event log, verified), each fetched over HTTP from the real
//! release binary. Each URL is fetched `SAMPLES` times; the median and the spread (min–max)
//! are printed with the size of the answer. Run with `cargo build --release && cargo bench
//! --bench serve` (`RUNS=10000` for a quicker look).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cortex::decide::{AttemptReport, Command as Cmd};
use cortex::definition::Durability;
use cortex::event::AttemptEnd;
use cortex::execute::{FixedClock, Journal, SequentialIds};
use cortex::store::SqliteStore;

mod common;
use common::{binary, old_run, started};

const SAMPLES: usize = 11;
/// Steps of the long run: three events each (started, succeeded, checkpoint).
const LONG_STEPS: usize = 3_333;

/// A home whose log holds `runs` short runs (aborted) and, newest, one run of about 10,000
/// events (3,333 steps completed); returns the home and the long run's id.
fn home_with(runs: usize, dir: &Path) -> (PathBuf, String) {
    let home = dir.join(format!("home-{runs}"));
    std::fs::create_dir_all(home.join("workflows")).unwrap();
    let mut long = String::from("name: long\nsteps:\n");
    for i in 0..LONG_STEPS {
        long.push_str(&format!("  - {{name: s{i}, run: 'true'}}\n"));
    }
    long.push_str("  - {name: last, prompt: report me}\n");
    let mut store = SqliteStore::open(&home.join("cortex.db"), Durability::Normal).unwrap();
    let clock = FixedClock::new(1_764_547_200_000);
    let mut ids = SequentialIds::default();
    for i in 0..runs {
        let run_id = format!("01JB{i:022}");
        old_run(&mut Journal::open(&mut store, &clock, &mut ids, &run_id).unwrap());
    }
    let long_id = format!("01JC{:022}", 0);
    let mut journal = Journal::open(&mut store, &clock, &mut ids, &long_id).unwrap();
    journal
        .submit(Cmd::Start(Box::new(started("long", &long))))
        .unwrap();
    journal
        .submit(Cmd::RecordPreValidation { problems: vec![] })
        .unwrap();
    for i in 0..LONG_STEPS {
        let step = format!("s{i}");
        journal
            .submit(Cmd::StartAttempt { step: step.clone() })
            .unwrap();
        journal
            .submit(Cmd::FinishAttempt(Box::new(AttemptReport {
                step,
                attempt: 1,
                end: AttemptEnd::Exited { code: 0 },
                outputs: Vec::new(),
                output_tail: format!("step {i} done\n"),
                validation_problems: Vec::new(),
                by: None,
                agent: None,
                log: None,
                permanent: false,
            })))
            .unwrap();
    }
    journal
        .submit(Cmd::StartAttempt {
            step: "last".into(),
        })
        .unwrap();
    (home, long_id)
}

struct Server(Child, String);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve(bin: &Path, home: &Path) -> Server {
    let mut child = Command::new(bin)
        .args([
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--token",
            "bench-token-0123456789",
        ])
        .env("CORTEX_HOME", home)
        .current_dir(home)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .expect("the address")
        .trim_end_matches('/')
        .to_string();
    Server(child, base)
}

/// Fetch `url` SAMPLES times: (median, min, max, bytes).
fn measure(agent: &ureq::Agent, url: &str) -> (Duration, Duration, Duration, usize) {
    let mut times = Vec::new();
    let mut bytes = 0;
    for _ in 0..SAMPLES {
        let t = Instant::now();
        let mut resp = agent.get(url).call().expect("the server answers");
        assert_eq!(resp.status().as_u16(), 200, "{url}");
        let body = resp
            .body_mut()
            .with_config()
            .limit(64 << 20)
            .read_to_string()
            .unwrap();
        times.push(t.elapsed());
        bytes = body.len();
    }
    times.sort();
    (times[SAMPLES / 2], times[0], times[SAMPLES - 1], bytes)
}

fn main() {
    let runs: usize = std::env::var("RUNS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(100_000);
    let bin = binary();
    let dir = tempfile::tempdir().unwrap();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    println!("| page | log | median (min–max) | size |");
    println!("|---|---|---|---|");
    for n in [10, runs] {
        let t = Instant::now();
        let (home, long) = home_with(n, dir.path());
        eprintln!(
            "built a log of {n} runs and a run of ~10,000 events in {:.1?}",
            t.elapsed()
        );
        let server = serve(&bin, &home);
        let base = &server.1;
        let mid = format!("01JB{:022}", n / 2);
        let mut pages = vec![
            ("runs page (newest 50)", format!("{base}/")),
            (
                "runs API (`/api/v1/runs?limit=50`)",
                format!("{base}/api/v1/runs?limit=50"),
            ),
            (
                "runs page deep in history (`?before=`)",
                format!("{base}/?before={mid}"),
            ),
        ];
        if n == runs {
            pages.extend([
                (
                    "run page, 10,000 events (newest 1,000 listed)",
                    format!("{base}/runs/{long}"),
                ),
                (
                    "run page, 10,000 events, all listed",
                    format!("{base}/runs/{long}?events=all"),
                ),
                ("run status API", format!("{base}/api/v1/runs/{long}")),
            ]);
        }
        for (label, url) in pages {
            let (m, lo, hi, bytes) = measure(&agent, &url);
            println!(
                "| {label} | {n} runs | {:.1} ms ({:.1}–{:.1}) | {} KiB |",
                m.as_secs_f64() * 1e3,
                lo.as_secs_f64() * 1e3,
                hi.as_secs_f64() * 1e3,
                bytes / 1024
            );
        }
    }
}
