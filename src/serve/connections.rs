//! The connections `cortex serve` holds: accepted one by one, each served by hyper's HTTP/1
//! under a deadline for its request's head (`Limits::header_timeout`, which is also how long a
//! kept-alive connection may sit idle; its body's is `bodies::deadline`'s), and at most
//! `Limits::max` at once — one more is answered
//! 503 and closed at once. So a client that connects and sends nothing, or trickles a request's
//! head, neither holds a connection for long nor, with many of them, the server's file
//! descriptors: before (`axum::serve`), such connections were held for good, before any token
//! was asked for, and 300 of them under `ulimit -n 256` left the API answering nothing.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

use crate::ops::{CommandError, exit};

/// The most connections the default allows, whatever the open-file limit.
pub const MAX_DEFAULT: usize = 1024;
/// The fewest connections a server keeps (`--max-connections` below it is refused): one event
/// stream and a request beside it, and some room.
pub const MIN_CONNECTIONS: usize = 4;
/// The default of `--header-timeout`, in seconds.
pub const HEADER_TIMEOUT_SECS: u64 = 20;
/// The default of `--body-timeout`, in seconds: the longest body taken (2 MiB) at about
/// 70 KB/s.
pub const BODY_TIMEOUT_SECS: u64 = 30;
/// How long a client turned away for want of a connection, or whose change met the log's
/// write lock held by another process (`api::failure`), is asked to wait (`Retry-After`).
pub const RETRY_AFTER_SECS: u64 = 5;

/// What the server holds its connections to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// How many connections are open at once, at most (each is a file descriptor): one more
    /// is answered 503 and closed.
    pub max: usize,
    /// How long a connection may take to send a request's head, from when it opens or from
    /// the end of the answer before on a kept-alive one (so it is the idle timeout too):
    /// past it, hyper closes the connection. An answer being written (an event stream, a long
    /// raw log) is never cut by it.
    pub header_timeout: Duration,
    /// How long a request's body may take to arrive, from when its head has: past it, the
    /// request is answered 408 and its connection closed (`bodies::deadline`).
    pub body_timeout: Duration,
}

impl Limits {
    /// `--max-connections` (the default when not given: `default_max`), `--header-timeout`
    /// and `--body-timeout` (`timeouts`, head and body), under an open-file limit
    /// (`ulimit -n`) of `files`. A cap above that limit is refused, bad input
    /// (`over_file_limit`).
    pub fn of(
        max: Option<usize>,
        (header_timeout, body_timeout): (Duration, Duration),
        files: Option<u64>,
    ) -> Result<Limits, CommandError> {
        let max = match max {
            Some(max) => {
                over_file_limit(max, files)?;
                max
            }
            None => default_max(files),
        };
        Ok(Limits {
            max,
            header_timeout,
            body_timeout,
        })
    }

    /// How many event streams may be open at once: `sse::MAX_STREAMS`, but never more than
    /// half the connections, so that streams (each holds its connection for as long as its
    /// client follows) always leave the other half for requests.
    pub fn max_streams(&self) -> usize {
        super::sse::MAX_STREAMS.min(self.max / 2).max(1)
    }
}

/// The default cap on connections for an open-file limit (`ulimit -n`) of `files`: half of it
/// (the other half is for the log — a SQLite connection is up to three files, one for each
/// request under way —, the background drivers' pipes, the scheduler), at most `MAX_DEFAULT`
/// and at least `MIN_CONNECTIONS`; `MAX_DEFAULT` without a limit.
pub fn default_max(files: Option<u64>) -> usize {
    match files {
        Some(files) => usize::try_from(files / 2)
            .unwrap_or(MAX_DEFAULT)
            .clamp(MIN_CONNECTIONS, MAX_DEFAULT),
        None => MAX_DEFAULT,
    }
}

