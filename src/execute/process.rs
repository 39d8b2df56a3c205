//! Running one shell command in its own process group, streaming its output, and ending the
//! whole group on timeout or stop (TERM, then KILL after a grace).

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

use super::StopFlag;
use crate::event::AttemptEnd;

/// Which stream a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

/// What to run.
#[derive(Debug, Clone)]
pub struct ProcessSpec {
    /// Shell text, run with `sh -c`.
    pub command: String,
    /// Variables added to the inherited environment.
    pub env: Vec<(String, String)>,
    pub cwd: PathBuf,
    /// Written to the command's standard input, which is then closed.
    pub stdin: Option<String>,
    pub timeout: Option<Duration>,
    /// Time between TERM and KILL when the group must end.
    pub grace: Duration,
}

/// How it went.
#[derive(Debug, Clone)]
pub struct ProcessResult {
    pub end: AttemptEnd,
    /// The last `TAIL_BYTES` of stdout and stderr, interleaved as they arrived.
    pub tail: String,
    /// The command was ended because a stop was requested.
    pub stopped: bool,
    pub elapsed: Duration,
}

/// How much output is kept for the log.
pub const TAIL_BYTES: usize = 4096;

fn push_tail(tail: &mut String, line: &str) {
    tail.push_str(line);
    tail.push('\n');
    if tail.len() > TAIL_BYTES {
        let mut cut = tail.len() - TAIL_BYTES;
        while !tail.is_char_boundary(cut) {
            cut += 1;
        }
        tail.drain(..cut);
    }
}

fn spawn_reader<R: Read + Send + 'static>(
    stream: R,
    which: Stream,
    tx: mpsc::Sender<(Stream, String)>,
) {
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stream);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match reader.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    let line = String::from_utf8_lossy(&buf);
                    let line = line.trim_end_matches(['\n', '\r']).to_string();
                    if tx.send((which, line)).is_err() {
                        break;
                    }
                }
            }
        }
    });
}

/// End a process group a dead driver left running: TERM, then KILL after `grace`.
/// Returns whether the group was still alive.
pub fn end_orphan_group(pgid: i32, grace: Duration) -> bool {
    let pgid = Pid::from_raw(pgid);
    if pgid.as_raw() <= 1 || killpg(pgid, None).is_err() {
        return false;
    }
    signal_group(pgid, Signal::SIGTERM);
    let until = Instant::now() + grace;
    while Instant::now() < until && killpg(pgid, None).is_ok() {
        std::thread::sleep(Duration::from_millis(20));
    }
    signal_group(pgid, Signal::SIGKILL);
    true
}

fn signal_group(pgid: Pid, sig: Signal) {
    // The group may already be gone; that is the outcome we want.
    let _ = killpg(pgid, sig);
}

/// Run `spec`, calling `on_line` for every line of output, until it exits, times out or
/// `stop` is raised.
pub fn run_process(
    spec: &ProcessSpec,
    stop: &StopFlag,
    on_line: &mut dyn FnMut(Stream, &str),
) -> ProcessResult {
    run_process_tracked(spec, stop, on_line, &mut |_| {})
}

