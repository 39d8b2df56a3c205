//! `cortex serve` for tests: the real binary on a free loopback port of a temporary home,
//! and a small blocking HTTP client (ureq) that never turns a status into an error.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::common::Env;

/// The token the test servers are given.
pub const TOKEN: &str = "test-token-0123456789abcdef";
/// Who actions through the test servers are recorded as.
pub const ACTOR: &str = "web-tester";

pub struct Server {
    child: Child,
    pub base: String,
    agent: ureq::Agent,
    /// What the server wrote on stderr so far (also passed on to the test's own).
    said: std::sync::Arc<std::sync::Mutex<String>>,
}

/// One answer.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Resp {
    /// A whole HTTP/1.1 answer read off a bare socket: its status, headers and body.
    fn parse(raw: &[u8]) -> Resp {
        let text = String::from_utf8_lossy(raw).into_owned();
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let mut lines = head.lines();
        let status = lines
            .next()
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|c| c.parse().ok())
            .unwrap_or_else(|| panic!("no status line in {text:?}"));
        let headers = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
            .collect();
        Resp {
            status,
            headers,
            body: body.to_string(),
        }
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {} {}", self.status, self.body))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn exit_code(&self) -> i32 {
        self.header("x-cortex-exit-code")
            .and_then(|c| c.parse().ok())
            .unwrap_or(-1)
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into()
}

impl Server {
    /// `cortex serve --addr 127.0.0.1:0 --token TOKEN --actor ACTOR` in `env`'s home and
    /// project; the address is read from its first line.
    pub fn start(env: &Env) -> Server {
        Server::start_with(env, &["--addr", "127.0.0.1:0", "--token", TOKEN])
    }

    /// `start`, with `--no-notify`: the server delivers no run's notifications still due by
    /// its own sweep, only those its actions make due (what a test of an action looks at).
    pub fn start_without_sweep(env: &Env) -> Server {
        Server::start_also(env, &["--no-notify"])
    }

    /// `start`, with `more` arguments besides (`--max-connections 6`, `--public-url URL`).
    pub fn start_also(env: &Env, more: &[&str]) -> Server {
        let mut args = vec!["--addr", "127.0.0.1:0", "--token", TOKEN];
        args.extend_from_slice(more);
        Server::start_with(env, &args)
    }

    pub fn start_with(env: &Env, args: &[&str]) -> Server {
        Server::start_with_vars(env, args, &[])
    }

