//! Notifications (SPEC §11): `notify: on_failure / on_finish` commands and webhooks, delivered
//! with bounded retries to a real HTTP server the test starts on 127.0.0.1, each delivery
//! recorded; secrets never in a payload; bad definitions refused where they are written.

mod common;
#[path = "common/server.rs"]
mod server;

use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;

use common::webhook::{Hook, hook};
use common::{Env, files_holding};

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
    let bodies = h.bodies();
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
            .contains("📣 on_failure (failed): webhook: http://127.0.0.1:")
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
    assert_eq!(h.received(2).len(), 2);
}

/// Seen by a review: on a failure, `on_finish` was delivered beside `on_failure` and often
/// landed (and was listed) first. `on_failure` is delivered first; `on_finish`, the "finally"
/// handler, once every `on_failure` delivery is done — and status lists them in that order.
#[test]
fn on_a_failure_on_failure_is_delivered_and_listed_before_on_finish() {
    let env = Env::new();
    let h = hook(&[200]);
    env.workflow(
        "ord",
        &format!(
            "name: ord\nsteps:\n  - name: a\n    run: exit 1\n    retry: {{max_retry_attempts: 0}}\nnotify:\n  on_finish:\n    - run: echo finish >> order.log\n    - webhook: {}\n  on_failure:\n    - run: sleep 1; echo page >> order.log\n    - run: echo page2 >> order.log\n",
            h.url
        ),
    );
    assert_eq!(env.run(&["workflow", "run", "ord"]).code, 1);
    let order = common::lines(&env.file("order.log"));
    assert_eq!(
        order.last().map(String::as_str),
        Some("finish"),
        "{order:?}"
    );
    assert_eq!(order.len(), 3, "{order:?}");
    let status = env.status(None);
    let triggers: Vec<&str> = status["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["trigger"].as_str().unwrap())
        .collect();
    assert_eq!(
        triggers,
        ["on_failure", "on_failure", "on_finish", "on_finish"],
        "{status}"
    );
    let human = env.run(&["workflow", "status"]).stdout;
    let page = human.rfind("📣 on_failure").expect(&human);
    let finish = human.find("📣 on_finish").expect(&human);
    assert!(page < finish, "{human}");
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
        "name: bad\nsteps:\n  - {name: a, run: 'true'}\nnotify:\n  on_failure:\n    - webhook: ftp://example.com/x\n    - run: echo\n      webhook: https://example.com\n    - webhook: https://example.com\n      retries: 11\n    - webhook: http://[::1]:99999/hook\n",
    );
    let out = env.run(&["--json", "workflow", "validate", "bad"]);
    assert_eq!(out.code, 2, "{}", out.stdout);
    out.assert_error_on_line("not an http(s) URL", 6);
    out.assert_error_on_line("exactly one of", 7);
    out.assert_error_on_line("at most 10", 10);
    // a_webhook_port_past_65535_or_0_was_taken_as_valid_and_failed_only_at_delivery
    out.assert_error_on_line("names the port 99999; a port is from 1 to 65535", 11);
}

/// The address (`host:port`) of a hook's URL.
fn addr(h: &Hook) -> String {
    h.url
        .trim_start_matches("http://")
        .trim_end_matches("/cortex")
        .to_string()
}