/// `run_process`, telling `on_spawn` the process group id once the command has started (the
/// driver records it so that a later driver can end a group this one left behind).
pub fn run_process_tracked(
    spec: &ProcessSpec,
    stop: &StopFlag,
    on_line: &mut dyn FnMut(Stream, &str),
    on_spawn: &mut dyn FnMut(i32),
) -> ProcessResult {
    let started = Instant::now();
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(&spec.command)
        .current_dir(&spec.cwd)
        .envs(spec.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(if spec.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own process group: a terminal's Ctrl-C reaches cortex, not the step, and a
        // timeout can end the step's children too.
        .process_group(0);
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            let error = if spec.cwd.is_dir() {
                e.to_string()
            } else {
                format!("working directory {} does not exist", spec.cwd.display())
            };
            return ProcessResult {
                end: AttemptEnd::SpawnFailed { error },
                tail: String::new(),
                stopped: false,
                elapsed: started.elapsed(),
            };
        }
    };
    let pgid = Pid::from_raw(child.id() as i32);
    on_spawn(pgid.as_raw());
    if let (Some(input), Some(mut pipe)) = (spec.stdin.clone(), child.stdin.take()) {
        std::thread::spawn(move || {
            // A command that does not read its input closes the pipe: not an error.
            let _ = pipe.write_all(input.as_bytes());
        });
    }
    let (tx, rx) = mpsc::channel();
    if let Some(out) = child.stdout.take() {
        spawn_reader(out, Stream::Stdout, tx.clone());
    }
    if let Some(err) = child.stderr.take() {
        spawn_reader(err, Stream::Stderr, tx.clone());
    }
    drop(tx);

    let mut tail = String::new();
    let mut term_sent: Option<Instant> = None;
    let mut timed_out = false;
    let mut stopped = false;
    let mut exited_at: Option<Instant> = None;
    let mut status = None;
    loop {
        match rx.recv_timeout(Duration::from_millis(20)) {
            Ok((which, line)) => {
                push_tail(&mut tail, &line);
                on_line(which, &line);
                continue;
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                if status.is_some() {
                    break;
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
        if status.is_none() {
            match child.try_wait() {
                Ok(Some(s)) => {
                    status = Some(s);
                    exited_at = Some(Instant::now());
                }
                Ok(None) => {}
                Err(_) => break,
            }
        }
        if let Some(at) = exited_at {
            // Children that outlive the step may keep its pipes open: do not wait for them.
            if at.elapsed() > Duration::from_millis(500) {
                break;
            }
            if matches!(rx.try_recv(), Err(mpsc::TryRecvError::Disconnected)) {
                break;
            }
            continue;
        }
        if term_sent.is_none() {
            if stop.is_set() {
                stopped = true;
            } else if spec.timeout.is_some_and(|t| started.elapsed() >= t) {
                timed_out = true;
            }
            if stopped || timed_out {
                signal_group(pgid, Signal::SIGTERM);
                term_sent = Some(Instant::now());
            }
        } else if term_sent.is_some_and(|t| t.elapsed() >= spec.grace) {
            signal_group(pgid, Signal::SIGKILL);
        }
    }
    let status = status.or_else(|| child.wait().ok());
    if term_sent.is_some() {
        // Whatever of the group survived TERM goes now.
        signal_group(pgid, Signal::SIGKILL);
    }
    let end = if timed_out {
        AttemptEnd::TimedOut {
            timeout_ms: spec.timeout.map_or(0, |t| t.as_millis() as u64),
        }
    } else {
        match status {
            Some(s) => match (s.code(), s.signal()) {
                (Some(code), _) => AttemptEnd::Exited { code },
                (None, Some(sig)) => AttemptEnd::Signaled { signal: sig },
                _ => AttemptEnd::Exited { code: -1 },
            },
            None => AttemptEnd::SpawnFailed {
                error: "the process could not be waited for".into(),
            },
        }
    };
    ProcessResult {
        end,
        tail,
        stopped,
        elapsed: started.elapsed(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(cmd: &str) -> ProcessSpec {
        ProcessSpec {
            command: cmd.into(),
            env: vec![("X".into(), "$(echo injected)".into())],
            cwd: std::env::temp_dir(),
            stdin: None,
            timeout: Some(Duration::from_secs(20)),
            grace: Duration::from_millis(200),
        }
    }

    #[test]
    fn output_exit_code_and_env_stay_data() {
        let mut lines = Vec::new();
        let r = run_process(
            &spec("echo \"$X\"; echo err >&2; exit 3"),
            &StopFlag::default(),
            &mut |_, l| lines.push(l.to_string()),
        );
        assert_eq!(r.end, AttemptEnd::Exited { code: 3 });
        assert!(lines.contains(&"$(echo injected)".to_string()), "{lines:?}");
        assert!(r.tail.contains("err"));
    }

    #[test]
    fn a_timeout_ends_the_whole_group() {
        let mut s = spec("sleep 30 & sleep 30; echo never");
        s.timeout = Some(Duration::from_millis(200));
        let r = run_process(&s, &StopFlag::default(), &mut |_, _| {});
        assert!(matches!(r.end, AttemptEnd::TimedOut { .. }));
        assert!(r.elapsed < Duration::from_secs(5));
    }

    #[test]
    fn stdin_is_delivered() {
        let mut s = spec("cat");
        s.stdin = Some("the prompt\n".into());
        let mut lines = Vec::new();
        run_process(&s, &StopFlag::default(), &mut |_, l| {
            lines.push(l.to_string())
        });
        assert_eq!(lines, vec!["the prompt".to_string()]);
    }
}