/// Refuse `--max-connections max` above what the open-file limit `files` leaves connections:
/// half of it, the rest being for what serving them opens (the log — a SQLite connection is up
/// to three files, one for each request under way —, the background drivers' pipes, the
/// scheduler), as the default reckons (`default_max`). Each connection is a file descriptor, so
/// a cap past that is never reached — `accept` or the log's open fails first (`EMFILE`) and
/// clients wait on a listener that takes nobody, rather than get the 503 the cap is there to
/// give: a cap equal to the limit (40 under `ulimit -n 40`) left clients unanswered from about
/// the 31st connection. It is refused, not lowered: the number was asked for, and a server that
/// quietly serves fewer than it was told (or warns once in a log nobody reads) leaves its
/// operator planning on a capacity it does not have; as nginx's `worker_connections` above
/// `worker_rlimit_nofile`, or HAProxy's `maxconn` above its file limit under
/// `strict-limits`, it is the operator's to fix before the server starts.
fn over_file_limit(max: usize, files: Option<u64>) -> Result<(), CommandError> {
    let Some(files) = files else {
        return Ok(());
    };
    let room = files / 2;
    if u64::try_from(max).unwrap_or(u64::MAX) <= room {
        return Ok(());
    }
    Err(CommandError::bad_input(format!(
        "--max-connections {max} is above what this process's open-file limit ({files}, `ulimit -n`) leaves connections ({room}: half of it, the rest for the log and the drivers each request may open): the cap could never be reached before new connections fail"
    ))
    .hint(format!(
        "raise the limit where the server starts (`ulimit -n {}` in its shell, `LimitNOFILE={}` in a systemd unit; up to the hard limit, `ulimit -Hn`), or give --max-connections at most {room} (leave it out for that default)",
        max.saturating_mul(2),
        max.saturating_mul(2),
    )))
}

/// Serve `app` on `listener` for good, within `limits`.
pub async fn serve(listener: TcpListener, app: Router, limits: Limits) {
    let places = Arc::new(Semaphore::new(limits.max));
    let refusal: Arc<[u8]> = refusal(limits.max).into();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    loop {
        let socket = match listener.accept().await {
            Ok((socket, _)) => socket,
            Err(e) => {
                accept_failed(&e).await;
                continue;
            }
        };
        let Ok(place) = Arc::clone(&places).try_acquire_owned() else {
            turn_away(&socket, &refusal);
            continue;
        };
        let connection =
            http.serve_connection(TokioIo::new(socket), TowerToHyperService::new(app.clone()));
        tokio::spawn(async move {
            // Its place is given back when the connection ends, however it ends (its client
            // went, the head's deadline passed, an error).
            let _place = place;
            let _ = connection.await;
        });
    }
}

