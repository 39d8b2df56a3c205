//! A webhook receiver for tests: a small HTTP server on a free loopback port that answers
//! each request with a status the test chose and keeps the bodies it got.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

/// A webhook receiver: answers each request with the next status of `statuses` (the last one
/// again once they run out; 0 means never answer), and keeps the bodies it got and the path
/// each was POSTed to.
pub struct Hook {
    pub url: String,
    bodies: Arc<Mutex<Vec<String>>>,
    paths: Arc<Mutex<Vec<String>>>,
}

/// A receiver answering with `statuses` (`Hook`), listening until the test process ends.
pub fn hook(statuses: &[u16]) -> Hook {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/cortex", listener.local_addr().unwrap());
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let kept = Arc::clone(&bodies);
    let paths = Arc::new(Mutex::new(Vec::new()));
    let targets = Arc::clone(&paths);
    let statuses = statuses.to_vec();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for (n, stream) in listener.incoming().enumerate() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut length = 0;
            let mut request_line = true;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                // `POST /the/path HTTP/1.1`
                if std::mem::take(&mut request_line) {
                    let target = line.split(' ').nth(1).unwrap_or_default();
                    targets.lock().unwrap().push(target.to_string());
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
    Hook { url, bodies, paths }
}

impl Hook {
    /// The bodies it has read so far.
    pub fn bodies(&self) -> Vec<String> {
        self.bodies.lock().unwrap().clone()
    }

    /// The path (and query) each request it has read so far was POSTed to.
    pub fn paths(&self) -> Vec<String> {
        self.paths.lock().unwrap().clone()
    }

    /// How many requests it has read so far.
    pub fn count(&self) -> usize {
        self.bodies.lock().unwrap().len()
    }

    /// The bodies received, once there are at least `n`: a request the client gave up on
    /// (no answer within its timeout) is read by the hook's thread in its own time, maybe
    /// after the client has exited.
    pub fn received(&self, n: usize) -> Vec<String> {
        let until = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            let bodies = self.bodies();
            if bodies.len() >= n {
                return bodies;
            }
            assert!(
                std::time::Instant::now() < until,
                "the hook received {} request(s), not {n}",
                bodies.len()
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }
}
