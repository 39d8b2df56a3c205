//! Notifications (SPEC §11): `notify: on_failure / on_finish` commands and webhooks, delivered
//! with bounded retries to a real HTTP server the test starts on 127.0.0.1, each delivery
//! recorded; secrets never in a payload; bad definitions refused where they are written.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use common::Env;

/// A webhook receiver: answers each request with the next status of `statuses` (the last one
/// again once they run out; 0 means never answer), and keeps the bodies it got.
struct Hook {
    url: String,
    bodies: Arc<Mutex<Vec<String>>>,
}

fn hook(statuses: &[u16]) -> Hook {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/cortex", listener.local_addr().unwrap());
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let kept = Arc::clone(&bodies);
    let statuses = statuses.to_vec();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for (n, stream) in listener.incoming().enumerate() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut length = 0;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            kept.lock()
                .unwrap()
                .push(String::from_utf8_lossy(&body).into_owned());
            let status = *statuses.get(n).or(statuses.last()).unwrap();
            if status == 0 {
                held.push(stream); // never answered
                continue;
            }
            let _ = write!(
                stream,
                "HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            );
        }
    });
    Hook { url, bodies }
}

fn failing_workflow(env: &Env, notify: &str) {
    env.workflow(
        "fails",
        &format!(
            "name: fails\nsteps:\n  - name: boom\n    run: echo \"token=$GITHUB_TOKEN\"; exit 3\n    retry: {{max_retry_attempts: 0}}\n{notify}"
        ),
    );
}

#[test]
fn a_failing_run_notifies_its_command_and_webhook_and_records_each_delivery() {
    let env = Env::new();
    let h = hook(&[500, 500, 200]);
    let secret = "ghp_notifysecret0123456789";
    failing_workflow(
        &env,
        &format!(
            "notify:\n  on_failure:\n    - run: cat > notified.json; echo \"$CORTEX_RUN_STATUS $CORTEX_RUN_NAME\" > notified.txt\n    - webhook: {}\n      retries: 2\n      timeout: 5s\n",
            h.url
        ),
    );
    let out = env
        .command(&["workflow", "run", "fails"])
        .env("GITHUB_TOKEN", secret)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "the run's outcome is its own");
    assert_eq!(
        std::fs::read_to_string(env.file("notified.txt")).unwrap(),
        "failed fails\n"
    );
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(env.file("notified.json")).unwrap()).unwrap();
    assert_eq!(doc["status"], "failed");
    // The webhook answered 500 twice, then 200: three tries, delivered.
    let bodies = h.bodies.lock().unwrap().clone();
    assert_eq!(bodies.len(), 3);
    let payload: serde_json::Value = serde_json::from_str(&bodies[2]).unwrap();
    assert_eq!(payload["run_id"], doc["run_id"]);
    for body in &bodies {
        assert!(!body.contains(secret), "a secret in the payload");
    }
    let status = env.status(None);
    let notes = status["notifications"].as_array().unwrap();
    assert_eq!(notes.len(), 2, "{status}");
    assert_eq!(notes[0]["ok"], true);
    assert_eq!(notes[1]["ok"], true);
    assert_eq!(notes[1]["attempts"], 3);
    assert_eq!(notes[1]["detail"], "HTTP 200");
    assert!(
        env.run(&["workflow", "status"])
            .stdout
            .contains("📣 on_failure: webhook:")
    );
    assert_eq!(
        env.run(&["--json", "log", "verify", "--all"]).json()["ok"],
        true
    );
}

#[test]
fn a_webhook_that_never_answers_is_given_up_after_its_retries_and_the_run_is_unaffected() {
    let env = Env::new();
    let h = hook(&[0]);
    failing_workflow(
        &env,
        &format!(
            "notify:\n  on_failure:\n    - webhook: {}\n      retries: 1\n      timeout: 300ms\n",
            h.url
        ),
    );
    let out = env.run(&["workflow", "run", "fails"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("warning: on_failure notification") && out.stderr.contains("2 tries"),
        "{}",
        out.stderr
    );
    let status = env.status(None);
    assert_eq!(status["status"], "failed");
    let note = &status["notifications"][0];
    assert_eq!(
        (note["ok"].as_bool(), note["attempts"].as_u64()),
        (Some(false), Some(2))
    );
    assert_eq!(h.bodies.lock().unwrap().len(), 2);
}

#[test]
fn on_finish_runs_whatever_the_outcome_and_on_failure_only_on_failure() {
    let env = Env::new();
    env.workflow(
        "ok",
        "name: ok\nsteps:\n  - {name: a, run: 'true'}\nnotify:\n  on_finish:\n    - run: echo \"$CORTEX_RUN_STATUS\" >> finished.txt\n  on_failure:\n    - run: echo failed >> failed.txt\n",
    );
    assert_eq!(env.run(&["workflow", "run", "ok"]).code, 0);
    assert_eq!(
        std::fs::read_to_string(env.file("finished.txt")).unwrap(),
        "completed\n"
    );
    assert!(!env.file("failed.txt").exists());
    // Aborted by hand: both.
    env.workflow(
        "asks",
        "name: asks\nsteps:\n  - {name: Plan, prompt: plan}\nnotify:\n  on_finish:\n    - run: echo \"$CORTEX_RUN_STATUS\" >> finished.txt\n  on_failure:\n    - run: echo failed >> failed.txt\n",
    );
    assert_eq!(env.run(&["workflow", "run", "asks"]).code, 3);
    assert_eq!(env.run(&["workflow", "abort"]).code, 1);
    assert_eq!(
        std::fs::read_to_string(env.file("finished.txt")).unwrap(),
        "completed\naborted\n"
    );
    assert_eq!(
        std::fs::read_to_string(env.file("failed.txt")).unwrap(),
        "failed\n"
    );
}

#[test]
fn a_notification_that_is_not_one_thing_or_not_http_is_refused_where_it_is_written() {
    let env = Env::new();
    env.workflow(
        "bad",
        "name: bad\nsteps:\n  - {name: a, run: 'true'}\nnotify:\n  on_failure:\n    - webhook: ftp://example.com/x\n    - run: echo\n      webhook: https://example.com\n    - webhook: https://example.com\n      retries: 11\n",
    );
    let out = env.run(&["--json", "workflow", "validate", "bad"]);
    assert_eq!(out.code, 2, "{}", out.stdout);
    let errors: Vec<(String, u64)> = out.json()["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["message"].as_str().unwrap().to_string(),
                e["line"].as_u64().unwrap(),
            )
        })
        .collect();
    assert!(
        errors
            .iter()
            .any(|(m, l)| m.contains("not an http(s) URL") && *l == 6),
        "{errors:?}"
    );
    assert!(
        errors
            .iter()
            .any(|(m, l)| m.contains("exactly one of") && *l == 7),
        "{errors:?}"
    );
    assert!(
        errors
            .iter()
            .any(|(m, l)| m.contains("at most 10") && *l == 10),
        "{errors:?}"
    );
}