/// After `accept` failed: a connection that went before it was taken is nobody's concern; for
/// the rest (out of file descriptors, `EMFILE`, which the cap is there to avoid but which the
/// log or the drivers may reach) the loop waits a moment rather than spin, and tries again.
async fn accept_failed(e: &std::io::Error) {
    use std::io::ErrorKind;
    if matches!(
        e.kind(),
        ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset | ErrorKind::ConnectionRefused
    ) {
        return;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
}

/// Answer a connection past the cap 503 and close it, without waiting on it: what it has sent
/// so far is read (closing over unread bytes resets the connection, and the client might lose
/// the answer), then the answer is written as far as the socket takes it now — all of it, on
/// a fresh connection — and the socket dropped.
fn turn_away(socket: &TcpStream, refusal: &[u8]) {
    let mut sink = [0u8; 4096];
    for _ in 0..4 {
        match socket.try_read(&mut sink) {
            Ok(n) if n > 0 => continue,
            _ => break,
        }
    }
    let _ = socket.try_write(refusal);
}

/// The whole answer to a connection past the cap: 503 with `Retry-After` and the CLI's
/// `--json` error document, as the API's other refusals, whatever the request was (it is not
/// read).
fn refusal(max: usize) -> Vec<u8> {
    let error = CommandError::new(
        exit::FAILED,
        format!(
            "{max} connections are open to this server, the most it keeps (--max-connections); this one was not served"
        ),
    )
    .hint(format!(
        "ask again in {RETRY_AFTER_SECS} s (`Retry-After`): a connection that sends no request is closed after --header-timeout, one whose body stalls after --body-timeout; close pages or clients that keep connections open, or start the server with a higher --max-connections (and `ulimit -n`)"
    ));
    let text = serde_json::to_string(&error.document()).unwrap_or_default();
    let body = crate::render::json_safe(&text);
    format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: {}\r\nretry-after: {RETRY_AFTER_SECS}\r\nx-cortex-exit-code: {}\r\nx-content-type-options: nosniff\r\ncache-control: no-store\r\nconnection: close\r\n\r\n{body}",
        body.len(),
        exit::FAILED
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A cap above the open-file limit could never be reached: refused as bad input, naming
    /// the limit and how to raise it; at the limit, or without one, it is taken.
    #[test]
    fn max_connections_above_the_open_file_limit_is_refused() {
        let timeout = (Duration::from_secs(20), Duration::from_secs(30));
        let refused = Limits::of(Some(1000), timeout, Some(256)).unwrap_err();
        assert_eq!(refused.code, exit::BAD_INPUT);
        assert!(
            refused.message.contains("open-file limit (256"),
            "{}",
            refused.message
        );
        assert!(refused.hints[0].to_string().contains("ulimit -n 2000"));
        // The limit itself is no cap either: half of it is (review k K4).
        let at_limit = Limits::of(Some(256), timeout, Some(256)).unwrap_err();
        assert!(at_limit.hints[0].to_string().contains("at most 128"));
        assert_eq!(Limits::of(Some(128), timeout, Some(256)).unwrap().max, 128);
        assert_eq!(Limits::of(Some(1000), timeout, None).unwrap().max, 1000);
        assert_eq!(Limits::of(None, timeout, Some(256)).unwrap().max, 128);
    }

    /// Half the open-file limit, within `MIN_CONNECTIONS..=MAX_DEFAULT`; streams at most half
    /// the connections and never more than `sse::MAX_STREAMS`.
    #[test]
    fn the_default_cap_is_half_the_open_file_limit_within_its_bounds() {
        assert_eq!(default_max(Some(256)), 128);
        assert_eq!(default_max(Some(1024)), 512);
        assert_eq!(default_max(Some(20_000)), MAX_DEFAULT);
        assert_eq!(default_max(Some(3)), MIN_CONNECTIONS);
        assert_eq!(default_max(None), MAX_DEFAULT);
        let limits = |max| Limits {
            max,
            header_timeout: Duration::from_secs(1),
            body_timeout: Duration::from_secs(1),
        };
        assert_eq!(limits(128).max_streams(), super::super::sse::MAX_STREAMS);
        assert_eq!(limits(1024).max_streams(), super::super::sse::MAX_STREAMS);
        assert_eq!(limits(10).max_streams(), 5);
        assert_eq!(limits(MIN_CONNECTIONS).max_streams(), 2);
    }

    /// The refusal is a whole HTTP/1.1 answer whose length says its body, a JSON error
    /// document with a hint.
    #[test]
    fn the_refusal_is_a_whole_503_with_an_error_document() {
        let raw = String::from_utf8(refusal(7)).unwrap();
        let (head, body) = raw.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 503 "), "{head}");
        assert!(head.contains(&format!("content-length: {}\r\n", body.len())));
        assert!(head.contains("retry-after: 5"), "{head}");
        let doc: serde_json::Value = serde_json::from_str(body).unwrap();
        assert!(
            doc["error"].as_str().unwrap().contains("7 connections"),
            "{doc}"
        );
        assert!(!doc["hints"].as_array().unwrap().is_empty(), "{doc}");
    }
}
