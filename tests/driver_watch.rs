//! A workflow driver watches the log while a step's command runs: a stop or abort an operator
//! recorded there ends the step at once, with no signal to tell it (as when the operator is on
//! another host, or could not find the driver's process). In-process: the request is appended
//! straight to the log, so nothing but the log can carry it to the driver.

use std::sync::mpsc::channel;
use std::time::{Duration, Instant};

use cortex::decide::Command;
use cortex::definition::Durability;
use cortex::event::Operator;
use cortex::execute::{Journal, Quiet, StopFlag, SystemClock, UlidIds};
use cortex::ops::{Ctx, Live, RunHow};
use cortex::store::{EventStore, SqliteStore};

fn pid_alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.contains(") Z "))
}

fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let until = Instant::now() + Duration::from_secs(30);
    while !cond() {
        assert!(Instant::now() < until, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_stop_or_abort_recorded_in_the_log_ends_the_running_step_without_a_signal() {
    for abort in [true, false] {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home");
        std::fs::create_dir_all(home.join("workflows")).unwrap();
        let started = dir.path().join("started");
        std::fs::write(
            home.join("workflows").join("long.yaml"),
            format!(
                "name: long\nsteps:\n  - name: wait\n    run: echo $$ > '{}'; exec sleep 600\n",
                started.display()
            ),
        )
        .unwrap();
        let ctx = Ctx::new(Some(home.clone())).unwrap();
        let (tx, rx) = channel();
        let driver = std::thread::spawn(move || {
            let mut observer = Quiet;
            let mut live = Live {
                observer: &mut observer,
                stop: StopFlag::default(),
            };
            let by = cortex::ops::operator(Some("driver"), None);
            let out = cortex::ops::workflow::run(&ctx, "long", &[], RunHow::Drive, by, &mut live);
            let _ = tx.send(out.map(|o| o.json).map_err(|e| e.message));
        });
        wait_until("the step to start", || {
            std::fs::read_to_string(&started).is_ok_and(|s| s.ends_with('\n'))
        });
        let step: i32 = std::fs::read_to_string(&started)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let mut store = SqliteStore::open(&home.join("cortex.db"), Durability::Normal).unwrap();
        let run_id = store.runs().unwrap()[0].run_id.clone();
        let clock = SystemClock;
        let mut ids = UlidIds::default();
        let mut journal = Journal::open(&mut store, &clock, &mut ids, &run_id).unwrap();
        journal
            .submit(Command::RequestStop {
                by: Operator {
                    actor: "elsewhere".into(),
                    message: None,
                },
                abort,
            })
            .unwrap();
        // Far beyond a prompt stop, far below the step's own end.
        let doc = rx
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| panic!("abort {abort}: the driver still runs its step"))
            .unwrap();
        driver.join().unwrap();
        let expected = if abort { "aborted" } else { "stopped" };
        assert_eq!(doc["status"], expected, "{doc}");
        wait_until("the step's process to end", || !pid_alive(step));
    }
}