#[test]
fn a_run_that_fails_runs_on_finish_and_a_later_abort_does_not_page_on_failure_again() {
    let env = Env::new();
    env.workflow(
        "fails",
        "name: fails\nsteps:\n  - name: boom\n    run: exit 3\n    retry: {max_retry_attempts: 0}\nnotify:\n  on_failure:\n    - run: echo \"$CORTEX_RUN_STATUS\" >> paged.txt\n  on_finish:\n    - run: echo \"$CORTEX_RUN_STATUS\" >> finished.txt\n",
    );
    let read = |f: &str| std::fs::read_to_string(env.file(f)).unwrap_or_default();
    // Paused on the failure (the default `on_failure: pause`): exit 1, an end for both lists.
    assert_eq!(env.run(&["workflow", "run", "fails"]).code, 1);
    assert_eq!(
        (read("paged.txt"), read("finished.txt")),
        ("failed\n".into(), "failed\n".into())
    );
    // Looking at it changes nothing: nothing again.
    env.run(&["workflow", "status"]);
    // Aborted without being resumed: the same incident, nobody paged again; the run did end
    // another way, which on_finish says.
    assert_eq!(env.run(&["workflow", "abort"]).code, 1);
    assert_eq!(read("paged.txt"), "failed\n");
    assert_eq!(read("finished.txt"), "failed\naborted\n");
    let notes = env.status(None)["notifications"].clone();
    let seen: Vec<(String, String)> = notes
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["trigger"].as_str().unwrap().into(),
                n["status"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(seen.len(), 3, "{notes}");
    assert!(seen.contains(&("on_failure".into(), "failed".into())));
    assert!(seen.contains(&("on_finish".into(), "aborted".into())));
}

/// Seen by a review: `examples/workflows/notify-demo.yaml` said "aborting it later pages
/// nobody again", while `on_finish` fires at the pause and again at the abort (DESIGN.md: due
/// once per end). The example, run and aborted, notifies as its comment now says.
#[test]
fn the_notify_demo_example_notifies_at_each_end_as_its_comment_says() {
    let env = Env::new();
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples/workflows/notify-demo.yaml");
    let comment = std::fs::read_to_string(&example).unwrap();
    assert!(comment.contains("`on_finish` fires again"), "{comment}");
    assert_eq!(
        env.run(&["workflow", "run", example.to_str().unwrap()])
            .code,
        1
    );
    assert_eq!(env.run(&["workflow", "abort", "notify-demo"]).code, 1);
    let log = std::fs::read_to_string(env.home().join("notifications.log")).unwrap();
    assert_eq!(
        log,
        "paging on-call about notify-demo (failed)\nnotify-demo finished failed\nnotify-demo finished aborted\n"
    );
}

/// Seen by a review: a webhook's password from the environment
/// (`http://deploy:$HOOK_PW@host/hk`) was masked in the URL, but the same value printed by a
/// step or written as an output went in clear into the log, status, results.json, checkpoints
/// and attempt logs (the variable's name says nothing secret). A variable a webhook takes a
/// credential from — its userinfo password, a token-like query parameter — is a secret of the
/// run, scrubbed everywhere as a secret `env:` entry's value is.
#[test]
fn a_webhook_credential_from_the_environment_is_a_secret_of_the_run() {
    let env = Env::new();
    let h = hook(&[200]);
    let pw = "hk-pass-7f3a91c2e5";
    let tok = "hk-tok-b81d4e6a09";
    let at = addr(&h);
    env.workflow(
        "hk",
        &format!(
            "name: hk\nsteps:\n  - name: leak\n    run: echo \"pw=$HOOK_PW tok=$HOOK_Q\"; echo \"out=$HOOK_PW\" >> \"$CORTEX_OUTPUT\"; echo \"q=$HOOK_Q\" >> \"$CORTEX_OUTPUT\"\nnotify:\n  on_finish:\n    - webhook: http://deploy:$HOOK_PW@{at}/hk?key=$HOOK_Q\n"
        ),
    );
    let out = env.run_with(
        &["workflow", "run", "hk"],
        &[("HOOK_PW", pw), ("HOOK_Q", tok)],
    );
    assert_eq!(out.code, 0, "{}", out.text());
    assert_eq!(h.received(1).len(), 1, "the webhook is delivered");
    assert!(
        !out.text().contains(pw) && !out.text().contains(tok),
        "{}",
        out.text()
    );
    let status = env.run_with(&["--json", "workflow", "status"], &[("HOOK_PW", pw)]);
    assert!(!status.stdout.contains(pw), "{}", status.stdout);
    assert!(status.stdout.contains("***"), "{}", status.stdout);
    for value in [pw, tok] {
        let holding = files_holding(&env.home(), value);
        assert!(holding.is_empty(), "{value} in clear in {holding:?}");
    }
}

/// Seen by a review: a webhook whose whole URL is one variable (`webhook: $SLACK_URL`), or
/// whose path is (`https://hooks.slack.com/$SLACK_PATH`), carries its token in that variable
/// (Slack, Teams and Discord keep it in the path), but the variable was no secret of the
/// run: a step that printed `$SLACK_URL`, or wrote it as an output, put the token in the log,
/// status, results.json, checkpoints and attempt logs. A variable that supplies the whole URL,
/// any part of its path or its userinfo is a credential of the run, scrubbed everywhere; the
/// webhook is still delivered to the full URL.
#[test]
fn a_webhook_url_or_path_from_the_environment_is_a_secret_of_the_run() {
    let env = Env::new();
    let whole = hook(&[200]);
    let path = hook(&[200]);
    let token = "T0ABC/B0DEF/hkpathtok5c81e07d2f";
    let part = "svc-path-tok-94b2e6a1d0";
    let slack_url = format!("{}/services/{token}", whole.url);
    env.workflow(
        "leaky",
        &format!(
            "name: leaky\nsteps:\n  - name: leak\n    run: echo \"url=$SLACK_URL\"; echo \"part=$HOOK_PART\"; echo \"hook=$SLACK_URL\" >> \"$CORTEX_OUTPUT\"; echo \"p=$HOOK_PART\" >> \"$CORTEX_OUTPUT\"\nnotify:\n  on_finish:\n    - webhook: $SLACK_URL\n    - webhook: http://{}/hooks/${{HOOK_PART}}\n",
            addr(&path)
        ),
    );
    let vars = [("SLACK_URL", slack_url.as_str()), ("HOOK_PART", part)];
    let out = env.run_with(&["workflow", "run", "leaky"], &vars);
    assert_eq!(out.code, 0, "{}", out.text());
    // Delivered to the full URL, token and all.
    whole.received(1);
    path.received(1);
    assert_eq!(whole.paths(), [format!("/cortex/services/{token}")]);
    assert_eq!(path.paths(), [format!("/hooks/{part}")]);
    let status = env.run_with(&["--json", "workflow", "status"], &vars);
    assert_eq!(status.code, 0, "{}", status.text());
    let outputs = &status.json()["steps"][0]["outputs"];
    assert_eq!(outputs["hook"], "***", "{outputs}");
    assert_eq!(outputs["p"], "***", "{outputs}");
    let run_id = status.json()["run_id"].as_str().unwrap().to_string();
    let results = env.home().join("runs").join(&run_id).join("results.json");
    let results = std::fs::read_to_string(&results).unwrap();
    assert!(results.contains("\"***\""), "{results}");
    let export = env.run(&["log", "export"]);
    let logs = env.run(&["logs", "leaky", "leak"]);
    assert!(logs.stdout.contains("url=***"), "{}", logs.text());
    for secret in [token, "hkpathtok5c81e07d2f", part] {
        for (what, shown) in [
            ("the run's output", out.text()),
            ("status --json", status.stdout.clone()),
            ("log export", export.stdout.clone()),
            ("cortex logs", logs.text()),
        ] {
            assert!(!shown.contains(secret), "{secret} in {what}: {shown}");
        }
        // The log, results.json, checkpoints and attempt log files (all under the home).
        let holding = files_holding(&env.home(), secret);
        assert!(holding.is_empty(), "{secret} in clear in {holding:?}");
    }
}

#[test]
fn a_run_that_fails_again_after_a_resume_is_a_new_incident() {
    let env = Env::new();
    env.workflow(
        "fails",
        "name: fails\nsteps:\n  - name: boom\n    run: exit 3\n    retry: {max_retry_attempts: 0}\nnotify:\n  on_failure:\n    - run: echo \"$CORTEX_RUN_STATUS\" >> paged.txt\n",
    );
    assert_eq!(env.run(&["workflow", "run", "fails"]).code, 1);
    assert_eq!(env.run(&["workflow", "resume", "--retry"]).code, 1);
    assert_eq!(
        std::fs::read_to_string(env.file("paged.txt")).unwrap(),
        "failed\nfailed\n"
    );
}

#[test]
fn a_webhook_url_from_the_environment_or_a_secret_input_is_delivered_and_never_recorded_or_shown() {
    let env = Env::new();
    let from_env = hook(&[200]);
    let from_input = hook(&[200]);
    let env_url = format!(
        "http://bob:pa55word@{}/services/T0/XyZsecretPath",
        addr(&from_env)
    );
    let input_url = format!("http://{}/hooks/InputSecretPath?k=v", addr(&from_input));
    env.workflow(
        "hooked",
        "name: hooked\ninputs:\n  hook: {type: string}\nsteps:\n  - {name: a, run: 'true'}\nnotify:\n  on_finish:\n    - webhook: $HOOK_URL\n    - webhook: \"${{ inputs.hook }}\"\n",
    );
    assert_eq!(env.run(&["workflow", "validate", "hooked"]).code, 0);
    let out = env
        .command(&[
            "workflow",
            "run",
            "hooked",
            "--input",
            &format!("hook={input_url}"),
        ])
        .env("HOOK_URL", &env_url)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(from_env.count(), 1);
    assert_eq!(from_input.count(), 1);
    for secret in ["pa55word", "XyZsecretPath", "InputSecretPath"] {
        assert!(
            env.log_holding(secret).is_empty(),
            "`{secret}` is in the log"
        );
        let shown = env.run(&["workflow", "status"]).stdout;
        assert!(!shown.contains(secret), "{shown}");
        assert!(!String::from_utf8_lossy(&out.stdout).contains(secret));
        assert!(!stderr.contains(secret), "{stderr}");
    }
    let shown = env.run(&["workflow", "status"]).stdout;
    assert!(
        shown.contains(&format!(
            "webhook: $HOOK_URL (http://***@{}/***)",
            addr(&from_env)
        )),
        "{shown}"
    );
    assert!(
        shown.contains(&format!(
            "webhook: ${{{{ inputs.hook }}}} (http://{}/***)",
            addr(&from_input)
        )),
        "{shown}"
    );
    // Without the variable, its driver makes none of them (the webhook would be used up on a
    // value it cannot know, recorded "not delivered … not set"): both are left due for a
    // process given it, said once with the command that delivers them, and the run's outcome
    // is its own.
    let out = env.run(&[
        "--json",
        "workflow",
        "run",
        "hooked",
        "--input",
        &format!("hook={input_url}"),
    ]);
    assert_eq!(out.code, 0, "{}", out.text());
    let run = out.json()["run_id"].as_str().unwrap().to_string();
    assert_eq!(
        out.stderr.matches("its notifications still due").count(),
        1,
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("`HOOK_URL`, not set in this process's environment")
            && out
                .stderr
                .contains(&format!("workflow resume {run} --notify-only")),
        "{}",
        out.stderr
    );
    assert_eq!(due_and_recorded(&env, "workflow", &run), (2, Vec::new()));
    assert_eq!((from_env.count(), from_input.count()), (1, 1));
}

#[test]
fn a_literal_webhook_url_is_shown_and_recorded_without_its_userinfo_or_path() {
    let env = Env::new();
    let h = hook(&[200]);
    // A user alone: a password written out is refused by `validate` (below).
    let url = format!("http://bob@{}/services/T0/B0/XyZsecretPath", addr(&h));
    env.workflow(
        "wh",
        &format!("name: wh\nsteps:\n  - {{name: a, run: 'true'}}\nnotify:\n  on_finish:\n    - webhook: {url}\n"),
    );
    assert_eq!(env.run(&["workflow", "run", "wh"]).code, 0);
    assert_eq!(h.count(), 1);
    let status = env.run(&["workflow", "status"]).stdout;
    assert!(
        status.contains(&format!("webhook: http://***@{}/***", addr(&h))),
        "{status}"
    );
    // What the delivery recorded (the definition in `run_started` holds the URL as written:
    // a URL that is a secret belongs in the environment or a secret input).
    let notes = env.status(None)["notifications"].to_string();
    assert!(notes.contains("http://***@"), "{notes}");
    assert!(
        !notes.contains("bob") && !notes.contains("XyZsecretPath"),
        "{notes}"
    );
}

/// A password written out in a webhook's URL (or a token-like query parameter) would be kept
/// in the run's log with the definition: `validate` refuses it where it is written, as it does
/// a secret `env:` value, without repeating it, and says to give it through `$VAR`; so given,
/// it is delivered and kept out of the log.
#[test]
fn a_password_written_out_in_a_webhook_url_is_refused_and_one_from_the_environment_is_not() {
    let env = Env::new();
    let h = hook(&[200]);
    for (name, url) in [
        ("wh", format!("http://user:hunter2pass@{}/x", addr(&h))),
        (
            "wq",
            format!("http://{}/x?channel=a&token=hunter2pass", addr(&h)),
        ),
    ] {
        env.workflow(
            name,
            &format!(
                "name: {name}\nsteps:\n  - name: a\n    run: \"true\"\nnotify:\n  on_finish:\n    - webhook: \"{url}\"\n"
            ),
        );
        let out = env.run(&["--json", "workflow", "validate", name]);
        assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
        let text = out.stdout.clone() + &out.stderr;
        let errors = out.located_errors();
        assert_eq!(errors.len(), 1, "{text}");
        assert_eq!((errors[0].1, errors[0].2), (7, 16), "{text}");
        assert!(errors[0].0.contains("kept in the run's log"), "{errors:?}");
        let doc = out.json();
        assert!(doc.to_string().contains("$VAR"), "{doc}");
        assert!(
            !doc["errors"].to_string().contains("hunter2pass"),
            "the message does not repeat it: {doc}"
        );
        assert_eq!(env.run(&["workflow", "run", name]).code, 2);
    }
    env.workflow(
        "wv",
        &format!(
            "name: wv\nsteps:\n  - name: a\n    run: \"true\"\nnotify:\n  on_finish:\n    - webhook: \"http://user:$HOOK_PASSWORD@{}/x\"\n",
            addr(&h)
        ),
    );
    let run = env.run_with(
        &["workflow", "run", "wv"],
        &[("HOOK_PASSWORD", "hunter2pass")],
    );
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert_eq!(h.received(1).len(), 1);
    assert!(
        env.log_holding("hunter2pass").is_empty(),
        "the log holds the password"
    );
    // Its delivery line names the URL once: its resolved form masks to the same.
    let status = env.run(&["workflow", "status", "wv"]).stdout;
    let line = status
        .lines()
        .find(|l| l.contains("on_finish"))
        .unwrap_or_else(|| panic!("{status}"));
    assert!(
        line.contains(&format!("webhook: http://***@{}/***", addr(&h)))
            && line.matches("127.0.0.1").count() == 1,
        "{line}"
    );
}

/// A webhook holding a password and a token-like parameter written out is refused for both at
/// once: before, `validate` said the password, and only once it was fixed, the token.
#[test]
fn every_credential_written_out_in_a_webhook_is_reported_in_one_validate() {
    let env = Env::new();
    env.workflow(
        "both",
        "name: both\nsteps:\n  - name: a\n    run: \"true\"\nnotify:\n  on_failure:\n    - webhook: \"http://user:pw@127.0.0.1:9/fail?token=abc123\"\n",
    );
    let out = env.run(&["--json", "workflow", "validate", "both"]);
    assert_eq!(out.code, 2, "{}{}", out.stdout, out.stderr);
    let errors = out.located_errors();
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(errors[0].0.contains("password"), "{errors:?}");
    assert!(errors[1].0.contains("`token`"), "{errors:?}");
    assert!(!out.stdout.contains("abc123"), "{}", out.stdout);
    let human = env.run(&["workflow", "validate", "both"]);
    let text = human.stdout.clone() + &human.stderr;
    assert!(
        text.contains("has a password written out") && text.contains("query parameter `token`"),
        "{text}"
    );
}

#[test]
fn deliveries_run_side_by_side_and_a_redirect_or_a_refusal_is_not_retried() {
    let env = Env::new();
    let redirect = hook(&[307]);
    let refused = hook(&[404]);
    let busy = hook(&[429, 200]);
    let silent = hook(&[0]);
    // Two commands that each wait for the other to have started: delivered one after the
    // other, the first would give up; side by side both are delivered.
    let meet = |me: &str, other: &str| {
        format!(
            "    - run: touch {me}; for i in $(seq 100); do test -f {other} && exit 0; sleep 0.1; done; exit 1\n      retries: 0\n"
        )
    };
    env.workflow(
        "many",
        &format!(
            "name: many\nsteps:\n  - {{name: a, run: 'true'}}\nnotify:\n  on_finish:\n    - webhook: {}\n      retries: 3\n    - webhook: {}\n      retries: 3\n    - webhook: {}\n      retries: 3\n    - webhook: {}\n      retries: 0\n      timeout: 1s\n{}{}",
            redirect.url,
            refused.url,
            busy.url,
            silent.url,
            meet("one", "two"),
            meet("two", "one"),
        ),
    );
    let out = env.run(&["workflow", "run", "many"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stderr.contains("delivering 6 notifications…"),
        "{}",
        out.stderr
    );
    assert_eq!(redirect.count(), 1, "a 307 tried again");
    assert_eq!(refused.count(), 1, "a 404 tried again");
    assert_eq!(busy.count(), 2, "a 429 is worth another try");
    let notes = env.status(None)["notifications"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(notes.len(), 6);
    // Each is recorded as it lands, so in the order they came to an end.
    let of = |url: &str| {
        let port = url.split(':').nth(2).unwrap().split('/').next().unwrap();
        notes
            .iter()
            .find(|n| {
                n["notification"]
                    .as_str()
                    .unwrap()
                    .contains(&format!(":{port}/"))
            })
            .unwrap_or_else(|| panic!("{url} in {notes:?}"))
            .clone()
    };
    let (redirected, refusal, answered, unanswered) = (
        of(&redirect.url),
        of(&refused.url),
        of(&busy.url),
        of(&silent.url),
    );
    assert_eq!(
        [&redirected, &refusal, &answered, &unanswered].map(|n| n["ok"].as_bool().unwrap()),
        [false, false, true, false],
        "{notes:?}"
    );
    let commands: Vec<&serde_json::Value> = notes
        .iter()
        .filter(|n| n["notification"].as_str().unwrap().starts_with("run: "))
        .collect();
    assert!(commands.iter().all(|n| n["ok"] == true), "{notes:?}");
    assert!(
        redirected["detail"]
            .as_str()
            .unwrap()
            .contains("redirect, not followed")
    );
    assert!(
        unanswered["detail"]
            .as_str()
            .unwrap()
            .contains("no answer within")
    );
    // Each delivery's time is its own, when it came to an end: the one that waited 1 s for an
    // answer is stamped no earlier than 1 s after the run ended (a lower bound the wait itself
    // sets, whatever the machine's load; a time shared by the batch would be the run's end).
    let at = |t: &serde_json::Value| humantime::parse_rfc3339(t.as_str().unwrap()).unwrap();
    let ended = at(&env.status(None)["ended_at"]);
    assert!(
        at(&unanswered["time"]) >= ended + std::time::Duration::from_secs(1),
        "{notes:?}"
    );
}

#[test]
fn a_webhook_with_a_stray_dollar_or_an_unknown_input_is_refused_where_it_is_written() {
    let env = Env::new();
    env.workflow(
        "bad",
        "name: bad\nsteps:\n  - {name: a, run: 'true'}\nnotify:\n  on_failure:\n    - webhook: https://h/$1\n    - webhook: \"${{ inputs.nope }}\"\n    - webhook: \"${{ steps.a.outputs.url }}\"\n",
    );
    let out = env.run(&["--json", "workflow", "validate", "bad"]);
    assert_eq!(out.code, 2, "{}", out.stdout);
    out.assert_error_on_line("starts an environment variable", 6);
    out.assert_error_on_line("unknown input `nope`", 7);
    out.assert_error_on_line("inputs only", 8);
}

/// `webhook: ""` passed `validate` (no text, so read as if all variables) and failed every
/// delivery, shown as `***`: refused at its line, as a blank one is.
#[test]
fn an_empty_webhook_is_refused_where_it_is_written() {
    let env = Env::new();
    env.workflow(
        "empty",
        "name: empty\nsteps:\n  - {name: a, run: 'true'}\nnotify:\n  on_failure:\n    - webhook: \"\"\n    - webhook: \"   \"\n",
    );
    let out = env.run(&["--json", "workflow", "validate", "empty"]);
    assert_eq!(out.code, 2, "{}", out.stdout);
    out.assert_error_on_line("webhook is empty", 6);
    out.assert_error_on_line("webhook", 7);
}

/// A template in a notification's command is refused where it is written, with what to read
/// instead: it is not rendered, and before it passed `validate` and failed only at delivery
/// (`Bad substitution`, tried three times), in a workflow and a scenario alike.
#[test]
fn a_template_in_a_notification_command_is_refused_where_it_is_written() {
    let env = Env::new();
    env.workflow(
        "inj",
        "name: inj\nsteps:\n  - {name: a, run: 'true'}\nnotify:\n  on_finish:\n    - run: 'echo \"${{ steps.a.outputs.x }}\"'\n",
    );
    let out = env.run(&["--json", "workflow", "validate", "inj"]);
    assert_eq!(out.code, 2, "{}", out.stdout);
    out.assert_error_on_line("is not rendered", 6);
    assert!(out.stdout.contains("stdin"), "{}", out.stdout);
    env.scenario(
        "sinj",
        "name: sinj\ndescription: d\nphases:\n  - {name: a, description: a, run: 'true'}\nnotify:\n  on_failure:\n    - run: 'echo ${{ inputs.x }}'\n",
    );
    let out = env.run(&["--json", "orchestrate", "validate", "sinj"]);
    assert_eq!(out.code, 2, "{}", out.stdout);
    assert!(out.stdout.contains("is not rendered"), "{}", out.stdout);
}

/// A receiver that accepts and reads nothing, never answering: a delivery to it waits for its
/// whole timeout.
fn silent_receiver() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hang", listener.local_addr().unwrap());
    (listener, url)
}

/// N2: an abort through the server answers at once; the deliveries it set off go on in the
/// server's background, each shown in the run's status as it lands; one to a receiver that
/// never answers (600 s allowed, more than the client waits) is stopped when the server is,
/// and recorded as not delivered.
#[test]
fn an_action_through_the_server_answers_before_its_notifications_are_delivered() {
    let env = Env::new();
    let (_listener, hang) = silent_receiver();
    let answers = hook(&[200]);
    env.workflow(
        "hangab",
        &format!(
            "name: hangab\nsteps: [{{name: ask, prompt: wait here}}]\nnotify:\n  on_finish:\n    - webhook: {hang}\n      timeout: 600s\n      retries: 0\n    - webhook: {}\n",
            answers.url
        ),
    );
    let mut s = server::Server::start(&env);
    let started = s.post("/api/v1/workflows/hangab/runs", "{}");
    assert!(started.status < 300, "{started:?}");
    let run = started.json()["run_id"].as_str().unwrap().to_string();
    server::eventually(30, "the run to wait on its prompt", || {
        (env.status(Some(&run))["status"] == "waiting").then_some(())
    });
    // The client gives up after 60 s: the answer cannot be waiting for the 600 s delivery.
    let aborted = s.post(&format!("/api/v1/runs/{run}/abort"), "{}");
    assert_eq!(aborted.status, 200, "{aborted:?}");
    assert_eq!(aborted.json()["status"], "aborted");
    let landed = server::eventually(30, "the answered delivery in the status", || {
        let status = env.status(Some(&run));
        let notes = status["notifications"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        (!notes.is_empty()).then_some(notes)
    });
    assert_eq!(
        landed.len(),
        1,
        "only the answered one has landed: {landed:?}"
    );
    assert_eq!(landed[0]["ok"], true, "{landed:?}");
    assert_eq!(answers.count(), 1);
    // Stopped, the server waits a few seconds for the one still under way, then records it
    // as not delivered.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(s.pid() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let exit = s.wait_for_exit(60).expect("the server ends once stopped");
    assert!(exit.success(), "{exit:?}");
    let notes = env.status(Some(&run))["notifications"].clone();
    let stopped = notes
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["ok"] == false)
        .unwrap_or_else(|| panic!("the hanging one is recorded: {notes}"));
    assert_eq!(stopped["trigger"], "on_finish");
    assert!(
        stopped["detail"]
            .as_str()
            .unwrap()
            .contains("not delivered")
            && stopped["detail"].as_str().unwrap().contains("SIGTERM"),
        "{stopped}"
    );
    // Nothing is delivered twice: a second look finds both recorded.
    assert_eq!(notes.as_array().unwrap().len(), 2, "{notes}");
}

/// N3: the first Ctrl-C while a command delivers its notifications ends the wait at once
/// (here a receiver that never answers, with 600 s allowed): what was not delivered is
/// recorded so, and a line says so.
#[test]
fn ctrl_c_while_notifications_are_delivered_ends_the_wait_and_records_them_as_not_delivered() {
    use std::process::Stdio;
    let env = Env::new();
    let (_listener, hang) = silent_receiver();
    env.workflow(
        "wh5",
        &format!(
            "name: wh5\nsteps: [{{name: one, run: echo one}}]\nnotify:\n  on_finish:\n    - webhook: {hang}\n      timeout: 600s\n    - webhook: {hang}\n      timeout: 600s\n"
        ),
    );
    let mut child = env
        .command(&["workflow", "run", "wh5"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut said = String::new();
    while !said.contains("delivering 2 notifications") {
        let mut line = String::new();
        assert!(stderr.read_line(&mut line).unwrap() > 0, "{said}");
        said.push_str(&line);
    }
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let until = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let code = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.code();
        }
        assert!(
            std::time::Instant::now() < until,
            "Ctrl-C did not end the wait"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    stderr.read_to_string(&mut said).unwrap();
    assert_eq!(code, Some(0), "the run completed: {said}");
    assert!(
        said.contains("SIGINT: stopped waiting for the notifications; 2 of 2 not delivered"),
        "{said}"
    );
    // The command it names works as it is pasted.
    let shows = said
        .split('`')
        .find(|c| c.starts_with("cortex workflow status "))
        .unwrap_or_else(|| panic!("a status command to paste: {said}"));
    let args: Vec<&str> = shows.split_whitespace().skip(1).collect();
    assert_eq!(env.run(&args).code, 0, "{shows}");
    let status = env.status(None);
    let notes = status["notifications"].as_array().unwrap();
    assert_eq!(notes.len(), 2, "{notes:?}");
    for n in notes {
        assert_eq!(n["ok"], false, "{n}");
        assert!(n["detail"].as_str().unwrap().contains("SIGINT"), "{n}");
    }
}

/// N8: a webhook whose host does not resolve is tried once (a lookup that fails for a while
/// — EAI_AGAIN — is retried; a name that has no address is not).
#[test]
fn a_webhook_whose_host_does_not_resolve_is_not_tried_again() {
    let env = Env::new();
    failing_workflow(
        &env,
        "notify:\n  on_failure:\n    - webhook: http://no-such-host.invalid/x\n      retries: 3\n",
    );
    let out = env.run(&["workflow", "run", "fails"]);
    assert_eq!(out.code, 1);
    let note = &env.status(None)["notifications"][0];
    assert_eq!(note["ok"], false, "{note}");
    assert_eq!(note["attempts"], 1, "{note}");
    assert!(
        note["detail"]
            .as_str()
            .unwrap()
            .contains("does not resolve"),
        "{note}"
    );
}

/// N6.2: a run with a secret input (one its webhook is made of) started from the server can
/// go on from the page after the server restarted (it no longer holds the value): the Resume
/// form has a password field for each secret input, and the value given there reaches the
/// driver (the webhook made of it is delivered). The run form shows that input as a password.
#[test]
fn the_pages_resume_form_gives_a_secret_input_again_and_the_run_form_hides_it() {
    let env = Env::new();
    let h = hook(&[200]);
    env.workflow(
        "wh2",
        "name: wh2\ninputs: {hook: {type: string}}\nsteps:\n  - name: b\n    run: test -f ok || { touch ok; exit 1; }\n    retry: {max_retry_attempts: 0}\nnotify:\n  on_finish:\n    - webhook: \"${{ inputs.hook }}\"\n",
    );
    let s = server::Server::start(&env);
    let form = s.get("/catalog/workflows/wh2").body;
    assert!(
        form.contains(r#"type="password" name="input.hook""#),
        "the secret input is a password field: {form}"
    );
    let started = s.post(
        "/api/v1/workflows/wh2/runs",
        &serde_json::json!({"inputs": {"hook": h.url}}).to_string(),
    );
    assert!(started.status < 300, "{started:?}");
    let run = started.json()["run_id"].as_str().unwrap().to_string();
    server::eventually(30, "the run to fail and its on_finish to land", || {
        (env.status(Some(&run))["status"] == "failed" && h.count() == 1).then_some(())
    });
    drop(s);
    // A new server holds no secret value: the page asks for it.
    let s = server::Server::start(&env);
    let page = s.get(&format!("/runs/{run}")).body;
    assert!(
        page.contains(r#"type="password" name="input.hook""#),
        "the Resume form asks for the secret input: {page}"
    );
    let encoded: String = h
        .url
        .bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'.' | b'-' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    let r = s.post_with(
        &format!("/runs/{run}/resume"),
        &format!("token={}&mode=retry&input.hook={encoded}", server::TOKEN),
        &[("content-type", "application/x-www-form-urlencoded")],
    );
    assert!(r.status < 400, "{}: {}", r.status, r.body);
    server::eventually(30, "the resumed run to complete and notify", || {
        (env.status(Some(&run))["status"] == "completed" && h.count() == 2).then_some(())
    });
    let export = env.run(&["log", "export"]);
    assert_eq!(export.code, 0, "{}", export.stderr);
    assert!(
        !export.stdout.contains(&h.url),
        "the secret is never recorded"
    );
}

/// Run workflow `name` and SIGKILL its driver once `h` received its first delivery (which
/// it answers with an error, so that the driver was to try again).
fn killed_after_the_first_delivery(env: &Env, h: &Hook, name: &str) {
    killed_once(env, &["workflow", "run", name], || {
        h.received(1);
    });
}

/// Start `args` (a driver), and SIGKILL it once `ready` returns.
fn killed_once(env: &Env, args: &[&str], ready: impl FnOnce()) {
    let mut child = env.spawn(args);
    ready();
    child.kill().unwrap();
    child.wait().unwrap();
}

/// A delivery cut short by the driver's death (SIGKILL while a webhook that answered 500 was
/// to be tried again) is not lost: `status` shows it as still due, naming the command that
/// delivers it; `resume` of the finished run delivers it (and says so), recorded as any
/// delivery; a second `resume` has nothing left to do.
#[test]
fn a_notification_its_driver_died_delivering_is_delivered_by_the_next_resume() {
    let env = Env::new();
    let h = hook(&[500, 200]);
    env.workflow(
        "nf",
        &format!(
            "name: nf\nsteps:\n  - name: a\n    run: echo done\nnotify:\n  on_finish:\n    - webhook: {}\n",
            h.url
        ),
    );
    killed_after_the_first_delivery(&env, &h, "nf");
    let status = env.status(None);
    assert_eq!(status["status"], "completed", "{status}");
    assert!(status.get("notifications").is_none(), "{status}");
    let pending = status["notifications_pending"].as_array().unwrap();
    assert_eq!(pending.len(), 1, "{status}");
    assert_eq!(pending[0]["trigger"], "on_finish");
    let run = status["run_id"].as_str().unwrap().to_string();
    let human = env.run(&["workflow", "status"]).stdout;
    assert!(
        human.contains(&format!(
            "not delivered yet: `cortex workflow resume {run}` delivers it"
        )),
        "{human}"
    );
    let resumed = env.run(&["workflow", "resume", &run]);
    assert_eq!(resumed.code, 0, "{}{}", resumed.stdout, resumed.stderr);
    assert!(
        resumed.stdout.contains("the 1 notification still due"),
        "{}",
        resumed.stdout
    );
    assert_eq!(h.received(2).len(), 2);
    let status = env.status(None);
    let notes = status["notifications"].as_array().unwrap();
    assert_eq!(notes.len(), 1, "{status}");
    assert_eq!(notes[0]["ok"], true, "{status}");
    assert_eq!(notes[0]["status"], "completed", "{status}");
    assert!(status.get("notifications_pending").is_none(), "{status}");
    let again = env.run(&["workflow", "resume", &run]);
    assert!(again.stdout.contains("nothing to do"), "{}", again.stdout);
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(h.count(), 2, "delivered once");
}

/// Seen by a review: the API's resume of a finished run with a notification still due (its
/// driver SIGKILLed while delivering it) answered "nothing to do", `next: []`, and the
/// notification stayed due for good — the CLI's `resume` delivers it. The API (and the run
/// page's form, the same route) resumes as the CLI does: the notification is delivered and
/// recorded, and the answer carries what became of it; a second resume has nothing to do.
#[test]
fn an_api_resume_of_a_finished_run_delivers_its_notifications_still_due() {
    let env = Env::new();
    let h = hook(&[500, 200]);
    env.workflow(
        "anf",
        &format!(
            "name: anf\nsteps:\n  - name: a\n    run: echo done\nnotify:\n  on_finish:\n    - webhook: {}\n",
            h.url
        ),
    );
    killed_after_the_first_delivery(&env, &h, "anf");
    let status = env.status(None);
    assert_eq!(status["status"], "completed", "{status}");
    assert_eq!(
        status["notifications_pending"].as_array().map(Vec::len),
        Some(1),
        "{status}"
    );
    let run = status["run_id"].as_str().unwrap().to_string();
    // Not delivered by the server's own sweep first: the resume is what is tested.
    let s = server::Server::start_without_sweep(&env);
    let r = s.post(&format!("/api/v1/runs/{run}/resume"), "{}");
    assert_eq!(r.status, 200, "{r:?}");
    let doc = r.json();
    assert_eq!(doc["status"], "completed", "{doc}");
    let told = doc["notifications"]
        .as_array()
        .into_iter()
        .chain(doc["notifications_pending"].as_array())
        .flatten()
        .count();
    assert_eq!(told, 1, "the answer says what became of it: {doc}");
    assert!(
        !doc["note"].as_str().unwrap_or("").contains("nothing to do"),
        "{doc}"
    );
    assert_eq!(h.received(2).len(), 2);
    let landed = server::eventually(30, "the delivery recorded", || {
        let status = env.status(Some(&run));
        (status.get("notifications_pending").is_none()).then_some(status)
    });
    let notes = landed["notifications"].as_array().unwrap();
    assert_eq!(notes.len(), 1, "{landed}");
    assert_eq!(notes[0]["ok"], true, "{landed}");
    let again = s.post(&format!("/api/v1/runs/{run}/resume"), "{}");
    assert_eq!(again.status, 200, "{again:?}");
    assert!(
        again.json()["note"]
            .as_str()
            .unwrap_or("")
            .contains("nothing to do"),
        "{again:?}"
    );
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(h.count(), 2, "delivered once");
}

/// Seen by a review: the `resume` that status suggests for a notification still due, run
/// without the secret input its webhook URL reads, used the delivery up on an unknown input
/// (recorded failed, never to be made). It refuses instead (exit 2, naming the input), and
/// the resume that gives it delivers.
#[test]
fn a_due_notification_reading_a_secret_input_waits_for_that_input() {
    let env = Env::new();
    let h = hook(&[500, 200]);
    env.workflow(
        "sf",
        "name: sf\ninputs:\n  hook_secret: {type: string}\nsteps:\n  - name: a\n    run: echo done\nnotify:\n  on_finish:\n    - webhook: \"${{ inputs.hook_secret }}\"\n",
    );
    killed_once(
        &env,
        &[
            "workflow",
            "run",
            "sf",
            "--input",
            &format!("hook_secret={}", h.url),
        ],
        || {
            h.received(1);
        },
    );
    let run = env.status(None)["run_id"].as_str().unwrap().to_string();
    let refused = env.run(&["workflow", "resume", &run]);
    assert_eq!(refused.code, 2, "{}{}", refused.stdout, refused.stderr);
    assert!(refused.stderr.contains("hook_secret"), "{}", refused.stderr);
    let given = env.run(&[
        "workflow",
        "resume",
        &run,
        "--input",
        &format!("hook_secret={}", h.url),
    ]);
    assert_eq!(given.code, 0, "{}{}", given.stdout, given.stderr);
    assert_eq!(
        h.received(2).len(),
        2,
        "delivered by the resume that gave the input"
    );
}

/// The same for a run paused on a failure: the `on_failure` its driver died delivering is
/// delivered by the `resume` that goes on (before the new session would make it never due
/// again), once.
#[test]
fn an_on_failure_its_driver_died_delivering_is_delivered_by_the_resume_that_goes_on() {
    let env = Env::new();
    let h = hook(&[500, 200]);
    env.workflow(
        "pf",
        &format!(
            "name: pf\nsteps:\n  - name: a\n    run: test -f ok\n    retry: {{max_retry_attempts: 0}}\nnotify:\n  on_failure:\n    - webhook: {}\n",
            h.url
        ),
    );
    killed_after_the_first_delivery(&env, &h, "pf");
    let status = env.status(None);
    assert_eq!(status["status"], "failed", "{status}");
    assert_eq!(
        status["notifications_pending"][0]["trigger"], "on_failure",
        "{status}"
    );
    std::fs::write(env.project().join("ok"), "").unwrap();
    let resumed = env.run(&["workflow", "resume"]);
    assert_eq!(resumed.code, 0, "{}{}", resumed.stdout, resumed.stderr);
    assert_eq!(h.received(2).len(), 2);
    let status = env.status(None);
    assert_eq!(status["status"], "completed", "{status}");
    let notes = status["notifications"].as_array().unwrap();
    assert_eq!(notes.len(), 1, "{status}");
    assert_eq!(
        (notes[0]["ok"].clone(), notes[0]["status"].clone()),
        (serde_json::json!(true), serde_json::json!("failed")),
        "{status}"
    );
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(h.count(), 2, "delivered once");
}

/// The driver SIGKILLed while a webhook's POST is in flight, after the command beside it in the
/// same `on_finish` list was delivered and recorded: the webhook alone is still due — status
/// lists it (`notifications_pending`, "⏳ … due, not delivered yet"), `resume` delivers it, and
/// the command is not run again. Before, one recorded delivery of a list made the whole list
/// done: the webhook was lost silently and `resume` said "already finished; nothing to do".
#[test]
fn a_webhook_in_flight_when_its_driver_died_stays_due_after_its_sibling_was_recorded() {
    let env = Env::new();
    // The first POST is never answered (the driver dies waiting for it); the next is.
    let h = hook(&[0, 200]);
    env.workflow(
        "nw",
        &format!(
            "name: nw\nsteps:\n  - name: s\n    run: echo hi\nnotify:\n  on_finish:\n    - webhook: {}\n    - run: echo \"cmd notified\" >> cmd.log\n",
            h.url
        ),
    );
    killed_once(&env, &["workflow", "run", "nw"], || {
        h.received(1);
        common::wait_until("the command's delivery to be recorded", || {
            env.status(None)["notifications"]
                .as_array()
                .is_some_and(|n| !n.is_empty())
        });
    });
    let status = env.status(None);
    assert_eq!(status["status"], "completed", "{status}");
    let notes = status["notifications"].as_array().unwrap();
    assert_eq!(notes.len(), 1, "{status}");
    assert!(
        notes[0]["notification"]
            .as_str()
            .unwrap()
            .starts_with("run: "),
        "{status}"
    );
    let pending = status["notifications_pending"].as_array().unwrap();
    assert_eq!(pending.len(), 1, "{status}");
    assert!(
        pending[0]["notification"]
            .as_str()
            .unwrap()
            .starts_with("webhook: "),
        "{status}"
    );
    let run = status["run_id"].as_str().unwrap().to_string();
    let human = env.run(&["workflow", "status"]).stdout;
    assert!(
        human.contains("⏳ on_finish (completed): webhook: "),
        "{human}"
    );
    let resumed = env.run(&["workflow", "resume", &run]);
    assert_eq!(resumed.code, 0, "{}{}", resumed.stdout, resumed.stderr);
    assert!(
        resumed.stdout.contains("the 1 notification still due"),
        "{}",
        resumed.stdout
    );
    assert_eq!(h.received(2).len(), 2);
    let status = env.status(None);
    let notes = status["notifications"].as_array().unwrap();
    assert_eq!(notes.len(), 2, "{status}");
    assert!(notes.iter().all(|n| n["ok"] == true), "{status}");
    assert!(status.get("notifications_pending").is_none(), "{status}");
    let again = env.run(&["workflow", "resume", &run]);
    assert!(again.stdout.contains("nothing to do"), "{}", again.stdout);
    assert_eq!(
        common::lines(&env.project().join("cmd.log")),
        ["cmd notified"]
    );
    let verify = env.run(&["log", "verify"]);
    assert_eq!(verify.code, 0, "{}{}", verify.stdout, verify.stderr);
}

/// Seen by a review: with an `on_finish` notification still due (its driver killed while
/// delivering), the text said "`cortex workflow resume RUN` delivers it" but `--json`'s
/// `next` was empty. `next` carries that resume, with why, as the Next lines do.
#[test]
fn a_notification_still_due_is_suggested_in_next_as_the_resume_that_delivers_it() {
    let env = Env::new();
    let h = hook(&[500, 200]);
    env.workflow(
        "nd",
        &format!(
            "name: nd\nsteps:\n  - name: a\n    run: echo done\nnotify:\n  on_finish:\n    - webhook: {}\n",
            h.url
        ),
    );
    killed_after_the_first_delivery(&env, &h, "nd");
    let status = env.status(None);
    let run = status["run_id"].as_str().unwrap().to_string();
    let next = status["next"].as_array().unwrap();
    assert_eq!(next.len(), 1, "{status}");
    assert_eq!(
        next[0]["argv"],
        serde_json::json!(["cortex", "workflow", "resume", run]),
        "{status}"
    );
    assert!(
        next[0]["why"]
            .as_str()
            .unwrap()
            .contains("deliver the notification still due"),
        "{status}"
    );
    let human = env.run(&["workflow", "status"]).stdout;
    assert!(
        human.contains(&format!("Next:\n  cortex workflow resume {run}")),
        "{human}"
    );
    let resumed = env.run(&["workflow", "resume", &run]);
    assert_eq!(resumed.code, 0, "{}", resumed.text());
    assert_eq!(h.received(2).len(), 2);
    let status = env.status(None);
    assert_eq!(status["next"], serde_json::json!([]), "{status}");
}

/// Start run `name` and SIGKILL its driver once its notification command has started (it
/// appends to `started.log` first) and been noted. Returns the run's id.
fn killed_while_a_notification_command_runs(env: &Env, name: &str) -> String {
    killed_once(env, &["workflow", "run", name], || {
        // Started, and its group noted (the driver notes it right after starting it).
        common::wait_until("the notification command to start", || {
            !common::lines(&env.file("started.log")).is_empty()
                && env
                    .all_inflight_notes()
                    .iter()
                    .any(|n| n.contains("notify-"))
        });
    });
    env.status(None)["run_id"].as_str().unwrap().to_string()
}

/// Seen by a review: the driver SIGKILLed while an `on_failure` command ran, status suggested
/// a plain `resume` to "deliver the notification still due" — which ran the failed step
/// again (failing, paging again), while the command the dead driver started ran on and paged
/// too: the step ran twice, three pages. Now the command is noted (`notify-on_failure-0` in
/// the run's notes); status says it still runs and suggests `resume --notify-only`, which ends
/// it, delivers it once and runs no step; a second one has nothing to do.
#[test]
fn a_due_on_failure_is_delivered_alone_by_the_suggested_resume_which_ends_the_dead_drivers_command()
{
    let env = Env::new();
    env.workflow(
        "k",
        "name: k\nsteps:\n  - name: deploy\n    run: echo deploy >> deploys.log; exit 1\n    retry: {max_retry_attempts: 0}\nnotify:\n  on_failure:\n    - run: echo started >> started.log; sleep 3; echo paged >> paged.log\n",
    );
    let run = killed_while_a_notification_command_runs(&env, "k");
    let status = env.status(Some(&run));
    assert_eq!(status["status"], "failed", "{status}");
    let pending = &status["notifications_pending"][0];
    assert_eq!(pending["trigger"], "on_failure", "{status}");
    assert_eq!(pending["cut_short"], true, "{status}");
    assert_eq!(pending["still_running"], true, "{status}");
    let next = &status["next"][0];
    assert_eq!(
        next["argv"],
        serde_json::json!(["cortex", "workflow", "resume", run, "--notify-only"]),
        "{status}"
    );
    assert!(
        next["why"].as_str().unwrap().contains("and nothing else"),
        "{status}"
    );
    let human = env.run(&["workflow", "status", &run]).stdout;
    assert!(
        human.contains(&format!(
            "its driver died while this command ran, and it still runs; `cortex workflow resume {run} --notify-only` ends it, then delivers it again"
        )),
        "{human}"
    );
    let argv: Vec<&str> = next["argv"]
        .as_array()
        .unwrap()
        .iter()
        .skip(1)
        .map(|a| a.as_str().unwrap())
        .collect();
    let resumed = env.run(&argv);
    assert_eq!(
        resumed.code,
        1,
        "the run's code (failed): {}",
        resumed.text()
    );
    assert!(
        resumed.stdout.contains("Nothing else was done"),
        "{}",
        resumed.text()
    );
    assert!(
        resumed
            .stderr
            .contains("a notification command the previous driver left running"),
        "{}",
        resumed.text()
    );
    // The dead driver's command would have paged by now (3 s after it started) had it not
    // been ended; the resume's own delivery paged once.
    assert_eq!(common::lines(&env.file("deploys.log")), ["deploy"]);
    assert_eq!(common::lines(&env.file("started.log")).len(), 2);
    assert_eq!(common::lines(&env.file("paged.log")), ["paged"]);
    let status = env.status(Some(&run));
    assert_eq!(status["status"], "failed", "{status}");
    assert!(status.get("notifications_pending").is_none(), "{status}");
    assert_eq!(status["notifications"].as_array().unwrap().len(), 1);
    assert!(
        status["next"]
            .as_array()
            .unwrap()
            .iter()
            .all(|n| !n["argv"].to_string().contains("--notify-only")),
        "{status}"
    );
    let again = env.run(&["workflow", "resume", &run, "--notify-only"]);
    assert!(
        again
            .stdout
            .contains("no notification is due, so nothing was done"),
        "{}",
        again.text()
    );
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_eq!(common::lines(&env.file("deploys.log")), ["deploy"]);
    assert_eq!(common::lines(&env.file("paged.log")), ["paged"]);
}

/// The same for a completed run whose driver was SIGKILLed during its `on_finish` command:
/// the plain `resume` status suggests ends that command and delivers it once (before, it was
/// delivered twice: the dead driver's command ran on beside the resume's).
#[test]
fn a_completed_run_killed_during_on_finish_is_notified_once_by_the_resume() {
    let env = Env::new();
    env.workflow(
        "f",
        "name: f\nsteps:\n  - name: s\n    run: echo hi\nnotify:\n  on_finish:\n    - run: echo started >> started.log; sleep 3; echo finished >> finished.log\n",
    );
    let run = killed_while_a_notification_command_runs(&env, "f");
    let status = env.status(Some(&run));
    assert_eq!(status["status"], "completed", "{status}");
    assert_eq!(status["notifications_pending"][0]["still_running"], true);
    assert_eq!(
        status["next"][0]["argv"],
        serde_json::json!(["cortex", "workflow", "resume", run]),
        "{status}"
    );
    let resumed = env.run(&["workflow", "resume", &run]);
    assert_eq!(resumed.code, 0, "{}", resumed.text());
    assert!(
        resumed.stdout.contains("the 1 notification still due"),
        "{}",
        resumed.text()
    );
    assert_eq!(common::lines(&env.file("started.log")).len(), 2);
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_eq!(common::lines(&env.file("finished.log")), ["finished"]);
}

/// Seen by a review: `cortex worker` delivered the notifications a SIGKILLed driver left due,
/// but `cortex serve` — the other process a team keeps up — did not: the run kept them due
/// until someone typed `resume --notify-only`. The server delivers them as a worker does
/// (`ops::notify_sweep`): the dead driver's command ended first, then delivered once,
/// recorded, and said on its stderr; a run whose driver is alive and delivering is left to
/// it, whatever the server's passes find.
#[test]
fn the_server_delivers_once_what_a_dead_driver_left_due_and_leaves_a_live_drivers_alone() {
    let env = Env::new();
    env.workflow(
        "f",
        "name: f\nsteps:\n  - name: s\n    run: echo hi\nnotify:\n  on_finish:\n    - run: echo started >> started.log; sleep 3; echo finished >> finished.log\n",
    );
    env.workflow(
        "held",
        "name: held\nsteps:\n  - name: s\n    run: echo hi\nnotify:\n  on_finish:\n    - run: echo started >> held-started.log; while [ ! -e go ]; do sleep 0.05; done; echo finished >> held-finished.log\n",
    );
    let run = killed_while_a_notification_command_runs(&env, "f");
    assert_eq!(
        env.status(Some(&run))["notifications_pending"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    // A driver alive in its own `on_finish` (until `go`), holding its run.
    let mut alive = env.spawn(&["workflow", "run", "held"]);
    common::wait_until("the live driver's notification to start", || {
        !common::lines(&env.file("held-started.log")).is_empty()
    });
    let held = env.status(Some("held"))["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut s = server::Server::start(&env);
    common::wait_until("the server to deliver what the dead driver left", || {
        env.status(Some(&run))
            .get("notifications_pending")
            .is_none()
    });
    // Each pass looks at every run it delivers for and at the held one in the same read of
    // the run index: the held one was left alone.
    assert_eq!(common::lines(&env.file("held-started.log")), ["started"]);
    std::fs::write(env.file("go"), "").unwrap();
    assert!(alive.wait().unwrap().success());
    // Two more passes of the server's (one a second) with nothing left due.
    std::thread::sleep(std::time::Duration::from_millis(2500));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(s.pid() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    assert!(
        s.wait_for_exit(60)
            .expect("the server ends once stopped")
            .success()
    );
    // The dead driver's command was ended before the server delivered it again: one
    // `finished`, from the server's delivery.
    assert_eq!(common::lines(&env.file("started.log")).len(), 2);
    assert_eq!(common::lines(&env.file("finished.log")), ["finished"]);
    let status = env.status(Some(&run));
    let notes = status["notifications"].as_array().unwrap();
    assert_eq!(notes.len(), 1, "{status}");
    assert_eq!(notes[0]["ok"], true, "{status}");
    // The live driver delivered its own, once.
    assert_eq!(common::lines(&env.file("held-started.log")), ["started"]);
    assert_eq!(common::lines(&env.file("held-finished.log")), ["finished"]);
    let status = env.status(Some(&held));
    assert_eq!(
        status["notifications"].as_array().unwrap().len(),
        1,
        "{status}"
    );
    let said = s.stderr();
    assert_eq!(
        said.matches(&format!(
            "notify: Run {run}: delivered 1 notification still due (its driver ended before delivering it)"
        ))
        .count(),
        1,
        "{said}"
    );
    assert!(!said.contains(&held), "{said}");
    assert_eq!(env.run(&["log", "verify"]).code, 0);
}

/// At least once: a notification command that ended by itself after its driver died may have
/// done its work, and nothing recorded it. Status says so ("may have done its work"), not
/// plainly "not delivered yet"; the resume delivers it again.
#[test]
fn a_notification_command_that_outlived_its_dead_driver_is_said_to_be_maybe_delivered() {
    let env = Env::new();
    env.workflow(
        "m",
        "name: m\nsteps:\n  - name: s\n    run: echo hi\nnotify:\n  on_finish:\n    - run: echo started >> started.log; sleep 1; echo done >> done.log\n",
    );
    let run = killed_while_a_notification_command_runs(&env, "m");
    common::wait_until("the command to end", || {
        !common::lines(&env.file("done.log")).is_empty()
    });
    // Its group gone (the shell exits right after its last line).
    std::thread::sleep(std::time::Duration::from_millis(300));
    let status = env.status(Some(&run));
    let pending = &status["notifications_pending"][0];
    assert_eq!(pending["cut_short"], true, "{status}");
    assert_eq!(pending["still_running"], false, "{status}");
    let human = env.run(&["workflow", "status", &run]).stdout;
    assert!(
        human.contains(&format!(
            "due, not recorded as delivered: its driver died while this command ran, which may have done its work before it ended; `cortex workflow resume {run}` delivers it again"
        )),
        "{human}"
    );
    let resumed = env.run(&["workflow", "resume", &run]);
    assert_eq!(resumed.code, 0, "{}", resumed.text());
    assert_eq!(common::lines(&env.file("done.log")).len(), 2);
}

/// `resume --notify-only` of a run its driver still runs is held (exit 4), as a plain
/// `resume` is: before, it said the run `interrupted` ("its driver is gone") and suggested
/// `resume` and `abort`, which an agent pasting `next` would have run on a healthy run.
#[test]
fn notify_only_of_a_run_a_live_driver_holds_is_held_not_interrupted() {
    for kind in ["workflow", "orchestrate"] {
        let env = Env::new();
        if kind == "workflow" {
            env.workflow(
                "lv",
                "name: lv\nsteps:\n  - name: slow\n    run: touch started; sleep 5\n",
            );
        } else {
            env.scenario(
                "lv",
                "name: lv\ndescription: d\nphases:\n  - {name: slow, description: d, run: 'touch started; sleep 5'}\n",
            );
        }
        let mut driver = env.spawn(&[kind, "run", "lv"]);
        common::wait_until("the step to start", || env.file("started").exists());
        let out = env.run(&["--json", kind, "resume", "lv", "--notify-only"]);
        assert_eq!(out.code, 4, "{kind}: {}", out.text());
        assert!(
            !out.text().contains("driver is gone"),
            "{kind}: {}",
            out.text()
        );
        assert!(!out.stdout.contains("\"abort\""), "{kind}: {}", out.text());
        assert_eq!(driver.wait().unwrap().code(), Some(0), "{kind}");
    }
}

/// Seen by a review: the driver SIGKILLed while an `on_failure` command ran (the run paused
/// on the failure), `workflow abort` then paged `on_failure` again as `aborted` — a second
/// page for the same incident, recorded as if for the abort. Now the abort ends the dead
/// driver's command and delivers what the failure still owed first, for the end it was due
/// for (`failed`), recorded so; the abort's own end owes only `on_finish`.
#[test]
fn an_abort_after_a_driver_died_paging_delivers_the_failures_page_as_failed_not_aborted() {
    let env = Env::new();
    env.workflow(
        "k",
        // `on_finish` runs once `on_failure` is done: the driver, killed while `on_failure`
        // runs, never started it, so the failure still owes both.
        "name: k\nsteps:\n  - name: deploy\n    run: exit 1\n    retry: {max_retry_attempts: 0}\nnotify:\n  on_failure:\n    - run: echo started >> started.log; sleep 3; echo \"paged $CORTEX_RUN_STATUS\" >> paged.log\n  on_finish:\n    - run: echo \"finish $CORTEX_RUN_STATUS\" >> finish.log\n",
    );
    let run = killed_while_a_notification_command_runs(&env, "k");
    let aborted = env.run(&["workflow", "abort", &run]);
    assert_eq!(aborted.code, 1, "{}", aborted.text());
    assert!(
        aborted
            .stderr
            .contains("a notification command the previous driver left running"),
        "{}",
        aborted.text()
    );
    // Long enough for the dead driver's command to have paged, had it not been ended.
    std::thread::sleep(std::time::Duration::from_millis(3500));
    assert_eq!(common::lines(&env.file("paged.log")), ["paged failed"]);
    let status = env.status(Some(&run));
    assert_eq!(status["status"], "aborted", "{status}");
    assert!(status.get("notifications_pending").is_none(), "{status}");
    let sent: Vec<(String, String)> = status["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["trigger"].as_str().unwrap().to_string(),
                n["status"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let on_failure: Vec<_> = sent.iter().filter(|s| s.0 == "on_failure").collect();
    assert_eq!(on_failure.len(), 1, "{status}");
    assert_eq!(on_failure[0].1, "failed", "{status}");
    assert_eq!(
        common::lines(&env.file("finish.log")),
        ["finish failed", "finish aborted"]
    );
}

#[test]
fn a_runs_deliveries_are_exported_shown_and_verified_by_their_chain_id_redacted_as_recorded() {
    let env = Env::new();
    failing_workflow(
        &env,
        "notify:\n  on_failure:\n    - run: echo \"leaked $GITHUB_TOKEN\" >&2; exit 4\n      retries: 0\n",
    );
    let run = env.run_with(
        &["--json", "workflow", "run", "fails"],
        &[("GITHUB_TOKEN", "ghp_notifysecret123")],
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    let run_id = run.json()["run_id"].as_str().unwrap().to_string();
    let chain = format!("notify:{run_id}");
    // By its id, and by `notify:` and any way a run is named (here its workflow's name).
    for query in [chain.as_str(), "notify:fails"] {
        let export = env.run(&["log", "export", query]);
        assert_eq!(export.code, 0, "{query}: {}", export.stderr);
        let lines: Vec<serde_json::Value> = export
            .stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 1, "{}", export.stdout);
        assert_eq!(lines[0]["run_id"], chain.as_str());
        assert_eq!(lines[0]["type"], "notification_delivered");
        assert!(
            !export.stdout.contains("ghp_notifysecret123"),
            "{}",
            export.stdout
        );
        assert!(export.stdout.contains("leaked ***"), "{}", export.stdout);
    }
    // The export verifies on its own, as a run's does.
    let file = env.file("deliveries.jsonl");
    std::fs::write(&file, env.run(&["log", "export", &chain]).stdout).unwrap();
    let verified = env.run(&["--json", "log", "verify", "--file", file.to_str().unwrap()]);
    assert_eq!(verified.code, 0, "{}", verified.stderr);
    assert_eq!(verified.json()["chains"], 1, "{}", verified.stdout);
    let show = env.run(&["log", "show", &chain]);
    assert_eq!(show.code, 0, "{}", show.stderr);
    assert!(
        show.stdout.contains("notification_delivered"),
        "{}",
        show.stdout
    );
    let one = env.run(&["--json", "log", "verify", &chain]);
    assert_eq!(one.code, 0, "{}", one.stderr);
    assert_eq!(one.json()["ok"], true);
    // A name that is neither a run nor a chain lists the chains there are.
    let missing = env.run(&["log", "export", "nothing-like-it"]);
    assert_eq!(missing.code, 2);
    assert!(missing.stderr.contains(&chain), "{}", missing.stderr);
    // A run without deliveries says so.
    env.workflow("quiet", "name: quiet\nsteps:\n  - {name: a, run: 'true'}\n");
    assert_eq!(env.run(&["workflow", "run", "quiet"]).code, 0);
    let none = env.run(&["log", "export", "notify:quiet"]);
    assert_eq!(none.code, 2);
    assert!(
        none.stderr.contains("no notification deliveries recorded"),
        "{}",
        none.stderr
    );
}

/// Run workflow `name` with the environment variable `var` set to `hook`'s URL, and SIGKILL
/// its driver once the hook received its first POST, which it never answers: the driver dies
/// waiting for it, leaving it due. Returns the run's id.
fn killed_waiting_on_its_webhook(env: &Env, name: &str, (var, hook): (&str, &Hook)) -> String {
    let mut driver = env.command(&["workflow", "run", name]);
    driver
        .env(var, &hook.url)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let mut driver = driver.spawn().unwrap();
    hook.received(1);
    driver.kill().unwrap();
    driver.wait().unwrap();
    env.status(None)["run_id"].as_str().unwrap().to_string()
}

/// Seen by a review: a driver SIGKILLed with `webhook: $HOOK_URL_T` still due, and `cortex
/// serve` (started without that variable) "delivered" it: recorded not delivered ("environment
/// variable … is not set for the process that delivers it"), never to be made — a later
/// `resume --notify-only` with the variable set found nothing due. A process that lacks a due
/// webhook's variable now leaves it due, as it leaves one that reads a secret input it lacks:
/// the server says so once, `resume --notify-only` without it is refused (exit 2) naming it,
/// and with it set delivers it, once.
#[test]
fn a_dead_drivers_webhook_whose_variable_the_deliverer_lacks_is_left_due_not_used_up() {
    let env = Env::new();
    let h = hook(&[0, 200]);
    env.workflow(
        "wv",
        "name: wv\nsteps:\n  - name: s\n    run: echo hi\nnotify:\n  on_finish:\n    - webhook: $HOOK_URL_T\n",
    );
    let run = killed_waiting_on_its_webhook(&env, "wv", ("HOOK_URL_T", &h));
    let pending = |env: &Env| due_and_recorded(env, "workflow", &run).0;
    assert_eq!(pending(&env), 1, "{}", env.status(Some(&run)));
    let out = env.run(&["workflow", "resume", &run, "--notify-only"]);
    assert_eq!(out.code, 2, "{}", out.text());
    assert!(out.stderr.contains("`HOOK_URL_T`"), "{}", out.stderr);
    assert!(out.stderr.contains("set HOOK_URL_T"), "{}", out.stderr);
    assert_eq!(pending(&env), 1);
    // A server without the variable leaves it due, and says why once.
    let mut s = server::Server::start(&env);
    common::wait_until("the server to look at the run", || {
        s.stderr()
            .contains(&format!("Run {run}: its notifications still due"))
    });
    std::thread::sleep(std::time::Duration::from_millis(1500));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(s.pid() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    assert!(s.wait_for_exit(60).expect("the server ends").success());
    let said = s.stderr();
    assert_eq!(
        said.matches(&format!("Run {run}: its notifications still due"))
            .count(),
        1,
        "{said}"
    );
    assert!(
        said.contains("`HOOK_URL_T`, not set in this server's environment"),
        "{said}"
    );
    assert_eq!(pending(&env), 1);
    assert_eq!(h.count(), 1);
    // Given the variable, the resume delivers it, once.
    let out = env.run_with(
        &["workflow", "resume", &run, "--notify-only"],
        &[("HOOK_URL_T", h.url.as_str())],
    );
    assert_eq!(out.code, 0, "{}", out.text());
    assert_eq!(h.received(2).len(), 2);
    assert_eq!(pending(&env), 0);
    let status = env.status(Some(&run));
    let notes = status["notifications"].as_array().unwrap();
    assert_eq!(notes.len(), 1, "{status}");
    assert_eq!(notes[0]["ok"], true, "{status}");
}

/// Seen by a review: a driver that delivered its webhook `${{ inputs.hook }}` and was killed
/// in the command after it left only that command due, yet `resume --notify-only` asked for
/// the secret input `hook` (exit 2) that nothing still due reads, and a worker or server left
/// the run for good. What a process must be given is read from the notifications still due.
#[test]
fn a_command_left_due_does_not_wait_for_an_input_only_a_delivered_webhook_read() {
    let env = Env::new();
    let h = hook(&[200]);
    env.workflow(
        "wi",
        "name: wi\ninputs:\n  hook:\n    type: string\nsteps:\n  - name: s\n    run: echo hi\nnotify:\n  on_finish:\n    - webhook: ${{ inputs.hook }}\n    - run: echo started >> started.log; sleep 3; echo finished >> finished.log\n",
    );
    let hook_input = format!("hook={}", h.url);
    killed_once(
        &env,
        &["workflow", "run", "wi", "--input", &hook_input],
        || {
            // Deliveries run side by side: the command may start before the webhook is
            // sent, so the kill waits for the webhook's delivery to be recorded too.
            common::wait_until("the webhook delivered and the command started", || {
                !common::lines(&env.file("started.log")).is_empty()
                    && env
                        .all_inflight_notes()
                        .iter()
                        .any(|n| n.contains("notify-"))
                    && env.status(None)["notifications"]
                        .as_array()
                        .is_some_and(|d| !d.is_empty())
            });
        },
    );
    assert_eq!(h.received(1).len(), 1);
    let run = env.status(None)["run_id"].as_str().unwrap().to_string();
    let out = env.run(&["workflow", "resume", &run, "--notify-only"]);
    assert_eq!(out.code, 0, "{}", out.text());
    let status = env.status(Some(&run));
    assert!(status.get("notifications_pending").is_none(), "{status}");
    let notes = status["notifications"].as_array().unwrap();
    assert_eq!(notes.len(), 2, "{status}");
    assert!(notes.iter().all(|n| n["ok"] == true), "{status}");
    assert_eq!(common::lines(&env.file("finished.log")), ["finished"]);
    assert_eq!(h.count(), 1);
}

/// The notifications due of a run, by `kind status --json`: how many are still due, and the
/// deliveries recorded (made or given up).
fn due_and_recorded(env: &Env, kind: &str, run: &str) -> (usize, Vec<serde_json::Value>) {
    let status = env.run(&["--json", kind, "status", run]).json();
    let count = |key: &str| status.get(key).and_then(|v| v.as_array()).cloned();
    (
        count("notifications_pending").map_or(0, |p| p.len()),
        count("notifications").unwrap_or_default(),
    )
}

/// A run of `kind` (`workflow`, `orchestrate`) left waiting on a person — workflow `gate`'s
/// prompt step `ask`, or scenario `gate`'s manual phase `m` — whose `notify:` has one webhook
/// under `trigger`, made of the environment variable `var` (nothing is due before its end, so
/// its start is not given it). Its id.
fn waiting_run_hooked(env: &Env, kind: &str, (trigger, var): (&str, &str)) -> String {
    let notify = format!("notify:\n  {trigger}:\n    - webhook: ${var}\n");
    match kind {
        "orchestrate" => env.scenario(
            "gate",
            &format!(
                "name: gate\ndescription: d\nphases:\n  - {{name: m, description: m, condition: manual}}\n{notify}"
            ),
        ),
        _ => env.workflow(
            "gate",
            &format!("name: gate\nsteps:\n  - {{name: ask, prompt: wait here}}\n{notify}"),
        ),
    };
    env.run(&["--json", kind, "run", "gate"]).json()["run_id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// `end_it` (a command that brings run `run` of `kind` to its end `end`, run without the
/// environment variable `var` that a webhook due then is made of; it answers what it said,
/// its stderr or its warnings), then `KIND resume RUN --notify-only` with `var` set to
/// `hook`'s URL: the command's own change lands, but it leaves the run's notifications due —
/// nothing recorded (given up or made), nothing more POSTed — and says so once, with the
/// command that delivers them; that command delivers them, once, recorded for `end` — or for
/// `owed` when given (the end that made it due, `failed` for a failure's page).
fn ended_without_it_then_delivered_with_it(
    env: &Env,
    (kind, run, end): (&str, &str, &str),
    (var, hook): (&str, &Hook),
    owed: Option<&str>,
    end_it: impl FnOnce() -> String,
) {
    let posted = hook.count();
    let said = end_it();
    assert_eq!(
        said.matches("its notifications still due").count(),
        1,
        "{said}"
    );
    assert!(
        said.contains(&format!("`{var}`, not set in this"))
            && said.contains(&format!("{kind} resume {run} --notify-only")),
        "{said}"
    );
    let status = env.run(&["--json", kind, "status", run]).json();
    assert_eq!(status["status"], end, "{status}");
    assert_eq!(due_and_recorded(env, kind, run), (1, Vec::new()));
    assert_eq!(hook.count(), posted);
    let out = env.run_with(
        &[kind, "resume", run, "--notify-only"],
        &[(var, hook.url.as_str())],
    );
    let code = if end == "completed" { 0 } else { 1 };
    assert_eq!(out.code, code, "{}", out.text());
    assert_eq!(hook.received(posted + 1).len(), posted + 1);
    let (due, recorded) = due_and_recorded(env, kind, run);
    assert_eq!((due, recorded.len()), (0, 1), "{recorded:?}");
    assert_eq!(recorded[0]["ok"], true, "{recorded:?}");
    assert_eq!(recorded[0]["status"], owed.unwrap_or(end), "{recorded:?}");
}

/// What `args`, run in `env`, says on stderr; it exits `code`.
fn stderr_of(env: &Env, args: &[&str], code: i32) -> String {
    let out = env.run(args);
    assert_eq!(out.code, code, "{}", out.text());
    out.stderr
}

/// `KIND abort RUN` without the environment variable `var` a webhook still due is made of:
/// `ended_without_it_then_delivered_with_it`, the run `aborted` (its page recorded for `owed`,
/// else `aborted`).
fn aborted_without_it_then_delivered_with_it(
    env: &Env,
    (kind, run): (&str, &str),
    (var, hook): (&str, &Hook),
    owed: Option<&str>,
) {
    ended_without_it_then_delivered_with_it(env, (kind, run, "aborted"), (var, hook), owed, || {
        stderr_of(env, &[kind, "abort", run], 1)
    });
}

/// Seen by a review: `resume` refuses to deliver a webhook made of a variable it lacks (it
/// would be recorded not delivered, never to be made), but `orchestrate abort` — which
/// delivers the aborted run's `on_finish` itself — did so without one: the page was used up,
/// recorded given up. An abort now leaves such notifications due and says so once, with the
/// command that delivers them; given the variable, that command delivers them, once.
#[test]
fn an_abort_without_a_webhooks_variable_leaves_its_notifications_due_not_used_up() {
    let env = Env::new();
    let h = hook(&[200]);
    let run = waiting_run_hooked(&env, "orchestrate", ("on_finish", "HOOK_URL_AB"));
    aborted_without_it_then_delivered_with_it(
        &env,
        ("orchestrate", &run),
        ("HOOK_URL_AB", &h),
        None,
    );
}

/// The same rule where an abort follows what a driver that died paging left due (the run
/// paused on a failure): lacking the webhook's variable, the abort leaves the page due — for
/// the end that made it due, `failed`, the same incident — said once, not once for the
/// failure and again for the abort; nothing is recorded given up.
#[test]
fn an_abort_after_a_driver_died_paging_leaves_a_webhook_whose_variable_it_lacks_due() {
    let env = Env::new();
    let h = hook(&[0, 200]);
    env.workflow(
        "abd",
        "name: abd\nsteps:\n  - name: deploy\n    run: exit 1\n    retry: {max_retry_attempts: 0}\nnotify:\n  on_failure:\n    - webhook: $HOOK_URL_AB\n",
    );
    let run = killed_waiting_on_its_webhook(&env, "abd", ("HOOK_URL_AB", &h));
    assert_eq!(due_and_recorded(&env, "workflow", &run).0, 1);
    aborted_without_it_then_delivered_with_it(
        &env,
        ("workflow", &run),
        ("HOOK_URL_AB", &h),
        Some("failed"),
    );
}

/// Seen by a review: the rule that leaves a webhook due when the process lacks its variable
/// held for `resume`, an abort and the sweeps, but not for a report: `workflow step complete`
/// from a terminal without `$HOOK_URL_RP` (the usual case: the run was started elsewhere)
/// ended the run and used its webhook up, recorded "not delivered … not set", never to be
/// made. The report lands; the webhook is left due, said once, and the command named
/// delivers it.
#[test]
fn a_report_that_ends_a_run_without_the_webhooks_variable_leaves_it_due() {
    let env = Env::new();
    let h = hook(&[200]);
    let run = waiting_run_hooked(&env, "workflow", ("on_finish", "HOOK_URL_RP"));
    ended_without_it_then_delivered_with_it(
        &env,
        ("workflow", &run, "completed"),
        ("HOOK_URL_RP", &h),
        None,
        || {
            stderr_of(
                &env,
                &["workflow", "step", "complete", "ask", "--run", &run],
                0,
            )
        },
    );
}

/// The same for a scenario's phase reported failed (`orchestrate fail`, which records and
/// answers by a path of its own): the run pauses on the failure, its `on_failure` webhook is
/// left due, said once, then delivered for `failed` by the command named.
#[test]
fn a_phase_reported_failed_without_the_webhooks_variable_leaves_its_page_due() {
    let env = Env::new();
    let h = hook(&[200]);
    let run = waiting_run_hooked(&env, "orchestrate", ("on_failure", "HOOK_URL_PF"));
    let started = env.run(&["orchestrate", "start", &run, "m"]);
    assert_eq!(started.code, 3, "{}", started.text());
    ended_without_it_then_delivered_with_it(
        &env,
        ("orchestrate", &run, "failed"),
        ("HOOK_URL_PF", &h),
        None,
        || stderr_of(&env, &["orchestrate", "fail", &run, "m"], 1),
    );
}

/// The same where a `resume` carries out an abort its dead driver never acted on: the abort
/// is recorded, the run ends `aborted`, and its webhook, made of a variable the resume lacks,
/// is left due rather than used up.
#[test]
fn a_resume_that_carries_out_a_pending_abort_leaves_a_webhook_it_lacks_due() {
    let env = Env::new();
    let h = hook(&[200]);
    env.workflow(
        "pa",
        "name: pa\nsteps:\n  - {name: a, run: 'sleep 30'}\nnotify:\n  on_finish:\n    - webhook: $HOOK_URL_PA\n",
    );
    common::driver_dies_before_acting_on(
        &env,
        &["workflow", "run", "pa"],
        &["workflow", "abort", "pa"],
    );
    let run = env.status(None)["run_id"].as_str().unwrap().to_string();
    ended_without_it_then_delivered_with_it(
        &env,
        ("workflow", &run, "aborted"),
        ("HOOK_URL_PA", &h),
        None,
        || {
            let resumed = env.run(&["workflow", "resume", &run]);
            assert_eq!(resumed.code, 1, "{}", resumed.text());
            assert!(
                resumed.stdout.contains("was aborted by"),
                "{}",
                resumed.stdout
            );
            resumed.stderr
        },
    );
}

/// And through the HTTP API: a step reported complete to a server started without the
/// variable (its own sweep off, so that only the action speaks) ends the run, and its answer
/// says, once among its warnings, that the webhook is left due; the command named delivers it.
#[test]
fn an_api_report_that_ends_a_run_leaves_a_webhook_the_server_lacks_due() {
    let env = Env::new();
    let h = hook(&[200]);
    let run = waiting_run_hooked(&env, "workflow", ("on_finish", "HOOK_URL_AR"));
    let s = server::Server::start_without_sweep(&env);
    ended_without_it_then_delivered_with_it(
        &env,
        ("workflow", &run, "completed"),
        ("HOOK_URL_AR", &h),
        None,
        || {
            let done = s.post(&format!("/api/v1/runs/{run}/steps/ask/complete"), "{}");
            assert_eq!(done.status, 200, "{done:?}");
            let warnings = done.json()["warnings"].to_string();
            assert!(warnings.contains("this server's environment"), "{warnings}");
            warnings
        },
    );
}

/// Seen by a review: `resume RUN --notify-only` of a run paused on a failure, whose page reads
/// a secret input it was not given, was refused (exit 2) suggesting `resume RUN --input
/// hook=VALUE` — without `--notify-only`: that goes on with the run, running the failed step
/// again, and pages anew. The refusal suggests the command that delivers the page alone,
/// `--notify-only` kept; given the value, it delivers the page once and runs nothing.
#[test]
fn notify_only_refused_for_a_secret_input_suggests_notify_only_given_it() {
    let env = Env::new();
    let h = hook(&[0, 200]);
    env.workflow(
        "ps",
        "name: ps\ninputs:\n  hook: {type: string}\nsteps:\n  - name: deploy\n    run: echo ran >> ran.log; exit 1\n    retry: {max_retry_attempts: 0}\nnotify:\n  on_failure:\n    - webhook: \"${{ inputs.hook }}\"\n",
    );
    let given = format!("hook={}", h.url);
    killed_once(&env, &["workflow", "run", "ps", "--input", &given], || {
        h.received(1);
    });
    let run = env.status(None)["run_id"].as_str().unwrap().to_string();
    assert_eq!(env.status(Some(&run))["status"], "failed");
    let refused = env.run(&["workflow", "resume", &run, "--notify-only"]);
    assert_eq!(refused.code, 2, "{}", refused.text());
    let suggested = format!("workflow resume {run} --notify-only --input hook=VALUE");
    assert!(refused.stderr.contains(&suggested), "{}", refused.stderr);
    let out = env.run(&[
        "workflow",
        "resume",
        &run,
        "--notify-only",
        "--input",
        &given,
    ]);
    assert_eq!(out.code, 1, "{}", out.text());
    assert_eq!(h.received(2).len(), 2);
    let (due, recorded) = due_and_recorded(&env, "workflow", &run);
    assert_eq!((due, recorded.len()), (0, 1), "{recorded:?}");
    assert_eq!(common::lines(&env.file("ran.log")), ["ran"]);
}

/// Seen by a review: the answer of a driver that left its run's webhooks due (it lacked the
/// variable they are made of) had no `notifications_pending`, and its `next` began with
/// `resume --retry`, where `status --json` a moment later listed them and put `resume
/// --notify-only` first (SPEC §7: the document carries the same suggestions). Now the driver's
/// answer is the same projection as `status` — its document, and its screen — the `why` says
/// the true reason (the variable it lacked), and its warning quotes the command once.
#[test]
fn a_drivers_answer_lists_the_webhooks_it_left_due_and_suggests_their_delivery_as_status_does() {
    let env = Env::new();
    let notify = "notify:\n  on_failure: [{webhook: $HOOK_LD/fail}]\n  on_finish: [{webhook: $HOOK_LD/finish}]\n";
    env.workflow(
        "ld",
        &format!("name: ld\nsteps:\n  - {{name: A, run: exit 7, retry: {{max_retry_attempts: 0}}}}\n{notify}"),
    );
    env.scenario(
        "ld",
        &format!("name: ld\ndescription: d\nphases:\n  - {{name: p, description: p, condition: auto, run: exit 7}}\n{notify}"),
    );
    for kind in ["workflow", "orchestrate"] {
        let out = env.run(&["--json", kind, "run", "ld"]);
        assert_eq!(out.code, 1, "{}", out.text());
        let ran = out.json();
        let run = ran["run_id"].as_str().unwrap().to_string();
        let status = env.run(&["--json", kind, "status", &run]).json();
        for key in ["notifications_pending", "next"] {
            assert_eq!(ran[key], status[key], "{kind} `{key}`:\n{ran}\n{status}");
        }
        assert_eq!(
            ran["notifications_pending"].as_array().unwrap().len(),
            2,
            "{ran}"
        );
        let first = &ran["next"][0];
        assert_eq!(
            first["argv"],
            serde_json::json!(["cortex", kind, "resume", run, "--notify-only"]),
            "{ran}"
        );
        let why = first["why"].as_str().unwrap();
        assert!(
            why.contains("`HOOK_LD`, not set in this process's environment"),
            "{why}"
        );
        assert!(!why.contains("ended before"), "{why}");
        let warnings = ran["warnings"].to_string();
        assert!(!warnings.contains("``"), "quoted once: {warnings}");
        assert!(
            warnings.contains(&format!(
                "`cortex {kind} resume {run} --notify-only` run with it set"
            )),
            "{warnings}"
        );
        // The screen says the same: the webhooks still due, then the command first.
        let out = env.run(&[kind, "run", "ld"]);
        assert_eq!(out.code, 1, "{}", out.text());
        let screen = out.stdout;
        let due = screen
            .find("⏳ on_failure (failed): webhook: ***")
            .expect(&screen);
        let command = screen.find("--notify-only   #").expect(&screen);
        assert!(due < command, "{screen}");
        assert!(!out.stderr.contains("``"), "{}", out.stderr);
    }
}

/// Workflow `n` of the review: one step that fails with no retries, `on_failure` a webhook to
/// `$HOOK_N/fail`, `on_finish` one to `$HOOK_N/finish`.
fn failing_hooked(env: &Env) {
    env.workflow(
        "n",
        "name: n\nsteps:\n  - name: A\n    run: exit 7\n    retry: {max_retry_attempts: 0}\nnotify:\n  on_failure:\n    - webhook: $HOOK_N/fail\n  on_finish:\n    - webhook: $HOOK_N/finish\n",
    );
}

/// A run of `n` (`failing_hooked`) whose driver lacked `$HOOK_N`: paused on its failure, both
/// webhooks left due. Its id.
fn failed_without_the_hook(env: &Env) -> String {
    let out = env.run(&["--json", "workflow", "run", "n"]);
    assert_eq!(out.code, 1, "{}", out.text());
    let run = out.json()["run_id"].as_str().unwrap().to_string();
    assert_eq!(due_and_recorded(env, "workflow", &run).0, 2);
    run
}

/// What `h` received: each POST as (path, the `status` of its document), sorted.
fn pages(h: &Hook) -> Vec<(String, String)> {
    let mut pages: Vec<(String, String)> = documents(h)
        .into_iter()
        .map(|(path, doc)| (path, doc["status"].as_str().unwrap_or_default().to_string()))
        .collect();
    pages.sort();
    pages
}

/// The deliveries recorded for run `run` of `kind`, once none is still due: each made (`ok`),
/// as (trigger, the end it was for), sorted.
fn delivered_for_ends(env: &Env, kind: &str, run: &str) -> Vec<(String, String)> {
    let (due, recorded) = due_and_recorded(env, kind, run);
    assert_eq!(due, 0, "{recorded:?}");
    let mut for_ends: Vec<(String, String)> = recorded
        .iter()
        .map(|r| {
            assert_eq!(r["ok"], true, "{recorded:?}");
            (
                r["trigger"].as_str().unwrap().to_string(),
                r["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    for_ends.sort();
    for_ends
}

/// What `h` received: each POST as (path, its document), in the order they came.
fn documents(h: &Hook) -> Vec<(String, serde_json::Value)> {
    h.paths()
        .into_iter()
        .zip(h.bodies())
        .map(|(path, body)| (path, serde_json::from_str(&body).unwrap()))
        .collect()
}

/// The status document of run `run` of `kind` as of its first event of type `event`
/// (`status --at SEQ`).
fn status_at_event(env: &Env, kind: &str, run: &str, event: &str) -> serde_json::Value {
    let log = env.run(&["--json", "log", "show", run]).json();
    let seq = log
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == event)
        .unwrap_or_else(|| panic!("no {event} in {log}"))["seq"]
        .as_u64()
        .unwrap()
        .to_string();
    env.run(&["--json", kind, "status", run, "--at", &seq])
        .json()
}

/// Seen by a review: a run that failed (its webhooks left due: the driver lacked `$HOOK_N`)
/// and was then aborted paged `/fail failed`, `/finish failed`, `/finish aborted` when the
/// aborting terminal had the variable, but only `/fail aborted`, `/finish aborted` when it did
/// not and a `resume --notify-only` with it delivered them: the rule was keyed to the run's
/// current end, so an abort relabelled everything due `aborted`. A notification belongs to
/// the end that made it due: both orders send the same pages.
fn a_failed_then_aborted_run_sends_the_same_pages_whoever_has_the_webhooks_variable(env: Env) {
    failing_hooked(&env);
    let expected: Vec<(String, String)> = [
        ("/cortex/fail", "failed"),
        ("/cortex/finish", "aborted"),
        ("/cortex/finish", "failed"),
    ]
    .map(|(p, s)| (p.to_string(), s.to_string()))
    .to_vec();
    // Aborted by a terminal with the variable.
    let with = hook(&[200]);
    let run = failed_without_the_hook(&env);
    let out = env.run_with(
        &["workflow", "abort", &run],
        &[("HOOK_N", with.url.as_str())],
    );
    assert_eq!(out.code, 1, "{}", out.text());
    with.received(3);
    assert_eq!(pages(&with), expected);
    // Aborted by one without it (all left due, said once), then delivered by a resume with it.
    let later = hook(&[200]);
    let run = failed_without_the_hook(&env);
    let said = stderr_of(&env, &["workflow", "abort", &run], 1);
    assert_eq!(
        said.matches("its notifications still due").count(),
        1,
        "{said}"
    );
    assert_eq!(due_and_recorded(&env, "workflow", &run), (3, Vec::new()));
    let out = env.run_with(
        &["workflow", "resume", &run, "--notify-only"],
        &[("HOOK_N", later.url.as_str())],
    );
    assert_eq!(out.code, 1, "{}", out.text());
    later.received(3);
    assert_eq!(pages(&later), expected);
    assert_eq!(
        delivered_for_ends(&env, "workflow", &run),
        [
            ("on_failure", "failed"),
            ("on_finish", "aborted"),
            ("on_finish", "failed")
        ]
        .map(|(t, s)| (t.to_string(), s.to_string()))
    );
}

/// A page delivered after the run moved on carries the document of the transition that made
/// it due: the failure's `/fail`, delivered after the abort, is the run as of its `run_paused`
/// event (`status --at SEQ`: paused, its head then), not the aborted run.
fn a_page_delivered_after_an_abort_carries_the_document_of_the_failure(env: Env) {
    failing_hooked(&env);
    let h = hook(&[200]);
    let run = failed_without_the_hook(&env);
    stderr_of(&env, &["workflow", "abort", &run], 1);
    let out = env.run_with(
        &["workflow", "resume", &run, "--notify-only"],
        &[("HOOK_N", h.url.as_str())],
    );
    assert_eq!(out.code, 1, "{}", out.text());
    h.received(3);
    let at = |event: &str| status_at_event(&env, "workflow", &run, event);
    let (paused, finished) = (at("run_paused"), at("run_finished"));
    assert_ne!(paused["head_hash"], finished["head_hash"]);
    let docs = documents(&h);
    for (path, doc) in &docs {
        let then = match (path.as_str(), doc["status"].as_str()) {
            (_, Some("failed")) => &paused,
            (_, Some("aborted")) => &finished,
            other => panic!("unexpected page {other:?}: {doc}"),
        };
        for key in ["run_id", "status", "head_hash", "steps", "reason"] {
            assert_eq!(doc[key], then[key], "{path} `{key}`: {doc}\nvs {then}");
        }
    }
    let fail = docs.iter().find(|(p, _)| p == "/cortex/fail").unwrap();
    assert_eq!(fail.1["status"], "failed", "{}", fail.1);
}

common::on_both_stores!(
    a_failed_then_aborted_run_sends_the_same_pages_whoever_has_the_webhooks_variable,
    a_page_delivered_after_an_abort_carries_the_document_of_the_failure,
);

/// Workflow and scenario `ns`: secret input `API_TOKEN`, one unit waiting for a report, and an
/// `on_finish` webhook to `url` whose path reads the input; each started with it.
fn reported_to_an_end_without_the_secret(env: &Env, url: &str) -> Vec<(&'static str, String)> {
    let notify = format!(
        "notify:\n  on_finish:\n    - webhook: '{url}/${{{{ inputs.API_TOKEN }}}}'\n      retries: 0\n"
    );
    let inputs = "inputs:\n  API_TOKEN: {type: string, required: true}\n";
    env.workflow(
        "ns",
        &format!("name: ns\n{inputs}{notify}steps:\n  - name: A\n    prompt: do it\n"),
    );
    env.scenario(
        "ns",
        &format!("name: ns\ndescription: d\n{inputs}{notify}phases:\n  - name: A\n    description: do it\n"),
    );
    ["workflow", "orchestrate"]
        .into_iter()
        .map(|kind| {
            let out = env.run(&["--json", kind, "run", "ns", "--input", "API_TOKEN=s3cr3t"]);
            assert_eq!(out.code, 3, "{}", out.text());
            (kind, out.json()["run_id"].as_str().unwrap().to_string())
        })
        .collect()
}

/// Seen by a review: a report that finished its run, lacking the secret input its `on_finish`
/// webhook reads (a report is the one driver that can lack one), left the webhook due, and
/// answered `next: []` with no `notifications_pending`, where `status` a moment later had both.
/// Its answer is now the same projection as `status`'s (`drive::notes_left`).
#[test]
fn a_report_that_ends_a_run_leaving_a_webhook_due_answers_as_status_does() {
    let env = Env::new();
    let h = hook(&[200, 200]);
    for (kind, run) in reported_to_an_end_without_the_secret(&env, &h.url) {
        let report: &[&str] = match kind {
            "workflow" => &["--json", "workflow", "step", "complete", "A", "--run", &run],
            _ => &["--json", "orchestrate", "complete", &run, "A"],
        };
        let out = env.run(report);
        assert_eq!(out.code, 0, "{}", out.text());
        let answer = out.json();
        assert_eq!(answer["status"], "completed", "{answer}");
        let status = env.run(&["--json", kind, "status", &run]).json();
        for key in ["notifications_pending", "next"] {
            assert_eq!(
                answer[key], status[key],
                "{kind} `{key}`:\n{answer}\n{status}"
            );
        }
        assert_eq!(
            answer["notifications_pending"][0]["trigger"], "on_finish",
            "{answer}"
        );
        assert_eq!(answer["next"][0]["argv"][2], "resume", "{answer}");
        assert!(!answer.to_string().contains("s3cr3t"), "{answer}");
    }
    assert_eq!(h.count(), 0, "nothing was sent without the secret");
}

/// Seen by a review: the suggested delivery of a webhook that reads a secret input this
/// process lacks was the bare `resume RUN`, refused as given (exit 2: it needs the input's
/// value), where the report's own warning had the form that works. The suggestion now carries
/// `--input NAME=VALUE` with its `fill`, and filled in it delivers the webhook once.
#[test]
fn the_suggested_delivery_of_a_webhook_reading_a_secret_input_carries_it_and_delivers() {
    let env = Env::new();
    let h = hook(&[200, 200]);
    for (n, (kind, run)) in reported_to_an_end_without_the_secret(&env, &h.url)
        .into_iter()
        .enumerate()
    {
        let report: &[&str] = match kind {
            "workflow" => &["workflow", "step", "complete", "A", "--run", &run],
            _ => &["orchestrate", "complete", &run, "A"],
        };
        assert_eq!(env.run(report).code, 0);
        let status = env.run(&["--json", kind, "status", &run]).json();
        let first = &status["next"][0];
        assert_eq!(
            first["argv"],
            serde_json::json!(["cortex", kind, "resume", run, "--input", "API_TOKEN=VALUE"]),
            "{status}"
        );
        assert_eq!(
            first["fill"],
            serde_json::json!([{"flag": "--input", "name": "API_TOKEN"}]),
            "{status}"
        );
        let screen = env.run(&[kind, "status", &run]).stdout;
        assert!(
            screen.contains(&format!(
                "`cortex {kind} resume {run} --input API_TOKEN=VALUE` delivers it"
            )),
            "{screen}"
        );
        // Filled in as `fill` says, it delivers the webhook, once.
        let argv: Vec<String> = serde_json::from_value(first["argv"].clone()).unwrap();
        let out = env.run_filled(&argv, "s3cr3t");
        assert_eq!(out.code, 0, "{}", out.text());
        assert_eq!(h.received(n + 1).len(), n + 1);
        assert!(h.paths()[n].ends_with("/s3cr3t"), "{:?}", h.paths());
        let (due, recorded) = due_and_recorded(&env, kind, &run);
        assert_eq!((due, recorded.len()), (0, 1), "{recorded:?}");
    }
}

/// Workflow and scenario `cut`, under a time limit of 2 s (cortex.config.json): `A` echoes,
/// `B` sleeps past the limit; `on_failure` a webhook to `$HOOK_N/fail`, `on_finish` one to
/// `$HOOK_N/finish`.
fn cut_hooked(env: &Env) {
    env.config("{\"workflow\": {\"timeout_seconds\": 2}}");
    let notify = "notify:\n  on_failure:\n    - webhook: $HOOK_N/fail\n  on_finish:\n    - webhook: $HOOK_N/finish\n";
    env.workflow(
        "cut",
        &format!(
            "name: cut\nsteps:\n  - {{name: A, run: 'echo a'}}\n  - {{name: B, run: 'sleep 30'}}\n{notify}"
        ),
    );
    env.scenario(
        "cut",
        &format!(
            "name: cut\ndescription: d\nphases:\n  - {{name: A, description: a, run: 'echo a'}}\n  - {{name: B, description: b, run: 'sleep 30'}}\n{notify}"
        ),
    );
}

/// A run of `kind`'s `cut` (`cut_hooked`) whose driver lacked `$HOOK_N`: stopped by its time
/// limit (exit 3), its `on_failure` left due. Its id.
fn stopped_without_the_hook(env: &Env, kind: &str) -> String {
    let out = env.run(&["--json", kind, "run", "cut"]);
    assert_eq!(out.code, 3, "{kind}: {}", out.text());
    let run = out.json()["run_id"].as_str().unwrap().to_string();
    assert_eq!(due_and_recorded(env, kind, &run), (1, Vec::new()), "{kind}");
    run
}

/// Seen by a review (n N2): a run its time limit stopped whose `on_failure` was still owed
/// (its driver lacked the webhook's variable, or died delivering) and that was then aborted
/// sent that page as `aborted`, with the aborted run's document, and never as `stopped` —
/// where the same run paused on a failure sends the failure's page as `failed`. The stop is an
/// end of its session as the failure is: the abort delivers the stop's page as `stopped`,
/// with the run as of its `run_stopped` (`status --at SEQ`), then its own `on_finish`; the
/// same whether the aborting process has the variable or a `resume --notify-only` with it
/// delivers them afterwards. For a workflow and a scenario.
fn a_time_limit_stops_owed_page_is_sent_as_stopped_with_its_document_before_the_aborts(env: Env) {
    cut_hooked(&env);
    for kind in ["workflow", "orchestrate"] {
        for abort_has_it in [true, false] {
            let h = hook(&[200]);
            let run = stopped_without_the_hook(&env, kind);
            let with = [("HOOK_N", h.url.as_str())];
            if abort_has_it {
                let out = env.run_with(&[kind, "abort", &run], &with);
                assert_eq!(out.code, 1, "{kind}: {}", out.text());
            } else {
                stderr_of(&env, &[kind, "abort", &run], 1);
                assert_eq!(due_and_recorded(&env, kind, &run), (2, Vec::new()));
                let out = env.run_with(&[kind, "resume", &run, "--notify-only"], &with);
                assert_eq!(out.code, 1, "{kind}: {}", out.text());
            }
            h.received(2);
            let docs = documents(&h);
            let sent: Vec<(&str, &str)> = docs
                .iter()
                .map(|(p, d)| (p.as_str(), d["status"].as_str().unwrap_or_default()))
                .collect();
            assert_eq!(
                sent,
                [("/cortex/fail", "stopped"), ("/cortex/finish", "aborted")],
                "{kind}, abort given the variable: {abort_has_it}"
            );
            let at = |event: &str| status_at_event(&env, kind, &run, event);
            let (stopped, finished) = (at("run_stopped"), at("run_finished"));
            assert_eq!(stopped["status"], "stopped", "{stopped}");
            for ((path, doc), then) in docs.iter().zip([&stopped, &finished]) {
                for key in ["run_id", "status", "head_hash", "reason"] {
                    assert_eq!(
                        doc[key], then[key],
                        "{kind} {path} `{key}`: {doc}\nvs {then}"
                    );
                }
            }
            assert_eq!(
                delivered_for_ends(&env, kind, &run),
                [("on_failure", "stopped"), ("on_finish", "aborted")]
                    .map(|(t, s)| (t.to_string(), s.to_string())),
                "{kind}"
            );
        }
    }
}

common::on_both_stores!(
    a_time_limit_stops_owed_page_is_sent_as_stopped_with_its_document_before_the_aborts
);

/// The driver of run `name` started in the background, its output kept, once `ready` holds
/// (a delivery of its failure's notifications is under way).
fn driving_until(env: &Env, name: &str, ready: impl Fn() -> bool) -> std::process::Child {
    use std::process::Stdio;
    let child = env
        .command(&["workflow", "run", name])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    server::eventually(60, "a delivery under way", || ready().then_some(()));
    child
}

/// Each notification of the run's status: (trigger, end it was for, delivered, tries).
fn deliveries(env: &Env, run: &str) -> Vec<(String, String, bool, u64)> {
    env.status(Some(run))["notifications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["trigger"].as_str().unwrap().to_string(),
                n["status"].as_str().unwrap().to_string(),
                n["ok"].as_bool().unwrap(),
                n["attempts"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// Seen by a review: `workflow abort` from another terminal while the driver delivered a
/// failure's notifications SIGTERMed the driver, which cut them: recorded "not delivered …
/// 0 tries" (the POST under way had landed), never tried again, the `on_finish` owed for
/// `failed` never sent to a healthy receiver, and the driver's last words "Workflow failed"
/// with `resume --retry` for an aborted run. Now the failure's deliveries go on, recorded as
/// they were tried; the driver records the abort after them, delivers the abort's own
/// `on_finish`, and ends saying "aborted".
#[test]
fn an_abort_while_a_failures_notifications_are_delivered_lets_them_land_and_ends_the_driver_aborted()
 {
    let env = Env::new();
    let slow = hook(&[0]);
    let fine = hook(&[200]);
    env.workflow(
        "abd",
        &format!(
            "name: abd\nsteps:\n  - name: a\n    run: exit 1\n    retry: {{max_retry_attempts: 0}}\nnotify:\n  on_failure:\n    - webhook: {}\n      timeout: 3s\n      retries: 0\n  on_finish:\n    - webhook: {}\n",
            slow.url, fine.url
        ),
    );
    let driver = driving_until(&env, "abd", || slow.count() == 1);
    let run = env.status(None)["run_id"].as_str().unwrap().to_string();
    let abort = env.run(&[
        "workflow",
        "abort",
        &run,
        "--message",
        "abort during delivery",
    ]);
    assert!(
        abort.code == 0 || abort.code == 1,
        "{}{}",
        abort.stdout,
        abort.stderr
    );
    let out = driver.wait_with_output().unwrap();
    let said = String::from_utf8_lossy(&out.stdout).to_string();
    let status = env.status(Some(&run));
    assert_eq!(status["status"], "aborted", "{status}");
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(said.contains("aborted"), "{said}");
    assert!(
        !said.contains("Workflow failed") && !said.contains("--retry"),
        "the driver's last words follow the log: {said}"
    );
    assert_eq!(
        deliveries(&env, &run),
        [
            ("on_failure".into(), "failed".into(), false, 1),
            ("on_finish".into(), "failed".into(), true, 1),
            ("on_finish".into(), "aborted".into(), true, 1),
        ],
        "{status}"
    );
    let statuses: Vec<String> = fine
        .received(2)
        .iter()
        .map(|b| serde_json::from_str::<serde_json::Value>(b).unwrap()["status"].to_string())
        .collect();
    assert_eq!(statuses, ["\"failed\"", "\"aborted\""]);
}

/// Seen by a review: once the driver took the abort's SIGTERM for the operator's request,
/// it looked at no later signal: a Ctrl-C at the driver was ignored for the rest of the
/// failure's deliveries (a receiver that never answers, 60 s here) and the abort's own
/// `on_finish` after them. Now a Ctrl-C after the abort's SIGTERM still ends the wait, as
/// DESIGN says: the hanging delivery is recorded stopped by SIGINT.
#[test]
fn a_ctrl_c_after_an_aborts_sigterm_still_ends_the_drivers_wait_for_its_notifications() {
    let env = Env::new();
    let slow = hook(&[0]);
    env.workflow(
        "abc",
        &format!(
            "name: abc\nsteps:\n  - name: a\n    run: exit 1\n    retry: {{max_retry_attempts: 0}}\nnotify:\n  on_failure:\n    - webhook: {}\n      timeout: 60s\n      retries: 0\n",
            slow.url
        ),
    );
    let driver = driving_until(&env, "abc", || slow.count() == 1);
    let run = env.status(None)["run_id"].as_str().unwrap().to_string();
    // The abort, left to wait for the driver: it signals it right after recording its request.
    let abort = env
        .command(&["workflow", "abort", &run])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    server::eventually(60, "the abort asked", || {
        env.status(Some(&run))["stop_requested"]
            .is_object()
            .then_some(())
    });
    // Its SIGTERM follows the log's record at once; the Ctrl-C comes after it.
    std::thread::sleep(std::time::Duration::from_millis(500));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(driver.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let out = driver.wait_with_output().unwrap();
    let mut abort = abort;
    let _ = abort.wait();
    let notes = env.status(Some(&run))["notifications"].clone();
    let page = &notes[0];
    assert_eq!(page["trigger"], "on_failure", "{notes}");
    assert_eq!(page["ok"], false, "{notes}");
    assert!(
        page["detail"].as_str().unwrap().contains("SIGINT"),
        "the Ctrl-C ended the wait, not the receiver's 60 s: {notes}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Seen by a review: an `on_failure` command that aborts its own failed run ("abort what
/// fails") was ended with its driver's delivery by the abort's own SIGTERM, before the abort
/// was recorded: the run stayed failed, the operator's abort lost. Now the command runs to
/// its end and the abort it asked for is recorded.
#[test]
fn a_notification_command_that_aborts_its_own_run_gets_the_abort_recorded() {
    let env = Env::new();
    env.workflow(
        "selfab",
        &format!(
            "name: selfab\nsteps:\n  - name: a\n    run: exit 1\n    retry: {{max_retry_attempts: 0}}\nnotify:\n  on_failure:\n    - run: '\"{}\" workflow abort \"$CORTEX_RUN_ID\" --message from-notify > n.out 2>&1'\n      timeout: 40s\n",
            env!("CARGO_BIN_EXE_cortex")
        ),
    );
    let out = env.run(&["workflow", "run", "selfab"]);
    let status = env.status(None);
    assert_eq!(status["status"], "aborted", "{}\n{status}", out.stdout);
    assert!(
        status["reason"].as_str().unwrap().contains("from-notify"),
        "{status}"
    );
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(out.stdout.contains("aborted"), "{}", out.stdout);
    let run = status["run_id"].as_str().unwrap();
    assert_eq!(
        deliveries(&env, run),
        [("on_failure".into(), "failed".into(), true, 1)],
        "{status}"
    );
}

/// Seen by a review: `workflow stop` while the driver delivered a failure's notifications was
/// accepted as a request the driver never acted on: status then said the driver "died"
/// before acting on it, and its first suggestion, `resume --retry`, recorded the stop and
/// failed, exit 2. A failed run is at rest (nothing runs), so the stop is refused at once,
/// nothing recorded, the deliveries go on, and the status's first suggestion works.
#[test]
fn a_stop_while_a_failures_notifications_are_delivered_is_refused_and_its_first_suggestion_works() {
    let env = Env::new();
    let slow = hook(&[0]);
    env.workflow(
        "std",
        &format!(
            "name: std\nsteps:\n  - name: a\n    run: test -f again || {{ touch again; exit 1; }}\n    retry: {{max_retry_attempts: 0}}\nnotify:\n  on_failure:\n    - webhook: {}\n      timeout: 3s\n      retries: 0\n",
            slow.url
        ),
    );
    let driver = driving_until(&env, "std", || slow.count() == 1);
    let run = env.status(None)["run_id"].as_str().unwrap().to_string();
    // The run failed (its failure is what is being delivered): it is at rest, so a stop is
    // refused, nothing recorded, and the refusal names what goes on from there.
    let stop = env.run(&["workflow", "stop", &run]);
    assert_eq!(stop.code, 2, "{}{}", stop.stdout, stop.stderr);
    assert!(stop.stderr.contains("nothing to stop"), "{}", stop.stderr);
    assert!(stop.stderr.contains("--retry"), "{}", stop.stderr);
    let out = driver.wait_with_output().unwrap();
    let said = String::from_utf8_lossy(&out.stdout).to_string();
    let status = env.status(Some(&run));
    assert_eq!(status["status"], "failed", "{said}\n{status}");
    assert!(status["stop_requested"].is_null(), "{status}");
    assert_eq!(out.status.code(), Some(1), "{said}");
    let first = status["next"][0]["argv"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_string())
        .collect::<Vec<_>>();
    let args: Vec<&str> = first[1..].iter().map(String::as_str).collect();
    let resumed = env.run(&args);
    assert_eq!(
        resumed.code, 0,
        "{first:?}: {}{}",
        resumed.stdout, resumed.stderr
    );
    assert_eq!(env.status(Some(&run))["status"], "completed");
}
