//! `cortex tui` end to end: the real binary in a real terminal (tmux, 80x24), on a real
//! SQLite log made by running a scenario with the binary first. Keys go in with
//! `tmux send-keys`, the screen comes back with `tmux capture-pane -p`, and every step waits
//! for what it expects on screen with a deadline (never a fixed sleep). Each test has its own
//! tmux server on a private socket in its temporary directory (`-S`), and a unique session
//! name; the server is killed when the test ends however it ends.

mod common;

use std::path::Path;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{Env, files_holding};

/// How long a screen may take to show what a step expects.
const DEADLINE: Duration = Duration::from_secs(30);

static SESSIONS: AtomicUsize = AtomicUsize::new(0);

/// One tmux server with one session running a command in an 80x24 window.
struct Tmux {
    socket: std::path::PathBuf,
    session: String,
}

impl Tmux {
    fn tmux(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .arg("-S")
            .arg(&self.socket)
            .args(args)
            .output()
            .expect("tmux runs")
    }

    /// Start `script` (a shell script file) in a new detached 80x24 session whose server
    /// listens on a socket in `dir`.
    fn start(dir: &Path, script: &Path) -> Tmux {
        if Command::new("tmux").arg("-V").output().is_err() {
            panic!(
                "tmux is not installed, and this test drives `cortex tui` in it: install it \
                 (`apt-get install -y tmux`; .ci/run does so when it is missing)"
            );
        }
        let session = format!(
            "cortex-tui-{}-{}",
            std::process::id(),
            SESSIONS.fetch_add(1, Ordering::SeqCst)
        );
        let tmux = Tmux {
            socket: dir.join("tmux.sock"),
            session,
        };
        let out = tmux.tmux(&[
            "-f",
            "/dev/null",
            "new-session",
            "-d",
            "-s",
            &tmux.session,
            "-x",
            "80",
            "-y",
            "24",
            &format!("sh {}", script.display()),
        ]);
        assert!(
            out.status.success(),
            "tmux new-session failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        // A lone Esc reaches the program at once instead of waiting for a sequence.
        tmux.tmux(&["set-option", "-s", "escape-time", "0"]);
        tmux
    }

    fn screen(&self) -> String {
        String::from_utf8_lossy(
            &self
                .tmux(&["capture-pane", "-p", "-t", &self.session])
                .stdout,
        )
        .into_owned()
    }

    /// Keys by tmux name (`C-p`, `Enter`, `Escape`, `BSpace`, `Down`).
    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", &self.session];
        args.extend(keys);
        assert!(self.tmux(&args).status.success(), "send-keys {keys:?}");
    }

    /// Text typed as is.
    fn type_text(&self, text: &str) {
        assert!(
            self.tmux(&["send-keys", "-t", &self.session, "-l", text])
                .status
                .success()
        );
    }

    /// Wait until the screen satisfies `ok`; fail with the last screen after the deadline.
    fn wait_for(&self, what: &str, ok: impl Fn(&str) -> bool) -> String {
        let until = Instant::now() + DEADLINE;
        loop {
            let screen = self.screen();
            if ok(&screen) {
                return screen;
            }
            assert!(
                Instant::now() < until,
                "timed out waiting for {what}; the screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn wait_text(&self, texts: &[&str]) -> String {
        self.wait_for(&format!("{texts:?}"), |s| {
            texts.iter().all(|t| s.contains(t))
        })
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.tmux(&["kill-server"]);
    }
}

/// The line of `screen` that shows phase `name`.
fn phase_line<'a>(screen: &'a str, name: &str) -> &'a str {
    screen
        .lines()
        .find(|l| l.contains(&format!("] {name} ")))
        .unwrap_or("")
}

fn copy_dir(from: &str, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(format!("{}/{from}", env!("CARGO_MANIFEST_DIR"))).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, to.join(path.file_name().unwrap())).unwrap();
    }
}