    /// `start_with`, these variables added to the server's environment.
    pub fn start_with_vars(env: &Env, args: &[&str], vars: &[(&str, &str)]) -> Server {
        let mut all = vec!["serve", "--actor", ACTOR];
        all.extend_from_slice(args);
        let mut child = env
            .command(&all)
            .envs(vars.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start cortex serve");
        let said = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let stderr = child.stderr.take().expect("stderr");
        let kept = said.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                eprintln!("{line}");
                let mut kept = kept.lock().unwrap();
                kept.push_str(&line);
                kept.push('\n');
            }
        });
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            if let Some(Ok(first)) = lines.next() {
                let _ = tx.send(first);
            }
            for _ in lines {}
        });
        let first = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("cortex serve says where it listens");
        let base = first
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| panic!("no address in {first:?}"))
            .trim_end_matches('/')
            .to_string();
        Server {
            child,
            base,
            agent: agent(),
            said,
        }
    }

    /// What the server wrote on stderr so far.
    pub fn stderr(&self) -> String {
        self.said.lock().unwrap().clone()
    }

    /// The server's process id (to signal it).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Wait for the server to end by itself (after a signal), for at most `secs` seconds:
    /// its exit status, or `None` if it did not end.
    pub fn wait_for_exit(&mut self, secs: u64) -> Option<std::process::ExitStatus> {
        let until = Instant::now() + Duration::from_secs(secs);
        while Instant::now() < until {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }

    /// A request with any `method` and no body over a bare socket, with the token or without.
    pub fn request(&self, method: &str, path: &str, token: bool) -> Resp {
        use std::io::{Read, Write};
        let host = self.base.trim_start_matches("http://");
        let mut stream = std::net::TcpStream::connect(host).expect("connect to the server");
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        let auth = if token {
            format!("Authorization: Bearer {TOKEN}\r\n")
        } else {
            String::new()
        };
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {host}\r\n{auth}Content-Length: 0\r\nConnection: close\r\n\r\n"
        );
        stream.write_all(head.as_bytes()).expect("send the request");
        let mut raw = Vec::new();
        let _ = stream.read_to_end(&mut raw);
        Resp::parse(&raw)
    }

    /// A POST with the token over a bare socket, its body written while the answer is read:
    /// for a body the server refuses before reading it all (an HTTP client library fails
    /// with a broken pipe then, before it reads the answer).
    pub fn post_raw(&self, path: &str, content_type: &str, body: &[u8]) -> Resp {
        use std::io::{Read, Write};
        let host = self.base.trim_start_matches("http://");
        let mut stream = std::net::TcpStream::connect(host).expect("connect to the server");
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {TOKEN}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        let mut writer = stream.try_clone().unwrap();
        let body = body.to_vec();
        let sending = std::thread::spawn(move || {
            // The server may stop reading and close: what it answered is read all the same.
            let _ = writer.write_all(head.as_bytes());
            let _ = writer.write_all(&body);
        });
        let mut raw = Vec::new();
        let mut chunk = [0u8; 8192];
        loop {
            match stream.read(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => raw.extend_from_slice(&chunk[..n]),
            }
        }
        let _ = sending.join();
        Resp::parse(&raw)
    }

    fn answer(resp: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Resp {
        let mut resp = resp.expect("the server answers");
        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_string()))
            .collect();
        // Past ureq's default of 10 MB: a streamed attempt's output may be longer.
        let body = resp
            .body_mut()
            .with_config()
            .limit(64 << 20)
            .read_to_string()
            .unwrap_or_default();
        Resp {
            status,
            headers,
            body,
        }
    }

    pub fn get(&self, path: &str) -> Resp {
        self.get_with(path, &[])
    }

    pub fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> Resp {
        let mut req = self.agent.get(format!("{}{path}", self.base));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        Self::answer(req.call())
    }

    /// A POST with the token (as a bearer header) and a JSON body.
    pub fn post(&self, path: &str, body: &str) -> Resp {
        self.post_with(
            path,
            body,
            &[
                ("authorization", &format!("Bearer {TOKEN}")),
                ("content-type", "application/json"),
            ],
        )
    }

    pub fn post_with(&self, path: &str, body: &str, headers: &[(&str, &str)]) -> Resp {
        let mut req = self.agent.post(format!("{}{path}", self.base));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        Self::answer(req.send(body))
    }

    pub fn put(&self, path: &str) -> Resp {
        let req = self
            .agent
            .put(format!("{}{path}", self.base))
            .header("authorization", &format!("Bearer {TOKEN}"));
        Self::answer(req.send(""))
    }

    /// Read a server-sent event stream in the background: its (event, id, data) records,
    /// as they arrive.
    pub fn events(&self, path: &str) -> mpsc::Receiver<(String, Option<String>, String)> {
        self.events_with(path, &[])
    }

    /// `events` with request headers (a reconnecting client's `Last-Event-ID`). The channel
    /// is closed when the server ends the stream.
    pub fn events_with(
        &self,
        path: &str,
        headers: &[(&str, &str)],
    ) -> mpsc::Receiver<(String, Option<String>, String)> {
        let url = format!("{}{path}", self.base);
        let headers: Vec<(String, String)> = headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut req = agent.get(&url);
            for (k, v) in &headers {
                req = req.header(k.as_str(), v.as_str());
            }
            let Ok(mut resp) = req.call() else {
                return;
            };
            let reader = BufReader::new(resp.body_mut().as_reader());
            let (mut event, mut id, mut data) = (String::new(), None, String::new());
            for line in reader.lines() {
                let Ok(line) = line else { return };
                if line.is_empty() {
                    if !event.is_empty() || !data.is_empty() {
                        let record = (
                            std::mem::take(&mut event),
                            id.take(),
                            std::mem::take(&mut data),
                        );
                        if tx.send(record).is_err() {
                            return;
                        }
                    }
                } else if let Some(v) = line.strip_prefix("event:") {
                    event = v.trim().to_string();
                } else if let Some(v) = line.strip_prefix("id:") {
                    id = Some(v.trim().to_string());
                } else if let Some(v) = line.strip_prefix("data:") {
                    data.push_str(v.trim_start());
                }
            }
        });
        rx
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Poll `f` until it gives something, for at most `secs` seconds.
pub fn eventually<T>(secs: u64, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let until = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(t) = f() {
            return t;
        }
        if Instant::now() > until {
            panic!("timed out waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