/// A script that runs the TUI, then says how it ended and how the terminal was left.
fn tui_script(env: &Env) -> std::path::PathBuf {
    tui_script_with(env, "")
}

/// `tui_script` with `vars` (`NAME='value' …`) in the TUI's environment.
fn tui_script_with(env: &Env, vars: &str) -> std::path::PathBuf {
    let script = env.dir.path().join("tui.sh");
    std::fs::write(
        &script,
        format!(
            "cd '{project}'\n{vars} USER=tester '{bin}' --home '{home}' tui --actor tui-tester\n\
             echo \"cortex tui exited $?\"\nstty -a | tr ';' '\\n' | grep -o -- '-*icanon'\nsleep 600\n",
            project = env.project().display(),
            bin = env!("CARGO_BIN_EXE_cortex"),
            home = env.home().display(),
        ),
    )
    .unwrap();
    script
}

#[test]
fn the_tui_follows_a_scenario_live_and_acts_through_the_palette() {
    let env = Env::new();
    copy_dir("examples/scenarios", &env.home().join("scenarios"));
    copy_dir("examples/agents", &env.home().join("agents"));
    let run = env.run(&[
        "orchestrate",
        "run",
        "full-stack-feature",
        "--actor",
        "lead",
    ]);
    assert_eq!(
        run.code, 3,
        "the manual phase waits: {}{}",
        run.stdout, run.stderr
    );
    let run_id = env.run(&["--json", "orchestrate", "status"]).json()["run_id"]
        .as_str()
        .unwrap()
        .to_string();

    let tmux = Tmux::start(env.dir.path(), &tui_script(&env));
    // The list: every scenario of the catalog, the one with a run showing its status.
    let list = tmux.wait_text(&["Scenarios (7)", "incident-response", "ship-it"]);
    let row = list
        .lines()
        .find(|l| l.contains("full-stack-feature"))
        .unwrap();
    assert!(row.contains("waiting") && row.contains("0/4"), "{list}");
    assert!(list.contains("as tui-tester"), "{list}");

    // The status panel of the selected scenario's run.
    tmux.keys(&["Enter"]);
    let status = tmux.wait_text(&["full-stack-feature · waiting", "awaiting start"]);
    assert!(status.contains(&format!("run {run_id}")), "{status}");
    assert!(status.contains("[ ] Plan document created"), "{status}");

    // Ctrl+P, "scenario": the seed's three entries.
    tmux.keys(&["C-p"]);
    tmux.wait_text(&["Command palette"]);
    tmux.type_text("scenario");
    tmux.wait_text(&[
        "> scenario",
        "Scenario List",
        "Scenario Run",
        "Scenario Status",
    ]);

    // Start the manual phase from the palette: recorded with the TUI's actor, then a
    // background driver starts it, and the screen follows what that process records.
    tmux.keys(&["BSpace"; 8]);
    tmux.type_text("start");
    let palette = tmux.wait_text(&["> start", "Start phase analysis"]);
    assert!(!palette.contains("Scenario List"), "{palette}");
    tmux.keys(&["Enter"]);
    let started = tmux.wait_for("analysis waiting with its agents active", |s| {
        phase_line(s, "analysis").contains("waiting") && s.contains("● architect-reviewer")
    });
    assert!(!started.contains("Command palette"), "{started}");
    let log = env.run(&["log", "export", &run_id]).stdout;
    let actor_of = |kind: &str| {
        log.lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .find(|e| e["type"] == kind)
            .map(|e| e["body"]["actor"].clone())
    };
    assert_eq!(actor_of("phase_start_requested"), Some("tui-tester".into()));
    // The driver the TUI starts drives on as the CLI's `orchestrate start` does, recording no
    // `run_resumed` of its own (the same events as its CLI twin, apart from the actor).
    assert_eq!(actor_of("run_resumed"), None);

    // Another terminal reports the phase done: the view follows without a restart. (Exit 3:
    // it drove the run on until the pair waits; 0: the background driver was still there.)
    let done = env.run(&["orchestrate", "complete", "full-stack-feature", "analysis"]);
    assert!(
        [0, 3].contains(&done.code),
        "{}{}",
        done.stdout,
        done.stderr
    );
    let pair = tmux.wait_for("the parallel pair waiting", |s| {
        phase_line(s, "backend").contains("waiting")
            && phase_line(s, "frontend").contains("waiting")
    });
    assert!(
        phase_line(&pair, "analysis").contains("completed"),
        "{pair}"
    );
    assert!(pair.contains("[x] Plan document created"), "{pair}");
    assert!(
        pair.contains("● python-pro") && pair.contains("● react-specialist"),
        "{pair}"
    );

    // Complete the selected phase (backend) from the palette.
    tmux.keys(&["Down"]);
    tmux.keys(&["C-p"]);
    tmux.type_text("complete");
    tmux.wait_text(&["Complete phase backend"]);
    tmux.keys(&["Enter"]);
    let completed = tmux.wait_for("backend completed", |s| {
        phase_line(s, "backend").contains("completed")
    });
    assert!(
        completed.contains("[x] API endpoints functional"),
        "{completed}"
    );
    assert!(
        phase_line(&completed, "frontend").contains("waiting"),
        "{completed}"
    );
    assert_eq!(reporter(&env, &run_id, "backend"), "tui-tester");

    // Help on `?`, closed with Esc.
    tmux.keys(&["?"]);
    tmux.wait_text(&["Keyboard help", "Ctrl+P"]);
    tmux.keys(&["Escape"]);
    tmux.wait_for("help closed", |s| !s.contains("Keyboard help"));

    // A resize redraws at the new size, and back.
    tmux.tmux(&[
        "resize-window",
        "-t",
        &tmux.session,
        "-x",
        "100",
        "-y",
        "30",
    ]);
    tmux.wait_for("a 100-column frame", |s| {
        s.lines()
            .any(|l| l.starts_with('└') && l.chars().count() == 100)
    });
    tmux.tmux(&["resize-window", "-t", &tmux.session, "-x", "80", "-y", "24"]);
    tmux.wait_for("an 80-column frame", |s| {
        s.lines()
            .any(|l| l.starts_with('└') && l.chars().count() == 80)
    });

    // q quits and gives the terminal back: main screen, canonical mode.
    tmux.keys(&["q"]);
    // The shell prints the exit line, then the terminal's mode: wait for both (the capture
    // may come between them).
    let after = tmux.wait_for("the exit line and the terminal's mode", |s| {
        s.contains("cortex tui exited 0") && s.lines().any(|l| l.trim().ends_with("icanon"))
    });
    let mode = after
        .lines()
        .find(|l| l.trim_start_matches('-') == "icanon")
        .unwrap_or("");
    assert_eq!(mode, "icanon", "raw mode was left on:\n{after}");
    assert!(
        !after.contains("Scenarios ("),
        "still on the TUI's screen:\n{after}"
    );
    let alternate = tmux.tmux(&[
        "display-message",
        "-p",
        "-t",
        &tmux.session,
        "#{alternate_on}",
    ]);
    assert_eq!(String::from_utf8_lossy(&alternate.stdout).trim(), "0");
}

/// Who reported phase `phase` of a run done (its `step_succeeded` event).
fn reporter(env: &Env, run_id: &str, phase: &str) -> String {
    env.run(&["log", "export", run_id])
        .stdout
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|e| e["type"] == "step_succeeded" && e["body"]["step"] == phase)
        .and_then(|e| e["body"]["by"]["actor"].as_str().map(str::to_string))
        .unwrap_or_default()
}

/// `o` opens the output pane on a workflow run in a real terminal: the selected step's whole
/// output, read from its file beside the log, with an escape sequence in it shown as text
/// (the terminal is not cleared by it); another step selected shows its own output.
#[test]
fn the_output_pane_shows_a_steps_file_and_its_escapes_stay_text() {
    let env = Env::new();
    env.workflow(
        "chatty",
        "name: chatty\nsteps:\n  - name: build\n    run: 'echo compiling; printf \"\\033[2Jnot cleared\\n\"; echo build ok'\n  - name: test\n    run: 'for i in 1 2 3; do echo tick $i; done'\n",
    );
    let out = env.run(&["workflow", "run", "chatty"]);
    assert_eq!(out.code, 0, "{}", out.text());
    let tmux = Tmux::start(env.dir.path(), &tui_script(&env));
    tmux.wait_text(&["Scenarios"]);
    tmux.keys(&["Tab"]);
    tmux.wait_text(&["chatty"]);
    tmux.keys(&["Enter"]);
    tmux.wait_text(&["build", "test", "completed"]);
    tmux.keys(&["o"]);
    let screen = tmux.wait_text(&["output · build · attempt 1", "build ok"]);
    assert!(screen.contains(r"\u{1b}[2Jnot cleared"), "{screen}");
    assert!(screen.contains("compiling"), "{screen}");
    tmux.keys(&["Down"]);
    let screen = tmux.wait_text(&["output · test · attempt 1", "tick 3"]);
    assert!(!screen.contains("build ok"), "{screen}");
    tmux.keys(&["q"]);
    tmux.wait_text(&["cortex tui exited 0"]);
}

/// The pane follows an attempt while it runs: its whole lines as they are written, then, once
/// it has ended, the rest — a last line without a line end included (read once more after the
/// end, never left at what was there when it was still running).
#[test]
fn the_output_pane_follows_a_running_attempt_to_its_last_partial_line() {
    let env = Env::new();
    env.workflow(
        "live",
        "name: live\nsteps:\n  - name: slow\n    run: 'echo first line; sleep 2; printf \"last without end\"'\n",
    );
    let mut driver = env
        .command(&["workflow", "run", "live"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let tmux = Tmux::start(env.dir.path(), &tui_script(&env));
    tmux.wait_text(&["Scenarios"]);
    tmux.keys(&["Tab"]);
    tmux.wait_text(&["live"]);
    tmux.keys(&["Enter"]);
    tmux.wait_text(&["slow"]);
    tmux.keys(&["o"]);
    tmux.wait_text(&["output · slow · attempt 1", "first line"]);
    tmux.wait_text(&["last without end", "completed"]);
    assert!(driver.wait().unwrap().success());
    tmux.keys(&["q"]);
    tmux.wait_text(&["cortex tui exited 0"]);
}

/// A workflow run could be followed in the TUI but not acted on (stop and resume were for
/// scenario runs only): from the workflow list the palette retries its failed step — a
/// background `workflow resume --retry` recorded with the TUI's actor — and aborts it, the
/// status bar saying so.
#[test]
fn a_failed_workflow_run_is_retried_and_aborted_from_the_palette() {
    let env = Env::new();
    env.config(r#"{"workflow": {"max_retry_attempts": 0}}"#);
    env.workflow(
        "deploy",
        "name: deploy\nsteps:\n  - {name: Check, run: 'exit 1'}\n  - {name: Ship, run: 'true'}\n",
    );
    let run = env.run(&["workflow", "run", "deploy"]);
    assert_eq!(run.code, 1, "{}", run.text());
    let run_id = env.status(None)["run_id"].as_str().unwrap().to_string();

    let tmux = Tmux::start(env.dir.path(), &tui_script(&env));
    tmux.wait_text(&["Scenarios ("]);
    tmux.keys(&["Tab"]);
    tmux.wait_text(&["deploy"]);
    tmux.keys(&["C-p"]);
    tmux.wait_text(&["Command palette"]);
    tmux.type_text("workflow");
    let palette = tmux.wait_text(&[
        "Retry failed step",
        "Skip failed step",
        "Abort workflow run",
    ]);
    assert!(!palette.contains("Stop workflow run"), "{palette}");

    tmux.keys(&["BSpace"; 8]);
    tmux.type_text("retry");
    tmux.wait_text(&["> retry", "Retry failed step"]);
    tmux.keys(&["Enter"]);
    // The resume's form (its time limit): Enter resumes.
    tmux.wait_text(&["Resume deploy: its failed step again", "timeout"]);
    tmux.keys(&["Enter"]);
    tmux.wait_text(&["its failed step again"]);
    // The background driver runs `Check` again, which fails again: attempt 2, by the TUI's
    // actor's resume.
    common::wait_until("the retry recorded and its attempt ended", || {
        let events = env.events(&run_id);
        events
            .iter()
            .any(|e| e["type"] == "run_resumed" && e.to_string().contains("\"tui-tester\""))
            && events.iter().filter(|e| e["type"] == "step_failed").count() == 2
    });
    common::wait_until("the background driver let go", || {
        env.status(Some(&run_id))["status"] == "failed"
    });

    tmux.keys(&["C-p"]);
    tmux.type_text("abort");
    tmux.wait_text(&["> abort", "Abort workflow run"]);
    tmux.keys(&["Enter"]);
    tmux.wait_text(&["deploy aborted by tui-tester"]);
    assert_eq!(env.status(Some(&run_id))["status"], "aborted");
    tmux.keys(&["q"]);
    tmux.wait_text(&["cortex tui exited 0"]);
}

/// The TUI's resume could not give a run the secret input it needs to go on (the CLI's
/// `resume --input NAME=VALUE`): a run paused on a failure, whose secret input the log keeps
/// as `***`, is retried from the palette with the value typed in the resume's form (shown as
/// `•`) and a time limit, and finishes — the value reached its step (which checks it), is on
/// no screen, and is nowhere in the home: not in the log, the attempt logs, nor the
/// background driver's output.
#[test]
fn a_run_paused_without_its_secret_input_is_resumed_from_the_tui_with_the_value_typed_in() {
    let env = Env::new();
    let secret = "tui-typed-tok-4c1d9e";
    env.config(r#"{"workflow": {"max_retry_attempts": 0}}"#);
    // The step checks the value it is given against a file outside the home (the definition
    // must not hold it: it is kept in the log).
    std::fs::write(env.file("expected"), secret).unwrap();
    env.workflow(
        "publish",
        "name: publish\ninputs:\n  api_token: {type: string, required: true}\nsteps:\n  - name: Push\n    run: test -f tried || { touch tried; exit 1; }; test \"$API_TOKEN\" = \"$(cat expected)\" && echo \"pushed with $API_TOKEN\"\n    env: {API_TOKEN: '${{ inputs.api_token }}'}\n",
    );
    let run = env.run_with(
        &["workflow", "run", "publish"],
        &[("CORTEX_INPUT_API_TOKEN", secret)],
    );
    assert_eq!(run.code, 1, "{}", run.text());
    let run_id = env.status(None)["run_id"].as_str().unwrap().to_string();
    // Without the value, a resume cannot go on.
    let refused = env.run(&["workflow", "resume", &run_id, "--retry"]);
    assert_eq!(refused.code, 2, "{}", refused.text());
    assert!(refused.stderr.contains("api_token"), "{}", refused.stderr);

    let tmux = Tmux::start(env.dir.path(), &tui_script(&env));
    let mut screens = vec![tmux.wait_text(&["Scenarios ("])];
    tmux.keys(&["Tab"]);
    screens.push(tmux.wait_text(&["publish", "failed"]));
    tmux.keys(&["C-p"]);
    tmux.type_text("retry");
    screens.push(tmux.wait_text(&["> retry", "Retry failed step"]));
    tmux.keys(&["Enter"]);
    screens.push(tmux.wait_text(&["Resume publish: its failed step again", "api_token*"]));
    tmux.type_text(secret);
    let dots = "•".repeat(secret.chars().count());
    screens.push(tmux.wait_text(&[&dots]));
    tmux.keys(&["Down"]);
    tmux.type_text("1h");
    screens.push(tmux.wait_text(&["1h"]));
    tmux.keys(&["Enter"]);
    screens.push(tmux.wait_text(&["its failed step again"]));
    common::wait_until("the resumed run to complete", || {
        env.status(Some(&run_id))["status"] == "completed"
    });
    screens.push(tmux.wait_text(&["The driver of publish ended: completed"]));
    for screen in &screens {
        assert!(
            !screen.contains(secret),
            "the value is on screen:\n{screen}"
        );
    }
    // Resumed by the TUI's actor, with the time limit typed.
    let resumed = env
        .events(&run_id)
        .into_iter()
        .find(|e| e["type"] == "run_resumed")
        .expect("a run_resumed");
    assert_eq!(resumed["body"]["actor"], "tui-tester", "{resumed}");
    assert_eq!(resumed["body"]["timeout_seconds"], 3600, "{resumed}");
    let logs = env.run(&["logs", &run_id, "Push"]);
    assert!(logs.stdout.contains("pushed with ***"), "{}", logs.text());
    assert!(
        env.log_holding(secret).is_empty(),
        "the value is in the log"
    );
    let holding = files_holding(&env.home(), secret);
    assert!(holding.is_empty(), "the value in clear in {holding:?}");
    tmux.keys(&["q"]);
    tmux.wait_text(&["cortex tui exited 0"]);
}

/// Seen by a review: Complete from the TUI, started without the run's secret input, ran the
/// phase's `check:` criteria with its value set to `***` (the log's), so they passed or failed
/// on the wrong value, silently. It is refused as `orchestrate complete` is
/// (`operator::checks_lack_secrets`): nothing recorded, the screen naming the input and how to
/// give it; a TUI started with it in its environment (`CORTEX_INPUT_<NAME>`) completes the
/// phase, its check seeing the value.
#[test]
fn a_phase_completed_from_the_tui_without_the_secret_its_checks_need_is_refused_naming_it() {
    let env = Env::new();
    let secret = "tui-chk-s3cr3t-9b2";
    let run_id = common::waiting_on_a_secret_check(&env, secret);
    let before = env.events(&run_id).len();
    let complete = |tmux: &Tmux| {
        tmux.wait_text(&["Scenarios (1)", "sc"]);
        tmux.keys(&["Enter"]);
        tmux.wait_text(&["sc · waiting"]);
        tmux.keys(&["C-p"]);
        tmux.type_text("complete");
        tmux.wait_text(&["Complete phase review"]);
        tmux.keys(&["Enter"]);
    };
    {
        let tmux = Tmux::start(env.dir.path(), &tui_script(&env));
        complete(&tmux);
        tmux.wait_text(&["review not reported", "api_token"]);
        tmux.keys(&["q"]);
        tmux.wait_text(&["cortex tui exited 0"]);
    }
    assert_eq!(env.events(&run_id).len(), before, "something was recorded");
    let tmux = Tmux::start(
        env.dir.path(),
        &tui_script_with(&env, &format!("CORTEX_INPUT_API_TOKEN='{secret}'")),
    );
    complete(&tmux);
    tmux.wait_text(&["review: reported complete by tui-tester"]);
    assert_eq!(reporter(&env, &run_id, "review"), "tui-tester");
    assert!(
        env.log_holding(secret).is_empty(),
        "the value is in the log"
    );
}

/// SIGTERM, SIGINT or SIGHUP from another terminal (a `kill`, `timeout`, a supervisor) ends
/// the TUI as `q` does: the terminal is left as it was — off the alternate screen, the cursor
/// shown, out of raw mode. Before, it was left raw on the alternate screen with no cursor.
/// A script that runs the TUI in its own place (`exec`), its pid written first (the second
/// path), so that a signal reaches it and nothing else.
fn tui_in_place(env: &Env) -> (std::path::PathBuf, std::path::PathBuf) {
    let pid_file = env.dir.path().join("tui.pid");
    let exec = env.dir.path().join("tui-exec.sh");
    std::fs::write(
        &exec,
        format!(
            "echo $$ > '{pid}'\nexec '{bin}' --home '{home}' tui --actor tui-tester\n",
            pid = pid_file.display(),
            bin = env!("CARGO_BIN_EXE_cortex"),
            home = env.home().display(),
        ),
    )
    .unwrap();
    (exec, pid_file)
}

#[test]
fn a_signal_ends_the_tui_with_the_terminal_restored() {
    for signal in ["TERM", "INT", "HUP"] {
        let env = Env::new();
        let (exec, pid_file) = tui_in_place(&env);
        let script = env.dir.path().join("tui.sh");
        std::fs::write(
            &script,
            format!(
                "sh '{}'\necho \"cortex tui exited $?\"\nstty -a | tr ';' '\\n' | grep -o -- '-*icanon'\nsleep 600\n",
                exec.display()
            ),
        )
        .unwrap();
        let tmux = Tmux::start(env.dir.path(), &script);
        tmux.wait_text(&["Scenarios"]);
        let flags = || {
            String::from_utf8_lossy(
                &tmux
                    .tmux(&[
                        "display",
                        "-p",
                        "-t",
                        &tmux.session,
                        "#{alternate_on} #{cursor_flag}",
                    ])
                    .stdout,
            )
            .trim()
            .to_string()
        };
        assert_eq!(
            flags(),
            "1 0",
            "the TUI is on the alternate screen, cursor hidden"
        );
        let pid = std::fs::read_to_string(&pid_file).unwrap();
        let killed = Command::new("kill")
            .args([&format!("-{signal}"), pid.trim()])
            .status()
            .unwrap();
        assert!(killed.success());
        // The script says how the terminal was left after the exit line: wait for that too.
        let screen = tmux.wait_text(&["cortex tui exited 0", "icanon"]);
        assert!(
            screen.lines().any(|l| l.trim() == "icanon"),
            "SIG{signal} left the terminal raw:\n{screen}"
        );
        assert_eq!(
            flags(),
            "0 1",
            "SIG{signal}: off the alternate screen, cursor shown"
        );
    }
}

/// A TUI whose terminal goes away (its tmux killed, the window closed) ends: it caught
/// SIGHUP to put the terminal back, but crossterm then read the closed terminal's end of file
/// over and over and never came back to see the flag — such a TUI spun at half a core for good
/// (and the suite's own killed sessions left them running). A watchdog ends it.
#[test]
fn a_tui_whose_terminal_closes_ends_instead_of_spinning() {
    let env = Env::new();
    let (script, pid_file) = tui_in_place(&env);
    let tmux = Tmux::start(env.dir.path(), &script);
    tmux.wait_text(&["Scenarios"]);
    let pid = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .to_string();
    let _ = tmux.tmux(&["kill-server"]);
    let proc_dir = std::path::PathBuf::from(format!("/proc/{pid}"));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    // Gone, or a zombie nobody reaped yet (its state `Z`): either way it runs no more.
    let running = || {
        std::fs::read_to_string(proc_dir.join("stat"))
            .ok()
            .and_then(|s| {
                s.rsplit(')')
                    .next()
                    .map(|r| r.trim_start().starts_with('Z'))
            })
            .is_some_and(|zombie| !zombie)
    };
    while running() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let still = running();
    if still {
        let _ = Command::new("kill").args(["-9", &pid]).status();
    }
    assert!(
        !still,
        "the TUI of a closed terminal still runs (pid {pid})"
    );
}
